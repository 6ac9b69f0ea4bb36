"""What AWS gives a load balancer, target group or health check that the request leaves out,
and the attribute keys each accepts (ModifyLoadBalancerAttributes /
ModifyTargetGroupAttributes refuse any other key)."""

from __future__ import annotations

from typing import Any

LB_ATTRIBUTES: dict[str, dict[str, str]] = {
    "application": {
        "access_logs.s3.enabled": "false",
        "access_logs.s3.bucket": "",
        "access_logs.s3.prefix": "",
        "connection_logs.s3.enabled": "false",
        "connection_logs.s3.bucket": "",
        "connection_logs.s3.prefix": "",
        "client_keep_alive.seconds": "3600",
        "deletion_protection.enabled": "false",
        "idle_timeout.timeout_seconds": "60",
        "load_balancing.cross_zone.enabled": "true",
        "routing.http.desync_mitigation_mode": "defensive",
        "routing.http.drop_invalid_header_fields.enabled": "false",
        "routing.http.preserve_host_header.enabled": "false",
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
        "routing.http.xff_client_port.enabled": "false",
        "routing.http.xff_header_processing.mode": "append",
        "routing.http2.enabled": "true",
        "waf.fail_open.enabled": "false",
        "zonal_shift.config.enabled": "false",
    },
    "network": {
        "access_logs.s3.enabled": "false",
        "access_logs.s3.bucket": "",
        "access_logs.s3.prefix": "",
        "deletion_protection.enabled": "false",
        "dns_record.client_routing_policy": "any_availability_zone",
        "load_balancing.cross_zone.enabled": "false",
        "zonal_shift.config.enabled": "false",
    },
}

_TG_COMMON = {
    "deregistration_delay.timeout_seconds": "300",
    "stickiness.enabled": "false",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}
_TG_HTTP = {
    **_TG_COMMON,
    "stickiness.type": "lb_cookie",
    "stickiness.lb_cookie.duration_seconds": "86400",
    "stickiness.app_cookie.cookie_name": "",
    "stickiness.app_cookie.duration_seconds": "86400",
    "slow_start.duration_seconds": "0",
    "load_balancing.algorithm.type": "round_robin",
    "load_balancing.algorithm.anomaly_mitigation": "off",
}
_TG_TCP = {
    **_TG_COMMON,
    "stickiness.type": "source_ip",
    "deregistration_delay.connection_termination.enabled": "false",
    "preserve_client_ip.enabled": "true",
    "proxy_protocol_v2.enabled": "false",
    "target_health_state.unhealthy.connection_termination.enabled": "true",
}
_TG_LAMBDA = {"lambda.multi_value_headers.enabled": "false"}

HTTP_PROTOCOLS = ("HTTP", "HTTPS")
NETWORK_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")


def target_group_attributes(target_type: str, protocol: str | None) -> dict[str, str]:
    if target_type == "lambda":
        return dict(_TG_LAMBDA)
    return dict(_TG_HTTP if protocol in HTTP_PROTOCOLS else _TG_TCP)


def health_check(target_type: str, protocol: str | None) -> dict[str, Any]:
    """Health check settings of a new target group (AWS's documented defaults)."""
    if target_type == "lambda":
        return {
            "HealthCheckEnabled": False,
            "HealthCheckIntervalSeconds": 35,
            "HealthCheckTimeoutSeconds": 30,
            "HealthyThresholdCount": 5,
            "UnhealthyThresholdCount": 2,
            "HealthCheckPath": "/",
            "Matcher": {"HttpCode": "200"},
        }
    if protocol in HTTP_PROTOCOLS:
        return {
            "HealthCheckEnabled": True,
            "HealthCheckProtocol": protocol,
            "HealthCheckPort": "traffic-port",
            "HealthCheckPath": "/",
            "HealthCheckIntervalSeconds": 30,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 5,
            "UnhealthyThresholdCount": 2,
            "Matcher": {"HttpCode": "200"},
        }
    return {
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": "TCP",
        "HealthCheckPort": "traffic-port",
        "HealthCheckIntervalSeconds": 30,
        "HealthCheckTimeoutSeconds": 10,
        "HealthyThresholdCount": 5,
        "UnhealthyThresholdCount": 2,
    }


HOSTED_ZONES = {
    # Route 53 zone ids of ELB DNS names per region (ALB/CLB, NLB), as AWS lists them.
    "us-east-1": ("Z35SXDOTRQ7X7K", "Z26RNL4JYFTOTI"),
    "us-east-2": ("Z3AADJGX6KTTL2", "ZLMOA37VPKANP"),
    "us-west-1": ("Z368ELLRRE2KJ0", "Z24FKFUX50B4VW"),
    "us-west-2": ("Z1H1FL5HABSF5", "Z18D5FSROUN65G"),
    "eu-west-1": ("Z32O12XQLNTSW2", "Z2IFOLAFXWLO4F"),
    "eu-central-1": ("Z215JYRZR1TBD5", "Z3F0SRJ5LGBH90"),
    "ap-southeast-1": ("Z1LMS91P8CMLE5", "ZKVM4W9LS7TM"),
    "ap-northeast-1": ("Z14GRHDCWA56QT", "Z31USIVHYNEOWT"),
}


def hosted_zone(region: str, lb_type: str) -> str:
    alb, nlb = HOSTED_ZONES.get(region, HOSTED_ZONES["us-east-1"])
    return nlb if lb_type == "network" else alb
