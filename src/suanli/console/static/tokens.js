// API tokens: yours (the operator: every account's). Make one with a scope (full, read-only, one lease)
// and an expiry; its secret is shown once, here, and never again. Revoke one: it stops working at once.
import { get, post } from "./api.js";
import { badge, confirmRow, errorBox, field, h, isoFromLocal, markFields, panel, select, table, text, when } from "./ui.js";

const SCOPES = [["full", "full: everything your account may do"], ["read", "read: only reads, changes nothing"],
  ["lease", "lease: one lease of yours (read it, run jobs on it)"]];
const LIFETIMES = [["", "never"], ["3600", "in 1 hour"], ["86400", "in 1 day"], ["604800", "in 7 days"],
  ["2592000", "in 30 days"], ["7776000", "in 90 days"], ["at", "at a time…"]];

function createPanel(ctx, leases) {
  const label = text("label", "what it is for, e.g. CI runner", "", "tok");
  label.maxLength = 200; // the server says what is allowed (80)
  const scope = select("scope", SCOPES, "full", "tok");
  const lease = select("lease", [["", "—"], ...leases.map((l) => [l.id, `${l.id} (${l.state})`])], "", "tok");
  const lifetime = select("expires_in_s", LIFETIMES, "", "tok");
  const at = h("input", { id: "tok-expires_at", name: "expires_at", type: "datetime-local", hidden: true });
  const leaseField = field("Lease", lease, "Only for a lease token.");
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
      const t = await post("/v1/tokens", body);
      secret.replaceChildren(h("div", { class: "flash ok" },
        h("p", {}, `Token ${t.id} (${t.scope}${t.lease ? ` on ${t.lease}` : ""}) made. Copy its secret now: `
          + "it is shown this once and never again."),
        h("code", { testid: "new-token-secret", class: "secret" }, t.token)));
      form.reset();
      sync();
      ctx.refreshList();
    } catch (e) { // the server's message under the field it is about, and in full below the form
      markFields(form, e, { expires_in_s: "expires_at" });
      status.replaceChildren(errorBox(e, "token-error"));
    }
  } },
  field("Label", label), field("Scope", scope), leaseField,
  h("div", { class: "field", "data-field": "expires_at" }, h("label", { for: "tok-expires_in_s" }, "Expires"), lifetime, at),
  h("button", { type: "submit", class: "primary" }, "Create token"), status);
  return panel("New token", "token-panel", form, secret);
}

export async function tokens(ctx) {
  const operator = ctx.me.role === "operator";
  const load = () => get("/v1/tokens", operator ? { all: "true" } : {});
  const [rows, leases] = await Promise.all([load(),
    ctx.me.role === "tenant" ? get("/v1/leases", { state: "active", limit: 100 }).then((p) => p.items) : []]);
  const status = h("div", { testid: "token-status" });
  let chosen = null;
  const confirm = confirmRow({ testid: "revoke-confirm", status, confirmLabel: "Revoke", errorTestid: "revoke-error",
    run: async () => {
      const t = await post(`/v1/tokens/${chosen.id}/revoke`);
      ctx.flash(`Token ${t.id} (${t.prefix}…) revoked: it no longer works.`, "ok", { next: true });
      ctx.go("/tokens");
    } });
  const list = h("div", {});
  const draw = (items) => list.replaceChildren(table([
    { label: "Id", value: (t) => String(t.id), class: "num" },
    ...(operator ? [{ label: "Account", value: (t) => t.account }] : []),
    { label: "Token", value: (t) => h("code", {}, `${t.prefix}…`) },
    { label: "Label", value: (t) => t.label || h("span", { class: "muted" }, "—") },
    { label: "Scope", value: (t) => (t.lease ? `${t.scope} · ${t.lease}` : t.scope) },
    { label: "State", value: (t) => badge(t.state) },
    { label: "Created", value: (t) => when(t.created_at) },
    { label: "Expires", value: (t) => (t.expires_at ? when(t.expires_at) : "never") },
    { label: "Last used", value: (t) => (t.last_used_at ? when(t.last_used_at) : "never") },
    { label: "", value: (t) => (t.state === "revoked" ? when(t.revoked_at)
      : h("button", { type: "button", class: "danger", testid: `revoke-${t.id}`, onclick: () => {
        chosen = t;
        confirm.open(`Revoke token ${t.id} (${t.prefix}…${t.label ? `, ${t.label}` : ""}` + (operator ? ` of ${t.account}` : "")
          + ")? Anything using it stops working at once.");
      } }, "Revoke…")) },
  ], items, { testid: "tokens", rowTestid: (t) => `token-${t.id}`, empty: "No tokens." }));
  draw(rows);
  ctx.refreshList = async () => draw(await load());
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "API tokens"),
      h("p", { class: "muted" }, "Tokens sign the CLI, scripts and this console in. A read token changes nothing; "
        + "a lease token reads one lease and runs jobs on it. "
        + (operator ? "You see every account's tokens and may revoke any." : "You see and revoke your own."))),
    createPanel(ctx, leases), confirm.row, status, list);
}
