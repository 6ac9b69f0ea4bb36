"""What every part of the EC2 provider shares: scopes (with the default network made on first
use), ids, lookups that fail with AWS's NotFound codes, Describe* with filters and paging,
tags from TagSpecifications, and dry runs."""

from __future__ import annotations

import functools
import inspect
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nubes.core import clock, ids
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.protocol import timestamps
from nubes.services.base import ServiceProvider
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Resources, Scope


@dataclass(frozen=True)
class Kind:
    name: str
    prefix: str
    id_field: str
    not_found: str
    noun: str
    """How AWS's messages name it: "The vpc ID 'vpc-1' does not exist"."""
    resource_type: str
    """Its TagSpecifications / DescribeTags resource type."""
    malformed: str | None = None


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "vpc", "vpc", "VpcId", "InvalidVpcID.NotFound", "vpc", "vpc", "InvalidVpcID.Malformed"
        ),
        Kind(
            "subnet",
            "subnet",
            "SubnetId",
            "InvalidSubnetID.NotFound",
            "subnet",
            "subnet",
            "InvalidSubnetID.Malformed",
        ),
        Kind(
            "sg",
            "sg",
            "GroupId",
            "InvalidGroup.NotFound",
            "security group",
            "security-group",
            "InvalidGroupId.Malformed",
        ),
        Kind(
            "rtb",
            "rtb",
            "RouteTableId",
            "InvalidRouteTableID.NotFound",
            "route table",
            "route-table",
            "InvalidRouteTableId.Malformed",
        ),
        Kind(
            "igw",
            "igw",
            "InternetGatewayId",
            "InvalidInternetGatewayID.NotFound",
            "internet gateway",
            "internet-gateway",
            "InvalidInternetGatewayID.Malformed",
        ),
        Kind("nat", "nat", "NatGatewayId", "NatGatewayNotFound", "nat gateway", "natgateway"),
        Kind(
            "acl",
            "acl",
            "NetworkAclId",
            "InvalidNetworkAclID.NotFound",
            "network ACL",
            "network-acl",
        ),
        Kind(
            "pcx",
            "pcx",
            "VpcPeeringConnectionId",
            "InvalidVpcPeeringConnectionID.NotFound",
            "vpc peering connection",
            "vpc-peering-connection",
            "InvalidVpcPeeringConnectionID.Malformed",
        ),
        Kind(
            "vpce",
            "vpce",
            "VpcEndpointId",
            "InvalidVpcEndpointId.NotFound",
            "vpc endpoint",
            "vpc-endpoint",
        ),
        Kind(
            "eni",
            "eni",
            "NetworkInterfaceId",
            "InvalidNetworkInterfaceID.NotFound",
            "network interface",
            "network-interface",
        ),
        Kind(
            "eipalloc",
            "eipalloc",
            "AllocationId",
            "InvalidAllocationID.NotFound",
            "allocation",
            "elastic-ip",
            "InvalidAllocationID.Malformed",
        ),
        Kind("key", "key", "KeyPairId", "InvalidKeyPair.NotFound", "key pair", "key-pair"),
        Kind(
            "pg",
            "pg",
            "GroupId",
            "InvalidPlacementGroup.Unknown",
            "placement group",
            "placement-group",
        ),
        Kind(
            "ami",
            "ami",
            "ImageId",
            "InvalidAMIID.NotFound",
            "image",
            "image",
            "InvalidAMIID.Malformed",
        ),
        Kind(
            "i",
            "i",
            "InstanceId",
            "InvalidInstanceID.NotFound",
            "instance",
            "instance",
            "InvalidInstanceID.Malformed",
        ),
        Kind(
            "vol",
            "vol",
            "VolumeId",
            "InvalidVolume.NotFound",
            "volume",
            "volume",
            "InvalidVolumeID.Malformed",
        ),
        Kind(
            "snap",
            "snap",
            "SnapshotId",
            "InvalidSnapshot.NotFound",
            "snapshot",
            "snapshot",
            "InvalidSnapshotID.Malformed",
        ),
        Kind(
            "lt",
            "lt",
            "LaunchTemplateId",
            "InvalidLaunchTemplateId.NotFound",
            "launch template",
            "launch-template",
            "InvalidLaunchTemplateId.Malformed",
        ),
        Kind(
            "dopt",
            "dopt",
            "DhcpOptionsId",
            "InvalidDhcpOptionID.NotFound",
            "dhcp options",
            "dhcp-options",
        ),
    )
}

