// Tenant money pages: billing (wallet, the month's draft, issued invoices, paying one from the wallet),
// one invoice, and vouchers (算力券). The invoice helpers are shared with the operator's pages.
import { download, get, post } from "./api.js";
import { fmtPercent, lang, register, t } from "./i18n.js";
import { buyerSection } from "./invoicing.js";
import { badge, card, currentPeriod, errorBox, h, kv, money, num, table, when, yuan } from "./ui.js";

register({
  en: {
    "bill.title": "Billing", "bill.balance": "Wallet balance", "bill.credits": "Credits",
    "bill.accrued": "Accrued, not yet invoiced", "bill.burn": "Burn rate", "bill.perHour": "{amount} / h",
    "bill.runway": "Runway", "bill.hours": "{n} h", "bill.prepaid": "prepaid · {standing}",
    "bill.postpaid": "billed monthly (no runway rule)",
    "bill.draft": "Invoice draft {period}", "bill.draftMeta": "{status} as of {time}; {records} metered records. Rounding: {rounding}.",
    "bill.downloadDraft": "Download draft (JSON)", "bill.download": "Download (JSON)",
    "bill.issued": "Issued invoices", "bill.noIssued": "No invoices issued yet: a month is invoiced after it ends.",
    "bill.unpaid": "Unpaid invoices", "bill.pay": "Pay {amount} from the wallet",
    "bill.payQ": "Pay invoice {id} ({amount}) from your wallet? The wallet holds {balance}; it goes down by exactly {amount}.",
    "bill.payConfirm": "Pay now", "bill.paid": "Invoice {id} paid from the wallet: {amount}. Wallet balance now {balance}.",
    "bill.payShort": "The wallet holds {balance}, less than {amount}: ask the operator to top it up, then pay.",
    "inv.month": "month", "inv.show": "Show", "inv.allMonths": "all months",
    "inv.col.line": "#", "inv.col.description": "Description", "inv.col.lease": "Lease", "inv.col.model": "Model",
    "inv.col.site": "Site", "inv.col.node": "Node", "inv.col.quantity": "Quantity", "inv.col.unitPrice": "Unit price",
    "inv.col.amount": "Amount", "inv.none": "No charges in this period yet.",
    "inv.subtotal": "Subtotal", "inv.tax": "Tax", "inv.total": "Total", "inv.vouchers": "Vouchers (算力券)",
    "inv.credits": "Credits", "inv.wallet": "Wallet", "inv.due": "Amount due",
    "inv.col.invoice": "Invoice", "inv.col.month": "Month", "inv.col.status": "Status", "inv.col.total": "Total",
    "inv.col.due": "Amount due", "inv.col.issued": "Issued", "inv.col.download": "Download",
    "inv.downloadTitle": "Download invoice {id} as {format}",
    "inv.title": "Invoice {id}", "inv.k.tenant": "Tenant", "inv.k.month": "Month", "inv.k.status": "Status",
    "inv.k.currency": "Currency", "inv.k.issued": "Issued", "inv.k.paid": "Paid", "inv.k.voided": "Voided",
    "inv.k.download": "Download", "inv.lines": "Lines", "inv.creditNotes": "Credit notes",
    "inv.cn.id": "Credit note", "inv.cn.amount": "Amount", "inv.cn.reason": "Reason", "inv.cn.toWallet": "To wallet",
    "inv.cn.at": "At", "inv.yes": "yes", "inv.no": "no", "inv.tenantLink": "Tenant {tenant} →", "inv.billingLink": "Billing →",
    "nav.vouchers": "Vouchers",
    "vch.title": "Vouchers (算力券)",
    "vch.intro": "Compute vouchers issued to you by a local government scheme: each pays a share of eligible invoice lines, up to its cap, while it is valid. The operator applies them when it issues a month's invoice.",
    "vch.none": "You hold no vouchers.", "vch.id": "Voucher", "vch.issuer": "Issuer", "vch.scheme": "Scheme",
    "vch.percent": "Pays", "vch.cap": "Cap", "vch.used": "Used", "vch.left": "Remaining", "vch.from": "Valid from",
    "vch.to": "Expires", "vch.claims": "Claims", "vch.held": "Vouchers held", "vch.remaining": "Remaining in all",
    "vch.expired": "expired", "vch.rules": "Rules",
    "vch.packages": "Prepaid packages are on the Packages page →",
  },
  "zh-CN": {
    "bill.title": "账单", "bill.balance": "钱包余额", "bill.credits": "赠送额度",
    "bill.accrued": "已发生、未出账", "bill.burn": "消耗速度", "bill.perHour": "{amount} / 小时",
    "bill.runway": "可用时长", "bill.hours": "{n} 小时", "bill.prepaid": "预付费 · {standing}",
    "bill.postpaid": "按月结算（无可用时长规则）",
    "bill.draft": "{period} 账单草稿", "bill.draftMeta": "{status}，截至 {time}；{records} 条计量记录。舍入规则：{rounding}。",
    "bill.downloadDraft": "下载草稿（JSON）", "bill.download": "下载（JSON）",
    "bill.issued": "已开具账单", "bill.noIssued": "尚未开具账单：每月结束后出账。",
    "bill.unpaid": "未付账单", "bill.pay": "用钱包支付 {amount}",
    "bill.payQ": "用钱包支付账单 {id}（{amount}）？钱包余额 {balance}，将恰好扣减 {amount}。",
    "bill.payConfirm": "立即支付", "bill.paid": "账单 {id} 已用钱包支付：{amount}。钱包余额现为 {balance}。",
    "bill.payShort": "钱包余额 {balance} 不足 {amount}：请联系运营方充值后再支付。",
    "inv.month": "月份", "inv.show": "查看", "inv.allMonths": "全部月份",
    "inv.col.line": "#", "inv.col.description": "说明", "inv.col.lease": "租约", "inv.col.model": "型号",
    "inv.col.site": "站点", "inv.col.node": "节点", "inv.col.quantity": "数量", "inv.col.unitPrice": "单价",
    "inv.col.amount": "金额", "inv.none": "本期暂无费用。",
    "inv.subtotal": "小计", "inv.tax": "税额", "inv.total": "合计", "inv.vouchers": "算力券",
    "inv.credits": "赠送额度", "inv.wallet": "钱包", "inv.due": "应付金额",
    "inv.col.invoice": "账单", "inv.col.month": "月份", "inv.col.status": "状态", "inv.col.total": "合计",
    "inv.col.due": "应付金额", "inv.col.issued": "开具时间", "inv.col.download": "下载",
    "inv.downloadTitle": "以 {format} 格式下载账单 {id}",
    "inv.title": "账单 {id}", "inv.k.tenant": "租户", "inv.k.month": "月份", "inv.k.status": "状态",
    "inv.k.currency": "币种", "inv.k.issued": "开具时间", "inv.k.paid": "支付时间", "inv.k.voided": "作废时间",
    "inv.k.download": "下载", "inv.lines": "明细", "inv.creditNotes": "红字冲减单",
    "inv.cn.id": "冲减单", "inv.cn.amount": "金额", "inv.cn.reason": "原因", "inv.cn.toWallet": "退回钱包",
    "inv.cn.at": "时间", "inv.yes": "是", "inv.no": "否", "inv.tenantLink": "租户 {tenant} →", "inv.billingLink": "账单 →",
    "nav.vouchers": "算力券",
    "vch.title": "算力券",
    "vch.intro": "地方政府算力券：有效期内按比例支付符合条件的账单明细，以封顶额为限。运营方在开具月度账单时抵扣。",
    "vch.none": "您没有算力券。", "vch.id": "算力券", "vch.issuer": "发放方", "vch.scheme": "政策",
    "vch.percent": "抵扣比例", "vch.cap": "封顶额", "vch.used": "已使用", "vch.left": "剩余", "vch.from": "生效日期",
    "vch.to": "到期日期", "vch.claims": "申领", "vch.held": "持有算力券", "vch.remaining": "剩余总额",
    "vch.expired": "已过期", "vch.rules": "规则",
    "vch.packages": "预付套餐见“套餐”页面 →",
  },
});

