# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ApiClient against a real local HTTP server: retries, errors, pagination, bulk, TLS wiring."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import os
import threading
import time

import pytest
import requests
import yaml

from ansible_collections.regops.registry.plugins.module_utils.api import (
    ApiClient,
    ApiError,
    AuthError,
    BasicAuth,
    ConflictError,
    USER_AGENT,
    HeaderAuth,
    NotFoundError,
    UnsupportedError,
    backoff_delay,
    default_error_parser,
    error_for_status,
    parse_link_header,
    parse_retry_after,
    retry_decision,
    split_api_url,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import (
    Reply,
    ScriptedServer,
    closed_port,
    make_certificates,
)


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


class Harness:
    """Builds clients that never sleep and records their sleeps and warnings."""

    def __init__(self):
        self.sleeps = []
        self.warnings = []
        self.clients = []

    def client(self, base_url, **kwargs):
        kwargs.setdefault("sleep", self.sleeps.append)
        kwargs.setdefault("warn", self.warnings.append)
        client = ApiClient(base_url, **kwargs)
        self.clients.append(client)
        return client


@pytest.fixture
def harness():
    made = Harness()
    yield made
    for client in made.clients:
        client.close()


# -- retries ---------------------------------------------------------------------


def test_429_retry_after_seconds_is_honoured(server, harness):
    server.route("GET", "/items", Reply(429, {"message": "slow down"}, {"Retry-After": "2"}), Reply(200, {"ok": True}))
    client = harness.client(server.url)
    assert client.get("/items") == {"ok": True}
    assert harness.sleeps == [2.0]
    assert len(server.calls("GET", "/items")) == 2
    assert client.retried == 1
    assert client.requests_sent == 2


def test_429_retry_after_http_date_is_honoured(server, harness):
    when = email.utils.formatdate(time.time() + 4, usegmt=True)
    server.route("GET", "/items", Reply(429, None, {"Retry-After": when}), Reply(200, []))
    client = harness.client(server.url)
    assert client.get("/items") == []
    assert len(harness.sleeps) == 1
    # the date has a resolution of one second
    assert 1.0 <= harness.sleeps[0] <= 4.0


@pytest.mark.parametrize("retry_after", ["3600", email.utils.formatdate(time.time() + 7200, usegmt=True)], ids=["seconds", "http-date"])
def test_retry_after_is_bounded_by_retry_max_delay(server, harness, retry_after):
    server.route("GET", "/items", Reply(429, None, {"Retry-After": retry_after}), Reply(200, {}))
    client = harness.client(server.url, retry_max_delay=5)
    client.get("/items")
    assert harness.sleeps == [5.0]


def test_retry_after_in_the_past_means_no_wait(server, harness):
    server.route("GET", "/items", Reply(503, None, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), Reply(200, {}))
    client = harness.client(server.url)
    client.get("/items")
    assert harness.sleeps == [0.0]


def test_retries_exhausted_raise_with_provider_message_and_status(server, harness):
    server.route("GET", "/items", Reply(429, {"message": "quota exceeded for project 7"}, {"Retry-After": "1"}))
    client = harness.client(server.url, retries=2)
    with pytest.raises(ApiError) as caught:
        client.get("/items")
    assert caught.value.status == 429
    assert caught.value.message == "quota exceeded for project 7"
    assert "quota exceeded for project 7" in str(caught.value)
    assert "HTTP 429" in str(caught.value)
    assert len(server.requests) == 3
    assert harness.sleeps == [1.0, 1.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_get(server, harness, status):
    server.route("GET", "/items", Reply(status, "upstream trouble"), Reply(status, "upstream trouble"), Reply(200, {"n": 1}))
    client = harness.client(server.url)
    assert client.get("/items") == {"n": 1}
    assert len(server.requests) == 3
    assert len(harness.sleeps) == 2


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 507])
def test_5xx_is_retried_for_requests_that_are_safe_to_repeat(server, harness, method, status):
    server.route(method, "/items", Reply(status, {"message": "internal"}), Reply(200, {}))
    client = harness.client(server.url)
    assert client.request(method, "/items").status_code == 200
    assert len(server.requests) == 2
    assert len(harness.sleeps) == 1


