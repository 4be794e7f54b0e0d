// Invoicing settings: the parties an invoice prints and the tax rate per product type.
//
// The operator's page (#/invoicing): the seller's legal profile (PUT /v1/legal/seller) and the tax
// rates (GET/POST /v1/tax-rates, a rate from an instant, never in the past). The tenant's buyer
// profile (PUT /v1/legal/buyers/{tenant}) is a section of its billing page: its admin or finance
// member edits it, other members read it. Every refusal is the server's, shown next to the field it
// names (e.g. a wrong check character of a unified social credit code); nothing is written then.

import { call, get } from "./api.js";
import { fmtPercent, lang, register, t } from "./i18n.js";
import { errorBox, field, h, isoFromLocal, markFields, select, table, text, when } from "./ui.js";

register({
  en: {
    "invoicing.nav": "Invoicing", "invoicing.title": "Invoicing",
    "invoicing.intro": "The seller printed on every invoice and the tax rate of each product type. Issued invoices keep "
      + "the parties and rates they were issued with.",
    "invoicing.seller": "Seller (the operator)", "invoicing.buyer": "Buyer details on your invoices",
    "invoicing.buyerOf": "Buyer details on {name}'s invoices",
    "invoicing.notSet": "Not set yet: invoices print “not set” until it is.",
    "invoicing.readOnly": "Only your organisation's admin or finance member may change these details.",
    "invoicing.legalName": "Legal name", "invoicing.taxId": "Unified social credit code (tax ID)",
    "invoicing.taxIdHelp": "18 characters (GB 32100-2015); the last is a check character.",
    "invoicing.foreign": "Registered outside mainland China (foreign tax ID)",
    "invoicing.address": "Address", "invoicing.phone": "Phone", "invoicing.bankName": "Bank",
    "invoicing.bankAccount": "Bank account", "invoicing.invoiceType": "Invoice type",
    "invoicing.type.normal": "Ordinary VAT invoice (增值税普通发票)",
    "invoicing.type.special": "Special VAT invoice (增值税专用发票): address, phone, bank and account required",
    "invoicing.save": "Save", "invoicing.saved": "Saved: {name} ({taxId}).",
    "invoicing.updated": "Last changed {time} by {who}.",
    "invoicing.rates": "Tax rates", "invoicing.inForce": "In force now (default {rate} where none is set)",
    "invoicing.col.type": "Product type", "invoicing.col.rate": "Rate", "invoicing.col.set": "Source",
    "invoicing.col.from": "Effective from", "invoicing.col.setAt": "Set at", "invoicing.col.by": "By",
    "invoicing.col.reason": "Reason", "invoicing.src.set": "set", "invoicing.src.default": "default",
    "invoicing.history": "Every rate set", "invoicing.noRates": "No rate set yet: every product type has the default.",
    "invoicing.setRate": "Set a rate", "invoicing.productType": "Product type",
    "invoicing.rate": "Rate (fraction)", "invoicing.rateHelp": "0.06 is 6 %; from 0 up to (not including) 1, at most 4 places.",
    "invoicing.from": "Effective from", "invoicing.fromHelp": "Empty: now. Never in the past.",
    "invoicing.reason": "Reason", "invoicing.setRateButton": "Set rate",
    "invoicing.rateSet": "{type}: {rate} from {time}.",
  },
  "zh-CN": {
    "invoicing.nav": "开票设置", "invoicing.title": "开票设置",
    "invoicing.intro": "每张发票上的销售方，以及各产品类型的税率。已开具的发票保留开具时的双方信息与税率。",
    "invoicing.seller": "销售方（运营方）", "invoicing.buyer": "发票上的购买方信息",
    "invoicing.buyerOf": "{name} 发票上的购买方信息",
    "invoicing.notSet": "尚未设置：设置之前，发票上显示“未设置”。",
    "invoicing.readOnly": "只有本组织的管理员或财务成员可以修改这些信息。",
    "invoicing.legalName": "名称", "invoicing.taxId": "统一社会信用代码（纳税人识别号）",
    "invoicing.taxIdHelp": "18 位（GB 32100-2015），最后一位是校验码。",
    "invoicing.foreign": "在中国大陆境外注册（境外税号）",
    "invoicing.address": "地址", "invoicing.phone": "电话", "invoicing.bankName": "开户行",
    "invoicing.bankAccount": "银行账号", "invoicing.invoiceType": "发票类型",
    "invoicing.type.normal": "增值税普通发票",
    "invoicing.type.special": "增值税专用发票（须填地址、电话、开户行及账号）",
    "invoicing.save": "保存", "invoicing.saved": "已保存：{name}（{taxId}）。",
    "invoicing.updated": "最后由 {who} 于 {time} 修改。",
    "invoicing.rates": "税率", "invoicing.inForce": "当前适用（未设置的按默认 {rate}）",
    "invoicing.col.type": "产品类型", "invoicing.col.rate": "税率", "invoicing.col.set": "来源",
    "invoicing.col.from": "生效时间", "invoicing.col.setAt": "设置时间", "invoicing.col.by": "设置人",
    "invoicing.col.reason": "原因", "invoicing.src.set": "已设置", "invoicing.src.default": "默认",
    "invoicing.history": "全部税率记录", "invoicing.noRates": "尚未设置税率：各产品类型均按默认税率。",
    "invoicing.setRate": "设置税率", "invoicing.productType": "产品类型",
    "invoicing.rate": "税率（小数）", "invoicing.rateHelp": "0.06 即 6 %；不小于 0 且小于 1，最多 4 位小数。",
    "invoicing.from": "生效时间", "invoicing.fromHelp": "留空：立即生效。不能早于现在。",
    "invoicing.reason": "原因", "invoicing.setRateButton": "设置税率",
    "invoicing.rateSet": "{type}：自 {time} 起 {rate}。",
  },
});

