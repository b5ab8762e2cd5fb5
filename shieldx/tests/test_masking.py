from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn

from shieldx.masking import (
    DEFAULT_PHONE_REGIONS,
    FINDING_TYPES,
    Finding,
    find_pii,
    mask_fields,
    mask_for_logs,
    mask_mapping,
    mask_text,
    parse_phone_regions,
    set_phone_regions,
)
from shieldx.masking.text import resolve_overlaps


def spans(text: str) -> list[tuple[str, str]]:
    """(type, matched text) for every finding: reads better than offsets."""
    return [(f.type, text[f.start : f.end]) for f in find_pii(text)]


def luhn_card(prefix: str, length: int = 16) -> str:
    body = prefix + "7" * (length - len(prefix) - 1)
    return body + stdnum_luhn.calc_check_digit(body)


# --- The contract's examples --------------------------------------------------------


def test_contract_card_example_is_masked_in_fields_although_it_fails_luhn():
    masked, findings = mask_fields({"card": "4532-1234-5678-9010"})

    assert masked == {"card": "****-****-****-9010"}
    assert findings == {"card": ["credit_card"]}


def test_contract_ssn_example_is_masked_in_text():
    masked, findings = mask_text("123-45-6789")

    assert masked == "***-**-****"
    assert findings == [Finding("us_ssn", 0, 11)]


def test_contract_email_example_is_masked_in_text():
    masked, findings = mask_text("user@email.com")

    assert masked == "us***@email.com"
    assert findings == [Finding("email", 0, 14)]


def test_findings_are_type_start_end_tuples():
    finding = find_pii("mail bob@example.com")[0]

    assert tuple(finding) == ("email", 5, 20)
    assert finding.type in FINDING_TYPES


# --- Cards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",
        "4222222222222",
        "4222 2222 2222 2",  # 13-digit Visa: a short last group is fine
        luhn_card("2221"),
        luhn_card("4", 19),
        luhn_card("6", 18),  # no known brand: in text, Luhn alone decides
    ],
)
def test_luhn_valid_card_in_text_is_found_and_masked_to_last_four(number):
    text = f"charge card={number} ok"

    masked, findings = mask_text(text)

    assert [(f.type, text[f.start : f.end]) for f in findings] == [("credit_card", number)]
    assert masked.endswith(f"{number[-4:]} ok")
    assert sum(c.isdigit() for c in masked) == 4


def test_masked_card_keeps_separators():
    assert mask_text("pan 4111-1111-1111-1111.")[0] == "pan ****-****-****-1111."


def test_epoch_millis_are_not_cards_in_text_but_are_masked_by_the_log_filter():
    millis = luhn_card("17327", 13)

    assert spans(f"ts_ms={millis}") == []
    assert spans(f"pan {millis[:4]} {millis[4:8]} {millis[8:12]} {millis[12]}") != []  # grouped: a card
    assert mask_for_logs(f"ts_ms={millis}") == f"ts_ms=*********{millis[-4:]}"


def test_luhn_failing_run_is_not_a_card_in_text():
    assert spans("ref 4532123456789010 and 4532-1234-5678-9010") == []


@pytest.mark.parametrize(
    "text",
    [
        "ORD-4111111111111111",  # part of a dashed id
        "x4111111111111111",  # part of a word
        "4111111111111111abc",
        "12.4111111111111111",  # a decimal
        "4111111111111111.25",
        "+4111111111111111",  # `+` makes it a phone number
        "41111111111111111111",  # 20 digits
        "2024 11 27 18 12 39 123",  # short groups are not card groups
        f"ts_ms={luhn_card('17327', 13)}",  # epoch milliseconds that happen to pass Luhn
        "ORD-20241127-4111111111111111",  # dashes join a token
    ],
)
def test_card_shaped_digits_inside_other_tokens_are_not_cards(text):
    assert [t for t, _ in spans(text) if t == "credit_card"] == []


def test_card_after_a_quantity_is_found_without_the_quantity():
    assert spans("qty 2 4111 1111 1111 1111") == [("credit_card", "4111 1111 1111 1111")]


def test_a_space_ends_a_glued_token_so_the_card_after_it_is_found():
    assert spans("ORD-2024 4111 1111 1111 1111") == [("credit_card", "4111 1111 1111 1111")]
    assert mask_for_logs("ORD-2024 4111 1111 1111 1111") == "ORD-2024 **** **** **** 1111"


