"""The README's table of implemented operations is generated from the code and kept current."""

from __future__ import annotations

from pathlib import Path

from nubes.services.registry import implemented_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_what_is_implemented() -> None:
    text = README.read_text()
    start = text.index("<!-- implemented:start -->") + len("<!-- implemented:start -->")
    end = text.index("<!-- implemented:end -->")
    assert text[start:end].strip() == implemented_markdown().strip(), (
        "README is stale: run `python scripts/update_readme.py`"
    )


def test_readme_has_exactly_two_setup_commands() -> None:
    text = README.read_text()
    setup = text[text.index("## Set up") : text.index("## Use it")]
    blocks = setup.split("```sh")[1:]
    assert len(blocks) == 2
    assert "nubes start" in blocks[0]
    assert "pytest" in blocks[1]
