"""A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1, for running the collection against a real registry
under HTTP errors, rate limits and connection resets.

    with FaultProxy(registry, seed=1, rate=0.10) as proxy:
        run_tasks([oci_task("tag", proxy, name=[...], state="absent")])
        proxy.stats()      # {"seen": .., "forwarded": .., "faults": {"500": .., "reset": .., ...}, ...}

The proxy forwards every request to ``upstream`` (a :class:`~tests.support.registry.LocalRegistry` or a URL)
over one keep-alive upstream connection per client connection, streaming request and response bodies
(``Content-Length`` or chunked) and keeping the client's ``Host`` header, so that the registry builds the
``Location`` of a blob upload with the proxy's address and the next request comes back through the proxy.

Fault model
-----------
Each request is matched against the proxy's rules (:class:`FaultRule`, first match wins). A matching
request is faulted when ``u < rule.rate``, where ``u`` in [0, 1) is read from
``sha256(seed | rule name | method | key | n)``: ``key`` is the normalized path (query dropped, upload
UUIDs replaced, see :func:`default_key`) and ``n`` counts earlier requests with the same method and key.
No shared random stream is consumed, so the decisions do not depend on the order in which concurrent
requests arrive: the same requests get the same faults for the same seed, every run. Request paths that
change from run to run (a fresh digest, e.g. the collection's throwaway manifest) get their own decisions.

Kinds (the hash also picks the kind among ``rule.kinds``):

* ``500``, ``502``, ``503``: answered by the proxy, the registry never sees the request. The body is an
  OCI error document (``{"errors": [{"code": "UNKNOWN", ...}]}``) or plain text (``body="oci"|"plain"|"mixed"``).
* ``429``: answered by the proxy with ``Retry-After`` (from ``retry_after``; a tuple means one of its
  values, picked by the hash) and an OCI ``TOOMANYREQUESTS`` body.
* ``reset``: the request is read, then the connection is reset (RST); nothing reaches the registry.
* ``reset_after``: the request is forwarded, the registry's whole answer is read (the registry acted: a
  DELETE or PUT went through), then the client's connection is reset instead of answered.
* ``500_after``: forwarded like ``reset_after``, then answered with 500 (not among the default kinds).

The unauthenticated ``GET /v2/`` probe is never faulted while ``spare_probe`` is true (the default): it opens
every module run (the tests split request logs on it) and tells nothing about convergence that the other GETs
do not. Set ``spare_probe=False`` to fault it too.
"""

# pylint: disable=too-many-instance-attributes,too-many-arguments
import collections
import hashlib
import json
import os
import re
import select
import socket
import struct
import threading
import time
from http.client import HTTPConnection, HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HTTP_KINDS = ("500", "502", "503", "429")
RESET_KINDS = ("reset", "reset_after")
DEFAULT_KINDS = HTTP_KINDS + RESET_KINDS
ALL_KINDS = DEFAULT_KINDS + ("500_after",)
FORWARDING_KINDS = frozenset(("reset_after", "500_after"))
_STATUS = {"500": 500, "502": 502, "503": 503, "429": 429, "500_after": 500}
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 429: "Too Many Requests"}
_OCI_CODES = {500: "UNKNOWN", 502: "UNKNOWN", 503: "UNAVAILABLE", 429: "TOOMANYREQUESTS"}

# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; Expect is answered by the proxy itself.
_HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                         "te", "trailer", "transfer-encoding", "upgrade", "expect"))
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CHUNK = 64 * 1024
_BUFFER_LIMIT = 4 * 1024 * 1024  # request bodies up to this size are buffered (safe to resend upstream once)
PROBE = ("GET", "/v2/")

LogEntry = collections.namedtuple("LogEntry", "seq method path key n rule fault status")
LogEntry.__doc__ = """One request: ``fault`` is the kind injected (None when forwarded untouched), ``status`` what the
client got (None for a reset), ``rule`` the name of the matching rule (None when no rule matched)."""


def default_key(method, path):  # pylint: disable=unused-argument
    """The path without its query, with upload UUIDs written ``{uuid}`` (they differ on every run)."""
    return _UUID_RE.sub("{uuid}", path.split("?", 1)[0])


