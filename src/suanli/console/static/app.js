// The console shell: sign-in with an API token, navigation by role, hash routes.
import { ApiError, call, get, setToken, token } from "./api.js";
import { errorBox, h } from "./ui.js";
import * as operator from "./operator.js";
import * as supplier from "./supplier.js";
import * as tenant from "./tenant.js";

const ROLE_LABEL = { tenant: "tenant", operator: "operator", supplier: "supplier" };

// path pattern -> page; `roles` lists who may open it (the API checks again on every call).
const ROUTES = [
  { re: /^\/offers$/, roles: ["tenant", "operator"], nav: "Offers", render: tenant.offers },
  { re: /^\/order$/, roles: ["tenant"], nav: "Order", render: tenant.order },
  { re: /^\/leases$/, roles: ["tenant"], nav: "Leases", render: tenant.leases },
  { re: /^\/leases\/([^/]+)$/, roles: ["tenant", "operator", "supplier"], render: tenant.lease },
  { re: /^\/billing$/, roles: ["tenant"], nav: "Billing", render: tenant.billing },
  { re: /^\/fleet$/, roles: ["operator"], nav: "Fleet", render: operator.fleet },
  { re: /^\/all-leases$/, roles: ["operator"], nav: "Leases", render: operator.leases },
  { re: /^\/revenue$/, roles: ["operator"], nav: "Revenue", render: operator.revenue },
  { re: /^\/statement$/, roles: ["supplier"], nav: "Statement", render: supplier.statement },
  { re: /^\/nodes$/, roles: ["supplier"], nav: "My nodes", render: supplier.nodes },
];
const NAV_ORDER = {
  tenant: ["/offers", "/order", "/leases", "/billing"],
  operator: ["/fleet", "/all-leases", "/revenue", "/offers"],
  supplier: ["/statement", "/nodes"],
};
const HOME = { tenant: "/offers", operator: "/fleet", supplier: "/statement" };

let me = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, q = ""] = raw.split("?");
  return { path, query: new URLSearchParams(q) };
}

export function go(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

let keepFlash = false;

/** A notice above the page; `next: true` keeps it across the navigation that follows. */
export function flash(message, kind = "ok", { next = false } = {}) {
  keepFlash = next;
  const box = document.getElementById("flash");
  box.replaceChildren(h("div", { class: `flash ${kind}`, testid: "flash" }, message));
}

function clearFlash() {
  document.getElementById("flash").replaceChildren();
}

function renderNav(path) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  nav.replaceChildren(...NAV_ORDER[me.role].map((p) => {
    const route = ROUTES.find((r) => r.re.test(p));
    const active = path === p || (p === "/leases" && path.startsWith("/leases/"));
    return h("a", { href: `#${p}`, class: active ? "active" : "", "aria-current": active ? "page" : false }, route.nav);
  }));
  who.replaceChildren(
    h("span", { class: "who-name", testid: "who" }, me.name),
    h("span", { class: `role role-${me.role}` }, ROLE_LABEL[me.role] + (me.supplier ? ` · ${me.supplier}` : "")),
    h("button", { type: "button", class: "link", onclick: () => render() , title: "Reload this page's data" }, "Refresh"),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
}

function signOut() {
  setToken(null);
  me = null;
  flash("Signed out.", "ok", { next: true });
  go("/login");
}

function loginPage(main, message) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    placeholder: "paste an API token", "aria-label": "API token" });
  const status = h("div", {});
  if (message) status.replaceChildren(errorBox(new ApiError(401, "unauthorized", message), "login-error"));
  const form = h("form", { class: "login", testid: "login-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) {
      status.replaceChildren(errorBox(new Error("paste the token that `suanli serve --demo` printed, "
        + "or one from `suanli account token NAME`"), "login-error"));
      return;
    }
    try {
      me = await call("GET", "/v1/me", { auth: value });
    } catch (e) {
      status.replaceChildren(errorBox(e, "login-error"));
      return;
    }
    setToken(value);
    go(HOME[me.role]);
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "Use an API token: the same tokens the CLI uses. ",
    h("code", {}, "suanli serve --demo"), " prints one for the operator, a demo tenant and a demo supplier."),
  h("label", { for: "token" }, "API token"), input,
  h("button", { type: "submit", class: "primary" }, "Sign in"), status);
  main.replaceChildren(form);
  input.focus();
}

async function whoAmI() {
  if (!token()) return null;
  try {
    return await get("/v1/me");
  } catch (e) {
    if (e.status === 401) {
      setToken(null);
      return null;
    }
    throw e;
  }
}

export async function render() {
  const main = document.getElementById("main");
  const { path, query } = parseHash();
  if (path === "/login" || !token()) {
    me = null;
    renderNav(path);
    loginPage(main);
    return;
  }
  try {
    if (!me) me = await whoAmI();
  } catch (e) {
    main.replaceChildren(errorBox(e));
    return;
  }
  if (!me) {
    renderNav(path);
    loginPage(main, "Your token is no longer accepted; sign in again.");
    return;
  }
  if (path === "/" || path === "") {
    go(HOME[me.role]);
    return;
  }
  renderNav(path);
  const route = ROUTES.find((r) => r.re.test(path));
  if (!route) {
    main.replaceChildren(h("h1", {}, "Not found"), h("p", { testid: "not-found" }, `There is no page ${path} in the console. `,
      h("a", { href: `#${HOME[me.role]}` }, "Go to your start page.")));
    return;
  }
  if (!route.roles.includes(me.role)) {
    main.replaceChildren(h("h1", {}, "Not available"),
      h("p", { class: "error", role: "alert", testid: "forbidden" },
        `This page is for ${route.roles.join(" and ")} accounts; you are signed in as ${me.name}, a ${me.role}. `,
        h("a", { href: `#${HOME[me.role]}` }, "Go to your start page.")));
    return;
  }
  const params = path.match(route.re).slice(1).map(decodeURIComponent);
  main.replaceChildren(h("p", { class: "muted", testid: "loading" }, "Loading…"));
  const ctx = { me, query, params, go, flash };
  try {
    const view = await route.render(ctx);
    if (parseHash().path === path) main.replaceChildren(view);
  } catch (e) {
    if (e.status === 401) {
      setToken(null);
      me = null;
      renderNav(path);
      loginPage(main, `Your token was rejected: ${e.message}`);
      return;
    }
    main.replaceChildren(errorBox(e), h("p", {}, h("button", { type: "button", onclick: () => history.back() }, "Go back"),
      " ", h("a", { href: `#${HOME[me.role]}` }, "Start page")));
  }
}

window.addEventListener("hashchange", () => {
  if (keepFlash) keepFlash = false;
  else clearFlash();
  render();
});
render();
