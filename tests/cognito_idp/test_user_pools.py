"""Cognito user pools through boto3: pools, clients, groups and domains; users signing up and
confirming with the code nubes logs and serves, admin-created users through the
NEW_PASSWORD_REQUIRED challenge, sign-in by password, SRP and refresh token, tokens a JWT
library verifies against the pool's JWKS on nubes' port, sign-out revoking them."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

PASSWORD = "Passw0rd!"
# The client half of Cognito's SRP, written here from the published protocol (as Amplify and the
# SDKs compute it), independently of the server's code: RFC 5054's 3072-bit group, g = 2.
N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0B"
    "FF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55"
    "D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C"
    "08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458"
    "DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12F"
    "FA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB"
    "3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2


def _hex(value: int) -> str:
    text = format(value, "x")
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89abcdef" else text


def _h(hex_text: str) -> int:
    return int(hashlib.sha256(bytes.fromhex(hex_text)).hexdigest(), 16)


def _srp_key(a: int, b_hex: str, salt_hex: str, pool_name: str, user: str, password: str) -> bytes:
    big_a, big_b = pow(G, a, N), int(b_hex, 16)
    k = _h(_hex(N) + _hex(G))
    u = _h(_hex(big_a) + _hex(big_b))
    inner = hashlib.sha256(f"{pool_name}{user}:{password}".encode()).hexdigest()
    x = _h(_hex(int(salt_hex, 16)) + inner)
    s = pow((big_b - k * pow(G, x, N)) % N, a + u * x, N)
    prk = hmac.new(bytes.fromhex(_hex(u)), bytes.fromhex(_hex(s)), hashlib.sha256).digest()
    return hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture
def idp(client: Callable[..., Any]) -> Any:
    return client("cognito-idp")


@pytest.fixture
def pool(idp: Any, unique: Callable[[str], str]) -> dict[str, Any]:
    made = idp.create_user_pool(
        PoolName=unique("pool"),
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    return dict(made)


@pytest.fixture
def app(idp: Any, pool: dict[str, Any]) -> str:
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
    )["UserPoolClient"]
    return str(client["ClientId"])


def _confirmed(idp: Any, pool_id: str, name: str, **attrs: str) -> None:
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=name,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()],
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True
    )


def test_pool_lifecycle(idp: Any, unique: Callable[[str], str], client: Callable[..., Any]) -> None:
    name = unique("pool")
    made = idp.create_user_pool(
        PoolName=name,
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireSymbols": False}},
        UsernameAttributes=["email"],
        DeletionProtection="ACTIVE",
        Schema=[{"Name": "plan", "AttributeDataType": "String"}],
    )["UserPool"]
    pool_id = made["Id"]
    region, _, suffix = pool_id.partition("_")
    assert region == "us-east-1" and len(suffix) == 9
    assert made["Arn"].endswith(f":userpool/{pool_id}")
    policy = made["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == 10 and policy["RequireSymbols"] is False
    assert policy["RequireUppercase"] is True
    names = {a["Name"] for a in made["SchemaAttributes"]}
    assert {"sub", "email", "custom:plan"} <= names
    assert made["MfaConfiguration"] == "OFF"
    listed = idp.list_user_pools(MaxResults=60)["UserPools"]
    assert any(p["Id"] == pool_id and p["Name"] == name for p in listed)
    with pytest.raises(ClientError) as exc:
        idp.delete_user_pool(UserPoolId=pool_id)
    assert _code(exc)[0] == "InvalidParameterException"
    idp.update_user_pool(UserPoolId=pool_id, DeletionProtection="INACTIVE")
    described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert described["DeletionProtection"] == "INACTIVE"
    idp.delete_user_pool(UserPoolId=pool_id)
    with pytest.raises(ClientError) as exc:
        idp.describe_user_pool(UserPoolId=pool_id)
    assert _code(exc) == ("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    other_region = client("cognito-idp", region="eu-west-1")
    assert all(p["Id"] != pool_id for p in other_region.list_user_pools(MaxResults=60)["UserPools"])
    kept = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    with pytest.raises(ClientError) as exc:
        other_region.describe_user_pool(UserPoolId=kept)
    assert _code(exc)[0] == "ResourceNotFoundException"


def test_list_user_pools_pages(idp: Any, unique: Callable[[str], str]) -> None:
    for _ in range(3):
        idp.create_user_pool(PoolName=unique("paged"))
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 2}
    while True:
        page = idp.list_user_pools(**kwargs)
        assert len(page["UserPools"]) <= 2
        seen += [p["Id"] for p in page["UserPools"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert len(seen) == len(set(seen)) >= 3


def test_clients(idp: Any, pool: dict[str, Any]) -> None:
    made = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="backend",
        GenerateSecret=True,
        AccessTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes"},
    )["UserPoolClient"]
    assert len(made["ClientId"]) == 26 and len(made["ClientSecret"]) == 51
    assert made["ExplicitAuthFlows"] == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_CUSTOM_AUTH",
    ]
    assert made["RefreshTokenValidity"] == 30
    got = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=made["ClientId"])
    assert got["UserPoolClient"]["ClientSecret"] == made["ClientSecret"]
    updated = idp.update_user_pool_client(
        UserPoolId=pool["Id"], ClientId=made["ClientId"], ClientName="renamed"
    )["UserPoolClient"]
    assert updated["ClientName"] == "renamed" and "AccessTokenValidity" not in updated
    listed = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=10)["UserPoolClients"]
    assert [c["ClientName"] for c in listed] == ["renamed"]
    with pytest.raises(ClientError) as exc:
        idp.create_user_pool_client(
            UserPoolId=pool["Id"],
            ClientName="bad",
            AccessTokenValidity=2,
            TokenValidityUnits={"AccessToken": "days"},
        )
    assert _code(exc)[0] == "InvalidParameterException"
    idp.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=made["ClientId"])
    with pytest.raises(ClientError) as exc:
        idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=made["ClientId"])
    assert _code(exc)[0] == "ResourceNotFoundException"


def test_sign_up_confirm_and_sign_in(
    idp: Any, pool: dict[str, Any], app: str, endpoint: str
) -> None:
    with pytest.raises(ClientError) as exc:
        idp.sign_up(ClientId=app, Username="ann", Password="short")
    assert _code(exc) == (
        "InvalidPasswordException",
        "Password did not conform with policy: Password not long enough",
    )
    with pytest.raises(ClientError) as exc:
        idp.sign_up(ClientId=app, Username="ann", Password="alllowercase1!")
    assert _code(exc)[1].endswith("Password must have uppercase characters")
    signed = idp.sign_up(
        ClientId=app,
        Username="ann",
        Password=PASSWORD,
        UserAttributes=[
            {"Name": "email", "Value": "ann@example.com"},
            {"Name": "custom:tier", "Value": "gold"},
        ],
    )
    assert signed["UserConfirmed"] is False
    assert signed["CodeDeliveryDetails"] == {
        "Destination": "a***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    with pytest.raises(ClientError) as exc:
        idp.sign_up(ClientId=app, Username="ann", Password=PASSWORD)
    assert _code(exc) == ("UsernameExistsException", "User already exists")
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD},
        )
    assert _code(exc) == ("UserNotConfirmedException", "User is not confirmed.")
    with pytest.raises(ClientError) as exc:
        idp.confirm_sign_up(ClientId=app, Username="ann", ConfirmationCode="000000x")
    assert _code(exc)[0] == "CodeMismatchException"
    codes = requests.get(f"{endpoint}/_aws/cognito-idp/codes/{pool['Id']}/ann", timeout=10).json()
    idp.confirm_sign_up(
        ClientId=app, Username="ann", ConfirmationCode=codes["codes"]["confirm_sign_up"]
    )
    user = idp.admin_get_user(UserPoolId=pool["Id"], Username="ann")
    assert user["UserStatus"] == "CONFIRMED"
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attrs["email_verified"] == "true" and attrs["custom:tier"] == "gold"
    assert attrs["sub"] == signed["UserSub"]

    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann", "PASSWORD": "Wrong0ne!"},
        )
    assert _code(exc) == ("NotAuthorizedException", "Incorrect username or password.")
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody", "PASSWORD": PASSWORD},
        )
    assert _code(exc) == ("UserNotFoundException", "User does not exist.")
    result = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
    me = idp.get_user(AccessToken=result["AccessToken"])
    assert me["Username"] == "ann"


def test_tokens_verify_against_jwks(
    idp: Any, pool: dict[str, Any], app: str, endpoint: str
) -> None:
    pool_id = pool["Id"]
    _confirmed(idp, pool_id, "bo", email="bo@example.com", email_verified="true")
    idp.create_group(UserPoolId=pool_id, GroupName="admins", Precedence=1)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username="bo", GroupName="admins")
    result = idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=app,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bo", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    config = requests.get(
        f"{endpoint}/{pool_id}/.well-known/openid-configuration", timeout=10
    ).json()
    assert config["issuer"] == issuer
    keys = jwt.PyJWKClient(config["jwks_uri"])
    id_token = result["IdToken"]
    claims = jwt.decode(
        id_token,
        keys.get_signing_key_from_jwt(id_token).key,
        algorithms=["RS256"],
        audience=app,
        issuer=issuer,
    )
    assert claims["token_use"] == "id" and claims["cognito:username"] == "bo"
    assert claims["email"] == "bo@example.com" and claims["email_verified"] is True
    assert claims["cognito:groups"] == ["admins"]
    assert claims["exp"] - claims["iat"] == 3600
    access = jwt.decode(
        result["AccessToken"],
        keys.get_signing_key_from_jwt(result["AccessToken"]).key,
        algorithms=["RS256"],
        issuer=issuer,
    )
    assert access["token_use"] == "access" and access["client_id"] == app
    assert access["scope"] == "aws.cognito.signin.user.admin"
    assert access["origin_jti"] == claims["origin_jti"] and access["sub"] == claims["sub"]
    for field in ("jti", "event_id", "auth_time"):
        assert field in access

    refreshed = idp.initiate_auth(
        ClientId=app,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    assert (
        jwt.decode(refreshed["IdToken"], options={"verify_signature": False})["origin_jti"]
        == claims["origin_jti"]
    )

    idp.global_sign_out(AccessToken=refreshed["AccessToken"])
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
        )
    assert _code(exc)[0] == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=result["AccessToken"])
    assert _code(exc) == ("NotAuthorizedException", "Access Token has been revoked")


def test_admin_created_user_new_password_challenge(
    idp: Any, pool: dict[str, Any], app: str
) -> None:
    pool_id = pool["Id"]
    made = idp.admin_create_user(
        UserPoolId=pool_id,
        Username="cy",
        TemporaryPassword="Temp0rary!",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "cy@example.com"}],
    )["User"]
    assert made["UserStatus"] == "FORCE_CHANGE_PASSWORD" and made["Enabled"] is True
    with pytest.raises(ClientError) as exc:
        idp.admin_create_user(UserPoolId=pool_id, Username="cy", MessageAction="SUPPRESS")
    assert _code(exc) == ("UsernameExistsException", "User account already exists")
    started = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "cy", "PASSWORD": "Temp0rary!"},
    )
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert started["ChallengeParameters"]["USER_ID_FOR_SRP"] == "cy"
    with pytest.raises(ClientError) as exc:
        idp.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=started["Session"],
            ChallengeResponses={"USERNAME": "cy", "NEW_PASSWORD": "weak"},
        )
    assert _code(exc)[0] == "InvalidPasswordException"
    again = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "cy", "PASSWORD": "Temp0rary!"},
    )
    done = idp.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=again["Session"],
        ChallengeResponses={"USERNAME": "cy", "NEW_PASSWORD": "N3w-Password"},
    )
    assert "IdToken" in done["AuthenticationResult"]
    assert idp.admin_get_user(UserPoolId=pool_id, Username="cy")["UserStatus"] == "CONFIRMED"

    idp.admin_disable_user(UserPoolId=pool_id, Username="cy")
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "cy", "PASSWORD": "N3w-Password"},
        )
    assert _code(exc) == ("NotAuthorizedException", "User is disabled.")
    idp.admin_enable_user(UserPoolId=pool_id, Username="cy")
    idp.admin_delete_user(UserPoolId=pool_id, Username="cy")
    with pytest.raises(ClientError) as exc:
        idp.admin_get_user(UserPoolId=pool_id, Username="cy")
    assert _code(exc) == ("UserNotFoundException", "User does not exist.")


def _srp_sign_in(idp: Any, pool_id: str, app: str, username: str, password: str) -> Any:
    """The client half of USER_SRP_AUTH as the SDKs compute it."""
    a = secrets.randbelow(N - 2) + 1
    started = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": username, "SRP_A": format(pow(G, a, N), "x")},
    )
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    params = started["ChallengeParameters"]
    user_id = params["USER_ID_FOR_SRP"]
    pool_name = pool_id.split("_", 1)[1]
    key = _srp_key(a, params["SRP_B"], params["SALT"], pool_name, user_id, password)
    now = datetime.datetime.now(datetime.UTC)
    timestamp = now.strftime("%a %b ") + str(now.day) + now.strftime(" %H:%M:%S UTC %Y")
    message = (
        pool_name.encode()
        + user_id.encode()
        + base64.b64decode(params["SECRET_BLOCK"])
        + timestamp.encode()
    )
    signature = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    return idp.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses={
            "USERNAME": user_id,
            "PASSWORD_CLAIM_SECRET_BLOCK": params["SECRET_BLOCK"],
            "PASSWORD_CLAIM_SIGNATURE": signature,
            "TIMESTAMP": timestamp,
        },
    )


def test_srp_sign_in(idp: Any, pool: dict[str, Any], app: str) -> None:
    _confirmed(idp, pool["Id"], "dee")
    done = _srp_sign_in(idp, pool["Id"], app, "dee", PASSWORD)
    assert "AccessToken" in done["AuthenticationResult"]
    with pytest.raises(ClientError) as exc:
        _srp_sign_in(idp, pool["Id"], app, "dee", "Not-the-passw0rd")
    assert _code(exc) == ("NotAuthorizedException", "Incorrect username or password.")


def test_secret_hash_and_flows(idp: Any, pool: dict[str, Any]) -> None:
    made = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="secret",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    client_id, secret = made["ClientId"], made["ClientSecret"]
    _confirmed(idp, pool["Id"], "eve")
    digest = hmac.new(secret.encode(), ("eve" + client_id).encode(), hashlib.sha256).digest()
    good = base64.b64encode(digest).decode()
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "eve", "PASSWORD": PASSWORD, "SECRET_HASH": "bad"},
        )
    assert _code(exc) == (
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {client_id}",
    )
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "eve", "PASSWORD": PASSWORD, "SECRET_HASH": good},
    )
    assert "AccessToken" in result["AuthenticationResult"]
    with pytest.raises(ClientError) as exc:
        idp.admin_initiate_auth(
            UserPoolId=pool["Id"],
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "eve", "PASSWORD": PASSWORD, "SECRET_HASH": good},
        )
    assert _code(exc) == ("InvalidParameterException", "Auth flow not enabled for this client")


def test_groups_and_list_users(idp: Any, pool: dict[str, Any]) -> None:
    pool_id = pool["Id"]
    for name, email in (
        ("fay", "fay@a.example"),
        ("gus", "gus@b.example"),
        ("fin", "fin@a.example"),
    ):
        _confirmed(idp, pool_id, name, email=email)
    idp.admin_disable_user(UserPoolId=pool_id, Username="gus")
    group = idp.create_group(UserPoolId=pool_id, GroupName="staff", Description="d")["Group"]
    assert group["GroupName"] == "staff"
    with pytest.raises(ClientError) as exc:
        idp.create_group(UserPoolId=pool_id, GroupName="staff")
    assert _code(exc) == ("GroupExistsException", "A group with the name staff already exists.")
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username="fay", GroupName="staff")
    members = idp.list_users_in_group(UserPoolId=pool_id, GroupName="staff")["Users"]
    assert [u["Username"] for u in members] == ["fay"]
    groups = idp.admin_list_groups_for_user(UserPoolId=pool_id, Username="fay")["Groups"]
    assert [g["GroupName"] for g in groups] == ["staff"]
    assert [g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]] == ["staff"]

    def names(filter_text: str) -> list[str]:
        users = idp.list_users(UserPoolId=pool_id, Filter=filter_text)["Users"]
        return sorted(u["Username"] for u in users)

    assert names('email ^= "f"') == ["fay", "fin"]
    assert names('username = "gus"') == ["gus"]
    assert names('status = "Disabled"') == ["gus"]
    assert names('cognito:user_status = "CONFIRMED"') == ["fay", "fin", "gus"]
    with pytest.raises(ClientError) as exc:
        idp.list_users(UserPoolId=pool_id, Filter="email contains x")
    assert _code(exc)[0] == "InvalidParameterException"
    page = idp.list_users(UserPoolId=pool_id, Limit=2)
    rest = idp.list_users(UserPoolId=pool_id, Limit=2, PaginationToken=page["PaginationToken"])
    assert len(page["Users"]) + len(rest["Users"]) == 3
    idp.delete_group(UserPoolId=pool_id, GroupName="staff")
    with pytest.raises(ClientError) as exc:
        idp.get_group(UserPoolId=pool_id, GroupName="staff")
    assert _code(exc) == ("ResourceNotFoundException", "Group not found.")


def test_passwords_and_attributes(idp: Any, pool: dict[str, Any], app: str, endpoint: str) -> None:
    pool_id = pool["Id"]
    _confirmed(idp, pool_id, "hal", email="hal@example.com", email_verified="true")

    def sign_in(password: str) -> dict[str, Any]:
        return dict(
            idp.initiate_auth(
                ClientId=app,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "hal", "PASSWORD": password},
            )["AuthenticationResult"]
        )

    tokens = sign_in(PASSWORD)
    with pytest.raises(ClientError) as exc:
        idp.change_password(
            AccessToken=tokens["AccessToken"],
            PreviousPassword="Wrong-pass1",
            ProposedPassword="Chang3d!pw",
        )
    assert _code(exc)[0] == "NotAuthorizedException"
    idp.change_password(
        AccessToken=tokens["AccessToken"], PreviousPassword=PASSWORD, ProposedPassword="Chang3d!pw"
    )
    tokens = sign_in("Chang3d!pw")
    sent = idp.forgot_password(ClientId=app, Username="hal")["CodeDeliveryDetails"]
    assert sent["DeliveryMedium"] == "EMAIL"
    codes = requests.get(f"{endpoint}/_aws/cognito-idp/codes/{pool_id}/hal", timeout=10).json()
    idp.confirm_forgot_password(
        ClientId=app,
        Username="hal",
        ConfirmationCode=codes["codes"]["forgot_password"],
        Password="Reset-Passw0rd",
    )
    tokens = sign_in("Reset-Passw0rd")
    idp.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "name", "Value": "Hal"}]
    )
    idp.admin_update_user_attributes(
        UserPoolId=pool_id, Username="hal", UserAttributes=[{"Name": "custom:tier", "Value": "x"}]
    )
    attrs = {
        a["Name"]: a["Value"]
        for a in idp.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]
    }
    assert attrs["name"] == "Hal" and attrs["custom:tier"] == "x"
    with pytest.raises(ClientError) as exc:
        idp.admin_update_user_attributes(
            UserPoolId=pool_id,
            Username="hal",
            UserAttributes=[{"Name": "custom:nope", "Value": "x"}],
        )
    assert _code(exc)[0] == "InvalidParameterException"
    idp.admin_user_global_sign_out(UserPoolId=pool_id, Username="hal")
    with pytest.raises(ClientError) as exc:
        idp.get_user(AccessToken=tokens["AccessToken"])
    assert _code(exc)[0] == "NotAuthorizedException"
    tokens = sign_in("Reset-Passw0rd")
    idp.delete_user(AccessToken=tokens["AccessToken"])
    with pytest.raises(ClientError) as exc:
        idp.admin_get_user(UserPoolId=pool_id, Username="hal")
    assert _code(exc)[0] == "UserNotFoundException"


def test_email_as_username(idp: Any, unique: Callable[[str], str]) -> None:
    pool_id = idp.create_user_pool(PoolName=unique("email"), UsernameAttributes=["email"])[
        "UserPool"
    ]["Id"]
    app = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="c",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as exc:
        idp.sign_up(ClientId=app, Username="notanemail", Password=PASSWORD)
    assert _code(exc) == ("InvalidParameterException", "Username should be an email.")
    sub = idp.sign_up(ClientId=app, Username="ivy@example.com", Password=PASSWORD)["UserSub"]
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username="ivy@example.com")
    user = idp.admin_get_user(UserPoolId=pool_id, Username="ivy@example.com")
    assert user["Username"] == sub
    result = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ivy@example.com", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
    assert claims["cognito:username"] == sub and claims["email"] == "ivy@example.com"


def test_domain(idp: Any, pool: dict[str, Any], unique: Callable[[str], str]) -> None:
    domain = unique("auth")
    idp.create_user_pool_domain(UserPoolId=pool["Id"], Domain=domain)
    desc = idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]
    assert desc["UserPoolId"] == pool["Id"] and desc["Status"] == "ACTIVE"
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Domain"] == domain
    idp.delete_user_pool_domain(UserPoolId=pool["Id"], Domain=domain)
    assert idp.describe_user_pool_domain(Domain=domain)["DomainDescription"] == {}


def test_reset_resend_and_revoke(idp: Any, pool: dict[str, Any], app: str, endpoint: str) -> None:
    pool_id = pool["Id"]
    _confirmed(idp, pool_id, "jo", email="jo@example.com", email_verified="true")
    idp.admin_reset_user_password(UserPoolId=pool_id, Username="jo")
    assert idp.admin_get_user(UserPoolId=pool_id, Username="jo")["UserStatus"] == "RESET_REQUIRED"
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "jo", "PASSWORD": PASSWORD},
        )
    assert _code(exc)[0] == "PasswordResetRequiredException"
    codes = requests.get(f"{endpoint}/_aws/cognito-idp/codes/{pool_id}/jo", timeout=10).json()
    idp.confirm_forgot_password(
        ClientId=app,
        Username="jo",
        ConfirmationCode=codes["codes"]["forgot_password"],
        Password="Fresh-Passw0rd",
    )
    tokens = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "jo", "PASSWORD": "Fresh-Passw0rd"},
    )["AuthenticationResult"]
    idp.revoke_token(Token=tokens["RefreshToken"], ClientId=app)
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
    assert _code(exc) == ("NotAuthorizedException", "Invalid Refresh Token")

    idp.sign_up(
        ClientId=app,
        Username="kit",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "kit@example.com"}],
    )
    first = requests.get(f"{endpoint}/_aws/cognito-idp/codes/{pool_id}/kit", timeout=10).json()
    sent = idp.resend_confirmation_code(ClientId=app, Username="kit")["CodeDeliveryDetails"]
    assert sent["AttributeName"] == "email"
    second = requests.get(f"{endpoint}/_aws/cognito-idp/codes/{pool_id}/kit", timeout=10).json()
    code = second["codes"]["confirm_sign_up"]
    if first["codes"]["confirm_sign_up"] != code:
        with pytest.raises(ClientError) as exc:
            idp.confirm_sign_up(
                ClientId=app, Username="kit", ConfirmationCode=first["codes"]["confirm_sign_up"]
            )
        assert _code(exc)[0] == "CodeMismatchException"
    idp.confirm_sign_up(ClientId=app, Username="kit", ConfirmationCode=code)
    assert idp.admin_get_user(UserPoolId=pool_id, Username="kit")["UserStatus"] == "CONFIRMED"


def test_malformed_input_gets_errors_not_failures(idp: Any, pool: dict[str, Any], app: str) -> None:
    _confirmed(idp, pool["Id"], "zed")
    attempts: list[Callable[[], Any]] = [
        lambda: idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "zed", "SRP_A": "not-hex"},
        ),
        lambda: idp.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={
                "USERNAME": "zed",
                "PASSWORD_CLAIM_SECRET_BLOCK": "é",
                "PASSWORD_CLAIM_SIGNATURE": "é",
                "TIMESTAMP": "x",
            },
        ),
        lambda: idp.get_user(AccessToken="a.b.c"),
        lambda: idp.get_user(AccessToken="é"),
        lambda: idp.initiate_auth(
            ClientId=app,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": "é"},
        ),
        lambda: idp.list_users(UserPoolId=pool["Id"], PaginationToken="!!"),
        lambda: idp.confirm_sign_up(ClientId=app, Username="zed", ConfirmationCode="é"),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as exc:
            attempt()
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