@pytest.mark.parametrize("status", [501, 505])
def test_5xx_that_will_never_work_is_not_retried(server, harness, status):
    server.route("GET", "/items", Reply(status, {"message": "not implemented"}), Reply(200, {}))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get("/items")
    assert caught.value.status == status
    assert len(server.requests) == 1


@pytest.mark.parametrize("fault", [Reply(500, "oops"), Reply(502, "bad gateway"), Reply(reset=True), Reply(close=True)])
def test_a_post_marked_idempotent_is_retried_like_a_get(server, harness, fault):
    """The POST that opens an OCI blob upload: sending it twice only opens a second session."""
    server.route("POST", "/v2/app/blobs/uploads/", fault, Reply(202, None, {"Location": "/u/1"}))
    client = harness.client(server.url)
    assert client.request("POST", "/v2/app/blobs/uploads/", expected=(202,), idempotent=True).status_code == 202
    assert len(server.requests) == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_create_is_not_retried_where_the_server_may_have_acted(server, harness, method, status):
    server.route(method, "/items", Reply(status, {"message": "internal"}), Reply(201, {}))
    client = harness.client(server.url)
    with pytest.raises(ApiError):
        client.json(method, "/items")
    assert len(server.requests) == 1


@pytest.mark.parametrize("repeatable, status, exc, expected", [
    (True, 429, None, True), (True, 500, None, True), (True, 503, None, True), (True, 501, None, False), (True, 404, None, False),
    (True, 409, None, False), (False, 429, None, True), (False, 503, None, True), (False, 500, None, False), (False, 502, None, False),
    (True, None, requests.exceptions.ConnectionError("reset"), True),
    (False, None, requests.exceptions.ConnectionError("reset"), False),
    (False, None, requests.exceptions.ConnectTimeout("never connected"), True),
    (True, None, requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), False),
])
def test_the_one_retry_policy(repeatable, status, exc, expected):
    assert retry_decision(repeatable, status=status, exc=exc) is expected


def test_a_certificate_that_fails_verification_is_not_retried_and_says_how_to_fix_it(harness, tmp_path):
    ca, cert, key = make_certificates(tmp_path)
    tls = ScriptedServer(tls=(cert, key)).start()
    try:
        tls.route("GET", "/v2/", Reply(200, {}))
        client = harness.client(tls.url + "/?token=hunter2")
        with pytest.raises(ApiError) as caught:
            client.get("/v2/")
        message = str(caught.value)
        assert "could not be verified" in message and "ca_path" in message and "validate_certs: false" in message
        assert "127.0.0.1:%d" % tls.port in message and "hunter2" not in message
        assert not harness.sleeps and not harness.warnings and client.requests_sent == 1
        # With the CA that signed it, the same server is trusted.
        assert harness.client(tls.url, ca_path=ca).get("/v2/") == {}
        assert harness.client(tls.url, validate_certs=False).get("/v2/") == {}
    finally:
        tls.stop()


@pytest.mark.parametrize("value, expected", [
    ("registry.example.com", ("https://registry.example.com", None, None)),
    ("http://127.0.0.1:5000/", ("http://127.0.0.1:5000", None, None)),
    ("https://api.example.com/gitlab/", ("https://api.example.com/gitlab", None, None)),
    ("https://ci:p%40ss@registry.example.com", ("https://registry.example.com", "ci", "p@ss")),
    ("http://user:PwInUrl@[::1]:8080", ("http://[::1]:8080", "user", "PwInUrl")),
])
def test_split_api_url(value, expected):
    assert split_api_url(value) == expected


@pytest.mark.parametrize("value", ["", "   ", "v2 /", "ftp://host", "http://", "https://:5000", "https://host:99999", "https://host?x=1",
                                   "https://bad_host!", "https://user:PwInUrl@host:port"])
def test_split_api_url_refuses_what_is_not_a_url_and_names_the_option(value):
    with pytest.raises(ValueError) as caught:
        split_api_url(value)
    assert str(caught.value).startswith("api_url must be the http(s) URL of the API")
    assert "PwInUrl" not in str(caught.value)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("status, cls", [(404, NotFoundError), (409, ConflictError), (401, AuthError), (403, AuthError)])
