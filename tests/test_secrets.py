"""A distinctive token never appears in any output, plan, state or log — failing runs and
--debug included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.lifecycle.project import Project

TOKEN_MARK = "-do-not-leak"


@pytest.fixture
def project(tmp_path: Path, scim2_tenant: Any) -> Project:
    assert TOKEN_MARK in scim2_tenant.token
    p = Project(tmp_path, {"APP_URL": scim2_tenant.base_url, "APP_TOKEN": scim2_tenant.token}, "generic")
    p.write()
    return p


def everything_written(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_token_appears_nowhere(project: Project, scim2_tenant: Any) -> None:
    token = scim2_tenant.token
    outputs: list[str] = []
    runner = CliRunner()
    commands = [
        ["validate", "--root", "{root}"],
        ["--debug", "validate", "--root", "{root}"],
        ["explain", "ann@example.com", "--root", "{root}"],
        ["--debug", "test-connection", "--root", "{root}"],
        ["--debug", "plan", "--root", "{root}", "--out", "{root}/p.json", "--format", "json"],
        ["--debug", "show", "{root}/p.json", "--format", "markdown"],
        ["--debug", "apply", "{root}/p.json", "--root", "{root}"],
        ["--debug", "apply", "{root}/p.json", "--root", "{root}"],  # now stale: a failing run
        ["--debug", "state", "show", "--root", "{root}"],
        ["--debug", "plan", "--root", "{root}", "--detailed-exitcode"],
    ]
    for argv in commands:
        argv = [a.replace("{root}", str(project.root)) for a in argv]
        r = runner.invoke(cli, argv, env=project.env)
        outputs.append(r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    # failing connections: a wrong URL and a wrong token, with --debug
    for env in (
        {**project.env, "APP_URL": scim2_tenant.base_url.replace("/v2", "/nope/v2")},
        {**project.env, "APP_TOKEN": "wrong" + TOKEN_MARK + "-xyz"},
        {**project.env, "APP_URL": "http://127.0.0.1:9/v2"},
    ):
        for argv in (["--debug", "plan", "--root", str(project.root)], ["--debug", "test-connection", "--root", str(project.root)]):
            r = runner.invoke(cli, argv, env=env)
            assert r.exit_code == 1, r.output
            outputs.append(r.output)
    text = "\n".join(outputs) + everything_written(project.root)
    assert token not in text
    assert TOKEN_MARK not in text
    assert "Bearer scim2" not in text
