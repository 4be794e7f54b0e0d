// Operator pages: the fleet (sites, nodes, devices free/used, allocation, node state), leases of
// every tenant, revenue (issued invoices and this month's drafts to date).
import { all, get, post } from "./api.js";
import { register, t } from "./i18n.js";
import {
  bar, badge, card, confirmRow, errorBox, field, h, holdsNow, listView, money, num, optionsOf, panel, pct, select, stateLabel,
  table, text, when, yuan,
} from "./ui.js";
import { periodPicker } from "./tenant.js";

register({
  en: {
    "fleet.title": "Fleet",
    "fleet.note": "Allocation rate (分配率) = device capacity held by active leases ÷ capacity of available nodes. "
      + "Suspended and interrupted leases hold no devices.",
    "fleet.sites": "Sites", "fleet.nodes": "Nodes", "fleet.devices": "Devices (available nodes)", "fleet.inUse": "In use",
    "fleet.free": "{n} free", "fleet.allocation": "Allocation rate", "fleet.active": "Active leases",
    "fleet.suspended": "Suspended leases", "fleet.interrupted": "Interrupted leases", "fleet.down": "Nodes down",
    "fleet.downNote": "{n} in maintenance", "fleet.show": "show",
    "fleet.sitesHead": "Sites", "fleet.offersHead": "Offers by model and site", "fleet.nodesHead": "Nodes",
    "fleet.col.site": "Site", "fleet.col.models": "Models", "fleet.col.nodes": "Nodes", "fleet.col.devices": "Devices",
    "fleet.col.inUse": "In use", "fleet.col.allocated": "Allocated", "fleet.col.model": "Model",
    "fleet.col.freeOf": "Free / devices", "fleet.col.priceDh": "元 / device-hour", "fleet.col.priceP": "元 / P / 年",
    "fleet.col.node": "Node", "fleet.col.supplier": "Supplier", "fleet.col.free": "Free", "fleet.col.state": "State",
    "fleet.freeWhole": "a whole GPU free", "fleet.freePartial": "a GPU partly held",
    "fleet.notAvailable": "{nodes} ({down} not available)", "fleet.change": "Change state…",
    "fleet.ns.available": "available: leases may be placed on it",
    "fleet.ns.maintenance": "maintenance: no new leases; planned work",
    "fleet.ns.down": "down: failed; no new leases",
    "fleet.ns.node": "Node", "fleet.ns.state": "New state", "fleet.ns.reason": "Reason", "fleet.ns.apply": "Apply",
    "fleet.ns.reasonPh": "e.g. fan swap, ticket #123", "fleet.ns.head": "Change a node's state",
    "fleet.ns.done": "Node {name} is {state}{reason}.",
    "fleet.ns.effectDown": "Leases on it are interrupted at the next health check (SLA credit; re-placed elsewhere where possible).",
    "fleet.ns.effectMaint": "Leases already on it keep running.",
    "fleet.ns.question": "Mark {name} {state}{reason}? No new lease is placed on it. {effect} {held}",
    "fleet.ns.held": "Live leases hold {held} of its {devices} devices now.",
    "fleet.ns.noneHeld": "No live lease holds any of its devices now.",
    "leases.title": "Leases", "leases.note": "Every tenant's leases. Filter by state, tenant, model or site; the counts on "
      + "the fleet page link here.",
    "leases.col.lease": "Lease", "leases.col.tenant": "Tenant", "leases.col.form": "Form", "leases.col.state": "State",
    "leases.col.devices": "Devices", "leases.col.model": "Model", "leases.col.site": "Site", "leases.col.start": "Start",
    "leases.col.end": "End", "leases.empty": "No leases yet.", "leases.noneIn": "No {state} leases.",
    "rev.title": "Revenue {period}", "rev.issued": "Issued invoices",
    "rev.invoices": "Invoices", "rev.charges": "Charges", "rev.share": "Supplier share", "rev.commission": "Commission",
    "rev.tax": "Tax", "rev.vouchers": "Vouchers", "rev.due": "Amount due", "rev.ledger": "Ledger sum",
    "rev.ledgerNote": "always zero: every entry balances",
    "rev.col.invoice": "Invoice", "rev.col.tenant": "Tenant", "rev.col.status": "Status", "rev.col.total": "Total",
    "rev.col.due": "Amount due", "rev.col.issuedAt": "Issued",
    "rev.noneIssued": "No issued invoices in this month.",
    "rev.splitHead": "Who the charges belong to",
    "rev.col.to": "To", "rev.col.kind": "Kind", "rev.col.amount": "Amount",
    "rev.kind.supplierShare": "supplier's share", "rev.kind.own": "operator's own (no supplier node): {what}",
    "rev.kind.commission": "commission on suppliers' nodes",
    "rev.operator": "operator",
    "rev.noSplit": "No charges on the issued invoices of this month.",
    "rev.drafts": "Drafts to date (not yet issued)",
    "rev.col.lines": "Lines", "rev.col.subtotal": "Subtotal",
    "rev.noDrafts": "No tenant has charges in this month yet.",
    "period.month": "month", "period.show": "Show",
  },
  "zh-CN": {
    "fleet.title": "资源池",
    "fleet.note": "分配率 = 运行中租约占用的设备容量 ÷ 可用节点的设备容量。已暂停和已中断的租约不占用设备。",
    "fleet.sites": "站点", "fleet.nodes": "节点", "fleet.devices": "设备（可用节点）", "fleet.inUse": "使用中",
    "fleet.free": "空闲 {n}", "fleet.allocation": "分配率", "fleet.active": "运行中租约",
    "fleet.suspended": "已暂停租约", "fleet.interrupted": "已中断租约", "fleet.down": "故障节点",
    "fleet.downNote": "维护中 {n} 个", "fleet.show": "查看",
    "fleet.sitesHead": "站点", "fleet.offersHead": "按型号和站点的资源报价", "fleet.nodesHead": "节点",
    "fleet.col.site": "站点", "fleet.col.models": "型号", "fleet.col.nodes": "节点", "fleet.col.devices": "设备",
    "fleet.col.inUse": "使用中", "fleet.col.allocated": "已分配", "fleet.col.model": "型号",
    "fleet.col.freeOf": "空闲 / 设备", "fleet.col.priceDh": "元 / 设备·小时", "fleet.col.priceP": "元 / P / 年",
    "fleet.col.node": "节点", "fleet.col.supplier": "供应商", "fleet.col.free": "空闲", "fleet.col.state": "状态",
    "fleet.freeWhole": "有整卡空闲", "fleet.freePartial": "有卡被部分占用",
    "fleet.notAvailable": "{nodes}（{down} 个不可用）", "fleet.change": "变更状态…",
    "fleet.ns.available": "可用：可放置新租约",
    "fleet.ns.maintenance": "维护中：不放置新租约；计划内维护",
    "fleet.ns.down": "故障：已失效；不放置新租约",
    "fleet.ns.node": "节点", "fleet.ns.state": "新状态", "fleet.ns.reason": "原因", "fleet.ns.apply": "应用",
    "fleet.ns.reasonPh": "例如：更换风扇，工单 #123", "fleet.ns.head": "变更节点状态",
    "fleet.ns.done": "节点 {name} 现为{state}{reason}。",
    "fleet.ns.effectDown": "其上的租约将在下次健康检查时中断（按 SLA 补偿；尽可能迁移到其他节点）。",
    "fleet.ns.effectMaint": "其上已有的租约继续运行。",
    "fleet.ns.question": "将 {name} 标记为{state}{reason}？不会再向其放置新租约。{effect}{held}",
    "fleet.ns.held": "当前租约占用其 {devices} 个设备中的 {held} 个。",
    "fleet.ns.noneHeld": "当前没有租约占用其设备。",
    "leases.title": "租约", "leases.note": "所有租户的租约。可按状态、租户、型号或站点筛选；资源池页面上的计数链接到这里。",
    "leases.col.lease": "租约", "leases.col.tenant": "租户", "leases.col.form": "形式", "leases.col.state": "状态",
    "leases.col.devices": "设备", "leases.col.model": "型号", "leases.col.site": "站点", "leases.col.start": "开始",
    "leases.col.end": "结束", "leases.empty": "暂无租约。", "leases.noneIn": "没有{state}的租约。",
    "rev.title": "收入 {period}", "rev.issued": "已开具发票",
    "rev.invoices": "发票", "rev.charges": "费用", "rev.share": "供应商分成", "rev.commission": "平台佣金",
    "rev.tax": "税额", "rev.vouchers": "算力券", "rev.due": "应付金额", "rev.ledger": "账本合计",
    "rev.ledgerNote": "恒为零：每笔分录借贷平衡",
    "rev.col.invoice": "发票", "rev.col.tenant": "租户", "rev.col.status": "状态", "rev.col.total": "合计",
    "rev.col.due": "应付金额", "rev.col.issuedAt": "开具时间",
    "rev.noneIssued": "本月没有已开具的发票。",
    "rev.splitHead": "费用归属",
    "rev.col.to": "归属", "rev.col.kind": "类别", "rev.col.amount": "金额",
    "rev.kind.supplierShare": "供应商分成", "rev.kind.own": "运营方自有收入（无供应商节点）：{what}",
    "rev.kind.commission": "供应商节点上的平台佣金",
    "rev.operator": "运营方",
    "rev.noSplit": "本月已开具的发票上没有费用。",
    "rev.drafts": "截至目前的草稿（尚未开具）",
    "rev.col.lines": "明细行", "rev.col.subtotal": "小计",
    "rev.noDrafts": "本月尚无租户产生费用。",
    "period.month": "月份", "period.show": "显示",
  },
});

