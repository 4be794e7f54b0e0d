// What-if on the live fleet (#/whatif, operator): replay the last days of orders on today's fleet
// and with a change (policy, price, nodes added or removed, demand growth). The form posts
// POST /v1/whatif (a refusal is shown next to the field it names); a run shows its progress with a
// Cancel button (POST /v1/whatif/{id}/cancel) and, when done, its figures next to today's: a table
// and a small bar chart. Figures are the API's exact decimal strings, formatted for the locale; each
// cell keeps the string in data-value (tests compare them with GET /v1/whatif/{id}).
import { get, post } from "./api.js";
import { barChart } from "./charts.js";
import { fmtDateTime, fmtMoney, fmtNumber, fmtPercent, register, t } from "./i18n.js";
import { errorBox, field, h, markFields, panel, select, text } from "./ui.js";

register({
  en: {
    "whatif.nav": "What-if",
    "whatif.title": "What-if on the live fleet",
    "whatif.intro": "Replays the orders of the last days on today's fleet (the baseline) and with your change, with the same seed; both are priced through the ledger at the list prices. Today's figures come from the records.",
    "whatif.form": "Change",
    "whatif.days": "Days of history (and horizon)",
    "whatif.policy": "Placement policy",
    "whatif.policyHelp": "empty: today's policy",
    "whatif.priceChange": "Price change, %",
    "whatif.priceModels": "Models whose price changes",
    "whatif.priceModelsHelp": "comma-separated; empty: every model",
    "whatif.elasticity": "Demand response (elasticity)",
    "whatif.elasticityHelp": "% change of orders per % change of price; 0: none",
    "whatif.growth": "Demand growth (× arrivals)",
    "whatif.demand": "Demand from", "whatif.demand.history": "recent orders (this fleet's)",
    "whatif.demand.openb": "the openb trace (Alibaba GPU cluster, 2023)",
    "whatif.demandHelp": "the trace: its pods of the last days, on any model; scale with growth (e.g. 0.02)",
    "whatif.p.trace": "trace {name}",
    "whatif.addNodes": "Nodes added",
    "whatif.addNodesHelp": "MODEL:COUNT@SITE, comma-separated, e.g. H800:2@sh-east-1",
    "whatif.removeNodes": "Nodes removed",
    "whatif.removeNodesHelp": "node names, comma-separated",
    "whatif.run": "Run",
    "whatif.badNodes": "“{value}”: write MODEL:COUNT@SITE, e.g. H800:2@sh-east-1",
    "whatif.progress": "Run {id}: {state}",
    "whatif.cancel": "Cancel",
    "whatif.cancelled": "Run {id} was cancelled.",
    "whatif.failed": "Run {id} failed: {error}",
    "whatif.state.queued": "queued", "whatif.state.running": "running", "whatif.state.done": "done",
    "whatif.state.failed": "failed", "whatif.state.cancelled": "cancelled",
    "whatif.result": "Result of {id} ({days} days, seed {seed})",
    "whatif.figure": "Figure", "whatif.today": "Today", "whatif.baseline": "Baseline",
    "whatif.changed": "Changed", "whatif.delta": "Difference",
    "whatif.columns": "Today: the records of the same days. Baseline: today's fleet and prices, simulated. Changed: with your change, simulated (same seed, same demand).",
    "whatif.f.allocation_pct": "Allocation rate", "whatif.f.lease_rate_pct": "Lease rate",
    "whatif.f.device_hours": "Device-hours rented", "whatif.f.revenue": "Revenue",
    "whatif.f.supplier_share": "Supplier share", "whatif.f.commission": "Commission",
    "whatif.f.energy_cost": "Energy cost", "whatif.f.margin": "Margin", "whatif.f.orders": "Orders",
    "whatif.f.rejected": "Orders rejected (waited over 6 h)", "whatif.f.available_devices": "Available devices",
    "whatif.f.payback_years": "Payback (years)",
    "whatif.noPayback": "none (no investment inputs, or not within the life)",
    "whatif.todayRevenue": "at list prices",
    "whatif.chart": "Money over the horizon",
    "whatif.runs": "Recent runs",
    "whatif.none": "No what-if runs yet.",
    "whatif.created": "Started", "whatif.params": "Change", "whatif.state": "State",
    "whatif.open": "open", "whatif.id": "Run",
    "whatif.priceList": "Revenue rated through the ledger at the list prices in force at {time}.",
    "whatif.p.days": "{n} d", "whatif.p.policy": "policy {name}", "whatif.p.price": "price {pct} %",
    "whatif.p.growth": "demand × {g}",
  },
  "zh-CN": {
    "whatif.nav": "假设分析",
    "whatif.title": "基于现网的假设分析",
    "whatif.intro": "用最近几天的订单在今天的集群上重放（基准），再在您的改动下重放，两次使用同一随机种子；收入均按目录价经账务模块计价。“今天”的数字来自实际记录。",
    "whatif.form": "改动",
    "whatif.days": "历史天数（亦为模拟时长）",
    "whatif.policy": "调度策略",
    "whatif.policyHelp": "留空：沿用当前策略",
    "whatif.priceChange": "价格变动（%）",
    "whatif.priceModels": "调价的型号",
    "whatif.priceModelsHelp": "逗号分隔；留空：全部型号",
    "whatif.elasticity": "需求响应（价格弹性）",
    "whatif.elasticityHelp": "价格每变动 1%，订单变动的百分比；0：不响应",
    "whatif.growth": "需求增长（到达率倍数）",
    "whatif.demand": "需求来源", "whatif.demand.history": "最近的订单（本集群）",
    "whatif.demand.openb": "openb 轨迹（阿里巴巴 GPU 集群，2023）",
    "whatif.demandHelp": "轨迹：其最近几天的 Pod，可用任意型号；用需求增长缩放（例如 0.02）",
    "whatif.p.trace": "轨迹 {name}",
    "whatif.addNodes": "新增节点",
    "whatif.addNodesHelp": "型号:数量@站点，逗号分隔，例如 H800:2@sh-east-1",
    "whatif.removeNodes": "移除节点",
    "whatif.removeNodesHelp": "节点名称，逗号分隔",
    "whatif.run": "运行",
    "whatif.badNodes": "“{value}”：请写成 型号:数量@站点，例如 H800:2@sh-east-1",
    "whatif.progress": "运行 {id}：{state}",
    "whatif.cancel": "取消",
    "whatif.cancelled": "运行 {id} 已取消。",
    "whatif.failed": "运行 {id} 失败：{error}",
    "whatif.state.queued": "排队中", "whatif.state.running": "运行中", "whatif.state.done": "已完成",
    "whatif.state.failed": "失败", "whatif.state.cancelled": "已取消",
    "whatif.result": "{id} 的结果（{days} 天，种子 {seed}）",
    "whatif.figure": "指标", "whatif.today": "今天", "whatif.baseline": "基准",
    "whatif.changed": "改动后", "whatif.delta": "差值",
    "whatif.columns": "今天：同一时段的实际记录。基准：今天的集群和价格，模拟所得。改动后：加上您的改动，模拟所得（同一随机种子、同一需求）。",
    "whatif.f.allocation_pct": "分配率", "whatif.f.lease_rate_pct": "出租率",
    "whatif.f.device_hours": "出租卡时", "whatif.f.revenue": "收入",
    "whatif.f.supplier_share": "供应方分成", "whatif.f.commission": "平台佣金",
    "whatif.f.energy_cost": "电费", "whatif.f.margin": "毛利", "whatif.f.orders": "订单数",
    "whatif.f.rejected": "被拒订单（等待超过 6 小时）", "whatif.f.available_devices": "可用设备数",
    "whatif.f.payback_years": "回收期（年）",
    "whatif.noPayback": "无（未录入投资数据，或寿命期内无法回收）",
    "whatif.todayRevenue": "按目录价",
    "whatif.chart": "模拟期内的金额",
    "whatif.runs": "最近的运行",
    "whatif.none": "还没有假设分析运行。",
    "whatif.created": "开始时间", "whatif.params": "改动", "whatif.state": "状态",
    "whatif.open": "查看", "whatif.id": "运行",
    "whatif.priceList": "收入经账务模块按 {time} 生效的目录价计价。",
    "whatif.p.days": "{n} 天", "whatif.p.policy": "策略 {name}", "whatif.p.price": "价格 {pct}%",
    "whatif.p.growth": "需求 × {g}",
  },
});

