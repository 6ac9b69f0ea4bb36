"""What ElastiCache offers: engine versions and their parameter group families, node types and
their memory, and the parameters of each family's default parameter group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENGINES = ("redis", "valkey", "memcached")


@dataclass(frozen=True)
class Version:
    engine: str
    version: str
    family: str
    description: str


VERSIONS = (
    Version("redis", "6.0", "redis6.x", "Redis 6.0"),
    Version("redis", "6.2", "redis6.x", "Redis 6.2"),
    Version("redis", "7.0", "redis7", "Redis 7.0"),
    Version("redis", "7.1", "redis7", "Redis 7.1"),
    Version("valkey", "7.2", "valkey7", "Valkey 7.2"),
    Version("valkey", "8.0", "valkey8", "Valkey 8.0"),
    Version("memcached", "1.6.22", "memcached1.6", "memcached version 1.6.22"),
)
DEFAULT_VERSION = {"redis": "7.1", "valkey": "8.0", "memcached": "1.6.22"}
ENGINE_DESCRIPTION = {"redis": "Redis", "valkey": "Valkey", "memcached": "memcached"}
FAMILIES = sorted({v.family for v in VERSIONS})


def find_version(engine: str, version: str | None) -> Version | None:
    """The offered version ``version`` of ``engine`` (its default when None); a version may be
    given by its major.minor prefix (``7.0`` for ``7.0.7``) as AWS accepts."""
    wanted = version or DEFAULT_VERSION[engine]
    for v in VERSIONS:
        if v.engine == engine and (v.version == wanted or v.version.startswith(wanted + ".")):
            return v
    return None


NODE_MEMORY_GIB = {
    "cache.t2.micro": 0.555,
    "cache.t2.small": 1.55,
    "cache.t2.medium": 3.22,
    "cache.t3.micro": 0.5,
    "cache.t3.small": 1.37,
    "cache.t3.medium": 3.09,
    "cache.t4g.micro": 0.5,
    "cache.t4g.small": 1.37,
    "cache.t4g.medium": 3.09,
    "cache.m5.large": 6.38,
    "cache.m5.xlarge": 12.93,
    "cache.m6g.large": 6.38,
    "cache.m6g.xlarge": 12.93,
    "cache.m7g.large": 6.38,
    "cache.r5.large": 13.07,
    "cache.r5.xlarge": 26.32,
    "cache.r6g.large": 13.07,
    "cache.r6g.xlarge": 26.32,
    "cache.r7g.large": 13.07,
    "cache.r7g.xlarge": 26.32,
}

# The parameters ElastiCache's default redis groups carry that a redis-server applies with
# CONFIG SET, with ElastiCache's defaults (maxmemory-policy is volatile-lru there, not
# redis' noeviction).
POLICIES = (
    "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,"
    "volatile-ttl,noeviction"
)
REDIS_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "ParameterName": "maxmemory-policy",
        "ParameterValue": "volatile-lru",
        "Description": "Max memory policy.",
        "DataType": "string",
        "AllowedValues": POLICIES,
    },
    {
        "ParameterName": "maxmemory-samples",
        "ParameterValue": "3",
        "Description": "Max memory samples.",
        "DataType": "integer",
        "AllowedValues": "1-",
    },
    {
        "ParameterName": "timeout",
        "ParameterValue": "0",
        "Description": "Close connection if client is idle for a given number of seconds, "
        "or never if 0.",
        "DataType": "integer",
        "AllowedValues": "0,20-",
    },
    {
        "ParameterName": "tcp-keepalive",
        "ParameterValue": "300",
        "Description": "If non-zero, send ACKs every given number of seconds.",
        "DataType": "integer",
        "AllowedValues": "0-",
    },
    {
        "ParameterName": "notify-keyspace-events",
        "ParameterValue": "",
        "Description": "The keyspace events for Redis to notify Pub/Sub subscribers about.",
        "DataType": "string",
        "AllowedValues": None,
    },
    {
        "ParameterName": "databases",
        "ParameterValue": "16",
        "Description": "Set the number of databases.",
        "DataType": "integer",
        "AllowedValues": "1-1200000",
        "ChangeType": "requires-reboot",
    },
    {
        "ParameterName": "slowlog-log-slower-than",
        "ParameterValue": "10000",
        "Description": "The execution time, in microseconds, to exceed in order for the "
        "command to get logged.",
        "DataType": "integer",
        "AllowedValues": "-",
    },
    {
        "ParameterName": "slowlog-max-len",
        "ParameterValue": "128",
        "Description": "The length of the slow log.",
        "DataType": "integer",
        "AllowedValues": "0-",
    },
    {
        "ParameterName": "lua-time-limit",
        "ParameterValue": "5000",
        "Description": "Max execution time of a Lua script in milliseconds.",
        "DataType": "integer",
        "AllowedValues": "5000",
        "IsModifiable": False,
    },
    {
        "ParameterName": "cluster-enabled",
        "ParameterValue": "no",
        "Description": "Enable cluster mode.",
        "DataType": "string",
        "AllowedValues": "yes,no",
        "ChangeType": "requires-reboot",
    },
)
MEMCACHED_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "ParameterName": "max_item_size",
        "ParameterValue": "1048576",
        "Description": "The size of the largest item storable in the cache, in bytes.",
        "DataType": "integer",
        "AllowedValues": "1048576-134217728",
        "ChangeType": "requires-reboot",
    },
)


def family_parameters(family: str) -> list[dict[str, Any]]:
    """The default parameter group's parameters of ``family`` (AWS's Parameter shape)."""
    source = MEMCACHED_PARAMETERS if family.startswith("memcached") else REDIS_PARAMETERS
    out = []
    for p in source:
        out.append(
            {
                "ParameterName": p["ParameterName"],
                "ParameterValue": p["ParameterValue"],
                "Description": p["Description"],
                "Source": "system",
                "DataType": p["DataType"],
                **({"AllowedValues": p["AllowedValues"]} if p["AllowedValues"] else {}),
                "IsModifiable": p.get("IsModifiable", True),
                "MinimumEngineVersion": "2.6.13" if source is REDIS_PARAMETERS else "1.4.5",
                "ChangeType": p.get("ChangeType", "immediate"),
            }
        )
    return out
