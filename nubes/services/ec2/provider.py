"""Amazon EC2: VPC networking with AWS's rules, instances (real process trees through the
instance runtime), EBS, images, key pairs, launch templates. Each area is a mixin in its own
module; this class puts them together and answers the catalogue calls (regions, zones,
instance types)."""

from __future__ import annotations

import ipaddress
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2 import instance_types, regions
from nubes.services.ec2.errors import errors
from nubes.services.ec2.instance_settings import InstanceSettingsMixin
from nubes.services.ec2.links import LinkMixin
from nubes.services.ec2.machines import MachineMixin
from nubes.services.ec2.model import MIGRATIONS, Scope
from nubes.services.ec2.vpc import VpcMixin

DEFAULT_VPC_CIDR = "172.31.0.0/16"


class Ec2Provider(InstanceSettingsMixin, MachineMixin, LinkMixin, VpcMixin):
    service = "ec2"
    migrations = MIGRATIONS

    def create_default_network(self, scope: Scope) -> None:
        """The default VPC (172.31.0.0/16) with a /20 default subnet per zone that maps
        public addresses, an internet gateway and a route to it in the main route table."""
        vpc = self.new_vpc(scope, DEFAULT_VPC_CIDR, default=True)
        blocks = ipaddress.IPv4Network(DEFAULT_VPC_CIDR).subnets(new_prefix=20)
        for (zone, _), block in zip(regions.zones(scope.region), blocks, strict=False):
            self.new_subnet(scope, vpc.id, str(block), zone, default=True)
        gateway = self.new_internet_gateway(scope)
        gateway.doc["Attachments"] = [{"State": "available", "VpcId": vpc.id}]
        self.save(scope, gateway)
        table = self.main_route_table(scope, vpc.id)
        assert table is not None
        table.doc["Routes"].append(
            {
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": gateway.id,
                "Origin": "CreateRoute",
                "State": "active",
            }
        )
        self.save(scope, table)

    def create_default_vpc(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """A new default network, for an account whose default VPC was deleted."""
        scope = self.scope(ctx)
        existing = self.default_vpc_id(scope)
        if existing:
            raise errors(
                "DefaultVpcAlreadyExists",
                "A Default VPC already exists for this account in this region.",
            )
        self.dry_run(params)
        self.create_default_network(scope)
        vpc_id = self.default_vpc_id(scope)
        assert vpc_id is not None
        return {"Vpc": self.with_tags(scope, [self.find(scope, "vpc", vpc_id)])[0]}

    # -- catalogue ----------------------------------------------------------------------

    def describe_account_attributes(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        values = {
            "supported-platforms": ["VPC"],
            "default-vpc": [self.default_vpc_id(scope) or "none"],
            "max-instances": ["20"],
            "max-elastic-ips": ["5"],
            "vpc-max-elastic-ips": ["5"],
            "vpc-max-security-groups-per-interface": ["5"],
        }
        names = params.get("AttributeNames") or list(values)
        for name in names:
            if name not in values:
                raise errors(
                    "InvalidParameterValue",
                    f"Value ({name}) for parameter attributeName is invalid.",
                )
        self.dry_run(params)
        return {
            "AccountAttributes": [
                {"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in values[n]]}
                for n in names
            ]
        }

    def describe_regions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("RegionNames") or []
        unknown = [n for n in names if n not in regions.REGIONS]
        if unknown:
            raise errors("InvalidParameterValue", f"Invalid region names: {unknown[0]}")
        docs = [regions.region_doc(n) for n in (names or regions.REGIONS)]
        check = regions.REGION_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        return {"Regions": [d for d in docs if check(d)]}

    def describe_availability_zones(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        zones = regions.zones(ctx.region)
        docs = [regions.zone_doc(ctx.region, name, zid) for name, zid in zones]
        names, ids = params.get("ZoneNames") or [], params.get("ZoneIds") or []
        for name in names:
            if name not in dict(zones):
                raise errors(
                    "InvalidParameterValue", f"The availability zone '{name}' does not exist."
                )
        if names or ids:
            docs = [d for d in docs if d["ZoneName"] in names or d["ZoneId"] in ids]
        check = regions.ZONE_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        return {"AvailabilityZones": [d for d in docs if check(d)]}

    def describe_instance_types(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        catalogue = instance_types.catalogue()
        names = params.get("InstanceTypes") or []
        for name in names:
            if name not in catalogue:
                raise errors(
                    "InvalidInstanceType",
                    f"The following supplied instance types do not exist: [{name}]",
                )
        docs = [catalogue[n] for n in names] if names else list(catalogue.values())
        check = instance_types.TYPE_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        matched = [d for d in docs if check(d)]
        return self._page(params, matched, "InstanceTypes", 100)

    def describe_instance_type_offerings(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        location_type = params.get("LocationType") or "region"
        if location_type == "region":
            locations = [ctx.region]
        elif location_type == "availability-zone":
            locations = [z for z, _ in regions.zones(ctx.region)]
        elif location_type == "availability-zone-id":
            locations = [i for _, i in regions.zones(ctx.region)]
        else:
            raise errors(
                "InvalidParameterValue",
                f"Value ({location_type}) for parameter LocationType is invalid.",
            )
        docs = [
            {"InstanceType": name, "LocationType": location_type, "Location": where}
            for name in instance_types.catalogue()
            for where in locations
        ]
        check = instance_types.OFFERING_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        matched = [d for d in docs if check(d)]
        return self._page(params, matched, "InstanceTypeOfferings", 1000)

    @staticmethod
    def _page(params: dict[str, Any], items: list[Any], key: str, limit: int) -> dict[str, Any]:
        size = params.get("MaxResults") or limit
        token = params.get("NextToken") or "0"
        if not token.isdigit():
            raise errors("InvalidNextToken", "The token is invalid.")
        start = int(token)
        out: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            out["NextToken"] = str(start + size)
        return out
