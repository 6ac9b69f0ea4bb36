"""Multipart uploads: parts are blobs of their own; completing an upload makes the object a list
of those blobs (no copy), so a 5 GiB upload completes in one small transaction."""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.s3 import checksums
from nubes.services.s3.base import S3Base, check_customer_key, sse_fields, url_encode
from nubes.services.s3.errors import errors
from nubes.services.s3.models import dump, load_attrs
from nubes.services.s3.storage import (
    Location,
    body_ledger,
    owns_bodies,
)

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000
_MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)
_INVALID_PART = (
    "One or more of the specified parts could not be found.  The part may not have been "
    "uploaded, or the specified entity tag may not match the part's entity tag."
)


# How long a completed upload's answer is repeated to a client completing it again (a retry
# after a lost response), and an ended upload's abort answered 204 again: AWS answers such
# retries for a while without saying how long.
COMPLETED_KEPT_SECONDS = 24 * 3600


def _bare(etag: str) -> str:
    return etag.strip().strip('"')


class MultipartOps(S3Base):
    def upload_row(self, bucket: str, key: str, upload_id: str) -> Any:
        row = self.db.upload(bucket, key, upload_id)
        if row is None:
            raise errors.NoSuchUpload(
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
                UploadId=upload_id,
            )
        return row

    def create_multipart_upload(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        bucket = self.bucket(req["Bucket"])
        key = req["Key"]
        self.check_key(key)
        attrs = self.object_attrs(ctx, req, bucket)
        algorithm, kind = req.get("ChecksumAlgorithm"), req.get("ChecksumType")
        if kind and not algorithm:
            raise errors.InvalidRequest(
                "The x-amz-checksum-type header can only be used with the "
                "x-amz-checksum-algorithm header."
            )
        if algorithm:
            kind = kind or (
                "FULL_OBJECT" if algorithm in checksums.FULL_OBJECT_ONLY else "COMPOSITE"
            )
            if kind == "COMPOSITE" and algorithm in checksums.FULL_OBJECT_ONLY:
                raise errors.InvalidRequest(
                    f"The COMPOSITE checksum type cannot be used with the {algorithm.lower()} "
                    "checksum algorithm."
                )
            if kind == "FULL_OBJECT" and algorithm.startswith("SHA"):
                raise errors.InvalidRequest(
                    f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} "
                    "checksum algorithm."
                )
            attrs["UploadChecksum"] = {"Algorithm": algorithm, "Type": kind}
        now = clock.now()
        # Uploads of one key list in the order they began, and they page by upload id: an id
        # that starts with its start time sorts in that order.
        upload_id = f"{round(now * 1e6):014x}{secrets.token_urlsafe(40)}"
        self.db.create_upload(upload_id, bucket.name, key, now, attrs)
        out: dict[str, Any] = {"Bucket": bucket.name, "Key": key, "UploadId": upload_id}
        out.update(sse_fields(attrs))
        if algorithm:
            out.update(ChecksumAlgorithm=algorithm, ChecksumType=kind)
        return out

    def _part_number(self, number: int) -> None:
        if not 1 <= number <= MAX_PARTS:
            raise errors.InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )

    async def upload_part(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        with body_ledger(self.blobs):
            bucket = self.bucket(req["Bucket"])
            upload = self.upload_row(bucket.name, req["Key"], req["UploadId"])
            self._part_number(req["PartNumber"])
            upload_attrs = load_attrs(upload["attrs"])
            check_customer_key(upload_attrs, req)
            wanted = upload_attrs.get("UploadChecksum")
            body, checksum = await self.receive_off_loop(
                ctx, req, inline=False, default_algorithm=wanted["Algorithm"] if wanted else None
            )
            etag = f'"{body.md5}"'
            assert body.blob_id is not None
            with self.store.transaction():
                # The upload may have been completed or aborted while the part arrived.
                upload = self.upload_row(bucket.name, req["Key"], req["UploadId"])
                old = self.db.put_part(
                    upload["upload_id"],
                    req["PartNumber"],
                    {
                        "blob_id": body.blob_id,
                        "size": body.size,
                        "etag": etag,
                        "last_modified": clock.now(),
                        "checksum": dump(checksum) if checksum else None,
                    },
                )
                if old is not None:
                    self.dropped.append(old["blob_id"])
        out: dict[str, Any] = {"ETag": etag, **sse_fields(upload_attrs)}
        if checksum:
            out[f"Checksum{checksum['Algorithm']}"] = checksum["Value"]
        return out

    async def upload_part_copy(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        with body_ledger(self.blobs):
            bucket = self.bucket(req["Bucket"])
            upload = self.upload_row(bucket.name, req["Key"], req["UploadId"])
            self._part_number(req["PartNumber"])
            upload_attrs = load_attrs(upload["attrs"])
            check_customer_key(upload_attrs, req)
            source_bucket, row = self.copy_source(req)
            source_attrs = load_attrs(row["attrs"])
            self.check_readable(source_attrs)
            check_customer_key(source_attrs, req, "CopySource")
            start, end = 0, row["size"]
            if req.get("CopySourceRange"):
                start, end = _copy_range(req["CopySourceRange"], row["size"])
            wanted = upload_attrs.get("UploadChecksum")
            algorithm = wanted["Algorithm"] if wanted else _default_algorithm()
            algorithms = [algorithm] if algorithm else []
            body = await self.copy_bytes(row, start, end, algorithms, inline=False)
            assert body.blob_id is not None
            checksum = None
            if algorithm:
                value = checksums.encode(body.digests[algorithm])
                checksum = {"Algorithm": algorithm, "Value": value, "Type": "FULL_OBJECT"}
            etag = f'"{body.md5}"'
            now = clock.now()
            with self.store.transaction():
                upload = self.upload_row(bucket.name, req["Key"], req["UploadId"])
                old = self.db.put_part(
                    upload["upload_id"],
                    req["PartNumber"],
                    {
                        "blob_id": body.blob_id,
                        "size": body.size,
                        "etag": etag,
                        "last_modified": now,
                        "checksum": dump(checksum) if checksum else None,
                    },
                )
                if old is not None:
                    self.dropped.append(old["blob_id"])
        result: dict[str, Any] = {"ETag": etag, "LastModified": int(now)}
        if checksum:
            result[f"Checksum{checksum['Algorithm']}"] = checksum["Value"]
        out: dict[str, Any] = {"CopyPartResult": result, **sse_fields(upload_attrs)}
        if source_bucket.versioning:
            out["CopySourceVersionId"] = row["version_id"]
        return out

    @owns_bodies
    def complete_multipart_upload(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        bucket = self.bucket(req["Bucket"])
        key = req["Key"]
        if self.db.upload(bucket.name, key, req["UploadId"]) is None:
            done = self.db.completion(
                bucket.name, key, req["UploadId"], clock.now() - COMPLETED_KEPT_SECONDS
            )
            # Once the object it made is gone (deleted), S3 no longer knows the upload.
            if done is not None and self._made(bucket.name, key, load_attrs(done["result"])):
                return {
                    "Location": f"{ctx.base_url}/{bucket.name}/{key}",
                    **load_attrs(done["result"]),
                }
        upload = self.upload_row(bucket.name, key, req["UploadId"])
        asked = (req.get("MultipartUpload") or {}).get("Parts") or []
        # A part without its number or entity tag does not match S3's schema (an empty ETag
        # does, and is an InvalidPart).
        if not asked or any("PartNumber" not in p or "ETag" not in p for p in asked):
            raise errors.MalformedXML(_MALFORMED)
        numbers = [p.get("PartNumber", 0) for p in asked]
        consecutive = numbers == list(range(1, len(numbers) + 1))
        attrs = load_attrs(upload["attrs"])
        wanted = attrs.pop("UploadChecksum", None)
        # Part checksums combine by position, so an upload with a checksum takes only parts
        # numbered 1, 2, 3... (CompletedPart's PartNumber documentation).
        if any(b <= a for a, b in itertools.pairwise(numbers)) or (wanted and not consecutive):
            raise errors.InvalidPartOrder(
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number.",
                UploadId=req["UploadId"],
            )
        stored = {p["part_number"]: p for p in self.db.parts(upload["upload_id"])}
        chosen = []
        for item in asked:
            part = stored.get(item.get("PartNumber", 0))
            if part is None or _bare(item.get("ETag", "")) != _bare(part["etag"]):
                raise errors.InvalidPart(
                    _INVALID_PART,
                    UploadId=req["UploadId"],
                    PartNumber=item.get("PartNumber"),
                    ETag=item.get("ETag"),
                )
            part_checksum = load_attrs(part["checksum"]) if part["checksum"] else None
            for name in checksums.DIGEST_SIZES:
                given = item.get(f"Checksum{name}")
                if given and (part_checksum is None or part_checksum["Value"] != given):
                    raise errors.InvalidPart(
                        _INVALID_PART, UploadId=req["UploadId"], PartNumber=item["PartNumber"]
                    )
            chosen.append(part)
        for part in chosen[:-1]:
            if part["size"] < MIN_PART_SIZE:
                raise errors.EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed size",
                    ProposedSize=part["size"],
                    MinSizeAllowed=MIN_PART_SIZE,
                    PartNumber=part["part_number"],
                    ETag=_bare(part["etag"]),
                )
        total = sum(p["size"] for p in chosen)
        if req.get("MpuObjectSize") is not None and int(req["MpuObjectSize"]) != total:
            raise errors.InvalidRequest(
                f"The provided 'x-amz-mp-object-size' header value {req['MpuObjectSize']} does "
                f"not match what was computed: {total}"
            )
        self.check_write_conditions(bucket, key, req)
        digest = hashlib.md5(b"".join(bytes.fromhex(_bare(p["etag"])) for p in chosen))
        etag = f'"{digest.hexdigest()}-{len(chosen)}"'
        where = Location(None, None, [[p["blob_id"], p["size"]] for p in chosen])
        if wanted:
            attrs["Checksum"] = self._upload_checksum(wanted, chosen, req)
            # Each part's checksum, for GetObjectAttributes' parts and part reads.
            attrs["PartChecksums"] = [load_attrs(p["checksum"])["Value"] for p in chosen]
        elif checksums.FAST_CRCS:
            attrs.update(_default_checksum(chosen))
        version_id = self.commit_object(
            ctx, "ObjectCreated:CompleteMultipartUpload", bucket, key, where, total, etag, attrs
        )
        used = {p["blob_id"] for p in chosen}
        self.dropped.extend(p["blob_id"] for p in stored.values() if p["blob_id"] not in used)
        self.db.delete_upload(upload["upload_id"])
        out: dict[str, Any] = {
            "Location": f"{ctx.base_url}/{bucket.name}/{key}",
            "Bucket": bucket.name,
            "Key": key,
            "ETag": etag,
        }
        if attrs.get("Checksum"):
            checksum = attrs["Checksum"]
            out[f"Checksum{checksum['Algorithm']}"] = checksum["Value"]
            out["ChecksumType"] = checksum["Type"]
        # CompleteMultipartUpload's answer carries no SSE-C headers, only the other kinds.
        out.update((k, v) for k, v in sse_fields(attrs).items() if not k.startswith("SSECustomer"))
        out.update(self.version_header(bucket, version_id))
        self.db.record_completion(
            upload["upload_id"],
            bucket.name,
            key,
            clock.now(),
            COMPLETED_KEPT_SECONDS,
            {k: v for k, v in out.items() if k != "Location"},
        )
        return out

    def _upload_checksum(
        self,
        wanted: dict[str, str],
        chosen: list[Any],
        req: dict[str, Any],
    ) -> dict[str, str]:
        algorithm = wanted["Algorithm"]
        values = []
        for part in chosen:
            found = load_attrs(part["checksum"]) if part["checksum"] else None
            if found is None:
                raise errors.InvalidRequest(
                    f"The upload was created using a {algorithm.lower()} checksum. The "
                    f"complete request must include the checksum for each part. It was "
                    f"missing for part {part['part_number']} in the request."
                )
            values.append((found["Value"], part["size"]))
        if wanted["Type"] == "COMPOSITE":
            value = checksums.composite(algorithm, [v for v, _ in values])
        else:
            value = checksums.combine(algorithm, values)
        given = req.get(f"Checksum{algorithm}")
        if given is not None and given.split("-")[0] != value.split("-")[0]:
            raise errors.BadDigest(
                f"The {algorithm} you specified did not match the calculated checksum."
            )
        return {"Algorithm": algorithm, "Value": value, "Type": wanted["Type"]}

    def _made(self, bucket: str, key: str, result: dict[str, Any]) -> bool:
        """Whether the object a completion answered with is still there."""
        version_id = result.get("VersionId")
        row = (
            self.db.version(bucket, key, version_id) if version_id else self.db.latest(bucket, key)
        )
        return row is not None and not row["delete_marker"] and row["etag"] == result["ETag"]

    @owns_bodies
    def abort_multipart_upload(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        bucket = self.bucket(req["Bucket"])
        key, upload_id = req["Key"], req["UploadId"]
        now = clock.now()
        if self.db.upload(bucket.name, key, upload_id) is None and self.db.completion(
            bucket.name, key, upload_id, now - COMPLETED_KEPT_SECONDS, aborted=True
        ):
            # An upload that already ended, completed or aborted: S3 answers 204 again.
            return {}
        upload = self.upload_row(bucket.name, key, upload_id)
        self.dropped.extend(p["blob_id"] for p in self.db.delete_upload(upload["upload_id"]))
        self.db.record_completion(
            upload_id, bucket.name, key, now, COMPLETED_KEPT_SECONDS, {}, aborted=True
        )
        return {}

    def list_parts(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        bucket = self.bucket(req["Bucket"])
        upload = self.upload_row(bucket.name, req["Key"], req["UploadId"])
        limit = _page_size(req.get("MaxParts"), "max-parts")
        marker = req.get("PartNumberMarker") or 0
        rows = self.db.parts(upload["upload_id"], after=int(marker), limit=limit + 1)
        truncated = len(rows) > limit
        rows = rows[:limit]
        attrs = load_attrs(upload["attrs"])
        parts = []
        for row in rows:
            item: dict[str, Any] = {
                "PartNumber": row["part_number"],
                "LastModified": int(row["last_modified"]),
                "ETag": row["etag"],
                "Size": row["size"],
            }
            if row["checksum"]:
                checksum = load_attrs(row["checksum"])
                item[f"Checksum{checksum['Algorithm']}"] = checksum["Value"]
            parts.append(item)
        who = self.owner_of(attrs)
        out: dict[str, Any] = {
            "Bucket": bucket.name,
            "Key": upload["key"],
            "UploadId": upload["upload_id"],
            "PartNumberMarker": int(marker),
            "MaxParts": limit,
            "IsTruncated": truncated,
            "Parts": parts,
            "Initiator": {"ID": who["ID"], "DisplayName": who["ID"]},
            "Owner": who,
            "StorageClass": attrs.get("StorageClass", "STANDARD"),
        }
        if rows:
            out["NextPartNumberMarker"] = rows[-1]["part_number"]
        wanted = attrs.get("UploadChecksum")
        if wanted:
            out.update(ChecksumAlgorithm=wanted["Algorithm"], ChecksumType=wanted["Type"])
        return out

    def list_multipart_uploads(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        bucket = self.bucket(req["Bucket"])
        limit = _page_size(req.get("MaxUploads"), "max-uploads")
        prefix, delimiter = req.get("Prefix") or "", req.get("Delimiter") or ""
        key_marker = req.get("KeyMarker") or ""
        id_marker = req.get("UploadIdMarker") or ("" if not key_marker else "\U0010ffff")
        uploads: list[dict[str, Any]] = []
        prefixes: list[str] = []
        truncated = False
        last: tuple[str, str] | None = None
        after_key, after_id = key_marker, id_marker
        while not truncated:
            rows = self.db.uploads(bucket.name, prefix, after_key, after_id, limit + 1)
            for row in rows:
                if len(uploads) + len(prefixes) == limit:
                    truncated = True
                    break
                key = row["key"]
                cut = key.find(delimiter, len(prefix)) if delimiter else -1
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common not in prefixes and common > key_marker:
                        prefixes.append(common)
                        last = (common, "")
                    continue
                uploads.append(self._upload_item(row))
                last = (key, row["upload_id"])
            if len(rows) <= limit or truncated:
                break
            after_key, after_id = rows[-1]["key"], rows[-1]["upload_id"]
        encoding = req.get("EncodingType")
        out: dict[str, Any] = {
            "Bucket": bucket.name,
            "KeyMarker": url_encode(key_marker, encoding),
            "UploadIdMarker": req.get("UploadIdMarker") or "",
            "MaxUploads": limit,
            "IsTruncated": truncated,
            "Prefix": url_encode(prefix, encoding),
        }
        if delimiter:
            out["Delimiter"] = url_encode(delimiter, encoding)
        if encoding:
            out["EncodingType"] = encoding
            for item in uploads:
                item["Key"] = url_encode(item["Key"], encoding)
        if uploads:
            out["Uploads"] = uploads
        if prefixes:
            out["CommonPrefixes"] = [{"Prefix": url_encode(p, encoding)} for p in prefixes]
        if last is not None:
            out["NextKeyMarker"] = url_encode(last[0], encoding)
            out["NextUploadIdMarker"] = last[1]
        return out

    def _upload_item(self, row: Any) -> dict[str, Any]:
        attrs = load_attrs(row["attrs"])
        who = self.owner_of(attrs)
        item: dict[str, Any] = {
            "UploadId": row["upload_id"],
            "Key": row["key"],
            "Initiated": row["initiated"],
            "StorageClass": attrs.get("StorageClass", "STANDARD"),
            "Owner": who,
            "Initiator": {"ID": who["ID"], "DisplayName": who["ID"]},
        }
        wanted = attrs.get("UploadChecksum")
        if wanted:
            item.update(ChecksumAlgorithm=wanted["Algorithm"], ChecksumType=wanted["Type"])
        return item


def _page_size(value: int | None, name: str) -> int:
    if value is not None and value < 0:
        raise errors.InvalidArgument(
            f"Argument {name} must be an integer between 0 and 2147483647",
            ArgumentName=name,
            ArgumentValue=str(value),
        )
    return min(value or 1000, 1000)


def _default_algorithm() -> str | None:
    return checksums.DEFAULT if checksums.FAST_CRCS else None


def _default_checksum(chosen: list[Any]) -> dict[str, Any]:
    """The CRC64NVME of an upload created without a checksum, from its parts' (S3 computed
    one for each part sent without a checksum of its own)."""
    values = []
    for part in chosen:
        found = load_attrs(part["checksum"]) if part["checksum"] else None
        if found is None or found["Algorithm"] != checksums.DEFAULT:
            return {}
        values.append((found["Value"], part["size"]))
    value = checksums.combine(checksums.DEFAULT, values)
    return {"Checksum": {"Algorithm": checksums.DEFAULT, "Value": value, "Type": "FULL_OBJECT"}}


def _copy_range(header: str, size: int) -> tuple[int, int]:
    m = re.fullmatch(r"bytes=(\d+)-(\d+)", header.strip())
    if m is None or int(m.group(2)) < int(m.group(1)):
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=header,
        )
    start, last = int(m.group(1)), int(m.group(2))
    if last >= size:
        raise errors.InvalidRange(
            "The requested range is not satisfiable", RangeRequested=header, ActualObjectSize=size
        )
    return start, last + 1
