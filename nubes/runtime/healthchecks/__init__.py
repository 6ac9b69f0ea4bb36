"""Route 53 health checks that run: real HTTP, HTTPS and TCP probes on the one clock.

Each endpoint check is probed every ``RequestInterval`` (10 or 30) seconds of clock time by one
checker (AWS uses checkers in several regions; nubes has one, on this machine, so loopback and
private addresses are accepted where AWS refuses them). A check changes status after
``FailureThreshold`` consecutive observations that disagree with its current status.

When the clock is advanced over several intervals, the checker probes once, at once, and counts
that one result for every interval boundary it missed (up to ``FailureThreshold``): what the
endpoint answers now is the best evidence of how it answered during the jump.

Calculated checks (children and ``HealthThreshold``) and CloudWatch-alarm checks (the alarm's
state, read through the cloudwatch provider when there is one) are evaluated when asked.
``Inverted`` flips a status; a ``Disabled`` check counts as healthy (before inversion), as on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.metrics import Datapoint

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.route53.models import HealthCheckRow

log = logging.getLogger("nubes.healthchecks")

ENDPOINT_TYPES = frozenset(("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"))
CONNECT_TIMEOUT = 4.0
"""AWS: a connection must be established within four seconds..."""
RESPONSE_TIMEOUT = 2.0
"""...and an HTTP endpoint must answer within two seconds after that."""
TCP_TIMEOUT = 10.0
MATCH_BYTES = 5120
"""HTTP_STR_MATCH looks for the search string in the first 5,120 bytes of the body."""
CHECKER_REGION = "us-east-1"
CHECKER_IP = "127.0.0.1"
FIREWALL_HINT = (
    "The endpoint or the internet connection is down, or requests are being blocked by your "
    "firewall. See https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/"
    "dns-failover-router-firewall-rules.html"
)
REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently",
           302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}  # fmt: skip


@dataclass
class Observation:
    ok: bool
    report: str
    at: float


@dataclass
class Status:
    healthy: bool = True
    streak: int = 0
    """Consecutive observations that disagree with ``healthy``."""
    due: float = 0.0
    last: Observation | None = None
    last_failure: Observation | None = None
    probing: bool = False
    version: int = 0
    """The check's version the status was measured under: an update starts counting afresh."""


