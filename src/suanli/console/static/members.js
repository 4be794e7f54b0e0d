// Your organisation's members (a tenant organisation's admin): list them with their monthly spend limit and
// what each committed this month (UTC), add one (its first token is shown once, here), change a limit or a
// role, remove one (its tokens stop working at once). The server decides; its message shows next to the field.
import { call, get, post } from "./api.js";
import { register, t } from "./i18n.js";
import { confirmRow, errorBox, field, h, markFields, money, panel, select, table, text, when } from "./ui.js";

register({
  en: {
    "mem.role.developer": "developer: orders, leases, jobs", "mem.role.finance": "finance: bills, wallet, packages",
    "mem.role.viewer": "viewer: reads only", "mem.role.admin": "admin: everything, members too",
    "mem.r.developer": "developer", "mem.r.finance": "finance", "mem.r.viewer": "viewer", "mem.r.admin": "admin",
    "mem.namePh": "account name, e.g. ana", "mem.limitPh": "e.g. 500 (empty: no limit)",
    "mem.added": "Member {name} ({role}) added. Give them this API token now: it is shown this once.",
    "mem.name": "Name", "mem.role": "Role", "mem.limit": "Monthly limit",
    "mem.limitHelp": "Orders and packages the member may commit per calendar month (UTC).",
    "mem.add": "Add member", "mem.addHead": "Add a member", "mem.none": "none",
    "mem.limitSet": "{name}: limit {limit}.", "mem.set": "Set", "mem.remove": "Remove", "mem.removeButton": "Remove…",
    "mem.removed": "Member {name} removed: its tokens no longer work.",
    "mem.col.member": "Member", "mem.col.role": "Role", "mem.col.spent": "Spent this month", "mem.col.limit": "Monthly limit",
    "mem.col.since": "Since",
    "mem.removeQ": "Remove {name} ({role})? Its API tokens stop working at once; what it ordered stays yours.",
    "mem.empty": "No members yet.", "mem.title": "Members",
    "mem.note": "Members of {org} act for the organisation: a developer orders and runs jobs, finance sees bills and buys "
      + "packages, a viewer only reads. A member's orders and packages count against its monthly limit.",
  },
  "zh-CN": {
    "mem.role.developer": "开发者：下单、租约、作业", "mem.role.finance": "财务：账单、钱包、套餐",
    "mem.role.viewer": "查看者：只读", "mem.role.admin": "管理员：全部权限，包括成员管理",
    "mem.r.developer": "开发者", "mem.r.finance": "财务", "mem.r.viewer": "查看者", "mem.r.admin": "管理员",
    "mem.namePh": "账户名，例如 ana", "mem.limitPh": "例如 500（留空：不限）",
    "mem.added": "已添加成员 {name}（{role}）。请现在把此 API 令牌交给对方：它只显示这一次。",
    "mem.name": "名称", "mem.role": "角色", "mem.limit": "每月限额",
    "mem.limitHelp": "该成员每个自然月（UTC）可下单和购买套餐的金额上限。",
    "mem.add": "添加成员", "mem.addHead": "添加成员", "mem.none": "不限",
    "mem.limitSet": "{name}：限额 {limit}。", "mem.set": "设置", "mem.remove": "移除", "mem.removeButton": "移除…",
    "mem.removed": "已移除成员 {name}：其令牌已失效。",
    "mem.col.member": "成员", "mem.col.role": "角色", "mem.col.spent": "本月已用", "mem.col.limit": "每月限额",
    "mem.col.since": "加入时间",
    "mem.removeQ": "移除 {name}（{role}）？其 API 令牌立即失效；其已下的订单仍归组织所有。",
    "mem.empty": "暂无成员。", "mem.title": "成员",
    "mem.note": "{org} 的成员代表组织操作：开发者下单和运行作业，财务查看账单和购买套餐，查看者只读。成员的订单和套餐计入其每月限额。",
  },
});

const ROLE_NAMES = ["developer", "finance", "viewer", "admin"];
const ROLES = () => ROLE_NAMES.map((r) => [r, t(`mem.role.${r}`)]);
const roleName = (r) => (ROLE_NAMES.includes(r) ? t(`mem.r.${r}`) : r);

