"""The ELBv2 API as AWS documents it: validation, errors, idempotency, paging, tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.elbv2.conftest import target_group


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_elbv2_and_classic_elb_are_told_apart_by_api_version(client: Callable[..., Any]) -> None:
    # Both sign as elasticloadbalancing; DescribeLoadBalancers exists in both APIs.
    assert "LoadBalancers" in client("elbv2").describe_load_balancers()
    with pytest.raises(ClientError) as exc:
        client("elbv2").describe_load_balancers(Names=["nope"])
    assert code(exc) == "LoadBalancerNotFound"


def test_create_load_balancer_validation(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name=unique("lb"), Subnets=network["subnets"][:1])
    assert code(exc) == "ValidationError"
    assert "two different Availability Zones" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name="x" * 33, Subnets=network["subnets"])
    assert code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name="-bad", Subnets=network["subnets"])
    assert code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name=unique("lb"), Subnets=["subnet-0123456789abcdef0"])
    assert code(exc) == "SubnetNotFound"
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(
            Name=unique("lb"), Subnets=network["subnets"], SecurityGroups=["sg-0123456789abcdef0"]
        )
    assert code(exc) == "InvalidSecurityGroup"


def test_create_load_balancer_is_idempotent_and_names_are_unique(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    name = unique("lb")
    first = elb.create_load_balancer(Name=name, Subnets=network["subnets"])["LoadBalancers"][0]
    again = elb.create_load_balancer(Name=name, Subnets=network["subnets"])["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == first["LoadBalancerArn"]
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(Name=name, Subnets=network["subnets"], Scheme="internal")
    assert code(exc) == "DuplicateLoadBalancer" + "Name"
    assert first["State"]["Code"] == "active"
    assert first["Type"] == "application"
    assert first["Scheme"] == "internet-facing"
    assert first["CanonicalHostedZoneId"] == "Z35SXDOTRQ7X7K"
    assert first["DNSName"].startswith(name + "-")
    assert first["LoadBalancerArn"].split(":")[5].startswith(f"loadbalancer/app/{name}/")
    assert len(first["SecurityGroups"]) == 1  # the VPC's default group
    assert {z["ZoneName"] for z in first["AvailabilityZones"]} == {"us-east-1a", "us-east-1b"}
    # The load balancer's interfaces are in its subnets, as AWS shows them.
    enis = client("ec2").describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": network["subnets"]}]
    )["NetworkInterfaces"]
    assert sum(1 for e in enis if e["Description"].startswith(f"ELB app/{name}/")) == 2
    internal = elb.create_load_balancer(
        Name=unique("lb"), Subnets=network["subnets"], Scheme="internal"
    )["LoadBalancers"][0]
    assert internal["DNSName"].startswith("internal-")


def test_attributes_and_deletion_protection(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    lb = elb.create_load_balancer(Name=unique("lb"), Subnets=network["subnets"])["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    }
    assert attrs["idle_timeout.timeout_seconds"] == "60"
    assert attrs["deletion_protection.enabled"] == "false"
    assert attrs["load_balancing.cross_zone.enabled"] == "true"
    with pytest.raises(ClientError) as exc:
        elb.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": "no.such.key", "Value": "1"}]
        )
    assert code(exc) == "InvalidConfigurationRequest"
    with pytest.raises(ClientError) as exc:
        elb.modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "0"}]
        )
    assert code(exc) == "InvalidConfigurationRequest"
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}]
    )
    with pytest.raises(ClientError) as exc:
        elb.delete_load_balancer(LoadBalancerArn=arn)
    assert code(exc) == "OperationNotPermitted"
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )
    elb.delete_load_balancer(LoadBalancerArn=arn)
    elb.delete_load_balancer(LoadBalancerArn=arn)  # gone already: no error, as AWS answers
    with pytest.raises(ClientError) as exc:
        elb.describe_load_balancers(LoadBalancerArns=[arn])
    assert code(exc) == "LoadBalancerNotFound"


def test_target_group_validation_and_defaults(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    name = unique("tg")
    tg = elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=network["vpc"])[
        "TargetGroups"
    ][0]
    assert tg["TargetType"] == "instance"
    assert tg["HealthCheckPath"] == "/"
    assert tg["HealthCheckIntervalSeconds"] == 30
    assert tg["HealthCheckTimeoutSeconds"] == 5
    assert tg["HealthyThresholdCount"] == 5
    assert tg["UnhealthyThresholdCount"] == 2
    assert tg["Matcher"] == {"HttpCode": "200"}
    assert tg["HealthCheckPort"] == "traffic-port"
    assert tg["LoadBalancerArns"] == []
    with pytest.raises(ClientError) as exc:
        elb.create_target_group(Name=name, Protocol="HTTP", Port=9090, VpcId=network["vpc"])
    assert code(exc) == "DuplicateTargetGroupName"
    with pytest.raises(ClientError) as exc:
        elb.create_target_group(
            Name=unique("tg"),
            Protocol="HTTP",
            Port=80,
            VpcId=network["vpc"],
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=6,
        )
    assert code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_target_group(Name=unique("tg"), Protocol="HTTP", VpcId=network["vpc"])
    assert code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_target_group(
            Name=unique("tg"),
            Protocol="HTTP",
            Port=80,
            VpcId=network["vpc"],
            Matcher={"HttpCode": "abc"},
        )
    assert code(exc) == "ValidationError"
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])[
            "Attributes"
        ]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["stickiness.type"] == "lb_cookie"
    assert attrs["load_balancing.algorithm.type"] == "round_robin"
    with pytest.raises(ClientError) as exc:
        elb.modify_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"],
            Attributes=[{"Key": "load_balancing.algorithm.type", "Value": "fastest"}],
        )
    assert code(exc) == "InvalidConfigurationRequest"
    modified = elb.modify_target_group(
        TargetGroupArn=tg["TargetGroupArn"], HealthCheckPath="/ping", HealthyThresholdCount=3
    )["TargetGroups"][0]
    assert (modified["HealthCheckPath"], modified["HealthyThresholdCount"]) == ("/ping", 3)
    found = elb.describe_target_groups(Names=[name])["TargetGroups"]
    assert [g["TargetGroupArn"] for g in found] == [tg["TargetGroupArn"]]
    with pytest.raises(ClientError) as exc:
        elb.describe_target_groups(Names=[unique("none")])
    assert code(exc) == "TargetGroupNotFound"


def test_listeners_and_rules(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    lb = elb.create_load_balancer(Name=unique("lb"), Subnets=network["subnets"])["LoadBalancers"][0]
    tg = target_group(elb, network, unique, [])
    forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8081, DefaultActions=forward
    )["Listeners"][0]
    assert listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": tg["TargetGroupArn"], "Weight": 1}
    ]
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=8081,
            DefaultActions=forward,
        )
    assert code(exc) == "DuplicateListener"
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            DefaultActions=forward,
        )
    assert code(exc) == "CertificateNotFound"
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=9000, DefaultActions=forward
        )
    assert code(exc) == "UnsupportedProtocol"
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Port=9001,
            Protocol="HTTP",
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"] + "0"}],
        )
    assert code(exc) == "TargetGroupNotFound"
    with pytest.raises(ClientError) as exc:
        elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Port=9002,
            Protocol="HTTP",
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}
            ],
        )
    assert code(exc) == "ValidationError"
    assert elb.describe_target_groups(TargetGroupArns=[tg["TargetGroupArn"]])["TargetGroups"][0][
        "LoadBalancerArns"
    ] == [lb["LoadBalancerArn"]]
    with pytest.raises(ClientError) as exc:
        elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    assert code(exc) == "ResourceInUse"

    larn = listener["ListenerArn"]

    def rule(priority: int, values: list[str]) -> dict[str, Any]:
        return dict(
            elb.create_rule(
                ListenerArn=larn,
                Priority=priority,
                Conditions=[{"Field": "path-pattern", "Values": values}],
                Actions=forward,
            )["Rules"][0]
        )

    r20 = rule(20, ["/b*"])
    r10 = rule(10, ["/a*"])
    with pytest.raises(ClientError) as exc:
        rule(10, ["/c*"])
    assert code(exc) == "PriorityInUse"
    with pytest.raises(ClientError) as exc:
        rule(30, ["/1", "/2", "/3", "/4", "/5", "/6"])
    assert code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_rule(
            ListenerArn=larn,
            Priority=40,
            Conditions=[{"Field": "cookie", "Values": ["x"]}],
            Actions=forward,
        )
    assert code(exc) == "ValidationError"
    rules = elb.describe_rules(ListenerArn=larn)["Rules"]
    assert [r["Priority"] for r in rules] == ["10", "20", "default"]
    assert rules[-1]["IsDefault"] is True
    assert rules[0]["Conditions"][0]["PathPatternConfig"] == {"Values": ["/a*"]}
    with pytest.raises(ClientError) as exc:
        elb.delete_rule(RuleArn=rules[-1]["RuleArn"])
    assert code(exc) == "OperationNotPermitted"
    swapped = elb.set_rule_priorities(
        RulePriorities=[
            {"RuleArn": r10["RuleArn"], "Priority": 20},
            {"RuleArn": r20["RuleArn"], "Priority": 10},
        ]
    )["Rules"]
    assert {r["RuleArn"]: r["Priority"] for r in swapped} == {
        r10["RuleArn"]: "20",
        r20["RuleArn"]: "10",
    }
    elb.modify_rule(
        RuleArn=r10["RuleArn"],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    elb.delete_rule(RuleArn=r20["RuleArn"])
    assert [r["Priority"] for r in elb.describe_rules(ListenerArn=larn)["Rules"]] == [
        "20",
        "default",
    ]
    elb.delete_listener(ListenerArn=larn)
    with pytest.raises(ClientError) as exc:
        elb.describe_rules(RuleArns=[r10["RuleArn"]])
    assert code(exc) == "RuleNotFound"
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])


def test_targets_registration_and_health_states(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    tg = target_group(elb, network, unique, [])
    arn = tg["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.9.1", "Port": 8080}])
    found = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    # No load balancer uses the group: its targets are unused.
    assert found[0]["TargetHealth"] == {
        "State": "unused",
        "Reason": "Target.NotInUse",
        "Description": "Target group is not configured to receive traffic from the load balancer",
    }
    asked = elb.describe_target_health(
        TargetGroupArn=arn, Targets=[{"Id": "127.0.9.2", "Port": 8080}]
    )["TargetHealthDescriptions"]
    assert asked[0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    with pytest.raises(ClientError) as exc:
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "not-an-ip"}])
    assert code(exc) == "InvalidTarget"
    with pytest.raises(ClientError) as exc:
        elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.9.3", "Port": 8080}])
    assert code(exc) == "InvalidTarget"
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.9.1", "Port": 8080}])
    assert elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"] == []
    instances = elb.create_target_group(
        Name=unique("tg"), Protocol="HTTP", Port=80, VpcId=network["vpc"]
    )["TargetGroups"][0]
    with pytest.raises(ClientError) as exc:
        elb.register_targets(
            TargetGroupArn=instances["TargetGroupArn"], Targets=[{"Id": "i-0123456789abcdef0"}]
        )
    assert code(exc) == "InvalidTarget"


def test_tags_and_paging(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elbv2")
    arns = [
        elb.create_load_balancer(
            Name=unique("lb"), Subnets=network["subnets"], Tags=[{"Key": "team", "Value": "a"}]
        )["LoadBalancers"][0]["LoadBalancerArn"]
        for _ in range(3)
    ]
    elb.add_tags(ResourceArns=arns[:1], Tags=[{"Key": "env", "Value": "test"}])
    elb.remove_tags(ResourceArns=arns[:1], TagKeys=["team"])
    described = elb.describe_tags(ResourceArns=arns[:2])["TagDescriptions"]
    assert described[0]["Tags"] == [{"Key": "env", "Value": "test"}]
    assert described[1]["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as exc:
        elb.add_tags(
            ResourceArns=arns[:1],
            Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}],
        )
    assert code(exc) == "DuplicateTagKeys"
    seen: list[str] = []
    pages = elb.get_paginator("describe_load_balancers").paginate(PaginationConfig={"PageSize": 1})
    for page in pages:
        assert len(page["LoadBalancers"]) <= 1
        seen += [lb["LoadBalancerArn"] for lb in page["LoadBalancers"]]
    assert set(arns) <= set(seen)
    assert len(seen) == len(set(seen))
