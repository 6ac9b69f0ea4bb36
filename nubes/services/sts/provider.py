"""AWS Security Token Service."""

from __future__ import annotations

from typing import Any

from nubes.core.context import RequestContext
from nubes.services.base import ServiceProvider


class StsProvider(ServiceProvider):
    service = "sts"

    def get_caller_identity(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        principal = ctx.principal
        return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}
