"""A stand-in for the GitHub REST API: the few endpoints `reconcile github` uses, on 127.0.0.1.

Standard library only (http.server in a thread). Invariants that make it a fair oracle:
* Authentication as GitHub does it: `Authorization: Bearer|token <token>`; an unknown token is
  401 "Bad credentials"; a read-only token (a fork's pull request) gets 403 "Resource not
  accessible by integration" on every write.
* Lists are paginated with `page`/`per_page` and `Link` headers, and `max_per_page` can be made
  tiny so that every client loop is exercised.
* Issue and pull request numbers share one sequence, and the issues list includes pull
  requests (with a `pull_request` key), as on GitHub.
* The artifact download answers 302 to a *second* listener (another origin, like blob storage),
  which refuses any request that carries an Authorization header and records each request.

Inspection: `StandIn.repo(full_name)` is the live in-memory model (comments, issues, pulls,
runs, artifacts); `StandIn.requests` logs every API request (method, path, query, whether it
was authenticated); `GET /_standin/state` returns the model as JSON for out-of-process checks.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

NOW = "2026-07-01T12:00:00Z"


@dataclass
class TokenInfo:
    login: str
    write: bool


@dataclass
class Repo:
    full_name: str
    visibility: str = "private"
    default_branch: str = "main"
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Issues and pull requests, by number (pull requests carry a `pull_request` key)."""
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[int, bytes] = field(default_factory=dict)

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return self.comments.setdefault(number, [])

    def open_issues(self, label: str | None = None) -> list[dict[str, Any]]:
        return [
            i for i in self.issues.values()
            if "pull_request" not in i and i["state"] == "open"
            and (label is None or label in [x["name"] for x in i["labels"]])
        ]  # fmt: skip


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    authenticated: bool
    status: int = 0


