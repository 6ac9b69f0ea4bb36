"""Runs a state machine definition: every state type, input and output processing, Retry and
Catch, timeouts on the one clock, Parallel branches and Map iterations as concurrent tasks.

The interpreter knows nothing of storage or other services: its ``Host`` records history
events, calls task resources, sleeps on the clock and keeps the checkpoint of the top-level
position (the state about to run and its input) that lets a restarted server resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from nubes.core import clock
from nubes.runtime.stepfunctions import paths, queries
from nubes.runtime.stepfunctions.paths import StatesError
from nubes.runtime.stepfunctions.validate import TYPE_TESTS, parse_timestamp

Json = Any
Emit = Callable[[str, str | None, dict[str, Any]], None]
"""(event type, details key, details): records one history event in the caller's thread."""


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class TaskCall:
    resource: str
    parameters: Json
    state_name: str
    token: str | None
    timeout: float | None
    heartbeat: float | None
    emit: Emit


class Host(Protocol):
    def event(self, kind: str, key: str | None, details: dict[str, Any], previous: int) -> int: ...

    async def run_task(self, call: TaskCall) -> Json: ...

    async def sleep_until(self, when: float) -> None: ...

    def checkpoint(self, state: str, data: Json, variables: dict[str, Any]) -> None: ...

    async def read_items(self, resource: str, params: Json, config: Json) -> list[Json]: ...

    def map_run(self, name: str, state: Json, total: int) -> MapRun: ...


class _Thread:
    """One line of events (the execution, a Parallel branch, a Map iteration): each event's
    previousEventId is the one before it on the same line."""

    def __init__(self, host: Host, last: int) -> None:
        self.host = host
        self.last = last

    def emit(self, kind: str, key: str | None, details: dict[str, Any]) -> None:
        self.last = self.host.event(kind, key, details, self.last)


VARIABLES = paths.VARIABLES
_ENTERED_KEY = "stateEnteredEventDetails"
_EXITED_KEY = "stateExitedEventDetails"
NOT_RETRIABLE = {"States.Runtime", "States.DataLimitExceeded"}


