// Serving models (docs/inference.md): deployments and their replicas (state, health, cold start,
// hardware), a create form, scale and delete; inference keys (a token of scope "inference" with its
// own requests/minute limit and monthly token quota; its secret is shown once); usage and cost per
// key and model for a month. The operator sees every deployment and every tenant's usage; a tenant
// its own deployments, the public ones (read only) and its own keys and usage.
import { call, get, post } from "./api.js";
import { register, t } from "./i18n.js";
import {
  badge, confirmRow, errorBox, field, h, kv, listView, markFields, num, optionsOf, panel, select, stateLabel, text, when, yuan,
} from "./ui.js";

register({
  en: {
    "inf.nav.deployments": "Deployments", "inf.nav.keys": "Inference keys", "inf.nav.usage": "Inference usage",
    "inf.dep.title": "Model deployments",
    "inf.dep.note": "A deployment serves one model through the OpenAI-compatible gateway (/v1/chat/completions, "
      + "/v1/completions, /v1/embeddings). Its replicas run as jobs on leases; the autoscaler keeps them between the "
      + "minimum and the maximum.",
    "inf.dep.noteOperator": "Your deployments are public: every tenant's inference key may call them.",
    "inf.dep.noteTenant": "Your deployments run on your own leases and only your keys may call them; public models are "
      + "the operator's.",
    "inf.col.name": "Model", "inf.col.owner": "Owner", "inf.col.kind": "Kind", "inf.col.runtime": "Runtime",
    "inf.col.modelRef": "Weights", "inf.col.replicas": "Replicas", "inf.col.ready": "Ready", "inf.col.desired": "Desired",
    "inf.col.bounds": "Min–max", "inf.col.public": "Public", "inf.col.state": "State", "inf.col.created": "Created",
    "inf.col.shapes": "Replica shapes",
    "inf.kind.generate": "generate", "inf.kind.embed": "embed",
    "inf.yes": "yes", "inf.no": "no",
    "inf.dep.none": "No deployments yet.",
    "inf.dep.create": "Deploy a model", "inf.dep.createButton": "Deploy",
    "inf.f.name": "Name (the OpenAI model name)", "inf.f.namePh": "e.g. tiny-gpt",
    "inf.f.model": "Model", "inf.f.kind": "Kind",
    "inf.f.shape": "Replica shape", "inf.f.shapeHelp": "One order fragment per line, e.g. slice:L20:0.25, gpu:H800:1 or server:L20:1",
    "inf.f.min": "Minimum replicas", "inf.f.max": "Maximum replicas", "inf.f.target": "Target in-flight per replica",
    "inf.f.idle": "Idle seconds before scaling to zero", "inf.f.near": "Near region", "inf.f.nearPh": "any region",
    "inf.dep.made": "Deployment {name} ({id}) created: its replicas start now.",
    "inf.dep.scale": "Scale", "inf.dep.scaleButton": "Scale…", "inf.dep.scaleQ": "New bounds of {name}:",
    "inf.dep.scaled": "Deployment {name}: replicas {min}–{max}.",
    "inf.dep.delete": "Delete", "inf.dep.deleteButton": "Delete…",
    "inf.dep.deleteQ": "Delete {name}? Its replicas are drained and stopped, their leases ended; calls to it fail.",
    "inf.dep.deleted": "Deployment {name} deleted.",
    "inf.dep.back": "All deployments", "inf.dep.replicasHead": "Replicas",
    "inf.rep.col.id": "Replica", "inf.rep.col.state": "State", "inf.rep.col.health": "Health",
    "inf.rep.col.hardware": "Hardware", "inf.rep.col.node": "Node", "inf.rep.col.lease": "Lease",
    "inf.rep.col.cold": "Cold start", "inf.rep.col.started": "Created", "inf.rep.col.reason": "Why here / why not",
    "inf.rep.none": "No replicas: the deployment is scaled to zero (the first call wakes it).",
    "inf.rep.healthy": "healthy", "inf.rep.failures": "{n} failed check(s)", "inf.rep.ms": "{ms} ms",
    "inf.st.pending": "pending", "inf.st.starting": "starting", "inf.st.ready": "ready", "inf.st.unhealthy": "unhealthy",
    "inf.st.draining": "draining", "inf.st.stopped": "stopped", "inf.st.failed": "failed", "inf.st.active": "active",
    "inf.st.deleted": "deleted",
    "inf.keys.title": "Inference keys",
    "inf.keys.note": "An inference key is an API token that may only call the model gateway (every other route refuses "
      + "it), with its own requests per minute and tokens per month. Use it as the api_key of an OpenAI client with "
      + "base_url {url}.",
    "inf.keys.create": "New inference key", "inf.keys.createButton": "Create key",
    "inf.keys.label": "Label", "inf.keys.labelPh": "what it is for, e.g. chat app",
    "inf.keys.rate": "Requests per minute", "inf.keys.quota": "Tokens per month", "inf.keys.unlimited": "no limit",
    "inf.keys.made": "Key {id} made. Copy its secret now: it is shown this once and never again.",
    "inf.keys.col.id": "Id", "inf.keys.col.account": "Account", "inf.keys.col.key": "Key", "inf.keys.col.label": "Label",
    "inf.keys.col.rate": "Requests/min", "inf.keys.col.quota": "Tokens/month", "inf.keys.col.state": "State",
    "inf.keys.col.created": "Created", "inf.keys.col.used": "Last used", "inf.keys.never": "never",
    "inf.keys.none": "No inference keys yet.",
    "inf.keys.revoke": "Revoke", "inf.keys.revokeButton": "Revoke…",
    "inf.keys.revokeQ": "Revoke key {id} ({prefix}…)? Calls with it fail at once.",
    "inf.keys.revoked": "Key {id} ({prefix}…) revoked.",
    "inf.usage.title": "Inference usage",
    "inf.usage.note": "Tokens per key and model in the month (UTC), and their cost: the month's rated token charges of "
      + "the model split across keys in proportion to tokens.",
    "inf.usage.period": "Month", "inf.usage.show": "Show",
    "inf.usage.col.tenant": "Tenant", "inf.usage.col.key": "Key", "inf.usage.col.model": "Model",
    "inf.usage.col.requests": "Requests", "inf.usage.col.prompt": "Prompt tokens", "inf.usage.col.cached": "Cached",
    "inf.usage.col.completion": "Completion tokens", "inf.usage.col.cost": "Cost",
    "inf.usage.none": "No inference calls in {period}.", "inf.usage.total": "Total",
  },
  "zh-CN": {
    "inf.nav.deployments": "模型部署", "inf.nav.keys": "推理密钥", "inf.nav.usage": "推理用量",
    "inf.dep.title": "模型部署",
    "inf.dep.note": "每个部署通过兼容 OpenAI 的网关（/v1/chat/completions、/v1/completions、/v1/embeddings）提供一个模型。"
      + "其副本以作业形式运行在租约上；自动扩缩容使副本数保持在最小值与最大值之间。",
    "inf.dep.noteOperator": "您的部署是公开的：所有租户的推理密钥都可以调用。",
    "inf.dep.noteTenant": "您的部署运行在您自己的租约上，只有您的密钥可以调用；公开模型由运营方提供。",
    "inf.col.name": "模型", "inf.col.owner": "所有者", "inf.col.kind": "类型", "inf.col.runtime": "运行时",
    "inf.col.modelRef": "权重", "inf.col.replicas": "副本", "inf.col.ready": "就绪", "inf.col.desired": "期望",
    "inf.col.bounds": "最小–最大", "inf.col.public": "公开", "inf.col.state": "状态", "inf.col.created": "创建时间",
    "inf.col.shapes": "副本规格",
    "inf.kind.generate": "文本生成", "inf.kind.embed": "向量嵌入",
    "inf.yes": "是", "inf.no": "否",
    "inf.dep.none": "暂无部署。",
    "inf.dep.create": "部署模型", "inf.dep.createButton": "部署",
    "inf.f.name": "名称（OpenAI 模型名）", "inf.f.namePh": "例如 tiny-gpt",
    "inf.f.model": "模型", "inf.f.kind": "类型",
    "inf.f.shape": "副本规格", "inf.f.shapeHelp": "每行一个订单片段，例如 slice:L20:0.25、gpu:H800:1 或 server:L20:1",
    "inf.f.min": "最少副本数", "inf.f.max": "最多副本数", "inf.f.target": "每副本目标并发",
    "inf.f.idle": "空闲多少秒后缩容到零", "inf.f.near": "就近区域", "inf.f.nearPh": "任意区域",
    "inf.dep.made": "已创建部署 {name}（{id}）：其副本正在启动。",
    "inf.dep.scale": "扩缩容", "inf.dep.scaleButton": "扩缩容…", "inf.dep.scaleQ": "{name} 的新副本范围：",
    "inf.dep.scaled": "部署 {name}：副本 {min}–{max}。",
    "inf.dep.delete": "删除", "inf.dep.deleteButton": "删除…",
    "inf.dep.deleteQ": "删除 {name}？其副本将被排空并停止，租约随之结束；对它的调用将失败。",
    "inf.dep.deleted": "部署 {name} 已删除。",
    "inf.dep.back": "全部部署", "inf.dep.replicasHead": "副本",
    "inf.rep.col.id": "副本", "inf.rep.col.state": "状态", "inf.rep.col.health": "健康",
    "inf.rep.col.hardware": "硬件", "inf.rep.col.node": "节点", "inf.rep.col.lease": "租约",
    "inf.rep.col.cold": "冷启动", "inf.rep.col.started": "创建时间", "inf.rep.col.reason": "放置原因 / 失败原因",
    "inf.rep.none": "暂无副本：该部署已缩容到零（首次调用会唤醒它）。",
    "inf.rep.healthy": "健康", "inf.rep.failures": "{n} 次检查失败", "inf.rep.ms": "{ms} 毫秒",
    "inf.st.pending": "排队中", "inf.st.starting": "启动中", "inf.st.ready": "就绪", "inf.st.unhealthy": "不健康",
    "inf.st.draining": "排空中", "inf.st.stopped": "已停止", "inf.st.failed": "失败", "inf.st.active": "运行中",
    "inf.st.deleted": "已删除",
    "inf.keys.title": "推理密钥",
    "inf.keys.note": "推理密钥是只能调用模型网关的 API 令牌（其他接口一律拒绝），有自己的每分钟请求数和每月 token 配额。"
      + "在 OpenAI 客户端中把它用作 api_key，base_url 设为 {url}。",
    "inf.keys.create": "新建推理密钥", "inf.keys.createButton": "创建密钥",
    "inf.keys.label": "标签", "inf.keys.labelPh": "用途，例如聊天应用",
    "inf.keys.rate": "每分钟请求数", "inf.keys.quota": "每月 token 数", "inf.keys.unlimited": "不限",
    "inf.keys.made": "已创建密钥 {id}。请立即复制其密钥：它只显示这一次。",
    "inf.keys.col.id": "编号", "inf.keys.col.account": "账户", "inf.keys.col.key": "密钥", "inf.keys.col.label": "标签",
    "inf.keys.col.rate": "每分钟请求", "inf.keys.col.quota": "每月 token", "inf.keys.col.state": "状态",
    "inf.keys.col.created": "创建时间", "inf.keys.col.used": "最近使用", "inf.keys.never": "从未",
    "inf.keys.none": "暂无推理密钥。",
    "inf.keys.revoke": "吊销", "inf.keys.revokeButton": "吊销…",
    "inf.keys.revokeQ": "吊销密钥 {id}（{prefix}…）？使用它的调用将立即失败。",
    "inf.keys.revoked": "密钥 {id}（{prefix}…）已吊销。",
    "inf.usage.title": "推理用量",
    "inf.usage.note": "按密钥和模型统计当月（UTC）的 token 数及费用：该模型当月已计价的 token 费用按 token 数比例分摊到各密钥。",
    "inf.usage.period": "月份", "inf.usage.show": "查看",
    "inf.usage.col.tenant": "租户", "inf.usage.col.key": "密钥", "inf.usage.col.model": "模型",
    "inf.usage.col.requests": "请求数", "inf.usage.col.prompt": "输入 token", "inf.usage.col.cached": "缓存命中",
    "inf.usage.col.completion": "输出 token", "inf.usage.col.cost": "费用",
    "inf.usage.none": "{period} 没有推理调用。", "inf.usage.total": "合计",
  },
});

