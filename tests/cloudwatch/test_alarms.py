"""Alarms on the one clock: the SQS depth alarm that notifies SNS and an SQS subscriber, M of N
and missing data through real evaluations, composite alarms and suppressors, actions that fail,
describe filters, history, tags, dashboards, and evaluation resuming after a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import error_code

pytestmark = pytest.mark.clock


def _subscriber(client: Callable[..., Any], unique: Callable[[str], str]) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed (raw delivery off): (topic ARN, queue URL)."""
    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName=unique("notify"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name=unique("alarms"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


def _notifications(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            envelope = json.loads(m["Body"])
            out.append({"Subject": envelope["Subject"], **json.loads(envelope["Message"])})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _state(cw: Any, name: str) -> dict[str, Any]:
    found = cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    return dict((found["MetricAlarms"] + found["CompositeAlarms"])[0])


def test_sqs_depth_alarm_notifies_and_recovers(
    client: Callable[..., Any],
    cw: Any,
    unique: Callable[[str], str],
    to_next_minute: Callable[[], float],
) -> None:
    sqs = client("sqs")
    work = sqs.create_queue(QueueName=unique("work"))["QueueUrl"]
    queue_name = work.rsplit("/", 1)[1]
    topic, inbox = _subscriber(client, unique)
    alarm = unique("backlog")
    cw.put_metric_alarm(
        AlarmName=alarm,
        AlarmDescription="Too many messages waiting",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[topic],
        OKActions=[topic],
    )
    assert _state(cw, alarm)["StateValue"] == "INSUFFICIENT_DATA"
    for i in range(15):
        sqs.send_message(QueueUrl=work, MessageBody=f"job {i}")
    to_next_minute()
    described = _state(cw, alarm)
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"].startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [15.0 ("
    )
    assert json.loads(described["StateReasonData"])["recentDatapoints"] == [15.0]
    (message,) = _notifications(sqs, inbox)
    assert message["Subject"] == f'ALARM: "{alarm}" in US East (N. Virginia)'
    assert message["AlarmName"] == alarm
    assert message["AlarmDescription"] == "Too many messages waiting"
    assert message["NewStateValue"] == "ALARM"
    assert message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["AWSAccountId"] == "000000000000"
    assert message["AlarmArn"].endswith(f":alarm:{alarm}")
    assert message["Trigger"] == {
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Namespace": "AWS/SQS",
        "StatisticType": "Statistic",
        "Statistic": "AVERAGE",
        "Unit": None,
        "Dimensions": [{"value": queue_name, "name": "QueueName"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 10.0,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    }
    # Drain the queue; the next sample is 0 and the alarm recovers.
    while True:
        got = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        sqs.delete_message_batch(
            QueueUrl=work,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )
    to_next_minute()
    assert _state(cw, alarm)["StateValue"] == "OK"
    (recovered,) = _notifications(sqs, inbox)
    assert (recovered["OldStateValue"], recovered["NewStateValue"]) == ("ALARM", "OK")
    history = cw.describe_alarm_history(AlarmName=alarm, ScanBy="TimestampAscending")
    summaries = [(h["HistoryItemType"], h["HistorySummary"]) for h in history["AlarmHistoryItems"]]
    assert summaries == [
        ("ConfigurationUpdate", f'Alarm "{alarm}" created'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("Action", f"Successfully executed action {topic}"),
        ("StateUpdate", "Alarm updated from ALARM to OK"),
        ("Action", f"Successfully executed action {topic}"),
    ]
    state_items = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    newest = json.loads(state_items["AlarmHistoryItems"][0]["HistoryData"])
    assert newest["oldState"]["stateValue"] == "ALARM"
    assert newest["newState"]["stateValue"] == "OK"
    # The service's own counters reached CloudWatch too.
    sent = cw.list_metrics(
        Namespace="AWS/SQS",
        MetricName="NumberOfMessagesSent",
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
    )
    assert len(sent["Metrics"]) == 1


def test_m_of_n_and_not_breaching(
    cw: Any, unique: Callable[[str], str], to_next_minute: Callable[[], float]
) -> None:
    ns, alarm = unique("MofN"), unique("two-of-three")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace=ns,
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        DatapointsToAlarm=2,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    states = []
    for value in (20.0, 20.0, 0.0, 0.0):
        cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "Errors", "Value": value}])
        to_next_minute()
        states.append(_state(cw, alarm)["StateValue"])
    assert states == ["OK", "ALARM", "ALARM", "OK"]
    reason = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    data = [json.loads(h["HistoryData"]) for h in reason["AlarmHistoryItems"]]
    alarm_reason = next(
        d["newState"]["stateReason"] for d in data if d["newState"]["stateValue"] == "ALARM"
    )
    assert alarm_reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [20.0 (")
    assert "(minimum 2 datapoints for OK -> ALARM transition)" in alarm_reason


def test_missing_data_treated_as_breaching(
    cw: Any, unique: Callable[[str], str], advance: Callable[[float], float]
) -> None:
    alarm = unique("silent")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace=unique("Quiet"),
        MetricName="Heartbeat",
        Statistic="SampleCount",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
    )
    # A long jump is caught up once per boundary: the alarm fires at the first evaluation.
    advance(3 * 3600)
    described = _state(cw, alarm)
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"] == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints "
        "were treated as [Breaching]."
    )
    updates = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")
    assert len(updates["AlarmHistoryItems"]) == 1


def test_math_expression_alarm(
    cw: Any, unique: Callable[[str], str], to_next_minute: Callable[[], float]
) -> None:
    ns, alarm = unique("Ratio"), unique("error-rate")
    cw.put_metric_alarm(
        AlarmName=alarm,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {"Namespace": ns, "MetricName": "Errors"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "reqs",
                "MetricStat": {
                    "Metric": {"Namespace": ns, "MetricName": "Requests"},
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * errors / reqs", "Label": "Error rate"},
        ],
    )
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "Errors", "Value": 3}, {"MetricName": "Requests", "Value": 10}],
    )
    to_next_minute()
    assert _state(cw, alarm)["StateValue"] == "ALARM"
    assert _state(cw, alarm)["Metrics"][2]["Expression"] == "100 * errors / reqs"


