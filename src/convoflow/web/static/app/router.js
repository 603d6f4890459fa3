// Hash routing (/#/templates, /#/builder/ID): the server answers only / and /setup, and
// the browser keeps the rest of the address to itself.
import { reactive } from "./vendor.js";

export const route = reactive({ name: "templates", params: [], query: {} });

function parse() {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  route.name = parts[0] || "templates";
  route.params = parts.slice(1);
  route.query = Object.fromEntries(new URLSearchParams(search));
}

/** Go to a route: navigate("builder", id) → /#/builder/ID. */
export function navigate(name, ...params) {
  const path = [name, ...params.map(encodeURIComponent)].join("/");
  if (window.location.hash !== `#/${path}`) window.location.hash = `#/${path}`;
  else parse();
}

/** The address of a route, for links. */
export function href(name, ...params) {
  return `#/${[name, ...params.map(encodeURIComponent)].join("/")}`;
}

/** The current hash, to come back to after signing in. */
export function currentLocation() {
  return window.location.hash || "#/templates";
}

window.addEventListener("hashchange", parse);
parse();
