"""Master passwords RDS manages in Secrets Manager, RDS events on EventBridge, the AWS/RDS
metrics of a running server, AWS's restart of an instance left stopped for seven days (by the
server's clock), another port when the one asked for is taken, the server's log, and no server
left behind when nubes stops or resets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.rds.pg import needs_postgres, psql, wait_for
from tests.server import NubesProcess

pytestmark = needs_postgres


def _gone(rds: Any, ident: str) -> None:
    deadline = time.monotonic() + 60
    while rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])[
        "DBInstances"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_a_managed_master_password_lives_in_secrets_manager(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    rds, sm, sqs, events = (
        client("rds"),
        client("secretsmanager"),
        client("sqs"),
        client("events"),
    )
    ident = unique("managed")
    queue = sqs.create_queue(QueueName=unique("rds-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = unique("rds-rule")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.rds"],
                "detail-type": ["RDS DB Instance Event"],
                "detail": {"SourceIdentifier": [ident]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    made = rds.create_db_instance(
        DBInstanceIdentifier=ident,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="master",
        ManageMasterUserPassword=True,
        DBName="app",
        BackupRetentionPeriod=0,
    )["DBInstance"]
    secret_arn = made["MasterUserSecret"]["SecretArn"]
    assert made["MasterUserSecret"]["SecretStatus"] == "active"
    assert sm.describe_secret(SecretId=secret_arn)["Name"].startswith("rds-db-")
    value = json.loads(sm.get_secret_value(SecretId=secret_arn)["SecretString"])
    assert value["username"] == "master"
    endpoint = wait_for(rds, ident)["Endpoint"]
    assert psql(endpoint, value["password"], "SELECT current_user") == "master"
    told = rds.describe_events(SourceIdentifier=ident, SourceType="db-instance")["Events"]
    assert "DB instance created" in [e["Message"] for e in told]
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    sent = json.loads(got[0]["Body"])
    assert sent["detail"]["EventID"] == "RDS-EVENT-0005"
    assert sent["resources"] == [made["DBInstanceArn"]]
    with pytest.raises(ClientError) as info:
        rds.modify_db_instance(DBInstanceIdentifier=ident, MasterUserPassword="another-Pass1")
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"
    rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    with pytest.raises(ClientError) as info:
        sm.describe_secret(SecretId=secret_arn)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    _gone(rds, ident)


@pytest.mark.clock
def test_an_instance_stopped_for_seven_days_starts_again(
    client: Callable[..., Any], endpoint: str, unique: Callable[[str], str]
) -> None:
    rds = client("rds")
    ident = unique("sleeper")
    rds.create_db_instance(
        DBInstanceIdentifier=ident,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="master",
        MasterUserPassword="sleeper-Passw0rd",
        BackupRetentionPeriod=0,
    )
    wait_for(rds, ident)
    cloudwatch = client("cloudwatch")
    cloudwatch.list_metrics(Namespace="AWS/RDS")  # CloudWatch samples gauges once it runs
    for _ in range(2):  # two samples: CPUUtilization is the use between them
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 61}, timeout=10)
    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="FreeStorageSpace",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": ident}],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(days=30),
        Period=3600,
        Statistics=["Minimum"],
    )["Datapoints"]
    assert stats and 0 < stats[0]["Minimum"] < 20 * 2**30
    rds.stop_db_instance(DBInstanceIdentifier=ident)
    wait_for(rds, ident, "stopped")
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 6 * 86_400}, timeout=10)
    assert wait_for(rds, ident, "stopped")["DBInstanceStatus"] == "stopped"
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 86_400 + 120}, timeout=10)
    found = wait_for(rds, ident)
    assert psql(found["Endpoint"], "sleeper-Passw0rd", "SELECT 1", db="postgres") == "1"
    events = rds.describe_events(SourceIdentifier=ident, SourceType="db-instance")["Events"]
    assert [e["Message"] for e in events][-2:] == [
        "DB instance is being started due to it exceeding the maximum allowed time being stopped.",
        "DB instance started",
    ]
    rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
    _gone(rds, ident)


def test_a_taken_port_gives_another_and_nubes_stops_what_it_started(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=False)
    rds = server.client("rds")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        rds.create_db_instance(
            DBInstanceIdentifier="ported",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="master",
            MasterUserPassword="ported-Passw0rd",
            Port=taken,
            BackupRetentionPeriod=0,
        )
        endpoint = wait_for(rds, "ported")["Endpoint"]
    assert endpoint["Port"] != taken
    assert psql(endpoint, "ported-Passw0rd", "SELECT 1", db="postgres") == "1"
    server.stop()
    with pytest.raises(RuntimeError):
        psql(endpoint, "ported-Passw0rd", "SELECT 1", db="postgres")


def test_the_server_log_is_read_and_reset_forgets_everything(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory()
    rds = server.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="forgotten",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="master",
        MasterUserPassword="forgotten-Passw0rd",
        BackupRetentionPeriod=0,
    )
    endpoint = wait_for(rds, "forgotten")["Endpoint"]
    files = rds.describe_db_log_files(DBInstanceIdentifier="forgotten")["DescribeDBLogFiles"]
    assert [f["LogFileName"] for f in files] == ["error/postgresql.log"]
    whole = rds.download_db_log_file_portion(
        DBInstanceIdentifier="forgotten", LogFileName="error/postgresql.log", Marker="0"
    )
    assert "database system is ready to accept connections" in whole["LogFileData"]
    last = rds.download_db_log_file_portion(
        DBInstanceIdentifier="forgotten", LogFileName="error/postgresql.log", NumberOfLines=1
    )
    assert last["LogFileData"].count("\n") == 1 and whole["LogFileData"].endswith(
        last["LogFileData"]
    )
    with pytest.raises(ClientError) as info:
        rds.download_db_log_file_portion(DBInstanceIdentifier="forgotten", LogFileName="nope")
    assert info.value.response["Error"]["Code"] == "DBLogFileNotFoundFault"
    requests.post(f"{server.endpoint}/_nubes/reset", timeout=30)
    assert rds.describe_db_instances()["DBInstances"] == []
    deadline = time.monotonic() + 30
    while True:
        try:
            psql(endpoint, "forgotten-Passw0rd", "SELECT 1", db="postgres")
        except RuntimeError:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    server.stop()
    assert not list((server.data_dir / "rds" / "instances").glob("*/pgdata"))  # type: ignore[operator]
