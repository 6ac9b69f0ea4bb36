"""HTTP/S delivery policies as AWS documents them ("Creating an HTTP/S delivery policy", the
SetTopicAttributes and SetSubscriptionAttributes delivery policy JSON formats): the documents'
validation with SNS's messages, the effective policy of a subscription (its own over the
topic's defaults unless the topic disables overrides), the retry schedule of the four phases
with the four backoff curves, and the per-subscription receive rate of the throttle policy.

AWS draws the backoff curves in a graph rather than giving formulas. Every curve starts the
backoff phase at ``minDelayTarget`` and ends it at ``maxDelayTarget``; between them the linear
one grows by equal steps, the arithmetic one by steps that grow by a constant amount, the
geometric one by a constant ratio and the exponential one by doubling steps, which puts them
in the graph's order (linear highest, exponential lowest in the middle of the phase). AWS adds
jitter to retries; nubes does not, so a schedule can be checked by moving the clock."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_RETRIES = 100
MAX_DELAY = 3600
MAX_RETRY_TIME = 3600.0
"""AWS's hard limit on the total retry time of an HTTP/S policy: later retries are not made."""
BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
CONTENT_TYPES = frozenset(
    (
        "application/atom+xml",
        "application/json",
        "application/octet-stream",
        "application/soap+xml",
        "application/x-www-form-urlencoded",
        "application/xhtml+xml",
        "application/xml",
        "text/css",
        "text/csv",
        "text/html",
        "text/markdown",
        "text/mathml",
        "text/plain",
        "text/rtf",
        "text/turtle",
        "text/xml",
    )
)

DEFAULT_RETRY_POLICY: dict[str, Any] = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}
"""AWS's default for HTTP/S: three retries, twenty seconds apart."""

_COUNTS = ("numRetries", "numNoDelayRetries", "numMinDelayRetries", "numMaxDelayRetries")


class PolicyError(ValueError):
    """A delivery policy AWS refuses; the text follows ``DeliveryPolicy: `` in the message."""


