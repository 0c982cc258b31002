"""`reconcile import`: a live organisation -> desired-state YAML, and with `--adopt` ownership in the state.

Place in the pipeline: the reverse of `plan`. The CLI reads `LiveState` (`fetch_live`, read-only
client) and the target's `State` (state store); `run_import` turns them into desired-state entries
that the next `compute_actions` matches one to one, writes them, and returns the State to save when
adopting. The CLI saves it through the store and prints `ImportReport.text`.

    select_entries(live, state, declared, ...)  -> Selection   pure: keys, members, what is left out
    render_file(selection, ...)                 -> str         pure: a whole new file
    find_slot(file, section) + splice(...)      -> str         --merge: lines inserted at parser marks
    verify_merge(file, merged, added)                          re-parse: old data + new entries, or raise
    adopted_state(state, live, selection)       -> State       pure: ownership for --adopt

A new file is rendered whole, sorted and stable (the same live state gives the same bytes except
the time line). `--merge` never re-dumps a file: it finds where the `users:` / `groups:` block
sequence ends from the parser's marks and inserts the new entries there, so every existing byte —
order, comments, quoting, indentation, line endings — stays as it was. Every merged text is parsed
again and compared with the old data plus the new entries before anything is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ReconcilerError
from reconciler.fileio import atomic_write
from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.resolve import user_key
from reconciler.state.model import ManagedGroup, ManagedUser, State

log = logging.getLogger(__name__)

DESIRED_DIR = "desired-state"
SCHEMA_FILE = Path("schemas") / "desired-state.schema.json"
USER_KEY_PREFIX = "imported-"
GROUP_KEY_PREFIX = "imported-g-"
SKIPPED_HEADER = "# Not imported (no externalId; decide by hand, or import again with --include-unmanaged):"
TEXT_LIST_LIMIT = 8

Entry = dict[str, Any]
"""One desired-state item as plain data: exactly what the YAML holds once parsed."""


# --- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    files_written: list[Path]
    users: int
    """User entries written (new ones only, with --merge)."""
    user_keys: list[str]
    """Their externalIds."""
    groups: int
    skipped_unmanaged: list[str]
    """userNames of accounts left out: no externalId, and --include-unmanaged not given."""
    warnings: list[str]
    adopted_state: State | None
    """With --adopt: the state to save (same lineage and serial as the one given)."""
    text: str
    """A one-screen summary for a human."""


# --- what is already declared ---------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """Identity keys of the users and groups that desired-state files already declare."""

    user_keys: frozenset[str] = frozenset()
    user_names: Mapping[str, str] = field(default_factory=dict)
    """user_key(userName) -> externalId."""
    group_keys: frozenset[str] = frozenset()
    group_names: Mapping[str, str] = field(default_factory=dict)
    """casefolded displayName -> externalId."""

    @staticmethod
    def from_files(docs: Iterable[Loaded]) -> Declared:
        user_keys: set[str] = set()
        user_names: dict[str, str] = {}
        group_keys: set[str] = set()
        group_names: dict[str, str] = {}
        for doc in docs:
            for section, ext, name in doc.declared():
                key = ext.strip() if ext is not None else ""
                if section == "users":
                    if key:
                        user_keys.add(key)
                    if name is not None:
                        user_names.setdefault(user_key(name), key)
                else:
                    if key:
                        group_keys.add(key)
                    if name is not None:
                        group_names.setdefault(name.strip().casefold(), key)
        return Declared(frozenset(user_keys), user_names, frozenset(group_keys), group_names)


# --- the pure core ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserPick:
    key: str
    user: LiveUser
    generated: bool


@dataclass(frozen=True)
class GroupPick:
    key: str
    group: LiveGroup
    members: tuple[str, ...]
    """Member references as written: userNames (or the externalId where a userName is ambiguous)."""
    member_ids: tuple[str, ...] | None
    """Current member SCIM ids (live, or the state's on Bitwarden); None when unknown."""


@dataclass
class Selection:
    users: list[UserPick] = field(default_factory=list)
    """New entries to write, sorted by userName (casefolded)."""
    groups: list[GroupPick] = field(default_factory=list)
    """New entries to write, sorted by displayName."""
    user_keys: dict[str, str] = field(default_factory=dict)
    """live user id -> the key it is (or will be) declared with, where --adopt may record it."""
    group_keys: dict[str, str] = field(default_factory=dict)
    group_member_ids: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    """live group id -> current member ids (None: unknown)."""
    skipped: list[LiveUser] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    already_users: int = 0
    already_groups: int = 0


def generated_user_key(user_name: str) -> str:
    """The stable key of an account without an externalId: the same userName, the same key."""
    return USER_KEY_PREFIX + hashlib.sha256(user_key(user_name).encode()).hexdigest()[:12]


def generated_group_key(scim_id: str) -> str:
    """The stable key of a group without an externalId, from its SCIM id (survives renames)."""
    return GROUP_KEY_PREFIX + hashlib.sha256(scim_id.encode()).hexdigest()[:12]


def select_entries(
    live: LiveState,
    state: State,
    declared: Declared,
    *,
    include_unmanaged: bool,
    members_readable: bool,
) -> Selection:
    """What to import: keys for every account and group, what is left out and why. Pure."""
    sel = Selection()
    _select_users(live, state, declared, include_unmanaged, sel)
    _select_groups(live, state, declared, sel)
    _resolve_members(live, state, declared, members_readable, sel)
    return sel


def _select_users(
    live: LiveState, state: State, declared: Declared, include_unmanaged: bool, sel: Selection
) -> None:
    state_key = {m.id: k for k, m in state.users.items()}
    used_keys: set[str] = set()
    used_names: set[str] = set()
    for u in sorted(live.users, key=lambda x: (user_key(x.user_name), x.id)):
        name = user_key(u.user_name)
        if not name:
            sel.warnings.append(f"account {u.id} has an empty userName on the target: not imported")
            continue
        key = (u.external_id or "").strip() or state_key.get(u.id, "")
        if _declared_user(u, key, declared, sel):
            continue
        generated = False
        if not key:
            if not include_unmanaged:
                sel.skipped.append(u)
                continue
            key, generated = generated_user_key(u.user_name), True
        if key in used_keys:
            sel.warnings.append(
                f"{u.user_name}: externalId '{key}' is used by another account on the target: not "
                "imported (the plan warns about the duplicate; fix it on the target)"
            )
            continue
        if name in used_names:
            sel.warnings.append(f"{u.user_name}: another account has the same userName (ignoring case): not imported")
            continue
        if u.external_id is not None and u.external_id != key and not generated:
            sel.warnings.append(
                f"{u.user_name}: imported as '{key}', but the target has externalId {u.external_id!r}; "
                "the plan will show an update of externalId"
            )
        if any("@" not in e for e in u.emails):
            sel.warnings.append(
                f"{u.user_name}: an e-mail value on the target is not an address ({_short_list(list(u.emails), 3)}); "
                "`reconcile validate` rejects it: fix it on the target or in the file"
            )
        used_keys.add(key)
        used_names.add(name)
        sel.users.append(UserPick(key, u, generated))
        sel.user_keys[u.id] = key


def _declared_user(u: LiveUser, key: str, declared: Declared, sel: Selection) -> bool:
    """True when desired-state already declares this account (by externalId or userName);
    it is then recorded for --adopt when the declaration and the account agree on the key."""
    if not (key and key in declared.user_keys):
        name = user_key(u.user_name)
        if name not in declared.user_names:
            return False
        key = declared.user_names[name]
    sel.already_users += 1
    if key and u.external_id in (None, key):
        sel.user_keys[u.id] = key
    else:
        sel.warnings.append(
            f"{u.user_name}: already declared with externalId '{key}', but the target has "
            f"{u.external_id!r}: left as declared and not adopted; the plan will show the difference"
        )
    return True


def _select_groups(live: LiveState, state: State, declared: Declared, sel: Selection) -> None:
    state_key = {m.id: k for k, m in state.groups.items()}
    used: set[str] = set()
    for g in sorted(live.groups, key=lambda x: (x.display_name.casefold(), x.display_name, x.id)):
        if not g.display_name.strip():
            sel.warnings.append(f"group {g.id} has an empty displayName on the target: not imported")
            continue
        ext = (g.external_id or "").strip()
        if ext and ext in declared.group_keys:
            sel.group_keys[g.id] = ext
            sel.already_groups += 1
            continue
        by_name = declared.group_names.get(g.display_name.strip().casefold())
        if not ext and by_name:
            sel.group_keys[g.id] = by_name
            sel.already_groups += 1
            continue
        key = ext or state_key.get(g.id) or generated_group_key(g.id)
        if key in used or key in declared.group_keys:
            sel.warnings.append(
                f"group {g.display_name}: externalId '{key}' is used by another group on the target: not imported"
            )
            continue
        used.add(key)
        sel.group_keys[g.id] = key
        sel.groups.append(GroupPick(key, g, (), None))


def _resolve_members(
    live: LiveState, state: State, declared: Declared, members_readable: bool, sel: Selection
) -> None:
    users_by_id = {u.id: u for u in live.users}
    group_ids = {g.id for g in live.groups}
    state_members = {m.id: m.members for m in state.groups.values()}
    taken = set(sel.user_keys.values()) | declared.user_keys
    refs = {uid: _member_ref(users_by_id[uid], key, taken) for uid, key in sel.user_keys.items()}
    new_ids = {p.group.id for p in sel.groups}
    unknown: list[str] = []
    left_out: list[str] = []
    nested: list[str] = []
    for g in sorted(live.groups, key=lambda x: (x.display_name.casefold(), x.id)):
        if g.id not in sel.group_keys:
            continue
        ids = g.members if members_readable and g.members is not None else state_members.get(g.id)
        sel.group_member_ids[g.id] = tuple(sorted(ids)) if ids is not None else None
        if g.id not in new_ids:
            continue
        if ids is None:
            unknown.append(g.display_name)
            continue
        if any(i not in refs and i in users_by_id for i in ids):
            left_out.append(g.display_name)
        if any(i in group_ids for i in ids):
            nested.append(g.display_name)
    if unknown:
        sel.warnings.append(
            f"{len(unknown)} group(s) with unknown members ({_short_list(unknown, 3)}): the target never "
            "returns them and the state does not know them; written with members: [] (fill them in by hand) "
            "and, with --adopt, not recorded as managed"
        )
    if left_out:
        sel.warnings.append(
            f"{len(left_out)} group(s) have members that are not imported (no externalId) "
            f"({_short_list(left_out, 3)}): left out of their members; the plan leaves them where they are"
        )
    if nested:
        sel.warnings.append(
            f"{len(nested)} group(s) contain nested groups on the target ({_short_list(nested, 3)}): left out "
            "(reconcile flattens nesting; declare them with group:<externalId> if wanted)"
        )
    sel.groups = [
        GroupPick(p.key, p.group, _member_refs(sel.group_member_ids[p.group.id], refs), sel.group_member_ids[p.group.id])
        for p in sel.groups
    ]


def _member_ref(u: LiveUser, key: str, taken_keys: set[str]) -> str:
    """The userName, unless it reads as another user's externalId or a nested group there."""
    if (u.user_name in taken_keys and u.user_name != key) or u.user_name.startswith("group:"):
        return key
    return u.user_name


def _member_refs(ids: tuple[str, ...] | None, refs: Mapping[str, str]) -> tuple[str, ...]:
    if not ids:
        return ()
    return tuple(sorted({refs[i] for i in ids if i in refs}, key=lambda r: (user_key(r), r)))


def adopted_state(state: State, live: LiveState, sel: Selection) -> State:
    """The state once every imported (or already declared) account and group is managed. Pure.

    Users are recorded with origin "adopted" under the key they are declared with: the next plan
    matches them through the state first, even when the account has no externalId. Groups are
    recorded with their current members; a group whose members are unknown (Bitwarden, nothing in
    the state) is not recorded: claiming it empty would make its real members invisible for good.
    A record the state already had for the same object under the same key keeps its origin.
    """
    names = {u.id: u.user_name for u in live.users}
    users = dict(state.users)
    user_ids = {r.id: k for k, r in users.items()}
    for scim_id, key in sorted(sel.user_keys.items(), key=lambda kv: kv[1]):
        known = users.get(key)
        if known is not None and known.id == scim_id:
            continue
        _claim(users, user_ids, key, scim_id)
        users[key] = ManagedUser(external_id=key, id=scim_id, user_name=names[scim_id], origin="adopted")
    display = {g.id: g.display_name for g in live.groups}
    groups = dict(state.groups)
    group_ids = {r.id: k for k, r in groups.items()}
    for scim_id, key in sorted(sel.group_keys.items(), key=lambda kv: kv[1]):
        members = sel.group_member_ids.get(scim_id)
        if members is None:
            continue
        known_group = groups.get(key)
        origin = known_group.origin if known_group is not None and known_group.id == scim_id else "adopted"
        _claim(groups, group_ids, key, scim_id)
        groups[key] = ManagedGroup(
            external_id=key, id=scim_id, display_name=display[scim_id], members=members, origin=origin
        )
    return state.model_copy(update={"users": users, "groups": groups})


def _claim(records: dict[str, Any], owner: dict[str, str], key: str, scim_id: str) -> None:
    """One key per SCIM id and one id per key: records of the same object under another key, or
    of another object under this key, go before `key` is recorded for `scim_id`."""
    old_key = owner.get(scim_id)
    if old_key is not None and old_key != key:
        records.pop(old_key, None)
    previous = records.get(key)
    if previous is not None and previous.id != scim_id:
        owner.pop(previous.id, None)
    owner[scim_id] = key


# --- entries as plain data --------------------------------------------------------------------------


def user_entry(p: UserPick) -> Entry:
    u = p.user
    entry: Entry = {"externalId": p.key, "userName": u.user_name}
    if u.display_name:
        entry["displayName"] = u.display_name
    name = {k: v for k, v in (("givenName", u.given_name), ("familyName", u.family_name)) if v}
    if name:
        entry["name"] = name
    if u.emails and [user_key(e) for e in u.emails] != [user_key(u.user_name)]:
        entry["emails"] = [{"value": e, "primary": True} if i == 0 else {"value": e} for i, e in enumerate(u.emails)]
    if not u.active:
        entry["active"] = False
    return entry


def group_entry(p: GroupPick) -> Entry:
    return {"externalId": p.key, "displayName": p.group.display_name, "members": list(p.members)}


# --- text -------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[\w/][\w .@/+%'()=~&*!?$-]*", re.UNICODE)
_NUMBERISH = re.compile(r"[-+.]?[0-9][0-9a-fA-FxXoObB_.:+-]*|\d{4}-\d\d?-\d\d?(?:[Tt ].*)?")
_RESERVED = {"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", ".inf", ".nan"}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly `value`: plain where unambiguous (also inside a
    flow collection), otherwise double-quoted with escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if (
        _PLAIN.fullmatch(text)
        and not text.endswith(" ")
        and text.casefold() not in _RESERVED
        and not _NUMBERISH.fullmatch(text)
    ):
        return text
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value)


