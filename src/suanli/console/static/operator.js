// Operator pages: the fleet (sites, nodes, devices free/used, allocation, node state), leases of
// every tenant, revenue (issued invoices and this month's drafts to date).
import { all, get, post } from "./api.js";
import { bar, badge, card, confirmRow, errorBox, field, h, holdsNow, money, num, panel, pct, select, table, text, yuan } from "./ui.js";
import { leases as leaseList, periodPicker } from "./tenant.js";

/** Device-equivalents held now per node, from the open allocations of live leases (milli = 1/1000 device). */
export async function heldByNode() {
  const live = [];
  for (const state of ["active", "suspended", "interrupted"]) live.push(...await all("/v1/leases", { state }));
  const milli = new Map();
  for (const l of live) {
    if (l.state !== "active") continue; // suspended/interrupted leases have given their devices up
    for (const a of l.allocations) if (holdsNow(a)) milli.set(a.node, (milli.get(a.node) || 0) + a.milli);
  }
  return { milli, live };
}

function milliStr(m) {
  return num(String(m / 1000), 3);
}

const NODE_STATES = {
  available: "available: leases may be placed on it",
  maintenance: "maintenance: no new leases; planned work",
  down: "down: failed; no new leases",
};

/**
 * The form that changes a node's state (operator, or a supplier for its own nodes): pick the node,
 * the state and a reason; taking a node out of service asks for confirmation first and says how
 * much of it live leases hold. Returns { el, pick(name) } so a row's button can preselect its node.
 */
export function nodeStateForm(ctx, nodes, milli, back) {
  const nodeSel = select("node", nodes.map((n) => [n.name, `${n.name} (${n.state})`]), undefined, "ns");
  const stateSel = select("state", Object.entries(NODE_STATES), "maintenance", "ns");
  const reason = text("reason", "e.g. fan swap, ticket #123", "", "ns");
  const status = h("div", { testid: "node-state-status" });
  const send = async () => {
    const name = nodeSel.value;
    const r = await post(`/v1/nodes/${encodeURIComponent(name)}/state`, { state: stateSel.value, reason: reason.value.trim() });
    ctx.flash(`Node ${r.name} is ${r.state}${r.reason ? ` (${r.reason})` : ""}.`);
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
    const effect = stateSel.value === "down"
      ? "Leases on it are interrupted at the next health check (SLA credit; re-placed elsewhere where possible)."
      : "Leases already on it keep running.";
    confirm.open(`Mark ${n.name} ${stateSel.value}${reason.value.trim() ? ` (${reason.value.trim()})` : ""}? `
      + `No new lease is placed on it. ${effect} `
      + (held ? `Live leases hold ${milliStr(held)} of its ${n.devices} devices now.` : "No live lease holds any of its devices now."));
  } },
  h("div", { class: "row" }, field("Node", nodeSel), field("New state", stateSel), field("Reason", reason),
    h("button", { type: "submit", class: "primary" }, "Apply")));
  const el = panel("Change a node's state", "node-state-form", form, confirm.row, status);
  return {
    el,
    pick(name) {
      nodeSel.value = name;
      el.scrollIntoView({ block: "nearest" });
      stateSel.focus();
    },
  };
}

export function nodeTable(nodes, milli, testid = "nodes", onChange) {
  return table([
    { label: "Node", value: (n) => h("span", { class: "mono" }, n.name) },
    { label: "Site", value: (n) => n.site },
    { label: "Supplier", value: (n) => n.supplier },
    { label: "Model", value: (n) => n.model },
    { label: "Devices", value: (n) => n.devices, class: "num" },
    { label: "In use", value: (n) => milliStr(milli.get(n.name) || 0), class: "num" },
    { label: "Free", value: (n) => n.state === "available" ? milliStr(n.devices * 1000 - (milli.get(n.name) || 0)) : "0", class: "num" },
    { label: "Allocated", value: (n) => h("span", { class: "barcell" }, bar((milli.get(n.name) || 0) / (n.devices * 1000)),
      pct((milli.get(n.name) || 0) / (n.devices * 1000))) },
    { label: "State", value: (n) => h("span", {}, badge(n.state), n.state_reason ? h("span", { class: "muted" }, ` ${n.state_reason}`) : null) },
    ...(onChange ? [{ label: "", value: (n) => h("button", { type: "button", class: "small", testid: `change-${n.name}`,
      onclick: () => onChange(n.name) }, "Change state…") }] : []),
  ], nodes, { testid, rowTestid: (n) => `node-${n.name}` });
}

