// Node agents (docs/agents.md): the operator's (every node) and a supplier's (its own nodes) list of agent
// nodes with their health now, measured round-trip time, last heartbeat, backend, devices and version;
// a one-time join token with the exact `suanli agent run …` command (shown once); approve and revoke
// (operator). Health is derived by the server from the last heartbeat on every read.
import { get, post } from "./api.js";
import { register, t } from "./i18n.js";
import { confirmRow, errorBox, field, h, listView, markFields, num, optionsOf, panel, select, when } from "./ui.js";

register({
  en: {
    "agents.nav": "Agents", "agents.title": "Node agents",
    "agents.note": "An agent on a node runs its leases where the devices are and reports health and telemetry. "
      + "Health: up (heartbeats on time), suspect (late), down (silent past the grace: its leases are re-placed).",
    "agents.noteOperator": "You see every agent node; approve a joined agent before it gets work.",
    "agents.noteSupplier": "You see the agents of your own nodes; the operator approves them.",
    "agents.col.node": "Node", "agents.col.site": "Site", "agents.col.region": "Region", "agents.col.supplier": "Supplier",
    "agents.col.state": "State", "agents.col.health": "Health", "agents.col.rtt": "RTT", "agents.col.seen": "Last seen",
    "agents.col.backend": "Backend", "agents.col.devices": "Devices", "agents.col.version": "Version",
    "agents.state.awaiting_join": "awaiting join", "agents.state.pending": "awaiting approval",
    "agents.state.approved": "approved", "agents.state.revoked": "revoked",
    "agents.health.up": "up", "agents.health.suspect": "suspect", "agents.health.down": "down",
    "agents.ms": "{ms} ms", "agents.never": "never", "agents.devices": "{n} of {fleet}",
    "agents.none": "No agent nodes yet: create a join token for a node below.",
    "agents.approve": "Approve", "agents.approveButton": "Approve…", "agents.revoke": "Revoke", "agents.revokeButton": "Revoke…",
    "agents.approveQ": "Approve the agent of {node}? It gets work (leases and jobs) from now on.",
    "agents.revokeQ": "Revoke the agent of {node}? Its credential stops working at once and the node goes down; "
      + "its leases are re-placed.",
    "agents.approved": "Agent of {node} approved.", "agents.revoked": "Agent of {node} revoked.",
    "agents.token.head": "New join token", "agents.token.node": "Node", "agents.token.ttl": "Valid for",
    "agents.token.approve": "Approve the agent when it joins", "agents.token.create": "Create join token",
    "agents.token.1h": "1 hour", "agents.token.1d": "1 day", "agents.token.7d": "7 days",
    "agents.token.made": "Join token {id} for {node}, usable once until {expires}. Copy it now: it is shown this once "
      + "and never again.",
    "agents.token.run": "On the node, run:",
    "agents.token.help": "The agent joins with it once; from then on it signs in with its own node credential.",
    "agents.telemetry": "{util} % busy · {power} W · {temp} °C",
  },
  "zh-CN": {
    "agents.nav": "节点代理", "agents.title": "节点代理",
    "agents.note": "节点代理在设备所在的节点上运行租约，并上报健康状况和遥测数据。健康：正常（心跳按时）、"
      + "可疑（心跳迟到）、故障（超过宽限期无心跳：其租约将被重新放置）。",
    "agents.noteOperator": "您可以看到所有代理节点；已加入的代理须经您批准后才会接收工作。",
    "agents.noteSupplier": "您可以看到自己节点上的代理；由运营方批准。",
    "agents.col.node": "节点", "agents.col.site": "站点", "agents.col.region": "区域", "agents.col.supplier": "供应商",
    "agents.col.state": "状态", "agents.col.health": "健康", "agents.col.rtt": "往返时延", "agents.col.seen": "最近心跳",
    "agents.col.backend": "采集后端", "agents.col.devices": "设备", "agents.col.version": "版本",
    "agents.state.awaiting_join": "等待加入", "agents.state.pending": "待批准",
    "agents.state.approved": "已批准", "agents.state.revoked": "已吊销",
    "agents.health.up": "正常", "agents.health.suspect": "可疑", "agents.health.down": "故障",
    "agents.ms": "{ms} 毫秒", "agents.never": "从未", "agents.devices": "{n} / {fleet}",
    "agents.none": "暂无代理节点：请在下方为节点创建加入令牌。",
    "agents.approve": "批准", "agents.approveButton": "批准…", "agents.revoke": "吊销", "agents.revokeButton": "吊销…",
    "agents.approveQ": "批准节点 {node} 的代理？从现在起它将接收工作（租约和作业）。",
    "agents.revokeQ": "吊销节点 {node} 的代理？其凭据立即失效，节点将被判定为故障，其租约将被重新放置。",
    "agents.approved": "节点 {node} 的代理已批准。", "agents.revoked": "节点 {node} 的代理已吊销。",
    "agents.token.head": "新建加入令牌", "agents.token.node": "节点", "agents.token.ttl": "有效期",
    "agents.token.approve": "代理加入时自动批准", "agents.token.create": "创建加入令牌",
    "agents.token.1h": "1 小时", "agents.token.1d": "1 天", "agents.token.7d": "7 天",
    "agents.token.made": "已为节点 {node} 创建加入令牌 {id}，仅可使用一次，有效期至 {expires}。请立即复制：它只显示这一次。",
    "agents.token.run": "在该节点上运行：",
    "agents.token.help": "代理用它加入一次；此后使用自己的节点凭据登录。",
    "agents.telemetry": "利用率 {util}% · {power} 瓦 · {temp} °C",
  },
});

