"""The one rule for text a client sends (names, reasons, event fields): no control characters.

Refused: every C0/C1 control (NUL, ESC, BEL, DEL ...; newline and tab only where ``lines`` allows
them), the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C)
that make text read differently from what it holds, lone surrogates and unassigned code points.
Used by the wire schemas (``suanli.api.schemas.common``) and by the usage-event parser.
"""

from __future__ import annotations

import re
import unicodedata

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidirectional controls (RLO U+202E and its kin)."""


def control_char(text: str, *, lines: bool = False) -> str | None:
    """The first forbidden character of ``text`` as ``U+XXXX``, or None when it has none."""
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in BIDI or cat in ("Cs", "Cn") or (cat == "Cc" and not (lines and ch in "\n\t")):
            return f"U+{ord(ch):04X}"
    return None


NAME_MAX = 64
"""The longest identifier: the narrowest column an identifier is stored in (a model, a site, a supplier)."""
NAME_RULE = f"1 to {NAME_MAX} characters of letters A-Z a-z, digits, '-', '_' and '.'"
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def is_name(text: str) -> bool:
    """An identifier (an account, a site, a supplier, a node, a model ...): :data:`NAME_RULE`."""
    return len(text) <= NAME_MAX and _NAME.fullmatch(text) is not None
