// Tenant pages: offers (specs, free counts), the order form with a live price quote, leases with their
// cost to date, one lease, and the banners above every tenant page (low balance, suspension, unpaid
// invoices). Billing, invoices and vouchers are in billing.js (re-exported here for older imports).
// (Lease detail is shared: the operator and a supplier open it from their own lists.)
import { all, get, post } from "./api.js";
import { fmtDateTime, register, t } from "./i18n.js";
import { leaseJobs } from "./jobs.js";
import { nearFields, rttCell } from "./near.js";
import { burstableShare, sliceClassField } from "./oversub.js";
import { placedText, queueFields, waitingOrders } from "./queue.js";
import { shapeFields } from "./shapes.js";
import { allowUnenforcedField, enforcementLine, enforcementText } from "./slices.js";
import { badge, errorBox, field, h, holdsNow, kv, listView, markFields, money, num, optionsOf, table, text, when, yuan } from "./ui.js";

export { billing, invoice, invoiceColumns, invoiceDownloads, invoiceLines, invoiceLink, invoiceTotals, periodPicker, vouchers } from "./billing.js";

register({
  en: {
    "tenant.any": "any", "tenant.anyModel": "any model", "tenant.anySite": "any site", "tenant.anyVendor": "any vendor",
    "tenant.offers.title": "Offers",
    "tenant.offers.intro": "What can be rented now, per accelerator model and site, at list price. 元/P/年 is the price per PFLOPS of dense FP16 per year; device-hour price = P-year price × P ÷ 8,760.",
    "tenant.offers.none": "No offers match.", "tenant.offers.order": "Order",
    "tenant.col.model": "Model", "tenant.col.vendor": "Vendor", "tenant.col.memory": "Memory", "tenant.col.p": "P / device",
    "tenant.col.site": "Site", "tenant.col.free": "Free / devices", "tenant.col.deviceHour": "元 / device-hour",
    "tenant.col.pYear": "元 / P / 年", "tenant.col.energy": "Energy 元 / P-hour", "tenant.col.nodes": "Nodes",
    "tenant.gib": "{n} GiB", "tenant.col.tdp": "TDP", "tenant.watts": "{n} W",
    "tenant.form.gpu": "K whole accelerators on one node", "tenant.form.server": "N whole nodes (bare metal)",
    "tenant.form.slice": "a fraction of one accelerator: compute share and memory",
    "tenant.form.cluster": "K whole nodes in one fabric domain, all or nothing",
    "tenant.form.flops": "an amount of compute in P; the platform picks the hardware",
    "tenant.form.cpu": "a CPU-only instance: cores, RAM, NIC and disk on a node, no accelerator",
    "tenant.order.title": "Order compute",
    "tenant.order.intro": "Placement happens at once: you get a lease on specific devices, billed per second at the list price of each device's model and site.",
    "tenant.order.form": "Product form", "tenant.order.model": "Model", "tenant.order.site": "Site",
    "tenant.order.quantity": "Quantity", "tenant.order.quantityHelp": "servers, GPUs or cluster nodes",
    "tenant.order.share": "Compute share (%)", "tenant.order.memory": "Memory (MiB)", "tenant.order.p": "Compute (P)",
    "tenant.order.pHelp": "PFLOPS of dense FP16", "tenant.order.minMemory": "Min. memory per device (GiB)",
    "tenant.order.topology": "Topology", "tenant.order.topologyHelp": "node: all on one node; fabric: one fabric domain",
    "tenant.order.vendor": "Vendor", "tenant.order.hours": "Term (hours)",
    "tenant.order.hoursHelp": "leave empty for open-ended; end it any time", "tenant.order.hoursPlaceholder": "empty = open-ended",
    "tenant.order.start": "Start (your local time)", "tenant.order.startHelp": "empty = now; a future time makes a reservation",
    "tenant.order.place": "Place order", "tenant.order.placing": "Placing the order…",
    "tenant.order.placed": "Order {id} {status}: lease {lease}.",
    "tenant.order.free": "Free now: {free} of {devices} devices ({models} at {sites})",
    "tenant.order.freeNone": "No devices match this model and site.",
    "tenant.quote.title": "Price quote", "tenant.quote.loading": "Pricing…",
    "tenant.quote.hint": "Fill in the form: the price for the term shows here as you type.",
    "tenant.quote.deviceHour": "元 / device-hour", "tenant.quote.pYear": "元 / P / 年", "tenant.quote.hourly": "Per hour",
    "tenant.quote.total": "Total for the term", "tenant.quote.open": "open-ended: billed per second until you end it",
    "tenant.quote.quoted": "Binding if you order now: a fixed term is billed at this quote whatever prices do later.",
    "tenant.quote.list": "Open-ended: follows the list price in force at each second; this is today's price.",
    "tenant.quote.asOf": "as of {time}", "tenant.quote.lines": "{model} at {site}: {devices} devices",
    "tenant.leases.title": "Leases", "tenant.leases.order": "Order compute", "tenant.leases.none": "No leases yet.",
    "tenant.leases.noneState": "No {state} leases.", "tenant.col.lease": "Lease", "tenant.col.form": "Form",
    "tenant.col.state": "State", "tenant.col.devices": "Devices", "tenant.col.start": "Start", "tenant.col.end": "End",
    "tenant.col.cost": "Cost to date", "tenant.col.thisMonth": "This month", "tenant.state": "state", "tenant.all": "all",
    "tenant.lease.title": "Lease {id}", "tenant.lease.end": "End lease", "tenant.lease.endNow": "End now",
    "tenant.lease.keep": "Keep it", "tenant.lease.endQ": "End lease {id} now? Its devices are released and billing stops at this second.",
    "tenant.lease.ended": "Lease {id} ended.", "tenant.lease.endedBy": "ended in the console by {name}",
    "tenant.lease.openEnded": "Open-ended lease: it runs until you end it, so there is no end to extend.",
    "tenant.lease.devices": "Devices", "tenant.lease.released": "Devices (released)", "tenant.lease.earlier": "Earlier devices",
    "tenant.lease.noDevices": "No devices held.", "tenant.lease.events": "Events", "tenant.lease.noEvents": "No events.",
    "tenant.lease.draftLink": "See this month's invoice draft →", "tenant.lease.openEndedShort": "open-ended",
    "tenant.lease.whole": "whole", "tenant.lease.system": "system",
    "tenant.k.mix": "Mix", "tenant.lease.mixPart": "{n} × {model} at {site}",
    "tenant.k.state": "State", "tenant.k.form": "Form", "tenant.k.devices": "Devices", "tenant.k.start": "Start",
    "tenant.k.activated": "Activated", "tenant.k.ends": "Ends", "tenant.k.ended": "Ended", "tenant.k.reason": "Reason",
    "tenant.k.order": "Order", "tenant.k.tenant": "Tenant", "tenant.k.placement": "Placement",
    "tenant.k.cost": "Cost to date", "tenant.k.costNote": "{month} this month; before tax and vouchers; rated as the invoice",
    "tenant.c.node": "Node", "tenant.c.device": "Device", "tenant.c.fabric": "Fabric", "tenant.c.share": "Share",
    "tenant.c.memory": "Memory", "tenant.c.from": "From", "tenant.c.until": "Until", "tenant.c.at": "At",
    "tenant.c.to": "To", "tenant.c.by": "By", "tenant.c.reason": "Reason",
    "tenant.extend.title": "Extend this lease", "tenant.extend.hours": "Add hours", "tenant.extend.button": "Extend",
    "tenant.extend.help": "ends {end} now; the same devices must be free for the added time",
    "tenant.extend.done": "Lease {id} now ends {end}.",
    "tenant.banner.low": "Low balance: {balance} left, about {hours} h of runway at {burn} / h. Below {suspend} h your pay-as-you-go leases are suspended.",
    "tenant.banner.lowAction": "Ask the operator to top up your wallet.",
    "tenant.banner.suspended": "Account suspended for low balance: {n} lease(s) are stopped and not billed; their devices may go to others.",
    "tenant.banner.suspendedAction": "Top up the wallet (ask the operator): leases resume by themselves once the runway is back above {warn} h.",
    "tenant.banner.unpaid": "{n} unpaid invoice(s), {amount} due.", "tenant.banner.pay": "Pay from the wallet →",
  },
  "zh-CN": {
    "tenant.any": "全部", "tenant.anyModel": "任意型号", "tenant.anySite": "任意站点", "tenant.anyVendor": "任意厂商",
    "tenant.offers.title": "资源报价",
    "tenant.offers.intro": "按加速卡型号和站点列出当前可租用的资源及目录价。元/P/年 指每 PFLOPS（稠密 FP16）每年的价格；卡时价 = P 年价 × P ÷ 8,760。",
    "tenant.offers.none": "没有符合条件的报价。", "tenant.offers.order": "下单",
    "tenant.col.model": "型号", "tenant.col.vendor": "厂商", "tenant.col.memory": "显存", "tenant.col.p": "每卡 P",
    "tenant.col.site": "站点", "tenant.col.free": "空闲 / 总卡数", "tenant.col.deviceHour": "元 / 卡时",
    "tenant.col.pYear": "元 / P / 年", "tenant.col.energy": "能耗 元 / P 时", "tenant.col.nodes": "节点数",
    "tenant.gib": "{n} GiB", "tenant.col.tdp": "热设计功耗", "tenant.watts": "{n} W",
    "tenant.form.gpu": "单节点上的 K 张整卡", "tenant.form.server": "N 台整机（裸金属）",
    "tenant.form.slice": "单卡的一部分：算力份额与显存",
    "tenant.form.cluster": "同一网络域内的 K 台整机，全部满足或不分配",
    "tenant.form.flops": "以 P 计的算力，由平台选择硬件",
    "tenant.form.cpu": "纯 CPU 实例：节点上的核、内存、网卡和磁盘，不含加速卡",
    "tenant.order.title": "订购算力",
    "tenant.order.intro": "下单即刻调度：您将获得指定设备上的租约，按各设备型号和站点的目录价逐秒计费。",
    "tenant.order.form": "产品形态", "tenant.order.model": "型号", "tenant.order.site": "站点",
    "tenant.order.quantity": "数量", "tenant.order.quantityHelp": "整机、GPU 或集群节点数",
    "tenant.order.share": "算力份额（%）", "tenant.order.memory": "显存（MiB）", "tenant.order.p": "算力（P）",
    "tenant.order.pHelp": "稠密 FP16 的 PFLOPS", "tenant.order.minMemory": "每卡最低显存（GiB）",
    "tenant.order.topology": "拓扑", "tenant.order.topologyHelp": "node：全部在一个节点；fabric：同一网络域",
    "tenant.order.vendor": "厂商", "tenant.order.hours": "租期（小时）",
    "tenant.order.hoursHelp": "留空表示不定期，可随时结束", "tenant.order.hoursPlaceholder": "留空 = 不定期",
    "tenant.order.start": "开始时间（本地时间）", "tenant.order.startHelp": "留空 = 立即；未来时间即为预约",
    "tenant.order.place": "提交订单", "tenant.order.placing": "正在下单…",
    "tenant.order.placed": "订单 {id} {status}：租约 {lease}。",
    "tenant.order.free": "当前空闲：{devices} 张中 {free} 张（{models}，{sites}）",
    "tenant.order.freeNone": "没有符合该型号和站点的设备。",
    "tenant.quote.title": "价格报价", "tenant.quote.loading": "正在计算价格…",
    "tenant.quote.hint": "填写表单后，此处会实时显示租期内的价格。",
    "tenant.quote.deviceHour": "元 / 卡时", "tenant.quote.pYear": "元 / P / 年", "tenant.quote.hourly": "每小时",
    "tenant.quote.total": "租期总价", "tenant.quote.open": "不定期：逐秒计费，直到您结束租约",
    "tenant.quote.quoted": "立即下单即锁定：固定租期按此报价计费，不受之后价格变动影响。",
    "tenant.quote.list": "不定期：按每一秒生效的目录价计费；此为当前价格。",
    "tenant.quote.asOf": "报价时间 {time}", "tenant.quote.lines": "{model}，{site}：{devices} 张",
    "tenant.leases.title": "租约", "tenant.leases.order": "订购算力", "tenant.leases.none": "暂无租约。",
    "tenant.leases.noneState": "没有状态为 {state} 的租约。", "tenant.col.lease": "租约", "tenant.col.form": "形态",
    "tenant.col.state": "状态", "tenant.col.devices": "设备数", "tenant.col.start": "开始", "tenant.col.end": "结束",
    "tenant.col.cost": "累计费用", "tenant.col.thisMonth": "本月", "tenant.state": "状态", "tenant.all": "全部",
    "tenant.lease.title": "租约 {id}", "tenant.lease.end": "结束租约", "tenant.lease.endNow": "立即结束",
    "tenant.lease.keep": "保留", "tenant.lease.endQ": "立即结束租约 {id}？其设备将被释放，计费在此刻停止。",
    "tenant.lease.ended": "租约 {id} 已结束。", "tenant.lease.endedBy": "由 {name} 在控制台结束",
    "tenant.lease.openEnded": "不定期租约：持续运行直到您结束它，因此没有可延长的结束时间。",
    "tenant.lease.devices": "设备", "tenant.lease.released": "设备（已释放）", "tenant.lease.earlier": "此前的设备",
    "tenant.lease.noDevices": "未占用设备。", "tenant.lease.events": "事件", "tenant.lease.noEvents": "暂无事件。",
    "tenant.lease.draftLink": "查看本月账单草稿 →", "tenant.lease.openEndedShort": "不定期",
    "tenant.lease.whole": "整卡", "tenant.lease.system": "系统",
    "tenant.k.mix": "算力组合", "tenant.lease.mixPart": "{n} × {model}（{site}）",
    "tenant.k.state": "状态", "tenant.k.form": "形态", "tenant.k.devices": "设备数", "tenant.k.start": "开始",
    "tenant.k.activated": "生效时间", "tenant.k.ends": "到期", "tenant.k.ended": "结束时间", "tenant.k.reason": "原因",
    "tenant.k.order": "订单", "tenant.k.tenant": "租户", "tenant.k.placement": "调度说明",
    "tenant.k.cost": "累计费用", "tenant.k.costNote": "本月 {month}；税前、未抵扣算力券；与账单同一计价",
    "tenant.c.node": "节点", "tenant.c.device": "设备", "tenant.c.fabric": "网络域", "tenant.c.share": "份额",
    "tenant.c.memory": "显存", "tenant.c.from": "自", "tenant.c.until": "至", "tenant.c.at": "时间",
    "tenant.c.to": "变为", "tenant.c.by": "操作者", "tenant.c.reason": "原因",
    "tenant.extend.title": "延长此租约", "tenant.extend.hours": "增加小时数", "tenant.extend.button": "延长",
    "tenant.extend.help": "当前于 {end} 到期；增加的时段内同一批设备须空闲",
    "tenant.extend.done": "租约 {id} 现于 {end} 到期。",
    "tenant.banner.low": "余额不足：剩余 {balance}，按每小时 {burn} 约可用 {hours} 小时。低于 {suspend} 小时将暂停您的按量租约。",
    "tenant.banner.lowAction": "请联系运营方为钱包充值。",
    "tenant.banner.suspended": "账户因余额不足已暂停：{n} 个租约已停止且不计费，其设备可能被分配给他人。",
    "tenant.banner.suspendedAction": "请为钱包充值（联系运营方）：可用时长回到 {warn} 小时以上后租约会自动恢复。",
    "tenant.banner.unpaid": "{n} 张未付账单，应付 {amount}。", "tenant.banner.pay": "用钱包支付 →",
  },
});

