"""CloudWatch Logs input errors as AWS reports them (issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_CLIENT_VALIDATION = Config(parameter_validation=False)


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs", config=NO_CLIENT_VALIDATION)


def test_model_violations_are_invalid_parameter(logs: Any, unique: Callable[[str], str]) -> None:
    # Logs answers Coral validation failures with InvalidParameterException, not
    # ValidationException (API reference, "Common Errors" and each operation's errors).
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=unique("g"), retentionInDays=2)
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert err["Message"].startswith("1 validation error detected: Value '2' at 'retentionInDays'")
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=unique("g"), limit=51)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="bad*name")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert (
        "Member must satisfy regular expression pattern" in exc.value.response["Error"]["Message"]
    )


def test_missing_member_is_invalid_parameter(logs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        logs.create_log_group()
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert (
        "at 'logGroupName' failed to satisfy constraint: Member must not be null" in err["Message"]
    )


def test_put_metric_filter_requires_log_group(logs: Any, unique: Callable[[str], str]) -> None:
    with pytest.raises(ClientError) as exc:
        logs.put_metric_filter(
            logGroupName=unique("missing"),
            filterName="f",
            filterPattern="ERROR",
            metricTransformations=[
                {"metricName": "m", "metricNamespace": "ns", "metricValue": "1"}
            ],
        )
    err = exc.value.response["Error"]
    assert err["Code"] == "ResourceNotFoundException"
    assert err["Message"] == "The specified log group does not exist."
