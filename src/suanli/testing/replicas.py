"""Test teardown for model replicas started in-process: nothing a test started may outlive it.

:func:`stop_all_replicas` deletes every deployment of a platform (as ``delete_deployment`` does: state
``deleted``, desired 0) and runs each one's part of the reconciler, which stops its live replicas: jobs
cancelled through the driver, leases ended. Marking the deployments deleted first also stops a wake
thread (:func:`suanli.service.replicas.wake`) still running from starting a new one. The ``platform``
fixture (tests/conftest.py) calls it at teardown.
"""

from __future__ import annotations

from suanli.domain.inference import SERVING_REPLICA_STATES, DeploymentState, ReplicaState
from suanli.errors import ConflictError
from suanli.service import replicas
from suanli.service.platform import Platform
from suanli.store import inference as store

LIVE = (*SERVING_REPLICA_STATES, ReplicaState.DRAINING)


def stop_all_replicas(p: Platform) -> int:
    """Delete every deployment of ``p`` and stop its live replicas; returns how many were stopped."""
    with p.read() as s:
        deps = store.list_deployments(s, include_deleted=True)
    for dep in deps:
        for _ in range(5):
            if dep.state is DeploymentState.DELETED:
                break
            try:
                with p.tx() as s:
                    store.update_deployment(s, dep.id, version=dep.version, now=p.clock.now(),
                                            state=DeploymentState.DELETED.value, desired_replicas=0,
                                            name=store.deleted_name(dep))
                break
            except ConflictError:  # a pass or a wake changed it meanwhile: read it again
                with p.read() as s:
                    got = store.get_deployment(s, dep.id)
                if got is None:
                    break
                dep = got
    stopped = 0
    for dep in deps:
        stopped += replicas.reconcile_deployment(p, dep.id)
    with p.read() as s:
        left = [r.id for dep in deps for r in store.list_replicas(s, dep.id, states=LIVE)]
    if left:
        raise AssertionError(f"replicas still live after teardown: {left}")
    return stopped
