// Reading JSON Schema (as pydantic writes it) to build forms: references, optional values,
// and what kind of control a property needs.

export const EXIT_NAMES = ["next", "default", "on_timeout", "on_failure"];
const HIDDEN = new Set(["type", "position"]);

/** Follow a local `$ref` ("#/$defs/Name") against the root schema. */
export function resolve(schema, root) {
  let current = schema || {};
  for (let depth = 0; current.$ref && depth < 20; depth += 1) {
    const path = current.$ref.replace(/^#\//, "").split("/");
    let target = root;
    for (const part of path) target = target?.[part];
    current = { ...target, ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== "$ref")) };
  }
  if (current.allOf && current.allOf.length === 1) {
    return resolve({ ...current.allOf[0], ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== "allOf")) }, root);
  }
  return current;
}

/** The schema without its `null` alternative, and whether null is allowed. */
export function unwrapNullable(schema, root) {
  const resolved = resolve(schema, root);
  const options = resolved.anyOf || resolved.oneOf;
  if (!options) return { schema: resolved, nullable: resolved.type === "null" };
  const real = options.filter((option) => resolve(option, root).type !== "null");
  const nullable = real.length < options.length;
  if (real.length === 1) {
    const merged = { ...resolve(real[0], root), title: resolved.title, description: resolved.description,
      default: resolved.default };
    return { schema: merged, nullable };
  }
  return { schema: { ...resolved, anyOf: real }, nullable };
}

/** The control a property needs: string, text, number, integer, boolean, enum, exit,
 *  list (of strings), array (of objects), object, or json (anything else). */
export function kindOf(name, schema) {
  if (EXIT_NAMES.includes(name)) return "exit";
  if (schema.const !== undefined) return "const";
  if (Array.isArray(schema.enum)) return "enum";
  if (schema.anyOf) {
    const types = new Set(schema.anyOf.map((option) => option.type));
    if ([...types].every((type) => ["integer", "number", "string"].includes(type))) return "string";
    return "json";
  }
  switch (schema.type) {
    case "string": return "string";
    case "integer": return "integer";
    case "number": return "number";
    case "boolean": return "boolean";
    case "array": {
      const items = schema.items || {};
      if (items.type === "string" || items.anyOf) return "list";
      return items.$ref || items.type === "object" || items.properties ? "array" : "json";
    }
    case "object": return schema.properties ? "object" : "json";
    default: return "json";
  }
}

/** The properties a form shows, in schema order: id first, no type or position. */
export function formProperties(schema) {
  const entries = Object.entries(schema.properties || {}).filter(([name]) => !HIDDEN.has(name));
  entries.sort(([a], [b]) => (a === "id" ? -1 : b === "id" ? 1 : 0));
  return entries;
}

/** A new, valid-looking value for an object schema (its required strings filled). */
export function blankObject(schema, root, hints = {}) {
  const resolved = resolve(schema, root);
  const value = {};
  for (const name of resolved.required || []) {
    const { schema: property } = unwrapNullable(resolved.properties?.[name] || {}, root);
    if (hints[name] !== undefined) value[name] = hints[name];
    else if (property.default !== undefined) value[name] = property.default;
    else if (property.type === "string") value[name] = name;
    else if (property.type === "array") {
      const items = resolve(property.items || {}, root);
      value[name] = items.properties && property.minItems ? [blankObject(items, root, hints)] : [];
    }
    else if (property.type === "object") value[name] = {};
  }
  return value;
}

/** A human title for a property ("save_as" → "Save as"). */
export function titleOf(name, schema) {
  if (schema.title && schema.title.toLowerCase() !== name.replaceAll("_", " ")) return schema.title;
  const words = name.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
