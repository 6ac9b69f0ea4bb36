"""Traffic through application load balancers: local HTTP servers as IP targets, health checks
on the one clock (advanced, not waited for), rules, weights, stickiness, redirects, fixed
responses, the load balancer's own errors, draining."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import dns.message
import dns.query
import pytest

from tests.elbv2.conftest import Reply, Site, eventually, settle, states, target_group

pytestmark = pytest.mark.clock


def test_forwards_to_healthy_targets_with_forwarding_headers(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    a, b = sites("a"), sites("b")
    made = balancer([a, b])
    dns_name, tg = made["lb"]["DNSName"], made["tg"]["TargetGroupArn"]
    found = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert {d["TargetHealth"]["State"] for d in found} == {"initial"}
    # Before any target is healthy the load balancer has nowhere to send a request.
    assert through(dns_name, "/").status == 503
    settle(elb, tg, advance)
    replies = [through(dns_name, f"/hello?n={i}") for i in range(6)]
    assert all(r.status == 200 for r in replies)
    assert Counter(r.json()["site"] for r in replies) == {"a": 3, "b": 3}  # round robin
    seen = {k.lower(): v for k, v in replies[0].json()["headers"].items()}
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-port"] == "80"
    assert seen["x-amzn-trace-id"].startswith("Root=1-")
    assert seen["host"] == dns_name
    assert replies[0].json()["path"] == "/hello?n=0"


def test_unhealthy_targets_get_no_traffic_and_recover(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    a, b = sites("a"), sites("b")
    made = balancer([a, b])
    dns_name, tg = made["lb"]["DNSName"], made["tg"]["TargetGroupArn"]
    settle(elb, tg, advance)
    b.health = 500
    key = f"{b.address}:{b.port}"
    for _ in range(6):
        advance(5)
        if eventually(lambda: states(elb, tg)[key] == "unhealthy", timeout=2):
            break
    health = elb.describe_target_health(
        TargetGroupArn=tg, Targets=[{"Id": b.address, "Port": b.port}]
    )["TargetHealthDescriptions"][0]["TargetHealth"]
    assert health == {
        "State": "unhealthy",
        "Reason": "Target.ResponseCodeMismatch",
        "Description": "Health checks failed with these codes: [500]",
    }
    assert {through(dns_name, "/").json()["site"] for _ in range(6)} == {"a"}
    # Every target unhealthy: the load balancer fails open and routes to all of them.
    a.health = 500
    settle(elb, tg, advance, want="unhealthy")
    assert {through(dns_name, "/").json()["site"] for _ in range(6)} == {"a", "b"}
    a.health = b.health = 200
    settle(elb, tg, advance)


def test_a_target_that_is_gone_fails_its_checks(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
) -> None:
    elb = client("elbv2")
    a = sites("a")
    made = balancer([a])
    tg = made["tg"]["TargetGroupArn"]
    settle(elb, tg, advance)
    a.stop()
    settle(elb, tg, advance, want="unhealthy")
    health = elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]
    assert health["TargetHealth"]["Reason"] == "Target.FailedHealthChecks"


def test_rules_redirects_and_fixed_responses(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    network: dict[str, Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    default, api = sites("default"), sites("api")
    made = balancer([default])
    other = target_group(elb, network, unique, [api])
    listener, dns_name = made["listener"]["ListenerArn"], made["lb"]["DNSName"]
    forward_api = [{"Type": "forward", "TargetGroupArn": other["TargetGroupArn"]}]

    def rule(
        priority: int, conditions: list[dict[str, Any]], actions: list[dict[str, Any]]
    ) -> None:
        elb.create_rule(
            ListenerArn=listener, Priority=priority, Conditions=conditions, Actions=actions
        )

    rule(10, [{"Field": "path-pattern", "Values": ["/api/*"]}], forward_api)
    rule(
        20,
        [
            {"Field": "host-header", "Values": [dns_name.upper().replace("US-EAST-1", "us-*-1")]},
            {"Field": "path-pattern", "Values": ["/host-check"]},
        ],
        forward_api,
    )
    rule(
        30,
        [
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Beta", "Values": ["y*"]},
            },
            {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}},
        ],
        forward_api,
    )
    rule(
        40,
        [{"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}],
        forward_api,
    )
    rule(
        45,
        [{"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}],
        [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "403"}}],
    )
    rule(
        50,
        [{"Field": "path-pattern", "Values": ["/old/*"]}],
        [
            {
                "Type": "redirect",
                "RedirectConfig": {
                    "Protocol": "HTTPS",
                    "Port": "443",
                    "Path": "/new/#{path}",
                    "StatusCode": "HTTP_301",
                },
            }
        ],
    )
    rule(
        60,
        [{"Field": "path-pattern", "Values": ["/teapot"]}],
        [
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "418",
                    "ContentType": "application/json",
                    "MessageBody": '{"t":1}',
                },
            }
        ],
    )
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    settle(elb, other["TargetGroupArn"], advance)
    assert through(dns_name, "/api/users").json()["site"] == "api"
    assert through(dns_name, "/apix").json()["site"] == "default"
    assert through(dns_name, "/host-check").json()["site"] == "api"
    assert (
        through(dns_name, "/x", method="POST", headers={"X-Beta": "Yes"}, body=b"1").json()["site"]
        == "api"
    )
    assert through(dns_name, "/x", headers={"X-Beta": "yes"}).json()["site"] == "default"
    assert through(dns_name, "/x?a=1&v=2").json()["site"] == "api"
    assert through(dns_name, "/x?v=3").json()["site"] == "default"
    moved = through(dns_name, "/old/page?q=1")
    assert moved.status == 301
    assert moved.headers["Location"] == f"https://{dns_name}/new/old/page?q=1"
    teapot = through(dns_name, "/teapot")
    assert (teapot.status, teapot.body, teapot.headers["Content-Type"]) == (
        418,
        b'{"t":1}',
        "application/json",
    )
    assert teapot.headers["Server"] == "awselb/2.0"


def test_weighted_target_groups_and_group_stickiness(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    network: dict[str, Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    blue, green = sites("blue"), sites("green")
    made = balancer([blue])
    other = target_group(elb, network, unique, [green])
    listener, dns_name = made["listener"]["ListenerArn"], made["lb"]["DNSName"]

    def weights(b: int, g: int, sticky: bool = False) -> None:
        config: dict[str, Any] = {
            "TargetGroups": [
                {"TargetGroupArn": made["tg"]["TargetGroupArn"], "Weight": b},
                {"TargetGroupArn": other["TargetGroupArn"], "Weight": g},
            ]
        }
        if sticky:
            config["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": 600}
        elb.modify_listener(
            ListenerArn=listener, DefaultActions=[{"Type": "forward", "ForwardConfig": config}]
        )

    weights(0, 1)
    settle(elb, other["TargetGroupArn"], advance)
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    assert {through(dns_name).json()["site"] for _ in range(10)} == {"green"}
    weights(1, 1)
    assert {through(dns_name).json()["site"] for _ in range(40)} == {"blue", "green"}
    weights(1, 1, sticky=True)
    first = through(dns_name)
    cookie = first.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("AWSALBTG=")
    assert {through(dns_name, headers={"Cookie": cookie}).json()["site"] for _ in range(20)} == {
        first.json()["site"]
    }


def test_target_stickiness_with_load_balancer_and_application_cookies(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    made = balancer([sites("a"), sites("b"), sites("c")])
    tg, dns_name = made["tg"]["TargetGroupArn"], made["lb"]["DNSName"]
    settle(elb, tg, advance)
    elb.modify_target_group_attributes(
        TargetGroupArn=tg, Attributes=[{"Key": "stickiness.enabled", "Value": "true"}]
    )
    first = through(dns_name)
    cookies = first.headers.get_all("Set-Cookie", [])
    assert any(c.startswith("AWSALBCORS=") and "SameSite=None" in c for c in cookies)
    cookie = next(c for c in cookies if c.startswith("AWSALB=")).split(";")[0]
    assert {through(dns_name, headers={"Cookie": cookie}).json()["site"] for _ in range(10)} == {
        first.json()["site"]
    }
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[
            {"Key": "stickiness.type", "Value": "app_cookie"},
            {"Key": "stickiness.app_cookie.cookie_name", "Value": "session"},
        ],
    )
    assert "Set-Cookie" not in through(dns_name, "/plain").headers
    login = through(dns_name, "/login")
    app = next(
        c for c in login.headers.get_all("Set-Cookie", []) if c.startswith("AWSALBAPP-0=")
    ).split(";")[0]
    assert {through(dns_name, headers={"Cookie": app}).json()["site"] for _ in range(10)} == {
        login.json()["site"]
    }


def test_load_balancer_errors_502_and_504(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    a = sites("a")
    made = balancer([a])
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    dns_name = made["lb"]["DNSName"]
    bad = through(dns_name, "/close")
    assert bad.status == 502
    assert b"502 Bad Gateway" in bad.body
    assert through(dns_name, "/status/500").status == 500  # the target's own answer
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=made["lb"]["LoadBalancerArn"],
        Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "1"}],
    )
    slow = through(dns_name, "/slow")
    assert slow.status == 504
    a.release.set()


def test_deregistration_drains_in_flight_requests(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    a, b = sites("a"), sites("b")
    made = balancer([a, b])
    tg, dns_name = made["tg"]["TargetGroupArn"], made["lb"]["DNSName"]
    settle(elb, tg, advance)
    elb.modify_target_group_attributes(
        TargetGroupArn=tg,
        Attributes=[
            {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}
        ],
    )
    results: list[Reply] = []
    slow = threading.Thread(target=lambda: results.append(through(dns_name, "/slow")))
    slow.start()
    assert eventually(lambda: a.hits + b.hits == 1)
    busy = a if a.hits else b
    # Least outstanding requests: the next requests go to the idle target.
    assert {through(dns_name).json()["site"] for _ in range(4)} == {
        ({"a", "b"} - {busy.name}).pop()
    }
    elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": busy.address, "Port": busy.port}])
    key = f"{busy.address}:{busy.port}"
    assert states(elb, tg)[key] == "draining"
    health = elb.describe_target_health(
        TargetGroupArn=tg, Targets=[{"Id": busy.address, "Port": busy.port}]
    )["TargetHealthDescriptions"][0]["TargetHealth"]
    assert health["Reason"] == "Target.DeregistrationInProgress"
    busy.release.set()
    slow.join(30)
    assert results[0].status == 200
    # No request left in flight: the deregistration completes before the delay, as AWS says.
    assert eventually(lambda: key not in states(elb, tg))


def test_listener_bound_on_the_load_balancers_own_address(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    endpoint: str,
) -> None:
    from tests.route53.helpers import dns_port

    elb = client("elbv2")
    made = balancer([sites("a")])
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    dns_name = made["lb"]["DNSName"]
    query = dns.message.make_query(dns_name, "A")
    answer = dns.query.udp(query, "127.0.0.1", port=dns_port(endpoint), timeout=5)
    addresses = [rr.address for rrset in answer.answer for rr in rrset]
    assert len(addresses) == 1 and addresses[0].startswith("127.15.")
    port = 8089
    elb.create_listener(
        LoadBalancerArn=made["lb"]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": made["tg"]["TargetGroupArn"]}],
    )

    def fetch() -> dict[str, Any] | None:
        url = f"http://{addresses[0]}:{port}/direct"
        request = urllib.request.Request(url, headers={"X-Forwarded-For": "10.9.9.9"})
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return dict(json.loads(r.read()))
        except OSError:
            return None

    body = eventually(fetch)
    assert body is not None and body["site"] == "a"
    headers = {k.lower(): v for k, v in body["headers"].items()}
    # The client's own X-Forwarded-For is kept, its address appended.
    assert headers["x-forwarded-for"] == "10.9.9.9, 127.0.0.1"
    assert headers["x-forwarded-port"] == str(port)
    # Large and chunked bodies stream through the bound listener too.
    from tests.elbv2.conftest import BIG

    conn = http.client.HTTPConnection(addresses[0], port, timeout=10)
    conn.request("POST", "/upload", body=iter([b"z" * 100_000] * 5), encode_chunked=True)
    assert json.loads(conn.getresponse().read())["received"] == 500_000
    conn.request("GET", "/big")
    assert len(conn.getresponse().read()) == BIG
    conn.close()


def test_large_bodies_stream_both_ways(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    from tests.elbv2.conftest import BIG

    elb = client("elbv2")
    made = balancer([sites("a")])
    settle(elb, made["tg"]["TargetGroupArn"], advance)
    dns_name = made["lb"]["DNSName"]
    upload = b"y" * (2 * 1024 * 1024)
    sent = through(dns_name, "/upload", method="POST", body=upload)
    assert sent.status == 200 and sent.json()["received"] == len(upload)
    big = through(dns_name, "/big")
    assert big.status == 200 and big.body == b"x" * BIG
    # The connection the streamed answer came on is kept for the next request.
    assert through(dns_name, "/after").json()["path"] == "/after"


def test_slow_start_ramps_a_new_target_up(
    client: Callable[..., Any],
    sites: Callable[[str], Site],
    balancer: Callable[..., dict[str, Any]],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    elb = client("elbv2")
    old, new = sites("old"), sites("new")
    made = balancer([old])
    tg, dns_name = made["tg"]["TargetGroupArn"], made["lb"]["DNSName"]
    elb.modify_target_group_attributes(
        TargetGroupArn=tg, Attributes=[{"Key": "slow_start.duration_seconds", "Value": "600"}]
    )
    settle(elb, tg, advance)
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": new.address, "Port": new.port}])
    settle(elb, tg, advance)
    # Just healthy: the new target's share starts near nothing...
    assert {through(dns_name).json()["site"] for _ in range(10)} == {"old"}
    # ...and is a full one once the slow start is over.
    advance(600)
    assert {through(dns_name).json()["site"] for _ in range(10)} == {"old", "new"}
