"""The SVG chart module alone (no Django): geometry, escaping, text alternatives."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from console import charts

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # also proves the markup is well-formed XML


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_nice_ticks_cover_the_range_in_round_even_steps(low, high):
    ticks = charts.nice_ticks(low, high)
    assert ticks[0] <= min(low, high) and ticks[-1] >= max(low, high)
    steps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    step = steps[0]
    assert all(math.isclose(s, step, rel_tol=1e-6) for s in steps)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))
    assert 2 <= len(ticks) <= 7


def test_nice_ticks_of_credits_and_ratios():
    assert charts.nice_ticks(0, 15000) == [0, 5000, 10000, 15000]
    assert charts.nice_ticks(0, 1) == [0, 0.5, 1.0]
    assert charts.nice_ticks(7, 7) == [7, 7.5, 8]


def test_a_line_chart_draws_each_change_as_a_step_and_names_its_series():
    points = [(T0, 100), (T0 + timedelta(hours=1), 40), (T0 + timedelta(hours=2), 70)]
    root = parse(charts.line_chart([charts.Series("balance", points)], title="Balance"))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Balance"
    assert "latest: balance 70" in root.find(f"{SVG}desc").text
    path = root.find(f"{SVG}path").get("d")
    # Move to the first point, then one horizontal-then-vertical step per change.
    assert re.fullmatch(r"M[\d.]+,[\d.]+(H[\d.]+V[\d.]+){2}", path)
    dots = root.findall(f"{SVG}circle")
    assert len(dots) == 3
    xs = [float(d.get("cx")) for d in dots]
    ys = [float(d.get("cy")) for d in dots]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    assert ys[1] > ys[2] > ys[0]  # 40 lowest on the page (largest y), 100 highest


def test_a_line_chart_with_one_moment_or_none_still_renders():
    one = parse(charts.line_chart([charts.Series("b", [(T0, 5)])], title="x"))
    assert len(one.findall(f"{SVG}circle")) == 1
    empty = parse(charts.line_chart([charts.Series("b", [])], title="x", empty_text="No ledger entries yet."))
    assert "No ledger entries yet." in ET.tostring(empty, encoding="unicode")


def test_bar_widths_are_proportional_and_clamped():
    rows = [charts.BarRow("sqli", [0.5]), charts.BarRow("xss", [1.0]), charts.BarRow("odd", [1.7])]
    root = parse(charts.bar_chart(rows, title="Recall"))
    bars = [float(b.get("width")) for b in root.findall(f"{SVG}rect") if "bar" in b.get("class", "").split()]
    assert bars[0] * 2 == bars[1] == bars[2]
    assert "sqli: 50.0%" in root.find(f"{SVG}desc").text


def test_every_text_is_escaped():
    hostile = '<script>alert("x")</script>&'
    markup = charts.bar_chart([charts.BarRow(hostile, [0.2], note=hostile)], title=hostile, series_names=[hostile])
    markup += charts.line_chart([charts.Series(hostile, [(T0, 1)])], title=hostile)
    assert "<script>" not in markup
    parse(charts.bar_chart([charts.BarRow(hostile, [0.2])], title=hostile))


def test_chart_ids_are_stable_so_pages_render_the_same_twice():
    a = charts.bar_chart([charts.BarRow("a", [0.1])], title="t")
    assert a == charts.bar_chart([charts.BarRow("a", [0.1])], title="t")
