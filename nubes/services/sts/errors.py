"""STS's errors, as its model declares them."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("sts")
