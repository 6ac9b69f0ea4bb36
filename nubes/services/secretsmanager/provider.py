"""AWS Secrets Manager: secrets with string or binary values in versions carrying staging
labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING), each value sealed under a KMS data key
(``alias/aws/secretsmanager`` unless a key is named), rotation by a Lambda function through its
four steps on RotateSecret and on its schedule (the one clock), resource policies, deletion with
a recovery window on the clock and restore, replication to other Regions, tags,
GetRandomPassword and BatchGetSecretValue."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets as random_source
import string
import uuid
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nubes.core import accounts, clock, ids
from nubes.core.arns import arn, parse_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list, to_list
from nubes.protocol.base import HttpRequest, ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.events import schedules
from nubes.services.secretsmanager.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE sm_secrets (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        deletes_at REAL,
        rotates_at REAL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE INDEX sm_secrets_arn ON sm_secrets (arn);
    CREATE INDEX sm_secrets_deletes ON sm_secrets (deletes_at);
    CREATE INDEX sm_secrets_rotates ON sm_secrets (rotates_at);
    CREATE TABLE sm_versions (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        version_id TEXT NOT NULL,
        created REAL NOT NULL,
        stages TEXT NOT NULL,
        sealed TEXT NOT NULL,
        PRIMARY KEY (account, region, name, version_id)
    ) WITHOUT ROWID;
    """,
)

CURRENT, PREVIOUS, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"
DEFAULT_KEY = "alias/aws/secretsmanager"
MAX_VALUE = 65_536
MAX_DEPRECATED = 100
# The characters a secret's name may hold: the model's /_+=.@- and the "!" that AWS's error
# message lists and its own services use (RDS names managed secrets rds!db-...).
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@!-]+")
DAY = 86_400.0
TICK = 60.0
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
NOT_FOUND = "Secrets Manager can't find the specified secret."
DELETED = "You can't perform this operation on the secret because it was marked for deletion."
REPLICA = (
    "Operation not permitted on a replica secret. Call must be made in primary secret's region."
)
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


