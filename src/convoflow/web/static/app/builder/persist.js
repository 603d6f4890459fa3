// Unsaved flows live in the browser's local storage until saved, so a lost session, a
// reload or a closed tab loses nothing.
const PREFIX = "convoflow.unsaved.";

export function keyFor(templateId) { return `${PREFIX}${templateId || "new"}`; }

export function keepUnsaved(templateId, snapshot, baseVersion) {
  try {
    localStorage.setItem(keyFor(templateId), JSON.stringify({ snapshot, baseVersion, at: Date.now() }));
  } catch { /* storage full or disabled: nothing else to do */ }
}

export function unsaved(templateId) {
  try { return JSON.parse(localStorage.getItem(keyFor(templateId)) || "null"); } catch { return null; }
}

export function forget(templateId) { localStorage.removeItem(keyFor(templateId)); }
