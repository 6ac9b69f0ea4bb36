"""API Gateway Management API errors, from the model's error shapes."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("apigatewaymanagementapi")
