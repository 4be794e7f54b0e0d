// The order queue on the tenant's order page (docs/queue.md): "wait until" and a priority class on the order
// form, "When could it start?" answered by POST /v1/orders/when as the form changes, and the tenant's waiting
// orders (GET /v1/queue) with their position and estimated start; a waiting order can be cancelled.
// The operator's page (#/queue): every waiting order in its order of service, the fair-share weights, and a
// form to set a tenant's weight and whether it may order priority high (PUT /v1/queue/weights).
import { call, get, post } from "./api.js";
import { register, t } from "./i18n.js";
import { errorBox, field, h, markFields, panel, select, table, text, when } from "./ui.js";

register({
  en: {
    "queue.waitUntil": "Wait in the queue until", "queue.waitHelp": "if it does not fit now, it waits (at most 30 days); without this it is refused",
    "queue.priority": "Priority", "queue.normal": "normal", "queue.low": "low", "queue.high": "high (if the operator allows it)",
    "queue.when": "When could it start?", "queue.now": "Now.", "queue.at": "Earliest start: {at} ({ahead} queued orders ahead counted).",
    "queue.never": "Not within the next 30 days.", "queue.asking": "Looking at the calendar…",
    "queue.title": "Waiting orders", "queue.none": "No order of yours is waiting.",
    "queue.position": "#", "queue.order": "Order", "queue.form": "Form", "queue.queued": "Queued",
    "queue.deadline": "Waits until", "queue.estimate": "Estimated start", "queue.horizon": "not within 30 days",
    "queue.cancel": "Cancel", "queue.cancelled": "Order {id} cancelled.",
    "queue.placed": "Order {id} is waiting in the queue: position {position}, estimated start {start}.",
    "queue.nav": "Queue", "queue.opTitle": "Order queue",
    "queue.opIntro": "Orders that did not fit and may wait, in their order of service: priority class, then the tenant with the lowest used capacity ÷ weight, then arrival. A later order backfills only if it cannot delay the first one.",
    "queue.all": "Waiting orders", "queue.allNone": "No order is waiting.", "queue.tenant": "Tenant",
    "queue.preempting": "Spot leases under notice",
    "queue.weights": "Fair-share weights", "queue.weightsNone": "No weight set: every tenant has weight 1.",
    "queue.weight": "Weight", "queue.allowHigh": "Priority high", "queue.setAt": "Set at",
    "queue.yes": "allowed", "queue.no": "no", "queue.unchanged": "unchanged",
    "queue.setWeight": "Set a weight", "queue.weightHelp": "0.01 to 1000; capacity is shared in proportion to weights",
    "queue.save": "Set", "queue.saved": "Weight {weight} set for {tenant}.",
  },
  "zh-CN": {
    "queue.waitUntil": "排队等待至", "queue.waitHelp": "当前放不下时排队等待（最多 30 天）；不填则直接拒绝",
    "queue.priority": "优先级", "queue.normal": "普通", "queue.low": "低", "queue.high": "高（需运营方允许）",
    "queue.when": "最早何时开始？", "queue.now": "现在即可。", "queue.at": "最早开始：{at}（已计入排在前面的 {ahead} 个订单）。",
    "queue.never": "未来 30 天内无法开始。", "queue.asking": "正在查询资源日历…",
    "queue.title": "排队中的订单", "queue.none": "您没有排队中的订单。",
    "queue.position": "序号", "queue.order": "订单", "queue.form": "形态", "queue.queued": "排队时间",
    "queue.deadline": "等待至", "queue.estimate": "预计开始", "queue.horizon": "30 天内无法开始",
    "queue.cancel": "取消", "queue.cancelled": "订单 {id} 已取消。",
    "queue.placed": "订单 {id} 正在排队：第 {position} 位，预计开始 {start}。",
    "queue.nav": "排队", "queue.opTitle": "订单队列",
    "queue.opIntro": "当前放不下且允许等待的订单，按服务顺序排列：先按优先级，再按已用容量 ÷ 权重最低的租户，最后按到达时间。后来的订单只有在不会推迟队首订单时才可插空（回填）。",
    "queue.all": "排队中的订单", "queue.allNone": "没有排队中的订单。", "queue.tenant": "租户",
    "queue.preempting": "已通知让出的竞价租约",
    "queue.weights": "公平份额权重", "queue.weightsNone": "未设置权重：每个租户权重为 1。",
    "queue.weight": "权重", "queue.allowHigh": "高优先级", "queue.setAt": "设置时间",
    "queue.yes": "允许", "queue.no": "否", "queue.unchanged": "不变",
    "queue.setWeight": "设置权重", "queue.weightHelp": "0.01 到 1000；容量按权重比例分配",
    "queue.save": "设置", "queue.saved": "已为 {tenant} 设置权重 {weight}。",
  },
});

