"""Regenerate the README's table of implemented operations from the code."""

from __future__ import annotations

from pathlib import Path

from nubes.services.registry import implemented_markdown

START, END = "<!-- implemented:start -->", "<!-- implemented:end -->"


def main() -> None:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{implemented_markdown()}\n{END}{tail}")


if __name__ == "__main__":
    main()