class Interpreter:
    def __init__(self, host: Host, context: dict[str, Any], language: str = "JSONPath") -> None:
        self.host = host
        self.context = context
        """The context object ``$$`` (Execution, StateMachine); State/Task/Map per state."""
        self.language = language
        """The machine's QueryLanguage, which each state may change to JSONata."""

    async def run(
        self,
        machine: Json,
        start: str,
        data: Json,
        last_event: int,
        top: bool,
        variables: dict[str, Any] | None = None,
    ) -> Json:
        thread = _Thread(self.host, last_event)
        extra = {VARIABLES: variables if variables is not None else {}}
        return await self._machine(machine, start, data, thread, top, extra)

    async def step(self, name: str, state: Json, data: Json) -> tuple[str | None, Json]:
        """One state once, as TestState runs it: no retry, no catch (the caller asks
        ``outcome`` what they would have done), no history."""
        probe = {k: v for k, v in state.items() if k not in ("Retry", "Catch")}
        extra: dict[str, Any] = {VARIABLES: {}}
        ctx = self._ctx(name, clock.now(), extra)
        thread = _Thread(_Quiet(self.host), 0)
        following, output, _ = await self._body(
            name, probe["Type"], probe, data, thread, ctx, extra
        )
        return following, output

    async def _machine(
        self,
        machine: Json,
        start: str,
        data: Json,
        thread: _Thread,
        top: bool,
        extra: dict[str, Any],
    ) -> Json:
        name: str | None = start
        while name is not None:
            if top:
                self.host.checkpoint(name, data, extra[VARIABLES])
            state = machine["States"][name]
            name, data = await self._state(name, state, data, thread, extra)
        return data

    def _ctx(self, name: str, entered: float, extra: dict[str, Any], retry: int = 0) -> Json:
        return {
            **self.context,
            **extra,
            "State": {"Name": name, "EnteredTime": iso(entered), "RetryCount": retry},
        }

    async def _state(
        self, name: str, state: Json, data: Json, thread: _Thread, extra: dict[str, Any]
    ) -> tuple[str | None, Json]:
        kind = state["Type"]
        entered = clock.now()
        thread.emit(f"{kind}StateEntered", _ENTERED_KEY, {"name": name, "input": dumps(data)})
        ctx = self._ctx(name, entered, extra)
        variables = extra[VARIABLES]
        try:
            next_name, output, assigned = await self._body(
                name, kind, state, data, thread, ctx, extra
            )
        except StatesError as failed:
            handler = _catcher(state.get("Catch") or [], failed)
            if handler is None:
                raise
            error_output = {"Error": failed.error, "Cause": failed.cause}
            if self._jsonata(state):
                states = _states(ctx, data, errorOutput=error_output)
                output = queries.evaluate(
                    handler.get("Output", "{% $states.errorOutput %}"), states, variables
                )
                assigned = queries.evaluate(handler.get("Assign") or {}, states, variables)
            else:
                output = paths.put(handler.get("ResultPath", "$"), data, error_output)
                assigned = paths.resolve(handler.get("Assign") or {}, error_output, ctx)
            variables.update(assigned)
            thread.emit(f"{kind}StateExited", _EXITED_KEY, {"name": name, "output": dumps(output)})
            return handler["Next"], output
        variables.update(assigned)
        if kind != "Fail":
            thread.emit(f"{kind}StateExited", _EXITED_KEY, {"name": name, "output": dumps(output)})
        return next_name, output

    async def _body(
        self,
        name: str,
        kind: str,
        state: Json,
        data: Json,
        thread: _Thread,
        ctx: Json,
        extra: dict[str, Any],
    ) -> tuple[str | None, Json, dict[str, Any]]:
        """The next state, the state's output and the variables it assigns."""
        if self._jsonata(state):
            return await self._jsonata_body(name, kind, state, data, thread, ctx, extra)
        following = None if state.get("End") else state.get("Next")
        if kind == "Fail":
            error = state.get("Error")
            cause = state.get("Cause")
            if "ErrorPath" in state:
                error = _text(paths.evaluate(state["ErrorPath"], data, ctx))
            if "CausePath" in state:
                cause = _text(paths.evaluate(state["CausePath"], data, ctx))
            raise StatesError(error or "", cause or "")
        effective = _input(state, data, ctx)

        def assigned(source: Json, rule: Json | None = None) -> dict[str, Any]:
            template = (rule or {}).get("Assign", state.get("Assign")) or {}
            return dict(paths.resolve(template, source, ctx))

        if kind == "Pass":
            if "Result" in state:
                result = state["Result"]
            elif "Parameters" in state:
                result = paths.resolve(state["Parameters"], effective, ctx)
            else:
                result = effective
            return following, _output(state, data, result, ctx), assigned(effective)
        if kind == "Succeed":
            return None, _output_only(state, effective, ctx), assigned(effective)
        if kind == "Choice":
            for rule in state["Choices"]:
                if _matches(rule, effective, ctx):
                    out = _output_only(state, effective, ctx)
                    return rule["Next"], out, assigned(effective, rule)
            if "Default" in state:
                return state["Default"], _output_only(state, effective, ctx), assigned(effective)
            raise StatesError(
                "States.NoChoiceMatched",
                f"No Matches! at state {name}",
            )
        if kind == "Wait":
            await self.host.sleep_until(_wait_until(state, effective, ctx))
            return following, _output_only(state, effective, ctx), assigned(effective)
        if kind == "Task":
            result = await self._retrying(
                state, name, thread, ctx, lambda c: self._task(name, state, effective, c, thread)
            )
        elif kind == "Parallel":
            result = await self._retrying(
                state,
                name,
                thread,
                ctx,
                lambda c: self._parallel(state, effective, c, thread, extra),
            )
        else:
            result = await self._retrying(
                state,
                name,
                thread,
                ctx,
                lambda c: self._map(name, state, effective, c, thread, extra),
            )
        return following, _output(state, data, result, ctx), assigned(result)

    def _jsonata(self, state: Json) -> bool:
        return (state.get("QueryLanguage") or self.language) == "JSONata"

    async def _jsonata_body(
        self,
        name: str,
        kind: str,
        state: Json,
        data: Json,
        thread: _Thread,
        ctx: Json,
        extra: dict[str, Any],
    ) -> tuple[str | None, Json, dict[str, Any]]:
        """A state in JSONata: Arguments and Output instead of the JSONPath fields."""
        variables = extra[VARIABLES]
        states = _states(ctx, data)
        following = None if state.get("End") else state.get("Next")

        def finish(rule: Json | None = None, **more: Any) -> tuple[Json, dict[str, Any]]:
            scope = {**states, **more}
            holder = rule if rule is not None and "Output" in rule else state
            default = "{% $states.result %}" if "result" in more else "{% $states.input %}"
            output = queries.evaluate(holder.get("Output", default), scope, variables)
            template = (rule or {}).get("Assign", state.get("Assign")) or {}
            return output, dict(queries.evaluate(template, scope, variables))

        if kind == "Fail":
            error = queries.evaluate(state.get("Error", ""), states, variables)
            cause = queries.evaluate(state.get("Cause", ""), states, variables)
            raise StatesError(_text(error or ""), _text(cause or ""))
        if kind in ("Pass", "Succeed"):
            output, assigned = finish()
            return (following if kind == "Pass" else None), output, assigned
        if kind == "Choice":
            for rule in state["Choices"]:
                if queries.evaluate(rule["Condition"], states, variables) is True:
                    output, assigned = finish(rule)
                    return rule["Next"], output, assigned
            if "Default" in state:
                output, assigned = finish()
                return state["Default"], output, assigned
            raise StatesError("States.NoChoiceMatched", f"No Matches! at state {name}")
        if kind == "Wait":
            if "Seconds" in state:
                seconds = queries.evaluate(state["Seconds"], states, variables)
                when = _wait_until({"Seconds": seconds}, data, ctx)
            else:
                moment = queries.evaluate(state["Timestamp"], states, variables)
                when = _wait_until({"Timestamp": moment}, data, ctx)
            await self.host.sleep_until(when)
            output, assigned = finish()
            return following, output, assigned
        if kind == "Task":
            result = await self._retrying(
                state, name, thread, ctx, lambda c: self._task(name, state, data, c, thread)
            )
        elif kind == "Parallel":
            result = await self._retrying(
                state, name, thread, ctx, lambda c: self._parallel(state, data, c, thread, extra)
            )
        else:
            result = await self._retrying(
                state, name, thread, ctx, lambda c: self._map(name, state, data, c, thread, extra)
            )
        output, assigned = finish(result=result)
        return following, output, assigned

    def _arguments(self, state: Json, data: Json, ctx: Json, key: str = "Parameters") -> Json:
        """What a Task or Parallel state hands on: its Arguments (JSONata) or Parameters."""
        if self._jsonata(state):
            if "Arguments" not in state:
                return data
            return queries.evaluate(state["Arguments"], _states(ctx, data), ctx[VARIABLES])
        return paths.resolve(state[key], data, ctx) if key in state else data

    def _number(self, state: Json, key: str, data: Json, ctx: Json) -> Any:
        if self._jsonata(state):
            return queries.evaluate(state.get(key), _states(ctx, data), ctx[VARIABLES])
        return _setting(state, key, data, ctx)

    async def _retrying(
        self,
        state: Json,
        name: str,
        thread: _Thread,
        ctx: Json,
        attempt: Callable[[Json], Awaitable[Json]],
    ) -> Json:
        counts: dict[int, int] = {}
        delays: dict[int, float] = {}
        retries = 0
        while True:
            try:
                return await attempt({**ctx, "State": {**ctx["State"], "RetryCount": retries}})
            except StatesError as failed:
                index, retrier = _retrier(state.get("Retry") or [], failed)
                if retrier is None:
                    raise
                limit = retrier.get("MaxAttempts", 3)
                if counts.get(index, 0) >= limit:
                    raise
                counts[index] = counts.get(index, 0) + 1
                interval = float(retrier.get("IntervalSeconds", 1))
                delay = delays.get(index, interval)
                delays[index] = delay * float(retrier.get("BackoffRate", 2.0))
                if "MaxDelaySeconds" in retrier:
                    delay = min(delay, float(retrier["MaxDelaySeconds"]))
                if retrier.get("JitterStrategy") == "FULL":
                    delay = random.uniform(0, delay)
                retries += 1
                await self.host.sleep_until(clock.now() + delay)

    async def _task(self, name: str, state: Json, data: Json, ctx: Json, thread: _Thread) -> Json:
        resource = state["Resource"]
        token = None
        if resource.endswith(".waitForTaskToken") or ":activity:" in resource:
            token = secrets.token_urlsafe(96)
            ctx = {**ctx, "Task": {"Token": token}}
        params = self._arguments(state, data, ctx)
        timeout = self._number(state, "TimeoutSeconds", data, ctx)
        heartbeat = self._number(state, "HeartbeatSeconds", data, ctx)
        call = TaskCall(resource, params, name, token, timeout, heartbeat, thread.emit)
        result = await self.host.run_task(call)
        if "ResultSelector" in state:
            result = paths.resolve(state["ResultSelector"], result, ctx)
        return result

    async def _parallel(
        self, state: Json, data: Json, ctx: Json, thread: _Thread, extra: dict[str, Any]
    ) -> Json:
        data = self._arguments(state, data, ctx)
        thread.emit("ParallelStateStarted", None, {})
        # Each branch reads the variables as they are and assigns its own copies.
        branches = [
            self._machine(
                b,
                b["StartAt"],
                data,
                _Thread(self.host, thread.last),
                False,
                {**extra, VARIABLES: dict(extra[VARIABLES])},
            )
            for b in state["Branches"]
        ]
        try:
            result = await _all_or_first_failure(branches)
        except StatesError as failed:
            thread.emit("ParallelStateFailed", None, {"error": failed.error, "cause": failed.cause})
            raise StatesError(failed.error, failed.cause) from None
        thread.emit("ParallelStateSucceeded", None, {})
        if "ResultSelector" in state:
            result = paths.resolve(state["ResultSelector"], result, ctx)
        return result

    async def _map(
        self,
        name: str,
        state: Json,
        data: Json,
        ctx: Json,
        thread: _Thread,
        extra: dict[str, Any],
    ) -> Json:
        items = await self._items(name, state, data, ctx)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        distributed = (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"
        selector = state.get("ItemSelector", state.get("Parameters"))
        limit = int(self._number(state, "MaxConcurrency", data, ctx) or 0)
        gate = asyncio.Semaphore(limit) if limit > 0 else None
        thread.emit("MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)})
        run: MapRun | None = None
        if distributed:
            run = self.host.map_run(name, state, len(items))
            thread.emit("MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": run.arn})

        async def iteration(index: int, item: Json) -> Json:
            async with gate if gate is not None else contextlib.nullcontext():
                inner = {
                    **extra,
                    VARIABLES: dict(extra[VARIABLES]),
                    "Map": {"Item": {"Index": index, "Value": item}},
                }
                value = item
                if selector is not None and self._jsonata(state):
                    scope = _states({**ctx, **inner}, data)
                    value = queries.evaluate(selector, scope, inner[VARIABLES])
                elif selector is not None:
                    value = paths.resolve(selector, data, {**ctx, **inner})
                if run is not None:
                    # A child workflow: its events are its own, not the parent's history.
                    run.count("running")
                    quiet = _Thread(_Quiet(self.host), 0)
                    try:
                        out = await self._machine(
                            processor, processor["StartAt"], value, quiet, False, {VARIABLES: {}}
                        )
                    except StatesError as failed:
                        run.count("failed")
                        return {"Error": failed.error, "Cause": failed.cause}
                    run.count("succeeded")
                    return out
                line = _Thread(self.host, thread.last)
                details = {"name": name, "index": index}
                line.emit("MapIterationStarted", "mapIterationStartedEventDetails", details)
                try:
                    out = await self._machine(
                        processor,
                        processor["StartAt"],
                        value,
                        line,
                        False,
                        {**extra, VARIABLES: inner[VARIABLES]},
                    )
                except StatesError:
                    line.emit("MapIterationFailed", "mapIterationFailedEventDetails", details)
                    raise
                line.emit("MapIterationSucceeded", "mapIterationSucceededEventDetails", details)
                return out

        try:
            result = await _all_or_first_failure([iteration(i, v) for i, v in enumerate(items)])
            if run is not None:
                _tolerated(state, data, ctx, run.failed, len(items))
        except StatesError as failed:
            if run is not None:
                run.finish("FAILED", failed.error, failed.cause)
                thread.emit(
                    "MapRunFailed",
                    "mapRunFailedEventDetails",
                    {"error": failed.error, "cause": failed.cause},
                )
            thread.emit("MapStateFailed", None, {})
            raise StatesError(failed.error, failed.cause) from None
        if run is not None:
            run.finish("SUCCEEDED")
            thread.emit("MapRunSucceeded", None, {})
        thread.emit("MapStateSucceeded", None, {})
        if "ResultSelector" in state:
            result = paths.resolve(state["ResultSelector"], result, ctx)
        return result

    async def _items(self, name: str, state: Json, data: Json, ctx: Json) -> list[Json]:
        """The items a Map state iterates: its ItemReader's (S3) or ItemsPath's, at most
        ReaderConfig's MaxItems, grouped by its ItemBatcher."""
        jsonata = self._jsonata(state)
        if "ItemReader" in state:
            reader = state["ItemReader"]
            if jsonata:
                params = queries.evaluate(
                    reader.get("Arguments") or {}, _states(ctx, data), ctx[VARIABLES]
                )
            else:
                params = paths.resolve(reader.get("Parameters") or {}, data, ctx)
            items = await self.host.read_items(
                reader["Resource"], params, reader.get("ReaderConfig") or {}
            )
            most = (reader.get("ReaderConfig") or {}).get("MaxItems")
            if isinstance(most, int) and most > 0:
                items = items[:most]
        else:
            where = state.get("ItemsPath", "$")
            if jsonata:
                where = "Items"
                items = queries.evaluate(
                    state.get("Items", "{% $states.input %}"), _states(ctx, data), ctx[VARIABLES]
                )
            else:
                items = paths.select(where, data, ctx)
            if not isinstance(items, list):
                raise StatesError(
                    "States.Runtime",
                    f"An error occurred while executing the state '{name}'. The ItemsPath "
                    f"'{where}' did not select an array",
                )
        batcher = state.get("ItemBatcher")
        if batcher is None:
            return list(items)
        size = int(_setting(batcher, "MaxItemsPerBatch", data, ctx) or 0) or len(items) or 1
        batch_input = paths.resolve(batcher.get("BatchInput", {}), data, ctx)
        batches = []
        for start in range(0, len(items), size):
            batch: Json = {"Items": items[start : start + size]}
            if "BatchInput" in batcher:
                batch["BatchInput"] = batch_input
            batches.append(batch)
        return batches


def _states(ctx: Json, data: Json, **more: Any) -> dict[str, Any]:
    """JSONata's ``$states``: the state's input, the context object, and ``more`` (result,
    errorOutput)."""
    context = {k: v for k, v in ctx.items() if k != VARIABLES}
    return {"input": data, "context": context, **more}


def _setting(state: Json, key: str, data: Json, ctx: Json) -> Any:
    """A number given as ``key`` or read from the input at ``keyPath``."""
    if f"{key}Path" in state:
        return paths.select(state[f"{key}Path"], data, ctx)
    return state.get(key)


def _tolerated(state: Json, data: Json, ctx: Json, failed: int, total: int) -> None:
    if not failed:
        return
    count = _setting(state, "ToleratedFailureCount", data, ctx)
    percent = _setting(state, "ToleratedFailurePercentage", data, ctx)
    if count is None and percent is None:
        allowed = 0.0
    else:
        allowed = max(
            float(count) if count is not None else 0.0,
            total * float(percent) / 100 if percent is not None else 0.0,
        )
    if failed > allowed:
        raise StatesError(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
        )


class MapRun(Protocol):
    """A Distributed Map state's run, whose counts DescribeMapRun shows."""

    arn: str
    failed: int

    def count(self, outcome: str) -> None: ...

    def finish(self, status: str, error: str | None = None, cause: str | None = None) -> None: ...


class _Quiet:
    """A host whose history goes nowhere: the child workflows of a Distributed Map."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def event(self, kind: str, key: str | None, details: dict[str, Any], previous: int) -> int:
        return previous + 1

    async def run_task(self, call: TaskCall) -> Json:
        return await self.host.run_task(call)

    async def sleep_until(self, when: float) -> None:
        await self.host.sleep_until(when)

    def checkpoint(self, state: str, data: Json, variables: dict[str, Any]) -> None:
        pass

    async def read_items(self, resource: str, params: Json, config: Json) -> list[Json]:
        return await self.host.read_items(resource, params, config)

    def map_run(self, name: str, state: Json, total: int) -> MapRun:
        return self.host.map_run(name, state, total)


async def _all_or_first_failure(work: Sequence[Awaitable[Json]]) -> list[Json]:
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            if not task.done():
                with contextlib.suppress(BaseException):
                    await task


def _text(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


def _input(state: Json, data: Json, ctx: Json) -> Json:
    if "InputPath" not in state:
        return data
    if state["InputPath"] is None:
        return {}
    return paths.select(state["InputPath"], data, ctx)


def _output_only(state: Json, data: Json, ctx: Json) -> Json:
    if "OutputPath" not in state:
        return data
    if state["OutputPath"] is None:
        return {}
    return paths.select(state["OutputPath"], data, ctx)


def _output(state: Json, raw: Json, result: Json, ctx: Json) -> Json:
    combined = paths.put(state.get("ResultPath", "$"), raw, result)
    return _output_only(state, combined, ctx)


def _matching(errors: list[str], failed: StatesError) -> bool:
    if failed.error in errors:
        return True
    if failed.error in NOT_RETRIABLE:
        return False
    if "States.ALL" in errors:
        return True
    # States.TaskFailed stands for any error of a task but a timeout.
    return "States.TaskFailed" in errors and failed.error not in (
        "States.Timeout",
        "States.HeartbeatTimeout",
    )


def outcome(state: Json, data: Json, failed: StatesError) -> tuple[str, str | None, Json]:
    """What a state's Retry and Catch make of an error: RETRIABLE, CAUGHT_ERROR (with the
    catcher's next state and output) or FAILED."""
    if _retrier(state.get("Retry") or [], failed)[1] is not None:
        return "RETRIABLE", None, None
    handler = _catcher(state.get("Catch") or [], failed)
    if handler is None:
        return "FAILED", None, None
    caught = {"Error": failed.error, "Cause": failed.cause}
    return "CAUGHT_ERROR", handler["Next"], paths.put(handler.get("ResultPath", "$"), data, caught)


def _retrier(retriers: list[Json], failed: StatesError) -> tuple[int, Json | None]:
    for index, retrier in enumerate(retriers):
        if _matching(retrier["ErrorEquals"], failed):
            return index, retrier
    return -1, None


def _catcher(catchers: list[Json], failed: StatesError) -> Json | None:
    for catcher in catchers:
        if _matching(catcher["ErrorEquals"], failed):
            return dict(catcher)
    return None


def _wait_until(state: Json, data: Json, ctx: Json) -> float:
    if "Seconds" in state or "SecondsPath" in state:
        given = "Seconds" if "Seconds" in state else "SecondsPath"
        seconds = state["Seconds"] if given == "Seconds" else paths.select(state[given], data, ctx)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise StatesError(
                "States.Runtime",
                f"The {given} parameter does not reference a valid non-negative integer: "
                f"{dumps(seconds)}",
            )
        return clock.now() + seconds
    raw = (
        state["Timestamp"]
        if "Timestamp" in state
        else paths.select(state["TimestampPath"], data, ctx)
    )
    when = parse_timestamp(raw)
    if when is None:
        raise StatesError(
            "States.Runtime",
            f"The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
            f"date-time format string: {dumps(raw)}",
        )
    return when


# -- Choice rules --------------------------------------------------------------------------


def _matches(rule: Json, data: Json, ctx: Json) -> bool:
    if "And" in rule:
        return all(_matches(r, data, ctx) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, data, ctx) for r in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], data, ctx)
    value = paths.lookup(rule["Variable"], data, ctx)
    for op, expected in rule.items():
        if op in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        if value is paths.MISSING and op not in TYPE_TESTS:
            raise StatesError(
                "States.Runtime",
                f"An error occurred while executing the state. Invalid path "
                f"'{rule['Variable']}': The choice state's condition path references an "
                "invalid value.",
            )
        return _compare(op, value, expected, data, ctx)
    return False


