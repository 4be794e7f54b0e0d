// "Near a place" on the tenant's order form (docs/orders.md "Near a place"): a region to be near
// (the order's `regions`) and a bound on the site's measured round-trip time (`max_rtt_ms`). The
// region choices show their sites' measured RTTs (from /v1/offers); the server decides.
import { register, t } from "./i18n.js";
import { field, h, num } from "./ui.js";

register({
  en: {
    "near.region": "Near region", "near.any": "any region", "near.regionHelp": "only sites in this region",
    "near.maxRtt": "Max round-trip time (ms)", "near.maxRttPh": "e.g. 20",
    "near.maxRttHelp": "only sites whose measured round-trip time is at most this; sites not measured are left out",
    "near.site": "{site} {ms} ms", "near.unmeasured": "{site} not measured",
    "near.col": "RTT", "near.ms": "{ms} ms", "near.colTitle": "the site's measured round-trip time (median of its agents)",
  },
  "zh-CN": {
    "near.region": "就近区域", "near.any": "任意区域", "near.regionHelp": "仅限该区域内的站点",
    "near.maxRtt": "最大往返时延（毫秒）", "near.maxRttPh": "例如 20",
    "near.maxRttHelp": "仅限实测往返时延不超过此值的站点；未测量的站点不参与",
    "near.site": "{site} {ms} 毫秒", "near.unmeasured": "{site} 未测量",
    "near.col": "往返时延", "near.ms": "{ms} 毫秒", "near.colTitle": "站点的实测往返时延（其代理的中位数）",
  },
});

/** An offer's site RTT for a table cell ("—": not measured). */
export function rttCell(o) {
  if (o.rtt_ms === null || o.rtt_ms === undefined) return h("span", { class: "muted", title: t("near.colTitle") }, "—");
  return h("span", { testid: `rtt-${o.site}`, title: t("near.colTitle") }, t("near.ms", { ms: num(o.rtt_ms, 1) }));
}

/** The two fields and how they shape an order body and the offers it may land on. */
export function nearFields(offers) {
  const regions = new Map();
  for (const o of offers) {
    if (!regions.has(o.region)) regions.set(o.region, new Map());
    regions.get(o.region).set(o.site, o.rtt_ms ?? null);
  }
  const label = (region, sites) => `${region} (${[...sites].map(([site, ms]) => (ms === null
    ? t("near.unmeasured", { site }) : t("near.site", { site, ms: num(ms, 1) }))).join(", ")})`;
  const regionSel = h("select", { id: "f-regions", name: "regions" }, h("option", { value: "" }, t("near.any")),
    [...regions.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, sites]) => h("option", { value: r }, label(r, sites))));
  const maxRtt = h("input", { id: "f-max_rtt_ms", name: "max_rtt_ms", type: "text", inputmode: "decimal",
    placeholder: t("near.maxRttPh"), autocomplete: "off" });
  return {
    el: h("div", { class: "grid2", testid: "order-near" }, field(t("near.region"), regionSel, t("near.regionHelp")),
      field(t("near.maxRtt"), maxRtt, t("near.maxRttHelp"))),
    /** Add `regions` / `max_rtt_ms` to an order body (the RTT as typed: the API says what is wrong with it). */
    apply(out) {
      if (regionSel.value) out.regions = [regionSel.value];
      if (maxRtt.value.trim()) out.max_rtt_ms = maxRtt.value.trim();
      return out;
    },
    /** Could this offer's site serve the order? (for the "free now" hint only) */
    matches(o) {
      if (regionSel.value && o.region !== regionSel.value) return false;
      const bound = Number(maxRtt.value.trim());
      if (maxRtt.value.trim() && Number.isFinite(bound)) return o.rtt_ms !== null && o.rtt_ms !== undefined && Number(o.rtt_ms) <= bound;
      return true;
    },
  };
}
