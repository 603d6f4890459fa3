// Settings: users (admins), your password, your API keys, WhatsApp numbers, user types,
// and contacts with their user types. Each section uses only the REST API.
import { h, defineComponent, reactive, onMounted } from "../vendor.js";
import * as api from "../api.js";
import { session } from "../session.js";
import { button, errorBox, formatDate, selectInput, textInput } from "../ui.js";
import { ListSection } from "./settings-parts.js";

const TIERS = ["", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"].map((tier) => [tier, tier || "—"]);

const PasswordSection = defineComponent({
  setup() {
    const state = reactive({ current: "", password: "", error: null, done: false });
    async function submit(event) {
      event.preventDefault();
      state.error = null;
      state.done = false;
      try {
        await api.put(`/api/users/${session.user.id}/password`, { password: state.password,
          current_password: state.current || undefined });
        state.done = true;
        state.current = "";
        state.password = "";
      } catch (error) {
        state.error = api.missingEndpoint(error) ? { message: "This server has no password sign-in yet." } : error;
      }
    }
    return () => h("section", { "aria-label": "Your password" }, [
      h("h2", "Your password"),
      h("form", { class: "inline-form", onSubmit: submit }, [
        textInput({ id: "password-current", label: "Current password", type: "password", value: state.current,
          autocomplete: "current-password", error: state.error?.about?.("current_password"), onInput: (v) => { state.current = v; } }),
        textInput({ id: "password-new", label: "New password", type: "password", value: state.password, required: true,
          autocomplete: "new-password", error: state.error?.about?.("password"), onInput: (v) => { state.password = v; } }),
        button("Change", undefined, { type: "submit", kind: "primary" }),
      ]),
      errorBox(state.error, { only: (detail) => !["password", "current_password"].includes(detail.field) }),
      state.done ? h("p", { class: "notice", role: "status" }, "Password changed.") : null,
    ]);
  },
});

const ContactsSection = defineComponent({
  setup() {
    const state = reactive({ q: "", items: [], types: [], error: null, rowError: {} });
    async function load() {
      try {
        const [contacts, types] = await Promise.all([
          api.get(`/api/contacts${api.query({ q: state.q, limit: 100 })}`),
          api.get(`/api/user-types${api.query({ limit: 200 })}`),
        ]);
        state.items = contacts.items;
        state.types = types.items;
      } catch (error) { state.error = error; }
    }
    async function setType(contact, userTypeId) {
      state.rowError = { ...state.rowError, [contact.id]: null };
      try {
        await api.patch(`/api/contacts/${encodeURIComponent(contact.customer_key)}`, { user_type_id: userTypeId || null });
        await load();
      } catch (error) { state.rowError = { ...state.rowError, [contact.id]: error }; }
    }
    onMounted(load);
    return () => h("section", { "aria-label": "Contacts", "data-testid": "contacts" }, [
      h("h2", "Contacts"),
      textInput({ id: "contacts-q", label: "Search contacts", type: "search", value: state.q, onInput: (v) => { state.q = v; load(); } }),
      errorBox(state.error),
      h("table", { class: "list" }, [
        h("thead", h("tr", ["Customer", "Name", "Last seen", "User type"].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", state.items.length ? state.items.map((contact) => h("tr", { key: contact.id }, [
          h("td", contact.customer_key), h("td", contact.name), h("td", formatDate(contact.last_seen_at)),
          h("td", [selectInput({ id: `contact-type-${contact.id}`, label: `User type of ${contact.customer_key}`,
            value: contact.user_type_id || "", className: "compact",
            options: [["", "None"], ...state.types.map((type) => [type.id, type.name])],
            onChange: (value) => setType(contact, value) }), errorBox(state.rowError[contact.id])]),
        ])) : h("tr", h("td", { colspan: 4, class: "empty" }, "No contacts yet."))),
      ]),
    ]);
  },
});

export const SettingsPage = defineComponent({
  setup() {
    const revoke = (path, label) => (item, run) => [
      item.revoked ? h("span", { class: "muted" }, "revoked")
        : button(label, () => run(() => api.del(`${path}/${item.id}`)), { kind: "small danger" }),
    ];
    return () => h("section", { class: "page settings" }, [
      h("div", { class: "page-head" }, h("h1", "Settings")),
      h("div", { class: "settings-grid" }, [
        h(ListSection, { title: "API keys", testid: "keys", path: "/api/keys",
          note: "For integrations. A new key is shown once.",
          columns: [["Label", (key) => key.label || "—"], ["Prefix", (key) => key.prefix], ["Created", (key) => formatDate(key.created_at)],
            ["Last used", (key) => formatDate(key.last_used_at)]],
          fields: [{ name: "label", label: "Label" }],
          create: (body) => api.post("/api/keys", body),
          afterCreate: (key) => h("p", { class: "secret", role: "status", "data-testid": "new-key" }, [`New key (copy it now): `, h("code", key.key)]),
          actions: revoke("/api/keys", "Revoke") }),
        h(PasswordSection),
        session.user.isAdmin ? h(ListSection, { title: "Users", testid: "users", path: "/api/users",
          columns: [["Name", (user) => user.name], ["Admin", (user) => (user.is_admin ? "yes" : "")],
            ["Password", (user) => (user.has_password ? "set" : "API keys only")], ["Created", (user) => formatDate(user.created_at)]],
          fields: [{ name: "name", label: "User name", required: true }, { name: "password", label: "Password", type: "password", required: true, hint: "At least 8 characters." },
            { name: "is_admin", label: "Admin", type: "checkbox" }],
          create: (body) => api.post("/api/users", body) }) : null,
        h(ListSection, { title: "WhatsApp numbers", testid: "numbers", path: "/api/phone-numbers",
          columns: [["Number", (n) => n.display_phone_number || n.phone_number_id], ["Phone number ID", (n) => n.phone_number_id],
            ["Tier", (n) => n.messaging_limit_tier || "—"], ["Token", (n) => n.access_token_kind || "none"]],
          fields: [{ name: "phone_number_id", label: "Phone number ID", required: true }, { name: "waba_id", label: "WABA id" },
            { name: "display_phone_number", label: "Display number" }, { name: "messaging_limit_tier", label: "Tier", type: "select", options: TIERS },
            { name: "access_token_env", label: "Token variable", hint: "The environment variable holding its access token." }],
          create: (body) => api.post("/api/phone-numbers", body),
          actions: (item, run) => [button("Remove", () => run(() => api.del(`/api/phone-numbers/${item.id}`)), { kind: "small danger" })] }),
        h(ListSection, { title: "User types", testid: "user-types", path: "/api/user-types",
          note: "Once a template is granted to user types (in the builder's Template tab), only customers of those types may start it.",
          columns: [["Name", (type) => type.name], ["Description", (type) => type.description]],
          fields: [{ name: "name", label: "Name", required: true }, { name: "description", label: "Description" }],
          create: (body) => api.post("/api/user-types", body),
          actions: (item, run) => [button("Delete", () => run(() => api.del(`/api/user-types/${item.id}`)), { kind: "small danger" })] }),
        h(ContactsSection),
      ]),
    ]);
  },
});
