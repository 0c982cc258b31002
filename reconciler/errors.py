"""The one error tree of the reconciler, and the located diagnostics it carries.

    ReconcilerError                 every expected failure; the CLI prints it and exits 1
    ├── ConfigError                 bad desired-state or policy files: a list of Diagnostics
    ├── ScimError                   a SCIM request failed (status, scimType, detail, method, path)
    │   ├── ScimTransportError      no usable HTTP answer (connect error, timeout, retries spent)
    │   │   └── AmbiguousRequestError   a non-idempotent write (POST) may or may not have happened
    │   ├── ReadOnlyViolation       a write attempted through a read-only client (plan)
    │   └── PartialReadError        a listing ended short of totalResults; never plan from it
    ├── UnsafePlanError             safety rails tripped at plan time
    ├── StalePlanError              the world moved since the plan was made
    ├── PlanFormatError             the plan file is unreadable, altered or of another version
    └── StateError                  the state store is unreadable, locked or lost a race

No message, repr or traceback of any of these may contain a secret: tokens never reach them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class SourceRef:
    """A position in a file: 1-based line and column, as editors show them."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the input: what, where, and how to fix it."""

    message: str
    where: SourceRef | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        prefix = f"{self.where}: " if self.where is not None else ""
        label = "" if self.severity is Severity.ERROR else "warning: "
        text = f"{prefix}{label}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        w = self.where or SourceRef("")
        return (w.file, w.line, w.column, self.message)


class ReconcilerError(Exception):
    """Root of every expected error. `str(err)` is a complete message for a human."""

    def diagnostics(self) -> list[Diagnostic]:
        return [Diagnostic(str(self))]


class ConfigError(ReconcilerError):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self._diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        errors = [d for d in self._diagnostics if d.severity is Severity.ERROR]
        super().__init__(f"{len(errors)} error(s) in the configuration")

    def diagnostics(self) -> list[Diagnostic]:
        return list(self._diagnostics)

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self._diagnostics)


class ScimError(ReconcilerError):
    """A SCIM request failed. `status` is the HTTP status (or the body's, when it differs)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        scim_type: str | None = None,
        detail: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.method = method
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else "SCIM request failed"]
        if self.method and self.path:
            parts.append(f"({self.method} {self.path}")
            parts[-1] += f" -> {self.status})" if self.status is not None else ")"
        if self.scim_type:
            parts.append(f"scimType={self.scim_type}")
        if self.detail:
            parts.append(f"detail: {self.detail}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ScimTransportError(ScimError):
    """No usable HTTP answer: connection refused, timeout, or retries exhausted."""


class AmbiguousRequestError(ScimTransportError):
    """A POST was sent but no clear answer came back (timeout, dropped connection, 502/504).

    The server may have performed it. It is never retried blindly: the caller resolves it by
    looking the resource up (e.g. by externalId) before deciding to create it again.
    """


class ReadOnlyViolation(ScimError):
    """A write was attempted through a read-only client. This is a bug, never a user error."""


class PartialReadError(ScimError):
    """A listing ended before totalResults: planning removals from it would be unsafe."""


class UnsafePlanError(ReconcilerError):
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("plan is unsafe: " + "; ".join(self.reasons))


class StalePlanError(ReconcilerError):
    def __init__(self, what_moved: list[str]) -> None:
        self.what_moved = list(what_moved)
        super().__init__("plan is stale: " + "; ".join(self.what_moved) + "; run plan again")


class PlanFormatError(ReconcilerError):
    pass


class StateError(ReconcilerError):
    pass


@dataclass
class DiagnosticBag:
    """Collects diagnostics so that every problem is reported at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, where: SourceRef | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(message, where, hint, Severity.ERROR))

    def warning(self, message: str, where: SourceRef | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(message, where, hint, Severity.WARNING))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ConfigError(self.items)
