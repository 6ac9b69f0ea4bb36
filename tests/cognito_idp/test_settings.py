"""Pool and client settings that change how users sign in: case-insensitive usernames, verified
email aliases, PreventUserExistenceErrors, tags, MFA configuration, GetTokensFromRefreshToken
with a client secret; and what time does (on the advanced clock): tokens, codes and temporary
passwords expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

PASSWORD = "Passw0rd!"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _sign_in(idp: Any, app: str, username: str, password: str = PASSWORD) -> Any:
    return idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


def _pool(idp: Any, name: str, **kwargs: Any) -> tuple[str, str]:
    pool_id = idp.create_user_pool(PoolName=name, **kwargs)["UserPool"]["Id"]
    app = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c", ExplicitAuthFlows=FLOWS)[
        "UserPoolClient"
    ]["ClientId"]
    return pool_id, app


def _user(idp: Any, pool_id: str, name: str, **attrs: str) -> None:
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=name,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()],
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True
    )


def test_usernames_aliases_and_existence_errors(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    idp = client("cognito-idp")
    pool_id, app = _pool(
        idp,
        unique("alias"),
        UsernameConfiguration={"CaseSensitive": False},
        AliasAttributes=["email"],
    )
    _user(idp, pool_id, "Kim", email="kim@example.com")
    assert "AuthenticationResult" in _sign_in(idp, app, "kIM")
    # An alias signs in only once verified.
    with pytest.raises(ClientError) as exc:
        _sign_in(idp, app, "kim@example.com")
    assert _error(exc)[0] == "UserNotFoundException"
    idp.admin_update_user_attributes(
        UserPoolId=pool_id,
        Username="kim",
        UserAttributes=[{"Name": "email_verified", "Value": "true"}],
    )
    assert "AuthenticationResult" in _sign_in(idp, app, "kim@example.com")

    quiet = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="quiet",
        ExplicitAuthFlows=FLOWS,
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as exc:
        _sign_in(idp, quiet, "nobody")
    assert _error(exc) == ("NotAuthorizedException", "Incorrect username or password.")


def test_tags_mfa_and_refresh_with_secret(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    idp = client("cognito-idp")
    made = idp.create_user_pool(PoolName=unique("tags"), UserPoolTags={"a": "1"})["UserPool"]
    idp.tag_resource(ResourceArn=made["Arn"], Tags={"b": "2"})
    idp.untag_resource(ResourceArn=made["Arn"], TagKeys=["a"])
    assert idp.list_tags_for_resource(ResourceArn=made["Arn"])["Tags"] == {"b": "2"}
    assert idp.describe_user_pool(UserPoolId=made["Id"])["UserPool"]["UserPoolTags"] == {"b": "2"}

    mfa = idp.set_user_pool_mfa_config(
        UserPoolId=made["Id"],
        MfaConfiguration="OPTIONAL",
        SoftwareTokenMfaConfiguration={"Enabled": True},
    )
    assert mfa["MfaConfiguration"] == "OPTIONAL"
    got = idp.get_user_pool_mfa_config(UserPoolId=made["Id"])
    assert got["SoftwareTokenMfaConfiguration"] == {"Enabled": True}

    secret_client = idp.create_user_pool_client(
        UserPoolId=made["Id"],
        ClientName="s",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    _user(idp, made["Id"], "lee")
    digest = hmac.new(
        secret_client["ClientSecret"].encode(),
        ("lee" + secret_client["ClientId"]).encode(),
        hashlib.sha256,
    ).digest()
    tokens = idp.admin_initiate_auth(
        UserPoolId=made["Id"],
        ClientId=secret_client["ClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": "lee",
            "PASSWORD": PASSWORD,
            "SECRET_HASH": base64.b64encode(digest).decode(),
        },
    )["AuthenticationResult"]
    with pytest.raises(ClientError) as exc:
        idp.get_tokens_from_refresh_token(
            RefreshToken=tokens["RefreshToken"],
            ClientId=secret_client["ClientId"],
            ClientSecret="w" * 51,
        )
    assert _error(exc)[0] == "NotAuthorizedException"
    fresh = idp.get_tokens_from_refresh_token(
        RefreshToken=tokens["RefreshToken"],
        ClientId=secret_client["ClientId"],
        ClientSecret=secret_client["ClientSecret"],
    )["AuthenticationResult"]
    assert idp.get_user(AccessToken=fresh["AccessToken"])["Username"] == "lee"


@pytest.mark.clock
def test_expiry_on_the_clock(
    client: Callable[..., Any], unique: Callable[[str], str], endpoint: str
) -> None:
    idp = client("cognito-idp")
    pool_id, app = _pool(
        idp,
        unique("clock"),
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": {"TemporaryPasswordValidityDays": 1}},
    )

    def advance(seconds: float) -> None:
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10)

    _user(idp, pool_id, "max")
    tokens = _sign_in(idp, app, "max")["AuthenticationResult"]
    idp.sign_up(
        ClientId=app,
        Username="ned",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "ned@example.com"}],
    )
    code = requests.get(f"{endpoint}/_aws/cognito-idp/codes/{pool_id}/ned", timeout=10).json()[
        "codes"
    ]["confirm_sign_up"]
    idp.admin_create_user(
        UserPoolId=pool_id, Username="oli", TemporaryPassword="Temp0rary!", MessageAction="SUPPRESS"
    )

    advance(3601)
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=tokens["AccessToken"])
    assert _error(exc) == ("NotAuthorizedException", "Access Token has expired")
    refreshed = idp.initiate_auth(
        ClientId=app,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    assert idp.get_user(AccessToken=refreshed["AccessToken"])["Username"] == "max"

    advance(86400)
    with pytest.raises(ClientError) as exc:
        idp.confirm_sign_up(ClientId=app, Username="ned", ConfirmationCode=code)
    assert _error(exc) == (
        "ExpiredCodeException",
        "Invalid code provided, please request a code again.",
    )
    with pytest.raises(ClientError) as exc:
        _sign_in(idp, app, "oli", "Temp0rary!")
    assert _error(exc) == (
        "NotAuthorizedException",
        "Temporary password has expired and must be reset by an administrator.",
    )


def test_resource_servers_and_token_endpoint(
    client: Callable[..., Any], unique: Callable[[str], str], endpoint: str
) -> None:
    idp = client("cognito-idp")
    pool_id, _ = _pool(idp, unique("m2m"))
    server = idp.create_resource_server(
        UserPoolId=pool_id,
        Identifier="orders",
        Name="Orders",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}],
    )["ResourceServer"]
    assert server["Scopes"] == [{"ScopeName": "read", "ScopeDescription": "r"}]
    listed = idp.list_resource_servers(UserPoolId=pool_id, MaxResults=10)["ResourceServers"]
    assert [s["Identifier"] for s in listed] == ["orders"]
    with pytest.raises(ClientError) as exc:
        idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="m2m",
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=["orders/read"],
            AllowedOAuthFlowsUserPoolClient=True,
        )
    assert _error(exc)[0] == "InvalidOAuthFlowException"
    with pytest.raises(ClientError) as exc:
        idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="m2m",
            GenerateSecret=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=["orders/write"],
            AllowedOAuthFlowsUserPoolClient=True,
        )
    assert _error(exc) == ("ScopeDoesNotExistException", "Invalid scope requested: orders/write")
    machine = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="m2m",
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["orders/read"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    auth = (machine["ClientId"], machine["ClientSecret"])
    url = f"{endpoint}/{pool_id}/oauth2/token"
    got = requests.post(url, data={"grant_type": "client_credentials"}, auth=auth, timeout=10)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    config = requests.get(
        f"{endpoint}/{pool_id}/.well-known/openid-configuration", timeout=10
    ).json()
    keys = jwt.PyJWKClient(config["jwks_uri"])
    claims = jwt.decode(
        body["access_token"],
        keys.get_signing_key_from_jwt(body["access_token"]).key,
        algorithms=["RS256"],
        issuer=config["issuer"],
    )
    assert claims["scope"] == "orders/read" and claims["sub"] == machine["ClientId"]
    wrong = requests.post(
        url, data={"grant_type": "client_credentials"}, auth=(auth[0], "x"), timeout=10
    )
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_client"})
    bad_scope = requests.post(
        url,
        data={"grant_type": "client_credentials", "scope": "orders/write"},
        auth=auth,
        timeout=10,
    )
    assert bad_scope.json() == {"error": "invalid_scope"}
    # The pool's domain host answers too (as <domain>.auth.<region>.amazoncognito.com).
    domain = unique("m2m")
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    by_host = requests.post(
        f"{endpoint}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=auth,
        headers={"Host": f"{domain}.auth.us-east-1.amazoncognito.com"},
        timeout=10,
    )
    assert by_host.status_code == 200 and "access_token" in by_host.json()


def test_browser_sign_in_gets_cors_headers(
    client: Callable[..., Any], unique: Callable[[str], str], endpoint: str
) -> None:
    idp = client("cognito-idp")
    pool_id, app = _pool(idp, unique("spa"))
    _user(idp, pool_id, "web")
    origin = {"Origin": "http://app.example"}
    preflight = requests.options(
        endpoint,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    body: dict[str, Any] = {
        "ClientId": app,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": "web", "PASSWORD": PASSWORD},
    }
    answer = requests.post(
        endpoint,
        json=body,
        headers={
            **origin,
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "x-amzn-RequestId" in answer.headers["access-control-expose-headers"]
    assert "IdToken" in answer.json()["AuthenticationResult"]
