"""The in-worker side of a Python Lambda function: imports the handler once (the init phase),
then answers invoke requests from nubes, one at a time, over the socket whose file descriptor
nubes names in NUBES_LAMBDA_FD.

Run by the function's own interpreter (python3.9 and later), so only 3.9 syntax and the
standard library here. Frames are a 4-byte big-endian length and a UTF-8 JSON document.
"""

import importlib
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback

END_MARK = "\x00nubes-end "


class Channel:
    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.reader = self.sock.makefile("rb")

    def receive(self):
        head = self.reader.read(4)
        if len(head) < 4:
            return None
        (size,) = struct.unpack(">I", head)
        return json.loads(self.reader.read(size).decode("utf-8"))

    def send(self, message):
        data = json.dumps(message).encode("utf-8")
        self.sock.sendall(struct.pack(">I", len(data)) + data)


class Context:
    def __init__(self, info, deadline_ms):
        self.aws_request_id = info["aws_request_id"]
        self.function_name = info["function_name"]
        self.function_version = info["function_version"]
        self.invoked_function_arn = info["invoked_function_arn"]
        self.memory_limit_in_mb = info["memory_limit_in_mb"]
        self.log_group_name = info["log_group_name"]
        self.log_stream_name = info["log_stream_name"]
        self.identity = None
        self.client_context = info.get("client_context")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def error_document(exc, error_type=None, skip=1):
    """The error as AWS's Python runtime reports it; ``skip`` drops the bootstrap's own frames
    from the trace."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    frames = traceback.extract_tb(tb)
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


def load_handler(spec):
    """The handler callable for ``module.function``, or an error document as AWS words it."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        return None, {
            "errorMessage": f"Bad handler '{spec}': not enough values to unpack "
            "(expected 2, got 1)",
            "errorType": "Runtime.MalformedHandlerName",
            "stackTrace": [],
        }
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, {
            "errorMessage": f"Unable to import module '{module_name}': {exc}",
            "errorType": "Runtime.ImportModuleError",
            "stackTrace": [],
        }
    except SyntaxError as exc:
        return None, {
            "errorMessage": f"Syntax error in module '{module_name}': {exc}",
            "errorType": "Runtime.UserCodeSyntaxError",
            "stackTrace": [],
        }
    except Exception as exc:
        return None, error_document(exc)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, {
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "errorType": "Runtime.HandlerNotFound",
            "stackTrace": [],
        }
    return handler, None


def report_error(document, request_id):
    """The log line of an unhandled error, as the runtime writes it."""
    if JSON_LOGS:
        line = dict(document, level="ERROR", requestId=request_id)
        line["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        print(json.dumps(line), file=sys.stderr)
        return
    print(
        "[ERROR] {}: {}".format(document["errorType"], document["errorMessage"]),
        file=sys.stderr,
    )
    if document["stackTrace"]:
        print("Traceback (most recent call last):", file=sys.stderr)
    for frame in document["stackTrace"]:
        print(frame.rstrip("\n"), file=sys.stderr)


def marshal(result):
    try:
        return {"type": "result", "payload": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return {
            "type": "result",
            "error": {
                "errorMessage": message,
                "errorType": "Runtime.MarshalError",
                "stackTrace": [],
            },
        }


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"


class JsonFormatter(logging.Formatter):
    """The JSON log format: one object per record."""

    def format(self, record):
        document = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", ""),
        }
        if record.exc_info and record.exc_info[1] is not None:
            document.update(error_document(record.exc_info[1], skip=0))
        return json.dumps(document, default=str)


def install_logging():
    """The root logger handler AWS's Python runtime installs: level, time, request id (or
    JSON objects in the JSON log format, at the application log level)."""
    if JSON_LOGS:
        formatter: logging.Formatter = JsonFormatter()
        logging.getLogger().setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper())
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


def end_invocation(request_id):
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(2, (END_MARK + request_id + "\n").encode())


def main():
    channel = Channel(int(os.environ.pop("NUBES_LAMBDA_FD")))
    # The task root takes the place of this script's directory, which functions must not see.
    sys.path[0] = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    for extra in reversed(os.environ.get("NUBES_LAMBDA_PYTHONPATH", "").split(os.pathsep)):
        if extra:
            sys.path.insert(1, extra)
    install_logging()
    started = time.time()
    handler, init_error = load_handler(os.environ["_HANDLER"])
    end_invocation("init")
    channel.send({"type": "ready", "init_ms": (time.time() - started) * 1000, "error": init_error})
    while True:
        request = channel.receive()
        if request is None:
            return
        request_id = request["context"]["aws_request_id"]
        RequestIdFilter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        context = Context(request["context"], request["deadline_ms"])
        try:
            event = json.loads(request["payload"]) if request["payload"] else {}
            result = handler(event, context)
            reply = marshal(result)
        except Exception as exc:
            document = error_document(exc)
            report_error(document, request_id)
            reply = {"type": "result", "error": document}
        end_invocation(request_id)
        channel.send(reply)


if __name__ == "__main__":
    main()
