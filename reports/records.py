"""One stored evaluation: the scored call of :class:`~hotline.schemas.QaEvaluation` plus the
campaign facts the event does not carry (the year, every try, whether a person is offered).

Hard rules (an :class:`EvaluationRow` that breaks one cannot be built, a CSV row that breaks
one is refused): outcome 1–4; 11 item scores, each from 0 to its rubric maximum; outcomes 3
and 4 carry no item scores; at least one try, each in the campaign year (China time). Softer
contradictions — a given total that is not the sum of the items, a reached center without
scores, outcome 3 after a single try — are kept and listed by :mod:`hotline.reports.checks`,
so that the report shows them instead of hiding them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hotline.reports.errors import QualityError
from hotline.schemas import Envelope, QaEvaluation, QaKind, QaScores
from hotline.schemas.qa import GROUP_MAXIMA, RUBRIC
from hotline.workdays import CHINA_TZ

ITEM_FIELDS: tuple[str, ...] = tuple(item.field for item in RUBRIC)
ITEM_MAXIMA: dict[str, int] = {item.field: item.maximum for item in RUBRIC}
GROUPS: tuple[str, ...] = tuple(GROUP_MAXIMA)
SOURCES = ("campaign", "csv", "event")
#: Outcome codes and their meaning (DOMAIN.md).
OUTCOMES: dict[int, str] = {
    1: "首次拨通，30秒内转人工",
    2: "首次拨通，转人工≥30秒",
    3: "多次拨打未接通",
    4: "12333未开通",
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_REGION = re.compile(r"^\d{6}$")


def default_evaluation_id(year: int, center_id: str) -> str:
    """The id a campaign and a CSV row use unless told otherwise: one evaluation a center a year."""
    return f"ms-{year}-{center_id}"


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """One evaluation of one center in one yearly campaign (a row of ``qa_evaluations``)."""

    evaluation_id: str
    version: int
    year: int
    center_id: str
    region_code: str
    outcome: int
    #: The line offers a person (转人工) — false for IVR-only and recordings-only lines.
    human_service: bool
    #: Start of every try, timezone-aware; one for outcomes 1, 2 and 4, several for 3.
    tries: tuple[datetime, ...]
    #: The 11 item scores in :data:`ITEM_FIELDS` order, or None (outcomes 3, 4; missing sheet).
    items: tuple[int, ...] | None
    #: The total an evaluator wrote on the sheet (CSV), None when not given.
    given_total: int | None = None
    kind: str = QaKind.MYSTERY_SHOPPER.value
    evaluator: str = "national"
    agent_id: str = ""
    source: str = "campaign"
    note: str = ""

    def __post_init__(self) -> None:
        problems = row_problems(self)
        if problems:
            raise QualityError(f"evaluation {self.evaluation_id!r}: " + "; ".join(problems))

    # -- derived --------------------------------------------------------------------------------

    @property
    def province_code(self) -> str:
        return self.region_code[:2] + "0000"

    @property
    def opened(self) -> bool:
        return self.outcome != 4

    @property
    def offers_human(self) -> bool:
        return self.opened and self.human_service

    @property
    def reached(self) -> bool:
        return self.outcome in (1, 2)

    @property
    def scored(self) -> bool:
        """Counts in score averages: scored, or unreachable (3, 4) which counts as zero."""
        return self.items is not None or not self.reached

    def item(self, name: str) -> int:
        """One item's score; zero for a center that was not reached."""
        if self.items is None:
            return 0
        return self.items[ITEM_FIELDS.index(name)]

    def group(self, name: str) -> int:
        return sum(self.item(item.field) for item in RUBRIC if item.group == name)

    @property
    def total(self) -> int:
        """Sum of the items (the total is derived, never taken from the sheet)."""
        return sum(self.items) if self.items is not None else 0

    # -- conversions ----------------------------------------------------------------------------

    def to_event(self, producer_id: str = "quality.campaign", sequence: int = 0) -> QaEvaluation:
        """The ``QaEvaluation`` event of this row (needs items for outcomes 1 and 2)."""
        scores = QaScores(**dict(zip(ITEM_FIELDS, self.items, strict=True))) if self.items else None
        envelope = Envelope(
            event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.evaluation_id}/{self.version}")),
            event_type=QaEvaluation.RECORD_TYPE,
            occurred_at=self.tries[-1],
            center_id=_safe_id(self.evaluator),
            region_code=self.region_code,
            producer_id=producer_id,
            sequence=sequence,
        )
        return QaEvaluation(
            envelope=envelope,
            evaluation_id=self.evaluation_id,
            kind=QaKind(self.kind),
            evaluated_center_id=self.center_id,
            evaluated_region_code=self.region_code,
            agent_id=self.agent_id or None,
            evaluator=_safe_id(self.evaluator),
            outcome=self.outcome,
            scores=scores,
        )

    @classmethod
    def from_event(
        cls,
        event: QaEvaluation,
        *,
        year: int,
        tries: tuple[datetime, ...],
        human_service: bool,
        version: int = 1,
        source: str = "event",
        note: str = "",
    ) -> EvaluationRow:
        items = None
        if event.scores is not None:
            items = tuple(getattr(event.scores, name) for name in ITEM_FIELDS)
        return cls(
            evaluation_id=event.evaluation_id,
            version=version,
            year=year,
            center_id=event.evaluated_center_id,
            region_code=event.evaluated_region_code,
            outcome=event.outcome,
            human_service=human_service,
            tries=tries,
            items=items,
            kind=event.kind.value,
            evaluator=event.evaluator,
            agent_id=event.agent_id or "",
            source=source,
            note=note,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "evaluation_id": self.evaluation_id,
            "version": self.version,
            "year": self.year,
            "center_id": self.center_id,
            "region_code": self.region_code,
            "outcome": self.outcome,
            "human_service": self.human_service,
            "tries": [t.astimezone(UTC).isoformat() for t in self.tries],
            "items": dict(zip(ITEM_FIELDS, self.items, strict=True)) if self.items else None,
            "given_total": self.given_total,
            "kind": self.kind,
            "evaluator": self.evaluator,
            "source": self.source,
            "note": self.note,
        }