def test_two_cards_in_one_run_are_two_findings():
    first, second = luhn_card("4"), luhn_card("51")

    assert spans(f"{first} {second}") == [("credit_card", first), ("credit_card", second)]


# Masks of every type but email and IP keep the text's length; leaving `@`, `.` and
# `:` out of the surroundings keeps offsets in `masked` aligned with the input.
SURROUNDINGS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="@.:"), max_size=20)


@given(
    prefix=SURROUNDINGS,
    suffix=SURROUNDINGS,
    body=st.text(alphabet="0123456789", min_size=12, max_size=18),
    separator=st.sampled_from(["", " ", "-"]),
)
@settings(max_examples=300)
def test_mask_never_leaves_more_than_four_digits_of_a_card(prefix, suffix, body, separator):
    number = body + stdnum_luhn.calc_check_digit(body)
    assume(separator or not (len(number) == 13 and number[0] == "1"))  # epoch millis, not a card
    grouped = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    text = f"{prefix} {grouped} {suffix}"
    card_start = len(prefix) + 1

    masked, findings = mask_text(text)

    assert len(masked) == len(text)
    assert sum(c.isdigit() for c in masked[card_start : card_start + len(grouped)]) <= 4


def test_overlapping_luhn_windows_are_masked_as_one():
    # Both 16-digit windows of this 20-digit run pass Luhn: neither may stay readable.
    first = luhn_card("4111")
    run = f"{first[:4]} {first[4:8]} {first[8:12]} {first[12:]}"
    for extra in range(10000):
        candidate = f"{run} {extra:04d}"
        if stdnum_luhn.is_valid(candidate[5:].replace(" ", "")):
            break

    masked, findings = mask_text(f"pan {candidate}")

    assert findings == [Finding("credit_card", 4, 4 + len(candidate))]
    assert masked == "pan **** **** **** **** " + candidate[-4:]


# --- SSNs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ssn",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "900-12-3456",  # areas 900-999
        "999-12-3456",
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
    ],
)
def test_invalid_ssn_is_not_found_in_text_but_is_masked_in_logs(ssn):
    assert spans(f"ssn {ssn}") == []
    assert mask_for_logs(f"ssn {ssn}") == "ssn ***-**-****"


@pytest.mark.parametrize("ssn", ["123-45-6789", "078-05-1120", "001-01-0001", "899-99-9999", "665-01-0001"])
def test_valid_and_published_ssns_are_masked(ssn):
    assert mask_text(f"ssn={ssn};")[0] == "ssn=***-**-****;"


def test_nine_bare_digits_are_an_ssn_only_after_an_ssn_word():
    assert spans("ssn 123456789") == [("us_ssn", "123456789")]
    assert spans("Social Security number: 219099999") == [("us_ssn", "219099999")]
    assert spans("order 123456789") == []
    assert spans("ssn for order 000123456") == []  # SSA rules still apply


@pytest.mark.parametrize("text", ["1-123-45-6789", "123-45-6789-1", "a123-45-6789", "123-45-67890"])
def test_ssn_shape_inside_a_longer_token_is_not_an_ssn(text):
    assert spans(text) == []


# --- Emails --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("user=bob@x.com", "bob@x.com"),
        ("login user=bob.smith+tag@mail.example.co.uk status=ok", "bob.smith+tag@mail.example.co.uk"),
        ("email:alice@example.org", "alice@example.org"),
        ('{"email":"a_b@c.io"}', "a_b@c.io"),
        ("<jo-e@ex-ample.com>", "jo-e@ex-ample.com"),
        ("to bob@x.com.", "bob@x.com"),
        ("from josé@exemple.fr", "josé@exemple.fr"),
        ("to jürgen@bücher.de", "jürgen@bücher.de"),
        ("BOB@EXAMPLE.COM", "BOB@EXAMPLE.COM"),
    ],
)
def test_email_finding_covers_the_address_only(text, address):
    assert spans(text) == [("email", address)]


def test_email_mask_keeps_the_key_prefix_intact():
    assert mask_text("user=bob@x.com")[0] == "user=bo***@x.com"


