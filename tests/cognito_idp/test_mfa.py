"""Authenticator-app MFA: a user sets up a software token (the code computed as an app does),
an OPTIONAL pool then asks for it at sign-in, a pool with MFA ON makes a new user set one up
first (MFA_SETUP). TOTP itself is checked against RFC 6238's test vector."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.services.cognito_idp import totp

PASSWORD = "Passw0rd!"


def test_totp_matches_rfc_6238() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59) == "287082"
    assert totp.code_at(secret, 1111111109) == "081804"


def _pool(idp: Any, name: str, mode: str) -> tuple[str, str]:
    pool_id = idp.create_user_pool(PoolName=name, MfaConfiguration=mode)["UserPool"]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="c",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool_id, Username="ann", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="ann", Password=PASSWORD, Permanent=True
    )
    return pool_id, app


def _sign_in(idp: Any, app: str) -> Any:
    return idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD},
    )


def test_optional_mfa_with_an_authenticator(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    idp = client("cognito-idp")
    pool_id, app = _pool(idp, unique("mfa"), "OPTIONAL")
    tokens = _sign_in(idp, app)["AuthenticationResult"]
    secret = idp.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    with pytest.raises(ClientError) as exc:
        idp.verify_software_token(AccessToken=tokens["AccessToken"], UserCode="000000")
    assert exc.value.response["Error"]["Code"] == "EnableSoftwareTokenMFAException"
    verified = idp.verify_software_token(
        AccessToken=tokens["AccessToken"], UserCode=totp.code_at(secret, time.time())
    )
    assert verified["Status"] == "SUCCESS"
    idp.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"],
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    me = idp.get_user(AccessToken=tokens["AccessToken"])
    assert me["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    asked = _sign_in(idp, app)
    assert asked["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    with pytest.raises(ClientError) as exc:
        idp.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=asked["Session"],
            ChallengeResponses={"USERNAME": "ann", "SOFTWARE_TOKEN_MFA_CODE": "000000"},
        )
    assert exc.value.response["Error"]["Code"] == "CodeMismatchException"
    asked = _sign_in(idp, app)
    done = idp.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=asked["Session"],
        ChallengeResponses={
            "USERNAME": "ann",
            "SOFTWARE_TOKEN_MFA_CODE": totp.code_at(secret, time.time()),
        },
    )
    assert "AccessToken" in done["AuthenticationResult"]
    idp.admin_set_user_mfa_preference(
        UserPoolId=pool_id, Username="ann", SoftwareTokenMfaSettings={"Enabled": False}
    )
    assert "AuthenticationResult" in _sign_in(idp, app)


def test_required_mfa_sets_up_at_first_sign_in(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    idp = client("cognito-idp")
    _, app = _pool(idp, unique("mfa-on"), "ON")
    asked = _sign_in(idp, app)
    assert asked["ChallengeName"] == "MFA_SETUP"
    associated = idp.associate_software_token(Session=asked["Session"])
    code = totp.code_at(associated["SecretCode"], time.time())
    verified = idp.verify_software_token(Session=associated["Session"], UserCode=code)
    done = idp.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="MFA_SETUP",
        Session=verified["Session"],
        ChallengeResponses={"USERNAME": "ann"},
    )
    assert "IdToken" in done["AuthenticationResult"]
    assert _sign_in(idp, app)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
