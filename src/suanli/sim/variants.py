"""Workload variants nobody tuned for: pod lists derived from a base list (openb ``default``)
with a seed, to check a policy beyond the published workloads.

Each variant keeps the base list's pods and arrival protocol and changes one thing:

* ``specF`` (F = 15, 25, 40, 50): F % of the GPU pods (drawn with the seed) get a model
  restriction drawn from ``spec_pool`` — the restrictions of the published gpuspec lists and
  their frequencies, as the FGD authors derived gpuspec10/20/33 from ``default``.
* ``modelF``: F % of the GPU pods are restricted to *one* model drawn in proportion to the
  fleet's devices of that model (a pattern the gpuspec lists do not have: mostly G2).
* ``evenF``: F % restricted to one model drawn uniformly among the models with at least 2 % of
  the fleet's devices (the small models get far more demand than their share).
* ``shareS_specF``: S % of the whole single-device pods become shares, with sizes drawn from
  the base list's share sizes; then F % of the GPU pods restricted as in ``specF``.

A restriction is only drawn among the model sets that can host the pod somewhere (a node of an
allowed model with enough devices and CPU), so a variant adds no pod that fails everywhere.
Pure: takes tables, returns tables; the CLI writes them as CSV.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from suanli.errors import ValidationError
from suanli.sim.traces import NodeTable, PodTable

#: the variants ``suanli sim variants`` and ``suanli sim compare --variants`` build by default
DEFAULT_VARIANTS = ("spec15", "spec25", "spec40", "spec50", "model30", "even20", "share40_spec20")

_NAME = re.compile(r"^(?:share(?P<share>\d{1,2})_)?(?P<kind>spec|model|even)(?P<frac>\d{1,3})$")


@dataclass(frozen=True)
class VariantSpec:
    name: str
    kind: str  # spec | model | even
    fraction: float  # of GPU pods restricted
    share_fraction: float  # of whole single-device pods turned into shares


def parse_variant(name: str) -> VariantSpec:
    """``spec25``, ``model30``, ``even20`` or ``share40_spec20`` (percentages 0–100)."""
    m = _NAME.match(name.strip())
    frac = int(m.group("frac")) if m else -1
    share = int(m.group("share") or 0) if m else 0
    if m is None or not 0 <= frac <= 100:
        raise ValidationError(
            f"variant {name!r} is not understood; allowed: specF, modelF, evenF or shareS_specF with F and S percentages "
            f"0-100 (e.g. {', '.join(DEFAULT_VARIANTS)})",
            field="variant",
        )
    return VariantSpec(name.strip(), m.group("kind"), frac / 100.0, share / 100.0)


def spec_pool(lists: Sequence[PodTable]) -> list[tuple[str, float]]:
    """Restrictions of GPU pods in ``lists`` with their frequencies (most frequent first)."""
    counts: dict[str, float] = {}
    for t in lists:
        for n, s in zip(t.num_gpu.tolist(), t.gpu_spec, strict=True):
            if n > 0 and s:
                key = "|".join(sorted(set(x.strip() for x in s.split("|") if x.strip())))
                counts[key] = counts.get(key, 0.0) + 1.0
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _node_shapes(nodes: NodeTable, models: frozenset[str]) -> list[tuple[int, int]]:
    """Distinct (devices, CPU milli) of the nodes of ``models``."""
    return sorted({(int(g), int(c)) for m, g, c in zip(nodes.model, nodes.gpus.tolist(), nodes.cpu_milli.tolist(), strict=True)
                   if m in models})


def make_variant(base: PodTable, nodes: NodeTable, name: str, seed: int, pool: Sequence[tuple[str, float]]) -> PodTable:
    """The variant ``name`` of ``base`` for ``seed`` (see the module docstring); its path is
    ``variant_<name>_s<seed>.csv`` so that its workload name says what it is."""
    v = parse_variant(name)
    rng = np.random.default_rng([seed, 2027])
    cpu = base.cpu_milli.copy()
    num = base.num_gpu.copy()
    milli = base.gpu_milli.copy()
    spec = ["" for _ in base.gpu_spec]
    if v.share_fraction > 0:
        shares = milli[(num == 1) & (milli < 1000)]
        whole = np.flatnonzero((num == 1) & (milli == 1000))
        if shares.size and whole.size:
            pick = rng.choice(whole, size=round(v.share_fraction * whole.size), replace=False)
            milli[pick] = rng.choice(shares, size=pick.size)
    gpu_pods = np.flatnonzero(num > 0)
    chosen = rng.choice(gpu_pods, size=round(v.fraction * gpu_pods.size), replace=False) if gpu_pods.size else gpu_pods
    if v.kind == "spec":
        if not pool:
            raise ValidationError("variant spec*: no model restrictions to draw from (no gpuspec list found)", field="variant")
        options = [frozenset(s.split("|")) for s, _ in pool]
        weights = np.array([w for _, w in pool], np.float64)
    else:
        totals: dict[str, int] = {}
        for m, g in zip(nodes.model, nodes.gpus.tolist(), strict=True):
            totals[m] = totals.get(m, 0) + int(g)
        all_dev = sum(totals.values()) or 1
        names = sorted(totals)
        if v.kind == "even":
            names = [m for m in names if totals[m] >= 0.02 * all_dev]
        options = [frozenset([m]) for m in names]
        weights = np.array([totals[m] if v.kind == "model" else 1.0 for m in names], np.float64)
    shapes = [_node_shapes(nodes, o) for o in options]
    fits: dict[tuple[int, int], np.ndarray] = {}
    for i in sorted(chosen.tolist()):
        key = (int(num[i]), int(cpu[i]))
        ok = fits.get(key)
        if ok is None:
            ok = fits[key] = np.array([any(g >= key[0] and c >= key[1] for g, c in sh) for sh in shapes])
        if not ok.any():
            continue
        w = np.where(ok, weights, 0.0)
        spec[i] = "|".join(sorted(options[int(rng.choice(len(options), p=w / w.sum()))]))
    return replace(
        base,
        path=f"variant_{v.name}_s{seed}.csv",
        num_gpu=num,
        gpu_milli=milli,
        cpu_milli=cpu,
        gpu_spec=spec,
    )


def pods_csv(t: PodTable) -> str:
    """The table as a pod-list CSV that :func:`suanli.sim.traces.load_pods` reads back."""
    lines = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec"]
    for row in zip(t.names, t.cpu_milli.tolist(), t.memory_mib.tolist(), t.num_gpu.tolist(), t.gpu_milli.tolist(), t.gpu_spec, strict=True):
        lines.append(",".join(str(x) for x in row))
    return "\n".join(lines) + "\n"