function title(text, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, text), ...extra);
}

export function invoiceLines(lines) {
  return table([
    { label: t("inv.col.line"), value: (x) => x.line_no, class: "num" },
    { label: t("inv.col.description"), value: (x) => x.description || `${x.kind}: ${x.meter.replaceAll("_", " ")}` },
    { label: t("inv.col.lease"), value: (x) => (x.lease ? h("a", { href: `#/leases/${encodeURIComponent(x.lease)}`, class: "mono" }, x.lease) : "—") },
    { label: t("inv.col.model"), value: (x) => x.model || "—" },
    { label: t("inv.col.site"), value: (x) => x.site || "—" },
    { label: t("inv.col.node"), value: (x) => x.node || "—" },
    { label: t("inv.col.quantity"), value: (x) => `${num(x.quantity, 6)} ${x.price_unit}`, class: "num" },
    { label: t("inv.col.unitPrice"), value: (x) => money(x.unit_price, 6), class: "num" },
    { label: t("inv.col.amount"), value: (x) => money(x.amount), class: "num" },
  ], lines, { testid: "invoice-lines", rowTestid: (x) => `line-${x.line_no}`, empty: t("inv.none") });
}

export function invoiceTotals(d) {
  return kv([
    [t("inv.subtotal"), yuan(d.subtotal)], [t("inv.tax"), yuan(d.tax)], [t("inv.total"), yuan(d.total)],
    [t("inv.vouchers"), yuan(d.vouchers)], [t("inv.credits"), yuan(d.credits)], [t("inv.wallet"), yuan(d.wallet)],
    [t("inv.due"), h("strong", { testid: "amount-due" }, yuan(d.amount_due))],
  ], "invoice-totals");
}