def entry_lines(entry: Entry, indent: str, *, notes: Mapping[str, str] | None = None) -> list[str]:
    """One list item: `- key: value` lines; maps and e-mails in flow style, members one per line
    (so that adding or removing a member is a one-line change)."""
    lines: list[str] = []
    for n, (k, v) in enumerate(entry.items()):
        lead = f"{indent}{'- ' if n == 0 else '  '}{k}:"
        note = f"  # {notes[k]}" if notes and k in notes else ""
        if k == "members" and v:
            lines.append(lead + note)
            lines.extend(f"{indent}    - {scalar(m)}" for m in v)
        else:
            lines.append(f"{lead} {_flow(v)}{note}")
    return lines


def _user_lines(p: UserPick, indent: str) -> list[str]:
    notes = {"active": "disabled on the target"} if not p.user.active else {}
    if p.generated:
        notes["externalId"] = "generated: the account has no externalId on the target"
    return entry_lines(user_entry(p), indent, notes=notes)


def _group_lines(p: GroupPick, indent: str) -> list[str]:
    notes = {"members": "unknown: the target never returns members; fill in by hand"} if p.member_ids is None else {}
    if p.group.external_id is None and p.key.startswith(GROUP_KEY_PREFIX):
        notes["externalId"] = "generated: the group has no externalId on the target"
    return entry_lines(group_entry(p), indent, notes=notes)


