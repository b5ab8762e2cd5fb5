"""Transformations: the contract's five (on text) and ModSecurity's ``t:`` set (on bytes).

The contract transforms (``url_decode``, ``lowercase``, ``html_entity_decode``,
``compress_whitespace``, ``remove_nulls``) work on ``str`` for the ``signature`` and
``regex`` rule types.

The ModSecurity transformations work on ``bytes`` because ModSecurity works on the
raw octets of a request: ``t:lowercase`` folds ASCII only, ``t:htmlEntityDecode`` of
``&#x100;`` keeps the low byte, and CRS regexes match UTF-8 byte sequences.  Each one
is a port of libmodsecurity 3's C++ implementation (quirks included where they
change what a rule sees), with a fast path for the common case where the input holds
nothing the transformation would touch.

No regular-expression module is used here: every transformation is plain byte work.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import html
from collections.abc import Callable
from urllib.parse import unquote_plus

from .errors import RuleError

TextTransform = Callable[[str], str]
ByteTransform = Callable[[bytes], bytes]

# --------------------------------------------------------------------------------------
# Contract transforms (signature / regex rule types)
# --------------------------------------------------------------------------------------


def url_decode(value: str) -> str:
    """Percent-decoding with ``+`` as space, one pass (invalid escapes are kept)."""
    if "%" not in value and "+" not in value:
        return value
    return unquote_plus(value, errors="replace")


def lowercase(value: str) -> str:
    return value.lower()


def html_entity_decode(value: str) -> str:
    """HTML5 character references, named and numeric (``&lt;``, ``&#60;``, ``&#x3c;``)."""
    if "&" not in value:
        return value
    return html.unescape(value)


def compress_whitespace(value: str) -> str:
    """Every run of whitespace becomes one space (leading and trailing runs too)."""
    parts = value.split()
    if not parts:
        return " " if value else ""
    joined = " ".join(parts)
    if value[0].isspace():
        joined = " " + joined
    if value[-1].isspace():
        joined += " "
    return joined


def remove_nulls(value: str) -> str:
    return value.replace("\x00", "") if "\x00" in value else value


CONTRACT_TRANSFORMS: dict[str, TextTransform] = {
    "url_decode": url_decode,
    "lowercase": lowercase,
    "html_entity_decode": html_entity_decode,
    "compress_whitespace": compress_whitespace,
    "remove_nulls": remove_nulls,
}


def resolve_contract_transforms(names: object, *, field: str = "transforms") -> tuple[str, ...]:
    """Validate a rule_config ``transforms`` list; the names are kept for cache keys."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RuleError(f"'{field}' must be a list of transform names", {"field": field})
    unknown = [n for n in names if n not in CONTRACT_TRANSFORMS]
    if unknown:
        raise RuleError(
            f"unsupported transform {unknown[0]!r}; supported: " + ", ".join(CONTRACT_TRANSFORMS),
            {"field": field, "transform": unknown[0]},
        )
    return tuple(names)


def apply_contract_transforms(value: str, names: tuple[str, ...]) -> str:
    for name in names:
        value = CONTRACT_TRANSFORMS[name](value)
    return value


# --------------------------------------------------------------------------------------
# ModSecurity transformations (bytes -> bytes)
# --------------------------------------------------------------------------------------

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_OCT_DIGITS = frozenset(b"01234567")
_NBSP = 0xA0
# C isspace() in the "C" locale.
_C_SPACE = b" \t\n\v\f\r"
_C_SPACE_SET = frozenset(_C_SPACE)


def _x2c(hi: int, lo: int) -> int:
    """libmodsecurity's x2c(): two hex digits to a byte, without validation."""

    def digit(c: int) -> int:
        return ((c & 0xDF) - 0x41 + 10) if c >= 0x41 else (c - 0x30)

    return ((digit(hi) << 4) + digit(lo)) & 0xFF


def _single_hex(c: int) -> int:
    return ((c & 0xDF) - 0x41 + 10) & 0xFF if c >= 0x41 else (c - 0x30) & 0xFF


def _collapse_spaces(value: bytes) -> bytes:
    """Collapse runs of b' ' to one, keeping one leading/trailing space if present."""
    if b"  " not in value:
        return value
    parts = [p for p in value.split(b" ") if p]
    if not parts:
        return b" "
    out = b" ".join(parts)
    if value[:1] == b" ":
        out = b" " + out
    if value[-1:] == b" ":
        out += b" "
    return out


_HEX_PAIRS: dict[bytes, bytes] = {}
for _byte in range(256):
    for _hi in {f"{_byte:02x}"[0], f"{_byte:02X}"[0]}:
        for _lo in {f"{_byte:02x}"[1], f"{_byte:02X}"[1]}:
            _HEX_PAIRS[(_hi + _lo).encode()] = bytes([_byte])


def percent_decode(raw: bytes) -> bytes:
    """%XX to bytes, one pass; an invalid escape is kept as it is (ModSecurity's lenient mode)."""
    if b"%" not in raw:
        return raw
    try:
        # C speed: with every backslash escaped, the only escapes left are the \xHH
        # made from %HH; an invalid one raises and takes the lenient path below.
        return codecs.escape_decode(raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:
        return _percent_decode_lenient(raw)


def _percent_decode_lenient(raw: bytes) -> bytes:
    parts = raw.split(b"%")
    out = [parts[0]]
    pairs = _HEX_PAIRS
    for part in parts[1:]:
        decoded = pairs.get(part[:2])
        if decoded is None:
            out.append(b"%")
            out.append(part)
        else:
            out.append(decoded)
            out.append(part[2:])
    return b"".join(out)


def ms_lowercase(value: bytes) -> bytes:
    return value.lower()


def ms_uppercase(value: bytes) -> bytes:
    return value.upper()


def ms_url_decode(value: bytes) -> bytes:
    """t:urlDecode: %XX decoded when valid, invalid escapes kept, '+' to space."""
    if b"+" in value:
        value = value.replace(b"+", b" ")
    return percent_decode(value)


def ms_url_decode_uni(value: bytes) -> bytes:
    """t:urlDecodeUni: t:urlDecode plus IIS %uHHHH (low byte, full-width ASCII folded)."""
    if b"%u" not in value and b"%U" not in value:
        return ms_url_decode(value)
    out = bytearray()
    n = len(value)
    i = 0
    while i < n:
        c = value[i]
        if c == 0x25:  # '%'
            if i + 1 < n and value[i + 1] in (0x75, 0x55):  # 'u' / 'U'
                if i + 5 < n and all(value[i + k] in _HEX_DIGITS for k in (2, 3, 4, 5)):
                    b = _x2c(value[i + 4], value[i + 5])
                    if 0 < b < 0x5F and value[i + 2] in (0x66, 0x46) and value[i + 3] in (0x66, 0x46):
                        b += 0x20
                    out.append(b)
                    i += 6
                else:
                    out += value[i : i + 2]
                    i += 2
            elif i + 2 < n and value[i + 1] in _HEX_DIGITS and value[i + 2] in _HEX_DIGITS:
                out.append(_x2c(value[i + 1], value[i + 2]))
                i += 3
            else:
                out.append(c)
                i += 1
        else:
            out.append(0x20 if c == 0x2B else c)
            i += 1
    return bytes(out)


_HTML_NAMED = {b"quot": 0x22, b"amp": 0x26, b"lt": 0x3C, b"gt": 0x3E, b"nbsp": _NBSP}


def ms_html_entity_decode(value: bytes) -> bytes:
    """t:htmlEntityDecode: &#DDD; &#xHH; (low byte; ';' optional) and five named ones."""
    if b"&" not in value:
        return value
    out = bytearray()
    n = len(value)
    i = 0
    while i < n:
        copy = 1
        if value[i] == 0x26 and i + 1 < n:  # '&'
            j = i + 1
            if value[j] == 0x23:  # '#'
                copy += 1
                if j + 1 < n:
                    j += 1
                    if value[j] in (0x78, 0x58):  # 'x' / 'X'
                        copy += 1
                        if j + 1 < n:
                            j += 1
                            k = j
                            while j < n and value[j] in _HEX_DIGITS:
                                j += 1
                            if j > k:
                                out.append(int(value[k:j], 16) & 0xFF)
                                i = j + 1 if j < n and value[j] == 0x3B else j
                                continue
                    else:
                        k = j
                        while j < n and 0x30 <= value[j] <= 0x39:
                            j += 1
                        if j > k:
                            out.append(int(value[k:j]) & 0xFF)
                            i = j + 1 if j < n and value[j] == 0x3B else j
                            continue
            else:
                k = j
                while j < n and (chr(value[j]).isalnum() and value[j] < 0x80):
                    j += 1
                if j > k:
                    named = _HTML_NAMED.get(value[k:j].lower())
                    if named is not None:
                        out.append(named)
                        i = j + 1 if j < n and value[j] == 0x3B else j
                        continue
                    copy = j - k + 1
        out += value[i : i + copy]
        i += copy
    return bytes(out)


def ms_js_decode(value: bytes) -> bytes:
    """t:jsDecode: \\uHHHH (low byte, full width folded), \\xHH, \\OOO, \\C escapes."""
    if b"\\" not in value:
        return value
    simple = {0x61: 7, 0x62: 8, 0x66: 12, 0x6E: 10, 0x72: 13, 0x74: 9, 0x76: 11}
    out = bytearray()
    n = len(value)
    i = 0
    while i < n:
        c = value[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        if i + 5 < n and value[i + 1] == 0x75 and all(value[i + k] in _HEX_DIGITS for k in (2, 3, 4, 5)):
            b = _x2c(value[i + 4], value[i + 5])
            if 0 < b < 0x5F and value[i + 2] in (0x66, 0x46) and value[i + 3] in (0x66, 0x46):
                b += 0x20
            out.append(b)
            i += 6
        elif i + 3 < n and value[i + 1] == 0x78 and value[i + 2] in _HEX_DIGITS and value[i + 3] in _HEX_DIGITS:
            out.append(_x2c(value[i + 2], value[i + 3]))
            i += 4
        elif i + 1 < n and value[i + 1] in _OCT_DIGITS:
            j = 0
            while i + 1 + j < n and j < 3 and value[i + 1 + j] in _OCT_DIGITS:
                j += 1
            digits = value[i + 1 : i + 1 + j]
            if j == 3 and digits[0] > 0x33:  # keep the result within one byte
                j = 2
                digits = digits[:2]
            out.append(int(digits, 8) & 0xFF)
            i += 1 + j
        elif i + 1 < n:
            nxt = value[i + 1]
            out.append(simple.get(nxt, nxt))
            i += 2
        else:
            out += value[i:]
            i = n
    return bytes(out)


def ms_css_decode(value: bytes) -> bytes:
    """t:cssDecode: CSS 2 escapes (1-6 hex digits, last two kept; full width folded)."""
    if b"\\" not in value:
        return value
    out = bytearray()
    n = len(value)
    i = 0
    while i < n:
        if value[i] != 0x5C:
            out.append(value[i])
            i += 1
            continue
        if i + 1 >= n:  # a trailing backslash is dropped
            i += 1
            continue
        i += 1
        j = 0
        while j < 6 and i + j < n and value[i + j] in _HEX_DIGITS:
            j += 1
        if j > 0:
            fullcheck = False
            if j == 1:
                b = _single_hex(value[i])
            else:
                b = _x2c(value[i + j - 2], value[i + j - 1])
                if j == 4 or (j == 5 and value[i] == 0x30) or (j == 6 and value[i] == 0x30 and value[i + 1] == 0x30):
                    fullcheck = True
            if fullcheck and 0 < b < 0x5F and value[i + j - 3] in (0x66, 0x46) and value[i + j - 4] in (0x66, 0x46):
                b += 0x20
            out.append(b)
            if i + j < n and value[i + j] in _C_SPACE_SET:
                j += 1
            i += j
        elif value[i] == 0x0A:
            i += 1
        else:
            out.append(value[i])
            i += 1
    return bytes(out)


_CMDLINE_TABLE = bytes(0x20 if c in b",;\t\r\n" else (c + 32 if 0x41 <= c <= 0x5A else c) for c in range(256))


def ms_cmd_line(value: bytes) -> bytes:
    """t:cmdLine: drop \\ ' " ^, fold , ; and whitespace to one space, no space before / (, lowercase."""
    value = value.translate(_CMDLINE_TABLE, b"\"'\\^")
    value = _collapse_spaces(value)
    if b" /" in value:
        value = value.replace(b" /", b"/")
    if b" (" in value:
        value = value.replace(b" (", b"(")
    return value


_WHITESPACE_TO_SPACE = bytes(0x20 if (c in _C_SPACE_SET or c == _NBSP) else c for c in range(256))
_WHITESPACE_BYTES = _C_SPACE + bytes([_NBSP])


def ms_compress_whitespace(value: bytes) -> bytes:
    """t:compressWhitespace: each run of whitespace (NBSP included) becomes one space."""
    return _collapse_spaces(value.translate(_WHITESPACE_TO_SPACE))


def ms_remove_whitespace(value: bytes) -> bytes:
    return value.translate(None, _WHITESPACE_BYTES)


def ms_remove_nulls(value: bytes) -> bytes:
    return value.replace(b"\x00", b"") if b"\x00" in value else value


def ms_replace_nulls(value: bytes) -> bytes:
    return value.replace(b"\x00", b" ") if b"\x00" in value else value


def ms_replace_comments(value: bytes) -> bytes:
    """t:replaceComments: each /* ... */ (or unterminated /* ...) becomes one space."""
    if b"/*" not in value:
        return value
    out = bytearray()
    pos = 0
    while True:
        start = value.find(b"/*", pos)
        if start < 0:
            out += value[pos:]
            break
        out += value[pos:start]
        out.append(0x20)
        end = value.find(b"*/", start + 2)
        if end < 0:
            break
        pos = end + 2
    return bytes(out)


def ms_remove_comments(value: bytes) -> bytes:
    """t:removeComments: drop /* */ and <!-- --> comments; '--' or '#' ends the value."""
    if b"#" not in value and b"--" not in value and b"/*" not in value:
        return value
    out = bytearray()
    n = len(value)
    i = 0
    in_comment = False
    while i < n:
        if not in_comment:
            if value.startswith(b"/*", i):
                in_comment = True
                i += 2
            elif value.startswith(b"<!--", i):
                in_comment = True
                i += 4
            elif value.startswith(b"--", i) or value[i] == 0x23:
                break
            else:
                out.append(value[i])
                i += 1
        elif value.startswith(b"*/", i):
            in_comment = False
            i += 2
        elif value.startswith(b"-->", i):
            in_comment = False
            i += 3
        else:
            i += 1
    if in_comment:
        out.append(0x20)
    return bytes(out)


_COMMENT_MARKERS = (b"/*", b"*/", b"<!--", b"-->", b"--", b"#")
_COMMENT_STARTS = frozenset(b"/*<-#")


def ms_remove_comments_char(value: bytes) -> bytes:
    """t:removeCommentsChar: delete the comment markers /* */ <!-- --> -- and #."""
    if b"#" not in value and b"--" not in value and b"/*" not in value and b"*/" not in value and b"<!--" not in value:
        return value
    out: list[bytes] = []
    starts = _COMMENT_STARTS
    n = len(value)
    kept_from = i = 0
    while i < n:
        if value[i] in starts:
            for marker in _COMMENT_MARKERS:
                if value.startswith(marker, i):
                    out.append(value[kept_from:i])
                    i += len(marker)
                    kept_from = i
                    break
            else:
                i += 1
        else:
            i += 1
    out.append(value[kept_from:])
    return b"".join(out)


def _normalize_path(value: bytes, win: bool) -> bytes:
    """Port of libmodsecurity's normalize_path_inplace(): removes ./ and // and resolves ../."""
    n = len(value)
    if n == 0:
        return value
    if b"." not in value and b"//" not in value and not (win and b"\\" in value):
        return value
    buf = bytearray(value)
    slash, backslash, dot = 0x2F, 0x5C, 0x2E
    end = n - 1
    relative = not (buf[0] == slash or (win and buf[0] == backslash))
    trailing = buf[end] == slash or (win and buf[end] == backslash)
    src = dst = 0
    hitroot = False
    done = False
    while not done and src <= end and dst <= end:
        if win:
            if buf[src] == backslash:
                buf[src] = slash
            if src < end and buf[src + 1] == backslash:
                buf[src + 1] = slash
        normalise = True
        if src == end:
            done = True
        elif buf[src + 1] != slash:
            normalise = False
        skip_copy = False
        if normalise:
            if src != end and buf[src] == slash:
                pass
            elif buf[src] == dot:
                if dst > 0 and buf[dst - 1] == dot:
                    if relative and (hitroot or dst - 2 <= 0):
                        hitroot = True
                    else:
                        dst -= 3
                        while dst > 0 and buf[dst] != slash:
                            dst -= 1
                        if dst <= 0:
                            hitroot = True
                            dst = 0
                            if not relative and src == end:
                                dst += 1
                        if done:
                            skip_copy = True
                        else:
                            src += 1
                elif dst == 0:
                    if done:
                        skip_copy = True
                    else:
                        src += 1
                elif buf[dst - 1] == slash:
                    if done:
                        skip_copy = True
                    else:
                        dst -= 1
                        src += 1
            elif dst > 0:
                hitroot = False
        if skip_copy:
            continue
        if buf[src] == slash:
            while src < end and (buf[src + 1] == slash or (win and buf[src + 1] == backslash)):
                src += 1
            if relative and dst == 0:
                src += 1
                continue
        buf[dst] = buf[src]
        dst += 1
        src += 1
    if not trailing and dst > 0 and buf[dst - 1] == slash:
        dst -= 1
    return bytes(buf[:dst])


def ms_normalize_path(value: bytes) -> bytes:
    return _normalize_path(value, win=False)


def ms_normalize_path_win(value: bytes) -> bytes:
    return _normalize_path(value, win=True)


def ms_utf8_to_unicode(value: bytes) -> bytes:
    """t:utf8toUnicode: each multi-byte UTF-8 character becomes %uHHHH (lowercase hex)."""
    if value.isascii() and b"\x00" not in value:
        return value
    out = bytearray()
    n = len(value)
    i = 0
    while i < n:
        c = value[i]
        length = 0
        code = 0
        if c < 0x80:
            if c:  # libmodsecurity drops NUL bytes here
                out.append(c)
        elif c & 0xE0 == 0xC0:
            if i + 1 < n and value[i + 1] & 0xC0 == 0x80:
                length = 2
                code = ((c & 0x1F) << 6) | (value[i + 1] & 0x3F)
            else:
                length = -1
        elif c & 0xF0 == 0xE0:
            if i + 2 < n and value[i + 1] & 0xC0 == 0x80 and value[i + 2] & 0xC0 == 0x80:
                length = 3
                code = ((c & 0x0F) << 12) | ((value[i + 1] & 0x3F) << 6) | (value[i + 2] & 0x3F)
            else:
                length = -1
        elif c & 0xF8 == 0xF0:
            if i + 3 < n and all(value[i + k] & 0xC0 == 0x80 for k in (1, 2, 3)):
                length = 4
                # "< 6" (not "<< 6") reproduces libmodsecurity's own arithmetic.
                code = ((c & 0x07) << 18) | ((value[i + 1] & 0x3F) << 12) | int((value[i + 2] & 0x3F) < 6) | (value[i + 3] & 0x3F)
            else:
                length = -1
        else:
            out.append(c)
        if length > 0:
            out += b"%u" + (b"%04x" % code)
            if 0xD800 <= code <= 0xDFFF or (
                (length == 4 and code < 0x10000) or (length == 3 and code < 0x800) or (length == 2 and code < 0x80)
            ):
                out.append(c)
            i += length
        else:
            i += 1
    return bytes(out)


_ESCAPES = {
    0x61: 7, 0x62: 8, 0x66: 12, 0x6E: 10, 0x72: 13, 0x74: 9, 0x76: 11,
    0x5C: 0x5C, 0x3F: 0x3F, 0x27: 0x27, 0x22: 0x22,
}  # fmt: skip


def ms_escape_seq_decode(value: bytes) -> bytes:
    """t:escapeSeqDecode: ANSI C escapes (\\n, \\xHH, \\OOO...); unknown ones lose the backslash."""
    if b"\\" not in value:
        return value
    out = bytearray()
    n = len(value)
    i = 0
    while i < n:
        if value[i] != 0x5C or i + 1 >= n:
            out.append(value[i])
            i += 1
            continue
        nxt = value[i + 1]
        decoded = _ESCAPES.get(nxt, -1)
        if decoded != -1:
            i += 2
        elif nxt in (0x78, 0x58):
            if i + 3 < n and value[i + 2] in _HEX_DIGITS and value[i + 3] in _HEX_DIGITS:
                decoded = _x2c(value[i + 2], value[i + 3])
                i += 4
        elif nxt in _OCT_DIGITS:
            j = 0
            while i + 1 + j < n and j < 3 and value[i + 1 + j] in _OCT_DIGITS:
                j += 1
            decoded = int(value[i + 1 : i + 1 + j], 8) & 0xFF
            i += 1 + j
        if decoded == -1:
            out.append(nxt)
            i += 2
        else:
            out.append(decoded)
    return bytes(out)


def ms_hex_decode(value: bytes) -> bytes:
    try:
        return bytes.fromhex(value[: len(value) // 2 * 2].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return bytes(_x2c(value[k], value[k + 1]) for k in range(0, len(value) - 1, 2))


def ms_hex_encode(value: bytes) -> bytes:
    return value.hex().encode("ascii")


def ms_base64_decode(value: bytes) -> bytes:
    """t:base64Decode: invalid base64 decodes to nothing, as with libmodsecurity's mbedtls."""
    try:
        return binascii.a2b_base64(value.strip(b" \r\n"), strict_mode=True)
    except (binascii.Error, ValueError):
        return b""


def ms_base64_encode(value: bytes) -> bytes:
    return base64.b64encode(value)


def ms_length(value: bytes) -> bytes:
    return str(len(value)).encode("ascii")


def ms_sha1(value: bytes) -> bytes:
    return hashlib.sha1(value).digest()  # noqa: S324 - ModSecurity semantics, not security


def ms_md5(value: bytes) -> bytes:
    return hashlib.md5(value).digest()  # noqa: S324 - ModSecurity semantics, not security


def ms_trim(value: bytes) -> bytes:
    return value.strip(_C_SPACE)


def ms_trim_left(value: bytes) -> bytes:
    return value.lstrip(_C_SPACE)


def ms_trim_right(value: bytes) -> bytes:
    return value.rstrip(_C_SPACE)


# Canonical names as ModSecurity spells them; lookup is case-insensitive.
def ms_css_decode_c_string(value: bytes) -> bytes:
    """libmodsecurity 3.0.9's t:cssDecode returns its buffer as a C string: everything
    from the first NUL on (in the input or decoded from \\0) is lost. A CRS rule
    therefore misses ``<script /*%00*/>``; so must we, to predict the WAF."""
    decoded = ms_css_decode(value)
    cut = decoded.find(b"\x00")
    return decoded if cut < 0 else decoded[:cut]


MODSEC_TRANSFORMS: dict[str, ByteTransform] = {
    "lowercase": ms_lowercase,
    "uppercase": ms_uppercase,
    "urlDecode": ms_url_decode,
    "urlDecodeUni": ms_url_decode_uni,
    "htmlEntityDecode": ms_html_entity_decode,
    "jsDecode": ms_js_decode,
    "cssDecode": ms_css_decode_c_string,
    "cmdLine": ms_cmd_line,
    "compressWhitespace": ms_compress_whitespace,
    "removeWhitespace": ms_remove_whitespace,
    "removeNulls": ms_remove_nulls,
    "replaceNulls": ms_replace_nulls,
    "replaceComments": ms_replace_comments,
    "removeComments": ms_remove_comments,
    "removeCommentsChar": ms_remove_comments_char,
    "normalizePath": ms_normalize_path,
    "normalisePath": ms_normalize_path,
    "normalizePathWin": ms_normalize_path_win,
    "normalisePathWin": ms_normalize_path_win,
    "utf8toUnicode": ms_utf8_to_unicode,
    "escapeSeqDecode": ms_escape_seq_decode,
    "base64Decode": ms_base64_decode,
    "base64Encode": ms_base64_encode,
    "hexDecode": ms_hex_decode,
    "hexEncode": ms_hex_encode,
    "length": ms_length,
    "sha1": ms_sha1,
    "md5": ms_md5,
    "trim": ms_trim,
    "trimLeft": ms_trim_left,
    "trimRight": ms_trim_right,
}

_MODSEC_BY_LOWER = {name.lower(): name for name in MODSEC_TRANSFORMS}


def modsec_transform_name(name: str) -> str | None:
    """The canonical spelling of a ``t:`` name, or None when it is not supported."""
    return _MODSEC_BY_LOWER.get(name.lower())
