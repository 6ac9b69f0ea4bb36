"""Every third-party package the code imports is declared in pyproject.toml: those of ``nubes/``
in ``dependencies``, those of ``tests/`` in ``dependencies`` or the ``test`` extra. A fresh venv
installs only what is declared, so an undeclared import works here and fails for a new user."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"nubes", "tests"}
LOADED_BY = {"nubes/testing/pytest_plugin.py": {"pytest"}}
"""Modules only ever imported by a package that is then present: pytest loads its plugin."""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match is not None, f"unreadable requirement {requirement!r}"
        names.add(_normalize(match.group(1)))
    return names


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _requirement_names(project.get("dependencies", []))
    test = _requirement_names(project.get("optional-dependencies", {}).get("test", []))
    return runtime, runtime | test


def imported_modules(source: str) -> Iterator[tuple[str, int]]:
    """Top-level names of the absolute imports in ``source``, with their line numbers (imports
    under ``if TYPE_CHECKING``, inside functions or in ``try`` blocks count too: each is needed
    somewhere)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.partition(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0], node.lineno


def undeclared(folder: str, declared: set[str]) -> list[str]:
    distributions = packages_distributions()
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module, line in imported_modules(path.read_text(encoding="utf-8")):
            if module in sys.stdlib_module_names or module in FIRST_PARTY:
                continue
            if module in LOADED_BY.get(str(path.relative_to(ROOT)), ()):
                continue
            where = f"{path.relative_to(ROOT)}:{line}: {module}"
            dists = distributions.get(module)
            if not dists:
                problems.append(f"{where} (no installed distribution provides it)")
            elif not {_normalize(d) for d in dists} & declared:
                problems.append(f"{where} (from {', '.join(sorted(set(dists)))}, not declared)")
    return problems


@pytest.mark.parametrize("folder", ["nubes", "tests"])
def test_every_import_is_declared(folder: str) -> None:
    runtime, with_tests = _declared()
    problems = undeclared(folder, runtime if folder == "nubes" else with_tests)
    section = "dependencies" if folder == "nubes" else "[project.optional-dependencies] test"
    assert not problems, f"declare these in pyproject.toml {section}:\n" + "\n".join(problems)


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import a.b\nfrom c.d import e\nfrom . import f\nfrom .g import h\n"
        "def k():\n    import m\nif TYPE_CHECKING:\n    from n import o\n"
        "try:\n    import p\nexcept ImportError:\n    pass\n"
    )
    assert sorted(m for m, _ in imported_modules(source)) == ["a", "c", "m", "n", "p"]
