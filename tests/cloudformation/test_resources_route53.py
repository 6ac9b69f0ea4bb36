"""Route 53's resource types: a stack makes a zone, records (alone and in a group, found by
zone name or id) and a health check; an update changes records in place; deleting the stack
removes them, each seen through Route 53's own API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.cloudformation.conftest import outputs, reasons, settle


def _template(zone: str, ttl: str, kind: str, value: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {
                    "Name": zone, "HostedZoneConfig": {"Comment": f"ttl {ttl}"},
                    "HostedZoneTags": [{"Key": "team", "Value": "dns"}]}},
                "Www": {"Type": "AWS::Route53::RecordSet", "DependsOn": "Zone", "Properties": {
                    "HostedZoneName": zone, "Name": f"www.{zone}", "Type": "A", "TTL": ttl,
                    "ResourceRecords": ["192.0.2.1", "192.0.2.2"]}},
                "Group": {"Type": "AWS::Route53::RecordSetGroup", "Properties": {
                    "HostedZoneId": {"Ref": "Zone"}, "RecordSets": [
                        {"Name": f"mail.{zone}", "Type": "MX", "TTL": "60",
                         "ResourceRecords": ["10 mx.example.com."]},
                        {"Name": f"info.{zone}", "Type": kind, "TTL": "60",
                         "ResourceRecords": [value]}]}},
                "Check": {"Type": "AWS::Route53::HealthCheck", "Properties": {
                    "HealthCheckConfig": {"Type": "TCP", "IPAddress": "127.0.0.1",
                                          "Port": "9", "Disabled": True,
                                          "FailureThreshold": ttl[:1]},
                    "HealthCheckTags": [{"Key": "Name", "Value": "probe"}]}},
            },
            "Outputs": {
                "Zone": {"Value": {"Ref": "Zone"}},
                "ZoneId": {"Value": {"Fn::GetAtt": ["Zone", "Id"]}},
                "Servers": {"Value": {"Fn::Join": [",", {"Fn::GetAtt": ["Zone", "NameServers"]}]}},
                "Www": {"Value": {"Ref": "Www"}},
                "Check": {"Value": {"Fn::GetAtt": ["Check", "HealthCheckId"]}},
            },
        }
    )  # fmt: skip


def _records(route53: Any, zone: str) -> dict[tuple[str, str], tuple[int, list[str]]]:
    found = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {
        (r["Name"], r["Type"]): (r.get("TTL", 0), [v["Value"] for v in r["ResourceRecords"]])
        for r in found
        if r["Type"] not in ("SOA", "NS")
    }


def test_zone_records_and_health_check_stack(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    route53 = client("route53")
    zone = f"{unique('zone')}.example.test."
    name = unique("dns")
    cfn.create_stack(StackName=name, TemplateBody=_template(zone, "300", "TXT", '"hello"'))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    assert out["Zone"] == out["ZoneId"] and not out["Zone"].startswith("/")
    hosted = route53.get_hosted_zone(Id=out["Zone"])
    assert hosted["HostedZone"]["Name"] == zone
    assert hosted["HostedZone"]["Config"]["Comment"] == "ttl 300"
    assert out["Servers"].split(",") == hosted["DelegationSet"]["NameServers"]
    tags = route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=out["Zone"])
    assert tags["ResourceTagSet"]["Tags"] == [{"Key": "team", "Value": "dns"}]
    assert out["Www"] == f"www.{zone}"
    assert _records(route53, out["Zone"]) == {
        (f"www.{zone}", "A"): (300, ["192.0.2.1", "192.0.2.2"]),
        (f"mail.{zone}", "MX"): (60, ["10 mx.example.com."]),
        (f"info.{zone}", "TXT"): (60, ['"hello"']),
    }
    check = route53.get_health_check(HealthCheckId=out["Check"])["HealthCheck"]
    config = check["HealthCheckConfig"]
    assert (config["Type"], config["Port"], config["FailureThreshold"]) == ("TCP", 9, 3)

    cfn.update_stack(StackName=name, TemplateBody=_template(zone, "600", "A", "192.0.2.9"))
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    assert outputs(updated)["Zone"] == out["Zone"]
    assert route53.get_hosted_zone(Id=out["Zone"])["HostedZone"]["Config"]["Comment"] == "ttl 600"
    assert _records(route53, out["Zone"]) == {
        (f"www.{zone}", "A"): (600, ["192.0.2.1", "192.0.2.2"]),
        (f"mail.{zone}", "MX"): (60, ["10 mx.example.com."]),
        (f"info.{zone}", "A"): (60, ["192.0.2.9"]),
    }
    check = route53.get_health_check(HealthCheckId=out["Check"])["HealthCheck"]
    assert check["HealthCheckConfig"]["FailureThreshold"] == 6

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE", reasons(
        cfn, stack["StackId"]
    )
    for call in (
        lambda: route53.get_hosted_zone(Id=out["Zone"]),
        lambda: route53.get_health_check(HealthCheckId=out["Check"]),
    ):
        try:
            call()
        except ClientError as err:
            assert err.response["Error"]["Code"] in ("NoSuchHostedZone", "NoSuchHealthCheck")
        else:
            raise AssertionError("still there after the stack's deletion")
