// The frame around every page: navigation, who is signed in, and the page itself.
import { h, defineComponent } from "./vendor.js";
import { route, href, navigate } from "./router.js";
import { session, signOut } from "./session.js";
import { SignInPage } from "./pages/signin.js";
import { SetupPage } from "./pages/setup.js";
import { TemplatesPage } from "./pages/templates.js";
import { BuilderPage } from "./builder/page.js";
import { InboxPage } from "./pages/inbox.js";
import { AnalyticsPage } from "./pages/analytics.js";
import { CampaignsPage } from "./pages/campaigns.js";
import { SettingsPage } from "./pages/settings.js";

const PAGES = {
  templates: TemplatesPage,
  builder: BuilderPage,
  inbox: InboxPage,
  analytics: AnalyticsPage,
  campaigns: CampaignsPage,
  settings: SettingsPage,
};
const NAV = [["templates", "Templates"], ["inbox", "Inbox"], ["analytics", "Analytics"], ["campaigns", "Campaigns"],
  ["settings", "Settings"]];

export const Shell = defineComponent({
  setup() {
    return () => {
      if (window.location.pathname === "/setup") return h(SetupPage);
      if (!session.checked) return h("p", { class: "boot" }, "Loading convoflow…");
      if (!session.user) {
        if (route.name !== "signin") navigate("signin");
        return h(SignInPage);
      }
      // Signing in moves to where the user was; until that lands, show the templates.
      const page = PAGES[route.name] || TemplatesPage;
      return h("div", { class: ["shell", `page-${route.name}`] }, [
        h("a", { class: "skip", href: "#main", onClick: (event) => {
          event.preventDefault();
          document.getElementById("main")?.focus();
        } }, "Skip to content"),
        h("header", { class: "topbar" }, [
          h("a", { class: "brand", href: href("templates") }, "convoflow"),
          h("nav", { "aria-label": "Main" }, NAV.map(([name, text]) => h("a", {
            href: href(name),
            class: { active: route.name === name || (name === "templates" && route.name === "builder") },
            "aria-current": route.name === name ? "page" : undefined,
          }, text))),
          h("span", { class: "who", "data-testid": "signed-in-user" }, session.user.name),
          h("button", { class: "btn small", type: "button", onClick: signOut }, "Sign out"),
        ]),
        h("main", { id: "main", tabindex: "-1" }, h(page, { key: `${route.name}/${route.params.join("/")}` })),
      ]);
    };
  },
});
