"""The bank test: does the ledger stay honest while its processes die under it?

In the manner of Jepsen's bank test. The script starts its own PostgreSQL (``initdb``
into a temporary directory) and its own redis-server, both on private loopback ports —
never the machine's shared instances — and gunicorn serving the project on them. Client
threads run a random mix of consume, purchase, reserve, capture, release and refund
over the credits HTTP API, each operation with its own idempotency key, while a nemesis
kills gunicorn workers with SIGKILL, restarts PostgreSQL in immediate mode (a crash, as
far as the server knows) and stops and starts Redis.

Every outcome is recorded: ``ok`` (2xx), ``refused`` (a definite 4xx: nothing happened)
or ``unknown`` (timeout, reset connection, 5xx). Once the nemesis rests, each unknown
is settled by replaying its idempotency key with the same body until the answer is
definite. Then the checker proves, from the API alone:

- no balance, available amount or history row is ever negative;
- per tenant, balance = opening + purchases − consumes + refunds − captures, both by
  the clients' record and by the server's own history, and reserved funds equal the
  holds the clients know are pending;
- one effect per key: every acknowledged transaction is in the history exactly once,
  and the history holds no effect that no key accounts for;
- every tenant's audit chain verifies, by the server and recomputed here from the
  export with the contract's formula.

It prints a scoreboard and exits 1 on any violation, 2 when it could not run.
``make chaos`` runs it for 90 s of faults (about 2 minutes in all);
``python -m chaos.bank --duration 20 --fault-interval 3`` is the short version CI runs
after the tests (under a minute on a quiet machine).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shieldx.testing import RedisServer, child_pids, free_port, stop_process, wait_for_port  # noqa: E402 - after the path

OPENING = 300  # small: balances run near zero, where overdrafts would show
FAULTS = ("kill_worker", "postgres_restart", "redis_restart")
EPOCH = time.monotonic()  # attempts are logged relative to it
CACHE_STALENESS_BOUND = 10 + 2 + 1  # credits.cache.L2_TTL + L1_TTL, and a second to spare


class SetupFailed(RuntimeError):
    pass


# --- the services ------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]), reverse=True)
    if not versions:
        raise SetupFailed(f"{name} not found: install PostgreSQL's server binaries (Debian: postgresql)")
    return str(versions[0])


class Postgres:
    """A throwaway cluster. PostgreSQL refuses to run as root, so as root it runs as the
    ``postgres`` system user; the data directory is a fresh temporary one either way."""

    def __init__(self, base: Path):
        self.port = free_port()
        self.dir = base / "pgdata"
        self.socket_dir = base / "pgsock"
        self.log = base / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            os.chmod(base, 0o755)  # noqa: S103 - the postgres user must reach its data directory inside
        for path in (self.dir, self.socket_dir):
            path.mkdir(mode=0o700)
        self.log.touch()
        if self.as_user:
            for path in (self.dir, self.socket_dir, self.log):
                shutil.chown(path, "postgres")
        self._run([_pg_bin("initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        self.start()

    def _run(self, command: list[str]) -> None:
        result = subprocess.run([*self.as_user, *command], capture_output=True, text=True, timeout=120, cwd="/")
        if result.returncode != 0:
            raise SetupFailed(f"{' '.join(command[:2])} failed: {result.stderr.strip()[-500:]}")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/shieldx"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run([_pg_bin("pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"])

    def crash(self) -> None:
        """Immediate mode: no checkpoint, no goodbye to clients; recovery replays the WAL."""
        self._run([_pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"])

    def create_database(self) -> None:
        self._run(
            [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-qc", "CREATE DATABASE shieldx"]
        )

    def close(self) -> None:
        try:
            self.crash()
        except (SetupFailed, subprocess.TimeoutExpired):
            pass


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int, base: Path):
        self.port = free_port()
        self.log = base / "gunicorn.log"
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [gunicorn, "shieldx.wsgi", "--config", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{self.port}",
                 "--workers", str(workers), "--timeout", "20"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_port(self.port, timeout=60)

    def workers(self) -> list[int]:
        return child_pids(self.proc)

    def close(self) -> None:
        stop_process(self.proc)


# --- the clients ---------------------------------------------------------------------------


@dataclass
class Call:
    """One logical operation: its key and body never change, however often it is sent."""

    op: str
    tenant: str
    path: str
    body: dict[str, Any]
    outcome: str = "pending"  # ok | refused | unknown
    first_unknown: str = ""  # why the first attempt said nothing: no answer, 503, 409 key in use…
    status: int | None = None
    answer: dict[str, Any] | None = None
    attempts: int = 0
    settled_by_replay: bool = False
    trail: list[str] = field(default_factory=list)  # every attempt: when, status, code, replayed

    def explain(self) -> str:
        return f"{self.op} {self.path} {json.dumps(self.body, sort_keys=True)} -> {self.outcome}; attempts: {'; '.join(self.trail)}"


@dataclass
class Ledger:
    """What the clients know, per tenant."""

    calls: list[Call] = field(default_factory=list)
    observed_negative: list[str] = field(default_factory=list)
    server_errors: int = 0
    stopped_clients: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)


class Api:
    def __init__(self, port: int, keys: dict[str, str], timeout: float = 8.0):
        self.base = f"http://127.0.0.1:{port}"
        self.keys = keys
        self.timeout = timeout

    def send(self, method: str, path: str, tenant: str, body: dict | None = None) -> tuple[int | None, dict | None]:
        """(status, json) or (None, None) when the outcome cannot be known."""
        status, answer, _ = self.exchange(method, path, tenant, body)
        return status, answer

    def exchange(self, method: str, path: str, tenant: str, body: dict | None = None) -> tuple[int | None, dict | None, str]:
        """``send``, and a note for the call's trail: why there was no answer, or that a
        stored answer was replayed.

        An answer is known only when it arrived whole. A worker killed after its status
        line but before the end of its body leaves a 201 (the effect committed) or a 409
        (key in use? reused?) without the body that says which: that is no answer, never
        a crash of the client nor a refusal."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.keys[tenant]}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)  # noqa: S310 - loopback
        status = None
        try:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    status = response.status
                    return status, json.loads(response.read() or b"{}"), _replayed(response)
            except urllib.error.HTTPError as error:
                status = error.code
                return status, json.loads(error.read() or b"{}"), _replayed(error)
        # refused, reset, timed out; a status line without its whole body (IncompleteRead),
        # or no status line at all (BadStatusLine, RemoteDisconnected); a body that is not JSON
        except (OSError, ValueError, http.client.HTTPException) as exc:
            cut = f"{status} cut short: " if status is not None else ""
            return None, None, f"{cut}{type(exc).__name__}: {exc}"


