// The console shell: sign-in with an API token, navigation by role, hash routes, the language switch.
import { ApiError, call, get, setToken, token } from "./api.js";
import { LANGS, applyLang, fmtDateTime, lang, register, setLang, setTimeZone, t, timeZone } from "./i18n.js";
import { errorBox, h } from "./ui.js";
import * as agents from "./agents.js";
import * as audit from "./audit.js";
import * as economics from "./economics.js";
import * as oversub from "./oversub.js";
import * as defrag from "./defrag.js";
import * as queue from "./queue.js";
import * as home from "./home.js";
import * as inference from "./inference.js";
import * as invoicing from "./invoicing.js";
import * as jobs from "./jobs.js";
import * as members from "./members.js";
import * as money from "./money.js";
import * as operator from "./operator.js";
import * as packages from "./packages.js";
import * as supplier from "./supplier.js";
import * as tenant from "./tenant.js";
import * as tokens from "./tokens.js";
import * as whatif from "./whatif.js";

register({
  en: {
    "app.role.tenant": "tenant", "app.role.operator": "operator", "app.role.supplier": "supplier",
    "app.lang": "Language", "app.refresh": "Refresh", "app.refreshTitle": "Reload this page's data",
    "app.signOut": "Sign out", "app.signedOut": "Signed out.", "app.loading": "Loading…",
    "app.zoneTitle": "Times are shown in {zone}",
    "app.login.title": "Sign in", "app.login.token": "API token", "app.login.placeholder": "paste an API token",
    "app.login.help": "Use an API token: the same tokens the CLI uses. {cmd} prints one for the operator, a demo tenant and a demo supplier.",
    "app.login.button": "Sign in",
    "app.login.empty": "paste the token that `suanli serve --demo` printed, or one from `suanli account token NAME`",
    "app.login.again": "Your token is no longer accepted; sign in again.",
    "app.login.rejected": "Your token was rejected: {message}",
    "app.notFound": "Not found", "app.notFoundText": "There is no page {path} in the console.",
    "app.home": "Go to your start page.", "app.notAvailable": "Not for your role",
    "app.forbiddenText": "This page is for {roles} accounts; you are signed in as {name}, a {role}. It shows nothing to you.",
    "app.or": " and ",
    "app.updated": "updated {time}", "app.autoRefresh": "auto-refresh {s} s",
    "app.paused": "auto-refresh paused while you edit", "app.updateFailed": "update failed at {time}: {message}",
    "app.goBack": "Go back", "app.startPage": "Start page",
    "nav.offers": "Offers", "nav.order": "Order", "nav.leases": "Leases", "nav.jobs": "Jobs", "nav.billing": "Billing",
    "nav.packages": "Packages", "nav.fleet": "Fleet", "nav.prices": "Prices", "nav.tenants": "Tenants",
    "nav.revenue": "Revenue", "nav.statement": "Statement", "nav.nodes": "My nodes", "nav.members": "Members",
    "nav.tokens": "Tokens", "nav.audit": "Audit",
  },
  "zh-CN": {
    "app.role.tenant": "租户", "app.role.operator": "运营方", "app.role.supplier": "供应商",
    "app.lang": "语言", "app.refresh": "刷新", "app.refreshTitle": "重新加载本页数据",
    "app.signOut": "退出登录", "app.signedOut": "已退出登录。", "app.loading": "加载中…",
    "app.zoneTitle": "时间按 {zone} 显示",
    "app.login.title": "登录", "app.login.token": "API 令牌", "app.login.placeholder": "粘贴 API 令牌",
    "app.login.help": "使用 API 令牌登录，与命令行工具使用的令牌相同。{cmd} 会为运营方、演示租户和演示供应商各打印一个令牌。",
    "app.login.button": "登录",
    "app.login.empty": "请粘贴 `suanli serve --demo` 打印的令牌，或 `suanli account token NAME` 生成的令牌",
    "app.login.again": "您的令牌已失效，请重新登录。",
    "app.login.rejected": "令牌被拒绝：{message}",
    "app.notFound": "页面不存在", "app.notFoundText": "控制台中没有页面 {path}。",
    "app.home": "返回您的首页。", "app.notAvailable": "您的角色无权查看此页面",
    "app.forbiddenText": "此页面仅供{roles}账户使用；您当前以 {name}（{role}）身份登录，此页面不向您显示任何内容。",
    "app.or": "和",
    "app.updated": "更新于 {time}", "app.autoRefresh": "每 {s} 秒自动刷新",
    "app.paused": "编辑期间暂停自动刷新", "app.updateFailed": "{time} 更新失败：{message}",
    "app.goBack": "返回上一页", "app.startPage": "首页",
    "nav.offers": "资源报价", "nav.order": "下单", "nav.leases": "租约", "nav.jobs": "作业", "nav.billing": "账单",
    "nav.packages": "套餐", "nav.fleet": "资源池", "nav.prices": "价格", "nav.tenants": "租户",
    "nav.revenue": "收入", "nav.statement": "结算单", "nav.nodes": "我的节点", "nav.members": "成员",
    "nav.tokens": "令牌", "nav.audit": "审计",
  },
});

