"""The execution-engine protocol: what the service may ask of a driver, and what it gets back.

A *driver* turns a lease (a tenant's right to devices for a window) into something an engine
enforces, runs the tenant's work inside it, and reports accounting and node health. The service
owns every lease's state; a driver owns nothing but the engine-side mirror and must be safe to
call again after a crash:

- ``provision(grant)`` is idempotent by ``grant.lease_id`` (a second call returns the same result,
  ``created=False``); a different grant under a known lease id is a :class:`ConflictError`.
- ``release(lease_id)`` is idempotent: it cancels the lease's jobs and removes the engine-side
  reservation; releasing an unknown or already released lease does nothing.
- ``submit(lease_id, spec)`` refuses work the lease does not cover: an unprovisioned lease
  (:class:`EngineError`), a node or more devices than the lease holds (:class:`ValidationError`),
  outside the lease window or on a failed device (:class:`ConflictError`). Messages name the lease.
- ``poll`` / ``cancel`` / ``logs`` take the driver's job id (``JobHandle.job_id``); an unknown id
  is a :class:`NotFoundError`. ``cancel`` of a finished job does nothing.
- ``usage(since)`` returns one final record per job that *ended* at or after ``since``; records
  never change once returned, so the service deduplicates by ``(driver name, job_id)``.
- ``node_health()`` lists every node the driver knows, with ``down``/``drain`` and the reason.

Errors: engine refusals and failures are :class:`suanli.errors.EngineError` carrying the
engine's own words (``details["engine_message"]``), the lease id where there is one, and
``details["retryable"]`` (``True`` when the engine was unreachable or timed out: retry with
:mod:`suanli.drivers.retry`; ``False`` when it refused).

All instants are aware UTC ``datetime`` values (see :func:`suanli.domain.clock.utc`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from suanli.domain.catalog import VISIBLE_DEVICES_ENV, Vendor
from suanli.domain.clock import utc
from suanli.domain.jobs import MAX_ARGS, MAX_COMMAND_BYTES, MAX_TIME_LIMIT_S
from suanli.domain.slicing import Mechanism, SliceLimits
from suanli.errors import ConflictError, EngineError, ValidationError

WHOLE = 1000
"""``device_milli`` of a whole device."""
MAX_TIME_LIMIT = timedelta(seconds=MAX_TIME_LIMIT_S)

_LEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class Feature(StrEnum):
    """What a driver may or may not be able to do; see :class:`Capabilities`."""

    WHOLE_DEVICES = "whole_devices"
    """Leases of whole accelerators."""
    FRACTIONAL_DEVICES = "fractional_devices"
    """Leases of a fraction of one accelerator (``device_milli`` < 1000)."""
    SHARED_NODE = "shared_node"
    """Several leases on different devices of the same node, isolated from each other."""
    DEVICE_PINNING = "device_pinning"
    """A job sees exactly the device indices named in the grant (not just as many)."""
    FUTURE_START = "future_start"
    """A lease whose window starts later is held for it (a reservation)."""
    OPEN_ENDED = "open_ended"
    """A lease without an end (``end=None``)."""
    MULTI_NODE = "multi_node"
    """One lease spans several nodes."""
    USAGE_ACCOUNTING = "usage_accounting"
    """``usage()`` returns per-job device-seconds from the engine's accounting."""
    NODE_HEALTH = "node_health"
    """``node_health()`` reports down/drained nodes with a reason."""
    RESOURCE_LIMITS = "resource_limits"
    """Jobs are held to their CPU/memory/time requests by the engine."""
    SERVE = "serve"
    """A job can serve a model back to this server: a Unix socket in its work dir that the server's
    process reaches (model replicas, ``JobSpec.runtime``; docs/inference.md)."""


