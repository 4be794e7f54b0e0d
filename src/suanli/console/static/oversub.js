// Oversubscription (docs/slices.md "Oversubscription").
// - The operator's page (#/oversub): the factors in force (POST /v1/oversub sets one: a refusal is shown next to
//   the field it names), the burstable pool now (compute sold vs physical per site and model), the contention
//   measured per pool device from the agents' telemetry, and the history of changes.
// - The tenant's order form: a slice's class (guaranteed or burstable) and what burstable means and costs,
//   from GET /v1/oversub/offers (the server decides; the quote shows the price).
import { get, post } from "./api.js";
import { fmtDateTime, fmtMoney, register, t } from "./i18n.js";
import { errorBox, field, h, markFields, num, panel, select, table, text } from "./ui.js";

register({
  en: {
    "oversub.nav": "Oversubscription",
    "oversub.title": "Oversubscription",
    "oversub.intro": "Burstable slices sell a device's compute more than once: a slice of share s takes s ÷ factor of the device's capacity (never less than its memory share: memory is never oversold). A device holds either guaranteed work or burstable slices, never both. A change applies to new grants only.",
    "oversub.inForce": "Factors in force", "oversub.none": "No factor set: no burstable slices are sold.",
    "oversub.site": "Site", "oversub.model": "Model", "oversub.factor": "Factor", "oversub.discount": "Discount %",
    "oversub.offered": "Offered", "oversub.setBy": "Set by", "oversub.setAt": "Set at",
    "oversub.yes": "yes", "oversub.no": "no",
    "oversub.set": "Set a factor", "oversub.factorHelp": "1 (no overselling) to {max}, 2 decimal places",
    "oversub.discountHelp": "% off the list price: above 0 up to {max}",
    "oversub.offeredHelp": "no: stop selling burstable slices there (leases keep their terms)",
    "oversub.save": "Set", "oversub.saved": "Factor {factor} set for {model} at {site}.",
    "oversub.pool": "Burstable pool now", "oversub.poolEmpty": "No burstable slice is held now.",
    "oversub.devices": "Devices", "oversub.slices": "Slices", "oversub.sold": "Compute sold (devices)",
    "oversub.charged": "Capacity taken (devices)", "oversub.oversold": "Sold ÷ physical",
    "oversub.contention": "Measured contention",
    "oversub.contentionHelp": "share of the telemetry samples in which the device was at least {pct} % busy: its burstable slices may have been slowed",
    "oversub.node": "Node", "oversub.device": "Device", "oversub.samples": "Samples", "oversub.saturated": "Saturated",
    "oversub.noSamples": "no sample", "oversub.history": "History",
    // the tenant's order form
    "oversub.class": "Slice class", "oversub.guaranteed": "guaranteed — the share is yours alone",
    "oversub.burstable": "burstable — may be slowed when neighbours are busy, priced lower",
    "oversub.note": "Burstable: may be slowed when neighbours are busy; priced {pct} % lower ({where}).",
    "oversub.notOffered": "Burstable slices are not sold now.",
    "oversub.share": "{pct} % burstable", "oversub.shareTitle": "sold share; it takes {charge} % of the device's capacity (compute oversold)",
    "oversub.econ": "Oversubscription", "oversub.econNone": "No oversubscription in force.",
    "oversub.econLine": "Burstable slices brought {revenue} in the period: {extra} more than the device capacity they took would have brought sold guaranteed (at list price).",
  },
  "zh-CN": {
    "oversub.nav": "超卖",
    "oversub.title": "超卖（算力超分）",
    "oversub.intro": "可突发切片把一张卡的算力卖出多于一次：份额为 s 的切片占用卡容量 s ÷ 超卖系数（不少于其显存份额：显存从不超卖）。一张卡要么承载保障型任务，要么承载可突发切片，二者不混用。调整只对新的分配生效。",
    "oversub.inForce": "生效中的超卖系数", "oversub.none": "未设置超卖系数：不出售可突发切片。",
    "oversub.site": "站点", "oversub.model": "型号", "oversub.factor": "超卖系数", "oversub.discount": "折扣 %",
    "oversub.offered": "在售", "oversub.setBy": "设置人", "oversub.setAt": "设置时间",
    "oversub.yes": "是", "oversub.no": "否",
    "oversub.set": "设置超卖系数", "oversub.factorHelp": "1（不超卖）到 {max}，最多两位小数",
    "oversub.discountHelp": "相对目录价的折扣 %：大于 0，最多 {max}",
    "oversub.offeredHelp": "否：停止在此出售可突发切片（已有租约保持原条款）",
    "oversub.save": "设置", "oversub.saved": "已为 {site} 的 {model} 设置超卖系数 {factor}。",
    "oversub.pool": "当前可突发资源池", "oversub.poolEmpty": "当前没有可突发切片。",
    "oversub.devices": "设备数", "oversub.slices": "切片数", "oversub.sold": "已售算力（卡）",
    "oversub.charged": "占用容量（卡）", "oversub.oversold": "已售 ÷ 物理",
    "oversub.contention": "实测争用",
    "oversub.contentionHelp": "设备利用率不低于 {pct}% 的遥测样本占比：其可突发切片可能被降速",
    "oversub.node": "节点", "oversub.device": "设备", "oversub.samples": "样本数", "oversub.saturated": "饱和占比",
    "oversub.noSamples": "无样本", "oversub.history": "变更历史",
    "oversub.class": "切片类别", "oversub.guaranteed": "保障型——份额独享",
    "oversub.burstable": "可突发——邻居繁忙时可能降速，价格更低",
    "oversub.note": "可突发：邻居繁忙时可能降速；价格低 {pct}%（{where}）。",
    "oversub.notOffered": "当前不出售可突发切片。",
    "oversub.share": "{pct}%（可突发）", "oversub.shareTitle": "已售份额；占用卡容量 {charge}%（算力超卖）",
    "oversub.econ": "超卖", "oversub.econNone": "当前没有生效的超卖。",
    "oversub.econLine": "本期可突发切片收入 {revenue}：比其占用的卡容量按保障型出售（目录价）多 {extra}。",
  },
});

