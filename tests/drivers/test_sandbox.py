"""The job sandbox on the real local engine: identity, view, devices, limits, refusal, bad input.

These run real jobs in bubblewrap (as root here: per-tenant Unix accounts, cgroup v1). The attacks
through the API, against a real ``suanli serve``, are in tests/api/test_sandbox_attacks.py.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest

from suanli.domain.catalog import Vendor
from suanli.drivers import unix_accounts
from suanli.drivers.base import DeviceAllocation, JobSpec, JobState, LeaseGrant
from suanli.drivers.local import LocalDriver
from suanli.drivers.sandbox import Isolation, Sandbox, SandboxMode
from suanli.errors import EngineError, ValidationError

WAIT = 30.0
PROBE = """
import json, os
out = {"uid": os.getuid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/")),
       "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
       "dev": sorted(os.listdir("/dev")), "cvd": os.environ.get("CUDA_VISIBLE_DEVICES"),
       "home": os.environ.get("HOME"), "user": os.environ.get("USER"),
       "caps": [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0],
       "nnp": [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0],
       "passwd": open("/etc/passwd").read().count(chr(10))}
open("/work/out.txt", "w").write("kept")
open("/tmp/scratch", "w").write("private /tmp")
open("/var/tmp/scratch", "w").write("private /var/tmp")
print(json.dumps(out))
"""


def _run(driver: LocalDriver, lease: str, spec: JobSpec) -> tuple[JobState, str]:
    h = driver.submit(lease, spec)
    st = driver.wait(h.job_id, WAIT)
    return st.state, driver.logs(h.job_id)


@pytest.fixture
def fake_dev(tmp_path: Path) -> Path:
    """Device nodes as a host with four NVIDIA GPUs has them (character devices, here 1:3 = null)."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidia3", "nvidiactl", "nvidia-uvm", "davinci0"):
        os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return dev


def test_job_runs_as_its_tenant_with_its_own_view(tmp_path: Path, fake_dev: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4}, sandbox=Sandbox(dev_root=fake_dev))
    assert d.sandbox.status.isolation is Isolation.ACCOUNTS and d.sandbox.status.cgroups == "v1"
    d.provision(make_grant("L1", tenant="tenant-a", devices=(1, 3)))
    state, logs = _run(d, "L1", JobSpec(command=("python3", "-c", PROBE)))
    assert state is JobState.COMPLETED, logs
    seen = json.loads(logs.strip().splitlines()[-1])
    account = pwd.getpwnam(unix_accounts.unix_name("tenant-a"))
    assert seen["uid"] == account.pw_uid != 0 and seen["user"] == account.pw_name
    assert seen["caps"] == "0000000000000000" and seen["nnp"] == "1"
    assert seen["cwd"] == "/work" == seen["home"]
    assert set(seen["root"]) <= {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "proc", "dev",
                                 "tmp", "var", "work"}
    assert len(seen["procs"]) <= 3  # its own processes only (bubblewrap's init, python)
    assert seen["passwd"] == 3  # root, the tenant, nobody: no other tenant's account name
    # only the lease's device nodes (and the vendor's control nodes), not the other GPUs or vendors
    assert {"nvidia1", "nvidia3", "nvidiactl", "nvidia-uvm"} <= set(seen["dev"])
    assert not {"nvidia0", "nvidia2", "davinci0"} & set(seen["dev"])
    assert seen["cvd"] == "1,3"
    # its work directory is its own (0700) and kept after the job; the logs are the server's
    job_dir = next((tmp_path / "e" / "jobs").iterdir())
    work = job_dir / "work"
    assert (work / "out.txt").read_text() == "kept"
    assert work.stat().st_uid == account.pw_uid and stat.S_IMODE(work.stat().st_mode) == 0o700
    assert job_dir.stat().st_uid == os.getuid() and stat.S_IMODE(job_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "e").stat().st_mode) == 0o700


