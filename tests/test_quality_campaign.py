"""Evaluations: hard rules, the simulated campaign per profile, events, evaluators' CSV files."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from statistics import mean

import pytest

from hotline.centers import default_centers
from hotline.producers.simulator.params import Profile
from hotline.reports.campaign import campaign_events, run_campaign
from hotline.reports.csv_import import HEADER, parse_csv
from hotline.reports.errors import QualityError
from hotline.reports.records import ITEM_FIELDS, EvaluationRow
from hotline.workdays import CHINA_TZ

T = (dt.datetime(2025, 6, 3, 9, 0, tzinfo=CHINA_TZ),)
FULL = (5, 5, 10, 5, 10, 20, 5, 5, 10, 15, 10)


def make(**changes: object) -> EvaluationRow:
    fields: dict[str, object] = {
        "evaluation_id": "ms-2025-C320100",
        "version": 1,
        "year": 2025,
        "center_id": "C320100",
        "region_code": "320100",
        "outcome": 1,
        "human_service": True,
        "tries": T,
        "items": FULL,
    }
    return EvaluationRow(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"items": (6, 5, 10, 5, 10, 20, 5, 5, 10, 15, 10)}, "states_agent_number = 6"),
        ({"outcome": 3, "tries": T * 3}, "outcome 3 carries no item scores"),
        ({"outcome": 4}, "outcome 4 carries no item scores"),
        ({"outcome": 5, "items": None}, "outcome 5 is not one of"),
        ({"items": FULL[:10]}, "10 item scores"),
        ({"tries": ()}, "no try"),
        ({"given_total": 120}, "total 120 is outside"),
        (
            {"tries": (dt.datetime(2024, 6, 3, 9, 0, tzinfo=CHINA_TZ), *T)},
            "dialled_at 2024-06-03 09:00 is not in the year 2025",
        ),
    ],
)
def test_hard_rules_refuse_a_row(changes: dict[str, object], message: str) -> None:
    with pytest.raises(QualityError, match=message):
        make(**changes)


def test_tries_fall_in_the_year_in_china_time() -> None:
    """The year is China's: 1 January 07:00 in Beijing (31 December in UTC) is in it."""
    new_year = dt.datetime(2024, 12, 31, 23, 0, tzinfo=dt.UTC)
    assert make(tries=(new_year,)).year == 2025
    with pytest.raises(QualityError, match="dialled_at 2024-12-31 23:00 is not in the year 2025"):
        make(tries=(new_year - dt.timedelta(hours=8),))


def test_row_totals_are_derived_and_round_trip_through_the_event() -> None:
    row = make(given_total=99)
    assert (row.total, row.group("etiquette"), row.group("problem_solving")) == (100, 25, 35)
    event = row.to_event()
    assert event.kind == "mystery_shopper" and event.total == 100
    back = EvaluationRow.from_event(
        event, year=2025, tries=T, human_service=True, source="campaign"
    )
    assert back.items == FULL and back.given_total is None
    unreachable = make(outcome=3, items=None, tries=T * 2)
    assert unreachable.total == 0 and unreachable.to_event().scores is None


def test_campaign_is_deterministic_and_covers_every_center() -> None:
    first = run_campaign(2025, 11)
    assert first == run_campaign(2025, 11)
    assert len(first) == len(default_centers()) == 366
    assert first != run_campaign(2025, 12)
    # A center's result does not depend on which other centers are dialled.
    alone = run_campaign(2025, 11, selectors=["C320100"])
    assert alone == [r for r in first if r.center_id == "C320100"]
    events = campaign_events(first)
    assert {e.kind for e in events} == {"mystery_shopper"}
    assert len({e.envelope.event_id for e in events}) == 366


def test_campaign_follows_each_profile() -> None:
    centers = "320000"  # Jiangsu: the provincial center and 13 cities
    by_profile = {
        profile: run_campaign(2025, 3, selectors=[centers], profiles={"*": profile})
        for profile in Profile
    }
    healthy, understaffed = by_profile[Profile.HEALTHY], by_profile[Profile.UNDERSTAFFED]
    assert Counter(r.outcome for r in healthy)[1] >= 11
    assert mean(r.total for r in healthy) > mean(r.total for r in understaffed)
    assert sum(r.outcome == 2 for r in understaffed) > sum(r.outcome == 2 for r in healthy)
    for r in by_profile[Profile.UNSTAFFED_LINE]:
        assert (r.outcome, r.human_service, r.items) == (3, True, None)
        assert len(r.tries) == 3 and len({t.astimezone(CHINA_TZ).hour for t in r.tries}) >= 2
    # every unreachable line of the nation: two tries on a day, the third the next working day
    for r in run_campaign(2025, 1, profiles={"*": Profile.UNSTAFFED_LINE}):
        days = [t.astimezone(CHINA_TZ).date() for t in r.tries]
        assert days[0] == days[1] < days[2] <= days[0] + dt.timedelta(days=4), r.center_id
    assert {(r.outcome, r.human_service) for r in by_profile[Profile.NO_HUMAN_SERVICE]} == {
        (3, False)
    }
    assert {(r.outcome, r.human_service) for r in by_profile[Profile.RECORDINGS_ONLY]} == {
        (4, False)
    }
    routed = by_profile[Profile.ROUTED_TO_12345]
    assert all(r.reached for r in routed)
    assert mean(r.group("problem_solving") for r in routed) < mean(
        r.group("problem_solving") for r in healthy
    )
    for rows in by_profile.values():
        for r in rows:
            assert all(8 <= t.astimezone(CHINA_TZ).hour < 18 for t in r.tries)  # in hours
            assert (
                dt.date(2025, 6, 1)
                <= r.tries[0].astimezone(CHINA_TZ).date()
                <= dt.date(2025, 6, 30)
            )


