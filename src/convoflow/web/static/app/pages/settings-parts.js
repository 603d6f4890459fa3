// A settings section that lists things and has a small form to add one: loading, errors
// next to the form field they name, and an action per row.
import { h, defineComponent, reactive, onMounted } from "../vendor.js";
import * as api from "../api.js";
import { button, checkbox, errorBox, selectInput, textInput } from "../ui.js";

/**
 * props: title, path (list endpoint), fields [{name, label, type, options, required, hint}],
 * columns [[label, (item) => text]], create (body → promise),
 * actions ((item, run) → vnodes; run(fn) calls fn, shows its error and reloads the list),
 * testid, note, initial (form values)
 */
export const ListSection = defineComponent({
  props: { title: String, path: String, fields: Array, columns: Array, create: Function, actions: Function,
    testid: String, note: String, initial: Object, afterCreate: Function, query: Object },
  setup(props) {
    const state = reactive({ items: [], error: null, formError: null, busy: false, created: null,
      form: { ...(props.initial || {}) } });

    async function load() {
      try {
        state.items = (await api.get(`${props.path}${api.query({ limit: 200, ...(props.query || {}) })}`)).items;
        state.error = null;
      } catch (error) {
        state.error = api.missingEndpoint(error) ? { message: "This server does not offer this yet." } : error;
      }
    }

    async function submit(event) {
      event.preventDefault();
      state.busy = true;
      state.formError = null;
      try {
        const body = Object.fromEntries(Object.entries(state.form).filter(([, value]) => value !== "" && value !== undefined));
        state.created = await props.create(body);
        state.form = { ...(props.initial || {}) };
        await load();
      } catch (error) {
        state.formError = error;
      } finally {
        state.busy = false;
      }
    }

    onMounted(load);

    async function run(action) {
      state.error = null;
      try { await action(); } catch (error) { state.error = error; }
      await load();
    }

    const control = (field) => {
      const id = `${props.testid}-${field.name}`;
      const error = state.formError?.about?.(field.name);
      const set = (value) => { state.form[field.name] = value; };
      if (field.type === "select") return selectInput({ id, label: field.label, value: state.form[field.name] ?? "", options: field.options, error, onChange: set });
      if (field.type === "checkbox") return checkbox({ id, label: field.label, checked: state.form[field.name], onChange: set });
      return textInput({ id, label: field.label, type: field.type || "text", value: state.form[field.name] ?? "",
        required: field.required, hint: field.hint, error, autocomplete: field.type === "password" ? "new-password" : "off", onInput: set });
    };
    const fieldNames = new Set((props.fields || []).map((field) => field.name));

    return () => h("section", { "data-testid": props.testid, "aria-label": props.title }, [
      h("h2", props.title),
      props.note ? h("p", { class: "muted" }, props.note) : null,
      errorBox(state.error),
      h("table", { class: "list" }, [
        h("thead", h("tr", [...props.columns.map(([label]) => h("th", { scope: "col" }, label)), props.actions ? h("th", "") : null])),
        h("tbody", state.items.length ? state.items.map((item) => h("tr", { key: item.id }, [
          ...props.columns.map(([, text]) => h("td", text(item))),
          props.actions ? h("td", { class: "actions" }, props.actions(item, run)) : null,
        ])) : h("tr", h("td", { colspan: props.columns.length + 1, class: "empty" }, "None yet."))),
      ]),
      props.create ? h("form", { class: "inline-form", onSubmit: submit }, [
        ...props.fields.map(control),
        button(state.busy ? "Adding…" : "Add", undefined, { type: "submit", kind: "primary", disabled: state.busy }),
      ]) : null,
      props.create ? errorBox(state.formError, { only: (detail) => !fieldNames.has(detail.field) }) : null,
      state.created && props.afterCreate ? props.afterCreate(state.created) : null,
    ]);
  },
});

export { button };
