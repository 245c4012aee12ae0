# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``ncloud`` provider (Naver Cloud Container Registry) against scripted servers, no emulator needed.

The signature vectors of the reference are pinned; every request is checked as it arrived (the raw request target, the
headers) and its signature verified from the raw target exactly as NCP's gateway does. ``FakeNcr`` is a small NCR API
whose images and tags live in a ``FakeOci`` registry (the registry's ``end_point``), with the tag DELETE deleting only
the tag or the whole manifest (``semantics``): the tag paths are checked under both readings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json
import os
import re
import sys

import pytest

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, AuthError, ConflictError
from ansible_collections.regops.registry.plugins.module_utils.oci import THROWAWAY_ANNOTATION
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Action
from ansible_collections.regops.registry.plugins.module_utils.providers.ncloud import (
    PAGE_SIZE,
    SKEW_HINT,
    NcloudProvider,
    NcpSignatureAuth,
    encode,
    ncloud_error,
    ncp_time,
    sign,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import (
    FakeOci,
    Reply,
    ScriptedServer,
    after_the_read,
    closed_port,
    provider_params,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the fault proxy lives in tests/support of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.ncloud import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NcloudEmulator  # noqa: E402 pylint: disable=wrong-import-position
from tests.support.faultproxy import FaultProxy, FaultRule  # noqa: E402 pylint: disable=wrong-import-position

ACCESS, SECRET = "NCPTESTACCESSKEY", "ncp-test-secret-key"
PREFIX = "/ncr/api/v2"
D1 = "sha256:" + "1" * 64
TAGS = PREFIX + "/repositories/main/team%2Fapp/tags/"


# ---------------------------------------------------------------------------------------------
# The signature: the reference's three vectors, and what the auth object puts on each request

@pytest.mark.parametrize("secret, method, uri, access, signature", [
    ("ncp-secret-example", "GET", "/photos/puppy.jpg?query1=&query2", "ACCESS_KEY_ID", "iPe1hFfjl7BPGhFZJGCY5XZgH6eWMwCWlSdSkKU+SPE="),
    ("SECRETKEY", "GET", "/ncr/api/v2/repositories?page=1&pagesize=50", "ACCESSKEY", "nIZj12dPVu/e8EUtPw++91AQIBODaCv6NbTUtl6nrTc="),
    ("SECRETKEY", "DELETE", "/ncr/api/v2/repositories/myreg/hello%2Fworld/tags/v1", "ACCESSKEY",
     "ykT2dB+shOuxhIO8GtrKLNC0Zr25Q8BO+dJtjhqwKno="),
])
def test_signature_vectors(secret, method, uri, access, signature):
    assert sign(secret, method, uri, "1700000000000", access) == signature


def test_auth_signs_path_with_stage_prefix_and_query_as_sent():
    auth = NcpSignatureAuth("ACCESSKEY", "SECRETKEY", clock=lambda: 1700000000.0)
    headers = {}
    auth.apply("GET", "https://ncr.apigw.ntruss.com/ncr/api/v2/repositories?page=1&pagesize=50", headers)
    assert headers == {"x-ncp-apigw-timestamp": "1700000000000", "x-ncp-iam-access-key": "ACCESSKEY",
                       "x-ncp-apigw-signature-v2": "nIZj12dPVu/e8EUtPw++91AQIBODaCv6NbTUtl6nrTc="}
    headers = {}
    auth.apply("DELETE", "https://ncr.apigw.ntruss.com/ncr/api/v2/repositories/myreg/hello%2Fworld/tags/v1", headers)
    assert headers["x-ncp-apigw-signature-v2"] == "ykT2dB+shOuxhIO8GtrKLNC0Zr25Q8BO+dJtjhqwKno="
    # no query, no "?"
    assert NcpSignatureAuth.uri("http://127.0.0.1:8080/ncr/api/v2/repositories/r") == "/ncr/api/v2/repositories/r"
    assert encode("hello/world") == "hello%2Fworld"


def verify(seen):
    """The gateway's check of one request: the signature over the raw request target as received."""
    headers = seen.headers
    expected = sign(SECRET, seen.method, seen.target, headers.get("x-ncp-apigw-timestamp", ""), headers.get("x-ncp-iam-access-key", ""))
    return headers.get("x-ncp-iam-access-key") == ACCESS and headers.get("x-ncp-apigw-signature-v2") == expected


# ---------------------------------------------------------------------------------------------
# A scripted NCR API

@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def connect():
    made = []

    def make(server, warnings=None, **params):
        base = provider_params("ncloud", params.pop("api_url", server.url), None, access_key=ACCESS, secret_key=SECRET, region=None)
        base.update(params)
        provider = NcloudProvider(base, warn=(warnings.append if warnings is not None else None))
        provider.sleep = lambda seconds: None
        provider.connect()
        provider.client.sleep = lambda seconds: None
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def page(results, next_page=None, count=None):
    return Reply(200, {"count": len(results) if count is None else count, "next": next_page, "previous": None, "results": results})


def registry_raw(name, bucket="b-x", **extra):
    return dict({"name": name, "bucket": bucket, "created": 1767225600000, "end_point": "%s.kr.ncr.ntruss.com" % name,
                 "end_point_enabled": True, "private_end_point": "%s.private.kr.ncr.ntruss.com" % name, "private_id": "p1",
                 "public_reg_status": False, "scan_on_push_enabled": False, "status": "RUNNING"}, **extra)


def test_requests_as_sent_signed_paged_and_normalized(server, connect):
    server.route("GET", PREFIX + "/repositories", lambda seen: page([registry_raw("main")], 2) if seen.arg("page") == "1" else page(
        [registry_raw("other", bucket=None)], None))
    provider = connect(server)
    registries = provider.list_registry({})
    assert [(r["name"], r["url"], r["region"], r["created_at"], r["provider_data"]["storage_type"], r["provider_data"]["bucket"])
            for r in registries] == [("main", "main.kr.ncr.ntruss.com", "kr", "2026-01-01T00:00:00Z", "objectStorage", "b-x"),
                                     ("other", "other.kr.ncr.ntruss.com", "kr", "2026-01-01T00:00:00Z", "ncloudStorage", None)]
    assert [r.target for r in server.requests] == [PREFIX + "/repositories?page=1&pagesize=%d" % PAGE_SIZE,
                                                   PREFIX + "/repositories?page=2&pagesize=%d" % PAGE_SIZE]
    for seen in server.requests:
        assert verify(seen), seen
        assert seen.headers["content-type"] == "application/json; charset=utf-8"
        assert re.fullmatch(r"\d{13}", seen.headers["x-ncp-apigw-timestamp"])
    assert all(r[k] is None for r in registries for k in ("id", "storage_limit_bytes", "storage_used_bytes", "public", "plan"))


def test_region_picks_host_and_stage_prefix_and_api_url_overrides(server, connect):
    params = provider_params("ncloud", None, None, access_key=ACCESS, secret_key=SECRET)
    for region, url in [(None, "https://ncr.apigw.ntruss.com/ncr/api/v2"), ("sgn", "https://ncr.apigw.ntruss.com/ncr/sgn-api/v2"),
                        ("JPN", "https://ncr.apigw.ntruss.com/ncr/jpn-api/v2"), ("gov-kr", "https://gov-ncr.apigw.gov-ntruss.com/ncr/kr/v2"),
                        ("gov-krs", "https://gov-ncr.apigw.gov-ntruss.com/ncr/krs/v2")]:
        assert NcloudProvider(dict(params, region=region)).base_url() == url
    assert NcloudProvider(dict(params, region="sgn", api_url="http://127.0.0.1:9")).base_url() == "http://127.0.0.1:9/ncr/sgn-api/v2"
    assert NcloudProvider(dict(params, region="sgn", api_url="https://gw.example/custom/v2/")).base_url() == "https://gw.example/custom/v2"
    # the stage prefix of gov-krs is signed
    server.route("GET", "/ncr/krs/v2/repositories", page([]))
    provider = connect(server, region="gov-krs")
    assert provider.list_registry({}) == []
    assert server.requests[0].target == "/ncr/krs/v2/repositories?page=1&pagesize=%d" % PAGE_SIZE and verify(server.requests[0])


def test_fresh_timestamp_and_signature_on_every_retry(server, connect):
    ticks = itertools.count(1700000000.0, 7.5)
    server.route("GET", PREFIX + "/repositories", Reply(503), Reply(500, {"error": {"errorCode": "500", "message": "oops"}}), page([]))
    provider = connect(server)
    provider.clock = lambda: next(ticks)
    assert provider.list_registry({}) == []
    stamps = [r.headers["x-ncp-apigw-timestamp"] for r in server.requests]
    assert stamps == ["1700000000000", "1700000007500", "1700000015000"]
    assert len(set(r.headers["x-ncp-apigw-signature-v2"] for r in server.requests)) == 3
    assert all(verify(r) for r in server.requests)


def test_pagination_always_sends_both_and_follows_next(server, connect):
    calls = []

    def images(seen):
        calls.append((seen.arg("page"), seen.arg("pagesize")))
        following = {"1": 3, "3": "https://ncr.apigw.ntruss.com/ncr/api/v2/repositories/main?page=4&pagesize=100", "4": None}
        return page([{"name": "img%s" % seen.arg("page")}], following[seen.arg("page")])

    server.route("GET", PREFIX + "/repositories", page([registry_raw("main")]))
    server.route("GET", PREFIX + "/repositories/main", images)
    provider = connect(server)
    assert [r["name"] for r in provider.list_repository({"registry": "main"})] == ["img1", "img3", "img4"]
    assert calls == [("1", str(PAGE_SIZE)), ("3", str(PAGE_SIZE)), ("4", str(PAGE_SIZE))]
    # a next that points back stops the loop
    server.route("GET", PREFIX + "/repositories/loop", page([{"name": "x"}], 1))
    assert provider._pages("/repositories/loop") == [{"name": "x"}]


@pytest.mark.parametrize("count, expected_pages", [(250, ["1", "2", "3"]), (150, ["1", "2", "3"]), (None, ["1", "2", "3"])])
def test_pages_after_the_first_are_read_side_by_side_when_the_count_says_how_many(server, connect, count, expected_pages):
    """A first page that gives ``count`` and ``next: 2``: pages 2 .. ceil(count / pagesize) are read side by side, in
    order in the result. A count that fell behind (150: the list grew to 3 pages meanwhile) still reads on while the last
    page read says ``next``; without a count, the pages go one after the other."""
    calls = []

    def tags(seen):
        number = int(seen.arg("page"))
        calls.append(seen.arg("page"))
        names = ["t%d-%d" % (number, n) for n in range(PAGE_SIZE if number < 3 else 50)]
        body = {"next": number + 1 if number < 3 else None, "previous": None,
                "results": [{"name": n, "digest": "sha256:" + "a" * 64} for n in names]}
        if count is not None:
            body["count"] = count
        return Reply(200, body)

    server.route("GET", PREFIX + "/repositories/main/app/tags", tags)
    provider = connect(server)
    found = provider._pages("/repositories/main/app/tags")  # pylint: disable=protected-access
    assert sorted(calls) == expected_pages and calls[0] == "1"
    assert [t["name"] for t in found] == ["t%d-%d" % (p, n) for p in (1, 2, 3) for n in range(PAGE_SIZE if p < 3 else 50)]
    if count is None or count == 150:
        assert calls == ["1", "2", "3"]  # one after the other (page 3 known only from page 2's next)


# ---------------------------------------------------------------------------------------------
# Errors: the gateway's and NCR's bodies, the 401 clock-skew hint

class FakeResponse:
    def __init__(self, status, body):
        self.status_code = status
        self.headers = {}
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        return json.loads(self.text)


@pytest.mark.parametrize("status, body, message, code", [
    (400, {"error": {"errorCode": "100", "message": "Bad Request Exception", "details": "page must be > 0"}},
     "Bad Request Exception: page must be > 0", "100"),
    (400, {"returnCode": "400", "returnMessage": "bucket is required"}, "bucket is required", "400"),
    (409, {"responseError": {"returnCode": "409", "returnMessage": "already exists"}}, "already exists", "409"),
    (500, {"error": "boom"}, "boom", None),
    (502, "<html>bad gateway</html>", "<html>bad gateway</html>", None),
    (404, {"message": "Not Found"}, "Not Found", None),
])
def test_error_bodies(status, body, message, code):
    assert ncloud_error(FakeResponse(status, body)) == (message, code, None)


def test_401_says_clock_skew_or_wrong_secret(server, connect):
    refused = {"error": {"errorCode": "200", "message": "Authentication Failed", "details": "Invalid authentication information."}}
    server.route("GET", PREFIX + "/repositories", Reply(401, refused))
    provider = connect(server)
    with pytest.raises(AuthError) as caught:
        provider.list_registry({})
    text = str(caught.value)
    assert "HTTP 401" in text and "Authentication Failed: Invalid authentication information." in text
    assert SKEW_HINT in text and "more than 5 minutes off" in text and "secret key does not belong" in text
    assert SECRET not in text and ACCESS not in text
    assert len(server.requests) == 1  # a 401 is not retried
    assert "Container Registry permission" in ncloud_error(FakeResponse(403, {"error": {"message": "Permission Denied"}}))[0]


def test_times():
    assert ncp_time(1767225600000) == ncp_time(1767225600) == ncp_time("1767225600000") == "2026-01-01T00:00:00Z"
    assert ncp_time(1767225600123) == "2026-01-01T00:00:00.123Z"
    assert ncp_time("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00Z"
    assert [ncp_time(v) for v in (None, 0, "", True, -5, "never", 10 ** 20)] == [None] * 7


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors, zero requests

@pytest.mark.parametrize("resource, items, desired, params, message", [
    ("tag", [{"registry": "main", "repository": "app", "name": "v1"}], {}, {"access_key": None}, "provider ncloud needs access_key and secret_key"),
    ("tag", [{"registry": "main", "repository": "app", "name": "v1"}], {}, {"secret_key": ""}, "(missing: secret_key)"),
    ("tag", [{"registry": "main", "repository": "app", "name": "v1"}], {}, {"region": "us"}, "region 'us' is not an NCR region: one of kr, sgn"),
    ("tag", [{"registry": None, "repository": "app", "name": "v1"}], {}, {}, "provider ncloud needs registry"),
    ("tag", [{"registry": "Main_Reg", "repository": "app", "name": "v1"}], {}, {}, "registry name 'Main_Reg' is not valid on NCR"),
    ("tag", [{"registry": "main", "repository": "App", "name": "v1"}], {}, {}, "repository name 'App' is not valid"),
    ("tag", [{"registry": "main", "repository": "app", "name": "-v1"}], {}, {}, "tag '-v1' is not valid"),
    ("registry", [{"name": "main-"}], {}, {}, "registry name 'main-' is not valid on NCR"),
    ("registry", [{"name": "main"}], {"storage_type": "ncloudStorage", "bucket": "b1b"}, {}, "bucket does not go with storage_type ncloudStorage"),
    ("registry", [{"name": "main"}], {"bucket": "Bad_Bucket"}, {}, "bucket 'Bad_Bucket' is not an Object Storage bucket name"),
    ("registry", [{"name": "main"}], {"storage_type": "s3"}, {}, "storage_type 's3' is not an NCR storage type"),
    ("repository", [{"registry": "main", "name": "app"}], {"description": "x" * 101}, {}, "description is 101 characters long; NCR keeps at most 100"),
    ("artifact", [{"registry": "main", "repository": "app", "digest": "sha256:abc"}], {}, {}, "digest 'sha256:abc' is not valid"),
])
def test_bad_input_fails_before_any_request(server, resource, items, desired, params, message):
    base = provider_params("ncloud", server.url, None, access_key=ACCESS, secret_key=SECRET)
    base.update(params)
    provider = NcloudProvider(base)
    with pytest.raises(ValueError) as caught:
        provider.validate(resource, items, desired)
    assert message in str(caught.value)
    if params:  # connect checks the connection options too
        with pytest.raises(ValueError, match=re.escape(message)):
            provider.connect()
    assert not server.requests


def test_capabilities_and_secrets():
    provider = NcloudProvider(provider_params("ncloud", None, None, access_key=ACCESS, secret_key=SECRET))
    assert provider.describe() == ("registry (state=present|absent, registry_info); repository (state=present|absent, repository_info); "
                                   "artifact (state=present|absent, artifact_info); tag (state=absent, tag_info)")
    assert set(("access_key", "secret_key")) <= set(provider.secret_options)
    assert provider.env_fallbacks == {"access_key": ("NCLOUD_ACCESS_KEY",), "secret_key": ("NCLOUD_SECRET_KEY",)}
    with pytest.raises(Exception, match="does not support tag state=present"):
        provider.require("tag", state="present")
    with pytest.raises(Exception, match="NCR has no users"):
        provider.require("registry_user", state="present")
    with pytest.raises(Exception, match="does not support the option"):
        provider.require("repository", state="present", options=("wait",))


# ---------------------------------------------------------------------------------------------
# Registries: create (bodies), delete (404 is done), immutable settings

def test_registry_create_delete_and_immutable_settings(server, connect):
    listed = {"main": registry_raw("main", bucket="main-bucket")}
    server.route("GET", PREFIX + "/repositories", lambda seen: page(sorted(listed.values(), key=lambda r: r["name"])))

    def create(seen):
        body = json.loads(seen.body)
        listed["fresh"] = registry_raw("fresh", bucket=body.get("bucket"))
        return Reply(201, {"returnCode": "201", "returnMessage": "Registry Creation is successful"})

    server.route("POST", PREFIX + "/repositories/fresh", create)
    server.route("POST", PREFIX + "/repositories/taken", Reply(409, {"returnCode": "409", "returnMessage": "Conflict"}))
    server.route("DELETE", PREFIX + "/repositories/main", Reply(204))
    server.route("DELETE", PREFIX + "/repositories/gone", Reply(404, {"error": {"errorCode": "404", "message": "Not Found"}}))
    provider = connect(server)
    main = provider.read_registry([{"name": "main"}, {"name": "nope"}])
    assert main[1] is None and main[0]["provider_data"]["bucket"] == "main-bucket"
    assert provider.check_create_registry({"name": "fresh"}, {}).startswith("bucket is required to create registry fresh with storage_type objectStorage")
    assert provider.check_create_registry({"name": "fresh"}, {"storage_type": "ncloudStorage"}) is None
    assert provider.changes_registry({"name": "main"}, main[0], {"storage_type": "objectStorage", "bucket": "main-bucket", "region": "kr"}) == {}
    with pytest.raises(ValueError) as caught:
        provider.changes_registry({"name": "main"}, main[0], {"bucket": "other-bucket"})
    assert ("registry main has storage_type objectStorage and bucket 'main-bucket'; the task asks for storage_type objectStorage and bucket "
            "'other-bucket'. NCR cannot change") in str(caught.value)
    with pytest.raises(ValueError, match="asks for storage_type ncloudStorage and bucket 'main-bucket'"):
        provider.changes_registry({"name": "main"}, main[0], {"storage_type": "ncloudStorage"})
    predicted = provider.predict("registry", Action("create", {"name": "fresh"}, None, {"bucket": "fresh-bucket"}))
    created = provider.create_registry({"name": "fresh"}, {"bucket": "fresh-bucket"})
    assert created["name"] == predicted["name"] == "fresh"
    assert created["provider_data"]["storage_type"] == predicted["provider_data"]["storage_type"] == "objectStorage"
    assert created["provider_data"]["bucket"] == predicted["provider_data"]["bucket"] == "fresh-bucket"
    post = server.calls("POST")[0]
    assert post.target == PREFIX + "/repositories/fresh" and json.loads(post.body) == {"storageType": "objectStorage", "bucket": "fresh-bucket"}
    assert verify(post)
    with pytest.raises(ConflictError, match="a registry of that name exists that this account does not list"):
        provider.create_registry({"name": "taken"}, {"storage_type": "ncloudStorage"})
    assert json.loads(server.calls("POST")[1].body) == {"storageType": "ncloudStorage"}
    provider.delete_registry({"name": "main"}, main[0])
    provider.delete_registry({"name": "gone"}, None)
    assert [(r.method, r.target) for r in server.calls("DELETE")] == [("DELETE", PREFIX + "/repositories/main"), ("DELETE", PREFIX + "/repositories/gone")]


def test_registry_create_whose_answer_was_lost_is_found_in_the_list(server, connect):
    listed = []
    server.route("GET", PREFIX + "/repositories", lambda seen: page(listed))

    def create(seen):
        listed.append(registry_raw("fresh", bucket=None))
        return Reply(500, {"error": {"errorCode": "500", "message": "gateway timeout"}})

    server.route("POST", PREFIX + "/repositories/fresh", create)
    provider = connect(server)
    created = provider.create_registry({"name": "fresh"}, {"storage_type": "ncloudStorage"})
    assert created["name"] == "fresh" and len(server.calls("POST")) == 1  # a create is never sent twice


# ---------------------------------------------------------------------------------------------
# Images: detail, PATCH of what differs, delete with %2F

def test_repository_detail_patch_and_delete(server, connect):
    server.route("GET", PREFIX + "/repositories", page([registry_raw("main")]))
    detail = {"name": "team/app", "description": "old", "full_description": "# old", "pull_count": 3, "last_updated": 1767225600000,
              "namespace": "main", "is_private": True, "tag_mutability_enabled": True}
    server.route("GET", PREFIX + "/repositories/main/team/app", Reply(200, detail))
    server.route("GET", PREFIX + "/repositories/main/nope", Reply(404, {"error": {"errorCode": "404", "message": "Not Found"}}))
    server.route("PATCH", PREFIX + "/repositories/main/team/app", Reply(204))
    server.route("DELETE", PREFIX + "/repositories/main/team/app", Reply(204))
    provider = connect(server)
    current, missing = provider.read_repository([{"registry": "main", "name": "team/app"}, {"registry": "main", "name": "nope"}])
    assert missing is None
    assert (current["location"], current["description"], current["pull_count"], current["updated_at"]) == (
        "main.kr.ncr.ntruss.com/team/app", "old", 3, "2026-01-01T00:00:00Z")
    assert current["provider_data"]["full_description"] == "# old" and current["provider_data"]["tag_mutability_enabled"] is True
    item = {"registry": "main", "name": "team/app"}
    assert provider.changes_repository(item, current, {"description": "old", "full_description": None}) == {}
    changes = provider.changes_repository(item, current, {"description": "new", "full_description": "# old"})
    assert changes == {"description": "new"}
    after = provider.update_repository(item, current, changes, {})
    assert after == provider.predict("repository", Action("update", item, current, {}, changes))
    assert after["description"] == "new" and after["provider_data"]["full_description"] == "# old"
    patch = server.calls("PATCH")[0]
    assert patch.raw_path == PREFIX + "/repositories/main/team%2Fapp" and json.loads(patch.body) == {"description": "new"} and verify(patch)
    assert "NCR creates an image when it is first pushed" in provider.check_create_repository({"registry": "main", "name": "nope"}, {})
    assert provider.check_create_repository({"registry": "other", "name": "x"}, {}) == "registry other does not exist in region kr"
    provider.delete_repository(item, current)
    assert server.calls("DELETE")[0].raw_path == PREFIX + "/repositories/main/team%2Fapp" and verify(server.calls("DELETE")[0])


# ---------------------------------------------------------------------------------------------
# Tags: a FakeNcr whose images live in a FakeOci registry (the registry's end_point), both tag-delete readings

class FakeNcr:
    """NCR's API over a ``FakeOci``: images are the OCI repositories, tags its tags; ``semantics`` is what the tag DELETE
    does, ``tag`` (only the tag) or ``manifest`` (the manifest and every tag on it)."""

    def __init__(self, api, oci, semantics):
        self.api, self.oci, self.semantics = api, oci, semantics
        self.pulled = {}
        api.fallback = self.handle

    def tag_object(self, repository, name, digest):
        media_type, raw = self.oci.manifests[(repository, digest)]
        body = json.loads(raw.decode("utf-8"))
        if body.get("manifests"):
            images = [{"digest": m["digest"], "os": m["platform"]["os"], "architecture": m["platform"]["architecture"],
                       "mediaType": m["mediaType"], "created": 1767225600000, "updated": 1767312000000, "latest_pulled": 0}
                      for m in body["manifests"]]
        else:
            images = [{"digest": digest, "os": "linux", "architecture": "amd64", "mediaType": media_type, "created": 1767225600000,
                       "updated": 1767312000000, "latest_pulled": self.pulled.get(name, 0)}]
        return {"name": name, "digest": digest, "full_size": len(raw), "id": 1, "image_id": 2, "creator": "tester", "images": images}

    def handle(self, seen):
        assert verify(seen), seen
        match = re.match(r"^/ncr/api/v2/repositories(?:/([^/]+)(?:/([^/]+)(?:/tags(?:/([^/]+))?)?)?)?$", seen.raw_path)
        if not match:
            return Reply(404, {"error": {"errorCode": "404", "message": "Not Found"}})
        registry, image, tag = match.groups()
        image = image.replace("%2F", "/") if image else None
        if registry is None:
            return page([registry_raw("main", end_point=self.oci.server.url)])
        tags = self.oci.tags.get(image)
        if seen.method == "GET" and seen.raw_path.endswith("/tags"):
            if tags is None:
                return Reply(404, {"error": {"errorCode": "404", "message": "Not Found"}})
            assert seen.arg("page") and seen.arg("pagesize")
            return page([self.tag_object(image, name, digest) for name, digest in sorted(tags.items())])
        if seen.method == "GET" and tag is not None:
            if not tags or tag not in tags:
                return Reply(404, {"error": {"errorCode": "404", "message": "Not Found"}})
            return Reply(200, self.tag_object(image, tag, tags[tag]))
        if seen.method == "DELETE" and tag is not None:
            if not tags or tag not in tags:
                return Reply(404, {"error": {"errorCode": "404", "message": "Not Found"}})
            digest = tags[tag]
            if self.semantics == "tag":
                del tags[tag]
            else:
                self.oci.manifests.pop((image, digest), None)
                self.oci.tags[image] = dict((t, d) for t, d in tags.items() if d != digest)
            return Reply(204)
        if seen.method == "GET" and image is not None:
            return Reply(200, {"name": image, "description": "", "full_description": ""})
        return page([{"name": name} for name in sorted(self.oci.tags)])


@pytest.fixture
def ncr(request):
    api, registry = ScriptedServer().start(), ScriptedServer().start()
    oci = FakeOci(registry, tag_delete=400)
    oci.server = registry
    fake = FakeNcr(api, oci, getattr(request, "param", "manifest"))
    yield fake
    api.stop()
    registry.stop()


def tag_action(provider, name, repository="team/app", recheck=False):
    item = {"registry": "main", "repository": repository, "name": name}
    current = provider.read_tag([item])[0]
    return Action("delete", item, current, {"recheck": recheck})


def mutating(server):
    return [(r.method, r.raw_path) for r in server.requests if r.method in ("PUT", "POST", "PATCH", "DELETE")]


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_tag_info_and_artifacts(ncr, connect):
    one = ncr.oci.add_image("team/app", tags=["v1", "latest"])
    two = ncr.oci.add_image("team/app", tags=["v2"], arch="arm64")
    ncr.pulled["v1"] = 1767398400000
    provider = connect(ncr.api)
    tags = provider.list_tag({"registry": "main", "repository": ["team/app"]})
    assert [(t["name"], t["digest"], t["pushed_at"], t["pulled_at"]) for t in tags] == [
        ("latest", one, "2026-01-02T00:00:00Z", None), ("v1", one, "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"),
        ("v2", two, "2026-01-02T00:00:00Z", None)]
    assert tags[1]["provider_data"]["platforms"] == ["linux/amd64"] and tags[1]["provider_data"]["created_at"] == "2026-01-01T00:00:00Z"
    artifacts = provider.list_artifact({"registry": "main", "repository": ["team/app"]})
    assert sorted((a["digest"], a["tags"], a["pulled_at"]) for a in artifacts) == sorted([
        (one, ["latest", "v1"], "2026-01-03T00:00:00Z"), (two, ["v2"], None)])
    assert all("referenced_by" not in a for a in artifacts)
    assert provider.read_artifact([{"registry": "main", "repository": "team/app", "digest": one}])[0]["referenced_by"] == []
    assert provider.read_tag([{"registry": "nope", "repository": "team/app", "name": "v1"}]) == [None]
    assert ("/ncr/api/v2/repositories/main/team%2Fapp/tags" in [r.raw_path for r in ncr.api.requests])


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_tag_alone_on_its_digest_goes_with_the_api_delete(ncr, connect):
    one = ncr.oci.add_image("team/app", tags=["v1"])
    two = ncr.oci.add_image("team/app", tags=["v2", "stable"], arch="arm64")
    provider = connect(ncr.api)
    actions = [tag_action(provider, "v1")]
    assert provider.apply("tag", actions) == [(actions[0], actions[0].current, None)]
    assert mutating(ncr.api) == [("DELETE", TAGS + "v1")]
    assert not mutating(ncr.oci.server)  # nothing over the OCI path
    assert ncr.oci.tags["team/app"] == {"v2": two, "stable": two}
    assert (("team/app", one) in ncr.oci.manifests) is (ncr.semantics == "tag")


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_tag_whose_digest_another_tag_keeps_goes_over_the_oci_path(ncr, connect):
    one = ncr.oci.add_image("team/app", tags=["v1", "v1-alias", "keep"])
    provider = connect(ncr.api)
    actions = [tag_action(provider, "v1", recheck=True), tag_action(provider, "v1-alias")]
    outcomes = provider.apply("tag", actions)
    assert [(a.item["name"], e) for a, _r, e in outcomes] == [("v1", None), ("v1-alias", None)]
    assert ncr.oci.tags["team/app"] == {"keep": one}
    assert ("team/app", one) in ncr.oci.manifests
    # the tags went to one throwaway over the registry host, then the throwaway's tags through the API
    oci_writes = mutating(ncr.oci.server)
    assert [m for m, p in oci_writes if "/manifests/" in p] == ["PUT", "PUT"]
    assert not [p for m, p in oci_writes if m == "DELETE"]
    # the throwaway's first tag is deleted through the API, then its second is read: gone under the manifest reading (the
    # first DELETE took the manifest with every tag on it); else the tags are listed again and the ones on it deleted
    assert [p for m, p in mutating(ncr.api)] == [TAGS + "v1"] + ([] if ncr.semantics == "manifest" else [TAGS + "v1-alias"])
    throwaways = [d for (r, d), (_t, raw) in ncr.oci.manifests.items() if THROWAWAY_ANNOTATION.encode() in raw]
    assert len(throwaways) == (0 if ncr.semantics == "manifest" else 1)  # under "tag", an untagged throwaway stays


@pytest.mark.parametrize("ncr", ["manifest"], indirect=True)
def test_tag_moved_since_read_is_skipped_and_index_children_are_kept(ncr, connect):
    child = ncr.oci.add_image("team/app", tags=["amd64-only"])
    index = ncr.oci.add_manifest("team/app", "application/vnd.oci.image.index.v1+json", json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"digest": child, "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                       "platform": {"os": "linux", "architecture": "amd64"}}]}).encode(), tags=["multi"])
    other = ncr.oci.add_image("team/app", tags=["moving"], arch="s390x")
    provider = connect(ncr.api)
    child_action, moving = tag_action(provider, "amd64-only"), tag_action(provider, "moving", recheck=True)
    ncr.oci.tags["team/app"]["moving"] = child  # pushed again since the read
    outcomes = provider.apply("tag", [child_action, moving])
    assert outcomes[0][2] is None
    assert outcomes[1][2].outcome == "skipped" and outcomes[1][2].reason == "moved"
    # the child of the kept index went over the OCI path: under the manifest reading an API DELETE would have deleted it
    assert ("team/app", child) in ncr.oci.manifests and ("team/app", index) in ncr.oci.manifests
    assert ncr.oci.tags["team/app"] == {"multi": index, "moving": child}
    assert other != child
    artifacts = provider.list_artifact({"registry": "main", "repository": ["team/app"]})
    assert [a["children"] for a in artifacts if a["digest"] == index][0][0]["platform"] == "linux/amd64"


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_artifact_absent_deletes_every_tag_and_rechecks(ncr, connect):
    one = ncr.oci.add_image("team/app", tags=["a", "b"])
    two = ncr.oci.add_image("team/app", tags=["c"], arch="arm64")
    provider = connect(ncr.api)
    items = [{"registry": "main", "repository": "team/app", "digest": d} for d in (one, two)]
    result = engine.ensure(provider, "artifact", items, "absent", {})
    assert [a["action"] for a in result["actions"]] == ["deleted", "deleted"]
    assert [a["tags"] for a in result["artifacts"]] == [["a", "b"], ["c"]]
    assert ncr.oci.tags["team/app"] == {}
    # every tag's DELETE is sent: under the manifest reading the second of a digest answers 404 (already gone)
    assert sorted(p for m, p in mutating(ncr.api)) == [TAGS + t for t in ("a", "b", "c")]
    # a tag pushed onto the digest after the read keeps it
    three = ncr.oci.add_image("team/app", tags=["d"], arch="ppc64le")
    item = {"registry": "main", "repository": "team/app", "digest": three}
    current = provider.read_artifact([item])[0]
    ncr.oci.tags["team/app"]["e"] = three
    outcome = provider.apply("artifact", [Action("delete", item, current)])[0]
    assert outcome[2].outcome == "skipped" and outcome[2].reason == "tags_changed" and "tag(s) e now point" in str(outcome[2])
    assert ncr.oci.tags["team/app"] == {"d": three, "e": three}


def another_run_deletes(ncr, tag, image="team/app"):
    """What another run's tag DELETE does to the registry, under the reading ``ncr`` has."""
    tags = ncr.oci.tags[image]
    if tag not in tags:
        return  # a 404: gone with another tag of its digest (the manifest reading)
    digest = tags[tag]
    if ncr.semantics == "tag":
        del tags[tag]
    else:
        ncr.oci.manifests.pop((image, digest), None)
        ncr.oci.tags[image] = dict((t, d) for t, d in tags.items() if d != digest)


def gone_at_the_read_and_at_the_delete(ncr, provider, at_read, at_delete):
    """Another run deletes the tags ``at_read`` right after the engine's read, and each of ``at_delete`` right before this
    run's DELETE of it arrives (after the provider read the tags again)."""
    handle = ncr.handle

    def race(seen):
        name = seen.raw_path[len(TAGS):] if seen.method == "DELETE" and seen.raw_path.startswith(TAGS) else None
        if name in at_delete and name in ncr.oci.tags["team/app"]:
            another_run_deletes(ncr, name)
        return handle(seen)

    def delete_at_read():
        for tag in at_read:
            another_run_deletes(ncr, tag)

    after_the_read(provider, delete_at_read)
    ncr.api.fallback = race


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_gone_since_the_read_is_absent_not_deleted(ncr, connect):
    """A tag or digest another run (or a person) deleted between this run's read and its delete is reported ``absent``,
    never ``deleted``: a report must not count what its run did not do (the bytes it freed). Found by the read right
    before the deletes, or by a 404 to a tag's first DELETE before any tag of the digest went. A 404 after this run's
    first delete of a digest is NCR's manifest reading (this run's doing), and a 404 to a repeated DELETE (the first
    went through, its answer was lost) is this run's delete: both ``deleted``."""
    digests = dict((tags[0][0], ncr.oci.add_image("team/app", tags=tags, arch="arch-%s" % tags[0]))
                   for tags in (["x1", "x2"], ["y1"], ["z1", "z2"], ["w1"], ["t1", "t2"]))
    rule = FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/tags/w1$", max_faults=1)
    with FaultProxy(ncr.api.url, rules=[rule]) as proxy:
        provider = connect(ncr.api, api_url=proxy.url)
        gone_at_the_read_and_at_the_delete(ncr, provider, ["x1", "x2"], ["y1"])
        items = [{"registry": "main", "repository": "team/app", "digest": digests[t]} for t in ("x", "y", "z", "w")]
        result = engine.ensure(provider, "artifact", items, "absent", {})
        assert len(proxy.faulted()) == 1  # w1's DELETE acted and its answer was lost: the repeated DELETE got 404
    assert [a["action"] for a in result["actions"]] == ["absent", "absent", "deleted", "deleted"]
    assert result["actions"][0]["msg"] == "already gone: deleted since it was read (by another run, or by hand)"
    assert ncr.oci.tags["team/app"] == {"t1": digests["t"], "t2": digests["t"]}

    # tags: the same through the tag removal's API DELETE
    ncr.api.fallback = ncr.handle
    for tags in (["x1"], ["y1"], ["z1", "z2"], ["w1"]):
        ncr.oci.add_image("team/app", tags=tags, arch="again-%s" % tags[0])
    with FaultProxy(ncr.api.url, rules=[FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/tags/w1$", max_faults=1)]) as proxy:
        provider = connect(ncr.api, api_url=proxy.url)
        gone_at_the_read_and_at_the_delete(ncr, provider, ["x1"], ["y1", "t1"])
        names = ["x1", "y1", "z1", "z2", "w1", "t1", "t2"]
        result = engine.ensure(provider, "tag", [{"registry": "main", "repository": "team/app", "name": n} for n in names], "absent", {})
        assert len(proxy.faulted()) == 1
    # t1 went just before this run's DELETE: under the manifest reading t2 went with it, under the tag reading this run removes t2
    assert [a["action"] for a in result["actions"]] == ["absent", "absent", "deleted", "deleted", "deleted", "absent",
                                                        "absent" if ncr.semantics == "manifest" else "deleted"]
    assert result["actions"][1]["msg"] == "tag y1 is already gone: deleted since it was read (by another run, or by hand)"
    assert ncr.oci.tags["team/app"] == {}
    assert not mutating(ncr.oci.server)  # every tag went with the API DELETE


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_deleting_many_digests_reads_the_tag_list_once_before_and_once_for_the_read(ncr, connect):
    digests = [ncr.oci.add_image("team/app", tags=["t%d" % n], arch="arch%d" % n) for n in range(5)]
    provider = connect(ncr.api)
    items = [{"registry": "main", "repository": "team/app", "digest": d} for d in digests]
    before = len(ncr.api.requests)
    result = engine.ensure(provider, "artifact", items, "absent", {})
    assert [a["action"] for a in result["actions"]] == ["deleted"] * 5
    lists = [r for r in ncr.api.requests[before:] if r.method == "GET" and r.raw_path == TAGS.rstrip("/")]
    assert len(lists) == 2  # the engine's read, and the re-read right before the deletes; not one per digest
    # and a read after the run is fresh
    assert provider.read_artifact([dict(items[0])])[0] is None


@pytest.mark.parametrize("ncr", ["manifest", "tag"], indirect=True)
def test_expected_tags_reads_the_tags_again_right_before_each_digest(ncr, connect):
    """NCR's tag DELETE may take the manifest with every tag on it: with ``expected_tags`` naming the digests, the image's
    tags are read again right before each digest goes (``concurrency: 1`` here: one listing per digest), so that a tag
    pushed onto a later digest during the call, or a kept tag moved onto it, keeps it (``skipped``, ``tags_changed``)."""
    digests = [ncr.oci.add_image("team/app", tags=["t%d" % n], arch="arch%d" % n) for n in range(4)]
    kept = ncr.oci.add_image("team/app", tags=["stable"], arch="kept")
    provider = connect(ncr.api, concurrency=1, expected_tags=dict((d, ["t%d" % n]) for n, d in enumerate(digests)))
    items = [{"registry": "main", "repository": "team/app", "digest": d} for d in digests]
    handle = ncr.handle

    def push_after_the_first_delete(seen):
        answer = handle(seen)
        if seen.method == "DELETE" and seen.raw_path == TAGS + "t0":
            ncr.oci.tags["team/app"]["hotfix"] = digests[3]
            ncr.oci.tags["team/app"]["stable"] = digests[2]
        return answer

    ncr.api.fallback = push_after_the_first_delete
    before = len(ncr.api.requests)
    result = engine.ensure(provider, "artifact", items, "absent", {})
    assert [(a["action"], a.get("reason")) for a in result["actions"]] == [
        ("deleted", None), ("deleted", None), ("skipped", "tags_changed"), ("skipped", "tags_changed")]
    assert ncr.oci.tags["team/app"] == {"t2": digests[2], "stable": digests[2], "t3": digests[3], "hotfix": digests[3]}
    assert kept not in ncr.oci.tags["team/app"].values()  # stable moved off it (by the push), nothing else
    lists = [r for r in ncr.api.requests[before:] if r.method == "GET" and r.raw_path == TAGS.rstrip("/")]
    assert len(lists) == 1 + 4  # the engine's read, then one right before each digest


def test_the_re_read_of_a_paged_tag_list_never_overlaps_this_runs_deletes():
    """150 one-tag digests (two pages of NCR's tag list at this provider's page size of 100), 120 to delete with
    ``expected_tags`` at ``concurrency: 8``, on the Naver Cloud emulator, whose pages are numbered over the current tags. A
    page read while a delete of the same image lands shifts the tags after it: the next page skips some, and a digest
    whose tag was skipped looked gone (``absent``) and stayed (found by the benchmark). Now no tag DELETE is answered
    between the pages of a listing, and every digest is deleted."""
    with NcloudEmulator() as emu:
        digests = ["sha256:%064x" % n for n in range(150)]
        for number, digest in enumerate(digests):
            emu.add_tag("acme", "app", "t%03d" % number, digest=digest)
        doomed = digests[:120]
        provider = NcloudProvider(provider_params("ncloud", emu.api_url("kr"), None, access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY,
                                                  region=None, concurrency=8,
                                                  expected_tags=dict((d, ["t%03d" % n]) for n, d in enumerate(doomed))))
        provider.connect()
        try:
            result = engine.ensure(provider, "artifact", [{"registry": "acme", "repository": "app", "digest": d} for d in doomed], "absent", {})
        finally:
            provider.close()
        assert [a["action"] for a in result["actions"]] == ["deleted"] * 120
        assert emu.tag_names("acme", "app") == ["t%03d" % n for n in range(120, 150)]
        order = [("page", r.target.split("page=")[1].split("&")[0]) if r.method == "GET" and r.path.endswith("/tags") else (r.method, None)
                 for r in emu.log.records]
        between = []  # what was answered between each listing's first page and its second
        for index, (kind, number) in enumerate(order):
            if kind == "page" and number == "1":
                following = next((i for i in range(index + 1, len(order)) if order[i][0] == "page"), None)
                if following is not None and order[following] == ("page", "2"):
                    between.append([k for k, _n in order[index + 1:following]])
        assert len(between) >= 2 and not [kinds for kinds in between if "DELETE" in kinds], between


@pytest.mark.parametrize("ncr", ["manifest"], indirect=True)
def test_throwaway_not_listed_rolls_back(ncr, connect):
    one = ncr.oci.add_image("team/app", tags=["v1", "keep"])
    provider = connect(ncr.api)
    action = tag_action(provider, "v1")
    original = ncr.handle

    def hide_throwaway(seen):
        reply = original(seen)
        if seen.method == "GET" and seen.raw_path.endswith("/tags") and reply.status == 200:
            reply.body["results"] = [t for t in reply.body["results"] if t["digest"] == one]
        return reply

    ncr.api.fallback = hide_throwaway
    _action, _result, error = provider.apply("tag", [action])[0]
    assert error.outcome == "restored" and "does not show in NCR's tag list" in str(error)
    assert ncr.oci.tags["team/app"] == {"v1": one, "keep": one}


def test_oci_path_needs_an_end_point(server, connect):
    server.route("GET", PREFIX + "/repositories", page([registry_raw("main", end_point="")]))
    provider = connect(server)
    with pytest.raises(ApiError, match="gives registry main no end_point"):
        provider._oci_provider("main")
    assert provider.is_leftover({"registry": "main", "repository": "app"}, {"digest": D1}) is False


def test_connection_failure_is_reported(connect):
    class Down:
        url = "http://127.0.0.1:%d" % closed_port()
    provider = connect(Down, retries=0)
    with pytest.raises(ApiError, match="connection failed"):
        provider.list_registry({})