def utc_text(now: datetime) -> str:
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def schema_line(root: Path, path: Path) -> str:
    rel = os.path.relpath(root / SCHEMA_FILE, path.parent).replace(os.sep, "/")
    return f"# yaml-language-server: $schema={rel}"


def header_lines(*, target: str, profile: str, now: datetime, sel: Selection, members_readable: bool) -> list[str]:
    lines = [
        f"# Imported from target '{target}' (profile {profile}) by `reconcile import` at {utc_text(now)}.",
        f"# {len(sel.users)} users and {len(sel.groups)} groups, as the target holds them; "
        "review before committing.",
    ]
    if not members_readable:
        lines.append(f"# {members_note(profile)}.")
    disabled = sum(1 for p in sel.users if not p.user.active)
    if disabled:
        lines.append(f"# {disabled} account(s) are disabled on the target: imported with active: false.")
    generated = sum(1 for p in sel.users if p.generated)
    if generated:
        lines.append(
            f"# {generated} account(s) have no externalId on the target: imported with generated keys "
            f"({USER_KEY_PREFIX}...); replace them with the IdP's ids if you have them."
        )
    return lines


def skipped_block(skipped: Iterable[LiveUser]) -> list[str]:
    rows = [f"#   {_comment_safe(u.user_name)}{_skip_detail(u)}" for u in skipped]
    return [SKIPPED_HEADER, *rows] if rows else []


