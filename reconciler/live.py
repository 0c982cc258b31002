"""LiveState: what a SCIM target holds right now, read completely by a read-only client.

Made by `fetch_live` (network, read-only) and by `load_snapshot` (a saved JSON copy); used by
`compute_actions`, the plan's fingerprints and `import`. Frozen values only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LiveUser(_Frozen):
    id: str
    external_id: str | None = None
    user_name: str
    emails: tuple[str, ...] = ()
    """All e-mail values, primary first, as the server returned them."""
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    active: bool = True
    version: str | None = None
    """meta.version / ETag when the server gives one."""

    def fingerprint(self) -> str:
        """Content hash of the normalised representation: changes when anything we read changes."""
        return _digest(self.model_dump(mode="json"))


class LiveGroup(_Frozen):
    id: str
    external_id: str | None = None
    display_name: str
    members: tuple[str, ...] | None = None
    """Member SCIM ids, sorted; None when the server never returns members (Bitwarden)."""
    version: str | None = None

    def fingerprint(self) -> str:
        return _digest(self.model_dump(mode="json"))


class LiveState(_Frozen):
    users: tuple[LiveUser, ...] = ()
    groups: tuple[LiveGroup, ...] = ()
    members_readable: bool = True
    """False when the profile says group members are never returned (Bitwarden)."""
    source: Literal["server", "snapshot"] = "server"


def _digest(obj: object) -> str:
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()[:32]
