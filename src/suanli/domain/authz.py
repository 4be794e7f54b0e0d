"""Who may do what: every action on the platform, the roles that may do it, and what each sees.

This table is the one place authorization is decided. A service names its action
(``grant = authorize(actor, Action.READ_JOBS)``) and filters what it reads with the grant
(``grant.tenant_id``, ``grant.supplier``); it never compares roles itself. The route × actor
test (``tests/api/test_authz_matrix.py``) checks the table through every HTTP route.

Scopes::

    ALL            everything (the operator)
    OWN_TENANT     the tenant's own objects; another tenant's answer 404, exactly as if they
                   did not exist (a tenant cannot learn which ids exist)
    OWN_SUPPLIER   the supplier's own nodes, the occupancy of those nodes (the leases' devices on
                   them, nothing else of the lease) and its own money; another supplier's answer 404
    OWN_ACCOUNT    the account's own objects (its API tokens); another account's answer 404

A role missing from an action's row is refused with 403 before anything is read, so the answer
does not depend on the id asked about. Rules of thumb the table follows:

- a supplier sees occupancy and money of its own nodes, never a tenant's commands, logs,
  per-lease usage, orders or invoices;
- only the operator sets a price (list prices, price plans, package products and sales), issues
  money (invoices, vouchers, credits, top-ups, payouts) or changes the fleet and accounts;
- only the owning tenant runs work on its lease (the operator may stop it, not run code as it).

A token narrows its account's role (:mod:`suanli.domain.tokens`): a ``read`` token may do only
:data:`READ_ACTIONS`, a ``lease`` token only :data:`LEASE_ACTIONS`, and on one lease only
(:attr:`Grant.lease_only`; another lease or job answers 404), an ``inference`` key only
:data:`INFERENCE_ACTIONS`. These refusals are 403 before anything is read, like a role's.

Grants fail closed: reading ``tenant_id`` of a supplier's grant (or ``supplier`` of a tenant's)
raises instead of returning "no filter", so widening a row cannot silently widen a query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from suanli.domain.accounts import Principal, Role
from suanli.domain.leases import Lease
from suanli.domain.members import member_may, roles_for
from suanli.domain.tokens import TokenScope
from suanli.errors import NotFoundError, PermissionDeniedError


class Scope(StrEnum):
    ALL = "all"
    OWN_TENANT = "own_tenant"
    OWN_SUPPLIER = "own_supplier"
    OWN_ACCOUNT = "own_account"


class Action(StrEnum):
    # accounts
    READ_SELF = "read_self"
    MANAGE_ACCOUNTS = "manage_accounts"
    READ_ACCOUNTS = "read_accounts"
    READ_TOKENS = "read_tokens"
    MANAGE_OWN_TOKENS = "manage_own_tokens"
    MANAGE_MEMBERS = "manage_members"
    # fleet and prices
    READ_CATALOG = "read_catalog"
    READ_SLICE_PROFILES = "read_slice_profiles"
    MANAGE_FLEET = "manage_fleet"
    READ_NODES = "read_nodes"
    SET_NODE_STATE = "set_node_state"
    TRANSFER_NODE = "transfer_node"
    SET_FLOOR = "set_floor"
    READ_FLOORS = "read_floors"
    READ_PRICES = "read_prices"
    SET_PRICE = "set_price"
    CORRECT_PRICE = "correct_price"
    READ_PRICE_CORRECTIONS = "read_price_corrections"
    READ_OFFERS = "read_offers"
    SET_OVERSUB = "set_oversub"
    READ_OVERSUB = "read_oversub"
    SET_DEFRAG = "set_defrag"
    READ_DEFRAG = "read_defrag"
    # orders, leases, jobs
    PLACE_ORDER = "place_order"
    READ_ORDERS = "read_orders"
    CANCEL_ORDER = "cancel_order"
    READ_LEASES = "read_leases"
    CHANGE_LEASE = "change_lease"
    SUBMIT_JOB = "submit_job"
    READ_JOBS = "read_jobs"
    CANCEL_JOB = "cancel_job"
    READ_LEASE_USAGE = "read_lease_usage"
    SET_QUEUE_WEIGHT = "set_queue_weight"
    # engine and telemetry
    RUN_RECONCILERS = "run_reconcilers"
    READ_METRICS = "read_metrics"
    READ_CAPACITY = "read_capacity"
    READ_HEATMAP = "read_heatmap"
    # money
    INGEST_USAGE = "ingest_usage"
    READ_USAGE = "read_usage"
    READ_WALLET = "read_wallet"
    MANAGE_WALLET = "manage_wallet"
    BUY_PACKAGE = "buy_package"
    SELL_PACKAGE = "sell_package"
    READ_PACKAGES = "read_packages"
    READ_PACKAGE_PRODUCTS = "read_package_products"
    MANAGE_PACKAGE_PRODUCTS = "manage_package_products"
    READ_PLANS = "read_plans"
    ISSUE_VOUCHER = "issue_voucher"
    READ_VOUCHERS = "read_vouchers"
    MANAGE_RELATED_PARTIES = "manage_related_parties"
    READ_INVOICES = "read_invoices"
    ISSUE_INVOICE = "issue_invoice"
    CLAIM_VOUCHER = "claim_voucher"
    REDEEM_VOUCHER = "redeem_voucher"
    MANAGE_VOUCHER_RULES = "manage_voucher_rules"
    SETTLE_INVOICE = "settle_invoice"
    PAY_INVOICE = "pay_invoice"
    READ_SUPPLIER_STATEMENT = "read_supplier_statement"
    READ_REVENUE_REPORT = "read_revenue_report"
    READ_ECONOMICS = "read_economics"
    SET_INVESTMENT = "set_investment"
    READ_OVERVIEW = "read_overview"
    RUN_WHATIF = "run_whatif"
    READ_WHATIF = "read_whatif"
    PAY_SUPPLIER = "pay_supplier"
    READ_PAYOUTS = "read_payouts"
    CHECK_LEDGER = "check_ledger"
    # invoices for China: legal profiles and tax rates
    READ_SELLER_PROFILE = "read_seller_profile"
    SET_SELLER_PROFILE = "set_seller_profile"
    READ_BUYER_PROFILE = "read_buyer_profile"
    SET_BUYER_PROFILE = "set_buyer_profile"
    READ_TAX_RATES = "read_tax_rates"
    SET_TAX_RATE = "set_tax_rate"
    # audit trail
    READ_AUDIT = "read_audit"
    # node agents (the agents' own routes take the node credential, not an account: docs/agents.md)
    READ_AGENTS = "read_agents"
    MANAGE_AGENT_TOKENS = "manage_agent_tokens"
    MANAGE_AGENTS = "manage_agents"
    # the inference service (docs/inference.md)
    MANAGE_DEPLOYMENTS = "manage_deployments"
    READ_DEPLOYMENTS = "read_deployments"
    CALL_MODELS = "call_models"
    READ_INFERENCE_USAGE = "read_inference_usage"
    REPORT_TRAINING_TOKENS = "report_training_tokens"


@dataclass(frozen=True)
class Rule:
    what: str
    """The action in words, for the refusal message ("running a job needs the tenant role ...")."""
    scopes: dict[Role, Scope]
    """The roles that may do it and what each sees; a role not here is refused (403)."""
    hint: str = ""
    """Said to a refused actor: where to look instead."""


_OP = {Role.OPERATOR: Scope.ALL}
_OP_TENANT = {Role.OPERATOR: Scope.ALL, Role.TENANT: Scope.OWN_TENANT}
_OP_SUPPLIER = {Role.OPERATOR: Scope.ALL, Role.SUPPLIER: Scope.OWN_SUPPLIER}
_EVERYONE = {Role.OPERATOR: Scope.ALL, Role.TENANT: Scope.ALL, Role.SUPPLIER: Scope.ALL}
_OWN_ACCOUNT = {Role.OPERATOR: Scope.ALL, Role.TENANT: Scope.OWN_ACCOUNT, Role.SUPPLIER: Scope.OWN_ACCOUNT}
_NOT_INVOICES = "suppliers see statements of their revenue, not tenants' invoices"

RULES: dict[Action, Rule] = {
    Action.READ_SELF: Rule("reading your own account", _EVERYONE),
    Action.MANAGE_ACCOUNTS: Rule("managing accounts and tokens", _OP),
    Action.READ_ACCOUNTS: Rule("listing accounts", _OP),
    Action.READ_TOKENS: Rule("listing API tokens (your own; the operator: any account's)", _OWN_ACCOUNT),
    Action.MANAGE_OWN_TOKENS: Rule("making and revoking API tokens (your own; the operator: any account's)",
                                   _OWN_ACCOUNT),
    Action.MANAGE_MEMBERS: Rule("managing an organisation's members", _OP_TENANT,
                                "a tenant organisation's admin manages its members"),
    Action.READ_CATALOG: Rule("reading the accelerator catalog", _EVERYONE),
    Action.READ_SLICE_PROFILES: Rule("reading the slice sizes each model can enforce (docs/slices.md)", _EVERYONE),
    Action.MANAGE_FLEET: Rule("importing or exporting the fleet", _OP),
    Action.READ_NODES: Rule("listing nodes", _OP_SUPPLIER,
                            "tenants see what they can rent with `offers`, not the node list"),
    Action.SET_NODE_STATE: Rule("changing a node's state", _OP_SUPPLIER),
    Action.TRANSFER_NODE: Rule("transferring a node to another supplier", _OP,
                               "the operator records a change of a node's owner"),
    Action.SET_FLOOR: Rule("setting a supplier's floor price", _OP_SUPPLIER),
    Action.READ_FLOORS: Rule("reading a supplier's floor prices (a supplier its own)", _OP_SUPPLIER),
    Action.READ_PRICES: Rule("reading list prices", _EVERYONE),
    Action.CORRECT_PRICE: Rule("correcting a past price (credit and debit notes on issued invoices)", _OP,
                               "only the operator corrects what was billed"),
    Action.READ_PRICE_CORRECTIONS: Rule("reading price corrections and the notes they issued (a tenant: the "
                                        "corrections with notes on its own invoices)", _OP_TENANT),
    Action.SET_PRICE: Rule("setting a price (list prices, price plans)", _OP),
    Action.READ_OFFERS: Rule("reading offers", _EVERYONE),
    Action.SET_OVERSUB: Rule("setting an oversubscription factor and burstable discount", _OP,
                             "only the operator sets a factor or a discount (docs/slices.md)"),
    Action.READ_OVERSUB: Rule("reading the oversubscription factors, the burstable pool and its contention", _OP,
                              "tenants see where burstable slices are sold and their discount (offers)"),
    Action.SET_DEFRAG: Rule("defragmentation: setting auto, the notice and the migratable discount; proposing, "
                            "approving or cancelling a plan", _OP,
                            "only the operator moves leases or sets the migratable discount (docs/defrag.md)"),
    Action.READ_DEFRAG: Rule("reading the defragmentation settings and plans", _OP,
                             "tenants see a move of their lease in its events"),
    Action.PLACE_ORDER: Rule("ordering", {Role.TENANT: Scope.OWN_TENANT}),
    Action.READ_ORDERS: Rule("reading orders", _OP_TENANT, "suppliers see the leases on their nodes"),
    Action.CANCEL_ORDER: Rule("cancelling an order", _OP_TENANT),
    Action.READ_LEASES: Rule("reading leases", {**_OP_TENANT, Role.SUPPLIER: Scope.OWN_SUPPLIER}),
    Action.CHANGE_LEASE: Rule("ending or extending a lease", _OP_TENANT),
    Action.SUBMIT_JOB: Rule("running a job on a lease", {Role.TENANT: Scope.OWN_TENANT},
                            "only the tenant that holds the lease runs work on it"),
    Action.READ_JOBS: Rule("reading jobs and their logs", _OP_TENANT,
                           "suppliers see the occupancy of their nodes, not tenants' work"),
    Action.CANCEL_JOB: Rule("cancelling a job", _OP_TENANT),
    Action.READ_LEASE_USAGE: Rule("reading a lease's usage", _OP_TENANT,
                                  "suppliers see their revenue per node in the supplier statement"),
    Action.SET_QUEUE_WEIGHT: Rule("setting a tenant's queue weight and priority classes (docs/queue.md)", _OP,
                                  "the operator sets fair-share weights; tenants see their queued orders"),
    Action.RUN_RECONCILERS: Rule("running the reconcilers", _OP),
    Action.READ_METRICS: Rule("reading the platform metrics", _OP),
    Action.READ_CAPACITY: Rule("reading the capacity and energy report", _OP_SUPPLIER,
                               "a supplier reads it for its own nodes; tenants see their own leases and usage"),
    Action.READ_HEATMAP: Rule("reading the fleet heatmap", _OP_SUPPLIER,
                              "a supplier sees its own nodes, without the tenants' names"),
    Action.INGEST_USAGE: Rule("reporting usage", _OP,
                              "a training job reports its training_tokens with its lease's token (scope lease)"),
    Action.READ_USAGE: Rule("reading usage", _OP_TENANT),
    Action.READ_WALLET: Rule("reading a wallet", _OP_TENANT),
    Action.MANAGE_WALLET: Rule("changing a wallet (top-ups, credits, runway policy)", _OP),
    Action.BUY_PACKAGE: Rule("buying a package at its listed price", {Role.TENANT: Scope.OWN_TENANT},
                             "the operator sells a package to a tenant with POST /v1/packages/sales "
                             "(`suanli package sell`)"),
    Action.SELL_PACKAGE: Rule("selling a package at a price of the operator's choosing (a discount or a custom "
                              "package)", _OP, "tenants buy a listed product at its price (`suanli package buy`)"),
    Action.READ_PACKAGES: Rule("reading packages", _OP_TENANT),
    Action.READ_PACKAGE_PRODUCTS: Rule("reading the package products on sale", _EVERYONE),
    Action.MANAGE_PACKAGE_PRODUCTS: Rule("defining package products and their prices", _OP),
    Action.READ_PLANS: Rule("reading price plans", _OP_TENANT),
    Action.ISSUE_VOUCHER: Rule("issuing a voucher", _OP),
    Action.READ_VOUCHERS: Rule("reading vouchers", _OP_TENANT),
    Action.MANAGE_RELATED_PARTIES: Rule("registering related parties", _OP),
    Action.READ_INVOICES: Rule("reading invoices", _OP_TENANT, _NOT_INVOICES),
    Action.ISSUE_INVOICE: Rule("issuing an invoice", _OP),
    Action.SETTLE_INVOICE: Rule("paying, voiding, crediting or debiting an invoice", _OP),
    Action.PAY_INVOICE: Rule("paying an invoice from the tenant's wallet balance (a tenant: its own invoices)",
                             _OP_TENANT, "suppliers see statements of their revenue, not tenants' invoices"),
    Action.READ_SUPPLIER_STATEMENT: Rule("reading a supplier statement", _OP_SUPPLIER),
    Action.READ_REVENUE_REPORT: Rule("reading the revenue report", _OP),
    Action.READ_ECONOMICS: Rule("reading the economics report and the investment inputs", _OP),
    Action.SET_INVESTMENT: Rule("setting investment inputs (capex, opex, financing, life)", _OP,
                                "only the operator enters investment inputs"),
    Action.READ_OVERVIEW: Rule("reading the operator's overview (start page figures)", _OP),
    Action.RUN_WHATIF: Rule("running or cancelling a what-if simulation of the fleet", _OP,
                            "only the operator simulates the fleet: what-if runs replay every tenant's orders"),
    Action.READ_WHATIF: Rule("reading what-if runs", _OP),
    Action.PAY_SUPPLIER: Rule("paying a supplier", _OP),
    Action.READ_PAYOUTS: Rule("reading supplier payouts", _OP_SUPPLIER),
    Action.READ_SELLER_PROFILE: Rule("reading the seller's legal profile (printed on every invoice)", _EVERYONE),
    Action.SET_SELLER_PROFILE: Rule("setting the seller's legal profile", _OP,
                                    "the operator is the seller on every invoice"),
    Action.READ_BUYER_PROFILE: Rule("reading a buyer's legal profile (a tenant: its own)", _OP_TENANT,
                                    "suppliers see statements of their revenue, not tenants' invoices"),
    Action.SET_BUYER_PROFILE: Rule("setting a buyer's legal profile (a tenant: its own)", _OP_TENANT,
                                   "a tenant organisation's admin or finance member sets its own"),
    Action.READ_TAX_RATES: Rule("reading tax rates", _EVERYONE),
    Action.SET_TAX_RATE: Rule("setting a tax rate", _OP, "only the operator sets tax rates"),
    Action.CHECK_LEDGER: Rule("checking the ledger", _OP),
    Action.READ_AUDIT: Rule("reading the audit trail (a tenant: its own organisation's entries)", _OP_TENANT,
                            "suppliers see their nodes and statements; the operator reads the audit trail"),
    Action.CLAIM_VOUCHER: Rule("claiming a voucher against a contract", _OP),
    Action.REDEEM_VOUCHER: Rule("redeeming a voucher with an issued invoice and delivery evidence", _OP),
    Action.MANAGE_VOUCHER_RULES: Rule("recording voucher rule facts (contracts, approved suppliers, start-ups)",
                                      _OP),
    Action.MANAGE_DEPLOYMENTS: Rule("deploying, scaling and deleting models (a tenant: its own, on leases it pays for)",
                                    _OP_TENANT, "suppliers run the nodes; tenants and the operator deploy models"),
    Action.READ_DEPLOYMENTS: Rule("reading model deployments and their replicas (a tenant: its own and the public "
                                  "ones)", _OP_TENANT, "suppliers see the occupancy of their nodes, not deployments"),
    Action.CALL_MODELS: Rule("calling models through the inference gateway", _OP_TENANT,
                             "tenants and the operator call models with an inference (or full) key"),
    Action.READ_INFERENCE_USAGE: Rule("reading inference usage and cost per key and model (a tenant: its own)",
                                      _OP_TENANT, "suppliers never see per-key usage"),
    Action.REPORT_TRAINING_TOKENS: Rule("reporting the training tokens a job on a lease processed (with the "
                                        "lease's token, for its own lease)", {Role.TENANT: Scope.OWN_TENANT},
                                        "a training job reports its tokens with its lease token ($SUANLI_TOKEN)"),
    Action.READ_AGENTS: Rule("reading node agents and their health (a supplier: of its own nodes)", _OP_SUPPLIER,
                             "tenants see where they can rent with `offers`, not the agents"),
    Action.MANAGE_AGENT_TOKENS: Rule("making join tokens for node agents (a supplier: for its own nodes)",
                                     _OP_SUPPLIER, "a node's operator or supplier lets an agent join"),
    Action.MANAGE_AGENTS: Rule("approving or revoking a node agent", _OP,
                               "only the operator decides which agents get work"),
}


@dataclass(frozen=True)
class Grant:
    """What one actor may see while doing one action (from :func:`authorize`)."""

    actor: Principal
    action: Action
    scope: Scope

    @property
    def tenant_id(self) -> str | None:
        """Filter for tenant-owned rows: the tenant's own id, or ``None`` (no filter) for the operator.
        Raises for a supplier's grant: tenant-owned rows are filtered by node, never left open."""
        if self.scope is Scope.OWN_TENANT:
            return self.actor.tenant_id  # a member's: its organisation's
        if self.scope is Scope.ALL:
            return None
        raise self._not_this_scope()

    @property
    def supplier(self) -> str | None:
        """Filter for supplier-owned rows (nodes, floors, statements, occupancy): the supplier's
        own name, or ``None`` (no filter) for the operator. Raises for a tenant's grant."""
        if self.scope is Scope.OWN_SUPPLIER:
            assert self.actor.supplier, "a supplier account always names its supplier"
            return self.actor.supplier
        if self.scope is Scope.ALL:
            return None
        raise self._not_this_scope()

    @property
    def lease_filter(self) -> tuple[str | None, str | None]:
        """``(tenant_id, supplier)`` for rows a tenant owns on suppliers' nodes (leases): the
        tenant's own, those on the supplier's nodes, or ``(None, None)`` (everything) for the operator."""
        if self.scope is Scope.OWN_SUPPLIER:
            return None, self.supplier
        return self.tenant_id, None

    def own_tenant(self, named: str | None) -> bool:
        """Whether a request that names a tenant (by name or id, or ``None``) is about the actor
        itself (``False``: the operator, who names any tenant). A tenant naming another tenant
        gets 404, as if it did not exist."""
        if self.scope is Scope.ALL:
            return False
        if self.scope is not Scope.OWN_TENANT:
            raise self._not_this_scope()
        a = self.actor
        if named not in (None, a.name, a.account_id, a.tenant_name, a.tenant_id):
            raise NotFoundError(f"no tenant {named!r} visible to you", tenant=named)
        return True

    def named_supplier(self, named: str | None) -> str | None:
        """The supplier a request is about: a supplier its own (naming another answers 404), the
        operator the one it names (``None`` if it named none)."""
        if self.scope is Scope.OWN_SUPPLIER:
            if named not in (None, self.actor.supplier):
                raise NotFoundError(f"no supplier {named!r} visible to you", supplier=named)
            return self.actor.supplier
        if self.scope is Scope.ALL:
            return named
        raise self._not_this_scope()

    @property
    def account_id(self) -> str | None:
        """Filter for an account's own rows (its API tokens): its own id, or ``None`` (no filter) for
        the operator. Raises for any other scope."""
        if self.scope is Scope.OWN_ACCOUNT:
            return self.actor.account_id
        if self.scope is Scope.ALL:
            return None
        raise self._not_this_scope()

    @property
    def lease_only(self) -> str | None:
        """The one lease a ``lease`` token may touch; ``None`` for any other token. Every service that
        reads a lease or a job by id checks it (:meth:`check_lease`) and every list of leases or
        jobs is filtered to it."""
        if self.actor.token_scope is TokenScope.LEASE:
            if not self.actor.token_lease:
                raise PermissionDeniedError("a lease token that names no lease may do nothing")
            return self.actor.token_lease
        return None

    def check_lease(self, lease_id: str, what: str = "lease", ident: str | None = None) -> None:
        """404 (worded as for an id that does not exist) for a lease, or a job (``what="job"``,
        ``ident`` its id) on a lease, outside a lease token's one lease."""
        only = self.lease_only
        if only is not None and lease_id != only:
            shown = ident or lease_id
            raise NotFoundError(f"no {what} {shown!r} visible to you", **{what: shown})

    def _not_this_scope(self) -> PermissionDeniedError:
        return PermissionDeniedError(f"{RULES[self.action].what}: a {self.actor.role.value}'s view of it is "
                                     f"{self.scope.value}, which this request does not use", action=self.action.value)

    def lease_view(self, lease: Lease) -> Lease:
        """The lease as this actor may see it: whole for the operator and the owning tenant; for a
        supplier only its devices on the supplier's nodes (occupancy), without the placement
        reasoning (which can name other suppliers' nodes) and without the reason of its state (a
        tenant's own words, or its name: "ended by ...")."""
        if self.scope is not Scope.OWN_SUPPLIER:
            return lease
        mine = tuple(a for a in lease.allocations if a.supplier == self.actor.supplier)
        return replace(lease, allocations=mine, placement="", reason="")