def _replayed(response) -> str:
    return "replayed" if response.headers.get("Idempotent-Replayed") else ""


class Client(threading.Thread):
    def __init__(self, index: int, api: Api, tenants: list[str], ledger: Ledger, stop: threading.Event, seed: int):
        super().__init__(name=f"client-{index}", daemon=True)
        self.api, self.tenants, self.ledger, self.stop = api, tenants, ledger, stop
        self.rng = random.Random(seed)
        self.holds: list[tuple[str, str, int]] = []  # (tenant, reservation id, amount) pending
        self.consumes: list[tuple[str, str, int]] = []  # (tenant, transaction id, refundable)

    def call(self, op: str, tenant: str, path: str, body: dict[str, Any]) -> Call:
        body = {**body, "idempotency_key": f"chaos-{uuid.uuid4().hex}"}
        call = Call(op=op, tenant=tenant, path=path, body=body)
        self.ledger.add(call)
        sent = time.monotonic()
        status, answer, note = self.api.exchange("POST", path, tenant, body)
        call.attempts = 1
        record(call, status, answer, self.ledger, note=note, sent=sent)
        if call.outcome == "unknown":
            # As a well-behaved client would (Retry-After): back off instead of hammering.
            self.stop.wait(self.rng.uniform(0.3, 1.0))
        return call

    def run(self) -> None:
        try:
            self.work()
        except Exception as exc:  # noqa: BLE001 - a client that dies must fail the run, not thin it out unseen
            with self.ledger.lock:
                self.ledger.stopped_clients.append(f"{self.name} stopped: {type(exc).__name__}: {exc}")

    def work(self) -> None:
        while not self.stop.is_set():
            tenant = self.rng.choice(self.tenants)
            roll = self.rng.random()
            if roll < 0.30:
                call = self.call("consume", tenant, "/credits/consume", {"tenant_id": tenant, "amount": self.rng.randint(1, 70)})
                if call.outcome == "ok":
                    self.consumes.append((tenant, call.answer["transaction_id"], call.body["amount"]))
            elif roll < 0.50:
                self.call("purchase", tenant, "/credits/purchase", {"tenant_id": tenant, "amount": self.rng.randint(1, 60)})
            elif roll < 0.70:
                call = self.call("reserve", tenant, "/credits/reserve", {"tenant_id": tenant, "amount": self.rng.randint(1, 40)})
                if call.outcome == "ok":
                    self.holds.append((tenant, call.answer["reservation_id"], call.body["amount"]))
            elif roll < 0.85 and self.holds:
                hold_tenant, rsv, amount = self.holds.pop(self.rng.randrange(len(self.holds)))
                if self.rng.random() < 0.6:
                    body = {"amount": self.rng.randint(1, amount)} if self.rng.random() < 0.5 else {}
                    self.call("capture", hold_tenant, f"/credits/reservations/{rsv}/capture", body)
                else:
                    self.call("release", hold_tenant, f"/credits/reservations/{rsv}/release", {})
            elif self.consumes:
                consume_tenant, txn, refundable = self.consumes.pop(self.rng.randrange(len(self.consumes)))
                self.call(
                    "refund",
                    consume_tenant,
                    "/credits/refund",
                    {"tenant_id": consume_tenant, "transaction_id": txn, "amount": self.rng.randint(1, refundable)},
                )
            if self.rng.random() < 0.1:
                status, balance = self.api.send("GET", f"/credits/balance/{tenant}", tenant)
                if status == 200:
                    check_balance_shape(balance, f"balance read of {tenant}", self.ledger)


