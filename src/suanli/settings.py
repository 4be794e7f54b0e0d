"""One Settings object, read from the environment (``SUANLI_*``) once and passed in.

No module-level configuration: build ``Settings.from_env()`` at the edge (CLI, app factory) and
hand it down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _default_data_dir() -> Path:
    return Path(os.environ.get("SUANLI_DATA_DIR", Path.home() / ".local" / "share" / "suanli"))


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; ``None`` means the SQLite file ``<data_dir>/suanli.db``."""
    placement_policy: str = "fgd"
    """Name of the scheduler policy used for orders (see ``suanli.scheduler.registry``)."""
    currency: str = "CNY"
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
    sla_min_credit_seconds: int = 3600
    """Each interruption credits at least this much of the lease's price (work in flight is lost)."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        s = cls(
            data_dir=Path(env["SUANLI_DATA_DIR"]) if "SUANLI_DATA_DIR" in env else _default_data_dir(),
            database_url=env.get("SUANLI_DATABASE_URL") or None,
            placement_policy=env.get("SUANLI_PLACEMENT_POLICY", cls.placement_policy),
            currency=env.get("SUANLI_CURRENCY", cls.currency),
            commission_rate=env.get("SUANLI_COMMISSION_RATE", cls.commission_rate),
            tax_rate=env.get("SUANLI_TAX_RATE", cls.tax_rate),
            driver=env.get("SUANLI_DRIVER", cls.driver),
            slurm_rest_url=env.get("SUANLI_SLURM_REST_URL") or None,
            slurm_partition=env.get("SUANLI_SLURM_PARTITION") or None,
            slurm_job_dir=Path(env["SUANLI_SLURM_JOB_DIR"]) if env.get("SUANLI_SLURM_JOB_DIR") else None,
            slurm_accounting=env.get("SUANLI_SLURM_ACCOUNTING", "1") not in ("0", "false", "no"),
            sandbox=env.get("SUANLI_SANDBOX", cls.sandbox),
            sandbox_network=env.get("SUANLI_SANDBOX_NETWORK", cls.sandbox_network),
            sandbox_ro_paths=tuple(Path(p) for p in env.get("SUANLI_SANDBOX_RO_PATHS", "").split(":") if p),
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
