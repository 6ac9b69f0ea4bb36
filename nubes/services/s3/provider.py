"""Amazon S3: buckets, objects, listings, multipart uploads, versioning, bucket configurations.

Operations that create or drop object bodies run in their own transaction (``@owns_bodies``):
a body is written before its row commits and an old body is deleted only after the row that
replaced it committed, so a crash at any point leaves every acknowledged object readable.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.services.base import ServiceProvider
from nubes.services.s3 import acl, checksums, conditions
from nubes.services.s3.errors import errors
from nubes.services.s3.models import SCHEMA, Bucket, Entry, S3Store, dump, load
from nubes.services.s3.storage import (
    Location,
    StoredBody,
    aws_chunked,
    body_source,
    iter_all,
    read_plain,
    read_range,
    store_body,
)
from nubes.store import Row

Op = Callable[["S3Provider", RequestContext, dict[str, Any]], dict[str, Any]]

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_KEY_BYTES = 1024
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
CONTENT_HEADERS = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "Expires",
    "WebsiteRedirectLocation",
)
OVERRIDES = {
    "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType",
    "ResponseExpires": "Expires",
}
STORAGE_CLASSES = {
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
    "FSX_OPENZFS",
}
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5")


def owns_bodies(fn: Op) -> Callable[[S3Provider, RequestContext, dict[str, Any]], Awaitable[Any]]:
    """Run an operation in its own transaction: bodies it wrote are removed if it fails, bodies
    it let go are removed only once it committed."""

    @functools.wraps(fn)
    async def run(self: S3Provider, ctx: RequestContext, req: dict[str, Any]) -> Any:
        self.written, self.dropped = [], []
        try:
            with self.store.transaction():
                result = fn(self, ctx, req)
        except BaseException:
            for blob_id in self.written:
                self.blobs.delete(blob_id)
            raise
        for blob_id in self.dropped:
            self.blobs.delete(blob_id)
        return result

    return run


def valid_bucket_name(name: str) -> bool:
    return (
        bool(_BUCKET_NAME.match(name))
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not _IP_ADDRESS.match(name)
        and not name.startswith(_BAD_PREFIXES)
        and not name.endswith(_BAD_SUFFIXES)
    )


def owner(account_id: str) -> dict[str, str]:
    return {"ID": acl.canonical_id(account_id)}


def url_encode(value: str | None, encoding: str | None) -> str | None:
    if value is None or encoding != "url":
        return value
    return quote(value, safe="/")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a ``Range: bytes=..`` header; None when it is to be ignored (S3
    serves the whole object for a range it cannot parse)."""
    m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = m.group(1), m.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise errors.InvalidRange(
                "The requested range is not satisfiable",
                RangeRequested=header,
                ActualObjectSize=size,
            )
        return max(0, size - suffix), size
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        return None
    if start >= size:
        raise errors.InvalidRange(
            "The requested range is not satisfiable", RangeRequested=header, ActualObjectSize=size
        )
    return start, min(end, size)


def parse_copy_source(source: str) -> tuple[str, str, str | None]:
    path, _, query = source.partition("?")
    version = None
    if query.startswith("versionId="):
        version = unquote(query[len("versionId=") :])
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument(
            "Invalid copy source object key", ArgumentName="x-amz-copy-source", ArgumentValue=source
        )
    return bucket, key, version


