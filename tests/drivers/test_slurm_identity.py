"""On a real Slurm (``scripts/services/slurm-up``), a tenant's jobs run as the tenant's own Unix
account, never as the server's user (root here), through slurmrestd and through ``sbatch``.

Two tenants with fresh names per test (their Unix accounts and Slurm users are removed in teardown):
A's job runs as ``suanli-<A>`` in a lease directory only A can enter, cannot read or list B's, and the
server does not follow a link A put in place of its own log. Slurm itself refuses root's job in A's
reservation. Status, cancel and ``sacct`` usage work from the server as before.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slurm_polling import until

from suanli.drivers import unix_accounts
from suanli.drivers.base import WHOLE, DeviceAllocation, JobSpec, JobState, JobStatus, LeaseGrant
from suanli.drivers.slurm import SlurmConfig, SlurmDriver
from suanli.errors import EngineError

pytestmark = pytest.mark.slurm




@pytest.fixture(params=["rest", "cli"])
def slurm(request: pytest.FixtureRequest, tmp_path: Path) -> SlurmDriver:
    if os.environ.get("SUANLI_TEST_SLURM") != "1":
        if os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("services are required but SUANLI_TEST_SLURM is not set")
        pytest.skip("real Slurm not requested: run scripts/services/slurm-up and set SUANLI_TEST_SLURM=1")
    if os.geteuid() != 0:
        pytest.fail("SUANLI_TEST_SLURM=1 but the tests are not root: jobs cannot run as tenants' accounts")
    rest = os.environ.get("SUANLI_SLURM_REST_URL")
    if request.param == "rest" and not rest:
        pytest.fail("SUANLI_TEST_SLURM=1 but SUANLI_SLURM_REST_URL is not set (slurm-up prints it)")
    shared = Path(os.environ.get("SUANLI_SLURM_DIR", "/tmp/suanli-slurm")) / "jobs" / f"id-{uuid.uuid4().hex[:8]}"
    d = SlurmDriver(SlurmConfig(state_dir=tmp_path / "state", job_dir=shared,
                                rest_url=rest if request.param == "rest" else None, command_timeout_s=20))
    try:
        d.check()
    except EngineError as exc:
        pytest.fail(f"SUANLI_TEST_SLURM=1 but Slurm is not reachable: {exc}")
    return d


@pytest.fixture
def tenants() -> Iterator[tuple[str, str]]:
    """Two fresh tenants; their Unix accounts and Slurm users/accounts go away afterwards."""
    tag = uuid.uuid4().hex[:6]
    pair = (f"ida-{tag}", f"idb-{tag}")
    yield pair
    for t in pair:
        name = unix_accounts.unix_name(t)
        subprocess.run(["sacctmgr", "-i", "delete", "user", name], capture_output=True, timeout=30)
        subprocess.run(["sacctmgr", "-i", "delete", "account", t], capture_output=True, timeout=30)
        unix_accounts.remove_account(t)
        assert unix_accounts.lookup(t) is None


@pytest.fixture
def leases(slurm: SlurmDriver) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for lease_id in made:
        slurm.release(lease_id)


def _lease(d: SlurmDriver, made: list[str], tenant: str, node: str) -> str:
    lease_id = f"{tenant}-{uuid.uuid4().hex[:6]}"
    s = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    d.provision(LeaseGrant(lease_id, tenant, s, s + timedelta(hours=1),
                           (DeviceAllocation(node, (0,), (WHOLE,), model="a100"),)))
    made.append(lease_id)
    return lease_id


def _done(d: SlurmDriver, job_id: str) -> JobStatus:
    def ended() -> JobStatus | None:
        st = d.poll(job_id)
        return st if st.state.terminal else None
    return until(f"job {job_id} to end", ended)


def test_jobs_run_as_the_tenants_account_and_cannot_read_another_tenants(
        slurm: SlurmDriver, tenants: tuple[str, str], leases: list[str]) -> None:
    d = slurm
    a, b = tenants
    user_a, user_b = unix_accounts.unix_name(a), unix_accounts.unix_name(b)
    since = datetime.now(UTC) - timedelta(seconds=5)
    la, lb = _lease(d, leases, a, "node1"), _lease(d, leases, b, "node2")
    resv = d.reservation(la)
    assert resv is not None and (resv["Accounts"], resv["Users"]) == (a, user_a)
    assert unix_accounts.lookup(a) is not None and unix_accounts.lookup(b) is not None
    assoc = subprocess.run(["sacctmgr", "-n", "-P", "show", "assoc", f"account={a}", "format=User"],
                           capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert user_a in assoc

    # Slurm itself refuses a job of the server's user (root) in A's reservation
    root_job = subprocess.run(["sbatch", "--parsable", f"--account={a}", f"--reservation=suanli-{la}", "--wrap",
                               "true"], capture_output=True, text=True, timeout=30)
    assert root_job.returncode != 0 and "Access denied" in root_job.stderr

    jb = d.submit(lb, JobSpec(command=("sh", "-c", 'echo B-SECRET > "$HOME/b-file"; echo B-LOG-SECRET; id -un')))
    assert _done(d, jb.job_id).state is JobState.COMPLETED
    log_b = d.logs(jb.job_id)
    assert "B-LOG-SECRET" in log_b and user_b in log_b.split()

    dir_b = Path(d.config.job_dir) / lb
    probe = (f'id -un; id -u; stat -c "%U %a" "$PWD"; '
             f'cat {dir_b}/slurm-{jb.job_id}.out && echo READ-B-LOG; '
             f'ls {dir_b} && echo LISTED-B; cat {dir_b}/b-file && echo READ-B-FILE; echo probe-done')
    ja = d.submit(la, JobSpec(command=("sh", "-c", probe)))
    assert _done(d, ja.job_id).state is JobState.COMPLETED
    log_a = d.logs(ja.job_id)
    lines = log_a.splitlines()
    assert lines[0] == user_a and lines[1] != "0", log_a
    assert lines[2] == f"{user_a} 700", log_a
    assert "probe-done" in log_a and "Permission denied" in log_a, log_a
    for leaked in ("READ-B-LOG", "B-LOG-SECRET", "LISTED-B", "READ-B-FILE", "B-SECRET"):
        assert leaked not in log_a, log_a

    # the server still cancels a tenant's job, and sacct has both jobs under the tenants' users
    jc = d.submit(la, JobSpec(command=("sleep", "300")))
    until("the job to run", lambda: d.poll(jc.job_id).state is JobState.RUNNING)
    d.cancel(jc.job_id)
    assert until("the cancel", lambda: d.poll(jc.job_id).state is JobState.CANCELLED)
    def both() -> dict[str, str] | None:
        got = {u.job_id: u.lease_id for u in d.usage(since) if u.job_id in (ja.job_id, jb.job_id)}
        return got if len(got) == 2 else None
    assert until("sacct to record both jobs", both) == {ja.job_id: la, jb.job_id: lb}
    users = subprocess.run(["sacct", "-X", "-n", "-P", "-j", f"{ja.job_id},{jb.job_id}", "-oJobID,User"],
                           capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert sorted(users) == sorted([f"{ja.job_id}|{user_a}", f"{jb.job_id}|{user_b}"])


def test_the_server_never_follows_a_link_a_tenant_put_in_place_of_its_log(
        slurm: SlurmDriver, tenants: tuple[str, str], leases: list[str], tmp_path: Path) -> None:
    d = slurm
    secret = tmp_path / "server-secret"
    secret.write_text("TOP-SECRET-OF-THE-SERVER\n")
    secret.chmod(0o600)
    la = _lease(d, leases, tenants[0], "node3")
    swap = ('cd "$HOME" && for f in slurm-$SLURM_JOB_ID.err .gpus-$SLURM_JOB_ID; do '
            f'rm -f "$f" && ln -s {secret} "$f" || exit 1; done; echo swapped')
    j = d.submit(la, JobSpec(command=("sh", "-c", swap)))
    done = _done(d, j.job_id)
    assert done.state is JobState.COMPLETED, d.logs(j.job_id)
    assert (Path(d.config.job_dir) / la / f"slurm-{j.job_id}.err").is_symlink()
    text = d.logs(j.job_id)
    assert "swapped" in text and "TOP-SECRET" not in text
    assert d.poll(j.job_id).state is JobState.COMPLETED  # the GPU record is a link too: ignored, no error
