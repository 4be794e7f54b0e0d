"""API token endpoints: list, make (for yourself, or the operator for any account), revoke.

::

    with SuanliClient(server, token) as api:
        t = TokenClient(api).create(label="ci", scope="read", expires_in_s=86_400)
        print(t.token)  # the secret: shown in this answer only
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from suanli.api.schemas.tokens import ApiTokenResponse, TokenCreatedResponse
from suanli.client.http import Endpoints


def _options(label: str, scope: str, lease: str | None, expires_at: datetime | None, expires_in_s: int | None,
             rate_limit_per_minute: int | None = None, token_quota: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"label": label, "scope": scope}
    if rate_limit_per_minute is not None:
        body["rate_limit_per_minute"] = rate_limit_per_minute
    if token_quota is not None:
        body["token_quota"] = token_quota
    if lease is not None:
        body["lease"] = lease
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    if expires_in_s is not None:
        body["expires_in_s"] = expires_in_s
    return body


class TokenClient(Endpoints):

    def tokens(self, *, account: str | None = None, every_account: bool = False) -> list[ApiTokenResponse]:
        """Your tokens; the operator names an ``account`` or asks for every account's."""
        return self._many(ApiTokenResponse, "/v1/tokens", {"account": account, "all": "true" if every_account else None})

    def create(self, *, label: str = "", scope: str = "full", lease: str | None = None,
               expires_at: datetime | None = None, expires_in_s: int | None = None,
               rate_limit_per_minute: int | None = None, token_quota: int | None = None) -> TokenCreatedResponse:
        """A new token for yourself (never wider than the one this client uses); an inference key
        (``scope="inference"``) may carry its own requests per minute and tokens per UTC month."""
        return self._one(TokenCreatedResponse, "POST", "/v1/tokens",
                         json=_options(label, scope, lease, expires_at, expires_in_s, rate_limit_per_minute,
                                       token_quota))

    def issue_for(self, account: str, *, label: str = "", scope: str = "full", lease: str | None = None,
                  expires_at: datetime | None = None, expires_in_s: int | None = None,
                  rate_limit_per_minute: int | None = None, token_quota: int | None = None) -> TokenCreatedResponse:
        """A new token for any account (operator)."""
        return self._one(TokenCreatedResponse, "POST", f"/v1/accounts/{quote(account, safe='')}/tokens",
                         json=_options(label, scope, lease, expires_at, expires_in_s, rate_limit_per_minute,
                                       token_quota))

    def revoke(self, token_id: int) -> ApiTokenResponse:
        """Revoke a token by its id (yours; the operator: anyone's). It stops working at once."""
        return self._one(ApiTokenResponse, "POST", f"/v1/tokens/{int(token_id)}/revoke")
