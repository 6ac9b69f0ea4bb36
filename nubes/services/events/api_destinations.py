"""EventBridge connections and API destinations: HTTP endpoints as rule targets.

A connection holds how to authorize (an API key header, basic credentials, or OAuth client
credentials whose token is fetched from the authorization endpoint and kept until it expires)
and parameters added to every call; an API destination is an endpoint (``*`` in its path filled
from the target's PathParameterValues), a method and the connection. Calls leave once the
transaction that matched the event has committed, on a worker thread, no faster than the
destination's InvocationRateLimitPerSecond, with AWS's five-second limit; 429, 5xx and
unreachable endpoints are retried by the target's RetryPolicy.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nubes.core import clock
from nubes.core.arns import arn, parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.services.events.errors import DeliveryFailed, errors
from nubes.store import Store

Json = dict[str, Any]

TIMEOUT = 5.0
"""AWS gives an API destination five seconds to answer."""
USER_AGENT = "Amazon/EventBridge/ApiDestinations"
_SECRET_KEYS = ("Password", "ClientSecret", "ApiKeyValue")
_DESTINATION_SUMMARY = (
    "ApiDestinationArn",
    "ApiDestinationState",
    "CreationTime",
    "LastModifiedTime",
)
"""What CreateApiDestination and UpdateApiDestination answer."""


@dataclass
class HttpCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    oauth: Json | None = None
    """The connection's OAuth parameters, when a bearer token must be fetched first."""
    connection_arn: str = ""
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    destination_arn: str = ""
    rate: float = 300.0
    """InvocationRateLimitPerSecond: calls beyond it wait their turn."""


