"""The simulator: deterministic, realistic for a healthy center, worse for broken ones, and
its ledger equals an independent recount of its events."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hotline.producers.simulator import (
    COUNTER_NAMES,
    CallFacts,
    Profile,
    SimConfig,
    Thresholds,
    call_counters,
)
from hotline.producers.simulator.centers import plan_centers
from hotline.producers.simulator.params import MAX_QUEUE_SECONDS
from hotline.producers.simulator.runner import DEFAULT_START, simulate_to_dir
from hotline.schemas import Channel, HungUpBy, IvrOutcome, default_codec, model_for
from hotline.workdays import add_working_days

MID_SIZE = "C330200"  # Ningbo: the published mid-size center, 20 agents


def _run(tmp: Path, **kwargs: object) -> Path:
    simulate_to_dir(SimConfig(**kwargs), tmp)  # type: ignore[arg-type]
    return tmp


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _totals(out: Path) -> Counter[str]:
    """The ledger's call and agent counters summed; the agents' ``acw_ms`` (time in the
    after-call-work state) as ``agent_acw_ms``, apart from the calls' ``acw_ms``."""
    totals: Counter[str] = Counter()
    for row in _lines(out / "ledger.jsonl"):
        if row["kind"] in ("calls", "agents"):
            agents = row["kind"] == "agents"
            totals.update(
                {f"agent_{k}" if agents and k == "acw_ms" else k: v
                 for k, v in row.items() if isinstance(v, int)}
            )  # fmt: skip
    return totals


def _rates(t: Counter[str]) -> dict[str, float]:
    base = max(1, t["queued"] - t["short_abandoned"])
    return {
        "connection": t["answered"] / max(1, t["queued"]),
        "service_level": t["answered_in_sl"] / base,
        "abandon": (t["abandoned"] - t["short_abandoned"]) / base,
        "satisfaction": (t["survey_satisfied"] + t["survey_basic"]) / max(1, t["survey_responses"]),
        "response": t["survey_responses"] / max(1, t["answered"]),
        "occupancy": (t["talk_ms"] + t["hold_ms"] + t["acw_ms"]) / max(1, t["staffed_ms"]),
    }


@pytest.fixture(scope="module")
def healthy_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working day (Monday) of the mid-size center, healthy."""
    return _run(
        tmp_path_factory.mktemp("healthy"),
        centers=[MID_SIZE],
        profiles={"*": Profile.HEALTHY},
        duration=timedelta(days=1),
    )


# -- determinism -------------------------------------------------------------------------------


def _small(tmp: Path, seed: int) -> Path:
    return _run(
        tmp,
        seed=seed,
        centers=["C330200", "C320100"],
        start=DEFAULT_START + timedelta(hours=9),
        duration=timedelta(hours=2),
    )


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a, b = _small(tmp_path / "a", 7), _small(tmp_path / "b", 7)
    for name in ("events.jsonl", "ledger.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "events.jsonl").stat().st_size > 10_000


def test_another_seed_gives_other_events(tmp_path: Path) -> None:
    a, b = _small(tmp_path / "a", 7), _small(tmp_path / "b", 8)
    assert (a / "events.jsonl").read_bytes() != (b / "events.jsonl").read_bytes()
    assert (a / "ledger.jsonl").read_bytes() != (b / "ledger.jsonl").read_bytes()


# -- realism -----------------------------------------------------------------------------------


def test_healthy_mid_size_center_is_near_the_published_targets(healthy_day: Path) -> None:
    totals = _totals(healthy_day)
    rates = _rates(totals)
    assert 800 <= totals["answered"] <= 2500  # 20 agents; Ningbo: 100+ calls per agent a day
    assert rates["connection"] >= 0.97  # local target ≥ 97 %
    assert rates["service_level"] >= 0.85
    assert rates["satisfaction"] >= 0.96  # local target ≥ 96 %
    assert 0.3 <= rates["response"] <= 0.6
    assert 0.4 <= rates["occupancy"] <= 0.85
    talk_minutes = totals["talk_ms"] / totals["answered"] / 60_000
    assert 2.0 <= talk_minutes <= 4.0  # "~3 minutes a call"
    assert 0.3 <= totals["self_served"] / totals["offered"] <= 0.5
    assert 0 < totals["repeat_7d"] < totals["offered"] * 0.3
    assert 0 < totals["transferred"] < totals["answered"] * 0.1
    assert totals["caller_hung_up_first"] > 0.85 * (totals["answered"] - totals["transferred"])


def test_arrivals_peak_mid_morning_and_early_afternoon(healthy_day: Path) -> None:
    by_hour: Counter[int] = Counter()
    for row in _lines(healthy_day / "ledger.jsonl"):
        if row["kind"] == "calls":
            local_hour = (int(row["minute"][11:13]) + 8) % 24
            by_hour[local_hour] += row["offered"]
    assert by_hour[10] > by_hour[12] < by_hour[14]
    assert by_hour[10] > 5 * by_hour[3]
    assert by_hour[14] > 5 * by_hour[22]


@pytest.fixture(scope="module")
def by_profile(tmp_path_factory: pytest.TempPathFactory) -> dict[Profile, Counter[str]]:
    """Each profile for the mid-size center over a working day's service hours."""
    found = {}
    for profile in Profile:
        out = _run(
            tmp_path_factory.mktemp(profile.value),
            centers=[MID_SIZE],
            profiles={MID_SIZE: profile},
            start=DEFAULT_START + timedelta(hours=8),
            duration=timedelta(hours=10),
        )
        found[profile] = _totals(out)
    return found


