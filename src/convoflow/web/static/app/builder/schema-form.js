// A form generated from a step type's JSON Schema: one labelled control per property,
// nested fieldsets for objects and lists of objects, a step picker for each exit, WhatsApp
// limit counters, and the API's problems under the field they name.
import { h } from "../vendor.js";
import { checkbox, selectInput, textInput, button } from "../ui.js";
import { blankObject, formProperties, kindOf, resolve, titleOf, unwrapNullable } from "./schema.js";
import { lengthCounter, maxLength } from "./limits.js";

const LONG_TEXT = new Set(["text", "prompt", "caption", "body", "error", "intro", "message", "description"]);

/**
 * Render the form of `value` (an object, edited in place).
 * ctx: {root, stepType, type, idPrefix, problems: Map(path → message), stepIds, selfId,
 *       variables, changed()}
 */
export function objectForm(schema, value, path, ctx) {
  const resolved = resolve(schema, ctx.root);
  const required = new Set(resolved.required || []);
  // A step's own id is edited by the rename field (it is referenced by other steps).
  const shown = formProperties(resolved).filter(([name]) => !(name === "id" && path.length === 0));
  return shown.map(([name, propertySchema]) =>
    propertyControl(name, propertySchema, value, [...path, name], required.has(name), ctx));
}

