"""SUANLI_TIME_ZONE: the operator's zone, validated as an IANA name when the server starts; GET /v1/me says it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanli.api.app import create_app
from suanli.errors import ValidationError
from suanli.service import accounts
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.clock import FakeClock


def test_default_is_asia_shanghai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_TIME_ZONE", raising=False)
    assert Settings.from_env().time_zone == "Asia/Shanghai"


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC", "America/New_York"])
def test_an_iana_zone_is_taken(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("SUANLI_TIME_ZONE", zone)
    assert Settings.from_env().time_zone == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia", "../etc/passwd", "+08:00", "a" * 300])
def test_anything_else_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("SUANLI_TIME_ZONE", zone)
    with pytest.raises(ValidationError) as e:
        Settings.from_env()
    assert "SUANLI_TIME_ZONE" in e.value.message and "Asia/Shanghai" in e.value.message


def test_me_says_the_time_zone(tmp_path: Path, clock: FakeClock) -> None:
    p = Platform(Settings(data_dir=tmp_path / "data", driver="none", time_zone="Europe/Berlin"), clock=clock)
    token = accounts.bootstrap_operator(p)
    try:
        with TestClient(create_app(p)) as c:
            doc = c.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    finally:
        p.close()
    assert doc["time_zone"] == "Europe/Berlin"
