// The operator's economics page: investment inputs (settings, opex per site, capex per node), and per
// site (or model, supplier, node) over a period: the money, payback, IRR, NPV, break-even price and
// lease rate, the sensitivity to a yearly price decline and the payback curve. Every figure is the API's
// exact decimal string (GET /v1/reports/economics), formatted for the language in use; each figure
// element carries it in data-value, which the browser tests compare with the API and the CLI.
import { call, get } from "./api.js";
import { economicsSection as oversubSection } from "./oversub.js";
import { lineChart } from "./charts.js";
import { fmtDateTime, fmtMoney, fmtNumber, fmtPercent, register, t } from "./i18n.js";
import { errorBox, field, h, markFields, panel, table, text } from "./ui.js";

register({
  en: {
    "econ.nav": "Economics", "econ.title": "Economics",
    "econ.intro": "Is the investment paying back? Per group over the period: revenue and margins, and over the life: payback, IRR, NPV and the break-even price and lease rate. Formulas: docs/economics.md.",
    "econ.by": "Group by", "econ.by.site": "Site", "econ.by.model": "Model", "econ.by.supplier": "Supplier",
    "econ.by.node": "Node", "econ.start": "From (date)", "econ.end": "To (date, exclusive)", "econ.apply": "Show",
    "econ.periodHelp": "empty: from the 1st of this month to now; at most 366 days",
    "econ.period": "{start} to {end} ({days} days). Energy: {energy}.",
    "econ.settingsLine": "Life {life} years · debt {debt} at {rate} over {loan} years · discount rate {disc} · expected price decline {decline} a year",
    "econ.money": "Money in the period", "econ.invest": "Investment over the life", "econ.prices": "Run-rate and prices",
    "econ.col.group": "Group", "econ.col.revenue": "Revenue", "econ.col.provisional": "of it provisional",
    "econ.col.share": "Supplier share", "econ.col.energy": "Energy", "econ.col.gross": "Gross margin",
    "econ.col.depr": "Depreciation", "econ.col.opex": "Opex", "econ.col.interest": "Interest",
    "econ.col.net": "Net margin", "econ.col.capex": "Capex", "econ.col.revYear": "Revenue / year",
    "econ.col.lease": "Lease rate", "econ.col.realised": "Realised / P-year", "econ.col.list": "List / P-year",
    "econ.col.payback": "Payback (years)", "econ.col.irr": "IRR", "econ.col.npv": "NPV",
    "econ.col.bePrice": "Break-even / P-year", "econ.col.beLease": "Break-even lease rate",
    "econ.sampled": "sampled: {p}", "econ.own": "(operator's own)", "econ.never": "not within the life", "econ.none": "none",
    "econ.noCapex": "{n} nodes without capex",
    "econ.sensitivity": "Sensitivity: payback (years) / NPV by yearly price decline",
    "econ.decline": "{p} a year",
    "econ.curve": "Payback curve: cumulative cash by month over the life", "econ.month": "month {n}",
    "econ.inputs": "Investment inputs", "econ.settings": "Settings",
    "econ.f.life_years": "Life (years)", "econ.f.debt_share": "Debt share", "econ.f.interest_rate": "Interest rate / year",
    "econ.f.loan_years": "Loan term (years)", "econ.f.discount_rate": "Discount rate / year",
    "econ.f.price_decline": "Expected price decline / year",
    "econ.h.life_years": "1 to 30", "econ.h.debt_share": "0 to 1 (0.5 = 50 %)",
    "econ.h.interest_rate": "0 to 1 (0.045 = 4.5 %)", "econ.h.loan_years": "0 to the life",
    "econ.h.discount_rate": "0 to 1 (0.08 = 8 %)", "econ.h.price_decline": "0 to 1 (0.1 = 10 %)",
    "econ.save": "Save", "econ.saved": "Saved.", "econ.edit": "Edit",
    "econ.opex": "Fixed opex per site and year", "econ.f.staff": "Staff", "econ.f.racks": "Racks / colocation",
    "econ.f.bandwidth": "Bandwidth", "econ.f.other": "Other", "econ.col.total": "Total", "econ.col.site": "Site",
    "econ.capexHead": "Capex per node", "econ.col.node": "Node", "econ.col.model": "Model",
    "econ.col.residual": "Residual value", "econ.col.purchased": "Purchased on",
    "econ.f.node": "Node", "econ.f.capex": "Capex", "econ.f.residual": "Residual value at the end of the life",
    "econ.f.purchased_on": "Purchased on", "econ.h.purchased_on": "YYYY-MM-DD",
    "econ.energy.capacity_report": "from the capacity report (the time it sampled)",
    "econ.energy.none": "not sampled yet (counted as 0)",
    "econ.importHint": "Many nodes at once: suanli economics import FILE (CSV node,capex,residual,purchased_on or JSON).",
  },
  "zh-CN": {
    "econ.nav": "经济性", "econ.title": "投资经济性",
    "econ.intro": "投资能否回本？按分组显示所选时段的收入与毛利/净利，以及全寿命期的回本期、内部收益率、净现值、盈亏平衡价格与出租率。公式见 docs/economics.md。",
    "econ.by": "分组", "econ.by.site": "站点", "econ.by.model": "型号", "econ.by.supplier": "供应商",
    "econ.by.node": "节点", "econ.start": "开始日期", "econ.end": "结束日期（不含）", "econ.apply": "查看",
    "econ.periodHelp": "留空：本月 1 日至今；最长 366 天",
    "econ.period": "{start} 至 {end}（{days} 天）。能耗：{energy}。",
    "econ.settingsLine": "寿命 {life} 年 · 贷款比例 {debt}，年利率 {rate}，{loan} 年还清 · 折现率 {disc} · 预期年降价 {decline}",
    "econ.money": "时段内资金", "econ.invest": "全寿命期投资", "econ.prices": "年化收入与价格",
    "econ.col.group": "分组", "econ.col.revenue": "收入", "econ.col.provisional": "其中暂估",
    "econ.col.share": "供应商分成", "econ.col.energy": "能耗", "econ.col.gross": "毛利",
    "econ.col.depr": "折旧", "econ.col.opex": "运营成本", "econ.col.interest": "利息",
    "econ.col.net": "净利", "econ.col.capex": "投资额", "econ.col.revYear": "年化收入",
    "econ.col.lease": "出租率", "econ.col.realised": "实现价 元/P/年", "econ.col.list": "牌价 元/P/年",
    "econ.col.payback": "回本期（年）", "econ.col.irr": "内部收益率", "econ.col.npv": "净现值",
    "econ.col.bePrice": "盈亏平衡价 元/P/年", "econ.col.beLease": "盈亏平衡出租率",
    "econ.sampled": "采样：{p}", "econ.own": "（运营方自有）", "econ.never": "寿命期内不能回本", "econ.none": "无",
    "econ.noCapex": "{n} 个节点未录入投资额",
    "econ.sensitivity": "敏感性：不同年降价幅度下的回本期（年）/ 净现值",
    "econ.decline": "年降 {p}",
    "econ.curve": "回本曲线：全寿命期按月累计现金", "econ.month": "第 {n} 月",
    "econ.inputs": "投资参数", "econ.settings": "全局设置",
    "econ.f.life_years": "寿命（年）", "econ.f.debt_share": "贷款比例", "econ.f.interest_rate": "年利率",
    "econ.f.loan_years": "贷款期限（年）", "econ.f.discount_rate": "年折现率",
    "econ.f.price_decline": "预期年降价幅度",
    "econ.h.life_years": "1 至 30", "econ.h.debt_share": "0 至 1（0.5 = 50%）",
    "econ.h.interest_rate": "0 至 1（0.045 = 4.5%）", "econ.h.loan_years": "0 至寿命年数",
    "econ.h.discount_rate": "0 至 1（0.08 = 8%）", "econ.h.price_decline": "0 至 1（0.1 = 10%）",
    "econ.save": "保存", "econ.saved": "已保存。", "econ.edit": "编辑",
    "econ.opex": "各站点年固定运营成本", "econ.f.staff": "人员", "econ.f.racks": "机柜/托管",
    "econ.f.bandwidth": "带宽", "econ.f.other": "其他", "econ.col.total": "合计", "econ.col.site": "站点",
    "econ.capexHead": "各节点投资额", "econ.col.node": "节点", "econ.col.model": "型号",
    "econ.col.residual": "残值", "econ.col.purchased": "购置日期",
    "econ.f.node": "节点", "econ.f.capex": "投资额", "econ.f.residual": "寿命期末残值",
    "econ.f.purchased_on": "购置日期", "econ.h.purchased_on": "YYYY-MM-DD",
    "econ.energy.capacity_report": "来自容量报表（已采样时段）",
    "econ.energy.none": "尚未采样（按 0 计）",
    "econ.importHint": "批量录入：suanli economics import FILE（CSV：node,capex,residual,purchased_on，或 JSON）。",
  },
});