def test_composite_alarms_and_suppressors(
    client: Callable[..., Any], cw: Any, unique: Callable[[str], str]
) -> None:
    topic, inbox = _subscriber(client, unique)
    a, b, quiet = unique("a"), unique("b"), unique("maintenance")
    for name in (a, b, quiet):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="Composite",
            MetricName=name,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    both, muted = unique("both"), unique("muted")
    cw.put_composite_alarm(
        AlarmName=both, AlarmRule=f'ALARM("{a}") AND ALARM({b})', AlarmActions=[topic]
    )
    cw.put_composite_alarm(
        AlarmName=muted,
        AlarmRule=f"ALARM({a})",
        AlarmActions=[topic],
        ActionsSuppressor=quiet,
        ActionsSuppressorWaitPeriod=60,
        ActionsSuppressorExtensionPeriod=60,
    )
    assert _state(cw, both)["StateValue"] == "OK"
    cw.set_alarm_state(AlarmName=quiet, StateValue="ALARM", StateReason="maintenance window")
    cw.set_alarm_state(AlarmName=a, StateValue="ALARM", StateReason="testing")
    assert _state(cw, both)["StateValue"] == "OK"
    cw.set_alarm_state(AlarmName=b, StateValue="ALARM", StateReason="testing")
    composite = _state(cw, both)
    assert composite["StateValue"] == "ALARM"
    assert composite["StateReason"].startswith(
        f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{b} transitioned to ALARM at "
    )
    assert (
        json.loads(composite["StateReasonData"])["triggeringAlarms"][0]["state"]["value"] == "ALARM"
    )
    suppressed = _state(cw, muted)
    assert suppressed["StateValue"] == "ALARM"
    assert suppressed["ActionsSuppressedBy"] == "Alarm"
    notes = _notifications(client("sqs"), inbox)
    assert [(n["AlarmName"], n["NewStateValue"]) for n in notes] == [(both, "ALARM")]
    assert notes[0]["AlarmRule"] == f'ALARM("{a}") AND ALARM({b})'
    children = cw.describe_alarms(ChildrenOfAlarmName=both)
    assert sorted(x["AlarmName"] for x in children["MetricAlarms"]) == sorted([a, b])
    parents = cw.describe_alarms(ParentsOfAlarmName=a)
    assert sorted(x["AlarmName"] for x in parents["CompositeAlarms"]) == sorted([both, muted])
    with pytest.raises(ClientError) as exc:
        cw.put_composite_alarm(AlarmName=unique("bad"), AlarmRule="ALARM(nope-does-not-exist)")
    assert error_code(exc) == "ValidationError"
    assert "do not exist" in exc.value.response["Error"]["Message"]


def test_actions_that_cannot_run_are_recorded_as_failed(
    cw: Any, unique: Callable[[str], str]
) -> None:
    alarm = unique("ops")
    policy = (
        "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:1a2b3c4d-0000-0000-0000-"
        f"000000000000:autoScalingGroupName/{unique('asg')}:policyName/scale-out"
    )
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/EC2",
        MetricName="StatusCheckFailed_System",
        Dimensions=[{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[policy, "arn:aws:automate:us-east-1:ec2:stop"],
    )
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    actions = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="Action")
    items = actions["AlarmHistoryItems"]
    assert len(items) == 2
    assert all(i["HistorySummary"].startswith("Failed to execute action ") for i in items)
    assert all(json.loads(i["HistoryData"])["actionState"] == "Failed" for i in items)


