"""``suanli serve --demo`` as a real process on 127.0.0.1: for end-to-end tests and the money benchmarks.

:func:`start_serve` starts it on a free port, waits (bounded by a deadline, polling the real
process) until ``/health`` answers, and returns a :class:`ServeProcess`; :meth:`ServeProcess.stop`
ends it by its PID (SIGTERM, then SIGKILL). A server that exits or never becomes healthy raises
:class:`ServeFailed` with the end of its log, and is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from suanli.cli.serve import TOKENS_FILE


class ServeFailed(RuntimeError):
    """The server exited, or did not answer /health before the deadline."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


UNLIMITED = {"SUANLI_RATE_LIMIT_PER_TOKEN": "0", "SUANLI_RATE_LIMIT_PER_ADDRESS": "0"}
"""Environment for a server that a benchmark loads on purpose: request rate limits off (docs/edge.md)."""


KEPT = ("SUANLI_INFERENCE_REPLICA_TAG",)
"""Kept by :func:`clean_env`: the marker the test session puts on the runtime replicas it starts
(tests/conftest.py finds the ones left behind by it)."""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``SUANLI_*`` setting but :data:`KEPT`, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_") or k in KEPT}
    env.update(extra)
    return env


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def tokens(self) -> dict[str, str]:
        """The demo tokens the server wrote (operator, tenant, supplier, server)."""
        tokens: dict[str, str] = json.loads((self.data_dir / TOKENS_FILE).read_text())
        return tokens

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux ``PR_SET_PDEATHSIG``)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


def start_serve(data_dir: Path, *, database_url: str | None = None, log: Path | None = None,
                env: Mapping[str, str] | None = None, deadline_s: float = 60.0, port: int | None = None,
                extra_args: Sequence[str] = (), detach: bool = False, slice_tools: bool = True) -> ServeProcess:
    """Start ``suanli serve --demo`` on data_dir (SQLite there unless database_url is given), on
    ``port`` (default: a free one), with ``extra_args`` (e.g. ``--reuse-port``). ``detach``: in a session
    of its own, so that a Ctrl-C at the terminal reaches only the caller (who can still use the server to
    clean up, then stop it), and stopped (SIGTERM) when the caller dies. ``slice_tools`` (where ``env``
    does not set ``SUANLI_SLICE_MECHANISMS``): the demo's nodes are declared ``mig,mps,vnpu`` (the
    operator's declaration) with the stand-in ``nvidia-smi``/``npu-smi`` of :mod:`suanli.testing.fake_nvidia_smi`
    in ``data_dir/fake-tools`` (not GPUs); ``False``: the server probes this machine as in production."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(env) if env is not None else clean_env()
    if slice_tools and "SUANLI_SLICE_MECHANISMS" not in env:
        from suanli.testing.fake_nvidia_smi import install, install_npu_smi

        env |= {"SUANLI_SLICE_MECHANISMS": "mig,mps,vnpu",
                "SUANLI_NVIDIA_SMI": str(install(data_dir / "fake-tools")),
                "SUANLI_NPU_SMI": str(install_npu_smi(data_dir / "fake-tools"))}
    log = log or data_dir / f"serve-{port}.log"
    args = [sys.executable, "-m", "suanli.cli.main", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    args += list(extra_args)
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=detach,
                                preexec_fn=_die_with_parent if detach else None)
    server = ServeProcess(proc, url, data_dir, log)
    deadline = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            raise ServeFailed(f"suanli serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise ServeFailed(f"suanli serve not healthy within {deadline_s:g} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)  # polling a real process for readiness, bounded by the deadline above


@contextmanager
def serving(data_dir: Path, *, database_url: str | None = None, log: Path | None = None,
            env: Mapping[str, str] | None = None, deadline_s: float = 60.0) -> Iterator[ServeProcess]:
    """:func:`start_serve`, stopped on the way out whatever happened."""
    server = start_serve(data_dir, database_url=database_url, log=log, env=env, deadline_s=deadline_s)
    try:
        yield server
    finally:
        server.stop()
