"""Policies by name. ``get_policy(name, **options)`` builds a fresh policy object (policies
keep per-fleet caches, so use one object per fleet/simulation); unknown names raise
:class:`suanli.errors.ValidationError` listing the allowed ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from suanli.errors import ValidationError
from suanli.scheduler.base import Policy
from suanli.scheduler.policies.bestfit import BestFitPolicy
from suanli.scheduler.policies.clustering import GpuClusteringPolicy
from suanli.scheduler.policies.dotprod import DotProdPolicy
from suanli.scheduler.policies.fgd import FGDPolicy
from suanli.scheduler.policies.fgdmd import FGDPlusMDPolicy
from suanli.scheduler.policies.fgdplus import FGDPlusPolicy
from suanli.scheduler.policies.packing import GpuPackingPolicy
from suanli.scheduler.policies.random_policy import RandomPolicy

_REGISTRY: dict[str, Callable[..., Policy]] = {
    "random": lambda **o: RandomPolicy(),
    "dotprod": lambda **o: DotProdPolicy(),
    "gpuclustering": lambda **o: GpuClusteringPolicy(),
    "gpupacking": lambda **o: GpuPackingPolicy(),
    "bestfit": lambda **o: BestFitPolicy(),
    "fgd": lambda **o: FGDPolicy(**o),
    "fgd+": lambda **o: FGDPlusPolicy(**o),
    "fgd+md": lambda **o: FGDPlusMDPolicy(**o),
}

#: the FGD artifact's names (01-Random …) map onto ours
ARTIFACT_NAMES = {
    "01-Random": "random",
    "02-DotProd": "dotprod",
    "03-GpuClustering": "gpuclustering",
    "04-GpuPacking": "gpupacking",
    "05-BestFit": "bestfit",
    "06-FGD": "fgd",
}


def register(name: str, factory: Callable[..., Policy]) -> None:
    _REGISTRY[name] = factory


def policy_names() -> list[str]:
    return list(_REGISTRY)


def get_policy(name: str, **options: Any) -> Policy:
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise ValidationError(
            f"unknown placement policy {name!r}; allowed: {', '.join(policy_names())}",
            field="policy",
            allowed=policy_names(),
        )
    return _REGISTRY[key](**options)
