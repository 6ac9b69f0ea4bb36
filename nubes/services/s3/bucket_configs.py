"""A bucket's sub-resources: each stored as one document per bucket and kind, put, got and
deleted as S3 does, with the ``NoSuch...`` error S3 gives when one was never set."""

from __future__ import annotations

import base64
import fnmatch
import json
import uuid
from typing import Any

from nubes.core import safejson
from nubes.core.arns import arn_service
from nubes.core.context import RequestContext
from nubes.services.s3 import acl, lifecycle
from nubes.services.s3.base import S3Base, tag_set, validate_tags
from nubes.services.s3.errors import errors

_CORS_METHODS = {"GET", "PUT", "HEAD", "POST", "DELETE"}
_DEFAULT_ENCRYPTION = {
    "Rules": [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]
}
_MISSING: dict[str, tuple[str, str]] = {
    "cors": ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    "policy": ("NoSuchBucketPolicy", "The bucket policy does not exist"),
    "lifecycle": ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
    "website": (
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
    ),
    "ownership": ("OwnershipControlsNotFoundError", "The bucket ownership controls were not found"),
    "public_access_block": (
        "NoSuchPublicAccessBlockConfiguration",
        "The public access block configuration was not found",
    ),
    "object_lock": (
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
    ),
    "replication": (
        "ReplicationConfigurationNotFoundError",
        "The replication configuration was not found",
    ),
}


