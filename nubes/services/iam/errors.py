"""IAM's errors, as its model declares them (query codes such as ``NoSuchEntity``)."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("iam")
