// Version history: every version with its changelog, the difference to the one before
// (or to what is being edited), and restoring an old version.
import { h, defineComponent, reactive, onMounted } from "../vendor.js";
import { button, errorBox, formatDate } from "../ui.js";
import { documentOf } from "./flow.js";
import { templateDiff } from "./diff.js";
import * as server from "./server.js";

export const VersionsPanel = defineComponent({
  props: { context: Object },
  setup(props) {
    const state = reactive({ versions: [], open: null, changes: null, summary: null, against: "previous",
      error: null, busy: false });
    const flow = props.context.flow;

    async function load() {
      if (!flow.templateId) return;
      try { state.versions = await server.versions(flow.templateId); } catch (error) { state.error = error; }
    }

    async function show(version, against = state.against) {
      state.open = version.id;
      state.against = against;
      state.changes = null;
      state.summary = null;
      state.error = null;
      try {
        if (against === "previous") {
          const fromServer = await server.serverDiff(flow.templateId, version);
          if (fromServer) { state.changes = fromServer.changes; state.summary = fromServer.summary; return; }
        }
        const chosen = await server.versionTemplate(version.id);
        let older;
        let newer;
        if (against === "current") {
          older = chosen;
          newer = documentOf(flow);
        } else {
          const index = state.versions.findIndex((item) => item.id === version.id);
          const previous = state.versions[index + 1];
          older = previous ? await server.versionTemplate(previous.id) : { menu_structure: { steps: [] } };
          newer = chosen;
        }
        state.changes = templateDiff(older, newer);
      } catch (error) {
        state.error = error;
      }
    }

    async function restore(version) {
      state.busy = true;
      state.error = null;
      try {
        const old = await server.versionTemplate(version.id);
        const { template_name: _name, ...document } = documentOf({ ...flow, meta: { ...flow.meta } });
        const restored = await server.restore(flow.templateId, version, { ...document, ...pickDocument(old) });
        await props.context.reload(restored?.id || flow.templateId);
        await load();
      } catch (error) {
        state.error = error;
      } finally {
        state.busy = false;
      }
    }

    onMounted(load);
    props.context.reloadVersions = load;

    return () => h("section", { class: "versions-panel", "aria-label": "Version history" }, [
      h("h2", "Versions"),
      !flow.templateId ? h("p", { class: "muted" }, "Not saved yet.") : null,
      errorBox(state.error),
      h("ol", { class: "versions" }, state.versions.map((version) => h("li", { key: version.id,
        class: { open: state.open === version.id }, "data-testid": "version" }, [
        h("div", { class: "version-head" }, [
          h("strong", `v${version.version}`),
          version.is_latest ? h("span", { class: "tag" }, "latest") : null,
          h("span", { class: "muted" }, formatDate(version.created_at)),
        ]),
        h("p", version.changelog || h("span", { class: "muted" }, "no changelog")),
        h("div", { class: "buttons" }, [
          button("Changes", () => show(version, "previous"), { kind: "small" }),
          button("Compare with the editor", () => show(version, "current"), { kind: "small" }),
          !version.is_latest ? button(`Restore v${version.version}`, () => restore(version), { kind: "small", disabled: state.busy }) : null,
        ]),
        state.open === version.id && state.summary ? h("p", { class: "muted" }, state.summary) : null,
        state.open === version.id && state.changes ? h("ul", { class: "diff", "data-testid": "diff" },
          state.changes.length ? state.changes.map((change) => h("li", { class: `diff-${change.kind}` }, [
            h("strong", `${{ field: "~", added: "+", removed: "−", changed: "~" }[change.kind]} ${change.name}`),
            h("ul", change.lines.map((line) => h("li", line))),
          ])) : h("li", { class: "muted" }, "No differences.")) : null,
      ]))),
    ]);
  },
});

function pickDocument(template) {
  const { menu_structure, state_schema, trigger_keywords, guidelines, workflow_dependencies,
    end_action_type, end_action_target, default_params, description, tags } = template;
  return { menu_structure, state_schema, trigger_keywords, guidelines, workflow_dependencies,
    end_action_type, end_action_target, default_params, description, tags };
}
