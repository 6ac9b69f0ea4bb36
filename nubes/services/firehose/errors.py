"""Amazon Data Firehose's error catalogue (its model declares them all)."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("firehose")
