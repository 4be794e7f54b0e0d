"""Who Slurm jobs run as, and their lease directories (suanli.drivers.slurm.tenancy), without Slurm.

The directory tests chown to a uid that is not ours, so they need root (CI and this machine are);
elsewhere they are skipped. The refusal of a server that is not root runs everywhere.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from suanli.drivers.base import JobSpec
from suanli.drivers.slurm import SlurmConfig, SlurmDriver
from suanli.drivers.slurm.cli import SlurmCli
from suanli.drivers.slurm.tenancy import lease_dir, prepare_job_dir, read_job_file
from suanli.drivers.unix_accounts import UnixAccount
from suanli.errors import ConflictError, EngineError

TENANT = UnixAccount("suanli-tenancy-test", 64001, 64001)  # never created: chown takes any uid
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


def _driver(tmp_path: Path, **kw: object) -> SlurmDriver:
    return SlurmDriver(SlurmConfig(state_dir=tmp_path / "s", job_dir=tmp_path / "j", accounting=False, **kw))  # type: ignore[arg-type]


def test_a_server_that_is_not_root_refuses_to_run_tenant_jobs(tmp_path: Path, make_grant,  # type: ignore[no-untyped-def]
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    d = _driver(tmp_path)
    grant = make_grant("L1", tenant="tenant-a", node="node1")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # what unix_accounts asks
    with pytest.raises(EngineError, match=r"lease L1: jobs of tenant 'tenant-a' must run as its own Unix account "
                                          r"'suanli-tenant-a', never as the server's user, but the server is not "
                                          r"root.*SUANLI_SANDBOX=off") as ei:
        d.provision(grant)  # refused before any call to Slurm
    assert ei.value.details["retryable"] is False
    d._grants.put(grant)  # as if provisioned earlier: submitting refuses the same way
    with pytest.raises(EngineError, match="must run as its own Unix account"):
        d.submit("L1", JobSpec(command=("true",)))


@root_only
def test_lease_dir_belongs_to_the_tenant_and_no_one_else_can_enter(tmp_path: Path) -> None:
    job_dir = tmp_path / "jobs"
    job_dir.mkdir(mode=0o777)
    job_dir.chmod(0o777)
    path = lease_dir(job_dir, "L1", TENANT)
    st = path.lstat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (TENANT.uid, TENANT.gid, 0o700)
    assert stat.S_IMODE(job_dir.stat().st_mode) == 0o711  # ours: no longer writable by tenants
    assert lease_dir(job_dir, "L1", TENANT) == path  # idempotent
    legacy = job_dir / "L2"  # made by the server (jobs used to run as it): handed to the tenant
    legacy.mkdir(mode=0o755)
    st = lease_dir(job_dir, "L2", TENANT).lstat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (TENANT.uid, 0o700)
    other = job_dir / "L3"
    other.mkdir()
    os.chown(other, 64002, 64002)
    with pytest.raises(ConflictError, match="L3 belongs to uid 64002, not to suanli-tenancy-test"):
        lease_dir(job_dir, "L3", TENANT)
    (job_dir / "L4").symlink_to(tmp_path)
    with pytest.raises(ConflictError, match="L4 is not a directory"):
        lease_dir(job_dir, "L4", TENANT)


@root_only
def test_a_job_dir_others_can_write_to_is_refused(tmp_path: Path) -> None:
    job_dir = tmp_path / "shared"
    job_dir.mkdir()
    os.chown(job_dir, 64002, 64002)
    job_dir.chmod(0o777)
    with pytest.raises(EngineError, match="must belong to the server's user and be writable by no one else"):
        lease_dir(job_dir, "L1", TENANT)


def test_without_a_tenant_account_the_dirs_are_the_servers(tmp_path: Path) -> None:
    prepare_job_dir(tmp_path / "j", private=False)
    path = lease_dir(tmp_path / "j", "L1", None)
    assert path.is_dir() and path.stat().st_uid == os.geteuid()


@root_only
def test_files_are_read_back_without_following_links(tmp_path: Path) -> None:
    job_dir = tmp_path / "jobs"
    prepare_job_dir(job_dir, private=True)
    path = lease_dir(job_dir, "L1", TENANT)
    secret = tmp_path / "secret"
    secret.write_text("SERVER-SECRET")
    log = path / "slurm-1.out"
    log.write_text("hello\n")
    os.chown(log, TENANT.uid, TENANT.gid)
    assert read_job_file(job_dir, "L1", "slurm-1.out") == "hello\n"
    assert read_job_file(job_dir, "L1", "slurm-2.out") is None  # missing
    (path / "slurm-3.out").symlink_to(secret)  # the tenant's link to a file of the server's
    assert read_job_file(job_dir, "L1", "slurm-3.out") is None
    (path / "slurm-4.out").write_text("SERVER-SECRET")  # a file that is not the tenant's (e.g. a hard link)
    assert read_job_file(job_dir, "L1", "slurm-4.out") is None
    os.mkfifo(path / "slurm-5.out")  # would block a plain open
    os.chown(path / "slurm-5.out", TENANT.uid, TENANT.gid)
    assert read_job_file(job_dir, "L1", "slurm-5.out") is None
    (job_dir / "L2").symlink_to(tmp_path)  # a linked lease directory is not followed either
    (tmp_path / "slurm-1.out").write_text("SERVER-SECRET")
    assert read_job_file(job_dir, "L2", "slurm-1.out") is None


@root_only
def test_a_tool_run_as_a_tenant_gets_its_identity_and_none_of_the_servers_secrets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    nobody = UnixAccount("nobody", 65534, 65534)
    monkeypatch.setenv("SUANLI_DATABASE_URL", "postgresql://suanli:hunter2@db/suanli")
    monkeypatch.setenv("SLURM_JWT", "root-token")
    cli = SlurmCli(env={"SLURM_CONF": "/etc/slurm/slurm.conf"}, bin_dir="/usr/bin")
    env = dict(line.split("=", 1) for line in cli.run("env", as_user=nobody).stdout.splitlines())
    assert env["USER"] == "nobody" and env["SLURM_CONF"] == "/etc/slurm/slurm.conf" and "PATH" in env
    assert "SUANLI_DATABASE_URL" not in env and "SLURM_JWT" not in env
    assert cli.run("id", "-u", as_user=nobody).stdout.strip() == "65534"
    assert cli.run("id", "-u").stdout.strip() == str(os.geteuid())  # without as_user: the server's own