export function periodPicker(ctx, base, { allowEmpty = false } = {}) {
  const value = ctx.query.has("period") ? ctx.query.get("period") : (allowEmpty ? "" : currentPeriod());
  const input = h("input", { name: "period", type: "text", value, placeholder: allowEmpty ? t("inv.allMonths") : "YYYY-MM",
    size: 9, "aria-label": `${t("inv.month")} (YYYY-MM)` });
  return { value, el: h("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    ctx.go(`${base}?period=${encodeURIComponent(input.value.trim())}`);
  } }, h("label", {}, `${t("inv.month")} `, input), h("button", { type: "submit" }, t("inv.show"))) };
}

/** The API's query for an invoice document: HTML and CSV in the console's language (zh-CN or en). */
export function invoiceDocQuery(format) {
  return format === "json" ? { format } : { format, lang: lang() };
}

/** Buttons that download an issued invoice as HTML (printable), CSV or JSON, through the API; each
 * carries the document's address (data-href) with the console's language. */
export function invoiceDownloads(inv, status) {
  const path = `/v1/billing/invoices/${encodeURIComponent(inv.id)}`;
  const get1 = (format) => h("button", { type: "button", class: "small", testid: `download-${format}-${inv.id}`,
    "data-href": `${path}?${new URLSearchParams(invoiceDocQuery(format))}`,
    title: t("inv.downloadTitle", { id: inv.id, format: format.toUpperCase() }), onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await download(path, `suanli-${inv.tenant}-${inv.period}-${inv.id}.${format}`,
          invoiceDocQuery(format));
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
    { label: t("inv.col.invoice"), value: invoiceLink },
    { label: t("inv.col.month"), value: (i) => i.period },
    { label: t("inv.col.status"), value: (i) => badge(i.status) },
    { label: t("inv.col.total"), value: (i) => yuan(i.total), class: "num" },
    { label: t("inv.col.due"), value: (i) => yuan(i.amount_due), class: "num" },
    { label: t("inv.col.issued"), value: (i) => when(i.issued_at) },
    { label: t("inv.col.download"), value: (i) => invoiceDownloads(i, status) },
  ];
}

export function invoiceLink(inv) {
  return h("a", { href: `#/invoices/${encodeURIComponent(inv.id)}`, class: "mono" }, inv.id);
}

/**
 * A "Pay from the wallet" button with its confirmation for one issued invoice (a tenant's own):
 * POST /v1/billing/invoices/{id}/wallet-payment; the result (or the API's refusal) goes into `status`.
 */
function payButton(ctx, inv, wallet, status, after) {
  const amount = yuan(inv.amount_due);
  const row = h("div", { class: "confirm", hidden: true, testid: `pay-confirm-${inv.id}` },
    h("span", { testid: "pay-question" }, t("bill.payQ", { id: inv.id, amount, balance: yuan(wallet.balance) })),
    h("button", { type: "button", class: "primary", testid: `pay-now-${inv.id}`, onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        await post(`/v1/billing/invoices/${encodeURIComponent(inv.id)}/wallet-payment`);
        const w = await get("/v1/wallet");
        ctx.flash(t("bill.paid", { id: inv.id, amount, balance: yuan(w.balance) }), "ok", { next: true });
        ctx.go(after);
      } catch (e) {
        status.replaceChildren(errorBox(e, "pay-error"));
        ev.target.disabled = false;
      }
    } }, t("bill.payConfirm")),
    h("button", { type: "button", onclick: () => { row.hidden = true; } }, t("ui.back")));
  const button = h("button", { type: "button", class: "primary small", testid: `pay-${inv.id}`, onclick: () => {
    status.replaceChildren();
    row.hidden = false;
  } }, t("bill.pay", { amount }));
  return h("span", {}, button, row);
}