def key_without(*prefixes):
    """A ``key`` function that also writes each of ``prefixes`` (e.g. a per-run repository prefix) as ``{prefix}``,
    so that the same content under a fresh prefix gets the same decisions."""
    def _key(method, path):
        key = default_key(method, path)
        for prefix in prefixes:
            key = key.replace("/" + prefix + "/", "/{prefix}/")
        return key
    return _key


class FaultRule:
    """Which requests may be faulted, how often, and how.

    ``match``: None (every request), a regex searched in ``"METHOD /path?query"``, or a callable
    ``(method, path) -> bool``. ``methods``: optional set of methods. ``rate``: probability in [0, 1].
    ``kinds``: kinds to pick from. ``max_faults``: total budget of this rule. ``max_per_key``: budget per
    method + key (1 lets the first retry through). ``from_n``: only the n-th and later occurrences of a
    method + key are eligible (``from_n=1`` spares the first request, e.g. to fault only a repeat).
    """

    def __init__(self, rate=0.10, kinds=DEFAULT_KINDS, match=None, methods=None, max_faults=None, max_per_key=None,
                 from_n=0, name=None):
        kinds = tuple(kinds)
        unknown = set(kinds) - set(ALL_KINDS)
        if unknown or not kinds:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {ALL_KINDS}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        self.rate = float(rate)
        self.kinds = kinds
        self.methods = frozenset(m.upper() for m in methods) if methods else None
        if match is None or callable(match):
            self._match = match
        else:
            pattern = re.compile(match)
            self._match = lambda method, path: bool(pattern.search(f"{method} {path}"))
        self.pattern = match if isinstance(match, str) else None
        self.max_faults = max_faults
        self.max_per_key = max_per_key
        self.from_n = int(from_n)
        self.name = name or (self.pattern or "rule")
        self.injected = 0
        self.per_key = collections.Counter()

    def matches(self, method, path):
        """True when the request is in this rule's scope."""
        if self.methods is not None and method not in self.methods:
            return False
        return self._match is None or self._match(method, path)

    def has_budget(self, method, key):
        """Whether this rule may inject one more fault on ``method key``."""
        if self.max_faults is not None and self.injected >= self.max_faults:
            return False
        return self.max_per_key is None or self.per_key[(method, key)] < self.max_per_key


def _unit(seed, *parts):
    """Three independent numbers in [0, 1) from a hash of ``seed`` and ``parts``."""
    digest = hashlib.sha256("|".join(str(p) for p in (seed,) + parts).encode("utf-8")).digest()
    return [int.from_bytes(digest[i:i + 8], "big") / 2.0 ** 64 for i in (0, 8, 16)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, proxy):
        self.proxy = proxy
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address):  # quiet: clients that go away are normal here
        self.proxy.count("handler_errors")


