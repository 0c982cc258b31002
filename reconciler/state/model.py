"""The state of one target: what the reconciler manages and what it removed.

Some truth cannot be read back from a SCIM target (Bitwarden never returns group members; no
server says who disabled an account or what it was before). The state holds it. Keys are the
desired-state externalIds (users and groups).
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FORMAT_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ManagedUser(_Frozen):
    external_id: str
    id: str
    """The SCIM id on the target."""
    user_name: str
    origin: Literal["created", "adopted"] = "created"


class ManagedGroup(_Frozen):
    external_id: str
    id: str
    display_name: str
    members: tuple[str, ...] = ()
    """Last-applied member SCIM ids, sorted (the only source of members on Bitwarden)."""
    origin: Literal["created", "adopted"] = "created"


class RemovalRecord(_Frozen):
    """Why and when the reconciler removed an account, and what it was before."""

    external_id: str
    id: str
    user_name: str
    action: Literal["disable", "delete"]
    at: str
    """ISO 8601 UTC time of the removal."""
    reason: str
    previous_active: bool = True
    previous_groups: tuple[str, ...] = ()
    """externalIds of the groups the account was in when removed."""
    delete_due: str | None = None
    """For two-phase removal (`delete_after`): when the disabled account becomes due for deletion."""
    pending: bool = False
    """Written just before the removal is sent (write-ahead): if the run dies between the
    server's change and the record, the next plan still knows the removal was reconcile's own.
    A pending record of an account that is still active means the write never happened."""


class State(_Frozen):
    format_version: int = STATE_FORMAT_VERSION
    target: str
    lineage: str = Field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    users: dict[str, ManagedUser] = Field(default_factory=dict)
    groups: dict[str, ManagedGroup] = Field(default_factory=dict)
    removals: dict[str, RemovalRecord] = Field(default_factory=dict)
