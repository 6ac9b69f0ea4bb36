"""SNS errors: the model declares them all with their query codes."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("sns")


def invalid(message: str) -> Exception:
    """SNS's usual ``InvalidParameter`` with its ``Invalid parameter: `` prefix."""
    return errors.InvalidParameterException(f"Invalid parameter: {message}")