export async function billing(ctx) {
  const picker = periodPicker(ctx, "/billing");
  const [draft, wallet, issued, buyer] = await Promise.all([
    get(`/v1/invoices/${encodeURIComponent(picker.value)}`), get("/v1/wallet"), get("/v1/billing/invoices"), buyerSection(ctx)]);
  const downloads = h("div", {});
  const payStatus = h("div", { testid: "pay-status" });
  const unpaid = issued.filter((i) => i.status === "issued");
  return h("section", {},
    title(t("bill.title")),
    h("div", { class: "cards", testid: "wallet" },
      card(t("bill.balance"), yuan(wallet.balance), "wallet-balance"),
      card(t("bill.credits"), yuan(wallet.credits)),
      card(t("bill.accrued"), yuan(wallet.accrued)),
      card(t("bill.burn"), t("bill.perHour", { amount: yuan(wallet.burn_per_hour, 4) })),
      card(t("bill.runway"), wallet.runway_hours === null ? "—" : t("bill.hours", { n: num(wallet.runway_hours, 1) }),
        undefined, wallet.prepaid ? t("bill.prepaid", { standing: wallet.standing }) : t("bill.postpaid"))),
    unpaid.length ? [h("h2", {}, t("bill.unpaid")), payStatus, table([
      ...invoiceColumns(downloads).slice(0, 5),
      { label: "", value: (i) => payButton(ctx, i, wallet, payStatus, "/billing") },
    ], unpaid, { testid: "unpaid-invoices", rowTestid: (i) => `unpaid-${i.id}` })] : null,
    h("h2", {}, t("bill.draft", { period: draft.period })),
    h("p", { class: "muted", testid: "draft-meta" }, t("bill.draftMeta", { status: draft.status, time: when(draft.as_of),
      records: draft.records, rounding: draft.rounding })),
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
    } }, draft.status === "preview" ? t("bill.downloadDraft") : t("bill.download"))),
    h("h2", {}, t("bill.issued")),
    downloads,
    table(invoiceColumns(downloads), issued, { testid: "issued-invoices", rowTestid: (i) => `invoice-${i.id}`, empty: t("bill.noIssued") }),
    buyer);
}

