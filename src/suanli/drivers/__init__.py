"""Execution engines behind one small protocol (:mod:`suanli.drivers.base`).

- :class:`suanli.drivers.local.LocalDriver`: local processes, the embedded default.
- :class:`suanli.drivers.slurm.SlurmDriver`: Slurm reservations + jobs (slurmrestd / CLI).
- :mod:`suanli.drivers.telemetry`: per-device readings (NVML) or nothing.
- :mod:`suanli.drivers.retry`: back-off for unreachable engines.

Drivers import only :mod:`suanli.domain` and :mod:`suanli.errors`.
"""

from suanli.drivers.base import (
    WHOLE,
    Capabilities,
    DeviceAllocation,
    Driver,
    Feature,
    JobHandle,
    JobSpec,
    JobState,
    JobStatus,
    JobUsage,
    LeaseGrant,
    NodeHealth,
    NodeState,
    ProvisionResult,
)

__all__ = [
    "WHOLE", "Capabilities", "DeviceAllocation", "Driver", "Feature", "JobHandle", "JobSpec", "JobState",
    "JobStatus", "JobUsage", "LeaseGrant", "NodeHealth", "NodeState", "ProvisionResult",
]
