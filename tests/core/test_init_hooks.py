"""Init hooks as LocalStack users write them, and the /_localstack endpoints that report them."""

from __future__ import annotations

import json
import stat
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.server import NubesProcess


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_ready_scripts_have_run_when_ready_is_printed(
    tmp_path: Path, nubes_factory: Callable[..., NubesProcess]
) -> None:
    init = tmp_path / "init"
    _script(
        init / "ready.d" / "10-bucket.py",
        "import boto3\nboto3.client('s3').create_bucket(Bucket='made-by-init')\nprint('bucket')\n",
    )
    _script(
        init / "ready.d" / "20-queue.sh",
        f"#!/bin/sh\nexec {sys.executable} -c "
        "\"import boto3; boto3.client('sqs').create_queue(QueueName='made-by-init')\"\n",
    )
    _script(init / "ready.d" / "30-fails.sh", "#!/bin/sh\nexit 3\n")
    _script(init / "start.d" / "noop.sh", "#!/bin/sh\necho starting\n")
    server = nubes_factory(persistent=False, env={"NUBES_INIT_DIR": str(init)})
    # No waiting: both exist as soon as Ready. was printed.
    assert "made-by-init" in [b["Name"] for b in server.client("s3").list_buckets()["Buckets"]]
    assert server.client("sqs").get_queue_url(QueueName="made-by-init")["QueueUrl"]
    status, report = _get(server.endpoint + "/_localstack/init")
    assert status == 200
    assert report["completed"] == {"BOOT": True, "START": True, "READY": True, "SHUTDOWN": False}
    states = {s["name"]: (s["stage"], s["state"]) for s in report["scripts"]}
    assert states == {
        "noop.sh": ("START", "SUCCESSFUL"),
        "10-bucket.py": ("READY", "SUCCESSFUL"),
        "20-queue.sh": ("READY", "SUCCESSFUL"),
        "30-fails.sh": ("READY", "ERROR"),
    }
    status, ready = _get(server.endpoint + "/_localstack/init/ready")
    assert status == 200 and ready["completed"] is True and len(ready["scripts"]) == 3
    assert _get(server.endpoint + "/_localstack/init/nonsense")[0] == 404


def test_localstack_info_and_unknown_internal_paths(endpoint: str) -> None:
    status, info = _get(endpoint + "/_localstack/info")
    assert status == 200
    assert info["edition"] == "community" and info["version"]
    assert isinstance(info["uptime"], int)
    for path in ("/_localstack/nothing-here", "/_nubes/nothing-here"):
        status, body = _get(endpoint + path)
        assert status == 404 and "error" in body
