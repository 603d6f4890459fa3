// The builder: palette, canvas and side panels (step, template, versions, simulator),
// with saving, publishing, undo/redo, copy/paste and keyboard shortcuts.
import { h, defineComponent, reactive, markRaw, onMounted, onBeforeUnmount, nextTick } from "../vendor.js";
import * as api from "../api.js";
import { route, navigate } from "../router.js";
import { session } from "../session.js";
import { Dialog, button, errorBox, textInput } from "../ui.js";
import { Canvas, edgesOf } from "./canvas.js";
import { palette } from "./palette.js";
import { StepPanel } from "./step-panel.js";
import { TemplatePanel } from "./template-panel.js";
import { VersionsPanel } from "./versions-panel.js";
import { SimulatorPanel } from "./simulator.js";
import { loadStepTypes } from "./step-types.js";
import { createHistory } from "./history.js";
import { autoLayout } from "./layout.js";
import * as editing from "./editing.js";
import * as persist from "./persist.js";
import * as server from "./server.js";
import { createFlow, documentOf, loadInto, problemsFrom, restoreSnapshot, snapshotOf } from "./flow.js";
import { brokenLimits } from "./limits.js";
import { funnelOverlay } from "../pages/analytics-data.js";

const TABS = [["step", "Step"], ["template", "Template"], ["versions", "Versions"], ["simulator", "Simulate"]];
const SHORTCUTS = [["Ctrl+S", "save the draft"], ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo"],
  ["Ctrl+C / Ctrl+V", "copy / paste the selected steps"], ["Ctrl+D", "duplicate"], ["Ctrl+A", "select every step"],
  ["Delete", "delete the selected steps or connection"], ["Shift+L", "auto-layout"], ["Shift+drag", "select several"],
  ["+ / −", "zoom"], ["?", "this help"]];

