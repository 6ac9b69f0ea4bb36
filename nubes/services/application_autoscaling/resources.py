"""The scalable resources Application Auto Scaling drives here, each read and changed through
its own service's provider: DynamoDB tables and global secondary indexes (read or write capacity
units) and Lambda aliases or versions (provisioned concurrency)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nubes.app import Environment

Json = dict[str, Any]

DIMENSIONS = {
    "dynamodb": (
        "dynamodb:table:ReadCapacityUnits",
        "dynamodb:table:WriteCapacityUnits",
        "dynamodb:index:ReadCapacityUnits",
        "dynamodb:index:WriteCapacityUnits",
    ),
    "lambda": ("lambda:function:ProvisionedConcurrency",),
}
PREDEFINED = {
    # metric type -> (namespace, metric, statistic)
    "DynamoDBReadCapacityUtilization": ("AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum"),
    "DynamoDBWriteCapacityUtilization": ("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "Sum"),
    "LambdaProvisionedConcurrencyUtilization": (
        "AWS/Lambda",
        "ProvisionedConcurrencyUtilization",
        "Maximum",
    ),
}


class ResourceError(ValueError):
    """The resource is not there or the id does not fit the dimension (AWS's words)."""


def check_id(namespace: str, dimension: str, resource_id: str) -> None:
    parts = resource_id.split("/")
    if namespace == "dynamodb":
        kind = dimension.split(":")[1]
        if kind == "table" and (len(parts) != 2 or parts[0] != "table"):
            raise ResourceError(f"Unsupported resource ID {resource_id} for {dimension}")
        if kind == "index" and (len(parts) != 4 or parts[0] != "table" or parts[2] != "index"):
            raise ResourceError(f"Unsupported resource ID {resource_id} for {dimension}")
    elif namespace == "lambda":
        pieces = resource_id.split(":")
        if len(pieces) != 3 or pieces[0] != "function":
            raise ResourceError(f"Unsupported resource ID {resource_id} for {dimension}")


def _dynamo_throughput(env: Environment, account: str, region: str, resource_id: str) -> Json:
    parts = resource_id.split("/")
    table = env.providers.invoke(
        "dynamodb", "DescribeTable", {"TableName": parts[1]}, account, region
    )["Table"]
    if len(parts) == 4:
        for index in table.get("GlobalSecondaryIndexes") or ():
            if index["IndexName"] == parts[3]:
                return dict(index.get("ProvisionedThroughput") or {})
        raise ResourceError(f"No index {parts[3]} on table {parts[1]}")
    return dict(table.get("ProvisionedThroughput") or {})


def capacity(env: Environment, account: str, region: str, dimension: str, resource_id: str) -> int:
    """The resource's current capacity in the dimension."""
    if dimension.startswith("dynamodb:"):
        throughput = _dynamo_throughput(env, account, region, resource_id)
        key = "ReadCapacityUnits" if "Read" in dimension else "WriteCapacityUnits"
        return int(throughput.get(key) or 0)
    _, name, qualifier = resource_id.split(":")
    try:
        found = env.providers.invoke(
            "lambda",
            "GetProvisionedConcurrencyConfig",
            {"FunctionName": name, "Qualifier": qualifier},
            account,
            region,
        )
    except Exception:
        return 0
    return int(found.get("RequestedProvisionedConcurrentExecutions") or 0)


def set_capacity(
    env: Environment, account: str, region: str, dimension: str, resource_id: str, value: int
) -> None:
    """Change the resource's capacity through its own service's operation."""
    if dimension.startswith("dynamodb:"):
        parts = resource_id.split("/")
        throughput = _dynamo_throughput(env, account, region, resource_id)
        key = "ReadCapacityUnits" if "Read" in dimension else "WriteCapacityUnits"
        wanted = {
            "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits") or 1),
            "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits") or 1),
            key: value,
        }
        params: Json = {"TableName": parts[1]}
        if len(parts) == 4:
            params["GlobalSecondaryIndexUpdates"] = [
                {"Update": {"IndexName": parts[3], "ProvisionedThroughput": wanted}}
            ]
        else:
            params["ProvisionedThroughput"] = wanted
        env.providers.invoke("dynamodb", "UpdateTable", params, account, region)
        return
    _, name, qualifier = resource_id.split(":")
    env.providers.invoke(
        "lambda",
        "PutProvisionedConcurrencyConfig",
        {"FunctionName": name, "Qualifier": qualifier, "ProvisionedConcurrentExecutions": value},
        account,
        region,
    )


def tracked_metric(predefined: str, resource_id: str) -> Json:
    """The CloudWatch metric a predefined metric type watches for the resource."""
    namespace, name, stat = PREDEFINED[predefined]
    if namespace == "AWS/DynamoDB":
        parts = resource_id.split("/")
        dims = [{"Name": "TableName", "Value": parts[1]}]
        if len(parts) == 4:
            dims.append({"Name": "GlobalSecondaryIndexName", "Value": parts[3]})
    else:
        _, fn, qualifier = resource_id.split(":")
        dims = [
            {"Name": "FunctionName", "Value": fn},
            {"Name": "Resource", "Value": f"{fn}:{qualifier}"},
        ]
    return {"Namespace": namespace, "MetricName": name, "Dimensions": dims, "Statistic": stat}
