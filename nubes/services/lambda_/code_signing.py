"""Code signing configurations: recorded and attached to functions; nubes does not verify
signatures (deployment packages are never signed locally)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from nubes.core.arns import arn as make_arn
from nubes.core.context import RequestContext
from nubes.services.lambda_ import configuration as cfg
from nubes.services.lambda_.errors import errors
from nubes.services.lambda_.models import Scope

if TYPE_CHECKING:
    from nubes.services.lambda_.models import LambdaModel

KIND = "code-signing-config"
ACCOUNT_LEVEL = ""
"""Code signing configurations belong to the account: kept under no function name."""


def _scope(ctx: RequestContext) -> Scope:
    return Scope(ctx.account_id, ctx.region)


class CodeSigningConfigs:
    """Mixed into the Lambda provider."""

    model: LambdaModel
    env: Any

    def create_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        config_id = f"csc-{secrets.token_hex(9)[:17]}"
        doc = {
            "CodeSigningConfigId": config_id,
            "CodeSigningConfigArn": make_arn(
                "lambda", scope.region, scope.account, f"code-signing-config:{config_id}"
            ),
            "Description": req.get("Description") or "",
            "AllowedPublishers": req["AllowedPublishers"],
            "CodeSigningPolicies": req.get("CodeSigningPolicies")
            or {"UntrustedArtifactOnDeployment": "Warn"},
            "LastModified": cfg.timestamp(),
        }
        self.model.put_setting(scope, ACCOUNT_LEVEL, KIND, config_id, doc)
        if req.get("Tags"):
            self.env.tags.set(doc["CodeSigningConfigArn"], req["Tags"])
        return {"CodeSigningConfig": doc}

    def code_signing_config(self, scope: Scope, config_arn: str) -> dict[str, Any]:
        doc = self.model.setting(scope, ACCOUNT_LEVEL, KIND, config_arn.rsplit(":", 1)[-1])
        if doc is None:
            raise errors.CodeSigningConfigNotFoundException(
                f"Code signing configuration {config_arn} does not exist.", Type="User"
            )
        return doc

    def get_code_signing_config(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {
            "CodeSigningConfig": self.code_signing_config(_scope(ctx), req["CodeSigningConfigArn"])
        }

    def update_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        doc = self.code_signing_config(scope, req["CodeSigningConfigArn"])
        for member in ("Description", "AllowedPublishers", "CodeSigningPolicies"):
            if member in req:
                doc[member] = req[member]
        doc["LastModified"] = cfg.timestamp()
        self.model.put_setting(scope, ACCOUNT_LEVEL, KIND, doc["CodeSigningConfigId"], doc)
        return {"CodeSigningConfig": doc}

    def delete_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        doc = self.code_signing_config(scope, req["CodeSigningConfigArn"])
        if self._functions_using(scope, doc["CodeSigningConfigArn"]):
            raise errors.ResourceConflictException(
                "The code signing configuration cannot be deleted because it is used by one or "
                "more functions.",
                Type="User",
            )
        self.model.delete_setting(scope, ACCOUNT_LEVEL, KIND, doc["CodeSigningConfigId"])
        self.env.tags.drop(doc["CodeSigningConfigArn"])
        return {}

    def list_code_signing_configs(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        configs = self.model.settings(_scope(ctx), ACCOUNT_LEVEL, KIND)
        return {"CodeSigningConfigs": configs[: req.get("MaxItems") or 50]}

    def list_functions_by_code_signing_config(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        scope = _scope(ctx)
        doc = self.code_signing_config(scope, req["CodeSigningConfigArn"])
        return {"FunctionArns": self._functions_using(scope, doc["CodeSigningConfigArn"])}

    def _functions_using(self, scope: Scope, config_arn: str) -> list[str]:
        return [
            scope.function_arn(name)
            for name in self.model.function_names(scope)
            if (self.model.setting(scope, name, "code-signing", "") or {}).get("arn") == config_arn
        ]