class HealthChecker:
    def __init__(
        self,
        env: Environment,
        load: Callable[[], list[HealthCheckRow]],
        resolve: Callable[[str], list[str]],
    ) -> None:
        self.env = env
        self._load = load
        self._resolve = resolve
        self.checks: dict[str, HealthCheckRow] = {}
        self.statuses: dict[str, Status] = {}
        self.generation = 0
        """Bumped whenever a status changes (the DNS server's answers depend on it)."""
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._probes: set[asyncio.Task[None]] = set()

    # -- configuration ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the checks again (after a create, update or delete)."""
        self.checks = {c.id: c for c in self._load()}
        for check_id in list(self.statuses):
            if check_id not in self.checks:
                del self.statuses[check_id]
        for check_id, check in self.checks.items():
            status = self.statuses.setdefault(check_id, Status(due=clock.now()))
            if status.version != check.version:
                status.version, status.streak, status.due = check.version, 0, clock.now()
        self.generation += 1
        if self._wake is not None:
            self._wake.set()
        self._publish()

    def reset(self) -> None:
        self.statuses.clear()
        self.reload()

    # -- status -----------------------------------------------------------------------------

    def healthy(self, check_id: str, depth: int = 0) -> bool:
        """The check's status as Route 53 uses it for DNS answers (unknown checks: healthy)."""
        check = self.checks.get(check_id)
        if check is None:
            return True
        config = check.config
        if config.get("Disabled"):
            measured = True
        elif config["Type"] == "CALCULATED":
            children = config.get("ChildHealthChecks") or []
            healthy = sum(1 for c in children if depth < 2 and self.healthy(c, depth + 1))
            measured = healthy >= int(config.get("HealthThreshold", len(children)))
        elif config["Type"] == "CLOUDWATCH_METRIC":
            measured = self._alarm_health(check)
        elif config["Type"] in ENDPOINT_TYPES:
            measured = self.statuses.get(check_id, Status()).healthy
        else:
            measured = True
        return measured != bool(config.get("Inverted"))

    def volatile(self, check_id: str, depth: int = 0) -> bool:
        """Whether the status may change without this checker noticing (it follows a CloudWatch
        alarm, itself or through a child), so answers that depend on it are not kept."""
        check = self.checks.get(check_id)
        if check is None or depth > 2:
            return False
        if check.config["Type"] == "CLOUDWATCH_METRIC":
            return True
        children = check.config.get("ChildHealthChecks") or ()
        return any(self.volatile(c, depth + 1) for c in children)

    def _alarm_health(self, check: HealthCheckRow) -> bool:
        alarm = check.config.get("AlarmIdentifier") or {}
        status = self.statuses.setdefault(check.id, Status())
        state = alarm_state(self.env, check.account, alarm.get("Region", ""), alarm.get("Name", ""))
        if state == "ALARM":
            status.healthy = False
        elif state == "OK":
            status.healthy = True
        else:
            insufficient = check.config.get("InsufficientDataHealthStatus", "LastKnownStatus")
            if insufficient != "LastKnownStatus":
                return insufficient == "Healthy"
        return status.healthy

    def observations(self, check_id: str) -> list[Observation]:
        status = self.statuses.get(check_id)
        return [status.last] if status is not None and status.last is not None else []

    def last_failure(self, check_id: str) -> Observation | None:
        status = self.statuses.get(check_id)
        return None if status is None else status.last_failure

    def sample(self, boundary: float | None = None) -> list[Datapoint]:
        """The ``AWS/Route53`` gauges of every check: the metrics collector (each minute, for
        the minute that ended), and published at once when checks appear or change status
        (which also wakes CloudWatch up). ``HealthCheckStatus`` (1 healthy, 0 not) for all;
        ``HealthCheckPercentageHealthy`` for endpoint checks (one checker: 100 or 0);
        ``ChildHealthCheckHealthyCount`` for calculated ones."""
        points: list[Datapoint] = []
        when = None if boundary is not None else clock.now()
        for check in self.checks.values():
            healthy = self.healthy(check.id)
            gauges = [("HealthCheckStatus", 1.0 if healthy else 0.0, "None")]
            kind = check.config["Type"]
            if kind in ENDPOINT_TYPES:
                measured = self.statuses.get(check.id, Status()).healthy
                gauges.append(
                    ("HealthCheckPercentageHealthy", 100.0 if measured else 0.0, "Percent")
                )
            elif kind == "CALCULATED":
                children = check.config.get("ChildHealthChecks") or []
                count = float(sum(1 for c in children if self.healthy(c, 1)))
                gauges.append(("ChildHealthCheckHealthyCount", count, "Count"))
            points.extend(
                Datapoint(
                    account_id=check.account,
                    region="us-east-1",
                    namespace="AWS/Route53",
                    name=name,
                    value=value,
                    unit=unit,
                    dimensions={"HealthCheckId": check.id},
                    timestamp=when,
                )
                for name, value, unit in gauges
            )
        return points

    def _publish(self) -> None:
        if self._task is not None and self.checks:
            self.env.metrics.publish_many(self.sample())

    # -- running ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self.env.scheduler.on_advance(self._wake.set)
        self.env.metrics.collector(self.sample)
        self._task = asyncio.create_task(self._run(), name="nubes-healthchecks")
        self.reload()

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._probes) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self._probes.clear()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            now = clock.now()
            next_due = now + 3600.0
            for check_id, check in self.checks.items():
                config = check.config
                if config["Type"] not in ENDPOINT_TYPES or config.get("Disabled"):
                    continue
                status = self.statuses.setdefault(check_id, Status(due=now))
                interval = float(config.get("RequestInterval", 30))
                if status.due <= now and not status.probing:
                    missed = 1 + int((now - status.due) // interval)
                    status.due += missed * interval
                    status.probing = True
                    task = asyncio.create_task(self._probe(check, status, missed))
                    self._probes.add(task)
                    task.add_done_callback(self._probes.discard)
                next_due = min(next_due, max(status.due, now + 0.05))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(next_due - clock.now(), 0.05))

    async def _probe(self, check: HealthCheckRow, status: Status, missed: int) -> None:
        try:
            ok, report = await probe(check.config, self._resolve)
        except Exception as exc:  # a probe that breaks is a failed observation, not a crash
            log.exception("health check %s probe failed", check.id)
            ok, report = False, f"Failure: {exc}"
        finally:
            status.probing = False
        observation = Observation(ok, report, clock.now())
        status.last = observation
        if not ok:
            status.last_failure = observation
        threshold = int(check.config.get("FailureThreshold", 3))
        if ok == status.healthy:
            status.streak = 0
        else:
            status.streak += min(missed, threshold)
            if status.streak >= threshold:
                status.healthy = ok
                status.streak = 0
                self.generation += 1
                self._publish()
                log.info("health check %s is now %s", check.id, "healthy" if ok else "unhealthy")


def alarm_state(env: Environment, account: str, region: str, name: str) -> str | None:
    """The state of a CloudWatch alarm, or None when there is no such alarm (or no CloudWatch)."""
    from nubes.protocol.base import ServiceError

    try:
        found = env.providers.invoke(
            "cloudwatch", "DescribeAlarms", {"AlarmNames": [name]}, account, region
        )
    except (ServiceError, KeyError):
        return None
    alarms = found.get("MetricAlarms") or []
    return str(alarms[0]["StateValue"]) if alarms else None


