"""ElastiCache errors (modelled, plus the common ValidationError)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("elasticache")