def test_describe_filters_actions_switch_tags_and_delete(
    cw: Any, unique: Callable[[str], str]
) -> None:
    prefix = unique("filt")
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in names:
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="Filters",
            MetricName="M",
            Dimensions=[{"Name": "Q", "Value": name}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": "team", "Value": "core"}],
        )
    page1 = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2)
    page2 = cw.describe_alarms(AlarmNamePrefix=prefix, MaxRecords=2, NextToken=page1["NextToken"])
    assert [a["AlarmName"] for a in page1["MetricAlarms"] + page2["MetricAlarms"]] == names
    cw.set_alarm_state(AlarmName=names[1], StateValue="OK", StateReason="fine")
    ok = cw.describe_alarms(AlarmNamePrefix=prefix, StateValue="OK")["MetricAlarms"]
    assert [a["AlarmName"] for a in ok] == [names[1]]
    for_metric = cw.describe_alarms_for_metric(
        Namespace="Filters", MetricName="M", Dimensions=[{"Name": "Q", "Value": names[2]}]
    )
    assert [a["AlarmName"] for a in for_metric["MetricAlarms"]] == [names[2]]
    cw.disable_alarm_actions(AlarmNames=[names[0]])
    assert _state(cw, names[0])["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=[names[0]])
    assert _state(cw, names[0])["ActionsEnabled"] is True
    arn = _state(cw, names[0])["AlarmArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "test"}])
    cw.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    with pytest.raises(ClientError) as exc:
        cw.set_alarm_state(AlarmName=unique("missing"), StateValue="OK", StateReason="x")
    assert error_code(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        cw.put_metric_alarm(
            AlarmName=unique("bad"),
            Namespace="X",
            MetricName="M",
            Statistic="Average",
            Period=45,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    assert error_code(exc) == "InvalidParameterValue"
    cw.delete_alarms(AlarmNames=names)
    assert cw.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []


def test_dashboards(cw: Any, unique: Callable[[str], str]) -> None:
    name = unique("dash")
    body = json.dumps({"widgets": [{"type": "text", "properties": {"markdown": "hi"}}]})
    assert (
        cw.put_dashboard(DashboardName=name, DashboardBody=body)["DashboardValidationMessages"]
        == []
    )
    got = cw.get_dashboard(DashboardName=name)
    assert got["DashboardBody"] == body
    assert got["DashboardArn"] == f"arn:aws:cloudwatch::000000000000:dashboard/{name}"
    listed = cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert [(d["DashboardName"], d["Size"]) for d in listed] == [(name, len(body))]
    with pytest.raises(ClientError) as exc:
        cw.put_dashboard(DashboardName=name, DashboardBody='{"widgets": {}}')
    assert error_code(exc) == "InvalidParameterInput"
    cw.delete_dashboards(DashboardNames=[name])
    with pytest.raises(ClientError) as exc:
        cw.get_dashboard(DashboardName=name)
    assert error_code(exc) == "ResourceNotFound"


def test_evaluation_resumes_after_restart(nubes_factory: Callable[..., Any]) -> None:
    server = nubes_factory()
    cw = server.client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName="after-restart",
        Namespace="Restart",
        MetricName="Beat",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching",
    )
    server.kill()
    again = nubes_factory()
    import urllib.request

    request = urllib.request.Request(
        again.endpoint + "/_nubes/clock", data=b'{"advance": 120}', method="POST"
    )
    urllib.request.urlopen(request, timeout=30).read()
    state = again.client("cloudwatch").describe_alarms(AlarmNames=["after-restart"])
    assert state["MetricAlarms"][0]["StateValue"] == "ALARM"


def test_state_changes_reach_eventbridge(
    client: Callable[..., Any], cw: Any, unique: Callable[[str], str]
) -> None:
    sqs, events = client("sqs"), client("events")
    url = sqs.create_queue(QueueName=unique("events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    alarm = unique("watched")
    rule = unique("alarms")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [alarm]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    cw.put_metric_alarm(
        AlarmName=alarm,
        AlarmDescription="watched by a rule",
        Namespace="Events",
        MetricName="M",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="by hand")
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    event = json.loads(got[0]["Body"])
    assert event["source"] == "aws.cloudwatch"
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [_state(cw, alarm)["AlarmArn"]]
    detail = event["detail"]
    assert detail["alarmName"] == alarm
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["reason"] == "by hand"
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert detail["previousState"]["reason"] == "Unchecked: Initial alarm creation"
    assert detail["configuration"]["description"] == "watched by a rule"
    assert detail["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] == "M"


def test_high_resolution_alarm_evaluates_each_period(
    cw: Any, endpoint: str, unique: Callable[[str], str], advance: Callable[[float], float]
) -> None:
    from tests.cloudwatch.conftest import server_now

    ns, alarm = unique("HiRes"), unique("fast")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace=ns,
        MetricName="Spikes",
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=100,
        ComparisonOperator="GreaterThanThreshold",
    )
    # Move to just after a 10-second boundary, publish, then cross exactly the next one.
    now = server_now(endpoint)
    advance(10 - now % 10 + 0.5)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[{"MetricName": "Spikes", "Value": 500, "StorageResolution": 1}],
    )
    advance(10)
    described = _state(cw, alarm)
    assert described["StateValue"] == "ALARM"
    assert json.loads(described["StateReasonData"])["period"] == 10


def test_a_jump_over_several_minutes_samples_every_minute(
    client: Callable[..., Any],
    cw: Any,
    endpoint: str,
    unique: Callable[[str], str],
    advance: Callable[[float], float],
) -> None:
    """Three of three minutes must breach: one clock jump of three minutes gives them."""
    from tests.cloudwatch.conftest import server_now

    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("steady"))["QueueUrl"]
    alarm = unique("steady-backlog")
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": url.rsplit("/", 1)[1]}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    now = server_now(endpoint)
    advance(60 - now % 60 + 1 + 120)
    described = _state(cw, alarm)
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints")


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_alarms_in_every_protocol(
    endpoint: str, protocol: str, unique: Callable[[str], str]
) -> None:
    from tests.cloudwatch.conftest import client_speaking

    old = client_speaking(endpoint, protocol)
    name = unique("old")
    old.put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=2,
        DatapointsToAlarm=1,
        Threshold=3,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Old",
                        "MetricName": "M",
                        "Dimensions": [{"Name": "D", "Value": "v"}],
                    },
                    "Period": 60,
                    "Stat": "p90",
                },
                "ReturnData": True,
            }
        ],
        Tags=[{"Key": "k", "Value": "v"}],
    )
    old.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="manual")
    (alarm,) = old.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM"
    assert alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "D", "Value": "v"}
    ]
    assert alarm["DatapointsToAlarm"] == 1
    assert alarm["StateUpdatedTimestamp"].year >= 2024
    history = old.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [h["HistoryItemType"] for h in history] == ["StateUpdate", "ConfigurationUpdate"]
    assert old.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    with pytest.raises(ClientError) as exc:
        old.describe_alarms(AlarmNames=[name], AlarmNamePrefix="x")
    assert error_code(exc) == "InvalidParameterCombination"
    old.delete_alarms(AlarmNames=[name])


