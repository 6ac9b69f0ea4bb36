"""SNS state in the store: topics, subscriptions, platform applications and endpoints, SMS
settings, FIFO deduplication, and the log of messages sent to phones, platform endpoints and
mail addresses (what the inspection endpoints show)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nubes.services.sns.delivery import HttpDelivery
from nubes.store import Row, Store

MIGRATIONS = (
    """
    CREATE TABLE sns_topics (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        fifo INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        data_protection TEXT,
        last_sequence INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX sns_topics_scope ON sns_topics (account, region, arn);
    CREATE TABLE sns_subscriptions (
        arn TEXT PRIMARY KEY,
        topic_arn TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        protocol TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        attributes TEXT NOT NULL,
        confirmed INTEGER NOT NULL,
        token TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sns_subscriptions_topic ON sns_subscriptions (topic_arn, arn);
    CREATE INDEX sns_subscriptions_scope ON sns_subscriptions (account, region, arn);
    CREATE TABLE sns_dedup (
        topic_arn TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sequence TEXT NOT NULL,
        expires REAL NOT NULL,
        PRIMARY KEY (topic_arn, dedup_id)
    ) WITHOUT ROWID;
    CREATE TABLE sns_platform_applications (
        arn TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        attributes TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE sns_platform_endpoints (
        arn TEXT PRIMARY KEY,
        application_arn TEXT NOT NULL,
        token TEXT NOT NULL,
        attributes TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sns_platform_endpoints_app ON sns_platform_endpoints (application_arn, arn);
    CREATE TABLE sns_sms_settings (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        attributes TEXT NOT NULL,
        opted_out TEXT NOT NULL,
        PRIMARY KEY (account, region)
    ) WITHOUT ROWID;
    CREATE TABLE sns_sent (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        target TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX sns_sent_kind ON sns_sent (kind, account, region);
    """,
    """
    ALTER TABLE sns_subscriptions ADD COLUMN principal TEXT NOT NULL DEFAULT '';
    CREATE TABLE sns_http_pending (
        id INTEGER PRIMARY KEY,
        delivery TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        due REAL NOT NULL
    );
    CREATE INDEX sns_http_pending_due ON sns_http_pending (due);
    """,
    """
    ALTER TABLE sns_subscriptions ADD COLUMN token_expires REAL NOT NULL DEFAULT 0;
    ALTER TABLE sns_subscriptions ADD COLUMN authenticated INTEGER NOT NULL DEFAULT 1;
    """,
)


@dataclass
class Topic:
    arn: str
    account: str
    region: str
    name: str
    fifo: bool
    attributes: dict[str, str]
    data_protection: str | None


@dataclass
class Subscription:
    arn: str
    topic_arn: str
    account: str
    region: str
    protocol: str
    endpoint: str
    attributes: dict[str, str]
    confirmed: bool
    token: str
    principal: str = ""
    """The identity that subscribed (SubscriptionPrincipal)."""
    token_expires: float = 0.0
    """When the confirmation token stops confirming (0: never, for older rows)."""
    authenticated: bool = True
    """ConfirmationWasAuthenticated: no confirmation needed, or confirmed by a signed request
    with AuthenticateOnUnsubscribe."""

    @property
    def raw(self) -> bool:
        return self.attributes.get("RawMessageDelivery") == "true"


def _topic(row: Row) -> Topic:
    return Topic(
        arn=row["arn"],
        account=row["account"],
        region=row["region"],
        name=row["name"],
        fifo=bool(row["fifo"]),
        attributes=json.loads(row["attributes"]),
        data_protection=row["data_protection"],
    )


def _subscription(row: Row) -> Subscription:
    return Subscription(
        arn=row["arn"],
        topic_arn=row["topic_arn"],
        account=row["account"],
        region=row["region"],
        protocol=row["protocol"],
        endpoint=row["endpoint"],
        attributes=json.loads(row["attributes"]),
        confirmed=bool(row["confirmed"]),
        token=row["token"],
        principal=row["principal"],
        token_expires=row["token_expires"],
        authenticated=bool(row["authenticated"]),
    )


class Topics:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._subs: dict[str, list[Subscription]] = {}
        """Confirmed subscriptions per topic: Publish reads them on every call."""

    def forget(self) -> None:
        self._subs.clear()

    def get(self, arn: str) -> Topic | None:
        row = self.store.query_one("SELECT * FROM sns_topics WHERE arn = ?", (arn,))
        return _topic(row) if row else None

    def create(self, topic: Topic) -> None:
        self.store.execute(
            "INSERT INTO sns_topics (arn, account, region, name, fifo, attributes) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                topic.arn,
                topic.account,
                topic.region,
                topic.name,
                int(topic.fifo),
                json.dumps(topic.attributes),
            ),
        )

    def update(self, topic: Topic) -> None:
        self.store.execute(
            "UPDATE sns_topics SET attributes = ?, data_protection = ? WHERE arn = ?",
            (json.dumps(topic.attributes), topic.data_protection, topic.arn),
        )

    def delete(self, arn: str) -> None:
        self.store.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
        self.store.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))
        self.store.execute("DELETE FROM sns_dedup WHERE topic_arn = ?", (arn,))
        self._subs.pop(arn, None)

    def page(self, account: str, region: str, after: str, limit: int) -> list[str]:
        rows = self.store.query(
            "SELECT arn FROM sns_topics WHERE account = ? AND region = ? AND arn > ? "
            "ORDER BY arn LIMIT ?",
            (account, region, after, limit),
        )
        return [r["arn"] for r in rows]

    def next_sequence(self, arn: str) -> str:
        value = self.store.scalar(
            "UPDATE sns_topics SET last_sequence = last_sequence + 1 WHERE arn = ? "
            "RETURNING last_sequence",
            (arn,),
        )
        return f"{10_000_000_000_000_000_000 + int(value):020d}"

    # -- subscriptions -------------------------------------------------------------------------

    def subscription(self, arn: str) -> Subscription | None:
        row = self.store.query_one("SELECT * FROM sns_subscriptions WHERE arn = ?", (arn,))
        return _subscription(row) if row else None

    def by_token(self, topic_arn: str, token: str) -> Subscription | None:
        row = self.store.query_one(
            "SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND token = ?",
            (topic_arn, token),
        )
        return _subscription(row) if row else None

    def find(self, topic_arn: str, protocol: str, endpoint: str) -> Subscription | None:
        row = self.store.query_one(
            "SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?",
            (topic_arn, protocol, endpoint),
        )
        return _subscription(row) if row else None

    def save_subscription(self, sub: Subscription) -> None:
        self.store.execute(
            "INSERT INTO sns_subscriptions (arn, topic_arn, account, region, protocol, endpoint, "
            "attributes, confirmed, token, principal, token_expires, authenticated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(arn) DO UPDATE SET attributes = excluded.attributes, "
            "confirmed = excluded.confirmed, authenticated = excluded.authenticated",
            (
                sub.arn,
                sub.topic_arn,
                sub.account,
                sub.region,
                sub.protocol,
                sub.endpoint,
                json.dumps(sub.attributes),
                int(sub.confirmed),
                sub.token,
                sub.principal,
                sub.token_expires,
                int(sub.authenticated),
            ),
        )
        self._subs.pop(sub.topic_arn, None)

    def delete_subscription(self, sub: Subscription) -> None:
        self.store.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (sub.arn,))
        self._subs.pop(sub.topic_arn, None)

    def subscribers(self, topic_arn: str) -> list[Subscription]:
        found = self._subs.get(topic_arn)
        if found is None:
            rows = self.store.query(
                "SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND confirmed = 1 "
                "ORDER BY arn",
                (topic_arn,),
            )
            found = self._subs[topic_arn] = [_subscription(r) for r in rows]
        return found

    def subscription_page(
        self, account: str, region: str, topic_arn: str | None, after: str, limit: int
    ) -> list[Subscription]:
        if topic_arn is not None:
            rows = self.store.query(
                "SELECT * FROM sns_subscriptions WHERE topic_arn = ? AND arn > ? "
                "ORDER BY arn LIMIT ?",
                (topic_arn, after, limit),
            )
        else:
            rows = self.store.query(
                "SELECT * FROM sns_subscriptions WHERE account = ? AND region = ? AND arn > ? "
                "ORDER BY arn LIMIT ?",
                (account, region, after, limit),
            )
        return [_subscription(r) for r in rows]

    def subscription_counts(self, topic_arn: str) -> tuple[int, int]:
        row = self.store.query_one(
            "SELECT SUM(confirmed = 1), SUM(confirmed = 0) FROM sns_subscriptions "
            "WHERE topic_arn = ?",
            (topic_arn,),
        )
        assert row is not None
        return int(row[0] or 0), int(row[1] or 0)

    # -- FIFO deduplication ------------------------------------------------------------------

    def seen(self, topic_arn: str, dedup_id: str, now: float) -> Row | None:
        return self.store.query_one(
            "SELECT message_id, sequence FROM sns_dedup WHERE topic_arn = ? AND dedup_id = ? "
            "AND expires > ?",
            (topic_arn, dedup_id, now),
        )

    def remember(
        self, topic_arn: str, dedup_id: str, message_id: str, sequence: str, until: float
    ) -> None:
        self.store.execute(
            "INSERT INTO sns_dedup (topic_arn, dedup_id, message_id, sequence, expires) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET message_id = excluded.message_id, "
            "sequence = excluded.sequence, expires = excluded.expires",
            (topic_arn, dedup_id, message_id, sequence, until),
        )

    def expire(self, now: float) -> None:
        self.store.execute("DELETE FROM sns_dedup WHERE expires <= ?", (now,))


class Platform:
    """Mobile push: applications and their endpoints."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def application(self, arn: str) -> dict[str, str] | None:
        value = self.store.scalar(
            "SELECT attributes FROM sns_platform_applications WHERE arn = ?", (arn,)
        )
        return None if value is None else dict(json.loads(value))

    def save_application(self, arn: str, account: str, region: str, attrs: dict[str, str]) -> None:
        self.store.execute(
            "INSERT INTO sns_platform_applications (arn, account, region, attributes) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(arn) DO UPDATE SET attributes = excluded.attributes",
            (arn, account, region, json.dumps(attrs)),
        )

    def delete_application(self, arn: str) -> None:
        self.store.execute("DELETE FROM sns_platform_endpoints WHERE application_arn = ?", (arn,))
        self.store.execute("DELETE FROM sns_platform_applications WHERE arn = ?", (arn,))

    def applications(self, account: str, region: str, after: str, limit: int) -> list[Row]:
        return self.store.query(
            "SELECT * FROM sns_platform_applications WHERE account = ? AND region = ? "
            "AND arn > ? ORDER BY arn LIMIT ?",
            (account, region, after, limit),
        )

    def endpoint(self, arn: str) -> Row | None:
        return self.store.query_one("SELECT * FROM sns_platform_endpoints WHERE arn = ?", (arn,))

    def endpoint_by_token(self, application_arn: str, token: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM sns_platform_endpoints WHERE application_arn = ? AND token = ?",
            (application_arn, token),
        )

    def save_endpoint(
        self, arn: str, application_arn: str, token: str, attrs: dict[str, str]
    ) -> None:
        self.store.execute(
            "INSERT INTO sns_platform_endpoints (arn, application_arn, token, attributes) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(arn) DO UPDATE SET attributes = excluded.attributes, "
            "token = excluded.token",
            (arn, application_arn, token, json.dumps(attrs)),
        )

    def delete_endpoint(self, arn: str) -> None:
        self.store.execute("DELETE FROM sns_platform_endpoints WHERE arn = ?", (arn,))

    def endpoints(self, application_arn: str, after: str, limit: int) -> list[Row]:
        return self.store.query(
            "SELECT * FROM sns_platform_endpoints WHERE application_arn = ? AND arn > ? "
            "ORDER BY arn LIMIT ?",
            (application_arn, after, limit),
        )


class HttpPending:
    """HTTP/S deliveries not yet settled, with the attempt they are at and when it is due."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, delivery: HttpDelivery, due: float) -> None:
        self.store.execute(
            "INSERT INTO sns_http_pending (delivery, attempt, due) VALUES (?, 0, ?)",
            (delivery.to_json(), due),
        )

    def due(self, now: float) -> list[HttpDelivery]:
        rows = self.store.query(
            "SELECT * FROM sns_http_pending WHERE due <= ? ORDER BY due, id LIMIT 100", (now,)
        )
        return [HttpDelivery.from_json(r["delivery"], r["id"], r["attempt"]) for r in rows]

    def next_due(self, busy: set[int]) -> float | None:
        marks = ",".join("?" * len(busy))
        value = self.store.scalar(
            f"SELECT MIN(due) FROM sns_http_pending WHERE id NOT IN ({marks})", tuple(busy)
        )
        return None if value is None else float(value)

    def retry(self, delivery: HttpDelivery, due: float) -> None:
        self.store.execute(
            "UPDATE sns_http_pending SET attempt = attempt + 1, due = ? WHERE id = ?",
            (due, delivery.id),
        )

    def postpone(self, ids: list[int], due: float) -> None:
        marks = ",".join("?" * len(ids))
        self.store.execute(
            f"UPDATE sns_http_pending SET due = ? WHERE id IN ({marks})", (due, *ids)
        )

    def done(self, delivery: HttpDelivery) -> None:
        self.store.execute("DELETE FROM sns_http_pending WHERE id = ?", (delivery.id,))


class Sent:
    """Messages nubes cannot deliver anywhere real (SMS, push, mail): kept for inspection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self, kind: str, account: str, region: str, target: str, message: dict[str, Any]
    ) -> None:
        self.store.execute(
            "INSERT INTO sns_sent (kind, account, region, target, message) VALUES (?, ?, ?, ?, ?)",
            (kind, account, region, target, json.dumps(message)),
        )

    def list(self, kind: str, account: str, region: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self.store.query(
            "SELECT target, message FROM sns_sent WHERE kind = ? AND account = ? AND region = ? "
            "ORDER BY id",
            (kind, account, region),
        )
        return [(r["target"], json.loads(r["message"])) for r in rows]

    def clear(self, kind: str, account: str, region: str) -> None:
        self.store.execute(
            "DELETE FROM sns_sent WHERE kind = ? AND account = ? AND region = ?",
            (kind, account, region),
        )


class SmsSettings:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, account: str, region: str) -> tuple[dict[str, str], list[str]]:
        row = self.store.query_one(
            "SELECT attributes, opted_out FROM sns_sms_settings WHERE account = ? AND region = ?",
            (account, region),
        )
        if row is None:
            return {}, []
        return json.loads(row["attributes"]), json.loads(row["opted_out"])

    def put(self, account: str, region: str, attrs: dict[str, str], opted_out: list[str]) -> None:
        self.store.execute(
            "INSERT INTO sns_sms_settings (account, region, attributes, opted_out) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET attributes = excluded.attributes, "
            "opted_out = excluded.opted_out",
            (account, region, json.dumps(attrs), json.dumps(opted_out)),
        )