/** A deployment's or replica's state in the language in use. */
function stLabel(s) {
  return t(`inf.st.${s}`) === `inf.st.${s}` ? stateLabel(s) : t(`inf.st.${s}`);
}

function stBadge(s) {
  const cls = { ready: "active", starting: "scheduled", pending: "pending", unhealthy: "suspended", draining: "draining",
    stopped: "ended", failed: "failed", active: "active", deleted: "ended" }[s] || s;
  return h("span", { class: `badge st-${cls}`, testid: "state", title: String(s) }, stLabel(s));
}

/** "slice:L20:0.25" / "gpu:H800:1" / "server:L20:1" / a JSON object -> an order fragment (the server validates it). */
export function parseShape(line) {
  const s = line.trim();
  if (s.startsWith("{")) return JSON.parse(s);
  const [form, model, amount] = s.split(":");
  if (form === "slice") return { form, model, share: amount };
  if (form === "gpu" || form === "server") return { form, model, quantity: Number.parseInt(amount ?? "1", 10) };
  return { form, model, quantity: amount };
}

function shapeText(x) {
  if (x.form === "slice") return `slice:${x.model}:${x.share}`;
  return `${x.form}:${x.model}:${x.quantity ?? 1}`;
}

function countOf(d, state) {
  return (d.replicas || {})[state] || 0;
}

