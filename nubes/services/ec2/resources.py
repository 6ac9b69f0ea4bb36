"""EC2's CloudFormation resource types (the networking core, instances and their storage),
each made through EC2's own operations so a stack's resources show in the API as any other."""

from __future__ import annotations

import asyncio
from typing import Any

from nubes.core import clock
from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceFailed,
    ResourceType,
    as_json,
    boolean,
    integer,
)

INSTANCE_WAIT = 120.0
"""How long a stack waits for an instance to run or end."""


def _specs(ctx: ResourceContext, resource_type: str, props: Props) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": ctx.tags(props.get("Tags"))}]


def _retag(ctx: ResourceContext, rid: str, props: Props, old_props: Props) -> None:
    gone = {t["Key"] for t in old_props.get("Tags") or ()} - {
        t["Key"] for t in props.get("Tags") or ()
    }
    if gone:
        ctx.call("ec2", "DeleteTags", {"Resources": [rid], "Tags": [{"Key": k} for k in gone]})
    if props.get("Tags"):
        ctx.call("ec2", "CreateTags", {"Resources": [rid], "Tags": props["Tags"]})


class Vpc(ResourceType):
    type_name = "AWS::EC2::VPC"
    attributes = ("CidrBlock", "CidrBlockAssociations", "DefaultNetworkAcl",
                  "DefaultSecurityGroup", "Ipv6CidrBlocks", "VpcId")  # fmt: skip
    replace_on = frozenset({"CidrBlock", "InstanceTenancy"})
    required = ("CidrBlock",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {"CidrBlock": props["CidrBlock"],
                                  "TagSpecifications": _specs(ctx, "vpc", props)}  # fmt: skip
        if props.get("InstanceTenancy"):
            params["InstanceTenancy"] = props["InstanceTenancy"]
        vpc = ctx.call("ec2", "CreateVpc", params)["Vpc"]
        self._attributes(ctx, vpc["VpcId"], props)
        return self._provisioned(ctx, vpc["VpcId"])

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._attributes(ctx, current.physical_id, props)
        _retag(ctx, current.physical_id, props, old_props)
        return self._provisioned(ctx, current.physical_id)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidVpcID.NotFound",), "ec2", "DeleteVpc",
                          {"VpcId": current.physical_id})  # fmt: skip

    @staticmethod
    def _attributes(ctx: ResourceContext, vpc_id: str, props: Props) -> None:
        for name in ("EnableDnsSupport", "EnableDnsHostnames"):
            if name in props:
                value = {"Value": boolean(props[name])}
                ctx.call("ec2", "ModifyVpcAttribute", {"VpcId": vpc_id, name: value})

    @staticmethod
    def _provisioned(ctx: ResourceContext, vpc_id: str) -> Provisioned:
        vpc = ctx.call("ec2", "DescribeVpcs", {"VpcIds": [vpc_id]})["Vpcs"][0]
        by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
        acl = ctx.call("ec2", "DescribeNetworkAcls", {"Filters": [
            *by_vpc, {"Name": "default", "Values": ["true"]}]})["NetworkAcls"]  # fmt: skip
        group = ctx.call(
            "ec2",
            "DescribeSecurityGroups",
            {"Filters": [*by_vpc, {"Name": "group-name", "Values": ["default"]}]},
        )["SecurityGroups"]
        return Provisioned(vpc_id, attributes={
            "VpcId": vpc_id, "CidrBlock": vpc["CidrBlock"],
            "CidrBlockAssociations": [a["AssociationId"]
                                      for a in vpc["CidrBlockAssociationSet"]],
            "DefaultNetworkAcl": acl[0]["NetworkAclId"] if acl else "",
            "DefaultSecurityGroup": group[0]["GroupId"] if group else "",
            "Ipv6CidrBlocks": [],
        })  # fmt: skip