def test_suppressor_wait_period(
    client: Callable[..., Any],
    cw: Any,
    unique: Callable[[str], str],
    advance: Callable[[float], float],
) -> None:
    topic, inbox = _subscriber(client, unique)
    sqs = client("sqs")
    child, quiet = unique("child"), unique("deploying")
    for name in (child, quiet):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="Wait",
            MetricName=name,
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            # States set by hand stay while no data comes.
            TreatMissingData="ignore",
        )
    waits = unique("waits")
    cw.put_composite_alarm(
        AlarmName=waits,
        AlarmRule=f"ALARM({child})",
        AlarmActions=[topic],
        ActionsSuppressor=quiet,
        ActionsSuppressorWaitPeriod=120,
        ActionsSuppressorExtensionPeriod=60,
    )
    cw.set_alarm_state(AlarmName=child, StateValue="ALARM", StateReason="broken")
    assert _state(cw, waits)["ActionsSuppressedBy"] == "WaitPeriod"
    assert _notifications(sqs, inbox) == []
    advance(130)
    assert [n["AlarmName"] for n in _notifications(sqs, inbox)] == [waits]
    assert "ActionsSuppressedBy" not in _state(cw, waits)
    # Again, and this time the suppressor goes into ALARM within the wait: no notification.
    cw.set_alarm_state(AlarmName=child, StateValue="OK", StateReason="fixed")
    cw.set_alarm_state(AlarmName=child, StateValue="ALARM", StateReason="broken again")
    cw.set_alarm_state(AlarmName=quiet, StateValue="ALARM", StateReason="deploying")
    advance(130)
    assert _notifications(sqs, inbox) == []
    assert _state(cw, waits)["ActionsSuppressedBy"] == "Alarm"


def test_metrics_without_data_for_two_weeks_are_not_listed(
    cw: Any, unique: Callable[[str], str], advance: Callable[[float], float]
) -> None:
    ns = unique("Stale")
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1}])
    assert len(cw.list_metrics(Namespace=ns)["Metrics"]) == 1
    advance(4 * 3600)
    assert cw.list_metrics(Namespace=ns, RecentlyActive="PT3H")["Metrics"] == []
    assert len(cw.list_metrics(Namespace=ns)["Metrics"]) == 1
    advance(15 * 86400)
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []
