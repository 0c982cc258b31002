"""Process-wide settings (reconciler.runtime): the plan command's pause of cycle collection."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.runtime import no_cycle_collection


def test_collection_is_paused_inside_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with no_cycle_collection():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with no_cycle_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_plan_command_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    # a failing plan (no project here) must not leave collection off for the rest of the process
    result = CliRunner().invoke(cli, ["plan", "--root", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert gc.isenabled()


def test_the_plan_command_runs_with_collection_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    import reconciler.workflow
    from reconciler.errors import ReconcilerError

    seen: list[bool] = []

    def spy(*args: object, **kwargs: object) -> None:
        seen.append(gc.isenabled())
        raise ReconcilerError("stop here")

    monkeypatch.setattr(reconciler.workflow, "plan_target", spy)
    root = Path(__file__).resolve().parent.parent  # the example project
    result = CliRunner().invoke(cli, ["plan", "--root", str(root), "--target", "wiki"])
    assert result.exit_code == 1 and "stop here" in result.output, result.output
    assert seen == [False] and gc.isenabled()