@dataclass(frozen=True)
class Capabilities:
    """Declared features. Every feature is either supported or missing *with a reason*."""

    driver: str
    supported: frozenset[Feature]
    missing: Mapping[Feature, str] = field(default_factory=dict)
    """Feature -> why not (e.g. "fractional GPU: not supported by this Slurm configuration")."""
    slice_mechanisms: frozenset[Mechanism] = frozenset()
    """How this backend holds a slice's job to its share (docs/slices.md): MIG, MPS, HAMi, vNPU; empty = it
    cannot (slices on it are sold only unenforced)."""

    def __post_init__(self) -> None:
        both = self.supported & set(self.missing)
        if both:
            raise ValueError(f"features both supported and missing: {sorted(both)}")
        unknown = set(Feature) - self.supported - set(self.missing)
        if unknown:
            raise ValueError(f"features neither supported nor explained: {sorted(unknown)}")

    def supports(self, feature: Feature) -> bool:
        return feature in self.supported

    def reason(self, feature: Feature) -> str | None:
        """Why ``feature`` is missing, or ``None`` when it is supported."""
        return self.missing.get(feature)

    def require(self, feature: Feature, lease_id: str) -> None:
        """Raise :class:`ValidationError` naming the lease when ``feature`` is missing."""
        if feature not in self.supported:
            raise ValidationError(
                f"lease {lease_id}: the {self.driver} driver cannot do this: {self.missing[feature]}",
                lease_id=lease_id, feature=feature.value, driver=self.driver,
            )

    def to_dict(self) -> dict[str, Any]:
        return {"driver": self.driver, "supported": sorted(f.value for f in self.supported),
                "missing": {f.value: r for f, r in sorted(self.missing.items())},
                "slice_mechanisms": sorted(m.value for m in self.slice_mechanisms)}


@dataclass(frozen=True)
class DeviceAllocation:
    """The devices of one node that a lease holds."""

    node: str
    device_indices: tuple[int, ...]
    """Node-local device indices (0-based), unique, as the engine numbers them."""
    device_milli: tuple[int, ...]
    """Share of each device in thousandths (1000 = whole), same length as ``device_indices``."""
    vendor: Vendor = Vendor.NVIDIA
    model: str | None = None
    """Engine's device type, e.g. the Slurm GRES type ``a100``; ``None`` = any."""
    cpu_milli: int = 0
    """The node's CPU the lease holds there, in thousandths of a core (0 = not stated: no CPU limit)."""
    host_memory_mib: int = 0
    """The node's memory (RAM) the lease holds there, in MiB (0 = not stated: no memory limit)."""
    slice: SliceLimits | None = None
    """A slice lease: the limits its jobs receive (:func:`suanli.domain.slicing.job_env`)."""

    def __post_init__(self) -> None:
        if not self.node:
            raise ValidationError("allocation node name is empty")
        if len(self.device_indices) != len(self.device_milli):
            raise ValidationError(
                f"node {self.node}: {len(self.device_indices)} device indices but "
                f"{len(self.device_milli)} device_milli shares; give one share per device")
        if len(set(self.device_indices)) != len(self.device_indices) or any(i < 0 for i in self.device_indices):
            raise ValidationError(f"node {self.node}: device indices {self.device_indices} must be unique and >= 0")
        if any(not 0 < m <= WHOLE for m in self.device_milli):
            raise ValidationError(f"node {self.node}: device_milli {self.device_milli} must each be in 1..1000")
        if self.cpu_milli < 0 or self.host_memory_mib < 0:
            raise ValidationError(f"node {self.node}: cpu_milli and host_memory_mib must be >= 0")

    @property
    def whole(self) -> bool:
        return all(m == WHOLE for m in self.device_milli)

    @property
    def device_count(self) -> int:
        return len(self.device_indices)

    @property
    def visible_devices_env(self) -> str:
        """Name of the variable that pins a process to these devices (vendor's runtime)."""
        return VISIBLE_DEVICES_ENV[self.vendor]


