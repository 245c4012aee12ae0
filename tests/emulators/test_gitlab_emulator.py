"""Tests of the GitLab container registry API emulator, over real HTTP (and against a real local registry)."""
# pylint: disable=redefined-outer-name,missing-function-docstring,too-many-lines

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

from tests.emulators.gitlab import (BULK_LIMIT_MESSAGE, DEFAULT_JOB_TOKEN, DEFAULT_TOKEN, KEYSET_UNAVAILABLE, GitLabEmulator, anchored,
                                    compile_re2, glob_match, local_registry, parse_duration, project_path_param)
from tests.support.seed import SeedClient, SeedError

TOKEN = DEFAULT_TOKEN
ADMIN = "emulator-gitlab-admin-token"
MAINTAINER = "emulator-gitlab-maintainer-token"
DEVELOPER = "emulator-gitlab-developer-token"
REPORTER = "emulator-gitlab-reporter-token"
READ_API = "emulator-gitlab-read-api-token"
REGISTRY_ONLY = "emulator-gitlab-registry-token"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXED = "2026-05-30T21:35:34.123Z"
FIXED_DT = datetime(2026, 5, 30, 21, 35, 34, 123000, tzinfo=timezone.utc)
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
MS_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DEFAULTS = {"registry_host": None, "registry_scheme": "http", "registry_backing": True, "backend_credentials": None, "external_url": None,
            "default_per_page": 20, "max_per_page": 100, "count_limit": 10000, "keyset_tags": True, "tag_delete_status": 204,
            "repository_delete_status": 202, "bulk_delete_status": 202, "async_delay": None, "async_polls": 3,
            "repository_delete_outcome": "success", "bulk_delete_lease_seconds": 3600, "bulk_delete_limit": None, "repository_size": True,
            "rate_limit": 0, "rate_limit_period": 3600.0, "default_project": True}


@pytest.fixture(scope="module")
def server():
    """One server per module; state and settings reset by ``emu``."""
    with GitLabEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server):
    """A clean emulator: default settings except deterministic jobs (3 polls, no timer) and a pinned clock."""
    server.configure(**DEFAULTS)
    server.configure(clock=FIXED)
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def api(emu):
    """Client bound to ``/api/v4`` with the default (owner) token."""
    return Api(emu)


class Api:
    """Tiny client for the tests."""

    def __init__(self, emu, token=TOKEN, header="PRIVATE-TOKEN"):
        self.emu = emu
        self.base = emu.api_base
        self.session = requests.Session()
        if token:
            self.session.headers[header] = f"Bearer {token}" if header == "Authorization" else token

    def __call__(self, method, path="", **kwargs):
        return self.session.request(method, self.base + path, timeout=10, **kwargs)

    def as_(self, token, header="PRIVATE-TOKEN"):
        """The same client with another credential."""
        return Api(self.emu, token, header)


def assert_message(resp, status, message=None):
    """``{"message": ...}`` (GitLab's ``render_api_error!``)."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"message"}, body
    if message is not None:
        assert body["message"] == message, body
    return body


def assert_grape(resp, status, error=None):
    """``{"error": ...}`` (Grape validation, routing, OAuth)."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert "error" in body and "message" not in body, body
    if error is not None:
        assert body["error"] == error, body
    return body


def seed_app(emu, tags=None, name=""):
    """The default project's repository ``name`` with tags; returns ``(project id, repository id)``."""
    if tags is None:
        tags = [{"name": "latest", "digest": DIGEST_A, "created_at": "2026-05-01T00:00:00Z", "total_size": 100},
                {"name": "v1", "digest": DIGEST_A, "created_at": "2026-05-01T00:00:00Z", "total_size": 100},
                {"name": "v2", "digest": DIGEST_B, "created_at": "2026-05-10T00:00:00Z", "total_size": 300}]
    repo = emu.add_repository("acme/app", name, tags=tags)
    return repo["project_id"], repo["id"]


