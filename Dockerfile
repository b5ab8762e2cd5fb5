# syntax=docker/dockerfile:1
# ShieldX: one image, every role. SHIELDX_ROLE picks what a container runs:
#   credits (5004) | shadow (5005) | camouflage (8089) | all (8000)  -> gunicorn
#   worker -> celery worker, beat -> celery beat; `migrate` as the command runs migrations.
# Build:  docker build -t shieldx:1.0.0 .
# Run:    docker run --read-only --tmpfs /tmp --tmpfs /run/shieldx \
#           -e SHIELDX_ROLE=credits -e DATABASE_URL=... -e REDIS_URL=... -e SECRET_KEY=... \
#           -e SHIELDX_KEYRING=... -e ALLOWED_HOSTS=... -p 5004:5004 shieldx:1.0.0

# --- builder: compilers live here only -------------------------------------------------
# Pin by digest in your registry mirror (python:3.11-slim-bookworm@sha256:...) for
# reproducible builds; both stages must use the same base.
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# build-essential for any dependency that ships no wheel for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements.txt .
# The lock file pins and hashes every package, direct and transitive: two builds install
# the same bytes, and a tampered or substituted download fails the hash check.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt

WORKDIR /app
COPY . .
# Static files are collected at build time (the root filesystem is read-only at run
# time); a throwaway SECRET_KEY and SQLite path only let settings load, nothing is kept.
RUN SHIELDX_VAR_DIR=/tmp/build-var SECRET_KEY=collectstatic-only STATIC_ROOT=/app/staticfiles \
    /opt/venv/bin/python manage.py collectstatic --no-input --verbosity 0 \
 && rm -rf /tmp/build-var \
 && /opt/venv/bin/python -m compileall -q -j 0 /app /opt/venv/lib

# --- runtime: no compilers, no secrets, not root ------------------------------------
FROM python:3.11-slim-bookworm AS runtime
ARG SHIELDX_UID=10001
LABEL org.opencontainers.image.title="shieldx" \
      org.opencontainers.image.description="ShieldX Platform: credits, shadow evaluation, camouflage" \
      org.opencontainers.image.source="https://github.com/shieldx/shieldx-platform"
# libmodsecurity3 (Apache-2.0, with the BSD-3 libinjection inside): the shadow engine's
# @detectSQLi/@detectXSS call its libinjection through ctypes (shadow/engine/libmodsecurity.py).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmodsecurity3=3.0.9-1+deb12u2 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid "${SHIELDX_UID}" shieldx \
 && useradd --system --uid "${SHIELDX_UID}" --gid shieldx --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shieldx \
 && mkdir -p /run/shieldx/metrics \
 && chown -R shieldx:shieldx /run/shieldx
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=shieldx.settings \
    SHIELDX_ENV=production \
    SHIELDX_ROLE=all \
    STATIC_ROOT=/app/staticfiles \
    PROMETHEUS_MULTIPROC_DIR=/run/shieldx/metrics \
    GUNICORN_WORKER_TMP_DIR=/dev/shm \
    TMPDIR=/tmp
WORKDIR /app
# The only writable paths when the root filesystem is read-only.
VOLUME ["/tmp", "/run/shieldx"]
# Numeric, so the kubelet can verify runAsNonRoot.
USER ${SHIELDX_UID}:${SHIELDX_UID}
EXPOSE 5004 5005 8089 8000 9808
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "/app/deploy/docker/healthcheck.py"]
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
