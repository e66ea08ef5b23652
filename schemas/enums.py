"""The closed vocabularies of the event contracts.

Every enum here is also an Avro enum (``schemas/avro/cn.hotline.events.<Name>.avsc``) with
exactly the same symbols, in the same order; a test keeps the two in step. Values are the Avro
symbols themselves, so a decoded dict (plain ``str``) compares equal to the member.
Chinese names, for UI and docs, are in :data:`CHINESE_NAMES` and docs/events.md.

Append new symbols at the end and give the Avro enum a ``default`` before relying on old
readers: an Avro reader fails on a symbol it does not know unless the enum has a default.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How the caller reached 12333."""

    PHONE = "phone"
    WEB_PORTAL = "web_portal"
    SMS = "sms"
    WECHAT = "wechat"
    MOBILE_APP = "mobile_app"
    KIOSK = "kiosk"


class BusinessLine(StrEnum):
    """The queue (skill) a caller asks for; also the subject of a ticket."""

    PENSION = "pension"
    MEDICAL = "medical"
    WORK_INJURY = "work_injury"
    UNEMPLOYMENT = "unemployment"
    MATERNITY = "maternity"
    EMPLOYMENT = "employment"
    LABOUR_RELATIONS = "labour_relations"
    LABOUR_INSPECTION = "labour_inspection"
    ARBITRATION = "arbitration"
    PERSONNEL_EXAM = "personnel_exam"
    SOCIAL_SECURITY_CARD = "social_security_card"
    OTHER = "other"


class IvrOutcome(StrEnum):
    """How the IVR part of a call ended."""

    SELF_SERVED = "self_served"
    AGENT_REQUESTED = "agent_requested"


class SelfServiceKind(StrEnum):
    """What the caller did in the IVR self-service menu."""

    PENSION_ACCOUNT = "pension_account"
    MEDICAL_ACCOUNT = "medical_account"
    WORK_INJURY_ACCOUNT = "work_injury_account"
    UNEMPLOYMENT_ACCOUNT = "unemployment_account"
    MATERNITY_ACCOUNT = "maternity_account"
    LOST_CARD_REPORT = "lost_card_report"
    POLICY_RECORDING = "policy_recording"
    OTHER = "other"


class TransferTarget(StrEnum):
    """Where an agent transferred a call."""

    SUPERVISOR = "supervisor"
    EXPERT_SEAT = "expert_seat"
    OTHER_DEPARTMENT = "other_department"
    PLATFORM_12345 = "platform_12345"


class HungUpBy(StrEnum):
    """Which side ended the call."""

    CALLER = "caller"
    AGENT = "agent"
    SYSTEM = "system"


class SurveyResult(StrEnum):
    """The post-call satisfaction survey answer."""

    SATISFIED = "satisfied"
    BASIC = "basic"
    DISSATISFIED = "dissatisfied"


class TicketCategory(StrEnum):
    """Why a ticket was opened."""

    CALLBACK = "callback"
    COMPLAINT = "complaint"
    REPORT = "report"
    SUGGESTION = "suggestion"
    BUSINESS_REQUEST = "business_request"
    DANGEROUS_CALL = "dangerous_call"


class TicketStatus(StrEnum):
    """The latest lifecycle state of a ticket (one per ticket event type)."""

    CREATED = "created"
    ASSIGNED = "assigned"
    CALLBACK_MADE = "callback_made"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


class AgentState(StrEnum):
    """An agent's state at the ACD."""

    LOGGED_IN = "logged_in"
    READY = "ready"
    NOT_READY = "not_ready"
    ON_CALL = "on_call"
    LOGGED_OUT = "logged_out"


class NotReadyReason(StrEnum):
    """Why an agent is not ready (置忙)."""

    BREAK = "break"
    TRAINING = "training"
    ACW = "acw"
    OTHER = "other"


class QaKind(StrEnum):
    """Who scored a call."""

    MYSTERY_SHOPPER = "mystery_shopper"
    INTERNAL = "internal"


class Level(StrEnum):
    """The administrative level a metric snapshot is aggregated to."""

    COUNTY = "county"
    CITY = "city"
    PROVINCE = "province"
    NATIONAL = "national"


class AlertKind(StrEnum):
    """What an alert is about."""

    THRESHOLD = "threshold"
    CENTER_UNREACHABLE = "center_unreachable"
    DANGEROUS_CALL = "dangerous_call"
    TICKET_OVERDUE = "ticket_overdue"
    SEQUENCE_GAP = "sequence_gap"


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class DeadLetterReason(StrEnum):
    """Why a message went to the dead-letter topic."""

    UNDECODABLE = "undecodable"
    INVALID = "invalid"
    PROCESSING_FAILED = "processing_failed"
    LATE = "late"
    """Beyond the lateness horizon (its call or bucket was already closed)."""
    ORPHAN = "orphan"
    """A call's events whose ``call.offered`` never came within the call horizon."""