def tags_of(api, pid, rid):
    return [t["name"] for t in api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags", params={"per_page": 100}).json()]


# --------------------------------------------------------------------------- helpers

@pytest.mark.parametrize("text,seconds", [("1h", 3600), ("2d", 172800), ("1month", 2592000), ("90d", 7776000), ("1m", 60),
                                          ("3 weeks", 1814400), ("10s", 10), ("x", None), ("1d2h", None), ("", None), (5, None)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_regex_helpers():
    assert compile_re2("v[0-9]+").search("v10")
    for bad in ("(?=x)", "(?!x)", "(?<=a)b", r"(a)\1", "(", "[a-"):
        with pytest.raises(ValueError):
            compile_re2(bad)
    assert anchored("v1").match("v1") and not anchored("v1").match("v10") and not anchored("v1").match("xv1")
    assert anchored("a|b").match("b") and not anchored("a|b").match("ab")
    assert glob_match("acme/app/*", "acme/app/web") and glob_match("ACME/app", "acme/APP") and not glob_match("acme/app", "acme/app/web")
    assert glob_match("acme/app_x", "acme/app_x") and not glob_match("acme/app_x", "acme/appyx")
    assert project_path_param("acme/sub/app") == "acme%2Fsub%2Fapp"


# --------------------------------------------------------------------------- auth

def test_auth_headers(emu, api):
    url = f"{api.base}/projects/{emu.project_id()}"
    for headers, params in (({"PRIVATE-TOKEN": TOKEN}, None), ({"Authorization": f"Bearer {TOKEN}"}, None),
                            ({"authorization": f"bearer {TOKEN}"}, None), ({}, {"private_token": TOKEN}), ({}, {"access_token": TOKEN})):
        assert requests.get(url, headers=headers, params=params, timeout=5).status_code == 200, headers
    for headers in ({}, {"PRIVATE-TOKEN": "wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN},
                    {"JOB-TOKEN": DEFAULT_JOB_TOKEN}):  # a job token is not accepted on GET /projects/:id
        assert_message(requests.get(url, headers=headers, timeout=5), 401, "401 Unauthorized")
    repos = f"{url}/registry/repositories"
    assert requests.get(repos, headers={"JOB-TOKEN": DEFAULT_JOB_TOKEN}, timeout=5).status_code == 200
    assert requests.get(repos, params={"job_token": DEFAULT_JOB_TOKEN}, timeout=5).status_code == 200
    # a deploy token authenticates docker, never the REST API
    secret = emu.add_deploy_token("acme/app", "dt", ["read_registry"])["token"]
    assert_message(requests.get(url, headers={"PRIVATE-TOKEN": secret}, timeout=5), 401, "401 Unauthorized")
    # credentials never reach the log in clear, in headers or in the query
    logged = [r for r in emu.log.records if r.query.get("private_token") or r.headers.get("PRIVATE-TOKEN")]
    assert logged and all(r.query.get("private_token", "***") == "***" and r.headers.get("PRIVATE-TOKEN", "***") == "***" for r in logged)
    assert all(TOKEN not in r.target and DEFAULT_JOB_TOKEN not in r.target for r in emu.log.records)
    assert all(r.headers.get("JOB-TOKEN", "***") == "***" for r in emu.log.records)


def test_token_scopes_expiry_and_revocation(emu, api):
    pid = emu.project_id()
    reader = api.as_(READ_API)
    assert reader("GET", f"/projects/{pid}/registry/repositories").status_code == 200
    body = assert_grape(reader("PUT", f"/projects/{pid}", json={"container_registry_access_level": "private"}), 403, "insufficient_scope")
    assert body == {"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api"}
    body = assert_grape(api.as_(REGISTRY_ONLY)("GET", f"/projects/{pid}"), 403, "insufficient_scope")
    assert body["scope"] == "api read_api"
    emu.add_token("old", expires_at="2026-05-30T00:00:00Z")
    emu.add_token("gone", revoked=True)
    emu.add_token("later", expires_at="2026-06-01T00:00:00Z")
    assert assert_grape(api.as_("old")("GET", f"/projects/{pid}"), 401, "invalid_token")["error_description"] == "Token has expired."
    assert assert_grape(api.as_("gone")("GET", f"/projects/{pid}"), 401, "invalid_token")["error_description"] == "Token has been revoked."
    assert api.as_("later")("GET", f"/projects/{pid}").status_code == 200
    emu.advance_clock(2 * 86400)
    assert_grape(api.as_("later")("GET", f"/projects/{pid}"), 401, "invalid_token")


def test_roles(emu, api):
    pid, rid = seed_app(emu)
    reporter, developer, maintainer = api.as_(REPORTER), api.as_(DEVELOPER), api.as_(MAINTAINER)
    assert reporter("GET", f"/projects/{pid}/registry/repositories/{rid}/tags").status_code == 200
    assert_message(reporter("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v2"), 403, "403 Forbidden")
    assert_message(reporter("DELETE", f"/projects/{pid}/registry/repositories/{rid}"), 403, "403 Forbidden")
    assert_message(reporter("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags", params={"name_regex_delete": ".*"}), 403)
    assert developer("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v2").status_code == 204
    assert_message(developer("PUT", f"/projects/{pid}", json={"container_registry_access_level": "private"}), 403, "403 Forbidden")
    assert maintainer("PUT", f"/projects/{pid}", json={"container_registry_access_level": "private"}).status_code == 200
    assert_message(developer("GET", f"/projects/{pid}/registry/protection/tag/rules"), 403, "403 Forbidden")
    assert_message(developer("GET", f"/projects/{pid}/deploy_tokens"), 403, "403 Forbidden")
    assert maintainer("GET", f"/projects/{pid}/deploy_tokens").status_code == 200
    # delete_api_path only for those who may delete
    assert "delete_api_path" in developer("GET", f"/registry/repositories/{rid}").json()
    assert "delete_api_path" not in reporter("GET", f"/registry/repositories/{rid}").json()


def test_job_token(emu, api):
    pid, rid = seed_app(emu)
    other = emu.add_project("other/tool")
    orid = emu.add_repository("other/tool", "", tags=["x"])["id"]
    job = api.as_(DEFAULT_JOB_TOKEN, "JOB-TOKEN")
    assert tags_of(job, pid, rid) == ["latest", "v1", "v2"]
    assert job("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/v1").status_code == 200
    assert job("GET", f"/registry/repositories/{rid}").status_code == 200
    assert job("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v2").status_code == 204
    assert job("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags", params={"name_regex_delete": "v.*"}).status_code == 202
    # only the pipeline's own project
    assert_message(job("GET", f"/projects/{other['id']}/registry/repositories"), 403,
                   "403 Forbidden - Authentication by CI/CD job token not allowed from app to tool.")
    assert_message(job("GET", f"/registry/repositories/{orid}"), 403)
    # endpoints that do not take a job token treat it as no credential
    for method, path in (("GET", f"/projects/{pid}/deploy_tokens"), ("GET", f"/projects/{pid}/registry/protection/repository/rules"),
                         ("PUT", f"/projects/{pid}"), ("GET", "/groups/acme/registry/repositories")):
        assert_message(job(method, path, json={"container_registry_access_level": "enabled"}), 401, "401 Unauthorized")
    # a finished job's token is dead; a job token's role is its user's (developer here: no project settings anyway)
    token = emu.add_job_token("acme/app", active=False)
    assert_message(api.as_(token, "JOB-TOKEN")("GET", f"/projects/{pid}/registry/repositories"), 401)
    reporter_job = emu.add_job_token("acme/app", access_level="reporter")
    assert_message(api.as_(reporter_job, "JOB-TOKEN")("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v1"), 403)


def test_scoped_tokens(emu, api):
    emu.add_project("acme/sub/lib")
    emu.add_project("other/tool")
    emu.add_token("project-token", access_level="maintainer", kind="project", scope_path="acme/app")
    emu.add_token("group-token", access_level="owner", kind="group", scope_path="acme")
    project_token, group_token = api.as_("project-token"), api.as_("group-token")
    assert project_token("GET", "/projects/acme%2Fapp").status_code == 200
    assert_message(project_token("GET", "/projects/acme%2Fsub%2Flib"), 404, "404 Project Not Found")
    assert_message(project_token("GET", "/groups/acme/registry/repositories"), 404, "404 Group Not Found")
    assert group_token("GET", "/projects/acme%2Fsub%2Flib").status_code == 200
    assert group_token("GET", "/groups/acme%2Fsub/registry/repositories").status_code == 200
    assert_message(group_token("GET", "/projects/other%2Ftool"), 404, "404 Project Not Found")


# --------------------------------------------------------------------------- routing, ids, errors

def test_routing_and_ids(emu, api):
    pid, rid = seed_app(emu)
    assert_grape(api("GET", "/nowhere"), 404, "404 Not Found")
    assert_grape(api("POST", f"/projects/{pid}/registry/repositories"), 404, "404 Not Found")  # unknown method: the catch-all route
    assert_grape(api("PATCH", f"/projects/{pid}/deploy_tokens/1"), 404, "404 Not Found")  # no deploy token update exists
    assert_grape(api("GET", "/projects/acme/app/registry/repositories"), 404, "404 Not Found")  # an unencoded path splits the route
    assert_grape(requests.get(emu.url + "/api/v3/projects", headers={"PRIVATE-TOKEN": TOKEN}, timeout=5), 404)
    for ref in (str(pid), "acme%2Fapp", "ACME%2FApp"):
        assert api("GET", f"/projects/{ref}/registry/repositories").json()[0]["id"] == rid, ref
    assert_message(api("GET", "/projects/acme%252Fapp"), 404, "404 Project Not Found")  # double-encoded
    assert_message(api("GET", "/projects/999"), 404, "404 Project Not Found")
    assert_grape(api("GET", f"/projects/{pid}/registry/repositories/abc/tags"), 400, "repository_id is invalid")
    assert_message(api("GET", f"/projects/{pid}/registry/repositories/{rid + 1}/tags"), 404, "404 Not found")
    assert_grape(api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/a%2Fb"), 404, "404 Not Found")  # no '/' in tag names
    other = emu.add_project("acme/other")
    assert_message(api("GET", f"/projects/{other['id']}/registry/repositories/{rid}/tags"), 404, "404 Not found")
    assert_message(api("GET", f"/registry/repositories/{rid + 99}"), 404, "404 Not found")
    assert_grape(api("GET", "/registry/repositories/abc"), 404)
    # a trailing slash is tolerated (the reference's own example is PUT /projects/:id/)
    assert api("PUT", f"/projects/{pid}/", json={"container_registry_access_level": "private"}).status_code == 200
    assert_grape(api("PUT", f"/projects/{pid}", data="{nope", headers={"Content-Type": "application/json"}), 400,
                 "message body does not match declared format")


# --------------------------------------------------------------------------- repositories

def test_list_project_repositories(emu, api):
    pid, root = seed_app(emu)
    web = emu.add_repository("acme/app", "web/frontend", created_at="2026-01-02T03:04:05.678Z", tags=["1.0"])["id"]
    resp = api("GET", f"/projects/{pid}/registry/repositories")
    assert resp.status_code == 200
    base = f"{emu.url}/api/v4/projects/{pid}/registry/repositories"
    assert resp.json() == [
        {"id": root, "name": "", "path": "acme/app", "project_id": pid, "location": "gitlab.example.com:5050/acme/app",
         "created_at": FIXED, "cleanup_policy_started_at": None, "delete_api_path": f"{base}/{root}", "status": None},
        {"id": web, "name": "web/frontend", "path": "acme/app/web/frontend", "project_id": pid,
         "location": "gitlab.example.com:5050/acme/app/web/frontend", "created_at": "2026-01-02T03:04:05.678Z",
         "cleanup_policy_started_at": None, "delete_api_path": f"{base}/{web}", "status": None}]
    full = api("GET", f"/projects/{pid}/registry/repositories", params={"tags": "true", "tags_count": "true"}).json()
    assert full[0]["tags_count"] == 3 and [t["name"] for t in full[0]["tags"]] == ["latest", "v1", "v2"]
    assert full[0]["tags"][1] == {"name": "v1", "path": "acme/app:v1", "location": "gitlab.example.com:5050/acme/app:v1"}
    assert list(full[0]) == ["id", "name", "path", "project_id", "location", "created_at", "cleanup_policy_started_at", "tags_count",
                             "tags", "delete_api_path", "status"]
    assert_grape(api("GET", f"/projects/{pid}/registry/repositories", params={"tags": "maybe"}), 400, "tags is invalid")
    emu.configure(registry_host="registry.internal:5000", registry_backing=False)
    assert api("GET", f"/projects/{pid}/registry/repositories").json()[0]["location"] == "registry.internal:5000/acme/app"
    assert api("GET", f"/projects/{pid}").json()["container_registry_image_prefix"] == "registry.internal:5000/acme/app"


def test_get_repository(emu, api):
    pid, rid = seed_app(emu)
    resp = api("GET", f"/registry/repositories/{rid}", params={"tags": "true", "tags_count": "true", "size": "true"})
    body = resp.json()
    assert body["tags_count"] == 3 and body["size"] == 400  # deduplicated: v1 and latest share a digest
    assert list(body) == ["id", "name", "path", "project_id", "location", "created_at", "cleanup_policy_started_at", "tags_count",
                          "tags", "delete_api_path", "size", "status"]
    assert "size" not in api("GET", f"/registry/repositories/{rid}").json()
    old = emu.add_repository("acme/app", "legacy", created_at="2021-11-03T23:59:59Z", tags=[{"name": "a", "total_size": 5}])["id"]
    assert api("GET", f"/registry/repositories/{old}", params={"size": "true"}).json()["size"] is None  # GitLab.com: created before 2021-11-04
    emu.configure(repository_size=False)  # self-managed: no size
    assert api("GET", f"/registry/repositories/{rid}", params={"size": "true"}).json()["size"] is None


def test_group_repositories(emu, api):
    pid, rid = seed_app(emu)
    emu.add_project("acme/sub/lib")
    emu.add_project("other/tool")
    lib = emu.add_repository("acme/sub/lib", "", tags=["1"])
    emu.add_repository("other/tool", "", tags=["1"])
    hidden = emu.add_project("acme/hidden", container_registry_access_level="disabled")
    emu.add_repository(hidden["id"], "", tags=["1"])
    group_id = emu.add_group("acme")["id"]
    for ref in ("acme", str(group_id)):
        listed = api("GET", f"/groups/{ref}/registry/repositories", params={"tags": "true", "tags_count": "true"}).json()
        assert [(r["id"], r["path"]) for r in listed] == [(rid, "acme/app"), (lib["id"], "acme/sub/lib")]
        assert all("tags" not in r and "tags_count" not in r for r in listed)  # removed in 15.0
    assert [r["path"] for r in api("GET", "/groups/acme%2Fsub/registry/repositories").json()] == ["acme/sub/lib"]
    assert api.as_(REPORTER)("GET", "/groups/acme/registry/repositories").status_code == 200
    assert_message(api("GET", "/groups/nope/registry/repositories"), 404, "404 Group Not Found")
    assert pid


def test_registry_access_level(emu, api):
    pid, _rid = seed_app(emu)
    emu.add_token("guest", access_level="guest")
    guest = api.as_("guest")
    assert guest("GET", f"/projects/{pid}/registry/repositories").status_code == 200  # enabled: everyone with project access
    api("PUT", f"/projects/{pid}", json={"container_registry_access_level": "private"})
    assert_message(guest("GET", f"/projects/{pid}/registry/repositories"), 403)
    assert api.as_(REPORTER)("GET", f"/projects/{pid}/registry/repositories").status_code == 200
    api("PUT", f"/projects/{pid}", json={"container_registry_enabled": False})
    assert api("GET", f"/projects/{pid}").json()["container_registry_access_level"] == "disabled"
    assert_message(api("GET", f"/projects/{pid}/registry/repositories"), 403)


# --------------------------------------------------------------------------- asynchronous repository delete

def test_repository_delete_by_polls(emu, api):
    pid, rid = seed_app(emu)
    resp = api("DELETE", f"/projects/{pid}/registry/repositories/{rid}")
    assert resp.status_code == 202 and resp.content == b""
    assert [j["kind"] for j in emu.dump_state()["jobs"]["pending"]] == ["delete_repository"]
    assert api("GET", f"/registry/repositories/{rid}").json()["status"] == "delete_scheduled"  # poll 1 of 3
    assert api("DELETE", f"/projects/{pid}/registry/repositories/{rid}").status_code == 202  # again: still one job
    listed = api("GET", f"/projects/{pid}/registry/repositories").json()  # poll 2: the list counts as a read
    assert [(r["id"], r["status"]) for r in listed] == [(rid, "delete_ongoing")]
    assert_message(api("GET", f"/registry/repositories/{rid}"), 404, "404 Not found")  # poll 3: gone
    assert api("GET", f"/projects/{pid}/registry/repositories").json() == []
    finished = emu.dump_state()["jobs"]["finished"]
    assert [(j["kind"], j["status"], j["deleted"]) for j in finished] == [("delete_repository", "done", ["latest", "v1", "v2"])]
    assert_message(api("DELETE", f"/projects/{pid}/registry/repositories/{rid}"), 404, "404 Not found")


def test_repository_delete_by_time(emu, api):
    delay = 0.4
    emu.configure(async_delay=delay, async_polls=None)
    pid, rid = seed_app(emu)
    sent = time.monotonic()
    assert api("DELETE", f"/projects/{pid}/registry/repositories/{rid}").status_code == 202
    answered = time.monotonic()  # the job started between `sent` and `answered`
    first = api("GET", f"/registry/repositories/{rid}")
    if time.monotonic() - sent < delay / 2:  # bounds that hold on a loaded machine too
        assert first.json()["status"] == "delete_scheduled"
    time.sleep(max(0.0, answered + delay / 2 - time.monotonic()))
    second = api("GET", f"/registry/repositories/{rid}")
    if time.monotonic() - sent < delay:
        assert second.json()["status"] == "delete_ongoing"
    time.sleep(max(0.0, answered + delay - time.monotonic()))
    assert api("GET", f"/projects/{pid}/registry/repositories").json() == []  # the timer ends it, whatever is read


def test_repository_delete_choices(emu, api):
    pid, rid = seed_app(emu)
    emu.configure(repository_delete_status=204, repository_delete_outcome="failed")
    resp = api("DELETE", f"/projects/{pid}/registry/repositories/{rid}")
    assert resp.status_code == 204 and resp.content == b""
    resp = requests.post(emu.url + "/_emulator/config", json={"complete_jobs": True}, timeout=5)
    assert resp.status_code == 200 and resp.json()["repository_delete_outcome"] == "failed"
    assert api("GET", f"/registry/repositories/{rid}").json()["status"] == "delete_failed"  # still there, tags too
    assert tags_of(api, pid, rid) == ["latest", "v1", "v2"]
    emu.configure(repository_delete_outcome="success")
    api("DELETE", f"/projects/{pid}/registry/repositories/{rid}")
    emu.complete_jobs()
    assert_message(api("GET", f"/registry/repositories/{rid}"), 404)


# --------------------------------------------------------------------------- tags: listing, details, single delete

def test_tags_offset_pagination(emu, api):
    names = [f"t{i:02d}" for i in range(25)]
    pid, rid = seed_app(emu, tags=names)
    path = f"/projects/{pid}/registry/repositories/{rid}/tags"
    resp = api("GET", path, params={"per_page": 10})
    assert [t["name"] for t in resp.json()] == names[:10]
    assert (resp.headers["X-Page"], resp.headers["X-Per-Page"], resp.headers["X-Next-Page"], resp.headers["X-Prev-Page"],
            resp.headers["X-Total"], resp.headers["X-Total-Pages"]) == ("1", "10", "2", "", "25", "3")
    assert resp.links["next"]["url"] == f"{emu.url}/api/v4{path}?page=2&per_page=10"
    assert resp.links["last"]["url"].endswith("page=3&per_page=10") and "prev" not in resp.links
    last = api("GET", path, params={"per_page": 10, "page": 3})
    assert [t["name"] for t in last.json()] == names[20:] and last.headers["X-Next-Page"] == "" and last.headers["X-Prev-Page"] == "2"
    assert "next" not in last.links and last.links["prev"]["url"].endswith("page=2&per_page=10")
    assert api("GET", path, params={"page": 9}).json() == []
    # following Link rel=next (as python-gitlab does) collects everything once
    url, seen, calls = f"{api.base}{path}?per_page=7", [], 0
    while url:
        resp = api.session.get(url, timeout=5)
        seen += [t["name"] for t in resp.json()]
        calls += 1
        url = resp.links.get("next", {}).get("url")
    assert seen == names and calls == 4
    assert len(api("GET", path).json()) == 20  # default per_page
    assert api("GET", path, params={"per_page": 1000}).headers["X-Per-Page"] == "100"  # clamped
    assert_grape(api("GET", path, params={"per_page": 0}), 400, "per_page has a value not allowed")
    assert_grape(api("GET", path, params={"per_page": -1}), 400, "per_page does not have a valid value")
    assert_grape(api("GET", path, params={"page": 0}), 400, "page does not have a valid value")
    assert_grape(api("GET", path, params={"page": "x"}), 400, "page is invalid")
    emu.configure(count_limit=10)  # above 10,000 records GitLab drops the totals and rel="last"
    big = api("GET", path, params={"per_page": 10})
    assert "X-Total" not in big.headers and "X-Total-Pages" not in big.headers and "last" not in big.links
    assert big.headers["X-Next-Page"] == "2"
    emu.configure(external_url="https://gitlab.example.com")
    assert api("GET", path, params={"per_page": 10}).links["next"]["url"].startswith("https://gitlab.example.com/api/v4/projects/")


def test_tags_keyset_pagination(emu, api):
    names = [f"v{i:02d}" for i in range(7)]
    pid, rid = seed_app(emu, tags=names)
    path = f"/projects/{pid}/registry/repositories/{rid}/tags"
    for sort, expected in (("asc", names), ("desc", list(reversed(names)))):
        params = {"pagination": "keyset", "order_by": "name", "sort": sort, "per_page": 3}
        resp = api("GET", path, params=params)
        assert "X-Total" not in resp.headers and "X-Page" not in resp.headers
        seen, calls = [t["name"] for t in resp.json()], 1
        while "next" in resp.links:
            resp = api.session.get(resp.links["next"]["url"], timeout=5)
            seen += [t["name"] for t in resp.json()]
            calls += 1
        assert seen == expected and calls == 3
    # the end of the collection: no Link, and a cursor past the end gives an empty array
    assert api("GET", path, params={"pagination": "keyset", "order_by": "name", "sort": "asc", "last": "v06"}).json() == []
    for bad in ({"order_by": "id"}, {"sort": "up"}):
        assert_grape(api("GET", path, params=dict({"pagination": "keyset", "order_by": "name", "sort": "asc"}, **bad)), 405,
                     KEYSET_UNAVAILABLE)
    assert_grape(api("GET", f"/projects/{pid}/registry/repositories", params={"pagination": "keyset"}), 405, KEYSET_UNAVAILABLE)
    emu.configure(keyset_tags=False)  # self-managed without the metadata database: offset only
    assert_grape(api("GET", path, params={"pagination": "keyset", "order_by": "name", "sort": "asc"}), 405, KEYSET_UNAVAILABLE)


def test_tag_details(emu, api):
    pid, rid = seed_app(emu)
    body = api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/v2").json()
    assert list(body) == ["name", "path", "location", "revision", "short_revision", "digest", "created_at", "total_size"]
    assert body["name"] == "v2" and body["path"] == "acme/app:v2" and body["location"] == "gitlab.example.com:5050/acme/app:v2"
    assert body["digest"] == DIGEST_B and body["created_at"] == "2026-05-10T00:00:00.000+00:00" and body["total_size"] == 300
    assert re.fullmatch(r"[0-9a-f]{64}", body["revision"]) and body["short_revision"] == body["revision"][:9]
    assert_message(api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/nope"), 404, "404 Tag Not Found")


def test_delete_tag(emu, api):
    pid, rid = seed_app(emu)
    resp = api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v1")
    assert resp.status_code == 204 and resp.content == b""  # the spec's status
    assert tags_of(api, pid, rid) == ["latest", "v2"]  # latest shared v1's digest and stays
    assert api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/latest").json()["digest"] == DIGEST_A
    assert_message(api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v1"), 404, "404 Tag Not Found")
    emu.configure(tag_delete_status=200)  # what the implementation answers
    resp = api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v2")
    assert resp.status_code == 200 and resp.content == b""


# --------------------------------------------------------------------------- bulk delete

BULK_TAGS = [
    {"name": "latest", "created_at": "2026-01-01T00:00:00Z"},
    {"name": "v1", "created_at": "2026-01-01T00:00:00Z"},
    {"name": "v10", "created_at": "2026-05-29T00:00:00Z"},
    {"name": "v2", "created_at": "2026-02-01T00:00:00Z"},
    {"name": "v3", "created_at": "2026-03-01T00:00:00Z"},
    {"name": "v4", "created_at": "2026-05-20T00:00:00Z"},
    {"name": "stable-1", "created_at": "2025-01-01T00:00:00Z"},
    {"name": "dev-abc", "created_at": "2025-06-01T00:00:00Z"},
]


@pytest.mark.parametrize("params,left", [
    ({"name_regex_delete": ".*"}, ["latest"]),
    ({"name_regex": ".*"}, ["latest"]),  # the deprecated alias
    ({"name_regex_delete": "v1"}, ["dev-abc", "latest", "stable-1", "v10", "v2", "v3", "v4"]),  # anchored: v10 stays
    ({"name_regex_delete": ".*", "name_regex_keep": "stable.*"}, ["latest", "stable-1"]),
    ({"name_regex_delete": ".*", "name_regex_keep": ".*"}, [t["name"] for t in sorted(BULK_TAGS, key=lambda t: t["name"])]),
    ({"name_regex_delete": "v.*", "keep_n": 2}, ["dev-abc", "latest", "stable-1", "v10", "v4"]),  # newest by manifest creation
    ({"name_regex_delete": ".*", "older_than": "7d"}, ["latest", "v10"]),
    ({"name_regex_delete": "v.*", "keep_n": 1, "older_than": "30d"}, ["dev-abc", "latest", "stable-1", "v10", "v4"]),
    ({"name_regex_delete": "dev-.+"}, ["latest", "stable-1", "v1", "v10", "v2", "v3", "v4"]),
])
def test_bulk_delete_semantics(emu, api, params, left):
    pid, rid = seed_app(emu, tags=BULK_TAGS)
    resp = api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags", params=params)
    assert resp.status_code == 202 and resp.content == b""
    assert len(tags_of(api, pid, rid)) == len(BULK_TAGS)  # poll 1: scheduled, nothing gone yet
    tags_of(api, pid, rid)
    assert tags_of(api, pid, rid) == left  # poll 3: done
    job = emu.dump_state()["jobs"]["finished"][-1]
    assert job["kind"] == "cleanup_tags" and job["status"] == "done"
    assert sorted(job["deleted"]) == sorted(set(t["name"] for t in BULK_TAGS) - set(left))
    assert job["kept"]["latest"] == "latest"


def test_bulk_delete_parameter_locations(emu, api):
    for index, kwargs in enumerate(({"params": {"name_regex_delete": "v.*", "keep_n": "1"}},
                                    {"data": "name_regex_delete=v.%2B&keep_n=1"},  # form body, '+' URL-encoded as the reference says
                                    {"json": {"name_regex_delete": "v.*", "keep_n": 1}})):
        repo = emu.add_repository("acme/app", f"r{index}", tags=BULK_TAGS)
        path = f"/projects/{repo['project_id']}/registry/repositories/{repo['id']}/tags"
        assert api("DELETE", path, **kwargs).status_code == 202
        emu.complete_jobs()
        assert tags_of(api, repo["project_id"], repo["id"]) == ["dev-abc", "latest", "stable-1", "v10"], kwargs


def test_bulk_delete_hourly_limit(emu, api):
    pid, rid = seed_app(emu, tags=BULK_TAGS)
    other = emu.add_repository("acme/app", "other", tags=["a", "b"])["id"]
    path = f"/projects/{pid}/registry/repositories/{rid}/tags"
    assert api("DELETE", path, params={"name_regex_delete": "v1"}).status_code == 202
    for _attempt in range(2):
        body = assert_message(api("DELETE", path, params={"name_regex_delete": "v2"}), 400, BULK_LIMIT_MESSAGE)
        assert body == {"message": BULK_LIMIT_MESSAGE}  # 400, not 429, and no Retry-After
    assert api("DELETE", f"/projects/{pid}/registry/repositories/{other}/tags", params={"name_regex_delete": "a"}).status_code == 202
    assert emu.dump_state()["leases"][str(rid)] == "2026-05-30T22:35:34.123Z"
    emu.advance_clock(3599)
    assert_message(api("DELETE", path, params={"name_regex_delete": "v2"}), 400, BULK_LIMIT_MESSAGE)
    resp = requests.post(emu.url + "/_emulator/config", json={"advance_clock": 1}, timeout=5)
    assert resp.json()["clock"] == "2026-05-30T22:35:34.123Z"
    assert api("DELETE", path, params={"name_regex_delete": "v2"}).status_code == 202
    emu.complete_jobs()
    assert "v1" not in tags_of(api, pid, rid) and "v2" not in tags_of(api, pid, rid)
    emu.configure(bulk_delete_lease_seconds=0)  # e2e runs can switch the limit off (for leases taken from now on)
    emu.advance_clock(3600)
    assert api("DELETE", path, params={"name_regex_delete": "v3"}).status_code == 202
    assert api("DELETE", path, params={"name_regex_delete": "v4"}).status_code == 202


def test_bulk_delete_validation(emu, api):
    pid, rid = seed_app(emu, tags=BULK_TAGS)
    path = f"/projects/{pid}/registry/repositories/{rid}/tags"
    assert_grape(api("DELETE", path), 400, "name_regex, name_regex_delete are missing, at least one parameter must be provided")
    assert_grape(api("DELETE", path, params={"keep_n": 1}), 400)
    body = assert_grape(api("DELETE", path, params={"name_regex_delete": "("}), 400)
    assert body["error"].startswith("name_regex_delete is an invalid regexp: ")
    assert assert_grape(api("DELETE", path, params={"name_regex_delete": ".*", "name_regex_keep": "(?!x)"}), 400)["error"].startswith(
        "name_regex_keep is an invalid regexp: ")
    assert_grape(api("DELETE", path, params={"name_regex_delete": ".*", "keep_n": "many"}), 400, "keep_n is invalid")
    assert not emu.dump_state()["leases"]  # a refused request takes no lease
    assert_message(api.as_(REPORTER)("DELETE", path, params={"name_regex_delete": ".*"}), 403)
    assert not emu.dump_state()["leases"]
    # GitLab takes any older_than string; one it cannot read fails the background job, nothing is deleted
    assert api("DELETE", path, params={"name_regex_delete": ".*", "older_than": "soon"}).status_code == 202
    emu.complete_jobs()
    job = emu.dump_state()["jobs"]["finished"][-1]
    assert job["status"] == "failed" and "older_than" in job["error"] and len(tags_of(api, pid, rid)) == len(BULK_TAGS)


def test_bulk_delete_cap_and_status_choice(emu, api):
    pid, rid = seed_app(emu, tags=BULK_TAGS)
    emu.configure(bulk_delete_limit=2, bulk_delete_status=204)  # GitLab.com deletes a bounded number per call
    resp = api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags", params={"name_regex_delete": ".*"})
    assert resp.status_code == 204
    emu.complete_jobs()
    job = emu.dump_state()["jobs"]["finished"][-1]
    assert job["deleted"] == ["dev-abc", "stable-1"] and job["kept"]["v1"] == "bulk_delete_limit"  # the oldest go first


# --------------------------------------------------------------------------- protection rules

def test_repository_rules_crud(emu, api):
    pid = emu.project_id()
    path = f"/projects/{pid}/registry/protection/repository/rules"
    assert api("GET", path).json() == []
    resp = api("POST", path, json={"repository_path_pattern": "acme/app/release-*", "minimum_access_level_for_delete": "owner"})
    assert resp.status_code == 201
    rule = resp.json()
    assert rule == {"id": rule["id"], "project_id": pid, "repository_path_pattern": "acme/app/release-*",
                    "minimum_access_level_for_push": None, "minimum_access_level_for_delete": "owner"}
    assert api("GET", path).json() == [rule]
    taken = api("POST", path, json={"repository_path_pattern": "acme/app/release-*", "minimum_access_level_for_push": "maintainer"})
    assert_message(taken, 422)
    assert taken.json() == {"message": {"error": "Repository path pattern has already been taken"}}
    outside = api("POST", path, json={"repository_path_pattern": "other/app", "minimum_access_level_for_push": "maintainer"})
    assert outside.status_code == 422 and "should start with the project's full path" in outside.json()["message"]["error"]
    bad = api("POST", path, json={"repository_path_pattern": "acme/app/a b", "minimum_access_level_for_push": "maintainer"})
    assert bad.status_code == 422 and "valid container repository path" in bad.json()["message"]["error"]
    assert_grape(api("POST", path, json={"minimum_access_level_for_push": "maintainer"}), 400, "repository_path_pattern is missing")
    assert_grape(api("POST", path, json={"repository_path_pattern": "acme/app/x"}), 400,
                 "minimum_access_level_for_push, minimum_access_level_for_delete are missing, at least one parameter must be provided")
    assert_grape(api("POST", path, json={"repository_path_pattern": "acme/app/x", "minimum_access_level_for_push": "developer"}), 400,
                 "minimum_access_level_for_push does not have a valid value")
    rpath = f"{path}/{rule['id']}"
    updated = api("PATCH", rpath, json={"minimum_access_level_for_push": "maintainer", "repository_path_pattern": "acme/app/rel-*"}).json()
    assert updated == dict(rule, repository_path_pattern="acme/app/rel-*", minimum_access_level_for_push="maintainer")
    assert api("PATCH", rpath, json={"minimum_access_level_for_delete": ""}).json()["minimum_access_level_for_delete"] is None
    both = api("PATCH", rpath, json={"minimum_access_level_for_push": ""})
    assert both.status_code == 422 and both.json()["message"]["error"] == "A rule must have at least a minimum access role for push or delete."
    assert_message(api("PATCH", f"{path}/999999", json={}), 404, "404 Not found")
    assert_grape(api("PATCH", f"{path}/x", json={}), 400, "protection_rule_id is invalid")
    assert_message(api.as_(DEVELOPER)("POST", path, json={"repository_path_pattern": "acme/app/y", "minimum_access_level_for_push": "owner"}),
                   403)
    resp = api("DELETE", rpath)
    assert resp.status_code == 204 and resp.content == b""
    assert_message(api("DELETE", rpath), 404)
    assert api("GET", path).json() == []


def test_tag_rules_crud(emu, api):
    pid = emu.project_id()
    path = f"/projects/{pid}/registry/protection/tag/rules"
    body = {"tag_name_pattern": "^v.*", "minimum_access_level_for_push": "maintainer", "minimum_access_level_for_delete": "owner"}
    resp = api("POST", path, json=body)
    assert resp.status_code == 201
    rule = resp.json()
    assert rule == dict(body, id=rule["id"], project_id=pid)
    assert_grape(api("POST", path, json={"tag_name_pattern": "x"}), 400,
                 "minimum_access_level_for_push is missing, minimum_access_level_for_delete is missing")
    invalid = api("POST", path, json=dict(body, tag_name_pattern="(unclosed"))
    assert invalid.status_code == 422 and invalid.json()["message"]["error"].startswith("Tag name pattern not valid RE2 syntax")
    assert api("POST", path, json=body).json() == {"message": {"error": "Tag name pattern has already been taken"}}
    for index in range(4):
        assert api("POST", path, json=dict(body, tag_name_pattern=f"p{index}")).status_code == 201
    full = api("POST", path, json=dict(body, tag_name_pattern="sixth"))
    assert full.status_code == 422 and "(5)" in full.json()["message"]["error"]  # 5 rules per project
    rpath = f"{path}/{rule['id']}"
    assert api("PATCH", rpath, json={"tag_name_pattern": "-stable$"}).json()["tag_name_pattern"] == "-stable$"
    half = api("PATCH", rpath, json={"minimum_access_level_for_push": ""})
    assert half.status_code == 422 and half.json()["message"]["error"] == "Access levels should either both be present or both be nil"
    assert len(api("GET", path).json()) == 5
    assert api("DELETE", rpath).status_code == 204
    assert len(api("GET", path).json()) == 4


def test_protection_effects(emu, api):
    pid, rid = seed_app(emu, tags=BULK_TAGS)
    emu.add_protection_rule("acme/app", "tag", "^v1", push="maintainer", delete="owner")
    tag_path = f"/projects/{pid}/registry/repositories/{rid}/tags"
    maintainer = api.as_(MAINTAINER)
    assert_message(maintainer("DELETE", f"{tag_path}/v1"), 403, "403 Forbidden")
    assert_message(maintainer("DELETE", f"{tag_path}/v10"), 403)  # RE2 search: ^v1 matches v10 too
    assert maintainer("DELETE", f"{tag_path}/v2").status_code == 204
    # the bulk delete leaves protected tags alone (relative to the caller's role)
    assert maintainer("DELETE", tag_path, params={"name_regex_delete": "v.*"}).status_code == 202
    emu.complete_jobs()
    job = emu.dump_state()["jobs"]["finished"][-1]
    assert sorted(job["deleted"]) == ["v3", "v4"] and job["kept"]["v1"] == "protected" and job["kept"]["v10"] == "protected"
    # an image with tags cannot be deleted while a tag rule asks more than the caller has, whatever the pattern
    assert_message(maintainer("DELETE", f"/projects/{pid}/registry/repositories/{rid}"), 403)
    assert api("DELETE", f"{tag_path}/v1").status_code == 204  # the owner may
    emu.add_protection_rule("acme/app", "tag", "^v10$", push="admin", delete="admin")
    assert_message(api("DELETE", f"{tag_path}/v10"), 403)
    assert api.as_(ADMIN)("DELETE", f"{tag_path}/v10").status_code == 204  # administrators bypass
    # an immutable rule (both levels empty; seeded, the REST API cannot create one) protects from everyone
    emu.add_protection_rule("acme/app", "tag", "^stable", push=None, delete=None)
    assert_message(api.as_(ADMIN)("DELETE", f"{tag_path}/stable-1"), 403)
    assert_message(api.as_(ADMIN)("DELETE", f"/projects/{pid}/registry/repositories/{rid}"), 403)
    # repository rules: delete protection covers the repository and its tags
    web = emu.add_repository("acme/app", "web", tags=["a", "b"])["id"]
    emu.add_protection_rule("acme/app", "repository", "acme/app/w*", push=None, delete="owner")
    web_path = f"/projects/{pid}/registry/repositories/{web}"
    emu.tag_rules.clear()
    assert_message(maintainer("DELETE", f"{web_path}/tags/a"), 403)
    assert_message(maintainer("DELETE", web_path), 403)
    assert_message(maintainer("DELETE", f"{web_path}/tags", params={"name_regex_delete": ".*"}), 403)
    assert api("DELETE", f"{web_path}/tags/a").status_code == 204


# --------------------------------------------------------------------------- project settings and the cleanup policy

def test_project_settings(emu, api):
    pid = emu.project_id()
    body = api("GET", f"/projects/{pid}").json()
    assert body["path_with_namespace"] == "acme/app" and body["name_with_namespace"] == "Acme / App"
    assert body["container_registry_access_level"] == "enabled" and body["container_registry_enabled"] is True
    assert body["container_expiration_policy"] == {"cadence": "1d", "enabled": False, "keep_n": 10, "older_than": "90d", "name_regex": ".*",
                                                   "name_regex_keep": None, "next_run_at": "2026-05-31T21:35:34.123Z"}
    assert api("GET", "/projects/acme%2Fapp").json() == body
    # permissions: the caller's membership level, as GitLab answers an authenticated user; an administrator is no member
    assert body["permissions"] == {"project_access": {"access_level": 50, "notification_level": 3}, "group_access": None}
    maintainer = Api(emu, token="emulator-gitlab-maintainer-token")("GET", f"/projects/{pid}").json()
    assert maintainer["permissions"]["project_access"]["access_level"] == 40
    admin = Api(emu, token="emulator-gitlab-admin-token")("GET", f"/projects/{pid}").json()
    assert admin["permissions"] == {"project_access": None, "group_access": None}
    resp = api("PUT", f"/projects/{pid}", json={"container_registry_access_level": "private"})
    assert resp.status_code == 200 and resp.json()["container_registry_access_level"] == "private"
    assert resp.json()["container_registry_enabled"] is True
    assert api("PUT", f"/projects/{pid}", data={"container_registry_enabled": "false"}).json()["container_registry_access_level"] == "disabled"
    assert api("PUT", f"/projects/{pid}", json={"container_registry_enabled": True}).json()["container_registry_access_level"] == "enabled"
    assert_grape(api("PUT", f"/projects/{pid}", json={"container_registry_access_level": "public"}), 400,
                 "container_registry_access_level does not have a valid value")
    assert_grape(api("PUT", f"/projects/{pid}", json={"container_registry_enabled": "perhaps"}), 400, "container_registry_enabled is invalid")
    missing = assert_grape(api("PUT", f"/projects/{pid}", json={"unknown": 1}), 400)
    assert missing["error"].endswith("are missing, at least one parameter must be provided")
    assert api("PUT", f"/projects/{pid}", json={"description": "d", "visibility": "internal"}).json()["visibility"] == "internal"


@pytest.mark.parametrize("field,values", [("cadence", ["1d", "7d", "14d", "1month", "3month"]), ("keep_n", [1, 5, 10, 25, 50, 100, None]),
                                          ("older_than", ["7d", "14d", "30d", "90d", None])])
def test_cleanup_policy_allowed_values(emu, api, field, values):
    pid = emu.project_id()
    for value in values:
        resp = api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": {field: value}})
        assert resp.status_code == 200 and resp.json()["container_expiration_policy"][field] == value


@pytest.mark.parametrize("attrs,errors", [
    ({"cadence": "2d"}, {"container_expiration_policy.cadence": ["is not included in the list"]}),
    ({"cadence": ""}, {"container_expiration_policy.cadence": ["can't be blank", "is not included in the list"]}),
    ({"keep_n": 3}, {"container_expiration_policy.keep_n": ["is not included in the list"]}),
    ({"older_than": "1d", "keep_n": 7}, {"container_expiration_policy.older_than": ["is not included in the list"],
                                         "container_expiration_policy.keep_n": ["is not included in the list"]}),
    ({"enabled": True, "name_regex": "("}, None),
])
def test_cleanup_policy_validation(emu, api, attrs, errors):
    pid = emu.project_id()
    resp = api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": attrs})
    body = assert_message(resp, 400)
    if errors is None:
        assert list(body["message"]) == ["container_expiration_policy.name_regex"]
        assert body["message"]["container_expiration_policy.name_regex"][0].startswith("not valid RE2 syntax: ")
    else:
        assert body["message"] == errors
    assert api("GET", f"/projects/{pid}").json()["container_expiration_policy"]["cadence"] == "1d"  # nothing saved


def test_cleanup_policy_update(emu, api):
    pid = emu.project_id()
    attrs = {"cadence": "7d", "enabled": True, "keep_n": 5, "older_than": "14d", "name_regex": ".*", "name_regex_keep": "^stable"}
    policy = api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": attrs}).json()["container_expiration_policy"]
    assert policy == dict(attrs, next_run_at="2026-06-06T21:35:34.123Z")  # re-saving restarts the interval
    # fields left out are left alone; form-encoded nested attributes work as with curl --data
    policy = api("PUT", f"/projects/{pid}", data={"container_expiration_policy_attributes[keep_n]": "25",
                                                  "container_expiration_policy_attributes[enabled]": "false"}).json()
    assert policy["container_expiration_policy"] == dict(attrs, keep_n=25, enabled=False, next_run_at="2026-06-06T21:35:34.123Z")
    assert_grape(api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": {"keep_n": "five"}}), 400,
                 "container_expiration_policy_attributes[keep_n] is invalid")
    assert_grape(api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": {"enabled": "sometimes"}}), 400,
                 "container_expiration_policy_attributes[enabled] is invalid")
    assert_grape(api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": "weekly"}), 400,
                 "container_expiration_policy_attributes is invalid")
    # a disabled policy may hold a regex that is not valid yet (validated only when enabled)
    assert api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": {"name_regex": "("}}).status_code == 200


def test_cleanup_policy_runs_on_the_clock(emu, api):
    pid, rid = seed_app(emu, tags=BULK_TAGS)
    emu.add_protection_rule("acme/app", "tag", "^v2$", push="owner", delete="owner")
    attrs = {"cadence": "1d", "enabled": True, "keep_n": 1, "older_than": "30d", "name_regex": "v.*|dev-.*", "name_regex_keep": ""}
    api("PUT", f"/projects/{pid}", json={"container_expiration_policy_attributes": attrs})
    emu.advance_clock(86399)
    assert len(tags_of(api, pid, rid)) == len(BULK_TAGS)
    emu.advance_clock(1)
    assert tags_of(api, pid, rid) == ["latest", "stable-1", "v10", "v2", "v4"]  # protected v2 stays whatever the caller
    repo = api("GET", f"/registry/repositories/{rid}").json()
    assert repo["cleanup_policy_started_at"] == "2026-05-31T21:35:34.123Z"
    run = emu.dump_state()["policy_runs"][-1]
    assert sorted(run["repositories"][0]["deleted"]) == ["dev-abc", "v1", "v3"] and run["repositories"][0]["kept"]["v2"] == "protected"
    assert api("GET", f"/projects/{pid}").json()["container_expiration_policy"]["next_run_at"] == "2026-06-01T21:35:34.123Z"


# --------------------------------------------------------------------------- deploy tokens

def test_project_deploy_tokens(emu, api):
    pid = emu.project_id()
    path = f"/projects/{pid}/deploy_tokens"
    resp = api("POST", path, json={"name": "ci", "scopes": ["write_registry", "read_registry"], "expires_at": "2026-12-31"})
    assert resp.status_code == 201
    created = resp.json()
    tid = created["id"]
    assert created == {"id": tid, "name": "ci", "username": f"gitlab+deploy-token-{tid}", "expires_at": "2026-12-31T00:00:00.000Z",
                       "token": created["token"], "revoked": False, "expired": False, "scopes": ["read_registry", "write_registry"]}
    assert re.fullmatch(r"gldt-[A-Za-z0-9_-]{20}", created["token"]) and emu.deploy_token_value(tid) == created["token"]
    shown = api("GET", f"{path}/{tid}").json()
    assert shown == {k: v for k, v in created.items() if k != "token"}  # the token is shown once, on create
    form = api("POST", path, data={"name": "form", "scopes[]": ["read_registry"], "username": "puller"}).json()
    assert form["scopes"] == ["read_registry"] and form["username"] == "puller" and form["expires_at"] is None
    comma = api("POST", path, data={"name": "comma", "scopes": "read_repository,read_registry"}).json()
    assert comma["scopes"] == ["read_repository", "read_registry"]
    same_name = api("POST", path, json={"name": "ci", "scopes": ["read_registry"]})
    assert same_name.status_code == 201 and same_name.json()["id"] != tid  # names are not unique
    emu.add_deploy_token("acme/app", "old", expires_at="2026-01-01T00:00:00Z")
    emu.add_deploy_token("acme/app", "revoked", revoked=True)
    listed = api("GET", path)
    assert [t["name"] for t in listed.json()] == ["ci", "form", "comma", "ci", "old", "revoked"]
    assert all("token" not in t for t in listed.json()) and listed.headers["X-Total"] == "6"
    assert [t["name"] for t in api("GET", path, params={"active": "true"}).json()] == ["ci", "form", "comma", "ci"]
    inactive = api("GET", path, params={"active": "false"}).json()
    assert [(t["name"], t["expired"], t["revoked"]) for t in inactive] == [("old", True, False), ("revoked", False, True)]
    assert [t["name"] for t in api("GET", path, params={"per_page": 2, "page": 3}).json()] == ["old", "revoked"]
    resp = api("DELETE", f"{path}/{tid}")
    assert resp.status_code == 204 and resp.content == b""
    assert_message(api("GET", f"{path}/{tid}"), 404, "404 Not found")
    assert_message(api("DELETE", f"{path}/{tid}"), 404)
    for verb in ("PUT", "PATCH"):  # no update: a changed scope or expiry means delete + create
        assert_grape(api(verb, f"{path}/{form['id']}", json={"scopes": ["write_registry"]}), 404, "404 Not Found")


@pytest.mark.parametrize("body,status,key,message", [
    ({"scopes": ["read_registry"]}, 400, "error", "name is missing"),
    ({}, 400, "error", "name is missing, scopes is missing"),
    ({"name": "x", "scopes": ["api"]}, 400, "error", "scopes does not have a valid value"),
    ({"name": "x", "scopes": "read_registry", "expires_at": "someday"}, 400, "error", "expires_at is invalid"),
    ({"name": "x", "scopes": []}, 400, "message", "Scopes can't be blank"),
    ({"name": " ", "scopes": ["read_registry"]}, 400, "message", "Name can't be blank"),
    ({"name": "x", "scopes": ["read_registry"], "username": "bad name!"}, 400, "message",
     "Username can contain only letters, digits, '_', '-', '+', and '.'"),
])
def test_deploy_token_validation(emu, api, body, status, key, message):
    resp = api("POST", f"/projects/{emu.project_id()}/deploy_tokens", json=body)
    assert resp.status_code == status and resp.json() == {key: message}


def test_group_and_instance_deploy_tokens(emu, api):
    group = emu.add_group("acme")
    path = "/groups/acme/deploy_tokens"
    created = api("POST", path, json={"name": "group-pull", "scopes": ["read_registry"]})
    assert created.status_code == 201 and "token" in created.json()
    assert_message(api.as_(MAINTAINER)("POST", path, json={"name": "x", "scopes": ["read_registry"]}), 403)  # Owner only
    assert api.as_(MAINTAINER)("GET", path).status_code == 200
    assert_message(api.as_(MAINTAINER)("DELETE", f"{path}/{created.json()['id']}"), 403)
    assert_message(api.as_(DEVELOPER)("GET", path), 403)
    api("POST", f"/projects/{emu.project_id()}/deploy_tokens", json={"name": "project-pull", "scopes": ["read_registry"]})
    assert [t["name"] for t in api("GET", f"/groups/{group['id']}/deploy_tokens").json()] == ["group-pull"]
    assert [t["name"] for t in api("GET", f"/projects/{emu.project_id()}/deploy_tokens").json()] == ["project-pull"]
    assert_message(api("GET", f"/projects/{emu.project_id()}/deploy_tokens/{created.json()['id']}"), 404)  # not the project's
    assert_message(api("GET", "/deploy_tokens"), 403)  # administrators only
    assert [t["name"] for t in api.as_(ADMIN)("GET", "/deploy_tokens").json()] == ["group-pull", "project-pull"]
    assert api("DELETE", f"{path}/{created.json()['id']}").status_code == 204
    assert_message(api("GET", "/groups/nope/deploy_tokens"), 404, "404 Group Not Found")


# --------------------------------------------------------------------------- faults, rate limits, control surface

def test_rate_limit_fault_is_plain_text(emu, api):
    emu.rate_limit(times=1, retry_after="3")
    resp = api("GET", f"/projects/{emu.project_id()}")
    assert resp.status_code == 429 and resp.text == "Retry later\n"
    assert resp.headers["Content-Type"].startswith("text/plain") and resp.headers["Retry-After"] == "3"
    assert resp.headers["RateLimit-Name"] == "throttle_authenticated_api" and resp.headers["RateLimit-Remaining"] == "0"
    assert "RateLimit-ResetTime" in resp.headers
    assert api("GET", f"/projects/{emu.project_id()}").status_code == 200
    assert emu.log.records[-2].fault == "rate_limit" and emu.log.records[-2].status == 429


def test_builtin_throttle(emu, api):
    emu.configure(rate_limit=3, rate_limit_period=3600)
    pid = emu.project_id()
    first = api("GET", f"/projects/{pid}")
    assert first.headers["RateLimit-Limit"] == "3" and first.headers["RateLimit-Name"] == "throttle_authenticated_api"
    assert int(first.headers["RateLimit-Remaining"]) <= 2 and int(first.headers["RateLimit-Reset"]) > time.time()
    statuses = [api("GET", f"/projects/{pid}").status_code for _unused in range(4)]
    assert statuses[-1] == 429 and 200 in statuses
    limited = api("GET", f"/projects/{pid}")
    assert limited.text == "Retry later\n" and 1 <= int(limited.headers["Retry-After"]) <= 3600
    assert api.as_(MAINTAINER)("GET", f"/projects/{pid}").status_code == 200  # counted per token


@pytest.mark.parametrize("status,message", [(500, "500 Internal Server Error"), (502, "502 Bad Gateway"), (503, "503 Service Unavailable")])
def test_server_error_faults(emu, api, status, message):
    emu.server_error(status=status)
    assert_message(api("GET", f"/projects/{emu.project_id()}"), status, message)


def test_other_faults(emu, api):
    emu.server_error(status=502, body="<html>502 Bad Gateway</html>")
    resp = api("GET", "/projects/1001")
    assert resp.status_code == 502 and resp.text.startswith("<html>")
    emu.reset_connection(times=1, method="DELETE")
    pid, rid = seed_app(emu)
    with pytest.raises(requests.ConnectionError):
        api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags/v1")
    assert tags_of(api, pid, rid) == ["latest", "v1", "v2"]  # the request never reached the handler
    emu.latency(0.15, times=1)
    start = time.monotonic()
    assert api("GET", f"/projects/{pid}").status_code == 200
    assert time.monotonic() - start >= 0.15
    emu.error(409, times=1, message="409 Conflict - Resource lock")
    assert_message(api("GET", f"/projects/{pid}"), 409, "409 Conflict - Resource lock")


def test_control_endpoints(emu, api):
    control = emu.url + "/_emulator"
    doc = {"groups": [{"path": "corp", "name": "Corp", "deploy_tokens": [{"name": "g", "scopes": ["read_registry"], "token": "gldt-fixed"}]}],
           "projects": [{"path": "corp/platform/api", "id": 4242, "container_registry_access_level": "private",
                         "container_expiration_policy": {"enabled": True, "cadence": "7d", "keep_n": 5},
                         "repositories": [{"name": "", "tags": ["latest", {"name": "v1", "digest": DIGEST_C, "total_size": 7}]},
                                          {"name": "worker", "created_at": "2025-01-01T00:00:00Z", "tags": ["1.0"]}],
                         "deploy_tokens": [{"name": "pull", "scopes": ["read_registry"], "expires_at": "2027-01-01T00:00:00Z"}],
                         "repository_protection_rules": [{"repository_path_pattern": "corp/platform/api/*",
                                                          "minimum_access_level_for_delete": "admin"}],
                         "tag_protection_rules": [{"tag_name_pattern": "^v", "minimum_access_level_for_push": "maintainer",
                                                   "minimum_access_level_for_delete": "maintainer"}],
                         "job_tokens": ["ci-job-api"]}]}
    resp = requests.post(control + "/seed", json=doc, timeout=5)
    assert resp.status_code == 201
    seeded = resp.json()
    assert seeded["groups"][0]["full_path"] == "corp" and seeded["groups"][0]["deploy_tokens"][0]["token"] == "gldt-fixed"
    project = seeded["projects"][0]
    assert project["id"] == 4242 and project["path_with_namespace"] == "corp/platform/api"
    assert [r["name"] for r in project["repositories"]] == ["", "worker"] and project["repositories"][0]["tags_count"] == 2
    assert re.fullmatch(r"gldt-.{20}", project["deploy_tokens"][0]["token"])
    assert api.as_("ci-job-api", "JOB-TOKEN")("GET", "/projects/4242/registry/repositories").status_code == 200
    state = requests.get(control + "/state", timeout=5).json()
    api_state = next(p for p in state["projects"] if p["id"] == 4242)
    assert api_state["container_expiration_policy"]["keep_n"] == 5 and api_state["tag_protection_rules"][0]["tag_name_pattern"] == "^v"
    assert api_state["repositories"][0]["tags"][1]["digest"] == DIGEST_C and api_state["job_tokens"] == ["ci-job-api"]
    assert state["clock"] == FIXED and state["backed"] is False
    bad = requests.post(control + "/seed", json={"projects": [{"path": "corp/x", "container_expiration_policy": {"cadence": "2d"}}]}, timeout=5)
    assert bad.status_code == 400 and "cadence" in bad.json()["error"]
    assert requests.post(control + "/seed", json={"projects": [{"path": "nogroup"}]}, timeout=5).status_code == 400
    # config: read, change, refuse unknown keys and bad values
    config = requests.get(control + "/config", timeout=5).json()
    assert config["tag_delete_status"] == 204 and config["repository_delete_status"] == 202 and config["async_polls"] == 3
    assert any(t["token"] == TOKEN for t in config["tokens"])
    for body in ({"bogus": 1}, {"tag_delete_status": 201}, {"async_polls": 0}, {"clock": "yesterday"}, {"tokens": [{"token": ""}]},
                 {"registry_host": "a/b"}, {"rate_limit": -1}, {"advance_clock": "1h"}, {"job_tokens": [{"token": "x"}]},
                 {"backend_credentials": {"username": "u"}}, {"repository_delete_outcome": "maybe"}):
        assert requests.post(control + "/config", json=body, timeout=5).status_code == 400, body
    # log (credentials masked), faults, reset
    api("GET", "/projects/4242")
    log = requests.get(control + "/log", timeout=5).json()
    assert log[-1]["headers"]["PRIVATE-TOKEN"] == "***" and log[-1]["route"] == "/api/v4/projects/{id:enc}"
    assert requests.post(control + "/faults", json={"kind": "rate_limit", "times": 2, "retry_after": "1"}, timeout=5).status_code == 201
    assert [f["kind"] for f in requests.get(control + "/faults", timeout=5).json()] == ["rate_limit"]
    assert api("GET", "/projects/4242").text == "Retry later\n"
    assert requests.delete(control + "/faults", timeout=5).status_code == 204
    assert requests.post(control + "/reset", timeout=5).status_code == 204
    assert_message(api("GET", "/projects/4242"), 404)
    assert emu.settings()["async_polls"] == 3  # reset keeps the settings
    assert api("GET", f"/projects/{emu.project_id()}").status_code == 200  # and recreates the default project
    emu.configure(default_project=False)
    emu.reset()
    assert emu.dump_state()["projects"] == []


def test_seed_helpers(emu, api):
    pid, rid = seed_app(emu)
    moved = emu.add_tag("acme/app", rid, "v1", digest=DIGEST_C, created_at="2026-05-20T00:00:00Z", total_size=9)
    assert moved["digest"] == DIGEST_C and moved["created_at"] == "2026-05-20T00:00:00.000+00:00"
    assert emu.tag_names(rid) == ["latest", "v1", "v2"] and emu.repository_id("acme/app", "") == rid
    emu.add_tag("acme/app", "fresh", "1.0")  # a repository named in add_tag is created
    assert emu.tag_names(emu.repository_id("acme/app", "fresh")) == ["1.0"]
    assert emu.project_paths() == [(pid, "acme/app")]
    for call in (lambda: emu.add_repository("nope/x"), lambda: emu.add_tag("acme/app", rid, "bad/name"),
                 lambda: emu.add_protection_rule("acme/app", "repository", "elsewhere/x"), lambda: emu.add_project("toplevel")):
        with pytest.raises(ValueError):
            call()


def test_request_log(emu, api):
    pid, rid = seed_app(emu)
    api("DELETE", f"/projects/{pid}/registry/repositories/{rid}/tags", params={"name_regex_delete": "v.*", "keep_n": "1"})
    api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags")
    record = emu.log.filter(method="DELETE")[0]
    assert record.query == {"name_regex_delete": "v.*", "keep_n": "1"} and record.status == 202
    assert record.params == {"id": str(pid), "repository_id": str(rid)}
    assert [r.method for r in emu.log.mutating()] == ["DELETE"] and emu.log.last().status == 200


# --------------------------------------------------------------------------- standalone runner

def test_standalone_runner(tmp_path):
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"projects": [{"path": "demo/web", "repositories": [{"name": "", "tags": ["latest"]}]}]}),
                         encoding="utf-8")
    cmd = [sys.executable, "-m", "tests.emulators.gitlab", "--port", "0", "--seed", str(seed_file), "--async-polls", "2",
           "--rate-limit", "100", "--token", "extra-token=developer"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert "gitlab emulator listening on http://127.0.0.1:" in first, first + proc.stderr.read()
            url = first.split()[-1]
            lines = []
            while not lines or not lines[-1].startswith("control endpoints:"):
                lines.append(proc.stdout.readline())
            text = "".join(lines)
            assert f"playbooks: provider: gitlab, api_url: {url}, api_token: {TOKEN}" in text
            assert f"API base: {url}/api/v4" in text and "demo/web" in text and DEFAULT_JOB_TOKEN in text and "extra-token (developer)" in text
            repos = requests.get(f"{url}/api/v4/projects/demo%2Fweb/registry/repositories", headers={"PRIVATE-TOKEN": "extra-token"},
                                 timeout=5).json()
            assert [r["path"] for r in repos] == ["demo/web"]
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
def gitlab_registry(server):
    """A real distribution registry (delete enabled) that authenticates GitLab credentials through the emulator's /jwt/auth."""
    reg = local_registry(server).start()  # a missing docker-registry fails: `make deps` installs it
    yield reg
    reg.stop()


@pytest.fixture
def backed(emu, gitlab_registry):
    """The emulator backed by that registry (logging in with an admin token), with a fresh project;
    ``(emu, api, seed client, project path)``."""
    emu.configure(registry_host=gitlab_registry.host, backend_credentials={"username": "root", "password": ADMIN})
    path = "g" + uuid.uuid4().hex[:8] + "/app"
    emu.add_project(path)
    yield emu, Api(emu), SeedClient.for_registry(gitlab_registry), path
    emu.configure(registry_host=None, backend_credentials=None)


def jwt_access(emu, user, password, *scopes):
    """Ask /jwt/auth for ``scopes``; returns ``(status, {name: actions})`` from the token's claims."""
    resp = requests.get(emu.url + "/jwt/auth", params=[("service", "container_registry")] + [("scope", s) for s in scopes],
                        auth=(user, password) if user is not None else None, timeout=5)
    if resp.status_code != 200:
        return resp.status_code, resp.json()
    payload = resp.json()["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == "container_registry" and claims["iss"] == "gitlab-issuer"
    return 200, {entry["name"]: entry["actions"] for entry in claims["access"]}


def test_jwt_auth_grants(emu):
    emu.add_project("other/tool")
    emu.add_project("acme/sub/lib")
    repo, other = "repository:acme/app/web:pull,push,delete", "repository:other/tool:pull,push,delete"
    assert jwt_access(emu, "root", ADMIN, "registry:catalog:*", repo) == (200, {"catalog": ["*"], "acme/app/web": ["pull", "push", "delete"]})
    assert jwt_access(emu, "owner", TOKEN, "registry:catalog:*", repo) == (200, {"catalog": [], "acme/app/web": ["pull", "push", "delete"]})
    assert jwt_access(emu, "x", DEVELOPER, repo)[1] == {"acme/app/web": ["pull", "push", "delete"]}
    assert jwt_access(emu, "x", REPORTER, repo)[1] == {"acme/app/web": ["pull"]}
    assert jwt_access(emu, "x", READ_API, repo)[1] == {"acme/app/web": ["pull"]}
    assert jwt_access(emu, "x", REGISTRY_ONLY, repo)[1] == {"acme/app/web": ["pull", "push", "delete"]}
    assert jwt_access(emu, "x", DEVELOPER, "repository:nowhere/x:pull")[1] == {"nowhere/x": []}
    # CI: gitlab-ci-token + the job token, its own project only (the seed's regctl login)
    assert jwt_access(emu, "gitlab-ci-token", DEFAULT_JOB_TOKEN, repo, other)[1] == {"acme/app/web": ["pull", "push", "delete"], "other/tool": []}
    assert jwt_access(emu, "anyone", DEFAULT_JOB_TOKEN, repo)[0] == 401
    # deploy tokens: read_registry pulls, write_registry pushes, nothing deletes; a group token covers the group's projects
    reader = emu.add_deploy_token("acme/app", "pull", ["read_registry"])
    writer = emu.add_deploy_token("acme/app", "push", ["write_registry"], username="pusher")
    group_token = emu.add_deploy_token("acme", "group", ["read_registry", "write_registry"], kind="group")
    assert jwt_access(emu, reader["username"], reader["token"], repo, other)[1] == {"acme/app/web": ["pull"], "other/tool": []}
    assert jwt_access(emu, "pusher", writer["token"], repo)[1] == {"acme/app/web": ["push"]}
    assert jwt_access(emu, group_token["username"], group_token["token"], "repository:acme/sub/lib:pull,push,delete")[1] == {
        "acme/sub/lib": ["pull", "push"]}
    assert jwt_access(emu, "someone-else", reader["token"], repo)[0] == 401  # a deploy token logs in with its own username
    expired = emu.add_deploy_token("acme/app", "old", ["read_registry"], expires_at="2026-01-01T00:00:00Z")
    status, body = jwt_access(emu, expired["username"], expired["token"], repo)
    assert status == 401 and body["errors"][0]["code"] == "UNAUTHORIZED"
    # anonymous: a token with nothing in it; bad credentials: 401; another service: 404
    assert jwt_access(emu, None, None, repo) == (200, {"acme/app/web": []})
    assert jwt_access(emu, "root", "wrong", repo)[0] == 401
    assert requests.get(emu.url + "/jwt/auth", params={"service": "other"}, timeout=5).status_code == 404
    # repository protection takes push/delete away below its level; administrators keep them
    emu.add_protection_rule("acme/app", "repository", "acme/app/web", push="maintainer", delete="owner")
    assert jwt_access(emu, "x", DEVELOPER, repo)[1] == {"acme/app/web": ["pull"]}
    assert jwt_access(emu, "x", MAINTAINER, repo)[1] == {"acme/app/web": ["pull", "push"]}
    assert jwt_access(emu, "root", ADMIN, repo)[1] == {"acme/app/web": ["pull", "push", "delete"]}
    api = Api(emu)
    api("PUT", f"/projects/{emu.project_id()}", json={"container_registry_access_level": "disabled"})
    assert jwt_access(emu, "root", ADMIN, repo)[1] == {"acme/app/web": []}
    assert [e["kind"] for e in emu.jwt_issued][:3] == ["personal", "personal", "personal"]


def test_registry_logins_through_gitlab(emu, gitlab_registry):
    path, other = "l" + uuid.uuid4().hex[:8] + "/app", "l" + uuid.uuid4().hex[:8] + "/tool"
    emu.add_project(path)
    emu.add_project(other)
    job_token = emu.add_job_token(path)
    admin = SeedClient.for_registry(gitlab_registry)
    digest = admin.push_image(path, ["v1", "v2"])
    admin.push_image(other, ["x"])
    reader = emu.add_deploy_token(path, "pull", ["read_registry"])
    pull = SeedClient(gitlab_registry.url, reader["username"], reader["token"])
    assert pull.resolve(path, "v1") == digest
    with pytest.raises(SeedError):
        pull.push_image(path, ["nope"])
    # the seed's CI job: log in as gitlab-ci-token with the job token and remove the branch's tag
    ci = SeedClient(gitlab_registry.url, "gitlab-ci-token", job_token)
    ci.push_image(path, ["branch-x"])
    throwaway = ci.push_image(path, ["branch-x"])  # regctl tag rm: point the tag at a throwaway manifest, delete that
    ci.delete_manifest(path, throwaway)
    assert admin.tags(path) == ["v1", "v2"]
    with pytest.raises(SeedError):
        ci.tags(other)  # another project
    with pytest.raises(SeedError):
        SeedClient(gitlab_registry.url, "root", "wrong-token").tags(path)


def test_backed_repositories_and_tags(backed, gitlab_registry):
    emu, api, seed, path = backed
    v1 = seed.push_image(path, ["v1", "latest"], created="2026-01-01T00:00:00Z")
    v2 = seed.push_image(path, ["v2"], created="2026-02-01T00:00:00Z", media="docker")
    web = seed.push_image(f"{path}/web", ["1.0"], created="2026-03-01T00:00:00Z")
    emu.add_project(f"{path}x")
    seed.push_image(f"{path}x/app", ["other"])  # another project whose path starts the same: not listed
    pid = emu.project_id(path)
    repos = api("GET", f"/projects/{project_path_param(path)}/registry/repositories", params={"tags_count": "true"}).json()
    assert [(r["name"], r["path"], r["location"], r["tags_count"]) for r in repos] == [
        ("", path, f"{gitlab_registry.host}/{path}", 3), ("web", f"{path}/web", f"{gitlab_registry.host}/{path}/web", 1)]
    rid = repos[0]["id"]
    assert emu.repository_id(path, "") == rid and api("GET", f"/projects/{pid}").json()["container_registry_image_prefix"] == \
        f"{gitlab_registry.host}/{path}"
    details = api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/v1").json()
    manifest = json.loads(seed.get_manifest(path, v1)[1])
    assert details["digest"] == v1 and details["revision"] == manifest["config"]["digest"].split(":")[1]
    assert details["created_at"] == "2026-01-01T00:00:00.000+00:00"
    assert details["total_size"] == manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    assert api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/v2").json()["digest"] == v2
    size = api("GET", f"/registry/repositories/{rid}", params={"size": "true"}).json()["size"]
    assert size == details["total_size"] + api("GET", f"/projects/{pid}/registry/repositories/{rid}/tags/v2").json()["total_size"]
    assert repos[1]["id"] and web


def test_backed_deletes_go_to_the_registry(backed, gitlab_registry):
    emu, api, seed, path = backed
    v1 = seed.push_image(path, ["v1", "v1.0", "latest"], created="2026-01-01T00:00:00Z")
    seed.push_image(path, ["v2"], created="2026-02-01T00:00:00Z")
    seed.push_image(path, ["v3"], created="2026-03-01T00:00:00Z")
    pid, rid = emu.project_id(path), emu.repository_id(path, "")
    tag_path = f"/projects/{pid}/registry/repositories/{rid}/tags"
    mark = gitlab_registry.mark()
    assert api("GET", tag_path).status_code == 200
    assert gitlab_registry.mutations_since(mark) == []  # reads never write
    # one tag goes, its digest's other tags stay (GitLab's way with a registry without tag delete)
    assert api("DELETE", f"{tag_path}/v1").status_code == 204
    assert seed.tag_map(path) == {"latest": v1, "v1.0": v1, "v2": seed.resolve(path, "v2"), "v3": seed.resolve(path, "v3")}
    # bulk delete by manifest creation time, on the registry
    assert api("DELETE", tag_path, params={"name_regex_delete": "v.*", "keep_n": "1"}).status_code == 202
    emu.complete_jobs()
    assert seed.tags(path) == ["latest", "v3"]
    # repository delete removes every manifest
    assert api("DELETE", f"/projects/{pid}/registry/repositories/{rid}").status_code == 202
    emu.complete_jobs()
    assert seed.tags(path) == [] and not seed.manifest_exists(path, v1)
    assert api("GET", f"/projects/{pid}/registry/repositories").json() == []


def test_backed_registry_unreachable(emu, api):
    emu.configure(registry_host="127.0.0.1:9", backend_credentials={"username": "u", "password": "p"})
    try:
        body = assert_message(api("GET", f"/projects/{emu.project_id()}/registry/repositories"), 503)
        assert body["message"].startswith("503 Service Unavailable - container registry unavailable")
        assert emu.settings()["backed"] is True
    finally:
        emu.configure(registry_host=None, backend_credentials=None)
