"""A runtime whose control plane is gone stops itself: ``--orphan-seconds N`` (the real process on a real
Unix socket). Nobody probing ``GET /health`` for N seconds -> a graceful stop, the reason on stderr, exit
status 3, the socket removed; probed more often than that, it stays up."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from suanli.runtime.main import ORPHANED_EXIT_CODE, main

START_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 30


def raw(sock: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://runtime", timeout=10)


def start(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    sock = tmp / "runtime.sock"
    proc = subprocess.Popen([sys.executable, "-m", "suanli.runtime", "serve", "--uds", str(sock), "--model",
                             "tiny-gpt", *args], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:  # bounded poll until the socket answers /health
        if proc.poll() is not None:
            raise AssertionError(f"runtime exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        if sock.exists():
            try:
                with raw(sock) as h:
                    if h.get("/health").status_code == 200:
                        return proc, sock
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError("runtime did not answer /health in time")


def test_probed_it_stays_up_then_unprobed_it_stops_itself(tmp_path: Path) -> None:
    proc, sock = start(tmp_path, "--orphan-seconds", "1", "--tag", "orphan-test")
    try:
        # probed every 0.2 s for 3 orphan periods: still serving
        with raw(sock) as h:
            until = time.monotonic() + 3.0
            while time.monotonic() < until:
                assert h.get("/health").status_code == 200
                assert proc.poll() is None, "stopped although probed"
                time.sleep(0.2)  # the probe's period (the control plane's health interval)
            # other requests do not count as the control plane's probe
            assert h.get("/metrics-json").status_code == 200
        t0 = time.monotonic()
        code = proc.wait(timeout=EXIT_TIMEOUT_S)  # nobody probes now: it stops by itself
        waited = time.monotonic() - t0
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert code == ORPHANED_EXIT_CODE, out
        assert "no GET /health for" in out and "control plane is gone" in out, out
        assert waited < 10, waited
        assert not sock.exists(), "the socket is removed on the graceful path"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_orphan_seconds_zero_never_stops(tmp_path: Path) -> None:
    proc, sock = start(tmp_path, "--orphan-seconds", "0")
    try:
        # 2.5 s unprobed (more than the 1 s above) and it still answers; then SIGTERM ends it with status 0-ish
        assert proc.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2.5)  # a bounded wait that must run out: nothing stops it
        with raw(sock) as h:
            assert h.get("/health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=EXIT_TIMEOUT_S)


@pytest.mark.parametrize("args, field", [
    (["--orphan-seconds", "-1"], "--orphan-seconds"),
    (["--orphan-seconds", "nan"], "--orphan-seconds"),
    (["--orphan-seconds", "1e9"], "--orphan-seconds"),
    (["--tag", "a b"], "--tag"),
    (["--tag", "x" * 65], "--tag"),
])
def test_bad_orphan_seconds_and_tag_are_refused(args: list[str], field: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", "tiny-gpt", "--uds", "/nonexistent/x.sock", *args]) == 2
    assert field in capsys.readouterr().err
