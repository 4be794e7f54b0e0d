"""Every route × each member role of tenant A's organisation, on the authorization matrix's world.

The matrix (``test_authz_matrix.py``) checks the organisation's own account (column ``A``); here a
member of each role sends the same request. What a member may do is decided by one table
(``suanli.domain.members.MEMBER_ACTIONS``), so each cell checks that the answer follows it:

- an admin member gets exactly what the organisation's account gets;
- a member never gets more than its organisation (a success of the member is a success of ``A``);
- a member's refusal that ``A`` does not get is a 403 naming the member's role and an action the
  table does not give that role (and a refused write leaves every table as it was);
- a viewer changes nothing but its own tokens; a finance member places no order, runs and stops
  no work; a developer reads no invoice, wallet, package, plan or voucher; only an admin manages
  members or reads the audit trail;
- no answer shows tenant B's data.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_authz_matrix import ACTORS, EXPECTED, MUTATING, Cell, World, _build, _check_no_leak, request_for

from suanli.domain.members import MemberRole, member_may

ROLES = [r.value for r in MemberRole]
MONEY_READS = ("/v1/invoices", "/v1/billing", "/v1/wallet", "/v1/packages", "/v1/plans", "/v1/vouchers")
WORK = {("POST", "/v1/orders"), ("POST", "/v1/quotes"), ("POST", "/v1/orders/{order_id}/cancel"),
        ("POST", "/v1/leases/{lease_id}/end"), ("POST", "/v1/leases/{lease_id}/extend"),
        ("POST", "/v1/leases/{lease_id}/jobs"), ("POST", "/v1/jobs/{job_id}/cancel")}
OWN_TOKENS = {("POST", "/v1/tokens"), ("POST", "/v1/tokens/{token_id}/revoke")}


@pytest.fixture(scope="module")
def members_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, str]]]:
    base = tmp_path_factory.mktemp("member-matrix") / "base"
    w = _build(base)
    cell = Cell(w, base)
    tokens = {}
    try:
        for role in ROLES:
            r = cell.client.post("/v1/members", json={"name": f"a-{role}", "role": role}, headers=w.headers("A"))
            assert r.status_code == 201, r.text
            tokens[role] = r.json()["token"]
            # used once now, as the matrix's parties are: its last use is recorded here, not by a cell
            assert cell.client.get("/v1/me", headers={"Authorization": f"Bearer {tokens[role]}"}).status_code == 200
    finally:
        if cell is not shared:
            cell.close()
    yield w, tokens


@pytest.fixture(scope="module")
def shared(members_world: tuple[World, dict[str, str]]) -> Iterator[Cell]:
    """One copy for the cells that cannot change anything (reads, and writes the organisation is refused)."""
    w, _ = members_world
    d = w.base_dir.parent / "shared"
    shutil.copytree(w.base_dir, d)
    cell = Cell(w, d)
    yield cell
    cell.close()


def a_status(route: tuple[str, str]) -> int:
    return int(EXPECTED[route].split()[ACTORS.index("A")])


ROUTES = sorted(r for r in EXPECTED if len(set(EXPECTED[r].split())) > 1)  # not the public ones


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda k: f"{k[0]} {k[1]}")
def test_member_route(route: tuple[str, str], role: str, members_world: tuple[World, dict[str, str]],
                      shared: Cell, tmp_path: Path) -> None:
    w, tokens = members_world
    method, path = route
    url, query, body = request_for(w, method, path)
    if path == "/v1/tokens/{token_id}/revoke":  # the member revokes a token of its own
        url = path.format(token_id=999_999)
    own = method in MUTATING and a_status(route) < 300  # a write that may succeed: its own copy
    if own:
        shutil.copytree(w.base_dir, tmp_path / "data")
    cell = Cell(w, tmp_path / "data") if own else shared
    try:
        before = cell.fingerprint() if method in MUTATING else ""
        r = cell.client.request(method, url, params=query, json=body,
                                headers={"Authorization": f"Bearer {tokens[role]}"})
        got, org = r.status_code, a_status(route)
        _check_no_leak(w, "A", url, query, body, r.text)
        where = f"{method} {url} as a {role} member: {got} {r.text[:300]}"
        if role == "admin":
            assert got == org or (path == "/v1/tokens/{token_id}/revoke" and got == 404), where
            return
        if got < 300:
            assert org < 300, where  # never more than the organisation
        if got == 403 and org != 403:
            details = r.json()["error"]["details"]
            assert details.get("member_role") == role, where
            assert not member_may(MemberRole(role), details["action"]), where
        if method in MUTATING and got >= 300:
            assert cell.fingerprint() == before, f"{where}: refused but wrote"
        if role == "viewer" and method in MUTATING and route not in OWN_TOKENS:
            assert got == 403 or org >= 300, where
        if role == "finance" and route in WORK:
            assert got == 403, where
        if role == "developer" and method == "GET" and path.startswith(MONEY_READS):
            assert got == 403, where
        if path.startswith(("/v1/members", "/v1/audit")):
            assert got == 403, where
    finally:
        if cell is not shared:
            cell.close()
