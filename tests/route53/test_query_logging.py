"""DNS query logging to CloudWatch Logs: the configuration's checks, and the lines the DNS
server writes for the queries it answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.route53.helpers import change, eventually, record


def test_queries_of_a_zone_are_logged(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any, unique: Callable[[str], str]
) -> None:
    r53, logs = client("route53"), client("logs")
    group = f"/aws/route53/{unique('q')}"
    logs.create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"

    def config() -> Any:
        return r53.create_query_logging_config(
            HostedZoneId=zone["Id"], CloudWatchLogsLogGroupArn=arn
        )

    with pytest.raises(ClientError) as caught:
        config()
    assert caught.value.response["Error"]["Code"] == "InsufficientCloudWatchLogsResourcePolicy"
    logs.put_resource_policy(
        policyName=unique("route53"),
        policyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "route53.amazonaws.com"},
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/route53/*",
                    }
                ],
            }
        ),
    )
    made = config()["QueryLoggingConfig"]
    assert made["HostedZoneId"] == zone["Id"].split("/")[-1]
    with pytest.raises(ClientError) as caught:
        config()
    assert caught.value.response["Error"]["Code"] == "QueryLoggingConfigAlreadyExists"
    assert r53.get_query_logging_config(Id=made["Id"])["QueryLoggingConfig"] == made
    listed = r53.list_query_logging_configs(HostedZoneId=zone["Id"])["QueryLoggingConfigs"]
    assert listed == [made]

    name = f"www.{zone['Name']}"
    change(client, zone["Id"], ("CREATE", record(name, "A", "127.0.0.1")))
    for _ in range(3):
        ask(name, "A")
    ask(f"nope.{zone['Name']}", "A", tcp=True)

    def lines() -> list[str]:
        found = logs.filter_log_events(logGroupName=group)["events"]
        return [e["message"] for e in found]

    got = eventually(lambda: len(lines()), 4)
    assert got == 4
    first = lines()[0].split(" ")
    zone_id = zone["Id"].split("/")[-1]
    assert first[0] == "1.0" and first[2:7] == [zone_id, name, "A", "NOERROR", "UDP"]
    assert first[8] == "127.0.0.1" and first[9] == "-"
    assert lines()[-1].split(" ")[3:7] == [f"nope.{zone['Name']}", "A", "NXDOMAIN", "TCP"]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"].split("/")[0] for s in streams] == [zone_id]

    r53.delete_query_logging_config(Id=made["Id"])
    with pytest.raises(ClientError) as caught:
        r53.get_query_logging_config(Id=made["Id"])
    assert caught.value.response["Error"]["Code"] == "NoSuchQueryLoggingConfig"


def test_log_group_must_exist(
    client: Callable[..., Any], zone: dict[str, Any], unique: Callable[[str], str]
) -> None:
    with pytest.raises(ClientError) as caught:
        client("route53").create_query_logging_config(
            HostedZoneId=zone["Id"],
            CloudWatchLogsLogGroupArn=(
                f"arn:aws:logs:us-east-1:000000000000:log-group:{unique('none')}"
            ),
        )
    assert caught.value.response["Error"]["Code"] == "NoSuchCloudWatchLogsLogGroup"
