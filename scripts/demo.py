"""The README's first command, after setup: run the main job on the example data.

Targets whose URL variables are set are used as they are. Otherwise a local server is started on
127.0.0.1 for each: scim2-server 0.8.3 (a real RFC 7644 server) for generic targets, and the
Bitwarden test server of this repository for Bitwarden targets. The example project is copied
to .reconcile/demo/ so that the demo's state never mixes with a real target's state.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".reconcile" / "demo"
BIN = Path(sys.executable).parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"demo server exited early ({url})")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"demo server did not start ({url})")


def reconcile(*args: str, env: dict[str, str], check: bool = True) -> int:
    print(f"\n$ reconcile {' '.join(args)}", flush=True)
    rc = subprocess.run([str(BIN / "reconcile"), *args], env=env, cwd=ROOT).returncode
    if check and rc not in (0, 2):
        raise SystemExit(rc)
    return rc


def main() -> int:
    env = dict(os.environ)
    procs: list[subprocess.Popen[bytes]] = []
    local: list[str] = []  # targets served by a demo server: only these are applied
    try:
        if not env.get("WIKI_SCIM_URL"):
            port, token = free_port(), "demo-" + secrets.token_hex(8)
            procs.append(p := subprocess.Popen(
                [str(BIN / "scim2-server"), "--hostname", "127.0.0.1", "--port", str(port), "--bearer-token", token],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait(f"http://127.0.0.1:{port}/v2/ServiceProviderConfig", p)
            env["WIKI_SCIM_URL"], env["WIKI_SCIM_TOKEN"] = f"http://127.0.0.1:{port}/v2", token
            print(f"wiki: no WIKI_SCIM_URL set, using a local scim2-server on port {port}")
            local.append("wiki")
        if not env.get("BITWARDEN_SCIM_URL"):
            port, token, org = free_port(), "demo-" + secrets.token_hex(8), "8f4c6a52-1e2b-4c3d-9a8b-7c6d5e4f3a21"
            procs.append(p := subprocess.Popen(
                [sys.executable, "-m", "tests.servers.bitwarden", "--port", str(port), "--org", org, "--token", token],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            url = f"http://127.0.0.1:{port}/v2/{org}"
            wait(url + "/Users?startIndex=1&count=1", p)
            env["BITWARDEN_SCIM_URL"], env["BITWARDEN_SCIM_TOKEN"] = url, token
            print(f"bitwarden: no BITWARDEN_SCIM_URL set, using the local Bitwarden test server on port {port}")
            local.append("bitwarden")
        if DEMO.exists():
            shutil.rmtree(DEMO)
        DEMO.mkdir(parents=True)
        for sub in ("desired-state", "policies", "schemas"):
            shutil.copytree(ROOT / sub, DEMO / sub)
        root = str(DEMO)
        reconcile("validate", "--root", root, env=env)
        reconcile("explain", "mallory@contractors.example.net", "--root", root, env=env)
        reconcile("test-connection", "--root", root, env=env)
        reconcile("plan", "--root", root, "--out", str(DEMO / "plans"), env=env)
        # a real target (its URL variable set) is only planned: the demo never changes it
        plans = sorted(str(DEMO / "plans" / f"{t}.plan.json") for t in local)
        if plans:
            reconcile("apply", *plans, "--root", root, env=env)
            for t in local:
                reconcile("plan", "--root", root, "--target", t, "--detailed-exitcode", env=env)
            print(f"\nThe second plan has no changes: {', '.join(local)} match the desired state.")
        skipped = sorted({"wiki", "bitwarden"} - set(local))
        if skipped:
            print(f"Not applied to {', '.join(skipped)} (a real target): review the plan, then "
                  f"`reconcile apply {DEMO / 'plans'}/<target>.plan.json --root {root}`.")
        return 0
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
