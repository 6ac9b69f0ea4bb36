"""``/_aws/sqs/messages``: every message of a queue without receiving it (GET), or a purge
(DELETE), as LocalStack offers it. Answers in the ReceiveMessage shape, XML unless the client
accepts JSON."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from nubes.core import accounts, clock, ids
from nubes.core.context import RequestContext
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, HttpResponse, ResponseContext, ServiceError

if TYPE_CHECKING:
    from nubes.services.sqs.provider import SqsProvider

PATH = "/_aws/sqs/messages"
QUEUE_PATH = re.compile(r"^/(\d{12})/([A-Za-z0-9_.-]{1,80})$")


def inspection_endpoint(
    provider: SqsProvider,
) -> Callable[[HttpRequest], Awaitable[HttpResponse | None]]:
    async def intercept(req: HttpRequest) -> HttpResponse | None:
        if not req.path.startswith(PATH) or req.method not in ("GET", "DELETE"):
            return None
        return answer(provider, req)

    return intercept


def answer(provider: SqsProvider, req: HttpRequest) -> HttpResponse:
    env = provider.env
    params = dict(parse_qsl(req.query_string, keep_blank_values=True))
    wants_json = "json" in req.headers.get("accept", "")
    info = env.catalog.services["sqs"]
    protocol = "json" if wants_json else "query"
    op = info.operation("ReceiveMessage" if req.method == "GET" else "PurgeQueue", protocol)
    assert op is not None
    proto = get_protocol(protocol)
    rctx = ResponseContext(ids.request_id(), op.service_model, op)
    account = params.get("AccountId") or env.settings.account_id
    ctx = RequestContext(
        account_id=account,
        region=params.get("Region") or env.settings.region,
        request_id=rctx.request_id,
        service="sqs",
        operation=op.name,
        principal=accounts.root_principal(account, account),
        request=req,
    )
    url = params.get("QueueUrl") or _path_url(req.path, ctx)
    try:
        if not url:
            raise ServiceError("MissingParameter", "Parameter QueueUrl is required.")
        with provider.store.transaction():
            ctx.region = provider._locate(ctx, url)[1]
            queue = provider._queue(ctx, url)
            if req.method == "DELETE":
                provider.messages.purge(queue.id)
                return proto.serialize({}, rctx)
            show_delayed = params.get("ShowDelayed", "").lower() == "true"
            show_invisible = params.get("ShowInvisible", "").lower() == "true"
            rows = provider.messages.peek(queue.id, clock.now(), show_delayed, show_invisible)
            listing = {"AttributeNames": ["All"], "MessageAttributeNames": ["All"]}
            found = [
                provider._message(
                    queue, r, listing, r["receipt"] or "", r["receive_count"], r["first_receive"]
                )
                for r in rows
            ]
        return proto.serialize({"Messages": found} if found else {}, rctx)
    except ServiceError as err:
        return proto.serialize_error(err, rctx)


def _path_url(path: str, ctx: RequestContext) -> str:
    """``/_aws/sqs/messages/<region>/<account>/<queue>`` names the queue in the path."""
    parts = [p for p in path[len(PATH) :].split("/") if p]
    if len(parts) != 3:
        return ""
    ctx.region = parts[0]
    return f"http://sqs.{parts[0]}.localhost/{parts[1]}/{parts[2]}"


async def queue_url_in_path(req: HttpRequest) -> None:
    """Query clients may address a queue by posting to its URL instead of passing QueueUrl
    (``curl 'http://localhost:4566/000000000000/q?Action=SendMessage&MessageBody=hi'``): the
    path then stands for the parameter."""
    if QUEUE_PATH.match(req.path) is None:
        return
    given = req.query_string + "&" + req.read_body().decode("utf-8", "replace")
    if "Action=" not in given or "QueueUrl=" in given:
        return
    url = f"{req.scheme}://{req.host or 'localhost:4566'}{req.path}"
    joiner = "&" if req.query_string else ""
    req.query_string = f"{req.query_string}{joiner}QueueUrl={quote(url, safe='')}"
