"""Agreement with libmodsecurity 3, and speed beside it, on the whole corpus.

Not a test (``shadow/tests/engine/test_differential.py`` is the one in ``make test``):
every corpus sample as the corpus sends it (GET), plus every payload row in each body
type of ``shadow.engine.bodies`` (urlencoded, JSON, vendor JSON, XML, multipart, no
Content-Type), through the full bundled CRS at each paranoia level, in our engine and in
Debian's libmodsecurity3 (ctypes, ``shadow.engine.reference``) in the same process, one
after the other. Prints, per level and kind: samples, agreement of verdicts, agreement
of verdicts *and* fired ids, and each engine's samples/s; then the disagreements.

    .venv/bin/python bench/bench_shadow_differential.py [--corpus PATH] [--levels 1,2,3,4]
        [--stride 1] [--kinds get,urlencoded,...] [--show 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shadow.engine import NormalizedSample, compile_rule, crs_rule_config, judge  # noqa: E402
from shadow.engine.bodies import BODY_TYPES, body_samples  # noqa: E402
from shadow.engine.limits import EngineLimitExceeded  # noqa: E402
from shadow.engine.reference import ReferenceWaf, available  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "shadow" / "samples.jsonl"


def kind_of(sample: dict) -> str:
    return sample["id"].rpartition("#")[2] if "#" in str(sample.get("id")) else "get"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--levels", default="1,2,3,4")
    parser.add_argument("--stride", type=int, default=1, help="every n-th corpus row")
    parser.add_argument("--kinds", default=",".join(("get", *BODY_TYPES)))
    parser.add_argument("--show", type=int, default=10, help="disagreements to print per level")
    args = parser.parse_args()
    if not available():
        print("libmodsecurity.so.3 is not installed (apt-get install libmodsecurity3)")
        return 2
    rows = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:: args.stride]
    kinds = args.kinds.split(",")
    samples = ([r for r in rows] if "get" in kinds else []) + list(body_samples(rows, [k for k in kinds if k != "get"]))
    print(f"{len(samples):,} samples ({len(rows):,} corpus rows); load average {os.getloadavg()[0]:.2f}")
    print(f"{'PL':>2} {'kind':<11} {'samples':>8} {'verdicts':>9} {'verdicts+ids':>13} {'ours/s':>8} {'libmodsec/s':>12} {'ratio':>6}")
    exit_code = 0
    for level in [int(x) for x in args.levels.split(",")]:
        ours = compile_rule(crs_rule_config(None, paranoia_level=level))
        waf = ReferenceWaf(crs_files_=None, paranoia_level=level)
        by_kind: dict[str, Counter] = {}
        diffs: Counter = Counter()
        examples: dict[tuple, str] = {}
        for sample in samples:
            kind = kind_of(sample)
            stats = by_kind.setdefault(kind, Counter())
            started = time.perf_counter()
            expected = waf.judge(sample)
            stats["theirs_s"] += time.perf_counter() - started
            started = time.perf_counter()
            try:
                verdict = judge(ours, NormalizedSample(sample))
                matched, fired = verdict.matched, set(verdict.fired)
            except EngineLimitExceeded:
                matched, fired = None, set()
                stats["errors"] += 1
            stats["ours_s"] += time.perf_counter() - started
            stats["n"] += 1
            stats["verdict"] += expected.blocked == matched
            same = expected.blocked == matched and set(expected.fired) == fired
            stats["both"] += same
            if not same:
                key = (kind, expected.blocked, matched, tuple(sorted(set(expected.fired) - fired)), tuple(sorted(fired - set(expected.fired))))
                diffs[key] += 1
                examples.setdefault(key, str(sample.get("id")))
        total = Counter()
        for kind, stats in by_kind.items():
            total.update(stats)
            print_row(level, kind, stats)
        print_row(level, "all", total)
        for key, count in diffs.most_common(args.show):
            kind, theirs, mine, only_theirs, only_ours = key
            print(f"    {count:>5} × {kind}: libmodsecurity {'blocks' if theirs else 'passes'}, ours {'blocks' if mine else 'passes'};"
                  f" ids only theirs {list(only_theirs)}, only ours {list(only_ours)} (e.g. {examples[key]})")  # fmt: skip
        if diffs:
            exit_code = 1
        waf.close()
    return exit_code


def print_row(level: int, kind: str, stats: Counter) -> None:
    n = stats["n"] or 1
    ours_rate = stats["n"] / stats["ours_s"] if stats["ours_s"] else 0.0
    theirs_rate = stats["n"] / stats["theirs_s"] if stats["theirs_s"] else 0.0
    ratio = ours_rate / theirs_rate if theirs_rate else 0.0
    print(
        f"{level:>2} {kind:<11} {stats['n']:>8,} {100 * stats['verdict'] / n:>8.2f}% {100 * stats['both'] / n:>12.2f}%"
        f" {ours_rate:>8,.0f} {theirs_rate:>12,.0f} {ratio:>5.2f}×" + (f"  ({stats['errors']} limit errors)" if stats["errors"] else "")
    )


if __name__ == "__main__":
    raise SystemExit(main())
