"""Investment inputs (migration 0023): capex per node, fixed opex per site, the global settings
(one row); returns :mod:`suanli.domain.investment` objects."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from suanli.domain.investment import InvestmentSettings, NodeCapex, SiteOpex
from suanli.store.tables import Base
from suanli.store.types import DecimalText, UTCDateTime

SETTINGS_ID = 1


class NodeCapexRow(Base):
    __tablename__ = "node_capex"
    node: Mapped[str] = mapped_column(ForeignKey("nodes.name"), primary_key=True)
    capex: Mapped[Decimal] = mapped_column(DecimalText)
    residual: Mapped[Decimal] = mapped_column(DecimalText)
    currency: Mapped[str] = mapped_column(String(3))
    purchased_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SiteOpexRow(Base):
    __tablename__ = "site_opex"
    site: Mapped[str] = mapped_column(ForeignKey("sites.name"), primary_key=True)
    staff: Mapped[Decimal] = mapped_column(DecimalText)
    racks: Mapped[Decimal] = mapped_column(DecimalText)
    bandwidth: Mapped[Decimal] = mapped_column(DecimalText)
    other: Mapped[Decimal] = mapped_column(DecimalText)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InvestmentSettingsRow(Base):
    __tablename__ = "investment_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    life_years: Mapped[int] = mapped_column(Integer)
    debt_share: Mapped[Decimal] = mapped_column(DecimalText)
    interest_rate: Mapped[Decimal] = mapped_column(DecimalText)
    loan_years: Mapped[int] = mapped_column(Integer)
    discount_rate: Mapped[Decimal] = mapped_column(DecimalText)
    price_decline: Mapped[Decimal] = mapped_column(DecimalText)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def get_settings(s: Session) -> InvestmentSettings:
    """The settings, or the defaults when none were saved."""
    r = s.get(InvestmentSettingsRow, SETTINGS_ID)
    if r is None:
        return InvestmentSettings()
    return InvestmentSettings(r.life_years, r.debt_share, r.interest_rate, r.loan_years, r.discount_rate,
                              r.price_decline)


def save_settings(s: Session, v: InvestmentSettings, now: datetime) -> None:
    r = s.get(InvestmentSettingsRow, SETTINGS_ID)
    vals = {"life_years": v.life_years, "debt_share": v.debt_share, "interest_rate": v.interest_rate,
            "loan_years": v.loan_years, "discount_rate": v.discount_rate, "price_decline": v.price_decline,
            "updated_at": now}
    if r is None:
        s.add(InvestmentSettingsRow(id=SETTINGS_ID, **vals))
    else:
        for k, x in vals.items():
            setattr(r, k, x)


def list_capex(s: Session, nodes: Iterable[str] | None = None) -> list[NodeCapex]:
    q = select(NodeCapexRow).order_by(NodeCapexRow.node)
    if nodes is not None:
        q = q.where(NodeCapexRow.node.in_(list(nodes)))
    return [NodeCapex(r.node, r.capex, r.purchased_on, r.residual, r.currency) for r in s.scalars(q)]


def save_capex(s: Session, c: NodeCapex, now: datetime) -> None:
    r = s.get(NodeCapexRow, c.node)
    if r is None:
        s.add(NodeCapexRow(node=c.node, capex=c.capex, residual=c.residual, currency=c.currency,
                           purchased_on=c.purchased_on, updated_at=now))
    else:
        r.capex, r.residual, r.currency, r.purchased_on, r.updated_at = (c.capex, c.residual, c.currency,
                                                                         c.purchased_on, now)


def list_opex(s: Session) -> list[SiteOpex]:
    return [SiteOpex(r.site, r.staff, r.racks, r.bandwidth, r.other)
            for r in s.scalars(select(SiteOpexRow).order_by(SiteOpexRow.site))]


def save_opex(s: Session, o: SiteOpex, now: datetime) -> None:
    r = s.get(SiteOpexRow, o.site)
    if r is None:
        s.add(SiteOpexRow(site=o.site, staff=o.staff, racks=o.racks, bandwidth=o.bandwidth, other=o.other,
                          updated_at=now))
    else:
        r.staff, r.racks, r.bandwidth, r.other, r.updated_at = o.staff, o.racks, o.bandwidth, o.other, now
