"""Service hours in the alert rules, with a hand-made clock: a center silent for
``silent_period`` inside its hours is unreachable (warning), says the span when its calls
come back and closes like any unreachable alert; silence outside them (lunch, a weekend, the
time before the stream saw anything) raises nothing; queued calls count only in them. The
settings' checks, the working-day calendar, the group's wiring, and a worker over the real
broker."""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_streams_alerts import MIN, T0, _ms, _unreachable, call
from test_streams_worker import PROVINCES, TopicReader, _kafka, _send, _start, _stop

from hotline.infra.topics import ensure_topics, shared_topic, topic_layout
from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import AlertKind, CallRecord, Event, Severity, default_codec
from hotline.service_hours import in_service, parse_service_hours
from hotline.streams.alerts import AlertEngine
from hotline.streams.config import AlertsConfig, CenterHours, StreamsConfig
from hotline.streams.groups import GroupState, Inbound
from hotline.workdays import china_minute

OFFICE = CenterHours(hours="08:30-12:00,13:30-17:30")  # T0 is Tuesday 09:00 China time


def _engine(hours: CenterHours = OFFICE, **rules: object) -> AlertEngine:
    config = StreamsConfig(alerts=AlertsConfig(settle=timedelta(0), **rules))  # type: ignore[arg-type]
    return AlertEngine("330000", config, lambda c: "330200", {"C330200": hours})


def _calls(*minutes: range, answered: bool = True):  # type: ignore[no-untyped-def]
    """Calls of C330200 (one a minute in ``minutes``) and of C330100 (every minute, so the
    province's watermark and windows go on)."""

    def calls(minute: int) -> list[CallRecord]:
        out = [call("C330100", minute, answered=True)]
        if any(minute in r for r in minutes):
            out.append(call("C330200", minute, answered=answered))
        return out

    return calls


def _ours(alerts: list) -> list:
    return [a for a in alerts if a.center_id == "C330200"]


def test_a_center_silent_in_its_hours_is_unreachable_until_its_calls_come_back() -> None:
    e = _engine()
    quiet = _ours(_unreachable(e, range(0, 60), _calls(range(0, 10))))
    assert [(a.version, a.severity, a.opened_at, a.closed_at, a.message) for a in quiet] == [
        (1, Severity.WARNING, T0 + 40 * MIN, None,
         "center C330200: no calls seen since 2025-03-04 09:10 (China time), in its service "
         "hours"),
    ]  # fmt: skip
    assert quiet[0].kind is AlertKind.CENTER_UNREACHABLE
    # still silent over lunch and into the afternoon: the same alert, nothing new
    assert _ours(_unreachable(e, range(60, 300), _calls())) == []
    back = _ours(_unreachable(e, range(300, 330), _calls(range(300, 330))))
    assert [(a.version, a.closed_at, a.message) for a in back] == [
        (2, None, "center C330200: no calls seen from 2025-03-04 09:10 to 2025-03-04 14:00 "
         "(China time), in its service hours"),
        (3, T0 + 311 * MIN, "center C330200: no calls seen from 2025-03-04 09:10 to "
         "2025-03-04 14:00 (China time), in its service hours"),
    ]  # fmt: skip
    assert {a.alert_id for a in quiet + back} == {quiet[0].alert_id}


def test_silence_outside_the_hours_or_before_the_first_minute_raises_nothing() -> None:
    # 11:40-13:40: only 20 of its minutes in the morning window, 10 in the afternoon one
    lunch = _engine()
    assert _ours(_unreachable(lunch, range(0, 360), _calls(range(0, 160), range(280, 360)))) == []
    # the stream starts at 09:00 (T0) with a center that never calls: silent since 09:00,
    # not since its window opened at 08:30 (the stream saw nothing before T0)
    first = _ours(_unreachable(_engine(), range(0, 31), _calls()))
    assert [(a.opened_at, a.message) for a in first] == [
        (T0 + 30 * MIN, "center C330200: no calls seen since 2025-03-04 09:00 (China time), in "
         "its service hours"),
    ]  # fmt: skip
    # a longer silent_period waits longer
    longer = _engine(silent_period=timedelta(minutes=45))
    assert [a.opened_at for a in _ours(_unreachable(longer, range(0, 60), _calls()))] == [
        T0 + 45 * MIN
    ]


def test_queued_calls_count_only_in_the_hours() -> None:
    """Callers queued in vain over lunch (12:00-13:30) raise nothing for a center with those
    hours; without hours they raise the critical alert at once, as before."""
    lunch = range(180, 240)  # 12:00-13:00
    with_hours = _ours(_unreachable(_engine(), lunch, _calls(lunch, answered=False)))
    assert with_hours == []
    config = StreamsConfig(alerts=AlertsConfig(settle=timedelta(0)))
    without = _ours(
        _unreachable(AlertEngine("330000", config), lunch, _calls(lunch, answered=False))
    )
    assert [(a.severity, a.opened_at) for a in without] == [(Severity.CRITICAL, T0 + 190 * MIN)]