def row_problems(row: EvaluationRow) -> list[str]:
    """The hard-rule violations of ``row`` (empty when it may be stored)."""
    problems = []
    if not _ID.match(row.evaluation_id):
        problems.append(f"evaluation_id {row.evaluation_id!r} is not a valid id")
    if not _ID.match(row.center_id):
        problems.append(f"center_id {row.center_id!r} is not a valid id")
    if not _REGION.match(row.region_code):
        problems.append(f"region_code {row.region_code!r} is not six digits")
    if not 2000 <= row.year <= 2100:
        problems.append(f"year {row.year} is out of range")
    if row.version < 0:
        problems.append("version is negative")
    if row.outcome not in OUTCOMES:
        problems.append(f"outcome {row.outcome} is not one of 1, 2, 3, 4")
    if not row.tries:
        problems.append("no try (dialled_at) given")
    elif any(t.tzinfo is None for t in row.tries):
        problems.append("try times must be timezone-aware")
    else:
        problems += [
            f"dialled_at {local:%Y-%m-%d %H:%M} is not in the year {row.year} (China time)"
            for local in (t.astimezone(CHINA_TZ) for t in row.tries)
            if local.year != row.year
        ]
    if row.given_total is not None and not 0 <= row.given_total <= 100:
        problems.append(f"total {row.given_total} is outside 0..100")
    if row.source not in SOURCES:
        problems.append(f"source {row.source!r} is not one of {', '.join(SOURCES)}")
    if row.items is not None:
        if row.outcome in (3, 4):
            problems.append(f"outcome {row.outcome} carries no item scores (nobody was reached)")
        if len(row.items) != len(ITEM_FIELDS):
            problems.append(f"{len(row.items)} item scores, expected {len(ITEM_FIELDS)}")
        else:
            for name, value in zip(ITEM_FIELDS, row.items, strict=True):
                if not 0 <= value <= ITEM_MAXIMA[name]:
                    problems.append(f"{name} = {value} is outside 0..{ITEM_MAXIMA[name]}")
    return problems


def _safe_id(text: str) -> str:
    return text if _ID.match(text) else "national"