@dataclass(frozen=True)
class LeaseGrant:
    """What the service tells a driver to enforce for one lease."""

    lease_id: str
    tenant: str
    """The tenant's account name on the engine (Slurm account; local: informational)."""
    start: datetime
    end: datetime | None
    """``None`` = open-ended."""
    allocations: tuple[DeviceAllocation, ...]

    def __post_init__(self) -> None:
        check_lease_id(self.lease_id)
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", self.tenant):
            raise ValidationError(
                f"lease {self.lease_id}: tenant account {self.tenant!r} is not allowed; use 1-64 of "
                "lowercase letters, digits, '_' and '-', starting with a letter or digit",
                lease_id=self.lease_id)
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValidationError(f"lease {self.lease_id}: {name} must be timezone-aware")
        if self.end is not None and self.end <= self.start:
            raise ValidationError(f"lease {self.lease_id}: end {self.end} must be after start {self.start}")
        if not self.allocations:
            raise ValidationError(f"lease {self.lease_id}: a grant needs at least one node allocation")
        nodes = [a.node for a in self.allocations]
        if len(set(nodes)) != len(nodes):
            raise ValidationError(f"lease {self.lease_id}: node listed twice in allocations: {nodes}")

    def allocation(self, node: str | None) -> DeviceAllocation:
        """The allocation on ``node`` (``None`` = the only one, or the first)."""
        if node is None:
            return self.allocations[0]
        for a in self.allocations:
            if a.node == node:
                return a
        raise ValidationError(
            f"lease {self.lease_id} holds no devices on node {node!r}; it holds "
            f"{', '.join(a.node for a in self.allocations)}", lease_id=self.lease_id, node=node)

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id, "tenant": self.tenant, "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "allocations": [
                {"node": a.node, "device_indices": list(a.device_indices),
                 "device_milli": list(a.device_milli), "vendor": a.vendor.value, "model": a.model,
                 "cpu_milli": a.cpu_milli, "host_memory_mib": a.host_memory_mib}
                | ({"slice": a.slice.to_dict()} if a.slice is not None else {})
                for a in self.allocations],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LeaseGrant:
        return cls(
            lease_id=raw["lease_id"], tenant=raw["tenant"], start=datetime.fromisoformat(raw["start"]),
            end=None if raw["end"] is None else datetime.fromisoformat(raw["end"]),
            allocations=tuple(
                DeviceAllocation(node=a["node"], device_indices=tuple(a["device_indices"]),
                                 device_milli=tuple(a["device_milli"]), vendor=Vendor(a["vendor"]),
                                 model=a.get("model"), cpu_milli=a.get("cpu_milli", 0),
                                 host_memory_mib=a.get("host_memory_mib", 0),
                                 slice=SliceLimits.from_dict(a["slice"]) if a.get("slice") else None)
                for a in raw["allocations"]),
        )


@dataclass(frozen=True)
class ProvisionResult:
    lease_id: str
    engine_ref: str
    """Engine-side name of the lease (Slurm reservation name; local: the lease id)."""
    created: bool
    """``False`` when the lease was already provisioned (idempotent repeat)."""
    notes: tuple[str, ...] = ()
    """What the engine did differently from the grant (e.g. "CPU share: 2 of 4 cores")."""


