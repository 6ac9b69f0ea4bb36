"""CreateTags / DeleteTags / DescribeTags over every taggable EC2 resource, known by its id."""

from __future__ import annotations

from typing import Any

from nubes.core.context import RequestContext
from nubes.services.ec2.common import KINDS, PREFIX_KIND
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.images import ImageMixin
from nubes.services.ec2.model import Scope

TAG_FILTERS = Filters(
    {"key": "Key", "resource-id": "ResourceId", "resource-type": "ResourceType", "value": "Value"},
    tags=False,
)
MAX_TAGS = 50


class TaggingMixin(ImageMixin):
    def _resource_type(self, scope: Scope, rid: str) -> str:
        prefix = rid.split("-", 1)[0]
        if prefix == "sgr":
            for group in self.res.all(scope, "sg"):
                if any(r["SecurityGroupRuleId"] == rid for r in group.meta["rules"]):
                    return "security-group-rule"
            raise errors(
                "InvalidSecurityGroupRuleId.NotFound",
                f"The security group rule ID '{rid}' does not exist",
            )
        kind = PREFIX_KIND.get(prefix)
        if kind is None or "-" not in rid:
            raise errors("InvalidID", f"The ID '{rid}' is not valid")
        if kind.name == "ami" and self.res.get(scope, "ami", rid) is None:
            self.image_record(scope, rid)
            return "image"
        self.find(scope, kind.name, rid)
        return KINDS[kind.name].resource_type

    def create_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        tags = {t.get("Key", ""): t.get("Value", "") for t in params.get("Tags") or ()}
        self.check_tags(tags, reserved_ok=getattr(params, "internal", False))
        resources = params.get("Resources") or []
        types = {rid: self._resource_type(scope, rid) for rid in resources}
        for rid in resources:
            current = {t["Key"] for t in self.tag_list(scope, rid)}
            if len(current | set(tags)) > MAX_TAGS:
                raise errors(
                    "TagLimitExceeded",
                    "The maximum number of Tags for a resource has been reached.",
                )
        self.dry_run(params)
        for rid, rtype in types.items():
            self.res.set_tags(scope, rid, rtype, tags)
        return {}

    def delete_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        resources = params.get("Resources") or []
        for rid in resources:
            self._resource_type(scope, rid)
        self.dry_run(params)
        for rid in resources:
            given = params.get("Tags")
            if not given:
                wanted: dict[str, str | None] = {t["Key"]: None for t in self.tag_list(scope, rid)}
            else:
                wanted = {t.get("Key", ""): t.get("Value") for t in given}
            self.res.remove_tags(scope, rid, wanted)
        return {}

    def describe_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        self.dry_run(params)
        check = TAG_FILTERS.compile(params.get("Filters"))
        docs = [
            {"ResourceId": rid, "ResourceType": rtype, "Key": key, "Value": value}
            for rid, rtype, key, value in self.res.all_tags(scope)
        ]
        docs = [d for d in docs if check(d)]
        limit = params.get("MaxResults") or 1000
        start = (
            int(params.get("NextToken") or 0)
            if str(params.get("NextToken") or "0").isdigit()
            else 0
        )
        page = docs[start : start + limit]
        out: dict[str, Any] = {"Tags": page}
        if start + limit < len(docs):
            out["NextToken"] = str(start + limit)
        return out