function createPanel(ctx, operator) {
  const name = text("name", t("inf.f.namePh"), "", "dep");
  const model = select("model", [["tiny-gpt", "tiny-gpt"], ["all-minilm-l6-v2", "all-minilm-l6-v2"]], "tiny-gpt", "dep");
  const kind = select("kind", [["generate", t("inf.kind.generate")], ["embed", t("inf.kind.embed")]], "generate", "dep");
  model.addEventListener("change", () => { kind.value = model.value === "all-minilm-l6-v2" ? "embed" : "generate"; });
  const shapes = h("textarea", { id: "dep-shapes", name: "shapes", rows: 2, cols: 40 }, "slice:L20:0.25");
  const numberField = (n, v) => h("input", { id: `dep-${n}`, name: n, type: "number", min: 0, value: v });
  const min = numberField("min_replicas", "1");
  const max = numberField("max_replicas", "2");
  const target = numberField("target_inflight", "4");
  const idle = numberField("idle_seconds", "300");
  const near = text("near", t("inf.f.nearPh"), "", "dep");
  const status = h("div", { testid: "deployment-create-status" });
  const form = h("form", { testid: "deployment-create", onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    markFields(form, {});
    try {
      const body = { name: name.value.trim(), kind: kind.value, runtime: "builtin", model: model.value,
        shapes: shapes.value.split("\n").filter((l) => l.trim()).map(parseShape),
        min_replicas: Number(min.value), max_replicas: Number(max.value), target_inflight: Number(target.value),
        idle_seconds: Number(idle.value) };
      if (near.value.trim()) body.near = near.value.trim();
      const made = await post("/v1/deployments", body);
      ctx.flash(t("inf.dep.made", { name: made.name, id: made.id }), "ok", { next: true });
      ctx.go(`/deployments/${made.id}`);
    } catch (e) {
      markFields(form, e);
      status.replaceChildren(errorBox(e, "deployment-error"));
    }
  } },
  field(t("inf.f.name"), name), field(t("inf.f.model"), model), field(t("inf.f.kind"), kind),
  field(t("inf.f.shape"), shapes, t("inf.f.shapeHelp")), field(t("inf.f.min"), min), field(t("inf.f.max"), max),
  field(t("inf.f.target"), target), field(t("inf.f.idle"), idle), field(t("inf.f.near"), near),
  h("button", { type: "submit", class: "primary" }, t("inf.dep.createButton")), status);
  return panel(operator ? t("inf.dep.create") : t("inf.dep.create"), "deployment-panel", form);
}

