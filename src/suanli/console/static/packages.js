// Packages: the products the operator sells (price per package and volume tiers) and the packages
// held. A tenant buys a product at its listed price: there is no price to enter, only how many.
// Amounts are shown as the API returns them: the console computes no money.
import { get, post } from "./api.js";
import { confirmRow, h, money, num, table, when, yuan } from "./ui.js";

function tiersText(p) {
  if (!p.tiers.length) return h("span", { class: "muted" }, "—");
  return p.tiers.map((t) => `≥ ${t.min_count}: ${money(t.price)} each`).join(" · ");
}

function validity(p) {
  return p.valid_days ? `${p.valid_days} days from purchase` : `${when(p.valid_from)} – ${when(p.valid_to)}`;
}

/** The price of each package for a count, by the product's tiers (display only: the server decides). */
function eachFor(p, count) {
  let each = p.price;
  for (const t of p.tiers) if (count >= t.min_count) each = t.price;
  return each;
}

export async function packages(ctx) {
  const tenant = ctx.me.role === "tenant";
  const [products, held] = await Promise.all([get("/v1/package-products"), get("/v1/packages")]);
  const status = h("div", { testid: "package-status" });
  let chosen = null;
  let count = 1;
  const confirm = confirmRow({ testid: "buy-confirm", status, danger: false, confirmLabel: "Buy", errorTestid: "buy-error",
    run: async () => {
      const pk = await post("/v1/packages", { product: chosen.id, count });
      ctx.flash(`Bought ${pk.count} × ${pk.product_name} for ${yuan(pk.price)}: ${num(pk.quantity, 6)} ${pk.unit} of `
        + `${pk.meter}, valid to ${when(pk.expires_at)}.`, "ok", { next: true });
      ctx.go("/packages");
    } });
  const buyCell = (p) => {
    const n = h("input", { type: "number", min: "1", max: "10000", step: "1", value: "1", class: "count",
      "aria-label": `How many of ${p.name}`, testid: `count-${p.id}` });
    return h("span", { class: "buy" }, n, h("button", { type: "button", testid: `buy-${p.id}`, onclick: () => {
      chosen = p;
      count = Number.parseInt(n.value, 10);
      confirm.open(`Buy ${n.value} × ${p.name} at ${money(eachFor(p, count))} 元 each (the listed price`
        + `${p.tiers.length ? ", volume tier applied" : ""})? It is billed on this month's invoice.`);
    } }, "Buy…"));
  };
  const columns = [
    { label: "Product", value: (p) => h("strong", {}, p.name) },
    { label: "Covers", value: (p) => `${num(p.quantity, 6)} ${p.unit} of ${p.meter}${p.model ? ` · ${p.model}` : ""}`
      + `${p.site ? ` · at ${p.site}` : ""}` },
    { label: "Price per package", value: (p) => yuan(p.price), class: "num" },
    { label: "Volume tiers", value: tiersText },
    { label: "Valid", value: validity },
  ];
  if (tenant) columns.push({ label: "", value: buyCell });
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Packages"),
      h("p", { class: "muted" }, "Prepaid packages are products the operator prices. "
        + (tenant ? "You buy one at its listed price (a volume tier applies to every package of the purchase); "
          + "it covers matching usage until it expires, and its price is billed on this month's invoice."
          : "Tenants buy them at the listed price; a discount or a custom package is a sale with a reason."))),
    table(columns, products, { testid: "products", rowTestid: (p) => `product-${p.id}`,
      empty: "No package products on sale." }),
    confirm.row, status,
    h("h2", {}, tenant ? "Your packages" : "Packages held"),
    table([
      { label: "Package", value: (x) => x.id },
      ...(tenant ? [] : [{ label: "Tenant", value: (x) => x.tenant }]),
      { label: "Product", value: (x) => x.product_name || h("span", { class: "muted" }, "custom") },
      { label: "Quantity", value: (x) => `${num(x.quantity, 6)} ${x.unit}`, class: "num" },
      { label: "Left", value: (x) => num(x.left, 6), class: "num" },
      { label: "Paid", value: (x) => yuan(x.price), class: "num" },
      { label: "Sold by", value: (x) => (x.sold_by ? `${x.sold_by}: ${x.reason}` : "") },
      { label: "Valid", value: (x) => `${when(x.starts_at)} – ${when(x.expires_at)}` },
    ], held, { testid: "held-packages", rowTestid: (x) => `package-${x.id}`, empty: "No packages yet." }));
}
