"""Init hooks as LocalStack users write them: scripts in ``<root>/{boot,start,ready,shutdown}.d``.

Roots, in order: ``/etc/localstack/init``, ``<data dir>/init`` and ``NUBES_INIT_DIR``. Within a
stage directory scripts run in name order, those of a folder before its subfolders (depth first,
alphabetically), each as a process of its own: ``.sh`` files that are executable, ``.py`` files
with this Python. A failing script is marked ERROR and the next one still runs. Scripts get
``AWS_ENDPOINT_URL`` and the root credentials, so the AWS CLI and SDKs in them need nothing else.

Stages: BOOT before the server starts, START while it starts (before it listens), READY once it
listens (``Ready.`` is printed after these finish, so what they create exists by then), SHUTDOWN
when it stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nubes.config import Settings

log = logging.getLogger("nubes.init")

STAGES = ("BOOT", "START", "READY", "SHUTDOWN")
SYSTEM_ROOT = Path("/etc/localstack/init")


@dataclass
class Script:
    stage: str
    path: Path
    state: str = "UNKNOWN"
    """UNKNOWN, RUNNING, SUCCESSFUL or ERROR, as LocalStack reports them."""


def _walk(folder: Path) -> list[Path]:
    """A folder's scripts by name, then each subfolder's, alphabetically and depth first."""
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    here = [p for p in entries if p.is_file() and p.suffix in (".sh", ".py")]
    for sub in (p for p in entries if p.is_dir()):
        here.extend(_walk(sub))
    return here


class InitHooks:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        roots = [SYSTEM_ROOT]
        if not settings.ephemeral:
            roots.append(Path(settings.data_dir) / "init")
        if settings.init_dir:
            roots.append(Path(settings.init_dir))
        self.scripts: dict[str, list[Script]] = {stage: [] for stage in STAGES}
        for root in roots:
            for stage in STAGES:
                folder = root / f"{stage.lower()}.d"
                if folder.is_dir():
                    self.scripts[stage].extend(Script(stage, p) for p in _walk(folder))
        self.completed: dict[str, bool] = dict.fromkeys(STAGES, False)

    def _environment(self) -> dict[str, str]:
        s = self.settings
        host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        return {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://{host}:{s.port}",
            "AWS_ACCESS_KEY_ID": s.root_access_key,
            "AWS_SECRET_ACCESS_KEY": s.root_secret_key,
            "AWS_DEFAULT_REGION": s.region,
            "AWS_REGION": s.region,
        }

    def _command(self, script: Script) -> list[str] | None:
        if script.path.suffix == ".py":
            return [sys.executable, str(script.path)]
        if os.access(script.path, os.X_OK):
            return [str(script.path)]
        log.warning("init script %s is not executable; skipped", script.path)
        return None

    async def run(self, stage: str) -> None:
        """Run the stage's scripts one after the other, without blocking the server's loop (the
        READY scripts call the server itself)."""
        if self.completed[stage]:
            return
        env = self._environment()
        for script in self.scripts[stage]:
            command = self._command(script)
            if command is None:
                script.state = "ERROR"
                continue
            script.state = "RUNNING"
            log.info("init %s: running %s", stage, script.path)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command,
                    env=env,
                    cwd=script.path.parent,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                )
                output, _ = await proc.communicate()
            except OSError as exc:
                log.error("init %s: %s could not run: %s", stage, script.path, exc)
                script.state = "ERROR"
                continue
            for line in output.decode(errors="replace").splitlines():
                log.info("init %s: %s: %s", stage, script.path.name, line)
            script.state = "SUCCESSFUL" if proc.returncode == 0 else "ERROR"
            if proc.returncode != 0:
                log.error("init %s: %s exited with %s", stage, script.path, proc.returncode)
        self.completed[stage] = True

    def run_blocking(self, stage: str) -> None:
        """BOOT runs before any event loop exists."""
        if self.scripts[stage]:
            asyncio.run(self.run(stage))
        self.completed[stage] = True

    def report(self, stage: str | None = None) -> dict[str, Any] | None:
        """The body of ``GET /_localstack/init[/<stage>]``; None for an unknown stage."""

        def listed(scripts: list[Script]) -> list[dict[str, str]]:
            return [{"stage": s.stage, "name": s.path.name, "state": s.state} for s in scripts]

        if stage is None:
            every = [s for st in STAGES for s in self.scripts[st]]
            return {"completed": dict(self.completed), "scripts": listed(every)}
        key = stage.upper()
        if key not in self.scripts:
            return None
        return {"completed": self.completed[key], "scripts": listed(self.scripts[key])}