const STATE_CLASS = { awaiting_join: "scheduled", pending: "suspended", approved: "active", revoked: "ended" };
const HEALTH_CLASS = { up: "active", suspect: "suspended", down: "down" };
const STATE_DIR = "/var/lib/suanli-agent";

function pill(kind, value, cls) {
  return h("span", { class: `badge st-${cls[value] || value}`, testid: kind, title: String(value) }, t(`agents.${kind}.${value}`));
}

/** The command that starts the agent on the node (the join token's secret inside: shown once). */
export function runCommand(node, token) {
  return `suanli agent run --server ${window.location.origin} --node ${node} --join-token ${token} --state-dir ${STATE_DIR}`;
}

function tokenPanel(ctx, nodes, operator) {
  const node = select("node", nodes.map((n) => [n.name, `${n.name} (${n.site})`]), nodes[0]?.name, "agt");
  const ttl = select("ttl_s", [["3600", t("agents.token.1h")], ["86400", t("agents.token.1d")],
    ["604800", t("agents.token.7d")]], "3600", "agt");
  const approve = h("input", { id: "agt-approve", name: "approve", type: "checkbox", testid: "agent-token-approve" });
  const status = h("div", { testid: "agent-token-status" });
  const secret = h("div", { testid: "agent-token-new" });
  const form = h("form", { testid: "agent-token-create", onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    markFields(form, {});
    const body = { node: node.value, ttl_s: Number.parseInt(ttl.value, 10) };
    if (operator) body.approve = approve.checked;
    try {
      const made = await post("/v1/agents/join-tokens", body);
      // read-only fields filled by script (value != defaultValue): the page's auto-refresh holds off while
      // they are on screen, so the secret stays until the page is left or reloaded
      const tokenField = h("input", { type: "text", readonly: true, class: "secret", testid: "agent-token-secret",
        "aria-label": t("agents.token.head") });
      const command = h("textarea", { readonly: true, rows: 3, cols: 100, class: "secret", testid: "agent-run-command",
        "aria-label": t("agents.token.run") });
      tokenField.value = made.token;
      command.value = runCommand(made.node, made.token);
      secret.replaceChildren(h("div", { class: "flash ok" },
        h("p", {}, t("agents.token.made", { id: made.id, node: made.node, expires: when(made.expires_at) })),
        tokenField, h("p", {}, t("agents.token.run")), command));
      ctx.refreshList();
    } catch (e) {
      markFields(form, e);
      status.replaceChildren(errorBox(e, "agent-token-error"));
    }
  } },
  field(t("agents.token.node"), node), field(t("agents.token.ttl"), ttl),
  operator ? h("div", { class: "field", "data-field": "approve" },
    h("label", { for: "agt-approve" }, approve, " ", t("agents.token.approve"))) : null,
  h("button", { type: "submit", class: "primary" }, t("agents.token.create")),
  h("div", { class: "help" }, t("agents.token.help")), status);
  return panel(t("agents.token.head"), "agent-token-panel", form, secret);
}

function devicesCell(x) {
  const lines = (x.telemetry || []).map((d) => h("div", { class: "muted", testid: `agent-device-${x.node}-${d.index}` },
    `#${d.index} ${d.name || ""} `, t("agents.telemetry", {
      util: d.utilisation_pct ?? "—", power: d.power_w === null || d.power_w === undefined ? "—" : num(d.power_w, 1),
      temp: d.temperature_c ?? "—" })));
  return h("div", {}, h("span", { testid: "agent-devices" }, t("agents.devices", { n: x.devices.length, fleet: x.device_count })),
    ...lines);
}

