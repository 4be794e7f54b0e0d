"""The shared input types of ``suanli.api.schemas.common`` (docs/api.md "Input rules"): each refuses
hostile values with a message that says what is allowed, and keeps the good ones exact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from suanli.api.schemas.common import (
    Amount,
    Cents,
    Count,
    Exact,
    Hours,
    Instant,
    Label,
    Name,
    Seconds,
    Text,
    Wire,
)


class Probe(Wire):
    name: Name | None = None
    text: Text = ""
    label: Label | None = None
    at: Instant | None = None
    count: Count | None = None
    seconds: Seconds | None = None
    hours: Hours | None = None
    amount: Amount | None = None
    cents: Cents | None = None
    exact: Exact | None = None


def refusal(body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as e:
        Probe.model_validate_json(json.dumps(body))
    return " ".join(x["msg"] for x in e.value.errors())


@pytest.mark.parametrize(("body", "says"), [
    ({"name": "a b"}, "letters A-Z a-z, digits, '-', '_' and '.'"),
    ({"name": ""}, "1 to 64 characters"),
    ({"name": "x" * 65}, "too long (65 characters)"),
    ({"name": "x" * 10_000}, "too long (10000 characters)"),
    ({"name": "acme\x1b[31m"}, "U+001B"),
    ({"name": 7}, "give a string"),
    ({"text": "a\x00b"}, "U+0000"),
    ({"text": "pay \u202egnp.exe"}, "U+202E"),
    ({"text": "x" * 5000}, "at most 500 characters"),
    ({"label": "   "}, "not only spaces"),
    ({"at": "2026-05-01T09:00:00"}, "has no time zone"),
    ({"at": "9999-12-31T00:00:00Z"}, "from 2000-01-01 to 2100-01-01"),
    ({"at": "1970-01-01T00:00:00Z"}, "from 2000-01-01 to 2100-01-01"),
    ({"at": 1_700_000_000}, "give a string"),
    ({"at": "yesterday"}, "is not a date-time"),
    ({"count": True}, "give a whole number"),
    ({"count": 1.0}, "give a whole number"),
    ({"count": "1"}, "give a whole number"),
    ({"count": 0}, "from 1 to 10000"),
    ({"count": 9223372036854775808}, "from 1 to 10000"),
    ({"seconds": 10**20}, "from 1 to 31622400"),
    ({"hours": "1e16"}, "above 0 to 87600"),
    ({"hours": "-0"}, "above 0 to 87600"),
    ({"hours": "NaN"}, "NaN and Infinity are not numbers"),
    ({"hours": "Infinity"}, "NaN and Infinity are not numbers"),
    ({"hours": "1e999"}, "above 0 to 87600"),
    ({"hours": "1" * 200}, "at most 100 characters"),
    ({"hours": ""}, "is not a number"),
    ({"amount": "1e30"}, "<= 1000000000"),
    ({"amount": "1e255"}, "<= 1000000000"),
    ({"amount": 12.5}, "a float is never exact"),
    ({"amount": True}, "a boolean is not a number"),
    ({"amount": "0"}, "> 0"),
    ({"amount": "0.0000001"}, "at most 6 decimal places"),
    ({"cents": "1.001"}, "at most 2 decimal places"),
    ({"exact": "-Infinity"}, "NaN and Infinity are not numbers"),
])
def test_a_hostile_value_is_refused_saying_what_is_allowed(body: dict[str, Any], says: str) -> None:
    assert says in refusal(body)


def test_good_values_pass_exactly() -> None:
    p = Probe.model_validate_json(json.dumps({
        "name": "H100-SXM_80.v2", "text": "two lines\nand\ta tab, 中文", "label": "L20 5 h", "at": "2026-05-01T09:00:00+08:00",
        "count": 10_000, "seconds": 60, "hours": "0.5", "amount": "1000000000", "cents": "0.01", "exact": 3}))
    assert p.at == datetime(2026, 5, 1, 1, tzinfo=UTC)
    assert (p.hours, p.amount, p.cents, p.exact) == (Decimal("0.5"), Decimal(10**9), Decimal("0.01"), Decimal(3))
    assert json.loads(p.model_dump_json())["amount"] == "1000000000"


def test_the_json_schema_states_the_bounds() -> None:
    props = Probe.model_json_schema()["properties"]
    name = props["name"]["anyOf"][0]
    assert (name["pattern"], name["maxLength"]) == ("^[A-Za-z0-9._-]+$", 64)
    assert props["count"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 10_000}


def test_an_unknown_field_is_named_but_never_echoed_whole() -> None:
    message = refusal({"x" * 10_000: 1, "a\x00": 2, **{f"k{i}": i for i in range(8)}})
    assert "unknown field(s)" in message and "allowed fields: name, text" in message
    assert "x" * 41 not in message and "\x00" not in message and "and 5 more" in message
