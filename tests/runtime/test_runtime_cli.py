"""``suanli runtime``: the CLI face of the runtime."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from suanli.cli.main import app


def test_models_json_and_serve_refusals() -> None:
    r = CliRunner().invoke(app, ["runtime", "models", "--json"])
    assert r.exit_code == 0, r.output
    assert {m["id"] for m in json.loads(r.output)} == {"tiny-gpt", "all-minilm-l6-v2"}
    r = CliRunner().invoke(app, ["runtime", "serve", "--model", "tiny-gpt"])
    assert r.exit_code == 2 and "exactly one of --uds PATH and --port N" in r.output
    r = CliRunner().invoke(app, ["runtime", "serve", "--model", "nope", "--port", "1"])
    assert r.exit_code == 2 and "allowed: all-minilm-l6-v2, tiny-gpt" in r.output