const LIVE = ["queued", "running"];
const POLL_MS = 500;
// figure key -> how it is shown; today's key where the records call it otherwise
const FIGURES = [
  ["allocation_pct", "percent"], ["lease_rate_pct", "percent"], ["device_hours", "number"], ["revenue", "money"],
  ["supplier_share", "money"], ["commission", "money"], ["energy_cost", "money"], ["margin", "money"],
  ["orders", "count"], ["rejected", "count"], ["available_devices", "count"], ["payback_years", "number"],
];
const TODAY_KEY = { revenue: "revenue_at_list" };

/** "68.9" (percent) -> "0.689" (a fraction), on the decimal string: no float in between. */
export function percentToFraction(s) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(s));
  if (!m) return s;
  const whole = m[2].padStart(3, "0");
  return `${m[1]}${whole.slice(0, -2).replace(/^0+(?=\d)/, "")}.${whole.slice(-2)}${m[3] || ""}`;
}

/** b - a of two decimal strings, exact (scaled BigInt), or "" when either is missing. */
export function decDiff(a, b) {
  if (a === undefined || a === null || b === undefined || b === null) return "";
  const parts = (s) => {
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(s));
    return m ? { neg: m[1] === "-", int: m[2], frac: m[3] || "" } : null;
  };
  const pa = parts(a);
  const pb = parts(b);
  if (!pa || !pb) return "";
  const places = Math.max(pa.frac.length, pb.frac.length);
  const big = (p) => (p.neg ? -1n : 1n) * BigInt(p.int + p.frac.padEnd(places, "0"));
  const d = big(pb) - big(pa);
  const neg = d < 0n;
  const digits = (neg ? -d : d).toString().padStart(places + 1, "0");
  const out = places ? `${digits.slice(0, -places)}.${digits.slice(-places)}` : digits;
  return `${neg ? "-" : d > 0n ? "+" : ""}${out}`;
}

