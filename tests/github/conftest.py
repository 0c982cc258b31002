"""Fixtures for the GitHub integration: the REST stand-in and a CLI runner for `reconcile github`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.github.commands import github
from tests.github.standin import StandIn

REPO = "acme/members"
TOKEN = "ghs_TESTtoken-" + "7" * 24 + "-do-not-leak"
READ_ONLY_TOKEN = "ghs_FORKtoken-" + "3" * 24 + "-do-not-leak"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn.running(max_per_page=2) as s:
        s.add_token(TOKEN)
        s.add_token(READ_ONLY_TOKEN, write=False)
        s.add_repo(REPO)
        yield s


@dataclass
class GhCli:
    """Runs `reconcile github ...` in-process with a runner's GITHUB_* environment."""

    standin: StandIn
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.standin.url,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_RUN_NUMBER": "17",
            "GITHUB_SHA": "a" * 40,
            "GITHUB_ACTIONS": "",
            "RECONCILE_REDACT": "",
        }

    def __call__(self, *args: str, expect: int = 0, env: Mapping[str, str] | None = None) -> Result:
        result = CliRunner().invoke(github, list(args), env={**self.env, **(env or {})}, catch_exceptions=False)
        self.outputs.append(result.output)
        assert result.exit_code == expect, f"{args} -> {result.exit_code}\n{result.output}"
        return result

    def body(self, text: str, name: str = "body.md") -> str:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        return str(path)


@pytest.fixture
def gh(standin: StandIn, tmp_path: Path) -> Iterator[GhCli]:
    cli = GhCli(standin, tmp_path)
    yield cli
    for out in cli.outputs:  # no command ever shows a token
        assert TOKEN not in out and READ_ONLY_TOKEN not in out and "do-not-leak" not in out
