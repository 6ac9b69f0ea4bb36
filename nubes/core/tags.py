"""Tags of any resource, kept by ARN, with AWS's common limits.

Services differ in the error they report for a broken limit, so :func:`tag_problems` only says
what is wrong and the service raises its own error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from nubes.store import Store

MIGRATIONS = (
    """
    CREATE TABLE resource_tags (
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (arn, key)
    ) WITHOUT ROWID;
    """,
)

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256


_ON_BEHALF: ContextVar[str] = ContextVar("tags_on_behalf", default="")


@contextmanager
def on_behalf_of(prefix: str) -> Iterator[None]:
    """Calls an AWS service makes for a user may set that service's own ``aws:`` tags
    (CloudFormation's ``aws:cloudformation:stack-name`` and the like), which users may not."""
    token = _ON_BEHALF.set(prefix)
    try:
        yield
    finally:
        _ON_BEHALF.reset(token)


def reserved_allowed(key: str) -> bool:
    """Whether ``key`` is an ``aws:`` tag the caller may set on a user's behalf now."""
    allowed = _ON_BEHALF.get()
    return bool(allowed) and key.startswith(allowed)


def tag_problems(existing: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    problems = []
    for key, value in new.items():
        if not key or len(key) > MAX_KEY:
            problems.append(f"Tag key '{key}' must be between 1 and {MAX_KEY} characters long.")
        if len(value) > MAX_VALUE:
            problems.append(f"Tag value for key '{key}' must be at most {MAX_VALUE} characters.")
        if key.lower().startswith("aws:") and key not in existing and not reserved_allowed(key):
            problems.append(f"Tag key '{key}' uses the reserved prefix 'aws:'.")
    if len({**existing, **new}) > MAX_TAGS:
        problems.append(f"A resource can have at most {MAX_TAGS} tags.")
    return problems


def from_list(
    tags: Iterable[Mapping[str, str]], key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    """The mapping of a request's tag list (``[{"Key": ..., "Value": ...}]``, or a service's
    own member names); a missing value is the empty string, as AWS stores it."""
    return {t[key]: t.get(value, "") for t in tags}


def to_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class Tags:
    """The tag table every service shares; callers run inside the request's transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.migrate("tags", MIGRATIONS)

    def get(self, arn: str) -> dict[str, str]:
        rows = self.store.query(
            "SELECT key, value FROM resource_tags WHERE arn = ? ORDER BY key", (arn,)
        )
        return {r["key"]: r["value"] for r in rows}

    def set(self, arn: str, tags: Mapping[str, str]) -> None:
        self.store.executemany(
            "INSERT INTO resource_tags (arn, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT(arn, key) DO UPDATE SET value = excluded.value",
            [(arn, k, v) for k, v in tags.items()],
        )

    def add(
        self,
        arn: str,
        tags: Mapping[str, str],
        invalid: Callable[[str], Exception],
        too_many: Exception | None = None,
    ) -> None:
        """Set ``tags`` within AWS's common limits; ``invalid`` makes the service's own error of
        the first problem, and ``too_many`` is raised instead when the resource would have more
        than MAX_TAGS tags (for services with an error of their own for that)."""
        existing = self.get(arn)
        if too_many is not None and len({**existing, **tags}) > MAX_TAGS:
            raise too_many
        problems = tag_problems(existing, tags)
        if problems:
            raise invalid(problems[0])
        self.set(arn, tags)

    def remove(self, arn: str, keys: Iterable[str]) -> None:
        self.store.executemany(
            "DELETE FROM resource_tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys]
        )

    def drop(self, arn: str) -> None:
        """Forget all tags of a deleted resource."""
        self.store.execute("DELETE FROM resource_tags WHERE arn = ?", (arn,))
