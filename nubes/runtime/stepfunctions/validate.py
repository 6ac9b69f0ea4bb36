"""Checks of a state machine definition as Step Functions makes them when a state machine is
created or updated, or a definition validated: the diagnostics AWS names (code, message,
location), which CreateStateMachine joins into its ``InvalidDefinition`` message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nubes.core import safejson
from nubes.runtime.stepfunctions import paths, queries

Json = dict[str, Any]

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | {"Next", "End", "Result", "ResultPath", "Parameters"},
    "Task": _COMMON
    | _IO
    | {
        "Next",
        "End",
        "Resource",
        "Parameters",
        "ResultPath",
        "ResultSelector",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | {"Next", "End", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON
    | _IO
    | {"Next", "End", "Branches", "Parameters", "ResultPath", "ResultSelector", "Retry", "Catch"},
    "Map": _COMMON
    | _IO
    | {
        "Next",
        "End",
        "Iterator",
        "ItemProcessor",
        "ItemsPath",
        "ItemSelector",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "Label",
        "Parameters",
        "ResultPath",
        "ResultSelector",
        "Retry",
        "Catch",
    },
}
_ONWARD = {"Next", "End", "Output", "Assign"}
_JSONATA_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _ONWARD,
    "Task": _COMMON
    | _ONWARD
    | {
        "Resource",
        "Arguments",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "Credentials",
    },
    "Choice": _COMMON | {"Choices", "Default", "Output", "Assign"},
    "Wait": _COMMON | _ONWARD | {"Seconds", "Timestamp"},
    "Succeed": _COMMON | {"Output"},
    "Fail": _COMMON | {"Error", "Cause"},
    "Parallel": _COMMON | _ONWARD | {"Branches", "Arguments", "Retry", "Catch"},
    "Map": _COMMON
    | _ONWARD
    | {
        "ItemProcessor",
        "Iterator",
        "Items",
        "ItemSelector",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "MaxConcurrency",
        "ToleratedFailurePercentage",
        "ToleratedFailureCount",
        "Label",
        "Retry",
        "Catch",
    },
}
"""The fields of each state type in JSONata (no paths: Arguments and Output instead)."""
_EXPRESSIONS = (
    "Arguments",
    "Output",
    "Assign",
    "Items",
    "ItemSelector",
    "Error",
    "Cause",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
)
_LANGUAGES = ("JSONPath", "JSONata")
_TERMINAL = {"Choice", "Succeed", "Fail"}
_COMPARISONS = {
    f"{kind}{op}"
    for kind in ("String", "Numeric", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
} | {"BooleanEquals", "StringMatches"}
COMPARISONS = _COMPARISONS | {f"{c}Path" for c in _COMPARISONS if c != "StringMatches"}
TYPE_TESTS = {"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"}
_TOP = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: str | None = None

    def as_dict(self) -> Json:
        out: Json = {"severity": "ERROR", "code": self.code, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out


def invalid_definition_message(found: list[Diagnostic]) -> str:
    """CreateStateMachine's wording: every diagnostic, ``CODE: message at location``."""
    parts = [f"{d.code}: {d.message} at {d.location}" for d in found]
    return "Invalid State Machine Definition: '" + ", ".join(parts) + "'"


def parse(definition: str) -> tuple[Json | None, list[Diagnostic]]:
    if not definition or not definition.strip():
        return None, [Diagnostic("MISSING_DESCRIPTION", "Definition is empty")]
    try:
        doc = safejson.loads(definition)
    except (ValueError, RecursionError) as exc:
        return None, [Diagnostic("INVALID_JSON_DESCRIPTION", str(exc).split("\n")[0])]
    if not isinstance(doc, dict):
        return None, [
            Diagnostic("SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object", "/")
        ]
    found: list[Diagnostic] = []
    language = doc.get("QueryLanguage", "JSONPath")
    if language not in _LANGUAGES:
        _schema(found, f"The value '{language}' is not a valid QueryLanguage", "/QueryLanguage")
        language = "JSONPath"
    _machine(doc, "", found, top=True, language=language)
    return doc, found


