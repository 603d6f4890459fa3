// Small building blocks for forms and messages, as render functions. Every field has a
// label tied to its input, and an error shown right under it.
import { h, defineComponent, onMounted, onBeforeUnmount, ref } from "./vendor.js";

let counter = 0;
/** A unique element id with a readable prefix. */
export function uid(prefix = "f") { counter += 1; return `${prefix}-${counter}`; }

/** A labelled field around one control; `error` and `hint` are shown below it. */
export function field({ id, label, error, hint, counter: count, className }, control) {
  return h("div", { class: ["field", className, { invalid: Boolean(error) }] }, [
    h("label", { for: id }, label),
    control,
    count ? h("span", { class: ["counter", { over: count.over }], "aria-live": "polite" }, count.text) : null,
    hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null,
    error ? h("p", { class: "error", id: `${id}-error`, role: "alert" }, error) : null,
  ]);
}

function described(id, error, hint) {
  const ids = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function textInput({ id = uid(), label, value, onInput, type = "text", error, hint,
  counter: count, placeholder, required, multiline, rows = 3, name, autocomplete, className }) {
  const attrs = {
    id, name, value: value ?? "", placeholder, required, autocomplete,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": described(id, error, hint),
    onInput: (event) => onInput(event.target.value),
  };
  const control = multiline ? h("textarea", { ...attrs, rows }) : h("input", { ...attrs, type });
  return field({ id, label, error, hint, counter: count, className }, control);
}

export function selectInput({ id = uid(), label, value, onChange, options, error, hint, className }) {
  return field({ id, label, error, hint, className }, h("select", {
    id, value: value ?? "",
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": described(id, error, hint),
    onChange: (event) => onChange(event.target.value),
  }, options.map((option) => {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    return h("option", { value: optionValue, selected: optionValue === (value ?? "") }, text);
  })));
}

export function checkbox({ id = uid(), label, checked, onChange, error, className }) {
  return h("div", { class: ["field", "check", className, { invalid: Boolean(error) }] }, [
    h("input", { id, type: "checkbox", checked: Boolean(checked),
      onChange: (event) => onChange(event.target.checked) }),
    h("label", { for: id }, label),
    error ? h("p", { class: "error", role: "alert" }, error) : null,
  ]);
}

export function button(text, onClick, { kind = "", disabled = false, title, type = "button", testid } = {}) {
  return h("button", { type, class: ["btn", kind], disabled, title, onClick,
    "data-testid": testid }, text);
}

/** An API error in words: its message, and its details when they are not about one field. */
export function errorBox(error, { only } = {}) {
  if (!error) return null;
  const details = (error.details || []).filter((detail) => !only || only(detail));
  return h("div", { class: "error-box", role: "alert" }, [
    h("strong", error.message || String(error)),
    details.length ? h("ul", details.map((detail) =>
      h("li", `${detail.field ? `${detail.field}: ` : ""}${detail.message}`))) : null,
  ]);
}

/** A modal dialog: focus moves into it, Escape closes it. */
export const Dialog = defineComponent({
  props: { title: String, wide: Boolean },
  emits: ["close"],
  setup(props, { slots, emit }) {
    const box = ref(null);
    const onKey = (event) => { if (event.key === "Escape") emit("close"); };
    onMounted(() => {
      document.addEventListener("keydown", onKey);
      const first = box.value && box.value.querySelector("input, textarea, select, button");
      if (first) first.focus();
    });
    onBeforeUnmount(() => document.removeEventListener("keydown", onKey));
    return () => h("div", { class: "backdrop", onClick: (event) => {
      if (event.target === event.currentTarget) emit("close");
    } }, h("div", { class: ["dialog", { wide: props.wide }], role: "dialog", "aria-modal": "true",
      "aria-label": props.title, ref: box }, [
      h("header", [h("h2", props.title),
        h("button", { class: "btn icon", type: "button", "aria-label": "Close", onClick: () => emit("close") }, "×")]),
      slots.default && slots.default(),
    ]));
  },
});

/** Offer `content` as a file download. */
export function download(filename, content, type = "application/json") {
  const blob = new Blob([content], { type });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

/** Rows (arrays or objects) as CSV text. */
export function toCsv(rows, columns) {
  const quote = (value) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.map(quote).join(",")];
  for (const row of rows) {
    lines.push((Array.isArray(row) ? row : columns.map((column) => row[column])).map(quote).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** A table with a caption and a "CSV" button that exports exactly what it shows. */
export function dataTable({ caption, columns, rows, filename, testid }) {
  return h("div", { class: "data-table", "data-testid": testid }, [
    h("div", { class: "table-head" }, [
      h("h3", caption),
      button("Export CSV", () => download(filename, toCsv(rows, columns), "text/csv"), { kind: "small" }),
    ]),
    h("table", [
      h("thead", h("tr", columns.map((column) => h("th", { scope: "col" }, column)))),
      h("tbody", rows.length ? rows.map((row) => h("tr", (Array.isArray(row) ? row : columns.map((c) => row[c]))
        .map((cell) => h("td", cell === null || cell === undefined ? "" : String(cell))))) :
        h("tr", h("td", { colspan: columns.length, class: "empty" }, "Nothing yet."))),
    ]),
  ]);
}

export function formatDate(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}
