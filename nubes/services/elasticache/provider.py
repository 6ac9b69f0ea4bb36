"""Amazon ElastiCache: cache clusters whose nodes are real ``redis-server`` processes on
loopback ports (``nubes/runtime/elasticache``), replication groups of a primary and replicas
(``replicaof``), snapshots as RDB copies, cache subnet and parameter groups, engine versions
and tags.

A node's data lives in ``<data dir>/elasticache/<account>/<region>/<cluster>/<node>/`` (a
temporary directory in memory mode). Nodes are started again from their data when nubes starts,
and stopped (their RDB written) when it stops.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import partition_of
from nubes.core.context import RequestContext
from nubes.core.tags import from_list, tag_problems, to_list
from nubes.protocol.base import ServiceError
from nubes.runtime.elasticache.nodes import NodeFailed, Nodes, NodeSpec
from nubes.services.elasticache.catalogue import ENGINES, NODE_MEMORY_GIB, find_version
from nubes.services.elasticache.errors import errors
from nubes.services.elasticache.groups import credentials, send
from nubes.services.elasticache.metrics import Sampler
from nubes.services.elasticache.records import (
    MIGRATIONS,
    Scope,
    Where,
    check_tags,
    identifier,
    public,
)
from nubes.services.elasticache.serverless import PREFIX
from nubes.services.elasticache.users import RBAC_ENGINES, Users

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MAX_NODES = 40
DEFAULT_PORT = {"redis": 6379, "valkey": 6379, "memcached": 11211}
SETTLING = ("creating", "modifying", "rebooting cache cluster nodes", "snapshotting")
ADDRESS = "127.0.0.1"


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _snapshot_window(value: str) -> str:
    """A daily snapshot window: ``hh:mm-hh:mm`` in UTC, at least 60 minutes long."""
    match = _WINDOW.match(value)
    if match:
        start = int(match[1]) * 60 + int(match[2])
        end = int(match[3]) * 60 + int(match[4])
        if (end - start) % 1440 >= 60:
            return value
    raise errors.InvalidParameterValueException(
        f"Invalid snapshot window: {value}. The window must be in the format hh24:mi-hh24:mi "
        "and last at least 60 minutes."
    )


def _window_start(window: str, now: float) -> float:
    """The latest start (at or before ``now``) of a daily ``hh:mm-hh:mm`` window, in UTC."""
    hours, minutes = (int(x) for x in window.split("-")[0].split(":"))
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day.timestamp() + hours * 3600 + minutes * 60
    return start if start <= now else start - 86_400


def _node(number: int, port: int, zone: str) -> Json:
    return {
        "CacheNodeId": f"{number:04d}",
        "CacheNodeStatus": "creating",
        "CacheNodeCreateTime": clock.now(),
        "Endpoint": {"Address": ADDRESS, "Port": port},
        "ParameterGroupStatus": "in-sync",
        "CustomerAvailabilityZone": zone,
    }


class ElastiCacheProvider(Users):
    service = "elasticache"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        settings = env.settings
        self.root = (
            Path(self.blobs.root) / "elasticache"
            if settings.ephemeral
            else Path(settings.data_dir) / "elasticache"
        )
        self.nodes = Nodes(on_exit=self._revive)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(
            env, "SELECT 1 FROM elasticache_records WHERE kind IN ('cluster', 'serverless')"
        )

    async def start(self) -> None:
        self.env.metrics.collector(Sampler(self.nodes, PREFIX))
        self.env.scheduler.every("elasticache-snapshots", 60, self._automatic_snapshots)
        self.env.scheduler.on_advance(self._on_advance)
        with self.store.transaction():
            clusters = self._everywhere("cluster")
            # Primaries first: a replica's config names its primary's (possibly new) port.
            clusters.sort(key=lambda c: c[1].get("_primary") is not None)
            for where, doc in clusters:
                try:
                    self._run(where, doc)
                except NodeFailed:
                    doc["CacheClusterStatus"] = "incompatible-parameters"
                self._save_cluster(where, doc)
            for where, doc in self._everywhere("serverless"):
                try:
                    self._run_serverless(where, doc)
                except NodeFailed:
                    doc["Status"] = "create-failed"
                self._put(where, "serverless", doc["ServerlessCacheName"], doc)

    def _on_advance(self) -> None:
        with self.store.transaction():
            self._automatic_snapshots()

    def _automatic_snapshots(self) -> None:
        """Daily snapshots of the clusters (replication groups: their primary) that keep some
        (SnapshotRetentionLimit), taken in their SnapshotWindow, and the removal of those older
        than the limit. After a jump of the clock, only the latest window's snapshot is taken."""
        now = clock.now()
        for where, doc in self._everywhere("cluster"):
            limit = doc.get("SnapshotRetentionLimit", 0)
            group = None
            if doc.get("ReplicationGroupId"):
                group = self._get(where, "replication", doc["ReplicationGroupId"])
                if group is None or group["_primary"] != doc["CacheClusterId"]:
                    continue
            start = _window_start(doc["SnapshotWindow"], now)
            if (
                limit <= 0
                or doc["Engine"] == "memcached"
                or start < doc["CacheClusterCreateTime"]
                or doc.get("_lastAutomatic", 0) >= start
                or not self.nodes.running(self._node_key(where, doc["CacheClusterId"], "0001"))
            ):
                continue
            owner = group["ReplicationGroupId"] if group else doc["CacheClusterId"]
            stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d-%H-%M")
            snap = self._take_snapshot(where, f"automatic.{owner}-{stamp}", doc, "automated", group)
            snap["_expires"] = start + limit * 86_400
            self._put(where, "snapshot", snap["SnapshotName"], snap)
            doc["_lastAutomatic"] = start
            self._save_cluster(where, doc)
        for where, snap in self._everywhere("snapshot"):
            if snap.get("_expires", now + 1) <= now:
                self._drop(where, "snapshot", snap["SnapshotName"])
                shutil.rmtree(self._snapshot_dir(where, snap["SnapshotName"]), ignore_errors=True)
                self.env.tags.drop(snap["ARN"])

    async def stop(self) -> None:
        self.nodes.stop_all()

    def reset(self) -> None:
        # The data goes (in memory mode its directory is already gone): nothing to save.
        self.nodes.stop_all(save=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- cache clusters -------------------------------------------------------------------

    def _cluster(self, ctx: Scope, cluster_id: str) -> Json:
        doc = self._get(ctx, "cluster", cluster_id.lower())
        if doc is None:
            raise errors.CacheClusterNotFoundFault(f"CacheCluster not found: {cluster_id}")
        return doc

    def _save_cluster(self, ctx: Scope, doc: Json) -> None:
        self._put(ctx, "cluster", doc["CacheClusterId"], doc)

    def _node_key(self, ctx: Scope, cluster_id: str, node_id: str) -> str:
        return f"{ctx.account_id}/{ctx.region}/{cluster_id}/{node_id}"

    def _node_dir(self, ctx: Scope, cluster_id: str, node_id: str) -> Path:
        return self.root / ctx.account_id / ctx.region / cluster_id / node_id

    def _settings(self, ctx: Scope, doc: Json) -> dict[str, str]:
        """redis.conf directives (memcached options) from the node type's memory and the
        parameter group."""
        out: dict[str, str] = {}
        memory = NODE_MEMORY_GIB.get(doc["CacheNodeType"])
        if doc["Engine"] == "memcached":
            values = self._parameter_values(ctx, doc["CacheParameterGroup"])
            out["max_item_size"] = values.get("max_item_size", "1048576")
            if memory:
                out["memory"] = str(int(memory * 1024))
            return out
        if memory:
            out["maxmemory"] = str(int(memory * 1024**3))
        for name, value in self._parameter_values(ctx, doc["CacheParameterGroup"]).items():
            out[name] = f'"{value}"' if value == "" else value
        return out

    def _run(self, ctx: Scope, doc: Json, only: Iterable[str] | None = None) -> None:
        """Start (or restart) the cluster's nodes (those named in ``only``) from their data;
        records each node's port."""
        wanted = None if only is None else set(only)
        primary_port = None
        if doc.get("_primary"):
            primary = self._get(ctx, "cluster", doc["_primary"])
            if primary is not None:
                primary_port = primary["CacheNodes"][0]["Endpoint"]["Port"]
        for node in doc["CacheNodes"]:
            if wanted is not None and node["CacheNodeId"] not in wanted:
                continue
            spec = NodeSpec(
                key=self._node_key(ctx, doc["CacheClusterId"], node["CacheNodeId"]),
                directory=self._node_dir(ctx, doc["CacheClusterId"], node["CacheNodeId"]),
                port=node["Endpoint"]["Port"],
                engine=doc["Engine"],
                username=credentials(doc)[0],
                password=credentials(doc)[1],
                acl=doc.get("_acl"),
                primary_port=primary_port,
                settings=self._settings(ctx, doc),
            )
            node["Endpoint"]["Port"] = self.nodes.start(spec)
            node["CacheNodeStatus"] = "available"
        if doc["Engine"] == "memcached":
            # Clients discover a memcached cluster from this endpoint; here it is the first
            # node's own (a real memcached has no auto-discovery command to answer there).
            doc["ConfigurationEndpoint"] = dict(doc["CacheNodes"][0]["Endpoint"])

    def _halt(self, ctx: Scope, doc: Json, remove: bool) -> None:
        for node in doc["CacheNodes"]:
            self.nodes.stop(
                self._node_key(ctx, doc["CacheClusterId"], node["CacheNodeId"]), save=not remove
            )
        if remove:
            shutil.rmtree(
                self.root / ctx.account_id / ctx.region / doc["CacheClusterId"], ignore_errors=True
            )

    def _cluster_event(self, ctx: Scope, doc: Json, message: str) -> None:
        notify = doc.get("NotificationConfiguration") or {}
        topic = notify.get("TopicArn") if notify.get("TopicStatus") == "active" else None
        self._event(ctx, "cache-cluster", doc["CacheClusterId"], message, topic)

    def _settle(self, ctx: Scope, doc: Json) -> Json:
        """A cluster whose change is done (its nodes answer) becomes available."""
        if doc["CacheClusterStatus"] in SETTLING and all(
            self.nodes.running(self._node_key(ctx, doc["CacheClusterId"], n["CacheNodeId"]))
            for n in doc["CacheNodes"]
        ):
            doc["CacheClusterStatus"] = "available"
            doc["PendingModifiedValues"] = {}
            self._save_cluster(ctx, doc)
        return doc

    def _security_groups(self, ctx: Scope, ids: list[str] | None) -> list[Json]:
        if not ids:
            return []
        try:
            found = self.env.providers.invoke(
                "ec2",
                "DescribeSecurityGroups",
                {"GroupIds": ids},
                ctx.account_id,
                ctx.region,
            )["SecurityGroups"]
        except ServiceError as exc:  # EC2's error (InvalidGroup.NotFound) names the bad id
            raise errors.InvalidParameterValueException(
                f"Some security group Id not recognized by EC2: {exc.message}"
            ) from exc
        return [{"SecurityGroupId": g["GroupId"], "Status": "active"} for g in found]

    def _engine(self, req: Json, default: str = "redis") -> tuple[str, str, str]:
        engine = (req.get("Engine") or default).lower()
        if engine not in ENGINES:
            raise errors.InvalidParameterValueException(f"Invalid engine name: {engine}")
        version = find_version(engine, req.get("EngineVersion"))
        if version is None:
            raise errors.InvalidParameterCombinationException(
                f"Cannot find version {req.get('EngineVersion')} for {engine}"
            )
        return engine, version.version, version.family

    @staticmethod
    def _no_tls(req: Json) -> None:
        """nubes' nodes speak plain RESP on loopback: a client asking for TLS would fail to
        connect, so the request fails here instead."""
        if req.get("TransitEncryptionEnabled"):
            raise errors.InvalidParameterCombinationException(
                "nubes does not serve TLS: TransitEncryptionEnabled is not available."
            )

    def _node_type(self, req: Json) -> str:
        node_type = req.get("CacheNodeType") or "cache.t3.micro"
        if node_type not in NODE_MEMORY_GIB:
            raise errors.InvalidParameterValueException(f"Invalid Cache Node Type: {node_type}")
        return node_type

    def _new_cluster(self, ctx: Scope, req: Json, cluster_id: str) -> Json:
        engine, version, family = self._engine(req)
        self._no_tls(req)
        node_type = self._node_type(req)
        nodes = req.get("NumCacheNodes", 1)
        if engine != "memcached" and nodes != 1:
            raise errors.InvalidParameterValueException(
                "Cannot create a Redis cluster with a NumCacheNodes parameter greater than 1."
            )
        if not 1 <= nodes <= MAX_NODES:
            raise errors.InvalidParameterValueException(
                f"NumCacheNodes must be between 1 and {MAX_NODES}."
            )
        if engine == "memcached" and req.get("AuthToken") is not None:
            raise errors.InvalidParameterCombinationException(
                "AuthToken is only supported for the redis and valkey engines."
            )
        if engine == "memcached" and (req.get("SnapshotName") or req.get("SnapshotArns")):
            raise errors.InvalidParameterCombinationException(
                "Memcached clusters cannot be restored from a snapshot."
            )
        group = self._parameter_group_for(ctx, req.get("CacheParameterGroupName"), family)
        subnet_group = self._subnet_group_for(ctx, req.get("CacheSubnetGroupName"))
        token = req.get("AuthToken")
        if token is not None and not 16 <= len(token) <= 128:
            raise errors.InvalidParameterValueException(
                "The AuthToken must be between 16 and 128 characters long."
            )
        retention = req.get("SnapshotRetentionLimit", 0)
        if retention < 0 or retention > 35:
            raise errors.InvalidParameterValueException(
                "SnapshotRetentionLimit must be between 0 and 35."
            )
        now = clock.now()
        zone = req.get("PreferredAvailabilityZone") or f"{ctx.region}a"
        port = req.get("Port") or DEFAULT_PORT[engine]
        doc: Json = {
            "CacheClusterId": cluster_id,
            "ClientDownloadLandingPage": "https://console.aws.amazon.com/elasticache/home#client-download:",
            "CacheNodeType": node_type,
            "Engine": engine,
            "EngineVersion": version,
            "CacheClusterStatus": "creating",
            "NumCacheNodes": nodes,
            "PreferredAvailabilityZone": zone,
            "CacheClusterCreateTime": now,
            "PreferredMaintenanceWindow": req.get("PreferredMaintenanceWindow")
            or "sun:05:00-sun:06:00",
            "PendingModifiedValues": {},
            "CacheSecurityGroups": [],
            "CacheParameterGroup": {
                "CacheParameterGroupName": group,
                "ParameterApplyStatus": "in-sync",
                "CacheNodeIdsToReboot": [],
            },
            "CacheNodes": [_node(i, port, zone) for i in range(1, nodes + 1)],
            "AutoMinorVersionUpgrade": req.get("AutoMinorVersionUpgrade", True),
            "SecurityGroups": self._security_groups(ctx, req.get("SecurityGroupIds")),
            "SnapshotRetentionLimit": retention,
            "SnapshotWindow": _snapshot_window(req.get("SnapshotWindow") or "03:30-04:30"),
            "AuthTokenEnabled": token is not None,
            "TransitEncryptionEnabled": False,
            "AtRestEncryptionEnabled": False,
            "ARN": self._arn(ctx, "cluster", cluster_id),
            "ReplicationGroupLogDeliveryEnabled": False,
            "LogDeliveryConfigurations": [],
            "NetworkType": "ipv4",
            "IpDiscovery": "ipv4",
        }
        if subnet_group:
            doc["CacheSubnetGroupName"] = subnet_group
        if req.get("NotificationTopicArn"):
            doc["NotificationConfiguration"] = {
                "TopicArn": req["NotificationTopicArn"],
                "TopicStatus": "active",
            }
        if token is not None:
            doc["_auth"] = token
            doc["AuthTokenLastModifiedDate"] = now
        return doc

    def _seed(self, ctx: Scope, req: Json) -> bytes | None:
        """The RDB data a new cluster starts from: a snapshot's (SnapshotName) or an RDB file
        in S3 (SnapshotArns, ``arn:aws:s3:::bucket/key``), read through S3."""
        arns = req.get("SnapshotArns") or []
        if req.get("SnapshotName") and arns:
            raise errors.InvalidParameterCombinationException(
                "SnapshotName and SnapshotArns cannot both be given."
            )
        if req.get("SnapshotName"):
            name = self._snapshot(ctx, req["SnapshotName"])["SnapshotName"]
            return (self._snapshot_dir(ctx, name) / "dump.rdb").read_bytes()
        if not arns:
            return None
        parts = arns[0].split(":", 5) if len(arns) == 1 else []
        # An S3 object ARN in any partition: arn:aws-cn:s3:::bucket/key in the China regions.
        if (
            len(parts) != 6
            or parts[0] != "arn"
            or parts[2:5] != ["s3", "", ""]
            or "/" not in parts[5]
        ):
            raise errors.InvalidParameterValueException(
                "SnapshotArns takes one RDB file in S3: "
                f"arn:{partition_of(ctx.region)}:s3:::bucket/key."
            )
        bucket, key = parts[5].split("/", 1)
        try:
            out = self.env.providers.invoke(
                "s3", "GetObject", {"Bucket": bucket, "Key": key}, ctx.account_id, ctx.region
            )
        except ServiceError as exc:
            raise errors.InvalidParameterValueException(
                f"The RDB file {arns[0]} could not be read: {exc.message}"
            ) from exc
        body = out.get("Body", b"")
        if hasattr(body, "read"):
            with contextlib.closing(body):
                body = body.read()
        data = bytes(body) if isinstance(body, bytes | bytearray) else b"".join(body)
        if not data.startswith(b"REDIS"):
            raise errors.InvalidParameterValueException(f"{arns[0]} is not an RDB file.")
        return data

    def _launch(self, ctx: Scope, doc: Json, seed: bytes | None = None) -> None:
        """Start a new cluster's nodes, its data the RDB ``seed`` when given."""
        directory = self._node_dir(ctx, doc["CacheClusterId"], "0001")
        shutil.rmtree(directory.parent, ignore_errors=True)
        if seed is not None:
            directory.mkdir(parents=True)
            (directory / "dump.rdb").write_bytes(seed)
        try:
            self._run(ctx, doc)
        except NodeFailed as exc:
            self._halt(ctx, doc, remove=True)
            raise errors.InvalidParameterCombinationException(
                f"The cache node could not be started: {exc}"
            ) from exc

    def create_cache_cluster(self, ctx: RequestContext, req: Json) -> Json:
        cluster_id = identifier(req["CacheClusterId"], "CacheClusterId", 50)
        if req.get("ReplicationGroupId"):
            group = self._replication_group(ctx, req["ReplicationGroupId"])
            return {"CacheCluster": self._add_replica(ctx, group, cluster_id, req)}
        if self._get(ctx, "cluster", cluster_id) is not None:
            raise errors.CacheClusterAlreadyExistsFault(
                f"Cache cluster {cluster_id} already exists."
            )
        doc = self._new_cluster(ctx, req, cluster_id)
        seed = self._seed(ctx, req)
        self._tag_new(doc["ARN"], req.get("Tags"))
        self._launch(ctx, doc, seed)
        doc["CacheClusterStatus"] = "creating"
        self._save_cluster(ctx, doc)
        self._cluster_event(ctx, doc, "Cache cluster created")
        return {"CacheCluster": public(doc)}

    def describe_cache_clusters(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("CacheClusterId"):
            docs = [self._cluster(ctx, req["CacheClusterId"])]
        else:
            docs = self._all(ctx, "cluster")
            if req.get("ShowCacheClustersNotInReplicationGroups"):
                docs = [d for d in docs if not d.get("ReplicationGroupId")]
        page, marker = self._page(docs, req, "CacheClusterId")
        out = []
        for doc in page:
            shown = public(self._settle(ctx, doc))
            if not req.get("ShowCacheNodeInfo"):
                shown.pop("CacheNodes", None)
            out.append(shown)
        return {"CacheClusters": out, **({"Marker": marker} if marker else {})}

    def _available(self, ctx: Scope, cluster_id: str) -> Json:
        doc = self._settle(ctx, self._cluster(ctx, cluster_id))
        if doc["CacheClusterStatus"] != "available":
            raise errors.InvalidCacheClusterStateFault(
                f"Cache cluster {doc['CacheClusterId']} is not in available state."
            )
        return doc

    def modify_cache_cluster(self, ctx: RequestContext, req: Json) -> Json:
        return {"CacheCluster": public(self.modify_cache_cluster_in(ctx, req))}

    def modify_cache_cluster_in(self, ctx: Scope, req: Json) -> Json:
        """ModifyCacheCluster for one cluster (also each member of a replication group)."""
        doc = self._available(ctx, req["CacheClusterId"])
        restart = False
        if "NumCacheNodes" in req and req["NumCacheNodes"] != doc["NumCacheNodes"]:
            self._resize(ctx, doc, req["NumCacheNodes"], req.get("CacheNodeIdsToRemove") or [])
        if req.get("CacheNodeType") and req["CacheNodeType"] != doc["CacheNodeType"]:
            doc["CacheNodeType"] = self._node_type(req)
            # Scaling is online, as on AWS: the new memory limit reaches the running servers.
            if doc["Engine"] != "memcached":
                maxmemory = self._settings(ctx, doc)["maxmemory"]
                send(doc, "CONFIG", "SET", "maxmemory", maxmemory)
            else:
                restart = True
        if req.get("EngineVersion"):
            version = find_version(doc["Engine"], req["EngineVersion"])
            if version is None:
                raise errors.InvalidParameterCombinationException(
                    f"Cannot find version {req['EngineVersion']} for {doc['Engine']}"
                )
            doc["EngineVersion"] = version.version
        if "SecurityGroupIds" in req:
            doc["SecurityGroups"] = self._security_groups(ctx, req["SecurityGroupIds"])
        for key in ("PreferredMaintenanceWindow", "AutoMinorVersionUpgrade"):
            if key in req:
                doc[key] = req[key]
        if req.get("SnapshotWindow"):
            doc["SnapshotWindow"] = _snapshot_window(req["SnapshotWindow"])
        if req.get("NotificationTopicArn") or req.get("NotificationTopicStatus"):
            notify = doc.get("NotificationConfiguration") or {"TopicStatus": "active"}
            notify["TopicArn"] = req.get("NotificationTopicArn") or notify.get("TopicArn")
            status = req.get("NotificationTopicStatus") or notify["TopicStatus"]
            if status not in ("active", "inactive"):
                raise errors.InvalidParameterValueException(
                    "NotificationTopicStatus must be active or inactive."
                )
            notify["TopicStatus"] = status
            if notify["TopicArn"]:
                doc["NotificationConfiguration"] = notify
        if "SnapshotRetentionLimit" in req:
            if not 0 <= req["SnapshotRetentionLimit"] <= 35:
                raise errors.InvalidParameterValueException(
                    "SnapshotRetentionLimit must be between 0 and 35."
                )
            doc["SnapshotRetentionLimit"] = req["SnapshotRetentionLimit"]
        if req.get("CacheParameterGroupName"):
            family = find_version(doc["Engine"], doc["EngineVersion"])
            assert family is not None
            name = self._parameter_group_for(ctx, req["CacheParameterGroupName"], family.family)
            doc["CacheParameterGroup"]["CacheParameterGroupName"] = name
            self._apply_parameters(ctx, doc)
        if req.get("AuthToken"):
            strategy = req.get("AuthTokenUpdateStrategy") or "ROTATE"
            if not doc.get("_auth"):
                raise errors.InvalidParameterCombinationException(
                    "The cluster was created without an AuthToken."
                )
            if strategy not in ("SET", "ROTATE"):
                raise errors.InvalidParameterValueException(
                    "AuthTokenUpdateStrategy must be SET or ROTATE for a token."
                )
            doc["_auth"] = req["AuthToken"]
            doc["AuthTokenLastModifiedDate"] = clock.now()
            restart = True
        doc["CacheClusterStatus"] = "modifying"
        if restart:
            self._restart(ctx, doc)
        self._save_cluster(ctx, doc)
        return doc

    def _resize(self, ctx: Scope, doc: Json, count: int, remove: list[str]) -> None:
        """A memcached cluster's new number of nodes: new nodes start empty, removed nodes (the
        ones named, AWS needs them named when the count goes down) stop."""
        if doc["Engine"] != "memcached":
            raise errors.InvalidParameterValueException(
                "Cannot modify the number of nodes of a Redis cluster."
            )
        if not 1 <= count <= MAX_NODES:
            raise errors.InvalidParameterValueException(
                f"NumCacheNodes must be between 1 and {MAX_NODES}."
            )
        nodes = doc["CacheNodes"]
        known = {n["CacheNodeId"] for n in nodes}
        if count < len(nodes):
            if len(set(remove)) != len(nodes) - count or not set(remove) <= known:
                raise errors.InvalidParameterValueException(
                    "The number of cache node ids to remove must equal the decrease in "
                    "NumCacheNodes, and each must be a node of the cluster."
                )
            for node_id in remove:
                key = self._node_key(ctx, doc["CacheClusterId"], node_id)
                self.nodes.stop(key, save=False)
                shutil.rmtree(
                    self._node_dir(ctx, doc["CacheClusterId"], node_id), ignore_errors=True
                )
            doc["CacheNodes"] = [n for n in nodes if n["CacheNodeId"] not in remove]
            self._cluster_event(ctx, doc, f"Removed cache nodes {', '.join(sorted(remove))}")
        elif count > len(nodes):
            if remove:
                raise errors.InvalidParameterCombinationException(
                    "CacheNodeIdsToRemove can only be given when NumCacheNodes decreases."
                )
            highest = max(int(n["CacheNodeId"]) for n in nodes)
            added = [
                _node(highest + i, nodes[0]["Endpoint"]["Port"], doc["PreferredAvailabilityZone"])
                for i in range(1, count - len(nodes) + 1)
            ]
            doc["CacheNodes"] = nodes + added
            try:
                self._run(ctx, doc, [n["CacheNodeId"] for n in added])
            except NodeFailed as exc:
                raise errors.InvalidParameterCombinationException(
                    f"The cache node could not be started: {exc}"
                ) from exc
            for node in added:
                self._cluster_event(
                    ctx,
                    doc,
                    f"Added cache node {node['CacheNodeId']} in availability zone "
                    f"{doc['PreferredAvailabilityZone']}",
                )
        doc["NumCacheNodes"] = count
        if doc["Engine"] == "memcached":
            doc["ConfigurationEndpoint"] = dict(doc["CacheNodes"][0]["Endpoint"])

    def _restart(self, ctx: Scope, doc: Json, only: Iterable[str] | None = None) -> None:
        wanted = None if only is None else list(only)
        for node in doc["CacheNodes"]:
            if wanted is None or node["CacheNodeId"] in wanted:
                self.nodes.stop(self._node_key(ctx, doc["CacheClusterId"], node["CacheNodeId"]))
        try:
            self._run(ctx, doc, wanted)
        except NodeFailed as exc:
            raise errors.InvalidParameterCombinationException(
                f"The cache node could not be restarted: {exc}"
            ) from exc
        self._follow(ctx, doc)

    def _follow(self, ctx: Scope, doc: Json) -> None:
        """Replicas follow their primary to the port it listens on now."""
        for other in self._all(ctx, "cluster"):
            if other.get("_primary") == doc["CacheClusterId"] and other != doc:
                port = doc["CacheNodes"][0]["Endpoint"]["Port"]
                send(other, "REPLICAOF", ADDRESS, port)

    def _revive(self, key: str) -> None:
        """A node's server exited on its own: start it again from its data, as ElastiCache
        replaces a failed node."""
        account, region, cluster_id, node_id = key.split("/")
        where = Where(account, region)
        if cluster_id.startswith(PREFIX):
            self._revive_serverless(where, cluster_id[len(PREFIX) :])
            return
        with self.store.transaction():
            doc = self._get(where, "cluster", cluster_id)
            if doc is None:
                return
            self._cluster_event(where, doc, f"Recovering cache nodes {node_id}")
            try:
                self._run(where, doc, [node_id])
                self._cluster_event(where, doc, f"Finished recovery for cache nodes {node_id}")
            except NodeFailed:
                doc["CacheClusterStatus"] = "incompatible-parameters"
            self._save_cluster(where, doc)
            self._follow(where, doc)

    def reboot_cache_cluster(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._available(ctx, req["CacheClusterId"])
        known = {n["CacheNodeId"] for n in doc["CacheNodes"]}
        wanted = req["CacheNodeIdsToReboot"]
        if not wanted or any(n not in known for n in wanted):
            raise errors.InvalidParameterValueException(
                f"Cache node(s) not found: {', '.join(n for n in wanted if n not in known)}"
            )
        self._restart(ctx, doc, wanted)
        for node_id in wanted:
            self._cluster_event(ctx, doc, f"Cache node {node_id} restarted")
        doc["CacheClusterStatus"] = "rebooting cache cluster nodes"
        doc["CacheParameterGroup"]["ParameterApplyStatus"] = "in-sync"
        doc["CacheParameterGroup"]["CacheNodeIdsToReboot"] = []
        self._save_cluster(ctx, doc)
        return {"CacheCluster": public(doc)}

    def delete_cache_cluster(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._cluster(ctx, req["CacheClusterId"])
        if doc.get("ReplicationGroupId"):
            group = self._get(ctx, "replication", doc["ReplicationGroupId"])
            if group is not None and group["_primary"] == doc["CacheClusterId"]:
                raise errors.InvalidCacheClusterStateFault(
                    f"Cannot delete the primary cluster {doc['CacheClusterId']} of replication "
                    f"group {doc['ReplicationGroupId']}."
                )
        doc = self._settle(ctx, doc)
        if doc["CacheClusterStatus"] not in ("available", "incompatible-parameters"):
            raise errors.InvalidCacheClusterStateFault(
                f"Cache cluster {doc['CacheClusterId']} is not in available state."
            )
        if req.get("FinalSnapshotIdentifier"):
            self._take_snapshot(ctx, req["FinalSnapshotIdentifier"], doc, "manual")
        self._halt(ctx, doc, remove=True)
        self._drop(ctx, "cluster", doc["CacheClusterId"])
        self.env.tags.drop(doc["ARN"])
        self._drop_automated(ctx, "CacheClusterId", doc["CacheClusterId"])
        self._cluster_event(ctx, doc, "Cache cluster deleted")
        if doc.get("ReplicationGroupId"):
            self._leave_group(ctx, doc)
        doc["CacheClusterStatus"] = "deleting"
        return {"CacheCluster": public(doc)}

    # -- tags -----------------------------------------------------------------------------

    def _resource(self, ctx: Scope, resource_arn: str) -> str:
        parts = resource_arn.split(":", 6)
        if len(parts) != 7 or parts[2] != "elasticache":
            raise errors.InvalidARNFault(f"The ARN {resource_arn} is not valid.")
        kind, name = parts[5], parts[6]
        kinds = {
            "cluster": ("cluster", errors.CacheClusterNotFoundFault, "CacheCluster not found"),
            "replicationgroup": (
                "replication",
                errors.ReplicationGroupNotFoundFault,
                "ReplicationGroup not found",
            ),
            "subnetgroup": (
                "subnetgroup",
                errors.CacheSubnetGroupNotFoundFault,
                "CacheSubnetGroup not found",
            ),
            "parametergroup": (
                "parametergroup",
                errors.CacheParameterGroupNotFoundFault,
                "CacheParameterGroup not found",
            ),
            "snapshot": ("snapshot", errors.SnapshotNotFoundFault, "Snapshot not found"),
            "serverlesscache": (
                "serverless",
                errors.ServerlessCacheNotFoundFault,
                "Serverless cache not found",
            ),
        }
        if kind not in kinds:
            raise errors.InvalidARNFault(f"The ARN {resource_arn} is not valid.")
        table, fault, text = kinds[kind]
        if self._get(ctx, table, name) is None:
            raise fault(f"{text}: {name}")
        return resource_arn

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        resource = self._resource(ctx, req["ResourceName"])
        return {"TagList": to_list(self.env.tags.get(resource))}

    def add_tags_to_resource(self, ctx: RequestContext, req: Json) -> Json:
        resource = self._resource(ctx, req["ResourceName"])
        existing = self.env.tags.get(resource)
        new = from_list(req["Tags"])
        problems = tag_problems(existing, new)
        if problems:
            raise errors.TagQuotaPerResourceExceeded(problems[0])
        self.env.tags.set(resource, {**existing, **new})
        return {"TagList": to_list(self.env.tags.get(resource))}

    def remove_tags_from_resource(self, ctx: RequestContext, req: Json) -> Json:
        resource = self._resource(ctx, req["ResourceName"])
        existing = self.env.tags.get(resource)
        missing = [k for k in req["TagKeys"] if k not in existing]
        if missing:
            raise errors.TagNotFoundFault(f"Tag not found: {missing[0]}")
        self.env.tags.remove(resource, req["TagKeys"])
        return {"TagList": to_list(self.env.tags.get(resource))}

    # -- replication groups ---------------------------------------------------------------

    def _replication_group(self, ctx: Scope, group_id: str) -> Json:
        doc = self._get(ctx, "replication", group_id.lower())
        if doc is None:
            raise errors.ReplicationGroupNotFoundFault(f"ReplicationGroup not found: {group_id}")
        return doc

    def _save_group(self, ctx: Scope, doc: Json) -> None:
        self._put(ctx, "replication", doc["ReplicationGroupId"], doc)

    def _changed_group(self, ctx: Scope, doc: Json) -> Json:
        """The answer to a change of the group: ``modifying`` (what a describe shows next)."""
        changing = doc["Status"] == "modifying"
        shown = self._render_group(ctx, doc)
        if changing:
            shown["Status"] = shown["NodeGroups"][0]["Status"] = "modifying"
        return {"ReplicationGroup": shown}

    def _render_group(self, ctx: Scope, doc: Json) -> Json:
        """The group as AWS shows it: its node group's endpoints follow the members' nodes
        (the primary endpoint is the current primary's, the reader endpoint a replica's)."""
        members = [self._get(ctx, "cluster", m) for m in doc["_members"]]
        clusters = [self._settle(ctx, m) for m in members if m is not None]
        primary = next(c for c in clusters if c["CacheClusterId"] == doc["_primary"])
        replicas = [c for c in clusters if c is not primary]
        reader = (replicas or [primary])[0]
        statuses = {c["CacheClusterStatus"] for c in clusters}
        if doc["Status"] in SETTLING and statuses == {"available"}:
            doc["Status"] = "available"
            doc["PendingModifiedValues"] = {}
            self._save_group(ctx, doc)

        def endpoint(cluster: Json) -> Json:
            return dict(cluster["CacheNodes"][0]["Endpoint"])

        shown = public(doc)
        shown["MemberClusters"] = [c["CacheClusterId"] for c in clusters]
        shown["NodeGroups"] = [
            {
                "NodeGroupId": "0001",
                "Status": doc["Status"],
                "PrimaryEndpoint": endpoint(primary),
                "ReaderEndpoint": endpoint(reader),
                "NodeGroupMembers": [
                    {
                        "CacheClusterId": c["CacheClusterId"],
                        "CacheNodeId": "0001",
                        "ReadEndpoint": endpoint(c),
                        "PreferredAvailabilityZone": c["PreferredAvailabilityZone"],
                        "CurrentRole": "primary" if c is primary else "replica",
                    }
                    for c in clusters
                ],
            }
        ]
        return shown

    def _user_groups_for(self, ctx: Scope, req: Json, engine: str) -> list[str]:
        """The replication group's user group (RBAC), checked; exclusive with an AuthToken."""
        ids = list(req.get("UserGroupIds") or [])
        if not ids:
            return []
        if req.get("AuthToken"):
            raise errors.InvalidParameterCombinationException(
                "AuthToken and UserGroupIds cannot be used together."
            )
        if engine not in RBAC_ENGINES or len(ids) > 1:
            raise errors.InvalidParameterValueException(
                "One user group can be associated with a redis or valkey replication group."
            )
        group = self._user_group(ctx, ids[0])
        if group["Engine"] != engine:
            raise errors.InvalidParameterCombinationException(
                f"User group {ids[0]} is for engine {group['Engine']}, not {engine}."
            )
        return ids

    def create_replication_group(self, ctx: RequestContext, req: Json) -> Json:
        group_id = identifier(req["ReplicationGroupId"], "ReplicationGroupId", 40)
        if self._get(ctx, "replication", group_id) is not None:
            raise errors.ReplicationGroupAlreadyExistsFault(
                f"Replication group {group_id} already exists."
            )
        if (req.get("NumNodeGroups") or 1) > 1 or req.get("ClusterMode") == "enabled":
            raise errors.InvalidParameterCombinationException(
                "nubes runs replication groups with cluster mode disabled (one node group)."
            )
        if req.get("NumCacheClusters") is not None:
            count = req["NumCacheClusters"]
            if not 1 <= count <= 6:
                raise errors.InvalidParameterValueException(
                    "NumCacheClusters must be between 1 and 6."
                )
        elif req.get("ReplicasPerNodeGroup") is not None:
            count = req["ReplicasPerNodeGroup"] + 1
            if not 1 <= count <= 6:
                raise errors.InvalidParameterValueException(
                    "ReplicasPerNodeGroup must be between 0 and 5."
                )
        else:
            count = 1 if req.get("PrimaryClusterId") else 2
        failover = bool(req.get("AutomaticFailoverEnabled"))
        if failover and count < 2:
            raise errors.InvalidParameterCombinationException(
                "Redis with cluster mode disabled requires at least 2 cache clusters when "
                "automatic failover is enabled."
            )
        if req.get("MultiAZEnabled") and not failover:
            raise errors.InvalidParameterCombinationException(
                "Multi-AZ can only be enabled when automatic failover is enabled."
            )
        engine = (req.get("Engine") or "redis").lower()
        if engine == "memcached":
            raise errors.InvalidParameterValueException(
                "Replication groups are only supported for the redis and valkey engines."
            )
        check_tags(req.get("Tags"))
        user_groups = self._user_groups_for(ctx, req, engine)
        secret = secrets.token_urlsafe(24)
        seed = self._seed(ctx, req)
        existing = None
        if req.get("PrimaryClusterId"):
            existing = self._available(ctx, req["PrimaryClusterId"])
            if existing.get("ReplicationGroupId"):
                raise errors.InvalidCacheClusterStateFault(
                    f"Cache cluster {existing['CacheClusterId']} is already in a replication group."
                )
        names = [f"{group_id}-{i:03d}" for i in range(1, count + 1)]
        for name in names:
            if self._get(ctx, "cluster", name) is not None:
                raise errors.CacheClusterAlreadyExistsFault(f"Cache cluster {name} already exists.")
        members: list[Json] = []
        primary_id = existing["CacheClusterId"] if existing else names[0]
        try:
            if existing is not None:
                existing["ReplicationGroupId"] = group_id
                members.append(existing)
                names = names[: count - 1] if req.get("NumCacheClusters") else names
            for i, name in enumerate(names):
                doc = self._new_cluster(ctx, {**req, "NumCacheNodes": 1}, name)
                doc["ReplicationGroupId"] = group_id
                if user_groups:
                    doc["_admin"] = secret
                    doc["_acl"] = self._acl(ctx, user_groups[0], secret)
                primary = existing is None and i == 0
                if not primary:
                    doc["_primary"] = primary_id
                self._save_cluster(ctx, doc)
                self._launch(ctx, doc, seed if primary else None)
                members.append(doc)
                self._save_cluster(ctx, doc)
        except Exception:
            for doc in members:
                if doc is not existing:
                    self._halt(ctx, doc, remove=True)
            raise
        first = members[0]
        now = clock.now()
        group: Json = {
            "ReplicationGroupId": group_id,
            "Description": req["ReplicationGroupDescription"],
            "Status": "creating",
            "PendingModifiedValues": {},
            "AutomaticFailover": "enabled" if failover else "disabled",
            "MultiAZ": "enabled" if req.get("MultiAZEnabled") else "disabled",
            "SnapshotRetentionLimit": first["SnapshotRetentionLimit"],
            "SnapshotWindow": first["SnapshotWindow"],
            "ClusterEnabled": False,
            "CacheNodeType": first["CacheNodeType"],
            "AuthTokenEnabled": first["AuthTokenEnabled"],
            "TransitEncryptionEnabled": False,
            "AtRestEncryptionEnabled": False,
            "ARN": self._arn(ctx, "replicationgroup", group_id),
            "UserGroupIds": [],
            "LogDeliveryConfigurations": [],
            "ReplicationGroupCreateTime": now,
            "DataTiering": "disabled",
            "AutoMinorVersionUpgrade": first["AutoMinorVersionUpgrade"],
            "NetworkType": "ipv4",
            "IpDiscovery": "ipv4",
            "ClusterMode": "disabled",
            "Engine": first["Engine"],
            "_primary": primary_id,
            "_members": [m["CacheClusterId"] for m in members],
        }
        if user_groups:
            group["UserGroupIds"] = user_groups
        if "AuthTokenLastModifiedDate" in first:
            group["AuthTokenLastModifiedDate"] = first["AuthTokenLastModifiedDate"]
        for doc in members:
            self._save_cluster(ctx, doc)
        self._tag_new(group["ARN"], req.get("Tags"))
        self._save_group(ctx, group)
        self._event(ctx, "replication-group", group_id, "Replication group created")
        shown = self._render_group(ctx, group)
        shown["Status"] = shown["NodeGroups"][0]["Status"] = "creating"
        return {"ReplicationGroup": shown}

    def describe_replication_groups(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("ReplicationGroupId"):
            docs = [self._replication_group(ctx, req["ReplicationGroupId"])]
        else:
            docs = self._all(ctx, "replication")
        page, marker = self._page(docs, req, "ReplicationGroupId")
        return {
            "ReplicationGroups": [self._render_group(ctx, d) for d in page],
            **({"Marker": marker} if marker else {}),
        }

    def _add_replica(self, ctx: Scope, group: Json, cluster_id: str, req: Json) -> Json:
        if self._get(ctx, "cluster", cluster_id) is not None:
            raise errors.CacheClusterAlreadyExistsFault(
                f"Cache cluster {cluster_id} already exists."
            )
        if len(group["_members"]) >= 6:
            raise errors.NodeGroupsPerReplicationGroupQuotaExceededFault(
                "A replication group can have at most 5 replicas."
            )
        primary = self._cluster(ctx, group["_primary"])
        doc = self._new_cluster(
            ctx,
            {
                "Engine": primary["Engine"],
                "EngineVersion": primary["EngineVersion"],
                "CacheNodeType": primary["CacheNodeType"],
                "CacheParameterGroupName": primary["CacheParameterGroup"][
                    "CacheParameterGroupName"
                ],
                "CacheSubnetGroupName": primary.get("CacheSubnetGroupName"),
                **{k: v for k, v in req.items() if k in ("PreferredAvailabilityZone", "Tags")},
            },
            cluster_id,
        )
        if primary.get("_auth"):
            doc["_auth"] = primary["_auth"]
            doc["AuthTokenEnabled"] = True
        for key in ("_admin", "_acl"):
            if primary.get(key):
                doc[key] = primary[key]
        doc["SecurityGroups"] = primary["SecurityGroups"]
        doc["ReplicationGroupId"] = group["ReplicationGroupId"]
        doc["_primary"] = primary["CacheClusterId"]
        self._tag_new(doc["ARN"], req.get("Tags"))
        self._launch(ctx, doc)
        self._save_cluster(ctx, doc)
        group["_members"].append(cluster_id)
        group["Status"] = "modifying"
        self._save_group(ctx, group)
        return public(doc)

    def _leave_group(self, ctx: Scope, cluster: Json) -> None:
        group = self._get(ctx, "replication", cluster["ReplicationGroupId"])
        if group is not None and cluster["CacheClusterId"] in group["_members"]:
            group["_members"].remove(cluster["CacheClusterId"])
            self._save_group(ctx, group)

    def _promote(self, ctx: Scope, group: Json, new_primary: str) -> None:
        """Make ``new_primary`` the group's primary: it stops replicating, the others follow
        it (the old primary becomes a replica)."""
        target = self._cluster(ctx, new_primary)
        send(target, "REPLICAOF", "NO", "ONE")
        target.pop("_primary", None)
        self._save_cluster(ctx, target)
        port = target["CacheNodes"][0]["Endpoint"]["Port"]
        for member in group["_members"]:
            if member == new_primary:
                continue
            doc = self._cluster(ctx, member)
            send(doc, "REPLICAOF", ADDRESS, port)
            doc["_primary"] = new_primary
            self._save_cluster(ctx, doc)
        group["_primary"] = new_primary

    def _change_user_groups(self, ctx: Scope, group: Json, req: Json) -> None:
        """Give the group's nodes other users (or none): each restarts with its new ACL, the
        primary first."""
        current = list(group.get("UserGroupIds") or [])
        if req.get("RemoveUserGroups"):
            wanted: list[str] = []
        else:
            wanted = [g for g in current if g not in (req.get("UserGroupIdsToRemove") or [])]
            wanted += [g for g in req.get("UserGroupIdsToAdd") or [] if g not in wanted]
        primary = self._cluster(ctx, group["_primary"])
        if primary.get("_auth") and wanted:
            raise errors.InvalidParameterCombinationException(
                "AuthToken and UserGroupIds cannot be used together."
            )
        self._user_groups_for(ctx, {"UserGroupIds": wanted}, primary["Engine"])
        secret = primary.get("_admin") or secrets.token_urlsafe(24)
        ordered = [group["_primary"]] + [m for m in group["_members"] if m != group["_primary"]]
        for member in ordered:
            doc = self._cluster(ctx, member)
            if wanted:
                doc["_admin"] = secret
                doc["_acl"] = self._acl(ctx, wanted[0], secret)
            else:
                doc.pop("_admin", None)
                doc.pop("_acl", None)
            self._restart(ctx, doc)
            self._save_cluster(ctx, doc)
        group["UserGroupIds"] = wanted
        group["Status"] = "modifying"

    def test_failover(self, ctx: RequestContext, req: Json) -> Json:
        group = self._replication_group(ctx, req["ReplicationGroupId"])
        if req["NodeGroupId"] != "0001":
            raise errors.NodeGroupNotFoundFault(f"NodeGroup not found: {req['NodeGroupId']}")
        if group["AutomaticFailover"] != "enabled":
            raise errors.InvalidReplicationGroupStateFault(
                f"Replication group {group['ReplicationGroupId']} has automatic failover "
                "disabled; TestFailover needs it enabled."
            )
        if self._render_group(ctx, group)["Status"] != "available":
            raise errors.InvalidReplicationGroupStateFault(
                f"Replication group {group['ReplicationGroupId']} is not in available state."
            )
        replicas = [m for m in group["_members"] if m != group["_primary"]]
        rid = group["ReplicationGroupId"]
        self._event(ctx, "replication-group", rid, "Test Failover API called for node group 0001")
        self._promote(ctx, group, replicas[0])
        self._event(
            ctx, "replication-group", rid, f"Failover to replica node {replicas[0]}-0001 completed"
        )
        self._save_group(ctx, group)
        return {"ReplicationGroup": self._render_group(ctx, group)}

    def modify_replication_group(self, ctx: RequestContext, req: Json) -> Json:
        group = self._replication_group(ctx, req["ReplicationGroupId"])
        if "ReplicationGroupDescription" in req:
            group["Description"] = req["ReplicationGroupDescription"]
        if "AutomaticFailoverEnabled" in req:
            enabled = bool(req["AutomaticFailoverEnabled"])
            if enabled and len(group["_members"]) < 2:
                raise errors.InvalidParameterCombinationException(
                    "Automatic failover needs at least one replica."
                )
            group["AutomaticFailover"] = "enabled" if enabled else "disabled"
        if "MultiAZEnabled" in req:
            group["MultiAZ"] = "enabled" if req["MultiAZEnabled"] else "disabled"
        if (
            req.get("UserGroupIdsToAdd")
            or req.get("UserGroupIdsToRemove")
            or (req.get("RemoveUserGroups"))
        ):
            self._change_user_groups(ctx, group, req)
        if req.get("PrimaryClusterId") and req["PrimaryClusterId"].lower() != group["_primary"]:
            wanted = req["PrimaryClusterId"].lower()
            if wanted not in group["_members"]:
                raise errors.CacheClusterNotFoundFault(f"CacheCluster not found: {wanted}")
            self._promote(ctx, group, wanted)
        member_change: Json = {
            k: req[k]
            for k in (
                "CacheNodeType",
                "CacheParameterGroupName",
                "SecurityGroupIds",
                "SnapshotRetentionLimit",
                "SnapshotWindow",
                "PreferredMaintenanceWindow",
                "AutoMinorVersionUpgrade",
                "AuthToken",
                "AuthTokenUpdateStrategy",
                "EngineVersion",
            )
            if k in req
        }
        if member_change:
            # The primary first, so that restarted replicas find it again.
            ordered = [group["_primary"]] + [m for m in group["_members"] if m != group["_primary"]]
            for member in ordered:
                self.modify_cache_cluster_in(ctx, {"CacheClusterId": member, **member_change})
            first = self._cluster(ctx, group["_primary"])
            group["CacheNodeType"] = first["CacheNodeType"]
            group["SnapshotRetentionLimit"] = first["SnapshotRetentionLimit"]
            group["SnapshotWindow"] = first["SnapshotWindow"]
            group["AutoMinorVersionUpgrade"] = first["AutoMinorVersionUpgrade"]
            if "AuthTokenLastModifiedDate" in first:
                group["AuthTokenLastModifiedDate"] = first["AuthTokenLastModifiedDate"]
            group["Status"] = "modifying"
        self._save_group(ctx, group)
        return self._changed_group(ctx, group)

    @staticmethod
    def _replica_count(req: Json) -> int | None:
        if req.get("NewReplicaCount") is not None:
            return int(req["NewReplicaCount"])
        for shard in req.get("ReplicaConfiguration") or []:
            return int(shard["NewReplicaCount"])
        return None

    def increase_replica_count(self, ctx: RequestContext, req: Json) -> Json:
        group = self._replication_group(ctx, req["ReplicationGroupId"])
        current = len(group["_members"]) - 1
        wanted = self._replica_count(req)
        if wanted is None or not current < wanted <= 5:
            raise errors.InvalidParameterValueException(
                f"NewReplicaCount must be greater than the current {current} replicas and at "
                "most 5."
            )
        rid = group["ReplicationGroupId"]
        number = 1
        while len(group["_members"]) - 1 < wanted:
            name = f"{rid}-{number:03d}"
            number += 1
            if self._get(ctx, "cluster", name) is None:
                self._add_replica(ctx, group, name, {})
        return self._changed_group(ctx, group)

    def decrease_replica_count(self, ctx: RequestContext, req: Json) -> Json:
        group = self._replication_group(ctx, req["ReplicationGroupId"])
        replicas = [m for m in group["_members"] if m != group["_primary"]]
        remove = [r.lower() for r in req.get("ReplicasToRemove") or []]
        wanted = self._replica_count(req)
        if remove:
            if group["_primary"] in remove:
                raise errors.InvalidParameterValueException(
                    "The primary cluster of a replication group cannot be removed."
                )
            unknown = [r for r in remove if r not in replicas]
            if unknown:
                raise errors.CacheClusterNotFoundFault(f"CacheCluster not found: {unknown[0]}")
        elif wanted is not None and 0 <= wanted < len(replicas):
            remove = replicas[wanted:]
        else:
            raise errors.InvalidParameterValueException(
                f"NewReplicaCount must be less than the current {len(replicas)} replicas."
            )
        if group["AutomaticFailover"] == "enabled" and len(replicas) - len(remove) < 1:
            raise errors.InvalidParameterCombinationException(
                "A replication group with automatic failover enabled needs at least one replica."
            )
        for member in remove:
            doc = self._cluster(ctx, member)
            self._halt(ctx, doc, remove=True)
            self._drop(ctx, "cluster", member)
            self.env.tags.drop(doc["ARN"])
            group["_members"].remove(member)
        group["Status"] = "modifying"
        self._save_group(ctx, group)
        return self._changed_group(ctx, group)

    def delete_replication_group(self, ctx: RequestContext, req: Json) -> Json:
        group = self._replication_group(ctx, req["ReplicationGroupId"])
        shown = self._render_group(ctx, group)
        if req.get("FinalSnapshotIdentifier"):
            self._take_snapshot(
                ctx, req["FinalSnapshotIdentifier"], self._cluster(ctx, group["_primary"]), "manual"
            )
        retain = bool(req.get("RetainPrimaryCluster"))
        for member in group["_members"]:
            doc = self._cluster(ctx, member)
            if retain and member == group["_primary"]:
                doc.pop("ReplicationGroupId", None)
                self._save_cluster(ctx, doc)
                continue
            self._halt(ctx, doc, remove=True)
            self._drop(ctx, "cluster", member)
            self.env.tags.drop(doc["ARN"])
        self._drop(ctx, "replication", group["ReplicationGroupId"])
        self.env.tags.drop(group["ARN"])
        self._drop_automated(ctx, "ReplicationGroupId", group["ReplicationGroupId"])
        self._event(
            ctx, "replication-group", group["ReplicationGroupId"], "Replication group deleted"
        )
        shown["Status"] = "deleting"
        return {"ReplicationGroup": shown}

    # -- snapshots ------------------------------------------------------------------------

    def _snapshot_dir(self, ctx: Scope, name: str) -> Path:
        # "_snapshots" can never be a cluster id (those begin with a letter).
        return self.root / ctx.account_id / ctx.region / "_snapshots" / name

    def _drop_automated(self, ctx: Scope, field: str, owner: str) -> None:
        """Automatic snapshots go with their cluster or group (manual ones stay)."""
        for snap in self._all(ctx, "snapshot"):
            if snap["SnapshotSource"] == "automated" and snap.get(field) == owner:
                self._drop(ctx, "snapshot", snap["SnapshotName"])
                shutil.rmtree(self._snapshot_dir(ctx, snap["SnapshotName"]), ignore_errors=True)
                self.env.tags.drop(snap["ARN"])

    def _snapshot(self, ctx: Scope, name: str) -> Json:
        doc = self._get(ctx, "snapshot", name)
        if doc is None:
            raise errors.SnapshotNotFoundFault(f"Snapshot {name} not found.")
        return doc

    def _take_snapshot(
        self, ctx: Scope, name: str, cluster: Json, source: str, group: Json | None = None
    ) -> Json:
        """Write the cluster's data (SAVE) and keep a copy of its RDB file as the snapshot."""
        if cluster["Engine"] == "memcached":
            raise errors.SnapshotFeatureNotSupportedFault(
                "This cache cluster does not support snapshots."
            )
        if self._get(ctx, "snapshot", name) is not None:
            raise errors.SnapshotAlreadyExistsFault(
                f"Snapshot with specified name [{name}] already exists."
            )
        replies = send(cluster, "SAVE")
        if isinstance(replies[0], Exception):
            raise errors.InvalidCacheClusterStateFault(
                f"Cache cluster {cluster['CacheClusterId']} could not be snapshotted: {replies[0]}"
            )
        node_dir = self._node_dir(ctx, cluster["CacheClusterId"], "0001")
        target = self._snapshot_dir(ctx, name)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_dir / "dump.rdb", target / "dump.rdb")
        now = clock.now()
        doc: Json = {
            "SnapshotName": name,
            "CacheClusterId": cluster["CacheClusterId"],
            "SnapshotStatus": "available",
            "SnapshotSource": source,
            "CacheNodeType": cluster["CacheNodeType"],
            "Engine": cluster["Engine"],
            "EngineVersion": cluster["EngineVersion"],
            "NumCacheNodes": 1,
            "PreferredAvailabilityZone": cluster["PreferredAvailabilityZone"],
            "CacheClusterCreateTime": cluster["CacheClusterCreateTime"],
            "PreferredMaintenanceWindow": cluster["PreferredMaintenanceWindow"],
            "Port": cluster["CacheNodes"][0]["Endpoint"]["Port"],
            "CacheParameterGroupName": cluster["CacheParameterGroup"]["CacheParameterGroupName"],
            "AutoMinorVersionUpgrade": cluster["AutoMinorVersionUpgrade"],
            "SnapshotRetentionLimit": cluster["SnapshotRetentionLimit"],
            "SnapshotWindow": cluster["SnapshotWindow"],
            "NodeSnapshots": [
                {
                    "CacheClusterId": cluster["CacheClusterId"],
                    "NodeGroupId": "0001",
                    "CacheNodeId": "0001",
                    "CacheSize": f"{(target / 'dump.rdb').stat().st_size / 1024**2:.3f} MB",
                    "CacheNodeCreateTime": cluster["CacheClusterCreateTime"],
                    "SnapshotCreateTime": now,
                }
            ],
            "ARN": self._arn(ctx, "snapshot", name),
            "DataTiering": "disabled",
        }
        if cluster.get("CacheSubnetGroupName"):
            doc["CacheSubnetGroupName"] = cluster["CacheSubnetGroupName"]
        if group is not None:
            doc.pop("CacheClusterId")
            doc["ReplicationGroupId"] = group["ReplicationGroupId"]
            doc["ReplicationGroupDescription"] = group["Description"]
            doc["NumNodeGroups"] = 1
            doc["AutomaticFailover"] = group["AutomaticFailover"]
        self._put(ctx, "snapshot", name, doc)
        self._cluster_event(
            ctx,
            cluster,
            f"Snapshot succeeded for snapshot with ID '{name}' of cache cluster "
            f"'{cluster['CacheClusterId']}'",
        )
        return doc

    def create_snapshot(self, ctx: RequestContext, req: Json) -> Json:
        name = req["SnapshotName"]
        check_tags(req.get("Tags"))
        group = None
        if req.get("ReplicationGroupId"):
            group = self._replication_group(ctx, req["ReplicationGroupId"])
            cluster = self._available(ctx, group["_primary"])
        elif req.get("CacheClusterId"):
            cluster = self._available(ctx, req["CacheClusterId"])
        else:
            raise errors.InvalidParameterCombinationException(
                "Either ReplicationGroupId or CacheClusterId must be given."
            )
        doc = self._take_snapshot(ctx, name, cluster, "manual", group)
        self._tag_new(doc["ARN"], req.get("Tags"))
        return {"Snapshot": {**doc, "SnapshotStatus": "creating"}}

    def describe_snapshots(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("SnapshotName"):
            docs = [self._snapshot(ctx, req["SnapshotName"])]
        else:
            docs = self._all(ctx, "snapshot")
        for key in ("ReplicationGroupId", "CacheClusterId", "SnapshotSource"):
            if req.get(key):
                docs = [d for d in docs if d.get(key) == req[key]]
        page, marker = self._page(docs, req, "SnapshotName")
        return {"Snapshots": page, **({"Marker": marker} if marker else {})}

    def copy_snapshot(self, ctx: RequestContext, req: Json) -> Json:
        source = self._snapshot(ctx, req["SourceSnapshotName"])
        check_tags(req.get("Tags"))
        name = req["TargetSnapshotName"]
        if self._get(ctx, "snapshot", name) is not None:
            raise errors.SnapshotAlreadyExistsFault(
                f"Snapshot with specified name [{name}] already exists."
            )
        target = self._snapshot_dir(ctx, name)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            self._snapshot_dir(ctx, source["SnapshotName"]) / "dump.rdb", target / "dump.rdb"
        )
        doc = {
            **source,
            "SnapshotName": name,
            "SnapshotSource": "manual",
            "ARN": self._arn(ctx, "snapshot", name),
        }
        self._put(ctx, "snapshot", name, doc)
        self._tag_new(doc["ARN"], req.get("Tags"))
        return {"Snapshot": {**doc, "SnapshotStatus": "creating"}}

    def delete_snapshot(self, ctx: RequestContext, req: Json) -> Json:
        doc = self._snapshot(ctx, req["SnapshotName"])
        self._drop(ctx, "snapshot", doc["SnapshotName"])
        shutil.rmtree(self._snapshot_dir(ctx, doc["SnapshotName"]), ignore_errors=True)
        self.env.tags.drop(doc["ARN"])
        return {"Snapshot": {**doc, "SnapshotStatus": "deleting"}}
