"""Application Auto Scaling errors (all modelled)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("application-autoscaling")
