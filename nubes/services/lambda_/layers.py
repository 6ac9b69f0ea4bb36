"""Lambda layers: published versions of a zip that functions mount under their ``/opt``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import parse_arn, partition_of, root_arn
from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError
from nubes.services.lambda_ import configuration as cfg
from nubes.services.lambda_.code import sha256_b64
from nubes.services.lambda_.code_urls import CodeUrls
from nubes.services.lambda_.errors import errors
from nubes.services.lambda_.models import Scope

if TYPE_CHECKING:
    from nubes.services.lambda_.models import LambdaModel

MAX_LAYERS = 5


def _layer_not_found() -> ServiceError:
    return errors.ResourceNotFoundException(
        "The resource you requested does not exist.", Type="User"
    )


class Layers:
    """Mixed into the Lambda provider."""

    model: LambdaModel
    env: Any
    blobs: Any
    code_urls: CodeUrls

    def _code_bytes(self, ctx: RequestContext, code: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def _layer_name(self, ctx: RequestContext, name_or_arn: str) -> tuple[Scope, str]:
        if name_or_arn.startswith("arn:"):
            found = parse_arn(name_or_arn)
            return Scope(found.account, found.region), found.resource.split(":")[1]
        return Scope(ctx.account_id, ctx.region), name_or_arn

    def _layer_doc(self, ctx: RequestContext, scope: Scope, row: Any) -> dict[str, Any]:
        doc = dict(json.loads(row["doc"]))
        doc["Content"] = {
            **doc["Content"],
            "Location": self.code_urls.location(
                ctx.base_url, scope.region, scope.account, row["name"], row["code_blob"], True
            ),
        }
        return doc

    def publish_layer_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        data = self._code_bytes(ctx, req["Content"])
        info = self.blobs.write_bytes(data)
        version = self.model.next_layer_version(scope, name)
        doc: dict[str, Any] = {
            "Content": {"CodeSha256": sha256_b64(data), "CodeSize": info.size},
            "LayerArn": scope.layer_arn(name),
            "LayerVersionArn": scope.layer_arn(name, version),
            "Description": req.get("Description") or "",
            "CreatedDate": cfg.timestamp(clock.now()),
            "Version": version,
        }
        for member in ("CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if req.get(member):
                doc[member] = req[member]
        self.model.put_layer(scope, name, version, doc, info.blob_id)
        return self._layer_doc(ctx, scope, self.model.layer(scope, name, version))

    def get_layer_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        row = self.model.layer(scope, name, req["VersionNumber"])
        if row is None:
            raise _layer_not_found()
        return self._layer_doc(ctx, scope, row)

    def get_layer_version_by_arn(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        found = parse_arn(req["Arn"])
        _, name, version = found.resource.split(":")
        scope = Scope(found.account, found.region)
        row = self.model.layer(scope, name, int(version))
        if row is None:
            raise _layer_not_found()
        return self._layer_doc(ctx, scope, row)

    def list_layer_versions(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        versions = [
            self._layer_doc(ctx, scope, r)
            for r in self.model.layers(scope, name)
            if _compatible(json.loads(r["doc"]), req)
        ]
        for doc in versions:
            doc.pop("Content", None)
            doc.pop("LayerArn", None)
        return {"LayerVersions": versions}

    def list_layers(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = Scope(ctx.account_id, ctx.region)
        latest: dict[str, dict[str, Any]] = {}
        for row in self.model.layers(scope):
            doc = json.loads(row["doc"])
            if row["name"] in latest or not _compatible(doc, req):
                continue
            doc.pop("Content", None)
            latest[row["name"]] = {
                "LayerName": row["name"],
                "LayerArn": doc.pop("LayerArn"),
                "LatestMatchingVersion": doc,
            }
        return {"Layers": list(latest.values())}

    def delete_layer_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        blob = self.model.delete_layer(scope, name, req["VersionNumber"])
        if blob and not self.model.blob_in_use(blob):
            self.blobs.delete(blob)
        return {}

    def add_layer_version_permission(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        row = self.model.layer(scope, name, req["VersionNumber"])
        if row is None:
            raise _layer_not_found()
        policy = json.loads(row["policy"] or '{"Statement": [], "RevisionId": ""}')
        if req.get("RevisionId") and req["RevisionId"] != policy["RevisionId"]:
            raise errors.PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id.", Type="User"
            )
        if any(s["Sid"] == req["StatementId"] for s in policy["Statement"]):
            raise errors.ResourceConflictException(
                f"The statement id ({req['StatementId']}) provided already exists. Please "
                "provide a new statement id, or remove the existing statement.",
                Type="User",
            )
        principal = req["Principal"]
        statement: dict[str, Any] = {
            "Sid": req["StatementId"],
            "Effect": "Allow",
            "Principal": "*"
            if principal == "*"
            else {"AWS": root_arn(principal, partition_of(scope.region))},
            "Action": req["Action"],
            "Resource": scope.layer_arn(name, req["VersionNumber"]),
        }
        if req.get("OrganizationId"):
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": req["OrganizationId"]}}
        policy["Statement"].append(statement)
        policy["RevisionId"] = cfg.new_revision()
        self.model.set_layer_policy(scope, name, req["VersionNumber"], json.dumps(policy))
        return {"Statement": json.dumps(statement), "RevisionId": policy["RevisionId"]}

    def remove_layer_version_permission(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        row = self.model.layer(scope, name, req["VersionNumber"])
        if row is None:
            raise _layer_not_found()
        policy = json.loads(row["policy"] or '{"Statement": [], "RevisionId": ""}')
        kept = [s for s in policy["Statement"] if s["Sid"] != req["StatementId"]]
        if len(kept) == len(policy["Statement"]):
            raise _layer_not_found()
        policy["Statement"] = kept
        policy["RevisionId"] = cfg.new_revision()
        self.model.set_layer_policy(scope, name, req["VersionNumber"], json.dumps(policy))
        return {}

    def get_layer_version_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope, name = self._layer_name(ctx, req["LayerName"])
        row = self.model.layer(scope, name, req["VersionNumber"])
        if row is None or not row["policy"]:
            raise _layer_not_found()
        policy = json.loads(row["policy"])
        if not policy["Statement"]:
            raise _layer_not_found()
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["Statement"]}
        return {"Policy": json.dumps(document), "RevisionId": policy["RevisionId"]}

    # -- used by functions -------------------------------------------------------------------

    def layer_references(self, ctx: RequestContext, arns: list[str] | None) -> list[dict[str, Any]]:
        """The ``Layers`` of a function configuration from the ARNs a request lists."""
        if not arns:
            return []
        if len(arns) > MAX_LAYERS:
            raise errors.InvalidParameterValueException(
                f"Cannot reference more than {MAX_LAYERS} layers."
            )
        references = []
        for arn in arns:
            row = self._layer_row(arn)
            if row is None:
                raise errors.InvalidParameterValueException(f"Layer version {arn} does not exist.")
            doc = json.loads(row["doc"])
            references.append({"Arn": arn, "CodeSize": doc["Content"]["CodeSize"]})
        return references

    def _layer_row(self, arn: str) -> Any:
        try:
            found = parse_arn(arn)
            _, name, version = found.resource.split(":")
            return self.model.layer(Scope(found.account, found.region), name, int(version))
        except ValueError:
            return None

    def layer_blobs(self, layers: list[dict[str, Any]]) -> list[str]:
        blobs = []
        for layer in layers:
            row = self._layer_row(layer["Arn"])
            if row is not None:
                blobs.append(str(row["code_blob"]))
        return blobs


def _compatible(doc: dict[str, Any], req: dict[str, Any]) -> bool:
    runtime = req.get("CompatibleRuntime")
    architecture = req.get("CompatibleArchitecture")
    if runtime and runtime not in (doc.get("CompatibleRuntimes") or []):
        return False
    return not (architecture and architecture not in (doc.get("CompatibleArchitectures") or []))
