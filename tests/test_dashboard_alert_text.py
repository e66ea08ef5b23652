"""Alert messages in Chinese on the dashboards (``dashboards/alert_text.py``): every template
of the stream's rules, as the rules themselves write it, is rewritten — a template changed in
streams/alerts.py without its Chinese fails here, instead of showing English on the page."""

from __future__ import annotations

import re
from datetime import timedelta

from test_streams_alerts import (
    MIN,
    T0,
    _gap,
    _ms,
    _ticket_alerts,
    call,
    created,
    engine,
)
from test_streams_service_hours import _calls, _engine, _unreachable

from hotline.dashboards.alert_text import in_chinese
from hotline.schemas import Alert, TicketCategory
from hotline.streams.alerts import gap_record
from hotline.streams.config import StreamsConfig
from hotline.streams.tickets import TicketBook


def _call_rules() -> list[Alert]:
    """Two callers a minute wait in vain for 20 min, then nothing for 40 min, then calls
    again: unreachable, both rates, the silence and its span."""
    e = engine(settle=timedelta(0), rate_min_queued=20)
    out = []
    for minute in range(62):
        calls = [call("C330200", minute, answered=False) for _ in range(2)]
        e.add_records(calls if not 20 <= minute < 60 else [])
        out += e.evaluate(T0 + (minute + 1) * MIN)
    return out


def _service_hours_rules() -> list[Alert]:
    """A center with service hours silent for 40 min in them, then calls again."""
    return _unreachable(_engine(), range(50), _calls(range(10), range(40, 50)))


def _other_rules() -> list[Alert]:
    """A dead-letter spike, sequence gaps (episode and record), a dangerous call and a
    complaint's warning and miss."""
    e = engine(dead_letters_per_minute=5)
    for i in range(8):
        e.add_dead_letter(f"t:0:{i}", _ms(T0) + i * 1000)
    out = e.evaluate_dead_letters(_ms(T0) + 71_000)
    out += e.add_gaps([_gap(T0, 5)])
    out.append(gap_record(_gap(T0, 5, 3), "330200"))
    config = StreamsConfig()
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    due = T0 + timedelta(days=2)
    book.add(created("d5", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2)))
    book.add(created("c5", TicketCategory.COMPLAINT, T0, due))
    for now in (T0, due - timedelta(hours=3), due + MIN):
        out += _ticket_alerts(e, book, now)
    return out


def test_every_message_the_rules_write_reads_in_chinese() -> None:
    alerts = _call_rules() + _service_hours_rules() + _other_rules()
    shown = {a.message: in_chinese(a.message) for a in alerts}
    assert shown == {
        "center C330200: 20 calls queued and none answered in 10 min": (
            "中心 C330200：10 分钟内 20 个来电排队，无一接通"
        ),
        "connection rate below 90.0% over 15 min in 330000 (20 queued)": (
            "接通率低于 90.0%（330000，近 15 分钟，排队 20 个）"
        ),
        "service level below 80.0% over 15 min in 330000 (20 queued)": (
            "服务水平低于 80.0%（330000，近 15 分钟，排队 20 个）"
        ),
        "center C330200: unreachable, then no calls seen since 2025-03-04 09:20 (China time)": (
            "中心 C330200：无法接通，此后自 2025-03-04 09:20 起未收到其来电"
        ),
        "center C330200: unreachable, then no calls seen from 2025-03-04 09:20 to 2025-03-04 "
        "10:00 (China time)": "中心 C330200：无法接通，2025-03-04 09:20 至 2025-03-04 10:00 "
        "未收到其来电",
        "center C330200: no calls seen since 2025-03-04 09:10 (China time), in its service "
        "hours": "中心 C330200：服务时间内自 2025-03-04 09:10 起未收到其来电",
        "center C330200: no calls seen from 2025-03-04 09:10 to 2025-03-04 09:40 (China time), "
        "in its service hours": "中心 C330200：服务时间内 2025-03-04 09:10 至 2025-03-04 09:40 "
        "未收到其来电",
        "dead letters: more than 5 a minute in 330000": "死信过多：330000 每分钟超过 5 条",
        "producer p9: 1 event(s) lost (sequence gaps)": "数据源 p9：丢失 1 条事件（序号缺口）",
        "producer p9: 3 event(s) missing (sequence 5..7)": "数据源 p9：缺少 3 条事件（序号 5–7）",
        "dangerous call: ticket d5 needs escalation and a call back by 2025-03-04 11:00": (
            "危险电话：工单 d5 须升级处置，并于 2025-03-04 11:00 前回电"
        ),
        "complaint ticket c5: less than 4 working hours left (due 2025-03-06 09:00)": (
            "投诉工单 c5：距办结期限 2025-03-06 09:00 不足 4 个工作小时"
        ),
        "complaint ticket c5 missed its due time 2025-03-06 09:00": (
            "投诉工单 c5 已超过办结期限 2025-03-06 09:00"
        ),
    }
    assert not [text for text in shown.values() if re.search(r"[a-z]{3,}", text)]


def test_a_message_of_no_known_template_is_shown_as_written() -> None:
    assert in_chinese("a rule of a newer worker: 3 things") == "a rule of a newer worker: 3 things"
    assert in_chinese("") == ""