def _compare(op: str, value: Any, expected: Any, data: Json, ctx: Json) -> bool:
    present = value is not paths.MISSING
    if op == "IsPresent":
        return present == expected
    if op == "IsNull":
        return (present and value is None) == expected
    if op == "IsNumeric":
        return (present and _is_number(value)) == expected
    if op == "IsString":
        return (present and isinstance(value, str)) == expected
    if op == "IsBoolean":
        return (present and isinstance(value, bool)) == expected
    if op == "IsTimestamp":
        return (present and parse_timestamp(value) is not None) == expected
    if op.endswith("Path") and op != "StringMatches":
        expected = paths.select(expected, data, ctx)
        op = op[:-4]
    if op == "StringMatches":
        return isinstance(value, str) and _wildcard(expected).fullmatch(value) is not None
    if op == "BooleanEquals":
        return isinstance(value, bool) and value == expected
    kind = re.match(r"String|Numeric|Timestamp", op)
    assert kind is not None
    relation = op[kind.end() :]
    if kind.group(0) == "String":
        if not isinstance(value, str) or not isinstance(expected, str):
            return False
        a: Any = value
        b: Any = expected
    elif kind.group(0) == "Numeric":
        if not _is_number(value) or not _is_number(expected):
            return False
        a, b = value, expected
    else:
        a, b = parse_timestamp(value), parse_timestamp(expected)
        if a is None or b is None:
            return False
    return {
        "Equals": a == b,
        "LessThan": a < b,
        "GreaterThan": a > b,
        "LessThanEquals": a <= b,
        "GreaterThanEquals": a >= b,
    }[relation]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wildcard(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)
