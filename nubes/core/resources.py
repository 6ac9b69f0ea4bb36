"""How a service offers CloudFormation resource types, and how the CloudFormation engine finds them.

A service that offers resource types has a module ``nubes/services/<svc>/resources.py`` with one
class per type, subclassing ``ResourceType``, and a ``TYPES`` dict naming them. ``MODULES`` below
maps each type-name prefix (``AWS::SQS``) to that module; the engine imports a module only when a
template uses one of its types, and refuses any other type as AWS does ("Template format error:
Unrecognized resource types: [AWS::Foo::Bar]"). Adding a service's types is one line here plus its
module.

A handler talks to its service only through ``ctx.call(service, operation, params)`` (the same
providers, checks and errors as the API: a resource made by a stack shows up in the service's own
API exactly as one made by a client), never through another service's tables.

What a type declares:

- ``create(ctx, props) -> Provisioned``: make the resource from its resolved properties (plain
  Python values: every intrinsic function is already resolved; numbers and booleans may arrive as
  strings, since templates often quote them, so use ``integer``/``boolean`` below). Answer the
  physical id (what DescribeStackResources shows), the value ``Ref`` gives (``ref``; the physical
  id when None) and the values ``Fn::GetAtt`` reads (``attributes``, each name listed in the
  class's ``attributes``: the engine refuses ``GetAtt`` of any other name at validation, as AWS
  does). When the template leaves a resource's name out, AWS makes one from the stack and logical
  names: ``ctx.physical_name()``.
- ``replace_on``: the properties whose change needs a new resource (the resource reference's
  "Update requires: Replacement"). A change to any of these makes the engine create the new
  resource first, move references to it, then delete the old one (unless UpdateReplacePolicy is
  Retain); change sets report ``Replacement: True`` for them.
- ``update(ctx, current, props, old_props) -> Provisioned``: change the resource in place to the
  new properties (only called when no property in ``replace_on`` changed). The default
  re-creates nothing and answers ``current``: override it for every property that can change.
- ``delete(ctx, current, props)``: remove it. A resource already gone is not an error (AWS
  treats a delete of something missing as done): ``ctx.call_ignoring``.

- ``identifier`` and ``adopt(ctx, identifier, props)`` (optional): the properties that name an
  existing resource and how to take one into a stack (IMPORT change sets): check it exists and
  answer the same ``Provisioned`` that ``create`` would have.

Any ``ServiceError`` a handler raises (from ``ctx.call``, or ``ResourceFailed`` for its own
checks) fails the resource with that message as the reason in the stack's events, and the stack
rolls back. Handlers may be ``async def`` when they must wait (custom resources, nested stacks).

Complete example (``nubes/services/sqs/resources.py`` is the real one)::

    class Queue(ResourceType):
        type_name = "AWS::SQS::Queue"
        attributes = ("Arn", "QueueName", "QueueUrl")
        replace_on = frozenset({"QueueName", "FifoQueue"})

        def create(self, ctx: ResourceContext, props: Props) -> Provisioned:
            fifo = boolean(props.get("FifoQueue", False))
            name = props.get("QueueName") or ctx.physical_name(80 - 5 * fifo, suffix=".fifo" * fifo)
            out = ctx.call("sqs", "CreateQueue", {
                "QueueName": name, "Attributes": queue_attributes(props),
                "tags": ctx.tag_map(props.get("Tags"))})
            return self._provisioned(ctx, out["QueueUrl"], name)

        def update(self, ctx, current, props, old_props):
            ctx.call("sqs", "SetQueueAttributes",
                     {"QueueUrl": current.physical_id, "Attributes": queue_attributes(props)})
            return current

        def delete(self, ctx, current, props):
            ctx.call_ignoring(("QueueDoesNotExist",), "sqs", "DeleteQueue",
                              {"QueueUrl": current.physical_id})

        def _provisioned(self, ctx, url, name):
            arn = ctx.arn("sqs", name)
            return Provisioned(url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

from nubes.core.arns import partition_of
from nubes.core.tags import on_behalf_of
from nubes.protocol.base import ServiceError

if TYPE_CHECKING:
    from nubes.app import Environment

Props = dict[str, Any]

MODULES: dict[str, str] = {
    "AWS::CloudFormation": "nubes.services.cloudformation.builtin",
    "AWS::CDK": "nubes.services.cloudformation.builtin",
    "AWS::S3": "nubes.services.s3.resources",
    "AWS::SQS": "nubes.services.sqs.resources",
    "AWS::SNS": "nubes.services.sns.resources",
    "AWS::DynamoDB": "nubes.services.dynamodb.resources",
    "AWS::IAM": "nubes.services.iam.resources",
    "AWS::Lambda": "nubes.services.lambda_.resources",
    "AWS::Logs": "nubes.services.logs.resources",
    "AWS::SSM": "nubes.services.ssm.resources",
    "AWS::KMS": "nubes.services.kms.resources",
    "AWS::SecretsManager": "nubes.services.secretsmanager.resources",
    "AWS::EC2": "nubes.services.ec2.resources",
    "AWS::CloudWatch": "nubes.services.cloudwatch.resources",
    "AWS::Events": "nubes.services.events.resources",
    "AWS::ElasticLoadBalancingV2": "nubes.services.elbv2.resources",
    "AWS::AutoScaling": "nubes.services.autoscaling.resources",
    "AWS::Route53": "nubes.services.route53.resources",
    "AWS::ECR": "nubes.services.ecr.resources",
    "AWS::Scheduler": "nubes.services.scheduler.resources",
    "AWS::ElasticLoadBalancing": "nubes.services.elb.resources",
    "AWS::ApiGateway": "nubes.services.apigateway.resources",
    "AWS::ApiGatewayV2": "nubes.services.apigatewayv2.resources",
    "AWS::StepFunctions": "nubes.services.stepfunctions.resources",
    "AWS::Kinesis": "nubes.services.kinesis.resources",
    "AWS::KinesisFirehose": "nubes.services.firehose.resources",
    "AWS::Cognito": "nubes.services.cognito_idp.resources",
    "AWS::RDS": "nubes.services.rds.resources",
    "AWS::ElastiCache": "nubes.services.elasticache.resources",
}
"""Type-name prefix (the first two parts of ``AWS::Service::Thing``) -> the module whose
``TYPES`` dict holds that service's types. ``Custom::*`` types are custom resources."""


