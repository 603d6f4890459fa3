// One step on the canvas: its type and id, a line of what it says, its problems, the
// simulator's "you are here", the analytics visits, and a handle for each way out.
import { h, defineComponent } from "../vendor.js";
import { VueFlowCore } from "../vendor.js";
import { exitsOf } from "./exits.js";
import { itemCounts } from "./limits.js";

const { Handle, Position } = VueFlowCore;

function summary(step) {
  const text = step.text || step.prompt || step.caption || step.intro || step.url || step.name
    || step.template || (step.values ? Object.keys(step.values).join(", ") : "")
    || (step.branches ? `${step.branches.length} branches` : "");
  const line = String(text || "");
  return line.length > 70 ? `${line.slice(0, 69)}…` : line;
}

/** The node component; `data.context` is the builder's shared state (flow, types, overlays). */
export const StepNode = defineComponent({
  props: { id: String, data: Object, selected: Boolean },
  setup(props) {
    return () => {
      const context = props.data.context;
      const step = context.flow.steps.find((item) => item.id === props.id);
      if (!step) return h("div", { class: "step-node" });
      const type = context.types[step.type];
      const exits = type ? exitsOf(step, type.schema) : [];
      const problems = context.flow.problems.filter((problem) => problem.step === step.id);
      const visits = context.overlay?.visits?.[step.id];
      const counts = itemCounts(step).filter((count) => count.over || count.soft);
      return h("div", {
        class: ["step-node", `type-${step.type}`, {
          selected: props.selected, invalid: problems.length > 0,
          current: context.simulator.step === step.id, start: context.flow.start === step.id,
        }],
        "data-step": step.id,
        "data-testid": `node-${step.id}`,
      }, [
        h(Handle, { type: "target", position: Position.Left, id: "in", class: "handle-in" }),
        h("header", [
          h("span", { class: "badge" }, type ? type.title : step.type),
          h("strong", { class: "step-id" }, step.id),
          context.flow.start === step.id ? h("span", { class: "start-flag", title: "First step" }, "start") : null,
        ]),
        summary(step) ? h("p", { class: "summary" }, summary(step)) : null,
        counts.map((count) => h("p", { class: ["limit", { over: count.over }] },
          `${count.count}/${count.max} ${count.label}${count.note ? ` — ${count.note}` : ""}`)),
        visits !== undefined ? h("p", { class: "visits", "data-testid": `visits-${step.id}` }, `${visits} visits`) : null,
        problems.length ? h("ul", { class: "problems", "data-testid": `problems-${step.id}` },
          problems.map((problem) => h("li", `${problem.path ? `${problem.path}: ` : ""}${problem.message}`))) : null,
        h("ul", { class: "exits" }, exits.map((exit) => h("li", { key: exit.handle, class: { linked: Boolean(exit.target) } }, [
          h("span", { class: "exit-label" }, exit.label),
          h(Handle, { type: "source", position: Position.Right, id: exit.handle, class: `handle-out handle-${exit.kind}`,
            "data-handle": exit.handle, title: `Connect ${exit.label}` }),
        ]))),
      ]);
    };
  },
});
