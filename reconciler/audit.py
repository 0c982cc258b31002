"""The audit log: an append-only record of every apply, one JSON object per line.

`<root>/.reconcile/audit/<target>.jsonl` (git-ignored with the rest of `.reconcile/`). An apply
writes `apply_started` (who, which plan, which desired commit), one `action` line per executed
action with its outcome, and `apply_finished` (counts, state serial) or `apply_refused` (a stale
or unsafe plan: nothing was written). Lines are flushed as they happen, so a crash keeps every
outcome reported before it; a line cut short by a crash is skipped when the log is read.

What the SCIM target changed and why, kept where an auditor can read it without the CI logs of
the day. Only what the plan already shows is written: keys, ids, userNames and outcome messages,
never a token.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reconciler.apply import ApplyResult, Outcome
from reconciler.config.yamlio import ensure_private_dir
from reconciler.errors import ReconcilerError
from reconciler.plan import Plan
from reconciler.state.git import run_url

log = logging.getLogger(__name__)

AUDIT_DIR = Path(".reconcile") / "audit"


def audit_file(root: Path, target: str) -> Path:
    return root / AUDIT_DIR / f"{target}.jsonl"


def actor(env: Mapping[str, str]) -> str:
    """Who ran it: the GitHub user in Actions, else the local login."""
    if env.get("GITHUB_ACTOR"):
        return f"github:{env['GITHUB_ACTOR']}"
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"


class AuditLog:
    """The audit log of one apply of one plan; a context manager that closes the file."""

    def __init__(
        self, root: Path, plan: Plan, now: Callable[[], str], env: Mapping[str, str] | None = None
    ) -> None:
        self.plan = plan
        self.now = now
        self.env = os.environ if env is None else env
        self.path = audit_file(root, plan.target)
        self.broken: OSError | None = None
        try:  # before any write to the target: an apply that cannot be audited does not start
            ensure_private_dir(root / ".reconcile")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: TextIO = self.path.open("a", encoding="utf-8", newline="\n")
            if _ends_mid_line(self.path):  # a crash cut the last line short: start on a line of our own
                self._fh.write("\n")
        except OSError as exc:
            raise ReconcilerError(
                f"cannot write the audit log {self.path}: {exc.strerror or exc}; nothing was applied "
                "(fix the directory's permissions or free space, then apply again)"
            ) from None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            self._broke(exc)
        finally:
            try:
                self._fh.close()
            except OSError:
                pass

    def _write(self, event: str, **fields: Any) -> None:
        """One line, flushed. Once the apply runs, a failing disk must not stop it half-way:
        the failure is logged once and the rest of this log is skipped."""
        if self.broken is not None:
            return
        record = {"at": self.now(), "event": event, "target": self.plan.target, "plan": self.plan.checksum, **fields}
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            self._fh.flush()
        except OSError as exc:
            self._broke(exc)

    def _broke(self, exc: OSError) -> None:
        if self.broken is None:
            self.broken = exc
            log.warning("could not write the audit log %s (%s); the apply goes on, the rest of its log is lost",
                        self.path, exc.strerror or exc)

    def started(self) -> None:
        d = self.plan.desired
        self._write("apply_started", actor=actor(self.env), run=run_url(self.env), commit=d.commit,
                    dirty=d.dirty, desired=d.digest, actions=len(self.plan.actions), url=self.plan.connection.url)

    def outcome(self, o: Outcome) -> None:
        self._write("action", kind=o.kind, key=o.key, id=o.scim_id, label=o.label, status=o.status,
                    message=o.message or None)

    def finished(self, result: ApplyResult) -> None:
        totals = {s: sum(1 for o in result.outcomes if o.status == s) for s in ("ok", "failed", "skipped")}
        self._write("apply_finished", state_serial=result.state_serial, **totals)

    def refused(self, reason: str) -> None:
        """Stopped before any write (a stale or unsafe plan, an unreadable target)."""
        self._write("apply_refused", reason=reason)

    def aborted(self, reason: str) -> None:
        """Stopped part-way: the action lines before this one say what was done."""
        self._write("apply_aborted", reason=reason)


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


@dataclass(frozen=True)
class AuditRecords:
    records: tuple[dict[str, Any], ...]
    damaged: int
    """Lines that are not JSON objects (a line cut short by a crash)."""


def read_audit(path: Path) -> AuditRecords:
    records: list[dict[str, Any]] = []
    damaged = 0
    for line in _lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            damaged += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            damaged += 1
    return AuditRecords(tuple(records), damaged)


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                yield line


def matches(record: Mapping[str, Any], *, since: str | None, key: str | None) -> bool:
    if since is not None and str(record.get("at", "")) < since:
        return False
    if key is not None:
        wanted = key.casefold()
        return any(str(record.get(f) or "").casefold() == wanted for f in ("key", "id", "label"))
    return True


def render_record(r: Mapping[str, Any]) -> str:
    head = f"{r.get('at', '?')}  {r.get('target', '?')}"
    event = r.get("event")
    if event == "apply_started":
        where = f" commit {str(r['commit'])[:12]}" if r.get("commit") else ""
        run = f" ({r['run']})" if r.get("run") else ""
        return f"{head}  apply by {r.get('actor')} of plan {str(r.get('plan'))[:19]}…{where}: {r.get('actions')} action(s){run}"
    if event == "action":
        msg = f" ({r['message']})" if r.get("message") else ""
        return f"{head}    {r.get('status', '?'):<8}{r.get('kind')} {r.get('label')}{msg}"
    if event == "apply_finished":
        return (f"{head}  finished: {r.get('ok', 0)} ok, {r.get('failed', 0)} failed, "
                f"{r.get('skipped', 0)} skipped; state serial {r.get('state_serial')}")
    if event == "apply_refused":
        return f"{head}  refused, nothing written: {r.get('reason')}"
    if event == "apply_aborted":
        return f"{head}  aborted part-way (the lines above say what was done): {r.get('reason')}"
    return f"{head}  {event}"
