"""NormalizedSample: contract targets and the ModSecurity variables it fills."""

from __future__ import annotations

import pytest

from shadow.engine import NormalizedSample, RuleError, compile_rule
from shadow.engine.modsec.variables import COLLECTIONS, SCALARS

REQUEST = {
    "id": "s-1",
    "method": "POST",
    "path": "/shop/item%20one/view.php",
    "query": "q=union+select%201&debug&Name=%27x%27",
    "headers": {"Host": "app.test:8080", "User-Agent": "curl/8", "Cookie": "sid=abc; theme=dark"},
    "body": "a=1&b=two+words",
    "label": "attack",
    "category": "sqli",
}


FORM = {**REQUEST, "headers": {**REQUEST["headers"], "Content-Type": "application/x-www-form-urlencoded"}}


def secrule_values(sample: dict, variable: str) -> list[tuple[str, bytes]]:
    """What a SecRule sees for ``variable``: (MATCHED_VAR_NAME, value) per element."""
    # Every element matches, so MATCHED_VARS lists them all in order (an appending
    # setvar would read better, but the engine refuses self-appending setvars).
    rule = compile_rule({"type": "modsecurity", "rules": f'SecRule {variable} "@unconditionalMatch" "id:1,phase:2,pass"'})
    txn = rule.program.run(NormalizedSample(sample))
    return [(name, value) for name, value in txn.matched_vars]


# ---- contract targets ---------------------------------------------------------------------


def test_missing_query_body_and_headers_are_empty():
    sample = NormalizedSample({"method": "GET", "path": "/"})
    assert sample.target("query", ()) == ""
    assert sample.target("body", ()) == ""
    assert sample.target("headers", ()) == ""
    assert sample.id is None and sample.label is None


def test_headers_target_is_one_name_value_line_per_header():
    sample = NormalizedSample(REQUEST)
    assert sample.target("headers", ()) == "Host: app.test:8080\nUser-Agent: curl/8\nCookie: sid=abc; theme=dark"


def test_targets_are_transformed_once_and_cached_per_chain():
    sample = NormalizedSample(REQUEST)
    first = sample.target("query", ("url_decode", "lowercase"))
    assert first == "q=union select 1&debug&name='x'"
    assert sample.target("query", ("url_decode", "lowercase")) is first
    assert sample.target("query", ()) == REQUEST["query"]
    assert sample.target_bytes("path", ("url_decode",)) == b"/shop/item one/view.php"


def test_modsecurity_transform_chains_are_cached_with_their_prefixes():
    sample = NormalizedSample(REQUEST)
    value = b"%2541" * 200  # long enough to use the per-sample cache
    once = sample.transformed(value, ("urlDecode", "urlDecode"))
    assert once == b"A" * 200
    assert sample.transformed(value, ("urlDecode", "urlDecode")) is once
    assert sample.transformed(value, ("urlDecode",)) == b"%41" * 200


def test_wrong_field_types_are_refused():
    with pytest.raises(TypeError):
        NormalizedSample({"method": "GET", "path": 5})
    with pytest.raises(TypeError):
        NormalizedSample({"method": "GET", "path": "/", "headers": ["x"]})


# ---- ModSecurity variables -------------------------------------------------------------------


def test_args_come_from_query_and_urlencoded_body_decoded_with_plus_as_space():
    assert secrule_values(REQUEST, "ARGS_GET") == [
        ("ARGS_GET:q", b"union select 1"),
        ("ARGS_GET:debug", b""),
        ("ARGS_GET:Name", b"'x'"),
    ]
    assert secrule_values(FORM, "ARGS_POST") == [("ARGS_POST:a", b"1"), ("ARGS_POST:b", b"two words")]
    assert [v for _, v in secrule_values(FORM, "ARGS")] == [b"union select 1", b"", b"'x'", b"1", b"two words"]
    assert [v for _, v in secrule_values(FORM, "ARGS_NAMES")] == [b"q", b"debug", b"Name", b"a", b"b"]
    assert [v for _, v in secrule_values(FORM, "ARGS_GET_NAMES")] == [b"q", b"debug", b"Name"]
    assert [v for _, v in secrule_values(FORM, "ARGS_POST_NAMES")] == [b"a", b"b"]


def test_json_body_fills_args_like_libmodsecurity():
    sample = {
        "method": "POST",
        "path": "/api",
        "headers": {"Content-Type": "application/json"},
        "body": '{"a": {"b": "x"}, "n": 1.50, "t": true, "z": null, "list": ["p", {"q": "r"}]}',
    }
    assert secrule_values(sample, "ARGS") == [
        ("ARGS:json.a.b", b"x"),
        ("ARGS:json.n", b"1.50"),
        ("ARGS:json.t", b"true"),
        ("ARGS:json.z", b""),
        ("ARGS:json.list.array_0", b"p"),
        ("ARGS:json.list.array_1.q", b"r"),
    ]
    assert secrule_values(sample, "REQBODY_PROCESSOR") == [("REQBODY_PROCESSOR", b"JSON")]


