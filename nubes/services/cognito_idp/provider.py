"""Amazon Cognito user pools: pools with their password policy, schema (standard and
``custom:`` attributes), username or alias attributes and deletion protection; app clients with
secrets (``SECRET_HASH`` checked), auth flows and token validity; groups; domains; users signing
up and confirming (the code is logged and served at ``/_aws/cognito-idp/codes``, as no mail
leaves nubes), created by an admin with a temporary password, changing and resetting passwords;
sign-in by USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_SRP_AUTH (SRP-6a) and refresh
tokens, the NEW_PASSWORD_REQUIRED challenge; RS256 ID and access tokens signed by a key per pool
whose JWKS nubes serves at ``/<poolId>/.well-known/jwks.json``; global sign-out revoking the
refresh tokens and the access tokens issued with them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import string
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.cognito_idp import srp, totp, triggers
from nubes.services.cognito_idp.errors import errors
from nubes.services.cognito_idp.tokens import PoolKey, new_key, unverified_claims
from nubes.services.cognito_idp.users import (
    DEFAULT_PASSWORD_POLICY,
    check_password,
    code,
    masked,
    matches,
    parse_filter,
    schema,
    temporary_password,
)
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]
log = logging.getLogger("nubes.cognito-idp")

MIGRATIONS = (
    """
    CREATE TABLE cognito_pools (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        key TEXT NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX cognito_pools_scope ON cognito_pools (account, region);
    CREATE TABLE cognito_clients (
        id TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX cognito_clients_pool ON cognito_clients (pool);
    CREATE TABLE cognito_users (
        pool TEXT NOT NULL,
        key TEXT NOT NULL,
        sub TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (pool, key)
    ) WITHOUT ROWID;
    CREATE TABLE cognito_groups (
        pool TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (pool, name)
    ) WITHOUT ROWID;
    CREATE TABLE cognito_members (
        pool TEXT NOT NULL,
        grp TEXT NOT NULL,
        user_key TEXT NOT NULL,
        PRIMARY KEY (pool, grp, user_key)
    ) WITHOUT ROWID;
    CREATE INDEX cognito_members_user ON cognito_members (pool, user_key);
    CREATE TABLE cognito_sessions (
        id TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        expires REAL NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE cognito_refresh (
        token TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        user_key TEXT NOT NULL,
        client TEXT NOT NULL,
        origin_jti TEXT NOT NULL,
        auth_time REAL NOT NULL,
        expires REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX cognito_refresh_user ON cognito_refresh (pool, user_key);
    CREATE INDEX cognito_refresh_origin ON cognito_refresh (origin_jti);
    CREATE TABLE cognito_domains (
        domain TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE cognito_resource_servers (
        pool TEXT NOT NULL,
        identifier TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (pool, identifier)
    ) WITHOUT ROWID;
    """,
)

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
UNITS = {"seconds": 1.0, "minutes": MINUTE, "hours": HOUR, "days": DAY}
CODE_TTL = DAY
FORGOT_TTL = HOUR
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
WRONG_PASSWORD = "Incorrect username or password."
NO_USER = "User does not exist."
DEFAULT_FLOWS = ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"]
LEGACY_FLOWS = {
    "ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY": "ALLOW_CUSTOM_AUTH",
}
_POOL_ID = re.compile(r"^([\w-]+)_[0-9a-zA-Z]+$")
_ALNUM = string.ascii_letters + string.digits
ISSUER = "https://cognito-idp.{region}.amazonaws.com/{pool}"
STANDARD_SCOPES = ("openid", "email", "phone", "profile", ADMIN_SCOPE)
PROTECTED_CLAIMS = frozenset(
    (
        "acr", "amr", "aud", "at_hash", "auth_time", "azp", "cognito:username", "exp", "iat",
        "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "sub", "token_use",
        "cognito:groups", "cognito:roles", "cognito:preferred_role", "event_id",
    )
)  # fmt: skip
"""Claims a PreTokenGeneration trigger may not add, change or suppress (AWS ignores them)."""


def _now() -> float:
    return clock.now()


def _attrs(items: list[Json] | None) -> dict[str, str]:
    return {a["Name"]: str(a.get("Value") or "") for a in items or []}


def _attr_list(values: dict[str, str]) -> list[Json]:
    return [{"Name": k, "Value": v} for k, v in values.items()]


def _page(items: list[Any], limit: int, token: str | None) -> tuple[list[Any], str | None]:
    try:
        start = int(decode_token(token)) if token else 0
    except (InvalidToken, TypeError, ValueError) as err:
        raise errors.InvalidParameterException("Invalid pagination token.") from err
    end = start + limit
    return items[start:end], encode_token(end) if end < len(items) else None


def _same(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text a client sends (compare_digest refuses
    non-ASCII str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class CognitoIdpProvider(ServiceProvider):
    service = "cognito-idp"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self._keys: dict[str, PoolKey] = {}

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # The pools' JWKS must answer verifiers from server start.
        return cls.has_rows(env, "SELECT 1 FROM cognito_pools LIMIT 1")

    async def start(self) -> None:
        from nubes.services.cognito_idp.endpoints import endpoints

        self.env.gateway.interceptors.append(endpoints(self))

    def reset(self) -> None:
        self._keys.clear()

    # -- pools -------------------------------------------------------------------------------

    def _pool_row(self, pool_id: str) -> Row | None:
        return self.store.query_one("SELECT * FROM cognito_pools WHERE id = ?", (pool_id,))

    def _pool(self, ctx: RequestContext, pool_id: str) -> Json:
        row = self._pool_row(pool_id)
        if row is None or (row["account"], row["region"]) != (ctx.account_id, ctx.region):
            raise errors.ResourceNotFoundException(f"User pool {pool_id} does not exist.")
        doc: Json = json.loads(row["doc"])
        return doc

    def _save_pool(self, account: str, region: str, doc: Json, key: str | None = None) -> None:
        if key is None:
            self.store.execute(
                "UPDATE cognito_pools SET doc = ? WHERE id = ?", (json.dumps(doc), doc["Id"])
            )
            return
        self.store.execute(
            "INSERT INTO cognito_pools (id, account, region, key, doc) VALUES (?, ?, ?, ?, ?)",
            (doc["Id"], account, region, key, json.dumps(doc)),
        )

    def key_of(self, pool_id: str) -> PoolKey | None:
        """The pool's signing key (None for no such pool)."""
        found = self._keys.get(pool_id)
        if found is None:
            row = self._pool_row(pool_id)
            if row is None:
                return None
            found = self._keys[pool_id] = PoolKey(row["key"])
        return found

    def _pool_settings(self, req: Json, base: Json) -> Json:
        """The settings CreateUserPool and UpdateUserPool share (an update resets what it
        leaves out to the default, as AWS's does)."""
        policy = {
            **DEFAULT_PASSWORD_POLICY,
            **((req.get("Policies") or {}).get("PasswordPolicy") or {}),
        }
        if not 6 <= int(policy["MinimumLength"]) <= 99:
            raise errors.InvalidParameterException(
                "Password policy minimum length must be between 6 and 99."
            )
        mfa = req.get("MfaConfiguration") or "OFF"
        doc = {
            **base,
            "Policies": {**(req.get("Policies") or {}), "PasswordPolicy": policy},
            "DeletionProtection": req.get("DeletionProtection") or "INACTIVE",
            "LambdaConfig": req.get("LambdaConfig") or {},
            "AutoVerifiedAttributes": list(req.get("AutoVerifiedAttributes") or []),
            "MfaConfiguration": mfa,
            "UserPoolTags": req.get("UserPoolTags") or base.get("UserPoolTags") or {},
            "AdminCreateUserConfig": {
                "AllowAdminCreateUserOnly": False,
                "UnusedAccountValidityDays": policy["TemporaryPasswordValidityDays"],
                **(req.get("AdminCreateUserConfig") or {}),
            },
            "LastModifiedDate": _now(),
        }
        for optional in (
            "VerificationMessageTemplate",
            "EmailVerificationMessage",
            "EmailVerificationSubject",
            "SmsVerificationMessage",
            "SmsAuthenticationMessage",
            "UserAttributeUpdateSettings",
            "DeviceConfiguration",
            "EmailConfiguration",
            "SmsConfiguration",
            "UserPoolAddOns",
            "AccountRecoverySetting",
            "UserPoolTier",
        ):
            if req.get(optional) is not None:
                doc[optional] = req[optional]
            else:
                doc.pop(optional, None)
        return doc

    def create_user_pool(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("AliasAttributes") and req.get("UsernameAttributes"):
            raise errors.InvalidParameterException(
                "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool."
            )
        pool_id = f"{ctx.region}_" + "".join(secrets.choice(_ALNUM) for _ in range(9))
        now = _now()
        base: Json = {
            "Id": pool_id,
            "Name": req["PoolName"],
            "Arn": arn("cognito-idp", ctx.region, ctx.account_id, f"userpool/{pool_id}"),
            "CreationDate": now,
            "SchemaAttributes": schema(req.get("Schema")),
            "UsernameConfiguration": req.get("UsernameConfiguration") or {"CaseSensitive": True},
        }
        if req.get("AliasAttributes"):
            base["AliasAttributes"] = list(req["AliasAttributes"])
        if req.get("UsernameAttributes"):
            base["UsernameAttributes"] = list(req["UsernameAttributes"])
        doc = self._pool_settings(req, base)
        self._save_pool(ctx.account_id, ctx.region, doc, new_key())
        return {"UserPool": self._pool_out(doc)}

    def _pool_out(self, doc: Json) -> Json:
        count = self.store.query_one(
            "SELECT COUNT(*) AS n FROM cognito_users WHERE pool = ?", (doc["Id"],)
        )
        out = {k: v for k, v in doc.items() if not k.startswith("_")}
        out["EstimatedNumberOfUsers"] = count["n"] if count else 0
        return out

    def describe_user_pool(self, ctx: RequestContext, req: Json) -> Json:
        return {"UserPool": self._pool_out(self._pool(ctx, req["UserPoolId"]))}

    def update_user_pool(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._pool(ctx, req["UserPoolId"])
        if req.get("PoolName"):
            doc["Name"] = req["PoolName"]
        self._save_pool(ctx.account_id, ctx.region, self._pool_settings(req, doc))
        return {}

    def delete_user_pool(self, ctx: RequestContext, req: Json) -> Json:
        pool_id = req["UserPoolId"]
        doc = self._pool(ctx, pool_id)
        if doc.get("DeletionProtection") == "ACTIVE":
            raise errors.InvalidParameterException(
                "The user pool cannot be deleted because deletion protection is activated. "
                "Deletion protection must be inactivated first."
            )
        for table in (
            "cognito_clients",
            "cognito_users",
            "cognito_groups",
            "cognito_members",
            "cognito_resource_servers",
        ):
            self.store.execute(f"DELETE FROM {table} WHERE pool = ?", (pool_id,))
        for table in ("cognito_sessions", "cognito_refresh", "cognito_domains"):
            self.store.execute(f"DELETE FROM {table} WHERE pool = ?", (pool_id,))
        self.store.execute("DELETE FROM cognito_pools WHERE id = ?", (pool_id,))
        self._keys.pop(pool_id, None)
        return {}

    def list_user_pools(self, ctx: RequestContext, req: Json) -> Json:
        rows = self.store.query(
            "SELECT doc FROM cognito_pools WHERE account = ? AND region = ? ORDER BY id",
            (ctx.account_id, ctx.region),
        )
        page, token = _page(rows, req["MaxResults"], req.get("NextToken"))
        pools = []
        for row in page:
            doc = json.loads(row["doc"])
            pools.append(
                {
                    k: doc[k]
                    for k in ("Id", "Name", "LambdaConfig", "LastModifiedDate", "CreationDate")
                }
            )
        return {"UserPools": pools, **({"NextToken": token} if token else {})}

    # -- clients -----------------------------------------------------------------------------

    def _client(self, client_id: str, pool_id: str | None = None) -> Json:
        row = self.store.query_one("SELECT doc FROM cognito_clients WHERE id = ?", (client_id,))
        doc: Json | None = json.loads(row["doc"]) if row else None
        if doc is None or (pool_id is not None and doc["UserPoolId"] != pool_id):
            raise errors.ResourceNotFoundException(f"User pool client {client_id} does not exist.")
        return doc

    def _client_settings(self, req: Json, base: Json) -> Json:
        flows = list(req.get("ExplicitAuthFlows") or [])
        if (
            flows
            and any(f in LEGACY_FLOWS for f in flows)
            and any(f.startswith("ALLOW_") for f in flows)
        ):
            raise errors.InvalidParameterException(
                "ExplicitAuthFlow combination not supported: legacy and new auth flows are mixed."
            )
        units = req.get("TokenValidityUnits") or {}
        doc = {
            **base,
            "ClientName": req.get("ClientName") or base.get("ClientName"),
            "LastModifiedDate": _now(),
            "RefreshTokenValidity": req.get("RefreshTokenValidity") or 30,
            "ExplicitAuthFlows": flows or DEFAULT_FLOWS,
            "AllowedOAuthFlowsUserPoolClient": bool(req.get("AllowedOAuthFlowsUserPoolClient")),
            "EnableTokenRevocation": req.get("EnableTokenRevocation", True),
            "EnablePropagateAdditionalUserContextData": False,
            "AuthSessionValidity": req.get("AuthSessionValidity") or 3,
            "PreventUserExistenceErrors": req.get("PreventUserExistenceErrors") or "LEGACY",
        }
        for optional in (
            "AccessTokenValidity",
            "IdTokenValidity",
            "ReadAttributes",
            "WriteAttributes",
            "SupportedIdentityProviders",
            "CallbackURLs",
            "LogoutURLs",
            "DefaultRedirectURI",
            "AllowedOAuthFlows",
            "AllowedOAuthScopes",
            "AnalyticsConfiguration",
        ):
            if req.get(optional) is not None:
                doc[optional] = req[optional]
            else:
                doc.pop(optional, None)
        if units:
            doc["TokenValidityUnits"] = units
        else:
            doc.pop("TokenValidityUnits", None)
        self._validity(doc)  # refuse out-of-range validities now, not at sign-in
        self._check_oauth(doc)
        return doc

    def _check_oauth(self, client: Json) -> None:
        flows = client.get("AllowedOAuthFlows") or []
        if "client_credentials" in flows:
            if not client.get("ClientSecret"):
                raise errors.InvalidOAuthFlowException(
                    "client_credentials flow can not be selected if client does not have a "
                    "client secret."
                )
            if len(flows) > 1:
                raise errors.InvalidOAuthFlowException(
                    "client_credentials flow can not be selected with other flows."
                )
        known = set(STANDARD_SCOPES)
        for row in self.store.query(
            "SELECT doc FROM cognito_resource_servers WHERE pool = ?", (client["UserPoolId"],)
        ):
            server = json.loads(row["doc"])
            known.update(f"{server['Identifier']}/{s['ScopeName']}" for s in server["Scopes"])
        for scope in client.get("AllowedOAuthScopes") or []:
            if scope not in known:
                raise errors.ScopeDoesNotExistException(f"Invalid scope requested: {scope}")

    @staticmethod
    def _validity(client: Json) -> tuple[float, float, float]:
        """(access, id, refresh) token lifetimes in seconds."""
        units = client.get("TokenValidityUnits") or {}
        access_s = (
            client["AccessTokenValidity"] * UNITS[units.get("AccessToken", "hours")]
            if "AccessTokenValidity" in client
            else HOUR
        )
        id_s = (
            client["IdTokenValidity"] * UNITS[units.get("IdToken", "hours")]
            if "IdTokenValidity" in client
            else HOUR
        )
        refresh_s = client["RefreshTokenValidity"] * UNITS[units.get("RefreshToken", "days")]
        for seconds, low, high, name in (
            (access_s, 5 * MINUTE, DAY, "Access Token"),
            (id_s, 5 * MINUTE, DAY, "ID Token"),
            (refresh_s, HOUR, 3650 * DAY, "Refresh Token"),
        ):
            if not low <= seconds <= high:
                raise errors.InvalidParameterException(
                    f"{name} validity must be between {int(low)} seconds and {int(high)} seconds."
                )
        return access_s, id_s, refresh_s

    def create_user_pool_client(self, ctx: RequestContext, req: Json) -> Json:
        pool_id = req["UserPoolId"]
        self._pool(ctx, pool_id)
        client_id = "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(26)
        )
        now = _now()
        base: Json = {"UserPoolId": pool_id, "ClientId": client_id, "CreationDate": now}
        if req.get("GenerateSecret"):
            base["ClientSecret"] = "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(51)
            )
        doc = self._client_settings(req, base)
        self.store.execute(
            "INSERT INTO cognito_clients (id, pool, doc) VALUES (?, ?, ?)",
            (client_id, pool_id, json.dumps(doc)),
        )
        return {"UserPoolClient": doc}

    def describe_user_pool_client(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        return {"UserPoolClient": self._client(req["ClientId"], req["UserPoolId"])}

    def update_user_pool_client(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        doc = self._client_settings(req, self._client(req["ClientId"], req["UserPoolId"]))
        self.store.execute(
            "UPDATE cognito_clients SET doc = ? WHERE id = ?", (json.dumps(doc), doc["ClientId"])
        )
        return {"UserPoolClient": doc}

    def delete_user_pool_client(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        self._client(req["ClientId"], req["UserPoolId"])
        self.store.execute("DELETE FROM cognito_clients WHERE id = ?", (req["ClientId"],))
        self.store.execute("DELETE FROM cognito_refresh WHERE client = ?", (req["ClientId"],))
        return {}

    def list_user_pool_clients(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        rows = self.store.query(
            "SELECT doc FROM cognito_clients WHERE pool = ? ORDER BY id", (req["UserPoolId"],)
        )
        page, token = _page(rows, req.get("MaxResults") or 60, req.get("NextToken"))
        clients = []
        for row in page:
            doc = json.loads(row["doc"])
            clients.append({k: doc[k] for k in ("ClientId", "UserPoolId", "ClientName")})
        return {"UserPoolClients": clients, **({"NextToken": token} if token else {})}

    # -- domains -----------------------------------------------------------------------------

    def create_user_pool_domain(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        domain = req["Domain"]
        if self.store.query_one("SELECT 1 FROM cognito_domains WHERE domain = ?", (domain,)):
            raise errors.InvalidParameterException("Domain already exists.")
        if pool.get("Domain"):
            raise errors.InvalidParameterException("User pool already has a domain configured.")
        custom = req.get("CustomDomainConfig")
        desc = {
            "UserPoolId": pool["Id"],
            "AWSAccountId": ctx.account_id,
            "Domain": domain,
            "S3Bucket": "aws-cognito-prod-" + ctx.region + "-assets",
            "CloudFrontDistribution": f"{secrets.token_hex(7)}.cloudfront.net",
            "Version": str(uuid.uuid4()),
            "Status": "ACTIVE",
            **({"CustomDomainConfig": custom} if custom else {}),
            "ManagedLoginVersion": req.get("ManagedLoginVersion") or 1,
        }
        self.store.execute(
            "INSERT INTO cognito_domains (domain, pool, doc) VALUES (?, ?, ?)",
            (domain, pool["Id"], json.dumps(desc)),
        )
        pool["CustomDomain" if custom else "Domain"] = domain
        self._save_pool(ctx.account_id, ctx.region, pool)
        out: Json = {"ManagedLoginVersion": desc["ManagedLoginVersion"]}
        if custom:
            out["CloudFrontDomain"] = desc["CloudFrontDistribution"]
        return out

    def describe_user_pool_domain(self, ctx: RequestContext, req: Json) -> Json:
        row = self.store.query_one(
            "SELECT doc FROM cognito_domains WHERE domain = ?", (req["Domain"],)
        )
        if row is None or json.loads(row["doc"])["AWSAccountId"] != ctx.account_id:
            return {"DomainDescription": {}}
        return {"DomainDescription": json.loads(row["doc"])}

    def delete_user_pool_domain(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        row = self.store.query_one(
            "SELECT pool FROM cognito_domains WHERE domain = ?", (req["Domain"],)
        )
        if row is None or row["pool"] != pool["Id"]:
            raise errors.InvalidParameterException("No such domain or user pool exists.")
        self.store.execute("DELETE FROM cognito_domains WHERE domain = ?", (req["Domain"],))
        for field in ("Domain", "CustomDomain"):
            if pool.get(field) == req["Domain"]:
                del pool[field]
        self._save_pool(ctx.account_id, ctx.region, pool)
        return {}

    # -- resource servers and the OAuth token endpoint ---------------------------------------

    def _resource_server(self, pool_id: str, identifier: str) -> Json:
        row = self.store.query_one(
            "SELECT doc FROM cognito_resource_servers WHERE pool = ? AND identifier = ?",
            (pool_id, identifier),
        )
        if row is None:
            raise errors.ResourceNotFoundException(f"Resource server {identifier} does not exist.")
        doc: Json = json.loads(row["doc"])
        return doc

    def _save_resource_server(self, req: Json) -> Json:
        doc = {
            "UserPoolId": req["UserPoolId"],
            "Identifier": req["Identifier"],
            "Name": req["Name"],
            "Scopes": list(req.get("Scopes") or []),
        }
        self.store.execute(
            "INSERT INTO cognito_resource_servers (pool, identifier, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (pool, identifier) DO UPDATE SET doc = excluded.doc",
            (doc["UserPoolId"], doc["Identifier"], json.dumps(doc)),
        )
        return doc

    def create_resource_server(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        if self.store.query_one(
            "SELECT 1 FROM cognito_resource_servers WHERE pool = ? AND identifier = ?",
            (req["UserPoolId"], req["Identifier"]),
        ):
            raise errors.InvalidParameterException(
                f"{req['Identifier']} already exists in user pool {req['UserPoolId']}."
            )
        return {"ResourceServer": self._save_resource_server(req)}

    def describe_resource_server(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        return {"ResourceServer": self._resource_server(req["UserPoolId"], req["Identifier"])}

    def update_resource_server(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        self._resource_server(req["UserPoolId"], req["Identifier"])
        return {"ResourceServer": self._save_resource_server(req)}

    def delete_resource_server(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        self._resource_server(req["UserPoolId"], req["Identifier"])
        self.store.execute(
            "DELETE FROM cognito_resource_servers WHERE pool = ? AND identifier = ?",
            (req["UserPoolId"], req["Identifier"]),
        )
        return {}

    def list_resource_servers(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        rows = self.store.query(
            "SELECT doc FROM cognito_resource_servers WHERE pool = ? ORDER BY identifier",
            (req["UserPoolId"],),
        )
        page, token = _page(rows, req["MaxResults"], req.get("NextToken"))
        out: Json = {"ResourceServers": [json.loads(r["doc"]) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def pool_of_domain(self, domain: str) -> str | None:
        row = self.store.query_one("SELECT pool FROM cognito_domains WHERE domain = ?", (domain,))
        return str(row["pool"]) if row else None

    def oauth_token(
        self, pool_id: str, form: dict[str, str], client_id: str, secret: str
    ) -> tuple[int, Json]:
        """The token endpoint's answer (status, body) for the client_credentials and
        refresh_token grants."""
        row = self._pool_row(pool_id)
        found = self.store.query_one("SELECT doc FROM cognito_clients WHERE id = ?", (client_id,))
        client = json.loads(found["doc"]) if found else None
        if row is None or client is None or client["UserPoolId"] != pool_id:
            return 400, {"error": "invalid_client"}
        own = client.get("ClientSecret")
        if own and not _same(own, secret):
            return 400, {"error": "invalid_client"}
        pool: Json = json.loads(row["doc"])
        grant = form.get("grant_type")
        if grant == "refresh_token":
            try:
                result = self._refresh(
                    pool, client, {"REFRESH_TOKEN": form.get("refresh_token", "")}, checked=True
                )["AuthenticationResult"]
            except ServiceError:
                return 400, {"error": "invalid_grant"}
            return 200, {
                "id_token": result["IdToken"],
                "access_token": result["AccessToken"],
                "expires_in": result["ExpiresIn"],
                "token_type": "Bearer",
            }
        if grant != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if "client_credentials" not in (client.get("AllowedOAuthFlows") or []) or not own:
            return 400, {"error": "unauthorized_client"}
        allowed = list(client.get("AllowedOAuthScopes") or [])
        asked = form.get("scope", "").split() or allowed
        if any(s not in allowed for s in asked):
            return 400, {"error": "invalid_scope"}
        access_s = self._validity(client)[0]
        now = int(_now())
        key = self.key_of(pool_id)
        assert key is not None
        claims = {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(asked),
            "auth_time": now,
            "iss": ISSUER.format(region=pool_id.split("_", 1)[0], pool=pool_id),
            "exp": now + int(access_s),
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        return 200, {
            "access_token": key.sign(claims),
            "expires_in": int(access_s),
            "token_type": "Bearer",
        }

    # -- groups ------------------------------------------------------------------------------

    def _group(self, pool_id: str, name: str) -> Json:
        row = self.store.query_one(
            "SELECT doc FROM cognito_groups WHERE pool = ? AND name = ?", (pool_id, name)
        )
        if row is None:
            raise errors.ResourceNotFoundException("Group not found.")
        doc: Json = json.loads(row["doc"])
        return doc

    def _save_group(self, doc: Json) -> None:
        self.store.execute(
            "INSERT INTO cognito_groups (pool, name, doc) VALUES (?, ?, ?) ON CONFLICT "
            "(pool, name) DO UPDATE SET doc = excluded.doc",
            (doc["UserPoolId"], doc["GroupName"], json.dumps(doc)),
        )

    def create_group(self, ctx: RequestContext, req: Json) -> Json:
        pool_id = req["UserPoolId"]
        self._pool(ctx, pool_id)
        name = req["GroupName"]
        if self.store.query_one(
            "SELECT 1 FROM cognito_groups WHERE pool = ? AND name = ?", (pool_id, name)
        ):
            raise errors.GroupExistsException(f"A group with the name {name} already exists.")
        now = _now()
        doc = {
            "GroupName": name,
            "UserPoolId": pool_id,
            "LastModifiedDate": now,
            "CreationDate": now,
        }
        for optional in ("Description", "RoleArn", "Precedence"):
            if req.get(optional) is not None:
                doc[optional] = req[optional]
        self._save_group(doc)
        return {"Group": doc}

    def get_group(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        return {"Group": self._group(req["UserPoolId"], req["GroupName"])}

    def update_group(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        doc = self._group(req["UserPoolId"], req["GroupName"])
        for optional in ("Description", "RoleArn", "Precedence"):
            if req.get(optional) is not None:
                doc[optional] = req[optional]
        doc["LastModifiedDate"] = _now()
        self._save_group(doc)
        return {"Group": doc}

    def delete_group(self, ctx: RequestContext, req: Json) -> Json:
        pool_id, name = req["UserPoolId"], req["GroupName"]
        self._pool(ctx, pool_id)
        self._group(pool_id, name)
        self.store.execute(
            "DELETE FROM cognito_groups WHERE pool = ? AND name = ?", (pool_id, name)
        )
        self.store.execute(
            "DELETE FROM cognito_members WHERE pool = ? AND grp = ?", (pool_id, name)
        )
        return {}

    def list_groups(self, ctx: RequestContext, req: Json) -> Json:
        self._pool(ctx, req["UserPoolId"])
        rows = self.store.query(
            "SELECT doc FROM cognito_groups WHERE pool = ? ORDER BY name", (req["UserPoolId"],)
        )
        page, token = _page(rows, req.get("Limit") or 60, req.get("NextToken"))
        out: Json = {"Groups": [json.loads(r["doc"]) for r in page]}
        if token:
            out["NextToken"] = token
        return out

    def admin_add_user_to_group(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        self._group(pool["Id"], req["GroupName"])
        self.store.execute(
            "INSERT OR IGNORE INTO cognito_members (pool, grp, user_key) VALUES (?, ?, ?)",
            (pool["Id"], req["GroupName"], user["_Key"]),
        )
        return {}

    def admin_remove_user_from_group(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        self._group(pool["Id"], req["GroupName"])
        self.store.execute(
            "DELETE FROM cognito_members WHERE pool = ? AND grp = ? AND user_key = ?",
            (pool["Id"], req["GroupName"], user["_Key"]),
        )
        return {}

    def _groups_of(self, pool_id: str, user_key: str) -> list[Json]:
        rows = self.store.query(
            "SELECT g.doc FROM cognito_members m JOIN cognito_groups g ON g.pool = m.pool AND "
            "g.name = m.grp WHERE m.pool = ? AND m.user_key = ? ORDER BY g.name",
            (pool_id, user_key),
        )
        return [json.loads(r["doc"]) for r in rows]

    def admin_list_groups_for_user(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        page, token = _page(
            self._groups_of(pool["Id"], user["_Key"]), req.get("Limit") or 60, req.get("NextToken")
        )
        return {"Groups": page, **({"NextToken": token} if token else {})}

    def list_users_in_group(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        self._group(pool["Id"], req["GroupName"])
        rows = self.store.query(
            "SELECT u.doc FROM cognito_members m JOIN cognito_users u ON u.pool = m.pool AND "
            "u.key = m.user_key WHERE m.pool = ? AND m.grp = ? ORDER BY u.key",
            (pool["Id"], req["GroupName"]),
        )
        page, token = _page(rows, req.get("Limit") or 60, req.get("NextToken"))
        users = [self._user_type(json.loads(r["doc"])) for r in page]
        return {"Users": users, **({"NextToken": token} if token else {})}

    # -- users: records ----------------------------------------------------------------------

    @staticmethod
    def _key(pool: Json, username: str) -> str:
        sensitive = (pool.get("UsernameConfiguration") or {}).get("CaseSensitive", True)
        return username if sensitive else username.lower()

    def _find_user(self, pool: Json, login: str) -> Json | None:
        """The user a sign-in name means: the username, else (for pools that have them) an
        email or phone number used as username or a verified alias."""
        row = self.store.query_one(
            "SELECT doc FROM cognito_users WHERE pool = ? AND key = ?",
            (pool["Id"], self._key(pool, login)),
        )
        if row is not None:
            found: Json = json.loads(row["doc"])
            return found
        names = list(pool.get("UsernameAttributes") or []) + list(pool.get("AliasAttributes") or [])
        for attribute in names:
            if attribute not in ("email", "phone_number", "preferred_username"):
                continue
            for row in self.store.query(
                "SELECT doc FROM cognito_users WHERE pool = ? AND "
                "json_extract(doc, '$.Attributes.\"' || ? || '\"') = ?",
                (pool["Id"], attribute, login),
            ):
                doc: Json = json.loads(row["doc"])
                via_alias = attribute in (pool.get("AliasAttributes") or [])
                verified = doc["Attributes"].get(f"{attribute}_verified") == "true"
                if via_alias and attribute != "preferred_username" and not verified:
                    continue
                return doc
        return None

    def _admin_user(self, pool: Json, username: str) -> Json:
        user = self._find_user(pool, username)
        if user is None:
            raise errors.UserNotFoundException(NO_USER)
        return user

    def _save_user(self, pool: Json, user: Json) -> None:
        user["UserLastModifiedDate"] = _now()
        self.store.execute(
            "INSERT INTO cognito_users (pool, key, sub, doc) VALUES (?, ?, ?, ?) ON CONFLICT "
            "(pool, key) DO UPDATE SET doc = excluded.doc",
            (pool["Id"], user["_Key"], user["Attributes"]["sub"], json.dumps(user)),
        )

    def _delete_user(self, pool: Json, user: Json) -> None:
        scope = (pool["Id"], user["_Key"])
        self.store.execute("DELETE FROM cognito_users WHERE pool = ? AND key = ?", scope)
        self.store.execute("DELETE FROM cognito_members WHERE pool = ? AND user_key = ?", scope)
        self.store.execute("DELETE FROM cognito_refresh WHERE pool = ? AND user_key = ?", scope)

    @staticmethod
    def _user_type(user: Json) -> Json:
        return {
            "Username": user["Username"],
            "Attributes": _attr_list(user["Attributes"]),
            "UserCreateDate": user["UserCreateDate"],
            "UserLastModifiedDate": user["UserLastModifiedDate"],
            "Enabled": user["Enabled"],
            "UserStatus": user["UserStatus"],
        }

    def _check_attributes(
        self, pool: Json, given: dict[str, str], *, creating: bool, client: Json | None = None
    ) -> None:
        known = {a["Name"]: a for a in pool["SchemaAttributes"]}
        for name in given:
            entry = known.get(name)
            if entry is None:
                raise errors.InvalidParameterException(
                    f"Attributes did not conform to the schema: Type for attribute {{{name}}} "
                    "could not be determined"
                )
            if name == "sub" or (not creating and not entry.get("Mutable", True)):
                raise errors.InvalidParameterException(
                    f"Cannot modify the non-mutable attribute {name}"
                )
            writable = (client or {}).get("WriteAttributes")
            if client is not None and writable is not None and name not in writable:
                raise errors.NotAuthorizedException(
                    "A client attempted to write unauthorized attribute"
                )
        if creating:
            missing = [
                a["Name"]
                for a in pool["SchemaAttributes"]
                if a.get("Required") and a["Name"] != "sub" and not given.get(a["Name"])
            ]
            if missing:
                raise errors.InvalidParameterException(
                    "Attributes did not conform to the schema: "
                    + ", ".join(f"{name}: The attribute {name} is required" for name in missing)
                )

    def _new_user(
        self, pool: Json, username: str, attributes: dict[str, str], password: str, status: str
    ) -> Json:
        username_attrs = pool.get("UsernameAttributes") or []
        attributes = dict(attributes)
        if username_attrs:
            kind = "email" if "@" in username else "phone_number"
            if kind not in username_attrs:
                raise errors.InvalidParameterException(
                    "Username should be an email."
                    if username_attrs == ["email"]
                    else "Username should be either an email or a phone number."
                )
            attributes.setdefault(kind, username)
            other = self._find_user(pool, username)
            if other is not None:
                label = "email" if kind == "email" else "phone_number"
                raise errors.UsernameExistsException(
                    f"An account with the given {label} already exists."
                )
        sub = str(uuid.uuid4())
        internal = sub if username_attrs else username
        if self.store.query_one(
            "SELECT 1 FROM cognito_users WHERE pool = ? AND key = ?",
            (pool["Id"], self._key(pool, internal)),
        ):
            return {}
        now = _now()
        user: Json = {
            "Username": internal,
            "_Key": self._key(pool, internal),
            "Attributes": {"sub": sub, **attributes},
            "UserCreateDate": now,
            "UserLastModifiedDate": now,
            "Enabled": True,
            "UserStatus": status,
        }
        self._set_password(pool, user, password)
        return user

    def _set_password(self, pool: Json, user: Json, password: str) -> None:
        salt, verifier = srp.verifier(pool["Id"].split("_", 1)[1], user["Username"], password)
        user["_Salt"], user["_Verifier"] = salt, verifier

    @staticmethod
    def _password_ok(pool: Json, user: Json, password: str) -> bool:
        x = srp.private_x(pool["Id"].split("_", 1)[1], user["Username"], password, user["_Salt"])
        return _same(format(pow(srp.G, x, srp.N), "x"), user["_Verifier"])

    def _send_code(self, pool: Json, user: Json, purpose: str, ttl: float) -> Json | None:
        """Make a code, log it (no mail leaves nubes) and answer where AWS would have sent it."""
        made = code()
        user.setdefault("_Codes", {})[purpose] = {"Code": made, "Expires": _now() + ttl}
        log.info(
            "cognito-idp: %s code for user %s in pool %s: %s",
            purpose,
            user["Username"],
            pool["Id"],
            made,
        )
        auto = pool.get("AutoVerifiedAttributes") or []
        for attribute, medium in (("email", "EMAIL"), ("phone_number", "SMS")):
            value = user["Attributes"].get(attribute)
            if value and (attribute in auto or purpose == "forgot_password"):
                return {
                    "Destination": masked(attribute, value),
                    "DeliveryMedium": medium,
                    "AttributeName": attribute,
                }
        return None

    def codes(self, pool_id: str, username: str) -> Json | None:
        """The codes waiting for a user (the developer endpoint's answer)."""
        row = self._pool_row(pool_id)
        if row is None:
            return None
        user = self._find_user(json.loads(row["doc"]), username)
        if user is None:
            return None
        return {
            "username": user["Username"],
            "codes": {k: v["Code"] for k, v in (user.get("_Codes") or {}).items()},
        }

    @staticmethod
    def _use_code(user: Json, purpose: str, given: str) -> None:
        found = (user.get("_Codes") or {}).get(purpose)
        if found is None or not _same(found["Code"], given):
            raise errors.CodeMismatchException(
                "Invalid verification code provided, please try again."
            )
        if found["Expires"] <= _now():
            raise errors.ExpiredCodeException("Invalid code provided, please request a code again.")
        del user["_Codes"][purpose]

    # -- users: admin ------------------------------------------------------------------------

    def admin_create_user(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        attributes = _attrs(req.get("UserAttributes"))
        self._check_attributes(pool, attributes, creating=True)
        policy = pool["Policies"]["PasswordPolicy"]
        action = req.get("MessageAction")
        existing = self._find_user(pool, req["Username"])
        if action == "RESEND":
            if existing is None:
                raise errors.UserNotFoundException(NO_USER)
            if existing["UserStatus"] != "FORCE_CHANGE_PASSWORD":
                raise errors.UnsupportedUserStateException(
                    f"Resend not possible. {existing['Username']} status is not "
                    "FORCE_CHANGE_PASSWORD"
                )
            user = existing
        else:
            if existing is not None:
                raise errors.UsernameExistsException("User account already exists")
            user = {}
        password = req.get("TemporaryPassword")
        if password:
            check_password(policy, password)
        else:
            password = temporary_password(policy)
        if not user:
            user = self._new_user(
                pool, req["Username"], attributes, password, "FORCE_CHANGE_PASSWORD"
            )
            if not user:
                raise errors.UsernameExistsException("User account already exists")
        else:
            self._set_password(pool, user, password)
        days = int(policy.get("TemporaryPasswordValidityDays", 7))
        user["_TemporaryUntil"] = _now() + days * DAY
        if action != "SUPPRESS":
            log.info(
                "cognito-idp: temporary password for user %s in pool %s: %s",
                user["Username"],
                pool["Id"],
                password,
            )
        self._save_user(pool, user)
        return {"User": self._user_type(user)}

    def admin_get_user(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        out = self._user_type(user)
        out["UserAttributes"] = out.pop("Attributes")
        return {**out, **self._mfa_user_out(user)}

    def admin_delete_user(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        self._delete_user(pool, self._admin_user(pool, req["Username"]))
        return {}

    def admin_disable_user(self, ctx: RequestContext, req: Json) -> Json:
        return self._enable(ctx, req, False)

    def admin_enable_user(self, ctx: RequestContext, req: Json) -> Json:
        return self._enable(ctx, req, True)

    def _enable(self, ctx: RequestContext, req: Json, enabled: bool) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        user["Enabled"] = enabled
        self._save_user(pool, user)
        return {}

    async def admin_confirm_sign_up(self, ctx: RequestContext, req: Json) -> Json:
        with self.store.transaction():
            pool = self._pool(ctx, req["UserPoolId"])
            user = self._admin_user(pool, req["Username"])
            if user["UserStatus"] != "UNCONFIRMED":
                raise errors.NotAuthorizedException(
                    f"User cannot be confirmed. Current status is {user['UserStatus']}"
                )
            user["UserStatus"] = "CONFIRMED"
            self._save_user(pool, user)
        await self._confirmed(pool, None, user, "PostConfirmation_ConfirmSignUp")
        return {}

    def admin_set_user_password(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        check_password(pool["Policies"]["PasswordPolicy"], req["Password"])
        self._set_password(pool, user, req["Password"])
        if req.get("Permanent"):
            user["UserStatus"] = "CONFIRMED"
            user.pop("_TemporaryUntil", None)
        else:
            user["UserStatus"] = "FORCE_CHANGE_PASSWORD"
            days = int(pool["Policies"]["PasswordPolicy"].get("TemporaryPasswordValidityDays", 7))
            user["_TemporaryUntil"] = _now() + days * DAY
        self._save_user(pool, user)
        return {}

    def admin_update_user_attributes(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        self._update_attributes(pool, user, _attrs(req["UserAttributes"]), None)
        return {}

    def admin_delete_user_attributes(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        self._delete_attributes(pool, user, req["UserAttributeNames"])
        return {}

    def _update_attributes(
        self, pool: Json, user: Json, given: dict[str, str], client: Json | None
    ) -> list[Json]:
        self._check_attributes(pool, given, creating=False, client=client)
        sent = []
        for attribute in ("email", "phone_number"):
            changed = attribute in given and given[attribute] != user["Attributes"].get(attribute)
            if changed and f"{attribute}_verified" not in given:
                given[f"{attribute}_verified"] = "false"
        user["Attributes"].update(given)
        for attribute in ("email", "phone_number"):
            auto = attribute in (pool.get("AutoVerifiedAttributes") or [])
            if auto and given.get(f"{attribute}_verified") == "false" and client is not None:
                details = self._send_code(pool, user, f"verify_{attribute}", CODE_TTL)
                if details:
                    sent.append(details)
        self._save_user(pool, user)
        return sent

    def _delete_attributes(self, pool: Json, user: Json, names: list[str]) -> None:
        required = {a["Name"] for a in pool["SchemaAttributes"] if a.get("Required")}
        for name in names:
            if name in required or name == "sub":
                raise errors.InvalidParameterException(
                    f"Cannot delete the required attribute {name}"
                )
            user["Attributes"].pop(name, None)
        self._save_user(pool, user)

    def admin_user_global_sign_out(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        self.store.execute(
            "DELETE FROM cognito_refresh WHERE pool = ? AND user_key = ?",
            (pool["Id"], user["_Key"]),
        )
        return {}

    def admin_reset_user_password(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        user["UserStatus"] = "RESET_REQUIRED"
        self._send_code(pool, user, "forgot_password", FORGOT_TTL)
        self._save_user(pool, user)
        return {}

    def list_users(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        wanted = parse_filter(req.get("Filter") or "")
        rows = self.store.query(
            "SELECT doc FROM cognito_users WHERE pool = ? ORDER BY key", (pool["Id"],)
        )
        found = []
        for row in rows:
            user = json.loads(row["doc"])
            values = {
                **user["Attributes"],
                "username": user["Username"],
                "status": user["UserStatus"],
                "enabled": "Enabled" if user["Enabled"] else "Disabled",
            }
            if matches(wanted, values):
                found.append(user)
        page, token = _page(found, req.get("Limit") or 60, req.get("PaginationToken"))
        shown = req.get("AttributesToGet")
        users = []
        for user in page:
            out = self._user_type(user)
            if shown is not None:
                out["Attributes"] = [a for a in out["Attributes"] if a["Name"] in shown]
            users.append(out)
        return {"Users": users, **({"PaginationToken": token} if token else {})}

    # -- users: self-service -----------------------------------------------------------------

    def _app_client(
        self, client_id: str, username: str | None, given_hash: str | None
    ) -> tuple[Json, Json]:
        """The client a public call names, its pool, and the check of its SECRET_HASH."""
        client = self._client(client_id)
        row = self._pool_row(client["UserPoolId"])
        if row is None:
            raise errors.ResourceNotFoundException(f"User pool client {client_id} does not exist.")
        secret = client.get("ClientSecret")
        if secret and username is not None:
            want = secret_hash(secret, username, client_id)
            if not given_hash or not _same(want, given_hash):
                raise errors.NotAuthorizedException(
                    f"Client {client_id} is configured with secret but SECRET_HASH was not received"
                    if not given_hash
                    else f"Unable to verify secret hash for client {client_id}"
                )
        pool: Json = json.loads(row["doc"])
        return client, pool

    def _public_user(self, pool: Json, client: Json, login: str) -> Json:
        user = self._find_user(pool, login)
        if user is None:
            if client.get("PreventUserExistenceErrors") == "ENABLED":
                raise errors.NotAuthorizedException(WRONG_PASSWORD)
            raise errors.UserNotFoundException(NO_USER)
        return user

    async def sign_up(self, ctx: RequestContext, req: Json) -> Json:
        with self.store.transaction():
            client, pool = self._app_client(req["ClientId"], req["Username"], req.get("SecretHash"))
            attributes = self._sign_up_checks(pool, client, req)
        answer: Json = {}
        if self._has_trigger(pool, "PreSignUp"):
            request = {
                "userAttributes": attributes,
                "validationData": _attrs(req.get("ValidationData")) or None,
                "clientMetadata": req.get("ClientMetadata") or {},
            }
            someone = {"Username": req["Username"]}
            answer = await self._trigger(
                pool,
                "PreSignUp",
                triggers.event(pool, client["ClientId"], someone, "PreSignUp_SignUp", request),
            )
        decided = answer.get("response") or {}
        with self.store.transaction():
            self._sign_up_checks(pool, client, req)
            user = self._new_user(pool, req["Username"], attributes, req["Password"], "UNCONFIRMED")
            if not user:
                raise errors.UsernameExistsException("User already exists")
            for attribute, flag in (
                ("email", "autoVerifyEmail"),
                ("phone_number", "autoVerifyPhone"),
            ):
                if decided.get(flag) and user["Attributes"].get(attribute):
                    user["Attributes"][f"{attribute}_verified"] = "true"
            details = None
            if decided.get("autoConfirmUser"):
                user["UserStatus"] = "CONFIRMED"
            else:
                details = self._send_code(pool, user, "confirm_sign_up", CODE_TTL)
            self._save_user(pool, user)
        confirmed = user["UserStatus"] == "CONFIRMED"
        if confirmed:
            await self._confirmed(pool, client["ClientId"], user, "PostConfirmation_ConfirmSignUp")
        out: Json = {"UserConfirmed": confirmed, "UserSub": user["Attributes"]["sub"]}
        if details:
            out["CodeDeliveryDetails"] = details
        return out

    def _sign_up_checks(self, pool: Json, client: Json, req: Json) -> dict[str, str]:
        if (pool.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly"):
            raise errors.NotAuthorizedException("SignUp is not permitted for this user pool")
        attributes = _attrs(req.get("UserAttributes"))
        self._check_attributes(pool, attributes, creating=True, client=client)
        check_password(pool["Policies"]["PasswordPolicy"], req["Password"])
        if self._find_user(pool, req["Username"]) is not None:
            raise errors.UsernameExistsException("User already exists")
        return attributes

    @staticmethod
    def _has_trigger(pool: Json, trigger: str) -> bool:
        return bool((pool.get("LambdaConfig") or {}).get(trigger))

    async def _confirmed(self, pool: Json, client_id: str | None, user: Json, source: str) -> None:
        """The PostConfirmation trigger, when the pool has one (its failure is the caller's
        error; the confirmation stands, as in AWS)."""
        if self._has_trigger(pool, "PostConfirmation"):
            request = {"userAttributes": triggers.user_attributes(user)}
            await self._trigger(
                pool, "PostConfirmation", triggers.event(pool, client_id, user, source, request)
            )

    async def confirm_sign_up(self, ctx: RequestContext, req: Json) -> Json:
        with self.store.transaction():
            client, pool = self._app_client(req["ClientId"], req["Username"], req.get("SecretHash"))
            user = self._public_user(pool, client, req["Username"])
            if user["UserStatus"] != "UNCONFIRMED":
                raise errors.NotAuthorizedException(
                    f"User cannot be confirmed. Current status is {user['UserStatus']}"
                )
            self._use_code(user, "confirm_sign_up", req["ConfirmationCode"])
            user["UserStatus"] = "CONFIRMED"
            for attribute in pool.get("AutoVerifiedAttributes") or []:
                if user["Attributes"].get(attribute):
                    user["Attributes"][f"{attribute}_verified"] = "true"
            self._save_user(pool, user)
        await self._confirmed(pool, client["ClientId"], user, "PostConfirmation_ConfirmSignUp")
        return {}

    def resend_confirmation_code(self, ctx: RequestContext, req: Json) -> Json:
        client, pool = self._app_client(req["ClientId"], req["Username"], req.get("SecretHash"))
        user = self._public_user(pool, client, req["Username"])
        if user["UserStatus"] != "UNCONFIRMED":
            raise errors.InvalidParameterException("User is already confirmed.")
        details = self._send_code(pool, user, "confirm_sign_up", CODE_TTL)
        self._save_user(pool, user)
        return {"CodeDeliveryDetails": details} if details else {}

    def forgot_password(self, ctx: RequestContext, req: Json) -> Json:
        client, pool = self._app_client(req["ClientId"], req["Username"], req.get("SecretHash"))
        user = self._public_user(pool, client, req["Username"])
        attrs = user["Attributes"]
        reachable = any(
            attrs.get(a)
            and (attrs.get(f"{a}_verified") == "true" or user["UserStatus"] == "UNCONFIRMED")
            for a in ("email", "phone_number")
        )
        if not reachable:
            raise errors.InvalidParameterException(
                "Cannot reset password for the user as there is no registered/verified email "
                "or phone_number"
            )
        details = self._send_code(pool, user, "forgot_password", FORGOT_TTL)
        self._save_user(pool, user)
        return {"CodeDeliveryDetails": details} if details else {}

    def confirm_forgot_password(self, ctx: RequestContext, req: Json) -> Json:
        client, pool = self._app_client(req["ClientId"], req["Username"], req.get("SecretHash"))
        user = self._public_user(pool, client, req["Username"])
        self._use_code(user, "forgot_password", req["ConfirmationCode"])
        check_password(pool["Policies"]["PasswordPolicy"], req["Password"])
        self._set_password(pool, user, req["Password"])
        user["UserStatus"] = "CONFIRMED"
        user.pop("_TemporaryUntil", None)
        self._save_user(pool, user)
        return {}

    def _token_user(self, access_token: str) -> tuple[Json, Json, Json]:
        """(pool, user, claims) of a valid, unrevoked access token."""
        claims = unverified_claims(access_token) or {}
        found = _POOL_ID.match(str(claims.get("iss", "")).rsplit("/", 1)[-1])
        key = self.key_of(found.group(0)) if found else None
        verified = key.verify(access_token) if key else None
        if verified is None or verified.get("token_use") != "access":
            raise errors.NotAuthorizedException("Invalid Access Token")
        if float(verified.get("exp", 0)) <= _now():
            raise errors.NotAuthorizedException("Access Token has expired")
        if not self.store.query_one(
            "SELECT 1 FROM cognito_refresh WHERE origin_jti = ?", (verified.get("origin_jti"),)
        ):
            raise errors.NotAuthorizedException("Access Token has been revoked")
        row = self._pool_row(found.group(0)) if found else None
        assert row is not None
        pool: Json = json.loads(row["doc"])
        user = self._find_user(pool, str(verified.get("username")))
        if user is None or user["Attributes"]["sub"] != verified.get("sub"):
            raise errors.UserNotFoundException(NO_USER)
        if not user["Enabled"]:
            raise errors.NotAuthorizedException("User is disabled.")
        return pool, user, verified

    def get_user(self, ctx: RequestContext, req: Json) -> Json:
        _, user, _ = self._token_user(req["AccessToken"])
        return {
            "Username": user["Username"],
            "UserAttributes": _attr_list(user["Attributes"]),
            **self._mfa_user_out(user),
        }

    def update_user_attributes(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, claims = self._token_user(req["AccessToken"])
        client = self._client(claims["client_id"])
        sent = self._update_attributes(pool, user, _attrs(req["UserAttributes"]), client)
        return {"CodeDeliveryDetailsList": sent}

    def delete_user_attributes(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        self._delete_attributes(pool, user, req["UserAttributeNames"])
        return {}

    def verify_user_attribute(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        attribute = req["AttributeName"]
        self._use_code(user, f"verify_{attribute}", req["Code"])
        user["Attributes"][f"{attribute}_verified"] = "true"
        self._save_user(pool, user)
        return {}

    def delete_user(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        self._delete_user(pool, user)
        return {}

    def change_password(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        if not self._password_ok(pool, user, req.get("PreviousPassword") or ""):
            raise errors.NotAuthorizedException(WRONG_PASSWORD)
        check_password(pool["Policies"]["PasswordPolicy"], req["ProposedPassword"])
        self._set_password(pool, user, req["ProposedPassword"])
        self._save_user(pool, user)
        return {}

    def global_sign_out(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        self.store.execute(
            "DELETE FROM cognito_refresh WHERE pool = ? AND user_key = ?",
            (pool["Id"], user["_Key"]),
        )
        return {}

    def get_user_attribute_verification_code(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        attribute = req["AttributeName"]
        if attribute not in ("email", "phone_number") or not user["Attributes"].get(attribute):
            raise errors.InvalidParameterException(
                f"User does not have a value for the attribute: {attribute}"
            )
        details = self._send_code(pool, user, f"verify_{attribute}", CODE_TTL)
        self._save_user(pool, user)
        medium = "EMAIL" if attribute == "email" else "SMS"
        return {
            "CodeDeliveryDetails": details
            or {
                "Destination": masked(attribute, user["Attributes"][attribute]),
                "DeliveryMedium": medium,
                "AttributeName": attribute,
            }
        }

    # -- tags and MFA configuration ----------------------------------------------------------

    def _pool_by_arn(self, ctx: RequestContext, resource_arn: str) -> Json:
        found = re.match(r"^arn:[\w-]+:cognito-idp:[\w-]+:\d{12}:userpool/(.+)$", resource_arn)
        if found is None:
            raise errors.InvalidParameterException(f"Invalid ARN: {resource_arn}")
        return self._pool(ctx, found.group(1))

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool_by_arn(ctx, req["ResourceArn"])
        pool["UserPoolTags"] = {**(pool.get("UserPoolTags") or {}), **req["Tags"]}
        self._save_pool(ctx.account_id, ctx.region, pool)
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool_by_arn(ctx, req["ResourceArn"])
        tags = pool.get("UserPoolTags") or {}
        pool["UserPoolTags"] = {k: v for k, v in tags.items() if k not in req["TagKeys"]}
        self._save_pool(ctx.account_id, ctx.region, pool)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        return {"Tags": self._pool_by_arn(ctx, req["ResourceArn"]).get("UserPoolTags") or {}}

    def get_user_pool_mfa_config(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        out: Json = {"MfaConfiguration": pool.get("MfaConfiguration") or "OFF"}
        out.update(pool.get("_Mfa") or {})
        return out

    def set_user_pool_mfa_config(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        mode = req.get("MfaConfiguration") or pool.get("MfaConfiguration") or "OFF"
        pool["MfaConfiguration"] = mode
        factors = (
            "SmsMfaConfiguration",
            "SoftwareTokenMfaConfiguration",
            "EmailMfaConfiguration",
            "WebAuthnConfiguration",
        )
        pool["_Mfa"] = {k: req[k] for k in factors if req.get(k) is not None}
        self._save_pool(ctx.account_id, ctx.region, pool)
        return self.get_user_pool_mfa_config(ctx, req)

    def revoke_token(self, ctx: RequestContext, req: Json) -> Json:
        client = self._client(req["ClientId"])
        secret = client.get("ClientSecret")
        if secret and not _same(secret, req.get("ClientSecret") or ""):
            raise errors.NotAuthorizedException("Client authentication failed.")
        if not client.get("EnableTokenRevocation", True):
            raise errors.UnsupportedOperationException(
                "Token revocation is not enabled for this client."
            )
        row = self.store.query_one("SELECT * FROM cognito_refresh WHERE token = ?", (req["Token"],))
        if row is not None and row["client"] == client["ClientId"]:
            self.store.execute(
                "DELETE FROM cognito_refresh WHERE origin_jti = ?", (row["origin_jti"],)
            )
        return {}

    # -- authentication ----------------------------------------------------------------------

    async def _pre_authentication(self, ctx: RequestContext, req: Json, *, admin: bool) -> None:
        """The PreAuthentication trigger before a sign-in (not a refresh) checks the password:
        its failure is the sign-in's."""
        if req["AuthFlow"] in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return
        params = req.get("AuthParameters") or {}
        with self.store.transaction():
            client, pool = self._flow_client(
                ctx, req, params.get("USERNAME"), params.get("SECRET_HASH"), admin=admin
            )
            if not self._has_trigger(pool, "PreAuthentication"):
                return
            user = self._find_user(pool, params.get("USERNAME") or "")
        if user is None:
            return
        request = {
            "userAttributes": triggers.user_attributes(user),
            "validationData": {},
            "userNotFound": False,
            "clientMetadata": req.get("ClientMetadata") or {},
        }
        source = "PreAuthentication_Authentication"
        await self._trigger(
            pool,
            "PreAuthentication",
            triggers.event(pool, client["ClientId"], user, source, request),
        )

    async def initiate_auth(self, ctx: RequestContext, req: Json) -> Json:
        await self._pre_authentication(ctx, req, admin=False)
        if req["AuthFlow"] == "CUSTOM_AUTH":
            return await self._custom_start(ctx, req, admin=False)
        return await self._with_tokens(lambda: self._initiate_auth(ctx, req), req)

    async def admin_initiate_auth(self, ctx: RequestContext, req: Json) -> Json:
        await self._pre_authentication(ctx, req, admin=True)
        if req["AuthFlow"] == "CUSTOM_AUTH":
            return await self._custom_start(ctx, req, admin=True)
        return await self._with_tokens(lambda: self._admin_initiate_auth(ctx, req), req)

    async def respond_to_auth_challenge(self, ctx: RequestContext, req: Json) -> Json:
        if req["ChallengeName"] == "CUSTOM_CHALLENGE":
            return await self._custom_answer(ctx, req, admin=False)
        return await self._with_tokens(lambda: self._respond_to_auth_challenge(ctx, req), req)

    async def admin_respond_to_auth_challenge(self, ctx: RequestContext, req: Json) -> Json:
        if req["ChallengeName"] == "CUSTOM_CHALLENGE":
            return await self._custom_answer(ctx, req, admin=True)
        return await self._with_tokens(lambda: self._admin_respond_to_auth_challenge(ctx, req), req)

    # CUSTOM_AUTH: DefineAuthChallenge decides each round from the challenges answered so far
    # (issue tokens, fail, or ask a CUSTOM_CHALLENGE that CreateAuthChallenge makes and
    # VerifyAuthChallengeResponse judges); each function runs outside the transaction.

    def _flow_client(
        self,
        ctx: RequestContext,
        req: Json,
        username: str | None,
        given_hash: str | None,
        *,
        admin: bool,
    ) -> tuple[Json, Json]:
        client, pool = self._app_client(req["ClientId"], username, given_hash)
        if admin and client["UserPoolId"] != self._pool(ctx, req["UserPoolId"])["Id"]:
            raise errors.ResourceNotFoundException(
                f"User pool client {req['ClientId']} does not exist."
            )
        return client, pool

    async def _custom_start(self, ctx: RequestContext, req: Json, *, admin: bool) -> Json:
        params = req.get("AuthParameters") or {}
        with self.store.transaction():
            client, pool = self._flow_client(
                ctx, req, params.get("USERNAME"), params.get("SECRET_HASH"), admin=admin
            )
            if not self._allows(client, "ALLOW_CUSTOM_AUTH"):
                raise errors.InvalidParameterException(
                    "CUSTOM_AUTH flow not enabled for this client"
                )
            if not self._has_trigger(pool, "DefineAuthChallenge"):
                raise errors.InvalidParameterException(
                    "Custom auth lambda trigger is not configured for the user pool."
                )
            if not params.get("USERNAME"):
                raise errors.InvalidParameterException("Missing required parameter USERNAME")
            user = self._public_user(pool, client, params["USERNAME"])
        return await self._custom_round(ctx, req, pool, client, user, [])

    async def _custom_round(
        self,
        ctx: RequestContext,
        req: Json,
        pool: Json,
        client: Json,
        user: Json,
        history: list[Json],
    ) -> Json:
        def event(source: str, **request: Any) -> Json:
            body = {
                "userAttributes": triggers.user_attributes(user),
                "session": history,
                "userNotFound": False,
                "clientMetadata": req.get("ClientMetadata") or {},
                **request,
            }
            return triggers.event(pool, client["ClientId"], user, source, body)

        define = await self._trigger(
            pool, "DefineAuthChallenge", event("DefineAuthChallenge_Authentication")
        )
        decided = define.get("response") or {}
        if decided.get("failAuthentication") or not (
            decided.get("issueTokens") or decided.get("challengeName")
        ):
            raise errors.NotAuthorizedException(WRONG_PASSWORD)
        if decided.get("issueTokens"):
            return await self._with_tokens(lambda: self._after_password(pool, client, user), req)
        name = decided["challengeName"]
        if name != "CUSTOM_CHALLENGE":
            raise errors.InvalidLambdaResponseException(
                f"Unsupported challenge from DefineAuthChallenge: {name}"
            )
        create = await self._trigger(
            pool,
            "CreateAuthChallenge",
            event("CreateAuthChallenge_Authentication", challengeName=name),
        )
        made = create.get("response") or {}
        with self.store.transaction():
            session = self._new_session(
                pool,
                client,
                user,
                name,
                history=history,
                private=made.get("privateChallengeParameters") or {},
                metadata=made.get("challengeMetadata"),
            )
        public = {str(k): str(v) for k, v in (made.get("publicChallengeParameters") or {}).items()}
        return {
            "ChallengeName": name,
            "Session": session,
            "ChallengeParameters": {**public, "USERNAME": user["Username"]},
        }

    async def _custom_answer(self, ctx: RequestContext, req: Json, *, admin: bool) -> Json:
        answers = req.get("ChallengeResponses") or {}
        with self.store.transaction():
            client, pool = self._flow_client(
                ctx, req, answers.get("USERNAME"), answers.get("SECRET_HASH"), admin=admin
            )
            session = self._take_session(req.get("Session") or "", client, "CUSTOM_CHALLENGE")
            user = self._session_user(pool, session)
        verify = await self._trigger(
            pool,
            "VerifyAuthChallengeResponse",
            triggers.event(
                pool,
                client["ClientId"],
                user,
                "VerifyAuthChallengeResponse_Authentication",
                {
                    "userAttributes": triggers.user_attributes(user),
                    "privateChallengeParameters": session["private"],
                    "challengeAnswer": answers.get("ANSWER") or "",
                    "userNotFound": False,
                    "clientMetadata": req.get("ClientMetadata") or {},
                },
            ),
        )
        correct = bool((verify.get("response") or {}).get("answerCorrect"))
        history = [
            *session["history"],
            {
                "challengeName": "CUSTOM_CHALLENGE",
                "challengeResult": correct,
                "challengeMetadata": session.get("metadata"),
            },
        ]
        return await self._custom_round(ctx, req, pool, client, user, history)

    async def _with_tokens(self, run: Callable[[], Json], req: Json) -> Json:
        """An authentication step in a transaction; when it ends in tokens of a pool with a
        PostAuthentication or PreTokenGeneration trigger, what it did is committed, the
        functions are called outside the transaction, and the tokens are issued with the
        answer of PreTokenGeneration."""
        with self.store.transaction():
            try:
                return run()
            except triggers.TokensWanted as caught:
                wanted = caught
                groups = [
                    g["GroupName"] for g in self._groups_of(caught.pool["Id"], caught.user["_Key"])
                ]
        user, pool, client_id = wanted.user, wanted.pool, wanted.client["ClientId"]
        metadata = req.get("ClientMetadata") or {}
        if wanted.source != "TokenGeneration_RefreshTokens" and self._has_trigger(
            pool, "PostAuthentication"
        ):
            request: Json = {
                "userAttributes": triggers.user_attributes(user),
                "newDeviceUsed": False,
                "clientMetadata": metadata,
            }
            source = "PostAuthentication_Authentication"
            await self._trigger(
                pool, "PostAuthentication", triggers.event(pool, client_id, user, source, request)
            )
        answer: Json = {}
        if self._has_trigger(pool, "PreTokenGeneration"):
            request = {
                "userAttributes": triggers.user_attributes(user),
                "groupConfiguration": {"groupsToOverride": groups, "iamRolesToOverride": []},
                "clientMetadata": metadata,
            }
            answer = await self._trigger(
                pool,
                "PreTokenGeneration",
                triggers.event(pool, client_id, user, wanted.source, request),
            )
        with self.store.transaction():
            result = self._issue(
                wanted.pool,
                wanted.client,
                user,
                origin_jti=wanted.origin_jti,
                auth_time=wanted.auth_time,
                source=wanted.source,
                overrides=answer.get("response") or {},
                **wanted.options,
            )
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    async def _trigger(self, pool: Json, trigger: str, event: Json) -> Json:
        return await triggers.call(self.env, pool, pool["Arn"].split(":")[4], trigger, event)

    async def get_tokens_from_refresh_token(self, ctx: RequestContext, req: Json) -> Json:
        out = await self._with_tokens(lambda: self._tokens_from_refresh(ctx, req), req)
        return {"AuthenticationResult": out["AuthenticationResult"]}

    def _tokens_from_refresh(self, ctx: RequestContext, req: Json) -> Json:
        client, pool = self._app_client(req["ClientId"], None, None)
        secret = client.get("ClientSecret")
        if secret and not _same(secret, req.get("ClientSecret") or ""):
            raise errors.NotAuthorizedException(
                f"Client {client['ClientId']} is configured with secret but the secret was not "
                "received"
                if not req.get("ClientSecret")
                else "Client authentication failed."
            )
        return self._refresh(pool, client, {"REFRESH_TOKEN": req["RefreshToken"]}, checked=True)

    def _initiate_auth(self, ctx: RequestContext, req: Json) -> Json:
        params = req.get("AuthParameters") or {}
        flow = req["AuthFlow"]
        client, pool = self._app_client(
            req["ClientId"],
            None if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN") else params.get("USERNAME"),
            params.get("SECRET_HASH"),
        )
        return self._authenticate(pool, client, flow, params, admin=False)

    def _admin_initiate_auth(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        params = req.get("AuthParameters") or {}
        flow = req["AuthFlow"]
        client, _ = self._app_client(
            req["ClientId"],
            None if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN") else params.get("USERNAME"),
            params.get("SECRET_HASH"),
        )
        if client["UserPoolId"] != pool["Id"]:
            raise errors.ResourceNotFoundException(
                f"User pool client {req['ClientId']} does not exist."
            )
        return self._authenticate(pool, client, flow, params, admin=True)

    @staticmethod
    def _allows(client: Json, flow: str) -> bool:
        allowed = {LEGACY_FLOWS.get(f, f) for f in client.get("ExplicitAuthFlows") or []}
        return flow in allowed

    def _authenticate(
        self, pool: Json, client: Json, flow: str, params: Json, *, admin: bool
    ) -> Json:
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self._refresh(pool, client, params)
        if flow == "USER_PASSWORD_AUTH" and not admin:
            if not self._allows(client, "ALLOW_USER_PASSWORD_AUTH"):
                raise errors.InvalidParameterException(
                    "USER_PASSWORD_AUTH flow not enabled for this client"
                )
        elif flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH") and admin:
            if not self._allows(client, "ALLOW_ADMIN_USER_PASSWORD_AUTH"):
                raise errors.InvalidParameterException("Auth flow not enabled for this client")
        elif flow == "USER_SRP_AUTH":
            if not self._allows(client, "ALLOW_USER_SRP_AUTH"):
                raise errors.InvalidParameterException(
                    "USER_SRP_AUTH is not enabled for the client."
                )
            return self._srp_start(pool, client, params)
        else:
            raise errors.InvalidParameterException("Initiate Auth method not supported.")
        username = params.get("USERNAME")
        if not username:
            raise errors.InvalidParameterException("Missing required parameter USERNAME")
        user = self._public_user(pool, client, username)
        if not self._password_ok(pool, user, params.get("PASSWORD") or ""):
            raise errors.NotAuthorizedException(WRONG_PASSWORD)
        return self._after_password(pool, client, user)

    def _after_password(self, pool: Json, client: Json, user: Json) -> Json:
        """What follows a correct password: the user's state decides, then tokens."""
        if not user["Enabled"]:
            raise errors.NotAuthorizedException("User is disabled.")
        status = user["UserStatus"]
        if status == "UNCONFIRMED":
            raise errors.UserNotConfirmedException("User is not confirmed.")
        if status == "RESET_REQUIRED":
            raise errors.PasswordResetRequiredException("Password reset required for the user")
        if status == "FORCE_CHANGE_PASSWORD":
            if user.get("_TemporaryUntil", float("inf")) <= _now():
                raise errors.NotAuthorizedException(
                    "Temporary password has expired and must be reset by an administrator."
                )
            shown = {k: v for k, v in user["Attributes"].items() if k not in ("sub",)}
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": self._new_session(pool, client, user, "NEW_PASSWORD_REQUIRED"),
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": user["Username"],
                    "requiredAttributes": "[]",
                    "userAttributes": json.dumps(shown),
                },
            }
        return self._mfa_or_tokens(pool, client, user)

    def _mfa_or_tokens(
        self, pool: Json, client: Json, user: Json, source: str = "TokenGeneration_Authentication"
    ) -> Json:
        """The second factor a pool with MFA asks for (an authenticator app's code, or setting
        one up when MFA is required), else tokens."""
        mode = pool.get("MfaConfiguration") or "OFF"
        if mode != "OFF" and self._totp_enabled(user):
            return {
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": self._new_session(pool, client, user, "SOFTWARE_TOKEN_MFA"),
                "ChallengeParameters": {},
            }
        if mode == "ON":
            return {
                "ChallengeName": "MFA_SETUP",
                "Session": self._new_session(pool, client, user, "MFA_SETUP"),
                "ChallengeParameters": {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'},
            }
        return {
            "ChallengeParameters": {},
            "AuthenticationResult": self._issue(pool, client, user, source=source),
        }

    @staticmethod
    def _totp_enabled(user: Json) -> bool:
        return bool((user.get("_Mfa") or {}).get("Enabled") and user.get("_Totp"))

    def _mfa_user_out(self, user: Json) -> Json:
        if not self._totp_enabled(user):
            return {}
        return {
            "UserMFASettingList": ["SOFTWARE_TOKEN_MFA"],
            "PreferredMfaSetting": "SOFTWARE_TOKEN_MFA",
        }

    def _software_token_user(self, req: Json) -> tuple[Json, Json, Json | None]:
        """(pool, user, session doc) of an AssociateSoftwareToken or VerifySoftwareToken call,
        named by an access token or by an MFA_SETUP session (then taken)."""
        if req.get("AccessToken"):
            pool, user, _ = self._token_user(req["AccessToken"])
            return pool, user, None
        row = self.store.query_one(
            "SELECT * FROM cognito_sessions WHERE id = ?", (req.get("Session") or "",)
        )
        doc = json.loads(row["doc"]) if row else None
        if (
            row is None
            or doc is None
            or doc["challenge"] != "MFA_SETUP"
            or row["expires"] <= _now()
        ):
            raise errors.NotAuthorizedException("Invalid session for the user.")
        self.store.execute("DELETE FROM cognito_sessions WHERE id = ?", (req["Session"],))
        pool_row = self._pool_row(row["pool"])
        if pool_row is None:
            raise errors.NotAuthorizedException("Invalid session for the user.")
        pool = json.loads(pool_row["doc"])
        doc["pool"] = row["pool"]
        return pool, self._session_user(pool, doc), doc

    def _next_setup_session(self, pool: Json, user: Json, session: Json | None) -> Json:
        if session is None:
            return {}
        client = self._client(session["client"])
        return {"Session": self._new_session(pool, client, user, "MFA_SETUP")}

    def associate_software_token(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, session = self._software_token_user(req)
        user["_TotpPending"] = totp.new_secret()
        self._save_user(pool, user)
        return {"SecretCode": user["_TotpPending"], **self._next_setup_session(pool, user, session)}

    def verify_software_token(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, session = self._software_token_user(req)
        pending = user.get("_TotpPending")
        if not pending:
            raise errors.InvalidParameterException("User has not set up software token mfa")
        if not totp.matches(pending, req["UserCode"], _now()):
            raise errors.EnableSoftwareTokenMFAException("Code mismatch")
        user["_Totp"] = pending
        del user["_TotpPending"]
        if session is not None:
            user["_Mfa"] = {"Enabled": True, "Preferred": True}
        self._save_user(pool, user)
        return {"Status": "SUCCESS", **self._next_setup_session(pool, user, session)}

    def _mfa_preference(self, pool: Json, user: Json, settings: Json | None) -> None:
        if settings is None:
            return
        if settings.get("Enabled") and not user.get("_Totp"):
            raise errors.InvalidParameterException("User has not verified software token mfa")
        user["_Mfa"] = {
            "Enabled": bool(settings.get("Enabled")),
            "Preferred": bool(settings.get("PreferredMfa")),
        }
        self._save_user(pool, user)

    def set_user_mfa_preference(self, ctx: RequestContext, req: Json) -> Json:
        pool, user, _ = self._token_user(req["AccessToken"])
        self._mfa_preference(pool, user, req.get("SoftwareTokenMfaSettings"))
        return {}

    def admin_set_user_mfa_preference(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        user = self._admin_user(pool, req["Username"])
        self._mfa_preference(pool, user, req.get("SoftwareTokenMfaSettings"))
        return {}

    def _new_session(
        self, pool: Json, client: Json, user: Json, challenge: str, **extra: Any
    ) -> str:
        session = base64.b64encode(secrets.token_bytes(96)).decode()
        minutes = int(client.get("AuthSessionValidity") or 3)
        self.store.execute(
            "INSERT INTO cognito_sessions (id, pool, expires, doc) VALUES (?, ?, ?, ?)",
            (
                session,
                pool["Id"],
                _now() + minutes * MINUTE,
                json.dumps(
                    {
                        "client": client["ClientId"],
                        "user": user["_Key"],
                        "challenge": challenge,
                        **extra,
                    }
                ),
            ),
        )
        self.store.execute("DELETE FROM cognito_sessions WHERE expires < ?", (_now(),))
        return session

    def _take_session(self, session: str, client: Json, challenge: str) -> Json:
        row = self.store.query_one("SELECT * FROM cognito_sessions WHERE id = ?", (session,))
        doc = json.loads(row["doc"]) if row else None
        if doc is None or doc["client"] != client["ClientId"] or doc["challenge"] != challenge:
            raise errors.NotAuthorizedException("Invalid session for the user.")
        if row is not None and row["expires"] <= _now():
            raise errors.NotAuthorizedException("Invalid session for the user, session is expired.")
        self.store.execute("DELETE FROM cognito_sessions WHERE id = ?", (session,))
        doc["pool"] = row["pool"] if row else ""
        return doc

    def _srp_start(self, pool: Json, client: Json, params: Json) -> Json:
        username, a_hex = params.get("USERNAME"), params.get("SRP_A")
        if not username or not a_hex:
            raise errors.InvalidParameterException("Missing required parameter SRP_A")
        user = self._public_user(pool, client, username)
        server = srp.ServerSession(user["_Verifier"])
        if not re.fullmatch(r"[0-9a-fA-F]{1,1536}", a_hex) or int(a_hex, 16) % srp.N == 0:
            raise errors.NotAuthorizedException(WRONG_PASSWORD)
        block = self._new_session(
            pool, client, user, "PASSWORD_VERIFIER", b=format(server.b, "x"), a=a_hex
        )
        return {
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeParameters": {
                "SALT": user["_Salt"],
                "SECRET_BLOCK": block,
                "SRP_B": format(server.big_b, "x"),
                "USERNAME": user["Username"],
                "USER_ID_FOR_SRP": user["Username"],
            },
        }

    def _respond_to_auth_challenge(self, ctx: RequestContext, req: Json) -> Json:
        answers = req.get("ChallengeResponses") or {}
        client, pool = self._app_client(
            req["ClientId"], answers.get("USERNAME"), answers.get("SECRET_HASH")
        )
        return self._respond(pool, client, req, answers)

    def _admin_respond_to_auth_challenge(self, ctx: RequestContext, req: Json) -> Json:
        pool = self._pool(ctx, req["UserPoolId"])
        answers = req.get("ChallengeResponses") or {}
        client, _ = self._app_client(
            req["ClientId"], answers.get("USERNAME"), answers.get("SECRET_HASH")
        )
        if client["UserPoolId"] != pool["Id"]:
            raise errors.ResourceNotFoundException(
                f"User pool client {req['ClientId']} does not exist."
            )
        return self._respond(pool, client, req, answers)

    def _respond(self, pool: Json, client: Json, req: Json, answers: Json) -> Json:
        challenge = req["ChallengeName"]
        if challenge == "PASSWORD_VERIFIER":
            session = self._take_session(
                answers.get("PASSWORD_CLAIM_SECRET_BLOCK") or "", client, challenge
            )
            user = self._session_user(pool, session)
            key = srp.ServerSession(user["_Verifier"], int(session["b"], 16)).key(session["a"])
            want = (
                srp.claim_signature(
                    key,
                    pool["Id"].split("_", 1)[1],
                    user["Username"],
                    answers.get("PASSWORD_CLAIM_SECRET_BLOCK") or "",
                    answers.get("TIMESTAMP") or "",
                )
                if key
                else ""
            )
            given = answers.get("PASSWORD_CLAIM_SIGNATURE") or ""
            if not want or not _same(want, given):
                raise errors.NotAuthorizedException(WRONG_PASSWORD)
            return self._after_password(pool, client, user)
        if challenge == "NEW_PASSWORD_REQUIRED":
            session = self._take_session(req.get("Session") or "", client, challenge)
            user = self._session_user(pool, session)
            password = answers.get("NEW_PASSWORD")
            if not password:
                raise errors.InvalidParameterException("Missing required parameter NEW_PASSWORD")
            check_password(pool["Policies"]["PasswordPolicy"], password)
            given = {
                k.removeprefix("userAttributes."): v
                for k, v in answers.items()
                if k.startswith("userAttributes.")
            }
            if given:
                self._check_attributes(pool, given, creating=False, client=client)
                user["Attributes"].update(given)
            self._set_password(pool, user, password)
            user["UserStatus"] = "CONFIRMED"
            user.pop("_TemporaryUntil", None)
            self._save_user(pool, user)
            return self._mfa_or_tokens(
                pool, client, user, source="TokenGeneration_NewPasswordChallenge"
            )
        if challenge == "SOFTWARE_TOKEN_MFA":
            session = self._take_session(req.get("Session") or "", client, challenge)
            user = self._session_user(pool, session)
            given = answers.get("SOFTWARE_TOKEN_MFA_CODE") or ""
            if not totp.matches(user.get("_Totp") or "", given, _now()):
                raise errors.CodeMismatchException("Invalid code received for user")
            return {
                "ChallengeParameters": {},
                "AuthenticationResult": self._issue(pool, client, user),
            }
        if challenge == "MFA_SETUP":
            session = self._take_session(req.get("Session") or "", client, challenge)
            user = self._session_user(pool, session)
            if not self._totp_enabled(user):
                raise errors.InvalidParameterException("User has not verified software token mfa")
            return {
                "ChallengeParameters": {},
                "AuthenticationResult": self._issue(pool, client, user),
            }
        raise errors.InvalidParameterException(f"Unsupported challenge: {challenge}")

    def _session_user(self, pool: Json, session: Json) -> Json:
        if session["pool"] != pool["Id"]:
            raise errors.NotAuthorizedException("Invalid session for the user.")
        row = self.store.query_one(
            "SELECT doc FROM cognito_users WHERE pool = ? AND key = ?",
            (pool["Id"], session["user"]),
        )
        if row is None:
            raise errors.UserNotFoundException(NO_USER)
        user: Json = json.loads(row["doc"])
        return user

    def _refresh(self, pool: Json, client: Json, params: Json, *, checked: bool = False) -> Json:
        """REFRESH_TOKEN_AUTH (``checked`` when the caller already authenticated the client)."""
        token = params.get("REFRESH_TOKEN") or ""
        row = self.store.query_one("SELECT * FROM cognito_refresh WHERE token = ?", (token,))
        if row is None or row["client"] != client["ClientId"]:
            raise errors.NotAuthorizedException("Invalid Refresh Token")
        if row["expires"] <= _now():
            raise errors.NotAuthorizedException("Refresh Token has expired")
        user_row = self.store.query_one(
            "SELECT doc FROM cognito_users WHERE pool = ? AND key = ?",
            (pool["Id"], row["user_key"]),
        )
        if user_row is None:
            raise errors.NotAuthorizedException("Invalid Refresh Token")
        user = json.loads(user_row["doc"])
        if not user["Enabled"]:
            raise errors.NotAuthorizedException("User is disabled.")
        if (secret := client.get("ClientSecret")) and not checked:
            want = secret_hash(secret, user["Username"], client["ClientId"])
            given = params.get("SECRET_HASH") or ""
            sub_hash = secret_hash(secret, user["Attributes"]["sub"], client["ClientId"])
            if not (_same(want, given) or _same(sub_hash, given)):
                raise errors.NotAuthorizedException(
                    f"Unable to verify secret hash for client {client['ClientId']}"
                )
        result = self._issue(
            pool,
            client,
            user,
            origin_jti=row["origin_jti"],
            auth_time=row["auth_time"],
            source="TokenGeneration_RefreshTokens",
        )
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    # -- tokens ------------------------------------------------------------------------------

    def _issue(
        self,
        pool: Json,
        client: Json,
        user: Json,
        *,
        origin_jti: str | None = None,
        auth_time: float | None = None,
        source: str = "TokenGeneration_Authentication",
        overrides: Json | None = None,
        scope: str = ADMIN_SCOPE,
        nonce: str | None = None,
    ) -> Json:
        signing_in = source != "TokenGeneration_RefreshTokens"
        if overrides is None and (
            self._has_trigger(pool, "PreTokenGeneration")
            or (signing_in and self._has_trigger(pool, "PostAuthentication"))
        ):
            options = {"scope": scope, "nonce": nonce}
            raise triggers.TokensWanted(pool, client, user, source, origin_jti, auth_time, options)
        details = (overrides or {}).get("claimsOverrideDetails") or {}
        access_s, id_s, refresh_s = self._validity(client)
        now = int(_now())
        auth = int(auth_time if auth_time is not None else now)
        key = self.key_of(pool["Id"])
        assert key is not None
        region = pool["Id"].split("_", 1)[0]
        issuer = ISSUER.format(region=region, pool=pool["Id"])
        groups = [g["GroupName"] for g in self._groups_of(pool["Id"], user["_Key"])]
        overridden = (details.get("groupOverrideDetails") or {}).get("groupsToOverride")
        if overridden is not None:
            groups = [str(g) for g in overridden]
        new_refresh = origin_jti is None
        origin = origin_jti or str(uuid.uuid4())
        event_id = str(uuid.uuid4())
        common: Json = {"sub": user["Attributes"]["sub"]}
        if groups:
            common["cognito:groups"] = groups
        common.update({"iss": issuer, "origin_jti": origin, "event_id": event_id})
        id_claims: Json = {**common}
        for name, value in user["Attributes"].items():
            if name == "sub":
                continue
            id_claims[name] = value == "true" if name.endswith("_verified") else value
        id_claims.update(
            {
                "cognito:username": user["Username"],
                "aud": client["ClientId"],
                "token_use": "id",
                "auth_time": auth,
                "exp": now + int(id_s),
                "iat": now,
                "jti": str(uuid.uuid4()),
            }
        )
        if nonce:
            id_claims["nonce"] = nonce
        for name in details.get("claimsToSuppress") or []:
            if name not in PROTECTED_CLAIMS:
                id_claims.pop(name, None)
        for name, value in (details.get("claimsToAddOrOverride") or {}).items():
            if name not in PROTECTED_CLAIMS:
                id_claims[name] = value
        access_claims = {
            **common,
            "client_id": client["ClientId"],
            "token_use": "access",
            "scope": scope,
            "auth_time": auth,
            "exp": now + int(access_s),
            "iat": now,
            "jti": str(uuid.uuid4()),
            "username": user["Username"],
        }
        result: Json = {
            "AccessToken": key.sign(access_claims),
            "ExpiresIn": int(access_s),
            "TokenType": "Bearer",
            "IdToken": key.sign(id_claims),
        }
        if new_refresh:
            refresh = secrets.token_urlsafe(96)
            self.store.execute(
                "INSERT INTO cognito_refresh (token, pool, user_key, client, origin_jti, "
                "auth_time, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    refresh,
                    pool["Id"],
                    user["_Key"],
                    client["ClientId"],
                    origin,
                    auth,
                    now + refresh_s,
                ),
            )
            result["RefreshToken"] = refresh
        return result

    def verify_token(self, token: str, pool_ids: list[str], token_use: str | None) -> Json | None:
        """The claims of a live token issued by one of ``pool_ids`` (API Gateway's Cognito
        authorizers ask this), else None."""
        claims = unverified_claims(token) or {}
        pool_id = str(claims.get("iss", "")).rsplit("/", 1)[-1]
        if pool_id not in pool_ids:
            return None
        key = self.key_of(pool_id)
        verified = key.verify(token) if key else None
        if verified is None or float(verified.get("exp", 0)) <= _now():
            return None
        if token_use is not None and verified.get("token_use") != token_use:
            return None
        return verified

    def jwks(self, pool_id: str) -> Json | None:
        key = self.key_of(pool_id)
        return {"keys": [key.jwk]} if key else None
