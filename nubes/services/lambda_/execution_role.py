"""The execution role's temporary credentials, as Lambda hands them to a function.

Lambda assumes the function's role (session name: the function's name) and puts the session's
keys in the environment of the execution environment. Here each worker gets a session when it
starts; the pool retires workers whose session is about to expire, so the next invocation
starts with fresh keys. A role that IAM does not know (a made-up ARN, usual in local tests)
leaves the function calling nubes as its account's root, as before IAM existed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nubes.core.arns import parse_arn
from nubes.protocol.base import ServiceError
from nubes.runtime.lambda_.workers import Credentials
from nubes.services.iam.policy import Caller, Request, evaluate, parse_policy
from nubes.services.lambda_.errors import errors

if TYPE_CHECKING:
    from nubes.app import Environment

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


class ExecutionRoles:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self._noted: set[tuple[str, str]] = set()
        """(function, role) pairs whose missing role the function's log already mentioned."""

    def reset(self) -> None:
        self._noted.clear()

    def check_assumable(self, role_arn: str, region: str) -> None:
        """CreateFunction and UpdateFunctionConfiguration refuse a role Lambda may not assume
        (IAM enforced only: locally a made-up role is fine)."""
        if not self.env.settings.enforce_iam:
            return
        role = self._role(role_arn, region)
        if role is None or not self._trusts_lambda(role_arn, role):
            raise errors.InvalidParameterValueException(
                "The role defined for the function cannot be assumed by Lambda."
            )

    def credentials(self, function_key: str, name: str, role_arn: str, region: str) -> Credentials:
        """A session of the role for a new worker of function ``name``."""
        role = self._role(role_arn, region)
        if role is None:
            return self._account_root(function_key, role_arn)
        if self.env.settings.enforce_iam and not self._trusts_lambda(role_arn, role):
            return _no_credentials(role_arn, f"its trust policy does not allow {LAMBDA_PRINCIPAL}")
        try:
            session = self.env.providers.invoke(
                "sts",
                "AssumeRole",
                {
                    "RoleArn": role_arn,
                    "RoleSessionName": name,
                    "DurationSeconds": role.get("MaxSessionDuration", 3600),
                },
                parse_arn(role_arn).account,
                region,
            )["Credentials"]
        except ServiceError as err:
            return _no_credentials(role_arn, f"{err.code}: {err.message}")
        return Credentials(
            env={
                "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                "AWS_SESSION_TOKEN": session["SessionToken"],
            },
            expires=session["Expiration"].timestamp(),
        )

    def _account_root(self, function_key: str, role_arn: str) -> Credentials:
        account = function_key.split(":", 1)[0]
        note = None
        if (function_key, role_arn) not in self._noted:
            self._noted.add((function_key, role_arn))
            note = (
                f"the execution role {role_arn} does not exist in IAM: the function "
                f"calls AWS as the root of account {account} instead of the role's session."
            )
        # A 12-digit access key is that account's root.
        return Credentials(
            env={"AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "test"}, note=note
        )

    def _role(self, role_arn: str, region: str) -> dict[str, Any] | None:
        try:
            arn = parse_arn(role_arn)
        except ValueError:
            return None
        if arn.service != "iam" or not arn.resource.startswith("role/"):
            return None
        try:
            found: dict[str, Any] = self.env.providers.invoke(
                "iam", "GetRole", {"RoleName": arn.resource.rsplit("/", 1)[-1]}, arn.account, region
            )["Role"]
        except ServiceError:
            return None
        return found

    def _trusts_lambda(self, role_arn: str, role: dict[str, Any]) -> bool:
        trust = parse_policy(unquote(role["AssumeRolePolicyDocument"]), "trust", validate=False)
        account = parse_arn(role_arn).account
        caller = Caller(LAMBDA_PRINCIPAL, account, "service", service=LAMBDA_PRINCIPAL)
        request = Request("sts:AssumeRole", role_arn, caller, {}, account)
        return evaluate(request, [], [("trust", trust)], resource_must_allow=True).allowed


def _no_credentials(role_arn: str, why: str) -> Credentials:
    return Credentials(
        env={},
        note=f"Lambda cannot assume the role {role_arn} ({why}): the function has no AWS "
        "credentials.",
    )