// path pattern -> page; `roles` lists who may open it (the API checks again on every call); `nav` is
// the i18n key of its label in the top bar (a route without `nav` is reached by links only).
// `live` pages refresh themselves (see AUTO_REFRESH_MS); a page may ask for a shorter interval
// (ctx.refreshMs), e.g. a job's page while the job runs.
//
// ADDING A PAGE (one small edit): import your module above and add ONE line here, e.g.
//   { re: /^\/economics$/, roles: ["operator"], nav: "econ.nav", render: economics.page },
// registering "econ.nav" in both languages in your module. Its place in the top bar comes from
// NAV_ORDER below, which already lists /home, /economics, /whatif (a path there with no route is
// skipped); a path not in NAV_ORDER is appended at the end of its roles' bars. The operator's start
// page is /home once that route exists, else /fleet.
export const ROUTES = [
  { re: /^\/home$/, roles: ["operator"], nav: "home.nav", render: home.home, live: true },
  { re: /^\/offers$/, roles: ["tenant", "operator"], nav: "nav.offers", render: tenant.offers },
  { re: /^\/order$/, roles: ["tenant"], nav: "nav.order", render: tenant.order },
  { re: /^\/leases$/, roles: ["tenant"], nav: "nav.leases", render: tenant.leases, live: true },
  { re: /^\/leases\/([^/]+)$/, roles: ["tenant", "operator", "supplier"], render: tenant.lease, live: true },
  { re: /^\/jobs$/, roles: ["tenant", "operator"], nav: "nav.jobs", render: jobs.list, live: true },
  { re: /^\/jobs\/([^/]+)$/, roles: ["tenant", "operator"], render: jobs.job, live: true },
  { re: /^\/billing$/, roles: ["tenant"], nav: "nav.billing", render: tenant.billing },
  { re: /^\/packages$/, roles: ["tenant", "operator"], nav: "nav.packages", render: packages.packages },
  { re: /^\/invoices\/([^/]+)$/, roles: ["tenant", "operator"], render: tenant.invoice },
  { re: /^\/fleet$/, roles: ["operator"], nav: "nav.fleet", render: operator.fleet, live: true },
  { re: /^\/all-leases$/, roles: ["operator"], nav: "nav.leases", render: operator.leases, live: true },
  { re: /^\/prices$/, roles: ["operator"], nav: "nav.prices", render: money.prices },
  { re: /^\/tenants$/, roles: ["operator"], nav: "nav.tenants", render: money.tenants },
  { re: /^\/tenants\/([^/]+)$/, roles: ["operator"], render: money.tenant },
  { re: /^\/revenue$/, roles: ["operator"], nav: "nav.revenue", render: operator.revenue },
  { re: /^\/whatif$/, roles: ["operator"], nav: "whatif.nav", render: whatif.page },
  { re: /^\/whatif\/([^/]+)$/, roles: ["operator"], render: whatif.page },
  { re: /^\/economics$/, roles: ["operator"], nav: "econ.nav", render: economics.page },
  { re: /^\/oversub$/, roles: ["operator"], nav: "oversub.nav", render: oversub.page },
  { re: /^\/defrag$/, roles: ["operator"], nav: "defrag.nav", render: defrag.page },
  { re: /^\/queue$/, roles: ["operator"], nav: "queue.nav", render: queue.page },
  { re: /^\/invoicing$/, roles: ["operator"], nav: "invoicing.nav", render: invoicing.page },
  { re: /^\/statement$/, roles: ["supplier"], nav: "nav.statement", render: supplier.statement },
  { re: /^\/nodes$/, roles: ["supplier"], nav: "nav.nodes", render: supplier.nodes, live: true },
  { re: /^\/earnings$/, roles: ["supplier"], nav: "nav.earnings", render: supplier.earnings },
  { re: /^\/occupancy$/, roles: ["supplier"], nav: "nav.occupancy", render: supplier.occupancy },
  { re: /^\/payouts$/, roles: ["supplier"], nav: "nav.payouts", render: supplier.payouts },
  { re: /^\/floors$/, roles: ["supplier"], nav: "nav.floors", render: supplier.floors },
  { re: /^\/vouchers$/, roles: ["tenant"], nav: "nav.vouchers", render: tenant.vouchers },
  { re: /^\/members$/, roles: ["tenant"], nav: "nav.members", render: members.members },
  { re: /^\/tokens$/, roles: ["tenant", "operator", "supplier"], nav: "nav.tokens", render: tokens.tokens },
  { re: /^\/audit$/, roles: ["operator", "tenant"], nav: "nav.audit", render: audit.audit },
  { re: /^\/agents$/, roles: ["operator", "supplier"], nav: "agents.nav", render: agents.page, live: true },
  { re: /^\/deployments$/, roles: ["operator", "tenant"], nav: "inf.nav.deployments", render: inference.deployments, live: true },
  { re: /^\/deployments\/([^/]+)$/, roles: ["operator", "tenant"], render: inference.deployment, live: true },
  { re: /^\/inference-keys$/, roles: ["operator", "tenant"], nav: "inf.nav.keys", render: inference.keys },
  { re: /^\/inference-usage$/, roles: ["operator", "tenant"], nav: "inf.nav.usage", render: inference.usage },
];
const NAV_ORDER = {
  tenant: ["/offers", "/order", "/leases", "/jobs", "/billing", "/vouchers", "/packages", "/members", "/tokens", "/deployments",
    "/inference-keys", "/inference-usage", "/audit"],
  operator: ["/home", "/fleet", "/agents", "/all-leases", "/jobs", "/prices", "/tenants", "/revenue", "/economics", "/oversub", "/defrag", "/queue", "/whatif", "/invoicing",
    "/offers", "/packages", "/tokens", "/deployments", "/inference-keys", "/inference-usage", "/audit"],
  supplier: ["/earnings", "/occupancy", "/statement", "/payouts", "/nodes", "/agents", "/floors", "/tokens"],
};
const NAV_PREFIX = { "/deployments": "/deployments/", "/leases": "/leases/", "/jobs": "/jobs/", "/tenants": "/tenants/", "/billing": "/invoices/" };
/** How often a live page reloads its data: often enough to follow leases and jobs, light on the server. */
export const AUTO_REFRESH_MS = 10_000;

