// Import a template: a Flow Runner JSON export, a native template document, or a single
// WhatsApp interactive message (which becomes a one-step template).
import { h, defineComponent, reactive } from "../vendor.js";
import * as api from "../api.js";
import { Dialog, button, errorBox, selectInput, textInput } from "../ui.js";

const KINDS = [["flow_runner", "Flow Runner JSON"], ["native", "convoflow template (JSON)"],
  ["interactive", "One interactive message"]];

function guessKind(document) {
  if (document && (document.automationJson || document.trigger !== undefined)) return "flow_runner";
  if (document && document.type === "interactive" || document?.interactive) return "interactive";
  return "native";
}

export const ImportDialog = defineComponent({
  emits: ["close", "imported"],
  setup(_props, { emit }) {
    const form = reactive({ kind: "flow_runner", text: "", name: "", error: null, parseError: null, busy: false });

    async function readFile(event) {
      const file = event.target.files[0];
      if (!file) return;
      form.text = await file.text();
      try { form.kind = guessKind(JSON.parse(form.text)); } catch { /* shown on import */ }
      if (!form.name) form.name = file.name.replace(/\.json$/i, "");
    }

    async function submit(event) {
      event.preventDefault();
      form.error = null;
      form.parseError = null;
      let document;
      try { document = JSON.parse(form.text); } catch (error) {
        form.parseError = `Not JSON: ${error.message}`;
        return;
      }
      form.busy = true;
      try {
        let created;
        if (form.kind === "flow_runner") {
          const flow = await api.post("/api/whatsapp/flow", document);
          created = { id: flow.templateId };
        } else if (form.kind === "interactive") {
          created = await api.post("/api/workflow-templates", { template_name: form.name, menu_structure: document });
        } else {
          created = await api.post("/api/workflow-templates", document);
        }
        emit("imported", created);
      } catch (error) {
        form.error = error;
      } finally {
        form.busy = false;
      }
    }

    return () => h(Dialog, { title: "Import a template", wide: true, onClose: () => emit("close") }, () =>
      h("form", { onSubmit: submit }, [
        selectInput({ id: "import-kind", label: "Format", value: form.kind, options: KINDS,
          onChange: (v) => { form.kind = v; } }),
        h("div", { class: "field" }, [h("label", { for: "import-file" }, "File"),
          h("input", { id: "import-file", type: "file", accept: "application/json,.json", onChange: readFile })]),
        form.kind === "interactive" ? textInput({ id: "import-name", label: "Template name", value: form.name,
          required: true, onInput: (v) => { form.name = v; } }) : null,
        textInput({ id: "import-text", label: "JSON", multiline: true, rows: 12, value: form.text,
          error: form.parseError, onInput: (v) => { form.text = v; } }),
        errorBox(form.error),
        h("div", { class: "buttons" }, [
          button(form.busy ? "Importing…" : "Import", undefined, { kind: "primary", type: "submit", disabled: form.busy }),
          button("Cancel", () => emit("close")),
        ]),
      ]));
  },
});
