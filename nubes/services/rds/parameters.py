"""The parameters of a ``postgres<major>`` DB parameter group family: what the installed
server itself declares (``postgres --describe-config``), so every default, type and range is
the real one."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass

from nubes.runtime import rds as runtime

FIXED = {
    "config_file",
    "data_directory",
    "external_pid_file",
    "hba_file",
    "ident_file",
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "include",
    "include_dir",
    "include_if_exists",
}
"""Settings nubes owns (where the server lives and listens): RDS does not let them change."""
TYPES = {"BOOLEAN": "boolean", "INTEGER": "integer", "REAL": "float", "ENUM": "string"}


@dataclass(frozen=True)
class Parameter:
    name: str
    context: str
    kind: str
    default: str
    low: str
    high: str
    description: str

    @property
    def static(self) -> bool:
        """Only read at server start (a reboot applies it)."""
        return self.context == "postmaster"

    def describe(
        self, value: str | None, source: str, method: str | None = None
    ) -> dict[str, object]:
        out: dict[str, object] = {
            "ParameterName": self.name,
            "Description": self.description,
            "Source": source,
            "ApplyType": "static" if self.static else "dynamic",
            "DataType": TYPES.get(self.kind, "string"),
            "IsModifiable": self.name not in FIXED,
            "ApplyMethod": method or "pending-reboot",
        }
        if self.kind == "BOOLEAN":
            out["AllowedValues"] = "0,1"
        elif self.low or self.high:
            out["AllowedValues"] = f"{self.low}-{self.high}"
        if value is not None:
            out["ParameterValue"] = value
        return out

    def check(self, value: str) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if self.kind == "BOOLEAN":
            ok = value.lower() in ("0", "1", "on", "off", "true", "false")
            return None if ok else "allowed values are: 0,1"
        if self.kind in ("INTEGER", "REAL"):
            try:
                number = float(value) if self.kind == "REAL" else int(value)
            except ValueError:
                return f"allowed values are: {self.low}-{self.high}"
            if self.low and self.high and not float(self.low) <= number <= float(self.high):
                return f"allowed values are: {self.low}-{self.high}"
        return None


@functools.cache
def catalogue() -> dict[str, Parameter]:
    postgres = runtime.binary("postgres")
    if postgres is None:
        return {}
    out = subprocess.run(
        [postgres, "--describe-config"], capture_output=True, text=True, check=False
    ).stdout
    found: dict[str, Parameter] = {}
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) < 8 or fields[1] == "internal":
            continue
        name, context, _group, kind, default, low, high, description = fields[:8]
        found[name] = Parameter(name, context, kind, default, low, high, description)
    return found


def family() -> str:
    version = runtime.version() or "15"
    return f"postgres{version.split('.')[0]}"
