// Supplier pages: earnings to date (issued and provisional), its nodes' occupancy over time, the
// statement per month, payouts received, its floor prices, and its own nodes now. A supplier sees
// its nodes and its money, never tenants' names or work (the API enforces it; nothing here asks).
import { get, call } from "./api.js";
import { barChart, lineChart } from "./charts.js";
import { fmtPercent, register, t } from "./i18n.js";
import { card, errorBox, field, h, money, num, table, text, when, yuan } from "./ui.js";
import { heldByNode, nodeStateForm, nodeTable } from "./operator.js";
import { periodPicker } from "./billing.js";

register({
  en: {
    "sup.st.title": "Statement · {supplier}",
    "sup.st.intro": "Your share of the charges on issued invoices (usage counts once its tenant's invoice for the month is issued), the operator's commission, and what is payable to you.",
    "sup.gross": "Gross charges", "sup.share": "Your share", "sup.commission": "Commission", "sup.payable": "Payable balance",
    "sup.col.month": "Month", "sup.col.node": "Node", "sup.col.model": "Model", "sup.col.site": "Site",
    "sup.col.leases": "Leases", "sup.col.deviceHours": "Device-hours", "sup.col.gross": "Gross", "sup.col.share": "Your share",
    "sup.col.commission": "Commission", "sup.st.noneIn": "No issued charges in {period}.", "sup.st.none": "No issued charges yet.",
    "sup.earn.title": "Earnings · {supplier}",
    "sup.earn.intro": "What your nodes have earned to date: your share on issued invoices (final), less the SLA credits you bore, plus your share on this month's drafts (provisional: it changes until each tenant's invoice is issued).",
    "sup.earn.toDate": "Earnings to date", "sup.earn.issued": "Issued (final)", "sup.earn.provisional": "Provisional ({period})",
    "sup.earn.provisionalNote": "as of {time}; {tenants} invoice(s) not issued yet",
    "sup.earn.paidOut": "Paid out to you", "sup.earn.payable": "Payable now", "sup.earn.sla": "SLA credits you bore",
    "sup.earn.byMonth": "Your share per month", "sup.earn.final": "Issued", "sup.earn.draft": "Provisional",
    "sup.earn.perNode": "Per node", "sup.earn.none": "Nothing earned yet.",
    "sup.occ.title": "Occupancy of your nodes",
    "sup.occ.intro": "How much of each of your nodes is rented: the lease rate over time from the capacity series the platform samples, and the rented device-hours per month (issued and provisional, the same lines as your statement).",
    "sup.occ.hours": "Device-hours per month and node", "sup.occ.rate": "Occupancy over time (lease rate)",
    "sup.occ.rateNote": "Rented share of each node's device-hours, from the capacity series the platform samples.",
    "sup.occ.now": "Held now", "sup.occ.leaseRate": "Lease rate", "sup.occ.allocationRate": "Allocation rate",
    "sup.occ.rentedHours": "Rented device-hours", "sup.occ.availableHours": "Available device-hours",
    "sup.occ.range.1d": "24 hours", "sup.occ.range.7d": "7 days", "sup.occ.range.30d": "30 days",
    "sup.pay.title": "Payouts received",
    "sup.pay.intro": "Money the operator has paid out to you. Payable balance: what you have earned on issued invoices and not been paid yet.",
    "sup.pay.none": "No payouts yet.", "sup.pay.id": "Payout", "sup.pay.amount": "Amount", "sup.pay.at": "Paid on",
    "sup.pay.reference": "Reference", "sup.pay.periods": "Months", "sup.pay.recorded": "Recorded", "sup.pay.total": "Paid out in all",
    "sup.pay.unavailable": "The payout list is not available on this server yet; the payable balance is.",
    "sup.floor.title": "Floor prices",
    "sup.floor.intro": "The least you earn per device-hour of a model on your nodes, whatever the list price or the tenant's discount: your share of a line is never below floor × device-hours.",
    "sup.floor.model": "Model", "sup.floor.price": "Floor (元 / device-hour)", "sup.floor.set": "Set floor",
    "sup.floor.done": "Floor for {model} set to {price} / device-hour.",
    "sup.floor.inForce": "Floors in force", "sup.floor.none": "No floor set: your share follows the list price.",
    "sup.floor.allSites": "on every site",
    "nav.earnings": "Earnings", "nav.occupancy": "Occupancy", "nav.payouts": "Payouts", "nav.floors": "Floors",
    "sup.nodes.title": "My nodes",
    "sup.nodes.intro": "Your nodes in the pool and how much of each is held by active leases now. Take one out for maintenance, or mark it down, with a reason the operator sees.",
  },
  "zh-CN": {
    "sup.st.title": "结算单 · {supplier}",
    "sup.st.intro": "已开具账单中归属您的分成（某月的用量在该租户当月账单开具后计入）、运营方佣金以及应付给您的金额。",
    "sup.gross": "总收费", "sup.share": "您的分成", "sup.commission": "佣金", "sup.payable": "应付余额",
    "sup.col.month": "月份", "sup.col.node": "节点", "sup.col.model": "型号", "sup.col.site": "站点",
    "sup.col.leases": "租约数", "sup.col.deviceHours": "卡时", "sup.col.gross": "总收费", "sup.col.share": "您的分成",
    "sup.col.commission": "佣金", "sup.st.noneIn": "{period} 没有已开具的收费。", "sup.st.none": "尚无已开具的收费。",
    "sup.earn.title": "收益 · {supplier}",
    "sup.earn.intro": "您的节点迄今的收益：已开具账单中的分成（最终）减去您承担的 SLA 赔付，加本月账单草稿中的分成（暂估：在各租户账单开具前可能变化）。",
    "sup.earn.toDate": "累计收益", "sup.earn.issued": "已开具（最终）", "sup.earn.provisional": "暂估（{period}）",
    "sup.earn.provisionalNote": "截至 {time}；{tenants} 张账单尚未开具",
    "sup.earn.paidOut": "已付给您", "sup.earn.payable": "当前应付", "sup.earn.sla": "您承担的 SLA 赔付",
    "sup.earn.byMonth": "每月分成", "sup.earn.final": "已开具", "sup.earn.draft": "暂估",
    "sup.earn.perNode": "按节点", "sup.earn.none": "尚无收益。",
    "sup.occ.title": "节点占用",
    "sup.occ.intro": "您每个节点的出租情况：平台采样的容量时间序列中的出租率走势，以及每月被租用的卡时（已开具与暂估，与结算单同源）。",
    "sup.occ.hours": "每月每节点卡时", "sup.occ.rate": "占用率趋势（出租率）",
    "sup.occ.rateNote": "每个节点卡时中被租用的比例，来自平台采样的容量时间序列。",
    "sup.occ.now": "当前占用", "sup.occ.leaseRate": "出租率", "sup.occ.allocationRate": "分配率",
    "sup.occ.rentedHours": "已租卡时", "sup.occ.availableHours": "可用卡时",
    "sup.occ.range.1d": "24 小时", "sup.occ.range.7d": "7 天", "sup.occ.range.30d": "30 天",
    "sup.pay.title": "已收付款",
    "sup.pay.intro": "运营方已付给您的款项。应付余额：已开具账单中您应得但尚未支付的金额。",
    "sup.pay.none": "暂无付款。", "sup.pay.id": "付款单", "sup.pay.amount": "金额", "sup.pay.at": "付款日期",
    "sup.pay.reference": "参考号", "sup.pay.periods": "结算月份", "sup.pay.recorded": "记录时间", "sup.pay.total": "累计已付",
    "sup.pay.unavailable": "此服务器尚未提供付款列表；应付余额可用。",
    "sup.floor.title": "底价",
    "sup.floor.intro": "您节点上某型号每卡时的最低收益，不受目录价或租户折扣影响：每条明细中您的分成不低于 底价 × 卡时。",
    "sup.floor.model": "型号", "sup.floor.price": "底价（元 / 卡时）", "sup.floor.set": "设置底价",
    "sup.floor.done": "{model} 的底价已设为每卡时 {price}。",
    "sup.floor.inForce": "现行底价", "sup.floor.none": "尚未设置底价：您的分成按目录价计算。",
    "sup.floor.allSites": "适用于所有站点",
    "nav.earnings": "收益", "nav.occupancy": "占用", "nav.payouts": "付款", "nav.floors": "底价",
    "sup.nodes.title": "我的节点",
    "sup.nodes.intro": "您在资源池中的节点以及各节点当前被租约占用的情况。可将节点转入维护或标记为故障，并填写运营方可见的原因。",
  },
});

