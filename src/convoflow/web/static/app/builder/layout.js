// Auto-layout with dagre: steps left to right in the order the edges run (exits are on a
// node's right, its entry on the left).
import { dagre } from "../vendor.js";

const NODE_WIDTH = 240;
const NODE_HEIGHT = 110;

/** New positions {id: {x, y}} for the steps, given the edges [{source, target}]. */
export function autoLayout(steps, edges, sizes = {}) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const step of steps) {
    const size = sizes[step.id] || {};
    graph.setNode(step.id, { width: size.width || NODE_WIDTH, height: size.height || NODE_HEIGHT });
  }
  for (const edge of edges) {
    if (graph.hasNode(edge.source) && graph.hasNode(edge.target)) graph.setEdge(edge.source, edge.target);
  }
  dagre.layout(graph);
  const positions = {};
  for (const step of steps) {
    const node = graph.node(step.id);
    const size = sizes[step.id] || {};
    positions[step.id] = {
      x: Math.round(node.x - (size.width || NODE_WIDTH) / 2),
      y: Math.round(node.y - (size.height || NODE_HEIGHT) / 2),
    };
  }
  return positions;
}