def _skip_detail(u: LiveUser) -> str:
    parts = [_comment_safe(u.display_name)] if u.display_name else []
    if not u.active:
        parts.append("disabled on the target")
    return f" ({', '.join(parts)})" if parts else ""


def _comment_safe(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)


def render_file(
    sel: Selection,
    *,
    root: Path,
    path: Path,
    target: str,
    profile: str,
    now: datetime,
    members_readable: bool,
    sections: tuple[str, ...] = ("users", "groups"),
    skipped: Iterable[LiveUser] = (),
) -> str:
    """A whole new desired-state file. Deterministic: only the time line depends on `now`."""
    out = [schema_line(root, path)]
    out += header_lines(target=target, profile=profile, now=now, sel=sel, members_readable=members_readable)
    if "users" in sections:
        out.append("users:" if sel.users else "users: []")
        for p in sel.users:
            out += _user_lines(p, "  ")
    if "groups" in sections:
        out.append("groups:" if sel.groups else "groups: []")
        for g in sel.groups:
            out += _group_lines(g, "  ")
    block = skipped_block(skipped)
    if block:
        out += ["", *block]
    return "\n".join(out) + "\n"


# --- merge: text splices at the parser's marks --------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """Where new items of one section go in a file: an offset and the dash's indentation."""

    offset: int
    indent: str
    prefix: str = ""
    """Text written before the items (a newline, or a new `users:` key)."""