const FORMS = ["gpu", "server", "slice", "cluster", "flops", "cpu"];
// which optional fields each form uses (the API rejects the others)
const FIELDS = {
  gpu: ["quantity"], server: ["quantity"], cluster: ["quantity"], slice: ["share_pct", "memory_mib"],
  flops: ["p", "min_memory_gib", "topology", "vendors"], cpu: [],
};
const LIVE = ["active", "suspended", "interrupted"];
/** How long the order form waits after the last keystroke before it asks for a quote. */
export const QUOTE_DEBOUNCE_MS = 350;

function uniq(xs) {
  return [...new Set(xs)].sort();
}

function title(text, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, text), ...extra);
}

export async function offers(ctx) {
  const [offered, catalog] = await Promise.all([get("/v1/offers"), get("/v1/catalog")]);
  const tdp = new Map(catalog.map((a) => [a.name, a.tdp_watts]));
  const rows = offered.map((o) => ({ ...o, tdp_watts: tdp.get(o.model) ?? null }));
  const orderLink = (o) => ctx.me.role === "tenant"
    ? h("a", { class: "button small", href: `#/order?model=${encodeURIComponent(o.model)}&site=${encodeURIComponent(o.site)}`,
      testid: `order-${o.model}-${o.site}` }, t("tenant.offers.order"))
    : "";
  return h("section", {},
    title(t("tenant.offers.title"), h("p", { class: "muted" }, t("tenant.offers.intro"))),
    listView({
      columns: [
        { key: "model", label: t("tenant.col.model"), value: (o) => h("strong", {}, o.model) },
        { key: "vendor", label: t("tenant.col.vendor"), value: (o) => o.vendor },
        { key: "memory_gib", label: t("tenant.col.memory"), value: (o) => t("tenant.gib", { n: o.memory_gib }), class: "num" },
        { key: "p_per_device", label: t("tenant.col.p"), value: (o) => num(o.p_per_device), class: "num" },
        { key: "site", label: t("tenant.col.site"), value: (o) => h("span", {}, o.site, h("span", { class: "muted" }, ` ${o.region} · ${o.tier}`)) },
        { key: "free_devices", label: t("tenant.col.free"), class: "num",
          value: (o) => h("span", { testid: `free-${o.model}-${o.site}` }, `${o.free_devices} / ${o.devices}`) },
        { key: "tdp_watts", label: t("tenant.col.tdp"), value: (o) => (o.tdp_watts === null ? "—" : t("tenant.watts", { n: num(o.tdp_watts, 0) })), class: "num" },
        { key: "price_device_hour", label: t("tenant.col.deviceHour"), value: (o) => money(o.price_device_hour, 4), class: "num" },
        { key: "price_p_year", label: t("tenant.col.pYear"), value: (o) => money(o.price_p_year, 2), class: "num" },
        { key: "energy_cost_per_p_hour", label: t("tenant.col.energy"), value: (o) => money(o.energy_cost_per_p_hour, 4), class: "num" },
        { key: "rtt_ms", label: t("near.col"), value: rttCell, class: "num" },
        { label: "", value: orderLink },
      ],
      rows, query: ctx.query, testid: "offers", rowTestid: (o) => `offer-${o.model}-${o.site}`, empty: t("tenant.offers.none"),
      search: (o) => `${o.model} ${o.vendor} ${o.site} ${o.region} ${o.tier}`,
      filters: [
        { key: "model", label: t("tenant.col.model"), options: optionsOf(rows, "model") },
        { key: "site", label: t("tenant.col.site"), options: optionsOf(rows, "site") },
        { key: "vendor", label: t("tenant.col.vendor"), options: optionsOf(rows, "vendor") },
      ],
    }));
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
    FORMS.map((k) => h("option", { value: k, selected: k === (ctx.query.get("form") || "gpu") }, `${k} — ${t(`tenant.form.${k}`)}`)));
  const modelSel = h("select", { id: "f-model", name: "model" }, h("option", { value: "" }, t("tenant.anyModel")),
    models.map((m) => h("option", { value: m, selected: m === ctx.query.get("model") }, m)));
  const siteSel = h("select", { id: "f-site", name: "site" }, h("option", { value: "" }, t("tenant.anySite")),
    sites.map((s) => h("option", { value: s, selected: s === ctx.query.get("site") }, s)));
  const vendorSel = h("select", { id: "f-vendors", name: "vendors" }, h("option", { value: "" }, t("tenant.anyVendor")),
    vendors.map((v) => h("option", { value: v }, v)));
  const near = nearFields(rows);
  const queue = queueFields(); // QUEUE: wait until, priority, "when?" (docs/queue.md)
  const sliceClass = await sliceClassField(); // OVERSUB: guaranteed or burstable (docs/slices.md)
  const shape = shapeFields(); // SHAPES: cores, RAM, NIC, disk; the cpu form (docs/orders.md "Custom shapes")
  const unenforced = allowUnenforcedField(); // SLICES: accept a slice nothing enforces (docs/slices.md)
  const topoSel = h("select", { id: "f-topology", name: "topology" },
    ["any", "node", "fabric"].map((x) => h("option", { value: x }, x === "any" ? t("tenant.any") : x)));
  const inputs = {
    quantity: text("quantity", "1", "1"),
    share_pct: text("share_pct", "1-100"),
    memory_mib: text("memory_mib", "8192"),
    p: text("p", "2.5"),
    min_memory_gib: text("min_memory_gib", "64"),
    hours: text("hours", t("tenant.order.hoursPlaceholder")),
    start: h("input", { id: "f-start", name: "start", type: "datetime-local" }),
  };
  const status = h("div", { testid: "order-status" });
  const submit = h("button", { type: "submit", class: "primary" }, t("tenant.order.place"));
  const optional = {
    quantity: field(t("tenant.order.quantity"), inputs.quantity, t("tenant.order.quantityHelp")),
    share_pct: field(t("tenant.order.share"), inputs.share_pct),
    memory_mib: field(t("tenant.order.memory"), inputs.memory_mib),
    p: field(t("tenant.order.p"), inputs.p, t("tenant.order.pHelp")),
    min_memory_gib: field(t("tenant.order.minMemory"), inputs.min_memory_gib),
    topology: field(t("tenant.order.topology"), topoSel, t("tenant.order.topologyHelp")),
    vendors: field(t("tenant.order.vendor"), vendorSel),
    slice_class: sliceClass.el,
    allow_unenforced: unenforced.el,
  };
  const free = h("p", { class: "muted", testid: "order-free" });
  const quoteBox = h("div", { class: "panel quote", testid: "quote", "aria-live": "polite" });
  const showFree = () => {
    const match = rows.filter((o) => (!modelSel.value || o.model === modelSel.value) && (!siteSel.value || o.site === siteSel.value)
      && near.matches(o)
      && (!vendorSel.value || !FIELDS[formSel.value].includes("vendors") || o.vendor === vendorSel.value));
    const n = match.reduce((a, o) => a + o.free_devices, 0);
    const d = match.reduce((a, o) => a + o.devices, 0);
    free.textContent = match.length ? t("tenant.order.free", { free: n, devices: d, models: modelSel.value || t("tenant.anyModel"),
      sites: siteSel.value || t("tenant.anySite") }) : t("tenant.order.freeNone");
    free.dataset.free = String(n);
  };
  const body = () => {
    const f = formSel.value;
    const out = { form: f };
    const used = FIELDS[f];
    for (const name of ["quantity", "share_pct", "memory_mib", "min_memory_gib"]) {
      const v = inputs[name].value.trim();
      if (used.includes(name) && v !== "") out[name] = intOrRaw(v);
    }
    if (used.includes("p") && inputs.p.value.trim()) out.p = inputs.p.value.trim();
    if (used.includes("topology") && topoSel.value !== "any") out.topology = topoSel.value;
    if (used.includes("vendors") && vendorSel.value) out.vendors = [vendorSel.value];
    if (f === "slice") sliceClass.apply(out);
    if (f === "slice") unenforced.apply(out);
    shape.apply(out, f);
    if (modelSel.value) out.models = [modelSel.value];
    if (siteSel.value) out.sites = [siteSel.value];
    if (inputs.hours.value.trim()) out.hours = inputs.hours.value.trim();
    if (inputs.start.value) out.start = new Date(inputs.start.value).toISOString();
    return queue.apply(near.apply(out));
  };
  let quoteSeq = 0;
  let lastSubmit = 0; // quoteSeq when the order was last placed
  let quoteTimer = null;
  const quoteNow = async () => {
    const mine = ++quoteSeq;
    const sent = body();
    queue.ask(sent);
    quoteBox.dataset.state = "loading";
    quoteBox.replaceChildren(h("h3", {}, t("tenant.quote.title")), h("p", { class: "muted" }, t("tenant.quote.loading")));
    try {
      const q = await post("/v1/quotes", sent);
      if (mine !== quoteSeq) return;
      if (mine > lastSubmit) form.querySelectorAll(".field-error").forEach((el) => el.remove());
      quoteBox.replaceChildren(...quoteView(q));
      quoteBox.dataset.state = "ok";
      quoteBox.dataset.body = JSON.stringify(sent);
    } catch (e) {
      if (mine !== quoteSeq) return;
      quoteBox.replaceChildren(h("h3", {}, t("tenant.quote.title")), errorBox(e, "quote-error"));
      if (mine > lastSubmit) markFields(form, e, { models: "model", sites: "site" });
      quoteBox.dataset.state = "error";
      quoteBox.dataset.body = JSON.stringify(sent);
    }
  };
  const requote = () => {
    showFree();
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(quoteNow, QUOTE_DEBOUNCE_MS);
  };
  const sync = () => {
    for (const [name, el] of Object.entries(optional)) el.hidden = !FIELDS[formSel.value].includes(name) && !(["slice_class", "allow_unenforced"].includes(name) && formSel.value === "slice");
    shape.sync(formSel.value);
  };
  formSel.addEventListener("change", sync);
  sync();
  const form = h("form", { class: "order", testid: "order-form", novalidate: true, oninput: requote, onchange: requote,
    onsubmit: async (ev) => {
      ev.preventDefault();
      clearTimeout(quoteTimer);
      lastSubmit = quoteSeq; // a quote asked before this must not clear (or replace) the order's refusal
      submit.disabled = true;
      status.replaceChildren(h("p", { class: "muted" }, t("tenant.order.placing")));
      try {
        const o = await post("/v1/orders", body(), { idempotent: true });
        if (o.status === "queued") { // QUEUE: it waits (202): say where, and list it
          status.replaceChildren(h("p", { class: "ok", testid: "order-queued" }, placedText(o)));
          waiting.replaceChildren(await waitingOrders(ctx));
          return;
        }
        costCache.clear(); // the lease's cost changes now: ask again
        ctx.flash(t("tenant.order.placed", { id: o.id, status: o.status, lease: o.lease_id }), "ok", { next: true });
        ctx.go(`/leases/${encodeURIComponent(o.lease_id)}`);
      } catch (e) {
        status.replaceChildren(errorBox(e, "order-error"));
        markFields(form, e, { models: "model", sites: "site" });
      } finally {
        submit.disabled = false;
      }
    } },
  field(t("tenant.order.form"), formSel),
  h("div", { class: "grid2" }, field(t("tenant.order.model"), modelSel), field(t("tenant.order.site"), siteSel)),
  near.el,
  free,
  h("div", { class: "grid2" }, optional.quantity, optional.share_pct, optional.memory_mib, optional.p,
    optional.min_memory_gib, optional.topology, optional.vendors, optional.slice_class, optional.allow_unenforced),
  shape.el,
  h("div", { class: "grid2" }, field(t("tenant.order.hours"), inputs.hours, t("tenant.order.hoursHelp")),
    field(t("tenant.order.start"), inputs.start, t("tenant.order.startHelp"))),
  queue.el,
  quoteBox,
  queue.box,
  h("div", { class: "actions" }, submit),
  status);
  const waiting = h("div", {}, await waitingOrders(ctx));
  showFree();
  quoteNow();
  return h("section", {}, title(t("tenant.order.title"), h("p", { class: "muted" }, t("tenant.order.intro"))), form,
    waiting);
}

