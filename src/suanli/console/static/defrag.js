// Defragmentation (docs/defrag.md): the operator's planner page (#/defrag).
// - Settings: auto on/off, the notice (s) and the migratable discount (%), PUT /v1/defrag/settings.
// - Propose: a shape to free room for (besides the queued whole-device orders), POST /v1/defrag/plans; the
//   server plans, the page shows each move (lease, from, to, what it frees) and the targets.
// - Plans: approve a proposed plan (its leases are notified now, moved when the notice is over) or cancel it.
import { call, get, post } from "./api.js";
import { fmtDateTime, register, t } from "./i18n.js";
import { errorBox, field, h, markFields, num, panel, select, table, text } from "./ui.js";

register({
  en: {
    "defrag.nav": "Defragmentation",
    "defrag.title": "Defragmentation",
    "defrag.intro": "Migratable leases accept moves to other devices with notice, for a discount. The planner proposes the fewest moves that free whole GPUs and whole nodes for the orders waiting in the queue and for the shape you give; nothing moves until a plan is approved (or auto is on).",
    "defrag.settings": "Settings", "defrag.auto": "Auto", "defrag.autoOn": "on: the background pass plans and approves",
    "defrag.autoOff": "off: an operator approves", "defrag.notice": "Notice (s)", "defrag.noticeHelp": "0 to {max} seconds between the notice and the move",
    "defrag.discount": "Migratable discount %", "defrag.discountHelp": "% off the list price for migratable leases granted from now on: 0 to {max}",
    "defrag.save": "Save", "defrag.saved": "Settings saved.",
    "defrag.propose": "Propose a plan", "defrag.gpus": "Whole GPUs on one node", "defrag.servers": "Whole nodes",
    "defrag.model": "Model", "defrag.proposeHelp": "0: only the orders waiting in the queue",
    "defrag.run": "Plan", "defrag.nothing": "No move of a migratable lease makes room for a target now.",
    "defrag.plans": "Plans", "defrag.noPlans": "No plan yet.", "defrag.plan": "Plan", "defrag.state": "State",
    "defrag.summary": "Summary", "defrag.created": "Created", "defrag.approvedBy": "Approved by",
    "defrag.approve": "Approve", "defrag.cancel": "Cancel", "defrag.approved": "Plan {id} approved: its leases are notified.",
    "defrag.cancelled": "Plan {id} cancelled.",
    "defrag.moves": "Moves", "defrag.lease": "Lease", "defrag.from": "From", "defrag.to": "To",
    "defrag.share": "{n} of the device",
    "defrag.frees": "Frees", "defrag.due": "Moves at", "defrag.reason": "Reason", "defrag.noMoves": "No move.",
    "defrag.targets": "Targets", "defrag.target": "Target", "defrag.freed": "Freed", "defrag.nodes": "Nodes",
    "defrag.yes": "yes", "defrag.no": "no",
  },
  "zh-CN": {
    "defrag.nav": "碎片整理",
    "defrag.title": "碎片整理",
    "defrag.intro": "可迁移租约接受提前通知后迁移到其他设备，并享受折扣。规划器提出最少的迁移，为队列中等待的订单和您给出的规格腾出整卡和整机；计划获批（或开启自动）之前不会迁移任何租约。",
    "defrag.settings": "设置", "defrag.auto": "自动", "defrag.autoOn": "开：后台自动规划并批准",
    "defrag.autoOff": "关：由运营方批准", "defrag.notice": "提前通知（秒）", "defrag.noticeHelp": "通知到迁移之间 0 到 {max} 秒",
    "defrag.discount": "可迁移折扣 %", "defrag.discountHelp": "此后分配的可迁移租约相对目录价的折扣：0 到 {max}",
    "defrag.save": "保存", "defrag.saved": "设置已保存。",
    "defrag.propose": "提出计划", "defrag.gpus": "单节点整卡数", "defrag.servers": "整机数",
    "defrag.model": "型号", "defrag.proposeHelp": "0：只为队列中等待的订单规划",
    "defrag.run": "规划", "defrag.nothing": "目前迁移可迁移租约无法为任何目标腾出空间。",
    "defrag.plans": "计划", "defrag.noPlans": "暂无计划。", "defrag.plan": "计划", "defrag.state": "状态",
    "defrag.summary": "摘要", "defrag.created": "创建时间", "defrag.approvedBy": "批准人",
    "defrag.approve": "批准", "defrag.cancel": "取消", "defrag.approved": "计划 {id} 已批准：已通知相关租约。",
    "defrag.cancelled": "计划 {id} 已取消。",
    "defrag.moves": "迁移", "defrag.lease": "租约", "defrag.from": "原位置", "defrag.to": "目标位置",
    "defrag.share": "该卡的 {n}",
    "defrag.frees": "腾出", "defrag.due": "迁移时间", "defrag.reason": "原因", "defrag.noMoves": "无迁移。",
    "defrag.targets": "目标", "defrag.target": "目标", "defrag.freed": "已腾出", "defrag.nodes": "节点",
    "defrag.yes": "是", "defrag.no": "否",
  },
});

