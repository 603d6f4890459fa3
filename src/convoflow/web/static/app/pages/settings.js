import { h, defineComponent } from "../vendor.js";
export const SettingsPage = defineComponent({ setup() { return () => h("section", h("h1", "Settings")); } });
