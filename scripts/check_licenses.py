#!/usr/bin/env python3
"""Fail when a package the image ships is under the GPL or AGPL.

Reads the licences of the installed packages with pip-licenses (metadata and classifiers)
and checks those named in requirements.txt, the runtime lock (test tools never ship).
LGPL is not refused: it allows dynamic linking from code under any licence. A known
exception must be listed in EXCEPTIONS with the reason and the way out; anything else
under GPL/AGPL fails the run.

    .venv/bin/python scripts/check_licenses.py     (make licenses; CI runs it)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# "GPL" or "General Public License" not preceded by Lesser/Library (LGPL).
COPYLEFT = re.compile(r"(?<![L\w])A?GPL|(?<!Lesser )(?<!Library )(?<!Lesser)General Public License", re.IGNORECASE)
# Packages allowed despite a copyleft licence, each with its reason. None today: the
# shadow engine reaches libinjection through Debian's libmodsecurity3 (ctypes), not a GPL wrapper.
EXCEPTIONS: dict[str, str] = {}


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def runtime_packages() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {_name(line) for line in lines if line and not line.startswith((" ", "#", "-"))}


def installed_licenses() -> dict[str, str]:
    raw = subprocess.run(  # noqa: S603 - a fixed command: this interpreter, a fixed module
        [sys.executable, "-m", "piplicenses", "--format=json", "--from=mixed", "--with-system"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {_name(entry["Name"]): entry["License"] for entry in json.loads(raw)}


def main() -> int:
    licenses = installed_licenses()
    wanted = runtime_packages()
    missing = sorted(wanted - licenses.keys())
    if missing:
        print(f"licenses: not installed, cannot check: {', '.join(missing)} (run make venv)", file=sys.stderr)
        return 2
    refused, excepted = [], []
    for name in sorted(wanted):
        if COPYLEFT.search(licenses[name]):
            (excepted if name in EXCEPTIONS else refused).append(name)
    for name in excepted:
        print(f"licenses: {name}: {licenses[name]} — allowed for now: {EXCEPTIONS[name]}")
    for name in refused:
        print(f"licenses: {name}: {licenses[name]} — GPL/AGPL is not allowed in what the image ships", file=sys.stderr)
    print(f"licenses: {len(wanted)} runtime packages checked, {len(refused)} refused, {len(excepted)} known exception(s)")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
