"""Regions and Availability Zones EC2 answers for (DescribeRegions, DescribeAvailabilityZones);
the default VPC has one default subnet per zone listed here."""

from __future__ import annotations

from typing import Any

from nubes.services.ec2.filters import Filters

# Region -> (zone letters, the prefix of its zone ids).
REGIONS: dict[str, tuple[str, str]] = {
    "us-east-1": ("abcdef", "use1"),
    "us-east-2": ("abc", "use2"),
    "us-west-1": ("ab", "usw1"),
    "us-west-2": ("abcd", "usw2"),
    "ca-central-1": ("abd", "cac1"),
    "eu-west-1": ("abc", "euw1"),
    "eu-west-2": ("abc", "euw2"),
    "eu-west-3": ("abc", "euw3"),
    "eu-central-1": ("abc", "euc1"),
    "eu-north-1": ("abc", "eun1"),
    "ap-south-1": ("abc", "aps1"),
    "ap-northeast-1": ("acd", "apne1"),
    "ap-northeast-2": ("abcd", "apne2"),
    "ap-southeast-1": ("abc", "apse1"),
    "ap-southeast-2": ("abc", "apse2"),
    "sa-east-1": ("abc", "sae1"),
}


def zones(region: str) -> list[tuple[str, str]]:
    """(zone name, zone id) of a region; regions nubes does not list get zones a, b, c."""
    letters, prefix = REGIONS.get(region, ("abc", region.replace("-", "")[:6]))
    return [(f"{region}{letter}", f"{prefix}-az{i}") for i, letter in enumerate(letters, 1)]


def zone_id(region: str, zone: str) -> str | None:
    return dict(zones(region)).get(zone)


def region_doc(name: str) -> dict[str, Any]:
    return {
        "RegionName": name,
        "Endpoint": f"ec2.{name}.amazonaws.com",
        "OptInStatus": "opt-in-not-required",
    }


def zone_doc(region: str, name: str, zid: str) -> dict[str, Any]:
    return {
        "State": "available",
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "RegionName": region,
        "ZoneName": name,
        "ZoneId": zid,
        "GroupName": region,
        "NetworkBorderGroup": region,
        "ZoneType": "availability-zone",
        "GroupLongName": region,
    }


REGION_FILTERS = Filters(
    {"endpoint": "Endpoint", "region-name": "RegionName", "opt-in-status": "OptInStatus"},
    tags=False,
)
ZONE_FILTERS = Filters(
    {
        "group-name": "GroupName",
        "message": "Messages.Message",
        "opt-in-status": "OptInStatus",
        "region-name": "RegionName",
        "state": "State",
        "zone-id": "ZoneId",
        "zone-name": "ZoneName",
        "zone-type": "ZoneType",
        "network-border-group": "NetworkBorderGroup",
    },
    tags=False,
)
