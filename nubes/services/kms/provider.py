"""AWS Key Management Service: customer and AWS managed keys (symmetric AES-256-GCM, RSA,
ECC, Ed25519, HMAC) with the real algorithms, aliases, key policies, grants, key states and
deletion on the one clock, rotation (scheduled and on demand, old ciphertexts still decrypt),
multi-Region keys sharing their material with replicas, data keys and key pairs, tags."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn, parse_arn, partition_of, root_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list
from nubes.protocol.base import ServiceError
from nubes.protocol.timestamps import to_datetime
from nubes.services.base import ServiceProvider
from nubes.services.kms import crypto
from nubes.services.kms.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE kms_keys (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        key_id TEXT NOT NULL,
        deletes_at REAL,
        rotates_at REAL,
        doc TEXT NOT NULL,
        material TEXT NOT NULL,
        PRIMARY KEY (account, region, key_id)
    ) WITHOUT ROWID;
    CREATE INDEX kms_keys_deletes ON kms_keys (deletes_at);
    CREATE INDEX kms_keys_rotates ON kms_keys (rotates_at);
    CREATE TABLE kms_aliases (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        key_id TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE TABLE kms_grants (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        grant_id TEXT NOT NULL,
        key_id TEXT NOT NULL,
        token TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, grant_id)
    ) WITHOUT ROWID;
    """,
)

DAY = 86_400.0
DEFAULT_ROTATION_DAYS = 365
MAX_ON_DEMAND_ROTATIONS = 25
_ALIAS_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")
_KEY_ID = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
)
_AWS_MANAGED_DESCRIPTIONS = {
    "s3": "Default key that protects my S3 objects when no other key is defined",
    "ssm": "Default key that protects my SSM parameters when no other key is defined",
    "secretsmanager": "Default key that protects my Secrets Manager data when no other key is "
    "defined",
    "lambda": "Default key that protects my Lambda functions when no other key is defined",
    "dynamodb": "Default key that protects my DynamoDB data when no other key is defined",
    "sqs": "Default key that protects my SQS messages when no other key is defined",
    "sns": "Default key that protects my SNS data when no other key is defined",
}
_DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