@dataclass
class Loaded:
    path: Path
    text: str
    root: Node | None

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    @cached_property
    def data(self) -> Any:
        """The file's values, built from the nodes only when needed (verifying a merge)."""
        return YAML(typ="safe").constructor.construct_document(self.root) if self.root is not None else None

    def declared(self) -> Iterator[tuple[str, str | None, str | None]]:
        """(section, externalId, userName or displayName) of every item, read off the nodes."""
        if not isinstance(self.root, MappingNode):
            return
        for key, value in self.root.value:
            section = key.value if isinstance(key, ScalarNode) else None
            if section not in ("users", "groups") or not isinstance(value, SequenceNode):
                continue
            name_key = "userName" if section == "users" else "displayName"
            for item in value.value:
                fields = _scalar_fields(item)
                yield section, fields.get("externalId"), fields.get(name_key)


def _scalar_fields(node: Node) -> dict[str, str]:
    if not isinstance(node, MappingNode):
        return {}
    return {
        k.value: v.value for k, v in node.value
        if isinstance(k, ScalarNode) and isinstance(v, ScalarNode) and isinstance(v.value, str)
    }


def read_desired(path: Path) -> Loaded:
    """A desired-state file with its exact text (line endings untouched) and parser nodes."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReconcilerError(f"{path}: cannot read it ({exc}); fix the file, then run import again") from None
    try:
        node = YAML(typ="safe").compose(text)
    except YAMLError as exc:
        raise ReconcilerError(
            f"{path}: cannot merge into a file that does not parse ({_first_line(exc)}); run `reconcile validate`"
        ) from None
    return Loaded(path, text, node)


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def find_slot(doc: Loaded, section: str) -> Slot | None:
    """Where to append items to `section` in `doc`, or None when this file cannot take them
    (no such key, a flow sequence, or a value that is not a block sequence or empty)."""
    root = doc.root
    if not isinstance(root, MappingNode) or root.flow_style:
        return None
    for key, value in root.value:
        if not (isinstance(key, ScalarNode) and key.value == section):
            continue
        if isinstance(value, SequenceNode) and not value.flow_style and value.value:
            first = value.value[0].start_mark.index
            start = _line_start(doc.text, first)
            dash = doc.text.rfind("-", start, first) - start
            end = _after_line(doc.text, _content_end(doc.text, value.value[-1]))
            return Slot(_past_comments(doc.text, end, max(dash, 1)), " " * dash)
        if isinstance(value, ScalarNode) and str(value.tag).endswith(":null") and value.start_mark.index == value.end_mark.index:
            return Slot(_after_line(doc.text, key.end_mark.index), "  ")
        return None
    return None


def append_section_slot(doc: Loaded, section: str) -> Slot | None:
    """A new top-level `section:` at the end of a file that has none (or is empty)."""
    if doc.root is not None and (not isinstance(doc.root, MappingNode) or doc.root.flow_style):
        return None
    if isinstance(doc.root, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == section for k, _ in doc.root.value
    ):
        return None
    text = doc.text
    lead = doc.newline if text and not text.endswith(("\n", "\r")) else ""
    return Slot(len(text), "  ", prefix=f"{lead}{section}:{doc.newline}")


def _line_start(text: str, index: int) -> int:
    return max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1


def _content_end(text: str, node: Node) -> int:
    """The offset just after the last character of the item itself (scalars and flow
    collections end exactly; block collections' marks run on to the next token; a block
    scalar's trailing blank lines are not content unless it keeps them with `+`)."""
    if isinstance(node, ScalarNode):
        end = int(node.end_mark.index)
        if node.style in ("|", ">") and "+" not in _line_at(text, int(node.start_mark.index)):
            while end > node.start_mark.index and text[end - 1] in " \r\n":
                end -= 1
        return end
    if getattr(node, "flow_style", False):
        return int(node.end_mark.index)
    if isinstance(node, MappingNode):
        return max((_content_end(text, n) for kv in node.value for n in kv), default=int(node.start_mark.index))
    if isinstance(node, SequenceNode):
        return max((_content_end(text, n) for n in node.value), default=int(node.start_mark.index))
    return int(node.end_mark.index)


def _line_at(text: str, index: int) -> str:
    m = _BREAK.search(text, index)
    return text[index : m.start() if m else len(text)]


_BREAK = re.compile(r"\r\n|\r|\n")
_INDENTED_COMMENT = re.compile(r"( *)#[^\r\n]*(?:\r\n|\r|\n|$)")


def _past_comments(text: str, offset: int, min_indent: int) -> int:
    """Past the comment lines right after the last item that are indented into the block (a
    commented-out entry belongs to the list); blank lines and column-0 comments stay after."""
    while offset < len(text):
        m = _INDENTED_COMMENT.match(text, offset)
        if m is None or len(m.group(1)) < min_indent or m.end() == offset:
            break
        offset = m.end()
    return offset


def _after_line(text: str, index: int) -> int:
    """The start of the line after the one holding `index` (a block scalar's end already is)."""
    if index > 0 and text[index - 1] in "\r\n":
        return index
    m = _BREAK.search(text, index)
    return m.end() if m else len(text)


def splice(doc: Loaded, inserts: list[tuple[Slot, list[str]]]) -> str:
    """`doc.text` with lines inserted at slots; every existing character stays where it was."""
    text, nl = doc.text, doc.newline
    pieces: list[str] = []
    last = 0
    for slot, lines in sorted(inserts, key=lambda x: x[0].offset):
        pieces.append(text[last : slot.offset])
        before = text[: slot.offset]
        if before and not before.endswith(("\n", "\r")) and not slot.prefix:
            pieces.append(nl)  # a file that ends without a newline
        pieces.append(slot.prefix + "".join(line + nl for line in lines))
        last = slot.offset
    pieces.append(text[last:])
    return "".join(pieces)


def verify_merge(doc: Loaded, merged: str, added: Mapping[str, list[Entry]]) -> None:
    """The merged text must parse to the old data plus exactly the new entries."""
    try:
        data = YAML(typ="safe").load(merged)
    except YAMLError as exc:
        raise ReconcilerError(f"{doc.path}: merging would break the file ({_first_line(exc)}); nothing was written") from None
    old = doc.data if isinstance(doc.data, dict) else {}
    expected = dict(old)
    for section, entries in added.items():
        if entries:
            expected[section] = list(old.get(section) or []) + list(entries)
    if data != expected:
        raise ReconcilerError(
            f"{doc.path}: this file's layout cannot be appended to safely; nothing was written. "
            "Write the import to a new file with --out and move the entries by hand"
        )


# --- files ------------------------------------------------------------------------------------------


def desired_files(root: Path) -> list[Path]:
    """The desired-state files in the loader's order."""
    directory = root / DESIRED_DIR
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("**/*") if p.is_file() and p.suffix in (".yaml", ".yml"))