function controlId(ctx, path) {
  return `${ctx.idPrefix}-${path.join("-")}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function variableHint(ctx) {
  if (!ctx.variables?.length) return "Use {{variable}} to insert a value.";
  return `Variables: ${ctx.variables.slice(0, 8).map((name) => `{{${name}}}`).join(" ")}`;
}

function propertyControl(name, propertySchema, owner, path, required, ctx) {
  const { schema, nullable } = unwrapNullable(propertySchema, ctx.root);
  const kind = kindOf(name, schema);
  const id = controlId(ctx, path);
  const label = `${titleOf(name, schema)}${required ? "" : " (optional)"}`;
  const key = path.join(".");
  const error = ctx.problems.get(key) || null;
  const current = owner[name];
  const set = (value) => {
    if (value === undefined || value === "" || (value === null && !required)) delete owner[name];
    else owner[name] = value;
    ctx.changed(path);
  };

  switch (kind) {
    case "const":
      return null;
    case "exit": {
      const options = [["", "— end of the flow —"], ...ctx.stepIds.filter((step) => step !== ctx.selfId)
        .map((step) => [step, step])];
      return selectInput({ id, label: `${titleOf(name, schema)} step`, value: current || "", options, error,
        onChange: (value) => set(value || undefined), className: "exit-field" });
    }
    case "enum": {
      const options = [...(required ? [] : [["", "—"]]), ...schema.enum.map((item) => [String(item), String(item)])];
      return selectInput({ id, label, value: current === undefined ? (schema.default ?? "") : String(current),
        options, error, onChange: (value) => set(value === "" ? undefined : schema.enum.find((item) => String(item) === value)) });
    }
    case "boolean":
      return checkbox({ id, label: titleOf(name, schema), checked: current ?? schema.default ?? false, error,
        onChange: (checked) => set(checked) });
    case "integer":
    case "number":
      return textInput({ id, label, type: "number", value: current ?? "", error,
        hint: schema.minimum !== undefined || schema.maximum !== undefined
          ? `${schema.minimum ?? "…"} to ${schema.maximum ?? "…"}` : undefined,
        onInput: (text) => set(text === "" ? undefined : Number(text)) });
    case "string": {
      const max = maxLength(ctx.type, path.slice(ctx.basePath), ctx.stepType, schema);
      const multiline = LONG_TEXT.has(name) || (max && max > 200);
      return textInput({ id, label, value: current ?? "", error, multiline, rows: 3,
        counter: lengthCounter(current, max), hint: multiline ? variableHint(ctx) : undefined,
        onInput: (text) => {
          const numeric = schema.anyOf && /^\d+(\.\d+)?$/.test(text.trim());
          set(text === "" ? (nullable ? null : "") : numeric ? Number(text) : text);
        } });
    }
    case "list":
      return textInput({ id, label, value: Array.isArray(current) ? current.join(", ") : "", error,
        hint: "Separate with commas.",
        onInput: (text) => set(text.trim() === "" ? undefined : text.split(",").map((item) => item.trim()).filter(Boolean)) });
    case "array":
      return arrayControl(name, schema, owner, path, ctx, { id, label, error });
    case "object":
      if (current === undefined && !required) {
        return h("div", { class: "field" }, button(`Add ${titleOf(name, schema).toLowerCase()}`,
          () => set(blankObject(schema, ctx.root))));
      }
      return h("fieldset", { class: "nested" }, [h("legend", label),
        error ? h("p", { class: "error", role: "alert" }, error) : null,
        ...objectForm(schema, current || (owner[name] = {}), path, ctx)]);
    default:
      return jsonControl(owner, name, path, ctx, { id, label, error });
  }
}

function arrayControl(name, schema, owner, path, ctx, { id, label, error }) {
  const items = Array.isArray(owner[name]) ? owner[name] : [];
  const itemSchema = resolve(schema.items || {}, ctx.root);
  const itemTitle = titleOf(name, {}).replace(/s$/, "").toLowerCase();
  const add = () => {
    const hints = { id: `${itemTitle}_${items.length + 1}`, label: `${itemTitle} ${items.length + 1}`,
      title: `${itemTitle} ${items.length + 1}` };
    owner[name] = [...items, blankObject(itemSchema, ctx.root, hints)];
    ctx.changed(path);
  };
  const remove = (index) => { owner[name] = items.filter((_, i) => i !== index); ctx.changed(path); };
  const move = (index, by) => {
    const next = [...items];
    const [item] = next.splice(index, 1);
    next.splice(index + by, 0, item);
    owner[name] = next;
    ctx.changed(path);
  };
  const max = schema.maxItems;
  return h("fieldset", { class: "nested array", id }, [
    h("legend", [label, h("span", { class: "counter" }, max ? ` ${items.length}/${max}` : ` (${items.length})`)]),
    error ? h("p", { class: "error", role: "alert" }, error) : null,
    ...items.map((item, index) => h("fieldset", { class: "item", key: index }, [
      h("legend", `${itemTitle} ${index + 1}`),
      ...objectForm(itemSchema, item, [...path, index], ctx),
      h("div", { class: "item-actions" }, [
        button("↑", () => move(index, -1), { kind: "small", disabled: index === 0, title: `Move ${itemTitle} ${index + 1} up` }),
        button("↓", () => move(index, 1), { kind: "small", disabled: index === items.length - 1, title: `Move ${itemTitle} ${index + 1} down` }),
        button("Remove", () => remove(index), { kind: "small danger", title: `Remove ${itemTitle} ${index + 1}` }),
      ]),
    ])),
    button(`Add ${itemTitle}`, add, { kind: "small" }),
  ]);
}

/** Anything the schema describes loosely (objects of any keys, mixed types): JSON text. */
function jsonControl(owner, name, path, ctx, { id, label, error }) {
  const draftKey = path.join(".");
  const text = ctx.jsonDrafts[draftKey] ?? (owner[name] === undefined ? "" : JSON.stringify(owner[name], null, 2));
  const parseError = ctx.jsonErrors[draftKey];
  return textInput({ id, label: `${label} (JSON)`, multiline: true, rows: 3, value: text,
    error: parseError || error,
    onInput: (value) => {
      ctx.jsonDrafts[draftKey] = value;
      if (value.trim() === "") { delete owner[name]; ctx.jsonErrors[draftKey] = null; ctx.changed(path); return; }
      try {
        owner[name] = JSON.parse(value);
        ctx.jsonErrors[draftKey] = null;
        ctx.changed(path);
      } catch {
        ctx.jsonErrors[draftKey] = "Not valid JSON yet.";
      }
    } });
}
