"""Import time for 10,000 accounts on scim2-server (and the bare read of the same pages).

    .venv/bin/python benchmarks/import_speed.py [--users 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from click.testing import CliRunner  # noqa: E402

from benchmarks.plan_apply import TOKEN, bare_read, user_body  # noqa: E402
from reconciler.cli import cli  # noqa: E402
from tests.scim.helpers import bulk_create_users  # noqa: E402
from tests.servers.scim2_fixture import start_scim2_server, stop_process  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=10_000)
    args = ap.parse_args()
    server = start_scim2_server(TOKEN)
    try:
        base = server.tenant_url("imp")
        bulk_create_users(base, TOKEN, [user_body(i) for i in range(args.users)])
        root = Path(tempfile.mkdtemp())
        (root / "policies").mkdir()
        (root / "desired-state").mkdir()
        (root / "policies" / "app.yaml").write_text(
            f"target: app\nconnection: {{url: '{base}', token_env: BENCH_TOKEN}}\n")
        w = time.perf_counter()
        bare_read(base, "/Users")
        bare_read(base, "/Groups")
        floor = time.perf_counter() - w
        w, c = time.perf_counter(), time.process_time()
        r = CliRunner().invoke(cli, ["import", "--target", "app", "--root", str(root)], env={**os.environ, "BENCH_TOKEN": TOKEN})
        took, cpu = time.perf_counter() - w, time.process_time() - c
        assert r.exit_code == 0, r.output
        size = (root / "desired-state" / "imported-app.yaml").stat().st_size
        print(f"import of {args.users} accounts: {took:.2f} s wall ({cpu:.2f} s CPU), {size / 1e6:.1f} MB of YAML; "
              f"bare read of the same pages {floor:.2f} s; ratio {took / floor:.2f}x")
    finally:
        stop_process(server.process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