const LIVE = ["active", "suspended", "interrupted"];
const LEASE_STATES = ["active", "scheduled", "suspended", "interrupted", "ended", "cancelled"];
const NODE_STATES = ["available", "maintenance", "down"];

/** Device-equivalents held now per node, from the open allocations of live leases (milli = 1/1000 device);
 * `slots`: per node, the milli held now on each device (by its slot) that something holds. */
export async function heldByNode() {
  const live = [];
  for (const state of LIVE) live.push(...await all("/v1/leases", { state }));
  const milli = new Map();
  const slots = new Map();
  for (const l of live) {
    if (l.state !== "active") continue; // suspended/interrupted leases have given their devices up
    for (const a of l.allocations) {
      if (!holdsNow(a)) continue;
      milli.set(a.node, (milli.get(a.node) || 0) + a.milli);
      if (!slots.has(a.node)) slots.set(a.node, new Map());
      const s = slots.get(a.node);
      s.set(a.device, (s.get(a.device) || 0) + a.milli);
    }
  }
  return { milli, slots, live };
}

/** Devices of an available node that nothing holds (whole GPUs free) and that are partly held (0 < held <
 * 1 device): the start page's idle-whole and partly-held counts, per node. Other states: none free. */
export function freeDevices(n, slots) {
  if (n.state !== "available") return { whole: 0, partial: 0 };
  const held = [...(slots.get(n.name) || new Map()).values()];
  return { whole: n.devices - held.filter((m) => m > 0).length, partial: held.filter((m) => m > 0 && m < 1000).length };
}

