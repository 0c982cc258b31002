"""Start the django-scim2 test server on loopback:

    DJANGO_SCIM_TOKEN=... python -m tests.servers.django_scim --port 18200 [--db FILE]
"""

import argparse
import os
import sys
import tempfile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18200)
    ap.add_argument("--db", default=os.path.join(tempfile.mkdtemp(), "scim.sqlite3"))
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.servers.django_scim.settings")
    os.environ["DJANGO_SCIM_DB"] = args.db
    if not os.environ.get("DJANGO_SCIM_TOKEN"):
        sys.exit("set DJANGO_SCIM_TOKEN")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["django", "migrate", "--run-syncdb", "--verbosity", "0"])
    print(f"Serving django-scim2 on http://127.0.0.1:{args.port}/scim/v2", flush=True)
    execute_from_command_line(["django", "runserver", f"127.0.0.1:{args.port}", "--noreload", "--verbosity", "0"])


if __name__ == "__main__":
    main()