class _Reset(Exception):
    """The connection was reset on purpose: stop handling it."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "regops-faultproxy"
    timeout = 120  # an idle keep-alive client connection is closed after this many seconds

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def setup(self):
        super().setup()
        self.proxy = self.server.proxy
        self.upstream = None
        self.proxy.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self._close_upstream()
            self.proxy.track(self.connection, False)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except _Reset:
            self.close_connection = True
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    # every method goes through the same code
    def do_GET(self):  # pylint: disable=invalid-name
        """Proxy the request (all methods)."""
        self._proxy()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- request body ---------------------------------------------------------
    def _body(self):
        """The request body as an iterator of byte strings (de-chunked), plus whether it came chunked."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(), True
        length = int(self.headers.get("Content-Length") or 0)
        return self._read_exact(length), False

    def _read_exact(self, length):
        while length > 0:
            data = self.rfile.read(min(_CHUNK, length))
            if not data:
                raise ConnectionError("client closed the connection in the middle of the body")
            length -= len(data)
            yield data

    def _read_chunked(self):
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("client closed the connection in a chunked body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are dropped
                return
            yield from self._read_exact(size)
            self.rfile.readline(65537)  # CRLF after the chunk

    # -- the proxy ------------------------------------------------------------
    def _proxy(self):
        method, path = self.command, self.path
        decision = self.proxy.decide(method, path)
        body, chunked = self._body()
        kind = decision.fault
        if kind is not None and kind not in FORWARDING_KINDS:
            for _chunk in body:  # the request is consumed but never forwarded
                pass
            if kind == "reset":
                self.proxy.finish(decision, None)
                self._reset()  # raises
            self._send_fault(decision)
            return
        buffered = None
        if not chunked and int(self.headers.get("Content-Length") or 0) <= _BUFFER_LIMIT:
            buffered = b"".join(body)  # a client that goes away here is not the upstream's fault
        try:
            response = self._forward(method, path, body, chunked, buffered)
        except (OSError, HTTPException) as exc:
            self._close_upstream()
            self.close_connection = True  # the request body may be half read
            self.proxy.count("upstream_errors")
            self.proxy.finish(decision, 502)
            self._send_plain(502, f"faultproxy: upstream failed: {exc!r}\n")
            return
        if kind in FORWARDING_KINDS:
            self._drain(response)
            if response.will_close:
                self._close_upstream()
            if kind == "reset_after":
                self.proxy.finish(decision, None, forwarded=True)
                self._reset()
            self._send_fault(decision, forwarded=True)
            return
        self.proxy.finish(decision, response.status, forwarded=True)
        self._relay(method, response)

    def _upstream_connection(self):
        conn = self.upstream
        if conn is not None and conn.sock is not None:
            try:  # dropped by the upstream while idle (readable at EOF)? then reconnect
                readable, _w, _x = select.select([conn.sock], [], [], 0)
            except (OSError, ValueError):
                readable = [True]
            if readable:
                self._close_upstream()
                conn = None
        if conn is None:
            conn = HTTPConnection(self.proxy.upstream_host, self.proxy.upstream_port, timeout=self.proxy.upstream_timeout)
            self.upstream = conn
        return conn

    def _close_upstream(self):
        if self.upstream is not None:
            try:
                self.upstream.close()
            except OSError:
                pass
            self.upstream = None

    def _forward(self, method, path, body, chunked, buffered):
        """Send the request upstream and return the ``HTTPResponse`` (headers read).

        ``buffered``: the whole body when it was small enough to read first, else None and ``body`` is streamed.
        """
        for attempt in (0, 1):
            conn = self._upstream_connection()
            reused = conn.sock is not None
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        conn.putheader(name, value)
                if chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                if buffered is not None:
                    if buffered:
                        conn.send(buffered)
                elif chunked:
                    for data in body:
                        conn.send(b"%x\r\n%s\r\n" % (len(data), data))
                    conn.send(b"0\r\n\r\n")
                else:
                    for data in body:
                        conn.send(data)
                return conn.getresponse()
            except (ConnectionError, HTTPException):
                # A keep-alive upstream connection closed under us answered nothing: send once more on a new one.
                self._close_upstream()
                if attempt or not reused or buffered is None:
                    raise
                self.proxy.count("upstream_reconnects")
        raise AssertionError("unreachable")

    @staticmethod
    def _drain(response):
        while response.read(_CHUNK):
            pass

    def _relay(self, method, response):
        """Copy the upstream answer to the client: status, end-to-end headers, body (streamed)."""
        status = response.status
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        upstream_close = response.will_close
        lines = [f"HTTP/1.1 {status} {response.reason}"]
        lines.extend(f"{k}: {v}" for k, v in headers)
        if no_body:
            response.read()
            payload = None
        elif response.chunked:
            lines.append("Transfer-Encoding: chunked")
            payload = "chunked"
        elif response.length is not None:
            payload = "length"
        else:  # body delimited by the upstream closing: buffer it and send a length
            data = response.read()
            lines = [line for line in lines if not line.lower().startswith("content-length:")]
            lines.append(f"Content-Length: {len(data)}")
            payload = data
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if payload == "chunked":
            while True:
                data = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
                if not data:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        elif payload == "length":
            while True:
                data = response.read(_CHUNK)
                if not data:
                    break
                self.wfile.write(data)
        elif payload:
            self.wfile.write(payload)
        self.wfile.flush()
        if upstream_close:
            self._close_upstream()

    def _send_fault(self, decision, forwarded=False):
        status = _STATUS[decision.fault]
        style = self.proxy.body
        if style == "mixed":
            style = "oci" if decision.u[2] < 0.5 else "plain"
        message = f"faultproxy: injected {decision.fault} (seed {self.proxy.seed}, {decision.method} {decision.key} #{decision.n})"
        headers = {}
        if style == "oci":
            body = json.dumps({"errors": [{"code": _OCI_CODES[status], "message": message, "detail": None}]}).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        else:
            body = (message + "\n").encode()
            headers["Content-Type"] = "text/plain; charset=utf-8"
        if status == 429:
            choices = self.proxy.retry_after
            choices = choices if isinstance(choices, (tuple, list)) else (choices,)
            headers["Retry-After"] = str(choices[int(decision.u[2] * len(choices)) % len(choices)])
        self.proxy.finish(decision, status, forwarded=forwarded)
        self._send_plain(status, body, headers)

    def _send_plain(self, status, body, headers=None):
        if isinstance(body, str):
            body = body.encode()
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
        for name, value in (headers or {"Content-Type": "text/plain; charset=utf-8"}).items():
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            payload += body
        self.wfile.write(payload)
        self.wfile.flush()

    def _reset(self):
        """Abort the client connection with a TCP RST (SO_LINGER 0, then close)."""
        sock = self.connection
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.proxy.track(sock, False)
        try:
            os.close(sock.detach())
        except OSError:
            pass
        raise _Reset()


Decision = collections.namedtuple("Decision", "seq method path key n rule fault u")


class FaultProxy:
    """The proxy; a context manager (``start()`` / ``stop()``). See the module docstring for the fault model.

    ``upstream``: a LocalRegistry-like object (``url``, and for :meth:`oci_args` ``auth``, ``username``,
    ``password``) or a URL. Faults come from ``rules`` (a list of :class:`FaultRule`), or from one rule built
    from ``rate``, ``kinds``, ``match``, ``max_faults``, ``max_per_key``, ``from_n``. ``key``: the
    normalization of request paths that the decisions hash (:func:`default_key`, :func:`key_without`).
    """

    def __init__(self, upstream, seed=0, rate=0.0, kinds=DEFAULT_KINDS, match=None, rules=None, max_faults=None,
                 max_per_key=None, from_n=0, retry_after=0, body="mixed", spare_probe=True, key=default_key,
                 upstream_timeout=60):
        if body not in ("oci", "plain", "mixed"):
            raise ValueError("body must be oci, plain or mixed")
        self.registry = None if isinstance(upstream, str) else upstream
        url = upstream if isinstance(upstream, str) else upstream.url
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError("the fault proxy speaks plain http to its upstream")
        self.upstream_url = url.rstrip("/")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self.seed = seed
        self.retry_after = retry_after
        self.body = body
        self.spare_probe = spare_probe
        self.key = key
        self.rules = list(rules) if rules is not None else (
            [FaultRule(rate=rate, kinds=kinds, match=match, max_faults=max_faults, max_per_key=max_per_key,
                       from_n=from_n, name="default")] if rate else [])
        self._lock = threading.Lock()
        self._occurrences = collections.Counter()
        self._log = []
        self._counters = collections.Counter()
        self._faults = collections.Counter()
        self._conns = set()
        self._server = None
        self._thread = None
        self.enabled = True

    # -- identity ------------------------------------------------------------
    @property
    def port(self):
        """The proxy's port."""
        return self._server.server_address[1]

    @property
    def host(self):
        """``127.0.0.1:PORT`` of the proxy."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        """``http://127.0.0.1:PORT`` of the proxy."""
        return "http://" + self.host

    def __getattr__(self, name):
        # auth, username, password, ... of the registry behind the proxy (SeedClient.for_registry, oci_task)
        registry = self.__dict__.get("registry")
        if registry is not None and name in ("auth", "username", "password", "reader_username", "reader_password"):
            return getattr(registry, name)
        raise AttributeError(name)

    def oci_args(self, username=None, password=None):
        """Module connection options (provider=oci) that go through the proxy."""
        args = self.registry.oci_args(username, password) if self.registry is not None else {"provider": "oci"}
        args["api_url"] = self.url
        return args

    # -- lifecycle -----------------------------------------------------------
    def start(self):
        """Listen on a free loopback port and serve in a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"faultproxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening and abort the open client connections."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def track(self, sock, add):
        """Remember open client connections (closed on stop)."""
        with self._lock:
            if add:
                self._conns.add(sock)
                self._counters["connections"] += 1
            else:
                self._conns.discard(sock)

    # -- configuration ---------------------------------------------------------
    def set_rules(self, *rules, seed=None):
        """Replace the rules (and optionally the seed); occurrence counts start again."""
        with self._lock:
            self.rules = list(rules)
            if seed is not None:
                self.seed = seed
            self._occurrences.clear()

    def pause(self):
        """Context manager: forward everything untouched while inside it."""
        proxy = self

        class _Paused:
            def __enter__(self):
                proxy.enabled = False
                return proxy

            def __exit__(self, *exc):
                proxy.enabled = True
        return _Paused()

    # -- decisions -------------------------------------------------------------
    def decide(self, method, path):
        """Decide (and count) the fate of one request; pure in (seed, rule, method, key, n) but for budgets."""
        key = self.key(method, path)
        with self._lock:
            seq = self._counters["seen"]
            self._counters["seen"] += 1
            n = self._occurrences[(method, key)]
            self._occurrences[(method, key)] += 1
            if not self.enabled or (self.spare_probe and (method, path) == PROBE):
                if (method, path) == PROBE:
                    self._counters["probes"] += 1
                return Decision(seq, method, path, key, n, None, None, (1.0, 0.0, 0.0))
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                u = _unit(self.seed, rule.name, method, key, n)
                fault = None
                if n >= rule.from_n and u[0] < rule.rate:
                    if rule.has_budget(method, key):
                        fault = rule.kinds[int(u[1] * len(rule.kinds)) % len(rule.kinds)]
                        rule.injected += 1
                        rule.per_key[(method, key)] += 1
                        self._faults[fault] += 1
                    else:
                        self._counters["over_budget"] += 1
                return Decision(seq, method, path, key, n, rule.name, fault, u)
            return Decision(seq, method, path, key, n, None, None, (1.0, 0.0, 0.0))

    def finish(self, decision, status, forwarded=False):
        """Record what the client got for ``decision``."""
        with self._lock:
            if forwarded:
                self._counters["forwarded"] += 1
            self._log.append(LogEntry(decision.seq, decision.method, decision.path, decision.key, decision.n,
                                      decision.rule, decision.fault, status))

    def count(self, name):
        """Bump an internal counter (upstream_errors, upstream_reconnects, handler_errors)."""
        with self._lock:
            self._counters[name] += 1

    # -- figures -----------------------------------------------------------------
    def stats(self):
        """``{"seen", "forwarded", "faults": {kind: n}, "faulted", "connections", "over_budget", "probes", ...}``.

        ``connections`` counts client connections accepted (keep-alive: far fewer than requests); ``over_budget``
        requests a rule would have faulted past its ``max_faults`` / ``max_per_key``; ``upstream_errors`` requests
        answered 502 because the upstream failed (not injected: a healthy run has none).
        """
        with self._lock:
            result = {name: self._counters[name] for name in ("seen", "forwarded", "connections", "probes", "over_budget",
                                                              "upstream_errors", "upstream_reconnects", "handler_errors")}
            result["faults"] = dict(sorted(self._faults.items()))
            result["faulted"] = sum(self._faults.values())
        return result

    def log(self):
        """The request log: :data:`LogEntry` per request answered (or reset), in order of completion."""
        with self._lock:
            return list(self._log)

    def faulted(self):
        """Log entries of the requests that got a fault."""
        return [entry for entry in self.log() if entry.fault]

    def wait_idle(self, timeout=5.0):
        """Wait until every request seen has been answered (or reset); True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._log) >= self._counters["seen"]:
                    return True
            time.sleep(0.01)
        return False

    def reset_counters(self):
        """Forget the log, counters and occurrence numbers (rules keep their settings, budgets start again)."""
        with self._lock:
            self._log.clear()
            self._counters.clear()
            self._faults.clear()
            self._occurrences.clear()
            for rule in self.rules:
                rule.injected = 0
                rule.per_key.clear()