class BucketConfigOps(S3Base):
    def required_config(self, req: dict[str, Any], kind: str) -> Any:
        bucket = self.bucket(req["Bucket"])
        found = self.db.config(bucket.name, kind)
        if found is None:
            code, message = _MISSING[kind]
            raise errors(code, message, BucketName=bucket.name)
        return found

    def put_config(self, req: dict[str, Any], kind: str, document: Any) -> dict:
        bucket = self.bucket(req["Bucket"])
        self.db.put_config(bucket.name, kind, document)
        return {}

    def delete_config(self, req: dict[str, Any], kind: str) -> dict:
        bucket = self.bucket(req["Bucket"])
        self.db.delete_config(bucket.name, kind)
        return {}

    def optional_config(self, req: dict[str, Any], kind: str, default: Any) -> Any:
        bucket = self.bucket(req["Bucket"])
        found = self.db.config(bucket.name, kind)
        return default if found is None else found

    # -- CORS --------------------------------------------------------------------------------

    def put_bucket_cors(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        config = req.get("CORSConfiguration") or {}
        rules = config.get("CORSRules") or []
        if not rules or len(rules) > 100:
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        for rule in rules:
            for method in rule.get("AllowedMethods") or []:
                if method not in _CORS_METHODS:
                    raise errors.InvalidRequest(
                        "Found unsupported HTTP method in CORS config. Unsupported method is "
                        f"{method}"
                    )
        return self.put_config(req, "cors", {"CORSRules": rules})

    def get_bucket_cors(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return dict(self.required_config(req, "cors"))

    def delete_bucket_cors(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "cors")

    # -- policy ------------------------------------------------------------------------------

    def put_bucket_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        text = req.get("Policy") or ""
        try:
            document = safejson.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not text.lstrip().startswith("{"):
            raise errors.MalformedPolicy(
                "Policies must be valid JSON and the first byte must be '{'"
            )
        if "Statement" not in document:
            raise errors.MalformedPolicy("Missing required field Statement")
        bucket = self.bucket(req["Bucket"])
        _check_statements(_statements(document), bucket.name)
        if _public_policy(document) and self.blocks_public(bucket.name, "BlockPublicPolicy"):
            raise errors.AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: s3:PutBucketPolicy on "
                f'resource: "arn:{ctx.partition}:s3:::{bucket.name}" because public policies are '
                "blocked by the BlockPublicPolicy block public access setting."
            )
        # botocore's model leaves the status at 200; S3 answers 204 No Content.
        ctx.extras["status"] = 204
        return self.put_config(req, "policy", {"Policy": text})

    def get_bucket_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return {"Policy": self.required_config(req, "policy")["Policy"]}

    def delete_bucket_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "policy")

    def get_bucket_policy_status(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        document = json.loads(self.required_config(req, "policy")["Policy"])
        return {"PolicyStatus": {"IsPublic": _public_policy(document)}}

    # -- tagging (kept in the shared tag table, by bucket ARN) --------------------------------

    def put_bucket_tagging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        bucket = self.bucket(req["Bucket"])
        given = (req.get("Tagging") or {}).get("TagSet") or []
        tags = {t["Key"]: t["Value"] for t in given}
        if len(tags) != len(given):
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
        if len(tags) > 50:
            raise errors.BadRequest("Bucket tag count cannot be greater than 50")
        validate_tags(tags, len(given), limit=50)
        arn = bucket.arn
        self.env.tags.drop(arn)
        self.env.tags.set(arn, tags)
        return {}

    def get_bucket_tagging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        bucket = self.bucket(req["Bucket"])
        tags = self.env.tags.get(bucket.arn)
        if not tags:
            raise errors.NoSuchTagSet("The TagSet does not exist", BucketName=bucket.name)
        return {"TagSet": tag_set(tags)}

    def delete_bucket_tagging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        bucket = self.bucket(req["Bucket"])
        self.env.tags.drop(bucket.arn)
        return {}

    # -- ACL and ownership -------------------------------------------------------------------

    def put_bucket_acl(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        self.bucket(req["Bucket"])
        return self.put_config(req, "acl", self.requested_acl(ctx, req))

    def get_bucket_acl(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        bucket = self.bucket(req["Bucket"])
        return self.db.config(bucket.name, "acl") or acl.canned("private", bucket.account_id)

    def put_bucket_ownership_controls(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        controls = req.get("OwnershipControls") or {}
        rules = controls.get("Rules") or []
        if rules and rules[0].get("ObjectOwnership") == "BucketOwnerEnforced":
            bucket = self.bucket(req["Bucket"])
            document = self.db.config(bucket.name, "acl") or {}
            owner_id = (document.get("Owner") or {}).get("ID")
            # ACLs can be disabled only once the bucket ACL grants no one but its owner.
            if any(g.get("Grantee", {}).get("ID") != owner_id for g in document.get("Grants", [])):
                raise errors.InvalidBucketAclWithObjectOwnership(
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
                )
        return self.put_config(req, "ownership", controls)

    def get_bucket_ownership_controls(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return {"OwnershipControls": self.required_config(req, "ownership")}

    def delete_bucket_ownership_controls(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "ownership")

    def put_public_access_block(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.put_config(
            req, "public_access_block", req.get("PublicAccessBlockConfiguration") or {}
        )

    def get_public_access_block(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return {"PublicAccessBlockConfiguration": self.required_config(req, "public_access_block")}

    def delete_public_access_block(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "public_access_block")

    # -- encryption, lifecycle, website, logging, notifications ------------------------------

    def put_bucket_encryption(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        config = req.get("ServerSideEncryptionConfiguration") or {}
        for rule in config.get("Rules") or []:
            algorithm = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
            if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
                raise errors.MalformedXML(
                    "The XML you provided was not well-formed or did not validate against our "
                    "published schema"
                )
        return self.put_config(req, "encryption", config)

    def get_bucket_encryption(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        config = self.optional_config(req, "encryption", _DEFAULT_ENCRYPTION)
        return {"ServerSideEncryptionConfiguration": config}

    def delete_bucket_encryption(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "encryption")

    def put_bucket_lifecycle_configuration(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        config = req.get("LifecycleConfiguration") or {}
        rules = config.get("Rules") or []
        ids = [r.get("ID") for r in rules if r.get("ID")]
        if len(ids) != len(set(ids)):
            raise errors.InvalidArgument(
                "Rule ID must be unique. Found same ID for more than one rule",
                ArgumentName="ID",
            )
        for rule in rules:
            if rule.get("Status") not in ("Enabled", "Disabled"):
                raise errors.MalformedXML(
                    "The XML you provided was not well-formed or did not validate against our "
                    "published schema"
                )
        lifecycle.validate(rules)
        for rule in rules:
            if not rule.get("ID"):
                # S3 names a rule given without an ID (base64 of a random UUID).
                rule["ID"] = base64.b64encode(str(uuid.uuid4()).encode()).decode()
        minimum = req.get("TransitionDefaultMinimumObjectSize") or lifecycle.DEFAULT_MINIMUM_SIZE
        self.put_config(
            req, "lifecycle", {"Rules": rules, "TransitionDefaultMinimumObjectSize": minimum}
        )
        return {"TransitionDefaultMinimumObjectSize": minimum}

    def get_bucket_lifecycle_configuration(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        config = self.required_config(req, "lifecycle")
        return {"TransitionDefaultMinimumObjectSize": lifecycle.DEFAULT_MINIMUM_SIZE, **config}

    def delete_bucket_lifecycle(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "lifecycle")

    def put_bucket_website(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.put_config(req, "website", req.get("WebsiteConfiguration") or {})

    def get_bucket_website(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return dict(self.required_config(req, "website"))

    def delete_bucket_website(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "website")

    def put_bucket_logging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        status = req.get("BucketLoggingStatus") or {}
        target = (status.get("LoggingEnabled") or {}).get("TargetBucket")
        if target and self.db.bucket(target) is None:
            raise errors.InvalidTargetBucketForLogging(
                "The target bucket for logging does not exist", TargetBucket=target
            )
        return self.put_config(req, "logging", status)

    def get_bucket_logging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return dict(self.optional_config(req, "logging", {}))

    def put_bucket_notification_configuration(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict:
        bucket = self.bucket(req["Bucket"])
        config = req.get("NotificationConfiguration") or {}
        if not req.get("SkipDestinationValidation"):
            self.notifier.validate(ctx, bucket, config)
        return self.put_config(req, "notification", config)

    def get_bucket_notification_configuration(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict:
        return dict(self.optional_config(req, "notification", {}))

    def put_bucket_request_payment(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.put_config(req, "request_payment", req.get("RequestPaymentConfiguration") or {})

    def get_bucket_request_payment(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return dict(self.optional_config(req, "request_payment", {"Payer": "BucketOwner"}))

    def put_bucket_accelerate_configuration(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        if "." in req["Bucket"]:
            raise errors.InvalidRequest(
                "S3 Transfer Acceleration is not supported for buckets with periods (.) in "
                "their names"
            )
        return self.put_config(req, "accelerate", req.get("AccelerateConfiguration") or {})

    def get_bucket_accelerate_configuration(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return dict(self.optional_config(req, "accelerate", {}))

    def put_bucket_replication(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        bucket = self.bucket(req["Bucket"])
        if bucket.versioning != "Enabled":
            raise errors.InvalidRequest(
                "Versioning must be 'Enabled' on the bucket to apply a replication configuration"
            )
        return self.put_config(req, "replication", req.get("ReplicationConfiguration") or {})

    def get_bucket_replication(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return {"ReplicationConfiguration": self.required_config(req, "replication")}

    def delete_bucket_replication(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return self.delete_config(req, "replication")

    # -- object lock -------------------------------------------------------------------------

    def put_object_lock_configuration(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        bucket = self.bucket(req["Bucket"])
        if bucket.versioning != "Enabled":
            raise errors.InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            )
        config = req.get("ObjectLockConfiguration") or {}
        if config.get("ObjectLockEnabled") != "Enabled":
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        retention = (config.get("Rule") or {}).get("DefaultRetention")
        if retention is not None:
            _check_default_retention(retention)
        self.db.set_object_lock(bucket.name)
        return self.put_config(req, "object_lock", config)

    def get_object_lock_configuration(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        return {"ObjectLockConfiguration": self.required_config(req, "object_lock")}

    # -- Id-keyed configurations: analytics, inventory, metrics, intelligent tiering --------

    def put_named(self, req: dict[str, Any], family: str, member: str) -> dict:
        config = req.get(member) or {}
        if config.get("Id") != req["Id"]:
            raise errors.InvalidArgument(
                "Configuration id in the body does not match the one in the query",
                ArgumentName="id",
                ArgumentValue=req["Id"],
            )
        return self.put_config(req, f"{family}:{req['Id']}", config)

    def get_named(self, req: dict[str, Any], family: str, member: str) -> dict:
        bucket = self.bucket(req["Bucket"])
        found = self.db.config(bucket.name, f"{family}:{req['Id']}")
        if found is None:
            raise errors.NoSuchConfiguration("The specified configuration does not exist.")
        return {member: found}

    def delete_named(self, req: dict[str, Any], family: str) -> dict:
        self.get_named(req, family, "")
        return self.delete_config(req, f"{family}:{req['Id']}")

    def list_named(self, req: dict[str, Any], family: str, member: str) -> dict:
        bucket = self.bucket(req["Bucket"])
        found = self.db.named_configs(bucket.name, family)
        out: dict[str, Any] = {"IsTruncated": False}
        if found:
            out[member] = found
        if req.get("ContinuationToken"):
            out["ContinuationToken"] = req["ContinuationToken"]
        return out

    def put_bucket_analytics_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.put_named(req, "analytics", "AnalyticsConfiguration")

    def get_bucket_analytics_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.get_named(req, "analytics", "AnalyticsConfiguration")

    def delete_bucket_analytics_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.delete_named(req, "analytics")

    def list_bucket_analytics_configurations(self, ctx: RequestContext, req: dict) -> dict:
        return self.list_named(req, "analytics", "AnalyticsConfigurationList")

    def put_bucket_inventory_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.put_named(req, "inventory", "InventoryConfiguration")

    def get_bucket_inventory_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.get_named(req, "inventory", "InventoryConfiguration")

    def delete_bucket_inventory_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.delete_named(req, "inventory")

    def list_bucket_inventory_configurations(self, ctx: RequestContext, req: dict) -> dict:
        return self.list_named(req, "inventory", "InventoryConfigurationList")

    def put_bucket_metrics_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.put_named(req, "metrics", "MetricsConfiguration")

    def get_bucket_metrics_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.get_named(req, "metrics", "MetricsConfiguration")

    def delete_bucket_metrics_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.delete_named(req, "metrics")

    def list_bucket_metrics_configurations(self, ctx: RequestContext, req: dict) -> dict:
        return self.list_named(req, "metrics", "MetricsConfigurationList")

    def put_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.put_named(req, "tiering", "IntelligentTieringConfiguration")

    def get_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, req: dict) -> dict:
        return self.get_named(req, "tiering", "IntelligentTieringConfiguration")

    def delete_bucket_intelligent_tiering_configuration(
        self, ctx: RequestContext, req: dict
    ) -> dict:
        return self.delete_named(req, "tiering")

    def list_bucket_intelligent_tiering_configurations(
        self, ctx: RequestContext, req: dict
    ) -> dict:
        return self.list_named(req, "tiering", "IntelligentTieringConfigurationList")


def _statements(document: dict[str, Any]) -> list[Any]:
    statements = document.get("Statement")
    if isinstance(statements, dict):
        return [statements]
    return statements if isinstance(statements, list) else []


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_statements(statements: list[Any], bucket: str) -> None:
    """The checks S3 makes of a bucket policy beyond its JSON: effects, that actions are S3's
    and that resources lie in this bucket."""
    for statement in statements:
        if not isinstance(statement, dict):
            raise errors.MalformedPolicy("Statement is not well-formed")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise errors.MalformedPolicy(f"Invalid effect: {effect}")
        for field in ("Principal", "Action", "Resource"):
            if field not in statement and f"Not{field}" not in statement:
                raise errors.MalformedPolicy(f"Missing required field {field}")
        actions = _listed(statement.get("Action", statement.get("NotAction")))
        if not all(_s3_action(a) for a in actions):
            raise errors.MalformedPolicy("Policy has invalid action")
        resources = _listed(statement.get("Resource", statement.get("NotResource")))
        if not all(isinstance(r, str) and _in_bucket(r, bucket) for r in resources):
            raise errors.MalformedPolicy("Policy has invalid resource")


def _s3_action(action: Any) -> bool:
    return isinstance(action, str) and (action == "*" or action.lower().startswith("s3:"))


def _in_bucket(resource: str, bucket: str) -> bool:
    if resource == "*":
        return True
    if arn_service(resource) != "s3":
        return False
    pattern = resource.split(":", 5)[-1].split("/", 1)[0]
    return fnmatch.fnmatchcase(bucket, pattern)


def _public_policy(document: dict[str, Any]) -> bool:
    """Whether a bucket policy allows anyone at all (an unconditioned ``*`` principal)."""
    return any(
        s.get("Effect") == "Allow" and _anyone(s.get("Principal")) and not s.get("Condition")
        for s in _statements(document)
        if isinstance(s, dict)
    )


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    named = principal.get("AWS")
    return named == "*" or (isinstance(named, list) and "*" in named)


_RETENTION_LIMITS = {"Days": 36500, "Years": 100}


def _check_default_retention(retention: dict[str, Any]) -> None:
    """A default retention names a mode and exactly one positive period within S3's limits."""
    given = [unit for unit in _RETENTION_LIMITS if retention.get(unit) is not None]
    if len(given) != 1 or retention.get("Mode") not in ("GOVERNANCE", "COMPLIANCE"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )
    unit = given[0]
    period = retention[unit]
    if period <= 0:
        raise errors.InvalidArgument(
            "Default retention period must be a positive integer value.", ArgumentName=unit
        )
    if period > _RETENTION_LIMITS[unit]:
        raise errors.InvalidArgument(
            f"Default retention period cannot exceed {_RETENTION_LIMITS[unit]} {unit.lower()}.",
            ArgumentName=unit,
        )
