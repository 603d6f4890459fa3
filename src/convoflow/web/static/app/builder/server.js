// Loading and saving a template in the builder: drafts, publishing, versions, restore.
// A server without the draft API (older) saves each change as a new version instead.
import * as api from "../api.js";

const base = (id) => `/api/workflow-templates/${encodeURIComponent(id)}`;

/** The template and, when there is one, its draft document. */
export async function loadTemplate(id) {
  const template = await api.get(base(id));
  let draft = null;
  try {
    const answer = await api.get(`${base(id)}/draft`);
    draft = answer && (answer.document || answer.draft || answer);
    if (draft && !draft.menu_structure) draft = null;
  } catch (error) {
    // No draft API (404, 405), or not ours to draft (403: a public template of someone else).
    if (!(error instanceof api.ApiError) || ![403, 404, 405].includes(error.status)) throw error;
  }
  return { template, draft };
}

/** Create the template; answers the template. */
export function createTemplate(document) {
  return api.post("/api/workflow-templates", document);
}

/** Save the draft: {kind: "draft", problems} (a draft is kept even with problems) or,
 *  without the draft API, {kind: "version", template}. */
export async function saveDraft(id, document) {
  try {
    const draft = await api.put(`${base(id)}/draft`, document);
    return { kind: "draft", draft, problems: draft?.problems || [] };
  } catch (error) {
    if (!api.missingEndpoint(error)) throw error;
    const template = await api.put(base(id), document);
    return { kind: "version", template };
  }
}

/** Publish the draft as a new version with a changelog; answers the new version. */
export async function publish(id, document, changelog) {
  try {
    await api.put(`${base(id)}/draft`, document);
    return await api.post(`${base(id)}/publish`, { changelog });
  } catch (error) {
    if (!api.missingEndpoint(error)) throw error;
    return api.put(base(id), { ...document, changelog });
  }
}

/** Every version, newest first. */
export async function versions(id) {
  const page = await api.get(`${base(id)}/versions${api.query({ limit: 200 })}`);
  return page.items;
}

/** One version's full template (by its version id). */
export function versionTemplate(versionId) {
  return api.get(base(versionId));
}

/** The server's readable diff of a version against the one before, as
 *  [{kind, name, lines}] (null on a server without the diff API). */
export async function serverDiff(id, version) {
  let answer;
  try {
    answer = await api.get(`${base(id)}/versions/${version.version}/diff`);
  } catch (error) {
    if (api.missingEndpoint(error)) return null;
    throw error;
  }
  const show = (value) => {
    const text = value === undefined || value === null ? "—" : typeof value === "string" ? value : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  };
  const changes = (answer.fields || []).map((item) => ({ kind: "field", name: item.field,
    lines: [`${show(item.before)} → ${show(item.after)}`] }));
  const steps = answer.steps || {};
  for (const step of steps.added || []) changes.push({ kind: "added", name: step.id, lines: [step.type] });
  for (const step of steps.changed || []) {
    changes.push({ kind: "changed", name: step.id, lines: step.moved_only ? ["moved on the canvas"]
      : (step.changes || []).map((item) => `${item.field}: ${show(item.before)} → ${show(item.after)}`) });
  }
  for (const step of steps.removed || []) changes.push({ kind: "removed", name: step.id, lines: [step.type] });
  return { summary: answer.summary || null, changes };
}

/** Make an old version the latest again. */
export async function restore(id, version, document) {
  try {
    return await api.post(`${base(id)}/versions/${version.version}/restore`, {});
  } catch (error) {
    if (!api.missingEndpoint(error)) throw error;
    return api.put(base(id), { ...document, changelog: `Restored version ${version.version}` });
  }
}

/** Variables a `{{…}}` may name: {common: [names], byStep: {step: [names]}}. */
export async function variables(id) {
  const names = (items) => (items || []).map((item) => (typeof item === "string" ? item : item.name)).filter(Boolean);
  try {
    const answer = await api.get(`${base(id)}/variables`);
    const byStep = {};
    for (const entry of answer.steps || []) byStep[entry.step] = names(entry.variables);
    return { common: names(answer.common || answer.items || answer.variables), byStep };
  } catch {
    return { common: [], byStep: {} };
  }
}
