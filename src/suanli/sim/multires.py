"""Multi-resource packing benchmark (issue 15): the FGD protocol with pods' memory enforced.

The FGD static protocol (:mod:`suanli.sim.fgd`) ignores memory: every node has unbounded memory.
Here each pod's ``memory_mib`` must fit in its node's free memory (the nodes' ``memory_mib`` of
the openb node list), as CPU does, for every policy alike; the arrival order, inflation to 1.3 ×
the GPU capacity, node priority and seeds are the protocol's. Per policy and workload: GPU
allocation (% of GPU milli) and CPU allocation (% of the fleet's CPU, CPU-only pods included) at
100 % and 130 % of the GPU capacity arrived, memory allocation at 130 %, pods turned away, mean
over the seeds; and the per-bin mean curves (bins of arrived GPU %, as the protocol's).

Pure: takes :class:`~suanli.sim.fgd.FgdRun` objects (``respect_memory=True``), returns plain data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suanli.sim.fgd import FgdRun

#: the policies compared by default: FGD, fgd+ and the multi-resource fgd+md
POLICIES = ("fgd", "fgd+", "fgd+md")


@dataclass(frozen=True)
class MultiResResult:
    workload: str
    policy: str
    seeds: int
    gpu_curve: np.ndarray  # (131,) mean GPU allocated % per arrived bin
    cpu_curve: np.ndarray  # (131,) mean CPU allocated %
    mem_curve: np.ndarray  # (131,) mean memory allocated %
    failed: float  # mean pods turned away per seed
    seconds: float  # mean wall seconds per run

    @property
    def gpu_100(self) -> float:
        return float(self.gpu_curve[100])

    @property
    def gpu_130(self) -> float:
        return float(self.gpu_curve[130])

    @property
    def cpu_100(self) -> float:
        return float(self.cpu_curve[100])

    @property
    def cpu_130(self) -> float:
        return float(self.cpu_curve[130])

    @property
    def mem_130(self) -> float:
        return float(self.mem_curve[130])

    def as_dict(self) -> dict[str, object]:
        return {"workload": self.workload, "policy": self.policy, "seeds": self.seeds,
                "gpu_alloc_100": round(self.gpu_100, 3), "gpu_alloc_130": round(self.gpu_130, 3),
                "cpu_alloc_100": round(self.cpu_100, 3), "cpu_alloc_130": round(self.cpu_130, 3),
                "mem_alloc_130": round(self.mem_130, 3), "failed_pods": round(self.failed, 1),
                "seconds_per_run": round(self.seconds, 3)}


def _mean(curves: list[np.ndarray]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out: np.ndarray = np.nanmean(np.array(curves), axis=0)
    return out


def summarise(runs: Sequence[FgdRun]) -> list[MultiResResult]:
    """One result per (workload, policy) of ``runs``, in first-seen order."""
    by: dict[tuple[str, str], list[FgdRun]] = {}
    for r in runs:
        by.setdefault((r.workload, r.policy), []).append(r)
    out = []
    for (w, p), rs in by.items():
        out.append(MultiResResult(
            w, p, len(rs), _mean([r.discrete() for r in rs]), _mean([r.cpu_discrete() for r in rs]),
            _mean([r.mem_discrete() for r in rs]), float(np.mean([r.failed for r in rs])),
            float(np.mean([r.seconds for r in rs]))))
    return out


def best_by_workload(results: Sequence[MultiResResult]) -> dict[str, str]:
    """Per workload, the policy with the highest GPU allocation at 130 % (then at 100 %)."""
    best: dict[str, MultiResResult] = {}
    for r in results:
        b = best.get(r.workload)
        if b is None or (r.gpu_130, r.gpu_100) > (b.gpu_130, b.gpu_100):
            best[r.workload] = r
    return {w: r.policy for w, r in best.items()}


@dataclass(frozen=True)
class BinDiff:
    """``policy − other`` over the arrived bins 0..130 of one workload: GPU and CPU allocation."""

    workload: str
    policy: str
    other: str
    gpu_worst: float  # lowest difference (pp) and its bin
    gpu_worst_bin: int
    gpu_best: float  # highest difference (pp) and its bin
    gpu_best_bin: int
    cpu_at_130: float

    def as_dict(self) -> dict[str, object]:
        return {"workload": self.workload, "policy": self.policy, "other": self.other,
                "gpu_worst_pp": round(self.gpu_worst, 3), "gpu_worst_bin": self.gpu_worst_bin,
                "gpu_best_pp": round(self.gpu_best, 3), "gpu_best_bin": self.gpu_best_bin,
                "cpu_130_pp": round(self.cpu_at_130, 3)}


def bin_diffs(results: Sequence[MultiResResult], policy: str) -> list[BinDiff]:
    """For every workload, ``policy`` against each other policy run on it, bin by bin."""
    by = {(r.workload, r.policy): r for r in results}
    out = []
    for r in results:
        if r.policy == policy:
            continue
        mine = by.get((r.workload, policy))
        if mine is None:
            continue
        d = np.round(mine.gpu_curve - r.gpu_curve, 6)
        if np.isnan(d).all():
            continue
        lo, hi = int(np.nanargmin(d)), int(np.nanargmax(d))
        out.append(BinDiff(r.workload, policy, r.policy, float(d[lo]), lo, float(d[hi]), hi,
                           float(mine.cpu_130 - r.cpu_130)))
    return out