def parse(text: str, topic: bool) -> dict[str, Any]:
    """The policy document of a topic (``{"http": {...}}``) or a subscription, checked."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise PolicyError("failed to parse JSON") from None
    if not isinstance(doc, dict):
        raise PolicyError("Delivery policy must be a JSON object")
    if topic:
        for key, value in doc.items():
            if key != "http":
                raise PolicyError(f"Unexpected JSON member: {key}")
            _section(value, "http", _TOPIC_MEMBERS)
    else:
        _section(doc, "", _SUBSCRIPTION_MEMBERS)
    return doc


def _section(doc: Any, path: str, members: Mapping[str, str]) -> None:
    if not isinstance(doc, dict):
        raise PolicyError(f"{path or 'DeliveryPolicy'} must be a JSON object")
    for key, value in doc.items():
        kind = members.get(key)
        where = f"{path}.{key}" if path else key
        if kind is None:
            raise PolicyError(f"Unexpected JSON member: {key}")
        if value is None:
            continue
        if kind == "retry":
            _retry(value, where)
        elif kind == "throttle":
            _throttle(value, where)
        elif kind == "request":
            _request(value, where)
        elif kind == "boolean" and not isinstance(value, bool):
            raise PolicyError(f"{where} must be a boolean")


_SUBSCRIPTION_MEMBERS = {
    "healthyRetryPolicy": "retry",
    "sicklyRetryPolicy": "retry",
    "throttlePolicy": "throttle",
    "requestPolicy": "request",
    "guaranteed": "boolean",
}
_TOPIC_MEMBERS = {
    "defaultHealthyRetryPolicy": "retry",
    "defaultSicklyRetryPolicy": "retry",
    "defaultThrottlePolicy": "throttle",
    "defaultRequestPolicy": "request",
    "disableSubscriptionOverrides": "boolean",
}


def _integer(doc: Mapping[str, Any], key: str, path: str, low: int, high: int | None) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{path}.{key} must be an integer")
    if value < low:
        raise PolicyError(f"{path}.{key} must be greater than or equal to {low}")
    if high is not None and value > high:
        raise PolicyError(f"{path}.{key} must be less than or equal to {high}")
    return value


def _retry(doc: Any, path: str) -> None:
    if not isinstance(doc, dict):
        raise PolicyError(f"{path} must be a JSON object")
    for key in doc:
        if key not in DEFAULT_RETRY_POLICY:
            raise PolicyError(f"Unexpected JSON member: {key}")
    policy = {**DEFAULT_RETRY_POLICY, **{k: v for k, v in doc.items() if v is not None}}
    low = _integer(policy, "minDelayTarget", path, 1, MAX_DELAY)
    high = _integer(policy, "maxDelayTarget", path, 1, MAX_DELAY)
    if low > high:
        raise PolicyError(f"{path}.minDelayTarget must be less than or equal to maxDelayTarget")
    retries = _integer(policy, "numRetries", path, 0, MAX_RETRIES)
    phases = sum(_integer(policy, key, path, 0, None) for key in _COUNTS[1:])
    if phases > retries:
        raise PolicyError(
            f"{path}.numRetries must be greater than or equal to numNoDelayRetries + "
            "numMinDelayRetries + numMaxDelayRetries"
        )
    backoff = policy["backoffFunction"]
    if not isinstance(backoff, str) or backoff.lower() not in BACKOFF_FUNCTIONS:
        raise PolicyError(f"{path}.backoffFunction must be one of: " + ", ".join(BACKOFF_FUNCTIONS))


def _throttle(doc: Any, path: str) -> None:
    if not isinstance(doc, dict):
        raise PolicyError(f"{path} must be a JSON object")
    for key in doc:
        if key != "maxReceivesPerSecond":
            raise PolicyError(f"Unexpected JSON member: {key}")
    if doc.get("maxReceivesPerSecond") is not None:
        _integer(doc, "maxReceivesPerSecond", path, 1, None)


def _request(doc: Any, path: str) -> None:
    if not isinstance(doc, dict):
        raise PolicyError(f"{path} must be a JSON object")
    for key in doc:
        if key != "headerContentType":
            raise PolicyError(f"Unexpected JSON member: {key}")
    value = doc.get("headerContentType")
    if value is None:
        return
    media = value.split(";", 1)[0].strip().lower() if isinstance(value, str) else ""
    if media not in CONTENT_TYPES:
        raise PolicyError(f"{path}.headerContentType: unsupported content type: {value}")


def effective(subscription: str | None, topic: str | None) -> dict[str, Any]:
    """The policy a subscription's deliveries follow, in the subscription document's shape:
    each part from the subscription, else the topic's default for it, else AWS's default. A
    topic with ``disableSubscriptionOverrides`` has its defaults win."""
    own = json.loads(subscription) if subscription else {}
    http = (json.loads(topic) if topic else {}).get("http") or {}
    defaults = {
        "healthyRetryPolicy": http.get("defaultHealthyRetryPolicy"),
        "throttlePolicy": http.get("defaultThrottlePolicy"),
        "requestPolicy": http.get("defaultRequestPolicy"),
    }
    overrides = not http.get("disableSubscriptionOverrides")
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        mine = own.get(key) if overrides else None
        out[key] = mine if mine is not None else default
    out["healthyRetryPolicy"] = {
        **DEFAULT_RETRY_POLICY,
        **{k: v for k, v in (out["healthyRetryPolicy"] or {}).items() if v is not None},
    }
    # AWS reports these two members whether or not a policy set them.
    out["sicklyRetryPolicy"] = own.get("sicklyRetryPolicy")
    out["guaranteed"] = bool(own.get("guaranteed", False))
    if out["requestPolicy"] is None:
        del out["requestPolicy"]
    return out


def content_type(policy: Mapping[str, Any]) -> str:
    """The Content-Type notifications are posted with, from an effective policy."""
    request = policy.get("requestPolicy") or {}
    return str(request.get("headerContentType") or DEFAULT_CONTENT_TYPE)


def topic_effective(topic: str | None) -> dict[str, Any]:
    """A topic's EffectiveDeliveryPolicy: its ``http`` section over AWS's defaults."""
    http = dict((json.loads(topic) if topic else {}).get("http") or {})
    retry = {k: v for k, v in (http.get("defaultHealthyRetryPolicy") or {}).items() if v}
    http["defaultHealthyRetryPolicy"] = {**DEFAULT_RETRY_POLICY, **retry}
    http.setdefault("disableSubscriptionOverrides", False)
    http.setdefault("defaultRequestPolicy", {"headerContentType": DEFAULT_CONTENT_TYPE})
    return {"http": http}


def _curve(name: str, step: int, steps: int, low: float, high: float) -> float:
    """The delay of backoff retry ``step`` (0-based) of ``steps``, from ``low`` to ``high``."""
    if steps <= 1 or high == low:
        return low
    last = steps - 1
    if name == "arithmetic":
        share = step * (step + 1) / (last * (last + 1))
    elif name == "geometric":
        return float(low * (high / low) ** (step / last))
    elif name == "exponential":
        share = (2**step - 1) / (2**last - 1)
    else:
        share = step / last
    return low + (high - low) * share


def retry_delays(policy: Mapping[str, Any]) -> list[float]:
    """Seconds to wait before each retry: the immediate phase, the pre-backoff phase at
    ``minDelayTarget``, the backoff phase along the curve and the post-backoff phase at
    ``maxDelayTarget``; retries past AWS's total retry time are not made."""
    full = {**DEFAULT_RETRY_POLICY, **policy}
    retries = int(full["numRetries"])
    no_delay, at_min, at_max = (int(full[key]) for key in _COUNTS[1:])
    low, high = float(full["minDelayTarget"]), float(full["maxDelayTarget"])
    backoff = max(retries - no_delay - at_min - at_max, 0)
    name = str(full["backoffFunction"]).lower()
    delays = [0.0] * no_delay + [low] * at_min
    delays += [_curve(name, step, backoff, low, high) for step in range(backoff)]
    delays += [high] * at_max
    out, total = [], 0.0
    for delay in delays[:retries]:
        total += delay
        if total > MAX_RETRY_TIME:
            break
        out.append(delay)
    return out


class Throttle:
    """At most ``maxReceivesPerSecond`` deliveries start for a subscription in one second of
    the clock; the rest wait for a later second."""

    def __init__(self) -> None:
        self._seconds: dict[str, tuple[int, int]] = {}

    def admit(self, subscription: str, limit: int | None, now: float) -> bool:
        if not limit:
            return True
        second = int(now)
        if len(self._seconds) > 1000:
            # Only this second's counts matter: forget the rest (deleted subscriptions too).
            self._seconds = {k: v for k, v in self._seconds.items() if v[0] == second}
        current, count = self._seconds.get(subscription, (second, 0))
        if current != second:
            count = 0
        if count >= limit:
            return False
        self._seconds[subscription] = (second, count + 1)
        return True
