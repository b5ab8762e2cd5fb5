"""Transformations: the contract's five and every ``t:`` the CRS request files use."""

from __future__ import annotations

import hashlib
import re as stdlib_re
from pathlib import Path

import pytest

from shadow.engine import RuleError
from shadow.engine.transforms import (
    MODSEC_TRANSFORMS,
    apply_contract_transforms,
    compress_whitespace,
    html_entity_decode,
    lowercase,
    modsec_transform_name,
    percent_decode,
    remove_nulls,
    resolve_contract_transforms,
    url_decode,
)

CRS_RULES = Path(__file__).resolve().parents[2] / "crs" / "rules"


# ---- contract transforms (signature / regex) -------------------------------------------


def test_url_decode_is_one_pass_with_plus_as_space_and_keeps_invalid_escapes():
    assert url_decode("a%20b+c%2B") == "a b c+"
    assert url_decode("%2527") == "%27"  # one pass only
    assert url_decode("100%zz%4") == "100%zz%4"
    assert url_decode("caf%C3%A9") == "café"


def test_lowercase():
    assert lowercase("UNION Select") == "union select"


def test_html_entity_decode_named_and_numeric():
    assert html_entity_decode("&lt;script&gt;&#x61;&#98;&quot;") == '<script>ab"'
    assert html_entity_decode("no entities") == "no entities"


def test_compress_whitespace_keeps_one_space_per_run():
    assert compress_whitespace(" a \t\n b  ") == " a b "
    assert compress_whitespace("a") == "a"
    assert compress_whitespace("\t\n") == " "
    assert compress_whitespace("") == ""


def test_remove_nulls():
    assert remove_nulls("a\x00b\x00") == "ab"


def test_contract_transforms_apply_in_order():
    assert apply_contract_transforms("%3CSCRIPT%3E", ("url_decode", "lowercase")) == "<script>"
    # Order matters: lowercase first leaves %3C encoded the same, so the result is equal,
    # but html decoding before url decoding cannot see an encoded ampersand.
    assert apply_contract_transforms("%26lt;", ("html_entity_decode", "url_decode")) == "&lt;"
    assert apply_contract_transforms("%26lt;", ("url_decode", "html_entity_decode")) == "<"


def test_unknown_contract_transform_is_named():
    with pytest.raises(RuleError, match="'base64'"):
        resolve_contract_transforms(["url_decode", "base64"])


# ---- ModSecurity transformations -----------------------------------------------------------

CASES = [
    ("lowercase", b"SeLeCT \xc3\x89", b"select \xc3\x89"),  # ASCII folding only, like C tolower
    ("urlDecode", b"a%20b+c%2", b"a b c%2"),
    ("urlDecode", b"%zz%41", b"%zzA"),
    ("urlDecodeUni", b"%u0041%uff1c%41+", b"A<A "),  # %uff1c: full-width '<'
    ("urlDecodeUni", b"%u12", b"%u12"),
    ("urlDecodeUni", b"%uzzzz", b"%uzzzz"),
    ("htmlEntityDecode", b"&lt;a&#x41;&#66&quot;&nbsp;&foo;", b'<aAB"\xa0&foo;'),
    ("htmlEntityDecode", b"&#x100;&#", b"\x00&#"),  # numeric entities keep the low byte
    ("jsDecode", b"\\x41\\u0042\\101\\n\\q", b"ABA\nq"),
    ("jsDecode", b"\\uff1c", b"<"),
    ("cssDecode", b"\\41\\042 x\\\nz\\g", b"ABxzg"),
    ("cmdLine", b"C^a\"t /e'tc,;  P", b"cat/etc p"),
    ("cmdLine", b"ls (  a", b"ls( a"),  # only the space before '(' goes
    ("compressWhitespace", b"a \t\n\xa0b  c", b"a b c"),
    ("removeWhitespace", b" a\tb\n\xa0c\x0b ", b"abc"),
    ("removeNulls", b"a\x00b", b"ab"),
    ("replaceComments", b"a/*x*/b/*y", b"a b "),
    ("removeComments", b"a/*x*/b<!--c-->d--e", b"abd"),
    ("removeComments", b"1 # rest", b"1 "),
    ("removeCommentsChar", b"1/*x*/un--ion#<!--a-->", b"1xuniona"),
    ("normalizePath", b"/a/b/../c/./d//e", b"/a/c/d/e"),
    ("normalizePath", b"/../../etc/passwd", b"/etc/passwd"),
    ("normalizePath", b"./foo", b"foo"),
    ("normalizePath", b"/search", b"/search"),
    ("normalisePath", b"/a//b/", b"/a/b/"),
    ("normalizePathWin", b"C:\\a\\..\\b", b"C:/b"),
    ("normalisePathWin", b"\\x\\.\\y", b"/x/y"),
    ("utf8toUnicode", b"caf\xc3\xa9", b"caf%u00e9"),
    ("utf8toUnicode", b"\xe2\x80\x99x", b"%u2019x"),
    ("utf8toUnicode", b"ascii", b"ascii"),
    ("escapeSeqDecode", b"\\x41\\102\\n\\q", b"AB\nq"),
    ("base64Decode", b"c2VsZWN0", b"select"),
    ("base64Decode", b"not base64!", b""),
    ("base64Encode", b"select", b"c2VsZWN0"),
    ("hexDecode", b"414243", b"ABC"),
    ("hexEncode", b"AB", b"4142"),
    ("length", b"abc", b"3"),
    ("sha1", b"abc", hashlib.sha1(b"abc").digest()),  # noqa: S324
    ("md5", b"abc", hashlib.md5(b"abc").digest()),  # noqa: S324
    ("trim", b" \t a b \n", b"a b"),
    ("trimLeft", b"  a ", b"a "),
    ("trimRight", b"  a ", b"  a"),
    ("uppercase", b"abc", b"ABC"),
    ("replaceNulls", b"a\x00b", b"a b"),
]


@pytest.mark.parametrize(("name", "value", "expected"), CASES)
def test_modsecurity_transformation(name, value, expected):
    assert MODSEC_TRANSFORMS[name](value) == expected


def test_every_transformation_used_by_the_crs_request_files_is_supported():
    used = set()
    for path in CRS_RULES.glob("REQUEST-9*.conf"):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                continue
            used.update(stdlib_re.findall(r"[\s,\"]t:([A-Za-z0-9]+)", line))
    used.discard("none")
    assert used, "expected t: actions in the CRS files"
    missing = sorted(name for name in used if modsec_transform_name(name) is None)
    assert missing == []


def test_transformation_names_are_case_insensitive_and_unknown_ones_are_none():
    assert modsec_transform_name("URLDECODEUNI") == "urlDecodeUni"
    assert modsec_transform_name("base64decode") == "base64Decode"
    assert modsec_transform_name("rot13") is None


def test_percent_decode_fast_path_agrees_with_the_lenient_decoder():
    for value in (b"%41%42", b"a\\%41", b"%4", b"%%41", b"%zz%41\\x41", b"\\", b"%5c%78%34%31"):
        expected = bytearray()
        i = 0
        while i < len(value):
            pair = value[i + 1 : i + 3]
            if value[i] == 0x25 and len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair):
                expected.append(int(pair, 16))
                i += 3
            else:
                expected.append(value[i])
                i += 1
        assert percent_decode(value) == bytes(expected), value
