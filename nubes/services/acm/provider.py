"""AWS Certificate Manager: imported certificates, and requested ones answered at once with a
certificate signed by nubes' local certificate authority (validation is immediate: there is no
one to prove a domain to). Load balancers' HTTPS and TLS listeners serve them."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn, parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.services.acm import signing
from nubes.services.acm.errors import errors
from nubes.services.base import ServiceProvider
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE acm_certificates (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        created REAL NOT NULL,
        token TEXT,
        doc TEXT NOT NULL,
        certificate TEXT NOT NULL,
        chain TEXT NOT NULL,
        private_key TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE acm_authority (
        id INTEGER PRIMARY KEY,
        certificate TEXT NOT NULL,
        private_key TEXT NOT NULL
    );
    """,
)

MAX_NAMES = 10
MAX_FIRST_NAME = 64
IDEMPOTENCY_SECONDS = 3600


class AcmProvider(ServiceProvider):
    service = "acm"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)

    # -- records --------------------------------------------------------------------------

    def _row(self, ctx: RequestContext, certificate_arn: str) -> Row:
        try:
            parsed = parse_arn(certificate_arn)
        except ValueError:
            raise errors.InvalidArnException(
                f"String '{certificate_arn}' is not a valid ARN"
            ) from None
        if parsed.service != "acm" or not parsed.resource.startswith("certificate/"):
            raise errors.InvalidArnException(f"String '{certificate_arn}' is not a valid ARN")
        row = self.store.query_one(
            "SELECT * FROM acm_certificates WHERE arn = ? AND account = ? AND region = ?",
            (certificate_arn, ctx.account_id, ctx.region),
        )
        if row is None:
            raise errors.ResourceNotFoundException(f"Could not find certificate {certificate_arn}.")
        return row

    def _authority(self) -> tuple[bytes, bytes]:
        row = self.store.query_one("SELECT * FROM acm_authority WHERE id = 1")
        if row is None:
            cert, key = signing.new_authority(clock.now())
            self.store.execute(
                "INSERT INTO acm_authority (id, certificate, private_key) VALUES (1, ?, ?)",
                (cert.decode(), key.decode()),
            )
            return cert, key
        return row["certificate"].encode(), row["private_key"].encode()

    def key_pair(self, certificate_arn: str) -> tuple[bytes, bytes] | None:
        """(certificate + chain PEM, private key PEM) of a certificate, for listeners that
        serve it; None when there is no such certificate."""
        row = self.store.query_one(
            "SELECT certificate, chain, private_key FROM acm_certificates WHERE arn = ?",
            (certificate_arn,),
        )
        if row is None:
            return None
        return (row["certificate"] + row["chain"]).encode(), row["private_key"].encode()

    def _in_use_by(self, certificate_arn: str) -> list[str]:
        from nubes.services import PROVIDERS

        if "elbv2" not in PROVIDERS:
            return []
        users: list[str] = self.env.providers.get("elbv2").certificate_users(certificate_arn)  # type: ignore[attr-defined]
        return users

    def _detail(self, row: Row) -> Json:
        doc: Json = json.loads(row["doc"])
        doc["InUseBy"] = self._in_use_by(row["arn"])
        return doc

    def _save(
        self,
        ctx: RequestContext,
        certificate_arn: str,
        doc: Json,
        certificate: bytes,
        chain: bytes,
        key: bytes,
        token: str | None = None,
    ) -> None:
        self.store.execute(
            "INSERT INTO acm_certificates (arn, account, region, created, token, doc, certificate, "
            "chain, private_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(arn) DO UPDATE "
            "SET doc = excluded.doc, certificate = excluded.certificate, chain = excluded.chain, "
            "private_key = excluded.private_key",
            (
                certificate_arn,
                ctx.account_id,
                ctx.region,
                doc["CreatedAt"],
                token,
                json.dumps(doc),
                certificate.decode(),
                chain.decode(),
                key.decode(),
            ),
        )

    # -- operations -----------------------------------------------------------------------

    def import_certificate(self, ctx: RequestContext, req: Json) -> Json:
        certificate = bytes(req["Certificate"])
        key = bytes(req["PrivateKey"])
        chain = bytes(req.get("CertificateChain") or b"")
        try:
            parsed = signing.parse(certificate)
        except ValueError:
            raise errors.ValidationException(
                "The certificate field contains more than one certificate or is not a valid "
                "certificate."
            ) from None
        try:
            matches = signing.key_matches(certificate, key)
        except (ValueError, TypeError):
            raise errors.ValidationException("The private key is not supported.") from None
        if not matches:
            raise errors.ValidationException(
                "The private key does not match the public key in the certificate."
            )
        now = clock.now()
        existing = req.get("CertificateArn")
        if existing:
            row = self._row(ctx, existing)
            old = json.loads(row["doc"])
            if old["Type"] != "IMPORTED":
                raise errors.ValidationException(
                    f"Certificate {existing} was not imported: only imported certificates can "
                    "be reimported."
                )
            if req.get("Tags"):
                raise errors.InvalidParameterException(
                    "Tags cannot be specified when reimporting a certificate."
                )
            certificate_arn = existing
            created = old["CreatedAt"]
        else:
            certificate_arn = arn("acm", ctx.region, ctx.account_id, f"certificate/{uuid.uuid4()}")
            created = now
            self._set_tags(certificate_arn, req.get("Tags") or [])
        doc = {
            "CertificateArn": certificate_arn,
            "DomainName": parsed.domain,
            "SubjectAlternativeNames": parsed.names,
            "Serial": parsed.serial,
            "Subject": parsed.subject,
            "Issuer": parsed.issuer,
            "CreatedAt": created,
            "ImportedAt": now,
            "Status": "EXPIRED" if parsed.not_after < now else "ISSUED",
            "NotBefore": parsed.not_before,
            "NotAfter": parsed.not_after,
            "KeyAlgorithm": parsed.key_algorithm,
            "SignatureAlgorithm": parsed.signature_algorithm,
            "Type": "IMPORTED",
            "KeyUsages": [{"Name": "DIGITAL_SIGNATURE"}, {"Name": "KEY_ENCIPHERMENT"}],
            "ExtendedKeyUsages": [],
            "RenewalEligibility": "INELIGIBLE",
            "Options": {"CertificateTransparencyLoggingPreference": "DISABLED"},
        }
        self._save(ctx, certificate_arn, doc, certificate, chain, key)
        return {"CertificateArn": certificate_arn}

    def request_certificate(self, ctx: RequestContext, req: Json) -> Json:
        domain = req["DomainName"]
        names = list(dict.fromkeys([domain, *(req.get("SubjectAlternativeNames") or [])]))
        if len(names) > MAX_NAMES:
            raise errors.LimitExceededException(
                f"Cannot request a certificate for more than {MAX_NAMES} domain names."
            )
        for name in names:
            _check_domain(name)
        if len(domain) > MAX_FIRST_NAME:
            # It becomes the certificate's common name, which X.509 limits to 64 characters.
            raise errors.ValidationException(
                f"The first domain name can't exceed {MAX_FIRST_NAME} characters."
            )
        token = req.get("IdempotencyToken")
        now = clock.now()
        if token:
            row = self.store.query_one(
                "SELECT arn FROM acm_certificates WHERE account = ? AND region = ? AND token = ? "
                "AND created > ?",
                (ctx.account_id, ctx.region, token, now - IDEMPOTENCY_SECONDS),
            )
            if row is not None:
                return {"CertificateArn": row["arn"]}
        algorithm = req.get("KeyAlgorithm") or "RSA_2048"
        authority = self._authority()
        certificate, key = signing.issue(authority, domain, names[1:], algorithm, now)
        parsed = signing.parse(certificate)
        certificate_arn = arn("acm", ctx.region, ctx.account_id, f"certificate/{uuid.uuid4()}")
        method = req.get("ValidationMethod") or "DNS"
        self._set_tags(certificate_arn, req.get("Tags") or [])
        doc = {
            "CertificateArn": certificate_arn,
            "DomainName": domain,
            "SubjectAlternativeNames": names,
            "DomainValidationOptions": [_validation(name, method) for name in names],
            "Serial": parsed.serial,
            "Subject": parsed.subject,
            "Issuer": parsed.issuer,
            "CreatedAt": now,
            "IssuedAt": now,
            "Status": "ISSUED",
            "NotBefore": parsed.not_before,
            "NotAfter": parsed.not_after,
            "KeyAlgorithm": algorithm,
            "SignatureAlgorithm": parsed.signature_algorithm,
            "Type": "AMAZON_ISSUED",
            "KeyUsages": [{"Name": "DIGITAL_SIGNATURE"}, {"Name": "KEY_ENCIPHERMENT"}],
            "ExtendedKeyUsages": [
                {"Name": "TLS_WEB_SERVER_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.1"},
                {"Name": "TLS_WEB_CLIENT_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.2"},
            ],
            "RenewalEligibility": "INELIGIBLE",
            "Options": req.get("Options")
            or {"CertificateTransparencyLoggingPreference": "ENABLED"},
        }
        self._save(ctx, certificate_arn, doc, certificate, authority[0], key, token)
        return {"CertificateArn": certificate_arn}

    def describe_certificate(self, ctx: RequestContext, req: Json) -> Json:
        return {"Certificate": self._detail(self._row(ctx, req["CertificateArn"]))}

    def get_certificate(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req["CertificateArn"])
        out: Json = {"Certificate": row["certificate"]}
        if row["chain"]:
            out["CertificateChain"] = row["chain"]
        return out

    def list_certificates(self, ctx: RequestContext, req: Json) -> Json:
        rows = self.store.query(
            "SELECT * FROM acm_certificates WHERE account = ? AND region = ? ORDER BY created, arn",
            (ctx.account_id, ctx.region),
        )
        statuses = req.get("CertificateStatuses")
        includes = req.get("Includes") or {}
        key_types = includes.get("keyTypes") or [
            "RSA_1024",
            "RSA_2048",
            "EC_prime256v1",
            "EC_secp384r1",
        ]
        docs = []
        for row in rows:
            doc = json.loads(row["doc"])
            if statuses and doc["Status"] not in statuses:
                continue
            if doc["KeyAlgorithm"] not in key_types:
                continue
            docs.append((row, doc))
        try:
            page, token = paginate(
                docs, req.get("MaxItems") or 1000, req.get("NextToken"), key=lambda p: p[0]["arn"]
            )
        except InvalidToken:
            raise errors.InvalidArgsException("The NextToken is not valid.") from None
        summaries = []
        for row, doc in page:
            in_use = bool(self._in_use_by(row["arn"]))
            summary = {
                "CertificateArn": doc["CertificateArn"],
                "DomainName": doc["DomainName"],
                "SubjectAlternativeNameSummaries": doc["SubjectAlternativeNames"],
                "HasAdditionalSubjectAlternativeNames": False,
                "Status": doc["Status"],
                "Type": doc["Type"],
                "KeyAlgorithm": doc["KeyAlgorithm"],
                "KeyUsages": [k["Name"] for k in doc["KeyUsages"]],
                "ExtendedKeyUsages": [k["Name"] for k in doc["ExtendedKeyUsages"]],
                "InUse": in_use,
                "RenewalEligibility": doc["RenewalEligibility"],
                "NotBefore": doc["NotBefore"],
                "NotAfter": doc["NotAfter"],
                "CreatedAt": doc["CreatedAt"],
            }
            for key in ("IssuedAt", "ImportedAt"):
                if key in doc:
                    summary[key] = doc[key]
            summaries.append(summary)
        out: Json = {"CertificateSummaryList": summaries}
        if token:
            out["NextToken"] = token
        return out

    def delete_certificate(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req["CertificateArn"])
        if self._in_use_by(row["arn"]):
            raise errors.ResourceInUseException(
                f"Certificate {row['arn']} in account {ctx.account_id} is in use."
            )
        self.store.execute("DELETE FROM acm_certificates WHERE arn = ?", (row["arn"],))
        self.env.tags.drop(row["arn"])
        return {}

    # -- tags -----------------------------------------------------------------------------

    def _set_tags(self, certificate_arn: str, tags: list[Json]) -> None:
        self.env.tags.add(
            certificate_arn,
            from_list(tags),
            errors.InvalidTagException,
            too_many=errors.TooManyTagsException("the number of tags exceeds the limit of 50"),
        )

    def add_tags_to_certificate(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req["CertificateArn"])
        self._set_tags(row["arn"], req["Tags"])
        return {}

    def remove_tags_from_certificate(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req["CertificateArn"])
        existing = self.env.tags.get(row["arn"])
        gone = [
            t["Key"]
            for t in req["Tags"]
            if t["Key"] in existing and ("Value" not in t or existing[t["Key"]] == t["Value"])
        ]
        self.env.tags.remove(row["arn"], gone)
        return {}

    def list_tags_for_certificate(self, ctx: RequestContext, req: Json) -> Json:
        row = self._row(ctx, req["CertificateArn"])
        tags = self.env.tags.get(row["arn"])
        return {"Tags": to_list(tags)}


def _check_domain(name: str) -> None:
    labels = name.split(".")
    wildcard_ok = labels[0] == "*" and "*" not in ".".join(labels[1:])
    if (
        len(name) > 253
        or len(labels) < 2
        or any(not label or len(label) > 63 for label in labels)
        or ("*" in name and not wildcard_ok)
    ):
        raise errors.InvalidDomainValidationOptionsException(
            f"Domain name {name} is not a valid domain name."
        )


def _validation(name: str, method: str) -> Json:
    out: Json = {
        "DomainName": name,
        "ValidationDomain": name.removeprefix("*."),
        "ValidationStatus": "SUCCESS",
        "ValidationMethod": method,
    }
    if method == "DNS":
        digest = hashlib.sha256(name.encode()).hexdigest()
        base = name.removeprefix("*.")
        out["ResourceRecord"] = {
            "Name": f"_{digest[:32]}.{base}.",
            "Type": "CNAME",
            "Value": f"_{digest[32:]}.acm-validations.aws.",
        }
    return out
