"""Serverless caches: one server (redis, valkey or memcached) per cache, its memory limited by
the cache's data storage limit. AWS serves them over TLS only, on a primary and a reader port;
here both endpoints are the one loopback server, without TLS."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.runtime.elasticache.nodes import NodeFailed, Nodes, NodeSpec
from nubes.runtime.elasticache.resp import command
from nubes.services.elasticache.catalogue import find_version
from nubes.services.elasticache.errors import errors
from nubes.services.elasticache.groups import Groups
from nubes.services.elasticache.records import Scope, Where, identifier, public

Json = dict[str, Any]
PREFIX = "_serverless:"
"""Serverless nodes' keys and directories: a cluster id never starts with an underscore."""
PORTS = {"redis": 6379, "valkey": 6379, "memcached": 11211}
MAJOR = {"redis": "7", "valkey": "8", "memcached": "1.6"}


class Serverless(Groups):
    nodes: Nodes
    root: Path

    def _serverless(self, ctx: Scope, name: str) -> Json:
        doc = self._get(ctx, "serverless", name.lower())
        if doc is None:
            raise errors.ServerlessCacheNotFoundFault(f"Serverless cache {name} not found.")
        return doc

    def _serverless_key(self, ctx: Scope, name: str) -> str:
        return f"{ctx.account_id}/{ctx.region}/{PREFIX}{name}/0001"

    def _serverless_dir(self, ctx: Scope, name: str) -> Path:
        return self.root / ctx.account_id / ctx.region / f"{PREFIX}{name}"

    def _run_serverless(self, ctx: Scope, doc: Json) -> None:
        family = find_version(doc["Engine"], doc["FullEngineVersion"])
        assert family is not None
        values = self._parameter_values(
            ctx, {"CacheParameterGroupName": f"default.{family.family}"}
        )
        limit = (doc.get("CacheUsageLimits") or {}).get("DataStorage", {}).get("Maximum")
        if doc["Engine"] == "memcached":
            settings = {"memory": str(limit * 1024)} if limit else {}
        else:
            settings = {k: f'"{v}"' if v == "" else v for k, v in values.items()}
            if limit:
                settings["maxmemory"] = str(limit * 1024**3)
        spec = NodeSpec(
            key=self._serverless_key(ctx, doc["ServerlessCacheName"]),
            directory=self._serverless_dir(ctx, doc["ServerlessCacheName"]),
            port=doc["Endpoint"]["Port"],
            engine=doc["Engine"],
            settings=settings,
        )
        port = self.nodes.start(spec)
        doc["Endpoint"]["Port"] = doc["ReaderEndpoint"]["Port"] = port

    def _revive_serverless(self, where: Where, name: str) -> None:
        with self.store.transaction():
            doc = self._get(where, "serverless", name)
            if doc is None:
                return
            try:
                self._run_serverless(where, doc)
            except NodeFailed:
                doc["Status"] = "create-failed"
            self._put(where, "serverless", name, doc)

    def _settle_serverless(self, ctx: Scope, doc: Json) -> Json:
        if doc["Status"] in ("creating", "modifying") and self.nodes.running(
            self._serverless_key(ctx, doc["ServerlessCacheName"])
        ):
            doc["Status"] = "available"
            self._put(ctx, "serverless", doc["ServerlessCacheName"], doc)
        return doc

    @staticmethod
    def _limits(req: Json) -> Json | None:
        limits = req.get("CacheUsageLimits")
        if not limits:
            return None
        storage = limits.get("DataStorage") or {}
        maximum, minimum = storage.get("Maximum"), storage.get("Minimum")
        if maximum is not None and not 1 <= maximum <= 5000:
            raise errors.InvalidParameterValueException(
                "DataStorage Maximum must be between 1 and 5000 GB."
            )
        if maximum is not None and minimum is not None and minimum > maximum:
            raise errors.InvalidParameterCombinationException(
                "DataStorage Minimum cannot be greater than Maximum."
            )
        out: Json = dict(limits)
        return out

    def create_serverless_cache(self, ctx: RequestContext, req: Json) -> Json:
        name = identifier(req["ServerlessCacheName"], "ServerlessCacheName", 40)
        if self._get(ctx, "serverless", name) is not None:
            raise errors.ServerlessCacheAlreadyExistsFault(
                f"Serverless cache {name} already exists."
            )
        engine = req["Engine"].lower()
        if engine not in MAJOR:
            raise errors.InvalidParameterValueException(f"Invalid engine name: {engine}")
        major = req.get("MajorEngineVersion") or MAJOR[engine]
        version = find_version(engine, major) or find_version(engine, None)
        if version is None or not version.version.startswith(major):
            raise errors.InvalidParameterCombinationException(
                f"Cannot find major version {major} for {engine}"
            )
        if req.get("UserGroupId") or req.get("SnapshotArnsToRestore"):
            raise errors.InvalidParameterCombinationException(
                "nubes' serverless caches have no user groups or snapshots: create one without "
                "UserGroupId and SnapshotArnsToRestore."
            )
        retention = req.get("SnapshotRetentionLimit", 0)
        if not 0 <= retention <= 35:
            raise errors.InvalidParameterValueException(
                "SnapshotRetentionLimit must be between 0 and 35."
            )
        doc: Json = {
            "ServerlessCacheName": name,
            "Description": req.get("Description", ""),
            "CreateTime": clock.now(),
            "Status": "creating",
            "Engine": engine,
            "MajorEngineVersion": major,
            "FullEngineVersion": version.version,
            "SecurityGroupIds": req.get("SecurityGroupIds") or [],
            "Endpoint": {"Address": "127.0.0.1", "Port": PORTS[engine]},
            "ReaderEndpoint": {"Address": "127.0.0.1", "Port": PORTS[engine]},
            "ARN": self._arn(ctx, "serverlesscache", name),
            "SubnetIds": req.get("SubnetIds") or [],
            "SnapshotRetentionLimit": retention,
            "DailySnapshotTime": req.get("DailySnapshotTime") or "04:00",
            "NetworkType": req.get("NetworkType") or "ipv4",
        }
        limits = self._limits(req)
        if limits:
            doc["CacheUsageLimits"] = limits
        if doc["SecurityGroupIds"]:
            self.env.providers.invoke(
                "ec2",
                "DescribeSecurityGroups",
                {"GroupIds": doc["SecurityGroupIds"]},
                ctx.account_id,
                ctx.region,
            )
        self._tag_new(doc["ARN"], req.get("Tags"))
        shutil.rmtree(self._serverless_dir(ctx, name), ignore_errors=True)
        try:
            self._run_serverless(ctx, doc)
        except NodeFailed as exc:
            raise errors.InvalidParameterCombinationException(
                f"The serverless cache could not be started: {exc}"
            ) from exc
        self._put(ctx, "serverless", name, doc)
        return {"ServerlessCache": public(doc)}

    def describe_serverless_caches(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("ServerlessCacheName"):
            docs = [self._serverless(ctx, req["ServerlessCacheName"])]
        else:
            docs = self._all(ctx, "serverless")
        limit = req.get("MaxResults") or 50
        try:
            page, token = paginate(
                docs, limit, req.get("NextToken"), lambda d: d["ServerlessCacheName"]
            )
        except InvalidToken as exc:
            raise errors.InvalidParameterValueException("Invalid NextToken.") from exc
        return {
            "ServerlessCaches": [public(self._settle_serverless(ctx, d)) for d in page],
            **({"NextToken": token} if token else {}),
        }

    def modify_serverless_cache(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._settle_serverless(ctx, self._serverless(ctx, req["ServerlessCacheName"]))
        if doc["Status"] != "available":
            raise errors.InvalidServerlessCacheStateFault(
                f"Serverless cache {doc['ServerlessCacheName']} is not in available state."
            )
        if req.get("UserGroupId"):
            raise errors.InvalidParameterCombinationException(
                "nubes' serverless caches have no user groups."
            )
        if req.get("MajorEngineVersion"):
            version = find_version(doc["Engine"], req["MajorEngineVersion"])
            if version is None:
                raise errors.InvalidParameterCombinationException(
                    f"Cannot find major version {req['MajorEngineVersion']} for {doc['Engine']}"
                )
            doc["MajorEngineVersion"] = req["MajorEngineVersion"]
            doc["FullEngineVersion"] = version.version
        for key in (
            "Description",
            "SecurityGroupIds",
            "SnapshotRetentionLimit",
            "DailySnapshotTime",
        ):
            if key in req:
                doc[key] = req[key]
        limits = self._limits(req)
        if limits:
            doc["CacheUsageLimits"] = limits
            maximum = limits.get("DataStorage", {}).get("Maximum")
            if maximum and doc["Engine"] != "memcached":
                command(doc["Endpoint"]["Port"], "CONFIG", "SET", "maxmemory", maximum * 1024**3)
        doc["Status"] = "modifying"
        self._put(ctx, "serverless", doc["ServerlessCacheName"], doc)
        return {"ServerlessCache": public(doc)}

    def delete_serverless_cache(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._settle_serverless(ctx, self._serverless(ctx, req["ServerlessCacheName"]))
        if doc["Status"] not in ("available", "create-failed"):
            raise errors.InvalidServerlessCacheStateFault(
                f"Serverless cache {doc['ServerlessCacheName']} is not in available state."
            )
        if req.get("FinalSnapshotName"):
            raise errors.InvalidParameterCombinationException(
                "nubes does not take snapshots of serverless caches: delete without "
                "FinalSnapshotName."
            )
        name = doc["ServerlessCacheName"]
        self.nodes.stop(self._serverless_key(ctx, name), save=False)
        shutil.rmtree(self._serverless_dir(ctx, name), ignore_errors=True)
        self._drop(ctx, "serverless", name)
        self.env.tags.drop(doc["ARN"])
        doc["Status"] = "deleting"
        return {"ServerlessCache": public(doc)}
