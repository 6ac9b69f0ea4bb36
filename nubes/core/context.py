"""What every operation knows about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nubes.core.arns import partition_of

if TYPE_CHECKING:
    from nubes.protocol.base import HttpRequest


@dataclass
class Principal:
    """Who signed the request, as far as the gateway knows before IAM looks closer."""

    access_key_id: str
    account_id: str
    arn: str
    user_id: str
    kind: str = "root"
    """root, user, assumed-role, federated-user."""
    session_token: str | None = None


@dataclass
class RequestContext:
    account_id: str
    region: str
    request_id: str
    service: str
    operation: str
    principal: Principal
    request: HttpRequest
    protocol: str = ""
    extras: dict[str, Any] = field(default_factory=dict)
    """What an operation tells the gateway beyond its output: ``response_headers`` (a dict
    merged into the response) and ``status`` (replaces a success status the model does not
    bind, as S3's 206 for ranged reads)."""

    @property
    def partition(self) -> str:
        """The partition of the request's region, which every ARN it mints carries."""
        return partition_of(self.region)

    @property
    def base_url(self) -> str:
        """Scheme and host the client used, for URLs we hand back (queue URLs and the like)."""
        return f"{self.request.scheme}://{self.request.host or 'localhost:4566'}"
