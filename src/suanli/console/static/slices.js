// Enforced slices on the tenant's order form (docs/slices.md): the quote box says how a would-be slice is
// held to its share (a MIG profile, a vNPU template, MPS or HAMi limits, or nothing) before it is ordered,
// and a checkbox accepts a slice that nothing can enforce. The lease page says how its slice is enforced.
import { register, t } from "./i18n.js";
import { h } from "./ui.js";

register({
  en: {
    "slices.enforcement": "Enforced by",
    "slices.none": "nothing: the job is not held to its share (allowed because you accepted an unenforced slice)",
    "slices.mig": "MIG instance {profile}: a hardware partition of the GPU (the slice is rounded up to it and billed as it)",
    "slices.vnpu": "Ascend vNPU template {profile} (the slice is rounded up to it and billed as it)",
    "slices.mps": "MPS limits: compute share and device memory held by the node's MPS server",
    "slices.hami": "HAMi-core limits: device memory capped, compute throttled to the share",
    "slices.allow": "Accept an unenforced slice",
    "slices.allowHelp": "where no model allowed can enforce the slice (MIG, vNPU, MPS, HAMi), order it anyway; nothing will hold the job to its share",
  },
  "zh-CN": {
    "slices.enforcement": "隔离方式",
    "slices.none": "无：作业不受份额限制（因已接受不隔离的切片而允许）",
    "slices.mig": "MIG 实例 {profile}：GPU 的硬件分区（切片向上取整到该规格并按其计费）",
    "slices.vnpu": "昇腾 vNPU 模板 {profile}（切片向上取整到该模板并按其计费）",
    "slices.mps": "MPS 限制：算力份额和显存由节点的 MPS 服务限制",
    "slices.hami": "HAMi-core 限制：显存封顶，算力按份额限流",
    "slices.allow": "接受不隔离的切片",
    "slices.allowHelp": "若允许的型号都无法隔离该切片（MIG、vNPU、MPS、HAMi），仍然下单；作业将不受份额限制",
  },
});

/** "mig:1g.10gb" -> the sentence that explains it. */
export function enforcementText(label) {
  const [mech, profile] = String(label).split(":");
  if (["mig", "vnpu", "mps", "hami"].includes(mech)) return t(`slices.${mech}`, { profile: profile || "" });
  return t("slices.none");
}

/** The quote box's line for a would-be slice, as a list to spread (empty for other forms). */
export function enforcementLine(q) {
  if (!q || !q.enforcement) return [];
  return [h("p", { testid: "quote-enforcement", "data-enforcement": q.enforcement },
    h("strong", {}, `${t("slices.enforcement")}: `), h("span", { class: "mono" }, q.enforcement), ` — ${enforcementText(q.enforcement)}`)];
}

/** The allow_unenforced checkbox of the order form: {el, apply(out)}; el is shown for slices only. */
export function allowUnenforcedField() {
  const box = h("input", { id: "f-allow_unenforced", name: "allow_unenforced", type: "checkbox" });
  return {
    el: h("div", { class: "field", "data-field": "allow_unenforced" },
      h("label", { for: box.id }, box, ` ${t("slices.allow")}`), h("div", { class: "help" }, t("slices.allowHelp"))),
    apply(out) {
      if (box.checked) out.allow_unenforced = true;
      return out;
    },
  };
}
