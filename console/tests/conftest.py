"""Console fixtures: staff and non-staff users, and data made through the public API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shadow" / "tests" / "data" / "corpus_slice.jsonl"
TENANT = "org-console"


def benign(n: int, text: str) -> dict:
    return {"id": f"benign-{n}", "method": "GET", "path": "/products", "query": f"q={text}+{n}", "headers": {"Host": "shop.test"}, "body": "", "label": "benign"}


def attack(n: int, query: str, category: str) -> dict:
    return {"id": f"{category}-{n}", "method": "GET", "path": "/search", "query": query, "headers": {"Host": "shop.test"}, "body": "", "label": "attack", "category": category}


def samples() -> list[dict]:
    """Real corpus requests, plus benign searches that a naive SQL signature flags (false
    positives enough for several pages) and attacks it misses."""
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    rows += [benign(n, "natural+selection+book") for n in range(24)]
    rows += [attack(n, f"id=1%27+UNION+SELECT+password+FROM+users--+{n}", "sqli") for n in range(12)]
    return rows


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="operator", password="console-pass-1", is_staff=True)


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user(username="viewer", password="console-pass-2", is_staff=False)
