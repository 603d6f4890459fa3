// The form of the selected step: its id, the fields of its type, and its problems.
import { h, defineComponent, reactive } from "../vendor.js";
import { button, textInput } from "../ui.js";
import { objectForm } from "./schema-form.js";
import { itemCounts } from "./limits.js";

export const StepPanel = defineComponent({
  props: { context: Object, stepId: String },
  setup(props) {
    const local = reactive({ idDraft: null, idError: null, jsonDrafts: {}, jsonErrors: {} });

    return () => {
      const { flow, types } = props.context;
      const step = flow.steps.find((item) => item.id === props.stepId);
      if (!step) return null;
      const type = types[step.type];
      const problems = flow.problems.filter((problem) => problem.step === step.id);
      const byPath = new Map(problems.map((problem) => [problem.path, problem.message]));
      const ctx = {
        root: type?.schema || {}, stepType: type, type: step.type, basePath: 0,
        idPrefix: `step-${step.id}`, problems: byPath, selfId: step.id,
        stepIds: flow.steps.map((item) => item.id),
        variables: props.context.variables.byStep?.[step.id] || props.context.variables.common || [],
        jsonDrafts: local.jsonDrafts, jsonErrors: local.jsonErrors,
        changed: () => props.context.changed(),
      };
      const shown = new Set(flowPaths(type?.schema, step));
      const elsewhere = problems.filter((problem) => !problem.path || !shown.has(problem.path));
      const idValue = local.idDraft ?? step.id;
      const commitId = () => {
        if (local.idDraft === null || local.idDraft === step.id) { local.idDraft = null; return; }
        const error = props.context.renameStep(step.id, local.idDraft.trim());
        local.idError = error;
        if (!error) local.idDraft = null;
      };
      return h("section", { class: "step-panel", "aria-label": `Step ${step.id}` }, [
        h("header", { class: "panel-head" }, [
          h("h2", [h("span", { class: "badge" }, type?.title || step.type), " ", step.id]),
        ]),
        type?.description ? h("p", { class: "muted" }, type.description.split("\n")[0].replaceAll("``", "")) : null,
        elsewhere.length ? h("ul", { class: "problems", role: "alert" }, elsewhere.map((problem) =>
          h("li", `${problem.path ? `${problem.path}: ` : ""}${problem.message}`))) : null,
        itemCounts(step).map((count) => h("p", { class: ["limit", { over: count.over }] },
          `${count.count}/${count.max} ${count.label}${count.note ? ` — ${count.note}` : ""}`)),
        h("div", { class: "field-row" }, [
          h("div", { class: "grow" }, textInput({ id: `step-${step.id}-rename`, label: "Step id", value: idValue,
            error: local.idError || byPath.get("id"),
            onInput: (value) => { local.idDraft = value; local.idError = null; } })),
          button("Rename", commitId, { kind: "small", disabled: local.idDraft === null }),
        ]),
        h("form", { class: "step-form", onSubmit: (event) => event.preventDefault(),
          onFocusout: () => commitId() }, objectForm(type?.schema || {}, step, [], ctx)),
        h("div", { class: "buttons" }, [
          flow.start !== step.id ? button("Make first step", () => { flow.start = step.id; props.context.changed(); }) : null,
          button("Delete step", () => props.context.deleteSteps([step.id]), { kind: "danger" }),
        ]),
      ]);
    };
  },
});

/** Every field path of the step that the form shows (to tell which problems have a home). */
function flowPaths(schema, step) {
  const paths = [];
  function walk(value, path) {
    if (path.length) paths.push(path.join("."));
    if (Array.isArray(value)) value.forEach((item, index) => walk(item, [...path, index]));
    else if (value && typeof value === "object") for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
  }
  walk(step, []);
  for (const name of Object.keys(schema?.properties || {})) paths.push(name);
  return paths;
}
