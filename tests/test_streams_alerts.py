"""Alert rules with a hand-made clock: dedupe, hysteresis, open → close, deterministic ids;
the ticket book's overdue versions; the alert state surviving a table reload; answered calls
still in progress counted before their record."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.regions import default_registry
from hotline.schemas import (
    Alert,
    AlertKind,
    BusinessLine,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    CallRecord,
    Channel,
    Envelope,
    Event,
    HungUpBy,
    Severity,
    TicketCategory,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    default_codec,
)
from hotline.streams.alerts import (
    PROVISIONAL,
    AlertBook,
    AlertEngine,
    _Entry,
    alert_id,
    working_time_before,
)
from hotline.streams.config import AlertsConfig, RateThresholds, StreamsConfig
from hotline.streams.groups import GroupState, Inbound
from hotline.streams.tickets import TicketBook

T0 = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)  # Tuesday 09:00 China time
MIN = timedelta(minutes=1)
_ids = count(1)
_seq = count(1)


def call(
    center: str, minute: int, *, answered: bool, version: int = 1, cid: str = ""
) -> CallRecord:
    return CallRecord(
        call_id=cid or f"call-{next(_ids)}",
        center_id=center,
        region_code="330203",
        channel=Channel.PHONE,
        started_at=T0 + minute * MIN,
        queued=True,
        answered=answered,
        answered_in_sl=answered,
        abandoned=not answered,
        version=version,
    )


def env(kind: str, at: datetime, center: str = "C330200") -> Envelope:
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type=kind,
        occurred_at=at,
        center_id=center,
        region_code="330203",
        producer_id="p1",
        sequence=next(_seq),
    )


def created(ticket: str, category: TicketCategory, at: datetime, due: datetime) -> TicketCreated:
    return TicketCreated(
        envelope=env("ticket.created", at),
        ticket_id=ticket,
        category=category,
        business_line="pension",
        due_at=due,
    )


def resolved(ticket: str, at: datetime) -> TicketResolved:
    return TicketResolved(envelope=env("ticket.resolved", at), ticket_id=ticket)


def closed(ticket: str, at: datetime) -> TicketClosed:
    return TicketClosed(envelope=env("ticket.closed", at), ticket_id=ticket)


def reopened(ticket: str, at: datetime) -> TicketReopened:
    return TicketReopened(envelope=env("ticket.reopened", at), ticket_id=ticket)


def engine(**rules: object) -> AlertEngine:
    config = StreamsConfig(alerts=AlertsConfig(**rules))  # type: ignore[arg-type]
    return AlertEngine("330000", config, lambda c: "330200")


def test_book_dedupes_escalates_and_closes_with_hold() -> None:
    book = AlertBook()
    args = (AlertKind.THRESHOLD, Severity.WARNING, "330000", None)
    first = book.raise_("k", *args, T0, "low")
    assert first is not None and first.version == 1 and first.alert_id == alert_id("k", 1)
    assert book.raise_("k", *args, T0 + MIN, "low") is None  # open: no second alert
    up = book.raise_("k", AlertKind.THRESHOLD, Severity.CRITICAL, "330000", None, T0, "worse")
    assert up is not None and up.alert_id == first.alert_id and up.version == 2
    assert book.clear("k", T0 + 2 * MIN, hold=5 * MIN) is None  # clear starts the hold
    book.not_clear("k")  # interrupted: the hold starts again
    assert book.clear("k", T0 + 3 * MIN, hold=5 * MIN) is None
    closed = book.clear("k", T0 + 8 * MIN, hold=5 * MIN)
    assert closed is not None and closed.closed_at == T0 + 8 * MIN and closed.version == 3
    again = book.raise_("k", *args, T0 + 9 * MIN, "low")
    assert again is not None and again.alert_id == alert_id("k", 2) != first.alert_id


def test_unreachable_center_opens_once_and_closes_after_answers() -> None:
    e = engine(settle=timedelta(0), unreachable_hold=timedelta(minutes=5))
    emitted = []
    for minute in range(30):
        e.add_records([call("C330200", minute, answered=False)])
        emitted += e.evaluate(T0 + (minute + 1) * MIN)
    opened = [a for a in emitted if a.kind is AlertKind.CENTER_UNREACHABLE]
    assert len(opened) == 1 and opened[0].closed_at is None  # no storm: one alert
    assert opened[0].severity is Severity.CRITICAL and opened[0].region_code == "330200"
    assert opened[0].opened_at == T0 + 10 * MIN  # queued and none answered for 10 min
    for minute in range(30, 40):
        e.add_records([call("C330200", minute, answered=True)])
        emitted += e.evaluate(T0 + (minute + 1) * MIN)
    closed = [a for a in emitted if a.closed_at is not None]
    assert len(closed) == 1 and closed[0].alert_id == opened[0].alert_id
    assert closed[0].version == 2 and closed[0].closed_at == T0 + 36 * MIN  # 31 + 5 min hold


def _unreachable(e: AlertEngine, minutes: range, calls: Callable[[int], list[CallRecord]]) -> list:
    """Feed ``calls(minute)`` minute by minute (the watermark at each minute's end, no
    settle); the unreachable-center alerts emitted."""
    out = []
    for minute in minutes:
        e.add_records(calls(minute))
        out += e.evaluate(T0 + (minute + 1) * MIN)
    return [a for a in out if a.kind is AlertKind.CENTER_UNREACHABLE]


def test_unreachable_needs_calls_queued_and_none_answered_for_its_period() -> None:
    """Calls queued and none answered *for* ``unreachable_period``: not a burst of abandons
    in one minute (short ones are no evidence at all) followed by answered calls."""

    def burst(short: bool) -> Callable[[int], list[CallRecord]]:
        def calls(minute: int) -> list[CallRecord]:
            if minute == 0:  # three callers hang up before the agents are logged in
                hung_up = [call("C330200", 0, answered=False) for _ in range(3)]
                return [c.model_copy(update={"short_abandoned": short}) for c in hung_up]
            return [call("C330200", minute, answered=True) for _ in range(2)]

        return calls

    for short in (True, False):
        assert _unreachable(engine(settle=timedelta(0)), range(25), burst(short)) == []
    # an outage: answered until minute 0, then every caller waits in vain
    outage = _unreachable(
        engine(settle=timedelta(0)),
        range(-5, 20),
        lambda m: [call("C330200", m, answered=m < 0)],
    )
    assert [(a.opened_at, a.message) for a in outage] == [
        (T0 + 10 * MIN, "center C330200: 10 calls queued and none answered in 10 min")
    ]
    # short abandons all along the outage are no evidence: only the others count
    only_short = _unreachable(
        engine(settle=timedelta(0)),
        range(20),
        lambda m: [
            call("C330200", m, answered=False).model_copy(update={"short_abandoned": True}),
            *([call("C330200", m, answered=False)] if m in (2, 6, 9) else []),
        ],
    )
    assert [(a.opened_at, a.message) for a in only_short] == [
        (T0 + 12 * MIN, "center C330200: 3 calls queued and none answered in 10 min")
    ]


def test_unreachable_center_that_falls_silent_stays_open_until_its_calls_are_seen() -> None:
    """An outage, then no call at all (the center's phone system, or its link, went down):
    none queued is no evidence then, so the alert stays open and says once since when
    nothing was heard, and once the span when calls are seen again (still unanswered: it
    stays open); calls that queue nobody (a recording) then close it after the hold. Until
    2 Dec silence closed it after the hold, as if the center had recovered."""
    e = engine(settle=timedelta(0), unreachable_hold=timedelta(minutes=5))
    outage = _unreachable(e, range(20), lambda m: [call("C330200", m, answered=False)])
    assert [(a.version, a.closed_at) for a in outage] == [(1, None)]
    silent = _unreachable(e, range(20, 80), lambda m: [])
    assert [(a.version, a.closed_at, a.message) for a in silent] == [
        (2, None, "center C330200: unreachable, then no calls seen since 2025-03-04 09:20 "
         "(China time)")
    ]  # fmt: skip
    assert silent[0].opened_at == outage[0].opened_at and silent[0].alert_id == outage[0].alert_id
    again = _unreachable(e, range(80, 95), lambda m: [call("C330200", m, answered=False)])
    assert [(a.version, a.closed_at, a.message) for a in again] == [
        (3, None, "center C330200: unreachable, then no calls seen from 2025-03-04 09:20 to "
         "2025-03-04 10:20 (China time)")
    ]  # fmt: skip
    recording = [call("C330200", 0, answered=False).model_copy(update={"queued": False})]
    closed = _unreachable(
        e, range(95, 130), lambda m: [c.model_copy(update={"started_at": T0 + m * MIN})
                                      for c in recording]
    )  # fmt: skip
    assert [(a.version, a.closed_at) for a in closed] == [(4, T0 + 110 * MIN)]


def test_a_silent_unreachable_alert_is_kept_across_a_reload() -> None:
    entry = _Entry(episode=1, silent_since=_ms(T0))
    assert _Entry.from_dict(entry.to_dict()) == entry
    in_hours = _Entry(episode=1, silent_since=_ms(T0), in_hours=True)  # opened by its silence
    assert _Entry.from_dict(in_hours.to_dict()) == in_hours
    # only where set: earlier images read alike
    assert not {"ss", "ih"} & set(_Entry(episode=1).to_dict())
    assert _Entry.from_dict({"ep": 1, "a": None, "cs": None}).silent_since is None


def test_connection_rate_hysteresis_and_province_threshold() -> None:
    e = engine(
        settle=timedelta(0),
        rate_period=timedelta(minutes=5),
        rate_min_queued=20,
        rate_hold=timedelta(minutes=3),
        province_rates={"330000": RateThresholds(connection=0.8, service_level=0.0)},
    )

    def minute_of(minute: int, answered: int) -> None:
        e.add_records([call("C330200", minute, answered=i < answered) for i in range(10)])

    alerts = []
    for minute in range(10):  # 70 % < 80 %
        minute_of(minute, 7)
        alerts += e.evaluate(T0 + (minute + 1) * MIN)
    for minute in range(10, 30):  # 81 %: above the threshold, below threshold + margin
        e.add_records([call("C330200", minute, answered=i < 81) for i in range(100)])
        alerts += e.evaluate(T0 + (minute + 1) * MIN)
    conn = [a for a in alerts if "connection" in a.dedupe_key]
    assert len(conn) == 1 and conn[0].closed_at is None  # hovering: still open, no flapping
    for minute in range(30, 45):  # 90 %: clear
        minute_of(minute, 9)
        alerts += e.evaluate(T0 + (minute + 1) * MIN)
    conn = [a for a in alerts if "connection" in a.dedupe_key]
    assert [a.version for a in conn] == [1, 2] and conn[1].closed_at is not None
    assert not [a for a in alerts if "service_level" in a.dedupe_key]  # threshold 0 here


def test_a_rate_alert_near_100_percent_closes_with_hysteresis() -> None:
    # DOMAIN.md's published target: connection rate ≥ 97 %; with the default margin (0.03)
    # the close bound was 100 %, so 99 % answered for hours kept the alert open
    e = engine(settle=timedelta(0), rates=RateThresholds(connection=0.97, service_level=0.97))

    def minutes(first: int, last: int, answered: int) -> list:
        out = []
        for minute in range(first, last):
            e.add_records([call("C330200", minute, answered=i < answered) for i in range(100)])
            out += e.evaluate(T0 + (minute + 1) * MIN)
        return out

    alerts = minutes(0, 15, 90)  # 90 % < 97 %: both open
    alerts += minutes(15, 45, 98)  # 98 %: above the threshold, below the close bound
    assert {a.dedupe_key for a in alerts} == {
        "threshold|connection_rate|330000",
        "threshold|service_level|330000",
    }
    assert all(a.version == 1 and a.closed_at is None for a in alerts)  # no flapping
    alerts += minutes(45, 75, 99)  # 99 % for 30 min: clear
    closed = [a for a in alerts if a.closed_at is not None]
    assert sorted(a.dedupe_key for a in closed) == [
        "threshold|connection_rate|330000",
        "threshold|service_level|330000",
    ]
    rules = AlertsConfig()
    assert rules.rate_close(0.90) == 0.90 + rules.rate_margin  # the margin, well below 100 %
    assert 0.97 < rules.rate_close(0.97) < 0.99 and 0.999 < rules.rate_close(0.999) < 1


def test_replayed_and_older_records_do_not_count_twice() -> None:
    e = engine(settle=timedelta(0))
    e.add_records([call("C1", 0, answered=False, cid="x", version=2)])
    e.add_records([call("C1", 0, answered=True, cid="x", version=1)])  # older: ignored
    e.add_records([call("C1", 0, answered=False, cid="x", version=2)])  # again: ignored
    assert e.minutes.window("c:C1", _ms(T0), _ms(T0 + MIN)) == [1, 0, 0, 0]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def test_dead_letter_spike_counts_sources_once() -> None:
    e = engine(dead_letters_per_minute=5, dead_letter_hold=timedelta(minutes=2))
    base = _ms(T0)
    for i in range(8):
        e.add_dead_letter(f"t:0:{i}", base + i * 1000)
        e.add_dead_letter(f"t:0:{i}", base + i * 1000)  # redelivered: once
    assert e.evaluate_dead_letters(base + 30_000) == []  # the minute has not ended
    opened = e.evaluate_dead_letters(base + 71_000)
    assert len(opened) == 1 and opened[0].kind is AlertKind.THRESHOLD
    assert opened[0].dedupe_key == "dead_letters|330000"
    e.add_dead_letter("t:0:99", base + 90_000)
    closed = e.evaluate_dead_letters(base + 5 * 60_000)
    assert len(closed) == 1 and closed[0].closed_at is not None


def test_dead_letter_spike_closes_after_exactly_its_hold_of_clean_minutes() -> None:
    e = engine(dead_letters_per_minute=5, dead_letter_hold=timedelta(minutes=5))
    base = _ms(T0)
    for i in range(8):  # a spike in minute 0
        e.add_dead_letter(f"t:0:{i}", base + i * 1000)
    judged = {k - 1: e.evaluate_dead_letters(base + k * 60_000 + 10_000) for k in range(1, 8)}
    assert [a.version for a in judged[0]] == [1]
    assert [minute for minute, out in judged.items() if out] == [0, 5]  # clean minutes 1 to 5
    assert judged[5][0].closed_at == T0 + 6 * MIN


def test_dead_letters_read_late_still_count_within_the_grace() -> None:
    """A minute already judged (the wall clock moved past it) still takes dead letters read
    late — consumer lag, a backlog — for the grace (``lateness``, 10 min): going over the
    limit raises the spike then, opened at that minute. Older ones are dropped."""
    e = engine(dead_letters_per_minute=5)
    now = _ms(T0 + 60 * MIN)
    e.add_dead_letter("t:0:0", now - 3_600_000)
    assert e.evaluate_dead_letters(now) == []  # the wall clock: every minute before is judged
    for i in range(8):  # stamped 2 minutes ago, read now
        e.add_dead_letter(f"t:0:{i + 1}", now - 2 * 60_000 + i)
        e.add_dead_letter(f"t:0:{i + 1}", now - 2 * 60_000 + i)  # redelivered: once
    opened = e.evaluate_dead_letters(now + 1000)
    assert [(a.dedupe_key, a.opened_at, a.version) for a in opened] == [
        ("dead_letters|330000", T0 + 58 * MIN, 1)
    ]
    assert e.evaluate_dead_letters(now + 2000) == []  # raised once
    for i in range(8):  # 20 minutes old: beyond the grace
        e.add_dead_letter(f"t:1:{i}", now - 20 * 60_000 + i)
    assert now - 20 * 60_000 not in e.dead


def test_dead_letters_of_a_restart_backlog_raise_the_spike() -> None:
    """After a restart the wall clock does not judge dead-letter minutes while the group's
    source partitions are behind: the backlog's dead letters, 30 min old, count in their
    minutes (before: the first tick moved the clock to now and they were all dropped)."""
    config, codec, registry = StreamsConfig(), default_codec(), default_registry()
    now = _ms(T0 + 60 * MIN)
    group = GroupState("330000", config, registry, codec)
    group.process_dead_letters([("raw.330000.calls:0:1", now - 3_600_000)])
    group.tick_wall(now - 3_000_000)
    store: dict = {}
    group.dump(store)
    group = GroupState.load("330000", store, config, registry, codec)
    group.hold_until_sources_known()
    group.expect(["raw.330000.calls:0"])  # it has input: behind until read
    assert group.tick_wall(now).alerts == []
    notes = [(f"raw.330000.calls:0:{100 + i}", now - 1_800_000 + i * 100) for i in range(60)]
    out = group.process_dead_letters(notes)
    group.source_status("raw.330000.calls:0", behind=False)  # the backlog is read
    alerts = out.alerts + group.tick_wall(now + 60_000).alerts
    assert [(a.dedupe_key, a.opened_at) for a in alerts][:1] == [
        ("dead_letters|330000", T0 + 30 * MIN)
    ]


def _gap(at: datetime, lo: int, n: int = 1) -> dict:
    """A sequence gap of producer p9 (``n`` events from ``lo``), reported 10 min after."""
    return {
        "producer_id": "p9",
        "center_id": "C330200",
        "first_missing": lo,
        "last_missing": lo + n - 1,
        "missing": n,
        "noticed_at_ms": _ms(at),
        "reported_at_ms": _ms(at + 10 * MIN),
    }


def test_one_alert_per_gap_episode() -> None:
    e = engine(gap_quiet=timedelta(minutes=30))
    a1 = e.add_gaps([_gap(T0, 5)])
    a2 = e.add_gaps([_gap(T0 + 5 * MIN, 9)])
    assert a1[0].alert_id == a2[0].alert_id and a2[0].version == 2
    assert "2 event(s)" in a2[0].message
    assert e.evaluate(T0 + 30 * MIN) == []
    closed = e.evaluate(T0 + 50 * MIN)
    assert len(closed) == 1 and closed[0].closed_at == T0 + 45 * MIN
    a3 = e.add_gaps([_gap(T0 + 60 * MIN, 20)])
    assert a3[0].alert_id != a1[0].alert_id  # a new episode


def test_gap_alert_one_version_per_step_and_a_gap_reported_again_counts_once() -> None:
    """Many gaps in one step make one version; a gap reported again (replayed after a crash
    between the alert and the sequence state writes, also across a reload of the alert
    state, or split differently) counts only its sequences not counted yet."""
    e = engine()
    out = e.add_gaps([_gap(T0 + i * MIN / 10, 10 * i, 2) for i in range(50)])
    assert [(a.version, a.opened_at) for a in out] == [(1, T0)]
    assert "100 event(s) lost" in out[0].message
    key = "sequence_gap|C330200|p9"
    e.book.entries[key] = type(e.book.entries[key]).from_dict(e.book.entries[key].to_dict())
    assert e.add_gaps([_gap(T0, 0, 2), _gap(T0 + MIN, 10, 2)]) == []  # replayed: nothing
    assert e.add_gaps([_gap(T0, 20, 1)]) == []  # a part of a counted gap
    again = e.add_gaps([_gap(T0 + 60 * MIN, 490, 4)])  # 490, 491 counted; 492, 493 not
    assert [(a.version, a.message) for a in again] == [
        (2, "producer p9: 102 event(s) lost (sequence gaps)")
    ]
    # bounded: ranges reported gap_quiet before the latest are forgotten
    assert e.book.entries[key].ranges == [[490, 493, _ms(T0 + 70 * MIN)]]


def test_working_time_before_skips_weekends() -> None:
    monday_2 = datetime(2025, 3, 9, 18, 0, tzinfo=UTC)  # Monday 02:00 China time
    friday_22 = datetime(2025, 3, 7, 14, 0, tzinfo=UTC)  # 2 h of Monday, 2 h of Friday
    assert working_time_before(monday_2, 4) == friday_22
    assert working_time_before(T0, 4) == T0 - timedelta(hours=4)


def test_tickets_dangerous_and_complaint_due() -> None:
    config = StreamsConfig()
    e = AlertEngine("330000", config)
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    due = T0 + timedelta(days=2)
    book.add(created("d1", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)))
    book.add(created("c1", TicketCategory.COMPLAINT, T0, due))

    def step(now: datetime) -> tuple[list, list]:
        changes, _, _ = book.advance(now)
        alerts = [a for c in changes for a in e.on_ticket(c.record, now, c.spells)]
        return [c.record for c in changes if c.emitted], alerts

    records, alerts = step(T0)
    assert {r.ticket_id: r.version for r in records} == {"d1": 1, "c1": 1}
    assert [(a.kind, a.severity) for a in alerts] == [(AlertKind.DANGEROUS_CALL, Severity.CRITICAL)]
    records, alerts = step(T0 + timedelta(hours=3))  # d1 overdue: re-emitted
    assert [(r.ticket_id, r.version, r.overdue) for r in records] == [("d1", 2, True)]
    book.add(resolved("d1", T0 + timedelta(hours=4)))
    records, alerts = step(T0 + timedelta(hours=4))
    assert records[0].on_time is False and records[0].version == 3
    assert alerts[0].closed_at == T0 + timedelta(hours=4) and alerts[0].version == 2
    _, alerts = step(due - timedelta(hours=3))
    assert [(a.kind, a.severity) for a in alerts] == [(AlertKind.TICKET_OVERDUE, Severity.WARNING)]
    records, alerts = step(due + MIN)
    assert records[0].overdue and alerts[0].severity is Severity.CRITICAL
    assert alerts[0].version == 2


def test_complaint_due_alerts_from_a_backlog_match_a_live_run() -> None:
    """A complaint resolved 6 h after its due time: read as it happens, or with its
    resolution read ahead of the watermark (a backlog), it raises the same warning, critical
    and closing versions, and its record gets the same overdue mark."""
    config = StreamsConfig()
    due = T0 + timedelta(days=2)
    done = due + timedelta(hours=6)

    def run(backlog: bool) -> tuple[list, list]:
        e = AlertEngine("330000", config)
        book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
        book.add(created("c1", TicketCategory.COMPLAINT, T0, due))
        resolution = resolved("c1", done)
        if backlog:
            book.add(resolution)
        alerts, records, now = [], [], T0
        while now < done + timedelta(hours=1):
            if now >= done:
                book.add(resolution)  # live: read when it happens (a duplicate in a backlog)
            changes, _, _ = book.advance(now)
            records += [(c.record.version, c.record.overdue) for c in changes if c.emitted]
            alerts += [a for c in changes for a in e.on_ticket(c.record, now, c.spells)]
            now += 10 * MIN
        return alerts, records

    live, backlog = run(backlog=False), run(backlog=True)
    assert [(a.severity, a.version, a.closed_at) for a in live[0]] == [
        (Severity.WARNING, 1, None),
        (Severity.CRITICAL, 2, None),
        (Severity.CRITICAL, 3, done),
    ]
    assert backlog[0] == live[0]
    assert backlog[1][-1] == live[1][-1] == (3, False)  # created, overdue mark, resolved


def test_a_complaint_due_alert_opens_at_its_warning_time_however_the_watermark_steps() -> None:
    """Judged at its warning time and again once overdue, or first once overdue (one step
    over both: a backlog, the replay of a step whose state a kill -9 lost), a complaint's due
    alert is the same alert opened at the same time, the warning time: the sink keeps one row
    per id. Until 1 Dec the jump opened it at the due time."""
    config = StreamsConfig()
    due = T0 + timedelta(days=2)

    def run(*steps: datetime) -> list:
        e = AlertEngine("330000", config)
        book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
        book.add(created("c9", TicketCategory.COMPLAINT, T0, due))
        return [a for now in steps for a in _ticket_alerts(e, book, now)]

    warn_at = working_time_before(due, 4.0)
    stepped, jumped = run(T0, warn_at, due + MIN), run(T0, due + MIN)
    assert [(a.severity, a.version) for a in stepped] == [
        (Severity.WARNING, 1),
        (Severity.CRITICAL, 2),
    ]
    assert [(a.severity, a.version) for a in jumped] == [(Severity.CRITICAL, 1)]
    assert {(a.alert_id, a.opened_at) for a in stepped + jumped} == {
        (alert_id("ticket_due|c9", 1), warn_at)
    }


def test_a_complaint_resolved_within_one_step_past_its_warning_time_still_alerts() -> None:
    """A complaint resolved after its warning time (or its due time) whose resolution is read
    in the step that moves the watermark past both (a sparse lunch hour of 400 events, a
    backlog) raises the episode a live run raised, born closed: opened at the warning time,
    closed at the resolution. Until 1 Dec it raised nothing: a missed due time went unseen."""
    config = StreamsConfig()
    due = T0 + timedelta(days=2)
    warn_at = working_time_before(due, 4.0)
    for done, severity in ((warn_at + 30 * MIN, Severity.WARNING), (due + MIN, Severity.CRITICAL)):
        e = AlertEngine("330000", config)
        book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
        book.add(created("c7", TicketCategory.COMPLAINT, T0, due))
        assert _ticket_alerts(e, book, T0) == []
        book.add(resolved("c7", done))
        alerts = _ticket_alerts(e, book, done + 10 * MIN)
        assert [(a.severity, a.opened_at, a.closed_at) for a in alerts][-1] == (
            severity,
            warn_at,
            done,
        )
        assert {a.alert_id for a in alerts} == {alert_id("ticket_due|c7", 1)}
        assert _ticket_alerts(e, book, done + 20 * MIN) == []  # judged again: nothing new


def test_ticket_alerts_close_when_the_ticket_is_closed_without_a_resolution() -> None:
    config = StreamsConfig()
    e = AlertEngine("330000", config)
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    due = T0 + timedelta(days=2)  # Tuesday 09:00 + 2 working days
    book.add(created("d1", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)))
    book.add(created("c1", TicketCategory.COMPLAINT, T0, due))

    def step(now: datetime) -> list:
        changes, _, _ = book.advance(now)
        return [a for c in changes for a in e.on_ticket(c.record, now, c.spells)]

    assert [a.kind for a in step(T0)] == [AlertKind.DANGEROUS_CALL]
    alerts = step(due + MIN)  # both missed their due times
    assert {(a.kind, a.severity, a.closed_at) for a in alerts} >= {
        (AlertKind.TICKET_OVERDUE, Severity.CRITICAL, None)
    }
    book.add(closed("d1", due + 2 * MIN))  # withdrawn, never resolved
    book.add(closed("c1", due + 3 * MIN))
    alerts = step(due + 3 * MIN)
    assert sorted((a.kind, a.closed_at) for a in alerts) == [
        (AlertKind.DANGEROUS_CALL, due + 2 * MIN),
        (AlertKind.TICKET_OVERDUE, due + 3 * MIN),
    ]
    assert not any(entry.open for entry in e.book.entries.values())
    assert step(due + timedelta(days=3)) == []  # closed: no timers, nothing raised again
    book.add(reopened("c1", due + timedelta(days=3)))  # reopened: due again by the rule
    alerts = step(due + timedelta(days=3))
    assert alerts == [] and book.states["c1"].at(due + timedelta(days=3))[0]


def _ticket_alerts(e: AlertEngine, book: TicketBook, now: datetime) -> list:
    """Advance the ticket book to ``now``; the alerts its changes raise or close."""
    changes, _, _ = book.advance(now)
    return [a for c in changes for a in e.on_ticket(c.record, now, c.spells)]


def _final(alerts: list[Alert]) -> dict[str, tuple]:
    """Per alert id, what its highest version says (the row a sink keeps)."""
    rows: dict[str, Alert] = {}
    for a in alerts:
        if a.alert_id not in rows or a.version >= rows[a.alert_id].version:
            rows[a.alert_id] = a
    return {i: (a.opened_at, a.closed_at, a.severity, a.message) for i, a in rows.items()}


def _run_tickets(steps: list[tuple[list[Event], datetime]]) -> list[Alert]:
    """A ticket book and alert engine fed ``steps`` (the events read, then the watermark)."""
    config = StreamsConfig()
    e = AlertEngine("330000", config)
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    out = []
    for events, now in steps:
        for event in events:
            book.add(event)
        out += _ticket_alerts(e, book, now)
    return out


def _one_step_each(events: list[Event], end: datetime) -> list[tuple[list[Event], datetime]]:
    """Each event read in its own step, the watermark at its time (a live run), then ``end``."""
    return [([ev], ev.envelope.occurred_at) for ev in events] + [([], end)]


@pytest.mark.parametrize("end", [resolved, closed])
@pytest.mark.parametrize("late", [False, True])
def test_a_complaints_due_episodes_do_not_depend_on_its_steps(
    end: Callable[[str, datetime], Event], late: bool
) -> None:
    """A complaint past its warning time (or its due time: ``late``) when resolved (or
    closed), then reopened and resolved after its new due time: read one event a step (a live
    run) or all in one step (a sparse hour, a backlog, a crash's replay), it gets the same
    episodes, one per open spell that reached its warning time, each with its spell's warning
    time, end, severity and due time. Until 1 Dec the one step judged the reopened spell only:
    the first spell's alert was never raised, and the second one took its id."""
    due1 = T0 + timedelta(days=2)  # Thursday 09:00 China time
    first_end = due1 + timedelta(hours=1) if late else due1 - timedelta(hours=1)
    reopen = due1 + timedelta(days=1)  # Friday 09:00: due Tuesday 09:00
    due2 = reopen + timedelta(days=4)
    events = [
        created("c8", TicketCategory.COMPLAINT, T0, due1),
        end("c8", first_end),
        reopened("c8", reopen),
        resolved("c8", due2 + timedelta(hours=2)),
    ]
    last = due2 + timedelta(days=1)
    live = _final(_run_tickets(_one_step_each(events, last)))
    at_once = _final(_run_tickets([(events, last)]))
    missed = "complaint ticket c8 missed its due time"
    first = (
        (Severity.CRITICAL, f"{missed} 2025-03-06 09:00")
        if late
        else (
            Severity.WARNING,
            "complaint ticket c8: less than 4 working hours left (due 2025-03-06 09:00)",
        )
    )
    assert live == {
        alert_id("ticket_due|c8", 1): (working_time_before(due1, 4.0), first_end, *first),
        alert_id("ticket_due|c8", 2): (
            working_time_before(due2, 4.0),
            due2 + timedelta(hours=2),
            Severity.CRITICAL,
            f"{missed} 2025-03-11 09:00",
        ),
    }
    assert at_once == live


def test_a_complaints_due_alert_in_a_backlog_with_a_reopen_follows_the_live_run() -> None:
    """A backlog holding a late resolution and a reopen, read ahead of the watermark: each
    hour's step emits what a live run emitted in it (the first spell's warning, critical and
    close when the watermark passes them). Until 1 Dec the backlog judged the reopened spell
    only, and the first spell's alert was never raised."""
    due1 = T0 + timedelta(days=2)
    events = [
        created("c6", TicketCategory.COMPLAINT, T0, due1),
        resolved("c6", due1 + timedelta(hours=3)),
        reopened("c6", due1 + timedelta(days=1)),
    ]
    hours = [T0 + timedelta(hours=h) for h in range(24 * 8)]
    live = _run_tickets(
        [
            (
                [ev for ev in events if now - timedelta(hours=1) < ev.envelope.occurred_at <= now],
                now,
            )
            for now in hours
        ]
    )
    backlog = _run_tickets([(events if now == T0 else [], now) for now in hours])
    assert [(a.alert_id, a.version, a.severity, a.closed_at) for a in live] == [
        (alert_id("ticket_due|c6", 1), 1, Severity.WARNING, None),
        (alert_id("ticket_due|c6", 1), 2, Severity.CRITICAL, None),
        (alert_id("ticket_due|c6", 1), 3, Severity.CRITICAL, due1 + timedelta(hours=3)),
        (alert_id("ticket_due|c6", 2), 1, Severity.WARNING, None),
        (alert_id("ticket_due|c6", 2), 2, Severity.CRITICAL, None),
    ]
    assert backlog == live


def test_a_warned_complaint_resolved_late_within_one_step_closes_critical() -> None:
    """A complaint warned about, then resolved after its due time, the watermark passing the
    due time and the resolution in one step: the alert closes critical ("missed its due
    time"), as when a step fell between them. Until 1 Dec it closed as a warning."""
    due = T0 + timedelta(days=2)
    events = [created("c3", TicketCategory.COMPLAINT, T0, due), resolved("c3", due + MIN)]
    warned = _run_tickets([(events[:1], T0), ([], due - MIN), (events[1:], due + 2 * MIN)])
    assert [(a.version, a.severity, a.closed_at) for a in warned] == [
        (1, Severity.WARNING, None),
        (3, Severity.CRITICAL, due + MIN),
    ]
    assert warned[-1].message == "complaint ticket c3 missed its due time 2025-03-06 09:00"


def test_an_end_read_after_the_watermark_passed_the_warning_time_closes_the_alert() -> None:
    """A resolution read after the watermark passed the warning time, though it came before
    it: the alert raised meanwhile closes (at its opening), and a reopened spell that misses
    its due time still gets an episode of its own."""
    due = T0 + timedelta(days=2)
    warn, reopen = working_time_before(due, 4.0), due + timedelta(days=1)  # due Tue 09:00
    events = [
        created("c2", TicketCategory.COMPLAINT, T0, due),
        resolved("c2", warn - MIN),
        reopened("c2", reopen),
    ]
    steps = [(events[:1], T0), ([], warn + MIN), (events[1:2], warn + 2 * MIN)]
    alerts = _run_tickets([*steps, (events[2:], reopen), ([], reopen + timedelta(days=5))])
    assert [(a.alert_id, a.severity, a.opened_at, a.closed_at) for a in alerts] == [
        (alert_id("ticket_due|c2", 1), Severity.WARNING, warn, None),
        (alert_id("ticket_due|c2", 1), Severity.WARNING, warn, warn),
        (
            alert_id("ticket_due|c2", 2),
            Severity.CRITICAL,
            reopen + timedelta(days=4) - 4 * 60 * MIN,
            None,
        ),
    ]


def test_a_reopen_of_an_open_complaint_closes_its_episode_and_starts_the_next() -> None:
    """A complaint warned about, then reopened while still open (its due time starts again),
    then resolved after its new due time: the first episode closes at the reopen, a warning,
    and the new spell gets its own, critical; read live or in one step. Until 2 Dec the
    reopen started no spell: read live, the first warning stayed open for ever (its new
    warning time lay after it, so nothing judged it again), read in one step it was never
    raised."""
    due1 = T0 + timedelta(days=2)
    warn1 = working_time_before(due1, 4.0)
    reopen = warn1 + 60 * MIN  # Wed 22:00 UTC = Thu 06:00 China time: due Mon 06:00
    due2 = reopen + timedelta(days=4)
    events = [
        created("c7", TicketCategory.COMPLAINT, T0, due1),
        reopened("c7", reopen),
        resolved("c7", due2 + timedelta(hours=2)),
    ]
    last = due2 + timedelta(days=1)
    live = _final(
        _run_tickets([(events[:1], T0), ([], warn1 + MIN), *_one_step_each(events[1:], last)])
    )
    assert live == {
        alert_id("ticket_due|c7", 1): (
            warn1,
            reopen,
            Severity.WARNING,
            "complaint ticket c7: less than 4 working hours left (due 2025-03-06 09:00)",
        ),
        alert_id("ticket_due|c7", 2): (
            working_time_before(due2, 4.0),
            due2 + timedelta(hours=2),
            Severity.CRITICAL,
            "complaint ticket c7 missed its due time 2025-03-10 06:00",
        ),
    }
    assert _final(_run_tickets([(events, last)])) == live


@st.composite
def _complaint_and_steps(draw: st.DrawFn) -> tuple[list[Event], list, datetime]:
    """A complaint of 1–3 open spells (each ended by a resolution, a close or a reopen of the
    open ticket, the last one perhaps not), and a way to read it: watermarks rising to the end,
    each step reading the events up to its watermark and perhaps more (read ahead, a backlog),
    in order."""
    at, events = T0, []
    for n in range(draw(st.integers(1, 3))):
        opens = created if n == 0 else lambda t, _c, at, _d: reopened(t, at)
        events.append(opens("c4", TicketCategory.COMPLAINT, at, at))
        how = draw(st.sampled_from(["end", "reopen"] + (["stay open"] if n else [])))
        if how == "stay open":
            break
        at += timedelta(minutes=draw(st.integers(1, 5 * 24 * 60)))
        if how == "end":
            end = draw(st.sampled_from([resolved, closed]))
            events.append(end("c4", at))
            at += timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
    last = at + timedelta(days=4)
    span = int((last - T0).total_seconds() // 60)
    marks = sorted(draw(st.lists(st.integers(0, span), max_size=8)))
    steps, read = [], 0
    for now in [T0 + m * MIN for m in marks] + [last]:
        due = sum(ev.envelope.occurred_at <= now for ev in events)
        upto = max(read, due, draw(st.integers(0, len(events))))
        steps.append((events[read:upto], now))
        read = upto
    return events, steps, last


@settings(max_examples=150, deadline=None)
@given(_complaint_and_steps())
def test_complaint_due_alerts_follow_the_events_however_they_are_stepped(
    case: tuple[list[Event], list, datetime],
) -> None:
    """Whatever steps read a complaint's events (ahead of the watermark or not), its due alerts
    end as a live run's: same ids, opened and closed times, severities and messages."""
    events, steps, last = case
    assert _final(_run_tickets(steps)) == _final(_run_tickets(_one_step_each(events, last)))


@settings(max_examples=800, deadline=None)  # 150 did not find the bug of 2 Dec; 800 did, 5 of 5
@given(_complaint_and_steps())
def test_a_complaints_due_alerts_are_all_closed_once_it_ended(
    case: tuple[list[Event], list, datetime],
) -> None:
    """However its events are stepped, a complaint whose last event is a resolution or a close
    leaves no due alert open, and one still open at most one: no episode stays open for ever
    (until 2 Dec a reopen of the open ticket could leave its warning open)."""
    events, steps, _ = case
    still_open = [
        i for i, (_, closed_at, *_) in _final(_run_tickets(steps)).items() if not closed_at
    ]
    ended = events[-1].RECORD_TYPE in ("ticket.resolved", "ticket.closed")
    assert len(still_open) <= (0 if ended else 1), (events, still_open)


def test_a_reopened_dangerous_call_opens_a_new_alert_at_the_reopen() -> None:
    config = StreamsConfig(alerts=AlertsConfig(settle=timedelta(0)))
    group = GroupState("330000", config, default_registry(), default_codec())
    reopen = T0 + timedelta(hours=5)
    steps = [
        created("d6", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)),
        resolved("d6", T0 + 30 * MIN),
        reopened("d6", reopen),
    ]
    alerts = [
        a for i, ev in enumerate(steps) for a in group.process([Inbound(ev, "raw", 0, i)]).alerts
    ]
    assert [(a.alert_id, a.version, a.opened_at, a.closed_at) for a in alerts] == [
        (alert_id("dangerous_call|d6", 1), 1, T0, None),
        (alert_id("dangerous_call|d6", 1), 2, T0, T0 + 30 * MIN),
        (alert_id("dangerous_call|d6", 2), 1, reopen, None),  # opened at the reopen
    ]
    assert alerts[2].message.endswith("call back by 2025-03-04 16:00")  # 2 h after the reopen


def test_a_dangerous_call_reopened_while_open_closes_its_episode_and_opens_the_next() -> None:
    """A reopen of a dangerous call still open starts its 2 hours again: episode 1 closes at
    the reopen and episode 2 opens there, with the new call-back time."""
    config = StreamsConfig(alerts=AlertsConfig(settle=timedelta(0)))
    group = GroupState("330000", config, default_registry(), default_codec())
    reopen = T0 + 60 * MIN
    steps = [
        created("d7", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)),
        reopened("d7", reopen),
        resolved("d7", reopen + 30 * MIN),
    ]
    alerts = [
        a for i, ev in enumerate(steps) for a in group.process([Inbound(ev, "raw", 0, i)]).alerts
    ]
    assert [(a.alert_id, a.version, a.opened_at, a.closed_at) for a in alerts] == [
        (alert_id("dangerous_call|d7", 1), 1, T0, None),
        (alert_id("dangerous_call|d7", 1), 2, T0, reopen),
        (alert_id("dangerous_call|d7", 2), 1, reopen, None),
        (alert_id("dangerous_call|d7", 2), 2, reopen, reopen + 30 * MIN),
    ]
    assert alerts[2].message.endswith("call back by 2025-03-04 12:00")  # 2 h after the reopen


def test_alert_messages_give_due_times_in_china_time() -> None:
    config = StreamsConfig()
    e = AlertEngine("330000", config)
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    due = T0 + timedelta(days=2)  # Thursday 09:00 China time
    book.add(created("d5", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)))
    book.add(created("c5", TicketCategory.COMPLAINT, T0, due))
    danger = _ticket_alerts(e, book, T0)
    warning = _ticket_alerts(e, book, due - timedelta(hours=3))
    missed = _ticket_alerts(e, book, due + MIN)
    assert [a.message for a in danger + warning + missed] == [
        "dangerous call: ticket d5 needs escalation and a call back by 2025-03-04 11:00",
        "complaint ticket c5: less than 4 working hours left (due 2025-03-06 09:00)",
        "complaint ticket c5 missed its due time 2025-03-06 09:00",
    ]


