// Operator pages: the fleet (sites, nodes, devices free/used, allocation, node state), leases of
// every tenant, revenue (issued invoices and this month's drafts to date).
import { all, get } from "./api.js";
import { bar, badge, card, h, money, num, pct, table, yuan } from "./ui.js";
import { leases as leaseList, periodPicker } from "./tenant.js";

/** Device-equivalents held now per node, from the open allocations of live leases (milli = 1/1000 device). */
export async function heldByNode() {
  const live = [];
  for (const state of ["active", "suspended", "interrupted"]) live.push(...await all("/v1/leases", { state }));
  const milli = new Map();
  for (const l of live) {
    if (l.state !== "active") continue; // suspended/interrupted leases have given their devices up
    for (const a of l.allocations) if (!a.end) milli.set(a.node, (milli.get(a.node) || 0) + a.milli);
  }
  return { milli, live };
}

function milliStr(m) {
  return num(String(m / 1000), 3);
}

export function nodeTable(nodes, milli, testid = "nodes") {
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
  ], nodes, { testid, rowTestid: (n) => `node-${n.name}` });
}

export async function fleet() {
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
    nodeTable(nodes, milli));
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
