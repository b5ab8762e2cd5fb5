"""Benchmark the PII masker against Microsoft Presidio (pattern recognizers only) on the
labelled evaluation set `bench/data/pii_eval.jsonl` (see bench/data/SOURCES.md).

Not a test: it prints per-type precision and recall for both detectors on the same
records, how many card numbers each leaves whole in its masked text, lines/s on the
set's log lines and sentences, and what the log filter costs per line.

    .venv/bin/python bench/bench_pii.py [--presidio-python PATH] [--rounds 3] [--show-errors N]

Presidio is optional and never enters the project's requirements. Install it in a
separate virtualenv (no spaCy model is downloaded: the bench uses the `no_op` NLP
engine and the six pattern recognizers that match our finding types, with
Presidio's default phone regions):

    python3 -m venv /tmp/presidio-venv
    /tmp/presidio-venv/bin/pip install presidio-analyzer presidio-anonymizer

If `presidio_analyzer` imports in the running interpreter it is used in-process;
otherwise the script re-runs itself under `--presidio-python` (default
/tmp/presidio-venv/bin/python) as a worker and reads its findings back. Presidio's
time is measured inside the worker, after set-up and a warm-up, like ours.

Matching: a finding counts for precision when it overlaps a labelled span of the same
type; a label counts for recall when a finding of its type overlaps it. "exact" is
recall counting only findings with exactly the labelled span. "whole" counts card
numbers whose digits are still readable, in any grouping, in the masked text.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "bench" / "data" / "pii_eval.jsonl"
TYPES = ("credit_card", "us_ssn", "email", "phone", "iban", "ip_address")
PRESIDIO_TYPES = {
    "CREDIT_CARD": "credit_card",
    "US_SSN": "us_ssn",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
}
DEFAULT_PRESIDIO_PYTHON = "/tmp/presidio-venv/bin/python"
# The default SHIELDX_PHONE_REGIONS' locales; numbers of the others count only with `+`.
IN_REGION_LOCALES = {"en_US", "en_GB", "en_CA", "en_AU", "en_IN", "de_DE", "de_CH", "fr_FR", "fr_CH", "es_ES", "it_IT", "nl_NL", "sv_SE", "pt_BR", "he_IL"}

Prediction = list[tuple[str, int, int]]


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# --- Scoring ------------------------------------------------------------------------------


def score(records: list[dict], predictions: list[Prediction]) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter] = {kind: Counter() for kind in TYPES}
    for record, predicted in zip(records, predictions, strict=True):
        labels = record["labels"]
        for kind, start, end in predicted:
            hit = any(k == kind and s < end and start < e for k, s, e in labels)
            counts[kind]["tp" if hit else "fp"] += 1
        for kind, start, end in labels:
            same = [(s, e) for k, s, e in predicted if k == kind]
            counts[kind]["found" if any(s < end and start < e for s, e in same) else "missed"] += 1
            counts[kind]["exact"] += (start, end) in same
    result = {}
    for kind, c in counts.items():
        labelled = c["found"] + c["missed"]
        result[kind] = {
            "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0,
            "recall": c["found"] / labelled if labelled else 1.0,
            "exact": c["exact"] / labelled if labelled else 1.0,
            "fp": c["fp"],
            "missed": c["missed"],
            "labelled": labelled,
        }
    return result


def masked_by_spans(text: str, predicted: Prediction) -> str:
    """Every character of every finding replaced by `*`: what any mask hides at least."""
    chars = list(text)
    for _, start, end in predicted:
        for index in range(start, end):
            if chars[index].isdigit():
                chars[index] = "*"
    return "".join(chars)


def cards_left_whole(records: list[dict], masked_texts: list[str]) -> int:
    """Labelled card numbers whose digits still appear in a row (any separators) in the masked text."""
    whole = 0
    for record, masked in zip(records, masked_texts, strict=True):
        for kind, start, end in record["labels"]:
            if kind == "credit_card":
                digits = re.sub(r"\D", "", record["text"][start:end])
                if re.search(r"[ .\-]?".join(digits), masked):
                    whole += 1
    return whole


def phone_recall_by_region(records: list[dict], predictions: list[Prediction]) -> dict[str, tuple[int, int]]:
    """(found, labelled) phones for locales in the default regions, and for the rest."""
    out = {"in SHIELDX_PHONE_REGIONS": [0, 0], "other locales": [0, 0]}
    for record, predicted in zip(records, predictions, strict=True):
        group = out["in SHIELDX_PHONE_REGIONS" if record["locale"] in IN_REGION_LOCALES else "other locales"]
        for kind, start, end in record["labels"]:
            if kind == "phone":
                group[1] += 1
                group[0] += any(k == "phone" and s < end and start < e for k, s, e in predicted)
    return {name: (found, total) for name, (found, total) in out.items()}


# --- Runners ------------------------------------------------------------------------------


def best_of(rounds: int, work) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def run_ours(records: list[dict], rounds: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from shieldx.masking import mask_for_logs, mask_text

    texts = [record["text"] for record in records]
    logs = [record["text"] for record in records if record["kind"] == "log"]
    sentences = [record["text"] for record in records if record["kind"] == "sentence"]
    results = [mask_text(text) for text in texts]
    quiet = [f"2026-11-27T18:12:{i % 60:02d}.123Z INFO api: GET /credits/balance/org-{i} 200 {i % 17}.{i % 10}ms" for i in range(len(logs))]
    mask_for_logs(texts[0])
    return {
        "predictions": [[tuple(finding) for finding in findings] for _, findings in results],
        "masked": [masked for masked, _ in results],
        "log_seconds": best_of(rounds, lambda: [mask_text(text) for text in logs]),
        "sentence_seconds": best_of(rounds, lambda: [mask_text(text) for text in sentences]),
        "filter_seconds": best_of(rounds, lambda: [mask_for_logs(text) for text in logs]),
        "filter_quiet_seconds": best_of(rounds, lambda: [mask_for_logs(text) for text in quiet]),
        "logs": len(logs),
        "sentences": len(sentences),
    }


def presidio_worker(texts: list[str], kinds: list[str], rounds: int) -> dict:
    """Presidio with the no_op NLP engine and the six matching pattern recognizers."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries the network once
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )
    from presidio_anonymizer import AnonymizerEngine

    nlp_engine = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (CreditCardRecognizer(), UsSsnRecognizer(), EmailRecognizer(), PhoneRecognizer(), IbanRecognizer(), IpRecognizer()):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    anonymizer = AnonymizerEngine()
    analyzer.analyze(texts[0], language="en")  # warm-up (tldextract, phonenumbers metadata)

    def analyze(text: str) -> list:
        results = analyzer.analyze(text, language="en")
        anonymizer.anonymize(text, results)
        return [(PRESIDIO_TYPES[r.entity_type], r.start, r.end) for r in results if r.entity_type in PRESIDIO_TYPES]

    predictions = [analyze(text) for text in texts]
    logs = [text for text, kind in zip(texts, kinds, strict=True) if kind == "log"]
    sentences = [text for text, kind in zip(texts, kinds, strict=True) if kind == "sentence"]
    return {
        "predictions": predictions,
        "log_seconds": best_of(rounds, lambda: [analyze(text) for text in logs]),
        "sentence_seconds": best_of(rounds, lambda: [analyze(text) for text in sentences]),
    }


