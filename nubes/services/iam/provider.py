"""AWS Identity and Access Management.

The operations live in groups (principals, policies, keys, account); this class combines them,
owns the schema, and keeps the in-memory identity caches that the gateway's key resolver and
IAM enforcement read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nubes.core import accounts
from nubes.gateway import sigv4
from nubes.services.iam.account import AccountOperations
from nubes.services.iam.identity import Identities
from nubes.services.iam.keys import KeyOperations
from nubes.services.iam.models import MIGRATIONS
from nubes.services.iam.policies import PolicyOperations
from nubes.services.iam.principals import PrincipalOperations

if TYPE_CHECKING:
    from nubes.app import Environment
    from nubes.gateway.enforce import Enforcer


class IamProvider(PrincipalOperations, PolicyOperations, KeyOperations, AccountOperations):
    service = "iam"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.identities = Identities(
            self.iam, self.identity_sources, self.managed_source, env.tags.get
        )
        accounts.register_resolver(self.identities.resolve)
        self.enforcer: Enforcer | None = None
        self._verifier: Enforcer | None = None
        sigv4.register_secret_resolver(self._secret)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        # Enforcement must stand before the first request of any service arrives.
        return env.settings.enforce_iam

    def _secret(self, access_key_id: str) -> str | None:
        record = self.identities.record(access_key_id)
        return record.secret if record else None

    async def start(self) -> None:
        if self.env.settings.enforce_iam:
            from nubes.gateway.enforce import Enforcer

            self.enforcer = Enforcer(self.env, self.identities)
            self.env.gateway.checks.append(self.enforcer)

    def verifier(self) -> Enforcer:
        """The enforcer, or with enforcement off one that checks only who asks: AWS verifies
        and authorizes the callers of AWS_IAM API Gateway methods whatever the setting."""
        if self.enforcer is not None:
            return self.enforcer
        if self._verifier is None:
            from nubes.gateway.enforce import Enforcer

            self._verifier = Enforcer(self.env, self.identities, install=False)
        return self._verifier

    def changed(self) -> None:
        self.identities.clear()

    def reset(self) -> None:
        self.identities.clear()
        for enforcer in (self.enforcer, self._verifier):
            if enforcer is not None:
                enforcer.reset()
