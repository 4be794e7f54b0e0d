"""The legal parties of an invoice (China): the seller (the operator) and the buyer (a tenant
organisation), their tax ids, and the invoice type a buyer asks for.

A **unified social credit code** (统一社会信用代码, GB 32100-2015) is 18 characters from the 31
of :data:`USCC_CHARS` (digits and upper-case letters without I, O, Z, S, V):

    position 1     registration authority (1 机构编制, 5 民政, 9 工商, Y 其他 ...)
    position 2     type of organisation
    positions 3-8  administrative division code (six digits)
    positions 9-17 organisation code (GB 11714)
    position 18    check character: C18 = 31 - (sum_{i=1..17} v(Ci) x Wi mod 31), 31 -> 0,
                   with v the index in USCC_CHARS and W = 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
                   (Wi = 3^(i-1) mod 31)

:func:`uscc_problem` says what is wrong with a code (or ``None``). A party registered outside
mainland China gives its own tax id with ``foreign_tax_id`` set: then only its form is checked
(1 to 40 letters, digits, spaces, ``-``, ``/`` or ``.``).

A 增值税专用发票 (special VAT invoice) lets the buyer deduct input VAT; the tax authority
requires the buyer's name, tax id, address and phone, bank and account on it, so a buyer
that asks for one must give them all (:func:`check_profile`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from suanli.errors import ValidationError

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of a unified social credit code, in the order of their values 0..30."""
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""GB 32100-2015 weights of positions 1..17 (3^(i-1) mod 31)."""

SELLER = "seller"
"""The ``party`` of the operator's own profile (a buyer's is its tenant account id)."""

FOREIGN_TAX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}")
FIELD_MAX = {"legal_name": 200, "address": 300, "phone": 40, "bank_name": 200, "bank_account": 64}


class InvoiceType(StrEnum):
    """The kind of VAT invoice (发票) a buyer asks for."""

    NORMAL = "normal"
    """增值税普通发票: a plain VAT invoice (no input-tax deduction)."""
    SPECIAL = "special"
    """增值税专用发票: a special VAT invoice (the buyer deducts the input tax; needs its full details)."""

    @property
    def zh(self) -> str:
        return "增值税专用发票" if self is InvoiceType.SPECIAL else "增值税普通发票"

    @property
    def en(self) -> str:
        return "special VAT invoice" if self is InvoiceType.SPECIAL else "ordinary VAT invoice"


def uscc_check_char(first17: str) -> str:
    """The check character of the first 17 characters of a unified social credit code."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """What is wrong with ``code`` as a unified social credit code (GB 32100-2015), or ``None``."""
    if len(code) != 18:
        return f"a unified social credit code has 18 characters; {code!r} has {len(code)}"
    bad = sorted({c for c in code if c not in USCC_CHARS})
    if bad:
        return (f"{', '.join(repr(c) for c in bad[:5])} cannot be in a unified social credit code (allowed: digits "
                "and the upper-case letters A-Y without I, O, S, V, Z)")
    if not code[2:8].isdigit():
        return f"characters 3-8 of a unified social credit code are the division code (six digits), not {code[2:8]!r}"
    want = uscc_check_char(code[:17])
    if code[17] != want:
        return (f"the check character (18th) of {code!r} is wrong: GB 32100-2015 gives {want!r} for its first 17 "
                "characters; check for a typing error")
    return None


def check_tax_id(value: str, *, foreign: bool, field: str = "tax_id") -> str:
    """The tax id as stored: a unified social credit code (upper-cased) or, with ``foreign``, a
    foreign tax id of 1-40 letters, digits, spaces, ``-``, ``/``, ``.``; else a 422 saying why."""
    v = value.strip()
    if foreign:
        if not FOREIGN_TAX_ID.fullmatch(v):
            raise ValidationError(f"{field}: a foreign tax id is 1 to 40 letters, digits, spaces, '-', '/' or '.' "
                                  "(starting with a letter or digit)", field=field)
        return v
    problem = uscc_problem(v.upper())
    if problem:
        raise ValidationError(f"{field}: {problem}; a party registered outside mainland China sets "
                              "foreign_tax_id=true and gives its own tax id", field=field)
    return v.upper()


@dataclass(frozen=True, slots=True)
class LegalProfile:
    """A party's details as an invoice prints them (seller: the operator; buyer: a tenant)."""

    party: str
    """:data:`SELLER`, or the buyer's tenant account id."""
    legal_name: str
    tax_id: str
    foreign_tax_id: bool = False
    address: str = ""
    phone: str = ""
    bank_name: str = ""
    bank_account: str = ""
    invoice_type: InvoiceType = InvoiceType.NORMAL
    """What a buyer asks for (the seller's is not used)."""
    updated_at: datetime | None = None
    updated_by: str = ""

    def snapshot(self) -> dict[str, str | bool]:
        """The profile as an issued invoice keeps it (never changed afterwards)."""
        return {"legal_name": self.legal_name, "tax_id": self.tax_id, "foreign_tax_id": self.foreign_tax_id,
                "address": self.address, "phone": self.phone, "bank_name": self.bank_name,
                "bank_account": self.bank_account, "invoice_type": self.invoice_type.value}


def check_profile(party: str, *, legal_name: str, tax_id: str, foreign_tax_id: bool = False, address: str = "",
                  phone: str = "", bank_name: str = "", bank_account: str = "",
                  invoice_type: str | InvoiceType = InvoiceType.NORMAL, updated_at: datetime | None = None,
                  updated_by: str = "") -> LegalProfile:
    """A profile from what was entered, checked: a legal name, a valid tax id, fields within their
    lengths; a buyer asking for a special VAT invoice gives address, phone, bank and account too."""
    fields = {"legal_name": legal_name.strip(), "address": address.strip(), "phone": phone.strip(),
              "bank_name": bank_name.strip(), "bank_account": bank_account.strip()}
    if not fields["legal_name"]:
        raise ValidationError("legal_name: the registered legal name (e.g. 北京某某科技有限公司) is required",
                              field="legal_name")
    for k, v in fields.items():
        if len(v) > FIELD_MAX[k]:
            raise ValidationError(f"{k}: at most {FIELD_MAX[k]} characters, got {len(v)}", field=k)
        if any(ord(c) < 32 or ord(c) == 127 for c in v):
            raise ValidationError(f"{k}: control characters are not allowed", field=k)
    try:
        kind = InvoiceType(invoice_type)
    except ValueError:
        raise ValidationError(f"invoice_type {invoice_type!r} not allowed; allowed: normal (增值税普通发票), "
                              "special (增值税专用发票)", field="invoice_type") from None
    tid = check_tax_id(tax_id, foreign=foreign_tax_id)
    if kind is InvoiceType.SPECIAL and party != SELLER:
        missing = [k for k in ("address", "phone", "bank_name", "bank_account") if not fields[k]]
        if missing:
            raise ValidationError(f"{', '.join(missing)}: a special VAT invoice (增值税专用发票) carries the buyer's "
                                  "address, phone, bank and account; give them or ask for invoice_type normal",
                                  field=missing[0])
    return LegalProfile(party, fields["legal_name"], tid, foreign_tax_id, fields["address"], fields["phone"],
                        fields["bank_name"], fields["bank_account"], kind, updated_at, updated_by)
