"""CreateTable / UpdateTable input checked as DynamoDB checks it, and table descriptions.

Tables and new global indexes are reported CREATING in the response of the call that creates
them and ACTIVE from the next read on (nubes builds them at once); deleted ones DELETING in
that response and gone afterwards.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from nubes.core import clock
from nubes.core.arns import arn
from nubes.services.dynamodb import replicas
from nubes.services.dynamodb.errors import RequestValidationException, ValidationException, errors
from nubes.services.dynamodb.models import Table

MAX_LSI = 5
MAX_GSI = 20
# Multi-attribute keys: a global index's partition and sort keys have up to four attributes each.
MAX_KEY_ATTRIBUTES = 4
# How long a global index added to a table stays in each phase of CREATING (by the clock).
ALLOCATING_SECONDS = 1.0
BACKFILL_SECONDS = 4.0
# The warm throughput every table and global index has from the start (and its floor).
WARM_READ = 12000
WARM_WRITE = 4000


def invalid(message: str) -> Exception:
    return ValidationException(f"One or more parameter values were invalid: {message}")


def check_key_schema(
    schema: list[dict[str, str]], what: str = "KeySchema", path: str = "keySchema"
) -> None:
    if len(schema) > 2:
        shown = ", ".join(
            f"KeySchemaElement(attributeName={e['AttributeName']}, keyType={e['KeyType']})"
            for e in schema
        )
        raise RequestValidationException(
            f"Value '[{shown}]' at '{path}' failed to satisfy constraint: Member must have length "
            "less than or equal to 2"
        )
    if schema[0]["KeyType"] != "HASH":
        raise ValidationException(
            f"Invalid {what}: The first KeySchemaElement is not a HASH key type"
        )
    if len(schema) > 1:
        if schema[1]["KeyType"] != "RANGE":
            raise ValidationException(
                f"Invalid {what}: The second KeySchemaElement is not a RANGE key type"
            )
        if schema[0]["AttributeName"] == schema[1]["AttributeName"]:
            raise ValidationException(
                f"Invalid {what}: Both the Hash Key and the Range Key element in the KeySchema "
                "have the same name"
            )


def check_gsi_key_schema(schema: list[dict[str, str]], index: str) -> None:
    """A global index's key: one to four partition key (HASH) attributes, then up to four sort
    key (RANGE) attributes, each named once (multi-attribute keys)."""
    kinds = [e["KeyType"] for e in schema]
    if len(schema) <= 2 and kinds != ["HASH", "HASH"]:
        check_key_schema(schema)
        return
    if kinds[0] != "HASH":
        raise ValidationException(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    hashes = kinds.count("HASH")
    if kinds != ["HASH"] * hashes + ["RANGE"] * (len(kinds) - hashes):
        raise invalid(
            f"Index KeySchema for index: {index} must list all HASH key elements before the "
            "RANGE key elements"
        )
    for kind, count in (("HASH", hashes), ("RANGE", len(kinds) - hashes)):
        if count > MAX_KEY_ATTRIBUTES:
            raise invalid(
                f"Index KeySchema for index: {index} has {count} {kind} key elements; an index "
                f"may have at most {MAX_KEY_ATTRIBUTES} {kind} key elements"
            )
    names = [e["AttributeName"] for e in schema]
    for position, name in enumerate(names):
        if name in names[:position]:
            raise invalid(
                f"Index KeySchema for index: {index} names attribute {name} more than once"
            )


def check_throughput(billing: str, throughput: dict[str, Any] | None, index: str = "") -> None:
    if billing == "PROVISIONED" and throughput is None:
        if index:
            raise invalid(f"ProvisionedThroughput must be specified for index: {index}")
        raise invalid(
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode "
            "is PROVISIONED"
        )
    if billing == "PAY_PER_REQUEST" and throughput is not None:
        raise invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode "
            "is PAY_PER_REQUEST"
        )


def check_projection(projection: dict[str, Any]) -> None:
    kind = projection.get("ProjectionType", "ALL")
    if kind == "INCLUDE" and not projection.get("NonKeyAttributes"):
        raise invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    if kind != "INCLUDE" and projection.get("NonKeyAttributes"):
        raise invalid(f"ProjectionType is {kind}, but NonKeyAttributes is specified")


def check_create(req: dict[str, Any]) -> None:
    # Optional in the model botocore ships, still required by the service.
    missing = [
        f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
        for member, path in (
            ("AttributeDefinitions", "attributeDefinitions"),
            ("KeySchema", "keySchema"),
        )
        if req.get(member) is None
    ]
    if missing:
        count = len(missing)
        raise errors.ValidationException(
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(missing)
        )
    schema = req["KeySchema"]
    check_key_schema(schema)
    definitions = {d["AttributeName"]: d["AttributeType"] for d in req["AttributeDefinitions"]}
    if len(definitions) != len(req["AttributeDefinitions"]):
        raise invalid("Cannot have two attributes with the same name")
    billing = req.get("BillingMode", "PROVISIONED")
    check_throughput(billing, req.get("ProvisionedThroughput"))
    key_names = [e["AttributeName"] for e in schema]
    used = set(key_names)
    lsis = req.get("LocalSecondaryIndexes", [])
    gsis = req.get("GlobalSecondaryIndexes", [])
    if len(lsis) > MAX_LSI:
        raise invalid(f"Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSI}")
    if len(gsis) > MAX_GSI:
        raise errors.LimitExceededException(
            f"One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the "
            f"per-table limit of {MAX_GSI}"
        )
    names: set[str] = set()
    for lsi in lsis:
        index_schema = lsi["KeySchema"]
        check_key_schema(index_schema)
        if len(schema) < 2:
            raise invalid(
                "Table KeySchema does not have a range key, which is required when specifying a "
                "LocalSecondaryIndex"
            )
        if len(index_schema) < 2:
            raise invalid(
                f"Index KeySchema does not have a range key for index: {lsi['IndexName']}"
            )
        if index_schema[0]["AttributeName"] != schema[0]["AttributeName"]:
            raise invalid(
                "Index KeySchema does not have the same leading hash key as table KeySchema for "
                f"index: {lsi['IndexName']}. index hash key: {index_schema[0]['AttributeName']}, "
                f"table hash key: {schema[0]['AttributeName']}"
            )
        _index_common(lsi, names, used)
    for gsi in gsis:
        check_gsi_key_schema(gsi["KeySchema"], gsi["IndexName"])
        check_throughput(billing, gsi.get("ProvisionedThroughput"), gsi["IndexName"])
        _index_common(gsi, names, used)
    missing = [n for n in sorted(used) if n not in definitions]
    if missing:
        raise invalid(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: "
            f"[{', '.join(missing)}], AttributeDefinitions: [{', '.join(definitions)}]"
        )
    if len(used) != len(definitions):
        if not lsis and not gsis:
            raise invalid(
                "Number of attributes in KeySchema does not exactly match number of attributes "
                "defined in AttributeDefinitions"
            )
        raise invalid(
            "Some AttributeDefinitions are not used. AttributeDefinitions: "
            f"[{', '.join(definitions)}], keys used: [{', '.join(sorted(used))}]"
        )
    check_stream(req.get("StreamSpecification"))


def _index_common(index: dict[str, Any], names: set[str], used: set[str]) -> None:
    if index["IndexName"] in names:
        raise invalid(f"Duplicate index name: {index['IndexName']}")
    names.add(index["IndexName"])
    check_projection(index["Projection"])
    used.update(e["AttributeName"] for e in index["KeySchema"])


def check_stream(spec: dict[str, Any] | None) -> None:
    if spec and spec.get("StreamEnabled") and not spec.get("StreamViewType"):
        raise ValidationException(
            "StreamSpecification: StreamViewType must be specified when StreamEnabled is true"
        )
    if spec and not spec.get("StreamEnabled") and spec.get("StreamViewType"):
        raise ValidationException(
            "One or more parameter values were invalid: StreamViewType can only be specified "
            "when StreamEnabled is true"
        )


def throughput(spec: dict[str, Any] | None) -> dict[str, Any]:
    spec = spec or {}
    return {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": spec.get("ReadCapacityUnits", 0),
        "WriteCapacityUnits": spec.get("WriteCapacityUnits", 0),
    }


def check_throughput_changes(current: dict[str, Any], requested: dict[str, Any]) -> None:
    read, write = requested["ReadCapacityUnits"], requested["WriteCapacityUnits"]
    if (read, write) == (current.get("ReadCapacityUnits"), current.get("WriteCapacityUnits")):
        raise ValidationException(
            "The provisioned throughput for the table will not change. The requested value "
            "equals the current value. Current ReadCapacityUnits provisioned for the table: "
            f"{read}. Requested ReadCapacityUnits: {read}. Current WriteCapacityUnits "
            f"provisioned for the table: {write}. Requested WriteCapacityUnits: {write}. Refer "
            "to the Amazon DynamoDB Developer Guide for current limits and how to request "
            "higher limits."
        )


def changed_throughput(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """New provisioned units, with when they last went up or down and how many decreases."""
    out = {**throughput(requested), **{k: v for k, v in current.items() if k.startswith("Last")}}
    out["NumberOfDecreasesToday"] = current.get("NumberOfDecreasesToday", 0)
    units = ("ReadCapacityUnits", "WriteCapacityUnits")
    if any(out[u] > current.get(u, 0) for u in units):
        out["LastIncreaseDateTime"] = clock.now()
    if any(out[u] < current.get(u, 0) for u in units):
        out["LastDecreaseDateTime"] = clock.now()
        out["NumberOfDecreasesToday"] += 1
    return out


def new_spec(req: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    name = req["TableName"]
    table_arn = arn("dynamodb", region, account, f"table/{name}")
    billing = req.get("BillingMode", "PROVISIONED")
    now = clock.now()
    spec: dict[str, Any] = {
        "AttributeDefinitions": req["AttributeDefinitions"],
        "TableName": name,
        "KeySchema": req["KeySchema"],
        "TableStatus": "ACTIVE",
        "CreationDateTime": now,
        "ProvisionedThroughput": throughput(req.get("ProvisionedThroughput")),
        "TableArn": table_arn,
        "TableId": str(uuid.uuid4()),
        "DeletionProtectionEnabled": bool(req.get("DeletionProtectionEnabled", False)),
    }
    if "BillingMode" in req:
        spec["BillingModeSummary"] = billing_summary(billing, None, now)
    if req.get("LocalSecondaryIndexes"):
        spec["LocalSecondaryIndexes"] = [
            {
                "IndexName": i["IndexName"],
                "KeySchema": i["KeySchema"],
                "Projection": i["Projection"],
                "IndexArn": f"{table_arn}/index/{i['IndexName']}",
            }
            for i in req["LocalSecondaryIndexes"]
        ]
    if req.get("GlobalSecondaryIndexes"):
        spec["GlobalSecondaryIndexes"] = [
            gsi_spec(i, table_arn) for i in req["GlobalSecondaryIndexes"]
        ]
    stream = req.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        spec["StreamSpecification"] = stream
    sse = req.get("SSESpecification")
    if sse and sse.get("Enabled"):
        spec["SSEDescription"] = sse_description(sse, account, region)
    if req.get("TableClass"):
        spec["TableClassSummary"] = {"TableClass": req["TableClass"]}
    if req.get("OnDemandThroughput"):
        spec["OnDemandThroughput"] = req["OnDemandThroughput"]
    if req.get("WarmThroughput"):
        spec["WarmThroughput"] = warm_throughput(req["WarmThroughput"], None)
    return spec


def billing_mode(spec: dict[str, Any]) -> str:
    return str(spec.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"))


def billing_summary(billing: str, current: dict[str, Any] | None, now: float) -> dict[str, Any]:
    """BillingModeSummary as DynamoDB shows it: only on tables whose mode was ever chosen
    (a table provisioned by default has none), with the last switch to on-demand."""
    out: dict[str, Any] = {"BillingMode": billing}
    last = (current or {}).get("LastUpdateToPayPerRequestDateTime")
    if billing == "PAY_PER_REQUEST":
        last = now
    if last is not None:
        out["LastUpdateToPayPerRequestDateTime"] = last
    return out


def warm_throughput(requested: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """A WarmThroughput setting: units not given keep their value; none may go down."""
    now = current or {"ReadUnitsPerSecond": WARM_READ, "WriteUnitsPerSecond": WARM_WRITE}
    out = {"Status": "ACTIVE"}
    for unit in ("ReadUnitsPerSecond", "WriteUnitsPerSecond"):
        value = requested.get(unit, now[unit])
        if value < now[unit]:
            raise invalid(
                f"Requested {unit} for WarmThroughput is lower than current WarmThroughput "
                f"{unit}: {now[unit]}"
            )
        out[unit] = value
    return out


def gsi_spec(index: dict[str, Any], table_arn: str) -> dict[str, Any]:
    spec = {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index["Projection"],
        "IndexStatus": "ACTIVE",
        "ProvisionedThroughput": throughput(index.get("ProvisionedThroughput")),
        "IndexArn": f"{table_arn}/index/{index['IndexName']}",
    }
    if index.get("OnDemandThroughput"):
        spec["OnDemandThroughput"] = index["OnDemandThroughput"]
    if index.get("WarmThroughput"):
        spec["WarmThroughput"] = warm_throughput(index["WarmThroughput"], None)
    return spec


def sse_description(sse: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    key = sse.get("KMSMasterKeyId") or "alias/aws/dynamodb"
    if not key.startswith("arn:"):
        key = arn("kms", region, account, key if key.startswith("alias/") else f"key/{key}")
    return {"Status": "ENABLED", "SSEType": sse.get("SSEType", "KMS"), "KMSMasterKeyArn": key}


def describe(
    table: Table,
    stats: tuple[int, int, dict[str, tuple[int, int]]] | None = None,
    status: str | None = None,
    index_status: dict[str, str] | None = None,
) -> dict[str, Any]:
    """DescribeTable's TableDescription (private settings left out)."""
    out = {k: copy.deepcopy(v) for k, v in table.spec.items() if not k.startswith("_")}
    out.setdefault("WarmThroughput", warm_throughput({}, None))
    count, size, per_index = stats or (0, 0, {})
    out["ItemCount"] = count
    out["TableSizeBytes"] = size
    if status:
        out["TableStatus"] = status
    replicas.describe(table.spec, table.region, out)
    for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        for index in out.get(kind, []):
            index_count, index_size = per_index.get(index["IndexName"], (0, 0))
            index["ItemCount"] = index_count
            index["IndexSizeBytes"] = index_size
            if kind == "GlobalSecondaryIndexes":
                index.setdefault("WarmThroughput", warm_throughput({}, None))
            created = index.pop("_created", None)
            if created is not None:
                index.update(_build_phase(clock.now() - created))
            if index_status and index["IndexName"] in index_status:
                index["IndexStatus"] = index_status[index["IndexName"]]
                if index["IndexStatus"] == "CREATING":
                    index["Backfilling"] = False
    return out


def _build_phase(elapsed: float) -> dict[str, Any]:
    """Where an index added by UpdateTable is in its build: resources allocated, then the
    table's items copied in (Backfilling), then ACTIVE. nubes copies the items at once; the
    phases are kept for the clients and tools that wait on them."""
    if elapsed < ALLOCATING_SECONDS:
        return {"IndexStatus": "CREATING", "Backfilling": False}
    if elapsed < ALLOCATING_SECONDS + BACKFILL_SECONDS:
        return {"IndexStatus": "CREATING", "Backfilling": True}
    return {"IndexStatus": "ACTIVE"}
