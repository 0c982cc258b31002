"""`import`: a live organisation -> desired-state YAML (and, with --adopt, ownership in the state).

Pure in the middle (`build_import`: LiveState + State -> entries), text at the ends: a new file is
rendered whole; `--merge` only *appends* entries to the existing files' `users:` / `groups:`
blocks, so every existing byte — order, comments, quoting — stays exactly as it was.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.errors import ReconcilerError
from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.resolve import user_key
from reconciler.state.model import ManagedGroup, ManagedUser, State

SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/desired-state.schema.json\n"
_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9 _./@+-]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "~"}


@dataclass
class ImportResult:
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Accounts left out: no externalId and --include-unmanaged not given."""
    warnings: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    """live user id -> the externalId it is imported with."""
    group_keys: dict[str, str] = field(default_factory=dict)
    group_members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """group key -> member SCIM ids as they are now (for --adopt); absent when unknown."""


def generated_key(user_name: str, prefix: str = "imported-") -> str:
    """A stable key for an account that has no externalId: the same account, the same key."""
    return prefix + hashlib.sha256(user_key(user_name).encode()).hexdigest()[:12]


def build_import(live: LiveState, state: State, *, include_unmanaged: bool, profile: str) -> ImportResult:
    res = ImportResult()
    state_key = {m.id: k for k, m in state.users.items()}
    for u in sorted(live.users, key=lambda u: user_key(u.user_name)):
        key = u.external_id or state_key.get(u.id)
        if key is None:
            if not include_unmanaged:
                res.skipped.append(u.user_name)
                continue
            key = generated_key(u.user_name)
        res.keys[u.id] = key
        res.users.append(_user_entry(u, key))
    names = {u.id: u.user_name for u in live.users if u.id in res.keys}
    state_group = {m.id: (k, m) for k, m in state.groups.items()}
    for g in sorted(live.groups, key=lambda g: (g.display_name.casefold(), g.id)):
        known = state_group.get(g.id)
        key = g.external_id or (known[0] if known else generated_key(g.display_name + "\0" + g.id, "imported-g-"))
        ids: tuple[str, ...] | None
        if g.members is not None:
            ids = g.members
        elif known is not None:
            ids = known[1].members
        else:
            ids = None
            res.warnings.append(
                f"group {g.display_name}: {profile} never returns group members and the state does "
                "not know them; its members are left empty: fill them in by hand"
            )
        res.group_keys[g.id] = key
        if ids is not None:
            res.group_members[key] = tuple(sorted(ids))
        members = sorted((names[i] for i in ids or () if i in names), key=user_key)
        entry: dict[str, Any] = {"externalId": key, "displayName": g.display_name, "members": members}
        res.groups.append(entry)
    return res


def _user_entry(u: LiveUser, key: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"externalId": key, "userName": u.user_name}
    if u.display_name:
        entry["displayName"] = u.display_name
    name = {k: v for k, v in (("givenName", u.given_name), ("familyName", u.family_name)) if v}
    if name:
        entry["name"] = name
    if list(u.emails) not in ([], [u.user_name]) and [e.casefold() for e in u.emails] != [u.user_name.casefold()]:
        entry["emails"] = [{"value": e, "primary": i == 0, "type": "work"} for i, e in enumerate(u.emails)]
    if not u.active:
        entry["active"] = False
    return entry


def adopted_state(state: State, live: LiveState, res: ImportResult) -> State:
    """The state once every imported account and group is recorded as managed (--adopt)."""
    users = dict(state.users)
    by_id = {u.id: u for u in live.users}
    for scim_id, key in res.keys.items():
        if key not in users:
            users[key] = ManagedUser(external_id=key, id=scim_id, user_name=by_id[scim_id].user_name, origin="adopted")
    groups = dict(state.groups)
    names = {g.id: g.display_name for g in live.groups}
    for scim_id, key in res.group_keys.items():
        current = groups.get(key)
        if key not in res.group_members:
            continue  # members unknown (Bitwarden): claiming an empty group would be a lie
        members = res.group_members[key]
        groups[key] = ManagedGroup(
            external_id=key, id=scim_id, display_name=names[scim_id],
            members=tuple(members), origin=current.origin if current is not None else "adopted",
        )
    return state.model_copy(update={"users": users, "groups": groups})


