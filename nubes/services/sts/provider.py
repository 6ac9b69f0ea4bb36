"""AWS Security Token Service: who am I, and temporary credentials that really expire.

Sessions are recorded in IAM's store (IAM resolves every access key, its own and these), so
the gateway maps a temporary key to its account and principal like any other key. Trust
policies are evaluated by IAM enforcement (the role's trust policy is the resource policy of
``sts:AssumeRole*``); with enforcement off, as on a laptop, any role may be assumed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock, safejson
from nubes.core.arns import arn, arn_service
from nubes.core.context import RequestContext
from nubes.services.base import ServiceProvider
from nubes.services.iam.keys import new_access_key_id, new_secret
from nubes.services.iam.policy import Caller, PolicyError, Request, evaluate, parse_policy
from nubes.services.iam.policy.document import policy_size
from nubes.services.sts import federation, oidc
from nubes.services.sts.errors import errors

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.services.cognito_idp.provider import CognitoIdpProvider
    from nubes.services.iam.models import Entity
    from nubes.services.iam.provider import IamProvider

PACKED_POLICY_LIMIT = 2048
CHAINED_LIMIT = 3600
SESSION_TAGS_LIMIT = 50
_USER_POOL_ISSUER = re.compile(
    r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/([a-z]{2}(?:-[a-z]+)+-\d+_[0-9A-Za-z]+)$"
)
CLOCK_SKEW = 300
"""How far in the future a token's ``nbf``/``iat`` may lie (clocks of IdPs drift)."""


