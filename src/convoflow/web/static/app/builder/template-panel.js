// The template's own fields, beside the canvas: name, triggers, tags, state_schema,
// guidelines, dependencies, the end action, and who may start it (user types).
import { h, defineComponent, reactive, onMounted, watch } from "../vendor.js";
import * as api from "../api.js";
import { checkbox, errorBox, selectInput, textInput } from "../ui.js";

const JSON_FIELDS = [
  ["state_schema", "State schema", "Typed fields the template collects: {\"amount\": {\"type\": \"number\", \"prompt\": \"How much?\"}}"],
  ["workflow_dependencies", "Workflow dependencies", "HTTP calls that must succeed before a run counts as completed."],
  ["end_action_target", "End action target", "{\"endpoint\": \"https://…\", \"method\": \"POST\", \"headers\": {}}"],
  ["default_params", "Default parameters", "Starting variables of every run."],
];

export const TemplatePanel = defineComponent({
  props: { context: Object },
  setup(props) {
    const local = reactive({ drafts: {}, jsonErrors: {}, userTypes: [], grants: [], grantError: null });
    const meta = props.context.flow.meta;
    const problem = (field) => props.context.flow.problems.find((item) => !item.step && item.field === field)?.message;
    const set = (name, value) => { meta[name] = value; props.context.changed(); };

    async function loadPermissions() {
      const id = props.context.flow.templateId;
      if (!id) return;
      try {
        const [types, grants] = await Promise.all([
          api.get(`/api/user-types${api.query({ limit: 200 })}`),
          api.get(`/api/permissions${api.query({ workflow_template_id: id, limit: 200 })}`),
        ]);
        local.userTypes = types.items;
        local.grants = grants.items;
      } catch (error) {
        local.grantError = error;
      }
    }
    async function toggleGrant(userType, granted) {
      local.grantError = null;
      try {
        if (granted) {
          await api.post("/api/permissions", { user_type_id: userType.id, workflow_template_id: props.context.flow.templateId });
        } else {
          const grant = local.grants.find((item) => item.user_type_id === userType.id);
          if (grant) await api.del(`/api/permissions/${grant.id}`);
        }
        await loadPermissions();
      } catch (error) {
        local.grantError = error;
      }
    }
    onMounted(loadPermissions);
    watch(() => props.context.flow.templateId, loadPermissions);

    const listField = (name, label, hint) => textInput({ id: `template-${name}`, label, hint,
      value: (meta[name] || []).join(", "), error: problem(name),
      onInput: (text) => set(name, text.split(",").map((item) => item.trim()).filter(Boolean)) });

    const jsonField = ([name, label, hint]) => {
      const text = local.drafts[name] ?? (meta[name] === null || meta[name] === undefined ? "" : JSON.stringify(meta[name], null, 2));
      return textInput({ id: `template-${name}`, label, hint, multiline: true, rows: 4, value: text,
        error: local.jsonErrors[name] || problem(name),
        onInput: (value) => {
          local.drafts[name] = value;
          if (value.trim() === "") { local.jsonErrors[name] = null; set(name, name === "workflow_dependencies" ? [] : name === "end_action_target" ? null : {}); return; }
          try { set(name, JSON.parse(value)); local.jsonErrors[name] = null; } catch { local.jsonErrors[name] = "Not valid JSON yet."; }
        } });
    };

    return () => h("section", { class: "template-panel", "aria-label": "Template settings" }, [
      h("h2", "Template"),
      textInput({ id: "template-name", label: "Name", value: meta.template_name, required: true,
        error: problem("template_name") || problem("name"), onInput: (v) => set("template_name", v) }),
      textInput({ id: "template-description", label: "Description", multiline: true, rows: 2,
        value: meta.description, error: problem("description"), onInput: (v) => set("description", v) }),
      listField("trigger_keywords", "Trigger keywords", "Messages that start it, separated by commas."),
      h("div", { class: "field-row" }, [
        textInput({ id: "template-category", label: "Category", value: meta.category, error: problem("category"),
          onInput: (v) => set("category", v) }),
        selectInput({ id: "template-workflow-type", label: "Workflow type", value: meta.workflow_type,
          options: ["plain", "tools", "rag", "full"], onChange: (v) => set("workflow_type", v) }),
      ]),
      listField("tags", "Tags"),
      checkbox({ id: "template-public", label: "Public: others may see and fork it", checked: meta.is_public,
        onChange: (v) => set("is_public", v) }),
      textInput({ id: "template-ttl", label: "Conversation lifetime (seconds, optional)", type: "number",
        value: meta.session_ttl_seconds ?? "", error: problem("session_ttl_seconds"),
        onInput: (v) => set("session_ttl_seconds", v === "" ? null : Number(v)) }),
      textInput({ id: "template-guidelines", label: "Guidelines (for AI steps)", multiline: true, rows: 3,
        value: meta.guidelines ?? "", error: problem("guidelines"), onInput: (v) => set("guidelines", v || null) }),
      selectInput({ id: "template-end-action", label: "End action", value: meta.end_action_type ?? "",
        options: [["", "None"], ["api_call", "API call when a run completes"]],
        error: problem("end_action_type"), onChange: (v) => set("end_action_type", v || null) }),
      ...JSON_FIELDS.map(jsonField),
      h("fieldset", { class: "nested" }, [
        h("legend", "Who may start it"),
        !props.context.flow.templateId ? h("p", { class: "muted" }, "Save the template first.")
          : local.userTypes.length === 0 ? h("p", { class: "muted" }, "No user types yet: everyone may start it (Settings → User types).")
            : local.userTypes.map((userType) => checkbox({ id: `grant-${userType.id}`, label: userType.name,
              checked: local.grants.some((grant) => grant.user_type_id === userType.id),
              onChange: (granted) => toggleGrant(userType, granted) })),
        errorBox(local.grantError),
      ]),
    ]);
  },
});