const factorCols = () => [
  { label: t("oversub.site"), value: (f) => f.site },
  { label: t("oversub.model"), value: (f) => f.model },
  { label: t("oversub.factor"), value: (f) => h("span", { "data-value": f.factor }, num(f.factor, 2)), class: "num" },
  { label: t("oversub.discount"), value: (f) => h("span", { "data-value": f.discount_pct }, num(f.discount_pct, 2)), class: "num" },
  { label: t("oversub.offered"), value: (f) => t(f.offered ? "oversub.yes" : "oversub.no") },
  { label: t("oversub.setBy"), value: (f) => f.set_by },
  { label: t("oversub.setAt"), value: (f) => fmtDateTime(f.set_at) },
];

/** The operator's page. */
export async function page(ctx) {
  const doc = await get("/v1/oversub");
  const inputs = {
    site: text("site", "sz-edge-1", "", "os"), model: text("model", "L20", "", "os"),
    factor: text("factor", "2", "", "os"), discount_pct: text("discount_pct", "25", "", "os"),
  };
  const offered = select("offered", [["true", t("oversub.yes")], ["false", t("oversub.no")]], "true", "os");
  const status = h("div", { testid: "oversub-status" });
  const form = h("form", { class: "order", testid: "oversub-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    const body = { site: inputs.site.value.trim(), model: inputs.model.value.trim(), factor: inputs.factor.value.trim(),
      discount_pct: inputs.discount_pct.value.trim(), offered: offered.value === "true" };
    try {
      const f = await post("/v1/oversub", body);
      ctx.flash(t("oversub.saved", { factor: f.factor, model: f.model, site: f.site }), "ok");
      ctx.go("/oversub");
    } catch (e) {
      status.replaceChildren(errorBox(e, "oversub-error"));
      markFields(form, e);
    }
  } },
  h("div", { class: "grid2" }, field(t("oversub.site"), inputs.site), field(t("oversub.model"), inputs.model),
    field(t("oversub.factor"), inputs.factor, t("oversub.factorHelp", { max: doc.max_factor })),
    field(t("oversub.discount"), inputs.discount_pct, t("oversub.discountHelp", { max: doc.max_discount_pct })),
    field(t("oversub.offered"), offered, t("oversub.offeredHelp"))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", testid: "oversub-save" }, t("oversub.save"))),
  status);
  const pools = table([
    { label: t("oversub.site"), value: (g) => g.site },
    { label: t("oversub.model"), value: (g) => g.model },
    { label: t("oversub.devices"), value: (g) => String(g.pool_devices), class: "num" },
    { label: t("oversub.slices"), value: (g) => String(g.slices), class: "num" },
    { label: t("oversub.sold"), value: (g) => num(g.sold_compute_milli / 1000, 3), class: "num" },
    { label: t("oversub.charged"), value: (g) => num(g.charged_milli / 1000, 3), class: "num" },
    { label: t("oversub.oversold"), value: (g) => h("span", { "data-value": g.oversold }, `${num(g.oversold, 2)}×`), class: "num" },
  ], doc.pools, { empty: t("oversub.poolEmpty"), testid: "oversub-pools" });
  const devices = table([
    { label: t("oversub.node"), value: (d) => d.node },
    { label: t("oversub.device"), value: (d) => String(d.slot), class: "num" },
    { label: t("oversub.model"), value: (d) => d.model },
    { label: t("oversub.slices"), value: (d) => String(d.slices), class: "num" },
    { label: t("oversub.samples"), value: (d) => String(d.samples), class: "num" },
    { label: t("oversub.saturated"), class: "num", value: (d) => (d.contention === null
      ? h("span", { class: "muted" }, t("oversub.noSamples"))
      : h("span", { "data-value": d.contention }, `${num(Number(d.contention) * 100, 1)} %`)) },
  ], doc.devices, { empty: t("oversub.poolEmpty"), testid: "oversub-devices" });
  return h("section", { testid: "oversub-page" },
    h("div", { class: "page-head" }, h("h1", {}, t("oversub.title"))),
    h("p", { class: "muted" }, t("oversub.intro")),
    panel(t("oversub.inForce"), "oversub-in-force", table(factorCols(), doc.in_force, { empty: t("oversub.none"), testid: "oversub-factors" })),
    panel(t("oversub.set"), "oversub-set", form),
    panel(t("oversub.pool"), "oversub-pool", pools),
    panel(t("oversub.contention"), "oversub-contention",
      h("p", { class: "muted" }, t("oversub.contentionHelp", { pct: doc.saturated_pct })), devices),
    panel(t("oversub.history"), "oversub-history", table(factorCols(), doc.history, { empty: t("oversub.none") })));
}