/** The order form's queue fields and its "when?" box. */
export function queueFields() {
  const waitUntil = h("input", { id: "f-wait_until", name: "wait_until", type: "datetime-local" });
  const prio = h("select", { id: "f-priority", name: "priority" },
    ["normal", "low", "high"].map((p) => h("option", { value: p }, t(`queue.${p}`))));
  const box = h("div", { class: "panel when", testid: "when", "aria-live": "polite" });
  let seq = 0;
  return {
    el: h("div", { class: "grid2", testid: "order-queue" }, field(t("queue.waitUntil"), waitUntil, t("queue.waitHelp")),
      field(t("queue.priority"), prio)),
    box,
    /** Add `wait_until` / `priority` to an order body. */
    apply(out) {
      if (waitUntil.value) out.wait_until = new Date(waitUntil.value).toISOString();
      if (prio.value !== "normal") out.priority = prio.value;
      return out;
    },
    /** Ask "when?" for this body (its `start` and `wait_until` are not part of the question). */
    async ask(sent) {
      const mine = ++seq;
      const { start, wait_until: _w, ...shape } = sent;
      box.dataset.state = "loading";
      box.replaceChildren(h("h3", {}, t("queue.when")), h("p", { class: "muted" }, t("queue.asking")));
      if (start) { box.hidden = true; return; }
      box.hidden = false;
      try {
        const w = await post("/v1/orders/when", shape);
        if (mine !== seq) return;
        const msg = w.now ? t("queue.now") : w.start ? t("queue.at", { at: when(w.start), ahead: w.ahead }) : t("queue.never");
        box.replaceChildren(h("h3", {}, t("queue.when")), h("p", { testid: "when-answer", "data-start": w.start || "" }, msg));
        box.dataset.state = "ok";
      } catch (e) {
        if (mine !== seq) return;
        box.replaceChildren(h("h3", {}, t("queue.when")), errorBox(e, "when-error"));
        box.dataset.state = "error";
      }
    },
  };
}

/** What the form says once an order answered 202 (queued). */
export function placedText(o) {
  const q = o.queue || {};
  return t("queue.placed", { id: o.id, position: q.position ?? "?",
    start: q.estimated_start ? when(q.estimated_start) : t("queue.horizon") });
}

