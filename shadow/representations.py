"""The JSON shapes of CONTRACT §4, built from rows in one place."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from shadow.models import Dataset, Deployment, Evaluation, EvaluationStatus, Rule, RuleVersion
from shieldx import timestamps


def rule_key(tenant_id: str, rule_id: str) -> str:
    """The label ``shadow_rule_f1_score`` carries instead of tenant and rule ids (a rule
    id is chosen by the client and may be anything, a card number included): an operator
    who sees a metric finds the rule by this key in the rule's API answer."""
    return hashlib.sha256(f"{tenant_id}/{rule_id}".encode()).hexdigest()[:16]


def rfc3339(moment: datetime | None) -> str | None:
    return timestamps.rfc3339(moment) if moment else None


def dataset(row: Dataset) -> dict[str, Any]:
    counts = row.counts or {}
    by_category: dict[str, int] = {}
    for per_label in counts.values():
        for category, n in per_label.items():
            by_category[category] = by_category.get(category, 0) + n
    return {
        "dataset_id": row.public_id,
        "tenant_id": row.tenant_id,
        "name": row.name,
        "version": row.version,
        "sample_count": row.sample_count,
        "by_label": {label: sum(counts.get(label, {}).values()) for label in ("attack", "benign")},
        "by_category": dict(sorted(by_category.items())),
        "counts": {label: dict(sorted(per.items())) for label, per in sorted(counts.items())},
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


def evaluation(row: Evaluation) -> dict[str, Any]:
    """Status and progress always; the contract's result fields once completed."""
    version = row.rule_version.version if row.rule_version_id else None
    body: dict[str, Any] = {
        "eval_id": row.public_id,
        "tenant_id": row.tenant_id,
        "status": row.status,
        "progress": row.progress,
        "rule": {
            "rule_id": row.rule_ref or None,
            "rule_key": rule_key(row.tenant_id, row.rule_ref) if row.rule_ref else None,
            "name": row.rule_name or None,
            "version": version,
            "rule_type": row.rule_type,
            "config_hash": row.config_hash,
        },
        "dataset": {"dataset_id": row.dataset.public_id, "name": row.dataset.name, "version": row.dataset_version},
        "selection": {
            "sample_size": row.sample_size,
            "seed": row.seed,
            "target_categories": row.target_categories,
            "selected": row.selected,
        },
        "cached_from": row.cached_from.public_id if row.cached_from_id else None,
        "created_at": rfc3339(row.created_at),
        "started_at": rfc3339(row.started_at),
        "completed_at": rfc3339(row.finished_at),
    }
    if row.status == EvaluationStatus.COMPLETED and row.result:
        body.update(row.result)
    elif row.status == EvaluationStatus.FAILED:
        body["error"] = row.error
    return body


def rule_version(row: RuleVersion, *, with_config: bool = True) -> dict[str, Any]:
    body = {
        "version": row.version,
        "name": row.name,
        "rule_type": row.rule_type,
        "config_hash": row.config_hash,
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at),
    }
    if with_config:
        body["rule_config"] = row.rule_config
    return body


def deployment(row: Deployment) -> dict[str, Any]:
    return {
        "action": row.action,
        "version": row.version,
        "previous_version": row.previous_version,
        "eval_id": row.evaluation.public_id if row.evaluation_id else None,
        "forced": row.forced,
        "gate": row.gate,
        "actor": row.actor,
        "created_at": rfc3339(row.created_at),
    }


def rule(row: Rule, versions: list[RuleVersion], deployments: list[Deployment]) -> dict[str, Any]:
    latest = versions[-1] if versions else None
    return {
        "tenant_id": row.tenant_id,
        "rule_id": row.rule_id,
        "rule_key": rule_key(row.tenant_id, row.rule_id),
        "name": latest.name if latest else None,
        "latest_version": row.latest_version,
        "active_version": row.active_version.version if row.active_version_id else None,
        "activated_at": rfc3339(row.activated_at),
        "versions": [rule_version(v) for v in versions],
        "deployments": [deployment(d) for d in deployments],
    }


def created_version(row: Rule, version: RuleVersion) -> dict[str, Any]:
    return {
        "tenant_id": row.tenant_id,
        "rule_id": row.rule_id,
        "rule_key": rule_key(row.tenant_id, row.rule_id),
        **rule_version(version),
        "active_version": row.active_version.version if row.active_version_id else None,
    }


def sample(position_data: str, *, sample_id: str, label: str, category: str, outcome: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sample_id,
        **json.loads(position_data),
        "label": label,
        "category": category,
        "outcome": outcome["outcome"],
        "predicted_attack": outcome["predicted_attack"],
        "fired": outcome["fired"],
        "score": outcome["score"],
        **({"error": outcome["error"]} if "error" in outcome else {}),
    }
