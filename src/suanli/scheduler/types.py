"""Fleet state, requests and decisions of the placement engine.

Contract
--------
* :class:`FleetState` holds one row per node as numpy arrays; ``D`` is the largest number of
  devices on a node, shorter nodes are padded with model ``-1`` and free milli ``0``.
  Mutate it only through :meth:`FleetState.apply` / :meth:`FleetState.release` (or call
  :meth:`FleetState.touch` after changing arrays by hand) so that derived caches stay valid.
* :class:`PlacementRequest` describes one order; :class:`Placement` is a decision (which
  devices and how much of each) and :class:`NoFit` says why nothing fits. Neither is applied
  automatically: the caller decides and calls :meth:`FleetState.apply`.
* Pure: numpy + stdlib + :mod:`suanli.errors`; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from suanli.errors import ConflictError, ValidationError

MILLI = 1000
#: columns of :attr:`FleetState.class_count`: 0 = share of a GPU, k = k whole devices (1..8), 9 = more
N_CLASSES = 10


def device_class(num_devices: int, milli: int) -> int:
    """GPU class of a (per-node) allocation, as in GpuClustering: share / k-GPU."""
    if num_devices <= 0:
        return -1
    if num_devices == 1 and milli < MILLI:
        return 0
    return min(num_devices, N_CLASSES - 1)


@dataclass
class FleetState:
    """Mutable free capacity of a fleet (one row per node)."""

    node_ids: list[str]
    cpu_total_milli: np.ndarray
    cpu_free_milli: np.ndarray
    mem_free_mib: np.ndarray
    dev_model: np.ndarray
    dev_free_milli: np.ndarray
    model_names: list[str]
    fabric: np.ndarray
    site: np.ndarray
    dev_cost: np.ndarray | None = None
    #: pods per node and GPU class (see :func:`device_class`), maintained by apply/release
    class_count: np.ndarray = field(default_factory=lambda: np.zeros((0, N_CLASSES), np.int32))
    #: bumped for every node whose free capacity changed; policies key their caches on it
    node_version: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: free NIC bandwidth (Mbps) and free local disk (GiB) per node; None = not constrained
    #: (requests' ``nic_mbps``/``disk_gib`` are then not checked and not counted)
    nic_free_mbps: np.ndarray | None = None
    disk_free_gib: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.node_ids)
        self.cpu_total_milli = np.asarray(self.cpu_total_milli, dtype=np.int64)
        self.cpu_free_milli = np.asarray(self.cpu_free_milli, dtype=np.int64).copy()
        self.mem_free_mib = np.asarray(self.mem_free_mib, dtype=np.int64).copy()
        self.dev_model = np.asarray(self.dev_model, dtype=np.int16)
        self.dev_free_milli = np.asarray(self.dev_free_milli, dtype=np.int32).copy()
        self.fabric = np.asarray(self.fabric, dtype=np.int32)
        self.site = np.asarray(self.site, dtype=np.int32)
        if self.dev_model.ndim != 2:
            self.dev_model = self.dev_model.reshape(n, -1)
        if self.dev_free_milli.ndim != 2:
            self.dev_free_milli = self.dev_free_milli.reshape(n, -1)
        for name in ("cpu_total_milli", "cpu_free_milli", "mem_free_mib", "fabric", "site"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise ValidationError(f"FleetState.{name} must have shape ({n},), got {arr.shape}", field=name)
        for name in ("dev_model", "dev_free_milli"):
            arr = getattr(self, name)
            if arr.shape[0] != n:
                raise ValidationError(f"FleetState.{name} must have {n} rows, got {arr.shape[0]}", field=name)
        if self.dev_free_milli.shape != self.dev_model.shape:
            raise ValidationError("FleetState.dev_free_milli and dev_model must have the same shape", field="dev_free_milli")
        for name in ("nic_free_mbps", "disk_free_gib"):
            arr = getattr(self, name)
            if arr is None:
                continue
            arr = np.asarray(arr, dtype=np.int64).copy()
            if arr.shape != (n,):
                raise ValidationError(f"FleetState.{name} must have shape ({n},), got {arr.shape}", field=name)
            if np.any(arr < 0):
                raise ValidationError(f"FleetState.{name} must be >= 0", field=name)
            setattr(self, name, arr)
        if self.dev_cost is not None:
            self.dev_cost = np.asarray(self.dev_cost, dtype=np.float64)
            if self.dev_cost.shape != self.dev_model.shape:
                raise ValidationError("FleetState.dev_cost must have the shape of dev_model", field="dev_cost")
        present = self.dev_model >= 0
        if np.any(self.dev_free_milli[~present] != 0):
            raise ValidationError("padding device slots (model -1) must have 0 free milli", field="dev_free_milli")
        if np.any((self.dev_free_milli < 0) | (self.dev_free_milli > MILLI)):
            raise ValidationError("dev_free_milli must lie in 0..1000", field="dev_free_milli")
        if np.any(self.cpu_free_milli < 0) or np.any(self.cpu_free_milli > self.cpu_total_milli):
            raise ValidationError("cpu_free_milli must lie in 0..cpu_total_milli", field="cpu_free_milli")
        if self.dev_model.size and int(self.dev_model.max()) >= len(self.model_names):
            raise ValidationError("dev_model holds a code without a name in model_names", field="dev_model")
        if self.class_count.shape != (n, N_CLASSES):
            self.class_count = np.zeros((n, N_CLASSES), np.int32)
        if self.node_version.shape != (n,):
            self.node_version = np.zeros(n, np.int64)
        self.present: np.ndarray = present
        self.n_devices: np.ndarray = present.sum(axis=1).astype(np.int32)
        self.dev_total: np.ndarray = self.n_devices.astype(np.int64) * MILLI
        self.idle_milli: np.ndarray = np.zeros(n, np.int64)
        self.full_free: np.ndarray = np.zeros(n, np.int32)
        self.max_free: np.ndarray = np.zeros(n, np.int32)
        self._model_masks: dict[frozenset[int] | None, np.ndarray] = {}
        #: rows changed, in order, since ``_log_base`` (see :meth:`changed_since`)
        self._log: list[int] = []
        self._log_base = 0
        self._refresh_rows(np.arange(n))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_nodes(
        cls,
        node_ids: Sequence[str],
        cpu_milli: Sequence[int],
        devices: Sequence[Sequence[str]],
        *,
        mem_mib: Sequence[int] | None = None,
        fabric: Sequence[int] | None = None,
        site: Sequence[int] | None = None,
        model_names: Sequence[str] | None = None,
        nic_mbps: Sequence[int] | None = None,
        disk_gib: Sequence[int] | None = None,
    ) -> FleetState:
        """Build an idle fleet: ``devices[i]`` lists the model name of each device of node ``i``;
        ``nic_mbps``/``disk_gib`` (None: not constrained) the NIC bandwidth and local disk of each."""
        n = len(node_ids)
        if len(cpu_milli) != n or len(devices) != n:
            raise ValidationError("node_ids, cpu_milli and devices must have the same length")
        names: list[str] = list(model_names) if model_names is not None else []
        code = {m: i for i, m in enumerate(names)}
        for devs in devices:
            for m in devs:
                if m not in code:
                    code[m] = len(names)
                    names.append(m)
        d = max([len(x) for x in devices] + [1])
        dev_model = np.full((n, d), -1, np.int16)
        dev_free = np.zeros((n, d), np.int32)
        for i, devs in enumerate(devices):
            for j, m in enumerate(devs):
                dev_model[i, j] = code[m]
                dev_free[i, j] = MILLI
        cpu = np.asarray(cpu_milli, np.int64)
        return cls(
            node_ids=list(node_ids),
            cpu_total_milli=cpu,
            cpu_free_milli=cpu.copy(),
            mem_free_mib=np.asarray(mem_mib if mem_mib is not None else [1 << 40] * n, np.int64),
            dev_model=dev_model,
            dev_free_milli=dev_free,
            model_names=names,
            fabric=np.asarray(fabric if fabric is not None else np.arange(n), np.int32),
            site=np.asarray(site if site is not None else np.zeros(n), np.int32),
            nic_free_mbps=None if nic_mbps is None else np.asarray(nic_mbps, np.int64),
            disk_free_gib=None if disk_gib is None else np.asarray(disk_gib, np.int64),
        )

    def copy(self) -> FleetState:
        return FleetState(
            node_ids=list(self.node_ids),
            cpu_total_milli=self.cpu_total_milli.copy(),
            cpu_free_milli=self.cpu_free_milli.copy(),
            mem_free_mib=self.mem_free_mib.copy(),
            dev_model=self.dev_model.copy(),
            dev_free_milli=self.dev_free_milli.copy(),
            model_names=list(self.model_names),
            fabric=self.fabric.copy(),
            site=self.site.copy(),
            dev_cost=None if self.dev_cost is None else self.dev_cost.copy(),
            class_count=self.class_count.copy(),
            nic_free_mbps=None if self.nic_free_mbps is None else self.nic_free_mbps.copy(),
            disk_free_gib=None if self.disk_free_gib is None else self.disk_free_gib.copy(),
        )

    # ------------------------------------------------------------------ derived caches
    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    def _refresh_rows(self, rows: np.ndarray) -> None:
        free = self.dev_free_milli
        if rows.size == len(self.node_ids):
            self.idle_milli = free.sum(axis=1, dtype=np.int64)
            self.full_free = (free == MILLI).sum(axis=1).astype(np.int32)
            self.max_free = free.max(axis=1).astype(np.int32) if free.shape[1] else np.zeros(len(rows), np.int32)
        elif rows.size == 1:
            self._refresh_row(int(rows[0]))
        else:
            sub = free[rows]
            self.idle_milli[rows] = sub.sum(axis=1)
            self.full_free[rows] = (sub == MILLI).sum(axis=1)
            self.max_free[rows] = sub.max(axis=1)

    def _refresh_row(self, n: int) -> None:
        row = self.dev_free_milli[n].tolist()
        self.idle_milli[n] = sum(row)
        self.full_free[n] = row.count(MILLI)
        self.max_free[n] = max(row) if row else 0

    def touch(self, rows: Sequence[int] | np.ndarray | None = None) -> None:
        """Declare that the arrays of ``rows`` (all when None) were changed by hand."""
        idx = np.arange(self.num_nodes) if rows is None else np.asarray(rows, dtype=np.int64)
        self.node_version[idx] += 1
        self._note(idx.tolist())
        self._refresh_rows(idx)

    @property
    def change_count(self) -> int:
        """How many row changes were ever recorded (a position for :meth:`changed_since`)."""
        return self._log_base + len(self._log)

    def changed_since(self, position: int, limit: int) -> np.ndarray | None:
        """Rows changed since ``change_count`` was ``position`` (ascending, each once), or None
        when the log no longer reaches back that far or holds more than ``limit`` changes
        (then compare ``node_version``)."""
        start = position - self._log_base
        if start < 0 or len(self._log) - start > limit:
            return None
        rows = sorted(set(self._log[start:]))
        return np.fromiter(rows, np.int64, len(rows))

    def rows_changed_since(self, position: int) -> list[int] | None:
        """Rows changed since ``change_count`` was ``position``, in the order of the changes (a row
        may repeat), or None when the log no longer reaches back that far."""
        start = position - self._log_base
        return None if start < 0 else self._log[start:]

    def _note(self, rows: list[int]) -> None:
        self._log.extend(rows)
        if len(self._log) > 8 * self.num_nodes + 1024:
            drop = len(self._log) // 2
            del self._log[:drop]
            self._log_base += drop

    def model_mask(self, allowed: frozenset[int] | None) -> np.ndarray:
        """(N, D) bool: device slot exists and its model is allowed."""
        got: np.ndarray | None = self._model_masks.get(allowed)
        if got is None:
            if allowed is None:
                got = self.present
            else:
                got = np.isin(self.dev_model, np.fromiter(allowed, dtype=np.int16, count=len(allowed))) & self.present
            self._model_masks[allowed] = got
        return got

    # ------------------------------------------------------------------ mutation
    def apply(self, placement: Placement) -> None:
        """Take the capacity of ``placement``; raises ConflictError (changing nothing) if it is not free."""
        self._check(placement, sign=-1)
        self._change(placement, sign=-1)

    def release(self, placement: Placement) -> None:
        """Give the capacity of ``placement`` back; raises ConflictError if that would exceed capacity."""
        self._check(placement, sign=+1)
        self._change(placement, sign=+1)

    def _check(self, p: Placement, sign: int) -> None:
        n_nodes = self.num_nodes
        for name in ("nic_mbps", "disk_gib"):
            got = getattr(p, name)
            if got and len(got) != len(p.nodes):
                raise ConflictError(f"placement.{name} has {len(got)} entries for {len(p.nodes)} nodes")
        for i, n in enumerate(p.nodes):
            if not 0 <= n < n_nodes:
                raise ConflictError(f"placement names node index {n}, fleet has {n_nodes} nodes")
            cpu = int(self.cpu_free_milli[n]) + sign * p.cpu_milli[i]
            if cpu < 0 or cpu > int(self.cpu_total_milli[n]):
                raise ConflictError(f"node {self.node_ids[n]}: CPU would become {cpu} milli")
            if int(self.mem_free_mib[n]) + sign * p.mem_mib[i] < 0:
                raise ConflictError(f"node {self.node_ids[n]}: memory would become negative")
            if self.nic_free_mbps is not None and p.nic_mbps and int(self.nic_free_mbps[n]) + sign * p.nic_mbps[i] < 0:
                raise ConflictError(f"node {self.node_ids[n]}: NIC bandwidth would become negative")
            if self.disk_free_gib is not None and p.disk_gib and int(self.disk_free_gib[n]) + sign * p.disk_gib[i] < 0:
                raise ConflictError(f"node {self.node_ids[n]}: local disk would become negative")
            devs = p.devices[i]
            if not devs:
                continue
            present = self.present[n].tolist()
            free = self.dev_free_milli[n].tolist()
            for d, m in zip(devs, p.device_milli[i], strict=True):
                if not 0 <= d < len(present) or not present[d]:
                    raise ConflictError(f"node {self.node_ids[n]} has no device slot {d}")
                f = free[d] + sign * m
                if f < 0 or f > MILLI:
                    raise ConflictError(f"node {self.node_ids[n]} device {d}: free milli would become {f}")

    def _change(self, p: Placement, sign: int) -> None:
        for i, n in enumerate(p.nodes):
            self.cpu_free_milli[n] += sign * p.cpu_milli[i]
            if p.mem_mib[i]:
                self.mem_free_mib[n] += sign * p.mem_mib[i]
            if p.nic_mbps and self.nic_free_mbps is not None:
                self.nic_free_mbps[n] += sign * p.nic_mbps[i]
            if p.disk_gib and self.disk_free_gib is not None:
                self.disk_free_gib[n] += sign * p.disk_gib[i]
            devs = p.devices[i]
            if not devs:
                continue
            row = self.dev_free_milli[n]
            for d, m in zip(devs, p.device_milli[i], strict=True):
                row[d] += sign * m
            c = device_class(len(devs), min(p.device_milli[i]))
            self.class_count[n, c] = max(0, int(self.class_count[n, c]) - sign)
        if len(p.nodes) == 1:
            n = p.nodes[0]
            self.node_version[n] += 1
            self._note([n])
            self._refresh_row(n)
            return
        rows = np.asarray(p.nodes, dtype=np.int64)
        self.node_version[rows] += 1
        self._note(list(p.nodes))
        self._refresh_rows(rows)


@dataclass(frozen=True)
class PlacementRequest:
    """One order. See the module docstring of :mod:`suanli.scheduler` for the request kinds.

    For ``spread_devices`` the ``cpu_milli``, ``mem_mib``, ``nic_mbps`` and ``disk_gib`` are *per
    device*; for every other kind they are per request (per node for a gang, where the whole
    node is taken anyway). ``nic_mbps`` (NIC bandwidth) and ``disk_gib`` (local disk) are only
    checked on a fleet that tracks them (:attr:`FleetState.nic_free_mbps`, ``disk_free_gib``).
    """

    cpu_milli: int = 0
    mem_mib: int = 0
    num_devices: int = 0
    device_milli: int = MILLI
    allowed_models: frozenset[int] | None = None
    allowed_sites: frozenset[int] | None = None
    gang_nodes: int = 0
    spread_devices: int = 0
    whole_node: bool = False
    nic_mbps: int = 0
    disk_gib: int = 0

    @property
    def is_share(self) -> bool:
        return self.num_devices == 1 and self.device_milli < MILLI

    def validate(self) -> None:
        """Raise ValidationError for a request that no fleet could ever satisfy."""
        if self.cpu_milli < 0 or self.mem_mib < 0 or self.num_devices < 0:
            raise ValidationError("cpu_milli, mem_mib and num_devices must be >= 0")
        if self.nic_mbps < 0:
            raise ValidationError(f"nic_mbps must be >= 0, got {self.nic_mbps}", field="nic_mbps")
        if self.disk_gib < 0:
            raise ValidationError(f"disk_gib must be >= 0, got {self.disk_gib}", field="disk_gib")
        if self.num_devices > 0 and not 0 < self.device_milli <= MILLI:
            raise ValidationError(f"device_milli must lie in 1..{MILLI}, got {self.device_milli}", field="device_milli")
        if self.num_devices > 1 and self.device_milli != MILLI:
            raise ValidationError("a share of a device (device_milli < 1000) needs num_devices == 1", field="device_milli")
        kinds = sum([self.gang_nodes > 0, self.spread_devices > 0, self.whole_node])
        if kinds > 1:
            raise ValidationError("at most one of gang_nodes, spread_devices and whole_node may be set")
        if self.gang_nodes < 0 or self.spread_devices < 0:
            raise ValidationError("gang_nodes and spread_devices must be >= 0")


@dataclass(frozen=True)
class Placement:
    """A decision: per node, the device slots and the milli taken of each, CPU and memory, and
    (empty when the request asks for none) NIC bandwidth and local disk."""

    nodes: tuple[int, ...]
    devices: tuple[tuple[int, ...], ...]
    device_milli: tuple[tuple[int, ...], ...]
    cpu_milli: tuple[int, ...]
    mem_mib: tuple[int, ...]
    score: float
    reason: str
    #: per node NIC Mbps / local disk GiB taken; () = none
    nic_mbps: tuple[int, ...] = ()
    disk_gib: tuple[int, ...] = ()

    @property
    def gpu_milli(self) -> int:
        return sum(sum(m) for m in self.device_milli)


class NoFit:
    """Nothing fits; ``reason`` says why in words.

    ``NoFit(explain=f)`` defers the words: ``f()`` runs the first time ``reason`` is read (a
    simulator that never reads them skips the work). ``f`` must not depend on anything that can
    change after the decision (the engine hands it a frozen copy of the free capacity).
    """

    __slots__ = ("_explain", "_reason")

    def __init__(self, reason: str = "", *, explain: Callable[[], str] | None = None) -> None:
        self._reason = reason
        self._explain = explain

    @property
    def reason(self) -> str:
        if self._explain is not None:
            self._reason, self._explain = self._explain(), None
        return self._reason

    def __bool__(self) -> bool:  # a NoFit is falsy so ``if decision:`` reads naturally
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoFit) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)

    def __repr__(self) -> str:
        return f"NoFit(reason={self.reason!r})"

    def __reduce__(self) -> tuple[type[NoFit], tuple[str]]:  # pickles with its words, not the closure
        return (NoFit, (self.reason,))
