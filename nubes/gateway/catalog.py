"""Every service botocore knows: its metadata indexed up front, its full model loaded on demand.

Reading only the metadata block at the head of each compressed model takes about 0.1 s for all
~400 services, which is what routing needs to map signing names, target prefixes and endpoint
prefixes to services; the full model (operations and shapes) is loaded the first time a request
for that service arrives.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import JSONFileLoader, Loader
from botocore.model import OperationModel, ServiceModel

from nubes.gateway.rest_routes import RestRouter

DATA = Path(botocore.__file__).parent / "data"


def _without_docs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in pairs if not (k == "documentation" and isinstance(v, str))}


class _ModelFiles(JSONFileLoader):
    """botocore's model files read into plain dicts, without their documentation strings: the
    docs are four fifths of a model and a server never shows them; botocore's OrderedDicts
    take twice the memory. (S3's model: 1.2 MiB in memory instead of 2.6.)"""

    def load_file(self, file_path: str) -> Any:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            path = file_path + suffix
            if os.path.isfile(path):
                with opener(path, "rb") as f:
                    return json.loads(f.read().decode("utf-8"), object_pairs_hook=_without_docs)
        return None


_loader = Loader(file_loader=_ModelFiles())


@dataclass
class ServiceInfo:
    name: str
    """botocore's name for the service (``cloudwatch``, ``lambda``, ``s3``)."""
    metadata: dict[str, Any]
    _model: ServiceModel | None = field(default=None, repr=False)
    query_model: ServiceModel | None = field(default=None, repr=False)
    """For query-compatible services whose JSON model lost the query wire names (SQS): the
    model query requests are read and answered with, set by the service's provider."""

    @property
    def signing_name(self) -> str:
        return str(self.metadata.get("signingName") or self.metadata["endpointPrefix"])

    @property
    def protocol(self) -> str:
        return str(self.metadata["protocol"])

    @cached_property
    def protocols(self) -> tuple[str, ...]:
        """Protocols the service answers in; query-compatible services also speak query."""
        names = list(self.metadata.get("protocols") or [self.protocol])
        if "awsQueryCompatible" in self.metadata and "query" not in names:
            names.append("query")
        return tuple(names)

    @property
    def model(self) -> ServiceModel:
        if self._model is None:
            data = _loader.load_service_model(self.name, "service-2")
            self._model = ServiceModel(data, service_name=self.name)
        return self._model

    def operation(self, name: str, protocol: str = "") -> OperationModel | None:
        if name not in self.operation_names:
            return None
        if protocol == "query" and self.query_model is not None:
            return self.query_model.operation_model(name)
        return self.model.operation_model(name)

    @cached_property
    def operation_names(self) -> frozenset[str]:
        return frozenset(self.model.operation_names)

    @cached_property
    def rest_router(self) -> RestRouter:
        return RestRouter(self.model)

    @cached_property
    def operations_by_snake_name(self) -> dict[str, str]:
        from botocore import xform_name

        return {xform_name(op): op for op in self.operation_names}


def _read_metadata(path: Path) -> dict[str, Any] | None:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        head = f.read(8192)
    start = head.find('"metadata"')
    if start < 0:
        return None
    brace = head.index("{", start)
    meta, _ = json.JSONDecoder().raw_decode(head[brace:])
    return meta if isinstance(meta, dict) else None


def _scan_metadata() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in sorted(os.listdir(DATA)):
        versions = sorted(
            v.name for v in (DATA / name).glob("*") if (v / "service-2.json.gz").exists()
        )
        if not versions:
            continue
        meta = _read_metadata(DATA / name / versions[-1] / "service-2.json.gz")
        if meta is not None:
            found[name] = meta
    return found


def _cache_path() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    where = hashlib.sha256(str(DATA).encode()).hexdigest()[:12]
    return Path(root) / "nubes" / f"botocore-{botocore.__version__}-{where}.json"


def all_metadata() -> dict[str, dict[str, Any]]:
    """Every service's metadata, from a cache of the scan per botocore install (reading it is
    a few milliseconds; the scan is most of a cold start). Without a writable cache, the scan."""
    path = _cache_path()
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(path.read_text())
        if isinstance(cached, dict) and cached:
            return cached
    found = _scan_metadata()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalog-")
        with os.fdopen(fd, "w") as out:
            json.dump(found, out)
        os.replace(tmp, path)
    return found


class Catalog:
    def __init__(self) -> None:
        self.services: dict[str, ServiceInfo] = {
            name: ServiceInfo(name=name, metadata=meta) for name, meta in all_metadata().items()
        }
        self.by_signing_name: dict[str, list[ServiceInfo]] = {}
        self.by_target_prefix: dict[str, list[ServiceInfo]] = {}
        for info in self.services.values():
            self.by_signing_name.setdefault(info.signing_name, []).append(info)
            prefix = info.metadata.get("targetPrefix")
            if prefix:
                self.by_target_prefix.setdefault(prefix, []).append(info)
        for group in self.by_signing_name.values():
            # The service named like its signing name is the likeliest (rds before docdb).
            group.sort(key=lambda i: (i.name != i.signing_name, i.name))

    def get(self, name: str) -> ServiceInfo | None:
        return self.services.get(name)


_catalog: Catalog | None = None


def catalog() -> Catalog:
    global _catalog
    if _catalog is None:
        _catalog = Catalog()
    return _catalog
