"""Browser uploads: ``POST /<bucket>`` with a multipart/form-data body (presigned POST). The
policy document's signature (SigV4 or SigV2), its expiry on the nubes clock and each of its
conditions are checked before the file is stored like a PutObject."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nubes.core import accounts, clock, ids, safejson
from nubes.core.context import RequestContext
from nubes.gateway import sigv2, sigv4
from nubes.gateway.router import s3_virtual_host_bucket
from nubes.protocol.base import HttpRequest, HttpResponse, ServiceError
from nubes.protocol.xml import escape_text
from nubes.services.s3.responses import xml_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from nubes.services.iam.identity import KeyRecord
    from nubes.services.s3.provider import S3Provider

# Fields the policy need not mention.
_EXEMPT = {"file", "policy", "x-amz-signature", "signature", "awsaccesskeyid"}


class PolicyError(Exception):
    pass


def parse_form(req: HttpRequest) -> list[tuple[str, bytes, str | None, str]]:
    """(name, value, filename, content type) of each form part, in order."""
    # The email package (a megabyte of modules) is imported by the first browser upload only.
    from email import policy as email_policy
    from email.parser import BytesParser

    head = f"Content-Type: {req.headers['content-type']}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(head + req.read_body())
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts.append((name, payload, part.get_filename(), part.get_content_type()))
    return parts


_EXPIRATION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
"""ISO 8601 in UTC, as the policy's ``expiration`` must be (``2007-12-01T12:00:00.000Z``)."""


def check_conditions(document: dict[str, Any], fields: dict[str, str], size: int) -> None:
    """A malformed policy is a 400 (``InvalidPolicyDocument``); a well-formed one the upload
    does not satisfy is a 403 (``AccessDenied``), as S3 answers."""
    if "expiration" not in document:
        raise _invalid_policy("Policy missing expiration.")
    expiration = document["expiration"]
    if not isinstance(expiration, str) or not _EXPIRATION.match(expiration):
        raise _invalid_policy(f"Invalid 'expiration' value: '{expiration}'")
    expires = datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp()
    if clock.now() > expires:
        raise PolicyError("Invalid according to Policy: Policy expired.")
    covered = set()
    if "conditions" not in document:
        raise _invalid_policy("Policy missing conditions.")
    conditions = document["conditions"]
    if not isinstance(conditions, list):
        raise _invalid_policy("Invalid 'conditions' value.")
    for condition in conditions:
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise _invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property "
                    "specified."
                )
            for name, value in condition.items():
                covered.add(name.lower())
                if fields.get(name.lower()) != value:
                    raise PolicyError(
                        f'Invalid according to Policy: Policy Condition failed: ["eq", "${name}", '
                        f'"{value}"]'
                    )
            continue
        if not isinstance(condition, list) or len(condition) != 3:
            raise _invalid_policy(f"Invalid condition: {json.dumps(condition)}")
        op = str(condition[0]).lower()
        if op == "content-length-range":
            try:
                low, high = int(condition[1]), int(condition[2])
            except (TypeError, ValueError):
                raise _invalid_policy("Invalid 'content-length-range' condition.") from None
            if not low <= size <= high:
                code = "EntityTooSmall" if size < low else "EntityTooLarge"
                raise ServiceError(code, f"Your proposed upload {size} is outside {low}-{high}")
            continue
        if op not in ("eq", "starts-with"):
            raise _invalid_policy(f"Invalid Condition: unknown operation '{condition[0]}'.")
        name, value = str(condition[1]).lstrip("$").lower(), str(condition[2])
        covered.add(name)
        actual = fields.get(name, "")
        ok = actual == value if op == "eq" else actual.startswith(value)
        if not ok:
            raise PolicyError(
                f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
            )
    extra = [
        k for k in fields if k not in covered and k not in _EXEMPT and not k.startswith("x-ignore-")
    ]
    if extra:
        raise PolicyError(
            "Invalid according to Policy: Extra input fields: " + ", ".join(sorted(extra))
        )


