#!/usr/bin/env bash
# Set everything up, then run the main job on the example data in this repository.
# With no target configured (BITWARDEN_SCIM_URL / WIKI_SCIM_URL unset), a local scim2-server is
# started on 127.0.0.1 and used as the target, so a new user sees the whole pipeline in one step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
R=.venv/bin/reconcile
echo "== reconcile validate"
$R validate
echo
echo "== reconcile explain mallory@contractors.example.net (a contractor: out of the Bitwarden rule)"
$R explain mallory@contractors.example.net
