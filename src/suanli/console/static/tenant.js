// Tenant pages: offers, the order form, leases and one lease, the invoice draft and wallet.
// (Lease detail is shared: the operator and a supplier open it from their own lists.)
import { all, download, get, post } from "./api.js";
import { leaseJobs } from "./jobs.js";
import { badge, card, currentPeriod, errorBox, field, h, holdsNow, kv, markFields, money, num, table, text, when, yuan } from "./ui.js";

const FORMS = {
  gpu: "K whole accelerators on one node",
  server: "N whole nodes (bare metal)",
  slice: "a fraction of one accelerator: compute share and memory",
  cluster: "K whole nodes in one fabric domain, all or nothing",
  flops: "an amount of compute in P; the platform picks the hardware",
};
// which optional fields each form uses (the API rejects the others)
const FIELDS = {
  gpu: ["quantity"], server: ["quantity"], cluster: ["quantity"], slice: ["share_pct", "memory_mib"],
  flops: ["p", "min_memory_gib", "topology", "vendors"],
};
const LIVE = ["active", "suspended", "interrupted"];

function uniq(xs) {
  return [...new Set(xs)].sort();
}

function title(text, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, text), ...extra);
}

export async function offers(ctx) {
  const rows = await get("/v1/offers");
  const models = uniq(rows.map((o) => o.model));
  const sites = uniq(rows.map((o) => o.site));
  const model = ctx.query.get("model") || "";
  const site = ctx.query.get("site") || "";
  const shown = rows.filter((o) => (!model || o.model === model) && (!site || o.site === site));
  const filter = (name, values, current) => h("label", {}, `${name} `,
    h("select", { name, onchange: (ev) => {
      const q = new URLSearchParams(ctx.query);
      if (ev.target.value) q.set(name, ev.target.value); else q.delete(name);
      ctx.go(`/offers${q.toString() ? "?" + q : ""}`);
    } }, h("option", { value: "" }, "any"), values.map((v) => h("option", { value: v, selected: v === current }, v))));
  const orderLink = (o) => ctx.me.role === "tenant"
    ? h("a", { class: "button small", href: `#/order?model=${encodeURIComponent(o.model)}&site=${encodeURIComponent(o.site)}`,
      testid: `order-${o.model}-${o.site}` }, "Order")
    : "";
  return h("section", {},
    title("Offers", h("p", { class: "muted" }, "What can be rented now, per accelerator model and site, at list price. "
      + "元/P/年 is the price per PFLOPS of dense FP16 per year; device-hour price = P-year price × P ÷ 8,760.")),
    h("div", { class: "filters" }, filter("model", models, model), filter("site", sites, site)),
    table([
      { label: "Model", value: (o) => h("strong", {}, o.model) },
      { label: "Vendor", value: (o) => o.vendor },
      { label: "Memory", value: (o) => `${o.memory_gib} GiB`, class: "num" },
      { label: "P / device", value: (o) => num(o.p_per_device), class: "num" },
      { label: "Site", value: (o) => h("span", {}, o.site, h("span", { class: "muted" }, ` ${o.region} · ${o.tier}`)) },
      { label: "Free / devices", value: (o) => `${o.free_devices} / ${o.devices}`, class: "num" },
      { label: "元 / device-hour", value: (o) => money(o.price_device_hour, 4), class: "num" },
      { label: "元 / P / 年", value: (o) => money(o.price_p_year, 2), class: "num" },
      { label: "Energy 元 / P-hour", value: (o) => money(o.energy_cost_per_p_hour, 4), class: "num" },
      { label: "", value: orderLink },
    ], shown, { testid: "offers", rowTestid: (o) => `offer-${o.model}-${o.site}`, empty: "No offers match." }));
}

/** "12" -> 12; anything else is sent as typed so the API can say what is wrong with it. */
function intOrRaw(v) {
  return /^-?\d+$/.test(v) ? Number.parseInt(v, 10) : v;
}

