"""Agent hosts as Linux network namespaces on this machine (issue 14 item 4; recipe in
/work/shared/recipes/sandbox-and-netns.md, walkthrough in docs/agents.md).

:class:`NetnsLab` makes ``n`` hosts: namespace ``sl14hK`` joined to this machine by a veth pair
(``sl14vK`` on this side, ``sl14pK`` inside), subnet ``10.214.K.0/24`` (this side ``.1``, the host
``.2``, its default route through ``.1``). The server's own address, ``10.214.0.1``, sits on a
port-less bridge ``sl14srv`` on this side, so a server bound there is reachable from every host
and from this machine, and stays reachable when one host's link is cut. ``partition(K)`` sets
``sl14vK`` down (the host's requests get no answer), ``heal(K)`` sets it up again.

Everything is removed on the way out, whatever happened: the processes started in the hosts (by
PID), the veths, the namespaces and the bridge. One lab at a time on a machine (a file lock), and
leftovers of a run that was killed are removed before a new lab is made.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import pytest

PREFIX = "sl14"
SERVER_IF = f"{PREFIX}srv"
SERVER_ADDR = "10.214.0.1"
LOCK = Path("/run/lock/suanli-sl14-netns.lock")
REQUIRE = os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1"

T = TypeVar("T")


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be made here (None when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add); this test runs as root in CI (scripts/test)"
    if shutil.which("ip") is None:
        return "the `ip` command (Debian package iproute2) is missing; scripts/test installs it"
    return None


def require_netns() -> None:
    """Skip loudly where namespaces cannot be made; with SUANLI_TEST_REQUIRE_SERVICES=1 fail instead."""
    why = netns_unavailable()
    if why is None:
        return
    if REQUIRE:
        pytest.fail(f"agent hosts in network namespaces required but unavailable: {why}")
    pytest.skip(f"SKIPPED LOUDLY: agent hosts in network namespaces unavailable: {why}")


def until(what: str, fn: Callable[[], T | None], timeout: float = 30.0, every: float = 0.1,
          what_else: Callable[[], object] | None = None) -> T:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` (and ``what_else()``, the
    state seen last) after ``timeout`` seconds. Waiting on real processes across real links: bounded,
    never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; last seen: {what_else()}" if what_else is not None else ""
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}{seen}")
        time.sleep(every)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def our_namespaces() -> list[str]:
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(PREFIX)]


def our_links() -> list[str]:
    out = ip("-o", "link", "show", check=False).stdout
    names = []
    for line in out.splitlines():
        name = line.split(":", 2)[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            names.append(name)
    return names


def free_port(addr: str) -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


@dataclass
class HostProcess:
    """A process started in a host (``ip netns exec`` execs it: its PID is the process itself)."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill9()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Host:
    index: int
    ns: str
    outer: str  # veth on this machine's side: the one partition() sets down
    inner: str
    address: str  # the host's own address inside its namespace
    gateway: str  # this machine's side of the link


@dataclass
class NetnsLab:
    n: int
    workdir: Path
    hosts: list[Host] = field(default_factory=list)
    processes: list[HostProcess] = field(default_factory=list)
    left_behind: tuple[list[str], list[str]] | None = None
    """Namespaces and links of ours still there after down(), seen while the lock was held (another
    run's lab may come up right after)."""
    _lock: IO[str] | None = None

    def host(self, k: int) -> Host:
        return self.hosts[k - 1]

    def argv(self, k: int, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.host(k).ns, *argv]

    def run(self, k: int, argv: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a command on host K and wait for it (bounded)."""
        return subprocess.run(self.argv(k, argv), capture_output=True, text=True, timeout=timeout)

    def start(self, k: int, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> HostProcess:
        """Start a long-running process on host K; it is stopped at teardown if still alive."""
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(self.argv(k, argv), stdout=out, stderr=subprocess.STDOUT,
                                    env=dict(env) if env is not None else None, start_new_session=True)
        hp = HostProcess(name, proc, log)
        self.processes.append(hp)
        return hp

    def partition(self, k: int) -> None:
        ip("link", "set", self.host(k).outer, "down")

    def heal(self, k: int) -> None:
        ip("link", "set", self.host(k).outer, "up")

    # set-up and tear-down

    def _take_lock(self, timeout: float = 600.0) -> None:
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        f = LOCK.open("w")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    f.close()
                    pytest.fail(f"another agent-host lab held {LOCK} for {timeout:g} s")
                time.sleep(0.5)  # another test run's lab: wait for its lock, bounded above
        self._lock = f

    def _remove_all(self) -> None:
        """Remove every namespace and link of ours (this lab's, or a killed run's: we hold the lock)."""
        for ns in our_namespaces():
            for pid in ip("netns", "pids", ns, check=False).stdout.split():
                with suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            ip("netns", "del", ns, check=False)
        for link in our_links():
            ip("link", "del", link, check=False)

    def up(self) -> None:
        self._take_lock()
        self._remove_all()
        ip("link", "add", SERVER_IF, "type", "bridge")
        ip("addr", "add", f"{SERVER_ADDR}/32", "dev", SERVER_IF)
        ip("link", "set", SERVER_IF, "up")
        for k in range(1, self.n + 1):
            h = Host(k, f"{PREFIX}h{k}", f"{PREFIX}v{k}", f"{PREFIX}p{k}", f"10.214.{k}.2", f"10.214.{k}.1")
            ip("netns", "add", h.ns)
            self.hosts.append(h)
            ip("link", "add", h.outer, "type", "veth", "peer", "name", h.inner)
            ip("link", "set", h.inner, "netns", h.ns)
            ip("addr", "add", f"{h.gateway}/24", "dev", h.outer)
            ip("link", "set", h.outer, "up")
            ip("-n", h.ns, "addr", "add", f"{h.address}/24", "dev", h.inner)
            ip("-n", h.ns, "link", "set", h.inner, "up")
            ip("-n", h.ns, "link", "set", "lo", "up")
            ip("-n", h.ns, "route", "add", "default", "via", h.gateway)

    def down(self) -> None:
        try:
            for hp in reversed(self.processes):
                try:
                    hp.stop(grace_s=5.0)
                except (OSError, subprocess.SubprocessError):
                    hp.kill9()
            self._remove_all()
            self.left_behind = (our_namespaces(), our_links())
        finally:
            if self._lock is not None:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
                self._lock.close()
                self._lock = None


@contextmanager
def netns_lab(n: int, workdir: Path) -> Iterator[NetnsLab]:
    """``n`` agent hosts, removed on the way out whatever happened."""
    require_netns()
    workdir.mkdir(parents=True, exist_ok=True)
    lab = NetnsLab(n, workdir)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
