"""Distributed Map: items read from S3 (JSON, CSV, a listing), batches, tolerated failures,
and the Map Run's record."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.stepfunctions.conftest import wait_done


@pytest.fixture
def bucket(client: Callable[..., Any], unique: Callable[[str], str]) -> str:
    s3 = client("s3")
    name = unique("sfn-items")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="items.json", Body=json.dumps([{"n": i} for i in range(5)]))
    s3.put_object(Bucket=name, Key="rows.csv", Body="name,qty\napple,3\npear,4\n")
    return name


def _distributed(reader: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemReader": reader,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Check",
                    "States": {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.n", "NumericEquals": 3, "Next": "Fail"}],
                            "Default": "Ok",
                        },
                        "Fail": {"Type": "Fail", "Error": "Three", "Cause": "no threes"},
                        "Ok": {"Type": "Pass", "End": True},
                    },
                },
                "MaxConcurrency": 2,
                "End": True,
                **extra,
            }
        },
    }


def test_json_items_with_tolerated_failures(
    sfn: Any, machine: Callable[..., str], bucket: str
) -> None:
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": bucket, "Key.$": "$.key"},
    }
    tolerant = machine(_distributed(reader, ToleratedFailureCount=1))
    started = sfn.start_execution(stateMachineArn=tolerant, input='{"key": "items.json"}')
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    out = json.loads(done["output"])
    assert out[0] == {"n": 0} and out[3] == {"Error": "Three", "Cause": "no threes"}
    runs = sfn.list_map_runs(executionArn=started["executionArn"])["mapRuns"]
    assert len(runs) == 1
    run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run["status"] == "SUCCEEDED"
    assert run["maxConcurrency"] == 2
    counts = run["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (5, 4, 1)
    types = [
        e["type"] for e in sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    ]
    assert "MapRunStarted" in types and "MapRunSucceeded" in types
    assert "PassStateEntered" not in types
    sfn.update_map_run(mapRunArn=run["mapRunArn"], maxConcurrency=5)
    assert sfn.describe_map_run(mapRunArn=run["mapRunArn"])["maxConcurrency"] == 5

    strict = machine(_distributed(reader))
    started = sfn.start_execution(stateMachineArn=strict, input='{"key": "items.json"}')
    done = wait_done(sfn, started["executionArn"])
    assert (done["status"], done["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_csv_rows_listing_and_batches(sfn: Any, machine: Callable[..., str], bucket: str) -> None:
    def collect(reader: dict[str, Any], **extra: Any) -> Any:
        definition = {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemReader": reader,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                        "StartAt": "Echo",
                        "States": {"Echo": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                    **extra,
                }
            },
        }
        done = wait_done(
            sfn, sfn.start_execution(stateMachineArn=machine(definition))["executionArn"]
        )
        assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
        return json.loads(done["output"])

    rows = collect(
        {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket": bucket, "Key": "rows.csv"},
        }
    )
    assert rows == [{"name": "apple", "qty": "3"}, {"name": "pear", "qty": "4"}]
    listed = collect(
        {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": bucket}}
    )
    assert sorted(o["Key"] for o in listed) == ["items.json", "rows.csv"]
    batches = collect(
        {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON", "MaxItems": 4},
            "Parameters": {"Bucket": bucket, "Key": "items.json"},
        },
        ItemBatcher={"MaxItemsPerBatch": 3, "BatchInput": {"tag": "b"}},
    )
    assert batches == [
        {"Items": [{"n": 0}, {"n": 1}, {"n": 2}], "BatchInput": {"tag": "b"}},
        {"Items": [{"n": 3}], "BatchInput": {"tag": "b"}},
    ]
