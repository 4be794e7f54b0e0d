// Operator money pages: the list price book (set a price, effective-dated, in either unit) and
// tenants (wallet top-up, credit grants, issuing an invoice for a month that is over, recording it
// paid, voiding it, downloading it). Every amount is sent as the typed decimal string and shown as
// the API returns it: the console computes no money.
import { get, post } from "./api.js";
import { register, t, timeZone } from "./i18n.js";
import {
  badge, card, confirmRow, field, h, isoFromLocal, listView, money, num, optionsOf, panel, prevPeriod, select, stateLabel, table,
  text, when, yuan,
} from "./ui.js";
import { buyerSection } from "./invoicing.js";
import { resourcePrices } from "./shapes.js";
import { invoiceColumns } from "./tenant.js";

register({
  en: {
    "unit.device_hour": "元 / device-hour", "unit.p_year": "元 / P / 年",
    "prices.title": "Prices",
    "prices.note": "List prices per accelerator model, optionally per site (a site's own price wins over the model's "
      + "default), effective-dated, entered in either unit and shown in both: device-hour price = P-year price × P ÷ 8,760.",
    "prices.modelOpt": "{name} ({p} P)", "prices.modelOptOut": "{name} ({p} P, not in the fleet)",
    "prices.everySiteOpt": "every site (the model's default price)", "prices.amountPh": "e.g. 12.50",
    "prices.setLabel": "Set price", "prices.setButton": "Set price…",
    "prices.done": "{model}{site}: {dh} 元/device-hour = {py} 元/P/年 from {from}.", "prices.at": " at {site}",
    "prices.whereSite": "at {site}", "prices.whereAll": "at every site without its own price", "prices.empty": "(empty)",
    "prices.now": "now",
    "prices.question": "Set the list price of {model} {where} to {amount} {unit} from {from}? Usage from then on is billed "
      + "at it (a lease spanning the change is billed piecewise); earlier usage keeps its price.",
    "prices.model": "Model", "prices.site": "Site", "prices.unit": "Unit", "prices.amount": "Amount",
    "prices.amountHelp": "a decimal number; the other unit is derived from the model's P",
    "prices.from": "Effective from ({zone})", "prices.fromHelp": "empty = now; a later time schedules the change",
    "prices.panel": "Set a list price", "prices.book": "Price book",
    "prices.col.entered": "Entered", "prices.col.from": "Effective from", "prices.col.status": "Status",
    "prices.everySite": "every site", "prices.noPrices": "No prices yet: nothing can be offered until a model has one.",
    "prices.seeOffers": "See the offers at the prices in force →",
    "tenants.title": "Tenants",
    "tenants.note": "Wallets and invoices per tenant. Open one to top up its wallet, grant a credit, or issue, settle, "
      + "void and download its invoices.",
    "tenants.col.tenant": "Tenant", "tenants.col.wallet": "Wallet", "tenants.col.credits": "Credits",
    "tenants.col.burn": "Burn / h", "tenants.col.runway": "Runway", "tenants.col.standing": "Standing",
    "tenants.col.unpaid": "Unpaid invoices", "tenants.hours": "{n} h", "tenants.empty": "No tenants yet.",
    "tenants.runway": "Runway", "tenants.runwayLow": "low (warning or suspended)",
    "tenants.unpaidFilter": "Unpaid", "tenants.withUnpaid": "with unpaid invoices",
    "tenant.title": "Tenant {name}",
    "tenant.topUpHead": "Top up the wallet", "tenant.topUp": "Top up", "tenant.topUpButton": "Record top-up",
    "tenant.amount": "Amount (元)", "tenant.reference": "Reference", "tenant.referencePh": "bank transfer no., optional",
    "tenant.topUpQ": "Record {amount} 元 received into {name}'s wallet{ref}? It is posted to the ledger; suspended leases resume if it now covers them.",
    "tenant.ref": " (ref {ref})", "tenant.topUpDone": "{name}'s wallet is now {balance}.",
    "tenant.creditHead": "Grant a credit", "tenant.grant": "Grant", "tenant.grantButton": "Grant credit",
    "tenant.reason": "Reason", "tenant.reasonPh": "e.g. outage compensation (required)", "tenant.noReason": "no reason",
    "tenant.creditQ": "Grant {name} a credit of {amount} 元 ({reason})? It is spent on its next invoices after vouchers and before wallet cash.",
    "tenant.creditDone": "{name} now has {credits} of credits.",
    "tenant.issueHead": "Issue an invoice for a month that is over", "tenant.issue": "Issue", "tenant.issueButton": "Issue invoice",
    "tenant.month": "Month",
    "tenant.issueQ": "Issue {name}'s invoice for {period}? Its usage is rated and posted to the ledger; vouchers, credits and the wallet are applied. Only voiding undoes it.",
    "tenant.issueDone": "Invoice {id} for {period} issued: total {total}, amount due {due} ({status}).",
    "tenant.balance": "Wallet balance", "tenant.credits": "Credits", "tenant.accrued": "Accrued, not yet invoiced",
    "tenant.burn": "Burn rate", "tenant.perHour": "{v} / h", "tenant.runway": "Runway",
    "tenant.prepaid": "prepaid · {standing}", "tenant.monthly": "billed monthly (no runway rule)",
    "tenant.invoices": "Invoices", "tenant.noInvoices": "No invoices yet: issue one for a month that is over.",
    "tenant.revenue": "Revenue report →",
    "tenant.payButton": "Record payment", "tenant.paid": "Invoice {id} is {status}.",
    "tenant.voidButton": "Void invoice", "tenant.voidReason": "reason (optional)", "tenant.voidReasonLabel": "reason to void {id}",
    "tenant.voided": "Invoice {id} is {status}: its ledger entries are reversed; the month can be issued again.",
    "tenant.payQ": "Record {due} received for {id} ({tenant}, {period})?", "tenant.markPaid": "Mark paid…",
    "tenant.voidQ": "Void {id} ({tenant}, {period}, total {total})? Every ledger entry it posted is reversed.",
    "tenant.void": "Void…",
  },
  "zh-CN": {
    "unit.device_hour": "元 / 设备·小时", "unit.p_year": "元 / P / 年",
    "prices.title": "价格",
    "prices.note": "按加速卡型号设置的目录价，可按站点单独设置（站点价格优先于型号默认价），按生效时间生效；可用任一单位录入，两种单位同时显示：设备·小时价 = P·年价 × P ÷ 8,760。",
    "prices.modelOpt": "{name}（{p} P）", "prices.modelOptOut": "{name}（{p} P，资源池中没有）",
    "prices.everySiteOpt": "所有站点（型号默认价）", "prices.amountPh": "例如 12.50",
    "prices.setLabel": "设置价格", "prices.setButton": "设置价格…",
    "prices.done": "{model}{site}：{dh} 元/设备·小时 = {py} 元/P/年，自 {from} 起生效。", "prices.at": "（{site}）",
    "prices.whereSite": "在 {site}", "prices.whereAll": "在所有未单独定价的站点", "prices.empty": "（空）",
    "prices.now": "现在",
    "prices.question": "将 {model} {where}的目录价设为 {amount} {unit}，自 {from} 起生效？此后的用量按该价格计费（跨越变更的租约分段计费）；之前的用量保持原价。",
    "prices.model": "型号", "prices.site": "站点", "prices.unit": "单位", "prices.amount": "金额",
    "prices.amountHelp": "十进制数；另一单位按型号的 P 换算",
    "prices.from": "生效时间（{zone}）", "prices.fromHelp": "留空 = 立即生效；填写以后的时间则预约变更",
    "prices.panel": "设置目录价", "prices.book": "价格表",
    "prices.col.entered": "录入值", "prices.col.from": "生效时间", "prices.col.status": "状态",
    "prices.everySite": "所有站点", "prices.noPrices": "尚无价格：型号有价格后才能对外报价。",
    "prices.seeOffers": "查看按现行价格的资源报价 →",
    "tenants.title": "租户",
    "tenants.note": "各租户的钱包和发票。打开租户可充值钱包、发放信用额度，或开具、结清、作废和下载其发票。",
    "tenants.col.tenant": "租户", "tenants.col.wallet": "钱包余额", "tenants.col.credits": "信用额度",
    "tenants.col.burn": "每小时消耗", "tenants.col.runway": "可用时长", "tenants.col.standing": "状态",
    "tenants.col.unpaid": "未付发票", "tenants.hours": "{n} 小时", "tenants.empty": "暂无租户。",
    "tenants.runway": "可用时长", "tenants.runwayLow": "不足（预警或已暂停）",
    "tenants.unpaidFilter": "未付", "tenants.withUnpaid": "有未付发票",
    "tenant.title": "租户 {name}",
    "tenant.topUpHead": "钱包充值", "tenant.topUp": "充值", "tenant.topUpButton": "记录充值",
    "tenant.amount": "金额（元）", "tenant.reference": "参考号", "tenant.referencePh": "银行转账流水号，可选",
    "tenant.topUpQ": "记录向 {name} 的钱包收到 {amount} 元{ref}？将记入账本；如余额足够，已暂停的租约会恢复。",
    "tenant.ref": "（参考号 {ref}）", "tenant.topUpDone": "{name} 的钱包余额现为 {balance}。",
    "tenant.creditHead": "发放信用额度", "tenant.grant": "发放", "tenant.grantButton": "发放信用额度",
    "tenant.reason": "原因", "tenant.reasonPh": "例如：故障补偿（必填）", "tenant.noReason": "无原因",
    "tenant.creditQ": "向 {name} 发放 {amount} 元信用额度（{reason}）？将在算力券之后、钱包现金之前用于其后续发票。",
    "tenant.creditDone": "{name} 现有信用额度 {credits}。",
    "tenant.issueHead": "为已结束的月份开具发票", "tenant.issue": "开具", "tenant.issueButton": "开具发票",
    "tenant.month": "月份",
    "tenant.issueQ": "开具 {name} {period} 的发票？其用量将计价并记入账本，并抵扣算力券、信用额度和钱包。只能通过作废撤销。",
    "tenant.issueDone": "已开具 {period} 的发票 {id}：合计 {total}，应付 {due}（{status}）。",
    "tenant.balance": "钱包余额", "tenant.credits": "信用额度", "tenant.accrued": "已产生、尚未开票",
    "tenant.burn": "消耗速度", "tenant.perHour": "{v} / 小时", "tenant.runway": "可用时长",
    "tenant.prepaid": "预付 · {standing}", "tenant.monthly": "按月结算（无余额时长规则）",
    "tenant.invoices": "发票", "tenant.noInvoices": "暂无发票：可为已结束的月份开具。",
    "tenant.revenue": "收入报表 →",
    "tenant.payButton": "记录付款", "tenant.paid": "发票 {id} 状态：{status}。",
    "tenant.voidButton": "作废发票", "tenant.voidReason": "原因（可选）", "tenant.voidReasonLabel": "作废 {id} 的原因",
    "tenant.voided": "发票 {id} 状态：{status}；其账本分录已冲回，该月份可重新开具。",
    "tenant.payQ": "记录收到 {id}（{tenant}，{period}）的 {due}？", "tenant.markPaid": "标记已付…",
    "tenant.voidQ": "作废 {id}（{tenant}，{period}，合计 {total}）？其记入的每笔账本分录都将冲回。",
    "tenant.void": "作废…",
  },
});