# --- text --------------------------------------------------------------------------------------


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not re.fullmatch(r"[-+]?[0-9._eE]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def entry_lines(entry: dict[str, Any], indent: str) -> list[str]:
    """One list item in the style of the example files: `- key: value`, nested maps in flow."""
    lines = []
    first = True
    for k, v in entry.items():
        if isinstance(v, dict):
            text = "{" + ", ".join(f"{a}: {scalar(b)}" for a, b in v.items()) + "}"
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            text = "[" + ", ".join("{" + ", ".join(f"{a}: {scalar(b)}" for a, b in i.items()) + "}" for i in v) + "]"
        elif isinstance(v, list):
            text = "[" + ", ".join(scalar(x) for x in v) + "]"
        else:
            text = scalar(v)
        lines.append(f"{indent}{'- ' if first else '  '}{k}: {text}\n")
        first = False
    return lines


def render_file(res: ImportResult, *, target: str, when: str, profile: str) -> str:
    out = [SCHEMA_LINE, f"# Imported from target '{target}' ({profile}) at {when} by `reconcile import`.\n"]
    if profile == "bitwarden":
        out.append("# Bitwarden never returns group members through SCIM: members come from the state, or are empty.\n")
    disabled = [u["userName"] for u in res.users if u.get("active") is False]
    if disabled:
        out.append(f"# {len(disabled)} account(s) are disabled on the target and imported with active: false.\n")
    out.append("users:\n" if res.users else "users: []\n")
    for u in res.users:
        out.extend(entry_lines(u, "  "))
    out.append("groups:\n" if res.groups else "groups: []\n")
    for g in res.groups:
        out.extend(entry_lines(g, "  "))
    out.extend(_skipped_block(res))
    return "".join(out)


def _skipped_block(res: ImportResult) -> list[str]:
    if not res.skipped:
        return []
    lines = ["\n# Not imported (no externalId; decide by hand, or import again with --include-unmanaged):\n"]
    lines.extend(f"#   {name}\n" for name in res.skipped)
    return lines


def merge_text(text: str, section: str, entries: list[dict[str, Any]]) -> str | None:
    """`text` with `entries` appended at the end of its block sequence `section:`, every other
    byte unchanged; None when the file has no such block (then the caller writes elsewhere)."""
    if not entries:
        return text
    lines = text.splitlines(keepends=True)
    head = next((i for i, line in enumerate(lines) if re.match(rf"^{section}:\s*(#.*)?$", line)), None)
    if head is None:
        return None
    indent, end = None, len(lines)
    for i in range(head + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.startswith((" ", "-", "#")):
            end = i  # the next top-level key
            break
        m = re.match(r"^(\s*)- ", line)
        if m and indent is None:
            indent = m.group(1)
    if indent is None:
        indent = "  "
    while end > head + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # blank lines and column-0 comments after the block stay after it
    new = [line for e in entries for line in entry_lines(e, indent)]
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end] + new + lines[end:])


def existing_keys(paths: list[Path]) -> tuple[set[str], set[str], set[str]]:
    """externalIds and userNames of declared users, and externalIds of declared groups."""
    y = YAML(typ="safe")
    users, names, groups = set(), set(), set()
    for p in paths:
        try:
            data = y.load(p.read_text(encoding="utf-8")) or {}
        except Exception as exc:  # noqa: BLE001 - reported as a ReconcilerError with the file
            raise ReconcilerError(f"{p}: cannot merge into a file that does not load ({exc}); run validate") from None
        for u in data.get("users") or []:
            if isinstance(u, dict):
                users.add(str(u.get("externalId")))
                names.add(user_key(str(u.get("userName"))))
        for g in data.get("groups") or []:
            if isinstance(g, dict):
                groups.add(str(g.get("externalId")))
    return users, names, groups


@dataclass
class ImportReport:
    files_written: list[Path]
    users: int
    groups: int
    skipped: list[str]
    warnings: list[str]
    adopted_state: State | None

    def render(self) -> str:
        lines = [f"imported {self.users} users and {self.groups} groups into "
                 + ", ".join(str(p) for p in self.files_written)]
        if self.skipped:
            lines.append(f"not imported: {len(self.skipped)} accounts without an externalId (listed in a comment; "
                         "--include-unmanaged imports them with generated keys)")
        lines.extend(f"warning: {w}" for w in self.warnings)
        if self.adopted_state is not None:
            lines.append(f"adopted: {len(self.adopted_state.users)} accounts and {len(self.adopted_state.groups)} "
                         "groups are now managed in the state; `reconcile plan` should show no actions")
        return "\n".join(lines)


def run_import(
    *,
    root: Path,
    target: str,
    live: LiveState,
    state: State,
    out: Path | None,
    merge: bool,
    include_unmanaged: bool,
    adopt: bool,
    when: str,
    profile: str,
) -> ImportReport:
    res = build_import(live, state, include_unmanaged=include_unmanaged, profile=profile)
    desired = root / "desired-state"
    new_file = out or desired / f"imported-{target}.yaml"
    written: list[Path] = []
    if merge:
        files = sorted(p for p in desired.glob("**/*") if p.suffix in (".yaml", ".yml") and p.is_file())
        users_known, names_known, groups_known = existing_keys(files)
        res.users = [u for u in res.users if u["externalId"] not in users_known
                     and user_key(u["userName"]) not in names_known]
        res.groups = [g for g in res.groups if g["externalId"] not in groups_known]
        for section, entries in (("users", res.users), ("groups", res.groups)):
            if not entries:
                continue
            for p in files:
                merged = merge_text(p.read_text(encoding="utf-8"), section, entries)
                if merged is not None:
                    p.write_text(merged, encoding="utf-8")
                    written.append(p)
                    entries.clear()
                    break
        leftover = ImportResult(users=res.users, groups=res.groups, skipped=res.skipped)
        if leftover.users or leftover.groups:
            _write_new(new_file, render_file(leftover, target=target, when=when, profile=profile))
            written.append(new_file)
    else:
        _write_new(new_file, render_file(res, target=target, when=when, profile=profile))
        written.append(new_file)
    return ImportReport(
        files_written=sorted(set(written)),
        users=len(res.keys),
        groups=len(res.group_keys),
        skipped=res.skipped,
        warnings=res.warnings,
        adopted_state=adopted_state(state, live, res) if adopt else None,
    )


def _write_new(path: Path, text: str) -> None:
    if path.exists():
        raise ReconcilerError(f"{path} exists: use --merge to add to the desired state, or --out FILE")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