export async function order(ctx) {
  const rows = await get("/v1/offers");
  const models = uniq(rows.map((o) => o.model));
  const sites = uniq(rows.map((o) => o.site));
  const vendors = uniq(rows.map((o) => o.vendor));
  const formSel = h("select", { id: "f-form", name: "form" },
    Object.entries(FORMS).map(([k, v]) => h("option", { value: k, selected: k === (ctx.query.get("form") || "gpu") }, `${k} — ${v}`)));
  const modelSel = h("select", { id: "f-model", name: "model" }, h("option", { value: "" }, "any model"),
    models.map((m) => h("option", { value: m, selected: m === ctx.query.get("model") }, m)));
  const siteSel = h("select", { id: "f-site", name: "site" }, h("option", { value: "" }, "any site"),
    sites.map((s) => h("option", { value: s, selected: s === ctx.query.get("site") }, s)));
  const vendorSel = h("select", { id: "f-vendors", name: "vendors" }, h("option", { value: "" }, "any vendor"),
    vendors.map((v) => h("option", { value: v }, v)));
  const topoSel = h("select", { id: "f-topology", name: "topology" },
    ["any", "node", "fabric"].map((t) => h("option", { value: t }, t)));
  const inputs = {
    quantity: text("quantity", "e.g. 1", "1"),
    share_pct: text("share_pct", "1-100, e.g. 25"),
    memory_mib: text("memory_mib", "e.g. 8192"),
    p: text("p", "e.g. 2.5"),
    min_memory_gib: text("min_memory_gib", "e.g. 64"),
    hours: text("hours", "empty = open-ended"),
    start: h("input", { id: "f-start", name: "start", type: "datetime-local" }),
  };
  const status = h("div", { testid: "order-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Place order");
  const optional = {
    quantity: field("Quantity", inputs.quantity, "servers, GPUs or cluster nodes"),
    share_pct: field("Compute share (%)", inputs.share_pct),
    memory_mib: field("Memory (MiB)", inputs.memory_mib),
    p: field("Compute (P)", inputs.p, "PFLOPS of dense FP16"),
    min_memory_gib: field("Min. memory per device (GiB)", inputs.min_memory_gib),
    topology: field("Topology", topoSel, "node: all on one node; fabric: one fabric domain"),
    vendors: field("Vendor", vendorSel),
  };
  const sync = () => {
    for (const [name, el] of Object.entries(optional)) el.hidden = !FIELDS[formSel.value].includes(name);
  };
  formSel.addEventListener("change", sync);
  sync();
  const form = h("form", { class: "order", testid: "order-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const f = formSel.value;
    const body = { form: f };
    const used = FIELDS[f];
    for (const name of ["quantity", "share_pct", "memory_mib", "min_memory_gib"]) {
      const v = inputs[name].value.trim();
      if (used.includes(name) && v !== "") body[name] = intOrRaw(v);
    }
    if (used.includes("p") && inputs.p.value.trim()) body.p = inputs.p.value.trim();
    if (used.includes("topology") && topoSel.value !== "any") body.topology = topoSel.value;
    if (used.includes("vendors") && vendorSel.value) body.vendors = [vendorSel.value];
    if (modelSel.value) body.models = [modelSel.value];
    if (siteSel.value) body.sites = [siteSel.value];
    if (inputs.hours.value.trim()) body.hours = inputs.hours.value.trim();
    if (inputs.start.value) body.start = new Date(inputs.start.value).toISOString();
    submit.disabled = true;
    status.replaceChildren(h("p", { class: "muted" }, "Placing the order…"));
    try {
      const o = await post("/v1/orders", body, { idempotent: true });
      ctx.flash(`Order ${o.id} ${o.status}: lease ${o.lease_id}.`, "ok", { next: true });
      ctx.go(`/leases/${encodeURIComponent(o.lease_id)}`);
    } catch (e) {
      status.replaceChildren(errorBox(e, "order-error"));
      markFields(form, e, { models: "model", sites: "site" });
    } finally {
      submit.disabled = false;
    }
  } },
  field("Product form", formSel),
  h("div", { class: "grid2" }, field("Model", modelSel), field("Site", siteSel)),
  h("div", { class: "grid2" }, optional.quantity, optional.share_pct, optional.memory_mib, optional.p,
    optional.min_memory_gib, optional.topology, optional.vendors),
  h("div", { class: "grid2" }, field("Term (hours)", inputs.hours, "leave empty for open-ended; end it any time"),
    field("Start (your local time)", inputs.start, "empty = now; a future time makes a reservation")),
  h("div", { class: "actions" }, submit),
  status);
  return h("section", {}, title("Order compute",
    h("p", { class: "muted" }, "Placement happens at once: you get a lease on specific devices, billed per second "
      + "at the list price of each device's model and site.")), form);
}

