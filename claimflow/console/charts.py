"""Inline SVG charts rendered on the server: no JavaScript, no CDN, readable by screen readers.

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>``; every bar or point carries a
``<title>`` with its exact value, and the page puts the same numbers in a ``<details>`` table next to it.
Colours come from CSS classes (``s0``…``s4``, ``bar``, ``line``) so light and dark mode both apply; text is
``currentColor``. Values are ``Decimal``; only the geometry is computed in floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

W, H = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 64, 12, 12, 40


def _fmt_money(v: Decimal) -> str:
    return f"${v:,.2f}"


def _short_money(v: Decimal) -> str:
    a = abs(v)
    if a >= 1_000_000:
        return f"${v / 1_000_000:.1f}M"
    if a >= 1_000:
        return f"${v / 1_000:.0f}k"
    return f"${v:.0f}"


def _svg(chart_id: str, title: str, desc: str, body: list[str], height: int = H) -> Markup:
    return Markup(
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {W} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title><desc id="{escape(chart_id)}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def bars(chart_id: str, title: str, points: Sequence[tuple[str, Decimal]], *, money: bool = True) -> Markup:
    """Vertical bars, one per (label, value); labels every few bars so they do not overlap."""
    if not points:
        return _svg(
            chart_id,
            title,
            "no data",
            [f'<text x="{W // 2}" y="{H // 2}" class="axis" text-anchor="middle">No data yet</text>'],
        )
    top = max((v for _, v in points), default=Decimal(0))
    top = top if top > 0 else Decimal(1)
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    step = pw / len(points)
    body = [
        f'<line class="axis-line" x1="{PAD_L}" y1="{PAD_T + ph}" x2="{W - PAD_R}" y2="{PAD_T + ph}"/>',
        f'<text class="axis" x="{PAD_L - 6}" y="{PAD_T + 10}" text-anchor="end">'
        f"{escape(_short_money(top) if money else str(top))}</text>",
        f'<text class="axis" x="{PAD_L - 6}" y="{PAD_T + ph}" text-anchor="end">0</text>',
    ]
    every = max(1, len(points) // 6)
    for i, (label, value) in enumerate(points):
        h = float(max(value, Decimal(0)) / top) * ph
        x = PAD_L + i * step + step * 0.15
        shown = _fmt_money(value) if money else str(value)
        body.append(
            f'<rect class="bar" data-value="{escape(str(value))}" x="{x:.1f}" y="{PAD_T + ph - h:.1f}" '
            f'width="{step * 0.7:.1f}" height="{h:.1f}"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        if i % every == 0:
            body.append(
                f'<text class="axis" x="{x + step * 0.35:.1f}" y="{H - PAD_B + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    return _svg(chart_id, title, f"{len(points)} bars; the table below has every value", body)


def stacked(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, Sequence[Decimal]]],
    series: Sequence[str],
    *,
    suffix: str = " days",
) -> Markup:
    """Horizontal stacked bars: one row per label, one segment per series (classes s0..s4), and a legend."""
    if not rows:
        return _svg(
            chart_id,
            title,
            "no data",
            [f'<text x="{W // 2}" y="40" class="axis" text-anchor="middle">No data yet</text>'],
            height=80,
        )
    row_h, label_w = 26, 110
    height = PAD_T + len(rows) * row_h + 36
    top = max((sum(v, Decimal(0)) for _, v in rows), default=Decimal(0))
    top = top if top > 0 else Decimal(1)
    pw = W - label_w - PAD_R - 70
    body: list[str] = []
    for r, (label, values) in enumerate(rows):
        y = PAD_T + r * row_h
        body.append(
            f'<text class="axis" x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
        )
        x = float(label_w)
        for s, value in enumerate(values):
            w = float(max(value, Decimal(0)) / top) * pw
            if w <= 0:
                continue
            body.append(
                f'<rect class="s{s % 5}" data-value="{escape(str(value))}" x="{x:.1f}" y="{y + 3}" '
                f'width="{w:.1f}" height="{row_h - 8}"><title>{escape(label)} {escape(series[s])}: '
                f"{escape(_fmt_money(value))}</title></rect>"
            )
            x += w
        body.append(
            f'<text class="axis" x="{x + 4:.1f}" y="{y + 16}">{escape(_short_money(sum(values, Decimal(0))))}</text>'
        )
    ly = PAD_T + len(rows) * row_h + 14
    for s, name in enumerate(series):
        lx = label_w + s * 96
        body.append(
            f'<rect class="s{s % 5}" x="{lx}" y="{ly}" width="12" height="12"/>'
            f'<text class="axis" x="{lx + 16}" y="{ly + 11}">{escape(name)}{escape(suffix)}</text>'
        )
    return _svg(
        chart_id,
        title,
        f"{len(rows)} rows by {len(series)} aging buckets; the table below has every value",
        body,
        height=height,
    )


def lines(chart_id: str, title: str, series: dict[str, Sequence[tuple[str, Decimal | None]]]) -> Markup:
    """Percent lines (values are ratios 0..1), one polyline per series with a point per day."""
    pts = [(name, [(d, v) for d, v in s if v is not None]) for name, s in series.items()]
    if not any(p for _, p in pts):
        return _svg(
            chart_id,
            title,
            "no data",
            [f'<text x="{W // 2}" y="{H // 2}" class="axis" text-anchor="middle">No data yet</text>'],
        )
    days = sorted({d for _, p in pts for d, _ in p})
    pos = {d: i for i, d in enumerate(days)}
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B - 18
    step = pw / max(len(days) - 1, 1)
    body = [
        f'<line class="axis-line" x1="{PAD_L}" y1="{PAD_T + ph}" x2="{W - PAD_R}" y2="{PAD_T + ph}"/>',
        f'<text class="axis" x="{PAD_L - 6}" y="{PAD_T + 10}" text-anchor="end">100%</text>',
        f'<text class="axis" x="{PAD_L - 6}" y="{PAD_T + ph}" text-anchor="end">0%</text>',
    ]
    for s, (name, p) in enumerate(pts):
        coords = [
            (PAD_L + pos[d] * step, PAD_T + ph - float(min(max(v, Decimal(0)), Decimal(1))) * ph, d, v)
            for d, v in p
        ]
        if len(coords) > 1:
            body.append(
                f'<polyline class="line s{s % 5}" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
                + '"/>'
            )
        for x, y, d, v in coords:
            body.append(
                f'<circle class="pt s{s % 5}" data-value="{escape(str(v))}" cx="{x:.1f}" cy="{y:.1f}" r="3.5">'
                f"<title>{escape(name)} {escape(d)}: {v * 100:.1f}%</title></circle>"
            )
    every = max(1, len(days) // 5)
    for i, d in enumerate(days):
        if i % every == 0:
            body.append(
                f'<text class="axis" x="{PAD_L + i * step:.1f}" y="{PAD_T + ph + 16}" '
                f'text-anchor="middle">{escape(d[5:])}</text>'
            )
    ly = H - 14
    for s, (name, _) in enumerate(pts):
        lx = PAD_L + s * 190
        body.append(
            f'<rect class="s{s % 5}" x="{lx}" y="{ly - 10}" width="12" height="12"/>'
            f'<text class="axis" x="{lx + 16}" y="{ly}">{escape(name)}</text>'
        )
    return _svg(
        chart_id, title, f"{len(pts)} series over {len(days)} days; the table below has every value", body
    )