def parse_tagging(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    from urllib.parse import parse_qsl

    tags = dict(parse_qsl(text, keep_blank_values=True))
    validate_tags(tags, len(parse_qsl(text, keep_blank_values=True)))
    return tags


def validate_tags(tags: dict[str, str], count: int, limit: int = 10) -> None:
    if count != len(tags):
        raise errors.InvalidTag("Cannot provide multiple Tags with the same key")
    if len(tags) > limit:
        raise errors.BadRequest("Object tags cannot be greater than 10")
    for k, v in tags.items():
        if not k or len(k) > 128:
            raise errors.InvalidTag("The TagKey you have provided is invalid")
        if len(v) > 256:
            raise errors.InvalidTag("The TagValue you have provided is invalid")


def tag_set(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def checksum_fields(checksum: dict[str, str] | None) -> dict[str, str]:
    if not checksum:
        return {}
    return {f"Checksum{checksum['Algorithm']}": checksum["Value"], "ChecksumType": checksum["Type"]}


class S3Provider(ServiceProvider):
    service = "s3"
    migrations = (SCHEMA,)

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.db = S3Store(self.store)
        self.written: list[str] = []
        self.dropped: list[str] = []
        from nubes.services.s3 import cors

        self.cors = cors.Cors(self)

    async def start(self) -> None:
        self.env.gateway.interceptors.append(self.cors.preflight)
        self.env.gateway.checks.append(self.cors.annotate)

    async def stop(self) -> None:
        self.env.gateway.interceptors.remove(self.cors.preflight)
        self.env.gateway.checks.remove(self.cors.annotate)

    # -- helpers ----------------------------------------------------------------------------

    def bucket(self, name: str) -> Bucket:
        found = self.db.bucket(name)
        if found is None:
            raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=name)
        return found

    def object(self, bucket: Bucket, key: str, version_id: str | None = None) -> Row:
        """The object (a version of it when asked) that GET and HEAD serve; raises the errors S3
        gives for a missing key, a missing version or a delete marker."""
        if version_id is None:
            row = self.db.latest(bucket.name, key)
            if row is None:
                raise errors.NoSuchKey("The specified key does not exist.", Key=key)
            if row["delete_marker"]:
                err = errors.NoSuchKey("The specified key does not exist.", Key=key)
                err.headers = {"x-amz-delete-marker": "true"}
                if row["version_id"] != "null" or bucket.versioning:
                    err.headers["x-amz-version-id"] = row["version_id"]
                raise err
            return row
        row = self.db.version(bucket.name, key, version_id)
        if row is None:
            if version_id != "null" and len(version_id) != 32:
                raise errors.InvalidArgument(
                    "Invalid version id specified",
                    ArgumentName="versionId",
                    ArgumentValue=version_id,
                )
            raise errors.NoSuchVersion(
                "The specified version does not exist.", Key=key, VersionId=version_id
            )
        if row["delete_marker"]:
            err = errors.MethodNotAllowed(
                "The specified method is not allowed against this resource.",
                Method="GET",
                ResourceType="DeleteMarker",
            )
            err.headers = {
                "x-amz-delete-marker": "true",
                "x-amz-version-id": version_id,
                "Last-Modified": _http_date(row["last_modified"]),
            }
            raise err
        return row

    def drop(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.dropped.extend(Location.of(row).blob_ids())

    def new_version_id(self, bucket: Bucket) -> str:
        return secrets.token_urlsafe(24) if bucket.versioning == "Enabled" else "null"

    def version_header(self, bucket: Bucket, version_id: str) -> dict[str, str]:
        return {"VersionId": version_id} if bucket.versioning else {}

    # -- buckets ----------------------------------------------------------------------------

    def create_bucket(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        name = req["Bucket"]
        if not valid_bucket_name(name):
            raise errors.InvalidBucketName("The specified bucket is not valid.", BucketName=name)
        region = self._location(ctx, req.get("CreateBucketConfiguration") or {})
        existing = self.db.bucket(name)
        if existing is not None:
            if existing.account_id != ctx.account_id:
                raise errors.BucketAlreadyExists(
                    "The requested bucket name is not available. The bucket namespace is shared "
                    "by all users of the system. Please select a different name and try again.",
                    BucketName=name,
                )
            if existing.region == "us-east-1" and region == "us-east-1":
                # us-east-1 answers a repeated create of one's own bucket with success.
                return {"Location": f"/{name}", "BucketArn": f"arn:aws:s3:::{name}"}
            raise errors.BucketAlreadyOwnedByYou(
                "Your previous request to create the named bucket succeeded and you already "
                "own it.",
                BucketName=name,
            )
        lock = bool(req.get("ObjectLockEnabledForBucket"))
        ownership = req.get("ObjectOwnership") or "BucketOwnerEnforced"
        canned = req.get("ACL")
        if ownership == "BucketOwnerEnforced" and canned not in (
            None,
            "private",
            "bucket-owner-full-control",
        ):
            raise errors.InvalidBucketAclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )
        self.db.create_bucket(
            Bucket(name, ctx.account_id, region, clock.now(), "Enabled" if lock else None, lock)
        )
        self.db.put_config(name, "ownership", {"Rules": [{"ObjectOwnership": ownership}]})
        self.db.put_config(name, "public_access_block", dict.fromkeys(_PAB_FIELDS, True))
        self.db.put_config(name, "acl", acl.from_request(req, ctx.account_id))
        if lock:
            self.db.put_config(name, "object_lock", {"ObjectLockEnabled": "Enabled"})
        location = f"/{name}" if region == "us-east-1" else f"{ctx.base_url}/{name}/"
        return {"Location": location, "BucketArn": f"arn:aws:s3:::{name}"}

    @staticmethod
    def _location(ctx: RequestContext, config: dict[str, Any]) -> str:
        constraint = config.get("LocationConstraint") or ""
        if ctx.region == "us-east-1":
            if constraint == "us-east-1":
                raise errors.InvalidLocationConstraint(
                    "The specified location-constraint is not valid",
                    LocationConstraint=constraint,
                )
            return constraint or "us-east-1"
        if not constraint:
            raise errors.IllegalLocationConstraintException(
                "The unspecified location constraint is incompatible for the region specific "
                "endpoint this request was sent to."
            )
        if constraint != ctx.region:
            raise errors.IllegalLocationConstraintException(
                f"The {constraint} location constraint is incompatible for the region specific "
                "endpoint this request was sent to."
            )
        return constraint

    def head_bucket(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        return {"BucketRegion": bucket.region, "AccessPointAlias": False}

    def get_bucket_location(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    def list_buckets(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        limit = req.get("MaxBuckets")
        if limit is not None and not 1 <= limit <= 10000:
            raise errors.InvalidArgument(
                "Argument max-buckets must be an integer between 1 and 10000",
                ArgumentName="max-buckets",
                ArgumentValue=str(limit),
            )
        after = ""
        if req.get("ContinuationToken"):
            after = self._token(req["ContinuationToken"])
        page = self.db.buckets(
            ctx.account_id,
            req.get("Prefix") or "",
            after,
            req.get("BucketRegion"),
            (limit or 10000) + 1,
        )
        out: dict[str, Any] = {"Owner": owner(ctx.account_id)}
        if limit is not None and len(page) > limit:
            page = page[:limit]
            out["ContinuationToken"] = encode_token(page[-1].name)
        out["Buckets"] = [
            {
                "Name": b.name,
                "CreationDate": b.created,
                "BucketRegion": b.region,
                "BucketArn": f"arn:aws:s3:::{b.name}",
            }
            for b in page
        ]
        if req.get("Prefix") is not None:
            out["Prefix"] = req["Prefix"]
        return out

    @staticmethod
    def _token(token: str) -> str:
        try:
            position = decode_token(token)
        except InvalidToken:
            position = None
        if not isinstance(position, str):
            raise errors.InvalidArgument(
                "The continuation token provided is incorrect",
                ArgumentName="continuation-token",
                ArgumentValue=token,
            )
        return position

    def delete_bucket(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        if not self.db.is_empty(bucket.name):
            raise errors.BucketNotEmpty(
                "The bucket you tried to delete is not empty", BucketName=bucket.name
            )
        self.db.delete_bucket(bucket.name)
        return {}

    # -- objects: write ---------------------------------------------------------------------

    def receive(
        self, ctx: RequestContext, req: dict[str, Any], inline: bool = True
    ) -> tuple[StoredBody, dict[str, str] | None]:
        """Read the request body into storage, verifying Content-MD5, x-amz-content-sha256 and
        the flexible checksum (header or aws-chunked trailer); returns the body and the
        checksum to keep."""
        headers = ctx.request.headers
        declared = [a for a in _CHECKSUM_ALGORITHMS if req.get(f"Checksum{a}")]
        trailer = headers.get("x-amz-trailer", "").strip().lower()
        if trailer.startswith("x-amz-checksum-"):
            declared.append(trailer[len("x-amz-checksum-") :].upper())
        if len(declared) > 1:
            raise errors.InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                "allowed."
            )
        algorithm = declared[0] if declared else (req.get("ChecksumAlgorithm") or None)
        if algorithm is not None and algorithm not in checksums.ALGORITHMS:
            raise errors.InvalidRequest(f"Checksum algorithm {algorithm} is not supported.")
        expected = req.get(f"Checksum{algorithm}") if algorithm else None
        if expected is not None and checksums.decode(expected, algorithm or "") is None:
            raise errors.InvalidRequest(
                f"Value for x-amz-checksum-{(algorithm or '').lower()} header is invalid."
            )
        md5 = req.get("ContentMD5")
        if md5 is not None and checksums.decode(md5, "MD5") is None:
            raise errors.InvalidDigest("The Content-MD5 you specified is not valid.")
        content_sha = headers.get("x-amz-content-sha256", "")
        wanted = [algorithm] if algorithm else []
        hex_payload = len(content_sha) == 64
        if hex_payload and "SHA256" not in wanted:
            wanted.append("SHA256")
        stream = body_source(req.get("Body"))
        trailers: dict[str, str] = {}
        chunked = content_sha.startswith("STREAMING-") or "aws-chunked" in (
            req.get("ContentEncoding") or ""
        )
        chunks = aws_chunked(stream, trailers) if chunked else read_plain(stream)
        body = store_body(self.blobs, chunks, wanted, checksums.ALGORITHMS, inline=inline)
        if body.blob_id:
            self.written.append(body.blob_id)
        decoded = headers.get("x-amz-decoded-content-length")
        if chunked and decoded is not None and decoded.isdigit() and int(decoded) != body.size:
            raise errors.IncompleteBody("The request body terminated unexpectedly")
        if hex_payload and body.digests["SHA256"].hex() != content_sha.lower():
            raise errors.XAmzContentSHA256Mismatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ClientComputedContentSHA256=content_sha,
                S3ComputedContentSHA256=body.digests["SHA256"].hex(),
            )
        if md5 is not None and checksums.decode(md5, "MD5") != bytes.fromhex(body.md5):
            raise errors.BadDigest(
                "The Content-MD5 you specified did not match what we received.",
                ExpectedDigest=md5,
                CalculatedDigest=checksums.encode(bytes.fromhex(body.md5)),
            )
        if algorithm is None:
            return body, None
        if expected is None and trailer:
            expected = trailers.get(trailer)
            if expected is not None and checksums.decode(expected, algorithm) is None:
                raise errors.InvalidRequest(f"Value for {trailer} trailing header is invalid.")
        actual = checksums.encode(body.digests[algorithm])
        if expected is not None and expected != actual:
            raise errors.BadDigest(
                f"The {algorithm} you specified did not match the calculated checksum."
            )
        return body, {"Algorithm": algorithm, "Value": actual, "Type": "FULL_OBJECT"}

    def check_key(self, key: str) -> None:
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise errors.KeyTooLongError(
                "Your key is too long", MaxSizeAllowed=MAX_KEY_BYTES, Size=len(key.encode())
            )

    def object_attrs(
        self, ctx: RequestContext, req: dict[str, Any], bucket: Bucket
    ) -> dict[str, Any]:
        """What PutObject, CopyObject (REPLACE) and CreateMultipartUpload record beside the body."""
        attrs: dict[str, Any] = {}
        for name in CONTENT_HEADERS:
            value = req.get(name)
            if value is not None:
                attrs[name] = value.timestamp() if isinstance(value, datetime) else value
        encoding = attrs.get("ContentEncoding")
        if encoding is not None:
            kept = [e for e in (p.strip() for p in encoding.split(",")) if e and e != "aws-chunked"]
            if kept:
                attrs["ContentEncoding"] = ",".join(kept)
            else:
                del attrs["ContentEncoding"]
        if req.get("Metadata"):
            attrs["Metadata"] = {k.lower(): v for k, v in req["Metadata"].items()}
        storage_class = req.get("StorageClass")
        if storage_class is not None:
            if storage_class not in STORAGE_CLASSES:
                raise errors.InvalidStorageClass(
                    "The storage class you specified is not valid",
                    StorageClassRequested=storage_class,
                )
            if storage_class != "STANDARD":
                attrs["StorageClass"] = storage_class
        attrs.update(self.encryption(bucket, req))
        if req.get("Tagging"):
            attrs["Tags"] = parse_tagging(req["Tagging"])
        if any(req.get(k) for k in acl.REQUEST_FIELDS):
            attrs["ACL"] = acl.from_request(req, ctx.account_id)
        attrs.update(self.lock_attrs(bucket, req))
        attrs["Owner"] = ctx.account_id
        return attrs

    def encryption(self, bucket: Bucket, req: dict[str, Any]) -> dict[str, Any]:
        sse = req.get("ServerSideEncryption")
        if sse is None:
            config = self.db.config(bucket.name, "encryption")
            if config:
                default = config["Rules"][0].get("ApplyServerSideEncryptionByDefault", {})
                sse = default.get("SSEAlgorithm", "AES256")
                out: dict[str, Any] = {"ServerSideEncryption": sse}
                if default.get("KMSMasterKeyID"):
                    out["SSEKMSKeyId"] = default["KMSMasterKeyID"]
                if config["Rules"][0].get("BucketKeyEnabled"):
                    out["BucketKeyEnabled"] = True
                return out
            return {"ServerSideEncryption": "AES256"}
        out = {"ServerSideEncryption": sse}
        if sse.startswith("aws:kms"):
            key = req.get("SSEKMSKeyId") or "aws/s3"
            if not key.startswith("arn:"):
                key = f"arn:aws:kms:{bucket.region}:{bucket.account_id}:key/{key}"
            out["SSEKMSKeyId"] = key
            if req.get("BucketKeyEnabled"):
                out["BucketKeyEnabled"] = True
        return out

    def lock_attrs(self, bucket: Bucket, req: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        mode, until = req.get("ObjectLockMode"), req.get("ObjectLockRetainUntilDate")
        hold = req.get("ObjectLockLegalHoldStatus")
        if (mode or until or hold) and not bucket.object_lock:
            raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
        if bool(mode) != bool(until):
            raise errors.InvalidArgument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be "
                "supplied"
            )
        if mode:
            out["Retention"] = {"Mode": mode, "RetainUntilDate": until.timestamp()}
        elif bucket.object_lock:
            default = (self.db.config(bucket.name, "object_lock") or {}).get("Rule", {})
            retention = default.get("DefaultRetention")
            if retention:
                days = retention.get("Days") or 365 * retention.get("Years", 0)
                out["Retention"] = {
                    "Mode": retention["Mode"],
                    "RetainUntilDate": clock.now() + days * 86400,
                }
        if hold:
            out["LegalHold"] = hold
        return out

    def check_write_conditions(self, bucket: Bucket, key: str, req: dict[str, Any]) -> None:
        if_none, if_match = req.get("IfNoneMatch"), req.get("IfMatch")
        if if_none is None and if_match is None:
            return
        current = self.db.latest(bucket.name, key)
        exists = current is not None and not current["delete_marker"]
        if if_none is not None:
            if if_none.strip() != "*":
                raise errors.NotImplemented(
                    "A header you provided implies functionality that is not implemented",
                    Header="If-None-Match",
                )
            if exists:
                raise errors.PreconditionFailed(
                    "At least one of the pre-conditions you specified did not hold",
                    Condition="If-None-Match",
                )
        if if_match is not None:
            if not exists:
                raise errors.NoSuchKey("The specified key does not exist.", Key=key)
            assert current is not None
            if not conditions.etag_matches(if_match, current["etag"]):
                raise errors.PreconditionFailed(
                    "At least one of the pre-conditions you specified did not hold",
                    Condition="If-Match",
                )

    def commit_object(
        self,
        bucket: Bucket,
        key: str,
        where: StoredBody | Location,
        size: int,
        etag: str,
        attrs: dict[str, Any],
    ) -> str:
        """Make a new version of ``key`` current; returns its version id."""
        version_id = self.new_version_id(bucket)
        values: dict[str, Any] = {
            "bucket": bucket.name,
            "key": key,
            "version_id": version_id,
            "last_modified": clock.now(),
            "size": size,
            "etag": etag,
            "attrs": dump(attrs),
        }
        if isinstance(where, StoredBody):
            values["data"] = where.data
            values["blob_id"] = where.blob_id
        else:
            values["parts"] = json.dumps(where.parts)
        self.drop(self.db.add_version(values, replace_null=bucket.versioning != "Enabled"))
        return version_id

    @owns_bodies
    def put_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        key = req["Key"]
        self.check_key(key)
        attrs = self.object_attrs(ctx, req, bucket)
        self.check_write_conditions(bucket, key, req)
        body, checksum = self.receive(ctx, req)
        if checksum:
            attrs["Checksum"] = checksum
        etag = f'"{body.md5}"'
        version_id = self.commit_object(bucket, key, body, body.size, etag, attrs)
        return {
            "ETag": etag,
            **checksum_fields(checksum),
            **self.version_header(bucket, version_id),
            **_sse_fields(attrs),
        }

    # -- objects: read ----------------------------------------------------------------------

    def get_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._read_object(ctx, req, with_body=True)

    def head_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._read_object(ctx, req, with_body=False)

    def _read_object(
        self, ctx: RequestContext, req: dict[str, Any], with_body: bool
    ) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        row = self.object(bucket, req["Key"], req.get("VersionId"))
        conditions.check_read(req, row["etag"], row["last_modified"])
        attrs = load(row["attrs"])
        where = Location.of(row)
        size = row["size"]
        out = self.object_fields(bucket, row, attrs)
        for param, field in OVERRIDES.items():
            if req.get(param) is not None:
                out[field] = req[param]
        start, end = 0, size
        part_number = req.get("PartNumber")
        if part_number is not None:
            start, end = self._part_span(where, size, part_number)
            out["PartsCount"] = len(where.parts) if where.parts else 1
            if where.parts:
                out["ContentRange"] = f"bytes {start}-{end - 1}/{size}"
        elif req.get("Range"):
            span = parse_range(req["Range"], size)
            if span is not None:
                start, end = span
                out["ContentRange"] = f"bytes {start}-{end - 1}/{size}"
        if "ContentRange" in out:
            ctx.extras["status"] = 206
        elif req.get("ChecksumMode") == "ENABLED" and part_number is None:
            # A checksum describes the whole object: a range or a part goes without it.
            out.update(checksum_fields(attrs.get("Checksum")))
        out["ContentLength"] = end - start
        if with_body:
            out["Body"] = read_range(self.blobs, where, start, end)
        return out

    @staticmethod
    def _part_span(where: Location, size: int, number: int) -> tuple[int, int]:
        parts = where.parts or [[None, size]]
        if not 1 <= number <= len(parts):
            raise errors.InvalidPartNumber(
                "The requested partnumber is not satisfiable",
                PartNumberRequested=number,
                ActualPartCount=len(parts),
            )
        start = sum(p[1] for p in parts[: number - 1])
        return start, start + parts[number - 1][1]

    def object_fields(self, bucket: Bucket, row: Row, attrs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LastModified": row["last_modified"],
            "ETag": row["etag"],
            "AcceptRanges": "bytes",
            "ContentType": attrs.get("ContentType", DEFAULT_CONTENT_TYPE),
        }
        for name in CONTENT_HEADERS[1:]:
            if name in attrs:
                out[name] = attrs[name]
        if attrs.get("Metadata"):
            out["Metadata"] = attrs["Metadata"]
        if attrs.get("StorageClass"):
            out["StorageClass"] = attrs["StorageClass"]
        out.update(_sse_fields(attrs))
        if bucket.versioning or row["version_id"] != "null":
            out["VersionId"] = row["version_id"]
        if attrs.get("Tags"):
            out["TagCount"] = len(attrs["Tags"])
        if row["parts"]:
            out["PartsCount"] = len(json.loads(row["parts"]))
        retention = attrs.get("Retention")
        if retention:
            out["ObjectLockMode"] = retention["Mode"]
            out["ObjectLockRetainUntilDate"] = retention["RetainUntilDate"]
        if attrs.get("LegalHold"):
            out["ObjectLockLegalHoldStatus"] = attrs["LegalHold"]
        return out

    # -- objects: delete --------------------------------------------------------------------

    @owns_bodies
    def delete_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        return self._delete(
            bucket, req["Key"], req.get("VersionId"), bool(req.get("BypassGovernanceRetention"))
        )

    def _delete(
        self, bucket: Bucket, key: str, version_id: str | None, bypass: bool
    ) -> dict[str, Any]:
        if version_id is not None:
            row = self.db.version(bucket.name, key, version_id)
            if row is None:
                return {"VersionId": version_id}
            self.check_retention(row, bypass)
            self.db.remove_version(row)
            self.drop([row])
            out: dict[str, Any] = {"VersionId": version_id}
            if row["delete_marker"]:
                out["DeleteMarker"] = True
            return out
        if bucket.versioning is None:
            row = self.db.latest(bucket.name, key)
            if row is not None:
                self.db.remove_version(row)
                self.drop([row])
            return {}
        marker_id = self.new_version_id(bucket)
        self.drop(
            self.db.add_version(
                {
                    "bucket": bucket.name,
                    "key": key,
                    "version_id": marker_id,
                    "last_modified": clock.now(),
                    "delete_marker": 1,
                    "attrs": "{}",
                },
                replace_null=bucket.versioning == "Suspended",
            )
        )
        return {"DeleteMarker": True, "VersionId": marker_id}

    def check_retention(self, row: Row, bypass: bool) -> None:
        attrs = load(row["attrs"])
        retention = attrs.get("Retention")
        locked = attrs.get("LegalHold") == "ON"
        if retention and retention["RetainUntilDate"] > clock.now():
            locked = locked or retention["Mode"] == "COMPLIANCE" or not bypass
        if locked:
            raise errors.AccessDenied("Access Denied because object protected by object lock.")

    @owns_bodies
    def delete_objects(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        delete = req.get("Delete") or {}
        objects = delete.get("Objects") or []
        if not objects or len(objects) > 1000:
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        quiet = bool(delete.get("Quiet"))
        deleted, failed = [], []
        bypass = bool(req.get("BypassGovernanceRetention"))
        for item in objects:
            key, version_id = item["Key"], item.get("VersionId")
            try:
                result = self._delete(bucket, key, version_id, bypass)
            except Exception as exc:  # a per-key failure is reported, the others go on
                code = getattr(exc, "code", "InternalError")
                failed.append(
                    {"Key": key, "Code": code, "Message": str(exc), **_opt("VersionId", version_id)}
                )
                continue
            if quiet:
                continue
            entry: dict[str, Any] = {"Key": key, **_opt("VersionId", version_id)}
            if result.get("DeleteMarker"):
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = result["VersionId"]
            deleted.append(entry)
        out: dict[str, Any] = {}
        if deleted:
            out["Deleted"] = deleted
        if failed:
            out["Errors"] = failed
        return out

    # -- objects: copy ----------------------------------------------------------------------

    def copy_source(self, req: dict[str, Any]) -> tuple[Bucket, Row]:
        name, key, version = parse_copy_source(req["CopySource"])
        source_bucket = self.bucket(name)
        row = self.object(source_bucket, key, version)
        conditions.check_copy_source(req, row["etag"], row["last_modified"])
        return source_bucket, row

    @owns_bodies
    def copy_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        key = req["Key"]
        self.check_key(key)
        source_bucket, row = self.copy_source(req)
        source_attrs = load(row["attrs"])
        replace = req.get("MetadataDirective") == "REPLACE"
        same = source_bucket.name == bucket.name and row["key"] == key
        changes = replace or any(
            req.get(k)
            for k in (
                "StorageClass",
                "ServerSideEncryption",
                "WebsiteRedirectLocation",
                "SSEKMSKeyId",
            )
        )
        if same and not changes and row["latest"] and req.get("ChecksumAlgorithm") is None:
            raise errors.InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself "
                "without changing the object's metadata, storage class, website redirect "
                "location or encryption attributes."
            )
        self.check_write_conditions(bucket, key, req)
        if replace:
            attrs = self.object_attrs(ctx, {**req, "Tagging": None}, bucket)
        else:
            attrs = {k: v for k, v in source_attrs.items() if k in (*CONTENT_HEADERS, "Metadata")}
            attrs.update(self.object_attrs(ctx, _only_placement(req), bucket))
        if req.get("TaggingDirective") == "REPLACE":
            attrs["Tags"] = parse_tagging(req.get("Tagging"))
            if not attrs["Tags"]:
                del attrs["Tags"]
        elif source_attrs.get("Tags"):
            attrs["Tags"] = source_attrs["Tags"]
        algorithm = req.get("ChecksumAlgorithm")
        source_checksum = source_attrs.get("Checksum")
        if algorithm is None and source_checksum and source_checksum["Type"] == "FULL_OBJECT":
            algorithm = source_checksum["Algorithm"]
        body = store_body(
            self.blobs,
            iter_all(self.blobs, Location.of(row), row["size"]),
            [algorithm] if algorithm else [],
            checksums.ALGORITHMS,
        )
        if body.blob_id:
            self.written.append(body.blob_id)
        if algorithm:
            attrs["Checksum"] = {
                "Algorithm": algorithm,
                "Value": checksums.encode(body.digests[algorithm]),
                "Type": "FULL_OBJECT",
            }
        etag = f'"{body.md5}"'
        version_id = self.commit_object(bucket, key, body, body.size, etag, attrs)
        result = {
            "ETag": etag,
            "LastModified": clock.now(),
            **checksum_fields(attrs.get("Checksum")),
        }
        result.pop("ChecksumType", None)
        out: dict[str, Any] = {"CopyObjectResult": result, **_sse_fields(attrs)}
        out.update(self.version_header(bucket, version_id))
        if source_bucket.versioning:
            out["CopySourceVersionId"] = row["version_id"]
        return out

    # -- listings ---------------------------------------------------------------------------

    def list_objects(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        encoding = req.get("EncodingType")
        max_keys = self._max_keys(req.get("MaxKeys"))
        marker = req.get("Marker") or ""
        entries, truncated = self.db.listing(
            bucket.name, req.get("Prefix") or "", req.get("Delimiter") or "", marker, max_keys
        )
        out = self._listing_body(bucket, req, entries, encoding, with_owner=True)
        out.update(IsTruncated=truncated, Marker=url_encode(marker, encoding), MaxKeys=max_keys)
        if truncated and req.get("Delimiter"):
            out["NextMarker"] = url_encode(_entry_name(entries[-1]), encoding)
        return out

    def list_objects_v2(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        encoding = req.get("EncodingType")
        max_keys = self._max_keys(req.get("MaxKeys"))
        token = req.get("ContinuationToken")
        after = req.get("StartAfter") or ""
        if token is not None:
            after = max(after, self._token(token))
        entries, truncated = self.db.listing(
            bucket.name, req.get("Prefix") or "", req.get("Delimiter") or "", after, max_keys
        )
        out = self._listing_body(
            bucket, req, entries, encoding, with_owner=bool(req.get("FetchOwner"))
        )
        out.update(IsTruncated=truncated, MaxKeys=max_keys, KeyCount=len(entries))
        if token is not None:
            out["ContinuationToken"] = token
        if req.get("StartAfter") is not None:
            out["StartAfter"] = url_encode(req["StartAfter"], encoding)
        if truncated:
            out["NextContinuationToken"] = encode_token(_entry_name(entries[-1]))
        return out

    @staticmethod
    def _max_keys(value: int | None) -> int:
        if value is None:
            return 1000
        if value < 0:
            raise errors.InvalidArgument(
                "Argument maxKeys must be an integer between 0 and 2147483647",
                ArgumentName="maxKeys",
                ArgumentValue=str(value),
            )
        return min(value, 1000)

    def _listing_body(
        self,
        bucket: Bucket,
        req: dict[str, Any],
        entries: list[Entry],
        encoding: str | None,
        with_owner: bool,
    ) -> dict[str, Any]:
        contents, prefixes = [], []
        for entry in entries:
            if entry.row is None:
                prefixes.append({"Prefix": url_encode(entry.prefix, encoding)})
                continue
            row = entry.row
            attrs = load(row["attrs"])
            item: dict[str, Any] = {
                "Key": url_encode(row["key"], encoding),
                "LastModified": row["last_modified"],
                "ETag": row["etag"],
                "Size": row["size"],
                "StorageClass": attrs.get("StorageClass", "STANDARD"),
            }
            checksum = attrs.get("Checksum")
            if checksum:
                item["ChecksumAlgorithm"] = [checksum["Algorithm"]]
                item["ChecksumType"] = checksum["Type"]
            if with_owner:
                item["Owner"] = owner(attrs.get("Owner", bucket.account_id))
            contents.append(item)
        out: dict[str, Any] = {
            "Name": bucket.name,
            "Prefix": url_encode(req.get("Prefix") or "", encoding),
        }
        if contents:
            out["Contents"] = contents
        if prefixes:
            out["CommonPrefixes"] = prefixes
        if req.get("Delimiter"):
            out["Delimiter"] = url_encode(req["Delimiter"], encoding)
        if encoding:
            out["EncodingType"] = encoding
        return out

    def list_object_versions(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        encoding = req.get("EncodingType")
        max_keys = self._max_keys(req.get("MaxKeys"))
        key_marker = req.get("KeyMarker") or ""
        version_marker = req.get("VersionIdMarker")
        after_id = None
        if key_marker and version_marker:
            row = self.db.version(bucket.name, key_marker, version_marker)
            if row is None:
                raise errors.InvalidArgument(
                    "Invalid version id specified",
                    ArgumentName="version-id-marker",
                    ArgumentValue=version_marker,
                )
            after_id = row["id"]
        entries, truncated = self.db.listing(
            bucket.name,
            req.get("Prefix") or "",
            req.get("Delimiter") or "",
            key_marker,
            max_keys,
            versions=True,
            after_id=after_id,
        )
        versions, markers, prefixes = [], [], []
        for entry in entries:
            if entry.row is None:
                prefixes.append({"Prefix": url_encode(entry.prefix, encoding)})
                continue
            row = entry.row
            attrs = load(row["attrs"])
            item: dict[str, Any] = {
                "Key": url_encode(row["key"], encoding),
                "VersionId": row["version_id"],
                "IsLatest": bool(row["latest"]),
                "LastModified": row["last_modified"],
                "Owner": owner(attrs.get("Owner", bucket.account_id)),
            }
            if row["delete_marker"]:
                markers.append(item)
                continue
            item.update(ETag=row["etag"], Size=row["size"])
            item["StorageClass"] = attrs.get("StorageClass", "STANDARD")
            checksum = attrs.get("Checksum")
            if checksum:
                item["ChecksumAlgorithm"] = [checksum["Algorithm"]]
                item["ChecksumType"] = checksum["Type"]
            versions.append(item)
        out: dict[str, Any] = {
            "Name": bucket.name,
            "Prefix": url_encode(req.get("Prefix") or "", encoding),
            "KeyMarker": url_encode(key_marker, encoding),
            "MaxKeys": max_keys,
            "IsTruncated": truncated,
        }
        if version_marker is not None:
            out["VersionIdMarker"] = version_marker
        if versions:
            out["Versions"] = versions
        if markers:
            out["DeleteMarkers"] = markers
        if prefixes:
            out["CommonPrefixes"] = prefixes
        if req.get("Delimiter"):
            out["Delimiter"] = url_encode(req["Delimiter"], encoding)
        if encoding:
            out["EncodingType"] = encoding
        if truncated:
            last = entries[-1]
            out["NextKeyMarker"] = url_encode(_entry_name(last), encoding)
            if last.row is not None:
                out["NextVersionIdMarker"] = last.row["version_id"]
        return out

    # -- versioning -------------------------------------------------------------------------

    def put_bucket_versioning(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        status = (req.get("VersioningConfiguration") or {}).get("Status")
        if status not in ("Enabled", "Suspended"):
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        if bucket.object_lock and status == "Suspended":
            raise errors.InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning "
                "state cannot be changed."
            )
        self.db.set_versioning(bucket.name, status)
        return {}

    def get_bucket_versioning(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        return {"Status": bucket.versioning} if bucket.versioning else {}


_PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _http_date(epoch: float) -> str:
    from email.utils import formatdate

    return formatdate(epoch, usegmt=True)


def _sse_fields(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: attrs[k]
        for k in ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")
        if k in attrs
    }


def _opt(name: str, value: Any) -> dict[str, Any]:
    return {} if value is None else {name: value}


def _only_placement(req: dict[str, Any]) -> dict[str, Any]:
    """The parts of a COPY-directive request that still apply to the copy."""
    keep = (
        "StorageClass",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "BucketKeyEnabled",
        "ObjectLockMode",
        "ObjectLockRetainUntilDate",
        "ObjectLockLegalHoldStatus",
        *acl.REQUEST_FIELDS,
    )
    return {k: req[k] for k in keep if req.get(k) is not None}


def _entry_name(entry: Entry) -> str:
    return entry.prefix if entry.row is None else entry.row["key"]
