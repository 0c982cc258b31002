#!/usr/bin/env bash
# Every benchmark, one after the other (about 5 minutes on 2 cores). Not part of the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY benchmarks/plan_apply.py          # P1, P2, P4
$PY benchmarks/offline_plan.py        # P3
$PY benchmarks/import_speed.py        # import of 10,000 accounts
$PY benchmarks/read_speed.py          # fetch_live vs a bare httpx loop
