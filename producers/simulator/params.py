"""The simulator's model parameters, each with its source.

Figures from DOMAIN.md ("published figures") anchor the model; the rest are common
contact-center shapes, chosen so that a *healthy* center lands near the published local
targets (connection rate ≥ 97 %, satisfaction ≥ 96 %) and the other profiles fail the way the
national quality report describes. docs/simulator.md lists them in one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from hotline.schemas import BusinessLine, Channel, SelfServiceKind, TicketCategory


class Profile(StrEnum):
    """How a simulated center behaves."""

    HEALTHY = "healthy"
    UNDERSTAFFED = "understaffed"
    NO_HUMAN_SERVICE = "no_human_service"
    UNSTAFFED_LINE = "unstaffed_line"
    RECORDINGS_ONLY = "recordings_only"
    ROUTED_TO_12345 = "routed_to_12345"


@dataclass(frozen=True, slots=True)
class ProfileParams:
    """What a profile changes; everything else is shared."""

    #: Share of the center's agents that log in during human-service hours.
    staffing: float
    #: Human service is advertised (callers who ask for a person are queued in hours).
    human_service: bool
    #: The IVR offers self-service look-ups (False: recordings only).
    self_service: bool
    #: Callers who ask for a person are handed to the 12345 platform at the IVR.
    routed_to_12345: bool = False
    #: Probability that the agent waits for the caller to hang up first.
    caller_first: float = 0.93
    #: Median ticket resolution as a share of the time allowed (> 1 means mostly overdue).
    ticket_resolution_ratio: float = 0.5


PROFILES: dict[Profile, ProfileParams] = {
    Profile.HEALTHY: ProfileParams(1.0, True, True),
    Profile.UNDERSTAFFED: ProfileParams(
        0.45, True, True, caller_first=0.8, ticket_resolution_ratio=0.85
    ),
    Profile.NO_HUMAN_SERVICE: ProfileParams(0.0, False, True),
    Profile.UNSTAFFED_LINE: ProfileParams(0.0, True, True),
    Profile.RECORDINGS_ONLY: ProfileParams(0.0, False, False),
    Profile.ROUTED_TO_12345: ProfileParams(0.0, False, True, routed_to_12345=True),
}

#: Default mix of profiles over all centers when none is chosen: 319 of 366 city-level units
#: had 12333 running (DOMAIN.md), and the national report names unreachable centers.
DEFAULT_PROFILE_MIX: dict[Profile, float] = {
    Profile.HEALTHY: 0.80,
    Profile.UNDERSTAFFED: 0.08,
    Profile.UNSTAFFED_LINE: 0.04,
    Profile.NO_HUMAN_SERVICE: 0.03,
    Profile.RECORDINGS_ONLY: 0.02,
    Profile.ROUTED_TO_12345: 0.03,
}

# -- demand -----------------------------------------------------------------------------------

#: Calls asking for a person per staffed agent on an average working day. Published: Ningbo
#: 100+ calls per agent per day at 20 agents; nationally 70 M calls a year over 4,000+ agents
#: (≈ 70 per agent per working day, IVR included). 60 keeps a healthy center near the targets.
AGENT_REQUESTS_PER_AGENT_DAY = 60.0
#: Share of callers who end in IVR self-service (when the IVR offers it).
SELF_SERVICE_SHARE = 0.40
#: Share of callers who withhold their number (no caller id, never a repeat).
WITHHELD_SHARE = 0.02
#: Relative volume by weekday (Mon..Fri) on working days; non-working days use WEEKEND_FACTOR.
WEEKDAY_FACTORS = (1.15, 1.05, 1.0, 0.97, 0.9)
WEEKEND_FACTOR = 0.3
#: Relative arrival intensity per local hour (0..23): mid-morning and early-afternoon peaks,
#: lunch dip, low nights (the IVR answers 24 h).
HOURLY_SHAPE = (
    0.15, 0.08, 0.05, 0.05, 0.05, 0.1, 0.4, 1.5,
    4.5, 8.5, 10.0, 8.0, 4.0, 5.5, 8.5, 8.0,
    7.0, 4.5, 2.0, 1.6, 1.3, 0.9, 0.5, 0.25,
)  # fmt: skip
#: Minutes per constant-rate slot of the non-homogeneous Poisson process.
SLOT_MINUTES = 15

#: Human-service windows (local time, working days): morning and afternoon variants.
MORNING_WINDOWS = ((time(8, 30), time(12, 0)), (time(9, 0), time(12, 0)))
AFTERNOON_WINDOWS = (
    (time(13, 0), time(17, 0)),
    (time(13, 30), time(17, 30)),
    (time(14, 0), time(18, 0)),
)
#: Agents stay after a window closes while callers are still queued, at most this long.
DRAIN_SECONDS = 15 * 60
#: Agents log in up to this long before a window opens (and up to 1 min after).
EARLY_LOGIN_SECONDS = 5 * 60
#: Windows given with ``--service-hours`` are this far apart (or touch): an agent who drains
#: the queue and finishes a call is logged out before the next window's login.
MIN_WINDOW_GAP_MINUTES = 60
#: In a long window (round the clock) an agent takes one break per this much time.
BREAK_EVERY_SECONDS = 4 * 3600

# -- mixes ------------------------------------------------------------------------------------

CHANNEL_MIX: dict[Channel, float] = {
    Channel.PHONE: 0.92,
    Channel.WECHAT: 0.03,
    Channel.MOBILE_APP: 0.025,
    Channel.WEB_PORTAL: 0.015,
    Channel.KIOSK: 0.005,
    Channel.SMS: 0.005,
}
BUSINESS_LINE_MIX: dict[BusinessLine, float] = {
    BusinessLine.PENSION: 0.24,
    BusinessLine.MEDICAL: 0.22,
    BusinessLine.SOCIAL_SECURITY_CARD: 0.10,
    BusinessLine.LABOUR_RELATIONS: 0.10,
    BusinessLine.EMPLOYMENT: 0.08,
    BusinessLine.UNEMPLOYMENT: 0.06,
    BusinessLine.WORK_INJURY: 0.05,
    BusinessLine.MATERNITY: 0.03,
    BusinessLine.LABOUR_INSPECTION: 0.03,
    BusinessLine.ARBITRATION: 0.02,
    BusinessLine.PERSONNEL_EXAM: 0.04,
    BusinessLine.OTHER: 0.03,
}
SELF_SERVICE_MIX: dict[SelfServiceKind, float] = {
    SelfServiceKind.PENSION_ACCOUNT: 0.30,
    SelfServiceKind.MEDICAL_ACCOUNT: 0.30,
    SelfServiceKind.LOST_CARD_REPORT: 0.12,
    SelfServiceKind.UNEMPLOYMENT_ACCOUNT: 0.06,
    SelfServiceKind.WORK_INJURY_ACCOUNT: 0.04,
    SelfServiceKind.MATERNITY_ACCOUNT: 0.04,
    SelfServiceKind.POLICY_RECORDING: 0.10,
    SelfServiceKind.OTHER: 0.04,
}

# -- durations (log-normal: median seconds, sigma) ---------------------------------------------

IVR_SECONDS = (35.0, 0.5)
#: "~3 minutes a call" (Shanghai, DOMAIN.md): median 150 s, sigma 0.55 → mean ≈ 174 s.
TALK_SECONDS = (150.0, 0.55)
HOLD_SHARE = 0.22
HOLD_SECONDS = (35.0, 0.6)
ACW_SECONDS = (20.0, 0.6)
ACW_TICKET_EXTRA_SECONDS = 45.0
#: Caller patience in the queue: mostly log-normal, plus a few very impatient callers.
PATIENCE_SECONDS = (75.0, 0.9)
IMPATIENT_SHARE = 0.04
IMPATIENT_MAX_SECONDS = 8.0
#: The ACD drops a caller after this long in the queue ("please call again later").
MAX_QUEUE_SECONDS = 300.0
#: Recording played to callers asking for a person when no human service is available.
CLOSED_RECORDING_SECONDS = 20.0

#: Callers who were not served try again with this probability, after a log-normal delay.
RETRY_SHARE = 0.45
RETRY_DELAY_SECONDS = (900.0, 1.0)

TRANSFER_SHARE = 0.045
TRANSFER_TARGETS = {
    "supervisor": 0.30,
    "expert_seat": 0.35,
    "other_department": 0.25,
    "platform_12345": 0.10,
}

# -- survey, tickets, dangerous calls, QA ------------------------------------------------------

SURVEY_RESPONSE_SHARE = 0.45
#: Satisfaction falls with the wait: P(dissatisfied) = base + slope·min(1, wait/120 s).
DISSATISFIED_BASE, DISSATISFIED_SLOPE = 0.012, 0.12
BASIC_BASE, BASIC_SLOPE = 0.09, 0.10
TRANSFER_DISSATISFIED_EXTRA = 0.05

TICKET_SHARE = 0.06
TICKET_MIX: dict[TicketCategory, float] = {
    TicketCategory.CALLBACK: 0.45,
    TicketCategory.BUSINESS_REQUEST: 0.30,
    TicketCategory.COMPLAINT: 0.12,
    TicketCategory.REPORT: 0.06,
    TicketCategory.SUGGESTION: 0.07,
}
#: Working days allowed per category (complaint: 2 working days, DOMAIN.md).
TICKET_DUE_WORKDAYS: dict[TicketCategory, int] = {
    TicketCategory.CALLBACK: 1,
    TicketCategory.COMPLAINT: 2,
    TicketCategory.BUSINESS_REQUEST: 3,
    TicketCategory.REPORT: 5,
    TicketCategory.SUGGESTION: 5,
}
#: A dangerous call must be called back within hours, not working days.
DANGEROUS_DUE_SECONDS = 2 * 3600
DANGEROUS_SHARE = 1 / 4000
TICKET_RESOLUTION_SIGMA = 0.6
TICKET_REOPEN_SHARE = 0.02
#: Share of answered calls that internal QA scores later the same day.
QA_SHARE = 0.02
