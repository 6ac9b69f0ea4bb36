"""STS with enforcement off (the default): identities, temporary credentials and their
limits, federation through configured identity providers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import make_client

Unique = Callable[[str], str]
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
)


def session_client(endpoint: str, service: str, creds: dict[str, Any]) -> Any:
    return make_client(
        endpoint,
        service,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    )


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture
def role(client: Callable[..., Any], unique: Unique) -> dict[str, Any]:
    result: dict[str, Any] = client("iam").create_role(
        RoleName=unique("role"), AssumeRolePolicyDocument=TRUST, MaxSessionDuration=7200
    )["Role"]
    return result


def test_caller_identity_of_root_and_account_keys(
    client: Callable[..., Any], endpoint: str
) -> None:
    assert client("sts").get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    other = make_client(endpoint, "sts", aws_access_key_id="123456789012")
    found = other.get_caller_identity()
    assert found["Account"] == "123456789012" and found["UserId"] == "123456789012"


def test_caller_identity_of_an_iam_user(
    client: Callable[..., Any], endpoint: str, unique: Unique
) -> None:
    iam = client("iam")
    name = unique("user")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    found = session_client(endpoint, "sts", key).get_caller_identity()
    assert found == {
        **found,
        "UserId": user["UserId"],
        "Arn": user["Arn"],
        "Account": "000000000000",
    }
    assert client("sts").get_access_key_info(AccessKeyId=key["AccessKeyId"])["Account"] == (
        "000000000000"
    )


def test_assume_role(client: Callable[..., Any], endpoint: str, role: dict[str, Any]) -> None:
    out = client("sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="sess", DurationSeconds=7200
    )
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    assert creds["SessionToken"]
    assert user == {
        "AssumedRoleId": f"{role['RoleId']}:sess",
        "Arn": f"arn:aws:sts::000000000000:assumed-role/{role['RoleName']}/sess",
    }
    found = session_client(endpoint, "sts", creds).get_caller_identity()
    assert found["Arn"] == user["Arn"] and found["UserId"] == user["AssumedRoleId"]
    last_used = client("iam").get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert last_used["Region"] == "us-east-1"


def test_duration_bounds(client: Callable[..., Any], role: dict[str, Any]) -> None:
    sts = client("sts")
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=7201)
    assert error(exc) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=900)


def test_role_chaining_is_limited_to_one_hour(
    client: Callable[..., Any], endpoint: str, role: dict[str, Any]
) -> None:
    creds = client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="first")["Credentials"]
    chained = session_client(endpoint, "sts", creds)
    with pytest.raises(ClientError) as exc:
        chained.assume_role(RoleArn=role["Arn"], RoleSessionName="second", DurationSeconds=3601)
    assert error(exc) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
        "role chaining.",
    )
    second = chained.assume_role(RoleArn=role["Arn"], RoleSessionName="second")
    assert second["AssumedRoleUser"]["Arn"].endswith("/second")


def test_session_tags_and_source_identity(
    client: Callable[..., Any], endpoint: str, role: dict[str, Any]
) -> None:
    out = client("sts").assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="tagged",
        Tags=[{"Key": "project", "Value": "x"}, {"Key": "cost", "Value": "y"}],
        TransitiveTagKeys=["project"],
        SourceIdentity="alice",
    )
    assert out["SourceIdentity"] == "alice" and out["PackedPolicySize"] >= 0
    chained = session_client(endpoint, "sts", out["Credentials"])
    with pytest.raises(ClientError) as exc:
        chained.assume_role(
            RoleArn=role["Arn"], RoleSessionName="again", Tags=[{"Key": "project", "Value": "z"}]
        )
    assert error(exc)[0] == "InvalidParameterValue"
    again = chained.assume_role(RoleArn=role["Arn"], RoleSessionName="again")
    assert again["SourceIdentity"] == "alice"
    with pytest.raises(ClientError) as exc:
        client("sts").assume_role(
            RoleArn=role["Arn"],
            RoleSessionName="bad",
            Tags=[{"Key": "a", "Value": "b"}],
            TransitiveTagKeys=["missing"],
        )
    assert error(exc)[0] == "InvalidParameterValue"


def test_session_policy_must_be_valid(client: Callable[..., Any], role: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as exc:
        client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss", Policy="{")
    assert error(exc) == ("MalformedPolicyDocument", "Syntax errors in policy.")


def test_session_and_federation_tokens(
    client: Callable[..., Any], endpoint: str, unique: Unique
) -> None:
    iam = client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sts = session_client(endpoint, "sts", key)
    token = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert token["AccessKeyId"].startswith("ASIA")
    assert (
        session_client(endpoint, "sts", token).get_caller_identity()["Arn"].endswith(f"user/{name}")
    )
    fed = sts.get_federation_token(
        Name="visitor",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    assert fed["FederatedUser"] == {
        "FederatedUserId": "000000000000:visitor",
        "Arn": "arn:aws:sts::000000000000:federated-user/visitor",
    }
    found = session_client(endpoint, "sts", fed["Credentials"]).get_caller_identity()
    assert found["Arn"] == "arn:aws:sts::000000000000:federated-user/visitor"
    with pytest.raises(ClientError) as exc:
        session_client(endpoint, "sts", token).get_session_token()
    assert error(exc)[0] == "AccessDenied"


def test_assume_role_with_saml_requires_the_provider(
    endpoint: str, role: dict[str, Any], unique: Unique
) -> None:
    missing = f"arn:aws:iam::000000000000:saml-provider/{unique('nope')}"
    with pytest.raises(ClientError) as exc:
        make_client(endpoint, "sts").assume_role_with_saml(
            RoleArn=role["Arn"],
            PrincipalArn=missing,
            SAMLAssertion=base64.b64encode(SAML.encode()).decode(),
        )
    assert error(exc)[0] == "InvalidIdentityToken"
    assert missing in error(exc)[1]


SAML = "".join(
    (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ',
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">',
        "<saml:Issuer>https://idp.example.com</saml:Issuer><saml:Assertion><saml:Subject>",
        '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">jdoe',
        "</saml:NameID></saml:Subject><saml:Conditions><saml:AudienceRestriction>",
        "<saml:Audience>https://signin.aws.amazon.com/saml</saml:Audience>",
        "</saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement>",
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">',
        "<saml:AttributeValue>jdoe@example.com</saml:AttributeValue></saml:Attribute>",
        "</saml:AttributeStatement></saml:Assertion></samlp:Response>",
    )
)


def test_assume_role_with_saml(
    client: Callable[..., Any], endpoint: str, role: dict[str, Any], unique: Unique
) -> None:
    provider = client("iam").create_saml_provider(
        Name=unique("saml"), SAMLMetadataDocument="m" * 1000
    )["SAMLProviderArn"]
    out = make_client(endpoint, "sts").assume_role_with_saml(
        RoleArn=role["Arn"],
        PrincipalArn=provider,
        SAMLAssertion=base64.b64encode(SAML.encode()).decode(),
    )
    assert out["Subject"] == "jdoe" and out["SubjectType"] == "persistent"
    assert out["Issuer"] == "https://idp.example.com"
    assert out["AssumedRoleUser"]["Arn"].endswith("/jdoe@example.com")


def test_decode_authorization_message(client: Callable[..., Any]) -> None:
    message = base64.b64encode(json.dumps({"allowed": False}).encode()).decode()
    decoded = client("sts").decode_authorization_message(EncodedMessage=message)
    assert json.loads(decoded["DecodedMessage"]) == {"allowed": False}
    with pytest.raises(ClientError) as exc:
        client("sts").decode_authorization_message(EncodedMessage="%%%")
    assert error(exc)[0] == "InvalidAuthorizationMessageException"


def test_any_credentials_work_without_enforcement(endpoint: str) -> None:
    anyone = make_client(
        endpoint, "sts", aws_access_key_id="AKIANOTAREALKEY00000", aws_secret_access_key="nope"
    )
    assert anyone.get_caller_identity()["Account"] == "000000000000"