const UNITS = ["device_hour", "p_year"];
const unitLabel = (u) => (UNITS.includes(u) ? t(`unit.${u}`) : u);

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
  const [entries, catalog, nodes, resources] = await Promise.all([get("/v1/prices"), get("/v1/catalog"), get("/v1/nodes"),
    get("/v1/resource-prices")]);
  const used = new Set(nodes.map((n) => n.model));
  const models = catalog.filter((m) => used.has(m.name)).concat(catalog.filter((m) => !used.has(m.name)));
  const sites = [...new Set(nodes.map((n) => n.site))].sort();
  const modelSel = select("model", models.map((m) => [m.name,
    t(used.has(m.name) ? "prices.modelOpt" : "prices.modelOptOut", { name: m.name, p: num(m.p, 4) })]),
  ctx.query.get("model") || undefined, "p");
  const siteSel = select("site", [["", t("prices.everySiteOpt")], ...sites.map((s) => [s, s])], ctx.query.get("site") || "", "p");
  const unitSel = select("unit", UNITS.map((u) => [u, unitLabel(u)]), "device_hour", "p");
  const amount = text("amount", t("prices.amountPh"), "", "p");
  const from = h("input", { id: "p-effective_from", name: "effective_from", type: "datetime-local" });
  const status = h("div", { testid: "price-status" });
  const confirm = confirmRow({ testid: "price-confirm", status, danger: false, confirmLabel: t("prices.setLabel"), errorTestid: "price-error",
    form: () => form, run: async () => {
      const body = { model: modelSel.value, amount: amount.value.trim(), unit: unitSel.value };
      if (siteSel.value) body.site = siteSel.value;
      const eff = isoFromLocal(from.value);
      if (eff) body.effective_from = eff;
      const e = await post("/v1/prices", body);
      ctx.flash(t("prices.done", { model: e.model, site: e.site ? t("prices.at", { site: e.site }) : "",
        dh: money(e.device_hour, 4), py: money(e.p_year, 2), from: when(e.effective_from) }));
      ctx.go("/prices");
    } });
  const form = h("form", { novalidate: true, testid: "price-form", onsubmit: (ev) => {
    ev.preventDefault();
    const where = siteSel.value ? t("prices.whereSite", { site: siteSel.value }) : t("prices.whereAll");
    confirm.open(t("prices.question", { model: modelSel.value, where, amount: amount.value.trim() || t("prices.empty"),
      unit: unitLabel(unitSel.value), from: from.value ? when(isoFromLocal(from.value)) : t("prices.now") }));
  } },
  h("div", { class: "grid3" }, field(t("prices.model"), modelSel), field(t("prices.site"), siteSel), field(t("prices.unit"), unitSel),
    field(t("prices.amount"), amount, t("prices.amountHelp")),
    field(t("prices.from", { zone: timeZone() }), from, t("prices.fromHelp"))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("prices.setButton"))));
  const st = priceStatus(entries);
  const rows = entries.map((e) => ({ ...e, status: st.get(e) }));
  return h("section", {},
    head(t("prices.title"), t("prices.note")),
    panel(t("prices.panel"), "price-panel", form, confirm.row, status),
    h("h2", {}, t("prices.book")),
    listView({
      columns: [
        { key: "model", label: t("prices.model"), value: (e) => h("strong", {}, e.model) },
        { key: "site", label: t("prices.site"), value: (e) => e.site || h("span", { class: "muted" }, t("prices.everySite")) },
        { label: t("prices.col.entered"), value: (e) => `${money(e.amount, 6)} ${unitLabel(e.unit)}`, class: "num" },
        { key: "device_hour", label: t("unit.device_hour"), value: (e) => money(e.device_hour, 4), class: "num" },
        { key: "p_year", label: t("unit.p_year"), value: (e) => money(e.p_year, 2), class: "num" },
        { key: "effective_from", label: t("prices.col.from"), value: (e) => when(e.effective_from), sort: (e) => Date.parse(e.effective_from) },
        { key: "status", label: t("prices.col.status"), value: (e) => h("span", { class: `badge pr-${e.status.replace(" ", "-")}` }, stateLabel(e.status)) },
      ],
      rows, query: ctx.query, testid: "price-book", rowTestid: (e) => `price-${e.model}-${e.site || "all"}-${e.effective_from}`,
      empty: t("prices.noPrices"), sort: "model", search: (e) => `${e.model} ${e.site || ""}`,
      filters: [
        { key: "model", label: t("prices.model"), options: optionsOf(rows, "model") },
        { key: "site", label: t("prices.site"), options: optionsOf(rows, "site") },
        { key: "status", label: t("prices.col.status"), options: ["in force", "scheduled", "superseded"].map((x) => [x, stateLabel(x)]) },
      ],
    }),
    h("p", {}, h("a", { href: "#/offers" }, t("prices.seeOffers"))),
    resourcePrices(resources, async () => ctx.go("/prices"))); // SHAPES: docs/billing.md "Resource prices"
}

