"""Build the labelled PII evaluation set `bench/data/pii_eval.jsonl` (see bench/data/SOURCES.md).

    .venv/bin/python bench/make_pii_eval.py [--sentences 2000] [--log-lines 2000] [--seed 13]

Every value comes from Faker (pinned in requirements-dev.txt) in many locales, or from
the formats named in issue 13, so each labelled span is known by construction. Two
kinds of record:

- `sentence`: support-ticket text in the locale's words (Faker's `sentence()`), with
  one to three PII values in short English frames and distractors that are not PII
  (dates, prices, postcodes, EAN/ISBN codes, order numbers, card expiry and CVV);
- `log`: application log lines with PII and log-shaped look-alikes (ids, timestamps,
  durations such as `0.004063599999994949s`, versions, hashes, epoch milliseconds,
  twelve-digit Luhn-valid order numbers).

Twelve-digit (Maestro) numbers appear only right after a card word: CONTRACT §5a does
not count twelve bare digits as a card, and the look-alikes include twelve-digit
Luhn-valid ids to measure the other side of that rule.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from faker import Faker

OUT = Path(__file__).resolve().parent / "data" / "pii_eval.jsonl"

# The default SHIELDX_PHONE_REGIONS' locales, weighted up, and others whose numbers are
# recognised only when written with `+`.
LOCALES = {
    "en_US": 4, "en_GB": 3, "en_CA": 2, "en_AU": 2, "en_IN": 2, "de_DE": 3, "de_CH": 1, "fr_FR": 3,
    "fr_CH": 1, "es_ES": 2, "it_IT": 2, "nl_NL": 2, "sv_SE": 1, "pt_BR": 2, "he_IL": 1,
    "de_AT": 1, "pl_PL": 1, "da_DK": 1, "cs_CZ": 1, "ja_JP": 1, "fi_FI": 1, "pt_PT": 1,
}  # fmt: skip
IBAN_LOCALES = ("de_DE", "en_GB", "fr_FR", "es_ES", "it_IT", "nl_NL", "de_CH", "de_AT", "pl_PL", "da_DK", "pt_PT", "nl_BE")
CARD_TYPES = ("visa16", "visa13", "visa19", "mastercard", "amex", "discover", "diners", "jcb15", "jcb16", "maestro")

# The formats issue 13 lists as missed (card and phone), written as they were.
ISSUE_PHONES = ("0490 75 40 81", "(08) 8747 6301", "03.93.92.16.85", "345-899-3560x4587", "+1-903-140-4508x769")

CARD_WORD_FRAMES = (
    "my card {} was charged twice",
    "card {}",
    "cc: {}",
    "Credit card number {} expired?",
    "debit card {} blocked",
    "PAN {}",
    "Visa {} declined",
    "pay by Mastercard {}",
    "Maestro {}",
    "card number: {}",
)
CARD_BARE_FRAMES = ("paid with {} last week", "the number {} was declined", "charge {} again", "use {} instead")
PHONE_FRAMES = ("call me at {}", "phone: {}", "my number is {}", "reach us on {}", "tel {}", "contact {} after 5pm", "{} (mobile)", "sms to {}")
SSN_FRAMES = ("SSN {}", "my social security number is {}", "ssn: {}", "tax id {}", "SSN#{}")
EMAIL_FRAMES = ("mail {}", "reply to {}", "email: {}", "<{}>", "contact {} for details")
IBAN_FRAMES = ("IBAN {}", "wire to {}", "refund to account {}", "iban: {}")
IP_FRAMES = ("login from {}", "ip {}", "address {} blocked", "client={}")


def group_card(number: str, rng: random.Random) -> str:
    separator = rng.choice(["", "", " ", " ", "-", "."])
    if not separator:
        return number
    if len(number) == 15:  # Amex and 15-digit JCB print 4-6-5
        return separator.join((number[:4], number[4:10], number[10:]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


def luhn_complete(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


class Builder:
    """Text built piece by piece, each PII piece's span recorded as it is appended."""

    def __init__(self) -> None:
        self.text = ""
        self.labels: list[list] = []

    def add(self, piece: str) -> None:
        self.text += piece

    def add_pii(self, kind: str, frame: str, value: str) -> None:
        before, after = frame.split("{}")
        self.text += before
        self.labels.append([kind, len(self.text), len(self.text) + len(value)])
        self.text += value + after


class Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for index, locale in enumerate(sorted(set(LOCALES) | set(IBAN_LOCALES))):
            faker = Faker(locale)
            faker.seed_instance(seed * 1000 + index)
            self.fakers[locale] = faker
        self.locales = [locale for locale, weight in LOCALES.items() for _ in range(weight)]

    def card(self, *, word: bool) -> tuple[str, str]:
        kinds = CARD_TYPES if word else CARD_TYPES[:-1]  # twelve digits only after a card word
        number = self.fakers["en_US"].credit_card_number(card_type=self.rng.choice(kinds))
        frame = self.rng.choice(CARD_WORD_FRAMES if word else CARD_BARE_FRAMES)
        return frame, group_card(number, self.rng)

    def phone(self, locale: str) -> tuple[str, str]:
        if self.rng.random() < 0.06:
            return self.rng.choice(PHONE_FRAMES), self.rng.choice(ISSUE_PHONES)
        return self.rng.choice(PHONE_FRAMES), self.fakers[locale].phone_number()

    def ssn(self) -> tuple[str, str]:
        ssn = self.fakers["en_US"].ssn()
        style = self.rng.random()
        if style < 0.2:
            ssn = ssn.replace("-", " ")
        elif style < 0.35:
            return self.rng.choice(("SSN {}", "ssn: {}", "social security no. {}")), ssn.replace("-", "")
        return self.rng.choice(SSN_FRAMES), ssn

    def email(self, locale: str) -> tuple[str, str]:
        faker = self.fakers[locale]
        return self.rng.choice(EMAIL_FRAMES), self.rng.choice([faker.email(), faker.free_email(), faker.company_email()])

    def iban(self) -> tuple[str, str]:
        compact = self.fakers[self.rng.choice(IBAN_LOCALES)].iban()
        value = compact if self.rng.random() < 0.5 else " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
        return self.rng.choice(IBAN_FRAMES), value

    def ip(self, locale: str) -> tuple[str, str]:
        faker = self.fakers[locale]
        return self.rng.choice(IP_FRAMES), faker.ipv4() if self.rng.random() < 0.75 else faker.ipv6()

    def distractor(self, locale: str) -> str:
        faker, rng = self.fakers[locale], self.rng
        return rng.choice(
            [
                lambda: f"on {faker.date()}",
                lambda: f"at {faker.time()}",
                lambda: f"since {faker.date(pattern='%d.%m.%Y')}",
                lambda: f"due {faker.date(pattern='%d/%m/%Y')}",
                lambda: f"total {faker.pricetag()}",
                lambda: f"postcode {faker.postcode()}",
                lambda: f"no. {faker.building_number()}",
                lambda: f"EAN {faker.ean13()}",
                lambda: f"ISBN {faker.isbn13()}",
                lambda: f"expires {faker.credit_card_expire()}",
                lambda: f"CVV {faker.credit_card_security_code()}",
                lambda: f"order #{faker.random_number(digits=rng.randint(6, 10), fix_len=True)}",
                lambda: f"ticket {faker.uuid4()}",
                lambda: f"{rng.randint(2, 40)} items",
            ]
        )()

    def sentence(self) -> dict:
        locale = self.rng.choice(self.locales)
        faker, out = self.fakers[locale], Builder()
        out.add(faker.sentence(nb_words=self.rng.randint(4, 10)))
        for _ in range(self.rng.randint(1, 3)):
            out.add(" ")
            kind = self.rng.choice(["credit_card", "credit_card", "phone", "phone", "phone", "us_ssn", "email", "iban", "ip_address"])
            frame, value = self._value(kind, locale)
            out.add_pii(kind, frame, value)
            if self.rng.random() < 0.6:
                out.add(f", {self.distractor(locale)}")
            out.add(self.rng.choice([". ", "; ", " - ", ". "]) + faker.sentence(nb_words=self.rng.randint(3, 8)))
        return {"kind": "sentence", "locale": locale, "text": out.text, "labels": out.labels}

    def _value(self, kind: str, locale: str) -> tuple[str, str]:
        if kind == "credit_card":
            return self.card(word=self.rng.random() < 0.75)
        if kind == "phone":
            return self.phone(locale)
        if kind == "us_ssn":
            return self.ssn()
        if kind == "email":
            return self.email(locale)
        if kind == "iban":
            return self.iban()
        return self.ip(locale)

    def log_lookalike(self) -> str:
        rng = self.rng
        digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
        return rng.choice(
            [
                lambda: f"took {rng.random() / 100:.18f}s",
                lambda: f"duration={rng.uniform(0, 5):.16f}",
                lambda: f"order=ORD-2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{digits(6)}",
                lambda: f"invoice INV-{rng.randint(2019, 2026)}-{digits(6)}",
                lambda: f"ref {digits(4)}-{digits(4)}-{digits(4)}",
                lambda: f"order_id={luhn_complete(str(rng.randint(1, 9)) + digits(10))}",  # 12 digits, Luhn-valid
                lambda: f"ts_ms={rng.randint(1_600_000_000_000, 1_800_000_000_000)}",
                lambda: f"ts={rng.randint(1_600_000_000, 1_800_000_000)}",
                lambda: f"bytes={rng.randint(1000, 999_999_999)}",
                lambda: f"GET /api/v1/users/{digits(6)}/orders/{digits(8)} 200",
                lambda: f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
                lambda: f"at 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                lambda: f"sha256={rng.getrandbits(256):064x}",
                lambda: f"amount={rng.randint(1, 99999)}.{digits(2)} EUR",
                lambda: f"port {rng.randint(1024, 65535)}",
                lambda: f"trace {rng.getrandbits(128):032x}",
                lambda: f"batch {digits(3)} {digits(2)} {digits(3)}",
                lambda: f"lat={rng.uniform(-90, 90):.6f} lon={rng.uniform(-180, 180):.6f}",
            ]
        )()

    def log_line(self) -> dict:
        rng = self.rng
        locale = rng.choice(self.locales)
        out = Builder()
        out.add(
            f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
            f"{rng.randint(0, 999):03d}Z {rng.choice(['INFO', 'WARN', 'ERROR'])} {rng.choice(['payments', 'auth', 'api', 'support'])}:"
        )
        for _ in range(rng.randint(1, 4)):
            out.add(" ")
            if rng.random() < 0.5:
                kind = rng.choice(["credit_card", "credit_card", "phone", "phone", "us_ssn", "email", "iban", "ip_address"])
                _, value = self._value(kind, locale)
                key = {"credit_card": "card", "phone": "phone", "us_ssn": "ssn", "email": "email", "iban": "iban", "ip_address": "ip"}[kind]
                if kind == "credit_card" and len(value.replace(" ", "").replace("-", "").replace(".", "")) > 12 and rng.random() < 0.3:
                    key = "ref"  # thirteen digits or more need no card word
                out.add_pii(kind, rng.choice([f"{key}={{}}", f'"{key}": "{{}}"', f"{key}: {{}}"]), value)
            else:
                out.add(self.log_lookalike())
        return {"kind": "log", "locale": locale, "text": out.text, "labels": out.labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--log-lines", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    maker = Maker(args.seed)
    records = [maker.sentence() for _ in range(args.sentences)] + [maker.log_line() for _ in range(args.log_lines)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for record in records:
        for kind, _, _ in record["labels"]:
            counts[kind] = counts.get(kind, 0) + 1
    print(f"{len(records)} records, labels {dict(sorted(counts.items()))} -> {args.out}")


if __name__ == "__main__":
    main()