/** A quote (POST /v1/quotes) in both units, the hourly cost and the term's total, and how long it holds. */
function quoteView(q) {
  const cur = q.currency || "CNY";
  return [
    h("h3", {}, t("tenant.quote.title")),
    table([
      { label: t("tenant.col.model"), value: (x) => x.model },
      { label: t("tenant.col.site"), value: (x) => x.site },
      { label: t("tenant.col.devices"), value: (x) => num(x.devices), class: "num" },
      { label: t("tenant.quote.deviceHour"), value: (x) => h("span", { testid: "quote-device-hour" }, money(x.device_hour, 4)), class: "num" },
      { label: t("tenant.quote.pYear"), value: (x) => h("span", { testid: "quote-p-year" }, x.p_year === null ? "—" : money(x.p_year, 2)), class: "num" },
      { label: t("tenant.quote.hourly"), value: (x) => money(x.hourly, 4), class: "num" },
    ], q.lines, { testid: "quote-lines" }),
    kv([
      [t("tenant.quote.hourly"), h("span", { testid: "quote-hourly" }, yuan(q.hourly, 4))],
      [t("tenant.quote.total"), h("strong", { testid: "quote-total" }, q.term_total === null || q.term_total === undefined
        ? t("tenant.quote.open") : yuan(q.term_total))],
    ], "quote-totals"),
    ...enforcementLine(q),
    h("p", { class: "muted", testid: "quote-validity" }, `${t(q.pricing === "quoted" ? "tenant.quote.quoted" : "tenant.quote.list")} `
      + `${t("tenant.quote.asOf", { time: fmtDateTime(new Date().toISOString()) })}${q.note ? ` · ${q.note}` : ""}${cur !== "CNY" ? ` · ${cur}` : ""}`),
  ];
}

