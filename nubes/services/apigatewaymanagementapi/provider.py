"""Amazon API Gateway Management API: ``@connections`` of WebSocket APIs — post a message to a
connected client, describe or close its connection. The connections are the ones the
apigatewayv2 provider's WebSocket endpoint holds open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nubes.core.context import RequestContext
from nubes.runtime.apigateway.websocket import Connection
from nubes.services.apigatewaymanagementapi.errors import errors
from nubes.services.base import ServiceProvider

Json = dict[str, Any]
MAX_DATA = 128 * 1024
"""A WebSocket frame API Gateway sends is at most 128 KB."""


class ApiGatewayManagementApiProvider(ServiceProvider):
    service = "apigatewaymanagementapi"

    async def _connection(self, ctx: RequestContext, connection_id: str) -> Connection:
        plane: Any = await self.env.providers.ready("apigatewayv2")
        conn: Connection | None = plane.websockets.connections.get(connection_id)
        if conn is None or conn.account != ctx.account_id:
            raise errors.GoneException("")
        return conn

    async def post_to_connection(self, ctx: RequestContext, req: Json) -> Json:
        data = bytes(req.get("Data") or b"")
        if len(data) > MAX_DATA:
            raise errors.PayloadTooLargeException("Message too long")
        conn = await self._connection(ctx, req["ConnectionId"])
        await conn.post(data)
        return {}

    async def get_connection(self, ctx: RequestContext, req: Json) -> Json:
        conn = await self._connection(ctx, req["ConnectionId"])
        return {
            "ConnectedAt": datetime.fromtimestamp(conn.connected_at, UTC),
            "LastActiveAt": datetime.fromtimestamp(conn.last_active, UTC),
            "Identity": {"SourceIp": conn.source_ip, "UserAgent": conn.user_agent},
        }

    async def delete_connection(self, ctx: RequestContext, req: Json) -> Json:
        conn = await self._connection(ctx, req["ConnectionId"])
        await conn.close()
        return {}