/** Scale and delete of one deployment (its owner or the operator; the API checks again). */
function actions(ctx, d, back) {
  const status = h("div", { testid: "deployment-action-status" });
  const min = h("input", { name: "min_replicas", type: "number", min: 0, value: String(d.min_replicas), testid: "scale-min",
    "aria-label": t("inf.f.min"), class: "narrow" });
  const max = h("input", { name: "max_replicas", type: "number", min: 0, value: String(d.max_replicas), testid: "scale-max",
    "aria-label": t("inf.f.max"), class: "narrow" });
  const scale = confirmRow({ testid: "scale-confirm", status, danger: false, confirmLabel: t("inf.dep.scale"),
    errorTestid: "scale-error", extra: [min, " – ", max],
    run: async () => {
      const x = await call("PATCH", `/v1/deployments/${encodeURIComponent(d.id)}`,
        { body: { min_replicas: Number(min.value), max_replicas: Number(max.value) } });
      ctx.flash(t("inf.dep.scaled", { name: x.name, min: x.min_replicas, max: x.max_replicas }), "ok", { next: true });
      ctx.go(back);
    } });
  const del = confirmRow({ testid: "delete-confirm", status, confirmLabel: t("inf.dep.delete"), errorTestid: "delete-error",
    run: async () => {
      await call("DELETE", `/v1/deployments/${encodeURIComponent(d.id)}`);
      ctx.flash(t("inf.dep.deleted", { name: d.name }), "ok", { next: true });
      ctx.go("/deployments");
    } });
  return h("div", {},
    h("div", { class: "actions" },
      h("button", { type: "button", testid: `scale-${d.id}`, onclick: () => scale.open(t("inf.dep.scaleQ", { name: d.name })) },
        t("inf.dep.scaleButton")),
      h("button", { type: "button", class: "danger", testid: `delete-${d.id}`,
        onclick: () => del.open(t("inf.dep.deleteQ", { name: d.name })) }, t("inf.dep.deleteButton"))),
    scale.row, del.row, status);
}