function show(value, kind, currency) {
  if (value === undefined || value === null || value === "") return "—";
  if (kind === "money") return fmtMoney(String(value), currency);
  if (kind === "percent") return fmtPercent(percentToFraction(String(value).replace(/^\+/, "")), { max: 2 });
  if (kind === "count") return fmtNumber(String(value), { max: 0 });
  return fmtNumber(String(value), { max: 3 });
}

function signed(value, kind, currency) {
  if (!value) return "—";
  const sign = value.startsWith("-") ? "−" : value.startsWith("+") ? "+" : "";
  return sign + show(value.replace(/^[-+]/, ""), kind, currency);
}

function cell(key, col, value, shown) {
  return h("td", { class: "num", testid: `whatif-${key}-${col}`, "data-value": value ?? "" }, shown);
}

function resultView(run) {
  const res = run.result || {};
  const base = res.baseline || {};
  const changed = res.changed || {};
  const actual = res.actual || {};
  const cur = res.currency || "CNY";
  const rows = FIGURES.map(([key, kind]) => {
    const today = actual[TODAY_KEY[key] || key];
    const delta = decDiff(base[key], changed[key]);
    return h("tr", { testid: `whatif-row-${key}` }, h("th", { scope: "row" }, t(`whatif.f.${key}`)),
      cell(key, "today", today, key === "revenue" && today !== undefined
        ? h("span", {}, show(today, kind, cur), " ", h("span", { class: "muted" }, `(${t("whatif.todayRevenue")})`))
        : show(today, kind, cur)),
      cell(key, "baseline", base[key], key === "payback_years" && base[key] == null ? t("whatif.noPayback")
        : show(base[key], kind, cur)),
      cell(key, "changed", changed[key], key === "payback_years" && changed[key] == null ? t("whatif.noPayback")
        : show(changed[key], kind, cur)),
      cell(key, "delta", delta, signed(delta, kind, cur)));
  });
  const tableEl = h("div", { class: "table-wrap" }, h("table", { testid: "whatif-result" },
    h("thead", {}, h("tr", {}, h("th", {}, t("whatif.figure")), h("th", { class: "num" }, t("whatif.today")),
      h("th", { class: "num" }, t("whatif.baseline")), h("th", { class: "num" }, t("whatif.changed")),
      h("th", { class: "num" }, t("whatif.delta")))),
    h("tbody", {}, rows)));
  const money = ["revenue", "supplier_share", "energy_cost", "margin"];
  const chart = barChart(null, { testid: "whatif-chart", title: t("whatif.chart"), kind: "money", currency: cur,
    height: 220, x: money.map((k) => t(`whatif.f.${k}`)),
    series: [{ key: "baseline", name: t("whatif.baseline"), values: money.map((k) => base[k] ?? null) },
      { key: "changed", name: t("whatif.changed"), values: money.map((k) => changed[k] ?? null) }] });
  return panel(t("whatif.result", { id: run.id, days: res.horizon_days, seed: res.seed }), "whatif-result-panel",
    h("p", { class: "muted" }, t("whatif.columns")), tableEl, chart,
    h("p", { class: "muted" }, t("whatif.priceList", { time: res.priced_at ? fmtDateTime(res.priced_at) : "—" })));
}