def test_calls_queued_in_vain_after_the_silence_make_it_critical() -> None:
    e = _engine(unreachable_hold=timedelta(minutes=5))
    silent = _ours(_unreachable(e, range(0, 35), _calls()))
    assert [a.severity for a in silent] == [Severity.WARNING]
    vain = _ours(_unreachable(e, range(35, 50), _calls(range(35, 50), answered=False)))
    assert [(a.version, a.severity, a.message) for a in vain] == [
        (2, Severity.WARNING, "center C330200: no calls seen from 2025-03-04 09:00 to "
         "2025-03-04 09:35 (China time), in its service hours"),
        (3, Severity.CRITICAL, "center C330200: 10 calls queued and none answered in 10 min"),
    ]  # fmt: skip
    # silent again: now said as an unreachable center's silence
    again = _ours(_unreachable(e, range(50, 61), _calls()))
    assert [a.message for a in again] == [
        "center C330200: unreachable, then no calls seen since 2025-03-04 09:50 (China time)"
    ]


@settings(max_examples=60, deadline=None)
@given(
    calls=st.sets(st.integers(0, 299), max_size=40),
    hours=st.sampled_from(["08:30-12:00,13:30-17:30", "09:00-10:00,11:30-14:00", "10:00-24:00"]),
    period=st.sampled_from([10, 20, 30]),
)
def test_the_first_silence_alert_opens_at_the_first_silent_window_in_the_hours(
    calls: set[int], hours: str, period: int
) -> None:
    """Against a brute-force reading of the rule: the first alert opens at the first window
    end (from T0, the first minute seen) whose ``period`` minutes all lie in the hours and
    hold no call of the center; none if there is no such window."""
    e = _engine(CenterHours(hours=hours), silent_period=timedelta(minutes=period))
    alerts = _ours(_unreachable(e, range(300), _calls(*(range(m, m + 1) for m in calls))))
    windows = parse_service_hours(hours)
    expected = next(
        (
            end
            for end in range(period, 301)
            if not any(end - period <= m < end for m in calls)
            and all(in_service(_ms(T0 + m * MIN), windows) for m in range(end - period, end))
        ),
        None,
    )
    first = alerts[0].opened_at if alerts else None
    assert first == (None if expected is None else T0 + expected * MIN)
    assert not alerts or alerts[0].severity is Severity.WARNING


def test_the_first_minute_survives_a_reload() -> None:
    e = _engine()
    _unreachable(e, range(0, 5), _calls(range(0, 5)))
    reloaded = _engine()
    reloaded.load_meta(e.meta())
    assert reloaded.first_ms == e.first_ms == _ms(T0)
    old = {k: v for k, v in e.meta().items() if k != "fs"}  # an image from before 2 Dec
    reloaded.load_meta(old)
    assert reloaded.first_ms == e.evaluated_ms  # no silence claimed before the restart


def _utc(text: str) -> int:
    return _ms(datetime.fromisoformat(text).astimezone(UTC))


