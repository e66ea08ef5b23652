"""QA evaluations: the national mystery-shopper calls (神秘顾客) and internal quality checks.

The rubric has 11 items in 3 groups (25 + 40 + 35 = 100 points); :data:`RUBRIC` lists them.
Totals are derived (properties), never stored. Outcome codes: 1 connected at the first try,
person within 30 s; 2 connected at the first try, ≥ 30 s; 3 several tries, never connected;
4 12333 not opened. Outcomes 3 and 4 carry no scores (the call never reached a person).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import Field, Strict

from hotline.schemas.base import Event, Record
from hotline.schemas.enums import QaKind
from hotline.schemas.types import Id, RegionCode, Score5, Score10, Score15, Score20

OutcomeCode = Annotated[int, Strict(), Field(ge=1, le=4)]


class RubricItem(NamedTuple):
    field: str
    group: str
    maximum: int
    chinese: str


RUBRIC: tuple[RubricItem, ...] = (
    RubricItem("states_agent_number", "etiquette", 5, "报工号"),
    RubricItem("polite_language", "etiquette", 5, "使用礼貌用语"),
    RubricItem("warm_tone", "etiquette", 10, "语气亲切、吐字清晰"),
    RubricItem("waits_for_caller_hangup", "etiquette", 5, "等来电人先挂机"),
    RubricItem("listens_patiently", "communication", 10, "耐心倾听、不打断、顾及感受"),
    RubricItem("grasps_and_guides", "communication", 20, "询问细节、抓住要点、引导谈话"),
    RubricItem("proper_closing", "communication", 5, "规范结束语"),
    RubricItem("no_dead_air", "communication", 5, "无冷场、无长时间停顿"),
    RubricItem("responds_actively", "problem_solving", 10, "积极回应、不推诿"),
    RubricItem("accurate_complete", "problem_solving", 15, "准确、完整、清晰、简洁"),
    RubricItem("fits_caller", "problem_solving", 10, "切合来电人问题与情绪、易于接受"),
)
GROUP_MAXIMA = {"etiquette": 25, "communication": 40, "problem_solving": 35}


class QaScores(Record):
    """The 11 item scores of one evaluated call."""

    RECORD_TYPE = "qa.scores"

    states_agent_number: Score5
    polite_language: Score5
    warm_tone: Score10
    waits_for_caller_hangup: Score5
    listens_patiently: Score10
    grasps_and_guides: Score20
    proper_closing: Score5
    no_dead_air: Score5
    responds_actively: Score10
    accurate_complete: Score15
    fits_caller: Score10

    def group_total(self, group: str) -> int:
        return sum(getattr(self, item.field) for item in RUBRIC if item.group == group)

    @property
    def etiquette(self) -> int:
        return self.group_total("etiquette")

    @property
    def communication(self) -> int:
        return self.group_total("communication")

    @property
    def problem_solving(self) -> int:
        return self.group_total("problem_solving")

    @property
    def total(self) -> int:
        return sum(getattr(self, item.field) for item in RUBRIC)


class QaEvaluation(Event):
    """One scored call to ``evaluated_center_id`` (the envelope names the emitting center)."""

    RECORD_TYPE = "qa.evaluation"
    PRESENT_IFF: ClassVar[dict[str, tuple[str, tuple[Any, ...]]]] = {"scores": ("outcome", (1, 2))}

    evaluation_id: Id
    kind: QaKind
    evaluated_center_id: Id
    evaluated_region_code: RegionCode
    agent_id: Id | None = None
    evaluator: Id
    outcome: OutcomeCode
    scores: QaScores | None = None

    @property
    def total(self) -> int:
        """Total points; a center that was not reached scores zero."""
        return self.scores.total if self.scores is not None else 0
