"""HTTP/1.1 messages on asyncio streams, as much of it as a reverse proxy needs: heads parsed
with plain string work (heads are small), bodies by Content-Length, chunked framing or the end
of the connection. Small bodies are read whole; larger ones (and every chunked or
close-delimited one) are streams, passed on as they arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
"""ALB refuses request heads beyond 64 KB (HTTP 400 / 431)."""
STREAM_OVER = 64 * 1024
"""Bodies larger than this are streamed rather than read whole."""
CHUNK = 64 * 1024


class BadMessage(Exception):
    """A message that is not HTTP/1.x: a 400 to the client, a 502 from a target."""


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    client_ip: str = ""
    client_port: int = 0
    scheme: str = "http"
    stream: AsyncIterator[bytes] | None = None
    """The body, still to be read from the client, when it is large or chunked."""
    length: int | None = None
    """The streamed body's length when the client said it (else it is sent on chunked)."""

    async def whole_body(self) -> bytes:
        """The body in memory (Lambda targets take it whole)."""
        if self.stream is not None:
            self.body = b"".join([chunk async for chunk in self.stream])
            self.stream = None
        return self.body

    async def discard(self) -> None:
        """Read what is left of a body no one forwarded, so the connection can go on."""
        if self.stream is not None:
            async for _ in self.stream:
                pass
            self.stream = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        connection = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


@dataclass
class Response:
    status: int
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False
    stream: AsyncIterator[bytes] | None = None
    """The body, still coming from the target, when it is large, chunked or runs to the end
    of the connection."""
    length: int | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadMessage(f"malformed header line {line[:40]!r}")
        out.append((name, value.strip()))
    return out


async def _head(reader: asyncio.StreamReader) -> list[str] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadMessage("connection closed inside a message head") from None
    except asyncio.LimitOverrunError:
        raise BadMessage("message head too large") from None
    return raw[:-4].decode("latin-1").split("\r\n")


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a client connection; None when the client closed it."""
    lines = await _head(reader)
    if lines is None:
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadMessage("malformed request line")
    headers = _headers(lines[1:])
    request = Request(parts[0], parts[1], parts[2], headers)
    request.body, request.stream, request.length = await _body(reader, headers, False, None)
    return request


async def read_response(
    reader: asyncio.StreamReader, method: str, idle: float | None = None
) -> Response:
    """The target's answer; a body beyond :data:`STREAM_OVER` is left as a stream, whose
    reads each wait at most ``idle`` seconds."""
    lines = await _head(reader)
    if lines is None:
        raise BadMessage("the target closed the connection without answering")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise BadMessage("malformed status line")
    status = int(code)
    headers = _headers(lines[1:])
    response = Response(status, reason, headers)
    connection = (response.header("connection") or "").lower()
    response.close = "close" in connection or (
        version == "HTTP/1.0" and "keep-alive" not in connection
    )
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return response
    framed = (
        response.header("content-length") is not None
        or "chunked" in (response.header("transfer-encoding") or "").lower()
    )
    response.body, response.stream, response.length = await _body(reader, headers, not framed, idle)
    if not framed:
        response.close = True
    return response


async def _body(
    reader: asyncio.StreamReader,
    headers: list[tuple[str, str]],
    until_close: bool,
    idle: float | None,
) -> tuple[bytes, AsyncIterator[bytes] | None, int | None]:
    """(body read whole, or b""; the stream of a larger body; its length when known)."""
    encoding = next((v for k, v in headers if k.lower() == "transfer-encoding"), "")
    if "chunked" in encoding.lower():
        return b"", _chunked(reader, idle), None
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    if length is not None:
        if not length.isdigit():
            raise BadMessage("malformed Content-Length")
        size = int(length)
        if size > STREAM_OVER:
            return b"", _exactly(reader, size, idle), size
        try:
            return await reader.readexactly(size), None, None
        except asyncio.IncompleteReadError:
            raise BadMessage("connection closed inside a body") from None
    if until_close:
        return b"", _to_the_end(reader, idle), None
    return b"", None, None


async def _read(reader: asyncio.StreamReader, call: object, idle: float | None) -> bytes:
    assert asyncio.iscoroutine(call)
    data: bytes = await (asyncio.wait_for(call, idle) if idle else call)
    return data


async def _exactly(
    reader: asyncio.StreamReader, size: int, idle: float | None
) -> AsyncIterator[bytes]:
    left = size
    while left:
        data = await _read(reader, reader.read(min(CHUNK, left)), idle)
        if not data:
            raise BadMessage("connection closed inside a body")
        left -= len(data)
        yield data


async def _to_the_end(reader: asyncio.StreamReader, idle: float | None) -> AsyncIterator[bytes]:
    while data := await _read(reader, reader.read(CHUNK), idle):
        yield data


async def _chunked(reader: asyncio.StreamReader, idle: float | None) -> AsyncIterator[bytes]:
    try:
        while True:
            line = await _read(reader, reader.readuntil(b"\r\n"), idle)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadMessage("malformed chunk size") from None
            if size == 0:
                while (await _read(reader, reader.readuntil(b"\r\n"), idle)) != b"\r\n":
                    pass  # trailers are dropped
                return
            while size:
                data = await _read(reader, reader.read(min(CHUNK, size)), idle)
                if not data:
                    raise BadMessage("connection closed inside a chunked body")
                size -= len(data)
                yield data
            await _read(reader, reader.readexactly(2), idle)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise BadMessage("connection closed inside a chunked body") from None


def encode_request(request: Request, headers: list[tuple[str, str]]) -> bytes:
    """The head (and a body read whole) for the target; a streamed body follows through
    :func:`send_body`."""
    head = [f"{request.method} {request.target} HTTP/1.1"]
    head.extend(f"{k}: {v}" for k, v in headers)
    if request.stream is not None:
        if request.length is None:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {request.length}")
    elif request.body or request.method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body


async def send_body(
    writer: asyncio.StreamWriter, stream: AsyncIterator[bytes], chunked: bool
) -> None:
    async for data in stream:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        await writer.drain()
    if chunked:
        writer.write(b"0\r\n\r\n")
    await writer.drain()


def encode_response(response: Response, keep_alive: bool, head_only: bool = False) -> bytes:
    """The head (and a body held whole); a streamed body follows through :func:`send_body`,
    chunked when its length is unknown."""
    head = [f"HTTP/1.1 {response.status} {response.reason or REASONS.get(response.status, '')}"]
    head.extend(f"{k}: {v}" for k, v in response.headers if k.lower() not in HOP_BY_HOP)
    if response.stream is None:
        head.append(f"Content-Length: {len(response.body)}")
    elif response.length is not None:
        head.append(f"Content-Length: {response.length}")
    else:
        head.append("Transfer-Encoding: chunked")
    if not keep_alive:
        head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    return data if head_only else data + response.body


REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    460: "",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