def test_two_tenants_do_not_see_each_other(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4})
    d.provision(make_grant("LA", tenant="tenant-a", devices=(0,)))
    d.provision(make_grant("LB", tenant="tenant-b", devices=(1,)))
    b = d.submit("LB", JobSpec(command=("sh", "-c", "echo b-secret > /work/secret; echo ready; sleep 60")))
    deadline = time.monotonic() + WAIT
    while "ready" not in d.logs(b.job_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    b_work = tmp_path / "e" / "jobs" / b.job_id / "work"
    attack = ("import os, sys\n"
              "for p in sys.argv[1:]:\n"
              "    try:\n"
              "        print(p, 'READ', open(p).read())\n"
              "    except OSError as e:\n"
              "        print(p, 'DENIED', type(e).__name__)\n"
              "print('procs', [p for p in os.listdir('/proc') if p.isdigit()])\n")
    state, logs = _run(d, "LA", JobSpec(command=("python3", "-c", attack, str(b_work / "secret"),
                                                 "/work/../secret", str(tmp_path / "e" / "jobs" / b.job_id / "stdout.log"))))
    assert state is JobState.COMPLETED, logs
    assert "b-secret" not in logs and "READ" not in logs and logs.count("DENIED") == 3
    assert (b_work / "secret").read_text() == "b-secret\n"  # B's file is there, A just cannot reach it
    d.cancel(b.job_id)


def test_cpu_memory_and_process_limits_follow_the_lease(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4}, sandbox=Sandbox(pids=64))
    g = make_grant("L1", devices=(0,))
    alloc = DeviceAllocation(node="n1", device_indices=(0,), device_milli=(1000,), cpu_milli=1500, host_memory_mib=96)
    d.provision(LeaseGrant(lease_id="L1", tenant=g.tenant, start=g.start, end=g.end, allocations=(alloc,)))
    h = d.submit("L1", JobSpec(command=("sleep", "30")))
    group = d._jobs[h.job_id].group
    assert group is not None
    cg = Path("/sys/fs/cgroup")
    assert (cg / "memory/suanli" / h.job_id / "memory.limit_in_bytes").read_text().strip() == str(96 << 20)
    assert (cg / "cpu/suanli" / h.job_id / "cpu.cfs_quota_us").read_text().strip() == "150000"
    assert (cg / "pids/suanli" / h.job_id / "pids.max").read_text().strip() == "64"
    d.cancel(h.job_id)
    assert not (cg / "memory/suanli" / h.job_id).exists()
    # over the memory: killed by the kernel, and the reason says so
    h = d.submit("L1", JobSpec(command=("python3", "-c", "b = bytearray(300 << 20); print('got it')")))
    st = d.wait(h.job_id, WAIT)
    assert st.state is JobState.FAILED and "out of memory" in (st.reason or "")
    assert "got it" not in d.logs(h.job_id)


def test_fork_bomb_is_held_at_the_process_limit(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4}, sandbox=Sandbox(pids=32))
    d.provision(make_grant("L1", devices=(0,)))
    code = ("import os, time\n"
            "n = 0\n"
            "for _ in range(200):\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(30); os._exit(0)\n"
            "        n += 1\n"
            "    except OSError:\n"
            "        break\n"
            "print('forked', n, flush=True)\n"
            "os.killpg(0, 9)\n")
    _, logs = _run(d, "L1", JobSpec(command=("python3", "-c", code)))
    forked = int(logs.split("forked")[1].split()[0])
    assert 0 < forked < 32


def test_refused_where_no_sandbox_can_be_built_and_opt_out_is_stated(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    broken = Sandbox(bwrap="no-such-bwrap")
    assert broken.status.isolation is Isolation.UNAVAILABLE and "bubblewrap" in broken.status.detail
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4}, sandbox=broken)
    d.provision(make_grant("L1", devices=(0,)))
    with pytest.raises(EngineError, match=r"cannot sandbox tenant jobs.*bubblewrap"):
        d.submit("L1", JobSpec(command=("true",)))
    assert list((tmp_path / "e" / "jobs").iterdir()) == []  # nothing left behind
    off = Sandbox(SandboxMode.OFF)
    assert off.status.isolation is Isolation.OFF and "SUANLI_SANDBOX=off" in off.status.detail
    d2 = LocalDriver(tmp_path / "e2", nodes={"n1": 4}, sandbox=off)
    d2.provision(make_grant("L1", devices=(0,)))
    state, logs = _run(d2, "L1", JobSpec(command=("id", "-u")))
    assert state is JobState.COMPLETED and logs.strip() == str(os.getuid())  # the server's own user, as stated


@pytest.mark.parametrize(("spec", "message"), [
    (lambda: JobSpec(command=("/no/such/binary",)), "not found in the job sandbox"),
    (lambda: JobSpec(command=("no-such-program-xyz",)), "not found in the job sandbox"),
    (lambda: JobSpec(command=("./train.py",)), "relative path"),
    (lambda: JobSpec(command=("/root/.bashrc",)), "not found in the job sandbox"),
    (lambda: JobSpec(command=("echo", "a\x00b")), "NUL"),
    (lambda: JobSpec(command=("echo",), env={"X": "\x00"}), "NUL"),
    (lambda: JobSpec(command=("echo",), time_limit=timedelta(days=10_000)), "at most 366 days"),
    (lambda: JobSpec(command=("echo", "x" * 200_000)), "too long"),
])
def test_bad_jobs_are_refused_and_leave_nothing(tmp_path: Path, spec, message: str, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4})
    d.provision(make_grant("L1", devices=(0,), end=None))
    with pytest.raises(ValidationError, match=message):
        d.submit("L1", spec())  # the spec is built inside: JobSpec itself refuses some
    assert list((tmp_path / "e" / "jobs").iterdir()) == [] and d.jobs() == []


def test_unix_names_are_total_and_never_a_system_account() -> None:
    assert unix_accounts.unix_name("root") == "suanli-root"
    long = "a" * 64
    name = unix_accounts.unix_name(long)
    assert len(name) <= 32 and name.startswith("suanli-aaaaaaaaaaaaaaa-")
    assert unix_accounts.unix_name(long) != unix_accounts.unix_name("a" * 63)
    for bad in ("", "Root", "../x", "a b", "a" * 65, "-x"):
        with pytest.raises(ValidationError, match="cannot be mapped to a Unix account"):
            unix_accounts.unix_name(bad)


