"""What S3's operations share: the bucket and object look-ups with S3's errors, reading and
verifying a request body, the attributes an object records, committing a new version."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.tags import reserved_allowed
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.s3 import acl, checksums, conditions, lifecycle
from nubes.services.s3.errors import errors
from nubes.services.s3.models import Bucket, S3Store, dump, load_attrs
from nubes.services.s3.notifications import Notifier
from nubes.services.s3.storage import (
    Location,
    StoredBody,
    aws_chunked,
    body_source,
    ledger,
    own_blobs,
    read_plain,
    read_range,
    store_body,
)
from nubes.store import Row

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
MAX_METADATA_BYTES = 2048
MAX_UPLOAD_BYTES = 5 * 1024**3
"""The largest single PUT or part."""
OFF_LOOP_SIZE = 1024 * 1024
"""Bodies larger than this are read, hashed and written on a worker thread."""
ARCHIVED = {"GLACIER", "DEEP_ARCHIVE"}
"""Storage classes whose objects must be restored before they can be read."""
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
_CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5")


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


def mail_safe(value: str) -> str:
    """A metadata value as S3 keeps and returns it: one holding bytes beyond printable ASCII
    comes back RFC 2047 Q-encoded (headers arrive decoded as Latin-1, so these are the bytes
    the client sent)."""
    if all(" " <= c <= "~" for c in value):
        return value
    raw = value.encode("latin-1", errors="replace")
    encoded = "".join(
        "_" if b == 0x20 else chr(b) if 0x21 <= b <= 0x7E and b not in b"=?_" else f"={b:02X}"
        for b in raw
    )
    return f"=?UTF-8?Q?{encoded}?="


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
        if k.startswith("aws:") and not reserved_allowed(k):
            raise errors.InvalidTag("System tags cannot be added/updated by requester")
        if len(v) > 256:
            raise errors.InvalidTag("The TagValue you have provided is invalid")


def tag_set(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def checksum_fields(checksum: dict[str, str] | None) -> dict[str, str]:
    if not checksum:
        return {}
    return {f"Checksum{checksum['Algorithm']}": checksum["Value"], "ChecksumType": checksum["Type"]}


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def sse_fields(attrs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: attrs[k]
        for k in ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")
        if k in attrs
    }
    customer = attrs.get("SSECustomer")
    if customer:
        out["SSECustomerAlgorithm"] = customer["Algorithm"]
        out["SSECustomerKeyMD5"] = customer["KeyMD5"]
    return out


def customer_key(req: dict[str, Any], prefix: str = "") -> dict[str, str] | None:
    """The SSE-C key a request names (``prefix`` ``CopySource`` for a copy's source), checked
    against its MD5, as ``{"Algorithm", "KeyMD5"}``: S3 keeps only the key's MD5."""
    algorithm = req.get(f"{prefix}SSECustomerAlgorithm")
    key = req.get(f"{prefix}SSECustomerKey")
    if algorithm is None and key is None:
        return None
    if algorithm != "AES256":
        raise errors.InvalidArgument(
            "The requested encryption algorithm is not valid, must be AES256.",
            ArgumentName="x-amz-server-side-encryption-customer-algorithm",
            ArgumentValue=str(algorithm),
        )
    raw = base64.b64decode(key or "")
    if len(raw) != 32:
        raise errors.InvalidArgument(
            "The secret key was invalid for the specified algorithm.",
            ArgumentName="x-amz-server-side-encryption-customer-key",
        )
    digest = base64.b64encode(hashlib.md5(raw).digest()).decode()
    given = req.get(f"{prefix}SSECustomerKeyMD5")
    if given is not None and given != digest:
        raise errors.InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName="x-amz-server-side-encryption-customer-key-MD5",
        )
    return {"Algorithm": algorithm, "KeyMD5": digest}


def check_customer_key(attrs: dict[str, Any], req: dict[str, Any], prefix: str = "") -> None:
    """Reading an SSE-C object takes its key; other objects take none."""
    stored = attrs.get("SSECustomer")
    given = customer_key(req, prefix)
    if stored is None and given is not None:
        raise errors.InvalidRequest("The encryption parameters are not applicable to this object.")
    if stored is not None and given is None:
        raise errors.InvalidRequest(
            "The object was stored using a form of Server Side Encryption. The correct "
            "parameters must be provided to retrieve the object."
        )
    if stored is not None and given is not None and stored["KeyMD5"] != given["KeyMD5"]:
        raise errors.AccessDenied("Access Denied")


def well_formed_version_id(version_id: str) -> bool:
    """Whether S3 could have made this version id (``null`` or 32 URL-safe characters)."""
    return version_id == "null" or len(version_id) == 32


