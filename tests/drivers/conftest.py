"""Shared fixtures for driver tests: ``make_grant`` builds a LeaseGrant starting a few seconds ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from suanli.domain.catalog import Vendor
from suanli.drivers.base import WHOLE, DeviceAllocation, LeaseGrant


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def grant(lease_id: str = "L1", *, tenant: str = "tenant-a", node: str = "n1",
          devices: tuple[int, ...] = (0, 1), vendor: Vendor = Vendor.NVIDIA, model: str | None = None,
          start: datetime | None = None, end: datetime | str | None = "default",
          milli: tuple[int, ...] | None = None, extra: tuple[DeviceAllocation, ...] = ()) -> LeaseGrant:
    start = start or now() - timedelta(seconds=5)
    end_ = start + timedelta(hours=1) if end == "default" else end
    assert not isinstance(end_, str)
    alloc = DeviceAllocation(node=node, device_indices=devices,
                             device_milli=milli or tuple(WHOLE for _ in devices), vendor=vendor, model=model)
    return LeaseGrant(lease_id=lease_id, tenant=tenant, start=start, end=end_, allocations=(alloc, *extra))


@pytest.fixture
def make_grant():  # type: ignore[no-untyped-def]
    return grant
