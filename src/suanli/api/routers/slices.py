from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from suanli.api.deps import PlatformDep, PrincipalDep
from suanli.api.schemas.common import Name
from suanli.api.schemas.slices import SliceProfilesResponse
from suanli.service import slicing

router = APIRouter(tags=["slices"])


@router.get("/v1/slices/profiles", response_model=list[SliceProfilesResponse])
def slice_profiles(p: PlatformDep, who: PrincipalDep, model: Name | None = None) -> list[dict[str, Any]]:
    """Per accelerator model (or the one named): how this server enforces a slice of it (MIG profile, vNPU
    template, MPS or HAMi limits, or none) and the sizes it can sell (docs/slices.md)."""
    return slicing.profiles(p, who, model)
