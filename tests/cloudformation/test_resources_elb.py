"""AWS::ElasticLoadBalancing::LoadBalancer (classic): a stack makes one with a listener, a health
check and attributes; an update adds a listener and changes the check in place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.cloudformation.conftest import outputs, reasons, settle


def _template(subnets: list[str], ports: list[int], interval: str) -> str:
    return json.dumps(
        {
            "Resources": {
                "Classic": {
                    "Type": "AWS::ElasticLoadBalancing::LoadBalancer",
                    "Properties": {
                        "Subnets": subnets,
                        "Listeners": [
                            {"LoadBalancerPort": str(p), "InstancePort": "8080", "Protocol": "HTTP"}
                            for p in ports
                        ],
                        "HealthCheck": {
                            "Target": "HTTP:8080/health",
                            "Interval": interval,
                            "Timeout": "5",
                            "HealthyThreshold": "3",
                            "UnhealthyThreshold": "5",
                        },
                        "CrossZone": True,
                        "ConnectionDrainingPolicy": {"Enabled": True, "Timeout": "60"},
                        "Tags": [{"Key": "team", "Value": "web"}],
                    },
                }
            },
            "Outputs": {
                "Name": {"Value": {"Ref": "Classic"}},
                "DNSName": {"Value": {"Fn::GetAtt": ["Classic", "DNSName"]}},
            },
        }
    )


def test_classic_load_balancer_stack(
    cfn: Any, client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    elb = client("elb")
    found = client("ec2").describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    subnets = [s["SubnetId"] for s in found["Subnets"][:2]]
    name = unique("classic")
    cfn.create_stack(StackName=name, TemplateBody=_template(subnets, [80], "30"))
    stack = settle(cfn, name)
    assert stack["StackStatus"] == "CREATE_COMPLETE", reasons(cfn, name)
    out = outputs(stack)
    lb = elb.describe_load_balancers(LoadBalancerNames=[out["Name"]])
    described = lb["LoadBalancerDescriptions"][0]
    assert described["DNSName"] == out["DNSName"]
    assert [x["Listener"]["LoadBalancerPort"] for x in described["ListenerDescriptions"]] == [80]
    assert described["HealthCheck"]["Target"] == "HTTP:8080/health"
    attributes = elb.describe_load_balancer_attributes(LoadBalancerName=out["Name"])
    assert attributes["LoadBalancerAttributes"]["CrossZoneLoadBalancing"] == {"Enabled": True}
    assert attributes["LoadBalancerAttributes"]["ConnectionDraining"] == {
        "Enabled": True,
        "Timeout": 60,
    }
    tags = elb.describe_tags(LoadBalancerNames=[out["Name"]])["TagDescriptions"][0]["Tags"]
    assert {"Key": "team", "Value": "web"} in tags

    cfn.update_stack(StackName=name, TemplateBody=_template(subnets, [80, 81], "10"))
    updated = settle(cfn, name)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", reasons(cfn, name)
    assert outputs(updated)["Name"] == out["Name"]
    described = elb.describe_load_balancers(LoadBalancerNames=[out["Name"]])[
        "LoadBalancerDescriptions"
    ][0]
    ports = sorted(x["Listener"]["LoadBalancerPort"] for x in described["ListenerDescriptions"])
    assert ports == [80, 81]
    assert described["HealthCheck"]["Interval"] == 10

    cfn.delete_stack(StackName=name)
    assert settle(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    names = [
        d["LoadBalancerName"] for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]
    ]
    assert out["Name"] not in names
