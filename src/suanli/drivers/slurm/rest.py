"""A minimal slurmrestd (OpenAPI v0.0.38) client over the standard library.

JWT auth: ``X-SLURM-USER-NAME`` + ``X-SLURM-USER-TOKEN``. The token is either given
(``SlurmConfig.jwt``) or minted with ``scontrol token username=… lifespan=…`` and renewed a
minute before it lapses. A request ``as_user`` sends that user's name with the server's own
token: Slurm (22.05, ``auth/jwt``) lets a token of root or ``SlurmUser`` act as any user and
refuses it for anyone else, so a job submitted that way runs as that user (checked on 22.05.8).

Only the plain HTTP the driver needs: no httpx here (web clients stay at the edge of the
architecture), ``urllib`` is enough for JSON over 127.0.0.1.

Errors: unreachable / timed out -> ``EngineError(retryable=True)``; a response whose
``errors`` list is non-empty -> ``EngineError`` with Slurm's ``error`` / ``description`` words.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from suanli.drivers.base import engine_error
from suanli.drivers.slurm.cli import SlurmCli, retryable_text

API = "/slurm/v0.0.38"


@dataclass
class SlurmRest:
    url: str
    """e.g. ``http://127.0.0.1:6820``"""
    user: str
    cli: SlurmCli
    jwt: str | None = None
    timeout_s: float = 10.0
    token_lifespan_s: int = 3600
    _token: str | None = field(default=None, init=False, repr=False)
    _token_until: float = field(default=0.0, init=False, repr=False)

    def _auth(self) -> str:
        if self.jwt:
            return self.jwt
        if self._token is None or time.monotonic() > self._token_until:
            out = self.cli.run("scontrol", "token", f"username={self.user}",
                               f"lifespan={self.token_lifespan_s}").stdout.strip()
            if not out.startswith("SLURM_JWT="):
                raise engine_error("slurm did not hand out a JWT for slurmrestd", engine="slurm",
                                   engine_message=out, retryable=False)
            self._token = out.split("=", 1)[1]
            self._token_until = time.monotonic() + self.token_lifespan_s - 60
        return self._token

    def request(self, method: str, path: str, body: Any = None, *, lease_id: str | None = None,
                allow_errors: bool = False, as_user: str | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url.rstrip("/") + path, data=data, method=method,
            headers={"X-SLURM-USER-NAME": as_user or self.user, "X-SLURM-USER-TOKEN": self._auth(),
                     "Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:  # slurmrestd answers errors with a JSON body too
            raw = exc.read()
            if not raw:
                raise engine_error(f"slurmrestd answered {exc.code} to {method} {path}", engine="slurm",
                                   engine_message=exc.reason, lease_id=lease_id,
                                   retryable=exc.code >= 500) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise engine_error(f"slurmrestd at {self.url} is unreachable", engine="slurm",
                               engine_message=str(reason), lease_id=lease_id, retryable=True) from exc
        try:
            payload: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            text = raw.decode("utf-8", "replace")[:500]
            raise engine_error(f"slurmrestd answered {method} {path} with something other than JSON",
                               engine="slurm", engine_message=text, lease_id=lease_id,
                               retryable=retryable_text(text)) from exc
        errors = payload.get("errors") or []
        if errors and not allow_errors:
            words = "; ".join(
                " - ".join(str(e[k]) for k in ("error", "description") if e.get(k)) or json.dumps(e)
                for e in errors)
            raise engine_error(f"slurm refused {method} {path}", engine="slurm", engine_message=words,
                               lease_id=lease_id, retryable=retryable_text(words),
                               slurm_errors=errors)
        return payload

    # ------------------------------------------------------------------ endpoints

    def ping(self) -> dict[str, Any]:
        return self.request("GET", f"{API}/ping")

    def submit(self, job: dict[str, Any], script: str, *, lease_id: str, as_user: str | None = None) -> int:
        """Submit ``job``; with ``as_user`` it runs as that Unix user (see the module docstring)."""
        payload = self.request("POST", f"{API}/job/submit", {"job": job, "script": script}, lease_id=lease_id,
                               as_user=as_user)
        return int(payload["job_id"])

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The controller's record, or ``None`` when it no longer knows the id."""
        payload = self.request("GET", f"{API}/job/{job_id}", allow_errors=True)
        jobs = payload.get("jobs") or []
        if jobs:
            return dict(jobs[0])
        errors = payload.get("errors") or []
        if errors and not any(e.get("error_number") == 2017 for e in errors):  # 2017: invalid job id
            self.request("GET", f"{API}/job/{job_id}")  # raises with Slurm's words
        return None

    def cancel(self, job_id: str, *, lease_id: str | None = None) -> None:
        self.request("DELETE", f"{API}/job/{job_id}", lease_id=lease_id)

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.request("GET", f"{API}/nodes").get("nodes") or [])

    def partitions(self) -> list[dict[str, Any]]:
        return list(self.request("GET", f"{API}/partitions").get("partitions") or [])
