"""Invoking functions on local workers: payloads, context, errors, timeouts, throttling, logs,
Node.js, asynchronous invocation with destinations."""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

CONTEXT = """
import logging
import os
print("init ran")
logging.getLogger().setLevel(logging.INFO)

def handler(event, context):
    print("got", event)
    logging.info("logged %s", 42)
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in (
            "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_ENDPOINT_URL",
            "MY_SETTING")},
        "cwd": os.getcwd(),
    }
"""

FAILING = """
def handler(event, context):
    raise ValueError("something broke: " + event.get("why", ""))
"""

SLEEPY = """
import time

def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return "woke"
"""


def invoke_json(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[Any, Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    return out, json.loads(out["Payload"].read())


def test_round_trip_context_and_environment(
    lam: Any, make_function: Callable[..., str], endpoint: str
) -> None:
    name = make_function(
        {"app.py": CONTEXT}, MemorySize=256, Environment={"Variables": {"MY_SETTING": "on"}}
    )
    out, body = invoke_json(lam, name, {"hello": "world"})
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out
    assert out["ExecutedVersion"] == "$LATEST"
    assert body["event"] == {"hello": "world"}
    assert body["request_id"] == out["ResponseMetadata"]["RequestId"]
    assert body["name"] == name and body["version"] == "$LATEST"
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert body["memory"] == 256
    assert body["group"] == f"/aws/lambda/{name}"
    assert body["stream"].endswith(body["stream"].split("]")[-1])
    assert "[$LATEST]" in body["stream"]
    assert 0 < body["remaining"] <= 3000
    env = body["env"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["stream"]
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == body["cwd"]
    assert env["AWS_ENDPOINT_URL"] == endpoint.replace("localhost", "127.0.0.1")
    assert env["MY_SETTING"] == "on"
    # A warm worker serves the next invocation: same log stream, new request id.
    _, again = invoke_json(lam, name, {"n": 2})
    assert again["stream"] == body["stream"]
    assert again["request_id"] != body["request_id"]


def test_dry_run_and_bad_payload(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": CONTEXT})
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert exc.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name + "-missing")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_function_error_payload(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": FAILING})
    out, body = invoke_json(lam, name, {"why": "disk full"}, LogType="Tail")
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    assert body["errorMessage"] == "something broke: disk full"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == out["ResponseMetadata"]["RequestId"]
    assert any("raise ValueError" in frame for frame in body["stackTrace"])
    assert not any("bootstrap" in frame for frame in body["stackTrace"])
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "[ERROR] ValueError: something broke: disk full" in tail
    assert tail.rstrip().splitlines()[-1].startswith("REPORT RequestId:")


def test_import_and_handler_errors(lam: Any, make_function: Callable[..., str]) -> None:
    missing_module = make_function({"app.py": "x = 1\n"}, handler="nothere.handler")
    out, body = invoke_json(lam, missing_module)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Unable to import module 'nothere'")
    missing_handler = make_function({"app.py": "x = 1\n"}, handler="app.nope")
    out, body = invoke_json(lam, missing_handler)
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'nope' missing on module 'app'"


def test_timeout_kills_the_worker(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": SLEEPY}, Timeout=1)
    out, body = invoke_json(lam, name, {"seconds": 30}, LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in tail
    # A fresh worker serves the next invocation.
    _, again = invoke_json(lam, name, {"seconds": 0})
    assert again == "woke"


def test_reserved_concurrency_throttles(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": SLEEPY}, Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert exc.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    started = threading.Event()
    results: list[Any] = []

    def slow() -> None:
        started.set()
        # The probes below may hold the one slot for a moment: retry until this one runs.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                results.append(invoke_json(lam, name, {"seconds": 3})[1])
                return
            except ClientError:
                time.sleep(0.02)

    worker = threading.Thread(target=slow)
    worker.start()
    started.wait()
    throttled = None
    deadline = time.monotonic() + 60
    while worker.is_alive() and time.monotonic() < deadline:
        try:
            lam.invoke(FunctionName=name, InvocationType="RequestResponse", Payload=b"{}")
        except ClientError as err:
            throttled = err
            break
        time.sleep(0.02)
    worker.join()
    assert results == ["woke"]
    assert throttled is not None
    assert throttled.response["Error"]["Code"] == "TooManyRequestsException"


def test_logs_have_start_end_report(lam: Any, logs: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": CONTEXT})
    out, body = invoke_json(lam, name, {"k": "v"})
    request_id = out["ResponseMetadata"]["RequestId"]
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [body["stream"]]
    stream = body["stream"]
    assert stream[:10].count("/") == 2 and "[$LATEST]" in stream
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    messages = [e["message"] for e in events["events"]]
    assert any(m.startswith("INIT_START") for m in messages)
    assert "init ran" in messages
    start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
    assert "got {'k': 'v'}" in messages[start:]
    logged = [m for m in messages if m.endswith("logged 42")]
    assert len(logged) == 1 and logged[0].startswith("[INFO]\t")
    assert f"\t{request_id}\tlogged 42" in logged[0]
    assert f"END RequestId: {request_id}" in messages
    report = messages[-1]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    for part in ("Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ", "Init Duration:"):
        assert part in report
    filtered = logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"]
    assert len(filtered) == 1


def test_function_calls_nubes_with_boto3(lam: Any, make_function: Callable[..., str]) -> None:
    source = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    logs = boto3.client('logs')\n"
        "    logs.create_log_group(logGroupName=event['group'])\n"
        "    found = logs.describe_log_groups(logGroupNamePrefix=event['group'])\n"
        "    return [g['logGroupName'] for g in found['logGroups']]\n"
    )
    name = make_function({"app.py": source}, Timeout=30)
    _, body = invoke_json(lam, name, {"group": f"/from/{name}"})
    assert body == [f"/from/{name}"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_function(lam: Any, make_function: Callable[..., str]) -> None:
    source = (
        "exports.handler = async (event, context) => {\n"
        "  console.log('node got', JSON.stringify(event));\n"
        "  if (event.fail) { throw new TypeError('bad input'); }\n"
        "  return { sum: event.a + event.b, name: context.functionName,\n"
        "           remaining: context.getRemainingTimeInMillis() > 0 };\n"
        "};\n"
    )
    name = make_function({"index.js": source}, handler="index.handler", runtime="nodejs20.x")
    out, body = invoke_json(lam, name, {"a": 2, "b": 3}, LogType="Tail")
    assert body == {"sum": 5, "name": name, "remaining": True}
    tail = base64.b64decode(out["LogResult"]).decode()
    request_id = out["ResponseMetadata"]["RequestId"]
    assert f'\t{request_id}\tINFO\tnode got {{"a":2,"b":3}}' in tail
    out, body = invoke_json(lam, name, {"fail": True})
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad input"


@pytest.mark.clock
def test_event_invoke_with_destinations(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
    endpoint: str,
) -> None:
    sqs = client("sqs")
    success_url = sqs.create_queue(QueueName=unique("ok"))["QueueUrl"]
    failure_url = sqs.create_queue(QueueName=unique("bad"))["QueueUrl"]

    def arn(url: str) -> str:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attrs["Attributes"]["QueueArn"])

    source = (
        "def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise RuntimeError('nope')\n"
        "    return {'done': event['n']}\n"
    )
    name = make_function({"app.py": source})
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={
            "OnSuccess": {"Destination": arn(success_url)},
            "OnFailure": {"Destination": arn(failure_url)},
        },
    )
    config = lam.get_function_event_invoke_config(FunctionName=name)
    assert config["MaximumRetryAttempts"] == 1
    assert (
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 7}')["StatusCode"]
        == 202
    )
    record = json.loads(receive_one(sqs, success_url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 7}
    assert record["responsePayload"] == {"done": 7}
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    # The first attempt fails; the retry waits a minute of nubes' clock.
    deadline = time.monotonic() + 60
    failure = None
    while failure is None and time.monotonic() < deadline:
        requests.post(f"{endpoint}/_nubes/clock", json={"advance": 61}, timeout=5)
        got = sqs.receive_message(QueueUrl=failure_url, WaitTimeSeconds=1)
        failure = (got.get("Messages") or [None])[0]
    assert failure is not None
    record = json.loads(failure["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "nope"


def receive_one(sqs: Any, url: str, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        if got.get("Messages"):
            return dict(got["Messages"][0])
    raise AssertionError(f"no message arrived in {url}")


@pytest.mark.clock
def test_event_invoke_dead_letter_queue_and_event_age(
    lam: Any,
    client: Callable[..., Any],
    make_function: Callable[..., str],
    unique: Callable[[str], str],
    endpoint: str,
) -> None:
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = make_function({"app.py": FAILING}, DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"why": "dlq"}')
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=10, MessageAttributeNames=["All"])[
        "Messages"
    ][0]
    assert json.loads(got["Body"]) == {"why": "dlq"}
    attributes = got["MessageAttributes"]
    assert attributes["ErrorMessage"]["StringValue"] == "something broke: dlq"
    assert attributes["RequestID"]["StringValue"]
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=got["ReceiptHandle"])
    # An event older than MaximumEventAgeInSeconds is dropped to the failure path unrun.
    lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"why": "old"}')
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 120}, timeout=5)
    lam.delete_function_concurrency(FunctionName=name)
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=10, MessageAttributeNames=["All"])
    message = got["Messages"][0]
    assert json.loads(message["Body"]) == {"why": "old"}
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "EventAgeExceeded"


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13])
def test_each_python_runtime_runs_on_its_interpreter(
    lam: Any, make_function: Callable[..., str], minor: int
) -> None:
    from nubes.runtime.lambda_ import runtimes

    if minor not in runtimes.python_versions():
        pytest.skip(f"python3.{minor} is not installed here")
    source = "import sys\ndef handler(e, c):\n    return list(sys.version_info[:2])\n"
    name = make_function({"app.py": source}, runtime=f"python3.{minor}")
    assert "StateReason" not in lam.get_function_configuration(FunctionName=name)
    _, body = invoke_json(lam, name)
    assert body == [3, minor]


def test_custom_log_group(
    lam: Any, logs: Any, make_function: Callable[..., str], unique: Callable[[str], str]
) -> None:
    group = "/custom/" + unique("grp")
    name = make_function({"app.py": CONTEXT}, LoggingConfig={"LogGroup": group})
    _, body = invoke_json(lam, name)
    assert body["group"] == group and body["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == group
    found = logs.filter_log_events(logGroupName=group, filterPattern='"START RequestId"')["events"]
    assert len(found) == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_layer_modules(
    lam: Any, make_function: Callable[..., str], unique: Callable[[str], str]
) -> None:
    from tests.lambda_.conftest import zipped

    layer = lam.publish_layer_version(
        LayerName=unique("nodelayer"),
        Content={
            "ZipFile": zipped(
                {"nodejs/node_modules/greeter/index.js": "exports.hi = (n) => `hi ${n}`;\n"}
            )
        },
    )
    name = make_function(
        {"index.js": "const g = require('greeter');\nexports.handler = async (e) => g.hi(e.n);\n"},
        handler="index.handler",
        runtime="nodejs20.x",
        Layers=[layer["LayerVersionArn"]],
    )
    _, body = invoke_json(lam, name, {"n": "there"})
    assert body == "hi there"


def test_runtime_exit_is_reported(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function({"app.py": "import sys\ndef handler(e, c):\n    sys.exit(3)\n"})
    out, body = invoke_json(lam, name)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: exit status 3")


def test_handlers_in_subdirectories(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(
        {"src/pkg/__init__.py": "", "src/pkg/main.py": "def run(e, c):\n    return 'nested'\n"},
        handler="src/pkg/main.run",
    )
    assert invoke_json(lam, name)[1] == "nested"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_es_module_handler(lam: Any, make_function: Callable[..., str]) -> None:
    name = make_function(
        {"lib/index.mjs": "export const handler = async (event) => ({ esm: event.x * 2 });\n"},
        handler="lib/index.handler",
        runtime="nodejs20.x",
    )
    assert invoke_json(lam, name, {"x": 21})[1] == {"esm": 42}


def test_memory_limit_is_enforced(lam: Any, make_function: Callable[..., str]) -> None:
    source = (
        "import time\n"
        "def handler(event, context):\n"
        "    hog = b'x' * (event['mb'] * 1024 * 1024)\n"
        "    time.sleep(0.5)\n"
        "    return len(hog)\n"
    )
    name = make_function({"app.py": source}, MemorySize=128, Timeout=10)
    assert invoke_json(lam, name, {"mb": 8})[1] == 8 * 1024 * 1024
    out, body = invoke_json(lam, name, {"mb": 300}, LogType="Tail")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")
    report = base64.b64decode(out["LogResult"]).decode().strip().splitlines()[-1]
    used = int(report.split("Max Memory Used: ")[1].split(" ")[0])
    assert used > 128


def test_json_log_format(lam: Any, logs: Any, make_function: Callable[..., str]) -> None:
    source = (
        "import logging\n"
        "logger = logging.getLogger('app')\n"
        "def handler(event, context):\n"
        "    logger.debug('hidden')\n"
        "    logger.warning('careful %s', 1)\n"
        "    return 'ok'\n"
    )
    name = make_function(
        {"app.py": source},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    )
    out, _ = invoke_json(lam, name)
    request_id = out["ResponseMetadata"]["RequestId"]
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    records = [json.loads(e["message"]) for e in events]
    kinds = [r.get("type") for r in records]
    assert kinds[-2:] == ["platform.runtimeDone", "platform.report"]
    assert "platform.start" in kinds and "platform.initStart" in kinds
    report = records[-1]["record"]
    assert report["requestId"] == request_id and report["status"] == "success"
    assert report["metrics"]["memorySizeMB"] == 128
    app = [r for r in records if "level" in r]
    assert app == [
        {
            "timestamp": app[0]["timestamp"],
            "level": "WARNING",
            "message": "careful 1",
            "logger": "app",
            "requestId": request_id,
        }
    ]