export async function fleet(ctx) {
  const [nodes, offers, held] = await Promise.all([get("/v1/nodes"), get("/v1/offers"), heldByNode()]);
  const { milli, live } = held;
  const available = nodes.filter((n) => n.state === "available");
  const total = available.reduce((s, n) => s + n.devices, 0);
  const used = available.reduce((s, n) => s + (milli.get(n.name) || 0), 0);
  const byState = {};
  for (const n of nodes) byState[n.state] = (byState[n.state] || 0) + 1;
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
    h("div", { class: "page-head" }, h("h1", {}, "Fleet"),
      h("p", { class: "muted" }, "Allocation rate (分配率) = device capacity held by active leases ÷ capacity of available nodes.")),
    h("div", { class: "cards", testid: "fleet-cards" },
      card("Sites", String(sites.length), "card-sites"),
      card("Nodes", String(nodes.length), "card-nodes", Object.entries(byState).map(([k, v]) => `${v} ${k}`).join(" · ")),
      card("Devices (available nodes)", String(total), "card-devices"),
      card("In use", milliStr(used), "card-used", `${milliStr(total * 1000 - used)} free`),
      card("Allocation rate", pct(allocated), "card-allocation", h("span", {}, bar(allocated))),
      card("Live leases", String(live.length), "card-leases")),
    h("h2", {}, "Sites"),
    table([
      { label: "Site", value: (r) => h("strong", {}, r.site) },
      { label: "Models", value: (r) => r.models },
      { label: "Nodes", value: (r) => r.down ? `${r.nodes} (${r.down} not available)` : String(r.nodes), class: "num" },
      { label: "Devices", value: (r) => r.devices, class: "num" },
      { label: "In use", value: (r) => milliStr(r.milli), class: "num" },
      { label: "Allocated", value: (r) => h("span", { class: "barcell" }, bar(r.milli / Math.max(1, r.devices * 1000)),
        pct(r.milli / Math.max(1, r.devices * 1000))) },
    ], siteRows, { testid: "sites", rowTestid: (r) => `site-${r.site}` }),
    h("h2", {}, "Offers by model and site"),
    table([
      { label: "Model", value: (o) => o.model },
      { label: "Site", value: (o) => o.site },
      { label: "Free / devices", value: (o) => `${o.free_devices} / ${o.devices}`, class: "num" },
      { label: "元 / device-hour", value: (o) => money(o.price_device_hour, 4), class: "num" },
      { label: "元 / P / 年", value: (o) => money(o.price_p_year), class: "num" },
    ], offers, { testid: "fleet-offers" }),
    h("h2", {}, "Nodes"),
    stateForm.el,
    nodeTable(nodes, milli, "nodes", stateForm.pick));
}

export async function leases(ctx) {
  const accounts = await get("/v1/accounts");
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  return leaseList(ctx, [{ label: "Tenant", value: (l) => names.get(l.tenant_id) || l.tenant_id }], "/all-leases");
}

export async function revenue(ctx) {
  const picker = periodPicker(ctx, "/revenue");
  const period = picker.value;
  const [report, accounts] = await Promise.all([get("/v1/statements/revenue", { period }), get("/v1/accounts")]);
  const tenants = accounts.filter((a) => a.role === "tenant");
  const drafts = await Promise.all(tenants.map((t) => get(`/v1/invoices/${encodeURIComponent(period)}`, { tenant: t.name })));
  const rows = drafts.map((d, i) => ({ ...d, name: tenants[i].name })).filter((d) => d.lines.length);
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, `Revenue ${period}`)), picker.el,
    h("h2", {}, "Issued invoices"),
    h("div", { class: "cards", testid: "revenue-cards" },
      card("Invoices", String(report.invoices), "rev-invoices"),
      card("Charges", yuan(report.charges), "rev-charges"),
      card("Supplier share", yuan(report.supplier_share), "rev-share"),
      card("Commission", yuan(report.commission), "rev-commission"),
      card("Tax", yuan(report.tax)),
      card("Vouchers", yuan(report.vouchers)),
      card("Amount due", yuan(report.amount_due)),
      card("Ledger sum", yuan(report.ledger_sum), "rev-ledger", "always zero: every entry balances")),
    table([
      { label: "Supplier", value: (r) => r[0] },
      { label: "Share", value: (r) => yuan(r[1]), class: "num" },
    ], Object.entries(report.by_supplier), { testid: "by-supplier", empty: "No issued invoices in this month." }),
    h("h2", {}, "Drafts to date (not yet issued)"),
    table([
      { label: "Tenant", value: (d) => d.name },
      { label: "Lines", value: (d) => d.lines.length, class: "num" },
      { label: "Subtotal", value: (d) => yuan(d.subtotal), class: "num" },
      { label: "Total", value: (d) => yuan(d.total), class: "num" },
      { label: "Amount due", value: (d) => yuan(d.amount_due), class: "num" },
    ], rows, { testid: "drafts", rowTestid: (d) => `draft-${d.name}`, empty: "No tenant has charges in this month yet." }));
}
