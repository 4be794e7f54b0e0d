"""Per-bin comparison of a policy with a reference over the FGD protocol's arrival bins.

For each workload: the mean allocated % over seeds at every integer arrival bin 0..130 of the
policy and of each reference (FGD's published mean from ``analysis_allo_discrete.csv``, and a
policy of ours run on the same seeds), then the *worst bin*: ``min_b (policy_b − reference_b)``
and the bin where it happens, with the 100 % and 130 % values. A policy "keeps up at every bin"
when the worst difference is ≥ −``tolerance`` (0.1 pp for the published mean).

Pure: takes :class:`suanli.sim.fgd.FgdRun` objects and published curves, returns plain data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanli.sim.fgd import BINS, FgdRun
from suanli.sim.published import Published

TOLERANCE_PP = 0.1


@dataclass(frozen=True)
class BinGap:
    """``policy − reference`` over the bins: the worst (lowest) difference and where."""

    reference: str
    worst: float
    bin: int
    ref_100: float
    ref_130: float
    bins_below: int  # bins where the policy is more than the tolerance below


@dataclass(frozen=True)
class WorkloadComparison:
    workload: str
    policy: str
    seeds: int
    curve: np.ndarray  # (131,) mean allocated % per bin
    alloc_100: float
    alloc_130: float
    gaps: tuple[BinGap, ...]

    def ok(self, tolerance: float = TOLERANCE_PP) -> bool:
        return all(g.worst >= -tolerance - 1e-9 for g in self.gaps)


def mean_curve(runs: Sequence[FgdRun]) -> np.ndarray:
    """Mean over the runs per bin (NaN where no run has a value: bins beyond the last arrival)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out: np.ndarray = np.nanmean(np.array([r.discrete() for r in runs]), axis=0)
    return out


def bin_gap(curve: np.ndarray, ref: np.ndarray, name: str, tolerance: float = TOLERANCE_PP) -> BinGap:
    d = np.round(curve - ref, 6)
    ok = ~np.isnan(d)
    if not ok.any():
        return BinGap(name, float("nan"), -1, float(ref[100]), float(ref[130]), 0)
    i = int(np.nanargmin(d))
    return BinGap(name, float(d[i]), int(BINS[i]), float(ref[100]), float(ref[130]), int((d[ok] < -tolerance - 1e-9).sum()))


def compare(
    runs: Sequence[FgdRun],
    policy: str,
    references: Sequence[str],
    published: Published | None,
    tolerance: float = TOLERANCE_PP,
) -> list[WorkloadComparison]:
    """For each workload of ``runs`` (in first-seen order): ``policy`` against the published FGD
    mean (when the workload has one) and against each policy of ``references`` run here."""
    by: dict[tuple[str, str], list[FgdRun]] = {}
    order: list[str] = []
    for r in runs:
        if r.workload not in order:
            order.append(r.workload)
        by.setdefault((r.workload, r.policy), []).append(r)
    out = []
    for w in order:
        mine = by.get((w, policy))
        if not mine:
            continue
        curve = mean_curve(mine)
        gaps = []
        pub = published.mean(w, "fgd") if published is not None else None
        if pub is not None:
            gaps.append(bin_gap(curve, pub, "fgd (published)", tolerance))
        for ref in references:
            theirs = by.get((w, ref))
            if theirs and ref != policy:
                gaps.append(bin_gap(curve, mean_curve(theirs), f"{ref} (ours)", tolerance))
        out.append(WorkloadComparison(w, policy, len(mine), curve, float(curve[100]), float(curve[130]), tuple(gaps)))
    return out
