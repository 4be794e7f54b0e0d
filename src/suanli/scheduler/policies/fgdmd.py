"""fgd+md — fgd+ with a multi-resource fragmentation measure (issue 15): host memory and NIC
bandwidth strand GPUs as CPU does.

FGD counts a node's idle GPU milli as fragment for a typical pod the node cannot host; its test is
GPUs and CPU only, so a node whose GPUs are idle but whose memory is exhausted still looks whole
to it, and a placement that uses up a node's memory while leaving its GPUs idle costs nothing in
its measure. fgd+md measures:

* *Fragmentation* against typical pods that carry host memory and NIC bandwidth (the
  count-weighted median of the pods of each spec, :meth:`TypicalPods.from_specs`): a typical pod
  whose memory (or NIC) the node lacks finds every idle GPU milli of the node a fragment
  (:class:`suanli.scheduler.frag.FragModel` with ``resources=True``).
* *Stranding*: fgd+'s CPU-stranding term generalised: the GPU milli a node can still use is
  limited by each host resource at the workload's ratio per GPU milli (CPU, memory, NIC: the
  count-weighted sums of the typical GPU pods' requests over their GPU demand), and
  ``max(0, idle − min_r free_r / ratio_r)`` is stranded; its change is added to ``ΔF`` with
  fgd+'s ``cpu_weight``.

Every other term (exact ``ΔF``, demand and scarcity weights, exclusive specs, the LP gap value of
shares, the reservation price, CPU-only surplus fit) is fgd+'s. On a fleet whose memory is not
constrained (the FGD protocol) memory never binds, and its decisions differ from fgd+'s only
where the memory terms tie-break differently. NIC counts only on a fleet that tracks it
(:attr:`FleetState.nic_free_mbps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.scheduler.frag import TypicalPods
from suanli.scheduler.policies.fgdplus import FGDPlusPolicy
from suanli.scheduler.policies.simple import request_gpu_milli
from suanli.scheduler.types import FleetState, PlacementRequest


class FGDPlusMDPolicy(FGDPlusPolicy):
    name: str = "fgd+md"
    resources: bool = True

    def __init__(self, typical: TypicalPods | None = None, **options: Any) -> None:
        super().__init__(typical, **options)
        gpu_pods = [p for p in self.typical.pods if p.num_devices > 0]
        demand = sum(p.count * p.num_devices * p.device_milli for p in gpu_pods)
        #: host memory (MiB) and NIC (Mbps) the workload's GPU pods ask per GPU milli
        self.mem_per_gpu_milli = sum(p.count * p.mem_mib for p in gpu_pods) / demand if demand else 0.0
        self.nic_per_gpu_milli = sum(p.count * p.nic_mbps for p in gpu_pods) / demand if demand else 0.0

    def set_typical(self, typical: TypicalPods, workload: TypicalPods | None = None) -> None:
        FGDPlusMDPolicy.__init__(self, typical, workload=workload, **self._options)
        self.reset_cache()

    def _usable(self, cpu: np.ndarray, mem: np.ndarray | None, nic: np.ndarray | None) -> np.ndarray:
        """GPU milli the host resources still let the workload use (inf where none limits)."""
        out = np.full(np.shape(cpu), np.inf)
        for free, ratio in ((cpu, self.cpu_per_gpu_milli), (mem, self.mem_per_gpu_milli),
                            (nic, self.nic_per_gpu_milli)):
            if free is not None and ratio > 0:
                out = np.minimum(out, np.maximum(free, 0) / ratio)
        return out

    def _strand_change(self, state: FleetState, req: PlacementRequest, rows: np.ndarray) -> np.ndarray:
        """Change of the GPU milli stranded by CPU, memory or NIC (see the module docstring)."""
        idle = state.idle_milli[rows].astype(np.float64)
        cpu = state.cpu_free_milli[rows].astype(np.float64)
        mem = state.mem_free_mib[rows].astype(np.float64) if self.mem_per_gpu_milli > 0 else None
        nic = None
        if self.nic_per_gpu_milli > 0 and state.nic_free_mbps is not None:
            nic = state.nic_free_mbps[rows].astype(np.float64)
        before = np.maximum(0.0, idle - self._usable(cpu, mem, nic))
        if req.whole_node:
            after = np.zeros(rows.size)
        else:
            after = np.maximum(0.0, idle - request_gpu_milli(req) - self._usable(
                cpu - req.cpu_milli, None if mem is None else mem - req.mem_mib,
                None if nic is None else nic - req.nic_mbps))
        out: np.ndarray = after - before
        return out
