"""The stack operations as they run: create, update, delete and their rollbacks, one task per
stack, each step committed on its own so DescribeStack* shows the progress as AWS shows it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import partition_of
from nubes.core.resources import (
    ResourceContext,
    ResourceType,
    find_type,
)
from nubes.protocol.base import ServiceError
from nubes.services.cloudformation import template as tpl
from nubes.services.cloudformation.dynamic import DynamicReferenceError, resolve_references
from nubes.services.cloudformation.intrinsics import NotReady, Scope
from nubes.services.cloudformation.models import ResourceRow, Stack, Stacks
from nubes.services.cloudformation.policy import refusal

if TYPE_CHECKING:
    from nubes.app import Environment

log = logging.getLogger("nubes.cloudformation")

DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")
SIGNAL_POLL = 0.2


_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class StepFailed(Exception):
    """A resource (or the stack's outputs) failed; the reason goes into the events."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


def duration(text: Any, default: float) -> float:
    found = DURATION.match(str(text)) if text is not None else None
    if not found:
        return default
    hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return hours * 3600.0 + minutes * 60.0 + seconds


def failure_reason(exc: BaseException, logical_id: str = "") -> str:
    if isinstance(exc, StepFailed):
        return exc.reason
    if isinstance(exc, NotReady):
        return (
            f"Template format error: Unresolved resource dependencies [{exc.logical_id}] in the "
            "Resources block of the template"
        )
    if isinstance(exc, _SHAPE_ERRORS):
        # A handler reading a property of the wrong shape: AWS checks properties against the
        # type's schema first and says so.
        detail = (
            f"required key [{exc.args[0]}] not found"
            if isinstance(exc, KeyError)
            else "a property has the wrong type or value"
        )
        return f"Properties validation failed for resource {logical_id} with message: #: {detail}"
    if isinstance(exc, ServiceError):
        if exc.code == "ValidationError" and exc.message.startswith(("Template", "Custom")):
            return exc.message
        handler_code = (
            "AlreadyExists"
            if "Exist" in exc.code and "NotExist" not in exc.code and "NonExist" not in exc.code
            else "NotFound"
            if "NotFound" in exc.code or "NoSuch" in exc.code or "NotExist" in exc.code
            else "InvalidRequest"
        )
        return (
            f'Resource handler returned message: "{exc.message}" (RequestToken: '
            f"{uuid.uuid4()}, HandlerErrorCode: {handler_code})"
        )
    return "Internal Failure"


@dataclass
class Change:
    """What an update did to one resource, so a rollback can undo it."""

    logical_id: str
    action: str
    """created, updated, replaced."""
    old: ResourceRow | None
    new: ResourceRow | None = None


class Engine:
    def __init__(self, env: Environment, stacks: Stacks) -> None:
        self.env = env
        self.store = env.state.store
        self.stacks = stacks
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.done: dict[str, asyncio.Event] = {}
        self.wakeups: dict[tuple[str, str], asyncio.Event] = {}
        self.cancelled: set[str] = set()
        """Stacks whose update CancelUpdateStack asked to stop (checked between resources)."""

    # -- running ----------------------------------------------------------------------------------

    def launch(self, stack_id: str, work: Awaitable[None]) -> None:
        """Run a stack's operation as its own task, once the request that asked has committed."""
        loop = asyncio.get_running_loop()
        self.done.setdefault(stack_id, asyncio.Event()).clear()

        async def run() -> None:
            await asyncio.sleep(0)
            try:
                await work
            except Exception:
                log.exception("stack operation on %s failed", stack_id)
                self._abandon(stack_id)
            finally:
                self.tasks.pop(stack_id, None)
                self.done[stack_id].set()

        self.tasks[stack_id] = loop.create_task(run())

    def _abandon(self, stack_id: str) -> None:
        """An operation that broke off unexpectedly leaves its stack failed, not in progress."""
        with self.store.transaction():
            stack = self.stacks.get(stack_id)
            if stack is not None and stack.status.endswith("_IN_PROGRESS"):
                status = stack.status.replace("_IN_PROGRESS", "_FAILED")
                if status.startswith("ROLLBACK") or status.startswith("UPDATE_ROLLBACK"):
                    status = status.replace("_COMPLETE_CLEANUP", "")
                stack.status = status
                stack.reason = "Internal Failure"
                self.stacks.save(stack)

    async def wait(self, stack_id: str) -> Stack:
        """The stack once its operation in progress has ended (nested stacks wait for theirs)."""
        while True:
            with self.store.transaction():
                stack = self.stacks.get(stack_id)
            assert stack is not None
            if not stack.status.endswith("_IN_PROGRESS") or stack_id not in self.tasks:
                return stack
            await self.done.setdefault(stack_id, asyncio.Event()).wait()

    def wake(self, stack_id: str, logical_id: str) -> None:
        event = self.wakeups.get((stack_id, logical_id))
        if event is not None:
            event.set()

    async def sleep_until_woken(self, stack_id: str, logical_id: str) -> None:
        event = self.wakeups.setdefault((stack_id, logical_id), asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), SIGNAL_POLL)
        event.clear()

    # -- helpers ----------------------------------------------------------------------------------

    def context(self, stack: Stack, logical_id: str) -> ResourceContext:
        return ResourceContext(
            env=self.env,
            account_id=stack.account,
            region=stack.region,
            stack_name=stack.name,
            stack_id=stack.stack_id,
            logical_id=logical_id,
            stack_tags=stack.doc.get("tags") or [],
            host=stack.doc.get("host") or "",
        )

    def scope(self, stack: Stack, template: dict[str, Any], params: dict[str, Any]) -> Scope:
        def import_value(name: str) -> str:
            with self.store.transaction():
                row = self.stacks.export(stack.account, stack.region, name)
            if row is None:
                raise StepFailed(stack.name, f"No export named {name} found.")
            return str(row["value"])

        return Scope(
            template=template,
            parameters=params,
            pseudo=pseudo_parameters(stack),
            resource_types={k: v.get("Type", "") for k, v in template["Resources"].items()},
            import_value=import_value,
            azs=self.availability_zones,
        )

    def properties(
        self, stack: Stack, scope: Scope, logical_id: str, definition: dict[str, Any]
    ) -> Any:
        """A resource's properties resolved, dynamic references included."""
        props = scope.resolve(definition.get("Properties") or {})

        def invoke(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return self.env.providers.invoke(
                service, operation, params, stack.account, stack.region
            )

        try:
            return resolve_references(definition.get("Type", ""), props, invoke)
        except DynamicReferenceError as exc:
            raise StepFailed(logical_id, str(exc)) from exc

    def availability_zones(self, region: str) -> list[str]:
        try:
            out = self.env.providers.invoke(
                "ec2", "DescribeAvailabilityZones", {}, self.env.settings.account_id, region
            )
            return [z["ZoneName"] for z in out.get("AvailabilityZones", [])]
        except (ServiceError, KeyError):
            return [region + s for s in "abc"]

    def save(self, stack: Stack, status: str, reason: str | None = None) -> None:
        with self.store.transaction():
            stack.status = status
            stack.reason = reason
            self.stacks.save(stack)
            self.stacks.event(
                stack, stack.name, "AWS::CloudFormation::Stack", status, reason, stack.stack_id
            )
        self.notify(stack, stack.name, "AWS::CloudFormation::Stack", status, reason, stack.stack_id)

    def put(
        self, stack: Stack, row: ResourceRow, reason: str | None = None, keep: bool = True
    ) -> None:
        """Record the resource's new status and its event (``keep`` False: the event only, for
        a physical resource the stack no longer holds, as an old one replaced)."""
        with self.store.transaction():
            row.updated = clock.now()
            row.reason = reason
            if keep:
                self.stacks.put_resource(stack.stack_id, row)
            self.stacks.event(
                stack,
                row.logical_id,
                row.type,
                row.status,
                reason,
                row.provisioned.physical_id if row.provisioned else None,
                row.props,
            )
        self.notify(
            stack,
            row.logical_id,
            row.type,
            row.status,
            reason,
            row.provisioned.physical_id if row.provisioned else None,
            row.props,
        )

    def notify(
        self,
        stack: Stack,
        logical_id: str,
        type_name: str,
        status: str,
        reason: str | None,
        physical_id: str | None,
        props: Any = None,
    ) -> None:
        """Each event goes to the stack's notification topics, in AWS's key='value' lines."""
        topics = stack.doc.get("notification_arns") or []
        if not topics:
            return
        fields = {
            "StackId": stack.stack_id,
            "Timestamp": datetime.fromtimestamp(clock.now(), UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "EventId": str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "Namespace": stack.account,
            "PhysicalResourceId": physical_id or "",
            "PrincipalId": stack.account,
            "ResourceProperties": json.dumps(props) if props is not None else "null",
            "ResourceStatus": status,
            "ResourceStatusReason": reason or "",
            "ResourceType": type_name,
            "StackName": stack.name,
            "ClientRequestToken": "null",
        }
        message = "".join(f"{k}='{v}'\n" for k, v in fields.items())
        for topic in topics:
            try:
                self.env.providers.invoke(
                    "sns",
                    "Publish",
                    {
                        "TopicArn": topic,
                        "Subject": "AWS CloudFormation Notification",
                        "Message": message,
                    },
                    stack.account,
                    stack.region,
                )
            except ServiceError:
                log.warning("stack %s could not notify %s", stack.name, topic)

    @staticmethod
    async def _maybe_await(value: Any) -> Any:
        return await value if inspect.isawaitable(value) else value

    # -- one resource -----------------------------------------------------------------------------

    async def create_resource(
        self, stack: Stack, scope: Scope, logical_id: str, definition: dict[str, Any], status: str
    ) -> ResourceRow:
        """Create one resource (``status``: CREATE or UPDATE, the operation the events name)."""
        type_name = definition["Type"]
        row = ResourceRow(logical_id, type_name, f"{status}_IN_PROGRESS", None, 0.0, None, None)
        try:
            handler = _handler(type_name)
            props = self.properties(stack, scope, logical_id, definition)
            row.props = props
            self.put(stack, row)
            missing = [p for p in handler.required if p not in props]
            if missing:
                raise StepFailed(logical_id, f"Property {missing[0]} cannot be empty.")
            ctx = self.context(stack, logical_id)
            provisioned = await self._maybe_await(handler.create(ctx, props))
            row.provisioned = provisioned
            self.put(stack, row, "Resource creation Initiated")
            await self.creation_policy(stack, logical_id, definition)
        except Exception as exc:
            if not isinstance(exc, (ServiceError, StepFailed, NotReady, *_SHAPE_ERRORS)):
                log.exception("creating %s (%s) failed", logical_id, type_name)
            row.status = f"{status}_FAILED"
            self.put(stack, row, failure_reason(exc, logical_id))
            raise StepFailed(logical_id, failure_reason(exc, logical_id)) from exc
        row.status = f"{status}_COMPLETE"
        self.put(stack, row)
        scope.resources[logical_id] = provisioned
        return row

    async def creation_policy(
        self, stack: Stack, logical_id: str, definition: dict[str, Any]
    ) -> None:
        """Wait for the signals a CreationPolicy asks for (SignalResource), failing on a FAILURE
        signal or the timeout."""
        policy = (definition.get("CreationPolicy") or {}).get("ResourceSignal")
        if not policy or definition["Type"] == "AWS::CloudFormation::WaitCondition":
            return
        count = int(policy.get("Count", 1))
        deadline = clock.now() + duration(policy.get("Timeout"), 300.0)
        await self.await_signals(stack, logical_id, count, deadline)

    @staticmethod
    def _check_timeout(stack: Stack, logical_id: str | None = None) -> None:
        """A creation running past TimeoutInMinutes fails, as on AWS."""
        minutes = int(stack.doc.get("timeout") or 0)
        late = minutes > 0 and clock.now() > stack.created + 60.0 * minutes
        if late and stack.status == "CREATE_IN_PROGRESS":
            raise StepFailed(
                logical_id or stack.name, "Stack creation time exceeded the specified timeout"
            )

    async def await_signals(
        self, stack: Stack, logical_id: str, count: int, deadline: float
    ) -> list[dict[str, Any]]:
        while True:
            with self.store.transaction():
                signals = self.stacks.signals(stack.stack_id, logical_id)
            if stack.stack_id in self.cancelled:
                raise StepFailed(logical_id, "Resource update cancelled")
            self._check_timeout(stack, logical_id)
            failed = [s for s in signals if s["status"] == "FAILURE"]
            if failed:
                raise StepFailed(
                    logical_id,
                    f"Received FAILURE signal with UniqueId {failed[0]['unique_id']}",
                )
            succeeded = [s for s in signals if s["status"] == "SUCCESS"]
            if len(succeeded) >= count:
                return [dict(s) for s in succeeded]
            if clock.now() >= deadline:
                raise StepFailed(
                    logical_id,
                    f"Failed to receive {count} resource signal(s) within the specified duration",
                )
            await self.sleep_until_woken(stack.stack_id, logical_id)

    async def delete_resource(
        self,
        stack: Stack,
        row: ResourceRow,
        definition: dict[str, Any] | None,
        status: str,
        keep: bool = True,
    ) -> None:
        """Delete one resource as DeletionPolicy says; raises StepFailed when it cannot."""
        policy = (definition or {}).get("DeletionPolicy", "Delete")
        if row.provisioned is None:
            row.status = "DELETE_COMPLETE"
            self.put(stack, row, keep=keep)
            return
        if policy == "Retain" or (policy == "RetainExceptOnCreate" and status != "ROLLBACK"):
            row.status = "DELETE_SKIPPED"
            self.put(stack, row, keep=keep)
            return
        row.status = "DELETE_IN_PROGRESS"
        self.put(stack, row, keep=keep)
        try:
            handler = _handler(row.type)
            ctx = self.context(stack, row.logical_id)
            await self._maybe_await(handler.delete(ctx, row.provisioned, row.props or {}))
        except Exception as exc:
            if not isinstance(exc, ServiceError | StepFailed):
                log.exception("deleting %s failed", row.logical_id)
            row.status = "DELETE_FAILED"
            self.put(stack, row, failure_reason(exc), keep=keep)
            raise StepFailed(row.logical_id, failure_reason(exc)) from exc
        row.status = "DELETE_COMPLETE"
        self.put(stack, row, keep=keep)

    # -- outputs and exports ----------------------------------------------------------------------

    def outputs(self, stack: Stack, scope: Scope) -> tuple[list[dict[str, str]], dict[str, str]]:
        found: list[dict[str, str]] = []
        exports: dict[str, str] = {}
        for key, output in (scope.template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not scope.condition(condition):
                continue
            try:
                value = scope.resolve(output.get("Value"))
                entry = {"OutputKey": key, "OutputValue": _text(value)}
                if "Description" in output:
                    entry["Description"] = _text(scope.resolve(output["Description"]))
                if "Export" in output:
                    name = _text(scope.resolve(output["Export"].get("Name")))
                    entry["ExportName"] = name
                    exports[name] = entry["OutputValue"]
            except (ServiceError, NotReady) as exc:
                raise StepFailed(stack.name, failure_reason(exc)) from exc
            found.append(entry)
        with self.store.transaction():
            for name, value in exports.items():
                row = self.stacks.export(stack.account, stack.region, name)
                if row is not None and row["stack_id"] != stack.stack_id:
                    owner = self.stacks.get(row["stack_id"])
                    raise StepFailed(
                        stack.name,
                        f"Export with name {name} is already exported by stack "
                        f"{owner.name if owner else row['stack_id']}",
                    )
                users = self.stacks.importers(stack.account, stack.region, name)
                if row is not None and row["value"] != value and users:
                    raise StepFailed(
                        stack.name,
                        f"Cannot update export {name} as it is in use by {self._names(users)}",
                    )
            for row in self.stacks.exports(stack.account, stack.region):
                if row["stack_id"] == stack.stack_id and row["name"] not in exports:
                    users = self.stacks.importers(stack.account, stack.region, row["name"])
                    if users:
                        raise StepFailed(
                            stack.name,
                            f"Cannot delete export {row['name']} as it is in use by "
                            f"{self._names(users)}",
                        )
        return found, exports

    def _names(self, stack_ids: list[str]) -> str:
        names = []
        for stack_id in stack_ids:
            found = self.stacks.get(stack_id)
            names.append(found.name if found else stack_id)
        return ", ".join(names)

    def publish(self, stack: Stack, outputs: list[dict[str, str]], exports: dict[str, str]) -> None:
        with self.store.transaction():
            stack.doc["outputs"] = outputs
            self.stacks.set_exports(stack, exports)
            self.stacks.set_imports(stack, imported_names(stack.template, stack))
            self.stacks.save(stack)

    # -- create -----------------------------------------------------------------------------------

    async def create(self, stack: Stack) -> None:
        template = stack.template
        scope = self.scope(stack, template, stack.doc["parameters"])
        self.save(stack, "CREATE_IN_PROGRESS", "User Initiated")
        made: list[str] = []
        try:
            for logical_id in tpl.order(template):
                self._check_timeout(stack)
                if not scope.included(logical_id):
                    continue
                definition = template["Resources"][logical_id]
                made.append(logical_id)
                await self.create_resource(stack, scope, logical_id, definition, "CREATE")
            outputs, exports = self.outputs(stack, scope)
        except (StepFailed, ServiceError) as exc:
            await self.create_failed(stack, made, exc)
            return
        self.publish(stack, outputs, exports)
        self.save(stack, "CREATE_COMPLETE")

    async def create_failed(self, stack: Stack, made: list[str], exc: BaseException) -> None:
        failed = exc.logical_id if isinstance(exc, StepFailed) else stack.name
        if failed == stack.name:
            reason = failure_reason(exc)
        else:
            reason = f"The following resource(s) failed to create: [{failed}]. "
        on_failure = stack.doc.get("on_failure") or "ROLLBACK"
        if on_failure == "DO_NOTHING":
            self.save(stack, "CREATE_FAILED", reason)
            return
        if on_failure == "DELETE":
            self.save(stack, "ROLLBACK_IN_PROGRESS", reason + "Delete requested by user.")
            await self._undo(stack, made)
            self.save(stack, "ROLLBACK_COMPLETE")
            await self.delete(stack)
            return
        suffix = "" if failed == stack.name else "Rollback requested by user."
        self.save(stack, "ROLLBACK_IN_PROGRESS", reason + suffix)
        if await self._undo(stack, made):
            self.save(stack, "ROLLBACK_COMPLETE")
        else:
            self.save(stack, "ROLLBACK_FAILED", "The following resource(s) failed to delete.")

    async def roll_back_create(self, stack: Stack) -> None:
        """RollbackStack of a stack whose creation failed with rollback disabled."""
        self.save(stack, "ROLLBACK_IN_PROGRESS", "User Initiated")
        with self.store.transaction():
            made = list(self.stacks.resources(stack.stack_id))
        if await self._undo(stack, made):
            self.save(stack, "ROLLBACK_COMPLETE")
        else:
            self.save(stack, "ROLLBACK_FAILED", "The following resource(s) failed to delete.")

    async def _undo(self, stack: Stack, made: list[str]) -> bool:
        with self.store.transaction():
            rows = self.stacks.resources(stack.stack_id)
        resources = stack.template["Resources"]
        ok = True
        for logical_id in reversed(made):
            row = rows.get(logical_id)
            if row is None or row.status == "DELETE_COMPLETE":
                continue
            try:
                await self.delete_resource(stack, row, resources.get(logical_id), "ROLLBACK")
            except StepFailed:
                ok = False
        return ok

    # -- update -----------------------------------------------------------------------------------

    async def update(self, stack: Stack, previous: dict[str, Any]) -> None:
        """Move the stack from ``previous`` (its doc before) to its doc now."""
        self.save(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        stack.doc["tags_before"] = previous.get("tags") or []
        old_template: dict[str, Any] = previous["template"]
        template = stack.template
        with self.store.transaction():
            rows = self.stacks.resources(stack.stack_id)
        scope = self.scope(stack, template, stack.doc["parameters"])
        for logical_id, row in rows.items():
            if row.provisioned is not None and row.status not in ("DELETE_COMPLETE",):
                scope.resources[logical_id] = row.provisioned
        changes: list[Change] = []
        keep: set[str] = set()
        try:
            self._check_removals(stack, rows, template, scope)
            for logical_id in tpl.order(template):
                if stack.stack_id in self.cancelled:
                    raise StepFailed(stack.name, "Stack update cancelled")
                if not scope.included(logical_id):
                    continue
                keep.add(logical_id)
                definition = template["Resources"][logical_id]
                old = rows.get(logical_id)
                alive = (
                    old is not None
                    and old.provisioned is not None
                    and old.status
                    not in (
                        "DELETE_COMPLETE",
                        "CREATE_FAILED",
                    )
                )
                if not alive:
                    changes.append(Change(logical_id, "created", old))
                    await self.create_resource(stack, scope, logical_id, definition, "CREATE")
                    continue
                assert old is not None
                await self._update_one(stack, scope, logical_id, definition, old, changes)
            outputs, exports = self.outputs(stack, scope)
        except (StepFailed, ServiceError) as exc:
            self.cancelled.discard(stack.stack_id)
            await self.update_failed(stack, previous, changes, exc)
            return
        self.cancelled.discard(stack.stack_id)
        self.publish(stack, outputs, exports)
        self.save(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        for change in reversed(changes):
            if change.action == "replaced" and change.old is not None:
                policy = template["Resources"][change.logical_id].get("UpdateReplacePolicy")
                await self._quiet_delete(
                    stack, change.old, {"DeletionPolicy": policy or "Delete"}, keep=False
                )
        for logical_id in reversed(
            tpl.order(old_template, [k for k in old_template["Resources"] if k in rows])
        ):
            if logical_id in keep:
                continue
            row = rows[logical_id]
            if row.status == "DELETE_COMPLETE":
                continue
            await self._quiet_delete(stack, row, old_template["Resources"][logical_id])
            with self.store.transaction():
                self.stacks.drop_resource(stack.stack_id, logical_id)
        stack.doc.pop("previous", None)
        stack.doc.pop("policy_during_update", None)
        stack.doc.pop("tags_before", None)
        self.save(stack, "UPDATE_COMPLETE")

    @staticmethod
    def _policy(stack: Stack) -> str | None:
        policy: str | None = stack.doc.get("policy_during_update") or stack.doc.get("policy")
        return policy

    def _check_removals(
        self, stack: Stack, rows: dict[str, ResourceRow], template: dict[str, Any], scope: Scope
    ) -> None:
        """Resources the update removes must be ones the stack policy lets go."""
        for logical_id, row in rows.items():
            if row.status == "DELETE_COMPLETE":
                continue
            if logical_id in template["Resources"] and scope.included(logical_id):
                continue
            refused = refusal(self._policy(stack), "Update:Delete", logical_id, row.type)
            if refused:
                self.put(stack, ResourceRow(**{**row.__dict__, "status": "UPDATE_FAILED"}), refused)
                raise StepFailed(logical_id, refused)

    async def _update_one(
        self,
        stack: Stack,
        scope: Scope,
        logical_id: str,
        definition: dict[str, Any],
        old: ResourceRow,
        changes: list[Change],
    ) -> None:
        type_name = definition["Type"]
        try:
            props = self.properties(stack, scope, logical_id, definition)
        except (ServiceError, NotReady, StepFailed) as exc:
            row = ResourceRow(
                logical_id, type_name, "UPDATE_FAILED", None, 0.0, old.provisioned, old.props
            )
            self.put(stack, row, failure_reason(exc, logical_id))
            raise StepFailed(logical_id, failure_reason(exc, logical_id)) from exc
        retag = stack.doc.get("tags") != stack.doc.get("tags_before", stack.doc.get("tags"))
        if props == old.props and type_name == old.type and not retag:
            return
        handler = _handler(type_name)
        replace = type_name != old.type or bool(handler.needs_replacement(props, old.props or {}))
        refused = refusal(
            self._policy(stack),
            "Update:Replace" if replace else "Update:Modify",
            logical_id,
            type_name,
        )
        if refused:
            row = ResourceRow(
                logical_id, type_name, "UPDATE_FAILED", None, 0.0, old.provisioned, old.props
            )
            self.put(stack, row, refused)
            raise StepFailed(logical_id, refused)
        if replace:
            changes.append(Change(logical_id, "replaced", old))
            row = ResourceRow(logical_id, type_name, "UPDATE_IN_PROGRESS", None, 0.0, None, props)
            self.put(
                stack,
                row,
                "Requested update requires the creation of a new physical resource; hence "
                "creating one.",
            )
            new = await self.create_resource(stack, scope, logical_id, definition, "UPDATE")
            changes[-1].new = new
            return
        row = ResourceRow(
            logical_id, type_name, "UPDATE_IN_PROGRESS", None, 0.0, old.provisioned, props
        )
        changes.append(Change(logical_id, "updated", old, row))
        self.put(stack, row)
        try:
            assert old.provisioned is not None
            ctx = self.context(stack, logical_id)
            if retag:
                ctx.previous_stack_tags = stack.doc.get("tags_before") or []
            provisioned = await self._maybe_await(
                handler.update(ctx, old.provisioned, props, old.props or {})
            )
        except Exception as exc:
            if not isinstance(exc, ServiceError | StepFailed):
                log.exception("updating %s failed", logical_id)
            row.status = "UPDATE_FAILED"
            self.put(stack, row, failure_reason(exc, logical_id))
            raise StepFailed(logical_id, failure_reason(exc, logical_id)) from exc
        row.provisioned = provisioned
        row.status = "UPDATE_COMPLETE"
        self.put(stack, row)
        scope.resources[logical_id] = provisioned

    async def _quiet_delete(
        self,
        stack: Stack,
        row: ResourceRow,
        definition: dict[str, Any] | None,
        keep: bool = True,
    ) -> None:
        """Deletes in a cleanup phase: a failure is reported in the events, not fatal."""
        with contextlib.suppress(StepFailed):
            await self.delete_resource(stack, row, definition, "CLEANUP", keep)

    async def update_failed(
        self, stack: Stack, previous: dict[str, Any], changes: list[Change], exc: BaseException
    ) -> None:
        failed = exc.logical_id if isinstance(exc, StepFailed) else stack.name
        reason = (
            failure_reason(exc)
            if failed == stack.name
            else f"The following resource(s) failed to update: [{failed}]. "
        )
        if stack.doc.get("disable_rollback"):
            self.save(stack, "UPDATE_FAILED", reason)
            return
        self.save(stack, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
        new_doc = stack.doc
        stack.doc = {**previous, "host": new_doc.get("host")}
        old_template = stack.template
        scope = self.scope(stack, old_template, stack.doc["parameters"])
        cleanup: list[ResourceRow] = []
        ok = True
        for change in reversed(changes):
            with self.store.transaction():
                current = self.stacks.resources(stack.stack_id).get(change.logical_id)
            try:
                if change.action == "created":
                    if current is not None:
                        await self.delete_resource(
                            stack,
                            current,
                            old_template["Resources"].get(change.logical_id),
                            "ROLLBACK",
                        )
                        with self.store.transaction():
                            self.stacks.drop_resource(stack.stack_id, change.logical_id)
                elif change.action == "replaced" and change.old is not None:
                    if current is not None and current.provisioned is not None:
                        cleanup.append(current)
                    restored = change.old
                    restored.status = "UPDATE_COMPLETE"
                    self.put(stack, restored)
                elif change.action == "updated" and change.old is not None and current is not None:
                    await self._revert(stack, change.old, current)
            except StepFailed:
                ok = False
        if not ok:
            self.save(stack, "UPDATE_ROLLBACK_FAILED")
            return
        with self.store.transaction():
            rows = self.stacks.resources(stack.stack_id)
        for logical_id, row in rows.items():
            if row.provisioned is not None:
                scope.resources[logical_id] = row.provisioned
        try:
            outputs, exports = self.outputs(stack, scope)
            self.publish(stack, outputs, exports)
        except StepFailed:
            pass
        self.save(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for row in cleanup:
            await self._quiet_delete(stack, row, None, keep=False)
        self.save(stack, "UPDATE_ROLLBACK_COMPLETE")

    async def _revert(self, stack: Stack, old: ResourceRow, current: ResourceRow) -> None:
        row = ResourceRow(
            old.logical_id,
            old.type,
            "UPDATE_IN_PROGRESS",
            None,
            0.0,
            current.provisioned,
            old.props,
        )
        self.put(stack, row)
        try:
            assert current.provisioned is not None
            handler = _handler(old.type)
            ctx = self.context(stack, old.logical_id)
            provisioned = await self._maybe_await(
                handler.update(ctx, current.provisioned, old.props or {}, current.props or {})
            )
        except Exception as exc:
            row.status = "UPDATE_FAILED"
            self.put(stack, row, failure_reason(exc))
            raise StepFailed(old.logical_id, failure_reason(exc)) from exc
        row.provisioned = provisioned
        row.status = "UPDATE_COMPLETE"
        self.put(stack, row)

    # -- import ---------------------------------------------------------------------------------

    async def import_resources(
        self, stack: Stack, previous: dict[str, Any] | None, wanted: dict[str, dict[str, str]]
    ) -> None:
        """Take existing resources into the stack (an IMPORT change set executed)."""
        self.save(stack, "IMPORT_IN_PROGRESS", "User Initiated")
        template = stack.template
        scope = self.scope(stack, template, stack.doc["parameters"])
        with self.store.transaction():
            for logical_id, row in self.stacks.resources(stack.stack_id).items():
                if row.provisioned is not None:
                    scope.resources[logical_id] = row.provisioned
        taken: list[str] = []
        try:
            for logical_id in tpl.order(
                template, [k for k in template["Resources"] if k in wanted]
            ):
                definition = template["Resources"][logical_id]
                row = ResourceRow(
                    logical_id, definition["Type"], "IMPORT_IN_PROGRESS", None, 0.0, None, None
                )
                taken.append(logical_id)
                try:
                    row.props = self.properties(stack, scope, logical_id, definition)
                    self.put(stack, row)
                    ctx = self.context(stack, logical_id)
                    row.provisioned = _handler(row.type).adopt(ctx, wanted[logical_id], row.props)
                except Exception as exc:
                    row.status = "IMPORT_FAILED"
                    self.put(stack, row, failure_reason(exc, logical_id))
                    raise StepFailed(logical_id, failure_reason(exc, logical_id)) from exc
                row.status = "IMPORT_COMPLETE"
                self.put(stack, row)
                scope.resources[logical_id] = row.provisioned
            outputs, exports = self.outputs(stack, scope)
        except (StepFailed, ServiceError) as exc:
            failed = exc.logical_id if isinstance(exc, StepFailed) else stack.name
            self.save(
                stack,
                "IMPORT_ROLLBACK_IN_PROGRESS",
                f"The following resource(s) failed to import: [{failed}]. ",
            )
            with self.store.transaction():
                for logical_id in taken:
                    self.stacks.drop_resource(stack.stack_id, logical_id)
            if previous is not None:
                stack.doc = {**previous, "host": stack.doc.get("host")}
            self.save(stack, "IMPORT_ROLLBACK_COMPLETE")
            return
        self.publish(stack, outputs, exports)
        self.save(stack, "IMPORT_COMPLETE")

    # -- delete -----------------------------------------------------------------------------------

    async def delete(self, stack: Stack) -> None:
        self.save(stack, "DELETE_IN_PROGRESS", "User Initiated")
        with self.store.transaction():
            rows = self.stacks.resources(stack.stack_id)
            for export in self.stacks.exports(stack.account, stack.region):
                if export["stack_id"] != stack.stack_id:
                    continue
                users = self.stacks.importers(stack.account, stack.region, export["name"])
                users = [u for u in users if u != stack.stack_id]
                if users:
                    self.save(
                        stack,
                        "DELETE_FAILED",
                        f"Export {export['name']} cannot be deleted as it is in use by "
                        f"{self._names(users)}",
                    )
                    return
        template = stack.template
        resources = template.get("Resources") or {}
        known = [k for k in tpl.order(template) if k in rows] if resources else []
        known += [k for k in rows if k not in known]
        failed: list[str] = []
        for logical_id in reversed(known):
            row = rows[logical_id]
            if row.status in ("DELETE_COMPLETE", "DELETE_SKIPPED"):
                continue
            try:
                await self.delete_resource(stack, row, resources.get(logical_id), "DELETE")
            except StepFailed:
                failed.append(logical_id)
        if failed:
            self.save(
                stack,
                "DELETE_FAILED",
                f"The following resource(s) failed to delete: [{', '.join(failed)}]. ",
            )
            return
        with self.store.transaction():
            self.stacks.set_exports(stack, {})
            self.stacks.set_imports(stack, set())
            self.stacks.drop_change_sets(stack.stack_id)
            stack.deleted = clock.now()
        self.save(stack, "DELETE_COMPLETE")


def _handler(type_name: str) -> ResourceType:
    handler = find_type(type_name)
    if handler is None:
        raise StepFailed("", f"Template format error: Unrecognized resource types: [{type_name}]")
    return handler


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def pseudo_parameters(stack: Stack) -> dict[str, Any]:
    partition = partition_of(stack.region)
    return {
        "AWS::AccountId": stack.account,
        "AWS::Region": stack.region,
        "AWS::StackName": stack.name,
        "AWS::StackId": stack.stack_id,
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        "AWS::NotificationARNs": list(stack.doc.get("notification_arns") or []),
    }


def imported_names(template: dict[str, Any], stack: Stack) -> set[str]:
    """The export names the template imports (those a parameter or literal names)."""
    names: set[str] = set()
    scope = Scope(template, stack.doc.get("parameters") or {}, pseudo_parameters(stack))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if len(value) == 1 and "Fn::ImportValue" in value:
                with contextlib.suppress(ServiceError, NotReady):
                    names.add(str(scope.resolve(value["Fn::ImportValue"])))
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(template.get("Resources"))
    walk(template.get("Outputs"))
    return names
