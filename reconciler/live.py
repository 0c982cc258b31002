"""LiveState: what a SCIM target holds right now, read completely by a read-only client.

Made by `fetch_live` (network, read-only) and by `load_snapshot` (a saved JSON copy); used by
`compute_actions`, the plan's fingerprints and `import`. Frozen values only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from reconciler.errors import ConfigError, Diagnostic, SourceRef
from reconciler.fileio import atomic_write
from reconciler.jsontext import sorted_json

if TYPE_CHECKING:
    from reconciler.scim.client import ScimClient

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "reconcile-live-snapshot"
SNAPSHOT_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# One per account and per group: validated, frozen, and slotted. A pydantic dataclass with
# slots holds its fields and nothing else, where a BaseModel also carries an instance dict and a
# set of the fields given (~1 KB per account, 100 MB at 100,000 accounts; docs/benchmarks.md).
_ITEM_CONFIG = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True, kw_only=True, config=_ITEM_CONFIG)
class LiveUser:
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


@dataclass(frozen=True, slots=True, kw_only=True, config=_ITEM_CONFIG)
class LiveGroup:
    id: str
    external_id: str | None = None
    display_name: str
    members: tuple[str, ...] | None = None
    """Member SCIM ids, sorted; None when the server never returns members (Bitwarden)."""
    version: str | None = None


class LiveState(_Frozen):
    users: tuple[LiveUser, ...] = ()
    groups: tuple[LiveGroup, ...] = ()
    members_readable: bool = True
    """False when the profile says group members are never returned (Bitwarden)."""
    source: Literal["server", "snapshot"] = "server"


def fetch_live(client: ScimClient) -> LiveState:
    """Read every user and group of the target, completely, into a LiveState sorted by id.

    Raises PartialReadError when a listing cannot be read to its totalResults: a LiveState is
    complete or does not exist. With a concurrent profile, users and groups are read at the
    same time (two requests in flight); with Bitwarden's serial profile one after the other.
    """
    from reconciler.scim.wire import to_live_group, to_live_user

    profile = client.discover()
    readable = profile.members_readable
    readers: list[Callable[[], list[Any]]] = [client.list_users, client.list_groups]
    users_raw, groups_raw = client.map_concurrent(lambda read: read(), readers)
    users = tuple(sorted((to_live_user(u) for u in users_raw), key=lambda u: u.id))
    groups = tuple(
        sorted((to_live_group(g, members_readable=readable) for g in groups_raw), key=lambda g: g.id)
    )
    log.info("read %d users and %d groups from %s", len(users), len(groups), client.base_url)
    return LiveState(users=users, groups=groups, members_readable=readable, source="server")


def snapshot_text(live: LiveState) -> str:
    """The snapshot's JSON: sorted keys, users and groups sorted by id, one trailing newline.
    The same LiveState always gives the same bytes."""
    data = live.model_dump(mode="json")
    data["users"] = sorted(data["users"], key=lambda u: u["id"])
    data["groups"] = sorted(data["groups"], key=lambda g: g["id"])
    doc = {"format": SNAPSHOT_FORMAT, "format_version": SNAPSHOT_VERSION, "live": data}
    return sorted_json(doc).decode("utf-8")


def save_snapshot(live: LiveState, path: str | os.PathLike[str]) -> None:
    """Write a snapshot atomically (a temporary file in the same folder, then a rename)."""
    atomic_write(Path(path), snapshot_text(live).encode("utf-8"), mode=0o600)  # personal data: owner only


class _SnapshotDoc(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal["reconcile-live-snapshot"]
    format_version: Literal[1]
    live: LiveState


def load_snapshot(path: str | os.PathLike[str]) -> LiveState:
    """A saved snapshot as a LiveState with source="snapshot". ConfigError if unreadable."""
    try:  # one pass in pydantic-core for a good file; the slow path below explains a bad one
        doc_ = _SnapshotDoc.model_validate_json(Path(path).read_bytes())
        return doc_.live.model_copy(update={"source": "snapshot"})
    except (OSError, ValidationError):
        pass
    where = SourceRef(str(path))
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([Diagnostic(f"cannot read the live snapshot: {exc}", where)]) from None
    if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
        raise ConfigError(
            [Diagnostic("not a live snapshot", where, hint="write one with `reconcile plan --target NAME --save-live FILE`")]
        )
    if doc.get("format_version") != SNAPSHOT_VERSION:
        raise ConfigError(
            [Diagnostic(f"unsupported live snapshot version {doc.get('format_version')!r}", where,
                        hint=f"this version of reconcile reads version {SNAPSHOT_VERSION}")]
        )
    try:
        live = LiveState.model_validate(doc.get("live"))
    except ValidationError as exc:
        raise ConfigError(
            [Diagnostic(f"invalid live snapshot: {e['msg']} at {'.'.join(map(str, e['loc']))}", where)
             for e in exc.errors()]
        ) from None
    return live.model_copy(update={"source": "snapshot"})
