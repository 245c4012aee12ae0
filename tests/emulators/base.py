"""Reusable framework for stateful HTTP API emulators used by the tests.

An emulator is a subclass of :class:`EmulatorServer` that registers routes in
:meth:`EmulatorServer.setup_routes` and overrides a few hooks (``authenticate``,
``error_body``, ``reset_state``, ``seed``, ``configure``, ``dump_state``).

The framework gives every emulator:

* a ``ThreadingHTTPServer`` on 127.0.0.1 (free port by default) with
  ``start()``/``stop()``/context manager and ``.url``;
* routing by method + path template, matched against the RAW request path
  segment by segment (``{name}``, ``{name:int}``, ``{name:enc}``,
  ``{name:dblenc}``, ``{name:raw}``, see :data:`CONVERTERS`);
* a request log (:class:`RequestLog`) with masked credentials;
* switchable faults (429, 5xx, connection reset, latency), settable from
  Python and over HTTP through the unauthenticated ``/_emulator/`` endpoints;
* a standalone runner (:func:`run_standalone`).
"""
# Emulators are wide by nature (many routes, settings and record fields).
# pylint: disable=too-many-instance-attributes,too-many-arguments,too-many-positional-arguments,too-many-public-methods

import argparse
import dataclasses
import email.utils
import json
import re
import signal
import socket
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl, unquote

CONTROL_PREFIX = "/_emulator"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FAULT_KINDS = ("rate_limit", "error", "reset_connection", "latency")

# Header names whose values never reach the request log in clear.
SENSITIVE_HEADERS = frozenset({"authorization", "private-token", "job-token", "x-auth-token", "x-api-key", "cookie",
                               "proxy-authorization"})
# Query parameters that carry credentials (GitLab's private_token, access_token, job_token): masked in the log too.
SENSITIVE_QUERY = frozenset({"private_token", "access_token", "job_token"})


class ApiError(Exception):
    """Raised by handlers to answer with the provider's error body."""

    def __init__(self, status, message, exception_class=None, headers=None, **extra):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.exception_class = exception_class
        self.headers = dict(headers or {})
        self.extra = extra


@dataclass
class Response:
    """A handler's answer: ``body`` is JSON-encoded unless ``raw`` is given."""

    status: int = 200
    body: Any = None
    headers: Dict[str, str] = field(default_factory=dict)
    raw: Optional[bytes] = None
    content_type: str = "application/json"

    def payload(self):
        """Return the encoded body (empty for 204/304 and ``None`` bodies)."""
        if self.status in (204, 304) or self.status < 200:
            return b""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode("utf-8")


