"""DynamoDB's error catalogue (from the model) and the ValidationException helper."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue
from nubes.protocol.base import ServiceError

errors = ErrorCatalogue("dynamodb", extra={"SerializationException": 400})


def ValidationException(message: str) -> ServiceError:
    """DynamoDB's semantic validation errors carry the message as is (no Coral prefix)."""
    return errors.ValidationException(message)


def RequestValidationException(message: str) -> ServiceError:
    """The checks DynamoDB makes with its request validation, worded in the Coral envelope."""
    return errors.ValidationException(f"1 validation error detected: {message}")
