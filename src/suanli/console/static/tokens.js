// API tokens: yours (the operator: every account's). Make one with a scope (full, read-only, one lease)
// and an expiry; its secret is shown once, here, and never again. Revoke one: it stops working at once.
import { get, post } from "./api.js";
import { register, t, timeZone } from "./i18n.js";
import { badge, confirmRow, errorBox, field, h, isoFromLocal, listView, markFields, optionsOf, panel, select, stateLabel, text, when } from "./ui.js";

register({
  en: {
    "tok.scope.full": "full: everything your account may do", "tok.scope.read": "read: only reads, changes nothing",
    "tok.scope.lease": "lease: one lease of yours (read it, run jobs on it)",
    "tok.never": "never", "tok.in1h": "in 1 hour", "tok.in1d": "in 1 day", "tok.in7d": "in 7 days", "tok.in30d": "in 30 days",
    "tok.in90d": "in 90 days", "tok.at": "at a time… ({zone})",
    "tok.labelPh": "what it is for, e.g. CI runner", "tok.lease": "Lease", "tok.leaseHelp": "Only for a lease token.",
    "tok.made": "Token {id} ({scope}{lease}) made. Copy its secret now: it is shown this once and never again.",
    "tok.on": " on {lease}", "tok.label": "Label", "tok.scope": "Scope", "tok.expires": "Expires", "tok.create": "Create token",
    "tok.newHead": "New token", "tok.revoke": "Revoke", "tok.revokeButton": "Revoke…",
    "tok.revoked": "Token {id} ({prefix}…) revoked: it no longer works.",
    "tok.col.id": "Id", "tok.col.account": "Account", "tok.col.token": "Token", "tok.col.label": "Label",
    "tok.col.scope": "Scope", "tok.col.state": "State", "tok.col.created": "Created", "tok.col.expires": "Expires",
    "tok.col.used": "Last used",
    "tok.revokeQ": "Revoke token {id} ({prefix}…{label}{of})? Anything using it stops working at once.", "tok.of": " of {account}",
    "tok.none": "No tokens.", "tok.title": "API tokens",
    "tok.note": "Tokens sign the CLI, scripts and this console in. A read token changes nothing; a lease token reads one "
      + "lease and runs jobs on it.",
    "tok.noteOperator": "You see every account's tokens and may revoke any.", "tok.noteOwn": "You see and revoke your own.",
  },
  "zh-CN": {
    "tok.scope.full": "完全：账户的全部权限", "tok.scope.read": "只读：只能读取，不做任何更改",
    "tok.scope.lease": "单租约：您的某一个租约（查看它、在其上运行作业）",
    "tok.never": "永不过期", "tok.in1h": "1 小时后", "tok.in1d": "1 天后", "tok.in7d": "7 天后", "tok.in30d": "30 天后",
    "tok.in90d": "90 天后", "tok.at": "指定时间…（{zone}）",
    "tok.labelPh": "用途，例如 CI 运行器", "tok.lease": "租约", "tok.leaseHelp": "仅用于单租约令牌。",
    "tok.made": "已创建令牌 {id}（{scope}{lease}）。请立即复制其密钥：它只显示这一次。",
    "tok.on": "，租约 {lease}", "tok.label": "标签", "tok.scope": "权限范围", "tok.expires": "过期时间", "tok.create": "创建令牌",
    "tok.newHead": "新建令牌", "tok.revoke": "吊销", "tok.revokeButton": "吊销…",
    "tok.revoked": "令牌 {id}（{prefix}…）已吊销，不再可用。",
    "tok.col.id": "编号", "tok.col.account": "账户", "tok.col.token": "令牌", "tok.col.label": "标签",
    "tok.col.scope": "权限范围", "tok.col.state": "状态", "tok.col.created": "创建时间", "tok.col.expires": "过期时间",
    "tok.col.used": "最近使用",
    "tok.revokeQ": "吊销令牌 {id}（{prefix}…{label}{of}）？使用它的一切将立即失效。", "tok.of": "，属于 {account}",
    "tok.none": "暂无令牌。", "tok.title": "API 令牌",
    "tok.note": "令牌用于命令行工具、脚本和本控制台的登录。只读令牌不会做任何更改；单租约令牌可查看一个租约并在其上运行作业。",
    "tok.noteOperator": "您可以看到所有账户的令牌，并可吊销任意令牌。", "tok.noteOwn": "您可以查看和吊销自己的令牌。",
  },
});

const SCOPES = () => ["full", "read", "lease"].map((s) => [s, t(`tok.scope.${s}`)]);
const LIFETIMES = () => [["", t("tok.never")], ["3600", t("tok.in1h")], ["86400", t("tok.in1d")], ["604800", t("tok.in7d")],
  ["2592000", t("tok.in30d")], ["7776000", t("tok.in90d")], ["at", t("tok.at", { zone: timeZone() })]];

