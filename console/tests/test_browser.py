"""The console in a real browser: Debian's Chromium driven by Playwright, against a live
server, on data made through the public HTTP API.

A staff user logs in through the admin's login form and opens every page; each figure
on a page is compared with the API's answer for the same object. A real Celery worker
(prefork, its own broker database and queue, batches slowed down) runs evaluations so
the progress bar can be seen moving without a reload, and a cancel seen to stop the
remaining batches. Pages are also opened with JavaScript off. A screenshot of each page
is saved under ``$SHIELDX_TEST_ARTIFACTS/console`` (default ``var/test-artifacts``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection

from console.tests.conftest import TENANT, samples
from shadow.tests.conftest import jsonl
from shieldx.services import api_key_create, tenant_create
from shieldx.testing import stop_process

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SHIELDX_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("SHIELDX_TEST_ARTIFACTS", ROOT / "var" / "test-artifacts")) / "console"
VIEWPORT = {"width": 1280, "height": 860}
SQL_WORDS = {"type": "signature", "patterns": ["select", "union", "' or"]}
SQL_PHRASES = {"type": "signature", "patterns": ["union select", "' or", "or 1=1"]}

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):  # CI installs it (.ci/run): missing there is a failure, not a skip
        raise RuntimeError(f"no Chromium at {CHROMIUM}")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright():
    # Playwright's sync API keeps an asyncio loop in this thread; Django then refuses
    # ORM calls here (the test database flush between tests among them). The live
    # server answers in its own threads, where nothing is async.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright):
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


class Api:
    """The public HTTP API of the live server, with an operator key."""

    def __init__(self, base: str, key: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def get(self, path: str) -> dict:
        response = self.session.get(self.base + path, timeout=60)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def post(self, path: str, body: dict, expect: tuple[int, ...] = (200, 201)) -> dict:
        response = self.session.post(self.base + path, json=body, timeout=120)
        assert response.status_code in expect, (path, response.status_code, response.text)
        return response.json()

    def upload(self, dataset_id: str, rows: list[dict]) -> None:
        response = self.session.post(
            f"{self.base}/shadow/datasets/{dataset_id}/samples", data=jsonl(rows).encode(), headers={"Content-Type": "application/x-ndjson"}, timeout=120
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def api(live_server):
    tenant_create(tenant_id=TENANT)  # tenants are made by command or admin, not by the API
    _, key = api_key_create(tenant=None, scopes="*")
    client = Api(live_server.url, key)
    client.post("/credits/purchase", {"tenant_id": TENANT, "amount": 10_000, "description": "opening purchase"})
    return client


def login(browser, live_server, username: str, password: str, *, javascript: bool = True):
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=javascript)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/console/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    return context, page


MAX_SHOT_HEIGHT = 1500  # the top of a long page says what it is; keeps the PNGs small


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_SHOT_HEIGHT)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})


def figures(page, scope: str = "body") -> dict[str, str]:
    return page.eval_on_selector_all(f"{scope} [data-figure]", "els => Object.fromEntries(els.map(e => [e.dataset.figure, e.dataset.value]))")


def credits_history(api: Api) -> None:
    for amount in (1200, 350, 800, 90, 2400):
        api.post("/credits/consume", {"tenant_id": TENANT, "amount": amount, "description": "scan batch"})
    api.post("/credits/purchase", {"tenant_id": TENANT, "amount": 5000, "description": "top-up"})
    api.post("/credits/consume", {"tenant_id": TENANT, "amount": 1700, "description": "scan batch"})
    hold = api.post("/credits/reserve", {"tenant_id": TENANT, "amount": 900, "description": "nightly crawl"})
    api.post(f"/credits/reservations/{hold['reservation_id']}/capture", {"amount": 600})
    api.post("/credits/reserve", {"tenant_id": TENANT, "amount": 1500, "description": "weekly crawl"})


def shadow_history(api: Api) -> dict:
    dataset = api.post("/shadow/datasets", {"tenant_id": TENANT, "name": "default"})
    api.upload(dataset["dataset_id"], samples())
    api.post("/shadow/rules", {"tenant_id": TENANT, "rule_id": "sqli", "name": "SQL keywords", "rule_type": "signature", "rule_config": SQL_WORDS})
    api.post("/shadow/rules", {"tenant_id": TENANT, "rule_id": "sqli", "name": "SQL phrases", "rule_type": "signature", "rule_config": SQL_PHRASES})
    v1 = api.post("/shadow/evaluate", {"tenant_id": TENANT, "rule_id": "sqli", "version": 1, "seed": 11})
    v2 = api.post("/shadow/evaluate", {"tenant_id": TENANT, "rule_id": "sqli", "version": 2, "seed": 11})
    api.post("/shadow/rules/sqli/deploy", {"tenant_id": TENANT, "version": 1, "eval_id": v1["eval_id"], "force": True})
    api.post("/shadow/rules/sqli/deploy", {"tenant_id": TENANT, "version": 2, "eval_id": v2["eval_id"], "force": True})
    api.post("/shadow/rules/sqli/rollback", {"tenant_id": TENANT})
    compared = api.post("/shadow/compare", {"tenant_id": TENANT, "rule_a": {"rule_id": "sqli", "version": 1}, "rule_b": {"rule_id": "sqli", "version": 2}})
    return {"v1": v1, "v2": v2, "compared": compared}


def test_a_user_who_is_not_staff_is_refused(browser, live_server, plain_user):
    context, page = login(browser, live_server, "viewer", "console-pass-2")
    assert "staff account" in page.locator(".errornote").inner_text()  # the admin's login refuses them
    page.goto(f"{live_server.url}/console/")
    assert "/admin/login/" in page.url and page.locator("#id_username").count() == 1
    assert page.locator("h1", has_text="Dashboard").count() == 0
    context.close()


def test_every_page_shows_the_apis_figures(browser, live_server, staff_user, api):
    credits_history(api)
    made = shadow_history(api)
    context, page = login(browser, live_server, "operator", "console-pass-1")
    base = live_server.url

    # Dashboard, reached from the admin's "Console" link.
    page.goto(f"{base}/admin/")
    page.click("#user-tools a[href='/console/']")
    assert page.url == f"{base}/console/"
    balance = api.get(f"/credits/balance/{TENANT}")
    row = figures(page, f"tr[data-tenant='{TENANT}']")
    assert {k: int(v) for k, v in row.items()} == {k: balance[k] for k in ("balance", "available", "reserved_funds")}
    assert page.locator("#chains-h").is_visible()
    shot(page, "dashboard")

    # Tenant page: balance, chart, holds, transactions; "Verify now" gives the API's verdict.
    page.click(f"#tenants a[href='/console/tenants/{TENANT}']")
    shown = {k: int(v) for k, v in figures(page, "#balance-h + dl").items()}
    assert shown == {k: balance[k] for k in ("balance", "available", "reserved_funds", "total_spent", "total_purchased")}
    listed = api.get(f"/credits/transactions/{TENANT}?limit=20")["results"]
    rows = page.locator("#transactions tbody tr")
    assert rows.count() == len(listed)
    for index, txn in enumerate(listed):
        assert rows.nth(index).get_attribute("data-transaction") == txn["transaction_id"]
        assert int(rows.nth(index).locator("[data-col=balance]").get_attribute("data-value")) == txn["balance"]
    assert page.locator("svg.line-chart path.line").count() == 2
    page.click("summary:has-text('as a table')")
    assert page.locator("#series-table tbody tr").count() == len(api.get(f"/credits/transactions/{TENANT}?limit=100")["results"])
    assert page.locator("#reservations tbody tr").count() == 1
    page.click("button:has-text('Verify now')")
    verdict = api.get(f"/credits/audit/{TENANT}/verify")
    assert page.locator("[data-chain-valid=true]").is_visible() and verdict["valid"]
    assert f"{verdict['length']} entries" in page.locator("#chain").inner_text()
    shot(page, "tenant")

    # Evaluation report of v1: every figure is the API's; false positives page and are marked.
    v1 = api.get(f"/shadow/evaluations/{made['v1']['eval_id']}")
    page.goto(f"{base}/console/evaluations/{v1['eval_id']}")
    shown = figures(page)
    for key in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
        assert int(shown[key]) == v1[key], key
    for key in ("precision", "recall", "f1_score", "false_positive_rate", "accuracy"):
        assert float(shown[key]) == v1[key], key
    assert page.locator("#recommendations li").all_inner_texts() == v1["recommendations"]
    categories = page.locator("#categories tbody tr")
    assert categories.count() == len(v1["by_category"])
    for name, figures_of in v1["by_category"].items():
        assert float(page.locator(f"#categories tr[data-category='{name}'] td[data-value]").get_attribute("data-value")) == figures_of["recall"]
    assert page.locator("#sample-list mark").count() > 0
    shot(page, "evaluation")
    seen = page.locator("#sample-list li.sample").evaluate_all("els => els.map(e => e.dataset.sampleId)")
    while page.locator("#next-samples").count():
        page.click("#next-samples")
        seen += page.locator("#sample-list li.sample").evaluate_all("els => els.map(e => e.dataset.sampleId)")
    from_api, cursor = [], ""
    while True:
        chunk = api.get(f"/shadow/evaluations/{v1['eval_id']}/samples?outcome=fp&limit=50{cursor}")
        from_api += [s["id"] for s in chunk["results"]]
        if not chunk["next_cursor"]:
            break
        cursor = f"&cursor={chunk['next_cursor']}"
    assert seen == from_api and len(seen) == v1["false_positives"] > 10

    # Compare page for the API's A/B comparison.
    compared = made["compared"]
    page.goto(f"{base}/console/compare?a={compared['a']['eval_id']}&b={compared['b']['eval_id']}")
    shown = figures(page)
    assert (int(shown["a_only_correct"]), int(shown["b_only_correct"])) == (compared["a_only_correct"], compared["b_only_correct"])
    assert float(shown["mcnemar_p_value"]) == compared["mcnemar_p_value"] and shown["winner"] == compared["winner"]
    for key in ("precision", "recall", "f1_score", "false_positive_rate"):
        assert float(page.locator(f"#metrics tr[data-metric={key}] td[data-side=a]").get_attribute("data-value")) == compared["a"][key]
        assert float(page.locator(f"#metrics tr[data-metric={key}] td[data-side=b]").get_attribute("data-value")) == compared["b"][key]
    assert page.locator("#only-a tbody tr").count() == max(1, len(compared["fired_only_in_a"]))
    shot(page, "compare")

    # Rule page: versions with their evaluations' F1/FPR, the timeline, the active version.
    rule = api.get(f"/shadow/rules/sqli?tenant_id={TENANT}")
    page.goto(f"{base}/console/rules/{TENANT}/sqli")
    assert figures(page)["active_version"] == str(rule["active_version"])
    for made_eval in (made["v1"], made["v2"]):
        row = page.locator(f"tr[data-eval='{made_eval['eval_id']}']")
        assert float(row.locator("[data-figure=f1_score]").get_attribute("data-value")) == made_eval["f1_score"]
        assert float(row.locator("[data-figure=false_positive_rate]").get_attribute("data-value")) == made_eval["false_positive_rate"]
    actions = page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.action + ' v' + e.dataset.version)")
    assert actions == [f"{d['action']} v{d['version']}" for d in reversed(rule["deployments"])]
    shot(page, "rule")

    # And back to the admin: the evaluation's admin page links to its report.
    page.click("a:has-text('in the admin')")
    assert "/admin/shadow/rule/" in page.url
    context.close()

    # With JavaScript off every page still renders, charts and all, and the pager works.
    context, page = login(browser, live_server, "operator", "console-pass-1", javascript=False)
    for path in ("/console/", f"/console/tenants/{TENANT}", f"/console/evaluations/{v1['eval_id']}", f"/console/rules/{TENANT}/sqli",
                 f"/console/compare?a={compared['a']['eval_id']}&b={compared['b']['eval_id']}"):  # fmt: skip
        response = page.goto(base + path)
        assert response.status == 200, path
        assert page.locator("main h1").count() == 1
    page.goto(f"{base}/console/evaluations/{v1['eval_id']}")
    assert page.locator("svg.bar-chart").count() == 1
    page.click("#next-samples")
    assert "cursor=" in page.url and page.locator("#sample-list li.sample").count() > 0
    context.close()


# --- a real worker, for evaluations that take a while ------------------------------------

BROKER = settings.TEST_REDIS_AUX_URL
BATCH_SIZE = 10
BATCH_DELAY_MS = 250


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    queue = f"console-test-{uuid.uuid4().hex[:10]}"
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env = {
        **keep, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "shieldx.settings", "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL, "SHIELDX_CACHE_PREFIX": "console-worker", "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER, "CELERY_TASK_ALWAYS_EAGER": "0", "SHADOW_CELERY_QUEUE": queue,
        "SHADOW_BATCH_SIZE": str(BATCH_SIZE), "SHADOW_BATCH_DELAY_MS": str(BATCH_DELAY_MS), "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "shieldx", "worker", "--pool", "prefork", "--concurrency", "1",
             "-Q", queue, "-n", f"{queue}@localhost", "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    yield queue
    stop_process(proc)
    client = redis.Redis.from_url(BROKER)
    client.delete(queue, *client.keys(f"*{queue}*"))


@contextlib.contextmanager
def tasks_to(queue: str, settings):
    """While inside, this process (and its live server's threads) send tasks to the worker."""
    from shieldx.celery import app

    def reset() -> None:
        app._pool = None  # kombu keeps pools per URL globally: drop the reference, never close it
        app._backend_cache = None
        app._local = threading.local()
        app.amqp._producer_pool = None

    wanted = {"broker_url": BROKER, "result_backend": BROKER, "task_always_eager": False}
    saved = {f"CELERY_{key.upper()}": app.conf[key] for key in wanted}
    app.conf.update({f"CELERY_{key.upper()}": value for key, value in wanted.items()})
    settings.SHADOW_CELERY_QUEUE = queue
    reset()
    try:
        yield
    finally:
        app.conf.update(saved)
        reset()


def progress_of(page) -> float:
    return page.eval_on_selector("#progress", "e => e.value")


def test_the_progress_bar_moves_without_a_reload_and_cancel_stops_the_rest(browser, live_server, staff_user, api, worker, settings):
    dataset = api.post("/shadow/datasets", {"tenant_id": TENANT, "name": "default"})
    api.upload(dataset["dataset_id"], samples())
    context, page = login(browser, live_server, "operator", "console-pass-1")
    with tasks_to(worker, settings):
        started = api.post("/shadow/evaluate", {"tenant_id": TENANT, "rule_type": "signature", "rule_config": SQL_WORDS, "wait_seconds": 0}, expect=(202,))
        page.goto(f"{live_server.url}/console/evaluations/{started['eval_id']}")
        page.evaluate("window.sameDocument = true")
        page.wait_for_function("document.getElementById('progress').value > 0", timeout=60_000)
        first = progress_of(page)
        assert 0 < first < 1
        page.wait_for_function(f"document.getElementById('progress').value > {first}", timeout=30_000)
        assert page.evaluate("window.sameDocument") is True  # it moved without a reload
        shot(page, "evaluation-running")
        page.wait_for_selector("#matrix", timeout=120_000)  # reloaded itself once completed
        assert api.get(f"/shadow/evaluations/{started['eval_id']}")["status"] == "completed"

        other = api.post("/shadow/evaluate", {"tenant_id": TENANT, "rule_type": "signature", "rule_config": SQL_PHRASES, "wait_seconds": 0}, expect=(202,))
        page.goto(f"{live_server.url}/console/evaluations/{other['eval_id']}")
        page.wait_for_function("document.getElementById('progress').value > 0", timeout=60_000)
        page.click("#cancel")
        assert page.locator("#failed-h").inner_text() == "Cancelled"
        cancelled = api.get(f"/shadow/evaluations/{other['eval_id']}")
        assert cancelled["status"] == "failed" and cancelled["error"]["code"] == "evaluation_cancelled"
        time.sleep(1.0)  # a batch already judging may still land
        settled = api.get(f"/shadow/evaluations/{other['eval_id']}")["progress"]
        time.sleep(3 * BATCH_DELAY_MS / 1000 + 1.0)  # several batches' time: none of the rest may run
        assert api.get(f"/shadow/evaluations/{other['eval_id']}")["progress"] == settled < 1
    context.close()
