"""On-demand Advantage: the account's minimum throughput billing commitment (at least 24 hours;
a disable asked for earlier waits for the earliest allowed end, and enabling again cancels it)
and the warm throughput of on-demand streams it unlocks."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

DAY = 24 * 3600


@pytest.fixture
def account_kinesis(client: Callable[..., Any], advance: Callable[[float], None]) -> Any:
    """A client of an account of its own: the commitment is account-wide."""
    account = str(random.randrange(10**11, 10**12))
    return client("kinesis", aws_access_key_id=account, aws_secret_access_key="test")


def _commitment(kinesis: Any) -> dict[str, Any]:
    found: dict[str, Any] = kinesis.describe_account_settings()[
        "MinimumThroughputBillingCommitment"
    ]
    return found


def _set(kinesis: Any, status: str) -> dict[str, Any]:
    found: dict[str, Any] = kinesis.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": status}
    )["MinimumThroughputBillingCommitment"]
    return found


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_commitment_lasts_a_day_and_an_early_disable_waits_for_its_end(
    account_kinesis: Any, advance: Callable[[float], None]
) -> None:
    kinesis = account_kinesis
    assert _commitment(kinesis) == {"Status": "DISABLED"}
    enabled = _set(kinesis, "ENABLED")
    assert enabled["Status"] == "ENABLED"
    started, earliest = enabled["StartedAt"], enabled["EarliestAllowedEndAt"]
    assert (earliest - started).total_seconds() == DAY
    assert _commitment(kinesis) == enabled

    advance(3600)
    pending = _set(kinesis, "DISABLED")
    assert pending["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert pending["EarliestAllowedEndAt"] == earliest
    # Enabling again before the end cancels the pending disable; the commitment goes on.
    again = _set(kinesis, "ENABLED")
    assert again == {"Status": "ENABLED", "StartedAt": started, "EarliestAllowedEndAt": earliest}

    _set(kinesis, "DISABLED")
    advance(DAY)
    ended = _commitment(kinesis)
    assert ended == {"Status": "DISABLED", "StartedAt": started, "EndedAt": earliest}

    # A new commitment starts afresh, and past its first day a disable is immediate.
    renewed = _set(kinesis, "ENABLED")
    assert renewed["Status"] == "ENABLED" and renewed["StartedAt"] > started
    advance(DAY + 60)
    assert _set(kinesis, "DISABLED")["Status"] == "DISABLED"


def test_bad_status_is_refused(account_kinesis: Any) -> None:
    with pytest.raises(ClientError) as err:
        account_kinesis.update_account_settings(
            MinimumThroughputBillingCommitment={"Status": "PAUSED"}
        )
    assert _code(err) == "ValidationException"
    assert _commitment(account_kinesis) == {"Status": "DISABLED"}


def test_warm_throughput_needs_the_commitment_and_an_on_demand_stream(
    account_kinesis: Any, unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    kinesis = account_kinesis
    on_demand, provisioned = unique("od"), unique("pv")
    kinesis.create_stream(StreamName=on_demand)
    kinesis.create_stream(StreamName=provisioned, ShardCount=1)
    settle()
    summary = kinesis.describe_stream_summary(StreamName=on_demand)["StreamDescriptionSummary"]
    assert "WarmThroughput" not in summary
    with pytest.raises(ClientError) as err:
        kinesis.update_stream_warm_throughput(StreamName=on_demand, WarmThroughputMiBps=100)
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.create_stream(StreamName=unique("od"), WarmThroughputMiBps=50)
    assert _code(err) == "InvalidArgumentException"

    _set(kinesis, "ENABLED")
    summary = kinesis.describe_stream_summary(StreamName=on_demand)["StreamDescriptionSummary"]
    assert summary["WarmThroughput"] == {"CurrentMiBps": 4}
    with pytest.raises(ClientError) as err:
        kinesis.update_stream_warm_throughput(StreamName=provisioned, WarmThroughputMiBps=100)
    assert _code(err) == "InvalidArgumentException"
    with pytest.raises(ClientError) as err:
        kinesis.update_stream_warm_throughput(StreamName=on_demand, WarmThroughputMiBps=10241)
    assert _code(err) == "LimitExceededException"
    with pytest.raises(ClientError) as err:
        kinesis.update_stream_warm_throughput(StreamName="nope", WarmThroughputMiBps=10)
    assert _code(err) == "ResourceNotFoundException"


def test_warming_a_stream_goes_through_updating(
    account_kinesis: Any, unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    kinesis = account_kinesis
    _set(kinesis, "ENABLED")
    name = unique("od")
    kinesis.create_stream(StreamName=name, WarmThroughputMiBps=50)
    settle()
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["WarmThroughput"] == {"CurrentMiBps": 50, "TargetMiBps": 50}

    arn = summary["StreamARN"]
    out = kinesis.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=10240)
    assert out["StreamName"] == name and out["StreamARN"] == arn
    assert out["WarmThroughput"] == {"CurrentMiBps": 50, "TargetMiBps": 10240}
    summary = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "UPDATING"
    with pytest.raises(ClientError) as err:
        kinesis.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=20)
    assert _code(err) == "ResourceInUseException"
    kinesis.put_record(StreamARN=arn, Data=b"still writable", PartitionKey="k")
    settle()
    summary = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["WarmThroughput"] == {"CurrentMiBps": 10240, "TargetMiBps": 10240}

    # Releasing capacity: a lower target.
    kinesis.update_stream_warm_throughput(StreamARN=arn, WarmThroughputMiBps=0)
    settle()
    summary = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert summary["WarmThroughput"] == {"CurrentMiBps": 4, "TargetMiBps": 0}


def test_stream_mode_changes_carry_or_drop_warm_throughput(
    account_kinesis: Any, unique: Callable[[str], str], settle: Callable[[], None]
) -> None:
    kinesis = account_kinesis
    _set(kinesis, "ENABLED")
    name = unique("pv")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    settle()
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    kinesis.update_stream_mode(
        StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"}, WarmThroughputMiBps=30
    )
    settle()
    summary = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert summary["WarmThroughput"] == {"CurrentMiBps": 30, "TargetMiBps": 30}
    with pytest.raises(ClientError) as err:
        kinesis.update_stream_mode(
            StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"}, WarmThroughputMiBps=5
        )
    assert _code(err) == "InvalidArgumentException"
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "PROVISIONED"})
    settle()
    summary = kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    assert "WarmThroughput" not in summary