def test_body_without_content_type_gets_no_processor_only_request_body_sees_it():
    for body in ('{"k": "v"}', "k=v' or 1=1"):
        sample = {"method": "POST", "path": "/", "body": body}
        assert secrule_values(sample, "ARGS_POST") == []
        assert secrule_values(sample, "REQBODY_PROCESSOR") == []
        assert secrule_values(sample, "REQUEST_BODY") == [("REQUEST_BODY", body.encode())]
    unknown = {"method": "POST", "path": "/", "headers": {"Content-Type": "text/plain"}, "body": "k=v"}
    assert secrule_values(unknown, "ARGS_POST") == []
    broken = {"method": "POST", "path": "/", "headers": {"Content-Type": "application/json"}, "body": "{"}
    assert secrule_values(broken, "REQBODY_ERROR") == [("REQBODY_ERROR", b"1")]


def test_vendor_json_is_json_and_a_charset_parameter_changes_nothing():
    for content_type in ("application/vnd.api+json", "application/json; charset=utf-8", "Application/JSON"):
        sample = {"method": "POST", "path": "/", "headers": {"Content-Type": content_type}, "body": '{"a": ["x"]}'}
        assert secrule_values(sample, "ARGS_POST") == [("ARGS_POST:json.a.array_0", b"x")], content_type


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8", "application/soap+xml"])
def test_xml_fills_the_root_text_and_every_attribute_value(content_type):
    body = '<?xml version="1.0"?><a x="1"><b y="2&amp;3">t1</b>t2<!-- no --><![CDATA[<cd>]]></a>'
    sample = {"method": "POST", "path": "/", "headers": {"Content-Type": content_type}, "body": body}
    assert secrule_values(sample, "XML:/*") == [("XML:/*", b"t1t2<cd>")]
    assert secrule_values(sample, "XML://@*") == [("XML://@*", b"1"), ("XML://@*", b"2&3")]
    assert secrule_values(sample, "ARGS_POST") == []
    assert secrule_values(sample, "REQBODY_PROCESSOR") == [("REQBODY_PROCESSOR", b"XML")]
    broken = {**sample, "body": "<a><b></a>"}
    assert secrule_values(broken, "XML:/*") == [] and secrule_values(broken, "REQBODY_ERROR") == [("REQBODY_ERROR", b"1")]


MULTIPART = {
    "method": "POST",
    "path": "/upload",
    "headers": {"Content-Type": 'multipart/form-data; boundary="XyZ"'},
    "body": (
        "--XyZ\r\n"
        'Content-Disposition: form-data; name="title"\r\n\r\n'
        "a ' b\r\n"
        "--XyZ\r\n"
        'Content-Disposition: form-data; name="doc"; filename="..\\\\1.7z"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
        "12345\r\n"
        "--XyZ--\r\n"
    ),
}


def test_multipart_fields_files_sizes_and_part_headers():
    assert secrule_values(MULTIPART, "ARGS_POST") == [("ARGS_POST:title", b"a ' b")]
    assert secrule_values(MULTIPART, "FILES") == [("FILES:doc", b"..\\1.7z")]  # \\ unescaped to \
    assert secrule_values(MULTIPART, "FILES_NAMES") == [("FILES_NAMES:doc", b"doc")]
    assert secrule_values(MULTIPART, "FILES_SIZES") == [("FILES_SIZES:doc", b"5")]
    assert secrule_values(MULTIPART, "FILES_COMBINED_SIZE") == [("FILES_COMBINED_SIZE", b"5")]
    assert secrule_values(MULTIPART, "MULTIPART_PART_HEADERS") == [
        ("MULTIPART_PART_HEADERS:title", b'Content-Disposition: form-data; name="title"\r\n'),
        ("MULTIPART_PART_HEADERS:doc", b'Content-Disposition: form-data; name="doc"; filename="..\\\\1.7z"\r\n'),
        ("MULTIPART_PART_HEADERS:doc", b"Content-Type: application/octet-stream\r\n"),
    ]
    assert secrule_values(MULTIPART, "REQBODY_PROCESSOR") == [("REQBODY_PROCESSOR", b"MULTIPART")]


@pytest.mark.parametrize(
    "disposition",
    [
        "form-data; name=\"doc\"; filename*=utf-8''x.7z",  # only name and filename are understood
        "form-data; name=\"doc\"; name=\"again\"",
        "Form-Data; name=\"doc\"",  # compared case-sensitively
        "form-data name=\"doc\"",
    ],
)
def test_a_content_disposition_libmodsecurity_refuses_fails_the_whole_body(disposition):
    refused = {**MULTIPART, "body": MULTIPART["body"].replace('form-data; name="doc"; filename="..\\\\1.7z"', disposition)}
    assert secrule_values(refused, "ARGS_POST") == [] and secrule_values(refused, "FILES") == []
    assert secrule_values(refused, "REQBODY_ERROR") == [("REQBODY_ERROR", b"1")]


