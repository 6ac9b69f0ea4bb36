"""Route 53 errors (all declared by its model)."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("route53")


def invalid_input(message: str) -> Exception:
    return errors.InvalidInput(message)
