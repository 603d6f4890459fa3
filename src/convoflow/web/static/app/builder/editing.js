// What the user does to the graph: add, connect, rename, delete, copy and paste steps.
// Each function changes the flow's steps and tells the caller whether to record history.
import { blankObject } from "./schema.js";
import { exitsOf, getPath, setPath } from "./exits.js";
import { clone, freshId } from "./flow.js";

/** A new step of `type` at `position`, with its required fields filled in. */
export function addStep(flow, types, type, position) {
  const stepType = types[type];
  const id = freshId(flow, type);
  const step = { id, type, ...blankObject(stepType?.schema || {}, stepType?.schema || {}, { id: "option_1",
    label: "Option 1", title: "Option 1", text: "Hello!", prompt: "Your answer?", field: "answer",
    url: "https://example.com", name: "template_name", template: "other_template", button: "Options" }) };
  step.id = id;
  step.type = type;
  step.position = position;
  if (!flow.start) flow.start = id;
  flow.steps.push(step);
  return step;
}

/** Point the exit `handle` of `sourceId` at `targetId`. */
export function connect(flow, types, sourceId, handle, targetId) {
  const step = flow.steps.find((item) => item.id === sourceId);
  if (!step || sourceId === targetId) return false;
  const exit = exitsOf(step, types[step.type]?.schema || {}).find((item) => item.handle === handle);
  if (!exit) return false;
  setPath(step, exit.path, targetId);
  return true;
}

/** Clear the exit at `path` of a step. */
export function disconnect(flow, sourceId, path) {
  const step = flow.steps.find((item) => item.id === sourceId);
  if (!step || getPath(step, path) === undefined) return false;
  setPath(step, path, undefined);
  return true;
}

/** Every exit pointing at `from` now points at `to` (undefined: cleared). */
function repoint(flow, types, from, to) {
  for (const step of flow.steps) {
    for (const exit of exitsOf(step, types[step.type]?.schema || {})) {
      if (exit.target === from) setPath(step, exit.path, to);
    }
  }
  if (flow.start === from) flow.start = to ?? flow.steps[0]?.id ?? null;
}

/** Rename a step and every reference to it; an error text when the id cannot be used. */
export function renameStep(flow, types, oldId, newId) {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$/.test(newId)) {
    return "Letters, digits, _ and - only (at most 100), not starting with -.";
  }
  if (flow.steps.some((step) => step.id === newId)) return `There is a step ${newId} already.`;
  const step = flow.steps.find((item) => item.id === oldId);
  repoint(flow, types, oldId, newId);
  step.id = newId;
  return null;
}

export function deleteSteps(flow, types, ids) {
  const gone = new Set(ids);
  flow.steps = flow.steps.filter((step) => !gone.has(step.id));
  for (const id of ids) repoint(flow, types, id, undefined);
  if (flow.start && gone.has(flow.start)) flow.start = flow.steps[0]?.id ?? null;
}

/** Copies of the steps, exits inside the copied set kept, ready to paste. */
export function copySteps(flow, ids) {
  return clone(flow.steps.filter((step) => ids.includes(step.id)));
}

/** Paste copies with fresh ids, shifted right and down; answers the new ids. */
export function pasteSteps(flow, types, copies, shift = 40) {
  const renamed = new Map();
  for (const copy of copies) {
    const id = freshId({ steps: [...flow.steps, ...[...renamed.values()].map((value) => ({ id: value }))] }, `${copy.id}_copy`);
    renamed.set(copy.id, id);
  }
  const pasted = clone(copies).map((copy) => {
    copy.id = renamed.get(copy.id);
    copy.position = { x: (copy.position?.x || 0) + shift, y: (copy.position?.y || 0) + shift };
    for (const exit of exitsOf(copy, types[copy.type]?.schema || {})) {
      if (exit.target && renamed.has(exit.target)) setPath(copy, exit.path, renamed.get(exit.target));
    }
    return copy;
  });
  flow.steps.push(...pasted);
  if (!flow.start && pasted[0]) flow.start = pasted[0].id;
  return pasted.map((step) => step.id);
}
