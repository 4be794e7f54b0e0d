"""``suanli deployment create|list|show|scale|delete`` over the real app, database and local engine."""

from __future__ import annotations

import time

from cli_harness import Cli

from suanli.service import replicas
from suanli.service.platform import Platform


def test_deployment_commands(cli: Cli, tokens: dict[str, str], platform: Platform) -> None:
    op, acme, globex = tokens["operator"], tokens["acme"], tokens["globex"]
    made = cli.json("deployment", "create", "tiny", "--model", "tiny-gpt", "--kind", "generate",
                    "--shape", "slice:L20:0.25", "--shape", "gpu:A100-80GB:1", "--min", "1", "--max", "2", token=op)
    shapes = [{k: v for k, v in x.items() if v is not None} for x in made["shapes"]]
    assert made["public"] and shapes == [{"form": "slice", "model": "L20", "share": "0.25"},
                                         {"form": "gpu", "model": "A100-80GB", "quantity": 1}]
    deadline = time.monotonic() + 60
    while not any(r["state"] == "ready" for r in cli.json("deployment", "show", "tiny", token=op)["replicas"]):
        assert time.monotonic() < deadline, "no ready replica within 60 s"
        replicas.reconcile(platform)
        time.sleep(0.05)
    shown = cli("deployment", "show", "tiny", token=op)
    assert shown.exit_code == 0 and "ready" in shown.stdout and "cheapest per token" in shown.stdout, shown.output
    listed = cli("deployment", "list", token=acme)  # a tenant sees the operator's public deployment
    assert listed.exit_code == 0 and "tiny" in listed.stdout and "1 ready" in listed.stdout, listed.output
    # a tenant's own deployment is private: the other tenant does not see it
    cli.json("deployment", "create", "mine", "--model", "all-minilm-l6-v2", "--shape", "slice:L20:0.25", "--min",
             "0", token=acme)
    assert [d["name"] for d in cli.json("deployment", "list", token=globex)] == ["tiny"]
    gone = cli("deployment", "show", "mine", token=globex)
    assert gone.exit_code != 0 and "no deployment named 'mine'" in gone.output
    # bad input: the shape text, the bounds, a tenant publishing
    bad = cli("deployment", "create", "x", "--model", "tiny-gpt", "--shape", "slice:L20:2", token=acme)
    assert bad.exit_code != 0 and "share" in bad.output, bad.output
    bad = cli("deployment", "create", "x", "--model", "tiny-gpt", "--shape", "slice:L20:0.5", "--min", "3",
              "--max", "2", token=acme)
    assert bad.exit_code != 0 and "min_replicas (3) must be at most max_replicas (2)" in bad.output, bad.output
    bad = cli("deployment", "create", "x", "--model", "tiny-gpt", "--shape", "slice:L20:0.5", "--public", token=acme)
    assert bad.exit_code != 0 and "only the operator publishes" in bad.output, bad.output
    scaled = cli.json("deployment", "scale", "tiny", "--max", "3", "--replicas", "2", token=op)
    assert scaled["desired_replicas"] == 2 and scaled["max_replicas"] == 3
    out_of_bounds = cli("deployment", "scale", "tiny", "--replicas", "9", token=op)
    assert out_of_bounds.exit_code != 0 and "desired_replicas" in out_of_bounds.output
    deleted = cli("deployment", "delete", "tiny", token=op)
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout, deleted.output
    assert all(r["state"] == "stopped" for r in cli.json("deployment", "show", made["id"], "--all", token=op)["replicas"])
