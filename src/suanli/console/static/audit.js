// The audit trail: who changed what, when and from where, with each change's before -> after.
// The operator sees every entry; a tenant its own organisation's (the API decides). Filters narrow
// the table (newest first, 50 a page); Export downloads the filtered trail as CSV or JSON.
import { download, get } from "./api.js";
import { register, t, timeZone } from "./i18n.js";
import { errorBox, field, h, isoFromLocal, markFields, select, table, text, when } from "./ui.js";

register({
  en: {
    "audit.any": "any", "audit.a.create": "create", "audit.a.update": "update", "audit.a.delete": "delete",
    "audit.actorPh": "account name or id, or system", "audit.typePh": "prices, leases, invoices, accounts …",
    "audit.idPh": "an object's id", "audit.tenantPh": "tenant name or id",
    "audit.col.at": "At", "audit.col.actor": "Actor", "audit.col.token": "Token", "audit.col.address": "Address",
    "audit.col.action": "Action", "audit.col.object": "Object", "audit.col.id": "Id", "audit.col.tenant": "Tenant",
    "audit.col.change": "Change (before → after)", "audit.col.request": "Request", "audit.none": "No entries match.",
    "audit.range": "entries {from}–{to}", "audit.newer": "← Newer", "audit.older": "Older →",
    "audit.f.actor": "Actor", "audit.f.action": "Action", "audit.f.type": "Object type", "audit.f.id": "Object id",
    "audit.f.tenant": "Tenant", "audit.f.since": "Since ({zone})", "audit.f.until": "Until ({zone})",
    "audit.filter": "Filter", "audit.csv": "Export CSV", "audit.json": "Export JSON", "audit.title": "Audit trail",
    "audit.note": "Every change to the platform, recorded in the same transaction as the change: who (account, token, "
      + "client address), what, and the values before → after.",
    "audit.noteOperator": "You see every entry.", "audit.noteTenant": "You see your organisation's entries.",
  },
  "zh-CN": {
    "audit.any": "全部", "audit.a.create": "创建", "audit.a.update": "更新", "audit.a.delete": "删除",
    "audit.actorPh": "账户名或编号，或 system", "audit.typePh": "prices、leases、invoices、accounts …",
    "audit.idPh": "对象编号", "audit.tenantPh": "租户名称或编号",
    "audit.col.at": "时间", "audit.col.actor": "操作人", "audit.col.token": "令牌", "audit.col.address": "地址",
    "audit.col.action": "操作", "audit.col.object": "对象", "audit.col.id": "编号", "audit.col.tenant": "租户",
    "audit.col.change": "变更（前 → 后）", "audit.col.request": "请求", "audit.none": "没有匹配的记录。",
    "audit.range": "第 {from}–{to} 条", "audit.newer": "← 较新", "audit.older": "较早 →",
    "audit.f.actor": "操作人", "audit.f.action": "操作", "audit.f.type": "对象类型", "audit.f.id": "对象编号",
    "audit.f.tenant": "租户", "audit.f.since": "起始（{zone}）", "audit.f.until": "截止（{zone}）",
    "audit.filter": "筛选", "audit.csv": "导出 CSV", "audit.json": "导出 JSON", "audit.title": "审计日志",
    "audit.note": "平台上的每一项变更，与变更在同一事务中记录：谁（账户、令牌、客户端地址）、做了什么、变更前后的值。",
    "audit.noteOperator": "您可以看到全部记录。", "audit.noteTenant": "您可以看到本组织的记录。",
  },
});

const ACTIONS = () => [["", t("audit.any")], ...["create", "update", "delete"].map((a) => [a, t(`audit.a.${a}`)])];
const PAGE = 50;