@dataclass(frozen=True)
class _Context:
    root: Path
    target: str
    profile: str
    now: datetime
    members_readable: bool


def _merge(
    ctx: _Context, sel: Selection, docs: list[Loaded], new_file: Path, explicit_out: bool
) -> dict[Path, str]:
    """New text per file: the new users and groups appended where each section lives (or in
    `new_file`), every merged text verified; then the list of accounts left out, once."""
    by_path = {d.path: d for d in docs}
    if explicit_out and new_file.exists() and new_file not in by_path:
        by_path[new_file] = read_desired(new_file)
    inserts: dict[Path, list[tuple[Slot, list[str]]]] = {}
    added: dict[Path, dict[str, list[Entry]]] = {}
    homeless: list[str] = []
    for section, lines_of, entries in (
        ("users", lambda ind: [ln for p in sel.users for ln in _user_lines(p, ind)], [user_entry(p) for p in sel.users]),
        ("groups", lambda ind: [ln for g in sel.groups for ln in _group_lines(g, ind)], [group_entry(g) for g in sel.groups]),
    ):
        if not entries:
            continue
        dest = _destination(section, by_path, new_file, explicit_out)
        if dest is None:
            homeless.append(section)
            continue
        doc, slot = dest
        inserts.setdefault(doc.path, []).append((slot, lines_of(slot.indent)))
        added.setdefault(doc.path, {})[section] = entries
    texts: dict[Path, str] = {}
    for path, ins in inserts.items():
        merged = splice(by_path[path], ins)
        verify_merge(by_path[path], merged, added[path])
        texts[path] = merged
    if homeless:
        if new_file.exists():
            raise ReconcilerError(f"{new_file} exists and cannot take the new {' and '.join(homeless)}; use --out FILE")
        texts[new_file] = render_file(
            _only(sel, tuple(homeless)), root=ctx.root, path=new_file, target=ctx.target, profile=ctx.profile,
            now=ctx.now, members_readable=ctx.members_readable, sections=tuple(homeless),
        )
    users_home = new_file if "users" in homeless else next(
        (p for p, a in added.items() if "users" in a),
        next((p for p in sorted(by_path) if find_slot(by_path[p], "users") is not None), None),
    )
    if users_home is not None:
        _append_skipped(sel.skipped, users_home, texts, by_path)
    return texts