def _line(**values: str) -> str:
    return ",".join(values.get(name, "") for name in HEADER)


def test_csv_import_keeps_good_rows_and_names_bad_ones() -> None:
    scores = dict(zip(ITEM_FIELDS, map(str, FULL), strict=True))
    lines = [
        ",".join(HEADER),
        _line(
            year="2025",
            center_id="C320100",
            outcome="1",
            dialled_at="2025-06-03 09:10",
            total="98",
            **scores,
        ),  # kept; the total mismatch is for the report's checks
        _line(
            year="2025",
            center_id="C320200",
            outcome="3",
            dialled_at="2025-06-03 09:10;2025-06-03 15:00",
        ),
        _line(
            year="2025", center_id="C999999", outcome="1", dialled_at="2025-06-03 09:10", **scores
        ),
        _line(year="2025", center_id="C330100", outcome="1", dialled_at="3 June", **scores),
        _line(
            year="2025", center_id="C330000", outcome="3", dialled_at="2025-06-03 09:10", **scores
        ),
        _line(
            year="2025",
            center_id="C620000",
            outcome="4",
            human_service="maybe",
            dialled_at="2025-06-03 09:10",
        ),
        _line(
            year="2025",
            center_id="C620100",
            outcome="1",
            dialled_at="2025-06-03 09:10",
            states_agent_number="5",
        ),
        "",
        _line(
            year="2025",
            center_id="C620200",
            outcome="4",
            dialled_at="2025-06-04 10:00",
            version="7",
        ),
    ]
    result = parse_csv("\ufeff" + "\n".join(lines) + "\n", default_centers(), default_version=5)
    assert [(e.row, e.message.split(":")[0].split(" ")[0]) for e in result.errors] == [
        (4, "unknown"),
        (5, "dialled_at"),
        (6, "evaluation"),
        (7, "human_service"),
        (8, "item"),
    ]
    assert "outcome 3 carries no item scores" in str(result.errors[2])
    first, second, last = result.rows
    assert (first.evaluation_id, first.version, first.given_total, first.total) == (
        "ms-2025-C320100",
        5,
        98,
        100,
    )
    assert (first.region_code, first.source, first.human_service) == ("320100", "csv", True)
    assert (second.outcome, second.items, len(second.tries), second.human_service) == (
        3,
        None,
        2,
        True,
    )
    assert (last.center_id, last.version, last.human_service) == ("C620200", 7, False)


def test_csv_with_a_wrong_header_is_one_error() -> None:
    result = parse_csv("year,center,outcome\n2025,C320100,1\n", default_centers(), 1)
    assert result.rows == []
    [error] = result.errors
    assert error.row == 1 and "missing columns: center_id, dialled_at" in error.message
    assert "unknown columns: center" in error.message


def test_csv_refuses_a_second_evaluation_of_a_center_in_the_year() -> None:
    """Two rows of one center and year (or one id twice) would be one stored row, the other
    silently lost (same id, same import version): the later row is refused, naming the first."""
    scores = dict(zip(ITEM_FIELDS, map(str, FULL), strict=True))
    lines = [
        ",".join(HEADER),
        _line(
            year="2025", center_id="C320100", outcome="1", dialled_at="2025-06-03 09:10", **scores
        ),
        _line(year="2025", center_id="C320100", outcome="4", dialled_at="2025-06-04 09:10"),
        _line(year="2024", center_id="C320100", outcome="4", dialled_at="2024-06-04 09:10"),
        _line(
            year="2025",
            center_id="C320200",
            outcome="4",
            dialled_at="2025-06-04 09:10",
            evaluation_id="ms-2024-C320100",
        ),
    ]
    result = parse_csv("\n".join(lines) + "\n", default_centers(), default_version=5)
    assert [(e.row, e.message) for e in result.errors] == [
        (3, "center C320100 already has an evaluation of 2025 in row 2 (one a year)"),
        (5, "evaluation_id 'ms-2024-C320100' is already used in row 4"),
    ]
    assert [(r.evaluation_id, r.outcome) for r in result.rows] == [
        ("ms-2025-C320100", 1),
        ("ms-2024-C320100", 4),
    ]