export async function tenants(ctx) {
  const [accounts, invoices] = await Promise.all([get("/v1/accounts"), get("/v1/billing/invoices")]);
  const list = accounts.filter((a) => a.role === "tenant");
  const wallets = await Promise.all(list.map((x) => get("/v1/wallet", { tenant: x.name })));
  const open = (name) => invoices.filter((i) => i.tenant === name && i.status === "issued");
  const rows = list.map((x, i) => ({ t: x, w: wallets[i], name: x.name, standing: wallets[i].standing, unpaid: open(x.name).length }));
  return h("section", {},
    head(t("tenants.title"), t("tenants.note")),
    listView({
      columns: [
        { key: "name", label: t("tenants.col.tenant"), value: (r) => h("a", { href: `#/tenants/${encodeURIComponent(r.name)}`,
          testid: `open-${r.name}` }, r.name) },
        { key: "balance", label: t("tenants.col.wallet"), value: (r) => yuan(r.w.balance), sort: (r) => r.w.balance, class: "num" },
        { key: "credits", label: t("tenants.col.credits"), value: (r) => yuan(r.w.credits), sort: (r) => r.w.credits, class: "num" },
        { key: "burn", label: t("tenants.col.burn"), value: (r) => yuan(r.w.burn_per_hour, 4), sort: (r) => r.w.burn_per_hour, class: "num" },
        { key: "runway", label: t("tenants.col.runway"), sort: (r) => r.w.runway_hours,
          value: (r) => (r.w.runway_hours === null ? "—" : t("tenants.hours", { n: num(r.w.runway_hours, 1) })), class: "num" },
        { key: "standing", label: t("tenants.col.standing"), value: (r) => badge(r.standing) },
        { key: "unpaid", label: t("tenants.col.unpaid"), value: (r) => String(r.unpaid), class: "num" },
      ],
      rows, query: ctx.query, testid: "tenants", rowTestid: (r) => `tenant-${r.name}`, empty: t("tenants.empty"), sort: "name",
      search: (r) => r.name,
      filters: [
        { key: "runway", label: t("tenants.runway"), options: [["low", t("tenants.runwayLow")]],
          match: (r, v) => v !== "low" || ["warn", "suspend"].includes(r.standing) },
        { key: "standing", label: t("tenants.col.standing"), options: optionsOf(rows, "standing", stateLabel) },
        { key: "unpaid", label: t("tenants.unpaidFilter"), options: [["yes", t("tenants.withUnpaid")]],
          match: (r, v) => v !== "yes" || r.unpaid > 0 },
      ],
    }));
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
  const [wallet, invoices, buyer] = await Promise.all([get("/v1/wallet", { tenant: name }), get("/v1/billing/invoices", { tenant: name }),
    buyerSection(ctx, name)]);
  const back = `/tenants/${encodeURIComponent(name)}`;
  const empty = t("prices.empty");
  const amountTop = text("amount", "1000.00", "", "top");
  const reference = text("reference", t("tenant.referencePh"), "", "top");
  const topUp = moneyForm({ id: "top-up", heading: t("tenant.topUpHead"), noun: t("tenant.topUp"), button: t("tenant.topUpButton"),
    ctx, back, fields: [field(t("tenant.amount"), amountTop), field(t("tenant.reference"), reference)],
    question: () => t("tenant.topUpQ", { amount: amountTop.value.trim() || empty, name,
      ref: reference.value.trim() ? t("tenant.ref", { ref: reference.value.trim() }) : "" }),
    run: async () => {
      const w = await post("/v1/wallet/top-ups", { tenant: name, amount: amountTop.value.trim(), reference: reference.value.trim() });
      return t("tenant.topUpDone", { name, balance: yuan(w.balance) });
    } });
  const amountCr = text("amount", "200.00", "", "cr");
  const reason = text("reason", t("tenant.reasonPh"), "", "cr");
  const credit = moneyForm({ id: "credit", heading: t("tenant.creditHead"), noun: t("tenant.grant"), button: t("tenant.grantButton"),
    ctx, back, fields: [field(t("tenant.amount"), amountCr), field(t("tenant.reason"), reason)],
    question: () => t("tenant.creditQ", { name, amount: amountCr.value.trim() || empty, reason: reason.value.trim() || t("tenant.noReason") }),
    run: async () => {
      const w = await post("/v1/wallet/credits", { tenant: name, amount: amountCr.value.trim(), reason: reason.value.trim() });
      return t("tenant.creditDone", { name, credits: yuan(w.credits) });
    } });
  const period = text("period", "YYYY-MM", prevPeriod(), "inv");
  const issue = moneyForm({ id: "issue", heading: t("tenant.issueHead"), noun: t("tenant.issue"),
    button: t("tenant.issueButton"), ctx, back, fields: [field(t("tenant.month"), period)],
    question: () => t("tenant.issueQ", { name, period: period.value.trim() || empty }),
    run: async () => {
      const inv = await post("/v1/billing/invoices", { tenant: name, period: period.value.trim() });
      return t("tenant.issueDone", { id: inv.id, period: inv.period, total: yuan(inv.total), due: yuan(inv.amount_due),
        status: stateLabel(inv.status) });
    } });
  const status = h("div", {});
  const confirms = h("div", { class: "confirms" });
  return h("section", {},
    head(t("tenant.title", { name })),
    h("div", { class: "cards", testid: "tenant-wallet" },
      card(t("tenant.balance"), yuan(wallet.balance), "t-balance"),
      card(t("tenant.credits"), yuan(wallet.credits), "t-credits"),
      card(t("tenant.accrued"), yuan(wallet.accrued)),
      card(t("tenant.burn"), t("tenant.perHour", { v: yuan(wallet.burn_per_hour, 4) })),
      card(t("tenant.runway"), wallet.runway_hours === null ? "—" : t("tenants.hours", { n: num(wallet.runway_hours, 1) }), undefined,
        wallet.prepaid ? t("tenant.prepaid", { standing: stateLabel(wallet.standing) }) : t("tenant.monthly"))),
    h("div", { class: "grid2" }, topUp, credit),
    h("h2", {}, t("tenant.invoices")),
    issue,
    confirms,
    status,
    table([
      ...invoiceColumns(status),
      { label: "", value: (i) => (i.status === "issued" ? invoiceActions(ctx, i, status, confirms, back) : "") },
    ], invoices, { testid: "tenant-invoices", rowTestid: (i) => `invoice-${i.id}`, empty: t("tenant.noInvoices") }),
    buyer,
    h("p", {}, h("a", { href: `#/revenue?period=${encodeURIComponent(prevPeriod())}` }, t("tenant.revenue"))));
}

