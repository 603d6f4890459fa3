// WhatsApp's limits on what a step sends, shown as counters while typing. The server's
// step-type `limits` (field pattern → number) win; these are Meta's numbers as the engine
// applies them, so a counter turns red exactly where saving would be refused.

const INTERACTIVE = { text: 1024, header: 60, footer: 60 };
const KNOWN = {
  message: { text: 4096 },
  buttons: { ...INTERACTIVE, "buttons[].label": 20, "buttons[].id": 200, button: 20 },
  list: { ...INTERACTIVE, button: 20, "sections[].title": 24, "sections[].rows[].title": 24,
    "sections[].rows[].description": 72, "sections[].rows[].id": 200 },
  image: { caption: 1024 },
  video: { caption: 1024 },
  document: { caption: 1024, filename: 240 },
  ask: { prompt: 1024 },
  handoff: { text: 4096 },
  end: { text: 4096 },
};
/** Counts of items: [what, at most, note]. */
const COUNTS = {
  buttons: [["buttons", 10, "1–3 are sent as reply buttons, 4–10 as a list"]],
  list: [["sections", 10, null], ["rows", 10, "rows in all sections"]],
};
const REPLY_BUTTONS = 3;

/** The server's names for limits that are not plain field names. */
const SERVER_NAMES = {
  "buttons[].label": ["button_label"], button: ["list_button"], "sections[].title": ["section_title"],
  "sections[].rows[].title": ["row_title"], "sections[].rows[].description": ["row_description"],
  "sections[].rows[].id": ["row_id"], "buttons[].id": ["option_id"],
};

/** The field path as a pattern: ["buttons", 0, "label"] → "buttons[].label". */
export function patternOf(path) {
  return path.reduce((text, key) => (typeof key === "number" ? `${text}[]` : text ? `${text}.${key}` : key), "");
}

/** The longest text allowed at `path` of a step of `type`, or null. */
export function maxLength(type, path, stepType, propertySchema) {
  const pattern = patternOf(path);
  const names = [pattern, ...(SERVER_NAMES[pattern] || [])];
  const fromServer = names.map((name) => stepType?.limits?.[name]).find((value) => value !== undefined);
  if (typeof fromServer === "number") return fromServer;
  if (fromServer && typeof fromServer.max === "number") return fromServer.max;
  return KNOWN[type]?.[pattern] ?? propertySchema?.maxLength ?? null;
}

/** "12/20" and whether it is over. */
export function lengthCounter(value, max) {
  if (!max) return null;
  const length = [...String(value ?? "")].length;
  return { text: `${length}/${max}`, over: length > max };
}

/** Item counts of a step: [{label, count, max, over, note}]. */
export function itemCounts(step) {
  const counts = [];
  for (const [what, max, note] of COUNTS[step.type] || []) {
    let count;
    if (what === "rows") count = (step.sections || []).reduce((sum, section) => sum + (section.rows || []).length, 0);
    else count = (step[what] || []).length;
    counts.push({ label: what, count, max, over: count > max, note });
  }
  if (step.type === "buttons") {
    const count = (step.buttons || []).length;
    counts.unshift({ label: "reply buttons", count, max: REPLY_BUTTONS, over: false,
      note: count > REPLY_BUTTONS ? "more than 3: sent as a list" : null, soft: count > REPLY_BUTTONS });
  }
  return counts;
}

/** Limits broken anywhere in the step, as [{path, message}] (shown before saving). */
export function brokenLimits(step, stepType) {
  const problems = [];
  function walk(value, path) {
    if (typeof value === "string") {
      const max = maxLength(step.type, path, stepType, null);
      if (max && [...value].length > max) {
        problems.push({ path, message: `longer than ${max} characters` });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...path, index]));
    } else if (value && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
    }
  }
  for (const [key, value] of Object.entries(step)) if (key !== "position") walk(value, [key]);
  for (const count of itemCounts(step)) {
    if (count.over) problems.push({ path: [count.label === "rows" ? "sections" : count.label],
      message: `${count.count} ${count.label}: at most ${count.max}` });
  }
  return problems;
}