def test_typed_errors_are_never_retried(server, harness, method, status, cls):
    server.route(method, "/thing", Reply(status, {"message": "nope %d" % status}))
    client = harness.client(server.url)
    with pytest.raises(cls) as caught:
        client.request(method, "/thing")
    assert isinstance(caught.value, ApiError)
    assert caught.value.status == status
    assert caught.value.message == "nope %d" % status
    assert caught.value.method == method
    assert len(server.requests) == 1
    assert not harness.sleeps


def test_error_for_status():
    assert error_for_status(404) is NotFoundError
    assert error_for_status(409) is ConflictError
    assert error_for_status(401) is AuthError
    assert error_for_status(403) is AuthError
    assert error_for_status(500) is ApiError


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [502, 504])
def test_non_idempotent_not_retried_on_gateway_errors(server, harness, method, status):
    server.route(method, "/create", Reply(status, "bad gateway"), Reply(201, {"id": 1}))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.request(method, "/create", json={"name": "x"})
    assert caught.value.status == status
    assert len(server.requests) == 1
    assert not harness.sleeps


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [429, 503])
def test_non_idempotent_retried_when_server_did_not_act(server, harness, method, status):
    server.route(method, "/create", Reply(status, None, {"Retry-After": "1"}), Reply(201, {"id": 1}))
    client = harness.client(server.url)
    assert client.json(method, "/create", json={"name": "x"}) == {"id": 1}
    assert len(server.requests) == 2
    assert [r.body for r in server.requests] == [b'{"name": "x"}'] * 2
    assert harness.sleeps == [1.0]


@pytest.mark.parametrize("how", [{"close": True}, {"reset": True}])
def test_connection_dropped_is_retried_for_get(server, harness, how):
    server.route("GET", "/items", Reply(**how), Reply(200, {"ok": 1}))
    client = harness.client(server.url)
    assert client.get("/items") == {"ok": 1}
    assert len(server.requests) == 2
    assert len(harness.sleeps) == 1
    assert "ConnectionError" in harness.warnings[0]


def test_connection_dropped_is_not_retried_for_post(server, harness):
    server.route("POST", "/create", Reply(close=True), Reply(201, {"id": 1}))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.request("POST", "/create", json={})
    assert "connection failed" in str(caught.value)
    assert "the POST may have been carried out before its answer was lost; it is not sent again" in str(caught.value)
    assert caught.value.status is None
    assert len(server.requests) == 1


def test_connection_refused_is_retried_even_for_post(harness):
    client = harness.client("http://127.0.0.1:%d" % closed_port(), retries=2)
    with pytest.raises(ApiError) as caught:
        client.request("POST", "/create?api_key=hunter2", json={})
    assert "connection failed: ConnectionError" in str(caught.value) and "may have been carried out" not in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert len(harness.sleeps) == 2
    assert client.requests_sent == 3
    assert all("hunter2" not in w for w in harness.warnings)


def test_warn_called_once_per_retry(server, harness):
    server.route("GET", "/items", Reply(503), Reply(502), Reply(429), Reply(200, {}))
    client = harness.client(server.url, retries=3)
    client.get("/items", params={"token": "s3cret"})
    assert len(harness.warnings) == 3
    for number, (warning, status) in enumerate(zip(harness.warnings, (503, 502, 429)), start=1):
        assert "GET %s/items answered %d" % (server.url, status) in warning
        assert "retry %d of 3" % number in warning
        assert "s3cret" not in warning
    assert client.retried == 3


def test_no_retries_when_retries_is_zero(server, harness):
    server.route("GET", "/items", Reply(503, {"message": "maintenance"}))
    client = harness.client(server.url, retries=0)
    with pytest.raises(ApiError) as caught:
        client.get("/items")
    assert caught.value.message == "maintenance"
    assert len(server.requests) == 1


