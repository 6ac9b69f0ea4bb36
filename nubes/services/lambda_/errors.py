"""Lambda errors (all modelled, with the statuses the model gives)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("lambda")
