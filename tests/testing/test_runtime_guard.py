"""The suite's guard against runtimes left behind (tests/conftest.py, ``_no_runtime_left_behind``), run on a
pytest inside this one: a module that leaves a runtime running fails (an error at its last test's
teardown naming the process) and the runtime is killed; a clean module passes; a runtime of another
session (this outer one's) is neither counted nor touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

LEAKY = '''
import subprocess, sys
from pathlib import Path

def test_leaves_a_runtime(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "suanli.runtime", "serve", "--model", "tiny-gpt",
                             "--uds", str(tmp_path / "rt.sock"), "--orphan-seconds", "0"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    Path({pid_file!r}).write_text(str(proc.pid))
'''

CLEAN = '''
import subprocess, sys

def test_stops_its_runtime(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "suanli.runtime", "serve", "--model", "tiny-gpt",
                             "--uds", str(tmp_path / "rt.sock"), "--orphan-seconds", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.kill()
    proc.wait()
'''


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_module_leaving_a_runtime_fails_and_the_runtime_is_killed(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").symlink_to(CONFTEST)
    pid_file = tmp_path / "leaked.pid"
    (suite / "test_leaky.py").write_text(LEAKY.format(pid_file=str(pid_file)))
    (suite / "test_clean.py").write_text(CLEAN)
    # a runtime of this (outer) session, running while the inner one runs: not the inner guard's business
    outer = subprocess.Popen([sys.executable, "-m", "suanli.runtime", "serve", "--model", "tiny-gpt", "--uds",
                              str(tmp_path / "outer.sock"), "--orphan-seconds", "0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = {**os.environ, "SUANLI_TEST_REAP_WAIT_S": "2"}
        env.pop("SUANLI_INFERENCE_REPLICA_TAG", None)  # the inner session makes its own
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                            "--rootdir", str(suite), str(suite)], cwd=suite, env=env, capture_output=True,
                           text=True, timeout=300)
        out = r.stdout + r.stderr
        assert r.returncode == 1, out
        assert "2 passed, 1 error" in out, out
        assert "ERROR at teardown of test_leaves_a_runtime" in out, out
        assert "runtime process(es) started by this module still ran" in out and "suanli.runtime serve" in out, out
        leaked = int(pid_file.read_text())
        assert f"pid {leaked}:" in out, out
        deadline = time.monotonic() + 10
        while alive(leaked):  # SIGKILLed by the guard; reaped by init
            assert time.monotonic() < deadline, f"the leaked runtime {leaked} still runs"
            time.sleep(0.05)
        assert outer.poll() is None, "another session's runtime was touched"
    finally:
        outer.kill()
        outer.wait()
