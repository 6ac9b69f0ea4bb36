"""What every part of the ElastiCache provider shares: its records (one table, a JSON document
per cluster, replication group, snapshot, subnet group or parameter group), identifiers,
pagination and tags on create."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from nubes.core.arns import arn
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, tag_problems
from nubes.services.base import ServiceProvider
from nubes.services.elasticache.errors import errors

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE elasticache_records (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, kind, name)
    ) WITHOUT ROWID;
    """,
)

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class Scope(Protocol):
    """Whose records: a request's context, or the account and region of a stored record."""

    @property
    def account_id(self) -> str: ...

    @property
    def region(self) -> str: ...


@dataclass(frozen=True)
class Where:
    account_id: str
    region: str


def identifier(value: str, parameter: str, limit: int) -> str:
    """AWS stores identifiers in lower case and checks their form."""
    ident = value.lower()
    if not 1 <= len(ident) <= limit or not _ID.match(ident):
        raise errors.InvalidParameterValueException(
            f"The parameter {parameter} is not a valid identifier. Identifiers must begin with "
            "a letter; must contain only ASCII letters, digits, and hyphens; and must not end "
            f"with a hyphen or contain two consecutive hyphens. Length must be 1 to {limit}."
        )
    return ident


def public(doc: Json) -> Json:
    """A record as AWS shows it (nubes' own fields start with an underscore)."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _max_records(req: Json) -> int:
    limit = req.get("MaxRecords")
    if limit is None:
        return 100
    if not 20 <= limit <= 100:
        raise errors.InvalidParameterValueException(
            "The parameter MaxRecords must be between 20 and 100."
        )
    return int(limit)


class Records(ServiceProvider):
    def _get(self, ctx: Scope, kind: str, name: str) -> Json | None:
        row = self.store.query_one(
            "SELECT doc FROM elasticache_records WHERE account = ? AND region = ? AND kind = ? "
            "AND name = ?",
            (ctx.account_id, ctx.region, kind, name),
        )
        return None if row is None else _load(row["doc"])

    def _all(self, ctx: Scope, kind: str) -> list[Json]:
        rows = self.store.query(
            "SELECT doc FROM elasticache_records WHERE account = ? AND region = ? AND kind = ? "
            "ORDER BY name",
            (ctx.account_id, ctx.region, kind),
        )
        return [_load(r["doc"]) for r in rows]

    def _everywhere(self, kind: str) -> list[tuple[Where, Json]]:
        rows = self.store.query(
            "SELECT account, region, doc FROM elasticache_records WHERE kind = ?", (kind,)
        )
        return [(Where(r["account"], r["region"]), _load(r["doc"])) for r in rows]

    def _put(self, ctx: Scope, kind: str, name: str, doc: Json) -> None:
        self.store.execute(
            "INSERT INTO elasticache_records (account, region, kind, name, doc) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT(account, region, kind, name) DO UPDATE SET "
            "doc = excluded.doc",
            (ctx.account_id, ctx.region, kind, name, json.dumps(doc)),
        )

    def _drop(self, ctx: Scope, kind: str, name: str) -> None:
        self.store.execute(
            "DELETE FROM elasticache_records WHERE account = ? AND region = ? AND kind = ? "
            "AND name = ?",
            (ctx.account_id, ctx.region, kind, name),
        )

    @staticmethod
    def _arn(ctx: Scope, kind: str, name: str) -> str:
        return arn("elasticache", ctx.region, ctx.account_id, f"{kind}:{name}")

    @staticmethod
    def _page(items: list[Json], req: Json, key: str) -> tuple[list[Json], str | None]:
        try:
            return paginate(items, _max_records(req), req.get("Marker"), lambda d: d[key])
        except InvalidToken as exc:
            raise errors.InvalidParameterValueException("Invalid marker.") from exc

    def _tag_new(self, resource_arn: str, tags: list[Json] | None) -> None:
        if tags:
            self.env.tags.set(resource_arn, check_tags(tags))


def check_tags(tags: list[Json] | None) -> dict[str, str]:
    """A new resource's tags, checked (before anything is started for it)."""
    if any(not tag.get("Key") for tag in tags or []):
        raise errors.InvalidParameterValueException("A tag's Key must not be empty.")
    new = from_list(tags or [])
    problems = tag_problems({}, new)
    if problems:
        raise errors.InvalidParameterValueException(problems[0])
    return new


def _load(text: str) -> Json:
    doc: Json = json.loads(text)
    return doc
