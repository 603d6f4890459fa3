// The ways out of a step: `next`, each button, list row and condition branch, `default`,
// and the timeout and failure exits. Each is a handle on the node and an edge on the canvas,
// found by walking the step type's schema together with the step's data.
import { EXIT_NAMES, resolve, unwrapNullable } from "./schema.js";

const EXIT_LABELS = { next: "next", default: "else", on_timeout: "timeout", on_failure: "failure" };

function itemLabel(item, index) {
  if (!item || typeof item !== "object") return `#${index + 1}`;
  if (item.var !== undefined) return `${item.var} ${item.op || "eq"} ${item.value ?? ""}`.trim();
  return item.label || item.title || item.id || `#${index + 1}`;
}

/** [{handle, path, label, target, kind}] for a step of the given schema. */
export function exitsOf(step, schema) {
  const exits = [];
  const root = schema;
  function walk(objectSchema, data, path, label) {
    const resolved = resolve(objectSchema, root);
    for (const [name, propertySchema] of Object.entries(resolved.properties || {})) {
      if (EXIT_NAMES.includes(name)) {
        exits.push({
          handle: [...path, name].join("."),
          path: [...path, name],
          label: label ? (name === "next" ? label : `${label} · ${EXIT_LABELS[name]}`) : EXIT_LABELS[name],
          target: data?.[name] ?? null,
          kind: name,
        });
        continue;
      }
      const { schema: property } = unwrapNullable(propertySchema, root);
      if (property.type === "array" && Array.isArray(data?.[name])) {
        const items = resolve(property.items || {}, root);
        if (!items.properties) continue;
        data[name].forEach((item, index) =>
          walk(items, item, [...path, name, index], itemLabel(item, index)));
      } else if (property.type === "object" && property.properties) {
        walk(property, data?.[name], [...path, name], label);
      }
    }
  }
  walk(schema, step, [], "");
  return exits;
}

/** Read a value at a path ([“buttons”, 0, “next”]). */
export function getPath(object, path) {
  return path.reduce((value, key) => (value == null ? undefined : value[key]), object);
}

/** Write a value at a path, creating objects on the way; `undefined` removes the key. */
export function setPath(object, path, value) {
  let target = object;
  for (const key of path.slice(0, -1)) {
    if (target[key] == null) target[key] = {};
    target = target[key];
  }
  const last = path[path.length - 1];
  if (value === undefined || value === null) {
    if (Array.isArray(target)) target[last] = value; else delete target[last];
  } else {
    target[last] = value;
  }
}

/** Every exit path (handle) of the step pointing at `target`. */
export function exitsTo(step, schema, target) {
  return exitsOf(step, schema).filter((exit) => exit.target === target);
}