def _role_parts(arn: str) -> tuple[str, str]:
    """(account, role name) of a role ARN (``arn:aws:iam::123:role/path/Name``)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise errors.ValidationError(f"{arn} is invalid")
    return parts[4], parts[5].rsplit("/", 1)[-1]


def session_token() -> str:
    return "IQoJb3JpZ2luX2VjE" + base64.b64encode(os.urandom(270)).decode()


class StsProvider(ServiceProvider):
    service = "sts"

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.oidc_keys = oidc.KeyCache()

    def reset(self) -> None:
        self.oidc_keys.clear()

    @property
    def iam(self) -> IamProvider:
        provider: IamProvider = self.env.providers.get("iam")  # type: ignore[assignment]
        return provider

    # -- who am I -------------------------------------------------------------------------------

    def get_caller_identity(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        principal = ctx.principal
        return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}

    def get_access_key_info(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        record = self.iam.identities.record(req["AccessKeyId"])
        account = record.principal.account_id if record else self.env.settings.account_id
        return {"Account": account}

    def decode_authorization_message(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            decoded = safejson.loads(base64.b64decode(req["EncodedMessage"], validate=True))
        except (binascii.Error, ValueError):
            raise errors.InvalidAuthorizationMessageException("The message is invalid.") from None
        return {"DecodedMessage": json.dumps(decoded)}

    # -- sessions ---------------------------------------------------------------------------------

    def _session_policies(self, req: dict[str, Any]) -> tuple[list[str], list[str], int]:
        """Inline session policy and managed policy ARNs, with the packed size in percent."""
        docs: list[str] = []
        if req.get("Policy"):
            try:
                parse_policy(req["Policy"], "identity")
            except PolicyError as exc:
                raise errors.MalformedPolicyDocumentException(str(exc)) from None
            docs.append(req["Policy"])
        arns = [p["arn"] for p in req.get("PolicyArns", [])]
        for policy_arn in arns:
            if arn_service(policy_arn) != "iam" or ":policy/" not in policy_arn:
                raise errors.ValidationError(f"{policy_arn} is invalid")
        size = sum(policy_size(d) for d in docs) + 64 * len(arns)
        size += sum(len(t["Key"]) + len(t["Value"]) for t in req.get("Tags", []))
        if size > PACKED_POLICY_LIMIT:
            raise errors.PackedPolicyTooLargeException(
                "Packed size of consumed policies exceeds the maximum allowed size: "
                f"{size * 100 // PACKED_POLICY_LIMIT}%"
            )
        return docs, arns, size * 100 // PACKED_POLICY_LIMIT

    def _issue(self, account: str, duration: int, data: dict[str, Any]) -> dict[str, Any]:
        key_id, secret, token = new_access_key_id("ASIA"), new_secret(), session_token()
        expires = clock.now() + duration
        self.iam.iam.put_session(key_id, account, secret, token, expires, data)
        return {
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": datetime.fromtimestamp(expires, UTC),
        }

    def _caller_session(self, ctx: RequestContext) -> dict[str, Any]:
        record = self.iam.identities.record(ctx.principal.access_key_id)
        return (record.session or {}) if record else {}

    def _role(self, account: str, name: str) -> Entity | None:
        return self.iam.iam.get(account, "role", name)

    def _assume(
        self,
        ctx: RequestContext,
        req: dict[str, Any],
        session_name: str,
        extra: dict[str, Any],
        chained: bool = False,
        inherited: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        account, name = _role_parts(req["RoleArn"])
        role = self._role(account, name)
        if role is None and self.env.settings.enforce_iam:
            raise errors.AccessDenied(
                f"User: {ctx.principal.arn} is not authorized to perform: sts:AssumeRole on "
                f"resource: {req['RoleArn']}"
            )
        max_session = role.data.get("max_session", 3600) if role else 43200
        duration = req.get("DurationSeconds", 3600)
        if chained and duration > CHAINED_LIMIT:
            raise errors.ValidationError(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining."
            )
        if duration > max_session:
            raise errors.ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        docs, arns, packed = self._session_policies(req)
        inherited = inherited or {}
        tags = dict(inherited.get("transitive_tags", {}))
        for tag in req.get("Tags", []):
            if tag["Key"].lower() in {k.lower() for k in tags}:
                raise errors.InvalidParameterValue(
                    "One or more of the specified transitive tag keys can't be set because "
                    "they conflict with a transitive tag key of the session."
                )
            tags[tag["Key"]] = tag["Value"]
        transitive_keys = req.get("TransitiveTagKeys", [])
        missing = [k for k in transitive_keys if k not in tags]
        if missing:
            raise errors.InvalidParameterValue(
                "The specified transitive tag key must be included in the requested tags."
            )
        role_id = (
            role.id if role else "AROA" + base64.b32encode(req["RoleArn"].encode()).decode()[:17]
        )
        role_arn = role.arn if role else req["RoleArn"]
        principal_tags = {**(self.env.tags.get(role.arn) if role else {}), **tags}
        session_arn = arn("sts", "", account, f"assumed-role/{name}/{session_name}", ctx.partition)
        source_identity = inherited.get("source_identity") or req.get("SourceIdentity")
        data = {
            "kind": "assumed-role",
            "arn": session_arn,
            "user_id": f"{role_id}:{session_name}",
            "role_arn": role_arn,
            "tags": principal_tags,
            "transitive_tags": {
                **inherited.get("transitive_tags", {}),
                **{k: tags[k] for k in transitive_keys},
            },
            "chained": chained,
            **extra,
        }
        if docs or arns:
            data["session_policies"] = docs
            data["policy_arns"] = arns
        if source_identity:
            data["source_identity"] = source_identity
        credentials = self._issue(account, duration, data)
        if role is not None:
            role.data["last_used"] = {"date": clock.now(), "region": ctx.region}
            self.iam.iam.put(role)
        out: dict[str, Any] = {
            "Credentials": credentials,
            "AssumedRoleUser": {"AssumedRoleId": data["user_id"], "Arn": session_arn},
        }
        if docs or arns or tags:
            out["PackedPolicySize"] = packed
        if source_identity:
            out["SourceIdentity"] = source_identity
        return out

    def assume_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        caller = self._caller_session(ctx)
        chained = ctx.principal.kind == "assumed-role"
        if caller.get("source_identity") and req.get("SourceIdentity") not in (
            None,
            caller["source_identity"],
        ):
            raise errors.AccessDenied(
                "The source identity of a role session can't be changed when chaining roles."
            )
        mfa = bool(req.get("SerialNumber") and req.get("TokenCode")) or bool(caller.get("mfa"))
        return self._assume(
            ctx, req, req["RoleSessionName"], {"mfa": mfa}, chained=chained, inherited=caller
        )

    def _check_federated_trust(
        self, role_arn: str, action: str, federated: str, context: dict[str, list[str]]
    ) -> None:
        """Callers of the federation operations sign nothing: their token is checked here, and
        the role's trust policy must name their identity provider (when IAM is enforced)."""
        if not self.env.settings.enforce_iam:
            return
        account, name = _role_parts(role_arn)
        role = self._role(account, name)
        trust = parse_policy(role.data["trust"], "trust", validate=False) if role else None
        caller = Caller(federated, account, "federated", federated=federated)
        request = Request(action, role_arn, caller, context, account)
        if trust is None or not evaluate(request, [], [("trust", trust)]).allowed:
            raise errors.AccessDenied(f"Not authorized to perform {action}")

    async def assume_role_with_web_identity(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        token = req["WebIdentityToken"]
        try:
            header, claims = federation.decode_jwt(token)
        except federation.InvalidAssertion:
            raise errors.InvalidIdentityTokenException(
                "The ID Token provided is not a valid JWT. (You may see this error if you sent "
                "an Access Token)"
            ) from None
        account, _ = _role_parts(req["RoleArn"])
        issuer = str(claims.get("iss") or req.get("ProviderId") or "")
        host = federation.issuer_host(issuer)
        provider_arn = host
        if host not in federation.WELL_KNOWN_WEB_IDPS:
            provider_arn = f"arn:{ctx.partition}:iam::{account}:oidc-provider/{host}"
            provider = self.iam.iam.item(account, "oidc", provider_arn)
            if provider is None:
                raise errors.InvalidIdentityTokenException(
                    f"No OpenIDConnect provider found in your account for https://{host}"
                )
            # The well-known providers are on the internet nubes does not reach; the keys of
            # a provider registered in IAM are fetched from it.
            await self._verify_signature(token, header, issuer, provider)
            if provider["client_ids"] and not set(federation.audiences(claims)) & set(
                provider["client_ids"]
            ):
                raise errors.InvalidIdentityTokenException("Incorrect token audience")
        self._check_validity_period(claims)
        with self.store.transaction():
            return self._web_identity_session(ctx, req, claims, host, provider_arn)

    async def _verify_signature(
        self, token: str, header: dict[str, Any], issuer: str, provider: dict[str, Any]
    ) -> None:
        url = "https://" + str(provider["url"])
        local = self._user_pool_keys(url)
        try:
            stated, keys = (
                local
                if local is not None
                else await asyncio.to_thread(
                    self.oidc_keys.keys, url, provider["thumbprints"], header.get("kid")
                )
            )
        except oidc.Unreachable:
            raise errors.IDPCommunicationErrorException(
                "Couldn't connect to identity provider " + url
            ) from None
        except oidc.UntrustedCertificate:
            raise errors.InvalidIdentityTokenException(
                "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
            ) from None
        if stated.rstrip("/") != issuer.rstrip("/"):
            raise errors.InvalidIdentityTokenException(
                f"Issuer {issuer} in the token doesn't match the issuer {stated} of the "
                "OpenIDConnect provider's configuration"
            )
        try:
            oidc.verify(token, header, keys)
        except oidc.NoKey:
            raise errors.InvalidIdentityTokenException(
                "Couldn't retrieve verification key from your identity provider, please "
                "reference AssumeRoleWithWebIdentity documentation for requirements"
            ) from None
        except oidc.BadSignature:
            raise errors.InvalidIdentityTokenException(
                "The signature of the ID Token could not be verified with the identity "
                "provider's keys"
            ) from None

    def _user_pool_keys(self, issuer: str) -> tuple[str, list[dict[str, Any]]] | None:
        """The keys of a user pool of this nubes' Cognito: its issuer's host is AWS's, out of
        reach, and the pool's signing key is here."""
        found = _USER_POOL_ISSUER.match(issuer)
        if found is None:
            return None
        cognito: CognitoIdpProvider = self.env.providers.get("cognito-idp")  # type: ignore[assignment]
        jwks = cognito.jwks(found.group(1))
        return (issuer, list(jwks["keys"])) if jwks else None

    @staticmethod
    def _check_validity_period(claims: dict[str, Any]) -> None:
        now = clock.now()
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp <= now:
            raise errors.ExpiredTokenException(
                "Token expired: current date/time must be before the expiration date/time"
            )
        for claim in ("nbf", "iat"):
            value = claims.get(claim)
            if isinstance(value, int | float) and value > now + CLOCK_SKEW:
                raise errors.InvalidIdentityTokenException(
                    f"Token is not yet valid: its {claim} claim is in the future"
                )

    def _web_identity_session(
        self,
        ctx: RequestContext,
        req: dict[str, Any],
        claims: dict[str, Any],
        host: str,
        provider_arn: str,
    ) -> dict[str, Any]:
        audience = (federation.audiences(claims) or [""])[0]
        self._check_federated_trust(
            req["RoleArn"],
            "sts:AssumeRoleWithWebIdentity",
            provider_arn,
            {
                f"{host}:aud": [audience],
                f"{host}:sub": [str(claims.get("sub", ""))],
                "aws:federatedprovider": [provider_arn],
            },
        )
        out = self._assume(
            ctx,
            req,
            req["RoleSessionName"],
            {"federated": provider_arn, "claims": {"aud": audience, "sub": claims.get("sub", "")}},
        )
        out.update(
            {
                "SubjectFromWebIdentityToken": str(claims.get("sub", "")),
                "Provider": provider_arn if host not in federation.WELL_KNOWN_WEB_IDPS else host,
                "Audience": audience,
            }
        )
        return out

    def assume_role_with_saml(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        account, _ = _role_parts(req["RoleArn"])
        if self.iam.iam.item(account, "saml", req["PrincipalArn"]) is None:
            raise errors.InvalidIdentityTokenException(
                f"SAML provider {req['PrincipalArn']} does not exist."
            )
        try:
            assertion = federation.decode_saml(req["SAMLAssertion"])
        except federation.InvalidAssertion:
            raise errors.InvalidIdentityTokenException("Invalid SAML assertion.") from None
        self._check_federated_trust(
            req["RoleArn"],
            "sts:AssumeRoleWithSAML",
            req["PrincipalArn"],
            {
                "saml:aud": [assertion.audience],
                "saml:sub": [assertion.subject],
                "saml:iss": [assertion.issuer],
            },
        )
        if req.get("DurationSeconds") is None and assertion.duration:
            req = {**req, "DurationSeconds": assertion.duration}
        session = assertion.session_name or assertion.subject or "saml-session"
        out = self._assume(ctx, req, session, {"federated": req["PrincipalArn"]})
        out.update(
            {
                "Subject": assertion.subject,
                "SubjectType": assertion.subject_type,
                "Issuer": assertion.issuer,
                "Audience": assertion.audience or "https://signin.aws.amazon.com/saml",
                "NameQualifier": base64.b64encode(
                    f"{assertion.issuer}{account}{req['PrincipalArn'].rsplit('/', 1)[-1]}".encode()
                ).decode()[:28],
            }
        )
        return out

    def get_session_token(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        principal = ctx.principal
        if principal.kind not in ("user", "root") or principal.session_token is not None:
            raise errors.AccessDenied("Cannot call GetSessionToken with session credentials")
        duration = req.get("DurationSeconds", 43200)
        if principal.kind == "root":
            duration = min(duration, 3600)
        data = {
            "kind": principal.kind,
            "arn": principal.arn,
            "user_id": principal.user_id,
            "user_name": principal.arn.rsplit("/", 1)[-1] if principal.kind == "user" else None,
            "mfa": bool(req.get("SerialNumber") and req.get("TokenCode")),
        }
        return {"Credentials": self._issue(principal.account_id, duration, data)}

    def get_federation_token(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        principal = ctx.principal
        if principal.kind not in ("user", "root") or principal.session_token is not None:
            raise errors.AccessDenied("Cannot call GetFederationToken with session credentials")
        duration = req.get("DurationSeconds", 43200)
        docs, arns, packed = self._session_policies(req)
        name = req["Name"]
        user_arn = arn("sts", "", principal.account_id, f"federated-user/{name}", ctx.partition)
        data = {
            "kind": "federated-user",
            "arn": user_arn,
            "user_id": f"{principal.account_id}:{name}",
            "user_name": principal.arn.rsplit("/", 1)[-1] if principal.kind == "user" else None,
            "tags": {t["Key"]: t["Value"] for t in req.get("Tags", [])},
            "session_policies": docs,
            "policy_arns": arns,
        }
        out: dict[str, Any] = {
            "Credentials": self._issue(principal.account_id, duration, data),
            "FederatedUser": {"FederatedUserId": data["user_id"], "Arn": user_arn},
        }
        if docs or arns or req.get("Tags"):
            out["PackedPolicySize"] = packed
        return out

    async def start(self) -> None:
        self.env.scheduler.every("sts-expired-sessions", 3600, self._drop_expired)

    def _drop_expired(self) -> None:
        # Keep expired sessions a day so their keys still answer ExpiredToken, then forget them.
        self.iam.iam.drop_expired_sessions(clock.now() - 86400)