function mayManage(ctx, d) {
  // a tenant sees its own deployments (private) and the operator's public ones (read-only)
  return d.state !== "deleted" && (ctx.me.role === "operator" || !d.public);
}

export async function deployments(ctx) {
  const operator = ctx.me.role === "operator";
  const [rows, accounts] = await Promise.all([get("/v1/deployments"), operator ? get("/v1/accounts") : []]);
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  for (const d of rows) d.owner = names.get(d.owner_id) ?? d.owner_id;
  const list = listView({
    columns: [
      { key: "name", label: t("inf.col.name"), value: (d) => h("a", { href: `#/deployments/${d.id}`, testid: "deployment-link" }, d.name) },
      ...(operator ? [{ key: "owner", label: t("inf.col.owner"), value: (d) => d.owner }] : []),
      { key: "kind", label: t("inf.col.kind"), value: (d) => t(`inf.kind.${d.kind}`) },
      { key: "model_ref", label: t("inf.col.modelRef"), value: (d) => h("code", {}, `${d.runtime}:${d.model_ref}`) },
      { key: "public", label: t("inf.col.public"), value: (d) => (d.public ? t("inf.yes") : t("inf.no")) },
      { label: t("inf.col.ready"), class: "num", value: (d) => h("span", { testid: "deployment-ready" }, String(countOf(d, "ready"))) },
      { key: "desired_replicas", label: t("inf.col.desired"), class: "num",
        value: (d) => h("span", { testid: "deployment-desired" }, String(d.desired_replicas)) },
      { label: t("inf.col.bounds"), class: "num", value: (d) => `${d.min_replicas}–${d.max_replicas}` },
      { key: "state", label: t("inf.col.state"), value: (d) => stBadge(d.state) },
      { key: "created_at", label: t("inf.col.created"), value: (d) => when(d.created_at) },
    ],
    rows, query: ctx.query, testid: "deployments", rowTestid: (d) => `deployment-${d.name}`, empty: t("inf.dep.none"),
    sort: "name", search: (d) => [d.name, d.owner, d.kind, d.model_ref, d.state].join(" "),
    filters: [{ key: "kind", label: t("inf.col.kind"), options: optionsOf(rows, "kind", (v) => t(`inf.kind.${v}`)) },
      { key: "state", label: t("inf.col.state"), options: optionsOf(rows, "state", stLabel) }],
  });
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("inf.dep.title")),
      h("p", { class: "muted" }, `${t("inf.dep.note")} ${operator ? t("inf.dep.noteOperator") : t("inf.dep.noteTenant")}`)),
    createPanel(ctx, operator), list);
}

