// The step types to add: drag one onto the canvas, or press it to add it in the middle.
import { h } from "../vendor.js";
import { STEP_MIME } from "./canvas.js";

export function palette(types, onAdd) {
  return h("aside", { class: "palette", "aria-label": "Step types" }, [
    h("h2", "Steps"),
    h("ul", Object.values(types).map((type) => h("li", { key: type.type },
      h("button", {
        type: "button", class: `palette-item type-${type.type}`, draggable: "true",
        "data-step-type": type.type, title: type.description ? type.description.split("\n")[0] : type.title,
        onDragstart: (event) => { event.dataTransfer.setData(STEP_MIME, type.type); event.dataTransfer.effectAllowed = "copy"; },
        onClick: () => onAdd(type.type),
      }, type.title)))),
  ]);
}
