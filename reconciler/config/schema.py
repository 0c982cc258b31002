"""JSON Schema for desired-state and policy files, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from reconciler.config.models import DesiredFile
from reconciler.config.policy import Policy

SCHEMA_FILES = {
    "desired-state": "desired-state.schema.json",
    "policy": "policy.schema.json",
}


def schema_for(kind: str) -> dict[str, Any]:
    model = DesiredFile if kind == "desired-state" else Policy
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = (
        "reconcile desired-state file" if kind == "desired-state" else "reconcile policy file"
    )
    return schema


def schema_text(kind: str) -> str:
    return json.dumps(schema_for(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
