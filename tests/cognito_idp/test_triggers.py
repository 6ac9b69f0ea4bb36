"""A pool's Lambda triggers run real functions: PreSignUp confirms users of one domain and
refuses another, PostConfirmation sees the confirmed user, PreAuthentication refuses a user,
PostAuthentication follows a password sign-in, PreTokenGeneration adds a claim, suppresses one
and overrides the groups in the ID token; CUSTOM_AUTH asks a question until answered."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from tests.apigateway.conftest import ROLE, zipped

PASSWORD = "Passw0rd!"
TRIGGER = """
import json
def handler(event, context):
    source = event["triggerSource"]
    print("EVENT " + json.dumps(event))
    if source == "PreSignUp_SignUp":
        email = event["request"]["userAttributes"].get("email", "")
        if email.endswith("@blocked.example"):
            raise Exception("domain not allowed")
        if email.endswith("@trusted.example"):
            event["response"]["autoConfirmUser"] = True
            event["response"]["autoVerifyEmail"] = True
    if source.startswith("TokenGeneration_"):
        event["response"]["claimsOverrideDetails"] = {
            "claimsToAddOrOverride": {"tenant": "acme", "iss": "forged"},
            "claimsToSuppress": ["email"],
            "groupOverrideDetails": {"groupsToOverride": ["from-trigger"]},
        }
    if source == "PreAuthentication_Authentication" and event["userName"] == "frozen":
        raise Exception("frozen")
    if source == "PostConfirmation_ConfirmSignUp":
        status = event["request"]["userAttributes"]["cognito:user_status"]
        if status != "CONFIRMED":
            raise Exception("not confirmed: " + status)
    return event
"""


def test_sign_up_and_token_triggers(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    lam = client("lambda")
    function = lam.create_function(
        FunctionName=unique("trigger"),
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped({"app.py": TRIGGER})},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    idp = client("cognito-idp")
    pool = idp.create_user_pool(
        PoolName=unique("triggers"),
        LambdaConfig={
            "PreSignUp": function,
            "PostConfirmation": function,
            "PreTokenGeneration": function,
            "PreAuthentication": function,
            "PostAuthentication": function,
        },
    )["UserPool"]
    app = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]

    with pytest.raises(ClientError) as exc:
        idp.sign_up(
            ClientId=app,
            Username="mallory",
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "m@blocked.example"}],
        )
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "UserLambdaValidationException",
        "PreSignUp failed with error domain not allowed.",
    )
    with pytest.raises(ClientError):
        idp.admin_get_user(UserPoolId=pool["Id"], Username="mallory")

    signed = idp.sign_up(
        ClientId=app,
        Username="trent",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "t@trusted.example"}],
    )
    assert signed["UserConfirmed"] is True and "CodeDeliveryDetails" not in signed
    user = idp.admin_get_user(UserPoolId=pool["Id"], Username="trent")
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]

    result = idp.initiate_auth(
        ClientId=app,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "trent", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
    assert claims["tenant"] == "acme" and "email" not in claims
    assert claims["iss"].endswith(pool["Id"])
    assert claims["cognito:groups"] == ["from-trigger"]
    refreshed = idp.initiate_auth(
        ClientId=app,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
    )["AuthenticationResult"]
    again = jwt.decode(refreshed["IdToken"], options={"verify_signature": False})
    assert again["tenant"] == "acme"
    logs = client("logs")
    group = f"/aws/lambda/{function.rsplit(':', 1)[-1]}"
    messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    sources = [
        json.loads(m.split("EVENT ", 1)[1])["triggerSource"] for m in messages if "EVENT " in m
    ]
    assert sources.count("PostConfirmation_ConfirmSignUp") == 1
    assert "TokenGeneration_RefreshTokens" in sources
    # One password sign-in: one PreAuthentication and one PostAuthentication (not on refresh).
    assert sources.count("PreAuthentication_Authentication") == 1
    assert sources.count("PostAuthentication_Authentication") == 1

    idp.admin_create_user(UserPoolId=pool["Id"], Username="frozen", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool["Id"], Username="frozen", Password=PASSWORD, Permanent=True
    )
    with pytest.raises(ClientError) as exc:
        idp.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "frozen", "PASSWORD": PASSWORD},
        )
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "UserLambdaValidationException",
        "PreAuthentication failed with error frozen.",
    )


CUSTOM = """
def handler(event, context):
    source = event["triggerSource"]
    request, response = event["request"], event["response"]
    if source == "DefineAuthChallenge_Authentication":
        session = request["session"]
        if session and session[-1]["challengeResult"]:
            response["issueTokens"] = True
        elif len(session) >= 2:
            response["failAuthentication"] = True
        else:
            response["challengeName"] = "CUSTOM_CHALLENGE"
    elif source == "CreateAuthChallenge_Authentication":
        response["publicChallengeParameters"] = {"question": "6 * 7"}
        response["privateChallengeParameters"] = {"answer": "42"}
        response["challengeMetadata"] = "QUESTION"
    elif source == "VerifyAuthChallengeResponse_Authentication":
        expected = request["privateChallengeParameters"]["answer"]
        response["answerCorrect"] = request["challengeAnswer"] == expected
    return event
"""


def test_custom_auth_challenges(client: Callable[..., Any], unique: Callable[[str], str]) -> None:
    lam = client("lambda")
    function = lam.create_function(
        FunctionName=unique("custom"),
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zipped({"app.py": CUSTOM})},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    idp = client("cognito-idp")
    pool_id = idp.create_user_pool(
        PoolName=unique("custom"),
        LambdaConfig={
            "DefineAuthChallenge": function,
            "CreateAuthChallenge": function,
            "VerifyAuthChallengeResponse": function,
        },
    )["UserPool"]["Id"]
    app = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"][
        "ClientId"
    ]
    idp.admin_create_user(UserPoolId=pool_id, Username="quiz", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username="quiz", Password=PASSWORD, Permanent=True
    )

    def start() -> Any:
        return idp.initiate_auth(
            ClientId=app, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "quiz"}
        )

    def answer(session: str, text: str) -> Any:
        return idp.respond_to_auth_challenge(
            ClientId=app,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=session,
            ChallengeResponses={"USERNAME": "quiz", "ANSWER": text},
        )

    asked = start()
    assert asked["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert asked["ChallengeParameters"] == {"question": "6 * 7", "USERNAME": "quiz"}
    again = answer(asked["Session"], "41")
    assert again["ChallengeName"] == "CUSTOM_CHALLENGE"
    done = answer(again["Session"], "42")
    assert "IdToken" in done["AuthenticationResult"]

    asked = start()
    again = answer(asked["Session"], "1")
    with pytest.raises(ClientError) as exc:
        answer(again["Session"], "2")
    assert exc.value.response["Error"]["Code"] == "NotAuthorizedException"
