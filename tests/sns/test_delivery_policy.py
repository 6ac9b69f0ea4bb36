"""HTTP/S delivery policies as AWS documents them ("Creating an HTTP/S delivery policy" and the
SetTopicAttributes / SetSubscriptionAttributes delivery policy JSON formats): the documents SNS
accepts and the InvalidParameter messages for the ones it refuses, the effective policies it
reports, retries on the schedule the policy describes (by the clock) and the throttle policy's
receive rate."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from nubes.services.sns.delivery_policy import (
    DEFAULT_RETRY_POLICY,
    Throttle,
    retry_delays,
)
from tests.sns.conftest import Recorder


def _failure(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


def _http_subscription(
    sns: Any, topic: str, hook: Recorder, policy: dict[str, Any] | None = None
) -> str:
    attributes = {"DeliveryPolicy": json.dumps(policy)} if policy else {}
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url, Attributes=attributes)
    token = json.loads(hook.wait_for(1)[0][1])["Token"]
    return str(sns.confirm_subscription(TopicArn=topic, Token=token)["SubscriptionArn"])


# -- the schedule (pure) ---------------------------------------------------------------------


def test_default_policy_is_three_retries_twenty_seconds_apart() -> None:
    assert retry_delays(DEFAULT_RETRY_POLICY) == [20.0, 20.0, 20.0]


def test_the_four_phases() -> None:
    policy = {
        "numRetries": 6,
        "numNoDelayRetries": 1,
        "numMinDelayRetries": 1,
        "minDelayTarget": 2,
        "maxDelayTarget": 10,
        "numMaxDelayRetries": 1,
    }
    # Immediate, pre-backoff at the minimum, a linear backoff phase from the minimum to the
    # maximum, post-backoff at the maximum.
    assert retry_delays(policy) == pytest.approx([0.0, 2.0, 2.0, 6.0, 10.0, 10.0])


def test_backoff_curves_run_from_min_to_max_in_the_documented_order() -> None:
    curves = {
        name: retry_delays(
            {"numRetries": 9, "minDelayTarget": 1, "maxDelayTarget": 20, "backoffFunction": name}
        )
        for name in ("linear", "arithmetic", "geometric", "exponential")
    }
    for delays in curves.values():
        assert delays[0] == pytest.approx(1.0)
        assert delays[-1] == pytest.approx(20.0)
        assert delays == sorted(delays)
    middle = {name: delays[4] for name, delays in curves.items()}
    assert middle["linear"] > middle["arithmetic"] > middle["geometric"] > middle["exponential"]
    assert curves["linear"][4] == pytest.approx(10.5)


def test_retries_stop_at_the_total_retry_time_limit() -> None:
    policy = {"numRetries": 100, "minDelayTarget": 3600, "maxDelayTarget": 3600}
    assert retry_delays(policy) == [3600.0]


def test_throttle_admits_so_many_per_second() -> None:
    throttle = Throttle()
    assert [throttle.admit("sub", 2, 100.1) for _ in range(3)] == [True, True, False]
    assert throttle.admit("other", 2, 100.2)
    assert throttle.admit("sub", 2, 101.0)
    assert throttle.admit("sub", None, 101.0)


# -- validation ------------------------------------------------------------------------------

_SUBSCRIPTION_REFUSED = [
    ("{", "failed to parse JSON"),
    ('{"healthyRetryPolicy": {"numRetries": 101}}', "numRetries must be less than or equal to 100"),
    ('{"healthyRetryPolicy": {"numRetries": -1}}', "numRetries must be greater than or equal to 0"),
    (
        '{"healthyRetryPolicy": {"minDelayTarget": 0}}',
        "minDelayTarget must be greater than or equal to 1",
    ),
    (
        '{"healthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 3601}}',
        "maxDelayTarget must be less than or equal to 3600",
    ),
    (
        '{"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 10}}',
        "minDelayTarget must be less than or equal to maxDelayTarget",
    ),
    (
        '{"healthyRetryPolicy": {"numRetries": 3, "numNoDelayRetries": 2, '
        '"numMaxDelayRetries": 2}}',
        "numRetries must be greater than or equal to numNoDelayRetries",
    ),
    (
        '{"healthyRetryPolicy": {"numMinDelayRetries": -1}}',
        "numMinDelayRetries must be greater than or equal to 0",
    ),
    ('{"healthyRetryPolicy": {"numRetries": "3"}}', "numRetries must be an integer"),
    ('{"healthyRetryPolicy": {"backoffFunction": "cubic"}}', "backoffFunction must be one of"),
    ('{"healthyRetryPolicy": {"retries": 3}}', "Unexpected JSON member: retries"),
    (
        '{"throttlePolicy": {"maxReceivesPerSecond": 0}}',
        "maxReceivesPerSecond must be greater than or equal to 1",
    ),
    ('{"requestPolicy": {"headerContentType": "image/png"}}', "unsupported content type"),
    ('{"http": {}}', "Unexpected JSON member: http"),
]


@pytest.mark.parametrize(("document", "wording"), _SUBSCRIPTION_REFUSED)
def test_subscription_policy_refused(
    sns: Any, http_endpoint: Recorder, unique: Callable[[str], str], document: str, wording: str
) -> None:
    topic = sns.create_topic(Name=unique("dp"))["TopicArn"]
    sub = _http_subscription(sns, topic, http_endpoint)
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="DeliveryPolicy", AttributeValue=document
        )
    code, message = _failure(exc)
    assert code == "InvalidParameter"
    assert message.startswith("Invalid parameter: DeliveryPolicy: ")
    assert wording in message
    # Subscribe names the Attributes parameter first.
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint=http_endpoint.url + "/other",
            Attributes={"DeliveryPolicy": document},
        )
    assert _failure(exc)[1].startswith("Invalid parameter: Attributes Reason: DeliveryPolicy: ")


def test_topic_policy_messages_name_the_http_section(
    sns: Any, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("dp"))["TopicArn"]
    bad = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 101}}}
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(bad)
        )
    assert _failure(exc) == (
        "InvalidParameter",
        "Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.numRetries must be "
        "less than or equal to 100",
    )
    # A subscription's members at the top of a topic's policy are not a topic policy.
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="DeliveryPolicy",
            AttributeValue='{"throttlePolicy": {"maxReceivesPerSecond": 5}}',
        )
    assert (
        _failure(exc)[1]
        == "Invalid parameter: DeliveryPolicy: Unexpected JSON member: throttlePolicy"
    )
    with pytest.raises(sns.exceptions.InvalidParameterException) as exc:
        sns.create_topic(
            Name=unique("dp"),
            Attributes={"DeliveryPolicy": '{"http": {"disableSubscriptionOverrides": "yes"}}'},
        )
    assert _failure(exc)[1] == (
        "Invalid parameter: Attributes Reason: DeliveryPolicy: "
        "http.disableSubscriptionOverrides must be a boolean"
    )
    # Nothing was changed by the refusals.
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert "DeliveryPolicy" not in attrs


def test_default_effective_policy_of_an_http_subscription(
    sns: Any, http_endpoint: Recorder, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("dp"))["TopicArn"]
    sub = _http_subscription(sns, topic, http_endpoint)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attrs["EffectiveDeliveryPolicy"]) == {
        "healthyRetryPolicy": DEFAULT_RETRY_POLICY,
        "sicklyRetryPolicy": None,
        "throttlePolicy": None,
        "guaranteed": False,
    }
    topic_attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert json.loads(topic_attrs["EffectiveDeliveryPolicy"]) == {
        "http": {
            "defaultHealthyRetryPolicy": DEFAULT_RETRY_POLICY,
            "disableSubscriptionOverrides": False,
            "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
        }
    }


def test_documented_policies_are_accepted_and_reported_effective(
    sns: Any, http_endpoint: Recorder, unique: Callable[[str], str]
) -> None:
    topic_policy = {
        "http": {
            "defaultHealthyRetryPolicy": {
                "minDelayTarget": 5,
                "maxDelayTarget": 60,
                "numRetries": 8,
                "numMaxDelayRetries": 2,
                "backoffFunction": "geometric",
            },
            "disableSubscriptionOverrides": False,
            "defaultThrottlePolicy": {"maxReceivesPerSecond": 7},
            "defaultRequestPolicy": {"headerContentType": "application/json"},
        }
    }
    topic = sns.create_topic(
        Name=unique("dp"), Attributes={"DeliveryPolicy": json.dumps(topic_policy)}
    )["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert json.loads(attrs["DeliveryPolicy"]) == topic_policy
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])["http"]
    assert effective["defaultHealthyRetryPolicy"]["numRetries"] == 8
    assert effective["defaultHealthyRetryPolicy"]["numNoDelayRetries"] == 0
    assert effective["defaultThrottlePolicy"] == {"maxReceivesPerSecond": 7}

    # The documentation's own example: five retries, the rest from the defaults.
    sub = _http_subscription(sns, topic, http_endpoint, {"healthyRetryPolicy": {"numRetries": 5}})
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    sub_effective = json.loads(sub_attrs["EffectiveDeliveryPolicy"])
    assert sub_effective["healthyRetryPolicy"] == {**DEFAULT_RETRY_POLICY, "numRetries": 5}
    assert sub_effective["throttlePolicy"] == {"maxReceivesPerSecond": 7}
    assert sub_effective["requestPolicy"] == {"headerContentType": "application/json"}
    assert sub_effective["sicklyRetryPolicy"] is None
    assert sub_effective["guaranteed"] is False

    # A topic that disables overrides has its defaults win over the subscription's.
    topic_policy["http"]["disableSubscriptionOverrides"] = True
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(topic_policy)
    )
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    retry = json.loads(sub_attrs["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]
    assert retry["numRetries"] == 8
    assert retry["backoffFunction"] == "geometric"


# -- deliveries ------------------------------------------------------------------------------


def _no_new_post(hook: Recorder, count: int) -> None:
    """The endpoint still has ``count`` posts a moment later (nothing was due)."""
    assert len(hook.wait_for(count + 1, timeout=0.5)) == count


def test_retries_follow_the_backoff_curve_by_the_clock(
    sns: Any,
    http_endpoint: Recorder,
    unique: Callable[[str], str],
    advance: Callable[[float], None],
) -> None:
    # Exponential backoff over three retries from 10 s to 100 s: 10, 40, then 100 seconds.
    policy = {
        "healthyRetryPolicy": {
            "numRetries": 3,
            "minDelayTarget": 10,
            "maxDelayTarget": 100,
            "backoffFunction": "exponential",
        }
    }
    topic = sns.create_topic(Name=unique("curve"))["TopicArn"]
    _http_subscription(sns, topic, http_endpoint, policy)
    http_endpoint.statuses = [500, 500, 500]
    sns.publish(TopicArn=topic, Message="patience")
    assert len(http_endpoint.wait_for(2)) == 2
    seen = 2
    for delay in (10, 40, 100):
        advance(delay - 2)
        _no_new_post(http_endpoint, seen)
        advance(3)
        seen += 1
        assert len(http_endpoint.wait_for(seen)) == seen
    assert [json.loads(body)["Message"] for _, body in http_endpoint.posts[1:]] == ["patience"] * 4
    advance(3600)
    _no_new_post(http_endpoint, seen)


def test_throttle_policy_spreads_deliveries_over_seconds(
    sns: Any, http_endpoint: Recorder, unique: Callable[[str], str]
) -> None:
    topic = sns.create_topic(Name=unique("throttle"))["TopicArn"]
    _http_subscription(sns, topic, http_endpoint, {"throttlePolicy": {"maxReceivesPerSecond": 1}})
    for n in range(4):
        sns.publish(TopicArn=topic, Message=f"m{n}")
    first = http_endpoint.wait_for(2)
    # One delivery a second: three more seconds pass before the last one is sent.
    assert len(first) < 5
    posts = http_endpoint.wait_for(5)
    assert len(posts) == 5
    assert sorted(json.loads(body)["Message"] for _, body in posts[1:]) == [
        "m0",
        "m1",
        "m2",
        "m3",
    ]
