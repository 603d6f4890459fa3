// Template analytics from the API, in one shape for the charts, tables and the builder's
// funnel overlay. A server without the analytics API answers from /api/stats instead
// (runs and the funnel, without dates, edges or message volume).
import * as api from "../api.js";

const pick = (object, ...names) => {
  for (const name of names) if (object && object[name] !== undefined) return object[name];
  return undefined;
};

function normaliseAnalytics(body) {
  const runs = body.runs || {};
  const funnel = body.funnel || {};
  const steps = (funnel.steps || []).map((step) => ({
    step: pick(step, "step", "step_id", "id"),
    visits: Number(pick(step, "visits", "count", "reached") ?? 0),
    dropped: Number(pick(step, "dropped", "drop_off", "dropped_off") ?? 0),
  }));
  const edges = (funnel.edges || []).map((edge) => ({
    from: pick(edge, "from", "from_step", "source"),
    to: pick(edge, "to", "to_step", "target"),
    count: Number(pick(edge, "count", "visits", "transitions") ?? 0),
  }));
  // Drop-off at a step: its visits that went nowhere (end steps have no way out to count).
  for (const step of steps) {
    if (step.dropped) continue;
    const outgoing = edges.filter((edge) => edge.from === step.step).reduce((sum, edge) => sum + edge.count, 0);
    step.dropped = outgoing ? Math.max(0, step.visits - outgoing) : 0;
  }
  const messages = body.messages || {};
  const byStatus = messages.by_status || messages.status || Object.fromEntries(
    Object.entries(messages).filter(([, value]) => typeof value === "number"));
  const topErrors = (messages.top_errors || messages.errors || []).map((item) => ({
    code: pick(item, "code", "error_code"), count: Number(pick(item, "count") ?? 0), text: pick(item, "text", "error_text", "message") }));
  return {
    source: "analytics",
    runs: { started: pick(runs, "started", "total") ?? 0, completed: runs.completed ?? 0,
      failed: runs.failed ?? 0, cancelled: runs.cancelled ?? 0 },
    completionByDay: (body.completion_by_day || []).map((day) => ({
      day: pick(day, "day", "date"), started: Number(pick(day, "started", "runs") ?? 0),
      completed: Number(day.completed ?? 0),
      rate: Number(pick(day, "rate", "completion_rate") ?? (day.started ? day.completed / day.started : 0)) })),
    funnel: { steps, edges },
    messages: { byStatus, topErrors },
    avgResponseSeconds: body.avg_response_seconds ?? null,
    llm: body.llm || null,
  };
}

function normaliseStats(body) {
  const byStatus = body.runs_by_status || {};
  return {
    source: "stats",
    runs: { started: body.runs ?? 0, completed: byStatus.completed ?? 0, failed: byStatus.failed ?? 0,
      cancelled: byStatus.cancelled ?? 0 },
    completionByDay: [],
    funnel: {
      steps: (body.funnel || []).map((step) => ({ step: step.step, visits: step.reached, dropped: step.dropped_off })),
      edges: [],
    },
    messages: { byStatus: {}, topErrors: [] },
    avgResponseSeconds: body.avg_response_time_ms ? body.avg_response_time_ms / 1000 : null,
    llm: null,
  };
}

/** Analytics of a template between two days (YYYY-MM-DD, inclusive). */
export async function templateAnalytics(id, from, to) {
  try {
    return normaliseAnalytics(await api.get(`/api/analytics/templates/${encodeURIComponent(id)}${api.query({ from, to })}`));
  } catch (error) {
    if (!api.missingEndpoint(error)) throw error;
    return normaliseStats(await api.get(`/api/stats/templates/${encodeURIComponent(id)}`));
  }
}

/** The CSV export URL of the analytics API (null on a server without it). */
export function csvUrl(id, from, to, table) {
  return `/api/analytics/templates/${encodeURIComponent(id)}/export${api.query({ from, to, table, format: "csv" })}`;
}

/** Visits per step and counts per edge ("from>to") for the builder's overlay. */
export async function funnelOverlay(id, days = 30) {
  const to = new Date();
  const from = new Date(to.getTime() - days * 86400000);
  const data = await templateAnalytics(id, from.toISOString().slice(0, 10), to.toISOString().slice(0, 10));
  return {
    visits: Object.fromEntries(data.funnel.steps.map((step) => [step.step, step.visits])),
    edges: Object.fromEntries(data.funnel.edges.map((edge) => [`${edge.from}>${edge.to}`, edge.count])),
  };
}
