"""Actions: the steps of a plan, as frozen values (a discriminated union on `kind`), and their phase.

Phases (architecture.md): 1 disable/delete users · 2 membership changes that only remove ·
3 delete groups · 4 create/update groups · 5 create/restore/update/adopt users ·
6 membership changes that add (they need ids from phases 4-5). Inside a phase: (kind, key).
`reason` is for display only: apply never reads it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    """The desired-state externalId of the user or group (or the live userName when unmanaged)."""
    id: str | None = None
    """The SCIM id on the target; None only for creates."""
    reason: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    @property
    def phase(self) -> int:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """What a human recognises: userName or displayName."""
        for side in (self.after, self.before):
            if side:
                for k in ("userName", "displayName"):
                    if side.get(k):
                        return str(side[k])
        return self.key


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str
    before: Any = None
    after: Any = None


class CreateUser(_Action):
    kind: Literal["create_user"] = "create_user"
    recreated_after_delete: str | None = None
    """ISO time of the deletion of this user's previous account, when it is re-created."""

    @property
    def phase(self) -> int:
        return 5


class UpdateUser(_Action):
    kind: Literal["update_user"] = "update_user"
    changes: tuple[FieldChange, ...] = ()

    @property
    def phase(self) -> int:
        return 5


class AdoptUser(_Action):
    """Take over an existing account that matched by e-mail/userName: set its externalId."""

    kind: Literal["adopt_user"] = "adopt_user"
    set_external_id: bool = True

    @property
    def phase(self) -> int:
        return 5


class RestoreUser(_Action):
    """`active: true` on the same account: its memberships and (Bitwarden) prior status return."""

    kind: Literal["restore_user"] = "restore_user"

    @property
    def phase(self) -> int:
        return 5


class DisableUser(_Action):
    kind: Literal["disable_user"] = "disable_user"
    managed: bool = True
    removal: bool = True
    """True when the user left the target (recorded for restoration); False for `active: false`."""
    groups: tuple[str, ...] = ()
    """Group externalIds the account is in when disabled (kept, recorded for the restore)."""
    delete_due: str | None = None
    """Two-phase removal: when the account becomes due for deletion."""

    @property
    def phase(self) -> int:
        return 1


class DeleteUser(_Action):
    kind: Literal["delete_user"] = "delete_user"
    managed: bool = True
    groups: tuple[str, ...] = ()

    @property
    def phase(self) -> int:
        return 1


class CreateGroup(_Action):
    kind: Literal["create_group"] = "create_group"

    @property
    def phase(self) -> int:
        return 4


class UpdateGroup(_Action):
    kind: Literal["update_group"] = "update_group"
    changes: tuple[FieldChange, ...] = ()

    @property
    def phase(self) -> int:
        return 4


class DeleteGroup(_Action):
    kind: Literal["delete_group"] = "delete_group"

    @property
    def phase(self) -> int:
        return 3


class Member(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    key: str
    """User externalId (or the SCIM id for an account the desired state does not know)."""
    id: str | None = None
    """SCIM id; None when the user is created by this plan (resolved during apply)."""
    label: str = ""


class ChangeMembers(_Action):
    """All membership changes of one group, sent as one PATCH."""

    kind: Literal["change_members"] = "change_members"
    add: tuple[Member, ...] = ()
    remove: tuple[Member, ...] = ()

    @property
    def phase(self) -> int:
        return 6 if self.add else 2


Action = Annotated[
    CreateUser
    | UpdateUser
    | AdoptUser
    | RestoreUser
    | DisableUser
    | DeleteUser
    | CreateGroup
    | UpdateGroup
    | DeleteGroup
    | ChangeMembers,
    Field(discriminator="kind"),
]

USER_KINDS = frozenset(
    {"create_user", "update_user", "adopt_user", "restore_user", "disable_user", "delete_user"}
)


def sort_actions(actions: list[Any]) -> list[Any]:
    return sorted(actions, key=lambda a: (a.phase, a.kind, a.key, a.id or ""))
