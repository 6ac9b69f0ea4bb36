"""Placement groups (cluster, spread, partition), known by name."""

from __future__ import annotations

from typing import Any

from nubes.core import arns
from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

PG_FILTERS = Filters(
    {
        "group-name": "GroupName",
        "group-arn": "GroupArn",
        "spread-level": "SpreadLevel",
        "state": "State",
        "strategy": "Strategy",
    }
)


class PlacementMixin(Ec2Base):
    def placement_group(self, scope: Scope, name: str) -> Record:
        for record in self.res.all(scope, "pg"):
            if record.doc["GroupName"] == name:
                return record
        raise errors("InvalidPlacementGroup.Unknown", f"The Placement Group '{name}' is unknown.")

    def create_placement_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        name = params.get("GroupName")
        if not name:
            raise errors("MissingParameter", "The request must contain the parameter groupName")
        strategy = params.get("Strategy")
        if strategy not in ("cluster", "spread", "partition"):
            raise errors(
                "InvalidParameterValue", f"Value ({strategy}) for parameter strategy is invalid."
            )
        doc: dict[str, Any] = {"GroupName": name, "State": "available", "Strategy": strategy}
        if strategy == "partition":
            count = params.get("PartitionCount") or 2
            if not 1 <= count <= 7:
                raise errors(
                    "InvalidParameterValue",
                    f"Value ({count}) for parameter partitionCount is invalid. It must "
                    "be between 1 and 7.",
                )
            doc["PartitionCount"] = count
        elif params.get("PartitionCount"):
            raise errors(
                "InvalidParameterCombination",
                "PartitionCount is only valid for the partition strategy",
            )
        if strategy == "spread":
            doc["SpreadLevel"] = params.get("SpreadLevel") or "rack"
        if any(r.doc["GroupName"] == name for r in self.res.all(scope, "pg")):
            raise errors(
                "InvalidPlacementGroup.Duplicate", f"The Placement Group '{name}' already exists."
            )
        tags = self.tag_specs(params, "placement-group")
        self.dry_run(params)
        gid = self.new_id("pg")
        doc["GroupId"] = gid
        doc["GroupArn"] = arns.arn("ec2", scope.region, scope.account, f"placement-group/{name}")
        record = Record("pg", gid, doc, {})
        self.save(scope, record)
        self.tag(scope, gid, tags)
        return {"PlacementGroup": self.with_tags(scope, [record])[0]}

    def delete_placement_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        group = self.placement_group(scope, params["GroupName"])
        if any(
            i.doc["Placement"].get("GroupName") == group.doc["GroupName"]
            and i.doc["State"]["Name"] != "terminated"
            for i in self.res.all(scope, "i")
        ):
            raise errors(
                "InvalidPlacementGroup.InUse",
                f"The placement group '{group.doc['GroupName']}' is in use.",
            )
        self.dry_run(params)
        self.res.delete(scope, "pg", group.id)
        return {}

    def describe_placement_groups(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        records = None
        if params.get("GroupNames"):
            records = [self.placement_group(scope, n) for n in params["GroupNames"]]
        elif params.get("GroupIds"):
            records = [self.find(scope, "pg", g) for g in params["GroupIds"]]
        docs, _ = self.describe_kind(scope, "pg", params, PG_FILTERS, None, records, page=False)
        return {"PlacementGroups": docs}
