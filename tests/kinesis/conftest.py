"""Kinesis fixtures: a client on the server whose clock the tests move (streams settle from
CREATING into ACTIVE by that clock), and a helper making an ACTIVE stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests


@pytest.fixture
def advance(endpoint: str) -> Callable[[float], None]:
    def move(seconds: float) -> None:
        requests.post(
            f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=60
        ).raise_for_status()

    return move


@pytest.fixture
def kinesis(client: Callable[..., Any], advance: Callable[[float], None]) -> Any:
    return client("kinesis")


@pytest.fixture
def settle(advance: Callable[[float], None]) -> Callable[[], None]:
    """Let every CREATING/UPDATING/DELETING transition finish."""
    return lambda: advance(2)


@pytest.fixture
def stream(
    kinesis: Any, unique: Callable[[str], str], settle: Callable[[], None]
) -> Callable[..., dict[str, Any]]:
    """``stream(shards=2)``: an ACTIVE stream's summary (ON_DEMAND when ``shards`` is None)."""

    def make(shards: int | None = 1, **kwargs: Any) -> dict[str, Any]:
        name = unique("stream")
        if shards is not None:
            kwargs["ShardCount"] = shards
        kinesis.create_stream(StreamName=name, **kwargs)
        settle()
        summary: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"
        ]
        assert summary["StreamStatus"] == "ACTIVE"
        return summary

    return make
