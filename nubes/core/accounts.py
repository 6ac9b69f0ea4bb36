"""Which account and principal an access key stands for.

Until IAM owns keys, a 12-digit access key is the account id itself and any other key is the
account root of the default account. IAM registers a resolver for the keys it issues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from nubes.core.arns import PARTITION, in_partition
from nubes.core.context import Principal

KeyResolver = Callable[[str], Principal | None]

_resolvers: list[KeyResolver] = []


def register_resolver(resolver: KeyResolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def root_principal(account_id: str, access_key_id: str) -> Principal:
    return Principal(
        access_key_id=access_key_id,
        account_id=account_id,
        arn=f"arn:aws:iam::{account_id}:root",
        user_id=account_id,
        kind="root",
    )


def resolve(access_key_id: str, default_account: str, partition: str = PARTITION) -> Principal:
    """``partition`` is the one of the region the request is signed for: the same key is the
    root of ``arn:aws-cn:iam::<account>:root`` when it signs for ``cn-north-1``."""
    principal = _resolve(access_key_id, default_account)
    return replace(principal, arn=in_partition(principal.arn, partition))


def _resolve(access_key_id: str, default_account: str) -> Principal:
    for resolver in _resolvers:
        found = resolver(access_key_id)
        if found is not None:
            return found
    if len(access_key_id) == 12 and access_key_id.isdigit():
        return root_principal(access_key_id, access_key_id)
    return root_principal(default_account, access_key_id)
