"""Start the django-scim2 0.23 test server (sqlite) on loopback:

    DJANGO_SCIM_TOKEN=secret .venv/bin/python -m tests.servers.django_scim [--port 18200] [--db FILE]

Base URL http://127.0.0.1:PORT/scim/v2, bearer token $DJANGO_SCIM_TOKEN. Without --db the data
lives in a temporary sqlite file removed on exit; with --db it is kept and reused. Tables are
created (`migrate --run-syncdb`) before serving. Stop it with Ctrl-C or SIGTERM.
"""

import argparse
import os
import signal
import sys
import tempfile


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.servers.django_scim", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=18200)
    ap.add_argument("--db", help="sqlite file (default: a temporary one, removed on exit)")
    args = ap.parse_args()
    if not os.environ.get("DJANGO_SCIM_TOKEN"):
        sys.exit("set DJANGO_SCIM_TOKEN to the bearer token clients must send")
    # SIGTERM (the test fixture's stop) unwinds like Ctrl-C, so the temporary database goes too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="django-scim-") as tmp:
        os.environ["DJANGO_SCIM_DB"] = args.db or os.path.join(tmp, "scim.sqlite3")
        os.environ["DJANGO_SCIM_NETLOC"] = f"127.0.0.1:{args.port}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.servers.django_scim.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(["django", "migrate", "--run-syncdb", "--verbosity", "0"])
        print(f"Serving django-scim2 on http://127.0.0.1:{args.port}/scim/v2", flush=True)
        try:
            execute_from_command_line(
                ["django", "runserver", f"127.0.0.1:{args.port}", "--noreload", "--verbosity", "0"]
            )
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
