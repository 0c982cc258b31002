"""A small GitHub REST client (httpx) for the few endpoints the reconcile workflows use.

Invariants:
* The token is sent to the API origin only (`GITHUB_API_URL`). Pagination links to any other
  origin are refused; the artifact download's redirect (to blob storage) is followed by hand,
  by a separate client that has no Authorization header.
* No message, repr or exception raised here contains the token: every error text passes
  through `GitHub.scrub`, and the token is never part of a URL.
* List endpoints are read completely (`Link: rel="next"`); a short read is impossible.
* Only idempotent requests (GET, PATCH) are retried after an unclear failure; a POST is retried
  only when the connection was never made, so a comment or issue is never created twice.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Self

import httpx

from reconciler import __version__
from reconciler.errors import ReconcilerError

ENV_TOKEN = "GITHUB_TOKEN"
ENV_API = "GITHUB_API_URL"
ENV_REPOSITORY = "GITHUB_REPOSITORY"
DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_ARTIFACT_BYTES = 256 * 1024 * 1024
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PATCH"})


class GitHubError(ReconcilerError):
    """A GitHub API call failed; says which request and what GitHub answered."""

    def __init__(
        self, message: str, *, status: int | None = None, method: str | None = None, path: str | None = None
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        super().__init__(message)

    def __str__(self) -> str:
        text = str(self.args[0]) if self.args else "GitHub request failed"
        if self.method and self.path:
            text += f" ({self.method} {self.path}" + (f" -> {self.status})" if self.status is not None else ")")
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class GitHubSetupError(GitHubError):
    """The environment lacks what the client needs (token, repository, API URL)."""


class GitHubPermissionError(GitHubError):
    """401/403: the token may not do this (e.g. the read-only token of a fork's pull request)."""


class GitHubNotFoundError(GitHubError):
    """404/410: no such object, or it expired (artifacts)."""


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    url: str


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    author: str
    url: str
    state: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class PullRequest:
    number: int
    head_sha: str
    head_repo: str | None
    """`owner/name` of the head repository; None when the fork was deleted."""
    base_ref: str
    merged: bool
    merge_commit_sha: str | None
    url: str


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    head_sha: str
    event: str
    status: str
    conclusion: str | None
    head_repo: str | None
    path: str
    run_number: int
    run_attempt: int
    created_at: str
    url: str


@dataclass(frozen=True)
class Artifact:
    id: int
    name: str
    expired: bool
    created_at: str
    size: int


def _login(obj: Mapping[str, Any] | None) -> str:
    return str((obj or {}).get("login") or "")


def _comment(raw: Mapping[str, Any]) -> Comment:
    return Comment(int(raw["id"]), str(raw.get("body") or ""), _login(raw.get("user")), str(raw.get("html_url") or ""))


def _issue(raw: Mapping[str, Any]) -> Issue:
    labels = tuple(str(x.get("name", "")) if isinstance(x, Mapping) else str(x) for x in raw.get("labels") or ())
    return Issue(
        int(raw["number"]), str(raw.get("title") or ""), str(raw.get("body") or ""), _login(raw.get("user")),
        str(raw.get("html_url") or ""), str(raw.get("state") or ""), labels,
    )  # fmt: skip


def _pull(raw: Mapping[str, Any]) -> PullRequest:
    head = raw.get("head") or {}
    repo = head.get("repo") or None
    return PullRequest(
        number=int(raw["number"]),
        head_sha=str(head.get("sha") or ""),
        head_repo=str(repo["full_name"]) if repo else None,
        base_ref=str((raw.get("base") or {}).get("ref") or ""),
        merged=bool(raw.get("merged_at")),
        merge_commit_sha=raw.get("merge_commit_sha") or None,
        url=str(raw.get("html_url") or ""),
    )


def _run(raw: Mapping[str, Any]) -> WorkflowRun:
    repo = raw.get("head_repository") or None
    return WorkflowRun(
        id=int(raw["id"]),
        head_sha=str(raw.get("head_sha") or ""),
        event=str(raw.get("event") or ""),
        status=str(raw.get("status") or ""),
        conclusion=raw.get("conclusion") or None,
        head_repo=str(repo["full_name"]) if repo else None,
        path=str(raw.get("path") or ""),
        run_number=int(raw.get("run_number") or 0),
        run_attempt=int(raw.get("run_attempt") or 1),
        created_at=str(raw.get("created_at") or ""),
        url=str(raw.get("html_url") or ""),
    )


def _artifact(raw: Mapping[str, Any]) -> Artifact:
    return Artifact(
        int(raw["id"]), str(raw.get("name") or ""), bool(raw.get("expired")), str(raw.get("created_at") or ""),
        int(raw.get("size_in_bytes") or 0),
    )  # fmt: skip


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class GitHub:
    """One repository on one GitHub API. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        token: str,
        repository: str,
        api_url: str = DEFAULT_API,
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise GitHubSetupError(
                f"{ENV_TOKEN} is not set: give the step `env: {{{ENV_TOKEN}: ${{{{ github.token }}}}}}`"
            )
        if not _REPO.match(repository):
            raise GitHubSetupError(
                f"{ENV_REPOSITORY} must be 'owner/name' (got {repository!r}); GitHub Actions sets it on runners"
            )
        self.repository = repository
        self._token = token
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._timeout = timeout
        self._transport = transport
        base = api_url.rstrip("/") + "/"
        self._base = httpx.URL(base)
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise GitHubSetupError(f"{ENV_API} must be an http(s) URL (got {api_url!r})")
        self._http = httpx.Client(
            base_url=base,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"reconcile/{__version__}",
            },
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> GitHub:
        env = os.environ if env is None else env
        return cls(
            env.get(ENV_TOKEN, "").strip(),
            env.get(ENV_REPOSITORY, "").strip(),
            env.get(ENV_API, "").strip() or DEFAULT_API,
            **kwargs,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"GitHub({self.repository!r}, {str(self._base)!r})"

    def scrub(self, text: str) -> str:
        """The text with the token masked: the last line of defence for messages."""
        return text.replace(self._token, "***") if self._token else text

    # -- transport -----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        target = self._http.build_request(method, url, params=params, json=json).url
        if _origin(target) != _origin(self._base):
            raise GitHubError(f"refusing to send the token to another host ({target.host})", method=method)
        shown = target.path
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response = self._http.request(method, target, json=json)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if not last and (method in _IDEMPOTENT or never_sent):
                    self._sleep(float(attempt))
                    continue
                raise GitHubError(
                    self.scrub(f"no answer from the GitHub API: {type(exc).__name__}: {exc}"), method=method, path=shown
                ) from None
            if response.status_code in expect:
                return response
            wait = self._retry_after(response)
            retryable = response.status_code in _RETRY_STATUS and method in _IDEMPOTENT
            if not last and (wait is not None or retryable):
                self._sleep(wait if wait is not None else float(attempt))
                continue
            raise self._error(response, method, shown)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        """Seconds to wait for a rate limit (429, or 403 with Retry-After / no remaining calls)."""
        if response.status_code not in (403, 429):
            return None
        value = response.headers.get("retry-after", "")
        if value.isdigit():
            return min(float(value), 60.0)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return min(max(float(reset) - time.time(), 1.0), 60.0)
        return 5.0 if response.status_code == 429 else None

    def _error(self, response: httpx.Response, method: str, path: str) -> GitHubError:
        detail = ""
        try:
            body = response.json()
            if isinstance(body, Mapping):
                detail = str(body.get("message") or "")
        except ValueError:
            detail = ""
        status = response.status_code
        text = self.scrub(f"GitHub answered {status}" + (f": {detail}" if detail else ""))
        if status in (401, 403):
            return GitHubPermissionError(text, status=status, method=method, path=path)
        if status in (404, 410):
            return GitHubNotFoundError(text, status=status, method=method, path=path)
        return GitHubError(text, status=status, method=method, path=path)

    def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._request(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise GitHubError("GitHub answered with invalid JSON", status=response.status_code,
                              method=method, path=response.request.url.path) from None

    def _pages(self, url: str, params: Mapping[str, str | int], key: str | None = None) -> Iterator[Mapping[str, Any]]:
        """Every item of a list endpoint, following `Link: rel="next"` on the API origin."""
        next_url: str | None = url
        query: Mapping[str, str | int] | None = {**params, "per_page": 100}
        pages = 0
        while next_url is not None:
            response = self._request("GET", next_url, params=query)
            pages += 1
            if pages > 1000:
                raise GitHubError("more than 1000 pages: giving up", method="GET", path=url)
            try:
                body = response.json()
            except ValueError:
                raise GitHubError("GitHub answered with invalid JSON", method="GET", path=url) from None
            items = body.get(key, []) if key is not None and isinstance(body, Mapping) else body
            if not isinstance(items, list):
                raise GitHubError("GitHub answered with an unexpected shape", method="GET", path=url)
            yield from (x for x in items if isinstance(x, Mapping))
            next_url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    def _repo(self, suffix: str = "") -> str:
        return f"repos/{self.repository}{suffix}"

    # -- endpoints -----------------------------------------------------------------------------

    def repository_info(self) -> Mapping[str, Any]:
        data = self._json("GET", self._repo())
        if not isinstance(data, Mapping):
            raise GitHubError("GitHub answered with an unexpected shape", method="GET", path=self._repo())
        return data

    def visibility(self) -> str:
        """`public`, `private` or `internal`."""
        data = self.repository_info()
        value = data.get("visibility")
        if isinstance(value, str) and value:
            return value.lower()
        return "private" if data.get("private", True) else "public"

    def comments(self, number: int) -> list[Comment]:
        return [_comment(x) for x in self._pages(self._repo(f"/issues/{number}/comments"), {})]

    def create_comment(self, number: int, body: str) -> Comment:
        return _comment(self._json("POST", self._repo(f"/issues/{number}/comments"), json={"body": body}, expect=(201,)))

    def update_comment(self, comment_id: int, body: str) -> Comment:
        return _comment(self._json("PATCH", self._repo(f"/issues/comments/{comment_id}"), json={"body": body}))

    def issues(self, *, creator: str | None = None, label: str | None = None, state: str = "open") -> list[Issue]:
        """Issues (never pull requests), filtered by who opened them and/or a label."""
        params = {"state": state, **({"creator": creator} if creator else {}), **({"labels": label} if label else {})}
        items = self._pages(self._repo("/issues"), params)
        return [_issue(x) for x in items if "pull_request" not in x]

    def create_issue(self, *, title: str, body: str, labels: list[str]) -> Issue:
        payload = {"title": title, "body": body, "labels": labels}
        return _issue(self._json("POST", self._repo("/issues"), json=payload, expect=(201,)))

    def update_issue(self, number: int, **fields: str) -> Issue:
        return _issue(self._json("PATCH", self._repo(f"/issues/{number}"), json=fields))

    def pull(self, number: int) -> PullRequest:
        return _pull(self._json("GET", self._repo(f"/pulls/{number}")))

    def pulls_for_commit(self, sha: str) -> list[PullRequest]:
        return [_pull(x) for x in self._pages(self._repo(f"/commits/{sha}/pulls"), {})]

    def workflow_runs(self, workflow: str, **filters: str) -> list[WorkflowRun]:
        url = self._repo(f"/actions/workflows/{workflow}/runs")
        return [_run(x) for x in self._pages(url, filters, key="workflow_runs")]

    def run_artifacts(self, run_id: int, *, name: str) -> list[Artifact]:
        url = self._repo(f"/actions/runs/{run_id}/artifacts")
        return [_artifact(x) for x in self._pages(url, {"name": name}, key="artifacts")]

    def download_artifact(self, artifact_id: int, sink: IO[bytes], *, limit: int = MAX_ARTIFACT_BYTES) -> int:
        """Write the artifact's zip to `sink`; the redirect target never sees the token."""
        path = self._repo(f"/actions/artifacts/{artifact_id}/zip")
        response = self._request("GET", path, expect=(200, 302))
        if response.status_code == 200:
            data = response.content
            if len(data) > limit:
                raise GitHubError(f"artifact larger than {limit} bytes", method="GET", path=path)
            sink.write(data)
            return len(data)
        location = response.headers.get("location", "")
        if not location:
            raise GitHubError("artifact download redirect without a Location", status=302, method="GET", path=path)
        return self._fetch_blob(response.url.join(location), sink, limit, path)

    def _fetch_blob(self, url: httpx.URL, sink: IO[bytes], limit: int, shown: str) -> int:
        # A fresh client: no Authorization header, no cookies, nothing from the API client.
        with httpx.Client(timeout=self._timeout, transport=self._transport, follow_redirects=True) as plain:
            try:
                with plain.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise GitHubError(
                            f"artifact storage answered {response.status_code}", status=response.status_code,
                            method="GET", path=shown,
                        )  # fmt: skip
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise GitHubError(f"artifact larger than {limit} bytes", method="GET", path=shown)
                        sink.write(chunk)
                    return size
            except httpx.TransportError as exc:
                raise GitHubError(
                    self.scrub(f"artifact download failed: {type(exc).__name__}"), method="GET", path=shown
                ) from None
