"""Cache subnet groups (subnets checked with EC2), cache parameter groups (each family's default
group, custom groups whose changes reach running nodes with CONFIG SET) and engine versions."""

from __future__ import annotations

from typing import Any

from nubes.protocol.base import ServiceError
from nubes.runtime.elasticache.resp import RespError, command
from nubes.services.elasticache.catalogue import (
    DEFAULT_VERSION,
    ENGINE_DESCRIPTION,
    FAMILIES,
    VERSIONS,
    family_parameters,
)
from nubes.services.elasticache.errors import errors
from nubes.services.elasticache.events import Events
from nubes.services.elasticache.records import Scope, public

Json = dict[str, Any]


ADMIN = "nubes"
"""The user nubes signs in as on nodes that have users (RBAC): the default user may be off."""


def credentials(doc: Json) -> tuple[str | None, str | None]:
    """Who nubes signs in as on a cluster's nodes: its admin user, or the auth token."""
    if doc.get("_admin"):
        return ADMIN, doc["_admin"]
    return None, doc.get("_auth")


def send(doc: Json, *args: str | int) -> list[Any]:
    """Send one command to every node of a cluster; each node's reply (or its error)."""
    out: list[Any] = []
    username, password = credentials(doc)
    for node in doc["CacheNodes"]:
        try:
            port = node["Endpoint"]["Port"]
            out.append(command(port, *args, password=password, username=username))
        except (OSError, RespError) as exc:
            out.append(exc)
    return out


