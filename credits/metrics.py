"""Prometheus metrics of the credits app (CONTRACT §6)."""

from prometheus_client import Counter

operations = Counter("credits_operations", "Credits operations by outcome.", ["op", "result"])


def count(op: str, result: str) -> None:
    operations.labels(op=op, result=result).inc()