function leaseColumns(extra = []) {
  return [
    { label: "Lease", value: (l) => h("a", { href: `#/leases/${encodeURIComponent(l.id)}`, class: "mono" }, l.id) },
    ...extra,
    { label: "Form", value: (l) => l.form },
    { label: "State", value: (l) => badge(l.state) },
    { label: "Devices", value: (l) => num(l.devices), class: "num" },
    { label: "Model", value: (l) => uniq(l.allocations.map((a) => a.model)).join(", ") || "—" },
    { label: "Site", value: (l) => uniq(l.allocations.map((a) => a.site)).join(", ") || "—" },
    { label: "Start", value: (l) => when(l.activated_at || l.start) },
    { label: "End", value: (l) => when(l.ended_at || l.end) },
  ];
}

export function stateFilter(ctx, base) {
  const current = ctx.query.get("state") || "";
  return h("div", { class: "filters" }, h("label", {}, "state ",
    h("select", { name: "state", onchange: (ev) => ctx.go(ev.target.value ? `${base}?state=${ev.target.value}` : base) },
      ["", "active", "scheduled", "suspended", "interrupted", "ended", "cancelled"].map((s) =>
        h("option", { value: s, selected: s === current }, s || "all")))));
}

export async function leases(ctx, extraColumns = [], base = "/leases") {
  const state = ctx.query.get("state") || undefined;
  const items = await all("/v1/leases", { state });
  return h("section", {}, title("Leases", ctx.me.role === "tenant"
    ? h("a", { class: "button", href: "#/order" }, "Order compute") : null),
  stateFilter(ctx, base),
  table(leaseColumns(extraColumns), items, { testid: "leases", rowTestid: (l) => `lease-${l.id}`,
    empty: state ? `No ${state} leases.` : "No leases yet." }));
}

export async function lease(ctx) {
  const [id] = ctx.params;
  const l = await get(`/v1/leases/${encodeURIComponent(id)}`);
  const status = h("div", {});
  const actions = h("div", { class: "actions" });
  if (LIVE.includes(l.state) && ctx.me.role !== "supplier") {
    const confirmRow = h("div", { class: "confirm", hidden: true, testid: "end-confirm" },
      h("span", {}, `End lease ${l.id} now? Its devices are released and billing stops at this second.`),
      h("button", { type: "button", class: "danger", onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await post(`/v1/leases/${encodeURIComponent(l.id)}/end`, { reason: `ended in the console by ${ctx.me.name}` });
          ctx.flash(`Lease ${l.id} ended.`);
          ctx.go(`/leases/${encodeURIComponent(l.id)}`);
        } catch (e) {
          status.replaceChildren(errorBox(e, "end-error"));
          ev.target.disabled = false;
        }
      } }, "End now"),
      h("button", { type: "button", onclick: () => { confirmRow.hidden = true; } }, "Keep it"));
    actions.append(h("button", { type: "button", class: "danger", onclick: () => { confirmRow.hidden = false; } },
      "End lease"), confirmRow);
  }
  const extend = ["scheduled", "active"].includes(l.state) && ctx.me.role !== "supplier"
    ? (l.end ? extendForm(ctx, l) : h("p", { class: "muted", testid: "extend-note" },
      "Open-ended lease: it runs until you end it, so there is no end to extend."))
    : null;
  const jobs = ctx.me.role === "supplier" ? [] : await leaseJobs(ctx, l);
  const open = l.allocations.filter(holdsNow);
  const past = l.allocations.filter((a) => !holdsNow(a));
  const devCols = [
    { label: "Node", value: (a) => h("span", { class: "mono" }, a.node) },
    { label: "Device", value: (a) => `#${a.device}`, class: "num" },
    { label: "Model", value: (a) => a.model },
    { label: "Site", value: (a) => a.site },
    { label: "Fabric", value: (a) => a.fabric },
    { label: "Share", value: (a) => a.milli === 1000 ? "whole" : `${(a.milli / 10).toFixed(1)} %`, class: "num" },
    { label: "Memory", value: (a) => a.memory_mib ? `${num(String(a.memory_mib / 1024), 1)} GiB` : "—", class: "num" },
    { label: "From", value: (a) => when(a.start) },
    { label: "Until", value: (a) => when(a.end) },
  ];
  return h("section", {},
    title(`Lease ${l.id}`, badge(l.state)),
    kv([
      ["State", badge(l.state)], ["Form", l.form], ["Devices", num(l.devices)],
      ["Start", when(l.start)], ["Activated", when(l.activated_at)], ["Ends", l.end ? when(l.end) : "open-ended"],
      ["Ended", when(l.ended_at)], ["Reason", l.reason || "—"], ["Order", h("span", { class: "mono" }, l.order_id)],
      ...(ctx.me.role === "tenant" ? [] : [["Tenant", h("span", { class: "mono" }, l.tenant_id)]]),
      ["Placement", l.placement || "—"],
    ], "lease-facts"),
    actions, status, extend,
    h("h2", {}, open.length ? "Devices" : "Devices (released)"),
    table(devCols, open.length ? open : past, { testid: "devices", empty: "No devices held." }),
    open.length && past.length ? [h("h2", {}, "Earlier devices"), table(devCols, past, { testid: "past-devices" })] : null,
    h("h2", {}, "Events"),
    table([
      { label: "At", value: (e) => when(e.at) },
      { label: "From", value: (e) => e.from_state },
      { label: "To", value: (e) => badge(e.to_state) },
      { label: "By", value: (e) => e.actor || "system" },
      { label: "Reason", value: (e) => e.reason },
    ], l.events || [], { testid: "events", empty: "No events." }),
    jobs,
    ctx.me.role === "tenant" ? h("p", {}, h("a", { href: "#/billing" }, "See this month's invoice draft →")) : null);
}