function milliStr(m) {
  return num(String(m / 1000), 3);
}

/**
 * The form that changes a node's state (operator, or a supplier for its own nodes): pick the node,
 * the state and a reason; taking a node out of service asks for confirmation first and says how
 * much of it live leases hold. Returns { el, pick(name) } so a row's button can preselect its node.
 */
export function nodeStateForm(ctx, nodes, milli, back) {
  const nodeSel = select("node", nodes.map((n) => [n.name, `${n.name} (${stateLabel(n.state)})`]), undefined, "ns");
  const stateSel = select("state", NODE_STATES.map((s) => [s, t(`fleet.ns.${s}`)]), "maintenance", "ns");
  const reason = text("reason", t("fleet.ns.reasonPh"), "", "ns");
  const status = h("div", { testid: "node-state-status" });
  const send = async () => {
    const name = nodeSel.value;
    const r = await post(`/v1/nodes/${encodeURIComponent(name)}/state`, { state: stateSel.value, reason: reason.value.trim() });
    ctx.flash(t("fleet.ns.done", { name: r.name, state: stateLabel(r.state), reason: r.reason ? ` (${r.reason})` : "" }));
    ctx.go(back);
  };
  const confirm = confirmRow({ testid: "node-state-confirm", status, run: send, errorTestid: "node-state-error" });
  const form = h("form", { novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const n = nodes.find((x) => x.name === nodeSel.value);
    if (!n) return;
    if (stateSel.value === "available") {
      try {
        status.replaceChildren();
        await send();
      } catch (e) {
        status.replaceChildren(errorBox(e, "node-state-error"));
      }
      return;
    }
    const held = milli.get(n.name) || 0;
    const why = reason.value.trim();
    confirm.open(t("fleet.ns.question", {
      name: n.name, state: stateLabel(stateSel.value), reason: why ? ` (${why})` : "",
      effect: t(stateSel.value === "down" ? "fleet.ns.effectDown" : "fleet.ns.effectMaint"),
      held: held ? t("fleet.ns.held", { held: milliStr(held), devices: n.devices }) : t("fleet.ns.noneHeld"),
    }));
  } },
  h("div", { class: "row" }, field(t("fleet.ns.node"), nodeSel), field(t("fleet.ns.state"), stateSel),
    field(t("fleet.ns.reason"), reason), h("button", { type: "submit", class: "primary" }, t("fleet.ns.apply"))));
  const el = panel(t("fleet.ns.head"), "node-state-form", form, confirm.row, status);
  return {
    el,
    pick(name) {
      nodeSel.value = name;
      el.scrollIntoView({ block: "nearest" });
      stateSel.focus();
    },
  };
}

