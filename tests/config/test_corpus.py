"""The bad-input corpus: every malformed project gives exit 1 and exactly its golden, located
message (tests/corpus/<case>/expected.txt), never a traceback.

Regenerate goldens after an intended message change with: pytest tests/config/test_corpus.py --update-goldens
(then review the diff: the goldens are the user-facing contract).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
LOCATED = re.compile(r"^(desired-state|policies)/[\w./-]+:\d+:\d+: ", re.M)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_reported_with_location(case: str, request: pytest.FixtureRequest) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["validate", "--root", str(CORPUS / case)], env={"APP_TOKEN": "set"}, catch_exceptions=False
    )
    output = result.stderr + result.stdout if hasattr(result, "stderr") else result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert LOCATED.search(output), f"no file:line:column in:\n{output}"
    golden = CORPUS / case / "expected.txt"
    if request.config.getoption("--update-goldens"):
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")