def test_an_account_suanli_did_not_create_is_never_used(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    name = unix_accounts.unix_name("squatter")
    subprocess.run(["useradd", "--system", "--no-create-home", "--comment", "someone else", name], check=True)
    try:
        d = LocalDriver(tmp_path / "e", nodes={"n1": 4})
        d.provision(make_grant("L1", tenant="squatter", devices=(0,)))
        with pytest.raises(Exception, match="not created by suanli"):
            d.submit("L1", JobSpec(command=("true",)))
        assert list((tmp_path / "e" / "jobs").iterdir()) == []
    finally:
        subprocess.run(["userdel", name], check=True)


def test_vendor_device_nodes(fake_dev: Path, tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4}, sandbox=Sandbox(dev_root=fake_dev))
    d.provision(make_grant("L1", devices=(0,), vendor=Vendor.HUAWEI))
    state, logs = _run(d, "L1", JobSpec(command=("ls", "/dev")))
    assert state is JobState.COMPLETED
    assert "davinci0" in logs.split() and not {"nvidia0", "nvidiactl"} & set(logs.split())


NOBODY_RUN = """
import json, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from suanli.drivers.base import DeviceAllocation, JobSpec, LeaseGrant
from suanli.drivers.local import LocalDriver
d = LocalDriver(Path(sys.argv[1]), nodes={"n1": 4})
now = datetime.now(UTC)
d.provision(LeaseGrant("L1", "alice", now - timedelta(seconds=5), now + timedelta(hours=1),
                       (DeviceAllocation("n1", (1,), (1000,)),)))
h = d.submit("L1", JobSpec(command=("sh", "-c", "ls /; ls /proc | grep -c '^[0-9]'; echo x > /tmp/y && cat /tmp/y; "
                                    "cat " + sys.argv[2] + " || echo unreadable")))
st = d.wait(h.job_id, 30)
print(json.dumps({"isolation": d.sandbox.status.isolation, "state": st.state, "logs": d.logs(h.job_id)}))
"""


def test_an_ordinary_user_gets_the_namespace_sandbox(tmp_path: Path) -> None:
    """``serve --demo`` by a newcomer who is not root: jobs still run sandboxed (user namespaces), under
    the server's uid but with no view of its files or processes."""
    import shutil
    import subprocess
    import tempfile

    import suanli

    root = Path(tempfile.mkdtemp(prefix="suanli-nobody-"))
    try:
        shutil.copytree(Path(suanli.__file__).parent, root / "suanli")
        secret = root / "server-secret"
        secret.write_text("top secret")
        data = root / "data"
        data.mkdir()
        for p in [root, *root.rglob("*")]:
            os.chown(p, 65534, 65534)
            p.chmod(0o700 if p.is_dir() else 0o600)
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "python3", "-c",
                              NOBODY_RUN, str(data), str(secret)], capture_output=True, text=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(data)}, check=False)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["isolation"] == "namespaces" and result["state"] == "completed", result
        lines = result["logs"].split()
        assert "root" not in lines and "home" not in lines and "work" in lines
        assert "unreadable" in lines and "top secret" not in result["logs"]  # the server's file is not there
        assert int(lines[lines.index("work") + 1]) <= 4  # its own only: bwrap's init, sh, ls, grep
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_operator_settings_network_and_read_only_paths(tmp_path: Path, make_grant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import socket
    import tempfile

    from suanli.settings import Settings

    monkeypatch.setenv("SUANLI_SANDBOX_NETWORK", "host")
    extra = Path(tempfile.mkdtemp(prefix="suanli-ro-"))  # outside /tmp/pytest-of-root (0700)
    try:
        extra.chmod(0o755)
        tool = extra / "hello"
        tool.write_text("#!/bin/sh\necho hello from an operator path\n")
        tool.chmod(0o755)
        monkeypatch.setenv("SUANLI_SANDBOX_RO_PATHS", f"{extra}:/nonexistent-dir")
        st = Settings.from_env()
        assert st.sandbox == "on" and st.sandbox_network == "host" and st.sandbox_ro_paths == (extra, Path("/nonexistent-dir"))
        sb = Sandbox(st.sandbox, network=st.sandbox_network, ro_paths=st.sandbox_ro_paths)
        d = LocalDriver(tmp_path / "e", nodes={"n1": 4}, sandbox=sb)
        d.provision(make_grant("L1", devices=(0,)))
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            port = srv.getsockname()[1]
            code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).close(); print('reached')"
            state, logs = _run(d, "L1", JobSpec(command=("python3", "-c", code)))
        assert state is JobState.COMPLETED and "reached" in logs  # host network: the operator's choice
        state, logs = _run(d, "L1", JobSpec(command=(str(tool),)))
        assert state is JobState.COMPLETED and "hello from an operator path" in logs, logs
        with pytest.raises(ValidationError, match="SUANLI_SANDBOX is 'on' or 'off'"):
            Sandbox("maybe")
    finally:
        import shutil

        shutil.rmtree(extra, ignore_errors=True)
