// Supplier pages: the statement (its share of issued invoices, payouts) and its own nodes' occupancy.
import { get } from "./api.js";
import { card, h, money, num, table, yuan } from "./ui.js";
import { heldByNode, nodeStateForm, nodeTable } from "./operator.js";
import { periodPicker } from "./tenant.js";

export async function statement(ctx) {
  const picker = periodPicker(ctx, "/statement", { allowEmpty: true });
  const st = await get("/v1/statements/supplier", { period: picker.value || undefined });
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, `Statement · ${st.supplier}`),
      h("p", { class: "muted" }, "Your share of the charges on issued invoices (usage counts once its tenant's "
        + "invoice for the month is issued), the operator's commission, and what is payable to you.")),
    picker.el,
    h("div", { class: "cards", testid: "statement-cards" },
      card("Gross charges", yuan(st.gross), "st-gross"),
      card("Your share", yuan(st.supplier_share), "st-share"),
      card("Commission", yuan(st.commission), "st-commission"),
      card("Payable balance", yuan(st.payable_balance), "st-payable")),
    table([
      { label: "Month", value: (x) => x.period },
      { label: "Node", value: (x) => h("span", { class: "mono" }, x.node || "—") },
      { label: "Model", value: (x) => x.model },
      { label: "Site", value: (x) => x.site },
      { label: "Leases", value: (x) => num(x.leases, 0), class: "num" },
      { label: "Device-hours", value: (x) => num(x.device_hours, 4), class: "num" },
      { label: "Gross", value: (x) => money(x.gross), class: "num" },
      { label: "Your share", value: (x) => money(x.supplier_share), class: "num" },
      { label: "Commission", value: (x) => money(x.commission), class: "num" },
    ], st.lines, { testid: "statement-lines", empty: picker.value ? `No issued charges in ${picker.value}.` : "No issued charges yet." }));
}

export async function nodes(ctx) {
  const [list, held] = await Promise.all([get("/v1/nodes"), heldByNode()]);
  const stateForm = nodeStateForm(ctx, list, held.milli, "/nodes");
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "My nodes"),
      h("p", { class: "muted" }, "Your nodes in the pool and how much of each is held by active leases now. "
        + "Take one out for maintenance, or mark it down, with a reason the operator sees.")),
    list.length ? stateForm.el : null,
    nodeTable(list, held.milli, "my-nodes", stateForm.pick));
}
