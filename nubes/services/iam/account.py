"""Account-wide IAM: alias, password policy, credential report, summary, authorization
details, and the SAML and OpenID Connect identity providers."""

from __future__ import annotations

import csv
import io
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.iam.common import (
    IamBase,
    aws_managed_arns,
    encoded,
    now,
    page_across,
    paginate_list,
    timestamp,
)
from nubes.services.iam.errors import errors

_PASSWORD_FIELDS = (
    "MinimumPasswordLength",
    "RequireSymbols",
    "RequireNumbers",
    "RequireUppercaseCharacters",
    "RequireLowercaseCharacters",
    "AllowUsersToChangePassword",
    "MaxPasswordAge",
    "PasswordReusePrevention",
    "HardExpiry",
)
_REPORT_COLUMNS = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    *(
        f"access_key_{i}_{field}"
        for i in (1, 2)
        for field in (
            "active",
            "last_rotated",
            "last_used_date",
            "last_used_region",
            "last_used_service",
        )
    ),
    *(f"cert_{i}_{field}" for i in (1, 2) for field in ("active", "last_rotated")),
]


def _iso(value: float | None) -> str:
    if not value:
        return "N/A"
    return timestamp(value).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class AccountOperations(IamBase):
    # -- alias ----------------------------------------------------------------------------------

    def create_account_alias(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        alias = req["AccountAlias"]
        taken = self.store.scalar(
            "SELECT account FROM iam_account WHERE key = 'alias' AND value = json_quote(?)",
            (alias,),
        )
        if taken is not None and taken != ctx.account_id:
            raise errors.EntityAlreadyExistsException(f"The account alias {alias} already exists.")
        self.iam.set_setting(ctx.account_id, "alias", alias)
        return {}

    def delete_account_alias(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        if self.iam.setting(ctx.account_id, "alias") != req["AccountAlias"]:
            raise errors.NoSuchEntityException(
                f"The account alias {req['AccountAlias']} cannot be found."
            )
        self.iam.set_setting(ctx.account_id, "alias", None)
        return {}

    def list_account_aliases(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        alias = self.iam.setting(ctx.account_id, "alias")
        return {"AccountAliases": [alias] if alias else [], "IsTruncated": False}

    # -- password policy ----------------------------------------------------------------------

    def update_account_password_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        policy: dict[str, Any] = {
            "MinimumPasswordLength": 6,
            "RequireSymbols": False,
            "RequireNumbers": False,
            "RequireUppercaseCharacters": False,
            "RequireLowercaseCharacters": False,
            "AllowUsersToChangePassword": False,
            "HardExpiry": False,
        }
        policy.update({k: req[k] for k in _PASSWORD_FIELDS if k in req})
        self.iam.set_setting(ctx.account_id, "password_policy", policy)
        return {}

    def get_account_password_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        policy = self.iam.setting(ctx.account_id, "password_policy")
        if policy is None:
            raise errors.NoSuchEntityException(
                f"The Password Policy with domain name {ctx.account_id} cannot be found."
            )
        return {"PasswordPolicy": {**policy, "ExpirePasswords": bool(policy.get("MaxPasswordAge"))}}

    def delete_account_password_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        if self.iam.setting(ctx.account_id, "password_policy") is None:
            raise errors.NoSuchEntityException(
                f"The Password Policy with domain name {ctx.account_id} cannot be found."
            )
        self.iam.set_setting(ctx.account_id, "password_policy", None)
        return {}

    def set_security_token_service_preferences(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        self.iam.set_setting(
            ctx.account_id, "global_endpoint_token_version", req["GlobalEndpointTokenVersion"]
        )
        return {}

    # -- credential report --------------------------------------------------------------------

    def generate_credential_report(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        first = self.iam.setting(ctx.account_id, "credential_report") is None
        self.iam.set_setting(
            ctx.account_id, "credential_report", {"at": now(), "csv": self._report(ctx)}
        )
        if first:
            return {
                "State": "STARTED",
                "Description": "No report exists. Starting a new report generation task",
            }
        return {"State": "COMPLETE"}

    def get_credential_report(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        report = self.iam.setting(ctx.account_id, "credential_report")
        if report is None:
            raise errors.CredentialReportNotPresentException(
                "Unknown: Credential report not present. Please run GenerateCredentialReport."
            )
        return {
            "Content": report["csv"].encode(),
            "ReportFormat": "text/csv",
            "GeneratedTime": timestamp(report["at"]),
        }

    def _report(self, ctx: RequestContext) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_REPORT_COLUMNS)
        acct = ctx.account_id
        root_created = self.iam.setting(acct, "created") or now()
        root_keys = self.iam.access_keys(acct, "")
        rows = [
            ("<root_account>", f"arn:{ctx.partition}:iam::{acct}:root", root_created, "", root_keys)
        ]
        for entity in self.iam.all(acct, "user"):
            keys = self.iam.access_keys(acct, entity.name)
            rows.append((entity.name, entity.arn, entity.created, entity.name, keys))
        for name, arn, created, user, keys in rows:
            login = self.iam.item(acct, "login", user.lower()) if user else None
            mfa = bool(self.iam.items(acct, "mfa-enabled", user)) if user else False
            certs = self.iam.items(acct, "signing-cert", user) if user else []
            line = [name, arn, _iso(created)]
            line += [
                "not_supported" if not user else str(bool(login)).lower(),
                "N/A",
                _iso(login["CreateDate"]) if login else "N/A",
                "N/A",
                str(mfa).lower(),
            ]
            for key in [*keys, None, None][:2]:
                if key is None:
                    line += ["false", "N/A", "N/A", "N/A", "N/A"]
                    continue
                line += [
                    str(key["status"] == "Active").lower(),
                    _iso(key["created"]),
                    _iso(key["last_used"]),
                    key["last_region"] or "N/A",
                    key["last_service"] or "N/A",
                ]
            for cert in [*certs, None, None][:2]:
                if cert is None:
                    line += ["false", "N/A"]
                    continue
                line += [str(cert["Status"] == "Active").lower(), _iso(cert["UploadDate"])]
            writer.writerow(line)
        return out.getvalue()

    # -- summaries ------------------------------------------------------------------------------

    def get_account_summary(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        acct = ctx.account_id
        mfa_in_use = len(self.iam.items(acct, "mfa-enabled"))
        summary = {
            "Users": self.iam.count(acct, "user"),
            "UsersQuota": 5000,
            "Groups": self.iam.count(acct, "group"),
            "GroupsQuota": 300,
            "Roles": self.iam.count(acct, "role"),
            "RolesQuota": 1000,
            "Policies": self.iam.count(acct, "policy"),
            "PoliciesQuota": 1500,
            "InstanceProfiles": self.iam.count(acct, "instance-profile"),
            "InstanceProfilesQuota": 1000,
            "ServerCertificates": len(self.iam.items(acct, "server-cert")),
            "ServerCertificatesQuota": 20,
            "MFADevices": len(self.iam.items(acct, "vmfa")),
            "MFADevicesInUse": mfa_in_use,
            "AccountMFAEnabled": 0,
            "AccountAccessKeysPresent": int(bool(self.iam.access_keys(acct, ""))),
            "AccountSigningCertificatesPresent": 0,
            "PolicySizeQuota": 6144,
            "PolicyVersionsInUse": int(
                self.store.scalar(
                    "SELECT count(*) FROM iam_policy_versions WHERE policy_arn LIKE ?",
                    (f"arn:%:iam::{acct}:%",),
                )
            ),
            "PolicyVersionsInUseQuota": 10000,
            "VersionsPerPolicyQuota": 5,
            "GroupsPerUserQuota": 10,
            "AttachedPoliciesPerUserQuota": 10,
            "AttachedPoliciesPerGroupQuota": 10,
            "AttachedPoliciesPerRoleQuota": 10,
            "AccessKeysPerUserQuota": 2,
            "SigningCertificatesPerUserQuota": 2,
            "UserPolicySizeQuota": 2048,
            "GroupPolicySizeQuota": 5120,
            "RolePolicySizeQuota": 10240,
            "AssumeRolePolicySizeQuota": 2048,
            "GlobalEndpointTokenVersion": 2
            if self.iam.setting(acct, "global_endpoint_token_version") == "v2Token"
            else 1,
        }
        return {"SummaryMap": summary}

    def _attached(self, acct: str, kind: str, name: str) -> list[dict[str, str]]:
        return [
            {"PolicyName": arn.rsplit("/", 1)[-1], "PolicyArn": arn}
            for arn in self.iam.targets(acct, f"attached:{kind}", name)
        ]

    def _inline_list(self, acct: str, kind: str, name: str) -> list[dict[str, str]]:
        return [
            {"PolicyName": n, "PolicyDocument": encoded(d)}
            for n, d in self.iam.inline(acct, kind, name).items()
        ]

    def get_account_authorization_details(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        acct = ctx.account_id
        wanted = set(
            req.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
        )
        out: dict[str, Any] = {
            "UserDetailList": [],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
        }
        if "User" in wanted:
            for user in self.iam.all(acct, "user"):
                detail = self.user_out(user, tags=True)
                detail.pop("PasswordLastUsed", None)
                detail["UserPolicyList"] = self._inline_list(acct, "user", user.name)
                detail["GroupList"] = self.iam.sources(acct, "member", user.name)
                detail["AttachedManagedPolicies"] = self._attached(acct, "user", user.name)
                out["UserDetailList"].append(detail)
        if "Group" in wanted:
            for group in self.iam.all(acct, "group"):
                detail = self.group_out(group)
                detail["GroupPolicyList"] = self._inline_list(acct, "group", group.name)
                detail["AttachedManagedPolicies"] = self._attached(acct, "group", group.name)
                out["GroupDetailList"].append(detail)
        if "Role" in wanted:
            for role in self.iam.all(acct, "role"):
                detail = self.role_out(role, tags=True, last_used=True)
                detail.pop("MaxSessionDuration", None)
                detail.pop("Description", None)
                detail["RolePolicyList"] = self._inline_list(acct, "role", role.name)
                detail["AttachedManagedPolicies"] = self._attached(acct, "role", role.name)
                detail["InstanceProfileList"] = [
                    self.profile_out(p)
                    for p in (
                        self.iam.get(acct, "instance-profile", n)
                        for n in self.iam.sources(acct, "profile_role", role.name)
                    )
                    if p is not None
                ]
                out["RoleDetailList"].append(detail)
        arns: list[str] = []
        if "LocalManagedPolicy" in wanted:
            arns += [e.arn for e in self.iam.all(acct, "policy")]
        if "AWSManagedPolicy" in wanted:
            arns += [
                a
                for a in aws_managed_arns(ctx.partition)
                if any(
                    self.iam.sources(acct, f"attached:{k}", a) for k in ("user", "group", "role")
                )
            ]
        for arn in arns:
            info = self.find_policy(ctx, arn)
            if info is None:
                continue
            detail = self.policy_out(ctx, info)
            if info["aws"]:
                versions = [(info["default"], self.policy_document(ctx, info), info["updated"])]
            else:
                versions = [
                    (r["version_id"], r["document"], r["created"]) for r in self.iam.versions(arn)
                ]
            detail["PolicyVersionList"] = [
                {
                    "Document": encoded(doc),
                    "VersionId": v,
                    "IsDefaultVersion": v == info["default"],
                    "CreateDate": timestamp(created),
                }
                for v, doc, created in versions
            ]
            out["Policies"].append(detail)
        return page_across(out, req)

    # -- SAML providers -------------------------------------------------------------------------

    def _saml(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        found = self.iam.item(ctx.account_id, "saml", arn)
        if found is None:
            raise errors.NoSuchEntityException(f"Manifest not found for arn {arn}")
        return found

    def create_saml_provider(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        arn = f"arn:{ctx.partition}:iam::{ctx.account_id}:saml-provider/{req['Name']}"
        if self.iam.item(ctx.account_id, "saml", arn) is not None:
            raise errors.EntityAlreadyExistsException(f"SAMLProvider {req['Name']} already exists")
        created = now()
        provider = {
            "arn": arn,
            "metadata": req["SAMLMetadataDocument"],
            "created": created,
            "valid_until": created + 100 * 365 * 86400,
        }
        self.iam.put_item(ctx.account_id, "saml", arn, "", provider)
        self.apply_tags(arn, req.get("Tags"))
        out: dict[str, Any] = {"SAMLProviderArn": arn}
        if req.get("Tags"):
            out["Tags"] = self.tag_list(arn)
        return out

    def get_saml_provider(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        provider = self._saml(ctx, req["SAMLProviderArn"])
        out: dict[str, Any] = {
            "SAMLMetadataDocument": provider["metadata"],
            "CreateDate": timestamp(provider["created"]),
            "ValidUntil": timestamp(provider["valid_until"]),
        }
        tags = self.tag_list(provider["arn"])
        if tags:
            out["Tags"] = tags
        return out

    def list_saml_providers(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {
            "SAMLProviderList": [
                {
                    "Arn": p["arn"],
                    "ValidUntil": timestamp(p["valid_until"]),
                    "CreateDate": timestamp(p["created"]),
                }
                for p in self.iam.items(ctx.account_id, "saml")
            ]
        }

    def update_saml_provider(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        provider = self._saml(ctx, req["SAMLProviderArn"])
        if req.get("SAMLMetadataDocument"):
            provider["metadata"] = req["SAMLMetadataDocument"]
        self.iam.put_item(ctx.account_id, "saml", provider["arn"], "", provider)
        return {"SAMLProviderArn": provider["arn"]}

    def delete_saml_provider(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        provider = self._saml(ctx, req["SAMLProviderArn"])
        self.iam.delete_item(ctx.account_id, "saml", provider["arn"])
        self.env.tags.drop(provider["arn"])
        return {}

    def tag_saml_provider(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.apply_tags(self._saml(ctx, req["SAMLProviderArn"])["arn"], req["Tags"])
        return {}

    def untag_saml_provider(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.remove_tags(self._saml(ctx, req["SAMLProviderArn"])["arn"], req["TagKeys"])
        return {}

    def list_saml_provider_tags(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        arn = self._saml(ctx, req["SAMLProviderArn"])["arn"]
        page, more = paginate_list(self.tag_list(arn), req, lambda t: t["Key"])
        return {"Tags": page, **more}

    # -- OpenID Connect providers ---------------------------------------------------------------

    def _oidc(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        found = self.iam.item(ctx.account_id, "oidc", arn)
        if found is None:
            raise errors.NoSuchEntityException(f"OpenIDConnect Provider not found for arn {arn}")
        return found

    def create_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        url = req["Url"]
        if not url.startswith("https://"):
            raise errors.ValidationError("Invalid Open ID Connect Provider URL")
        host = url[len("https://") :].rstrip("/")
        arn = f"arn:{ctx.partition}:iam::{ctx.account_id}:oidc-provider/{host}"
        if self.iam.item(ctx.account_id, "oidc", arn) is not None:
            raise errors.EntityAlreadyExistsException(f"Provider with url {url} already exists.")
        provider = {
            "arn": arn,
            "url": host,
            "client_ids": list(req.get("ClientIDList", [])),
            "thumbprints": list(req.get("ThumbprintList", [])),
            "created": now(),
        }
        self.iam.put_item(ctx.account_id, "oidc", arn, "", provider)
        self.apply_tags(arn, req.get("Tags"))
        out: dict[str, Any] = {"OpenIDConnectProviderArn": arn}
        if req.get("Tags"):
            out["Tags"] = self.tag_list(arn)
        return out

    def get_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        provider = self._oidc(ctx, req["OpenIDConnectProviderArn"])
        out: dict[str, Any] = {
            "Url": provider["url"],
            "ClientIDList": provider["client_ids"],
            "ThumbprintList": provider["thumbprints"],
            "CreateDate": timestamp(provider["created"]),
        }
        tags = self.tag_list(provider["arn"])
        if tags:
            out["Tags"] = tags
        return out

    def list_open_id_connect_providers(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "OpenIDConnectProviderList": [
                {"Arn": p["arn"]} for p in self.iam.items(ctx.account_id, "oidc")
            ]
        }

    def _update_oidc(self, ctx: RequestContext, req: dict[str, Any], change: Any) -> dict[str, Any]:
        provider = self._oidc(ctx, req["OpenIDConnectProviderArn"])
        change(provider)
        self.iam.put_item(ctx.account_id, "oidc", provider["arn"], "", provider)
        return {}

    def add_client_id_to_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        def add(p: dict[str, Any]) -> None:
            if req["ClientID"] not in p["client_ids"]:
                p["client_ids"].append(req["ClientID"])

        return self._update_oidc(ctx, req, add)

    def remove_client_id_from_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        def remove(p: dict[str, Any]) -> None:
            p["client_ids"] = [c for c in p["client_ids"] if c != req["ClientID"]]

        return self._update_oidc(ctx, req, remove)

    def update_open_id_connect_provider_thumbprint(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        def update(p: dict[str, Any]) -> None:
            p["thumbprints"] = list(req["ThumbprintList"])

        return self._update_oidc(ctx, req, update)

    def delete_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        provider = self._oidc(ctx, req["OpenIDConnectProviderArn"])
        self.iam.delete_item(ctx.account_id, "oidc", provider["arn"])
        self.env.tags.drop(provider["arn"])
        return {}

    def tag_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        self.apply_tags(self._oidc(ctx, req["OpenIDConnectProviderArn"])["arn"], req["Tags"])
        return {}

    def untag_open_id_connect_provider(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        self.remove_tags(self._oidc(ctx, req["OpenIDConnectProviderArn"])["arn"], req["TagKeys"])
        return {}

    def list_open_id_connect_provider_tags(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        arn = self._oidc(ctx, req["OpenIDConnectProviderArn"])["arn"]
        page, more = paginate_list(self.tag_list(arn), req, lambda t: t["Key"])
        return {"Tags": page, **more}
