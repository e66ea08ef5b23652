"""The ``hotline`` command answers ``--help`` for itself and every group."""

from typer.testing import CliRunner

from hotline.cli import app


def test_root_help_lists_the_groups() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "12333" in result.output
