// Analytics of one template over a date range: runs, completion over time, the step
// funnel, message volume by delivery status with the top error codes, response time and
// LLM use. Every table exports as CSV.
import { h, defineComponent, reactive, onMounted } from "../vendor.js";
import * as api from "../api.js";
import { route, href } from "../router.js";
import { dataTable, errorBox, selectInput, textInput } from "../ui.js";
import { ChartCanvas } from "../chart.js";
import { templateAnalytics } from "./analytics-data.js";

const day = (date) => date.toISOString().slice(0, 10);

export const AnalyticsPage = defineComponent({
  setup() {
    const today = new Date();
    const state = reactive({ templates: [], templateId: route.params[0] || "", from: day(new Date(today.getTime() - 29 * 86400000)),
      to: day(today), data: null, error: null, loading: false });

    async function load() {
      if (!state.templateId) return;
      state.loading = true;
      state.error = null;
      try { state.data = await templateAnalytics(state.templateId, state.from, state.to); }
      catch (error) { state.error = error; state.data = null; }
      finally { state.loading = false; }
    }

    onMounted(async () => {
      try {
        const page = await api.get(`/api/workflow-templates${api.query({ limit: 200, sort: "name", order: "asc" })}`);
        state.templates = page.items;
        if (!state.templateId && page.items.length) state.templateId = page.items[0].id;
        // A version id from a link: show its family under the latest version's id.
        const match = page.items.find((item) => item.id === state.templateId || item.family_id === state.templateId);
        if (!match && state.templateId) {
          try {
            const template = await api.get(`/api/workflow-templates/${state.templateId}`);
            state.templates = [template, ...state.templates];
          } catch (error) { state.error = error; }
        }
      } catch (error) {
        state.error = error;
      }
      await load();
    });

    const set = (name) => (value) => { state[name] = value; load(); };

    function body() {
      const data = state.data;
      if (!data) return state.loading ? h("p", { class: "muted" }, "Loading…") : null;
      const runs = data.runs;
      const rate = runs.started ? Math.round((runs.completed / runs.started) * 1000) / 10 : 0;
      const funnelRows = data.funnel.steps.map((step) => ({ step: step.step, visits: step.visits, dropped: step.dropped }));
      const edgeRows = data.funnel.edges.map((edge) => ({ from: edge.from, to: edge.to, count: edge.count }));
      const statusRows = Object.entries(data.messages.byStatus).map(([status, count]) => ({ status, count }));
      const llm = data.llm;
      return [
        data.source === "stats" ? h("p", { class: "muted" }, "This server reports totals only (no date range, edges or message volume).") : null,
        h("div", { class: "kpis" }, [
          kpi("Runs started", runs.started, "kpi-started"), kpi("Completed", runs.completed, "kpi-completed"),
          kpi("Failed", runs.failed, "kpi-failed"), kpi("Cancelled", runs.cancelled, "kpi-cancelled"),
          kpi("Completion rate", `${rate}%`, "kpi-rate"),
          kpi("Avg response", data.avgResponseSeconds === null ? "—" : `${Number(data.avgResponseSeconds).toFixed(1)} s`, "kpi-response"),
          llm ? kpi("LLM tokens", llm.tokens ?? llm.total_tokens ?? 0, "kpi-tokens") : null,
          llm ? kpi("LLM cost", llm.cost ?? llm.total_cost ?? 0, "kpi-cost") : null,
        ]),
        h("div", { class: "charts" }, [
          h(ChartCanvas, { label: "Completion rate by day", testid: "chart-completion", config: {
            type: "line",
            data: { labels: data.completionByDay.map((item) => item.day),
              datasets: [{ label: "completion rate (%)", data: data.completionByDay.map((item) => Math.round(item.rate * 1000) / 10),
                borderColor: "#0b7a5a", backgroundColor: "#0b7a5a" }] },
            options: { scales: { y: { min: 0, max: 100 } } } } }),
          h(ChartCanvas, { label: "Step funnel", testid: "chart-funnel", config: {
            type: "bar",
            data: { labels: funnelRows.map((row) => row.step),
              datasets: [{ label: "visits", data: funnelRows.map((row) => row.visits), backgroundColor: "#2e90fa" },
                { label: "dropped off", data: funnelRows.map((row) => row.dropped), backgroundColor: "#f04438" }] },
            options: { indexAxis: "y" } } }),
        ]),
        h("p", [h("a", { href: href("builder", state.templateId) }, "Open in the builder"), " — its “Funnel overlay” shows these visits on the canvas."]),
        dataTable({ caption: "Runs", columns: ["status", "count"], filename: "runs.csv", testid: "table-runs",
          rows: Object.entries(runs).map(([status, count]) => ({ status, count })) }),
        dataTable({ caption: "Step funnel", columns: ["step", "visits", "dropped"], rows: funnelRows,
          filename: "funnel-steps.csv", testid: "table-funnel" }),
        edgeRows.length ? dataTable({ caption: "Transitions", columns: ["from", "to", "count"], rows: edgeRows,
          filename: "funnel-edges.csv", testid: "table-edges" }) : null,
        data.completionByDay.length ? dataTable({ caption: "Completion by day", columns: ["day", "started", "completed", "rate"],
          rows: data.completionByDay, filename: "completion-by-day.csv" }) : null,
        statusRows.length ? dataTable({ caption: "Messages by delivery status", columns: ["status", "count"], rows: statusRows,
          filename: "messages-by-status.csv", testid: "table-messages" }) : null,
        data.messages.topErrors.length ? dataTable({ caption: "Top error codes", columns: ["code", "count", "text"],
          rows: data.messages.topErrors, filename: "error-codes.csv" }) : null,
        llm ? dataTable({ caption: "LLM use", columns: Object.keys(llm), rows: [llm], filename: "llm.csv" }) : null,
      ];
    }

    return () => h("section", { class: "page analytics" }, [
      h("div", { class: "page-head" }, [h("h1", "Analytics")]),
      h("form", { class: "filters", onSubmit: (event) => event.preventDefault() }, [
        selectInput({ id: "analytics-template", label: "Template", value: state.templateId,
          options: state.templates.map((item) => [item.id, `${item.template_name} (v${item.version})`]),
          onChange: set("templateId") }),
        textInput({ id: "analytics-from", label: "From", type: "date", value: state.from, onInput: set("from") }),
        textInput({ id: "analytics-to", label: "To", type: "date", value: state.to, onInput: set("to") }),
      ]),
      errorBox(state.error),
      body(),
    ]);
  },
});

function kpi(label, value, testid) {
  return h("div", { class: "kpi", "data-testid": testid }, [h("span", { class: "muted" }, label), h("strong", String(value))]);
}