@dataclass(frozen=True)
class JobSpec:
    """A tenant's job. ``command`` is an argv list (no shell unless the tenant asks for one)."""

    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    devices: int | None = None
    """Devices wanted on the chosen node; ``None`` = all the lease holds there; 0 = none."""
    node: str | None = None
    """Which of the lease's nodes; ``None`` = the first."""
    cpus: int = 1
    memory_mib: int | None = None
    time_limit: timedelta | None = None
    """``None`` = until the lease ends."""
    name: str | None = None
    runtime: bool = False
    """A platform model runtime (set only by ``service.replicas``, never from the jobs API): the sandbox
    also shows it the interpreter and the installed packages, read-only."""

    def __post_init__(self) -> None:
        if isinstance(self.command, str) or not self.command:
            raise ValidationError("job command must be a non-empty argv list, e.g. ['python', 'train.py']")
        object.__setattr__(self, "command", tuple(self.command))
        if not all(isinstance(a, str) for a in self.command) or not self.command[0]:
            raise ValidationError("job command must be a list of strings and its first one (the program) non-empty")
        if len(self.command) > MAX_ARGS or sum(len(a.encode()) + 1 for a in self.command) > MAX_COMMAND_BYTES:
            raise ValidationError(f"job command is too long; allowed: at most {MAX_ARGS} arguments and "
                                  f"{MAX_COMMAND_BYTES} bytes in all (put long input in a file)")
        if any("\x00" in a for a in self.command) or any("\x00" in v for v in self.env.values()):
            raise ValidationError("job command and env values may not contain NUL bytes")
        if self.devices is not None and self.devices < 0:
            raise ValidationError(f"job devices must be >= 0, got {self.devices}")
        if self.cpus < 1:
            raise ValidationError(f"job cpus must be >= 1, got {self.cpus}")
        if self.memory_mib is not None and self.memory_mib < 1:
            raise ValidationError(f"job memory_mib must be >= 1, got {self.memory_mib}")
        if self.time_limit is not None and not timedelta(0) < self.time_limit <= MAX_TIME_LIMIT:
            raise ValidationError(f"job time_limit must be positive and at most {MAX_TIME_LIMIT.days} days "
                                  f"({int(MAX_TIME_LIMIT.total_seconds())} s), got {self.time_limit}")
        bad = [k for k in self.env if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
        if bad:
            raise ValidationError(f"job env names {bad} are not valid variable names")


@dataclass(frozen=True)
class JobHandle:
    job_id: str
    """The driver's id (Slurm: the Slurm job id)."""
    lease_id: str
    node: str | None
    """Where it runs, when known at submit time."""
    devices: int
    submitted_at: datetime


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    NODE_FAIL = "node_fail"
    LOST = "lost"
    """The engine no longer knows the job (e.g. the local driver restarted while it ran)."""

    @property
    def terminal(self) -> bool:
        return self not in (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    lease_id: str
    state: JobState
    node: str | None = None
    device_indices: tuple[int, ...] = ()
    """Node-local indices of the devices the job got (empty while unknown)."""
    start: datetime | None = None
    end: datetime | None = None
    exit_code: int | None = None
    reason: str | None = None
    """Engine's words on why it is pending/failed/cancelled."""


@dataclass(frozen=True)
class JobUsage:
    """One finished job's accounting record."""

    job_id: str
    lease_id: str
    node: str | None
    device_indices: tuple[int, ...]
    """As recorded; empty when the engine did not report indices (then see ``devices``)."""
    devices: int
    start: datetime
    end: datetime
    state: JobState
    exit_code: int | None
    device_seconds: Decimal
    """Elapsed whole seconds × devices held by the job (× each device's share for fractions)."""

    @property
    def elapsed_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


class NodeState(StrEnum):
    UP = "up"
    DOWN = "down"
    DRAIN = "drain"
    """Running work continues, new work is refused (being taken out of service)."""


@dataclass(frozen=True)
class NodeHealth:
    node: str
    state: NodeState
    reason: str | None = None
    failed_devices: tuple[int, ...] = ()
    """Devices unusable on a node that is otherwise up (local driver's ``fail_device``)."""


@runtime_checkable
class Driver(Protocol):
    """An execution engine. See the module docstring for the contract of each method."""

    name: str

    def capabilities(self) -> Capabilities: ...

    def provision(self, grant: LeaseGrant) -> ProvisionResult: ...

    def release(self, lease_id: str) -> None: ...

    def submit(self, lease_id: str, spec: JobSpec) -> JobHandle: ...

    def poll(self, job_id: str) -> JobStatus: ...

    def cancel(self, job_id: str) -> None: ...

    def logs(self, job_id: str) -> str: ...

    def usage(self, since: datetime) -> list[JobUsage]: ...

    def node_health(self) -> list[NodeHealth]: ...


# ---------------------------------------------------------------- helpers shared by drivers


def check_lease_id(lease_id: str) -> str:
    """Lease ids travel into file names and Slurm reservation names: keep them plain."""
    if not isinstance(lease_id, str) or not _LEASE_ID.fullmatch(lease_id):
        raise ValidationError(
            f"lease id {lease_id!r} is not allowed; use 1-63 of letters, digits, '_', '.', '-', "
            "starting with a letter or digit")
    return lease_id


def engine_error(message: str, *, engine: str, engine_message: str | None = None,
                 lease_id: str | None = None, retryable: bool = False, **details: Any) -> EngineError:
    """An :class:`EngineError` whose message ends with the engine's own words."""
    text = message if not engine_message else f"{message}: {engine_message.strip()}"
    if lease_id is not None and f"lease {lease_id}" not in text:
        text = f"lease {lease_id}: {text}"
    return EngineError(text, engine=engine, engine_message=engine_message, lease_id=lease_id,
                       retryable=retryable, **details)


def check_submit(grant: LeaseGrant, spec: JobSpec, now: datetime, *, driver: str) -> tuple[DeviceAllocation, int]:
    """Common admission checks. Returns the node allocation and the device count to use."""
    now = utc(now)
    if now < grant.start:
        raise ConflictError(
            f"lease {grant.lease_id} starts at {grant.start.isoformat()}; jobs can run only inside "
            f"the lease window (now {now.isoformat()})", lease_id=grant.lease_id)
    if grant.end is not None and now >= grant.end:
        raise ConflictError(
            f"lease {grant.lease_id} ended at {grant.end.isoformat()}; jobs can run only inside the "
            f"lease window (now {now.isoformat()})", lease_id=grant.lease_id)
    alloc = grant.allocation(spec.node)
    devices = alloc.device_count if spec.devices is None else spec.devices
    if devices > alloc.device_count:
        raise ValidationError(
            f"lease {grant.lease_id} holds {alloc.device_count} device(s) on node {alloc.node} "
            f"(indices {list(alloc.device_indices)}); the job asked for {devices}. Ask for at most "
            f"{alloc.device_count}.", lease_id=grant.lease_id, held=alloc.device_count, asked=devices)
    if spec.time_limit is not None and grant.end is not None and now + spec.time_limit > grant.end:
        raise ValidationError(
            f"lease {grant.lease_id} ends at {grant.end.isoformat()}; a time limit of {spec.time_limit} "
            f"from now would run past it. Ask for at most {grant.end - now} or leave it unset.",
            lease_id=grant.lease_id)
    return alloc, devices


def atomic_write_json(path: Path, payload: Any) -> None:
    """Write JSON so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class GrantStore:
    """Grants a driver has provisioned, one JSON file per lease under ``root``.

    Lets ``submit`` check devices and window after a driver restart without asking the service.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, lease_id: str) -> Path:
        return self.root / f"{check_lease_id(lease_id)}.json"

    def get(self, lease_id: str) -> LeaseGrant | None:
        try:
            raw = json.loads(self._path(lease_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return LeaseGrant.from_dict(raw)

    def put(self, grant: LeaseGrant) -> None:
        atomic_write_json(self._path(grant.lease_id), grant.to_dict())

    def delete(self, lease_id: str) -> None:
        self._path(lease_id).unlink(missing_ok=True)

    def all(self) -> list[LeaseGrant]:
        return [LeaseGrant.from_dict(json.loads(p.read_text(encoding="utf-8")))
                for p in sorted(self.root.glob("*.json"))]


def same_grant(a: LeaseGrant, b: LeaseGrant) -> bool:
    return a.to_dict() == b.to_dict()


def device_seconds(elapsed_s: int, milli: tuple[int, ...]) -> Decimal:
    """Elapsed seconds × the sum of device shares (exact)."""
    return Decimal(max(elapsed_s, 0)) * Decimal(sum(milli)) / Decimal(WHOLE)


def conflict_if_changed(existing: LeaseGrant, grant: LeaseGrant) -> None:
    if not same_grant(existing, grant):
        raise ConflictError(
            f"lease {grant.lease_id} is already provisioned with a different grant; release it "
            "before provisioning it again with other devices or another window", lease_id=grant.lease_id)
