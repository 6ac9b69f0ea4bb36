"""Health checks that run: string matching, calculated, inverted, disabled, CloudWatch alarms,
their API (versions, in-use, idempotency) and the AWS/Route53 HealthCheckStatus metric."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.services import PROVIDERS
from tests.route53.helpers import (
    Site,
    advance_clock,
    change,
    closed_port,
    eventually,
    health_check,
    record,
    values,
)
from tests.server import free_port


def primary_answers(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any, check: str
) -> Callable[[], bool]:
    """Failover records with ``check`` on the primary: True while the primary is answered."""
    name = f"hc-{check[:8]}.{zone['Name']}"
    change(
        client,
        zone["Id"],
        ("CREATE", record(name, "A", "127.0.5.1", SetIdentifier="p", Failover="PRIMARY",
                          HealthCheckId=check)),
        ("CREATE", record(name, "A", "127.0.5.2", SetIdentifier="s", Failover="SECONDARY")),
    )  # fmt: skip
    return lambda: values(ask(name, "A")) == ["127.0.5.1"]


def last_status(client: Callable[..., Any], check: str) -> str:
    found = client("route53").get_health_check_status(HealthCheckId=check)
    observations = found["HealthCheckObservations"]
    return str(observations[0]["StatusReport"]["Status"]) if observations else ""


def test_string_match_looks_at_the_first_5120_bytes(
    client: Callable[..., Any], unique: Callable[[str], str], sites: Callable[..., Site]
) -> None:
    near = sites("127.0.0.1", free_port(), b"x" * 5000 + b"needle")
    far = sites("127.0.0.1", free_port(), b"x" * 5200 + b"needle")
    found = health_check(
        client, unique, Type="HTTP_STR_MATCH", IPAddress="127.0.0.1", Port=near.port,
        SearchString="needle", FailureThreshold=1,
    )  # fmt: skip
    missed = health_check(
        client, unique, Type="HTTP_STR_MATCH", IPAddress="127.0.0.1", Port=far.port,
        SearchString="needle", FailureThreshold=1,
    )  # fmt: skip
    assert eventually(lambda: last_status(client, found)[:8], "Success:") == "Success:"
    assert eventually(lambda: last_status(client, missed)[:8], "Failure:") == "Failure:"
    assert "Search string" in last_status(client, missed)


def test_calculated_inverted_and_disabled_checks(
    client: Callable[..., Any],
    zone: dict[str, Any],
    ask: Any,
    unique: Callable[[str], str],
    sites: Callable[..., Site],
) -> None:
    up = sites("127.0.0.1", free_port())
    good = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.1", Port=up.port, FailureThreshold=1
    )
    bad = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.1", Port=closed_port(), FailureThreshold=1
    )
    bad_is_down = primary_answers(client, zone, ask, bad)
    assert eventually(bad_is_down, False) is False
    one_of_two = health_check(
        client, unique, Type="CALCULATED", ChildHealthChecks=[good, bad], HealthThreshold=1
    )
    both = health_check(
        client, unique, Type="CALCULATED", ChildHealthChecks=[good, bad], HealthThreshold=2
    )
    inverted = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.1", Port=closed_port(), Inverted=True,
        FailureThreshold=1,
    )  # fmt: skip
    disabled = health_check(
        client, unique, Type="TCP", IPAddress="127.0.0.1", Port=closed_port(), Disabled=True
    )
    assert eventually(primary_answers(client, zone, ask, one_of_two), True) is True
    assert eventually(primary_answers(client, zone, ask, both), False) is False
    assert eventually(primary_answers(client, zone, ask, inverted), True) is True
    assert primary_answers(client, zone, ask, disabled)() is True
    with pytest.raises(ClientError) as caught:
        client("route53").get_health_check_status(HealthCheckId=one_of_two)
    assert caught.value.response["Error"]["Code"] == "InvalidInput"


def test_health_check_api(client: Callable[..., Any], zone: dict[str, Any], unique: Any) -> None:
    r53 = client("route53")
    reference = unique("hc")
    config = {"Type": "HTTP", "IPAddress": "127.0.0.1", "Port": 9, "ResourcePath": "/h"}
    made = r53.create_health_check(CallerReference=reference, HealthCheckConfig=config)
    check = made["HealthCheck"]
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert check["HealthCheckVersion"] == 1
    assert check["HealthCheckConfig"]["RequestInterval"] == 30
    assert check["HealthCheckConfig"]["FailureThreshold"] == 3
    # The same caller reference and settings: the same check; other settings: an error.
    again = r53.create_health_check(CallerReference=reference, HealthCheckConfig=config)
    assert again["HealthCheck"]["Id"] == check["Id"]
    with pytest.raises(ClientError) as caught:
        r53.create_health_check(CallerReference=reference, HealthCheckConfig={**config, "Port": 10})
    assert caught.value.response["Error"]["Code"] == "HealthCheckAlreadyExists"
    with pytest.raises(ClientError) as caught:
        r53.create_health_check(
            CallerReference=unique("hc"), HealthCheckConfig={"Type": "TCP", "IPAddress": "1.2.3.4"}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidInput"

    updated = r53.update_health_check(
        HealthCheckId=check["Id"], HealthCheckVersion=1, Port=8080, ResetElements=["ResourcePath"]
    )["HealthCheck"]
    assert updated["HealthCheckVersion"] == 2
    assert updated["HealthCheckConfig"]["Port"] == 8080
    assert "ResourcePath" not in updated["HealthCheckConfig"]
    with pytest.raises(ClientError) as caught:
        r53.update_health_check(HealthCheckId=check["Id"], HealthCheckVersion=1, Port=1)
    assert caught.value.response["Error"]["Code"] == "HealthCheckVersionMismatch"

    change(client, zone["Id"], ("CREATE", record(f"x.{zone['Name']}", "A", "127.0.0.1",
                                                 SetIdentifier="a", Weight=1,
                                                 HealthCheckId=check["Id"])))  # fmt: skip
    with pytest.raises(ClientError) as caught:
        r53.delete_health_check(HealthCheckId=check["Id"])
    assert caught.value.response["Error"]["Code"] == "HealthCheckInUse"
    assert r53.get_health_check_count()["HealthCheckCount"] >= 1
    listed = [c["Id"] for p in r53.get_paginator("list_health_checks").paginate()
              for c in p["HealthChecks"]]  # fmt: skip
    assert check["Id"] in listed
    with pytest.raises(ClientError) as caught:
        r53.get_health_check(HealthCheckId="00000000-0000-0000-0000-000000000000")
    assert caught.value.response["Error"]["Code"] == "NoSuchHealthCheck"
    with pytest.raises(ClientError) as caught:
        change(client, zone["Id"], ("CREATE", record(f"y.{zone['Name']}", "A", "127.0.0.1",
                                                     SetIdentifier="a", Weight=1,
                                                     HealthCheckId=unique("nope"))))  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "InvalidChangeBatch"


@pytest.mark.skipif("cloudwatch" not in PROVIDERS, reason="no cloudwatch provider in nubes")
def test_cloudwatch_alarm_health_check(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any, unique: Callable[[str], str]
) -> None:
    cw = client("cloudwatch")
    alarm = unique("alarm")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="Test",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    check = health_check(
        client,
        unique,
        Type="CLOUDWATCH_METRIC",
        AlarmIdentifier={"Region": "us-east-1", "Name": alarm},
        InsufficientDataHealthStatus="Healthy",
    )
    answered = primary_answers(client, zone, ask, check)
    assert answered() is True
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    assert answered() is False
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test")
    assert answered() is True
    shown = client("route53").get_health_check(HealthCheckId=check)["HealthCheck"]
    assert shown["CloudWatchAlarmConfiguration"]["MetricName"] == "Errors"


@pytest.mark.clock
@pytest.mark.skipif("cloudwatch" not in PROVIDERS, reason="no cloudwatch provider in nubes")
def test_health_check_status_metric(
    client: Callable[..., Any],
    endpoint: str,
    unique: Callable[[str], str],
    sites: Callable[..., Site],
) -> None:
    up = sites("127.0.0.1", free_port())
    check = health_check(client, unique, Type="TCP", IPAddress="127.0.0.1", Port=up.port)
    with urllib.request.urlopen(endpoint + "/_nubes/clock") as resp:
        start = json.load(resp)["now"]
    advance_clock(endpoint, 180)
    cw = client("cloudwatch")

    def datapoints() -> bool:
        found = cw.get_metric_statistics(
            Namespace="AWS/Route53",
            MetricName="HealthCheckStatus",
            Dimensions=[{"Name": "HealthCheckId", "Value": check}],
            StartTime=start - 600,
            EndTime=start + 3600,
            Period=60,
            Statistics=["Minimum"],
        )["Datapoints"]
        return bool(found) and all(p["Minimum"] == 1.0 for p in found)

    assert eventually(datapoints, True) is True
    names = {
        m["MetricName"]
        for m in cw.list_metrics(
            Namespace="AWS/Route53", Dimensions=[{"Name": "HealthCheckId", "Value": check}]
        )["Metrics"]
    }
    assert {"HealthCheckStatus", "HealthCheckPercentageHealthy"} <= names


def test_https_check_does_not_verify_the_certificate(
    client: Callable[..., Any], unique: Callable[[str], str], tmp_path: Any
) -> None:
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=self-signed.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    site = Site("127.0.0.1", free_port(), b"secure").start()
    try:
        assert site.server is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        site.server.socket = context.wrap_socket(site.server.socket, server_side=True)
        check = health_check(
            client, unique, Type="HTTPS_STR_MATCH", IPAddress="127.0.0.1", Port=site.port,
            FullyQualifiedDomainName="self-signed.test", SearchString="secure",
            FailureThreshold=1,
        )  # fmt: skip
        status = eventually(lambda: last_status(client, check)[:8], "Success:")
        assert status == "Success:", last_status(client, check)
    finally:
        site.stop()


def test_check_by_domain_name_resolves_through_the_hosted_zones(
    client: Callable[..., Any],
    zone: dict[str, Any],
    unique: Callable[[str], str],
    sites: Callable[..., Site],
) -> None:
    up = sites("127.0.0.95", free_port(), b"by name")
    change(client, zone["Id"], ("CREATE", record(f"svc.{zone['Name']}", "A", "127.0.0.95")))
    check = health_check(
        client, unique, Type="HTTP", FullyQualifiedDomainName=f"svc.{zone['Name']}",
        Port=up.port, FailureThreshold=1,
    )  # fmt: skip
    assert eventually(lambda: last_status(client, check)[:8], "Success:") == "Success:"
