"""AssumeRoleWithWebIdentity checks the ID token as STS does (STS API reference,
AssumeRoleWithWebIdentity; IAM user guide, "Create an OpenID Connect (OIDC) identity provider" and
"Obtain the thumbprint for an OpenID Connect identity provider"): the issuer must be an OIDC
provider of the account, its keys are read from ``<issuer>/.well-known/openid-configuration`` and
the ``jwks_uri`` it names over HTTPS (a certificate no trusted CA signed is accepted when the
thumbprint of the top certificate the server presents is in the ThumbprintList), the signature must
verify with the key the token's ``kid`` names, and audience and validity period must hold.

The identity provider here is an HTTPS server on 127.0.0.1 with a self-signed certificate.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.server import make_client
from tests.sts.oidc_idp import IdP, b64, serve_idp

Unique = Callable[[str], str]


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        answer = requests.post(f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10)
        answer.raise_for_status()

    return move


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdP]:
    with serve_idp(tmp_path_factory.mktemp("idp")) as provider:
        yield provider


def _register(client: Callable[..., Any], url: str, thumbprints: list[str]) -> None:
    iam = client("iam")
    arn = f"arn:aws:iam::000000000000:oidc-provider/{url.removeprefix('https://')}"
    try:
        iam.create_open_id_connect_provider(
            Url=url, ClientIDList=["my-app"], ThumbprintList=thumbprints
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=thumbprints
        )


def _role(client: Callable[..., Any], unique: Unique, idp: IdP) -> str:
    _register(client, idp.url, [idp.thumbprint])
    host = idp.url.removeprefix("https://")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::000000000000:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:aud": "my-app"}},
            }
        ],
    }
    out = client("iam").create_role(
        RoleName=unique("web"), AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(out["Role"]["Arn"])


@pytest.fixture
def role(client: Callable[..., Any], unique: Unique, idp: IdP) -> str:
    return _role(client, unique, idp)


def _claims(issuer: str, **more: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "aud": "my-app", "sub": "user-1", "iat": now, "exp": now + 600, **more}


def _assume(endpoint: str, role: str, token: str) -> dict[str, Any]:
    sts = make_client(endpoint, "sts")
    out: dict[str, Any] = sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="web", WebIdentityToken=token
    )
    return out


def _refused(endpoint: str, role: str, token: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        _assume(endpoint, role, token)
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_token_signed_by_the_providers_key_is_accepted(
    endpoint: str, role: str, idp: IdP, alg: str
) -> None:
    out = _assume(endpoint, role, idp.token(_claims(idp.url), alg=alg))
    host = idp.url.removeprefix("https://")
    assert out["SubjectFromWebIdentityToken"] == "user-1"
    assert out["Audience"] == "my-app"
    assert out["Provider"] == f"arn:aws:iam::000000000000:oidc-provider/{host}"
    assert out["AssumedRoleUser"]["Arn"].endswith("/web")
    creds = out["Credentials"]
    sts = make_client(
        endpoint,
        "sts",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert sts.get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]


def test_the_keys_are_fetched_once_and_cached(endpoint: str, role: str, idp: IdP) -> None:
    _assume(endpoint, role, idp.token(_claims(idp.url)))
    before = len(idp.fetches)
    _assume(endpoint, role, idp.token(_claims(idp.url), alg="ES256"))
    assert len(idp.fetches) == before


def test_tokens_the_provider_did_not_sign_are_refused(endpoint: str, role: str, idp: IdP) -> None:
    forged = idp.token(_claims(idp.url), key=rsa.generate_private_key(65537, 2048))
    assert _refused(endpoint, role, forged)[0] == "InvalidIdentityToken"
    forged_ec = idp.token(
        _claims(idp.url), alg="ES256", key=ec.generate_private_key(ec.SECP256R1())
    )
    assert _refused(endpoint, role, forged_ec)[0] == "InvalidIdentityToken"
    # A token whose claims were changed after signing.
    head, _, sig = idp.token(_claims(idp.url)).split(".")
    body = b64(json.dumps(_claims(idp.url, sub="admin")).encode())
    assert _refused(endpoint, role, f"{head}.{body}.{sig}")[0] == "InvalidIdentityToken"
    assert _refused(endpoint, role, idp.token(_claims(idp.url), kid="unknown-key")) == (
        "InvalidIdentityToken",
        "Couldn't retrieve verification key from your identity provider, please reference "
        "AssumeRoleWithWebIdentity documentation for requirements",
    )


def test_audience_and_validity_period_are_checked(endpoint: str, role: str, idp: IdP) -> None:
    wrong_audience = idp.token(_claims(idp.url, aud="someone-else"))
    assert _refused(endpoint, role, wrong_audience) == (
        "InvalidIdentityToken",
        "Incorrect token audience",
    )
    now = int(time.time())
    expired = idp.token(_claims(idp.url, iat=now - 7200, exp=now - 3600))
    assert _refused(endpoint, role, expired)[0] == "ExpiredTokenException"
    not_yet = idp.token(_claims(idp.url, nbf=now + 3600, exp=now + 7200))
    assert _refused(endpoint, role, not_yet)[0] == "InvalidIdentityToken"


def test_the_issuer_must_be_a_registered_provider_that_states_it(
    client: Callable[..., Any], endpoint: str, role: str, idp: IdP
) -> None:
    code, message = _refused(endpoint, role, idp.token(_claims("https://127.0.0.2:1/nowhere")))
    assert (code, message) == (
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://127.0.0.2:1/nowhere",
    )
    # A provider whose discovery document names another issuer than the token's.
    tenant = f"{idp.url}/tenant"
    idp.issuers["/tenant"] = f"{idp.url}/other-tenant"
    _register(client, tenant, [idp.thumbprint])
    assert _refused(endpoint, role, idp.token(_claims(tenant)))[0] == "InvalidIdentityToken"


def test_the_providers_certificate_must_match_a_thumbprint(
    client: Callable[..., Any], endpoint: str, role: str, idp: IdP
) -> None:
    pinned = f"{idp.url}/pinned"
    _register(client, pinned, ["0" * 40])
    assert _refused(endpoint, role, idp.token(_claims(pinned))) == (
        "InvalidIdentityToken",
        "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint",
    )


def test_an_unreachable_provider_is_an_idp_communication_error(
    client: Callable[..., Any], endpoint: str, role: str, idp: IdP
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"https://127.0.0.1:{port}"
    _register(client, closed, [idp.thumbprint])
    assert _refused(endpoint, role, idp.token(_claims(closed)))[0] == "IDPCommunicationError"


def test_unsigned_or_malformed_tokens_are_refused(endpoint: str, role: str, idp: IdP) -> None:
    claims = b64(json.dumps(_claims(idp.url)).encode())
    none = b64(b'{"alg":"none"}')
    for token in ("not-a-jwt", f"{none}.{claims}.", f"{none}.{claims}.c2ln"):
        code, message = _refused(endpoint, role, token)
        assert code == "InvalidIdentityToken"
        assert message.startswith("The ID Token provided is not a valid JWT.")


@pytest.mark.clock
def test_rotated_keys_are_fetched_again(
    client: Callable[..., Any],
    endpoint: str,
    unique: Unique,
    tmp_path: Path,
    advance: Callable[[float], None],
) -> None:
    with serve_idp(tmp_path) as idp:
        role = _role(client, unique, idp)
        # this server's clock runs ahead of the real one: tokens must outlive that
        far = {"exp": int(time.time()) + 10 * 365 * 86400}
        _assume(endpoint, role, idp.token(_claims(idp.url, **far)))
        fetched = len(idp.fetches)
        idp.rotate()
        rotated = idp.token(_claims(idp.url, **far))
        # a key id the cache lacks refetches the keys, but not more than twice a minute
        assert _refused(endpoint, role, rotated)[0] == "InvalidIdentityToken"
        assert len(idp.fetches) == fetched
        advance(31)
        _assume(endpoint, role, rotated)
        assert len(idp.fetches) == fetched + 2
        advance(301)
        _assume(endpoint, role, rotated)
        assert len(idp.fetches) == fetched + 4


def test_id_tokens_of_a_nubes_user_pool(
    client: Callable[..., Any], endpoint: str, unique: Unique
) -> None:
    """A Cognito user pool's issuer is AWS's host: STS reads the pool's keys from nubes' own
    Cognito, so its ID tokens federate as they do on AWS."""
    idp = client("cognito-idp")
    pool = idp.create_user_pool(PoolName=unique("pool"))["UserPool"]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="web", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="ann", MessageAction="SUPPRESS")
    password = "Correct-horse-9"
    idp.admin_set_user_password(UserPoolId=pool, Username="ann", Password=password, Permanent=True)
    tokens = idp.admin_initiate_auth(
        UserPoolId=pool,
        ClientId=app,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": password},
    )["AuthenticationResult"]
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{pool}"
    client("iam").create_open_id_connect_provider(
        Url=issuer, ClientIDList=[app], ThumbprintList=["0" * 40]
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": "arn:aws:iam::000000000000:oidc-provider/"
                    + issuer.removeprefix("https://")
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
    role = client("iam").create_role(
        RoleName=unique("pool-role"), AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    out = _assume(endpoint, role, tokens["IdToken"])
    assert out["Audience"] == app
    assert out["Provider"].endswith(f":oidc-provider/cognito-idp.us-east-1.amazonaws.com/{pool}")
    head, body, sig = tokens["IdToken"].split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    assert _refused(endpoint, role, forged)[0] == "InvalidIdentityToken"
