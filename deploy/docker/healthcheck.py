"""Docker HEALTHCHECK: GET /health of this container's role, with a Host header Django
accepts. Workers and beat have no web server: their metrics endpoint answers instead,
when SHIELDX_METRICS_PORT is set (else there is nothing to ask, and they pass).

`healthcheck.py /ready` asks the readiness route instead (scripts/deploy.sh's smoke
test runs it inside a pod with kubectl exec)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

WEB_PORTS = {"credits": 5004, "shadow": 5005, "camouflage": 8089, "all": 8000}


def target(path: str = "/health") -> str | None:
    role = os.environ.get("SHIELDX_ROLE", "all")
    if role in WEB_PORTS:
        return f"http://127.0.0.1:{os.environ.get('SHIELDX_PORT') or WEB_PORTS[role]}{path}"
    port = os.environ.get("SHIELDX_METRICS_PORT")
    return f"http://127.0.0.1:{port}/metrics" if port else None


def host_header() -> str:
    # Django refuses a Host it does not list; use the first concrete allowed host.
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and "*" not in host:
            return host
    return "localhost"


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/health"
    if path not in ("/health", "/ready"):
        print("usage: healthcheck.py [/health|/ready]", file=sys.stderr)
        return 2
    url = target(path)
    if url is None:
        return 0
    request = urllib.request.Request(url, headers={"Host": host_header()})  # noqa: S310 - a fixed loopback URL
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"healthcheck: {url}: {exc.code} {exc.read().decode(errors='replace')[:500]}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