def test_broken_profiles_are_visibly_worse(by_profile: dict[Profile, Counter[str]]) -> None:
    healthy, under = _rates(by_profile[Profile.HEALTHY]), _rates(by_profile[Profile.UNDERSTAFFED])
    assert healthy["connection"] >= 0.95
    assert under["connection"] < healthy["connection"] - 0.15
    assert under["service_level"] < healthy["service_level"] - 0.2
    assert under["abandon"] > healthy["abandon"] + 0.1
    assert under["satisfaction"] < healthy["satisfaction"]
    assert under["occupancy"] > healthy["occupancy"]

    unstaffed = by_profile[Profile.UNSTAFFED_LINE]
    assert unstaffed["queued"] > 100 and unstaffed["answered"] == 0
    assert unstaffed["staffed_ms"] == 0  # how its queued calls end: test_an_acd_drop_…

    for profile in (Profile.NO_HUMAN_SERVICE, Profile.RECORDINGS_ONLY, Profile.ROUTED_TO_12345):
        totals = by_profile[profile]
        assert totals["offered"] > 100 and totals["queued"] == totals["answered"] == 0, profile
    assert by_profile[Profile.ROUTED_TO_12345]["transferred"] > 100
    assert by_profile[Profile.NO_HUMAN_SERVICE]["self_served"] > 100


def test_an_acd_drop_is_no_abandon(tmp_path: Path) -> None:
    """``call.abandoned`` is the caller hanging up in the queue (DOMAIN.md, the event's
    contract, the queue_log adapter's EXITWITHTIMEOUT): a call the ACD drops at its longest
    queue time ends with a system hang-up and no abandon. On an unstaffed line every queued
    call ends one of the two ways."""
    out = _run(
        tmp_path,
        centers=[MID_SIZE],
        profiles={MID_SIZE: Profile.UNSTAFFED_LINE},
        start=DEFAULT_START + timedelta(hours=8),
        duration=timedelta(hours=4),
    )
    calls: dict[str, dict[str, dict]] = defaultdict(dict)
    for e in _lines(out / "events.jsonl"):
        if e["envelope"]["event_type"].startswith("call."):
            calls[e["call_id"]][e["envelope"]["event_type"]] = e
    ends: Counter[str] = Counter()
    for c in calls.values():
        if "call.queued" not in c or "call.ended" not in c:
            continue
        by = c["call.ended"]["hung_up_by"]
        if "call.abandoned" in c:
            assert by == HungUpBy.CALLER.value, c
            ends["abandoned"] += 1
        else:
            assert by == HungUpBy.SYSTEM.value, c
            queued_at = datetime.fromisoformat(c["call.queued"]["envelope"]["occurred_at"])
            ended_at = datetime.fromisoformat(c["call.ended"]["envelope"]["occurred_at"])
            assert ended_at - queued_at == timedelta(seconds=MAX_QUEUE_SECONDS), c
            ends["dropped"] += 1
    assert ends["abandoned"] > 100 and ends["dropped"] > 0