def test_backoff_without_retry_after_is_bounded(server, harness):
    server.route("GET", "/items", Reply(503))
    client = harness.client(server.url, retries=6, retry_max_delay=0.75)
    with pytest.raises(ApiError):
        client.get("/items")
    assert len(harness.sleeps) == 6
    assert all(0 < delay <= 0.75 for delay in harness.sleeps)
    assert harness.sleeps[0] <= 0.5


def test_default_sleep_is_injectable_and_not_called_on_success(server):
    calls = []
    server.route("GET", "/items", Reply(200, {}))
    client = ApiClient(server.url, sleep=calls.append)
    client.get("/items")
    client.close()
    assert not calls


# -- helpers ---------------------------------------------------------------------


def test_backoff_delay_bounds():
    assert backoff_delay(0, base=0.5, rand=lambda: 0.0) == 0.25
    assert backoff_delay(0, base=0.5, rand=lambda: 1.0) == 0.5
    assert backoff_delay(3, base=0.5, rand=lambda: 1.0) == 4.0
    assert backoff_delay(3, base=0.5, rand=lambda: 0.0) == 2.0
    assert backoff_delay(20, base=0.5, cap=30.0, rand=lambda: 1.0) == 30.0
    assert backoff_delay(20, base=0.5, cap=30.0, rand=lambda: 0.0) == 15.0
    for attempt in range(12):
        for _i in range(50):
            ceiling = min(30.0, 0.5 * 2 ** attempt)
            assert ceiling / 2 <= backoff_delay(attempt) <= ceiling


def test_parse_retry_after():
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("   ") is None
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(3) == 3.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-1") is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    stamp = email.utils.parsedate_to_datetime(date).timestamp()
    assert parse_retry_after(date, now=stamp - 10) == 10.0
    assert parse_retry_after(date, now=stamp + 10) == 0.0
    assert parse_retry_after(date) == 0.0


def test_parse_link_header():
    assert not parse_link_header(None)
    assert not parse_link_header("")
    assert not parse_link_header("garbage")
    assert parse_link_header('<https://r.example/v2/_catalog?last=b&n=2>; rel="next"') == {"next": "https://r.example/v2/_catalog?last=b&n=2"}
    assert parse_link_header("</v2/x/tags/list?n=1&last=a>; rel=next") == {"next": "/v2/x/tags/list?n=1&last=a"}
    links = parse_link_header('<https://a/?page=2>; rel="next", <https://a/?page=9>; rel="last", <https://a/?page=1>; rel="first prev"')
    assert links == {"next": "https://a/?page=2", "last": "https://a/?page=9", "first": "https://a/?page=1", "prev": "https://a/?page=1"}
    assert parse_link_header('<https://a/?p=2>; title="x"; rel="next"') == {"next": "https://a/?p=2"}


def test_api_error_str():
    error = ApiError("manifest unknown", status=404, method="GET", url="https://r/v2/x", code="MANIFEST_UNKNOWN", request_id="abc")
    assert str(error) == "HTTP 404 GET https://r/v2/x: MANIFEST_UNKNOWN: manifest unknown (request_id abc)"
    assert str(ApiError("plain")) == "plain"
    assert str(ApiError("CODE is in text", code="CODE", status=400)) == "HTTP 400: CODE is in text"


# -- errors and secrets ----------------------------------------------------------


def _response(status, body, content_type="application/json"):
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else body.encode("utf-8")  # pylint: disable=protected-access
    response.headers["Content-Type"] = content_type
    return response


def test_default_error_parser_oci_errors():
    body = '{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}, {"code": "NAME_UNKNOWN"}]}'
    assert default_error_parser(_response(404, body)) == ("manifest unknown; NAME_UNKNOWN", "MANIFEST_UNKNOWN", None)


def test_default_error_parser_gcore():
    body = '{"exception_class": "ResourceNotFound", "message": "Registry 12 not found", "request_id": "req-9"}'
    assert default_error_parser(_response(404, body)) == ("Registry 12 not found", "ResourceNotFound", "req-9")


