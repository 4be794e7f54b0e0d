"""Who a tenant's Slurm jobs run as, and where they write.

Identity: :func:`runner` is the tenant's own Unix account (``suanli-<tenant>``, see
:mod:`suanli.drivers.unix_accounts`), created on first use. Only root can create it, hand the
lease directory to it and submit as it; a server that is not root is refused with an
``EngineError`` that says so, never quietly running the job as the server's user. The account must
resolve to the same uid on the compute nodes (one passwd, or LDAP/sssd); here slurmd runs on this
host.

A lease's job directory ``<job_dir>/<lease_id>`` holds the jobs' working directory, logs and GPU
records. Contract, when jobs run as the tenant's own Unix account:

- ``job_dir`` belongs to the server's user and is writable by nobody else (mode ``0711``: tenants'
  jobs pass through it, they cannot list or rename its entries). So no tenant can put a link or a
  directory of its own in place of a lease directory.
- A lease directory belongs to the tenant's account (uid and gid) with mode ``0700``: its jobs can
  write there, no other tenant's job can read or even list it.
- The server (root) reads files back from it without following links: only a regular file directly
  in the lease directory, opened with ``O_NOFOLLOW``, and owned by the lease directory's owner. A
  tenant that replaces its log with a symbolic link (or a hard link) to a file of the server's gets
  nothing back.

Without a tenant account (``run_as_tenant=False``: single-user development) the lease directory is
the server's, as the jobs are, and files are read back the same careful way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from suanli.drivers.base import engine_error
from suanli.drivers.unix_accounts import UnixAccount, can_manage, ensure_account, unix_name
from suanli.errors import ConflictError

LEASE_DIR_MODE = 0o700
JOB_DIR_MODE = 0o711


def runner(tenant: str, lease_id: str) -> UnixAccount:
    """The Unix account the tenant's jobs run as; refuses where this process cannot act as it."""
    able, missing = can_manage()
    if not able:
        raise engine_error(
            f"jobs of tenant {tenant!r} must run as its own Unix account {unix_name(tenant)!r}, never as the "
            f"server's user, but {missing}. Run the server as root (it creates the accounts, owns the job "
            "directories and submits as the tenant), or turn the sandbox off for single-user development "
            "(SUANLI_SANDBOX=off: jobs then run as the server's user)", engine="slurm", lease_id=lease_id)
    return ensure_account(tenant)


def prepare_job_dir(job_dir: Path, *, private: bool) -> None:
    """Create ``job_dir``; ``private``: take group/other write away when it is ours."""
    job_dir.mkdir(parents=True, exist_ok=True)
    if private:
        st = job_dir.stat()
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o022:
            job_dir.chmod(JOB_DIR_MODE)


def lease_dir(job_dir: Path, lease_id: str, owner: UnixAccount | None) -> Path:
    """The lease's directory, created if missing; ``owner``: the tenant's account it must belong to."""
    path = job_dir / lease_id
    if owner is None:
        path.mkdir(parents=True, exist_ok=True)
        return path
    prepare_job_dir(job_dir, private=True)
    st = job_dir.stat()
    if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o022:
        raise engine_error(
            f"job directory {job_dir} must belong to the server's user and be writable by no one else (it "
            f"belongs to uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}); otherwise a tenant could put a "
            "link in place of a lease directory", engine="slurm", lease_id=lease_id)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, LEASE_DIR_MODE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:  # ELOOP / ENOTDIR: a link or a file where the directory should be
        raise ConflictError(f"lease {lease_id}: {path} is not a directory ({exc.strerror}); remove it",
                            lease_id=lease_id) from exc
    try:
        st = os.fstat(fd)
        if st.st_uid not in (owner.uid, os.geteuid()):
            raise ConflictError(f"lease {lease_id}: {path} belongs to uid {st.st_uid}, not to {owner.name} "
                                f"(uid {owner.uid}); jobs of the lease cannot use it", lease_id=lease_id)
        if (st.st_uid, st.st_gid) != (owner.uid, owner.gid):
            os.fchown(fd, owner.uid, owner.gid)
        if stat.S_IMODE(st.st_mode) != LEASE_DIR_MODE:
            os.fchmod(fd, LEASE_DIR_MODE)
    finally:
        os.close(fd)
    return path


def read_job_file(job_dir: Path, lease_id: str, name: str) -> str | None:
    """Text of ``<job_dir>/<lease_id>/<name>`` if it is a regular file of the lease directory's owner,
    reached without following any link; ``None`` otherwise (missing, a link, a FIFO, someone else's)."""
    try:
        dfd = os.open(job_dir / lease_id, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise
    try:
        owner = os.fstat(dfd).st_uid
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                return None
            raise
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != owner:
                return None
            return f.read().decode("utf-8", errors="replace")
    finally:
        os.close(dfd)
