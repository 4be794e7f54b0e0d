"""A real ``suanli serve --demo`` serving models, driven over HTTP: for the end-to-end tests of the
inference service (tests/inference_e2e) and ``suanli bench inference``.

:class:`InferenceLab` wraps a :class:`~suanli.testing.serve.ServeProcess`: the operator deploys
models (``POST /v1/deployments``), a tenant makes inference keys (``POST /v1/tokens`` with scope
``inference``), :meth:`InferenceLab.wait` polls the API (bounded by a deadline) until a condition
holds, and :func:`runtime_client` reaches a replica's runtime directly over its Unix socket (the
baseline of the gateway's overhead). Everything goes through the public API: nothing here reads
the database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from suanli.testing.serve import ServeProcess, clean_env, start_serve

T = TypeVar("T")

LAB_ENV = {
    "SUANLI_RATE_LIMIT_PER_TOKEN": "0", "SUANLI_RATE_LIMIT_PER_ADDRESS": "0",
    "SUANLI_BACKGROUND_INTERVAL_SECONDS": "0.5",
    "SUANLI_INFERENCE_HEALTH_INTERVAL_SECONDS": "0.5",
    "SUANLI_INFERENCE_SCALE_DOWN_SECONDS": "3",
}
"""Settings of a lab server: request rate limits off (keys carry their own), a background pass every
0.5 s, health checks every 0.5 s and scale-down after 3 s below the target (the defaults are 5 s, 2 s
and 30 s: a test or a benchmark would wait on them)."""


LIVE = frozenset({"pending", "starting", "ready", "unhealthy", "draining"})
"""Replica states whose runtime may be running."""


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline."""


def wait_until(check: Callable[[], T | None], deadline_s: float, what: str, every_s: float = 0.2) -> T:
    """Call ``check`` until it returns something other than None/False; at most ``deadline_s``
    seconds (polling real processes over HTTP, bounded). Raises :class:`WaitTimeout` naming ``what``."""
    end = time.monotonic() + deadline_s
    while True:
        last = check()
        if last is not None and last is not False:
            return last
        if time.monotonic() > end:
            raise WaitTimeout(f"{what}: not within {deadline_s:g} s")
        time.sleep(every_s)  # a poll of a real server, bounded by the deadline above