def test_a_dangerous_call_created_and_closed_in_one_step_raises_and_closes() -> None:
    config = StreamsConfig()
    e = AlertEngine("330000", config)
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    book.add(created("d3", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)))
    book.add(closed("d3", T0 + MIN))
    changes, _, _ = book.advance(T0 + MIN)
    alerts = [a for c in changes for a in e.on_ticket(c.record, T0 + MIN, c.spells)]
    assert [(a.version, a.opened_at, a.closed_at) for a in alerts] == [(2, T0, T0 + MIN)]
    # the closing version a live run (created, then closed, in two steps) emits, message too
    assert alerts[0].message == (
        "dangerous call: ticket d3 needs escalation and a call back by 2025-03-04 11:00"
    )


def test_alert_state_survives_a_reload() -> None:
    config = StreamsConfig(alerts=AlertsConfig(settle=timedelta(0)))
    codec, registry = default_codec(), default_registry()
    group = GroupState("330000", config, registry, codec)
    ticket = created("d2", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2))
    out = group.process([Inbound(ticket, "raw", 0, 1)])
    assert [a.kind for a in out.alerts] == [AlertKind.DANGEROUS_CALL]
    assert [t.ticket_id for t in out.tickets] == ["d2"]
    store: dict = {}
    group.dump(store)
    again = GroupState.load("330000", store, config, registry, codec)
    held = again.held()
    assert [a.alert_id for a in held.alerts] == [out.alerts[0].alert_id]
    assert [t.version for t in held.tickets] == [1]
    replay = again.process([Inbound(ticket, "raw", 0, 1)])  # redelivered: nothing new
    assert replay.alerts == [] and replay.tickets == []