function progressView(run, onCancel) {
  const frac = Math.max(0, Math.min(1, Number(run.progress))); // a bar's width, not a figure
  const bar = h("progress", { max: "1", value: String(frac), testid: "whatif-progress",
    "data-progress": run.progress, "data-state": run.state });
  return h("div", { class: "card", testid: "whatif-running" },
    h("p", { testid: "whatif-state" }, t("whatif.progress", { id: run.id, state: t(`whatif.state.${run.state}`) }),
      " ", fmtPercent(run.progress, { max: 0 })),
    bar, " ",
    h("button", { type: "button", class: "danger", testid: "whatif-cancel", onclick: onCancel }, t("whatif.cancel")));
}

function splitList(s) {
  return String(s || "").split(",").map((x) => x.trim()).filter(Boolean);
}

const NODES = /^([A-Za-z0-9_.-]+):(\d{1,4})@([A-Za-z0-9_.-]+)$/;

function form(onRun) {
  const inputs = {
    days: text("days", "7", "7", "wi"), policy: text("policy", "fgd+", "", "wi"),
    trace: select("trace", [["", t("whatif.demand.history")], ["openb", t("whatif.demand.openb")]], "", "wi"),
    price_change_pct: text("price_change_pct", "-10", "0", "wi"), price_models: text("price_models", "H800, L20", "", "wi"),
    elasticity: text("elasticity", "0", "0", "wi"), growth: text("growth", "1", "1", "wi"),
    add_nodes: text("add_nodes", "H800:2@sh-east-1", "", "wi"), remove_nodes: text("remove_nodes", "sh-h800-04", "", "wi"),
  };
  const status = h("div", { testid: "whatif-status" });
  const el = h("form", { testid: "whatif-form", class: "form-grid", onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    markFields(el, {});
    const add = [];
    for (const item of splitList(inputs.add_nodes.value)) {
      const m = NODES.exec(item);
      if (!m) {
        const err = { message: t("whatif.badNodes", { value: item }), details: { field: "add_nodes" } };
        markFields(el, err);
        status.replaceChildren(errorBox(err, "whatif-error"));
        return;
      }
      add.push({ model: m[1], count: Number.parseInt(m[2], 10), site: m[3] });
    }
    const days = Number.parseInt(inputs.days.value, 10);
    const body = { days: Number.isNaN(days) ? inputs.days.value : days,
      price_change_pct: inputs.price_change_pct.value.trim().replace(/%$/, "") || "0",
      elasticity: inputs.elasticity.value.trim() || "0", growth: inputs.growth.value.trim() || "1",
      price_models: splitList(inputs.price_models.value), add_nodes: add, remove_nodes: splitList(inputs.remove_nodes.value) };
    if (inputs.policy.value.trim()) body.policy = inputs.policy.value.trim();
    if (inputs.trace.value) body.trace = inputs.trace.value;
    try {
      onRun(await post("/v1/whatif", body));
    } catch (e) { // the server's reason next to the field it names, and in full below the form
      markFields(el, e);
      status.replaceChildren(errorBox(e, "whatif-error"));
    }
  } },
  field(t("whatif.days"), inputs.days), field(t("whatif.demand"), inputs.trace, t("whatif.demandHelp")),
  field(t("whatif.policy"), inputs.policy, t("whatif.policyHelp")),
  field(t("whatif.priceChange"), inputs.price_change_pct),
  field(t("whatif.priceModels"), inputs.price_models, t("whatif.priceModelsHelp")),
  field(t("whatif.elasticity"), inputs.elasticity, t("whatif.elasticityHelp")),
  field(t("whatif.growth"), inputs.growth),
  field(t("whatif.addNodes"), inputs.add_nodes, t("whatif.addNodesHelp")),
  field(t("whatif.removeNodes"), inputs.remove_nodes, t("whatif.removeNodesHelp")),
  h("div", {}, h("button", { type: "submit", class: "primary", testid: "whatif-run" }, t("whatif.run"))), status);
  // fields side by side from 1024 px (set through the CSSOM: no inline style attribute)
  Object.assign(el.style, { display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(220px, 1fr))",
    columnGap: "1rem", alignItems: "start" });
  status.style.gridColumn = "1 / -1";
  return el;
}

