"""Matching REST requests against the ``requestUri`` templates of a service's operations.

A template such as ``/{Bucket}/{Key+}?uploadId`` has a path part (labels match one segment,
greedy labels ``{X+}`` match the rest, slashes included) and a query part naming keys that must
be present (``?uploads``) or keys with a required value (``?list-type=2``). Each service's table is
compiled once; a request picks the most specific operation that matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class CompiledUri:
    template: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    required_query: tuple[tuple[str, str | None], ...]
    literal_chars: int
    """How much of the path is literal text: more literal means more specific."""
    greedy: bool


@lru_cache(maxsize=4096)
def compile_uri(template: str) -> CompiledUri:
    path, _, query = template.partition("?")
    regex = ["^"]
    labels: list[str] = []
    pos = 0
    literal = 0
    greedy = False
    for m in _LABEL.finditer(path):
        text = path[pos : m.start()]
        regex.append(re.escape(text))
        literal += len(text)
        labels.append(m.group(1))
        if m.group(2):
            greedy = True
            regex.append("(.+)")
        else:
            regex.append("([^/]+)")
        pos = m.end()
    tail = path[pos:]
    literal += len(tail)
    regex.append(re.escape(tail))
    if not tail.endswith("/"):
        # Clients sometimes add a trailing slash; no template requires its absence.
        regex.append("/?")
    regex.append("$")
    required: list[tuple[str, str | None]] = []
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        required.append((key, value if eq else None))
    return CompiledUri(
        template=template,
        pattern=re.compile("".join(regex), re.DOTALL),
        labels=tuple(labels),
        required_query=tuple(required),
        literal_chars=literal,
        greedy=greedy,
    )


def match_request_uri(template: str, path: str) -> dict[str, str] | None:
    """The percent-decoded label values if ``path`` (as sent, still encoded) fits ``template``."""
    compiled = compile_uri(template)
    m = compiled.pattern.match(path)
    if m is None:
        return None
    return {name: unquote(value) for name, value in zip(compiled.labels, m.groups(), strict=True)}


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    uri: CompiledUri
    required_query: tuple[tuple[str, str | None], ...]
    required_headers: tuple[str, ...]
    deprecated: bool = False
    """A deprecated operation yields to its successor on the same route (S3's
    GetBucketLifecycle to GetBucketLifecycleConfiguration)."""


def _required_bindings(op: OperationModel) -> tuple[list[str], list[str]]:
    """Query keys and headers the operation's input requires: they tell apart operations that
    share a method and path (S3's UploadPart needs ``partNumber`` and ``uploadId``)."""
    shape = op.input_shape
    if shape is None:
        return [], []
    query: list[str] = []
    headers: list[str] = []
    for name in shape.required_members:
        member = shape.members[name]
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "querystring":
            query.append(wire)
        elif where == "header":
            headers.append(wire.lower())
    return query, headers


class RestRouter:
    """All REST operations of one service, most specific first."""

    def __init__(self, service: ServiceModel) -> None:
        routes: list[Route] = []
        for name in service.operation_names:
            op = service.operation_model(name)
            http = op.http
            uri = compile_uri(http.get("requestUri", "/"))
            query, headers = _required_bindings(op)
            required_query = list(uri.required_query)
            required_query += [(k, None) for k in query if k not in dict(uri.required_query)]
            routes.append(
                Route(
                    operation=name,
                    method=http.get("method", "POST").upper(),
                    uri=uri,
                    required_query=tuple(required_query),
                    required_headers=tuple(headers),
                    deprecated=bool(op.deprecated),
                )
            )
        routes.sort(
            key=lambda r: (
                -(len(r.required_headers) + len(r.required_query)),
                r.deprecated,
                r.uri.greedy,
                -r.uri.literal_chars,
                -len(r.uri.labels),
                r.operation,
            )
        )
        self._by_method: dict[str, list[Route]] = {}
        for route in routes:
            self._by_method.setdefault(route.method, []).append(route)

    def match(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]
    ) -> tuple[str, dict[str, str]] | None:
        for route in self._by_method.get(method, ()):
            required = route.required_query
            # Most object requests carry no query: skip every route that needs one at once.
            if required and (not query or required[0][0] not in query):
                continue
            if route.required_headers and any(h not in headers for h in route.required_headers):
                continue
            if not all(
                key in query and (value is None or value in query[key]) for key, value in required
            ):
                continue
            m = route.uri.pattern.match(path)
            if m is None:
                continue
            return route.operation, {
                name: unquote(v) for name, v in zip(route.uri.labels, m.groups(), strict=True)
            }
        return None

    def methods_for_path(self, path: str) -> set[str]:
        return {
            method
            for method, routes in self._by_method.items()
            for route in routes
            if route.uri.pattern.match(path)
        }