/** The route whose pattern matches `path` exactly as a nav path (no params). */
function routeOf(path) {
  return ROUTES.find((r) => r.re.test(path));
}

/** Each role's start page: the operator's is /home when that page exists. */
function homeOf(role) {
  if (role === "operator") return routeOf("/home") ? "/home" : "/fleet";
  return { tenant: "/offers", supplier: "/statement" }[role];
}

/** A route's path when it has no parameters ("^\/fleet$" -> "/fleet"), else null. */
function plainPath(r) {
  const p = r.re.source.replace(/^\^/, "").replace(/\$$/, "").replace(/\\\//g, "/");
  return /[()[\]\\*+?|]/.test(p) ? null : p;
}

/** The nav paths of a role: NAV_ORDER's that have a route, then any other route with a nav label. */
export function navPaths(role) {
  const mine = ROUTES.filter((r) => r.nav && r.roles.includes(role) && plainPath(r)).map(plainPath);
  const listed = NAV_ORDER[role].filter((p) => mine.includes(p));
  return [...listed, ...mine.filter((p) => !listed.includes(p))];
}

/** Every page a role can open from its bar (the browser tests visit each, in both languages). */
export function pagesOf(role) {
  return navPaths(role);
}

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

/** The language switch in the top bar (shown signed in or not): remembered; the page redraws in place. */
function renderLang() {
  const box = document.getElementById("lang");
  const now = lang();
  box.replaceChildren(h("span", { class: "lang-switch", role: "group", "aria-label": `${t("app.lang")} / Language` },
    LANGS.map((l) => h("button", { type: "button", lang: l, class: l === now ? "on" : "", "aria-pressed": l === now ? "true" : "false",
      testid: `lang-${l}`, onclick: () => {
        if (l === lang()) return;
        setLang(l);
        renderNav(parseHash().path);
        render({ quiet: true, force: true }); // in place: the page stays until it is drawn again
      } }, l === "en" ? "English" : "中文"))));
}

function renderNav(path) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  document.title = `suanli ${lang() === "zh-CN" ? "控制台" : "console"}`;
  renderLang();
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  // the members page is the organisation admin's (the API refuses the others)
  const shown = navPaths(me.role).filter((p) => p !== "/members" || me.member_role === "admin");
  nav.replaceChildren(...shown.map((p) => {
    const route = routeOf(p);
    const active = path === p || (NAV_PREFIX[p] && path.startsWith(NAV_PREFIX[p]));
    return h("a", { href: `#${p}`, class: active ? "active" : "", "aria-current": active ? "page" : false,
      testid: `nav-${p.slice(1)}` }, t(route.nav));
  }));
  who.replaceChildren(
    h("span", { class: "who-name", testid: "who", title: t("app.zoneTitle", { zone: timeZone() }) }, me.name),
    h("span", { class: `role role-${me.role}`, testid: "role" }, t(`app.role.${me.role}`) + (me.supplier ? ` · ${me.supplier}` : "")),
    h("span", { class: "updated", id: "updated", testid: "updated", "aria-live": "off" }),
    h("button", { type: "button", class: "link", onclick: () => render(), title: t("app.refreshTitle"), testid: "refresh" },
      t("app.refresh")),
    h("button", { type: "button", class: "link", onclick: signOut, testid: "sign-out" }, t("app.signOut")));
}