const PROFILE_FIELDS = [
  ["legal_name", "invoicing.legalName"], ["tax_id", "invoicing.taxId", "invoicing.taxIdHelp"],
  ["address", "invoicing.address"], ["phone", "invoicing.phone"], ["bank_name", "invoicing.bankName"],
  ["bank_account", "invoicing.bankAccount"],
];

/** A profile, or null where none is set yet (404). */
async function profileOrNull(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

/**
 * A party's legal profile as a form: PUT `path` with every field; the server's refusal goes next to
 * the field it names and into the status line; `buyer` adds the invoice type.
 */
function profileForm(ctx, { path, doc, buyer, editable, testid }) {
  const status = h("div", { testid: `${testid}-status` });
  const changed = (d) => (d ? t("invoicing.updated", { time: when(d.updated_at), who: d.updated_by || "—" }) : t("invoicing.notSet"));
  const note = h("p", { class: "muted", testid: `${testid}-changed` }, changed(doc));
  const inputs = PROFILE_FIELDS.map(([name, label, help]) => {
    const input = text(name, "", doc ? doc[name] : "", testid);
    input.disabled = !editable;
    return field(t(label), input, help ? t(help) : undefined);
  });
  const foreign = h("input", { id: `${testid}-foreign_tax_id`, name: "foreign_tax_id", type: "checkbox",
    checked: Boolean(doc && doc.foreign_tax_id), disabled: !editable });
  const type = buyer ? select("invoice_type", [["normal", t("invoicing.type.normal")], ["special", t("invoicing.type.special")]],
    doc ? doc.invoice_type : "normal", testid) : null;
  if (type) type.disabled = !editable;
  const form = h("form", { class: "order", testid, onsubmit: async (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const body = Object.fromEntries(PROFILE_FIELDS.map(([name]) => [name, String(fd.get(name) || "").trim()]));
    body.foreign_tax_id = foreign.checked;
    if (type) body.invoice_type = type.value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    try {
      const saved = await call("PUT", path, { body });
      status.replaceChildren(h("div", { class: "flash ok", testid: `${testid}-saved` },
        t("invoicing.saved", { name: saved.legal_name, taxId: saved.tax_id })));
      note.textContent = changed(saved);
    } catch (e) {
      status.replaceChildren(errorBox(e, `${testid}-error`));
      markFields(form, e);
    } finally {
      button.disabled = false;
    }
  } },
  ...inputs,
  h("div", { class: "field", "data-field": "foreign_tax_id" },
    h("label", { for: foreign.id }, foreign, ` ${t("invoicing.foreign")}`)),
  type ? field(t("invoicing.invoiceType"), type) : null,
  editable ? h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("invoicing.save"))) : null);
  return h("div", {},
    note,
    editable ? null : h("p", { class: "muted" }, t("invoicing.readOnly")),
    form, status);
}

/** A tenant's buyer profile: on its own billing page (`tenant` omitted; null when its member may
 * not read it) or on the operator's page of that tenant. */