function healthCell(r) {
  if (r.state === "ready" && !r.failures) return h("span", { testid: "replica-health" }, t("inf.rep.healthy"));
  if (r.failures) return h("span", { testid: "replica-health", class: "warn" }, t("inf.rep.failures", { n: r.failures }));
  return h("span", { testid: "replica-health", class: "muted" }, "—");
}

export async function deployment(ctx) {
  const [id] = ctx.params;
  const operator = ctx.me.role === "operator";
  const [d, reps, accounts] = await Promise.all([get(`/v1/deployments/${encodeURIComponent(id)}`),
    get(`/v1/deployments/${encodeURIComponent(id)}/replicas`, { all: "true" }), operator ? get("/v1/accounts") : []]);
  const owner = new Map(accounts.map((a) => [a.id, a.name])).get(d.owner_id) ?? d.owner_id;
  const replicas = reps;
  const table = listView({
    columns: [
      { key: "id", label: t("inf.rep.col.id"), value: (r) => h("code", {}, r.id) },
      { key: "state", label: t("inf.rep.col.state"), value: (r) => stBadge(r.state) },
      { label: t("inf.rep.col.health"), value: healthCell },
      { key: "hardware", label: t("inf.rep.col.hardware"), value: (r) => h("span", { testid: "replica-hardware" }, r.hardware || "—") },
      ...(operator ? [{ key: "node", label: t("inf.rep.col.node"), value: (r) => r.node || "—" }] : []),
      { key: "lease_id", label: t("inf.rep.col.lease"),
        value: (r) => (r.lease_id ? h("a", { href: `#/leases/${r.lease_id}` }, r.lease_id) : "—") },
      { key: "cold_start_ms", label: t("inf.rep.col.cold"), class: "num",
        value: (r) => (r.cold_start_ms === null || r.cold_start_ms === undefined ? "—"
          : h("span", { testid: "replica-cold-start" }, t("inf.rep.ms", { ms: num(r.cold_start_ms, 0) }))) },
      { key: "created_at", label: t("inf.rep.col.started"), value: (r) => when(r.created_at) },
      { label: t("inf.rep.col.reason"), value: (r) => h("span", { class: "muted" }, r.reason || "") },
    ],
    rows: replicas, query: ctx.query, testid: "replicas", rowTestid: (r) => `replica-${r.id}`, empty: t("inf.rep.none"),
    sort: "-created_at", search: (r) => [r.id, r.state, r.hardware, r.node, r.reason].join(" "),
    filters: [{ key: "state", label: t("inf.rep.col.state"), options: optionsOf(replicas, "state", stLabel) }],
  });
  ctx.refreshMs = 3000; // follow the replicas while they start
  return h("section", {},
    h("p", {}, h("a", { href: "#/deployments" }, `← ${t("inf.dep.back")}`)),
    h("div", { class: "page-head" }, h("h1", { testid: "deployment-name" }, d.name), stBadge(d.state)),
    kv([[t("inf.col.kind"), t(`inf.kind.${d.kind}`)], [t("inf.col.modelRef"), `${d.runtime}:${d.model_ref}`],
      [t("inf.col.owner"), owner], [t("inf.col.public"), d.public ? t("inf.yes") : t("inf.no")],
      [t("inf.col.shapes"), (d.shapes || []).map(shapeText).join(", ")],
      [t("inf.col.bounds"), `${d.min_replicas}–${d.max_replicas}`],
      [t("inf.col.desired"), h("span", { testid: "deployment-desired" }, String(d.desired_replicas))],
      [t("inf.col.ready"), h("span", { testid: "deployment-ready" }, String(replicas.filter((r) => r.state === "ready").length))],
      [t("inf.col.created"), when(d.created_at)]], "deployment-facts"),
    mayManage(ctx, d) ? actions(ctx, d, `/deployments/${d.id}`) : null,
    h("h2", {}, t("inf.dep.replicasHead")), table);
}

function limitText(v) {
  return v === null || v === undefined ? t("inf.keys.unlimited") : num(v, 0);
}