function signOut() {
  setToken(null);
  me = null;
  flash(t("app.signedOut"), "ok", { next: true });
  go("/login");
}

function signedIn(account) {
  me = account;
  if (me && me.time_zone) setTimeZone(me.time_zone);
  return me;
}

function loginPage(main, message) {
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    placeholder: t("app.login.placeholder"), "aria-label": t("app.login.token") });
  const status = h("div", {});
  if (message) status.replaceChildren(errorBox(new ApiError(401, "unauthorized", message), "login-error"));
  const [before, after] = t("app.login.help").split("{cmd}");
  const form = h("form", { class: "login", testid: "login-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) {
      status.replaceChildren(errorBox(new Error(t("app.login.empty")), "login-error"));
      return;
    }
    try {
      signedIn(await call("GET", "/v1/me", { auth: value }));
    } catch (e) {
      status.replaceChildren(errorBox(e, "login-error"));
      return;
    }
    setToken(value);
    go(homeOf(me.role));
  } },
  h("h1", {}, t("app.login.title")),
  h("p", { class: "muted" }, before, h("code", {}, "suanli serve --demo"), after ?? ""),
  h("label", { for: "token" }, t("app.login.token")), input,
  h("button", { type: "submit", class: "primary" }, t("app.login.button")), status);
  main.replaceChildren(form);
  input.focus();
}