@dataclass
class InferenceLab:
    srv: ServeProcess
    tokens: dict[str, str] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What the caller deployed, by its own label (e.g. ``embed``, ``generate``)."""

    @classmethod
    def of(cls, srv: ServeProcess) -> InferenceLab:
        return cls(srv, srv.tokens())

    @property
    def url(self) -> str:
        return self.srv.url

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"{self.srv.url}/v1"

    def api(self, who: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """A call as a demo role (operator, tenant, supplier) or with a token itself."""
        token = self.tokens.get(who, who)
        return httpx.request(method, self.srv.url + path, headers={"Authorization": f"Bearer {token}"},
                             timeout=60, **kw)

    def ok(self, who: str, method: str, path: str, **kw: Any) -> Any:
        r = self.api(who, method, path, **kw)
        if r.status_code >= 300:
            raise AssertionError(f"{method} {path} as {who[:12]}: {r.status_code} {r.text[:600]}")
        return r.json() if r.content else None

    def deploy(self, who: str = "operator", **spec: Any) -> dict[str, Any]:
        """``POST /v1/deployments``: name, model (the built-in model), kind, shapes, min/max replicas, …"""
        body = {"runtime": "builtin", "shapes": [{"form": "slice", "model": "L20", "share": "0.25"}], **spec}
        made: dict[str, Any] = self.ok(who, "POST", "/v1/deployments", json=body)
        return made

    def deployment(self, dep_id: str, who: str = "operator") -> dict[str, Any]:
        d: dict[str, Any] = self.ok(who, "GET", f"/v1/deployments/{dep_id}")
        return d

    def replicas(self, dep_id: str, who: str = "operator") -> list[dict[str, Any]]:
        """Every replica of the deployment, the stopped and failed ones too."""
        items: list[dict[str, Any]] = self.ok(who, "GET", f"/v1/deployments/{dep_id}/replicas", params={"all": "true"})
        return items

    def ready(self, dep_id: str) -> list[dict[str, Any]]:
        return [r for r in self.replicas(dep_id) if r["state"] == "ready"]

    def wait_ready(self, dep_id: str, n: int = 1, deadline_s: float = 180.0) -> list[dict[str, Any]]:
        """Wait until at least ``n`` replicas of the deployment are ready; say what they are if not."""
        try:
            return wait_until(lambda: (lambda rs: rs if len(rs) >= n else None)(self.ready(dep_id)),
                              deadline_s, f"{n} ready replica(s) of {dep_id}")
        except WaitTimeout as e:
            raise WaitTimeout(f"{e}; replicas: {self.replicas(dep_id)}\nserver log:\n"
                              f"{self.srv.log.read_text()[-3000:]}") from None

    def key(self, who: str = "tenant", *, label: str = "e2e", rate_limit_per_minute: int | None = None,
            token_quota: int | None = None) -> str:
        """A new inference key of ``who`` (its secret)."""
        body: dict[str, Any] = {"scope": "inference", "label": label}
        if rate_limit_per_minute is not None:
            body["rate_limit_per_minute"] = rate_limit_per_minute
        if token_quota is not None:
            body["token_quota"] = token_quota
        made = self.ok(who, "POST", "/v1/tokens", json=body)
        secret: str = made["token"]
        return secret

    def delete_all(self, deadline_s: float = 60.0) -> None:
        """Delete every deployment (as the operator, who sees all) and wait until none of their
        replicas is live: their jobs are cancelled and leases ended. What a test or benchmark does
        before it stops the server, so that no runtime outlives it."""
        listed = self.ok("operator", "GET", "/v1/deployments")
        for d in listed:
            r = self.api("operator", "DELETE", f"/v1/deployments/{d['id']}")
            if r.status_code not in (200, 404):
                raise AssertionError(f"DELETE /v1/deployments/{d['id']}: {r.status_code} {r.text[:300]}")
        # the ones deleted earlier too (a deleted deployment's replicas stay readable)
        ids = {d["id"] for d in listed} | {d["id"] for d in self.deployments.values()}

        def settled() -> bool:
            return not any(r["state"] in LIVE for i in ids for r in self.replicas(i))

        wait_until(settled, deadline_s, "every replica stopped after deleting the deployments")

    def stop(self) -> None:
        """:meth:`delete_all`, then stop the server (whatever happened: a dead server is just stopped)."""
        try:
            if self.srv.proc.poll() is None:
                self.delete_all()
        finally:
            self.srv.stop()

    def job_dir(self, replica: dict[str, Any]) -> Path:
        return self.srv.data_dir / "jobs" / str(replica["job_id"]) / "work"


@contextmanager
def serving_lab(data_dir: Path, *, database_url: str | None = None, deadline_s: float = 90.0,
                **env: str) -> Iterator[InferenceLab]:
    """A lab server (``LAB_ENV`` plus ``env``) for the block; on the way out, whatever happened (an error,
    Ctrl-C), its deployments are deleted and their replicas stopped before the server is
    (:meth:`InferenceLab.stop`). The server runs detached (a terminal's Ctrl-C does not reach it; it
    gets SIGTERM if the caller dies, and then its replicas stop themselves after
    ``SUANLI_INFERENCE_ORPHAN_SECONDS``)."""
    srv = start_serve(data_dir, database_url=database_url, env=clean_env(**{**LAB_ENV, **env}), deadline_s=deadline_s,
                      detach=True)  # a Ctrl-C reaches the caller only: the server is there to clean up
    lab = InferenceLab.of(srv)
    try:
        yield lab
    finally:
        lab.stop()


def runtime_pids(name: str) -> list[int]:
    """PIDs of the built-in runtime processes serving ``--name name`` on this machine (the python
    process itself, not the sandbox that started it)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if len(args) < 3 or "python" not in os.path.basename(args[0]):
            continue
        if "suanli.runtime" in args and "--name" in args and args[args.index("--name") + 1:][:1] == [name]:
            out.append(int(d.name))
    return sorted(out)


@contextmanager
def runtime_client(endpoint: str, timeout: float = 60.0) -> Iterator[httpx.Client]:
    """An httpx client on a replica's runtime, directly (no gateway): ``unix:<path>`` through an
    O_PATH descriptor of the socket's directory (a Unix socket path is limited to 107 bytes), or
    ``http://host:port``. Requests go to ``http://runtime/…``."""
    if not endpoint.startswith("unix:"):
        with httpx.Client(base_url=endpoint, timeout=timeout) as c:
            yield c
        return
    path = Path(endpoint.removeprefix("unix:"))
    fd = os.open(path.parent, os.O_PATH)
    try:
        uds = f"/proc/self/fd/{fd}/{path.name}"
        with httpx.Client(transport=httpx.HTTPTransport(uds=uds), base_url="http://runtime", timeout=timeout) as c:
            yield c
    finally:
        os.close(fd)
