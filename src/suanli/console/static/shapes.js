// Custom shapes on the tenant's order form and the operator's prices page (docs/orders.md "Custom
// shapes", docs/billing.md "Resource prices"): host CPU cores, RAM, NIC and local disk beyond the
// devices' share (all of a CPU-only instance), and the resource list prices. The server decides.
import { post } from "./api.js";
import { register, t } from "./i18n.js";
import { errorBox, field, h, money } from "./ui.js";

register({
  en: {
    "shapes.title": "Custom shape (optional)",
    "shapes.help": "host resources on the node; beyond the devices' share they are billed per second at the resource prices",
    "shapes.cpuHelp": "a CPU-only instance: cores and RAM are required",
    "shapes.cpu_cores": "CPU cores", "shapes.ram_gib": "RAM (GiB)", "shapes.nic_gbps": "NIC (Gbps)",
    "shapes.disk_gib": "Local disk (GiB)",
    "shapes.prices": "Resource prices", "shapes.pricesIntro": "Host resources a lease holds beyond its devices' share (all of a CPU-only instance), billed per second. Effective now or later, never earlier.",
    "shapes.col.resource": "Resource", "shapes.col.site": "Site", "shapes.col.price": "Price", "shapes.col.per": "Per",
    "shapes.col.from": "Effective from", "shapes.allSites": "all sites", "shapes.none": "No resource prices yet.",
    "shapes.amount": "Amount", "shapes.set": "Set resource price", "shapes.saved": "{resource} set to {amount}",
    "shapes.r.cpu_core_hour": "CPU core-hour", "shapes.r.ram_gib_hour": "RAM GiB-hour",
    "shapes.r.nic_gbps_hour": "NIC Gbps-hour", "shapes.r.disk_gib_month": "Disk GiB-month",
  },
  "zh-CN": {
    "shapes.title": "自定义规格（可选）",
    "shapes.help": "节点上的主机资源；超出设备按比例分配的部分按资源价格逐秒计费",
    "shapes.cpuHelp": "纯 CPU 实例：必须填写核数和内存",
    "shapes.cpu_cores": "CPU 核数", "shapes.ram_gib": "内存（GiB）", "shapes.nic_gbps": "网卡带宽（Gbps）",
    "shapes.disk_gib": "本地磁盘（GiB）",
    "shapes.prices": "资源价格", "shapes.pricesIntro": "租约超出其设备按比例份额所占用的主机资源（纯 CPU 实例为全部），逐秒计费。即时或将来生效，不可追溯。",
    "shapes.col.resource": "资源", "shapes.col.site": "站点", "shapes.col.price": "价格", "shapes.col.per": "单位",
    "shapes.col.from": "生效时间", "shapes.allSites": "所有站点", "shapes.none": "尚无资源价格。",
    "shapes.amount": "金额", "shapes.set": "设置资源价格", "shapes.saved": "{resource} 已设为 {amount}",
    "shapes.r.cpu_core_hour": "CPU 核·小时", "shapes.r.ram_gib_hour": "内存 GiB·小时",
    "shapes.r.nic_gbps_hour": "网卡 Gbps·小时", "shapes.r.disk_gib_month": "磁盘 GiB·月",
  },
});

export const SHAPE_FIELDS = ["cpu_cores", "ram_gib", "nic_gbps", "disk_gib"];
export const SHAPED_FORMS = ["gpu", "slice", "flops", "cpu"];

/** The four fields of the order form; `apply(out, form)` adds those typed (as typed: the API says what is wrong). */
export function shapeFields() {
  const inputs = Object.fromEntries(SHAPE_FIELDS.map((k) => [k, h("input", { id: `f-${k}`, name: k, type: "text",
    inputmode: "numeric", autocomplete: "off" })]));
  const note = h("p", { class: "muted", testid: "shape-help" }, t("shapes.help"));
  const el = h("fieldset", { class: "shape", testid: "order-shape" }, h("legend", {}, t("shapes.title")), note,
    h("div", { class: "grid2" }, ...SHAPE_FIELDS.map((k) => field(t(`shapes.${k}`), inputs[k]))));
  return {
    el,
    /** Shown for the forms that take a shape; the CPU-only form says what it needs. */
    sync(form) {
      el.hidden = !SHAPED_FORMS.includes(form);
      note.textContent = form === "cpu" ? t("shapes.cpuHelp") : t("shapes.help");
    },
    apply(out, form) {
      if (!SHAPED_FORMS.includes(form)) return out;
      for (const k of SHAPE_FIELDS) {
        const v = inputs[k].value.trim();
        if (v !== "") out[k] = /^-?\d+$/.test(v) ? Number.parseInt(v, 10) : v;
      }
      return out;
    },
  };
}

/** The operator's resource prices: the table and a form to set one. */
export function resourcePrices(rows, reload) {
  const resource = h("select", { id: "f-resource", name: "resource" },
    ["cpu_core_hour", "ram_gib_hour", "nic_gbps_hour", "disk_gib_month"].map((r) => h("option", { value: r }, t(`shapes.r.${r}`))));
  const amount = h("input", { id: "f-resource-amount", name: "amount", type: "text", inputmode: "decimal", placeholder: "0.12" });
  const status = h("div", { testid: "resource-price-status" });
  const form = h("form", { class: "inline", testid: "resource-price-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const x = await post("/v1/resource-prices", { resource: resource.value, amount: amount.value.trim() });
      status.replaceChildren(h("p", { class: "ok" }, t("shapes.saved", { resource: t(`shapes.r.${x.resource}`), amount: x.amount })));
      await reload();
    } catch (e) {
      status.replaceChildren(errorBox(e, "resource-price-error"));
    }
  } }, field(t("shapes.col.resource"), resource), field(t("shapes.amount"), amount),
  h("button", { type: "submit", class: "primary" }, t("shapes.set")));
  const table = rows.length ? h("table", { testid: "resource-prices" },
    h("thead", {}, h("tr", {}, ...["resource", "site", "price", "per", "from"].map((k) => h("th", {}, t(`shapes.col.${k}`))))),
    h("tbody", {}, rows.map((x) => h("tr", { testid: `resource-price-${x.resource}` },
      h("td", {}, t(`shapes.r.${x.resource}`)), h("td", {}, x.site || t("shapes.allSites")),
      h("td", { class: "num" }, money(x.amount, 4)), h("td", {}, x.unit), h("td", {}, new Date(x.effective_from).toLocaleString())))))
    : h("p", { class: "muted" }, t("shapes.none"));
  return h("section", { class: "panel", testid: "resource-prices-panel" }, h("h2", {}, t("shapes.prices")),
    h("p", { class: "muted" }, t("shapes.pricesIntro")), table, form, status);
}
