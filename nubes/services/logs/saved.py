"""Account-level CloudWatch Logs documents nubes keeps without acting on them: saved Logs
Insights query definitions, resource policies (who may write to log groups, e.g. EventBridge),
and subscription destinations for cross-account delivery."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock, safejson
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.services.logs.errors import errors
from nubes.services.logs.models import Scope

if TYPE_CHECKING:
    from nubes.services.logs.models import DocumentsModel

MAX_RESOURCE_POLICIES = 10


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


def _now_ms() -> int:
    return int(clock.now() * 1000)


class SavedDocuments:
    """Mixed into the Logs provider."""

    documents: DocumentsModel
    env: Any

    # -- query definitions ------------------------------------------------------------------

    def put_query_definition(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        definition_id = req.get("queryDefinitionId") or str(uuid.uuid4())
        if req.get("queryDefinitionId") and not self.documents.get(
            scope, "query-definition", definition_id
        ):
            raise errors.ResourceNotFoundException("The query definition does not exist.")
        doc = {
            "queryLanguage": req.get("queryLanguage") or "CWLI",
            "queryDefinitionId": definition_id,
            "name": req["name"],
            "queryString": req["queryString"],
            "lastModified": _now_ms(),
            "logGroupNames": req.get("logGroupNames") or [],
        }
        self.documents.put(scope, "query-definition", definition_id, doc)
        return {"queryDefinitionId": definition_id}

    def describe_query_definitions(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        prefix = req.get("queryDefinitionNamePrefix") or ""
        found = [
            d
            for d in self.documents.listing(_scope(ctx), "query-definition")
            if d["name"].startswith(prefix)
        ]
        found.sort(key=lambda d: d["name"])
        return {"queryDefinitions": found[: req.get("maxResults") or 1000]}

    def delete_query_definition(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        deleted = self.documents.delete(_scope(ctx), "query-definition", req["queryDefinitionId"])
        if not deleted:
            raise errors.ResourceNotFoundException("The query definition does not exist.")
        return {"success": True}

    # -- resource policies -----------------------------------------------------------------

    def put_resource_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        name = req.get("policyName") or ""
        document = req.get("policyDocument") or ""
        if not name or not document:
            raise errors.InvalidParameterException("policyName and policyDocument are required.")
        try:
            safejson.loads(document)
        except ValueError:
            raise errors.InvalidParameterException("Invalid policy document.") from None
        existing = self.documents.get(scope, "resource-policy", name)
        if (
            req.get("expectedRevisionId")
            and (existing or {}).get("revisionId") != req["expectedRevisionId"]
        ):
            raise errors.OperationAbortedException("The revision id does not match.")
        policies = self.documents.listing(scope, "resource-policy")
        if existing is None and len(policies) >= MAX_RESOURCE_POLICIES:
            raise errors.LimitExceededException("Resource limit exceeded.")
        policy = {
            "policyName": name,
            "policyDocument": document,
            "lastUpdatedTime": _now_ms(),
            "policyScope": "ACCOUNT",
            "revisionId": str(uuid.uuid4()),
        }
        self.documents.put(scope, "resource-policy", name, policy)
        return {"resourcePolicy": policy, "revisionId": policy["revisionId"]}

    def describe_resource_policies(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return {"resourcePolicies": self.documents.listing(_scope(ctx), "resource-policy")}

    def delete_resource_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        if not self.documents.delete(_scope(ctx), "resource-policy", req.get("policyName") or ""):
            raise errors.ResourceNotFoundException("Policy with that name does not exist.")
        return {}

    # -- destinations ----------------------------------------------------------------------

    def put_destination(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        name = req["destinationName"]
        existing = self.documents.get(scope, "destination", name) or {}
        doc = {
            "destinationName": name,
            "targetArn": req["targetArn"],
            "roleArn": req["roleArn"],
            "arn": arn("logs", scope.region, scope.account, f"destination:{name}"),
            "creationTime": existing.get("creationTime") or _now_ms(),
        }
        if existing.get("accessPolicy"):
            doc["accessPolicy"] = existing["accessPolicy"]
        self.documents.put(scope, "destination", name, doc)
        if req.get("tags"):
            self.env.tags.set(doc["arn"], req["tags"])
        return {"destination": doc}

    def put_destination_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        doc = self.documents.get(scope, "destination", req["destinationName"])
        if doc is None:
            raise errors.ResourceNotFoundException("The specified destination does not exist.")
        doc["accessPolicy"] = req["accessPolicy"]
        self.documents.put(scope, "destination", req["destinationName"], doc)
        return {}

    def describe_destinations(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        prefix = req.get("DestinationNamePrefix") or ""
        found = [
            d
            for d in self.documents.listing(_scope(ctx), "destination")
            if d["destinationName"].startswith(prefix)
        ]
        return {"destinations": found[: req.get("limit") or 50]}

    def delete_destination(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = _scope(ctx)
        doc = self.documents.get(scope, "destination", req["destinationName"])
        if doc is None:
            raise errors.ResourceNotFoundException("The specified destination does not exist.")
        self.documents.delete(scope, "destination", req["destinationName"])
        self.env.tags.drop(doc["arn"])
        return {}
