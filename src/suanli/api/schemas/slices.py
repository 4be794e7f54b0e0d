"""Wire schemas of enforced slices (docs/slices.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SliceSizeResponse(BaseModel):
    name: str = Field(description="MIG profile (e.g. 1g.10gb) or vNPU template (e.g. vir05_1c_16g)")
    share_pct: int = Field(description="compute share the size holds, whole percent (rounded down)")
    memory_mib: int = Field(description="device memory the size holds")
    milli: int = Field(description="thousandths of the device a slice of this size is billed and counted as")
    starts: list[int] = Field(description="MIG: the memory slices (0-7) an instance may start at; [] otherwise")


class SliceProfilesResponse(BaseModel):
    model: str
    vendor: str
    enforcement: str = Field(description="the mechanism this server's backend holds a slice of the model with: "
                                         "mig | hami | mps | vnpu | none")
    mechanisms: list[str] = Field(description="every mechanism that could enforce the model, best first")
    backend: list[str] = Field(description="the mechanisms this server's backend declares")
    sizes: list[SliceSizeResponse] = Field(description="the fixed sizes (MIG, vNPU); [] where any size is allowed")
    summary: str
