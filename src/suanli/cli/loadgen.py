"""A light HTTP/1.1 load generator for the benchmarks: asyncio streams, keep-alive, no framework.

Why not httpx: against ``GET /health`` of a real server on this 2-core machine (8 connections,
3,000 requests, side by side in one run) httpx in threads spent ~500 µs of client CPU per request,
http.client in threads ~130 µs, httpx's AsyncClient ~1,200 µs, and these raw asyncio streams
~65 µs, at the same or better requests/s. On a machine where the generator shares the cores with
the server, every microsecond the client burns is taken from the server, so the benchmark uses
the cheapest (see docs/performance.md).

:class:`Pool` keeps idle keep-alive connections and opens another when all are busy, so an open
loop never waits for a connection (it grows to the backlog). A connection idle longer than
:data:`IDLE_MAX_S` is dropped rather than reused (the server closes idle ones after 5 s).
Responses with ``Content-Length`` or chunked bodies are read; a server that closes the connection
answers with :class:`TransportError`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

IDLE_MAX_S = 4.0
"""A pooled connection idle this long is closed instead of reused (uvicorn's keep-alive is 5 s)."""


class TransportError(RuntimeError):
    """The connection failed or closed before a whole response came back."""


@dataclass
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)
    open: bool = True

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        """Send one request (``head`` ends with the blank line); (status, body)."""
        try:
            self.writer.write(head + body)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length, chunked, close = -1, False, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if chunked:
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    parts.append(await self.reader.readexactly(size + 2))
                    if size == 0:
                        break
                data = b"".join(p[:-2] for p in parts)
            elif length >= 0:
                data = await self.reader.readexactly(length)
            else:
                data, close = await self.reader.read(), True
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as e:
            self.close()
            raise TransportError(f"{type(e).__name__}: {e}") from None
        if close:
            self.close()
        self.idle_since = time.monotonic()
        return status, data

    def close(self) -> None:
        if self.open:
            self.open = False
            self.writer.close()


class Pool:
    """Keep-alive connections to one ``http://host:port`` server."""

    def __init__(self, url: str) -> None:
        hostport = url.removeprefix("http://").rstrip("/")
        if "/" in hostport or url.startswith("https://"):
            raise ValueError(f"the load generator speaks plain http://host:port only, not {url!r}")
        host, _, port = hostport.rpartition(":")
        self.host, self.port = host or hostport, int(port) if host else 80
        self.idle: list[Conn] = []
        self.opened = 0
        self.most_open = 0
        self.busy = 0

    async def _connect(self) -> Conn:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        except OSError as e:
            raise TransportError(f"cannot connect to {self.host}:{self.port}: {e}") from None
        self.opened += 1
        return Conn(reader, writer)

    async def warm(self, n: int) -> None:
        """Open ``n`` connections ahead of the load (so the first requests do not pay the connect)."""
        self.idle += await asyncio.gather(*(self._connect() for _ in range(n)))

    async def call(self, method: str, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
        """One request on an idle connection (or a new one); (status, body)."""
        now = time.monotonic()
        conn = None
        while self.idle:
            c = self.idle.pop()
            if c.open and now - c.idle_since < IDLE_MAX_S:
                conn = c
                break
            c.close()
        if conn is None:
            conn = await self._connect()
        self.busy += 1
        self.most_open = max(self.most_open, self.busy + len(self.idle))
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        try:
            return await conn.request(head, body)
        except BaseException:  # cancelled (a timeout) mid-request: the connection's state is unknown
            conn.close()
            raise
        finally:
            self.busy -= 1
            if conn.open:
                self.idle.append(conn)

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()
