"""The console's pages, one small view per resource list or detail. Each reads through the API
with the signed-in credentials; what they may not read shows as that service's error."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nubes.console.html import BASE, Markup, chart, link, page, table
from nubes.protocol.base import HttpResponse
from nubes.services import PROVIDERS

if TYPE_CHECKING:
    from nubes.console import Console, Credentials

View = Callable[["Request"], "str | HttpResponse"]


class Request:
    """One page request: the path's parts, the query and form, and API clients for the region."""

    def __init__(
        self,
        views: Views,
        creds: Credentials,
        parts: list[str],
        query: dict[str, str],
        form: dict[str, str],
    ) -> None:
        self.views = views
        self.creds = creds
        self.parts = parts
        self.query = query
        self.form = form
        self.region = query.get("region") or views.console.env.settings.region

    def client(self, service: str) -> Any:
        return self.views.client(self.creds, service, self.region)

    def link(self, path: str, text: str, **query: str) -> Markup:
        return Markup(link(path, text, region=self.region, **query))


class Views:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self.routes: dict[str, tuple[str, View, View | None]] = {
            "s3": ("Buckets", s3_list, s3_detail),
            "sqs": ("Queues", sqs_list, sqs_detail),
            "dynamodb": ("Tables", dynamodb_list, dynamodb_detail),
            "kinesis": ("Streams", kinesis_list, kinesis_detail),
            "lambda": ("Functions", lambda_list, lambda_detail),
            "sns": ("Topics", sns_list, None),
            "logs": ("Log groups", logs_list, logs_detail),
            "iam": ("Users and roles", iam_list, None),
            "ec2": ("Instances", ec2_list, ec2_detail),
            "cloudwatch": ("Alarms", cloudwatch_list, cloudwatch_detail),
            "events": ("Rules", events_list, None),
            "cloudformation": ("Stacks", cloudformation_list, cloudformation_detail),
        }

    def services(self) -> list[str]:
        return [s for s in self.routes if s in PROVIDERS]

    def client(self, creds: Credentials, service: str, region: str) -> Any:
        key = (creds, service, region)
        with self._lock:
            if key not in self._clients:
                import boto3
                from botocore.config import Config

                self._clients[key] = boto3.client(
                    service,
                    endpoint_url=self.console.endpoint(),
                    region_name=region,
                    aws_access_key_id=creds.access_key_id,
                    aws_secret_access_key=creds.secret_access_key,
                    aws_session_token=creds.session_token,
                    config=Config(retries={"max_attempts": 1}, read_timeout=30),
                )
            return self._clients[key]

    def render(
        self, creds: Credentials, path: str, query: dict[str, str], form: dict[str, str]
    ) -> HttpResponse:
        from botocore.exceptions import BotoCoreError, ClientError

        parts = [p for p in path.split("/") if p]
        req = Request(self, creds, parts, query, form)
        title = "Overview"
        try:
            if not parts:
                content: str | HttpResponse = overview(req)
            elif parts[0] in self.routes and parts[0] in PROVIDERS:
                label, listing, detail = self.routes[parts[0]]
                title = f"{parts[0]} · {label}"
                content = detail(req) if len(parts) > 1 and detail else listing(req)
            else:
                return _html(404, "<h1>Not found</h1>")
        except ClientError as err:
            e = err.response.get("Error", {})
            content = (
                f"<h1>{escape(title)}</h1><p class='error'>{escape(str(e.get('Code')))}: "
                f"{escape(str(e.get('Message')))}</p>"
            )
        except BotoCoreError as err:
            content = f"<h1>{escape(title)}</h1><p class='error'>{escape(str(err))}</p>"
        if isinstance(content, HttpResponse):
            return content
        if query.get("fragment"):
            return _html(200, content)
        who = self.who(req)
        return _html(
            200, page(title, content, services=self.services(), who=who, region=req.region)
        )

    def who(self, req: Request) -> str:
        try:
            arn = req.client("sts").get_caller_identity()["Arn"]
        except Exception:
            return req.creds.access_key_id
        return f"{arn} · {req.region}"


