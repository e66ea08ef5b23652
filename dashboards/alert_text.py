"""Alert messages in Chinese for the dashboards' readers.

The stream worker writes each alert's ``message`` in English, one template per rule
(streams/alerts.py; docs/streams.md, "Alerts"), and ClickHouse keeps it so. The alerts page
and its CSV show :func:`in_chinese` of it: a known template rewritten with the same figures,
ids and China times; any other text (a template this version does not know) as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .labels import TICKET_CATEGORIES

__all__ = ["in_chinese"]

_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"
_RATES = {"connection rate": "接通率", "service level": "服务水平"}


def _category(name: str) -> str:
    return TICKET_CATEGORIES.get(name, name)


_TEMPLATES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"center (\S+): (\d+) calls queued and none answered in (\d+) min"),
        lambda m: f"中心 {m[1]}：{m[3]} 分钟内 {m[2]} 个来电排队，无一接通",
    ),
    (
        re.compile(
            rf"center (\S+): unreachable, then no calls seen since ({_TIME}) \(China time\)"
        ),
        lambda m: f"中心 {m[1]}：无法接通，此后自 {m[2]} 起未收到其来电",
    ),
    (
        re.compile(
            rf"center (\S+): unreachable, then no calls seen from ({_TIME}) to ({_TIME}) "
            r"\(China time\)"
        ),
        lambda m: f"中心 {m[1]}：无法接通，{m[2]} 至 {m[3]} 未收到其来电",
    ),
    (
        re.compile(
            rf"center (\S+): no calls seen since ({_TIME}) \(China time\), in its service hours"
        ),
        lambda m: f"中心 {m[1]}：服务时间内自 {m[2]} 起未收到其来电",
    ),
    (
        re.compile(
            rf"center (\S+): no calls seen from ({_TIME}) to ({_TIME}) \(China time\), "
            r"in its service hours"
        ),
        lambda m: f"中心 {m[1]}：服务时间内 {m[2]} 至 {m[3]} 未收到其来电",
    ),
    (
        re.compile(
            r"(connection rate|service level) below ([\d.]+%) over (\d+) min in (\S+) "
            r"\((\d+) queued\)"
        ),
        lambda m: f"{_RATES[m[1]]}低于 {m[2]}（{m[4]}，近 {m[3]} 分钟，排队 {m[5]} 个）",
    ),
    (
        re.compile(
            r"dangerous call: ticket (\S+) needs escalation and a call back by "
            rf"({_TIME})"
        ),
        lambda m: f"危险电话：工单 {m[1]} 须升级处置，并于 {m[2]} 前回电",
    ),
    (
        re.compile(rf"(\w+) ticket (\S+) missed its due time ({_TIME})"),
        lambda m: f"{_category(m[1])}工单 {m[2]} 已超过办结期限 {m[3]}",
    ),
    (
        re.compile(rf"(\w+) ticket (\S+): less than ([\d.]+) working hours left \(due ({_TIME})\)"),
        lambda m: f"{_category(m[1])}工单 {m[2]}：距办结期限 {m[4]} 不足 {m[3]} 个工作小时",
    ),
    (
        re.compile(r"producer (\S+): (\d+) event\(s\) lost \(sequence gaps\)"),
        lambda m: f"数据源 {m[1]}：丢失 {m[2]} 条事件（序号缺口）",
    ),
    (
        re.compile(r"producer (\S+): (\d+) event\(s\) missing \(sequence (\d+)\.\.(\d+)\)"),
        lambda m: f"数据源 {m[1]}：缺少 {m[2]} 条事件（序号 {m[3]}–{m[4]}）",
    ),
    (
        re.compile(r"dead letters: more than (\d+) a minute in (\S+)"),
        lambda m: f"死信过多：{m[2]} 每分钟超过 {m[1]} 条",
    ),
]


def in_chinese(message: str) -> str:
    """``message`` (an alert's, as the stream wrote it) in Chinese, or as written when it
    matches no known template."""
    for pattern, render in _TEMPLATES:
        if (match := pattern.fullmatch(message)) is not None:
            return render(match)
    return message
