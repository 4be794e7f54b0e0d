"""Migratable leases and defragmentation plans: the rules (pure; docs/defrag.md).

- An order may say ``migratable: true`` (forms ``gpu`` and ``slice``): its lease accepts moves to
  other devices with notice, for a discount the operator sets. The discount and the notice in
  force at the lease's first grant stay with the lease.
- :class:`DefragSettings`: the operator's switch (``auto``: approve the planner's plans without a
  person), the notice (seconds between the notification and the move, 0..86,400) and the discount
  (% off the list price, 0..90, Decimal). Only the operator sets them (:mod:`suanli.domain.authz`).
- A plan and each of its moves go ``proposed → approved → notified → moving → done``; ``failed`` and
  ``cancelled`` end them early (:func:`check_plan_transition`).
- The job hook: before a move the job finds a notice file (:data:`NOTICE_FILE` in its work dir,
  also named by ``$SUANLI_MOVE_NOTICE``) holding the deadline, and gets SIGTERM at the move; it
  writes its checkpoint in its work dir and is started again on the new devices with
  ``SUANLI_RESTORED=1`` (:data:`RESTORED_ENV`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from suanli.errors import ConflictError, ValidationError

MIGRATABLE_FORMS = ("gpu", "slice")
MAX_NOTICE_S = 86400
DEFAULT_NOTICE_S = 600
MAX_DISCOUNT_PCT = Decimal(90)
NOTICE_FILE = ".suanli-move-notice"
"""Written in the job's work dir before a move: one JSON object with ``deadline`` (ISO-8601 UTC),
``plan`` and ``reason``."""
NOTICE_ENV = "SUANLI_MOVE_NOTICE"
RESTORED_ENV = "SUANLI_RESTORED"


class PlanState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    NOTIFIED = "notified"
    MOVING = "moving"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({PlanState.PROPOSED, PlanState.APPROVED, PlanState.NOTIFIED, PlanState.MOVING})
_NEXT: dict[PlanState, frozenset[PlanState]] = {
    PlanState.PROPOSED: frozenset({PlanState.APPROVED, PlanState.CANCELLED, PlanState.FAILED}),
    PlanState.APPROVED: frozenset({PlanState.NOTIFIED, PlanState.CANCELLED, PlanState.FAILED}),
    PlanState.NOTIFIED: frozenset({PlanState.MOVING, PlanState.CANCELLED, PlanState.FAILED, PlanState.DONE}),
    PlanState.MOVING: frozenset({PlanState.DONE, PlanState.FAILED}),
}


def check_plan_transition(plan_id: str, current: PlanState, to: PlanState) -> None:
    if to not in _NEXT.get(current, frozenset()):
        allowed = ", ".join(sorted(s.value for s in _NEXT.get(current, frozenset()))) or "none (it is over)"
        raise ConflictError(f"defrag plan {plan_id} is {current.value}; it cannot become {to.value} "
                            f"(allowed from {current.value}: {allowed})", plan=plan_id, state=current.value)


@dataclass(frozen=True)
class DefragSettings:
    auto: bool = False
    notice_s: int = DEFAULT_NOTICE_S
    discount_pct: Decimal = Decimal(0)


def parse_migratable(value: Any, form: str) -> bool:
    """The order field ``migratable``: a boolean, only for the forms that can move."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(f"migratable must be true or false, got {value!r}", field="migratable")
    if value and form not in MIGRATABLE_FORMS:
        raise ValidationError(f"migratable is offered for the forms {', '.join(MIGRATABLE_FORMS)}, not {form}",
                              field="migratable", allowed=list(MIGRATABLE_FORMS))
    return value


def parse_settings(raw: dict[str, Any], current: DefragSettings) -> DefragSettings:
    """A change of the settings (fields left out keep their value); 422 naming the field and the range."""
    unknown = sorted(set(raw) - {"auto", "notice_s", "discount_pct"})
    if unknown:
        raise ValidationError(f"unknown fields {unknown}; allowed: auto, notice_s, discount_pct", unknown=unknown)
    auto = raw.get("auto", current.auto)
    if not isinstance(auto, bool):
        raise ValidationError(f"auto must be true or false, got {auto!r}", field="auto")
    notice = raw.get("notice_s", current.notice_s)
    if isinstance(notice, bool) or not isinstance(notice, int) or not 0 <= notice <= MAX_NOTICE_S:
        raise ValidationError(f"notice_s must be an integer between 0 and {MAX_NOTICE_S} seconds, got {notice!r}",
                              field="notice_s", minimum=0, maximum=MAX_NOTICE_S)
    disc_raw = raw.get("discount_pct", current.discount_pct)
    what = f"discount_pct must be a number between 0 and {MAX_DISCOUNT_PCT} (% off the list price), got {disc_raw!r}"
    if isinstance(disc_raw, bool) or not isinstance(disc_raw, int | str | Decimal | float):
        raise ValidationError(what, field="discount_pct", minimum=0, maximum=str(MAX_DISCOUNT_PCT))
    try:
        disc = Decimal(str(disc_raw))
    except InvalidOperation:
        raise ValidationError(what, field="discount_pct", minimum=0, maximum=str(MAX_DISCOUNT_PCT)) from None
    if not disc.is_finite() or not 0 <= disc <= MAX_DISCOUNT_PCT:
        raise ValidationError(what, field="discount_pct", minimum=0, maximum=str(MAX_DISCOUNT_PCT))
    return DefragSettings(auto, notice, disc)


def discounted(share: Decimal, discount_pct: Decimal) -> Decimal:
    """The billed share of a migratable lease: its share less the discount (Decimal, unrounded:
    the ledger rounds once, as for every line)."""
    return share * (Decimal(100) - discount_pct) / Decimal(100)