@dataclass
class Request:
    """An incoming request as seen by handlers."""

    method: str
    target: str
    path: str
    query_string: str
    headers: Any
    raw_body: bytes
    params: Dict[str, Any] = field(default_factory=dict)
    raw_params: Dict[str, str] = field(default_factory=dict)
    json: Any = None
    json_error: Optional[str] = None
    route: Optional[str] = None
    client_address: Optional[str] = None
    handled_s: float = 0.0  # seconds its handler held the emulator's lock
    received: float = 0.0

    @property
    def query(self):
        """Query parameters as ``{name: last value}`` (decoded once)."""
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @property
    def query_list(self):
        """Query parameters as a list of ``(name, value)`` pairs."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    def header(self, name, default=None):
        """Return a header value, header names being case-insensitive."""
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def has_body(self):
        """True when the request carried a non-blank body."""
        return bool(self.raw_body.strip())


# ---------------------------------------------------------------------------
# Path converters: each takes the RAW (still percent-encoded) path segment and
# returns the value or raises ValueError (= the route does not match).

def _conv_str(raw):
    """Decode once; a segment that decodes to something with ``/`` does not match.

    This mirrors servers that decode the path before routing: a single-encoded
    ``a%2Fb`` becomes two segments there, so it never reaches the handler.
    """
    value = unquote(raw)
    if "/" in value or value == "":
        raise ValueError(raw)
    return value


def _conv_int(raw):
    """Match ``[0-9]+`` only and return an int."""
    if not raw.isdigit() or not raw.isascii():
        raise ValueError(raw)
    return int(raw)


def _conv_enc(raw):
    """Decode once; ``/`` allowed (GitLab-style ``group%2Fproject``)."""
    value = unquote(raw)
    if value == "":
        raise ValueError(raw)
    return value


def _conv_dblenc(raw):
    """Double-encoded segment: ``a%252Fb`` -> ``a/b``; ``a%2Fb`` does not match."""
    return unquote(_conv_str(raw))


def _conv_raw(raw):
    """No decoding at all."""
    if raw == "":
        raise ValueError(raw)
    return raw


CONVERTERS: Dict[str, Callable[[str], Any]] = {
    "str": _conv_str,
    "int": _conv_int,
    "enc": _conv_enc,
    "dblenc": _conv_dblenc,
    "raw": _conv_raw,
}

_PARAM_RE = re.compile(r"^\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<conv>[A-Za-z_]+))?\}$")


class Route:  # pylint: disable=too-few-public-methods
    """One ``METHOD /path/{param:conv}`` route."""

    def __init__(self, method, template, handler, name=None):
        self.method = method.upper()
        self.template = template
        self.handler = handler
        self.name = name or f"{self.method} {template}"
        self.segments = []
        for seg in template.strip("/").split("/"):
            match = _PARAM_RE.match(seg)
            if match:
                conv = match.group("conv") or "str"
                if conv not in CONVERTERS:
                    raise ValueError(f"unknown converter {conv!r} in {template}")
                self.segments.append((match.group("name"), CONVERTERS[conv]))
            else:
                self.segments.append((None, seg))

    def match(self, raw_path):
        """Return ``(params, raw_params)`` if ``raw_path`` matches, else ``None``."""
        parts = raw_path.strip("/").split("/") if raw_path.strip("/") else []
        if not raw_path.startswith("/") or len(parts) != len(self.segments):
            return None
        if raw_path.endswith("/") and raw_path != "/":
            return None
        params, raw_params = {}, {}
        for (name, spec), part in zip(self.segments, parts):
            if name is None:
                if part != spec:
                    return None
                continue
            try:
                params[name] = spec(part)
            except ValueError:
                return None
            raw_params[name] = part
        return params, raw_params


# ---------------------------------------------------------------------------
# Request log

@dataclass
class LogRecord:
    """One logged API request (control endpoints are never logged)."""

    method: str
    path: str
    target: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: Any
    raw_body: str
    status: Optional[int]
    route: Optional[str] = None
    params: Dict[str, Any] = field(default_factory=dict)
    fault: Optional[str] = None
    timestamp: float = 0.0  # when it was answered
    received: float = 0.0  # when it came in (before a latency fault's wait)
    # seconds the handler held the emulator's lock: the emulator answers one request at a time, so no client can be
    # faster than the sum of these (bench/providers.py reports it beside the latency floor)
    handled_s: float = 0.0

    @property
    def mutating(self):
        """True for POST/PUT/PATCH/DELETE."""
        return self.method in MUTATING_METHODS

    def to_dict(self):
        """JSON-friendly dict."""
        return asdict(self)


def mask_header(name, value):
    """Mask a credential header, keeping the auth scheme visible."""
    if name.lower() not in SENSITIVE_HEADERS:
        return value
    if name.lower() in ("authorization", "proxy-authorization") and " " in value.strip():
        return value.strip().split(" ", 1)[0] + " ***"
    return "***"


class RequestLog:
    """Thread-safe list of :class:`LogRecord`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._records: List[LogRecord] = []

    def append(self, record):
        """Add a record."""
        with self._lock:
            self._records.append(record)

    @property
    def records(self):
        """A copy of all records, oldest first."""
        with self._lock:
            return list(self._records)

    def __iter__(self):
        return iter(self.records)

    def __len__(self):
        with self._lock:
            return len(self._records)

    def __getitem__(self, index):
        return self.records[index]

    def clear(self):
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def filter(self, method=None, path_prefix=None, status=None):
        """Records matching all the given criteria."""
        out = []
        for rec in self.records:
            if method is not None and rec.method != method.upper():
                continue
            if path_prefix is not None and not rec.path.startswith(path_prefix):
                continue
            if status is not None and rec.status != status:
                continue
            out.append(rec)
        return out

    def count(self, method=None, path_prefix=None):
        """Number of records for ``method`` and/or under ``path_prefix``."""
        return len(self.filter(method=method, path_prefix=path_prefix))

    def mutating(self):
        """Records of POST/PUT/PATCH/DELETE requests."""
        return [rec for rec in self.records if rec.mutating]

    def last(self):
        """The newest record or ``None``."""
        records = self.records
        return records[-1] if records else None


