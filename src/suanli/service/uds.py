"""Unix-socket paths the server can connect to, however long the replica's work directory is.

A replica's runtime listens on ``<data_dir>/jobs/<job_id>/work/runtime.sock`` (endpoint
``unix:<that path>``), which can exceed the 107 bytes ``sockaddr_un`` allows. :func:`connect_path`
returns a path that always fits: the socket path itself when it is short enough, else
``/proc/self/fd/<N>/<name>`` where ``N`` is an ``O_PATH`` descriptor of the socket's directory, opened
once per directory and kept by this process until :func:`release` (a replica stopped) closes it.

The descriptors are process-wide (so is this registry); a directory that was removed and made again
under the same path is noticed (its inode changed) and opened afresh.
"""

from __future__ import annotations

import os
import threading

from suanli.errors import ValidationError

MAX_SUN_PATH = 107
"""The longest path ``connect(2)`` on a Unix socket accepts (``sun_path`` is 108 bytes, NUL included)."""

_lock = threading.Lock()
_dirs: dict[str, tuple[int, int, int]] = {}
"""directory -> (fd, st_dev, st_ino) of its O_PATH descriptor."""


def socket_path(endpoint: str) -> str:
    """The absolute socket path of a ``unix:<path>`` endpoint (a bare absolute path is accepted too)."""
    path = endpoint[5:] if endpoint.startswith("unix:") else endpoint
    if not path.startswith("/") or "\x00" in path:
        raise ValidationError(f"endpoint {endpoint!r} is not a Unix socket endpoint; allowed: unix:/absolute/path",
                              field="endpoint")
    return path


def connect_path(endpoint: str) -> str:
    """A path to ``connect(2)`` to for ``endpoint`` (``unix:<abs path>``) that is at most 107 bytes."""
    path = socket_path(endpoint)
    if len(os.fsencode(path)) <= MAX_SUN_PATH:
        return path
    directory, name = os.path.split(path)
    with _lock:
        held = _dirs.get(directory)
        if held is not None:
            fd, dev, ino = held
            try:
                st = os.stat(directory)
                same = (st.st_dev, st.st_ino) == (dev, ino)
            except OSError:
                same = False
            if not same:
                os.close(fd)
                del _dirs[directory]
                held = None
        if held is None:
            fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            st = os.fstat(fd)
            _dirs[directory] = (fd, st.st_dev, st.st_ino)
            held = _dirs[directory]
    short = f"/proc/self/fd/{held[0]}/{name}"
    if len(os.fsencode(short)) > MAX_SUN_PATH:
        raise ValidationError(f"socket name {name!r} is too long: a Unix socket path may have at most "
                              f"{MAX_SUN_PATH} bytes", field="endpoint")
    return short


def release(endpoint: str) -> None:
    """The replica at ``endpoint`` stopped: close the descriptor kept for its directory (if any)."""
    try:
        directory = os.path.dirname(socket_path(endpoint))
    except ValidationError:
        return
    with _lock:
        held = _dirs.pop(directory, None)
    if held is not None:
        os.close(held[0])


def held_directories() -> list[str]:
    """The directories this process holds a descriptor of (for tests and diagnostics)."""
    with _lock:
        return sorted(_dirs)
