"""S3's errors: the modelled ones come from the botocore model, the rest are declared here with
the HTTP status S3 answers them with."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue(
    "s3",
    extra={
        "AccessControlListNotSupported": 400,
        "AuthorizationQueryParametersError": 400,
        "BadDigest": 400,
        "BadRequest": 400,
        "BucketNotEmpty": 409,
        "EntityTooLarge": 400,
        "EntityTooSmall": 400,
        "IllegalLocationConstraintException": 400,
        "IncompleteBody": 400,
        "InvalidArgument": 400,
        "InvalidBucketAclWithObjectOwnership": 400,
        "InvalidBucketName": 400,
        "InvalidBucketState": 409,
        "InvalidDigest": 400,
        "InvalidLocationConstraint": 400,
        "InvalidPart": 400,
        "InvalidPartNumber": 416,
        "InvalidPartOrder": 400,
        "InvalidRange": 416,
        "InvalidStorageClass": 400,
        "InvalidTag": 400,
        "InvalidTargetBucketForLogging": 400,
        "KeyTooLongError": 400,
        "MalformedACLError": 400,
        "MalformedPolicy": 400,
        "MalformedXML": 400,
        "MethodNotAllowed": 405,
        "NoSuchBucketPolicy": 404,
        "NoSuchCORSConfiguration": 404,
        "NoSuchLifecycleConfiguration": 404,
        "NoSuchObjectLockConfiguration": 404,
        "NoSuchPublicAccessBlockConfiguration": 404,
        "NoSuchTagSet": 404,
        "NoSuchVersion": 404,
        "NoSuchWebsiteConfiguration": 404,
        "NotModified": 304,
        "ObjectLockConfigurationNotFoundError": 404,
        "OwnershipControlsNotFoundError": 404,
        "PreconditionFailed": 412,
        "ReplicationConfigurationNotFoundError": 404,
        "ServerSideEncryptionConfigurationNotFoundError": 404,
        "XAmzContentSHA256Mismatch": 400,
    },
)
