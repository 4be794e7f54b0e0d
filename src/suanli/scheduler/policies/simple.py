"""Shared helpers of the artifact baselines (integer scores as in the Kubernetes framework)."""

from __future__ import annotations

import numpy as np

from suanli.scheduler.types import MILLI, FleetState, PlacementRequest

#: the artifact normalises CPU by 128 cores and GPU by 8 devices ("MaxSpecCpu", "MaxSpecGpu");
#: a fleet with bigger nodes widens them so that scores stay in 0..100
MAX_SPEC_CPU = 128_000
MAX_SPEC_GPU = 8_000


def max_specs(state: FleetState) -> tuple[float, float]:
    cpu = float(max(MAX_SPEC_CPU, int(state.cpu_total_milli.max(initial=0))))
    gpu = float(max(MAX_SPEC_GPU, int(state.dev_total.max(initial=0))))
    return cpu, gpu


def request_gpu_milli(req: PlacementRequest) -> int:
    return req.num_devices * req.device_milli if req.num_devices else 0


def trunc_score(x: np.ndarray) -> np.ndarray:
    """Go's ``int64(float)``: truncation toward zero, kept as float for the tie test."""
    out: np.ndarray = np.trunc(x)
    return out


__all__ = ["MILLI", "max_specs", "request_gpu_milli", "trunc_score"]
