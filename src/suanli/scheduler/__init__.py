"""suanli.scheduler — the placement engine (pure: numpy, stdlib, suanli.domain, suanli.errors).

Public API::

    from suanli.scheduler import (FleetState, PlacementRequest, Placement, NoFit, Policy,
                                  get_policy, policy_names)

    state = FleetState(...)                  # or FleetState.from_nodes(...)
    policy = get_policy("fgd")               # one policy object per fleet (it caches per node)
    decision = policy.place(state, PlacementRequest(cpu_milli=8000, num_devices=1), rng)
    if isinstance(decision, Placement):
        state.apply(decision)                # release(decision) gives it back

Request kinds: CPU-only (``num_devices=0``); ``k`` whole devices on one node; a share of one
device (``num_devices=1, device_milli<1000``); a whole node (``whole_node``); a gang of whole
nodes in one fabric domain (``gang_nodes``); ``spread_devices`` whole devices over the fewest
nodes of one fabric domain (``cpu_milli``/``mem_mib`` then per device). Every decision carries
its ``reason``; :class:`NoFit` says why nothing fits. When the fleet carries ``dev_cost``, ties
of the policy score go to the cheaper devices (``fgd+`` applies cost before its best-fit
tie-break); there is no separate cost-only policy.
"""

from suanli.scheduler.base import NodeScorePolicy, Policy
from suanli.scheduler.frag import FragModel, TypicalPod, TypicalPods
from suanli.scheduler.registry import ARTIFACT_NAMES, get_policy, policy_names, register
from suanli.scheduler.types import MILLI, FleetState, NoFit, Placement, PlacementRequest

__all__ = [
    "ARTIFACT_NAMES",
    "MILLI",
    "FleetState",
    "FragModel",
    "NoFit",
    "NodeScorePolicy",
    "Placement",
    "PlacementRequest",
    "Policy",
    "TypicalPod",
    "TypicalPods",
    "get_policy",
    "policy_names",
    "register",
]
