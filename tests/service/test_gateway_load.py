"""The gateway's load tracker and the short Unix-socket paths (service.gateway_load, service.uds)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from suanli.errors import ValidationError
from suanli.service import gateway_load, uds
from suanli.service.platform import Platform
from suanli.testing.clock import FakeClock


def test_least_outstanding_with_ties_by_lowest_id(platform: Platform, clock: FakeClock) -> None:
    p = platform
    assert gateway_load.acquire(p, "dep_a", []) is None
    assert gateway_load.load_of(p, "dep_a") == (0, 0)
    picks = [gateway_load.acquire(p, "dep_a", ["rep_2", "rep_1"]) for _ in range(3)]
    assert picks == ["rep_1", "rep_2", "rep_1"]
    assert gateway_load.load_of(p, "dep_a") == (3, 0)
    gateway_load.end(p, "dep_a", "rep_1")
    gateway_load.end(p, "dep_a", "rep_1")
    assert gateway_load.least_loaded(p, "dep_a", ["rep_1", "rep_2"]) == "rep_1"
    assert gateway_load.inflight_of(p, "dep_a", "rep_2") == 1
    gateway_load.begin_wait(p, "dep_a")
    assert gateway_load.load_of(p, "dep_a") == (1, 1)
    gateway_load.end_wait(p, "dep_a")
    gateway_load.end(p, "dep_a", "rep_2")
    gateway_load.end(p, "dep_a", "rep_2")  # one end too many never goes below zero
    assert gateway_load.load_of(p, "dep_a") == (0, 0)
    assert gateway_load.load_of(p, "dep_b") == (0, 0)
    assert gateway_load.last_request_at(p, "dep_a") == clock.now()
    assert gateway_load.last_request_at(p, "dep_b") is None


def _listen(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


def test_a_long_socket_path_is_reached_through_the_directory_descriptor(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "work"
    deep.mkdir(parents=True)
    sock = str(deep / "runtime.sock")
    assert len(sock) > uds.MAX_SUN_PATH
    short = uds.connect_path(f"unix:{sock}")
    assert short.startswith("/proc/self/fd/") and short.endswith("/runtime.sock")
    assert str(deep) in uds.held_directories()
    old = os.getcwd()
    os.chdir(deep)  # bind by a relative name: the full path is too long for bind(2) as well
    try:
        server = _listen("runtime.sock")
    finally:
        os.chdir(old)
    with server, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.connect(short)
        conn, _ = server.accept()
        conn.close()
    assert uds.connect_path(f"unix:{sock}") == short  # one descriptor per directory
    uds.release(f"unix:{sock}")
    assert str(deep) not in uds.held_directories()
    with pytest.raises(OSError):
        os.fstat(int(short.split("/")[4]))


def test_short_paths_are_used_as_they_are_and_bad_endpoints_refused(tmp_path: Path) -> None:
    assert uds.connect_path("unix:/run/x.sock") == "/run/x.sock"
    with pytest.raises(ValidationError, match="unix:/absolute/path"):
        uds.connect_path("http://127.0.0.1:8000")
    uds.release("http://127.0.0.1:8000")  # nothing held: no error
