"""The agent-host harness itself: namespaces come up with their own addresses, a server on this
machine's side is reachable from each of them, a partition cuts exactly one host off, healing
brings it back, and everything is gone afterwards, also when the test inside failed."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from netns_hosts import SERVER_ADDR, free_port, netns_lab, our_namespaces, require_netns, until


class _Who(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.client_address[0].encode()  # the address the request came from
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def who_server() -> Iterator[str]:
    """A plain HTTP server on the lab's server address that answers with the caller's address."""
    srv = ThreadingHTTPServer((SERVER_ADDR, free_port(SERVER_ADDR)), _Who)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://{SERVER_ADDR}:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read().decode())"


def fetch_from(lab, k: int, url: str, timeout: float = 2.0) -> str | None:  # type: ignore[no-untyped-def]
    r = lab.run(k, [sys.executable, "-c", FETCH, url, str(timeout)], timeout=timeout + 20)
    return r.stdout.strip() if r.returncode == 0 else None


def test_hosts_reach_the_server_by_their_own_address_and_a_partition_cuts_only_one(tmp_path: Path) -> None:
    with netns_lab(3, tmp_path) as lab:
        assert sorted(our_namespaces()) == ["sl14h1", "sl14h2", "sl14h3"]
        for k in (1, 2, 3):
            addrs = lab.run(k, ["ip", "-4", "-o", "addr", "show"]).stdout
            assert f"10.214.{k}.2/24" in addrs
        with who_server() as url:
            for k in (1, 2, 3):  # each host is seen by the server under its own address
                assert fetch_from(lab, k, url) == f"10.214.{k}.2"
            lab.partition(2)
            assert fetch_from(lab, 2, url, timeout=1.0) is None  # no answer across a cut link
            assert fetch_from(lab, 1, url) == "10.214.1.2" and fetch_from(lab, 3, url) == "10.214.3.2"
            lab.heal(2)
            assert until("host 2 reaching the server after the heal", lambda: fetch_from(lab, 2, url), timeout=20) \
                == "10.214.2.2"
            # a process started in a host is that host's: kill -9 by its PID ends it
            p = lab.start(1, "sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
            assert p.alive()
            p.kill9()
            assert not p.alive() and p.proc.returncode == -9
            lab.start(3, "left-running", [sys.executable, "-c", "import time; time.sleep(600)"])
    assert lab.left_behind == ([], [])
    assert all(not hp.alive() for hp in lab.processes)  # teardown stopped what was left running


def test_everything_is_removed_when_the_test_inside_fails(tmp_path: Path) -> None:
    require_netns()
    with pytest.raises(RuntimeError, match="inside"), netns_lab(2, tmp_path) as lab:
        lab.start(2, "left-running", [sys.executable, "-c", "import time; time.sleep(600)"])
        lab.partition(1)
        raise RuntimeError("a failure inside the lab")
    assert lab.left_behind == ([], [])
    assert not lab.processes[0].alive()
