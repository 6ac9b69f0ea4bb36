"""Route 53's durable state: hosted zones and their record sets, changes, reusable delegation
sets, VPC associations and health checks. Route 53 is global: everything is scoped by account
only. Record sets are kept as the JSON of the ``ResourceRecordSet`` shape (plain names), with
the columns the listing order and the DNS server need."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nubes.services.route53.records import sort_key
from nubes.store import Store

MIGRATIONS = (
    """
    CREATE TABLE r53_zones (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        caller_reference TEXT NOT NULL,
        comment TEXT,
        private INTEGER NOT NULL,
        delegation_set TEXT,
        name_servers TEXT NOT NULL,
        created REAL NOT NULL,
        UNIQUE (account, caller_reference)
    );
    CREATE INDEX r53_zones_name ON r53_zones (name);
    CREATE TABLE r53_zone_vpcs (
        zone_id TEXT NOT NULL REFERENCES r53_zones (id) ON DELETE CASCADE,
        vpc_id TEXT NOT NULL,
        vpc_region TEXT NOT NULL,
        PRIMARY KEY (zone_id, vpc_id)
    );
    CREATE TABLE r53_vpc_authorizations (
        zone_id TEXT NOT NULL REFERENCES r53_zones (id) ON DELETE CASCADE,
        vpc_id TEXT NOT NULL,
        vpc_region TEXT NOT NULL,
        PRIMARY KEY (zone_id, vpc_id)
    );
    CREATE TABLE r53_rrsets (
        zone_id TEXT NOT NULL REFERENCES r53_zones (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        set_id TEXT NOT NULL DEFAULT '',
        sort_name TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (zone_id, name, type, set_id)
    );
    CREATE INDEX r53_rrsets_order ON r53_rrsets (zone_id, sort_name, type, set_id);
    CREATE TABLE r53_changes (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        submitted REAL NOT NULL,
        comment TEXT
    );
    CREATE TABLE r53_delegation_sets (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        caller_reference TEXT NOT NULL,
        name_servers TEXT NOT NULL,
        UNIQUE (account, caller_reference)
    );
    CREATE TABLE r53_health_checks (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        caller_reference TEXT NOT NULL,
        config TEXT NOT NULL,
        version INTEGER NOT NULL,
        created REAL NOT NULL,
        UNIQUE (account, caller_reference)
    );
    """,
    """
    CREATE TABLE r53_query_logging (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        zone_id TEXT NOT NULL UNIQUE,
        group_arn TEXT NOT NULL,
        group_name TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE r53_cidr_collections (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        caller_reference TEXT NOT NULL,
        version INTEGER NOT NULL,
        UNIQUE (account, name)
    );
    CREATE TABLE r53_cidr_blocks (
        collection_id TEXT NOT NULL REFERENCES r53_cidr_collections (id) ON DELETE CASCADE,
        location TEXT NOT NULL,
        cidr TEXT NOT NULL,
        PRIMARY KEY (collection_id, location, cidr)
    );
""",
)


@dataclass
class Zone:
    id: str
    account: str
    name: str
    caller_reference: str
    comment: str | None
    private: bool
    delegation_set: str | None
    name_servers: list[str]
    created: float
    record_count: int = 0
    vpcs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class HealthCheckRow:
    id: str
    account: str
    caller_reference: str
    config: dict[str, Any]
    version: int
    created: float


def _zone(row: Any, count: int = 0) -> Zone:
    return Zone(
        id=row["id"],
        account=row["account"],
        name=row["name"],
        caller_reference=row["caller_reference"],
        comment=row["comment"],
        private=bool(row["private"]),
        delegation_set=row["delegation_set"],
        name_servers=json.loads(row["name_servers"]),
        created=row["created"],
        record_count=count,
    )


class Route53Model:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- zones ------------------------------------------------------------------------------

    def add_zone(self, zone: Zone) -> None:
        self.store.execute(
            "INSERT INTO r53_zones (id, account, name, caller_reference, comment, private, "
            "delegation_set, name_servers, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                zone.id,
                zone.account,
                zone.name,
                zone.caller_reference,
                zone.comment,
                int(zone.private),
                zone.delegation_set,
                json.dumps(zone.name_servers),
                zone.created,
            ),
        )

    def zone(self, account: str, zone_id: str) -> Zone | None:
        row = self.store.query_one(
            "SELECT * FROM r53_zones WHERE id = ? AND account = ?", (zone_id, account)
        )
        return None if row is None else self._complete(_zone(row))

    def zone_by_reference(self, account: str, reference: str) -> Zone | None:
        row = self.store.query_one(
            "SELECT * FROM r53_zones WHERE account = ? AND caller_reference = ?",
            (account, reference),
        )
        return None if row is None else self._complete(_zone(row))

    def zones(self, account: str | None = None) -> list[Zone]:
        """Zones of ``account`` (all accounts when None), oldest first."""
        if account is None:
            rows = self.store.query("SELECT * FROM r53_zones ORDER BY created, id")
        else:
            rows = self.store.query(
                "SELECT * FROM r53_zones WHERE account = ? ORDER BY created, id", (account,)
            )
        counts = {
            r[0]: r[1]
            for r in self.store.query("SELECT zone_id, count(*) FROM r53_rrsets GROUP BY zone_id")
        }
        vpcs: dict[str, list[tuple[str, str]]] = {}
        for r in self.store.query("SELECT zone_id, vpc_id, vpc_region FROM r53_zone_vpcs"):
            vpcs.setdefault(r[0], []).append((r[1], r[2]))
        out = []
        for row in rows:
            zone = _zone(row, counts.get(row["id"], 0))
            zone.vpcs = vpcs.get(zone.id, [])
            out.append(zone)
        return out

    def _complete(self, zone: Zone) -> Zone:
        zone.record_count = self.store.scalar(
            "SELECT count(*) FROM r53_rrsets WHERE zone_id = ?", (zone.id,)
        )
        zone.vpcs = [
            (r[0], r[1])
            for r in self.store.query(
                "SELECT vpc_id, vpc_region FROM r53_zone_vpcs WHERE zone_id = ? ORDER BY vpc_id",
                (zone.id,),
            )
        ]
        return zone

    def set_comment(self, zone_id: str, comment: str | None) -> None:
        self.store.execute("UPDATE r53_zones SET comment = ? WHERE id = ?", (comment, zone_id))

    def delete_zone(self, zone_id: str) -> None:
        self.store.execute("DELETE FROM r53_rrsets WHERE zone_id = ?", (zone_id,))
        self.store.execute("DELETE FROM r53_zone_vpcs WHERE zone_id = ?", (zone_id,))
        self.store.execute("DELETE FROM r53_vpc_authorizations WHERE zone_id = ?", (zone_id,))
        self.store.execute("DELETE FROM r53_query_logging WHERE zone_id = ?", (zone_id,))
        self.store.execute("DELETE FROM r53_zones WHERE id = ?", (zone_id,))

    def count_zones(self, account: str) -> int:
        return int(
            self.store.scalar("SELECT count(*) FROM r53_zones WHERE account = ?", (account,))
        )

    # -- VPC associations -------------------------------------------------------------------

    def associate(self, zone_id: str, vpc_id: str, region: str) -> None:
        self.store.execute(
            "INSERT OR IGNORE INTO r53_zone_vpcs (zone_id, vpc_id, vpc_region) VALUES (?, ?, ?)",
            (zone_id, vpc_id, region),
        )

    def disassociate(self, zone_id: str, vpc_id: str) -> None:
        self.store.execute(
            "DELETE FROM r53_zone_vpcs WHERE zone_id = ? AND vpc_id = ?", (zone_id, vpc_id)
        )

    def zones_of_vpc(self, vpc_id: str, region: str) -> list[str]:
        return [
            r[0]
            for r in self.store.query(
                "SELECT zone_id FROM r53_zone_vpcs WHERE vpc_id = ? AND vpc_region = ?",
                (vpc_id, region),
            )
        ]

    def authorizations(self, zone_id: str) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self.store.query(
                "SELECT vpc_id, vpc_region FROM r53_vpc_authorizations WHERE zone_id = ? "
                "ORDER BY vpc_id",
                (zone_id,),
            )
        ]

    def authorize(self, zone_id: str, vpc_id: str, region: str, allow: bool) -> None:
        if allow:
            self.store.execute(
                "INSERT OR IGNORE INTO r53_vpc_authorizations VALUES (?, ?, ?)",
                (zone_id, vpc_id, region),
            )
        else:
            self.store.execute(
                "DELETE FROM r53_vpc_authorizations WHERE zone_id = ? AND vpc_id = ?",
                (zone_id, vpc_id),
            )

    # -- record sets ------------------------------------------------------------------------

    def rrsets(self, zone_id: str) -> list[dict[str, Any]]:
        """Every record set of a zone, in ListResourceRecordSets order."""
        return [
            json.loads(r[0])
            for r in self.store.query(
                "SELECT data FROM r53_rrsets WHERE zone_id = ? ORDER BY sort_name, type, set_id",
                (zone_id,),
            )
        ]

    def rrsets_named(self, zone_id: str, name: str) -> list[dict[str, Any]]:
        return [
            json.loads(r[0])
            for r in self.store.query(
                "SELECT data FROM r53_rrsets WHERE zone_id = ? AND name = ?", (zone_id, name)
            )
        ]

    def rrsets_from(self, zone_id: str, start: tuple[str, str, str], limit: int) -> list[Any]:
        return [
            json.loads(r[0])
            for r in self.store.query(
                "SELECT data FROM r53_rrsets WHERE zone_id = ? AND (sort_name, type, set_id) >= "
                "(?, ?, ?) ORDER BY sort_name, type, set_id LIMIT ?",
                (zone_id, *start, limit),
            )
        ]

    def put_rrsets(self, zone_id: str, records: Iterable[dict[str, Any]]) -> None:
        self.store.executemany(
            "INSERT OR REPLACE INTO r53_rrsets (zone_id, name, type, set_id, sort_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    zone_id,
                    r["Name"],
                    r["Type"],
                    r.get("SetIdentifier") or "",
                    sort_key(r["Name"]),
                    json.dumps(r, separators=(",", ":")),
                )
                for r in records
            ],
        )

    def delete_rrset(self, zone_id: str, record: dict[str, Any]) -> None:
        self.store.execute(
            "DELETE FROM r53_rrsets WHERE zone_id = ? AND name = ? AND type = ? AND set_id = ?",
            (zone_id, record["Name"], record["Type"], record.get("SetIdentifier") or ""),
        )

    def records_using_health_check(self, check_id: str) -> bool:
        return (
            self.store.query_one(
                "SELECT 1 FROM r53_rrsets WHERE json_extract(data, '$.HealthCheckId') = ? LIMIT 1",
                (check_id,),
            )
            is not None
        )

    # -- changes ----------------------------------------------------------------------------

    def add_change(
        self, change_id: str, account: str, submitted: float, comment: str | None
    ) -> None:
        self.store.execute(
            "INSERT INTO r53_changes (id, account, submitted, comment) VALUES (?, ?, ?, ?)",
            (change_id, account, submitted, comment),
        )

    def change(self, change_id: str) -> Any:
        return self.store.query_one("SELECT * FROM r53_changes WHERE id = ?", (change_id,))

    # -- delegation sets --------------------------------------------------------------------

    def add_delegation_set(
        self, set_id: str, account: str, reference: str, servers: list[str]
    ) -> None:
        self.store.execute(
            "INSERT INTO r53_delegation_sets (id, account, caller_reference, name_servers) "
            "VALUES (?, ?, ?, ?)",
            (set_id, account, reference, json.dumps(servers)),
        )

    def delegation_sets(self, account: str) -> list[dict[str, Any]]:
        return [
            {
                "Id": r["id"],
                "CallerReference": r["caller_reference"],
                "NameServers": json.loads(r["name_servers"]),
            }
            for r in self.store.query(
                "SELECT * FROM r53_delegation_sets WHERE account = ? ORDER BY id", (account,)
            )
        ]

    def delete_delegation_set(self, set_id: str) -> None:
        self.store.execute("DELETE FROM r53_delegation_sets WHERE id = ?", (set_id,))

    # -- health checks ----------------------------------------------------------------------

    def add_health_check(self, check: HealthCheckRow) -> None:
        self.store.execute(
            "INSERT INTO r53_health_checks (id, account, caller_reference, config, version, "
            "created) VALUES (?, ?, ?, ?, ?, ?)",
            (
                check.id,
                check.account,
                check.caller_reference,
                json.dumps(check.config),
                check.version,
                check.created,
            ),
        )

    def update_health_check(self, check: HealthCheckRow) -> None:
        self.store.execute(
            "UPDATE r53_health_checks SET config = ?, version = ? WHERE id = ?",
            (json.dumps(check.config), check.version, check.id),
        )

    def health_checks(self, account: str | None = None) -> list[HealthCheckRow]:
        sql = "SELECT * FROM r53_health_checks"
        args: tuple[str, ...] = ()
        if account is not None:
            sql += " WHERE account = ?"
            args = (account,)
        return [
            HealthCheckRow(
                r["id"],
                r["account"],
                r["caller_reference"],
                json.loads(r["config"]),
                r["version"],
                r["created"],
            )
            for r in self.store.query(sql + " ORDER BY created, id", args)
        ]

    # -- CIDR collections -------------------------------------------------------------------

    def cidr_locations(self, account: str, collection_id: str) -> set[str] | None:
        """The locations of a collection of ``account``, or None when it has no such one."""
        if (
            self.store.query_one(
                "SELECT 1 FROM r53_cidr_collections WHERE id = ? AND account = ?",
                (collection_id, account),
            )
            is None
        ):
            return None
        return {
            r[0]
            for r in self.store.query(
                "SELECT DISTINCT location FROM r53_cidr_blocks WHERE collection_id = ?",
                (collection_id,),
            )
        }

    def cidr_locations_in_use(self, collection_id: str) -> set[str]:
        return {
            r[0]
            for r in self.store.query(
                "SELECT json_extract(data, '$.CidrRoutingConfig.LocationName') FROM r53_rrsets "
                "WHERE json_extract(data, '$.CidrRoutingConfig.CollectionId') = ?",
                (collection_id,),
            )
        }

    def cidr_blocks(self) -> dict[str, list[tuple[str, str]]]:
        """Every collection's (CIDR block, location) pairs (what the DNS server routes by)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for r in self.store.query("SELECT collection_id, location, cidr FROM r53_cidr_blocks"):
            out.setdefault(r[0], []).append((r[2], r[1]))
        return out

    # -- query logging ----------------------------------------------------------------------

    def add_query_logging(
        self, config_id: str, account: str, zone_id: str, group_arn: str, group: str
    ) -> None:
        self.store.execute(
            "INSERT INTO r53_query_logging (id, account, zone_id, group_arn, group_name) "
            "VALUES (?, ?, ?, ?, ?)",
            (config_id, account, zone_id, group_arn, group),
        )

    def query_logging(self, config_id: str) -> Any:
        return self.store.query_one("SELECT * FROM r53_query_logging WHERE id = ?", (config_id,))

    def query_logging_of_zone(self, zone_id: str) -> Any:
        return self.store.query_one("SELECT * FROM r53_query_logging WHERE zone_id = ?", (zone_id,))

    def query_loggings(self, account: str | None, zone_id: str | None = None) -> list[Any]:
        sql, args = "SELECT * FROM r53_query_logging WHERE 1 = 1", []
        if account is not None:
            sql, args = sql + " AND account = ?", [account]
        if zone_id is not None:
            sql, args = sql + " AND zone_id = ?", [*args, zone_id]
        return self.store.query(sql + " ORDER BY id", args)

    def delete_query_logging(self, config_id: str) -> None:
        self.store.execute("DELETE FROM r53_query_logging WHERE id = ?", (config_id,))

    def delete_health_check(self, check_id: str) -> None:
        self.store.execute("DELETE FROM r53_health_checks WHERE id = ?", (check_id,))
