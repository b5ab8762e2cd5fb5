#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis the test suite talks to are up; start local ones
# when they are down (this machine's Debian packages), else say what to start.
set -euo pipefail

PGHOST_CHECK=${PGHOST_CHECK:-127.0.0.1}
PGPORT_CHECK=${PGPORT_CHECK:-5432}
REDIS_HOST_CHECK=${REDIS_HOST_CHECK:-127.0.0.1}
REDIS_PORT_CHECK=${REDIS_PORT_CHECK:-6379}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {  # name host port
  for _ in $(seq 1 50); do port_open "$2" "$3" && return 0; sleep 0.2; done
  echo "services: $1 did not come up on $2:$3" >&2
  return 1
}

if ! port_open "$PGHOST_CHECK" "$PGPORT_CHECK"; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL" >&2
    versions=(/etc/postgresql/*)
    pg_ctlcluster --skip-systemctl-redirect "$(basename "${versions[0]}")" main start
    wait_for PostgreSQL "$PGHOST_CHECK" "$PGPORT_CHECK"
  else
    echo "services: PostgreSQL is not answering on $PGHOST_CHECK:$PGPORT_CHECK; start it (or set DATABASE_URL)" >&2
    exit 1
  fi
fi

if ! port_open "$REDIS_HOST_CHECK" "$REDIS_PORT_CHECK"; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "services: starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT_CHECK" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis "$REDIS_HOST_CHECK" "$REDIS_PORT_CHECK"
  else
    echo "services: Redis is not answering on $REDIS_HOST_CHECK:$REDIS_PORT_CHECK; start it (or set REDIS_URL)" >&2
    exit 1
  fi
fi
echo "services: PostgreSQL $PGHOST_CHECK:$PGPORT_CHECK and Redis $REDIS_HOST_CHECK:$REDIS_PORT_CHECK are up" >&2