export const BuilderPage = defineComponent({
  setup() {
    const requested = route.params[0] || "new";
    const flow = createFlow();
    const ui = reactive({ loading: true, error: null, saveError: null, status: "", tab: "template",
      selected: [], publishing: false, changelog: "", restoredLocal: false, help: false, overlay: false,
      readOnly: false, ready: false });
    const context = markRaw({
      flow, types: {}, variables: { common: [], byStep: {} }, canvas: null,
      overlay: reactive({ visits: null, edges: null }),
      simulator: reactive({ step: null }),
    });
    let history = null;
    let clipboard = null;
    let persistTimer = null;

    // -- changes -------------------------------------------------------------------
    function changed() {
      flow.dirty = true;
      history?.record();
      clearTimeout(persistTimer);
      persistTimer = setTimeout(() => persist.keepUnsaved(flow.templateId, snapshotOf(flow), flow.version), 300);
    }
    function structural(select) { changed(); nextTick(() => context.canvas?.sync(select)); }

    context.changed = changed;
    context.addStep = (type, position) => {
      const step = editing.addStep(flow, context.types, type, position);
      structural([step.id]);
      selectOnly(step.id);
    };
    context.connect = (source, handle, target) => {
      if (editing.connect(flow, context.types, source, handle, target)) changed();
    };
    context.renameStep = (oldId, newId) => {
      const error = editing.renameStep(flow, context.types, oldId, newId);
      if (!error) { for (const problem of flow.problems) if (problem.step === oldId) problem.step = newId; structural([newId]); ui.selected = [newId]; }
      return error;
    };
    context.deleteSteps = (ids) => { editing.deleteSteps(flow, context.types, ids); ui.selected = []; structural([]); };
    context.onCanvasSelection = () => {
      const ids = context.canvas?.selectedIds() || [];
      ui.selected = ids;
      if (ids.length === 1) ui.tab = "step";
    };
    context.save = (options) => save(options);
    context.reload = async (id) => { await open(id); navigate("builder", id); };

    function selectOnly(id) { ui.selected = [id]; ui.tab = "step"; }

    // -- loading -----------------------------------------------------------------------
    async function open(id) {
      ui.loading = true;
      ui.error = null;
      try {
        context.types = await loadStepTypes();
        if (id !== "new") {
          const { template, draft } = await server.loadTemplate(id);
          loadInto(flow, template, draft || template);
          ui.readOnly = template.owner_id !== session.user.id;
          context.variables = await server.variables(id);
        } else {
          flow.meta.template_name = "";
        }
        const kept = persist.unsaved(id === "new" ? null : flow.templateId);
        if (kept && !ui.readOnly) {
          restoreSnapshot(flow, kept.snapshot);
          flow.dirty = true;
          ui.restoredLocal = true;
        }
        if (flow.steps.some((step) => !step.position)) layout(false);
        history = createHistory(() => snapshotOf(flow), (text) => { restoreSnapshot(flow, text); flow.dirty = true; nextTick(() => context.canvas?.sync()); });
        ui.tab = flow.steps.length ? "template" : "template";
        performance.mark("builder-loaded");
      } catch (error) {
        ui.error = error;
      } finally {
        ui.loading = false;
        ui.ready = true;
        nextTick(() => context.canvas?.sync([]));
      }
    }

    // -- saving ------------------------------------------------------------------------
    function clientProblems() {
      const problems = [];
      for (const step of flow.steps) {
        for (const problem of brokenLimits(step, context.types[step.type])) {
          problems.push({ step: step.id, path: problem.path.join("."), field: "", message: problem.message });
        }
      }
      if (!flow.meta.template_name?.trim()) problems.push({ step: null, path: "", field: "template_name", message: "a template needs a name" });
      if (!flow.steps.length) problems.push({ step: null, path: "", field: "menu_structure", message: "add at least one step" });
      return problems;
    }

    function showProblems(error) {
      flow.problems = problemsFrom(error.details || [], flow.steps.map((step) => step.id));
      const first = flow.problems.find((problem) => problem.step);
      if (first) { context.canvas?.sync([first.step]); selectOnly(first.step); }
      else if (flow.problems.length) ui.tab = "template";
    }

    async function save({ quiet = false } = {}) {
      if (ui.readOnly) return false;
      ui.saveError = null;
      const local = clientProblems();
      if (local.length) {
        flow.problems = local;
        ui.saveError = { message: `${local.length} problem${local.length > 1 ? "s" : ""} to fix before saving` };
        const first = local.find((problem) => problem.step);
        if (first) selectOnly(first.step); else ui.tab = "template";
        return false;
      }
      ui.status = "Saving…";
      try {
        const document = documentOf(flow);
        if (flow.isNew) {
          const created = await server.createTemplate(document);
          persist.forget(null);
          loadInto(flow, created);
          history?.reset();
          ui.status = `Saved as version ${created.version}.`;
          window.history.replaceState(null, "", `#/builder/${created.id}`);
          nextTick(() => context.canvas?.sync());
        } else {
          const result = await server.saveDraft(flow.templateId, document);
          if (result.kind === "draft" && result.problems.length) {
            showProblems({ details: result.problems });
            ui.status = `Draft saved with ${result.problems.length} problem${result.problems.length > 1 ? "s" : ""}: publishing waits until they are fixed.`;
            persist.forget(flow.templateId);
            flow.dirty = false;
            context.reloadVersions?.();
            return false;
          }
          if (result.kind === "version") {
            flow.templateId = result.template.id;
            flow.version = result.template.version;
            window.history.replaceState(null, "", `#/builder/${result.template.id}`);
            ui.status = `Saved as version ${result.template.version}.`;
          } else {
            ui.status = "Draft saved. Customers still get the published version.";
          }
          persist.forget(flow.templateId);
        }
        flow.problems = [];
        flow.dirty = false;
        ui.restoredLocal = false;
        if (!flow.isNew) server.variables(flow.templateId).then((found) => { context.variables = found; });
        context.reloadVersions?.();
        return true;
      } catch (error) {
        ui.status = "";
        if (error.status === 401) return false;
        ui.saveError = error;
        if (error.status === 422) showProblems(error);
        if (quiet) return false;
        return false;
      }
    }

    async function publish(event) {
      event?.preventDefault();
      ui.saveError = null;
      try {
        if (flow.isNew && !(await save())) return;
        const published = await server.publish(flow.templateId, documentOf(flow), ui.changelog);
        ui.publishing = false;
        ui.changelog = "";
        persist.forget(flow.templateId);
        flow.dirty = false;
        if (published?.id) { flow.templateId = published.id; flow.version = published.version; window.history.replaceState(null, "", `#/builder/${published.id}`); }
        ui.status = `Published version ${published?.version ?? ""}.`;
        context.reloadVersions?.();
      } catch (error) {
        ui.saveError = error;
        if (error.status === 422) { showProblems(error); ui.publishing = false; }
      }
    }

    function discardLocal() {
      persist.forget(flow.isNew ? null : flow.templateId);
      ui.restoredLocal = false;
      open(requested);
    }

    // -- layout, overlay -----------------------------------------------------------------
    function layout(record = true) {
      const positions = autoLayout(flow.steps, edgesOf(context), context.canvas?.sizes() || {});
      for (const step of flow.steps) step.position = positions[step.id];
      if (record) { structural(); nextTick(() => setTimeout(() => context.canvas?.fitView(), 30)); }
    }

    async function toggleOverlay() {
      ui.overlay = !ui.overlay;
      if (!ui.overlay) { context.overlay.visits = null; context.overlay.edges = null; nextTick(() => context.canvas?.sync()); return; }
      try {
        const overlay = await funnelOverlay(flow.templateId);
        context.overlay.visits = overlay.visits;
        context.overlay.edges = overlay.edges;
        nextTick(() => context.canvas?.sync());
      } catch (error) {
        ui.saveError = error;
        ui.overlay = false;
      }
    }

    // -- keyboard ----------------------------------------------------------------------
    function inField(event) {
      const tag = event.target?.tagName;
      return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.target?.isContentEditable;
    }
    function onKey(event) {
      if (ui.publishing || !ui.ready) return;
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "s") { event.preventDefault(); save(); return; }
      if (inField(event) || ui.readOnly) return;
      if (mod && key === "z" && !event.shiftKey) { event.preventDefault(); history?.undo(); }
      else if (mod && (key === "y" || (key === "z" && event.shiftKey))) { event.preventDefault(); history?.redo(); }
      else if (mod && key === "c") { clipboard = editing.copySteps(flow, context.canvas.selectedIds()); ui.status = `${clipboard.length} step(s) copied.`; }
      else if (mod && key === "v" && clipboard?.length) { event.preventDefault(); const ids = editing.pasteSteps(flow, context.types, clipboard); structural(ids); ui.selected = ids; }
      else if (mod && key === "d") { event.preventDefault(); const ids = editing.pasteSteps(flow, context.types, editing.copySteps(flow, context.canvas.selectedIds())); structural(ids); ui.selected = ids; }
      else if (mod && key === "a") { event.preventDefault(); context.canvas.selectAll(); ui.selected = flow.steps.map((step) => step.id); }
      else if (key === "delete" || key === "backspace") {
        const ids = context.canvas.selectedIds();
        const edges = context.canvas.selectedEdges();
        if (ids.length) { event.preventDefault(); context.deleteSteps(ids); }
        else if (edges.length) {
          event.preventDefault();
          for (const edge of edges) editing.disconnect(flow, edge.source, edge.data.path);
          changed();
        }
      } else if (event.shiftKey && key === "l") { layout(); }
      else if (key === "+" || key === "=") context.canvas.zoomIn();
      else if (key === "-") context.canvas.zoomOut();
      else if (key === "?") ui.help = !ui.help;
    }

    onMounted(() => { document.addEventListener("keydown", onKey); open(requested); });
    onBeforeUnmount(() => {
      document.removeEventListener("keydown", onKey);
      clearTimeout(persistTimer);
      if (flow.dirty && !ui.readOnly) persist.keepUnsaved(flow.isNew ? null : flow.templateId, snapshotOf(flow), flow.version);
    });

    // -- rendering ---------------------------------------------------------------------
    const toolbar = () => h("div", { class: "builder-bar", role: "toolbar", "aria-label": "Builder" }, [
      h("h1", { class: "title" }, [flow.meta.template_name || "New template",
        flow.version ? h("span", { class: "muted" }, ` v${flow.version}`) : null,
        flow.dirty ? h("span", { class: "dirty", title: "Unsaved changes" }, " •") : null]),
      ui.readOnly ? h("span", { class: "tag" }, "read only: fork it to change it") : null,
      h("span", { class: "status", role: "status", "data-testid": "builder-status" }, ui.status),
      h("div", { class: "spacer" }),
      button("Undo", () => history?.undo(), { kind: "small", title: "Ctrl+Z" }),
      button("Redo", () => history?.redo(), { kind: "small", title: "Ctrl+Shift+Z" }),
      button("Auto-layout", () => layout(), { kind: "small", title: "Shift+L" }),
      button("−", () => context.canvas?.zoomOut(), { kind: "small", title: "Zoom out" }),
      button("+", () => context.canvas?.zoomIn(), { kind: "small", title: "Zoom in" }),
      button("Fit", () => context.canvas?.fitView(), { kind: "small", title: "Fit the flow" }),
      flow.templateId ? button(ui.overlay ? "Hide funnel" : "Funnel overlay", toggleOverlay, { kind: "small" }) : null,
      button("?", () => { ui.help = !ui.help; }, { kind: "small", title: "Keyboard shortcuts" }),
      button("Save draft", () => save(), { kind: "", disabled: ui.readOnly, title: "Ctrl+S", testid: "save" }),
      button("Publish…", () => { ui.publishing = true; }, { kind: "primary", disabled: ui.readOnly, testid: "publish" }),
    ]);

    const sidePanel = () => h("div", { class: "side" }, [
      h("div", { class: "tabs", role: "tablist" }, TABS.map(([name, text]) => h("button", {
        type: "button", role: "tab", class: { active: ui.tab === name }, "aria-selected": ui.tab === name ? "true" : "false",
        "data-testid": `tab-${name}`, onClick: () => { ui.tab = name; } }, text))),
      h("div", { class: "tab-body", role: "tabpanel" }, [
        ui.tab === "step" ? (ui.selected.length === 1
          ? h(StepPanel, { key: ui.selected[0], context, stepId: ui.selected[0] })
          : h("p", { class: "muted" }, ui.selected.length > 1 ? `${ui.selected.length} steps selected: Ctrl+C copies them, Delete removes them.` : "Select a step on the canvas to edit it."))
          : null,
        ui.tab === "template" ? h(TemplatePanel, { context }) : null,
        ui.tab === "versions" ? h(VersionsPanel, { context }) : null,
        h("div", { class: { hidden: ui.tab !== "simulator" } }, h(SimulatorPanel, { context })),
      ]),
    ]);

    return () => {
      if (ui.loading && !ui.ready) return h("p", { class: "boot" }, "Loading the builder…");
      if (ui.error) return h("section", { class: "builder-error" }, [errorBox(ui.error), h("a", { href: "#/templates" }, "Back to the templates")]);
      return h("section", { class: ["builder", { "read-only": ui.readOnly }] }, [
        toolbar(),
        ui.restoredLocal ? h("p", { class: "notice", role: "status" }, [
          "Unsaved changes from this browser were restored. ",
          h("button", { type: "button", class: "link", onClick: discardLocal }, "Discard them"),
        ]) : null,
        ui.saveError ? h("div", { class: "save-error" }, errorBox(ui.saveError, { only: (detail) => !detail.step })) : null,
        h("div", { class: "builder-body" }, [
          ui.readOnly ? null : palette(context.types, (type) => context.addStep(type, context.canvas?.center() || { x: 0, y: 0 })),
          h(Canvas, { context }),
          sidePanel(),
        ]),
        ui.publishing ? h(Dialog, { title: "Publish a new version", onClose: () => { ui.publishing = false; } }, () =>
          h("form", { onSubmit: publish }, [
            h("p", "Customers who start the template from now on get this version."),
            textInput({ id: "publish-changelog", label: "What changed", multiline: true, rows: 3, value: ui.changelog,
              required: true, onInput: (v) => { ui.changelog = v; } }),
            errorBox(ui.saveError),
            h("div", { class: "buttons" }, [button("Publish", undefined, { kind: "primary", type: "submit" }),
              button("Cancel", () => { ui.publishing = false; })]),
          ])) : null,
        ui.help ? h(Dialog, { title: "Keyboard shortcuts", onClose: () => { ui.help = false; } }, () =>
          h("dl", { class: "shortcuts" }, SHORTCUTS.flatMap(([keys, what]) => [h("dt", keys), h("dd", what)]))) : null,
      ]);
    };
  },
});
