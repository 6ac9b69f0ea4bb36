"""AWS Certificate Manager errors (all modelled)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("acm")