def test_default_error_parser_other_shapes():
    assert default_error_parser(_response(502, "<html>Bad Gateway</html>\n", "text/html")) == ("<html>Bad Gateway</html>", None, None)
    assert default_error_parser(_response(502, b"")) == (None, None, None)
    assert default_error_parser(_response(400, '{"error": "invalid_grant", "code": "E1"}')) == ("invalid_grant", "E1", None)
    assert default_error_parser(_response(400, '{"detail": {"field": "bad"}}')) == ("{'field': 'bad'}", None, None)
    assert default_error_parser(_response(400, '["a", "b"]')) == ("['a', 'b']", None, None)
    assert default_error_parser(_response(400, "x" * 800, "text/plain"))[0] == "x" * 500


def test_error_carries_gcore_fields_end_to_end(server, harness):
    server.route("GET", "/v1/registries/12", Reply(404, {"exception_class": "ResourceNotFound", "message": "Registry 12 not found",
                                                         "request_id": "req-9"}))
    client = harness.client(server.url)
    with pytest.raises(NotFoundError) as caught:
        client.get("/v1/registries/12")
    error = caught.value
    assert (error.message, error.code, error.request_id, error.status) == ("Registry 12 not found", "ResourceNotFound", "req-9", 404)
    assert error.body["request_id"] == "req-9"
    assert str(error) == "HTTP 404 GET %s/v1/registries/12: ResourceNotFound: Registry 12 not found (request_id req-9)" % server.url


def test_error_with_plain_text_and_empty_bodies(server, harness):
    server.route("GET", "/text", Reply(500, "database on fire"))
    server.route("GET", "/empty", Reply(500))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get("/text")
    assert caught.value.message == "database on fire"
    assert caught.value.body == "database on fire"
    with pytest.raises(ApiError) as caught:
        client.get("/empty")
    assert caught.value.message == "Internal Server Error"


def test_query_string_never_in_errors(server, harness):
    server.route("GET", "/secret", Reply(500, {"message": "boom"}))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get("/secret", params={"api_key": "hunter2"})
    assert server.requests[0].arg("api_key") == "hunter2"
    assert "hunter2" not in str(caught.value)
    assert caught.value.url == server.url + "/secret"
    with pytest.raises(ApiError) as caught:
        client.get("/secret?token=hunter3")
    assert "hunter3" not in str(caught.value)
    assert "hunter3" not in caught.value.url


def test_non_json_body_is_an_error_and_204_is_none(server, harness):
    server.route("GET", "/html", Reply(200, "<html></html>"))
    server.route("DELETE", "/thing", Reply(204))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get("/html?secret=1")
    assert "not JSON" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert client.json("DELETE", "/thing") is None


def test_expected_statuses(server, harness):
    server.route("DELETE", "/m", Reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}))
    server.route("PUT", "/m", Reply(200, {}))
    client = harness.client(server.url)
    assert client.request("DELETE", "/m", expected=(202, 404)).status_code == 404
    with pytest.raises(ApiError) as caught:
        client.request("PUT", "/m", expected=(201,))
    assert caught.value.status == 200


# -- auth and TLS ----------------------------------------------------------------


def test_header_auth_only_sent_to_the_api_origin(server, harness):
    server.route("GET", "/api/a", Reply(200, {}))
    client = harness.client(server.url + "/api/", auth=HeaderAuth("Authorization", "APIKey k"))
    client.get("/a")
    client.get("http://localhost:%d/api/a" % server.port)
    first, second = server.requests
    assert first.headers["authorization"] == "APIKey k"
    assert "authorization" not in second.headers
    assert first.headers["user-agent"].startswith("regops.registry/")


def test_base_url_path_is_kept(server, harness):
    server.route("GET", "/api/v1/items", Reply(200, {"ok": 1}))
    client = harness.client(server.url + "/api/v1")
    assert client.get("/items") == {"ok": 1}
    assert client.url("https://other/x") == "https://other/x"


def test_basic_auth_header(server, harness):
    server.route("GET", "/a", Reply(200, {}))
    client = harness.client(server.url, auth=BasicAuth("user", "pa:ss"))
    client.get("/a")
    assert server.requests[0].headers["authorization"] == "Basic dXNlcjpwYTpzcw=="


def test_netrc_is_not_used(server, harness, tmp_path, monkeypatch):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login evil password leaked\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server.route("GET", "/a", Reply(200, {}))
    client = harness.client(server.url)
    client.get("/a")
    assert "authorization" not in server.requests[0].headers


