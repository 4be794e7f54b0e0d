// Packages: the products the operator sells (price per package and volume tiers) and the packages
// held. A tenant buys a product at its listed price: there is no price to enter, only how many.
// Amounts are shown as the API returns them: the console computes no money.
import { get, post } from "./api.js";
import { register, t } from "./i18n.js";
import { confirmRow, h, listView, money, num, optionsOf, table, when, yuan } from "./ui.js";

register({
  en: {
    "pkg.title": "Packages", "pkg.tier": "≥ {min}: {price} each", "pkg.days": "{n} days from purchase",
    "pkg.noteTenant": "Prepaid packages (套餐) are products the operator prices. You buy one at its listed price (a volume "
      + "tier applies to every package of the purchase); it covers matching usage until it expires, and its price is "
      + "billed on this month's invoice.",
    "pkg.noteOperator": "Prepaid packages (套餐) are products the operator prices. Tenants buy them at the listed price; "
      + "a discount or a custom package is a sale with a reason.",
    "pkg.buy": "Buy", "pkg.buyButton": "Buy…", "pkg.howMany": "How many of {name}",
    "pkg.bought": "Bought {count} × {name} for {price}: {qty} {unit} of {meter}, valid to {to}.",
    "pkg.buyQ": "Buy {count} × {name} at {each} 元 each (the listed price{tier})? It is billed on this month's invoice.",
    "pkg.tierApplied": ", volume tier applied",
    "pkg.col.product": "Product", "pkg.col.covers": "Covers", "pkg.col.price": "Price per package", "pkg.col.tiers": "Volume tiers",
    "pkg.col.valid": "Valid", "pkg.covers": "{qty} {unit} of {meter}", "pkg.atSite": " · at {site}",
    "pkg.noProducts": "No package products on sale.", "pkg.yours": "Your packages", "pkg.held": "Packages held",
    "pkg.col.package": "Package", "pkg.col.tenant": "Tenant", "pkg.col.quantity": "Quantity", "pkg.col.left": "Left",
    "pkg.col.paid": "Paid", "pkg.col.soldBy": "Sold by", "pkg.custom": "custom", "pkg.none": "No packages yet.",
  },
  "zh-CN": {
    "pkg.title": "套餐", "pkg.tier": "≥ {min}：每个 {price}", "pkg.days": "购买后 {n} 天内有效",
    "pkg.noteTenant": "预付套餐是运营方定价的产品。您按目录价购买（批量折扣档位适用于本次购买的全部套餐）；在到期前抵扣符合条件的用量，价格计入本月发票。",
    "pkg.noteOperator": "预付套餐是运营方定价的产品。租户按目录价购买；折扣或定制套餐须作为带原因的销售记录。",
    "pkg.buy": "购买", "pkg.buyButton": "购买…", "pkg.howMany": "购买 {name} 的数量",
    "pkg.bought": "已购买 {count} × {name}，价格 {price}：{meter} {qty} {unit}，有效期至 {to}。",
    "pkg.buyQ": "以每个 {each} 元（目录价{tier}）购买 {count} × {name}？费用计入本月发票。",
    "pkg.tierApplied": "，已按批量档位",
    "pkg.col.product": "产品", "pkg.col.covers": "包含", "pkg.col.price": "单价", "pkg.col.tiers": "批量档位",
    "pkg.col.valid": "有效期", "pkg.covers": "{meter} {qty} {unit}", "pkg.atSite": " · 限 {site}",
    "pkg.noProducts": "暂无在售套餐。", "pkg.yours": "您的套餐", "pkg.held": "已售套餐",
    "pkg.col.package": "套餐", "pkg.col.tenant": "租户", "pkg.col.quantity": "数量", "pkg.col.left": "剩余",
    "pkg.col.paid": "已付", "pkg.col.soldBy": "销售人", "pkg.custom": "定制", "pkg.none": "暂无套餐。",
  },
});

function tiersText(p) {
  if (!p.tiers.length) return h("span", { class: "muted" }, "—");
  return p.tiers.map((x) => t("pkg.tier", { min: x.min_count, price: money(x.price) })).join(" · ");
}

function validity(p) {
  return p.valid_days ? t("pkg.days", { n: p.valid_days }) : `${when(p.valid_from)} – ${when(p.valid_to)}`;
}