function extendForm(ctx, l) {
  const hours = text("extend_hours", "e.g. 24", "", "f");
  const status = h("div", { testid: "extend-status" });
  const submit = h("button", { type: "submit" }, "Extend");
  return h("form", { class: "panel inline", testid: "extend-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      // sent as typed: the API says what is wrong with a bad value and what it allows
      const after = await post(`/v1/leases/${encodeURIComponent(l.id)}/extend`, { hours: hours.value.trim() });
      ctx.flash(`Lease ${l.id} now ends ${when(after.end)}.`);
      ctx.go(`/leases/${encodeURIComponent(l.id)}`);
    } catch (e) {
      status.replaceChildren(errorBox(e, "extend-error"));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h3", {}, "Extend this lease"),
  h("div", { class: "row" }, field("Add hours", hours, `ends ${when(l.end)} now; the same devices must be free for the added time`),
    submit),
  status);
}

export function invoiceLines(lines) {
  return table([
    { label: "#", value: (x) => x.line_no, class: "num" },
    { label: "Description", value: (x) => x.description || `${x.kind}: ${x.meter.replaceAll("_", " ")}` },
    { label: "Lease", value: (x) => x.lease ? h("a", { href: `#/leases/${encodeURIComponent(x.lease)}`, class: "mono" }, x.lease) : "—" },
    { label: "Model", value: (x) => x.model || "—" },
    { label: "Site", value: (x) => x.site || "—" },
    { label: "Node", value: (x) => x.node || "—" },
    { label: "Quantity", value: (x) => `${num(x.quantity, 6)} ${x.price_unit}`, class: "num" },
    { label: "Unit price", value: (x) => money(x.unit_price, 6), class: "num" },
    { label: "Amount", value: (x) => money(x.amount), class: "num" },
  ], lines, { testid: "invoice-lines", rowTestid: (x) => `line-${x.line_no}`, empty: "No charges in this period yet." });
}

export function invoiceTotals(d) {
  return kv([
    ["Subtotal", yuan(d.subtotal)], ["Tax", yuan(d.tax)], ["Total", yuan(d.total)],
    ["Vouchers (算力券)", yuan(d.vouchers)], ["Credits", yuan(d.credits)], ["Wallet", yuan(d.wallet)],
    ["Amount due", h("strong", { testid: "amount-due" }, yuan(d.amount_due))],
  ], "invoice-totals");
}

export function periodPicker(ctx, base, { allowEmpty = false } = {}) {
  const value = ctx.query.has("period") ? ctx.query.get("period") : (allowEmpty ? "" : currentPeriod());
  const input = h("input", { name: "period", type: "text", value, placeholder: allowEmpty ? "all months" : "YYYY-MM",
    size: 9, "aria-label": "period (YYYY-MM)" });
  return { value, el: h("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    ctx.go(`${base}?period=${encodeURIComponent(input.value.trim())}`);
  } }, h("label", {}, "month ", input), h("button", { type: "submit" }, "Show")) };
}

/** Buttons that download an issued invoice as HTML (printable), CSV or JSON, through the API. */
export function invoiceDownloads(inv, status) {
  const get1 = (format) => h("button", { type: "button", class: "small", testid: `download-${format}-${inv.id}`,
    title: `Download invoice ${inv.id} as ${format.toUpperCase()}`, onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await download(`/v1/billing/invoices/${encodeURIComponent(inv.id)}`, `suanli-${inv.tenant}-${inv.period}-${inv.id}.${format}`,
          { format });
      } catch (e) {
        status.replaceChildren(errorBox(e, "download-error"));
      } finally {
        ev.target.disabled = false;
      }
    } }, format.toUpperCase());
  return h("span", { class: "buttons" }, get1("html"), get1("csv"), get1("json"));
}

