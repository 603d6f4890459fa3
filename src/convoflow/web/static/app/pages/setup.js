// First run: set admin's password with the one-time token `convoflow serve` printed.
import { h, defineComponent, reactive, onMounted } from "../vendor.js";
import * as api from "../api.js";
import { button, errorBox, textInput } from "../ui.js";

export const SetupPage = defineComponent({
  setup() {
    const token = new URLSearchParams(window.location.search).get("token") || "";
    const form = reactive({ password: "", repeat: "", error: null, busy: false, done: false,
      needed: null, mismatch: null });

    onMounted(async () => {
      try { form.needed = (await api.get("/api/auth/setup", { quiet401: true })).needed; }
      catch (error) { form.error = error; }
    });

    async function submit(event) {
      event.preventDefault();
      form.mismatch = form.password === form.repeat ? null : "The two passwords differ.";
      if (form.mismatch) return;
      form.busy = true;
      form.error = null;
      try {
        await api.post("/api/auth/setup", { token, password: form.password }, { quiet401: true });
        form.done = true;
        // Setting the password signed admin in (the session cookie): open the app.
        window.location.assign("/#/templates");
      } catch (error) {
        form.error = error;
      } finally {
        form.busy = false;
      }
    }

    return () => h("div", { class: "signin" }, h("form", { class: "card", onSubmit: submit,
      "aria-label": "First-run setup" }, [
      h("h1", "Welcome to convoflow"),
      form.done || form.needed === false
        ? [h("p", { role: "status" }, form.done ? "admin's password is set."
          : "Setup is done already."), h("a", { class: "btn primary", href: "/#/signin" }, "Sign in")]
        : [
          h("p", "Choose the password of the user admin."),
          textInput({ id: "setup-password", label: "New password", type: "password",
            autocomplete: "new-password", value: form.password, required: true,
            error: form.error?.about?.("password"), onInput: (v) => { form.password = v; } }),
          textInput({ id: "setup-repeat", label: "Repeat the password", type: "password",
            autocomplete: "new-password", value: form.repeat, required: true, error: form.mismatch,
            onInput: (v) => { form.repeat = v; } }),
          errorBox(form.error, { only: (detail) => detail.field !== "password" }),
          button(form.busy ? "Saving…" : "Set the password", undefined, { kind: "primary",
            type: "submit", disabled: form.busy || !token }),
          token ? null : h("p", { class: "error" }, "This address has no setup token: use the one `convoflow serve` printed."),
        ],
    ]));
  },
});