# ---------------------------------------------------------------------------
# Faults

def http_date(seconds_from_now=0.0):
    """An RFC 7231 HTTP-date, e.g. for ``Retry-After``."""
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@dataclass
class Fault:
    """A switchable fault; ``times=None`` means until cleared."""

    kind: str
    times: Optional[int] = 1
    method: Optional[str] = None
    path_prefix: Optional[str] = None
    status: Optional[int] = None
    retry_after: Optional[str] = None
    seconds: float = 0.0
    message: Optional[str] = None
    exception_class: Optional[str] = None
    body: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)
    hits: int = 0
    id: int = 0

    def matches(self, method, path):
        """True if this fault applies to the request and is not used up."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path_prefix is not None and not path.startswith(self.path_prefix):
            return False
        return True

    @property
    def remaining(self):
        """Hits left (``None`` = unlimited)."""
        return None if self.times is None else max(self.times - self.hits, 0)

    def to_dict(self):
        """JSON-friendly dict."""
        data = asdict(self)
        data["remaining"] = self.remaining
        return data

    @classmethod
    def from_dict(cls, data):
        """Build from the JSON accepted by ``POST /_emulator/faults``."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        data = dict(data)
        kind = data.pop("kind", data.pop("type", None))
        if kind == "server_error":
            kind = "error"
            data.setdefault("status", 503)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS + ('server_error',))}")
        known = {f.name for f in dataclasses.fields(cls) if f.name not in ("kind", "hits", "id")}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if kind == "latency":
            data.setdefault("times", None)
        if data.get("retry_after") is not None:
            data["retry_after"] = str(data["retry_after"])
        return cls(kind=kind, **data)


class FaultSet:
    """Thread-safe, ordered collection of faults."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults: List[Fault] = []
        self._next_id = 1

    def add(self, fault):
        """Register a fault and return it."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        if fault.method:
            fault.method = fault.method.upper()
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self):
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self):
        """A copy of the registered faults."""
        with self._lock:
            return list(self._faults)

    def take(self, method, path):
        """Consume matching faults: ``(latency_seconds, fault or None)``.

        All matching latency faults add up; the first matching non-latency
        fault (in registration order) is consumed and returned.
        """
        delay, chosen = 0.0, None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.kind == "latency":
                    fault.hits += 1
                    delay += float(fault.seconds)
                elif chosen is None:
                    fault.hits += 1
                    chosen = fault
        return delay, chosen


# ---------------------------------------------------------------------------
# HTTP plumbing

class _Handler(BaseHTTPRequestHandler):
    """Dispatches every method to the owning emulator."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are written separately: avoid 40 ms delayed-ACK stalls
    server_version = "RegopsEmulator/1.0"
    emulator: "EmulatorServer" = None  # set per server class

    def _dispatch(self):
        self.emulator.handle_http(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.emulator.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with daemon threads and quick address reuse."""

    daemon_threads = True
    allow_reuse_address = True