@pytest.mark.parametrize(("address", "masked"), [("ab@x.io", "a***@x.io"), ("a@x.io", "***@x.io")])
def test_short_local_parts_are_never_shown_whole(address, masked):
    assert mask_text(address)[0] == masked


@pytest.mark.parametrize("text", ["bob@localhost", "bob@x.c", "bob@x.123", "@x.com", "bob@-x.com", "a..b@x.com", "bob@my_host.com"])
def test_not_emails(text):
    assert [t for t, _ in spans(text) if t == "email"] == []


# --- Phones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+14155552671",
        "+1 415 555 2671",
        "+1 (415) 555-2671",
        "+1-415-555-2671",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+33 1 23 45 67 89",
        "+91 98765 43210",
        "+86 138 0013 8000",
        "0044 20 7946 0958",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "1-800-555-0199",
        "020 7946 0958",
        "07700 900123",
    ],
)
def test_phone_formats_are_found(phone):
    assert spans(f"call {phone} now") == [("phone", phone)]


@pytest.mark.parametrize(
    ("text", "phone"),
    [("phone=4155552671", "4155552671"), ('"mobile": "14155552671"', "14155552671"), ("tel 4155552671", "4155552671")],
)
def test_bare_digits_are_a_phone_only_after_a_phone_key(text, phone):
    assert spans(text) == [("phone", phone)]


def test_phone_mask_keeps_the_last_two_digits_and_the_layout():
    assert mask_text("tel +1 (415) 555-2671")[0] == "tel +* (***) ***-**71"


@pytest.mark.parametrize(
    "text",
    [
        "4155552671",  # bare digits: ids and amounts look the same
        "id=4155552671",
        "ts=1732729959",
        "phone=41555526712",  # eleven digits not starting with 1
        "ORD-20241127-000123",
        "2026-11-27T18:12:39Z",
        "2026-11-27 18:12:39.123",
        "took 1234 ms",
        "+1234",
        "+12345678901234567",  # longer than E.164 allows
        "0012345678",  # `00` without grouping is an id
        "ref 0096-0852-5678",  # no country has code 96
        "+28 1234 5678",  # nor 28
    ],
)
def test_phone_look_alikes_are_not_phones(text):
    assert [t for t, _ in spans(text) if t == "phone"] == []


# --- IBANs ---------------------------------------------------------------------------

VALID_IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
    "BE31435411161155",
]


@pytest.mark.parametrize("compact", VALID_IBANS)
def test_iban_with_and_without_spaces(compact):
    assert stdnum_iban.is_valid(compact)
    spaced = stdnum_iban.format(compact)

    assert spans(f"iban {compact} ok") == [("iban", compact)]
    assert spans(f"iban {spaced} ok") == [("iban", spaced)]


def test_iban_followed_by_a_capitalised_word_stops_at_the_iban():
    assert spans("to DE89 3704 0044 0532 0130 00 EUR 10") == [("iban", "DE89 3704 0044 0532 0130 00")]


def test_a_failed_iban_candidate_does_not_hide_the_iban_after_it():
    assert spans("REF AB12 DE89 3704 0044 0532 0130 00") == [("iban", "DE89 3704 0044 0532 0130 00")]


def test_iban_with_a_bad_checksum_is_rejected():
    found = spans("iban DE88370400440532013000 and DE89 3704 0044 0532 0130 01")

    assert [kind for kind, _ in found if kind == "iban"] == []


def test_iban_mask_keeps_country_check_digits_and_last_four():
    assert mask_text("DE89 3704 0044 0532 0130 00")[0] == "DE89 **** **** **** **30 00"
    assert mask_text("GB82WEST12345698765432")[0] == "GB82**************5432"


# --- IP addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["192.168.1.10", "10.0.0.1", "255.255.255.255", "0.0.0.0", "8.8.8.8"],
)
def test_ipv4_found(address):
    assert spans(f"from {address}:443 ok") == [("ip_address", address)]


@pytest.mark.parametrize(
    "text",
    [
        "999.1.1.1",
        "256.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",  # leading zeros are ambiguous (octal in some parsers)
        "v1.2.3.4",
        "version 1.2.3.4",
        "build=10.0.0.1",
        "agent_version=7.52.0.1",
        "appVersion: 1.2.3.4",
        '{"version": "1.2.3.4"}',
        "RELEASE 1.2.3.4",
        "2024.11.27.1",
    ],
)
def test_ipv4_look_alikes_are_not_addresses(text):
    assert spans(text) == []


