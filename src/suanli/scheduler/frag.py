"""GPU fragmentation as defined by FGD (Weng et al., USENIX ATC '23, §4; artifact ``frag.go``).

Typical pods ``M``: the distinct (cpu, num_gpu, gpu_milli, gpu_spec) of a workload, most
frequent first, until they cover 95% of the pods (CPU-only pods included), with frequencies
``p_m`` renormalised over ``M``. For node ``n`` and typical pod ``m``:

* ``m`` needs no GPU, may not use ``n``'s model, lacks CPU on ``n``, or finds fewer than
  ``num_gpu`` devices with at least ``gpu_milli`` free: every idle GPU milli of ``n`` is fragment;
* otherwise only the devices with less than ``gpu_milli`` free are fragment.

``F_n = Σ_m p_m · frag_m(n)``. Here frequencies are kept as integer counts, ``F`` is carried as
``Σ_m count_m · frag_m(n)`` (an integer, so "no change" is exactly zero) and divided by the
covered count where a value in milli is wanted.

Evaluation is vectorised over node states through per-threshold statistics: for every distinct
``gpu_milli`` threshold ``u``, ``cnt_ge[u]`` (devices with at least ``u`` free) and ``sum_lt[u]``
(free milli on devices below ``u``); a hypothetical placement changes these by closed-form deltas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from suanli.scheduler.types import FleetState

#: Kubernetes counts a zero CPU request as 100 milli when scoring ("non-zero requests")
NONZERO_CPU_MILLI = 100


@dataclass(frozen=True)
class TypicalPod:
    cpu_milli: int
    num_devices: int
    device_milli: int  # per device; 0 for CPU-only
    allowed_models: frozenset[str] | None  # model *names*; None = any
    count: float
    label: str = ""  # the raw spec string, only used to order specs of equal count


@dataclass(frozen=True)
class TypicalPods:
    """The typical-pod set M with its weights (counts)."""

    pods: tuple[TypicalPod, ...]

    @property
    def covered(self) -> float:
        return float(sum(p.count for p in self.pods))

    @classmethod
    def from_specs(cls, specs: Iterable[TypicalPod], coverage: float = 0.95) -> TypicalPods:
        """Merge equal specs, order by count (ties: larger cpu, milli, num, label first, as the
        artifact's reverse sort) and keep the most frequent until ``coverage`` of the total."""
        merged: dict[tuple[int, int, int, frozenset[str] | None, str], float] = {}
        for s in specs:
            cpu = s.cpu_milli if s.cpu_milli > 0 else NONZERO_CPU_MILLI
            milli = s.device_milli if s.num_devices > 0 else 0
            key = (cpu, s.num_devices, milli, s.allowed_models, s.label)
            merged[key] = merged.get(key, 0.0) + s.count
        total = sum(merged.values())
        order = sorted(merged.items(), key=lambda kv: (kv[1], kv[0][0], kv[0][2], kv[0][1], kv[0][4]), reverse=True)
        out: list[TypicalPod] = []
        cum = 0.0
        for (cpu, num, milli, models, label), cnt in order:
            if cum >= coverage * total:
                break
            out.append(TypicalPod(cpu, num, milli, models, cnt, label))
            cum += cnt
        return cls(tuple(out))


class FragModel:
    """Typical pods compiled against one fleet's model codes, with vectorised evaluation."""

    def __init__(self, typical: TypicalPods, state: FleetState) -> None:
        pods = typical.pods
        self.covered = typical.covered
        gpu = [p for p in pods if p.num_devices > 0]
        self.w_cpu = float(sum(p.count for p in pods if p.num_devices == 0))
        self.thresholds = np.array(sorted({p.device_milli for p in gpu}), dtype=np.int32)
        self.ui = np.array([int(np.searchsorted(self.thresholds, p.device_milli)) for p in gpu], dtype=np.int64)
        self.num = np.array([p.num_devices for p in gpu], dtype=np.int64)
        self.cpu = np.array([p.cpu_milli for p in gpu], dtype=np.int64)
        self.w = np.array([p.count for p in gpu], dtype=np.float64)
        # access[n, g]: node n's model is allowed for typical GPU pod g (node model = first slot)
        node_model = np.where(state.n_devices > 0, state.dev_model[:, 0], -1)
        acc = np.zeros((state.num_nodes, len(gpu)), bool)
        for g, p in enumerate(gpu):
            if p.allowed_models is None:
                acc[:, g] = True
            else:
                codes = [i for i, name in enumerate(state.model_names) if name in p.allowed_models]
                acc[:, g] = np.isin(node_model, codes) & (node_model >= 0)
        self.access = acc

    def stats(self, free: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-threshold statistics of device rows ``free`` (S, D): cnt_ge, sum_lt (S, U), idle (S,)."""
        f = free.astype(np.int64)
        ge = f[:, :, None] >= self.thresholds[None, None, :]
        cnt_ge = ge.sum(axis=1)
        sum_lt = np.where(ge, 0, f[:, :, None]).sum(axis=1)
        return cnt_ge, sum_lt, f.sum(axis=1)

    def frag(
        self, cnt_ge: np.ndarray, sum_lt: np.ndarray, idle: np.ndarray, cpu: np.ndarray, access: np.ndarray
    ) -> np.ndarray:
        """Weighted fragment ``Σ count_m · frag_m`` of each state (S,) (float64, exact integers)."""
        idle_f = idle.astype(np.float64)
        if self.w.size == 0:
            return idle_f * self.w_cpu
        ok = access & (cnt_ge[:, self.ui] >= self.num) & (cpu[:, None] >= self.cpu)
        term = np.where(ok, sum_lt[:, self.ui], idle[:, None]).astype(np.float64)
        return idle_f * self.w_cpu + term @ self.w

    def node_frag(self, state: FleetState, rows: np.ndarray) -> np.ndarray:
        cnt, slt, idle = self.stats(state.dev_free_milli[rows])
        return self.frag(cnt, slt, idle, state.cpu_free_milli[rows], self.access[rows])