def _machine(
    doc: Json, where: str, found: list[Diagnostic], top: bool = False, language: str = "JSONPath"
) -> None:
    for key in doc:
        if key not in _TOP or (not top and key in ("Version", "TimeoutSeconds")):
            found.append(
                Diagnostic(
                    "SCHEMA_VALIDATION_FAILED", f"Field '{key}' is not supported", where or "/"
                )
            )
    states = doc.get("States")
    start = doc.get("StartAt")
    if not isinstance(start, str) or not start:
        found.append(
            Diagnostic(
                "SCHEMA_VALIDATION_FAILED",
                "The field 'StartAt' is required but was missing",
                where or "/",
            )
        )
    if not isinstance(states, dict) or not states:
        found.append(
            Diagnostic(
                "SCHEMA_VALIDATION_FAILED",
                "The field 'States' is required but was missing",
                where or "/",
            )
        )
        return
    if isinstance(start, str) and start and start not in states:
        found.append(
            Diagnostic(
                "MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {start}", f"{where}/StartAt"
            )
        )
    targets: dict[str, list[str]] = {}
    before = len(found)
    for name, state in states.items():
        at = f"{where}/States/{name}"
        if len(name) > 80:
            found.append(
                Diagnostic(
                    "INVALID_STATE_NAME", f"State name '{name}' is longer than 80 characters", at
                )
            )
        if not isinstance(state, dict):
            found.append(Diagnostic("SCHEMA_VALIDATION_FAILED", "A state must be an object", at))
            continue
        targets[name] = _state(name, state, at, states, found, language)
    if len(found) > before:
        return
    terminal = any(
        isinstance(s, dict) and (s.get("End") is True or s.get("Type") in ("Succeed", "Fail"))
        for s in states.values()
    )
    if not terminal:
        found.append(Diagnostic("MISSING_END_STATE", "Workflow has no terminal state"))
        return
    reached = {start} if isinstance(start, str) else set()
    queue = list(reached)
    while queue:
        for nxt in targets.get(queue.pop(), []):
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    for name in states:
        if name not in reached:
            found.append(
                Diagnostic(
                    "MISSING_TRANSITION_TARGET",
                    f'State "{name}" is not reachable.',
                    f"{where}/States/{name}",
                )
            )


def _schema(found: list[Diagnostic], message: str, at: str) -> None:
    found.append(Diagnostic("SCHEMA_VALIDATION_FAILED", message, at))