def record(call: Call, status: int | None, answer: dict | None, ledger: Ledger, *, note: str = "", sent: float = 0.0) -> None:
    """ok: it took effect; refused: a definite no; unknown: anything that does not say
    (no answer, a 5xx, a 429, or the key still in use by a request a dead worker held)."""
    call.status = status
    code = (answer or {}).get("error", {}).get("code") if isinstance(answer, dict) else None
    took = time.monotonic() - sent
    txn = (answer or {}).get("transaction_id") or (answer or {}).get("reservation_id") or "" if isinstance(answer, dict) else ""
    call.trail.append(f"t={sent - EPOCH:.2f}s +{took:.2f}s {status} {code or ''} {txn} {note}".replace("  ", " ").strip())
    if status is not None and status >= 500 and status != 503:
        with ledger.lock:
            ledger.server_errors += 1
    if status is not None and 200 <= status < 300:
        call.outcome, call.answer = "ok", answer
        check_balance_shape(answer or {}, f"{call.op} answer", ledger)
    elif status is None or status >= 500 or status == 429 or code == "idempotency_key_in_use":
        call.outcome = "unknown"
        why = note.split(":")[0] if "cut short" in note else "no answer"  # e.g. "201 cut short": it may well have happened
        call.first_unknown = call.first_unknown or (why if status is None else f"{status} {code or ''}".strip())
    else:
        call.outcome, call.answer = "refused", answer


def check_balance_shape(answer: dict, where: str, ledger: Ledger) -> None:
    for name in ("balance", "available", "reserved_funds"):
        value = answer.get(name)
        if isinstance(value, int) and value < 0:
            with ledger.lock:
                ledger.observed_negative.append(f"{where}: {name} = {value}")


