"""The ``suanli`` command stays light and works without the optional extras.

- ``suanli --help`` and every HTTP-only command load no server, database, numeric or plotting library
  (checked in ``sys.modules`` of a fresh interpreter, not by timing);
- the one-line help that ``suanli --help`` lists without importing a command agrees with the command's own;
- with psycopg or matplotlib missing (blocked in ``sys.modules``), the commands that need them stop with
  the pip command of their extra instead of a traceback.
"""

from __future__ import annotations

import inspect
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from suanli.cli.main import COMMANDS, load

HEAVY = ("numpy", "sqlalchemy", "psycopg", "fastapi", "starlette", "uvicorn", "alembic", "matplotlib")
NUMERIC = {"sim", "bench"}  # the simulator and benchmarks: numpy is their job


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


RUN = """
import contextlib, io, json, sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed: importing it raises ModuleNotFoundError
from suanli.cli.main import app
report = []
for argv in {argvs!r}:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(argv, prog_name="suanli")
            code = 0
        except SystemExit as e:
            code = e.code
    report.append({{"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
                    "modules": sorted(m for m in sys.modules if sys.modules[m] is not None)}})
print(json.dumps(report))
"""


def run_cli(home: Path, *argvs: list[str], blocked: tuple[str, ...] = ()) -> list[dict]:
    """Run ``suanli ARGV`` for each argv, in order, in one fresh interpreter (no SUANLI_* settings, HOME
    ``home``); each result with the modules loaded so far."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "120"}
    p = subprocess.run([sys.executable, "-c", RUN.format(argvs=list(argvs), blocked=blocked)], capture_output=True,
                       text=True, timeout=120, cwd=home, env=env)
    assert p.returncode == 0, p.stderr
    return list(json.loads(p.stdout.splitlines()[-1]))


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    (r,) = run_cli(tmp_path, ["--help"])
    assert r["code"] == 0 and "Usage: suanli" in r["stdout"]
    for name in COMMANDS:
        assert f" {name} " in r["stdout"], name
    assert [m for m in r["modules"] if m.startswith("suanli.")] == ["suanli.cli", "suanli.cli.main"]
    assert heavy(r["modules"]) == []


def test_http_commands_load_no_server_database_numeric_or_plotting_library(tmp_path: Path) -> None:
    port = free_port()  # nobody listens: the command runs its whole client path and fails to connect
    argvs = [["offers", "--help"]] + [[name, "--help"] for name in COMMANDS if name not in NUMERIC]
    argvs += [["--server", f"http://127.0.0.1:{port}", "--token", "t", "--timeout", "5", *cmd]
              for cmd in (["offers"], ["lease", "list"], ["order", "create", "--form", "gpu", "--quantity", "1"],
                          ["job", "logs", "j1"], ["invoice", "show"], ["wallet", "show"])]
    for r in run_cli(tmp_path, *argvs):
        assert r["code"] == (0 if "--help" in r["argv"] else 1), r
        assert "Traceback" not in r["stderr"], r["stderr"]
        assert heavy(r["modules"]) == [], (r["argv"], heavy(r["modules"]))
    assert "cannot reach suanli server" in r["stderr"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    cmd = load(name, COMMANDS[name])
    own = inspect.cleandoc(cmd.short_help or cmd.help or "").split("\n\n")[0]
    assert " ".join(own.split()) == COMMANDS[name].help, f"update COMMANDS[{name!r}] in suanli/cli/main.py"


def test_without_psycopg_postgres_commands_name_the_extra(tmp_path: Path) -> None:
    url = f"postgresql://suanli@127.0.0.1:{free_port()}/suanli"
    bench, serve = run_cli(tmp_path, ["bench", "ingest", "--database-url", url, "--events", "1"],
                           ["serve", "--database-url", url, "--data-dir", str(tmp_path), "--port", str(free_port())],
                           blocked=("psycopg",))
    for r in (bench, serve):
        assert r["code"] == 1, r
        assert "pip install 'suanli[postgres]'" in r["stderr"] and "Traceback" not in r["stderr"], r["stderr"]


def test_without_matplotlib_plots_name_the_extra_before_the_run(tmp_path: Path) -> None:
    fgd, dyn = run_cli(tmp_path, ["sim", "fgd", "--trace-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o")],
                       ["sim", "run", "--trace-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o")],
                       blocked=("matplotlib",))
    for r in (fgd, dyn):
        assert r["code"] == 1, r
        assert "pip install 'suanli[plot]'" in r["stderr"] and "Traceback" not in r["stderr"], r["stderr"]
    assert not (tmp_path / "o").exists()
