// The flow being edited: the template's fields, its steps (with canvas positions) and the
// problems the API found. Everything here is plain data; the canvas and forms render it.
import { reactive } from "../vendor.js";

/** Template fields edited in the side panel (menu_structure is the graph itself). */
export const META_FIELDS = ["template_name", "description", "category", "workflow_type", "template_type",
  "trigger_keywords", "tags", "is_public", "guidelines", "state_schema", "workflow_dependencies",
  "end_action_type", "end_action_target", "default_params", "session_ttl_seconds"];

export function createFlow() {
  return reactive({
    templateId: null, familyId: null, ownerId: null, version: null, isNew: true,
    meta: { template_name: "", description: "", category: "custom", workflow_type: "plain",
      template_type: "flow", trigger_keywords: [], tags: [], is_public: false, guidelines: null,
      state_schema: {}, workflow_dependencies: [], end_action_type: null, end_action_target: null,
      default_params: {}, session_ttl_seconds: null },
    start: null,
    steps: [],
    extra: {},
    problems: [],
    dirty: false,
  });
}

/** Fill the flow from a template (or a draft document) as the API answers it. */
export function loadInto(flow, template, document = template) {
  flow.templateId = template.id;
  flow.familyId = template.family_id;
  flow.ownerId = template.owner_id;
  flow.version = template.version;
  flow.isNew = false;
  for (const name of META_FIELDS) if (document[name] !== undefined) flow.meta[name] = clone(document[name]);
  const graph = document.menu_structure || {};
  const { start = null, steps = [], ...extra } = graph;
  flow.start = start;
  flow.steps = clone(Array.isArray(steps) ? steps : Object.entries(steps).map(([id, step]) => ({ id, ...step })));
  flow.extra = clone(extra);
  flow.problems = [];
  flow.dirty = false;
}

/** The step graph as the API takes it. */
export function menuStructureOf(flow) {
  const steps = flow.steps.map((step) => pruned(step));
  return { ...clone(flow.extra), start: flow.start || steps[0]?.id, steps };
}

/** The whole template document as the API takes it. */
export function documentOf(flow) {
  const document = { menu_structure: menuStructureOf(flow) };
  for (const name of META_FIELDS) {
    const value = flow.meta[name];
    if (value !== null && value !== undefined && !(name === "session_ttl_seconds" && value === "")) {
      document[name] = clone(value);
    }
  }
  return document;
}

/** What undo/redo and local storage keep. */
export function snapshotOf(flow) {
  return JSON.stringify({ meta: flow.meta, start: flow.start, steps: flow.steps, extra: flow.extra });
}

export function restoreSnapshot(flow, text) {
  const saved = JSON.parse(text);
  Object.assign(flow.meta, saved.meta);
  flow.start = saved.start;
  flow.steps = saved.steps;
  flow.extra = saved.extra || {};
}

export function stepById(flow, id) {
  return flow.steps.find((step) => step.id === id);
}

/** A step id not used yet: "ask", "ask_2", ... */
export function freshId(flow, base) {
  const clean = String(base).replace(/[^A-Za-z0-9_-]/g, "_").replace(/^-/, "_").slice(0, 90) || "step";
  const taken = new Set(flow.steps.map((step) => step.id));
  if (!taken.has(clean)) return clean;
  for (let n = 2; ; n += 1) if (!taken.has(`${clean}_${n}`)) return `${clean}_${n}`;
}

/** Empty strings, empty optional objects and nulls left out; positions rounded. */
function pruned(value) {
  if (Array.isArray(value)) return value.map(pruned);
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === null || item === undefined || item === "") continue;
      if (key === "position") { out.position = { x: Math.round(item.x), y: Math.round(item.y) }; continue; }
      out[key] = pruned(item);
    }
    return out;
  }
  return value;
}

export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** The API's problems about one step: [{path: "buttons.1.label", message}]. */
export function problemsOfStep(flow, stepId) {
  return flow.problems.filter((problem) => problem.step === stepId);
}

/** Turn the API's error details into problems with a step and a path inside it. */
export function problemsFrom(details, stepIds) {
  return details.map((detail) => {
    const field = detail.field || "";
    const match = field.match(/(?:^|\.)(?:steps|automationJson)\.([A-Za-z0-9_-]+)(?:\.|\[|$)(.*)$/)
      || field.match(/(?:^|\.)steps\[(\d+)\]\.?(.*)$/);
    let step = detail.step || null;
    let rest = "";
    if (match) {
      step = step || match[1];
      if (/^\d+$/.test(match[1]) && !stepIds.includes(match[1])) step = step || stepIds[Number(match[1])];
      rest = match[2] || "";
    }
    const path = rest.replace(/\[(\d+)\]/g, ".$1").replace(/^\./, "");
    return { step, path, field, message: detail.message };
  });
}
