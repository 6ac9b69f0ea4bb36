"""Cognito user pool errors (all modelled)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("cognito-idp")
