"""Where a Lambda worker runs: in a sandbox of its own where the OS allows one without root.

On Linux with unprivileged user namespaces, a worker runs under ``unshare`` in new user, mount
and PID namespaces; ``sandbox_init.py`` gives it a root file system holding only the system's
directories (read-only), the interpreter, its code at /var/task, its layers at /opt, nubes'
runtime files at /var/runtime and a private /tmp (a tmpfs of the function's ephemeral storage
size). The data directory, other functions' code and the server's processes (its
``/proc/<pid>/environ``) are not there to read. Where that is not possible (another OS, user
namespaces switched off) workers run as plain child processes and a warning says so once; they
still get only the environment Lambda defines, never the server's.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("nubes.lambda.sandbox")

HERE = Path(__file__).parent
INIT = HERE / "sandbox_init.py"
UNSHARE = ("--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")

TASK = "/var/task"
OPT = "/opt"
TMP = "/tmp"
RUNTIME = "/var/runtime"
SDK = "/var/lang/sdk"
CACHE = "/var/runtime-cache"


@functools.cache
def available() -> bool:
    """Whether workers can be sandboxed here (asked once; a warning when not)."""
    unshare = shutil.which("unshare")
    reason = "the unshare command is missing" if unshare is None else ""
    if unshare is not None:
        try:
            probe = subprocess.run(
                [unshare, *UNSHARE, "--mount-proc", "true"], capture_output=True, timeout=10
            )
            if probe.returncode != 0:
                reason = probe.stderr.decode(errors="replace").strip() or "unshare failed"
        except (OSError, subprocess.SubprocessError) as exc:
            reason = str(exc)
    if reason:
        log.warning(
            "Lambda functions run without isolation (%s): a function can read what this user "
            "can, including nubes' data directory. Linux with unprivileged user namespaces "
            "isolates them.",
            reason,
        )
    return not reason


@dataclass
class Sandbox:
    """What one worker's sandbox holds; ``command`` wraps the worker's command in it."""

    mount_point: str
    """An empty directory of the host; the sandbox's root tmpfs is mounted on it (privately)."""
    task_root: str
    opt: str
    sdk: dict[str, str]
    """Name -> host path of the modules the Python runtimes offer (boto3 ...), under SDK."""
    interpreters: Iterable[str]
    """Executables the worker runs (their installations are bound where they are)."""
    tmp_mb: int = 512
    writable: dict[str, str] = field(default_factory=dict)
    """Sandbox path -> host directory the worker may write (a compile cache)."""

    def plan(self) -> dict[str, object]:
        binds: list[tuple[str, str, bool]] = []
        symlinks: list[tuple[str, str]] = []
        for path in SYSTEM:
            if os.path.islink(path):
                symlinks.append((path, os.readlink(path)))
            elif os.path.isdir(path):
                binds.append((path, path, True))
        binds += [(device, device, False) for device in DEVICES if os.path.exists(device)]
        for prefix in sorted(set(_installations(self.interpreters))):
            if Path(self.mount_point).is_relative_to(prefix):
                # An installation that holds nubes' data too (a home directory): only its
                # executables and libraries.
                parts = [f"{prefix}/{name}" for name in ("bin", "lib")]
                binds += [(path, path, True) for path in parts if os.path.isdir(path)]
            else:
                binds.append((prefix, prefix, True))
        binds.append((self.task_root, TASK, True))
        if self.opt:
            binds.append((self.opt, OPT, True))
        binds.append((str(HERE), RUNTIME, True))
        for name, path in sorted(self.sdk.items()):
            binds.append((path, f"{SDK}/{name}", True))
        for target, source in sorted(self.writable.items()):
            binds.append((source, target, False))
        return {
            "root": self.mount_point,
            "symlinks": symlinks,
            "binds": binds,
            "tmpfs": [(TMP, f"mode=1777,size={self.tmp_mb}m"), ("/dev/shm", "mode=1777")],
            "cwd": TASK,
        }

    def command(self, command: list[str]) -> list[str]:
        unshare = shutil.which("unshare") or "unshare"
        plan = json.dumps(self.plan())
        return [unshare, *UNSHARE, sys.executable, "-I", "-S", str(INIT), plan, "--", *command]


def _installations(executables: Iterable[str]) -> Iterable[str]:
    """The directories an executable needs beyond the system's: its installation (the parent
    of its bin/), for each link on the way to the real file (a venv's python, pyenv's)."""
    for executable in executables:
        path = Path(executable)
        seen = set()
        while path not in seen:
            seen.add(path)
            prefix = path.parent.parent if path.parent.name == "bin" else path.parent
            if not str(prefix).startswith(SYSTEM) and str(prefix) != "/":
                yield str(prefix)
            if not path.is_symlink():
                break
            path = (path.parent / os.readlink(path)).resolve(strict=False)
