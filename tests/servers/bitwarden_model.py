"""Organisation state and the Bitwarden *core* behaviour under the SCIM app.

The stand-in is layered like Bitwarden itself: ``bitwarden_scim`` plays the SCIM app (controllers,
queries, request models), this module plays ``src/Core`` and the SQL procedures it calls
(revoke v1/v2, restore v1, invite seat and owner checks, ``GroupUser_*``, ``HasConfirmedOwnersExcept``).
It also holds what a test needs around that: switches (:class:`Settings`), the request log, fault
rules, and hooks to seed members and play the person or the admin. All from
``shared/docs/bitwarden-scim.md (beside the repository)``, checked against the server source at the spec's commit.

Objects here are not thread-safe: the HTTP server serialises every access with one lock.
Python standard library only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from tests.servers.bitwarden_dotnet import (
    BadRequestException,
    ConflictException,
    NotFoundException,
    SqlException,
    equals_ordinal_ignore_case,
    format_datetime,
    is_null_or_whitespace,
    lower_invariant,
    new_guid,
    parse_guid,
    utc_now,
    utf16_len,
)

INVITED, ACCEPTED, CONFIRMED, REVOKED, STAGED = "Invited", "Accepted", "Confirmed", "Revoked", "Staged"
STATUSES: Final = (INVITED, ACCEPTED, CONFIRMED, REVOKED, STAGED)
OCCUPIES_SEAT: Final = frozenset({INVITED, ACCEPTED, CONFIRMED})  # Status IN (0, 1, 2)
OWNER, ADMIN, USER, CUSTOM = "Owner", "Admin", "User", "Custom"
MEMBER_TYPES: Final = (OWNER, ADMIN, USER, CUSTOM)

MUST_HAVE_OWNER: Final = "Organization must have at least one confirmed owner."
SEAT_LIMIT: Final = "Seat limit has been reached."
CANNOT_USE_GROUPS: Final = "This organization cannot use groups."
EMPTY_GUID: Final = "00000000-0000-0000-0000-000000000000"
FAULT_ACTIONS: Final = ("status", "drop", "drop_after_write", "delay")

# Server version from which each behaviour exists (``git log -- bitwarden_license/src/Scim``).
FEATURES: Final[Mapping[str, tuple[int, int, int]]] = {
    "list_paging_defaults_users": (2024, 10, 1),  # before: no startIndex+count -> empty list
    "group_members_any_provider": (2025, 2, 1),  # before: POST/PUT members only for Okta
    "list_paging_defaults_groups": (2025, 12, 1),
    "put_revoke_v2": (2026, 2, 1),  # before: PUT revoke used v1 (guard for any member)
    "user_patch_external_id": (2026, 3, 0),
    "group_patch_external_id": (2026, 5, 0),
    "prior_status_snapshot": (2026, 6, 1),  # before: restore infers the status
    "staged_status": (2026, 7, 0),
}


class HookError(ValueError):
    """A test hook was misused (unknown member, wrong lifecycle step...); ``status`` is its answer
    on the ``/_test`` API."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?\s*", text)
    if not match:
        raise ValueError(f"version must look like 2026.8.0, got {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


# --------------------------------------------------------------------------------------------
# Switches and entities
# --------------------------------------------------------------------------------------------


@dataclass
class Settings:
    """Per-org switches. Defaults model a cloud org on the spec's server version."""

    version: str = "2026.8.0"
    seats: int | None = None  # purchased seats; None = no seat limit
    max_autoscale_seats: int | None = None  # None = auto-scale (bill) without a cap
    self_hosted: bool = False  # self-hosted orgs cannot auto-scale seats
    use_groups: bool = True
    invite_users_after_provisioning: bool = True  # the org's SCIM setting
    staged_status_flag: bool = False  # feature flag pm-34423-staged-status
    invite_fail_fast: bool = False  # feature flag pm-16811-optimize-invite-user-flow-to-fail-fast
    provider_owner: bool = True  # a confirmed provider user exists (counts as a confirmed owner)
    scim_enabled: bool = True  # False: org disabled / SCIM connection off -> every call 401

    def supports(self, feature: str) -> bool:
        return parse_version(self.version) >= FEATURES[feature]

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply switches atomically; ``seat_limit=N`` means ``seats=N, max_autoscale_seats=N``."""
        changes = dict(changes)
        if "seat_limit" in changes:
            limit = changes.pop("seat_limit")
            changes.setdefault("seats", limit)
            changes.setdefault("max_autoscale_seats", limit)
        known = {f.name for f in dataclasses.fields(self)}
        staged = dataclasses.replace(self)
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown setting {name!r}; known: {[*sorted(known), 'seat_limit']}")
            if name == "version":
                if not isinstance(value, str):
                    raise ValueError("version must be a string")
                parse_version(value)
            elif name in ("seats", "max_autoscale_seats"):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                    raise ValueError(f"{name} must be a non-negative integer or null")
            elif not isinstance(value, bool):
                raise ValueError(f"{name} must be a boolean")
            setattr(staged, name, value)
        for name in known:
            setattr(self, name, getattr(staged, name))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Member:
    """An ``OrganizationUser`` row joined with its Bitwarden account (``User``), if linked."""

    id: str
    type: str
    status: str
    email: str | None  # OrganizationUser.Email: the invited address; cleared once accepted
    external_id: str | None
    user_id: str | None = None  # the linked Bitwarden account
    account_email: str | None = None  # User.Email: controlled by the person
    account_name: str | None = None  # User.Name
    has_key: bool = False  # org key present: the member was confirmed
    status_before_revoke: str | None = None  # OrganizationUser.StatusNew snapshot
    revocation_reason: str | None = None
    restore_block: str | None = None  # a policy message that makes restore fail (400)

    @property
    def details_email(self) -> str | None:
        """``ISNULL(U.Email, OU.Email)`` from OrganizationUserUserDetailsView."""
        return self.account_email if self.user_id else self.email

    @property
    def details_name(self) -> str | None:
        return self.account_name if self.user_id else None


@dataclass
class Group:
    id: str
    name: str | None
    external_id: str | None
    created: datetime
    revised: datetime
    members: list[str] = field(default_factory=list)


@dataclass
class FaultRule:
    """A deterministic fault for requests to one org (see ``BitwardenOrg.inject_fault``)."""

    id: int
    action: str  # one of FAULT_ACTIONS
    status: int = 503
    times: int | None = 1  # how many requests it hits; None = until cleared
    skip: int = 0  # let this many matching requests through first
    method: str | None = None  # regex, full match, case-insensitive
    path: str | None = None  # regex searched in the path after /v2/{orgId}, case-insensitive
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    content_type: str | None = None
    delay: float = 0.0  # seconds to wait before acting
    seen: int = 0
    hits: int = 0

    def matches(self, method: str, scim_path: str) -> bool:
        if self.method is not None and not re.fullmatch(self.method, method, re.IGNORECASE):
            return False
        return self.path is None or re.search(self.path, scim_path, re.IGNORECASE) is not None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["active"] = self.times is None or self.hits < self.times
        return data


def check_column(table: str, column: str, value: str | None, max_length: int, *, nullable: bool = True) -> None:
    """The database is the only validator of these lengths: violations surface as 500s."""
    if value is None:
        if not nullable:
            raise SqlException(
                f"Cannot insert the value NULL into column '{column}', table 'vault.dbo.{table}'; "
                "column does not allow nulls. UPDATE fails.\r\nThe statement has been terminated."
            )
        return
    if utf16_len(value) > max_length:
        raise SqlException(
            f"String or binary data would be truncated in table 'vault.dbo.{table}', column '{column}'. "
            f"Truncated value: '{value[:max_length]}'.\r\nThe statement has been terminated."
        )


# --------------------------------------------------------------------------------------------
# The organisation
# --------------------------------------------------------------------------------------------


class Org:
    """One Bitwarden organisation with SCIM enabled: members, groups, switches and test records.

    Public methods below the bookkeeping are Bitwarden core operations that the SCIM commands
    (``bitwarden_scim``) call; each one that changes data bumps :attr:`mutations`, which is how
    the request log knows whether a call wrote."""

    def __init__(self, org_id: str, token: str, settings: Settings | None = None) -> None:
        self.id = org_id
        self.token = token
        self.settings = settings or Settings()
        self.members: dict[str, Member] = {}  # insertion order = repository (clustered id) order
        self.groups: dict[str, Group] = {}
        self.counters: dict[str, int] = {}
        self.mutations = 0
        self.log: list[dict[str, Any]] = []
        self.faults: list[FaultRule] = []
        self.internal_errors: list[str] = []  # bugs of the stand-in itself (answered as 500)
        self._log_seq = 0
        self._fault_seq = 0
        self.reset_counters()

    # ---- bookkeeping ------------------------------------------------------------------------

    def reset_counters(self) -> None:
        self.counters = dict.fromkeys(
            ("membership_writes", "single_member_removes", "group_deletes", "invitations_sent", "seats_added"), 0
        )

    def reset(self) -> None:
        """Back to a fresh org with default settings (same id and token)."""
        self.settings = Settings()
        self.members.clear()
        self.groups.clear()
        self.log.clear()
        self.faults.clear()
        self.internal_errors.clear()
        self.mutations = 0
        self.reset_counters()

    def mutated(self) -> None:
        self.mutations += 1

    def record(self, entry: dict[str, Any]) -> None:
        self._log_seq += 1
        self.log.append({"seq": self._log_seq, **entry})

    def add_fault(self, **spec: Any) -> FaultRule:
        action = spec.get("action", "status")
        if action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of {FAULT_ACTIONS}, got {action!r}")
        allowed = {f.name for f in dataclasses.fields(FaultRule)} - {"id", "seen", "hits"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; allowed: {sorted(allowed)}")
        for pattern in (spec.get("method"), spec.get("path")):
            if pattern is not None:
                re.compile(pattern)
        self._fault_seq += 1
        rule = FaultRule(id=self._fault_seq, **spec)
        rule.headers = {str(k): str(v) for k, v in (rule.headers or {}).items()}
        self.faults.append(rule)
        return rule

    def take_fault(self, method: str, scim_path: str) -> FaultRule | None:
        """The fault this request triggers, if any (counts are updated: call once per request)."""
        for rule in self.faults:
            if not rule.matches(method, scim_path) or (rule.times is not None and rule.hits >= rule.times):
                continue
            rule.seen += 1
            if rule.seen <= rule.skip:
                continue
            rule.hits += 1
            return dataclasses.replace(rule)
        return None

    # ---- lookups and seats ------------------------------------------------------------------

    def find_member(self, id_text: str) -> Member | None:
        """By route value: any GUID format; a non-GUID binds as Guid.Empty and finds nothing."""
        return self.members.get(parse_guid(id_text) or EMPTY_GUID)

    def find_group(self, id_text: str) -> Group | None:
        return self.groups.get(parse_guid(id_text) or EMPTY_GUID)

    def has_confirmed_owners_except(self, excluded: Iterable[str]) -> bool:
        """``HasConfirmedOwnersExceptQuery`` with ``includeProvider: true``."""
        skip = set(excluded)
        owners = any(m.type == OWNER and m.status == CONFIRMED and m.id not in skip for m in self.members.values())
        return owners or self.settings.provider_owner

    def occupied_seats(self) -> int:
        return sum(1 for m in self.members.values() if m.status in OCCUPIES_SEAT)

    def seats_to_add(self, needed: int) -> int:
        if self.settings.seats is None:
            return 0
        return needed - (self.settings.seats - self.occupied_seats())

    def check_can_scale(self, seats_to_add: int, self_host_message: str) -> None:
        """``CanScaleAsync`` (the message for self-hosted differs between invite paths)."""
        s = self.settings
        if s.self_hosted:
            raise BadRequestException(self_host_message)
        if s.seats is not None and s.max_autoscale_seats is not None and s.max_autoscale_seats < s.seats + seats_to_add:
            raise BadRequestException(SEAT_LIMIT)

    def auto_add_seats(self, seats_to_add: int) -> None:
        """The cloud bills extra seats instead of refusing."""
        if seats_to_add < 1 or self.settings.seats is None:
            return
        self.settings.seats += seats_to_add
        self.counters["seats_added"] += seats_to_add

    # ---- members ------------------------------------------------------------------------------

    def insert_member(self, email: str, external_id: str | None, status: str, *, invitation: bool) -> Member:
        check_column("OrganizationUser", "Email", email, 256)
        check_column("OrganizationUser", "ExternalId", external_id, 300)
        member = Member(id=new_guid(), type=USER, status=status, email=lower_invariant(email), external_id=external_id)
        self.members[member.id] = member
        if invitation:
            self.counters["invitations_sent"] += 1
        self.mutated()
        return member

    def prior_status(self, member: Member) -> str:
        """``GetPriorActiveOrganizationUserStatusType``: the snapshot, else inferred."""
        if member.status_before_revoke and self.settings.supports("prior_status_snapshot"):
            return member.status_before_revoke
        if member.user_id and is_null_or_whitespace(member.email):
            return CONFIRMED if member.has_key else ACCEPTED
        return INVITED

    def revoke(self, member: Member) -> None:
        """``OrganizationUser_UpdateManyRevoke``: snapshot, Revoked; links, externalId, id stay."""
        member.status_before_revoke = member.status if self.settings.supports("prior_status_snapshot") else None
        member.status = REVOKED
        member.revocation_reason = "Manual"
        self.mutated()

    def revoke_v1(self, member: Member) -> None:
        """Revoke v1 (PATCH): refuses when no *other* confirmed owner exists, whatever the type."""
        if member.status == REVOKED:
            raise BadRequestException("Already revoked.")
        if not self.has_confirmed_owners_except([member.id]):
            raise BadRequestException(MUST_HAVE_OWNER)
        self.revoke(member)

    def restore(self, member: Member) -> None:
        """Restore v1 as a system user: seats (auto-scale or 400), policies, prior status."""
        if member.status != REVOKED:
            raise BadRequestException("Already active.")
        if self.settings.seats is not None and self.settings.seats - self.occupied_seats() < 1:
            self.check_can_scale(1, "Cannot autoscale on self-hosted instance.")
            self.auto_add_seats(1)
        status = self.prior_status(member)
        if status not in (INVITED, STAGED) and member.restore_block:
            raise BadRequestException(member.restore_block)
        member.status = status
        member.status_before_revoke = None
        member.revocation_reason = None
        self.mutated()

    def set_member_external_id(self, member: Member, value: str | None) -> None:
        """User PATCH externalId: stored exactly as sent (``""`` stays, null clears)."""
        if not is_null_or_whitespace(value):
            assert value is not None
            if utf16_len(value) > 300:
                raise BadRequestException("ExternalId cannot exceed 300 characters.")
            if any(
                m.id != member.id
                and not is_null_or_whitespace(m.external_id)
                and equals_ordinal_ignore_case(m.external_id, value)
                for m in self.members.values()
            ):
                raise ConflictException("ExternalId already exists for another user.")
        member.external_id = value
        self.mutated()

    def remove_member(self, member: Member) -> None:
        """``RemoveOrganizationUserCommand`` for SCIM: last-owner guard, links deleted."""
        if member.type == OWNER and not self.has_confirmed_owners_except([member.id]):
            raise BadRequestException(MUST_HAVE_OWNER)
        del self.members[member.id]
        for group in self.groups.values():
            if member.id in group.members:
                group.members.remove(member.id)
        self.mutated()

    # ---- groups -------------------------------------------------------------------------------

    def create_group(self, name: str, external_id: str) -> Group:
        """``CreateGroupCommand``: UseGroups check, then the database's column limits."""
        if not self.settings.use_groups:
            raise BadRequestException(CANNOT_USE_GROUPS)
        check_column("Group", "Name", name, 100)
        check_column("Group", "ExternalId", external_id, 300)
        now = utc_now()
        group = Group(id=new_guid(), name=name, external_id=external_id, created=now, revised=now)
        self.groups[group.id] = group
        self.mutated()
        return group

    def rename_group(self, group: Group, name: str | None) -> None:
        """``UpdateGroupCommand.UpdateGroupAsync``: UseGroups check, then the NOT NULL column."""
        if not self.settings.use_groups:
            raise BadRequestException(CANNOT_USE_GROUPS)
        check_column("Group", "Name", name, 100, nullable=False)
        group.name = name
        group.revised = utc_now()
        self.mutated()

    def set_group_external_id(self, group: Group, value: str | None) -> None:
        """Group PATCH externalId: blank -> null, >300 -> 400, taken (case-insensitive) -> 409."""
        if is_null_or_whitespace(value):
            value = None
        else:
            assert value is not None
            if utf16_len(value) > 300:
                raise BadRequestException("ExternalId cannot exceed 300 characters.")
            if any(
                g.id != group.id
                and not is_null_or_whitespace(g.external_id)
                and equals_ordinal_ignore_case(g.external_id, value)
                for g in self.groups.values()
            ):
                raise ConflictException("ExternalId already exists for another group.")
        group.external_id = value
        group.revised = utc_now()
        self.mutated()

    def update_group_users(self, group: Group, ids: Sequence[str], revision: datetime) -> None:
        """``GroupUser_UpdateUsers``: full replace, org-wide revision bump.

        Ids outside the org are dropped by the INNER JOIN. A repeated id that would be inserted
        violates PK_GroupUser: that INSERT fails as a whole, but SQL Server carries on with the
        DELETE and the bump before the error reaches the app (inferred), hence a 500."""
        group.revised = revision
        present = set(group.members)
        to_insert = [i for i in ids if i in self.members and i not in present]
        duplicate = next((i for n, i in enumerate(to_insert) if i in to_insert[:n]), None)
        if duplicate is None:
            group.members.extend(to_insert)
        keep = set(ids)
        group.members = [m for m in group.members if m in keep]
        self.counters["membership_writes"] += 1
        self.mutated()
        if duplicate is not None:
            raise SqlException(
                "Violation of PRIMARY KEY constraint 'PK_GroupUser'. Cannot insert duplicate key in object "
                f"'dbo.GroupUser'. The duplicate key value is ({group.id}, {duplicate}).\r\n"
                "The statement has been terminated."
            )

    def add_group_users(self, group: Group, ids: Sequence[str]) -> None:
        """``PatchGroupCommand.AddMembersAsync``: skipped when all are members already, else
        ``GroupUser_AddUsers`` (org members only, org-wide revision bump)."""
        if set(ids) <= set(group.members):
            return
        group.revised = utc_now()
        group.members.extend(i for i in ids if i in self.members and i not in group.members)
        self.counters["membership_writes"] += 1
        self.mutated()

    def remove_group_user(self, group: Group, member_id: str) -> None:
        """``GroupService.DeleteUserAsync``: 404 unless an org member; idempotent in the group;
        bumps only that user's revision."""
        if member_id not in self.members:
            raise NotFoundException()
        group.revised = utc_now()
        if member_id in group.members:
            group.members.remove(member_id)
        self.counters["single_member_removes"] += 1
        self.mutated()

    def delete_group(self, group: Group) -> None:
        """``Group_DeleteById``: member links cascade; the org's revision date is bumped."""
        del self.groups[group.id]
        self.counters["group_deletes"] += 1
        self.mutated()

    # ---- test hooks: seeding, simulated person and admin --------------------------------------

    def seed_member(
        self,
        email: str,
        *,
        type: str = USER,
        status: str = CONFIRMED,
        external_id: str | None = None,
        name: str | None = None,
        prior_status: str | None = None,
        restore_block: str | None = None,
    ) -> Member:
        """Add a member made outside SCIM (owner, admin, manual invite...). Accepted and Confirmed
        members (or Revoked ones whose prior status is) get an account with ``email`` and ``name``."""
        if type not in MEMBER_TYPES:
            raise ValueError(f"type must be one of {MEMBER_TYPES}")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        if not isinstance(email, str) or "@" not in email:
            raise ValueError("email must be an e-mail address")
        if any(lower_invariant(m.details_email or "") == lower_invariant(email) for m in self.members.values()):
            raise HookError(409, f"{email} is already a member of this organization")
        effective = (prior_status or CONFIRMED) if status == REVOKED else status
        if effective not in (INVITED, ACCEPTED, CONFIRMED, STAGED):
            raise ValueError("prior_status must be Invited, Accepted, Confirmed or Staged")
        member = Member(
            id=new_guid(),
            type=type,
            status=status,
            email=lower_invariant(email),
            external_id=external_id,
            status_before_revoke=effective if status == REVOKED else None,
            revocation_reason="Manual" if status == REVOKED else None,
            restore_block=restore_block,
        )
        if effective in (ACCEPTED, CONFIRMED):
            member.user_id, member.account_email, member.account_name = new_guid(), email, name
            member.email = None
            member.has_key = effective == CONFIRMED
        self.members[member.id] = member
        return member

    def accept(self, member_id: str, *, email: str | None = None, name: str | None = None) -> Member:
        """The invitee accepts with their Bitwarden account (its e-mail and name win from now on)."""
        member = self.hook_member(member_id)
        if member.status != INVITED:
            raise HookError(409, f"only an Invited member can accept; this one is {member.status}")
        member.user_id = new_guid()
        member.account_email = email if email is not None else member.email
        member.account_name = name
        member.email = None
        member.status = ACCEPTED
        return member

    def confirm(self, member_id: str) -> Member:
        """An admin confirms an Accepted member (SCIM cannot)."""
        member = self.hook_member(member_id)
        if member.status != ACCEPTED:
            raise HookError(409, f"only an Accepted member can be confirmed; this one is {member.status}")
        member.status = CONFIRMED
        member.has_key = True
        return member

    def update_member(self, member_id: str, changes: Mapping[str, Any]) -> Member:
        """What the admin console or the person can change: ``type``, ``name``, ``restore_block``."""
        member = self.hook_member(member_id)
        for key, value in changes.items():
            if key == "type":
                if value not in MEMBER_TYPES:
                    raise ValueError(f"type must be one of {MEMBER_TYPES}")
                member.type = value
            elif key == "name":
                if not member.user_id:
                    raise HookError(409, "only a member with an account (Accepted or later) has a name")
                member.account_name = value
            elif key == "restore_block":
                member.restore_block = value
            else:
                raise ValueError(f"cannot change {key!r}; allowed: type, name, restore_block")
        return member

    def seed_group(self, name: str, *, external_id: str | None = None, members: Iterable[str] = ()) -> Group:
        """A group made in the admin console (externalId usually null). Counts no write."""
        ids = [parse_guid(m) or m for m in members]
        unknown = [i for i in ids if i not in self.members]
        if unknown:
            raise HookError(404, f"not members of this organization: {unknown}")
        now = utc_now()
        group = Group(id=new_guid(), name=name, external_id=external_id, created=now, revised=now)
        group.members = list(dict.fromkeys(ids))
        self.groups[group.id] = group
        return group

    def hook_member(self, member_id: str) -> Member:
        member = self.find_member(member_id)
        if member is None:
            raise HookError(404, f"no member {member_id} in this organization")
        return member

    def hook_group(self, group_id: str) -> Group:
        group = self.find_group(group_id)
        if group is None:
            raise HookError(404, f"no group {group_id} in this organization")
        return group

    # ---- inspection ---------------------------------------------------------------------------

    def member_view(self, member: Member) -> dict[str, Any]:
        return {
            "id": member.id,
            "type": member.type,
            "status": member.status,
            "prior_status": self.prior_status(member) if member.status == REVOKED else None,
            "status_before_revoke": member.status_before_revoke,
            "scim_email": member.details_email,
            "invited_email": member.email,
            "account_email": member.account_email,
            "name": member.details_name,
            "external_id": member.external_id,
            "user_id": member.user_id,
            "occupies_seat": member.status in OCCUPIES_SEAT,
            "groups": [g.id for g in self.groups.values() if member.id in g.members],
            "restore_block": member.restore_block,
        }

    def group_view(self, group: Group) -> dict[str, Any]:
        return {
            "id": group.id,
            "name": group.name,
            "external_id": group.external_id,
            "members": list(group.members),
            "created": format_datetime(group.created, utc_kind=True),
            "revised": format_datetime(group.revised, utc_kind=True),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "org_id": self.id,
            "settings": self.settings.as_dict(),
            "seats": {
                "seats": self.settings.seats,
                "occupied": self.occupied_seats(),
                "max_autoscale_seats": self.settings.max_autoscale_seats,
            },
            "members": [self.member_view(m) for m in self.members.values()],
            "groups": [self.group_view(g) for g in self.groups.values()],
            "counters": dict(self.counters),
            "faults": [f.as_dict() for f in self.faults],
        }
