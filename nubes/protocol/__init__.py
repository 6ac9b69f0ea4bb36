"""One parser and serializer per AWS wire protocol, driven by botocore's service models."""

from __future__ import annotations

from importlib import import_module

from nubes.protocol.base import WireProtocol

_IMPLEMENTATIONS = {
    "query": ("nubes.protocol.query", "QueryProtocol"),
    "ec2": ("nubes.protocol.ec2", "Ec2Protocol"),
    "json": ("nubes.protocol.json", "JsonProtocol"),
    "rest-json": ("nubes.protocol.rest_json", "RestJsonProtocol"),
    "rest-xml": ("nubes.protocol.rest_xml", "RestXmlProtocol"),
    "smithy-rpc-v2-cbor": ("nubes.protocol.cbor", "CborProtocol"),
}

_instances: dict[str, WireProtocol] = {}


def get_protocol(name: str) -> WireProtocol:
    """The protocol implementation for one of botocore's protocol names."""
    proto = _instances.get(name)
    if proto is None:
        module, cls = _IMPLEMENTATIONS[name]
        proto = _instances[name] = getattr(import_module(module), cls)()
    return proto
