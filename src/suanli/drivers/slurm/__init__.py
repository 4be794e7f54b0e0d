"""Slurm driver: leases as reservations, jobs via slurmrestd / CLI, usage from sacct.

See :mod:`suanli.drivers.slurm.driver` for the mapping and which interface serves what.
"""

from suanli.drivers.slurm.driver import SlurmConfig, SlurmDriver, job_state
from suanli.drivers.slurm.fleet import Gres, SlurmFleet, SlurmNode, SlurmPartition

__all__ = ["Gres", "SlurmConfig", "SlurmDriver", "SlurmFleet", "SlurmNode", "SlurmPartition", "job_state"]
