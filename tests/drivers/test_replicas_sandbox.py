"""A platform model runtime job (``JobSpec.runtime``) sees the interpreter and the installed packages
read-only; a tenant's own job still does not (attack first: the tenant job tries the venv's python,
the ``suanli`` source and ``import suanli``)."""

from __future__ import annotations

import sys
from pathlib import Path

from suanli.drivers.base import JobSpec, JobState
from suanli.drivers.local import LocalDriver
from suanli.drivers.sandbox import runtime_ro_paths
from suanli.errors import ValidationError

WAIT = 60.0
PROBE = ("import sys, os\n"
         "for p in sys.argv[1:]:\n"
         "    print(p, 'SEEN' if os.path.exists(p) else 'HIDDEN')\n"
         "try:\n"
         "    import suanli.runtime.models as m\n"
         "    print('IMPORTED', sorted(m.BUILTIN_MODELS))\n"
         "except ImportError as e:\n"
         "    print('NOIMPORT', e)\n")


def test_runtime_job_sees_the_packages_a_tenant_job_does_not(tmp_path: Path, make_grant) -> None:  # type: ignore[no-untyped-def]
    d = LocalDriver(tmp_path / "e", nodes={"n1": 4})
    d.provision(make_grant("L1", tenant="tenant-a", devices=(0,)))
    roots = runtime_ro_paths()
    assert Path(sys.prefix) in roots
    import suanli
    src = str(Path(suanli.__file__).resolve().parent)
    # a tenant job: the system python runs, but the server's venv and source are not there
    h = d.submit("L1", JobSpec(command=("python3", "-c", PROBE, sys.prefix, src)))
    st = d.wait(h.job_id, WAIT)
    logs = d.logs(h.job_id)
    assert st.state is JobState.COMPLETED, logs
    assert f"{sys.prefix} HIDDEN" in logs and f"{src} HIDDEN" in logs and "NOIMPORT" in logs
    # naming the venv's interpreter is refused before anything runs
    try:
        d.submit("L1", JobSpec(command=(sys.executable, "-c", "print(1)")))
        raise AssertionError("a tenant job started the server's interpreter")
    except ValidationError as e:
        assert "not found in the job sandbox" in e.message
    # the runtime job: the same probe with the venv's python imports suanli.runtime
    h = d.submit("L1", JobSpec(command=(sys.executable, "-c", PROBE, sys.prefix, src), runtime=True))
    st = d.wait(h.job_id, WAIT)
    logs = d.logs(h.job_id)
    assert st.state is JobState.COMPLETED, logs
    assert f"{sys.prefix} SEEN" in logs and "IMPORTED ['all-minilm-l6-v2', 'tiny-gpt']" in logs
