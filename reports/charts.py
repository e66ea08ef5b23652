"""Small SVG bar charts, drawn by hand so that the HTML and the PDF show the same picture
(WeasyPrint renders inline SVG; no plotting library, no fonts of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', sans-serif"
COLOUR = "#3a6ea5"
REFERENCE = "#c0392b"


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    maximum: float = 100.0,
    unit: str = "",
    reference: float | None = None,
    reference_label: str = "",
    label_width: int = 190,
    width: int = 640,
) -> Markup:
    """Horizontal bars, one per label, scaled to ``maximum``; None draws no bar ("—")."""
    row, top = 18, 8
    bar_area = width - label_width - 60
    height = top + row * len(labels) + (22 if reference is not None else 8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>'
        )
        if value is None:
            parts.append(f'<text x="{label_width + 4}" y="{y + 12}">—</text>')
            continue
        length = max(0.0, min(1.0, value / maximum)) * bar_area
        parts.append(
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 5}" '
            f'fill="{COLOUR}"/>'
        )
        parts.append(f'<text x="{label_width + length + 4:.1f}" y="{y + 12}">{value}{unit}</text>')
    if reference is not None:
        x = label_width + max(0.0, min(1.0, reference / maximum)) * bar_area
        bottom = top + row * len(labels)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{REFERENCE}" '
            'stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 14}" fill="{REFERENCE}" text-anchor="middle">'
            f"{escape(reference_label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
