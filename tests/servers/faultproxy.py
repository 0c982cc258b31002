"""A real loopback HTTP proxy that injects faults in front of any HTTP server (stdlib only).

Used by the resilience tests in front of scim2-server, and by the stress tests in front of both
scim2-server and the Bitwarden test server. The client under test talks to `proxy.url`; the proxy
forwards to the upstream over a fresh http.client connection per request and answers over
HTTP/1.1 keep-alive, so dropped connections look exactly like they do on a network.

Faults are deterministic switches (rules) or seeded random rates:

    with FaultProxy("http://127.0.0.1:8080") as proxy:
        proxy.every(3, Fault.too_many(retry_after="1"))           # every 3rd request: 429
        proxy.next(4, Fault.answer(503), method="GET")            # a burst: the next 4 GETs
        proxy.next(1, Fault.drop(), method="POST")                # close without answering
        proxy.next(1, Fault.forward_then_drop(), method="POST")   # the server acts, no answer
        proxy.next(1, Fault.rewrite(fn), path=r"/Users\\?")        # alter an upstream body
        proxy.random_faults(seed=7, rates={"500": .05, "503": .05, "drop": .02})
        ...
        proxy.log  # every request: method, path, fault, forwarded?, statuses

Rules are checked in the order they were added; every rule counts every request it matches,
and the first one that fires decides. Random faults apply only when no rule fired. A hook
(`on_request`) runs before the decision, e.g. to change the upstream between two pages.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

FaultKind = Literal["status", "drop", "forward_then_drop", "delay", "rewrite"]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
     "transfer-encoding", "upgrade", "content-length", "host"}
)


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of (or besides) forwarding it."""

    kind: FaultKind
    status: int = 503
    retry_after: str | None = None
    """A literal Retry-After header value (delta-seconds, or an HTTP-date string)."""
    retry_after_in: float | None = None
    """Render Retry-After as an HTTP-date this many seconds after the answer is sent."""
    delay: float = 0.0
    transform: Callable[[bytes], bytes] | None = None
    name: str = ""

    @classmethod
    def answer(cls, status: int, retry_after: str | None = None) -> Fault:
        """Answer `status` with a SCIM error body, without forwarding."""
        return cls("status", status=status, retry_after=retry_after, name=str(status))

    @classmethod
    def too_many(cls, retry_after: str | None = "1") -> Fault:
        return cls("status", status=429, retry_after=retry_after, name="429")

    @classmethod
    def too_many_until(cls, seconds: float) -> Fault:
        """429 with Retry-After as an HTTP-date `seconds` from now (RFC 9110 §10.2.3)."""
        return cls("status", status=429, retry_after_in=seconds, name="429-date")

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without forwarding or answering."""
        return cls("drop", name="drop")

    @classmethod
    def forward_then_drop(cls) -> Fault:
        """Forward, let the upstream finish, then close without answering the client."""
        return cls("forward_then_drop", name="forward_then_drop")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait, then forward (to trigger client read timeouts)."""
        return cls("delay", delay=seconds, name=f"delay-{seconds}")

    @classmethod
    def rewrite(cls, fn: Callable[[bytes], bytes], name: str = "rewrite") -> Fault:
        """Forward and pass the upstream body through `fn` (truncate a page, lower a total…)."""
        return cls("rewrite", transform=fn, name=name)


@dataclass
class Rule:
    """Fire `fault` on matching requests: after `skip` of them, on every `every`-th, at most
    `times` times (None: no limit)."""

    fault: Fault
    method: str | None = None
    path: str | None = None
    """A regular expression searched in the path with its query."""
    every: int = 1
    times: int | None = None
    skip: int = 0
    matched: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def consider(self) -> bool:
        """Count one matching request; True when the rule fires on it."""
        self.matched += 1
        n = self.matched - self.skip
        if n < 1 or n % self.every != 0:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class LogEntry:
    seq: int
    method: str
    path: str
    fault: str | None
    forwarded: bool
    upstream_status: int | None
    status: int | None
    """What the client got; None when the connection was dropped."""
    started: float
    elapsed: float


@dataclass
class _RandomFaults:
    rng: random.Random
    rates: dict[str, float]


_RANDOM_FAULTS: dict[str, Fault] = {
    "500": Fault("status", status=500, name="500"),
    "502": Fault("status", status=502, name="502"),
    "503": Fault("status", status=503, name="503"),
    "504": Fault("status", status=504, name="504"),
    "429": Fault("status", status=429, retry_after="0", name="429"),
    "drop": Fault.drop(),
    "forward_then_drop": Fault.forward_then_drop(),
}