# -- the ledger and the events -----------------------------------------------------------------


def _recount(events: list[dict], end: datetime, thresholds: Thresholds) -> dict:
    """An independent, simple reducer: events → ledger call and ticket rows."""
    calls: dict[str, dict] = {}
    last_call_of: dict[str, datetime] = {}
    for e in events:
        kind, env = e["envelope"]["event_type"], e["envelope"]
        if kind == "call.offered":
            at = datetime.fromisoformat(env["occurred_at"])
            previous = last_call_of.get(e["caller_id"]) if e["caller_id"] else None
            if e["caller_id"]:
                last_call_of[e["caller_id"]] = at
            calls[e["call_id"]] = {
                "at": at, "region": env["region_code"], "channel": e["channel"],
                "repeat": previous is not None and at - previous <= timedelta(days=7),
            }  # fmt: skip
        elif kind.startswith(("call.", "survey.")):
            calls[e["call_id"]][kind] = e
    rows: dict[tuple, Counter[str]] = defaultdict(Counter)
    self_lines = {
        "pension_account": "pension",
        "medical_account": "medical",
        "work_injury_account": "work_injury",
        "unemployment_account": "unemployment",
        "maternity_account": "maternity",
        "lost_card_report": "social_security_card",
    }
    for c in calls.values():
        ivr = c.get("call.ivr_outcome", {})
        queued, answered = c.get("call.queued"), c.get("call.answered")
        abandoned, ended, survey = (
            c.get("call.abandoned"),
            c.get("call.ended", {}),  # a call still in progress at the end has none yet
            c.get("survey.response"),
        )
        if queued:
            line = queued["business_line"]
        else:
            line = self_lines.get(ivr.get("self_service_kind"), "other")
        minute = c["at"].replace(second=0, microsecond=0)
        key = (minute.strftime("%Y-%m-%dT%H:%M:00.000Z"), c["region"], line, c["channel"])
        row = rows[key]
        row["offered"] += 1
        row["self_served"] += ivr.get("outcome") == "self_served"
        row["queued"] += queued is not None
        row["answered"] += answered is not None
        row["abandoned"] += abandoned is not None
        if abandoned is not None:
            row["short_abandoned"] += abandoned["wait_ms"] < thresholds.short_abandon_ms
        if answered is not None:
            row["answered_in_sl"] += answered["wait_ms"] <= thresholds.service_level_ms
            row["wait_ms"] += answered["wait_ms"]
            row["caller_hung_up_first"] += ended.get("hung_up_by") == "caller"
        for name in ("talk_ms", "hold_ms", "acw_ms"):
            row[name] += ended.get(name) or 0
        row["transferred"] += "call.transferred" in c
        row["repeat_7d"] += c["repeat"] and answered is not None  # a share of answered
        if survey is not None:
            row["survey_responses"] += 1
            row["survey_" + survey["result"]] += 1
    return rows