def _call_events(call_id: str, offered: datetime, *, answer_s: int | None, end_s: int) -> list:
    """(time, model, call id, fields) of one queued call: answered after ``answer_s`` (else
    abandoned at ``end_s``) and ended ``end_s`` after it was offered."""
    s = timedelta(seconds=1)
    out: list = [
        (offered, CallOffered, call_id, {"channel": Channel.PHONE}),
        (offered + s, CallQueued, call_id, {"business_line": BusinessLine.PENSION}),
    ]
    if answer_s is not None:
        wait = {"agent_id": "A" + call_id, "wait_ms": (answer_s - 1) * 1000}
        out.append((offered + answer_s * s, CallAnswered, call_id, wait))
        ended = {"agent_id": "A" + call_id, "talk_ms": (end_s - answer_s) * 1000}
    else:
        out.append((offered + end_s * s, CallAbandoned, call_id, {"wait_ms": (end_s - 1) * 1000}))
        ended = {}
    out.append((offered + end_s * s, CallEnded, call_id, {"hung_up_by": HungUpBy.CALLER, **ended}))
    return out


def _run_center(
    calls: list, reload_at: datetime | None = None, minutes: int = 40
) -> tuple[list, GroupState]:
    """Feed the calls' events minute by minute to a province group (the watermark moved to
    each minute's end), optionally dumped and reloaded at ``reload_at``; all alerts."""
    config, codec, registry = StreamsConfig(), default_codec(), default_registry()
    group = GroupState("330000", config, registry, codec)
    timeline = sorted((row for c in calls for row in c), key=lambda row: row[0])
    events: list[Event] = []
    for i, (at, model, call_id, fields) in enumerate(timeline):
        envelope = Envelope(
            event_id=str(uuid.UUID(int=i + 1)),
            event_type=model.RECORD_TYPE,
            occurred_at=at,
            center_id="C330200",
            region_code="330203",
            producer_id="p-unreachable",
            sequence=i + 1,
        )
        events.append(model(envelope=envelope, call_id=call_id, **fields))
    alerts, start, offset = [], T0 + 60 * MIN, 0  # 02:00
    for minute in range(minutes):
        end = start + (minute + 1) * MIN
        batch = [e for e in events if end - MIN <= e.envelope.occurred_at < end]
        if batch:
            items = [Inbound(e, "raw", 0, offset + j) for j, e in enumerate(batch)]
            offset += len(batch)
            alerts += group.process(items).alerts
        alerts += group.advance(end).alerts
        if reload_at is not None and end == reload_at:
            store: dict = {}
            group.dump(store)
            group = GroupState.load("330000", store, config, registry, codec)
    return alerts, group


