"""Inline function code (``Code.ZipFile`` in a template) packaged as CloudFormation packages
it: the source as ``index.py`` / ``index.js``, beside the ``cfnresponse`` (Python) or
``cfn-response`` (Node.js) module that custom resources use to answer."""

from __future__ import annotations

import io
import zipfile

PYTHON_RESPONSE = """\
import json
import urllib.request

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(event, context, responseStatus, responseData, physicalResourceId=None, noEcho=False,
         reason=None):
    log_stream = getattr(context, "log_stream_name", "")
    body = {
        "Status": responseStatus,
        "Reason": reason or "See the details in CloudWatch Log Stream: " + log_stream,
        "PhysicalResourceId": physicalResourceId or log_stream,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": noEcho,
        "Data": responseData,
    }
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=data, method="PUT",
        headers={"content-type": "", "content-length": str(len(data))},
    )
    try:
        with urllib.request.urlopen(request) as answer:
            print("Status code:", answer.status)
    except Exception as exc:
        print("send(..) failed executing http.request(..):", exc)
"""

NODE_RESPONSE = """\
exports.SUCCESS = "SUCCESS";
exports.FAILED = "FAILED";

exports.send = function (event, context, responseStatus, responseData, physicalResourceId,
                         noEcho, reason) {
  return new Promise((resolve) => {
    const body = JSON.stringify({
      Status: responseStatus,
      Reason: reason || "See the details in CloudWatch Log Stream: " + context.logStreamName,
      PhysicalResourceId: physicalResourceId || context.logStreamName,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      NoEcho: noEcho || false,
      Data: responseData,
    });
    const url = new URL(event.ResponseURL);
    const client = url.protocol === "https:" ? require("https") : require("http");
    const request = client.request(
      url,
      { method: "PUT", headers: { "content-type": "", "content-length": Buffer.byteLength(body) } },
      (response) => {
        console.log("Status code: " + response.statusCode);
        response.resume();
        response.on("end", () => { resolve(); if (context.done) context.done(); });
      },
    );
    request.on("error", (error) => {
      console.log("send(..) failed executing https.request(..): " + error);
      resolve();
      if (context.done) context.done();
    });
    request.write(body);
    request.end();
  });
};
"""


def inline_zip(source: str, runtime: str) -> bytes:
    """The deployment package CloudFormation makes of inline code for ``runtime``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if runtime.startswith("nodejs"):
            archive.writestr("index.js", source)
            archive.writestr("node_modules/cfn-response/index.js", NODE_RESPONSE)
        else:
            archive.writestr("index.py", source)
            archive.writestr("cfnresponse.py", PYTHON_RESPONSE)
    return buffer.getvalue()
