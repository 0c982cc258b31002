"""apply_plan: execute exactly a saved plan, or refuse it before the first write.

Order of business: take the state lock; check lineage and serial; re-read every object the plan
touches and refuse if anything moved ("plan is stale"); then run the phases in order. Each action
ends ok, failed (with the server's answer) or skipped (something it needs failed); independent
actions go on. The state is saved after the writes that cannot be re-derived from the target
(removal records, ownership); the rest is saved at least once a second and at every phase end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.diff import live_fields, same_value
from reconciler.errors import ReconcilerError, ScimError, ScimTransportError, StalePlanError
from reconciler.fingerprint import fingerprint_group, fingerprint_user
from reconciler.live import LiveGroup, LiveState, LiveUser
from reconciler.plan import Plan
from reconciler.state.effects import state_after
from reconciler.state.model import State
from reconciler.state.store import StateStore, StateWriter

log = logging.getLogger(__name__)

BULK_CHECK_THRESHOLD = 25
"""Above this many touched objects, the stale check lists the target instead of GETting each."""
CRITICAL = frozenset({"disable_user", "delete_user", "adopt_user", "restore_user", "delete_group"})
"""Saved at once: what the next plan could not re-derive from the target. A created user or
group carries its externalId, so a lost record is found again by the next plan; membership
changes are idempotent, so one repeated after a crash changes nothing. Those are saved at least
once a second and at every phase end instead (a save per create would double a bulk apply)."""


class TargetPort(Protocol):
    """What apply needs from a target (reconciler.target.TargetClient implements it)."""

    profile_name: str
    concurrency: int

    def read_all(self) -> LiveState: ...
    def read_user(self, scim_id: str) -> LiveUser | None: ...
    def read_group(self, scim_id: str) -> LiveGroup | None: ...
    def find_user(self, external_id: str | None, user_name: str | None) -> LiveUser | None: ...
    def find_group(self, external_id: str) -> LiveGroup | None: ...
    def create_user(self, fields: dict[str, Any]) -> LiveUser: ...
    def update_user(self, scim_id: str, changes: dict[str, Any]) -> LiveUser | None: ...
    def set_active(self, scim_id: str, active: bool) -> None: ...
    def delete_user(self, scim_id: str) -> bool: ...
    def create_group(self, display_name: str, external_id: str) -> LiveGroup: ...
    def update_group(self, scim_id: str, display_name: str | None, external_id: str | None) -> None: ...
    def delete_group(self, scim_id: str) -> bool: ...
    def change_members(self, scim_id: str, add: list[str], remove: list[str]) -> None: ...


class IgnoredWrite(ReconcilerError):
    """The server answered success but did not make the change (Bitwarden's silent 204)."""


@dataclass
class Outcome:
    kind: str
    key: str
    label: str
    status: str  # ok | failed | skipped
    message: str = ""
    scim_id: str | None = None
    ambiguous: bool = False
    """The request may have been applied (no answer): a write-ahead record is kept."""


@dataclass
class ApplyResult:
    target: str
    checksum: str
    outcomes: list[Outcome] = field(default_factory=list)
    state_serial: int = 0

    @property
    def failed(self) -> bool:
        return any(o.status == "failed" for o in self.outcomes)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for o in self.outcomes:
            row = out.setdefault(o.kind, {"impacted": 0, "ok": 0, "failed": 0, "skipped": 0})
            row["impacted"] += 1
            row[o.status] += 1
        return out


Progress = Callable[[Outcome, int, int], None]


def check_stale(plan: Plan, port: TargetPort, state: State) -> None:
    """Refuse, before any write, a plan whose base moved."""
    moved: list[str] = []
    if state.serial == 0 and plan.state.serial == 0:
        pass  # no state was ever saved: each load makes up a lineage; the plan's is adopted
    elif state.lineage != plan.state.lineage:
        moved.append(f"the state lineage is {state.lineage}, the plan was made for {plan.state.lineage}")
    elif state.serial != plan.state.serial:
        moved.append(
            f"the state changed since planning (serial {state.serial}, plan made at {plan.state.serial}): "
            "another apply ran"
        )
    if moved:
        raise StalePlanError(moved)
    fps = plan.fingerprints
    user: Callable[[str], LiveUser | None]
    group: Callable[[str], LiveGroup | None]
    present: Callable[[str, str], bool]
    if len(fps) > BULK_CHECK_THRESHOLD:
        live = port.read_all()
        users = {u.id: u for u in live.users}
        groups = {g.id: g for g in live.groups}
        by_ext = {u.external_id for u in live.users if u.external_id}
        by_name = {u.user_name.casefold() for u in live.users}

        user, group = users.get, groups.get
        present = lambda ext, name: ext in by_ext or name.casefold() in by_name  # noqa: E731
    else:
        user, group = port.read_user, port.read_group
        present = lambda ext, name: port.find_user(ext, name) is not None  # noqa: E731

    for ref, expected in sorted(fps.items()):
        kind, _, ident = ref.partition(":")
        if kind == "user":
            u = user(ident)
            if u is None:
                moved.append(f"user {ident} was deleted on the target")
            elif fingerprint_user(u) != expected:
                moved.append(f"user {u.user_name} changed on the target")
        elif kind == "group":
            g = group(ident)
            if g is None:
                moved.append(f"group {ident} was deleted on the target")
            elif fingerprint_group(g) != expected:
                moved.append(f"group {g.display_name} changed on the target")
        elif kind == "absent" and present(ident, expected):
            moved.append(f"user {expected} now exists on the target")
        if len(moved) >= 10:
            moved.append("…")
            break
    if moved:
        raise StalePlanError(moved)


class _Run:
    def __init__(self, plan: Plan, port: TargetPort, writer: StateWriter, now: Callable[[], str],
                 progress: Progress | None) -> None:
        self.plan = plan
        self.port = port
        self.writer = writer
        self.state = writer.state
        if self.state.serial == 0:
            self.state = self.state.model_copy(update={"lineage": plan.state.lineage})
        self.now = now
        self.progress = progress
        self.new_ids: dict[str, str] = {}  # user key / "group:"+key -> id created in this run
        self.failed_keys: set[str] = set()
        self.result = ApplyResult(plan.target, plan.checksum)
        self.dirty = False
        self.last_save = time.monotonic()
        self.done = 0

    # -- state ------------------------------------------------------------------------------
    def record(self, action: Any, scim_id: str | None) -> None:
        self.state = state_after(self.state, action, scim_id=scim_id, now=self.now(), member_ids=self.new_ids)
        self.dirty = True
        if action.kind in CRITICAL or time.monotonic() - self.last_save > 1.0:
            self.flush()

    def intend(self, action: Any) -> None:
        """Write-ahead: record a removal as pending before it is sent (see RemovalRecord.pending)."""
        pending = state_after(self.state, action, scim_id=action.id, now=self.now(), member_ids=self.new_ids)
        record = pending.removals[action.key].model_copy(update={"pending": True})
        prior = self.state.removals.get(action.key)
        if prior is not None and action.kind == "delete_user":
            record = record.model_copy(update={"previous_groups": prior.previous_groups})
        self.state = self.writer.save(
            self.state.model_copy(update={"removals": {**self.state.removals, action.key: record}})
        )
        self.dirty = False

    def forget_intent(self, action: Any, prior: Any) -> None:
        """The removal certainly did not happen: put the previous record back."""
        removals = dict(self.state.removals)
        if prior is None:
            removals.pop(action.key, None)
        else:
            removals[action.key] = prior
        self.state = self.writer.save(self.state.model_copy(update={"removals": removals}))

    def flush(self) -> None:
        if self.dirty:
            self.state = self.writer.save(self.state)
            self.dirty = False
            self.last_save = time.monotonic()

    # -- execution --------------------------------------------------------------------------
    def run(self) -> ApplyResult:
        phases: dict[int, list[Any]] = {}
        for a in self.plan.actions:
            phases.setdefault(a.phase, []).append(a)
        for phase in sorted(phases):
            self._run_phase(phases[phase])
            self.flush()
        self.result.state_serial = self.state.serial
        return self.result

    def _run_phase(self, actions: list[Any]) -> None:
        priors = {}
        for a in actions:
            if a.kind in ("disable_user", "delete_user"):
                priors[a.key] = self.state.removals.get(a.key)
                self.intend(a)
        self._priors = priors
        if self.port.concurrency <= 1 or len(actions) == 1:
            for a in actions:
                self._finish(a, self._one(a))
            return
        # Two actions on one object (an adoption and a field update of the same account) run
        # one after the other: servers apply a PATCH as read-modify-write, and two at once on
        # one resource can lose one of them (seen on django-scim2).
        chains: dict[str, list[Any]] = {}
        for a in actions:
            chains.setdefault(a.id or f"new:{a.kind}:{a.key}", []).append(a)

        def run_chain(chain: list[Any]) -> list[tuple[Outcome, Callable[[], None] | None]]:
            return [self._one(a) for a in chain]

        with ThreadPoolExecutor(max_workers=self.port.concurrency) as pool:
            for chain, outcomes in zip(chains.values(), pool.map(run_chain, chains.values())):
                for a, outcome in zip(chain, outcomes):
                    self._finish(a, outcome)

    def _finish(self, action: Any, outcome: tuple[Outcome, Callable[[], None] | None]) -> None:
        out, commit = outcome
        if commit is not None:
            commit()  # state updates happen on this thread, in plan order
        elif action.key in getattr(self, "_priors", {}) and not out.ambiguous:
            self.forget_intent(action, self._priors[action.key])
        if out.status != "ok":
            self.failed_keys.add(action.key if not action.kind.endswith("group") else "group:" + action.key)
        self.result.outcomes.append(out)
        self.done += 1
        if self.progress:
            self.progress(out, self.done, len(self.plan.actions))

    def _one(self, a: Any) -> tuple[Outcome, Callable[[], None] | None]:
        out = Outcome(a.kind, a.key, a.label, "ok", scim_id=a.id)
        try:
            return out, getattr(self, "_do_" + a.kind)(a, out)
        except StalePlanError:
            raise
        except IgnoredWrite as exc:
            out.status, out.message = "failed", str(exc)
        except ScimError as exc:
            out.status, out.message = "failed", str(exc)
            out.ambiguous = isinstance(exc, ScimTransportError) or (exc.status or 0) >= 500
        except ReconcilerError as exc:
            out.status, out.message = "failed", str(exc)
        log.warning("%s %s failed: %s", a.kind, a.key, out.message)
        return out, None

    def _commit(self, a: Any, scim_id: str | None) -> Callable[[], None]:
        return lambda: self.record(a, scim_id)

    # users
    def _do_create_user(self, a: Any, out: Outcome) -> Callable[[], None]:
        fields = dict(a.after)
        try:
            user = self.port.create_user(fields)
            out.message = "created"
        except ScimError as exc:
            ambiguous = isinstance(exc, ScimTransportError) or exc.status == 409
            if not ambiguous:
                raise
            # A 409, or a create whose answer was lost: look the account up and link it.
            found = self.port.find_user(fields["externalId"], fields["userName"])
            if found is None:
                raise
            user = found
            out.message = f"linked the existing account ({'409' if exc.status == 409 else 'answer lost'})"
            if not found.active and fields.get("active", True):
                self.port.set_active(found.id, True)
                out.message += ", restored"
        if fields.get("active", True) is False and user.active:
            self.port.set_active(user.id, False)  # Bitwarden creates active only (§3)
        out.scim_id = user.id
        self.new_ids[a.key] = user.id
        return self._commit(a, user.id)

    def _do_update_user(self, a: Any, out: Outcome) -> Callable[[], None]:
        changes = {c.path: c.after for c in a.changes}
        try:
            answer = self.port.update_user(a.id, changes)
        except ScimError as exc:
            if exc.status == 501:
                raise IgnoredWrite(
                    f"the server does not support changing {', '.join(sorted(changes))} ({exc}); leave "
                    "what it cannot change out of connection.capabilities.user_writable"
                ) from None
            raise
        if "externalId" in changes and self.port.profile_name == "bitwarden":
            self._verify_user(a.id, lambda u: u.external_id == changes["externalId"], "externalId")
        if answer is not None:  # the server sent the result back: check that it took the change
            have = live_fields(answer)
            ignored = sorted(p for p, v in changes.items() if not same_value(p, have.get(p), v))
            if ignored:
                raise IgnoredWrite(
                    f"the server ignored the change of {', '.join(ignored)} for {a.label}; if it derives "
                    f"or cannot store it, leave it out of connection.capabilities.user_writable"
                )
        return self._commit(a, a.id)

    def _do_adopt_user(self, a: Any, out: Outcome) -> Callable[[], None]:
        if a.set_external_id:
            self.port.update_user(a.id, {"externalId": a.key})
            u = self.port.read_user(a.id) if self.port.profile_name == "bitwarden" else None
            if u is not None and u.external_id != a.key:
                out.message = "the server ignored the externalId change (Bitwarden < 2026.3); ownership recorded in state"
        return self._commit(a, a.id)

    def _do_restore_user(self, a: Any, out: Outcome) -> Callable[[], None]:
        self.port.set_active(a.id, True)
        if self.port.profile_name == "bitwarden":
            self._verify_user(a.id, lambda u: u.active, "active")
        return self._commit(a, a.id)

    def _do_disable_user(self, a: Any, out: Outcome) -> Callable[[], None]:
        self.port.set_active(a.id, False)
        if self.port.profile_name == "bitwarden":
            self._verify_user(a.id, lambda u: not u.active, "active")
        return self._commit(a, a.id)

    def _do_delete_user(self, a: Any, out: Outcome) -> Callable[[], None]:
        if not self.port.delete_user(a.id):
            out.message = "already gone (404)"
        return self._commit(a, a.id)

    def _verify_user(self, scim_id: str, ok: Callable[[LiveUser], bool], what: str) -> None:
        u = self.port.read_user(scim_id)
        if u is None or not ok(u):
            raise IgnoredWrite(f"the server ignored the change ({what} of {scim_id} unchanged after a success answer)")

    # groups
    def _do_create_group(self, a: Any, out: Outcome) -> Callable[[], None]:
        name, ext = a.after["displayName"], a.key
        try:
            g = self.port.create_group(name, ext)
        except ScimError as exc:
            if not (isinstance(exc, ScimTransportError) or exc.status == 409):
                raise
            found = self.port.find_group(ext)
            if found is None:
                raise
            g = found
            out.message = "linked the existing group"
        out.scim_id = g.id
        self.new_ids["group:" + a.key] = g.id
        return self._commit(a, g.id)

    def _do_update_group(self, a: Any, out: Outcome) -> Callable[[], None]:
        changes = {c.path: c.after for c in a.changes}
        self.port.update_group(a.id, changes.get("displayName"), changes.get("externalId"))
        if self.port.profile_name == "bitwarden":
            g = self.port.read_group(a.id)
            if g is None or ("displayName" in changes and g.display_name != changes["displayName"]):
                raise IgnoredWrite(f"the server ignored the rename of group {a.label}")
            if "externalId" in changes and g.external_id != changes["externalId"]:
                out.message = "the server ignored the externalId change (Bitwarden < 2026.5); ownership recorded in state"
        return self._commit(a, a.id)

    def _do_delete_group(self, a: Any, out: Outcome) -> Callable[[], None]:
        if not self.port.delete_group(a.id):
            out.message = "already gone (404)"
        return self._commit(a, a.id)

    def _do_change_members(self, a: Any, out: Outcome) -> Callable[[], None] | None:
        gid = a.id or self.new_ids.get("group:" + a.key)
        if gid is None:
            out.status = "skipped"
            out.message = f"group {a.label} was not created"
            return None
        add: list[str] = []
        missing: list[str] = []
        for m in a.add:
            mid = m.id or self.new_ids.get(m.key)
            (add.append(mid) if mid else missing.append(m.label or m.key))
        remove = [m.id for m in a.remove if m.id]
        if add or remove:
            self.port.change_members(gid, add, remove)
        out.scim_id = gid
        if missing:
            out.message = f"{len(missing)} member(s) skipped, their create failed: {', '.join(missing[:5])}"
        commit_action = a.model_copy(update={"add": tuple(m for m in a.add if (m.id or self.new_ids.get(m.key)))})
        return self._commit(commit_action, gid)


def apply_plan(
    plan: Plan,
    port: TargetPort,
    store: StateStore,
    *,
    now: Callable[[], str],
    progress: Progress | None = None,
    message: str = "",
) -> ApplyResult:
    with store.session(plan.checksum, message or f"apply {plan.target} {plan.checksum}") as writer:
        check_stale(plan, port, writer.state)
        run = _Run(plan, port, writer, now, progress)
        try:
            return run.run()
        finally:
            run.flush()
            writer.note([outcome_line(o) for o in run.result.outcomes])


def outcome_line(o: Outcome) -> str:
    """One action's outcome in a line: `ok create_user ann@example.com (id 2819c223)`."""
    detail = f" (id {o.scim_id})" if o.scim_id else ""
    if o.status != "ok" and o.message:
        detail += f": {o.message}"
    return f"{o.status} {o.kind} {o.label}{detail}"

