"""CloudWatch errors: the model's error shapes (their query codes are the wire codes every
protocol carries), plus the common validation errors."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("cloudwatch")


def invalid(message: str) -> Exception:
    return errors.InvalidParameterValueException(message)


def combination(message: str) -> Exception:
    return errors.InvalidParameterCombinationException(message)


def missing(message: str) -> Exception:
    return errors.MissingRequiredParameterException(message)
