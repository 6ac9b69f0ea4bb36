"""CloudFormation's errors: the model's, and ValidationError for everything AWS refuses as one."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue
from nubes.protocol.base import ServiceError

errors = ErrorCatalogue("cloudformation")


def validation(message: str) -> ServiceError:
    return errors.ValidationError(message)
