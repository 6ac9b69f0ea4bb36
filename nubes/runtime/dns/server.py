"""The DNS server: UDP and TCP on ``NUBES_DNS_ADDRESS``, answering every hosted zone of every
account and nubes' own names (see :mod:`nubes.core.names`); other names are refused, or
forwarded to ``NUBES_DNS_FORWARD`` when set.

Start-up only binds two sockets; dnspython and the answering code are imported with the first
query, so a server that is never asked costs nothing more. A UDP answer larger than the client
allows (512 bytes, or its EDNS payload size) is truncated with TC set, and the client asks again
over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nubes.core import clock

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.runtime.dns.resolver import Resolver, View, ZoneData
    from nubes.services.route53.provider import Route53Provider

log = logging.getLogger("nubes.dns")

DEFAULT_PORTS = (53, 5353)
FORWARD_TIMEOUT = 3.0
CACHE_SIZE = 10_000
LOG_FLUSH_SECONDS = 1.0
LOGS_REGION = "us-east-1"
EDGE = "NUBES1"
"""The edge location query logs name (AWS's are airport codes and a number, e.g. FRA6)."""


@dataclass(slots=True)
class _Kept:
    """A kept answer: one, or for a weighted pick every possible one with cumulative weights;
    and what the query log says of it when its zone logs queries."""

    answers: list[bytes]
    weights: list[float] | None
    logged: tuple[str, str] | None


def parse_address(text: str) -> tuple[str, list[int]] | None:
    """``NUBES_DNS_ADDRESS``: ``off``, ``host:port`` (port 0: any free port), or empty for
    127.0.0.1 on port 53 when it can bind, else 5353."""
    text = text.strip()
    if text.lower() in ("off", "false", "0", "no"):
        return None
    if not text:
        return "127.0.0.1", list(DEFAULT_PORTS)
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, list(DEFAULT_PORTS)
    return host.strip("[]") or "127.0.0.1", [int(port)]


def system_resolver(path: str = "/etc/resolv.conf") -> str:
    """The host's first name server (``NUBES_DNS_FORWARD=system``), 127.0.0.53 when unknown."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    return parts[1] if ":" not in parts[1] else f"[{parts[1]}]"
    except OSError:
        pass
    return "127.0.0.53"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        answer = self.server.answer(data, tcp=False, client=str(addr[0]))
        if isinstance(answer, bytes):
            assert self.transport is not None
            self.transport.sendto(answer, addr)
        elif answer is not None:
            self.server.forward_later(answer, lambda reply: self._send(reply, addr))

    def _send(self, reply: bytes, addr: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class DnsServer:
    def __init__(self, env: Environment, provider: Route53Provider) -> None:
        self.env = env
        self.provider = provider
        self.address: tuple[str, int] | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._resolver: Resolver | None = None
        self._view: View | None = None
        self._view_generation = -1
        self._built: dict[str, tuple[int, ZoneData]] = {}
        """Zone id -> (provider generation when built, the zone as built)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cache: dict[tuple[bytes, bool, tuple[str, str] | None], _Kept] = {}
        self._logging: dict[str, tuple[str, str]] = {}
        """Zone id -> (account, log group) of the zones whose queries are logged."""
        self._log_lines: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._stamp: tuple[int, int, int] = (-1, -1, -1)

    # -- sockets ----------------------------------------------------------------------------

    async def start(self) -> None:
        wanted = parse_address(self.env.settings.dns_address)
        if wanted is None:
            return
        host, ports = wanted
        loop = asyncio.get_running_loop()
        errors = []
        for port in ports:
            try:
                await self._bind(loop, host, port)
                break
            except OSError as exc:
                errors.append(f"{host}:{port}: {exc.strerror or exc}")
        else:
            log.warning("DNS server not started (%s)", "; ".join(errors))

    async def _bind(self, loop: asyncio.AbstractEventLoop, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for _ in range(5 if port == 0 else 1):
            transport, _protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(host, port), family=family
            )
            bound = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, host, bound, family=family, reuse_address=True
                )
            except OSError:
                transport.close()
                if port == 0:
                    continue  # the TCP twin of the free UDP port was taken: try another
                raise
            self._udp = transport
            self.address = (host, bound)
            return
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self.flush_logs()
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()
        self._udp = self._tcp = None
        self.address = None

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "-"
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                wire = await reader.readexactly(size)
                answer = self.answer(wire, tcp=True, client=client)
                if answer is None:
                    break
                if not isinstance(answer, bytes):
                    answer = await self.forward(answer)
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    # -- answers ----------------------------------------------------------------------------

    def resolver(self) -> Resolver:
        if self._resolver is None:
            from nubes.runtime.dns.resolver import Resolver

            health = self.provider.health
            self._resolver = Resolver(
                self.view, health.healthy, self.env.names, self.env.settings.region, health.volatile
            )
        return self._resolver

    def view(self) -> View:
        """The zones as stored, rebuilt after Route 53 changed them."""
        if self._view is None or self._view_generation != self.provider.generation:
            from nubes.runtime.dns.resolver import View, build_zone

            provider, model = self.provider, self.provider.model
            zones = model.zones()
            kept = self._built
            self._built = {}
            for zone in zones:
                built_at, data = kept.get(zone.id, (-1, None))
                changed = max(provider.zone_changed_at.get(zone.id, 0), provider.all_changed_at)
                if data is None or changed > built_at:
                    data = build_zone(zone, model.rrsets(zone.id))
                    built_at = provider.generation
                self._built[zone.id] = (built_at, data)
            built = [self._built[z.id][1] for z in zones]
            self._logging = {
                row["zone_id"]: (row["account"], row["group_name"])
                for row in model.query_loggings(None)
            }
            view = View(built, model.cidr_blocks())
            for zone, data in zip(zones, built, strict=True):
                for vpc in zone.vpcs:
                    view.add_vpc(data, vpc)
            self._view, self._view_generation = view, self.provider.generation
        return self._view

    def answer(
        self, wire: bytes, tcp: bool, vpc: tuple[str, str] | None = None, client: str = "-"
    ) -> Any:
        """Bytes to send back; None to stay silent; or the parsed query to forward.

        Answers that the same query would get again are kept (without their 2-byte id) until
        zones, nubes' names or a health status change: a repeated query costs a lookup."""
        stamp = (
            self.provider.generation,
            self.provider.health.generation,
            self.env.names.generation,
        )
        if stamp != self._stamp or len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
            self._stamp = stamp
        key = (wire[2:], tcp, vpc)
        kept = self._cache.get(key)
        if kept is not None:
            if kept.logged is not None:
                self._log_query(kept.logged, tcp, client)
            if kept.weights is None:
                return wire[:2] + kept.answers[0]
            return wire[:2] + random.choices(kept.answers, cum_weights=kept.weights)[0]
        resolver = self.resolver()
        try:
            answer, query = resolver.respond(wire, tcp=tcp, vpc=vpc, client=client)
            logged = None
            if answer is not None and query is not None:
                logged = self._loggable(resolver.last_zone, query, answer)
                if logged is not None:
                    self._log_query(logged, tcp, client)
            if answer is not None and query is not None and resolver.repeatable:
                keep = self._keep(resolver, answer, wire, tcp, vpc, logged)
                if keep is not None:
                    self._cache[key] = keep
        except Exception:
            log.exception("DNS query failed")
            return None
        if answer is not None or query is None:
            return answer
        if self.env.settings.dns_forward:
            return query
        return self.resolver().refuse(query)

    def _keep(
        self,
        resolver: Resolver,
        answer: bytes,
        wire: bytes,
        tcp: bool,
        vpc: Any,
        logged: tuple[str, str] | None,
    ) -> _Kept | None:
        """What to keep of an answer: its bytes, or for one weighted pick every possible answer
        with the cumulative weights to draw among them (answers of several picks: nothing)."""
        if not resolver.picks:
            return _Kept([answer[2:]], None, logged)
        if len(resolver.picks) > 1:
            return None
        sets_id, pool, weights = resolver.picks[0]
        rendered = []
        try:
            for choice in pool:
                resolver.forced = {sets_id: choice}
                alternative, _ = resolver.respond(wire, tcp=tcp, vpc=vpc)
                assert alternative is not None
                rendered.append(alternative[2:])
        finally:
            resolver.forced = {}
        return _Kept(rendered, list(itertools.accumulate(weights)), logged)

    # -- query logging ----------------------------------------------------------------------

    def _loggable(self, zone_id: str | None, query: Any, answer: bytes) -> tuple[str, str] | None:
        """(zone id, what the log line says of the query) when the zone logs its queries."""
        if zone_id is None or zone_id not in self._logging:
            return None
        import dns.edns
        import dns.rcode
        import dns.rdatatype

        question = query.question[0]
        subnet = next(
            (f"{o.address}/{o.srclen}" for o in query.options if isinstance(o, dns.edns.ECSOption)),
            "-",
        )
        rcode = dns.rcode.to_text(dns.rcode.Rcode(answer[3] & 0x0F))
        name = question.name.to_text(omit_final_dot=True)
        return zone_id, f"{name} {dns.rdatatype.to_text(question.rdtype)} {rcode}|{subnet}"

    def _log_query(self, logged: tuple[str, str], tcp: bool, client: str) -> None:
        """One line of Route 53's query log format, sent to the zone's log group in batches."""
        zone_id, said = logged
        target = self._logging.get(zone_id)
        if target is None:
            return
        question, subnet = said.rsplit("|", 1)
        now = clock.now()
        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        )
        line = (
            f"1.0 {stamp} {zone_id} {question} {'TCP' if tcp else 'UDP'} {EDGE} {client} {subnet}"
        )
        account, group = target
        self._log_lines.setdefault((account, group, f"{zone_id}/{EDGE}"), []).append(
            (int(now * 1000), line)
        )
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(LOG_FLUSH_SECONDS, self.flush_logs)

    def flush_logs(self) -> None:
        """Hand the query log lines gathered so far to CloudWatch Logs."""
        self._flush_handle = None
        lines, self._log_lines = self._log_lines, {}
        if not lines:
            return
        try:
            logs = self.env.providers.get("logs")
            with self.env.state.store.transaction():
                for (account, group, stream), events in lines.items():
                    logs.deliver(account, LOGS_REGION, group, stream, events)  # type: ignore[attr-defined]
        except Exception:
            log.exception("DNS query logs were not delivered")

    def answer_for_vpc(self, wire: bytes, vpc_id: str, region: str) -> bytes | None:
        """An answer as the VPC's ``.2`` resolver gives it: the VPC's private hosted zones, then
        public zones and nubes' names (names nubes does not know are refused)."""
        answer = self.answer(wire, tcp=False, vpc=(vpc_id, region))
        if answer is None or isinstance(answer, bytes):
            return answer
        return self.resolver().refuse(answer)

    def forward_later(self, query: Any, send: Any) -> None:
        task = asyncio.ensure_future(self.forward(query))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: None if t.cancelled() else send(t.result()))

    async def forward(self, query: Any) -> bytes:
        """Ask the configured upstream resolver; SERVFAIL when it does not answer."""
        import dns.asyncquery
        import dns.exception
        import dns.message
        import dns.rcode

        upstream = self.env.settings.dns_forward
        if upstream == "system":
            upstream = system_resolver()
        host, sep, port = upstream.rpartition(":")
        if not sep or not port.isdigit() or host.endswith(":"):
            host, port = upstream, "53"
        host = host.strip("[]")
        try:
            reply = await dns.asyncquery.udp(query, host, timeout=FORWARD_TIMEOUT, port=int(port))
            return reply.to_wire()
        except (dns.exception.DNSException, OSError):
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.SERVFAIL)
            return failed.to_wire()

    # -- what Route 53 asks -----------------------------------------------------------------

    def addresses(self, name: str) -> list[str]:
        return self.resolver().addresses(name)

    def test_answer(
        self,
        zone_id: str,
        name: str,
        rtype: str,
        resolver_ip: str | None,
        subnet_ip: str | None,
        subnet_mask: str | None,
    ) -> tuple[str, list[str]]:
        """TestDNSAnswer: the response code and the values the zone answers with."""
        import ipaddress

        import dns.name
        import dns.rcode
        import dns.rdatatype

        from nubes.runtime.dns.resolver import Where

        resolver = self.resolver()
        zone = self.view().by_id[zone_id]
        subnet = None
        if subnet_ip:
            subnet = ipaddress.ip_network(f"{subnet_ip}/{subnet_mask or 24}", strict=False)
        where = Where(self.env.settings.region, subnet, client=resolver_ip)
        qname = dns.name.from_text(name)
        outcome = resolver.in_zone(zone, qname, dns.rdatatype.from_text(rtype), where)
        data = [rdata.to_text() for rrset in outcome.answer for rdata in rrset]
        return dns.rcode.to_text(outcome.rcode), data