def test_ledger_equals_an_independent_recount_of_the_events(healthy_day: Path) -> None:
    events = _lines(healthy_day / "events.jsonl")
    ledger = _lines(healthy_day / "ledger.jsonl")
    meta = ledger[0]
    assert meta["kind"] == "meta" and meta["service_level_ms"] == 30_000
    end = datetime.fromisoformat(meta["end"])
    expected = _recount(events, end, Thresholds())
    got = {
        (r["minute"], r["region_code"], r["business_line"], r["channel"]): r
        for r in ledger
        if r["kind"] == "calls"
    }
    assert set(got) == set(expected)
    for key, row in got.items():
        assert {n: row[n] for n in COUNTER_NAMES} == {n: expected[key][n] for n in COUNTER_NAMES}

    created = Counter(
        e["category"] for e in events if e["envelope"]["event_type"] == "ticket.created"
    )
    ticket_rows = [r for r in ledger if r["kind"] == "tickets"]
    assert Counter({c: sum(r["created"] for r in ticket_rows if r["category"] == c)
                    for c in created}) == created  # fmt: skip
    resolved = sum(e["envelope"]["event_type"] == "ticket.resolved" for e in events)
    assert sum(r["resolved"] for r in ticket_rows) == resolved


def test_ledger_rows_are_sorted_and_one_minute_wide(healthy_day: Path) -> None:
    rows = [r for r in _lines(healthy_day / "ledger.jsonl") if r["kind"] == "calls"]
    keys = [(r["minute"], r["region_code"], r["business_line"], r["channel"]) for r in rows]
    assert keys == sorted(keys)
    assert all(r["minute"].endswith(":00.000Z") for r in rows)
    assert {r["region_code"][:4] for r in rows} == {"3302"}  # counties of Ningbo and the city
    assert len({r["region_code"] for r in rows}) > 5


def test_agent_time_adds_up(healthy_day: Path) -> None:
    rows = [r for r in _lines(healthy_day / "ledger.jsonl") if r["kind"] == "agents"]
    assert rows and all(r["center_id"] == MID_SIZE for r in rows)
    for r in rows:
        assert r["staffed_ms"] == r["ready_ms"] + r["on_call_ms"] + r["acw_ms"]
        assert r["staffed_ms"] + r["not_ready_ms"] <= 20 * 60_000  # ≤ 20 agents × 1 minute
    assert sum(r["not_ready_ms"] for r in rows) > 20 * 2 * 5 * 60_000  # breaks happened


