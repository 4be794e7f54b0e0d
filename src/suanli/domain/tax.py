"""Tax (VAT) per product type: what each invoice line is, the rate the operator set for it, and
the tax per rate on an invoice.

**Product types** (:class:`ProductType`), from a line's kind and meter
(:func:`product_type`; the line kinds are :class:`suanli.ledger.rating.ChargeLine`'s):

    compute   device and node time, jobs' device time, term fees (包月/包年), commit true-ups on them,
              and the lines a package or term covers (amount 0)
    package   prepaid packages sold (``package_fee``)
    storage   storage (GB-hours)
    traffic   egress and data processed (GB)
    tokens    model services: inference and training tokens

Vouchers (算力券), credits and the wallet pay an invoice; they do not change its tax, which is
computed on the charges (the subtotal), as before.

**Rates**: the operator sets a rate per product type, effective from an instant that is not in the
past (:func:`check_rate`); a product type with no rate in force uses the server-wide default
``SUANLI_TAX_RATE`` (``0`` unless set). An invoice uses the rates in force at the instant it is
issued (a draft: now) and keeps them (``invoice_legal.taxes``): a rate set later never changes an
issued invoice.

**Rounding** (the one place tax is rounded): lines are grouped by rate; each group's tax is
``round_half_up(sum of its line amounts x rate, 0.01)``; the invoice's tax is the sum of the groups'.
With one rate for everything this is exactly the former ``round(subtotal x rate)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.errors import ValidationError

RATE_PLACES = 4
"""A tax rate has at most 4 decimal places (0.0600 = 6 %; 0.0325 is allowed)."""


class ProductType(StrEnum):
    COMPUTE = "compute"
    PACKAGE = "package"
    STORAGE = "storage"
    TRAFFIC = "traffic"
    TOKENS = "tokens"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def en(self) -> str:
        return _EN[self]


_ZH = {ProductType.COMPUTE: "算力租赁服务", ProductType.PACKAGE: "算力资源包", ProductType.STORAGE: "存储服务",
       ProductType.TRAFFIC: "网络流量", ProductType.TOKENS: "模型服务(Token)"}
_EN = {ProductType.COMPUTE: "compute leasing", ProductType.PACKAGE: "compute packages", ProductType.STORAGE: "storage",
       ProductType.TRAFFIC: "network traffic", ProductType.TOKENS: "model services (tokens)"}

_BY_METER = {"storage_gb_hours": ProductType.STORAGE, "egress_gb": ProductType.TRAFFIC,
             "data_processed_gb": ProductType.TRAFFIC, "inference_input_tokens": ProductType.TOKENS,
             "inference_output_tokens": ProductType.TOKENS, "inference_cached_input_tokens": ProductType.TOKENS,
             "training_tokens": ProductType.TOKENS}


def product_type(kind: str, meter: str) -> ProductType:
    """The product type of an invoice line: a package sold is ``package``; else by its meter
    (device, node and job time are ``compute``, as is anything else metered in time)."""
    if kind == "package_fee":
        return ProductType.PACKAGE
    return _BY_METER.get(meter, ProductType.COMPUTE)


def parse_product_type(value: object) -> ProductType:
    try:
        return ProductType(str(value))
    except ValueError:
        raise ValidationError(f"product_type {value!r} not allowed; allowed: "
                              f"{', '.join(x.value for x in ProductType)}", field="product_type") from None


def check_rate(rate: Decimal, effective_from: datetime, now: datetime) -> Decimal:
    """A rate as stored: 0 <= rate < 1 with at most :data:`RATE_PLACES` places, effective now or later."""
    if not rate.is_finite() or rate < 0 or rate >= 1:
        raise ValidationError(f"rate: a tax rate is a fraction from 0 (inclusive) to 1 (exclusive), e.g. 0.06 for "
                              f"6 %; got {rate}", field="rate")
    if rate != rate.quantize(Decimal(1).scaleb(-RATE_PLACES)):
        raise ValidationError(f"rate: at most {RATE_PLACES} decimal places (e.g. 0.06 or 0.0325); got {rate}",
                              field="rate")
    if effective_from < now:
        raise ValidationError(f"effective_from {effective_from.isoformat()} is in the past: a tax rate applies from "
                              "now or later, never to time already billed (issued invoices keep their rates)",
                              field="effective_from")
    return rate.quantize(Decimal(1).scaleb(-RATE_PLACES)).normalize() if rate else Decimal(0)


@dataclass(frozen=True, slots=True)
class TaxRate:
    """A rate the operator set for a product type, in force from ``effective_from`` until the next one."""

    product_type: ProductType
    rate: Decimal
    effective_from: datetime
    set_at: datetime
    set_by: str
    reason: str = ""


def rates_at(rates: list[TaxRate], at: datetime, default: Decimal) -> dict[ProductType, Decimal]:
    """The rate of every product type in force at ``at`` (``default`` where none was set yet)."""
    out = dict.fromkeys(ProductType, default)
    for r in sorted(rates, key=lambda x: x.effective_from):
        if r.effective_from <= at:
            out[r.product_type] = r.rate
    return out


@dataclass(frozen=True, slots=True)
class TaxGroup:
    """The lines of an invoice taxed at one rate: their product types, summed amounts and tax."""

    rate: Decimal
    product_types: tuple[ProductType, ...]
    base: Decimal
    tax: Decimal

    def doc(self) -> dict[str, object]:
        return {"rate": self.rate, "product_types": [p.value for p in self.product_types], "base": self.base,
                "tax": self.tax}


def group_of(d: Mapping[str, object]) -> TaxGroup:
    """A stored group (strings) back as a :class:`TaxGroup`."""
    types = d["product_types"]
    assert isinstance(types, list)
    return TaxGroup(Decimal(str(d["rate"])), tuple(ProductType(x) for x in types), Decimal(str(d["base"])),
                    Decimal(str(d["tax"])))
