"""Classic ELB tests share the ELBv2 fixtures (network, clock, requests through nubes' port)."""

from tests.elbv2.conftest import advance, network, through

__all__ = ["advance", "network", "through"]