def _html(status: int, text: str) -> HttpResponse:
    return HttpResponse(status, {"content-type": "text/html; charset=utf-8"}, text.encode())


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
    return "" if value is None else str(value)


def _pre(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


# --- overview ---


def overview(req: Request) -> str:
    counts: list[tuple[str, str, str]] = []
    count_of: dict[str, Callable[[], int]] = {
        "s3": lambda: len(req.client("s3").list_buckets().get("Buckets", [])),
        "sqs": lambda: len(req.client("sqs").list_queues().get("QueueUrls", [])),
        "dynamodb": lambda: len(req.client("dynamodb").list_tables().get("TableNames", [])),
        "kinesis": lambda: len(req.client("kinesis").list_streams().get("StreamNames", [])),
        "lambda": lambda: len(req.client("lambda").list_functions().get("Functions", [])),
        "sns": lambda: len(req.client("sns").list_topics().get("Topics", [])),
        "logs": lambda: len(req.client("logs").describe_log_groups().get("logGroups", [])),
        "ec2": lambda: sum(
            len(r["Instances"])
            for r in req.client("ec2").describe_instances().get("Reservations", [])
        ),
        "cloudwatch": lambda: len(
            req.client("cloudwatch").describe_alarms().get("MetricAlarms", [])
        ),
        "cloudformation": lambda: len(req.client("cloudformation").describe_stacks()["Stacks"]),
    }
    for service in req.views.services():
        label = req.views.routes[service][0]
        try:
            shown = str(count_of[service]()) if service in count_of else "→"
        except Exception:
            shown = "—"
        counts.append((service, label, shown))
    cards = "".join(
        f"<div class='card'>{req.link('/' + s, s)}<b>{escape(n)}</b>"
        f"<span class='muted'>{escape(label)}</span></div>"
        for s, label, n in counts
    )
    return f"<h1>Overview · {escape(req.region)}</h1><div class='cards'>{cards}</div>"


# --- S3 ---


def s3_list(req: Request) -> str:
    buckets = req.client("s3").list_buckets().get("Buckets", [])
    rows = [
        (req.link(f"/s3/{b['Name']}", b["Name"]), _when(b.get("CreationDate"))) for b in buckets
    ]
    return "<h1>Buckets</h1>" + table(("Name", "Created"), rows, "No buckets.")


def s3_detail(req: Request) -> str | HttpResponse:
    s3 = req.client("s3")
    bucket = req.parts[1]
    key = req.query.get("key")
    if key is not None and req.query.get("download"):
        got = s3.get_object(Bucket=bucket, Key=key)
        name = key.rsplit("/", 1)[-1] or "object"
        return HttpResponse(
            200,
            {
                "content-type": got.get("ContentType") or "application/octet-stream",
                "content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            },
            got["Body"].read(),
        )
    prefix = req.query.get("prefix", "")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/", MaxKeys=200)
    rows: list[tuple[Any, ...]] = [
        (req.link(f"/s3/{bucket}", p["Prefix"], prefix=p["Prefix"]), "folder", "", "")
        for p in listed.get("CommonPrefixes", [])
    ]
    rows += [
        (
            o["Key"],
            f"{o['Size']} bytes",
            _when(o.get("LastModified")),
            req.link(f"/s3/{bucket}", "download", key=o["Key"], download="1"),
        )
        for o in listed.get("Contents", [])
    ]
    more = " (first 200)" if listed.get("IsTruncated") else ""
    return (
        f"<h1>{escape(bucket)}</h1><p>{req.link('/s3', '← buckets')} · prefix "
        f"<code>{escape(prefix or '/')}</code>{escape(more)}</p>"
        + table(("Key", "Size", "Last modified", ""), rows, "No objects.")
    )


# --- SQS ---


def sqs_list(req: Request) -> str:
    sqs = req.client("sqs")
    rows = []
    for url in sqs.list_queues().get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        name = url.rsplit("/", 1)[-1]
        rows.append(
            (
                req.link(f"/sqs/{name}", name),
                attrs.get("ApproximateNumberOfMessages", ""),
                attrs.get("ApproximateNumberOfMessagesNotVisible", ""),
                "FIFO" if attrs.get("FifoQueue") == "true" else "Standard",
            )
        )
    return "<h1>Queues</h1>" + table(("Name", "Available", "In flight", "Type"), rows, "No queues.")


def sqs_detail(req: Request) -> str:
    sqs = req.client("sqs")
    url = sqs.get_queue_url(QueueName=req.parts[1])["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    messages = _peek(req, url)
    rows = [
        (m.get("MessageId"), m.get("Body", "")[:2000], _when(int(m["Attributes"]["SentTimestamp"])))
        if m.get("Attributes", {}).get("SentTimestamp")
        else (m.get("MessageId"), m.get("Body", "")[:2000], "")
        for m in messages
    ]
    return (
        f"<h1>{escape(req.parts[1])}</h1><p>{req.link('/sqs', '← queues')} · "
        f"<code>{escape(url)}</code></p><h2>Messages (peek: nothing is received)</h2>"
        + table(("Message id", "Body", "Sent"), rows, "No messages available.")
        + "<h2>Attributes</h2>"
        + table(("Name", "Value"), sorted(attrs.items()))
    )


def _peek(req: Request, url: str) -> list[dict[str, Any]]:
    """Messages without receiving them, through /_aws/sqs/messages signed with the session's
    credentials; callers that may not use it (under enforcement, anyone but the root) see none."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    endpoint = req.views.console.endpoint()
    target = f"{endpoint}/_aws/sqs/messages?QueueUrl={quote(url, safe='')}"
    aws = AWSRequest(method="GET", url=target, headers={"Accept": "application/json"})
    creds = req.creds
    SigV4Auth(
        BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        "sqs",
        req.region,
    ).add_auth(aws)
    http = urllib.request.Request(target, headers=dict(aws.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=10) as resp:
            found: list[dict[str, Any]] = json.load(resp).get("Messages", [])
            return found
    except (urllib.error.URLError, ValueError, OSError):
        return []


# --- DynamoDB ---


def dynamodb_list(req: Request) -> str:
    ddb = req.client("dynamodb")
    rows = []
    for name in ddb.list_tables().get("TableNames", []):
        table_info = ddb.describe_table(TableName=name)["Table"]
        keys = ", ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in table_info["KeySchema"])
        rows.append(
            (
                req.link(f"/dynamodb/{name}", name),
                keys,
                table_info.get("ItemCount", 0),
                table_info.get("TableStatus"),
            )
        )
    return "<h1>Tables</h1>" + table(("Name", "Key", "Items", "Status"), rows, "No tables.")


def dynamodb_detail(req: Request) -> str:
    ddb = req.client("dynamodb")
    name = req.parts[1]
    args: dict[str, Any] = {"TableName": name, "Limit": 50}
    if req.query.get("start"):
        args["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(req.query["start"]))
    scanned = ddb.scan(**args)
    items = scanned.get("Items", [])
    columns: list[str] = []
    for item in items:
        columns += [c for c in item if c not in columns]
    rows = [[_attr(item.get(c)) for c in columns] for item in items]
    nxt = ""
    if scanned.get("LastEvaluatedKey"):
        token = base64.urlsafe_b64encode(json.dumps(scanned["LastEvaluatedKey"]).encode()).decode()
        nxt = f"<p>{req.link(f'/dynamodb/{name}', 'next page →', start=token)}</p>"
    return (
        f"<h1>{escape(name)}</h1><p>{req.link('/dynamodb', '← tables')}</p><h2>Items</h2>"
        + table(columns, rows, "No items.")
        + nxt
    )


def _attr(value: dict[str, Any] | None) -> str:
    if value is None:
        return ""
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return str(inner)
    if kind == "BOOL":
        return "true" if inner else "false"
    if kind == "NULL":
        return "null"
    if kind == "B":
        return f"<{len(inner)} bytes>"
    return json.dumps(inner, default=str)[:300]


# --- Lambda ---


def lambda_list(req: Request) -> str:
    fns = req.client("lambda").list_functions().get("Functions", [])
    rows = [
        (
            req.link(f"/lambda/{f['FunctionName']}", f["FunctionName"]),
            f.get("Runtime", ""),
            f.get("Handler", ""),
            f.get("LastModified", ""),
        )
        for f in fns
    ]
    return "<h1>Functions</h1>" + table(("Name", "Runtime", "Handler", "Modified"), rows, "None.")


def lambda_detail(req: Request) -> str:
    lam = req.client("lambda")
    name = req.parts[1]
    config = lam.get_function_configuration(FunctionName=name)
    result = ""
    if req.form:
        payload = req.form.get("payload") or "{}"
        out = lam.invoke(FunctionName=name, Payload=payload.encode(), LogType="Tail")
        body = out["Payload"].read().decode("utf-8", "replace")
        log_tail = base64.b64decode(out.get("LogResult", "")).decode("utf-8", "replace")
        error = f" ({out['FunctionError']})" if out.get("FunctionError") else ""
        result = (
            f"<h2>Result: {out['StatusCode']}{escape(error)}</h2>{_pre(body)}"
            f"<h2>Log tail</h2>{_pre(log_tail)}"
        )
    events: list[dict[str, Any]] = []
    try:
        events = (
            req.client("logs")
            .filter_log_events(logGroupName=f"/aws/lambda/{name}", limit=50)
            .get("events", [])
        )
    except Exception:
        events = []
    logs_text = "\n".join(f"{_when(e['timestamp'])}  {e['message'].rstrip()}" for e in events)
    shown = {
        k: config.get(k)
        for k in (
            "FunctionArn",
            "Runtime",
            "Handler",
            "MemorySize",
            "Timeout",
            "State",
            "StateReason",
            "LastModified",
        )
    }
    return (
        f"<h1>{escape(name)}</h1><p>{req.link('/lambda', '← functions')}</p>"
        + table(("Setting", "Value"), [(k, v) for k, v in shown.items() if v is not None])
        + f"<h2>Invoke</h2><form method='post' "
        f"action='{BASE}/lambda/{quote(name)}?region={quote(req.region)}'>"
        f"<textarea name='payload'>{escape(req.form.get('payload', '{}'))}</textarea>"
        "<p><button type='submit'>Invoke</button></p></form>"
        + result
        + f"<h2>Recent logs</h2>{_pre(logs_text or 'No log events yet.')}"
    )


# --- SNS, Logs, IAM, Events ---


def sns_list(req: Request) -> str:
    sns = req.client("sns")
    rows = []
    for topic in sns.list_topics().get("Topics", []):
        arn = topic["TopicArn"]
        subs = sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
        rows.append((arn, ", ".join(f"{s['Protocol']}: {s['Endpoint']}" for s in subs)))
    return "<h1>Topics</h1>" + table(("Topic", "Subscriptions"), rows, "No topics.")


def logs_list(req: Request) -> str:
    groups = req.client("logs").describe_log_groups().get("logGroups", [])
    rows = [
        (
            req.link("/logs/group", g["logGroupName"], name=g["logGroupName"]),
            g.get("storedBytes", 0),
            g.get("retentionInDays", "never expire"),
        )
        for g in groups
    ]
    return "<h1>Log groups</h1>" + table(("Name", "Stored bytes", "Retention"), rows, "None.")


def logs_detail(req: Request) -> str:
    name = req.query.get("name", "")
    events = req.client("logs").filter_log_events(logGroupName=name, limit=100).get("events", [])
    text = "\n".join(
        f"{_when(e['timestamp'])}  {e.get('logStreamName', '')}  {e['message'].rstrip()}"
        for e in events
    )
    back = req.link("/logs", "← log groups")
    return f"<h1>{escape(name)}</h1><p>{back}</p>{_pre(text or 'No events.')}"


def iam_list(req: Request) -> str:
    iam = req.client("iam")
    users = [
        (u["UserName"], u["Arn"], _when(u.get("CreateDate"))) for u in iam.list_users()["Users"]
    ]
    roles = [
        (r["RoleName"], r["Arn"], _when(r.get("CreateDate"))) for r in iam.list_roles()["Roles"]
    ]
    return (
        "<h1>Users</h1>"
        + table(("Name", "ARN", "Created"), users, "No users.")
        + "<h1>Roles</h1>"
        + table(("Name", "ARN", "Created"), roles, "No roles.")
    )


def events_list(req: Request) -> str:
    rules = req.client("events").list_rules().get("Rules", [])
    rows = [
        (r["Name"], r.get("State"), r.get("ScheduleExpression") or r.get("EventPattern", ""))
        for r in rules
    ]
    return "<h1>Rules (default bus)</h1>" + table(("Name", "State", "Pattern or schedule"), rows)


# --- EC2 ---


def ec2_list(req: Request) -> str:
    reservations = req.client("ec2").describe_instances().get("Reservations", [])
    rows = []
    for r in reservations:
        for i in r["Instances"]:
            name = next((t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name"), "")
            rows.append(
                (
                    req.link(f"/ec2/{i['InstanceId']}", i["InstanceId"]),
                    name,
                    i.get("InstanceType"),
                    i["State"]["Name"],
                    i.get("PrivateIpAddress", ""),
                    i.get("PublicIpAddress", ""),
                )
            )
    headers = ("Instance", "Name", "Type", "State", "Private IP", "Public IP")
    return "<h1>Instances</h1>" + table(headers, rows, "No instances.")


def ec2_detail(req: Request) -> str:
    ec2 = req.client("ec2")
    iid = req.parts[1]
    found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    out = ec2.get_console_output(InstanceId=iid).get("Output") or ""
    text = base64.b64decode(out).decode("utf-8", "replace") if out else ""
    shown = [
        (k, found.get(k))
        for k in (
            "InstanceType",
            "ImageId",
            "SubnetId",
            "VpcId",
            "PrivateIpAddress",
            "PublicIpAddress",
            "LaunchTime",
        )
    ]
    return (
        f"<h1>{escape(iid)} · {escape(found['State']['Name'])}</h1>"
        f"<p>{req.link('/ec2', '← instances')}</p>"
        + table(("Attribute", "Value"), [(k, _when(v)) for k, v in shown if v])
        + f"<h2>Console output</h2>{_pre(text or 'Nothing printed yet.')}"
    )


# --- CloudWatch ---


def cloudwatch_list(req: Request) -> str:
    alarms = req.client("cloudwatch").describe_alarms().get("MetricAlarms", [])
    rows = [
        (
            req.link(f"/cloudwatch/{a['AlarmName']}", a["AlarmName"]),
            Markup(
                f"<span class='state-{escape(a['StateValue'])}'>{escape(a['StateValue'])}</span>"
            ),
            f"{a.get('Namespace', '')} {a.get('MetricName', '')}",
            a.get("StateReason", ""),
        )
        for a in alarms
    ]
    return "<h1>Alarms</h1>" + table(("Alarm", "State", "Metric", "Reason"), rows, "No alarms.")


def cloudwatch_detail(req: Request) -> str:
    cw = req.client("cloudwatch")
    name = req.parts[1]
    alarms = cw.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    if not alarms:
        return f"<h1>{escape(name)}</h1><p class='error'>No such alarm.</p>"
    alarm = alarms[0]
    points: list[tuple[float, float]] = []
    if alarm.get("MetricName"):
        end = datetime.now(UTC) + timedelta(minutes=5)
        stats = cw.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=end - timedelta(hours=3),
            EndTime=end,
            Period=alarm.get("Period", 60),
            Statistics=[alarm.get("Statistic") or "Average"],
        )
        stat = alarm.get("Statistic") or "Average"
        points = sorted(
            (d["Timestamp"].timestamp(), float(d[stat])) for d in stats.get("Datapoints", [])
        )
    history = cw.describe_alarm_history(AlarmName=name, MaxRecords=20).get("AlarmHistoryItems", [])
    rows = [
        (_when(h["Timestamp"]), h.get("HistoryItemType"), h.get("HistorySummary")) for h in history
    ]
    return (
        f"<h1>{escape(name)} · <span class='state-{escape(alarm['StateValue'])}'>"
        f"{escape(alarm['StateValue'])}</span></h1><p>{req.link('/cloudwatch', '← alarms')}</p>"
        f"<p>{escape(alarm.get('StateReason', ''))}</p>"
        f"<h2>{escape(alarm.get('MetricName', 'expression'))} "
        f"(threshold {alarm.get('Threshold')})</h2>{chart(points)}"
        + "<h2>History</h2>"
        + table(("Time", "Type", "Summary"), rows, "No history.")
    )


# --- Kinesis ---


def kinesis_list(req: Request) -> str:
    kinesis = req.client("kinesis")
    rows = []
    for listing in kinesis.get_paginator("list_streams").paginate():
        for found in listing.get("StreamSummaries", []):
            name = found["StreamName"]
            summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            rows.append(
                (
                    req.link(f"/kinesis/{name}", name),
                    summary["StreamStatus"],
                    summary["StreamModeDetails"]["StreamMode"],
                    summary["OpenShardCount"],
                    f"{summary['RetentionPeriodHours']} h",
                )
            )
    return "<h1>Streams</h1>" + table(
        ("Name", "Status", "Mode", "Open shards", "Retention"), rows, "No streams."
    )


def kinesis_detail(req: Request) -> str:
    """The stream's shards and the records of one of them (reading consumes nothing)."""
    kinesis = req.client("kinesis")
    name = req.parts[1]
    shards = kinesis.list_shards(StreamName=name).get("Shards", [])
    chosen = req.query.get("shard") or next(
        (s["ShardId"] for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
        shards[0]["ShardId"] if shards else "",
    )
    shard_rows = [
        (
            req.link(f"/kinesis/{name}", s["ShardId"], shard=s["ShardId"]),
            "closed" if "EndingSequenceNumber" in s["SequenceNumberRange"] else "open",
            s.get("ParentShardId", ""),
            s["HashKeyRange"]["StartingHashKey"],
            s["HashKeyRange"]["EndingHashKey"],
        )
        for s in shards
    ]
    records: list[dict[str, Any]] = []
    if chosen:
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if req.query.get("after"):
            position = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": req.query["after"],
            }
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=chosen, **position)
        records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=50)["Records"]
    rows = [
        (
            r["SequenceNumber"],
            r["PartitionKey"],
            _when(r["ApproximateArrivalTimestamp"]),
            _record_data(r["Data"]),
        )
        for r in records
    ]
    nxt = ""
    if len(records) == 50:
        after = records[-1]["SequenceNumber"]
        nxt = f"<p>{req.link(f'/kinesis/{name}', 'next page →', shard=chosen, after=after)}</p>"
    return (
        f"<h1>{escape(name)}</h1><p>{req.link('/kinesis', '← streams')}</p><h2>Shards</h2>"
        + table(("Shard", "State", "Parent", "From hash key", "To hash key"), shard_rows)
        + f"<h2>Records of {escape(chosen)}</h2>"
        + table(("Sequence number", "Partition key", "Arrived", "Data"), rows, "No records.")
        + nxt
    )


def _record_data(data: bytes) -> str:
    try:
        return data.decode("utf-8")[:2000]
    except UnicodeDecodeError:
        return "base64: " + base64.b64encode(data[:1500]).decode()


# --- CloudFormation ---


def cloudformation_list(req: Request) -> str:
    stacks = req.client("cloudformation").describe_stacks().get("Stacks", [])
    rows = [
        (
            req.link(f"/cloudformation/{s['StackName']}", s["StackName"]),
            s["StackStatus"],
            _when(s.get("CreationTime")),
        )
        for s in stacks
    ]
    return "<h1>Stacks</h1>" + table(("Stack", "Status", "Created"), rows, "No stacks.")


def cloudformation_detail(req: Request) -> str:
    cfn = req.client("cloudformation")
    name = req.parts[1]
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    rows = [
        (
            _when(e["Timestamp"]),
            e.get("LogicalResourceId"),
            e.get("ResourceType"),
            e.get("ResourceStatus"),
            e.get("ResourceStatusReason", ""),
        )
        for e in events
    ]
    return (
        f"<h1>{escape(name)}</h1><p>{req.link('/cloudformation', '← stacks')}</p><h2>Events</h2>"
        + table(("Time", "Logical id", "Type", "Status", "Reason"), rows, "No events.")
    )
