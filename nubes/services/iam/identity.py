"""Who an access key stands for, and the policies that apply to it: the lookup the gateway
makes on every request (kept in memory, dropped whenever IAM changes) and that enforcement and
STS build on."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nubes.core import clock
from nubes.core.context import Principal
from nubes.services.iam.models import IamStore
from nubes.services.iam.policy import Caller, Policy, parse_policy

PolicyRef = tuple[str, Policy]
Sources = Callable[[str, str, str], list[tuple[str, str, str]]]
"""(account, kind, name) -> identity policy sources (id, type, document)."""
Managed = Callable[[str, str], list[tuple[str, str, str]]]
"""(account, policy arn) -> that managed policy's default version as a source."""


@dataclass
class KeyRecord:
    principal: Principal
    caller: Caller
    secret: str
    active: bool = True
    expires: float | None = None
    """Temporary credentials: when they stop working (on the nubes clock)."""
    session: dict[str, Any] | None = None
    """What STS recorded about the session (policies, tags, source identity, chaining)."""

    @property
    def expired(self) -> bool:
        return self.expires is not None and clock.now() >= self.expires


@dataclass
class PolicySet:
    identity: list[PolicyRef]
    boundary: list[PolicyRef] | None
    session: list[PolicyRef] | None


def compile_sources(sources: list[tuple[str, str, str]]) -> list[PolicyRef]:
    out = []
    for policy_id, _, document in sources:
        try:
            out.append((policy_id, parse_policy(document, "identity", validate=False)))
        except ValueError:
            continue
    return out


class Identities:
    def __init__(
        self,
        iam: IamStore,
        sources: Sources,
        managed: Managed,
        tags: Callable[[str], dict[str, str]],
    ) -> None:
        self.iam = iam
        self.tags = tags
        self.sources = sources
        self.managed = managed
        self._keys: dict[str, KeyRecord | None] = {}
        self._policies: dict[str, PolicySet] = {}

    def clear(self) -> None:
        self._keys.clear()
        self._policies.clear()

    def forget_policies(self) -> None:
        """IAM changed what is attached to whom: rebuild policy sets, keys stay valid."""
        self._policies.clear()

    def resolve(self, key_id: str) -> Principal | None:
        """The key resolver the gateway calls per request."""
        record = self.record(key_id)
        return record.principal if record is not None else None

    def record(self, key_id: str) -> KeyRecord | None:
        if key_id in self._keys:
            return self._keys[key_id]
        record = self._load(key_id) if key_id[:4] in ("AKIA", "ASIA") else None
        self._keys[key_id] = record
        return record

    def _load(self, key_id: str) -> KeyRecord | None:
        if key_id.startswith("AKIA"):
            row = self.iam.access_key(key_id)
            if row is None:
                return None
            return self._user_key(
                key_id, row["account"], row["user_name"], row["secret"], row["status"] == "Active"
            )
        row = self.iam.session(key_id)
        if row is None:
            return None
        data = json.loads(row["data"])
        principal = Principal(
            access_key_id=key_id,
            account_id=row["account"],
            arn=data["arn"],
            user_id=data["user_id"],
            kind=data["kind"],
            session_token=row["token"],
        )
        caller = Caller(
            arn=data["arn"],
            account=row["account"],
            kind=data["kind"],
            user_id=data["user_id"],
            name=data.get("user_name") if data["kind"] == "user" else None,
            role_arn=data.get("role_arn"),
            tags=data.get("tags", {}),
            mfa=bool(data.get("mfa")),
        )
        return KeyRecord(principal, caller, row["secret"], True, row["expires"], data)

    def _user_key(
        self, key_id: str, account: str, user: str, secret: str, active: bool
    ) -> KeyRecord | None:
        if not user:
            principal = Principal(key_id, account, f"arn:aws:iam::{account}:root", account, "root")
            caller = Caller(principal.arn, account, "root", account)
            return KeyRecord(principal, caller, secret, active)
        entity = self.iam.get(account, "user", user)
        if entity is None:
            return None
        principal = Principal(key_id, account, entity.arn, entity.id, "user")
        tags = self.tags(entity.arn)
        caller = Caller(entity.arn, account, "user", entity.id, entity.name, tags=tags)
        return KeyRecord(principal, caller, secret, active)

    def policies(self, key_id: str, record: KeyRecord) -> PolicySet:
        found = self._policies.get(key_id)
        if found is None:
            found = self._policies[key_id] = self._build(record)
        return found

    def _build(self, record: KeyRecord) -> PolicySet:
        caller = record.caller
        account = caller.account
        if caller.kind == "root":
            return PolicySet([], None, None)
        session = record.session or {}
        if caller.kind == "assumed-role":
            name = str(caller.role_arn).rsplit("/", 1)[-1]
            kind = "role"
        else:
            name = session.get("user_name") or caller.arn.rsplit("/", 1)[-1]
            kind = "user"
        identity = compile_sources(self.sources(account, kind, name))
        entity = self.iam.get(account, kind, name)
        boundary = None
        if entity is not None and entity.data.get("boundary"):
            boundary = compile_sources(self.managed(account, entity.data["boundary"]))
        session_policies: list[PolicyRef] | None = None
        if "session_policies" in session:
            docs = [("session", "session", d) for d in session["session_policies"]]
            for arn in session.get("policy_arns", []):
                docs += self.managed(account, arn)
            session_policies = compile_sources(docs)
            if caller.kind != "federated-user" and not docs:
                session_policies = None
        return PolicySet(identity, boundary, session_policies)