/** The slice-class field of the tenant's order form: {el, apply(out)}; el is shown for slices only. */
export async function sliceClassField() {
  let offers = [];
  try {
    offers = await get("/v1/oversub/offers");
  } catch {
    offers = [];
  }
  const sel = h("select", { id: "f-slice_class", name: "slice_class" },
    h("option", { value: "guaranteed" }, t("oversub.guaranteed")),
    h("option", { value: "burstable", disabled: !offers.length }, t("oversub.burstable")));
  const where = offers.map((o) => `${o.model} @ ${o.site}`).join(", ");
  const pcts = [...new Set(offers.map((o) => num(o.discount_pct, 2)))].join("/");
  const note = h("div", { class: "help", testid: "burstable-note" });
  const show = () => {
    note.textContent = !offers.length ? t("oversub.notOffered")
      : sel.value === "burstable" ? t("oversub.note", { pct: pcts, where }) : "";
  };
  sel.addEventListener("change", show);
  show();
  return {
    el: h("div", { class: "field", "data-field": "slice_class" }, h("label", { for: sel.id }, t("oversub.class")), sel, note),
    apply(out) {
      if (sel.value === "burstable") out.slice_class = "burstable";
      return out;
    },
  };
}

/** The economics page's section: the factors in force and what burstable slices brought in the period. */
export function economicsSection(r) {
  const o = r.oversubscription;
  if (!o) return null;
  const c = r.currency;
  return h("div", { testid: "econ-oversub" }, h("h2", {}, t("oversub.econ")),
    o.in_force.length ? table(factorCols().slice(0, 5), o.in_force, { testid: "econ-oversub-factors" })
      : h("p", { class: "muted" }, t("oversub.econNone")),
    h("p", { class: "muted", testid: "econ-oversub-extra", "data-value": o.extra_revenue },
      t("oversub.econLine", { revenue: fmtMoney(o.burstable_revenue, c), extra: fmtMoney(o.extra_revenue, c) })));
}

/** A burstable allocation's share cell on a lease page: the sold share, the capacity it takes in the title. */
export function burstableShare(a) {
  return h("span", { testid: "burstable-share", title: t("oversub.shareTitle", { charge: num(String(a.milli / 10), 1) }) },
    t("oversub.share", { pct: num(String(a.sold_milli / 10), 1) }));
}