def run_presidio(records: list[dict], python: str, rounds: int) -> dict | None:
    texts = [record["text"] for record in records]
    kinds = [record["kind"] for record in records]
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        pass
    else:
        return presidio_worker(texts, kinds, rounds)
    if not Path(python).exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "in.json"), Path(folder, "out.json")
        source.write_text(json.dumps({"texts": texts, "kinds": kinds, "rounds": rounds}))
        subprocess.run([python, __file__, "--presidio-worker", str(source), str(target)], check=True)
        answer = json.loads(target.read_text())
    answer["predictions"] = [[tuple(p) for p in line] for line in answer["predictions"]]
    return answer


# --- Report -------------------------------------------------------------------------------


def print_report(ours: dict, presidio: dict | None, ours_whole: int, presidio_whole: int | None) -> None:
    header = "| type | labelled | ours recall | ours precision | ours exact |"
    if presidio:
        header += " Presidio recall | Presidio precision |"
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for kind in TYPES:
        o = ours[kind]
        row = f"| {kind} | {o['labelled']} | {o['recall']:.3f} | {o['precision']:.3f} | {o['exact']:.3f} |"
        if presidio:
            p = presidio[kind]
            row += f" {p['recall']:.3f} | {p['precision']:.3f} |"
        print(row)
    line = f"\ncard numbers left whole in masked text: ours {ours_whole}"
    print(line + (f", Presidio {presidio_whole}" if presidio_whole is not None else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-set", type=Path, default=EVAL_SET)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the best is reported")
    parser.add_argument("--presidio-python", default=DEFAULT_PRESIDIO_PYTHON)
    parser.add_argument("--presidio-worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--show-errors", type=int, default=0, help="print up to N records where ours differs from the labels")
    args = parser.parse_args()

    if args.presidio_worker:
        job = json.loads(Path(args.presidio_worker[0]).read_text())
        Path(args.presidio_worker[1]).write_text(json.dumps(presidio_worker(job["texts"], job["kinds"], job["rounds"])))
        return

    records = load(args.eval_set)
    labelled = Counter(kind for record in records for kind, _, _ in record["labels"])
    print(f"{len(records)} records from {args.eval_set}, labelled spans: {dict(sorted(labelled.items()))}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    ours_run = run_ours(records, args.rounds)
    ours = score(records, ours_run["predictions"])
    ours_whole = cards_left_whole(records, ours_run["masked"])
    log_rate = ours_run["logs"] / ours_run["log_seconds"]
    sentence_rate = ours_run["sentences"] / ours_run["sentence_seconds"]
    print(f"ours     mask_text: {log_rate:>9,.0f} log lines/s, {sentence_rate:>9,.0f} sentences/s")
    print(
        f"ours     log filter (mask_for_logs): {ours_run['filter_seconds'] / ours_run['logs'] * 1e6:.1f} µs per log line of the set, "
        f"{ours_run['filter_quiet_seconds'] / ours_run['logs'] * 1e6:.1f} µs per line without PII"
    )

    presidio_run = run_presidio(records, args.presidio_python, args.rounds)
    presidio = presidio_whole = None
    if presidio_run is None:
        print(f"presidio: not installed (see the docstring; looked for {args.presidio_python})")
    else:
        presidio = score(records, presidio_run["predictions"])
        presidio_masked = [masked_by_spans(r["text"], p) for r, p in zip(records, presidio_run["predictions"], strict=True)]
        presidio_whole = cards_left_whole(records, presidio_masked)
        p_log = ours_run["logs"] / presidio_run["log_seconds"]
        p_sentence = ours_run["sentences"] / presidio_run["sentence_seconds"]
        print(f"presidio analyze+anonymize: {p_log:>9,.0f} log lines/s, {p_sentence:>9,.0f} sentences/s")
        print(f"ours / presidio: {log_rate / p_log:.1f}x on log lines, {sentence_rate / p_sentence:.1f}x on sentences")
    print_report(ours, presidio, ours_whole, presidio_whole)
    for name, (found, total) in phone_recall_by_region(records, ours_run["predictions"]).items():
        line = f"phone recall, {name}: ours {found / total:.3f} ({found}/{total})"
        if presidio_run:
            p_found, _ = phone_recall_by_region(records, presidio_run["predictions"])[name]
            line += f", Presidio {p_found / total:.3f}"
        print(line)

    if args.show_errors:
        shown = 0
        for record, predicted in zip(records, ours_run["predictions"], strict=True):
            text, labels = record["text"], {tuple(label) for label in record["labels"]}
            wrong = set(predicted) ^ labels
            if wrong and shown < args.show_errors:
                shown += 1
                print(f"\n[{record['locale']}] {text}")
                print(f"  labels: {[(k, text[s:e]) for k, s, e in sorted(labels, key=lambda x: x[1])]}")
                print(f"  ours:   {[(k, text[s:e]) for k, s, e in predicted]}")


if __name__ == "__main__":
    main()
