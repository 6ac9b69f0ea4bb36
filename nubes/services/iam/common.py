"""What every group of IAM operations shares: clock, ARNs, lookups with AWS's messages,
pagination by Marker, tags, and the output shapes of IAM's records."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nubes.core import clock, ids
from nubes.core.arns import in_partition
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import tag_problems
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.iam.errors import errors
from nubes.services.iam.models import Entity, IamStore
from nubes.services.iam.policy import PolicyError, parse_policy
from nubes.services.iam.policy.document import Kind, policy_size

if TYPE_CHECKING:
    from nubes.app import Environment

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy"

# kind -> (word in messages, ARN resource type, id prefix)
KINDS: dict[str, tuple[str, str, str]] = {
    "user": ("user", "user", "AIDA"),
    "group": ("group", "group", "AGPA"),
    "role": ("role", "role", "AROA"),
    "policy": ("policy", "policy", "ANPA"),
    "instance-profile": ("Instance Profile", "instance-profile", "AIPA"),
}


def now() -> float:
    return clock.now()


def timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def encoded(document: str) -> str:
    """IAM hands policy documents back URL-encoded (SDKs decode them)."""
    return quote(document, safe="")


def iam_arn(ctx: RequestContext, kind: str, path: str, name: str) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:{KINDS[kind][1]}{path}{name}"


@cache
def aws_managed() -> dict[str, dict[str, Any]]:
    """AWS managed policies by ARN (their documents as AWS publishes them)."""
    text = resources.files("nubes.services.iam").joinpath("aws_managed_policies.json").read_text()
    out: dict[str, dict[str, Any]] = {}
    for name, info in json.loads(text).items():
        arn = f"{AWS_POLICY_PREFIX}{info['path']}{name}"
        document = json.dumps(info["document"], indent=4)
        out[arn] = {
            **info,
            "name": name,
            "arn": arn,
            "id": "ANPA" + base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:17],
            "text": document,
        }
    return out


def aws_managed_policy(arn: str) -> dict[str, Any] | None:
    """The AWS managed policy an ARN names, in any partition (``arn:aws-cn:iam::aws:policy/...``
    names the same document in China)."""
    if not is_aws_policy(arn):
        return None
    return aws_managed().get(AWS_POLICY_PREFIX + arn.split(":", 5)[5].removeprefix("policy"))


def is_aws_policy(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2:5] == ["iam", "", "aws"] and parts[5].startswith("policy/")


def aws_managed_arns(partition: str) -> list[str]:
    return [in_partition(a, partition) for a in aws_managed()]


def validate_document(document: str, kind: Kind, limit: int | None, message: str) -> str:
    """A policy document IAM accepts, or ``MalformedPolicyDocument``/``LimitExceeded``."""
    try:
        parse_policy(document, kind)
    except PolicyError as exc:
        raise errors.MalformedPolicyDocumentException(str(exc)) from None
    if limit is not None and policy_size(document) > limit:
        raise errors.LimitExceededException(message)
    return document


def page_args(req: dict[str, Any]) -> tuple[str | None, int]:
    marker = req.get("Marker")
    limit = int(req.get("MaxItems") or 100)
    if marker is None:
        return None, limit
    try:
        return str(decode_token(marker)), limit
    except InvalidToken:
        raise errors.InvalidInputException("Invalid Marker.") from None


def paged(items: Sequence[Any], limit: int, key: Callable[[Any], str]) -> dict[str, Any]:
    """IsTruncated/Marker for a page fetched with one extra item to tell whether more exist."""
    if len(items) > limit:
        return {"IsTruncated": True, "Marker": encode_token(key(items[limit - 1]))}
    return {"IsTruncated": False}


def paginate_list(
    items: Sequence[Any], req: dict[str, Any], key: Callable[[Any], str]
) -> tuple[list[Any], dict[str, Any]]:
    """A page of an in-memory, key-sorted list."""
    after, limit = page_args(req)
    rest = [i for i in items if after is None or key(i) > after]
    return rest[:limit], paged(rest[: limit + 1], limit, key)


def page_across(lists: dict[str, list[Any]], req: dict[str, Any]) -> dict[str, Any]:
    """One page over several result lists taken in order (the Marker is a position)."""
    items = [(name, item) for name, found in lists.items() for item in found]
    after, limit = page_args(req)
    start = int(after) + 1 if after is not None else 0
    result: dict[str, Any] = {name: [] for name in lists}
    for name, item in items[start : start + limit]:
        result[name].append(item)
    if start + limit < len(items):
        return {**result, "IsTruncated": True, "Marker": encode_token(str(start + limit - 1))}
    return {**result, "IsTruncated": False}


class IamBase(ServiceProvider):
    service = "iam"

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.iam = IamStore(self.store, self.changed)

    def changed(self) -> None:
        """IAM state changed: caches derived from it are stale."""

    # -- lookups --------------------------------------------------------------------------

    def entity(self, ctx: RequestContext, kind: str, name: str) -> Entity:
        found = self.iam.get(ctx.account_id, kind, name)
        if found is None:
            raise self.no_such(kind, name)
        return found

    def modifiable(self, ctx: RequestContext, kind: str, name: str) -> Entity:
        """The entity, unless it is a service-linked role: only its service may change those."""
        found = self.entity(ctx, kind, name)
        if found.kind == "role" and found.data.get("service_linked"):
            raise errors.UnmodifiableEntityException(
                f"Cannot perform the operation on the protected role '{found.name}' - "
                "this role is only modifiable by AWS"
            )
        return found

    @staticmethod
    def no_such(kind: str, name: str) -> ServiceError:
        if kind == "instance-profile":
            return errors.NoSuchEntityException(f"Instance Profile {name} cannot be found.")
        return errors.NoSuchEntityException(
            f"The {KINDS[kind][0]} with name {name} cannot be found."
        )

    def create_entity(
        self, ctx: RequestContext, kind: str, name: str, path: str | None, data: dict[str, Any]
    ) -> Entity:
        if self.iam.get(ctx.account_id, kind, name) is not None:
            word = "Instance Profile" if kind == "instance-profile" else KINDS[kind][0].title()
            if kind == "policy":
                raise errors.EntityAlreadyExistsException(
                    f"A policy called {name} already exists. Duplicate names are not allowed."
                )
            raise errors.EntityAlreadyExistsException(f"{word} with name {name} already exists.")
        path = path or "/"
        entity = Entity(
            ctx.account_id,
            kind,
            name,
            ids.unique_id(KINDS[kind][2]),
            path,
            iam_arn(ctx, kind, path, name),
            now(),
            data,
        )
        self.iam.put(entity)
        return entity

    # -- implemented by the operation groups the provider combines ---------------------------

    def require_policy(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        raise NotImplementedError

    def find_policy(self, ctx: RequestContext, arn: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def policy_out(
        self, ctx: RequestContext, info: dict[str, Any], full: bool = False
    ) -> dict[str, Any]:
        raise NotImplementedError

    def policy_document(self, ctx: RequestContext, info: dict[str, Any]) -> str:
        raise NotImplementedError

    def profile_out(self, e: Entity, tags: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    # -- tags -----------------------------------------------------------------------------

    def tag_list(self, arn: str) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.env.tags.get(arn).items()]

    def apply_tags(self, arn: str, tags: list[dict[str, str]] | None) -> None:
        if not tags:
            return
        _check_tag_keys([t["Key"] for t in tags])
        new = {t["Key"]: t.get("Value", "") for t in tags}
        problems = tag_problems(self.env.tags.get(arn), new)
        if problems:
            if any("at most" in p and "tags" in p for p in problems):
                raise errors.LimitExceededException(
                    "The number of tags has reached the maximum limit."
                )
            raise errors.InvalidInputException(problems[0])
        self.changed()
        self.env.tags.set(arn, new)

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        self.changed()
        self.env.tags.remove(arn, keys)

    # -- output shapes ----------------------------------------------------------------------

    @staticmethod
    def boundary_out(data: dict[str, Any]) -> dict[str, Any]:
        arn = data.get("boundary")
        if not arn:
            return {}
        return {
            "PermissionsBoundary": {
                "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                "PermissionsBoundaryArn": arn,
            }
        }

    def user_out(self, e: Entity, tags: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Path": e.path,
            "UserName": e.name,
            "UserId": e.id,
            "Arn": e.arn,
            "CreateDate": timestamp(e.created),
            **self.boundary_out(e.data),
        }
        if e.data.get("password_last_used"):
            out["PasswordLastUsed"] = timestamp(e.data["password_last_used"])
        if tags:
            found = self.tag_list(e.arn)
            if found:
                out["Tags"] = found
        return out

    @staticmethod
    def group_out(e: Entity) -> dict[str, Any]:
        return {
            "Path": e.path,
            "GroupName": e.name,
            "GroupId": e.id,
            "Arn": e.arn,
            "CreateDate": timestamp(e.created),
        }

    def role_out(
        self, e: Entity, tags: bool = False, last_used: bool = False, session: bool = True
    ) -> dict[str, Any]:
        """``session=False``: the members CreateRole, CreateServiceLinkedRole and instance
        profiles report, which leave out MaxSessionDuration (GetRole and ListRoles carry it)."""
        d = e.data
        out: dict[str, Any] = {
            "Path": e.path,
            "RoleName": e.name,
            "RoleId": e.id,
            "Arn": e.arn,
            "CreateDate": timestamp(e.created),
            "AssumeRolePolicyDocument": encoded(d["trust"]),
            **self.boundary_out(d),
        }
        if session:
            out["MaxSessionDuration"] = d.get("max_session", 3600)
        if d.get("description") is not None:
            out["Description"] = d["description"]
        if tags:
            found = self.tag_list(e.arn)
            if found:
                out["Tags"] = found
        if last_used:
            used = d.get("last_used")
            out["RoleLastUsed"] = (
                {"LastUsedDate": timestamp(used["date"]), "Region": used["region"]} if used else {}
            )
        return out


TAG_KEY_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+"


def _check_tag_keys(keys: list[str]) -> None:
    """IAM's tag key pattern (Unicode letters, separators, digits and ``_.:/=+-@``), which the
    model states in Java regex syntax, and its case-insensitive uniqueness."""
    for index, key in enumerate(keys, 1):
        if key and not all(ch in "_.:/=+-@" or unicodedata.category(ch)[0] in "LZN" for ch in key):
            raise errors.ValidationError(
                f"1 validation error detected: Value '{key}' at 'tags.{index}.member.key' failed "
                f"to satisfy constraint: Member must satisfy regular expression pattern: "
                f"{TAG_KEY_PATTERN}"
            )
    if len({k.lower() for k in keys}) != len(keys):
        raise errors.InvalidInputException(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
