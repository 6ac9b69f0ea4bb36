"""JSONata, the States Language's second query language: ``{% expression %}`` strings in a
state's Arguments, Output, Assign, Condition, Items ..., with ``$states`` (input, result,
errorOutput, context), the workflow's variables and Step Functions' own functions."""

from __future__ import annotations

import functools
import json
import random
import re
from typing import Any

import jsonata

from nubes.runtime.stepfunctions import paths
from nubes.runtime.stepfunctions.paths import StatesError

Json = Any
_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)


def expression(value: Any) -> str | None:
    """The JSONata text of a ``{% ... %}`` string, else None."""
    if not isinstance(value, str):
        return None
    found = _EXPRESSION.match(value.strip())
    return found.group(1) if found else None


@functools.lru_cache(maxsize=512)
def compiled(text: str) -> jsonata.Jsonata:
    """Raises ``jsonata.JException`` when the text is not a JSONata expression."""
    parsed = jsonata.Jsonata(text)
    parsed.register_lambda("partition", paths.FUNCTIONS["States.ArrayPartition"])
    parsed.register_lambda("range", paths.FUNCTIONS["States.ArrayRange"])
    parsed.register_lambda("hash", paths.FUNCTIONS["States.Hash"])
    parsed.register_lambda("random", _random)
    parsed.register_lambda("uuid", paths.FUNCTIONS["States.UUID"])
    parsed.register_lambda("parse", json.loads)
    return parsed


def _random(seed: Any = None) -> float:
    return (random.Random(seed) if seed is not None else random).random()


def check(template: Json) -> str | None:
    """The first expression in ``template`` that does not parse, with the parser's message."""
    text = expression(template)
    if text is not None:
        try:
            compiled(text)
        except Exception as exc:  # the library raises several kinds for bad syntax
            return f"{text.strip()}: {exc}"
        return None
    if isinstance(template, dict):
        for value in template.values():
            found = check(value)
            if found:
                return found
    if isinstance(template, list):
        for value in template:
            found = check(value)
            if found:
                return found
    return None


def evaluate(template: Json, states: dict[str, Any], variables: dict[str, Any]) -> Json:
    """A template's value: every ``{% %}`` string replaced by its expression's value."""
    text = expression(template)
    if text is not None:
        try:
            return compiled(text).evaluate(None, {**variables, "states": states})
        except StatesError:
            raise
        except Exception as exc:
            raise StatesError(
                "States.QueryEvaluationError",
                f"An error occurred while evaluating the JSONata expression '{text.strip()}': "
                f"{exc}",
            ) from None
    if isinstance(template, dict):
        return {k: evaluate(v, states, variables) for k, v in template.items()}
    if isinstance(template, list):
        return [evaluate(v, states, variables) for v in template]
    return template