const BY = ["site", "model", "supplier", "node"];
const SETTINGS = ["life_years", "debt_share", "interest_rate", "loan_years", "discount_rate", "price_decline"];
const OPEX = ["staff", "racks", "bandwidth", "other"];

/** A figure: formatted text, the API's exact string in data-value. */
function fig(testid, value, shown) {
  return h("span", { testid, "data-value": value ?? "" }, shown);
}

const yuan = (s, cur) => fmtMoney(s, cur);
const years = (s) => (s === null || s === undefined ? t("econ.never") : fmtNumber(s, { min: 2, max: 2 }));
const pct = (s, max = 2) => (s === null || s === undefined ? t("econ.none") : fmtPercent(s, { max }));
const label = (g) => g || t("econ.own");

function controls(ctx, r) {
  const bySel = h("select", { id: "e-by", name: "by" },
    BY.map((b) => h("option", { value: b, selected: b === r.by }, t(`econ.by.${b}`))));
  const start = h("input", { id: "e-start", name: "start", type: "date", value: ctx.query.get("start") || "" });
  const end = h("input", { id: "e-end", name: "end", type: "date", value: ctx.query.get("end") || "" });
  return h("form", { class: "row", testid: "econ-controls", onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ by: bySel.value });
    if (start.value) q.set("start", start.value);
    if (end.value) q.set("end", end.value);
    ctx.go(`/economics?${q}`);
  } }, field(t("econ.by"), bySel), field(t("econ.start"), start, t("econ.periodHelp")), field(t("econ.end"), end),
  h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, t("econ.apply"))));
}

