// The canvas: Vue Flow showing one node per step and one edge per connected exit.
// Steps are the truth: nodes are rebuilt from them after every structural change, and what
// happens on the canvas (drag, connect, drop) is written back to the steps.
import { h, defineComponent, computed, markRaw, onMounted, watch, nextTick } from "../vendor.js";
import { VueFlowCore } from "../vendor.js";
import { exitsOf } from "./exits.js";
import { StepNode } from "./step-node.js";

const { VueFlow, useVueFlow, MarkerType } = VueFlowCore;
export const CANVAS_ID = "convoflow-builder";
export const STEP_MIME = "application/x-convoflow-step";
const NODE_TYPES = { step: markRaw(StepNode) };

/** The edges of the flow (with the analytics' counts as labels when shown). */
export function edgesOf(context) {
  const { flow, types, overlay } = context;
  const ids = new Set(flow.steps.map((step) => step.id));
  const edges = [];
  for (const step of flow.steps) {
    const type = types[step.type];
    if (!type) continue;
    for (const exit of exitsOf(step, type.schema)) {
      if (!exit.target || !ids.has(exit.target)) continue;
      const count = overlay?.edges?.[`${step.id}>${exit.target}`];
      edges.push({
        id: `${step.id}:${exit.handle}`,
        source: step.id, sourceHandle: exit.handle, target: exit.target, targetHandle: "in",
        class: `edge-${exit.kind}`,
        markerEnd: MarkerType.ArrowClosed,
        label: count !== undefined ? String(count) : undefined,
        data: { path: exit.path },
      });
    }
  }
  return edges;
}

export const Canvas = defineComponent({
  props: { context: Object },
  setup(props) {
    const context = props.context;
    const flowApi = useVueFlow(CANVAS_ID);
    const edges = computed(() => edgesOf(context));

    function nodeOf(step, selected) {
      return { id: step.id, type: "step", position: { ...(step.position || { x: 0, y: 0 }) },
        data: { context }, selected: selected.has(step.id) };
    }

    /** Rebuild the nodes from the steps, keeping the selection (or selecting `select`). */
    function sync(select) {
      const selected = new Set(select || flowApi.getSelectedNodes.value.map((node) => node.id));
      flowApi.setNodes(context.flow.steps.map((step) => nodeOf(step, selected)));
      // Edges go in after their nodes: Vue Flow drops an edge whose node it does not know.
      flowApi.setEdges(edges.value);
    }
    watch(edges, (value) => flowApi.setEdges(value));

    context.canvas = {
      sync,
      selectedIds: () => flowApi.getSelectedNodes.value.map((node) => node.id),
      selectedEdges: () => flowApi.getSelectedEdges.value,
      fitView: () => flowApi.fitView({ padding: 0.15 }),
      zoomIn: () => flowApi.zoomIn(),
      zoomOut: () => flowApi.zoomOut(),
      center() {
        const { x, y, zoom } = flowApi.viewport.value;
        const box = document.querySelector(`#${CANVAS_ID}`)?.getBoundingClientRect();
        const width = box ? box.width : 800;
        const height = box ? box.height : 600;
        return { x: (width / 2 - x) / zoom - 110, y: (height / 2 - y) / zoom - 40 };
      },
      sizes() {
        return Object.fromEntries(flowApi.getNodes.value.map((node) => [node.id, node.dimensions]));
      },
      selectAll() { sync(context.flow.steps.map((step) => step.id)); },
    };

    onMounted(() => { sync([]); nextTick(() => setTimeout(() => context.canvas.fitView(), 50)); });
    watch(() => context.flow.steps.length, () => nextTick(() => context.onCanvasSelection?.()));

    function onDrop(event) {
      const type = event.dataTransfer?.getData(STEP_MIME);
      if (!type) return;
      event.preventDefault();
      const position = flowApi.screenToFlowCoordinate({ x: event.clientX, y: event.clientY });
      context.addStep(type, { x: Math.round(position.x), y: Math.round(position.y) });
    }

    return () => h("div", {
      class: "canvas",
      onDragover: (event) => { event.preventDefault(); if (event.dataTransfer) event.dataTransfer.dropEffect = "copy"; },
      onDrop,
    }, h(VueFlow, {
      id: CANVAS_ID,
      nodeTypes: NODE_TYPES,
      deleteKeyCode: null,
      minZoom: 0.05,
      maxZoom: 2.5,
      snapToGrid: true,
      snapGrid: [10, 10],
      elevateEdgesOnSelect: true,
      "aria-label": "Flow canvas",
      onConnect: (connection) => context.connect(connection.source, connection.sourceHandle, connection.target),
      onNodeDragStop: (event) => {
        for (const node of event.nodes) {
          const step = context.flow.steps.find((item) => item.id === node.id);
          if (step) step.position = { x: Math.round(node.position.x), y: Math.round(node.position.y) };
        }
        context.changed();
      },
      onSelectionChange: () => context.onCanvasSelection?.(),
      onNodeClick: () => context.onCanvasSelection?.(),
      onPaneClick: () => context.onCanvasSelection?.(),
    }));
  },
});
