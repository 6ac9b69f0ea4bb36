"""AWS Systems Manager Parameter Store: String, StringList and SecureString parameters (the
value encrypted through KMS, ``alias/aws/ssm`` unless a key is named), tiers and their limits,
versions (100 kept) and labels, selectors ``name:version`` and ``name:label``, hierarchies,
policies (Expiration acted on by the one clock, notifications as EventBridge events), filters,
tags, and the public parameters under ``/aws/service/``."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.core.pagination import InvalidToken, paginate
from nubes.core.tags import from_list
from nubes.protocol.base import ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.ssm import public
from nubes.services.ssm.errors import errors
from nubes.store import Row

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

MIGRATIONS = (
    """
    CREATE TABLE ssm_parameters (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        due REAL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name)
    ) WITHOUT ROWID;
    CREATE INDEX ssm_parameters_due ON ssm_parameters (due);
    CREATE TABLE ssm_versions (
        account TEXT NOT NULL,
        region TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        value TEXT NOT NULL,
        labels TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (account, region, name, version)
    ) WITHOUT ROWID;
    """,
)

MAX_VERSIONS = 100
MAX_LABELS = 10
MAX_DEPTH = 15
MAX_NAME = 1011
LIMITS = {"Standard": 4096, "Advanced": 8192}
TICK = 60.0
DEFAULT_KEY = "alias/aws/ssm"
SECRETS_PREFIX = "/aws/reference/secretsmanager/"
_NAME = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
_LABEL = re.compile(r"^[a-zA-Z0-9_.\-]{1,100}$")
_IMAGE = re.compile(r"^ami-[0-9a-f]{8,17}$")
_NAME_RULES = (
    'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a '
    "path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a "
    "mix of letters, numbers and the following 3 symbols .-_"
)
_TIER_DOC = "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
_POLICY_TYPES = ("Expiration", "ExpirationNotification", "NoChangeNotification")
_UNITS = {"Days": 86_400.0, "Hours": 3_600.0}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise errors.InvalidPolicyAttributeException(
            f"Invalid Timestamp: {text}. The timestamp must be in ISO 8601 format."
        ) from None


class SsmProvider(ServiceProvider):
    service = "ssm"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(env, "SELECT 1 FROM ssm_parameters WHERE due IS NOT NULL LIMIT 1")

    async def start(self) -> None:
        self.env.scheduler.every("ssm-policies", TICK, self._tick)
        self.env.scheduler.on_advance(self._on_advance)

    def _on_advance(self) -> None:
        with self.store.transaction():
            self._tick()

    # -- policies on the clock ---------------------------------------------------------------

    def _tick(self) -> None:
        """Act on the policies whose time came: notifications become events, an expired
        parameter is deleted (after its ExpirationNotification, if it has one)."""
        now = clock.now()
        for row in self.store.query("SELECT * FROM ssm_parameters WHERE due <= ?", (now,)):
            doc = json.loads(row["doc"])
            expired = False
            for policy in doc.get("_policies", []):
                if policy["status"] != "Pending" or policy["at"] > now:
                    continue
                policy["status"] = "Finished"
                if policy["type"] == "Expiration":
                    expired = True
                else:
                    self._notify(row, doc, policy)
            if expired:
                self._notify(row, doc, {"type": "Expiration"})
                self._drop(row["account"], row["region"], row["name"])
                continue
            self._write_parameter(row["account"], row["region"], row["name"], row["version"], doc)

    def _notify(self, row: Row, doc: Json, policy: Json) -> None:
        kind = {
            "Expiration": "Expired",
            "ExpirationNotification": "ExpirationNotification",
            "NoChangeNotification": "NoChangeNotification",
        }[policy["type"]]
        self.env.events.emit(
            Event(
                account_id=row["account"],
                region=row["region"],
                source="aws.ssm",
                detail_type="Parameter Store Policy Action",
                detail={
                    "parameter-name": row["name"],
                    "parameter-type": doc["Type"],
                    "policy-type": policy["type"],
                    "action-status": kind,
                },
                resources=[self._arn(row["account"], row["region"], row["name"])],
            )
        )

    def _policies(self, text: str | None, created: float) -> list[Json]:
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except ValueError:
            raise errors.InvalidPolicyTypeException(
                "The policy document is not valid JSON."
            ) from None
        if not isinstance(parsed, list):
            parsed = [parsed]
        out: list[Json] = []
        expires: float | None = None
        for policy in parsed:
            kind = policy.get("Type") if isinstance(policy, dict) else None
            if kind not in _POLICY_TYPES:
                raise errors.InvalidPolicyTypeException(
                    f"{kind} is not a valid policy type. Valid types: Expiration, "
                    "ExpirationNotification, NoChangeNotification."
                )
            attributes = policy.get("Attributes") or {}
            if kind == "Expiration":
                if "Timestamp" not in attributes:
                    raise errors.InvalidPolicyAttributeException(
                        "Expiration policy requires a Timestamp attribute."
                    )
                at = expires = _parse_time(attributes["Timestamp"])
            else:
                unit = attributes.get("Unit", "Days")
                if unit not in _UNITS:
                    raise errors.InvalidPolicyAttributeException(
                        f"Invalid Unit: {unit}. Valid units: Days, Hours."
                    )
                amount_key = "Before" if kind == "ExpirationNotification" else "After"
                try:
                    amount = float(attributes[amount_key])
                except (KeyError, ValueError):
                    raise errors.InvalidPolicyAttributeException(
                        f"{kind} policy requires a numeric {amount_key} attribute."
                    ) from None
                at = amount * _UNITS[unit]
            out.append({"type": kind, "text": json.dumps(policy), "at": at, "status": "Pending"})
        for policy in out:
            if policy["type"] == "ExpirationNotification":
                if expires is None:
                    raise errors.InvalidPolicyAttributeException(
                        "ExpirationNotification requires an Expiration policy."
                    )
                policy["at"] = expires - policy["at"]
            elif policy["type"] == "NoChangeNotification":
                policy["at"] = created + policy["at"]
        return out

    # -- names -------------------------------------------------------------------------------

    @staticmethod
    def _arn(account: str, region: str, name: str) -> str:
        return arn(
            "ssm", region, account, "parameter" + (name if name.startswith("/") else f"/{name}")
        )

    @staticmethod
    def _plain_name(name: str) -> str:
        """The parameter name an ARN names (names given as ARNs are accepted everywhere)."""
        if name.startswith("arn:"):
            _, _, rest = name.partition(":parameter")
            return rest if rest.count("/") > 1 else rest.lstrip("/")
        return name

    def _check_name(self, name: str) -> None:
        bare = name.lstrip("/").lower()
        if bare.startswith(("aws", "ssm")) or not _NAME.match(name):
            raise errors.ValidationException(_NAME_RULES)
        if "/" in name and not name.startswith("/"):
            raise errors.ValidationException("Parameter name must be a fully qualified name.")
        if name.count("/") > MAX_DEPTH:
            raise errors.HierarchyLevelLimitExceededException(
                "A hierarchy can have a maximum of 15 levels. For more information, see "
                "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
                "sysman-paramstore-su-create.html"
            )
        if len(name) > MAX_NAME:
            raise errors.ValidationException(
                "Parameter name: can't be longer than 1011 characters."
            )

    # -- rows --------------------------------------------------------------------------------

    def _due(self, ctx: RequestContext) -> None:
        """Expirations the clock passed are acted on before a request reads."""
        if self.store.scalar("SELECT 1 FROM ssm_parameters WHERE due <= ? LIMIT 1", (clock.now(),)):
            self._tick()

    def _parameter(self, ctx: RequestContext, name: str) -> Row | None:
        return self.store.query_one(
            "SELECT * FROM ssm_parameters WHERE account = ? AND region = ? AND name = ?",
            (ctx.account_id, ctx.region, name),
        )

    def _write_parameter(
        self, account: str, region: str, name: str, version: int, doc: Json
    ) -> None:
        pending = [p["at"] for p in doc.get("_policies", []) if p["status"] == "Pending"]
        self.store.execute(
            "INSERT INTO ssm_parameters (account, region, name, version, due, doc) VALUES "
            "(?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, name) DO UPDATE SET "
            "version = excluded.version, due = excluded.due, doc = excluded.doc",
            (account, region, name, version, min(pending) if pending else None, json.dumps(doc)),
        )

    def _drop(self, account: str, region: str, name: str) -> None:
        for table in ("ssm_parameters", "ssm_versions"):
            self.store.execute(
                f"DELETE FROM {table} WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            )
        self.env.tags.drop(self._arn(account, region, name))

    # -- KMS ---------------------------------------------------------------------------------

    def _kms(self, ctx: RequestContext, operation: str, params: Json) -> Json:
        try:
            out: Json = self.env.providers.invoke(
                "kms", operation, params, ctx.account_id, ctx.region
            )
        except ServiceError as exc:
            raise errors.InvalidKeyId(str(exc) or exc.code) from None
        return out

    def _seal(self, ctx: RequestContext, name: str, key: str, value: str) -> str:
        out = self._kms(
            ctx,
            "Encrypt",
            {
                "KeyId": key,
                "Plaintext": value.encode(),
                "EncryptionContext": {"PARAMETER_ARN": self._arn(ctx.account_id, ctx.region, name)},
            },
        )
        return base64.b64encode(out["CiphertextBlob"]).decode()

    def _unseal(self, ctx: RequestContext, name: str, stored: str) -> str:
        params = {
            "CiphertextBlob": base64.b64decode(stored),
            "EncryptionContext": {"PARAMETER_ARN": self._arn(ctx.account_id, ctx.region, name)},
        }
        from nubes.gateway.enforce import running_enforcer

        enforcer = running_enforcer(self.env)
        if enforcer is not None:
            # WithDecryption needs kms:Decrypt on the parameter's key, as the caller.
            try:
                enforcer.authorize_also(ctx, "kms", "Decrypt", params)
            except ServiceError as exc:
                raise errors.AccessDeniedException(str(exc)) from None
        out = self._kms(ctx, "Decrypt", params)
        return bytes(out["Plaintext"]).decode()

    # -- PutParameter ------------------------------------------------------------------------

    def put_parameter(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        name = self._plain_name(req["Name"])
        self._check_name(name)
        value = req["Value"]
        existing = self._parameter(ctx, name)
        if req.get("Tags") and req.get("Overwrite"):
            raise errors.ValidationException(
                "Invalid request: tags and overwrite can't be used together. To create a "
                "parameter with tags, please remove overwrite flag. To update tags for an "
                "existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
            )
        if existing is not None and not req.get("Overwrite"):
            raise errors.ParameterAlreadyExists(
                "The parameter already exists. To overwrite this value, set the overwrite "
                "option in the request to true."
            )
        old: Json = json.loads(existing["doc"]) if existing is not None else {}
        kind = req.get("Type") or old.get("Type")
        if kind is None:
            raise errors.ValidationException(
                "A parameter type is required when you create a parameter."
            )
        if req.get("KeyId") and kind != "SecureString":
            raise errors.ValidationException(
                "KeyId is required for SecureString type parameter only."
            )
        data_type = req.get("DataType") or old.get("DataType") or "text"
        if data_type not in ("text", "aws:ec2:image", "aws:ssm:integration"):
            raise errors.ValidationException(
                "The following data type is not supported: "
                f"{data_type} (Data type names are all lowercase.)"
            )
        if data_type == "aws:ec2:image" and not _IMAGE.match(value):
            raise errors.ValidationException(
                f"Parameter value {value} is not in the format of an ami id: ami-12345abc"
            )
        pattern = req.get("AllowedPattern", old.get("AllowedPattern"))
        if pattern:
            try:
                matched = re.fullmatch(pattern, value) is not None
            except re.error:
                raise errors.ValidationException(f"Invalid AllowedPattern: {pattern}") from None
            if not matched:
                raise errors.ParameterPatternMismatchException(
                    f"Parameter value, cannot be validated against allowedPattern: {pattern}"
                )
        now = clock.now()
        policies_text = req.get("Policies")
        tier = self._tier(req.get("Tier"), old.get("Tier"), value, bool(policies_text))
        if len(value) > LIMITS[tier]:
            raise errors.ValidationException(
                f"{tier} tier parameters support a maximum parameter value of {LIMITS[tier]} "
                "characters. To create a larger parameter value, upgrade the parameter to use "
                f"the advanced-parameter tier. For more information, see {_TIER_DOC}"
            )
        policies = self._policies(policies_text, now) if policies_text else []
        version = (existing["version"] if existing is not None else 0) + 1
        self._make_room(ctx, name, version)
        key = req.get("KeyId") or (old.get("KeyId") if kind == "SecureString" else None)
        if kind == "SecureString":
            key = key or DEFAULT_KEY
            stored = self._seal(ctx, name, key, value)
        else:
            stored = value
        doc: Json = {
            "Type": kind,
            "Description": req.get("Description", old.get("Description")),
            "AllowedPattern": pattern,
            "Tier": tier,
            "DataType": data_type,
            "LastModifiedDate": now,
            "LastModifiedUser": ctx.principal.arn,
            "_policies": policies if policies_text else old.get("_policies", []),
        }
        if key:
            doc["KeyId"] = key
        doc = {k: v for k, v in doc.items() if v is not None}
        if existing is None and req.get("Tags"):
            self._set_tags(self._arn(ctx.account_id, ctx.region, name), req["Tags"])
        self._write_parameter(ctx.account_id, ctx.region, name, version, doc)
        self.store.execute(
            "INSERT INTO ssm_versions (account, region, name, version, value, labels, doc) "
            "VALUES (?, ?, ?, ?, ?, '[]', ?)",
            (ctx.account_id, ctx.region, name, version, stored, json.dumps(doc)),
        )
        return {"Version": version, "Tier": tier}

    @staticmethod
    def _tier(asked: str | None, current: str | None, value: str, has_policies: bool) -> str:
        if asked == "Intelligent-Tiering":
            needs = len(value) > LIMITS["Standard"] or has_policies or current == "Advanced"
            return "Advanced" if needs else "Standard"
        tier = asked or current or "Standard"
        if current == "Advanced" and tier == "Standard":
            raise errors.ValidationException(
                "This parameter uses the advanced-parameter tier. You can't downgrade a "
                "parameter from the advanced-parameter tier to the standard-parameter tier. If "
                "necessary, you can delete the advanced parameter and recreate it as a standard "
                "parameter."
            )
        if has_policies and tier == "Standard":
            raise errors.ValidationException(
                "Parameter policies are supported only for advanced-parameter tier parameters."
            )
        return tier

    def _make_room(self, ctx: RequestContext, name: str, version: int) -> None:
        """A parameter keeps 100 versions: the oldest goes, unless a label holds it."""
        rows = self.store.query(
            "SELECT version, labels FROM ssm_versions WHERE account = ? AND region = ? AND "
            "name = ? ORDER BY version",
            (ctx.account_id, ctx.region, name),
        )
        if len(rows) < MAX_VERSIONS:
            return
        oldest = rows[0]
        if json.loads(oldest["labels"]):
            raise errors.ParameterMaxVersionLimitExceeded(
                f"You attempted to create a new version of {name} by calling the PutParameter "
                f"API with the overwrite flag. Version {oldest['version']}, the oldest version, "
                "can't be deleted because it has a label associated with it. Move the label to "
                "another version of the parameter, and try again."
            )
        self.store.execute(
            "DELETE FROM ssm_versions WHERE account = ? AND region = ? AND name = ? AND "
            "version = ?",
            (ctx.account_id, ctx.region, name, oldest["version"]),
        )

    # -- reading -----------------------------------------------------------------------------

    def _version_row(self, ctx: RequestContext, name: str, selector: str | None) -> Row | None:
        base = "SELECT * FROM ssm_versions WHERE account = ? AND region = ? AND name = ?"
        scope = (ctx.account_id, ctx.region, name)
        if selector is None:
            return self.store.query_one(base + " ORDER BY version DESC LIMIT 1", scope)
        if selector.isdigit():
            return self.store.query_one(base + " AND version = ?", (*scope, int(selector)))
        for row in self.store.query(base, scope):
            if selector in json.loads(row["labels"]):
                return row
        return None

    def _resolve(self, ctx: RequestContext, requested: str, decrypt: bool) -> Json | None:
        """The parameter a name (with an optional ``:version`` or ``:label`` selector) names,
        as GetParameter(s) answer it; None when there is none."""
        text = self._plain_name(requested)
        if text.startswith(SECRETS_PREFIX):
            return self._secret_reference(ctx, text, decrypt)
        name, selector = text, None
        if ":" in text:
            name, _, selector = text.rpartition(":")
        if name.startswith(public.PREFIX):
            found = public.parameters(ctx.region).get(name)
            if found is None or selector not in (None, "1"):
                return None
            return {
                "Name": name,
                "Type": "String",
                "Value": found[0],
                "Version": 1,
                "LastModifiedDate": 1_733_961_600.0,
                "ARN": arn("ssm", ctx.region, "", "parameter" + name),
                "DataType": found[1],
                **({"Selector": f":{selector}"} if selector else {}),
            }
        row = self._parameter(ctx, name)
        if row is None:
            return None
        version = self._version_row(ctx, name, selector)
        if version is None:
            if selector is not None and selector.isdigit():
                raise errors.ParameterVersionNotFound(
                    f"Systems Manager could not find version {selector} of {name}. Verify the "
                    "version and try again."
                )
            return None
        return self._entry(ctx, name, version, decrypt, selector)

    def _secret_reference(self, ctx: RequestContext, text: str, decrypt: bool) -> Json | None:
        """``/aws/reference/secretsmanager/<secret>[:version or :label]``: a Secrets Manager
        secret read through Parameter Store."""
        if not decrypt:
            raise errors.ValidationException(
                "WithDecryption flag must be True for retrieving a Secret Manager secret."
            )
        secret, selector = text[len(SECRETS_PREFIX) :], None
        if ":" in secret and not secret.startswith("arn:"):
            secret, _, selector = secret.rpartition(":")
        params: Json = {"SecretId": secret}
        if selector:
            is_id = len(selector) == 36 and selector.count("-") == 4
            params["VersionId" if is_id else "VersionStage"] = selector
        try:
            found = self.env.providers.invoke(
                "secretsmanager", "GetSecretValue", params, ctx.account_id, ctx.region
            )
        except ServiceError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise errors.ValidationException(str(exc)) from None
        value = found.get("SecretString")
        if value is None:
            value = base64.b64encode(bytes(found["SecretBinary"])).decode()
        out: Json = {
            "Name": text,
            "Type": "SecureString",
            "Value": value,
            "Version": 0,
            "SourceResult": json.dumps(
                {k: v for k, v in found.items() if k not in ("SecretString", "SecretBinary")},
                default=str,
            ),
            "LastModifiedDate": found["CreatedDate"],
            "ARN": found["ARN"],
            "DataType": "text",
        }
        if selector:
            out["Selector"] = f":{selector}"
        return out

    def _entry(
        self, ctx: RequestContext, name: str, version: Row, decrypt: bool, selector: str | None
    ) -> Json:
        doc = json.loads(version["doc"])
        value = version["value"]
        if doc["Type"] == "SecureString" and decrypt:
            value = self._unseal(ctx, name, value)
        out: Json = {
            "Name": name,
            "Type": doc["Type"],
            "Value": value,
            "Version": version["version"],
            "LastModifiedDate": doc["LastModifiedDate"],
            "ARN": self._arn(ctx.account_id, ctx.region, name),
            "DataType": doc.get("DataType", "text"),
        }
        if selector:
            out["Selector"] = f":{selector}"
        return out

    def get_parameter(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        found = self._resolve(ctx, req["Name"], bool(req.get("WithDecryption")))
        if found is None:
            raise errors.ParameterNotFound("")
        return {"Parameter": found}

    def get_parameters(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        found: list[Json] = []
        missing: list[str] = []
        for name in dict.fromkeys(req["Names"]):
            entry = self._resolve(ctx, name, bool(req.get("WithDecryption")))
            if entry is None:
                missing.append(name)
            else:
                found.append(entry)
        return {"Parameters": found, "InvalidParameters": missing}

    def get_parameters_by_path(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        path = req["Path"]
        if not path.startswith("/"):
            raise errors.ValidationException(
                "The parameter doesn't meet the parameter name requirements. The parameter name "
                'must begin with a forward slash "/".'
            )
        for flt in req.get("ParameterFilters") or []:
            if flt["Key"] in ("Name", "Path", "Tier"):
                raise errors.InvalidFilterKey(
                    f"The following filter key is not valid: {flt['Key']}. Valid filter keys "
                    "include: [Type, KeyId, Label]."
                )
        prefix = path.rstrip("/") + "/"
        recursive = bool(req.get("Recursive"))

        def under(name: str) -> bool:
            if not name.startswith(prefix):
                return False
            return recursive or "/" not in name[len(prefix) :]

        decrypt = bool(req.get("WithDecryption"))
        entries: list[Json] = []
        if prefix.startswith(public.PREFIX):
            for name in sorted(public.parameters(ctx.region)):
                if under(name):
                    found = self._resolve(ctx, name, False)
                    if found is not None:
                        entries.append(found)
            page, token = self._page(entries, req, lambda e: e["Name"], 10)
            return self._paged({"Parameters": page}, token)
        rows = [
            r
            for r in self.store.query(
                "SELECT * FROM ssm_parameters WHERE account = ? AND region = ? ORDER BY name",
                (ctx.account_id, ctx.region),
            )
            if under(r["name"]) and self._matches(ctx, r, req.get("ParameterFilters") or [])
        ]
        page, token = self._page(rows, req, lambda r: r["name"], 10)
        out = []
        for row in page:
            version = self._version_row(ctx, row["name"], None)
            if version is not None:
                out.append(self._entry(ctx, row["name"], version, decrypt, None))
        return self._paged({"Parameters": out}, token)

    @staticmethod
    def _paged(out: Json, token: str | None) -> Json:
        if token:
            out["NextToken"] = token
        return out

    @staticmethod
    def _page(items: list[Any], req: Json, key: Any, default: int) -> tuple[list[Any], str | None]:
        try:
            return paginate(items, req.get("MaxResults") or default, req.get("NextToken"), key)
        except (InvalidToken, TypeError):
            raise errors.InvalidNextToken("The specified token isn't valid.") from None

    def get_parameter_history(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        name = self._plain_name(req["Name"])
        if self._parameter(ctx, name) is None:
            raise errors.ParameterNotFound("")
        rows = self.store.query(
            "SELECT * FROM ssm_versions WHERE account = ? AND region = ? AND name = ? "
            "ORDER BY version",
            (ctx.account_id, ctx.region, name),
        )
        page, token = self._page(rows, req, lambda r: r["version"], 50)
        decrypt = bool(req.get("WithDecryption"))
        out = []
        for row in page:
            doc = json.loads(row["doc"])
            value = row["value"]
            if doc["Type"] == "SecureString" and decrypt:
                value = self._unseal(ctx, name, value)
            entry = {k: v for k, v in doc.items() if not k.startswith("_")}
            entry.update(
                Name=name,
                Value=value,
                Version=row["version"],
                Labels=json.loads(row["labels"]),
                Policies=self._policy_out(doc),
            )
            out.append(entry)
        return self._paged({"Parameters": out}, token)

    @staticmethod
    def _policy_out(doc: Json) -> list[Json]:
        return [
            {"PolicyText": p["text"], "PolicyType": p["type"], "PolicyStatus": p["status"]}
            for p in doc.get("_policies", [])
        ]

    # -- DescribeParameters ------------------------------------------------------------------

    def describe_parameters(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        if req.get("Filters") and req.get("ParameterFilters"):
            raise errors.ValidationException(
                "You can use either Filters or ParameterFilters in a single request."
            )
        filters = list(req.get("ParameterFilters") or [])
        for old in req.get("Filters") or []:
            option = "BeginsWith" if old["Key"] == "Name" else "Equals"
            filters.append({"Key": old["Key"], "Option": option, "Values": old["Values"]})
        for flt in filters:
            key = flt["Key"]
            known = ("Name", "Type", "KeyId", "Path", "Tier", "Label", "DataType")
            if key not in known and not key.startswith("tag:"):
                raise errors.InvalidFilterKey(f"The following filter key is not valid: {key}.")
        rows = [
            r
            for r in self.store.query(
                "SELECT * FROM ssm_parameters WHERE account = ? AND region = ? ORDER BY name",
                (ctx.account_id, ctx.region),
            )
            if self._matches(ctx, r, filters)
        ]
        page, token = self._page(rows, req, lambda r: r["name"], 10)
        out = []
        for row in page:
            doc = json.loads(row["doc"])
            entry = {k: v for k, v in doc.items() if not k.startswith("_")}
            entry.update(
                Name=row["name"],
                ARN=self._arn(ctx.account_id, ctx.region, row["name"]),
                Version=row["version"],
                Policies=self._policy_out(doc),
            )
            out.append(entry)
        return self._paged({"Parameters": out}, token)

    def _matches(self, ctx: RequestContext, row: Row, filters: list[Json]) -> bool:
        doc = json.loads(row["doc"])
        name = row["name"]
        for flt in filters:
            key, option = flt["Key"], flt.get("Option") or "Equals"
            values = flt.get("Values") or []
            if key == "Path":
                recursive = option == "Recursive"
                if not any(self._under(name, v, recursive) for v in values):
                    return False
                continue
            if key == "Label":
                labels = {
                    label
                    for r in self.store.query(
                        "SELECT labels FROM ssm_versions WHERE account = ? AND region = ? AND "
                        "name = ?",
                        (ctx.account_id, ctx.region, name),
                    )
                    for label in json.loads(r["labels"])
                }
                if not labels & set(values):
                    return False
                continue
            if key.startswith("tag:"):
                tags = self.env.tags.get(self._arn(ctx.account_id, ctx.region, name))
                tag = key[4:]
                if tag not in tags or (values and tags[tag] not in values):
                    return False
                continue
            field = {"Name": name}.get(key, doc.get(key, ""))
            if key == "Name" and not name.startswith("/"):
                candidates = [field, "/" + field]
            else:
                candidates = [field]
            if not any(self._compare(c, option, values) for c in candidates):
                return False
        return True

    @staticmethod
    def _under(name: str, path: str, recursive: bool) -> bool:
        prefix = path.rstrip("/") + "/"
        if path == "/":
            return recursive or name.count("/") <= 1
        if not name.startswith(prefix):
            return False
        return recursive or "/" not in name[len(prefix) :]

    @staticmethod
    def _compare(field: str, option: str, values: list[str]) -> bool:
        if option == "BeginsWith":
            return any(field.startswith(v) for v in values)
        if option == "Contains":
            return any(v in field for v in values)
        return field in values

    # -- labels ------------------------------------------------------------------------------

    def label_parameter_version(self, ctx: RequestContext, req: Json) -> Json:
        name = self._plain_name(req["Name"])
        if self._parameter(ctx, name) is None:
            raise errors.ParameterNotFound("")
        wanted = req.get("ParameterVersion")
        target = self._version_row(ctx, name, None if wanted is None else str(wanted))
        if target is None:
            raise errors.ParameterVersionNotFound(
                f"Systems Manager could not find version {wanted} of {name}. Verify the version "
                "and try again."
            )
        invalid = [
            label
            for label in req["Labels"]
            if not _LABEL.match(label)
            or label.lower().startswith(("aws", "ssm"))
            or label[0].isdigit()
        ]
        valid = [label for label in req["Labels"] if label not in invalid]
        labels = list(dict.fromkeys(json.loads(target["labels"]) + valid))
        if len(labels) > MAX_LABELS:
            raise errors.ParameterVersionLabelLimitExceeded(
                "A parameter version can have maximum 10 labels.Move one or more labels to "
                "another version and try again."
            )
        # A label names one version: attaching it here moves it from any other.
        for row in self.store.query(
            "SELECT version, labels FROM ssm_versions WHERE account = ? AND region = ? AND "
            "name = ? AND version != ?",
            (ctx.account_id, ctx.region, name, target["version"]),
        ):
            kept = [label for label in json.loads(row["labels"]) if label not in valid]
            self._set_labels(ctx, name, row["version"], kept)
        self._set_labels(ctx, name, target["version"], labels)
        return {"InvalidLabels": invalid, "ParameterVersion": target["version"]}

    def _set_labels(self, ctx: RequestContext, name: str, version: int, labels: list[str]) -> None:
        self.store.execute(
            "UPDATE ssm_versions SET labels = ? WHERE account = ? AND region = ? AND name = ? "
            "AND version = ?",
            (json.dumps(labels), ctx.account_id, ctx.region, name, version),
        )

    def unlabel_parameter_version(self, ctx: RequestContext, req: Json) -> Json:
        name = self._plain_name(req["Name"])
        if self._parameter(ctx, name) is None:
            raise errors.ParameterNotFound("")
        target = self._version_row(ctx, name, str(req["ParameterVersion"]))
        if target is None:
            raise errors.ParameterVersionNotFound(
                f"Systems Manager could not find version {req['ParameterVersion']} of {name}. "
                "Verify the version and try again."
            )
        current = json.loads(target["labels"])
        removed = [label for label in req["Labels"] if label in current]
        invalid = [label for label in req["Labels"] if label not in current]
        self._set_labels(ctx, name, target["version"], [x for x in current if x not in removed])
        return {"RemovedLabels": removed, "InvalidLabels": invalid}

    # -- deleting ----------------------------------------------------------------------------

    def delete_parameter(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        name = self._plain_name(req["Name"])
        if self._parameter(ctx, name) is None:
            raise errors.ParameterNotFound("")
        self._drop(ctx.account_id, ctx.region, name)
        return {}

    def delete_parameters(self, ctx: RequestContext, req: Json) -> Json:
        self._due(ctx)
        deleted, invalid = [], []
        for requested in req["Names"]:
            name = self._plain_name(requested)
            if self._parameter(ctx, name) is None:
                invalid.append(requested)
            else:
                self._drop(ctx.account_id, ctx.region, name)
                deleted.append(requested)
        return {"DeletedParameters": deleted, "InvalidParameters": invalid}

    # -- tags --------------------------------------------------------------------------------

    def _tagged(self, ctx: RequestContext, req: Json) -> str:
        if req["ResourceType"] != "Parameter":
            raise errors.InvalidResourceType(
                f"{req['ResourceType']} is not a resource type this endpoint tags."
            )
        name = self._plain_name(req["ResourceId"])
        if self._parameter(ctx, name) is None:
            raise errors.InvalidResourceId(
                "The resource ID is not valid. Verify the ID and try again."
            )
        return self._arn(ctx.account_id, ctx.region, name)

    def _set_tags(self, resource_arn: str, tags: list[Json]) -> None:
        self.env.tags.add(
            resource_arn,
            from_list(tags),
            errors.ValidationException,
            too_many=errors.TooManyTagsError("A resource can have at most 50 tags."),
        )

    def add_tags_to_resource(self, ctx: RequestContext, req: Json) -> Json:
        self._set_tags(self._tagged(ctx, req), req["Tags"])
        return {}

    def remove_tags_from_resource(self, ctx: RequestContext, req: Json) -> Json:
        self.env.tags.remove(self._tagged(ctx, req), req["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        tags = self.env.tags.get(self._tagged(ctx, req))
        return {"TagList": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
