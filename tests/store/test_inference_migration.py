"""Migration 0028 (inference service) goes up, down and up again on SQLite and PostgreSQL; the tables
hold their invariants: a deployment name is unique per owner, a request is metered once, cached tokens
never exceed the prompt, an inference key's scope is allowed only from 0028 on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

TABLES = {"inference_deployments", "inference_replicas", "inference_requests", "inference_key_usage"}
AT = "'2026-12-01 00:00:00+00:00'"
DEPLOYMENT = ("INSERT INTO inference_deployments (id, owner_id, name, public, kind, runtime, model_ref, shapes, near, "
              "min_replicas, max_replicas, desired_replicas, target_inflight, idle_seconds, context_length, "
              "max_output_tokens, state, version, created_by, created_at, updated_at) VALUES ('{id}', 'a1', 'tiny', "
              f"false, 'generate', 'builtin', 'tiny-gpt', '[]', '', {{lo}}, 2, 1, 4, 300, 256, 128, 'active', 1, 'op', "
              f"{AT}, {AT})")
REQUEST = ("INSERT INTO inference_requests (id, token_id, tenant_id, deployment_id, replica_id, model, endpoint, "
           "prompt_tokens, completion_tokens, cached_tokens, status, stream, started_at, ended_at) VALUES ('{id}', 1, "
           f"'a1', 'd1', 'r1', 'tiny', 'chat', {{p}}, 3, {{c}}, 'ok', false, {AT}, {AT})")
TOKEN = ("INSERT INTO api_tokens (account_id, token_hash, prefix, created_at, label, scope) VALUES "
         f"('a1', '{{h}}', 'sl_x', {AT}, '', 'inference')")


def test_0028_up_down_up(migrated: tuple[Engine, Callable[[str, bool], None]]) -> None:
    engine, to = migrated

    def present() -> set[str]:
        return TABLES & set(inspect(engine).get_table_names())

    to("0027", True)
    with engine.begin() as c:
        c.execute(text(f"INSERT INTO accounts (id, name, role, created_at) VALUES ('a1', 'acme', 'tenant', {AT})"))
    with pytest.raises(IntegrityError), engine.begin() as c:  # no inference scope before 0028
        c.execute(text(TOKEN.format(h="h0")))
    to("0028", True)
    assert present() == TABLES
    with engine.begin() as c:
        c.execute(text(DEPLOYMENT.format(id="d1", lo=0)))
        c.execute(text(REQUEST.format(id="q1", p=5, c=2)))
        c.execute(text(TOKEN.format(h="h1")))
        c.execute(text("UPDATE api_tokens SET rate_limit_per_minute = 60, token_quota = 5000000000"))
        c.execute(text("INSERT INTO inference_key_usage (token_id, period, tokens) VALUES (1, '2026-12', 4000000000)"))
    refused = [DEPLOYMENT.format(id="d2", lo=0),  # same owner, same name
               DEPLOYMENT.format(id="d3", lo=3),  # min above max
               REQUEST.format(id="q1", p=5, c=2),  # metered twice
               REQUEST.format(id="q2", p=2, c=5)]  # cached above the prompt
    for sql in refused:
        with pytest.raises(IntegrityError), engine.begin() as c:
            c.execute(text(sql))
    to("0027", False)
    assert present() == set()
    to("head", True)
    assert present() == TABLES
