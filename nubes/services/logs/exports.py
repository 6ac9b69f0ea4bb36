"""Export tasks: a log group's events of a time range written to an S3 bucket as gzip objects.

CreateExportTask checks the bucket as CloudWatch Logs does (it exists, its policy lets the
service principal ``logs.<region>.amazonaws.com`` call GetBucketAcl and PutObject) and writes
the ``aws-logs-write-test`` object; the task is PENDING, then RUNNING at the next tick, which
writes ``<prefix>/<taskId>/<stream>/000000.gz`` (one line per event, its ISO 8601 timestamp
then the message; a new numbered object every :data:`OBJECT_BYTES` of text) and ends
COMPLETED, or FAILED with the reason when S3 refuses.
"""

from __future__ import annotations

import datetime
import gzip
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nubes.core import clock
from nubes.core.arns import partition_of
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.protocol.base import ServiceError
from nubes.services.iam.policy import Caller, PolicyError, Request, evaluate, parse_policy
from nubes.services.logs.errors import errors
from nubes.services.logs.models import Scope

if TYPE_CHECKING:
    from nubes.services.logs.models import DocumentsModel, LogsModel

KIND = "export-task"
ACTIVE = ("PENDING", "RUNNING")
DEFAULT_PREFIX = "exportedlogs"
WRITE_TEST_KEY = "aws-logs-write-test"
WRITE_TEST_BODY = b"Permission Check Successful"
OBJECT_BYTES = 1_000_000
"""Text per exported object: its gzip stays under the size an in-process S3 PutObject takes
without leaving the event loop."""
EXPORT_TICK = 1.0
DEFAULT_LIMIT = 50
ACCESS_MESSAGE = (
    "{action} call on the given bucket failed. Please check if CloudWatch Logs has been "
    "granted permission to perform this operation."
)


def _now_ms() -> int:
    return int(clock.now() * 1000)


