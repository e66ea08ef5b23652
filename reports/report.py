"""The report's figures straight from ClickHouse: the one function the CLI and the dashboard
share (:func:`quality_figures`)."""

from __future__ import annotations

from typing import Any

from clickhouse_driver import Client

from hotline.centers import CenterRegistry, default_centers
from hotline.reports.errors import QualityError
from hotline.reports.figures import compute_figures
from hotline.reports.store import load_evaluations, load_live_unreachable


def quality_figures(
    client: Client,
    database: str,
    year: int,
    province: str | None = None,
    registry: CenterRegistry | None = None,
    *,
    require_evaluations: bool = False,
) -> dict[str, Any]:
    """Every figure of the yearly report for ``year`` (national, or one province's cities),
    recomputed from ``qa_evaluations`` (this year and last) and ``call_records``.

    ``require_evaluations`` (``hotline report quality``): a :class:`QualityError` when
    ``year`` has no stored mystery-shopper evaluation in that scope at all (not even one the
    report could not use), instead of a report of 366 centers never dialled. The dashboard
    leaves it off: its page of such a year shows the empty figures.
    """
    registry = registry or default_centers()
    rows, problems = load_evaluations(client, database, (year, year - 1), province)
    if require_evaluations and not any(x.year == year for x in [*rows, *problems]):
        where = "" if province is None else f" (province {province})"
        raise QualityError(
            f"no mystery-shopper evaluations for {year}{where} in {database}.qa_evaluations"
        )
    live = load_live_unreachable(client, database, year, province)
    return compute_figures(
        [r for r in rows if r.year == year],
        [r for r in rows if r.year == year - 1],
        registry,
        year,
        province,
        live_unreachable=[(x.center_id, x.days) for x in live],
        stored_problems=[
            (p.evaluation_id, p.center_id, p.message) for p in problems if p.year == year
        ],
    )
