"""Step Functions errors (all modelled)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("stepfunctions")
