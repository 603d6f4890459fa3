// A Chart.js chart as a component: made when mounted, redrawn when its data changes,
// destroyed when it goes. Chart.js draws on a canvas and sets only CSSOM styles, which the
// Content-Security-Policy allows.
import { h, defineComponent, onMounted, onBeforeUnmount, watch, markRaw } from "./vendor.js";
import { Chart } from "./vendor.js";

export const ChartCanvas = defineComponent({
  props: { config: Object, label: String, testid: String },
  setup(props) {
    let canvas = null;
    let chart = null;
    const draw = () => {
      if (!canvas) return;
      chart?.destroy();
      chart = markRaw(new Chart(canvas, { ...props.config,
        options: { responsive: true, maintainAspectRatio: false, animation: false, ...(props.config.options || {}) } }));
    };
    onMounted(draw);
    watch(() => props.config, draw);
    onBeforeUnmount(() => chart?.destroy());
    return () => h("div", { class: "chart-box", "data-testid": props.testid }, [
      h("h3", props.label),
      h("canvas", { ref: (element) => { canvas = element; }, role: "img", "aria-label": props.label }),
    ]);
  },
});
