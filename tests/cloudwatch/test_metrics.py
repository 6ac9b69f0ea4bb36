"""Metrics: PutMetricData's forms and limits, statistics (standard and percentiles) with known
data, metric math in GetMetricData, SEARCH, pagination, labels, ListMetrics; in JSON (what
botocore picks first), CBOR and query."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import client_speaking, error_code, server_time


def _minute(endpoint: str) -> Any:
    """Two minutes ago, at the start of its minute: a period that is whole and in the past."""
    now = server_time(endpoint)
    return now.replace(second=0, microsecond=0) - timedelta(minutes=2)


def test_percentiles_of_known_values(cw: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    ns = unique("App")
    t = _minute(endpoint)
    # 1..100 in one datum as Values (each once), and 1000 counted 0 times (ignored).
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Latency",
                "Timestamp": t,
                "Values": [float(v) for v in range(1, 101)] + [1000.0],
                "Counts": [1.0] * 100 + [0.0],
                "Unit": "Milliseconds",
            }
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Latency",
        StartTime=t,
        EndTime=t + timedelta(minutes=1),
        Period=60,
        ExtendedStatistics=["p90", "p99", "p50", "tm90", "TM(10%:90%)", "tc90", "ts(1:10)"],
    )
    (point,) = got["Datapoints"]
    ext = point["ExtendedStatistics"]
    assert ext["p90"] == 90.0
    assert ext["p99"] == 99.0
    assert ext["p50"] == 50.0
    assert ext["tm90"] == pytest.approx(45.5)  # mean of 1..90
    assert ext["TM(10%:90%)"] == pytest.approx(50.5)  # mean of 11..90
    assert ext["tc90"] == 90.0
    assert ext["ts(1:10)"] == 55.0
    assert point["Unit"] == "Milliseconds"
    assert got["Label"] == "Latency"


def test_standard_statistics_merge_values_and_statistic_sets(
    cw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    ns = unique("App")
    t = _minute(endpoint)
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "Load", "Dimensions": dims, "Timestamp": t, "Value": 4.0},
            {
                "MetricName": "Load",
                "Dimensions": dims,
                "Timestamp": t + timedelta(seconds=10),
                "StatisticValues": {"SampleCount": 3, "Sum": 30, "Minimum": 2, "Maximum": 20},
            },
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Load",
        Dimensions=dims,
        StartTime=t,
        EndTime=t + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
    )
    (point,) = got["Datapoints"]
    assert point["SampleCount"] == 4.0
    assert point["Sum"] == 34.0
    assert point["Average"] == 8.5
    assert point["Minimum"] == 2.0
    assert point["Maximum"] == 20.0
    # A statistic set with distinct extremes carries no raw values: no percentile for it.
    pct = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Load",
        Dimensions=dims,
        StartTime=t,
        EndTime=t + timedelta(minutes=1),
        Period=60,
        ExtendedStatistics=["p50"],
    )
    assert pct["Datapoints"][0]["ExtendedStatistics"] == {}


def test_metric_math(cw: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    ns = unique("Math")
    t0 = _minute(endpoint) - timedelta(minutes=3)
    errors = [1.0, 0.0, 4.0]
    requests = [10.0, 20.0, 40.0]
    data = []
    for i in range(3):
        ts = t0 + timedelta(minutes=i)
        data.append({"MetricName": "Errors", "Timestamp": ts, "Value": errors[i]})
        data.append({"MetricName": "Requests", "Timestamp": ts, "Value": requests[i]})
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def stat(qid: str, name: str) -> dict[str, Any]:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": ns, "MetricName": name},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    got = cw.get_metric_data(
        MetricDataQueries=[
            stat("errors", "Errors"),
            stat("reqs", "Requests"),
            {"Id": "rate", "Expression": "100 * errors / reqs", "Label": "ErrorRate"},
            {"Id": "total", "Expression": "SUM(METRICS())"},
            {"Id": "biggest", "Expression": "MAX(reqs)"},
            {"Id": "flag", "Expression": "IF(errors > 0, 1, 0)"},
            {"Id": "growth", "Expression": "RATE(reqs)"},
            {"Id": "filled", "Expression": "FILL(errors, 7)", "Period": 60},
        ],
        StartTime=t0,
        EndTime=t0 + timedelta(minutes=4),
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert set(results) == {"rate", "total", "biggest", "flag", "growth", "filled"}
    assert results["rate"]["Values"] == [10.0, 0.0, 10.0]
    assert results["rate"]["Label"] == "ErrorRate"
    assert results["rate"]["Timestamps"][0] == t0
    assert results["total"]["Values"] == [11.0, 20.0, 44.0]
    assert set(results["biggest"]["Values"]) == {40.0}
    assert results["flag"]["Values"] == [1.0, 0.0, 1.0]
    assert results["growth"]["Values"] == pytest.approx([10 / 60, 20 / 60])
    # The fourth minute has no data: FILL gives it the value.
    assert results["filled"]["Values"] == [1.0, 0.0, 4.0, 7.0]
    assert all(r["StatusCode"] == "Complete" for r in got["MetricDataResults"])


def test_search_pagination_and_dynamic_labels(
    cw: Any, endpoint: str, unique: Callable[[str], str]
) -> None:
    ns = unique("Fleet")
    t = _minute(endpoint) - timedelta(minutes=4)
    data = []
    for host, value in (("web-1", 1.0), ("web-2", 2.0), ("db-1", 50.0)):
        for i in range(5):
            data.append(
                {
                    "MetricName": "CPU",
                    "Dimensions": [{"Name": "Host", "Value": host}],
                    "Timestamp": t + timedelta(minutes=i),
                    "Value": value,
                }
            )
    cw.put_metric_data(Namespace=ns, MetricData=data)
    query = {
        "Id": "web",
        "Expression": f"SEARCH('{{{ns},Host}} MetricName=\"CPU\" web', 'Average', 60)",
    }
    got = cw.get_metric_data(
        MetricDataQueries=[query], StartTime=t, EndTime=t + timedelta(minutes=5)
    )
    labels = sorted(r["Label"] for r in got["MetricDataResults"])
    assert labels == ["web-1 CPU", "web-2 CPU"]
    # Ten datapoints in all, pages of three.
    seen = 0
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"NextToken": token} if token else {}
        page = cw.get_metric_data(
            MetricDataQueries=[query],
            StartTime=t,
            EndTime=t + timedelta(minutes=5),
            MaxDatapoints=3,
            **kwargs,
        )
        seen += sum(len(r["Values"]) for r in page["MetricDataResults"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert (seen, pages) == (10, 4)
    labelled = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "db",
                "MetricStat": {
                    "Metric": {
                        "Namespace": ns,
                        "MetricName": "CPU",
                        "Dimensions": [{"Name": "Host", "Value": "db-1"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "Label": "${PROP('Dim.Host')} max ${MAX} over ${DATAPOINT_COUNT}",
            }
        ],
        StartTime=t,
        EndTime=t + timedelta(minutes=5),
        LabelOptions={"Timezone": "+0130"},
    )
    assert labelled["MetricDataResults"][0]["Label"] == "db-1 max 50 over 5"


def test_list_metrics_filters(cw: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    ns = unique("List")
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "A", "Dimensions": [{"Name": "Q", "Value": "x"}], "Value": 1},
            {"MetricName": "A", "Dimensions": [{"Name": "Q", "Value": "y"}], "Value": 1},
            {"MetricName": "B", "Value": 1},
        ],
    )
    assert len(cw.list_metrics(Namespace=ns)["Metrics"]) == 3
    only_x = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Q", "Value": "x"}])["Metrics"]
    assert only_x == [
        {"Namespace": ns, "MetricName": "A", "Dimensions": [{"Name": "Q", "Value": "x"}]}
    ]
    assert len(cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Q"}])["Metrics"]) == 2
    assert len(cw.list_metrics(Namespace=ns, MetricName="B", RecentlyActive="PT3H")["Metrics"]) == 1


@pytest.mark.parametrize(
    ("datum", "code", "message"),
    [
        (
            {"MetricName": "m", "Value": 1, "Values": [1.0]},
            "InvalidParameterCombination",
            "MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive",
        ),
        (
            {"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]},
            "InvalidParameterValue",
            "must be of the same size",
        ),
        ({"MetricName": "m"}, "MissingParameter", "MetricData.member.1.Value"),
        (
            {"MetricName": "m", "Value": 1, "StorageResolution": 5},
            "InvalidParameterValue",
            "StorageResolution",
        ),
        (
            {"MetricName": "m", "Values": [float(v) for v in range(151)]},
            "InvalidParameterValue",
            "150",
        ),
    ],
)
def test_put_metric_data_errors(cw: Any, datum: dict[str, Any], code: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="Errors", MetricData=[datum])
    assert error_code(exc) == code
    assert message in exc.value.response["Error"]["Message"]


def test_timestamp_window_and_reserved_namespace(cw: Any, endpoint: str) -> None:
    now = server_time(endpoint)
    for ts, words in (
        (now - timedelta(days=15), "two weeks"),
        (now + timedelta(hours=3), "two hours"),
    ):
        with pytest.raises(ClientError) as exc:
            cw.put_metric_data(
                Namespace="Window", MetricData=[{"MetricName": "m", "Value": 1, "Timestamp": ts}]
            )
        assert error_code(exc) == "InvalidParameterValue"
        assert words in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1}])
    assert error_code(exc) == "InvalidParameterValue"


def test_get_metric_statistics_limits(cw: Any, endpoint: str) -> None:
    now = server_time(endpoint)
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace="X",
            MetricName="m",
            StartTime=now - timedelta(days=2),
            EndTime=now,
            Period=60,
            Statistics=["Sum"],
        )
    assert error_code(exc) == "InvalidParameterCombination"
    assert "exceeds the limit of 1,440" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace="X",
            MetricName="m",
            StartTime=now - timedelta(hours=1),
            EndTime=now,
            Period=61,
            Statistics=["Sum"],
        )
    assert error_code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace="X",
            MetricName="m",
            StartTime=now - timedelta(hours=1),
            EndTime=now,
            Period=60,
            ExtendedStatistics=["p101"],
        )
    assert error_code(exc) == "InvalidParameterValue"


def test_high_resolution_periods(cw: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    ns = unique("HiRes")
    t = _minute(endpoint)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "m",
                "Timestamp": t + timedelta(seconds=s),
                "Value": float(s),
                "StorageResolution": 1,
            }
            for s in (1, 3, 12, 25)
        ],
    )
    got = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="m",
        StartTime=t,
        EndTime=t + timedelta(seconds=30),
        Period=10,
        Statistics=["Sum"],
    )
    sums = sorted((p["Timestamp"], p["Sum"]) for p in got["Datapoints"])
    assert [s for _, s in sums] == [4.0, 12.0, 25.0]


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_every_protocol(endpoint: str, protocol: str, unique: Callable[[str], str]) -> None:
    old = client_speaking(endpoint, protocol)
    ns = unique("Proto")
    t = _minute(endpoint)
    old.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "m",
                "Timestamp": t,
                "Values": [1.0, 2.0, 3.0],
                "Dimensions": [{"Name": "D", "Value": "v"}],
            }
        ],
    )
    got = old.get_metric_statistics(
        Namespace=ns,
        MetricName="m",
        Dimensions=[{"Name": "D", "Value": "v"}],
        StartTime=t,
        EndTime=t + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "Maximum"],
    )
    assert got["Datapoints"][0]["Sum"] == 6.0
    assert got["Datapoints"][0]["Maximum"] == 3.0
    data = old.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": ns,
                        "MetricName": "m",
                        "Dimensions": [{"Name": "D", "Value": "v"}],
                    },
                    "Period": 60,
                    "Stat": "p50",
                },
            }
        ],
        StartTime=t,
        EndTime=t + timedelta(minutes=1),
    )
    assert data["MetricDataResults"][0]["Values"] == [2.0]
    with pytest.raises(ClientError) as exc:
        old.put_metric_data(Namespace="AWS/Nope", MetricData=[{"MetricName": "m", "Value": 1}])
    assert error_code(exc) == "InvalidParameterValue"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "query"])
def test_large_puts_are_gzipped_by_the_sdk(
    endpoint: str, protocol: str, unique: Callable[[str], str]
) -> None:
    """botocore gzips PutMetricData bodies over 10 KB (the operation's requestCompression)."""
    sdk = client_speaking(endpoint, protocol)
    ns = unique("Gzip")
    data = [
        {"MetricName": "m", "Dimensions": [{"Name": "N", "Value": str(i)}], "Value": float(i)}
        for i in range(500)
    ]
    sdk.put_metric_data(Namespace=ns, MetricData=data)
    assert len(sdk.list_metrics(Namespace=ns)["Metrics"]) == 500


def test_anomaly_detection_band(cw: Any, endpoint: str, unique: Callable[[str], str]) -> None:
    ns = unique("Band")
    t0 = _minute(endpoint) - timedelta(minutes=3)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {"MetricName": "m", "Timestamp": t0 + timedelta(minutes=i), "Value": v}
            for i, v in enumerate([1.0, 3.0, 2.0])
        ],
    )
    got = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": ns, "MetricName": "m"},
                    "Period": 60,
                    "Stat": "Average",
                },
            },
            {"Id": "band", "Expression": "ANOMALY_DETECTION_BAND(m, 1)"},
        ],
        StartTime=t0,
        EndTime=t0 + timedelta(minutes=3),
    )
    lower, upper = [r for r in got["MetricDataResults"] if r["Id"] == "band"]
    spread = (2 / 3) ** 0.5
    assert lower["Values"] == pytest.approx([2 - spread] * 3)
    assert upper["Values"] == pytest.approx([2 + spread] * 3)
