"""DynamoDB Streams' error catalogue."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("dynamodbstreams", extra={"ValidationException": 400})
