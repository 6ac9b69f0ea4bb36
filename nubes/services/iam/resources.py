"""IAM's CloudFormation resource types: roles, users, groups, their inline and managed policies,
instance profiles, access keys and group memberships."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nubes.core.resources import (
    Props,
    Provisioned,
    ResourceContext,
    ResourceType,
    as_json,
    integer,
)

Json = dict[str, Any]
GONE = ("NoSuchEntity", "NoSuchEntityException")


class _Principal:
    """What roles, users and groups share: inline policies and attached managed policies,
    through ``<Op>RolePolicy`` / ``<Op>UserPolicy`` / ``<Op>GroupPolicy``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key = f"{kind}Name"

    def inline(self, ctx: ResourceContext, name: str, new: list[Json], old: list[Json]) -> None:
        wanted = {p["PolicyName"]: as_json(p["PolicyDocument"]) for p in new}
        had = {p["PolicyName"]: as_json(p["PolicyDocument"]) for p in old}
        for policy, document in wanted.items():
            if had.get(policy) != document:
                ctx.call(
                    "iam",
                    f"Put{self.kind}Policy",
                    {self.key: name, "PolicyName": policy, "PolicyDocument": document},
                )
        for policy in had:
            if policy not in wanted:
                ctx.call_ignoring(
                    GONE, "iam", f"Delete{self.kind}Policy", {self.key: name, "PolicyName": policy}
                )

    def managed(self, ctx: ResourceContext, name: str, new: list[str], old: list[str]) -> None:
        for arn in new:
            if arn not in old:
                ctx.call("iam", f"Attach{self.kind}Policy", {self.key: name, "PolicyArn": arn})
        for arn in old:
            if arn not in new:
                ctx.call_ignoring(
                    GONE, "iam", f"Detach{self.kind}Policy", {self.key: name, "PolicyArn": arn}
                )

    def policies(self, ctx: ResourceContext, name: str, props: Props, old: Props) -> None:
        """The inline (``Policies``) and managed (``ManagedPolicyArns``) policies of a
        principal's template properties, changed from ``old`` to ``props``."""
        self.inline(ctx, name, props.get("Policies") or [], old.get("Policies") or [])
        self.managed(
            ctx, name, props.get("ManagedPolicyArns") or [], old.get("ManagedPolicyArns") or []
        )

    def clear(self, ctx: ResourceContext, name: str) -> None:
        """Everything that must go before the principal itself can be deleted."""
        kind = self.kind
        attached = ctx.call_ignoring(GONE, "iam", f"ListAttached{kind}Policies", {self.key: name})
        for policy in (attached or {}).get("AttachedPolicies", []):
            ctx.call_ignoring(
                GONE,
                "iam",
                f"Detach{kind}Policy",
                {self.key: name, "PolicyArn": policy["PolicyArn"]},
            )
        inline = ctx.call_ignoring(GONE, "iam", f"List{kind}Policies", {self.key: name})
        for policy in (inline or {}).get("PolicyNames", []):
            ctx.call_ignoring(
                GONE, "iam", f"Delete{kind}Policy", {self.key: name, "PolicyName": policy}
            )


def _retag(ctx: ResourceContext, kind: str, name: str, props: Props, old: Props) -> None:
    new = ctx.tags(props.get("Tags"))
    before = ctx.previous_tags(old.get("Tags"))
    if new == before:
        return
    gone = [t["Key"] for t in before if t["Key"] not in {n["Key"] for n in new}]
    key = f"{kind}Name"
    if gone:
        ctx.call("iam", f"Untag{kind}", {key: name, "TagKeys": gone})
    ctx.call("iam", f"Tag{kind}", {key: name, "Tags": new})


