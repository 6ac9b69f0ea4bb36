"""Classic load balancers: the API, instance health, traffic through the shared data plane."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.elbv2.conftest import Reply, eventually
from tests.elbv2.test_targets import SERVE_ID


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_both_apis_answer_in_their_own_shapes(client: Callable[..., Any]) -> None:
    # Same signing name (elasticloadbalancing), same action name: told apart by Version.
    assert "LoadBalancerDescriptions" in client("elb").describe_load_balancers()
    assert "LoadBalancers" in client("elbv2").describe_load_balancers()


def test_classic_api(
    client: Callable[..., Any], network: dict[str, Any], unique: Callable[[str], str]
) -> None:
    elb = client("elb")
    name = unique("clb")
    listeners = [
        {
            "Protocol": "HTTP",
            "LoadBalancerPort": 80,
            "InstanceProtocol": "HTTP",
            "InstancePort": 8080,
        }
    ]
    dns_name = elb.create_load_balancer(
        LoadBalancerName=name, Listeners=listeners, Subnets=network["subnets"]
    )["DNSName"]
    assert dns_name.startswith(name + "-")
    # The same request again is answered with the same load balancer; different listeners not.
    assert (
        elb.create_load_balancer(
            LoadBalancerName=name, Listeners=listeners, Subnets=network["subnets"]
        )["DNSName"]
        == dns_name
    )
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 81, "InstancePort": 81}],
            Subnets=network["subnets"],
        )
    assert code(exc) == "DuplicateLoadBalancerName"
    found = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
    assert found["HealthCheck"] == {
        "Target": "TCP:8080",
        "Interval": 30,
        "Timeout": 5,
        "UnhealthyThreshold": 2,
        "HealthyThreshold": 10,
    }
    assert found["VPCId"] == network["vpc"]
    assert sorted(found["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]
    with pytest.raises(ClientError) as exc:
        elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": "HTTP:8080",
                "Interval": 10,
                "Timeout": 5,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
    assert code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        elb.create_load_balancer_listeners(
            LoadBalancerName=name,
            Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 9000}],
        )
    assert code(exc) == "DuplicateListener"
    with pytest.raises(ClientError) as exc:
        elb.describe_load_balancers(LoadBalancerNames=[unique("none")])
    assert code(exc) == "LoadBalancerNotFound"
    with pytest.raises(ClientError) as exc:
        elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": "i-0123456789abcdef0"}]
        )
    assert code(exc) == "InvalidInstance"
    attributes = elb.modify_load_balancer_attributes(
        LoadBalancerName=name,
        LoadBalancerAttributes={"ConnectionSettings": {"IdleTimeout": 30}},
    )["LoadBalancerAttributes"]
    assert attributes["ConnectionSettings"] == {"IdleTimeout": 30}
    group = client("ec2").create_security_group(
        GroupName=unique("clb"), Description="classic", VpcId=network["vpc"]
    )["GroupId"]
    applied = elb.apply_security_groups_to_load_balancer(
        LoadBalancerName=name, SecurityGroups=[group]
    )
    assert applied["SecurityGroups"] == [group]
    with pytest.raises(ClientError) as exc:
        elb.apply_security_groups_to_load_balancer(
            LoadBalancerName=name, SecurityGroups=["sg-0123456789abcdef0"]
        )
    assert code(exc) == "InvalidSecurityGroup"
    elb.add_tags(LoadBalancerNames=[name], Tags=[{"Key": "k", "Value": "v"}])
    assert elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"][0]["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    elb.delete_load_balancer(LoadBalancerName=name)
    elb.delete_load_balancer(LoadBalancerName=name)
    assert name not in [
        d["LoadBalancerName"] for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]
    ]


@pytest.mark.clock
def test_instances_behind_a_classic_load_balancer(
    client: Callable[..., Any],
    network: dict[str, Any],
    unique: Callable[[str], str],
    advance: Callable[[float], None],
    through: Callable[..., Reply],
) -> None:
    ec2, elb = client("ec2"), client("elb")
    image = ec2.describe_images(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}]
    )["Images"][0]["ImageId"]
    instances = [
        ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet, UserData=SERVE_ID
        )["Instances"][0]["InstanceId"]
        for subnet in network["subnets"]
    ]
    try:
        name = unique("clb")
        dns_name = elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
            Subnets=network["subnets"],
        )["DNSName"]
        elb.configure_health_check(
            LoadBalancerName=name,
            HealthCheck={
                "Target": "HTTP:8080/",
                "Interval": 5,
                "Timeout": 2,
                "UnhealthyThreshold": 2,
                "HealthyThreshold": 2,
            },
        )
        ec2.get_waiter("instance_running").wait(InstanceIds=instances)
        registered = elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": i} for i in instances]
        )["Instances"]
        assert {i["InstanceId"] for i in registered} == set(instances)
        states = elb.describe_instance_health(LoadBalancerName=name)["InstanceStates"]
        assert {(s["State"], s["ReasonCode"]) for s in states} == {("OutOfService", "ELB")}

        def in_service() -> bool:
            advance(5)
            found = elb.describe_instance_health(LoadBalancerName=name)["InstanceStates"]
            return {s["State"] for s in found} == {"InService"}

        assert eventually(in_service, timeout=60)
        answered = {through(dns_name, "/").body.decode() for _ in range(6)}
        assert answered == set(instances)
        elb.create_lb_cookie_stickiness_policy(
            LoadBalancerName=name, PolicyName="sticky", CookieExpirationPeriod=600
        )
        with pytest.raises(ClientError) as exc:
            elb.create_lb_cookie_stickiness_policy(LoadBalancerName=name, PolicyName="sticky")
        assert code(exc) == "DuplicatePolicyName"
        elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=80, PolicyNames=["sticky"]
        )
        first = through(dns_name, "/")
        cookie = first.headers["Set-Cookie"].split(";")[0]
        assert cookie.startswith("AWSELB=")
        stuck = {through(dns_name, "/", headers={"Cookie": cookie}).body for _ in range(6)}
        assert stuck == {first.body}
        with pytest.raises(ClientError) as exc:
            elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="sticky")
        assert code(exc) == "InvalidConfigurationRequest"
        elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=name, LoadBalancerPort=80, PolicyNames=[]
        )
        elb.delete_load_balancer_policy(LoadBalancerName=name, PolicyName="sticky")
        elb.deregister_instances_from_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": instances[0]}]
        )
        assert {through(dns_name, "/").body.decode() for _ in range(4)} == {instances[1]}
    finally:
        ec2.terminate_instances(InstanceIds=instances)
