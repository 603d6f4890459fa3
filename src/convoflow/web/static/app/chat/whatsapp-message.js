// A WhatsApp message as the phone shows it: text, reply buttons, a list that opens a
// sheet of rows, media (as a card: the app loads nothing from other sites), templates.
import { h, defineComponent, reactive } from "../vendor.js";

/** The Graph API message object inside whatever carries it. */
export function messageObject(item) {
  const inner = item.payload || item.message || item;
  return inner.payload && inner.payload.type ? inner.payload : inner;
}

function textOf(object) {
  if (!object) return null;
  return typeof object === "string" ? object : object.text || object.body || null;
}

function media(object) {
  const kind = object.type;
  const content = object[kind] || {};
  const icon = { image: "🖼", video: "🎬", audio: "🔊", document: "📄", sticker: "🏷" }[kind] || "📎";
  return h("div", { class: "media" }, [
    h("div", { class: "media-card", role: "img", "aria-label": `${kind}: ${content.filename || content.link || content.id || ""}` }, [
      h("span", { class: "media-icon" }, icon),
      h("span", content.filename || content.link || content.id || kind),
    ]),
    content.caption ? h("p", content.caption) : null,
  ]);
}

function templateBody(object) {
  const template = object.template || {};
  const parameters = (template.components || []).flatMap((component) => component.parameters || [])
    .map((parameter) => parameter.text ?? parameter.type);
  return h("div", { class: "template-message" }, [
    h("p", { class: "muted" }, `Template ${template.name || ""} (${template.language?.code || template.language || ""})`),
    parameters.length ? h("p", parameters.join(" · ")) : null,
  ]);
}

/** One bubble. `onReply(id, title)` is called when a button or row is chosen. */
export const WhatsAppMessage = defineComponent({
  props: { item: Object, outgoing: Boolean, onReply: Function, ticks: String },
  setup(props) {
    const local = reactive({ sheet: false });
    return () => {
      const object = messageObject(props.item);
      const type = object.type;
      const parts = [];
      if (type === "text" || (!type && object.text)) parts.push(h("p", { class: "text" }, textOf(object.text)));
      else if (type === "interactive") {
        const interactive = object.interactive || {};
        if (interactive.header) parts.push(h("p", { class: "header" }, textOf(interactive.header)));
        parts.push(h("p", { class: "text" }, textOf(interactive.body)));
        if (interactive.footer) parts.push(h("p", { class: "footer" }, textOf(interactive.footer)));
        const action = interactive.action || {};
        if (interactive.type === "button") {
          parts.push(h("div", { class: "reply-buttons" }, (action.buttons || []).map((button) => {
            const reply = button.reply || button;
            return h("button", { type: "button", class: "reply", disabled: !props.onReply,
              onClick: () => props.onReply?.(reply.id, reply.title) }, reply.title);
          })));
        } else if (interactive.type === "list") {
          parts.push(h("button", { type: "button", class: "reply list-open", disabled: !props.onReply,
            "aria-expanded": local.sheet ? "true" : "false",
            onClick: () => { local.sheet = !local.sheet; } }, `☰ ${action.button || "Options"}`));
          if (local.sheet) {
            parts.push(h("div", { class: "list-sheet", role: "listbox", "aria-label": action.button || "Options" },
              (action.sections || []).map((section) => h("div", { class: "section" }, [
                section.title ? h("p", { class: "section-title" }, section.title) : null,
                (section.rows || []).map((row) => h("button", { type: "button", class: "row", role: "option",
                  onClick: () => { local.sheet = false; props.onReply?.(row.id, row.title); } }, [
                  h("span", row.title), row.description ? h("small", row.description) : null,
                ])),
              ]))));
          }
        } else if (interactive.type === "button_reply" || interactive.button_reply) {
          parts.push(h("p", { class: "text" }, (interactive.button_reply || {}).title));
        } else if (interactive.list_reply) {
          parts.push(h("p", { class: "text" }, interactive.list_reply.title));
        }
      } else if (["image", "video", "audio", "document", "sticker"].includes(type)) parts.push(media(object));
      else if (type === "template") parts.push(templateBody(object));
      else if (type === "button") parts.push(h("p", { class: "text" }, object.button?.text));
      else parts.push(h("p", { class: "text muted" }, `(${type || "message"})`));
      return h("div", { class: ["bubble", props.outgoing ? "out" : "in"], "data-testid": "bubble" }, [
        ...parts,
        props.ticks ? h("span", { class: ["ticks", props.ticks], "aria-label": props.ticks }, TICKS[props.ticks] || "") : null,
      ]);
    };
  },
});

const TICKS = { queued: "🕓", sending: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠" };
