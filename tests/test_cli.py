"""The ``hotline`` command answers ``--help`` for itself and every group."""

import inspect
from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from hotline.cli import app


def test_root_help_lists_the_groups() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "12333" in result.output


def test_root_help_says_where_settings_come_from() -> None:
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for said in ("HOTLINE_", ".env", "HOTLINE_KAFKA__BOOTSTRAP_SERVERS", "hotline/settings.py"):
        assert said in result.output


def test_every_help_paragraph_after_the_first_is_one_line() -> None:
    """typer keeps the line breaks of a command's later paragraphs (it joins only the first's),
    so a paragraph written over two lines printed in --help broken mid-sentence."""

    def broken(command: Any, path: str) -> Iterator[str]:
        _first, *rest = inspect.cleandoc(command.help or "").split("\n\n")
        if any("\n" in paragraph.strip() for paragraph in rest):
            yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from broken(sub, f"{path} {name}")

    assert list(broken(typer.main.get_command(app), "hotline")) == []


def test_every_command_listed_in_its_group_has_a_one_line_summary() -> None:
    """A group's Commands panel prints a command's ``short_help`` or else its first paragraph
    with its line breaks kept (typer, rich mode): a docstring's first paragraph written over
    several lines showed there broken mid-sentence (``hotline health``, ``hotline streams
    worker`` and ``status``)."""

    def broken(group: Any, path: str) -> Iterator[str]:
        for name, sub in getattr(group, "commands", {}).items():
            summary = sub.short_help or inspect.cleandoc(sub.help or "").split("\n\n")[0]
            if "\n" in summary.strip():
                yield f"{path} {name}"
            yield from broken(sub, f"{path} {name}")

    assert list(broken(typer.main.get_command(app), "hotline")) == []