/** A refusal: the whole message in `status`, and the server's words under each field it names. */
function showError(form, status, e, testid) {
  status.replaceChildren(errorBox(e, testid));
  markFields(form, e);
}

function clearErrors(form, status) {
  status.replaceChildren();
  markFields(form, {});
}

function addPanel(ctx) {
  const name = text("name", t("mem.namePh"), "", "mem");
  const role = select("role", ROLES(), "developer", "mem");
  const limit = text("spend_limit", t("mem.limitPh"), "", "mem");
  const status = h("div", { testid: "member-add-status" });
  const secret = h("div", { testid: "new-member" });
  const form = h("form", { testid: "member-add", onsubmit: async (ev) => {
    ev.preventDefault();
    clearErrors(form, status);
    const body = { name: name.value.trim(), role: role.value };
    if (limit.value.trim()) body.spend_limit = limit.value.trim();
    try {
      const m = await post("/v1/members", body);
      secret.replaceChildren(h("div", { class: "flash ok" },
        h("p", {}, t("mem.added", { name: m.name, role: roleName(m.role) })),
        h("code", { testid: "new-member-token", class: "secret" }, m.token)));
      form.reset();
      ctx.refreshList();
    } catch (e) {
      showError(form, status, e, "member-error");
    }
  } },
  field(t("mem.name"), name), field(t("mem.role"), role),
  field(t("mem.limit"), limit, t("mem.limitHelp")),
  h("button", { type: "submit", class: "primary" }, t("mem.add")), status);
  return panel(t("mem.addHead"), "member-add-panel", form, secret);
}

function limitForm(ctx, m) {
  const input = text("spend_limit", t("mem.none"), m.spend_limit || "", `lim-${m.name}`);
  input.size = 10;
  const status = h("span", {});
  const form = h("form", { class: "inline", testid: `limit-${m.name}`, onsubmit: async (ev) => {
    ev.preventDefault();
    clearErrors(form, status);
    const value = input.value.trim();
    try {
      const changed = await call("PATCH", `/v1/members/${encodeURIComponent(m.name)}`,
        { body: value ? { spend_limit: value } : { clear_limit: true } });
      ctx.flash(t("mem.limitSet", { name: changed.name,
        limit: changed.spend_limit === null ? t("mem.none") : `${changed.spend_limit} ${changed.currency}` }));
      ctx.refreshList();
    } catch (e) {
      showError(form, status, e, `limit-error-${m.name}`);
    }
  } }, h("span", { class: "field", "data-field": "spend_limit" }, input),
  h("button", { type: "submit" }, t("mem.set")), status);
  return form;
}

export async function members(ctx) {
  const status = h("div", { testid: "members-status" });
  let chosen = null;
  const confirm = confirmRow({ testid: "remove-confirm", status, confirmLabel: t("mem.remove"), errorTestid: "remove-error",
    run: async () => {
      const m = await call("DELETE", `/v1/members/${encodeURIComponent(chosen.name)}`);
      ctx.flash(t("mem.removed", { name: m.name }), "ok", { next: true });
      ctx.go("/members");
    } });
  const list = h("div", {});
  const draw = (items) => list.replaceChildren(table([
    { label: t("mem.col.member"), value: (m) => m.name },
    { label: t("mem.col.role"), value: (m) => roleName(m.role) },
    { label: t("mem.col.spent"), value: (m) => `${money(m.spent)} ${m.currency}`, class: "num" },
    { label: t("mem.col.limit"), value: (m) => limitForm(ctx, m) },
    { label: t("mem.col.since"), value: (m) => when(m.created_at) },
    { label: "", value: (m) => h("button", { type: "button", class: "danger", testid: `remove-${m.name}`, onclick: () => {
      chosen = m;
      confirm.open(t("mem.removeQ", { name: m.name, role: roleName(m.role) }));
    } }, t("mem.removeButton")) },
  ], items, { testid: "members", rowTestid: (m) => `member-${m.name}`, empty: t("mem.empty") }));
  draw(await get("/v1/members"));
  ctx.refreshList = async () => draw(await get("/v1/members"));
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("mem.title")),
      h("p", { class: "muted" }, t("mem.note", { org: ctx.me.organisation || ctx.me.name }))),
    addPanel(ctx), confirm.row, status, list);
}
