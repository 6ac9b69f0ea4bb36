"""The resource a Cognito user pool request asks IAM about: the pool its ``UserPoolId`` (or,
for tags, its ``ResourceArn``) names, else ``*`` (CreateUserPool, ListUserPools, and the
operations AWS models without auth, which IAM does not judge)."""

from __future__ import annotations

from typing import Any

from nubes.core.context import RequestContext


def resource_arn(ctx: RequestContext, op: str, params: dict[str, Any]) -> str:
    if params.get("ResourceArn"):
        return str(params["ResourceArn"])
    pool_id = params.get("UserPoolId")
    if not pool_id:
        return "*"
    return f"arn:{ctx.partition}:cognito-idp:{ctx.region}:{ctx.account_id}:userpool/{pool_id}"
