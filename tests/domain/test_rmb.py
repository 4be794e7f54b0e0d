"""人民币大写 (amounts in capitals), by the rules of 《支付结算办法》."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.domain.rmb import rmb_upper


@pytest.mark.parametrize(("amount", "words"), [
    ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"),
    ("0", "零元整"), ("0.05", "伍分"), ("0.50", "伍角"), ("0.56", "伍角陆分"),
    ("1", "壹元整"), ("10", "壹拾元整"), ("15", "壹拾伍元整"), ("100", "壹佰元整"),
    ("1005", "壹仟零伍元整"), ("1050", "壹仟零伍拾元整"), ("1500.00", "壹仟伍佰元整"),
    ("1.05", "壹元零伍分"), ("1.50", "壹元伍角"), ("10005.05", "壹万零伍元零伍分"),
    ("100000", "壹拾万元整"), ("1000000", "壹佰万元整"), ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"), ("1000050000", "壹拾亿零伍万元整"), ("1000000000", "壹拾亿元整"),
    ("8720.85", "捌仟柒佰贰拾元捌角伍分"), ("-3.20", "负叁元贰角"), ("2.345", "贰元叁角伍分"),
    ("9999999999999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_capitals(amount: str, words: str) -> None:
    assert rmb_upper(Decimal(amount)) == words


def test_too_large() -> None:
    with pytest.raises(ValueError):
        rmb_upper(Decimal("1e16"))
