"""Access control lists: canned ACLs and x-amz-grant-* headers turned into the Owner + Grants
document S3 stores and returns."""

from __future__ import annotations

import hashlib
from typing import Any

from nubes.services.s3.errors import errors

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"

REQUEST_FIELDS = (
    "ACL",
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWrite",
    "GrantWriteACP",
)
_GRANT_HEADERS = {
    "GrantFullControl": "FULL_CONTROL",
    "GrantRead": "READ",
    "GrantReadACP": "READ_ACP",
    "GrantWrite": "WRITE",
    "GrantWriteACP": "WRITE_ACP",
}
_CANNED: dict[str, list[tuple[str, str]]] = {
    "private": [],
    "public-read": [(ALL_USERS, "READ")],
    "public-read-write": [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")],
    "authenticated-read": [(AUTHENTICATED_USERS, "READ")],
    "aws-exec-read": [],
    "bucket-owner-read": [],
    "bucket-owner-full-control": [],
    "log-delivery-write": [(LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")],
}


def canonical_id(account_id: str) -> str:
    return hashlib.sha256(f"nubes-s3-{account_id}".encode()).hexdigest()


def _user(canonical: str) -> dict[str, str]:
    return {"ID": canonical, "Type": "CanonicalUser"}


def _group(uri: str) -> dict[str, str]:
    return {"URI": uri, "Type": "Group"}


def canned(name: str, account_id: str) -> dict[str, Any]:
    if name not in _CANNED:
        raise errors.InvalidArgument("", ArgumentName="x-amz-acl", ArgumentValue=name)
    owner = canonical_id(account_id)
    grants = [{"Grantee": _user(owner), "Permission": "FULL_CONTROL"}]
    grants += [{"Grantee": _group(uri), "Permission": perm} for uri, perm in _CANNED[name]]
    return {"Owner": {"ID": owner}, "Grants": grants}


def is_public(document: dict[str, Any]) -> bool:
    """Whether an ACL grants anything to everyone or to every AWS account."""
    public = (ALL_USERS, AUTHENTICATED_USERS)
    return any(g.get("Grantee", {}).get("URI") in public for g in document.get("Grants") or [])


def _grantee(text: str) -> dict[str, str]:
    kind, _, value = text.strip().partition("=")
    value = value.strip().strip('"')
    kind = kind.strip().lower()
    if kind == "id":
        return _user(value)
    if kind == "uri":
        return _group(value)
    if kind == "emailaddress":
        return {"EmailAddress": value, "Type": "AmazonCustomerByEmail"}
    raise errors.InvalidArgument("Invalid id", ArgumentName="x-amz-grant", ArgumentValue=text)


def from_request(req: dict[str, Any], account_id: str) -> dict[str, Any]:
    """The ACL a request asks for: canned, explicit grant headers, or private by default."""
    grants_asked = {k: req[k] for k in _GRANT_HEADERS if req.get(k)}
    if req.get("ACL") and grants_asked:
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    if not grants_asked:
        return canned(req.get("ACL") or "private", account_id)
    grants = [
        {"Grantee": _grantee(item), "Permission": _GRANT_HEADERS[field]}
        for field, text in grants_asked.items()
        for item in text.split(",")
    ]
    return {"Owner": {"ID": canonical_id(account_id)}, "Grants": grants}


def from_policy(policy: dict[str, Any], account_id: str) -> dict[str, Any]:
    """An AccessControlPolicy document as PutBucketAcl / PutObjectAcl send it."""
    grants = policy.get("Grants") or []
    for grant in grants:
        grantee = grant.get("Grantee") or {}
        if grantee.get("Type") not in ("CanonicalUser", "Group", "AmazonCustomerByEmail"):
            raise errors.MalformedACLError(
                "The XML you provided was not well-formed or did not validate against our "
                "published schema"
            )
    owner = (policy.get("Owner") or {}).get("ID") or canonical_id(account_id)
    return {"Owner": {"ID": owner}, "Grants": grants}
