"""Shadow evaluation through real Celery workers, against the same rule in-process.

Imports N samples (the corpus repeated) into a throw-away database, then evaluates
(a) a signature rule and (b) CRS 942 at paranoia level 1: once in-process (eager tasks,
the baseline) and once by a Celery worker with WORKERS processes (chord of batches),
printing samples/s for both. Not part of the test suite.

    .venv/bin/python bench/bench_shadow_celery.py [--samples 100000] [--batch-size 1000] [--concurrency 2]

Uses its own database, shieldx_bench_shadow, and Redis db 14 as broker and results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import PY, ROOT, bench_env, fresh_database

DATABASE = "shieldx_bench_shadow"
CORPUS = ROOT.parent / "shared/corpus/shadow/samples.jsonl"
BROKER = "redis://127.0.0.1:6379/15"

EVALUATE = """
import django, json, sys, time
django.setup()
from shadow import services
from shadow.engine import crs_rule_config
rules = {
    "signature": {"type": "signature", "patterns": ["union select", "<script", "../", "' or '1'='1", "sleep(", "/etc/passwd", ";cat "]},
    "crs942-pl1": crs_rule_config(["942"], paranoia_level=1),
}
config = rules[sys.argv[1]]
dataset = services.dataset_for(tenant_id="bench", ref="default")
spec = services.rule_spec(tenant_id="bench", rule_type=config["type"], rule_config=config, name=sys.argv[1])
selection = services.selection_for(dataset=dataset, sample_size=None, seed=None, target_categories=[])
started = time.perf_counter()
ev = services.evaluation_create(tenant_id="bench", spec=spec, dataset=dataset, selection=selection)
ev = services.evaluation_wait(evaluation=ev, seconds=3600)
elapsed = time.perf_counter() - started
print(json.dumps({"status": ev.status, "seconds": elapsed, "samples": ev.selected, "f1": ev.f1_score}))
"""

SETUP = """
import django
django.setup()
from shieldx.services import tenant_create
tenant_create(tenant_id="bench")
"""


def evaluate(env: dict[str, str], rule: str) -> dict:
    out = subprocess.run([PY, "-c", EVALUATE, rule], check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rules", default="signature,crs942-pl1")
    args = parser.parse_args()
    base = bench_env(DATABASE, SHADOW_BATCH_SIZE=str(args.batch_size), CELERY_BROKER_URL=BROKER, CELERY_RESULT_BACKEND=BROKER)
    fresh_database(base, DATABASE)
    subprocess.run([PY, "-c", SETUP], check=True, cwd=ROOT, env=base)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for line in islice(cycle(CORPUS.read_text().splitlines()), args.samples):
            handle.write(line + "\n")
    started = time.perf_counter()
    subprocess.run([PY, "manage.py", "import_samples", "--tenant", "bench", handle.name], check=True, cwd=ROOT, env=base, capture_output=True)
    print(f"import_samples: {args.samples:,} samples in {time.perf_counter() - started:.1f} s")
    Path(handle.name).unlink()

    eager = {**base, "CELERY_TASK_ALWAYS_EAGER": "1"}
    queued = {**base, "CELERY_TASK_ALWAYS_EAGER": "0"}
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "shieldx", "worker", "--concurrency", str(args.concurrency), "--prefetch-multiplier", "1",
         "--loglevel", "WARNING"],
        cwd=ROOT, env=queued, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(4)  # the worker's children boot and import the project
        print(f"shadow evaluation of {args.samples:,} samples, batches of {args.batch_size}, worker concurrency {args.concurrency}")
        print(f"  {'rule':12} {'in-process s':>13} {'samples/s':>10} {'celery s':>9} {'samples/s':>10} {'ratio':>6}")
        for rule in args.rules.split(","):
            local = evaluate(eager, rule)
            # A different rule name does not change the cache key; a fresh dataset version would.
            subprocess.run([PY, "-c", "import django; django.setup(); from shadow.models import Evaluation; Evaluation.objects.all().delete()"],
                           check=True, cwd=ROOT, env=base)
            remote = evaluate(queued, rule)
            assert local["status"] == remote["status"] == "completed", (local, remote)
            print(f"  {rule:12} {local['seconds']:13.1f} {args.samples / local['seconds']:10,.0f} {remote['seconds']:9.1f} "
                  f"{args.samples / remote['seconds']:10,.0f} {local['seconds'] / remote['seconds']:6.2f}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)


if __name__ == "__main__":
    main()