class SecretsManagerProvider(ServiceProvider):
    service = "secretsmanager"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self._rotations: set[asyncio.Task[None]] = set()

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(
            env,
            "SELECT 1 FROM sm_secrets WHERE rotates_at IS NOT NULL OR deletes_at IS NOT NULL "
            "LIMIT 1",
        )

    async def start(self) -> None:
        self.env.scheduler.every("secretsmanager", TICK, self._tick)
        self.env.scheduler.on_advance(self._on_advance)

    async def stop(self) -> None:
        for task in list(self._rotations):
            task.cancel()

    def _on_advance(self) -> None:
        with self.store.transaction():
            self._tick()

    def _tick(self) -> None:
        """Deletions whose recovery window ended, and rotations their schedule made due."""
        now = clock.now()
        for row in self.store.query("SELECT * FROM sm_secrets WHERE deletes_at <= ?", (now,)):
            self._forget(row)
        for row in self.store.query("SELECT * FROM sm_secrets WHERE rotates_at <= ?", (now,)):
            doc = json.loads(row["doc"])
            doc["NextRotationDate"] = self._next_rotation(doc, now)
            self._save(row["account"], row["region"], row["name"], row["arn"], doc)
            if any(PENDING in s and CURRENT not in s for s in self._stages(row).values()):
                continue  # a rotation still under way: the schedule does not start another
            self._rotate_later(row["account"], row["region"], row["arn"], str(uuid.uuid4()))

    # -- rows --------------------------------------------------------------------------------

    def _save(self, account: str, region: str, name: str, secret_arn: str, doc: Json) -> None:
        self.store.execute(
            "INSERT INTO sm_secrets (account, region, name, arn, deletes_at, rotates_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET "
            "arn = excluded.arn, deletes_at = excluded.deletes_at, rotates_at = "
            "excluded.rotates_at, doc = excluded.doc",
            (
                account,
                region,
                name,
                secret_arn,
                doc.get("DeletedDate") and doc.get("_DeletesAt"),
                doc.get("NextRotationDate") if doc.get("RotationEnabled") else None,
                json.dumps(doc),
            ),
        )

    def _forget(self, row: Row) -> None:
        scope = (row["account"], row["region"], row["name"])
        self.store.execute(
            "DELETE FROM sm_secrets WHERE account = ? AND region = ? AND name = ?", scope
        )
        self.store.execute(
            "DELETE FROM sm_versions WHERE account = ? AND region = ? AND name = ?", scope
        )
        self.env.tags.drop(row["arn"])

    def _find(self, account: str, region: str, secret_id: str) -> Row | None:
        if secret_id.startswith("arn:"):
            row = self.store.query_one("SELECT * FROM sm_secrets WHERE arn = ?", (secret_id,))
            if row is not None:
                return row
            try:
                found = parse_arn(secret_id)
            except ValueError:
                return None
            # A partial ARN (without the six random characters) names the secret too.
            name = found.resource.removeprefix("secret:")
            return self.store.query_one(
                "SELECT * FROM sm_secrets WHERE account = ? AND region = ? AND name = ?",
                (found.account, found.region, name),
            )
        return self.store.query_one(
            "SELECT * FROM sm_secrets WHERE account = ? AND region = ? AND name = ?",
            (account, region, secret_id),
        )

    def _secret(self, ctx: RequestContext, secret_id: str, *, deleted_ok: bool = False) -> Row:
        row = self._find(ctx.account_id, ctx.region, secret_id)
        if row is None:
            raise errors.ResourceNotFoundException(NOT_FOUND)
        if not deleted_ok and json.loads(row["doc"]).get("DeletedDate"):
            raise errors.InvalidRequestException(DELETED)
        return row

    @staticmethod
    def _primary_only(row: Row) -> None:
        doc = json.loads(row["doc"])
        if doc.get("PrimaryRegion") and doc["PrimaryRegion"] != row["region"]:
            raise errors.InvalidRequestException(REPLICA)

    def _versions(self, row: Row) -> list[Row]:
        return self.store.query(
            "SELECT * FROM sm_versions WHERE account = ? AND region = ? AND name = ? "
            "ORDER BY created, version_id",
            (row["account"], row["region"], row["name"]),
        )

    def _stages(self, row: Row) -> dict[str, list[str]]:
        return {v["version_id"]: json.loads(v["stages"]) for v in self._versions(row)}

    def _set_stages(self, row: Row, version_id: str, stages: list[str]) -> None:
        self.store.execute(
            "UPDATE sm_versions SET stages = ? WHERE account = ? AND region = ? AND name = ? "
            "AND version_id = ?",
            (json.dumps(stages), row["account"], row["region"], row["name"], version_id),
        )

    # -- sealing values under KMS ------------------------------------------------------------

    def _kms(self, account: str, region: str, operation: str, params: Json) -> Json:
        try:
            out: Json = self.env.providers.invoke("kms", operation, params, account, region)
        except ServiceError as exc:
            failure = (
                errors.EncryptionFailure if operation != "Decrypt" else errors.DecryptionFailure
            )
            raise failure(f"{exc.code}: {exc}") from None
        return out

    def _seal(self, row_arn: str, account: str, region: str, key: str, value: Json) -> str:
        """AES-256-GCM under a fresh data key from KMS, the data key kept sealed beside it."""
        context = {"SecretARN": row_arn}
        data_key = self._kms(
            account,
            region,
            "GenerateDataKey",
            {"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": context},
        )
        nonce = os.urandom(12)
        body = AESGCM(bytes(data_key["Plaintext"])).encrypt(
            nonce, json.dumps(value).encode(), row_arn.encode()
        )
        return json.dumps(
            {
                "key": base64.b64encode(data_key["CiphertextBlob"]).decode(),
                "nonce": base64.b64encode(nonce).decode(),
                "body": base64.b64encode(body).decode(),
            }
        )

    def _unseal(self, row: Row, sealed: str) -> Json:
        parts = json.loads(sealed)
        data_key = self._kms(
            row["account"],
            row["region"],
            "Decrypt",
            {
                "CiphertextBlob": base64.b64decode(parts["key"]),
                "EncryptionContext": {"SecretARN": row["arn"]},
            },
        )
        try:
            plain = AESGCM(bytes(data_key["Plaintext"])).decrypt(
                base64.b64decode(parts["nonce"]),
                base64.b64decode(parts["body"]),
                row["arn"].encode(),
            )
        except InvalidTag:
            raise errors.DecryptionFailure("The secret value could not be decrypted.") from None
        value: Json = json.loads(plain)
        return value

    @staticmethod
    def _value(req: Json) -> Json | None:
        has_string = req.get("SecretString") is not None
        has_binary = req.get("SecretBinary") is not None
        if has_string and has_binary:
            raise errors.InvalidParameterException(
                "You can't specify both a binary secret value and a string secret value in the "
                "same secret."
            )
        if has_string:
            if len(req["SecretString"].encode()) > MAX_VALUE:
                raise errors.InvalidParameterException(
                    "SecretString must be no more than 65536 bytes."
                )
            return {"SecretString": req["SecretString"]}
        if has_binary:
            binary = bytes(req["SecretBinary"])
            if len(binary) > MAX_VALUE:
                raise errors.InvalidParameterException(
                    "SecretBinary must be no more than 65536 bytes."
                )
            return {"SecretBinary": base64.b64encode(binary).decode()}
        return None

    def _add_version(
        self, row: Row, version_id: str, value: Json, stages: list[str] | None
    ) -> list[str]:
        """A new version holding ``value``; the labels it takes leave other versions (and
        AWSCURRENT moving leaves AWSPREVIOUS on the version it left)."""
        doc = json.loads(row["doc"])
        existing = self.store.query_one(
            "SELECT * FROM sm_versions WHERE account = ? AND region = ? AND name = ? AND "
            "version_id = ?",
            (row["account"], row["region"], row["name"], version_id),
        )
        if existing is not None:
            if self._unseal(row, existing["sealed"]) != value:
                raise errors.ResourceExistsException(
                    "You can't modify an existing version, you can only create a new version."
                )
            return list(json.loads(existing["stages"]))
        stages = list(stages) if stages is not None else [CURRENT]
        if len(stages) > 20:
            raise errors.LimitExceededException("A version can have at most 20 staging labels.")
        key = doc.get("KmsKeyId") or DEFAULT_KEY
        sealed = self._seal(row["arn"], row["account"], row["region"], key, value)
        for other, labels in self._stages(row).items():
            kept = [s for s in labels if s not in stages]
            if CURRENT in stages and CURRENT in labels:
                kept = [s for s in kept if s != PREVIOUS] + [PREVIOUS]
            elif CURRENT in stages:
                kept = [s for s in kept if s != PREVIOUS]
            if kept != labels:
                self._set_stages(row, other, kept)
        self.store.execute(
            "INSERT INTO sm_versions (account, region, name, version_id, created, stages, "
            "sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row["account"],
                row["region"],
                row["name"],
                version_id,
                clock.now(),
                json.dumps(stages),
                sealed,
            ),
        )
        self._prune(row)
        doc["LastChangedDate"] = clock.now()
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return stages

    def _prune(self, row: Row) -> None:
        """Versions without labels are deprecated; AWS keeps at most 100 of them."""
        deprecated = [v for v in self._versions(row) if not json.loads(v["stages"])]
        for version in deprecated[: max(0, len(deprecated) - MAX_DEPRECATED)]:
            self.store.execute(
                "DELETE FROM sm_versions WHERE account = ? AND region = ? AND name = ? AND "
                "version_id = ?",
                (row["account"], row["region"], row["name"], version["version_id"]),
            )

    def _reload(self, row: Row) -> Row:
        fresh = self._find(row["account"], row["region"], row["name"])
        assert fresh is not None
        return fresh

    # -- create, put, get --------------------------------------------------------------------

    def create_secret(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        if not SECRET_NAME.fullmatch(name):
            raise errors.ValidationException(
                "Invalid name. Must be a valid name containing alphanumeric characters, or any "
                "of the following: -/_+=.@!"
            )
        existing = self._find(ctx.account_id, ctx.region, name)
        value = self._value(req)
        if existing is not None:
            if json.loads(existing["doc"]).get("DeletedDate"):
                raise errors.InvalidRequestException(
                    "You can't create this secret because a secret with this name is already "
                    "scheduled for deletion."
                )
            raise errors.ResourceExistsException(
                f"The operation failed because the secret {name} already exists."
            )
        suffix = "".join(
            random_source.choice(string.ascii_letters + string.digits) for _ in range(6)
        )
        secret_arn = arn("secretsmanager", ctx.region, ctx.account_id, f"secret:{name}-{suffix}")
        now = clock.now()
        doc: Json = {"Name": name, "CreatedDate": now, "LastChangedDate": now}
        if req.get("Description") is not None:
            doc["Description"] = req["Description"]
        if req.get("KmsKeyId"):
            doc["KmsKeyId"] = self._key_arn(ctx.account_id, ctx.region, req["KmsKeyId"])
        if req.get("Tags"):
            self._set_tags(secret_arn, req["Tags"])
        self._save(ctx.account_id, ctx.region, name, secret_arn, doc)
        row = self._find(ctx.account_id, ctx.region, name)
        assert row is not None
        out: Json = {"ARN": secret_arn, "Name": name}
        if value is not None:
            version_id = req.get("ClientRequestToken") or str(uuid.uuid4())
            self._add_version(row, version_id, value, None)
            out["VersionId"] = version_id
        if req.get("AddReplicaRegions"):
            out["ReplicationStatus"] = self._replicate(
                self._reload(row),
                req["AddReplicaRegions"],
                bool(req.get("ForceOverwriteReplicaSecret")),
            )
        return out

    def _key_arn(self, account: str, region: str, key: str) -> str:
        """The ARN of the key ``key`` names (checked to exist, as AWS checks)."""
        meta = self._kms(account, region, "DescribeKey", {"KeyId": key})["KeyMetadata"]
        return str(meta["Arn"])

    def put_secret_value(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        value = self._value(req)
        if value is None:
            raise errors.InvalidRequestException(
                "You must provide either SecretString or SecretBinary."
            )
        version_id = req.get("ClientRequestToken") or str(uuid.uuid4())
        stages = self._add_version(row, version_id, value, req.get("VersionStages"))
        self._sync_replicas(self._reload(row))
        return {
            "ARN": row["arn"],
            "Name": row["name"],
            "VersionId": version_id,
            "VersionStages": stages,
        }

    def _version_for(self, row: Row, version_id: str | None, stage: str | None) -> Row:
        for version in self._versions(row):
            if version_id is not None and version["version_id"] != version_id:
                continue
            if stage is not None and stage not in json.loads(version["stages"]):
                continue
            if (
                version_id is None
                and stage is None
                and CURRENT not in json.loads(version["stages"])
            ):
                continue
            return version
        if version_id is not None:
            raise errors.ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"
            )
        raise errors.ResourceNotFoundException(
            "Secrets Manager can't find the specified secret value for staging label: "
            f"{stage or CURRENT}"
        )

    def _value_out(self, row: Row, version: Row) -> Json:
        value = self._unseal(row, version["sealed"])
        out: Json = {
            "ARN": row["arn"],
            "Name": row["name"],
            "VersionId": version["version_id"],
            "VersionStages": json.loads(version["stages"]),
            "CreatedDate": version["created"],
        }
        if "SecretString" in value:
            out["SecretString"] = value["SecretString"]
        else:
            out["SecretBinary"] = base64.b64decode(value["SecretBinary"])
        return out

    def _touch(self, row: Row) -> None:
        doc = json.loads(row["doc"])
        # AWS records the date of last access only, not the time.
        doc["LastAccessedDate"] = float(int(clock.now() // DAY) * DAY)
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)

    def _may_decrypt(self, ctx: RequestContext, row: Row) -> None:
        """Under IAM enforcement, reading a secret under a customer key needs kms:Decrypt on
        that key, as the caller (the AWS managed key lets Secrets Manager decrypt for its
        callers)."""
        key = json.loads(row["doc"]).get("KmsKeyId")
        if not key:
            return
        from nubes.gateway.enforce import running_enforcer

        enforcer = running_enforcer(self.env)
        if enforcer is None:
            return
        try:
            enforcer.authorize_also(ctx, "kms", "Decrypt", {"KeyId": key})
        except ServiceError as exc:
            raise errors.AccessDeniedException(str(exc)) from None

    def get_secret_value(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._may_decrypt(ctx, row)
        version = self._version_for(row, req.get("VersionId"), req.get("VersionStage"))
        self._touch(row)
        return self._value_out(row, version)

    def batch_get_secret_value(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("SecretIdList") and req.get("Filters"):
            raise errors.InvalidParameterException(
                "Either 'SecretIdList' or 'Filters' must be provided, but not both."
            )
        values: list[Json] = []
        failures: list[Json] = []
        token: str | None = None
        if req.get("SecretIdList"):
            for secret_id in req["SecretIdList"]:
                try:
                    row = self._secret(ctx, secret_id)
                    self._may_decrypt(ctx, row)
                    values.append(self._value_out(row, self._version_for(row, None, None)))
                    self._touch(row)
                except ServiceError as exc:
                    failures.append(
                        {"SecretId": secret_id, "ErrorCode": exc.code, "Message": str(exc)}
                    )
        else:
            rows = self._listed(ctx, req.get("Filters") or [], False)
            page, token = self._page(rows, req, 20)
            for row in page:
                try:
                    self._may_decrypt(ctx, row)
                    values.append(self._value_out(row, self._version_for(row, None, None)))
                    self._touch(row)
                except ServiceError as exc:
                    failures.append(
                        {"SecretId": row["arn"], "ErrorCode": exc.code, "Message": str(exc)}
                    )
        out: Json = {"SecretValues": values, "Errors": failures}
        if token:
            out["NextToken"] = token
        return out

    # -- describe and list -------------------------------------------------------------------

    def _description(self, row: Row) -> Json:
        doc = json.loads(row["doc"])
        out: Json = {k: v for k, v in doc.items() if not k.startswith("_") and v is not None}
        out["ARN"] = row["arn"]
        out.setdefault("RotationEnabled", False)
        if not out["RotationEnabled"]:
            out.pop("NextRotationDate", None)
        tags = self.env.tags.get(row["arn"])
        if tags:
            out["Tags"] = to_list(tags)
        if doc.get("PrimaryRegion") == row["region"]:
            out["ReplicationStatus"] = [
                self._replica_status(row["account"], r, row["name"])
                for r in doc.get("_Replicas", [])
            ]
        return out

    def describe_secret(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"], deleted_ok=True)
        out = self._description(row)
        out["VersionIdsToStages"] = {k: v for k, v in self._stages(row).items() if v}
        return out

    def _listed(self, ctx: RequestContext, filters: list[Json], deleted: bool) -> list[Row]:
        rows = self.store.query(
            "SELECT * FROM sm_secrets WHERE account = ? AND region = ? ORDER BY name",
            (ctx.account_id, ctx.region),
        )
        return [
            r
            for r in rows
            if (deleted or not json.loads(r["doc"]).get("DeletedDate"))
            and all(self._filter_matches(r, f) for f in filters)
        ]

    def _filter_matches(self, row: Row, flt: Json) -> bool:
        doc = json.loads(row["doc"])
        tags = self.env.tags.get(row["arn"])
        fields = {
            "name": [row["name"]],
            "description": [doc.get("Description") or ""],
            "tag-key": list(tags),
            "tag-value": list(tags.values()),
            "primary-region": [doc.get("PrimaryRegion") or ""],
            "owning-service": [doc.get("OwningService") or ""],
        }
        fields["all"] = [v for values in fields.values() for v in values]
        candidates = fields[flt["Key"]]
        for value in flt.get("Values") or []:
            negate = value.startswith("!")
            word = value[1:] if negate else value
            hit = any(c.lower().startswith(word.lower()) for c in candidates)
            if hit == negate:
                return False
        return True

    def _page(self, rows: list[Row], req: Json, default: int = 100) -> tuple[list[Row], str | None]:
        try:
            return paginate(
                rows, req.get("MaxResults") or default, req.get("NextToken"), lambda r: r["name"]
            )
        except (InvalidToken, TypeError):
            raise errors.InvalidNextTokenException("The NextToken value isn't valid.") from None

    def list_secrets(self, ctx: RequestContext, req: Json) -> Json:
        rows = self._listed(ctx, req.get("Filters") or [], bool(req.get("IncludePlannedDeletion")))
        if req.get("SortOrder") == "desc":
            rows.reverse()
            page, token = self._page_desc(rows, req)
        else:
            page, token = self._page(rows, req)
        entries = []
        for row in page:
            entry = self._description(row)
            entry["SecretVersionsToStages"] = {k: v for k, v in self._stages(row).items() if v}
            entry.pop("ReplicationStatus", None)
            entries.append(entry)
        out: Json = {"SecretList": entries}
        if token:
            out["NextToken"] = token
        return out

    def _page_desc(self, rows: list[Row], req: Json) -> tuple[list[Row], str | None]:
        try:
            return paginate(
                rows,
                req.get("MaxResults") or 100,
                req.get("NextToken"),
                lambda r: [-ord(c) for c in r["name"]],
            )
        except (InvalidToken, TypeError):
            raise errors.InvalidNextTokenException("The NextToken value isn't valid.") from None

    def list_secret_version_ids(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"], deleted_ok=True)
        doc = json.loads(row["doc"])
        versions = [
            v
            for v in self._versions(row)
            if req.get("IncludeDeprecated") or json.loads(v["stages"])
        ]
        try:
            page, token = paginate(
                versions,
                req.get("MaxResults") or 100,
                req.get("NextToken"),
                lambda v: [v["created"], v["version_id"]],
            )
        except (InvalidToken, TypeError):
            raise errors.InvalidNextTokenException("The NextToken value isn't valid.") from None
        key = doc.get("KmsKeyId") or "DefaultEncryptionKey"
        out: Json = {
            "Versions": [
                {
                    "VersionId": v["version_id"],
                    "VersionStages": json.loads(v["stages"]),
                    "CreatedDate": v["created"],
                    "KmsKeyIds": [key],
                }
                for v in page
            ],
            "ARN": row["arn"],
            "Name": row["name"],
        }
        if token:
            out["NextToken"] = token
        return out

    # -- update ------------------------------------------------------------------------------

    def update_secret(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        doc = json.loads(row["doc"])
        if req.get("Description") is not None:
            doc["Description"] = req["Description"]
        if req.get("KmsKeyId"):
            doc["KmsKeyId"] = self._key_arn(row["account"], row["region"], req["KmsKeyId"])
        doc["LastChangedDate"] = clock.now()
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        out: Json = {"ARN": row["arn"], "Name": row["name"]}
        value = self._value(req)
        if value is not None:
            version_id = req.get("ClientRequestToken") or str(uuid.uuid4())
            self._add_version(self._reload(row), version_id, value, None)
            out["VersionId"] = version_id
        self._sync_replicas(self._reload(row))
        return out

    def update_secret_version_stage(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        stage = req["VersionStage"]
        stages = self._stages(row)
        holder = next((v for v, labels in stages.items() if stage in labels), None)
        move_to, remove_from = req.get("MoveToVersionId"), req.get("RemoveFromVersionId")
        for version_id in (move_to, remove_from):
            if version_id is not None and version_id not in stages:
                raise errors.ResourceNotFoundException(
                    f"Secrets Manager can't find the specified secret value for VersionId: "
                    f"{version_id}"
                )
        if remove_from is not None and holder != remove_from:
            raise errors.InvalidParameterException(
                f"The staging label {stage} is currently attached to version {holder}, not "
                f"{remove_from}."
                if holder
                else f"The staging label {stage} is not attached to version {remove_from}."
            )
        if move_to is not None and holder not in (None, move_to) and remove_from is None:
            raise errors.InvalidParameterException(
                f"The staging label {stage} is currently attached to version {holder}. You must "
                "specify the version it's moving from with RemoveFromVersionId."
            )
        if holder is not None and holder != move_to:
            kept = [s for s in stages[holder] if s != stage]
            if stage == CURRENT and move_to is not None:
                for other, labels in stages.items():
                    if PREVIOUS in labels and other != holder:
                        self._set_stages(row, other, [s for s in labels if s != PREVIOUS])
                kept = [s for s in kept if s != PREVIOUS] + [PREVIOUS]
            self._set_stages(row, holder, kept)
        if move_to is not None and holder != move_to:
            labels = self._stages(row)[move_to]
            if stage == CURRENT:
                labels = [s for s in labels if s != PREVIOUS]
            self._set_stages(row, move_to, [*labels, stage])
        self._prune(row)
        if stage == CURRENT and move_to is not None:
            doc = json.loads(row["doc"])
            doc["LastChangedDate"] = clock.now()
            self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        self._sync_replicas(self._reload(row))
        return {"ARN": row["arn"], "Name": row["name"]}

    # -- delete and restore ------------------------------------------------------------------

    def delete_secret(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"], deleted_ok=True)
        self._primary_only(row)
        doc = json.loads(row["doc"])
        force = bool(req.get("ForceDeleteWithoutRecovery"))
        window = req.get("RecoveryWindowInDays")
        if force and window is not None:
            raise errors.InvalidParameterException(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        if doc.get("_Replicas"):
            raise errors.InvalidRequestException(
                "You can't delete secret that has replicas. Remove the replica regions first."
            )
        now = clock.now()
        if force:
            self._forget(row)
            return {"ARN": row["arn"], "Name": row["name"], "DeletionDate": now}
        if doc.get("DeletedDate"):
            raise errors.InvalidRequestException(DELETED)
        window = 30 if window is None else window
        if not 7 <= window <= 30:
            raise errors.InvalidParameterException(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            )
        doc["DeletedDate"] = now
        doc["_DeletesAt"] = now + window * DAY
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return {"ARN": row["arn"], "Name": row["name"], "DeletionDate": doc["_DeletesAt"]}

    def restore_secret(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"], deleted_ok=True)
        doc = json.loads(row["doc"])
        doc.pop("DeletedDate", None)
        doc.pop("_DeletesAt", None)
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return {"ARN": row["arn"], "Name": row["name"]}

    # -- tags --------------------------------------------------------------------------------

    def _set_tags(self, secret_arn: str, tags: list[Json]) -> None:
        self.env.tags.add(secret_arn, from_list(tags), errors.InvalidParameterException)

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._set_tags(row["arn"], req["Tags"])
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self.env.tags.remove(row["arn"], req["TagKeys"])
        return {}

    # -- resource policies -------------------------------------------------------------------

    @staticmethod
    def _check_policy(text: str) -> None:
        try:
            parsed = json.loads(text)
        except ValueError:
            raise errors.MalformedPolicyDocumentException(
                "This resource policy contains a syntax error."
            ) from None
        if not isinstance(parsed, dict) or "Statement" not in parsed:
            raise errors.MalformedPolicyDocumentException(
                "This resource policy contains an unsupported statement."
            )

    def _public(self, text: str) -> bool:
        statements = json.loads(text)["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            principal = statement.get("Principal")
            if (
                statement.get("Effect") == "Allow"
                and not statement.get("Condition")
                and (
                    principal == "*"
                    or (isinstance(principal, dict) and principal.get("AWS") == "*")
                )
            ):
                return True
        return False

    def put_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        self._check_policy(req["ResourcePolicy"])
        if req.get("BlockPublicPolicy") and self._public(req["ResourcePolicy"]):
            raise errors.PublicPolicyException(
                "This resource policy will grant public access to the secret."
            )
        doc = json.loads(row["doc"])
        doc["_Policy"] = req["ResourcePolicy"]
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return {"ARN": row["arn"], "Name": row["name"]}

    def get_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"], deleted_ok=True)
        out: Json = {"ARN": row["arn"], "Name": row["name"]}
        policy = json.loads(row["doc"]).get("_Policy")
        if policy:
            out["ResourcePolicy"] = policy
        return out

    def delete_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        doc = json.loads(row["doc"])
        doc.pop("_Policy", None)
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return {"ARN": row["arn"], "Name": row["name"]}

    def validate_resource_policy(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("SecretId"):
            self._secret(ctx, req["SecretId"])
        try:
            self._check_policy(req["ResourcePolicy"])
        except ServiceError as exc:
            return {
                "PolicyValidationPassed": False,
                "ValidationErrors": [{"CheckName": "SYNTAX_CHECK", "ErrorMessage": str(exc)}],
            }
        return {"PolicyValidationPassed": True, "ValidationErrors": []}

    def enforcement_policy(self, ctx: RequestContext, reference: str) -> tuple[str, str | None]:
        """What enforcement weighs for a request on the secret ``reference`` (its ARN, or its
        name as a partial ARN): the secret's full ARN and its resource policy (an empty one when
        it has none, so the full ARN still stands for the name)."""
        row = self._find(ctx.account_id, ctx.region, reference)
        if row is None:
            return reference, None
        policy = json.loads(row["doc"]).get("_Policy")
        return row["arn"], policy or json.dumps({"Version": "2012-10-17", "Statement": []})

    # -- random passwords --------------------------------------------------------------------

    def get_random_password(self, ctx: RequestContext, req: Json) -> Json:
        length = req.get("PasswordLength") or 32
        exclude = set(req.get("ExcludeCharacters") or "")
        groups = []
        if not req.get("ExcludeLowercase"):
            groups.append(string.ascii_lowercase)
        if not req.get("ExcludeUppercase"):
            groups.append(string.ascii_uppercase)
        if not req.get("ExcludeNumbers"):
            groups.append(string.digits)
        if not req.get("ExcludePunctuation"):
            groups.append(PUNCTUATION)
        if req.get("IncludeSpace"):
            groups.append(" ")
        groups = ["".join(c for c in g if c not in exclude) for g in groups]
        groups = [g for g in groups if g]
        if not groups:
            raise errors.InvalidParameterException(
                "The password can't be generated: every character type is excluded."
            )
        require = req.get("RequireEachIncludedType", True)
        if require and length < len(groups):
            raise errors.InvalidParameterException(
                "The password length is too short to include each included character type."
            )
        alphabet = "".join(groups)
        while True:
            password = "".join(random_source.choice(alphabet) for _ in range(length))
            if not require or all(any(c in g for c in password) for g in groups):
                return {"RandomPassword": password}

    # -- rotation ----------------------------------------------------------------------------

    @staticmethod
    def _next_rotation(doc: Json, after: float) -> float | None:
        rules = doc.get("RotationRules") or {}
        if rules.get("ScheduleExpression"):
            schedule = schedules.parse(rules["ScheduleExpression"])
            if isinstance(schedule, schedules.Rate):
                return schedule.next_after(after, after)
            found = schedule.next_after(after)
            return found
        days = rules.get("AutomaticallyAfterDays")
        return after + days * DAY if days else None

    def rotate_secret(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        doc = json.loads(row["doc"])
        if req.get("RotationLambdaARN"):
            doc["RotationLambdaARN"] = req["RotationLambdaARN"]
        if not doc.get("RotationLambdaARN"):
            raise errors.InvalidRequestException(
                "No Lambda rotation function ARN is associated with this secret."
            )
        rules = req.get("RotationRules")
        if rules:
            if rules.get("AutomaticallyAfterDays") and rules.get("ScheduleExpression"):
                raise errors.InvalidParameterException(
                    "You can't specify both AutomaticallyAfterDays and ScheduleExpression."
                )
            if rules.get("ScheduleExpression"):
                try:
                    schedules.parse(rules["ScheduleExpression"])
                except schedules.ScheduleError:
                    raise errors.InvalidParameterException(
                        f"Invalid ScheduleExpression: {rules['ScheduleExpression']}"
                    ) from None
            days = rules.get("AutomaticallyAfterDays")
            if days is not None and not 1 <= days <= 1000:
                raise errors.InvalidParameterException(
                    "AutomaticallyAfterDays must be between 1 and 1000."
                )
            doc["RotationRules"] = rules
        pending = [v for v, labels in self._stages(row).items() if PENDING in labels]
        token = req.get("ClientRequestToken") or str(uuid.uuid4())
        immediately = req.get("RotateImmediately", True)
        if (
            immediately
            and pending
            and pending[0] != token
            and (CURRENT not in self._stages(row)[pending[0]])
        ):
            raise errors.InvalidRequestException(
                "A previous rotation isn't complete. That rotation will be reattempted."
            )
        doc["RotationEnabled"] = True
        doc["NextRotationDate"] = self._next_rotation(doc, clock.now())
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        out: Json = {"ARN": row["arn"], "Name": row["name"]}
        if immediately:
            self._rotate_later(row["account"], row["region"], row["arn"], token)
            out["VersionId"] = token
        return out

    def cancel_rotate_secret(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        doc = json.loads(row["doc"])
        doc["RotationEnabled"] = False
        doc.pop("NextRotationDate", None)
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        out: Json = {"ARN": row["arn"], "Name": row["name"]}
        for version_id, labels in self._stages(row).items():
            if PENDING in labels:
                self._set_stages(row, version_id, [s for s in labels if s != PENDING])
                out["VersionId"] = version_id
        return out

    def _rotate_later(self, account: str, region: str, secret_arn: str, token: str) -> None:
        """Run the rotation function's four steps once this request has committed."""
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            task = loop.create_task(self._rotate(account, region, secret_arn, token))
            self._rotations.add(task)
            task.add_done_callback(self._rotations.discard)

    async def _rotate(self, account: str, region: str, secret_arn: str, token: str) -> None:
        await asyncio.sleep(0)
        with self.store.transaction():
            row = self._find(account, region, secret_arn)
            if row is None:
                return
            function = json.loads(row["doc"]).get("RotationLambdaARN")
        lam = self.env.providers.get("lambda")
        ctx = RequestContext(
            account_id=account,
            region=region,
            request_id=ids.request_id(),
            service="lambda",
            operation="Invoke",
            principal=accounts.root_principal(account, account),
            request=HttpRequest(
                "POST", "/", headers={"host": f"localhost:{self.env.settings.port}"}
            ),
            protocol="secretsmanager",
        )
        for step in STEPS:
            payload = {
                "Step": step,
                "SecretId": secret_arn,
                "ClientRequestToken": token,
                "RotationToken": str(uuid.uuid4()),
            }
            try:
                result = await lam.invoke(  # type: ignore[attr-defined]
                    ctx, {"FunctionName": function, "Payload": json.dumps(payload).encode()}
                )
            except ServiceError:
                return  # the function is gone or cannot run: the rotation stays pending
            if result.get("FunctionError"):
                return  # AWS leaves AWSPENDING where it is and retries on the next rotation
        with self.store.transaction():
            row = self._find(account, region, secret_arn)
            if row is None:
                return
            doc = json.loads(row["doc"])
            labels = self._stages(row).get(token, [])
            if CURRENT in labels:
                # A finished rotation's version keeps AWSCURRENT only.
                self._set_stages(row, token, [s for s in labels if s != PENDING])
                doc["LastRotatedDate"] = clock.now()
                doc["NextRotationDate"] = self._next_rotation(doc, clock.now())
                self._save(account, region, row["name"], row["arn"], doc)
                self._sync_replicas(self._reload(row))

    # -- replication -------------------------------------------------------------------------

    def _replica_status(self, account: str, region: str, name: str) -> Json:
        row = self._find(account, region, name)
        doc = json.loads(row["doc"]) if row is not None else {}
        out: Json = {"Region": region, "Status": "InSync" if row is not None else "Failed"}
        out["KmsKeyId"] = doc.get("KmsKeyId") or DEFAULT_KEY
        if row is not None and doc.get("LastAccessedDate"):
            out["LastAccessedDate"] = doc["LastAccessedDate"]
        return out

    def _replicate(self, row: Row, regions: list[Json], force: bool) -> list[Json]:
        doc = json.loads(row["doc"])
        doc["PrimaryRegion"] = row["region"]
        replicas = list(doc.get("_Replicas", []))
        for entry in regions:
            region = entry.get("Region")
            if not region:
                raise errors.InvalidParameterException("A replica Region is required.")
            if region == row["region"]:
                raise errors.InvalidParameterException(
                    "Invalid replica region: it is the primary secret's region."
                )
            there = self._find(row["account"], region, row["name"])
            if there is not None and region not in replicas and not force:
                raise errors.ResourceExistsException(
                    f"The operation failed because the secret {row['name']} already exists in "
                    f"{region}."
                )
            replica_doc: Json = {
                k: v for k, v in doc.items() if k not in ("_Replicas", "KmsKeyId", "_Policy")
            }
            if entry.get("KmsKeyId"):
                replica_doc["KmsKeyId"] = self._key_arn(row["account"], region, entry["KmsKeyId"])
            replica_arn = row["arn"].replace(f":{row['region']}:", f":{region}:", 1)
            self._save(row["account"], region, row["name"], replica_arn, replica_doc)
            if region not in replicas:
                replicas.append(region)
        doc["_Replicas"] = replicas
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        self._sync_replicas(self._reload(row))
        return [self._replica_status(row["account"], r, row["name"]) for r in replicas]

    def _sync_replicas(self, row: Row) -> None:
        """Replicas hold the primary's versions and labels, sealed under their Region's key."""
        doc = json.loads(row["doc"])
        for region in doc.get("_Replicas", []):
            replica = self._find(row["account"], region, row["name"])
            if replica is None:
                continue
            replica_doc = json.loads(replica["doc"])
            for key in (
                "Description",
                "LastChangedDate",
                "RotationEnabled",
                "RotationRules",
                "RotationLambdaARN",
                "LastRotatedDate",
            ):
                if key in doc:
                    replica_doc[key] = doc[key]
            self._save(row["account"], region, row["name"], replica["arn"], replica_doc)
            self.store.execute(
                "DELETE FROM sm_versions WHERE account = ? AND region = ? AND name = ?",
                (row["account"], region, row["name"]),
            )
            key = replica_doc.get("KmsKeyId") or DEFAULT_KEY
            for version in self._versions(row):
                value = self._unseal(row, version["sealed"])
                self.store.execute(
                    "INSERT INTO sm_versions (account, region, name, version_id, created, "
                    "stages, sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        row["account"],
                        region,
                        row["name"],
                        version["version_id"],
                        version["created"],
                        version["stages"],
                        self._seal(replica["arn"], row["account"], region, key, value),
                    ),
                )

    def replicate_secret_to_regions(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        status = self._replicate(
            row, req["AddReplicaRegions"], bool(req.get("ForceOverwriteReplicaSecret"))
        )
        return {"ARN": row["arn"], "ReplicationStatus": status}

    def remove_regions_from_replication(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        self._primary_only(row)
        doc = json.loads(row["doc"])
        replicas = list(doc.get("_Replicas", []))
        for region in req["RemoveReplicaRegions"]:
            if region in replicas:
                replicas.remove(region)
                replica = self._find(row["account"], region, row["name"])
                if replica is not None:
                    self._forget(replica)
        doc["_Replicas"] = replicas
        if not replicas:
            doc.pop("PrimaryRegion", None)
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return {
            "ARN": row["arn"],
            "ReplicationStatus": [
                self._replica_status(row["account"], r, row["name"]) for r in replicas
            ],
        }

    def stop_replication_to_replica(self, ctx: RequestContext, req: Json) -> Json:
        row = self._secret(ctx, req["SecretId"])
        doc = json.loads(row["doc"])
        primary_region = doc.get("PrimaryRegion")
        if not primary_region or primary_region == row["region"]:
            raise errors.InvalidRequestException("This secret is not a replica secret.")
        primary = self._find(row["account"], primary_region, row["name"])
        if primary is not None:
            primary_doc = json.loads(primary["doc"])
            primary_doc["_Replicas"] = [
                r for r in primary_doc.get("_Replicas", []) if r != row["region"]
            ]
            if not primary_doc["_Replicas"]:
                primary_doc.pop("PrimaryRegion", None)
            self._save(
                primary["account"], primary["region"], primary["name"], primary["arn"], primary_doc
            )
        doc.pop("PrimaryRegion", None)
        self._save(row["account"], row["region"], row["name"], row["arn"], doc)
        return {"ARN": row["arn"]}