function moneyTable(r) {
  const c = r.currency;
  const col = (key, f, id) => ({ label: t(key), class: "num", value: (g) => fig(`econ-${id}-${g.group}`, g[f], yuan(g[f], c)) });
  return table([
    { label: t("econ.col.group"), value: (g) => h("strong", {}, label(g.group)) },
    col("econ.col.revenue", "revenue", "revenue"), col("econ.col.provisional", "provisional_revenue", "provisional"),
    col("econ.col.share", "supplier_share", "share"), col("econ.col.energy", "energy_cost", "energy"),
    col("econ.col.gross", "gross_margin", "gross"), col("econ.col.depr", "depreciation", "depreciation"),
    col("econ.col.opex", "opex", "opex"), col("econ.col.interest", "interest", "interest"),
    col("econ.col.net", "net_margin", "net"),
  ], r.groups, { testid: "econ-money", rowTestid: (g) => `econ-money-${g.group}` });
}

function pricesTable(r) {
  const c = r.currency;
  return table([
    { label: t("econ.col.group"), value: (g) => [h("strong", {}, label(g.group)), g.nodes_without_capex
      ? h("div", { class: "help" }, t("econ.noCapex", { n: g.nodes_without_capex })) : null] },
    { label: t("econ.col.capex"), class: "num", value: (g) => fig(`econ-capex-${g.group}`, g.capex, yuan(g.capex, c)) },
    { label: t("econ.col.revYear"), class: "num",
      value: (g) => fig(`econ-revyear-${g.group}`, g.revenue_per_year, yuan(g.revenue_per_year, c)) },
    { label: t("econ.col.lease"), class: "num", value: (g) => [fig(`econ-lease-${g.group}`, g.lease_rate, pct(g.lease_rate)),
      g.lease_rate_sampled !== null && g.lease_rate_sampled !== undefined ? h("div", { class: "help" },
        t("econ.sampled", { p: pct(g.lease_rate_sampled) })) : null] },
    { label: t("econ.col.realised"), class: "num",
      value: (g) => fig(`econ-realised-${g.group}`, g.realised_price_p_year, yuan(g.realised_price_p_year, c)) },
    { label: t("econ.col.list"), class: "num",
      value: (g) => fig(`econ-list-${g.group}`, g.list_price_p_year, yuan(g.list_price_p_year, c)) },
  ], r.groups, { testid: "econ-prices", rowTestid: (g) => `econ-prices-${g.group}` });
}