class ResourceFailed(ServiceError):
    """A handler's own refusal of its properties; the message becomes the event's reason."""

    def __init__(self, message: str) -> None:
        super().__init__("ValidationError", message, 400)


@dataclass
class Provisioned:
    """A resource as it stands: what the engine stores and later hands back to the handler."""

    physical_id: str
    ref: str | None = None
    """What ``Ref`` answers; the physical id when None."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """What ``Fn::GetAtt`` answers, by attribute name."""

    @property
    def ref_value(self) -> str:
        return self.physical_id if self.ref is None else self.ref

    def to_json(self) -> str:
        return json.dumps({"id": self.physical_id, "ref": self.ref, "attrs": self.attributes})

    @classmethod
    def from_json(cls, text: str) -> Provisioned:
        data = json.loads(text)
        return cls(data["id"], data.get("ref"), data.get("attrs") or {})


_NAME_CHARS = string.ascii_uppercase + string.digits


@dataclass
class ResourceContext:
    """What a handler knows about the stack it works for, and its way to the services."""

    env: Environment
    account_id: str
    region: str
    stack_name: str
    stack_id: str
    logical_id: str
    stack_tags: Sequence[Mapping[str, str]] = ()
    host: str = ""
    """The host clients reach nubes by (for URLs a resource hands out)."""
    previous_stack_tags: Sequence[Mapping[str, str]] | None = None
    """The stack's tags before an update that changes them (``previous_tags`` reads them)."""

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    def call(self, service: str, operation: str, params: Mapping[str, Any]) -> Any:
        """An operation of ``service`` as this account's root, in this stack's region. Its
        input is checked against the operation's shape first, as the gateway checks a client's,
        so a template's property of the wrong type fails with the service's own message."""
        from nubes.protocol.validate import validate

        validate(self.env.catalog.services[service].model.operation_model(operation), params)
        with on_behalf_of("aws:cloudformation:"):
            return self.env.providers.invoke(
                service, operation, dict(params), self.account_id, self.region, host=self.host
            )

    def call_ignoring(
        self, codes: Iterable[str], service: str, operation: str, params: Mapping[str, Any]
    ) -> Any:
        """``call``, answering None when the service answers one of the error ``codes`` (a
        delete of what is already gone)."""
        try:
            return self.call(service, operation, params)
        except ServiceError as exc:
            if exc.code in set(codes):
                return None
            raise

    def arn(
        self, service: str, resource: str, region: str | None = None, account: bool = True
    ) -> str:
        region = self.region if region is None else region
        owner = self.account_id if account else ""
        return f"arn:{self.partition}:{service}:{region}:{owner}:{resource}"

    def physical_name(self, max_length: int = 255, lower: bool = False, suffix: str = "") -> str:
        """The name AWS gives a resource whose template leaves it out:
        ``<stack>-<logical id>-<13 random characters>``, the first two shortened to fit."""
        tail = "".join(secrets.choice(_NAME_CHARS) for _ in range(13))
        room = max_length - len(tail) - len(suffix) - 2
        stack, logical = self.stack_name, self.logical_id
        if len(stack) + len(logical) > room:
            stack = stack[: max(room // 2, room - len(logical))]
            logical = logical[: room - len(stack)]
        name = f"{stack}-{logical}-{tail}{suffix}"
        return name.lower() if lower else name

    def tags(self, own: Iterable[Mapping[str, Any]] | None = None) -> list[dict[str, str]]:
        """The resource's tags as AWS applies them: the stack's tags, the resource's own (which
        win), and the three ``aws:cloudformation:*`` tags."""
        merged: dict[str, str] = {str(t["Key"]): str(t["Value"]) for t in self.stack_tags}
        merged.update({str(t["Key"]): str(t["Value"]) for t in own or ()})
        merged["aws:cloudformation:stack-name"] = self.stack_name
        merged["aws:cloudformation:stack-id"] = self.stack_id
        merged["aws:cloudformation:logical-id"] = self.logical_id
        return [{"Key": k, "Value": v} for k, v in merged.items()]

    def tag_map(self, own: Iterable[Mapping[str, Any]] | None = None) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.tags(own)}

    def previous_tags(self, own: Iterable[Mapping[str, Any]] | None = None) -> list[dict[str, str]]:
        """The tags the resource had before this update (``own``: its old Tags property): an
        update compares them with ``tags`` of the new properties, so a change of the stack's
        tags alone reaches every resource, as on AWS."""
        if self.previous_stack_tags is None:
            return self.tags(own)
        before = ResourceContext(**{**self.__dict__, "stack_tags": self.previous_stack_tags})
        return before.tags(own)

    def previous_tag_map(self, own: Iterable[Mapping[str, Any]] | None = None) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.previous_tags(own)}


