"""AWS CloudFormation: stacks made from JSON and YAML templates (SAM too), change sets, exports,
signals; the resources themselves are made by each service's resource types
(``nubes/core/resources.py``), through the same operations the API offers."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from nubes.core import clock
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.resources import find_type
from nubes.protocol.base import ServiceError
from nubes.protocol.timestamps import to_datetime
from nubes.services.base import ServiceProvider
from nubes.services.cloudformation import parameters as params_mod
from nubes.services.cloudformation import template as tpl
from nubes.services.cloudformation.builtin import NESTED_IN
from nubes.services.cloudformation.changes import describe_changes
from nubes.services.cloudformation.engine import Engine, pseudo_parameters
from nubes.services.cloudformation.errors import errors, validation
from nubes.services.cloudformation.intrinsics import Scope
from nubes.services.cloudformation.models import MIGRATIONS, Stack, Stacks
from nubes.services.cloudformation.transforms import expand

if TYPE_CHECKING:
    from nubes.app import Environment

STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
MAX_BODY = 51_200
MAX_URL_BODY = 1_000_000
IAM_TYPES = frozenset(
    {
        "AWS::IAM::AccessKey",
        "AWS::IAM::Group",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::IAM::UserToGroupAddition",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::UserPolicy",
        "AWS::IAM::GroupPolicy",
    }
)
NAMED_IAM = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
UPDATABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
PAGE = 100
RESPONSE_BUCKETS = ("/cloudformation-custom-resource-response-", "/cloudformation-waitcondition-")

Json = dict[str, Any]


class CloudFormationProvider(ServiceProvider):
    service = "cloudformation"
    migrations = MIGRATIONS

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.stacks = Stacks(self.store)
        self.engine = Engine(env, self.stacks)

    @classmethod
    def wants_start(cls, env: Environment) -> bool:
        return cls.has_rows(
            env, "SELECT 1 FROM cfn_stacks WHERE status LIKE '%_IN_PROGRESS' LIMIT 1"
        )

    async def start(self) -> None:
        from nubes.services.cloudformation.builtin import response_endpoint

        self.env.gateway.interceptors.append(response_endpoint(self))
        # A stack whose operation was cut short by a restart cannot resume where it was: it ends
        # failed, as AWS ends an operation whose handler stopped answering.
        with self.store.transaction():
            for stack in self.stacks.in_progress():
                if stack.status == "REVIEW_IN_PROGRESS":
                    continue
                stack.status = stack.status.replace("_IN_PROGRESS", "_FAILED")
                stack.reason = "The operation was interrupted by a restart of nubes."
                self.stacks.save(stack)

    async def stop(self) -> None:
        for task in list(self.engine.tasks.values()):
            task.cancel()

    # -- lookups ----------------------------------------------------------------------------------

    def _stack(self, ctx: RequestContext, name_or_id: str, live: bool = True) -> Stack:
        stack: Stack | None
        if name_or_id.startswith("arn:"):
            stack = self.stacks.get(name_or_id)
            if stack is not None and (
                stack.account != ctx.account_id or (live and stack.status == "DELETE_COMPLETE")
            ):
                stack = None
        else:
            stack = self.stacks.live_by_name(ctx.account_id, ctx.region, name_or_id)
        if stack is None:
            raise validation(f"Stack with id {name_or_id} does not exist")
        return stack

    def _busy(self, stack: Stack, action: str) -> None:
        if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
            raise validation(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be {action}."
            )

    # -- templates --------------------------------------------------------------------------------

    def _body(self, ctx: RequestContext, req: Mapping[str, Any], previous: Stack | None) -> str:
        body, url = req.get("TemplateBody"), req.get("TemplateURL")
        if req.get("UsePreviousTemplate"):
            if previous is None:
                raise validation("UsePreviousTemplate is only valid for an existing stack")
            return str(previous.doc["template_body"])
        if body is not None and url is not None:
            raise validation("You cannot specify both TemplateURL and TemplateBody")
        if body is not None:
            if len(body.encode()) > MAX_BODY:
                raise validation(
                    "1 validation error detected: Value at 'templateBody' failed to satisfy "
                    f"constraint: Member must have length less than or equal to {MAX_BODY}"
                )
            return str(body)
        if url is not None:
            return self.read_url(ctx, str(url))
        raise validation("Either Template URL or Template Body must be specified.")

    def read_url(self, ctx: RequestContext, url: str) -> str:
        """A template (or included snippet) kept in S3, read through the S3 provider."""
        bucket, key = s3_location(url)
        try:
            out = self.env.providers.invoke(
                "s3", "GetObject", {"Bucket": bucket, "Key": key}, ctx.account_id, ctx.region
            )
        except ServiceError as exc:
            raise validation(f"S3 error: {exc.message}") from None
        data = read_body(out.get("Body"))
        if len(data) > MAX_URL_BODY:
            raise validation("Template may not exceed 1000000 bytes in size.")
        return data.decode("utf-8", "replace")

    def _prepare(
        self,
        ctx: RequestContext,
        req: Mapping[str, Any],
        previous: Stack | None,
        change_set: bool = False,
    ) -> Json:
        """Everything a stack operation needs from its request: the template read, expanded,
        checked; parameters resolved; capabilities checked."""
        body = self._body(ctx, req, previous)
        original = tpl.parse(body)
        given = list(req.get("Parameters") or [])
        raw_given = {
            p["ParameterKey"]: p.get("ParameterValue", "")
            for p in given
            if "ParameterKey" in p and not p.get("UsePreviousValue")
        }
        declared_transforms = tpl.transforms(original)
        template = expand(self, ctx, original, raw_given)
        tpl.check(template)
        declared = template.get("Parameters") or {}
        params_mod.check_declarations(declared)
        previous_raw = previous.doc.get("raw_parameters", {}) if previous else {}
        values, raw, resolved = params_mod.resolve(declared, given, previous_raw, self._lookup(ctx))
        # Conditions depend on parameters only: a broken one is refused before anything runs.
        scope = Scope(
            template, values, {**pseudo_parameters(_probe(ctx, req)), "AWS::NoValue": None}
        )
        for name in template.get("Conditions") or {}:
            scope.condition(name)
        scope.check_rules()
        capabilities = list(req.get("Capabilities") or [])
        needed, reason_types = required_capabilities(template)
        if declared_transforms and not change_set:
            needed.append("CAPABILITY_AUTO_EXPAND")
        missing = [c for c in needed if c not in capabilities]
        if "CAPABILITY_NAMED_IAM" in capabilities and missing == ["CAPABILITY_IAM"]:
            missing = []
        if missing:
            raise errors.InsufficientCapabilitiesException(
                f"Requires capabilities : [{missing[0]}]"
            )
        del reason_types
        return {
            "template_body": body,
            "template": template,
            "transformed": bool(declared_transforms),
            "parameters": values,
            "raw_parameters": raw,
            "resolved_parameters": resolved,
            "capabilities": capabilities,
            "description": template.get("Description"),
        }

    def _lookup(self, ctx: RequestContext) -> params_mod.Lookup:
        def lookup(service: str, operation: str, params: dict[str, Any]) -> Any:
            return self.env.providers.invoke(service, operation, params, ctx.account_id, ctx.region)

        return lookup

    # -- stacks -----------------------------------------------------------------------------------

    def _new_stack(self, ctx: RequestContext, req: Mapping[str, Any], status: str) -> Stack:
        name = req["StackName"]
        if not STACK_NAME.match(name):
            raise validation(
                f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
            )
        partition = ctx.partition
        stack_id = (
            f"arn:{partition}:cloudformation:{ctx.region}:{ctx.account_id}:stack/{name}/"
            f"{uuid.uuid4()}"
        )
        return Stack(
            stack_id, ctx.account_id, ctx.region, name, status, None, clock.now(), None, None
        )

    def _settings(self, ctx: RequestContext, req: Mapping[str, Any], doc: Json) -> None:
        tags = list(req.get("Tags") or [])
        if len(tags) > 50:
            raise validation("The number of tags exceeds the limit of 50")
        doc["tags"] = tags
        doc["notification_arns"] = list(req.get("NotificationARNs") or [])
        doc["host"] = ctx.request.host or f"localhost:{self.env.settings.port}"
        doc["scheme"] = ctx.request.scheme or "http"
        for key, field in (
            ("disable_rollback", "DisableRollback"),
            ("timeout", "TimeoutInMinutes"),
            ("role_arn", "RoleARN"),
            ("on_failure", "OnFailure"),
        ):
            if field in req:
                doc[key] = req[field]
        if req.get("StackPolicyBody"):
            doc["policy"] = _policy(req["StackPolicyBody"])

    def create_stack(self, ctx: RequestContext, req: Json) -> Json:
        existing = self.stacks.live_by_name(ctx.account_id, ctx.region, req["StackName"])
        if req.get("OnFailure") and "DisableRollback" in req:
            raise validation("You cannot specify both DisableRollback and OnFailure.")
        stack = self._new_stack(ctx, req, "CREATE_IN_PROGRESS")
        if existing is not None:
            raise errors.AlreadyExistsException(f"Stack [{req['StackName']}] already exists")
        doc = self._prepare(ctx, req, None)
        self._settings(ctx, req, doc)
        if req.get("DisableRollback"):
            doc["on_failure"] = "DO_NOTHING"
        doc["termination_protection"] = bool(req.get("EnableTerminationProtection"))
        nested_in = NESTED_IN.get()
        if nested_in is not None:
            doc["parent_id"], doc["root_id"] = nested_in
        stack.doc = doc
        self.stacks.insert(stack)
        self.engine.launch(stack.stack_id, self.engine.create(stack))
        return {"StackId": stack.stack_id}

    def update_stack(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        self._busy(stack, "updated")
        if stack.status not in UPDATABLE:
            raise validation(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
            )
        doc = self._prepare(ctx, req, stack)
        self._start_update(ctx, stack, req, doc)
        return {"StackId": stack.stack_id}

    def _start_update(
        self, ctx: RequestContext, stack: Stack, req: Mapping[str, Any], doc: Json
    ) -> None:
        previous = {k: v for k, v in stack.doc.items() if k != "previous"}
        merged = {**previous, **doc}
        self._settings(ctx, {**_kept_settings(previous), **req}, merged)
        if "Tags" not in req:
            merged["tags"] = previous.get("tags", [])
        if req.get("StackPolicyDuringUpdateBody"):
            merged["policy_during_update"] = _policy(req["StackPolicyDuringUpdateBody"])
        if (
            merged["template"] == previous.get("template")
            and merged["raw_parameters"] == previous.get("raw_parameters")
            and merged["tags"] == previous.get("tags")
        ):
            raise validation("No updates are to be performed.")
        stack.doc = merged
        stack.updated = clock.now()
        stack.status = "UPDATE_IN_PROGRESS"
        self.stacks.save(stack)
        self.engine.launch(stack.stack_id, self.engine.update(stack, previous))

    def delete_stack(self, ctx: RequestContext, req: Json) -> Json:
        try:
            stack = self._stack(ctx, req["StackName"])
        except ServiceError:
            return {}  # deleting a stack that is not there succeeds, as on AWS
        if stack.doc.get("termination_protection"):
            raise validation(
                f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
            )
        if stack.status == "DELETE_IN_PROGRESS":
            return {}
        self._busy(stack, "deleted")
        retain = set(req.get("RetainResources") or [])
        if req.get("DeletionMode") == "FORCE_DELETE_STACK":
            if stack.status != "DELETE_FAILED":
                raise validation(
                    "Invalid operation on stack: FORCE_DELETE_STACK can only be specified when "
                    "the stack is in the DELETE_FAILED state"
                )
            # What failed to delete is left in place, the stack goes.
            retain |= {
                k
                for k, r in self.stacks.resources(stack.stack_id).items()
                if r.status == "DELETE_FAILED"
            }
        if retain:
            if stack.status != "DELETE_FAILED":
                raise validation(
                    "Invalid operation on stack: RetainResources can only be specified when the "
                    "stack is in the DELETE_FAILED state"
                )
            for logical_id, row in self.stacks.resources(stack.stack_id).items():
                if logical_id in retain:
                    row.status = "DELETE_SKIPPED"
                    self.stacks.put_resource(stack.stack_id, row)
        stack.status = "DELETE_IN_PROGRESS"
        self.stacks.save(stack)
        self.engine.launch(stack.stack_id, self.engine.delete(stack))
        return {}

    def cancel_update_stack(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        if stack.status != "UPDATE_IN_PROGRESS":
            raise validation(
                f"CancelUpdateStack cannot be called from current stack status {stack.status}"
            )
        self.engine.cancelled.add(stack.stack_id)
        return {}

    def rollback_stack(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        if stack.status != "CREATE_FAILED":
            raise validation(
                f"Stack {stack.stack_id} is in {stack.status} state and can not be rolled back"
            )
        stack.status = "ROLLBACK_IN_PROGRESS"
        self.stacks.save(stack)
        self.engine.launch(stack.stack_id, self.engine.roll_back_create(stack))
        return {"StackId": stack.stack_id}

    def describe_account_limits(self, ctx: RequestContext, req: Json) -> Json:
        return {
            "AccountLimits": [
                {"Name": "StackLimit", "Value": 2000},
                {"Name": "StackOutputsLimit", "Value": 200},
                {"Name": "ConcurrentResourcesLimit", "Value": 2500},
            ]
        }

    def update_termination_protection(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        stack.doc["termination_protection"] = bool(req["EnableTerminationProtection"])
        self.stacks.save(stack)
        return {"StackId": stack.stack_id}

    def describe_stacks(self, ctx: RequestContext, req: Json) -> Json:
        name = req.get("StackName")
        stacks = (
            [self._stack(ctx, name, live=False)]
            if name
            else self.stacks.listed(ctx.account_id, ctx.region)
        )
        return _page([self._describe(s) for s in stacks], req, "Stacks", {})

    def _describe(self, stack: Stack) -> Json:
        doc = stack.doc
        out: Json = {
            "StackId": stack.stack_id,
            "StackName": stack.name,
            "CreationTime": to_datetime(stack.created),
            "StackStatus": stack.status,
            "DisableRollback": doc.get("on_failure") == "DO_NOTHING",
            "NotificationARNs": doc.get("notification_arns", []),
            "Capabilities": doc.get("capabilities", []),
            "Tags": doc.get("tags", []),
            "EnableTerminationProtection": bool(doc.get("termination_protection")),
            "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        }
        declared = (stack.template.get("Parameters") or {}) if stack.template else {}
        shown = params_mod.shown(
            declared, doc.get("raw_parameters", {}), doc.get("resolved_parameters", {})
        )
        if shown:
            out["Parameters"] = shown
        if stack.reason:
            out["StackStatusReason"] = stack.reason
        if doc.get("description"):
            out["Description"] = doc["description"]
        if stack.updated:
            out["LastUpdatedTime"] = to_datetime(stack.updated)
        if stack.deleted:
            out["DeletionTime"] = to_datetime(stack.deleted)
        if doc.get("outputs"):
            out["Outputs"] = doc["outputs"]
        for key, field in (
            ("timeout", "TimeoutInMinutes"),
            ("role_arn", "RoleARN"),
            ("parent_id", "ParentId"),
            ("root_id", "RootId"),
            ("change_set_id", "ChangeSetId"),
        ):
            if doc.get(key) is not None:
                out[field] = doc[key]
        return out

    def list_stacks(self, ctx: RequestContext, req: Json) -> Json:
        wanted = set(req.get("StackStatusFilter") or [])
        summaries = []
        for stack in self.stacks.listed(ctx.account_id, ctx.region, live_only=False):
            if wanted and stack.status not in wanted:
                continue
            summary: Json = {
                "StackId": stack.stack_id,
                "StackName": stack.name,
                "CreationTime": to_datetime(stack.created),
                "StackStatus": stack.status,
                "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
            }
            if stack.doc.get("description"):
                summary["TemplateDescription"] = stack.doc["description"]
            if stack.reason:
                summary["StackStatusReason"] = stack.reason
            if stack.updated:
                summary["LastUpdatedTime"] = to_datetime(stack.updated)
            if stack.deleted:
                summary["DeletionTime"] = to_datetime(stack.deleted)
            for key, field in (("parent_id", "ParentId"), ("root_id", "RootId")):
                if stack.doc.get(key):
                    summary[field] = stack.doc[key]
            summaries.append(summary)
        return _page(summaries, req, "StackSummaries", {})

    def describe_stack_events(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"], live=False)
        events = []
        for row in self.stacks.events(stack.stack_id):
            event: Json = {
                "StackId": stack.stack_id,
                "EventId": row["event_id"],
                "StackName": stack.name,
                "LogicalResourceId": row["logical_id"],
                "ResourceType": row["type"],
                "Timestamp": to_datetime(row["at"]),
                "ResourceStatus": row["status"],
            }
            if row["physical_id"] is not None:
                event["PhysicalResourceId"] = row["physical_id"]
            if row["reason"] is not None:
                event["ResourceStatusReason"] = row["reason"]
            if row["props"] is not None:
                event["ResourceProperties"] = row["props"]
            events.append(event)
        return _page(events, req, "StackEvents", {})

    def _resource_entry(self, stack: Stack, row: Any, detail: bool) -> Json:
        entry: Json = {
            "LogicalResourceId": row.logical_id,
            "ResourceType": row.type,
            "ResourceStatus": row.status,
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }
        if row.provisioned is not None:
            entry["PhysicalResourceId"] = row.provisioned.physical_id
        if row.reason:
            entry["ResourceStatusReason"] = row.reason
        if detail is None:
            entry["LastUpdatedTimestamp"] = to_datetime(row.updated)
            return entry
        entry["StackName"] = stack.name
        entry["StackId"] = stack.stack_id
        if detail:
            entry["LastUpdatedTimestamp"] = to_datetime(row.updated)
            metadata = (stack.template.get("Resources", {}).get(row.logical_id) or {}).get(
                "Metadata"
            )
            if metadata is not None:
                entry["Metadata"] = json.dumps(metadata)
        else:
            entry["Timestamp"] = to_datetime(row.updated)
        return entry

    def describe_stack_resource(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"], live=False)
        row = self.stacks.resources(stack.stack_id).get(req["LogicalResourceId"])
        if row is None:
            raise validation(
                f"Resource {req['LogicalResourceId']} does not exist for stack {stack.name}"
            )
        return {"StackResourceDetail": self._resource_entry(stack, row, True)}

    def describe_stack_resources(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("StackName"):
            stack = self._stack(ctx, req["StackName"], live=False)
        elif req.get("PhysicalResourceId"):
            found = self.stacks.find_physical(ctx.account_id, ctx.region, req["PhysicalResourceId"])
            if found is None:
                raise validation(f"Stack for {req['PhysicalResourceId']} does not exist")
            stack = self._stack(ctx, found[0])
        else:
            raise validation("Either StackName or PhysicalResourceId must be specified.")
        rows = self.stacks.resources(stack.stack_id).values()
        wanted = req.get("LogicalResourceId")
        return {
            "StackResources": [
                self._resource_entry(stack, r, False)
                for r in rows
                if wanted is None or r.logical_id == wanted
            ]
        }

    def list_stack_resources(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"], live=False)
        rows = self.stacks.resources(stack.stack_id).values()
        summaries = [self._resource_entry(stack, r, None) for r in rows]  # type: ignore[arg-type]
        return _page(summaries, req, "StackResourceSummaries", {})

    def get_template(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("ChangeSetName"):
            cs = self._change_set(ctx, req["ChangeSetName"], req.get("StackName"))
            doc = cs["doc"]
        else:
            # StackName is optional in the model (for change sets): none names no stack.
            doc = self._stack(ctx, req.get("StackName") or "", live=False).doc
        stages = ["Original"]
        body = doc["template_body"]
        if doc.get("transformed"):
            stages.append("Processed")
            if req.get("TemplateStage") == "Processed":
                body = json.dumps(doc["template"])
        return {"TemplateBody": body, "StagesAvailable": stages}

    def get_template_summary(self, ctx: RequestContext, req: Json) -> Json:
        if req.get("StackName"):
            stack = self._stack(ctx, req["StackName"])
            body = stack.doc["template_body"]
        else:
            body = self._body(ctx, req, None)
        original = tpl.parse(body)
        template = expand(self, ctx, original, {})
        tpl.check(template)
        out = self._summary(template, original)
        out["ResourceTypes"] = sorted({r["Type"] for r in template["Resources"].values()})
        out["Version"] = str(template.get("AWSTemplateFormatVersion", "2010-09-09"))
        if "Metadata" in template:
            out["Metadata"] = json.dumps(template["Metadata"])
        out["ResourceIdentifierSummaries"] = []
        return out

    def _summary(self, template: Json, original: Json) -> Json:
        declared = template.get("Parameters") or {}
        params_mod.check_declarations(declared)
        parameters = []
        for name, spec in declared.items():
            entry: Json = {
                "ParameterKey": name,
                "ParameterType": spec["Type"],
                "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
                "Description": spec.get("Description", ""),
            }
            if "Default" in spec:
                default = spec["Default"]
                entry["DefaultValue"] = (
                    ",".join(map(str, default)) if isinstance(default, list) else str(default)
                )
            if "AllowedValues" in spec:
                entry["ParameterConstraints"] = {
                    "AllowedValues": [str(v) for v in spec["AllowedValues"]]
                }
            parameters.append(entry)
        out: Json = {"Parameters": parameters}
        if template.get("Description") is not None:
            out["Description"] = template["Description"]
        needed, reason_types = required_capabilities(template)
        if needed:
            out["Capabilities"] = needed
            out["CapabilitiesReason"] = (
                f"The following resource(s) require capabilities: [{', '.join(reason_types)}]"
            )
        declared_transforms = tpl.transforms(original)
        if declared_transforms:
            out["DeclaredTransforms"] = declared_transforms
        return out

    def validate_template(self, ctx: RequestContext, req: Json) -> Json:
        body = self._body(ctx, req, None)
        original = tpl.parse(body)
        template = expand(self, ctx, original, {}) if tpl.transforms(original) else original
        tpl.check(template)
        out = self._summary(template, original)
        for entry in out["Parameters"]:
            entry.pop("ParameterType", None)
            entry.pop("ParameterConstraints", None)
        return out

    # -- exports ----------------------------------------------------------------------------------

    def list_exports(self, ctx: RequestContext, req: Json) -> Json:
        exports = [
            {"ExportingStackId": r["stack_id"], "Name": r["name"], "Value": r["value"]}
            for r in self.stacks.exports(ctx.account_id, ctx.region)
        ]
        return _page(exports, req, "Exports", {})

    def list_imports(self, ctx: RequestContext, req: Json) -> Json:
        name = req["ExportName"]
        if self.stacks.export(ctx.account_id, ctx.region, name) is None:
            raise validation(f"Export '{name}' does not exist.")
        users = self.stacks.importers(ctx.account_id, ctx.region, name)
        names = []
        for stack_id in users:
            found = self.stacks.get(stack_id)
            if found is not None and found.status != "DELETE_COMPLETE":
                names.append(found.name)
        if not names:
            raise validation(f"Export '{name}' is not imported by any stack.")
        return _page(names, req, "Imports", {})

    # -- stack policy, signals --------------------------------------------------------------------

    def set_stack_policy(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        if req.get("StackPolicyURL"):
            body = self.read_url(ctx, req["StackPolicyURL"])
        else:
            body = req.get("StackPolicyBody") or ""
        stack.doc["policy"] = _policy(body)
        self.stacks.save(stack)
        return {}

    def get_stack_policy(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        policy = stack.doc.get("policy")
        return {} if policy is None else {"StackPolicyBody": policy}

    def signal_resource(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        logical_id = req["LogicalResourceId"]
        definition = (stack.template.get("Resources") or {}).get(logical_id)
        if definition is None:
            raise validation(f"Resource {logical_id} does not exist for stack {stack.name}")
        row = self.stacks.resources(stack.stack_id).get(logical_id)
        if row is None or not row.status.endswith("_IN_PROGRESS"):
            raise validation(
                f"Resource {logical_id} is in {row.status if row else 'an'} state and can not "
                "be signaled"
                if row
                else f"Resource {logical_id} has not started creating"
            )
        self.stacks.signal(stack.stack_id, logical_id, req["UniqueId"], req["Status"], "", "")
        self.engine.wake(stack.stack_id, logical_id)
        return {}

    # -- change sets ------------------------------------------------------------------------------

    def _change_set(self, ctx: RequestContext, name: str, stack_name: str | None) -> Json:
        if name.startswith("arn:"):
            cs = self.stacks.change_set(name)
        else:
            if not stack_name:
                raise validation(
                    "StackName must be specified if ChangeSetName is not specified as an ARN."
                )
            try:
                stack = self._stack(ctx, stack_name)
            except ServiceError:
                raise errors.ChangeSetNotFoundException(
                    f"ChangeSet [{name}] does not exist"
                ) from None
            found = [
                c for c in self.stacks.change_sets(stack.stack_id) if c["ChangeSetName"] == name
            ]
            cs = found[0] if found else None
        if cs is None:
            raise errors.ChangeSetNotFoundException(f"ChangeSet [{name}] does not exist")
        return cs

    def create_change_set(self, ctx: RequestContext, req: Json) -> Json:
        kind = req.get("ChangeSetType") or "UPDATE"
        name = req["ChangeSetName"]
        existing = (
            self.stacks.live_by_name(ctx.account_id, ctx.region, req["StackName"])
            if not req["StackName"].startswith("arn:")
            else self.stacks.get(req["StackName"])
        )
        if kind == "CREATE" or (kind == "IMPORT" and existing is None):
            if existing is not None and existing.status != "REVIEW_IN_PROGRESS":
                raise validation(
                    f"Stack [{req['StackName']}] already exists and cannot be created again with "
                    "the changeSet "
                    f"[{name}]."
                )
            stack = existing or self._new_stack(ctx, req, "REVIEW_IN_PROGRESS")
            previous = existing if existing is not None and existing.template else None
        else:
            if existing is None or existing.status == "DELETE_COMPLETE":
                raise validation(f"Stack [{req['StackName']}] does not exist")
            if existing.status == "REVIEW_IN_PROGRESS":
                raise validation(f"Stack [{req['StackName']}] does not exist")
            self._busy(existing, "updated")
            if existing.status not in UPDATABLE:
                raise validation(
                    f"Stack:{existing.stack_id} is in {existing.status} state and can not be "
                    "updated."
                )
            stack = existing
            previous = existing
        if any(c["ChangeSetName"] == name for c in self.stacks.change_sets(stack.stack_id)):
            raise errors.AlreadyExistsException(f"ChangeSet [{name}] already exists")
        doc = self._prepare(ctx, req, previous, change_set=True)
        merged = {**(previous.doc if previous else {}), **doc}
        merged.pop("previous", None)
        self._settings(ctx, {**(_kept_settings(previous.doc) if previous else {}), **req}, merged)
        if previous is not None and "Tags" not in req:
            merged["tags"] = previous.doc.get("tags", [])
        if existing is None:
            stack.doc = {
                "template": {},
                "template_body": "",
                **{k: merged[k] for k in ("tags", "host", "scheme")},
            }
            self.stacks.insert(stack)
            self.stacks.event(
                stack,
                stack.name,
                "AWS::CloudFormation::Stack",
                "REVIEW_IN_PROGRESS",
                "User Initiated",
                stack.stack_id,
            )
        partition = ctx.partition
        change_set_id = (
            f"arn:{partition}:cloudformation:{ctx.region}:{ctx.account_id}:changeSet/{name}/"
            f"{uuid.uuid4()}"
        )
        if kind == "IMPORT":
            merged["to_import"] = self._imports(stack, merged, req.get("ResourcesToImport") or [])
            changes = [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Import",
                        "LogicalResourceId": logical_id,
                        "ResourceType": merged["template"]["Resources"][logical_id]["Type"],
                        "Scope": [],
                        "Details": [],
                    },
                }
                for logical_id in merged["to_import"]
            ]
        else:
            changes = describe_changes(self, stack, merged, change_set_id)
        cs: Json = {
            "ChangeSetId": change_set_id,
            "ChangeSetName": name,
            "StackId": stack.stack_id,
            "StackName": stack.name,
            "ChangeSetType": kind,
            "created": clock.now(),
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": changes,
            "doc": merged,
        }
        if req.get("Description"):
            cs["Description"] = req["Description"]
        if (
            kind == "UPDATE"
            and not changes
            and previous is not None
            and (
                merged["raw_parameters"] == previous.doc.get("raw_parameters")
                and merged["tags"] == previous.doc.get("tags")
                and merged.get("template", {}).get("Outputs") == previous.template.get("Outputs")
            )
        ):
            cs["Status"] = "FAILED"
            cs["ExecutionStatus"] = "UNAVAILABLE"
            cs["StatusReason"] = (
                "The submitted information didn't contain changes. Submit different information "
                "to create a change set."
            )
        self.stacks.put_change_set(cs)
        return {"Id": change_set_id, "StackId": stack.stack_id}

    def _imports(self, stack: Stack, doc: Json, wanted: list[Json]) -> dict[str, dict[str, str]]:
        """The resources an IMPORT change set takes in, checked as AWS checks them."""
        if not wanted:
            raise validation("ResourcesToImport must be specified for an IMPORT change set.")
        resources = doc["template"]["Resources"]
        held = {
            k for k, r in self.stacks.resources(stack.stack_id).items() if r.provisioned is not None
        }
        found: dict[str, dict[str, str]] = {}
        for entry in wanted:
            logical_id = entry.get("LogicalResourceId", "")
            definition = resources.get(logical_id)
            if definition is None or definition.get("Type") != entry.get("ResourceType"):
                raise validation(
                    f"Resource {logical_id} of type {entry.get('ResourceType')} to import is not "
                    "in the template"
                )
            handler = find_type(definition["Type"])
            identifier = {
                str(k): str(v) for k, v in (entry.get("ResourceIdentifier") or {}).items()
            }
            if handler is None or not handler.identifier:
                raise validation(
                    f"ResourceType {definition['Type']} does not support resource import"
                )
            if sorted(identifier) != sorted(handler.identifier):
                raise validation(
                    f"Invalid ResourceIdentifier for {logical_id}: expected "
                    f"[{', '.join(handler.identifier)}]"
                )
            found[logical_id] = identifier
        missing_policy = [k for k in found if "DeletionPolicy" not in resources[k]]
        if missing_policy:
            raise validation(
                f"The following resources to import [{', '.join(missing_policy)}] must have "
                "DeletionPolicy attribute specified in the template."
            )
        others = [k for k in resources if k not in found and k not in held]
        if others:
            raise validation(
                f"As part of the import operation, you cannot modify or add [{', '.join(others)}]"
            )
        return found

    def describe_change_set(self, ctx: RequestContext, req: Json) -> Json:
        cs = self._change_set(ctx, req["ChangeSetName"], req.get("StackName"))
        doc = cs["doc"]
        stack = self.stacks.get(cs["StackId"])
        out: Json = {
            k: cs[k]
            for k in (
                "ChangeSetId",
                "ChangeSetName",
                "StackId",
                "StackName",
                "Status",
                "ExecutionStatus",
                "Changes",
            )
        }
        out["CreationTime"] = to_datetime(cs["created"])
        out["Capabilities"] = doc.get("capabilities", [])
        out["Tags"] = doc.get("tags", [])
        out["NotificationARNs"] = doc.get("notification_arns", [])
        out["IncludeNestedStacks"] = False
        declared = doc.get("template", {}).get("Parameters") or {}
        shown = params_mod.shown(
            declared, doc.get("raw_parameters", {}), doc.get("resolved_parameters", {})
        )
        if shown:
            out["Parameters"] = shown
        for key in ("StatusReason", "Description"):
            if cs.get(key):
                out[key] = cs[key]
        del stack
        return out

    def list_change_sets(self, ctx: RequestContext, req: Json) -> Json:
        stack = self._stack(ctx, req["StackName"])
        return {
            "Summaries": [
                {
                    "StackId": cs["StackId"],
                    "StackName": cs["StackName"],
                    "ChangeSetId": cs["ChangeSetId"],
                    "ChangeSetName": cs["ChangeSetName"],
                    "ExecutionStatus": cs["ExecutionStatus"],
                    "Status": cs["Status"],
                    "CreationTime": to_datetime(cs["created"]),
                    "IncludeNestedStacks": False,
                    **({"Description": cs["Description"]} if cs.get("Description") else {}),
                }
                for cs in self.stacks.change_sets(stack.stack_id)
            ]
        }

    def delete_change_set(self, ctx: RequestContext, req: Json) -> Json:
        cs = self._change_set(ctx, req["ChangeSetName"], req.get("StackName"))
        if cs["ExecutionStatus"] == "EXECUTE_IN_PROGRESS":
            raise errors.InvalidChangeSetStatusException(
                f"Cannot delete ChangeSet in status {cs['ExecutionStatus']}"
            )
        self.stacks.drop_change_set(cs["ChangeSetId"])
        return {}

    def execute_change_set(self, ctx: RequestContext, req: Json) -> Json:
        cs = self._change_set(ctx, req["ChangeSetName"], req.get("StackName"))
        if cs["ExecutionStatus"] != "AVAILABLE":
            raise errors.InvalidChangeSetStatusException(
                f"ChangeSet [{cs['ChangeSetId']}] cannot be executed in its current status of "
                f"[{cs['Status']}]"
            )
        stack = self.stacks.get(cs["StackId"])
        assert stack is not None
        self._busy(stack, "updated")
        doc = dict(cs["doc"])
        doc["change_set_id"] = cs["ChangeSetId"]
        if "DisableRollback" in req:
            doc["disable_rollback"] = bool(req["DisableRollback"])
            if cs["ChangeSetType"] == "CREATE" and req["DisableRollback"]:
                doc["on_failure"] = "DO_NOTHING"
        # Executing a change set removes every change set of the stack, as on AWS.
        self.stacks.drop_change_sets(stack.stack_id)
        if cs["ChangeSetType"] == "IMPORT":
            previous_doc = (
                {k: v for k, v in stack.doc.items() if k != "previous"} if stack.template else None
            )
            wanted = doc.pop("to_import")
            stack.doc = doc
            stack.status = "IMPORT_IN_PROGRESS"
            self.stacks.save(stack)
            self.engine.launch(
                stack.stack_id, self.engine.import_resources(stack, previous_doc, wanted)
            )
        elif cs["ChangeSetType"] == "CREATE":
            stack.doc = doc
            stack.status = "CREATE_IN_PROGRESS"
            self.stacks.save(stack)
            self.engine.launch(stack.stack_id, self.engine.create(stack))
        else:
            previous = {k: v for k, v in stack.doc.items() if k != "previous"}
            stack.doc = doc
            stack.updated = clock.now()
            stack.status = "UPDATE_IN_PROGRESS"
            self.stacks.save(stack)
            self.engine.launch(stack.stack_id, self.engine.update(stack, previous))
        return {}


def _page(items: list[Any], req: Mapping[str, Any], key: str, out: Json, size: int = PAGE) -> Json:
    """One page of ``items`` under ``key`` in ``out``, with NextToken when more follow."""
    start = 0
    token = req.get("NextToken")
    if token:
        try:
            start = int(decode_token(token))
        except (InvalidToken, TypeError, ValueError):
            raise validation("Invalid NextToken") from None
    out[key] = items[start : start + size]
    if start + size < len(items):
        out["NextToken"] = encode_token(start + size)
    return out


def _probe(ctx: RequestContext, req: Mapping[str, Any]) -> Stack:
    """A stand-in stack for evaluating conditions before the stack exists."""
    name = str(req.get("StackName", ""))
    return Stack(
        name, ctx.account_id, ctx.region, name.rsplit("/", 2)[0], "", None, 0.0, None, None
    )


def required_capabilities(template: Json) -> tuple[list[str], list[str]]:
    """The capabilities a template needs, and the resource types that need them."""
    types: list[str] = []
    named = False
    for resource in (template.get("Resources") or {}).values():
        type_name = resource.get("Type")
        if type_name in IAM_TYPES:
            if type_name not in types:
                types.append(type_name)
            name_prop = NAMED_IAM.get(type_name)
            if name_prop and name_prop in (resource.get("Properties") or {}):
                named = True
    if not types:
        return [], []
    return (["CAPABILITY_NAMED_IAM"] if named else ["CAPABILITY_IAM"]), types


def _kept_settings(doc: Json) -> Json:
    """Settings an update keeps unless the request names them again."""
    return {
        field: doc[key]
        for key, field in (("notification_arns", "NotificationARNs"), ("role_arn", "RoleARN"))
        if key in doc
    }


def _policy(body: str) -> str:
    try:
        json.loads(body)
    except ValueError:
        raise validation("Error validating stack policy: Invalid stack policy") from None
    return body


def s3_location(url: str) -> tuple[str, str]:
    """Bucket and key of an S3 URL in any of the shapes clients use."""
    if url.startswith("s3://"):
        bucket, _, key = url[5:].partition("/")
        return bucket, key
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = unquote(parts.path.lstrip("/"))
    virtual = re.match(r"^(.+?)\.s3[.-]", host) or re.match(r"^(.+?)\.localhost$", host)
    if virtual:
        return virtual.group(1), path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise validation("TemplateURL must be a supported URL.")
    return bucket, key


def read_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if hasattr(body, "read"):
        data: bytes = body.read()
        return data
    return b"".join(body)