def _invalid_policy(detail: str) -> ServiceError:
    return ServiceError("InvalidPolicyDocument", f"Invalid Policy: {detail}")


def policy_document(encoded: str) -> dict[str, Any]:
    """The policy form field decoded: base64 of a JSON object."""
    try:
        document = safejson.loads(base64.b64decode(encoded))
    except ValueError:
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid_policy("Invalid JSON.")
    return document


_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_V4_FIELDS = {
    "x-amz-signature": "X-Amz-Signature",
    "x-amz-credential": "X-Amz-Credential",
    "x-amz-algorithm": "X-Amz-Algorithm",
    "x-amz-date": "X-Amz-Date",
}
_V2_FIELDS = {"signature": "Signature", "awsaccesskeyid": "AWSAccessKeyId"}


def _missing(field: str) -> ServiceError:
    return ServiceError(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{field}'.  If it is specified, please check "
        "the order of the fields.",
        fields={"ArgumentName": field},
    )


def is_signed(fields: dict[str, str]) -> bool:
    """A form with a policy or any signature field is a signed upload (all of them are then
    required); one with neither is anonymous."""
    signed = any(f in fields for f in (*_V4_FIELDS, *_V2_FIELDS))
    if signed and "policy" not in fields:
        raise _missing("Policy")
    return signed or "policy" in fields


def check_signature(
    fields: dict[str, str], policy_b64: str, secret_of: Callable[[str], str | None]
) -> str:
    """The access key of a correctly signed policy (SigV4 or SigV2 form). Every POST is
    verified, whatever the enforcement setting: S3 takes no unsigned policy."""
    if any(f in fields for f in _V4_FIELDS):
        for field, name in _V4_FIELDS.items():
            if field not in fields:
                raise _missing(name)
        if fields["x-amz-algorithm"] != sigv4.ALGORITHM:
            raise ServiceError(
                "InvalidArgument",
                'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
                fields={"ArgumentName": "x-amz-algorithm"},
            )
        scope = sigv4.Scope.parse(fields["x-amz-credential"])
        if scope is None:
            raise ServiceError(
                "InvalidArgument",
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
                'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
                fields={"ArgumentName": "x-amz-credential"},
            )
        access_key, given = scope.access_key_id, fields["x-amz-signature"]
        secret = secret_of(access_key)
        key = secret and sigv4.signing_key(secret, scope.date, scope.region, scope.service)
        expected = key and sigv4.sign(key, policy_b64)
        ok = bool(expected) and sigv4.matches(str(expected), given)
    else:
        for field, name in _V2_FIELDS.items():
            if field not in fields:
                raise _missing(name)
        access_key, given = fields["awsaccesskeyid"], fields["signature"]
        secret = secret_of(access_key)
        ok = secret is not None and sigv2.matches(sigv2.sign(secret, policy_b64), given)
    if secret is None:
        raise ServiceError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
            fields={"AWSAccessKeyId": access_key},
        )
    if not ok:
        raise ServiceError(
            "SignatureDoesNotMatch", _MISMATCH, 403, fields={"AWSAccessKeyId": access_key}
        )
    return access_key