@pytest.mark.parametrize("validate_certs, ca_path, verify", [
    (True, None, True),
    (True, "/etc/regops/ca.pem", "/etc/regops/ca.pem"),
    (False, None, False),
    (False, "/etc/regops/ca.pem", False),
])
def test_validate_certs_and_ca_path_wiring(server, harness, monkeypatch, validate_certs, ca_path, verify):
    client = harness.client(server.url, validate_certs=validate_certs, ca_path=ca_path)
    assert client.session.verify == verify
    # What reaches the transport, even when REQUESTS_CA_BUNDLE is set (requests would let it override session.verify).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/bundle.pem")
    adapter = client.session.get_adapter(server.url)
    sent = []
    real_send = adapter.send

    def send(request, **kwargs):
        sent.append(kwargs.get("verify"))
        return real_send(request, **kwargs)

    monkeypatch.setattr(adapter, "send", send)
    server.route("GET", "/a", Reply(200, {}))
    client.get("/a")
    assert sent == ["/env/bundle.pem" if verify is True else verify]


def test_timeout_is_passed(server, harness):
    server.route("GET", "/slow", Reply(200, {}, delay=0.5))
    client = harness.client(server.url, timeout=0.1, retries=0)
    with pytest.raises(ApiError) as caught:
        client.get("/slow")
    assert "connection failed" in str(caught.value)


# -- pagination ------------------------------------------------------------------


def _offset_pages(total, with_count=True):
    items = [{"id": i} for i in range(total)]

    def reply(seen):
        limit, offset = int(seen.arg("limit")), int(seen.arg("offset"))
        body = {"results": items[offset:offset + limit]}
        if with_count:
            body["count"] = total
        return Reply(200, body)
    return items, reply


@pytest.mark.parametrize("total, with_count, pages", [(250, True, 3), (200, True, 2), (250, False, 3), (200, False, 3), (0, True, 1)])
def test_paginate_offset(server, harness, total, with_count, pages):
    items, reply = _offset_pages(total, with_count)
    server.route("GET", "/v1/registries", reply)
    client = harness.client(server.url)
    assert list(client.paginate_offset("/v1/registries", params={"region": "1"}, limit=100)) == items
    assert len(server.requests) == pages
    assert [r.arg("offset") for r in server.requests] == [str(100 * i) for i in range(pages)]
    assert all(r.arg("region") == "1" and r.arg("limit") == "100" for r in server.requests)


def test_paginate_cursor(server, harness):
    pages = {None: ([1, 2], "c2"), "c2": ([3, 4], "c3"), "c3": ([5], "")}

    def reply(seen):
        items, following = pages[seen.arg("cursor")]
        return Reply(200, {"registries": [{"id": i} for i in items], "meta": {"total": 5, "links": {"next": following, "prev": ""}}})
    server.route("GET", "/v2/registries", reply)
    client = harness.client(server.url)
    found = list(client.paginate_cursor("/v2/registries", results_key="registries", per_page=2))
    assert [f["id"] for f in found] == [1, 2, 3, 4, 5]
    assert [r.arg("cursor") for r in server.requests] == [None, "c2", "c3"]
    assert all(r.arg("per_page") == "2" for r in server.requests)


def test_paginate_pages(server, harness):
    data = list(range(7))

    def reply(seen):
        page, per_page = int(seen.arg("page")), int(seen.arg("per_page"))
        chunk = data[(page - 1) * per_page:page * per_page]
        following = str(page + 1) if page * per_page < len(data) else ""
        return Reply(200, chunk, {"X-Next-Page": following})
    server.route("GET", "/api/v4/projects/1/registry/repositories", reply)
    client = harness.client(server.url)
    assert list(client.paginate_pages("/api/v4/projects/1/registry/repositories", params={"tags": "true"}, per_page=3)) == data
    assert [r.arg("page") for r in server.requests] == ["1", "2", "3"]
    assert all(r.arg("tags") == "true" for r in server.requests)