# --- the nemesis -------------------------------------------------------------------------------


class Nemesis(threading.Thread):
    def __init__(self, postgres: Postgres, redis: RedisServer, web: Gunicorn, stop: threading.Event, interval: float, seed: int):
        super().__init__(name="nemesis", daemon=True)
        self.postgres, self.redis, self.web, self.stop = postgres, redis, web, stop
        self.interval = interval
        self.rng = random.Random(seed)
        self.injected: collections.Counter[str] = collections.Counter()
        self.every_kind = threading.Event()
        self.errors: list[str] = []
        self.timeline: list[str] = []  # when each fault began and ended, to read beside a call's attempts

    def run(self) -> None:
        plan: list[str] = []
        while not self.stop.wait(self.interval * self.rng.uniform(0.6, 1.4)):
            if not plan:  # every kind once per round, in a random order
                plan = list(FAULTS)
                self.rng.shuffle(plan)
            fault = plan.pop()
            began = time.monotonic()
            try:
                getattr(self, fault)()
                self.injected[fault] += 1
                self.timeline.append(f"t={began - EPOCH:.2f}s..{time.monotonic() - EPOCH:.2f}s {fault}")
            except Exception as exc:  # noqa: BLE001 - reported on the scoreboard
                self.errors.append(f"{fault}: {exc}")
            if all(self.injected[f] for f in FAULTS):
                self.every_kind.set()

    def kill_worker(self) -> None:
        workers = self.web.workers()
        if workers:
            os.kill(self.rng.choice(workers), signal.SIGKILL)

    def postgres_restart(self) -> None:
        self.postgres.crash()
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.postgres.start()

    def redis_restart(self) -> None:
        self.redis.stop()
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.redis.start()


# --- settling and checking ------------------------------------------------------------------


def settle(api: Api, ledger: Ledger, deadline: float, threads: int = 8) -> list[Call]:
    """Replay every unknown outcome's key and body until the answer is definite; a call
    still pending (its client stopped in the middle of it) is unknown too."""
    pending = [c for c in ledger.calls if c.outcome in ("unknown", "pending")]
    for call in pending:
        call.settled_by_replay = True
        call.first_unknown = call.first_unknown or "its client stopped"

    def replay(call: Call) -> None:
        sent = time.monotonic()
        status, answer, note = api.exchange("POST", call.path, call.tenant, call.body)
        call.attempts += 1
        record(call, status, answer, ledger, note=note, sent=sent)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        while pending and time.monotonic() < deadline:
            list(pool.map(replay, pending))
            pending = [c for c in pending if c.outcome == "unknown"]
            if pending:
                time.sleep(0.5)
    return pending


def _pages(api: Api, tenant: str, path: str, key: str, next_key: str, param: str) -> list[dict]:
    rows, marker = [], None
    while True:
        query = f"?limit=500&{param}={marker}" if marker is not None else "?limit=500"
        status, page = api.send("GET", path + query, tenant)
        if status != 200:
            raise SetupFailed(f"GET {path} answered {status}: {page}")
        rows += page[key]
        marker = page[next_key]
        if marker is None:
            return rows


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _suspects(calls: list[Call], op: str, amount: int | None = None) -> str:
    """The calls that may explain an effect: of that kind (and amount), not acknowledged
    first, each with every attempt, so a violation can be read without a rerun."""
    alike = [c for c in calls if c.op == op and amount in (None, c.body.get("amount"))]
    unacknowledged = [c for c in alike if c.outcome != "ok"]
    shown = unacknowledged + ([c for c in alike if c.outcome == "ok"] if amount is not None else [])
    more = f"\n      … and {len(shown) - 20} more" if len(shown) > 20 else ""
    return "".join(f"\n      suspect: {c.explain()}" for c in shown[:20]) + more or " (no unacknowledged call of that kind)"


