"""Benchmark the shadow rule engine in-process on the labelled corpus.

Not a test: it prints samples/s for three rules on 10,000 and 100,000 samples (the
corpus repeated to reach the size), each through

* ``engine``: the engine as shipped (RE2 sets, prefilters, caches);
* ``re2-each``: the same program with every @rx searched one by one (no sets, no
  prefilters): what the sets and prefilters buy;
* ``python-re``: the same program with every @rx compiled by Python's ``re`` (the
  baseline; the engine itself never uses ``re``).

Every timed loop builds a fresh NormalizedSample per sample, so parsing and
transformations are included; compile time is reported apart.  The target is
10,000 samples through CRS 942 at PL1 in under 200 ms.

    .venv/bin/python bench/bench_shadow_engine.py [--corpus PATH] [--sizes 10000,100000]
        [--baseline-max 10000] [--rules signature,crs942,crs-all]

Rules: ``signature`` (a few SQL keywords), ``crs942`` (REQUEST-942 at PL1) and
``crs-all`` (every REQUEST-9xx file at PL1).  Baselines run on at most
``--baseline-max`` samples (Python ``re`` over the whole CRS is slow).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shadow.engine import NormalizedSample, compile_rule, crs_rule_config  # noqa: E402
from shadow.engine.base import CompiledRule, Verdict  # noqa: E402
from shadow.engine.modsec import compile_modsecurity  # noqa: E402
from shadow.engine.modsec.model import Rule  # noqa: E402
from shadow.engine.modsec.operators import Rx  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "shadow" / "samples.jsonl"
SQL_KEYWORDS = ["union select", "sleep(", "benchmark(", "information_schema", "' or ", "waitfor delay", "xp_cmdshell"]
SIGNATURE = {"type": "signature", "patterns": SQL_KEYWORDS}


def load_corpus(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def take(rows: list[dict], size: int) -> list[dict]:
    """``size`` samples: the corpus in a fixed shuffled order, repeated as needed."""
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)  # the file is grouped by source; mix it
    return list(itertools.islice(itertools.cycle(shuffled), size))


def timed(match: Callable[[NormalizedSample], bool], rows: list[dict]) -> tuple[float, int, int]:
    """(seconds, flagged attacks, flagged benign) for one pass with fresh samples."""
    attacks = benign = 0
    start = time.perf_counter()
    for row in rows:
        if match(NormalizedSample(row)):
            if row.get("label") == "attack":
                attacks += 1
            else:
                benign += 1
    return time.perf_counter() - start, attacks, benign


# ---- the same rules with other regex back ends -------------------------------------------------


class PythonReSignature(CompiledRule):
    """The signature rule as one Python ``re`` alternation over the same targets."""

    def __init__(self, patterns: list[str]) -> None:
        self.regex = re.compile("|".join(re.escape(p.lower()) for p in patterns))

    def match(self, sample: NormalizedSample) -> Verdict:
        transforms = ("url_decode", "lowercase")
        return Verdict(any(self.regex.search(sample.target(t, transforms)) for t in ("path", "query", "body")))


def _python_re_source(source: bytes) -> bytes:
    # PCRE/RE2 \x{hh} is \xhh for Python's re.
    return re.sub(rb"\\x\{([0-9a-fA-F]{1,2})\}", rb"\\x\1", source)


def modsec_with_backend(config: dict, backend: str) -> tuple[CompiledRule, int]:
    """The CRS program without sets/prefilters, @rx on RE2 one by one or on Python re.

    Returns the rule and how many patterns Python re could not compile (those stay RE2).
    """
    rule = compile_modsecurity(config, optimize=False)
    kept_re2 = 0
    if backend == "python-re":
        for phase_items, _ in rule.program.phases:
            for item in phase_items:
                if not isinstance(item, Rule):
                    continue
                for link in item.links:
                    operator = link.operator
                    if isinstance(operator, Rx) and not hasattr(operator.regex, "flags"):
                        try:
                            # The CRS pattern as written (PCRE), not the engine's RE2 rewrite.
                            operator.regex = re.compile(_python_re_source(operator.argument.encode("utf-8")))
                        except re.error:
                            kept_re2 += 1
    return rule, kept_re2


# ---- libmodsecurity as a reference ---------------------------------------------------------------

def reference_compare(files: list[str] | None, rows: list[dict]) -> None:
    """Run the same CRS files through libmodsecurity 3 (Debian's libmodsecurity3, through
    ``shadow.engine.reference``) and compare verdicts, fired ids and speed in one loop.

    Anomaly mode needs 901 and 949 for libmodsecurity to block, so they are always added
    (to both). ``bench_shadow_differential.py`` is the full agreement report.
    """
    from shadow.engine import crs_files, judge, load_crs
    from shadow.engine.reference import ReferenceWaf, available

    if not available():
        print("  reference: libmodsecurity.so.3 is not installed (apt-get install libmodsecurity3); skipped")
        return
    wanted = None if files is None else {"901", "949", *files}
    names = [f for f in crs_files() if wanted is None or f.split("-")[1] in wanted]
    waf = ReferenceWaf(crs_files_=names, paranoia_level=1)
    ours = compile_rule({"type": "modsecurity", "rules": load_crs(names)})
    agree = 0
    disagreements: Counter[str] = Counter()
    rule_diffs: Counter[str] = Counter()
    reference_seconds = ours_seconds = 0.0
    for row in rows:
        start = time.perf_counter()
        expected = waf.judge(row)
        middle = time.perf_counter()
        verdict = judge(ours, NormalizedSample(row))
        ours_seconds += time.perf_counter() - middle
        reference_seconds += middle - start
        if verdict.matched == expected.blocked:
            agree += 1
        else:
            disagreements[f"{row.get('label')}, flagged only by {'engine' if verdict.matched else 'libmodsecurity'}"] += 1
        mine, theirs = set(verdict.fired), set(expected.fired)
        rule_diffs.update(f"{rid} only in engine" for rid in mine - theirs)
        rule_diffs.update(f"{rid} only in libmodsecurity" for rid in theirs - mine)
    waf.close()
    n = len(rows)
    print(f"  reference libmodsecurity 3 on {n:,} samples ({len(names)} files):")
    print(f"    verdict agreement {agree:,}/{n:,} ({agree / n:.2%}); disagreements: {dict(disagreements) or 'none'}")
    print(f"    rule ids firing on one side only (samples): {dict(rule_diffs.most_common(8)) or 'none'}")
    print(f"    libmodsecurity {rate(n, reference_seconds).strip()} vs engine {rate(n, ours_seconds).strip()} (same loop)")


# ---- report ------------------------------------------------------------------------------------


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f}/s" if seconds else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--baseline-max", type=int, default=10_000)
    parser.add_argument("--rules", default="signature,crs942,crs-all")
    parser.add_argument("--reference-max", type=int, default=10_000, help="samples for the libmodsecurity comparison (0: off)")
    args = parser.parse_args()

    corpus = load_corpus(args.corpus)
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = args.rules.split(",")
    print(f"corpus: {args.corpus} ({len(corpus):,} samples); sizes {sizes}; python {sys.version.split()[0]}")

    configs = {
        "signature": SIGNATURE,
        "crs942": crs_rule_config(["942"], paranoia_level=1),
        "crs-all": crs_rule_config(None, paranoia_level=1),
    }
    for name in wanted:
        config = configs[name]
        start = time.perf_counter()
        engine = compile_rule(config)
        compile_s = time.perf_counter() - start
        variants: dict[str, CompiledRule] = {"engine": engine}
        note = ""
        if name == "signature":
            variants["python-re"] = PythonReSignature(SQL_KEYWORDS)
        else:
            variants["re2-each"] = modsec_with_backend(config, "re2-each")[0]
            variants["python-re"], kept = modsec_with_backend(config, "python-re")
            stats = engine.program.stats  # type: ignore[attr-defined]
            note = f"; {stats.rules} rules, {stats.regexes} regexes in {stats.regex_sets} RE2 sets"
            if kept:
                note += f"; {kept} patterns Python re cannot compile stay on RE2"
        print(f"\n== {name}: compiled in {compile_s * 1000:.0f} ms{note}")
        for size in sizes:
            rows = take(corpus, size)
            results = {}
            for label, rule in variants.items():
                if label != "engine" and size > args.baseline_max:
                    continue
                seconds, attacks, benign = timed(lambda s, r=rule: r.match(s).matched, rows)
                results[label] = seconds
                total_attacks = sum(1 for r in rows if r.get("label") == "attack")
                print(
                    f"  {size:>7,} {label:<10} {seconds * 1000:>9.0f} ms {rate(size, seconds)}"
                    f"   flagged {attacks:,}/{total_attacks:,} attacks, {benign:,}/{size - total_attacks:,} benign"
                )
            base = results.get("python-re")
            if base:
                print(f"  {size:>7,} engine is {base / results['engine']:.1f}x python-re", end="")
                if "re2-each" in results:
                    print(f", {results['re2-each'] / results['engine']:.1f}x re2-each", end="")
                print()
        if name != "signature" and args.reference_max:
            reference_compare(["942"] if name == "crs942" else None, take(corpus, min(args.reference_max, len(corpus))))


if __name__ == "__main__":
    main()