function createPanel(ctx, leases) {
  const label = text("label", t("tok.labelPh"), "", "tok");
  label.maxLength = 200; // the server says what is allowed (80)
  const scope = select("scope", SCOPES(), "full", "tok");
  const lease = select("lease", [["", "—"], ...leases.map((l) => [l.id, `${l.id} (${stateLabel(l.state)})`])], "", "tok");
  const lifetime = select("expires_in_s", LIFETIMES(), "", "tok");
  const at = h("input", { id: "tok-expires_at", name: "expires_at", type: "datetime-local", hidden: true });
  const leaseField = field(t("tok.lease"), lease, t("tok.leaseHelp"));
  const status = h("div", { testid: "token-create-status" });
  const secret = h("div", { testid: "new-token" });
  const sync = () => {
    leaseField.hidden = scope.value !== "lease";
    at.hidden = lifetime.value !== "at";
  };
  scope.addEventListener("change", sync);
  lifetime.addEventListener("change", sync);
  sync();
  const form = h("form", { testid: "token-create", onsubmit: async (ev) => {
    ev.preventDefault();
    status.replaceChildren();
    markFields(form, {});
    const body = { label: label.value, scope: scope.value };
    if (scope.value === "lease") body.lease = lease.value || undefined;
    if (lifetime.value === "at") body.expires_at = isoFromLocal(at.value);
    else if (lifetime.value) body.expires_in_s = Number.parseInt(lifetime.value, 10);
    try {
      const made = await post("/v1/tokens", body);
      secret.replaceChildren(h("div", { class: "flash ok" },
        h("p", {}, t("tok.made", { id: made.id, scope: stateLabel(made.scope), lease: made.lease ? t("tok.on", { lease: made.lease }) : "" })),
        h("code", { testid: "new-token-secret", class: "secret" }, made.token)));
      form.reset();
      sync();
      ctx.refreshList();
    } catch (e) { // the server's message under the field it is about, and in full below the form
      markFields(form, e, { expires_in_s: "expires_at" });
      status.replaceChildren(errorBox(e, "token-error"));
    }
  } },
  field(t("tok.label"), label), field(t("tok.scope"), scope), leaseField,
  h("div", { class: "field", "data-field": "expires_at" }, h("label", { for: "tok-expires_in_s" }, t("tok.expires")), lifetime, at),
  h("button", { type: "submit", class: "primary" }, t("tok.create")), status);
  return panel(t("tok.newHead"), "token-panel", form, secret);
}

export async function tokens(ctx) {
  const operator = ctx.me.role === "operator";
  const load = () => get("/v1/tokens", operator ? { all: "true" } : {});
  const [rows, leases] = await Promise.all([load(),
    ctx.me.role === "tenant" ? get("/v1/leases", { state: "active", limit: 100 }).then((p) => p.items) : []]);
  const status = h("div", { testid: "token-status" });
  let chosen = null;
  const confirm = confirmRow({ testid: "revoke-confirm", status, confirmLabel: t("tok.revoke"), errorTestid: "revoke-error",
    run: async () => {
      const x = await post(`/v1/tokens/${chosen.id}/revoke`);
      ctx.flash(t("tok.revoked", { id: x.id, prefix: x.prefix }), "ok", { next: true });
      ctx.go("/tokens");
    } });
  const list = h("div", {});
  const draw = (items) => list.replaceChildren(listView({
    columns: [
      { key: "id", label: t("tok.col.id"), value: (x) => String(x.id), class: "num" },
      ...(operator ? [{ key: "account", label: t("tok.col.account"), value: (x) => x.account }] : []),
      { label: t("tok.col.token"), value: (x) => h("code", {}, `${x.prefix}…`) },
      { key: "label", label: t("tok.col.label"), value: (x) => x.label || h("span", { class: "muted" }, "—") },
      { key: "scope", label: t("tok.col.scope"), value: (x) => (x.lease ? `${stateLabel(x.scope)} · ${x.lease}` : stateLabel(x.scope)) },
      { key: "state", label: t("tok.col.state"), value: (x) => badge(x.state) },
      { key: "created_at", label: t("tok.col.created"), value: (x) => when(x.created_at) },
      { key: "expires_at", label: t("tok.col.expires"), value: (x) => (x.expires_at ? when(x.expires_at) : t("tok.never")) },
      { key: "last_used_at", label: t("tok.col.used"), value: (x) => (x.last_used_at ? when(x.last_used_at) : t("tok.never")) },
      { label: "", value: (x) => (x.state === "revoked" ? when(x.revoked_at)
        : h("button", { type: "button", class: "danger", testid: `revoke-${x.id}`, onclick: () => {
          chosen = x;
          confirm.open(t("tok.revokeQ", { id: x.id, prefix: x.prefix, label: x.label ? `, ${x.label}` : "",
            of: operator ? t("tok.of", { account: x.account }) : "" }));
        } }, t("tok.revokeButton"))) },
    ],
    rows: items, query: ctx.query, testid: "tokens", rowTestid: (x) => `token-${x.id}`, empty: t("tok.none"), sort: "-id",
    search: (x) => [x.id, x.account, x.prefix, x.label, x.scope, x.lease, x.state].join(" "),
    filters: [
      ...(operator ? [{ key: "account", label: t("tok.col.account"), options: optionsOf(items, "account") }] : []),
      { key: "state", label: t("tok.col.state"), options: optionsOf(items, "state", stateLabel) },
      { key: "scope", label: t("tok.col.scope"), options: optionsOf(items, "scope", stateLabel) },
    ],
  }));
  draw(rows);
  ctx.refreshList = async () => draw(await load());
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("tok.title")),
      h("p", { class: "muted" }, `${t("tok.note")} ${operator ? t("tok.noteOperator") : t("tok.noteOwn")}`)),
    createPanel(ctx, leases), confirm.row, status, list);
}