def check(api: Api, tenants: list[str], ledger: Ledger) -> tuple[list[str], dict[str, Any]]:
    violations: list[str] = list(ledger.observed_negative)
    figures: dict[str, Any] = {}
    ok = [c for c in ledger.calls if c.outcome == "ok"]
    for tenant in tenants:
        mine = [c for c in ok if c.tenant == tenant]
        mine_all = [c for c in ledger.calls if c.tenant == tenant]
        amounts: collections.Counter[str] = collections.Counter()
        for c in mine:
            amounts[c.op] += c.answer["captured_amount"] if c.op == "capture" else c.answer.get("amount", 0)
        expected = OPENING + amounts["purchase"] - amounts["consume"] + amounts["refund"] - amounts["capture"]

        status, balance = api.send("GET", f"/credits/balance/{tenant}", tenant)
        if status != 200:
            raise SetupFailed(f"balance of {tenant} answered {status}")
        history = _pages(api, tenant, f"/credits/transactions/{tenant}", "results", "next_cursor", "cursor")
        by_type: collections.Counter[str] = collections.Counter()
        for row in history:
            by_type[row["type"]] += row["amount"]
            if min(row["balance"], row["available"]) < 0:
                violations.append(
                    f"{tenant}: history row {row['transaction_id']} has balance {row['balance']}, available {row['available']}"
                )
        from_history = (
            by_type["grant"] + by_type["purchase"] - by_type["consume"] + by_type["refund"] - by_type["capture"] - by_type["expire"]
        )
        if balance["balance"] != expected:
            violations.append(f"{tenant}: balance {balance['balance']} but the clients' record gives {expected}")
        if balance["balance"] != from_history:
            violations.append(f"{tenant}: balance {balance['balance']} but its own history sums to {from_history}")

        # Holds: what the clients know is pending is exactly what is reserved.
        closed = {c.path.split("/")[3] for c in mine if c.op in ("capture", "release")}
        pending = sum(c.answer["amount"] for c in mine if c.op == "reserve" and c.answer["reservation_id"] not in closed)
        if balance["reserved_funds"] != pending:
            violations.append(f"{tenant}: reserved_funds {balance['reserved_funds']} but the clients' pending holds sum to {pending}")

        # One effect per key: each acknowledged transaction once, and nothing unaccounted for.
        acknowledged = collections.Counter(c.answer["transaction_id"] for c in mine if c.op in ("consume", "purchase", "refund"))
        listed = collections.Counter(row["transaction_id"] for row in history if row["type"] in ("consume", "purchase", "refund"))
        for txn, n in acknowledged.items():
            if n != 1:
                violations.append(f"{tenant}: transaction {txn} acknowledged for {n} different keys")
            if listed[txn] != 1:
                violations.append(f"{tenant}: acknowledged transaction {txn} appears {listed[txn]} times in the history")
        for txn in listed.keys() - acknowledged.keys():
            row = next(row for row in history if row["transaction_id"] == txn)
            violations.append(
                f"{tenant}: history holds {txn} ({row['type']} {row['amount']} at {row['created_at']}), which no key accounts for"
                f" (a duplicate effect, or an outcome taken as definite that was not){_suspects(mine_all, row['type'], row['amount'])}"
            )
        for kind in ("reserve", "capture"):
            keys = sum(1 for c in mine if c.op == kind)
            rows = sum(1 for row in history if row["type"] == kind)
            if rows != keys:
                violations.append(
                    f"{tenant}: {rows} {kind} entries in the history for {keys} acknowledged {kind} keys{_suspects(mine_all, kind)}"
                )

        # The audit chain: the server's verdict, and our own recomputation of the export.
        status, verdict = api.send("GET", f"/credits/audit/{tenant}/verify", tenant)
        if status != 200 or not verdict.get("valid"):
            violations.append(f"{tenant}: audit chain does not verify: {verdict}")
        entries = _pages(api, tenant, f"/credits/audit/{tenant}", "results", "next_after_seq", "after_seq")
        prev = "0" * 64
        for seq, entry in enumerate(entries, start=1):
            body = {k: v for k, v in entry.items() if k != "hash"}
            if entry["seq"] != seq or entry["prev_hash"] != prev or hashlib.sha256(_canonical(body)).hexdigest() != entry["hash"]:
                violations.append(f"{tenant}: audit entry {entry['seq']} does not recompute")
                break
            prev = entry["hash"]
        figures[tenant] = {"balance": balance["balance"], "history": len(history), "audit": len(entries)}
    return violations, figures


