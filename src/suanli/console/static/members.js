// Your organisation's members (a tenant organisation's admin): list them with their monthly spend limit and
// what each committed this month (UTC), add one (its first token is shown once, here), change a limit or a
// role, remove one (its tokens stop working at once). The server decides; its message shows next to the field.
import { call, get, post } from "./api.js";
import { confirmRow, errorBox, field, h, markFields, money, panel, select, table, text, when } from "./ui.js";

const ROLES = [["developer", "developer: orders, leases, jobs"], ["finance", "finance: bills, wallet, packages"],
  ["viewer", "viewer: reads only"], ["admin", "admin: everything, members too"]];

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
  const name = text("name", "account name, e.g. ana", "", "mem");
  const role = select("role", ROLES, "developer", "mem");
  const limit = text("spend_limit", "e.g. 500 (empty: no limit)", "", "mem");
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
        h("p", {}, `Member ${m.name} (${m.role}) added. Give them this API token now: it is shown this once.`),
        h("code", { testid: "new-member-token", class: "secret" }, m.token)));
      form.reset();
      ctx.refreshList();
    } catch (e) {
      showError(form, status, e, "member-error");
    }
  } },
  field("Name", name), field("Role", role),
  field("Monthly limit", limit, "Orders and packages the member may commit per calendar month (UTC)."),
  h("button", { type: "submit", class: "primary" }, "Add member"), status);
  return panel("Add a member", "member-add-panel", form, secret);
}

function limitForm(ctx, m) {
  const input = text("spend_limit", "none", m.spend_limit || "", `lim-${m.name}`);
  input.size = 10;
  const status = h("span", {});
  const form = h("form", { class: "inline", testid: `limit-${m.name}`, onsubmit: async (ev) => {
    ev.preventDefault();
    clearErrors(form, status);
    const value = input.value.trim();
    try {
      const changed = await call("PATCH", `/v1/members/${encodeURIComponent(m.name)}`,
        { body: value ? { spend_limit: value } : { clear_limit: true } });
      ctx.flash(`${changed.name}: limit ${changed.spend_limit === null ? "none" : `${changed.spend_limit} ${changed.currency}`}.`);
      ctx.refreshList();
    } catch (e) {
      showError(form, status, e, `limit-error-${m.name}`);
    }
  } }, h("span", { class: "field", "data-field": "spend_limit" }, input),
  h("button", { type: "submit" }, "Set"), status);
  return form;
}

export async function members(ctx) {
  const status = h("div", { testid: "members-status" });
  let chosen = null;
  const confirm = confirmRow({ testid: "remove-confirm", status, confirmLabel: "Remove", errorTestid: "remove-error",
    run: async () => {
      const m = await call("DELETE", `/v1/members/${encodeURIComponent(chosen.name)}`);
      ctx.flash(`Member ${m.name} removed: its tokens no longer work.`, "ok", { next: true });
      ctx.go("/members");
    } });
  const list = h("div", {});
  const draw = (items) => list.replaceChildren(table([
    { label: "Member", value: (m) => m.name },
    { label: "Role", value: (m) => m.role },
    { label: "Spent this month", value: (m) => `${money(m.spent)} ${m.currency}`, class: "num" },
    { label: "Monthly limit", value: (m) => limitForm(ctx, m) },
    { label: "Since", value: (m) => when(m.created_at) },
    { label: "", value: (m) => h("button", { type: "button", class: "danger", testid: `remove-${m.name}`, onclick: () => {
      chosen = m;
      confirm.open(`Remove ${m.name} (${m.role})? Its API tokens stop working at once; what it ordered stays yours.`);
    } }, "Remove…") },
  ], items, { testid: "members", rowTestid: (m) => `member-${m.name}`, empty: "No members yet." }));
  draw(await get("/v1/members"));
  ctx.refreshList = async () => draw(await get("/v1/members"));
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Members"),
      h("p", { class: "muted" }, `Members of ${ctx.me.organisation || ctx.me.name} act for the organisation: `
        + "a developer orders and runs jobs, finance sees bills and buys packages, a viewer only reads. "
        + "A member's orders and packages count against its monthly limit.")),
    addPanel(ctx), confirm.row, status, list);
}