class Role(ResourceType):
    type_name = "AWS::IAM::Role"
    attributes = ("Arn", "RoleId")
    required = ("AssumeRolePolicyDocument",)
    replace_on = frozenset({"RoleName", "Path"})
    principal = _Principal("Role")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("RoleName") or ctx.physical_name(64)
        params: Json = {
            "RoleName": name,
            "AssumeRolePolicyDocument": as_json(props["AssumeRolePolicyDocument"]),
            "Path": props.get("Path", "/"),
            "Tags": ctx.tags(props.get("Tags")),
        }
        if "Description" in props:
            params["Description"] = props["Description"]
        if "MaxSessionDuration" in props:
            params["MaxSessionDuration"] = integer(props["MaxSessionDuration"])
        if "PermissionsBoundary" in props:
            params["PermissionsBoundary"] = props["PermissionsBoundary"]
        role = ctx.call("iam", "CreateRole", params)["Role"]
        self.principal.policies(ctx, name, props, {})
        return Provisioned(name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        if props["AssumeRolePolicyDocument"] != old_props.get("AssumeRolePolicyDocument"):
            ctx.call(
                "iam",
                "UpdateAssumeRolePolicy",
                {"RoleName": name, "PolicyDocument": as_json(props["AssumeRolePolicyDocument"])},
            )
        changes: Json = {}
        if props.get("Description") != old_props.get("Description"):
            changes["Description"] = props.get("Description", "")
        if props.get("MaxSessionDuration") != old_props.get("MaxSessionDuration"):
            changes["MaxSessionDuration"] = integer(props.get("MaxSessionDuration", 3600))
        if changes:
            ctx.call("iam", "UpdateRole", {"RoleName": name, **changes})
        boundary = props.get("PermissionsBoundary")
        if boundary != old_props.get("PermissionsBoundary"):
            if boundary:
                ctx.call(
                    "iam",
                    "PutRolePermissionsBoundary",
                    {"RoleName": name, "PermissionsBoundary": boundary},
                )
            else:
                ctx.call("iam", "DeleteRolePermissionsBoundary", {"RoleName": name})
        self.principal.policies(ctx, name, props, old_props)
        _retag(ctx, "Role", name, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        name = current.physical_id
        self.principal.clear(ctx, name)
        profiles = ctx.call_ignoring(GONE, "iam", "ListInstanceProfilesForRole", {"RoleName": name})
        for profile in (profiles or {}).get("InstanceProfiles", []):
            ctx.call_ignoring(
                GONE,
                "iam",
                "RemoveRoleFromInstanceProfile",
                {"InstanceProfileName": profile["InstanceProfileName"], "RoleName": name},
            )
        ctx.call_ignoring(GONE, "iam", "DeleteRole", {"RoleName": name})


class User(ResourceType):
    type_name = "AWS::IAM::User"
    attributes = ("Arn",)
    replace_on = frozenset({"UserName"})
    principal = _Principal("User")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("UserName") or ctx.physical_name(64)
        params: Json = {
            "UserName": name,
            "Path": props.get("Path", "/"),
            "Tags": ctx.tags(props.get("Tags")),
        }
        if "PermissionsBoundary" in props:
            params["PermissionsBoundary"] = props["PermissionsBoundary"]
        user = ctx.call("iam", "CreateUser", params)["User"]
        self._details(ctx, name, props, {})
        return Provisioned(name, attributes={"Arn": user["Arn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        if props.get("Path", "/") != old_props.get("Path", "/"):
            ctx.call("iam", "UpdateUser", {"UserName": name, "NewPath": props.get("Path", "/")})
        self._details(ctx, name, props, old_props)
        _retag(ctx, "User", name, props, old_props)
        return current

    def _details(self, ctx: ResourceContext, name: str, props: Props, old: Props) -> None:
        self.principal.policies(ctx, name, props, old)
        groups, old_groups = props.get("Groups") or [], old.get("Groups") or []
        for group in groups:
            if group not in old_groups:
                ctx.call("iam", "AddUserToGroup", {"GroupName": group, "UserName": name})
        for group in old_groups:
            if group not in groups:
                ctx.call_ignoring(
                    GONE, "iam", "RemoveUserFromGroup", {"GroupName": group, "UserName": name}
                )
        login, old_login = props.get("LoginProfile"), old.get("LoginProfile")
        if login != old_login:
            if login:
                ctx.call(
                    "iam",
                    "UpdateLoginProfile" if old_login else "CreateLoginProfile",
                    {
                        "UserName": name,
                        "Password": login["Password"],
                        "PasswordResetRequired": bool(login.get("PasswordResetRequired", False)),
                    },
                )
            else:
                ctx.call_ignoring(GONE, "iam", "DeleteLoginProfile", {"UserName": name})

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        name = current.physical_id
        self.principal.clear(ctx, name)
        groups = ctx.call_ignoring(GONE, "iam", "ListGroupsForUser", {"UserName": name})
        for group in (groups or {}).get("Groups", []):
            ctx.call_ignoring(
                GONE,
                "iam",
                "RemoveUserFromGroup",
                {"GroupName": group["GroupName"], "UserName": name},
            )
        keys = ctx.call_ignoring(GONE, "iam", "ListAccessKeys", {"UserName": name})
        for key in (keys or {}).get("AccessKeyMetadata", []):
            ctx.call_ignoring(
                GONE,
                "iam",
                "DeleteAccessKey",
                {"UserName": name, "AccessKeyId": key["AccessKeyId"]},
            )
        ctx.call_ignoring(GONE, "iam", "DeleteLoginProfile", {"UserName": name})
        ctx.call_ignoring(GONE, "iam", "DeleteUser", {"UserName": name})


class Group(ResourceType):
    type_name = "AWS::IAM::Group"
    attributes = ("Arn",)
    replace_on = frozenset({"GroupName"})
    principal = _Principal("Group")

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("GroupName") or ctx.physical_name(128)
        group = ctx.call("iam", "CreateGroup", {"GroupName": name, "Path": props.get("Path", "/")})
        self.principal.policies(ctx, name, props, {})
        return Provisioned(name, attributes={"Arn": group["Group"]["Arn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        if props.get("Path", "/") != old_props.get("Path", "/"):
            ctx.call("iam", "UpdateGroup", {"GroupName": name, "NewPath": props.get("Path", "/")})
        self.principal.policies(ctx, name, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        name = current.physical_id
        self.principal.clear(ctx, name)
        members = ctx.call_ignoring(GONE, "iam", "GetGroup", {"GroupName": name})
        for user in (members or {}).get("Users", []):
            ctx.call_ignoring(
                GONE,
                "iam",
                "RemoveUserFromGroup",
                {"GroupName": name, "UserName": user["UserName"]},
            )
        ctx.call_ignoring(GONE, "iam", "DeleteGroup", {"GroupName": name})


def _targets(props: Props) -> dict[tuple[str, str], _Principal]:
    """The roles, users and groups a policy resource names, by (kind, name)."""
    return {
        (kind, name): _Principal(kind)
        for kind, key in (("Role", "Roles"), ("User", "Users"), ("Group", "Groups"))
        for name in props.get(key) or []
    }


def _retarget(
    props: Props, old: Props, change: Callable[[_Principal, str, bool, bool], None]
) -> None:
    """``change(principal, name, wanted, had)`` for each principal named before or now."""
    new, had = _targets(props), _targets(old)
    for target, principal in {**had, **new}.items():
        change(principal, target[1], target in new, target in had)


class Policy(ResourceType):
    """An inline policy put on each role, user and group it names."""

    type_name = "AWS::IAM::Policy"
    attributes = ("Id",)
    required = ("PolicyName", "PolicyDocument")
    replace_on = frozenset({"PolicyName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        self._apply(ctx, props, {})
        physical = ctx.physical_name(64)
        return Provisioned(physical, attributes={"Id": physical})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._apply(ctx, props, old_props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        self._apply(ctx, {"PolicyName": props["PolicyName"]}, props)

    @staticmethod
    def _apply(ctx: ResourceContext, props: Props, old: Props) -> None:
        def change(principal: _Principal, name: str, wanted: bool, had: bool) -> None:
            entry = [{k: props[k] for k in ("PolicyName", "PolicyDocument")}] if wanted else []
            before = [{k: old[k] for k in ("PolicyName", "PolicyDocument")}] if had else []
            principal.inline(ctx, name, entry, before)

        _retarget(props, old, change)


class _NamedInline(ResourceType):
    """AWS::IAM::RolePolicy, UserPolicy, GroupPolicy: one inline policy of one principal."""

    kind = "Role"
    attributes = ()

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        principal = _Principal(self.kind)
        principal.inline(ctx, props[principal.key], [props], [])
        return Provisioned(f"{props['PolicyName']}|{props[principal.key]}")

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        principal = _Principal(self.kind)
        principal.inline(ctx, props[principal.key], [props], [old_props])
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        principal = _Principal(self.kind)
        principal.inline(ctx, props[principal.key], [], [props])


class RolePolicy(_NamedInline):
    type_name = "AWS::IAM::RolePolicy"
    kind = "Role"
    required = ("PolicyName", "RoleName", "PolicyDocument")
    replace_on = frozenset({"PolicyName", "RoleName"})


class UserPolicy(_NamedInline):
    type_name = "AWS::IAM::UserPolicy"
    kind = "User"
    required = ("PolicyName", "UserName", "PolicyDocument")
    replace_on = frozenset({"PolicyName", "UserName"})


class GroupPolicy(_NamedInline):
    type_name = "AWS::IAM::GroupPolicy"
    kind = "Group"
    required = ("PolicyName", "GroupName", "PolicyDocument")
    replace_on = frozenset({"PolicyName", "GroupName"})


class ManagedPolicy(ResourceType):
    type_name = "AWS::IAM::ManagedPolicy"
    attributes = (
        "PolicyArn",
        "PolicyId",
        "DefaultVersionId",
        "AttachmentCount",
        "IsAttachable",
        "CreateDate",
        "UpdateDate",
    )
    required = ("PolicyDocument",)
    replace_on = frozenset({"ManagedPolicyName", "Path", "Description"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("ManagedPolicyName") or ctx.physical_name(128)
        params: Json = {
            "PolicyName": name,
            "PolicyDocument": as_json(props["PolicyDocument"]),
            "Path": props.get("Path", "/"),
        }
        if "Description" in props:
            params["Description"] = props["Description"]
        policy = ctx.call("iam", "CreatePolicy", params)["Policy"]
        arn = policy["Arn"]
        self._attach(ctx, arn, props, {})
        return self._provisioned(ctx, arn)

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        arn = current.physical_id
        if props["PolicyDocument"] != old_props.get("PolicyDocument"):
            versions = ctx.call("iam", "ListPolicyVersions", {"PolicyArn": arn})["Versions"]
            old = [v for v in versions if not v["IsDefaultVersion"]]
            if len(versions) >= 5 and old:
                oldest = min(old, key=lambda v: v["CreateDate"])
                ctx.call(
                    "iam",
                    "DeletePolicyVersion",
                    {"PolicyArn": arn, "VersionId": oldest["VersionId"]},
                )
            ctx.call(
                "iam",
                "CreatePolicyVersion",
                {
                    "PolicyArn": arn,
                    "PolicyDocument": as_json(props["PolicyDocument"]),
                    "SetAsDefault": True,
                },
            )
        self._attach(ctx, arn, props, old_props)
        return self._provisioned(ctx, arn)

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        arn = current.physical_id
        self._attach(ctx, arn, {}, props)
        entities = ctx.call_ignoring(GONE, "iam", "ListEntitiesForPolicy", {"PolicyArn": arn})
        for kind, key, field in (
            ("Role", "PolicyRoles", "RoleName"),
            ("User", "PolicyUsers", "UserName"),
            ("Group", "PolicyGroups", "GroupName"),
        ):
            for entity in (entities or {}).get(key, []):
                ctx.call_ignoring(
                    GONE, "iam", f"Detach{kind}Policy", {field: entity[field], "PolicyArn": arn}
                )
        versions = ctx.call_ignoring(GONE, "iam", "ListPolicyVersions", {"PolicyArn": arn})
        for version in (versions or {}).get("Versions", []):
            if not version["IsDefaultVersion"]:
                ctx.call_ignoring(
                    GONE,
                    "iam",
                    "DeletePolicyVersion",
                    {"PolicyArn": arn, "VersionId": version["VersionId"]},
                )
        ctx.call_ignoring(GONE, "iam", "DeletePolicy", {"PolicyArn": arn})

    @staticmethod
    def _attach(ctx: ResourceContext, arn: str, props: Props, old: Props) -> None:
        def change(principal: _Principal, name: str, wanted: bool, had: bool) -> None:
            principal.managed(ctx, name, [arn] if wanted else [], [arn] if had else [])

        _retarget(props, old, change)

    @staticmethod
    def _provisioned(ctx: ResourceContext, arn: str) -> Provisioned:
        policy = ctx.call("iam", "GetPolicy", {"PolicyArn": arn})["Policy"]
        return Provisioned(
            arn,
            attributes={
                "PolicyArn": arn,
                "PolicyId": policy["PolicyId"],
                "DefaultVersionId": policy["DefaultVersionId"],
                "AttachmentCount": policy.get("AttachmentCount", 0),
                "IsAttachable": policy.get("IsAttachable", True),
                "CreateDate": str(policy.get("CreateDate", "")),
                "UpdateDate": str(policy.get("UpdateDate", "")),
            },
        )


class InstanceProfile(ResourceType):
    type_name = "AWS::IAM::InstanceProfile"
    attributes = ("Arn",)
    required = ("Roles",)
    replace_on = frozenset({"InstanceProfileName", "Path"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        name = props.get("InstanceProfileName") or ctx.physical_name(128)
        profile = ctx.call(
            "iam",
            "CreateInstanceProfile",
            {"InstanceProfileName": name, "Path": props.get("Path", "/")},
        )["InstanceProfile"]
        for role in props["Roles"]:
            ctx.call(
                "iam", "AddRoleToInstanceProfile", {"InstanceProfileName": name, "RoleName": role}
            )
        return Provisioned(name, attributes={"Arn": profile["Arn"]})

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        name = current.physical_id
        for role in old_props.get("Roles") or []:
            if role not in props["Roles"]:
                ctx.call_ignoring(
                    GONE,
                    "iam",
                    "RemoveRoleFromInstanceProfile",
                    {"InstanceProfileName": name, "RoleName": role},
                )
        for role in props["Roles"]:
            if role not in (old_props.get("Roles") or []):
                ctx.call(
                    "iam",
                    "AddRoleToInstanceProfile",
                    {"InstanceProfileName": name, "RoleName": role},
                )
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        name = current.physical_id
        for role in props.get("Roles") or []:
            ctx.call_ignoring(
                GONE,
                "iam",
                "RemoveRoleFromInstanceProfile",
                {"InstanceProfileName": name, "RoleName": role},
            )
        ctx.call_ignoring(GONE, "iam", "DeleteInstanceProfile", {"InstanceProfileName": name})


class AccessKey(ResourceType):
    type_name = "AWS::IAM::AccessKey"
    attributes = ("SecretAccessKey",)
    required = ("UserName",)
    replace_on = frozenset({"UserName", "Serial"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        key = ctx.call("iam", "CreateAccessKey", {"UserName": props["UserName"]})["AccessKey"]
        if props.get("Status", "Active") != "Active":
            self._status(ctx, key["AccessKeyId"], props)
        return Provisioned(
            key["AccessKeyId"], attributes={"SecretAccessKey": key["SecretAccessKey"]}
        )

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        self._status(ctx, current.physical_id, props)
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        ctx.call_ignoring(
            GONE,
            "iam",
            "DeleteAccessKey",
            {"UserName": props["UserName"], "AccessKeyId": current.physical_id},
        )

    @staticmethod
    def _status(ctx: ResourceContext, key_id: str, props: Props) -> None:
        ctx.call(
            "iam",
            "UpdateAccessKey",
            {
                "UserName": props["UserName"],
                "AccessKeyId": key_id,
                "Status": props.get("Status", "Active"),
            },
        )


class UserToGroupAddition(ResourceType):
    type_name = "AWS::IAM::UserToGroupAddition"
    required = ("GroupName", "Users")
    replace_on = frozenset({"GroupName"})

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
        for user in props["Users"]:
            ctx.call("iam", "AddUserToGroup", {"GroupName": props["GroupName"], "UserName": user})
        return Provisioned(ctx.physical_name(128))

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned:
        group = props["GroupName"]
        for user in old_props.get("Users") or []:
            if user not in props["Users"]:
                ctx.call_ignoring(
                    GONE, "iam", "RemoveUserFromGroup", {"GroupName": group, "UserName": user}
                )
        for user in props["Users"]:
            if user not in (old_props.get("Users") or []):
                ctx.call("iam", "AddUserToGroup", {"GroupName": group, "UserName": user})
        return current

    def delete(self, ctx: ResourceContext, current: Provisioned, props: Props) -> None:
        for user in props.get("Users") or []:
            ctx.call_ignoring(
                GONE,
                "iam",
                "RemoveUserFromGroup",
                {"GroupName": props["GroupName"], "UserName": user},
            )


TYPES: dict[str, type[ResourceType]] = {
    t.type_name: t
    for t in (
        Role,
        User,
        Group,
        Policy,
        RolePolicy,
        UserPolicy,
        GroupPolicy,
        ManagedPolicy,
        InstanceProfile,
        AccessKey,
        UserToGroupAddition,
    )
}