class Subnet(ResourceType):
    type_name = "AWS::EC2::Subnet"
    attributes = ("AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "Ipv6CidrBlocks",
                  "NetworkAclAssociationId", "SubnetId", "VpcId")  # fmt: skip
    replace_on = frozenset({"VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId"})
    required = ("VpcId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params = {k: props[k] for k in ("VpcId", "CidrBlock", "AvailabilityZone",
                                        "AvailabilityZoneId") if props.get(k)}  # fmt: skip
        params["TagSpecifications"] = _specs(ctx, "subnet", props)
        subnet = ctx.call("ec2", "CreateSubnet", params)["Subnet"]
        self._map_public(ctx, subnet["SubnetId"], props)
        return self._provisioned(ctx, subnet)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._map_public(ctx, current.physical_id, props)
        _retag(ctx, current.physical_id, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidSubnetID.NotFound",), "ec2", "DeleteSubnet",
                          {"SubnetId": current.physical_id})  # fmt: skip

    @staticmethod
    def _map_public(ctx: ResourceContext, subnet_id: str, props: Props) -> None:
        if "MapPublicIpOnLaunch" in props:
            ctx.call(
                "ec2",
                "ModifySubnetAttribute",
                {
                    "SubnetId": subnet_id,
                    "MapPublicIpOnLaunch": {"Value": boolean(props["MapPublicIpOnLaunch"])},
                },
            )

    @staticmethod
    def _provisioned(ctx: ResourceContext, subnet: dict[str, Any]) -> Provisioned:
        acls = ctx.call(
            "ec2",
            "DescribeNetworkAcls",
            {"Filters": [{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]},
        )["NetworkAcls"]
        association = next((a["NetworkAclAssociationId"] for acl in acls
                            for a in acl["Associations"]
                            if a["SubnetId"] == subnet["SubnetId"]), "")  # fmt: skip
        return Provisioned(subnet["SubnetId"], attributes={
            "SubnetId": subnet["SubnetId"], "VpcId": subnet["VpcId"],
            "CidrBlock": subnet["CidrBlock"], "AvailabilityZone": subnet["AvailabilityZone"],
            "AvailabilityZoneId": subnet["AvailabilityZoneId"], "Ipv6CidrBlocks": [],
            "NetworkAclAssociationId": association,
        })  # fmt: skip


class InternetGateway(ResourceType):
    type_name = "AWS::EC2::InternetGateway"
    attributes = ("InternetGatewayId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        gateway = ctx.call(
            "ec2",
            "CreateInternetGateway",
            {"TagSpecifications": _specs(ctx, "internet-gateway", props)},
        )["InternetGateway"]
        gid = gateway["InternetGatewayId"]
        return Provisioned(gid, attributes={"InternetGatewayId": gid})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        _retag(ctx, current.physical_id, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidInternetGatewayID.NotFound",), "ec2",
                          "DeleteInternetGateway",
                          {"InternetGatewayId": current.physical_id})  # fmt: skip


class GatewayAttachment(ResourceType):
    type_name = "AWS::EC2::VPCGatewayAttachment"
    replace_on = frozenset({"VpcId", "InternetGatewayId", "VpnGatewayId"})
    required = ("VpcId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        gateway = props.get("InternetGatewayId")
        if not gateway:
            raise ResourceFailed("Only internet gateways attach to a VPC in nubes")
        ctx.call("ec2", "AttachInternetGateway",
                 {"InternetGatewayId": gateway, "VpcId": props["VpcId"]})  # fmt: skip
        return Provisioned(f"IGW|{props['VpcId']}")

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("Gateway.NotAttached", "InvalidInternetGatewayID.NotFound",
                           "InvalidVpcID.NotFound"), "ec2", "DetachInternetGateway",
                          {"InternetGatewayId": props.get("InternetGatewayId"),
                           "VpcId": props["VpcId"]})  # fmt: skip


class RouteTable(ResourceType):
    type_name = "AWS::EC2::RouteTable"
    attributes = ("RouteTableId",)
    replace_on = frozenset({"VpcId"})
    required = ("VpcId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        table = ctx.call(
            "ec2",
            "CreateRouteTable",
            {"VpcId": props["VpcId"], "TagSpecifications": _specs(ctx, "route-table", props)},
        )["RouteTable"]
        return Provisioned(
            table["RouteTableId"], attributes={"RouteTableId": table["RouteTableId"]}
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        _retag(ctx, current.physical_id, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidRouteTableID.NotFound",), "ec2", "DeleteRouteTable",
                          {"RouteTableId": current.physical_id})  # fmt: skip


_ROUTE_TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "InstanceId",
    "VpcPeeringConnectionId",
    "NetworkInterfaceId",
    "VpcEndpointId",
    "TransitGatewayId",
    "EgressOnlyInternetGatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
)
_ROUTE_DESTINATIONS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock",
                       "DestinationPrefixListId")  # fmt: skip


