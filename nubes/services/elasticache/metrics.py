"""AWS/ElastiCache metrics of the running nodes, read each minute from the servers themselves
(redis INFO, memcached stats): gauges as sampled, counters as their change since the last
sample."""

from __future__ import annotations

from nubes.core.metrics import Datapoint
from nubes.runtime.elasticache.nodes import Nodes, stats
from nubes.runtime.elasticache.resp import RespError

GAUGES = {
    "redis": {
        "CurrConnections": ("connected_clients", "Count"),
        "BytesUsedForCache": ("used_memory", "Bytes"),
    },
    "memcached": {
        "CurrConnections": ("curr_connections", "Count"),
        "BytesUsedForCacheItems": ("bytes", "Bytes"),
        "CurrItems": ("curr_items", "Count"),
    },
}
COUNTERS = {
    "redis": {
        "CacheHits": "keyspace_hits",
        "CacheMisses": "keyspace_misses",
        "Evictions": "evicted_keys",
        "NewConnections": "total_connections_received",
    },
    "memcached": {
        "GetHits": "get_hits",
        "GetMisses": "get_misses",
        "Evictions": "evictions",
        "NewConnections": "total_connections",
    },
}


class Sampler:
    def __init__(self, nodes: Nodes, serverless_prefix: str) -> None:
        self.nodes = nodes
        self.prefix = serverless_prefix
        self.last: dict[str, dict[str, float]] = {}

    def __call__(self, boundary: float) -> list[Datapoint]:
        points: list[Datapoint] = []
        for key, (spec, proc) in list(self.nodes.procs.items()):
            if proc.poll() is not None:
                continue
            try:
                found = stats(spec)
            except (OSError, RespError):
                continue
            account, region, cluster, node = key.split("/")
            if cluster.startswith(self.prefix):
                dims = {"clusterId": cluster[len(self.prefix) :]}
            else:
                dims = {"CacheClusterId": cluster, "CacheNodeId": node}
            kind = "memcached" if spec.engine == "memcached" else "redis"
            values: dict[str, tuple[float, str]] = {
                name: (float(found.get(field, 0)), unit)
                for name, (field, unit) in GAUGES[kind].items()
            }
            if kind == "redis":
                values["CurrItems"] = (_keys(found), "Count")
                maximum = float(found.get("maxmemory", 0))
                if maximum:
                    used = 100.0 * float(found.get("used_memory", 0)) / maximum
                    values["DatabaseMemoryUsagePercentage"] = (used, "Percent")
            before = self.last.get(key, {})
            now = {name: float(found.get(field, 0)) for name, field in COUNTERS[kind].items()}
            for name, value in now.items():
                if name in before:
                    values[name] = (max(0.0, value - before[name]), "Count")
            self.last[key] = now
            points.extend(
                Datapoint(account, region, "AWS/ElastiCache", name, value, unit, dims)
                for name, (value, unit) in values.items()
            )
        for key in set(self.last) - set(self.nodes.procs):
            del self.last[key]
        return points


def _keys(info: dict[str, str]) -> float:
    """Keys in all databases (INFO keyspace's ``db0:keys=3,expires=0,...`` lines)."""
    total = 0
    for name, value in info.items():
        if name.startswith("db") and name[2:].isdigit():
            for part in value.split(","):
                field, _, number = part.partition("=")
                if field == "keys":
                    total += int(number)
    return float(total)