def test_paginate_link_relative(server, harness):
    names = ["a", "b", "c", "d", "e"]

    def reply(seen):
        size = int(seen.arg("n"))
        last = seen.arg("last")
        start = names.index(last) + 1 if last else 0
        chunk = names[start:start + size]
        headers = {}
        if start + size < len(names):
            headers["Link"] = '</v2/_catalog?last=%s&n=%d>; rel="next"' % (chunk[-1], size)
        return Reply(200, {"repositories": chunk}, headers)
    server.route("GET", "/v2/_catalog", reply)
    client = harness.client(server.url)
    found = list(client.paginate_link("/v2/_catalog", params={"n": 2}, items=lambda body: body["repositories"]))
    assert found == names
    assert [r.raw_query for r in server.requests] == ["n=2", "last=b&n=2", "last=d&n=2"]


def test_paginate_link_absolute_and_list_body(server, harness):
    server.route("GET", "/api/items", Reply(200, [1, 2], {"Link": '<%s/api/items?page=2>; rel="next", <%s/api/items?page=2>; rel="last"' % (
        server.url, server.url)}))
    client = harness.client(server.url)
    server.routes[("GET", "/api/items")].append(Reply(200, [3]))
    assert list(client.paginate_link("/api/items")) == [1, 2, 3]
    assert [r.raw_query for r in server.requests] == ["", "page=2"]


@pytest.mark.parametrize("pages, grows", [(5, False), (5, True), (2, False), (1, False)])
def test_paginate_numbered_reads_pages_two_to_last_side_by_side(server, harness, pages, grows):
    """GitHub's numbered pages: page 1 links next (2) and last (N); pages 2 .. N are asked for with the last link's
    query, page number changed, and come back in order. A list that grew past N meanwhile is read on from page N's next;
    with 2 pages or 1 there is nothing to read side by side."""
    total = pages + (1 if grows else 0)

    def reply(seen):
        page = int(seen.arg("page", "1"))
        links = []
        if page < total:
            links.append('</api/items?per_page=2&page=%d&via=next>; rel="next"' % (page + 1))
            links.append('</api/items?per_page=2&page=%d&via=last>; rel="last"' % (pages if page == 1 else total))
        return Reply(200, [page * 10, page * 10 + 1], {"Link": ", ".join(links)} if links else {})
    server.route("GET", "/api/items", reply)
    client = harness.client(server.url)
    found = client.paginate_numbered("/api/items", params={"per_page": 2, "page": 1})
    assert found == [value for page in range(1, total + 1) for value in (page * 10, page * 10 + 1)]
    queries = [r.raw_query for r in server.requests]
    assert queries[0] == "per_page=2&page=1" and len(queries) == total  # each page once
    side_by_side = range(2, pages + 1) if pages > 2 else range(0)
    expected = ["per_page=2&page=%d&via=%s" % (page, "last" if page in side_by_side else "next") for page in range(2, total + 1)]
    assert sorted(queries[1:]) == sorted(expected)


def test_run_bulk_keeps_input_order_and_captures_errors(server, harness):
    for i in range(10):
        server.route("GET", "/item/%d" % i, Reply(200, {"i": i}, delay=0.02 * ((7 * i) % 5)))
    server.route("GET", "/item/3", Reply(404, {"message": "gone"}))
    server.routes[("GET", "/item/3")] = [server.routes[("GET", "/item/3")][-1]]
    client = harness.client(server.url, concurrency=4)

    def fetch(i):
        if i == 5:
            raise ValueError("bad item 5")
        if i == 7:
            raise UnsupportedError("no 7")
        return client.get("/item/%d" % i)["i"]

    results = client.run_bulk(fetch, range(10))
    assert [item for item, _r, _e in results] == list(range(10))
    for item, result, error in results:
        if item == 3:
            assert isinstance(error, NotFoundError) and result is None
        elif item == 5:
            assert isinstance(error, ValueError) and str(error) == "bad item 5"
        elif item == 7:
            assert isinstance(error, UnsupportedError)
        else:
            assert (result, error) == (item, None)


