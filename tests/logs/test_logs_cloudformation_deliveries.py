"""AWS::Logs::DeliverySource, DeliveryDestination and Delivery through CloudFormation, as the
resource type references describe them (Ref is the name, or the delivery's id)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

TEMPLATE = {
    "Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "{bus}"}},
        "Group": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "{group}"}},
        "Source": {
            "Type": "AWS::Logs::DeliverySource",
            "Properties": {
                "Name": "{bus}-errors",
                "ResourceArn": {"Fn::GetAtt": ["Bus", "Arn"]},
                "LogType": "ERROR_LOGS",
            },
        },
        "Destination": {
            "Type": "AWS::Logs::DeliveryDestination",
            "Properties": {
                "Name": "{bus}-to-group",
                "DestinationResourceArn": {"Fn::GetAtt": ["Group", "Arn"]},
            },
        },
        "Delivery": {
            "Type": "AWS::Logs::Delivery",
            "Properties": {
                "DeliverySourceName": {"Ref": "Source"},
                "DeliveryDestinationArn": {"Fn::GetAtt": ["Destination", "Arn"]},
                "RecordFields": [
                    "resource_arn",
                    "message_timestamp_ms",
                    "message_type",
                    "log_level",
                    "error",
                ],
            },
        },
    },
    "Outputs": {
        "DeliveryId": {"Value": {"Ref": "Delivery"}},
        "DestinationType": {"Value": {"Fn::GetAtt": ["Destination", "DeliveryDestinationType"]}},
    },
}


def settle(cfn: Any, stack: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        found: dict[str, Any] = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not found["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_stack_creates_and_deletes_a_delivery(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    cfn, logs = client("cloudformation"), client("logs")
    bus, group, stack = unique("bus"), "/vended/" + unique("g"), unique("stack")
    body = json.dumps(TEMPLATE).replace("{bus}", bus).replace("{group}", group)
    cfn.create_stack(StackName=stack, TemplateBody=body)
    created = settle(cfn, stack)
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    out = {o["OutputKey"]: o["OutputValue"] for o in created["Outputs"]}
    assert out["DestinationType"] == "CWL"
    delivery = logs.get_delivery(id=out["DeliveryId"])["delivery"]
    assert delivery["deliverySourceName"] == f"{bus}-errors"
    assert delivery["recordFields"][-1] == "error"
    source = logs.get_delivery_source(name=f"{bus}-errors")["deliverySource"]
    assert source["logType"] == "ERROR_LOGS"
    cfn.delete_stack(StackName=stack)
    # A deleted stack is found by its id only.
    assert settle(cfn, created["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    ids = [d["id"] for d in logs.describe_deliveries()["deliveries"]]
    assert out["DeliveryId"] not in ids
    names = [s["name"] for s in logs.describe_delivery_sources()["deliverySources"]]
    assert f"{bus}-errors" not in names
