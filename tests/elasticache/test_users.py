"""Users and user groups (RBAC): a replication group's nodes have the group's users."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.runtime.elasticache.resp import RespError, command
from tests.elasticache.conftest import eventually, node_port

APP_PASSWORD = "app-password-0123456789"


def test_user_group_on_a_replication_group(ec: Any) -> None:
    ec.create_user(
        UserId="locked-default",
        UserName="default",
        Engine="redis",
        AccessString="off ~* +@all",
        NoPasswordRequired=True,
    )
    user = ec.create_user(
        UserId="app",
        UserName="app",
        Engine="redis",
        AccessString="on ~app:* +@all",
        Passwords=[APP_PASSWORD],
    )
    assert user["Authentication"] == {"Type": "password", "PasswordCount": 1}
    with pytest.raises(ClientError) as err:
        ec.create_user_group(UserGroupId="nodefault", Engine="redis", UserIds=["app"])
    assert err.value.response["Error"]["Code"] == "DefaultUserRequired"
    group = ec.create_user_group(
        UserGroupId="web-users", Engine="redis", UserIds=["locked-default", "app"]
    )
    assert group["Status"] == "active"
    ec.create_replication_group(
        ReplicationGroupId="rbac",
        ReplicationGroupDescription="d",
        NumCacheClusters=2,
        UserGroupIds=["web-users"],
    )
    primary, replica = node_port(ec, "rbac-001"), node_port(ec, "rbac-002")
    # The default user is off: nothing works without signing in as a user of the group.
    with pytest.raises(RespError):
        command(primary, "GET", "app:1")
    assert command(primary, "SET", "app:1", "v", username="app", password=APP_PASSWORD) == "OK"
    with pytest.raises(RespError, match="NOPERM"):
        command(primary, "SET", "other", "v", username="app", password=APP_PASSWORD)
    reply = eventually(replica, "GET", "app:1", expect=b"v", username="app", password=APP_PASSWORD)
    assert reply == b"v"
    shown = ec.describe_user_groups(UserGroupId="web-users")["UserGroups"][0]
    assert shown["ReplicationGroups"] == ["rbac"]

    # A changed access string reaches the running nodes.
    ec.modify_user(UserId="app", AccessString="on ~* +@all")
    assert command(primary, "SET", "other", "v", username="app", password=APP_PASSWORD) == "OK"
    users = {u["UserId"]: u for u in ec.describe_users()["Users"]}
    assert users["app"]["UserGroupIds"] == ["web-users"]
    assert "default" in users

    with pytest.raises(ClientError) as err:
        ec.delete_user_group(UserGroupId="web-users")
    assert err.value.response["Error"]["Code"] == "InvalidUserGroupState"
    with pytest.raises(ClientError) as err:
        ec.delete_user(UserId="locked-default")
    assert err.value.response["Error"]["Code"] == "DefaultUserAssociatedToUserGroup"
    with pytest.raises(ClientError) as err:
        ec.create_user(
            UserId="bad", UserName="bad", Engine="redis", AccessString="on >pw", Passwords=["x"]
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"

    # Without users, the default user is open again (after the nodes restart).
    ec.modify_replication_group(
        ReplicationGroupId="rbac", RemoveUserGroups=True, ApplyImmediately=True
    )
    assert command(node_port(ec, "rbac-001"), "GET", "app:1") == b"v"
    ec.modify_replication_group(
        ReplicationGroupId="rbac", UserGroupIdsToAdd=["web-users"], ApplyImmediately=True
    )
    with pytest.raises(RespError):
        command(node_port(ec, "rbac-001"), "GET", "app:1")
    ec.delete_replication_group(ReplicationGroupId="rbac")
    ec.delete_user_group(UserGroupId="web-users")
    ec.delete_user(UserId="app")
    ec.delete_user(UserId="locked-default")
    assert [u["UserId"] for u in ec.describe_users()["Users"]] == ["default"]