def _public(auth: Mapping[str, Any]) -> Json:
    """Auth parameters as DescribeConnection shows them: secrets left out."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _SECRET_KEYS}
        if isinstance(value, list):
            return [strip(v) for v in value if not (isinstance(v, dict) and v.get("IsValueSecret"))]
        return value

    return dict(strip(dict(auth)))


def _merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> Json:
    out = dict(old)
    for key, value in new.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


class ApiDestinations:
    """Operations on connections and API destinations, and the HTTP calls targets make."""

    store: Store

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        """OAuth bearer tokens by connection ARN, with the time they expire."""

    # -- storage --------------------------------------------------------------------------

    def _load(self, table: str, account: str, region: str, name: str) -> Json | None:
        doc = self.store.scalar(
            f"SELECT doc FROM {table} WHERE account = ? AND region = ? AND name = ?",
            (account, region, name),
        )
        return None if doc is None else dict(json.loads(doc))

    def _save(self, table: str, account: str, region: str, doc: Json) -> None:
        self.store.execute(
            f"INSERT INTO {table} (account, region, name, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account, region, name) DO UPDATE SET doc = excluded.doc",
            (account, region, doc["Name"], json.dumps(doc)),
        )

    def _all(self, table: str, ctx: RequestContext) -> list[Json]:
        rows = self.store.query(
            f"SELECT doc FROM {table} WHERE account = ? AND region = ? ORDER BY name",
            (ctx.account_id, ctx.region),
        )
        return [json.loads(r["doc"]) for r in rows]

    def _connection(self, ctx: RequestContext, name: str) -> Json:
        doc = self._load("events_connections", ctx.account_id, ctx.region, name)
        if doc is None:
            raise errors.ResourceNotFoundException(
                f"Failed to describe the connection(s). Connection '{name}' does not exist."
            )
        return doc

    def _destination(self, ctx: RequestContext, name: str) -> Json:
        doc = self._load("events_api_destinations", ctx.account_id, ctx.region, name)
        if doc is None:
            raise errors.ResourceNotFoundException(
                f"Failed to describe the api-destination(s). An api-destination '{name}' does "
                "not exist."
            )
        return doc

    @staticmethod
    def _list_page(docs: list[Json], req: Json) -> tuple[list[Json], str | None]:
        try:
            return paginate(
                docs, req.get("Limit") or 100, req.get("NextToken"), key=lambda d: d["Name"]
            )
        except (InvalidToken, TypeError):
            raise errors.ValidationException("The NextToken provided is invalid.") from None

    # -- connections ----------------------------------------------------------------------

    @staticmethod
    def _check_auth(kind: str, auth: Mapping[str, Any]) -> None:
        wanted = {
            "API_KEY": "ApiKeyAuthParameters",
            "BASIC": "BasicAuthParameters",
            "OAUTH_CLIENT_CREDENTIALS": "OAuthParameters",
        }[kind]
        if not auth.get(wanted):
            raise errors.ValidationException(
                f"The value for {wanted} must be provided for AuthorizationType {kind}."
            )

    def create_connection(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        if self._load("events_connections", ctx.account_id, ctx.region, name) is not None:
            raise errors.ResourceAlreadyExistsException(f"Connection {name} already exists.")
        self._check_auth(req["AuthorizationType"], req["AuthParameters"])
        now = clock.now()
        suffix = str(uuid.uuid4())
        doc: Json = {
            "Name": name,
            "ConnectionArn": arn(
                "events", ctx.region, ctx.account_id, f"connection/{name}/{suffix}"
            ),
            "SecretArn": arn(
                "secretsmanager",
                ctx.region,
                ctx.account_id,
                f"secret:events!connection/{name}/{suffix}",
            ),
            "AuthorizationType": req["AuthorizationType"],
            "AuthParameters": req["AuthParameters"],
            "ConnectionState": "AUTHORIZED",
            "CreationTime": now,
            "LastModifiedTime": now,
            "LastAuthorizedTime": now,
        }
        for key in ("Description", "InvocationConnectivityParameters", "KmsKeyIdentifier"):
            if req.get(key) is not None:
                doc[key] = req[key]
        self._save("events_connections", ctx.account_id, ctx.region, doc)
        state = (
            "AUTHORIZING"
            if req["AuthorizationType"] == "OAUTH_CLIENT_CREDENTIALS"
            else "AUTHORIZED"
        )
        return {
            "ConnectionArn": doc["ConnectionArn"],
            "ConnectionState": state,
            "CreationTime": now,
            "LastModifiedTime": now,
        }

    def describe_connection(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._connection(ctx, req["Name"])
        return {**doc, "AuthParameters": _public(doc["AuthParameters"])}

    @staticmethod
    def _state(doc: Json) -> Json:
        keys = (
            "ConnectionArn",
            "ConnectionState",
            "CreationTime",
            "LastModifiedTime",
            "LastAuthorizedTime",
        )
        return {k: doc[k] for k in keys if k in doc}

    def update_connection(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._connection(ctx, req["Name"])
        if req.get("AuthorizationType"):
            doc["AuthorizationType"] = req["AuthorizationType"]
        if req.get("AuthParameters"):
            doc["AuthParameters"] = _merge(doc["AuthParameters"], req["AuthParameters"])
        self._check_auth(doc["AuthorizationType"], doc["AuthParameters"])
        for key in ("Description", "InvocationConnectivityParameters", "KmsKeyIdentifier"):
            if req.get(key) is not None:
                doc[key] = req[key]
        now = clock.now()
        doc.update(ConnectionState="AUTHORIZED", LastModifiedTime=now, LastAuthorizedTime=now)
        self._tokens.pop(doc["ConnectionArn"], None)
        self._save("events_connections", ctx.account_id, ctx.region, doc)
        return self._state(doc)

    def deauthorize_connection(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._connection(ctx, req["Name"])
        doc.update(ConnectionState="DEAUTHORIZED", LastModifiedTime=clock.now())
        self._tokens.pop(doc["ConnectionArn"], None)
        self._save("events_connections", ctx.account_id, ctx.region, doc)
        return {**self._state(doc), "ConnectionState": "DEAUTHORIZING"}

    def delete_connection(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._connection(ctx, req["Name"])
        self.store.execute(
            "DELETE FROM events_connections WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, doc["Name"]),
        )
        self._tokens.pop(doc["ConnectionArn"], None)
        return {**self._state(doc), "ConnectionState": "DELETING"}

    def list_connections(self, ctx: RequestContext, req: Json) -> Json:
        docs = [
            d
            for d in self._all("events_connections", ctx)
            if d["Name"].startswith(req.get("NamePrefix") or "")
            and (not req.get("ConnectionState") or d["ConnectionState"] == req["ConnectionState"])
        ]
        page, token = self._list_page(docs, req)
        keys = (
            "ConnectionArn",
            "Name",
            "ConnectionState",
            "StateReason",
            "AuthorizationType",
            "CreationTime",
            "LastModifiedTime",
            "LastAuthorizedTime",
        )
        out: Json = {"Connections": [{k: d[k] for k in keys if k in d} for d in page]}
        if token:
            out["NextToken"] = token
        return out

    # -- API destinations -----------------------------------------------------------------

    def _connection_by_arn(self, connection_arn: str) -> Json | None:
        try:
            found = parse_arn(connection_arn)
        except ValueError:
            return None
        parts = found.resource.split("/")
        if len(parts) < 2 or parts[0] != "connection":
            return None
        doc = self._load("events_connections", found.account, found.region, parts[1])
        return doc if doc is not None and doc["ConnectionArn"] == connection_arn else None

    def _check_destination(self, doc: Json) -> None:
        if self._connection_by_arn(doc["ConnectionArn"]) is None:
            raise errors.ResourceNotFoundException(
                f"Connection '{doc['ConnectionArn']}' does not exist."
            )
        endpoint = urllib.parse.urlsplit(doc["InvocationEndpoint"])
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise errors.ValidationException(
                f"Invalid InvocationEndpoint {doc['InvocationEndpoint']}: an http(s) URL is "
                "required."
            )

    def create_api_destination(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        if self._load("events_api_destinations", ctx.account_id, ctx.region, name) is not None:
            raise errors.ResourceAlreadyExistsException(
                f"An api-destination '{name}' already exists."
            )
        now = clock.now()
        doc: Json = {
            "Name": name,
            "ApiDestinationArn": arn(
                "events", ctx.region, ctx.account_id, f"api-destination/{name}/{uuid.uuid4()}"
            ),
            "ApiDestinationState": "ACTIVE",
            "ConnectionArn": req["ConnectionArn"],
            "InvocationEndpoint": req["InvocationEndpoint"],
            "HttpMethod": req["HttpMethod"],
            "InvocationRateLimitPerSecond": req.get("InvocationRateLimitPerSecond") or 300,
            "CreationTime": now,
            "LastModifiedTime": now,
        }
        if req.get("Description") is not None:
            doc["Description"] = req["Description"]
        self._check_destination(doc)
        self._save("events_api_destinations", ctx.account_id, ctx.region, doc)
        return {k: doc[k] for k in _DESTINATION_SUMMARY}

    def describe_api_destination(self, ctx: RequestContext, req: Json) -> Json:
        return self._destination(ctx, req["Name"])

    def update_api_destination(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._destination(ctx, req["Name"])
        for key in (
            "Description",
            "ConnectionArn",
            "InvocationEndpoint",
            "HttpMethod",
            "InvocationRateLimitPerSecond",
        ):
            if req.get(key) is not None:
                doc[key] = req[key]
        self._check_destination(doc)
        doc["LastModifiedTime"] = clock.now()
        self._save("events_api_destinations", ctx.account_id, ctx.region, doc)
        return {k: doc[k] for k in _DESTINATION_SUMMARY}

    def delete_api_destination(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._destination(ctx, req["Name"])
        self.store.execute(
            "DELETE FROM events_api_destinations WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, doc["Name"]),
        )
        return {}

    def list_api_destinations(self, ctx: RequestContext, req: Json) -> Json:
        docs = [
            d
            for d in self._all("events_api_destinations", ctx)
            if d["Name"].startswith(req.get("NamePrefix") or "")
            and (not req.get("ConnectionArn") or d["ConnectionArn"] == req["ConnectionArn"])
        ]
        page, token = self._list_page(docs, req)
        out: Json = {
            "ApiDestinations": [{k: v for k, v in d.items() if k != "Description"} for d in page]
        }
        if token:
            out["NextToken"] = token
        return out

    # -- calls ----------------------------------------------------------------------------

    def http_call(self, destination_arn: str, payload: str, params: Mapping[str, Any]) -> HttpCall:
        """What calling ``destination_arn`` with ``payload`` sends (raises DeliveryFailed)."""
        found = parse_arn(destination_arn)
        name = found.resource.split("/")[1] if "/" in found.resource else ""
        destination = self._load("events_api_destinations", found.account, found.region, name)
        if destination is None or destination["ApiDestinationArn"] != destination_arn:
            raise DeliveryFailed(
                "ResourceNotFoundException",
                f"API destination {destination_arn} does not exist.",
                False,
            )
        connection = self._connection_by_arn(destination["ConnectionArn"])
        if connection is None or connection["ConnectionState"] != "AUTHORIZED":
            raise DeliveryFailed(
                "ConnectionNotAuthorized",
                f"The connection {destination['ConnectionArn']} is not authorized.",
                False,
            )
        auth = connection["AuthParameters"]
        own = auth.get("InvocationHttpParameters") or {}
        url = destination["InvocationEndpoint"]
        for value in params.get("PathParameterValues") or []:
            url = url.replace("*", urllib.parse.quote(str(value), safe=""), 1)
        query = [(p["Key"], p["Value"]) for p in own.get("QueryStringParameters") or []]
        query += list((params.get("QueryStringParameters") or {}).items())
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        headers.update({p["Key"]: p["Value"] for p in own.get("HeaderParameters") or []})
        headers.update(params.get("HeaderParameters") or {})
        kind = connection["AuthorizationType"]
        if kind == "API_KEY":
            key = auth["ApiKeyAuthParameters"]
            headers[key["ApiKeyName"]] = key["ApiKeyValue"]
        elif kind == "BASIC":
            basic = auth["BasicAuthParameters"]
            token = base64.b64encode(f"{basic['Username']}:{basic['Password']}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        method = destination["HttpMethod"]
        body: bytes | None = None
        if method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            body = _with_body_parameters(payload, own.get("BodyParameters") or []).encode()
        return HttpCall(
            method=method,
            url=url,
            headers=headers,
            body=body,
            oauth=auth.get("OAuthParameters") if kind == "OAUTH_CLIENT_CREDENTIALS" else None,
            connection_arn=connection["ConnectionArn"],
            tokens=self._tokens,
            destination_arn=destination_arn,
            rate=float(destination.get("InvocationRateLimitPerSecond") or 300),
        )


def _with_body_parameters(payload: str, parameters: list[Json]) -> str:
    if not parameters:
        return payload
    try:
        doc = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(doc, dict):
        return payload
    doc.update({p["Key"]: p["Value"] for p in parameters})
    return json.dumps(doc, separators=(",", ":"))


def perform(call: HttpCall) -> None:
    """Make the call (on a worker thread); raises DeliveryFailed as the outcome requires."""
    headers = dict(call.headers)
    if call.oauth is not None:
        headers["Authorization"] = f"Bearer {_token(call)}"
    request = urllib.request.Request(call.url, data=call.body, headers=headers, method=call.method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise _http_failure(exc.code) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryFailed(
            "SDK_CLIENT_ERROR", f"Unable to invoke the endpoint: {exc}", True
        ) from None


def _http_failure(status: int) -> DeliveryFailed:
    retriable = status == 429 or status >= 500
    return DeliveryFailed(str(status), f"The endpoint answered HTTP {status}.", retriable)


def _token(call: HttpCall) -> str:
    """The connection's OAuth bearer token, fetched with the client credentials when absent or
    expired."""
    cached = call.tokens.get(call.connection_arn)
    if cached is not None and cached[1] > time.time():
        return cached[0]
    oauth = call.oauth or {}
    client = oauth.get("ClientParameters") or {}
    extra = oauth.get("OAuthHttpParameters") or {}
    form = {"grant_type": "client_credentials"}
    form.update({p["Key"]: p["Value"] for p in extra.get("BodyParameters") or []})
    url = oauth["AuthorizationEndpoint"]
    query = [(p["Key"], p["Value"]) for p in extra.get("QueryStringParameters") or []]
    if query:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
    secret = base64.b64encode(
        f"{client.get('ClientID', '')}:{client.get('ClientSecret', '')}".encode()
    ).decode()
    headers = {
        "Authorization": f"Basic {secret}",
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
    }
    headers.update({p["Key"]: p["Value"] for p in extra.get("HeaderParameters") or []})
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers=headers,
        method=oauth.get("HttpMethod") or "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(
            "OAuthTokenFailed",
            f"The authorization endpoint answered HTTP {exc.code}.",
            exc.code >= 500,
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise DeliveryFailed(
            "OAuthTokenFailed", f"No token from the authorization endpoint: {exc}", True
        ) from None
    token = str(answer.get("access_token", ""))
    lifetime = float(answer.get("expires_in") or 3600)
    call.tokens[call.connection_arn] = (token, time.time() + lifetime * 0.9)
    return token