def default_policy(account: str, region: str) -> str:
    """The key policy AWS writes when CreateKey names none."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": root_arn(account, partition_of(region))},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


def _aws_managed_policy(account: str, service: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": f"auto-{service}-2",
            "Statement": [
                {
                    "Sid": f"Allow access through {service} for all principals in the account "
                    "that are authorized to use it",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": f"{service}.{region}.amazonaws.com",
                            "kms:CallerAccount": account,
                        }
                    },
                },
                {
                    "Sid": "Allow direct access to key metadata to the account",
                    "Effect": "Allow",
                    "Principal": {"AWS": root_arn(account, partition_of(region))},
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


class Key:
    """One key row, decoded: its metadata document and its material versions."""

    def __init__(self, row: Row) -> None:
        self.account: str = row["account"]
        self.region: str = row["region"]
        self.key_id: str = row["key_id"]
        self.doc: Json = json.loads(row["doc"])
        self.materials: list[Json] = json.loads(row["material"])

    @property
    def meta(self) -> Json:
        return self.doc["meta"]

    @property
    def arn(self) -> str:
        return self.meta["Arn"]

    @property
    def spec(self) -> str:
        return self.meta["KeySpec"]

    def material(self, version: int | None = None) -> bytes:
        entry = self.materials[-1 if version is None else version]
        return base64.b64decode(entry["bytes"])

    @property
    def version(self) -> int:
        return len(self.materials) - 1


def _material_entry(raw: bytes) -> Json:
    return {
        "bytes": base64.b64encode(raw).decode(),
        "id": hashlib.sha256(os.urandom(32)).hexdigest(),
    }


class KmsProvider(ServiceProvider):
    service = "kms"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)

    # -- keys in the store -------------------------------------------------------------------

    def _maintain(self) -> None:
        """Act on what the clock made due: keys past their waiting period are deleted (with
        their aliases and grants), keys whose rotation date passed get new material."""
        now = clock.now()
        for row in self.store.query(
            "SELECT account, region, key_id FROM kms_keys WHERE deletes_at <= ?", (now,)
        ):
            self._forget(row["account"], row["region"], row["key_id"])
        for row in self.store.query("SELECT * FROM kms_keys WHERE rotates_at <= ?", (now,)):
            key = Key(row)
            rotation = key.doc["rotation"]
            when = row["rotates_at"]
            while when <= now:
                self._add_material(key, "AUTOMATIC", when)
                when += rotation["PeriodInDays"] * DAY
            rotation["Next"] = when
            self._save(key)

    def _forget(self, account: str, region: str, key_id: str) -> None:
        key_arn = arn("kms", region, account, f"key/{key_id}")
        scope = (account, region, key_id)
        self.store.execute(
            "DELETE FROM kms_keys WHERE account = ? AND region = ? AND key_id = ?", scope
        )
        self.store.execute(
            "DELETE FROM kms_aliases WHERE account = ? AND region = ? AND key_id = ?", scope
        )
        self.store.execute(
            "DELETE FROM kms_grants WHERE account = ? AND region = ? AND key_id = ?", scope
        )
        self.env.tags.drop(key_arn)

    def _save(self, key: Key) -> None:
        rotation = key.doc.get("rotation") or {}
        self.store.execute(
            "INSERT INTO kms_keys (account, region, key_id, deletes_at, rotates_at, doc, "
            "material) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, key_id) DO "
            "UPDATE SET deletes_at = excluded.deletes_at, rotates_at = excluded.rotates_at, "
            "doc = excluded.doc, material = excluded.material",
            (
                key.account,
                key.region,
                key.key_id,
                key.meta.get("DeletionDate"),
                rotation.get("Next") if rotation.get("Enabled") else None,
                json.dumps(key.doc),
                json.dumps(key.materials),
            ),
        )

    def _row(self, account: str, region: str, key_id: str) -> Key | None:
        row = self.store.query_one(
            "SELECT * FROM kms_keys WHERE account = ? AND region = ? AND key_id = ?",
            (account, region, key_id),
        )
        return Key(row) if row is not None else None

    def _key(
        self,
        ctx: RequestContext,
        key_id: str,
        *,
        create_managed: bool = True,
        maintain: bool = True,
    ) -> Key:
        """The key ``key_id`` names: a key id, key ARN, alias name or alias ARN."""
        if maintain:
            self._maintain()
        account, region = ctx.account_id, ctx.region
        ident = key_id
        if key_id.startswith("arn:"):
            try:
                found = parse_arn(key_id)
            except ValueError:
                raise errors.NotFoundException(f"Invalid arn {key_id}") from None
            if found.service != "kms":
                raise errors.NotFoundException(f"Invalid arn {key_id}")
            account, region, ident = found.account, found.region, found.resource
            if ident.startswith("key/"):
                ident = ident[4:]
        if ident.startswith("alias/"):
            target = self.store.scalar(
                "SELECT key_id FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
                (account, region, ident),
            )
            if target is None and ident.startswith("alias/aws/") and create_managed:
                return self._managed(account, region, ident)
            if target is None:
                alias_arn = arn("kms", region, account, ident)
                raise errors.NotFoundException(f"Alias {alias_arn} is not found.")
            ident = target
        elif not _KEY_ID.match(ident):
            raise errors.NotFoundException(f"Invalid keyId '{key_id}'")
        key = self._row(account, region, ident)
        if key is None:
            key_arn = arn("kms", region, account, f"key/{ident}")
            raise errors.NotFoundException(f"Key '{key_arn}' does not exist")
        valid_to = key.meta.get("ValidTo")
        if valid_to and valid_to <= clock.now() and key.meta["KeyState"] in ("Enabled", "Disabled"):
            # Imported material that expired is gone: the key waits for an import again.
            key.meta.update(KeyState="PendingImport", Enabled=False)
            key.meta.pop("ValidTo")
            if maintain:
                self._save(key)
        return key

    def _managed(self, account: str, region: str, alias: str) -> Key:
        """An AWS managed key, made the first time its alias is used."""
        service = alias.removeprefix("alias/aws/")
        key = self._new_key(
            account,
            region,
            {
                "Description": _AWS_MANAGED_DESCRIPTIONS.get(
                    service,
                    f"Default key that protects my {service} data when no other key is defined",
                ),
                "KeySpec": "SYMMETRIC_DEFAULT",
                "KeyUsage": "ENCRYPT_DECRYPT",
            },
            manager="AWS",
            policy=_aws_managed_policy(account, service, region),
        )
        key.doc["rotation"] = {
            "Enabled": True,
            "PeriodInDays": DEFAULT_ROTATION_DAYS,
            "Next": clock.now() + DEFAULT_ROTATION_DAYS * DAY,
        }
        self._save(key)
        now = clock.now()
        self.store.execute(
            "INSERT INTO kms_aliases (account, region, name, key_id, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (account, region, alias, key.key_id, now, now),
        )
        return key

    def managed_key_arn(self, account: str, region: str, service: str) -> str:
        """The ARN of ``alias/aws/<service>`` in that account and Region (made when new): what
        services show as the key of data they encrypt by default."""
        ctx_alias = f"alias/aws/{service}"
        target = self.store.scalar(
            "SELECT key_id FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
            (account, region, ctx_alias),
        )
        if target is not None:
            return arn("kms", region, account, f"key/{target}")
        return self._managed(account, region, ctx_alias).arn

    def _new_key(
        self,
        account: str,
        region: str,
        req: Json,
        *,
        manager: str = "CUSTOMER",
        policy: str | None = None,
        key_id: str | None = None,
        materials: list[Json] | None = None,
    ) -> Key:
        spec = req.get("KeySpec") or req.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
        if req.get("KeySpec") and req.get("CustomerMasterKeySpec"):
            raise errors.ValidationException(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                "CustomerMasterKeySpec is deprecated."
            )
        if spec not in crypto.SPECS:
            raise errors.UnsupportedOperationException(
                f"KeySpec {spec} is not supported in this region."
            )
        described = crypto.SPECS[spec]
        usage = req.get("KeyUsage") or "ENCRYPT_DECRYPT"
        if usage not in described.usages:
            raise errors.ValidationException(
                f"KeyUsage {usage} is not compatible with KeySpec {spec}"
            )
        origin = req.get("Origin") or "AWS_KMS"
        if origin not in ("AWS_KMS", "EXTERNAL"):
            raise errors.UnsupportedOperationException(
                f"Origin {origin} requires a custom key store, which this endpoint does not offer."
            )
        multi = bool(req.get("MultiRegion"))
        if key_id is None:
            key_id = f"mrk-{uuid.uuid4().hex}" if multi else str(uuid.uuid4())
        key_arn = arn("kms", region, account, f"key/{key_id}")
        if materials is None:
            # Keys for imported material wait for it (PendingImport).
            external = origin == "EXTERNAL"
            materials = [] if external else [_material_entry(crypto.new_material(spec))]
        meta: Json = {
            "AWSAccountId": account,
            "KeyId": key_id,
            "Arn": key_arn,
            "CreationDate": clock.now(),
            "Enabled": bool(materials),
            "Description": req.get("Description") or "",
            "KeyUsage": usage,
            "KeyState": "Enabled" if materials else "PendingImport",
            "Origin": origin,
            "KeyManager": manager,
            "CustomerMasterKeySpec": spec,
            "KeySpec": spec,
            "MultiRegion": multi,
        }
        if usage == "ENCRYPT_DECRYPT":
            meta["EncryptionAlgorithms"] = list(described.encryption)
        if usage == "SIGN_VERIFY":
            meta["SigningAlgorithms"] = list(described.signing)
        if usage == "GENERATE_VERIFY_MAC":
            meta["MacAlgorithms"] = list(described.mac)
        if usage == "KEY_AGREEMENT":
            meta["KeyAgreementAlgorithms"] = list(crypto.agreement_algorithms(spec, usage))
        if multi:
            meta["MultiRegionConfiguration"] = {"MultiRegionKeyType": "PRIMARY"}
        doc: Json = {
            "meta": meta,
            "policy": policy or req.get("Policy") or default_policy(account, region),
            "rotation": {"Enabled": False, "PeriodInDays": DEFAULT_ROTATION_DAYS, "Next": None},
            "rotations": [],
            "primary_region": region,
        }
        if req.get("Policy"):
            self._check_policy(req["Policy"])
        row_key = Key.__new__(Key)
        row_key.account, row_key.region, row_key.key_id = account, region, key_id
        row_key.doc, row_key.materials = doc, materials
        if req.get("Tags"):
            self._set_tags(key_arn, req["Tags"])
        self._save(row_key)
        return row_key

    @staticmethod
    def _check_policy(policy: str) -> None:
        try:
            parsed = json.loads(policy)
        except ValueError:
            raise errors.MalformedPolicyDocumentException(
                "The new key policy will not allow you to update the key policy in the future."
            ) from None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("Statement"), list | dict):
            raise errors.MalformedPolicyDocumentException("Policy document is malformed.")

    def _describe(self, key: Key) -> Json:
        meta = dict(key.meta)
        if key.spec == "SYMMETRIC_DEFAULT" and key.materials:
            meta["CurrentKeyMaterialId"] = key.materials[-1]["id"]
        if meta.get("MultiRegion"):
            meta["MultiRegionConfiguration"] = self._multi_region(key)
        return meta

    def _multi_region(self, key: Key) -> Json:
        primary = key.doc["primary_region"]
        rows = self.store.query(
            "SELECT region FROM kms_keys WHERE account = ? AND key_id = ? ORDER BY region",
            (key.account, key.key_id),
        )

        def entry(region: str) -> Json:
            return {"Arn": arn("kms", region, key.account, f"key/{key.key_id}"), "Region": region}

        return {
            "MultiRegionKeyType": "PRIMARY" if key.region == primary else "REPLICA",
            "PrimaryKey": entry(primary),
            "ReplicaKeys": [entry(r["region"]) for r in rows if r["region"] != primary],
        }

    # -- states ------------------------------------------------------------------------------

    @staticmethod
    def _usable(key: Key) -> None:
        """Cryptographic operations need an enabled key."""
        state = key.meta["KeyState"]
        if state == "Disabled":
            raise errors.DisabledException(f"{key.arn} is disabled.")
        if state == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")
        if state != "Enabled":
            raise errors.KMSInvalidStateException(f"{key.arn} is {state}.")

    @staticmethod
    def _customer_managed(key: Key, operation: str) -> None:
        if key.meta["KeyManager"] == "AWS":
            raise errors.UnsupportedOperationException(
                f"{key.arn} is an AWS managed key. You cannot perform {operation} on it."
            )

    @staticmethod
    def _usage(key: Key, usage: str, operation: str) -> None:
        if key.meta["KeyUsage"] != usage:
            raise errors.InvalidKeyUsageException(
                f"{key.arn} key usage is {key.meta['KeyUsage']} which is not valid for {operation}."
            )

    # -- key lifecycle -----------------------------------------------------------------------

    def create_key(self, ctx: RequestContext, req: Json) -> Json:
        self._maintain()
        key = self._new_key(ctx.account_id, ctx.region, req)
        return {"KeyMetadata": self._describe(key)}

    def describe_key(self, ctx: RequestContext, req: Json) -> Json:
        return {"KeyMetadata": self._describe(self._key(ctx, req["KeyId"]))}

    def list_keys(self, ctx: RequestContext, req: Json) -> Json:
        self._maintain()
        rows = self.store.query(
            "SELECT key_id FROM kms_keys WHERE account = ? AND region = ? ORDER BY key_id",
            (ctx.account_id, ctx.region),
        )
        page, marker = self._page([r["key_id"] for r in rows], req, lambda k: k)
        return _listing(
            "Keys",
            [
                {"KeyId": k, "KeyArn": arn("kms", ctx.region, ctx.account_id, f"key/{k}")}
                for k in page
            ],
            marker,
        )

    @staticmethod
    def _page(
        items: list[Any], req: Json, key: Any, default: int = 100
    ) -> tuple[list[Any], str | None]:
        try:
            return paginate(items, req.get("Limit") or default, req.get("Marker"), key)
        except (InvalidToken, TypeError):
            raise errors.InvalidMarkerException("Invalid marker.") from None

    def _set_state(self, ctx: RequestContext, req: Json, enabled: bool) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "EnableKey" if enabled else "DisableKey")
        if key.meta["KeyState"] == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")
        key.meta["KeyState"] = "Enabled" if enabled else "Disabled"
        key.meta["Enabled"] = enabled
        self._save(key)
        return {}

    def enable_key(self, ctx: RequestContext, req: Json) -> Json:
        return self._set_state(ctx, req, True)

    def disable_key(self, ctx: RequestContext, req: Json) -> Json:
        return self._set_state(ctx, req, False)

    def schedule_key_deletion(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "ScheduleKeyDeletion")
        days = req.get("PendingWindowInDays") or 30
        if not 7 <= days <= 30:
            raise errors.ValidationException(
                f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed "
                "to satisfy constraint: Member must have value "
                + ("greater than or equal to 7" if days < 7 else "less than or equal to 30")
            )
        if key.meta["KeyState"] == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")
        if key.meta.get("MultiRegion") and key.doc["primary_region"] == key.region:
            replicas = self._multi_region(key)["ReplicaKeys"]
            if replicas:
                raise errors.UnsupportedOperationException(
                    f"{key.arn} is a multi-Region primary key with replica keys. Delete the "
                    "replica keys first."
                )
        key.meta["KeyState"] = "PendingDeletion"
        key.meta["Enabled"] = False
        key.meta["DeletionDate"] = clock.now() + days * DAY
        key.meta["PendingDeletionWindowInDays"] = days
        self._save(key)
        return {
            "KeyId": key.arn,
            "DeletionDate": key.meta["DeletionDate"],
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": days,
        }

    def cancel_key_deletion(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        if key.meta["KeyState"] != "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is not pending deletion.")
        key.meta["KeyState"] = "Disabled"
        key.meta.pop("DeletionDate", None)
        key.meta.pop("PendingDeletionWindowInDays", None)
        self._save(key)
        return {"KeyId": key.arn}

    def update_key_description(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "UpdateKeyDescription")
        key.meta["Description"] = req["Description"]
        self._save(key)
        return {}

    # -- multi-Region keys -------------------------------------------------------------------

    def replicate_key(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        if not key.meta.get("MultiRegion"):
            raise errors.UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
        if key.doc["primary_region"] != key.region:
            raise errors.UnsupportedOperationException(
                f"{key.arn} is a replica key. Replicate the primary key instead."
            )
        region = req["ReplicaRegion"]
        if region == key.region or self._row(key.account, region, key.key_id) is not None:
            raise errors.AlreadyExistsException(
                f"Replica key {arn('kms', region, key.account, f'key/{key.key_id}')} already "
                "exists."
            )
        replica = self._new_key(
            key.account,
            region,
            {
                "KeySpec": key.spec,
                "KeyUsage": key.meta["KeyUsage"],
                "Description": req.get("Description", key.meta["Description"]),
                "MultiRegion": True,
                "Policy": req.get("Policy"),
                "Tags": req.get("Tags"),
            },
            key_id=key.key_id,
            materials=key.materials,
        )
        replica.doc["primary_region"] = key.region
        replica.doc["rotation"] = dict(key.doc["rotation"], Next=None)
        self._save(replica)
        tags = self.env.tags.get(replica.arn)
        return {
            "ReplicaKeyMetadata": self._describe(replica),
            "ReplicaPolicy": replica.doc["policy"],
            "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in tags.items()],
        }

    def update_primary_region(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        if not key.meta.get("MultiRegion"):
            raise errors.UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
        region = req["PrimaryRegion"]
        target = self._row(key.account, region, key.key_id)
        if target is None:
            raise errors.NotFoundException(
                f"Key '{arn('kms', region, key.account, f'key/{key.key_id}')}' does not exist"
            )
        for row in self.store.query(
            "SELECT * FROM kms_keys WHERE account = ? AND key_id = ?", (key.account, key.key_id)
        ):
            each = Key(row)
            each.doc["primary_region"] = region
            self._save(each)
        return {}

    # -- rotation ----------------------------------------------------------------------------

    def _add_material(self, key: Key, kind: str, when: float) -> None:
        """New material for ``key`` and every replica sharing it; the old stays for
        decryption."""
        entry = _material_entry(crypto.new_material(key.spec))
        record = {"KeyMaterialId": entry["id"], "RotationDate": when, "RotationType": kind}
        for row in self.store.query(
            "SELECT * FROM kms_keys WHERE account = ? AND key_id = ?", (key.account, key.key_id)
        ):
            each = key if row["region"] == key.region else Key(row)
            each.materials.append(entry)
            each.doc["rotations"].append(record)
            self._save(each)

    def _rotatable(self, key: Key, operation: str) -> None:
        if key.meta["Origin"] == "EXTERNAL":
            raise errors.UnsupportedOperationException(
                f"{key.arn} has imported key material: {operation} is not supported for it."
            )
        if key.spec != "SYMMETRIC_DEFAULT":
            raise errors.UnsupportedOperationException(
                f"{key.arn} has KeySpec {key.spec}. Only symmetric encryption keys support "
                "automatic key rotation."
            )
        if key.meta.get("MultiRegion") and key.doc["primary_region"] != key.region:
            raise errors.UnsupportedOperationException(
                f"{key.arn} is a replica key. {operation} is performed on the primary key."
            )

    def enable_key_rotation(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "EnableKeyRotation")
        self._usable(key)
        self._rotatable(key, "EnableKeyRotation")
        period = req.get("RotationPeriodInDays") or DEFAULT_ROTATION_DAYS
        key.doc["rotation"] = {
            "Enabled": True,
            "PeriodInDays": period,
            "Next": clock.now() + period * DAY,
        }
        self._save(key)
        return {}

    def disable_key_rotation(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "DisableKeyRotation")
        self._usable(key)
        self._rotatable(key, "DisableKeyRotation")
        key.doc["rotation"] = dict(key.doc["rotation"], Enabled=False, Next=None)
        self._save(key)
        return {}

    def get_key_rotation_status(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        rotation = key.doc["rotation"]
        out: Json = {"KeyRotationEnabled": bool(rotation["Enabled"]), "KeyId": key.arn}
        if rotation["Enabled"]:
            out["RotationPeriodInDays"] = rotation["PeriodInDays"]
            if rotation.get("Next"):
                out["NextRotationDate"] = rotation["Next"]
        return out

    def rotate_key_on_demand(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "RotateKeyOnDemand")
        self._usable(key)
        self._rotatable(key, "RotateKeyOnDemand")
        on_demand = [r for r in key.doc["rotations"] if r["RotationType"] == "ON_DEMAND"]
        if len(on_demand) >= MAX_ON_DEMAND_ROTATIONS:
            raise errors.LimitExceededException(
                f"{key.arn} has reached the maximum number of on-demand rotations."
            )
        self._add_material(key, "ON_DEMAND", clock.now())
        return {"KeyId": key.key_id}

    def list_key_rotations(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._rotatable(key, "ListKeyRotations")
        entries = [dict(r, KeyId=key.key_id) for r in key.doc["rotations"]]
        page, marker = self._page(list(range(len(entries))), req, lambda i: i)
        return _listing("Rotations", [entries[i] for i in page], marker)

    # -- imported key material --------------------------------------------------------------

    def _external(self, key: Key, operation: str) -> None:
        if key.meta["Origin"] != "EXTERNAL":
            raise errors.UnsupportedOperationException(
                f"{key.arn} origin is {key.meta['Origin']} which is not valid for this operation."
            )
        if key.meta["KeyState"] == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")

    def get_parameters_for_import(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._external(key, "GetParametersForImport")
        algorithm, spec = req["WrappingAlgorithm"], req["WrappingKeySpec"]
        if spec == "SM2" or algorithm == "SM2PKE":
            raise errors.UnsupportedOperationException("SM2 is available in China Regions only.")
        wrapping = crypto.new_material(spec)
        token = os.urandom(64)
        valid_to = clock.now() + DAY
        key.doc["import"] = {
            "token": base64.b64encode(token).decode(),
            "wrapping": base64.b64encode(wrapping).decode(),
            "algorithm": algorithm,
            "valid_to": valid_to,
        }
        self._save(key)
        return {
            "KeyId": key.arn,
            "ImportToken": token,
            "PublicKey": crypto.public_der(wrapping),
            "ParametersValidTo": valid_to,
        }

    def import_key_material(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._external(key, "ImportKeyMaterial")
        pending = key.doc.get("import")
        if not pending or base64.b64decode(pending["token"]) != bytes(req["ImportToken"]):
            raise errors.InvalidImportTokenException("The import token is not valid for this key.")
        if pending["valid_to"] <= clock.now():
            raise errors.ExpiredImportTokenException("The import token has expired.")
        try:
            material = crypto.unwrap(
                base64.b64decode(pending["wrapping"]),
                pending["algorithm"],
                bytes(req["EncryptedKeyMaterial"]),
            )
        except crypto.CryptoError:
            raise errors.InvalidCiphertextException("") from None
        if key.spec == "SYMMETRIC_DEFAULT" and len(material) != 32:
            raise errors.IncorrectKeyMaterialException(
                "Symmetric key material must be 256 bits (32 bytes)."
            )
        if key.materials and base64.b64decode(key.materials[0]["bytes"]) != material:
            raise errors.IncorrectKeyMaterialException(
                "The key material is not the material previously imported into this key."
            )
        model = req.get("ExpirationModel") or "KEY_MATERIAL_EXPIRES"
        if (model == "KEY_MATERIAL_EXPIRES") != (req.get("ValidTo") is not None):
            raise errors.ValidationException(
                "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES and not "
                "allowed otherwise."
            )
        if not key.materials:
            key.materials = [_material_entry(material)]
        key.meta.update(KeyState="Enabled", Enabled=True, ExpirationModel=model)
        key.meta.pop("ValidTo", None)
        if req.get("ValidTo") is not None:
            key.meta["ValidTo"] = to_datetime(req["ValidTo"]).timestamp()
        key.doc["import"] = None
        self._save(key)
        return {"KeyId": key.arn, "KeyMaterialId": key.materials[0]["id"]}

    def delete_imported_key_material(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._external(key, "DeleteImportedKeyMaterial")
        key.meta.update(KeyState="PendingImport", Enabled=False)
        key.meta.pop("ValidTo", None)
        key.meta.pop("ExpirationModel", None)
        self._save(key)
        return {
            "KeyId": key.arn,
            **({"KeyMaterialId": key.materials[0]["id"]} if key.materials else {}),
        }

    # -- aliases -----------------------------------------------------------------------------

    def _alias_name(self, ctx: RequestContext, name: str) -> str:
        if not name.startswith("alias/"):
            raise errors.ValidationException(
                "1 validation error detected: Value '"
                + name
                + "' at 'aliasName' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
            )
        if name.startswith("alias/aws/"):
            raise errors.InvalidAliasNameException(
                "Alias must not begin with 'alias/aws/'. The 'alias/aws/' prefix is reserved "
                "for AWS managed keys."
            )
        if not _ALIAS_NAME.match(name):
            raise errors.ValidationException(
                "1 validation error detected: Value '"
                + name
                + "' at 'aliasName' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: ^alias/[a-zA-Z0-9/_-]+$"
            )
        return name

    def _alias_target(self, ctx: RequestContext, target: str) -> Key:
        if target.startswith("alias/") or ":alias/" in target:
            raise errors.ValidationException("Aliases must refer to keys. Not aliases")
        key = self._key(ctx, target)
        self._customer_managed(key, "CreateAlias")
        if key.meta["KeyState"] == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")
        return key

    def create_alias(self, ctx: RequestContext, req: Json) -> Json:
        name = self._alias_name(ctx, req["AliasName"])
        key = self._alias_target(ctx, req["TargetKeyId"])
        if self.store.scalar(
            "SELECT 1 FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        ):
            raise errors.AlreadyExistsException(
                f"An alias with the name {arn('kms', ctx.region, ctx.account_id, name)} already "
                "exists"
            )
        now = clock.now()
        self.store.execute(
            "INSERT INTO kms_aliases (account, region, name, key_id, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (ctx.account_id, ctx.region, name, key.key_id, now, now),
        )
        return {}

    def _existing_alias(self, ctx: RequestContext, name: str) -> Row:
        row = self.store.query_one(
            "SELECT * FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        if row is None:
            raise errors.NotFoundException(
                f"Alias {arn('kms', ctx.region, ctx.account_id, name)} is not found."
            )
        return row

    def update_alias(self, ctx: RequestContext, req: Json) -> Json:
        name = self._alias_name(ctx, req["AliasName"])
        row = self._existing_alias(ctx, name)
        key = self._alias_target(ctx, req["TargetKeyId"])
        current = self._key(ctx, row["key_id"])
        if (current.spec, current.meta["KeyUsage"]) != (key.spec, key.meta["KeyUsage"]):
            raise errors.ValidationException(
                "The new target key must have the same key spec and key usage as the current "
                "target key."
            )
        self.store.execute(
            "UPDATE kms_aliases SET key_id = ?, updated = ? WHERE account = ? AND region = ? "
            "AND name = ?",
            (key.key_id, clock.now(), ctx.account_id, ctx.region, name),
        )
        return {}

    def delete_alias(self, ctx: RequestContext, req: Json) -> Json:
        name = self._alias_name(ctx, req["AliasName"])
        self._existing_alias(ctx, name)
        self.store.execute(
            "DELETE FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )
        return {}

    def list_aliases(self, ctx: RequestContext, req: Json) -> Json:
        self._maintain()
        rows = self.store.query(
            "SELECT * FROM kms_aliases WHERE account = ? AND region = ? ORDER BY name",
            (ctx.account_id, ctx.region),
        )
        if req.get("KeyId"):
            key = self._key(ctx, req["KeyId"], create_managed=False)
            rows = [r for r in rows if r["key_id"] == key.key_id]
        page, marker = self._page(rows, req, lambda r: r["name"], default=50)
        return _listing(
            "Aliases",
            [
                {
                    "AliasName": r["name"],
                    "AliasArn": arn("kms", ctx.region, ctx.account_id, r["name"]),
                    "TargetKeyId": r["key_id"],
                    "CreationDate": r["created"],
                    "LastUpdatedDate": r["updated"],
                }
                for r in page
            ],
            marker,
        )

    # -- key policies ------------------------------------------------------------------------

    @staticmethod
    def _policy_name(req: Json) -> None:
        if (req.get("PolicyName") or "default") != "default":
            raise errors.NotFoundException("No such policy exists")

    def get_key_policy(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._policy_name(req)
        return {"Policy": key.doc["policy"], "PolicyName": "default"}

    def put_key_policy(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "PutKeyPolicy")
        self._policy_name(req)
        self._check_policy(req["Policy"])
        key.doc["policy"] = req["Policy"]
        self._save(key)
        return {}

    def list_key_policies(self, ctx: RequestContext, req: Json) -> Json:
        self._key(ctx, req["KeyId"])
        return {"PolicyNames": ["default"], "Truncated": False}

    def enforcement_policy(self, ctx: RequestContext, resource: str) -> tuple[str, str | None]:
        """What enforcement weighs for a request on the key ``resource`` (a key or alias ARN):
        the key's ARN and its key policy, with a statement per grant allowing the grantee the
        grant's operations (under the grant's encryption context constraints)."""
        try:
            key = self._key(ctx, resource, create_managed=False, maintain=False)
        except ServiceError:
            return resource, None
        policy = json.loads(key.doc["policy"])
        statements = policy.get("Statement") or []
        if isinstance(statements, dict):
            statements = [statements]
        for row in self.store.query(
            "SELECT doc FROM kms_grants WHERE account = ? AND region = ? AND key_id = ?",
            (key.account, key.region, key.key_id),
        ):
            grant = json.loads(row["doc"])
            statement: Json = {
                "Effect": "Allow",
                "Principal": {"AWS": grant["GranteePrincipal"]},
                "Action": [f"kms:{op}" for op in grant["Operations"]],
                "Resource": "*",
            }
            constraints = grant.get("Constraints") or {}
            exact = constraints.get("EncryptionContextEquals") or constraints.get(
                "EncryptionContextSubset"
            )
            if exact:
                statement["Condition"] = {
                    "StringEquals": {f"kms:EncryptionContext:{k}": v for k, v in exact.items()}
                }
            statements.append(statement)
        policy["Statement"] = statements
        return key.arn, json.dumps(policy)

    # -- grants ------------------------------------------------------------------------------

    def create_grant(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        if key.meta["KeyState"] == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")
        operations = sorted(set(req["Operations"]))
        if not operations:
            raise errors.ValidationException("Operations must not be empty.")
        doc: Json = {
            "KeyId": key.arn,
            "Name": req.get("Name") or "",
            "CreationDate": clock.now(),
            "GranteePrincipal": req["GranteePrincipal"],
            "IssuingAccount": root_arn(ctx.account_id, ctx.partition),
            "Operations": operations,
        }
        if req.get("RetiringPrincipal"):
            doc["RetiringPrincipal"] = req["RetiringPrincipal"]
        if req.get("Constraints"):
            doc["Constraints"] = req["Constraints"]
        if doc["Name"]:
            # Retrying CreateGrant with the same name and parameters answers the same grant.
            for row in self.store.query(
                "SELECT * FROM kms_grants WHERE account = ? AND region = ? AND key_id = ?",
                (key.account, key.region, key.key_id),
            ):
                same = json.loads(row["doc"])
                if {k: v for k, v in same.items() if k != "CreationDate"} == {
                    k: v for k, v in doc.items() if k != "CreationDate"
                }:
                    return {"GrantToken": row["token"], "GrantId": row["grant_id"]}
        grant_id = hashlib.sha256(os.urandom(32)).hexdigest()
        token = base64.urlsafe_b64encode(os.urandom(96)).decode().rstrip("=")
        self.store.execute(
            "INSERT INTO kms_grants (account, region, grant_id, key_id, token, doc) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key.account, key.region, grant_id, key.key_id, token, json.dumps(doc)),
        )
        return {"GrantToken": token, "GrantId": grant_id}

    def _grant_entries(self, rows: list[Row], req: Json) -> Json:
        page, marker = self._page(rows, req, lambda r: r["grant_id"], default=50)
        return _listing(
            "Grants",
            [dict(json.loads(r["doc"]), GrantId=r["grant_id"]) for r in page],
            marker,
        )

    def list_grants(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        rows = self.store.query(
            "SELECT * FROM kms_grants WHERE account = ? AND region = ? AND key_id = ? "
            "ORDER BY grant_id",
            (key.account, key.region, key.key_id),
        )
        if req.get("GrantId"):
            rows = [r for r in rows if r["grant_id"] == req["GrantId"]]
        if req.get("GranteePrincipal"):
            rows = [
                r
                for r in rows
                if json.loads(r["doc"])["GranteePrincipal"] == req["GranteePrincipal"]
            ]
        return self._grant_entries(rows, req)

    def list_retirable_grants(self, ctx: RequestContext, req: Json) -> Json:
        self._maintain()
        rows = [
            r
            for r in self.store.query(
                "SELECT * FROM kms_grants WHERE account = ? AND region = ? ORDER BY grant_id",
                (ctx.account_id, ctx.region),
            )
            if json.loads(r["doc"]).get("RetiringPrincipal") == req["RetiringPrincipal"]
        ]
        return self._grant_entries(rows, req)

    def _drop_grant(self, row: Row) -> None:
        self.store.execute(
            "DELETE FROM kms_grants WHERE account = ? AND region = ? AND grant_id = ?",
            (row["account"], row["region"], row["grant_id"]),
        )

    def retire_grant(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("GrantToken"):
            row = self.store.query_one(
                "SELECT * FROM kms_grants WHERE token = ?", (req["GrantToken"],)
            )
            if row is None:
                raise errors.InvalidGrantTokenException("Grant token is invalid.")
        elif req.get("KeyId") and req.get("GrantId"):
            key = self._key(ctx, req["KeyId"])
            row = self.store.query_one(
                "SELECT * FROM kms_grants WHERE account = ? AND region = ? AND key_id = ? AND "
                "grant_id = ?",
                (key.account, key.region, key.key_id, req["GrantId"]),
            )
            if row is None:
                raise errors.NotFoundException(f"Grant ID {req['GrantId']} not found")
        else:
            raise errors.ValidationException(
                "Either GrantToken or both KeyId and GrantId must be given."
            )
        self._drop_grant(row)
        return {}

    def revoke_grant(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        row = self.store.query_one(
            "SELECT * FROM kms_grants WHERE account = ? AND region = ? AND key_id = ? AND "
            "grant_id = ?",
            (key.account, key.region, key.key_id, req["GrantId"]),
        )
        if row is None:
            raise errors.NotFoundException(f"Grant ID {req['GrantId']} not found")
        self._drop_grant(row)
        return {}

    # -- symmetric encryption ----------------------------------------------------------------

    def _encrypt_with(
        self, key: Key, plaintext: bytes, context: Json | None, algorithm: str
    ) -> bytes:
        self._usable(key)
        self._usage(key, "ENCRYPT_DECRYPT", "Encrypt")
        if algorithm not in key.meta.get("EncryptionAlgorithms", []):
            raise errors.InvalidKeyUsageException(
                f"Algorithm {algorithm} is incompatible with key spec {key.spec}."
            )
        if key.spec == "SYMMETRIC_DEFAULT":
            return crypto.seal(key.key_id, key.version, key.material(), plaintext, context)
        try:
            return crypto.rsa_encrypt(key.material(), algorithm, plaintext)
        except crypto.CryptoError:
            raise errors.ValidationException(
                f"Plaintext is too long for {key.spec} with {algorithm}."
            ) from None

    def _decrypt_with(
        self,
        ctx: RequestContext,
        key_id: str | None,
        blob: bytes,
        context: Json | None,
        algorithm: str,
    ) -> tuple[Key, bytes]:
        named = crypto.blob_key(blob)
        if algorithm == "SYMMETRIC_DEFAULT":
            if named is None:
                raise errors.InvalidCiphertextException("")
            key = None
            if key_id:
                key = self._key(ctx, key_id)
                if key.key_id != named[0]:
                    raise errors.IncorrectKeyException(
                        "The key ID in the request does not identify a CMK that can perform "
                        "this operation."
                    )
            else:
                self._maintain()
                key = self._row(ctx.account_id, ctx.region, named[0])
                if key is None:
                    raise errors.InvalidCiphertextException("")
            self._usable(key)
            self._usage(key, "ENCRYPT_DECRYPT", "Decrypt")
            if named[1] >= len(key.materials):
                raise errors.InvalidCiphertextException("")
            try:
                return key, crypto.unseal(key.key_id, key.material(named[1]), blob, context)
            except crypto.CryptoError:
                raise errors.InvalidCiphertextException("") from None
        if not key_id:
            raise errors.ValidationException(
                "KeyId is required when the encryption algorithm is not SYMMETRIC_DEFAULT."
            )
        key = self._key(ctx, key_id)
        self._usable(key)
        self._usage(key, "ENCRYPT_DECRYPT", "Decrypt")
        if algorithm not in key.meta.get("EncryptionAlgorithms", []):
            raise errors.IncorrectKeyException(
                "The key ID in the request does not identify a CMK that can perform this operation."
            )
        try:
            return key, crypto.rsa_decrypt(key.material(), algorithm, blob)
        except crypto.CryptoError:
            raise errors.InvalidCiphertextException("") from None

    def encrypt(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        algorithm = req.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
        blob = self._encrypt_with(
            key, bytes(req["Plaintext"]), req.get("EncryptionContext"), algorithm
        )
        return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}

    @staticmethod
    def _ciphertext(req: Json) -> bytes:
        # Optional in the model (a Recipient may stand in for it elsewhere), required here.
        blob = req.get("CiphertextBlob")
        if blob is None:
            raise errors.ValidationException(
                "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
                "constraint: Member must not be null"
            )
        return bytes(blob)

    def decrypt(self, ctx: RequestContext, req: Json) -> Json:
        algorithm = req.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
        key, plaintext = self._decrypt_with(
            ctx,
            req.get("KeyId"),
            self._ciphertext(req),
            req.get("EncryptionContext"),
            algorithm,
        )
        out: Json = {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}
        named = crypto.blob_key(bytes(req["CiphertextBlob"]))
        if algorithm == "SYMMETRIC_DEFAULT" and named is not None:
            out["KeyMaterialId"] = key.materials[named[1]]["id"]
        return out

    def re_encrypt(self, ctx: RequestContext, req: Json) -> Json:
        source_algorithm = req.get("SourceEncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
        source, plaintext = self._decrypt_with(
            ctx,
            req.get("SourceKeyId"),
            self._ciphertext(req),
            req.get("SourceEncryptionContext"),
            source_algorithm,
        )
        destination = self._key(ctx, req["DestinationKeyId"])
        algorithm = req.get("DestinationEncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
        blob = self._encrypt_with(
            destination, plaintext, req.get("DestinationEncryptionContext"), algorithm
        )
        return {
            "CiphertextBlob": blob,
            "SourceKeyId": source.arn,
            "KeyId": destination.arn,
            "SourceEncryptionAlgorithm": source_algorithm,
            "DestinationEncryptionAlgorithm": algorithm,
        }

    def _symmetric(self, ctx: RequestContext, key_id: str, operation: str) -> Key:
        key = self._key(ctx, key_id)
        self._usable(key)
        self._usage(key, "ENCRYPT_DECRYPT", operation)
        if key.spec != "SYMMETRIC_DEFAULT":
            raise errors.InvalidKeyUsageException(
                f"{key.arn} key spec is {key.spec} which is not valid for {operation}."
            )
        return key

    def generate_data_key(self, ctx: RequestContext, req: Json) -> Json:
        key = self._symmetric(ctx, req["KeyId"], "GenerateDataKey")
        if bool(req.get("NumberOfBytes")) == bool(req.get("KeySpec")):
            raise errors.ValidationException("Please specify either number of bytes or key spec.")
        size = req.get("NumberOfBytes") or _DATA_KEY_BYTES[req["KeySpec"]]
        plaintext = os.urandom(size)
        blob = crypto.seal(
            key.key_id, key.version, key.material(), plaintext, req.get("EncryptionContext")
        )
        return {
            "CiphertextBlob": blob,
            "Plaintext": plaintext,
            "KeyId": key.arn,
            "KeyMaterialId": key.materials[-1]["id"],
        }

    def generate_data_key_without_plaintext(self, ctx: RequestContext, req: Json) -> Json:
        out = self.generate_data_key(ctx, req)
        out.pop("Plaintext")
        return out

    def generate_data_key_pair(self, ctx: RequestContext, req: Json) -> Json:
        key = self._symmetric(ctx, req["KeyId"], "GenerateDataKeyPair")
        spec = req["KeyPairSpec"]
        if spec not in crypto.SPECS or spec in crypto.HMAC_BYTES or spec == "SYMMETRIC_DEFAULT":
            raise errors.UnsupportedOperationException(f"KeyPairSpec {spec} is not supported.")
        private = crypto.new_material(spec)
        blob = crypto.seal(
            key.key_id, key.version, key.material(), private, req.get("EncryptionContext")
        )
        return {
            "PrivateKeyCiphertextBlob": blob,
            "PrivateKeyPlaintext": private,
            "PublicKey": crypto.public_der(private),
            "KeyId": key.arn,
            "KeyPairSpec": spec,
            "KeyMaterialId": key.materials[-1]["id"],
        }

    def generate_data_key_pair_without_plaintext(self, ctx: RequestContext, req: Json) -> Json:
        out = self.generate_data_key_pair(ctx, req)
        out.pop("PrivateKeyPlaintext")
        return out

    def generate_random(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("CustomKeyStoreId"):
            raise errors.CustomKeyStoreNotFoundException(
                f"Custom key store {req['CustomKeyStoreId']} does not exist."
            )
        size = req.get("NumberOfBytes")
        if not size:
            raise errors.ValidationException("NumberOfBytes is required.")
        return {"Plaintext": os.urandom(size)}

    # -- signatures, public keys, MACs, key agreement ----------------------------------------

    def _signing(self, ctx: RequestContext, req: Json, operation: str) -> tuple[Key, bool]:
        key = self._key(ctx, req["KeyId"])
        self._usable(key)
        self._usage(key, "SIGN_VERIFY", operation)
        algorithm = req["SigningAlgorithm"]
        if algorithm not in key.meta.get("SigningAlgorithms", []):
            raise errors.InvalidKeyUsageException(
                f"Algorithm {algorithm} is incompatible with key spec {key.spec}."
            )
        kind = req.get("MessageType") or "RAW"
        digest = kind == "DIGEST"
        if kind == "EXTERNAL_MU":
            raise errors.ValidationException("EXTERNAL_MU is valid only for ML-DSA keys.")
        if algorithm == "ED25519_SHA_512" and digest:
            raise errors.ValidationException(
                "ED25519_SHA_512 signs RAW messages only: use ED25519_PH_SHA_512 for digests."
            )
        if algorithm == "ED25519_PH_SHA_512" and not digest:
            raise errors.ValidationException("ED25519_PH_SHA_512 signs DIGEST messages only.")
        if (
            digest
            and not algorithm.startswith("ED25519")
            and len(bytes(req["Message"])) != crypto.digest_size(algorithm)
        ):
            raise errors.ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
        return key, digest

    def sign(self, ctx: RequestContext, req: Json) -> Json:
        key, digest = self._signing(ctx, req, "Sign")
        algorithm = req["SigningAlgorithm"]
        signature = crypto.sign(key.material(), algorithm, bytes(req["Message"]), digest)
        return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": algorithm}

    def verify(self, ctx: RequestContext, req: Json) -> Json:
        key, digest = self._signing(ctx, req, "Verify")
        algorithm = req["SigningAlgorithm"]
        if not crypto.verify(
            key.material(), algorithm, bytes(req["Message"]), bytes(req["Signature"]), digest
        ):
            raise errors.KMSInvalidSignatureException("")
        return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}

    def get_public_key(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._usable(key)
        if key.spec == "SYMMETRIC_DEFAULT" or key.spec in crypto.HMAC_BYTES:
            raise errors.UnsupportedOperationException(
                f"{key.arn} key usage is {key.meta['KeyUsage']} which is not valid for "
                "GetPublicKey."
            )
        out: Json = {
            "KeyId": key.arn,
            "PublicKey": crypto.public_der(key.material()),
            "CustomerMasterKeySpec": key.spec,
            "KeySpec": key.spec,
            "KeyUsage": key.meta["KeyUsage"],
        }
        for field in ("EncryptionAlgorithms", "SigningAlgorithms", "KeyAgreementAlgorithms"):
            if field in key.meta:
                out[field] = key.meta[field]
        return out

    def _mac_key(self, ctx: RequestContext, req: Json, operation: str) -> Key:
        key = self._key(ctx, req["KeyId"])
        self._usable(key)
        self._usage(key, "GENERATE_VERIFY_MAC", operation)
        if req["MacAlgorithm"] not in key.meta.get("MacAlgorithms", []):
            raise errors.InvalidKeyUsageException(
                f"Algorithm {req['MacAlgorithm']} is incompatible with key spec {key.spec}."
            )
        return key

    def generate_mac(self, ctx: RequestContext, req: Json) -> Json:
        key = self._mac_key(ctx, req, "GenerateMac")
        tag = crypto.mac(key.material(), req["MacAlgorithm"], bytes(req["Message"]))
        return {"Mac": tag, "MacAlgorithm": req["MacAlgorithm"], "KeyId": key.arn}

    def verify_mac(self, ctx: RequestContext, req: Json) -> Json:
        key = self._mac_key(ctx, req, "VerifyMac")
        tag = crypto.mac(key.material(), req["MacAlgorithm"], bytes(req["Message"]))
        if not hashlib.sha256(tag).digest() == hashlib.sha256(bytes(req["Mac"])).digest():
            raise errors.KMSInvalidMacException("")
        return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": req["MacAlgorithm"]}

    def derive_shared_secret(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._usable(key)
        self._usage(key, "KEY_AGREEMENT", "DeriveSharedSecret")
        if req["KeyAgreementAlgorithm"] != "ECDH":
            raise errors.InvalidKeyUsageException(
                f"Algorithm {req['KeyAgreementAlgorithm']} is incompatible with key spec "
                f"{key.spec}."
            )
        try:
            secret = crypto.derive_shared_secret(key.material(), bytes(req["PublicKey"]))
        except crypto.CryptoError:
            raise errors.ValidationException(
                "PublicKey must be a DER-encoded X.509 public key on the key's curve."
            ) from None
        return {
            "KeyId": key.arn,
            "SharedSecret": secret,
            "KeyAgreementAlgorithm": "ECDH",
            "KeyOrigin": key.meta["Origin"],
        }

    # -- tags --------------------------------------------------------------------------------

    def _set_tags(self, key_arn: str, tags: list[Json]) -> None:
        self.env.tags.add(key_arn, from_list(tags, "TagKey", "TagValue"), errors.TagException)

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "TagResource")
        if key.meta["KeyState"] == "PendingDeletion":
            raise errors.KMSInvalidStateException(f"{key.arn} is pending deletion.")
        self._set_tags(key.arn, req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        self._customer_managed(key, "UntagResource")
        self.env.tags.remove(key.arn, req["TagKeys"])
        return {}

    def list_resource_tags(self, ctx: RequestContext, req: Json) -> Json:
        key = self._key(ctx, req["KeyId"])
        tags = sorted(self.env.tags.get(key.arn).items())
        page, marker = self._page(tags, req, lambda t: t[0], default=50)
        return _listing(
            "Tags",
            [{"TagKey": k, "TagValue": v} for k, v in page],
            marker,
        )


def _listing(member: str, items: list[Any], marker: str | None) -> Json:
    """A list operation's answer: the page, Truncated, and NextMarker when there is more."""
    out: Json = {member: items, "Truncated": marker is not None}
    if marker:
        out["NextMarker"] = marker
    return out
