"""Factories for tests of the service layer and above: plain functions, real database."""

from __future__ import annotations

from suanli.domain.accounts import Principal, Role
from suanli.service import accounts
from suanli.service.platform import Platform


def make_tenant(p: Platform, operator: Principal, name: str = "acme") -> Principal:
    """Create a tenant account (the operator acting) and return it."""
    who, _token = accounts.create_account(p, operator, name, Role.TENANT)
    return who
