"""Elastic Container Registry: private repositories and their settings (tag mutability, scanning,
encryption, lifecycle and repository policies, tags) — what CDK's bootstrap stack and
CloudFormation's AWS::ECR::Repository need. Images themselves (the registry's Docker API) are
not served."""

from __future__ import annotations

import json
from typing import Any

from nubes.core import clock
from nubes.core.arns import arn, parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import reserved_allowed
from nubes.services.base import ServiceProvider
from nubes.services.ecr.errors import errors
from nubes.store import Row

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE ecr_repositories (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        lifecycle_policy TEXT,
        repository_policy TEXT,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    """,
)

MAX_TAGS = 50
LIFECYCLE_TAG_STATUS = ("tagged", "untagged", "any")
LIFECYCLE_COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed")


def _enum_problem(value: Any, allowed: tuple[str, ...]) -> str:
    names = ",".join(f'"{v}"' for v in allowed)
    return f"instance value ({json.dumps(value)}) not found in enum (possible values: [{names}])"


def _missing(name: str) -> str:
    return f'object has missing required properties (["{name}"])'


def _lifecycle_problem(text: str) -> str | None:
    """Why a lifecycle policy is refused, as ECR's validation names it; None when it is sound."""
    try:
        doc = json.loads(text)
    except ValueError:
        return "Could not map policyString into LifecyclePolicy."
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list) or not rules:
        return _missing("rules")
    priorities = set()
    for rule in rules:
        if not isinstance(rule, dict):
            return _missing("rulePriority")
        priority = rule.get("rulePriority")
        if not isinstance(priority, int) or priority < 1:
            return "rulePriority must be a positive integer"
        if priority in priorities:
            return f"rulePriority {priority} is not unique"
        priorities.add(priority)
        selection = rule.get("selection")
        if not isinstance(selection, dict):
            return _missing("selection")
        if selection.get("tagStatus") not in LIFECYCLE_TAG_STATUS:
            return _enum_problem(selection.get("tagStatus"), LIFECYCLE_TAG_STATUS)
        if selection.get("countType") not in LIFECYCLE_COUNT_TYPES:
            return _enum_problem(selection.get("countType"), LIFECYCLE_COUNT_TYPES)
        count = selection.get("countNumber")
        if not isinstance(count, int) or count < 1:
            return "countNumber must be a positive integer"
        action = rule.get("action")
        if not isinstance(action, dict) or action.get("type") != "expire":
            return _enum_problem((action or {}).get("type"), ("expire",))
    return None


