from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.money import round_line, to_decimal
from suanli.domain.prices import PriceBook, PriceEntry, PriceUnit, device_hour_price, p_year_price
from suanli.errors import NotFoundError, ValidationError

CAT = builtin_catalog()
H800 = CAT.get("H800")


def test_p_year_to_device_hour_matches_the_brief() -> None:
    # 180,000 元/P/年 on a 989.4 TFLOPS H800 is about 20.33 元 per device-hour
    rate = device_hour_price(Decimal(180000), PriceUnit.P_YEAR, H800)
    assert rate == Decimal(180000) * Decimal("0.9894") / Decimal(8760)
    assert round_line(rate) == Decimal("20.33")


def test_conversions_are_inverse() -> None:
    dh = Decimal("20.33")
    back = device_hour_price(p_year_price(dh, PriceUnit.DEVICE_HOUR, H800), PriceUnit.P_YEAR, H800)
    assert abs(back - dh) < Decimal("1e-20")


def test_catalog_has_the_required_models_with_sources() -> None:
    for name in ["A100-80GB", "A800", "H100-SXM", "H800", "H20", "H200", "L40S", "L20", "RTX-4090", "V100-32GB",
                 "T4", "A10", "Ascend-910B", "MLU370-X8", "DCU-K100-AI"]:
        m = CAT.get(name)
        assert m.source and m.fp16_tflops > 0 and m.tdp_watts > 0
    assert CAT.get("910b").name == "Ascend-910B"  # aliases, case-insensitive
    with pytest.raises(NotFoundError, match="unknown accelerator model 'B300'"):
        CAT.get("B300")


def test_segments_cut_at_the_late_2023_price_change() -> None:
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    change = datetime(2023, 8, 1, tzinfo=UTC)
    book = PriceBook([
        PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(120000), "CNY", t0),
        PriceEntry("H800", None, PriceUnit.P_YEAR, Decimal(180000), "CNY", change),
    ], {"H800": H800})
    segs = book.segments("H800", "any-site", datetime(2023, 7, 31, 12, tzinfo=UTC), datetime(2023, 8, 1, 6, tzinfo=UTC))
    assert [s.seconds for s in segs] == [12 * 3600, 6 * 3600]
    assert abs(segs[0].rate_per_device_hour * 3 - segs[1].rate_per_device_hour * 2) < Decimal("1e-20")
    with pytest.raises(NotFoundError, match="no price for H800"):
        book.segments("H800", "x", datetime(2022, 12, 31, tzinfo=UTC), t0)


def test_site_price_overrides_the_default() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    book = PriceBook([PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, Decimal(10), "CNY", t0),
                      PriceEntry("H800", "edge", PriceUnit.DEVICE_HOUR, Decimal(12), "CNY", t0)], {"H800": H800})
    assert book.rate_at("H800", "edge", t0) == 12
    assert book.rate_at("H800", "cloud", t0) == 10


def test_all_sites_price_applies_at_a_site_until_the_site_has_its_own() -> None:
    nov1, nov3, nov5 = (datetime(2026, 11, d, tzinfo=UTC) for d in (1, 3, 5))
    book = PriceBook([PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, Decimal(10), "CNY", nov1),
                      PriceEntry("H800", "edge", PriceUnit.DEVICE_HOUR, Decimal(12), "CNY", nov3),
                      PriceEntry("H800", None, PriceUnit.DEVICE_HOUR, Decimal(11), "CNY", nov5)], {"H800": H800})
    assert book.rate_at("H800", "edge", datetime(2026, 11, 2, tzinfo=UTC)) == 10  # before the site's own price
    assert book.rate_at("H800", "edge", nov3) == 12
    assert book.rate_at("H800", "edge", nov5) == 12  # the site's own price stays in force
    assert book.rate_at("H800", "cloud", nov5) == 11
    segs = book.segments("H800", "edge", datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC))
    assert [(s.seconds, s.rate_per_device_hour) for s in segs] == [(86400, 10), (3 * 86400, 12)]


def test_money_refuses_floats_and_rounds_half_up_once() -> None:
    with pytest.raises(ValidationError, match="not a float"):
        to_decimal(0.1)
    assert round_line(Decimal("0.125")) == Decimal("0.13")
    assert round_line(Decimal("0.135")) == Decimal("0.14")
    assert to_decimal("12.50") == Decimal("12.50")


def _book_with_corrections() -> PriceBook:
    from suanli.domain.prices import PriceCorrection

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [PriceEntry("A800", None, PriceUnit.DEVICE_HOUR, Decimal("6.5"), "CNY", t0),
               PriceEntry("A800", "sz", PriceUnit.DEVICE_HOUR, Decimal("7"), "CNY", t0)]
    fixes = [
        PriceCorrection("pc_1", "A800", None, PriceUnit.DEVICE_HOUR, Decimal("6"), "CNY",
                        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 10, 8, 49, 31, tzinfo=UTC),
                        at=datetime(2026, 12, 2, tzinfo=UTC)),
        PriceCorrection("pc_2", "A800", "sh", PriceUnit.DEVICE_HOUR, Decimal("5"), "CNY",
                        datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC),
                        at=datetime(2026, 12, 3, tzinfo=UTC)),
    ]
    return PriceBook(entries, {"A800": CAT.get("A800")}, fixes)


def test_a_correction_says_what_the_price_was_over_its_window_only() -> None:
    book = _book_with_corrections()
    at = datetime(2026, 11, 5, 12, tzinfo=UTC)
    assert book.rate_at("A800", "sh", at) == 5  # the later, site-specific correction wins
    assert book.rate_at("A800", "sz", at) == 6  # a site-less correction applies at every site
    assert book.rate_at("A800", "sh", datetime(2026, 11, 10, 8, 49, 30, tzinfo=UTC)) == 6
    assert book.rate_at("A800", "sh", datetime(2026, 11, 10, 8, 49, 31, tzinfo=UTC)) == Decimal("6.5")
    assert book.rate_at("A800", "sz", datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)) == 7
    segs = book.segments("A800", "sh", datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    assert [(s.start.day, s.rate_per_device_hour) for s in segs] == [
        (31, Decimal("6.5")), (1, 6), (5, 5), (6, 6), (10, Decimal("6.5"))]
    assert segs[-1].start == datetime(2026, 11, 10, 8, 49, 31, tzinfo=UTC)
    assert datetime(2026, 11, 10, 8, 49, 31, tzinfo=UTC) in book.instants()


def test_a_correction_window_must_end_after_it_starts() -> None:
    from suanli.domain.prices import PriceCorrection

    t = datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="must end after it starts"):
        PriceCorrection("pc", "A800", None, PriceUnit.DEVICE_HOUR, Decimal(1), "CNY", t, t, at=t)
