"""Markdown bodies for PR comments, issues and job summaries. Pure functions.

Invariants:
* A body made by `compose` starts with exactly one hidden marker line, `<!-- NAME -->`, and
  `has_marker` recognises a body by that first line only (a quote of the marker further down
  does not count).
* A composed body never exceeds the limit it is given: it is cut at a line boundary, open code
  fences and `<details>` are closed, and a note says where the full text is.
* Redaction here masks e-mail addresses and the externalIds it is given; the plan renderer
  does its own, richer redaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from reconciler.render.common import Redactor

COMMENT_LIMIT = 65_000
"""GitHub refuses comment and issue bodies over 65,536 characters; keep a margin."""
SUMMARY_LIMIT = 1_000_000
"""A step summary may hold 1 MiB."""
_MARKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")

FAILED_BANNER = (
    "> [!CAUTION]\n"
    "> **This run failed**: the configuration is invalid, a target could not be read, or a plan is "
    "unsafe. What follows may be incomplete; the details are in {run}."
)


def check_marker(name: str) -> str:
    if not _MARKER.match(name):
        raise ValueError(f"a marker is letters, digits and '_.:-' (got {name!r})")
    return name


def marker_line(name: str) -> str:
    return f"<!-- {check_marker(name)} -->"


def has_marker(body: str, name: str) -> bool:
    first = body.lstrip("\ufeff").split("\n", 1)[0].strip()
    return first == marker_line(name)


def run_url(env: Mapping[str, str]) -> str | None:
    server, repo, run = (env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if not (server and repo and run.isdigit()):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run}"


def run_link(env: Mapping[str, str]) -> str:
    url = run_url(env)
    number = env.get("GITHUB_RUN_NUMBER", "")
    label = f"run #{number}" if number.isdigit() else "the run"
    return f"[{label}]({url})" if url else "the run log"


def head_sha(env: Mapping[str, str]) -> str:
    """The commit the run is about: a pull request's head (from the event), else GITHUB_SHA."""
    path = env.get("GITHUB_EVENT_PATH", "")
    if path:
        try:
            event = json.loads(Path(path).read_text(encoding="utf-8"))
            sha = event.get("pull_request", {}).get("head", {}).get("sha")
            if isinstance(sha, str) and sha:
                return sha
        except (OSError, ValueError, AttributeError):
            pass
    return env.get("GITHUB_SHA", "")


def footer(env: Mapping[str, str]) -> str:
    sha = head_sha(env)
    parts = ["reconcile", f"updated by {run_link(env)}"]
    if sha:
        parts.append(f"commit `{sha[:12]}`")
    return "<sub>" + " · ".join(parts) + "</sub>"


def compose(
    marker: str,
    body: str,
    env: Mapping[str, str],
    *,
    failed: bool = False,
    note: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """The full body: marker, optional failure banner, the text, an optional note, the footer."""
    head = [marker_line(marker)]
    if failed:
        head += [FAILED_BANNER.format(run=run_link(env)), ""]
    tail = [""]
    if note:
        tail += [f"_{note.strip()}_", ""]
    tail.append(footer(env))
    text = body.strip("\n")
    if not text:
        text = "_(no output)_"
    budget = limit - sum(len(x) + 1 for x in head + tail)
    return "\n".join([*head, fit(text, budget, where=run_link(env)), *tail]) + "\n"


def fit(text: str, limit: int, *, where: str = "the run log") -> str:
    """`text` if it fits in `limit` characters, else a cut at a line boundary, closed properly."""
    if len(text) <= limit:
        return text
    note = f"\n\n> ✂️ Cut to fit GitHub's size limit; the full text is in {where}."
    reserve = len(note) + 64
    if limit <= reserve:
        return note.strip()[:max(limit, 0)]
    kept: list[str] = []
    size = 0
    for line in text.split("\n"):
        if size + len(line) + 1 > limit - reserve:
            break
        kept.append(line)
        size += len(line) + 1
    closing: list[str] = []
    if sum(1 for x in kept if x.lstrip().startswith("```")) % 2:
        closing.append("```")
    opened = sum(x.count("<details") for x in kept) - sum(x.count("</details>") for x in kept)
    closing.extend(["</details>"] * max(opened, 0))
    return "\n".join(kept + closing) + note


def redact_text(text: str, *, keys: tuple[str, ...] = ()) -> str:
    """E-mail addresses masked; each of `keys` (externalIds) replaced by its stable short hash."""
    r = Redactor(True)
    out = r.email(text)
    for key in sorted(set(keys), key=len, reverse=True):
        if key:
            out = out.replace(key, r.key(key))
    return out
