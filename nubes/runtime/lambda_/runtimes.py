"""Which interpreter runs a Lambda runtime on this machine.

``python3.X`` runs on a ``python3.X`` executable (PATH, then pyenv's versions), ``nodejsN.x`` on
``node`` when its major version is N, ``javaN`` on ``java`` (a JDK); ``provided*`` runs the
function's own ``bootstrap`` executable, which must run on this machine (a Linux binary of its
architecture, or a script).
When the exact interpreter is missing the nearest available version runs the function instead,
and the choice says so (the function's state reason and its logs repeat it): never silently.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PYTHON_RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")


@dataclass(frozen=True)
class Interpreter:
    language: str
    """python or node."""
    path: str
    version: str
    """What actually runs: ``3.12`` or ``20``."""
    note: str = ""
    """Why this is not the runtime asked for; empty when it is."""


def language_of(runtime: str) -> str | None:
    if runtime.startswith("python3."):
        return "python"
    if runtime.startswith("nodejs"):
        return "node"
    if runtime.startswith("provided"):
        return "provided"
    if runtime.startswith("java"):
        return "java"
    return None


def _pyenv_roots() -> list[Path]:
    roots = [Path(os.environ["PYENV_ROOT"])] if os.environ.get("PYENV_ROOT") else []
    roots.append(Path.home() / ".pyenv")
    return roots


@functools.cache
def python_versions() -> dict[int, str]:
    """Minor version -> executable for every python3.X found (real binaries, not pyenv shims,
    which add a shell script to each start)."""
    found: dict[int, str] = {}
    for minor in range(8, 20):
        name = f"python3.{minor}"
        for root in _pyenv_roots():
            candidates = sorted((root / "versions").glob(f"3.{minor}.*/bin/{name}"), reverse=True)
            if candidates:
                found[minor] = str(candidates[0])
                break
        if minor in found:
            continue
        path = shutil.which(name)
        if path and "/shims/" not in path:
            found[minor] = path
    return found


@functools.cache
def node_version() -> tuple[str, int] | None:
    node = shutil.which("node")
    if node is None:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)", out.stdout.strip())
    return (node, int(match.group(1))) if match else None


@functools.cache
def java_version() -> tuple[str, int] | None:
    """``java`` and its major version, when a JDK (with ``javac``) is installed: nubes compiles
    its Java runtime client on first use."""
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr)
    if match is None:
        return None
    major = int(match.group(1))
    return java, int(match.group(2)) if major == 1 and match.group(2) else major


def _nearest(wanted: int, available: list[int]) -> int:
    # Prefer the closest version, and a newer one over an older one at the same distance.
    return min(available, key=lambda v: (abs(v - wanted), -v))


def resolve(runtime: str) -> Interpreter | None:
    """The interpreter for ``runtime``, or None when nothing on this machine can run it."""
    language = language_of(runtime)
    if language == "python":
        versions = python_versions()
        if not versions:
            return None
        wanted = int(runtime.split(".")[1])
        minor = wanted if wanted in versions else _nearest(wanted, sorted(versions))
        note = "" if minor == wanted else _note(runtime, f"python3.{minor}")
        return Interpreter("python", versions[minor], f"3.{minor}", note)
    if language == "provided":
        # The function brings its own executable; nubes' interpreter serves it the Runtime API.
        return Interpreter("provided", sys.executable, runtime.partition(".")[2] or "al")
    if language == "java":
        found_java = java_version()
        if found_java is None:
            return None
        path, major = found_java
        wanted_major = int(re.sub(r"\D", "", runtime.split(".")[0]) or 0)
        note = "" if major == wanted_major else _note(runtime, f"Java {major}")
        return Interpreter("java", path, str(major), note)
    if language == "node":
        found = node_version()
        if found is None:
            return None
        path, major = found
        wanted_major = int(re.sub(r"\D", "", runtime) or 0)
        note = "" if major == wanted_major else _note(runtime, f"node {major}")
        return Interpreter("node", path, str(major), note)
    return None


def _note(runtime: str, actual: str) -> str:
    return f"{runtime} is not installed on this machine: the function runs on {actual}."
