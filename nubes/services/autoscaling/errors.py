"""Auto Scaling errors (the model's faults; ValidationError is the common one)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("autoscaling")
