"""Users and user groups (ElastiCache RBAC for redis and valkey): a replication group given a
user group has those users on every node, as a redis ACL file (``users.acl``) that nubes
rewrites and reloads (ACL LOAD) whenever a user or the group changes."""

from __future__ import annotations

import re
from typing import Any

from nubes.core.context import RequestContext
from nubes.runtime.elasticache.nodes import ACL_FILE
from nubes.services.elasticache.errors import errors
from nubes.services.elasticache.groups import ADMIN, send
from nubes.services.elasticache.records import Scope, check_tags, public
from nubes.services.elasticache.serverless import Serverless

Json = dict[str, Any]
_USER_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
RBAC_ENGINES = ("redis", "valkey")
_RULE = re.compile(
    r"^(on|off|allkeys|allchannels|allcommands|nocommands|resetkeys|resetchannels|"
    r"~\S+|%(R|W|RW)~\S+|&\S+|[+-]@?[A-Za-z0-9|_-]+)$"
)


def _access_string(value: str) -> str:
    """An access string: redis ACL rules (``on ~app:* -@all +@read``); passwords are not."""
    rules = value.split()
    if not rules or not all(_RULE.match(r) for r in rules):
        raise errors.InvalidParameterValueException(f"Invalid access string: {value}")
    return value


def _builtin(ctx: Scope, arn: str) -> Json:
    """The user every account has: ``default``, all access, no password."""
    return {
        "UserId": "default",
        "UserName": "default",
        "Status": "active",
        "Engine": "redis",
        "MinimumEngineVersion": "6.0",
        "AccessString": "on ~* +@all",
        "Authentication": {"Type": "no-password"},
        "ARN": arn,
        "_passwords": [],
    }


def _authentication(req: Json) -> tuple[str, list[str]]:
    mode = req.get("AuthenticationMode") or {}
    passwords = mode.get("Passwords") or req.get("Passwords") or []
    kind = mode.get("Type") or (
        "no-password-required" if req.get("NoPasswordRequired") else "password"
    )
    if kind == "iam":
        raise errors.InvalidParameterValueException(
            "IAM authentication needs IAM-signed tokens, which nubes' nodes do not check."
        )
    if kind == "no-password-required":
        if passwords:
            raise errors.InvalidParameterCombinationException(
                "No password is allowed when NoPasswordRequired is true."
            )
        return "no-password", []
    if not 1 <= len(passwords) <= 2:
        raise errors.InvalidParameterValueException(
            "Passwords must be given (one or two) unless NoPasswordRequired is true."
        )
    for password in passwords:
        if not 16 <= len(password) <= 128 or any(c.isspace() for c in password):
            raise errors.InvalidParameterValueException(
                "Passwords must be 16 to 128 printable characters without spaces."
            )
    return "password", list(passwords)