def allowed(role: Role, action: Action) -> bool:
    return role in RULES[action].scopes


def sees_revenue_split(actor: Principal) -> bool:
    """Whether charge lines show the supplier's share and the operator's commission: to the operator
    only (a tenant sees what it pays; a supplier sees its share in its own statement)."""
    return actor.role is Role.OPERATOR


READ_ACTIONS: frozenset[Action] = frozenset(
    {a for a in Action if a.value.startswith("read_")} | {Action.CHECK_LEDGER})
"""What a ``read`` token may do: actions that change nothing. An action named ``read_*`` must never
write (``tests/api/test_token_scopes_matrix.py`` sends every write route with a read token)."""

LEASE_ACTIONS: frozenset[Action] = frozenset({
    Action.READ_SELF, Action.READ_LEASES, Action.SUBMIT_JOB, Action.READ_JOBS, Action.CANCEL_JOB,
    Action.READ_LEASE_USAGE, Action.REPORT_TRAINING_TOKENS})
"""What a ``lease`` token may do (on its one lease): read it, run, read and cancel jobs on it, read its
usage, report the training tokens its job processed. Anything not listed is refused (fail closed)."""

INFERENCE_ACTIONS: frozenset[Action] = frozenset({Action.CALL_MODELS, Action.READ_SELF})
"""What an ``inference`` key may do: call the model gateway's routes and read ``/v1/me`` (who the key
belongs to, as any token may). Not even its own usage: reading usage and cost is for the account's
full or read tokens (a key that leaks should reveal nothing but the models it can call)."""


