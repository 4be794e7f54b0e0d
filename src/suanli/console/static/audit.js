// The audit trail: who changed what, when and from where, with each change's before -> after.
// The operator sees every entry; a tenant its own organisation's (the API decides). Filters narrow
// the table (newest first, 50 a page); Export downloads the filtered trail as CSV or JSON.
import { download, get } from "./api.js";
import { errorBox, field, h, isoFromLocal, markFields, select, table, text, when } from "./ui.js";

const ACTIONS = [["", "any"], ["create", "create"], ["update", "update"], ["delete", "delete"]];
const PAGE = 50;

export async function audit(ctx) {
  const operator = ctx.me.role === "operator";
  const actor = text("actor", "account name or id, or system", "", "au");
  const action = select("action", ACTIONS, "", "au");
  const type = text("object_type", "prices, leases, invoices, accounts …", "", "au");
  const id = text("object_id", "an object's id", "", "au");
  const tenant = text("tenant", "tenant name or id", "", "au");
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
      { label: "At", value: (e) => when(e.at) },
      { label: "Actor", value: (e) => h("span", {}, e.actor, h("span", { class: "muted" }, ` · ${e.actor_role}`)) },
      { label: "Token", value: (e) => (e.token_prefix ? h("code", {}, `${e.token_prefix}…`) : "—") },
      { label: "Address", value: (e) => e.address || "—" },
      { label: "Action", value: (e) => e.action },
      { label: "Object", value: (e) => e.object_type },
      { label: "Id", value: (e) => h("span", { class: "mono" }, e.object_id || "—") },
      ...(operator ? [{ label: "Tenant", value: (e) => h("span", { class: "mono" }, e.tenant_id || "—") }] : []),
      { label: "Change (before → after)", value: (e) => h("span", { class: "change" }, e.summary) },
      { label: "Request", value: (e) => (e.method ? h("span", { class: "mono muted" }, `${e.method} ${e.path}`) : "—") },
    ], page.items, { testid: "audit", rowTestid: (e) => `audit-${e.id}`, empty: "No entries match." }));
    pager.replaceChildren(
      h("span", { class: "muted" }, page.items.length ? `entries ${offset + 1}–${offset + page.items.length}` : ""),
      offset > 0 ? h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - PAGE); load(); } },
        "← Newer") : null,
      page.next_offset !== null ? h("button", { type: "button", testid: "audit-older",
        onclick: () => { offset = page.next_offset; load(); } }, "Older →") : null);
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
  field("Actor", actor), field("Action", action), field("Object type", type), field("Object id", id),
  operator ? field("Tenant", tenant) : null, field("Since", since), field("Until", until),
  h("div", { class: "actions" },
    h("button", { type: "submit", class: "primary" }, "Filter"),
    h("button", { type: "button", testid: "audit-export-csv", onclick: () => exportAs("csv") }, "Export CSV"),
    h("button", { type: "button", testid: "audit-export-json", onclick: () => exportAs("json") }, "Export JSON")));

  await load();
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Audit trail"),
      h("p", { class: "muted" }, "Every change to the platform, recorded in the same transaction as the change: who "
        + "(account, token, client address), what, and the values before → after. "
        + (operator ? "You see every entry." : "You see your organisation's entries."))),
    form, status, list, pager);
}
