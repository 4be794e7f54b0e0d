"""Unified social credit codes (GB 32100-2015) and the checks of a legal profile."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.legal import (
    SELLER,
    USCC_CHARS,
    InvoiceType,
    check_profile,
    check_tax_id,
    uscc_check_char,
    uscc_problem,
)
from suanli.errors import ValidationError

# codes published by the companies themselves (business licences)
REAL = ["91350100M000100Y43", "9144030071526726XG", "914403001922038216", "91110000802100433B",
        "91330100799655058B"]


@pytest.mark.parametrize("code", REAL)
def test_published_codes_are_valid(code: str) -> None:
    assert uscc_problem(code) is None
    assert uscc_check_char(code[:17]) == code[17]


def test_the_weights_are_powers_of_three_mod_31() -> None:
    from suanli.domain.legal import USCC_WEIGHTS
    assert tuple(pow(3, i, 31) for i in range(17)) == USCC_WEIGHTS


@pytest.mark.parametrize(("code", "says"), [
    ("91350100M000100Y4", "has 17"), ("91350100M000100Y433", "has 19"),
    ("91350100M000100YI3", "'I' cannot be in"), ("91350100m000100Y43", "'m' cannot be in"),
    ("913501A0M000100Y43", "division code"), ("91350100M000100Y44", "gives '3'"),
])
def test_what_is_wrong_with_a_code(code: str, says: str) -> None:
    problem = uscc_problem(code)
    assert problem is not None and says in problem, problem


@given(st.text(alphabet=USCC_CHARS, min_size=2, max_size=2), st.text(alphabet="0123456789", min_size=6, max_size=6),
       st.text(alphabet=USCC_CHARS, min_size=9, max_size=9), st.integers(0, 16), st.sampled_from(USCC_CHARS))
def test_any_one_changed_character_is_caught(head: str, division: str, org: str, where: int, other: str) -> None:
    first = head + division + org
    code = first + uscc_check_char(first)
    assert uscc_problem(code) is None
    if code[where] != other:  # a single substitution always changes the weighted sum mod 31 (weights are units)
        changed = code[:where] + other + code[where + 1:]
        assert uscc_problem(changed) is not None


def test_tax_ids_and_profiles() -> None:
    assert check_tax_id(" 9144030071526726xg ", foreign=False) == "9144030071526726XG"
    assert check_tax_id("DE 123/456.78-9", foreign=True) == "DE 123/456.78-9"
    with pytest.raises(ValidationError, match="foreign_tax_id=true"):
        check_tax_id("DE123456789", foreign=False)
    with pytest.raises(ValidationError, match="a foreign tax id is 1 to 40"):
        check_tax_id("x" * 41, foreign=True)
    p = check_profile("t_1", legal_name=" 甲公司 ", tax_id="91350100M000100Y43")
    assert p.legal_name == "甲公司" and p.invoice_type is InvoiceType.NORMAL
    with pytest.raises(ValidationError, match="address, phone, bank_name, bank_account"):
        check_profile("t_1", legal_name="甲公司", tax_id="91350100M000100Y43", invoice_type="special")
    # the seller's invoice type is not used: a seller needs no bank to be valid
    assert check_profile(SELLER, legal_name="运营方", tax_id="91350100M000100Y43", invoice_type="special")
    with pytest.raises(ValidationError, match="control characters"):
        check_profile("t_1", legal_name="甲\x00公司", tax_id="91350100M000100Y43")
    with pytest.raises(ValidationError, match="at most 200"):
        check_profile("t_1", legal_name="甲" * 201, tax_id="91350100M000100Y43")
