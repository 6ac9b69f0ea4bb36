"""What the Lambda provider's mixins (function URLs, event source mappings) need from the
provider itself: declared once here, implemented in provider.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nubes.core.context import RequestContext
from nubes.services.lambda_.models import Scope

if TYPE_CHECKING:
    from nubes.services.lambda_.invoker import Result, Target
    from nubes.services.lambda_.models import LambdaModel


class FunctionAccess:
    model: LambdaModel
    env: Any
    store: Any

    def locate(
        self, ctx: RequestContext, function_name: str, qualifier: str | None = None
    ) -> tuple[Scope, str, str | None]:
        raise NotImplementedError

    def version_of(self, scope: Scope, name: str, qualifier: str | None) -> Any:
        raise NotImplementedError

    def target(self, scope: Scope, name: str, qualifier: str | None) -> Target:
        raise NotImplementedError

    async def run(
        self, target: Target, payload: bytes, request_id: str, client_context: str | None = None
    ) -> Result:
        raise NotImplementedError