class EcrProvider(ServiceProvider):
    service = "ecr"
    migrations = MIGRATIONS

    # -- records --------------------------------------------------------------------------

    def _registry(self, ctx: RequestContext, req: Json) -> str:
        registry = req.get("registryId") or ctx.account_id
        if registry != ctx.account_id:
            raise errors.RepositoryNotFoundException(
                f"The repository with name '{req.get('repositoryName')}' does not exist in the "
                f"registry with id '{registry}'"
            )
        return str(registry)

    def _row(self, ctx: RequestContext, req: Json) -> Row:
        registry = self._registry(ctx, req)
        name = req["repositoryName"]
        row = self.store.query_one(
            "SELECT * FROM ecr_repositories WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if row is None:
            raise errors.RepositoryNotFoundException(
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{registry}'"
            )
        return row

    def _save_doc(self, ctx: RequestContext, name: str, doc: Json) -> None:
        self.store.execute(
            "UPDATE ecr_repositories SET doc = ? WHERE account = ? AND region = ? AND name = ?",
            (json.dumps(doc), ctx.account_id, ctx.region, name),
        )

    def _set_column(self, ctx: RequestContext, name: str, column: str, value: str | None) -> None:
        # ``column`` is one of this module's two policy columns, never a caller's text.
        self.store.execute(
            f"UPDATE ecr_repositories SET {column} = ? "
            "WHERE account = ? AND region = ? AND name = ?",
            (value, ctx.account_id, ctx.region, name),
        )

    def _check_tags(self, existing: dict[str, str], tags: list[Json]) -> dict[str, str]:
        new = {str(t["Key"]): str(t.get("Value", "")) for t in tags}
        for key in new:
            if key.lower().startswith("aws:") and key not in existing and not reserved_allowed(key):
                raise errors.InvalidTagParameterException(
                    "Invalid parameter at 'tags' failed to satisfy constraint: 'Tag keys "
                    "must not start with aws:'"
                )
        if len({**existing, **new}) > MAX_TAGS:
            raise errors.TooManyTagsException(
                f"Invalid parameter at 'tags' failed to satisfy constraint: 'Member must have "
                f"length less than or equal to {MAX_TAGS}'"
            )
        return new

    def _repository_from_arn(self, ctx: RequestContext, resource_arn: str) -> Row:
        try:
            parsed = parse_arn(resource_arn)
        except ValueError:
            raise errors.InvalidParameterException(
                f"Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN "
                f"{resource_arn}'"
            ) from None
        if parsed.service != "ecr" or not parsed.resource.startswith("repository/"):
            raise errors.InvalidParameterException(
                f"Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN "
                f"{resource_arn}'"
            )
        return self._row(
            ctx,
            {"registryId": parsed.account, "repositoryName": parsed.resource.split("/", 1)[1]},
        )

    # -- repositories ---------------------------------------------------------------------

    def create_repository(self, ctx: RequestContext, req: Json) -> Json:
        registry = self._registry(ctx, req)
        name = req["repositoryName"]
        if name != name.lower():
            raise errors.InvalidParameterException(
                "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must "
                "satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+"
                "(?:[._-][a-z0-9]+)*''"
            )
        if self.store.query_one(
            "SELECT 1 FROM ecr_repositories WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        ):
            raise errors.RepositoryAlreadyExistsException(
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{registry}'"
            )
        repository_arn = arn("ecr", ctx.region, ctx.account_id, f"repository/{name}")
        tags = self._check_tags({}, req.get("tags") or [])
        encryption = req.get("encryptionConfiguration") or {"encryptionType": "AES256"}
        if encryption.get("encryptionType") == "KMS" and not encryption.get("kmsKey"):
            encryption = {
                **encryption,
                "kmsKey": arn("kms", ctx.region, ctx.account_id, "alias/aws/ecr"),
            }
        doc: Json = {
            "repositoryArn": repository_arn,
            "registryId": registry,
            "repositoryName": name,
            "repositoryUri": f"{registry}.dkr.ecr.{ctx.region}.amazonaws.com/{name}",
            "createdAt": clock.now(),
            "imageTagMutability": req.get("imageTagMutability") or "MUTABLE",
            "imageScanningConfiguration": {
                "scanOnPush": bool((req.get("imageScanningConfiguration") or {}).get("scanOnPush"))
            },
            "encryptionConfiguration": encryption,
        }
        if req.get("imageTagMutabilityExclusionFilters"):
            doc["imageTagMutabilityExclusionFilters"] = req["imageTagMutabilityExclusionFilters"]
        self.store.execute(
            "INSERT INTO ecr_repositories (account, region, name, doc) VALUES (?, ?, ?, ?)",
            (ctx.account_id, ctx.region, name, json.dumps(doc)),
        )
        if tags:
            self.env.tags.set(repository_arn, tags)
        return {"repository": doc}

    def describe_repositories(self, ctx: RequestContext, req: Json) -> Json:
        self._registry(ctx, req)
        names = req.get("repositoryNames")
        if names:
            if req.get("nextToken") or req.get("maxResults"):
                raise errors.InvalidParameterException(
                    "Invalid parameter at 'maxResults, nextToken' failed to satisfy constraint: "
                    "'Cannot be specified with repositoryNames'"
                )
            docs = [json.loads(self._row(ctx, {**req, "repositoryName": n})["doc"]) for n in names]
            return {"repositories": docs}
        rows = self.store.query(
            "SELECT doc FROM ecr_repositories WHERE account = ? AND region = ? ORDER BY name",
            (ctx.account_id, ctx.region),
        )
        docs = [json.loads(r["doc"]) for r in rows]
        try:
            page, token = paginate(
                docs,
                req.get("maxResults") or 1000,
                req.get("nextToken"),
                key=lambda d: d["repositoryName"],
            )
        except InvalidToken:
            raise errors.InvalidParameterException(
                "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'"
            ) from None
        out: Json = {"repositories": page}
        if token:
            out["nextToken"] = token
        return out

    def delete_repository(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        doc = json.loads(row["doc"])
        self.store.execute(
            "DELETE FROM ecr_repositories WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, row["name"]),
        )
        self.env.tags.drop(doc["repositoryArn"])
        return {"repository": doc}

    def put_image_tag_mutability(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        doc = json.loads(row["doc"])
        doc["imageTagMutability"] = req["imageTagMutability"]
        filters = req.get("imageTagMutabilityExclusionFilters")
        if filters:
            doc["imageTagMutabilityExclusionFilters"] = filters
        else:
            doc.pop("imageTagMutabilityExclusionFilters", None)
        self._save_doc(ctx, row["name"], doc)
        out = {
            "registryId": doc["registryId"],
            "repositoryName": row["name"],
            "imageTagMutability": doc["imageTagMutability"],
        }
        if filters:
            out["imageTagMutabilityExclusionFilters"] = filters
        return out

    def put_image_scanning_configuration(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        doc = json.loads(row["doc"])
        scanning = {"scanOnPush": bool(req["imageScanningConfiguration"].get("scanOnPush"))}
        doc["imageScanningConfiguration"] = scanning
        self._save_doc(ctx, row["name"], doc)
        return {
            "registryId": doc["registryId"],
            "repositoryName": row["name"],
            "imageScanningConfiguration": scanning,
        }

    # -- policies -------------------------------------------------------------------------

    def put_lifecycle_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        text = req["lifecyclePolicyText"]
        problem = _lifecycle_problem(text)
        if problem:
            raise errors.InvalidParameterException(
                "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
                f"'Lifecycle policy validation failure: {problem}'"
            )
        self._set_column(ctx, row["name"], "lifecycle_policy", text)
        return {
            "registryId": ctx.account_id,
            "repositoryName": row["name"],
            "lifecyclePolicyText": text,
        }

    def get_lifecycle_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        if row["lifecycle_policy"] is None:
            raise errors.LifecyclePolicyNotFoundException(
                "Lifecycle policy does not exist for the repository with name "
                f"'{row['name']}' in the registry with id '{ctx.account_id}'"
            )
        return {
            "registryId": ctx.account_id,
            "repositoryName": row["name"],
            "lifecyclePolicyText": row["lifecycle_policy"],
            "lastEvaluatedAt": json.loads(row["doc"])["createdAt"],
        }

    def delete_lifecycle_policy(self, ctx: RequestContext, req: Json) -> Json:
        out = self.get_lifecycle_policy(ctx, req)
        self._set_column(ctx, out["repositoryName"], "lifecycle_policy", None)
        return out

    def set_repository_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        text = req["policyText"]
        try:
            policy = json.loads(text)
        except ValueError:
            policy = None
        if not isinstance(policy, dict) or not policy.get("Statement"):
            raise errors.InvalidParameterException(
                "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid "
                "repository policy provided'"
            )
        self._set_column(ctx, row["name"], "repository_policy", text)
        return {"registryId": ctx.account_id, "repositoryName": row["name"], "policyText": text}

    def get_repository_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req)
        if row["repository_policy"] is None:
            raise errors.RepositoryPolicyNotFoundException(
                "Repository policy does not exist for the repository with name "
                f"'{row['name']}' in the registry with id '{ctx.account_id}'"
            )
        return {
            "registryId": ctx.account_id,
            "repositoryName": row["name"],
            "policyText": row["repository_policy"],
        }

    def delete_repository_policy(self, ctx: RequestContext, req: Json) -> Json:
        out = self.get_repository_policy(ctx, req)
        self._set_column(ctx, out["repositoryName"], "repository_policy", None)
        return out

    # -- tags -----------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        resource_arn = json.loads(self._repository_from_arn(ctx, req["resourceArn"])["doc"])[
            "repositoryArn"
        ]
        existing = self.env.tags.get(resource_arn)
        self.env.tags.set(resource_arn, self._check_tags(existing, req["tags"]))
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        resource_arn = json.loads(self._repository_from_arn(ctx, req["resourceArn"])["doc"])[
            "repositoryArn"
        ]
        self.env.tags.remove(resource_arn, req["tagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        resource_arn = json.loads(self._repository_from_arn(ctx, req["resourceArn"])["doc"])[
            "repositoryArn"
        ]
        tags = self.env.tags.get(resource_arn)
        return {"tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