def alarm_configuration(env: Environment, account: str, region: str, name: str) -> Any:
    """The ``CloudWatchAlarmConfiguration`` Route 53 shows for an alarm, when CloudWatch has it."""
    from nubes.protocol.base import ServiceError

    try:
        found = env.providers.invoke(
            "cloudwatch", "DescribeAlarms", {"AlarmNames": [name]}, account, region
        )
    except (ServiceError, KeyError):
        return None
    alarms = found.get("MetricAlarms") or []
    if not alarms:
        return None
    alarm = alarms[0]
    out = {k: alarm[k] for k in (
        "EvaluationPeriods", "Threshold", "ComparisonOperator", "Period", "MetricName",
        "Namespace", "Statistic",
    ) if k in alarm}  # fmt: skip
    out["Dimensions"] = alarm.get("Dimensions", [])
    return out


# -- probes -------------------------------------------------------------------------------------


async def probe(config: dict[str, Any], resolve: Callable[[str], list[str]]) -> tuple[bool, str]:
    """One observation of an endpoint: (success, the status report AWS would show)."""
    kind = config["Type"]
    host = config.get("IPAddress")
    fqdn = config.get("FullyQualifiedDomainName")
    if not host:
        addresses = resolve(fqdn or "")
        if not addresses:
            with contextlib.suppress(OSError):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    fqdn, None, type=socket.SOCK_STREAM
                )
                addresses = [str(info[4][0]) for info in infos]
        if not addresses:
            return False, f"Failure: DNS resolution failed: Could not resolve {fqdn}"
        host = addresses[0]
    tls = kind.startswith("HTTPS")
    port = int(config.get("Port") or (443 if tls else 80))
    timeout = TCP_TIMEOUT if kind == "TCP" else CONNECT_TIMEOUT
    context = None
    if tls:
        context = ssl.create_default_context()
        # AWS's checkers do not validate certificates.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    sni = fqdn if tls and config.get("EnableSNI", True) and fqdn else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=context, server_hostname=(sni or "") if tls else None
            ),
            timeout,
        )
    except TimeoutError:
        return False, f"Failure: Connection timed out. {FIREWALL_HINT}"
    except (OSError, ssl.SSLError) as exc:
        refused = isinstance(exc, ConnectionRefusedError)
        what = "Connection refused" if refused else f"Could not connect ({exc})"
        return False, f"Failure: {what}. {FIREWALL_HINT}"
    try:
        if kind == "TCP":
            return True, "Success: TCP connection established."
        return await _http(reader, writer, config, host, port)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _http(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    config: dict[str, Any],
    host: str,
    port: int,
) -> tuple[bool, str]:
    path = config.get("ResourcePath") or "/"
    if not path.startswith("/"):
        path = "/" + path
    name = config.get("FullyQualifiedDomainName") or host
    default_port = 443 if config["Type"].startswith("HTTPS") else 80
    host_header = name if port == default_port else f"{name}:{port}"
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: Amazon-Route53-Health-Check-"
        f"Service (ref nubes; report http://amzn.to/1vsZADi)\r\nAccept: */*\r\n"
        "Connection: close\r\n\r\n".encode("latin-1")
    )
    try:
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), RESPONSE_TIMEOUT)
        parts = status_line.decode("latin-1").split(" ", 2)
        code = int(parts[1])
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), RESPONSE_TIMEOUT)
        body = b""
        if config["Type"].endswith("STR_MATCH"):
            body = await asyncio.wait_for(_read_body(reader, head), RESPONSE_TIMEOUT)
    except TimeoutError:
        return False, f"Failure: The endpoint did not respond in time. Resolved IP: {host}"
    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
        return False, f"Failure: The endpoint's response was not valid HTTP. Resolved IP: {host}"
    reason = REASONS.get(code, "")
    described = f"HTTP Status Code {code}, {reason}".rstrip(", ")
    if not 200 <= code < 400:
        return False, f"Failure: {described}. Resolved IP: {host}"
    if config["Type"].endswith("STR_MATCH"):
        wanted = str(config.get("SearchString", "")).encode()
        if wanted not in body[:MATCH_BYTES]:
            return False, (
                "Failure: Search string not found in the first 5120 bytes of the response body. "
                f"Resolved IP: {host}"
            )
    return True, f"Success: {described}"


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """Up to the first 5,120 bytes of the body (chunked bodies de-chunked)."""
    chunked = b"transfer-encoding: chunked" in head.lower()
    body = b""
    while len(body) < MATCH_BYTES:
        if chunked:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readline()
        else:
            chunk = await reader.read(MATCH_BYTES - len(body))
            if not chunk:
                break
            body += chunk
    return body[:MATCH_BYTES]
