"""GPU fragmentation as defined by FGD (Weng et al., USENIX ATC '23, §4; artifact ``frag.go``).

Typical pods ``M``: the distinct (cpu, num_gpu, gpu_milli, gpu_spec) of a workload, most
frequent first, until they cover 95% of the pods (CPU-only pods included), with frequencies
``p_m`` renormalised over ``M``. For node ``n`` and typical pod ``m``:

* ``m`` needs no GPU, may not use ``n``'s model, lacks CPU on ``n``, or finds fewer than
  ``num_gpu`` devices with at least ``gpu_milli`` free: every idle GPU milli of ``n`` is fragment;
* otherwise only the devices with less than ``gpu_milli`` free are fragment.

``F_n = Σ_m p_m · frag_m(n)``.

Multi-resource (``FragModel(..., resources=True)``, the ``fgd+md`` policy): a typical pod also
carries host memory (``mem_mib``) and NIC bandwidth (``nic_mbps``); a node whose free memory or
NIC cannot hold it counts every idle GPU milli as fragment for that pod, exactly as FGD does for
CPU. FGD and fgd+ measure as published (CPU only), whatever the pods carry. Here frequencies are kept as integer counts, ``F`` is carried as
``Σ_m count_m · frag_m(n)`` (an integer, so "no change" is exactly zero) and divided by the
covered count where a value in milli is wanted.

Evaluation is vectorised over node states through per-threshold statistics: for every distinct
``gpu_milli`` threshold ``u``, ``cnt_ge[u]`` (devices with at least ``u`` free) and ``sum_lt[u]``
(free milli on devices below ``u``); a hypothetical placement changes these by closed-form deltas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from suanli.scheduler.types import MILLI, FleetState

#: Kubernetes counts a zero CPU request as 100 milli when scoring ("non-zero requests")
NONZERO_CPU_MILLI = 100
#: factors tried to turn the typical pods' weights into integers (see FragModel._compile_tables)
WEIGHT_SCALES = (1, 2, 4, 8, 16, 1000, 2000, 4000, 8000, 16000)


@dataclass(frozen=True)
class TypicalPod:
    cpu_milli: int
    num_devices: int
    device_milli: int  # per device; 0 for CPU-only
    allowed_models: frozenset[str] | None  # model *names*; None = any
    count: float
    label: str = ""  # the raw spec string, only used to order specs of equal count
    #: host memory (MiB) and NIC bandwidth (Mbps) of the spec: the count-weighted median over the
    #: pods merged into it (see :meth:`TypicalPods.from_specs`); read only by a multi-resource model
    mem_mib: int = 0
    nic_mbps: int = 0


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
        extra: dict[tuple[int, int, int, frozenset[str] | None, str], list[tuple[int, int, float]]] = {}
        for s in specs:
            cpu = s.cpu_milli if s.cpu_milli > 0 else NONZERO_CPU_MILLI
            milli = s.device_milli if s.num_devices > 0 else 0
            key = (cpu, s.num_devices, milli, s.allowed_models, s.label)
            merged[key] = merged.get(key, 0.0) + s.count
            if s.mem_mib or s.nic_mbps:
                extra.setdefault(key, []).append((s.mem_mib, s.nic_mbps, s.count))
        total = sum(merged.values())
        order = sorted(merged.items(), key=lambda kv: (kv[1], kv[0][0], kv[0][2], kv[0][1], kv[0][4]), reverse=True)
        out: list[TypicalPod] = []
        cum = 0.0
        for (cpu, num, milli, models, label), cnt in order:
            if cum >= coverage * total:
                break
            got = extra.get((cpu, num, milli, models, label), [])
            out.append(TypicalPod(cpu, num, milli, models, cnt, label,
                                  _weighted_median([(m, c) for m, _, c in got]),
                                  _weighted_median([(n, c) for _, n, c in got])))
            cum += cnt
        return cls(tuple(out))


def _weighted_median(values: list[tuple[int, float]]) -> int:
    """The lower count-weighted median of ``(value, count)`` pairs (0 for none)."""
    if not values:
        return 0
    values.sort()
    half = sum(c for _, c in values) / 2.0
    cum = 0.0
    for v, c in values:
        cum += c
        if cum >= half:
            return int(v)
    return int(values[-1][0])


class FragModel:
    """Typical pods compiled against one fleet's model codes, with vectorised evaluation.

    ``resources``: also test each typical pod's host memory and NIC bandwidth against the node's
    free memory and NIC (see the module docstring); off, the model is FGD's."""

    def __init__(self, typical: TypicalPods, state: FleetState, *, resources: bool = False) -> None:
        pods = typical.pods
        self.covered = typical.covered
        gpu = [p for p in pods if p.num_devices > 0]
        self.w_cpu = float(sum(p.count for p in pods if p.num_devices == 0))
        self.thresholds = np.array(sorted({p.device_milli for p in gpu}), dtype=np.int32)
        self.ui = np.array([int(np.searchsorted(self.thresholds, p.device_milli)) for p in gpu], dtype=np.int64)
        self.num = np.array([p.num_devices for p in gpu], dtype=np.int64)
        self.cpu = np.array([p.cpu_milli for p in gpu], dtype=np.int64)
        self.mem = np.array([p.mem_mib if resources else 0 for p in gpu], dtype=np.int64)
        nic_on = resources and state.nic_free_mbps is not None
        self.nic = np.array([p.nic_mbps if nic_on else 0 for p in gpu], dtype=np.int64)
        #: which extra dimensions the model tests (a dimension no typical pod asks for is skipped)
        self.uses_mem = bool(self.mem.any())
        self.uses_nic = bool(self.nic.any())
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
        self._compile_tables(state)

    # ------------------------------------------------------------------ exact weights, tables
    def _compile_tables(self, state: FleetState) -> None:
        """Exact weights and the tables of the fast evaluation (:meth:`frag_tables`).

        Weights: fragmentation is computed in units of ``1/scale`` with integer weights
        ``round(scale · w)``, so every term is an integer below 2**52: the float result is exact,
        the same whatever the order of the sums or the batch of nodes it is computed in, and two
        nodes whose fragmentation is mathematically equal tie exactly. ``scale`` is the first of
        :data:`WEIGHT_SCALES` that makes every weight an integer (1 for FGD's counts, 2000 for
        fgd+'s demand weights ``count·(1 + 0.5·n·milli/1000)``), so those weights are used as
        they are; other weights (e.g. scaled by a fleet-dependent factor) are quantised to the
        largest power of two that keeps the sums exact (a change below 1e-11 of the total weight).

        Tables: with ``sge_g`` the free milli on devices that can hold a device of typical pod
        ``g`` and ``W = w_cpu + Σ_g w_g``, ``F = W·idle − Σ_g w_g·ok_g·sge_g`` (the quantity of
        :meth:`frag`: a pod that fits wastes ``idle − sge_g``, one that does not ``idle``).
        ``cnt_g`` and ``sge_g`` are sums of per-device values looked up in ``tab[f]`` for
        ``f`` = 0..1000 free milli; a share of ``s`` changes one device's entries by
        ``share_table(s)[f]``.
        """
        g = self.w.size
        weights = np.append(self.w, self.w_cpu)
        bound = float(np.abs(weights).sum()) * MILLI * max(int(state.dev_model.shape[1]), 1) * 4
        self.scale = 0.0
        for k in WEIGHT_SCALES:
            scaled = weights * k
            if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6) and bound * k < 2.0**52:
                self.scale = float(k)
                break
        else:
            self.scale = 2.0 ** math.floor(math.log2(2.0**52 / max(bound, 1.0)))
        self.wi = np.round(self.w * self.scale)
        self.wi_cpu = float(np.round(self.w_cpu * self.scale))
        self.total_wi = float(self.wi_cpu + self.wi.sum())
        milli = self.thresholds[self.ui] if g else np.zeros(0, np.int32)
        f = np.arange(MILLI + 1, dtype=np.int64)
        ge = f[:, None] >= milli[None, :].astype(np.int64)
        #: tab[f] = (device fits pod g: 0/1 for each g, its free milli if it fits else 0 for each g)
        self.tab = np.concatenate([ge, np.where(ge, f[:, None], 0)], axis=1).astype(np.float64)
        #: need[n, g]: devices pod g needs on node n (unreachable when n's model is not allowed)
        self.need = np.where(self.access, self.num[None, :], np.inf).astype(np.float64)
        self._share_tabs: dict[int, np.ndarray] = {}

    @property
    def unit(self) -> float:
        """Fragmentation from the ``*_scaled`` methods is in weighted milli times this."""
        return self.scale

    def _weighted(self, term: np.ndarray) -> np.ndarray:
        """``term @ w`` over the last axis, with the integer weights (exact)."""
        out: np.ndarray = (term if term.dtype == np.float64 else term.astype(np.float64)) @ self.wi
        return out

    def share_table(self, s: int) -> np.ndarray:
        """``tab[f − s] − tab[f]`` for f >= s (0 below): the change of a device's entries when a
        share of ``s`` milli is taken from it."""
        t = self._share_tabs.get(s)
        if t is None:
            t = np.zeros_like(self.tab)
            t[s:] = self.tab[: MILLI + 1 - s] - self.tab[s:]
            self._share_tabs[s] = t
        return t

    def table_stats(self, free: np.ndarray) -> np.ndarray:
        """(…, 2G): per typical GPU pod, devices that fit it, then free milli on those devices."""
        out: np.ndarray = self.tab[free].sum(axis=-2)
        return out

    def frag_tables(
        self, st: np.ndarray, idle: np.ndarray, cpu: np.ndarray, need: np.ndarray,
        mem: np.ndarray | None = None, nic: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`frag_scaled` from table stats ``st`` (…, 2G), broadcasting ``idle``, ``cpu``
        (…) and ``need`` (…, G) against them: ``W·idle − Σ_g w_g·ok_g·sge_g``; ``mem``/``nic``
        (…, free memory / NIC) are tested where the model uses them."""
        g = self.w.size
        base = self.total_wi * idle
        if g == 0:
            out0: np.ndarray = np.asarray(base, dtype=np.float64)
            return out0
        ok = st[..., :g] >= need
        ok &= cpu[..., None] >= self.cpu
        if mem is not None and self.uses_mem:
            ok &= mem[..., None] >= self.mem
        if nic is not None and self.uses_nic:
            ok &= nic[..., None] >= self.nic
        out: np.ndarray = base - self._weighted(np.where(ok, st[..., g:], 0.0))
        return out

    def stats(self, free: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-threshold statistics of device rows ``free`` (S, D): cnt_ge, sum_lt (S, U), idle (S,)."""
        f = free.astype(np.int64)
        ge = f[:, :, None] >= self.thresholds[None, None, :]
        cnt_ge = ge.sum(axis=1)
        sum_lt = np.where(ge, 0, f[:, :, None]).sum(axis=1)
        return cnt_ge, sum_lt, f.sum(axis=1)

    def frag_scaled(
        self, cnt_ge: np.ndarray, sum_lt: np.ndarray, idle: np.ndarray, cpu: np.ndarray, access: np.ndarray,
        mem: np.ndarray | None = None, nic: np.ndarray | None = None,
    ) -> np.ndarray:
        """Weighted fragment ``Σ count_m · frag_m`` of each state (S,), times :attr:`unit`."""
        idle_f = idle.astype(np.float64)
        if self.w.size == 0:
            out: np.ndarray = idle_f * self.wi_cpu
            return out
        ok = access & (cnt_ge[:, self.ui] >= self.num) & (cpu[:, None] >= self.cpu)
        if mem is not None and self.uses_mem:
            ok &= mem[:, None] >= self.mem
        if nic is not None and self.uses_nic:
            ok &= nic[:, None] >= self.nic
        term = np.where(ok, sum_lt[:, self.ui], idle[:, None])
        total: np.ndarray = idle_f * self.wi_cpu + self._weighted(term)
        return total

    def frag(
        self, cnt_ge: np.ndarray, sum_lt: np.ndarray, idle: np.ndarray, cpu: np.ndarray, access: np.ndarray,
        mem: np.ndarray | None = None, nic: np.ndarray | None = None,
    ) -> np.ndarray:
        """Weighted fragment ``Σ count_m · frag_m`` of each state (S,) (float64, exact integers
        for integer counts)."""
        out = self.frag_scaled(cnt_ge, sum_lt, idle, cpu, access, mem, nic)
        return out / self.unit if self.unit != 1.0 else out

    def node_frag(self, state: FleetState, rows: np.ndarray) -> np.ndarray:
        cnt, slt, idle = self.stats(state.dev_free_milli[rows])
        mem = state.mem_free_mib[rows] if self.uses_mem else None
        nic = state.nic_free_mbps[rows] if self.uses_nic and state.nic_free_mbps is not None else None
        return self.frag(cnt, slt, idle, state.cpu_free_milli[rows], self.access[rows], mem, nic)