class StandIn:
    """The server. Use `with StandIn.running() as gh:`; `gh.url` is the API base URL."""

    def __init__(self, *, max_per_page: int = 100, drop_labels: bool = False) -> None:
        self.max_per_page = max_per_page
        self.drop_labels = drop_labels
        """GitHub drops the labels of a new issue silently when the token may not set them."""
        self.tokens: dict[str, TokenInfo] = {}
        self.repos: dict[str, Repo] = {}
        self.requests: list[Logged] = []
        self.blob_requests: list[dict[str, Any]] = []
        self.faults: list[tuple[str, str, int, dict[str, str]]] = []
        self._lock = threading.RLock()
        self._ids = 1000
        self._api: ThreadingHTTPServer | None = None
        self._blob: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    @contextmanager
    def running(cls, **kwargs: Any) -> Iterator[StandIn]:
        s = cls(**kwargs)
        s.start()
        try:
            yield s
        finally:
            s.stop()

    def start(self) -> None:
        self._api = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, api=True))
        self._blob = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, api=False))
        for srv in (self._api, self._blob):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def stop(self) -> None:
        for srv in (self._api, self._blob):
            if srv is not None:
                srv.shutdown()
                srv.server_close()

    @property
    def url(self) -> str:
        assert self._api is not None
        return f"http://127.0.0.1:{self._api.server_address[1]}"

    @property
    def blob_url(self) -> str:
        assert self._blob is not None
        return f"http://127.0.0.1:{self._blob.server_address[1]}"

    # -- set-up helpers (what GitHub would know) ------------------------------------------------

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def inject(self, method: str, path_contains: str, status: int, headers: Mapping[str, str] | None = None) -> None:
        """The next matching request gets `status` (once), before any other processing."""
        self.faults.append((method, path_contains, status, dict(headers or {})))

    def add_token(self, token: str, *, login: str = "github-actions[bot]", write: bool = True) -> None:
        self.tokens[token] = TokenInfo(login, write)

    def add_repo(self, full_name: str, *, visibility: str = "private") -> Repo:
        repo = Repo(full_name, visibility)
        self.repos[full_name] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def _number(self, repo: Repo) -> int:
        return max([0, *repo.issues]) + 1

    def add_pull(
        self, full_name: str, *, head_sha: str, head_repo: str | None = None, head_ref: str = "feature",
        base: str = "main", author: str = "octocat",
    ) -> int:  # fmt: skip
        """A pull request. `head_repo`: None = this repository, "" = a deleted fork, else a fork."""
        with self._lock:
            repo = self.repos[full_name]
            number = self._number(repo)
            repo.issues[number] = {
                "number": number, "title": f"PR {number}", "body": "", "state": "open", "labels": [],
                "user": {"login": author}, "pull_request": {"url": f"/repos/{full_name}/pulls/{number}"},
                "html_url": f"https://github.example/{full_name}/pull/{number}",
            }  # fmt: skip
            repo.pulls[number] = {
                "number": number, "state": "open", "merged_at": None, "merge_commit_sha": None,
                "html_url": f"https://github.example/{full_name}/pull/{number}",
                "head": {"sha": head_sha, "ref": head_ref,
                         "repo": {"full_name": head_repo or full_name} if head_repo != "" else None},
                "base": {"ref": base, "repo": {"full_name": full_name}},
            }  # fmt: skip
            return number

    def set_head(self, full_name: str, number: int, head_sha: str) -> None:
        self.repos[full_name].pulls[number]["head"]["sha"] = head_sha

    def merge_pull(self, full_name: str, number: int, merge_commit_sha: str) -> None:
        with self._lock:
            repo = self.repos[full_name]
            pr = repo.pulls[number]
            pr.update(state="closed", merged_at=NOW, merge_commit_sha=merge_commit_sha)
            repo.issues[number]["state"] = "closed"

    def add_run(
        self, full_name: str, *, workflow: str, head_sha: str, event: str = "pull_request",
        head_repo: str | None = None, status: str = "in_progress", conclusion: str | None = None,
        run_id: int | None = None,
    ) -> int:  # fmt: skip
        with self._lock:
            repo = self.repos[full_name]
            rid = run_id or self.next_id()
            number = len(repo.runs) + 1
            repo.runs[rid] = {
                "id": rid, "run_number": number, "run_attempt": 1, "event": event, "head_sha": head_sha,
                "status": status, "conclusion": conclusion, "path": f".github/workflows/{workflow}",
                "head_repository": {"full_name": head_repo or full_name},
                "created_at": f"2026-07-01T12:{number // 60:02d}:{number % 60:02d}Z",
                "html_url": f"https://github.example/{full_name}/actions/runs/{rid}",
            }  # fmt: skip
            return rid

    def finish_run(self, full_name: str, run_id: int, conclusion: str) -> None:
        self.repos[full_name].runs[run_id].update(status="completed", conclusion=conclusion)

    def add_artifact(self, full_name: str, run_id: int, name: str, data: bytes, *, expired: bool = False) -> int:
        with self._lock:
            repo = self.repos[full_name]
            aid = self.next_id()
            repo.artifacts[aid] = {
                "id": aid, "name": name, "size_in_bytes": len(data), "expired": expired, "run_id": run_id,
                "created_at": f"2026-07-01T13:00:{len(repo.artifacts):02d}Z",
            }  # fmt: skip
            repo.blobs[aid] = data
            return aid

    def artifact_files(self, full_name: str, run_id: int, name: str) -> dict[str, bytes]:
        """The files in the newest artifact `name` of a run (for assertions)."""
        repo = self.repos[full_name]
        found = [a for a in repo.artifacts.values() if a["run_id"] == run_id and a["name"] == name]
        if not found:
            return {}
        aid = max(found, key=lambda a: a["id"])["id"]
        with zipfile.ZipFile(io.BytesIO(repo.blobs[aid])) as z:
            return {n: z.read(n) for n in z.namelist()}

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                name: {
                    "visibility": r.visibility, "issues": r.issues, "pulls": r.pulls,
                    "comments": {str(k): v for k, v in r.comments.items()}, "runs": r.runs,
                    "artifacts": r.artifacts,
                }
                for name, r in self.repos.items()
            }  # fmt: skip


