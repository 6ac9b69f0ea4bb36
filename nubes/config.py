"""Settings, from command-line flags over environment variables over defaults.

Every setting has a ``NUBES_*`` variable; a few LocalStack names are accepted too so that
existing set-ups keep working (``GATEWAY_LISTEN``, ``ENFORCE_IAM``, ``DEFAULT_REGION``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = Path(".nubes-data")
    ephemeral: bool = False
    log_level: str = "info"
    account_id: str = "000000000000"
    region: str = "us-east-1"
    enforce_iam: bool = False
    iam_explain: bool = False
    root_access_key: str = "test"
    root_secret_key: str = "test"
    fsync: bool = False
    """fsync on every commit and blob rename: survives power loss, not just a crash."""
    init_dir: str = ""
    """A further root of init hooks (``<dir>/ready.d/*.sh`` ...), beside /etc/localstack/init."""
    dns_address: str = ""
    """Where the DNS server listens: ``host:port`` (port 0: any free one), ``off``, or empty for
    127.0.0.1:53 when it can bind, else 127.0.0.1:5353."""
    dns_forward: str = ""
    """Resolver (``host[:port]``, or ``system`` for the host's) asked about names nubes does not
    know; empty: refuse them."""
    route53_sync_seconds: int = 0
    """How long a Route 53 change stays PENDING before GetChange reports it INSYNC."""
    s3_legacy_defaults: bool = False
    """New S3 buckets as before April 2023: ObjectWriter ownership (ACLs enabled) and no Block
    Public Access configuration, for tests written against those defaults."""


# (setting, NUBES variable, other accepted names, what it is) — also the README's table.
ENVIRONMENT: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("host", "NUBES_HOST", (), "address to listen on"),
    ("port", "NUBES_PORT", (), "port to listen on"),
    ("data_dir", "NUBES_DATA_DIR", ("DATA_DIR",), "where state lives (SQLite + blobs)"),
    ("ephemeral", "NUBES_EPHEMERAL", (), "keep all state in memory (1/true)"),
    ("log_level", "NUBES_LOG_LEVEL", ("LS_LOG",), "debug, info, warning, error"),
    ("account_id", "NUBES_ACCOUNT_ID", (), "account for keys that are not account ids"),
    ("region", "NUBES_DEFAULT_REGION", ("DEFAULT_REGION",), "region when a request names none"),
    ("enforce_iam", "NUBES_ENFORCE_IAM", ("ENFORCE_IAM",), "verify signatures, apply IAM"),
    ("iam_explain", "NUBES_IAM_EXPLAIN", (), "log every IAM decision and why"),
    ("root_access_key", "NUBES_ROOT_ACCESS_KEY_ID", (), "access key of the account root"),
    ("root_secret_key", "NUBES_ROOT_SECRET_ACCESS_KEY", (), "secret key of the account root"),
    ("fsync", "NUBES_FSYNC", (), "fsync commits and blobs (power-loss safety)"),
    ("init_dir", "NUBES_INIT_DIR", (), "more init hooks: <dir>/{boot,start,ready,shutdown}.d"),
    ("dns_address", "NUBES_DNS_ADDRESS", (), "DNS server host:port, or off"),
    ("dns_forward", "NUBES_DNS_FORWARD", (), "resolver for names nubes does not know"),
    ("route53_sync_seconds", "NUBES_ROUTE53_SYNC_SECONDS", (), "seconds a change stays PENDING"),
    ("s3_legacy_defaults", "NUBES_S3_LEGACY_DEFAULTS", (), "new buckets: ACLs on, no public block"),
)

_TRUE = {"1", "true", "yes", "on"}


def _convert(name: str, raw: str) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind in ("bool", bool):
        return raw.strip().lower() in _TRUE
    if kind in ("int", int):
        return int(raw)
    if kind in ("Path", Path):
        return Path(raw).expanduser()
    return raw


def from_environment(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from ``env`` (default: os.environ), then ``overrides`` that are not None."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    listen = env.get("GATEWAY_LISTEN")
    if listen:
        host, _, port = listen.split(",")[0].rpartition(":")
        values["host"] = host or "0.0.0.0"
        values["port"] = int(port)
    for name, var, aliases, _ in ENVIRONMENT:
        for key in (var, *aliases):
            if env.get(key):
                values[name] = _convert(name, env[key])
                break
    values.update({k: v for k, v in overrides.items() if v is not None})
    # Absolute once, here: workers (Lambda functions) run in other directories and must find
    # the same data dir the server opened.
    data_dir = Path(values.get("data_dir", Settings.data_dir))  # type: ignore[arg-type]
    values["data_dir"] = data_dir.expanduser().absolute()
    return Settings(**values)  # type: ignore[arg-type]
