"""The TX values a CRS deployment starts each request with."""

from __future__ import annotations

from typing import Any


def crs_presets(paranoia_level: int, threshold: int) -> dict[str, bytes]:
    """TX values that crs-setup.conf and REQUEST-901-INITIALIZATION would set.

    Loading REQUEST-901 itself is optional: its rules only fill what is unset.
    """
    values: dict[str, Any] = {
        "crs_setup_version": 4290,
        "blocking_paranoia_level": paranoia_level,
        "detection_paranoia_level": paranoia_level,
        "inbound_anomaly_score_threshold": threshold,
        "outbound_anomaly_score_threshold": 4,
        "reporting_level": 4,
        "early_blocking": 0,
        "sampling_percentage": 100,
        "critical_anomaly_score": 5,
        "error_anomaly_score": 4,
        "warning_anomaly_score": 3,
        "notice_anomaly_score": 2,
        "allowed_methods": "GET HEAD POST OPTIONS",
        "allowed_request_content_type": "|application/x-www-form-urlencoded| |multipart/form-data| "
        "|text/xml| |application/xml| |application/soap+xml| |application/json|",
        "allowed_request_content_type_charset": "|utf-8| |iso-8859-1| |iso-8859-15| |windows-1252|",
        "allowed_http_versions": "HTTP/1.0 HTTP/1.1 HTTP/2 HTTP/2.0 HTTP/3 HTTP/3.0",
        "restricted_extensions": ".ani/ .asa/ .asax/ .ascx/ .back/ .backup/ .bak/ .bck/ .bk/ .bkp/ "
        ".bat/ .cdx/ .cer/ .cfg/ .cmd/ .cnf/ .com/ .compositefont/ .config/ .conf/ .copy/ .crt/ "
        ".cs/ .csproj/ .csr/ .dat/ .db/ .dbf/ .dist/ .dll/ .dos/ .dpkg-dist/ .drv/ .gadget/ .hta/ "
        ".htr/ .htw/ .ida/ .idc/ .idq/ .inc/ .inf/ .ini/ .jks/ .jse/ .key/ .licx/ .lnk/ .log/ "
        ".mdb/ .msc/ .ocx/ .old/ .pass/ .pdb/ .pfx/ .pif/ .pem/ .pol/ .prf/ .printer/ .pwd/ "
        ".rdb/ .rdp/ .reg/ .resources/ .resx/ .sav/ .save/ .scr/ .sct/ .sh/ .shs/ .sql/ .sqlite/ "
        ".sqlite3/ .swap/ .swo/ .swp/ .sys/ .temp/ .tfstate/ .tlb/ .tmp/ .vb/ .vbe/ .vbs/ "
        ".vbproj/ .vsdisco/ .vxd/ .webinfo/ .ws/ .wsc/ .wsf/ .wsh/ .xsd/ .xsx/",
        "restricted_headers_basic": "/content-encoding/ /proxy/ /lock-token/ /content-range/ /if/ "
        "/x-http-method-override/ /x-http-method/ /x-method-override/ "
        "/x-middleware-subrequest/ /expect/",
        "restricted_headers_extended": "/accept-charset/",
        "allow_method_override_parameter": 0,
        "enforce_bodyproc_urlencoded": 0,
        "crs_validate_utf8_encoding": 1,
        "crs_skip_response_analysis": 0,
        "anomaly_score": 0,
        "blocking_inbound_anomaly_score": 0,
        "detection_inbound_anomaly_score": 0,
    }
    for level in range(1, 5):
        values[f"inbound_anomaly_score_pl{level}"] = 0
        values[f"outbound_anomaly_score_pl{level}"] = 0
    return {key: str(value).encode() for key, value in values.items()}
