"""Datasets and the all-or-nothing sample import, over the API and from the command line."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shadow.models import Dataset, Sample
from shadow.samples import MAX_SAMPLE_BYTES
from shadow.tests.conftest import jsonl, sample

pytestmark = pytest.mark.django_db
T = "org-123"


@pytest.fixture
def a(api, client_for):
    return api(client_for)


@pytest.fixture
def dataset_id(a):
    status, body = a.post("/shadow/datasets", {"tenant_id": T, "name": "main"})
    assert status == 201
    return body["dataset_id"]


def test_create_list_and_detail_with_counts_by_label_and_category(a, dataset_id):
    status, imported = a.upload(dataset_id, jsonl([
        sample("attack", query="q=1", category="sqli"),
        sample("attack", query="q=2", category="sqli"),
        sample("attack", query="q=3", category="xss"),
        sample("attack", query="q=4"),
        sample("benign", query="q=5"),
    ]))  # fmt: skip
    assert status == 200, imported
    assert imported["imported"] == 5 and imported["sample_count"] == 5 and imported["version"] == 1

    status, detail = a.get(f"/shadow/datasets/{dataset_id}")
    assert status == 200
    assert detail["dataset_id"] == dataset_id and detail["name"] == "main" and detail["sample_count"] == 5
    assert detail["by_label"] == {"attack": 4, "benign": 1}
    assert detail["by_category"] == {"benign": 1, "sqli": 2, "uncategorized": 1, "xss": 1}
    assert detail["counts"] == {"attack": {"sqli": 2, "uncategorized": 1, "xss": 1}, "benign": {"benign": 1}}

    status, listing = a.get(f"/shadow/datasets?tenant_id={T}")
    assert status == 200 and [d["dataset_id"] for d in listing["results"]] == [dataset_id]
    status, own = a.get("/shadow/datasets")  # a tenant key defaults to its own tenant
    assert own == listing


def test_create_answers_the_contract_fields(a):
    status, body = a.post("/shadow/datasets", {"tenant_id": T, "name": "fresh"})
    assert status == 201
    assert body["dataset_id"].startswith("ds_") and body["name"] == "fresh" and body["sample_count"] == 0


def test_a_duplicate_name_is_a_conflict(a, dataset_id):
    status, body = a.post("/shadow/datasets", {"tenant_id": T, "name": "main"})
    assert status == 409 and body["error"]["code"] == "conflict"


@pytest.mark.parametrize("body", [{"tenant_id": T}, {"tenant_id": T, "name": ""}, {"tenant_id": T, "name": "a b"}, {"tenant_id": T, "name": "x", "extra": 1}, {"tenant_id": T, "name": 5}])
def test_bad_dataset_bodies_are_400s(a, body):
    status, error = a.post("/shadow/datasets", body)
    assert status == 400 and error["error"]["code"] == "invalid_request"
    assert not Dataset.objects.exists()


def test_the_json_form_imports_too_and_each_import_bumps_the_version(a, dataset_id):
    status, first = a.post(f"/shadow/datasets/{dataset_id}/samples", {"samples": [sample("attack", query="q=1", id="one")]})
    assert status == 200 and first["imported"] == 1 and first["version"] == 1
    status, second = a.upload(dataset_id, jsonl([sample("benign"), sample("benign")]))
    assert status == 200 and second["sample_count"] == 3 and second["version"] == 2
    ids = list(Sample.objects.order_by("position").values_list("sample_id", flat=True))
    assert ids == ["one", f"{dataset_id}:1", f"{dataset_id}:2"]


def test_null_query_body_headers_mean_empty_as_the_schema_says(a, dataset_id):
    from shadow.openapi import SAMPLE

    nulls = {"method": "GET", "path": "/x", "label": "attack", "query": None, "headers": None, "body": None}
    status, _ = a.post(f"/shadow/datasets/{dataset_id}/samples", {"samples": [nulls]})
    assert status == 200
    assert json.loads(Sample.objects.get().data) == {"method": "GET", "path": "/x", "query": "", "headers": {}, "body": ""}
    assert all(SAMPLE["properties"][name].get("nullable") for name in ("query", "headers", "body"))


def test_missing_query_body_headers_mean_empty_and_extra_fields_are_ignored(a, dataset_id):
    status, _ = a.upload(dataset_id, '{"method": "POST", "path": "/x", "label": "benign", "source": "corpus", "payload": "p"}\n\n')
    assert status == 200
    assert json.loads(Sample.objects.get().data) == {"method": "POST", "path": "/x", "query": "", "headers": {}, "body": ""}


def test_a_nul_in_a_sample_round_trips(a, dataset_id):
    status, _ = a.upload(dataset_id, jsonl([sample("attack", body="a\u0000b", category="sqli", id="nul")]))
    assert status == 200
    assert json.loads(Sample.objects.get().data)["body"] == "a\u0000b"


def test_bad_lines_are_all_named_and_nothing_is_imported(a, dataset_id):
    oversize = json.dumps(sample("attack", body="x" * MAX_SAMPLE_BYTES))
    lines = [
        json.dumps(sample("benign")),  # 1 ok
        "{not json",  # 2
        json.dumps(sample("malicious")),  # 3 wrong label
        json.dumps(sample("attack")),  # 4 ok
        oversize,  # 5 over 1 MiB
        json.dumps({"path": "/", "label": "attack"}),  # 6 no method
        "[1, 2]",  # 7 not an object
        json.dumps({**sample("benign"), "headers": {"A": 1}}),  # 8 header value not a string
        json.dumps({**sample("benign"), "body": 5}),  # 9
    ]
    status, body = a.upload(dataset_id, "\n".join(lines) + "\n")

    assert status == 400, body
    error = body["error"]
    assert error["code"] == "invalid_request"
    assert error["details"]["lines"] == [2, 3, 5, 6, 7, 8, 9]
    assert error["details"]["invalid_count"] == 7
    assert "nothing was imported" in error["message"] and "2, 3, 5, 6, 7, 8, 9" in error["message"]
    reasons = {e["line"]: e["error"] for e in error["details"]["errors"]}
    assert "not valid JSON" in reasons[2] and "label" in reasons[3] and "exceeds" in reasons[5] and "method" in reasons[6]
    assert not Sample.objects.exists()
    detail = a.get(f"/shadow/datasets/{dataset_id}")[1]
    assert detail["sample_count"] == 0 and detail["version"] == 0


def test_a_bad_sample_late_in_a_large_upload_rolls_back_the_written_chunks(a, dataset_id):
    good = jsonl([sample("benign", query=f"q={i}") for i in range(4500)])  # more than two write chunks
    status, body = a.upload(dataset_id, good + "{oops}\n")
    assert status == 400 and body["error"]["details"]["lines"] == [4501]
    assert not Sample.objects.exists()


def test_a_bad_element_of_the_json_form_is_named(a, dataset_id):
    status, body = a.post(f"/shadow/datasets/{dataset_id}/samples", {"samples": [sample("benign"), sample("evil")]})
    assert status == 400 and body["error"]["details"]["samples"] == [2]
    assert not Sample.objects.exists()


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_an_empty_upload_is_a_400(a, dataset_id, text):
    status, body = a.upload(dataset_id, text)
    assert status == 400 and "no samples" in body["error"]["message"]


def test_a_wrong_content_type_is_a_415(a, dataset_id):
    status, body = a.upload(dataset_id, jsonl([sample("benign")]), content_type="text/csv")
    assert status == 415 and body["error"]["code"] == "unsupported_media_type"


def test_another_tenants_dataset_is_a_404_and_is_left_alone(api, client_for, make_tenant, make_client):
    other = api(make_client(make_tenant("org-other")))
    foreign = other.dataset("org-other", "theirs", [sample("benign")])
    mine = api(client_for)

    assert mine.get(f"/shadow/datasets/{foreign}")[0] == 404
    assert mine.upload(foreign, jsonl([sample("attack")]))[0] == 404
    assert mine.get("/shadow/datasets?tenant_id=org-other")[0] == 404
    assert mine.post("/shadow/datasets", {"tenant_id": "org-other", "name": "sneaky"})[0] == 404
    assert Sample.objects.filter(dataset__public_id=foreign).count() == 1
    assert mine.get("/shadow/datasets/ds_doesnotexist")[0] == 404


def test_an_operator_key_names_the_tenant(api, tenant, make_client):
    operator = api(make_client(None))
    assert operator.get("/shadow/datasets")[0] == 400
    status, body = operator.post("/shadow/datasets", {"tenant_id": tenant.tenant_id, "name": "ops"})
    assert status == 201
    assert operator.get(f"/shadow/datasets?tenant_id={tenant.tenant_id}")[1]["results"][0]["name"] == "ops"


def test_scopes(api, tenant, make_client, dataset_id):
    reader = api(make_client(tenant, scopes="shadow:read"))
    writer = api(make_client(tenant, scopes="shadow:write"))
    assert reader.get(f"/shadow/datasets/{dataset_id}")[0] == 200
    status, body = reader.post("/shadow/datasets", {"tenant_id": T, "name": "nope"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert reader.upload(dataset_id, jsonl([sample("benign")]))[0] == 403
    assert writer.get(f"/shadow/datasets/{dataset_id}")[0] == 403
    assert writer.upload(dataset_id, jsonl([sample("benign")]))[0] == 200
    assert Sample.objects.count() == 1


# --- manage.py import_samples --------------------------------------------------------


def _write(path, count: int, bad_at: int | None = None) -> None:
    with path.open("w") as out:
        for i in range(1, count + 1):
            if i == bad_at:
                out.write('{"method": "GET", "path": "/", "label": "unknown"}\n')
            else:
                label = "attack" if i % 4 == 0 else "benign"
                out.write(json.dumps({"id": f"gen-{i}", "method": "GET", "path": "/p", "query": f"q=v{i}", "label": label, "category": "sqli" if label == "attack" else None}) + "\n")


def test_import_samples_streams_20000_lines_with_a_progress_bar(tenant, tmp_path, capsys):
    path = tmp_path / "samples.jsonl"
    _write(path, 20_000)

    call_command("import_samples", "--tenant", tenant.tenant_id, "--dataset", "bulk", str(path))

    out, err = capsys.readouterr()
    assert "Imported 20000 samples" in out
    assert "100.0%" in err and "[" in err
    dataset = Dataset.objects.get(tenant=tenant, name="bulk")
    assert dataset.sample_count == 20_000 and dataset.version == 1
    assert dataset.counts == {"attack": {"sqli": 5000}, "benign": {"benign": 15000}}
    assert Sample.objects.filter(dataset=dataset).count() == 20_000
    assert list(Sample.objects.filter(dataset=dataset, position__in=[0, 19_999]).order_by("position").values_list("sample_id", flat=True)) == ["gen-1", "gen-20000"]


def test_import_samples_is_all_or_nothing(tenant, tmp_path):
    path = tmp_path / "bad.jsonl"
    _write(path, 5000, bad_at=4321)

    with pytest.raises(CommandError, match="line 4321"):
        call_command("import_samples", "--tenant", tenant.tenant_id, str(path))

    assert not Dataset.objects.exists()  # not even the dataset it would have created
    assert not Sample.objects.exists()


def test_import_samples_refuses_unknown_tenants_and_files(tenant, tmp_path):
    path = tmp_path / "ok.jsonl"
    _write(path, 3)
    with pytest.raises(CommandError, match="not found"):
        call_command("import_samples", "--tenant", "nobody", str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_samples", "--tenant", tenant.tenant_id, str(tmp_path / "x.jsonl"))
