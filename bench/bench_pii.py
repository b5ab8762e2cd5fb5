"""Benchmark camouflage's PII masking against Microsoft Presidio (pattern recognizers only).

Not a test: it prints throughput (lines/s), per-type precision and recall for both
detectors on the same generated, labelled log lines, and AES-GCM µs/op.

    .venv/bin/python bench/bench_pii.py [--lines 5000] [--seed 7] [--presidio-python PATH]

Presidio is optional and must never enter the project's requirements. Install it in
a separate virtualenv (no spaCy model is downloaded; the bench uses the `no_op` NLP
engine and the six pattern recognizers that match our finding types):

    python3 -m venv /tmp/presidio-venv
    /tmp/presidio-venv/bin/pip install presidio-analyzer presidio-anonymizer

If `presidio_analyzer` imports in the running interpreter it is used in-process;
otherwise the script re-runs itself under `--presidio-python` (default
/tmp/presidio-venv/bin/python) as a worker and reads its findings back. Presidio's
time is measured inside the worker, after set-up, like ours.

Matching: a finding counts for precision when it overlaps a labelled span of the same
type; a label counts for recall when a finding of its type overlaps it. "exact" is
recall counting only findings with exactly the labelled span (a mask that also eats
`user=` in `user=bob@x.com` overlaps but is not exact).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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


# --- Labelled line generator -----------------------------------------------------------


def luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # these positions are doubled once the check digit is appended
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


CARD_RANGES = [
    # (brand, prefix chooser, lengths)
    ("visa", lambda r: "4", (13, 16, 19)),
    ("mastercard", lambda r: str(r.randint(51, 55)), (16,)),
    ("mastercard", lambda r: str(r.randint(2221, 2720)), (16,)),
    ("amex", lambda r: r.choice(["34", "37"]), (15,)),
    ("discover", lambda r: "6011", (16, 17, 18, 19)),
    ("discover", lambda r: str(r.randint(622126, 622925)), (16,)),
    ("discover", lambda r: str(r.randint(644, 649)), (16,)),
    ("discover", lambda r: "65", (16, 19)),
]


def group_card(number: str, separator: str) -> str:
    if len(number) == 15:  # Amex prints 4-6-5
        return separator.join((number[:4], number[4:10], number[10:]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


def make_card(rng: random.Random) -> str:
    _, prefix_of, lengths = rng.choice(CARD_RANGES)
    number = luhn_complete(rng, prefix_of(rng), rng.choice(lengths))
    return group_card(number, rng.choice(["", "", " ", "-"]))


def make_ssn(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return rng.choice(["123-45-6789", "078-05-1120"])
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]
LAST = ["smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "martin", "lee", "walker"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "gmail.com", "outlook.com", "acme.io", "shop.example.de"]


def make_email(rng: random.Random) -> str:
    local = rng.choice(
        [
            rng.choice(FIRST),
            f"{rng.choice(FIRST)}.{rng.choice(LAST)}",
            f"{rng.choice(FIRST)}{rng.randint(1, 999)}",
            f"{rng.choice(FIRST)}+{rng.choice(['news', 'shop', 'x'])}",
            f"{rng.choice(FIRST)}_{rng.choice(LAST)}",
        ]
    )
    return f"{local}@{rng.choice(DOMAINS)}"


US_AREAS = ["212", "415", "646", "312", "617", "202", "305", "713", "206", "303", "404", "512"]


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def make_phone(rng: random.Random) -> str:
    area, exchange, line = rng.choice(US_AREAS), str(rng.randint(201, 989)), f"{rng.randint(0, 9999):04d}"
    d = lambda n: digits(rng, n)  # noqa: E731
    return rng.choice(
        [
            f"+1{area}{exchange}{line}",
            f"+1 {area} {exchange} {line}",
            f"+1 ({area}) {exchange}-{line}",
            f"+1-{area}-{exchange}-{line}",
            f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}",
            f"{area}.{exchange}.{line}",
            f"1-800-{exchange}-{line}",
            f"+44 20 7{d(3)} {d(4)}",
            f"+44 7{rng.randint(400, 999)} {d(6)}",
            f"020 7{d(3)} {d(4)}",
            f"07{rng.randint(400, 999)} {d(6)}",
            f"+49 30 {rng.randint(2, 9)}{d(6)}",
            f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+91 9{d(4)} {d(5)}",
            f"+61 2 9{d(3)} {d(4)}",
            f"+1.{area}.{exchange}.{line}",
            f"030 {rng.randint(2, 9)}{d(6)}",
        ]
    )


IBAN_STRUCTURES = {
    "DE": "8!n10!n",
    "GB": "4!a6!n8!n",
    "FR": "5!n5!n11!c2!n",
    "NL": "4!a10!n",
    "CH": "5!n12!c",
    "AT": "5!n11!n",
    "PL": "8!n16!n",
    "IT": "1!a5!n5!n12!c",
}


def make_iban(rng: random.Random) -> str:
    country = rng.choice(list(IBAN_STRUCTURES))
    alphabet = {"n": "0123456789", "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "c": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    bban = ""
    for size, kind in _structure_parts(IBAN_STRUCTURES[country]):
        bban += "".join(rng.choice(alphabet[kind]) for _ in range(size))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _structure_parts(structure: str) -> list[tuple[int, str]]:
    parts = []
    number = ""
    for char in structure:
        if char.isdigit():
            number += char
        elif char == "!":
            continue
        else:
            parts.append((int(number), char))
            number = ""
    return parts


def _ipv4(rng: random.Random) -> str:
    return str(ipaddress.IPv4Address(rng.randint(0x01000000, 0xDFFFFFFF)))


def make_ip(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return _ipv4(rng)
    groups = [rng.randint(0, 0xFFFF) if rng.random() < 0.6 else 0 for _ in range(8)]
    groups[0] = rng.choice([0x2001, 0x2600, 0xFE80, 0x2A00])
    address = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
    return address.compressed if rng.random() < 0.8 else address.exploded


PII_MAKERS = {
    "credit_card": (make_card, ["card={}", "pan: {}", "card {}", '"card_number":"{}"', "paid with {}"]),
    "us_ssn": (make_ssn, ["ssn={}", "SSN {}", '"ssn": "{}"', "tax id {}"]),
    "email": (make_email, ["user={}", "email: {}", "from <{}>", '"email":"{}"', "sent to {}", "Reply-To: {}."]),
    "phone": (make_phone, ["phone={}", "tel: {}", "call {}", '"phone": "{}"', "sms to {}"]),
    # Bare digits, which only a key can tell from an id.
    "bare_phone": (lambda rng: f"{rng.choice(US_AREAS)}{rng.randint(201, 989)}{rng.randint(0, 9999):04d}", ["phone={}", '"mobile": "{}"']),
    "iban": (make_iban, ["iban={}", "IBAN {}", "payout to {}", '"iban":"{}"']),
    "ip_address": (make_ip, ["ip={}", "client {}", "from {}", "remote_addr={}", "peer [{}]"]),
    "ipv4_with_port": (_ipv4, ["upstream {}:8443", "connect to {}:5432 failed"]),
}


MAKER_TYPES = {"bare_phone": "phone", "ipv4_with_port": "ip_address"}


def make_lookalike(rng: random.Random) -> str:
    d = lambda n: digits(rng, n)  # noqa: E731
    return rng.choice(
        [
            f"order=ORD-2024{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{d(6)}",
            f"invoice INV-{rng.randint(2019, 2026)}-{d(6)}",
            f"request_id={rng.getrandbits(128):032x}"[:45],
            f"trace {'-'.join((f'{rng.getrandbits(32):08x}', f'{rng.getrandbits(16):04x}', f'{rng.getrandbits(16):04x}', f'{rng.getrandbits(16):04x}', f'{rng.getrandbits(48):012x}'))}",
            f"at 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
            f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            f"agent_version={rng.randint(1, 9)}.{rng.randint(0, 60)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}",
            f"price ${rng.randint(1, 9)},{d(3)}.{d(2)}",
            f"amount={rng.randint(1, 99999)}.{d(2)} EUR",
            f"took {rng.randint(1, 5000)}ms",
            f"ts={rng.randint(1_600_000_000, 1_800_000_000)}",
            f"ts_ms={rng.randint(1_600_000_000_000, 1_800_000_000_000)}",  # 13 digits: may pass Luhn
            f"date 2{rng.randint(0, 9)}.{rng.randint(1, 12):02d}.2026",
            f"bytes={rng.randint(1000, 999_999_999)}",
            f"status={rng.choice([200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 503])}",
            f"GET /api/v1/users/{d(6)}/orders/{d(8)}",
            f"port {rng.randint(1024, 65535)}",
            f"bad_ip={rng.randint(256, 999)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
            f"ssn_hint=000-{d(2)}-{d(4)}",
            f"ref {d(4)}-{d(4)}-{d(4)}",
            f"sha256={rng.getrandbits(256):064x}",
            f"duration={rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        ]
    )


@dataclass
class Line:
    text: str
    labels: list[tuple[str, int, int]] = field(default_factory=list)


def make_line(rng: random.Random) -> Line:
    head = f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d}Z {rng.choice(['INFO', 'WARN', 'ERROR', 'DEBUG'])} {rng.choice(['payments', 'auth', 'api', 'billing'])}[{rng.randint(100, 99999)}]:"
    line = Line(head)
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.55:
            maker = rng.choice(list(PII_MAKERS))
            make, templates = PII_MAKERS[maker]
            kind = MAKER_TYPES.get(maker, maker)
            value = make(rng)
            before, after = rng.choice(templates).split("{}")
            start = len(line.text) + 1 + len(before)
            line.text += f" {before}{value}{after}"
            line.labels.append((kind, start, start + len(value)))
        else:
            line.text += " " + make_lookalike(rng)
    return line


# --- Scoring ------------------------------------------------------------------------------


def score(lines: list[Line], predictions: list[list[tuple[str, int, int]]]) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter] = {kind: Counter() for kind in TYPES}
    for line, predicted in zip(lines, predictions, strict=True):
        for kind, start, end in predicted:
            hit = any(k == kind and s < end and start < e for k, s, e in line.labels)
            counts[kind]["tp" if hit else "fp"] += 1
        for kind, start, end in line.labels:
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


# --- Runners ------------------------------------------------------------------------------


def run_ours(texts: list[str]) -> tuple[list[list[tuple[str, int, int]]], float, float]:
    from camouflage.pii import mask_for_logs, mask_text

    started = time.perf_counter()
    predictions = [[tuple(f) for f in mask_text(text)[1]] for text in texts]
    text_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        mask_for_logs(text)
    log_seconds = time.perf_counter() - started
    return predictions, text_seconds, log_seconds


def presidio_worker(texts: list[str]) -> tuple[list[list[tuple[str, int, int]]], float]:
    """Presidio with the no_op NLP engine and the six matching pattern recognizers."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # it tries the network once
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

    predictions = []
    started = time.perf_counter()
    for text in texts:
        results = analyzer.analyze(text, language="en")
        anonymizer.anonymize(text, results)
        predictions.append([(PRESIDIO_TYPES[r.entity_type], r.start, r.end) for r in results if r.entity_type in PRESIDIO_TYPES])
    return predictions, time.perf_counter() - started


