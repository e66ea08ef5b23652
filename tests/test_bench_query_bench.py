"""bench/query_bench.py: a query and its minute-table baseline run as many times each, and a
run whose queries all failed ends without a summary instead of a traceback."""

from __future__ import annotations

import sys
from argparse import Namespace
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import query_bench


class _Client:
    """Answers the sample center's look-up; counts every other statement, or fails it."""

    def __init__(self, fail: str | None = None) -> None:
        self.executed: Counter[str] = Counter()
        self.fail = fail

    def execute(self, sql: str) -> list[tuple[str]]:
        if sql.startswith("SELECT center_id"):
            return [("C320100",)]
        if self.fail is not None and self.fail in sql:
            raise RuntimeError("a memory limit")
        self.executed[sql] += 1
        return []


def _run(monkeypatch: pytest.MonkeyPatch, client: _Client, runs: int) -> None:
    monkeypatch.setattr(query_bench, "prepare", lambda *_: {})
    args = Namespace(province="320000", city="320100", minute_days=7, runs=runs)
    query_bench.run(client, "db", args)  # type: ignore[arg-type]


def test_a_baseline_runs_as_often_as_the_query_it_is_compared_with(monkeypatch) -> None:
    client = _Client()
    _run(monkeypatch, client, runs=8)
    compared = [q for q in query_bench.queries("db", "320000", "320100", "C320100") if q.baseline]
    assert compared
    for q in compared:
        assert client.executed[q.baseline] == client.executed[q.sql] == 8 + 1  # and a warm-up


def test_a_run_whose_queries_all_failed_ends_without_a_summary(monkeypatch, capsys) -> None:
    _run(monkeypatch, _Client(fail=""), runs=2)  # e.g. every query over a memory limit
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "no summary: every dashboard or every analyst query failed" in out
