// Start the app: find out who is signed in, then show the page the address names.
import { Vue, h } from "./vendor.js";
import { Shell } from "./shell.js";
import { restore } from "./session.js";

restore();
Vue.createApp({ render: () => h(Shell) }).mount("#app");
