"""What shadow's serializers cannot tell drf-spectacular: the rule types, the two forms
of a rule in evaluate and compare, and the different bodies of 200 and 202.

A post-processing hook (settings.SPECTACULAR_SETTINGS); it runs before the base's
(`shieldx.openapi.postprocess`), which closes every request object."""

from __future__ import annotations

import copy

from shadow.engine import RULE_TYPES
from shadow.samples import LABELS, MAX_CATEGORY_LENGTH, MAX_ID_LENGTH, MAX_METHOD_LENGTH, MAX_SAMPLE_BYTES
from shadow.services import DATASET_NAME
from shieldx.openapi import header

FINISHED, UNFINISHED = ["completed", "failed"], ["pending", "running"]

# One labeled request (CONTRACT §4); fields beyond these (a corpus' `source`…) are ignored,
# so this object stays open.
SAMPLE = {
    "type": "object",
    "description": f"One labeled HTTP request, at most {MAX_SAMPLE_BYTES} bytes as JSON. Other fields are ignored.",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "nullable": True},
        "method": {"type": "string", "minLength": 1, "maxLength": MAX_METHOD_LENGTH, "description": "An HTTP method token."},
        "path": {"type": "string"},
        # null reads as absent (corpora write `"body": null` for requests without one).
        "query": {"type": "string", "default": "", "nullable": True},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}, "default": {}, "nullable": True},
        "body": {"type": "string", "default": "", "nullable": True},
        "label": {"type": "string", "enum": sorted(LABELS)},
        "category": {"type": "string", "minLength": 1, "maxLength": MAX_CATEGORY_LENGTH, "nullable": True, "description": "null or absent: `benign` for benign samples, `uncategorized` for attacks."},
    },
    "required": ["label", "method", "path"],
    "additionalProperties": True,
}


def _rule_forms(schema: dict, *, name_field: str) -> dict:
    """oneOf: a stored version ({rule_id, version}) or the rule inline ({rule_type, rule_config})."""
    base = {k: v for k, v in schema.items() if k not in ("properties", "required", "type")}
    properties = schema["properties"]
    common = [f for f in ("tenant_id",) if f in schema.get("required", [])]
    stored = {"type": "object", "title": "A stored rule version", "properties": copy.deepcopy(properties), "required": ["rule_id", "version", *common]}
    inline = {
        "type": "object",
        "title": "The rule inline",
        "properties": copy.deepcopy(properties),
        "required": ["rule_config", "rule_type", *common],
        # With rule_id and version both given, the stored version is what runs.
        "not": {"required": ["rule_id", "version"]},
        "description": f"`rule_type` must equal `rule_config.type`; `{name_field}` and `rule_id` only label the result.",
    }
    return {**base, "oneOf": [stored, inline]}


def _status_only(schema: dict, statuses: list[str]) -> dict:
    narrowed = copy.deepcopy(schema)
    narrowed["properties"]["status"] = {"type": "string", "enum": statuses}
    return narrowed


def postprocess(result: dict, generator, request, public) -> dict:
    schemas = result.get("components", {}).get("schemas", {})
    paths = result.get("paths", {})
    for name in ("RuleCreateRequest", "RuleSpecRequest", "EvaluateRequest"):
        rule_type = schemas.get(name, {}).get("properties", {}).get("rule_type")
        if rule_type is not None:
            rule_type.pop("maxLength", None)
            rule_type.pop("minLength", None)
            rule_type["enum"] = list(RULE_TYPES)
    name = schemas.get("DatasetCreateRequest", {}).get("properties", {}).get("name")
    if name is not None:
        name["pattern"] = DATASET_NAME.pattern
    samples = schemas.get("SamplesImportRequest", {}).get("properties", {}).get("samples")
    if samples is not None:
        schemas["Sample"] = SAMPLE
        samples.update(items={"$ref": "#/components/schemas/Sample"}, minItems=1)
    if "EvaluateRequest" in schemas:
        schemas["EvaluateRequest"] = _rule_forms(schemas["EvaluateRequest"], name_field="rule_name")
    if "RuleSpecRequest" in schemas:
        schemas["RuleSpecRequest"] = _rule_forms(schemas["RuleSpecRequest"], name_field="name")

    if "EvaluationResponse" in schemas and "/shadow/evaluate" in paths:
        evaluation = schemas["EvaluationResponse"]
        schemas["EvaluationFinished"] = _status_only(evaluation, FINISHED)
        accepted = _status_only(evaluation, UNFINISHED)
        for field in [f for f in accepted["properties"] if f not in evaluation.get("required", [])]:
            accepted["properties"].pop(field)
        accepted["description"] = "Not done within wait_seconds: poll the Location (GET /shadow/evaluations/{eval_id})."
        schemas["EvaluationAccepted"] = accepted
        responses = paths["/shadow/evaluate"]["post"]["responses"]
        responses["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/EvaluationFinished"}
        responses["202"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/EvaluationAccepted"}
        responses["202"].setdefault("headers", {})["Location"] = header("Location")
    if "CompareResponse" in schemas and "/shadow/compare" in paths:
        schemas["CompareFinished"] = _status_only(schemas["CompareResponse"], FINISHED)
        evaluation_ref = {"$ref": "#/components/schemas/EvaluationResponse"}
        schemas["CompareRunning"] = {
            "type": "object",
            "description": "Not both done within wait_seconds: repeat the request once they are (it is then answered from the cache).",
            "properties": {"status": {"type": "string", "enum": ["running"]}, "a": evaluation_ref, "b": evaluation_ref},
            "required": ["a", "b", "status"],
        }
        responses = paths["/shadow/compare"]["post"]["responses"]
        responses["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/CompareFinished"}
        responses["202"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/CompareRunning"}
    active = paths.get("/shadow/rules/active", {}).get("get")
    if active:
        for status in ("200", "304"):
            headers = active["responses"][status].setdefault("headers", {})
            headers["ETag"] = header("ETag")
            headers["Cache-Control"] = header("Cache-Control", description="`private, no-cache`: revalidate with If-None-Match.")
    return result