def zip_dir(root: Path) -> bytes:
    """Zip a directory as actions/upload-artifact does (paths relative to it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(root).as_posix())
    return buf.getvalue()


# -- HTTP --------------------------------------------------------------------------------------

_R = r"(?P<repo>[^/]+/[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"^/repos/{_R}$"), "get_repo"),
    ("GET", re.compile(rf"^/repos/{_R}/issues/(?P<n>\d+)/comments$"), "list_comments"),
    ("POST", re.compile(rf"^/repos/{_R}/issues/(?P<n>\d+)/comments$"), "create_comment"),
    ("PATCH", re.compile(rf"^/repos/{_R}/issues/comments/(?P<id>\d+)$"), "update_comment"),
    ("GET", re.compile(rf"^/repos/{_R}/issues$"), "list_issues"),
    ("POST", re.compile(rf"^/repos/{_R}/issues$"), "create_issue"),
    ("PATCH", re.compile(rf"^/repos/{_R}/issues/(?P<n>\d+)$"), "update_issue"),
    ("GET", re.compile(rf"^/repos/{_R}/pulls/(?P<n>\d+)$"), "get_pull"),
    ("GET", re.compile(rf"^/repos/{_R}/commits/(?P<sha>[0-9a-fA-F]+)/pulls$"), "commit_pulls"),
    ("GET", re.compile(rf"^/repos/{_R}/actions/workflows/(?P<wf>[^/]+)/runs$"), "list_runs"),
    ("GET", re.compile(rf"^/repos/{_R}/actions/runs/(?P<id>\d+)/artifacts$"), "run_artifacts"),
    ("GET", re.compile(rf"^/repos/{_R}/actions/artifacts/(?P<id>\d+)/zip$"), "artifact_zip"),
]


class _Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _handler(server: StandIn, *, api: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
            raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
            self.send_response(status)
            ctype = "application/zip" if isinstance(body, bytes) else "application/json; charset=utf-8"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self, method: str) -> None:
            if not api:
                return self._blob(method)
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            token = _bearer(self.headers.get("Authorization", ""))
            entry = Logged(method, parts.path, query, token is not None)
            with server._lock:
                server.requests.append(entry)
            try:
                if method == "GET" and parts.path == "/_standin/state":
                    raise _Reply(200, server.state())
                with server._lock:
                    fault = next((f for f in server.faults if f[0] == method and f[1] in parts.path), None)
                    if fault is not None:
                        server.faults.remove(fault)
                if fault is not None:
                    raise _Reply(fault[2], {"message": f"injected {fault[2]}"}, fault[3])
                info = server.tokens.get(token or "")
                if info is None:
                    raise _Reply(401, {"message": "Bad credentials"})
                for m, pattern, name in ROUTES:
                    match = pattern.match(parts.path)
                    if match and m == method:
                        repo = server.repos.get(match.group("repo"))
                        if repo is None:
                            raise _Reply(404, {"message": "Not Found"})
                        if method != "GET" and not info.write:
                            raise _Reply(403, {"message": "Resource not accessible by integration"})
                        body = json.loads(raw) if raw else {}
                        with server._lock:
                            getattr(_Api, name)(server, repo, info, match.groupdict(), query, body, self)
                if any(p.match(parts.path) for _, p, _ in ROUTES):
                    raise _Reply(404, {"message": "Not Found"})
                raise _Reply(404, {"message": f"the stand-in does not implement {method} {parts.path}"})
            except _Reply as reply:
                entry.status = reply.status
                self._send(reply.status, reply.body, reply.headers)

        def _blob(self, method: str) -> None:
            auth = self.headers.get("Authorization")
            server.blob_requests.append({"path": self.path, "authorization": auth is not None})
            if auth is not None:  # blob storage refuses a second authentication scheme
                return self._send(400, {"message": "unexpected Authorization header"})
            match = re.match(r"^/blobs/(?P<repo>[^/]+/[^/]+)/(?P<id>\d+)$", urlsplit(self.path).path)
            if method != "GET" or not match or match.group("repo") not in server.repos:
                return self._send(404, {"message": "no such blob"})
            data = server.repos[match.group("repo")].blobs.get(int(match.group("id")))
            if data is None:
                return self._send(404, {"message": "no such blob"})
            self._send(200, data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") and value.strip() else None


def _page(server: StandIn, handler: BaseHTTPRequestHandler, items: list[Any], query: dict[str, list[str]],
          key: str | None = None) -> None:  # fmt: skip
    per = min(int(query.get("per_page", ["30"])[0]), 100, server.max_per_page)
    page = max(int(query.get("page", ["1"])[0]), 1)
    chunk = items[(page - 1) * per : page * per]
    headers = {}
    if page * per < len(items):
        q = {k: v[0] for k, v in query.items()}
        q["page"] = str(page + 1)
        path = urlsplit(handler.path).path
        headers["Link"] = f'<{server.url}{path}?{urlencode(q)}>; rel="next"'
    body: Any = {"total_count": len(items), key: chunk} if key else chunk
    raise _Reply(200, body, headers)


class _Api:
    """One static method per route: (server, repo, token, path params, query, json body, handler)."""

    @staticmethod
    def get_repo(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        raise _Reply(200, {"full_name": r.full_name, "private": r.visibility != "public",
                           "visibility": r.visibility, "default_branch": r.default_branch})

    @staticmethod
    def list_comments(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        n = int(p["n"])
        if n not in r.issues:
            raise _Reply(404, {"message": "Not Found"})
        _page(s, h, sorted(r.comments_on(n), key=lambda c: c["id"]), q)

    @staticmethod
    def create_comment(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        n = int(p["n"])
        if n not in r.issues:
            raise _Reply(404, {"message": "Not Found"})
        _check_body(b)
        cid = s.next_id()
        c = {"id": cid, "body": b["body"], "user": {"login": t.login},
             "html_url": f"https://github.example/{r.full_name}/issues/{n}#issuecomment-{cid}",
             "created_at": NOW, "updated_at": NOW, "issue_number": n}
        r.comments_on(n).append(c)
        raise _Reply(201, c)

    @staticmethod
    def update_comment(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        cid = int(p["id"])
        for comments in r.comments.values():
            for c in comments:
                if c["id"] == cid:
                    if c["user"]["login"] != t.login:
                        raise _Reply(403, {"message": "Must have admin rights to Repository."})
                    _check_body(b)
                    c["body"] = b["body"]
                    c["updated_at"] = NOW
                    raise _Reply(200, c)
        raise _Reply(404, {"message": "Not Found"})

    @staticmethod
    def list_issues(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        state = q.get("state", ["open"])[0]
        labels = [x for x in q.get("labels", [""])[0].split(",") if x]
        creator = q.get("creator", [None])[0]
        items = [
            i for n, i in sorted(r.issues.items(), reverse=True)
            if (state == "all" or i["state"] == state)
            and all(lbl in [x["name"] for x in i["labels"]] for lbl in labels)
            and (creator is None or i["user"]["login"] == creator)
        ]  # fmt: skip
        _page(s, h, items, q)

    @staticmethod
    def create_issue(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        _check_body(b)
        if not b.get("title"):
            raise _Reply(422, {"message": "Validation Failed: title is missing"})
        n = s._number(r)
        issue = {"number": n, "title": b["title"], "body": b["body"], "state": "open", "state_reason": None,
                 "labels": [] if s.drop_labels else [{"name": x} for x in b.get("labels", [])],
                 "user": {"login": t.login},
                 "html_url": f"https://github.example/{r.full_name}/issues/{n}"}
        r.issues[n] = issue
        raise _Reply(201, issue)

    @staticmethod
    def update_issue(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        n = int(p["n"])
        issue = r.issues.get(n)
        if issue is None or "pull_request" in issue:
            raise _Reply(404, {"message": "Not Found"})
        if "body" in b:
            _check_body(b)
        for k in ("title", "body", "state", "state_reason"):
            if k in b:
                issue[k] = b[k]
        raise _Reply(200, issue)

    @staticmethod
    def get_pull(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        pr = r.pulls.get(int(p["n"]))
        if pr is None:
            raise _Reply(404, {"message": "Not Found"})
        raise _Reply(200, pr)

    @staticmethod
    def commit_pulls(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        sha = p["sha"]
        items = [pr for pr in r.pulls.values() if sha in (pr["merge_commit_sha"], pr["head"]["sha"])]
        _page(s, h, items, q)

    @staticmethod
    def list_runs(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        wf = p["wf"]
        runs = [x for x in r.runs.values() if x["path"].rsplit("/", 1)[-1] == wf]
        for key in ("head_sha", "event"):
            if key in q:
                runs = [x for x in runs if x[key] == q[key][0]]
        if "status" in q:
            want = q["status"][0]
            runs = [x for x in runs if want in (x["status"], x["conclusion"])]
        _page(s, h, sorted(runs, key=lambda x: x["id"], reverse=True), q, key="workflow_runs")

    @staticmethod
    def run_artifacts(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        rid = int(p["id"])
        if rid not in r.runs:
            raise _Reply(404, {"message": "Not Found"})
        items = [a for a in r.artifacts.values() if a["run_id"] == rid]
        if "name" in q:
            items = [a for a in items if a["name"] == q["name"][0]]
        _page(s, h, sorted(items, key=lambda a: a["id"]), q, key="artifacts")

    @staticmethod
    def artifact_zip(s: StandIn, r: Repo, t: TokenInfo, p: dict[str, str], q: Any, b: Any, h: Any) -> None:
        a = r.artifacts.get(int(p["id"]))
        if a is None:
            raise _Reply(404, {"message": "Not Found"})
        if a["expired"]:
            raise _Reply(410, {"message": "Artifact has expired"})
        raise _Reply(302, None, {"Location": f"{s.blob_url}/blobs/{r.full_name}/{a['id']}"})


def _check_body(b: Any) -> None:
    if not isinstance(b, dict) or not isinstance(b.get("body"), str):
        raise _Reply(422, {"message": "Validation Failed: body is missing"})
    if len(b["body"]) > 65536:
        raise _Reply(422, {"message": "Validation Failed: body is too long (maximum is 65536 characters)"})
