"""The plan file: the only contract between `plan` and `apply`. Pure, except save/load.

Same inputs give a byte-identical plan apart from `created_at` (sorted keys and actions); the
checksum covers everything but `created_at` and itself, so an edited plan is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler import __version__
from reconciler.actions import Action, sort_actions
from reconciler.errors import PlanFormatError
from reconciler.fileio import atomic_write
from reconciler.jsontext import sorted_json
from reconciler.policy import SafetyReport

FORMAT_VERSION: Literal[1] = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConnectionInfo(_Frozen):
    url: str
    """The expanded base URL (not a secret); the token is never in a plan, only its variable name."""
    token_env: str
    profile: str
    users_path: str = "/Users"
    groups_path: str = "/Groups"
    timeout: float = 30.0
    verify_tls: bool = True
    capabilities: dict[str, Any] = Field(default_factory=dict)


class StateRef(_Frozen):
    backend: str = "local"
    path: str = ".reconcile/state"
    branch: str = "reconcile-state"
    remote: str = "origin"
    lineage: str
    serial: int


class DesiredRef(_Frozen):
    digest: str
    commit: str | None = None
    dirty: bool = False


class Plan(_Frozen):
    format_version: Literal[1] = FORMAT_VERSION
    tool_version: str = __version__
    created_at: str
    target: str
    connection: ConnectionInfo
    state: StateRef
    desired: DesiredRef
    policy_digest: str
    removal: dict[str, Any] = Field(default_factory=dict)
    fingerprints: dict[str, str] = Field(default_factory=dict)
    """'user:<id>' / 'group:<id>' -> content hash of the live object; 'absent:<externalId>' -> userName."""
    actions: tuple[Action, ...] = ()
    warnings: tuple[str, ...] = ()
    summary: dict[str, int] = Field(default_factory=dict)
    safety: SafetyReport
    unmanaged: dict[str, int] = Field(default_factory=dict)
    checksum: str = ""

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)


def summarise(actions: list[Any] | tuple[Any, ...], profile: str) -> dict[str, int]:
    kinds = Counter(a.kind for a in actions)
    out = {
        k: kinds.get(k, 0)
        for k in (
            "create_user", "update_user", "adopt_user", "restore_user", "disable_user",
            "delete_user", "create_group", "update_group", "delete_group", "change_members",
        )
    }  # fmt: skip
    out["members_added"] = sum(len(a.add) for a in actions if a.kind == "change_members")
    out["members_removed"] = sum(len(a.remove) for a in actions if a.kind == "change_members")
    out["invitations"] = kinds.get("create_user", 0) if profile == "bitwarden" else 0
    return out


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_checksum(plan: Plan) -> str:
    body = plan.model_dump(mode="json", exclude={"created_at", "checksum"})
    return "sha256:" + hashlib.sha256(canonical(body).encode()).hexdigest()


def build_plan(**fields: Any) -> Plan:
    actions = sort_actions(list(fields.pop("actions")))
    profile = fields["connection"].profile
    draft = Plan(actions=tuple(actions), summary=summarise(actions, profile), **fields)
    return draft.model_copy(update={"checksum": compute_checksum(draft)})


def dumps(plan: Plan) -> str:
    """The plan file: indented JSON with sorted keys (same inputs, same bytes)."""
    return sorted_json(plan.model_dump(mode="json")).decode("utf-8")


def save_plan(plan: Plan, path: Path) -> None:
    atomic_write(path, sorted_json(plan.model_dump(mode="json")))


def load_plan(path: Path) -> Plan:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFormatError(f"cannot read plan {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlanFormatError(f"{path} is not a plan file (invalid JSON: {exc})") from None
    if not isinstance(raw, dict) or "format_version" not in raw or "actions" not in raw:
        raise PlanFormatError(
            f"{path} is not a plan file (a plan has format_version and actions); "
            "make one with `reconcile plan --target NAME --out FILE`"
        )
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFormatError(
            f"{path}: plan format_version {version!r} is not supported by reconcile {__version__} "
            f"(expected {FORMAT_VERSION}); make the plan with the same version that applies it"
        )
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanFormatError(f"{path}: invalid plan ({where}: {first['msg']})") from None
    if compute_checksum(plan) != plan.checksum:
        raise PlanFormatError(
            f"{path}: checksum mismatch: the plan was modified after it was made; run plan again"
        )
    return plan