/** One issued invoice as the ledger holds it (a tenant its own; the operator any). */
export async function invoice(ctx) {
  const [id] = ctx.params;
  const inv = await get(`/v1/billing/invoices/${encodeURIComponent(id)}`);
  const status = h("div", {});
  let pay = null;
  if (ctx.me.role === "tenant" && inv.status === "issued") {
    try {
      pay = payButton(ctx, inv, await get("/v1/wallet"), status, `/invoices/${encodeURIComponent(inv.id)}`);
    } catch (e) {
      if (e.status !== 403) throw e; // a member who may not read the wallet pays nothing here
    }
  }
  return h("section", {},
    title(t("inv.title", { id: inv.id }), badge(inv.status)),
    kv([
      [t("inv.k.tenant"), inv.tenant], [t("inv.k.month"), inv.period], [t("inv.k.status"), badge(inv.status)],
      [t("inv.k.currency"), inv.currency], [t("inv.k.issued"), when(inv.issued_at)], [t("inv.k.paid"), when(inv.paid_at)],
      [t("inv.k.voided"), when(inv.voided_at)], [t("inv.k.download"), invoiceDownloads(inv, status)],
    ], "invoice-facts"),
    pay ? h("div", { class: "actions" }, pay) : null,
    status,
    h("h2", {}, t("inv.lines")),
    invoiceLines(inv.lines),
    invoiceTotals(inv),
    inv.credit_notes.length ? [h("h2", {}, t("inv.creditNotes")), table([
      { label: t("inv.cn.id"), value: (n) => h("span", { class: "mono" }, n.id) },
      { label: t("inv.cn.amount"), value: (n) => yuan(n.amount), class: "num" },
      { label: t("inv.cn.reason"), value: (n) => n.reason },
      { label: t("inv.cn.toWallet"), value: (n) => (n.to_wallet ? t("inv.yes") : t("inv.no")) },
      { label: t("inv.cn.at"), value: (n) => when(n.at) },
    ], inv.credit_notes, { testid: "credit-notes" })] : null,
    h("p", {}, ctx.me.role === "operator"
      ? h("a", { href: `#/tenants/${encodeURIComponent(inv.tenant)}` }, t("inv.tenantLink", { tenant: inv.tenant }))
      : h("a", { href: "#/billing" }, t("inv.billingLink"))));
}

/** The tenant's vouchers (算力券): what it holds, what is left of each, when each expires. */
export async function vouchers(ctx) {
  const rows = await get("/v1/vouchers");
  const now = Date.now();
  const live = rows.filter((v) => Date.parse(v.valid_to) > now);
  const left = live.map((v) => v.left);
  const total = left.length ? left.reduce((a, b) => addDec(a, b)) : "0";
  return h("section", {},
    title(t("vch.title"), h("p", { class: "muted" }, t("vch.intro"))),
    h("div", { class: "cards", testid: "voucher-cards" },
      card(t("vch.held"), num(live.length, 0), "vouchers-held"),
      card(t("vch.remaining"), yuan(total), "vouchers-left")),
    table([
      { label: t("vch.id"), value: (v) => h("span", { class: "mono" }, v.id) },
      { label: t("vch.issuer"), value: (v) => v.issuer },
      { label: t("vch.scheme"), value: (v) => v.scheme },
      { label: t("vch.percent"), value: (v) => fmtPercent(v.percent), class: "num" },
      { label: t("vch.cap"), value: (v) => yuan(v.cap), class: "num" },
      { label: t("vch.used"), value: (v) => yuan(v.used), class: "num" },
      { label: t("vch.left"), value: (v) => h("span", { testid: `voucher-left-${v.id}` }, yuan(v.left)), class: "num" },
      { label: t("vch.from"), value: (v) => when(v.valid_from) },
      { label: t("vch.to"), value: (v) => [when(v.valid_to), Date.parse(v.valid_to) <= now ? h("span", { class: "muted" }, ` (${t("vch.expired")})`) : null] },
      { label: t("vch.claims"), value: (v) => num((v.claims || []).length, 0), class: "num" },
    ], rows, { testid: "vouchers", rowTestid: (v) => `voucher-${v.id}`, empty: t("vch.none") }),
    h("p", {}, h("a", { href: "#/packages" }, t("vch.packages"))));
}

function addDec(a, b) {
  const [sa, sb] = [String(a), String(b)];
  const scale = Math.max((sa.split(".")[1] || "").length, (sb.split(".")[1] || "").length);
  const toInt = (s) => {
    const neg = s.startsWith("-");
    const [i, f = ""] = s.replace("-", "").split(".");
    const n = BigInt((i || "0") + f.padEnd(scale, "0"));
    return neg ? -n : n;
  };
  const n = toInt(sa) + toInt(sb);
  const neg = n < 0n;
  const d = (neg ? -n : n).toString().padStart(scale + 1, "0");
  return (neg ? "-" : "") + (scale ? `${d.slice(0, -scale)}.${d.slice(-scale)}` : d);
}
