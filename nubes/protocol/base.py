"""The wire-level values every protocol reads and writes, and the contract a protocol fulfils.

A protocol turns an :class:`HttpRequest` into the operation's input dict and an output dict
(or a :class:`ServiceError`) into an :class:`HttpResponse`, driven only by botocore's models.
Parsed values use Python types: structures and maps are dicts, lists are lists, timestamps are
aware UTC datetimes, blobs are bytes, a streaming blob is a readable binary file object.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qs

from botocore.model import OperationModel, ServiceModel, Shape


@dataclass
class HttpRequest:
    method: str
    path: str
    """The path as sent: still percent-encoded, without the query string."""
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    """Lower-cased names; repeated headers are joined with ','."""
    body: bytes = b""
    body_file: BinaryIO | None = None
    """Set instead of ``body`` when a large body was spooled to disk rather than kept in memory."""
    scheme: str = "http"
    client_ip: str = ""
    """The peer's address (aws:SourceIp when no proxy names another)."""

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def body_stream(self) -> BinaryIO:
        if self.body_file is not None:
            return self.body_file
        return io.BytesIO(self.body)

    def read_body(self) -> bytes:
        """The whole body in memory; only for operations whose payload is not streaming."""
        if self.body_file is not None:
            self.body_file.seek(0)
            return self.body_file.read()
        return self.body

    def body_size(self) -> int:
        if self.body_file is not None:
            return os.fstat(self.body_file.fileno()).st_size
        return len(self.body)

    def read_limited(self, limit: int, code: str = "RequestEntityTooLarge") -> bytes:
        """The whole body, refused with ``code`` (HTTP 413) when larger than ``limit`` bytes:
        a body parsed in memory is bounded, whatever operation it is for."""
        size = self.body_size()
        if size > limit:
            raise ServiceError(
                code,
                f"The request body is {size} bytes; at most {limit} are accepted.",
                status=413 if code == "RequestEntityTooLarge" else 400,
            )
        return self.read_body()


Body = bytes | Iterator[bytes] | AsyncIterator[bytes]


@dataclass
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = b""


class ServiceError(Exception):
    """An error the service answers with.

    ``code`` is the error shape's name (what JSON protocols send as ``__type``); ``query_code``
    is the shape's own ``error.code`` when the model gives one (what query, ec2 and rest-xml
    send as ``<Code>``, and what ``x-amzn-query-error`` carries for query-compatible services).
    ``fields`` holds the other members of the error shape (e.g. S3's ``BucketName``).
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        status: int = 400,
        sender_fault: bool = True,
        query_code: str | None = None,
        fields: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.query_code = query_code
        self.fields: dict[str, Any] = dict(fields or {})
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def wire_code(self) -> str:
        """The code query-style protocols put in ``<Code>``."""
        return self.query_code or self.code

    @classmethod
    def from_shape(cls, shape: Shape, message: str = "", **fields: Any) -> ServiceError:
        meta = shape.metadata.get("error", {})
        return cls(
            code=shape.name,
            message=message,
            status=int(meta.get("httpStatusCode", 400)),
            sender_fault=bool(meta.get("senderFault", not shape.metadata.get("fault", False))),
            query_code=meta.get("code"),
            fields=fields,
        )

    def __repr__(self) -> str:
        return f"ServiceError({self.code!r}, {self.message!r}, status={self.status})"


@dataclass
class ResponseContext:
    """What a serializer needs beyond the output itself."""

    request_id: str
    service: ServiceModel
    operation: OperationModel | None = None
    host_id: str = ""
    """S3's extended request id (``x-amz-id-2``), repeated as ``<HostId>`` in error bodies."""


class WireProtocol(Protocol):
    """One parser and serializer pair for one of botocore's protocol names."""

    name: str

    def parse(
        self, op: OperationModel, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        """The operation's input from the request. ``uri_params`` are the already
        percent-decoded values of the ``requestUri`` labels (REST protocols only).
        Malformed input raises ServiceError (code ``SerializationException`` or the
        protocol's equivalent)."""
        ...

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        """The response for a successful call of ``ctx.operation``."""
        ...

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        """The response for an error; ``ctx.operation`` may be None when routing failed."""
        ...
