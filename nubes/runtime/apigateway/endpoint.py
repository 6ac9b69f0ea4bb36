"""Where an API answers: ``http://<api-id>.execute-api.<anything>:<port>/<stage>/<path>`` (by
the Host header) and ``http://localhost:<port>/_aws/execute-api/<api-id>/<stage>/<path>`` for
clients without wildcard DNS."""

from __future__ import annotations

import re
from urllib.parse import unquote

from nubes.protocol.base import HttpRequest

API_HOST = re.compile(r"^(?P<id>[a-z0-9]{10})\.execute-api\.")
API_PATH = re.compile(r"^/_aws/execute-api/(?P<id>[a-z0-9]{10})(?P<rest>/.*)?$")


def locate(req: HttpRequest) -> tuple[str, str] | None:
    """(api id, the path after it, percent-decoded) when the request is for an API."""
    found = API_HOST.match(req.host)
    if found is not None:
        return found.group("id"), unquote(req.path) or "/"
    by_path = API_PATH.match(req.path)
    if by_path is not None:
        return by_path.group("id"), unquote(by_path.group("rest") or "/")
    return None


def split_stage(path: str) -> tuple[str, str]:
    """(stage, the path after it) of a REST API's request path."""
    stage, _, rest = path.lstrip("/").partition("/")
    return stage, "/" + rest