function appraisalTable(r) {
  const c = r.currency;
  return table([
    { label: t("econ.col.group"), value: (g) => h("strong", {}, label(g.group)) },
    { label: t("econ.col.payback"), class: "num",
      value: (g) => fig(`econ-payback-${g.group}`, g.payback_years, years(g.payback_years)) },
    { label: t("econ.col.irr"), class: "num", value: (g) => fig(`econ-irr-${g.group}`, g.irr, pct(g.irr)) },
    { label: t("econ.col.npv"), class: "num", value: (g) => fig(`econ-npv-${g.group}`, g.npv, yuan(g.npv, c)) },
    { label: t("econ.col.bePrice"), class: "num",
      value: (g) => fig(`econ-beprice-${g.group}`, g.breakeven_price_p_year, yuan(g.breakeven_price_p_year, c)) },
    { label: t("econ.col.beLease"), class: "num",
      value: (g) => fig(`econ-belease-${g.group}`, g.breakeven_lease_rate, pct(g.breakeven_lease_rate)) },
  ], r.groups, { testid: "econ-invest", rowTestid: (g) => `econ-invest-${g.group}` });
}

function sensitivityTable(r) {
  const declines = r.groups.length ? r.groups[0].sensitivity.map((x) => x.price_decline) : [];
  return table([
    { label: t("econ.col.group"), value: (g) => h("strong", {}, label(g.group)) },
    ...declines.map((d, i) => ({ label: t("econ.decline", { p: fmtPercent(d, { max: 1 }) }), class: "num",
      value: (g) => fig(`econ-sens-${g.group}-${d}`, g.sensitivity[i].npv, [
        h("div", {}, years(g.sensitivity[i].payback_years)),
        h("div", { class: "help" }, fmtMoney(g.sensitivity[i].npv, r.currency))]) })),
  ], r.groups, { testid: "econ-sensitivity" });
}

function curveChart(r) {
  const months = Math.max(0, ...r.groups.map((g) => g.curve.length));
  return lineChart(null, { testid: "econ-curve", title: t("econ.curve"), kind: "money", currency: r.currency,
    x: Array.from({ length: months }, (_, i) => t("econ.month", { n: i })),
    series: r.groups.map((g) => ({ key: g.group, name: label(g.group), values: g.curve })) });
}

/** PUT the inputs; a refusal is shown next to the field it names and in the status line. */
async function save(ctx, form, status, body) {
  form.querySelectorAll(".field-error").forEach((el) => el.remove());
  try {
    await call("PUT", "/v1/economics/inputs", { body });
    ctx.flash(t("econ.saved"));
    ctx.go(`/economics${location.hash.includes("?") ? location.hash.slice(location.hash.indexOf("?")) : ""}`);
  } catch (e) {
    markFields(form, e);
    status.replaceChildren(errorBox(e, "econ-error"));
  }
}

function settingsForm(ctx, inputs) {
  const status = h("div", { testid: "econ-settings-status" });
  const inputsOf = SETTINGS.map((k) => text(k, "", String(inputs.settings[k]), "es"));
  const form = h("form", { novalidate: true, testid: "econ-settings-form", onsubmit: (ev) => {
    ev.preventDefault();
    save(ctx, form, status, { settings: Object.fromEntries(SETTINGS.map((k, i) => [k, inputsOf[i].value.trim()])) });
  } },
  h("div", { class: "grid3" }, SETTINGS.map((k, i) => field(t(`econ.f.${k}`), inputsOf[i], t(`econ.h.${k}`)))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("econ.save"))));
  return panel(t("econ.settings"), "econ-settings", form, status);
}

function opexForms(ctx, inputs) {
  const c = inputs.currency;
  return panel(t("econ.opex"), "econ-opex", inputs.sites.map((s) => {
    const status = h("div", {});
    const boxes = OPEX.map((k) => text(k, "", s[k], `eo-${s.site}`));
    const form = h("form", { novalidate: true, class: "econ-opex-row", testid: `econ-opex-${s.site}`, onsubmit: (ev) => {
      ev.preventDefault();
      save(ctx, form, status, { sites: [{ site: s.site, ...Object.fromEntries(OPEX.map((k, i) => [k, boxes[i].value.trim()])) }] });
    } },
    h("div", { class: "field" }, h("strong", {}, s.site), h("div", { class: "help" }, `${t("econ.col.total")}: ${fmtMoney(s.total, c)}`)),
    OPEX.map((k, i) => field(t(`econ.f.${k}`), boxes[i])),
    h("div", { class: "field" }, h("button", { type: "submit" }, t("econ.save"))));
    // a row per site (through the CSSOM: the console's CSP allows no style attributes)
    Object.assign(form.style, { display: "grid", gridTemplateColumns: "minmax(110px, 1fr) repeat(4, minmax(0, 1.3fr)) auto",
      gap: "8px 12px", alignItems: "end", marginBottom: "8px" });
    return [form, status];
  }));
}