export async function buyerSection(ctx, tenant = ctx.me.organisation || ctx.me.name) {
  const operator = ctx.me.role === "operator";
  const path = `/v1/legal/buyers/${encodeURIComponent(tenant)}`;
  let doc;
  try {
    doc = await profileOrNull(path);
  } catch (e) {
    if (e.status === 403) return null;
    throw e;
  }
  const editable = operator || ["admin", "finance"].includes(ctx.me.member_role || "admin");
  return h("section", { testid: "buyer-profile" }, h("h2", {}, operator ? t("invoicing.buyerOf", { name: tenant }) : t("invoicing.buyer")),
    profileForm(ctx, { path, doc, buyer: true, editable, testid: "buyer-form" }));
}

function rateForm(ctx, inForce) {
  const status = h("div", { testid: "rate-status" });
  const kind = select("product_type", inForce.map((r) => [r.product_type, r.name[lang()] || r.product_type]),
    inForce.length ? inForce[0].product_type : "", "rate");
  const rate = text("rate", "0.06", "", "rate");
  const from = h("input", { id: "rate-effective_from", name: "effective_from", type: "datetime-local", step: 1 });
  const reason = text("reason", "", "", "rate");
  const form = h("form", { class: "order", testid: "rate-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    try {
      const body = { product_type: kind.value, rate: rate.value.trim(), reason: reason.value.trim() };
      const at = isoFromLocal(from.value);
      if (at) body.effective_from = at;
      const made = await call("POST", "/v1/tax-rates", { body });
      const name = (inForce.find((r) => r.product_type === made.product_type) || { name: {} }).name[lang()] || made.product_type;
      ctx.flash(t("invoicing.rateSet", { type: name, rate: fmtPercent(made.rate, { max: 2 }), time: when(made.effective_from) }), "ok",
        { next: true });
      ctx.go("/invoicing");
    } catch (e) {
      status.replaceChildren(errorBox(e, "rate-error"));
      markFields(form, e);
      button.disabled = false;
    }
  } },
  field(t("invoicing.productType"), kind), field(t("invoicing.rate"), rate, t("invoicing.rateHelp")),
  field(t("invoicing.from"), from, t("invoicing.fromHelp")), field(t("invoicing.reason"), reason),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("invoicing.setRateButton"))));
  return h("div", {}, form, status);
}

/** The operator's invoicing settings: the seller's profile and the tax rates. */
export async function page(ctx) {
  const [seller, rates] = await Promise.all([profileOrNull("/v1/legal/seller"), get("/v1/tax-rates")]);
  const nameOf = (type) => (rates.in_force.find((r) => r.product_type === type) || { name: {} }).name[lang()] || type;
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("invoicing.title"))),
    h("p", { class: "muted" }, t("invoicing.intro")),
    h("h2", {}, t("invoicing.seller")),
    profileForm(ctx, { path: "/v1/legal/seller", doc: seller, buyer: false, editable: true, testid: "seller-form" }),
    h("h2", {}, t("invoicing.rates")),
    h("h3", {}, t("invoicing.inForce", { rate: fmtPercent(rates.default, { max: 2 }) })),
    table([
      { label: t("invoicing.col.type"), value: (r) => r.name[lang()] || r.product_type },
      { label: t("invoicing.col.rate"), value: (r) => h("span", { testid: `rate-now-${r.product_type}` }, fmtPercent(r.rate, { max: 2 })), class: "num" },
      { label: t("invoicing.col.set"), value: (r) => (r.set ? t("invoicing.src.set") : t("invoicing.src.default")) },
    ], rates.in_force, { testid: "rates-in-force", rowTestid: (r) => `in-force-${r.product_type}` }),
    h("h3", {}, t("invoicing.setRate")),
    rateForm(ctx, rates.in_force),
    h("h3", {}, t("invoicing.history")),
    table([
      { label: t("invoicing.col.type"), value: (r) => nameOf(r.product_type) },
      { label: t("invoicing.col.rate"), value: (r) => fmtPercent(r.rate, { max: 2 }), class: "num" },
      { label: t("invoicing.col.from"), value: (r) => when(r.effective_from) },
      { label: t("invoicing.col.setAt"), value: (r) => when(r.set_at) },
      { label: t("invoicing.col.by"), value: (r) => r.set_by },
      { label: t("invoicing.col.reason"), value: (r) => r.reason || "—" },
    ], rates.rates, { testid: "rates-history", empty: t("invoicing.noRates") }));
}
