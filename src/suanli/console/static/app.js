// The console shell: sign-in with an API token, navigation by role, hash routes.
import { ApiError, call, get, setToken, token } from "./api.js";
import { errorBox, h } from "./ui.js";
import * as audit from "./audit.js";
import * as jobs from "./jobs.js";
import * as members from "./members.js";
import * as money from "./money.js";
import * as operator from "./operator.js";
import * as packages from "./packages.js";
import * as supplier from "./supplier.js";
import * as tenant from "./tenant.js";
import * as tokens from "./tokens.js";

const ROLE_LABEL = { tenant: "tenant", operator: "operator", supplier: "supplier" };

// path pattern -> page; `roles` lists who may open it (the API checks again on every call).
// `live` pages refresh themselves (see AUTO_REFRESH_MS); a page may ask for a shorter interval
// (ctx.refreshMs), e.g. a job's page while the job runs.
const ROUTES = [
  { re: /^\/offers$/, roles: ["tenant", "operator"], nav: "Offers", render: tenant.offers },
  { re: /^\/order$/, roles: ["tenant"], nav: "Order", render: tenant.order },
  { re: /^\/leases$/, roles: ["tenant"], nav: "Leases", render: tenant.leases, live: true },
  { re: /^\/leases\/([^/]+)$/, roles: ["tenant", "operator", "supplier"], render: tenant.lease, live: true },
  { re: /^\/jobs$/, roles: ["tenant", "operator"], nav: "Jobs", render: jobs.list, live: true },
  { re: /^\/jobs\/([^/]+)$/, roles: ["tenant", "operator"], render: jobs.job, live: true },
  { re: /^\/billing$/, roles: ["tenant"], nav: "Billing", render: tenant.billing },
  { re: /^\/packages$/, roles: ["tenant", "operator"], nav: "Packages", render: packages.packages },
  { re: /^\/invoices\/([^/]+)$/, roles: ["tenant", "operator"], render: tenant.invoice },
  { re: /^\/fleet$/, roles: ["operator"], nav: "Fleet", render: operator.fleet, live: true },
  { re: /^\/all-leases$/, roles: ["operator"], nav: "Leases", render: operator.leases, live: true },
  { re: /^\/prices$/, roles: ["operator"], nav: "Prices", render: money.prices },
  { re: /^\/tenants$/, roles: ["operator"], nav: "Tenants", render: money.tenants },
  { re: /^\/tenants\/([^/]+)$/, roles: ["operator"], render: money.tenant },
  { re: /^\/revenue$/, roles: ["operator"], nav: "Revenue", render: operator.revenue },
  { re: /^\/statement$/, roles: ["supplier"], nav: "Statement", render: supplier.statement },
  { re: /^\/nodes$/, roles: ["supplier"], nav: "My nodes", render: supplier.nodes, live: true },
  { re: /^\/members$/, roles: ["tenant"], nav: "Members", render: members.members },
  { re: /^\/tokens$/, roles: ["tenant", "operator", "supplier"], nav: "Tokens", render: tokens.tokens },
  { re: /^\/audit$/, roles: ["operator", "tenant"], nav: "Audit", render: audit.audit },
];
const NAV_ORDER = {
  tenant: ["/offers", "/order", "/leases", "/jobs", "/billing", "/packages", "/members", "/tokens", "/audit"],
  operator: ["/fleet", "/all-leases", "/jobs", "/prices", "/tenants", "/revenue", "/offers", "/packages", "/tokens",
    "/audit"],
  supplier: ["/statement", "/nodes", "/tokens"],
};
const NAV_PREFIX = { "/leases": "/leases/", "/jobs": "/jobs/", "/tenants": "/tenants/", "/billing": "/invoices/" };
/** How often a live page reloads its data: often enough to follow leases and jobs, light on the server. */
export const AUTO_REFRESH_MS = 10_000;
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
  // the members page is the organisation admin's (the API refuses the others)
  const shown = NAV_ORDER[me.role].filter((p) => p !== "/members" || me.member_role === "admin");
  nav.replaceChildren(...shown.map((p) => {
    const route = ROUTES.find((r) => r.re.test(p));
    const active = path === p || (NAV_PREFIX[p] && path.startsWith(NAV_PREFIX[p]));
    return h("a", { href: `#${p}`, class: active ? "active" : "", "aria-current": active ? "page" : false }, route.nav);
  }));
  who.replaceChildren(
    h("span", { class: "who-name", testid: "who" }, me.name),
    h("span", { class: `role role-${me.role}` }, ROLE_LABEL[me.role] + (me.supplier ? ` · ${me.supplier}` : "")),
    h("span", { class: "updated", id: "updated", testid: "updated", "aria-live": "off" }),
    h("button", { type: "button", class: "link", onclick: () => render(), title: "Reload this page's data" }, "Refresh"),
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

let seq = 0; // the latest render wins; an older one that finishes late is dropped
let timer = null;
let lastUpdate = "";

/** Is the user in the middle of something on the page: a confirmation open, a field focused, or
 * a value typed or chosen that is not what the page was drawn with? A refresh would lose it. */
function busy() {
  const main = document.getElementById("main");
  if (main.querySelector(".confirm:not([hidden])")) return true;
  const a = document.activeElement;
  if (a && main.contains(a) && a.matches("input, select, textarea")) return true;
  for (const el of main.querySelectorAll("input, textarea")) if (el.value !== el.defaultValue) return true;
  for (const sel of main.querySelectorAll("select")) {
    const drawn = Math.max(0, [...sel.options].findIndex((o) => o.defaultSelected));
    if (sel.selectedIndex !== drawn) return true;
  }
  return false;
}

function stamp(text, kind = "") {
  const el = document.getElementById("updated");
  if (el) {
    el.textContent = text;
    el.className = `updated ${kind}`;
  }
}

function clock() {
  return new Date().toTimeString().slice(0, 8);
}

/** Reload a live page's data after `ms`, quietly: the new view replaces the old one only once it is
 * ready (no "Loading…" in between, so no flicker), and never while the user is typing, has a
 * confirmation open, or the tab is hidden (then it tries again later). */
function schedule(ms) {
  clearTimeout(timer);
  timer = ms ? setTimeout(() => {
    if (document.hidden) {
      schedule(ms);
    } else if (busy()) {
      stamp(`${lastUpdate} · auto-refresh paused while you edit`, "paused");
      schedule(ms);
    } else {
      render({ quiet: true });
    }
  }, ms) : null;
}

export async function render({ quiet = false } = {}) {
  const my = ++seq;
  clearTimeout(timer);
  const main = document.getElementById("main");
  const hash = location.hash;
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
  if (!quiet) renderNav(path);
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
  if (!quiet) {
    main.replaceChildren(h("p", { class: "muted", testid: "loading" }, "Loading…"));
    stamp("");
  }
  const ctx = { me, query, params, go, flash, refreshMs: undefined };
  const every = () => (route.live ? (ctx.refreshMs ?? AUTO_REFRESH_MS) : null);
  try {
    const view = await route.render(ctx);
    if (my !== seq || location.hash !== hash) return;
    if (quiet && busy()) { // the user started something while the data loaded: keep their page
      schedule(every());
      return;
    }
    main.replaceChildren(view);
    const ms = every();
    lastUpdate = `updated ${clock()}`;
    stamp(`${lastUpdate}${ms ? ` · auto-refresh ${Math.round(ms / 1000)} s` : ""}`);
    schedule(ms);
  } catch (e) {
    if (my !== seq) return;
    if (e.status === 401) {
      setToken(null);
      me = null;
      renderNav(path);
      loginPage(main, `Your token was rejected: ${e.message}`);
      return;
    }
    if (quiet) { // keep the page the user is reading; say the update failed and try again later
      stamp(`update failed at ${clock()}: ${e.message}`, "stale");
      schedule(every());
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
