// Operator money pages: the list price book (set a price, effective-dated, in either unit) and
// tenants (wallet top-up, credit grants, issuing an invoice for a month that is over, recording it
// paid, voiding it, downloading it). Every amount is sent as the typed decimal string and shown as
// the API returns it: the console computes no money.
import { get, post } from "./api.js";
import {
  card, confirmRow, field, h, isoFromLocal, money, num, panel, prevPeriod, select, table, text, when, yuan,
} from "./ui.js";
import { invoiceColumns } from "./tenant.js";

const UNITS = [["device_hour", "元 / device-hour"], ["p_year", "元 / P / 年"]];
const UNIT_LABEL = Object.fromEntries(UNITS);

function head(title, note) {
  return h("div", { class: "page-head" }, h("h1", {}, title), note ? h("p", { class: "muted" }, note) : null);
}

/** In force / scheduled / superseded, per (model, site) history, as of now (display only). */
function priceStatus(entries) {
  const now = Date.now();
  const byKey = new Map();
  for (const e of entries) {
    const k = `${e.model}\u0000${e.site ?? ""}`;
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k).push(e);
  }
  const status = new Map();
  for (const list of byKey.values()) {
    const past = list.filter((e) => Date.parse(e.effective_from) <= now)
      .sort((a, b) => Date.parse(b.effective_from) - Date.parse(a.effective_from));
    for (const e of list) status.set(e, Date.parse(e.effective_from) > now ? "scheduled" : (e === past[0] ? "in force" : "superseded"));
  }
  return status;
}

