"""The README's pytest example runs, in a directory of its own, with the plugin nubes installs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    text = README.read_text()
    block = text.split("<!-- pytest-example:start -->", 1)[1]
    block = block.split("<!-- pytest-example:end -->", 1)[0]
    return block.split("```python", 1)[1].split("```", 1)[0]


def test_readme_example_runs_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_plugin_uses_a_running_nubes_from_aws_endpoint_url(tmp_path: Path, endpoint: str) -> None:
    (tmp_path / "test_running.py").write_text(
        "def test_endpoint(nubes_endpoint, nubes_client):\n"
        f"    assert nubes_endpoint == {endpoint!r}\n"
        "    assert nubes_client('sts').get_caller_identity()['Account']\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["AWS_ENDPOINT_URL"] = endpoint
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_plugins_fixtures_in_this_suite(
    nubes_reset: None, nubes_client: Any, nubes_resource: Any
) -> None:
    """nubes' own suite uses the fixtures it ships: a server of the plugin's, reset first."""
    assert nubes_client("s3").list_buckets()["Buckets"] == []
    table = nubes_resource("dynamodb").create_table(
        TableName="plugin-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.put_item(Item={"id": "a", "n": 1})
    assert table.get_item(Key={"id": "a"})["Item"]["n"] == 1
