import { h, defineComponent } from "../vendor.js";
export const InboxPage = defineComponent({ setup() { return () => h("section", h("h1", "Inbox")); } });