def test_calls_answered_and_still_talking_count_as_answered() -> None:
    """Three agents answer within 5 s and talk 12 min while three callers abandon after 40 s:
    the answers count at once (provisionally, before their records), so the center is not
    reported unreachable — across a reload too. Three abandons alone still raise it."""
    base = T0 + 60 * MIN
    talking = [
        _call_events(f"T{i}", base + 3 * i * MIN, answer_s=5, end_s=12 * 60 + 5) for i in range(3)
    ]
    abandons = [_call_events(f"X{m}", base + m * MIN, answer_s=None, end_s=40) for m in (1, 2, 4)]
    for reload_at in (None, base + 9 * MIN):
        alerts, group = _run_center(talking + abandons, reload_at)
        assert [a for a in alerts if a.kind is AlertKind.CENTER_UNREACHABLE] == []
    # at 02:14 the first call's record (version 1, at its call.ended) replaced its
    # provisional counts; the other two still talk
    _, group = _run_center(talking + abandons, minutes=14)
    held = {
        call_id: part
        for (scope, _), cell in group.alerts.minutes.cells.items()
        if scope == "c:C330200"
        for call_id, part in cell.items()
    }
    assert {c: p[0] for c, p in held.items() if c.startswith("T")} == {"T0": 1, "T1": 0, "T2": 0}
    assert held["T1"] == [PROVISIONAL, 1, 1, 1, 0] and held["X1"] == [1, 1, 0, 0, 0]
    alerts, _ = _run_center(abandons)
    unreachable = [a for a in alerts if a.kind is AlertKind.CENTER_UNREACHABLE]
    assert [a.severity for a in unreachable][:1] == [Severity.CRITICAL]
    assert unreachable[0].message == "center C330200: 3 calls queued and none answered in 10 min"