export async function prices(ctx) {
  const [entries, catalog, nodes] = await Promise.all([get("/v1/prices"), get("/v1/catalog"), get("/v1/nodes")]);
  const used = new Set(nodes.map((n) => n.model));
  const models = catalog.filter((m) => used.has(m.name)).concat(catalog.filter((m) => !used.has(m.name)));
  const sites = [...new Set(nodes.map((n) => n.site))].sort();
  const modelSel = select("model", models.map((m) => [m.name, `${m.name} (${num(m.p, 4)} P${used.has(m.name) ? "" : ", not in the fleet"})`]),
    ctx.query.get("model") || undefined, "p");
  const siteSel = select("site", [["", "every site (the model's default price)"], ...sites.map((s) => [s, s])],
    ctx.query.get("site") || "", "p");
  const unitSel = select("unit", UNITS, "device_hour", "p");
  const amount = text("amount", "e.g. 12.50", "", "p");
  const from = h("input", { id: "p-effective_from", name: "effective_from", type: "datetime-local" });
  const status = h("div", { testid: "price-status" });
  const confirm = confirmRow({ testid: "price-confirm", status, danger: false, confirmLabel: "Set price", errorTestid: "price-error",
    form: () => form, run: async () => {
      const body = { model: modelSel.value, amount: amount.value.trim(), unit: unitSel.value };
      if (siteSel.value) body.site = siteSel.value;
      const eff = isoFromLocal(from.value);
      if (eff) body.effective_from = eff;
      const e = await post("/v1/prices", body);
      ctx.flash(`${e.model}${e.site ? ` at ${e.site}` : ""}: ${money(e.device_hour, 4)} 元/device-hour = ${money(e.p_year, 2)} 元/P/年 `
        + `from ${when(e.effective_from)}.`);
      ctx.go("/prices");
    } });
  const form = h("form", { novalidate: true, testid: "price-form", onsubmit: (ev) => {
    ev.preventDefault();
    const where = siteSel.value ? `at ${siteSel.value}` : "at every site without its own price";
    confirm.open(`Set the list price of ${modelSel.value} ${where} to ${amount.value.trim() || "(empty)"} `
      + `${UNIT_LABEL[unitSel.value]} from ${from.value ? when(isoFromLocal(from.value)) : "now"}? `
      + "Usage from then on is billed at it (a lease spanning the change is billed piecewise); earlier usage keeps its price.");
  } },
  h("div", { class: "grid3" }, field("Model", modelSel), field("Site", siteSel), field("Unit", unitSel),
    field("Amount", amount, "a decimal number; the other unit is derived from the model's P"),
    field("Effective from (your local time)", from, "empty = now; a later time schedules the change")),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Set price…")));
  const st = priceStatus(entries);
  const rows = [...entries].sort((a, b) => a.model.localeCompare(b.model) || (a.site ?? "").localeCompare(b.site ?? "")
    || Date.parse(b.effective_from) - Date.parse(a.effective_from));
  return h("section", {},
    head("Prices", "List prices per accelerator model, optionally per site (a site's own price wins over the model's "
      + "default), effective-dated, entered in either unit and shown in both: device-hour price = P-year price × P ÷ 8,760."),
    panel("Set a list price", "price-panel", form, confirm.row, status),
    h("h2", {}, "Price book"),
    table([
      { label: "Model", value: (e) => h("strong", {}, e.model) },
      { label: "Site", value: (e) => e.site || h("span", { class: "muted" }, "every site") },
      { label: "Entered", value: (e) => `${money(e.amount, 6)} ${UNIT_LABEL[e.unit] || e.unit}`, class: "num" },
      { label: "元 / device-hour", value: (e) => money(e.device_hour, 4), class: "num" },
      { label: "元 / P / 年", value: (e) => money(e.p_year, 2), class: "num" },
      { label: "Effective from", value: (e) => when(e.effective_from) },
      { label: "Status", value: (e) => h("span", { class: `badge pr-${st.get(e).replace(" ", "-")}` }, st.get(e)) },
    ], rows, { testid: "price-book", rowTestid: (e) => `price-${e.model}-${e.site || "all"}-${e.effective_from}`,
      empty: "No prices yet: nothing can be offered until a model has one." }),
    h("p", {}, h("a", { href: "#/offers" }, "See the offers at the prices in force →")));
}

export async function tenants() {
  const [accounts, invoices] = await Promise.all([get("/v1/accounts"), get("/v1/billing/invoices")]);
  const list = accounts.filter((a) => a.role === "tenant");
  const wallets = await Promise.all(list.map((t) => get("/v1/wallet", { tenant: t.name })));
  const open = (name) => invoices.filter((i) => i.tenant === name && i.status === "issued");
  return h("section", {},
    head("Tenants", "Wallets and invoices per tenant. Open one to top up its wallet, grant a credit, or issue, settle, "
      + "void and download its invoices."),
    table([
      { label: "Tenant", value: (r) => h("a", { href: `#/tenants/${encodeURIComponent(r.t.name)}`, testid: `open-${r.t.name}` }, r.t.name) },
      { label: "Wallet", value: (r) => yuan(r.w.balance), class: "num" },
      { label: "Credits", value: (r) => yuan(r.w.credits), class: "num" },
      { label: "Burn / h", value: (r) => yuan(r.w.burn_per_hour, 4), class: "num" },
      { label: "Runway", value: (r) => (r.w.runway_hours === null ? "—" : `${num(r.w.runway_hours, 1)} h`), class: "num" },
      { label: "Standing", value: (r) => r.w.standing },
      { label: "Unpaid invoices", value: (r) => String(open(r.t.name).length), class: "num" },
    ], list.map((t, i) => ({ t, w: wallets[i] })), { testid: "tenants", rowTestid: (r) => `tenant-${r.t.name}`, empty: "No tenants yet." }));
}

function moneyForm({ id, heading, button, fields, question, run, ctx, back, noun }) {
  const status = h("div", { testid: `${id}-status` });
  const confirm = confirmRow({ testid: `${id}-confirm`, status, danger: false, confirmLabel: button, errorTestid: `${id}-error`,
    form: () => form, run: async () => {
      const message = await run();
      ctx.flash(message);
      ctx.go(back);
    } });
  const form = h("form", { novalidate: true, testid: `${id}-form`, onsubmit: (ev) => {
    ev.preventDefault();
    confirm.open(question());
  } }, h("div", { class: "row" }, ...fields, h("button", { type: "submit", class: "primary" }, `${noun}…`)));
  return panel(heading, `${id}-panel`, form, confirm.row, status);
}

export async function tenant(ctx) {
  const [name] = ctx.params;
  const [wallet, invoices] = await Promise.all([get("/v1/wallet", { tenant: name }), get("/v1/billing/invoices", { tenant: name })]);
  const back = `/tenants/${encodeURIComponent(name)}`;
  const amountTop = text("amount", "e.g. 1000.00", "", "top");
  const reference = text("reference", "bank transfer no., optional", "", "top");
  const topUp = moneyForm({ id: "top-up", heading: "Top up the wallet", noun: "Top up", button: "Record top-up", ctx, back,
    fields: [field("Amount (元)", amountTop), field("Reference", reference)],
    question: () => `Record ${amountTop.value.trim() || "(empty)"} 元 received into ${name}'s wallet`
      + `${reference.value.trim() ? ` (ref ${reference.value.trim()})` : ""}? It is posted to the ledger; suspended leases resume if it now covers them.`,
    run: async () => {
      const w = await post("/v1/wallet/top-ups", { tenant: name, amount: amountTop.value.trim(), reference: reference.value.trim() });
      return `${name}'s wallet is now ${yuan(w.balance)}.`;
    } });
  const amountCr = text("amount", "e.g. 200.00", "", "cr");
  const reason = text("reason", "e.g. outage compensation (required)", "", "cr");
  const credit = moneyForm({ id: "credit", heading: "Grant a credit", noun: "Grant", button: "Grant credit", ctx, back,
    fields: [field("Amount (元)", amountCr), field("Reason", reason)],
    question: () => `Grant ${name} a credit of ${amountCr.value.trim() || "(empty)"} 元 (${reason.value.trim() || "no reason"})? `
      + "It is spent on its next invoices after vouchers and before wallet cash.",
    run: async () => {
      const w = await post("/v1/wallet/credits", { tenant: name, amount: amountCr.value.trim(), reason: reason.value.trim() });
      return `${name} now has ${yuan(w.credits)} of credits.`;
    } });
  const period = text("period", "YYYY-MM", prevPeriod(), "inv");
  const issue = moneyForm({ id: "issue", heading: "Issue an invoice for a month that is over", noun: "Issue",
    button: "Issue invoice", ctx, back, fields: [field("Month", period)],
    question: () => `Issue ${name}'s invoice for ${period.value.trim() || "(empty)"}? Its usage is rated and posted to the `
      + "ledger; vouchers, credits and the wallet are applied. Only voiding undoes it.",
    run: async () => {
      const inv = await post("/v1/billing/invoices", { tenant: name, period: period.value.trim() });
      return `Invoice ${inv.id} for ${inv.period} issued: total ${yuan(inv.total)}, amount due ${yuan(inv.amount_due)} (${inv.status}).`;
    } });
  const status = h("div", {});
  const confirms = h("div", { class: "confirms" });
  return h("section", {},
    head(`Tenant ${name}`),
    h("div", { class: "cards", testid: "tenant-wallet" },
      card("Wallet balance", yuan(wallet.balance), "t-balance"),
      card("Credits", yuan(wallet.credits), "t-credits"),
      card("Accrued, not yet invoiced", yuan(wallet.accrued)),
      card("Burn rate", `${yuan(wallet.burn_per_hour, 4)} / h`),
      card("Runway", wallet.runway_hours === null ? "—" : `${num(wallet.runway_hours, 1)} h`, undefined,
        wallet.prepaid ? `prepaid · ${wallet.standing}` : "billed monthly (no runway rule)")),
    h("div", { class: "grid2" }, topUp, credit),
    h("h2", {}, "Invoices"),
    issue,
    confirms,
    status,
    table([
      ...invoiceColumns(status),
      { label: "", value: (i) => (i.status === "issued" ? invoiceActions(ctx, i, status, confirms, back) : "") },
    ], invoices, { testid: "tenant-invoices", rowTestid: (i) => `invoice-${i.id}`,
      empty: "No invoices yet: issue one for a month that is over." }),
    h("p", {}, h("a", { href: `#/revenue?period=${encodeURIComponent(prevPeriod())}` }, "Revenue report →")));
}

function invoiceActions(ctx, inv, status, confirms, back) {
  const reason = h("input", { type: "text", name: "void_reason", placeholder: "reason (optional)", "aria-label": `reason to void ${inv.id}`,
    autocomplete: "off", size: 24 });
  const pay = confirmRow({ testid: `pay-confirm-${inv.id}`, status, danger: false, confirmLabel: "Record payment", errorTestid: "invoice-error",
    run: async () => {
      const after = await post(`/v1/billing/invoices/${encodeURIComponent(inv.id)}/pay`);
      ctx.flash(`Invoice ${after.id} is ${after.status}.`);
      ctx.go(back);
    } });
  const voidIt = confirmRow({ testid: `void-confirm-${inv.id}`, status, confirmLabel: "Void invoice", errorTestid: "invoice-error",
    extra: [reason], run: async () => {
      const after = await post(`/v1/billing/invoices/${encodeURIComponent(inv.id)}/void`, { reason: reason.value.trim() });
      ctx.flash(`Invoice ${after.id} is ${after.status}: its ledger entries are reversed; the month can be issued again.`);
      ctx.go(back);
    } });
  confirms.append(pay.row, voidIt.row);
  const hideAll = () => { for (const r of confirms.children) r.hidden = true; };
  return h("span", { class: "buttons" },
    h("button", { type: "button", class: "small", testid: `pay-${inv.id}`, onclick: () => { hideAll();
      pay.open(`Record ${yuan(inv.amount_due)} received for ${inv.id} (${inv.tenant}, ${inv.period})?`); } }, "Mark paid…"),
    h("button", { type: "button", class: "small danger", testid: `void-${inv.id}`, onclick: () => { hideAll();
      voidIt.open(`Void ${inv.id} (${inv.tenant}, ${inv.period}, total ${yuan(inv.total)})? Every ledger entry it posted is reversed.`); } },
    "Void…"));
}