function paramsText(p) {
  const parts = [];
  if (p.trace) parts.push(t("whatif.p.trace", { name: p.trace }));
  if (p.policy) parts.push(t("whatif.p.policy", { name: p.policy }));
  if (p.price_change_pct && p.price_change_pct !== "0") parts.push(t("whatif.p.price", { pct: fmtNumber(p.price_change_pct) }));
  if (p.growth && p.growth !== "1") parts.push(t("whatif.p.growth", { g: fmtNumber(p.growth) }));
  for (const a of p.add_nodes || []) parts.push(`+${a.count} ${a.model}@${a.site}`);
  for (const n of p.remove_nodes || []) parts.push(`−${n}`);
  return `${t("whatif.p.days", { n: p.days })}${parts.length ? ` · ${parts.join(", ")}` : ""}`;
}

function runsList(runs) {
  if (!runs.length) return h("p", { class: "muted", testid: "whatif-runs-empty" }, t("whatif.none"));
  return h("div", { class: "table-wrap" }, h("table", { testid: "whatif-runs" },
    h("thead", {}, h("tr", {}, h("th", {}, t("whatif.id")), h("th", {}, t("whatif.state")), h("th", {}, t("whatif.created")),
      h("th", {}, t("whatif.params")))),
    h("tbody", {}, runs.map((r) => h("tr", { testid: `whatif-run-${r.id}` },
      h("td", {}, h("a", { href: `#/whatif/${encodeURIComponent(r.id)}` }, r.id)),
      h("td", {}, t(`whatif.state.${r.state}`)), h("td", {}, fmtDateTime(r.created_at)),
      h("td", {}, paramsText(r.params)))))));
}

/** #/whatif and #/whatif/{id}: the form, the run (progress or result), the recent runs. */
export async function page(ctx) {
  const chosen = ctx.params && ctx.params[0];
  const [runs, current] = await Promise.all([get("/v1/whatif", { limit: 10 }),
    chosen ? get(`/v1/whatif/${encodeURIComponent(chosen)}`) : null]);
  const slot = h("div", { testid: "whatif-slot" });
  const list = h("div", {}, runsList(runs));
  let timer = null;
  const showRun = (run) => {
    clearTimeout(timer);
    if (LIVE.includes(run.state)) {
      slot.replaceChildren(progressView(run, async () => {
        try {
          showRun(await post(`/v1/whatif/${encodeURIComponent(run.id)}/cancel`));
        } catch (e) {
          slot.append(errorBox(e, "whatif-error"));
        }
      }));
      timer = setTimeout(async () => {
        if (!slot.isConnected) return;
        try {
          showRun(await get(`/v1/whatif/${encodeURIComponent(run.id)}`));
        } catch (e) {
          slot.replaceChildren(errorBox(e, "whatif-error"));
        }
      }, POLL_MS);
      return;
    }
    if (run.state === "done") slot.replaceChildren(resultView(run));
    else if (run.state === "cancelled") slot.replaceChildren(h("p", { class: "flash", testid: "whatif-cancelled" }, t("whatif.cancelled", { id: run.id })));
    else slot.replaceChildren(errorBox({ message: t("whatif.failed", { id: run.id, error: run.error }) }, "whatif-failed"));
    get("/v1/whatif", { limit: 10 }).then((r) => list.replaceChildren(runsList(r))).catch(() => {});
  };
  if (current) showRun(current);
  return h("section", { testid: "whatif-page" },
    h("div", { class: "page-head" }, h("h1", {}, t("whatif.title")), h("p", { class: "muted" }, t("whatif.intro"))),
    panel(t("whatif.form"), "whatif-form-panel", form((run) => {
      if (location.hash !== `#/whatif/${run.id}`) history.replaceState(null, "", `#/whatif/${run.id}`);
      showRun(run);
    })),
    slot, panel(t("whatif.runs"), "whatif-runs-panel", list));
}