def _iso(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class ExportTasks:
    """Mixed into the Logs provider."""

    documents: DocumentsModel
    model: LogsModel
    env: Any
    _exports_waiting = True

    # -- operations -------------------------------------------------------------------------

    def create_export_task(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = Scope(ctx.account_id, ctx.region)
        group = req["logGroupName"]
        if self.model.group(scope, group) is None:
            raise errors.ResourceNotFoundException("The specified log group does not exist.")
        start, end = req["from"], req["to"]
        if start > end:
            raise errors.InvalidParameterException(
                f"Specified time range of '{start}' and '{end}' is not valid. Please ensure that "
                "start time is less than end time"
            )
        if any(t["status"]["code"] in ACTIVE for t in self.documents.listing(scope, KIND)):
            raise errors.LimitExceededException("Resource limit exceeded.")
        bucket = req["destination"]
        prefix = (req.get("destinationPrefix") or "").strip("/") or DEFAULT_PREFIX
        self._check_bucket(scope, group, bucket)
        self._put(scope, bucket, f"{prefix}/{WRITE_TEST_KEY}", WRITE_TEST_BODY)
        task_id = str(uuid.uuid4())
        task: dict[str, Any] = {
            "taskId": task_id,
            "logGroupName": group,
            "from": start,
            "to": end,
            "destination": bucket,
            "destinationPrefix": prefix,
            "status": {"code": "PENDING", "message": "Pending"},
            "executionInfo": {"creationTime": _now_ms()},
        }
        if req.get("taskName"):
            task["taskName"] = req["taskName"]
        if req.get("logStreamNamePrefix"):
            task["logStreamNamePrefix"] = req["logStreamNamePrefix"]
        self.documents.put(scope, KIND, task_id, task)
        self._exports_waiting = True
        return {"taskId": task_id}

    def describe_export_tasks(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = Scope(ctx.account_id, ctx.region)
        tasks = sorted(
            self.documents.listing(scope, KIND),
            key=lambda t: (-t["executionInfo"]["creationTime"], t["taskId"]),
        )
        if req.get("taskId"):
            tasks = [t for t in tasks if t["taskId"] == req["taskId"]]
        if req.get("statusCode"):
            tasks = [t for t in tasks if t["status"]["code"] == req["statusCode"]]
        start = 0
        if req.get("nextToken"):
            try:
                start = int(decode_token(req["nextToken"]))
            except (InvalidToken, TypeError, ValueError):
                raise errors.InvalidParameterException(
                    "The specified nextToken is invalid."
                ) from None
        limit = req.get("limit") or DEFAULT_LIMIT
        page = tasks[start : start + limit]
        out: dict[str, Any] = {"exportTasks": [_public(t) for t in page]}
        if start + limit < len(tasks):
            out["nextToken"] = encode_token(start + limit)
        return out

    def cancel_export_task(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = Scope(ctx.account_id, ctx.region)
        task = self.documents.get(scope, KIND, req["taskId"])
        if task is None:
            raise errors.ResourceNotFoundException("The specified export task does not exist.")
        if task["status"]["code"] not in ACTIVE:
            raise errors.InvalidOperationException("The specified export task has already finished")
        task["status"] = {"code": "CANCELLED", "message": "Cancelled by user"}
        task["executionInfo"]["completionTime"] = _now_ms()
        self.documents.put(scope, KIND, task["taskId"], task)
        return {}

    # -- the work ---------------------------------------------------------------------------

    def _export_tick(self) -> None:
        """Move each active task one step: PENDING to RUNNING, RUNNING to its end."""
        if not self._exports_waiting:
            return
        active = self.documents.everywhere(KIND, "$.status.code", ACTIVE)
        # Until the next CreateExportTask there is nothing to look for (at start there may be:
        # tasks a restart interrupted).
        self._exports_waiting = bool(active)
        for scope, task in active:
            if task["status"]["code"] == "PENDING":
                task["status"] = {"code": "RUNNING", "message": "Running"}
            else:
                self._run_export(scope, task)
            self.documents.put(scope, KIND, task["taskId"], task)

    def _run_export(self, scope: Scope, task: dict[str, Any]) -> None:
        prefix = f"{task['destinationPrefix']}/{task['taskId']}"
        try:
            if self.model.group(scope, task["logGroupName"]) is None:
                raise errors.ResourceNotFoundException("The specified log group does not exist.")
            self._check_bucket(scope, task["logGroupName"], task["destination"])
            for stream, number, body in self._objects(scope, task):
                key = f"{prefix}/{stream}/{number:06d}.gz"
                self._put(scope, task["destination"], key, gzip.compress(body))
        except ServiceError as err:
            task["status"] = {"code": "FAILED", "message": err.message}
        else:
            task["status"] = {"code": "COMPLETED", "message": "Completed successfully"}
        task["executionInfo"]["completionTime"] = _now_ms()

    def _objects(self, scope: Scope, task: dict[str, Any]) -> Iterator[tuple[str, int, bytes]]:
        """(stream, object number, text) for the task's events, stream by stream."""
        stream_prefix = task.get("logStreamNamePrefix") or ""
        chunks: dict[str, tuple[int, list[bytes], int]] = {}
        # The range is inclusive at both ends: events later than ``to`` are not exported.
        for event in self.model.group_events(
            scope, task["logGroupName"], task["from"], task["to"] + 1, None
        ):
            if not event.stream.startswith(stream_prefix):
                continue
            line = f"{_iso(event.timestamp)} {event.message}\n".encode()
            number, lines, size = chunks.get(event.stream, (0, [], 0))
            if lines and size + len(line) > OBJECT_BYTES:
                yield event.stream, number, b"".join(lines)
                number, lines, size = number + 1, [], 0
            lines.append(line)
            chunks[event.stream] = (number, lines, size + len(line))
        for stream, (number, lines, _) in sorted(chunks.items()):
            yield stream, number, b"".join(lines)

    # -- S3 -----------------------------------------------------------------------------------

    def _check_bucket(self, scope: Scope, group: str, bucket: str) -> None:
        try:
            found = self.env.providers.invoke(
                "s3", "GetBucketPolicy", {"Bucket": bucket}, scope.account, scope.region
            )
        except ServiceError as err:
            if err.code == "NoSuchBucket":
                raise errors.InvalidParameterException(
                    "The specified bucket does not exist."
                ) from None
            found = {}
        try:
            policy = parse_policy(found.get("Policy") or "", "resource", validate=False)
        except PolicyError:
            policy = None
        principal = f"logs.{scope.region}.amazonaws.com"
        caller = Caller(principal, scope.account, "service", service=principal)
        context = {
            "aws:sourceaccount": [scope.account],
            "aws:sourcearn": [scope.group_arn(group) + ":*"],
        }
        bucket_arn = f"arn:{partition_of(scope.region)}:s3:::{bucket}"
        for action, resource, extra in (
            ("s3:GetBucketAcl", bucket_arn, {}),
            (
                "s3:PutObject",
                f"{bucket_arn}/*",
                {"s3:x-amz-acl": ["bucket-owner-full-control"]},
            ),
        ):
            request = Request(action, resource, caller, context | extra)
            policies = [("bucket", policy)] if policy is not None else []
            if not evaluate(request, [], policies, resource_must_allow=True).allowed:
                raise errors.InvalidParameterException(
                    ACCESS_MESSAGE.format(action=action.split(":")[1])
                )

    def _put(self, scope: Scope, bucket: str, key: str, body: bytes) -> None:
        params = {"Bucket": bucket, "Key": key, "Body": body, "ACL": "bucket-owner-full-control"}
        try:
            self.env.providers.invoke("s3", "PutObject", params, scope.account, scope.region)
        except ServiceError as err:
            raise errors.InvalidParameterException(
                f"PutObject call on the given bucket failed: {err.message}"
            ) from None


def _public(task: dict[str, Any]) -> dict[str, Any]:
    """A task as DescribeExportTasks lists it (the stream prefix is not part of its shape)."""
    return {key: value for key, value in task.items() if key != "logStreamNamePrefix"}