async function whoAmI() {
  if (!token()) return null;
  try {
    return signedIn(await get("/v1/me"));
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

/** The time now in the operator's time zone, "HH:MM:SS GMT+8" (the zone's offset says which clock). */
function clock() {
  const now = new Date();
  const zone = new Intl.DateTimeFormat("en-GB", { timeZone: timeZone(), timeZoneName: "short" }).formatToParts(now)
    .find((p) => p.type === "timeZoneName");
  return `${fmtDateTime(now.toISOString(), { seconds: true }).slice(11)}${zone ? ` ${zone.value}` : ""}`;
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
      stamp(`${lastUpdate} · ${t("app.paused")}`, "paused");
      schedule(ms);
    } else {
      render({ quiet: true });
    }
  }, ms) : null;
}

export async function render({ quiet = false, force = false } = {}) {
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
    loginPage(main, t("app.login.again"));
    return;
  }
  if (path === "/" || path === "") {
    go(homeOf(me.role));
    return;
  }
  if (!quiet) renderNav(path);
  const route = ROUTES.find((r) => r.re.test(path));
  if (!route) {
    main.replaceChildren(h("h1", {}, t("app.notFound")), h("p", { testid: "not-found" },
      `${t("app.notFoundText", { path })} `, h("a", { href: `#${homeOf(me.role)}` }, t("app.home"))));
    return;
  }
  if (!route.roles.includes(me.role)) {
    main.replaceChildren(h("h1", {}, t("app.notAvailable")),
      h("p", { class: "error", role: "alert", testid: "forbidden" },
        `${t("app.forbiddenText", { roles: route.roles.map((r) => t(`app.role.${r}`)).join(t("app.or")), name: me.name,
          role: t(`app.role.${me.role}`) })} `,
        h("a", { href: `#${homeOf(me.role)}` }, t("app.home"))));
    return;
  }
  const params = path.match(route.re).slice(1).map(decodeURIComponent);
  if (!quiet) {
    main.replaceChildren(h("p", { class: "muted", testid: "loading" }, t("app.loading")));
    stamp("");
  }
  const ctx = { me, query, params, go, flash, refreshMs: undefined };
  const every = () => (route.live ? (ctx.refreshMs ?? AUTO_REFRESH_MS) : null);
  try {
    // a tenant's pages carry its banners on top (low balance, suspension, unpaid invoices: tenant.js)
    const [page, top] = await Promise.all([route.render(ctx), me.role === "tenant" ? tenant.banners(ctx) : null]);
    const view = top ? h("div", { class: "with-banners" }, top, page) : page;
    if (my !== seq) return;
    if (location.hash !== hash) { // a list wrote its filters into the hash meanwhile (no navigation): redo
      if (quiet && !force) schedule(every());
      else render({ quiet, force });
      return;
    }
    if (quiet && !force && busy()) { // the user started something while the data loaded: keep their page
      schedule(every());
      return;
    }
    main.replaceChildren(view);
    const ms = every();
    lastUpdate = t("app.updated", { time: clock() });
    stamp(`${lastUpdate}${ms ? ` · ${t("app.autoRefresh", { s: Math.round(ms / 1000) })}` : ""}`);
    schedule(ms);
  } catch (e) {
    if (my !== seq) return;
    if (e.status === 401) {
      setToken(null);
      me = null;
      renderNav(path);
      loginPage(main, t("app.login.rejected", { message: e.message }));
      return;
    }
    if (quiet) { // keep the page the user is reading; say the update failed and try again later
      stamp(t("app.updateFailed", { time: clock(), message: e.message }), "stale");
      schedule(every());
      return;
    }
    main.replaceChildren(errorBox(e), h("p", {}, h("button", { type: "button", onclick: () => history.back() }, t("app.goBack")),
      " ", h("a", { href: `#${homeOf(me.role)}` }, t("app.startPage"))));
  }
}

applyLang();
window.addEventListener("hashchange", () => {
  if (keepFlash) keepFlash = false;
  else clearFlash();
  render();
});
render();
