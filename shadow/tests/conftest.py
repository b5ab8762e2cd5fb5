"""Helpers for the shadow API tests: datasets built from sample dicts, JSONL uploads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


def sample(label: str, *, query: str = "", body: str = "", path: str = "/", category: str | None = None, id: str | None = None, **extra) -> dict:
    item = {"method": "GET", "path": path, "query": query, "headers": {"Host": "app.test"}, "body": body, "label": label, **extra}
    if category is not None:
        item["category"] = category
    if id is not None:
        item["id"] = id
    return item


def jsonl(samples: list[dict]) -> str:
    return "".join(json.dumps(s) + "\n" for s in samples)


def corpus_slice() -> list[dict]:
    return [json.loads(line) for line in (DATA / "corpus_slice.jsonl").read_text().splitlines()]


def signature(*patterns: str, **options) -> dict:
    return {"rule_type": "signature", "rule_config": {"type": "signature", "patterns": list(patterns), **options}}


@pytest.fixture
def api():
    """api(client).post(path, body) / .get(path) returning (status, json)."""

    class Api:
        def __init__(self, client):
            self.client = client

        def post(self, path: str, body: dict, **headers):
            response = self.client.post(path, body, format="json", **headers)
            return response.status_code, (response.json() if response.content else None)

        def get(self, path: str, **headers):
            response = self.client.get(path, **headers)
            return response.status_code, (response.json() if response.content else None)

        def upload(self, dataset_id: str, text: str | bytes, content_type: str = "application/x-ndjson"):
            response = self.client.generic("POST", f"/shadow/datasets/{dataset_id}/samples", text, content_type=content_type)
            return response.status_code, response.json()

        def dataset(self, tenant_id: str, name: str, samples: list[dict]) -> str:
            status, body = self.post("/shadow/datasets", {"tenant_id": tenant_id, "name": name})
            assert status == 201, body
            if samples:
                status, result = self.upload(body["dataset_id"], jsonl(samples))
                assert status == 200, result
            return body["dataset_id"]

        def evaluate(self, tenant_id: str, rule: dict, **fields):
            return self.post("/shadow/evaluate", {"tenant_id": tenant_id, "rule_id": "r-test", "rule_name": "test", **rule, **fields})

    return Api