/** The nodes as a list (search, filters by state/site/model/supplier and, given `slots` (heldByNode), by
 * free capacity: free=whole (a device nothing holds) or free=partial (a device partly held); sort, pages);
 * a down node's row is marked, not only its badge. `query` (the page's hash query) sets the filters and
 * is kept in sync. */
export function nodeTable(nodes, milli, testid = "nodes", onChange, { query, hash = false, slots } = {}) {
  const used = (n) => milli.get(n.name) || 0;
  const free = (n) => (n.state === "available" ? n.devices * 1000 - used(n) : 0);
  return listView({
    columns: [
      { key: "name", label: t("fleet.col.node"), value: (n) => h("span", { class: "mono" }, n.name) },
      { key: "site", label: t("fleet.col.site"), value: (n) => n.site },
      { key: "supplier", label: t("fleet.col.supplier"), value: (n) => n.supplier },
      { key: "model", label: t("fleet.col.model"), value: (n) => n.model },
      { key: "devices", label: t("fleet.col.devices"), value: (n) => n.devices, class: "num" },
      { key: "used", label: t("fleet.col.inUse"), value: (n) => milliStr(used(n)), sort: used, class: "num" },
      { key: "free", label: t("fleet.col.free"), value: (n) => milliStr(free(n)), sort: free, class: "num" },
      { key: "allocated", label: t("fleet.col.allocated"), sort: (n) => used(n) / (n.devices * 1000),
        value: (n) => h("span", { class: "barcell" }, bar(used(n) / (n.devices * 1000)), pct(used(n) / (n.devices * 1000))) },
      { key: "state", label: t("fleet.col.state"), value: (n) => h("span", {}, badge(n.state),
        n.state_reason ? h("span", { class: "muted" }, ` ${n.state_reason}`) : null) },
      ...(onChange ? [{ label: "", value: (n) => h("button", { type: "button", class: "small", testid: `change-${n.name}`,
        onclick: () => onChange(n.name) }, t("fleet.change")) }] : []),
    ],
    rows: nodes, query, hash, testid, rowTestid: (n) => `node-${n.name}`, rowClass: (n) => `row-${n.state}`,
    search: (n) => [n.name, n.site, n.supplier, n.model, n.state, n.state_reason].join(" "),
    filters: [
      { key: "state", label: t("fleet.col.state"), options: NODE_STATES.map((s) => [s, stateLabel(s)]) },
      { key: "site", label: t("fleet.col.site"), options: optionsOf(nodes, "site") },
      { key: "model", label: t("fleet.col.model"), options: optionsOf(nodes, "model") },
      { key: "supplier", label: t("fleet.col.supplier"), options: optionsOf(nodes, "supplier") },
      ...(slots ? [{ key: "free", label: t("fleet.col.free"),
        options: [["whole", t("fleet.freeWhole")], ["partial", t("fleet.freePartial")]],
        match: (n, v) => (freeDevices(n, slots)[v] || 0) > 0 }] : []),
    ],
    sort: "name",
  });
}