def test_provisional_answer_is_replaced_by_the_record() -> None:
    e = engine(settle=timedelta(0))
    counters = {"queued": 1, "answered": 1, "answered_in_sl": 1, "short_abandoned": 0}
    e.add_answered("y", "C1", T0, counters)
    e.add_answered("y", "C1", T0, counters)  # again (next batch, redelivery): once
    assert e.minutes.window("c:C1", _ms(T0), _ms(T0 + MIN)) == [1, 1, 1, 0]
    assert e.minutes.cells[("p:330000", _ms(T0))]["y"][0] == PROVISIONAL
    e.add_answered("y", "C1", T0, {**counters, "queued": 0})  # other facts: replaced
    assert e.minutes.window("c:C1", _ms(T0), _ms(T0 + MIN)) == [0, 1, 1, 0]
    e.add_records([call("C1", 0, answered=True, cid="y", version=1)])
    assert e.minutes.cells[("c:C1", _ms(T0))]["y"][0] == 1
    e.add_answered("y", "C1", T0, {**counters, "answered_in_sl": 0})  # after its record: no
    assert e.minutes.window("c:C1", _ms(T0), _ms(T0 + MIN)) == [1, 1, 1, 0]


def test_dead_letters_replayed_after_a_reload_count_once() -> None:
    """A replay after a crash sends an ingest step's dead-letter notes again (its commit was
    lost); the group loaded from its table (the notes' minute persisted with the source
    messages in it) counts each source message once: no spike from the replay alone."""
    config, codec, registry = StreamsConfig(), default_codec(), default_registry()
    limit = config.alerts.dead_letters_per_minute
    now = _ms(T0 + 60 * MIN)
    notes = [(f"raw.330000.calls:0:{i}", now - 120_000 + i) for i in range(limit)]
    group = GroupState("330000", config, registry, codec)
    assert group.process_dead_letters(notes).alerts == []
    store: dict = {}
    group.dump(store)
    group = GroupState.load("330000", store, config, registry, codec)
    replayed = group.process_dead_letters(notes).alerts  # the same source messages again
    assert replayed + group.tick_wall(now).alerts == []  # at the limit, not over it
    more = group.process_dead_letters([("raw.330000.calls:0:99", now - 110_000)]).alerts
    assert [a.dedupe_key for a in more + group.tick_wall(now + 1000).alerts] == [
        "dead_letters|330000"
    ]  # one more source message: over the limit
