"""When a scheduled action runs next: once at its start time, or by its Recurrence (Unix cron,
five fields, in its TimeZone) between its start and end times."""

from __future__ import annotations

from typing import Any

from nubes.services.events.schedules import ScheduleError, parse_cron, zone

NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


def _aws_dow(field: str) -> str:
    """Unix day-of-week (0 or 7 = Sunday) in EventBridge's numbering (1 = Sunday)."""

    def one(token: str) -> str:
        step = ""
        if "/" in token:
            token, step = token.split("/", 1)
            step = "/" + step
        if token == "*":
            return token + step
        parts = token.split("-")
        out = []
        for p in parts:
            n = NAMES.get(p.upper())
            value = n if n is not None else int(p)
            out.append(str(value % 7 + 1))
        return "-".join(out) + step

    return ",".join(one(t) for t in field.split(","))


def to_aws_cron(expression: str) -> str:
    """``0 9 * * 1-5`` -> ``0 9 ? * 2-6 *`` (what the shared cron evaluator reads)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"Invalid recurrence: {expression}")
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom, dow = "?", _aws_dow(dow)
    else:
        dow = "?"
    return f"{minute} {hour} {dom} {month} {dow} *"


def next_run(action: dict[str, Any], now: float) -> float | None:
    """The next time (after ``now``) the action runs, None when it never will again."""
    start = action.get("StartTime")
    end = action.get("EndTime")
    recurrence = action.get("Recurrence")
    if not recurrence:
        return start if start is not None and start > now else None
    try:
        tz = zone(action["TimeZone"]) if action.get("TimeZone") else None
        cron = parse_cron(to_aws_cron(recurrence), tz)
    except (ScheduleError, ValueError, KeyError) as exc:
        raise ValueError(f"Given recurrence is invalid: {recurrence}") from exc
    after = max(now, start - 1) if start is not None else now
    due = cron.next_after(after)
    if due is None or (end is not None and due > end):
        return None
    return due
