// A readable difference between two template versions: which template fields changed, and
// which steps were added, removed or changed (and in which fields).
import { META_FIELDS } from "./flow.js";

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const short = (value) => {
  const text = value === undefined || value === null ? "—" : typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
};

/** [{kind: "field"|"added"|"removed"|"changed", name, lines: [text]}] from `older` to `newer`. */
export function templateDiff(older, newer) {
  const changes = [];
  for (const name of META_FIELDS) {
    if (!same(older[name], newer[name])) {
      changes.push({ kind: "field", name, lines: [`${short(older[name])} → ${short(newer[name])}`] });
    }
  }
  const oldGraph = older.menu_structure || {};
  const newGraph = newer.menu_structure || {};
  if (!same(oldGraph.start, newGraph.start)) {
    changes.push({ kind: "field", name: "first step", lines: [`${short(oldGraph.start)} → ${short(newGraph.start)}`] });
  }
  const byId = (graph) => new Map((graph.steps || []).map((step) => [step.id, step]));
  const before = byId(oldGraph);
  const after = byId(newGraph);
  for (const [id, step] of after) {
    if (!before.has(id)) { changes.push({ kind: "added", name: id, lines: [`${step.type}`] }); continue; }
    const old = before.get(id);
    const lines = [];
    for (const key of new Set([...Object.keys(old), ...Object.keys(step)])) {
      if (key === "position") continue;
      if (!same(old[key], step[key])) lines.push(`${key}: ${short(old[key])} → ${short(step[key])}`);
    }
    if (!same(old.position, step.position)) lines.push("moved on the canvas");
    if (lines.length) changes.push({ kind: "changed", name: id, lines });
  }
  for (const [id, step] of before) {
    if (!after.has(id)) changes.push({ kind: "removed", name: id, lines: [`${step.type}`] });
  }
  return changes;
}
