"""Accelerator catalog: the specs that turn devices into P (1 P = 1 PFLOPS dense FP16/BF16).

The built-in models live in :mod:`suanli.domain.catalog_data` (``builtin_catalog()``); an operator extends or overrides
them with :meth:`Catalog.with_models` (the CLI/API read a YAML file and pass the parsed rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from suanli.errors import NotFoundError, ValidationError


class Vendor(StrEnum):
    NVIDIA = "nvidia"
    HUAWEI = "huawei"
    CAMBRICON = "cambricon"
    HYGON = "hygon"
    AMD = "amd"
    OTHER = "other"


class DeviceKind(StrEnum):
    GPU = "gpu"
    NPU = "npu"
    """NPU / DSA (domain-specific accelerator): Ascend, MLU."""


VISIBLE_DEVICES_ENV: dict[Vendor, str] = {
    Vendor.NVIDIA: "CUDA_VISIBLE_DEVICES",
    Vendor.HUAWEI: "ASCEND_RT_VISIBLE_DEVICES",
    Vendor.CAMBRICON: "MLU_VISIBLE_DEVICES",
    Vendor.HYGON: "HIP_VISIBLE_DEVICES",
    Vendor.AMD: "HIP_VISIBLE_DEVICES",
    Vendor.OTHER: "VISIBLE_DEVICES",
}
"""Environment variable that pins a process to devices, per vendor's runtime."""


@dataclass(frozen=True)
class AcceleratorModel:
    """One accelerator model. ``fp16_tflops`` is the dense FP16/BF16 tensor figure: the P basis."""

    name: str
    vendor: Vendor
    kind: DeviceKind
    memory_gib: int
    fp16_tflops: Decimal
    fp32_tflops: Decimal
    tdp_watts: int
    interconnect_gbps: int
    """Scale-up (NVLink / HCCS / MLU-Link / PCIe) bandwidth per device, GB/s, bidirectional."""
    source: str
    aliases: tuple[str, ...] = field(default=())

    @property
    def p(self) -> Decimal:
        """Compute of one device in P (PFLOPS dense FP16)."""
        return self.fp16_tflops / Decimal(1000)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "vendor": self.vendor.value, "kind": self.kind.value,
            "memory_gib": self.memory_gib, "fp16_tflops": str(self.fp16_tflops),
            "fp32_tflops": str(self.fp32_tflops), "tdp_watts": self.tdp_watts,
            "interconnect_gbps": self.interconnect_gbps, "source": self.source,
            "aliases": list(self.aliases),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AcceleratorModel:
        """Validate an operator-supplied row (YAML/JSON) into a model."""
        required = ("name", "vendor", "kind", "memory_gib", "fp16_tflops", "fp32_tflops", "tdp_watts")
        missing = [k for k in required if k not in raw]
        if missing:
            raise ValidationError(f"accelerator model is missing {', '.join(missing)}", missing=missing)
        name = str(raw["name"])
        if not name.strip() or len(name) > 64:
            raise ValidationError(f"model name {name[:40]!r} must have 1 to 64 characters", field="name")
        try:
            vendor = Vendor(str(raw["vendor"]).lower())
        except ValueError:
            raise ValidationError(
                f"model {name}: unknown vendor {raw['vendor']!r}; allowed: {', '.join(v.value for v in Vendor)}"
            ) from None
        try:
            kind = DeviceKind(str(raw["kind"]).lower())
        except ValueError:
            raise ValidationError(
                f"model {name}: unknown kind {raw['kind']!r}; allowed: {', '.join(k.value for k in DeviceKind)}"
            ) from None
        try:
            m = cls(
                name=name, vendor=vendor, kind=kind, memory_gib=int(raw["memory_gib"]),
                fp16_tflops=Decimal(str(raw["fp16_tflops"])), fp32_tflops=Decimal(str(raw["fp32_tflops"])),
                tdp_watts=int(raw["tdp_watts"]), interconnect_gbps=int(raw.get("interconnect_gbps", 0)),
                source=str(raw.get("source", "operator")), aliases=tuple(raw.get("aliases", ()) or ()),
            )
        except (ValueError, ArithmeticError) as e:
            raise ValidationError(f"model {name}: bad number ({e})") from None
        if not (m.fp16_tflops.is_finite() and m.fp32_tflops.is_finite()):
            raise ValidationError(f"model {name}: fp16_tflops and fp32_tflops must be finite numbers")
        if m.memory_gib <= 0 or m.fp16_tflops <= 0 or m.tdp_watts <= 0:
            raise ValidationError(f"model {name}: memory_gib, fp16_tflops and tdp_watts must be > 0")
        return m


class Catalog:
    """Models by name; lookup is case-insensitive and accepts aliases."""

    def __init__(self, models: Iterable[AcceleratorModel]) -> None:
        self._models: dict[str, AcceleratorModel] = {}
        self._index: dict[str, str] = {}
        for m in models:
            self._models[m.name] = m
        for m in self._models.values():
            for key in (m.name, *m.aliases):
                self._index[key.lower()] = m.name

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def get(self, name: str) -> AcceleratorModel:
        key = self._index.get(name.lower())
        if key is None:
            raise NotFoundError(
                f"unknown accelerator model {name!r}; known: {', '.join(sorted(self._models))}",
                field="model", allowed=sorted(self._models),
            )
        return self._models[key]

    def names(self) -> list[str]:
        return sorted(self._models)

    def with_models(self, models: Iterable[AcceleratorModel]) -> Catalog:
        """A new catalog where ``models`` add to or replace the built-in ones (by name)."""
        return Catalog([*self._models.values(), *models])


__all__ = ["VISIBLE_DEVICES_ENV", "AcceleratorModel", "Catalog", "DeviceKind", "Vendor"]
