"""Fuzz the whole OpenAPI document with schemathesis, in-process, as a tenant, the operator and a supplier.

One platform per actor on real SQLite, with the demo fleet and real state made through the API
(``fuzz_world``: a lease with a job, a reservation, a package, a plan, a voucher claimed against a
paid contract, an issued invoice), so that operations with ids in their path reach real objects.
Each operation's examples come from schemathesis's positive and negative data, with generated path
parameters or with the ids of those objects (and real ``tenant``, ``period``, ``supplier``… query
values), and, for half of them, from :func:`hostile`: a valid request with one place spoiled by a
:data:`HOSTILE` value. Every request goes to the ASGI app in this process (no network) with the
actor's token.

Checks: no 5xx (``not_a_server_error``), the status is documented (``status_code_conformance``),
the content type and the body match the documented model (``content_type_conformance``,
``response_schema_conformance``). Every operation runs; the report names each one that failed,
with the request (as curl) and, for an exception in the app, its traceback.

Bounded and reproducible for CI: ``SUANLI_FUZZ_EXAMPLES`` examples per operation and actor (default
:data:`DEFAULT_EXAMPLES`), ``deadline=None``, no shrinking, derandomized (``SUANLI_FUZZ_SEED=<n>``
explores other examples); the number of requests is printed (``pytest -s``). Rate limits are
switched off on the app under test (the fuzzer sends far more than a client may), explicitly, in
``fuzz_world.build``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fuzz_world import World, build, valid_bodies
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

DEFAULT_EXAMPLES = 30
EXAMPLES = int(os.environ.get("SUANLI_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
SEED = os.environ.get("SUANLI_FUZZ_SEED")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build(tmp_path / "data")
    yield w
    w.platform.close()


def _nested(depth: int) -> Any:
    out: Any = 0
    for _ in range(depth):
        out = [out]
    return out


HOSTILE: tuple[Any, ...] = (
    2**63, -(2**63) - 1, 10**30, -1, 0, 1e20, -1e300, 0.1, True, None, "", [], {},
    "9223372036854775808", "1e16", "1e30", "-1e30", "1e-30", "NaN", "Infinity", "-0", "0x10", "1_000",
    "0001-01-01T00:00:00+00:06", "9999-12-31T23:59:59-01:00", "2026-11-02T10:00:00", "2026-13-45T99:99:99Z",
    "9999-12", "0000-01", "2026-00", "1969-12",
    "a\x00b", "\x1b[31mred\x1b[0m", "\u202egnp.exe", "\ud7ff\ufffd\U0001f600", "x" * 5000, "../../etc/passwd",
    ["x" * 100] * 100, [[[[[[[[[[0]]]]]]]]]], {"a": {"b": {"c": {"d": {}}}}}, _nested(40), "y" * (2 << 20),
)
"""Values that broke the API before (huge and float numbers, exponents, instants near the ends of
time or without a zone, impossible months, control characters, long text, wrong types, JSON nested
40 deep, a 2 MiB string: a body over the limit) or might."""


def _body_schema(doc: dict[str, Any], op: Any) -> dict[str, Any]:
    body = doc["paths"][op.path][op.method.lower()].get("requestBody", {})
    schema: dict[str, Any] = body.get("content", {}).get("application/json", {}).get("schema", {})
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _leaves(value: Any, at: tuple[Any, ...] = (), depth: int = 3) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON body (dict keys and list items, up to ``depth`` levels)."""
    if depth == 0:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        yield (*at, k)
        yield from _leaves(v, (*at, k), depth - 1)


def _set(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    out = dict(value) if isinstance(value, dict) else list(value)
    out[at[0]] = _set(out[at[0]], at[1:], new) if len(at) > 1 else new  # type: ignore[index]
    return out


def hostile(op: Any, world: World, doc: dict[str, Any]) -> Any:
    """A valid request (real ids and query values) with one place replaced by a :data:`HOSTILE` value:
    a path parameter, a query parameter, or any field of the JSON body (also one not generated)."""
    real_path = {k: v for k, v in world.path_values(op.path).items() if f"{{{k}}}" in op.path}
    query_names = sorted(p.name for p in op.query)
    real_query = {k: v for k, v in world.query_values().items() if k in query_names}
    schema_fields = sorted(_body_schema(doc, op).get("properties", {}))
    valid = valid_bodies(world).get((op.method.upper(), op.path))
    base = op.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real_path or None,
                          query=real_query or None, **({} if valid is None else {"body": valid}))

    def mutate(case: Any) -> Any:
        body = case.body if isinstance(case.body, dict | list) else None
        places = [("path", k) for k in sorted(case.path_parameters)] + [("query", k) for k in query_names]
        if body is not None:
            places += [("body", at) for at in _leaves(body)]
            places += [("body", (k,)) for k in schema_fields if isinstance(body, dict) and k not in body]
        if not places:
            return st.just(case)

        def build(choice: tuple[tuple[str, Any], Any]) -> Any:
            (where, at), value = choice
            path, query = dict(case.path_parameters), dict(case.query)
            new_body = case.body
            if where == "path":
                path[at] = str(value) or " "  # an empty segment is another URL (a redirect to another route)
            elif where == "query":
                query[at] = value if isinstance(value, str) else str(value).lower()
            else:
                new_body = _set(body, at, value)
            return op.Case(path_parameters=path, query=query, body=new_body, media_type=case.media_type)

        return st.tuples(st.sampled_from(places), st.sampled_from(HOSTILE)).map(build)

    return base.flatmap(mutate)


