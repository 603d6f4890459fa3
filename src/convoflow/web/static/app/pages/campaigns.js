// Campaigns: the list with each campaign's status, and one campaign's funnel (targeted →
// sent → delivered → read → replied → opted out, failures by error code), its recipients
// page by page, and the pause / resume / cancel buttons. A campaign that is scheduled or
// sending is read again every few seconds, so the page can be watched.
import { h, defineComponent, reactive, onMounted, onBeforeUnmount } from "../vendor.js";
import * as api from "../api.js";
import { route, href } from "../router.js";
import { button, dataTable, errorBox, formatDate, selectInput } from "../ui.js";
import { ChartCanvas } from "../chart.js";

const PAGE_SIZE = 50;
const REFRESH_MS = 3000;
const LIVE = ["scheduled", "sending"];
const RECIPIENT_STATUSES = ["", "pending", "queued", "deferred", "sent", "delivered", "read", "replied",
  "skipped", "failed", "opted_out"];
const FUNNEL = [["targeted", "Targeted"], ["sent", "Sent"], ["delivered", "Delivered"], ["read", "Read"],
  ["replied", "Replied"], ["opted_out", "Opted out"]];
// What each button does, and the statuses it is offered in (the API's lifecycle).
const ACTIONS = [
  ["pause", "Pause", ["scheduled", "sending"], ""],
  ["resume", "Resume", ["paused"], "primary"],
  ["cancel", "Cancel campaign", ["draft", "scheduled", "sending", "paused"], "danger"],
];

function statusPill(status) {
  return h("span", { class: ["status-pill", `campaign-${status}`], "data-testid": "campaign-status" }, status);
}

export const CampaignsPage = defineComponent({
  setup() {
    return () => (route.params[0] ? h(CampaignView, { campaignId: route.params[0] }) : h(CampaignList));
  },
});

