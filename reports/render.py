"""The report as HTML (Jinja2, ``templates/quality.html.j2``) and PDF (WeasyPrint).

The PDF needs a CJK font: Debian's ``fonts-noto-cjk`` (infra/system-deps.sh installs it).
Charts are inline SVG from :mod:`hotline.reports.charts`, so both outputs show the same picture.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hotline.reports.charts import hbar_chart
from hotline.workdays import CHINA_TZ

log = logging.getLogger(__name__)

FORMATS = ("html", "pdf")


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("hotline.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=False,
    )


def title_of(figures: dict[str, Any]) -> str:
    return f"{figures['year']}年{figures['scope']['name']}12333服务质量监测报告"


def charts_of(figures: dict[str, Any]) -> dict[str, Any]:
    bands = figures["bands"]["centers"]
    items = {}
    for group in figures["groups"]:
        mine = [i for i in figures["items"] if i["group"] == group["group"]]
        items[group["group"]] = hbar_chart(
            [f"{i['chinese']}（{i['maximum']}分）" for i in mine],
            [i["pct"] for i in mine],
            unit="%",
            label_width=260,
        )
    table = figures["score_table"]
    average = figures["score_average"]["total"]
    return {
        "bands": hbar_chart(
            [f"{b['band']}分" for b in bands],
            [b["pct"] for b in bands],
            unit="%",
            label_width=80,
        ),
        "items": items,
        "totals": hbar_chart(
            [s["name"] for s in table],
            [s["total"] for s in table],
            reference=average,
            reference_label=f"{figures['scope']['name']}平均 {average}" if average else "",
        ),
    }


def render_html(figures: dict[str, Any], generated_at: datetime | None = None) -> str:
    """The whole report as one self-contained HTML page (CSS and charts inline)."""
    css = (resources.files("hotline.reports") / "templates" / "quality.css").read_text("utf-8")
    moment = (generated_at or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ)
    template = _environment().get_template("quality.html.j2")
    return template.render(
        figures=figures,
        title=title_of(figures),
        css=Markup(css),
        charts=charts_of(figures),
        generated_at=f"{moment:%Y-%m-%d %H:%M}",
    )


def html_to_pdf(html: str, path: Path) -> None:
    from weasyprint import HTML  # heavy import: only when a PDF is asked for

    HTML(string=html).write_pdf(path)


def file_stem(figures: dict[str, Any]) -> str:
    scope = figures["scope"]["province"] or "national"
    return f"quality-{figures['year']}-{scope}"


def write_report(
    figures: dict[str, Any],
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    generated_at: datetime | None = None,
) -> list[Path]:
    """Write the report into ``out_dir`` in each of ``formats``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(figures, generated_at)
    written = []
    stem = file_stem(figures)
    if "html" in formats:
        path = out_dir / f"{stem}.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    if "pdf" in formats:
        path = out_dir / f"{stem}.pdf"
        html_to_pdf(html, path)
        written.append(path)
    for path in written:
        log.info("wrote %s", path)
    return written
