"""EventBridge errors (the model's, plus the common ValidationException)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("events")
