"""CloudWatch Logs vended-log deliveries (PutDeliverySource, PutDeliveryDestination,
CreateDelivery and the rest), from the API reference and the user guide's "Logging that
requires additional permissions [V2]": sources name a resource and one of its log types,
destinations a log group or bucket of the same account, a delivery pairs one of each, and
nothing in use can be deleted."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"


def new_account() -> str:
    return f"{random.randrange(10**11, 10**12)}"


@pytest.fixture
def account() -> str:
    return new_account()


@pytest.fixture
def logs(client: Callable[..., Any], account: str) -> Any:
    return client("logs", aws_access_key_id=account)


@pytest.fixture
def bus(client: Callable[..., Any], account: str, unique: Callable[[str], str]) -> str:
    events = client("events", aws_access_key_id=account)
    return str(events.create_event_bus(Name=unique("bus"))["EventBusArn"])


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def group_destination(logs: Any, name: str, group: str) -> dict[str, Any]:
    logs.create_log_group(logGroupName=group)
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    return dict(
        logs.put_delivery_destination(
            name=name, deliveryDestinationConfiguration={"destinationResourceArn": arn}
        )["deliveryDestination"]
    )


def test_source_destination_delivery_lifecycle(
    logs: Any, account: str, bus: str, unique: Callable[[str], str]
) -> None:
    source = logs.put_delivery_source(
        name="bus-errors", resourceArn=bus, logType="ERROR_LOGS", tags={"team": "a"}
    )["deliverySource"]
    assert source == {
        "name": "bus-errors",
        "arn": f"arn:aws:logs:{REGION}:{account}:delivery-source:bus-errors",
        "resourceArns": [bus],
        "service": "events",
        "logType": "ERROR_LOGS",
        "tags": {"team": "a"},
    }
    assert logs.get_delivery_source(name="bus-errors")["deliverySource"] == source
    destination = group_destination(logs, "to-group", "/vended/" + unique("g"))
    assert destination["deliveryDestinationType"] == "CWL"
    assert destination["outputFormat"] == "json"
    assert destination["arn"].endswith(f":{account}:delivery-destination:to-group")
    delivery = logs.create_delivery(
        deliverySourceName="bus-errors", deliveryDestinationArn=destination["arn"]
    )["delivery"]
    assert delivery["deliverySourceName"] == "bus-errors"
    assert delivery["deliveryDestinationArn"] == destination["arn"]
    assert delivery["deliveryDestinationType"] == "CWL"
    assert delivery["arn"] == f"arn:aws:logs:{REGION}:{account}:delivery:{delivery['id']}"
    assert "resource_arn" in delivery["recordFields"]
    assert logs.get_delivery(id=delivery["id"])["delivery"] == delivery
    assert [d["id"] for d in logs.describe_deliveries()["deliveries"]] == [delivery["id"]]
    with pytest.raises(ClientError) as exc:
        logs.create_delivery(
            deliverySourceName="bus-errors", deliveryDestinationArn=destination["arn"]
        )
    assert code(exc) == "ConflictException"
    # Neither end of a delivery can go while the delivery exists.
    with pytest.raises(ClientError) as exc:
        logs.delete_delivery_source(name="bus-errors")
    assert code(exc) == "ConflictException"
    with pytest.raises(ClientError) as exc:
        logs.delete_delivery_destination(name="to-group")
    assert code(exc) == "ConflictException"
    logs.update_delivery_configuration(
        id=delivery["id"],
        recordFields=[
            "resource_arn",
            "message_timestamp_ms",
            "message_type",
            "log_level",
            "event_id",
        ],
    )
    updated = logs.get_delivery(id=delivery["id"])["delivery"]
    assert updated["recordFields"][-1] == "event_id"
    logs.delete_delivery(id=delivery["id"])
    with pytest.raises(ClientError) as exc:
        logs.get_delivery(id=delivery["id"])
    assert code(exc) == "ResourceNotFoundException"
    logs.delete_delivery_source(name="bus-errors")
    logs.delete_delivery_destination(name="to-group")
    assert logs.describe_delivery_sources()["deliverySources"] == []
    assert logs.describe_delivery_destinations()["deliveryDestinations"] == []
    with pytest.raises(ClientError) as exc:
        logs.get_delivery_source(name="bus-errors")
    assert code(exc) == "ResourceNotFoundException"


def test_sources_refuse_unknown_resources_and_log_types(logs: Any, account: str, bus: str) -> None:
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_source(name="s", resourceArn=bus, logType="ACCESS_LOGS")
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_source(
            name="s", resourceArn=f"arn:aws:sqs:{REGION}:{account}:queue", logType="ERROR_LOGS"
        )
    assert code(exc) == "ValidationException"
    missing_bus = f"arn:aws:events:{REGION}:{account}:event-bus/no-such-bus"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_source(name="s", resourceArn=missing_bus, logType="ERROR_LOGS")
    assert code(exc) == "ResourceNotFoundException"
    missing_nlb = f"arn:aws:elasticloadbalancing:{REGION}:{account}:loadbalancer/net/nlb/0123"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_source(name="s", resourceArn=missing_nlb, logType="NLB_ACCESS_LOGS")
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_source(
            name="s",
            resourceArn=bus,
            logType="INFO_LOGS",
            deliverySourceConfiguration={"samplingRate": "50"},
        )
    assert code(exc) == "ValidationException"
    assert logs.describe_delivery_sources()["deliverySources"] == []


def test_destinations_log_group_bucket_and_refusals(
    client: Callable[..., Any], logs: Any, account: str, unique: Callable[[str], str]
) -> None:
    s3 = client("s3", aws_access_key_id=account)
    bucket = unique("vended")
    s3.create_bucket(Bucket=bucket)
    to_bucket = logs.put_delivery_destination(
        name="to-bucket",
        outputFormat="parquet",
        deliveryDestinationConfiguration={"destinationResourceArn": f"arn:aws:s3:::{bucket}"},
    )["deliveryDestination"]
    assert to_bucket["deliveryDestinationType"] == "S3"
    assert to_bucket["outputFormat"] == "parquet"
    firehose = f"arn:aws:firehose:{REGION}:{account}:deliverystream/stream"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_destination(
            name="to-firehose",
            deliveryDestinationConfiguration={"destinationResourceArn": firehose},
        )
    assert code(exc) == "ResourceNotFoundException"
    assert "Firehose" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_destination(
            name="wrong-type",
            deliveryDestinationType="CWL",
            deliveryDestinationConfiguration={"destinationResourceArn": f"arn:aws:s3:::{bucket}"},
        )
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_destination(
            name="missing-bucket",
            deliveryDestinationConfiguration={
                "destinationResourceArn": f"arn:aws:s3:::{unique('missing')}"
            },
        )
    assert code(exc) == "ResourceNotFoundException"
    missing_group = f"arn:aws:logs:{REGION}:{account}:log-group:{unique('missing')}"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_destination(
            name="missing-group",
            deliveryDestinationConfiguration={"destinationResourceArn": missing_group},
        )
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_destination(
            name="parquet-group",
            outputFormat="parquet",
            deliveryDestinationConfiguration={"destinationResourceArn": missing_group},
        )
    assert code(exc) == "ValidationException"
    names = [d["name"] for d in logs.describe_delivery_destinations()["deliveryDestinations"]]
    assert names == ["to-bucket"]


def test_delivery_configuration_checked_against_template(
    client: Callable[..., Any], logs: Any, account: str, bus: str, unique: Callable[[str], str]
) -> None:
    s3 = client("s3", aws_access_key_id=account)
    bucket = unique("vended")
    s3.create_bucket(Bucket=bucket)
    logs.put_delivery_source(name="src", resourceArn=bus, logType="INFO_LOGS")
    plain = logs.put_delivery_destination(
        name="plain-bucket",
        outputFormat="plain",
        deliveryDestinationConfiguration={"destinationResourceArn": f"arn:aws:s3:::{bucket}"},
    )["deliveryDestination"]
    with pytest.raises(ClientError) as exc:
        logs.create_delivery(
            deliverySourceName="src",
            deliveryDestinationArn=plain["arn"],
            recordFields=["resource_arn", "not_a_field"],
        )
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        logs.create_delivery(
            deliverySourceName="src",
            deliveryDestinationArn=plain["arn"],
            recordFields=["event_id"],
        )
    assert code(exc) == "ValidationException"
    assert "mandatory" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        logs.create_delivery(
            deliverySourceName="src",
            deliveryDestinationArn=plain["arn"],
            s3DeliveryConfiguration={"suffixPath": "logs/{nonsense}"},
        )
    assert code(exc) == "ValidationException"
    delivery = logs.create_delivery(
        deliverySourceName="src",
        deliveryDestinationArn=plain["arn"],
        fieldDelimiter="|",
        s3DeliveryConfiguration={
            "suffixPath": "logs/{yyyy}/{MM}",
            "enableHiveCompatiblePath": True,
        },
        tags={"k": "v"},
    )["delivery"]
    assert delivery["fieldDelimiter"] == "|"
    assert delivery["s3DeliveryConfiguration"] == {
        "suffixPath": "logs/{yyyy}/{MM}",
        "enableHiveCompatiblePath": True,
    }
    assert delivery["tags"] == {"k": "v"}
    assert logs.list_tags_for_resource(resourceArn=delivery["arn"])["tags"] == {"k": "v"}
    with pytest.raises(ClientError) as exc:
        logs.create_delivery(
            deliverySourceName="no-such-source", deliveryDestinationArn=plain["arn"]
        )
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        logs.update_delivery_configuration(id="nosuchdelivery")
    assert code(exc) == "ResourceNotFoundException"
    # The destination of a delivery keeps its target and format.
    with pytest.raises(ClientError) as exc:
        logs.put_delivery_destination(
            name="plain-bucket",
            outputFormat="json",
            deliveryDestinationConfiguration={"destinationResourceArn": f"arn:aws:s3:::{bucket}"},
        )
    assert code(exc) == "ConflictException"


def test_destination_policy_and_cross_account_delivery(
    client: Callable[..., Any], logs: Any, account: str, bus: str, unique: Callable[[str], str]
) -> None:
    owner = new_account()
    owner_logs = client("logs", aws_access_key_id=owner)
    owner_s3 = client("s3", aws_access_key_id=owner)
    bucket = unique("central")
    owner_s3.create_bucket(Bucket=bucket)
    destination = owner_logs.put_delivery_destination(
        name="central",
        deliveryDestinationConfiguration={"destinationResourceArn": f"arn:aws:s3:::{bucket}"},
    )["deliveryDestination"]
    assert (
        owner_logs.get_delivery_destination_policy(deliveryDestinationName="central")["policy"]
        == {}
    )
    logs.put_delivery_source(name="src", resourceArn=bus, logType="TRACE_LOGS")
    with pytest.raises(ClientError) as exc:
        logs.create_delivery(deliverySourceName="src", deliveryDestinationArn=destination["arn"])
    assert code(exc) == "AccessDeniedException"
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowLogDeliveryActions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "logs:CreateDelivery",
                    "Resource": [
                        destination["arn"],
                        f"arn:aws:logs:{REGION}:{account}:delivery-source:*",
                        f"arn:aws:logs:{REGION}:{owner}:delivery:*",
                    ],
                }
            ],
        }
    )
    put = owner_logs.put_delivery_destination_policy(
        deliveryDestinationName="central", deliveryDestinationPolicy=policy
    )
    assert put["policy"] == {"deliveryDestinationPolicy": policy}
    got = owner_logs.get_delivery_destination_policy(deliveryDestinationName="central")
    assert got["policy"]["deliveryDestinationPolicy"] == policy
    delivery = logs.create_delivery(
        deliverySourceName="src", deliveryDestinationArn=destination["arn"]
    )["delivery"]
    assert delivery["deliveryDestinationType"] == "S3"
    # Another account's delivery keeps the destination in use.
    with pytest.raises(ClientError) as exc:
        owner_logs.delete_delivery_destination(name="central")
    assert code(exc) == "ConflictException"
    logs.delete_delivery(id=delivery["id"])
    owner_logs.delete_delivery_destination_policy(deliveryDestinationName="central")
    with pytest.raises(ClientError) as exc:
        owner_logs.delete_delivery_destination_policy(deliveryDestinationName="central")
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        owner_logs.put_delivery_destination_policy(
            deliveryDestinationName="central", deliveryDestinationPolicy="{not json"
        )
    assert code(exc) == "ValidationException"
    owner_logs.delete_delivery_destination(name="central")


def test_configuration_templates_and_paging(logs: Any, bus: str) -> None:
    templates = logs.describe_configuration_templates(service="events")["configurationTemplates"]
    assert {(t["logType"], t["deliveryDestinationType"]) for t in templates} == {
        (log_type, kind)
        for log_type in ("ERROR_LOGS", "INFO_LOGS", "TRACE_LOGS")
        for kind in ("CWL", "S3", "FH")
    }
    s3_info = logs.describe_configuration_templates(
        service="events", logTypes=["INFO_LOGS"], deliveryDestinationTypes=["S3"]
    )["configurationTemplates"]
    assert len(s3_info) == 1
    template = s3_info[0]
    assert template["resourceType"] == "event-bus"
    assert {"name": "resource_arn", "mandatory": True} in template["allowedFields"]
    assert "parquet" in template["allowedOutputFormats"]
    assert template["allowedActionForAllowVendedLogsDeliveryForResource"] == (
        "events:AllowVendedLogDeliveryForResource"
    )
    nlb = logs.describe_configuration_templates(resourceTypes=["loadbalancer"])[
        "configurationTemplates"
    ]
    assert {t["logType"] for t in nlb} == {"NLB_ACCESS_LOGS"}
    assert logs.describe_configuration_templates(service="sqs")["configurationTemplates"] == []
    for i in range(3):
        logs.put_delivery_source(name=f"src-{i}", resourceArn=bus, logType="ERROR_LOGS")
    first = logs.describe_delivery_sources(limit=2)
    assert [s["name"] for s in first["deliverySources"]] == ["src-0", "src-1"]
    rest = logs.describe_delivery_sources(limit=2, nextToken=first["nextToken"])
    assert [s["name"] for s in rest["deliverySources"]] == ["src-2"]
    assert "nextToken" not in rest


def test_delivery_apis_answer_validation_exception(client: Callable[..., Any]) -> None:
    # These operations list ValidationException among their errors (not
    # InvalidParameterException, which the older Logs operations use for model violations).
    raw = client("logs", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as exc:
        raw.put_delivery_source(name="bad name!", resourceArn="x", logType="ERROR_LOGS")
    assert code(exc) == "ValidationException"
    assert (
        "Member must satisfy regular expression pattern" in (exc.value.response["Error"]["Message"])
    )
    with pytest.raises(ClientError) as exc:
        raw.describe_deliveries(limit=51)
    assert code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        raw.create_log_group(logGroupName="bad*name")
    assert code(exc) == "InvalidParameterException"
