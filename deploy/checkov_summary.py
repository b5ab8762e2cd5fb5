"""Read checkov's JSON report (deploy/check.sh) and fail unless every scanned file was
really checked and no check failed.

checkov passes silently when it finds nothing to scan (a hidden directory on the path,
a file it cannot parse), so each rendered manifest and the Dockerfile must appear in the
report with passed checks.

Usage: python deploy/checkov_summary.py REPORT.json SCANNED_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report_path: str, scanned: str) -> int:
    data = json.loads(Path(report_path).read_text())
    reports = data if isinstance(data, list) else [data]
    expected = {"kubernetes": {p.name for p in Path(scanned).glob("*.yaml")}, "dockerfile": {"Dockerfile"}}
    problems: list[str] = []
    for framework, files in expected.items():
        report = next((r for r in reports if r.get("check_type") == framework), None)
        if report is None:
            problems.append(f"{framework}: checkov produced no report")
            continue
        results = report["results"]
        checked = {Path(c["file_path"]).name for c in results.get("passed_checks", []) + results.get("failed_checks", [])}
        for missing in sorted(files - checked):
            problems.append(f"{framework}: {missing} was not checked")
        for failed in results.get("failed_checks", []):
            problems.append(f"{framework}: {failed['check_id']} {failed['check_name']!r} failed for {failed['resource']} ({Path(failed['file_path']).name})")
        summary = report["summary"]
        print(f"  {framework}: {summary['passed']} passed, {summary['failed']} failed, {summary['resource_count']} resources in {len(checked)} files")
    if problems:
        print("checkov:", *problems, sep="\n  - ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
