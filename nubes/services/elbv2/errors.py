"""Elastic Load Balancing (v2) errors (modelled, plus the common ValidationError)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("elbv2")