const MAX_NOTICE_S = 86400;
const MAX_DISCOUNT_PCT = 90;

// A move's devices as lease allocations name them: node/device(s) per node, then (share when a fraction,
// model, site); the destination leaves out the model and site when they are the origin's.
function where(devs, known) {
  const groups = new Map();
  for (const d of devs) {
    const key = d.node || `#${d.device_id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(d);
  }
  return [...groups.entries()].map(([node, ds]) => {
    const d = ds[0];
    const extra = d.milli < 1000 ? [t("defrag.share", { n: num(d.milli / 1000, 3) })] : [];
    if (d.node && `${d.model}|${d.site}` !== known) extra.push(d.model, d.site);
    const s = d.node ? `${node}/${ds.map((x) => x.device).join(",")}` : node;
    return extra.length ? `${s} (${extra.join(", ")})` : s;
  }).join(" + ");
}

function movesTable(plan) {
  return table([
    { label: t("defrag.lease"), value: (m) => m.lease_id },
    { label: t("defrag.state"), value: (m) => m.state },
    { label: t("defrag.from"), value: (m) => where(m.from_devices, null) },
    { label: t("defrag.to"), value: (m) => where(m.to, m.from_devices.length ? `${m.from_devices[0].model}|${m.from_devices[0].site}` : null) },
    { label: t("defrag.frees"), value: (m) => m.frees },
    { label: t("defrag.due"), value: (m) => (m.due_at ? fmtDateTime(m.due_at) : "") },
    { label: t("defrag.reason"), value: (m) => m.reason },
  ], plan.moves, { empty: t("defrag.noMoves"), testid: `defrag-moves-${plan.id}` });
}

function targetsTable(plan) {
  return table([
    { label: t("defrag.target"), value: (x) => x.target },
    { label: t("defrag.freed"), value: (x) => t(x.freed ? "defrag.yes" : "defrag.no") },
    { label: t("defrag.nodes"), value: (x) => x.nodes.join(", ") },
    { label: t("defrag.reason"), value: (x) => x.reason },
  ], plan.targets, { testid: `defrag-targets-${plan.id}` });
}

function planPanel(ctx, plan) {
  const status = h("div", {});
  const act = (verb, msg) => async () => {
    try {
      await post(`/v1/defrag/plans/${plan.id}/${verb}`, {});
      ctx.flash(t(msg, { id: plan.id }), "ok");
      ctx.go("/defrag");
    } catch (e) {
      status.replaceChildren(errorBox(e, "defrag-plan-error"));
    }
  };
  const open = ["proposed", "approved", "notified"].includes(plan.state);
  return h("div", { class: "panel", testid: `defrag-plan-${plan.id}` },
    h("h3", {}, `${t("defrag.plan")} ${plan.id} · ${plan.state} · ${plan.summary}`),
    plan.approved_by ? h("p", { class: "muted" }, `${t("defrag.approvedBy")}: ${plan.approved_by} · ${fmtDateTime(plan.approved_at)}`) : null,
    movesTable(plan), targetsTable(plan),
    h("div", { class: "actions" },
      plan.state === "proposed" ? h("button", { type: "button", class: "primary", testid: `defrag-approve-${plan.id}`,
        onclick: act("approve", "defrag.approved") }, t("defrag.approve")) : null,
      open ? h("button", { type: "button", testid: `defrag-cancel-${plan.id}`, onclick: act("cancel", "defrag.cancelled") },
        t("defrag.cancel")) : null),
    status);
}

/** The operator's page. */
export async function page(ctx) {
  const [st, plans] = await Promise.all([get("/v1/defrag/settings"), get("/v1/defrag/plans")]);
  const auto = select("auto", [["true", t("defrag.autoOn")], ["false", t("defrag.autoOff")]], String(st.auto), "dfg");
  const notice = text("notice_s", "600", String(st.notice_s), "dfg");
  const discount = text("discount_pct", "20", String(st.discount_pct), "dfg");
  const setStatus = h("div", {});
  const setForm = h("form", { class: "order", testid: "defrag-settings-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    setForm.querySelectorAll(".field-error").forEach((el) => el.remove());
    const n = Number(notice.value.trim());
    const body = { auto: auto.value === "true", notice_s: Number.isInteger(n) ? n : notice.value.trim(),
      discount_pct: discount.value.trim() };
    try {
      await call("PUT", "/v1/defrag/settings", { body });
      ctx.flash(t("defrag.saved"), "ok");
      ctx.go("/defrag");
    } catch (e) {
      setStatus.replaceChildren(errorBox(e, "defrag-settings-error"));
      markFields(setForm, e);
    }
  } },
  h("div", { class: "grid2" }, field(t("defrag.auto"), auto),
    field(t("defrag.notice"), notice, t("defrag.noticeHelp", { max: MAX_NOTICE_S })),
    field(t("defrag.discount"), discount, t("defrag.discountHelp", { max: MAX_DISCOUNT_PCT }))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", testid: "defrag-save" }, t("defrag.save"))),
  setStatus);
  const gpus = text("gpus", "8", "0", "dfg");
  const servers = text("servers", "0", "0", "dfg");
  const model = text("model", "A800", "", "dfg");
  const planStatus = h("div", { testid: "defrag-propose-status" });
  const planForm = h("form", { class: "order", testid: "defrag-propose-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const models = model.value.trim() ? [model.value.trim()] : [];
    const targets = [];
    const g = Number(gpus.value.trim() || "0");
    const sv = Number(servers.value.trim() || "0");
    if (g) targets.push({ form: "gpu", quantity: g, models });
    if (sv) targets.push({ form: "server", quantity: sv, models });
    try {
      const got = await post("/v1/defrag/plans", { targets });
      if (!got.plan) {
        planStatus.replaceChildren(h("p", { class: "muted" }, t("defrag.nothing")));
        return;
      }
      ctx.go("/defrag");
    } catch (e) {
      planStatus.replaceChildren(errorBox(e, "defrag-propose-error"));
    }
  } },
  h("div", { class: "grid2" }, field(t("defrag.gpus"), gpus, t("defrag.proposeHelp")), field(t("defrag.servers"), servers),
    field(t("defrag.model"), model)),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", testid: "defrag-run" }, t("defrag.run"))),
  planStatus);
  return h("section", { testid: "defrag-page" },
    h("div", { class: "page-head" }, h("h1", {}, t("defrag.title"))),
    h("p", { class: "muted" }, t("defrag.intro")),
    panel(t("defrag.settings"), "defrag-settings", setForm),
    panel(t("defrag.propose"), "defrag-propose", planForm),
    h("h2", {}, t("defrag.plans")),
    plans.length ? h("div", { testid: "defrag-plans" }, ...plans.map((p) => planPanel(ctx, p)))
      : h("p", { class: "muted", testid: "defrag-plans" }, t("defrag.noPlans")));
}
