"""Every implemented operation of elbv2, elb and acm, called with input that is well-formed
for the model but names nothing that exists, answers an AWS error, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import Shape

from nubes.services.registry import implemented_operations


def _value(shape: Shape, depth: int = 0) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        required = shape.required_members  # type: ignore[attr-defined]
        return {name: _value(members[name], depth + 1) for name in required if depth < 6}
    if kind == "list":
        return [_value(shape.member, depth + 1)]  # type: ignore[attr-defined]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"not a certificate"
    if kind == "timestamp":
        return 0
    enum = shape.enum  # type: ignore[attr-defined]
    if enum:
        return enum[0]
    if "arn" in shape.name.lower():
        return (
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/none/0123456789abcdef"
        )
    low = int(shape.metadata.get("min", 1))
    return "x" * max(low, 3)


@pytest.mark.parametrize("service", ["elbv2", "elb", "acm"])
def test_bogus_input_gets_aws_errors(client: Callable[..., Any], service: str) -> None:
    api = client(service)
    model = api.meta.service_model
    failures = []
    reached = 0
    for operation in implemented_operations()[service]:
        if operation.startswith(("Delete", "Deregister", "Remove")):
            continue  # deleting what is not there may succeed, as on AWS
        params = _value(model.operation_model(operation).input_shape)
        try:
            getattr(api, xform_name(operation))(**params)
        except ClientError as exc:
            reached += 1
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if status >= 500:
                failures.append((operation, exc.response["Error"]))
        except Exception as exc:  # the client's own validation (patterns, lengths)
            if "validation" not in type(exc).__name__.lower():
                failures.append((operation, repr(exc)))
    assert failures == []
    assert reached >= len(implemented_operations()[service]) // 2  # the server was asked
