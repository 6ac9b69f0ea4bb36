"""What the provider's parts (lifecycle hooks, instance refreshes, warm pools) share: the
records, and the group operations the keeper implements, declared once for all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nubes.core.context import RequestContext
from nubes.services.autoscaling.models import Activities, Json, Records

if TYPE_CHECKING:
    from nubes.app import Environment


class GroupParts:
    env: Environment
    groups: Records
    members: Records
    activities: Activities

    def group(self, ctx: RequestContext, name: str) -> Json:
        raise NotImplementedError

    def current_config(self, account: str, region: str, group: Json) -> str:
        raise NotImplementedError

    def _launch(
        self,
        account: str,
        region: str,
        group: Json,
        have: int,
        desired: int,
        warm: bool = False,
        rebalance: bool = False,
    ) -> bool:
        raise NotImplementedError

    def terminate_member(
        self,
        account: str,
        region: str,
        group: Json,
        instance_id: str,
        cause: str,
        hooks: bool = True,
    ) -> Json:
        raise NotImplementedError