class BrowserUploads:
    def __init__(self, provider: S3Provider) -> None:
        self.provider = provider

    def secret_of(self, access_key: str) -> str | None:
        """A key's secret: IAM's keys, and the account root's (the configured root key, or a
        12-digit account id as key) whether enforcement is on or not."""
        found = sigv4.secret_for(access_key)
        settings = self.provider.env.settings
        if found is None and (
            access_key == settings.root_access_key
            or (len(access_key) == 12 and access_key.isdigit())
        ):
            return settings.root_secret_key
        return found

    async def intercept(self, req: HttpRequest) -> HttpResponse | None:
        if req.method != "POST" or not req.headers.get("content-type", "").startswith(
            "multipart/form-data"
        ):
            return None
        bucket = s3_virtual_host_bucket(req.host)
        path = req.path.strip("/")
        if bucket is None:
            if not path or "/" in path:
                return None
            bucket = path
        elif path:
            return None
        try:
            return await self.upload(req, bucket)
        except PolicyError as exc:
            return xml_error(403, "AccessDenied", str(exc))
        except ServiceError as exc:
            return xml_error(exc.status, exc.wire_code, exc.message)
        except ValueError:
            # Unreadable parts or field values that are not UTF-8.
            return xml_error(
                400,
                "MalformedPOSTRequest",
                "The body of your POST request is not well-formed multipart/form-data.",
            )

    async def upload(self, req: HttpRequest, bucket: str) -> HttpResponse:
        parts = parse_form(req)
        fields: dict[str, str] = {}
        file: tuple[bytes, str | None, str] | None = None
        for name, value, filename, content_type in parts:
            if name.lower() == "file":
                file = (value, filename, content_type)
                break  # S3 ignores fields after the file
            fields[name.lower()] = value.decode("utf-8")
        if file is None:
            raise ServiceError(
                "InvalidArgument", "POST requires exactly one file upload per request.", 400
            )
        data, filename, _ = file
        if "key" not in fields:
            raise ServiceError(
                "InvalidArgument", "Bucket POST must contain a field named 'key'.", 400
            )
        key = fields["key"].replace("${filename}", filename or "")
        fields["bucket"] = bucket
        account = self.provider.env.settings.account_id
        from nubes.gateway.enforce import running_enforcer

        enforcer = running_enforcer(self.provider.env)
        record: KeyRecord | None = None
        if is_signed(fields):
            document = policy_document(fields["policy"])
            access_key = check_signature(fields, fields["policy"], self.secret_of)
            if enforcer is not None:
                record = enforcer.key_record(access_key, fields.get("x-amz-security-token", ""))
            check_conditions(document, {**fields, "key": key}, len(data))
            account = accounts.resolve(access_key, account).account_id
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": data}
        for field, param in (
            ("content-type", "ContentType"),
            ("cache-control", "CacheControl"),
            ("content-disposition", "ContentDisposition"),
            ("content-encoding", "ContentEncoding"),
            ("acl", "ACL"),
            ("x-amz-storage-class", "StorageClass"),
            ("x-amz-server-side-encryption", "ServerSideEncryption"),
        ):
            if field in fields:
                params[param] = fields[field]
        meta = {
            k[len("x-amz-meta-") :]: v for k, v in fields.items() if k.startswith("x-amz-meta-")
        }
        if meta:
            params["Metadata"] = meta
        ctx = RequestContext(
            account_id=account,
            region=self.provider.env.settings.region,
            request_id=ids.s3_request_id(),
            service="s3",
            operation="PostObject",
            principal=record.principal if record else accounts.root_principal(account, account),
            request=HttpRequest("PUT", f"/{bucket}/{quote(key)}", headers={"host": req.host}),
            protocol="rest-xml",
        )
        if enforcer is not None:
            # The signer (or, unsigned, anyone) must be allowed s3:PutObject on the key.
            enforcer.authorize(ctx, "PutObject", params, record or enforcer.anonymous)
        out = await self.provider.put_object(ctx, params)
        location = f"{req.scheme}://{req.host}/{bucket}/{quote(key)}"
        headers = {"ETag": out["ETag"], "Location": location, "x-amz-request-id": ctx.request_id}
        redirect = fields.get("success_action_redirect")
        if redirect:
            sep = "&" if "?" in redirect else "?"
            target = (
                f"{redirect}{sep}bucket={quote(bucket)}&key={quote(key)}&etag={quote(out['ETag'])}"
            )
            return HttpResponse(303, {**headers, "Location": target}, b"")
        status = fields.get("success_action_status", "204")
        if status == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Location>{escape_text(location)}</Location><Bucket>{bucket}</Bucket>"
                f"<Key>{escape_text(key)}</Key><ETag>{escape_text(out['ETag'])}</ETag>"
                "</PostResponse>"
            ).encode()
            return HttpResponse(201, {**headers, "Content-Type": "application/xml"}, body)
        return HttpResponse(200 if status == "200" else 204, headers, b"")
