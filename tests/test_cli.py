"""The ``hotline`` command answers ``--help`` for itself and every group."""

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