def test_single_quotes_and_an_unterminated_quote_are_read_as_libmodsecurity_reads_them():
    single = {**MULTIPART, "body": MULTIPART["body"].replace('filename="..\\\\1.7z"', "filename='a b.txt'")}
    assert secrule_values(single, "FILES") == [("FILES:doc", b"a b.txt")]
    open_quote = {**MULTIPART, "body": MULTIPART["body"].replace('filename="..\\\\1.7z"', 'filename="c:\\"')}
    assert secrule_values(open_quote, "FILES") == [("FILES:doc", b'c:"')]


def test_a_phase_1_ctl_switches_the_body_processor_and_a_phase_2_one_is_too_late():
    sample = {"method": "POST", "path": "/", "body": "k=v"}
    switch = 'SecAction "id:1,phase:{phase},pass,nolog,ctl:requestBodyProcessor=URLENCODED"\n'
    probe = 'SecRule ARGS_POST:k "@streq v" "id:2,phase:2,deny"'
    assert compile_rule({"type": "modsecurity", "rules": switch.format(phase=1) + probe}).match(NormalizedSample(sample)).matched
    assert not compile_rule({"type": "modsecurity", "rules": switch.format(phase=2) + probe}).match(NormalizedSample(sample)).matched
    with pytest.raises(RuleError, match="requestBodyProcessor=YAML"):
        compile_rule({"type": "modsecurity", "rules": 'SecAction "id:1,phase:1,pass,ctl:requestBodyProcessor=YAML"'})


def test_uri_filename_basename_query_string_and_request_line():
    values = {
        name: secrule_values(FORM, name)[0][1]
        for name in (
            "REQUEST_URI",
            "REQUEST_URI_RAW",
            "REQUEST_FILENAME",
            "REQUEST_BASENAME",
            "QUERY_STRING",
            "REQUEST_LINE",
            "REQUEST_METHOD",
            "REQUEST_PROTOCOL",
            "REQUEST_BODY",
            "REQBODY_PROCESSOR",
            "SERVER_NAME",
        )
    }
    assert values == {
        "REQUEST_URI": b"/shop/item one/view.php?q=union+select 1&debug&Name='x'",
        "REQUEST_URI_RAW": b"/shop/item%20one/view.php?q=union+select%201&debug&Name=%27x%27",
        "REQUEST_FILENAME": b"/shop/item one/view.php",
        "REQUEST_BASENAME": b"view.php",
        "QUERY_STRING": b"q=union+select%201&debug&Name=%27x%27",
        "REQUEST_LINE": b"POST /shop/item%20one/view.php?q=union+select%201&debug&Name=%27x%27 HTTP/1.1",
        "REQUEST_METHOD": b"POST",
        "REQUEST_PROTOCOL": b"HTTP/1.1",
        "REQUEST_BODY": b"a=1&b=two+words",
        "REQBODY_PROCESSOR": b"URLENCODED",
        "SERVER_NAME": b"app.test",
    }


def test_headers_cookies_and_their_names():
    assert secrule_values(REQUEST, "REQUEST_HEADERS:user-agent") == [("REQUEST_HEADERS:User-Agent", b"curl/8")]
    names = [v for _, v in secrule_values(REQUEST, "REQUEST_HEADERS_NAMES")]
    # A body without Content-Length gets one, as it would on the wire.
    assert names == [b"Host", b"User-Agent", b"Cookie", b"Content-Length"]
    assert secrule_values(REQUEST, "REQUEST_COOKIES") == [("REQUEST_COOKIES:sid", b"abc"), ("REQUEST_COOKIES:theme", b"dark")]
    assert [v for _, v in secrule_values(REQUEST, "REQUEST_COOKIES_NAMES")] == [b"sid", b"theme"]


def test_variables_without_data_are_empty():
    for name in ("FILES", "FILES_NAMES", "XML:/*", "MULTIPART_PART_HEADERS", "MULTIPART_STRICT_ERROR", "REQUEST_BODY"):
        assert secrule_values({"method": "GET", "path": "/"}, name) == [], name


@pytest.mark.parametrize("name", sorted(COLLECTIONS | SCALARS))
def test_every_supported_variable_resolves(name):
    text = f'SecRule {name}|&{name} "@rx ." "id:1,phase:2,pass,severity:NOTICE"'
    verdict = compile_rule({"type": "modsecurity", "rules": text}).match(NormalizedSample(REQUEST))
    assert verdict.score in (0, 2)