class EmulatorServer:
    """Base class of every provider emulator (see module docstring)."""

    provider = "generic"
    default_port = 0

    def __init__(self, host="127.0.0.1", port=0, verbose=False):
        self.host = host
        self.port = port
        self.verbose = verbose
        self.lock = threading.RLock()
        self.log = RequestLog()
        self.faults = FaultSet()
        self.routes: List[Route] = []
        self._httpd = None
        self._thread = None
        self.setup_routes()

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        """Bind and serve in a background thread; returns ``self``."""
        if self._httpd is not None:
            return self
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"emulator": self})
        self._httpd = _Server((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.provider}-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and release the port."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    # -- hooks for providers -------------------------------------------------
    def setup_routes(self):
        """Register routes with :meth:`route` (override)."""

    def authenticate(self, request):
        """Raise :class:`ApiError` if ``request`` is not authenticated (override)."""

    def error_body(self, status, message, exception_class=None, request=None, **extra):
        """Provider error body (override); the default is ``{"message": ...}``.

        A ``str`` (or ``bytes``) return value is sent as ``text/plain`` instead of JSON.
        """
        del status, exception_class, request
        body = {"message": message}
        body.update(extra)
        return body

    def error_headers(self, status, request=None):
        """Extra headers for error answers (override)."""
        del status, request
        return {}

    def reset_state(self):
        """Forget all provider state (override)."""

    def seed(self, data):
        """Provider-specific seeding from a JSON document (override)."""
        raise ApiError(400, f"seeding is not supported by the {self.provider} emulator")

    def configure(self, **settings):
        """Change provider settings (override); returns the new settings."""
        if settings:
            raise ApiError(400, f"unknown setting(s): {', '.join(sorted(settings))}")
        return {}

    def settings(self):
        """Current provider settings (override)."""
        return {}

    def dump_state(self):
        """Provider state as JSON (override)."""
        return {}

    # -- routing -------------------------------------------------------------
    def route(self, method, template, handler, name=None):
        """Register ``handler(request) -> Response | (status, body)``."""
        self.routes.append(Route(method, template, handler, name))

    def resolve(self, method, raw_path):
        """Return ``(route, params, raw_params)``; raise 404/405 :class:`ApiError`."""
        allowed = []
        for route in self.routes:
            matched = route.match(raw_path)
            if matched is None:
                continue
            if route.method == method:
                return route, matched[0], matched[1]
            allowed.append(route.method)
        if allowed:
            raise ApiError(405, f"Method {method} is not allowed for this resource", headers={"Allow": ", ".join(sorted(set(allowed)))})
        raise ApiError(404, "Not found")

    # -- faults (Python API) -------------------------------------------------
    def add_fault(self, fault):
        """Register a :class:`Fault` (or its dict form)."""
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        return self.faults.add(fault)

    def rate_limit(self, times=1, retry_after="1", method=None, path_prefix=None, message="Too many requests"):
        """Next ``times`` matching requests get 429 (+ ``Retry-After`` unless ``None``)."""
        return self.add_fault(Fault("rate_limit", times=times, method=method, path_prefix=path_prefix, status=429,
                                    retry_after=None if retry_after is None else str(retry_after), message=message))

    def server_error(self, times=1, status=503, method=None, path_prefix=None, message=None, body=None):
        """Next ``times`` matching requests get ``status`` (``body``: raw text instead of JSON)."""
        return self.error(status=status, times=times, method=method, path_prefix=path_prefix, message=message, body=body)

    def error(self, status, times=1, method=None, path_prefix=None, message=None, exception_class=None, body=None, headers=None):
        """Generic injected error answer with the provider's error body."""
        return self.add_fault(Fault("error", times=times, method=method, path_prefix=path_prefix, status=int(status),
                                    message=message, exception_class=exception_class, body=body, headers=dict(headers or {})))

    def reset_connection(self, times=1, method=None, path_prefix=None):
        """Next ``times`` matching requests: close the socket without answering."""
        return self.add_fault(Fault("reset_connection", times=times, method=method, path_prefix=path_prefix))

    def latency(self, seconds, times=None, method=None, path_prefix=None):
        """Delay matching requests by ``seconds`` (until cleared unless ``times``)."""
        return self.add_fault(Fault("latency", times=times, method=method, path_prefix=path_prefix, seconds=float(seconds)))

    def clear_faults(self):
        """Remove every fault."""
        self.faults.clear()

    def reset(self):
        """Clear faults, the request log and all provider state."""
        self.faults.clear()
        self.log.clear()
        with self.lock:
            self.reset_state()

    # -- request handling ----------------------------------------------------
    def _error_response(self, err, request=None):
        body = self.error_body(err.status, err.message, err.exception_class, request=request, **err.extra)
        headers = self.error_headers(err.status, request)
        headers.update(err.headers)
        if isinstance(body, (str, bytes)):  # a provider that answers some errors in plain text (GitLab's 429)
            raw = body.encode("utf-8") if isinstance(body, str) else body
            return Response(err.status, headers=headers, raw=raw, content_type="text/plain; charset=utf-8")
        return Response(err.status, body, headers)

    def _fault_response(self, fault, request):
        headers = dict(fault.headers)
        if fault.kind == "rate_limit":
            status = fault.status or 429
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
        else:
            status = fault.status or 503
        if fault.body is not None:
            return Response(status, headers=headers, raw=fault.body.encode("utf-8"), content_type="text/html; charset=utf-8")
        err = ApiError(status, fault.message or _default_reason(status), fault.exception_class, headers=headers)
        return self._error_response(err, request)

    def handle_request(self, request):
        """Authenticate, route and run the handler; always returns a Response."""
        try:
            self.authenticate(request)
            route, params, raw_params = self.resolve(request.method, request.path)
            request.params, request.raw_params, request.route = params, raw_params, route.template
            with self.lock:
                started = time.perf_counter()
                try:
                    result = route.handler(request)
                finally:
                    request.handled_s = time.perf_counter() - started
        except ApiError as err:
            return self._error_response(err, request)
        except Exception as exc:  # pylint: disable=broad-except
            traceback.print_exc()
            return self._error_response(ApiError(500, f"Internal emulator error: {exc!r}"), request)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            return Response(result[0], result[1] if len(result) > 1 else None)
        return Response(200, result)

    def handle_http(self, handler):
        """Entry point from the HTTP handler thread."""
        received = time.time()
        target = handler.path
        path, _unused, query_string = target.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length > 0 else b""
        request = Request(method=handler.command, target=target, path=path, query_string=query_string,
                          headers=handler.headers, raw_body=raw_body, client_address=handler.client_address[0], received=received)
        if raw_body.strip():
            try:
                request.json = json.loads(raw_body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                request.json_error = str(exc)
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._send(handler, self._handle_control(request))
            return
        delay, fault = self.faults.take(request.method, path)
        if delay:
            time.sleep(delay)
        response = None
        if fault is not None and fault.kind == "reset_connection":
            self._record(request, None, fault.kind)
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None:
            response = self._fault_response(fault, request)
        else:
            response = self.handle_request(request)
        self._record(request, response.status, fault.kind if fault else None)
        self._send(handler, response)

    def _record(self, request, status, fault_kind):
        headers = {name: mask_header(name, value) for name, value in request.headers.items()}
        query, target = request.query, request.target
        if SENSITIVE_QUERY.intersection(query):
            query = {name: "***" if name in SENSITIVE_QUERY else value for name, value in query.items()}
            names = "|".join(sorted(SENSITIVE_QUERY))
            target = re.sub(rf"([?&](?:{names})=)[^&]*", r"\1***", target)
        self.log.append(LogRecord(
            method=request.method, path=request.path, target=target, query=query, headers=headers,
            body=request.json, raw_body=request.raw_body.decode("utf-8", "replace"), status=status, route=request.route,
            params=dict(request.params), fault=fault_kind, timestamp=time.time(), received=request.received,
            handled_s=request.handled_s))

    @staticmethod
    def _send(handler, response):
        payload = response.payload()
        if handler.command == "HEAD":
            payload = b""
        handler.send_response(response.status)
        if response.status not in (204, 304) and response.status >= 200:
            handler.send_header("Content-Length", str(len(payload)))
            if payload:
                handler.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if payload:
            handler.wfile.write(payload)

    # -- control endpoints ---------------------------------------------------
    def _handle_control(self, request):  # pylint: disable=too-many-return-statements,too-many-branches
        """``/_emulator/*``: no auth, no faults, not logged."""
        sub = request.path[len(CONTROL_PREFIX):].strip("/")
        key = (request.method, sub)
        try:
            if request.json_error:
                raise ApiError(400, f"invalid JSON: {request.json_error}")
            body = request.json
            if key == ("GET", "faults"):
                return Response(200, [f.to_dict() for f in self.faults.list()])
            if key == ("POST", "faults"):
                items = body if isinstance(body, list) else [body or {}]
                try:
                    added = [self.add_fault(Fault.from_dict(item)) for item in items]
                except (TypeError, ValueError) as exc:
                    raise ApiError(400, str(exc)) from exc
                return Response(201, [f.to_dict() for f in added])
            if key == ("DELETE", "faults"):
                self.clear_faults()
                return Response(204)
            if key == ("POST", "reset"):
                self.reset()
                return Response(204)
            if key == ("GET", "log"):
                return Response(200, [rec.to_dict() for rec in self.log.records])
            if key == ("DELETE", "log"):
                self.log.clear()
                return Response(204)
            if key == ("POST", "seed"):
                with self.lock:
                    return Response(201, self.seed(body if body is not None else {}))
            if key == ("GET", "config"):
                return Response(200, self.settings())
            if key == ("POST", "config"):
                if body is not None and not isinstance(body, dict):
                    raise ApiError(400, "config must be a JSON object")
                with self.lock:
                    return Response(200, self.configure(**(body or {})))
            if key == ("GET", "state"):
                with self.lock:
                    return Response(200, self.dump_state())
            raise ApiError(404, f"unknown control endpoint {request.method} {request.path}")
        except ApiError as err:
            return Response(err.status, {"error": err.message, **err.extra})
        except (TypeError, ValueError, KeyError) as exc:
            return Response(400, {"error": f"{type(exc).__name__}: {exc}"})


def _default_reason(status):
    """Short standard reason phrase."""
    reasons = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
               409: "Conflict", 429: "Too many requests", 500: "Internal server error", 502: "Bad gateway",
               503: "Service unavailable", 504: "Gateway timeout"}
    return reasons.get(status, f"HTTP {status}")


def new_request_id():
    """A random request id (UUID4 string)."""
    return str(uuid.uuid4())


# ---------------------------------------------------------------------------
# Standalone runner

def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def run_standalone(factory: Callable[[argparse.Namespace], EmulatorServer], argv=None, description=None,
                   default_port=8081, add_arguments=None, banner=None) -> int:
    """Serve an emulator in the foreground until Ctrl-C.

    ``factory(args)`` builds the emulator, ``add_arguments(parser)`` adds
    provider options, ``banner(emulator)`` returns extra lines to print.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port}; 0 = any free port)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print an access log line per request")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    emulator = factory(args)
    emulator.host, emulator.port, emulator.verbose = args.host, args.port, args.verbose
    # SIGTERM stops it as cleanly as Ctrl-C (a process started in the background ignores SIGINT). Installed before the
    # banner: whoever reads the banner may send it at once.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        emulator.start()
        print(f"{emulator.provider} emulator listening on {emulator.url}", flush=True)
        for line in (banner(emulator) if banner else []):
            print(line, flush=True)
        print(f"control endpoints: {emulator.url}{CONTROL_PREFIX}/{{faults,reset,log,seed,config,state}}; Ctrl-C to stop", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        emulator.stop()
    return 0


__all__ = [
    "ApiError", "CONTROL_PREFIX", "CONVERTERS", "EmulatorServer", "Fault", "FaultSet", "LogRecord", "MUTATING_METHODS",
    "Request", "RequestLog", "Response", "Route", "http_date", "mask_header", "new_request_id", "run_standalone",
]