def check_token_scope(actor: Principal, action: Action) -> None:
    """403 if the actor's token scope does not cover ``action`` (a ``full`` token covers its role)."""
    scope = actor.token_scope
    if scope is TokenScope.FULL:
        return
    allowed = {TokenScope.READ: READ_ACTIONS, TokenScope.INFERENCE: INFERENCE_ACTIONS}.get(scope, LEASE_ACTIONS)
    if action not in allowed:
        what = {TokenScope.READ: "a read-only token changes nothing",
                TokenScope.INFERENCE: "an inference key only calls models (/v1/models, /v1/chat/completions, "
                                      "/v1/completions, /v1/embeddings) and reads /v1/me"}.get(
            scope, f"a lease token only reads its lease {actor.token_lease} and runs, reads and cancels jobs on it")
        raise PermissionDeniedError(
            f"{RULES[action].what} is not allowed with this token: {what}; use a full token "
            f"(`suanli token create --scope full`)", token_scope=scope.value, action=action.value)


def authorize(actor: Principal, action: Action) -> Grant:
    """The actor's grant for ``action``; 403 if its role may not do it at all."""
    rule = RULES[action]
    scope = rule.scopes.get(actor.role)
    if scope is None:
        roles = " or ".join(r.value for r in Role if r in rule.scopes)
        hint = f"; {rule.hint}" if rule.hint else ""
        raise PermissionDeniedError(
            f"{rule.what} needs the {roles} role; account {actor.name!r} is a {actor.role.value}{hint}",
            role=actor.role.value, required=[r.value for r in Role if r in rule.scopes], action=action.value)
    if actor.member_role is not None and not member_may(actor.member_role, action.value):
        names = [r.value for r in roles_for(action.value)]
        need = " or ".join(x for x in (", ".join(names[:-1]), names[-1]) if x)
        raise PermissionDeniedError(
            f"{rule.what} needs the {need} member role in organisation {actor.tenant_name!r}; member "
            f"{actor.name!r} is a {actor.member_role.value} (the organisation's admin changes roles: "
            f"`suanli member set {actor.name} --role ROLE`)",
            member_role=actor.member_role.value, required_member_roles=[r.value for r in roles_for(action.value)],
            action=action.value)
    check_token_scope(actor, action)
    return Grant(actor, action, scope)