function leaseColumns(extra = [], costs = null) {
  return [
    { key: "id", label: t("tenant.col.lease"), value: (l) => h("a", { href: `#/leases/${encodeURIComponent(l.id)}`, class: "mono" }, l.id) },
    ...extra,
    { key: "form", label: t("tenant.col.form"), value: (l) => l.form },
    { key: "state", label: t("tenant.col.state"), value: (l) => badge(l.state) },
    { key: "devices", label: t("tenant.col.devices"), value: (l) => num(l.devices), class: "num" },
    { key: "model", label: t("tenant.col.model"), sort: (l) => uniq(l.allocations.map((a) => a.model)).join(","),
      value: (l) => uniq(l.allocations.map((a) => a.model)).join(", ") || "—" },
    { key: "site", label: t("tenant.col.site"), sort: (l) => uniq(l.allocations.map((a) => a.site)).join(","),
      value: (l) => uniq(l.allocations.map((a) => a.site)).join(", ") || "—" },
    { key: "start", label: t("tenant.col.start"), sort: (l) => l.activated_at || l.start, value: (l) => when(l.activated_at || l.start) },
    { key: "end", label: t("tenant.col.end"), sort: (l) => l.ended_at || l.end, value: (l) => when(l.ended_at || l.end) },
    ...(costs ? [
      { key: "this_month", label: t("tenant.col.thisMonth"), class: "num", sort: (l) => costs.get(l.id)?.this_month ?? "",
        value: (l) => (costs.has(l.id) ? yuan(costs.get(l.id).this_month) : "—") },
      { key: "cost", label: t("tenant.col.cost"), class: "num", sort: (l) => costs.get(l.id)?.cost_to_date ?? "",
        value: (l) => h("span", { testid: `cost-${l.id}` }, costs.has(l.id) ? yuan(costs.get(l.id).cost_to_date) : "—") },
    ] : []),
  ];
}

