"""Tests of the Vultr Container Registry emulator, over real HTTP (and against a real local registry)."""
# pylint: disable=redefined-outer-name,missing-function-docstring

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
import yaml

from tests.emulators import registry_storage
from tests.emulators.vultr import (DEFAULT_API_KEY, NEVER_PULLED, VultrEmulator, cron_next, decode_cursor, doublestar_match,
                                   encode_cursor, robot_path_name)
from tests.support.registry import LocalRegistry
from tests.support.seed import SeedClient, canonical_json

KEY = DEFAULT_API_KEY
AUTH = {"Authorization": f"Bearer {KEY}"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXED = datetime(2026, 5, 30, 21, 35, 34, 123456, tzinfo=timezone.utc)
PLAIN_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
MILLIS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
DEFAULTS = {"default_per_page": 100, "max_per_page": 500, "rate_limit": 0, "rate_limit_window": 1.0, "registry_host": None,
            "registry_scheme": "http", "registry_backing": True, "docker_credentials": None, "robot_update_shape": "access",
            "robot_permissions_shape": "array", "retention_scope_key": "scope_selectors", "registry_extras": True,
            "strict_robot_names": True, "reject_duplicate_query": True}


@pytest.fixture(scope="module")
def server():
    """One server per module; state and settings reset by ``emu``."""
    with VultrEmulator(api_keys=(KEY, "second-key")) as emu:
        yield emu


@pytest.fixture
def emu(server):
    """A clean emulator with default settings and a pinned clock."""
    server.reset()
    server.configure(**DEFAULTS)
    server.clock = lambda: FIXED
    yield server
    server.reset()


@pytest.fixture
def api(emu):
    """Client bound to ``/v2``."""
    return Api(emu)


class Api:
    """Tiny client for the tests."""

    def __init__(self, emu):
        self.emu = emu
        self.base = emu.api_base
        self.session = requests.Session()
        self.session.headers.update(AUTH)

    def __call__(self, method, path="", **kwargs):
        return self.session.request(method, self.base + path, timeout=10, **kwargs)

    def registry(self, name="myreg", region="sjc", plan="business", public=False):
        """Create a registry; returns its JSON."""
        resp = self("POST", "/registry", json={"name": name, "public": public, "region": region, "plan": plan})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def all_pages(self, path, key, per_page):
        """Follow ``meta.links.next`` to the end; returns (items, number of requests)."""
        items, cursor, calls = [], None, 0
        while True:
            params = {"per_page": per_page}
            if cursor:
                params["cursor"] = cursor
            body = self("GET", path, params=params).json()
            calls += 1
            items.extend(body[key])
            cursor = body["meta"]["links"]["next"]
            if not cursor:
                return items, calls


def assert_error(resp, status, message=None):
    """Vultr error body ``{"error": "...", "status": N}``; ``message`` is a substring."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    if message is not None:
        assert message in body["error"], body
    return body


# --------------------------------------------------------------------------- helpers

def test_cursor_roundtrip_and_garbage():
    assert decode_cursor(encode_cursor("next", 300)) == 300
    assert decode_cursor(encode_cursor("prev", 0)) == 0
    for bad in ("!!", "bm9wZQ", base64.b64encode(b"next__x").decode(), base64.b64encode(b"side__3").decode()):
        with pytest.raises(ValueError):
            decode_cursor(bad)


@pytest.mark.parametrize("pattern,value,expected", [
    ("**", "team/app", True), ("*", "team/app", False), ("*", "app", True), ("team/*", "team/app", True),
    ("{app,lib}", "lib", True), ("{app,lib}", "web", False), ("v?", "v1", True), ("v?", "v10", False), ("1.*", "1x0", False),
])
def test_doublestar(pattern, value, expected):
    assert doublestar_match(pattern, value) is expected


@pytest.mark.parametrize("expr,expected", [
    ("0 0 * * *", "2026-05-31T00:00:00"), ("0 */15 * * * *", "2026-05-30T21:45:00"), ("0 0 0 1 * *", "2026-06-01T00:00:00"),
    ("0 9 * * 1", "2026-06-01T09:00:00"), ("0 0 12 * * MON", "2026-06-01T12:00:00"), ("0 0 1 jan *", "2027-01-01T00:00:00"),
    ("30 2 29 2 *", "2028-02-29T02:30:00"), ("0 0 13 * 5", "2026-06-05T00:00:00"),
])
def test_cron_next(expr, expected):
    assert cron_next(expr, FIXED) == datetime.fromisoformat(expected).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("expr", ["* * *", "61 * * * *", "0 0 * * FOO", "*/0 * * * *", "5-1 * * * *", "0 0 30 2 *"])
def test_cron_invalid(expr):
    try:
        assert cron_next(expr, FIXED) is None
    except ValueError:
        pass


# --------------------------------------------------------------------------- auth, routing, errors

def test_auth_rules(emu, api):
    url = api.base + "/registries"
    assert_error(requests.get(url, timeout=5), 401)
    assert_error(requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5), 401, "Invalid API token")
    assert_error(requests.get(url, headers={"Authorization": f"Basic {KEY}"}, timeout=5), 401)
    assert_error(requests.get(url, headers={"Authorization": KEY}, timeout=5), 401)
    for value in (f"Bearer {KEY}", f"bearer {KEY}", "Bearer second-key"):
        assert requests.get(url, headers={"authorization": value}, timeout=5).status_code == 200
    assert_error(requests.get(emu.url + "/nowhere", timeout=5), 401)  # auth before routing
    assert_error(requests.options(api.base + "/registry/x/docker-credentials", timeout=5), 401)
    assert emu.log.count(path_prefix="/") == 9


def test_unknown_paths_and_methods(api):
    assert_error(api("GET", "/nowhere"), 404)
    assert_error(api("GET", "/registries/"), 404)  # no trailing slashes
    resp = api("POST", "/registries")  # the spec's curl sample says POST /registries; the path is POST /registry
    assert_error(resp, 405)
    assert resp.headers["Allow"] == "GET"
    assert_error(api("GET", "/registry"), 405)
    reg = api.registry()
    resp = api("GET", f"/registry/{reg['id']}/docker-credentials")
    assert_error(resp, 405)
    assert resp.headers["Allow"] == "OPTIONS"
    assert api("PATCH", f"/registry/{reg['id']}").headers["Allow"] == "DELETE, GET, PUT"


def test_unknown_registry_is_404_everywhere(api):
    missing = str(uuid.uuid4())
    for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/repositories"), ("GET", "/repository/app"),
                         ("PUT", "/repository/app"), ("DELETE", "/repository/app"), ("GET", "/repository/app/artifacts"),
                         ("GET", f"/repository/app/artifact/{DIGEST_A}"), ("DELETE", f"/repository/app/artifact/{DIGEST_A}"),
                         ("OPTIONS", "/docker-credentials"), ("OPTIONS", "/docker-credentials/kubernetes"), ("GET", "/robots"),
                         ("GET", "/robot/robot%24x%2Bci"), ("PUT", "/robot/robot%24x%2Bci"), ("DELETE", "/robot/robot%24x%2Bci"),
                         ("GET", "/replications"), ("POST", "/replication"), ("GET", "/replication/ewr"),
                         ("DELETE", "/replication/ewr"), ("PUT", "/retention/schedule"), ("POST", "/retention/executions"),
                         ("GET", "/retention/rules"), ("POST", "/retention/rules"), ("GET", "/retention/rules/1"),
                         ("PUT", "/retention/rules/1"), ("DELETE", "/retention/rules/1")]:
        body = assert_error(api(method, f"/registry/{missing}{path}", json={}), 404)
        assert body["error"] == "Invalid container registry ID", (method, path)


# --------------------------------------------------------------------------- regions and plans

def test_list_regions(api):
    body = api("GET", "/registry/region/list").json()
    assert [r["name"] for r in body["regions"]] == ["ewr", "blr", "sjc", "sjp"]
    assert body["meta"] == {"total": 4, "links": {"next": "", "prev": ""}}
    sjc = body["regions"][2]
    assert set(sjc) == {"id", "name", "urn", "base_url", "public", "added_at", "updated_at", "data_center"}
    assert (sjc["id"], sjc["urn"], sjc["base_url"], sjc["public"]) == (3, "sjc.vultrcr.com", "https://sjc.vultrcr.com", True)
    assert PLAIN_RE.match(sjc["added_at"]) and PLAIN_RE.match(sjc["updated_at"])
    assert set(sjc["data_center"]) == {"id", "name", "site_code", "region", "country", "continent", "description", "airport"}
    regions, calls = api.all_pages("/registry/region/list", "regions", 3)
    assert [r["name"] for r in regions] == ["ewr", "blr", "sjc", "sjp"] and calls == 2


def test_list_plans(api):
    body = api("GET", "/registry/plan/list").json()
    assert body == {"plans": {
        "start_up": {"vanity_name": "StartUp", "max_storage_mb": 10240, "monthly_price": 0},
        "business": {"vanity_name": "Business", "max_storage_mb": 20480, "monthly_price": 5},
        "premium": {"vanity_name": "Premium", "max_storage_mb": 51200, "monthly_price": 10},
        "enterprise": {"vanity_name": "Enterprise", "max_storage_mb": 1048576, "monthly_price": 20}}}
    assert api("GET", "/registry/plan/list", params={"per_page": 1}).json() == body  # no pagination, no meta


def test_configured_regions_and_plans(emu, api):
    emu.configure(regions=["ams", {"name": "fra", "id": 9, "public": False}], plans={"tiny": {"max_storage_mb": 1}})
    try:
        names = [(r["name"], r["id"], r["public"]) for r in api("GET", "/registry/region/list").json()["regions"]]
        assert names == [("fra", 9, False), ("ams", 100, True)]
        assert api("GET", "/registry/plan/list").json() == {"plans": {"tiny": {"vanity_name": "tiny", "max_storage_mb": 1, "monthly_price": 0}}}
        assert api.registry("small", region="ams", plan="tiny")["storage"]["allowed"]["bytes"] == 1024 * 1024
    finally:
        emu.configure(regions=["ewr", "blr", "sjc", "sjp"], plans={
            "start_up": {"vanity_name": "StartUp", "max_storage_mb": 10240, "monthly_price": 0},
            "business": {"vanity_name": "Business", "max_storage_mb": 20480, "monthly_price": 5},
            "premium": {"vanity_name": "Premium", "max_storage_mb": 51200, "monthly_price": 10},
            "enterprise": {"vanity_name": "Enterprise", "max_storage_mb": 1048576, "monthly_price": 20}})


# --------------------------------------------------------------------------- registries

def test_create_read_list_registry(api):
    resp = api("POST", "/registry", json={"name": "charizard", "public": False, "region": "sjc", "plan": "business"})
    assert resp.status_code == 201
    reg = resp.json()
    rid = reg["id"]
    assert uuid.UUID(rid) and reg["root_user"]["username"] == rid
    assert reg == {
        "id": rid, "name": "charizard", "urn": "sjc.vultrcr.com/charizard",
        "storage": {"used": {"updated_at": "2026-05-30 21:35:34", "bytes": 0, "mb": 0, "gb": 0, "tb": 0},
                    "allowed": {"bytes": 21474836480, "mb": 20480, "gb": 20, "tb": 0.02}},
        "date_created": "2026-05-30 21:35:34", "public": False,
        "root_user": {"id": reg["root_user"]["id"], "username": rid, "password": reg["root_user"]["password"], "root": True,
                      "added_at": "2026-05-30 21:35:34", "updated_at": "2026-05-30 21:35:34"},
        "metadata": {"region": api("GET", "/registry/region/list").json()["regions"][2],
                     "subscription": {"billing": {"monthly_price": 5, "pending_charges": 0}, "plan": "business"}},
        "region": "sjc"}
    assert len(reg["root_user"]["password"]) >= 16 and reg["root_user"]["password"] == api.emu.root_password("charizard")
    assert api("GET", f"/registry/{rid}").json() == reg  # read: bare, password included
    listed = api("GET", "/registries").json()
    assert listed == {"registries": [reg], "meta": {"total": 1, "links": {"next": "", "prev": ""}}}
    other = api.registry("second", region="ewr", plan="start_up", public=True)
    assert other["root_user"]["id"] != reg["root_user"]["id"] and other["urn"] == "ewr.vultrcr.com/second"
    assert other["storage"]["allowed"] == {"bytes": 10737418240, "mb": 10240, "gb": 10, "tb": 0.01}
    assert [r["name"] for r in api("GET", "/registries").json()["registries"]] == ["charizard", "second"]


def test_registry_without_observed_extras(emu, api):
    emu.configure(registry_extras=False)
    reg = api.registry()
    assert "region" not in reg and "plan" not in reg["metadata"]["subscription"]
    assert set(reg) == {"id", "name", "urn", "storage", "date_created", "public", "root_user", "metadata"}


@pytest.mark.parametrize("name", ["a", "myreg", "reg01", "0", "x" * 64])
def test_registry_name_valid(api, name):
    assert api("POST", "/registry", json={"name": name, "public": False, "region": "sjc", "plan": "start_up"}).status_code == 201


@pytest.mark.parametrize("name", ["my-registry", "MyReg", "my_reg", "my.reg", "", " reg", "reg\n"])
def test_registry_name_invalid(api, name):
    body = assert_error(api("POST", "/registry", json={"name": name, "public": False, "region": "sjc", "plan": "start_up"}), 422)
    assert "alpha-numeric" in body["error"]


@pytest.mark.parametrize("change,message", [
    ({"name": None}, "name is required"), ({"public": None}, "public is required"), ({"region": None}, "region is required"),
    ({"plan": None}, "plan is required"), ({"name": 5}, "name must be a string"), ({"public": "false"}, "public must be a boolean"),
    ({"region": "xyz"}, "Invalid region"), ({"plan": "gold"}, "Invalid plan"), ({"region": 3}, "region must be a string"),
])
def test_create_registry_validation(api, change, message):
    body = {"name": "valid", "public": False, "region": "sjc", "plan": "start_up"}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    assert_error(api("POST", "/registry", json=body), 422, message)
    assert api("GET", "/registries").json()["meta"]["total"] == 0


def test_create_registry_bad_bodies_and_duplicates(api):
    assert_error(api("POST", "/registry"), 422, "name is required")
    assert_error(api("POST", "/registry", data="{nope", headers={"Content-Type": "application/json"}), 422, "Invalid JSON")
    assert_error(api("POST", "/registry", json=["x"]), 422, "JSON object")
    api.registry("taken")
    assert_error(api("POST", "/registry", json={"name": "taken", "public": True, "region": "ewr", "plan": "premium"}), 422, "taken")


def test_update_registry(emu, api):
    reg = api.registry(plan="start_up")
    rid = reg["id"]
    resp = api("PUT", f"/registry/{rid}", json={"public": True})
    assert resp.status_code == 200
    assert resp.json() == dict(reg, public=True)
    upgraded = api("PUT", f"/registry/{rid}", json={"plan": "premium"}).json()
    assert upgraded["storage"]["allowed"]["mb"] == 51200 and upgraded["metadata"]["subscription"]["billing"]["monthly_price"] == 10
    assert upgraded["metadata"]["subscription"]["plan"] == "premium" and upgraded["public"] is True
    # vultr-cli always sends plan, possibly "": unchanged; name/region in the body (the spec's curl sample) are ignored
    same = api("PUT", f"/registry/{rid}", json={"plan": "", "public": False, "name": "other", "region": "ewr"}).json()
    assert (same["name"], same["metadata"]["region"]["name"], same["public"], same["metadata"]["subscription"]["plan"]) == (
        "myreg", "sjc", False, "premium")
    assert api("PUT", f"/registry/{rid}", json={}).json() == same
    assert api("PUT", f"/registry/{rid}").json() == same
    assert_error(api("PUT", f"/registry/{rid}", json={"plan": "gold"}), 422, "Invalid plan")
    assert_error(api("PUT", f"/registry/{rid}", json={"public": "yes"}), 422, "public must be a boolean")
    assert_error(api("PUT", f"/registry/{rid}", data="x", headers={"Content-Type": "application/json"}), 422)
    assert emu.dump_state()["registries"][0]["public"] is False


def test_delete_registry_cascades(emu, api):
    reg = api.registry()
    rid = reg["id"]
    emu.add_artifact(rid, "app", DIGEST_A, size=10, tags=["latest"])
    emu.add_robot(rid, "ci")
    emu.add_replication(rid, "ewr")
    emu.add_retention_rule(rid, count=3)
    resp = api("DELETE", f"/registry/{rid}")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(api("GET", f"/registry/{rid}"), 404, "Invalid container registry ID")
    assert_error(api("DELETE", f"/registry/{rid}"), 404, "Invalid container registry ID")
    assert not emu.repositories and not emu.artifacts and not emu.robots and not emu.replications and not emu.retention
    assert api.registry()["name"] == "myreg"  # the name is free again


# --------------------------------------------------------------------------- pagination

def test_cursor_pagination(emu, api):
    names = [f"reg{i}" for i in range(7)]
    for name in names:
        api.registry(name)
    first = api("GET", "/registries", params={"per_page": 3}).json()
    assert [r["name"] for r in first["registries"]] == names[:3]
    assert first["meta"]["total"] == 7 and first["meta"]["links"]["prev"] == "" and first["meta"]["links"]["next"]
    second = api("GET", "/registries", params={"per_page": 3, "cursor": first["meta"]["links"]["next"]}).json()
    assert [r["name"] for r in second["registries"]] == names[3:6] and second["meta"]["links"]["prev"]
    last = api("GET", "/registries", params={"per_page": 3, "cursor": second["meta"]["links"]["next"]}).json()
    assert [r["name"] for r in last["registries"]] == names[6:] and last["meta"]["links"]["next"] == ""
    back = api("GET", "/registries", params={"per_page": 3, "cursor": last["meta"]["links"]["prev"]}).json()
    assert back["registries"] == second["registries"]
    items, calls = api.all_pages("/registries", "registries", 2)
    assert [r["name"] for r in items] == names and calls == 4
    # defaults and limits: default 100, max 500 (clamped, not refused)
    assert len(api("GET", "/registries").json()["registries"]) == 7
    emu.configure(default_per_page=2, max_per_page=4)
    assert len(api("GET", "/registries").json()["registries"]) == 2
    assert len(api("GET", "/registries", params={"per_page": 1000}).json()["registries"]) == 4
    for params in ({"per_page": 0}, {"per_page": -1}, {"per_page": "ten"}, {"cursor": "garbage!"}):
        assert_error(api("GET", "/registries", params=params), 422)
    assert api("GET", "/registries", params={"cursor": ""}).status_code == 200
    beyond = api("GET", "/registries", params={"cursor": encode_cursor("next", 50)}).json()
    assert beyond["registries"] == [] and beyond["meta"]["total"] == 7


def test_every_list_is_paginated(emu, api):
    rid = api.registry()["id"]
    for i in range(3):
        emu.add_artifact(rid, f"repo{i}", size=1)
        emu.add_artifact(rid, "many", size=1, push_time=f"2026-0{i + 1}-01T00:00:00Z")
        emu.add_robot(rid, f"bot{i}")
        emu.add_retention_rule(rid, count=i)
    for region in ("ewr", "blr", "sjp"):
        emu.add_replication(rid, region)
    for path, key, total in [("/repositories", "repositories", 4), ("/repository/many/artifacts", "artifacts", 3),
                             ("/robots", "robots", 3), ("/replications", "replications", 3),
                             ("/retention/rules", "retention_rules", 3)]:
        page = api("GET", f"/registry/{rid}{path}", params={"per_page": 2}).json()
        assert len(page[key]) == 2 and page["meta"]["total"] == total and page["meta"]["links"]["next"], path
        items, calls = api.all_pages(f"/registry/{rid}{path}", key, 2)
        assert len(items) == total and calls == 2, path


# --------------------------------------------------------------------------- repositories and artifacts

def test_repositories(emu, api):
    rid = api.registry()["id"]
    emu.add_repository(rid, "app", description="my app", pull_count=4, added_at="2026-01-02T03:04:05.678Z")
    emu.add_artifact(rid, "app", DIGEST_A, size=100, tags=["latest"], push_time="2026-02-01T00:00:00Z")
    emu.add_artifact(rid, "team/web", DIGEST_B, size=50, push_time="2026-03-01T00:00:00Z")
    listed = api("GET", f"/registry/{rid}/repositories").json()
    assert listed["meta"]["total"] == 2
    app = listed["repositories"][0]
    assert app == {"name": "myreg/app", "image": "app", "description": "my app", "added_at": "2026-01-02T03:04:05.678Z",
                   "updated_at": "2026-02-01T00:00:00.000Z", "pull_count": 4, "artifact_count": 1}
    assert api("GET", f"/registry/{rid}/repository/app").json() == app
    # an image with "/" is percent-encoded once in the path
    web = api("GET", f"/registry/{rid}/repository/team%2Fweb").json()
    assert (web["name"], web["image"], web["artifact_count"]) == ("myreg/team/web", "team/web", 1)
    assert_error(api("GET", f"/registry/{rid}/repository/team/web"), 404)
    assert_error(api("GET", f"/registry/{rid}/repository/nope"), 404, "Invalid repository image")
    # update: description only
    resp = api("PUT", f"/registry/{rid}/repository/app", json={"description": "This is my super cool hello-world project"})
    assert resp.status_code == 200
    assert resp.json() == dict(app, description="This is my super cool hello-world project", updated_at="2026-05-30T21:35:34.123Z")
    assert api("PUT", f"/registry/{rid}/repository/app", json={"description": ""}).json()["description"] == ""
    assert_error(api("PUT", f"/registry/{rid}/repository/app", json={}), 422, "description is required")
    assert_error(api("PUT", f"/registry/{rid}/repository/app", json={"description": 5}), 422, "description must be a string")
    assert_error(api("PUT", f"/registry/{rid}/repository/nope", json={"description": "x"}), 404, "Invalid repository image")
    # delete: the repository, its artifacts and tags go
    resp = api("DELETE", f"/registry/{rid}/repository/team%2Fweb")
    assert resp.status_code == 204 and resp.content == b""
    assert [r["image"] for r in api("GET", f"/registry/{rid}/repositories").json()["repositories"]] == ["app"]
    assert_error(api("DELETE", f"/registry/{rid}/repository/team%2Fweb"), 404)
    assert api("GET", f"/registry/{rid}").json()["storage"]["used"]["bytes"] == 100


def test_artifacts(emu, api):
    rid = api.registry()["id"]
    emu.add_artifact(rid, "app", DIGEST_A, size=3 * 1024 * 1024, tags=["latest", {"name": "1.0", "pull_time": "2026-04-02T00:00:00Z"}],
                     push_time="2026-04-01T00:00:00Z", pull_time="2026-04-03T10:00:00.250Z")
    emu.add_artifact(rid, "app", DIGEST_B, size=1024, tags=["0.9"], push_time="2026-03-01T00:00:00Z",
                     manifest_media_type="application/vnd.docker.distribution.manifest.v2+json")
    emu.add_artifact(rid, "app", DIGEST_C, size=10, push_time="2026-05-01T00:00:00Z")
    body = api("GET", f"/registry/{rid}/repository/app/artifacts").json()
    assert [a["digest"] for a in body["artifacts"]] == [DIGEST_C, DIGEST_A, DIGEST_B]  # newest push first
    assert body["meta"] == {"total": 3, "links": {"next": "", "prev": ""}}
    art = body["artifacts"][1]
    assert art == {"artifact_type": "application/vnd.oci.image.config.v1+json", "digest": DIGEST_A,
                   "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
                   "media_type": "application/vnd.oci.image.config.v1+json", "repository_name": "myreg/app", "size": 3145728,
                   "type": "IMAGE",
                   "tags": [{"name": "1.0", "immutable": False, "pull_time": "2026-04-02T00:00:00.000Z", "push_time": "2026-04-01T00:00:00.000Z"},
                            {"name": "latest", "immutable": False, "pull_time": NEVER_PULLED, "push_time": "2026-04-01T00:00:00.000Z"}],
                   "pull_time": "2026-04-03T10:00:00.250Z", "push_time": "2026-04-01T00:00:00.000Z"}
    docker = body["artifacts"][2]
    assert docker["media_type"] == "application/vnd.docker.container.image.v1+json" and docker["pull_time"] == NEVER_PULLED
    assert body["artifacts"][0]["tags"] == []
    # read by digest, ':' raw or %3A
    assert api("GET", f"/registry/{rid}/repository/app/artifact/{DIGEST_A}").json() == art
    assert api("GET", f"/registry/{rid}/repository/app/artifact/sha256%3A{'a' * 64}").json() == art
    assert_error(api("GET", f"/registry/{rid}/repository/app/artifact/sha256:{'d' * 64}"), 404, "Artifact not found")
    assert_error(api("GET", f"/registry/{rid}/repository/app/artifact/latest"), 422, "Invalid artifact digest")
    assert_error(api("GET", f"/registry/{rid}/repository/nope/artifact/{DIGEST_A}"), 404, "Invalid repository image")
    # delete: the artifact's tags go with it; the other artifacts stay; counts and storage follow
    assert api("GET", f"/registry/{rid}").json()["storage"]["used"] == {"updated_at": "2026-05-30 21:35:34", "bytes": 3146762,
                                                                        "mb": 3, "gb": 0, "tb": 0}
    resp = api("DELETE", f"/registry/{rid}/repository/app/artifact/{DIGEST_A}")
    assert resp.status_code == 204 and resp.content == b""
    left = api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"]
    assert [(a["digest"], [t["name"] for t in a["tags"]]) for a in left] == [(DIGEST_C, []), (DIGEST_B, ["0.9"])]
    assert_error(api("DELETE", f"/registry/{rid}/repository/app/artifact/{DIGEST_A}"), 404)
    assert api("GET", f"/registry/{rid}/repository/app").json()["artifact_count"] == 2
    assert api("GET", f"/registry/{rid}").json()["storage"]["used"]["bytes"] == 1034
    # the last artifact gone: the repository stays, empty
    for digest in (DIGEST_B, DIGEST_C):
        assert api("DELETE", f"/registry/{rid}/repository/app/artifact/{digest}").status_code == 204
    assert api("GET", f"/registry/{rid}/repository/app").json()["artifact_count"] == 0


def test_seed_push_semantics(emu):
    reg = emu.add_registry("seeded")
    emu.add_artifact("seeded", "app", DIGEST_A, size=5, tags=["latest", "v1"])
    emu.add_artifact(reg["id"], "app", DIGEST_B, size=6, tags=["latest"])  # moves latest
    emu.add_artifact(reg["id"], "app", DIGEST_A, tags=["v1.0"])  # same digest: merged
    repo = emu.dump_state()["registries"][0]["repositories"][0]
    assert {a["digest"]: [t["name"] for t in a["tags"]] for a in repo["artifacts"]} == {DIGEST_A: ["v1", "v1.0"], DIGEST_B: ["latest"]}
    assert emu.add_registry("seeded")["id"] == reg["id"]
    generated = emu.add_artifact("seeded", "gen", size=1)
    assert re.match(r"^sha256:[0-9a-f]{64}$", generated["digest"])
    with pytest.raises(ValueError):
        emu.add_artifact("missing", "app")
    with pytest.raises(ValueError):
        emu.add_registry("Bad-Name")
    with pytest.raises(ValueError):
        emu.add_registry("ok", region="nowhere")


# --------------------------------------------------------------------------- robots

def test_robots_list_read_delete(emu, api):
    rid = api.registry()["id"]
    ci = emu.add_robot(rid, "ci", description="CI", secret="s3cret", duration=3600, creation_time="2026-01-01T00:00:00Z")
    emu.add_robot(rid, "robot$myreg+deploy", disable=True)
    assert ci["name"] == "robot$myreg+ci"
    listed = api("GET", f"/registry/{rid}/robots").json()
    assert [r["name"] for r in listed["robots"]] == ["robot$myreg+ci", "robot$myreg+deploy"]
    assert listed["robots"][0] == {"name": "robot$myreg+ci", "description": "CI", "secret": "s3cret", "disable": False,
                                   "duration": 3600, "creation_time": "2026-01-01T00:00:00.000Z",
                                   "permissions": [{"kind": "project", "namespace": "myreg",
                                                    "access": [{"action": "pull", "resource": "repository", "effect": "allow"}]}]}
    path = f"/registry/{rid}/robot/{robot_path_name('robot$myreg+ci')}"
    assert path.endswith("/robot/robot%24myreg%2Bci")
    assert api("GET", path).json() == listed["robots"][0]
    assert api("GET", f"/registry/{rid}/robot/robot%24myreg%2bci").json()["name"] == "robot$myreg+ci"  # lowercase hex
    # '$' and '+' must be percent-encoded (strict by default)
    assert_error(api("GET", f"/registry/{rid}/robot/robot$myreg+ci"), 404, "percent-encoded")
    assert_error(api("GET", f"/registry/{rid}/robot/robot%24myreg+ci"), 404, "percent-encoded")
    emu.configure(strict_robot_names=False)
    assert api("GET", f"/registry/{rid}/robot/robot$myreg+ci").json()["name"] == "robot$myreg+ci"
    emu.configure(strict_robot_names=True)
    assert_error(api("GET", f"/registry/{rid}/robot/robot%24myreg%2Bnope"), 404, "Invalid robot name")
    resp = api("DELETE", path)
    assert resp.status_code == 204 and resp.content == b""
    assert_error(api("GET", path), 404)
    assert_error(api("DELETE", path), 404)
    assert [r["name"] for r in api("GET", f"/registry/{rid}/robots").json()["robots"]] == ["robot$myreg+deploy"]
    assert_error(api("POST", f"/registry/{rid}/robots", json={"name": "new"}), 405)  # no robot creation in the API


def test_robot_update_access_shape(emu, api):
    rid = api.registry()["id"]
    emu.add_robot(rid, "ci")
    path = f"/registry/{rid}/robot/robot%24myreg%2Bci"
    resp = api("PUT", path, json={"description": "pusher", "disable": True, "duration": -1,
                                  "access": {"action": "push", "resource": "repository", "effect": "allow"}})
    assert resp.status_code == 200
    robot = resp.json()
    assert (robot["description"], robot["disable"], robot["duration"]) == ("pusher", True, -1)
    assert robot["permissions"] == [{"kind": "project", "namespace": "myreg",
                                     "access": [{"action": "push", "resource": "repository", "effect": "allow"}]}]
    # an array of access entries is accepted too (third-party client docstring)
    two = [{"action": "pull", "resource": "repository"}, {"action": "delete", "resource": "artifact", "effect": "deny"}]
    robot = api("PUT", path, json={"access": two}).json()
    assert robot["permissions"][0]["access"] == [{"action": "pull", "resource": "repository", "effect": "allow"},
                                                 {"action": "delete", "resource": "artifact", "effect": "deny"}]
    assert robot["description"] == "pusher"  # fields left out are left alone
    assert api("PUT", path, json={}).json() == robot
    assert_error(api("PUT", path), 422, "body is required")
    assert_error(api("PUT", path, json={"permissions": []}), 422, "send access")
    assert_error(api("PUT", path, json={"duration": -2}), 422)
    assert_error(api("PUT", path, json={"duration": "1"}), 422, "duration must be an integer")
    assert_error(api("PUT", path, json={"disable": 1}), 422, "disable must be a boolean")
    assert_error(api("PUT", path, json={"access": {"action": "pull"}}), 422, "Invalid access")
    assert_error(api("PUT", path, json={"access": {"action": "pull", "resource": "repository", "effect": "maybe"}}), 422)
    emu.configure(robot_permissions_shape="object")
    single = api("GET", path).json()["permissions"]
    assert single == {"kind": "project", "namespace": "myreg", "access": {"action": "pull", "resource": "repository", "effect": "allow"}}


def test_robot_update_permissions_shape(emu, api):
    rid = api.registry()["id"]
    emu.add_robot(rid, "ci")
    path = f"/registry/{rid}/robot/robot%24myreg%2Bci"
    perms = [{"kind": "project", "namespace": "myreg", "access": [{"action": "pull", "resource": "repository", "effect": "allow"},
                                                                  {"action": "push", "resource": "repository", "effect": "allow"}]}]
    assert_error(api("PUT", path, json={"permissions": perms}), 422)  # default: the spec's access shape only
    emu.configure(robot_update_shape="permissions")
    body = {"description": "docs shape", "disable": False, "duration": 3600, "permissions": perms}
    robot = api("PUT", path, json=body).json()
    assert robot["permissions"] == perms and robot["duration"] == 3600
    assert_error(api("PUT", path, json={"access": {"action": "pull", "resource": "repository"}}), 422, "send permissions")
    assert_error(api("PUT", path, json={"permissions": {"kind": "project"}}), 422, "permissions must be an array")
    emu.configure(robot_update_shape="any")
    assert api("PUT", path, json={"access": {"action": "pull", "resource": "repository"}}).status_code == 200
    assert api("PUT", path, json={"permissions": perms}).json()["permissions"] == perms


# --------------------------------------------------------------------------- replications

def test_replications(api):
    rid = api.registry(region="sjc")["id"]
    resp = api("POST", f"/registry/{rid}/replication", json={"region": "ewr"})
    assert resp.status_code == 201
    assert resp.json() == {"region": "ewr", "namespace": "myreg", "urn": "ewr.vultrcr.com/myreg"}
    assert api("POST", f"/registry/{rid}/replication", json={"region": "blr"}).status_code == 201
    assert_error(api("POST", f"/registry/{rid}/replication", json={"region": "ewr"}), 422, "already exists")
    assert_error(api("POST", f"/registry/{rid}/replication", json={"region": "sjc"}), 422, "own region")
    assert_error(api("POST", f"/registry/{rid}/replication", json={"region": "mars"}), 422, "Invalid region")
    assert_error(api("POST", f"/registry/{rid}/replication", json={}), 422, "region is required")
    listed = api("GET", f"/registry/{rid}/replications").json()
    assert [r["region"] for r in listed["replications"]] == ["ewr", "blr"] and listed["meta"]["total"] == 2
    assert api("GET", f"/registry/{rid}/replication/blr").json() == {"region": "blr", "namespace": "myreg", "urn": "blr.vultrcr.com/myreg"}
    assert_error(api("GET", f"/registry/{rid}/replication/sjp"), 404, "Invalid replication region")
    resp = api("DELETE", f"/registry/{rid}/replication/ewr")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(api("DELETE", f"/registry/{rid}/replication/ewr"), 404)
    assert [r["region"] for r in api("GET", f"/registry/{rid}/replications").json()["replications"]] == ["blr"]


# --------------------------------------------------------------------------- retention

def test_retention_schedule(emu, api):
    rid = api.registry()["id"]
    resp = api("PUT", f"/registry/{rid}/retention/schedule", json={"cron": "0 0 * * *"})
    assert resp.status_code == 200
    assert resp.json() == {"schedule": "0 0 * * *", "next_scheduled_time": "2026-05-31T00:00:00Z"}
    assert api("PUT", f"/registry/{rid}/retention/schedule", json={"cron": "0 0 0 * * 1"}).json() == {
        "schedule": "0 0 0 * * 1", "next_scheduled_time": "2026-06-01T00:00:00Z"}
    assert emu.dump_state()["registries"][0]["retention"]["schedule"] == "0 0 0 * * 1"
    assert api("PUT", f"/registry/{rid}/retention/schedule", json={"cron": ""}).json() == {"schedule": "", "next_scheduled_time": ""}
    for bad in ("every day", "0 0 * *", "0 0 31 2 *", "99 * * * *"):
        assert_error(api("PUT", f"/registry/{rid}/retention/schedule", json={"cron": bad}), 422, "Invalid cron")
    assert_error(api("PUT", f"/registry/{rid}/retention/schedule", json={}), 422, "cron is required")
    assert_error(api("PUT", f"/registry/{rid}/retention/schedule", json={"cron": 5}), 422, "cron must be a string")


RULE = {"rule_type": "latestPushedK", "count": 2, "repository_action": "matches", "repository_match": "**",
        "tag_action": "matches", "tag_match": "**", "untagged": True}


def test_retention_rules_crud(emu, api):
    rid = api.registry()["id"]
    resp = api("POST", f"/registry/{rid}/retention/rules", json=RULE)
    assert resp.status_code == 201
    rule = resp.json()
    assert rule == {"id": 1, "disabled": False, "action": "retain", "params": {"latestPushedK": 2},
                    "scope_selectors": {"repository": [{"decoration": "repoMatches", "kind": "doublestar", "pattern": "**"}]},
                    "tag_selectors": [{"decoration": "matches", "kind": "doublestar", "pattern": "**", "extras": "{\"untagged\":true}"}],
                    "template": "latestPushedK"}
    second = api("POST", f"/registry/{rid}/retention/rules", json=dict(
        RULE, rule_type="always", count=None, repository_action="excludes", repository_match="tmp/**", tag_action="excludes",
        tag_match="dev-*", untagged=False)).json()
    assert second["id"] == 2 and second["params"] == {}
    assert second["scope_selectors"]["repository"][0]["decoration"] == "repoExcludes"
    assert second["tag_selectors"][0]["decoration"] == "excludes" and second["tag_selectors"][0]["extras"] == "{\"untagged\":false}"
    assert api("GET", f"/registry/{rid}/retention/rules/1").json() == rule
    listed = api("GET", f"/registry/{rid}/retention/rules").json()
    assert [r["id"] for r in listed["retention_rules"]] == [1, 2] and listed["meta"]["total"] == 2
    # update: disabled is the only field
    resp = api("PUT", f"/registry/{rid}/retention/rules/1", json={"disabled": True})
    assert resp.status_code == 200 and resp.json() == dict(rule, disabled=True)
    assert api("PUT", f"/registry/{rid}/retention/rules/1", json={"disabled": False, "count": 9}).json() == rule
    assert_error(api("PUT", f"/registry/{rid}/retention/rules/1", json={}), 422, "disabled is required")
    assert_error(api("PUT", f"/registry/{rid}/retention/rules/1", json={"disabled": "true"}), 422)
    for bad in ("99", "abc", "-1"):
        assert_error(api("GET", f"/registry/{rid}/retention/rules/{bad}"), 404, "Invalid retention rule ID")
    resp = api("DELETE", f"/registry/{rid}/retention/rules/1")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(api("DELETE", f"/registry/{rid}/retention/rules/1"), 404)
    assert api("POST", f"/registry/{rid}/retention/rules", json=RULE).json()["id"] == 3  # ids are not reused
    # the govultr spelling of the scope key
    emu.configure(retention_scope_key="scope_selector")
    rule3 = api("GET", f"/registry/{rid}/retention/rules/3").json()
    assert "scope_selector" in rule3 and "scope_selectors" not in rule3


@pytest.mark.parametrize("change,message", [
    ({"rule_type": None}, "rule_type is required"), ({"rule_type": ""}, "rule_type is required"),
    ({"repository_action": None}, "repository_action is required"), ({"repository_action": "has"}, "matches or excludes"),
    ({"repository_match": None}, "repository_match is required"), ({"tag_action": "like"}, "matches or excludes"),
    ({"tag_match": ""}, "tag_match is required"), ({"untagged": None}, "untagged is required"),
    ({"untagged": "yes"}, "untagged must be a boolean"), ({"count": -1}, "count"), ({"count": "3"}, "count must be an integer"),
])
def test_retention_rule_validation(api, change, message):
    rid = api.registry()["id"]
    body = {k: v for k, v in dict(RULE, **change).items() if v is not None}
    assert_error(api("POST", f"/registry/{rid}/retention/rules", json=body), 422, message)
    assert api("GET", f"/registry/{rid}/retention/rules").json()["meta"]["total"] == 0


def test_retention_rule_limit(emu, api):
    rid = api.registry()["id"]
    for _unused in range(15):
        emu.add_retention_rule(rid, count=1)
    assert_error(api("POST", f"/registry/{rid}/retention/rules", json=RULE), 422, "at most 15")


def test_retention_execution(emu, api):
    rid = api.registry()["id"]
    for i, tags in enumerate((["v1"], ["v2"], ["v3"], [], ["dev-1"])):
        emu.add_artifact(rid, "app", f"sha256:{i}{'0' * 63}", size=1, tags=tags, push_time=f"2026-0{i + 1}-01T00:00:00Z")
    emu.add_artifact(rid, "tmp/scratch", DIGEST_A, size=1, tags=["x"], push_time="2025-01-01T00:00:00Z")
    assert api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": False}).status_code == 200
    assert len(api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"]) == 5  # no rules: nothing happens
    # keep the 2 newest pushed "v*" tags in every repository but tmp/**; everything else in scope goes
    emu.add_retention_rule(rid, "latestPushedK", 2, repository_action="excludes", repository_match="tmp/**", tag_match="v*",
                           untagged=False)
    emu.add_retention_rule(rid, "always", tag_match="dev-*", untagged=False, disabled=True)
    resp = api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": True})
    assert resp.status_code == 200
    assert resp.json() == {"start_time": "2026-05-30T21:35:34.123Z", "end_time": "2026-05-30T21:35:34.123Z", "trigger": "MANUAL",
                           "dry_run": True}
    assert len(api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"]) == 5  # dry run: nothing deleted
    planned = emu.executions("myreg")[-1]
    assert sorted(d["tags"][0] if d["tags"] else "<untagged>" for d in planned["deleted"]) == ["<untagged>", "dev-1", "v1"]
    assert api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": False}).json()["dry_run"] is False
    left = api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"]
    assert [t["name"] for a in left for t in a["tags"]] == ["v3", "v2"]
    assert api("GET", f"/registry/{rid}/repository/tmp%2Fscratch").json()["artifact_count"] == 1  # out of scope
    # the disabled rule, enabled, protects dev-*
    emu.add_artifact(rid, "app", DIGEST_B, size=1, tags=["dev-2"])
    api("PUT", f"/registry/{rid}/retention/rules/2", json={"disabled": False})
    api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": False})
    assert {t["name"] for a in api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"] for t in a["tags"]} == {
        "v2", "v3", "dev-2"}
    assert_error(api("POST", f"/registry/{rid}/retention/executions", json={}), 422, "dry_run is required")
    assert_error(api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": "no"}), 422)
    assert len(emu.executions(rid)) == 4


@pytest.mark.parametrize("template,count,kept", [
    ("latestPushedK", 1, ["c"]), ("latestPulledN", 1, ["a"]), ("nDaysSinceLastPush", 10, ["c"]),
    ("nDaysSinceLastPull", 10, ["a"]), ("always", None, ["a", "b", "c"]), ("somethingNew", 1, ["a", "b", "c"]),
])
def test_retention_templates(emu, api, template, count, kept):
    rid = api.registry()["id"]
    emu.add_artifact(rid, "app", "sha256:" + "a" * 64, size=1, tags=["a"], push_time="2026-01-01T00:00:00Z", pull_time="2026-05-29T00:00:00Z")
    emu.add_artifact(rid, "app", "sha256:" + "b" * 64, size=1, tags=["b"], push_time="2026-02-01T00:00:00Z")
    emu.add_artifact(rid, "app", "sha256:" + "c" * 64, size=1, tags=["c"], push_time="2026-05-25T00:00:00Z", pull_time="2026-01-01T00:00:00Z")
    emu.add_retention_rule(rid, template, count)
    api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": False})
    assert sorted(t["name"] for a in api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"] for t in a["tags"]) == kept


# --------------------------------------------------------------------------- docker credentials

def test_docker_credentials_generated(emu, api):
    rid = api.registry()["id"]
    resp = api("OPTIONS", f"/registry/{rid}/docker-credentials")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert list(body) == ["auths"] and list(body["auths"]) == ["sjc.vultrcr.com"]
    user, _sep, password = base64.b64decode(body["auths"]["sjc.vultrcr.com"]["auth"]).decode().partition(":")
    assert re.match(r"^robot\$myreg\+[0-9a-f]{8}$", user) and password == emu.robot_secret("myreg", user)
    robot = api("GET", f"/registry/{rid}/robot/{robot_path_name(user)}").json()
    assert robot["duration"] == -1 and [a["action"] for a in robot["permissions"][0]["access"]] == ["pull"]
    rw = api("OPTIONS", f"/registry/{rid}/docker-credentials", params={"expiry_seconds": 3600, "read_write": "true"}).json()
    user2 = base64.b64decode(rw["auths"]["sjc.vultrcr.com"]["auth"]).decode().split(":")[0]
    robot2 = api("GET", f"/registry/{rid}/robot/{robot_path_name(user2)}").json()
    assert user2 != user and robot2["duration"] == 3600
    assert [a["action"] for a in robot2["permissions"][0]["access"]] == ["pull", "push"]
    assert api("GET", f"/registry/{rid}/robots").json()["meta"]["total"] == 2  # every call: a fresh set
    assert api("OPTIONS", f"/registry/{rid}/docker-credentials", params={"read_write": "0", "expiry_seconds": "0"}).status_code == 200
    for params, message in [({"expiry_seconds": "-5"}, "expiry_seconds"), ({"expiry_seconds": "soon"}, "expiry_seconds"),
                            ({"read_write": "yes"}, "read_write")]:
        assert_error(api("OPTIONS", f"/registry/{rid}/docker-credentials", params=params), 422, message)
    # the generated SDKs' defect: the query string twice
    dup = f"/registry/{rid}/docker-credentials?expiry_seconds=0&read_write=false&expiry_seconds=60&read_write=true"
    assert_error(api("OPTIONS", dup), 422, "Duplicate query parameter: expiry_seconds, read_write")
    emu.configure(reject_duplicate_query=False)
    assert api("OPTIONS", dup).status_code == 200
    assert emu.log.last().method == "OPTIONS" and emu.log.last().query == {"expiry_seconds": "60", "read_write": "true"}


def test_docker_credentials_configured_and_kubernetes(emu, api):
    emu.configure(registry_host="127.0.0.1:5999", registry_backing=False, docker_credentials={"username": "tester", "password": "pw:1"})
    reg = api.registry()
    rid = reg["id"]
    assert reg["urn"] == "127.0.0.1:5999/myreg"
    assert (reg["metadata"]["region"]["urn"], reg["metadata"]["region"]["base_url"]) == ("127.0.0.1:5999", "http://127.0.0.1:5999")
    expected = {"auths": {"127.0.0.1:5999": {"auth": base64.b64encode(b"tester:pw:1").decode()}}}
    assert api("OPTIONS", f"/registry/{rid}/docker-credentials", params={"read_write": "true"}).json() == expected
    assert api("GET", f"/registry/{rid}/robots").json()["meta"]["total"] == 0  # configured credentials: no robot made
    resp = api("OPTIONS", f"/registry/{rid}/docker-credentials/kubernetes", params={"expiry_seconds": 60})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/yaml"
    secret = yaml.safe_load(resp.text)
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vultr-cr-credentials"},
                      "data": {".dockerconfigjson": secret["data"][".dockerconfigjson"]}, "type": "kubernetes.io/dockerconfigjson"}
    assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == expected
    encoded = api("OPTIONS", f"/registry/{rid}/docker-credentials/kubernetes", params={"base64_encode": "true"})
    assert encoded.status_code == 200 and yaml.safe_load(base64.b64decode(encoded.text)) == secret
    assert_error(api("OPTIONS", f"/registry/{rid}/docker-credentials/kubernetes", params={"base64_encode": "maybe"}), 422)
    assert emu.settings()["docker_credentials"] == {"username": "tester", "password": "***"}


# --------------------------------------------------------------------------- rate limit and faults

def test_rate_limit_is_off_by_default(api):
    for _unused in range(40):
        assert api("GET", "/registries").status_code == 200


def test_rate_limit_per_client(emu, api):
    emu.configure(rate_limit=3, rate_limit_window=60)
    for _unused in range(3):
        assert api("GET", "/registries").status_code == 200
    resp = api("GET", "/registries")
    body = assert_error(resp, 429, "Rate limit")
    assert body["status"] == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60
    assert_error(requests.get(api.base + "/registries", timeout=5), 429)  # counted before auth
    assert emu.log.last().status == 429
    emu.configure(rate_limit_window=0.2)
    time.sleep(0.25)
    assert api("GET", "/registries").status_code == 200
    emu.configure(rate_limit=0)
    for _unused in range(10):
        assert api("GET", "/registries").status_code == 200


def test_rate_limit_setting_validation(emu):
    for settings in ({"rate_limit": -1}, {"rate_limit": "30"}, {"rate_limit_window": 0}, {"robot_update_shape": "x"},
                     {"robot_permissions_shape": "list"}, {"retention_scope_key": "scope"}, {"registry_host": "http://x/"},
                     {"docker_credentials": {"username": "u"}}, {"registry_backing": "yes"}, {"regions": []}, {"plans": {}},
                     {"bogus": 1}, {"api_keys": "k"}, {"registry_scheme": "ftp"}, {"default_per_page": 0}):
        resp = requests.post(emu.url + "/_emulator/config", json=settings, timeout=5)
        assert resp.status_code == 400, settings


def test_fault_bodies_are_vultr_errors(emu, api):
    emu.rate_limit(times=1, retry_after="2")
    resp = api("GET", "/registries")
    assert resp.headers["Retry-After"] == "2" and assert_error(resp, 429)["error"] == "Too many requests"
    emu.server_error(status=503)
    assert assert_error(api("GET", "/registries"), 503) == {"error": "Service unavailable", "status": 503}
    emu.server_error(status=502, body="<html>502</html>")
    assert api("GET", "/registries").text == "<html>502</html>"
    emu.error(403, message="Forbidden", method="DELETE")
    assert api("GET", "/registries").status_code == 200
    assert_error(api("DELETE", "/registry/x"), 403, "Forbidden")
    emu.reset_connection(method="OPTIONS")
    rid = api.registry()["id"]
    with pytest.raises(requests.ConnectionError):
        requests.options(api.base + f"/registry/{rid}/docker-credentials", headers=AUTH, timeout=5)
    assert api("OPTIONS", f"/registry/{rid}/docker-credentials").status_code == 200
    emu.latency(0.2, path_prefix="/v2/registries")
    start = time.monotonic()
    assert api("GET", "/registries").status_code == 200
    assert time.monotonic() - start >= 0.2
    assert [r.fault for r in emu.log][:5] == ["rate_limit", "error", "error", None, "error"]


# --------------------------------------------------------------------------- control surface

SEED = {"registries": [{
    "name": "seeded", "region": "ewr", "plan": "premium", "public": True, "date_created": "2026-01-01 10:00:00", "password": "rootpw",
    "repositories": [{"image": "team/app", "description": "the app", "pull_count": 7, "added_at": "2026-01-02T00:00:00.000Z",
                      "artifacts": [{"digest": DIGEST_A, "size": 2048, "push_time": "2026-01-03T00:00:00Z", "pull_time": "2026-01-04T00:00:00Z",
                                     "tags": ["latest", {"name": "v1", "push_time": "2026-01-03T01:00:00Z"}]},
                                    {"digest": DIGEST_B, "size": 1024, "push_time": "2026-01-05T00:00:00Z"}]}],
    "robots": [{"name": "ci", "description": "CI robot", "secret": "robotpw", "duration": 86400,
                "permissions": [{"kind": "project", "namespace": "seeded", "access": [{"action": "push", "resource": "repository"}]}]}],
    "replications": ["sjc", {"region": "blr"}],
    "retention": {"schedule": "0 0 3 * * *",
                  "rules": [{"rule_type": "latestPushedK", "count": 5, "tag_match": "v*", "untagged": False},
                            {"id": 7, "rule_type": "always", "disabled": True}]},
}]}


def test_seed_state_log_reset_over_http(emu, api):
    ctl = emu.url + "/_emulator"
    resp = requests.post(ctl + "/seed", json=SEED, timeout=5)
    assert resp.status_code == 201
    reg = resp.json()["registries"][0]
    assert (reg["name"], reg["public"], reg["date_created"], reg["root_user"]["password"]) == ("seeded", True, "2026-01-01 10:00:00", "rootpw")
    assert reg["robots"][0]["name"] == "robot$seeded+ci" and reg["robots"][0]["secret"] == "robotpw"
    assert reg["storage"]["used"]["bytes"] == 3072
    rid = reg["id"]
    repo = api("GET", f"/registry/{rid}/repository/team%2Fapp").json()
    assert (repo["description"], repo["pull_count"], repo["artifact_count"], repo["added_at"]) == ("the app", 7, 2, "2026-01-02T00:00:00.000Z")
    art = api("GET", f"/registry/{rid}/repository/team%2Fapp/artifact/{DIGEST_A}").json()
    assert [(t["name"], t["push_time"]) for t in art["tags"]] == [("latest", "2026-01-03T00:00:00.000Z"), ("v1", "2026-01-03T01:00:00.000Z")]
    assert art["pull_time"] == "2026-01-04T00:00:00.000Z"
    assert [r["region"] for r in api("GET", f"/registry/{rid}/replications").json()["replications"]] == ["sjc", "blr"]
    rules = api("GET", f"/registry/{rid}/retention/rules").json()["retention_rules"]
    assert [(r["id"], r["template"], r["disabled"]) for r in rules] == [(1, "latestPushedK", False), (7, "always", True)]
    assert emu.add_retention_rule(rid)["id"] == 8
    # seeding into an existing registry by id adds to it
    more = {"registries": [{"id": rid, "repositories": [{"name": "other", "artifacts": [{"size": 1, "tags": ["x"]}]}]}]}
    assert requests.post(ctl + "/seed", json=more, timeout=5).json()["registries"][0]["storage"]["used"]["bytes"] == 3073
    for bad in ([], {"registries": [{"id": "nope"}]}, {"registries": [{"name": "Bad-Name"}]},
                {"registries": [{"name": "x", "retention": {"rules": [{"bogus": 1}]}}]},
                {"registries": [{"name": "y", "replications": ["mars"]}]}):
        assert requests.post(ctl + "/seed", json=bad, timeout=5).status_code == 400, bad
    state = requests.get(ctl + "/state", timeout=5).json()
    seeded = next(r for r in state["registries"] if r["name"] == "seeded")
    assert state["backed"] is False
    assert [r["image"] for r in seeded["repositories"]] == ["other", "team/app"]
    assert seeded["repositories"][1]["artifacts"][0]["digest"] == DIGEST_B
    assert seeded["robots"][0]["secret"] == "robotpw" and seeded["replications"][0]["urn"] == "sjc.vultrcr.com/seeded"
    assert seeded["retention"]["schedule"] == "0 0 3 * * *" and seeded["retention"]["next_scheduled_time"] == "2026-05-31T03:00:00Z"
    # config over HTTP
    cfg = requests.get(ctl + "/config", timeout=5).json()
    assert {k: cfg[k] for k in DEFAULTS} == DEFAULTS and cfg["backed"] is False and cfg["regions"] == ["blr", "ewr", "sjc", "sjp"]
    assert requests.post(ctl + "/config", json={"retention_scope_key": "scope_selector"}, timeout=5).json()["retention_scope_key"] == "scope_selector"
    # log: masked credentials, OPTIONS recorded, control requests never
    log = requests.get(ctl + "/log", timeout=5).json()
    assert log and all(r["headers"]["Authorization"] == "Bearer ***" for r in log) and KEY not in json.dumps(log)
    assert all(not r["path"].startswith("/_emulator") for r in log)
    # reset keeps settings
    assert requests.post(ctl + "/reset", timeout=5).status_code == 204
    assert api("GET", "/registries").json()["meta"]["total"] == 0 and emu.settings()["retention_scope_key"] == "scope_selector"
    assert len(emu.log) == 1


def test_request_log_helpers(emu, api):
    rid = api.registry()["id"]
    api("OPTIONS", f"/registry/{rid}/docker-credentials", params={"expiry_seconds": 5})
    api("PUT", f"/registry/{rid}", json={"public": True})
    assert [r.method for r in emu.log.mutating()] == ["POST", "PUT"]
    record = emu.log.filter(method="OPTIONS")[0]
    assert record.query == {"expiry_seconds": "5"} and record.route.endswith("/docker-credentials") and record.params["registry_id"] == rid
    assert emu.log[0].body == {"name": "myreg", "public": False, "region": "sjc", "plan": "business"}
    assert emu.log.last().status == 200


# --------------------------------------------------------------------------- standalone runner

def test_standalone_runner(tmp_path):
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"registries": [{"name": "demo", "region": "ewr"}]}), encoding="utf-8")
    cmd = [sys.executable, "-m", "tests.emulators.vultr", "--port", "0", "--seed", str(seed_file), "--rate-limit", "30",
           "--registry-host", "127.0.0.1:5000", "--no-registry-backing", "--docker-username", "u", "--docker-password", "p"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert "vultr emulator listening on http://127.0.0.1:" in first, first + proc.stderr.read()
            url = first.split()[-1]
            lines = [proc.stdout.readline() for _unused in range(6)]
            text = "".join(lines)
            assert f"playbooks: provider: vultr, api_url: {url}, api_token: {KEY}" in text
            assert "registry host: 127.0.0.1:5000" in text and "rate limit: 30" in text and "/_emulator/" in text
            body = requests.get(url + "/v2/registries", headers=AUTH, timeout=5).json()
            assert body["registries"][0]["urn"] == "127.0.0.1:5000/demo"
        finally:
            proc.send_signal(signal.SIGTERM)  # SIGINT is ignored when the suite runs in the background
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0


# --------------------------------------------------------------------------- backed by a real registry

@pytest.fixture(scope="module")
def local_registry():
    """A real distribution registry (htpasswd, delete enabled) for this module."""
    reg = LocalRegistry(auth="htpasswd", delete_enabled=True).start()  # a missing docker-registry fails: `make deps` installs it
    yield reg
    reg.stop()


@pytest.fixture
def backed(emu, local_registry):
    """The emulator backed by the local registry; ``(emu, api, seed client, registry name)``."""
    emu.configure(registry_host=local_registry.host,
                  docker_credentials={"username": local_registry.username, "password": local_registry.password})
    name = "r" + uuid.uuid4().hex[:10]
    emu.add_registry(name, region="ewr")
    yield emu, Api(emu), SeedClient.for_registry(local_registry), name
    emu.configure(registry_host=None, docker_credentials=None)


def _untag_over_oci(seed, repo, tag):
    """Remove ``tag`` the way a client without tag DELETE does: point it at a throwaway manifest, delete that."""
    config = canonical_json({"throwaway": uuid.uuid4().hex})
    cfg = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": seed.push_blob(repo, config), "size": len(config)}
    body = canonical_json({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cfg, "layers": []})
    throwaway = seed.put_manifest(repo, tag, "application/vnd.oci.image.manifest.v1+json", body)
    seed.delete_manifest(repo, throwaway)


def test_backed_names_credentials_and_listing(backed, local_registry):
    emu, api, seed, name = backed
    v1 = seed.push_image(f"{name}/app", ["v1", "latest"])
    v2 = seed.push_image(f"{name}/app", ["v2"], media="docker")
    amd64 = seed.push_image(f"{name}/team/multi", [], arch="amd64")
    arm64 = seed.push_image(f"{name}/team/multi", [], arch="arm64")
    index = seed.push_index(f"{name}/team/multi", ["1.0"], children=[amd64, arm64])
    seed.push_image(f"x{name}/app", ["other"])  # another registry's namespace: not listed
    rid = emu.registry_id(name)
    reg = api("GET", f"/registry/{rid}").json()
    assert reg["urn"] == f"{local_registry.host}/{name}" and reg["metadata"]["region"]["urn"] == local_registry.host
    creds = api("OPTIONS", f"/registry/{rid}/docker-credentials", params={"read_write": "true"}).json()
    auth = base64.b64decode(creds["auths"][local_registry.host]["auth"]).decode()
    assert auth == f"{local_registry.username}:{local_registry.password}"
    repos = api("GET", f"/registry/{rid}/repositories").json()["repositories"]
    assert [(r["name"], r["image"], r["artifact_count"]) for r in repos] == [(f"{name}/app", "app", 2), (f"{name}/team/multi", "team/multi", 1)]
    arts = {a["digest"]: a for a in api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"]}
    assert set(arts) == {v1, v2}
    assert [t["name"] for t in arts[v1]["tags"]] == ["latest", "v1"] and arts[v1]["repository_name"] == f"{name}/app"
    assert arts[v1]["manifest_media_type"] == "application/vnd.oci.image.manifest.v1+json" and arts[v1]["type"] == "IMAGE"
    assert arts[v2]["media_type"] == "application/vnd.docker.container.image.v1+json"
    _media, raw = seed.get_manifest(f"{name}/app", v1)
    manifest = json.loads(raw)
    assert arts[v1]["size"] == len(raw) + manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    assert MILLIS_RE.match(arts[v1]["push_time"]) and arts[v1]["pull_time"] == NEVER_PULLED
    multi = api("GET", f"/registry/{rid}/repository/team%2Fmulti/artifacts").json()["artifacts"]
    assert [(a["digest"], a["media_type"], [t["name"] for t in a["tags"]]) for a in multi] == [
        (index, "application/vnd.oci.image.index.v1+json", ["1.0"])]
    children = 0
    for child in (amd64, arm64):
        child_raw = seed.get_manifest(f"{name}/team/multi", child)[1]
        child_doc = json.loads(child_raw)
        children += len(child_raw) + child_doc["config"]["size"] + sum(layer["size"] for layer in child_doc["layers"])
    assert multi[0]["size"] == len(seed.get_manifest(f"{name}/team/multi", index)[1]) + children
    assert api("GET", f"/registry/{rid}/repository/app/artifact/{v2}").json() == arts[v2]
    assert reg["storage"]["used"]["bytes"] == sum(a["size"] for a in arts.values()) + multi[0]["size"]
    # push/pull times can be set for what is in the registry
    emu.add_artifact(rid, "app", v1, push_time="2026-01-01T00:00:00Z", pull_time="2026-02-01T00:00:00Z",
                     tags=[{"name": "v1", "push_time": "2026-01-02T00:00:00Z"}])
    art = api("GET", f"/registry/{rid}/repository/app/artifact/{v1}").json()
    assert (art["push_time"], art["pull_time"]) == ("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z")
    assert [t["push_time"] for t in art["tags"] if t["name"] == "v1"] == ["2026-01-02T00:00:00.000Z"]
    assert emu.add_artifact(rid, "app", DIGEST_A) is None
    state = emu.dump_state()
    assert state["backed"] is True and emu.settings()["backed"] is True


def test_backed_oci_tag_removal_and_artifact_delete(backed):
    emu, api, seed, name = backed
    repo = f"{name}/app"
    v1 = seed.push_image(repo, ["v1", "v1.0", "latest"])
    v2 = seed.push_image(repo, ["v2"])
    rid = emu.registry_id(name)
    path = f"/registry/{rid}/repository/app"

    def tags_by_digest():
        return {a["digest"]: [t["name"] for t in a["tags"]] for a in api("GET", path + "/artifacts").json()["artifacts"]}
    assert tags_by_digest() == {v1: ["latest", "v1", "v1.0"], v2: ["v2"]}
    # a tag removed over the OCI path disappears; its siblings stay
    _untag_over_oci(seed, repo, "latest")
    assert tags_by_digest() == {v1: ["v1", "v1.0"], v2: ["v2"]}
    # all tags of a digest removed: the digest is still in the registry, listed untagged (it was seen before)
    _untag_over_oci(seed, repo, "v2")
    assert tags_by_digest() == {v1: ["v1", "v1.0"], v2: []}
    assert seed.manifest_exists(repo, v2)
    # an artifact delete deletes the manifest on the real registry, and its tags
    resp = api("DELETE", f"{path}/artifact/{v1}")
    assert resp.status_code == 204
    assert not seed.manifest_exists(repo, v1) and seed.tags(repo) == []
    assert tags_by_digest() == {v2: []}
    assert_error(api("GET", f"{path}/artifact/{v1}"), 404)
    # pushed straight to the registry: visible at once
    v3 = seed.push_image(repo, ["v3"])
    assert tags_by_digest() == {v3: ["v3"], v2: []}
    # repository delete removes every manifest; the repository is gone from the list
    assert api("DELETE", path).status_code == 204
    assert not seed.manifest_exists(repo, v2) and not seed.manifest_exists(repo, v3)
    assert api("GET", f"/registry/{rid}/repositories").json()["repositories"] == []
    assert_error(api("GET", path), 404, "Invalid repository image")


@pytest.mark.parametrize("reads", ["storage", "http"])
def test_backed_reads_are_few_and_never_mutate(backed, local_registry, reads):
    """Tags and their digests come from the registry's storage (tests/emulators/registry_storage.py), or over HTTP when
    the registry is not one this process started: a tag list and a HEAD per tag, once per API request."""
    emu, api, seed, name = backed
    for image in ("one", "two"):
        seed.push_image(f"{name}/{image}", ["a", "b"])
    rid = emu.registry_id(name)
    api("GET", f"/registry/{rid}/repositories")  # first sight: manifests are described (then cached by digest)
    if reads == "http":
        registry_storage.unregister(local_registry.host)
    try:
        mark = local_registry.mark()
        assert [r["artifact_count"] for r in api("GET", f"/registry/{rid}/repositories").json()["repositories"]] == [1, 1]
        logged = [(e.method, e.path.split("?")[0]) for e in local_registry.requests_since(mark)]
    finally:
        registry_storage.register(local_registry.host, local_registry.storage_dir)
    over_http = [("GET", f"/v2/{name}/one/tags/list"), ("HEAD", f"/v2/{name}/one/manifests/a"), ("HEAD", f"/v2/{name}/one/manifests/b"),
                 ("GET", f"/v2/{name}/two/tags/list"), ("HEAD", f"/v2/{name}/two/manifests/a"), ("HEAD", f"/v2/{name}/two/manifests/b")]
    assert logged == [("GET", "/v2/_catalog")] + (over_http if reads == "http" else [])
    mark = local_registry.mark()
    for path in ("", "/repository/one", "/repository/one/artifacts", "/robots"):
        assert api("GET", f"/registry/{rid}{path}").status_code == 200
    emu.dump_state()
    assert local_registry.mutations_since(mark) == []


def test_backed_description_retention_and_registry_delete(backed):
    emu, api, seed, name = backed
    repo = f"{name}/lib"
    old = seed.push_image(repo, ["1.0"])
    new = seed.push_image(repo, ["2.0"])
    rid = emu.registry_id(name)
    described = api("PUT", f"/registry/{rid}/repository/lib", json={"description": "library"}).json()
    assert described["description"] == "library" and described["artifact_count"] == 2
    emu.add_artifact(rid, "lib", old, push_time="2026-01-01T00:00:00Z")
    emu.add_artifact(rid, "lib", new, push_time="2026-02-01T00:00:00Z")
    emu.add_retention_rule(rid, "latestPushedK", 1)
    api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": True})
    assert seed.manifest_exists(repo, old)
    api("POST", f"/registry/{rid}/retention/executions", json={"dry_run": False})
    assert not seed.manifest_exists(repo, old) and seed.tags(repo) == ["2.0"]
    assert api("GET", f"/registry/{rid}/repository/lib").json()["artifact_count"] == 1
    assert api("DELETE", f"/registry/{rid}").status_code == 204
    assert seed.tags(repo) == []


def test_backed_registry_unreachable(emu):
    emu.configure(registry_host="127.0.0.1:9", docker_credentials={"username": "u", "password": "p"})
    try:
        emu.configure(registry_backing=False)
        reg = emu.add_registry("unreachable")
        emu.configure(registry_backing=True)
        body = assert_error(Api(emu)("GET", f"/registry/{reg['id']}/repositories"), 502)
        assert "backend unavailable" in body["error"]
    finally:
        emu.configure(registry_host=None, docker_credentials=None, registry_backing=True)


def test_backed_token_auth_registry(emu):
    token_registry = LocalRegistry(auth="token", delete_enabled=True).start()
    try:
        seed = SeedClient.for_registry(token_registry)
        digest = seed.push_image("tok/app", ["v1"])
        emu.configure(registry_host=token_registry.host,
                      docker_credentials={"username": token_registry.username, "password": token_registry.password})
        rid = emu.add_registry("tok")["id"]
        api = Api(emu)
        assert [a["digest"] for a in api("GET", f"/registry/{rid}/repository/app/artifacts").json()["artifacts"]] == [digest]
        assert api("DELETE", f"/registry/{rid}/repository/app/artifact/{digest}").status_code == 204
        assert not seed.manifest_exists("tok/app", digest)
    finally:
        emu.configure(registry_host=None, docker_credentials=None)
        token_registry.stop()
