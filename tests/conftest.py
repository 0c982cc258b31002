"""Shared fixtures. Real servers live in tests/servers/ and are registered here as plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

_SERVERS = Path(__file__).parent / "servers"
pytest_plugins = [
    f"tests.servers.{name}"
    for name in ("scim2_fixture", "bitwarden_fixture", "django_fixture")
    if (_SERVERS / f"{name}.py").exists()
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite golden files (corpus messages, scenario plans) from the current output.",
    )
