"""Every Auto Scaling and Application Auto Scaling operation, sent the least it must carry with
values that name nothing, answers with AWS's client error (or success), never a server error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import Shape

from nubes.services.application_autoscaling.provider import ApplicationAutoScalingProvider
from nubes.services.autoscaling.provider import AutoScalingProvider

PROVIDERS = {
    "autoscaling": AutoScalingProvider,
    "application-autoscaling": ApplicationAutoScalingProvider,
}


def value(shape: Shape, depth: int = 0) -> Any:
    """The least value the shape allows: required members only, short or edge values."""
    kind = shape.type_name
    if kind == "structure":
        return {name: value(shape.members[name], depth + 1) for name in shape.required_members}
    if kind == "list":
        return [] if depth > 2 else [value(shape.member, depth + 1)]
    if kind == "map":
        return {}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        least = int(shape.metadata.get("min", 1))
        return ("nope" * 40)[: max(least, 4)] if least <= 160 else "n" * least
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", -1))
    if kind in ("double", "float"):
        return -1.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime(2000, 1, 1, tzinfo=UTC)
    if kind == "blob":
        return b"x"
    raise AssertionError(kind)


CASES = [
    (service, name)
    for service, cls in PROVIDERS.items()
    for name in sorted(
        cls.implemented(botocore.session.get_session().get_service_model(service).operation_names)
    )
]


@pytest.mark.parametrize(("service", "operation"), CASES)
def test_nonsense_gets_a_client_error(
    client: Callable[..., Any], service: str, operation: str
) -> None:
    api = client(service, config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    model = api.meta.service_model.operation_model(operation)
    params = value(model.input_shape) if model.input_shape is not None else {}
    method = getattr(api, botocore.xform_name(operation))
    try:
        method(**params)
    except ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] < 500, err.response["Error"]
