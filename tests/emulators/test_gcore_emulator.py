"""Tests of the emulator framework and the Gcore Container Registry emulator, over real HTTP."""
# pylint: disable=redefined-outer-name,missing-function-docstring

import email.utils
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
import requests

from tests.emulators.base import ApiError, EmulatorServer, Fault, Response, Route, http_date
from tests.emulators.gcore import DEFAULT_API_KEY, NEVER_EXPIRES, GcoreEmulator

KEY = DEFAULT_API_KEY
AUTH = {"Authorization": f"APIKey {KEY}"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXED = datetime(2026, 5, 30, 21, 35, 34, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def server():
    """One server per module; state reset by ``emu``."""
    with GcoreEmulator(api_keys=(KEY, "second-key"), projects=(1186668, 1), regions={76: "luxembourg-2", 80: "sines-3"}) as emu:
        yield emu


@pytest.fixture
def emu(server):
    """A clean emulator with default settings."""
    server.reset()
    server.configure(batch_shape="object", default_limit=1000, max_limit=1000, quotas={})
    server.clock = lambda: FIXED
    yield server
    server.reset()


@pytest.fixture
def api(emu):
    """Helper bound to the default project/region."""
    return Api(emu)


class Api:
    """Tiny client for the tests."""

    def __init__(self, emu, project_id=1186668, region_id=76):
        self.emu = emu
        self.base = f"{emu.url}/cloud/v1/registries/{project_id}/{region_id}"
        self.session = requests.Session()
        self.session.headers.update(AUTH)

    def __call__(self, method, path="", **kwargs):
        return self.session.request(method, self.base + path, timeout=5, **kwargs)

    def registry(self, name="my-registry", storage_limit=10):
        """Create a registry and return its JSON."""
        resp = self("POST", json={"name": name, "storage_limit": storage_limit})
        assert resp.status_code == 201, resp.text
        return resp.json()


def assert_error(resp, status, exception_class):
    """Check the Gcore error body."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["exception_class"] == exception_class
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["request_id"], str) and body["request_id"]
    return body


# --------------------------------------------------------------------------- framework

def test_route_converters():
    route = Route("GET", "/x/{id:int}/r/{name:dblenc}/d/{digest}/p/{project:enc}/raw/{v:raw}", lambda r: None)
    params, raw = route.match("/x/12/r/a%252Fb/d/sha256%3Aab/p/g%2Fp/raw/a%25")
    assert params == {"id": 12, "name": "a/b", "digest": "sha256:ab", "project": "g/p", "v": "a%25"}
    assert raw["name"] == "a%252Fb"
    assert route.match("/x/12/r/a%2Fb/d/x/p/g/raw/v") is None
    assert route.match("/x/abc/r/a/d/x/p/g/raw/v") is None
    assert route.match("/x/12/r/a/d/x/p/g/raw/v/") is None
    assert route.match("/x/12/r/a/d/x/p/g/raw") is None


def test_generic_emulator_framework():
    class Echo(EmulatorServer):
        """Minimal provider reusing the framework."""

        def setup_routes(self):
            self.route("GET", "/things/{name}", lambda req: {"name": req.params["name"], "q": req.query})
            self.route("POST", "/things", lambda req: Response(201, req.json))
            self.route("GET", "/boom", self.boom)

        @staticmethod
        def boom(_req):
            raise ApiError(418, "teapot", code="T")

    with Echo() as emu:
        assert emu.url.startswith("http://127.0.0.1:") and emu.port > 0
        assert requests.get(emu.url + "/things/a%20b?x=1", timeout=5).json() == {"name": "a b", "q": {"x": "1"}}
        assert requests.post(emu.url + "/things", json={"k": 1}, timeout=5).status_code == 201
        resp = requests.get(emu.url + "/boom", timeout=5)
        assert resp.status_code == 418 and resp.json() == {"message": "teapot", "code": "T"}
        assert requests.get(emu.url + "/nope", timeout=5).json() == {"message": "Not found"}
        resp = requests.delete(emu.url + "/things", timeout=5)
        assert resp.status_code == 405 and resp.headers["Allow"] == "POST"
        assert emu.log.count() == 5 and emu.log.count(method="GET", path_prefix="/things") == 1
        assert [r.method for r in emu.log.mutating()] == ["POST", "DELETE"]
        assert requests.post(emu.url + "/_emulator/seed", json={}, timeout=5).status_code == 400
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.url + "/things/x", timeout=2)


def test_fault_from_dict_validation():
    assert Fault.from_dict({"kind": "server_error"}).status == 503
    assert Fault.from_dict({"type": "latency", "seconds": 1}).times is None
    assert Fault.from_dict({"kind": "rate_limit", "retry_after": 3}).retry_after == "3"
    for bad in ({"kind": "nope"}, {"kind": "error", "bogus": 1}, []):
        with pytest.raises(ValueError):
            Fault.from_dict(bad)


# --------------------------------------------------------------------------- auth

def test_auth_rules(emu, api):
    url = api.base
    assert_error(requests.get(url, timeout=5), 401, "not_authenticated")
    body = assert_error(requests.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5), 401, "token_not_valid")
    assert body["message"] == "Given token not valid for any token type"
    assert_error(requests.get(url, headers={"Authorization": KEY}, timeout=5), 401, "token_not_valid")
    assert_error(requests.get(url, headers={"Authorization": "APIKey wrong"}, timeout=5), 401, "token_not_valid")
    for value in (f"APIKey {KEY}", f"apikey {KEY}", f"APIKEY {KEY}", "APIKey second-key"):
        assert requests.get(url, headers={"authorization": value}, timeout=5).status_code == 200
    # auth is checked before routing: unknown path without a key is a 401
    assert requests.get(emu.url + "/nowhere", timeout=5).status_code == 401
    assert emu.log.count(path_prefix="/cloud") == 8


def test_unknown_project_region_path_and_method(emu, api):
    body = assert_error(requests.get(f"{emu.url}/cloud/v1/registries/999/76", headers=AUTH, timeout=5), 404, "NotFoundError")
    assert "999" in body["message"]
    assert_error(requests.get(f"{emu.url}/cloud/v1/registries/1186668/999", headers=AUTH, timeout=5), 404, "NotFoundError")
    assert_error(requests.get(f"{emu.url}/cloud/v1/registries/abc/76", headers=AUTH, timeout=5), 404, "NotFoundError")
    assert_error(requests.get(f"{emu.url}/cloud/v2/whatever", headers=AUTH, timeout=5), 404, "NotFoundError")
    assert_error(api("GET", "/"), 404, "NotFoundError")
    resp = api("PUT")
    assert_error(resp, 405, "HTTPError")
    assert resp.headers["Allow"] == "GET, POST"
    assert_error(api("GET", "/check_limits"), 405, "HTTPError")
    assert_error(api("POST", "/601"), 405, "HTTPError")


# --------------------------------------------------------------------------- registries

def test_create_get_list_registry(emu, api):
    resp = api("POST", json={"name": "my-registry", "storage_limit": 10})
    assert resp.status_code == 201
    reg = resp.json()
    assert reg == {"id": reg["id"], "name": "my-registry", "storage_limit": 10, "storage_used": 0,
                   "url": "registry.luxembourg-2.cloud.gcore.dev/1000503-1186668-76-my-registry/", "repo_count": 0,
                   "created_at": "2026-05-30T21:35:34Z", "updated_at": "2026-05-30T21:35:34Z"}
    assert api("GET", f"/{reg['id']}").json() == reg
    listed = api("GET").json()
    assert listed == {"count": 1, "results": [reg]}
    assert api("POST", json={"name": "five"}).json()["storage_limit"] == 5
    assert_error(api("POST", json={"name": "my-registry", "storage_limit": 3}), 409, "ConflictError")
    # another region/project is another scope: same name allowed, ids not visible across
    other = Api(emu, region_id=80)
    reg80 = other.registry("my-registry")
    assert reg80["url"] == "registry.sines-3.cloud.gcore.dev/1000503-1186668-80-my-registry/"
    assert_error(api("GET", f"/{reg80['id']}"), 404, "NotFoundError")
    assert_error(Api(emu, project_id=1)("GET", f"/{reg['id']}"), 404, "NotFoundError")
    assert_error(api("GET", "/999999"), 404, "NotFoundError")


@pytest.mark.parametrize("name", ["ab", "a1", "a-b", "a" * 24, "reg-home1"])
def test_registry_name_valid(api, name):
    assert api("POST", json={"name": name}).status_code == 201


@pytest.mark.parametrize("name", ["a", "A", "Ab", "1ab", "-ab", "ab-", "a_b", "a" * 25, "", 12, None])
def test_registry_name_invalid(api, name):
    body = assert_error(api("POST", json={"name": name}), 400, "ValidationError")
    assert "name" in body["invalid_fields"]


@pytest.mark.parametrize("limit", [0, 1001, -1, "5", True, 2.5])
def test_registry_storage_limit_invalid(api, limit):
    body = assert_error(api("POST", json={"name": "reg", "storage_limit": limit}), 400, "ValidationError")
    assert list(body["invalid_fields"]) == ["storage_limit"]


def test_registry_bad_bodies(api):
    assert_error(api("POST", data="{not json", headers={"Content-Type": "application/json"}), 400, "ValidationError")
    assert_error(api("POST", json=["x"]), 400, "ValidationError")
    assert_error(api("POST"), 400, "ValidationError")
    assert api("POST", json={"name": "ok1", "storage_limit": 1, "unknown": "ignored"}).json()["storage_limit"] == 1
    assert api("POST", json={"name": "ok2", "storage_limit": 1000}).json()["storage_limit"] == 1000


def test_resize_registry(emu, api):
    reg = api.registry(storage_limit=10)
    emu.clock = lambda: datetime(2026, 6, 1, tzinfo=timezone.utc)
    resp = api("PATCH", f"/{reg['id']}/resize", json={"storage_limit": 20})
    assert resp.status_code == 200
    assert resp.json() == dict(reg, storage_limit=20, updated_at="2026-06-01T00:00:00Z")
    # the real default: an empty body (or {}) shrinks to 5 GiB
    assert api("PATCH", f"/{reg['id']}/resize", json={}).json()["storage_limit"] == 5
    api("PATCH", f"/{reg['id']}/resize", json={"storage_limit": 30})
    assert api("PATCH", f"/{reg['id']}/resize").json()["storage_limit"] == 5
    assert_error(api("PATCH", f"/{reg['id']}/resize", json={"storage_limit": 1001}), 400, "ValidationError")
    assert_error(api("PATCH", "/999/resize", json={"storage_limit": 5}), 404, "NotFoundError")


def test_delete_registry_cascades(emu, api):
    reg = api.registry()
    emu.add_artifact(reg["id"], "nginx", size=10, tags=["latest"])
    emu.add_user(reg["id"], "ci")
    resp = api("DELETE", f"/{reg['id']}")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(api("GET", f"/{reg['id']}"), 404, "NotFoundError")
    assert not emu.repositories and not emu.artifacts and not emu.tags and not emu.users
    assert_error(api("DELETE", f"/{reg['id']}"), 404, "NotFoundError")


def test_check_limits(emu, api):
    resp = api("POST", "/check_limits", json={"storage_limit": 5})
    assert resp.status_code == 200 and resp.json() == {}
    assert api("POST", "/check_limits").json() == {}
    api.registry("one", storage_limit=8)
    emu.configure(quotas={"registry_count_limit": 1, "registry_storage_limit": 10})
    assert api("POST", "/check_limits", json={"storage_limit": 5}).json() == {
        "registry_count_limit": 1, "registry_count_requested": 1, "registry_count_usage": 1,
        "registry_storage_limit": 10, "registry_storage_requested": 5, "registry_storage_usage": 8}
    assert_error(api("POST", "/check_limits", json={"storage_limit": "x"}), 400, "ValidationError")


# --------------------------------------------------------------------------- pagination

def test_pagination(emu, api):
    ids = [api.registry(f"reg{i}")["id"] for i in range(5)]
    page = api("GET", params={"limit": 2, "offset": 0}).json()
    assert page["count"] == 5 and [r["id"] for r in page["results"]] == ids[:2]
    assert [r["id"] for r in api("GET", params={"limit": 2, "offset": 4}).json()["results"]] == ids[4:]
    assert api("GET", params={"offset": 10}).json() == {"count": 5, "results": []}
    assert len(api("GET").json()["results"]) == 5
    assert len(api("GET", params={"limit": 5000}).json()["results"]) == 5
    emu.configure(max_limit=3, default_limit=2)
    assert len(api("GET").json()["results"]) == 2
    assert len(api("GET", params={"limit": 1001}).json()["results"]) == 3  # clamped to max_limit
    for params in ({"limit": "x"}, {"limit": 0}, {"offset": -1}, {"offset": "1.5"}):
        body = assert_error(api("GET", params=params), 400, "ValidationError")
        assert set(body["invalid_fields"]) <= {"limit", "offset"}
    reg = ids[0]
    for i in range(3):
        emu.add_user(reg, f"u{i}")
        emu.add_artifact(reg, f"repo{i}")
        emu.add_artifact(reg, "many")
    for path in (f"/{reg}/users", f"/{reg}/repositories", f"/{reg}/repositories/many/artifacts"):
        page = api("GET", path, params={"limit": 1, "offset": 1}).json()
        assert page["count"] == (4 if path.endswith("/repositories") else 3) and len(page["results"]) == 1, path


# --------------------------------------------------------------------------- repositories / artifacts / tags

def test_repositories_artifacts_tags(emu, api):
    reg = api.registry()
    rid = reg["id"]
    emu.add_repository(rid, "nginx", pull_count=5)
    art1 = emu.add_artifact(rid, "nginx", digest="sha256:aaa", size=100, tags=["latest", "1.25"],
                            pushed_at="2026-05-30T22:00:00Z", pulled_at="2026-05-30T22:05:00Z")
    emu.add_artifact(rid, "nginx", digest="sha256:bbb", size=50, tags=[{"name": "1.24", "pushed_at": "2026-01-01T00:00:00Z"}])
    emu.add_artifact(rid, "team/app", digest="sha256:ccc", size=7)
    reg_now = api("GET", f"/{rid}").json()
    assert reg_now["repo_count"] == 2 and reg_now["storage_used"] == 157
    repos = api("GET", f"/{rid}/repositories").json()
    assert repos["count"] == 2
    nginx = repos["results"][0]
    assert set(nginx) == {"id", "name", "artifact_count", "pull_count", "registry_id", "created_at", "updated_at"}
    assert (nginx["name"], nginx["artifact_count"], nginx["pull_count"], nginx["registry_id"]) == ("nginx", 2, 5, rid)
    arts = api("GET", f"/{rid}/repositories/nginx/artifacts").json()
    assert arts["count"] == 2
    first = arts["results"][0]
    assert first == art1
    assert set(first) == {"id", "digest", "size", "tags", "registry_id", "repository_id", "pushed_at", "pulled_at"}
    assert first["pulled_at"] == "2026-05-30T22:05:00Z"
    assert [t["name"] for t in first["tags"]] == ["latest", "1.25"]
    assert set(first["tags"][0]) == {"id", "name", "artifact_id", "repository_id", "pushed_at", "pulled_at"}
    assert first["tags"][0]["artifact_id"] == first["id"] and first["tags"][0]["repository_id"] == nginx["id"]

    # delete a tag: the artifact stays; digest may arrive with ':' raw or %3A
    assert api("DELETE", f"/{rid}/repositories/nginx/artifacts/sha256:aaa/tags/1.25").status_code == 204
    assert_error(api("DELETE", f"/{rid}/repositories/nginx/artifacts/sha256:aaa/tags/1.25"), 404, "NotFoundError")
    assert_error(api("DELETE", f"/{rid}/repositories/nginx/artifacts/sha256:bbb/tags/latest"), 404, "NotFoundError")
    arts = api("GET", f"/{rid}/repositories/nginx/artifacts").json()["results"]
    assert [t["name"] for t in arts[0]["tags"]] == ["latest"] and len(arts) == 2
    # delete an artifact: its tags go, storage_used and artifact_count follow
    resp = api("DELETE", f"/{rid}/repositories/nginx/artifacts/sha256%3Aaaa")
    assert resp.status_code == 204 and resp.content == b""
    assert [a["digest"] for a in api("GET", f"/{rid}/repositories/nginx/artifacts").json()["results"]] == ["sha256:bbb"]
    assert {t["name"] for t in emu.tags.values()} == {"1.24"}
    assert api("GET", f"/{rid}").json()["storage_used"] == 57
    assert api("GET", f"/{rid}/repositories").json()["results"][0]["artifact_count"] == 1
    assert_error(api("DELETE", f"/{rid}/repositories/nginx/artifacts/sha256:aaa"), 404, "NotFoundError")
    # delete a repository: artifacts and tags go
    assert api("DELETE", f"/{rid}/repositories/nginx").status_code == 204
    assert not emu.tags and api("GET", f"/{rid}").json()["repo_count"] == 1
    assert_error(api("GET", f"/{rid}/repositories/nginx/artifacts"), 404, "NotFoundError")
    assert_error(api("DELETE", f"/{rid}/repositories/nginx"), 404, "NotFoundError")
    assert_error(api("GET", "/999/repositories"), 404, "NotFoundError")


def test_double_encoded_repository_names(emu, api):
    rid = api.registry()["id"]
    emu.add_artifact(rid, "a/b", digest="sha256:d1", tags=["t1", "t2"])
    emu.add_artifact(rid, "a/b", digest="sha256:d2")
    assert api("GET", f"/{rid}/repositories").json()["results"][0]["name"] == "a/b"
    assert api("GET", f"/{rid}/repositories/a%252Fb/artifacts").json()["count"] == 2
    # single-encoded and raw slashes must not match: the client has to double-encode
    assert_error(api("GET", f"/{rid}/repositories/a%2Fb/artifacts"), 404, "NotFoundError")
    assert_error(api("GET", f"/{rid}/repositories/a%2fb/artifacts"), 404, "NotFoundError")
    assert_error(api("GET", f"/{rid}/repositories/a/b/artifacts"), 404, "NotFoundError")
    assert_error(api("DELETE", f"/{rid}/repositories/a%2Fb/artifacts/sha256:d1/tags/t1"), 404, "NotFoundError")
    assert api("DELETE", f"/{rid}/repositories/a%252Fb/artifacts/sha256:d1/tags/t1").status_code == 204
    assert api("DELETE", f"/{rid}/repositories/a%252Fb/artifacts/sha256:d1").status_code == 204
    assert_error(api("DELETE", f"/{rid}/repositories/a%2Fb"), 404, "NotFoundError")
    assert api("DELETE", f"/{rid}/repositories/a%252Fb").status_code == 204
    assert emu.log.last().path.endswith("/repositories/a%252Fb")
    assert emu.log.last().params["repository_name"] == "a/b"


def test_seed_push_semantics(emu):
    reg = emu.add_registry("seeded")
    emu.add_artifact("seeded", "app", digest="sha256:1", size=5, tags=["latest"])
    emu.add_artifact(reg["id"], "app", digest="sha256:2", size=6, tags=["latest", "v2"])
    emu.add_artifact(reg["id"], "app", digest="sha256:1", tags=["v1"])  # same digest: merged, not duplicated
    state = emu.dump_state()["registries"][0]
    arts = {a["digest"]: [t["name"] for t in a["tags"]] for a in state["repositories"][0]["artifacts"]}
    assert arts == {"sha256:1": ["v1"], "sha256:2": ["latest", "v2"]}
    assert state["storage_used"] == 11
    assert emu.add_registry("seeded")["id"] == reg["id"]
    with pytest.raises(ValueError):
        emu.add_artifact("missing", "app")


# --------------------------------------------------------------------------- users

def test_create_user(api):
    rid = api.registry()["id"]
    resp = api("POST", f"/{rid}/users", json={"name": "myuser", "duration": -1})
    assert resp.status_code == 201
    usr = resp.json()
    assert usr["name"] == "r_1000503-1186668-76-my-registry+myuser"
    assert usr["expires_at"] == NEVER_EXPIRES and usr["read_only"] is False and usr["duration"] == -1
    assert len(usr["secret"]) == 32 and usr["secret"].isalnum()
    assert usr["created_at"] == "2026-05-30T21:35:34Z"
    assert set(usr) == {"id", "name", "secret", "duration", "expires_at", "read_only", "created_at"}
    usr2 = api("POST", f"/{rid}/users", json={"name": "ro", "duration": 14, "read_only": True, "secret": "MySecret1"}).json()
    assert usr2["secret"] == "MySecret1" and usr2["read_only"] is True
    assert usr2["expires_at"] == "2026-06-13T21:35:34Z"
    assert api("POST", f"/{rid}/users", json={"name": "blank", "duration": 0, "secret": ""}).json()["secret"]
    assert api("POST", f"/{rid}/users", json={"name": "", "duration": 1}).json()["name"].endswith("+")  # spec regex allows ""
    assert_error(api("POST", f"/{rid}/users", json={"name": "myuser", "duration": 5}), 409, "ConflictError")
    assert_error(api("POST", "/999/users", json={"name": "x", "duration": 5}), 404, "NotFoundError")
    listed = api("GET", f"/{rid}/users").json()
    assert listed["count"] == 4
    assert all("secret" not in u for u in listed["results"])
    assert listed["results"][0] == {k: v for k, v in usr.items() if k != "secret"}


@pytest.mark.parametrize("body,field", [
    ({"duration": 1}, "name"),
    ({"name": "UPPER", "duration": 1}, "name"),
    ({"name": "with-hyphen", "duration": 1}, "name"),
    ({"name": "a" * 17, "duration": 1}, "name"),
    ({"name": "ok"}, "duration"),
    ({"name": "ok", "duration": -2}, "duration"),
    ({"name": "ok", "duration": 366}, "duration"),
    ({"name": "ok", "duration": "7"}, "duration"),
    ({"name": "ok", "duration": 1, "read_only": "yes"}, "read_only"),
    ({"name": "ok", "duration": 1, "secret": 5}, "secret"),
])
def test_create_user_validation(api, body, field):
    rid = api.registry()["id"]
    resp = assert_error(api("POST", f"/{rid}/users", json=body), 400, "ValidationError")
    assert list(resp["invalid_fields"]) == [field]


def test_update_refresh_delete_user(emu, api):
    rid = api.registry()["id"]
    usr = api("POST", f"/{rid}/users", json={"name": "ci", "duration": 30, "read_only": True}).json()
    uid = usr["id"]
    resp = api("PATCH", f"/{rid}/users/{uid}", json={"duration": -1, "read_only": True})
    assert resp.status_code == 200
    assert resp.json() == {"id": uid, "name": usr["name"], "duration": -1, "expires_at": NEVER_EXPIRES, "read_only": True,
                           "created_at": usr["created_at"]}
    # read_only omitted -> the schema default false (silently grants push)
    assert api("PATCH", f"/{rid}/users/{uid}", json={"duration": 10}).json()["read_only"] is False
    assert api("GET", f"/{rid}/users").json()["results"][0]["expires_at"] == "2026-06-09T21:35:34Z"
    assert_error(api("PATCH", f"/{rid}/users/{uid}", json={"read_only": True}), 400, "ValidationError")
    assert_error(api("PATCH", f"/{rid}/users/{uid}", json={"duration": 400}), 400, "ValidationError")
    assert_error(api("PATCH", f"/{rid}/users/{uid}"), 400, "ValidationError")
    assert_error(api("PATCH", f"/{rid}/users/9999", json={"duration": 1}), 404, "NotFoundError")
    resp = api("POST", f"/{rid}/users/{uid}/refresh_secret")
    assert resp.status_code == 200
    assert resp.json()["secret"] != usr["secret"] and resp.json()["secret"] == emu.user_secret(uid)
    assert set(resp.json()) == {"id", "name", "secret", "duration", "expires_at", "read_only", "created_at"}
    assert_error(api("POST", f"/{rid}/users/9999/refresh_secret"), 404, "NotFoundError")
    other = api.registry("other")["id"]
    assert_error(api("DELETE", f"/{other}/users/{uid}"), 404, "NotFoundError")
    resp = api("DELETE", f"/{rid}/users/{uid}")
    assert resp.status_code == 204 and resp.content == b""
    assert api("GET", f"/{rid}/users").json() == {"count": 0, "results": []}
    assert_error(api("DELETE", f"/{rid}/users/{uid}"), 404, "NotFoundError")


@pytest.mark.parametrize("shape", ["list", "object", "collection"])
def test_batch_create_shapes(emu, api, shape):
    emu.configure(batch_shape=shape)
    rid = api.registry()["id"]
    resp = api("POST", f"/{rid}/users/batch", json={"users": [{"name": "u1", "duration": -1}, {"name": "u2", "duration": 7, "read_only": True}]})
    assert resp.status_code == 201
    body = resp.json()
    if shape == "list":
        users = body
    elif shape == "collection":
        assert body["count"] == 2
        users = body["results"]
    else:
        users = [body]
    assert users[0]["name"].endswith("+u1") and users[0]["secret"]
    assert api("GET", f"/{rid}/users").json()["count"] == 2


def test_batch_create_conflicts_and_validation(emu, api):
    rid = api.registry()["id"]
    emu.add_user(rid, "taken")
    body = assert_error(api("POST", f"/{rid}/users/batch", json={"users": [{"name": "new1", "duration": 1}, {"name": "taken", "duration": 1}]}),
                        409, "ConflictError")
    assert "taken" in body["message"]
    assert_error(api("POST", f"/{rid}/users/batch", json={"users": [{"name": "dup", "duration": 1}, {"name": "dup", "duration": 1}]}),
                 409, "ConflictError")
    assert api("GET", f"/{rid}/users").json()["count"] == 1  # nothing created
    body = assert_error(api("POST", f"/{rid}/users/batch", json={"users": [{"name": "fine", "duration": 1}, {"name": "Bad", "duration": 1}]}),
                        400, "ValidationError")
    assert list(body["invalid_fields"]) == ["users.1.name"]
    assert_error(api("POST", f"/{rid}/users/batch", json={}), 400, "ValidationError")
    assert_error(api("POST", f"/{rid}/users/batch", json={"users": "x"}), 400, "ValidationError")
    assert api("POST", f"/{rid}/users/batch", json={"users": []}).json() == {}  # the spec's single-object shape, empty


# --------------------------------------------------------------------------- faults

def test_rate_limit_fault(emu, api):
    emu.rate_limit(times=2, retry_after="2")
    for _unused in range(2):
        resp = requests.get(api.base, timeout=5)  # faults come before auth
        body = assert_error(resp, 429, "TooManyRequests")
        assert resp.headers["Retry-After"] == "2" and body["message"] == "Too many requests"
    assert api("GET").status_code == 200
    date = http_date(3)
    emu.rate_limit(retry_after=date)
    assert email.utils.parsedate_to_datetime(api("GET").headers["Retry-After"]) is not None
    emu.rate_limit(retry_after=None)
    assert "Retry-After" not in api("GET").headers
    assert [r.fault for r in emu.log] == ["rate_limit", "rate_limit", None, "rate_limit", "rate_limit"]
    assert [r.status for r in emu.log] == [429, 429, 200, 429, 429]


def test_fault_filters(emu, api):
    rid = api.registry()["id"]
    emu.rate_limit(times=1, method="POST", path_prefix=f"{api.base[len(emu.url):]}/{rid}/users")
    assert api("GET", f"/{rid}/users").status_code == 200
    assert api("POST", f"/{rid}").status_code == 405
    assert api("POST", f"/{rid}/users", json={"name": "a", "duration": 1}).status_code == 429
    assert api("POST", f"/{rid}/users", json={"name": "a", "duration": 1}).status_code == 201
    assert emu.faults.list()[0].remaining == 0


@pytest.mark.parametrize("status,cls", [(500, "InternalServerError"), (502, "BadGateway"), (503, "ServiceUnavailable")])
def test_server_error_fault(emu, api, status, cls):
    emu.server_error(times=1, status=status)
    assert_error(api("GET"), status, cls)
    assert api("GET").status_code == 200


def test_server_error_raw_body_and_generic_error(emu, api):
    emu.server_error(status=502, body="<html>502 Bad Gateway</html>")
    resp = api("GET")
    assert resp.status_code == 502 and resp.text.startswith("<html>") and resp.headers["Content-Type"].startswith("text/html")
    emu.error(403, message="Insufficient permissions", method="DELETE")
    assert api("GET").status_code == 200
    assert_error(api("DELETE", "/1"), 403, "ForbiddenError")


def test_reset_connection_fault(emu, api):
    emu.reset_connection(times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(api.base, headers=AUTH, timeout=5)
    assert requests.get(api.base, headers=AUTH, timeout=5).status_code == 200
    assert [(r.status, r.fault) for r in emu.log] == [(None, "reset_connection"), (200, None)]


def test_latency_fault(emu, api):
    fault = emu.latency(0.3, path_prefix="/cloud")
    start = time.monotonic()
    assert api("GET").status_code == 200
    assert time.monotonic() - start >= 0.3
    assert fault.hits == 1 and fault.remaining is None
    emu.clear_faults()
    start = time.monotonic()
    api("GET")
    assert time.monotonic() - start < 0.3


# --------------------------------------------------------------------------- control endpoints and log

def test_control_endpoints(emu, api):
    ctl = emu.url + "/_emulator"
    resp = requests.post(ctl + "/faults", json={"kind": "rate_limit", "times": 1, "retry_after": 5}, timeout=5)
    assert resp.status_code == 201 and resp.json()[0]["retry_after"] == "5"
    resp = requests.post(ctl + "/faults", json=[{"kind": "server_error", "status": 502}, {"kind": "reset_connection", "method": "DELETE"}], timeout=5)
    assert [f["kind"] for f in resp.json()] == ["error", "reset_connection"]
    assert len(requests.get(ctl + "/faults", timeout=5).json()) == 3
    assert api("GET").headers["Retry-After"] == "5"
    assert api("GET").status_code == 502
    assert api("GET").status_code == 200
    # control endpoints bypass faults, auth and the log
    assert requests.post(ctl + "/faults", json={"kind": "reset_connection", "times": 5}, timeout=5).status_code == 201
    assert requests.get(ctl + "/log", timeout=5).status_code == 200
    assert requests.delete(ctl + "/faults", timeout=5).status_code == 204
    assert requests.get(ctl + "/faults", timeout=5).json() == []
    log = requests.get(ctl + "/log", timeout=5).json()
    assert [(r["method"], r["status"]) for r in log] == [("GET", 429), ("GET", 502), ("GET", 200)]
    assert all(not r["path"].startswith("/_emulator") for r in log)
    assert log[0]["headers"]["Authorization"] == "APIKey ***"
    assert requests.post(ctl + "/faults", json={"kind": "bogus"}, timeout=5).status_code == 400
    assert requests.get(ctl + "/nope", timeout=5).status_code == 404
    # config
    assert requests.post(ctl + "/config", json={"batch_shape": "collection"}, timeout=5).json()["batch_shape"] == "collection"
    assert requests.get(ctl + "/config", timeout=5).json()["batch_shape"] == "collection"
    assert requests.post(ctl + "/config", json={"batch_shape": "weird"}, timeout=5).status_code == 400
    assert requests.post(ctl + "/config", json={"nope": 1}, timeout=5).status_code == 400
    # seed
    seed = {"registries": [{"name": "seeded", "storage_limit": 7,
                            "users": [{"name": "ci", "duration": -1, "read_only": True, "secret": "s3cret"}],
                            "repositories": [{"name": "team/app", "pull_count": 3, "updated_at": "2026-05-01T00:00:00Z",
                                              "artifacts": [{"digest": "sha256:abc", "size": 1024, "pushed_at": "2026-04-01T00:00:00Z",
                                                             "pulled_at": "2026-04-02T00:00:00Z",
                                                             "tags": ["latest", {"name": "v1", "pushed_at": "2026-04-01T00:00:00Z",
                                                                                 "pulled_at": "2026-04-03T00:00:00.500000Z"}]}]}]}]}
    resp = requests.post(ctl + "/seed", json=seed, timeout=5)
    assert resp.status_code == 201
    reg = resp.json()["registries"][0]
    assert reg["storage_used"] == 1024 and reg["repo_count"] == 1 and reg["users"][0]["secret"] == "s3cret"
    repo = api("GET", f"/{reg['id']}/repositories").json()["results"][0]
    assert (repo["name"], repo["pull_count"], repo["updated_at"]) == ("team/app", 3, "2026-05-01T00:00:00Z")
    art = api("GET", f"/{reg['id']}/repositories/team%252Fapp/artifacts").json()["results"][0]
    assert art["pulled_at"] == "2026-04-02T00:00:00Z" and art["tags"][1]["pulled_at"] == "2026-04-03T00:00:00.500000Z"
    # seeding into an existing registry by id
    more = {"registries": [{"id": reg["id"], "repositories": [{"name": "other", "artifacts": [{"size": 1}]}]}]}
    assert requests.post(ctl + "/seed", json=more, timeout=5).json()["registries"][0]["repo_count"] == 2
    assert requests.post(ctl + "/seed", json={"registries": [{"id": 1}]}, timeout=5).status_code == 400
    state = requests.get(ctl + "/state", timeout=5).json()
    assert state["registries"][0]["users"][0]["name"].endswith("+ci")
    # reset
    assert requests.post(ctl + "/reset", timeout=5).status_code == 204
    assert api("GET").json()["count"] == 0 and emu.settings()["batch_shape"] == "collection"
    assert requests.delete(ctl + "/log", timeout=5).status_code == 204 and len(emu.log) == 0


def test_request_log_helpers(emu, api):
    rid = api.registry()["id"]
    api("GET", params={"limit": 5, "offset": 0})
    api("PATCH", f"/{rid}/resize", json={"storage_limit": 9})
    api("DELETE", f"/{rid}")
    log = emu.log
    assert len(log) == 4 and log.count(method="GET") == 1 and log.count(path_prefix=api.base[len(emu.url):] + f"/{rid}") == 2
    assert [r.method for r in log.mutating()] == ["POST", "PATCH", "DELETE"]
    get = log[1]
    assert get.query == {"limit": "5", "offset": "0"} and get.target.endswith("?limit=5&offset=0") and get.body is None
    assert log[0].body == {"name": "my-registry", "storage_limit": 10}
    assert log[0].headers["Authorization"] == "APIKey ***" and KEY not in str(log[0].to_dict())
    assert log[2].route.endswith("/resize") and log[2].params["registry_id"] == rid
    assert log.last().status == 204 and log.filter(status=201)[0].method == "POST"
    log.clear()
    assert len(log) == 0


# --------------------------------------------------------------------------- standalone runner

def test_standalone_runner():
    with subprocess.Popen([sys.executable, "-m", "tests.emulators.gcore", "--port", "0"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert "listening on http://127.0.0.1:" in first, first + proc.stderr.read()
            url = first.split()[-1]
            assert KEY in proc.stdout.readline()
            resp = requests.get(url + "/cloud/v1/registries/1186668/76", headers=AUTH, timeout=5)
            assert resp.json() == {"count": 0, "results": []}
        finally:
            proc.send_signal(signal.SIGTERM)  # SIGINT is ignored when the suite runs in the background
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0
