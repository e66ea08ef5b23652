"""queue_log → hotline events: exact sequences for hand-written calls and agent states."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from test_queue_log_helpers import HASHER, T0, ingestor, mapping, row, simple, write_log

from hotline.producers.queue_log import (
    MalformedLine,
    Translator,
    Uninterpretable,
    parse_line,
)
from hotline.schemas import NotReadyReason

TZ = mapping().tz
ENTER = "ENTERQUEUE"


def enter(dt: int, callid: str, queue: str = "yanglao", number: str = "17000001234") -> str:
    return row(dt, callid, queue, "NONE", ENTER, "", number, 1)


def events_of(tmp_path, rows):
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", rows))
    summary = run.run()
    return [simple(e) for e in run.sink.events], summary


def offered(callid: str, line: str = "pension") -> list[tuple[object, ...]]:
    return [
        ("offered", callid),
        ("ivr", callid, "agent_requested"),
        ("queued", callid, line),
    ]


A1 = "PJSIP:8001"


def test_answered_then_completed_by_caller(tmp_path) -> None:
    got, summary = events_of(
        tmp_path,
        [
            enter(0, "1.1"),
            row(12, "1.1", "yanglao", "PJSIP/8001", "CONNECT", 12, "1.2", 3),
            row(192, "1.1", "yanglao", "PJSIP/8001", "COMPLETECALLER", 12, 180, 1),
        ],
    )
    assert got == [
        *offered("1.1"),
        ("answered", "1.1", A1, 12),
        ("agent", A1, "on_call", None),
        ("ended", "1.1", A1, 180, "caller"),
        ("agent", A1, "ready", None),
    ]
    assert summary.bad == []


def test_answered_then_completed_by_agent(tmp_path) -> None:
    got, _ = events_of(
        tmp_path,
        [
            enter(0, "1.1", queue="yibao"),
            row(5, "1.1", "yibao", "PJSIP/8001", "CONNECT", 5, "1.2", 2),
            row(65, "1.1", "yibao", "PJSIP/8001", "COMPLETEAGENT", 5, 60, 1),
        ],
    )
    assert got[-2] == ("ended", "1.1", A1, 60, "agent")
    assert got[2] == ("queued", "1.1", "medical")


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (
            row(45, "1.1", "yanglao", "NONE", "ABANDON", 1, 1, 45),
            [("abandoned", "1.1", 45), ("ended", "1.1", None, 0, "caller")],
        ),
        (
            row(120, "1.1", "yanglao", "NONE", "EXITWITHTIMEOUT", 1, 1, 120),
            [("ended", "1.1", None, 0, "system")],
        ),
        (
            row(30, "1.1", "yanglao", "NONE", "EXITWITHKEY", 0, 1, 1, 30),
            [("ended", "1.1", None, 0, "caller")],
        ),
        (
            row(2, "1.1", "yanglao", "NONE", "EXITEMPTY", 1, 1, 2),
            [("ended", "1.1", None, 0, "system")],
        ),
    ],
    ids=["abandon", "timeout", "exit-with-key", "exit-empty"],
)
def test_unanswered_endings(tmp_path, last, expected) -> None:
    got, summary = events_of(tmp_path, [enter(0, "1.1"), last])
    assert got == [*offered("1.1"), *expected]
    assert summary.bad == []


def test_ring_no_answer_then_connect(tmp_path) -> None:
    got, summary = events_of(
        tmp_path,
        [
            enter(0, "1.1"),
            row(15, "1.1", "yanglao", "PJSIP/8002", "RINGNOANSWER", 15000),
            row(20, "1.1", "yanglao", "PJSIP/8001", "CONNECT", 20, "1.2", 5),
            row(80, "1.1", "yanglao", "PJSIP/8001", "COMPLETECALLER", 20, 60, 1),
        ],
    )
    assert got[3:5] == [("answered", "1.1", A1, 20), ("agent", A1, "on_call", None)]
    assert summary.queue_log_events["RINGNOANSWER"] == 1
    assert not any(e[0] == "agent" and e[1] == "PJSIP:8002" for e in got)


@pytest.mark.parametrize(
    ("transfer", "target", "talk"),
    [
        (("BLINDTRANSFER", "12345", "from-internal", 9, 95, 1), "platform_12345", 95),
        (("BLINDTRANSFER", "7777", "from-internal", 9, 95, 1), "other_department", 95),
        (("TRANSFER", "8100", "experts", 9, 70), "expert_seat", 70),
        (("ATTENDEDTRANSFER", "BRIDGE", "b-1", 9, 81, 1), "supervisor", 81),
        (("ATTENDEDTRANSFER", "APP", "Voicemail", 9, 82, 1), "supervisor", 82),
        (("ATTENDEDTRANSFER", "LINK", "PJSIP/8001-1", "PJSIP/8000-2", 9, 83, 1), "supervisor", 83),
    ],
    ids=["blind-12345", "blind-default", "transfer-context", "att-bridge", "att-app", "att-link"],
)
def test_transfers(tmp_path, transfer, target, talk) -> None:
    got, summary = events_of(
        tmp_path,
        [
            enter(0, "1.1"),
            row(9, "1.1", "yanglao", "PJSIP/8001", "CONNECT", 9, "1.2", 3),
            row(9 + talk, "1.1", "yanglao", "PJSIP/8001", *transfer),
        ],
    )
    assert got[5:] == [
        ("transferred", "1.1", A1, target),
        ("ended", "1.1", A1, talk, "agent"),
        ("agent", A1, "ready", None),
    ]
    assert summary.bad == []


def test_agent_login_pause_unpause_logoff(tmp_path) -> None:
    agent = "Agent/1001"
    got, summary = events_of(
        tmp_path,
        [
            row(0, "9.1", "NONE", agent, "AGENTLOGIN", "PJSIP/1001-0001"),
            row(10, "NONE", "yanglao", agent, "PAUSE", "午餐"),
            row(20, "NONE", "yanglao", agent, "PAUSE", "午餐"),  # repeated: no new event
            row(30, "NONE", "NONE", agent, "PAUSEALL", "业务培训"),
            row(40, "NONE", "yanglao", agent, "UNPAUSE", ""),
            row(50, "NONE", "yanglao", agent, "PAUSE", "Wrap-up"),
            row(60, "NONE", "NONE", agent, "UNPAUSEALL", ""),
            row(70, "9.1", "NONE", agent, "AGENTLOGOFF", "PJSIP/1001-0001", 70),
        ],
    )
    a = "Agent:1001"
    assert got == [
        ("agent", a, "logged_in", None),
        ("agent", a, "ready", None),
        ("agent", a, "not_ready", "break"),
        ("agent", a, "not_ready", "training"),
        ("agent", a, "ready", None),
        ("agent", a, "not_ready", "acw"),
        ("agent", a, "ready", None),
        ("agent", a, "logged_out", None),
    ]
    assert summary.bad == []


def test_members_in_several_queues_and_pause_during_a_call(tmp_path) -> None:
    agent = "PJSIP/8001"
    got, _ = events_of(
        tmp_path,
        [
            row(0, "NONE", "yanglao", agent, "ADDMEMBER", ""),
            row(0, "NONE", "yibao", agent, "ADDMEMBER", ""),
            enter(1, "1.1"),
            row(3, "1.1", "yanglao", agent, "CONNECT", 2, "1.2", 2),
            row(10, "NONE", "yanglao", agent, "PAUSE", "toilet"),  # while on the call
            row(60, "1.1", "yanglao", agent, "COMPLETECALLER", 2, 57, 1),
            row(70, "NONE", "yanglao", agent, "UNPAUSE", ""),
            row(80, "NONE", "yanglao", agent, "REMOVEMEMBER", ""),  # still in yibao
            row(90, "NONE", "yibao", agent, "REMOVEMEMBER", ""),
        ],
    )
    agent_events = [e for e in got if e[0] == "agent"]
    assert agent_events == [
        ("agent", A1, "logged_in", None),
        ("agent", A1, "ready", None),
        ("agent", A1, "on_call", None),
        ("agent", A1, "not_ready", "break"),
        ("agent", A1, "ready", None),
        ("agent", A1, "logged_out", None),
    ]


def test_callback_agents_are_logged_in_and_out(tmp_path) -> None:
    got, _ = events_of(
        tmp_path,
        [
            row(0, "NONE", "NONE", "Agent/7", "AGENTCALLBACKLOGIN", "7@agents"),
            row(9, "NONE", "NONE", "Agent/7", "AGENTCALLBACKLOGOFF", "7@agents", 9, "Autologoff"),
        ],
    )
    assert [e[2] for e in got] == ["logged_in", "ready", "logged_out"]


def test_requeued_call_gets_a_second_leg(tmp_path) -> None:
    got, _ = events_of(
        tmp_path,
        [
            enter(0, "1.1"),
            row(5, "1.1", "yanglao", "NONE", "EXITWITHKEY", 1, 1, 1, 5),
            enter(6, "1.1", queue="yibao"),
            row(9, "1.1", "yibao", "NONE", "ABANDON", 1, 1, 3),
        ],
    )
    assert ("offered", "1.1-2") in got
    assert got[-1] == ("ended", "1.1-2", None, 0, "caller")


def test_informational_lines_give_no_events_and_are_not_bad(tmp_path) -> None:
    rows = [
        row(0, "NONE", "NONE", "NONE", "QUEUESTART", ""),
        row(0, "NONE", "NONE", "NONE", "CONFIGRELOAD", ""),
        row(1, "1.1", "yanglao", "NONE", "DID", "12333"),
        row(1, "1.1", "yanglao", "NONE", "INFO", "something"),
        row(2, "1.1", "yanglao", "PJSIP/8003", "SYSCOMPAT", ""),
        row(3, "1.1", "yanglao", "PJSIP/8003", "RINGCANCELED", 1000),
    ]
    got, summary = events_of(tmp_path, rows)
    assert got == []
    assert summary.bad == []
    assert summary.lines == 6


def test_asterisk_restart_forgets_calls_in_flight_and_frees_their_agents(tmp_path) -> None:
    agent = "PJSIP/8001"
    got, summary = events_of(
        tmp_path,
        [
            enter(0, "1.1"),
            row(12, "1.1", "yanglao", agent, "CONNECT", 12, "1.2", 3),
            row(20, "1.1", "yanglao", agent, "PAUSE", "lunch"),  # during the call: deferred
            enter(30, "2.1"),  # waiting in the queue
            # Asterisk crashes (no COMPLETE, no ABANDON) and restarts:
            row(60, "NONE", "NONE", "NONE", "QUEUESTART", ""),
            row(600, "NONE", "yanglao", agent, "UNPAUSE", ""),
            row(4300, "NONE", "yanglao", agent, "PAUSE", "training"),
            row(4400, "2.1", "yanglao", "NONE", "ABANDON", 1, 1, 5),  # of the old process
        ],
    )
    assert got == [
        *offered("1.1"),
        ("answered", "1.1", A1, 12),
        ("agent", A1, "on_call", None),
        *offered("2.1"),
        ("agent", A1, "not_ready", "break"),  # freed at QUEUESTART, with the pending pause
        ("agent", A1, "ready", None),
        ("agent", A1, "not_ready", "training"),
    ]  # no call.ended invented for 1.1 and 2.1: the streams close them at the call horizon
    assert [(b.line, b.reason) for b in summary.bad] == [(8, "ABANDON for an unknown call")]
    assert summary.warnings == {"call in flight at an Asterisk restart, left without an end": 2}
    assert any("2 call(s) in flight" in n and "C320100:2.1" in n for n in summary.notes)
    state = json.loads((tmp_path / "state.json").read_text())["translator"]
    assert state["calls"] == {}
    assert state["agents"][agent]["state"] == "not_ready"


def test_pause_of_an_agent_stuck_on_call_is_applied_and_counted(tmp_path) -> None:
    """A state saved on_call whose call is gone (before the QUEUESTART fix, or any lost end)."""
    agent = "PJSIP/8001"
    stale = {"agents": {agent: {"state": "on_call", "queues": [], "paused": None}}}
    translator = Translator(mapping(), HASHER, stale)
    drafts = translator.feed(parse_line(row(600, "NONE", "yanglao", agent, "PAUSE", "lunch"), TZ))
    assert [(d.fields["state"], d.fields["reason"]) for d in drafts] == [
        ("not_ready", NotReadyReason.BREAK)
    ]
    drafts = translator.feed(parse_line(row(700, "NONE", "yanglao", agent, "UNPAUSE", ""), TZ))
    assert [d.fields["state"] for d in drafts] == ["ready"]
    assert sum(translator.warnings.values()) == 1  # the second line found the state right


def test_parse_line_epoch_and_text_time() -> None:
    line = parse_line(f"{T0}|1.1|yanglao|NONE|ENTERQUEUE||17000001234|1", TZ)
    assert line.time == datetime.fromtimestamp(T0, UTC)
    assert line.data == ("", "17000001234", "1")
    text = parse_line("2025-03-03 08:30:00|1.1|q|NONE|ABANDON|1|1|5", TZ)
    assert text.time == datetime.fromtimestamp(T0, UTC)  # read in Asia/Shanghai


@pytest.mark.parametrize(
    "text",
    ["", "garbage", "1|2|3", "abc|1.1|q|NONE|CONNECT|1", f"{T0}|1.1|q|NONE|connect?|1"],
)
def test_parse_line_rejects(text) -> None:
    with pytest.raises(MalformedLine):
        parse_line(text, TZ)


@pytest.mark.parametrize(
    ("time", "why"),
    [
        ("2025-02-30 10:00:00", "day is out of range for month"),
        ("0000-00-00 00:00:00", "year 0 is out of range"),  # MySQL realtime export
        ("2025-03-03 10:00:60", "second must be in 0..59"),  # leap second
        ("2025-03-03 24:10:00", "hour must be in 0..23"),
        ("2025-13-01 10:00:00", "month must be in 1..12"),
        ("0001-01-01 00:00:00", ""),  # before the epoch in UTC (overflows in Asia/Shanghai)
        ("1969-12-31 23:00:00", "out of range"),
        ("9999-12-31 23:59:59", "out of range"),
        ("¹⁷⁴⁰⁹⁶¹⁸⁰⁰", "neither epoch"),  # superscript digits: str.isdigit() says yes
        ("１７４０９６１８００", "neither epoch"),  # full-width digits
        ("２０２５-０３-０３ １０:００:００", "neither epoch"),
        ("1" * 400, "out of range"),
        ("0", "out of range"),
        ("4294967296", "out of range"),
    ],
)
def test_parse_line_impossible_times_are_malformed(time, why) -> None:
    with pytest.raises(MalformedLine, match=f"^bad time: .*{why}"):
        parse_line(f"{time}|1.1|q|NONE|ABANDON|1|1|5", TZ)


def test_translator_state_round_trips_as_json() -> None:
    import json

    translator = Translator(mapping(), HASHER)
    translator.feed(parse_line(enter(0, "1.1"), TZ))
    translator.feed(parse_line(row(1, "NONE", "yanglao", "PJSIP/8001", "PAUSE", "lunch"), TZ))
    state = json.loads(json.dumps(translator.snapshot()))
    again = Translator(mapping(), HASHER, state)
    drafts = again.feed(parse_line(row(5, "1.1", "yanglao", "NONE", "ABANDON", 1, 1, 5), TZ))
    assert [d.model.RECORD_TYPE for d in drafts] == ["call.abandoned", "call.ended"]
    assert again.agents["PJSIP/8001"]["paused"] == NotReadyReason.BREAK.value
    with pytest.raises(Uninterpretable, match="unknown call"):
        again.feed(parse_line(row(6, "1.1", "yanglao", "PJSIP/8001", "CONNECT", 1, "x", 1), TZ))


def test_pause_reason_mapping() -> None:
    m = mapping()
    assert m.pause_reason("午餐") is NotReadyReason.BREAK
    assert m.pause_reason("TEAM-HUDDLE") is NotReadyReason.TRAINING  # file entry, any case
    assert m.pause_reason("after call work") is NotReadyReason.ACW  # built-in keyword
    assert m.pause_reason("") is NotReadyReason.OTHER
    assert m.pause_reason("smoking") is NotReadyReason.OTHER


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (  # /tmp/rv/map2.toml: a typo (letter O for zero) in center_id
            'center_id = "C32O100"\nregion_code = "320102"\n',
            "center_id 'C32O100' is not a center of the registry; region_code 320102 is "
            "served by C320100",
        ),
        (  # a Nanjing mapping with a Ningbo default region
            'center_id = "C320100"\nregion_code = "330203"\n',
            "region_code 330203 is served by C330200, not by C320100",
        ),
        (  # a queue's region in Beijing
            'region_code = "320100"\n[queues.yanglao]\nbusiness_line = "pension"\n'
            'region_code = "110101"\n',
            "queues.yanglao.region_code 110101 is served by C110000, not by C320100",
        ),
    ],
    ids=["center-typo", "default-region-elsewhere", "queue-region-elsewhere"],
)
def test_mapping_center_and_regions_are_checked(tmp_path, toml, message) -> None:
    from hotline.errors import ConfigurationError
    from hotline.producers.queue_log import load_mapping

    path = tmp_path / "map.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_mapping(path)


def test_mapping_with_a_district_of_its_city_loads(tmp_path) -> None:
    from hotline.producers.queue_log import load_mapping

    path = tmp_path / "map.toml"
    path.write_text(
        'center_id = "C320100"\nregion_code = "320100"\n'
        '[queues.laodong]\nbusiness_line = "labour_relations"\nregion_code = "320102"\n',
        encoding="utf-8",
    )
    assert load_mapping(path).center == "C320100"