export async function keys(ctx) {
  const operator = ctx.me.role === "operator";
  const load = async () => (await get("/v1/tokens", operator ? { all: "true" } : {})).filter((x) => x.scope === "inference");
  const rows = await load();
  const label = text("label", t("inf.keys.labelPh"), "", "key");
  const rate = h("input", { id: "key-rate_limit_per_minute", name: "rate_limit_per_minute", type: "number", min: 1,
    placeholder: t("inf.keys.unlimited") });
  const quota = h("input", { id: "key-token_quota", name: "token_quota", type: "number", min: 1,
    placeholder: t("inf.keys.unlimited") });
  const status = h("div", { testid: "key-create-status" });
  const secret = h("div", { testid: "new-key" });
  const list = h("div", {});
  const form = h("form", { testid: "key-create", onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    markFields(form, {});
    const body = { scope: "inference", label: label.value };
    if (rate.value) body.rate_limit_per_minute = Number(rate.value);
    if (quota.value) body.token_quota = Number(quota.value);
    try {
      const made = await post("/v1/tokens", body);
      secret.replaceChildren(h("div", { class: "flash ok" }, h("p", {}, t("inf.keys.made", { id: made.id })),
        h("code", { testid: "new-key-secret", class: "secret" }, made.token)));
      form.reset();
      draw(await load());
    } catch (e) {
      markFields(form, e);
      status.replaceChildren(errorBox(e, "key-error"));
    }
  } },
  field(t("inf.keys.label"), label), field(t("inf.keys.rate"), rate), field(t("inf.keys.quota"), quota),
  h("button", { type: "submit", class: "primary" }, t("inf.keys.createButton")), status);
  const actionStatus = h("div", { testid: "key-status" });
  let chosen = null;
  const confirm = confirmRow({ testid: "key-revoke-confirm", status: actionStatus, confirmLabel: t("inf.keys.revoke"),
    errorTestid: "key-revoke-error",
    run: async () => {
      const x = await post(`/v1/tokens/${chosen.id}/revoke`);
      ctx.flash(t("inf.keys.revoked", { id: x.id, prefix: x.prefix }), "ok", { next: true });
      ctx.go("/inference-keys");
    } });
  function draw(items) {
    list.replaceChildren(listView({
      columns: [
        { key: "id", label: t("inf.keys.col.id"), class: "num", value: (x) => String(x.id) },
        ...(operator ? [{ key: "account", label: t("inf.keys.col.account"), value: (x) => x.account }] : []),
        { label: t("inf.keys.col.key"), value: (x) => h("code", {}, `${x.prefix}…`) },
        { key: "label", label: t("inf.keys.col.label"), value: (x) => x.label || h("span", { class: "muted" }, "—") },
        { key: "rate_limit_per_minute", label: t("inf.keys.col.rate"), class: "num",
          value: (x) => h("span", { testid: "key-rate" }, limitText(x.rate_limit_per_minute)) },
        { key: "token_quota", label: t("inf.keys.col.quota"), class: "num",
          value: (x) => h("span", { testid: "key-quota" }, limitText(x.token_quota)) },
        { key: "state", label: t("inf.keys.col.state"), value: (x) => badge(x.state) },
        { key: "created_at", label: t("inf.keys.col.created"), value: (x) => when(x.created_at) },
        { key: "last_used_at", label: t("inf.keys.col.used"), value: (x) => (x.last_used_at ? when(x.last_used_at) : t("inf.keys.never")) },
        { label: "", value: (x) => (x.state === "revoked" ? when(x.revoked_at)
          : h("button", { type: "button", class: "danger", testid: `key-revoke-${x.id}`, onclick: () => {
            chosen = x;
            confirm.open(t("inf.keys.revokeQ", { id: x.id, prefix: x.prefix }));
          } }, t("inf.keys.revokeButton"))) },
      ],
      rows: items, query: ctx.query, testid: "keys", rowTestid: (x) => `key-${x.id}`, empty: t("inf.keys.none"), sort: "-id",
      search: (x) => [x.id, x.account, x.prefix, x.label, x.state].join(" "),
      filters: [{ key: "state", label: t("inf.keys.col.state"), options: optionsOf(items, "state", stateLabel) }],
    }));
  }
  draw(rows);
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("inf.keys.title")),
      h("p", { class: "muted" }, t("inf.keys.note", { url: `${location.origin}/v1` }))),
    panel(t("inf.keys.create"), "key-panel", form, secret), confirm.row, actionStatus, list);
}