@pytest.mark.parametrize("text", ["server 10.0.0.1", "ServerVer10 10.0.0.1", "conversion=10.0.0.1"])
def test_words_ending_in_ver_are_not_version_keys(text):
    assert spans(text) == [("ip_address", "10.0.0.1")]


@pytest.mark.parametrize(
    "address",
    [
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2001:db8::8a2e:370:7334",
        "::1",
        "fe80::1%eth0",
        "::ffff:192.0.2.1",
    ],
)
def test_ipv6_found_as_one_finding(address):
    assert spans(f"peer {address}, closed") == [("ip_address", address)]


def test_ipv6_at_the_end_of_a_sentence():
    assert spans("from 2001:db8::1.") == [("ip_address", "2001:db8::1")]


@pytest.mark.parametrize("text", ["2001:db8:::1", "18:12:39", "00:1a:2b:3c:4d:5e", "a :: b", "std::vector", "1:2:3:4:5:6:7:8:9"])
def test_ipv6_look_alikes_are_not_addresses(text):
    assert spans(text) == []


def test_ip_masks():
    assert mask_text("192.168.1.10")[0] == "***.***.***.10"
    assert mask_text("2001:db8::8a2e:370:7334")[0] == "****:****::****:****:7334"
    assert mask_text("::ffff:192.0.2.1")[0] == "::****:***.***.***.1"


# --- Look-alikes and offsets -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-20241127-000123 shipped",
        "at 2026-11-27T18:12:39Z",
        "at 2026-11-27T18:12:39.123456+00:00",
        "request 550e8400-e29b-41d4-a716-446655440000 done",
        "price $1,234.56 (EUR 1.234,56)",
        "release 1.2.3 / 10.4.2",
        "epoch 1732729959 took 12.5ms status=200 bytes=1048576",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "trace 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ],
)
def test_look_alikes_that_are_not_pii(text):
    assert spans(text) == []


def test_offsets_point_into_the_original_text_even_after_non_ascii():
    text = "naïve ☃ 🎉 card 4111 1111 1111 1111 mail bob@x.com"

    findings = find_pii(text)

    assert [text[f.start : f.end] for f in findings] == ["4111 1111 1111 1111", "bob@x.com"]


def test_masking_several_findings_rebuilds_the_text_around_them():
    text = "ssn 123-45-6789, card 4111111111111111, mail user@email.com, ip 10.1.2.3"

    masked, findings = mask_text(text)

    assert masked == "ssn ***-**-****, card ************1111, mail us***@email.com, ip ***.***.***.3"
    assert [f.type for f in findings] == ["us_ssn", "credit_card", "email", "ip_address"]


# --- Overlaps ------------------------------------------------------------------------


def spaced_iban_with_luhn_valid_tail() -> str:
    """A German IBAN whose spaced digits after `DE..` also pass Luhn."""
    for account in range(10**9, 10**9 + 1000):
        bban = f"37040044{account:010d}"
        compact = "DE" + stdnum_iban.calc_check_digits(f"DE00{bban}") + bban
        spaced = stdnum_iban.format(compact)
        if stdnum_luhn.is_valid(spaced[5:].replace(" ", "")):
            return spaced
    raise AssertionError("no candidate found")


def test_iban_beats_the_card_its_digits_contain():
    iban = spaced_iban_with_luhn_valid_tail()

    assert spans(f"pay {iban} now") == [("iban", iban)]


def test_email_beats_a_card_shaped_local_part():
    assert spans("4111111111111111@x.com") == [("email", "4111111111111111@x.com")]


def test_ipv6_with_ipv4_tail_is_one_finding():
    assert spans("::ffff:10.0.0.1") == [("ip_address", "::ffff:10.0.0.1")]


