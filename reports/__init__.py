"""Quality monitoring (神秘顾客, the national mystery-shopper campaign) and its yearly report.

Modules, one concept each:

- :mod:`~hotline.reports.records` — :class:`EvaluationRow`, one stored evaluation with its
  campaign facts (tries, human service), and the row-level validation.
- :mod:`~hotline.reports.campaign` — a simulated campaign: dials every center of a period and
  produces ``QaEvaluation`` events consistent with each center's simulator profile.
- :mod:`~hotline.reports.csv_import` — evaluators' CSV files, row errors with row numbers.
- :mod:`~hotline.reports.store` — ClickHouse: insert, load a year, live-traffic unreachable days.
- :mod:`~hotline.reports.figures` — pure computation of every figure of the report.
- :mod:`~hotline.reports.checks` — data checks: inconsistencies listed, not hidden.
- :mod:`~hotline.reports.render` — HTML (Jinja2) and PDF (WeasyPrint) output, SVG charts.

docs/quality.md describes the rubric, the campaign model, the CSV format and the report.
"""

from hotline.reports.errors import QualityError, RowError

__all__ = ["QualityError", "RowError"]
