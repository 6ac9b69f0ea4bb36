"""The data directory is private to its user, like ``~/.aws``: it holds every secret key."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) and leave it readable by its owner only, also when
    an older nubes or the user made it with wider permissions."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with owner-only permissions unless it exists, in which case its
    permissions are narrowed. SQLite gives its -wal and -shm files the database's mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o777 != FILE_MODE:
                path.chmod(FILE_MODE)
    return path