PREFIX_KIND = {k.prefix: k for k in KINDS.values()}
"""Id prefix -> kind (CreateTags and DescribeTags work from the id alone)."""

_ID = re.compile(r"^[a-z]+-[0-9a-f]{8}([0-9a-f]{9})?$")

Resolver = Callable[[Scope, list[Record]], list[dict[str, Any]]]


def now_iso() -> str:
    """Now as text, for the fields AWS models as strings (an image's CreationDate)."""
    return timestamps.iso8601(clock.now())


def stamp() -> float:
    """Now for timestamp fields: kept as epoch seconds, which the serializer writes without
    parsing text again (DescribeInstances of 1,000 instances has thousands of them)."""
    return clock.now()


def network(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        return None


class Params(dict[str, Any]):
    """A request's parameters: reading one the request lacks (``params["SubnetId"]``) is
    EC2's MissingParameter, whatever the model says is required (EC2 checks it itself).
    ``internal``: the call comes from another AWS service in-process (Auto Scaling tagging
    its instances ``aws:autoscaling:groupName``), which may use what users may not."""

    internal = False

    def __missing__(self, key: str) -> Any:
        raise errors("MissingParameter", f"The request must contain the parameter {key}")


def _with_params(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def operation(self: Any, ctx: RequestContext, params: dict[str, Any]) -> Any:
        wrapped = Params(params)
        wrapped.internal = ctx.protocol == "internal" or getattr(params, "internal", False)
        return method(self, ctx, wrapped)

    return operation


class Ec2Base(ServiceProvider):
    """The helpers of every EC2 mixin."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            parameters = list(inspect.signature(value).parameters)
            if parameters[1:3] == ["ctx", "params"] and len(parameters) == 3:
                setattr(cls, name, _with_params(value))

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.res = Resources(self.store)
        self._ready: set[Scope] = set()

    def reset(self) -> None:
        self._ready.clear()

    # -- scopes -------------------------------------------------------------------------

    def scope(self, ctx: RequestContext) -> Scope:
        """The account and region of a request, with its default network in place."""
        return self.scope_of(ctx.account_id, ctx.region)

    def scope_of(self, account: str, region: str) -> Scope:
        scope = Scope(account, region)
        if scope not in self._ready:
            if self.res.claim_scope(scope):
                # Made in this request's transaction, which may still roll back (a failed
                # or dry-run request): only a later request may take it as done.
                self.create_default_network(scope)
            else:
                self._ready.add(scope)
        return scope

    def create_default_network(self, scope: Scope) -> None:
        """Made once per account and region, as AWS made it when the account was opened."""
        raise NotImplementedError

    # -- ids and lookups ----------------------------------------------------------------

    @staticmethod
    def new_id(prefix: str) -> str:
        return f"{prefix}-{ids.short_id(17)}"

    def check_id(self, kind: str, rid: str) -> None:
        k = KINDS[kind]
        if not rid.startswith(k.prefix + "-") or not _ID.match(rid):
            code = k.malformed or k.not_found
            raise errors(code, f'Invalid id: "{rid}" (expecting "{k.prefix}-...")')

    def find(self, scope: Scope, kind: str, rid: str) -> Record:
        record = self.res.get(scope, kind, rid) if rid else None
        if record is None:
            k = KINDS[kind]
            raise errors(k.not_found, f"The {k.noun} ID '{rid}' does not exist")
        return record

    def save(self, scope: Scope, record: Record) -> None:
        self.res.put(scope, record)

    @staticmethod
    def dry_run(params: dict[str, Any]) -> None:
        """Called once a request is known to be allowed and valid: with DryRun, stop there."""
        if params.get("DryRun"):
            raise errors("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")

    # -- describe -----------------------------------------------------------------------

    def with_tags(self, scope: Scope, records: Sequence[Record]) -> list[dict[str, Any]]:
        tags = self.res.tags_of(scope, [r.id for r in records])
        return [{**r.doc, "Tags": tags.get(r.id, [])} for r in records]

    def describe_kind(
        self,
        scope: Scope,
        kind: str,
        params: dict[str, Any],
        filters: Filters,
        ids_param: str | None = None,
        records: list[Record] | None = None,
        render: Resolver | None = None,
        page: bool = True,
        default_limit: int = 1000,
        min_limit: int = 5,
        shared: bool = True,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Documents of ``kind`` matching the ids, filters and page of a Describe* call
        (``shared``: the render only reads the records, see ``Resources.all``)."""
        self.dry_run(params)
        wanted = list(params.get(ids_param) or ()) if ids_param else []
        limit = params.get("MaxResults")
        if limit is not None and page:
            if wanted:
                raise errors(
                    "InvalidParameterCombination",
                    f"The parameter {ids_param} cannot be used with the parameter maxResults",
                )
            if not min_limit <= limit <= default_limit:
                raise errors(
                    "InvalidParameterValue",
                    f"Value ( {limit} ) for parameter maxResults is invalid. Parameter must be "
                    f"between {min_limit} and {default_limit}.",
                )
        check = filters.compile(params.get("Filters"))
        if records is None:
            if wanted:
                records = []
                for rid in dict.fromkeys(wanted):
                    records.append(self.find(scope, kind, rid))
            else:
                records = self.res.all(scope, kind, shared=shared)
        docs = render(scope, records) if render else self.with_tags(scope, records)
        matched = [d for d in docs if check(d)]
        if not page:
            return matched, None
        after = params.get("NextToken")
        start = 0
        if after:
            try:
                position = decode_token(after)
            except InvalidToken:
                raise errors("InvalidNextToken", "The token is invalid.") from None
            start = int(position) if isinstance(position, int) else 0
        size = limit or len(matched) or 1
        chunk = matched[start : start + size]
        more = start + size < len(matched)
        return chunk, encode_token(start + size) if more else None

    # -- tags ---------------------------------------------------------------------------

    def tag_specs(
        self, params: dict[str, Any], resource_type: str, key: str = "TagSpecifications"
    ) -> dict[str, str]:
        """Tags a create call asks for its resource type; other types are an error."""
        tags: dict[str, str] = {}
        for spec in params.get(key) or ():
            rtype = spec.get("ResourceType")
            if rtype and rtype != resource_type:
                continue
            for tag in spec.get("Tags") or ():
                tags[tag.get("Key", "")] = tag.get("Value", "")
        self.check_tags(tags, reserved_ok=getattr(params, "internal", False))
        return tags

    @staticmethod
    def check_tags(tags: dict[str, str], reserved_ok: bool = False) -> None:
        for key, value in tags.items():
            if not key or len(key) > 128:
                raise errors(
                    "InvalidParameterValue", "Tag keys must be between 1 and 128 characters"
                )
            if key.lower().startswith("aws:") and not reserved_ok:
                raise errors(
                    "InvalidParameterValue",
                    "Tag keys starting with 'aws:' are reserved for internal use",
                )
            if len(value) > 256:
                raise errors("InvalidParameterValue", "Tag values can be at most 256 characters")
        if len(tags) > 50:
            raise errors(
                "TagLimitExceeded", "The maximum number of Tags for a resource has been reached."
            )

    def tag(self, scope: Scope, rid: str, tags: dict[str, str]) -> None:
        if tags:
            kind = PREFIX_KIND.get(rid.split("-", 1)[0])
            self.res.set_tags(scope, rid, kind.resource_type if kind else "", tags)

    def tag_list(self, scope: Scope, rid: str) -> list[dict[str, str]]:
        return self.res.tags_of(scope, [rid]).get(rid, [])


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
