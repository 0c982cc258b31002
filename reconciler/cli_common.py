"""What every command group shares: one error-to-exit-code mapping, secret scrubbing, --root.

Exit codes: 1 a ReconcilerError, 3 a bug, 130 interrupted. Every message that leaves here is
scrubbed of the values of token-like environment variables (defence in depth: tokens never
reach messages in the first place).
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.errors import ConfigError, Diagnostic, ReconcilerError, Severity

F = TypeVar("F", bound=Callable[..., Any])


def echo_diagnostics(diags: list[Diagnostic]) -> None:
    for d in diags:
        click.echo(scrub(d.render()), err=True)


def handle_errors(fn: F) -> F:
    """Map errors to exit codes once, for every command (pre-commit's error_handler)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            echo_diagnostics(exc.diagnostics())
            errors = sum(1 for d in exc.diagnostics() if d.severity is Severity.ERROR)
            click.echo(f"error: {errors} problem(s) found; nothing was changed", err=True)
            ctx.exit(1)
        except ReconcilerError as exc:
            click.echo(scrub(f"error: {exc}"), err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as exc:  # a bug: say so plainly, details only with --debug
            click.echo(
                f"internal error: {type(exc).__name__}: {scrub(str(exc))} "
                "(this is a bug in reconcile; rerun with --debug for details)",
                err=True,
            )
            if debug:
                click.echo(scrub(traceback.format_exc()), err=True)
            ctx.exit(3)

    return wrapper  # type: ignore[return-value]


def scrub(text: str) -> str:
    """Remove the values of every configured token variable from text (defence in depth)."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and ("TOKEN" in name.upper() or "SECRET" in name.upper()):
            text = text.replace(value, "***")
    return text


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = ()
        return True


root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project directory holding desired-state/ and policies/.",
)


