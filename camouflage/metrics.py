"""Prometheus metrics of camouflage. Labels are operation names and result codes only:
never a value, a token or a tenant."""

from prometheus_client import Counter

operations = Counter("camouflage_operations", "Camouflage API calls by outcome.", ["op", "result"])
items = Counter("camouflage_items", "Values processed (a batch counts each item).", ["op"])
retired_key_decryptions = Counter(
    "camouflage_retired_key_decryptions",
    "Decryptions refused because the ciphertext's key version is retired (rewrap backlog).",
)


def count(op: str, result: str, *, n_items: int = 0) -> None:
    operations.labels(op=op, result=result).inc()
    if n_items:
        items.labels(op=op).inc(n_items)
