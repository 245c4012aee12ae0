"""Tests of the Naver Cloud (NCR API v2) emulator, over real HTTP: the gateway's signature v2, every stage prefix, the
10 operations, both tag-delete semantics, and the per-registry /v2/ fronts over a real registry."""
# pylint: disable=redefined-outer-name,missing-function-docstring,too-few-public-methods

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from tests.emulators.ncloud import (ACCESS_KEY_HEADER, CREATE_MESSAGE, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, DEFAULT_SETTINGS,
                                    LEGACY_SIGNATURE_HEADER, REGIONS, SIGNATURE_HEADER, STAGE_PREFIXES, TIMESTAMP_HEADER, NcloudEmulator,
                                    image_path_name, ncr_backend, sign, signed_headers)
from tests.support.seed import DOCKER_MANIFEST, MANIFEST_ACCEPT, OCI_MANIFEST, SeedClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
JAN = 1767225600000  # 2026-01-01T00:00:00Z in ms
FEB = 1769904000000  # 2026-02-01T00:00:00Z
READER = {"access_key": "NCPREADONLYKEY", "secret_key": "reader-secret", "read_only": True}
DEFAULTS = dict(DEFAULT_SETTINGS, keys=DEFAULT_SETTINGS["keys"] + [READER])
TAG_FIELDS = {"creator", "digest", "full_size", "id", "image_id", "images", "name"}
ENTRY_FIELDS = {"architecture", "created", "digest", "features", "latest_pulled", "mediaType", "os", "os_features", "os_version", "size",
                "updated", "variant"}


@pytest.fixture(scope="module")
def server():
    with NcloudEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server):
    """A clean emulator with default settings (plus a read-only key), in memory; reset (backed: purged) afterwards."""
    server.configure(**DEFAULTS)
    server.reset()
    yield server
    server.reset()


class Api:
    """``api(method, path_under_the_stage_prefix, region=..., ...)``: signed as the gateway wants it."""

    def __init__(self, emu):
        self.emu = emu
        self.session = requests.Session()

    def __call__(self, method, path, region="kr", access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY, timestamp=None,
                 signed_target=None, drop=(), headers=None, **kwargs):
        target = STAGE_PREFIXES[region] + path
        hdrs = signed_headers(method, signed_target or target, access_key, secret_key, timestamp)
        for name in drop:
            hdrs.pop(name)
        hdrs.update(headers or {})
        return self.session.request(method, self.emu.url + target, headers=hdrs, timeout=10, **kwargs)


@pytest.fixture
def api(emu):
    return Api(emu)


@pytest.fixture
def reg():
    """A registry name of its own (the backend registry outlives the emulator's resets)."""
    return "reg-" + uuid.uuid4().hex[:10]


def gateway_error(resp, status, code, details=None):
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["errorCode"] == code and set(error) == {"errorCode", "message", "details"}, error
    if details is not None:
        assert details in error["details"], error
    return error


def ncr_error(resp, status, message=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["returnCode"] == str(status) and set(body) == {"returnCode", "returnMessage"}, body
    if message is not None:
        assert message in body["returnMessage"], body
    return body


def now_ms():
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- signature v2 (the gateway)

def test_sign_matches_the_reference_vectors():
    assert sign("ncp-secret-example", "GET", "/photos/puppy.jpg?query1=&query2", "1700000000000",
                "ACCESS_KEY_ID") == "iPe1hFfjl7BPGhFZJGCY5XZgH6eWMwCWlSdSkKU+SPE="
    assert sign("SECRETKEY", "GET", "/ncr/api/v2/repositories?page=1&pagesize=50", "1700000000000",
                "ACCESSKEY") == "nIZj12dPVu/e8EUtPw++91AQIBODaCv6NbTUtl6nrTc="
    assert sign("SECRETKEY", "DELETE", "/ncr/api/v2/repositories/myreg/hello%2Fworld/tags/v1", "1700000000000",
                "ACCESSKEY") == "ykT2dB+shOuxhIO8GtrKLNC0Zr25Q8BO+dJtjhqwKno="


def test_gateway_accepts_the_reference_requests_byte_for_byte(emu):
    emu.configure(keys=[{"access_key": "ACCESSKEY", "secret_key": "SECRETKEY"}], clock_skew=1700000000 - time.time())
    emu.add_tag("myreg", "hello/world", "v1")
    base = {TIMESTAMP_HEADER: "1700000000000", ACCESS_KEY_HEADER: "ACCESSKEY"}
    resp = requests.get(emu.url + "/ncr/api/v2/repositories?page=1&pagesize=50", timeout=5,
                        headers=dict(base, **{SIGNATURE_HEADER: "nIZj12dPVu/e8EUtPw++91AQIBODaCv6NbTUtl6nrTc="}))
    assert resp.status_code == 200 and [r["name"] for r in resp.json()["results"]] == ["myreg"]
    resp = requests.delete(emu.url + "/ncr/api/v2/repositories/myreg/hello%2Fworld/tags/v1", timeout=5,
                           headers=dict(base, **{SIGNATURE_HEADER: "ykT2dB+shOuxhIO8GtrKLNC0Zr25Q8BO+dJtjhqwKno="}))
    assert resp.status_code == 204 and resp.content == b""
    assert emu.log.last().target == "/ncr/api/v2/repositories/myreg/hello%2Fworld/tags/v1"


def test_missing_headers_and_unknown_key(api):
    for header in (TIMESTAMP_HEADER, ACCESS_KEY_HEADER, SIGNATURE_HEADER):
        gateway_error(api("GET", "/repositories?page=1&pagesize=10", drop=(header,)), 401, "200", header)
    error = gateway_error(requests.get(api.emu.url + "/ncr/api/v2/repositories", timeout=5), 401, "200")
    assert error["message"] == "Authentication Failed"
    gateway_error(api("GET", "/repositories?page=1&pagesize=10", access_key="NOSUCHKEY"), 401, "200", "unknown access key NOSUCHKEY")


def test_signature_over_anything_but_the_raw_target_is_refused(api):
    api.emu.add_tag("myreg", "hello/world", "v1")
    ok = "/repositories/myreg/hello%2Fworld/tags?page=1&pagesize=10"
    assert api("GET", ok).status_code == 200
    prefix = STAGE_PREFIXES["kr"]
    for wrong in ("/repositories/myreg/hello%2Fworld/tags?page=1&pagesize=10",           # without the stage prefix
                  prefix + "/repositories/myreg/hello/world/tags?page=1&pagesize=10",    # decoded name
                  prefix + "/repositories/myreg/hello%2fworld/tags?page=1&pagesize=10",  # other percent-encoding
                  prefix + "/repositories/myreg/hello%2Fworld/tags?pagesize=10&page=1",  # other query order
                  prefix + "/repositories/myreg/hello%2Fworld/tags"):                    # query left out
        gateway_error(api("GET", ok, signed_target=wrong), 401, "200", "does not match")
    gateway_error(api("GET", ok, secret_key="wrong-secret"), 401, "200", "does not match")
    resp = api("GET", "/repositories/myreg/hello%2Fworld/tags?page=1&pagesize=10",
               headers={SIGNATURE_HEADER: sign(DEFAULT_SECRET_KEY, "POST", prefix + ok, "1", DEFAULT_ACCESS_KEY)})
    gateway_error(resp, 401, "200")


def test_timestamp_window_and_clock_skew(api):
    path = "/repositories?page=1&pagesize=10"
    assert api("GET", path, timestamp=now_ms() - 290_000).status_code == 200
    assert api("GET", path, timestamp=now_ms() + 290_000).status_code == 200
    gateway_error(api("GET", path, timestamp=now_ms() - 310_000), 401, "200", "behind the gateway clock")
    gateway_error(api("GET", path, timestamp=now_ms() + 310_000), 401, "200", "ahead of the gateway clock")
    gateway_error(api("GET", path, timestamp="yesterday"), 401, "200", "epoch milliseconds")
    api.emu.configure(clock_skew=600)  # the gateway clock runs 10 minutes ahead: a correct client is refused
    gateway_error(api("GET", path), 401, "200", "behind the gateway clock")
    assert api("GET", path, timestamp=now_ms() + 600_000).status_code == 200
    api.emu.configure(clock_skew=0, max_clock_skew=30)
    gateway_error(api("GET", path, timestamp=now_ms() - 60_000), 401, "200", "at most 30 s")


def test_legacy_signature_v1_header(api):
    target = STAGE_PREFIXES["kr"] + "/repositories?page=1&pagesize=10"
    legacy = signed_headers("GET", target, header=LEGACY_SIGNATURE_HEADER)
    gateway_error(requests.get(api.emu.url + target, headers=legacy, timeout=5), 401, "200", "signature-v1 is not accepted")
    api.emu.configure(accept_signature_v1=True)
    assert requests.get(api.emu.url + target, headers=legacy, timeout=5).status_code == 200
    both = dict(legacy, **{SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"})  # v2 wins when both are sent
    gateway_error(requests.get(api.emu.url + target, headers=both, timeout=5), 401, "200", SIGNATURE_HEADER)


def test_read_only_key_and_content_type(api):
    assert api("GET", "/repositories?page=1&pagesize=10", access_key=READER["access_key"], secret_key=READER["secret_key"]).status_code == 200
    gateway_error(api("POST", "/repositories/myreg", access_key=READER["access_key"], secret_key=READER["secret_key"],
                      json={"bucket": "b"}), 403, "230", "no permission")
    assert api("GET", "/repositories?page=1&pagesize=10", headers={"Content-Type": "text/plain"}).status_code == 200
    api.emu.configure(require_content_type=True)
    gateway_error(api("GET", "/repositories?page=1&pagesize=10", headers={"Content-Type": "text/plain"}), 400, "100", "Content-Type")
    assert api("GET", "/repositories?page=1&pagesize=10").status_code == 200


# --------------------------------------------------------------------------- regions, routing, pagination

def test_every_stage_prefix_is_a_region_of_its_own(api):
    assert set(STAGE_PREFIXES.values()) == {"/ncr/api/v2", "/ncr/sgn-api/v2", "/ncr/jpn-api/v2", "/ncr/kr/v2", "/ncr/krs/v2"}
    for region in REGIONS:
        assert api("POST", "/repositories/shared", region=region, json={"bucket": f"bucket-{region}"}).status_code == 201
        assert api("POST", "/repositories/only-" + region, region=region, json={"storageType": "ncloudStorage"}).status_code == 201
    for region in REGIONS:
        names = [r["name"] for r in api("GET", "/repositories?page=1&pagesize=10", region=region).json()["results"]]
        assert names == ["only-" + region, "shared"], region
    end_points = {region: api("GET", "/repositories?page=1&pagesize=10", region=region).json()["results"][1]["end_point"] for region in REGIONS}
    assert end_points == {"kr": "shared.kr.ncr.ntruss.com", "sgn": "shared.sgn.ncr.ntruss.com", "jpn": "shared.jpn.ncr.ntruss.com",
                          "gov-kr": "shared.kr.ncr.gov-ntruss.com", "gov-krs": "shared.krs.ncr.gov-ntruss.com"}
    assert api.emu.api_url("gov-krs") == api.emu.url + "/ncr/krs/v2"
    # a signature made for one stage prefix does not open another
    resp = api("GET", "/repositories?page=1&pagesize=10", region="sgn", signed_target="/ncr/api/v2/repositories?page=1&pagesize=10")
    gateway_error(resp, 401, "200")


def test_unknown_paths_and_methods_are_the_gateways_404(api):
    error = gateway_error(requests.get(api.emu.url + "/ncr/nowhere/v2/repositories", timeout=5), 404, "300")
    assert error["message"] == "Not Found Exception"
    gateway_error(api("GET", "/registries?page=1&pagesize=10"), 404, "300")
    gateway_error(api("PUT", "/repositories/myreg"), 404, "300")
    gateway_error(requests.get(api.emu.url + "/ncr/api/v2/nowhere", timeout=5), 401, "200")  # under a prefix: auth first


def test_pagination_envelope(api):
    for index in range(5):
        api.emu.add_registry(f"reg{index}")
    page = api("GET", "/repositories?page=1&pagesize=2").json()
    assert (page["count"], page["next"], page["previous"]) == (5, 2, None)
    assert [r["name"] for r in page["results"]] == ["reg0", "reg1"]
    page = api("GET", "/repositories?page=3&pagesize=2").json()
    assert (page["count"], page["next"], page["previous"], [r["name"] for r in page["results"]]) == (5, None, 2, ["reg4"])
    page = api("GET", "/repositories?page=9&pagesize=2").json()
    assert (page["count"], page["next"], page["previous"], page["results"]) == (5, None, 8, [])
    ncr_error(api("GET", "/repositories"), 400, "page and pagesize are required")
    ncr_error(api("GET", "/repositories?page=1"), 400, "pagesize is required")
    for bad in ("page=0&pagesize=2", "page=1&pagesize=0", "page=x&pagesize=2", "page=1&pagesize=-1"):
        ncr_error(api("GET", "/repositories?" + bad), 400, "greater than 0")
    api.emu.configure(paging_required=False, default_pagesize=3, max_pagesize=4)
    page = api("GET", "/repositories").json()
    assert (page["next"], len(page["results"])) == (2, 3)
    assert len(api("GET", "/repositories?page=1&pagesize=100").json()["results"]) == 4  # clamped


# --------------------------------------------------------------------------- registries

def test_registry_create_list_delete(api):
    resp = api("POST", "/repositories/myreg", json={"bucket": "my-bucket", "storageType": "objectStorage"})
    assert resp.status_code == 201 and resp.json() == {"returnCode": "201", "returnMessage": CREATE_MESSAGE}
    assert api("POST", "/repositories/local", json={"storageType": "ncloudStorage", "bucket": "ignored"}).status_code == 201
    assert api("POST", "/repositories/default", json={"bucket": "other-bucket"}).status_code == 201
    results = api("GET", "/repositories?page=1&pagesize=10").json()["results"]
    assert [r["name"] for r in results] == ["default", "local", "myreg"]
    myreg = results[2]
    assert set(myreg) == {"bucket", "created", "end_point", "end_point_enabled", "name", "private_end_point", "private_id",
                          "public_reg_status", "scan_on_push_enabled", "status"}
    assert myreg["bucket"] == "my-bucket" and results[1]["bucket"] == "" and myreg["end_point"] == "myreg.kr.ncr.ntruss.com"
    assert isinstance(myreg["created"], int) and abs(myreg["created"] - now_ms()) < 60_000
    assert myreg["private_end_point"] == myreg["private_id"] + ".kr.private-ncr.ntruss.com"
    assert (myreg["end_point_enabled"], myreg["public_reg_status"], myreg["scan_on_push_enabled"], myreg["status"]) == (
        True, False, False, "Running")
    ncr_error(api("POST", "/repositories/myreg", json={"bucket": "new-bucket"}), 409, "already exists")
    ncr_error(api("POST", "/repositories/again", json={"bucket": "my-bucket"}), 409, "already used by registry myreg")
    assert api("DELETE", "/repositories/myreg").status_code == 204
    ncr_error(api("DELETE", "/repositories/myreg"), 404, "not found")
    assert api("POST", "/repositories/again", json={"bucket": "my-bucket"}).status_code == 201  # the bucket is free again


def test_registry_create_validation(api):
    ncr_error(api("POST", "/repositories/myreg"), 400, "bucket is required")
    ncr_error(api("POST", "/repositories/myreg", json={"storageType": "objectStorage"}), 400, "bucket is required")
    ncr_error(api("POST", "/repositories/myreg", json={"bucket": "b", "storageType": "s3"}), 400, "storageType")
    ncr_error(api("POST", "/repositories/myreg", json={"bucket": 7}), 400, "bucket must be a string")
    ncr_error(api("POST", "/repositories/myreg", json=["bucket"]), 400, "JSON object")
    ncr_error(api("POST", "/repositories/myreg", data=b"{nope", headers={"Content-Type": "application/json"}), 400, "invalid JSON")
    for bad in ("My-Reg", "-reg", "reg_1", "a" * 64):
        ncr_error(api("POST", f"/repositories/{bad}", json={"bucket": "b"}), 400, "invalid registry name")
    assert api.emu.registry_names() == []


def test_registry_legacy_shape(api):
    api.emu.add_tag("myreg", "app", "v1", size=300)
    api.emu.configure(registry_shape="legacy")
    (item,) = api("GET", "/repositories?page=1&pagesize=10").json()["results"]
    assert set(item) == {"name", "bucket", "end_point", "usage", "created", "status"} and item["usage"] == 300


# --------------------------------------------------------------------------- images

def test_image_list_detail_update_delete(api):
    api.emu.add_image("myreg", "team/app", description="the app", pull_count=3, tags=["v1"])
    api.emu.add_image("myreg", "lib")
    page = api("GET", "/repositories/myreg?page=1&pagesize=10").json()
    assert page["count"] == 2 and [i["name"] for i in page["results"]] == ["lib", "team/app"]
    app = page["results"][1]
    assert set(app) == {"can_edit", "description", "is_automated", "is_private", "last_updated", "name", "namespace", "pull_count",
                        "repository_type", "star_count", "status", "user"}
    assert (app["description"], app["pull_count"], app["namespace"]) == ("the app", 3, "myreg")
    detail = api("GET", "/repositories/myreg/team%2Fapp").json()
    assert set(detail) - set(app) == {"full_description", "private_id", "tag_mutability_enabled"}
    resp = api("PATCH", "/repositories/myreg/team%2Fapp", json={"description": "d" * 100, "full_description": "# App\n\nMarkdown"})
    assert resp.status_code == 204 and resp.content == b""
    detail = api("GET", "/repositories/myreg/team%2Fapp").json()
    assert (detail["description"], detail["full_description"]) == ("d" * 100, "# App\n\nMarkdown")
    ncr_error(api("PATCH", "/repositories/myreg/team%2Fapp", json={"description": "d" * 101}), 400, "at most 100")
    ncr_error(api("PATCH", "/repositories/myreg/team%2Fapp", json={"full_description": 5}), 400, "must be a string")
    api.emu.configure(patch_status=200)
    resp = api("PATCH", "/repositories/myreg/team%2Fapp", json={"description": "short"})
    assert resp.status_code == 200 and resp.content == b""
    ncr_error(api("PATCH", "/repositories/myreg/nothing", json={"description": "x"}), 404, "not found")
    resp = api("DELETE", "/repositories/myreg/team%2Fapp")
    assert resp.status_code == 204 and resp.content == b""
    ncr_error(api("DELETE", "/repositories/myreg/team%2Fapp"), 404)
    ncr_error(api("GET", "/repositories/myreg/team%2Fapp"), 404)
    ncr_error(api("GET", "/repositories/nothing?page=1&pagesize=10"), 404, "Registry nothing not found")


def test_image_names_are_one_encoded_segment(api):
    api.emu.add_tag("myreg", "team/app", "v1")
    assert api("GET", "/repositories/myreg/team%2Fapp").status_code == 200
    gateway_error(api("GET", "/repositories/myreg/team/app"), 404, "300")  # unencoded: another path, no such API
    ncr_error(api("GET", "/repositories/myreg/team%252Fapp"), 404)           # encoded twice: no such image
    assert image_path_name("team/app") == "team%2Fapp"


# --------------------------------------------------------------------------- tags

def test_tag_json_fields(api):
    api.emu.add_tag("myreg", "app", "v1", digest=D1, size=2048, created="2026-01-01T00:00:00Z", updated=FEB,
                    latest_pulled="2026-03-01T00:00:00Z", creator="ci")
    api.emu.add_tag("myreg", "app", "multi", platforms=["linux/amd64", {"os": "linux", "architecture": "arm64", "variant": "v8",
                                                                        "size": 100, "created": JAN}], updated=JAN)
    tag = api("GET", "/repositories/myreg/app/tags/v1").json()
    assert set(tag) == TAG_FIELDS and (tag["name"], tag["digest"], tag["full_size"], tag["creator"]) == ("v1", D1, 2048, "ci")
    (entry,) = tag["images"]
    assert set(entry) == ENTRY_FIELDS
    assert entry == {"architecture": "amd64", "created": JAN, "digest": D1, "features": "", "latest_pulled": 1772323200000,
                     "mediaType": OCI_MANIFEST, "os": "linux", "os_features": "", "os_version": None, "size": 2048, "updated": FEB,
                     "variant": None}
    multi = api("GET", "/repositories/myreg/app/tags/multi").json()
    assert [(e["os"], e["architecture"], e["variant"]) for e in multi["images"]] == [("linux", "amd64", None), ("linux", "arm64", "v8")]
    assert multi["full_size"] == 1024 + 100 and multi["images"][0]["latest_pulled"] == 0
    assert len({multi["digest"]} | {e["digest"] for e in multi["images"]}) == 3
    assert tag["image_id"] == multi["image_id"] and tag["id"] != multi["id"]
    page = api("GET", "/repositories/myreg/app/tags?page=1&pagesize=1").json()
    assert (page["count"], page["next"], [t["name"] for t in page["results"]]) == (2, 2, ["multi"])
    api.emu.configure(tag_extras=True, never_pulled=None)
    extra = api("GET", "/repositories/myreg/app/tags/multi").json()
    assert (extra["last_updated"], extra["last_updater"], extra["images"][0]["latest_pulled"]) == (JAN, "", None)
    ncr_error(api("GET", "/repositories/myreg/app/tags/nothing"), 404, "Tag nothing not found")


@pytest.mark.parametrize("semantics", ["manifest", "tag"])
def test_tag_delete_semantics_in_memory(api, semantics):
    api.emu.configure(tag_delete_semantics=semantics)
    for name in ("v1", "latest"):
        api.emu.add_tag("myreg", "app", name, digest=D1)
    api.emu.add_tag("myreg", "app", "v2", digest=D2)
    resp = api("DELETE", "/repositories/myreg/app/tags/v1")
    assert resp.status_code == 204 and resp.content == b""
    assert api.emu.tag_names("myreg", "app") == (["latest", "v2"] if semantics == "tag" else ["v2"])
    ncr_error(api("DELETE", "/repositories/myreg/app/tags/v1"), 404)
    api.emu.configure(tag_delete_status=200)
    assert api("DELETE", "/repositories/myreg/app/tags/v2").status_code == 200
    assert api("GET", "/repositories/myreg/app").status_code == 200  # the image stays without tags


def test_set_pulled_and_pushed(api):
    api.emu.add_tag("myreg", "app", "multi", platforms=["linux/amd64", "linux/arm64"])
    api.emu.add_tag("myreg", "app", "v1", digest=D1)
    children = api.emu.set_pulled("myreg", "app", "multi", when=FEB)
    assert len(children) == 2
    api.emu.set_pulled("myreg", "app", D1, when=JAN)
    api.emu.set_pushed("myreg", "app", "v1", "2026-01-02T00:00:00Z")
    assert [e["latest_pulled"] for e in api("GET", "/repositories/myreg/app/tags/multi").json()["images"]] == [FEB, FEB]
    entry = api("GET", "/repositories/myreg/app/tags/v1").json()["images"][0]
    assert (entry["latest_pulled"], entry["updated"]) == (JAN, JAN + 86_400_000)


# --------------------------------------------------------------------------- log, faults, errors, control surface

def test_request_log_keeps_the_raw_target_and_headers(api):
    api.emu.add_tag("myreg", "team/app", "v1")
    api("GET", "/repositories/myreg/team%2Fapp/tags?page=2&pagesize=50")
    record = api.emu.log.last()
    assert record.target == "/ncr/api/v2/repositories/myreg/team%2Fapp/tags?page=2&pagesize=50"
    assert record.path == "/ncr/api/v2/repositories/myreg/team%2Fapp/tags" and record.query == {"page": "2", "pagesize": "50"}
    assert record.params == {"registry": "myreg", "image": "team/app"}
    assert record.route == "/ncr/api/v2/repositories/{registry}/{image:enc}/tags"
    assert record.headers[ACCESS_KEY_HEADER] == DEFAULT_ACCESS_KEY and record.headers[SIGNATURE_HEADER]
    assert not api.emu.log.mutating()


def test_injected_faults_answer_like_the_gateway(api):
    api.emu.rate_limit(times=1, retry_after="2")
    resp = api("GET", "/repositories?page=1&pagesize=10")
    assert resp.headers["Retry-After"] == "2"
    assert gateway_error(resp, 429, "420")["message"] == "Rate Limited"
    api.emu.server_error(times=1, status=503)
    gateway_error(api("GET", "/repositories?page=1&pagesize=10"), 503, "500")
    api.emu.error(404, times=1, message="Registry gone")
    ncr_error(api("GET", "/repositories?page=1&pagesize=10"), 404, "Registry gone")
    api.emu.reset_connection(times=1, method="DELETE")
    with pytest.raises(requests.ConnectionError):
        api("DELETE", "/repositories/whatever")
    assert api.emu.log.last().fault == "reset_connection"
    assert api("GET", "/repositories?page=1&pagesize=10").status_code == 200


def test_error_shape_gateway(api):
    api.emu.configure(error_shape="gateway")
    gateway_error(api("DELETE", "/repositories/nothing"), 404, "300", "Registry nothing not found")
    gateway_error(api("POST", "/repositories/myreg"), 400, "100", "bucket is required")


def test_control_endpoints_seed_state_config(emu):
    doc = {"registries": [{"name": "seeded", "bucket": "sb", "created": "2026-01-01T00:00:00Z", "images": [
        {"name": "team/app", "description": "seeded app", "tags": ["latest", {"name": "v1", "digest": D1, "updated": FEB}]}]},
        {"name": "tokyo", "region": "jpn", "storage_type": "ncloudStorage"}]}
    resp = requests.post(emu.url + "/_emulator/seed", json=doc, timeout=5)
    assert resp.status_code == 201
    state = requests.get(emu.url + "/_emulator/state", timeout=5).json()
    assert state["backed"] is False and [r["name"] for r in state["regions"]["jpn"]] == ["tokyo"]
    (seeded,) = state["regions"]["kr"]
    assert (seeded["bucket"], seeded["created"], seeded["storage_type"]) == ("sb", JAN, "objectStorage")
    (image,) = seeded["images"]
    assert image["description"] == "seeded app" and [t["name"] for t in image["tags"]] == ["latest", "v1"]
    assert image["tags"][1]["digest"] == D1 and image["tags"][1]["images"][0]["updated"] == FEB
    assert requests.post(emu.url + "/_emulator/seed", json={"registries": [{"nom": "x"}]}, timeout=5).status_code == 400
    config = requests.post(emu.url + "/_emulator/config", json={"tag_delete_semantics": "tag", "clock_skew": 5}, timeout=5).json()
    assert (config["tag_delete_semantics"], config["clock_skew"]) == ("tag", 5)
    for bad in ({"tag_delete_semantics": "digest"}, {"nope": 1}, {"keys": []}, {"registry_backend": "ftp://x"}, {"patch_status": 201},
                {"max_clock_skew": 0}, {"paging_required": "yes"}):
        assert requests.post(emu.url + "/_emulator/config", json=bad, timeout=5).status_code == 400, bad
    keys = requests.get(emu.url + "/_emulator/config", timeout=5).json()["keys"]
    assert {"access_key": DEFAULT_ACCESS_KEY, "secret_key": DEFAULT_SECRET_KEY, "read_only": False} in keys
    emu.configure(keys={"AK2": "SK2"})
    assert emu.registry_names() == ["seeded"] and [k["access_key"] for k in emu.settings()["keys"]] == ["AK2"]
    requests.post(emu.url + "/_emulator/reset", timeout=5)
    assert emu.registry_names() == [] and emu.settings()["tag_delete_semantics"] == "tag"


# --------------------------------------------------------------------------- backed mode: a /v2/ front per registry

@pytest.fixture(scope="module")
def backend(server):
    """One real registry per module (a missing docker-registry fails here: `make deps` installs it)."""
    registry = ncr_backend(server)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture
def backed(emu, backend):
    """``emu`` backed by the module's registry; the ``emu`` fixture's reset() deletes what the registries held."""
    emu.configure(registry_backend=backend.url)
    return emu


def front(emu, name, region="kr", access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY):
    """A registry client on a registry's front, logged in like ``docker login <end_point> -u <access key> -p <secret key>``."""
    return SeedClient(emu.registry_end_point(name, region), access_key, secret_key)


def test_front_per_registry_with_basic_auth(backed, backend, api, reg):
    assert api("POST", f"/repositories/{reg}", json={"bucket": reg}).status_code == 201
    end_point = api("GET", "/repositories?page=1&pagesize=10").json()["results"][0]["end_point"]
    assert end_point == backed.registry_end_point(reg) and end_point.startswith("http://127.0.0.1:")
    resp = requests.get(end_point + "/v2/", timeout=5)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == f'Basic realm="{reg}.kr.ncr.ntruss.com"'
    assert resp.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert requests.get(end_point + "/v2/", auth=(DEFAULT_ACCESS_KEY, "wrong"), timeout=5).status_code == 401
    assert requests.get(end_point + "/v2/", auth=(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), timeout=5).status_code == 200
    client = front(backed, reg)
    digest = client.push_image("team/app", ["v1"])
    assert SeedClient(backend.url).resolve(f"{reg}/team/app", "v1") == digest  # under <registry>/ on the backend
    assert client.tags("team/app") == ["v1"] and client.catalog() == ["team/app"]
    listed = requests.get(end_point + "/v2/team/app/tags/list", auth=(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), timeout=5).json()
    assert listed == {"name": "team/app", "tags": ["v1"]}
    upload = requests.post(end_point + "/v2/team/app/blobs/uploads/", auth=(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), timeout=5)
    assert upload.status_code == 202 and upload.headers["Location"].startswith("/v2/team/app/blobs/uploads/")
    head = requests.head(end_point + "/v2/team/app/manifests/v1", auth=(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY),
                         headers={"Accept": MANIFEST_ACCEPT}, timeout=5)
    assert head.headers["Docker-Content-Digest"] == digest and int(head.headers["Content-Length"]) > 0
    resp = requests.delete(f"{end_point}/v2/team/app/manifests/{digest}", auth=(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), timeout=5)
    assert resp.status_code == 405 and resp.json()["errors"][0]["code"] == "UNSUPPORTED"
    reader = front(backed, reg, access_key=READER["access_key"], secret_key=READER["secret_key"])
    assert reader.tags("team/app") == ["v1"]
    with pytest.raises(Exception, match="403"):
        reader.push_image("team/app", ["v2"])
    fronted = [r for r in backed.log.records if r.path.startswith("/v2/")]
    assert fronted and all(r.headers.get("Authorization") in (None, "Basic ***") for r in fronted)
    assert any(r.route == "/v2/{name}/manifests/{reference}" and r.params == {"registry": reg, "name": "team/app", "reference": "v1"}
               for r in fronted)
    assert requests.get(end_point + "/_emulator/state", timeout=5).status_code == 404


def test_backed_reads_come_from_the_registry(backed, api, reg):
    backed.add_registry(reg)
    client = front(backed, reg)
    v1 = client.push_image("team/app", ["v1", "latest"], created="2026-01-01T00:00:00Z")
    v2 = client.push_image("team/app", ["v2"], created="2026-02-01T00:00:00Z", media="docker")
    amd64 = client.push_image("team/app", [], created="2026-01-01T00:00:00Z", arch="amd64")
    arm64 = client.push_image("team/app", [], created="2026-02-01T00:00:00Z", arch="arm64")
    index = client.push_index("team/app", ["multi"], children=[
        {"digest": amd64, "platform": {"architecture": "amd64", "os": "linux"}},
        {"digest": arm64, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}])
    client.push_image("lib", ["1.0"])
    images = api("GET", f"/repositories/{reg}?page=1&pagesize=10").json()
    assert [i["name"] for i in images["results"]] == ["lib", "team/app"]
    tags = api("GET", f"/repositories/{reg}/team%2Fapp/tags?page=1&pagesize=10").json()
    assert [(t["name"], t["digest"]) for t in tags["results"]] == [("latest", v1), ("multi", index), ("v1", v1), ("v2", v2)]
    by_name = {t["name"]: t for t in tags["results"]}
    (entry,) = by_name["v1"]["images"]
    assert (entry["digest"], entry["created"], entry["os"], entry["architecture"]) == (v1, JAN, "linux", "amd64")
    assert entry["mediaType"] == OCI_MANIFEST
    assert entry["size"] == by_name["v1"]["full_size"] > 0 and by_name["v1"]["creator"] == DEFAULT_ACCESS_KEY
    assert by_name["v2"]["images"][0]["created"] == FEB
    multi = by_name["multi"]
    assert [(e["digest"], e["architecture"], e["variant"], e["created"]) for e in multi["images"]] == [
        (amd64, "amd64", None, JAN), (arm64, "arm64", "v8", FEB)]
    assert multi["full_size"] == sum(e["size"] for e in multi["images"])
    assert api("GET", f"/repositories/{reg}/team%2Fapp/tags/multi").json()["digest"] == index
    ncr_error(api("GET", f"/repositories/{reg}/team%2Fapp/tags/nothing"), 404)
    ncr_error(api("GET", f"/repositories/{reg}/nothing"), 404)
    ncr_error(api("GET", f"/repositories/{reg}/Not..A%2FName"), 404)  # not a registry name: not asked
    assert client.get_manifest("team/app", "v2")[1]  # a pull through the front
    pulled = api("GET", f"/repositories/{reg}/team%2Fapp/tags/v2").json()["images"][0]["latest_pulled"]
    assert abs(pulled - now_ms()) < 60_000
    assert api("GET", f"/repositories/{reg}/team%2Fapp").json()["pull_count"] >= 1
    backed.set_pulled(reg, "team/app", "v1", when=FEB)
    assert api("GET", f"/repositories/{reg}/team%2Fapp/tags/latest").json()["images"][0]["latest_pulled"] == FEB
    assert api("PATCH", f"/repositories/{reg}/team%2Fapp", json={"description": "kept by the emulator"}).status_code == 204
    assert api("GET", f"/repositories/{reg}/team%2Fapp").json()["description"] == "kept by the emulator"
    assert api("GET", f"/repositories/{reg}/team%2Fapp").json()["last_updated"] >= pulled - 60_000
    assert {e["mediaType"] for e in multi["images"]} == {OCI_MANIFEST} and by_name["v2"]["images"][0]["mediaType"] == DOCKER_MANIFEST
    with pytest.raises(Exception, match="push tags through"):
        backed.add_tag(reg, "team/app", "seeded")


@pytest.mark.parametrize("semantics", ["manifest", "tag"])
def test_backed_tag_delete_semantics(backed, backend, api, reg, semantics):
    backed.configure(tag_delete_semantics=semantics)
    backed.add_registry(reg)
    client = front(backed, reg)
    shared = client.push_image("app", ["v1", "latest"])
    other = client.push_image("app", ["v2"])
    assert api("DELETE", f"/repositories/{reg}/app/tags/v1").status_code == 204
    direct = SeedClient(backend.url)
    if semantics == "manifest":
        assert direct.tags(f"{reg}/app") == ["v2"] and not direct.manifest_exists(f"{reg}/app", shared)
    else:
        assert direct.tag_map(f"{reg}/app") == {"latest": shared, "v2": other}
    assert [t["name"] for t in api("GET", f"/repositories/{reg}/app/tags?page=1&pagesize=10").json()["results"]] == (
        ["v2"] if semantics == "manifest" else ["latest", "v2"])
    ncr_error(api("DELETE", f"/repositories/{reg}/app/tags/v1"), 404)


@pytest.mark.parametrize("semantics", ["manifest", "tag"])
def test_untag_over_the_front_then_delete_the_throwaway_through_the_api(backed, backend, api, reg, semantics):
    """The provider's way to remove a tag whose digest another tag carries: point it at a throwaway over /v2/, then delete
    each tag on the throwaway through the API. The sibling tag survives under either semantics."""
    backed.configure(tag_delete_semantics=semantics)
    backed.add_registry(reg)
    client = front(backed, reg)
    shared = client.push_image("team/app", ["v1", "latest"])
    throwaway = client.push_image("team/app", ["v1"], layers=[b"throwaway-" + uuid.uuid4().bytes])
    tags = {t["name"]: t["digest"] for t in api("GET", f"/repositories/{reg}/team%2Fapp/tags?page=1&pagesize=10").json()["results"]}
    assert tags == {"latest": shared, "v1": throwaway}
    assert api("DELETE", f"/repositories/{reg}/team%2Fapp/tags/v1").status_code == 204
    assert SeedClient(backend.url).tag_map(f"{reg}/team/app") == {"latest": shared}
    assert [t["name"] for t in api("GET", f"/repositories/{reg}/team%2Fapp/tags?page=1&pagesize=10").json()["results"]] == ["latest"]


def test_backed_image_and_registry_delete(backed, backend, api, reg):
    assert api("POST", f"/repositories/{reg}", region="sgn", json={"bucket": reg}).status_code == 201
    end_point = backed.registry_end_point(reg, "sgn")
    client = SeedClient(end_point, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    one = client.push_image("app", ["v1", "v1.0"])
    client.push_image("app", ["v2"])
    client.push_image("web", ["latest"])
    direct = SeedClient(backend.url)
    assert backed.backend_repository(reg, "app", "sgn") == f"sgn/{reg}/app" and direct.resolve(f"sgn/{reg}/app", "v1") == one
    assert api("DELETE", f"/repositories/{reg}/app", region="sgn").status_code == 204
    assert direct.tags(f"sgn/{reg}/app") == [] and not direct.manifest_exists(f"sgn/{reg}/app", one)
    names = [i["name"] for i in api("GET", f"/repositories/{reg}?page=1&pagesize=10", region="sgn").json()["results"]]
    assert names == ["web"]
    assert api("DELETE", f"/repositories/{reg}", region="sgn").status_code == 204
    assert direct.tags(f"sgn/{reg}/web") == [] and backed.front_url(reg, "sgn") is None
    with pytest.raises(requests.ConnectionError):
        requests.get(end_point + "/v2/", timeout=2)


def test_reset_purges_the_backend_and_stops_the_fronts(backed, backend, reg):
    backed.add_registry(reg)
    end_point = backed.registry_end_point(reg)
    digest = front(backed, reg).push_image("app", ["v1"])
    backed.reset()
    assert not SeedClient(backend.url).manifest_exists(f"{reg}/app", digest) and backed.fronts == {}
    with pytest.raises(requests.ConnectionError):
        requests.get(end_point + "/v2/", timeout=2)


def test_switching_the_backend_keeps_registries_and_drops_the_other_modes_tags(emu, backend, api, reg):
    emu.add_tag(reg, "app", "memory-only")
    emu.configure(registry_backend=backend.url)
    assert emu.registry_end_point(reg).startswith("http://")
    digest = front(emu, reg).push_image("app", ["pushed"])
    assert [t["name"] for t in api("GET", f"/repositories/{reg}/app/tags?page=1&pagesize=10").json()["results"]] == ["pushed"]
    emu.configure(registry_backend=None)
    assert emu.registry_end_point(reg) == f"{reg}.kr.ncr.ntruss.com"
    assert api("GET", f"/repositories/{reg}/app/tags?page=1&pagesize=10").json() == {"count": 0, "next": None, "previous": None,
                                                                                     "results": []}
    SeedClient(backend.url).delete_manifest(f"{reg}/app", digest)  # not backed any more: the reset would not purge it


def test_backend_unreachable(emu, api):
    emu.configure(registry_backend="http://127.0.0.1:9")
    emu.add_registry("myreg")
    gateway_error(api("GET", "/repositories/myreg?page=1&pagesize=10"), 503, "500", "registry backend unavailable")
    resp = requests.get(emu.registry_end_point("myreg") + "/v2/", auth=(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), timeout=5)
    assert resp.status_code == 503 and resp.json()["errors"][0]["code"] == "UNAVAILABLE"
    emu.configure(registry_backend=None)


def test_ncr_backend_helper_and_fronts_stop_with_the_emulator():
    with NcloudEmulator(clock=lambda: datetime(2026, 5, 30, 12, tzinfo=timezone.utc)) as emu:
        with ncr_backend(emu) as registry:
            assert emu.registry_backend == registry.url and registry.auth == "none"
            assert emu.add_registry("demo")["created"] == 1780142400000  # the pinned clock
            end_point = emu.registry_end_point("demo")
            front(emu, "demo").push_image("app", ["v1"])
            assert SeedClient(registry.url).tags("demo/app") == ["v1"]
            emu.stop()
            with pytest.raises(requests.ConnectionError):
                requests.get(end_point + "/v2/", timeout=2)
            emu.start()
            assert emu.registry_end_point("demo").startswith("http://127.0.0.1:")
        assert emu.registry_backend is None and emu.fronts == {} and emu.registry_end_point("demo") == "demo.kr.ncr.ntruss.com"


# --------------------------------------------------------------------------- standalone runner

def _run(cmd, check):
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert "ncloud emulator listening on http://127.0.0.1:" in first, first + proc.stderr.read()
            url = first.split()[-1]
            lines = []
            while not lines or not lines[-1].startswith("control endpoints:"):
                lines.append(proc.stdout.readline())
            check(url, "".join(lines))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0


def test_standalone_runner(tmp_path):
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"registries": [{"name": "demo", "images": [{"name": "app", "tags": ["latest"]}]}]}), encoding="utf-8")

    def check(url, text):
        assert f"access key: {DEFAULT_ACCESS_KEY}" in text and f"secret key: {DEFAULT_SECRET_KEY}" in text
        for region, prefix in STAGE_PREFIXES.items():
            assert f"{region:<8} {url}{prefix}" in text
        assert ("playbooks: provider: ncloud, api_url: " + url + "/ncr/api/v2, access_key: " + DEFAULT_ACCESS_KEY
                + ", secret_key: " + DEFAULT_SECRET_KEY + ", region: kr") in text
        assert "other keys: EXTRA=extra-secret" in text and "tag delete semantics: tag" in text
        assert "registry kr/demo: end_point demo.kr.ncr.ntruss.com" in text
        target = "/ncr/api/v2/repositories/demo/app/tags?page=1&pagesize=10"
        resp = requests.get(url + target, headers=signed_headers("GET", target, "EXTRA", "extra-secret"), timeout=5)
        assert [t["name"] for t in resp.json()["results"]] == ["latest"]

    _run([sys.executable, "-m", "tests.emulators.ncloud", "--port", "0", "--seed", str(seed_file), "--key", "EXTRA=extra-secret",
          "--tag-delete-semantics", "tag"], check)


def test_standalone_runner_with_backend(backend, reg):
    def check(url, text):
        assert f"registry backend: {backend.url}" in text
        target = f"/ncr/api/v2/repositories/{reg}"
        assert requests.post(url + target, json={"bucket": reg}, headers=signed_headers("POST", target), timeout=5).status_code == 201
        target = "/ncr/api/v2/repositories?page=1&pagesize=10"
        (item,) = requests.get(url + target, headers=signed_headers("GET", target), timeout=5).json()["results"]
        basic = "Basic " + base64.b64encode(f"{DEFAULT_ACCESS_KEY}:{DEFAULT_SECRET_KEY}".encode()).decode()
        assert requests.get(item["end_point"] + "/v2/", headers={"Authorization": basic}, timeout=5).status_code == 200

    _run([sys.executable, "-m", "tests.emulators.ncloud", "--port", "0", "--registry-backend", backend.url], check)


def test_timing_sanity(api):
    api.emu.add_tag("myreg", "app", "v1")
    start = time.monotonic()
    for _unused in range(20):
        api("GET", "/repositories/myreg/app/tags?page=1&pagesize=10")
    assert time.monotonic() - start < 2
