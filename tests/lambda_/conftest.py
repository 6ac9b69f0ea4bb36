"""Lambda test helpers: deployment zips built in the test, functions that clean up after."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture
def lam(client: Callable[..., Any]) -> Any:
    return client("lambda")


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


@pytest.fixture
def make_function(lam: Any, unique: Callable[[str], str]) -> Iterator[Callable[..., str]]:
    """``make_function({"app.py": source}, handler="app.handler", **create_args)`` -> name."""
    made: list[str] = []

    def make(
        files: dict[str, str],
        handler: str = "app.handler",
        runtime: str = "python3.12",
        **kwargs: Any,
    ) -> str:
        name = kwargs.pop("FunctionName", None) or unique("fn")
        kwargs.setdefault("Role", ROLE)
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Code={"ZipFile": zipped(files)},
            **kwargs,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        made.append(name)
        return name

    yield make
    for name in made:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)