function head(title, intro) {
  return h("div", { class: "page-head" }, h("h1", {}, title), h("p", { class: "muted" }, intro));
}

function lineColumns() {
  return [
    { label: t("sup.col.month"), value: (x) => x.period },
    { label: t("sup.col.node"), value: (x) => h("span", { class: "mono" }, x.node || "—") },
    { label: t("sup.col.model"), value: (x) => x.model },
    { label: t("sup.col.site"), value: (x) => x.site },
    { label: t("sup.col.leases"), value: (x) => num(x.leases, 0), class: "num" },
    { label: t("sup.col.deviceHours"), value: (x) => num(x.device_hours, 4), class: "num" },
    { label: t("sup.col.gross"), value: (x) => money(x.gross), class: "num" },
    { label: t("sup.col.share"), value: (x) => money(x.supplier_share), class: "num" },
    { label: t("sup.col.commission"), value: (x) => money(x.commission), class: "num" },
  ];
}

export async function statement(ctx) {
  const picker = periodPicker(ctx, "/statement", { allowEmpty: true });
  const st = await get("/v1/statements/supplier", { period: picker.value || undefined });
  return h("section", {},
    head(t("sup.st.title", { supplier: st.supplier }), t("sup.st.intro")),
    picker.el,
    h("div", { class: "cards", testid: "statement-cards" },
      card(t("sup.gross"), yuan(st.gross), "st-gross"),
      card(t("sup.share"), yuan(st.supplier_share), "st-share"),
      card(t("sup.commission"), yuan(st.commission), "st-commission"),
      card(t("sup.payable"), yuan(st.payable_balance), "st-payable")),
    table(lineColumns(), st.lines, { testid: "statement-lines",
      empty: picker.value ? t("sup.st.noneIn", { period: picker.value }) : t("sup.st.none") }));
}

