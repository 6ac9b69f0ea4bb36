"""Amazon S3: buckets, objects, listings, versioning; multipart uploads, bucket configurations
and object sub-resources live in their own modules and join here.

Bodies and rows: a body is written (inline or as a blob) before the row naming it commits, and
a body that a commit replaced or deleted is removed only after that commit (the body ledger in
``storage``), so a crash at any point leaves every acknowledged object readable; the blobs
such a crash leaves unnamed are deleted at the next start (``storage.settle_blobs``).
Operations that handle bodies run their own transactions: large bodies are received, hashed
and copied on a worker thread, and the row is committed afterwards in one short transaction.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.services.s3 import (
    acl,
    checksums,
    conditions,
    cors,
    lifecycle,
    post,
    presign,
    website,
)
from nubes.services.s3 import metrics as s3_metrics
from nubes.services.s3.base import (
    CONTENT_HEADERS,
    OVERRIDES,
    check_customer_key,
    check_version_id,
    checksum_fields,
    owner,
    parse_copy_source,
    parse_range,
    parse_tagging,
    sse_fields,
    url_encode,
    valid_bucket_name,
    well_formed_version_id,
)
from nubes.services.s3.bucket_configs import BucketConfigOps
from nubes.services.s3.errors import errors
from nubes.services.s3.models import (
    ABORTED_UPLOADS,
    COMPLETED_UPLOADS,
    SCHEMA,
    Bucket,
    Entry,
    load_attrs,
)
from nubes.services.s3.multipart import MultipartOps
from nubes.services.s3.object_meta import ObjectMetaOps
from nubes.services.s3.storage import (
    Location,
    body_ledger,
    owns_bodies,
    read_range,
    settle_blobs,
)

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.s3")


class S3Provider(MultipartOps, BucketConfigOps, ObjectMetaOps):
    service = "s3"
    migrations = (SCHEMA, COMPLETED_UPLOADS, ABORTED_UPLOADS)

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.cors = cors.Cors(self)
        self.uploads = post.BrowserUploads(self)
        self.lifecycle = lifecycle.Lifecycle(self)
        self.website = website.Website(self)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # Lifecycle rules expire objects (and notify) without a request.
        return cls.has_rows(env, "SELECT 1 FROM s3_bucket_configs WHERE kind = 'lifecycle' LIMIT 1")

    async def start(self) -> None:
        deleted, moved = settle_blobs(self.blobs, self.shared_blobs, self.db.referenced_blobs())
        if deleted or moved:
            log.info("s3: deleted %d orphaned blobs, moved %d into S3's area", deleted, moved)
        self.env.gateway.interceptors.append(self.cors.preflight)
        self.env.metrics.collector(s3_metrics.storage(self.env))
        self.env.gateway.interceptors.append(self.uploads.intercept)
        self.env.gateway.interceptors.append(self.website.intercept)
        self.env.gateway.checks.append(self.cors.annotate)
        self.env.gateway.checks.append(presign.check)
        self.env.gateway.checks.append(self.check_expected_owner)
        self.lifecycle.start()

    def reset(self) -> None:
        # Clearing the shared blob area took S3's with it.
        self.blobs.tmp.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        self.env.gateway.interceptors.remove(self.cors.preflight)
        self.env.gateway.interceptors.remove(self.uploads.intercept)
        self.env.gateway.interceptors.remove(self.website.intercept)
        self.env.gateway.checks.remove(self.cors.annotate)
        self.env.gateway.checks.remove(presign.check)
        self.env.gateway.checks.remove(self.check_expected_owner)

    def check_expected_owner(self, ctx: RequestContext, op: Any, params: dict[str, Any]) -> None:
        """Gateway check: ``x-amz-expected-bucket-owner`` (and, for copies, the source's
        ``x-amz-source-expected-bucket-owner``) naming another account is refused."""
        if ctx.service != "s3":
            return
        expected = params.get("ExpectedBucketOwner")
        source = params.get("ExpectedSourceBucketOwner")
        for value in (expected, source):
            if value is not None and not (len(value) == 12 and value.isascii() and value.isdigit()):
                raise errors.InvalidBucketOwnerAWSAccountID(
                    "The value of the expected bucket owner parameter must be an AWS Account ID... "
                    f"[{value}]"
                )
        if expected is not None:
            found = self.db.bucket(params.get("Bucket") or "")
            if found is not None and found.account_id != expected:
                raise errors.AccessDenied("Access Denied")
        if source is not None and params.get("CopySource"):
            found = self.db.bucket(parse_copy_source(params["CopySource"])[0])
            if found is not None and found.account_id != source:
                raise errors.AccessDenied("Access Denied")

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
                return {"Location": f"/{name}", "BucketArn": f"arn:{ctx.partition}:s3:::{name}"}
            raise errors.BucketAlreadyOwnedByYou(
                "Your previous request to create the named bucket succeeded and you already "
                "own it.",
                BucketName=name,
            )
        lock = bool(req.get("ObjectLockEnabledForBucket"))
        legacy = self.env.settings.s3_legacy_defaults
        ownership = req.get("ObjectOwnership") or (
            "ObjectWriter" if legacy else "BucketOwnerEnforced"
        )
        canned = req.get("ACL")
        if ownership == "BucketOwnerEnforced" and canned not in (
            None,
            "private",
            "bucket-owner-full-control",
        ):
            raise errors.InvalidBucketAclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )
        document = acl.from_request(req, ctx.account_id)
        if acl.is_public(document) and not legacy:
            # New buckets block public ACLs from the start, so a public one cannot be created.
            raise errors.AccessDenied("Access Denied")
        self.db.create_bucket(
            Bucket(name, ctx.account_id, region, clock.now(), "Enabled" if lock else None, lock)
        )
        self.db.put_config(name, "ownership", {"Rules": [{"ObjectOwnership": ownership}]})
        if not legacy:
            self.db.put_config(name, "public_access_block", dict.fromkeys(_PAB_FIELDS, True))
        self.db.put_config(name, "acl", document)
        if lock:
            self.db.put_config(name, "object_lock", {"ObjectLockEnabled": "Enabled"})
        location = f"/{name}" if region == "us-east-1" else f"{ctx.base_url}/{name}/"
        return {"Location": location, "BucketArn": f"arn:{ctx.partition}:s3:::{name}"}

    @staticmethod
    def _location(ctx: RequestContext, config: dict[str, Any]) -> str:
        constraint = config.get("LocationConstraint") or ""
        if ctx.region == "us-east-1":
            if constraint == "us-east-1" or (constraint and constraint not in _regions()):
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
        return {"BucketRegion": _region_of(bucket), "AccessPointAlias": False}

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
                "BucketRegion": _region_of(b),
                "BucketArn": f"arn:{ctx.partition}:s3:::{b.name}",
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

    @owns_bodies
    def delete_bucket(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        if not self.db.is_empty(bucket.name):
            raise errors.BucketNotEmpty(
                "The bucket you tried to delete is not empty", BucketName=bucket.name
            )
        for upload in self.db.uploads(bucket.name, "", "", "", 10000):
            self.dropped.extend(p["blob_id"] for p in self.db.delete_upload(upload["upload_id"]))
        self.db.delete_bucket(bucket.name)
        self.env.tags.drop(bucket.arn)
        return {}

    # -- objects: write ---------------------------------------------------------------------

    async def put_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        with body_ledger(self.blobs):
            bucket = self.bucket(req["Bucket"])
            key = req["Key"]
            self.check_key(key)
            attrs = self.object_attrs(ctx, req, bucket)
            self.check_write_conditions(bucket, key, req)
            body, checksum = await self.receive_off_loop(ctx, req)
            if checksum:
                attrs["Checksum"] = checksum
            etag = f'"{body.md5}"'
            event = "ObjectCreated:Post" if ctx.operation == "PostObject" else "ObjectCreated:Put"
            with self.store.transaction():
                # Other requests ran while the body arrived: look again before committing.
                bucket = self.bucket(req["Bucket"])
                self.check_write_conditions(bucket, key, req)
                version_id = self.commit_object(
                    ctx, event, bucket, key, body, body.size, etag, attrs
                )
        out = {
            "ETag": etag,
            **checksum_fields(checksum),
            **self.version_header(bucket, version_id),
            **sse_fields(attrs),
        }
        expires = self.expiration(bucket, key, clock.now(), body.size, attrs)
        if expires:
            out["Expiration"] = expires
        return out

    # -- objects: read ----------------------------------------------------------------------

    def get_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._read_object(ctx, req, with_body=True)

    def head_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._read_object(ctx, req, with_body=False)

    def _read_object(
        self, ctx: RequestContext, req: dict[str, Any], with_body: bool
    ) -> dict[str, Any]:
        if req.get("PartNumber") is not None:
            if req.get("Range"):
                raise errors.InvalidRequest(
                    "Cannot specify both Range header and partNumber query parameter"
                )
            self._part_number(req["PartNumber"])
        bucket = self.bucket(req["Bucket"])
        row = self.object(bucket, req["Key"], req.get("VersionId"))
        conditions.check_read(req, row["etag"], row["last_modified"])
        attrs = load_attrs(row["attrs"])
        check_customer_key(attrs, req)
        if with_body:
            self.check_readable(attrs)
            self.kms_open(bucket, attrs, ctx)
        where = Location.of(row)
        size = row["size"]
        out = self.object_fields(bucket, row, attrs)
        for param, field in OVERRIDES.items():
            if req.get(param) is not None:
                out[field] = req[param]
        start, end = 0, size
        part_number = req.get("PartNumber")
        if part_number is not None:
            # Only a part request reports the part count (of a multipart object).
            start, end = self._part_span(where, size, part_number)
            if where.parts:
                out["PartsCount"] = len(where.parts)
            if end > start:
                # A part request is a ranged one, even for the single part of a plain object.
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
        if req.get("ChecksumMode") == "ENABLED" and part_number is not None:
            # A part of a composite-checksum object answers that part's own checksum.
            checksum, values = attrs.get("Checksum"), attrs.get("PartChecksums")
            if checksum and values and checksum["Type"] == "COMPOSITE":
                out[f"Checksum{checksum['Algorithm']}"] = values[part_number - 1]
                out["ChecksumType"] = "COMPOSITE"
        out["ContentLength"] = end - start
        if with_body:
            out["Body"] = read_range(self.blobs, where, start, end)
        return out

    @staticmethod
    def _part_span(where: Location, size: int, number: int) -> tuple[int, int]:
        """The bytes of the ``number``-th part of the object: S3 numbers a completed object's
        parts 1..n in order, whatever numbers they were uploaded as."""
        parts = where.parts or [[None, size]]
        if not 1 <= number <= len(parts):
            raise errors.InvalidPartNumber(
                "The requested partnumber is not satisfiable",
                PartNumberRequested=number,
                ActualPartCount=len(parts),
            )
        start = sum(p[1] for p in parts[: number - 1])
        return start, start + parts[number - 1][1]

    @owns_bodies
    def delete_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        return self.delete_key(
            ctx,
            bucket,
            req["Key"],
            req.get("VersionId"),
            bool(req.get("BypassGovernanceRetention")),
        )

    def delete_key(
        self,
        ctx: RequestContext | None,
        bucket: Bucket,
        key: str,
        version_id: str | None,
        bypass: bool,
    ) -> dict[str, Any]:
        """DeleteObject's effect on one key (lifecycle expiry calls it without a request)."""
        out: dict[str, Any] = {}
        if version_id is not None:
            row = self.db.version(bucket.name, key, version_id)
            out["VersionId"] = version_id
            if row is None:
                check_version_id(version_id)
                return out
            self.check_retention(row, bypass)
            self.db.remove_version(row)
            self.drop([row])
            if row["delete_marker"]:
                out["DeleteMarker"] = True
        elif bucket.versioning is None:
            row = self.db.latest(bucket.name, key)
            if row is not None:
                self.db.remove_version(row)
                self.drop([row])
        else:
            marker_id = self.new_version_id(bucket)
            marker = {
                "bucket": bucket.name,
                "key": key,
                "version_id": marker_id,
                "last_modified": clock.now(),
                "delete_marker": 1,
                "attrs": "{}",
            }
            replace = bucket.versioning == "Suspended"
            self.drop(self.db.add_version(marker, replace_null=replace))
            out.update(DeleteMarker=True, VersionId=marker_id)
        if ctx is not None:
            event = "ObjectRemoved:Delete"
            if out.get("DeleteMarker") and version_id is None:
                event = "ObjectRemoved:DeleteMarkerCreated"
            self.notifier.emit(ctx, bucket, event, key, version_id=out.get("VersionId"))
        return out

    @owns_bodies
    def delete_objects(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        delete = req.get("Delete") or {}
        objects = delete.get("Objects") or []
        if not objects or len(objects) > 1000 or any("Key" not in item for item in objects):
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        quiet = bool(delete.get("Quiet"))
        deleted, failed = [], []
        bypass = bool(req.get("BypassGovernanceRetention"))
        for item in objects:
            key, version_id = item["Key"], item.get("VersionId")
            if version_id is not None and not well_formed_version_id(version_id):
                # Unlike DeleteObject's 400, a batch reports such an id as a missing version.
                failed.append(
                    {
                        "Key": key,
                        "VersionId": version_id,
                        "Code": "NoSuchVersion",
                        "Message": "The specified version does not exist.",
                    }
                )
                continue
            try:
                result = self.delete_key(ctx, bucket, key, version_id, bypass)
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

    async def copy_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        with body_ledger(self.blobs):
            bucket = self.bucket(req["Bucket"])
            key = req["Key"]
            self.check_key(key)
            source_bucket, row = self.copy_source(req)
            attrs = self._copy_attrs(ctx, req, bucket, row)
            algorithm = req.get("ChecksumAlgorithm")
            source_checksum = load_attrs(row["attrs"]).get("Checksum")
            if algorithm is None and source_checksum and source_checksum["Type"] == "FULL_OBJECT":
                algorithm = source_checksum["Algorithm"]
            if algorithm is None and checksums.FAST_CRCS:
                algorithm = checksums.DEFAULT
            body = await self.copy_bytes(row, 0, row["size"], [algorithm] if algorithm else [])
            if algorithm:
                attrs["Checksum"] = {
                    "Algorithm": algorithm,
                    "Value": checksums.encode(body.digests[algorithm]),
                    "Type": "FULL_OBJECT",
                }
            etag = f'"{body.md5}"'
            with self.store.transaction():
                bucket = self.bucket(req["Bucket"])
                self.check_write_conditions(bucket, key, req)
                version_id = self.commit_object(
                    ctx, "ObjectCreated:Copy", bucket, key, body, body.size, etag, attrs
                )
        result = {
            "ETag": etag,
            "LastModified": int(clock.now()),
            **checksum_fields(attrs.get("Checksum")),
        }
        out: dict[str, Any] = {"CopyObjectResult": result, **sse_fields(attrs)}
        out.update(self.version_header(bucket, version_id))
        if source_bucket.versioning:
            out["CopySourceVersionId"] = row["version_id"]
        return out

    def _copy_attrs(
        self, ctx: RequestContext, req: dict[str, Any], bucket: Bucket, row: Any
    ) -> dict[str, Any]:
        """What the copy records: the source's metadata (COPY) or the request's (REPLACE),
        and the source's tags unless the tagging directive replaces them."""
        for directive, header in _DIRECTIVES.items():
            if req.get(directive) not in (None, "COPY", "REPLACE"):
                raise errors.InvalidArgument(
                    f"Unknown {directive.removesuffix('Directive').lower()} directive.",
                    ArgumentName=header,
                    ArgumentValue=req[directive],
                )
        source_attrs = load_attrs(row["attrs"])
        self.check_readable(source_attrs)
        check_customer_key(source_attrs, req, "CopySource")
        replace = req.get("MetadataDirective") == "REPLACE"
        same = row["bucket"] == bucket.name and row["key"] == req["Key"]
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
        self.check_write_conditions(bucket, req["Key"], req)
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
        return attrs

    # -- listings ---------------------------------------------------------------------------

    def list_objects(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        encoding = _encoding(req)
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
        encoding = _encoding(req)
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
            attrs = load_attrs(row["attrs"])
            item: dict[str, Any] = {
                "Key": url_encode(row["key"], encoding),
                # S3 keeps Last-Modified to the second: a listing agrees with HEAD.
                "LastModified": int(row["last_modified"]),
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
        encoding = _encoding(req)
        max_keys = self._max_keys(req.get("MaxKeys"))
        key_marker = req.get("KeyMarker") or ""
        version_marker = req.get("VersionIdMarker")
        after_id = None
        if version_marker and not key_marker:
            raise errors.InvalidArgument(
                "A version-id marker cannot be specified without a key marker.",
                ArgumentName="version-id-marker",
                ArgumentValue=version_marker,
            )
        if key_marker and version_marker:
            check_version_id(version_marker, "version-id-marker")
            row = self.db.version(bucket.name, key_marker, version_marker)
            # A marker version deleted since the previous page (the list-then-delete loop of a
            # cleanup) continues with whatever versions of its key are left.
            after_id = row["id"] if row is not None else _AFTER_ALL
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
            attrs = load_attrs(row["attrs"])
            item: dict[str, Any] = {
                "Key": url_encode(row["key"], encoding),
                "VersionId": row["version_id"],
                "IsLatest": bool(row["latest"]),
                "LastModified": int(row["last_modified"]),
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


_DIRECTIVES = {
    "MetadataDirective": "x-amz-metadata-directive",
    "TaggingDirective": "x-amz-tagging-directive",
}
# Larger than any row id: every version of the marker's key follows it.
_AFTER_ALL = 2**63 - 1
_PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@functools.cache
def _regions() -> frozenset[str]:
    """Where a bucket may be placed from us-east-1: botocore's S3 regions, and ``EU``, the old
    name of eu-west-1."""
    # botocore's session (its clients, docs, credentials) is imported only to answer this.
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_regions("s3")) | {"EU"}


def _region_of(bucket: Bucket) -> str:
    """The region a bucket is in; GetBucketLocation alone keeps the ``EU`` it was made with."""
    return "eu-west-1" if bucket.region == "EU" else bucket.region


def _opt(name: str, value: Any) -> dict[str, Any]:
    return {} if value is None else {name: value}


def _only_placement(req: dict[str, Any]) -> dict[str, Any]:
    """The parts of a COPY-directive request that still apply to the copy."""
    keep = (
        "StorageClass",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "BucketKeyEnabled",
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "ObjectLockMode",
        "ObjectLockRetainUntilDate",
        "ObjectLockLegalHoldStatus",
        *acl.REQUEST_FIELDS,
    )
    return {k: req[k] for k in keep if req.get(k) is not None}


def _entry_name(entry: Entry) -> str:
    return str(entry.prefix if entry.row is None else entry.row["key"])


def _encoding(req: dict[str, Any]) -> str | None:
    encoding = req.get("EncodingType")
    if encoding is not None and encoding != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=encoding,
        )
    return encoding
