"""AWS's policy evaluation logic.

Within an account: an explicit deny anywhere wins; otherwise a resource-based policy that names
the caller itself allows on its own, one that names the caller's role still needs the
permissions boundary and session policies, and anything else needs an identity-based policy
allow as well as the boundary's and the session policies' (when there are any). Across
accounts, the caller's account (identity-based policies) and the resource's account (its
resource-based policy) must both allow. The root user of an account is allowed everything in
its account that no resource-based policy denies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from nubes.services.iam.policy.document import Policy, Statement
from nubes.services.iam.policy.patterns import Context

PolicyRef = tuple[str, Policy]
"""(policy id as the simulator reports it, compiled policy)."""

Level = Literal["exact", "role", "account"]

_PRINCIPAL_TYPE = {
    "root": "Account",
    "user": "User",
    "assumed-role": "AssumedRole",
    "federated-user": "FederatedUser",
    "anonymous": "Anonymous",
}


@dataclass(frozen=True)
class Caller:
    """Who asks, as policies see it."""

    arn: str
    account: str
    kind: str = "user"
    """root, user, assumed-role, federated-user, service, web-identity, anonymous."""
    user_id: str = ""
    name: str | None = None
    """The IAM user's name (``aws:username``)."""
    role_arn: str | None = None
    """For a role session: the role itself."""
    service: str | None = None
    federated: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    mfa: bool = False
    context: dict[str, list[str]] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        keys: dict[str, list[str]] = {
            "aws:principalarn": [self.role_arn or self.arn],
            "aws:principalaccount": [self.account],
            "aws:principaltype": [_PRINCIPAL_TYPE.get(self.kind, self.kind)],
            "aws:userid": [self.user_id],
            "aws:multifactorauthpresent": ["true" if self.mfa else "false"],
        }
        if self.kind == "user" and self.name:
            keys["aws:username"] = [self.name]
        if self.service:
            keys["aws:principalservicename"] = [self.service]
        for key, value in self.tags.items():
            keys[f"aws:principaltag/{key.lower()}"] = [value]
        object.__setattr__(self, "context", keys)


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    caller: Caller
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Request keys, lower-cased (aws:SourceIp, aws:CurrentTime, s3:prefix, ...)."""
    resource_account: str | None = None
    """The account that owns the resource, when it is known and may differ."""


@dataclass(frozen=True)
class Match:
    policy_id: str
    policy_type: str
    """identity, resource, boundary, session."""
    statement: Statement


@dataclass
class Decision:
    decision: Literal["allowed", "explicitDeny", "implicitDeny"]
    matched: list[Match]
    reason: str = ""
    """The tail of AWS's AccessDenied message: ``because no identity-based policy allows the
    s3:GetObject action`` or ``with an explicit deny in a resource-based policy``."""

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


_KIND_WORDS = {
    "identity": "an identity-based policy",
    "resource": "a resource-based policy",
    "boundary": "a permissions boundary",
    "session": "a session policy",
}
_NO_ALLOW = {
    "identity": "identity-based policy",
    "resource": "resource-based policy",
    "boundary": "permissions boundary",
    "session": "session policy",
}


def principal_matches(spec: Mapping[str, Sequence[str]], caller: Caller) -> Level | None:
    """How closely a Principal element names the caller: the caller itself ("exact"), its role
    ("role"), its account ("account"), or not at all."""
    best: Level | None = None
    for kind, values in spec.items():
        if kind == "*":
            return "exact"
        for value in values:
            if kind == "AWS":
                if value == "*" or value == caller.arn or value == caller.user_id:
                    return "exact"
                if caller.role_arn and value == caller.role_arn:
                    best = "role"
                elif best is None and (
                    # the account root in whichever partition the policy's author wrote
                    value == caller.account
                    or value.split(":", 2)[-1] == f"iam::{caller.account}:root"
                ):
                    best = "account"
            elif value == {"Service": caller.service, "Federated": caller.federated}.get(kind):
                return "exact"
    return best


def _applies(st: Statement, request: Request, ctx: Context) -> bool:
    action = request.action
    if st.actions is not None and not any(m(action, ctx) for m in st.actions):
        return False
    if st.not_actions is not None and any(m(action, ctx) for m in st.not_actions):
        return False
    resource = request.resource
    if st.resources is not None and not any(m(resource, ctx) for m in st.resources):
        return False
    if st.not_resources is not None and any(m(resource, ctx) for m in st.not_resources):
        return False
    return all(c.holds(ctx) for c in st.condition)


def _principal_level(st: Statement, caller: Caller) -> Level | None:
    if st.principal is not None:
        return principal_matches(st.principal, caller)
    if st.not_principal is not None:
        return None if principal_matches(st.not_principal, caller) else "exact"
    return "exact"


_RANK = {"exact": 3, "role": 2, "account": 1}


class _Scan:
    def __init__(self, request: Request, ctx: Context) -> None:
        self.request = request
        self.ctx = ctx
        self.matched: list[Match] = []
        self.denied_by: str | None = None

    def run(self, kind: str, policies: Sequence[PolicyRef]) -> Level | None:
        """Scan policies of one kind; returns the best allow level (identity-side policies
        allow at level "exact")."""
        best: Level | None = None
        caller = self.request.caller
        for policy_id, policy in policies:
            for st in policy.statements:
                if not _applies(st, self.request, self.ctx):
                    continue
                found = _principal_level(st, caller) if kind == "resource" else "exact"
                if found is None:
                    continue
                level: Level = found
                self.matched.append(Match(policy_id, kind, st))
                if not st.allow:
                    self.denied_by = self.denied_by or kind
                elif best is None or _RANK[level] > _RANK[best]:
                    best = level
        return best


def evaluate(
    request: Request,
    identity: Sequence[PolicyRef] = (),
    resource: Sequence[PolicyRef] = (),
    boundary: Sequence[PolicyRef] | None = None,
    session: Sequence[PolicyRef] | None = None,
    resource_must_allow: bool = False,
) -> Decision:
    """The decision for one action on one resource. ``boundary``/``session`` None: there is
    none (no limit); an empty sequence limits to nothing. ``resource_must_allow``: the resource
    policy has the last word even within the account (a role's trust policy)."""
    caller = request.caller
    ctx: Context = {**caller.context, **request.context} if request.context else caller.context
    scan = _Scan(request, ctx)
    same_account = request.resource_account in (None, caller.account)
    root = caller.kind == "root"
    if root:
        identity, boundary, session = (), None, None
    id_allow = scan.run("identity", identity)
    res_allow = scan.run("resource", resource)
    bound_allow = scan.run("boundary", boundary) if boundary is not None else "exact"
    sess_allow = scan.run("session", session) if session is not None else "exact"
    if scan.denied_by:
        return Decision(
            "explicitDeny", scan.matched, f"with an explicit deny in {_KIND_WORDS[scan.denied_by]}"
        )
    action = request.action

    def deny(kind: str) -> Decision:
        return Decision(
            "implicitDeny",
            scan.matched,
            f"because no {_NO_ALLOW[kind]} allows the {action} action",
        )

    if root and same_account:
        return Decision("allowed", scan.matched)
    if not same_account or resource_must_allow:
        if res_allow is None:
            return deny("resource")
        # An anonymous caller has no account and no identity policies: the resource policy
        # alone decides (a public bucket, a function URL open to everyone).
        anonymous = caller.kind == "anonymous"
        if (
            not root
            and not anonymous
            and id_allow is None
            and not (same_account and res_allow in ("exact", "role"))
        ):
            return deny("identity")
    if same_account and res_allow == "exact":
        return Decision("allowed", scan.matched)
    if same_account and res_allow not in ("exact", "role") and id_allow is None:
        return deny("identity")
    if bound_allow is None:
        return deny("boundary")
    if sess_allow is None:
        return deny("session")
    return Decision("allowed", scan.matched)
