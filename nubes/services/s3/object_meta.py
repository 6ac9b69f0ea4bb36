"""What an object carries beside its body: tags, ACL, object lock retention and legal hold, and
GetObjectAttributes."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.services.s3 import acl
from nubes.services.s3.base import (
    ARCHIVED,
    S3Base,
    check_retain_until,
    tag_set,
    validate_tags,
)
from nubes.services.s3.errors import errors
from nubes.services.s3.models import load_attrs

if TYPE_CHECKING:
    from nubes.store import Row


class ObjectMetaOps(S3Base):
    def target(self, req: dict[str, Any]) -> tuple[Row, dict[str, Any]]:
        bucket = self.bucket(req["Bucket"])
        row = self.object(bucket, req["Key"], req.get("VersionId"))
        return row, load_attrs(row["attrs"])

    def versioned(self, req: dict[str, Any], row: Row) -> dict[str, Any]:
        bucket = self.bucket(req["Bucket"])
        return {"VersionId": row["version_id"]} if bucket.versioning else {}

    # -- tagging -----------------------------------------------------------------------------

    def put_object_tagging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        row, attrs = self.target(req)
        given = (req.get("Tagging") or {}).get("TagSet") or []
        tags = {t["Key"]: t["Value"] for t in given}
        validate_tags(tags, len(given))
        attrs["Tags"] = tags
        if not tags:
            del attrs["Tags"]
        self.db.update_attrs(row["id"], attrs)
        return self.versioned(req, row)

    def get_object_tagging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        row, attrs = self.target(req)
        tags = attrs.get("Tags") or {}
        return {
            "TagSet": tag_set(tags),
            **self.versioned(req, row),
        }

    def delete_object_tagging(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        row, attrs = self.target(req)
        attrs.pop("Tags", None)
        self.db.update_attrs(row["id"], attrs)
        return self.versioned(req, row)

    # -- ACL ---------------------------------------------------------------------------------

    def put_object_acl(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        row, attrs = self.target(req)
        attrs["ACL"] = self.requested_acl(ctx, req)
        self.db.update_attrs(row["id"], attrs)
        return {}

    def get_object_acl(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        row, attrs = self.target(req)
        document = attrs.get("ACL") or acl.canned("private", attrs.get("Owner", ctx.account_id))
        return {**document, **self.versioned(req, row)}

    # -- object lock -------------------------------------------------------------------------

    def lockable(self, req: dict[str, Any]) -> None:
        if not self.bucket(req["Bucket"]).object_lock:
            raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")

    def put_object_retention(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        self.lockable(req)
        row, attrs = self.target(req)
        asked = req.get("Retention") or {}
        current = attrs.get("Retention")
        until = asked.get("RetainUntilDate")
        if current and current["RetainUntilDate"] > clock.now():
            shortened = until is None or until.timestamp() < current["RetainUntilDate"]
            weakened = shortened or asked.get("Mode") != current["Mode"]
            if weakened and (
                current["Mode"] == "COMPLIANCE" or not req.get("BypassGovernanceRetention")
            ):
                raise errors.AccessDenied("Access Denied because object protected by object lock.")
        if until is not None:
            check_retain_until(until.timestamp())
        if asked.get("Mode") and until is not None:
            attrs["Retention"] = {"Mode": asked["Mode"], "RetainUntilDate": until.timestamp()}
        else:
            attrs.pop("Retention", None)
        self.db.update_attrs(row["id"], attrs)
        return {}

    def get_object_retention(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        self.lockable(req)
        _, attrs = self.target(req)
        retention = attrs.get("Retention")
        if not retention:
            raise errors.NoSuchObjectLockConfiguration(
                "The specified object does not have a ObjectLock configuration"
            )
        return {"Retention": retention}

    def put_object_legal_hold(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        self.lockable(req)
        row, attrs = self.target(req)
        status = (req.get("LegalHold") or {}).get("Status")
        if status not in ("ON", "OFF"):
            raise errors.MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
        attrs["LegalHold"] = status
        self.db.update_attrs(row["id"], attrs)
        return {}

    def get_object_legal_hold(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        self.lockable(req)
        _, attrs = self.target(req)
        if not attrs.get("LegalHold"):
            raise errors.NoSuchObjectLockConfiguration(
                "The specified object does not have a ObjectLock configuration"
            )
        return {"LegalHold": {"Status": attrs["LegalHold"]}}

    # -- archived objects -------------------------------------------------------------------

    def restore_object(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        """Archived objects are restored at once (no retrieval delay is emulated); the copy
        stays readable for the requested days."""
        row, attrs = self.target(req)
        if attrs.get("StorageClass") not in ARCHIVED:
            raise errors.InvalidObjectState(
                "Restore is not allowed for the object's current storage class",
                StorageClass=attrs.get("StorageClass", "STANDARD"),
            )
        days = (req.get("RestoreRequest") or {}).get("Days") or 1
        already = attrs.get("RestoreUntil", 0) > clock.now()
        attrs["RestoreUntil"] = math.ceil((clock.now() + days * 86400) / 86400) * 86400
        self.db.update_attrs(row["id"], attrs)
        if not already:
            ctx.extras["status"] = 202
        return {}

    # -- attributes --------------------------------------------------------------------------

    def get_object_attributes(self, ctx: RequestContext, req: dict[str, Any]) -> dict:
        row, attrs = self.target(req)
        wanted = set(req.get("ObjectAttributes") or [])
        out: dict[str, Any] = {
            "LastModified": int(row["last_modified"]),
            **self.versioned(req, row),
        }
        if "ETag" in wanted:
            out["ETag"] = row["etag"].strip('"')
        if "ObjectSize" in wanted:
            out["ObjectSize"] = row["size"]
        if "StorageClass" in wanted:
            out["StorageClass"] = attrs.get("StorageClass", "STANDARD")
        checksum = attrs.get("Checksum")
        if "Checksum" in wanted and checksum:
            out["Checksum"] = {
                f"Checksum{checksum['Algorithm']}": checksum["Value"],
                "ChecksumType": checksum["Type"],
            }
        if "ObjectParts" in wanted and row["parts"]:
            out["ObjectParts"] = _object_parts(req, json.loads(row["parts"]), attrs)
        return out


def _object_parts(req: dict[str, Any], parts: list[Any], attrs: dict[str, Any]) -> dict:
    """GetObjectAttributes' page of a multipart object's parts; S3 lists the parts only of an
    object uploaded with an additional checksum."""
    marker = req.get("PartNumberMarker") or 0
    limit = req.get("MaxParts")
    limit = 1000 if limit is None else min(max(limit, 0), 1000)
    out: dict[str, Any] = {
        "TotalPartsCount": len(parts),
        "PartNumberMarker": marker,
        "MaxParts": limit,
    }
    values = attrs.get("PartChecksums")
    if not values:
        out["IsTruncated"] = False
        return out
    algorithm = attrs["Checksum"]["Algorithm"]
    numbers = range(marker + 1, len(parts) + 1)
    page = list(numbers)[:limit]
    out["Parts"] = [
        {"PartNumber": n, "Size": parts[n - 1][1], f"Checksum{algorithm}": values[n - 1]}
        for n in page
    ]
    out["IsTruncated"] = len(numbers) > len(page)
    if page:
        out["NextPartNumberMarker"] = page[-1]
    return out
