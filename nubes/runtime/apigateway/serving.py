"""How the server's requests reach an API, for REST and HTTP APIs alike: by its invoke URL
(``endpoint.locate``) or by a custom domain name in the Host header, whose mappings pick the API
and stage. What differs between the two services (how mappings are chosen, which plane answers,
the reply when nothing is mapped) is handed in by the provider."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nubes.protocol.base import HttpRequest, HttpResponse
from nubes.runtime.apigateway.docs import Docs
from nubes.runtime.apigateway.endpoint import locate
from nubes.runtime.apigateway.proxy import Call, json_reply

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]


@dataclass(frozen=True)
class Mapped:
    """What a custom domain's mapping picked for a request's path."""

    api_id: str
    stage: str
    path: str
    """The path after the mapping's key, starting with '/'."""


Answer = Callable[[Call, Json, str | None], Awaitable[HttpResponse | None]]
"""Answers a call to an API; the stage is None at the invoke URL (the path still starts with
it) and the mapping's stage at a custom domain name. None lets the request go on to routing."""

Pick = Callable[[Json, str], Mapped | None]
"""The mapping of a custom domain (its document) that takes a percent-decoded path."""


def domain_out(domain: Json) -> Json:
    """A custom domain name as its Get operations show it (mappings have operations of their
    own)."""
    return {k: v for k, v in domain.items() if k != "mappings"}


class InvokeUrls:
    """The gateway interceptor that serves one service's APIs."""

    def __init__(
        self,
        env: Environment,
        docs: Docs,
        api_kind: str,
        answer: Answer,
        pick: Pick,
        unmapped: tuple[int, str],
    ) -> None:
        self.env = env
        self.docs = docs
        self.api_kind = api_kind
        self.answer = answer
        self.pick = pick
        self.unmapped = unmapped
        """Status and message of the reply at a custom domain when no mapping takes the path."""
        self._domains: set[str] | None = None
        """Custom domain names (asked of every request's host, so kept in memory)."""

    def start(self) -> None:
        self.env.gateway.interceptors.append(self.serve)

    def domains_changed(self) -> None:
        self._domains = None

    # -- custom domain names: one document each, with its mappings ------------------------------

    def domain_taken(self, name: str) -> bool:
        """Whether any account has the domain name (they are global)."""
        return self.docs.find("domain", name) is not None

    def domain(self, account: str, region: str, name: str) -> Json | None:
        return self.docs.get(account, region, "domain", name.lower())

    def domains(self, account: str, region: str) -> list[Json]:
        return [domain_out(d) for d in self.docs.all(account, region, "domain")]

    def save_domain(self, account: str, region: str, name: str, domain: Json) -> None:
        self.docs.put(account, region, "domain", name, domain)
        self.domains_changed()

    def delete_domain(self, account: str, region: str, name: str) -> None:
        self.docs.delete(account, region, "domain", name)
        self.domains_changed()

    async def serve(self, req: HttpRequest) -> HttpResponse | None:
        where = locate(req)
        if where is None:
            return await self._serve_domain(req)
        with self.docs.store.transaction():
            found = self.docs.find(self.api_kind, where[0])
        if found is None:
            return None
        account, region, api = found
        return await self.answer(Call(req, where[0], account, region, "", where[1]), api, None)

    def _domain_names(self) -> set[str]:
        if self._domains is None:
            with self.docs.store.transaction():
                rows = self.docs.store.query(
                    f"SELECT id FROM {self.docs.table} WHERE kind = 'domain'"
                )
            self._domains = {r["id"] for r in rows}
        return self._domains

    async def _serve_domain(self, req: HttpRequest) -> HttpResponse | None:
        host = req.host.rpartition(":")[0] if ":" in req.host else req.host
        if host not in self._domain_names():
            return None
        path = unquote(req.path) or "/"
        with self.docs.store.transaction():
            found = self.docs.find("domain", host)
            if found is None:
                return None
            account, region, domain = found
            mapped = self.pick(domain, path)
            api = None
            if mapped is not None:
                api = self.docs.get(account, region, self.api_kind, mapped.api_id)
        if mapped is None or api is None:
            return json_reply(self.unmapped[0], {"message": self.unmapped[1]})
        call = Call(req, mapped.api_id, account, region, "", mapped.path)
        return await self.answer(call, api, mapped.stage)
