"""The test suite's servers come from nubes' own pytest plugin module."""

from nubes.testing.server import NubesProcess, free_port, make_client

__all__ = ["NubesProcess", "free_port", "make_client"]