export async function audit(ctx) {
  const operator = ctx.me.role === "operator";
  const actor = text("actor", t("audit.actorPh"), ctx.query.get("actor") || "", "au");
  const action = select("action", ACTIONS(), ctx.query.get("action") || "", "au");
  const type = text("object_type", t("audit.typePh"), ctx.query.get("object_type") || "", "au");
  const id = text("object_id", t("audit.idPh"), ctx.query.get("object_id") || "", "au");
  const tenant = text("tenant", t("audit.tenantPh"), ctx.query.get("tenant") || "", "au");
  const since = h("input", { id: "au-since", name: "since", type: "datetime-local" });
  const until = h("input", { id: "au-until", name: "until", type: "datetime-local" });
  const status = h("div", { testid: "audit-status" });
  const list = h("div", {});
  const pager = h("div", { class: "pager", testid: "audit-pager" });
  let offset = 0;

  const query = () => ({
    actor: actor.value.trim(), action: action.value, object_type: type.value.trim(), object_id: id.value.trim(),
    tenant: operator ? tenant.value.trim() : "", since: isoFromLocal(since.value), until: isoFromLocal(until.value),
  });
  const clean = (q) => Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined && v !== ""));

  const showError = (e) => {
    status.replaceChildren(errorBox(e, "audit-error"));
    markFields(form, e);
  };

  const load = async () => {
    status.replaceChildren();
    markFields(form, {});
    let page;
    try {
      page = await get("/v1/audit", { ...clean(query()), offset, limit: PAGE });
    } catch (e) {
      showError(e);
      return;
    }
    list.replaceChildren(table([
      { label: t("audit.col.at"), value: (e) => when(e.at) },
      { label: t("audit.col.actor"), value: (e) => h("span", {}, e.actor, h("span", { class: "muted" }, ` · ${e.actor_role}`)) },
      { label: t("audit.col.token"), value: (e) => (e.token_prefix ? h("code", {}, `${e.token_prefix}…`) : "—") },
      { label: t("audit.col.address"), value: (e) => e.address || "—" },
      { label: t("audit.col.action"), value: (e) => (["create", "update", "delete"].includes(e.action) ? t(`audit.a.${e.action}`) : e.action) },
      { label: t("audit.col.object"), value: (e) => e.object_type },
      { label: t("audit.col.id"), value: (e) => h("span", { class: "mono" }, e.object_id || "—") },
      ...(operator ? [{ label: t("audit.col.tenant"), value: (e) => (e.tenant_id ? h("span", { title: e.tenant_id },
        names.get(e.tenant_id) || e.tenant_id) : "—") }] : []),
      { label: t("audit.col.change"), value: (e) => h("span", { class: "change" }, e.summary) },
      { label: t("audit.col.request"), value: (e) => (e.method ? h("span", { class: "mono muted" }, `${e.method} ${e.path}`) : "—") },
    ], page.items, { testid: "audit", rowTestid: (e) => `audit-${e.id}`, empty: t("audit.none") }));
    pager.replaceChildren(...[
      h("span", { class: "muted" }, page.items.length ? t("audit.range", { from: offset + 1, to: offset + page.items.length }) : ""),
      offset > 0 ? h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - PAGE); load(); } },
        t("audit.newer")) : null,
      page.next_offset !== null ? h("button", { type: "button", testid: "audit-older",
        onclick: () => { offset = page.next_offset; load(); } }, t("audit.older")) : null].filter(Boolean));
  };

  const exportAs = async (format) => {
    status.replaceChildren();
    try {
      await download("/v1/audit/export", `audit.${format}`, { ...clean(query()), format });
    } catch (e) {
      showError(e);
    }
  };

  const form = h("form", { class: "filters", testid: "audit-filters", onsubmit: (ev) => {
    ev.preventDefault();
    offset = 0;
    load();
  } },
  field(t("audit.f.actor"), actor), field(t("audit.f.action"), action), field(t("audit.f.type"), type), field(t("audit.f.id"), id),
  operator ? field(t("audit.f.tenant"), tenant) : null, field(t("audit.f.since", { zone: timeZone() }), since),
  field(t("audit.f.until", { zone: timeZone() }), until),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "primary" }, t("audit.filter")),
    h("button", { type: "button", testid: "audit-export-csv", onclick: () => exportAs("csv") }, t("audit.csv")),
    h("button", { type: "button", testid: "audit-export-json", onclick: () => exportAs("json") }, t("audit.json"))));

  // tenant names for the tenant column (one call; the entries carry the id)
  const names = operator ? new Map((await get("/v1/accounts")).map((a) => [a.id, a.name])) : new Map();
  await load();
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("audit.title")),
      h("p", { class: "muted" }, `${t("audit.note")} ${operator ? t("audit.noteOperator") : t("audit.noteTenant")}`)),
    form, status, list, pager);
}