class FaultProxy:
    """The proxy. Thread-safe; start()/stop() or use it as a context manager."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", upstream_timeout: float = 120.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the upstream must be an http:// origin")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_origin = f"http://{parts.netloc}"
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._random: _RandomFaults | None = None
        self._log: list[LogEntry] = []
        self._seq = 0
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self.on_request: Callable[[str, str, int], None] | None = None
        """Called as on_request(method, path, seq) before the fault decision."""
        self.hook_errors: list[Exception] = []
        self._server = _Server((host, 0), _Handler)
        self._server.proxy = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def rebase(self, upstream_url: str) -> str:
        """The same URL as seen through the proxy (swap the upstream origin for ours)."""
        if not upstream_url.startswith(self.upstream_origin):
            raise ValueError(f"{upstream_url} is not under {self.upstream_origin}")
        return self.url + upstream_url[len(self.upstream_origin):]

    def start(self) -> FaultProxy:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- switches -------------------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def every(self, n: int, fault: Fault, *, method: str | None = None, path: str | None = None,
              times: int | None = None, skip: int = 0) -> Rule:
        """Fire on every n-th matching request."""
        return self.add(Rule(fault, method=method, path=path, every=n, times=times, skip=skip))

    def next(self, k: int, fault: Fault, *, method: str | None = None, path: str | None = None,
             skip: int = 0) -> Rule:
        """Fire on the next k matching requests (after `skip`): a burst."""
        return self.add(Rule(fault, method=method, path=path, every=1, times=k, skip=skip))

    def random_faults(self, seed: int, rates: Mapping[str, float]) -> None:
        """Seeded random faults per request, e.g. {"500": .05, "503": .05, "drop": .02}.
        Keys: 500, 502, 503, 504, 429, drop, forward_then_drop."""
        unknown = set(rates) - set(_RANDOM_FAULTS)
        if unknown:
            raise ValueError(f"unknown random fault(s) {sorted(unknown)}; use {sorted(_RANDOM_FAULTS)}")
        if sum(rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        with self._lock:
            self._random = _RandomFaults(random.Random(seed), dict(rates))

    def clear(self) -> None:
        """Remove every rule and random fault (the log stays)."""
        with self._lock:
            self._rules.clear()
            self._random = None

    # -- log ------------------------------------------------------------------------------------

    @property
    def log(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled (a delayed one is logged when it finishes)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def requests(self, method: str | None = None, path: str | None = None) -> list[LogEntry]:
        return [e for e in self.log if (method is None or e.method == method.upper())
                and (path is None or re.search(path, e.path))]

    # -- internals ------------------------------------------------------------------------------

    def _decide(self, method: str, path: str) -> tuple[int, Fault | None]:
        with self._lock:
            self._seq += 1
            self._in_flight += 1
            seq = self._seq
        if self.on_request is not None:
            try:
                self.on_request(method, path, seq)
            except Exception as exc:  # noqa: BLE001 - surfaced to the test through hook_errors
                self.hook_errors.append(exc)
        with self._lock:
            chosen: Fault | None = None
            for rule in self._rules:
                if rule.matches(method, path) and rule.consider() and chosen is None:
                    chosen = rule.fault
            if chosen is None and self._random is not None:
                draw = self._random.rng.random()
                acc = 0.0
                for key in sorted(self._random.rates):
                    acc += self._random.rates[key]
                    if draw < acc:
                        chosen = _RANDOM_FAULTS[key]
                        break
        return seq, chosen

    def _record(self, entry: LogEntry) -> None:
        with self._lock:
            self._log.append(entry)
            self._in_flight -= 1
            self._idle.notify_all()

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
                 ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=self.upstream_timeout)
        try:
            out = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
            out["Host"] = f"{self.upstream_host}:{self.upstream_port}"
            if body or method in ("POST", "PUT", "PATCH"):
                out["Content-Length"] = str(len(body))
            conn.request(method, path, body=body or None, headers=out)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # the proxy keeps its own structured log

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        proxy = self.server.proxy
        started = time.monotonic()
        method = self.command
        path = self.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seq, fault = proxy._decide(method, path)
        kind = fault.kind if fault else None
        forwarded = False
        upstream_status: int | None = None
        recorded = False

        def record(status: int | None) -> None:
            # Logged before the client gets its answer (or its closed connection), so a test that
            # has seen the outcome always finds the entry.
            nonlocal recorded
            if not recorded:
                recorded = True
                proxy._record(LogEntry(seq, method, path, fault.name if fault else None, forwarded,
                                       upstream_status, status, started, time.monotonic() - started))

        try:
            if kind == "drop":
                record(None)
                self._drop()
            elif kind == "status":
                assert fault is not None
                record(fault.status)
                self._answer_fault(fault)
            else:
                if kind == "delay":
                    assert fault is not None
                    time.sleep(fault.delay)
                try:
                    upstream_status, reason, headers, data = proxy._forward(
                        method, path, list(self.headers.items()), body)
                except OSError:
                    # The upstream is down or hung up: answer as a real reverse proxy would.
                    record(502)
                    self._answer_fault(Fault("status", status=502, name="upstream-unreachable"))
                    return
                forwarded = True
                if kind == "forward_then_drop":
                    record(None)
                    self._drop()
                else:
                    if kind == "rewrite":
                        assert fault is not None and fault.transform is not None
                        data = fault.transform(data)
                    record(upstream_status)
                    self._answer(upstream_status, reason, headers, data)
        except OSError:
            record(None)  # the client went away (e.g. it timed out during a delay)
            self.close_connection = True
        finally:
            record(None)

    def _answer(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response_only(status, reason)
        for k, v in headers:
            if k.lower() not in _HOP_BY_HOP and k.lower() not in ("date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _answer_fault(self, fault: Fault) -> None:
        body = json.dumps({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(fault.status),
            "detail": f"injected by faultproxy: {fault.name}",
        }).encode()
        headers = [("Content-Type", "application/scim+json")]
        if fault.retry_after is not None:
            headers.append(("Retry-After", fault.retry_after))
        elif fault.retry_after_in is not None:
            headers.append(("Retry-After", email.utils.formatdate(time.time() + fault.retry_after_in, usegmt=True)))
        self._answer(fault.status, http.client.responses.get(fault.status, ""), headers, body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
