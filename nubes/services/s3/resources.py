"""S3's CloudFormation resource types: AWS::S3::Bucket (with its configurations) and
AWS::S3::BucketPolicy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    as_json,
    boolean,
    integer,
)

Json = dict[str, Any]


def _cors(value: Json) -> Json:
    rules = []
    for rule in value.get("CorsRules", []):
        out: Json = {
            "AllowedMethods": rule["AllowedMethods"],
            "AllowedOrigins": rule["AllowedOrigins"],
        }
        for src, dst in (
            ("AllowedHeaders", "AllowedHeaders"),
            ("ExposedHeaders", "ExposeHeaders"),
            ("Id", "ID"),
        ):
            if src in rule:
                out[dst] = rule[src]
        if "MaxAge" in rule:
            out["MaxAgeSeconds"] = integer(rule["MaxAge"])
        rules.append(out)
    return {"CORSConfiguration": {"CORSRules": rules}}


def _lifecycle(value: Json) -> Json:
    rules = []
    for rule in value.get("Rules", []):
        out: Json = {"Status": rule["Status"]}
        if "Id" in rule:
            out["ID"] = rule["Id"]
        tags = rule.get("TagFilters")
        prefix = rule.get("Prefix")
        if tags:
            out["Filter"] = {"And": {"Prefix": prefix or "", "Tags": tags}}
        else:
            out["Filter"] = {"Prefix": prefix or ""}
        expiration: Json = {}
        if "ExpirationInDays" in rule:
            expiration["Days"] = integer(rule["ExpirationInDays"])
        if "ExpirationDate" in rule:
            expiration["Date"] = rule["ExpirationDate"]
        if "ExpiredObjectDeleteMarker" in rule:
            expiration["ExpiredObjectDeleteMarker"] = boolean(rule["ExpiredObjectDeleteMarker"])
        if expiration:
            out["Expiration"] = expiration
        transitions = list(rule.get("Transitions", []))
        if "Transition" in rule:
            transitions.append(rule["Transition"])
        if transitions:
            out["Transitions"] = [
                {
                    "StorageClass": t["StorageClass"],
                    **({"Days": integer(t["TransitionInDays"])} if "TransitionInDays" in t else {}),
                    **({"Date": t["TransitionDate"]} if "TransitionDate" in t else {}),
                }
                for t in transitions
            ]
        noncurrent = rule.get("NoncurrentVersionExpiration") or (
            {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
            if "NoncurrentVersionExpirationInDays" in rule
            else None
        )
        if noncurrent:
            out["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": integer(noncurrent["NoncurrentDays"])
            }
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort:
            out["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": integer(abort["DaysAfterInitiation"])
            }
        rules.append(out)
    return {"LifecycleConfiguration": {"Rules": rules}}


def _filter(config: Json) -> Json:
    rules = ((config.get("Filter") or {}).get("S3Key") or {}).get("Rules")
    return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}


def _notifications(value: Json) -> Json:
    out: Json = {}
    for src, dst, target, arn in (
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        if value.get(src):
            out[dst] = [{arn: c[target], "Events": [c["Event"]], **_filter(c)} for c in value[src]]
    bridge = value.get("EventBridgeConfiguration")
    if bridge and boolean(bridge.get("EventBridgeEnabled", True)):
        out["EventBridgeConfiguration"] = {}
    return {"NotificationConfiguration": out}


def _encryption(value: Json) -> Json:
    rules = []
    for rule in value.get("ServerSideEncryptionConfiguration", []):
        out: Json = {}
        default = rule.get("ServerSideEncryptionByDefault")
        if default:
            out["ApplyServerSideEncryptionByDefault"] = default
        if "BucketKeyEnabled" in rule:
            out["BucketKeyEnabled"] = boolean(rule["BucketKeyEnabled"])
        rules.append(out)
    return {"ServerSideEncryptionConfiguration": {"Rules": rules}}


def _website(value: Json) -> Json:
    out: Json = {}
    if "IndexDocument" in value:
        out["IndexDocument"] = {"Suffix": value["IndexDocument"]}
    if "ErrorDocument" in value:
        out["ErrorDocument"] = {"Key": value["ErrorDocument"]}
    if "RedirectAllRequestsTo" in value:
        out["RedirectAllRequestsTo"] = value["RedirectAllRequestsTo"]
    if value.get("RoutingRules"):
        out["RoutingRules"] = [
            {
                "Redirect": {
                    k: str(v) if k == "HttpRedirectCode" else v
                    for k, v in r["RedirectRule"].items()
                },
                **(
                    {
                        "Condition": {
                            k: str(v) if k == "HttpErrorCodeReturnedEquals" else v
                            for k, v in r["RoutingRuleCondition"].items()
                        }
                    }
                    if "RoutingRuleCondition" in r
                    else {}
                ),
            }
            for r in value["RoutingRules"]
        ]
    return {"WebsiteConfiguration": out}


# Template property -> (put operation and its input, delete operation (None: put an empty one)).
CONFIGS: dict[str, tuple[str, Callable[[Any], Json], str | None]] = {
    "CorsConfiguration": ("PutBucketCors", _cors, "DeleteBucketCors"),
    "LifecycleConfiguration": (
        "PutBucketLifecycleConfiguration",
        _lifecycle,
        "DeleteBucketLifecycle",
    ),
    "NotificationConfiguration": ("PutBucketNotificationConfiguration", _notifications, None),
    "BucketEncryption": ("PutBucketEncryption", _encryption, "DeleteBucketEncryption"),
    "WebsiteConfiguration": ("PutBucketWebsite", _website, "DeleteBucketWebsite"),
    "PublicAccessBlockConfiguration": (
        "PutPublicAccessBlock",
        lambda v: {"PublicAccessBlockConfiguration": {k: boolean(x) for k, x in v.items()}},
        "DeletePublicAccessBlock",
    ),
    "OwnershipControls": (
        "PutBucketOwnershipControls",
        lambda v: {"OwnershipControls": v},
        "DeleteBucketOwnershipControls",
    ),
    "VersioningConfiguration": (
        "PutBucketVersioning",
        lambda v: {"VersioningConfiguration": {"Status": v["Status"]}},
        None,
    ),
    "AccelerateConfiguration": (
        "PutBucketAccelerateConfiguration",
        lambda v: {"AccelerateConfiguration": {"Status": v["AccelerationStatus"]}},
        None,
    ),
    "ObjectLockConfiguration": (
        "PutObjectLockConfiguration",
        lambda v: {"ObjectLockConfiguration": v},
        None,
    ),
}
EMPTY: dict[str, Json] = {
    "NotificationConfiguration": {"NotificationConfiguration": {}},
    "VersioningConfiguration": {"VersioningConfiguration": {"Status": "Suspended"}},
    "AccelerateConfiguration": {"AccelerateConfiguration": {"Status": "Suspended"}},
}


class Bucket(ResourceType):
    type_name = "AWS::S3::Bucket"
    attributes = ("Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL")
    replace_on = frozenset({"BucketName", "ObjectLockEnabled"})
    identifier = ("BucketName",)

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        name = identifier["BucketName"]
        ctx.call("s3", "HeadBucket", {"Bucket": name})
        return self._provisioned(ctx, name)

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("BucketName") or ctx.physical_name(63, lower=True)
        params: Json = {"Bucket": name}
        if ctx.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        if "AccessControl" in props:
            params["ACL"] = _acl(props["AccessControl"])
        if boolean(props.get("ObjectLockEnabled", False)):
            params["ObjectLockEnabledForBucket"] = True
        ctx.call("s3", "CreateBucket", params)
        self._configure(ctx, name, props, {})
        return self._provisioned(ctx, name)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._configure(ctx, current.physical_id, props, old_props)
        if props.get("AccessControl") != old_props.get("AccessControl"):
            ctx.call(
                "s3",
                "PutBucketAcl",
                {"Bucket": current.physical_id, "ACL": _acl(props.get("AccessControl", "Private"))},
            )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(("NoSuchBucket",), "s3", "DeleteBucket", {"Bucket": current.physical_id})

    def _configure(self, ctx: ResourceContext, name: str, props: Props, old: Props) -> None:
        # Versioning first: lifecycle rules for noncurrent versions and object lock need it.
        for prop in sorted(CONFIGS, key=lambda p: p != "VersioningConfiguration"):
            put, shape, remove = CONFIGS[prop]
            if props.get(prop) == old.get(prop):
                continue
            if prop in props:
                ctx.call("s3", put, {"Bucket": name, **shape(props[prop])})
            elif remove is not None:
                ctx.call("s3", remove, {"Bucket": name})
            elif prop in EMPTY:
                ctx.call("s3", put, {"Bucket": name, **EMPTY[prop]})
        tags = ctx.tags(props.get("Tags"))
        if tags != ctx.previous_tags(old.get("Tags")) or not old:
            ctx.call("s3", "PutBucketTagging", {"Bucket": name, "Tagging": {"TagSet": tags}})

    @staticmethod
    def _provisioned(ctx: ResourceContext, name: str) -> Provisioned:
        region = ctx.region
        return Provisioned(
            name,
            attributes={
                "Arn": f"arn:{ctx.partition}:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            },
        )


def _acl(value: str) -> str:
    """CloudFormation's canned ACL names (PublicRead) as S3 spells them (public-read)."""
    words: list[str] = []
    for ch in value:
        if ch.isupper() and words:
            words.append("-")
        words.append(ch.lower())
    return "".join(words)


class BucketPolicy(ResourceType):
    type_name = "AWS::S3::BucketPolicy"
    required = ("Bucket", "PolicyDocument")
    replace_on = frozenset({"Bucket"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        self._put(ctx, props)
        return Provisioned(str(props["Bucket"]))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._put(ctx, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            ("NoSuchBucket",), "s3", "DeleteBucketPolicy", {"Bucket": current.physical_id}
        )

    @staticmethod
    def _put(ctx: ResourceContext, props: Props) -> None:
        ctx.call(
            "s3",
            "PutBucketPolicy",
            {"Bucket": props["Bucket"], "Policy": as_json(props["PolicyDocument"])},
        )


TYPES: dict[str, type[ResourceType]] = {t.type_name: t for t in (Bucket, BucketPolicy)}