def test_overlap_resolution_prefers_longer_then_priority():
    same_span = [Finding("phone", 0, 16), Finding("credit_card", 0, 16)]
    nested = [Finding("ip_address", 7, 15), Finding("ip_address", 0, 15)]
    chain = [Finding("phone", 0, 10), Finding("iban", 5, 30), Finding("email", 25, 40)]

    assert resolve_overlaps(same_span) == [Finding("credit_card", 0, 16)]
    assert resolve_overlaps(nested) == [Finding("ip_address", 0, 15)]
    assert resolve_overlaps(chain) == [Finding("iban", 5, 30)]


@given(st.text(alphabet="0123456789 -.:@+abAB()=/%", max_size=80))
@settings(max_examples=500)
def test_findings_are_sorted_disjoint_and_in_bounds(text):
    findings = find_pii(text)

    assert all(0 <= f.start < f.end <= len(text) for f in findings)
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:], strict=False))


# --- Fields --------------------------------------------------------------------------


def test_fields_mask_each_value_and_list_types_per_field():
    masked, findings = mask_fields(
        {
            "card": " 4532 1234 5678 9010 ",
            "ssn": "000-12-3456",
            "note": "call +1 415 555 2671 or mail ab.c@x.io",
            "plain": "nothing here",
        }
    )

    assert masked == {
        "card": " **** **** **** 9010 ",
        "ssn": "***-**-****",  # a whole field of SSN shape is masked without SSA checks
        "note": "call +* *** *** **71 or mail ab***@x.io",
        "plain": "nothing here",
    }
    assert findings == {"card": ["credit_card"], "ssn": ["us_ssn"], "note": ["phone", "email"], "plain": []}


def test_a_field_of_twelve_digits_is_not_card_shaped():
    assert mask_fields({"id": "123456789012"}) == ({"id": "123456789012"}, {"id": []})


# --- Log filter ----------------------------------------------------------------------


def test_log_filter_returns_the_same_object_when_nothing_can_match():
    line = "GET /health 200 1.2ms 2026-11-27T18:12:39Z"

    assert mask_for_logs(line) is line


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("card 4532-1234-5678-9010 declined", "card ****-****-****-9010 declined"),
        ("card 4532123456789010", "card ************9010"),
        ("pan=+86 138 0013 8000", "pan=+** *** **** 8000"),  # where data may be a card, mask
        ("ssn 000-00-0000", "ssn ***-**-****"),
        ("qty 1 123-45-6789", "qty 1 ***-**-****"),
        ("user=bob@x.com", "user=bo***@x.com"),
        ("iban DE89370400440532013000", "iban DE89**************3000"),
        ("from 10.0.0.1 tel 415-555-2671", "from 10.0.0.1 tel 415-555-2671"),  # IPs and phones stay
        ("order ORD-20241127-000123", "order ORD-20241127-000123"),
    ],
)
def test_log_filter_masks_whatever_may_be_a_card_ssn_email_or_iban(line, masked):
    assert mask_for_logs(line) == masked


@given(body=st.text(alphabet="0123456789", min_size=13, max_size=19), separator=st.sampled_from(["", " ", "-"]))
def test_log_filter_never_leaves_a_card_shaped_run_readable(body, separator):
    grouped = separator.join(body[i : i + 4] for i in range(0, len(body), 4))

    masked = mask_for_logs(f"payment pan={grouped} status=declined")

    assert sum(c.isdigit() for c in masked) == 4


# --- Adversarial input ----------------------------------------------------------------

MIB = 1 << 20


