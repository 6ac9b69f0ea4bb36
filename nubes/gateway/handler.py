"""The request path: identify, authenticate, parse, validate, authorize, dispatch, serialize.

Each step is one small function; the chain stays short so a request costs little more than the
work its operation does.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nubes.core import accounts, ids
from nubes.core.arns import partition_of
from nubes.core.context import RequestContext
from nubes.gateway import wire
from nubes.gateway.auth import read_credentials
from nubes.gateway.router import Router, Target, unknown_operation
from nubes.protocol import get_protocol
from nubes.protocol.base import HttpRequest, HttpResponse, ResponseContext, ServiceError
from nubes.protocol.validate import validate

if TYPE_CHECKING:
    from botocore.model import OperationModel

    from nubes.app import Environment

log = logging.getLogger("nubes.request")

Interceptor = Callable[[HttpRequest], Awaitable[HttpResponse | None]]
Check = Callable[[RequestContext, "OperationModel", dict[str, Any]], None]


class Gateway:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.router = Router(env.catalog)
        self.interceptors: list[Interceptor] = []
        """Tried in order before routing (CORS preflight, website hosting, inspection)."""
        self.checks: list[Check] = []
        """Run after parsing and before dispatch (IAM enforcement); raise to refuse."""

    async def handle(self, req: HttpRequest) -> HttpResponse:
        try:
            return await self._handle(req)
        except Exception:
            log.exception("%s %s failed", req.method, req.path)
            return self.internal_failure(req)

    def internal_failure(self, req: HttpRequest) -> HttpResponse:
        """The last resort when something failed outside an operation (an interceptor, routing,
        an error's own serialization): InternalFailure in the protocol of the service the
        request is for, when that can still be told; else in JSON."""
        request_id = ids.request_id()
        try:
            target = self.router.identify(req, read_credentials(req))
            if target is not None:
                service = target.service.model
                resp = get_protocol(target.protocol).serialize_error(
                    _internal_error(target.protocol), ResponseContext(request_id, service)
                )
                resp.headers.setdefault("x-amzn-RequestId", request_id)
                return resp
        except Exception:
            log.exception("answering %s %s with InternalFailure failed", req.method, req.path)
        body = json.dumps({"__type": "InternalFailure", "message": _INTERNAL_MESSAGE}).encode()
        headers = {
            "content-type": "application/json",
            "x-amzn-errortype": "InternalFailure",
            "x-amzn-RequestId": request_id,
        }
        return HttpResponse(500, headers, body)

    async def _handle(self, req: HttpRequest) -> HttpResponse:
        for intercept in self.interceptors:
            resp = await intercept(req)
            if resp is not None:
                return resp
        started = time.perf_counter()
        creds = read_credentials(req)
        early = wire.early(req, creds)
        if early is not None:
            return early
        target = self.router.identify(req, creds)
        # Providers are made on first use; one made just now may claim this request with an
        # interceptor (CORS preflight, website, function URL) or add a check. No AWS API path
        # starts with /_aws/ (nor can a bucket name): those are developer endpoints, which any
        # provider may serve.
        wanted = None if target is None or req.path.startswith("/_aws/") else target.service.name
        if self.env.providers.load(wanted):
            return await self._handle(req)
        if target is None:
            return _unroutable(req)
        s3 = target.service.name == "s3"
        request_id = ids.s3_request_id() if s3 else ids.request_id()
        access_key = creds.access_key_id if creds else ""
        region = (creds.region if creds and creds.region else None) or self.env.settings.region
        principal = accounts.resolve(access_key, self.env.settings.account_id, partition_of(region))
        ctx = RequestContext(
            account_id=principal.account_id,
            region=region,
            request_id=request_id,
            service=target.service.name,
            operation=target.operation or "",
            principal=principal,
            request=req,
            protocol=target.protocol,
        )
        host_id = ids.s3_host_id() if s3 else ""
        resp = await self._answer(ctx, target, host_id)
        wire.finish(target.service.name, req, resp)
        headers = resp.headers
        if s3:
            headers["x-amz-request-id"] = request_id
            headers["x-amz-id-2"] = host_id
        else:
            headers["x-amzn-RequestId"] = request_id
        headers.update(ctx.extras.get("response_headers", {}))
        if "status" in ctx.extras and resp.status < 300:
            resp.status = ctx.extras["status"]
        # Failures at info (what a person debugging a client wants to see), the rest at debug.
        level = logging.INFO if resp.status >= 400 else logging.DEBUG
        if log.isEnabledFor(level):
            error = ctx.extras.get("error_code")
            log.log(
                level,
                "%s.%s %s%s %.1fms%s",
                target.service.name,
                target.operation or target.action,
                resp.status,
                f" {error}" if error else "",
                (time.perf_counter() - started) * 1000,
                f" (account {ctx.account_id})" if resp.status >= 400 else "",
            )
        return resp

    async def _answer(self, ctx: RequestContext, target: Target, host_id: str) -> HttpResponse:
        proto = get_protocol(target.protocol)
        op = (
            target.service.operation(target.operation, target.protocol)
            if target.operation
            else None
        )
        rctx = ResponseContext(
            ctx.request_id, op.service_model if op else target.service.model, op, host_id
        )
        try:
            if op is None:
                raise unknown_operation(target)
            wire.prepare(target.service.name, op, ctx.request)
            params = proto.parse(op, ctx.request, target.uri_params)
            validate(op, params)
            for check in self.checks:
                check(ctx, op, params)
            result = await self.env.providers.dispatch(ctx, op.name, params)
            return proto.serialize(result, rctx)
        except ServiceError as err:
            ctx.extras["error_code"] = err.code
            return proto.serialize_error(err, rctx)
        except Exception:
            ctx.extras["error_code"] = "InternalFailure"
            log.exception("%s.%s failed", ctx.service, ctx.operation)
            return proto.serialize_error(_internal_error(target.protocol), rctx)


_INTERNAL_MESSAGE = "We encountered an internal error. Please try again."


def _internal_error(protocol: str) -> ServiceError:
    code = "InternalFailure" if protocol != "rest-xml" else "InternalError"
    return ServiceError(code, _INTERNAL_MESSAGE, 500, sender_fault=False)


def _unroutable(req: HttpRequest) -> HttpResponse:
    body = json.dumps(
        {
            "__type": "UnknownServiceException",
            "message": f"nubes cannot tell which AWS service {req.method} {req.path} is for; "
            "sign the request with SigV4 so its credential scope names the service.",
        }
    ).encode()
    return HttpResponse(
        400,
        {"content-type": "application/json", "x-amzn-errortype": "UnknownServiceException"},
        body,
    )