def run_presidio(texts: list[str], python: str) -> tuple[list[list[tuple[str, int, int]]], float] | None:
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        pass
    else:
        return presidio_worker(texts)
    if not Path(python).exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "in.json"), Path(folder, "out.json")
        source.write_text(json.dumps(texts))
        subprocess.run([python, __file__, "--presidio-worker", str(source), str(target)], check=True)
        answer = json.loads(target.read_text())
    return [[tuple(p) for p in line] for line in answer["predictions"]], answer["seconds"]


def aes_gcm_micros() -> tuple[float, float]:
    import timeit

    from camouflage.envelope import Envelope, generate_key, parse_keyring

    envelope = Envelope(parse_keyring(f"1:{generate_key()}"))
    sealed = envelope.encrypt("4111111111111111", tenant="acme", context="card")
    rounds = 50_000
    encrypt = min(timeit.repeat(lambda: envelope.encrypt("4111111111111111", tenant="acme", context="card"), number=rounds, repeat=5))
    decrypt = min(timeit.repeat(lambda: envelope.decrypt(sealed, tenant="acme", context="card"), number=rounds, repeat=5))
    return encrypt / rounds * 1e6, decrypt / rounds * 1e6


# --- Report -------------------------------------------------------------------------------


def print_report(lines: list[Line], ours: dict, presidio: dict | None) -> None:
    print(
        f"\n{'type':<12} {'labelled':>8} | {'ours P':>7} {'R':>6} {'exact':>6} {'FP':>4} | {'presidio P':>10} {'R':>6} {'exact':>6} {'FP':>4}"
    )
    for kind in TYPES:
        o = ours[kind]
        row = f"{kind:<12} {o['labelled']:>8} | {o['precision']:>7.3f} {o['recall']:>6.3f} {o['exact']:>6.3f} {o['fp']:>4}"
        if presidio:
            p = presidio[kind]
            row += f" | {p['precision']:>10.3f} {p['recall']:>6.3f} {p['exact']:>6.3f} {p['fp']:>4}"
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--presidio-python", default=DEFAULT_PRESIDIO_PYTHON)
    parser.add_argument("--presidio-worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--show-errors", type=int, default=0, help="print up to N misses and false positives of ours")
    args = parser.parse_args()

    if args.presidio_worker:
        texts = json.loads(Path(args.presidio_worker[0]).read_text())
        predictions, seconds = presidio_worker(texts)
        Path(args.presidio_worker[1]).write_text(json.dumps({"predictions": predictions, "seconds": seconds}))
        return

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    rng = random.Random(args.seed)
    lines = [make_line(rng) for _ in range(args.lines)]
    texts = [line.text for line in lines]
    labelled = Counter(kind for line in lines for kind, _, _ in line.labels)
    print(f"{len(lines)} lines (seed {args.seed}), {sum(labelled.values())} labelled spans: {dict(sorted(labelled.items()))}")

    our_predictions, text_seconds, log_seconds = run_ours(texts)
    ours = score(lines, our_predictions)
    print(f"ours     mask_text:     {len(texts) / text_seconds:>10,.0f} lines/s")
    print(f"ours     mask_for_logs: {len(texts) / log_seconds:>10,.0f} lines/s")

    presidio_run = run_presidio(texts, args.presidio_python)
    presidio = None
    if presidio_run is None:
        print(f"presidio: not installed (see the docstring; looked for {args.presidio_python})")
    else:
        presidio_predictions, presidio_seconds = presidio_run
        presidio = score(lines, presidio_predictions)
        presidio_rate = len(texts) / presidio_seconds
        print(f"presidio analyze+anonymize: {presidio_rate:>6,.0f} lines/s  -> ours is {len(texts) / text_seconds / presidio_rate:,.0f}x")
    print_report(lines, ours, presidio)

    if args.show_errors:
        shown = 0
        for line, predicted in zip(lines, our_predictions, strict=True):
            wrong = set(map(tuple, predicted)) ^ set(line.labels)
            if wrong and shown < args.show_errors:
                shown += 1
                print(
                    f"\n{line.text}\n  labels: {[(k, line.text[s:e]) for k, s, e in line.labels]}\n  ours:   {[(k, line.text[s:e]) for k, s, e in predicted]}"
                )

    encrypt_us, decrypt_us = aes_gcm_micros()
    print(f"\nAES-256-GCM envelope (16-byte value, warm key cache): encrypt {encrypt_us:.2f} µs/op, decrypt {decrypt_us:.2f} µs/op")


if __name__ == "__main__":
    main()