/** The months to pick from: this one and the eleven before it (UTC). */
function months() {
  const now = new Date();
  const out = [];
  for (let i = 0; i < 12; i += 1) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push(d.toISOString().slice(0, 7));
  }
  return out;
}

export async function usage(ctx) {
  const operator = ctx.me.role === "operator";
  const period = ctx.query.get("period") || months()[0];
  const doc = await get("/v1/inference/usage", { period });
  const rows = doc.rows;
  const pick = select("period", months().map((m) => [m, m]), period, "use");
  if (!months().includes(period)) pick.append(h("option", { value: period, selected: true }, period));
  pick.setAttribute("data-testid", "usage-period-pick");
  const form = h("form", { class: "list-tools", testid: "usage-period", onsubmit: (ev) => {
    ev.preventDefault();
    ctx.go(`/inference-usage?period=${pick.value}`);
  } }, h("label", { class: "filter", for: pick.id }, h("span", {}, t("inf.usage.period")), pick),
  h("button", { type: "submit", class: "small" }, t("inf.usage.show")));
  const keyOf = (r) => (r.token_id === null || r.token_id === undefined ? "—" : `${r.prefix}…${r.label ? ` ${r.label}` : ""}`);
  const list = listView({
    columns: [
      ...(operator ? [{ key: "tenant", label: t("inf.usage.col.tenant"), value: (r) => r.tenant }] : []),
      { key: "token_id", label: t("inf.usage.col.key"), value: (r) => h("code", {}, keyOf(r)) },
      { key: "model", label: t("inf.usage.col.model"), value: (r) => r.model },
      { key: "requests", label: t("inf.usage.col.requests"), class: "num", value: (r) => h("span", { testid: "usage-requests" }, num(r.requests, 0)) },
      { key: "prompt_tokens", label: t("inf.usage.col.prompt"), class: "num", value: (r) => h("span", { testid: "usage-prompt" }, num(r.prompt_tokens, 0)) },
      { key: "cached_tokens", label: t("inf.usage.col.cached"), class: "num", value: (r) => h("span", { testid: "usage-cached" }, num(r.cached_tokens, 0)) },
      { key: "completion_tokens", label: t("inf.usage.col.completion"), class: "num",
        value: (r) => h("span", { testid: "usage-completion" }, num(r.completion_tokens, 0)) },
      { key: "cost", label: t("inf.usage.col.cost"), class: "num", value: (r) => h("span", { testid: "usage-cost" }, yuan(r.cost, 6)) },
    ],
    rows, query: ctx.query, testid: "usage", rowTestid: (r) => `usage-${r.token_id ?? "none"}-${r.model}`,
    empty: t("inf.usage.none", { period }), sort: "model",
    search: (r) => [r.tenant, keyOf(r), r.model].join(" "),
    filters: [{ key: "model", label: t("inf.usage.col.model"), options: optionsOf(rows, "model") }],
  });
  const tot = doc.totals;
  const totals = rows.length ? kv([
    [t("inf.usage.col.requests"), h("span", { testid: "usage-total-requests" }, num(tot.requests, 0))],
    [t("inf.usage.col.prompt"), h("span", { testid: "usage-total-prompt" }, num(tot.prompt_tokens, 0))],
    [t("inf.usage.col.cached"), h("span", { testid: "usage-total-cached" }, num(tot.cached_tokens, 0))],
    [t("inf.usage.col.completion"), h("span", { testid: "usage-total-completion" }, num(tot.completion_tokens, 0))],
    [t("inf.usage.col.cost"), h("span", { testid: "usage-total-cost" }, yuan(tot.cost, 6))],
  ], "usage-totals") : null;
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("inf.usage.title")), h("p", { class: "muted" }, t("inf.usage.note"))),
    form, totals ? h("div", {}, h("h3", {}, t("inf.usage.total")), totals) : null, list);
}
