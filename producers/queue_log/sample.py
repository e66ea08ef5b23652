"""A realistic, synthetic Asterisk queue_log for one 12333 center (``hotline ingest
queue-log-sample``), covering every event type the adapter knows (docs/queue_log.md).

One working morning of a city center (南京 320100 by default): agents log in (AGENTLOGIN,
AGENTCALLBACKLOGIN, ADDMEMBER), calls arrive (DID, ENTERQUEUE) and are answered (CONNECT,
with RINGNOANSWER / RINGCANCELED / SYSCOMPAT before some), completed (COMPLETECALLER,
COMPLETEAGENT), transferred (BLINDTRANSFER, ATTENDEDTRANSFER BRIDGE/APP/LINK, TRANSFER) or
lost (ABANDON, EXITWITHTIMEOUT, EXITWITHKEY, EXITEMPTY); agents pause with reasons (PAUSE,
PAUSEALL, UNPAUSE, UNPAUSEALL) and log off (AGENTLOGOFF, AGENTCALLBACKLOGOFF, REMOVEMEMBER).
QUEUESTART, CONFIGRELOAD and INFO appear too.

**Caller numbers are synthetic**: mobiles ``1700000`` + 4 digits (170-0000-xxxx, a block no
real subscriber has in this sample's sense: all zeros after the prefix, chosen to be obviously
fake) and landlines ``025-5550-xxxx`` (the "555" fiction convention), plus withheld numbers.
They are valid per libphonenumber so they hash like real ones; they are hashed anyway.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = ["SAMPLE_MAPPING", "SampleStats", "generate_sample", "write_sample"]

#: The mapping file that goes with the sample (also shown in docs/queue_log.md).
SAMPLE_MAPPING = """\
# queue_log mapping for the generated sample (南京 12333, synthetic)
region_code = "320100"
center_id = "C320100"
timezone = "Asia/Shanghai"
area_code = "025"
default_business_line = "other"

[queues.yanglao]
business_line = "pension"
[queues.yibao]
business_line = "medical"
[queues.gongshang]
business_line = "work_injury"
[queues.shiye]
business_line = "unemployment"
[queues.shebaoka]
business_line = "social_security_card"
[queues.laodong]
business_line = "labour_relations"
region_code = "320102"
[queues.kaoshi]
business_line = "personnel_exam"

[pause_reasons]
"午餐" = "break"
"业务培训" = "training"
"话后整理" = "acw"
"team-huddle" = "training"