const STATES = ["active", "scheduled", "suspended", "interrupted", "ended", "cancelled"];

export function stateFilter(ctx, base) {
  const current = ctx.query.get("state") || "";
  return h("div", { class: "filters" }, h("label", {}, `${t("tenant.state")} `,
    h("select", { name: "state", onchange: (ev) => ctx.go(ev.target.value ? `${base}?state=${ev.target.value}` : base) },
      ["", ...STATES].map((s) => h("option", { value: s, selected: s === current }, s || t("tenant.all"))))));
}

/** How long the leases pages reuse a cost-to-date answer: it rates the month's draft (as costly as the
 * billing page), so the 10-second refresh of the leases page asks for it at most once a minute. */
export const COST_TTL_MS = 60_000;
const costCache = new Map();

/** The tenant's cost to date per lease (GET /v1/lease-costs), as a Map lease -> item; null when not readable. */
async function leaseCosts(query) {
  const key = JSON.stringify(query);
  const hit = costCache.get(key);
  if (hit && Date.now() - hit.at < COST_TTL_MS) return hit.value;
  try {
    const r = await get("/v1/lease-costs", query);
    const value = new Map(r.items.map((x) => [x.lease, x]));
    costCache.set(key, { at: Date.now(), value });
    return value;
  } catch (e) {
    if (e.status === 403 || e.status === 404) return null; // a member without the money reads
    throw e;
  }
}