/** Exact sum of decimal strings (BigInt on a common scale). */
export function addDec(...values) {
  const parts = values.map((v) => String(v ?? "0").trim());
  const scale = Math.max(0, ...parts.map((s) => (s.split(".")[1] || "").length));
  let total = 0n;
  for (const s of parts) {
    const neg = s.startsWith("-");
    const [i, f = ""] = s.replace("-", "").split(".");
    const n = BigInt((i || "0") + f.padEnd(scale, "0"));
    total += neg ? -n : n;
  }
  const neg = total < 0n;
  const d = (neg ? -total : total).toString().padStart(scale + 1, "0");
  return (neg ? "-" : "") + (scale ? `${d.slice(0, -scale)}.${d.slice(-scale)}` : d);
}

/** Payouts received (GET /v1/payouts), or null when this server has no such list yet. */
async function payoutsOf() {
  try {
    const r = await get("/v1/payouts");
    return Array.isArray(r) ? r : (r.items || []);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

/** INVOICE's earnings to date (GET /v1/statements/supplier/earnings), or null on a server without it. */
async function earningsApi() {
  try {
    return await get("/v1/statements/supplier/earnings");
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

export async function earnings() {
  const [st, api] = await Promise.all([get("/v1/statements/supplier"), earningsApi()]);
  const prov = st.provisional;
  // earnings to date: the server's figure (issued share - SLA credits borne + this month's provisional
  // share); on a server without it, the same from the statement
  const e = api ? { toDate: api.earned_to_date, issued: api.issued_share, provisional: api.provisional_share,
    sla: api.sla_share, paid: api.paid, owed: api.owed, period: api.period, asOf: api.as_of, tenants: api.provisional_tenants }
    : { toDate: addDec(st.supplier_share, `-${st.sla_share}`, prov ? prov.supplier_share : "0"), issued: st.supplier_share,
      provisional: prov ? prov.supplier_share : "0", sla: st.sla_share, paid: null, owed: st.payable_balance,
      period: prov ? prov.period : "—", asOf: prov ? prov.as_of : null, tenants: prov ? prov.tenants : 0 };
  const months = [...new Set([...st.lines.map((x) => x.period), ...(prov && prov.lines.length ? [prov.period] : [])])].sort();
  const issuedBy = (m) => addDec(...st.lines.filter((x) => x.period === m).map((x) => x.supplier_share));
  const provBy = (m) => (prov && prov.period === m ? addDec(...prov.lines.map((x) => x.supplier_share)) : "0");
  return h("section", {},
    head(t("sup.earn.title", { supplier: st.supplier }), t("sup.earn.intro")),
    h("div", { class: "cards", testid: "earnings-cards" },
      card(t("sup.earn.toDate"), yuan(e.toDate), "earn-to-date"),
      card(t("sup.earn.issued"), yuan(e.issued), "earn-issued"),
      card(t("sup.earn.provisional", { period: e.period }), yuan(e.provisional), "earn-provisional",
        e.asOf ? t("sup.earn.provisionalNote", { time: when(e.asOf), tenants: e.tenants }) : undefined),
      card(t("sup.earn.sla"), yuan(e.sla), "earn-sla"),
      e.paid !== null ? card(t("sup.earn.paidOut"), yuan(e.paid), "earn-paid") : null,
      card(t("sup.earn.payable"), yuan(e.owed), "earn-payable")),
    barChart(null, { testid: "earnings-chart", title: t("sup.earn.byMonth"), x: months, xFormat: "month", kind: "money",
      stacked: true, series: [
        { key: "issued", name: t("sup.earn.final"), values: months.map(issuedBy) },
        { key: "provisional", name: t("sup.earn.draft"), values: months.map(provBy) },
      ] }),
    h("h2", {}, t("sup.earn.perNode")),
    table([
      { label: t("sup.col.node"), value: (x) => h("span", { class: "mono" }, x.node || "—") },
      { label: t("sup.col.deviceHours"), value: (x) => num(x.device_hours, 4), class: "num" },
      { label: t("sup.col.gross"), value: (x) => money(x.gross), class: "num" },
      { label: t("sup.col.share"), value: (x) => money(x.supplier_share), class: "num" },
    ], mergeNodes(st.nodes, prov ? prov.nodes : []), { testid: "earnings-nodes", rowTestid: (x) => `earn-node-${x.node}`,
      empty: t("sup.earn.none") }));
}

/** Per node: issued plus provisional (exact sums). */
function mergeNodes(a, b) {
  const by = new Map();
  for (const x of [...a, ...b]) {
    const k = x.node || "";
    const cur = by.get(k) || { node: x.node, device_hours: "0", gross: "0", supplier_share: "0" };
    by.set(k, { node: x.node, device_hours: addDec(cur.device_hours, x.device_hours ?? "0"),
      gross: addDec(cur.gross, x.gross ?? "0"), supplier_share: addDec(cur.supplier_share, x.supplier_share ?? "0") });
  }
  return [...by.values()].sort((x, y) => String(x.node).localeCompare(String(y.node)));
}

const RANGES = { "1d": 1, "7d": 7, "30d": 30 };

/** Occupancy over time: the lease rate of each of its nodes from the capacity series (GET
 * /v1/reports/capacity?by=node: a supplier reads its own nodes), and device-hours per month per node
 * from its statement lines (issued and provisional). */
export async function occupancy(ctx) {
  const range = RANGES[ctx.query.get("range")] ? ctx.query.get("range") : "7d";
  const start = new Date(Date.now() - RANGES[range] * 86_400_000).toISOString();
  const [st, held, nodes, cap] = await Promise.all([get("/v1/statements/supplier"), heldByNode(), get("/v1/nodes"),
    get("/v1/reports/capacity", { by: "node", start }).catch((e) => {
      if ([404, 405].includes(e.status)) return null; // a server without the capacity series
      throw e;
    })]);
  const prov = st.provisional;
  const lines = [...st.lines, ...(prov ? prov.lines.map((x) => ({ ...x, period: prov.period })) : [])];
  const months = [...new Set(lines.map((x) => x.period))].sort();
  const names = nodes.map((n) => n.name).sort();
  const series = names.map((n) => ({ key: n, name: n,
    values: months.map((m) => addDec(...lines.filter((x) => x.period === m && x.node === n).map((x) => x.device_hours))) }));
  let rate = null;
  if (cap) {
    const xs = [...new Set(cap.points.map((p) => p.at))].sort();
    const groups = [...new Set(cap.points.map((p) => p.group))].sort();
    const at = new Map(cap.points.map((p) => [`${p.group}|${p.at}`, p.figures.lease_rate]));
    rate = [
      h("div", { class: "filters" }, Object.keys(RANGES).map((r) => h("a", { href: `#/occupancy?range=${r}`,
        class: r === range ? "button small active" : "button small", testid: `range-${r}` }, t(`sup.occ.range.${r}`)))),
      lineChart(null, { testid: "occupancy-rate", title: t("sup.occ.rate"), x: xs, xFormat: "datetime", kind: "percent",
        series: groups.map((g) => ({ key: g, name: g, values: xs.map((x) => at.get(`${g}|${x}`) ?? null) })) }),
      h("p", { class: "muted" }, t("sup.occ.rateNote")),
      table([
        { label: t("sup.col.node"), value: (g) => h("span", { class: "mono" }, g.group) },
        { label: t("sup.occ.leaseRate"), value: (g) => h("span", { testid: `lease-rate-${g.group}` }, fmtPercent(g.figures.lease_rate)), class: "num" },
        { label: t("sup.occ.allocationRate"), value: (g) => fmtPercent(g.figures.allocation_rate), class: "num" },
        { label: t("sup.occ.rentedHours"), value: (g) => num(g.figures.rented_device_hours, 2), class: "num" },
        { label: t("sup.occ.availableHours"), value: (g) => num(g.figures.available_device_hours, 2), class: "num" },
      ], cap.groups, { testid: "occupancy-groups", rowTestid: (g) => `occ-${g.group}` }),
    ];
  }
  return h("section", {},
    head(t("sup.occ.title"), t("sup.occ.intro")),
    rate,
    barChart(null, { testid: "occupancy-chart", title: t("sup.occ.hours"), x: months, xFormat: "month", kind: "number",
      stacked: true, series }),
    h("h2", {}, t("sup.occ.now")),
    table([
      { label: t("sup.col.node"), value: (n) => h("span", { class: "mono" }, n.name) },
      { label: t("sup.occ.now"), value: (n) => fmtPercent(String((held.milli.get(n.name) || 0) / (1000 * (n.devices || 1)))), class: "num" },
    ], nodes, { testid: "occupancy-now" }));
}

export async function payouts() {
  const [st, list] = await Promise.all([get("/v1/statements/supplier"), payoutsOf()]);
  const rows = list || [];
  return h("section", {},
    head(t("sup.pay.title"), t("sup.pay.intro")),
    h("div", { class: "cards", testid: "payout-cards" },
      card(t("sup.payable"), yuan(st.payable_balance), "payout-payable"),
      list ? card(t("sup.pay.total"), yuan(addDec(...rows.map((p) => p.amount))), "payout-total") : null),
    list ? table([
      { label: t("sup.pay.id"), value: (p) => h("span", { class: "mono" }, p.id) },
      { label: t("sup.pay.amount"), value: (p) => h("span", { testid: `payout-amount-${p.id}` }, yuan(p.amount)), class: "num" },
      { label: t("sup.pay.at"), value: (p) => p.paid_on || "—" },
      { label: t("sup.pay.periods"), value: (p) => (p.periods || []).join(", ") || "—" },
      { label: t("sup.pay.reference"), value: (p) => p.reference || "—" },
      { label: t("sup.pay.recorded"), value: (p) => when(p.recorded_at) },
    ], rows, { testid: "payouts", rowTestid: (p) => `payout-${p.id}`, empty: t("sup.pay.none") }) : h("p", { class: "muted", testid: "payouts" }, t("sup.pay.unavailable")));
}

/** The floors in force (GET /v1/suppliers/{supplier}/floors): a floor holds on every site. */
async function floorTable(supplier) {
  const list = await get(`/v1/suppliers/${encodeURIComponent(supplier)}/floors`);
  return table([
    { label: t("sup.floor.model"), value: (f) => f.model },
    { label: t("sup.floor.price"), value: (f) => h("span", { testid: `floor-price-${f.model}` }, yuan(f.device_hour, 4)), class: "num" },
    { label: t("sup.col.site"), value: () => t("sup.floor.allSites") },
  ], list, { testid: "floors", rowTestid: (f) => `floor-${f.model}`, empty: t("sup.floor.none") });
}

export async function floors(ctx) {
  const supplier = ctx.me.supplier;
  const [nodes, inForce] = await Promise.all([get("/v1/nodes"), floorTable(supplier)]);
  const current = h("div", { testid: "floors-in-force" }, inForce);
  const models = [...new Set(nodes.map((n) => n.model || (n.devices && n.devices.model)).filter(Boolean))].sort();
  const model = h("select", { id: "fl-model", name: "model" }, models.map((m) => h("option", { value: m }, m)));
  const price = text("device_hour", "7.00", "", "fl");
  const status = h("div", { testid: "floor-status" });
  const submit = h("button", { type: "submit", class: "primary" }, t("sup.floor.set"));
  const form = h("form", { class: "panel", testid: "floor-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const r = await call("PUT", `/v1/suppliers/${encodeURIComponent(supplier)}/floors`,
        { body: { model: model.value, device_hour: price.value.trim() } });
      status.replaceChildren(h("p", { class: "flash ok", testid: "floor-done" },
        t("sup.floor.done", { model: r.model, price: yuan(r.device_hour, 4) })));
      current.replaceChildren(await floorTable(supplier));
    } catch (e) {
      status.replaceChildren(errorBox(e, "floor-error"));
    } finally {
      submit.disabled = false;
    }
  } },
  h("div", { class: "grid2" }, field(t("sup.floor.model"), model), field(t("sup.floor.price"), price)),
  h("div", { class: "actions" }, submit), status);
  return h("section", {}, head(t("sup.floor.title"), t("sup.floor.intro")),
    h("h2", {}, t("sup.floor.inForce")), current, form);
}

export async function nodes(ctx) {
  const [list, held] = await Promise.all([get("/v1/nodes"), heldByNode()]);
  const stateForm = nodeStateForm(ctx, list, held.milli, "/nodes");
  return h("section", {},
    head(t("sup.nodes.title"), t("sup.nodes.intro")),
    list.length ? stateForm.el : null,
    nodeTable(list, held.milli, "my-nodes", stateForm.pick));
}
