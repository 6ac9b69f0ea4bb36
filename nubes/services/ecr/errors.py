"""Elastic Container Registry errors (all modelled)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("ecr")
