"""The load balancers' data plane: listeners bound on each load balancer's loopback address,
the same listeners reached through nubes' own port by ``Host: <DNSName>[:port]``, an HTTP
reverse proxy for application load balancers (rules, forward with weights and stickiness,
redirects, fixed responses, Lambda targets), a TCP relay for network load balancers, and
health probes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import math
import os
import random
import secrets
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote

from nubes.core import clock, ids
from nubes.core.context import RequestContext
from nubes.core.metrics import Datapoint
from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError
from nubes.runtime.proxy import datagrams, http, rules
from nubes.runtime.proxy.config import (
    Listener,
    LoadBalancer,
    Outcome,
    Snapshot,
    Target,
    TargetGroup,
)

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.proxy")

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]

ELB_PAGE = (
    "<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {text}</h1></center>\r\n</body>\r\n</html>\r\n"
)
_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE
IDLE_POOL = 32
"""Idle keep-alive connections kept per target."""
STICKY_COOKIES = ("AWSALB", "AWSALBAPP-0")
GROUP_COOKIE = "AWSALBTG"
RELAYED = frozenset({"TCP", "TLS", "TCP_UDP", "SSL"})
"""Listener protocols whose connections are relayed as bytes (the rest speak HTTP)."""
NAMESPACES = {
    "application": "AWS/ApplicationELB",
    "network": "AWS/NetworkELB",
    "classic": "AWS/ELB",
}


@dataclass
class _Counts:
    requests: int = 0


class Plane:
    def __init__(
        self,
        env: Environment,
        load: Callable[[], Snapshot],
        certificates: Callable[[str], tuple[bytes, bytes] | None],
    ) -> None:
        self.env = env
        self._load = load
        self._certificates = certificates
        self._snapshot: Snapshot | None = None
        self._servers: dict[tuple[str, int], asyncio.Server] = {}
        self._bound: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {}
        self._refused: dict[tuple[str, int], tuple[str, tuple[str, ...]]] = {}
        self._datagrams: dict[tuple[str, int], datagrams.Listener] = {}
        self._udp_refused: set[tuple[str, int]] = set()
        self._running = False
        self._syncing: asyncio.Task[None] | None = None
        self._pool: dict[tuple[str, str, int], list[Streams]] = {}
        self._turn: dict[str, int] = {}
        self._smooth: dict[str, dict[tuple[str, int], float]] = {}
        self._flight: dict[tuple[str, str, int], int] = {}
        self._per_group: dict[tuple[float, str], _Counts] = {}

    # -- configuration --------------------------------------------------------------------

    def changed(self) -> None:
        """The records changed: rebuild the snapshot on next use, rebind listeners, let the
        DNS server ask again."""
        self._snapshot = None
        self.env.names.changed()
        if self._running:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(self._schedule_sync)

    def resolve(self, name: str) -> tuple[str, ...] | None:
        """The address of a load balancer's DNS name (``env.names`` asks, lower-cased)."""
        for lb in self.snapshot.balancers.values():
            if lb.dns == name:
                return (lb.address,)
        return None

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = self._load()
        return self._snapshot

    def _schedule_sync(self) -> None:
        if self._syncing is None or self._syncing.done():
            self._syncing = asyncio.get_running_loop().create_task(self._sync())

    async def start(self) -> None:
        self._running = True
        await self._sync()

    async def stop(self) -> None:
        self._running = False
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        for udp in self._datagrams.values():
            udp.close()
        self._datagrams.clear()
        for conns in self._pool.values():
            for _, writer in conns:
                writer.close()
        self._pool.clear()

    async def _sync(self) -> None:
        """Bind each listener's port on its load balancer's address (where the OS lets us),
        close those whose listener is gone or changed protocol or certificate."""
        wanted = {
            (lb.address, port): (listener.protocol, tuple(listener.certificates))
            for lb in self.snapshot.balancers.values()
            for port, listener in lb.listeners.items()
            if listener.protocol != "UDP"
        }
        for key in list(self._servers):
            if self._bound.get(key) != wanted.get(key):
                self._servers.pop(key).close()
                self._bound.pop(key, None)
        self._refused = {k: v for k, v in self._refused.items() if wanted.get(k) == v}
        for key, kind in wanted.items():
            if key in self._servers or key in self._refused:
                continue
            address, port = key
            try:
                context = self._tls(kind[1]) if kind[0] in ("HTTPS", "TLS") else None
                self._servers[key] = await asyncio.start_server(
                    self._connected(address, port, context is not None),
                    address,
                    port,
                    reuse_address=True,
                    ssl=context,
                )
                self._bound[key] = kind
            except (OSError, ValueError) as exc:
                self._refused[key] = kind
                log.info(
                    "load balancer listener %s:%s not bound (%s): reach it "
                    "through nubes' port with its DNS name as Host",
                    address,
                    port,
                    exc,
                )
        await self._sync_datagrams()

    async def _sync_datagrams(self) -> None:
        """Bind UDP (and TCP_UDP) listeners' ports for datagrams, close those gone."""
        wanted = {
            (lb.address, port)
            for lb in self.snapshot.balancers.values()
            for port, listener in lb.listeners.items()
            if listener.protocol in ("UDP", "TCP_UDP")
        }
        for key in list(self._datagrams):
            if key not in wanted:
                self._datagrams.pop(key).close()
        self._udp_refused &= wanted
        loop = asyncio.get_running_loop()
        for key in wanted - self._datagrams.keys() - self._udp_refused:
            try:
                _, bound = await loop.create_datagram_endpoint(
                    functools.partial(datagrams.Listener, self._udp_target(*key)), local_addr=key
                )
                self._datagrams[key] = bound
            except OSError as exc:
                self._udp_refused.add(key)
                log.info("load balancer UDP listener %s:%s not bound (%s)", *key, exc)

    def _udp_target(self, address: str, port: int) -> datagrams.Choose:
        def choose(client_ip: str) -> tuple[str, int] | None:
            found = self._find(address, port)
            if found is None:
                return None
            lb, listener = found
            self._metric(lb, "NewFlowCount")
            group = self._pick_group(listener.rules[-1].actions[-1], {})
            # Instance targets are reached through the EC2 runtime, which opens streams only.
            if group is None or group.target_type != "ip":
                return None
            target = self._pick_target(group, {}, client_ip)
            return None if target is None else (target.id, target.port)

        return choose

    def _tls(self, certificates: tuple[str, ...]) -> ssl.SSLContext:
        """A server context with the listener's default certificate, and the others chosen by
        the name the client asks for (SNI)."""
        contexts: list[tuple[ssl.SSLContext, list[str]]] = []
        for arn in certificates:
            material = self._certificates(arn)
            if material is None:
                raise ValueError(f"certificate {arn} not found")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory(prefix="nubes-tls-") as folder:
                cert_file, key_file = os.path.join(folder, "cert"), os.path.join(folder, "key")
                for path, data in ((cert_file, material[0]), (key_file, material[1])):
                    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
                        out.write(data)
                context.load_cert_chain(cert_file, key_file)
            contexts.append((context, _names(material[0])))
        default = contexts[0][0]
        if len(contexts) > 1:

            def choose(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
                for context, names in contexts:
                    if name and any(_covers(n, name) for n in names):
                        sock.context = context
                        return

            default.sni_callback = choose
        return default

    def _find(self, address: str, port: int) -> tuple[LoadBalancer, Listener] | None:
        for lb in self.snapshot.balancers.values():
            if lb.address == address and port in lb.listeners:
                return lb, lb.listeners[port]
        return None

    # -- client side: bound listeners -----------------------------------------------------

    def _connected(
        self, address: str, port: int, secure: bool
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                found = self._find(address, port)
                if found is None:
                    return
                lb, listener = found
                peer = writer.get_extra_info("peername") or ("", 0)
                if listener.protocol in RELAYED:
                    await self._relay(lb, listener, reader, writer, peer)
                else:
                    await self._http_connection(lb, listener, reader, writer, peer, secure)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            except Exception:
                log.exception("load balancer connection on %s:%s failed", address, port)
            finally:
                writer.close()

        return serve

    async def _http_connection(
        self,
        lb: LoadBalancer,
        listener: Listener,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: tuple[Any, ...],
        secure: bool,
    ) -> None:
        self._metric(lb, "ActiveConnectionCount")
        idle = float(lb.attributes.get("client_keep_alive.seconds", "3600"))
        while True:
            try:
                request = await asyncio.wait_for(http.read_request(reader), idle)
            except TimeoutError:
                return
            except http.BadMessage:
                writer.write(http.encode_response(_elb_page(400), keep_alive=False))
                await writer.drain()
                return
            if request is None:
                return
            request.client_ip, request.client_port = peer[0], peer[1]
            request.scheme = "https" if secure else "http"
            # The listener may have changed since the connection opened.
            found = self._find(lb.address, listener.port)
            if found is None:
                return
            lb, listener = found
            response = await self.handle(lb, listener, request)
            keep = request.keep_alive and not response.close
            head_only = request.method == "HEAD"
            writer.write(http.encode_response(response, keep, head_only))
            if response.stream is not None and not head_only:
                await http.send_body(writer, response.stream, response.length is None)
            await writer.drain()
            # A body no target read (a fixed response, a redirect) is skipped, not answered.
            await request.discard()
            if not keep:
                return

    async def _relay(
        self,
        lb: LoadBalancer,
        listener: Listener,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: tuple[Any, ...],
    ) -> None:
        self._metric(lb, "NewFlowCount")
        action = listener.rules[-1].actions[-1]
        group = self._pick_group(action, {})
        if group is None:
            return
        target = self._pick_target(group, {}, peer[0])
        if target is None:
            return
        try:
            other = await self._open(lb, group, target)
        except OSError:
            return
        key = (group.arn, target.id, target.port)
        self._flight[key] = self._flight.get(key, 0) + 1
        try:
            await asyncio.gather(_pipe(reader, other[1]), _pipe(other[0], writer))
        finally:
            self._flight[key] -= 1
            other[1].close()

    # -- client side: nubes' own port -----------------------------------------------------

    async def intercept(self, req: HttpRequest) -> HttpResponse | None:
        """Requests whose Host names a load balancer (``Host: <DNSName>[:port]``) go to that
        listener instead of to an AWS API."""
        host = req.headers.get("host", "").lower()
        if ".elb." not in host:
            return None
        name, _, port_text = host.partition(":")
        lb = next((b for b in self.snapshot.balancers.values() if b.dns == name), None)
        if lb is None:
            return None
        port = int(port_text) if port_text.isdigit() else 80
        listener = lb.listeners.get(port)
        if listener is None or listener.protocol in RELAYED:
            return HttpResponse(
                503,
                {"content-type": "text/plain"},
                f"{lb.dns} has no HTTP listener on port {port}\n".encode(),
            )
        target = req.path + (f"?{req.query_string}" if req.query_string else "")
        headers = [(k, v) for k, v in req.headers.items()]
        request = http.Request(
            req.method,
            target,
            "HTTP/1.1",
            headers,
            body=req.read_body(),
            client_ip=req.client_ip,
            scheme=req.scheme,
        )
        response = await self.handle(lb, listener, request)
        out: dict[str, str] = {}
        cookies = 0
        for key, value in response.headers:
            if key.lower() in http.HOP_BY_HOP:
                continue
            if key.lower() == "set-cookie":
                # The gateway writes a dict, lower-casing names: differently cased keys are
                # how one response carries several Set-Cookie headers through it.
                out[_cased("set-cookie", cookies)] = value
                cookies += 1
            else:
                out[key] = f"{out[key]}, {value}" if key in out else value
        if response.stream is not None:
            if response.length is not None:
                out["content-length"] = str(response.length)
            return HttpResponse(response.status, out, response.stream)
        return HttpResponse(response.status, out, response.body)

    # -- the ALB request path -------------------------------------------------------------

    async def handle(
        self, lb: LoadBalancer, listener: Listener, request: http.Request
    ) -> http.Response:
        started = time.perf_counter()
        self._metric(lb, "RequestCount")
        facts = rules.Facts(
            method=request.method,
            path=unquote(request.path),
            query=request.query,
            host=request.header("host") or "",
            headers=_header_map(request.headers),
            source_ip=request.client_ip,
        )
        rule = next(r for r in listener.rules if rules.matches(r.conditions, facts))
        action = next(a for a in sorted(rule.actions, key=lambda a: a.get("Order", 0)))
        kind = action["Type"]
        if kind == "fixed-response":
            config = action["FixedResponseConfig"]
            response = http.Response(
                int(config["StatusCode"]),
                headers=[
                    ("Server", "awselb/2.0"),
                    ("Date", formatdate(usegmt=True)),
                    ("Content-Type", config.get("ContentType", "text/plain")),
                ],
                body=config.get("MessageBody", "").encode(),
            )
        elif kind == "redirect":
            response = _redirect(action["RedirectConfig"], request, listener)
        else:
            response = await self._forward(lb, listener, action, request, started)
        if response.status >= 500 and response.header("server") == "awselb/2.0":
            self._metric(lb, "HTTPCode_ELB_5XX_Count")
        elif response.header("server") == "awselb/2.0":
            self._metric(lb, f"HTTPCode_ELB_{response.status // 100}XX_Count")
        return response

    async def _forward(
        self,
        lb: LoadBalancer,
        listener: Listener,
        action: dict[str, Any],
        request: http.Request,
        started: float,
    ) -> http.Response:
        cookies = _cookies(request.header("cookie"))
        group = self._pick_group(action, cookies)
        set_cookies: list[str] = []
        stickiness = action["ForwardConfig"].get("TargetGroupStickinessConfig") or {}
        if group is None:
            return _elb_page(503)
        if stickiness.get("Enabled") and len(action["ForwardConfig"]["TargetGroups"]) > 1:
            duration = int(stickiness.get("DurationSeconds", 3600))
            value = _encode_cookie([group.arn, clock.now() + duration])
            set_cookies += [
                f"{GROUP_COOKIE}={value}; Expires={_expires(duration)}; Path=/",
                f"{GROUP_COOKIE}CORS={value}; Expires={_expires(duration)}; Path=/; "
                "SameSite=None; Secure",
            ]
        target = self._pick_target(group, cookies, request.client_ip)
        if target is None:
            return _elb_page(503)
        key = (group.arn, target.id, target.port)
        self._flight[key] = self._flight.get(key, 0) + 1
        self._count_group(group)
        try:
            if group.target_type == "lambda":
                response = await self._invoke(lb, listener, group, target, request)
            else:
                response = await self._proxy(lb, listener, group, target, request)
        finally:
            self._flight[key] -= 1
        if response.header("server") != "awselb/2.0":
            self._metric(lb, f"HTTPCode_Target_{response.status // 100}XX_Count", group)
            self._metric(
                lb, "TargetResponseTime", group, value=time.perf_counter() - started, unit="Seconds"
            )
        set_cookies += self._sticky(group, target, response)
        response.headers.extend(("Set-Cookie", c) for c in set_cookies)
        return response

    def _pick_group(self, action: dict[str, Any], cookies: dict[str, str]) -> TargetGroup | None:
        weighted = action["ForwardConfig"]["TargetGroups"]
        groups = self.snapshot.groups
        stickiness = action["ForwardConfig"].get("TargetGroupStickinessConfig") or {}
        if stickiness.get("Enabled") and GROUP_COOKIE in cookies:
            decoded = _decode_cookie(cookies[GROUP_COOKIE])
            if decoded and decoded[1] > clock.now():
                named = groups.get(decoded[0])
                if named is not None and any(w["TargetGroupArn"] == named.arn for w in weighted):
                    return named
        choices = [
            (groups[w["TargetGroupArn"]], w["Weight"])
            for w in weighted
            if w["TargetGroupArn"] in groups
        ]
        total = sum(weight for _, weight in choices)
        if total <= 0:
            return None
        pick = random.uniform(0, total)
        for group, weight in choices:
            pick -= weight
            if pick <= 0 and weight > 0:
                return group
        return next(g for g, w in reversed(choices) if w > 0)

    def _pick_target(
        self, group: TargetGroup, cookies: dict[str, str], client_ip: str
    ) -> Target | None:
        serving = [t for t in group.targets if t.state != "draining"]
        if not group.checked:
            routable = serving
        else:
            routable = [t for t in serving if t.state == "healthy"]
            if not routable:
                # Every target unhealthy: the load balancer fails open, as AWS documents.
                routable = [t for t in serving if t.state == "unhealthy"]
        if not routable:
            return None
        attributes = group.attributes
        if attributes.get("stickiness.enabled") == "true":
            cookie = group.sticky_cookie or (
                "AWSALBAPP-0" if attributes.get("stickiness.type") == "app_cookie" else "AWSALB"
            )
            decoded = _decode_cookie(cookies.get(cookie, ""))
            if decoded and decoded[0] == group.arn:
                for t in routable:
                    if (t.id, t.port) == (decoded[1], decoded[2]):
                        return t
        algorithm = attributes.get("load_balancing.algorithm.type", "round_robin")
        if algorithm == "least_outstanding_requests":
            return min(routable, key=lambda t: self._flight.get((group.arn, t.id, t.port), 0))
        if algorithm == "weighted_random":
            return random.choice(routable)
        ramp = float(attributes.get("slow_start.duration_seconds", "0"))
        if ramp > 0 and len(routable) > 1:
            return self._slow_start(group, routable, ramp)
        turn = self._turn.get(group.arn, 0)
        self._turn[group.arn] = turn + 1
        return routable[turn % len(routable)]

    def _slow_start(self, group: TargetGroup, routable: list[Target], ramp: float) -> Target:
        """Smooth weighted round robin where a target in slow start weighs the share of the
        ramp it has gone through: its requests grow linearly, as AWS describes."""
        now = clock.now()
        weights = {
            (t.id, t.port): 1.0
            if t.healthy_since is None
            else min(1.0, max(0.0, (now - t.healthy_since) / ramp))
            for t in routable
        }
        current = self._smooth.setdefault(group.arn, {})
        total = sum(weights.values())
        for key, weight in weights.items():
            current[key] = current.get(key, 0.0) + weight
        chosen = max(routable, key=lambda t: current[(t.id, t.port)])
        current[(chosen.id, chosen.port)] -= total
        return chosen

    def _sticky(self, group: TargetGroup, target: Target, response: http.Response) -> list[str]:
        attributes = group.attributes
        if attributes.get("stickiness.enabled") != "true":
            return []
        if attributes.get("stickiness.type") == "app_cookie":
            name = attributes.get("stickiness.app_cookie.cookie_name", "")
            duration = int(attributes.get("stickiness.app_cookie.duration_seconds", "86400"))
            sets = [v for k, v in response.headers if k.lower() == "set-cookie"]
            if not any(c.split("=", 1)[0].strip() == name for c in sets):
                return []
            cookie = "AWSALBAPP-0"
        elif attributes.get("stickiness.type", "lb_cookie") == "lb_cookie":
            duration = int(attributes.get("stickiness.lb_cookie.duration_seconds", "86400"))
            cookie = "AWSALB"
        else:
            return []
        cookie = group.sticky_cookie or cookie
        value = _encode_cookie([group.arn, target.id, target.port])
        if not duration:
            return [f"{cookie}={value}; Path=/"]  # a session cookie
        expires = _expires(duration)
        out = [f"{cookie}={value}; Expires={expires}; Path=/"]
        if cookie == "AWSALB":
            out.append(f"AWSALBCORS={value}; Expires={expires}; Path=/; SameSite=None; Secure")
        return out

    # -- targets --------------------------------------------------------------------------

    async def _open(
        self,
        lb: LoadBalancer | None,
        group: TargetGroup,
        target: Target,
        port: int = 0,
        tls: bool | None = None,
    ) -> Streams:
        """A connection to the target (TLS when the group's protocol is HTTPS or TLS, or when
        ``tls`` says so; certificates are not verified, as ELB does not verify targets')."""
        port = port or target.port
        secure = group.protocol in ("HTTPS", "TLS") if tls is None else tls
        if group.target_type == "instance":
            runtime = getattr(self.env.providers.get("ec2"), "runtime", None)
            if runtime is None:
                raise ConnectionRefusedError("no instance runtime")
            source = ""
            if lb is not None:
                source = lb.interfaces.get(target.az) or next(iter(lb.interfaces.values()), "")
            streams: Streams = await runtime.open_port(target.id, port, source)
            if secure:
                await streams[1].start_tls(_UNVERIFIED)
            return streams
        return await asyncio.open_connection(target.id, port, ssl=_UNVERIFIED if secure else None)

    def _lb_of(self, group: TargetGroup) -> LoadBalancer | None:
        for lb in self.snapshot.balancers.values():
            for listener in lb.listeners.values():
                for rule in listener.rules:
                    for action in rule.actions:
                        forward = action.get("ForwardConfig") or {}
                        if any(
                            g["TargetGroupArn"] == group.arn
                            for g in forward.get("TargetGroups", [])
                        ):
                            return lb
        return None

    async def _proxy(
        self,
        lb: LoadBalancer,
        listener: Listener,
        group: TargetGroup,
        target: Target,
        request: http.Request,
    ) -> http.Response:
        headers = _forward_headers(lb, listener, request)
        data = http.encode_request(request, headers)
        timeout = float(lb.attributes.get("idle_timeout.timeout_seconds", "60"))
        key = (group.target_type, target.id, target.port)
        streamed = request.stream is not None
        for attempt in (0, 1):
            reused = False
            try:
                idle = self._pool.get(key) or []
                # A streamed body cannot be sent twice: it goes on a fresh connection.
                if attempt == 0 and idle and not streamed:
                    reader, writer = idle.pop()
                    reused = True
                else:
                    reader, writer = await asyncio.wait_for(self._open(lb, group, target), timeout)
            except (OSError, TimeoutError):
                return _elb_page(502)
            try:
                writer.write(data)
                if request.stream is not None:
                    await http.send_body(writer, request.stream, request.length is None)
                    request.stream = None
                await writer.drain()
                response = await asyncio.wait_for(
                    http.read_response(reader, request.method, timeout), timeout
                )
            except TimeoutError:
                writer.close()
                return _elb_page(504)
            except (OSError, http.BadMessage, asyncio.IncompleteReadError):
                writer.close()
                if reused:
                    continue  # a kept connection the target had closed: try a fresh one
                return _elb_page(502)
            if response.stream is not None:
                response.stream = self._pass_on(
                    response.stream, key, reader, writer, response.close
                )
            else:
                self._release(key, reader, writer, response.close)
            response.headers = [
                (k, v) for k, v in response.headers if k.lower() not in http.HOP_BY_HOP
            ]
            response.close = False
            return response
        return _elb_page(502)

    def _release(
        self,
        key: tuple[str, str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        close: bool,
    ) -> None:
        """Keep a target connection whose answer was read to its end, for the next request."""
        if close or reader.at_eof():
            writer.close()
            return
        pool = self._pool.setdefault(key, [])
        if len(pool) < IDLE_POOL:
            pool.append((reader, writer))
        else:
            writer.close()

    async def _pass_on(
        self,
        stream: AsyncIterator[bytes],
        key: tuple[str, str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        close: bool,
    ) -> AsyncIterator[bytes]:
        """A target's streamed answer; its connection is kept once the answer has been read
        to the end, closed if the client went away before."""
        finished = False
        try:
            async for data in stream:
                yield data
            finished = True
        finally:
            if finished:
                self._release(key, reader, writer, close)
            else:
                writer.close()

    async def _invoke(
        self,
        lb: LoadBalancer,
        listener: Listener,
        group: TargetGroup,
        target: Target,
        request: http.Request,
    ) -> http.Response:
        multi = group.attributes.get("lambda.multi_value_headers.enabled") == "true"
        await request.whole_body()
        event = _lambda_event(
            group,
            request,
            _forward_headers(lb, listener, request),
            multi,
        )
        try:
            result = await self._lambda(group, target.id, json.dumps(event).encode())
        except ServiceError:
            return _elb_page(502)
        if result.get("FunctionError"):
            return _elb_page(502)
        try:
            answer = json.loads(bytes(result.get("Payload") or b"{}"))
            status = int(answer.get("statusCode", 200)) if isinstance(answer, dict) else 0
        except (ValueError, TypeError):
            return _elb_page(502)
        if not isinstance(answer, dict) or not 100 <= status <= 599:
            return _elb_page(502)
        headers: list[tuple[str, str]] = []
        if multi:
            for key, values in (answer.get("multiValueHeaders") or {}).items():
                headers.extend((key, str(v)) for v in values)
        else:
            headers.extend((k, str(v)) for k, v in (answer.get("headers") or {}).items())
        body = answer.get("body") or ""
        raw = base64.b64decode(body) if answer.get("isBase64Encoded") else str(body).encode()
        reason = str(answer.get("statusDescription", "")).partition(" ")[2]
        return http.Response(status, reason, headers, raw)

    async def _lambda(self, group: TargetGroup, function: str, payload: bytes) -> dict[str, Any]:
        principal = _elb_principal(group.account)
        ctx = RequestContext(
            account_id=group.account,
            region=group.region,
            request_id=ids.request_id(),
            service="lambda",
            operation="Invoke",
            principal=principal,
            request=HttpRequest(
                "POST", "/", headers={"host": f"localhost:{self.env.settings.port}"}
            ),
            protocol="elb",
        )
        result: dict[str, Any] = await self.env.providers.dispatch(
            ctx, "Invoke", {"FunctionName": function, "Payload": payload}
        )
        return result

    # -- health ---------------------------------------------------------------------------

    async def probe(
        self, group: TargetGroup, target: Target, lb: LoadBalancer | None = None
    ) -> Outcome:
        """One health check of the target, as the group's settings say (from ``lb``'s
        interfaces; by default the load balancer whose rules forward to the group)."""
        health = group.health
        timeout = float(health.get("HealthCheckTimeoutSeconds", 5))
        port_setting = str(health.get("HealthCheckPort", "traffic-port"))
        port = target.port if port_setting == "traffic-port" else int(port_setting)
        codes = (health.get("Matcher") or {}).get("HttpCode", "200")
        path = health.get("HealthCheckPath", "/")
        if group.target_type == "lambda":
            event = {
                "requestContext": {"elb": {"targetGroupArn": group.arn}},
                "httpMethod": "GET",
                "path": path,
                "queryStringParameters": {},
                "headers": {"user-agent": "ELB-HealthChecker/2.0"},
                "body": "",
                "isBase64Encoded": False,
            }
            try:
                result = await asyncio.wait_for(
                    self._lambda(group, target.id, json.dumps(event).encode()), timeout
                )
                status = int(json.loads(bytes(result.get("Payload") or b"{}")).get("statusCode", 0))
            except TimeoutError:
                return Outcome(False, "Target.Timeout", "Request timed out")
            except (ServiceError, ValueError, TypeError, AttributeError):
                return Outcome(False, "Target.FailedHealthChecks", "Health checks failed")
            return _judge(status, codes)
        lb = lb or self._lb_of(group)
        try:
            protocol = health.get("HealthCheckProtocol", group.protocol)
            secure = protocol in ("HTTPS", "TLS")
            reader, writer = await asyncio.wait_for(
                self._open(lb, group, target, port, secure), timeout
            )
        except TimeoutError:
            return Outcome(False, "Target.Timeout", "Request timed out")
        except OSError:
            return Outcome(False, "Target.FailedHealthChecks", "Health checks failed")
        try:
            if protocol not in ("HTTP", "HTTPS"):
                return Outcome(True)
            host = target.id if group.target_type == "ip" else "127.0.0.1"
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "User-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            await writer.drain()
            response = await asyncio.wait_for(http.read_response(reader, "GET"), timeout)
            return _judge(response.status, codes)
        except TimeoutError:
            return Outcome(False, "Target.Timeout", "Request timed out")
        except (OSError, http.BadMessage, asyncio.IncompleteReadError):
            return Outcome(False, "Target.FailedHealthChecks", "Health checks failed")
        finally:
            writer.close()

    def in_flight(self, group_arn: str, target_id: str, port: int) -> int:
        return self._flight.get((group_arn, target_id, port), 0)

    # -- metrics --------------------------------------------------------------------------

    def _metric(
        self,
        lb: LoadBalancer,
        name: str,
        group: TargetGroup | None = None,
        value: float = 1.0,
        unit: str = "Count",
    ) -> None:
        namespace = NAMESPACES[lb.type]
        record = self.env.metrics.record
        record(lb.account, lb.region, namespace, name, value, unit, lb.dimensions)
        if group is not None and lb.type != "classic":
            dims = {**lb.dimensions, "TargetGroup": _group_dimension(group)}
            record(lb.account, lb.region, namespace, name, value, unit, dims)

    def _count_group(self, group: TargetGroup) -> None:
        minute = math.floor(clock.now() / 60) * 60.0
        self._per_group.setdefault((minute, group.arn), _Counts()).requests += 1

    def collect(self, boundary: float) -> list[Datapoint]:
        """Gauges each minute: healthy and unhealthy hosts per target group, and requests per
        target over the minute that ended."""
        points: list[Datapoint] = []
        snapshot = self.snapshot
        for lb in snapshot.balancers.values():
            namespace = NAMESPACES[lb.type]
            seen: set[str] = set()
            for listener in lb.listeners.values():
                for rule in listener.rules:
                    for action in rule.actions:
                        for weighted in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
                            seen.add(weighted["TargetGroupArn"])
            for arn in seen:
                group = snapshot.groups.get(arn)
                if group is None:
                    continue
                dims = dict(lb.dimensions)
                if lb.type != "classic":
                    dims["TargetGroup"] = _group_dimension(group)
                healthy = sum(
                    1
                    for t in group.targets
                    if t.state == "healthy" or (not group.checked and t.state != "draining")
                )
                unhealthy = sum(1 for t in group.targets if t.state == "unhealthy")
                for name, value in (
                    ("HealthyHostCount", healthy),
                    ("UnHealthyHostCount", unhealthy),
                ):
                    points.append(
                        Datapoint(
                            lb.account,
                            lb.region,
                            namespace,
                            name,
                            float(value),
                            "Count",
                            dims,
                            boundary - 60,
                        )
                    )
                counts = self._per_group.pop((boundary - 60, arn), None)
                if counts is not None and lb.type == "application":
                    per_target = counts.requests / max(1, healthy)
                    for d in (dims, {"TargetGroup": _group_dimension(group)}):
                        points.append(
                            Datapoint(
                                lb.account,
                                lb.region,
                                namespace,
                                "RequestCountPerTarget",
                                per_target,
                                "Count",
                                d,
                                boundary - 60,
                            )
                        )
        for key in [k for k in self._per_group if k[0] < boundary - 60]:
            del self._per_group[key]
        return points


# -- helpers ---------------------------------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


def _names(certificate: bytes) -> list[str]:
    """The DNS names a PEM certificate (the first of a chain) is for."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(certificate)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        return []


def _covers(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower(), name.lower()
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return pattern == name


def _cased(name: str, n: int) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    chars = list(name)
    for bit, index in enumerate(letters):
        if n >> bit & 1:
            chars[index] = chars[index].upper()
    return "".join(chars)


def _judge(status: int, codes: str) -> Outcome:
    for part in codes.split(","):
        low, _, high = part.partition("-")
        if int(low) <= status <= int(high or low):
            return Outcome(True)
    return Outcome(
        False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"
    )


def _elb_page(code: int) -> http.Response:
    text = http.REASONS.get(code, "")
    return http.Response(
        code,
        text,
        [
            ("Server", "awselb/2.0"),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", "text/html"),
        ],
        ELB_PAGE.format(code=code, text=text).encode(),
    )


def _header_map(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in headers:
        out.setdefault(key.lower(), []).append(value)
    return out


def _cookies(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


def _encode_cookie(value: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode_cookie(text: str) -> list[Any] | None:
    if not text:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        return None
    return value if isinstance(value, list) and len(value) >= 2 else None


def _expires(seconds: int) -> str:
    return formatdate(clock.now() + seconds, usegmt=True)


def _group_dimension(group: TargetGroup) -> str:
    return group.arn.split(":", 5)[5]


def _trace_id(existing: str | None) -> str:
    self_id = f"1-{int(clock.now()):08x}-{secrets.token_hex(12)}"
    if existing and "Root=" in existing:
        kept = ";".join(p for p in existing.split(";") if not p.startswith("Self="))
        return f"Self={self_id};{kept}"
    return f"Root={self_id}"


def _forward_headers(
    lb: LoadBalancer, listener: Listener, request: http.Request
) -> list[tuple[str, str]]:
    mode = lb.attributes.get("routing.http.xff_header_processing.mode", "append")
    client = request.client_ip
    if lb.attributes.get("routing.http.xff_client_port.enabled") == "true" and request.client_port:
        client = f"{client}:{request.client_port}"
    out: list[tuple[str, str]] = []
    xff: str | None = None
    for key, value in request.headers:
        low = key.lower()
        if low in http.HOP_BY_HOP or low in (
            "x-forwarded-proto",
            "x-forwarded-port",
            "x-amzn-trace-id",
        ):
            continue
        if low == "x-forwarded-for":
            xff = value if xff is None else f"{xff}, {value}"
            continue
        out.append((key, value))
    if mode == "append":
        out.append(("X-Forwarded-For", f"{xff}, {client}" if xff else client))
    elif mode == "preserve" and xff:
        out.append(("X-Forwarded-For", xff))
    out.append(
        ("X-Forwarded-Proto", request.scheme if request.scheme in ("http", "https") else "http")
    )
    out.append(("X-Forwarded-Port", str(listener.port)))
    out.append(("X-Amzn-Trace-Id", _trace_id(request.header("x-amzn-trace-id"))))
    out.append(("Connection", "keep-alive"))
    return out


def _redirect(config: dict[str, Any], request: http.Request, listener: Listener) -> http.Response:
    host_header = request.header("host") or ""
    host = (
        host_header.rsplit(":", 1)[0]
        if ":" in host_header and not host_header.endswith("]")
        else host_header
    )
    protocol_in = request.scheme.upper() if request.scheme in ("http", "https") else "HTTP"
    values = {
        "#{protocol}": protocol_in.lower(),
        "#{host}": host,
        "#{port}": str(listener.port),
        "#{path}": request.path.lstrip("/"),
        "#{query}": request.query,
    }

    def fill(template: str) -> str:
        for key, value in values.items():
            template = template.replace(key, value)
        return template

    protocol = fill(config["Protocol"]).lower()
    port = fill(config["Port"])
    default = (protocol == "http" and port == "80") or (protocol == "https" and port == "443")
    location = (
        f"{protocol}://{fill(config['Host'])}{'' if default else ':' + port}{fill(config['Path'])}"
    )
    query = fill(config["Query"])
    if query:
        location += "?" + query
    code = 301 if config["StatusCode"] == "HTTP_301" else 302
    return http.Response(
        code,
        http.REASONS[code],
        [
            ("Server", "awselb/2.0"),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", "text/html"),
            ("Location", location),
        ],
        ELB_PAGE.format(code=code, text=http.REASONS[code]).encode(),
    )


def _lambda_event(
    group: TargetGroup, request: http.Request, headers: list[tuple[str, str]], multi: bool
) -> dict[str, Any]:
    body = request.body
    try:
        text = body.decode("utf-8")
        encoded = False
    except UnicodeDecodeError:
        text = base64.b64encode(body).decode()
        encoded = True
    pairs = parse_qsl(request.query, keep_blank_values=True)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": group.arn}},
        "httpMethod": request.method,
        "path": request.path,
        "body": text,
        "isBase64Encoded": encoded,
    }
    lowered = [(k.lower(), v) for k, v in headers if k.lower() != "connection"]
    if multi:
        multi_headers: dict[str, list[str]] = {}
        for k, v in lowered:
            multi_headers.setdefault(k, []).append(v)
        multi_query: dict[str, list[str]] = {}
        for k, v in pairs:
            multi_query.setdefault(quote(k), []).append(quote(v))
        event["multiValueHeaders"] = multi_headers
        event["multiValueQueryStringParameters"] = multi_query
    else:
        event["headers"] = dict(lowered)
        event["queryStringParameters"] = {quote(k): quote(v) for k, v in pairs}
    return event


def _elb_principal(account: str) -> Any:
    from nubes.core import accounts

    return accounts.root_principal(account, account)
