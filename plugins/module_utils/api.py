# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one HTTP client.

PRIVATE to the collection: the interface may change without notice.

Everything that talks to a registry API goes through ``ApiClient``: one
``requests.Session`` (keep-alive, a connection pool sized for the worker pool),
the auth scheme of the provider, timeouts, TLS settings, retries with jittered
exponential backoff that honours ``Retry-After``, the pagination styles the
providers use, and typed errors that carry the provider's own message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import email.utils
import random
import re
import threading
import time
import traceback

from concurrent.futures import ThreadPoolExecutor

try:
    from urllib.parse import parse_qsl, unquote, urljoin, urlencode, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    parse_qsl = unquote = urljoin = urlencode = urlsplit = urlunsplit = None

try:
    import requests
    from requests.adapters import HTTPAdapter
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None


# The one retry policy, by method and status (see ``retry_decision``).
# Requests that are safe to repeat are retried on 429, on every 5xx but the two
# that say the server will never do it (501, 505), and on connection errors.
NEVER_RETRIED_5XX = frozenset((501, 505))
# POST and PATCH that create or change are not idempotent: one that reached the
# server must not be sent twice. They are retried only where the server said it
# did not act (429, 503) or the connection was never made.
NOT_ACTED_STATUSES = frozenset((429, 503))
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS"))
# The released version of the collection (galaxy.yml; a unit test keeps them equal).
USER_AGENT = "regops.registry/0.5.0 (Ansible collection)"
# GitHub: "If you receive a secondary rate limit error without retry-after ... wait for at least one minute".
SECONDARY_LIMIT_WAIT = 60.0


class ApiError(Exception):
    """An API call failed. ``message`` is the provider's own text where it sent one."""

    def __init__(self, message, status=None, method=None, url=None, code=None, body=None, request_id=None):
        super(ApiError, self).__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        self.code = code
        self.body = body
        self.request_id = request_id
        # How many times the request was sent: an answer to a repeated request may be about the first one (a 404 to a
        # DELETE repeated after a connection reset: the first one went through).
        self.attempts = 1

    def __str__(self):
        where = ""
        if self.method and self.url:
            where = "%s %s" % (self.method, self.url)
        parts = []
        if self.status is not None:
            parts.append("HTTP %s" % self.status)
        if where:
            parts.append(where)
        text = self.message or ""
        if self.code and self.code not in text:
            text = "%s: %s" % (self.code, text)
        if self.request_id:
            text = "%s (request_id %s)" % (text, self.request_id)
        return "%s: %s" % (" ".join(parts), text) if parts else text


class NotFoundError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class AuthError(ApiError):
    pass


class AlreadyGone(ApiError):
    """An item found at the read and gone at the delete (another run, or a person, deleted it in between): reported
    ``absent``, not ``deleted``, so that a report never counts what this run did not do (the bytes it freed)."""

    outcome = "absent"

    @classmethod
    def since_read(cls, what=None):
        """``<what> is already gone: deleted since it was read (by another run, or by hand)``; without ``what``, said of
        the item itself."""
        return cls("%salready gone: deleted since it was read (by another run, or by hand)" % ("%s is " % what if what else ""))


class UnsupportedError(Exception):
    """Asked for something a provider cannot do. Raised before any request is sent."""