def check_version_id(version_id: str, argument: str = "versionId") -> None:
    """The 400 S3 answers a malformed version id with, before looking the version up."""
    if not well_formed_version_id(version_id):
        raise errors.InvalidArgument(
            "Invalid version id specified", ArgumentName=argument, ArgumentValue=version_id
        )


def check_retain_until(until: float) -> None:
    if until <= clock.now():
        raise errors.InvalidArgument("The retain until date must be in the future!")


class S3Base(ServiceProvider):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.shared_blobs = self.blobs
        self.blobs = own_blobs(self.shared_blobs)
        self.db = S3Store(self.store)
        self.notifier = Notifier(self)

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
            check_version_id(version_id)
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
                "Last-Modified": http_date(row["last_modified"]),
            }
            raise err
        return row

    @property
    def written(self) -> list[str]:
        """Blobs the running operation wrote (removed again if it fails)."""
        return ledger().written

    @property
    def dropped(self) -> list[str]:
        """Blobs the running operation let go (removed once it committed)."""
        return ledger().dropped

    async def receive_off_loop(
        self,
        ctx: RequestContext,
        req: dict[str, Any],
        inline: bool = True,
        default_algorithm: str | None = None,
    ) -> tuple[StoredBody, dict[str, str] | None]:
        """``receive`` on a worker thread for large bodies: hashing and writing release the
        GIL, so other requests go on meanwhile and a second core does the work."""
        request = ctx.request
        if request.body_file is None and len(request.body) <= OFF_LOOP_SIZE:
            return self.receive(ctx, req, inline, default_algorithm)
        return await asyncio.to_thread(self.receive, ctx, req, inline, default_algorithm)

    async def copy_bytes(
        self, row: Row, start: int, end: int, algorithms: list[str], inline: bool = True
    ) -> StoredBody:
        """A new body holding bytes ``[start, end)`` of an existing object, on a worker thread
        when large. The source's first file is opened before the loop lets go, so an overwrite
        meanwhile cannot pull it away."""
        source = read_range(self.blobs, Location.of(row), start, end)
        chunks = [source] if isinstance(source, bytes) else source

        def copy() -> StoredBody:
            return store_body(self.blobs, chunks, algorithms, checksums.ALGORITHMS, inline)

        body = copy() if end - start <= OFF_LOOP_SIZE else await asyncio.to_thread(copy)
        if body.blob_id:
            self.written.append(body.blob_id)
        return body

    def owner_of(self, attrs: dict[str, Any]) -> dict[str, str]:
        return owner(attrs.get("Owner", self.env.settings.account_id))

    def drop(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.dropped.extend(Location.of(row).blob_ids())

    def new_version_id(self, bucket: Bucket) -> str:
        return secrets.token_urlsafe(24) if bucket.versioning == "Enabled" else "null"

    def version_header(self, bucket: Bucket, version_id: str) -> dict[str, str]:
        return {"VersionId": version_id} if bucket.versioning else {}

    # -- buckets ----------------------------------------------------------------------------

    def receive(
        self,
        ctx: RequestContext,
        req: dict[str, Any],
        inline: bool = True,
        default_algorithm: str | None = None,
    ) -> tuple[StoredBody, dict[str, str] | None]:
        """Read the request body into storage, verifying Content-MD5, x-amz-content-sha256 and
        the flexible checksum (header or aws-chunked trailer); returns the body and the
        checksum to keep."""
        headers = ctx.request.headers
        length = headers.get("x-amz-decoded-content-length") or headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES:
            raise errors.EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=int(length),
                MaxSizeAllowed=MAX_UPLOAD_BYTES,
            )
        declared = [a for a in _CHECKSUM_ALGORITHMS if req.get(f"Checksum{a}")]
        trailer = headers.get("x-amz-trailer", "").strip().lower()
        if trailer.startswith("x-amz-checksum-"):
            declared.append(trailer[len("x-amz-checksum-") :].upper())
        if len(declared) > 1:
            raise errors.InvalidRequest(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                "allowed."
            )
        named = req.get("ChecksumAlgorithm")
        if declared and named and named.upper() != declared[0]:
            # The SDK names the algorithm of the checksum it sends; another one is refused.
            raise errors.InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.")
        algorithm = declared[0] if declared else (named or default_algorithm)
        if algorithm is None and checksums.FAST_CRCS:
            # S3 keeps a CRC64NVME of every body uploaded without a checksum.
            algorithm = checksums.DEFAULT
        if default_algorithm and algorithm != default_algorithm:
            raise errors.InvalidRequest(
                "Checksum Type mismatch occurred, expected checksum Type: "
                f"{default_algorithm.lower()}, actual checksum Type: {str(algorithm).lower()}"
            )
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
        chunks = (
            aws_chunked(stream, trailers, ctx.extras.get("chunk_signer"))
            if chunked
            else read_plain(stream)
        )
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
            metadata = {k.lower(): mail_safe(v) for k, v in req["Metadata"].items()}
            size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
            if size > MAX_METADATA_BYTES:
                raise errors.MetadataTooLarge(
                    "Your metadata headers exceed the maximum allowed metadata size",
                    Size=size,
                    MaxSizeAllowed=MAX_METADATA_BYTES,
                )
            attrs["Metadata"] = metadata
        storage_class = req.get("StorageClass")
        if storage_class is not None:
            if storage_class not in STORAGE_CLASSES:
                raise errors.InvalidStorageClass(
                    "The storage class you specified is not valid",
                    StorageClassRequested=storage_class,
                )
            if storage_class != "STANDARD":
                attrs["StorageClass"] = storage_class
        customer = customer_key(req)
        if customer is not None:
            attrs["SSECustomer"] = customer
        else:
            attrs.update(self.encryption(bucket, req))
        if req.get("Tagging"):
            attrs["Tags"] = parse_tagging(req["Tagging"])
        if any(req.get(k) for k in acl.REQUEST_FIELDS):
            attrs["ACL"] = self.requested_acl(ctx, {**req, "Bucket": bucket.name})
        attrs.update(self.lock_attrs(bucket, req))
        attrs["Owner"] = ctx.account_id
        return attrs

    def encryption(self, bucket: Bucket, req: dict[str, Any]) -> dict[str, Any]:
        sse = req.get("ServerSideEncryption")
        key_ref, bucket_key = req.get("SSEKMSKeyId"), bool(req.get("BucketKeyEnabled"))
        if sse is None:
            config = self.db.config(bucket.name, "encryption")
            if not config:
                return {"ServerSideEncryption": "AES256"}
            default = config["Rules"][0].get("ApplyServerSideEncryptionByDefault", {})
            sse = default.get("SSEAlgorithm", "AES256")
            key_ref = default.get("KMSMasterKeyID")
            bucket_key = bool(config["Rules"][0].get("BucketKeyEnabled"))
        elif sse not in _SSE_ALGORITHMS:
            raise errors.InvalidArgument(
                "The encryption method specified is not supported",
                ArgumentName="x-amz-server-side-encryption",
                ArgumentValue=sse,
            )
        out: dict[str, Any] = {"ServerSideEncryption": sse}
        if sse.startswith("aws:kms"):
            out.update(self.kms_seal(bucket, req.get("Key") or "", key_ref, bucket_key))
        return out

    def _kms(self, bucket: Bucket, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """A KMS call on the bucket owner's behalf; KMS's refusals reach the client as S3
        words them (``KMS.DisabledException`` ...)."""
        try:
            out: dict[str, Any] = self.env.providers.invoke(
                "kms", operation, params, bucket.account_id, bucket.region
            )
        except ServiceError as exc:
            if exc.code in ("AccessDeniedException", "AccessDenied"):
                raise errors.AccessDenied(str(exc)) from None
            raise ServiceError(f"KMS.{exc.code}", str(exc), 400) from None
        return out

    def kms_seal(
        self, bucket: Bucket, key: str, key_ref: str | None, bucket_key: bool
    ) -> dict[str, Any]:
        """SSE-KMS: a data key generated by KMS under the named key (``aws/s3`` by default),
        kept sealed beside the object; the bytes stay as stored, but reading them needs KMS
        to open the data key again."""
        resource = bucket.arn + ("" if bucket_key else f"/{key}")
        context = {"aws:s3:arn": resource}
        if key_ref and not key_ref.startswith(("arn:", "alias/")) and "/" in key_ref:
            key_ref = f"alias/{key_ref}"
        data_key = self._kms(
            bucket,
            "GenerateDataKeyWithoutPlaintext",
            {
                "KeyId": key_ref or "alias/aws/s3",
                "KeySpec": "AES_256",
                "EncryptionContext": context,
            },
        )
        out: dict[str, Any] = {
            "SSEKMSKeyId": data_key["KeyId"],
            "SSEKMS": {
                "Blob": base64.b64encode(data_key["CiphertextBlob"]).decode(),
                "Context": context,
            },
        }
        if bucket_key:
            out["BucketKeyEnabled"] = True
        return out

    def kms_open(
        self, bucket: Bucket, attrs: dict[str, Any], ctx: RequestContext | None = None
    ) -> None:
        """Reading an SSE-KMS object's bytes decrypts its data key through KMS: a disabled or
        deleted key makes the object unreadable, and under IAM enforcement the caller needs
        kms:Decrypt on the key."""
        sealed = attrs.get("SSEKMS")
        if not sealed:
            return
        params = {
            "CiphertextBlob": base64.b64decode(sealed["Blob"]),
            "EncryptionContext": sealed["Context"],
        }
        if ctx is not None:
            from nubes.gateway.enforce import running_enforcer

            enforcer = running_enforcer(self.env)
            if enforcer is not None:
                try:
                    enforcer.authorize_also(ctx, "kms", "Decrypt", params)
                except ServiceError as exc:
                    raise errors.AccessDenied(str(exc)) from None
        self._kms(bucket, "Decrypt", params)

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
        if mode and until is not None:
            check_retain_until(until.timestamp())
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
        ctx: RequestContext,
        event: str,
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
        self.notifier.emit(ctx, bucket, event, key, size, etag, version_id)
        return version_id

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
        out.update(sse_fields(attrs))
        if bucket.versioning or row["version_id"] != "null":
            out["VersionId"] = row["version_id"]
        if attrs.get("Tags"):
            out["TagCount"] = len(attrs["Tags"])
        retention = attrs.get("Retention")
        if retention:
            out["ObjectLockMode"] = retention["Mode"]
            out["ObjectLockRetainUntilDate"] = retention["RetainUntilDate"]
        if attrs.get("LegalHold"):
            out["ObjectLockLegalHoldStatus"] = attrs["LegalHold"]
        expires = self.expiration(bucket, row["key"], row["last_modified"], row["size"], attrs)
        if expires:
            out["Expiration"] = expires
        if attrs.get("RestoreUntil"):
            until = http_date(attrs["RestoreUntil"])
            out["Restore"] = f'ongoing-request="false", expiry-date="{until}"'
        return out

    def expiration(
        self, bucket: Bucket, key: str, made: float, size: int, attrs: dict[str, Any]
    ) -> str | None:
        """The ``x-amz-expiration`` value when a lifecycle rule will expire the object."""
        document = self.db.config(bucket.name, "lifecycle")
        if document is None:
            return None
        found = lifecycle.expiration(document, key, made, size, attrs.get("Tags") or {})
        if found is None:
            return None
        return f'expiry-date="{http_date(found[0])}", rule-id="{found[1]}"'

    def check_readable(self, attrs: dict[str, Any]) -> None:
        """An archived object's bytes are out of reach until it is restored."""
        storage_class = attrs.get("StorageClass")
        if storage_class in ARCHIVED and attrs.get("RestoreUntil", 0) <= clock.now():
            raise errors.InvalidObjectState(
                "The operation is not valid for the object's storage class",
                StorageClass=storage_class,
            )

    # -- objects: delete --------------------------------------------------------------------

    def check_retention(self, row: Row, bypass: bool) -> None:
        attrs = load_attrs(row["attrs"])
        retention = attrs.get("Retention")
        locked = attrs.get("LegalHold") == "ON"
        if retention and retention["RetainUntilDate"] > clock.now():
            locked = locked or retention["Mode"] == "COMPLIANCE" or not bypass
        if locked:
            raise errors.AccessDenied("Access Denied because object protected by object lock.")

    def copy_source(self, req: dict[str, Any]) -> tuple[Bucket, Row]:
        name, key, version = parse_copy_source(req["CopySource"])
        source_bucket = self.bucket(name)
        if version is not None:
            named = self.db.version(source_bucket.name, key, version)
            if named is not None and named["delete_marker"]:
                raise errors.InvalidRequest(
                    "The source of a copy request may not specifically refer to a delete marker "
                    "by version id."
                )
        row = self.object(source_bucket, key, version)
        conditions.check_copy_source(req, row["etag"], row["last_modified"])
        self.kms_open(source_bucket, load_attrs(row["attrs"]))
        return source_bucket, row

    def acls_enforced_off(self, bucket: str) -> bool:
        rules = (self.db.config(bucket, "ownership") or {}).get("Rules") or []
        return not rules or rules[0].get("ObjectOwnership") != "BucketOwnerEnforced"

    def requested_acl(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        if req.get("AccessControlPolicy"):
            document = acl.from_policy(req["AccessControlPolicy"], ctx.account_id)
        else:
            document = acl.from_request(req, ctx.account_id)
        private = len(document["Grants"]) == 1 and document["Grants"][0].get("Permission") == (
            "FULL_CONTROL"
        )
        if not private and not self.acls_enforced_off(req["Bucket"]):
            raise errors.AccessControlListNotSupported("The bucket does not allow ACLs")
        if acl.is_public(document) and self.blocks_public(req["Bucket"], "BlockPublicAcls"):
            raise errors.AccessDenied("Access Denied")
        return document

    def blocks_public(self, bucket: str, setting: str) -> bool:
        """Whether the bucket's Block Public Access configuration turns ``setting`` on."""
        return bool((self.db.config(bucket, "public_access_block") or {}).get(setting))
