"""A simulated yearly campaign: the national center dials every center of a period.

For each center (the simulator's plan: same profile and human-service hours as
``hotline simulate`` with the same seed) one working day of the period is drawn and the
mystery shopper calls at a random time inside one of the center's service windows. What
happens follows the center's profile (:data:`BEHAVIOUR`):

- ``healthy`` — connects at the first try, a person within 30 s (outcome 1) most of the time,
  high scores;
- ``understaffed`` — outcome 2 (a person only after ≥ 30 s) more often, sometimes never
  reached (3), lower scores;
- ``routed_to_12345`` — reached, but by a 12345 agent: problem-solving items lose more (the
  answer tends to give another department's number);
- ``unstaffed_line`` — human service advertised but nobody answers: outcome 3 after three tries
  at different times of day (morning, afternoon, the next working day's morning);
- ``no_human_service`` — the IVR answers but offers no person: outcome 3, ``human_service``
  false;
- ``recordings_only`` — the number only plays recordings: counted as not opened (4).

Every random draw comes from a generator seeded by (seed, center id), so a campaign is
deterministic for a seed and a center's result does not change when other centers are added.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hotline.centers import CenterRegistry
from hotline.producers.simulator.centers import SimCenter, derive_seed, plan_centers
from hotline.producers.simulator.params import PROFILES, Profile
from hotline.reports.records import EvaluationRow, default_evaluation_id
from hotline.schemas import QaEvaluation
from hotline.schemas.qa import RUBRIC
from hotline.workdays import CHINA_TZ, CalendarNotCovered, is_working_day

log = logging.getLogger(__name__)

__all__ = ["BEHAVIOUR", "Behaviour", "campaign_events", "run_campaign"]


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a profile's center treats the mystery shopper."""

    #: Outcome code → probability.
    outcomes: Mapping[int, float]
    #: The line offers a person.
    human_service: bool
    #: Probabilities of losing 0, 1, 2, 3 steps on an item (a step is a fifth of its maximum).
    loss: tuple[float, float, float, float] = (0.72, 0.18, 0.07, 0.03)
    #: Extra steps lost on the problem-solving items.
    problem_solving_penalty: int = 0
    note: str = ""


BEHAVIOUR: dict[Profile, Behaviour] = {
    Profile.HEALTHY: Behaviour({1: 0.92, 2: 0.08}, True),
    Profile.UNDERSTAFFED: Behaviour({1: 0.35, 2: 0.5, 3: 0.15}, True, (0.4, 0.3, 0.18, 0.12)),
    Profile.ROUTED_TO_12345: Behaviour(
        {1: 0.6, 2: 0.4}, True, problem_solving_penalty=1, note="转12345平台接听"
    ),
    Profile.UNSTAFFED_LINE: Behaviour({3: 1.0}, True, note="开通人工服务但无人接听"),
    Profile.NO_HUMAN_SERVICE: Behaviour({3: 1.0}, False, note="仅语音自助，无人工服务"),
    Profile.RECORDINGS_ONLY: Behaviour({4: 1.0}, False, note="仅播放录音，12333未实际开通"),
}
#: Tries before a center counts as never connected (outcome 3).
UNREACHABLE_TRIES = 3


def run_campaign(
    year: int,
    seed: int,
    *,
    selectors: Sequence[str] = (),
    profiles: Mapping[str, Profile] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    version: int = 1,
    registry: CenterRegistry | None = None,
) -> list[EvaluationRow]:
    """One evaluation per selected center, dialled on working days of ``start``..``end``
    (default: June of ``year``)."""
    start = start or dt.date(year, 6, 1)
    end = end or dt.date(year, 6, 30)
    days = _working_days(start, end)
    centers = plan_centers(seed, selectors, profiles, registry=registry)
    return [_evaluate(center, year, seed, days, version) for center in centers]


def campaign_events(rows: Sequence[EvaluationRow]) -> list[QaEvaluation]:
    """The ``QaEvaluation`` events (kind ``mystery_shopper``) of a campaign's rows."""
    return [row.to_event(sequence=i) for i, row in enumerate(rows)]


def _working_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days = []
    day = start
    while day <= end:
        try:
            working = is_working_day(day)
        except CalendarNotCovered:
            log.warning("%s is beyond the pinned calendar: Monday–Friday used", day)
            working = day.weekday() < 5
        if working:
            days.append(day)
        day += dt.timedelta(days=1)
    if not days:
        raise ValueError(f"no working day between {start} and {end}")
    return days


def _at(day: dt.date, window: tuple[dt.time, dt.time], rng: random.Random) -> dt.datetime:
    """A random minute inside ``window`` (China time) of ``day``, leaving 10 minutes to its end."""
    opens = window[0].hour * 60 + window[0].minute
    closes = window[1].hour * 60 + window[1].minute - 10
    minute = rng.randint(opens, max(opens, closes))
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60), CHINA_TZ)


def _evaluate(
    center: SimCenter, year: int, seed: int, days: list[dt.date], version: int
) -> EvaluationRow:
    rng = random.Random(derive_seed(seed, center.center_id, "campaign"))
    province_rng = random.Random(derive_seed(seed, center.home[:2], "campaign-province"))
    behaviour = BEHAVIOUR[center.profile]
    codes, weights = zip(*behaviour.outcomes.items(), strict=True)
    outcome = rng.choices(codes, weights)[0]
    # an unreachable line is tried again on the next working day: not from the period's last
    index = rng.randrange(len(days) - 1 if outcome == 3 and len(days) > 1 else len(days))
    day = days[index]
    first = _at(day, rng.choice(center.windows), rng)
    tries: tuple[dt.datetime, ...] = (first,)
    if outcome == 3:
        # Morning and afternoon of the day, then the next working day's morning.
        following = days[min(index + 1, len(days) - 1)]
        tries = (
            _at(day, center.windows[0], rng),
            _at(day, center.windows[-1], rng),
            _at(following, center.windows[0], rng),
        )
        tries = tuple(sorted(tries))[:UNREACHABLE_TRIES]
    items = None
    if outcome in (1, 2):
        # A province-wide extra slip: the regional differences the report looks for.
        province_slip = province_rng.uniform(0.0, 0.25)
        items = tuple(
            _score(item.field, item.group, item.maximum, behaviour, center, rng, province_slip)
            for item in RUBRIC
        )
    return EvaluationRow(
        evaluation_id=default_evaluation_id(year, center.center_id),
        version=version,
        year=year,
        center_id=center.center_id,
        region_code=center.home,
        outcome=outcome,
        human_service=behaviour.human_service,
        tries=tries,
        items=items,
        evaluator="national.mystery_shopper",
        source="campaign",
        note=behaviour.note,
    )


def _score(
    field: str,
    group: str,
    maximum: int,
    behaviour: Behaviour,
    center: SimCenter,
    rng: random.Random,
    province_slip: float,
) -> int:
    if field == "waits_for_caller_hangup":
        return maximum if rng.random() < PROFILES[center.profile].caller_first else 0
    lost = rng.choices((0, 1, 2, 3), behaviour.loss)[0]
    if rng.random() < province_slip:
        lost += 1
    if group == "problem_solving":
        lost += behaviour.problem_solving_penalty
    return max(0, maximum - lost * max(1, maximum // 5))
