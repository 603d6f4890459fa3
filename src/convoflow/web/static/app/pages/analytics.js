import { h, defineComponent } from "../vendor.js";
export const AnalyticsPage = defineComponent({ setup() { return () => h("section", h("h1", "Analytics")); } });