function countLink(n, href) {
  return n ? h("a", { href, testid: `link-${href.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "")}` }, t("fleet.show")) : null;
}

export async function fleet(ctx) {
  const [nodes, offers, held] = await Promise.all([get("/v1/nodes"), get("/v1/offers"), heldByNode()]);
  const { milli, live } = held;
  const available = nodes.filter((n) => n.state === "available");
  const total = available.reduce((s, n) => s + n.devices, 0);
  const used = available.reduce((s, n) => s + (milli.get(n.name) || 0), 0);
  const byState = {};
  for (const n of nodes) byState[n.state] = (byState[n.state] || 0) + 1;
  const leasesIn = (state) => live.filter((l) => l.state === state).length;
  const sites = [...new Set(nodes.map((n) => n.site))].sort();
  const siteRows = sites.map((site) => {
    const ns = nodes.filter((n) => n.site === site);
    const av = ns.filter((n) => n.state === "available");
    const dev = av.reduce((s, n) => s + n.devices, 0);
    const m = av.reduce((s, n) => s + (milli.get(n.name) || 0), 0);
    return { site, nodes: ns.length, down: ns.length - av.length, devices: dev, milli: m,
      models: [...new Set(ns.map((n) => n.model))].sort().join(", ") };
  });
  const allocated = (used / Math.max(1, total * 1000));
  const stateForm = nodeStateForm(ctx, nodes, milli, "/fleet");
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("fleet.title")), h("p", { class: "muted" }, t("fleet.note"))),
    h("div", { class: "cards", testid: "fleet-cards" },
      card(t("fleet.sites"), String(sites.length), "card-sites"),
      card(t("fleet.nodes"), String(nodes.length), "card-nodes",
        Object.entries(byState).map(([k, v]) => `${v} ${stateLabel(k)}`).join(" · ")),
      card(t("fleet.down"), String(byState.down || 0), "card-down",
        h("span", {}, t("fleet.downNote", { n: byState.maintenance || 0 }), " ", countLink(byState.down, "#/fleet?state=down"))),
      card(t("fleet.devices"), String(total), "card-devices"),
      card(t("fleet.inUse"), milliStr(used), "card-used", t("fleet.free", { n: milliStr(total * 1000 - used) })),
      card(t("fleet.allocation"), pct(allocated), "card-allocation", h("span", {}, bar(allocated))),
      card(t("fleet.active"), String(leasesIn("active")), "card-leases", countLink(leasesIn("active"), "#/all-leases?state=active")),
      card(t("fleet.suspended"), String(leasesIn("suspended")), "card-suspended",
        countLink(leasesIn("suspended"), "#/all-leases?state=suspended")),
      card(t("fleet.interrupted"), String(leasesIn("interrupted")), "card-interrupted",
        countLink(leasesIn("interrupted"), "#/all-leases?state=interrupted"))),
    h("h2", {}, t("fleet.sitesHead")),
    table([
      { label: t("fleet.col.site"), value: (r) => h("strong", {}, r.site) },
      { label: t("fleet.col.models"), value: (r) => r.models },
      { label: t("fleet.col.nodes"), value: (r) => (r.down ? t("fleet.notAvailable", { nodes: r.nodes, down: r.down }) : String(r.nodes)),
        class: "num" },
      { label: t("fleet.col.devices"), value: (r) => r.devices, class: "num" },
      { label: t("fleet.col.inUse"), value: (r) => milliStr(r.milli), class: "num" },
      { label: t("fleet.col.allocated"), value: (r) => h("span", { class: "barcell" }, bar(r.milli / Math.max(1, r.devices * 1000)),
        pct(r.milli / Math.max(1, r.devices * 1000))) },
    ], siteRows, { testid: "sites", rowTestid: (r) => `site-${r.site}` }),
    h("h2", {}, t("fleet.offersHead")),
    table([
      { label: t("fleet.col.model"), value: (o) => o.model },
      { label: t("fleet.col.site"), value: (o) => o.site },
      { label: t("fleet.col.freeOf"), value: (o) => `${o.free_devices} / ${o.devices}`, class: "num" },
      { label: t("fleet.col.priceDh"), value: (o) => money(o.price_device_hour, 4), class: "num" },
      { label: t("fleet.col.priceP"), value: (o) => money(o.price_p_year), class: "num" },
    ], offers, { testid: "fleet-offers" }),
    h("h2", {}, t("fleet.nodesHead")),
    stateForm.el,
    nodeTable(nodes, milli, "nodes", stateForm.pick, { query: ctx.query, hash: true, slots: held.slots }));
}

