"""The fault-injecting proxy (tests/support/faultproxy.py) in front of a small recording HTTP server.

Hermetic: the upstream is a stdlib server on loopback. The proxy in front of the real registry is tested in
tests/e2e/test_faults.py.
"""

# pylint: disable=redefined-outer-name
import hashlib
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

_REPO_ROOT = str(Path(__file__).resolve().parents[3])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

# pylint: disable=wrong-import-position
from tests.support.faultproxy import (  # noqa: E402
    DEFAULT_KINDS,
    FaultProxy,
    FaultRule,
    default_key,
    key_without,
)

BIG = bytes(range(256)) * (5 * 4096 + 7)  # ~5 MiB, more than the proxy buffers


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if not size:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status, body=b"", headers=None, length=True):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_ANY(self):  # pylint: disable=invalid-name,too-many-return-statements
        """Record the request, answer by path."""
        body = self._body()
        self.server.seen.append({"method": self.command, "path": self.path, "host": self.headers.get("Host"),
                                 "sha": hashlib.sha256(body).hexdigest(), "size": len(body),
                                 "te": self.headers.get("Transfer-Encoding"), "expect": self.headers.get("Expect")})
        path = self.path.split("?")[0]
        if path == "/v2/uploads/":
            return self._answer(202, headers={"Location": f"http://{self.headers['Host']}/v2/uploads/abc?_state=x"})
        if path == "/big":
            return self._answer(200, BIG, {"Content-Type": "application/octet-stream"})
        if path == "/head":
            self.send_response(200)
            self.send_header("Content-Length", "1234")
            self.send_header("Docker-Content-Digest", "sha256:" + "a" * 64)
            self.end_headers()
            return None
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (BIG[:1000], BIG[1000:70000], BIG[70000:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until-eof")
            self.close_connection = True
            return None
        if path == "/empty":
            return self._answer(204, length=False)
        return self._answer(201 if self.command in ("PUT", "POST") else 202 if self.command == "DELETE" else 200,
                            json.dumps({"sha": hashlib.sha256(body).hexdigest(), "size": len(body)}).encode(),
                            {"Content-Type": "application/json"})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_ANY


@pytest.fixture(scope="module")
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    server.seen = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    upstream.seen.clear()
    with FaultProxy(upstream.url) as running:
        yield running


def _seen(upstream, path):
    return [r for r in upstream.seen if r["path"].split("?")[0] == path]


# -- forwarding ------------------------------------------------------------------
def test_forwards_keep_alive_with_client_host(proxy, upstream):
    session = requests.Session()
    for index in range(20):
        resp = session.put(proxy.url + f"/v2/r/manifests/t{index}", data=b"manifest-%d" % index)
        assert resp.status_code == 201 and resp.json()["size"] == len(b"manifest-%d" % index)
    resp = session.post(proxy.url + "/v2/uploads/")
    assert resp.status_code == 202
    assert resp.headers["Location"].startswith(proxy.url + "/v2/uploads/abc?")  # the registry sees the proxy's Host
    assert {r["host"] for r in upstream.seen} == {proxy.host}
    stats = proxy.stats()
    assert stats["seen"] == stats["forwarded"] == 21 and stats["faulted"] == 0
    assert stats["connections"] == 1  # one keep-alive client connection for every request


def test_streams_bodies_both_ways(proxy, upstream):
    session = requests.Session()
    resp = session.put(proxy.url + "/upload-big", data=BIG)  # Content-Length, above the buffer limit
    assert resp.json() == {"sha": hashlib.sha256(BIG).hexdigest(), "size": len(BIG)}
    resp = session.patch(proxy.url + "/upload-chunked", data=(BIG[i:i + 50000] for i in range(0, len(BIG), 50000)))
    assert resp.json() == {"sha": hashlib.sha256(BIG).hexdigest(), "size": len(BIG)}
    assert _seen(upstream, "/upload-chunked")[0]["te"] == "chunked"
    resp = session.put(proxy.url + "/expect", data=b"abc", headers={"Expect": "100-continue"})
    assert resp.json()["size"] == 3 and _seen(upstream, "/expect")[0]["expect"] is None
    assert session.get(proxy.url + "/big").content == BIG
    assert session.get(proxy.url + "/chunked").content == BIG
    head = session.head(proxy.url + "/head")
    assert head.status_code == 200 and head.headers["Content-Length"] == "1234" and head.content == b""
    assert head.headers["Docker-Content-Digest"] == "sha256:" + "a" * 64
    assert session.get(proxy.url + "/empty").status_code == 204
    assert session.get(proxy.url + "/close").content == b"until-eof"
    assert session.get(proxy.url + "/after-close").status_code == 200  # the proxy reconnected upstream
    assert proxy.stats()["upstream_errors"] == 0 and proxy.stats()["connections"] == 1


# -- decisions ---------------------------------------------------------------------
def _requests(count=400):
    return [(method, f"/v2/app/manifests/t{index % 97}") for index, method in
            zip(range(count), ["GET", "HEAD", "PUT", "DELETE"] * count)]


def _decisions(seed, reqs, workers=1, rate=0.1):
    proxy = FaultProxy("http://127.0.0.1:9", seed=seed, rate=rate)
    if workers == 1:
        found = [proxy.decide(m, p) for m, p in reqs]
    else:
        with ThreadPoolExecutor(workers) as pool:
            found = list(pool.map(lambda r: proxy.decide(*r), reqs))
    return sorted((d.method, d.key, d.n, d.fault) for d in found), proxy.stats()


def test_decisions_are_seeded_and_order_independent():
    reqs = _requests()
    first, stats = _decisions(7, reqs)
    again, _stats = _decisions(7, list(reversed(reqs)), workers=8)
    assert first == again
    other, _stats = _decisions(8, reqs)
    assert other != first
    faulted = [d for d in first if d[3]]
    assert 0.06 * len(reqs) <= len(faulted) <= 0.14 * len(reqs), len(faulted)
    assert {d[3] for d in faulted} <= set(DEFAULT_KINDS) and len({d[3] for d in faulted}) >= 4
    assert stats["faulted"] == len(faulted)


def test_rate_over_many_requests():
    reqs = [("GET", f"/v2/r/blobs/sha256:{index:064x}") for index in range(5000)]
    decided, _stats = _decisions(1, reqs, rate=0.1)
    share = sum(1 for d in decided if d[3]) / len(reqs)
    assert 0.085 < share < 0.115, share


def test_keys():
    assert default_key("PUT", "/v2/a/blobs/uploads/0b6f3c1e-6a2d-4d0e-9c3a-2f1e5b7a9c11?_state=x&digest=y") == \
        "/v2/a/blobs/uploads/{uuid}"
    assert key_without("t1234")("GET", "/v2/t1234/app/manifests/v1?x") == "/v2/{prefix}/app/manifests/v1"


def test_rule_scope_and_budgets():
    proxy = FaultProxy("http://127.0.0.1:9", rules=[
        FaultRule(rate=1.0, kinds=["500"], match=r"^HEAD /v2/.+/manifests/", max_per_key=1, name="heads"),
        FaultRule(rate=1.0, kinds=["502"], methods=["POST"], max_faults=2, name="posts"),
        FaultRule(rate=1.0, kinds=["reset_after"], match=lambda m, p: m == "DELETE", from_n=1, name="deletes"),
    ])
    faults = [proxy.decide(m, p).fault for m, p in [
        ("HEAD", "/v2/a/manifests/x"), ("HEAD", "/v2/a/manifests/x"), ("HEAD", "/v2/a/manifests/y"),
        ("GET", "/v2/a/manifests/x"),
        ("POST", "/v2/a/blobs/uploads/"), ("POST", "/v2/b/blobs/uploads/"), ("POST", "/v2/c/blobs/uploads/"),
        ("DELETE", "/v2/a/manifests/sha256:1"), ("DELETE", "/v2/a/manifests/sha256:1"),
        ("GET", "/v2/"),
    ]]
    assert faults == ["500", None, "500", None, "502", "502", None, None, "reset_after", None]
    stats = proxy.stats()
    assert stats["faults"] == {"500": 2, "502": 2, "reset_after": 1} and stats["over_budget"] == 2
    assert stats["probes"] == 1


def test_probe_spared_unless_asked():
    spared = FaultProxy("http://127.0.0.1:9", rate=1.0)
    assert spared.decide("GET", "/v2/").fault is None
    assert spared.decide("GET", "/v2/_catalog").fault is not None
    assert FaultProxy("http://127.0.0.1:9", rate=1.0, spare_probe=False).decide("GET", "/v2/").fault is not None


def test_bad_options():
    with pytest.raises(ValueError):
        FaultRule(kinds=["404"])
    with pytest.raises(ValueError):
        FaultRule(rate=1.5)
    with pytest.raises(ValueError):
        FaultProxy("https://127.0.0.1:9")


# -- injected faults -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "502", "503"])
@pytest.mark.parametrize("body", ["oci", "plain"])
def test_http_errors_never_reach_upstream(upstream, kind, body):
    upstream.seen.clear()
    with FaultProxy(upstream.url, rules=[FaultRule(rate=1.0, kinds=[kind], match="/doomed")], body=body) as proxy:
        session = requests.Session()
        resp = session.put(proxy.url + "/doomed", data=b"x" * 1000)
        assert resp.status_code == int(kind)
        if body == "oci":
            assert resp.json()["errors"][0]["code"] in ("UNKNOWN", "UNAVAILABLE")
        else:
            assert resp.headers["Content-Type"].startswith("text/plain") and "injected" in resp.text
        assert session.put(proxy.url + "/fine", data=b"y").status_code == 201  # same connection still in sync
        head = session.head(proxy.url + "/doomed")
        assert head.status_code == int(kind) and head.content == b""
        assert session.get(proxy.url + "/fine").status_code == 200
        assert [r["path"] for r in upstream.seen] == ["/fine", "/fine"]
        assert proxy.stats()["connections"] == 1
        assert [(e.path, e.fault, e.status) for e in proxy.faulted()] == [("/doomed", kind, int(kind))] * 2


def test_429_carries_retry_after(upstream):
    with FaultProxy(upstream.url, rules=[FaultRule(rate=1.0, kinds=["429"])], retry_after=(0, 1), body="oci") as proxy:
        values = set()
        for index in range(30):
            resp = requests.get(proxy.url + f"/x{index}")
            assert resp.status_code == 429 and resp.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
            values.add(resp.headers["Retry-After"])
        assert values == {"0", "1"}


def test_reset_before_forwarding(upstream):
    upstream.seen.clear()
    with FaultProxy(upstream.url, rules=[FaultRule(rate=1.0, kinds=["reset"], match="^DELETE")]) as proxy:
        session = requests.Session()
        assert session.get(proxy.url + "/warm").status_code == 200  # a kept-alive connection is reset too
        with pytest.raises(requests.ConnectionError):
            session.delete(proxy.url + "/v2/a/manifests/sha256:1")
        assert [r["path"] for r in upstream.seen] == ["/warm"]
        assert session.get(proxy.url + "/next").status_code == 200
        assert proxy.stats()["faults"] == {"reset": 1}
        assert [(e.fault, e.status) for e in proxy.faulted()] == [("reset", None)]


@pytest.mark.parametrize("kind", ["reset_after", "500_after"])
def test_faults_after_forwarding(upstream, kind):
    upstream.seen.clear()
    with FaultProxy(upstream.url, rules=[FaultRule(rate=1.0, kinds=[kind], match="^DELETE", max_faults=1)]) as proxy:
        session = requests.Session()
        if kind == "reset_after":
            with pytest.raises(requests.ConnectionError):
                session.delete(proxy.url + "/v2/a/manifests/sha256:1")
        else:
            assert session.delete(proxy.url + "/v2/a/manifests/sha256:1").status_code == 500
        assert [(r["method"], r["path"]) for r in upstream.seen] == [("DELETE", "/v2/a/manifests/sha256:1")]
        assert session.delete(proxy.url + "/v2/a/manifests/sha256:1").status_code == 202  # budget spent
        stats = proxy.stats()
        assert stats["forwarded"] == 2 and stats["faults"] == {kind: 1}


def test_stop_aborts_idle_connections(upstream):
    proxy = FaultProxy(upstream.url).start()
    session = requests.Session()
    assert session.get(proxy.url + "/a").status_code == 200
    url = proxy.url
    proxy.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/b")
