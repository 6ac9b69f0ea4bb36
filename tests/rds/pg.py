"""What the RDS tests share: ``psql`` against an instance's endpoint, waiting for a status,
creating an instance of engine postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any

import pytest

from nubes.runtime import rds as runtime

needs_postgres = pytest.mark.skipif(
    runtime.cannot_run() is not None or shutil.which("psql") is None,
    reason=f"no PostgreSQL server can run here ({runtime.cannot_run() or 'psql is missing'})",
)
PASSWORD = "s3cret-Passw0rd"


def psql(endpoint: dict[str, Any], password: str, sql: str, db: str = "app") -> str:
    out = subprocess.run(
        [
            "psql",
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            endpoint["Address"],
            "-p",
            str(endpoint["Port"]),
            "-U",
            "master",
            "-d",
            db,
            "-c",
            sql,
        ],
        env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def wait_for(rds: Any, ident: str, status: str = "available") -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        if found["DBInstanceStatus"] == status:
            return dict(found)
        assert found["DBInstanceStatus"] != "failed", found
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


def create(rds: Any, ident: str, **more: Any) -> dict[str, Any]:
    return dict(
        rds.create_db_instance(
            DBInstanceIdentifier=ident,
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="master",
            MasterUserPassword=PASSWORD,
            DBName="app",
            **more,
        )["DBInstance"]
    )
