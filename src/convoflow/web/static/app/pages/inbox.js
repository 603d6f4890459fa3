// The agent inbox: live conversations (filtered by template, step and status), a
// customer's message history with delivery ticks, answering a handed-off customer, and
// giving the conversation back to the bot. Updates arrive live.
import { h, defineComponent, reactive, onMounted, onBeforeUnmount, nextTick } from "../vendor.js";
import * as api from "../api.js";
import { route, navigate } from "../router.js";
import { button, errorBox, selectInput, textInput, formatDate } from "../ui.js";
import { WhatsAppMessage } from "../chat/whatsapp-message.js";
import { subscribe } from "../live.js";

const STATUSES = [["", "Any status"], ["handoff", "Handed off to a person"], ["active", "With the bot"],
  ["waiting", "Waiting for an outside call"]];

const statusOf = (conversation) => conversation.status || conversation.flow_status || conversation.context?.status || null;

export const InboxPage = defineComponent({
  setup() {
    const state = reactive({ flow: "", step: "", status: "", templates: [], items: [], total: 0, error: null,
      open: route.params[0] || null, messages: [], threadError: null, text: "", sendError: null, sending: false,
      released: null, messagesFromInbox: true });
    let log = null;
    let unsubscribe = null;
    let refreshTimer = null;

    async function loadList() {
      try {
        const page = await api.get(`/api/conversations${api.query({ flow: state.flow, step: state.step,
          status: state.status, limit: 100 })}`);
        state.items = state.status ? page.items.filter((item) => !statusOf(item) || statusOf(item) === state.status) : page.items;
        state.total = page.total;
        state.error = null;
      } catch (error) {
        state.error = error;
      }
    }

    async function loadThread() {
      if (!state.open) return;
      const customer = encodeURIComponent(state.open);
      try {
        let items;
        try {
          items = (await api.get(`/api/conversations/${customer}/messages${api.query({ limit: 200 })}`)).items;
        } catch (error) {
          if (!api.missingEndpoint(error)) throw error;
          items = (await api.get(`/api/messages${api.query({ phone: state.open, limit: 200 })}`)).items;
        }
        state.messages = [...items].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
        state.threadError = null;
        nextTick(() => { if (log) log.scrollTop = log.scrollHeight; });
      } catch (error) {
        state.threadError = error;
      }
    }

    function refreshSoon() {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => { loadList(); loadThread(); }, 200);
    }

    async function send(event) {
      event.preventDefault();
      const text = state.text.trim();
      if (!text) return;
      state.sending = true;
      state.sendError = null;
      try {
        await api.post(`/api/conversations/${encodeURIComponent(state.open)}/messages`, { text });
        state.text = "";
        await loadThread();
      } catch (error) {
        state.sendError = api.missingEndpoint(error)
          ? { message: "This server cannot send an agent's replies yet." } : error;
      } finally {
        state.sending = false;
      }
    }

    async function release() {
      state.threadError = null;
      try {
        const result = await api.post(`/api/conversations/${encodeURIComponent(state.open)}/release`, {});
        state.released = `Given back to the bot${result.current_step ? `: now at ${result.current_step}` : ""}.`;
        await loadList();
      } catch (error) {
        state.threadError = error;
      }
    }

    function openConversation(customer) {
      state.open = customer;
      state.messages = [];
      state.released = null;
      state.sendError = null;
      window.history.replaceState(null, "", `#/inbox/${encodeURIComponent(customer)}`);
      loadThread();
    }

    onMounted(async () => {
      try { state.templates = (await api.get(`/api/workflow-templates${api.query({ limit: 200, mine: true })}`)).items; } catch { /* filter stays free text */ }
      await loadList();
      await loadThread();
      unsubscribe = subscribe(refreshSoon);
    });
    onBeforeUnmount(() => { unsubscribe?.(); clearTimeout(refreshTimer); });

    const setFilter = (name) => (value) => { state[name] = value; loadList(); };
    const current = () => state.items.find((item) => item.phone_number === state.open);

    const list = () => h("div", { class: "conversations" }, [
      h("form", { class: "filters", onSubmit: (event) => event.preventDefault(), "aria-label": "Filter conversations" }, [
        selectInput({ id: "inbox-flow", label: "Template", value: state.flow,
          options: [["", "Any template"], ...state.templates.map((item) => [item.template_name, item.template_name])],
          onChange: setFilter("flow") }),
        textInput({ id: "inbox-step", label: "Step", value: state.step, onInput: setFilter("step") }),
        selectInput({ id: "inbox-status", label: "Status", value: state.status, options: STATUSES, onChange: setFilter("status") }),
      ]),
      errorBox(state.error),
      h("ul", { class: "conversation-list", "aria-label": "Conversations" }, state.items.length
        ? state.items.map((item) => h("li", { key: item.phone_number }, h("button", {
          type: "button", class: { active: item.phone_number === state.open }, "data-testid": "conversation",
          onClick: () => openConversation(item.phone_number) }, [
          h("strong", item.phone_number), " ",
          statusOf(item) ? h("span", { class: ["status-pill", statusOf(item)] }, statusOf(item)) : null,
          h("div", { class: "muted" }, `${item.conversation_flow} · ${item.current_step}`),
          h("div", { class: "muted" }, formatDate(item.last_interaction)),
        ])))
        : h("li", { class: "muted empty" }, "No live conversations.")),
    ]);

    const thread = () => {
      const conversation = current();
      return h("div", { class: "thread" }, state.open ? [
        h("div", { class: "thread-head" }, [
          button("← Back", () => { state.open = null; navigate("inbox"); }, { kind: "small back" }),
          h("h2", state.open),
          conversation ? h("span", { class: "muted" }, `${conversation.conversation_flow} · ${conversation.current_step}`) : null,
          h("div", { class: "spacer" }),
          button("Release to the bot", release, { kind: "small", testid: "release" }),
        ]),
        state.released ? h("p", { class: "notice", role: "status" }, state.released) : null,
        errorBox(state.threadError),
        h("div", { class: "chat-log", ref: (element) => { log = element; }, "aria-live": "polite", "data-testid": "thread" },
          state.messages.map((message) => h(WhatsAppMessage, { key: message.id, item: message,
            outgoing: message.direction === "out", ticks: message.direction === "out" ? message.status : undefined }))),
        h("form", { class: "composer", onSubmit: send }, [
          h("label", { for: "inbox-reply", class: "visually-hidden" }, "Reply"),
          h("input", { id: "inbox-reply", value: state.text, placeholder: "Reply as an agent",
            "aria-describedby": state.sendError ? "inbox-reply-error" : undefined,
            onInput: (event) => { state.text = event.target.value; } }),
          button(state.sending ? "Sending…" : "Send", undefined, { type: "submit", kind: "primary", disabled: state.sending }),
        ]),
        state.sendError ? h("p", { class: "error", id: "inbox-reply-error", role: "alert" }, state.sendError.message) : null,
      ] : h("p", { class: "muted empty-thread" }, "Pick a conversation."));
    };

    return () => h("section", { class: ["inbox", { "has-open": Boolean(state.open) }] }, [list(), thread()]);
  },
});