function uniq(xs) {
  return [...new Set(xs)].sort();
}

/** Every tenant's leases, with the tenant's name (one /v1/accounts call), filters, sort and pages. */
export async function leases(ctx) {
  // the state filter goes to the API (a refresh of the suspended leases does not load every ended one)
  const state = LEASE_STATES.includes(ctx.query.get("state")) ? ctx.query.get("state") : undefined;
  const [items, accounts] = await Promise.all([all("/v1/leases", { state }, 5000), get("/v1/accounts")]);
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  const rows = items.map((l) => ({ ...l, tenant: names.get(l.tenant_id) || l.tenant_id,
    model: uniq(l.allocations.map((a) => a.model)).join(", "), site: uniq(l.allocations.map((a) => a.site)).join(", ") }));
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("leases.title")), h("p", { class: "muted" }, t("leases.note"))),
    listView({
      columns: [
        { key: "id", label: t("leases.col.lease"), value: (l) => h("a", { href: `#/leases/${encodeURIComponent(l.id)}`, class: "mono" }, l.id) },
        { key: "tenant", label: t("leases.col.tenant"), value: (l) => l.tenant },
        { key: "form", label: t("leases.col.form"), value: (l) => l.form },
        { key: "state", label: t("leases.col.state"), value: (l) => badge(l.state) },
        { key: "devices", label: t("leases.col.devices"), value: (l) => num(l.devices), class: "num" },
        { key: "model", label: t("leases.col.model"), value: (l) => l.model || "—" },
        { key: "site", label: t("leases.col.site"), value: (l) => l.site || "—" },
        { key: "start", label: t("leases.col.start"), value: (l) => when(l.activated_at || l.start), sort: (l) => l.activated_at || l.start },
        { key: "end", label: t("leases.col.end"), value: (l) => when(l.ended_at || l.end), sort: (l) => l.ended_at || l.end },
      ],
      rows, query: ctx.query, testid: "leases", rowTestid: (l) => `lease-${l.id}`, sort: "-start",
      empty: state ? t("leases.noneIn", { state: stateLabel(state) }) : t("leases.empty"),
      search: (l) => [l.id, l.tenant, l.form, l.state, l.model, l.site, ...l.allocations.map((a) => a.node)].join(" "),
      filters: [
        { key: "state", label: t("leases.col.state"), options: LEASE_STATES.map((s) => [s, stateLabel(s)]),
          reload: () => ctx.go(location.hash.slice(1)) },
        { key: "tenant", label: t("leases.col.tenant"), options: optionsOf(rows, "tenant") },
        { key: "model", label: t("leases.col.model"), options: optionsOf(rows.flatMap((l) => l.allocations), "model"),
          match: (l, v) => l.allocations.some((a) => a.model === v) },
        { key: "site", label: t("leases.col.site"), options: optionsOf(rows.flatMap((l) => l.allocations), "site"),
          match: (l, v) => l.allocations.some((a) => a.site === v) },
      ],
    }));
}