def test_run_bulk_other_exceptions_propagate(harness):
    client = harness.client("http://127.0.0.1:9")

    def explode(item):
        raise KeyError(item)

    with pytest.raises(KeyError):
        client.run_bulk(explode, [1, 2, 3])
    assert client.run_bulk(explode, []) == []


@pytest.mark.parametrize("client_concurrency, call_concurrency, expected", [(3, None, 3), (8, 2, 2), (1, None, 1)])
def test_run_bulk_concurrency_is_bounded(server, harness, client_concurrency, call_concurrency, expected):
    total = 12
    gate = threading.Condition()

    def hold(seen):
        # answer only once `expected` requests are in flight together (or every request has arrived):
        # the peak is then exactly the bound, without relying on timing
        with gate:
            gate.notify_all()
            gate.wait_for(lambda: server.in_flight >= expected or len(server.requests) >= total, timeout=2)
        return Reply(200, {"path": seen.path})

    server.route("GET", "^/slow/", hold)
    client = harness.client(server.url, concurrency=client_concurrency)
    threads = set()

    def fetch(i):
        threads.add(threading.current_thread().name)
        return client.get("/slow/%d" % i)["path"]

    started = time.time()
    results = client.run_bulk(fetch, range(total), concurrency=call_concurrency)
    assert [r for _i, r, _e in results] == ["/slow/%d" % i for i in range(total)]
    assert server.max_in_flight == expected
    assert len(threads) <= expected
    assert client.requests_sent == total
    assert time.time() - started < 2


def test_requests_sent_counts_every_attempt(server, harness):
    server.route("GET", "/a", Reply(503), Reply(200, {}))
    server.route("GET", "/b", Reply(200, {}))
    client = harness.client(server.url)
    client.get("/a")
    client.get("/b")
    assert client.requests_sent == 3
    assert client.retried == 1
    assert len(server.requests) == 3


# -- rate limits that answer 403 (GitHub) ------------------------------------------


def test_a_403_secondary_rate_limit_with_retry_after_is_retried_even_for_a_post(server, harness):
    server.route("POST", "/items", Reply(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "3"}),
                 Reply(200, {"ok": True}))
    client = harness.client(server.url)
    assert client.json("POST", "/items", json={}) == {"ok": True}
    assert harness.sleeps == [3.0]
    assert len(server.calls("POST", "/items")) == 2


def test_a_403_secondary_rate_limit_without_retry_after_waits_a_minute(server, harness):
    server.route("DELETE", "/items/1", Reply(403, {"message": "You have exceeded a secondary rate limit"}), Reply(204, None))
    client = harness.client(server.url, retry_max_delay=120)
    client.request("DELETE", "/items/1")
    assert harness.sleeps == [60.0]


def test_a_used_up_primary_limit_waits_until_the_reset(server, harness):
    reset = int(time.time()) + 20
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    server.route("GET", "/items", Reply(403, {"message": "API rate limit exceeded"}, exhausted), Reply(200, []))
    client = harness.client(server.url)
    assert client.get("/items") == []
    assert len(harness.sleeps) == 1 and 15 <= harness.sleeps[0] <= 21


def test_a_primary_limit_that_resets_later_than_the_longest_wait_fails_at_once_and_says_when(server, harness):
    reset = int(time.time()) + 3000
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    server.route("GET", "/items", Reply(429, {"message": "API rate limit exceeded"}, exhausted))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get("/items")
    assert harness.sleeps == []
    assert len(server.calls("GET", "/items")) == 1
    assert "rate limit reached" in str(caught.value) and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset)) in str(caught.value)


def test_a_plain_403_is_not_a_rate_limit(server, harness):
    server.route("GET", "/items", Reply(403, {"message": "Must have admin rights to Repository."}, {"x-ratelimit-remaining": "4999"}))
    client = harness.client(server.url)
    with pytest.raises(AuthError):
        client.get("/items")
    assert harness.sleeps == []
    assert len(server.calls("GET", "/items")) == 1


def test_the_user_agent_names_the_released_version():
    galaxy = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "galaxy.yml")
    with open(galaxy) as handle:
        version = yaml.safe_load(handle)["version"]
    assert USER_AGENT == "regops.registry/%s (Ansible collection)" % version