/** The price of each package for a count, by the product's tiers (display only: the server decides). */
function eachFor(p, count) {
  let each = p.price;
  for (const x of p.tiers) if (count >= x.min_count) each = x.price;
  return each;
}

export async function packages(ctx) {
  const tenant = ctx.me.role === "tenant";
  const [products, held] = await Promise.all([get("/v1/package-products"), get("/v1/packages")]);
  const status = h("div", { testid: "package-status" });
  let chosen = null;
  let count = 1;
  const confirm = confirmRow({ testid: "buy-confirm", status, danger: false, confirmLabel: t("pkg.buy"), errorTestid: "buy-error",
    run: async () => {
      const pk = await post("/v1/packages", { product: chosen.id, count });
      ctx.flash(t("pkg.bought", { count: pk.count, name: pk.product_name, price: yuan(pk.price), qty: num(pk.quantity, 6),
        unit: pk.unit, meter: pk.meter, to: when(pk.expires_at) }), "ok", { next: true });
      ctx.go("/packages");
    } });
  const buyCell = (p) => {
    const n = h("input", { type: "number", min: "1", max: "10000", step: "1", value: "1", class: "count",
      "aria-label": t("pkg.howMany", { name: p.name }), testid: `count-${p.id}` });
    return h("span", { class: "buy" }, n, h("button", { type: "button", testid: `buy-${p.id}`, onclick: () => {
      chosen = p;
      count = Number.parseInt(n.value, 10);
      confirm.open(t("pkg.buyQ", { count: n.value, name: p.name, each: money(eachFor(p, count)),
        tier: p.tiers.length ? t("pkg.tierApplied") : "" }));
    } }, t("pkg.buyButton")));
  };
  const columns = [
    { label: t("pkg.col.product"), value: (p) => h("strong", {}, p.name) },
    { label: t("pkg.col.covers"), value: (p) => t("pkg.covers", { qty: num(p.quantity, 6), unit: p.unit, meter: p.meter })
      + `${p.model ? ` · ${p.model}` : ""}${p.site ? t("pkg.atSite", { site: p.site }) : ""}` },
    { label: t("pkg.col.price"), value: (p) => yuan(p.price), class: "num" },
    { label: t("pkg.col.tiers"), value: tiersText },
    { label: t("pkg.col.valid"), value: validity },
  ];
  if (tenant) columns.push({ label: "", value: buyCell });
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("pkg.title")),
      h("p", { class: "muted" }, tenant ? t("pkg.noteTenant") : t("pkg.noteOperator"))),
    table(columns, products, { testid: "products", rowTestid: (p) => `product-${p.id}`, empty: t("pkg.noProducts") }),
    confirm.row, status,
    h("h2", {}, tenant ? t("pkg.yours") : t("pkg.held")),
    listView({
      columns: [
        { key: "id", label: t("pkg.col.package"), value: (x) => x.id },
        ...(tenant ? [] : [{ key: "tenant", label: t("pkg.col.tenant"), value: (x) => x.tenant }]),
        { key: "product_name", label: t("pkg.col.product"), value: (x) => x.product_name || h("span", { class: "muted" }, t("pkg.custom")) },
        { label: t("pkg.col.quantity"), value: (x) => `${num(x.quantity, 6)} ${x.unit}`, class: "num" },
        { key: "left", label: t("pkg.col.left"), value: (x) => num(x.left, 6), class: "num" },
        { key: "price", label: t("pkg.col.paid"), value: (x) => yuan(x.price), class: "num" },
        { label: t("pkg.col.soldBy"), value: (x) => (x.sold_by ? `${x.sold_by}: ${x.reason}` : "") },
        { key: "expires_at", label: t("pkg.col.valid"), value: (x) => `${when(x.starts_at)} – ${when(x.expires_at)}` },
      ],
      rows: held, query: ctx.query, testid: "held-packages", rowTestid: (x) => `package-${x.id}`, empty: t("pkg.none"),
      sort: "-expires_at", search: (x) => [x.id, x.tenant, x.product_name, x.meter].join(" "),
      filters: tenant ? [] : [{ key: "tenant", label: t("pkg.col.tenant"), options: optionsOf(held, "tenant") }],
    }));
}
