// Templates: search and filter, open in the builder, create, import, export, fork and rate.
import { h, defineComponent, reactive, onMounted } from "../vendor.js";
import * as api from "../api.js";
import { href, navigate } from "../router.js";
import { session } from "../session.js";
import { button, checkbox, errorBox, selectInput, textInput, download } from "../ui.js";
import { ImportDialog } from "./template-import.js";

const PAGE_SIZE = 50;
const WORKFLOW_TYPES = [["", "Any workflow type"], "plain", "tools", "rag", "full"];
const PUBLIC = [["", "Public or private"], ["true", "Public"], ["false", "Private"]];

/** The fields of a template a user writes (what export saves and import reads back). */
const DOCUMENT_FIELDS = ["template_name", "description", "template_type", "workflow_type",
  "category", "trigger_keywords", "menu_structure", "guidelines", "state_schema",
  "workflow_dependencies", "end_action_type", "end_action_target", "default_params",
  "session_ttl_seconds", "tags", "is_public"];

export function templateDocument(template) {
  return Object.fromEntries(DOCUMENT_FIELDS.filter((name) => template[name] !== undefined)
    .map((name) => [name, template[name]]));
}

function stars(template, rate) {
  return h("span", { class: "stars", role: "group", "aria-label": `Rate ${template.template_name}` },
    [1, 2, 3, 4, 5].map((n) => h("button", {
      type: "button", class: ["star", { on: n <= Math.round(template.rating) }],
      "aria-label": `${n} star${n > 1 ? "s" : ""}`, title: `Rate ${n}`,
      onClick: () => rate(template, n),
    }, "★")));
}

export const TemplatesPage = defineComponent({
  setup() {
    const filters = reactive({ q: "", category: "", workflow_type: "", is_public: "", tag: "", mine: false });
    const state = reactive({ items: [], total: 0, offset: 0, loading: false, error: null,
      rowErrors: {}, importing: false, notice: null });
    let searchTimer = null;

    async function load() {
      state.loading = true;
      state.error = null;
      try {
        const page = await api.get(`/api/workflow-templates${api.query({
          ...filters, mine: filters.mine || undefined, limit: PAGE_SIZE, offset: state.offset,
          sort: "created_at", order: "desc" })}`);
        state.items = page.items;
        state.total = page.total;
        performance.mark("templates-loaded");
      } catch (error) {
        state.error = error;
      } finally {
        state.loading = false;
      }
    }

    function refilter() {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { state.offset = 0; load(); }, 250);
    }
    const setFilter = (name) => (value) => { filters[name] = value; refilter(); };

    async function act(template, action) {
      state.rowErrors = { ...state.rowErrors, [template.id]: null };
      try { await action(); } catch (error) {
        state.rowErrors = { ...state.rowErrors, [template.id]: error };
      }
    }
    const rate = (template, rating) => act(template, async () => {
      const result = await api.post(`/api/workflow-templates/${template.id}/ratings`, { rating });
      Object.assign(template, { rating: result.rating, rating_count: result.rating_count });
      state.notice = `You rated ${template.template_name} ${rating} of 5.`;
    });
    const fork = (template) => act(template, async () => {
      const copy = await api.post(`/api/workflow-templates/${template.id}/fork`, {});
      navigate("builder", copy.id);
    });
    const exportOne = (template) => act(template, async () => {
      const full = await api.get(`/api/workflow-templates/${template.id}`);
      download(`${full.template_name}.json`, JSON.stringify(templateDocument(full), null, 2));
    });

    onMounted(load);

    const row = (template) => {
      const mine = template.owner_id === session.user.id;
      return h("tr", { key: template.id, "data-testid": "template-row" }, [
        h("td", [h("a", { href: href("builder", template.id), class: "name" }, template.template_name),
          template.description ? h("div", { class: "muted clip" }, template.description) : null,
          state.rowErrors[template.id] ? errorBox(state.rowErrors[template.id]) : null]),
        h("td", template.category),
        h("td", template.workflow_type),
        h("td", `v${template.version}`),
        h("td", template.is_builtin ? "built-in" : template.is_public ? "public" : "private"),
        h("td", h("span", { class: "tags" }, template.tags.map((tag) => h("span", { class: "tag" }, tag)))),
        h("td", { class: "num" }, [String(template.usage_count),
          h("div", { class: "muted" }, `${Math.round(template.success_rate * 100)}% done`)]),
        h("td", [stars(template, rate), h("div", { class: "muted" },
          `${template.rating.toFixed(1)} (${template.rating_count})`)]),
        h("td", { class: "actions" }, [
          h("a", { class: "btn small", href: href("builder", template.id) }, mine ? "Edit" : "Open"),
          button("Export", () => exportOne(template), { kind: "small" }),
          !mine ? button("Fork", () => fork(template), { kind: "small" }) : null,
          h("a", { class: "btn small", href: href("analytics", template.id) }, "Analytics"),
        ]),
      ]);
    };

    return () => h("section", { class: "templates" }, [
      h("div", { class: "page-head" }, [
        h("h1", "Templates"),
        h("div", { class: "spacer" }),
        button("Import…", () => { state.importing = true; }),
        h("a", { class: "btn primary", href: href("builder", "new") }, "New template"),
      ]),
      h("form", { class: "filters", role: "search", onSubmit: (event) => event.preventDefault() }, [
        textInput({ id: "filter-q", label: "Search", type: "search", value: filters.q,
          placeholder: "name or description", onInput: setFilter("q") }),
        textInput({ id: "filter-category", label: "Category", value: filters.category, onInput: setFilter("category") }),
        selectInput({ id: "filter-workflow-type", label: "Workflow type", value: filters.workflow_type,
          options: WORKFLOW_TYPES, onChange: setFilter("workflow_type") }),
        selectInput({ id: "filter-public", label: "Visibility", value: filters.is_public,
          options: PUBLIC, onChange: setFilter("is_public") }),
        textInput({ id: "filter-tag", label: "Tag", value: filters.tag, onInput: setFilter("tag") }),
        checkbox({ id: "filter-mine", label: "Only mine", checked: filters.mine, onChange: setFilter("mine") }),
      ]),
      errorBox(state.error),
      state.notice ? h("p", { class: "notice", role: "status" }, state.notice) : null,
      h("table", { class: "list", "aria-busy": state.loading ? "true" : "false" }, [
        h("thead", h("tr", ["Name", "Category", "Type", "Version", "Visibility", "Tags", "Usage",
          "Rating", ""].map((title) => h("th", { scope: "col" }, title)))),
        h("tbody", state.items.map(row)),
      ]),
      h("div", { class: "pager" }, [
        h("span", { "data-testid": "template-total" }, state.total
          ? `${state.offset + 1}–${state.offset + state.items.length} of ${state.total}` : state.loading ? "Loading…" : "No templates match."),
        button("Previous", () => { state.offset -= PAGE_SIZE; load(); }, { disabled: state.offset === 0 }),
        button("Next", () => { state.offset += PAGE_SIZE; load(); },
          { disabled: state.offset + PAGE_SIZE >= state.total }),
      ]),
      state.importing ? h(ImportDialog, { onClose: () => { state.importing = false; },
        onImported: (template) => navigate("builder", template.id) }) : null,
    ]);
  },
});