def _only(sel: Selection, sections: tuple[str, ...]) -> Selection:
    return Selection(
        users=sel.users if "users" in sections else [],
        groups=sel.groups if "groups" in sections else [],
    )


def _destination(
    section: str, docs: Mapping[Path, Loaded], new_file: Path, explicit_out: bool
) -> tuple[Loaded, Slot] | None:
    """The file and place for new items of `section`; None: a new file at `new_file`."""
    if explicit_out:
        if new_file not in docs:
            return None
        doc = docs[new_file]
        slot = find_slot(doc, section) or append_section_slot(doc, section)
        if slot is None:
            raise ReconcilerError(f"{new_file}: cannot append {section} to it; choose another --out FILE")
        return doc, slot
    for path in sorted(docs):
        slot = find_slot(docs[path], section)
        if slot is not None:
            return docs[path], slot
    if new_file in docs:  # the default file exists (an earlier import) but lacks this section
        slot = append_section_slot(docs[new_file], section)
        if slot is not None:
            return docs[new_file], slot
    return None


def _append_skipped(
    skipped: list[LiveUser], path: Path, texts: dict[Path, str], docs: Mapping[Path, Loaded]
) -> None:
    """The comment block listing the accounts left out, at the end of `path`, unless the same
    block is already there (an earlier merge)."""
    block = skipped_block(skipped)
    text = texts.get(path, docs[path].text if path in docs else None)
    if not block or text is None:
        return
    nl = "\r\n" if "\r\n" in text else "\n"
    body = nl.join(block) + nl
    if body in text:
        return
    sep = "" if not text or text.endswith(("\n", "\r")) else nl
    texts[path] = text + sep + nl + body


# --- the one entry point --------------------------------------------------------------------------


