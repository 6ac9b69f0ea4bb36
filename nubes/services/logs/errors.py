"""CloudWatch Logs errors (all modelled)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("logs")