# --- the run -----------------------------------------------------------------------------------


def _checker_catches_a_forgotten_effect(api: Api, tenants: list[str], ledger: Ledger) -> list[str]:
    """A checker that cannot fail proves nothing: hide one acknowledged consume from it
    (as if its effect had happened twice, once unaccounted for) and it must object."""
    victim = next((c for c in ledger.calls if c.op == "consume" and c.outcome == "ok"), None)
    if victim is None:
        return ["checker self-test: no acknowledged consume to hide"]
    hidden = Ledger(calls=[c for c in ledger.calls if c is not victim])
    found, _ = check(api, [victim.tenant], hidden)
    expected = f"history holds {victim.answer['transaction_id']}"
    return [] if any(expected in v for v in found) else ["checker self-test: a hidden effect went unnoticed"]


def _setup_tenants(env: dict[str, str], tenants: list[str]) -> dict[str, str]:
    code = (
        "import json, django; django.setup()\n"
        "from shieldx.services import tenant_create, api_key_create\n"
        "from credits import services\n"
        "keys = {}\n"
        f"for t in {tenants!r}:\n"
        "    tenant = tenant_create(tenant_id=t)\n"
        f"    services.account_open(tenant_id=t, initial_credits={OPENING}, actor='chaos')\n"
        "    keys[t] = api_key_create(tenant=tenant, scopes='credits:read,credits:consume,credits:reserve,credits:purchase,credits:audit')[1]\n"
        "print(json.dumps(keys))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SetupFailed(f"tenant setup failed: {result.stderr[-1500:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="shieldx-chaos-"))
    postgres = redis = web = None
    try:
        postgres = Postgres(base)
        postgres.create_database()
        redis = RedisServer()
        keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
        metrics_dir = base / "metrics"
        metrics_dir.mkdir()
        env = {
            **keep, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "shieldx.settings",
            "DATABASE_URL": postgres.url, "REDIS_URL": redis.url, "SHIELDX_RATE_LIMIT": "0", "LOG_LEVEL": "WARNING",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "SHIELDX_CACHE_PREFIX": "chaos", "DATABASE_CONNECT_TIMEOUT": "2",
        }  # fmt: skip
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if migrate.returncode != 0:
            raise SetupFailed(f"migrate failed: {migrate.stderr[-1500:]}")
        tenants = [f"chaos-{i}" for i in range(args.tenants)]
        keys = _setup_tenants(env, tenants)
        web = Gunicorn(env, args.workers, base)
        api = Api(web.port, keys)
        set_up = time.monotonic()
        print(f"set up in {time.monotonic() - started:.1f} s: PostgreSQL :{postgres.port}, Redis :{redis.port}, gunicorn :{web.port} "
              f"({args.workers} workers), {args.clients} clients on {args.tenants} tenants for {args.duration} s", flush=True)  # fmt: skip

        ledger, stop = Ledger(), threading.Event()
        clients = [Client(i, api, tenants, ledger, stop, seed=args.seed * 1000 + i) for i in range(args.clients)]
        nemesis = Nemesis(postgres, redis, web, stop, interval=args.fault_interval, seed=args.seed)
        for thread in (*clients, nemesis):
            thread.start()
        time.sleep(args.duration)
        # A slow machine may not have seen every fault kind yet: the run goes on a little.
        nemesis.every_kind.wait(timeout=30)
        stop.set()
        for thread in (*clients, nemesis):
            thread.join(timeout=30)
        unknown = sum(1 for c in ledger.calls if c.outcome in ("unknown", "pending"))

        # Let the system heal: every service up, every worker back, then settle.
        wait_for_port(postgres.port, timeout=60)
        wait_for_port(redis.port, timeout=30)
        load_done = time.monotonic()
        unsettled = settle(api, ledger, deadline=time.monotonic() + args.settle_seconds)
        # Balance reads are cached: a write whose publish was lost (its worker killed after
        # commit, or Redis down) is seen once the cache's bound has passed
        # (credits/cache.py: L2_TTL + L1_TTL), so the checker reads after it.
        time.sleep(CACHE_STALENESS_BOUND)
        settled = time.monotonic()
        violations, figures = check(api, tenants, ledger)
        violations += _checker_catches_a_forgotten_effect(api, tenants, ledger)
        checked = time.monotonic()
    except SetupFailed as exc:
        print(f"chaos: could not run: {exc}", file=sys.stderr)
        return 2
    finally:
        for service in (web, redis, postgres):
            if service is not None:
                service.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    outcomes = collections.Counter((c.op, c.outcome) for c in ledger.calls)
    ops = ("consume", "purchase", "reserve", "capture", "release", "refund")
    rows = [("operation", "ok", "refused", "unknown→ok", "unknown→refused", "unsettled")]
    for op in ops:
        replayed = [c for c in ledger.calls if c.op == op and c.settled_by_replay]
        rows.append((op, str(outcomes[(op, "ok")] - sum(c.outcome == "ok" for c in replayed)),
                     str(outcomes[(op, "refused")] - sum(c.outcome == "refused" for c in replayed)),
                     str(sum(c.outcome == "ok" for c in replayed)), str(sum(c.outcome == "refused" for c in replayed)),
                     str(sum(c.outcome == "unknown" for c in replayed))))  # fmt: skip
    missing = [f for f in FAULTS if nemesis.injected[f] == 0]
    if missing:
        violations.append(f"fault kinds never injected: {', '.join(missing)} (run longer or lower --fault-interval)")
    if unsettled:
        violations.append(f"{len(unsettled)} unknown outcomes could not be settled within {args.settle_seconds} s")
    violations += ledger.stopped_clients  # the run did less than it claims
    if ledger.server_errors:
        violations.append(f"{ledger.server_errors} answers were 5xx other than 503 (a 500 is always a bug)")
    print()
    print(_table(rows))
    print()
    print(_table([("faults injected", *FAULTS), ("", *(str(nemesis.injected[f]) for f in FAULTS))]))
    print()
    summary = [
        ("operations", str(len(ledger.calls))),
        ("unknown outcomes", str(unknown)),
        ("settled by replaying their key", str(unknown - len(unsettled))),
        ("nemesis errors", str(len(nemesis.errors))),
        ("violations", str(len(violations))),
        ("wall time", f"{time.monotonic() - started:.0f} s"),
    ]
    print(_table(summary))
    causes = collections.Counter(c.first_unknown for c in ledger.calls if c.settled_by_replay)
    print("  unknown because: " + (", ".join(f"{cause} ×{n}" for cause, n in causes.most_common()) or "-"))
    print(
        f"  phases: set-up {set_up - started:.0f} s, load {load_done - set_up:.0f} s, settle {settled - load_done:.0f} s, check {checked - settled:.0f} s"
    )
    for tenant, figure in figures.items():
        print(f"  {tenant}: balance {figure['balance']}, {figure['history']} history rows, {figure['audit']} audit entries")
    for error in nemesis.errors:
        print(f"nemesis: {error}")
    for violation in violations:
        print(f"VIOLATION: {violation}")
    if violations:
        print("faults: " + ", ".join(nemesis.timeline))
    print("\nclean: the ledger stayed honest" if not violations else f"\n{len(violations)} violation(s)")
    return 1 if violations else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=90, help="seconds of load and faults (default 90; CI runs 20)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--fault-interval", type=float, default=4.0, help="mean seconds between faults")
    parser.add_argument("--settle-seconds", type=float, default=45)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data) for a post-mortem")
    args = parser.parse_args(argv)
    print(f"chaos bank test, seed {args.seed}", flush=True)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
