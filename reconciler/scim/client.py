"""The SCIM 2.0 client: one httpx connection pool, one request function, complete paged reads.

Place in the pipeline: the network ends. `fetch_live` reads through a read-only client (`plan`
never holds a client that can write); `apply` writes through a writable one. Everything goes
through `ScimClient._send`, the single request function, which is where the read-only guard,
the concurrency bound, the per-method counters and the retry loop live.

Choices worth knowing (details at each place):
- Retries: a small hand-written loop (no stamina/tenacity dependency) with jittered exponential
  backoff, Retry-After honoured (seconds or HTTP date, capped), bounded by attempts and total time.
  Idempotent methods (GET, PUT, PATCH, DELETE) are retried after 429/500/502/503/504, connect
  errors, timeouts and dropped connections. POST is retried only when the server clearly refused it
  before doing anything (429, 503) or the connection was never made; a POST whose fate is unknown
  (timeout or dropped connection after sending, 502/504 from a gateway) raises
  AmbiguousRequestError so the caller looks the resource up instead of creating it twice.
- Paged reads always send startIndex and count, advance by the number of resources received
  (never by itemsPerPage: Bitwarden echoes the request), de-duplicate by id, and must reach
  totalResults with a stable total; otherwise PartialReadError (never plan removals from it).
- The token lives in one private attribute of a private httpx.Auth; reprs hide it, and every text
  that comes from outside (server details, transport errors) is scrubbed of it before it reaches
  an exception or a log line. Transport errors are raised `from None`: the httpx exception's own
  text (scrubbed) is kept in `detail`, but the exception itself is not chained, because its
  message is foreign text that a traceback would print unscrubbed.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote as url_quote
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from reconciler.errors import (
    AmbiguousRequestError,
    PartialReadError,
    ReadOnlyViolation,
    ScimError,
    ScimTransportError,
)
from reconciler.scim.profiles import GENERIC, Profile, eq_filter, get_profile
from reconciler.scim.wire import (
    Error,
    Group,
    GroupList,
    ListResponse,
    Meta,
    ServiceProviderConfig,
    User,
    UserList,
    WireModel,
)

log = logging.getLogger(__name__)

SCIM_JSON = "application/scim+json"
_ACCEPT = "application/scim+json, application/json;q=0.9"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# A POST answered with one of these was refused before any work was done (RFC 9110 §15.6.4,
# RFC 6585 §4), so it can be sent again. 502/504 come from a gateway that may have passed the
# request on: the write may have happened.
_POST_SAFE_RETRY_STATUSES = frozenset({429, 503})

T = TypeVar("T")
R = TypeVar("R", bound=WireModel)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop. Times in seconds."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total: float = 120.0
    """No retry starts once this much time has passed since the first attempt."""
    retry_after_cap: float = 60.0
    """A Retry-After longer than this is shortened to it (the attempt may then meet another 429)."""
    retry_post_on_refusal: bool = True
    """Retry a POST answered 429/503 (refused before processing). False: raise at once."""
    retry_500_idempotent: bool = True
    """Retry a 500 answer to GET/PUT/PATCH/DELETE (never to POST)."""
    max_read_restarts: int = 2
    """Full re-reads of a listing whose totalResults changed between pages."""

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Equal-jitter exponential backoff: half fixed, half random, so clients spread out."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class _BearerAuth(httpx.Auth):
    """Adds `Authorization: Bearer <token>` (that exact casing: Bitwarden strips the literal
    "Bearer " prefix, bitwarden-scim.md §0). The token never appears in a repr."""

    __slots__ = ("_value",)

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth [redacted]>"


class _Prefetcher:
    """Fetches one page ahead on a worker thread (the request still goes through `_send`, so
    the concurrency bound, retries and the read-only guard all apply)."""

    def __init__(
        self, client: ScimClient, path: str, params: Mapping[str, Any], count: int, *, enabled: bool = True
    ) -> None:
        self._client, self._path, self._params, self._count = client, path, dict(params), count
        self._enabled = enabled
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[httpx.Response] | None = None
        self._start: int | None = None

    def start(self, start: int) -> None:
        if not self._enabled:
            return
        self._discard()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scim-prefetch")
        query = {**self._params, "startIndex": start, "count": self._count}
        self._future = self._pool.submit(self._client._send, "GET", self._path, params=query)
        self._start = start

    def take(self, start: int) -> httpx.Response | None:
        """The prefetched answer for `start`, or None (then the caller fetches it). A failed
        prefetch raises here, exactly as the caller's own request would have."""
        if self._future is None or self._start != start:
            self._discard()
            return None
        future, self._future, self._start = self._future, None, None
        return future.result()

    def _discard(self) -> None:
        if self._future is not None:
            try:
                self._future.result()
            except Exception:  # noqa: BLE001 - an unused guess: its failure does not matter
                pass
            self._future, self._start = None, None

    def close(self) -> None:
        self._discard()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class ScimClient:
    """A synchronous SCIM client for one target. Thread-safe; use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        profile: Profile | str = GENERIC,
        read_only: bool = False,
        token_env: str | None = None,
        users_path: str = "/Users",
        groups_path: str = "/Groups",
        timeout: float = 30.0,
        verify_tls: bool | ssl.SSLContext = True,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        seed: int | None = None,
    ) -> None:
        if not token or not token.strip():
            where = f" (set the variable {token_env})" if token_env else ""
            raise ValueError(f"empty SCIM token{where}")
        self._token = token
        self.base_url = normalise_base_url(base_url)
        self._profile: Profile = get_profile(profile) if isinstance(profile, str) else profile
        self.read_only = read_only
        self.prefetch = True
        """Fetch the next page while this one is parsed. A pass that aborts (the total moved)
        may then cost one request it did not need; tests of exact request sequences turn it off."""
        self.token_env = token_env
        self.users_path = _normalise_path(users_path)
        self.groups_path = _normalise_path(groups_path)
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        # The concurrency bound sits at the lowest layer, so it holds however callers thread.
        # With concurrency 1 (Bitwarden) it is a lock: strictly one request at a time.
        self._slots = threading.BoundedSemaphore(self._profile.concurrency)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._discovered = False
        self._value_list_fallback = False
        self._http = httpx.Client(
            auth=_BearerAuth(token),
            headers={"Accept": _ACCEPT, "User-Agent": "reconcile-scim"},
            timeout=httpx.Timeout(timeout),
            verify=verify_tls,
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max(4, self.profile.concurrency * 2)),
        )

    # -- profile --------------------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        return self._profile

    @profile.setter
    def profile(self, profile: Profile) -> None:
        """Replace the profile (after discovery, or in tests). Set it while no request is in
        flight: a new concurrency gets a new semaphore."""
        if profile.concurrency != self._profile.concurrency:
            self._slots = threading.BoundedSemaphore(profile.concurrency)
        self._profile = profile

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ScimClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"ScimClient({self.base_url!r}, profile={self.profile.name!r}, {mode}, token=[redacted])"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling would copy the token into whatever stores the pickle.
        raise TypeError("a ScimClient cannot be pickled")

    # -- counters -------------------------------------------------------------------------------

    @property
    def request_counts(self) -> dict[str, int]:
        """HTTP requests actually sent, per method, retries included."""
        with self._counts_lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    # -- concurrency ----------------------------------------------------------------------------

    def map_concurrent(
        self,
        fn: Callable[[T], Any],
        items: Iterable[T],
        *,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """`fn` over `items` with at most `profile.concurrency` in flight; results in input order.

        With return_exceptions=True a failing item gives its exception in its slot instead of
        stopping the others (apply records failures and continues with independent actions).
        """
        work = list(items)

        def run(item: T) -> Any:
            try:
                return fn(item)
            except Exception as exc:  # noqa: BLE001 - handed back to the caller by design
                if return_exceptions:
                    return exc
                raise

        if self.profile.concurrency <= 1 or len(work) <= 1:
            return [run(item) for item in work]
        with ThreadPoolExecutor(
            max_workers=min(self.profile.concurrency, len(work)), thread_name_prefix="scim"
        ) as pool:
            return list(pool.map(run, work))

    # -- discovery ------------------------------------------------------------------------------

    def service_provider_config(self) -> ServiceProviderConfig:
        """GET /ServiceProviderConfig (RFC 7644 §4). Raises ScimError (e.g. 404 on Bitwarden)."""
        resp = self._send("GET", "/ServiceProviderConfig")
        return self._parse(resp, ServiceProviderConfig, "GET", "/ServiceProviderConfig")

    def discover(self) -> Profile:
        """Adjust the profile once to what /ServiceProviderConfig announces, when the profile has
        discovery. A server without it (404, 401, 501, garbage) keeps the profile's defaults;
        transport failures propagate (the next request would fail the same way)."""
        if self._discovered or not self.profile.discovery:
            self._discovered = True
            return self.profile
        try:
            spc = self.service_provider_config()
        except ScimTransportError:
            raise
        except ScimError as exc:
            log.info("no usable /ServiceProviderConfig (%s); keeping the %s defaults", exc.status, self.profile.name)
        else:
            self.profile = self.profile.with_discovery(spc)
            log.debug("capabilities after discovery: %s", self.profile.capabilities())
        self._discovered = True
        return self.profile

    # -- reads ----------------------------------------------------------------------------------

    def list_users(self) -> list[User]:
        """Every user, complete (PartialReadError otherwise), in the server's order, distinct ids."""
        return self._list_all(self.users_path, UserList, {})

    def list_groups(self, *, members: bool | None = None) -> list[Group]:
        """Every group. Members are asked for when the profile can read them; `members=False`
        sends excludedAttributes=members (scim2-server: a page of 500×50 takes 2.4 s with them)."""
        want = self.profile.members_readable if members is None else members
        params = {} if want else {"excludedAttributes": "members"}
        return self._list_all(self.groups_path, GroupList, params)

    def count_users(self) -> int:
        """totalResults of /Users, from a one-resource page."""
        return self._total(self.users_path, UserList)

    def count_groups(self) -> int:
        return self._total(self.groups_path, GroupList)

    def get_user(self, id: str) -> User:
        path = f"{self.users_path}/{_seg(id)}"
        resp = self._send("GET", path)
        return _with_etag(self._parse(resp, User, "GET", path), resp)

    def get_group(self, id: str) -> Group:
        path = f"{self.groups_path}/{_seg(id)}"
        resp = self._send("GET", path)
        return _with_etag(self._parse(resp, Group, "GET", path), resp)

    def find_user(self, external_id: str | None = None, user_name: str | None = None) -> User | None:
        """The user with this externalId, else the one with this userName; None if neither.

        Raises ScimError when a filter matches several users (externalId is not unique on every
        server). On Bitwarden a userName lookup needs an e-mail address: it raises ValueError
        otherwise, because the server would answer an empty list that looks like "not found".
        """
        if external_id is None and user_name is None:
            raise ValueError("find_user needs external_id or user_name")
        if user_name is not None and self.profile.lookup_user_name_requires_email and "@" not in user_name:
            raise ValueError(
                f"the {self.profile.name} profile can only look users up by an e-mail userName, "
                f"not {user_name!r}"
            )
        for attribute, value in (("externalId", external_id), ("userName", user_name)):
            if value is not None:
                found = self._find_one(self.users_path, UserList, attribute, value, {})
                if found is not None:
                    return found
        return None

    def find_group(
        self, external_id: str | None = None, display_name: str | None = None, *, members: bool = False
    ) -> Group | None:
        """The group with this externalId, else the one with this displayName; None if neither.
        Members are left out unless asked for (a lookup resolves an id; members cost time)."""
        if external_id is None and display_name is None:
            raise ValueError("find_group needs external_id or display_name")
        extra = {} if members else {"excludedAttributes": "members"}
        for attribute, value in (("externalId", external_id), ("displayName", display_name)):
            if value is not None:
                found = self._find_one(self.groups_path, GroupList, attribute, value, extra)
                if found is not None:
                    return found
        return None

    # -- writes ---------------------------------------------------------------------------------

    def create_user(self, body: Mapping[str, Any] | User) -> User:
        resp = self._send("POST", self.users_path, body=_payload(body))
        return _with_etag(self._parse(resp, User, "POST", self.users_path), resp)

    def replace_user(self, id: str, body: Mapping[str, Any] | User, etag: str | None = None) -> User:
        path = f"{self.users_path}/{_seg(id)}"
        resp = self._send("PUT", path, body=_payload(body), etag=etag)
        return _with_etag(self._parse(resp, User, "PUT", path), resp)

    def patch_user(self, id: str, ops: Mapping[str, Any], etag: str | None = None) -> User | None:
        """PATCH a user. None when the server answered 204 (RFC 7644 §3.5.2 allows it; Bitwarden and
        scim2-server do), the resource when it answered 200 with a body (django-scim2)."""
        path = f"{self.users_path}/{_seg(id)}"
        resp = self._send("PATCH", path, body=dict(ops), etag=etag)
        return self._parse_optional(resp, User, "PATCH", path)

    def delete_user(self, id: str, etag: str | None = None) -> None:
        path = f"{self.users_path}/{_seg(id)}"
        self._send("DELETE", path, etag=etag)

    def create_group(self, body: Mapping[str, Any] | Group) -> Group:
        resp = self._send("POST", self.groups_path, body=_payload(body))
        return _with_etag(self._parse(resp, Group, "POST", self.groups_path), resp)

    def replace_group(self, id: str, body: Mapping[str, Any] | Group, etag: str | None = None) -> Group:
        path = f"{self.groups_path}/{_seg(id)}"
        resp = self._send("PUT", path, body=_payload(body), etag=etag)
        return _with_etag(self._parse(resp, Group, "PUT", path), resp)

    def patch_group(self, id: str, ops: Mapping[str, Any], etag: str | None = None) -> Group | None:
        path = f"{self.groups_path}/{_seg(id)}"
        resp = self._send("PATCH", path, body=dict(ops), etag=etag)
        return self._parse_optional(resp, Group, "PATCH", path)

    def update_group_members(
        self, id: str, adds: Iterable[str] = (), removes: Iterable[str] = (), etag: str | None = None
    ) -> Group | None:
        """One PATCH with all of a group's membership changes, in the profile's remove style.

        With member_remove "auto", a 400 or 501 answer to a remove-by-filter-path (django-scim2
        answers 501) switches this client to the value-list form once and resends; the switch is
        remembered for the rest of the run.
        """
        adds, removes = list(adds), list(removes)
        style = self.profile.member_remove
        if style == "auto":
            style = "value_list" if self._value_list_fallback else "path_filter"
        ops = self.profile.group_member_ops(adds, removes, style=style)
        if ops is None:
            return None
        try:
            return self.patch_group(id, ops, etag=etag)
        except ScimError as exc:
            fallback = (
                self.profile.member_remove == "auto"
                and style == "path_filter"
                and removes
                and exc.status in (400, 501)
                and not isinstance(exc, ScimTransportError)
            )
            if not fallback:
                raise
            log.warning(
                "the server refused remove-by-filter-path (%s); using the value-list form from now on",
                exc.status,
            )
            self._value_list_fallback = True
            retry_ops = self.profile.group_member_ops(adds, removes, style="value_list")
            assert retry_ops is not None
            return self.patch_group(id, retry_ops, etag=etag)

    def delete_group(self, id: str, etag: str | None = None) -> None:
        path = f"{self.groups_path}/{_seg(id)}"
        self._send("DELETE", path, etag=etag)

    # -- paging ---------------------------------------------------------------------------------

    def _page(
        self, path: str, model: type[ListResponse[R]], params: Mapping[str, Any], start: int, count: int
    ) -> ListResponse[R]:
        query = {**params, "startIndex": start, "count": count}
        resp = self._send("GET", path, params=query)
        return self._parse(resp, model, "GET", path, query)

    def _total(self, path: str, model: type[ListResponse[R]]) -> int:
        page = self._page(path, model, {}, 1, 1)
        if page.total_results is None:
            raise ScimError("the ListResponse has no totalResults", method="GET", path=self._shown(path), status=200)
        return page.total_results

    def _find_one(
        self,
        path: str,
        model: type[ListResponse[R]],
        attribute: str,
        value: str,
        extra: Mapping[str, Any],
    ) -> R | None:
        # Bitwarden ignores paging for filtered queries and answers at most one resource (§2).
        page = self._page(path, model, {"filter": eq_filter(attribute, value), **extra}, 1, 10)
        found = {rid: r for r in page.resources if (rid := getattr(r, "id", None))}  # User or Group
        if len(found) > 1:
            raise ScimError(
                f"{len(found)} resources match {attribute} {value!r}; resolve the duplicate by hand",
                method="GET",
                path=self._shown(path),
                status=200,
            )
        return next(iter(found.values()), None)

    def _list_all(self, path: str, model: type[ListResponse[R]], params: Mapping[str, Any]) -> list[R]:
        """Read every page of a listing (RFC 7644 §3.4.2.4), completely or not at all.

        A pass walks startIndex = 1, 1+n1, 1+n1+n2, … and merges resources by id. It succeeds when
        the distinct ids reach totalResults and totalResults did not move. A total that moved
        means the content changed under us (a create shifts scim2-server's id-ordered pages):
        the read starts again from scratch. A pass that ended short although it saw duplicates
        (an unstable order) is followed by another pass merged into the same set, as long as the
        total stays put. A pass that ends short with no duplicate (an empty page, or pages that
        run out before the total) raises PartialReadError: removals must never be planned from
        it. Passes are bounded by RetryPolicy.max_read_restarts, pages by the total.
        """
        count = self.profile.page_size
        seen: dict[str, R] = {}
        reference_total: int | None = None
        reads = 0
        # While a page is parsed, the next one (assumed full) is already being fetched: the
        # server's time and ours overlap. A guess that proves wrong is simply not used.
        prefetch = _Prefetcher(self, path, params, count, enabled=self.prefetch)
        try:
            return self._read_passes(path, model, params, count, seen, reference_total, reads, prefetch)
        finally:
            prefetch.close()

    def _read_passes(
        self,
        path: str,
        model: type[ListResponse[R]],
        params: Mapping[str, Any],
        count: int,
        seen: dict[str, R],
        reference_total: int | None,
        reads: int,
        prefetch: _Prefetcher,
    ) -> list[R]:
        while True:
            reads += 1
            start, pages, duplicates, changed = 1, 0, 0, False
            while True:
                try:
                    query = {**params, "startIndex": start, "count": count}
                    resp = prefetch.take(start) or self._send("GET", path, params=query)
                    # the next request goes out only after this one was answered: order kept
                    if reference_total is not None and start + count <= reference_total:
                        prefetch.start(start + count)
                    page = self._parse(resp, model, "GET", path, query)
                except ScimError as exc:
                    if reads == 1 and pages == 0:
                        raise  # nothing was read yet: the error itself says it all
                    raise PartialReadError(
                        f"listing {path} broke off after {len(seen)} of {reference_total} resources; "
                        "nothing was planned from it, run again",
                        status=exc.status,
                        scim_type=exc.scim_type,
                        detail=str(exc),
                        method="GET",
                        path=self._shown(path),
                    ) from exc
                pages += 1
                total = page.total_results
                if total is None:
                    raise ScimError(
                        "the ListResponse has no totalResults, so completeness cannot be checked",
                        status=200,
                        method="GET",
                        path=self._shown(path),
                    )
                if reference_total is None:
                    reference_total = total
                elif total != reference_total:
                    changed = True
                    break
                for resource in page.resources:
                    if not resource.id:
                        raise ScimError("a listed resource has no id", status=200, method="GET", path=self._shown(path))
                    if resource.id in seen:
                        duplicates += 1
                    seen[resource.id] = resource
                got = len(page.resources)
                if len(seen) >= total:
                    if len(seen) > total:
                        log.warning("%s: %d distinct resources, totalResults %d", path, len(seen), total)
                    log.debug("%s: %d resources in %d pages (read %d)", path, len(seen), pages, reads)
                    return list(seen.values())
                if got == 0:
                    why = f"an empty page at startIndex={start}"
                    break
                start += got
                if start > total:
                    why = f"the pages ran out at startIndex={start}"
                    break
                if pages > total + 1:  # cannot happen with start strictly increasing; a backstop
                    why = f"more than {total + 1} pages"
                    break
            if changed:
                log.warning(
                    "%s: totalResults moved from %s to %s during the read; reading again",
                    path, reference_total, total,
                )
                seen, reference_total = {}, None
            elif not duplicates:
                raise PartialReadError(
                    f"listing {path} ended short: {len(seen)} of {total} resources ({why}); "
                    "nothing was planned from it",
                    status=200,
                    method="GET",
                    path=self._shown(path),
                )
            else:
                log.warning("%s: pages overlapped (%d duplicates) and ended short; another pass", path, duplicates)
            if reads > self.retry.max_read_restarts:
                raise PartialReadError(
                    f"listing {path} did not reach totalResults after {reads} reads "
                    f"({len(seen)} of {total} resources): the content kept changing or the pages "
                    "kept overlapping; nothing was planned from it, run again later",
                    status=200,
                    method="GET",
                    path=self._shown(path),
                )

    # -- the single request function --------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        etag: str | None = None,
    ) -> httpx.Response:
        """Send one SCIM request with retries; return a 2xx/304 response or raise ScimError.

        Every request of the client passes here, so the read-only guard below runs before any
        byte could be sent, whatever method the caller used.
        """
        shown = self._shown(path, params)
        if self.read_only and method != "GET":
            raise ReadOnlyViolation(
                "refused to write through a read-only client (plan never writes)",
                method=method,
                path=shown,
            )
        url = self.base_url + path
        headers: dict[str, str] = {}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = SCIM_JSON
        if etag and self.profile.supports_etag:
            headers["If-Match"] = etag
        began = self._clock()
        attempt = 0
        while True:
            attempt += 1
            refused: httpx.Response | None = None
            failure: httpx.TransportError | None = None
            try:
                with self._slots:
                    with self._counts_lock:
                        self._counts[method] += 1
                    sent_at = self._clock()
                    resp = self._http.request(method, url, params=params, content=content, headers=headers)
            except httpx.TransportError as exc:
                failure = exc
                kind = _classify(exc)
                text = self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                log.debug("%s %s: %s (attempt %d)", method, shown, text, attempt)
                if kind == "fatal":
                    raise ScimTransportError(_transport_message(exc), detail=text, method=method, path=shown) from None
                if kind == "sent" and method == "POST":
                    raise AmbiguousRequestError(
                        "no answer to a POST that was sent: it may or may not have been applied; "
                        "look the resource up before creating it again",
                        detail=text,
                        method=method,
                        path=shown,
                    ) from None
            else:
                log.debug(
                    "%s %s -> %d in %.0f ms", method, shown, resp.status_code, (self._clock() - sent_at) * 1000
                )
                retryable = resp.status_code in _RETRY_STATUSES or (
                    # A 500 may be transient (Bitwarden maps every unexpected exception to 500,
                    # bitwarden-scim.md §0). Every request but POST is idempotent as the
                    # reconciler sends it (GET; PATCH replace/add/remove of set members; PUT;
                    # DELETE, whose repeat is a 404 the caller reads as "already gone"), so it is
                    # sent again; a POST never is (a create is resolved by a lookup instead).
                    resp.status_code == 500 and method != "POST" and self.retry.retry_500_idempotent
                )
                if not retryable:
                    if resp.status_code >= 400:
                        raise self._error(resp, method, shown)
                    return resp
                if method == "POST" and (
                    resp.status_code not in _POST_SAFE_RETRY_STATUSES or not self.retry.retry_post_on_refusal
                ):
                    if resp.status_code in _POST_SAFE_RETRY_STATUSES:
                        raise self._error(resp, method, shown)
                    err = self._error(resp, method, shown)
                    raise AmbiguousRequestError(
                        f"a gateway answered {resp.status_code} to a POST: it may or may not have been "
                        "applied; look the resource up before creating it again",
                        status=resp.status_code,
                        detail=err.detail,
                        method=method,
                        path=shown,
                    )
                refused = resp
            delay = self._delay(attempt, refused)
            elapsed = self._clock() - began
            if attempt >= self.retry.max_attempts or elapsed + delay > self.retry.max_total:
                if refused is not None:
                    err = self._error(refused, method, shown)
                    raise ScimTransportError(
                        f"gave up after {attempt} attempts in {elapsed:.1f} s: the server kept answering "
                        f"{refused.status_code}",
                        status=refused.status_code,
                        scim_type=err.scim_type,
                        detail=err.detail,
                        method=method,
                        path=shown,
                    )
                assert failure is not None
                raise ScimTransportError(
                    f"gave up after {attempt} attempts in {elapsed:.1f} s: {_transport_message(failure)}",
                    detail=self._scrub(f"{type(failure).__name__}: {failure}"),
                    method=method,
                    path=shown,
                ) from None
            why = f"HTTP {refused.status_code}" if refused is not None else type(failure).__name__
            log.info("%s %s: %s; retry %d in %.2f s", method, shown, why, attempt, delay)
            self._sleep(delay)

    def _delay(self, attempt: int, refused: httpx.Response | None) -> float:
        with self._rng_lock:
            backoff = self.retry.backoff(attempt, self._rng)
            if refused is None:
                return backoff
            after = parse_retry_after(refused.headers.get("Retry-After"), now=self._wall_clock())
            if after is None:
                return backoff
            after = min(after, self.retry.retry_after_cap)
            # Honour it: never earlier, a little later so that waiting clients do not stampede.
            return after + self._rng.uniform(0, min(1.0, 0.1 * after + 0.05))

    # -- responses ------------------------------------------------------------------------------

    def _parse(
        self,
        resp: httpx.Response,
        model: type[BaseModel],
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        shown = self._shown(path, params)
        if not resp.content:
            raise ScimError(
                f"the server answered {resp.status_code} without a body where a resource was expected",
                status=resp.status_code,
                method=method,
                path=shown,
            )
        _check_json(resp, method, shown, self._scrub)
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ScimError(
                f"unreadable {model.__name__} in the answer ({exc.error_count()} problem(s), first at {where})",
                status=resp.status_code,
                detail=self._scrub(str(first["msg"])),
                method=method,
                path=shown,
            ) from None

    def _parse_optional(self, resp: httpx.Response, model: type[R], method: str, path: str) -> R | None:
        if resp.status_code == 204 or not resp.content:
            return None
        return _with_etag(self._parse(resp, model, method, path), resp)

    def _error(self, resp: httpx.Response, method: str, shown: str) -> ScimError:
        """A ScimError from an error answer. Bitwarden's bodies are `application/json` with a
        numeric status and no scimType; scim2-server's have the status as a string (RFC 7644 §3.12)."""
        status: int = resp.status_code
        scim_type = detail = None
        if resp.content:
            try:
                err = Error.model_validate_json(resp.content)
            except ValidationError:
                snippet = resp.text[:200].strip()
                detail = self._scrub(snippet) if snippet else None
            else:
                scim_type = err.scim_type
                detail = self._scrub(err.detail) if err.detail else None
                if isinstance(err.status, str) and err.status.strip().isdigit():
                    body_status = int(err.status)
                elif isinstance(err.status, int):
                    body_status = err.status
                else:
                    body_status = status
                if body_status != status:
                    log.debug("HTTP status %d, body status %d", status, body_status)
        return ScimError(self._status_message(status), status=status, scim_type=scim_type,
                         detail=detail, method=method, path=shown)

    def _status_message(self, status: int) -> str:
        if status == 401:
            var = f" variable {self.token_env}" if self.token_env else ""
            return f"authentication failed: check the token{var}"
        messages = {
            400: "the server rejected the request",
            403: "forbidden: the token is not allowed to do this",
            404: "not found",
            405: "method not allowed by the server",
            409: "conflict: the resource already exists",
            412: "precondition failed: the resource changed since it was read (ETag); plan again",
            413: "request too large for the server",
            415: "the server refused the media type",
            429: "rate limited by the server",
            500: "internal server error",
            501: "not implemented by the server",
            502: "bad gateway",
            503: "service unavailable",
            504: "gateway timeout",
        }
        return messages.get(status, f"HTTP {status}")

    def _shown(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """A request path as messages show it: the base URL's path, the resource path, our query."""
        return _display_path(urlsplit(self.base_url).path + path, params)

    def _scrub(self, text: str) -> str:
        """Remove the token from foreign text (a server echoing the header, an exception)."""
        if self._token and self._token in text:
            text = text.replace(self._token, "[redacted]")
        return text


# -- helpers --------------------------------------------------------------------------------------


def normalise_base_url(base_url: str) -> str:
    """The base URL without trailing slashes, so that base + "/Users" is right.

    `/v2` is never added: Bitwarden's is `…/v2/{orgId}`, scim2-server's tenants `…/{tenant}/v2`.
    Credentials, a query or a fragment in the URL are refused (they would leak into logs).
    """
    text = base_url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the SCIM base URL must be an absolute http(s) URL, e.g. https://host/scim/v2")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("the SCIM base URL must not contain credentials, a query or a fragment")
    path = "/" + "/".join(seg for seg in parts.path.split("/") if seg)
    netloc = parts.netloc
    return f"{parts.scheme}://{netloc}{path.rstrip('/')}"


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def _normalise_path(path: str) -> str:
    return "/" + path.strip().strip("/")


def _seg(id: str) -> str:
    """An id as one path segment: a '/' or '?' in an id must not change the URL."""
    if not id:
        raise ValueError("an empty SCIM id")
    return url_quote(id, safe="")


def _display_path(path: str, params: Mapping[str, Any] | None) -> str:
    """The request path for messages: our own query parameters only (paging, filter), no secret
    ever travels in a query."""
    return f"{path}?{urlencode(params)}" if params else path


def _payload(body: Mapping[str, Any] | WireModel) -> dict[str, Any]:
    return body.to_wire() if isinstance(body, WireModel) else dict(body)


def _with_etag(resource: R, resp: httpx.Response) -> R:
    """Fill meta.version from the ETag header when the body has none (RFC 7644 §3.14)."""
    tag = resp.headers.get("ETag")
    meta = getattr(resource, "meta", None)
    if tag and (meta is None or not meta.version):
        new_meta = (meta or Meta()).model_copy(update={"version": tag})
        return resource.model_copy(update={"meta": new_meta})
    return resource


def _check_json(resp: httpx.Response, method: str, shown: str, scrub: Callable[[str], str]) -> None:
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype and "json" not in ctype:
        raise ScimError(
            f"not a SCIM answer: Content-Type {ctype} (a login page or a proxy in the way?)",
            status=resp.status_code,
            detail=scrub(resp.text[:120].strip()) or None,
            method=method,
            path=shown,
        )


def _classify(exc: httpx.TransportError) -> str:
    """'unsent' (safe to resend), 'sent' (the server may have acted), or 'fatal' (do not retry)."""
    if is_tls_error(exc):
        return "fatal"  # a certificate problem does not fix itself between attempts
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return "unsent"
    if isinstance(exc, (httpx.ReadTimeout, httpx.ReadError, httpx.WriteError, httpx.WriteTimeout,
                        httpx.RemoteProtocolError)):
        return "sent"
    return "fatal"  # UnsupportedProtocol, LocalProtocolError, ProxyError: our side is wrong


def is_tls_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLError):
            return True
        cur = cur.__cause__ or cur.__context__
    # Our own ScimTransportError is raised `from None`: recognise it by its message and detail.
    text = str(exc)
    return (
        "TLS handshake failed" in text
        or "SSL" in text
        or ("CERTIFICATE" in text.upper() and "VERIFY" in text.upper())
    )


def _transport_message(exc: httpx.TransportError) -> str:
    if is_tls_error(exc):
        return "TLS handshake failed"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was dropped without an answer"
    return "transport failure"
