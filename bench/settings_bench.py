"""Benchmark settings: the project's, plus a constant DRF route as the framework's floor."""

from shieldx.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