function invoiceActions(ctx, inv, status, confirms, back) {
  const reason = h("input", { type: "text", name: "void_reason", placeholder: t("tenant.voidReason"),
    "aria-label": t("tenant.voidReasonLabel", { id: inv.id }), autocomplete: "off", size: 24 });
  const pay = confirmRow({ testid: `pay-confirm-${inv.id}`, status, danger: false, confirmLabel: t("tenant.payButton"),
    errorTestid: "invoice-error", run: async () => {
      const after = await post(`/v1/billing/invoices/${encodeURIComponent(inv.id)}/pay`);
      ctx.flash(t("tenant.paid", { id: after.id, status: stateLabel(after.status) }));
      ctx.go(back);
    } });
  const voidIt = confirmRow({ testid: `void-confirm-${inv.id}`, status, confirmLabel: t("tenant.voidButton"), errorTestid: "invoice-error",
    extra: [reason], run: async () => {
      const after = await post(`/v1/billing/invoices/${encodeURIComponent(inv.id)}/void`, { reason: reason.value.trim() });
      ctx.flash(t("tenant.voided", { id: after.id, status: stateLabel(after.status) }));
      ctx.go(back);
    } });
  confirms.append(pay.row, voidIt.row);
  const hideAll = () => { for (const r of confirms.children) r.hidden = true; };
  return h("span", { class: "buttons" },
    h("button", { type: "button", class: "small", testid: `pay-${inv.id}`, onclick: () => { hideAll();
      pay.open(t("tenant.payQ", { due: yuan(inv.amount_due), id: inv.id, tenant: inv.tenant, period: inv.period })); } },
    t("tenant.markPaid")),
    h("button", { type: "button", class: "small danger", testid: `void-${inv.id}`, onclick: () => { hideAll();
      voidIt.open(t("tenant.voidQ", { id: inv.id, tenant: inv.tenant, period: inv.period, total: yuan(inv.total) })); } },
    t("tenant.void")));
}