export async function leases(ctx, extraColumns = [], base = "/leases") {
  const state = ctx.query.get("state") || undefined;
  const [items, costs] = await Promise.all([all("/v1/leases", { state }),
    ctx.me.role === "tenant" ? leaseCosts({}) : Promise.resolve(null)]);
  return h("section", {}, title(t("tenant.leases.title"), ctx.me.role === "tenant"
    ? h("a", { class: "button", href: "#/order" }, t("tenant.leases.order")) : null),
  listView({
    columns: leaseColumns(extraColumns, costs), rows: items, query: ctx.query, sort: "-start", testid: "leases",
    rowTestid: (l) => `lease-${l.id}`, empty: state ? t("tenant.leases.noneState", { state }) : t("tenant.leases.none"),
    search: (l) => `${l.id} ${l.form} ${l.state} ${l.tenant_id || ""} ${l.allocations.map((a) => `${a.model} ${a.site} ${a.node}`).join(" ")}`,
    filters: [{ key: "state", label: t("tenant.state"), options: STATES.map((s) => [s, s]) }],
  }));
}

export async function lease(ctx) {
  const [id] = ctx.params;
  const l = await get(`/v1/leases/${encodeURIComponent(id)}`);
  const costs = ctx.me.role === "supplier" ? null
    : await leaseCosts(ctx.me.role === "operator" ? { tenant: l.tenant_id, lease: l.id } : { lease: l.id });
  const cost = costs && costs.get(l.id);
  // the operator sees the tenant's name (one call for every account, not one per id)
  const tenantName = ctx.me.role === "operator"
    ? ((await get("/v1/accounts")).find((a) => a.id === l.tenant_id) || {}).name || l.tenant_id : null;
  const status = h("div", {});
  const actions = h("div", { class: "actions" });
  if (LIVE.includes(l.state) && ctx.me.role !== "supplier") {
    const confirmRow = h("div", { class: "confirm", hidden: true, testid: "end-confirm" },
      h("span", {}, t("tenant.lease.endQ", { id: l.id })),
      h("button", { type: "button", class: "danger", onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await post(`/v1/leases/${encodeURIComponent(l.id)}/end`, { reason: t("tenant.lease.endedBy", { name: ctx.me.name }) });
          costCache.clear(); // the lease's cost changes now: ask again
          ctx.flash(t("tenant.lease.ended", { id: l.id }));
          ctx.go(`/leases/${encodeURIComponent(l.id)}`);
        } catch (e) {
          status.replaceChildren(errorBox(e, "end-error"));
          ev.target.disabled = false;
        }
      } }, t("tenant.lease.endNow")),
      h("button", { type: "button", onclick: () => { confirmRow.hidden = true; } }, t("tenant.lease.keep")));
    actions.append(h("button", { type: "button", class: "danger", onclick: () => { confirmRow.hidden = false; } },
      t("tenant.lease.end")), confirmRow);
  }
  const extend = ["scheduled", "active"].includes(l.state) && ctx.me.role !== "supplier"
    ? (l.end ? extendForm(ctx, l) : h("p", { class: "muted", testid: "extend-note" }, t("tenant.lease.openEnded")))
    : null;
  const jobs = ctx.me.role === "supplier" ? [] : await leaseJobs(ctx, l);
  const open = l.allocations.filter(holdsNow);
  const past = l.allocations.filter((a) => !holdsNow(a));
  const devCols = [
    { label: t("tenant.c.node"), value: (a) => h("span", { class: "mono" }, a.node) },
    { label: t("tenant.c.device"), value: (a) => `#${a.device}`, class: "num" },
    { label: t("tenant.col.model"), value: (a) => a.model },
    { label: t("tenant.col.site"), value: (a) => a.site },
    { label: t("tenant.c.fabric"), value: (a) => a.fabric },
    { label: t("tenant.c.share"), value: (a) => (a.sold_milli != null ? burstableShare(a) // OVERSUB: the sold share
      : a.milli === 1000 ? t("tenant.lease.whole") : `${num(String(a.milli / 10), 1)} %`), class: "num" },
    { label: t("tenant.c.memory"), value: (a) => (a.memory_mib ? t("tenant.gib", { n: num(String(a.memory_mib / 1024), 1) }) : "—"), class: "num" },
    { label: t("tenant.c.from"), value: (a) => when(a.start) },
    { label: t("tenant.c.until"), value: (a) => when(a.end) },
  ];
  return h("section", {},
    title(t("tenant.lease.title", { id: l.id }), badge(l.state)),
    kv([
      [t("tenant.k.state"), badge(l.state)], [t("tenant.k.form"), l.form], [t("tenant.k.devices"), num(l.devices)],
      [t("tenant.k.start"), when(l.start)], [t("tenant.k.activated"), when(l.activated_at)],
      [t("tenant.k.ends"), l.end ? when(l.end) : t("tenant.lease.openEndedShort")],
      [t("tenant.k.ended"), when(l.ended_at)], [t("tenant.k.reason"), l.reason || "—"],
      [t("tenant.k.order"), h("span", { class: "mono" }, l.order_id)],
      // a supplier sees its devices' occupancy, never who the tenant is
      ...(ctx.me.role === "operator" ? [[t("tenant.k.tenant"), h("a", { href: `#/tenants/${encodeURIComponent(tenantName)}`, title: l.tenant_id }, tenantName)]] : []),
      [t("tenant.k.placement"), l.placement || "—"],
      // SLICES: how the slice is held to its share (docs/slices.md)
      ...(l.enforcement ? [[t("slices.enforcement"), h("span", { testid: "lease-enforcement", title: enforcementText(l.enforcement) }, l.enforcement)]] : []),
      // a flops lease may combine models and sites (docs/orders.md "P of compute"): the devices per (model, site)
      ...(l.form === "flops" ? [[t("tenant.k.mix"), h("span", { testid: "lease-mix" }, mixText(open.length ? open : past))]] : []),
      ...(cost ? [[t("tenant.k.cost"), h("span", {}, h("strong", { testid: "lease-cost" }, yuan(cost.cost_to_date)),
        h("span", { class: "muted" }, ` · ${t("tenant.k.costNote", { month: yuan(cost.this_month) })}`))]] : []),
    ], "lease-facts"),
    actions, status, extend,
    h("h2", {}, open.length ? t("tenant.lease.devices") : t("tenant.lease.released")),
    table(devCols, open.length ? open : past, { testid: "devices", empty: t("tenant.lease.noDevices") }),
    open.length && past.length ? [h("h2", {}, t("tenant.lease.earlier")), table(devCols, past, { testid: "past-devices" })] : null,
    h("h2", {}, t("tenant.lease.events")),
    table([
      { label: t("tenant.c.at"), value: (e) => when(e.at) },
      { label: t("tenant.c.from"), value: (e) => e.from_state },
      { label: t("tenant.c.to"), value: (e) => badge(e.to_state) },
      { label: t("tenant.c.by"), value: (e) => e.actor || t("tenant.lease.system") },
      { label: t("tenant.c.reason"), value: (e) => e.reason },
    ], l.events || [], { testid: "events", empty: t("tenant.lease.noEvents") }),
    jobs,
    ctx.me.role === "tenant" ? h("p", {}, h("a", { href: "#/billing" }, t("tenant.lease.draftLink"))) : null);
}