@pytest.mark.parametrize(
    ("moment", "days", "expected"),
    [
        ("2025-03-04T08:30+08:00", "working", True),  # Tuesday, the window opens
        ("2025-03-04T08:29+08:00", "working", False),
        ("2025-03-04T12:00+08:00", "working", False),  # the end is not in it
        ("2025-03-04T13:30+08:00", "working", True),
        ("2025-03-08T09:00+08:00", "working", False),  # Saturday
        ("2025-03-08T09:00+08:00", "every", True),
        ("2025-02-08T09:00+08:00", "working", True),  # a Saturday worked (调休, Spring Festival)
        ("2025-10-01T09:00+08:00", "working", False),  # National Day, a Wednesday
        ("2025-03-04T01:00+00:00", "working", True),  # 09:00 China time, given in UTC
        ("2099-03-04T09:00+08:00", "working", True),  # a year no calendar covers: Mon-Fri
        ("2099-03-07T09:00+08:00", "working", False),
    ],
)
def test_in_service_reads_china_time_and_its_working_days(
    moment: str, days: str, expected: bool
) -> None:
    windows = parse_service_hours("08:30-12:00,13:30-17:30")
    assert in_service(_utc(moment), windows, days) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"C999999": {"hours": "08:30-17:30"}}, "unknown center C999999"),
        (
            {"320100": {"hours": "08:30-17:30"}},
            r"320100 is .*a city of 320000\); its center is C320100",
        ),
        ({"320102": {"hours": "08:30-17:30"}}, r"a county of 320000\) \["),  # no center
        ({"C320100": {"hours": "8-17"}}, "service hours '8-17': expected HH:MM-HH:MM"),
        ({"C320100": {"hours": "13:00-17:00,08:00-12:00"}}, "in time order"),
        ({"C320100": {"hours": "08:30-17:30", "days": "weekdays"}}, "days"),
    ],
)
def test_service_hours_settings_name_what_is_wrong(value: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        AlertsConfig(service_hours=value)


def test_a_province_group_takes_its_centers_hours_own_entry_first() -> None:
    every_day = CenterHours(hours="00:00-24:00", days="every")
    config = StreamsConfig(
        alerts=AlertsConfig(
            service_hours={"330000": OFFICE, "C330200": every_day, "C320100": every_day}
        )
    )
    group = GroupState("330000", config, default_registry(), default_codec())
    hours = group.alerts.hours
    assert hours["C330200"] == every_day and hours["C330100"] == OFFICE
    assert "C320100" not in hours and len(hours) == 12  # the provincial center and 11 cities
    national = GroupState("000000", config, default_registry(), default_codec())
    assert national.alerts.hours == {}


START = DEFAULT_START + timedelta(hours=9)  # Monday 3 March 2025, 09:00 China time
BOTH = {"C330200": CenterHours(hours="08:30-17:30"), "C330100": CenterHours(hours="08:30-17:30")}


@functools.cache
def _simulated() -> tuple[Event, ...]:
    """90 min of Ningbo and Hangzhou, both serving 08:30-17:30."""
    config = SimConfig(
        seed=5,
        centers=["C330200", "C330100"],
        start=START,
        duration=timedelta(minutes=90),
        service_hours=parse_service_hours("08:30-17:30"),
    )
    simulated = MemorySink()
    simulate(config, simulated, Ledger(config.end))
    return tuple(simulated.events)


@pytest.mark.parametrize("flush", [True, False])
def test_the_end_of_a_replay_is_no_centers_silence(flush: bool) -> None:
    """A replay's end-of-input flush moves the watermark hours past the last event: every
    center with hours would look silent there. The worker flushes with ``flush``, which
    judges silence only up to the latest event."""
    config = StreamsConfig(alerts=AlertsConfig(service_hours=BOTH))
    group = GroupState("330000", config, default_registry(), default_codec())
    alerts = group.process(Inbound(e, "t", 0, 0) for e in _simulated()).alerts
    point = group.flush_point()
    assert point is not None
    alerts += group.advance(point, flush=flush).alerts
    silent = {a.center_id for a in alerts if a.kind is AlertKind.CENTER_UNREACHABLE}
    assert silent == (set() if flush else {"C330200", "C330100"})


@pytest.mark.kafka
@pytest.mark.slow
def test_a_worker_given_service_hours_alerts_on_a_center_that_falls_silent_in_them(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """End to end: the settings from the worker's environment, the simulator's calls through
    the raw topics, the alert on the alerts topic. Ningbo's link is cut at 09:40 (no call
    offered from then on reaches Kafka) in its hours; Hangzhou, with the same hours, goes on
    and raises nothing. (A province's code would give its hours to all its centers, and
    those that the test does not simulate would be silent.)"""
    cut = START + timedelta(minutes=40)
    ningbo = [e for e in _simulated() if e.envelope.center_id == "C330200"]
    offered = [e for e in ningbo if e.RECORD_TYPE == "call.offered"]
    lost = {e.call_id for e in offered if e.envelope.occurred_at >= cut}
    sent = [
        e
        for e in _simulated()
        if e.envelope.center_id != "C330200"
        or not (
            getattr(e, "call_id", None) in lost
            or (not e.RECORD_TYPE.startswith("call.") and e.envelope.occurred_at >= cut)
        )
    ]
    last_call = max(e.envelope.occurred_at for e in offered if e.call_id not in lost)
    kafka = _kafka(bootstrap, unique)
    ensure_topics(bootstrap, topic_layout(kafka, PROVINCES))
    _send(kafka, tmp_path, sent, "sim-test")
    hours = json.dumps({c: h.model_dump() for c, h in BOTH.items()})
    worker = _start(
        kafka,
        f"{unique}-app",
        tmp_path,
        "w0",
        settings={"HOTLINE_STREAMS__ALERTS__SERVICE_HOURS": hours},
    )
    try:
        reader = TopicReader(bootstrap, shared_topic(kafka, "alerts"), attrgetter("alert_id"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "w0.log").read_text()[-3000:]
            reader.poll()
            if any(a.center_id == "C330200" for a in reader.rows.values()):
                break
        time.sleep(3)
        reader.drain()
    finally:
        _stop(worker)
    unreachable = [a for a in reader.rows.values() if a.kind is AlertKind.CENTER_UNREACHABLE]
    since = last_call.replace(second=0, microsecond=0) + MIN
    assert [(a.center_id, a.severity, a.closed_at, a.message) for a in unreachable] == [
        ("C330200", Severity.WARNING, None,
         f"center C330200: no calls seen since {china_minute(since)} (China time), in its "
         "service hours"),
    ], (tmp_path / "w0.log").read_text()[-3000:]  # fmt: skip
    assert unreachable[0].opened_at == since + timedelta(minutes=30)