def _state(
    name: str, state: Json, at: str, states: Json, found: list[Diagnostic], language: str
) -> list[str]:
    kind = state.get("Type")
    if kind not in _FIELDS:
        if kind is None:
            _schema(found, "The field 'Type' is required but was missing", at)
        else:
            _schema(found, f"The value '{kind}' is not a valid state type", f"{at}/Type")
        return []
    own = state.get("QueryLanguage", language)
    if own not in _LANGUAGES or (language == "JSONata" and own != "JSONata"):
        _schema(
            found,
            "The QueryLanguage of a state must be JSONata or JSONPath, and JSONata in a "
            "JSONata workflow",
            f"{at}/QueryLanguage",
        )
    jsonata = own == "JSONata"
    if jsonata:
        allowed = _JSONATA_FIELDS[kind]
    else:
        allowed = _FIELDS[kind] if kind == "Fail" else _FIELDS[kind] | {"Assign"}
    for key in state:
        if key not in allowed:
            _schema(found, f"Field '{key}' is not supported", at)
    if jsonata:
        for key in _EXPRESSIONS:
            problem = queries.check(state.get(key))
            if problem:
                _schema(found, f"The JSONata expression is not valid: {problem}", f"{at}/{key}")
    targets: list[str] = []

    def target(value: Any, where: str) -> None:
        if not isinstance(value, str) or not value:
            _schema(found, "The field 'Next' should be non-empty", where)
        elif value not in states:
            found.append(
                Diagnostic("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {value}", where)
            )
        else:
            targets.append(value)

    if kind not in _TERMINAL:
        has_next, has_end = "Next" in state, "End" in state
        if has_next == has_end:
            _schema(found, "Exactly one of the fields 'Next' and 'End' is required", at)
        if has_end and state["End"] is not True:
            _schema(found, "The value of 'End' must be true", f"{at}/End")
        if has_next:
            target(state["Next"], f"{at}/Next")
    for key in ("InputPath", "OutputPath"):
        if state.get(key) is not None:
            _path(state[key], f"{at}/{key}", found)
    if state.get("ResultPath") is not None and not (
        isinstance(state["ResultPath"], str) and paths.is_reference_path(state["ResultPath"])
    ):
        _schema(
            found,
            "The value for the field 'ResultPath' must be a valid JSONPath",
            f"{at}/ResultPath",
        )
    for key in ("Parameters", "ResultSelector", "ItemSelector"):
        if key in state:
            _template(state[key], f"{at}/{key}", found)
    for key in ("Retry", "Catch"):
        if key in state:
            _retriers(state[key], key, at, found, target, jsonata)
    if kind == "Task":
        if not isinstance(state.get("Resource"), str) or not state["Resource"]:
            _schema(found, "The field 'Resource' is required but was missing", at)
        elif not state["Resource"].startswith("arn:"):
            found.append(
                Diagnostic(
                    "INVALID_RESOURCE",
                    f"Resource is not a valid ARN: '{state['Resource']}'",
                    f"{at}/Resource",
                )
            )
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            if key in state and jsonata and queries.expression(state[key]) is not None:
                continue
            if key in state and (not _positive_int(state[key])):
                _schema(found, f"The value of '{key}' must be a positive integer", f"{at}/{key}")
        timeout: Any = state.get("TimeoutSeconds")
        beat: Any = state.get("HeartbeatSeconds")
        if _positive_int(timeout) and _positive_int(beat) and beat >= timeout:
            _schema(
                found,
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
                f"{at}/HeartbeatSeconds",
            )
    elif kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            _schema(found, "The field 'Choices' should be non-empty", at)
        else:
            for i, rule in enumerate(choices):
                where = f"{at}/Choices[{i}]"
                if not isinstance(rule, dict):
                    _schema(found, "A choice rule must be an object", where)
                    continue
                if "Next" not in rule:
                    _schema(found, "The field 'Next' is required but was missing", where)
                else:
                    target(rule["Next"], f"{where}/Next")
                if jsonata:
                    _condition(rule, where, found)
                else:
                    _rule(
                        {k: v for k, v in rule.items() if k not in ("Next", "Assign")}, where, found
                    )
        if "Default" in state:
            target(state["Default"], f"{at}/Default")
    elif kind == "Wait":
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in state]
        if len(given) != 1:
            _schema(
                found,
                "Exactly one of the fields 'Seconds', 'Timestamp', 'SecondsPath' and "
                "'TimestampPath' is required",
                at,
            )
        if (
            not jsonata
            and "Seconds" in state
            and not (
                isinstance(state["Seconds"], int)
                and not isinstance(state["Seconds"], bool)
                and state["Seconds"] >= 0
            )
        ):
            _schema(found, "The value of 'Seconds' must be a non-negative integer", f"{at}/Seconds")
        if not jsonata and "Timestamp" in state and parse_timestamp(state["Timestamp"]) is None:
            _schema(
                found, "The value of 'Timestamp' must be an RFC3339 timestamp", f"{at}/Timestamp"
            )
        for key in ("SecondsPath", "TimestampPath"):
            if key in state:
                _path(state[key], f"{at}/{key}", found)
    elif kind == "Fail":
        for key in ("Error", "Cause"):
            if key in state and f"{key}Path" in state:
                _schema(found, f"Only one of '{key}' and '{key}Path' may be given", at)
    elif kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            _schema(found, "The field 'Branches' should be non-empty", at)
        else:
            for i, branch in enumerate(branches):
                if isinstance(branch, dict):
                    _machine(branch, f"{at}/Branches[{i}]", found, language=language)
                else:
                    _schema(found, "A branch must be an object", f"{at}/Branches[{i}]")
    elif kind == "Map":
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        processor = state.get(key)
        if not isinstance(processor, dict):
            _schema(found, "The field 'ItemProcessor' is required but was missing", at)
        else:
            inner = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
            _machine(inner, f"{at}/{key}", found, language=language)
        if "ItemsPath" in state:
            _path(state["ItemsPath"], f"{at}/ItemsPath", found)
        if "MaxConcurrency" in state and not (
            isinstance(state["MaxConcurrency"], int) and state["MaxConcurrency"] >= 0
        ):
            _schema(
                found,
                "The value of 'MaxConcurrency' must be a non-negative integer",
                f"{at}/MaxConcurrency",
            )
    return targets


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def parse_timestamp(value: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp with its offset, else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None or "T" not in value:
        return None
    return moment.timestamp()


def _path(value: Any, at: str, found: list[Diagnostic]) -> None:
    if not isinstance(value, str):
        _schema(found, "The value must be a JSONPath", at)
        return
    try:
        paths.check_path(value)
    except paths.PathError:
        _schema(found, f"The value for the field must be a valid JSONPath: {value}", at)


def _template(template: Any, at: str, found: list[Diagnostic]) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    _schema(
                        found, f"The value for the field '{key}' must be a STRING", f"{at}/{key}"
                    )
                elif value.strip().startswith("States."):
                    try:
                        paths.parse_intrinsic(value.strip())
                    except paths.IntrinsicError as exc:
                        _schema(
                            found,
                            f"The value for the field '{key}' must be a valid JSONPath or a "
                            f"valid intrinsic function call ({exc})",
                            f"{at}/{key}",
                        )
                else:
                    _path(value, f"{at}/{key}", found)
            else:
                _template(value, f"{at}/{key}", found)
    elif isinstance(template, list):
        for i, value in enumerate(template):
            _template(value, f"{at}[{i}]", found)


def _rule(rule: Json, at: str, found: list[Diagnostic]) -> None:
    logical = [k for k in ("And", "Or", "Not") if k in rule]
    if logical:
        op = logical[0]
        inner = rule[op]
        if op == "Not":
            if not isinstance(inner, dict):
                _schema(found, "The value of 'Not' must be a choice rule", f"{at}/Not")
            else:
                _rule(inner, f"{at}/Not", found)
        elif not isinstance(inner, list) or not inner:
            _schema(found, f"The field '{op}' should be non-empty", f"{at}/{op}")
        else:
            for i, sub in enumerate(inner):
                if isinstance(sub, dict):
                    _rule(sub, f"{at}/{op}[{i}]", found)
        return
    ops = [k for k in rule if k in COMPARISONS or k in TYPE_TESTS]
    if "Variable" not in rule:
        _schema(found, "The field 'Variable' is required but was missing", at)
    elif not isinstance(rule["Variable"], str):
        _schema(found, "The value of 'Variable' must be a JSONPath", f"{at}/Variable")
    else:
        _path(rule["Variable"], f"{at}/Variable", found)
    if len(ops) != 1:
        _schema(found, "A choice rule must have exactly one comparison operator", at)
        return
    for key in rule:
        if key not in ("Variable", "Comment", ops[0]):
            _schema(found, f"Field '{key}' is not supported", at)
    comparison = ops[0]
    value = rule[comparison]
    if comparison.endswith("Path") and comparison != "StringMatches":
        _path(value, f"{at}/{comparison}", found)
    elif comparison in TYPE_TESTS or comparison == "BooleanEquals":
        if not isinstance(value, bool):
            _schema(found, f"The value of '{comparison}' must be a boolean", f"{at}/{comparison}")
    elif comparison.startswith("Numeric"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            _schema(found, f"The value of '{comparison}' must be a number", f"{at}/{comparison}")
    elif comparison.startswith("Timestamp"):
        if parse_timestamp(value) is None:
            _schema(
                found,
                f"The value of '{comparison}' must be an RFC3339 timestamp",
                f"{at}/{comparison}",
            )
    elif not isinstance(value, str):
        _schema(found, f"The value of '{comparison}' must be a string", f"{at}/{comparison}")


def _condition(rule: Json, at: str, found: list[Diagnostic]) -> None:
    """A JSONata choice rule: a Condition expression, its Next, and what it assigns."""
    for key in rule:
        if key not in ("Condition", "Next", "Assign", "Output", "Comment"):
            _schema(found, f"Field '{key}' is not supported", at)
    if queries.expression(rule.get("Condition")) is None:
        _schema(found, "The field 'Condition' must be a JSONata expression {% ... %}", at)
    for key in ("Condition", "Assign", "Output"):
        problem = queries.check(rule.get(key))
        if problem:
            _schema(found, f"The JSONata expression is not valid: {problem}", f"{at}/{key}")


def _retriers(
    value: Any, key: str, at: str, found: list[Diagnostic], target: Any, jsonata: bool = False
) -> None:
    if not isinstance(value, list):
        _schema(found, f"The value of '{key}' must be an array", f"{at}/{key}")
        return
    for i, item in enumerate(value):
        where = f"{at}/{key}[{i}]"
        if not isinstance(item, dict):
            _schema(found, "A retrier or catcher must be an object", where)
            continue
        errors = item.get("ErrorEquals")
        if not isinstance(errors, list) or not errors:
            _schema(found, "The field 'ErrorEquals' should be non-empty", where)
        elif "States.ALL" in errors and (len(errors) > 1 or i != len(value) - 1):
            _schema(
                found,
                "States.ALL must appear alone in ErrorEquals and in the last "
                + ("retrier" if key == "Retry" else "catcher"),
                f"{where}/ErrorEquals",
            )
        if key == "Catch":
            if "Next" not in item:
                _schema(found, "The field 'Next' is required but was missing", where)
            else:
                target(item["Next"], f"{where}/Next")
            if jsonata:
                for field in ("Output", "Assign"):
                    problem = queries.check(item.get(field))
                    if problem:
                        _schema(found, f"The JSONata expression is not valid: {problem}", where)
                if "ResultPath" in item:
                    _schema(found, "Field 'ResultPath' is not supported", where)
            elif item.get("ResultPath") is not None and not paths.is_reference_path(
                str(item["ResultPath"])
            ):
                _schema(
                    found,
                    "The value for the field 'ResultPath' must be a valid JSONPath",
                    f"{where}/ResultPath",
                )
        else:
            for field in ("MaxAttempts", "IntervalSeconds", "MaxDelaySeconds"):
                if field in item and (
                    not isinstance(item[field], int)
                    or isinstance(item[field], bool)
                    or item[field] < (0 if field == "MaxAttempts" else 1)
                ):
                    _schema(found, f"The value of '{field}' is out of range", f"{where}/{field}")
            rate = item.get("BackoffRate", 2.0)
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 1:
                _schema(
                    found, "The value of 'BackoffRate' must be at least 1.0", f"{where}/BackoffRate"
                )
            if item.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                _schema(
                    found,
                    "The value of 'JitterStrategy' must be FULL or NONE",
                    f"{where}/JitterStrategy",
                )