function capexPanel(ctx, inputs) {
  const c = inputs.currency;
  const status = h("div", { testid: "econ-capex-status" });
  const nodeSel = h("select", { id: "ec-node", name: "node" }, inputs.nodes.map((n) => h("option", { value: n.node }, n.node)));
  const capex = text("capex", "2200000", "", "ec");
  const residual = text("residual", "0", "", "ec");
  const bought = text("purchased_on", "2025-07-01", "", "ec");
  const fill = (n) => {
    nodeSel.value = n.node;
    capex.value = n.capex ?? "";
    residual.value = n.residual ?? "";
    bought.value = n.purchased_on ?? "";
    capex.focus();
  };
  const form = h("form", { novalidate: true, testid: "econ-capex-form", onsubmit: (ev) => {
    ev.preventDefault();
    const row = { node: nodeSel.value, capex: capex.value.trim(), purchased_on: bought.value.trim() };
    if (residual.value.trim()) row.residual = residual.value.trim();
    save(ctx, form, status, { nodes: [row] });
  } },
  h("div", { class: "grid2" }, field(t("econ.f.node"), nodeSel), field(t("econ.f.capex"), capex),
    field(t("econ.f.residual"), residual), field(t("econ.f.purchased_on"), bought, t("econ.h.purchased_on"))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("econ.save"))));
  return panel(t("econ.capexHead"), "econ-capex",
    table([
      { label: t("econ.col.node"), value: (n) => h("span", { class: "mono" }, n.node) },
      { label: t("econ.col.site"), value: (n) => n.site },
      { label: t("econ.col.model"), value: (n) => `${n.model} × ${n.devices}` },
      { label: t("econ.col.capex"), class: "num", value: (n) => fig(`econ-node-capex-${n.node}`, n.capex, yuan(n.capex, c)) },
      { label: t("econ.col.residual"), class: "num", value: (n) => yuan(n.residual, c) },
      { label: t("econ.col.purchased"), value: (n) => n.purchased_on || "—" },
      { label: "", value: (n) => h("button", { type: "button", class: "small", testid: `econ-edit-${n.node}`,
        onclick: () => fill(n) }, t("econ.edit")) },
    ], inputs.nodes, { testid: "econ-nodes" }),
    form, status, h("p", { class: "help" }, t("econ.importHint")));
}

export async function page(ctx) {
  const by = BY.includes(ctx.query.get("by")) ? ctx.query.get("by") : "site";
  const [r, inputs] = await Promise.all([
    get("/v1/reports/economics", { by, start: ctx.query.get("start") || undefined, end: ctx.query.get("end") || undefined }),
    get("/v1/economics/inputs")]);
  const s = r.settings;
  return h("section", { testid: "economics" },
    h("div", { class: "page-head" }, h("h1", {}, t("econ.title"))),
    h("p", { class: "muted" }, t("econ.intro")),
    controls(ctx, r),
    h("p", { class: "muted", testid: "econ-period" }, t("econ.period", { start: fmtDateTime(r.start), end: fmtDateTime(r.end),
      days: fmtNumber(r.days, { max: 2 }), energy: t(`econ.energy.${String(r.energy_source).replace(/\s+/g, "_")}`) })),
    h("p", { class: "muted", testid: "econ-settings-line" }, t("econ.settingsLine", { life: s.life_years,
      debt: fmtPercent(s.debt_share), rate: fmtPercent(s.interest_rate, { max: 2 }), loan: s.loan_years,
      disc: fmtPercent(s.discount_rate, { max: 2 }), decline: fmtPercent(s.price_decline) })),
    h("h2", {}, t("econ.invest")), appraisalTable(r),
    curveChart(r),
    h("h2", {}, t("econ.sensitivity")), sensitivityTable(r),
    h("h2", {}, t("econ.prices")), pricesTable(r),
    h("h2", {}, t("econ.money")), moneyTable(r),
    oversubSection(r), // OVERSUB: the factors in force and the extra revenue (docs/slices.md)
    h("h2", {}, t("econ.inputs")),
    settingsForm(ctx, inputs), opexForms(ctx, inputs), capexPanel(ctx, inputs));
}
