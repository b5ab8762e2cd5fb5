"""Turning the selectors' figures into what a page draws: charts and highlighted text.
Nothing here computes a metric; it places and formats the ones it is given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console import charts

CONTEXT = 60  # characters shown either side of a highlighted span in a long text
LONG_TEXT = 400


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def balance_chart(series: dict[str, Any], tenant_id: str) -> str:
    points = [(parse_time(p["at"]), p) for p in series["points"]]
    lines = [
        charts.Series("balance", [(at, p["balance"]) for at, p in points]),
        charts.Series("available", [(at, p["available"]) for at, p in points]),
    ]
    return charts.line_chart(lines, title=f"Balance and available credits of {tenant_id} over time", y_label="credits", empty_text="No ledger entries yet.")


def category_chart(by_category: dict[str, dict[str, Any]]) -> str:
    rows = [
        charts.BarRow(name, [c["recall"]], note=f"{c['true_positives']} of {c['true_positives'] + c['false_negatives']} attacks")
        for name, c in by_category.items()
        if c["true_positives"] + c["false_negatives"] > 0
    ]
    return charts.bar_chart(rows, title="Recall per attack category")


COMPARED = (("precision", "precision"), ("recall", "recall"), ("f1_score", "F1"), ("accuracy", "accuracy"), ("false_positive_rate", "false-positive rate"))


def compare_chart(a: dict[str, Any], b: dict[str, Any]) -> str:
    rows = [charts.BarRow(label, [a[key], b[key]]) for key, label in COMPARED]
    return charts.bar_chart(rows, title="Evaluation A and B side by side", series_names=["A", "B"])


def versions_chart(rule: dict[str, Any], by_version: dict[int, list[dict[str, Any]]]) -> str:
    rows = []
    for version in rule["versions"]:
        done = [ev for ev in by_version.get(version["version"], []) if ev["status"] == "completed"]
        if done:
            latest = done[0]
            rows.append(charts.BarRow(f"v{version['version']}", [latest["f1_score"], latest["false_positive_rate"]]))
    return charts.bar_chart(rows, title="F1 and false-positive rate of each version's latest evaluation", series_names=["F1", "FPR"])


def segments(text: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``text`` cut into plain and marked pieces; long plain stretches shortened to
    ``CONTEXT`` characters around the marks. Overlapping spans are joined."""
    merged: list[list[Any]] = []
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        if merged and span["start"] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span["end"])
            merged[-1][2].add(span["label"])
        else:
            merged.append([span["start"], span["end"], {span["label"]}])
    pieces: list[dict[str, Any]] = []
    position = 0
    shorten = len(text) > LONG_TEXT
    for start, end, labels in merged:
        plain = text[position:start]
        if shorten and len(plain) > 2 * CONTEXT:
            plain = (plain[:CONTEXT] + " … " if position else " … ") + plain[-CONTEXT:]
        if plain:
            pieces.append({"text": plain, "mark": None})
        pieces.append({"text": text[start:end], "mark": ", ".join(sorted(labels))})
        position = end
    tail = text[position:]
    if shorten and len(tail) > CONTEXT:
        tail = tail[:CONTEXT] + " …"
    if tail:
        pieces.append({"text": tail, "mark": None})
    return pieces


def highlighted(excerpts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "segments": segments(e["text"], e["spans"])} for e in excerpts]