function mixText(allocations) {
  const counts = new Map();
  for (const a of allocations) {
    const key = `${a.model}\u0000${a.site}`;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  return [...counts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .map(([key, n]) => { const [model, site] = key.split("\u0000"); return t("tenant.lease.mixPart", { n, model, site }); })
    .join(" + ") || "—";
}

function extendForm(ctx, l) {
  const hours = text("extend_hours", "24", "", "f");
  const status = h("div", { testid: "extend-status" });
  const submit = h("button", { type: "submit" }, t("tenant.extend.button"));
  return h("form", { class: "panel inline", testid: "extend-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      // sent as typed: the API says what is wrong with a bad value and what it allows
      const after = await post(`/v1/leases/${encodeURIComponent(l.id)}/extend`, { hours: hours.value.trim() });
      costCache.clear(); // the lease's cost changes now: ask again
      ctx.flash(t("tenant.extend.done", { id: l.id, end: when(after.end) }));
      ctx.go(`/leases/${encodeURIComponent(l.id)}`);
    } catch (e) {
      status.replaceChildren(errorBox(e, "extend-error"));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h3", {}, t("tenant.extend.title")),
  h("div", { class: "row" }, field(t("tenant.extend.hours"), hours, t("tenant.extend.help", { end: when(l.end) })), submit),
  status);
}

/**
 * The banners above every tenant page, from the wallet (GET /v1/wallet: standing, runway) and the
 * unpaid invoices (GET /v1/billing/invoices?status=issued): low balance, suspension, unpaid
 * invoices, each with what to do. A member who may not read money gets none (its 403 is not an error).
 */
export async function banners() {
  const quiet = (p) => p.catch((e) => {
    if (e.status === 403 || e.status === 404) return null;
    throw e;
  });
  const [w, unpaid] = await Promise.all([quiet(get("/v1/wallet")), quiet(get("/v1/billing/invoices", { status: "issued" }))]);
  const out = [];
  if (w && (w.standing === "suspend" || (w.suspended_leases || []).length)) {
    out.push(h("div", { class: "banner danger", role: "alert", testid: "banner-suspended" },
      h("strong", {}, t("tenant.banner.suspended", { n: (w.suspended_leases || []).length })), " ",
      t("tenant.banner.suspendedAction", { warn: num(w.warn_hours, 1) })));
  } else if (w && w.standing === "warn") {
    out.push(h("div", { class: "banner warn", role: "status", testid: "banner-low-balance" },
      h("strong", {}, t("tenant.banner.low", { balance: yuan(w.balance), hours: num(w.runway_hours, 1),
        burn: yuan(w.burn_per_hour, 4), suspend: num(w.suspend_hours, 1) })), " ", t("tenant.banner.lowAction")));
  }
  if (unpaid && unpaid.length) {
    const due = sumDec(unpaid.map((i) => i.amount_due));
    out.push(h("div", { class: "banner warn", role: "status", testid: "banner-unpaid" },
      h("strong", {}, t("tenant.banner.unpaid", { n: unpaid.length, amount: yuan(due) })), " ",
      h("a", { href: "#/billing", testid: "banner-pay" }, t("tenant.banner.pay"))));
  }
  return out.length ? h("div", { class: "banners", testid: "banners" }, out) : null;
}

/** Sum decimal strings exactly (BigInt on a common scale), as a decimal string. */
export function sumDec(values) {
  const parts = values.map((v) => String(v).trim());
  const scale = Math.max(0, ...parts.map((s) => (s.split(".")[1] || "").length));
  let total = 0n;
  for (const s of parts) {
    const neg = s.startsWith("-");
    const [i, f = ""] = s.replace("-", "").split(".");
    const n = BigInt((i || "0") + f.padEnd(scale, "0"));
    total += neg ? -n : n;
  }
  const neg = total < 0n;
  const digits = (neg ? -total : total).toString().padStart(scale + 1, "0");
  const out = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? `-${out}` : out;
}