class Groups(Events):
    # -- subnet groups --------------------------------------------------------------------

    def _subnet_group(self, ctx: Scope, name: str) -> Json:
        doc = self._get(ctx, "subnetgroup", name.lower())
        if doc is None:
            raise errors.CacheSubnetGroupNotFoundFault(f"CacheSubnetGroup {name} not found.")
        return doc

    def _subnet_group_for(self, ctx: Scope, name: str | None) -> str | None:
        return None if name is None else self._subnet_group(ctx, name)["CacheSubnetGroupName"]

    def _subnets(self, ctx: Scope, ids: list[str]) -> tuple[str, list[Json]]:
        if not ids:
            raise errors.InvalidParameterValueException("At least one subnet must be given.")
        try:
            found = self.env.providers.invoke(
                "ec2", "DescribeSubnets", {"SubnetIds": ids}, ctx.account_id, ctx.region
            )["Subnets"]
        except ServiceError as exc:
            raise errors.InvalidSubnet(exc.message) from exc
        vpcs = {s["VpcId"] for s in found}
        if len(vpcs) != 1:
            raise errors.InvalidSubnet("The subnets must all be in the same VPC.")
        subnets = [
            {
                "SubnetIdentifier": s["SubnetId"],
                "SubnetAvailabilityZone": {"Name": s["AvailabilityZone"]},
                "SupportedNetworkTypes": ["ipv4"],
            }
            for s in found
        ]
        return vpcs.pop(), subnets

    def create_cache_subnet_group(self, ctx: Scope, req: Json) -> Json:
        name = req["CacheSubnetGroupName"].lower()
        if self._get(ctx, "subnetgroup", name) is not None:
            raise errors.CacheSubnetGroupAlreadyExistsFault(
                f"Cache subnet group {name} already exists."
            )
        vpc, subnets = self._subnets(ctx, req["SubnetIds"])
        doc = {
            "CacheSubnetGroupName": name,
            "CacheSubnetGroupDescription": req["CacheSubnetGroupDescription"],
            "VpcId": vpc,
            "Subnets": subnets,
            "ARN": self._arn(ctx, "subnetgroup", name),
            "SupportedNetworkTypes": ["ipv4"],
        }
        self._tag_new(doc["ARN"], req.get("Tags"))
        self._put(ctx, "subnetgroup", name, doc)
        return {"CacheSubnetGroup": doc}

    def describe_cache_subnet_groups(self, ctx: Scope, req: Json) -> Json:
        if req.get("CacheSubnetGroupName"):
            docs = [self._subnet_group(ctx, req["CacheSubnetGroupName"])]
        else:
            docs = self._all(ctx, "subnetgroup")
        page, marker = self._page(docs, req, "CacheSubnetGroupName")
        return {"CacheSubnetGroups": page, **({"Marker": marker} if marker else {})}

    def modify_cache_subnet_group(self, ctx: Scope, req: Json) -> Json:
        doc = self._subnet_group(ctx, req["CacheSubnetGroupName"])
        if "CacheSubnetGroupDescription" in req:
            doc["CacheSubnetGroupDescription"] = req["CacheSubnetGroupDescription"]
        if req.get("SubnetIds"):
            vpc, subnets = self._subnets(ctx, req["SubnetIds"])
            if vpc != doc["VpcId"] and self._subnet_group_used(ctx, doc["CacheSubnetGroupName"]):
                raise errors.InvalidSubnet("The new subnets must be in the group's VPC.")
            doc["VpcId"], doc["Subnets"] = vpc, subnets
        self._put(ctx, "subnetgroup", doc["CacheSubnetGroupName"], doc)
        return {"CacheSubnetGroup": doc}

    def _subnet_group_used(self, ctx: Scope, name: str) -> bool:
        return any(c.get("CacheSubnetGroupName") == name for c in self._all(ctx, "cluster"))

    def delete_cache_subnet_group(self, ctx: Scope, req: Json) -> Json:
        doc = self._subnet_group(ctx, req["CacheSubnetGroupName"])
        if self._subnet_group_used(ctx, doc["CacheSubnetGroupName"]):
            raise errors.CacheSubnetGroupInUse(
                f"Cache subnet group {doc['CacheSubnetGroupName']} is currently in use by a "
                "cache cluster."
            )
        self._drop(ctx, "subnetgroup", doc["CacheSubnetGroupName"])
        self.env.tags.drop(doc["ARN"])
        return {}

    # -- parameter groups -----------------------------------------------------------------

    def _parameter_group(self, ctx: Scope, name: str) -> Json:
        if name.startswith("default.") and name[len("default.") :] in FAMILIES:
            family = name[len("default.") :]
            return {
                "CacheParameterGroupName": name,
                "CacheParameterGroupFamily": family,
                "Description": f"Default parameter group for {family}",
                "IsGlobal": False,
                "ARN": self._arn(ctx, "parametergroup", name),
                "_values": {},
            }
        doc = self._get(ctx, "parametergroup", name.lower())
        if doc is None:
            raise errors.CacheParameterGroupNotFoundFault(f"CacheParameterGroup {name} not found.")
        return doc

    def _parameter_group_for(self, ctx: Scope, name: str | None, family: str) -> str:
        if name is None:
            return f"default.{family}"
        doc = self._parameter_group(ctx, name)
        if doc["CacheParameterGroupFamily"] != family:
            raise errors.InvalidParameterCombinationException(
                f"The parameter group {name} of family {doc['CacheParameterGroupFamily']} "
                f"does not match the cluster's engine family {family}."
            )
        name_out: str = doc["CacheParameterGroupName"]
        return name_out

    def _parameters(self, doc: Json) -> list[Json]:
        values = doc["_values"]
        out = []
        for p in family_parameters(doc["CacheParameterGroupFamily"]):
            if p["ParameterName"] in values:
                p = {**p, "ParameterValue": values[p["ParameterName"]], "Source": "user"}
            out.append(p)
        return out

    def _parameter_values(self, ctx: Scope, status: Json) -> dict[str, str]:
        """The redis.conf values of a cluster's parameter group."""
        doc = self._parameter_group(ctx, status["CacheParameterGroupName"])
        if doc["CacheParameterGroupFamily"].startswith("memcached"):
            return {}
        return {p["ParameterName"]: p["ParameterValue"] for p in self._parameters(doc)}

    def _apply_parameters(self, ctx: Scope, cluster: Json) -> None:
        """Set the group's immediate parameters on the cluster's running nodes; parameters that
        need a reboot wait for it (pending-reboot)."""
        group = self._parameter_group(
            ctx, cluster["CacheParameterGroup"]["CacheParameterGroupName"]
        )
        pending = False
        for p in self._parameters(group):
            if p["ChangeType"] == "immediate" and p["IsModifiable"]:
                send(cluster, "CONFIG", "SET", p["ParameterName"], p["ParameterValue"])
            elif p["Source"] == "user":
                pending = True
        status = cluster["CacheParameterGroup"]
        status["ParameterApplyStatus"] = "pending-reboot" if pending else "in-sync"
        status["CacheNodeIdsToReboot"] = (
            [n["CacheNodeId"] for n in cluster["CacheNodes"]] if pending else []
        )

    def create_cache_parameter_group(self, ctx: Scope, req: Json) -> Json:
        name = req["CacheParameterGroupName"].lower()
        family = req["CacheParameterGroupFamily"]
        if family not in FAMILIES:
            raise errors.InvalidParameterValueException(
                f"Invalid value for CacheParameterGroupFamily: {family}"
            )
        if name.startswith("default.") or self._get(ctx, "parametergroup", name) is not None:
            raise errors.CacheParameterGroupAlreadyExistsFault(
                f"Cache Parameter Group {name} already exists."
            )
        doc = {
            "CacheParameterGroupName": name,
            "CacheParameterGroupFamily": family,
            "Description": req["Description"],
            "IsGlobal": False,
            "ARN": self._arn(ctx, "parametergroup", name),
            "_values": {},
        }
        self._tag_new(doc["ARN"], req.get("Tags"))
        self._put(ctx, "parametergroup", name, doc)
        return {"CacheParameterGroup": public(doc)}

    def describe_cache_parameter_groups(self, ctx: Scope, req: Json) -> Json:
        if req.get("CacheParameterGroupName"):
            docs = [self._parameter_group(ctx, req["CacheParameterGroupName"])]
        else:
            defaults = [self._parameter_group(ctx, f"default.{f}") for f in FAMILIES]
            docs = sorted(
                defaults + self._all(ctx, "parametergroup"),
                key=lambda d: d["CacheParameterGroupName"],
            )
        page, marker = self._page(docs, req, "CacheParameterGroupName")
        return {
            "CacheParameterGroups": [public(d) for d in page],
            **({"Marker": marker} if marker else {}),
        }

    def describe_cache_parameters(self, ctx: Scope, req: Json) -> Json:
        doc = self._parameter_group(ctx, req["CacheParameterGroupName"])
        params = self._parameters(doc)
        if req.get("Source"):
            params = [p for p in params if p["Source"] == req["Source"]]
        page, marker = self._page(params, req, "ParameterName")
        return {
            "Parameters": page,
            "CacheNodeTypeSpecificParameters": [],
            **({"Marker": marker} if marker else {}),
        }

    def describe_engine_default_parameters(self, ctx: Scope, req: Json) -> Json:
        family = req["CacheParameterGroupFamily"]
        if family not in FAMILIES:
            raise errors.InvalidParameterValueException(
                f"Invalid value for CacheParameterGroupFamily: {family}"
            )
        page, marker = self._page(family_parameters(family), req, "ParameterName")
        return {
            "EngineDefaults": {
                "CacheParameterGroupFamily": family,
                "Parameters": page,
                "CacheNodeTypeSpecificParameters": [],
                **({"Marker": marker} if marker else {}),
            }
        }

    def _custom_group(self, ctx: Scope, name: str) -> Json:
        doc = self._parameter_group(ctx, name)
        if doc["CacheParameterGroupName"].startswith("default."):
            raise errors.InvalidCacheParameterGroupStateFault(
                f"Default parameter group {name} cannot be modified or deleted."
            )
        return doc

    def _store_group(self, ctx: Scope, doc: Json) -> None:
        name = doc["CacheParameterGroupName"]
        self._put(ctx, "parametergroup", name, doc)
        for cluster in self._all(ctx, "cluster"):
            if cluster["CacheParameterGroup"]["CacheParameterGroupName"] == name:
                self._apply_parameters(ctx, cluster)
                self._put(ctx, "cluster", cluster["CacheClusterId"], cluster)

    def modify_cache_parameter_group(self, ctx: Scope, req: Json) -> Json:
        doc = self._custom_group(ctx, req["CacheParameterGroupName"])
        known = {p["ParameterName"]: p for p in family_parameters(doc["CacheParameterGroupFamily"])}
        for item in req["ParameterNameValues"]:
            name, value = item.get("ParameterName", ""), item.get("ParameterValue", "")
            spec = known.get(name)
            if spec is None:
                raise errors.InvalidParameterValueException(
                    f"Parameter {name} is not a valid parameter for this family."
                )
            if not spec["IsModifiable"]:
                raise errors.InvalidParameterValueException(
                    f"Unmodifiable parameter: {name}. Parameter {name} is not modifiable."
                )
            if not _allowed(spec, value):
                raise errors.InvalidParameterValueException(
                    f"Value '{value}' for parameter {name} is not valid. Allowed values: "
                    f"{spec.get('AllowedValues')}"
                )
            doc["_values"][name] = value
        self._store_group(ctx, doc)
        return {"CacheParameterGroupName": doc["CacheParameterGroupName"]}

    def reset_cache_parameter_group(self, ctx: Scope, req: Json) -> Json:
        doc = self._custom_group(ctx, req["CacheParameterGroupName"])
        if req.get("ResetAllParameters"):
            doc["_values"] = {}
        else:
            for item in req.get("ParameterNameValues") or []:
                doc["_values"].pop(item.get("ParameterName", ""), None)
        self._store_group(ctx, doc)
        return {"CacheParameterGroupName": doc["CacheParameterGroupName"]}

    def delete_cache_parameter_group(self, ctx: Scope, req: Json) -> Json:
        doc = self._custom_group(ctx, req["CacheParameterGroupName"])
        name = doc["CacheParameterGroupName"]
        if any(
            c["CacheParameterGroup"]["CacheParameterGroupName"] == name
            for c in self._all(ctx, "cluster")
        ):
            raise errors.InvalidCacheParameterGroupStateFault(
                f"Cache parameter group {name} is in use by a cache cluster."
            )
        self._drop(ctx, "parametergroup", name)
        self.env.tags.drop(doc["ARN"])
        return {}

    # -- engine versions ------------------------------------------------------------------

    def describe_cache_engine_versions(self, ctx: Scope, req: Json) -> Json:
        versions = [
            {
                "Engine": v.engine,
                "EngineVersion": v.version,
                "CacheParameterGroupFamily": v.family,
                "CacheEngineDescription": ENGINE_DESCRIPTION[v.engine],
                "CacheEngineVersionDescription": v.description,
                "_key": f"{v.engine}/{v.version}",
            }
            for v in VERSIONS
            if (not req.get("Engine") or v.engine == req["Engine"])
            and (not req.get("EngineVersion") or v.version == req["EngineVersion"])
            and (
                not req.get("CacheParameterGroupFamily")
                or v.family == req["CacheParameterGroupFamily"]
            )
        ]
        if req.get("DefaultOnly"):
            versions = [v for v in versions if DEFAULT_VERSION[v["Engine"]] == v["EngineVersion"]]
        page, marker = self._page(versions, req, "_key")
        return {
            "CacheEngineVersions": [public(v) for v in page],
            **({"Marker": marker} if marker else {}),
        }


def _allowed(spec: Json, value: str) -> bool:
    allowed = spec.get("AllowedValues")
    if not allowed:
        return True
    if spec["DataType"] == "string":
        return value in allowed.split(",")
    try:
        number = int(value)
    except ValueError:
        return False
    for part in allowed.split(","):
        low, _, high = part.partition("-")
        if not _ and int(part) == number:
            return True
        if _ and (not low or number >= int(low)) and (not high or number <= int(high)):
            return True
    return False
