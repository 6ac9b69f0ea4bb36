"""A pool survives kill -9: its signing key (the JWKS answers the same key, tokens issued before
still verify), its users and their refresh tokens. Sign-in works under IAM enforcement, as the
operations AWS models without auth need no IAM permission."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import requests

from tests.server import NubesProcess

PASSWORD = "Passw0rd!"


def test_pool_key_and_tokens_survive_kill(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=True, env={"NUBES_ENFORCE_IAM": "1"})
    idp = server.client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName="durable")["UserPool"]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username="ann", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="ann", Password=PASSWORD, Permanent=True
    )
    tokens = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    jwks_url = f"/{pool_id}/.well-known/jwks.json"
    before = requests.get(server.endpoint + jwks_url, timeout=10).json()
    server.kill()

    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        after = requests.get(restarted.endpoint + jwks_url, timeout=10).json()
        assert after == before
        keys = jwt.PyJWKClient(restarted.endpoint + jwks_url)
        claims = jwt.decode(
            tokens["IdToken"],
            keys.get_signing_key_from_jwt(tokens["IdToken"]).key,
            algorithms=["RS256"],
            audience=app,
        )
        assert claims["cognito:username"] == "ann"
        refreshed = restarted.client("cognito-idp").initiate_auth(
            ClientId=app,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )["AuthenticationResult"]
        me = restarted.client("cognito-idp").get_user(AccessToken=refreshed["AccessToken"])
        assert me["Username"] == "ann"
    finally:
        restarted.stop()
