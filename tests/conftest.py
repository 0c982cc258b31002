"""Shared fixtures. Real servers live in tests/servers/ and are registered here as plugins."""

pytest_plugins = [
    "tests.servers.scim2_fixture",
    "tests.servers.bitwarden_fixture",
]