class ResourceType:
    type_name: ClassVar[str]
    attributes: ClassVar[tuple[str, ...]] = ()
    """The names ``Fn::GetAtt`` may read."""
    replace_on: ClassVar[frozenset[str]] = frozenset()
    """Properties whose change needs replacement ("Update requires: Replacement")."""
    required: ClassVar[tuple[str, ...]] = ()
    """Properties the type cannot do without (AWS: "Property X cannot be empty")."""
    identifier: ClassVar[tuple[str, ...]] = ()
    """The properties naming an existing resource, for resource import (ResourcesToImport)."""

    def create(self, ctx: ResourceContext, props: Props) -> Provisioned | Awaitable[Provisioned]:
        raise NotImplementedError

    def update(
        self, ctx: ResourceContext, current: Provisioned, props: Props, old_props: Props
    ) -> Provisioned | Awaitable[Provisioned]:
        return current

    def delete(
        self, ctx: ResourceContext, current: Provisioned, props: Props
    ) -> Awaitable[None] | None:
        raise NotImplementedError

    def adopt(
        self, ctx: ResourceContext, identifier: Mapping[str, str], props: Props
    ) -> Provisioned:
        """Take an existing resource into a stack (an IMPORT change set): check it exists and
        answer it as ``create`` would. Types that declare ``identifier`` implement it."""
        raise ResourceFailed(f"ResourceType {self.type_name} does not support resource import")

    def needs_replacement(self, props: Props, old_props: Props) -> list[str]:
        """The changed properties that force replacement."""
        return sorted(name for name in self.replace_on if props.get(name) != old_props.get(name))


def find_type(type_name: str) -> ResourceType | None:
    """The handler of ``type_name``, None when nubes does not know the type."""
    if type_name.startswith("Custom::"):
        type_name = "AWS::CloudFormation::CustomResource"
    prefix = "::".join(type_name.split("::")[:2])
    module = MODULES.get(prefix)
    if module is None:
        return None
    try:
        types: dict[str, type[ResourceType]] = import_module(module).TYPES
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        # A service listed before its module is written offers nothing yet.
        return None
    cls = types.get(type_name)
    return None if cls is None else cls()


def given(
    props: Props, keys: Iterable[str], convert: Callable[[Any], Any] | None = None
) -> dict[str, Any]:
    """The properties among ``keys`` that the template gives, each through ``convert`` (a
    template's numbers and booleans may come quoted)."""
    return {k: props[k] if convert is None else convert(props[k]) for k in keys if k in props}


def integer(value: Any) -> int:
    """A template's number, quoted or not."""
    try:
        return int(str(value))
    except ValueError:
        raise ResourceFailed(f"Value '{value}' is not a valid integer") from None


def number(value: Any) -> float:
    """A template's decimal number, quoted or not."""
    try:
        return float(str(value))
    except ValueError:
        raise ResourceFailed(f"Value '{value}' is not a valid number") from None


def boolean(value: Any) -> bool:
    """A template's boolean: true/false in any case, quoted or not."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in ("true", "false"):
        raise ResourceFailed(f"Value '{value}' is not a valid boolean")
    return text == "true"


def as_json(value: Any) -> str:
    """A property that AWS takes as a JSON document, given as an object or a string."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
