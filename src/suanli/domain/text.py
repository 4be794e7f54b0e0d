"""The one rule for text a client sends (names, reasons, event fields): no control characters.

Refused: every C0/C1 control (NUL, ESC, BEL, DEL ...; newline and tab only where ``lines`` allows
them), the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C)
that make text read differently from what it holds, lone surrogates and unassigned code points.
Used by the wire schemas (``suanli.api.schemas.common``) and by the usage-event parser.
"""

from __future__ import annotations

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
