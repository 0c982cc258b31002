#!/usr/bin/env bash
# Set everything up, then run the main job on the example data in this repository: validate,
# explain, test-connection, plan, apply, and a second plan showing no changes. Targets whose
# URL variables are not set get a local server on 127.0.0.1 (scim2-server, or the Bitwarden
# test server for Bitwarden targets).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py