[transfers]
default = "other_department"
attended = "supervisor"
extensions = { "12345" = "platform_12345", "8000" = "supervisor" }
contexts = { "experts" = "expert_seat" }
"""

QUEUES = ("yanglao", "yibao", "gongshang", "shiye", "shebaoka", "laodong")
QUEUE_WEIGHTS = (35, 25, 8, 10, 14, 8)
AGENTS = ("PJSIP/8001", "PJSIP/8002", "PJSIP/8003", "PJSIP/8004", "PJSIP/8005")
PAUSE_TEXTS = ("午餐", "业务培训", "话后整理", "team-huddle", "toilet", "")
#: Outcomes forced on the first calls so that every event type occurs, then drawn at random.
FORCED = (
    "complete_caller",
    "complete_agent",
    "abandon",
    "timeout",
    "exit_key",
    "exit_empty",
    "ring_no_answer",
    "ring_canceled",
    "syscompat",
    "blind",
    "attended_bridge",
    "attended_app",
    "attended_link",
    "transfer",
)
RANDOM = (("complete_caller", 70), ("complete_agent", 8), ("abandon", 10), ("blind", 3))
RANDOM += (("ring_no_answer", 5), ("timeout", 1), ("exit_key", 1), ("transfer", 2))


@dataclass
class SampleStats:
    """What the generator wrote."""

    lines: int = 0
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class _Log:
    def __init__(self) -> None:
        self.rows: list[tuple[float, int, str]] = []

    def add(self, t: float, callid: str, queue: str, agent: str, event: str, *data: object):
        # Asterisk writes the data part even when empty: "…|QUEUESTART|".
        fields = [str(int(t)), callid, queue, agent, event, *(str(d) for d in data or ("",))]
        self.rows.append((t, len(self.rows), "|".join(fields)))


def _caller(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:
        return ""  # withheld
    if roll < 0.07:
        return "anonymous"
    if roll < 0.27:
        return f"0255550{rng.randrange(10000):04d}"
    if roll < 0.30:
        return f"5550{rng.randrange(10000):04d}"  # local landline without area code
    return f"1700000{rng.randrange(10000):04d}"


def generate_sample(
    seed: int = 12333,
    calls: int = 200,
    start: datetime | None = None,
    tz: str = "Asia/Shanghai",
) -> tuple[list[str], SampleStats]:
    """The lines of a sample queue_log (time-ordered) and what they contain."""
    rng = random.Random(seed)
    start = start or datetime(2025, 3, 3, 8, 30, tzinfo=ZoneInfo(tz))
    t0 = start.timestamp()
    log = _Log()
    stats = SampleStats(calls=calls)
    log.add(t0 - 600, "NONE", "NONE", "NONE", "QUEUESTART")
    log.add(t0 - 590, "NONE", "NONE", "NONE", "CONFIGRELOAD")
    # Log-ins: two agents with AGENTLOGIN, one legacy callback agent, the rest as members.
    login_at = {}
    for i, agent in enumerate(AGENTS):
        at = t0 - 300 + 20 * i
        login_at[agent] = at
        if i < 2:
            log.add(at, f"{int(at)}.{900 + i}", "NONE", agent, "AGENTLOGIN", f"{agent}-0000{i}")
        elif i == 2:
            log.add(at, "NONE", "NONE", agent, "AGENTCALLBACKLOGIN", f"{agent[-4:]}@agents")
        else:
            for q in QUEUES:
                log.add(at, "NONE", q, agent, "ADDMEMBER", "")
    # The exam line is staffed briefly, then nobody: its callers leave with EXITEMPTY.
    log.add(t0 - 200, "NONE", "kaoshi", "PJSIP/8009", "ADDMEMBER", "")
    log.add(t0 - 100, "NONE", "kaoshi", "PJSIP/8009", "REMOVEMEMBER", "")
    free = dict.fromkeys(AGENTS, t0)
    served = dict.fromkeys(AGENTS, 0)
    t = t0
    seq = pauses = 0
    names, weights = zip(*RANDOM, strict=True)
    for n in range(calls):
        t += rng.expovariate(1 / 25)
        seq += 1
        callid = f"{int(t)}.{seq}"
        outcome = FORCED[n] if n < len(FORCED) else rng.choices(names, weights)[0]
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
        queue = "kaoshi" if outcome == "exit_empty" else rng.choices(QUEUES, QUEUE_WEIGHTS)[0]
        log.add(t, callid, queue, "NONE", "DID", "12333")
        log.add(t, callid, queue, "NONE", "ENTERQUEUE", "", _caller(rng), 1 + rng.randrange(4))
        if outcome == "exit_empty":
            log.add(t + 2, callid, queue, "NONE", "EXITEMPTY", 1, 1, 2)
            continue
        agent = min(AGENTS, key=lambda a: free[a])
        wait = max(0.0, free[agent] - t) + rng.uniform(2, 12)
        if outcome in ("abandon", "timeout", "exit_key", "ring_canceled"):
            wait = min(wait, 300.0) if outcome != "timeout" else 120.0
            end = t + int(wait)
            if outcome == "ring_canceled":
                log.add(max(t, end - 3), callid, queue, agent, "RINGCANCELED", 3000)
            if outcome in ("abandon", "ring_canceled"):
                log.add(end, callid, queue, "NONE", "ABANDON", 1, 2, int(wait))
            elif outcome == "timeout":
                log.add(end, callid, queue, "NONE", "EXITWITHTIMEOUT", 1, 2, int(wait))
            else:
                log.add(end, callid, queue, "NONE", "EXITWITHKEY", 0, 1, 2, int(wait))
            continue
        if n == 3 * len(FORCED):
            log.add(t + 1, callid, queue, "NONE", "INFO", "CALLER_POSITION_ANNOUNCED")
        ans = t + int(wait)
        if outcome == "ring_no_answer":
            other = next(a for a in AGENTS if a != agent)
            log.add(max(t, ans - 15), callid, queue, other, "RINGNOANSWER", 15000)
        if outcome == "syscompat":
            other = next(a for a in AGENTS if a != agent)
            log.add(ans - 1, callid, queue, other, "SYSCOMPAT")
        log.add(ans, callid, queue, agent, "CONNECT", int(wait), f"{int(ans)}.{seq + 5000}", 3)
        talk = int(rng.lognormvariate(5.1, 0.5))  # ≈ 3 minutes
        end = ans + talk
        hold = int(wait)
        if outcome == "complete_caller":
            log.add(end, callid, queue, agent, "COMPLETECALLER", hold, talk, 1)
        elif outcome == "complete_agent":
            log.add(end, callid, queue, agent, "COMPLETEAGENT", hold, talk, 1)
        elif outcome == "blind":
            log.add(end, callid, queue, agent, "BLINDTRANSFER", "12345", "from-internal",
                    hold, talk, 1)  # fmt: skip
        elif outcome == "transfer":
            log.add(end, callid, queue, agent, "TRANSFER", "8100", "experts", hold, talk)
        elif outcome == "attended_bridge":
            bridge = f"9f1c2d3e-0000-4000-8000-{seq:012d}"
            log.add(end, callid, queue, agent, "ATTENDEDTRANSFER", "BRIDGE", bridge, hold,
                    talk, 1)  # fmt: skip
        elif outcome == "attended_app":
            log.add(end, callid, queue, agent, "ATTENDEDTRANSFER", "APP", "Voicemail", hold,
                    talk, 1)  # fmt: skip
        elif outcome == "attended_link":
            log.add(end, callid, queue, agent, "ATTENDEDTRANSFER", "LINK", f"{agent}-00a1",
                    "PJSIP/8000-00a2", hold, talk, 1)  # fmt: skip
        else:  # ring_no_answer, syscompat: completed normally after the extra line
            log.add(end, callid, queue, agent, "COMPLETECALLER", hold, talk, 1)
        served[agent] += 1
        free[agent] = end + rng.uniform(5, 20)
        if served[agent] % 6 == 0:  # a pause now and then, on this agent's own timeline
            reason = PAUSE_TEXTS[pauses % len(PAUSE_TEXTS)]
            pauses += 1
            pause_at = free[agent]
            length = rng.uniform(120, 900)
            if served[agent] % 12 == 6:
                log.add(pause_at, "NONE", "NONE", agent, "PAUSEALL", reason)
                log.add(pause_at + length, "NONE", "NONE", agent, "UNPAUSEALL", "")
            else:
                log.add(pause_at, "NONE", queue, agent, "PAUSE", reason)
                log.add(pause_at + length, "NONE", queue, agent, "UNPAUSE", "")
            free[agent] = pause_at + length + 1
    # Log-offs after the last call.
    close = max(max(free.values()), t) + 60
    for i, agent in enumerate(AGENTS):
        logged = int(close - login_at[agent])
        if i < 2:
            chan = f"{agent}-0000{i}"
            log.add(close, f"{int(login_at[agent])}.{900 + i}", "NONE", agent, "AGENTLOGOFF",
                    chan, logged)  # fmt: skip
        elif i == 2:
            log.add(close, "NONE", "NONE", agent, "AGENTCALLBACKLOGOFF", f"{agent[-4:]}@agents",
                    logged, "CommandLogoff")  # fmt: skip
        else:
            for q in QUEUES:
                log.add(close, "NONE", q, agent, "REMOVEMEMBER", "")
    lines = [row for _, _, row in sorted(log.rows)]
    stats.lines = len(lines)
    return lines, stats


def write_sample(path: str | Path, **kwargs: object) -> SampleStats:
    """Write :func:`generate_sample` to ``path`` (one line each, ``\\n``-terminated)."""
    lines, stats = generate_sample(**kwargs)  # type: ignore[arg-type]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return stats
