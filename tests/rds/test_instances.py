"""RDS instances are real PostgreSQL servers: created with boto3, reached with ``psql`` (the
PostgreSQL client, declared as a test requirement: Debian's ``postgresql`` package), and kept
across restarts of nubes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nubes.runtime import rds as runtime
from tests.rds.pg import PASSWORD, create, needs_postgres, psql, wait_for
from tests.server import NubesProcess

pytestmark = needs_postgres


def test_instance_is_a_postgres_server_that_survives_everything(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory()
    rds = server.client("rds")
    made = create(rds, "db1", Tags=[{"Key": "team", "Value": "web"}])
    assert made["DBInstanceStatus"] == "creating"
    found = wait_for(rds, "db1")
    endpoint = found["Endpoint"]
    assert endpoint["Address"] == "127.0.0.1"
    psql(endpoint, PASSWORD, "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept');")
    assert psql(endpoint, PASSWORD, "SELECT v FROM t") == "kept"
    tags = rds.list_tags_for_resource(ResourceName=found["DBInstanceArn"])["TagList"]
    assert tags == [{"Key": "team", "Value": "web"}]

    rds.modify_db_instance(
        DBInstanceIdentifier="db1", MasterUserPassword="n3w-Passw0rd", ApplyImmediately=True
    )
    endpoint = wait_for(rds, "db1")["Endpoint"]
    assert psql(endpoint, "n3w-Passw0rd", "SELECT v FROM t") == "kept"
    with pytest.raises(RuntimeError, match="password authentication failed"):
        psql(endpoint, PASSWORD, "SELECT 1")

    rds.reboot_db_instance(DBInstanceIdentifier="db1")
    endpoint = wait_for(rds, "db1")["Endpoint"]
    assert psql(endpoint, "n3w-Passw0rd", "SELECT v FROM t") == "kept"

    server.kill()  # kill -9: its postgres lives on and is taken over by the next nubes
    server.start()
    rds = server.client("rds")
    endpoint = wait_for(rds, "db1")["Endpoint"]
    assert psql(endpoint, "n3w-Passw0rd", "SELECT v FROM t") == "kept"

    rds.create_db_snapshot(DBInstanceIdentifier="db1", DBSnapshotIdentifier="snap1")
    deadline = time.monotonic() + 60
    while (
        rds.describe_db_snapshots(DBSnapshotIdentifier="snap1")["DBSnapshots"][0]["Status"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    psql(endpoint, "n3w-Passw0rd", "INSERT INTO t VALUES ('after');")
    rds.copy_db_snapshot(
        SourceDBSnapshotIdentifier="snap1", TargetDBSnapshotIdentifier="snap1-copy"
    )
    deadline = time.monotonic() + 60
    while (
        rds.describe_db_snapshots(DBSnapshotIdentifier="snap1-copy")["DBSnapshots"][0]["Status"]
        != "available"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    rds.delete_db_snapshot(DBSnapshotIdentifier="snap1")  # the copy has files of its own
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="db2", DBSnapshotIdentifier="snap1-copy"
    )
    copy = wait_for(rds, "db2")
    assert copy["Endpoint"]["Port"] != endpoint["Port"]
    assert psql(copy["Endpoint"], "n3w-Passw0rd", "SELECT v FROM t") == "kept"

    rds.stop_db_instance(DBInstanceIdentifier="db1")
    wait_for(rds, "db1", "stopped")
    with pytest.raises(RuntimeError):
        psql(endpoint, "n3w-Passw0rd", "SELECT 1")
    rds.start_db_instance(DBInstanceIdentifier="db1")
    endpoint = wait_for(rds, "db1")["Endpoint"]
    assert psql(endpoint, "n3w-Passw0rd", "SELECT count(*) FROM t") == "2"

    rds.stop_db_instance(DBInstanceIdentifier="db2")
    wait_for(rds, "db2", "stopped")
    deleting = rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    assert deleting["DBInstance"]["DBInstanceStatus"] == "deleting"
    rds.delete_db_instance(DBInstanceIdentifier="db2", FinalDBSnapshotIdentifier="db2-final")
    deadline = time.monotonic() + 60
    while rds.describe_db_instances()["DBInstances"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    final = rds.describe_db_snapshots(DBSnapshotIdentifier="db2-final")["DBSnapshots"][0]
    assert final["Status"] == "available"  # taken from a stopped instance: started for it
    with pytest.raises(RuntimeError):
        psql(endpoint, "n3w-Passw0rd", "SELECT 1")
    server.stop()
    assert not list((server.data_dir / "rds" / "instances").iterdir())  # type: ignore[operator]


def test_create_checks_its_input_as_aws_does(client: Callable[..., Any]) -> None:
    rds = client("rds")

    def code(**changes: Any) -> tuple[str, str]:
        params = {
            "DBInstanceIdentifier": "checks",
            "Engine": "postgres",
            "DBInstanceClass": "db.t3.micro",
            "AllocatedStorage": 20,
            "MasterUsername": "master",
            "MasterUserPassword": PASSWORD,
            **changes,
        }
        with pytest.raises(ClientError) as info:
            rds.create_db_instance(**params)
        return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]

    assert code(DBInstanceIdentifier="1abc")[0] == "InvalidParameterValue"
    assert code(DBInstanceIdentifier="a--b")[0] == "InvalidParameterValue"
    assert code(DBInstanceIdentifier="ab-")[0] == "InvalidParameterValue"
    assert "shorter than 8" in code(MasterUserPassword="short")[1]
    assert "Only printable ASCII" in code(MasterUserPassword="has@sign123")[1]
    assert "reserved word" in code(MasterUsername="postgres")[1]
    assert code(AllocatedStorage=5)[1].startswith("Invalid storage size")
    assert code(Engine="nosuch") == ("InvalidParameterValue", "Invalid DB engine: nosuch")
    assert "not installed" in code(Engine="oracle-ee")[1]
    assert code(BackupRetentionPeriod=36)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        rds.describe_db_instances(DBInstanceIdentifier="nosuch")
    assert info.value.response["Error"]["Code"] == "DBInstanceNotFound"
    with pytest.raises(ClientError) as info:
        rds.describe_db_instances(MaxRecords=5)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_delete_asks_for_a_final_snapshot_and_honours_protection(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    rds = client("rds")
    ident = unique("prot")
    create(rds, ident, DeletionProtection=True, BackupRetentionPeriod=0)
    with pytest.raises(ClientError) as info:
        rds.delete_db_instance(DBInstanceIdentifier=ident)
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as info:
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    assert "deletion protection" in info.value.response["Error"]["Message"]
    wait_for(rds, ident)
    with pytest.raises(ClientError) as info:
        create(rds, ident)
    assert info.value.response["Error"]["Code"] == "DBInstanceAlreadyExists"
    with pytest.raises(ClientError) as info:
        rds.start_db_instance(DBInstanceIdentifier=ident)
    assert info.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    rds.add_tags_to_resource(
        ResourceName=wait_for(rds, ident)["DBInstanceArn"], Tags=[{"Key": "k", "Value": "v"}]
    )
    renamed = unique("renamed")
    rds.modify_db_instance(
        DBInstanceIdentifier=ident, NewDBInstanceIdentifier=renamed, ApplyImmediately=True
    )
    with pytest.raises(ClientError) as info:
        rds.describe_db_instances(DBInstanceIdentifier=ident)
    assert info.value.response["Error"]["Code"] == "DBInstanceNotFound"
    ident, found = renamed, wait_for(rds, renamed)
    assert psql(found["Endpoint"], PASSWORD, "SELECT current_database()") == "app"
    assert rds.list_tags_for_resource(ResourceName=found["DBInstanceArn"])["TagList"] == [
        {"Key": "k", "Value": "v"}
    ]
    rds.modify_db_instance(DBInstanceIdentifier=ident, DeletionProtection=False)
    final = unique("final")
    rds.delete_db_instance(DBInstanceIdentifier=ident, FinalDBSnapshotIdentifier=final)
    deadline = time.monotonic() + 60
    while rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])[
        "DBInstances"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=final)["DBSnapshots"][0]
    assert snap["Status"] == "available" and snap["DBInstanceIdentifier"] == ident
    rds.delete_db_snapshot(DBSnapshotIdentifier=final)
    versions = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    assert versions and versions[0]["EngineVersion"] == runtime.version()


def test_orderable_options_page_through_what_can_be_made(client: Callable[..., Any]) -> None:
    rds = client("rds")
    seen: list[tuple[str, str]] = []
    marker = ""
    while True:
        page = rds.describe_orderable_db_instance_options(
            Engine="postgres", MaxRecords=20, **({"Marker": marker} if marker else {})
        )
        seen += [
            (o["DBInstanceClass"], o["StorageType"]) for o in page["OrderableDBInstanceOptions"]
        ]
        marker = page.get("Marker", "")
        if not marker:
            break
    assert len(seen) == len(set(seen)) > 20
    assert ("db.t3.micro", "gp2") in seen
    none = rds.describe_orderable_db_instance_options(Engine="mysql")
    assert none["OrderableDBInstanceOptions"] == []
