"""The authorization code grant of a pool's managed login, as a web app drives it: the sign-in
form, a wrong then a right password, the redirect to the callback with the code and state, the
code traded (PKCE S256) for tokens a JWT library verifies, userInfo, and a code used twice."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

PASSWORD = "Passw0rd!"
CALLBACK = "http://localhost:3000/callback"


def test_authorization_code_with_pkce(
    client: Callable[..., Any], unique: Callable[[str], str], endpoint: str
) -> None:
    idp = client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName=unique("hosted"))["UserPool"]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username="ann",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "ann@example.com"}],
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="ann", Password=PASSWORD, Permanent=True
    )
    config = requests.get(
        f"{endpoint}/{pool_id}/.well-known/openid-configuration", timeout=10
    ).json()
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    params = {
        "response_type": "code",
        "client_id": app,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "xyz",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    form_page = requests.get(config["authorization_endpoint"], params=params, timeout=10)
    assert form_page.status_code == 200 and "<form" in form_page.text
    mismatch = requests.get(
        config["authorization_endpoint"],
        params={**params, "redirect_uri": "http://evil.example/"},
        timeout=10,
    )
    assert mismatch.json() == {"error": "redirect_mismatch"}
    login = f"{endpoint}/{pool_id}/login"
    wrong = requests.post(login, data={**params, "username": "ann", "password": "nope"}, timeout=10)
    assert wrong.status_code == 200 and "Incorrect username or password." in wrong.text
    signed = requests.post(
        login,
        data={**params, "username": "ann", "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 302
    location = urlsplit(signed.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    trade = {
        "grant_type": "authorization_code",
        "client_id": app,
        "code": query["code"][0],
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    tokens = requests.post(config["token_endpoint"], data=trade, timeout=10).json()
    keys = jwt.PyJWKClient(config["jwks_uri"])
    claims = jwt.decode(
        tokens["id_token"],
        keys.get_signing_key_from_jwt(tokens["id_token"]).key,
        algorithms=["RS256"],
        audience=app,
        issuer=config["issuer"],
    )
    assert claims["nonce"] == "n-1" and claims["email"] == "ann@example.com"
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["scope"] == "openid email"
    info = requests.get(
        config["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    assert info["email"] == "ann@example.com" and info["username"] == "ann"
    again = requests.post(config["token_endpoint"], data=trade, timeout=10)
    assert again.json() == {"error": "invalid_grant"}
    refreshed = requests.post(
        config["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "client_id": app,
            "refresh_token": tokens["refresh_token"],
        },
        timeout=10,
    ).json()
    assert "access_token" in refreshed
