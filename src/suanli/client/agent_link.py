"""The node agent's four HTTP calls to the server (docs/agents.md, "The agent on a node").

``join`` (with the one-time join token), then with the node credential (``Authorization: Bearer
sln_...``): ``heartbeat``, ``work`` and ``report``. Bodies and answers are the JSON of the wire
protocol (plain dicts: times RFC 3339, decimals as strings). Each call measures its round trip
(``time.monotonic`` around the request): :attr:`AgentLink.last_rtt_ms`.

Errors: no HTTP answer (refused, unreachable, timed out) raises
:class:`~suanli.client.errors.ServerUnreachableError`; an error answer raises the
:class:`~suanli.client.errors.ApiError` subclass of its code. :func:`is_retryable` says which of
them a caller should retry (no answer, 5xx, 429): a 4xx refusal is final.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from suanli.client.errors import ApiError, ServerUnreachableError, api_error, error_of

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0


def is_retryable(exc: BaseException) -> bool:
    """No answer at all, a server error or "too many requests": worth another try; a refusal is not."""
    if isinstance(exc, ServerUnreachableError):
        return True
    return isinstance(exc, ApiError) and (exc.status >= 500 or exc.status == 429)


class AgentLink:
    """HTTP(S) to one server. ``http``: an injected ``httpx.Client`` (e.g. over an ASGI app in tests)."""

    def __init__(self, server: str, *, credential: str | None = None, http: httpx.Client | None = None,
                 timeout: float = READ_TIMEOUT_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.server = server.rstrip("/")
        self.credential = credential
        self._own = http is None
        self._http = http or httpx.Client(
            base_url=self.server, timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)))
        self._monotonic = monotonic
        self.last_rtt_ms: float | None = None
        self.timeout = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout))

    def pace(self, heartbeat_s: float) -> None:
        """Give up connecting after two heartbeats (1 to 5 s): behind a cut link the agent tries again
        soon after the link is back instead of waiting out a long connect."""
        read = self.timeout.read or READ_TIMEOUT_S
        self.timeout = httpx.Timeout(read, connect=max(1.0, min(CONNECT_TIMEOUT_S, 2 * heartbeat_s)))

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> AgentLink:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the four calls ---------------------------------------------------------------------------

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/agents/join``: the answer holds the node credential (shown once)."""
        return self._call("POST", "/v1/agents/join", body, auth=False)

    def heartbeat(self, node: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/v1/agents/{node}/heartbeat", body)

    def work(self, node: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/agents/{node}/work", None)

    def report(self, node: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/v1/agents/{node}/reports", body)

    # -- plumbing ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None, *, auth: bool = True) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if auth:
            if not self.credential:
                raise ValueError("this call needs the node credential (join first)")
            headers["Authorization"] = f"Bearer {self.credential}"
        started = self._monotonic()
        try:
            if self._own:
                r = self._http.request(method, path, json=body, headers=headers, timeout=self.timeout)
            else:  # an injected client keeps its own timeouts
                r = self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as e:
            raise ServerUnreachableError(self.server, str(e) or type(e).__name__) from e
        self.last_rtt_ms = (self._monotonic() - started) * 1000
        if r.status_code >= 400:
            raise error_of(r)
        try:
            data = r.json() if r.content else {}
        except ValueError as e:
            raise api_error(r.status_code, "bad_answer", f"{method} {path}: the answer is not JSON") from e
        if not isinstance(data, dict):
            raise api_error(r.status_code, "bad_answer", f"{method} {path}: the answer is not a JSON object")
        return data