def run_import(
    *,
    root: Path,
    target_name: str,
    live: LiveState,
    state: State,
    out: Path | None,
    merge: bool,
    include_unmanaged: bool,
    adopt: bool,
    now: datetime,
    profile: str,
) -> ImportReport:
    """Write desired-state YAML for what `live` holds; return what was done (and, with `adopt`,
    the state to save). Raises ReconcilerError before writing anything when it cannot finish."""
    readable = live.members_readable and profile != "bitwarden"
    ctx = _Context(root, target_name, profile, now, readable)
    new_file = root / DESIRED_DIR / f"imported-{target_name}.yaml" if out is None else out.absolute()
    if not merge and new_file.exists():
        raise ReconcilerError(
            f"{new_file} exists: use --merge to add what is missing to desired-state, "
            "or --out FILE to write elsewhere"
        )
    docs = [read_desired(p) for p in desired_files(root)] if merge or _inside_desired(root, new_file) else []
    declared = Declared.from_files(docs)
    sel = select_entries(
        live, state, declared if merge else Declared(), include_unmanaged=include_unmanaged, members_readable=readable
    )
    if not readable:
        sel.warnings.insert(0, members_note(profile))
    if merge:
        texts = _merge(ctx, sel, docs, new_file, out is not None)
    else:
        _warn_twice_declared(sel, declared)
        texts = {new_file: render_file(
            sel, root=root, path=new_file, target=target_name, profile=profile, now=now,
            members_readable=readable, skipped=sel.skipped,
        )}
    for path, text in sorted(texts.items()):
        atomic_write(path, text.encode("utf-8"))  # an existing file keeps its permissions
        log.info("import: wrote %s (%d characters)", path, len(text))
    new_state = adopted_state(state, live, sel) if adopt else None
    log.info("import from %s: %d users, %d groups, %d left out", target_name, len(sel.users), len(sel.groups),
             len(sel.skipped))
    files = sorted(texts)
    return ImportReport(
        files_written=files,
        users=len(sel.users),
        user_keys=[p.key for p in sel.users],
        groups=len(sel.groups),
        skipped_unmanaged=[u.user_name for u in sel.skipped],
        warnings=list(sel.warnings),
        adopted_state=new_state,
        text=summary(sel, files, root=root, target=target_name, profile=profile, merge=merge, adopted=new_state),
    )


def members_note(profile: str) -> str:
    who = "Bitwarden" if profile == "bitwarden" else f"target profile {profile}"
    return (
        f"{who} never returns group members through SCIM: members come from the state "
        "(last applied by reconcile), or are left empty"
    )


def _inside_desired(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to((root / DESIRED_DIR).resolve())
    except ValueError:
        return False
    return True


def _warn_twice_declared(sel: Selection, declared: Declared) -> None:
    """Without --merge, entries already declared elsewhere in desired-state are declared twice."""
    users = sum(
        1 for p in sel.users if p.key in declared.user_keys or user_key(p.user.user_name) in declared.user_names
    )
    groups = sum(1 for g in sel.groups if g.key in declared.group_keys)
    if users or groups:
        sel.warnings.append(
            f"{users} user(s) and {groups} group(s) are also declared in other desired-state files: they are "
            "now declared twice and validate fails; delete the new file and use --merge to add only what is missing"
        )


def summary(
    sel: Selection,
    files: list[Path],
    *,
    root: Path,
    target: str,
    profile: str,
    merge: bool,
    adopted: State | None,
) -> str:
    """The one-screen text the CLI prints."""
    where = ", ".join(_display(root, p) for p in files) or "no file changed (nothing to add)"
    verb = "added" if merge else "imported"
    lines = [f"{target} ({profile}): {verb} {_n(len(sel.users), 'user')} and {_n(len(sel.groups), 'group')} -> {where}"]
    if merge and (sel.already_users or sel.already_groups):
        lines.append(
            f"  already declared: {_n(sel.already_users, 'user')} and {_n(sel.already_groups, 'group')} "
            "(left as they are)"
        )
    if sel.skipped:
        lines.append(
            f"  not imported: {_n(len(sel.skipped), 'account')} without an externalId "
            f"({_short_list([u.user_name for u in sel.skipped])}); listed in a comment at the end of the "
            "file; --include-unmanaged imports them with generated keys"
        )
    generated = sum(1 for p in sel.users if p.generated)
    if generated:
        lines.append(f"  {_n(generated, 'account')} without an externalId imported with generated keys ({USER_KEY_PREFIX}...)")
    lines += [f"  warning: {w}" for w in sel.warnings[:TEXT_LIST_LIMIT]]
    if len(sel.warnings) > TEXT_LIST_LIMIT:
        lines.append(f"  ... and {len(sel.warnings) - TEXT_LIST_LIMIT} more warnings")
    if adopted is not None:
        groups = sum(1 for v in sel.group_member_ids.values() if v is not None)
        lines.append(
            f"  adopted: {_n(len(sel.user_keys), 'account')} and {_n(groups, 'group')} recorded as managed in the state; "
            "the next `reconcile plan` should show no changes"
        )
    elif generated:
        lines.append("  without --adopt the next plan adopts those accounts explicitly (AdoptUser actions)")
    lines.append(f"next: review, then `reconcile validate` and `reconcile plan --target {target}`")
    return "\n".join(lines)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _short_list(names: list[str], limit: int = TEXT_LIST_LIMIT) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _display(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
