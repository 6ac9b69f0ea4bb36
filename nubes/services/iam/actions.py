"""What an operation asks IAM for: the action(s), the resource ARN(s) and the request's
condition keys, per service. Services not listed ask for ``<prefix>:<Operation>`` on ``*``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nubes.core.arns import partition_of
from nubes.core.context import RequestContext


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict)


Builder = Callable[[RequestContext, str, dict[str, Any]], list[Need]]

# -- S3 ---------------------------------------------------------------------------------------

_S3_ACTIONS = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "ListBuckets": "ListAllMyBuckets",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeleteBucketWebsite": "DeleteBucketWebsite",
    "GetObjectAttributes": "GetObject",
}


def _s3(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    bucket, key = params.get("Bucket"), params.get("Key")
    action = "s3:" + _S3_ACTIONS.get(op, op)
    context: dict[str, list[str]] = {}
    for param, name in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter")):
        if params.get(param) is not None:
            context[name] = [str(params[param])]
    for param, name in (
        ("MaxKeys", "s3:max-keys"),
        ("ACL", "s3:x-amz-acl"),
        ("ServerSideEncryption", "s3:x-amz-server-side-encryption"),
        ("SSEKMSKeyId", "s3:x-amz-server-side-encryption-aws-kms-key-id"),
        ("StorageClass", "s3:x-amz-storage-class"),
        ("VersionId", "s3:versionid"),
        ("ContentType", "s3:content-type"),
    ):
        if params.get(param) is not None:
            context[name] = [str(params[param])]
    if op == "DeleteObjects" and bucket:
        objects = params.get("Delete", {}).get("Objects", [])
        # An entry without a key is MalformedXML for the provider: it names nothing to authorize.
        keys = [o["Key"] for o in objects if isinstance(o, dict) and o.get("Key") is not None]
        if keys:
            return [Need(action, f"arn:{ctx.partition}:s3:::{bucket}/{k}") for k in keys]
    bucket_arn = f"arn:{ctx.partition}:s3:::{bucket}"
    resource = f"{bucket_arn}/{key}" if key else bucket_arn if bucket else "*"
    needs = [Need(action, resource, context)]
    if op in ("CopyObject", "UploadPartCopy") and params.get("CopySource"):
        source = str(params["CopySource"]).lstrip("/").split("?", 1)[0]
        needs.append(Need("s3:GetObject", f"arn:{ctx.partition}:s3:::{source}"))
    return needs


# -- SQS --------------------------------------------------------------------------------------

_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def queue_arn(url: str, region: str, account: str) -> str:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 2:
        account, name = parts[-2], parts[-1]
    else:
        name = parts[-1] if parts else url
    return f"arn:{partition_of(region)}:sqs:{region}:{account}:{name}"


def _sqs(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    action = "sqs:" + _SQS_ACTIONS.get(op, op)
    if params.get("QueueUrl"):
        resource = queue_arn(params["QueueUrl"], ctx.region, ctx.account_id)
    elif params.get("QueueName"):
        account = params.get("QueueOwnerAWSAccountId") or ctx.account_id
        resource = f"arn:{ctx.partition}:sqs:{ctx.region}:{account}:{params['QueueName']}"
    else:
        resource = "*"
    return [Need(action, resource)]


# -- SNS --------------------------------------------------------------------------------------


def _sns(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    action = "sns:" + ("Publish" if op == "PublishBatch" else op)
    arn = params.get("TopicArn") or params.get("TargetArn") or params.get("ResourceArn")
    if not arn and params.get("SubscriptionArn"):
        arn = str(params["SubscriptionArn"]).rsplit(":", 1)[0]
    if not arn and op == "CreateTopic" and params.get("Name"):
        arn = f"arn:{ctx.partition}:sns:{ctx.region}:{ctx.account_id}:{params['Name']}"
    context: dict[str, list[str]] = {}
    if op == "Subscribe":
        context["sns:protocol"] = [str(params.get("Protocol", ""))]
        context["sns:endpoint"] = [str(params.get("Endpoint", ""))]
    return [Need(action, arn or "*", context)]


# -- DynamoDB ---------------------------------------------------------------------------------

_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _table(ctx: RequestContext, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:{ctx.partition}:dynamodb:{ctx.region}:{ctx.account_id}:table/{name}"


def _dynamodb(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [Need(f"dynamodb:{op}", _table(ctx, t)) for t in params.get("RequestItems", {})]
    if op in ("TransactWriteItems", "TransactGetItems"):
        needs = []
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                needs.append(Need(f"dynamodb:{_TRANSACT[kind]}", _table(ctx, body["TableName"])))
        return needs
    name = params.get("TableName") or params.get("ResourceArn")
    if not name:
        return [Need(f"dynamodb:{op}", "*")]
    resource = _table(ctx, str(name))
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    context: dict[str, list[str]] = {}
    for param, key in (("Select", "dynamodb:select"), ("ReturnValues", "dynamodb:returnvalues")):
        if params.get(param):
            context[key] = [str(params[param])]
    attributes = list(params.get("AttributesToGet") or params.get("Item") or [])
    if attributes:
        context["dynamodb:attributes"] = [str(a) for a in attributes]
    return [Need(f"dynamodb:{op}", resource, context)]


# -- Lambda -----------------------------------------------------------------------------------

_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}


def _lambda(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    action = "lambda:" + _LAMBDA_ACTIONS.get(op, op)
    name = params.get("FunctionName")
    if not name:
        return [Need(action, "*")]
    name = str(name)
    resource = (
        name
        if name.startswith("arn:")
        else f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account_id}:function:{name}"
    )
    context = {}
    if params.get("FunctionUrlAuthType"):
        context["lambda:functionurlauthtype"] = [str(params["FunctionUrlAuthType"])]
    needs = [Need(action, resource, context)]
    if op in ("CreateFunction", "UpdateFunctionConfiguration") and params.get("Role"):
        needs.append(
            Need(
                "iam:PassRole",
                str(params["Role"]),
                {"iam:passedtoservice": ["lambda.amazonaws.com"]},
            )
        )
    return needs


# -- CloudWatch Logs --------------------------------------------------------------------------


def _logs(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    group = params.get("logGroupName")
    if not group:
        return [Need(f"logs:{op}", "*")]
    resource = f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:{group}"
    if params.get("logStreamName"):
        resource += f":log-stream:{params['logStreamName']}"
    return [Need(f"logs:{op}", resource)]


# -- IAM and STS ------------------------------------------------------------------------------

_IAM_NAMES = (("UserName", "user"), ("RoleName", "role"), ("GroupName", "group"))


# Operations that act on the calling user when they name none.
_SELF_OPERATIONS = {
    "GetUser",
    "ChangePassword",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "ListSigningCertificates",
    "UploadSigningCertificate",
    "ListSSHPublicKeys",
    "ListMFADevices",
    "GetLoginProfile",
    "ListServiceSpecificCredentials",
}


def _iam(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    resource = "*"
    if op in _SELF_OPERATIONS and not params.get("UserName") and ctx.principal.kind == "user":
        return [Need(f"iam:{op}", ctx.principal.arn)]
    if params.get("PolicyArn"):
        resource = str(params["PolicyArn"])
    else:
        for param, kind in _IAM_NAMES:
            if params.get(param):
                resource = f"arn:{ctx.partition}:iam::{ctx.account_id}:{kind}/{params[param]}"
                break
        if params.get("InstanceProfileName") and resource == "*":
            profile = params["InstanceProfileName"]
            resource = f"arn:{ctx.partition}:iam::{ctx.account_id}:instance-profile/{profile}"
    return [Need(f"iam:{op}", resource)]


_STS_FREE = frozenset(("GetCallerIdentity", "GetSessionToken"))
"""STS operations no policy governs: AWS asks no permission for them."""


def _sts(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    if op in _STS_FREE:
        return []
    resource = str(params.get("RoleArn") or "*")
    context: dict[str, list[str]] = {}
    if params.get("ExternalId") is not None:
        context["sts:externalid"] = [str(params["ExternalId"])]
    if params.get("RoleSessionName"):
        context["sts:rolesessionname"] = [str(params["RoleSessionName"])]
    if params.get("SourceIdentity"):
        context["sts:sourceidentity"] = [str(params["SourceIdentity"])]
    tags = params.get("Tags") or []
    if tags:
        context["aws:tagkeys"] = [t["Key"] for t in tags]
        for tag in tags:
            context[f"aws:requesttag/{tag['Key'].lower()}"] = [tag["Value"]]
    needs = [Need(f"sts:{op}", resource, context)]
    if tags and op == "AssumeRole":
        needs.append(Need("sts:TagSession", resource, context))
    if params.get("SourceIdentity") and op == "AssumeRole":
        needs.append(Need("sts:SetSourceIdentity", resource, context))
    return needs


# -- KMS --------------------------------------------------------------------------------------

_KMS_KEYLESS = frozenset(
    ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ListRetirableGrants")
)


def _kms_key(ctx: RequestContext, ref: str) -> str:
    """The ARN a key reference names as far as the request shows it: key ids and ARNs name the
    key; an alias stays an alias ARN (enforcement swaps in the key it targets)."""
    if ref.startswith("arn:"):
        return ref
    if ref.startswith("alias/"):
        return f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account_id}:{ref}"
    return f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account_id}:key/{ref}"


def _kms(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    from nubes.services.kms.crypto import blob_key

    context = {
        f"kms:encryptioncontext:{k.lower()}": [str(v)]
        for k, v in (params.get("EncryptionContext") or {}).items()
    }
    if op in _KMS_KEYLESS:
        return [Need(f"kms:{op}", "*", context)]
    if op == "CreateAlias" or op == "UpdateAlias" or op == "DeleteAlias":
        alias = _kms_key(ctx, str(params.get("AliasName") or ""))
        needs = [Need(f"kms:{op}", alias)]
        if params.get("TargetKeyId"):
            needs.insert(0, Need(f"kms:{op}", _kms_key(ctx, str(params["TargetKeyId"]))))
        return needs
    if op == "ReEncrypt":
        source = params.get("SourceKeyId")
        named = blob_key(bytes(params.get("CiphertextBlob") or b"")) if not source else None
        source_arn = _kms_key(ctx, str(source or (named[0] if named else "")))
        destination = _kms_key(ctx, str(params.get("DestinationKeyId") or ""))
        return [
            Need("kms:ReEncryptFrom", source_arn, context),
            Need("kms:ReEncryptTo", destination, context),
        ]
    ref = params.get("KeyId")
    if not ref and op == "Decrypt":
        named = blob_key(bytes(params.get("CiphertextBlob") or b""))
        ref = named[0] if named else None
    if not ref:
        return [Need(f"kms:{op}", "*", context)]
    return [Need(f"kms:{op}", _kms_key(ctx, str(ref)), context)]


# -- Kinesis ----------------------------------------------------------------------------------


def _kinesis(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    from nubes.services.kinesis.access import resource_arn

    return [Need(f"kinesis:{op}", resource_arn(ctx, op, params))]


def _cognito_idp(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    from nubes.services.cognito_idp.access import resource_arn

    return [Need(f"cognito-idp:{op}", resource_arn(ctx, op, params))]


# -- Secrets Manager ----------------------------------------------------------------------------


def _secretsmanager(ctx: RequestContext, op: str, params: dict[str, Any]) -> list[Need]:
    """A secret named by name stands as its ARN without the random suffix (enforcement swaps
    in the secret's full ARN)."""
    ref = params.get("SecretId") or (params.get("Name") if op == "CreateSecret" else None)
    if not ref:
        return [Need(f"secretsmanager:{op}", "*")]
    ref = str(ref)
    if not ref.startswith("arn:"):
        ref = f"arn:{ctx.partition}:secretsmanager:{ctx.region}:{ctx.account_id}:secret:{ref}"
    return [Need(f"secretsmanager:{op}", ref)]


BUILDERS: dict[str, Builder] = {
    "s3": _s3,
    "sqs": _sqs,
    "sns": _sns,
    "dynamodb": _dynamodb,
    "lambda": _lambda,
    "logs": _logs,
    "iam": _iam,
    "sts": _sts,
    "kms": _kms,
    "secretsmanager": _secretsmanager,
    "kinesis": _kinesis,
    "cognito-idp": _cognito_idp,
}


def needs(ctx: RequestContext, prefix: str, op: str, params: dict[str, Any]) -> list[Need]:
    builder = BUILDERS.get(ctx.service)
    if builder is None:
        return [Need(f"{prefix}:{op}", "*")]
    found = builder(ctx, op, params)
    tags = params.get("Tags")
    if isinstance(tags, list) and tags and ctx.service != "sts":
        keys = [t.get("Key", "") for t in tags if isinstance(t, dict)]
        extra = {"aws:tagkeys": keys}
        for tag in tags:
            if isinstance(tag, dict):
                extra[f"aws:requesttag/{str(tag.get('Key', '')).lower()}"] = [
                    str(tag.get("Value", ""))
                ]
        found = [Need(n.action, n.resource, {**n.context, **extra}) for n in found]
    return found