function ownLabel(kind) {
  return kind;
}

export async function revenue(ctx) {
  const picker = periodPicker(ctx, "/revenue");
  const period = picker.value;
  const [report, accounts, issued] = await Promise.all([get("/v1/statements/revenue", { period }), get("/v1/accounts"),
    get("/v1/billing/invoices", { period })]);
  const tenants = accounts.filter((a) => a.role === "tenant");
  const drafts = await Promise.all(tenants.map((x) => get(`/v1/invoices/${encodeURIComponent(period)}`, { tenant: x.name })));
  const rows = drafts.map((d, i) => ({ ...d, name: tenants[i].name }))
    .filter((d) => d.lines.length && !["issued", "paid", "void"].includes(d.status));
  const liveInvoices = issued.filter((i) => i.status !== "void");
  // Who each issued charge belongs to: a supplier's share, the commission on suppliers' nodes, and
  // the operator's own lines (no node: usage a metering agent reported without one, fees, packages).
  const split = [
    ...Object.entries(report.by_supplier).map(([supplier, amount]) => ({ to: supplier, kind: t("rev.kind.supplierShare"), amount })),
    { to: t("rev.operator"), kind: t("rev.kind.commission"), amount: report.supplier_commission },
    ...Object.entries(report.operator_own_by || {}).map(([what, amount]) => ({ to: t("rev.operator"),
      kind: t("rev.kind.own", { what: ownLabel(what) }), amount })),
  ].filter((r) => r.amount !== undefined && r.amount !== null && !/^-?0*\.?0*$/.test(String(r.amount)));
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("rev.title", { period }))), picker.el,
    h("h2", {}, t("rev.issued")),
    h("div", { class: "cards", testid: "revenue-cards" },
      card(t("rev.invoices"), String(report.invoices), "rev-invoices"),
      card(t("rev.charges"), yuan(report.charges), "rev-charges"),
      card(t("rev.share"), yuan(report.supplier_share), "rev-share"),
      card(t("rev.commission"), yuan(report.commission), "rev-commission"),
      card(t("rev.tax"), yuan(report.tax)),
      card(t("rev.vouchers"), yuan(report.vouchers)),
      card(t("rev.due"), yuan(report.amount_due)),
      card(t("rev.ledger"), yuan(report.ledger_sum), "rev-ledger", t("rev.ledgerNote"))),
    table([
      { label: t("rev.col.invoice"), value: (i) => h("a", { href: `#/invoices/${encodeURIComponent(i.id)}`, class: "mono" }, i.id) },
      { label: t("rev.col.tenant"), value: (i) => i.tenant },
      { label: t("rev.col.status"), value: (i) => badge(i.status) },
      { label: t("rev.col.total"), value: (i) => yuan(i.total), class: "num" },
      { label: t("rev.col.due"), value: (i) => yuan(i.amount_due), class: "num" },
    ], liveInvoices, { testid: "issued-invoices", rowTestid: (i) => `issued-${i.id}`, empty: t("rev.noneIssued") }),
    liveInvoices.length ? h("h3", {}, t("rev.splitHead")) : null,
    liveInvoices.length ? table([
      { label: t("rev.col.to"), value: (r) => r.to },
      { label: t("rev.col.kind"), value: (r) => r.kind },
      { label: t("rev.col.amount"), value: (r) => yuan(r.amount), class: "num" },
    ], split, { testid: "by-supplier", empty: t("rev.noSplit") }) : null,
    h("h2", {}, t("rev.drafts")),
    table([
      { label: t("rev.col.tenant"), value: (d) => d.name },
      { label: t("rev.col.lines"), value: (d) => d.lines.length, class: "num" },
      { label: t("rev.col.subtotal"), value: (d) => yuan(d.subtotal), class: "num" },
      { label: t("rev.col.total"), value: (d) => yuan(d.total), class: "num" },
      { label: t("rev.col.due"), value: (d) => yuan(d.amount_due), class: "num" },
    ], rows, { testid: "drafts", rowTestid: (d) => `draft-${d.name}`, empty: t("rev.noDrafts") }));
}