def error_for_status(status):
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status in (401, 403):
        return AuthError
    return ApiError


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if re.match(r"^\d+(\.\d+)?$", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(attempt, base=0.5, cap=30.0, rand=random.random):
    """Full-jitter exponential backoff for retry number ``attempt`` (0-based)."""
    return min(cap, base * (2 ** attempt)) * (0.5 + rand() / 2)


def never_sent(exc):
    """True when a connection error ``exc`` came before the request left this machine (so the server cannot have acted)."""
    return isinstance(exc, requests.exceptions.ConnectTimeout) or "NewConnectionError" in repr(exc)


def retry_decision(repeatable, status=None, exc=None):
    """The collection's one retry policy: may a request that got ``status`` (or raised ``exc``) be sent again?

    ``repeatable`` says whether sending the request twice is harmless (see ``ApiClient.request``).
    A certificate failure is never retried: it would fail the same way every time.
    """
    if exc is not None:
        if isinstance(exc, requests.exceptions.SSLError):
            return False
        return repeatable or never_sent(exc)
    if status is None:
        return False
    if status in NOT_ACTED_STATUSES:
        return True
    return repeatable and status >= 500 and status not in NEVER_RETRIED_5XX


def rate_limit_wait(status, headers, message=None, now=None):
    """For a 403 or 429 that says a rate limit was hit: the seconds to wait before sending again; else None.

    ``Retry-After`` first; then, when the budget is used up (``x-ratelimit-remaining: 0``), until
    ``x-ratelimit-reset`` (epoch seconds); then a 403 whose message names a rate limit (GitHub's secondary limit
    without ``Retry-After``): a minute, as GitHub asks. A plain 403 (no permission) is not a rate limit. A 429
    without these headers gets the client's backoff (0.0 here means "no hint").
    """
    if status not in (403, 429):
        return None
    headers = headers or {}
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    if str(headers.get("x-ratelimit-remaining", "")).strip() == "0":
        reset = str(headers.get("x-ratelimit-reset", "")).strip()
        if reset.isdigit():
            now = time.time() if now is None else now
            return max(0.0, float(reset) - now)
        return SECONDARY_LIMIT_WAIT
    if status == 403 and message and "rate limit" in str(message).lower():
        return SECONDARY_LIMIT_WAIT
    return 0.0 if status == 429 else None


def tls_failure_message(exc, url):
    """What went wrong in a TLS handshake, and how to fix it (no query string, no credentials)."""
    host = urlsplit(url).hostname or ""
    port = urlsplit(url).port
    where = "%s:%s" % (host, port) if port else host
    text = str(exc)
    if "Hostname mismatch" in text or "doesn't match" in text:
        return ("the TLS certificate of %s is not valid for that host name: connect with a name the certificate lists, "
                "or validate_certs: false for a test registry" % where)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        reason = re.search(r"certificate verify failed: ([^(')\]]+)", text)
        return ("the TLS certificate of %s could not be verified%s: set ca_path to the CA bundle (or directory) that "
                "signed it, or validate_certs: false for a test registry" % (where, " (%s)" % reason.group(1).strip() if reason else ""))
    return "the TLS handshake with %s failed: check that this scheme and port serve HTTPS (%s)" % (
        where, re.sub(r"\s+", " ", text)[:200])


def split_api_url(value, option="api_url"):
    """``(url, username, password)`` from a URL a user wrote: credentials taken out, ``https://`` when no scheme.

    Raises ValueError naming ``option`` when the value is not an http(s) URL with a host. The message never
    repeats a password written into the URL.
    """
    text = (value or "").strip()
    shown = re.sub(r"//[^/@]*@", "//", text)
    if not text or re.search(r"\s", text):
        raise ValueError("%s must be the http(s) URL of the API, for example https://registry.example.com; got '%s'" % (option, shown))
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    host_ok = bool(parts.hostname) and (":" in parts.hostname or re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", parts.hostname))
    if parts.scheme not in ("http", "https") or not host_ok or port == -1 or parts.query or parts.fragment:
        raise ValueError("%s must be the http(s) URL of the API (scheme, host, optional port and path, no query), "
                         "for example https://registry.example.com; got '%s'" % (option, shown))
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    netloc = parts.hostname if ":" not in parts.hostname else "[%s]" % parts.hostname
    if port:
        netloc += ":%d" % port
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")), username, password


def parse_link_header(value):
    """``Link`` header → {rel: url}."""
    links = {}
    if not value:
        return links
    for part in value.split(","):
        match = re.match(r'\s*<([^>]*)>\s*(.*)', part)
        if not match:
            continue
        url, params = match.groups()
        rel = re.search(r'rel="?([^";]+)"?', params)
        if rel:
            for name in rel.group(1).split():
                links[name] = url
    return links


class HeaderAuth:
    """A fixed header on every request: ``APIKey x``, ``Bearer x``, ``PRIVATE-TOKEN: x``."""

    def __init__(self, header, value):
        self.header = header
        self.value = value

    def apply(self, method, url, headers):
        headers[self.header] = self.value

    def handle_challenge(self, client, method, url, response):
        return False


class BasicAuth(HeaderAuth):
    def __init__(self, username, password):
        raw = ("%s:%s" % (username, password or "")).encode("utf-8")
        super(BasicAuth, self).__init__("Authorization", "Basic " + base64.b64encode(raw).decode("ascii"))


class NoAuth:
    def apply(self, method, url, headers):
        pass

    def handle_challenge(self, client, method, url, response):
        return False


# The headers a redirect to another origin keeps: content negotiation and the transfer. Everything else, whatever a
# provider's auth put there (Authorization, PRIVATE-TOKEN, JOB-TOKEN, x-ncp-iam-access-key and signature, ...), is dropped,
# so a credential never reaches a host it was not meant for (a registry's blob redirect to object storage, for one).
CROSS_ORIGIN_HEADERS = frozenset(("user-agent", "accept", "accept-encoding", "connection", "range", "content-type",
                                  "content-length", "transfer-encoding"))


def origin(url):
    """``(scheme, host, port)`` of ``url``, with the scheme's default port filled in."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


if HAS_REQUESTS:
    class OriginBoundSession(requests.Session):
        """A session whose redirects carry credentials only within the origin they were sent to.

        requests itself drops only ``Authorization``, and keeps it from http to https on the same host.
        """

        def rebuild_auth(self, prepared_request, response):
            if origin(response.request.url) != origin(prepared_request.url):
                for name in list(prepared_request.headers):
                    if name.lower() not in CROSS_ORIGIN_HEADERS:
                        del prepared_request.headers[name]
            super(OriginBoundSession, self).rebuild_auth(prepared_request, response)


class ApiClient:
    """One keep-alive session, shared by every worker of a module run."""

    def __init__(self, base_url, auth=None, validate_certs=True, ca_path=None, timeout=30, retries=5,
                 retry_max_delay=60.0, concurrency=8, error_parser=None, headers=None, warn=None, sleep=time.sleep):
        self.base_url = base_url.rstrip("/") + "/"
        self.auth = auth or NoAuth()
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.retry_max_delay = float(retry_max_delay)
        self.concurrency = max(1, int(concurrency))
        self.error_parser = error_parser or default_error_parser
        self.warn = warn
        self.sleep = sleep
        self.requests_sent = 0
        self.retried = 0
        self._count_lock = threading.Lock()
        self.session = OriginBoundSession()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, self.concurrency * 2), max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        # requests would otherwise read ~/.netrc and override our auth
        self.session.trust_env = True
        self.session.auth = lambda r: r
        self.session.verify = (ca_path or True) if validate_certs else False

    # -- URLs ---------------------------------------------------------------
    def url(self, path):
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return urljoin(self.base_url, path.lstrip("/"))

    def same_origin(self, url):
        return origin(self.base_url) == origin(url)

    # -- requests -----------------------------------------------------------
    def request(self, method, path, params=None, json=None, data=None, headers=None, expected=None,
                allow_redirects=True, auth=True, idempotent=None):
        """Send a request with retries; return the ``requests.Response`` or raise ``ApiError``.

        ``expected`` is a collection of acceptable status codes (default: any 2xx). ``idempotent`` marks a
        request that is safe to repeat whatever its method (the POST that opens an OCI blob upload); by
        default GET, HEAD, PUT, DELETE and OPTIONS are, POST and PATCH are not.
        """
        method = method.upper()
        url = self.url(path)
        repeatable = method in IDEMPOTENT_METHODS if idempotent is None else bool(idempotent)
        attempt = 0
        challenged = False
        while True:
            send_headers = dict(headers or {})
            if auth and self.same_origin(url):
                self.auth.apply(method, url, send_headers)
            try:
                with self._count_lock:
                    self.requests_sent += 1
                # verify is passed explicitly: with trust_env, requests lets REQUESTS_CA_BUNDLE override session.verify
                # (even validate_certs=False and ca_path).
                response = self.session.request(method, url, params=params, json=json, data=data, headers=send_headers,
                                                timeout=self.timeout, allow_redirects=allow_redirects, verify=self.session.verify)
            except requests.exceptions.SSLError as exc:
                raise ApiError(tls_failure_message(exc, url), method=method, url=self._safe(url))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt < self.retries and retry_decision(repeatable, exc=exc):
                    self._pause(attempt, None, "%s %s: %s" % (method, self._safe(url), type(exc).__name__))
                    attempt += 1
                    continue
                message = "connection failed: %s" % exc.__class__.__name__
                if not repeatable and not never_sent(exc):
                    message += (" (the %s may have been carried out before its answer was lost; it is not sent again: the "
                                "next run reads the current state first)" % method)
                raise ApiError(message, method=method, url=self._safe(url))
            status = response.status_code
            if status == 401 and auth and not challenged and self.auth.handle_challenge(self, method, url, response):
                challenged = True
                continue
            limited = self._rate_limited(response)
            if limited is not None and limited > self.retry_max_delay and response.headers.get("Retry-After") is None:
                # The budget is used up until x-ratelimit-reset: a shorter wait would only be refused again.
                raise self._rate_limit_error(method, url, response, limited)
            if attempt < self.retries and (limited is not None or retry_decision(repeatable, status=status)):
                # A request refused by a rate limit was not acted on: any method may be sent again.
                why = "%s %s answered %s%s" % (method, self._safe(url), status, " (rate limit)" if limited is not None else "")
                delay = parse_retry_after(response.headers.get("Retry-After"))
                self._pause(attempt, limited or None if delay is None else delay, why)
                attempt += 1
                continue
            ok = (status in expected) if expected else (200 <= status < 300)
            if not ok:
                error = self.error(method, url, response)
                error.attempts = attempt + 1
                raise error
            return response

    def _rate_limited(self, response):
        if response.status_code not in (403, 429):
            return None
        message = None
        if response.status_code == 403:
            message = self.error_parser(response)[0]
        return rate_limit_wait(response.status_code, response.headers, message)

    def _rate_limit_error(self, method, url, response, wait):
        error = self.error(method, url, response)
        reset = response.headers.get("x-ratelimit-reset")
        when = ""
        if reset and str(reset).strip().isdigit():
            when = " at %s" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(reset)))
        error.message = ("rate limit reached (%s): the API allows the next request in %d s%s, longer than this client waits "
                         "(%d s); nothing more was sent, run again later" % (error.message, int(wait), when, int(self.retry_max_delay)))
        return error

    def _pause(self, attempt, retry_after, why):
        delay = backoff_delay(attempt, cap=self.retry_max_delay)
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), self.retry_max_delay)
        with self._count_lock:
            self.retried += 1
        if self.warn:
            self.warn("%s; retry %d of %d in %.1fs" % (why, attempt + 1, self.retries, delay))
        self.sleep(delay)

    @staticmethod
    def _safe(url):
        """The URL without a query string (which may carry secrets)."""
        return url.split("?", 1)[0]

    def error(self, method, url, response):
        message, code, request_id = self.error_parser(response)
        cls = error_for_status(response.status_code)
        body = None
        try:
            body = response.json()
        except ValueError:
            body = response.text[:2000] if response.text else None
        challenge = response.headers.get("WWW-Authenticate") or ""
        if response.status_code in (401, 403) and "insufficient_scope" in challenge:
            # RFC 6750: authenticated, but the token does not grant what this request needs
            scope = re.search(r'scope="([^"]*)"', challenge)
            message = "%s (insufficient_scope: the account is not granted %s)" % (
                message or response.reason, scope.group(1) if scope else "the access this request needs")
        return cls(message or response.reason or "request failed", status=response.status_code, method=method,
                   url=self._safe(url), code=code, body=body, request_id=request_id)

    def delete(self, path, expected=None, **kwargs):
        """DELETE ``path``: True when this request deleted it, False when it was gone before the request was sent.

        The collection's one reading of a 404 to a DELETE: to the first attempt, the item was gone already (another run,
        or a person, deleted it); to a request sent again (after a connection reset or a 5xx), it is about the first one,
        which went through and whose answer was lost: deleted by this request. Other errors are raised."""
        try:
            self.request("DELETE", path, expected=expected, **kwargs)
        except NotFoundError as exc:
            return exc.attempts > 1
        return True

    def json(self, method, path, **kwargs):
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError("the API answered with a body that is not JSON", status=response.status_code, method=method,
                           url=self._safe(self.url(path)))

    def get(self, path, **kwargs):
        return self.json("GET", path, **kwargs)

    # -- pagination ---------------------------------------------------------
    def paginate_offset(self, path, params=None, limit=1000, results_key="results", count_key="count",
                        limit_param="limit", offset_param="offset"):
        """``limit``/``offset`` pages with a grand total in ``count`` (Gcore)."""
        offset = 0
        while True:
            query = dict(params or {})
            query[limit_param] = limit
            query[offset_param] = offset
            body = self.get(path, params=query) or {}
            items = body.get(results_key) or []
            yield from items
            offset += len(items)
            total = body.get(count_key)
            if not items or (total is not None and offset >= total) or (total is None and len(items) < limit):
                return

    def paginate_cursor(self, path, params=None, per_page=100, results_key=None, cursor_param="cursor"):
        """Cursor in ``meta.links.next`` (Vultr)."""
        cursor = None
        while True:
            query = dict(params or {})
            query["per_page"] = per_page
            if cursor:
                query[cursor_param] = cursor
            body = self.get(path, params=query) or {}
            yield from body.get(results_key) or []
            cursor = ((body.get("meta") or {}).get("links") or {}).get("next")
            if not cursor:
                return

    def paginate_pages(self, path, params=None, per_page=100):
        """``page``/``per_page`` with ``X-Next-Page`` (GitLab); the body is a list."""
        page = 1
        while page:
            query = dict(params or {})
            query.update({"page": page, "per_page": per_page})
            response = self.request("GET", path, params=query)
            yield from response.json() or []
            next_page = response.headers.get("X-Next-Page")
            page = int(next_page) if next_page and next_page.strip().isdigit() else None

    def paginate_link(self, path, params=None, items=None):
        """RFC 8288 ``Link: <…>; rel="next"`` (OCI catalog, GitHub, Harbor); relative links resolve against the request."""
        url = self.url(path)
        query = params
        while url:
            response = self.request("GET", url, params=query)
            body = response.json() if response.content else None
            yield from (items(body) if items else (body or []))
            next_url = parse_link_header(response.headers.get("Link")).get("next")
            url = urljoin(url, next_url) if next_url else None
            query = None

    def paginate_numbered(self, path, params=None, page_param="page"):
        """Numbered pages with RFC 8288 links (GitHub): when page 1 links ``rel="next"`` to page 2 and ``rel="last"`` to page
        N, pages 2 .. N are read side by side (the ``last`` URL with its page number changed), then ``next`` is followed
        from page N (a list that grew meanwhile); otherwise one page after the other, as :meth:`paginate_link`."""
        def read(target, query=None):
            answer = self.request("GET", target, params=query)
            items = (answer.json() or []) if answer.content else []
            return items, parse_link_header(answer.headers.get("Link"))

        def number(link):
            value = dict(parse_qsl(urlsplit(link).query)).get(page_param) if link else None
            return int(value) if value and value.isdigit() else None

        current = self.url(path)
        found, links = read(current, params)
        following = urljoin(current, links["next"]) if links.get("next") else None
        last = urljoin(current, links["last"]) if links.get("last") else None
        if following and last and number(following) == 2 and (number(last) or 0) > 2:
            template = urlsplit(last)
            query = parse_qsl(template.query)

            def page(n):
                return read(urlunsplit(template._replace(query=urlencode([(k, str(n) if k == page_param else v) for k, v in query]))))

            for _n, (items, page_links), error in self.run_bulk(page, range(2, number(last) + 1)):
                if error is not None:
                    raise error
                found.extend(items)
                following = urljoin(last, page_links["next"]) if page_links.get("next") else None
        if following:
            found.extend(self.paginate_link(following))
        return found

    # -- bulk ---------------------------------------------------------------
    def run_bulk(self, func, items, concurrency=None):
        """Call ``func(item)`` for every item on a bounded pool; return ``[(item, result, error)]`` in input order."""
        items = list(items)
        workers = max(1, min(concurrency or self.concurrency, len(items) or 1))

        def call(item):
            try:
                return item, func(item), None
            except (ApiError, UnsupportedError, ValueError) as exc:
                return item, None, exc

        if workers == 1:
            return [call(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(call, items))

    def close(self):
        self.session.close()


def default_error_parser(response):
    """Pull ``(message, code, request_id)`` out of the common error body shapes."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return (text[:500] or None), None, None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            messages = "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
            return messages, first.get("code"), None
        for key in ("message", "error_description", "error", "detail"):
            if body.get(key):
                value = body[key]
                if not isinstance(value, str):
                    value = str(value)
                return value, body.get("exception_class") or body.get("code"), body.get("request_id")
    return str(body)[:500], None, None


def encode_query(params):
    return urlencode(params, doseq=True)
