"""Enforced slices: the sizes each model can be sold in and how (docs/slices.md).

::

    with SuanliClient(server, token) as api:
        SlicesClient(api).profiles(model="A100-80GB")
"""

from __future__ import annotations

from suanli.api.schemas.slices import SliceProfilesResponse
from suanli.client.http import Endpoints


class SlicesClient(Endpoints):

    def profiles(self, model: str | None = None) -> list[SliceProfilesResponse]:
        """Per model (or the one named): the mechanism that enforces a slice and its sizes."""
        return self._many(SliceProfilesResponse, "/v1/slices/profiles", {"model": model} if model else None)
