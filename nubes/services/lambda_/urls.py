"""Function URLs (filled in below)."""

from __future__ import annotations


class FunctionUrls:
    def install_url_gateway(self) -> None:
        pass