export async function page(ctx) {
  const operator = ctx.me.role === "operator";
  const load = () => get("/v1/agents");
  const [rows, nodes] = await Promise.all([load(), get("/v1/nodes")]);
  const status = h("div", { testid: "agent-status" });
  let chosen = null;
  let action = "approve";
  const confirm = confirmRow({ testid: "agent-confirm", status, errorTestid: "agent-action-error",
    confirmLabel: t("agents.approve"),
    run: async () => {
      const x = await post(`/v1/agents/${encodeURIComponent(chosen.node)}/${action}`);
      ctx.flash(t(action === "approve" ? "agents.approved" : "agents.revoked", { node: x.node }), "ok", { next: true });
      ctx.go("/agents");
    } });
  const ask = (x, what) => {
    chosen = x;
    action = what;
    confirm.row.querySelector("button").textContent = t(what === "approve" ? "agents.approve" : "agents.revoke");
    confirm.row.querySelector("button").className = what === "approve" ? "primary" : "danger";
    confirm.open(t(what === "approve" ? "agents.approveQ" : "agents.revokeQ", { node: x.node }));
  };
  const list = h("div", {});
  const draw = (items) => list.replaceChildren(listView({
    columns: [
      { key: "node", label: t("agents.col.node"), value: (x) => h("code", {}, x.node) },
      { key: "site", label: t("agents.col.site"), value: (x) => x.site },
      { key: "region", label: t("agents.col.region"), value: (x) => x.region },
      ...(operator ? [{ key: "supplier", label: t("agents.col.supplier"), value: (x) => x.supplier }] : []),
      { key: "state", label: t("agents.col.state"), value: (x) => pill("state", x.state, STATE_CLASS) },
      { key: "health", label: t("agents.col.health"), value: (x) => h("div", {}, pill("health", x.health, HEALTH_CLASS),
        x.health_reason ? h("div", { class: "muted", testid: "agent-health-reason" }, x.health_reason) : null) },
      { key: "rtt_ms", label: t("agents.col.rtt"), class: "num",
        value: (x) => (x.rtt_ms === null || x.rtt_ms === undefined ? "—" : h("span", { testid: "agent-rtt" },
          t("agents.ms", { ms: num(x.rtt_ms, 1) }))) },
      { key: "last_seen_at", label: t("agents.col.seen"),
        value: (x) => (x.last_seen_at ? when(x.last_seen_at) : t("agents.never")) },
      { key: "backend", label: t("agents.col.backend"), value: (x) => x.backend || "—" },
      { label: t("agents.col.devices"), value: devicesCell },
      { key: "version", label: t("agents.col.version"), value: (x) => x.version || "—" },
      ...(operator ? [{ label: "", value: (x) => h("div", { class: "actions" },
        x.state === "pending" ? h("button", { type: "button", class: "primary", testid: `approve-${x.node}`,
          onclick: () => ask(x, "approve") }, t("agents.approveButton")) : null,
        x.state !== "revoked" && x.state !== "awaiting_join" ? h("button", { type: "button", class: "danger",
          testid: `revoke-${x.node}`, onclick: () => ask(x, "revoke") }, t("agents.revokeButton")) : null) }] : []),
    ],
    rows: items, query: ctx.query, testid: "agents", rowTestid: (x) => `agent-${x.node}`, empty: t("agents.none"),
    sort: "node", search: (x) => [x.node, x.site, x.region, x.supplier, x.state, x.health, x.backend, x.version].join(" "),
    filters: [
      { key: "health", label: t("agents.col.health"), options: optionsOf(items, "health", (v) => t(`agents.health.${v}`)) },
      { key: "state", label: t("agents.col.state"), options: optionsOf(items, "state", (v) => t(`agents.state.${v}`)) },
      { key: "site", label: t("agents.col.site"), options: optionsOf(items, "site") },
    ],
  }));
  draw(rows);
  ctx.refreshList = async () => draw(await load());
  const note = t("agents.note");
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("agents.title")),
      h("p", { class: "muted" }, `${note} ${operator ? t("agents.noteOperator") : t("agents.noteSupplier")}`)),
    nodes.length ? tokenPanel(ctx, nodes, operator) : null, confirm.row, status, list);
}
