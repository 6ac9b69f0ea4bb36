"""HTTP/1.1 messages on asyncio streams, as much of it as a reverse proxy needs: heads parsed
with httptools-free string work (heads are small), bodies by Content-Length, chunked framing or
the end of the connection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
"""ALB refuses request heads beyond 64 KB (HTTP 400 / 431)."""


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
    request.body = await _body(reader, headers, until_close=False)
    return request


async def read_response(reader: asyncio.StreamReader, method: str) -> Response:
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
    response.body = await _body(reader, headers, until_close=not framed)
    if not framed:
        response.close = True
    return response


async def _body(
    reader: asyncio.StreamReader, headers: list[tuple[str, str]], until_close: bool
) -> bytes:
    encoding = next((v for k, v in headers if k.lower() == "transfer-encoding"), "")
    if "chunked" in encoding.lower():
        return await _chunked(reader)
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    if length is not None:
        if not length.isdigit():
            raise BadMessage("malformed Content-Length")
        try:
            return await reader.readexactly(int(length))
        except asyncio.IncompleteReadError:
            raise BadMessage("connection closed inside a body") from None
    return await reader.read() if until_close else b""


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadMessage("malformed chunk size") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers are dropped
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise BadMessage("connection closed inside a chunked body") from None


def encode_request(request: Request, headers: list[tuple[str, str]]) -> bytes:
    head = [f"{request.method} {request.target} HTTP/1.1"]
    head.extend(f"{k}: {v}" for k, v in headers)
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body


def encode_response(response: Response, keep_alive: bool, head_only: bool = False) -> bytes:
    head = [f"HTTP/1.1 {response.status} {response.reason or REASONS.get(response.status, '')}"]
    head.extend(f"{k}: {v}" for k, v in response.headers if k.lower() not in HOP_BY_HOP)
    head.append(f"Content-Length: {len(response.body)}")
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