const CampaignList = defineComponent({
  setup() {
    const state = reactive({ items: [], total: 0, offset: 0, loading: true, error: null });

    async function load() {
      state.loading = true;
      try {
        const page = await api.get(`/api/campaigns${api.query({ limit: PAGE_SIZE, offset: state.offset })}`);
        state.items = page.items;
        state.total = page.total;
        state.error = null;
      } catch (error) { state.error = error; }
      finally { state.loading = false; }
    }
    onMounted(load);

    const row = (campaign) => h("tr", { "data-testid": `campaign-row-${campaign.id}` }, [
      h("td", h("a", { class: "name", href: href("campaigns", campaign.id) }, campaign.name)),
      h("td", statusPill(campaign.status)),
      h("td", `${campaign.template.name} (${campaign.template.language})`),
      h("td", { class: "num" }, String(campaign.audience.recipients ?? 0)),
      h("td", formatDate(campaign.start_at)),
      h("td", formatDate(campaign.created_at)),
    ]);

    return () => h("section", { class: "page campaigns" }, [
      h("div", { class: "page-head" }, [h("h1", "Campaigns")]),
      h("p", { class: "muted" }, "Create and schedule campaigns through the API or `convoflow campaigns`; watch and stop them here."),
      errorBox(state.error),
      h("table", { class: "list", "aria-busy": state.loading ? "true" : "false" }, [
        h("thead", h("tr", ["Name", "Status", "Template", "Recipients", "Starts", "Created"]
          .map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", state.items.length ? state.items.map(row)
          : h("tr", h("td", { colspan: 6, class: "empty" }, state.loading ? "Loading…" : "No campaigns yet."))),
      ]),
      h("div", { class: "pager" }, [
        h("span", state.total ? `${state.offset + 1}–${state.offset + state.items.length} of ${state.total}` : ""),
        button("Previous", () => { state.offset -= PAGE_SIZE; load(); }, { disabled: state.offset === 0 }),
        button("Next", () => { state.offset += PAGE_SIZE; load(); }, { disabled: state.offset + PAGE_SIZE >= state.total }),
      ]),
    ]);
  },
});

const CampaignView = defineComponent({
  props: { campaignId: { type: String, required: true } },
  setup(props) {
    const state = reactive({ campaign: null, recipients: [], total: 0, offset: 0, status: "",
      error: null, actionError: null, busy: false });
    let timer = null;
    const base = `/api/campaigns/${encodeURIComponent(props.campaignId)}`;

    async function loadCampaign() {
      state.campaign = await api.get(base);
    }
    async function loadRecipients() {
      const page = await api.get(`${base}/recipients${api.query({ limit: PAGE_SIZE, offset: state.offset, status: state.status })}`);
      state.recipients = page.items;
      state.total = page.total;
    }
    async function refresh() {
      try {
        await Promise.all([loadCampaign(), loadRecipients()]);
        state.error = null;
      } catch (error) { state.error = error; }
      schedule();
    }
    function schedule() {
      clearTimeout(timer);
      timer = state.campaign && LIVE.includes(state.campaign.status) ? setTimeout(refresh, REFRESH_MS) : null;
    }
    onMounted(refresh);
    onBeforeUnmount(() => clearTimeout(timer));

    async function act(action) {
      if (action === "cancel" && !window.confirm("Cancel this campaign? Nobody not yet sent will be sent.")) return;
      state.busy = true;
      state.actionError = null;
      try {
        await api.post(`${base}/${action}`);
        await refresh();
      } catch (error) { state.actionError = error; }
      finally { state.busy = false; }
    }

    const showRecipients = (status) => { state.status = status; state.offset = 0; refresh(); };

    function funnelView(funnel) {
      const steps = FUNNEL.map(([key, label]) => ({ step: label, count: funnel[key] ?? 0 }));
      const failures = Object.entries(funnel.failures).map(([code, count]) => ({ code, count }));
      const statuses = Object.entries(funnel.by_status).map(([status, count]) => ({ status, count }));
      return [
        h("div", { class: "kpis", "data-testid": "campaign-funnel" }, steps.map((item, index) =>
          h("div", { class: "kpi", "data-testid": `funnel-${FUNNEL[index][0]}` }, [
            h("span", { class: "muted" }, item.step), h("strong", String(item.count))]))),
        h(ChartCanvas, { label: "Funnel", testid: "chart-campaign-funnel", config: {
          type: "bar",
          data: { labels: steps.map((item) => item.step),
            datasets: [{ label: "recipients", data: steps.map((item) => item.count), backgroundColor: "#2e90fa" }] },
          options: { indexAxis: "y" } } }),
        dataTable({ caption: "Recipients by status", columns: ["status", "count"], rows: statuses,
          filename: "campaign-statuses.csv", testid: "table-campaign-statuses" }),
        dataTable({ caption: "Failures by error code", columns: ["code", "count"], rows: failures,
          filename: "campaign-failures.csv", testid: "table-campaign-failures" }),
      ];
    }

    function recipientsView() {
      const rows = state.recipients.map((recipient) => ({
        number: recipient.customer_key, status: recipient.status,
        queued: formatDate(recipient.queued_at), sent: formatDate(recipient.sent_at),
        delivered: formatDate(recipient.delivered_at), read: formatDate(recipient.read_at),
        replied: formatDate(recipient.replied_at),
        error: recipient.error_code ? `${recipient.error_code}: ${recipient.error_text || ""}` : recipient.error_text || "",
      }));
      return [
        h("form", { class: "filters", onSubmit: (event) => event.preventDefault() }, [
          selectInput({ id: "recipient-status", label: "Recipients with status", value: state.status,
            options: RECIPIENT_STATUSES.map((status) => [status, status || "any"]), onChange: showRecipients }),
        ]),
        dataTable({ caption: "Recipients", columns: ["number", "status", "queued", "sent", "delivered", "read", "replied", "error"],
          rows, filename: "campaign-recipients.csv", testid: "table-campaign-recipients" }),
        h("div", { class: "pager" }, [
          h("span", { "data-testid": "recipient-total" },
            state.total ? `${state.offset + 1}–${state.offset + state.recipients.length} of ${state.total}` : "No recipients."),
          button("Previous", () => { state.offset -= PAGE_SIZE; refresh(); }, { disabled: state.offset === 0 }),
          button("Next", () => { state.offset += PAGE_SIZE; refresh(); }, { disabled: state.offset + PAGE_SIZE >= state.total }),
        ]),
      ];
    }

    return () => {
      const campaign = state.campaign;
      if (!campaign) return h("section", { class: "page campaign" }, [errorBox(state.error), state.error ? null : h("p", { class: "muted" }, "Loading…")]);
      return h("section", { class: "page campaign" }, [
        h("p", h("a", { href: href("campaigns") }, "← All campaigns")),
        h("div", { class: "page-head" }, [
          h("h1", campaign.name), statusPill(campaign.status), h("div", { class: "spacer" }),
          ...ACTIONS.filter(([, , allowed]) => allowed.includes(campaign.status)).map(([action, text, , kind]) =>
            button(text, () => act(action), { kind, disabled: state.busy, testid: `campaign-${action}` })),
        ]),
        campaign.paused_reason ? h("p", { class: "notice", role: "status", "data-testid": "paused-reason" },
          `Paused: ${campaign.paused_reason}`) : null,
        errorBox(state.actionError),
        errorBox(state.error),
        h("p", { class: "muted" }, `Template ${campaign.template.name} (${campaign.template.language}) · up to ${campaign.max_mps} messages/s · `
          + `starts ${formatDate(campaign.start_at)}` + (campaign.window ? ` · daily window ${campaign.window.start}–${campaign.window.end} (${campaign.window.timezone})` : "")),
        campaign.funnel ? funnelView(campaign.funnel) : null,
        recipientsView(),
      ]);
    };
  },
});
