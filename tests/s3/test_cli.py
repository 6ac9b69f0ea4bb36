"""The AWS CLI against nubes: cp and sync of a small tree, both ways."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any


def aws(endpoint: str, *args: str) -> str:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    done = subprocess.run(
        ["aws", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cp_and_sync_tree(s3: Any, bucket: str, endpoint: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    files = {
        "a.txt": b"alpha",
        "dir/b.bin": bytes(range(256)) * 100,
        "dir/sub/c.txt": b"gamma",
        "big.bin": os.urandom(9 * 1024 * 1024),  # above the CLI's 8 MiB multipart threshold
    }
    for name, data in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        # S3 lists Last-Modified to the second; a file written in the upload's second would
        # look newer than its copy and be synced again, as against AWS.
        os.utime(path, (1_600_000_000, 1_600_000_000))
    aws(endpoint, "s3", "cp", str(src / "a.txt"), f"s3://{bucket}/single/a.txt")
    assert s3.get_object(Bucket=bucket, Key="single/a.txt")["Body"].read() == b"alpha"
    aws(endpoint, "s3", "sync", str(src), f"s3://{bucket}/tree")
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="tree/")["Contents"]}
    assert listed == {f"tree/{name}" for name in files}
    assert aws(endpoint, "s3", "sync", str(src), f"s3://{bucket}/tree").strip() == ""
    dst = tmp_path / "dst"
    aws(endpoint, "s3", "sync", f"s3://{bucket}/tree", str(dst))
    for name, data in files.items():
        assert (dst / name).read_bytes() == data
    out = aws(endpoint, "s3", "ls", f"s3://{bucket}/tree/")
    assert "PRE dir/" in out and "a.txt" in out
    aws(endpoint, "s3", "rm", f"s3://{bucket}/tree", "--recursive")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="tree/")
