// Sign in with a user name and password (the session cookie), or with an API key.
import { h, defineComponent, reactive } from "../vendor.js";
import { session, signIn, signInWithKey } from "../session.js";
import { button, errorBox, textInput } from "../ui.js";

export const SignInPage = defineComponent({
  setup() {
    const form = reactive({ username: "", password: "", key: "", withKey: !session.passwordSignIn,
      error: null, busy: false });

    async function submit(event) {
      event.preventDefault();
      form.busy = true;
      form.error = null;
      try {
        if (form.withKey) await signInWithKey(form.key.trim());
        else await signIn(form.username.trim(), form.password);
      } catch (error) {
        form.error = error.status === 401 ? { message: form.withKey
          ? "That API key is unknown or revoked." : "Wrong user name or password." } : error;
      } finally {
        form.busy = false;
      }
    }

    return () => h("div", { class: "signin" }, h("form", { class: "card", onSubmit: submit,
      "aria-label": "Sign in" }, [
      h("h1", "Sign in to convoflow"),
      session.expired ? h("p", { class: "notice", role: "status" },
        "Your session ended. Sign in again: unsaved flows are kept.") : null,
      form.withKey
        ? textInput({ id: "signin-key", label: "API key", value: form.key, type: "password",
          autocomplete: "off", onInput: (v) => { form.key = v; }, required: true })
        : [
          textInput({ id: "signin-username", label: "User name", value: form.username,
            autocomplete: "username", onInput: (v) => { form.username = v; }, required: true }),
          textInput({ id: "signin-password", label: "Password", type: "password", value: form.password,
            autocomplete: "current-password", onInput: (v) => { form.password = v; }, required: true }),
        ],
      errorBox(form.error),
      button(form.busy ? "Signing in…" : "Sign in", undefined, { kind: "primary", type: "submit",
        disabled: form.busy }),
      session.passwordSignIn ? h("p", { class: "alt" }, h("button", { type: "button", class: "link",
        onClick: () => { form.withKey = !form.withKey; form.error = null; } },
      form.withKey ? "Sign in with a password instead" : "Use an API key instead")) : null,
    ]));
  },
});