class Users(Serverless):
    # -- users ----------------------------------------------------------------------------

    def _user(self, ctx: Scope, user_id: str) -> Json:
        if user_id == "default":
            return _builtin(ctx, self._arn(ctx, "user", "default"))
        doc = self._get(ctx, "user", user_id)
        if doc is None:
            raise errors.UserNotFoundFault(f"User {user_id} not found.")
        return doc

    def _show_user(self, ctx: Scope, doc: Json) -> Json:
        shown = public(doc)
        shown["UserGroupIds"] = [
            g["UserGroupId"] for g in self._all(ctx, "usergroup") if doc["UserId"] in g["UserIds"]
        ]
        return shown

    def create_user(self, ctx: RequestContext, req: Json) -> Json:
        user_id = req["UserId"]
        if not _USER_ID.match(user_id) or len(user_id) > 40:
            raise errors.InvalidParameterValueException(
                "UserId must begin with a letter and contain only letters, digits and hyphens."
            )
        if user_id == "default" or self._get(ctx, "user", user_id) is not None:
            raise errors.UserAlreadyExistsFault(f"User {user_id} already exists.")
        name = req["UserName"]
        if name != "default" and any(u["UserName"] == name for u in self._all(ctx, "user")):
            raise errors.DuplicateUserNameFault(f"User name {name} already exists.")
        engine = req["Engine"].lower()
        if engine not in RBAC_ENGINES:
            raise errors.InvalidParameterValueException(f"Invalid engine for users: {engine}")
        kind, passwords = _authentication(req)
        tags = check_tags(req.get("Tags"))
        doc: Json = {
            "UserId": user_id,
            "UserName": name,
            "Status": "active",
            "Engine": engine,
            "MinimumEngineVersion": "6.0",
            "AccessString": _access_string(req["AccessString"]),
            "Authentication": {"Type": kind, "PasswordCount": len(passwords)},
            "ARN": self._arn(ctx, "user", user_id),
            "_passwords": passwords,
        }
        if tags:
            self.env.tags.set(doc["ARN"], tags)
        self._put(ctx, "user", user_id, doc)
        return self._show_user(ctx, doc)

    def describe_users(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("UserId"):
            users = [self._user(ctx, req["UserId"])]
        else:
            users = [self._user(ctx, "default"), *self._all(ctx, "user")]
        for item in req.get("Filters") or []:
            if item.get("Name") == "user-id":
                users = [u for u in users if u["UserId"] in item.get("Values", [])]
        if req.get("Engine"):
            users = [u for u in users if u["Engine"] == req["Engine"]]
        page, marker = self._page(users, req, "UserId")
        return {
            "Users": [self._show_user(ctx, u) for u in page],
            **({"Marker": marker} if marker else {}),
        }

    def modify_user(self, ctx: RequestContext, req: Json) -> Json:
        if req["UserId"] == "default":
            raise errors.InvalidParameterValueException("The default user cannot be modified.")
        doc = self._user(ctx, req["UserId"])
        if req.get("AccessString"):
            doc["AccessString"] = _access_string(req["AccessString"])
        if req.get("AppendAccessString"):
            appended = f"{doc['AccessString']} {req['AppendAccessString']}"
            doc["AccessString"] = _access_string(appended)
        if req.get("Passwords") or req.get("AuthenticationMode") or "NoPasswordRequired" in req:
            kind, passwords = _authentication(req)
            doc["Authentication"] = {"Type": kind, "PasswordCount": len(passwords)}
            doc["_passwords"] = passwords
        self._put(ctx, "user", doc["UserId"], doc)
        for group in self._all(ctx, "usergroup"):
            if doc["UserId"] in group["UserIds"]:
                self._reload_users(ctx, group["UserGroupId"])
        return self._show_user(ctx, doc)

    def delete_user(self, ctx: RequestContext, req: Json) -> Json:
        if req["UserId"] == "default":
            raise errors.InvalidParameterValueException("The default user cannot be deleted.")
        doc = self._user(ctx, req["UserId"])
        groups = [g for g in self._all(ctx, "usergroup") if doc["UserId"] in g["UserIds"]]
        if groups and doc["UserName"] == "default":
            raise errors.DefaultUserAssociatedToUserGroupFault(
                f"User {doc['UserId']} is the default user of user group "
                f"{groups[0]['UserGroupId']}."
            )
        shown = self._show_user(ctx, doc)
        self._drop(ctx, "user", doc["UserId"])
        self.env.tags.drop(doc["ARN"])
        for group in groups:
            group["UserIds"].remove(doc["UserId"])
            self._put(ctx, "usergroup", group["UserGroupId"], group)
            self._reload_users(ctx, group["UserGroupId"])
        shown["Status"] = "deleting"
        return shown

    # -- user groups ----------------------------------------------------------------------

    def _user_group(self, ctx: Scope, group_id: str) -> Json:
        doc = self._get(ctx, "usergroup", group_id)
        if doc is None:
            raise errors.UserGroupNotFoundFault(f"User group {group_id} not found.")
        return doc

    def _show_group(self, ctx: Scope, doc: Json) -> Json:
        shown = public(doc)
        shown["ReplicationGroups"] = [
            g["ReplicationGroupId"]
            for g in self._all(ctx, "replication")
            if doc["UserGroupId"] in g.get("UserGroupIds", [])
        ]
        shown["ServerlessCaches"] = []
        return shown

    def _check_members(self, ctx: Scope, engine: str, user_ids: list[str]) -> None:
        users = [self._user(ctx, u) for u in user_ids]
        if len(set(user_ids)) != len(user_ids):
            raise errors.InvalidParameterValueException("A user can be in a user group once.")
        if not any(u["UserName"] == "default" for u in users):
            raise errors.DefaultUserRequired(
                "User group needs to contain a user with the user name default."
            )
        if sum(u["UserName"] == "default" for u in users) > 1:
            raise errors.InvalidParameterValueException(
                "A user group can contain only one user with the user name default."
            )
        for user in users:
            if user["Engine"] != engine and user["UserId"] != "default":
                raise errors.InvalidParameterCombinationException(
                    f"User {user['UserId']} is for engine {user['Engine']}, not {engine}."
                )

    def create_user_group(self, ctx: RequestContext, req: Json) -> Json:
        group_id = req["UserGroupId"]
        if not _USER_ID.match(group_id) or len(group_id) > 40:
            raise errors.InvalidParameterValueException(
                "UserGroupId must begin with a letter and contain only letters, digits and hyphens."
            )
        if self._get(ctx, "usergroup", group_id) is not None:
            raise errors.UserGroupAlreadyExistsFault(f"User group {group_id} already exists.")
        engine = req["Engine"].lower()
        if engine not in RBAC_ENGINES:
            raise errors.InvalidParameterValueException(f"Invalid engine for users: {engine}")
        user_ids = list(req.get("UserIds") or [])
        self._check_members(ctx, engine, user_ids)
        tags = check_tags(req.get("Tags"))
        doc: Json = {
            "UserGroupId": group_id,
            "Status": "active",
            "Engine": engine,
            "UserIds": user_ids,
            "MinimumEngineVersion": "6.0",
            "ARN": self._arn(ctx, "usergroup", group_id),
        }
        if tags:
            self.env.tags.set(doc["ARN"], tags)
        self._put(ctx, "usergroup", group_id, doc)
        return self._show_group(ctx, doc)

    def describe_user_groups(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("UserGroupId"):
            groups = [self._user_group(ctx, req["UserGroupId"])]
        else:
            groups = self._all(ctx, "usergroup")
        page, marker = self._page(groups, req, "UserGroupId")
        return {
            "UserGroups": [self._show_group(ctx, g) for g in page],
            **({"Marker": marker} if marker else {}),
        }

    def modify_user_group(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._user_group(ctx, req["UserGroupId"])
        user_ids = [u for u in doc["UserIds"] if u not in (req.get("UserIdsToRemove") or [])]
        user_ids += [u for u in req.get("UserIdsToAdd") or [] if u not in user_ids]
        self._check_members(ctx, doc["Engine"], user_ids)
        doc["UserIds"] = user_ids
        self._put(ctx, "usergroup", doc["UserGroupId"], doc)
        self._reload_users(ctx, doc["UserGroupId"])
        return self._show_group(ctx, doc)

    def delete_user_group(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._user_group(ctx, req["UserGroupId"])
        shown = self._show_group(ctx, doc)
        if shown["ReplicationGroups"]:
            raise errors.InvalidUserGroupStateFault(
                f"User group {doc['UserGroupId']} is associated with replication group "
                f"{shown['ReplicationGroups'][0]}."
            )
        self._drop(ctx, "usergroup", doc["UserGroupId"])
        self.env.tags.drop(doc["ARN"])
        shown["Status"] = "deleting"
        return shown

    # -- on the nodes ---------------------------------------------------------------------

    def _acl(self, ctx: Scope, group_id: str, secret: str) -> str:
        """The ACL file of a node whose replication group has this user group."""
        lines = [f"user {ADMIN} on >{secret} ~* &* +@all"]
        for user_id in self._user_group(ctx, group_id)["UserIds"]:
            user = self._user(ctx, user_id)
            secrets = [f">{p}" for p in user["_passwords"]] or ["nopass"]
            lines.append(f"user {user['UserName']} {user['AccessString']} {' '.join(secrets)}")
        return "\n".join(lines) + "\n"

    def _write_acl(self, ctx: Scope, cluster: Json, text: str) -> None:
        path = self.root / ctx.account_id / ctx.region / cluster["CacheClusterId"]
        for node in cluster["CacheNodes"]:
            (path / node["CacheNodeId"] / ACL_FILE).write_text(text)

    def _reload_users(self, ctx: Scope, group_id: str) -> None:
        """Every node of the replication groups with this user group loads its users again."""
        for group in self._all(ctx, "replication"):
            if group_id not in group.get("UserGroupIds", []):
                continue
            for member in group["_members"]:
                cluster = self._get(ctx, "cluster", member)
                if cluster is None or not cluster.get("_admin"):
                    continue
                before = cluster.get("_acl", "")
                cluster["_acl"] = self._acl(ctx, group_id, cluster["_admin"])
                self._write_acl(ctx, cluster, cluster["_acl"])
                replies = send(cluster, "ACL", "LOAD")
                failed = [r for r in replies if isinstance(r, Exception)]
                if failed:
                    # The servers keep the users they had; so must their files.
                    self._write_acl(ctx, cluster, before)
                    raise errors.InvalidParameterValueException(
                        f"The users could not be applied: {failed[0]}"
                    )
                self._put(ctx, "cluster", member, cluster)