@pytest.mark.parametrize(
    "text",
    [
        "1" * MIB,
        "1 " * (MIB // 2),
        "1-" * (MIB // 2),
        "12 345 " * (MIB // 7),
        "a" * MIB + "@",
        "a@" + "a-" * (MIB // 2),
        "a." * (MIB // 2) + "@x",
        "AB12 " * (MIB // 5),
        "AB12" + "C" * MIB,
        ":" * MIB,
        "1:" * (MIB // 2),
        "1." * (MIB // 2),
        "+1 " * (MIB // 3),
        "(415) " * (MIB // 6),
        "123-45-" * (MIB // 7),
    ],
    ids=lambda text: repr(text[:8]),
)
def test_one_mebibyte_of_adversarial_input_completes(text):
    find_pii(text)
    mask_for_logs(text)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        # The card window ends inside the SSN: the SSN's digits are hidden before the
        # card's mask shows its last four, so those are the card's own.
        ("refused 4111111111111111 123-45-6789 x", "refused ************1111 ***-**-**** x"),
        ("4111111111111111-123-45-6789", "************1111-***-**-****"),
        ("q=2520123-45-6789", "q=*******-**-****"),  # 13 digits end with an SSN: nothing of it shows
        ("ref ORD-123-45-6789", "ref ORD-***-**-****"),
    ],
)
def test_log_filter_leaves_no_ssn_readable_next_to_a_card(line, masked):
    assert mask_for_logs(line) == masked


# --- CONTRACT §5a: twelve-digit cards, dots, SSN forms --------------------------------------

MAESTRO_12 = "630427373398"  # issue 13's example: passes Luhn


@pytest.mark.parametrize("text", [f"card {MAESTRO_12}", f"cc: {MAESTRO_12}", f"Maestro {MAESTRO_12}", f'"cardNumber": "{MAESTRO_12}"', f"my debit card is {MAESTRO_12}"])
def test_twelve_luhn_digits_after_a_card_word_are_a_card(text):
    assert spans(text) == [("credit_card", MAESTRO_12)]
    assert mask_text(text)[0].endswith("********3398" + text[text.index(MAESTRO_12) + 12 :])


@pytest.mark.parametrize(
    "text",
    [
        f"order {MAESTRO_12}",  # no card word
        f"card on file; the order id for this shipment is {MAESTRO_12}",  # the word is more than 32 characters before
        "card 630427373399",  # fails Luhn
        f"Japan {MAESTRO_12}",  # `pan` inside a word
    ],
)
def test_twelve_digits_without_a_card_word_close_before_or_failing_luhn_are_not_a_card(text):
    assert [t for t, _ in spans(text) if t == "credit_card"] == []


def test_twelve_digits_after_a_card_word_are_masked_in_logs_and_fields_without_luhn():
    assert mask_for_logs("card 630427373399 declined") == "card ********3399 declined"
    assert mask_for_logs("order 630427373399") == "order 630427373399"
    assert mask_fields({"pan": "630427373399", "id": "630427373399"})[0] == {"pan": "********3399", "id": "630427373399"}


@pytest.mark.parametrize("number", ["4111.1111.1111.1111", "3782.822463.10005", "4222.2222.2222.2"])
def test_dotted_card_numbers_are_cards_everywhere(number):
    assert spans(f"paid with {number}.") == [("credit_card", number)]
    assert mask_for_logs(f"pan={number}").count("*") == sum(c.isdigit() for c in number) - 4
    assert mask_fields({"card": number})[1] == {"card": ["credit_card"]}


@pytest.mark.parametrize(
    "text",
    [
        "took 0.004063599999994949s",  # issue 16: a duration, not a card
        "ratio=1.4111111111111111",
        "x=4111111111111111.25",
        "1.2.3.4111111111111111",
        "from 192.168.100.200",
    ],
)
def test_digit_runs_inside_decimal_numbers_are_not_cards_anywhere(text):
    assert [t for t, _ in spans(text) if t == "credit_card"] == []
    assert mask_for_logs(text) == text


@pytest.mark.parametrize("text", ["ssn 123 45 6789", "SSN: 219 09 9999", "id 123 45 6789."])
def test_ssn_with_spaces_is_an_ssn(text):
    assert [t for t, _ in spans(text)] == ["us_ssn"]
    assert "***" in mask_text(text)[0] and "6789" not in mask_text(text)[0]


@pytest.mark.parametrize("text", ["+33 1 123 45 6789", "0 123 45 6789", "123 45 6789 1", "123 45-6789"])
def test_spaced_ssn_shape_inside_a_longer_number_is_not_an_ssn(text):
    assert [t for t, _ in spans(text) if t == "us_ssn"] == []


def test_nine_digits_after_an_ssn_word_are_masked_in_logs_and_fields():
    assert mask_for_logs("ssn=000123456 ok") == "ssn=********* ok"  # logs: no SSA checks
    assert mask_for_logs("bytes=123456789") == "bytes=123456789"
    assert mask_fields({"ssn": "123456789", "zip": "123456789"})[0] == {"ssn": "*********", "zip": "123456789"}


# --- Log filter: spaces, repeated percent-encoding ---------------------------------------------


def test_log_filter_masks_ssn_written_with_spaces():
    assert mask_for_logs("applicant 123 45 6789 rejected") == "applicant *** ** **** rejected"


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_log_filter_masks_a_card_percent_encoded_up_to_three_times(rounds):
    value = "4111 1111 1111 1111"
    for _ in range(rounds):
        value = quote(value)
    masked = mask_for_logs(f"GET /pay?pan={value}&ok=1 HTTP/1.1")

    assert masked == "GET /pay?pan=**** **** **** 1111&ok=1 HTTP/1.1"


def test_log_filter_masks_a_double_encoded_email_and_ssn():
    masked = mask_for_logs("q=" + quote(quote("bob@example.com 123-45-6789")))

    assert masked == "q=bo***@example.com ***-**-****"


# --- mask_mapping: keys like values ---------------------------------------------------------------


def test_mask_mapping_masks_keys_and_values_recursively():
    masked = mask_mapping(
        {
            "4111 1111 1111 1111": "card as a key",
            "nested": {"bob@example.com": ["123-45-6789", {"4111.1111.1111.1111": 1}]},
            "amount": 5,
            "ok": True,
        }
    )

    assert masked == {
        "**** **** **** 1111": "card as a key",
        "nested": {"bo***@example.com": ["***-**-****", {"****.****.****.1111": 1}]},
        "amount": 5,
        "ok": True,
    }


def test_mask_mapping_reads_the_key_as_the_word_before_its_value():
    masked = mask_mapping({"ssn": "123456789", "pan": MAESTRO_12, "card": 4111111111111111, "count": 123456789})

    assert masked == {"ssn": "*********", "pan": "********3398", "card": "************1111", "count": 123456789}


def test_mask_mapping_keeps_every_entry_when_masked_keys_collide():
    masked = mask_mapping({"4111111111111111": "a", "4000000000001111": "b"})

    assert masked == {"************1111": "a", "************1111 #2": "b"}


# --- Phones through libphonenumber --------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "0490 75 40 81",  # issue 13: Australia, no `+`
        "(08) 8747 6301",
        "03.93.92.16.85",  # France, dots
        "345-899-3560x4587",  # North American layout with an extension
        "+1-903-140-4508x769",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "+49 30 901820",
        "030 901820",
        "06 12 34 56 78",
        "+33 6 12 34 56 78",
        "(11) 2345-6789",  # Brazil, no trunk prefix written
        "+1 415 555 2671 ext. 12",
        "(415) 555-2671 x 8",
    ],
)
def test_issue_13_phone_formats_are_found(phone):
    assert spans(f"call {phone} today") == [("phone", phone)]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("tel 345-899-3560x4587", "tel ***-***-**60x****"),
        ("tel +1-903-140-4508 ext. 769", "tel +*-***-***-**08 ext. ***"),
        ("tel 03.93.92.16.85", "tel **.**.**.**.85"),
    ],
)
def test_phone_mask_keeps_the_numbers_last_two_digits_and_hides_the_extension(text, masked):
    assert mask_text(text)[0] == masked


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27",  # a valid German number by its digits alone, but a date
        "1234 5678",  # a valid Swedish number without its trunk 0
        "on 27.11.2026",
        "12/11/2026",
        "price 1234567.89",
        "10.0.0.1 5432",
        "GET /users/12345678/orders/98765432",
        "v2.0.1234567",
        "+2 days",
    ],
)
def test_phone_shapes_of_other_things_are_not_phones(text):
    assert [t for t, _ in spans(text) if t == "phone"] == []


def test_national_numbers_are_recognised_only_in_the_configured_regions():
    french, international = "appel 03.93.92.16.85", "appel +33 3 93 92 16 85"
    try:
        set_phone_regions(["US", "GB"])
        assert spans(french) == []
        assert spans(international) == [("phone", "+33 3 93 92 16 85")]  # `+` works in any region
    finally:
        set_phone_regions(DEFAULT_PHONE_REGIONS)
    assert spans(french) == [("phone", "03.93.92.16.85")]


def test_phone_regions_setting_is_parsed_strictly():
    assert parse_phone_regions(None) == DEFAULT_PHONE_REGIONS
    assert parse_phone_regions(" us, gb ,US") == ("US", "GB")
    with pytest.raises(ValueError, match="XX"):
        parse_phone_regions("US,XX")
