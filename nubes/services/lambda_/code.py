"""Function and layer code: zip checks, digests, and the unpacked trees workers run from.

Zips are blobs in the blob store. A worker runs from the zip unpacked into
``<root>/code/<blob>`` (its task root) and, when the function has layers, from the layers
unpacked in order into ``<root>/opt/<digest of the layer blobs>`` (what ``/opt`` is on AWS).
Trees are made on first use and removed with the last version using them; the whole root goes
at shutdown.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

MAX_UNZIPPED = 262_144_000
MAX_DIRECT_ZIP = 50 * 1024 * 1024


class BadZip(ValueError):
    pass


def check_zip(data: bytes) -> None:
    """Raise :class:`BadZip` with AWS's wording when ``data`` is not a usable deployment zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise BadZip(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    if size > MAX_UNZIPPED:
        raise BadZip(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


SCRATCH_PREFIX = "nubes-lambda-"


class CodeTrees:
    def __init__(self, root: Path | None) -> None:
        """``root`` None: a scratch directory in the system's temporary area (ephemeral mode),
        made when the server starts."""
        self._root = root

    @property
    def root(self) -> Path:
        assert self._root is not None, "CodeTrees.prepare() runs at server start"
        return self._root

    @property
    def sdk(self) -> Path:
        return self.root / "sdk"

    def prepare(self) -> None:
        if self._root is None:
            _remove_orphans()
            self._root = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._link_sdk()

    def _link_sdk(self) -> None:
        """AWS's Python runtimes ship boto3: link nubes' own (pure Python) copy for functions to
        fall back on; what a function or its layers bundle comes first on ``sys.path``."""
        self.sdk.mkdir(exist_ok=True)
        import importlib.util

        for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"):
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            target = self.sdk / source.name
            if not target.exists():
                with contextlib.suppress(OSError):
                    target.symlink_to(source)

    @property
    def sandbox_root(self) -> Path:
        """An empty directory sandboxes mount their root on (each in its own namespace)."""
        path = self.root / "sandbox-root"
        path.mkdir(exist_ok=True)
        return path

    def sdk_modules(self) -> dict[str, str]:
        """Name -> real path of each module linked into the SDK directory."""
        return {link.name: str(link.resolve()) for link in self.sdk.iterdir() if link.exists()}

    def task_root(self, blob_id: str, blob_path: Path) -> Path:
        return self._unpacked(self.root / "code" / blob_id, [blob_path])

    def opt_dir(self, blob_ids: Sequence[str], blob_paths: Sequence[Path]) -> Path:
        digest = hashlib.sha256("/".join(blob_ids).encode()).hexdigest()[:24]
        return self._unpacked(self.root / "opt" / digest, blob_paths)

    def tmp_dir(self, function_key: str) -> Path:
        """The function's ``/tmp``: TMPDIR of its workers, gone with the function."""
        digest = hashlib.sha256(function_key.encode()).hexdigest()[:24]
        path = self.root / "tmp" / digest
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _unpacked(self, target: Path, zips: Sequence[Path]) -> Path:
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
        try:
            for path in zips:
                with zipfile.ZipFile(path) as archive:
                    _extract(archive, staging)
            os.replace(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
        return target

    def forget(self, blob_id: str) -> None:
        shutil.rmtree(self.root / "code" / blob_id, ignore_errors=True)

    def forget_tmp(self, function_key: str) -> None:
        digest = hashlib.sha256(function_key.encode()).hexdigest()[:24]
        shutil.rmtree(self.root / "tmp" / digest, ignore_errors=True)

    def clear(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


def _remove_orphans() -> None:
    """Scratch directories of nubes processes that were killed before they could clean up."""
    if not Path("/proc/self").exists():
        return  # no cheap way to tell a live process here: leave them
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = path.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _extract(archive: zipfile.ZipFile, into: Path) -> None:
    """Extract keeping the Unix modes zip tools record (executables stay executable)."""
    for info in archive.infolist():
        extracted = Path(archive.extract(info, into))
        mode = (info.external_attr >> 16) & 0o777
        if mode and not info.is_dir():
            with contextlib.suppress(OSError):
                extracted.chmod(mode | 0o400)
