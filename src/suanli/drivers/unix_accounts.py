"""Tenants' own Unix accounts, under which their jobs run (never the server's user).

Contract:

- :func:`unix_name` maps an engine tenant name (``LeaseGrant.tenant``: 1-64 of ``[a-z0-9_-]``) to a
  Unix login name, always ``suanli-<tenant>`` when that fits in 32 characters, else
  ``suanli-<first 15>-<8 hex of its SHA-256>``. The prefix keeps tenants apart from system accounts: a
  tenant called ``root`` or ``postgres`` runs as ``suanli-root`` / ``suanli-postgres``. The mapping is
  total and deterministic, so every engine (local sandbox, Slurm) finds the same account.
- :func:`ensure_account` creates the account on first use (``useradd --system``, no home, no login
  shell, its own group, GECOS ``suanli tenant <tenant>``) and returns its uid/gid. An existing account
  of that name that suanli did not create (another GECOS) is refused, never reused. Creation is
  serialised in this process; a concurrent creator in another process is tolerated (the account it
  made is read back).
- Only root can create accounts; callers check :func:`can_manage` first.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from suanli.errors import ConflictError, EngineError, ValidationError

PREFIX = "suanli-"
GECOS = "suanli tenant "
_TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_UNIX = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_lock = threading.Lock()


@dataclass(frozen=True)
class UnixAccount:
    name: str
    uid: int
    gid: int


def unix_name(tenant: str) -> str:
    """The Unix login name of an engine tenant (see the module docstring)."""
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ValidationError(f"tenant account {tenant!r} cannot be mapped to a Unix account; use 1-64 of "
                              "lowercase letters, digits, '_' and '-', starting with a letter or digit")
    name = PREFIX + tenant
    if len(name) > 32:
        name = f"{PREFIX}{tenant[:15]}-{hashlib.sha256(tenant.encode()).hexdigest()[:8]}"
    assert _UNIX.fullmatch(name), name
    return name


def can_manage() -> tuple[bool, str | None]:
    """Whether this process can create tenant accounts; else what is missing."""
    if os.geteuid() != 0:
        return False, "the server is not root, so it cannot create per-tenant Unix accounts"
    if shutil.which("useradd") is None:
        return False, "useradd is not installed (Debian: the passwd package)"
    return True, None


def lookup(tenant: str) -> UnixAccount | None:
    """The tenant's account if it exists (and is suanli's); ``None`` when there is none yet."""
    name = unix_name(tenant)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    if entry.pw_gecos != GECOS + tenant:
        raise ConflictError(f"Unix account {name!r} exists but was not created by suanli for tenant {tenant!r} "
                            f"(its comment is {entry.pw_gecos!r}); remove or rename it, jobs will not run as it",
                            account=name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ConflictError(f"Unix account {name!r} has uid or gid 0; tenant jobs never run as root", account=name)
    return UnixAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)


def ensure_account(tenant: str) -> UnixAccount:
    """The tenant's account, created on first use (root only)."""
    with _lock:
        found = lookup(tenant)
        if found is not None:
            return found
        name = unix_name(tenant)
        cmd = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
               "/usr/sbin/nologin", "--user-group", "--comment", GECOS + tenant, name]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"cannot create the Unix account {name!r} for tenant {tenant!r}: {exc}",
                              engine="local", retryable=True) from exc
        if done.returncode not in (0, 9):  # 9: created meanwhile by another process
            raise EngineError(f"cannot create the Unix account {name!r} for tenant {tenant!r}: "
                              f"{done.stderr.strip() or 'useradd exit ' + str(done.returncode)}", engine="local")
        found = lookup(tenant)
        if found is None:
            raise EngineError(f"useradd reported success but account {name!r} is not visible", engine="local")
        return found


def remove_account(tenant: str) -> bool:
    """Delete the tenant's account (only one suanli created). Returns whether one was removed."""
    with _lock:
        found = lookup(tenant)
        if found is None:
            return False
        done = subprocess.run(["userdel", found.name], capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise EngineError(f"cannot remove Unix account {found.name!r}: {done.stderr.strip()}", engine="local")
        return True