/** The columns of a list of issued invoices (shared by the tenant's billing and the operator's tenant page). */
export function invoiceColumns(status) {
  return [
    { label: "Invoice", value: invoiceLink },
    { label: "Month", value: (i) => i.period },
    { label: "Status", value: (i) => badge(i.status) },
    { label: "Total", value: (i) => yuan(i.total), class: "num" },
    { label: "Amount due", value: (i) => yuan(i.amount_due), class: "num" },
    { label: "Issued", value: (i) => when(i.issued_at) },
    { label: "Download", value: (i) => invoiceDownloads(i, status) },
  ];
}

export function invoiceLink(inv) {
  return h("a", { href: `#/invoices/${encodeURIComponent(inv.id)}`, class: "mono" }, inv.id);
}

/** One issued invoice as the ledger holds it (a tenant its own; the operator any). */
export async function invoice(ctx) {
  const [id] = ctx.params;
  const inv = await get(`/v1/billing/invoices/${encodeURIComponent(id)}`);
  const status = h("div", {});
  return h("section", {},
    title(`Invoice ${inv.id}`, badge(inv.status)),
    kv([
      ["Tenant", inv.tenant], ["Month", inv.period], ["Status", badge(inv.status)], ["Currency", inv.currency],
      ["Issued", when(inv.issued_at)], ["Paid", when(inv.paid_at)], ["Voided", when(inv.voided_at)],
      ["Download", invoiceDownloads(inv, status)],
    ], "invoice-facts"),
    status,
    h("h2", {}, "Lines"),
    invoiceLines(inv.lines),
    invoiceTotals(inv),
    inv.credit_notes.length ? [h("h2", {}, "Credit notes"), table([
      { label: "Credit note", value: (n) => h("span", { class: "mono" }, n.id) },
      { label: "Amount", value: (n) => yuan(n.amount), class: "num" },
      { label: "Reason", value: (n) => n.reason },
      { label: "To wallet", value: (n) => (n.to_wallet ? "yes" : "no") },
      { label: "At", value: (n) => when(n.at) },
    ], inv.credit_notes, { testid: "credit-notes" })] : null,
    h("p", {}, ctx.me.role === "operator"
      ? h("a", { href: `#/tenants/${encodeURIComponent(inv.tenant)}` }, `Tenant ${inv.tenant} →`)
      : h("a", { href: "#/billing" }, "Billing →")));
}

export async function billing(ctx) {
  const picker = periodPicker(ctx, "/billing");
  const [draft, wallet, issued] = await Promise.all([
    get(`/v1/invoices/${encodeURIComponent(picker.value)}`), get("/v1/wallet"), get("/v1/billing/invoices")]);
  const downloads = h("div", {});
  return h("section", {},
    title("Billing"),
    h("div", { class: "cards", testid: "wallet" },
      card("Wallet balance", yuan(wallet.balance), "wallet-balance"),
      card("Credits", yuan(wallet.credits)),
      card("Accrued, not yet invoiced", yuan(wallet.accrued)),
      card("Burn rate", `${yuan(wallet.burn_per_hour, 4)} / h`),
      card("Runway", wallet.runway_hours === null ? "—" : `${num(wallet.runway_hours, 1)} h`,
        undefined, wallet.prepaid ? `prepaid · ${wallet.standing}` : "billed monthly (no runway rule)")),
    h("h2", {}, `Invoice draft ${draft.period}`),
    h("p", { class: "muted", testid: "draft-meta" }, `${draft.status} as of ${when(draft.as_of)}; ${draft.records} metered records. `
      + `Rounding: ${draft.rounding}.`),
    picker.el,
    invoiceLines(draft.lines),
    invoiceTotals(draft),
    h("div", { class: "actions" }, h("button", { type: "button", testid: "download-draft", onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await download(`/v1/invoices/${encodeURIComponent(draft.period)}`,
          `suanli-${ctx.me.name}-${draft.period}-${draft.status === "preview" ? "draft" : draft.id}.json`);
      } catch (e) {
        downloads.replaceChildren(errorBox(e, "download-error"));
      } finally {
        ev.target.disabled = false;
      }
    } }, draft.status === "preview" ? "Download draft (JSON)" : "Download (JSON)")),
    h("h2", {}, "Issued invoices"),
    downloads,
    table(invoiceColumns(downloads), issued, { testid: "issued-invoices", rowTestid: (i) => `invoice-${i.id}`, empty: "No invoices issued yet: a month is invoiced after it ends." }));
}
