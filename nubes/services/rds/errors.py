"""rds errors (from the botocore model)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("rds")