def strategy(op: Any, world: World, doc: dict[str, Any]) -> Any:
    """Positive and negative examples, with generated or real path parameters and query values, and
    :func:`hostile` ones (half of all examples)."""
    real_path = {k: v for k, v in world.path_values(op.path).items() if f"{{{k}}}" in op.path}
    query_names = {p.name for p in op.query}
    real_query = {k: v for k, v in world.query_values().items() if k in query_names}
    generated = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        generated.append(op.as_strategy(generation_mode=mode))
        if real_path or real_query:
            generated.append(op.as_strategy(generation_mode=mode, path_parameters=real_path or None,
                                            query=real_query or None))
    if "format" in query_names:  # the other formats a route answers in (CSV, HTML)
        generated += [op.as_strategy(path_parameters=real_path or None, query={**real_query, "format": f})
                      for f in ("csv", "html")]
    return st.one_of(st.one_of(generated), hostile(op, world, doc)).filter(lambda case: harmless(case, world))


def harmless(case: Any, world: World) -> bool:
    """Whether ``case`` names none of :attr:`World.protected` (an actor's own token, the tenant's admin)."""
    return not any(str(case.path_parameters.get(k)) in v for k, v in world.protected.items())


def describe(e: BaseException) -> str:
    """The failure, the request that caused it (as curl) and, for an exception in the app, where it was raised."""
    if isinstance(e, AssertionError) or "Failure" in type(e).__name__:  # a check failed: its report names the request
        out = f"{type(e).__name__}: {str(e)[:2500]}"
        if isinstance(e, BaseExceptionGroup):  # Hypothesis's FlakyFailure: the first call's failure is inside
            out += "".join(f"\n  -> {describe(sub)}" for sub in e.exceptions[:3])
        return out
    return "".join(traceback.format_exception(e))[-3000:]  # raised in the app: where, and the request (as curl)


@pytest.mark.parametrize("actor", ["tenant", "operator", "supplier"])
def test_fuzz_openapi(actor: str, world: World) -> None:
    fuzz(world, actor, EXAMPLES)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_fuzz_openapi_on_postgresql(db_url: str, tmp_path: Path) -> None:
    """As the operator (who may call nearly every route), on PostgreSQL, with half the examples: it
    refuses what SQLite lets through (an integer past a 32-bit column, a NUL in text)."""
    w = build(tmp_path / "data", db_url)
    try:
        fuzz(w, "operator", max(1, EXAMPLES // 2))
    finally:
        w.platform.close()


def fuzz(world: World, actor: str, examples: int) -> None:
    """Every operation of the document, ``examples`` each, as ``actor``; fails naming every operation that failed."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    schema.config.generation.update(with_security_parameters=False)  # the actor's token on every request
    doc = world.app.openapi()
    auth = {"Authorization": f"Bearer {world.tokens[actor]}"}
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    t0 = time.monotonic()
    with asgi.get_client(world.app) as session:
        for result in schema.get_all_operations():
            op = result.ok()

            @settings(max_examples=examples, deadline=None, derandomize=SEED is None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                      print_blob=False)
            @given(case=strategy(op, world, doc))
            def run(case: Any) -> None:
                response = case.call(session=session, headers=auth)
                statuses[response.status_code] += 1
                case.validate_response(response, checks=CHECKS)

            if SEED is not None:
                run = seed(int(SEED))(run)
            try:
                run()
            except (Exception, BaseExceptionGroup) as e:  # every operation runs; each failure is reported below
                failures.append(f"{op.label}: {describe(e)}")
    requests = sum(statuses.values())
    print(f"\nfuzz as {actor} on {world.platform.dialect}: {requests} requests in {time.monotonic() - t0:.1f} s, "
          f"{len(list(schema.get_all_operations()))} operations, statuses {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} operation(s) failed as {actor}:\n\n" + "\n\n".join(failures)