class Route(ResourceType):
    type_name = "AWS::EC2::Route"
    replace_on = frozenset({"RouteTableId", *_ROUTE_DESTINATIONS})
    required = ("RouteTableId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        ctx.call("ec2", "CreateRoute", self._params(props))
        return Provisioned(self._id(props))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        ctx.call("ec2", "ReplaceRoute", self._params(props))
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        params = {k: props[k] for k in ("RouteTableId", *_ROUTE_DESTINATIONS) if props.get(k)}
        ctx.call_ignoring(("InvalidRoute.NotFound", "InvalidRouteTableID.NotFound"), "ec2",
                          "DeleteRoute", params)  # fmt: skip

    @staticmethod
    def _params(props: Props) -> dict[str, Any]:
        keys = ("RouteTableId", *_ROUTE_DESTINATIONS, *_ROUTE_TARGETS)
        return {k: props[k] for k in keys if props.get(k)}

    @staticmethod
    def _id(props: Props) -> str:
        dest = next((props[k] for k in _ROUTE_DESTINATIONS if props.get(k)), "")
        return f"{props['RouteTableId']}|{dest}"


class SubnetRouteTableAssociation(ResourceType):
    type_name = "AWS::EC2::SubnetRouteTableAssociation"
    attributes = ("Id",)
    replace_on = frozenset({"SubnetId", "RouteTableId"})
    required = ("SubnetId", "RouteTableId")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        out = ctx.call(
            "ec2",
            "AssociateRouteTable",
            {"SubnetId": props["SubnetId"], "RouteTableId": props["RouteTableId"]},
        )
        return Provisioned(out["AssociationId"], attributes={"Id": out["AssociationId"]})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidAssociationID.NotFound",), "ec2", "DisassociateRouteTable",
                          {"AssociationId": current.physical_id})  # fmt: skip


def _permission(rule: dict[str, Any], egress: bool) -> dict[str, Any]:
    """A template's rule (CidrIp, SourceSecurityGroupId, ...) as an IpPermission."""
    perm: dict[str, Any] = {"IpProtocol": str(rule.get("IpProtocol", "-1"))}
    for key in ("FromPort", "ToPort"):
        if rule.get(key) is not None:
            perm[key] = integer(rule[key])
    desc = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        perm["IpRanges"] = [{"CidrIp": rule["CidrIp"], **desc}]
    if rule.get("CidrIpv6"):
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **desc}]
    prefix = rule.get("DestinationPrefixListId" if egress else "SourcePrefixListId")
    if prefix:
        perm["PrefixListIds"] = [{"PrefixListId": prefix, **desc}]
    group = rule.get("DestinationSecurityGroupId" if egress else "SourceSecurityGroupId")
    if group:
        perm["UserIdGroupPairs"] = [{"GroupId": group, **desc}]
    return perm


