"""The whole path on a real Slurm (scripts/services/slurm-up: 3 nodes × 4 fake a100, slurmdbd,
slurmrestd): fleet imported from Slurm -> order -> lease = reservation -> job runs on the lease's
GPUs as the tenant's own Unix account -> usage from sacct -> lease end removes the reservation;
node down -> lease interrupted and re-placed; another tenant cannot run work on the lease.

Waits are bounded polls on Slurm's own state, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from suanli.domain.accounts import Principal
from suanli.domain.clock import SystemClock
from suanli.domain.leases import LeaseState
from suanli.drivers import unix_accounts
from suanli.drivers.slurm import SlurmDriver
from suanli.errors import NotFoundError, SuanliError
from suanli.service import accounts, engine, fleet, health, jobs, leases, orders
from suanli.service.platform import Platform
from suanli.settings import Settings
from suanli.testing.factories import make_tenant

pytestmark = pytest.mark.slurm
T = TypeVar("T")


def until(what: str, fn: Callable[[], T | None], deadline: float = 90.0) -> T:
    end = time.monotonic() + deadline
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture(autouse=True, scope="module")
def _tenant_accounts() -> Iterator[None]:
    """Jobs run as the tenants' own Unix accounts (suanli-slurm-a, ...): remove those this module made."""
    tenants = ("slurm-a", "slurm-b")
    before = {t for t in tenants if unix_accounts.lookup(t)}
    yield
    for t in set(tenants) - before:
        # Slurm keeps the uid it resolved for a user: drop the user too, or a recreated account
        # (another uid) would be refused in the next run ("Invalid account")
        subprocess.run(["sacctmgr", "-i", "delete", "user", unix_accounts.unix_name(t)], capture_output=True,
                       timeout=30)
        unix_accounts.remove_account(t)


@pytest.fixture
def slurm_platform(tmp_path: Path) -> Iterator[tuple[Platform, Principal]]:
    if os.environ.get("SUANLI_TEST_SLURM") != "1":
        if os.environ.get("SUANLI_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("services are required but SUANLI_TEST_SLURM is not set")
        pytest.skip("real Slurm not requested (scripts/services/slurm-up, SUANLI_TEST_SLURM=1)")
    shared = Path(os.environ.get("SUANLI_SLURM_DIR", "/tmp/suanli-slurm")) / "jobs" / uuid.uuid4().hex[:8]
    settings = Settings(data_dir=tmp_path / "d", driver="slurm", slurm_rest_url=os.environ.get("SUANLI_SLURM_REST_URL"),
                        slurm_job_dir=shared, placement_policy="bestfit")
    p = Platform(settings, clock=SystemClock())
    op = accounts.authenticate(p, accounts.bootstrap_operator(p) or "")
    fleet.import_fleet(p, op, {
        "sites": [{"name": "lab", "region": "cn-east", "tier": "cloud", "pue": "1.3", "power_price_kwh": "0.8"}],
        "suppliers": [{"name": "lab-owner"}],
        "prices": [{"model": "A100-80GB", "unit": "device_hour", "amount": "5.80"}],
    })
    assert fleet.import_from_engine(p, op, site="lab", supplier="lab-owner")["nodes"] == 3
    yield p, op
    with p.tx() as s:  # leave Slurm clean: end what is still live, release on the engine
        from suanli.store import leases as store
        live = [x.id for x in store.list_leases(s, states=[LeaseState.ACTIVE, LeaseState.INTERRUPTED])]
    for lid in live:
        with contextlib.suppress(SuanliError):  # teardown must reach the release below
            leases.end_lease(p, op, lid, "test teardown")
    engine.reconcile_leases(p, force=True)
    p.close()


def test_lease_becomes_a_reservation_and_jobs_run_on_its_gpus(slurm_platform: tuple[Platform, Principal]) -> None:
    p, op = slurm_platform
    tenant = make_tenant(p, op, "slurm-a")
    assert {n["model"] for n in fleet.list_nodes(p, op)} == {"A100-80GB"}
    res = orders.create_order(p, tenant, {"form": "gpu", "quantity": 2, "hours": 1})
    lease_id = res.order.lease_id or ""
    lease = leases.get_lease(p, tenant, lease_id)[0]
    node = lease.allocations[0].node
    job = jobs.submit_job(p, tenant, lease_id, ["bash", "-c", "echo CVD=$CUDA_VISIBLE_DEVICES; id -un; sleep 2"])
    driver = p.driver
    assert isinstance(driver, SlurmDriver)
    resv = driver.reservation(lease_id)
    assert resv is not None and node in resv.get("Nodes", "")
    done = until("job to finish", lambda: (j := jobs.get_job(p, tenant, job.id)).state == "completed" and j)
    assert done.node == node
    log = jobs.job_logs(p, tenant, job.id).splitlines()
    line = next(x for x in log if x.startswith("CVD="))
    assert len(line.removeprefix("CVD=").split(",")) == 2
    assert unix_accounts.unix_name("slurm-a") in log  # the tenant's own account, not the server's root
    until("sacct usage", lambda: jobs.collect_usage(p) or jobs.get_job(p, tenant, job.id).device_seconds)
    used = jobs.get_job(p, tenant, job.id).device_seconds
    assert used is not None and used >= 2 * 2  # 2 GPUs for at least 2 seconds
    leases.end_lease(p, tenant, lease_id)
    assert [a.outcome for a in engine.reconcile_leases(p)] == ["done"]
    assert driver.reservation(lease_id) is None


def test_other_tenants_cannot_use_the_lease(slurm_platform: tuple[Platform, Principal]) -> None:
    p, op = slurm_platform
    a, b = make_tenant(p, op, "slurm-a"), make_tenant(p, op, "slurm-b")
    lease_id = orders.create_order(p, a, {"form": "gpu", "quantity": 1, "hours": 1}).order.lease_id or ""
    with pytest.raises(NotFoundError):
        jobs.submit_job(p, b, lease_id, ["true"])


def test_node_down_interrupts_and_replaces_the_lease(slurm_platform: tuple[Platform, Principal]) -> None:
    p, op = slurm_platform
    tenant = make_tenant(p, op, "slurm-a")
    lease_id = orders.create_order(p, tenant, {"form": "gpu", "quantity": 4, "hours": 1}).order.lease_id or ""
    engine.reconcile_leases(p)
    node = leases.get_lease(p, tenant, lease_id)[0].allocations[0].node
    subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=suanli-test: PSU failure"],
                   check=True, timeout=20)
    try:
        report = health.check_health(p)
        assert node in report.nodes_down and report.replaced == [lease_id]
        lease, events = leases.get_lease(p, tenant, lease_id)
        assert lease.state is LeaseState.ACTIVE
        now_nodes = {a.node for a in lease.allocations if a.end == lease.end}
        assert node not in now_nodes and len(now_nodes) == 1
        assert "PSU failure" in events[-2]["reason"]
        driver = p.driver
        assert isinstance(driver, SlurmDriver)
        resv = until("new reservation", lambda: driver.reservation(lease_id))
        assert next(iter(now_nodes)) in resv.get("Nodes", "")
    finally:
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], check=True, timeout=20)
    until("node back", lambda: node in health.check_health(p).nodes_restored or
          node not in {n["name"] for n in fleet.list_nodes(p, op) if n["state"] == "down"})
