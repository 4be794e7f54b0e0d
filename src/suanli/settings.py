"""One Settings object, read from the environment (``SUANLI_*``) once and passed in.

No module-level configuration: build ``Settings.from_env()`` at the edge (CLI, app factory) and
hand it down.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from suanli.domain.slicing import parse_mechanisms
from suanli.errors import ValidationError


def _default_data_dir() -> Path:
    return Path(os.environ.get("SUANLI_DATA_DIR", Path.home() / ".local" / "share" / "suanli"))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{name}={value!r} is not a whole number", field=name) from None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0.05 <= seconds <= 3600:  # NaN fails too
        raise ValidationError(f"{name}={value!r} is not a number of seconds from 0.05 to 3600", field=name)
    return seconds


def _slice_mechanisms(value: str) -> str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return ",".join(sorted(m.value for m in parse_mechanisms(value)))
    except ValueError as e:
        raise ValidationError(f"SUANLI_SLICE_MECHANISMS: {e}", field="SUANLI_SLICE_MECHANISMS") from None


def _time_zone(env: Mapping[str, str], name: str, default: str) -> str:
    """The zone named by ``name`` (checked against the IANA database the system or ``tzdata`` has), else
    ``default`` (not checked: the browser knows it even where the server has no zone database)."""
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"{name}={value!r} is not an IANA time zone; use a name such as Asia/Shanghai, "
                              "Europe/Berlin or UTC", field=name) from None
    return value


_TAG_RE = re.compile(r"^[A-Za-z0-9._-]{0,64}$")


def _orphan_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """Seconds as :func:`_seconds`, or 0 (never)."""
    value = env.get(name, "").strip()
    if value in ("0", "0.0"):
        return 0.0
    return _seconds(env, name, default)


def check_inference_orphan(orphan_s: float, health_interval_s: float, background_interval_s: float) -> None:
    """A replica is probed at most once per health interval and once per background pass: it must not stop
    itself for want of probes while its server runs (docs/inference.md, "Replica lifecycle")."""
    if orphan_s == 0:
        return
    period = max(health_interval_s, background_interval_s)
    if not orphan_s >= 10 * period:
        raise ValidationError(
            f"SUANLI_INFERENCE_ORPHAN_SECONDS ({orphan_s:g}) must be 0 (never) or at least 10 x the replicas' probe "
            f"period, max(SUANLI_INFERENCE_HEALTH_INTERVAL_SECONDS, SUANLI_BACKGROUND_INTERVAL_SECONDS) = "
            f"{period:g} s, i.e. >= {10 * period:g}", field="inference_orphan_seconds")


def check_agent_timing(heartbeat_s: float, suspect_s: float, down_s: float, fence_s: float,
                       kill_grace_s: float) -> None:
    """The agents' numbers must keep a fenced job from outliving the grace: heartbeat < suspect <= down,
    and fence + kill grace < down (docs/agents.md, "Health and fencing")."""
    if not 0 < heartbeat_s < suspect_s <= down_s:
        raise ValidationError(f"agent timing: need 0 < SUANLI_AGENT_HEARTBEAT_S ({heartbeat_s:g}) < "
                              f"SUANLI_AGENT_SUSPECT_S ({suspect_s:g}) <= SUANLI_AGENT_DOWN_S ({down_s:g})",
                              field="agent_suspect_s")
    if not 0 < fence_s < down_s - kill_grace_s:
        raise ValidationError(f"agent timing: SUANLI_AGENT_FENCE_S ({fence_s:g}) must be more than 0 and less than "
                              f"SUANLI_AGENT_DOWN_S - SUANLI_AGENT_KILL_GRACE_S ({down_s:g} - {kill_grace_s:g} = "
                              f"{down_s - kill_grace_s:g}), so that a cut-off agent's jobs are stopped before its "
                              "leases are re-placed", field="agent_fence_s")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; ``None`` means the SQLite file ``<data_dir>/suanli.db``."""
    placement_policy: str = "fgd+"
    """Name of the scheduler policy used for orders (see ``suanli.scheduler.registry``)."""
    placement_mix_refresh_seconds: float = 300.0
    """How often the live mix of typical requests is relearnt from recent orders (``service.typical_mix``)."""
    capacity_sample_seconds: float = 60.0
    """How often the background leader samples the capacity time series (``service.capacity``, docs/capacity.md)."""
    currency: str = "CNY"
    time_zone: str = "Asia/Shanghai"
    """The operator's IANA time zone: the console shows times in it (``GET /v1/me`` says which)."""
    commission_rate: str = "0.15"
    """Operator commission on every charge when no supplier floor binds (decimal string)."""
    tax_rate: str = "0"
    """Tax on each invoice's subtotal (decimal string, e.g. ``0.06`` for 6 % VAT); ``0`` = none."""
    driver: str = "local"
    """Execution engine for leases: ``local`` (embedded), ``slurm`` or ``none``."""
    slurm_rest_url: str | None = None
    """slurmrestd (JWT) for the Slurm driver, e.g. ``http://127.0.0.1:6820``; CLI tools when unset."""
    slurm_partition: str | None = None
    slurm_job_dir: Path | None = None
    """Job working dirs and logs, shared with the compute nodes (default ``<data_dir>/slurm-jobs``)."""
    slurm_accounting: bool = True
    """slurmdbd is present (sacct usage)."""
    sandbox: str = "on"
    """Local engine job sandbox: ``on`` (required: jobs are refused where none can be built) or ``off``
    (the operator's opt-out for single-user development: jobs run as the server's user)."""
    sandbox_network: str = "none"
    """``none``: sandboxed jobs have their own loopback only; ``host``: they share the host's network."""
    sandbox_ro_paths: tuple[Path, ...] = ()
    """Extra host directories sandboxed jobs see read-only (e.g. ``/opt/conda``), besides ``/usr``."""
    slice_mechanisms: str = "auto"
    """Slice enforcement of the local engine's node (docs/slices.md): ``auto`` (default) probes the node at
    start (MIG mode on in nvidia-smi, an MPS control daemon's pipe, npu-smi's vNPU, HAMi-core's library);
    a comma list of ``mig``, ``mps``, ``vnpu``, ``hami`` is the operator's declaration, taken as given
    (``mig``/``vnpu`` jobs then fail clearly where the instance cannot be made); empty = enforced nowhere
    (slices sold only with ``allow_unenforced``). Node agents probe their own nodes."""
    nvidia_smi: str | None = None
    """``nvidia-smi`` that makes MIG instances (``SUANLI_NVIDIA_SMI``; default: found on ``PATH``)."""
    npu_smi: str | None = None
    """``npu-smi`` that makes vNPUs (``SUANLI_NPU_SMI``; default: found on ``PATH``)."""
    hami_library: Path | None = None
    """HAMi-core's ``libvgpu.so`` on the nodes: when the file exists, ``hami`` is enforced too."""
    sla_min_credit_seconds: int = 3600
    """Each interruption credits at least this much of the lease's price (work in flight is lost)."""
    max_body_bytes: int = 1 << 20
    """Largest request body (1 MiB); a larger one is refused with 413 (see ``suanli.api.middleware``)."""
    max_batch_body_bytes: int = 16 << 20
    """Largest body of the bulk routes ``/v1/usage/batch`` and ``/v1/fleet/import`` (16 MiB)."""
    max_json_depth: int = 32
    """Deepest nesting of JSON arrays/objects in a request body; deeper is refused with 422."""
    rate_limit_per_token: str = "1200/minute"
    """Requests per bearer token (``limits`` notation, e.g. ``10/second;1000/hour``; ``0``: no limit)."""
    rate_limit_per_address: str = "3000/minute"
    """Requests per client address, with or without a token (``0``: no limit)."""
    auth_failure_limit: str = "20/minute"
    """Refused tokens (401) per client address before its unknown tokens get 429 (``0``: no limit)."""
    order_wait_seconds: float = 5.0
    """Longest an order waits in the placement queue before it is answered 503 ``busy`` with
    ``Retry-After`` and nothing written (docs/orders.md)."""
    spot_notice_seconds: float = 120.0
    """Notice a spot lease gets before it yields to a queued on-demand order (docs/queue.md)."""
    lock_wait_seconds: float = 30.0
    """Longest a statement waits for a database lock (SQLite's busy timeout, PostgreSQL's
    ``lock_timeout``); past it the request's transaction rolls back and the API answers 503 ``busy``
    with ``Retry-After`` (docs/edge.md)."""
    background_interval_seconds: float = 5.0
    """How often each replica runs (or, not leading, tries to take over) the background work."""
    whatif_max_seconds: float = 600.0
    """Longest a what-if run may be estimated to take; a longer one is refused before it starts (docs/whatif.md)."""
    leader_ttl_seconds: float = 10.0
    """The background leader's lease (renewed on every pass). A leader whose process dies is replaced
    within one interval on PostgreSQL (its session's advisory lock ends with it); one whose host or
    network is lost, within ``leader_ttl_seconds + background_interval_seconds`` (docs/platform.md, "Replicas")."""
    agent_heartbeat_s: float = 5.0
    """How often a node agent heartbeats (told to the agent at join and in every heartbeat reply; docs/agents.md)."""
    agent_suspect_s: float = 15.0
    """An approved agent not heard from for longer than this is ``suspect`` (its node still counts as up)."""
    agent_down_s: float = 30.0
    """An agent not heard from for longer than this is ``down``: its node is marked down, its leases are
    interrupted, credited and re-placed (the grace)."""
    agent_fence_s: float = 20.0
    """An agent cut off from the server for longer than this stops its jobs (fencing); must be less than
    ``agent_down_s - agent_kill_grace_s`` so that the jobs are gone before the leases are re-placed."""
    agent_kill_grace_s: float = 5.0
    """How long a fenced or cancelled job gets between SIGTERM and SIGKILL on an agent node."""
    inference_cold_start_wait_seconds: float = 60.0
    """How long a model call waits for a deployment with no ready replica to get one (then 503 with
    ``Retry-After``; docs/inference.md)."""
    inference_scale_down_seconds: float = 30.0
    """A deployment scales down only after its load has wanted fewer replicas for this long."""
    inference_health_interval_seconds: float = 2.0
    """How often the background work checks each replica's ``/health`` (at most once per this interval)."""
    inference_max_replicas: int = 32
    """The most replicas one deployment may ask for (``max_replicas``)."""
    energy_price: str = "0.6"
    """Electricity per kWh (the operator's currency, decimal string) where a site states no power price:
    the energy part of a replica's cost per token."""
    inference_orphan_seconds: float = 120.0
    """A runtime replica that gets no ``/health`` probe for this long stops itself (its control plane is
    gone; 0: never). At least 10 x the probe period (the health interval or the background interval,
    whichever is longer): a server restart shorter than this keeps its replicas."""
    inference_replica_tag: str = ""
    """An inert marker put into every runtime replica's argv (``--tag``); the test suite sets it to find
    the runtimes its session started. Letters, digits, ``.``, ``_``, ``-``; at most 64."""

    def __post_init__(self) -> None:
        check_agent_timing(self.agent_heartbeat_s, self.agent_suspect_s, self.agent_down_s, self.agent_fence_s,
                           self.agent_kill_grace_s)
        check_inference_orphan(self.inference_orphan_seconds, self.inference_health_interval_seconds,
                               self.background_interval_seconds)
        if not _TAG_RE.match(self.inference_replica_tag):
            raise ValidationError(f"SUANLI_INFERENCE_REPLICA_TAG={self.inference_replica_tag!r}: letters, digits, "
                                  "'.', '_' and '-' only, at most 64", field="inference_replica_tag")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        s = cls(
            data_dir=Path(env["SUANLI_DATA_DIR"]) if "SUANLI_DATA_DIR" in env else _default_data_dir(),
            database_url=env.get("SUANLI_DATABASE_URL") or None,
            placement_policy=env.get("SUANLI_PLACEMENT_POLICY", cls.placement_policy),
            currency=env.get("SUANLI_CURRENCY", cls.currency),
            time_zone=_time_zone(env, "SUANLI_TIME_ZONE", cls.time_zone),
            commission_rate=env.get("SUANLI_COMMISSION_RATE", cls.commission_rate),
            tax_rate=env.get("SUANLI_TAX_RATE", cls.tax_rate),
            driver=env.get("SUANLI_DRIVER", cls.driver),
            slurm_rest_url=env.get("SUANLI_SLURM_REST_URL") or None,
            slurm_partition=env.get("SUANLI_SLURM_PARTITION") or None,
            slurm_job_dir=Path(env["SUANLI_SLURM_JOB_DIR"]) if env.get("SUANLI_SLURM_JOB_DIR") else None,
            slurm_accounting=env.get("SUANLI_SLURM_ACCOUNTING", "1") not in ("0", "false", "no"),
            slice_mechanisms=_slice_mechanisms(env.get("SUANLI_SLICE_MECHANISMS", cls.slice_mechanisms)),
            hami_library=Path(env["SUANLI_HAMI_LIBRARY"]) if env.get("SUANLI_HAMI_LIBRARY") else None,
            nvidia_smi=env.get("SUANLI_NVIDIA_SMI") or None, npu_smi=env.get("SUANLI_NPU_SMI") or None,
            sandbox=env.get("SUANLI_SANDBOX", cls.sandbox),
            sandbox_network=env.get("SUANLI_SANDBOX_NETWORK", cls.sandbox_network),
            sandbox_ro_paths=tuple(Path(p) for p in env.get("SUANLI_SANDBOX_RO_PATHS", "").split(":") if p),
            max_body_bytes=_int(env, "SUANLI_MAX_BODY_BYTES", cls.max_body_bytes),
            max_batch_body_bytes=_int(env, "SUANLI_MAX_BATCH_BODY_BYTES", cls.max_batch_body_bytes),
            max_json_depth=_int(env, "SUANLI_MAX_JSON_DEPTH", cls.max_json_depth),
            rate_limit_per_token=env.get("SUANLI_RATE_LIMIT_PER_TOKEN", cls.rate_limit_per_token),
            rate_limit_per_address=env.get("SUANLI_RATE_LIMIT_PER_ADDRESS", cls.rate_limit_per_address),
            auth_failure_limit=env.get("SUANLI_AUTH_FAILURE_LIMIT", cls.auth_failure_limit),
            order_wait_seconds=_seconds(env, "SUANLI_ORDER_WAIT_SECONDS", cls.order_wait_seconds),
            spot_notice_seconds=_seconds(env, "SUANLI_SPOT_NOTICE_SECONDS", cls.spot_notice_seconds),
            placement_mix_refresh_seconds=_seconds(env, "SUANLI_PLACEMENT_MIX_REFRESH_SECONDS",
                                                   cls.placement_mix_refresh_seconds),
            capacity_sample_seconds=_seconds(env, "SUANLI_CAPACITY_SAMPLE_SECONDS", cls.capacity_sample_seconds),
            lock_wait_seconds=_seconds(env, "SUANLI_LOCK_WAIT_SECONDS", cls.lock_wait_seconds),
            background_interval_seconds=_seconds(env, "SUANLI_BACKGROUND_INTERVAL_SECONDS",
                                                 cls.background_interval_seconds),
            leader_ttl_seconds=_seconds(env, "SUANLI_LEADER_TTL_SECONDS", cls.leader_ttl_seconds),
            whatif_max_seconds=_seconds(env, "SUANLI_WHATIF_MAX_SECONDS", cls.whatif_max_seconds),
            agent_heartbeat_s=_seconds(env, "SUANLI_AGENT_HEARTBEAT_S", cls.agent_heartbeat_s),
            agent_suspect_s=_seconds(env, "SUANLI_AGENT_SUSPECT_S", cls.agent_suspect_s),
            agent_down_s=_seconds(env, "SUANLI_AGENT_DOWN_S", cls.agent_down_s),
            agent_fence_s=_seconds(env, "SUANLI_AGENT_FENCE_S", cls.agent_fence_s),
            agent_kill_grace_s=_seconds(env, "SUANLI_AGENT_KILL_GRACE_S", cls.agent_kill_grace_s),
            inference_cold_start_wait_seconds=_seconds(env, "SUANLI_INFERENCE_COLD_START_WAIT_SECONDS",
                                                       cls.inference_cold_start_wait_seconds),
            inference_scale_down_seconds=_seconds(env, "SUANLI_INFERENCE_SCALE_DOWN_SECONDS",
                                                  cls.inference_scale_down_seconds),
            inference_health_interval_seconds=_seconds(env, "SUANLI_INFERENCE_HEALTH_INTERVAL_SECONDS",
                                                       cls.inference_health_interval_seconds),
            inference_max_replicas=_int(env, "SUANLI_INFERENCE_MAX_REPLICAS", cls.inference_max_replicas),
            energy_price=env.get("SUANLI_ENERGY_PRICE", cls.energy_price),
            inference_orphan_seconds=_orphan_seconds(env, "SUANLI_INFERENCE_ORPHAN_SECONDS",
                                                     cls.inference_orphan_seconds),
            inference_replica_tag=env.get("SUANLI_INFERENCE_REPLICA_TAG", cls.inference_replica_tag).strip(),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(s, **clean) if clean else s  # type: ignore[arg-type]

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{self.data_dir / 'suanli.db'}"