CHINESE_NAMES: dict[StrEnum, str] = {
    Channel.PHONE: "电话",
    Channel.WEB_PORTAL: "门户网站",
    Channel.SMS: "短信",
    Channel.WECHAT: "微信公众号",
    Channel.MOBILE_APP: "手机App",
    Channel.KIOSK: "自助终端",
    BusinessLine.PENSION: "养老保险",
    BusinessLine.MEDICAL: "医疗保险",
    BusinessLine.WORK_INJURY: "工伤保险",
    BusinessLine.UNEMPLOYMENT: "失业保险",
    BusinessLine.MATERNITY: "生育保险",
    BusinessLine.EMPLOYMENT: "就业创业",
    BusinessLine.LABOUR_RELATIONS: "劳动关系（工资、劳动合同）",
    BusinessLine.LABOUR_INSPECTION: "劳动保障监察",
    BusinessLine.ARBITRATION: "劳动人事争议仲裁",
    BusinessLine.PERSONNEL_EXAM: "人事考试",
    BusinessLine.SOCIAL_SECURITY_CARD: "社会保障卡",
    BusinessLine.OTHER: "其他",
    IvrOutcome.SELF_SERVED: "自助服务完成",
    IvrOutcome.AGENT_REQUESTED: "转人工",
    SelfServiceKind.PENSION_ACCOUNT: "养老保险账户查询",
    SelfServiceKind.MEDICAL_ACCOUNT: "医疗保险账户查询",
    SelfServiceKind.WORK_INJURY_ACCOUNT: "工伤保险查询",
    SelfServiceKind.UNEMPLOYMENT_ACCOUNT: "失业保险查询",
    SelfServiceKind.MATERNITY_ACCOUNT: "生育保险查询",
    SelfServiceKind.LOST_CARD_REPORT: "社保卡挂失",
    SelfServiceKind.POLICY_RECORDING: "政策语音播报",
    SelfServiceKind.OTHER: "其他自助服务",
    TransferTarget.SUPERVISOR: "监理",
    TransferTarget.EXPERT_SEAT: "专家座席",
    TransferTarget.OTHER_DEPARTMENT: "其他部门",
    TransferTarget.PLATFORM_12345: "12345政务服务便民热线",
    HungUpBy.CALLER: "来电人挂机",
    HungUpBy.AGENT: "咨询员挂机",
    HungUpBy.SYSTEM: "系统挂断",
    SurveyResult.SATISFIED: "满意",
    SurveyResult.BASIC: "基本满意",
    SurveyResult.DISSATISFIED: "不满意",
    TicketCategory.CALLBACK: "待回复（承诺回电）",
    TicketCategory.COMPLAINT: "投诉",
    TicketCategory.REPORT: "举报",
    TicketCategory.SUGGESTION: "建议",
    TicketCategory.BUSINESS_REQUEST: "业务办理（工单流转）",
    TicketCategory.DANGEROUS_CALL: "危险电话",
    TicketStatus.CREATED: "已创建",
    TicketStatus.ASSIGNED: "已派发/流转",
    TicketStatus.CALLBACK_MADE: "已回电",
    TicketStatus.RESOLVED: "已办结",
    TicketStatus.REOPENED: "重新打开",
    TicketStatus.CLOSED: "已关闭",
    AgentState.LOGGED_IN: "签入",
    AgentState.READY: "就绪",
    AgentState.NOT_READY: "置忙",
    AgentState.ON_CALL: "通话中",
    AgentState.LOGGED_OUT: "签出",
    NotReadyReason.BREAK: "小休",
    NotReadyReason.TRAINING: "培训",
    NotReadyReason.ACW: "话后处理",
    NotReadyReason.OTHER: "其他",
    QaKind.MYSTERY_SHOPPER: "神秘顾客",
    QaKind.INTERNAL: "内部质检",
    Level.COUNTY: "县/区",
    Level.CITY: "地市",
    Level.PROVINCE: "省",
    Level.NATIONAL: "全国",
    AlertKind.THRESHOLD: "指标越限",
    AlertKind.CENTER_UNREACHABLE: "中心无法接通",
    AlertKind.DANGEROUS_CALL: "危险电话",
    AlertKind.TICKET_OVERDUE: "工单超期",
    AlertKind.SEQUENCE_GAP: "事件缺失（序号断档）",
    Severity.INFO: "提示",
    Severity.WARNING: "警告",
    Severity.CRITICAL: "严重",
    DeadLetterReason.UNDECODABLE: "无法解码",
    DeadLetterReason.INVALID: "校验失败",
    DeadLetterReason.PROCESSING_FAILED: "处理失败",
    DeadLetterReason.LATE: "迟到",
    DeadLetterReason.ORPHAN: "孤立事件",
}

ALL_ENUMS: tuple[type[StrEnum], ...] = (
    Channel,
    BusinessLine,
    IvrOutcome,
    SelfServiceKind,
    TransferTarget,
    HungUpBy,
    SurveyResult,
    TicketCategory,
    TicketStatus,
    AgentState,
    NotReadyReason,
    QaKind,
    Level,
    AlertKind,
    Severity,
    DeadLetterReason,
)
