"""Chinese names of the codes the dashboards show (business lines, ticket categories …)."""

from __future__ import annotations

BUSINESS_LINES = {
    "pension": "养老保险",
    "medical": "医疗保险",
    "work_injury": "工伤保险",
    "unemployment": "失业保险",
    "maternity": "生育保险",
    "employment": "就业",
    "labour_relations": "劳动关系",
    "labour_inspection": "劳动监察",
    "arbitration": "劳动仲裁",
    "personnel_exam": "人事考试",
    "social_security_card": "社保卡",
    "other": "其他",
    "": "未转人工",
}

TICKET_CATEGORIES = {
    "callback": "待回电",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "business_request": "业务流转",
    "dangerous_call": "危险电话",
}

TICKET_STATUSES = {
    "created": "已创建",
    "assigned": "已派单",
    "callback_made": "已回电",
    "resolved": "已办结",
    "reopened": "重新打开",
    "closed": "已关闭",
}

ALERT_KINDS = {
    "threshold": "指标越限",
    "center_unreachable": "中心无法接通",
    "dangerous_call": "危险电话",
    "ticket_overdue": "工单超期",
    "sequence_gap": "事件缺失",
}

SEVERITIES = {"info": "提示", "warning": "警告", "critical": "严重"}

AGENT_STATES = {
    "logged_in": "已登录",
    "ready": "就绪",
    "not_ready": "置忙",
    "on_call": "通话中",
    "logged_out": "已登出",
}

NOT_READY_REASONS = {
    "break": "休息",
    "training": "培训",
    "acw": "话后处理",
    "other": "其他",
    "": "",
}

LEVELS = {"national": "全国", "province": "省", "city": "地市", "county": "县/区"}


def own_level_name(level: str, municipal: bool) -> str:
    """The name of a province's or city's own row among its children (the roll-up writes a
    province's own calls as a city-level row of the province code, and a city's own calls as a
    county-level row of the city code: streams/rollup.py, ``region_at``).

    ``省本级`` for a province (its provincial-level center's calls, DOMAIN.md), ``市本级`` for a
    municipality (北京、天津、上海、重庆 are cities) and for a city; ``本级`` for a
    municipality's city-level units (市辖区, 重庆's 县), which are not cities of their own.
    """
    if level == "province":
        return "市本级" if municipal else "省本级"
    return "本级" if municipal else "市本级"


def label(mapping: dict[str, str], code: str) -> str:
    """The Chinese name of ``code``, or the code itself when it has none."""
    return mapping.get(code, code)