class SecurityGroup(ResourceType):
    type_name = "AWS::EC2::SecurityGroup"
    attributes = ("GroupId", "VpcId")
    replace_on = frozenset({"GroupName", "GroupDescription", "VpcId"})
    required = ("GroupDescription",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {
            "GroupName": props.get("GroupName") or ctx.physical_name(255),
            "Description": props["GroupDescription"],
            "TagSpecifications": _specs(ctx, "security-group", props),
        }
        if props.get("VpcId"):
            params["VpcId"] = props["VpcId"]
        gid = ctx.call("ec2", "CreateSecurityGroup", params)["GroupId"]
        self._rules(ctx, gid, props)
        group = ctx.call("ec2", "DescribeSecurityGroups", {"GroupIds": [gid]})["SecurityGroups"]
        return Provisioned(gid, attributes={"GroupId": gid, "VpcId": group[0]["VpcId"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._rules(ctx, current.physical_id, props)
        _retag(ctx, current.physical_id, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidGroup.NotFound",), "ec2", "DeleteSecurityGroup",
                          {"GroupId": current.physical_id})  # fmt: skip

    @staticmethod
    def _rules(ctx: ResourceContext, gid: str, props: Props) -> None:
        """Make the group's rules those of the template (with none for egress, AWS's default
        allow-all stays)."""
        found = ctx.call(
            "ec2",
            "DescribeSecurityGroupRules",
            {"Filters": [{"Name": "group-id", "Values": [gid]}]},
        )["SecurityGroupRules"]
        egress_given = props.get("SecurityGroupEgress")
        wanted = {False: [_permission(r, False) for r in props.get("SecurityGroupIngress") or ()],
                  True: [_permission(r, True) for r in egress_given or ()]}  # fmt: skip
        if egress_given is None:
            wanted[True] = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        for egress in (False, True):
            ids = [r["SecurityGroupRuleId"] for r in found if r["IsEgress"] == egress]
            if ids:
                operation = "RevokeSecurityGroupEgress" if egress else "RevokeSecurityGroupIngress"
                ctx.call("ec2", operation, {"GroupId": gid, "SecurityGroupRuleIds": ids})
            if wanted[egress]:
                operation = (
                    "AuthorizeSecurityGroupEgress" if egress else "AuthorizeSecurityGroupIngress"
                )
                ctx.call("ec2", operation, {"GroupId": gid, "IpPermissions": wanted[egress]})


class SecurityGroupIngress(ResourceType):
    type_name = "AWS::EC2::SecurityGroupIngress"
    attributes = ("Id",)
    egress = False
    replace_on = frozenset({"GroupId", "GroupName", "IpProtocol", "FromPort", "ToPort",
                            "CidrIp", "CidrIpv6", "SourceSecurityGroupId",
                            "SourcePrefixListId", "DestinationSecurityGroupId",
                            "DestinationPrefixListId"})  # fmt: skip

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {"IpPermissions": [_permission(props, self.egress)]}
        if props.get("GroupId"):
            params["GroupId"] = props["GroupId"]
        elif props.get("GroupName") and not self.egress:
            params["GroupName"] = props["GroupName"]
        else:
            raise ResourceFailed("Property GroupId cannot be empty")
        operation = (
            "AuthorizeSecurityGroupEgress" if self.egress else "AuthorizeSecurityGroupIngress"
        )
        rule = ctx.call("ec2", operation, params)["SecurityGroupRules"][0]
        rid = rule["SecurityGroupRuleId"]
        return Provisioned(rid, attributes={"Id": rid, "GroupId": rule["GroupId"]})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        operation = "RevokeSecurityGroupEgress" if self.egress else "RevokeSecurityGroupIngress"
        ctx.call_ignoring(("InvalidGroup.NotFound", "InvalidSecurityGroupRuleId.NotFound"),
                          "ec2", operation,
                          {"GroupId": current.attributes["GroupId"],
                           "SecurityGroupRuleIds": [current.physical_id]})  # fmt: skip


class SecurityGroupEgress(SecurityGroupIngress):
    type_name = "AWS::EC2::SecurityGroupEgress"
    egress = True


class Eip(ResourceType):
    type_name = "AWS::EC2::EIP"
    attributes = ("AllocationId", "PublicIp")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        address = ctx.call(
            "ec2",
            "AllocateAddress",
            {"Domain": "vpc", "TagSpecifications": _specs(ctx, "elastic-ip", props)},
        )
        if props.get("InstanceId"):
            ctx.call(
                "ec2",
                "AssociateAddress",
                {"AllocationId": address["AllocationId"], "InstanceId": props["InstanceId"]},
            )
        return Provisioned(
            address["PublicIp"],
            attributes={"AllocationId": address["AllocationId"], "PublicIp": address["PublicIp"]},
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        allocation = current.attributes["AllocationId"]
        if props.get("InstanceId") != old_props.get("InstanceId"):
            found = ctx.call("ec2", "DescribeAddresses", {"AllocationIds": [allocation]})
            association = found["Addresses"][0].get("AssociationId")
            if association:
                ctx.call("ec2", "DisassociateAddress", {"AssociationId": association})
            if props.get("InstanceId"):
                ctx.call(
                    "ec2",
                    "AssociateAddress",
                    {"AllocationId": allocation, "InstanceId": props["InstanceId"]},
                )
        _retag(ctx, allocation, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        allocation = current.attributes["AllocationId"]
        found = ctx.call_ignoring(
            ("InvalidAllocationID.NotFound",),
            "ec2",
            "DescribeAddresses",
            {"AllocationIds": [allocation]},
        )
        if not found:
            return
        association = found["Addresses"][0].get("AssociationId")
        if association:
            ctx.call_ignoring(("InvalidAssociationID.NotFound",), "ec2", "DisassociateAddress",
                              {"AssociationId": association})  # fmt: skip
        ctx.call_ignoring(("InvalidAllocationID.NotFound",), "ec2", "ReleaseAddress",
                          {"AllocationId": allocation})  # fmt: skip


class NatGateway(ResourceType):
    type_name = "AWS::EC2::NatGateway"
    attributes = ("NatGatewayId",)
    replace_on = frozenset({"SubnetId", "AllocationId", "ConnectivityType"})
    required = ("SubnetId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params = {k: props[k] for k in ("SubnetId", "AllocationId", "ConnectivityType")
                  if props.get(k)}  # fmt: skip
        params["TagSpecifications"] = _specs(ctx, "natgateway", props)
        nat = ctx.call("ec2", "CreateNatGateway", params)["NatGateway"]
        return Provisioned(nat["NatGatewayId"], attributes={"NatGatewayId": nat["NatGatewayId"]})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("NatGatewayNotFound",), "ec2", "DeleteNatGateway",
                          {"NatGatewayId": current.physical_id})  # fmt: skip


class KeyPair(ResourceType):
    type_name = "AWS::EC2::KeyPair"
    attributes = ("KeyFingerprint", "KeyPairId")
    replace_on = frozenset({"KeyName", "KeyType", "KeyFormat", "PublicKeyMaterial"})
    required = ("KeyName",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {
            "KeyName": props["KeyName"],
            "TagSpecifications": _specs(ctx, "key-pair", props),
        }
        if props.get("PublicKeyMaterial"):
            params["PublicKeyMaterial"] = str(props["PublicKeyMaterial"]).encode()
            out = ctx.call("ec2", "ImportKeyPair", params)
        else:
            params["KeyType"] = props.get("KeyType") or "rsa"
            out = ctx.call("ec2", "CreateKeyPair", params)
        return Provisioned(
            props["KeyName"],
            attributes={"KeyFingerprint": out["KeyFingerprint"], "KeyPairId": out["KeyPairId"]},
        )

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call("ec2", "DeleteKeyPair", {"KeyName": current.physical_id})


class LaunchTemplate(ResourceType):
    type_name = "AWS::EC2::LaunchTemplate"
    attributes = ("DefaultVersionNumber", "LatestVersionNumber", "LaunchTemplateId")
    replace_on = frozenset({"LaunchTemplateName"})
    required = ("LaunchTemplateData",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        made = ctx.call(
            "ec2",
            "CreateLaunchTemplate",
            {
                "LaunchTemplateName": props.get("LaunchTemplateName") or ctx.physical_name(128),
                "LaunchTemplateData": props["LaunchTemplateData"],
                "TagSpecifications": _specs(ctx, "launch-template", props),
            },
        )["LaunchTemplate"]
        return self._provisioned(made)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        """A changed template is a new version, made the default (as CloudFormation does)."""
        version = ctx.call(
            "ec2",
            "CreateLaunchTemplateVersion",
            {
                "LaunchTemplateId": current.physical_id,
                "LaunchTemplateData": props["LaunchTemplateData"],
            },
        )["LaunchTemplateVersion"]
        made = ctx.call(
            "ec2",
            "ModifyLaunchTemplate",
            {
                "LaunchTemplateId": current.physical_id,
                "DefaultVersion": str(version["VersionNumber"]),
            },
        )["LaunchTemplate"]
        return self._provisioned(made)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidLaunchTemplateId.NotFound",), "ec2", "DeleteLaunchTemplate",
                          {"LaunchTemplateId": current.physical_id})  # fmt: skip

    @staticmethod
    def _provisioned(made: dict[str, Any]) -> Provisioned:
        return Provisioned(made["LaunchTemplateId"], attributes={
            "LaunchTemplateId": made["LaunchTemplateId"],
            "DefaultVersionNumber": str(made["DefaultVersionNumber"]),
            "LatestVersionNumber": str(made["LatestVersionNumber"]),
        })  # fmt: skip


_INSTANCE_PASSTHROUGH = (
    "ImageId",
    "InstanceType",
    "KeyName",
    "SubnetId",
    "SecurityGroupIds",
    "SecurityGroups",
    "UserData",
    "BlockDeviceMappings",
    "PrivateIpAddress",
    "InstanceInitiatedShutdownBehavior",
    "EbsOptimized",
    "LaunchTemplate",
    "NetworkInterfaces",
    "PlacementGroupName",
    "Tenancy",
    "CreditSpecification",
    "MetadataOptions",
    "DisableApiTermination",
)


class Instance(ResourceType):
    type_name = "AWS::EC2::Instance"
    attributes = ("AvailabilityZone", "InstanceId", "PrivateDnsName", "PrivateIp",
                  "PublicDnsName", "PublicIp")  # fmt: skip
    replace_on = frozenset({"ImageId", "SubnetId", "AvailabilityZone", "KeyName",
                            "PrivateIpAddress", "NetworkInterfaces", "SecurityGroups",
                            "LaunchTemplate", "BlockDeviceMappings", "UserData",
                            "InstanceType"})  # fmt: skip

    async def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {k: props[k] for k in _INSTANCE_PASSTHROUGH
                                  if props.get(k) not in (None, "", [])}  # fmt: skip
        placement: dict[str, Any] = {}
        if props.get("AvailabilityZone"):
            placement["AvailabilityZone"] = props["AvailabilityZone"]
        if params.pop("PlacementGroupName", None):
            placement["GroupName"] = props["PlacementGroupName"]
        if params.pop("Tenancy", None):
            placement["Tenancy"] = props["Tenancy"]
        if placement:
            params["Placement"] = placement
        for key in ("EbsOptimized", "DisableApiTermination"):
            if key in params:
                params[key] = boolean(params[key])
        if props.get("Monitoring") is not None:
            params["Monitoring"] = {"Enabled": boolean(props["Monitoring"])}
        if props.get("IamInstanceProfile"):
            profile = str(props["IamInstanceProfile"])
            params["IamInstanceProfile"] = (
                {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
            )
        params.update(MinCount=1, MaxCount=1,
                      TagSpecifications=_specs(ctx, "instance", props))  # fmt: skip
        launched = ctx.call("ec2", "RunInstances", params)["Instances"][0]
        # CloudFormation reports the instance created once it runs.
        await _until_state(ctx, launched["InstanceId"], ("running",))
        return Provisioned(launched["InstanceId"], attributes={
            "InstanceId": launched["InstanceId"],
            "AvailabilityZone": launched["Placement"]["AvailabilityZone"],
            "PrivateDnsName": launched.get("PrivateDnsName", ""),
            "PrivateIp": launched.get("PrivateIpAddress", ""),
            "PublicDnsName": launched.get("PublicDnsName", ""),
            "PublicIp": launched.get("PublicIpAddress", ""),
        })  # fmt: skip

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        _retag(ctx, current.physical_id, props, old_props)
        if "DisableApiTermination" in props:
            ctx.call(
                "ec2",
                "ModifyInstanceAttribute",
                {
                    "InstanceId": current.physical_id,
                    "DisableApiTermination": {"Value": boolean(props["DisableApiTermination"])},
                },
            )
        return current

    async def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        done = ctx.call_ignoring(("InvalidInstanceID.NotFound",), "ec2", "TerminateInstances",
                                 {"InstanceIds": [current.physical_id]})  # fmt: skip
        if done is not None:
            # What the instance held (its subnet's addresses, its groups) is free only then.
            await _until_state(ctx, current.physical_id, ("terminated",))


async def _until_state(ctx: ResourceContext, instance_id: str, states: tuple[str, ...]) -> None:
    deadline = clock.now() + INSTANCE_WAIT
    while True:
        found = ctx.call_ignoring(("InvalidInstanceID.NotFound",), "ec2", "DescribeInstances",
                                  {"InstanceIds": [instance_id]})  # fmt: skip
        if found is None:
            return
        state = found["Reservations"][0]["Instances"][0]["State"]["Name"]
        if state in states:
            return
        if state in ("stopped", "terminated") or clock.now() > deadline:
            raise ResourceFailed(f"Instance {instance_id} is {state}, not {states[0]}")
        await asyncio.sleep(0.05)


class Volume(ResourceType):
    type_name = "AWS::EC2::Volume"
    attributes = ("VolumeId",)
    replace_on = frozenset({"AvailabilityZone", "SnapshotId", "Encrypted", "KmsKeyId"})
    required = ("AvailabilityZone",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        params: dict[str, Any] = {k: props[k] for k in ("AvailabilityZone", "SnapshotId",
                                                        "VolumeType", "KmsKeyId")
                                  if props.get(k)}  # fmt: skip
        for key in ("Size", "Iops", "Throughput"):
            if props.get(key) is not None:
                params[key] = integer(props[key])
        for key in ("Encrypted", "MultiAttachEnabled"):
            if props.get(key) is not None:
                params[key] = boolean(props[key])
        params["TagSpecifications"] = _specs(ctx, "volume", props)
        vid = ctx.call("ec2", "CreateVolume", params)["VolumeId"]
        return Provisioned(vid, attributes={"VolumeId": vid})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        change: dict[str, Any] = {"VolumeId": current.physical_id}
        for key in ("Size", "Iops", "Throughput"):
            if props.get(key) is not None and props.get(key) != old_props.get(key):
                change[key] = integer(props[key])
        if props.get("VolumeType") and props.get("VolumeType") != old_props.get("VolumeType"):
            change["VolumeType"] = props["VolumeType"]
        if len(change) > 1:
            ctx.call("ec2", "ModifyVolume", change)
        _retag(ctx, current.physical_id, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidVolume.NotFound",), "ec2", "DeleteVolume",
                          {"VolumeId": current.physical_id})  # fmt: skip


class VolumeAttachment(ResourceType):
    type_name = "AWS::EC2::VolumeAttachment"
    replace_on = frozenset({"InstanceId", "VolumeId", "Device"})
    required = ("InstanceId", "VolumeId")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        ctx.call(
            "ec2",
            "AttachVolume",
            {
                "InstanceId": props["InstanceId"],
                "VolumeId": props["VolumeId"],
                "Device": props.get("Device") or "/dev/sdf",
            },
        )
        return Provisioned(f"{props['VolumeId']}|{props['InstanceId']}")

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidVolume.NotFound", "IncorrectState",
                           "InvalidAttachment.NotFound"), "ec2", "DetachVolume",
                          {"VolumeId": props["VolumeId"],
                           "InstanceId": props["InstanceId"]})  # fmt: skip


class PlacementGroup(ResourceType):
    type_name = "AWS::EC2::PlacementGroup"
    attributes = ("GroupName",)
    replace_on = frozenset({"Strategy", "SpreadLevel", "PartitionCount"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = ctx.physical_name(255)
        params: dict[str, Any] = {"GroupName": name, "Strategy": props.get("Strategy") or
                                  "cluster"}  # fmt: skip
        if props.get("SpreadLevel"):
            params["SpreadLevel"] = props["SpreadLevel"]
        if props.get("PartitionCount") is not None:
            params["PartitionCount"] = integer(props["PartitionCount"])
        ctx.call("ec2", "CreatePlacementGroup", params)
        return Provisioned(name, attributes={"GroupName": name})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidPlacementGroup.Unknown",), "ec2", "DeletePlacementGroup",
                          {"GroupName": current.physical_id})  # fmt: skip


class EipAssociation(ResourceType):
    type_name = "AWS::EC2::EIPAssociation"
    attributes = ("Id",)
    replace_on = frozenset({"AllocationId", "EIP", "InstanceId", "NetworkInterfaceId",
                            "PrivateIpAddress"})  # fmt: skip

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        keys = ("AllocationId", "InstanceId", "NetworkInterfaceId", "PrivateIpAddress")
        params: dict[str, Any] = {k: props[k] for k in keys if props.get(k)}
        if props.get("EIP"):
            params["PublicIp"] = props["EIP"]
        association = ctx.call("ec2", "AssociateAddress", params)["AssociationId"]
        return Provisioned(association, attributes={"Id": association})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidAssociationID.NotFound",), "ec2", "DisassociateAddress",
                          {"AssociationId": current.physical_id})  # fmt: skip


class NetworkInterface(ResourceType):
    type_name = "AWS::EC2::NetworkInterface"
    attributes = ("Id", "PrimaryPrivateIpAddress", "SecondaryPrivateIpAddresses")
    replace_on = frozenset({"SubnetId", "PrivateIpAddress", "PrivateIpAddresses",
                            "SecondaryPrivateIpAddressCount", "InterfaceType"})  # fmt: skip
    required = ("SubnetId",)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        keys = ("SubnetId", "Description", "PrivateIpAddress", "InterfaceType")
        params: dict[str, Any] = {k: props[k] for k in keys if props.get(k)}
        if props.get("GroupSet"):
            params["Groups"] = props["GroupSet"]
        if props.get("PrivateIpAddresses"):
            params["PrivateIpAddresses"] = [
                {"PrivateIpAddress": a["PrivateIpAddress"], "Primary": boolean(a["Primary"])}
                for a in props["PrivateIpAddresses"]]  # fmt: skip
        if "SecondaryPrivateIpAddressCount" in props:
            params["SecondaryPrivateIpAddressCount"] = integer(
                props["SecondaryPrivateIpAddressCount"])  # fmt: skip
        params["TagSpecifications"] = _specs(ctx, "network-interface", props)
        eni = ctx.call("ec2", "CreateNetworkInterface", params)["NetworkInterface"]
        if "SourceDestCheck" in props:
            self._source_dest(ctx, eni["NetworkInterfaceId"], props)
        return self._provisioned(eni)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        eni = current.physical_id
        if props.get("Description") != old_props.get("Description"):
            description = {"Value": props.get("Description", "")}
            ctx.call("ec2", "ModifyNetworkInterfaceAttribute",
                     {"NetworkInterfaceId": eni, "Description": description})  # fmt: skip
        if props.get("GroupSet") and props.get("GroupSet") != old_props.get("GroupSet"):
            ctx.call("ec2", "ModifyNetworkInterfaceAttribute",
                     {"NetworkInterfaceId": eni, "Groups": props["GroupSet"]})  # fmt: skip
        if props.get("SourceDestCheck") != old_props.get("SourceDestCheck"):
            self._source_dest(ctx, eni, props)
        _retag(ctx, eni, props, old_props)
        found = ctx.call("ec2", "DescribeNetworkInterfaces", {"NetworkInterfaceIds": [eni]})
        return self._provisioned(found["NetworkInterfaces"][0])

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("InvalidNetworkInterfaceID.NotFound",), "ec2", "DeleteNetworkInterface",
                          {"NetworkInterfaceId": current.physical_id})  # fmt: skip

    @staticmethod
    def _source_dest(ctx: ResourceContext, eni: str, props: Props) -> None:
        check = boolean(props.get("SourceDestCheck", True))
        ctx.call("ec2", "ModifyNetworkInterfaceAttribute",
                 {"NetworkInterfaceId": eni, "SourceDestCheck": {"Value": check}})  # fmt: skip

    @staticmethod
    def _provisioned(eni: dict[str, Any]) -> Provisioned:
        addresses = eni.get("PrivateIpAddresses") or []
        secondary = [a["PrivateIpAddress"] for a in addresses if not a.get("Primary")]
        return Provisioned(eni["NetworkInterfaceId"], attributes={
            "Id": eni["NetworkInterfaceId"], "PrimaryPrivateIpAddress": eni["PrivateIpAddress"],
            "SecondaryPrivateIpAddresses": secondary})  # fmt: skip


class VpcEndpoint(ResourceType):
    type_name = "AWS::EC2::VPCEndpoint"
    attributes = ("CreationTimestamp", "DnsEntries", "Id", "NetworkInterfaceIds")
    # AWS changes an endpoint's policy, route tables, subnets and groups in place
    # (ModifyVpcEndpoint); nubes' EC2 has no such operation, so a change makes a new endpoint.
    replace_on = frozenset({"VpcId", "ServiceName", "VpcEndpointType", "PolicyDocument",
                            "RouteTableIds", "SubnetIds", "SecurityGroupIds",
                            "PrivateDnsEnabled"})  # fmt: skip
    required = ("VpcId", "ServiceName")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        keys = ("VpcId", "ServiceName", "VpcEndpointType", "RouteTableIds", "SubnetIds",
                "SecurityGroupIds")  # fmt: skip
        params: dict[str, Any] = {k: props[k] for k in keys if props.get(k)}
        if "PolicyDocument" in props:
            params["PolicyDocument"] = as_json(props["PolicyDocument"])
        if "PrivateDnsEnabled" in props:
            params["PrivateDnsEnabled"] = boolean(props["PrivateDnsEnabled"])
        params["TagSpecifications"] = _specs(ctx, "vpc-endpoint", props)
        endpoint = ctx.call("ec2", "CreateVpcEndpoint", params)["VpcEndpoint"]
        created = endpoint.get("CreationTimestamp")
        return Provisioned(endpoint["VpcEndpointId"], attributes={
            "CreationTimestamp": created.isoformat() if hasattr(created, "isoformat")
            else str(created),
            "DnsEntries": [f"{e.get('HostedZoneId', '')}:{e.get('DnsName', '')}"
                           for e in endpoint.get("DnsEntries") or []],
            "Id": endpoint["VpcEndpointId"],
            "NetworkInterfaceIds": list(endpoint.get("NetworkInterfaceIds") or [])})  # fmt: skip

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call("ec2", "DeleteVpcEndpoints", {"VpcEndpointIds": [current.physical_id]})


TYPES: dict[str, type[ResourceType]] = {
    cls.type_name: cls
    for cls in (Vpc, Subnet, InternetGateway, GatewayAttachment, RouteTable, Route,
                SubnetRouteTableAssociation, SecurityGroup, SecurityGroupIngress,
                SecurityGroupEgress, Eip, NatGateway, KeyPair, LaunchTemplate, Instance, Volume,
                VolumeAttachment, PlacementGroup, EipAssociation, NetworkInterface, VpcEndpoint)
}  # fmt: skip