def test_every_event_validates_and_encodes(healthy_day: Path) -> None:
    codec = default_codec()
    seen = set()
    for line in (healthy_day / "events.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        kind = data["envelope"]["event_type"]
        model = model_for(kind).model_validate_json(line)
        if kind not in seen:  # one codec round trip per type keeps the test fast
            seen.add(kind)
            assert codec.decode_model(codec.encode_model(model)) == model
    assert {"call.offered", "call.ivr_outcome", "call.queued", "call.answered", "call.ended",
            "call.transferred", "survey.response", "agent.state", "ticket.created",
            "ticket.assigned", "qa.evaluation"} <= seen  # fmt: skip


PHONE = re.compile(r"(?<![0-9a-f])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9a-f])")


def test_no_event_carries_a_phone_number(healthy_day: Path) -> None:
    text = (healthy_day / "events.jsonl").read_text(encoding="utf-8")
    assert PHONE.search(text) is None
    assert "phone_number" not in text and "+86" not in text
    callers = {json.loads(line).get("caller_id") for line in text.splitlines()} - {None}
    assert callers and all(re.fullmatch(r"[0-9a-f]{64}", c) for c in callers)


def test_sequences_are_gapless_and_time_is_ordered(healthy_day: Path) -> None:
    next_seq: dict[str, int] = defaultdict(int)
    last = DEFAULT_START
    for e in _lines(healthy_day / "events.jsonl"):
        env = e["envelope"]
        assert env["sequence"] == next_seq[env["producer_id"]]
        next_seq[env["producer_id"]] += 1
        at = datetime.fromisoformat(env["occurred_at"])
        assert at >= last
        last = at
    assert set(next_seq) == {f"sim.{MID_SIZE}"}


# -- pure rules --------------------------------------------------------------------------------


def _facts(**kw: object) -> CallFacts:
    return CallFacts("c1", DEFAULT_START, MID_SIZE, "330200", Channel.PHONE, **kw)  # type: ignore[arg-type]


def test_call_counters_thresholds_are_inclusive_for_sl_and_strict_for_short() -> None:
    from hotline.schemas import BusinessLine

    t = Thresholds(service_level_ms=30_000, short_abandon_ms=5_000)
    at_sl = _facts(ivr_outcome=IvrOutcome.AGENT_REQUESTED, business_line=BusinessLine.PENSION,
                   answer_wait_ms=30_000, hung_up_by=HungUpBy.CALLER)  # fmt: skip
    c = call_counters(at_sl, t)
    assert c["answered_in_sl"] == c["answered"] == c["caller_hung_up_first"] == 1
    assert (
        call_counters(_facts(business_line=BusinessLine.PENSION, answer_wait_ms=30_001), t)[
            "answered_in_sl"
        ]
        == 0
    )
    short = _facts(business_line=BusinessLine.MEDICAL, abandon_wait_ms=4_999)
    assert call_counters(short, t)["short_abandoned"] == 1
    assert (
        call_counters(_facts(business_line=BusinessLine.MEDICAL, abandon_wait_ms=5_000), t)[
            "short_abandoned"
        ]
        == 0
    )
    assert call_counters(_facts(ivr_outcome=IvrOutcome.SELF_SERVED))["self_served"] == 1
    assert list(call_counters(_facts())) == list(COUNTER_NAMES)


def test_repeat_calls_are_counted_among_answered_calls_only() -> None:
    """repeat_7d / answered is a share: a caller who served herself in the IVR three times a
    week, or gave up in the queue, adds no repeat (it would pass 100 %)."""
    from hotline.schemas import BusinessLine

    self_served = _facts(ivr_outcome=IvrOutcome.SELF_SERVED, repeat_7d=True)
    abandoned = _facts(business_line=BusinessLine.PENSION, abandon_wait_ms=40_000, repeat_7d=True)
    answered = _facts(business_line=BusinessLine.PENSION, answer_wait_ms=9_000, repeat_7d=True)
    assert call_counters(self_served)["repeat_7d"] == call_counters(abandoned)["repeat_7d"] == 0
    assert call_counters(answered)["repeat_7d"] == call_counters(answered)["answered"] == 1


def test_an_answered_call_whose_queued_event_was_lost_is_still_queued() -> None:
    c = call_counters(_facts(answer_wait_ms=9_000))  # no call.queued: no business line
    assert c["queued"] == c["answered"] == c["answered_in_sl"] == 1
    assert call_counters(_facts())["queued"] == 0


def test_tickets_follow_the_working_day_calendar(tmp_path: Path) -> None:
    # Friday afternoon to Tuesday evening: complaints are due 2 working days later (Tuesday).
    out = _run(
        tmp_path,
        centers=[MID_SIZE],
        profiles={"*": Profile.UNDERSTAFFED},
        start=DEFAULT_START + timedelta(days=4, hours=13),
        duration=timedelta(days=4, hours=4),
    )
    events = _lines(out / "events.jsonl")
    created = [e for e in events if e["envelope"]["event_type"] == "ticket.created"]
    assert created
    for e in created:
        at = datetime.fromisoformat(e["envelope"]["occurred_at"])
        due = datetime.fromisoformat(e["due_at"])
        if e["category"] == "complaint":
            assert due == add_working_days(at, 2)
    backlog = [r for r in _lines(out / "ledger.jsonl") if r["kind"] == "tickets_open_at_end"]
    assert sum(r["overdue"] for r in backlog) > 0  # some of Friday's callbacks were due Monday
    tickets = [r for r in _lines(out / "ledger.jsonl") if r["kind"] == "tickets"]
    assert sum(r["resolved"] for r in tickets) > 0


def test_default_plan_covers_every_city_level_center_at_published_scale() -> None:
    centers = plan_centers(12333)
    assert len(centers) == 366
    sizes = {c.center_id: c.agents for c in centers}
    assert sizes["C310000"] == 400 and sizes["C330200"] == 20
    assert 3_500 <= sum(sizes.values()) <= 8_000  # 4,000+ agents nationally
    assert min(sizes.values()) >= 3
    capitals = [s for cid, s in sizes.items() if cid[3:5] == "01"]
    others = [s for cid, s in sizes.items() if cid[3:5] not in ("00", "01")]
    assert sum(capitals) / len(capitals) > 3 * sum(others) / len(others)
    profiles = Counter(c.profile for c in centers)
    assert profiles[Profile.HEALTHY] > 250 and len(profiles) >= 5
    assert plan_centers(12333) == centers


# -- service hours: nothing scheduled in the past; the round-the-clock override ----------------

_DRAIN_AND_LAST_CALL = timedelta(hours=1)  # 15 min drain + the call, ACW or break in hand


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _agent_events(events: list[dict]) -> dict[str, list[tuple[datetime, str]]]:
    found: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for e in events:
        if e["envelope"]["event_type"] == "agent.state":
            found[e["agent_id"]].append((_at(e["envelope"]["occurred_at"]), e["state"]))
    return found


def _shifts_of(
    states: list[tuple[datetime, str]], end: datetime
) -> list[tuple[datetime, datetime]]:
    """An agent's logged-in intervals, asserting the states follow each other possibly."""
    shifts, since = [], None
    for at, state in states:
        if state == "logged_in":
            assert since is None, f"logged in twice at {at}"
            since = at
        elif state == "logged_out":
            assert since is not None, f"logged out while logged out at {at}"
            shifts.append((since, at))
            since = None
        else:
            assert since is not None, f"{state} while logged out at {at}"
    if since is not None:
        shifts.append((since, end))
    return shifts


def _service_windows(
    hours: list[str], start: datetime, end: datetime, every_day: bool
) -> list[tuple[datetime, datetime]]:
    """The windows (China time) of the days of [start, end], touching windows joined."""
    from hotline.workdays import CHINA_TZ, is_working_day

    windows: list[tuple[datetime, datetime]] = []
    day = start.astimezone(CHINA_TZ).date()
    while day <= end.astimezone(CHINA_TZ).date():
        if every_day or is_working_day(day):
            midnight = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
            for text in hours:
                (h1, m1), (h2, m2) = (map(int, t.split(":")) for t in text.split("-"))
                opens = midnight + timedelta(hours=h1, minutes=m1)
                closes = midnight + timedelta(hours=h2, minutes=m2)
                if windows and windows[-1][1] == opens:
                    windows[-1] = (windows[-1][0], closes)
                else:
                    windows.append((opens, closes))
        day += timedelta(days=1)
    return windows


def _agent_recount(events: list[dict], end: datetime) -> Counter[str]:
    """An independent total of agent time per state from the agent.state intervals."""
    field = {"ready": "ready_ms", "on_call": "on_call_ms", "acw": "acw_ms"}
    totals: Counter[str] = Counter()
    last: dict[str, tuple[datetime, str | None]] = {}
    for e in [*events, {"envelope": {"event_type": "end"}}]:
        if e["envelope"]["event_type"] == "end":
            pending = [(agent, end) for agent in last]
        elif e["envelope"]["event_type"] == "agent.state":
            pending = [(e["agent_id"], _at(e["envelope"]["occurred_at"]))]
        else:
            continue
        for agent, at in pending:
            if agent in last and last[agent][1] is not None:
                totals[last[agent][1]] += (at - last[agent][0]) // timedelta(milliseconds=1)
            if e["envelope"]["event_type"] == "agent.state":
                state = e["state"] if e["state"] != "not_ready" else e["reason"]
                last[agent] = (
                    at,
                    None if state == "logged_out" else field.get(state, "not_ready_ms"),
                )
    totals["staffed_ms"] = totals["ready_ms"] + totals["on_call_ms"] + totals["acw_ms"]
    return totals


def _check_hours(out: Path, every_day: bool = False) -> dict[str, list]:
    """No impossible agent sequence, nobody staffed outside a window, the ledger exact."""
    events = _lines(out / "events.jsonl")
    ledger = _lines(out / "ledger.jsonl")
    meta = ledger[0]
    start, end = _at(meta["start"]), _at(meta["end"])
    by_center = {c["center_id"]: c for c in meta["centers"]}
    shifts_by_center: dict[str, list] = defaultdict(list)
    for agent, states in _agent_events(events).items():
        center = by_center[agent.split(".")[0]]
        hours = meta.get("service_hours", center["windows"])
        windows = _service_windows(hours, start, end, every_day)
        for login, logout in _shifts_of(states, end):
            window = [(o, c) for o, c in windows if o - timedelta(minutes=5) <= login < c]
            assert window, f"{agent} logged in at {login} outside its windows {hours}"
            opens, closes = window[0]
            assert login >= start
            if opens <= start:  # in progress at the run's start: at work from the start
                assert login == start, (agent, login)
            assert logout <= closes + _DRAIN_AND_LAST_CALL, (agent, logout, closes)
            shifts_by_center[center["center_id"]].append((login, logout))
    # The ledger still equals independent recounts of the events.
    expected = _recount(events, end, Thresholds())
    got = {(r["minute"], r["region_code"], r["business_line"], r["channel"]): r
           for r in ledger if r["kind"] == "calls"}  # fmt: skip
    assert set(got) == set(expected)
    for key, row in got.items():
        assert {n: row[n] for n in COUNTER_NAMES} == {n: expected[key][n] for n in COUNTER_NAMES}
    agent_rows = [r for r in ledger if r["kind"] == "agents"]
    recount = _agent_recount(events, end)
    for name in ("staffed_ms", "ready_ms", "on_call_ms", "acw_ms", "not_ready_ms"):
        assert sum(r[name] for r in agent_rows) == recount[name], name
    for r in agent_rows:
        assert r["staffed_ms"] == r["ready_ms"] + r["on_call_ms"] + r["acw_ms"]
        assert r["staffed_ms"] + r["not_ready_ms"] <= by_center[r["center_id"]]["agents"] * 60_000
    return shifts_by_center


HOURS_CENTERS = ["C330200", "C320500"]  # Ningbo 08:30/09:00-12:00 and an understaffed one


@pytest.mark.parametrize(
    ("start", "hours"),
    [
        ("2025-03-03T21:28", 14),  # after the day's service hours (the demo bug): until 11:28
        ("2025-03-03T10:00", 5),  # mid-shift, through lunch into the afternoon
        ("2025-03-03T12:30", 3),  # at the lunch break
        ("2025-03-07T17:45", 66),  # Friday evening over the weekend to Monday 11:45
    ],
)
def test_a_run_started_in_the_day_schedules_nothing_in_the_past(
    tmp_path: Path, start: str, hours: int
) -> None:
    from hotline.producers.simulator.runner import parse_start

    began = parse_start(start)
    out = _run(
        tmp_path,
        centers=HOURS_CENTERS,
        profiles={"C330200": Profile.HEALTHY, "C320500": Profile.UNDERSTAFFED},
        start=began,
        duration=timedelta(hours=hours),
    )
    shifts = _check_hours(out)
    assert set(shifts) == set(HOURS_CENTERS)  # every center staffed some window of the run
    meta = _lines(out / "ledger.jsonl")[0]
    ningbo = next(c for c in meta["centers"] if c["center_id"] == "C330200")
    windows = _service_windows(ningbo["windows"], began, began + timedelta(hours=hours), False)
    first = next(o for o, c in windows if c > began)
    logins = sorted(login for login, _ in shifts["C330200"])
    if first <= began:  # a window in progress: all 20 agents are at work from the start
        assert logins[:20] == [began] * 20 and logins[20:21] != [began]
    else:  # nobody logs in before the next window, then 20 agents do
        assert logins[0] >= first - timedelta(minutes=5)
        assert len([t for t in logins if t < first + timedelta(minutes=1)]) == 20


def _answered(out: Path) -> Counter[str]:
    return _totals(out)


def test_service_hours_override_staffs_the_night_and_the_weekend(tmp_path: Path) -> None:
    from hotline.producers.simulator.centers import parse_service_hours

    night = DEFAULT_START + timedelta(hours=22)  # Monday 22:00 China time
    kwargs = {"centers": ["C330200"], "profiles": {"*": Profile.HEALTHY},
              "duration": timedelta(hours=2)}  # fmt: skip
    closed = _totals(_run(tmp_path / "closed", start=night, **kwargs))
    assert closed["offered"] > 0 and closed["queued"] == closed["answered"] == 0
    assert closed["staffed_ms"] == 0

    round_the_clock = parse_service_hours("00:00-24:00")
    assert round_the_clock == ((0, 1440),)
    opened = _totals(_run(tmp_path / "open", start=night, service_hours=round_the_clock, **kwargs))
    assert opened["answered"] > 0 and opened["answered"] >= 0.95 * opened["queued"]
    assert opened["staffed_ms"] > 0
    # The hours change who answers, not how many call.
    import simpy

    from hotline.producers.simulator.model import CenterModel, Clock

    spec = plan_centers(12333, ["C330200"])[0]
    own, overridden = (
        CenterModel(simpy.Environment(), spec, Clock(night), 1, print, service_hours=hours)
        for hours in (None, round_the_clock)
    )
    assert own.daily_calls == overridden.daily_calls

    saturday = DEFAULT_START + timedelta(days=5, hours=3)  # Saturday 03:00 China time
    weekend = _totals(
        _run(tmp_path / "weekend", start=saturday, service_hours=round_the_clock, **kwargs)
    )
    assert weekend["answered"] > 0


def test_round_the_clock_agents_work_on_over_midnight(tmp_path: Path) -> None:
    from hotline.producers.simulator.centers import parse_service_hours

    out = _run(
        tmp_path,
        centers=HOURS_CENTERS,
        start=DEFAULT_START + timedelta(hours=21, minutes=28),
        duration=timedelta(hours=30),
        service_hours=parse_service_hours("00:00-24:00"),
    )
    shifts = _check_hours(out, every_day=True)
    events = _lines(out / "events.jsonl")
    end = _at(_lines(out / "ledger.jsonl")[0]["end"])
    logins = {
        agent: len(_shifts_of(states, end)) for agent, states in _agent_events(events).items()
    }
    assert logins and set(logins.values()) == {1}, logins  # no handover at midnight
    for center, intervals in shifts.items():
        assert all(login == DEFAULT_START + timedelta(hours=21, minutes=28)
                   for login, _ in intervals), center  # fmt: skip
    breaks = Counter(
        e["agent_id"]
        for e in events
        if e["envelope"]["event_type"] == "agent.state" and e["reason"] == "break"
    )
    assert min(breaks.values()) >= 5  # a break every few hours, not one a day


def test_service_hours_are_parsed_and_checked() -> None:
    from hotline.errors import ConfigurationError
    from hotline.producers.simulator.centers import format_service_hours, parse_service_hours

    hours = parse_service_hours("08:30-12:00, 13:00-17:30")
    assert hours == ((510, 720), (780, 1050))
    assert format_service_hours(hours) == ["08:30-12:00", "13:00-17:30"]
    assert format_service_hours(parse_service_hours("0:00-24:00")) == ["00:00-24:00"]
    assert parse_service_hours("08:00-12:00,12:00-18:00") == ((480, 720), (720, 1080))
    for bad in ("", "8-17", "17:00-08:00", "08:00-24:30", "08:60-12:00", "13:00-17:00,08:00-12:00",
                "08:00-12:30,12:00-17:00", "08:00-12:00,12:30-17:00", "00:10-23:50"):  # fmt: skip
        with pytest.raises(ConfigurationError):
            parse_service_hours(bad)
