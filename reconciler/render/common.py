"""What the text and markdown renderers share: verbs, symbols, summary line, warnings, redaction."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from reconciler.plan import Plan

VERBS = {
    "create_user": ("+", "create user"),
    "update_user": ("~", "update user"),
    "adopt_user": ("=", "adopt user"),
    "restore_user": (">", "restore user"),
    "disable_user": ("!", "disable user"),
    "delete_user": ("-", "delete user"),
    "create_group": ("+", "create group"),
    "update_group": ("~", "update group"),
    "delete_group": ("-", "delete group"),
    "change_members": ("~", "members of group"),
}
DESTRUCTIVE = ("delete_user", "disable_user", "delete_group")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})")


class Redactor:
    """Masks e-mails, names and user keys so that a public PR does not publish the staff list."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def email(self, text: str) -> str:
        if not self.enabled:
            return text
        return _EMAIL.sub(lambda m: f"{m.group(1)}•••@{m.group(2)}•••.{m.group(3)}", text)

    def key(self, text: str) -> str:
        if not self.enabled:
            return text
        return "u-" + hashlib.sha256(text.encode()).hexdigest()[:8]

    def value(self, path: str, value: Any, *, group: bool = False) -> str:
        text = json.dumps(value, ensure_ascii=False, default=str)
        if not self.enabled or group:
            return text
        if path in ("displayName", "name.givenName", "name.familyName") and isinstance(value, str):
            return json.dumps(" ".join(p[:1] + "." for p in value.split()) or "•••", ensure_ascii=False)
        if path == "externalId" and isinstance(value, str):
            return json.dumps(self.key(value))
        return self.email(text)


def is_destructive(a: Any) -> bool:
    return a.kind in DESTRUCTIVE or (a.kind == "change_members" and bool(a.remove))


def summary_line(plan: Plan) -> str:
    s = plan.summary
    users = (
        f"{s['create_user']} to create, {s['update_user'] + s['adopt_user']} to update, "
        f"{s['disable_user']} to disable, {s['delete_user']} to delete, {s['restore_user']} to restore"
    )
    groups = (
        f"groups: {s['create_group']} to create, {s['update_group']} to update, "
        f"{s['delete_group']} to delete, {s['change_members']} with membership changes "
        f"(+{s['members_added']} −{s['members_removed']})"
    )
    return f"Plan: {users}; {groups}"


def plan_warnings(plan: Plan, r: Redactor) -> list[str]:
    out: list[str] = []
    s = plan.summary
    if s.get("invitations"):
        n = s["invitations"]
        out.append(f"{n} Bitwarden invitation e-mail{'s' if n != 1 else ''} will be sent")
    recreated = [a for a in plan.actions if a.kind == "create_user" and a.recreated_after_delete]
    if recreated:
        out.append(
            f"{len(recreated)} account{'s' if len(recreated) != 1 else ''} re-created: "
            "the previous account was deleted (a new id, no previous memberships"
            + (", a new invitation" if plan.connection.profile == "bitwarden" else "")
            + ")"
        )
    out.extend(r.email(w) for w in plan.warnings)
    return out


def field_lines(a: Any, r: Redactor) -> list[str]:
    """Field-level details of one action, as 'path: before -> after' lines."""
    lines: list[str] = []
    group = a.kind.endswith("_group")
    if a.kind in ("update_user", "update_group"):
        for c in a.changes:
            lines.append(
                f"{c.path}: {r.value(c.path, c.before, group=group)} -> {r.value(c.path, c.after, group=group)}"
            )
    elif a.kind in ("create_user", "create_group") and a.after:
        for k in sorted(a.after):
            lines.append(f"{k}: {r.value(k, a.after[k], group=group)}")
    elif a.kind in ("disable_user", "restore_user"):
        lines.append(f"active: {json.dumps(not (a.kind == 'restore_user'))} -> {json.dumps(a.kind == 'restore_user')}")
        if a.kind == "disable_user" and a.delete_due:
            lines.append(f"deleted after: {a.delete_due[:10]} (two-phase removal)")
    elif a.kind == "adopt_user" and a.before is not None and a.after is not None:
        lines.append(
            f"externalId: {r.value('externalId', a.before.get('externalId'))} -> "
            f"{r.value('externalId', a.after.get('externalId'))}"
        )
    elif a.kind == "change_members":
        lines.extend(f"+ {r.email(m.label or m.key)}" for m in a.add)
        lines.extend(f"− {r.email(m.label or m.key)}" for m in a.remove)
    return lines


def title(a: Any, r: Redactor) -> str:
    symbol, verb = VERBS[a.kind]
    if a.kind == "change_members":
        return f"{symbol} {verb} {a.label} ({a.key}): +{len(a.add)} −{len(a.remove)}"
    if a.kind.endswith("_group"):
        return f"{symbol} {verb} {a.label} ({a.key})"
    return f"{symbol} {verb} {r.email(a.label)} ({r.key(a.key)})"
