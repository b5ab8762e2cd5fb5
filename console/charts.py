"""Small server-side SVG charts for the console: pure Python, no Django, no script.

    line_chart(series, title=…)  -> str   # step lines over time (a balance holds until the next change)
    bar_chart(rows, title=…)     -> str   # horizontal bars, one or more values per row, 0..max

Every chart is an ``<svg role="img">`` whose ``<title>`` and ``<desc>`` say what it shows,
so a screen reader announces it; pages put the same figures in a table behind a
``<details>`` as the full text alternative. Colours come from CSS classes
(``series-0``, ``series-1``…) so the page's stylesheet decides contrast. Every text
that reaches the markup is escaped here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]  # oldest first


@dataclass(frozen=True)
class BarRow:
    label: str
    values: Sequence[float]  # one per series, each 0..maximum
    note: str = ""  # shown after the bars, e.g. "12 / 14"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if high < low:
        low, high = high, low
    if high - low < 1e-9 * max(1.0, abs(high)):
        high = low + 1  # a flat line still gets an axis
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    digits = max(0, -math.floor(math.log10(step)))
    first = math.floor(low / step)
    if first * step > low:  # low / step underflowed to -0.0 (a subnormal low)
        first -= 1
    ticks = []
    n = first
    while True:
        value = round(n * step, digits)
        ticks.append(value)
        if value >= high:
            return ticks
        n += 1


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _svg(width: int, height: int, title: str, desc: str, body: list[str], css_class: str) -> str:
    ident = "c" + hashlib.sha256(f"{title}|{desc}|{width}|{height}".encode()).hexdigest()[:10]
    return (
        f'<svg class="chart {css_class}" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def line_chart(
    series: Sequence[Series], *, title: str, width: int = 1080, height: int = 300, y_label: str = "", empty_text: str = "No data yet."
) -> str:
    """Step lines of several series on one time axis, starting at zero on the y axis."""
    left, right, top, bottom = 80, 24, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [p for s in series for p in s.points]
    if not points:
        body = [f'<text class="empty" x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle">{escape(empty_text)}</text>']
        return _svg(width, height, title, empty_text, body, "line-chart")
    times = [p[0].timestamp() for p in points]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - 1800, t1 + 1800  # one moment: centre it in an hour's window
    ticks = nice_ticks(min(0.0, min(p[1] for p in points)), max(p[1] for p in points))
    y0, y1 = ticks[0], ticks[-1]

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (v - y0) / (y1 - y0) * plot_h

    body = []
    for tick in ticks:
        body.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{_fmt(y(tick))}" y2="{_fmt(y(tick))}"/>')
        body.append(f'<text class="tick" x="{left - 6}" y="{_fmt(y(tick) + 4)}" text-anchor="end">{_number(tick)}</text>')
    # Label precision follows the span shown: seconds for a burst, days for months.
    span = t1 - t0
    label_format = "%H:%M:%S" if span < 3600 else "%Y-%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d"
    for fraction in (0.0, 0.5, 1.0):
        moment = t0 + (t1 - t0) * fraction
        label = datetime.fromtimestamp(moment, tz=points[0][0].tzinfo).strftime(label_format)
        anchor = {0.0: "start", 0.5: "middle", 1.0: "end"}[fraction]
        body.append(f'<text class="tick" x="{_fmt(x(moment))}" y="{height - 12}" text-anchor="{anchor}">{escape(label)}</text>')
    if y_label:
        body.append(f'<text class="axis-label" x="14" y="{top + plot_h / 2:.1f}" transform="rotate(-90 14 {top + plot_h / 2:.1f})" text-anchor="middle">{escape(y_label)}</text>')
    for index, item in enumerate(series):
        if not item.points:
            continue
        path = []
        previous_y = None
        for moment, value in item.points:
            px, py = x(moment.timestamp()), y(value)
            if previous_y is None:
                path.append(f"M{_fmt(px)},{_fmt(py)}")
            else:
                # A balance holds its value until the next change: a step, not a slope.
                path.append(f"H{_fmt(px)}V{_fmt(py)}")
            previous_y = py
        body.append(f'<path class="line series-{index}" d="{"".join(path)}"><title>{escape(item.name)}</title></path>')
        if len(item.points) <= 60:
            for moment, value in item.points:
                body.append(f'<circle class="dot series-{index}" cx="{_fmt(x(moment.timestamp()))}" cy="{_fmt(y(value))}" r="2.5"/>')
    legend_x = left
    for index, item in enumerate(series):
        body.append(f'<rect class="swatch series-{index}" x="{legend_x}" y="2" width="10" height="10"/>')
        body.append(f'<text class="legend" x="{legend_x + 14}" y="11">{escape(item.name)}</text>')
        legend_x += 20 + 8 * len(item.name) + 16
    last = ", ".join(f"{s.name} {_number(s.points[-1][1])}" for s in series if s.points)
    desc = f"{len(points)} points from {datetime.fromtimestamp(min(times), tz=points[0][0].tzinfo):%Y-%m-%d %H:%M} to {datetime.fromtimestamp(max(times), tz=points[0][0].tzinfo):%Y-%m-%d %H:%M}; latest: {last}."
    return _svg(width, height, title, desc, body, "line-chart")


def bar_chart(
    rows: Sequence[BarRow], *, title: str, series_names: Sequence[str] = (), maximum: float = 1.0, width: int = 1000, percent: bool = True
) -> str:
    """Horizontal bars, one group per row; values are shown as percentages of ``maximum``
    (or as numbers with ``percent=False``)."""
    label_w, note_w, bar_h, gap = 170, 260, 16, 12
    groups = max((len(r.values) for r in rows), default=1)
    row_h = groups * bar_h + gap
    legend_h = 18 if series_names else 0
    height = legend_h + max(len(rows), 1) * row_h + 8
    plot_w = width - label_w - note_w
    body = []
    if not rows:
        body.append(f'<text class="empty" x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle">No data.</text>')
    x = 4
    for index, name in enumerate(series_names):
        body.append(f'<rect class="swatch series-{index}" x="{x}" y="2" width="10" height="10"/>')
        body.append(f'<text class="legend" x="{x + 14}" y="11">{escape(name)}</text>')
        x += 30 + 8 * len(name)
    parts = []
    for n, row in enumerate(rows):
        top = legend_h + n * row_h
        body.append(f'<text class="label" x="{label_w - 8}" y="{top + groups * bar_h / 2 + 4:.1f}" text-anchor="end">{escape(row.label)}</text>')
        body.append(f'<rect class="track" x="{label_w}" y="{top}" width="{plot_w}" height="{groups * bar_h}"/>')
        shown = []
        for index, value in enumerate(row.values):
            share = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum))
            text = f"{share * 100:.1f}%" if percent else _number(value)
            shown.append(text)
            body.append(
                f'<rect class="bar series-{index}" x="{label_w}" y="{top + index * bar_h + 1}" width="{_fmt(share * plot_w)}" height="{bar_h - 2}">'
                f"<title>{escape(row.label)}: {escape(text)}</title></rect>"
            )
        note = " / ".join(shown) + (f"  ({row.note})" if row.note else "")
        body.append(f'<text class="value" x="{label_w + plot_w + 6}" y="{top + groups * bar_h / 2 + 4:.1f}">{escape(note)}</text>')
        parts.append(f"{row.label}: {' / '.join(shown)}")
    return _svg(width, height, title, "; ".join(parts) or "No data.", body, "bar-chart")