/** The tenant's waiting orders, with position and estimated start; each can be cancelled. */
export async function waitingOrders(ctx) {
  let items;
  try {
    items = await get("/v1/queue");
  } catch (e) {
    if (e.status === 403) return null; // a member that may not read orders
    throw e;
  }
  const cancel = (e) => h("button", { type: "button", testid: `cancel-${e.order_id}`, onclick: async (ev) => {
    ev.target.disabled = true;
    try {
      await post(`/v1/orders/${encodeURIComponent(e.order_id)}/cancel`, {});
      ctx.flash(t("queue.cancelled", { id: e.order_id }), "ok");
      ev.target.closest("tr")?.remove();
    } catch (err) {
      ev.target.replaceWith(errorBox(err, "cancel-error"));
    }
  } }, t("queue.cancel"));
  return h("section", { testid: "queue" }, h("h2", {}, t("queue.title")),
    table([
      { label: t("queue.position"), value: (e) => String(e.position), class: "num" },
      { label: t("queue.order"), value: (e) => e.order_id },
      { label: t("queue.form"), value: (e) => e.form },
      { label: t("queue.priority"), value: (e) => t(`queue.${e.priority}`) },
      { label: t("queue.queued"), value: (e) => when(e.queued_at) },
      { label: t("queue.deadline"), value: (e) => when(e.wait_until) },
      { label: t("queue.estimate"), value: (e) => (e.estimated_start ? when(e.estimated_start) : t("queue.horizon")) },
      { label: "", value: cancel },
    ], items, { empty: t("queue.none"), testid: "queue-table", rowTestid: (e) => `queued-${e.order_id}` }));
}

/** The operator's page: the whole queue, the weights and the form that sets one. */
export async function page(ctx) {
  const [items, weights] = await Promise.all([get("/v1/queue"), get("/v1/queue/weights")]);
  const inputs = { tenant: text("tenant", "acme", "", "qw"), weight: text("weight", "2", "", "qw") };
  const high = select("allow_high", [["", t("queue.unchanged")], ["true", t("queue.yes")], ["false", t("queue.no")]], "", "qw");
  const status = h("div", { testid: "queue-weight-status" });
  const form = h("form", { class: "order", testid: "queue-weight-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    const body = { tenant: inputs.tenant.value.trim(), weight: inputs.weight.value.trim() };
    if (high.value) body.allow_high = high.value === "true";
    try {
      const w = await call("PUT", "/v1/queue/weights", { body });
      ctx.flash(t("queue.saved", { weight: w.weight, tenant: w.tenant }), "ok");
      ctx.go("/queue");
    } catch (e) {
      status.replaceChildren(errorBox(e, "queue-weight-error"));
      markFields(form, e);
    }
  } },
  h("div", { class: "grid2" }, field(t("queue.tenant"), inputs.tenant),
    field(t("queue.weight"), inputs.weight, t("queue.weightHelp")), field(t("queue.allowHigh"), high)),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", testid: "queue-weight-save" }, t("queue.save"))),
  status);
  return h("section", { testid: "queue-page" }, h("h2", {}, t("queue.opTitle")), h("p", { class: "muted" }, t("queue.opIntro")),
    panel(t("queue.all"), "queue-all", table([
      { label: t("queue.position"), value: (e) => String(e.position), class: "num" },
      { label: t("queue.order"), value: (e) => e.order_id },
      { label: t("queue.tenant"), value: (e) => e.tenant },
      { label: t("queue.form"), value: (e) => e.form },
      { label: t("queue.priority"), value: (e) => t(`queue.${e.priority}`) },
      { label: t("queue.queued"), value: (e) => when(e.queued_at) },
      { label: t("queue.deadline"), value: (e) => when(e.wait_until) },
      { label: t("queue.estimate"), value: (e) => (e.estimated_start ? when(e.estimated_start) : t("queue.horizon")) },
      { label: t("queue.preempting"), value: (e) => e.preempting.join(", ") },
    ], items, { empty: t("queue.allNone"), testid: "queue-all-table" })),
    panel(t("queue.weights"), "queue-weights", table([
      { label: t("queue.tenant"), value: (w) => w.tenant },
      { label: t("queue.weight"), value: (w) => w.weight, class: "num" },
      { label: t("queue.allowHigh"), value: (w) => t(w.allow_high ? "queue.yes" : "queue.no") },
      { label: t("queue.setAt"), value: (w) => (w.set_at ? when(w.set_at) : "") },
    ], weights, { empty: t("queue.weightsNone"), testid: "queue-weights-table" })),
    panel(t("queue.setWeight"), "queue-set", form));
}
