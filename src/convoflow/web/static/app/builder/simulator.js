// The simulator: the current draft run as a test customer, without WhatsApp, on the same
// engine path as `convoflow chat`. The step it is at is highlighted on the canvas.
import { h, defineComponent, reactive, onMounted, onBeforeUnmount, nextTick } from "../vendor.js";
import * as api from "../api.js";
import { button, errorBox, selectInput } from "../ui.js";
import { WhatsAppMessage } from "../chat/whatsapp-message.js";

export const SimulatorPanel = defineComponent({
  props: { context: Object },
  setup(props) {
    const state = reactive({ id: null, items: [], finished: false, error: null, busy: false,
      text: "", userType: "", userTypes: [], unavailable: false });
    const context = props.context;
    let log = null;

    function take(answer, mine) {
      if (mine) state.items.push({ mine: true, message: mine });
      for (const message of answer.messages || []) state.items.push({ mine: false, message });
      state.finished = Boolean(answer.finished);
      context.simulator.step = state.finished ? null : answer.step ?? answer.current_step ?? null;
      nextTick(() => { if (log) log.scrollTop = log.scrollHeight; });
    }

    async function start() {
      state.busy = true;
      state.error = null;
      try {
        await stop();
        const saved = await context.save({ quiet: true });
        if (!saved) { state.error = { message: "Fix the flow's problems first: the simulator runs the saved draft." }; return; }
        state.items = [];
        const answer = await api.post("/api/simulator/sessions", {
          template_id: context.flow.templateId, use_draft: true, user_type: state.userType || null });
        state.id = answer.id;
        take(answer);
      } catch (error) {
        if (api.missingEndpoint(error)) state.unavailable = true;
        state.error = error;
      } finally {
        state.busy = false;
      }
    }

    async function send(body, shown) {
      if (!state.id || state.finished) return;
      state.busy = true;
      state.error = null;
      try {
        const answer = await api.post(`/api/simulator/sessions/${state.id}/messages`, body);
        take(answer, shown);
      } catch (error) {
        state.error = error;
      } finally {
        state.busy = false;
      }
    }

    async function stop() {
      if (!state.id) return;
      const id = state.id;
      state.id = null;
      context.simulator.step = null;
      try { await api.del(`/api/simulator/sessions/${id}`); } catch { /* gone already */ }
    }

    onMounted(async () => {
      try { state.userTypes = (await api.get(`/api/user-types${api.query({ limit: 200 })}`)).items; } catch { /* optional */ }
    });
    onBeforeUnmount(stop);

    const submit = (event) => {
      event.preventDefault();
      const text = state.text.trim();
      if (!text) return;
      state.text = "";
      send({ text }, { type: "text", text: { body: text } });
    };

    return () => h("section", { class: "simulator", "aria-label": "Simulator" }, [
      h("div", { class: "sim-head" }, [
        h("h2", "Simulator"),
        selectInput({ id: "sim-user-type", label: "Test customer's user type", value: state.userType,
          options: [["", "Any (no user type)"], ...state.userTypes.map((type) => [type.name, type.name])],
          onChange: (value) => { state.userType = value; } }),
        button(state.id ? "Reset" : "Start", start, { kind: "primary", disabled: state.busy, testid: "sim-start" }),
      ]),
      state.unavailable ? h("p", { class: "muted" }, "This server has no simulator API yet.") : errorBox(state.error),
      h("div", { class: "phone" }, [
        h("div", { class: "chat-log", ref: (element) => { log = element; }, "aria-live": "polite", "data-testid": "sim-log" },
          state.items.map((item, index) => h(WhatsAppMessage, { key: index, item: item.message, outgoing: item.mine,
            onReply: item.mine || state.finished ? undefined : (id, title) => send({ reply_id: id },
              { type: "interactive", interactive: { type: "button_reply", button_reply: { id, title } } }) }))),
        state.finished ? h("p", { class: "sim-finished", role: "status", "data-testid": "sim-finished" }, "The flow has ended.") : null,
        h("form", { class: "composer", onSubmit: submit }, [
          h("label", { for: "sim-text", class: "visually-hidden" }, "Message"),
          h("input", { id: "sim-text", value: state.text, placeholder: state.id ? "Type a message" : "Start the simulator first",
            disabled: !state.id || state.finished, onInput: (event) => { state.text = event.target.value; } }),
          button("Send", undefined, { type: "submit", disabled: !state.id || state.finished || state.busy }),
        ]),
      ]),
    ]);
  },
});
