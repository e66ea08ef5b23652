"""``hotline quality`` and ``hotline report quality`` end to end against the session ClickHouse:
a simulated national campaign for two years, the report as HTML and PDF (Chinese text
checked in the PDF), the province variant, and a CSV import with a refused row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clickhouse_driver import Client
from markupsafe import escape
from typer.testing import CliRunner

from hotline.cli import app
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.reports.csv_import import HEADER
from hotline.reports.records import ITEM_FIELDS
from hotline.sinks.migrate import migrate

DATABASE = "quality_cli_test"


@pytest.fixture
def env(clickhouse: ClickHouseServer, clickhouse_client: Client) -> dict[str, str]:
    migrate(clickhouse_client, DATABASE)
    return {
        "HOTLINE_CLICKHOUSE__HOST": HOST,
        "HOTLINE_CLICKHOUSE__PORT": str(clickhouse.tcp_port),
        "HOTLINE_CLICKHOUSE__DATABASE": DATABASE,
    }


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.clickhouse
@pytest.mark.slow
def test_national_and_province_report_from_a_simulated_campaign(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert "366 evaluations of 2024 stored" in run(
        env, "quality", "campaign", "--year", "2024", "--seed", "2"
    )
    run(env, "quality", "campaign", "--year", "2025", "--seed", "1")
    out = run(
        env, "report", "quality", "--year", "2025", "--out", str(tmp_path),
        "--json", str(tmp_path / "figures.json"),
    )  # fmt: skip
    html = tmp_path / "quality-2025-national.html"
    pdf = tmp_path / "quality-2025-national.pdf"
    assert f"wrote {html}" in out and f"wrote {pdf}" in out
    figures = json.loads((tmp_path / "figures.json").read_text("utf-8"))
    assert figures["coverage"]["current"]["dialled"] == 366
    assert figures["coverage"]["previous"]["dialled"] == 366
    assert len(figures["score_table"]) == 32
    page = html.read_text("utf-8")
    assert "2025年全国12333服务质量监测报告" in page
    total = figures["coverage_total"]
    assert f'<td class="n">{total["opened"]}</td>' in page
    assert all(f"<li>{escape(d)}</li>" in page for d in figures["definitions"])  # 说明
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "全国12333服务质量监测报告" in text and "监测覆盖情况" in text

    run(env, "report", "quality", "--year", "2025", "--province", "江苏", "--format", "html",
        "--out", str(tmp_path))  # fmt: skip
    province = (tmp_path / "quality-2025-320000.html").read_text("utf-8")
    assert "2025年江苏省12333服务质量监测报告" in province and "南京市" in province


@pytest.mark.clickhouse
def test_csv_import_stores_good_rows_and_exits_1_on_refused_ones(
    env: dict[str, str], tmp_path: Path, clickhouse_client: Client
) -> None:
    scores = ["5", "5", "10", "5", "10", "20", "5", "5", "10", "15", "10"]
    assert len(scores) == len(ITEM_FIELDS)
    good = ["2023", "C320100", "1", "", "2023-06-03 09:10", *scores, "", "", "", "", ""]
    bad = ["2023", "C320100", "7", "", "2023-06-03 09:10", *scores, "", "", "", "", ""]
    path = tmp_path / "sheet.csv"
    path.write_text("\n".join([",".join(HEADER), ",".join(good), ",".join(bad)]), "utf-8")
    result = CliRunner().invoke(app, ["quality", "import", str(path)], env=env)
    assert result.exit_code == 1
    assert (
        "row 3: evaluation 'ms-2023-C320100': outcome 7 is not one of 1, 2, 3, 4" in result.output
    )
    assert "1 row(s) stored, 1 refused" in result.output
    stored = clickhouse_client.execute(
        f"SELECT center_id, outcome, source FROM {DATABASE}.qa_evaluations FINAL WHERE year = 2023"
    )
    assert stored == [("C320100", 1, "csv")]


@pytest.mark.clickhouse
@pytest.mark.parametrize(
    ("args", "said"),
    [((), "2019"), (("--province", "江苏"), "2019 (province 320000)")],
)
def test_a_year_without_evaluations_is_one_error_line_and_no_report(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), "report", "quality", "--year", "2019",
         *args, "--out", str(out), "--json", str(tmp_path / "figures.json")],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"error: no mystery-shopper evaluations for {said} in {DATABASE}.qa_evaluations"
    ]
    assert not out.exists() and not (tmp_path / "figures.json").exists()
