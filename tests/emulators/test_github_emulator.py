"""Tests of the GitHub emulator (packages, artifact metadata, attestations, the ghcr.io front), over real HTTP."""
# pylint: disable=redefined-outer-name,missing-function-docstring,too-few-public-methods

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

from tests.emulators.github import (DEFAULT_INSTALLATION_TOKEN, DEFAULT_TOKEN, LAST_TAGGED_MESSAGE, LAST_VERSION_MESSAGE,
                                    OCI_SCOPE_MESSAGE, OCI_UNSUPPORTED_MESSAGE, PER_PAGE_CAP_MESSAGE, GitHubEmulator, decode_cursor,
                                    encode_cursor, ghcr_backend, package_path_name)
from tests.support.seed import MANIFEST_ACCEPT, OCI_INDEX, SeedClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXED = datetime(2026, 5, 30, 12, 0, 0, tzinfo=timezone.utc)
DAY = 86400
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used", "x-ratelimit-resource")
DEFAULTS = {"user": "octocat", "default_org": True, "default_token_kind": "pat", "api_versions": ["2022-11-28", "2026-03-10"],
            "default_api_version": "2022-11-28", "deprecated_versions": {}, "unsupported_version_status": 410, "rate_limit": 5000,
            "rate_limit_window": 3600, "primary_limit_status": 403, "secondary_rate_limit": None, "error_message_shape": "string",
            "storage_record_path": "singular", "default_per_page": 30, "max_per_page": 100, "max_results": 10000,
            "restore_window_days": 30, "last_version_rule": "last", "download_limit": 5000, "attestation_delete_status": 200,
            "job_polls": 2, "deployment_record_extras": False, "external_url": None, "registry_backend": None,
            "tokens": [{"token": DEFAULT_TOKEN, "kind": "pat"}, {"token": DEFAULT_INSTALLATION_TOKEN, "kind": "installation"},
                       {"token": "narrow-token", "kind": "pat", "scopes": ["read:packages"]},
                       {"token": "hubot-token", "kind": "pat", "user": "hubot"}]}


@pytest.fixture(scope="module")
def server():
    with GitHubEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server):
    """A clean emulator with default settings and a pinned clock."""
    server.configure(**DEFAULTS, clock=FIXED.isoformat())
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def api(emu):
    return Api(emu)


class Api:
    """Tiny client: ``api(method, path, token=..., **requests kwargs)``."""

    def __init__(self, emu):
        self.emu = emu
        self.session = requests.Session()

    def __call__(self, method, path, token=DEFAULT_TOKEN, **kwargs):
        scheme = kwargs.pop("scheme", "Bearer")
        headers = kwargs.pop("headers", None)
        hdrs = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token is not None:
            hdrs["Authorization"] = f"{scheme} {token}"
        hdrs.update(headers or {})
        return self.session.request(method, self.emu.url + path, headers=hdrs, timeout=10, **kwargs)


def assert_error(resp, status, message=None):
    """GitHub's ``basic-error``: ``message``, ``documentation_url``, ``status`` (a string)."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"message", "documentation_url", "status"} and body["status"] == str(status), body
    assert body["documentation_url"].startswith("https://docs.github.com/")
    if message is not None:
        assert message in body["message"], body
    return body


def seed_app(emu, owner="acme", kind="org", versions=3):
    """Package ``app`` with ``versions`` versions; tags latest (newest), v1, v2 ..."""
    specs = [{"name": f"sha256:{str(i) * 64}", "tags": [f"v{i}"], "created_at": f"2026-05-0{i}T00:00:00Z"} for i in range(1, versions + 1)]
    specs[-1]["tags"].append("latest")
    emu.add_package(kind, owner, "app", versions=specs, repository="app")
    return emu.package_version_ids(kind, owner, "app")


# --------------------------------------------------------------------------- helpers

def test_cursor_and_names():
    assert decode_cursor(encode_cursor(40)) == 40
    for bad in ("!!", "eHl6", encode_cursor(3)[:-2] + "zz"):
        with pytest.raises(ValueError):
            decode_cursor(bad)
    assert package_path_name("team/app") == "team%2Fapp"
    assert GitHubEmulator(clock="2026-01-01T00:00:00Z").now() == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert GitHubEmulator(clock=FIXED).now() == FIXED and GitHubEmulator(clock=lambda: FIXED).now() == FIXED


# --------------------------------------------------------------------------- auth, versions, errors

def test_auth(emu, api):
    assert_error(api("GET", "/orgs/acme/packages?package_type=container", token=None), 401, "Requires authentication")
    assert_error(api("GET", "/orgs/acme/packages?package_type=container", token="wrong"), 401, "Bad credentials")
    assert_error(api("GET", "/orgs/acme/packages?package_type=container", scheme="Basic"), 401, "Bad credentials")
    for scheme in ("Bearer", "token", "bearer"):
        resp = api("GET", "/orgs/acme/packages?package_type=container", scheme=scheme)
        assert resp.status_code == 200 and resp.json() == []
        assert resp.headers["X-OAuth-Scopes"] == "read:packages, write:packages, delete:packages"
    assert emu.log.last().headers["Authorization"] == "bearer ***"


def test_installation_token_refused_by_packages_only(emu, api):
    seed_app(emu)
    emu.add_attestation("org", "acme", D1)
    for path in ("/orgs/acme/packages?package_type=container", "/orgs/acme/packages/container/app", "/user/packages?package_type=container"):
        assert_error(api("GET", path, token=DEFAULT_INSTALLATION_TOKEN), 403, "Resource not accessible by integration")
    assert api("GET", f"/orgs/acme/attestations/{D1}", token=DEFAULT_INSTALLATION_TOKEN).status_code == 200
    body = {"name": "app", "digest": D1, "registry_url": "https://ghcr.io"}
    assert api("POST", "/orgs/acme/artifacts/metadata/storage-record", token=DEFAULT_INSTALLATION_TOKEN, json=body).status_code == 200
    emu.configure(default_token_kind="installation")  # the switch: the default token becomes an installation token
    assert_error(api("GET", "/orgs/acme/packages/container/app"), 403, "integration")
    assert "X-OAuth-Scopes" not in api("GET", f"/orgs/acme/attestations/{D1}").headers


def test_classic_scopes(emu, api):
    ids = seed_app(emu)
    assert api("GET", "/orgs/acme/packages/container/app", token="narrow-token").status_code == 200
    resp = api("DELETE", f"/orgs/acme/packages/container/app/versions/{ids[0]}", token="narrow-token")
    assert_error(resp, 403, "delete:packages")
    assert resp.headers["X-Accepted-OAuth-Scopes"] == "read:packages, delete:packages"
    assert_error(api("POST", f"/orgs/acme/packages/container/app/versions/{ids[0]}/restore", token="narrow-token"), 403, "write:packages")


def test_api_versions(emu, api):
    path = "/orgs/acme/packages?package_type=container"
    assert api("GET", path).headers["X-GitHub-Api-Version-Selected"] == "2022-11-28"
    assert api("GET", path, headers={"X-GitHub-Api-Version": "2026-03-10"}).headers["X-GitHub-Api-Version-Selected"] == "2026-03-10"
    no_header = requests.get(emu.url + path, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5)
    assert no_header.status_code == 200 and no_header.headers["X-GitHub-Api-Version-Selected"] == "2022-11-28"
    assert_error(api("GET", path, headers={"X-GitHub-Api-Version": "2019-01-01"}), 410, "2019-01-01")
    emu.configure(unsupported_version_status=400, deprecated_versions={"2022-11-28": "Sun, 01 Mar 2027 00:00:00 GMT"})
    assert_error(api("GET", path, headers={"X-GitHub-Api-Version": "1.0"}), 400)
    resp = api("GET", path)
    assert resp.headers["Deprecation"] == "true" and resp.headers["Sunset"] == "Sun, 01 Mar 2027 00:00:00 GMT"


def test_error_shapes_and_routing(emu, api):
    body = assert_error(api("GET", "/orgs/nope/packages?package_type=container"), 404, "Not Found")
    assert body["message"] == "Not Found"
    assert_error(api("GET", "/no/such/path"), 404)
    assert api("PUT", "/orgs/acme/packages/container/app").status_code == 405
    bad_json = api("POST", "/orgs/acme/artifacts/metadata/storage-record", data="{nope", headers={"Content-Type": "application/json"})
    assert_error(bad_json, 400, "Problems parsing JSON")
    emu.configure(error_message_shape="object")
    resp = api("GET", "/orgs/nope/packages?package_type=container")
    assert resp.status_code == 404 and resp.json()["message"] == {"cause": "Not Found", "repositories": []}
    assert api("GET", "/orgs/ACME/packages?package_type=container").status_code == 200  # org names are case-insensitive


# --------------------------------------------------------------------------- rate limits and faults

def test_primary_rate_limit_headers(emu, api):
    emu.configure(rate_limit=3)
    first = api("GET", "/orgs/acme/packages?package_type=container")
    assert all(h in first.headers for h in RATE_HEADERS)
    assert first.headers["x-ratelimit-limit"] == "3" and first.headers["x-ratelimit-remaining"] == "2"
    assert first.headers["x-ratelimit-used"] == "1" and first.headers["x-ratelimit-resource"] == "core"
    assert int(first.headers["x-ratelimit-reset"]) == int(FIXED.timestamp()) + 3600
    api("GET", "/orgs/acme/packages?package_type=container")
    assert api("GET", "/orgs/acme/packages?package_type=container", token="narrow-token").headers["x-ratelimit-used"] == "1"  # per token
    assert api("GET", "/orgs/acme/packages?package_type=container").headers["x-ratelimit-remaining"] == "0"
    limited = api("GET", "/orgs/acme/packages?package_type=container")
    assert_error(limited, 403, "API rate limit exceeded")
    assert limited.headers["x-ratelimit-remaining"] == "0" and "Retry-After" not in limited.headers
    emu.configure(primary_limit_status=429)
    assert api("GET", "/orgs/acme/packages?package_type=container").status_code == 429
    emu.advance_clock(3600)
    again = api("GET", "/orgs/acme/packages?package_type=container")
    assert again.status_code == 200 and again.headers["x-ratelimit-remaining"] == "2"
    emu.configure(rate_limit=0)
    assert "x-ratelimit-limit" not in api("GET", "/orgs/acme/packages?package_type=container").headers


def test_secondary_rate_limit(emu, api):
    path = "/orgs/acme/packages?package_type=container"
    emu.secondary_rate_limit(times=2, status=403, retry_after=60)
    for _unused in range(2):
        resp = api("GET", path)
        assert_error(resp, 403, "secondary rate limit")
        assert resp.headers["Retry-After"] == "60" and resp.headers["x-ratelimit-remaining"] == "5000"
    assert api("GET", path).status_code == 200
    assert requests.post(emu.url + "/_emulator/config", json={"secondary_rate_limit": {"status": 429, "retry_after": None}},
                         timeout=5).json()["secondary_rate_limit"]["status"] == 429
    resp = api("GET", path)
    assert_error(resp, 429, "secondary rate limit")
    assert "Retry-After" not in resp.headers
    emu.secondary_rate_limit(times=None, status=429, retry_after=5)
    assert [api("GET", path).status_code for _unused in range(3)] == [429, 429, 429]
    emu.configure(secondary_rate_limit=None)
    assert api("GET", path).status_code == 200
    for bad in ({"status": 500}, {"times": 0}, {"retry_after": "soon"}, {"bogus": 1}, "yes"):
        assert requests.post(emu.url + "/_emulator/config", json={"secondary_rate_limit": bad}, timeout=5).status_code == 400


def test_framework_faults(emu, api):
    path = "/orgs/acme/packages?package_type=container"
    emu.rate_limit(times=1, retry_after="7")
    resp = api("GET", path)
    assert_error(resp, 429)
    assert resp.headers["Retry-After"] == "7" and resp.headers["x-ratelimit-resource"] == "core"
    emu.server_error(status=502)
    assert_error(api("GET", path), 502)
    emu.server_error(status=503, body="<html>unicorn</html>")
    assert api("GET", path).text == "<html>unicorn</html>"
    emu.reset_connection(times=1, method="DELETE")
    ids = seed_app(emu)
    with pytest.raises(requests.ConnectionError):
        api("DELETE", f"/orgs/acme/packages/container/app/versions/{ids[0]}")
    assert emu.package_version_ids("org", "acme", "app") == ids
    assert api("GET", path).status_code == 200
    assert [r.fault for r in emu.log.records[-5:]] == ["rate_limit", "error", "error", "reset_connection", None]


# --------------------------------------------------------------------------- packages

def test_package_shapes(emu, api):
    ids = seed_app(emu)
    pkg = api("GET", "/orgs/acme/packages/container/app").json()
    assert set(pkg) >= {"id", "name", "package_type", "url", "html_url", "version_count", "visibility", "owner", "repository",
                        "created_at", "updated_at"}
    assert pkg["version_count"] == 3 and pkg["package_type"] == "container" and pkg["visibility"] == "private"
    assert pkg["owner"]["login"] == "acme" and pkg["owner"]["type"] == "Organization" and pkg["repository"]["full_name"] == "acme/app"
    assert pkg["html_url"] == "https://github.com/orgs/acme/packages/container/package/app" and Z_RE.match(pkg["created_at"])
    versions = api("GET", "/orgs/acme/packages/container/app/versions").json()
    assert [v["id"] for v in versions] == ids[::-1]  # newest first
    assert versions[0]["metadata"] == {"package_type": "container", "container": {"tags": ["v3", "latest"]}}
    assert versions[0]["name"] == "sha256:" + "3" * 64 and "deleted_at" not in versions[0]
    one = api("GET", f"/orgs/acme/packages/container/app/versions/{ids[0]}").json()
    assert one["metadata"]["container"]["tags"] == ["v1"] and one["url"].endswith(f"/orgs/acme/packages/container/app/versions/{ids[0]}")
    assert_error(api("GET", "/orgs/acme/packages/container/app/versions/999999"), 404)
    assert_error(api("GET", "/orgs/acme/packages/container/nope"), 404, "Package not found")
    assert_error(api("GET", "/orgs/acme/packages/whatever/app"), 404)


def test_list_packages_filters_and_validation(emu, api):
    emu.add_package("org", "acme", "app", versions=[D1])
    emu.add_package("org", "acme", "web", visibility="public", versions=[D2])
    emu.add_package("org", "acme", "lib", package_type="npm", versions=["1.0.0"])
    names = [p["name"] for p in api("GET", "/orgs/acme/packages", params={"package_type": "container"}).json()]
    assert names == ["app", "web"]
    assert [p["name"] for p in api("GET", "/orgs/acme/packages", params={"package_type": "container", "visibility": "public"}).json()] == ["web"]
    npm = api("GET", "/orgs/acme/packages", params={"package_type": "npm"}).json()
    assert [p["name"] for p in npm] == ["lib"]
    assert api("GET", "/orgs/acme/packages/npm/lib/versions").json()[0]["metadata"] == {"package_type": "npm"}
    assert_error(api("GET", "/orgs/acme/packages"), 422, "package_type")
    assert_error(api("GET", "/orgs/acme/packages", params={"package_type": "jar"}), 422)
    assert_error(api("GET", "/orgs/acme/packages", params={"package_type": "container", "visibility": "secret"}), 422)


def test_user_packages(emu, api):
    seed_app(emu, owner="octocat", kind="user", versions=2)
    emu.add_user("hubot")
    emu.add_package("user", "hubot", "tool", versions=[D1])
    mine = api("GET", "/user/packages", params={"package_type": "container"}).json()
    assert [p["name"] for p in mine] == ["app"] and mine[0]["owner"]["type"] == "User"
    assert mine[0]["url"].endswith("/users/octocat/packages/container/app")
    assert [p["name"] for p in api("GET", "/user/packages", params={"package_type": "container"}, token="hubot-token").json()] == ["tool"]
    ids = emu.package_version_ids("user", "octocat", "app")
    assert api("DELETE", f"/user/packages/container/app/versions/{ids[0]}").status_code == 204
    assert api("POST", f"/user/packages/container/app/versions/{ids[0]}/restore").status_code == 204
    assert api("DELETE", "/user/packages/container/app").status_code == 204
    assert api("POST", "/user/packages/container/app/restore").status_code == 204
    assert api("GET", f"/user/packages/container/app/versions/{ids[1]}").json()["id"] == ids[1]
    assert api("GET", "/user/packages/container/app").json()["version_count"] == 2
    assert [v["id"] for v in api("GET", "/user/packages/container/app/versions").json()] == ids[::-1]
    assert_error(api("GET", "/user/packages/container/tool"), 404)  # hubot's, not octocat's


def test_user_attestation_bulk_routes(emu, api):
    emu.add_attestation("user", "octocat", D1)
    emu.add_attestation("user", "octocat", D2)
    body = api("POST", "/users/octocat/attestations/bulk-list", json={"subject_digests": [D1, D3]}).json()
    assert len(body["attestations_subject_digests"][D1]) == 1 and body["attestations_subject_digests"][D3] is None
    assert_error(api("POST", "/users/octocat/attestations/delete-request", json={"subject_digests": [D1]}, token="hubot-token"), 404)
    assert api("POST", "/users/octocat/attestations/delete-request", json={"subject_digests": [D1, D2]}).status_code == 200
    assert emu.attestation_ids("user", "octocat") == []


def test_encoded_package_names(emu, api):
    emu.add_package("org", "acme", "team/app", versions=[D1, D2])
    assert api("GET", "/orgs/acme/packages/container/team%2Fapp").json()["name"] == "team/app"
    assert api("GET", "/orgs/acme/packages/container/team/app").status_code == 404
    versions = api("GET", "/orgs/acme/packages/container/team%2Fapp/versions").json()
    assert len(versions) == 2 and "/team%2Fapp/versions/" in versions[0]["url"]


def test_pagination_and_links(emu, api):
    specs = [{"name": f"sha256:{i:064x}", "created_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"} for i in range(1, 106)]
    emu.add_package("org", "acme", "app", versions=specs)
    for i in range(1, 36):
        emu.add_package("org", "acme", f"pkg{i:02d}", versions=[D1])
    first = api("GET", "/orgs/acme/packages", params={"package_type": "container"})
    assert len(first.json()) == 30
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["Link"]))
    assert set(links) == {"next", "last"} and "page=2" in links["next"] and "package_type=container" in links["last"]
    assert links["next"].startswith(emu.url + "/orgs/acme/packages?")
    second = api("GET", links["next"].replace(emu.url, ""))
    assert len(second.json()) == 6
    assert set(re.findall(r'rel="(\w+)"', second.headers["Link"])) == {"prev", "first"}
    full = api("GET", "/orgs/acme/packages/container/app/versions", params={"per_page": 500})
    assert len(full.json()) == 100 and 'rel="next"' in full.headers["Link"]  # per_page max 100
    assert len(api("GET", "/orgs/acme/packages/container/app/versions", params={"per_page": 100, "page": 2}).json()) == 5
    single = api("GET", "/orgs/acme/packages", params={"package_type": "container", "per_page": 100})
    assert "Link" not in single.headers and len(single.json()) == 36
    assert_error(api("GET", "/orgs/acme/packages", params={"package_type": "container", "per_page": 100, "page": 101}), 400,
                 PER_PAGE_CAP_MESSAGE)
    assert api("GET", "/orgs/acme/packages", params={"package_type": "container", "per_page": 100, "page": 100}).json() == []
    emu.configure(external_url="https://api.github.example")
    assert api("GET", "/orgs/acme/packages", params={"package_type": "container"}).headers["Link"].startswith("<https://api.github.example/")


def test_last_version_rule(emu, api):
    ids = seed_app(emu, versions=2)
    assert api("DELETE", f"/orgs/acme/packages/container/app/versions/{ids[0]}").status_code == 204
    assert_error(api("DELETE", f"/orgs/acme/packages/container/app/versions/{ids[1]}"), 400, LAST_VERSION_MESSAGE)
    assert api("GET", "/orgs/acme/packages/container/app").json()["version_count"] == 1
    assert api("DELETE", "/orgs/acme/packages/container/app").status_code == 204  # delete the package instead
    emu.reset()
    emu.configure(last_version_rule="last_tagged")
    emu.add_package("org", "acme", "app", versions=[{"name": D1, "tags": ["latest"]}, {"name": D2}])
    tagged, untagged = emu.package_version_ids("org", "acme", "app")
    assert_error(api("DELETE", f"/orgs/acme/packages/container/app/versions/{tagged}"), 400, LAST_TAGGED_MESSAGE)
    assert api("DELETE", f"/orgs/acme/packages/container/app/versions/{untagged}").status_code == 204
    emu.configure(last_version_rule="off")
    assert api("DELETE", f"/orgs/acme/packages/container/app/versions/{tagged}").status_code == 204


def test_version_delete_and_restore_window(emu, api):
    ids = seed_app(emu)
    base = "/orgs/acme/packages/container/app/versions"
    assert api("DELETE", f"{base}/{ids[2]}").status_code == 204
    assert api("GET", base).json()[0]["id"] == ids[1]
    deleted = api("GET", base, params={"state": "deleted"}).json()
    assert [v["id"] for v in deleted] == [ids[2]] and deleted[0]["deleted_at"] == "2026-05-30T12:00:00Z"
    assert_error(api("GET", f"{base}/{ids[2]}"), 404)
    assert_error(api("DELETE", f"{base}/{ids[2]}"), 404)
    assert_error(api("GET", base, params={"state": "gone"}), 422)
    emu.add_version("org", "acme", "app", name="sha256:" + "9" * 64, tags=["latest"])  # the tag moved meanwhile
    emu.advance_clock(29 * DAY)
    assert api("POST", f"{base}/{ids[2]}/restore").status_code == 204
    assert api("GET", f"{base}/{ids[2]}").json()["metadata"]["container"]["tags"] == ["v3"]  # latest stays where it is now
    assert_error(api("POST", f"{base}/{ids[2]}/restore"), 404)  # not deleted
    assert api("DELETE", f"{base}/{ids[1]}").status_code == 204
    emu.advance_clock(30 * DAY + 1)
    assert_error(api("POST", f"{base}/{ids[1]}/restore"), 404)


def test_package_delete_and_restore_window(emu, api):
    seed_app(emu)
    path = "/orgs/acme/packages/container/app"
    assert api("DELETE", path).status_code == 204
    assert_error(api("GET", path), 404)
    assert api("GET", "/orgs/acme/packages", params={"package_type": "container"}).json() == []
    assert_error(api("GET", path + "/versions"), 404)
    emu.advance_clock(30 * DAY)
    assert api("POST", path + "/restore").status_code == 204
    assert api("GET", path).json()["version_count"] == 3
    assert_error(api("POST", path + "/restore"), 404)  # not deleted
    assert api("DELETE", path).status_code == 204
    emu.advance_clock(30 * DAY + 1)
    assert_error(api("POST", path + "/restore"), 404)
    assert_error(api("POST", "/orgs/acme/packages/container/never/restore"), 404)


def test_restore_after_name_reuse(emu, api):
    seed_app(emu)
    assert api("DELETE", "/orgs/acme/packages/container/app").status_code == 204
    emu.add_package("org", "acme", "app", versions=[D1])  # pushed again under the same name
    assert_error(api("POST", "/orgs/acme/packages/container/app/restore"), 403, "same name")
    assert len(emu.dump_state()["orgs"][0]["packages"]) == 2


def test_download_limit(emu, api):
    emu.add_package("org", "acme", "popular", visibility="public", download_count=5001, versions=[D1, D2])
    emu.add_package("org", "acme", "quiet", visibility="private", download_count=9999, versions=[D1])
    ids = emu.package_version_ids("org", "acme", "popular")
    assert_error(api("DELETE", "/orgs/acme/packages/container/popular"), 403, "5000 downloads")
    assert_error(api("DELETE", f"/orgs/acme/packages/container/popular/versions/{ids[0]}"), 403, "5000 downloads")
    assert api("DELETE", "/orgs/acme/packages/container/quiet").status_code == 204


# --------------------------------------------------------------------------- artifact metadata

def test_storage_records(emu, api):
    body = {"name": "app", "digest": D1, "registry_url": "https://ghcr.io", "repository": "acme/app",
            "artifact_url": "https://ghcr.io/acme/app@" + D1, "github_repository": "app", "version": "1.0"}
    created = api("POST", "/orgs/acme/artifacts/metadata/storage-record", json=body)
    assert created.status_code == 200
    rec = created.json()["storage_records"][0]
    assert created.json()["total_count"] == 1 and rec["status"] == "active" and Z_RE.match(rec["created_at"])
    assert set(rec) == {"id", "name", "digest", "artifact_url", "registry_url", "repository", "status", "created_at", "updated_at"}
    emu.advance_clock(60)
    updated = api("POST", "/orgs/acme/artifacts/metadata/storage-record", json=dict(body, status="deleted", return_records=False))
    assert updated.json() == {"total_count": 1}
    listed = api("GET", f"/orgs/acme/artifacts/{D1}/metadata/storage-records").json()
    assert listed["total_count"] == 1 and listed["storage_records"][0]["status"] == "deleted"
    assert listed["storage_records"][0]["id"] == rec["id"] and listed["storage_records"][0]["updated_at"] != rec["created_at"]
    assert api("GET", f"/orgs/acme/artifacts/{D2}/metadata/storage-records").json() == {"total_count": 0, "storage_records": []}
    assert api("GET", f"/orgs/acme/artifacts/{D1.replace(':', '%3A')}/metadata/storage-records").json()["total_count"] == 1
    assert_error(api("GET", "/orgs/acme/artifacts/sha512:abc/metadata/storage-records"), 422)
    assert_error(api("POST", "/orgs/nope/artifacts/metadata/storage-record", json=body), 404)


@pytest.mark.parametrize("change,detail", [
    ({"digest": "sha256:" + "A" * 64}, "digest"), ({"digest": "sha512:" + "a" * 64}, "digest"), ({"name": ""}, "name"),
    ({"registry_url": "http://ghcr.io"}, "registry_url"), ({"status": "gone"}, "status"), ({"github_repository": "a b"}, "github_repository"),
    ({"return_records": "yes"}, "return_records"), ({"name": None}, "name"),
])
def test_storage_record_validation(api, change, detail):
    body = dict({"name": "app", "digest": D1, "registry_url": "https://ghcr.io"}, **change)
    assert_error(api("POST", "/orgs/acme/artifacts/metadata/storage-record", json=body), 422, detail)


def test_storage_record_paths(emu, api):
    body = {"name": "app", "digest": D1, "registry_url": "https://ghcr.io"}
    assert_error(api("POST", "/orgs/acme/artifacts/metadata/storage-records", json=body), 404)
    emu.configure(storage_record_path="both")
    assert api("POST", "/orgs/acme/artifacts/metadata/storage-records", json=body).status_code == 200
    assert api("POST", "/orgs/acme/artifacts/metadata/storage-record", json=body).status_code == 200
    emu.configure(storage_record_path="plural")
    assert_error(api("POST", "/orgs/acme/artifacts/metadata/storage-record", json=body), 404)
    assert api("GET", f"/orgs/acme/artifacts/{D1}/metadata/storage-records").json()["total_count"] == 1  # upserted


def test_unwritable_repository_object_message(emu, api):
    emu.add_repository("org", "acme", {"name": "private-repo", "id": 345, "writable": False})
    body = {"name": "app", "digest": D1, "registry_url": "https://ghcr.io", "github_repository": "private-repo"}
    resp = api("POST", "/orgs/acme/artifacts/metadata/storage-record", json=body)
    assert resp.status_code == 403
    assert resp.json()["message"] == {"cause": "artifact metadata write permission required on one or more repositories",
                                      "repositories": [345]}


def test_deployment_records(emu, api):
    emu.add_attestation("org", "acme", D1, attestation_id=777)
    body = {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod", "physical_environment": "eu-west",
            "cluster": "c1", "deployment_name": "ns-app-web", "tags": {"team": "platform"}, "runtime_risks": ["internet-exposed"]}
    created = api("POST", "/orgs/acme/artifacts/metadata/deployment-record", json=body).json()
    rec = created["deployment_records"][0]
    assert created["total_count"] == 1 and rec["attestation_id"] == 777 and rec["tags"] == {"team": "platform"}
    assert set(rec) == {"id", "digest", "logical_environment", "physical_environment", "cluster", "deployment_name", "tags",
                        "runtime_risks", "created_at", "updated_at", "attestation_id"}
    again = api("POST", "/orgs/acme/artifacts/metadata/deployment-record", json=dict(body, status="decommissioned")).json()
    assert again["deployment_records"][0]["id"] == rec["id"]  # same key: updated
    other = api("POST", "/orgs/acme/artifacts/metadata/deployment-record", json=dict(body, cluster="c2", digest=D2)).json()
    assert other["deployment_records"][0]["id"] != rec["id"] and other["deployment_records"][0]["attestation_id"] is None
    listed = api("GET", f"/orgs/acme/artifacts/{D1}/metadata/deployment-records").json()
    assert listed["total_count"] == 1
    emu.configure(deployment_record_extras=True)
    listed = api("GET", f"/orgs/acme/artifacts/{D1}/metadata/deployment-records").json()
    assert listed["deployment_records"][0]["status"] == "decommissioned" and listed["deployment_records"][0]["name"] == "app"
    for change in ({"status": None}, {"status": "running"}, {"logical_environment": ""}, {"deployment_name": None},
                   {"tags": {str(i): "x" for i in range(6)}}, {"runtime_risks": ["nope"]}, {"runtime_risks": ["sensitive-data"] * 2}):
        assert_error(api("POST", "/orgs/acme/artifacts/metadata/deployment-record", json=dict(body, **change)), 422)


def test_set_cluster_records(emu, api):
    emu.add_repository("org", "acme", {"name": "private-repo", "id": 345, "writable": False})
    deployments = [{"name": "app", "digest": D1, "version": "1", "deployment_name": "a"},
                   {"name": "other-name", "digest": D1, "version": "2", "deployment_name": "b"},
                   {"name": "x", "digest": D2, "deployment_name": "c", "github_repository": "private-repo"}]
    path = "/orgs/acme/artifacts/metadata/deployment-record/cluster/prod-1"
    denied = api("POST", path, json={"logical_environment": "prod", "deployments": deployments})
    assert denied.status_code == 403 and denied.json()["message"]["repositories"] == [345]
    partial = api("POST", path, json={"logical_environment": "prod", "deployments": deployments, "partial_success": True})
    assert partial.status_code == 207
    body = partial.json()
    assert body["total_count"] == 2 and body["errors"][0]["cause"] == "unauthorized"
    assert body["errors"][0]["deployment"]["deployment_name"] == "c" and all(r["cluster"] == "prod-1" for r in body["deployment_records"])
    state = emu.dump_state()["orgs"][0]["deployment_records"]
    assert [(r["name"], r["version"]) for r in state] == [("app", "1"), ("app", "1")]  # first entry wins name and version
    ok = api("POST", path, json={"logical_environment": "prod", "deployments": deployments[:1], "return_records": False})
    assert ok.status_code == 200 and ok.json() == {"total_count": 1}
    assert len(emu.dump_state()["orgs"][0]["deployment_records"]) == 2  # updated, not added
    assert_error(api("POST", path, json={"logical_environment": "prod", "deployments": deployments[:1] * 2}), 422, "unique")
    assert_error(api("POST", path, json={"deployments": []}), 422)
    assert_error(api("POST", path.replace("prod-1", "bad%20name"), json={"logical_environment": "prod", "deployments": []}), 422)


def test_cluster_jobs(emu, api):
    path = "/orgs/acme/artifacts/metadata/deployment-record/cluster/prod-1/jobs"
    deployments = [{"name": "app", "digest": D1, "deployment_name": "a"}]
    created = api("POST", path, json={"logical_environment": "prod", "deployments": deployments})
    assert created.status_code == 202 and created.json()["errors"] == []
    job_id = created.json()["job_id"]
    assert_error(api("POST", path, json={"logical_environment": "prod", "deployments": deployments}), 409, "already in progress")
    first = api("GET", f"{path}/{job_id}").json()
    assert first["status"] == "processing" and first["job_id"] == job_id and Z_RE.match(first["started_at"])
    done = api("GET", f"{path}/{job_id}").json()
    assert done["status"] == "completed" and done["total_count"] == 1
    assert api("GET", f"/orgs/acme/artifacts/{D1}/metadata/deployment-records").json()["total_count"] == 1
    assert api("POST", path, json={"logical_environment": "prod", "deployments": deployments}).status_code == 202
    emu.complete_jobs()
    assert emu.dump_state()["jobs"][-1]["status"] == "completed"
    assert_error(api("GET", f"{path}/99999"), 404)
    assert_error(api("GET", path.replace("prod-1", "prod-2") + f"/{job_id}"), 404)


# --------------------------------------------------------------------------- attestations

@pytest.mark.parametrize("owner_path,kind,login", [("/orgs/acme", "org", "acme"), ("/users/octocat", "user", "octocat")])
def test_attestations_list_and_delete(emu, api, owner_path, kind, login):
    emu.add_attestation(kind, login, D1, "provenance")
    emu.add_attestation(kind, login, D1, "sbom")
    emu.add_attestation(kind, login, D2, "provenance")
    listed = api("GET", f"{owner_path}/attestations/{D1}").json()["attestations"]
    assert len(listed) == 2 and set(listed[0]) == {"bundle", "repository_id", "bundle_url", "initiator"}
    assert listed[0]["bundle"]["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    sbom = api("GET", f"{owner_path}/attestations/{D1}", params={"predicate_type": "sbom"}).json()["attestations"]
    assert len(sbom) == 1
    new = api("GET", f"{owner_path}/attestations/{D1}", headers={"X-GitHub-Api-Version": "2026-03-10"}).json()["attestations"]
    assert "bundle" not in new[0] and "bundle_url" in new[0]
    assert api("GET", f"{owner_path}/attestations/{D3}").json() == {"attestations": []}
    resp = api("DELETE", f"{owner_path}/attestations/digest/{D1}")
    assert resp.status_code == 200 and resp.content == b""
    assert api("GET", f"{owner_path}/attestations/{D1}").json() == {"attestations": []}
    assert_error(api("DELETE", f"{owner_path}/attestations/digest/{D1}"), 404)
    emu.configure(attestation_delete_status=204)
    assert api("DELETE", f"{owner_path}/attestations/digest/{D2}").status_code == 204
    att_id = emu.add_attestation(kind, login, D3)
    assert api("DELETE", f"{owner_path}/attestations/{att_id}").status_code == 204
    assert_error(api("DELETE", f"{owner_path}/attestations/{att_id}"), 404)
    assert emu.attestation_ids(kind, login) == []


def test_attestation_cursor_pagination(emu, api):
    for _unused in range(5):
        emu.add_attestation("org", "acme", D1)
    first = api("GET", f"/orgs/acme/attestations/{D1}", params={"per_page": 2})
    assert len(first.json()["attestations"]) == 2
    nxt = re.search(r'<([^>]+)>; rel="next"', first.headers["Link"]).group(1)
    assert "after=" in nxt and "per_page=2" in nxt
    second = api("GET", nxt.replace(emu.url, ""))
    assert len(second.json()["attestations"]) == 2 and 'rel="prev"' in second.headers["Link"]
    prev = re.search(r'<([^>]+)>; rel="prev"', second.headers["Link"]).group(1)
    assert "before=" in prev and api("GET", prev.replace(emu.url, "")).json() == first.json()
    last = api("GET", re.search(r'<([^>]+)>; rel="next"', second.headers["Link"]).group(1).replace(emu.url, ""))
    assert len(last.json()["attestations"]) == 1 and 'rel="next"' not in last.headers.get("Link", "")
    assert_error(api("GET", f"/orgs/acme/attestations/{D1}", params={"after": "garbage!"}), 400, "cursor")


def test_attestation_bulk_list(emu, api):
    emu.add_attestation("org", "acme", D1)
    emu.add_attestation("org", "acme", D1, "sbom")
    emu.add_attestation("org", "acme", D2)
    body = api("POST", "/orgs/acme/attestations/bulk-list", json={"subject_digests": [D1, D2, D3]}).json()
    assert len(body["attestations_subject_digests"][D1]) == 2 and body["attestations_subject_digests"][D3] is None
    assert set(body["attestations_subject_digests"][D2][0]) == {"bundle", "repository_id", "bundle_url"}
    assert body["page_info"] == {"has_next": False, "has_previous": False, "next": "", "previous": ""}
    page = api("POST", "/orgs/acme/attestations/bulk-list", params={"per_page": 2}, json={"subject_digests": [D1, D2]}).json()
    assert page["page_info"]["has_next"] and page["attestations_subject_digests"][D2] is None
    rest = api("POST", "/orgs/acme/attestations/bulk-list", params={"per_page": 2, "after": page["page_info"]["next"]},
               json={"subject_digests": [D1, D2]}).json()
    assert rest["page_info"]["has_previous"] and len(rest["attestations_subject_digests"][D2]) == 1
    sbom = api("POST", "/orgs/acme/attestations/bulk-list", json={"subject_digests": [D1], "predicate_type": "sbom"}).json()
    assert len(sbom["attestations_subject_digests"][D1]) == 1
    for bad in ({}, {"subject_digests": []}, {"subject_digests": [D1] * 1025}, {"subject_digests": "x"}):
        assert_error(api("POST", "/orgs/acme/attestations/bulk-list", json=bad), 422)


def test_attestation_bulk_delete(emu, api):
    emu.add_attestation("org", "acme", D1)
    emu.add_attestation("org", "acme", D2)
    third = emu.add_attestation("org", "acme", D3)
    resp = api("POST", "/orgs/acme/attestations/delete-request", json={"subject_digests": [D1, D2, "sha512:def456"]})
    assert resp.status_code == 200 and resp.content == b""
    assert emu.attestation_ids("org", "acme") == [third]
    assert_error(api("POST", "/orgs/acme/attestations/delete-request", json={"subject_digests": [D1]}), 404)
    assert api("POST", "/orgs/acme/attestations/delete-request", json={"attestation_ids": [third]}).status_code == 200
    assert_error(api("POST", "/orgs/acme/attestations/delete-request", json={"subject_digests": [D1], "attestation_ids": [1]}), 422, "oneOf")
    assert_error(api("POST", "/orgs/acme/attestations/delete-request", json={}), 422)
    assert_error(api("POST", "/orgs/acme/attestations/delete-request", json={"attestation_ids": ["x"]}), 422)


def test_attestation_permissions(emu, api):
    emu.add_repository("org", "acme", {"name": "locked", "writable": False})
    att_id = emu.add_attestation("org", "acme", D1, repository="locked")
    assert_error(api("DELETE", f"/orgs/acme/attestations/{att_id}"), 403)
    emu.add_attestation("user", "octocat", D2)
    assert_error(api("DELETE", f"/users/octocat/attestations/digest/{D2}", token="hubot-token"), 404)  # someone else's: hidden
    assert api("GET", f"/users/octocat/attestations/{D2}", token="hubot-token").json()["attestations"]  # listing is public
    assert_error(api("GET", f"/users/nobody/attestations/{D2}"), 404)


# --------------------------------------------------------------------------- control surface

def test_control_endpoints(emu, api):
    control = emu.url + "/_emulator"
    doc = {"orgs": [{"login": "corp", "id": 42, "repositories": ["web", {"name": "ro", "id": 900, "writable": False}],
                     "packages": [{"name": "web", "visibility": "public", "repository": "web", "download_count": 3,
                                   "versions": [{"name": D1, "tags": ["latest"], "id": 7001}, D2]},
                                  {"name": "old", "deleted_at": "2026-05-01T00:00:00Z", "versions": [D3]}],
                     "storage_records": [{"name": "web", "digest": D1, "registry_url": "https://ghcr.io", "status": "eol"}],
                     "deployment_records": [{"name": "web", "digest": D1, "status": "deployed", "logical_environment": "prod",
                                             "deployment_name": "web"}],
                     "attestations": [{"subject_digest": D1, "predicate_type": "sbom", "repository": "web", "id": 31}]}],
           "users": ["hubot", {"login": "octocat", "packages": [{"name": "mine", "versions": [D2]}]}]}
    resp = requests.post(control + "/seed", json=doc, timeout=5)
    assert resp.status_code == 201, resp.text
    seeded = resp.json()
    assert seeded["orgs"][0]["id"] == 42 and [p["name"] for p in seeded["orgs"][0]["packages"]] == ["web", "old"]
    assert 7001 in [v["id"] for v in seeded["orgs"][0]["packages"][0]["versions"]] and seeded["orgs"][0]["attestations"][0]["id"] == 31
    assert api("GET", "/orgs/corp/packages/container/web").json()["visibility"] == "public"
    assert_error(api("GET", "/orgs/corp/packages/container/old"), 404)
    assert api("POST", "/orgs/corp/packages/container/old/restore").status_code == 204  # deleted 29.5 days ago
    assert api("GET", f"/orgs/corp/artifacts/{D1}/metadata/storage-records").json()["storage_records"][0]["status"] == "eol"
    assert api("GET", f"/orgs/corp/artifacts/{D1}/metadata/deployment-records").json()["deployment_records"][0]["attestation_id"] == 31
    assert [p["name"] for p in api("GET", "/user/packages?package_type=container").json()] == ["mine"]
    state = requests.get(control + "/state", timeout=5).json()
    assert [o["login"] for o in state["orgs"]] == ["corp", "acme"] and {u["login"] for u in state["users"]} == {"octocat", "hubot"}
    assert state["clock"] == "2026-05-30T12:00:00Z" and DEFAULT_TOKEN in state["rate_limit"]
    for bad in ({"orgs": [{"login": "x", "packages": [{"name": "p", "package_type": "jar"}]}]},
                {"orgs": [{"login": "x", "storage_records": [{"name": "p"}]}]}, ["not", "an", "object"],
                {"orgs": [{"login": "x", "packages": [{"name": "p", "versions": ["not-a-digest"]}]}]}):
        assert requests.post(control + "/seed", json=bad, timeout=5).status_code == 400, bad
    config = requests.get(control + "/config", timeout=5).json()
    assert config["storage_record_path"] == "singular" and config["restore_window_days"] == 30 and config["clock"] == "2026-05-30T12:00:00Z"
    moved = requests.post(control + "/config", json={"advance_clock": 3600}, timeout=5).json()
    assert moved["clock"] == "2026-05-30T13:00:00Z"
    for body in ({"bogus": 1}, {"storage_record_path": "maybe"}, {"rate_limit": -1}, {"clock": "yesterday"}, {"advance_clock": "1h"},
                 {"tokens": []}, {"tokens": [{"token": "t", "kind": "app"}]}, {"attestation_delete_status": 202},
                 {"default_org": "yes"}, {"external_url": "ftp://x"}, {"api_versions": "2022-11-28"}, {"deprecated_versions": []},
                 {"user": ""}, {"primary_limit_status": 500}, {"default_token_kind": "oauth"}, {"registry_backend": "ftp://x"},
                 {"registry_backend": "http://127.0.0.1:5000/v2"}, {"registry_backend": 5000}):
        assert requests.post(control + "/config", json=body, timeout=5).status_code == 400, body
    # log (credentials masked), faults, reset
    log = requests.get(control + "/log", timeout=5).json()
    assert log[-1]["headers"]["Authorization"] == "Bearer ***"
    assert log[-1]["route"] == "/user/packages"
    assert requests.post(control + "/faults", json={"kind": "server_error", "status": 500}, timeout=5).status_code == 201
    assert_error(api("GET", "/orgs/corp/packages/container/web"), 500)
    assert requests.post(control + "/reset", timeout=5).status_code == 204
    assert_error(api("GET", "/orgs/corp/packages/container/web"), 404)
    assert api("GET", "/orgs/acme/packages?package_type=container").status_code == 200  # the default org is back
    emu.configure(default_org=False)
    emu.reset()
    assert emu.dump_state()["orgs"] == []


def test_tokens_setting(emu, api):
    emu.configure(tokens=["plain-token", {"token": "app-token", "kind": "installation"}])
    assert api("GET", "/user/packages?package_type=container", token="plain-token").status_code == 200
    assert_error(api("GET", "/user/packages?package_type=container"), 401)
    assert_error(api("GET", "/user/packages?package_type=container", token="app-token"), 403)


def test_request_log(emu, api):
    ids = seed_app(emu)
    api("DELETE", f"/orgs/acme/packages/container/app/versions/{ids[0]}")
    api("GET", "/orgs/acme/packages/container/app/versions", params={"per_page": 5})
    record = emu.log.filter(method="DELETE")[0]
    assert record.status == 204
    assert record.params == {"org": "acme", "package_type": "container", "package_name": "app", "package_version_id": ids[0]}
    assert emu.log.last().query == {"per_page": "5"} and [r.method for r in emu.log.mutating()] == ["DELETE"]


# --------------------------------------------------------------------------- ghcr.io front (a real registry behind /v2/)

@pytest.fixture(scope="module")
def backend(server):
    """One real registry per module behind the front (a missing docker-registry fails here: `make deps` installs it)."""
    registry = ghcr_backend(server)
    yield registry
    registry.stop()


@pytest.fixture
def ghcr(emu, backend):
    """``emu`` with its ghcr.io front on the module's registry; the ``emu`` fixture's reset() deletes what was pushed."""
    emu.configure(registry_backend=backend.url)
    return emu


@pytest.fixture
def pkg():
    """A package name of its own: the registry outlives the emulator's resets."""
    return "app-" + uuid.uuid4().hex[:10]


def oci(emu, method, path, token=None, **kwargs):
    headers = dict(kwargs.pop("headers", None) or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, emu.url + path, headers=headers, timeout=10, **kwargs)


def registry_token(emu, *scopes, password=DEFAULT_TOKEN, username="anyone"):
    """A registry token from ``/token`` (Basic, any username); ``password=None``: anonymous."""
    auth = (username, password) if password is not None else None
    resp = requests.get(emu.url + "/token", params=[("service", "ghcr.io")] + [("scope", s) for s in scopes], auth=auth, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] == body["access_token"]
    return body["token"]


def assert_oci_error(resp, status, code, message=None):
    """The OCI error body ``{"errors": [{"code", "message"}]}``."""
    assert resp.status_code == status, resp.text
    errors = resp.json()["errors"]
    assert len(errors) == 1 and errors[0]["code"] == code, errors
    if message is not None:
        assert message in errors[0]["message"], errors
    return errors[0]


def challenge(emu, scope=None, error=None):
    value = f'Bearer realm="{emu.url}/token",service="ghcr.io"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return value


def version_tags(api, name, base="/orgs/acme", state="active"):
    """``{digest: tags}`` of a package's versions as the REST API lists them."""
    resp = api("GET", f"{base}/packages/container/{package_path_name(name)}/versions", params={"per_page": 100, "state": state})
    assert resp.status_code == 200, resp.text
    return {v["name"]: v["metadata"]["container"]["tags"] for v in resp.json()}


def version_ids(api, name, base="/orgs/acme"):
    resp = api("GET", f"{base}/packages/container/{package_path_name(name)}/versions", params={"per_page": 100})
    return {v["name"]: v["id"] for v in resp.json()}


def test_oci_front_off_without_backend(emu):
    for path in ("/v2/", "/v2/acme/app/tags/list", "/token"):
        assert_oci_error(requests.get(emu.url + path, timeout=5), 404, "UNSUPPORTED", "registry_backend")


def test_oci_challenge_and_token_flow(ghcr, api, pkg):
    repo = f"acme/{pkg}"
    resp = oci(ghcr, "GET", "/v2/")
    assert_oci_error(resp, 401, "UNAUTHORIZED")
    assert resp.headers["WWW-Authenticate"] == challenge(ghcr)
    assert oci(ghcr, "GET", f"/v2/{repo}/tags/list").headers["WWW-Authenticate"] == challenge(ghcr, f"repository:{repo}:pull")
    resp = oci(ghcr, "PUT", f"/v2/{repo}/manifests/v1", data=b"{}")
    assert resp.headers["WWW-Authenticate"] == challenge(ghcr, f"repository:{repo}:pull,push")
    assert_oci_error(oci(ghcr, "GET", "/v2/", token="not-a-token"), 401, "UNAUTHORIZED")
    assert_oci_error(oci(ghcr, "GET", "/v2/", token=DEFAULT_TOKEN), 401, "UNAUTHORIZED")  # a PAT is not a registry token
    # the token endpoint: Basic with a known token as the password (any username)
    params = {"service": "ghcr.io", "scope": f"repository:{repo}:pull"}
    assert_oci_error(requests.get(ghcr.url + "/token", params=params, auth=("octocat", "wrong"), timeout=5), 401, "UNAUTHORIZED")
    assert_oci_error(requests.get(ghcr.url + "/token", params=params, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                                  timeout=5), 401, "UNAUTHORIZED")
    assert_oci_error(requests.post(ghcr.url + "/token", params=params, auth=("x", DEFAULT_TOKEN), timeout=5), 405, "UNSUPPORTED")
    bare = registry_token(ghcr)
    resp = oci(ghcr, "GET", "/v2/", token=bare)
    assert resp.status_code == 200 and resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    # a scope the token was not asked for: 401 insufficient_scope, with the scope to ask for
    resp = oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=bare)
    assert_oci_error(resp, 401, "UNAUTHORIZED")
    assert resp.headers["WWW-Authenticate"] == challenge(ghcr, f"repository:{repo}:pull", "insufficient_scope")
    pull = registry_token(ghcr, f"repository:{repo}:pull")
    assert_oci_error(oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=pull), 404, "NAME_UNKNOWN")  # nothing pushed yet
    resp = oci(ghcr, "POST", f"/v2/{repo}/blobs/uploads/", token=pull)
    assert resp.headers["WWW-Authenticate"] == challenge(ghcr, f"repository:{repo}:pull,push", "insufficient_scope")
    push = registry_token(ghcr, f"repository:{repo}:pull,push")
    resp = oci(ghcr, "POST", f"/v2/{repo}/blobs/uploads/", token=push)
    assert resp.status_code == 202 and resp.headers["Location"].startswith(f"/v2/{repo}/blobs/uploads/")  # the front, not the backend
    # asked for but not allowed: 403 DENIED (PAT without write:packages, installation token, another user's namespace)
    for password, name in (("narrow-token", repo), (DEFAULT_INSTALLATION_TOKEN, repo), ("hubot-token", f"octocat/{pkg}")):
        limited = registry_token(ghcr, f"repository:{name}:pull,push", password=password)
        assert_oci_error(oci(ghcr, "POST", f"/v2/{name}/blobs/uploads/", token=limited), 403, "DENIED", OCI_SCOPE_MESSAGE)
    mine = registry_token(ghcr, f"repository:octocat/{pkg}:pull,push", username="somebody-else")  # the username is ignored
    assert oci(ghcr, "POST", f"/v2/octocat/{pkg}/blobs/uploads/", token=mine).status_code == 202
    # names: unknown owner, not lowercase, no package; no catalog on ghcr.io
    everything = registry_token(ghcr, f"repository:nobody/{pkg}:pull", f"repository:Acme/{pkg}:pull", "repository:acme:pull")
    assert_oci_error(oci(ghcr, "GET", f"/v2/nobody/{pkg}/tags/list", token=everything), 404, "NAME_UNKNOWN")
    assert_oci_error(oci(ghcr, "GET", f"/v2/Acme/{pkg}/tags/list", token=everything), 400, "NAME_INVALID")
    assert_oci_error(oci(ghcr, "GET", "/v2/acme/tags/list", token=everything), 400, "NAME_INVALID")
    assert_oci_error(oci(ghcr, "GET", "/v2/_catalog", token=everything), 404, "UNSUPPORTED")
    # a registry token dies with its PAT
    ghcr.configure(tokens=[{"token": "other", "kind": "pat"}])
    assert_oci_error(oci(ghcr, "GET", "/v2/", token=bare), 401, "UNAUTHORIZED")
    ghcr.configure(tokens=DEFAULTS["tokens"])
    # the request log: /v2/ and /token requests, credentials masked; the REST budget is untouched
    tokens = ghcr.log.filter(path_prefix="/token")
    assert tokens and {r.headers.get("Authorization") for r in tokens} <= {"Basic ***", "Bearer ***", None}
    assert {r.headers.get("Authorization") for r in ghcr.log.filter(path_prefix="/v2/")} == {None, "Bearer ***"}
    assert ghcr.log.filter(path_prefix="/v2/", status=202)[0].route == "/v2/{name}/blobs/uploads/{uuid}"
    assert DEFAULT_TOKEN not in ghcr.dump_state()["rate_limit"]
    assert api("GET", "/orgs/acme/packages?package_type=container").headers["x-ratelimit-used"] == "1"


def test_oci_anonymous_pull_of_public_packages(ghcr, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    ghcr.add_package("org", "acme", pkg, visibility="public")
    client.push_image(f"acme/{pkg}", ["v1"])
    client.push_image(f"acme/{pkg}-private", ["v1"])
    anonymous = registry_token(ghcr, f"repository:acme/{pkg}:pull", f"repository:acme/{pkg}-private:pull", password=None)
    assert oci(ghcr, "GET", f"/v2/acme/{pkg}/tags/list", token=anonymous).json()["tags"] == ["v1"]
    assert_oci_error(oci(ghcr, "GET", f"/v2/acme/{pkg}-private/tags/list", token=anonymous), 403, "DENIED")
    assert SeedClient(ghcr.url).tags(f"acme/{pkg}") == ["v1"]  # SeedClient's anonymous token flow
    installation = registry_token(ghcr, f"repository:acme/{pkg}-private:pull", password=DEFAULT_INSTALLATION_TOKEN)
    assert oci(ghcr, "GET", f"/v2/acme/{pkg}-private/tags/list", token=installation).status_code == 200


def test_oci_push_creates_package_and_moves_tags(ghcr, api, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    repo = f"acme/{pkg}"
    d1 = client.push_image(repo, ["v1", "latest"])
    assert client.token_requests >= 2
    body = api("GET", f"/orgs/acme/packages/container/{pkg}").json()
    assert body["name"] == pkg and body["visibility"] == "private" and body["version_count"] == 1 and body["repository"] is None
    assert version_tags(api, pkg) == {d1: ["v1", "latest"]}
    first_id = version_ids(api, pkg)[d1]
    # another manifest under latest: the tag moves (REST and registry agree)
    d2 = client.push_image(repo, ["latest"])
    assert version_tags(api, pkg) == {d1: ["v1"], d2: ["latest"]}
    assert client.tag_map(repo) == {"v1": d1, "latest": d2}
    # by digest: an untagged version; tagging it later keeps its id; re-pushing a known manifest adds nothing
    d3 = client.push_image(repo, [], by_digest=True)
    assert version_tags(api, pkg)[d3] == []
    d3_id = version_ids(api, pkg)[d3]
    client.tag(repo, "v3", d3)
    client.tag(repo, "v1", d1)
    assert version_tags(api, pkg) == {d1: ["v1"], d2: ["latest"], d3: ["v3"]}
    assert version_ids(api, pkg) == {d1: first_id, d2: version_ids(api, pkg)[d2], d3: d3_id}
    assert api("GET", f"/orgs/acme/packages/container/{pkg}").json()["version_count"] == 3
    # HEAD through the front keeps the manifest's Content-Length and Content-Type
    media_type, raw = client.get_manifest(repo, d1)
    token = registry_token(ghcr, f"repository:{repo}:pull")
    head = oci(ghcr, "HEAD", f"/v2/{repo}/manifests/v1", token=token, headers={"Accept": MANIFEST_ACCEPT})
    assert head.status_code == 200 and head.headers["Docker-Content-Digest"] == d1
    assert int(head.headers["Content-Length"]) == len(raw) and head.headers["Content-Type"] == media_type
    put = ghcr.log.filter(method="PUT", path_prefix=f"/v2/{repo}/manifests/")[0]
    assert put.route == "/v2/{name}/manifests/{reference}" and put.params == {"name": repo, "reference": "v1"}
    # a user's namespace: /user/packages
    mine = client.push_image(f"octocat/{pkg}", ["v1"])
    assert [p["name"] for p in api("GET", "/user/packages?package_type=container").json()] == [pkg]
    assert version_tags(api, pkg, base="/user") == {mine: ["v1"]}
    # a package name with "/"
    nested = client.push_image(f"acme/{pkg}/sub", ["v1"])
    assert version_tags(api, f"{pkg}/sub") == {nested: ["v1"]}


def test_oci_delete_is_unsupported(ghcr, api, backend, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    repo = f"acme/{pkg}"
    d1 = client.push_image(repo, ["v1", "latest"])
    config = json.loads(client.get_manifest(repo, d1)[1])["config"]["digest"]
    mark = backend.mark()
    for path in (f"/v2/{repo}/manifests/{d1}", f"/v2/{repo}/manifests/v1", f"/v2/{repo}/blobs/{config}"):
        resp = client.request("DELETE", path, ok=(405,))
        assert resp.json() == {"errors": [{"code": "UNSUPPORTED", "message": OCI_UNSUPPORTED_MESSAGE}]}
    assert backend.mutations_since(mark) == []
    assert client.tag_map(repo) == {"v1": d1, "latest": d1}
    assert version_tags(api, pkg) == {d1: ["v1", "latest"]}


def test_rest_version_delete_and_restore_act_on_the_registry(ghcr, api, backend, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    repo = f"acme/{pkg}"
    versions = f"/orgs/acme/packages/container/{pkg}/versions"
    d1 = client.push_image(repo, ["v1", "latest"])
    d2 = client.push_image(repo, ["v2"])
    media_type, raw2 = client.get_manifest(repo, d2)
    ids = version_ids(api, pkg)
    mark = backend.mark()
    assert api("DELETE", f"{versions}/{ids[d1]}").status_code == 204
    assert [(e.method, e.path) for e in backend.mutations_since(mark)] == [("DELETE", f"/v2/{repo}/manifests/{d1}")]
    token = registry_token(ghcr, f"repository:{repo}:pull")
    assert_oci_error(oci(ghcr, "GET", f"/v2/{repo}/manifests/{d1}", token=token, headers={"Accept": MANIFEST_ACCEPT}),
                     404, "MANIFEST_UNKNOWN")
    assert client.tags(repo) == ["v2"] and version_tags(api, pkg) == {d2: ["v2"]}
    # restore: the manifest and its tags are back
    assert api("POST", f"{versions}/{ids[d1]}/restore").status_code == 204
    assert client.tag_map(repo) == {"v1": d1, "latest": d1, "v2": d2}
    assert version_tags(api, pkg) == {d1: ["v1", "latest"], d2: ["v2"]}
    # a tag another version took meanwhile stays there
    assert api("DELETE", f"{versions}/{ids[d1]}").status_code == 204
    d3 = client.push_image(repo, ["latest"])
    assert api("POST", f"{versions}/{ids[d1]}/restore").status_code == 204
    assert version_tags(api, pkg) == {d1: ["v1"], d2: ["v2"], d3: ["latest"]}
    assert client.tag_map(repo) == {"v1": d1, "v2": d2, "latest": d3}
    # a deleted digest pushed again is a new version; the old one can no longer be restored
    assert api("DELETE", f"{versions}/{ids[d2]}").status_code == 204
    client.put_manifest(repo, "v2", media_type, raw2)
    assert version_ids(api, pkg)[d2] != ids[d2] and version_tags(api, pkg)[d2] == ["v2"]
    assert_error(api("POST", f"{versions}/{ids[d2]}/restore"), 403, "same digest")


def test_throwaway_pattern_removes_one_tag(ghcr, api, pkg):
    """How a client removes one tag on ghcr.io: a new manifest under the tag, then that version deleted over REST."""
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    repo = f"acme/{pkg}"
    d1 = client.push_image(repo, ["v1", "latest"])
    throwaway = client.push_image(repo, ["v1"], layers=[b"throwaway " + uuid.uuid4().hex.encode()])
    assert version_tags(api, pkg) == {d1: ["latest"], throwaway: ["v1"]}
    assert api("DELETE", f"/orgs/acme/packages/container/{pkg}/versions/{version_ids(api, pkg)[throwaway]}").status_code == 204
    assert client.tags(repo) == ["latest"] and client.resolve(repo, "latest") == d1 and client.resolve(repo, "v1") is None
    assert version_tags(api, pkg) == {d1: ["latest"]}
    assert version_tags(api, pkg, state="deleted") == {throwaway: ["v1"]}


def test_rest_package_delete_and_restore_act_on_the_registry(ghcr, api, backend, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    direct = SeedClient(backend.url)
    repo = f"acme/{pkg}"
    amd64 = client.push_image(repo, [], by_digest=True, arch="amd64")
    arm64 = client.push_image(repo, [], by_digest=True, arch="arm64")
    index = client.push_index(repo, ["1.0", "latest"], children=[amd64, arm64])
    app = client.push_image(repo, ["v1"])
    before = version_tags(api, pkg)
    assert before == {amd64: [], arm64: [], index: ["1.0", "latest"], app: ["v1"]}
    assert api("DELETE", f"/orgs/acme/packages/container/{pkg}").status_code == 204
    assert not any(direct.manifest_exists(repo, d) for d in before) and direct.tags(repo) == []
    token = registry_token(ghcr, f"repository:{repo}:pull")
    assert_oci_error(oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=token), 404, "NAME_UNKNOWN")
    assert api("POST", f"/orgs/acme/packages/container/{pkg}/restore").status_code == 204
    assert all(direct.manifest_exists(repo, d) for d in before)
    assert client.tag_map(repo) == {"1.0": index, "latest": index, "v1": app}
    assert version_tags(api, pkg) == before
    assert client.get_manifest(repo, index)[0] == OCI_INDEX


def test_backend_failures(ghcr, api, backend, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    repo = f"acme/{pkg}"
    d1 = client.push_image(repo, ["v1"])
    client.push_image(repo, ["v2"])
    token = registry_token(ghcr, f"repository:{repo}:pull")
    ghcr.configure(registry_backend="http://127.0.0.1:1")  # nothing listens there
    assert_oci_error(oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=token), 503, "UNAVAILABLE", "registry backend unavailable")
    assert_error(api("DELETE", f"/orgs/acme/packages/container/{pkg}/versions/{version_ids(api, pkg)[d1]}"), 503,
                 "Registry backend unavailable")
    assert d1 in version_tags(api, pkg)  # nothing changed
    ghcr.configure(registry_backend=backend.url)
    assert client.tag_map(repo)["v1"] == d1


def test_rest_only_versions_never_reach_the_registry(ghcr, api, backend):
    ids = seed_app(ghcr)  # add_package/add_version: REST data only
    mark = backend.mark()
    base = "/orgs/acme/packages/container/app"
    assert api("DELETE", f"{base}/versions/{ids[0]}").status_code == 204
    assert api("POST", f"{base}/versions/{ids[0]}/restore").status_code == 204
    assert api("DELETE", base).status_code == 204
    assert api("POST", f"{base}/restore").status_code == 204
    assert backend.mutations_since(mark) == []


def test_cross_repository_mount_needs_pull_on_the_source(ghcr, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    source, target = f"acme/{pkg}", f"acme/{pkg}-copy"
    digest = client.push_image(source, ["v1"])
    blob = json.loads(client.get_manifest(source, digest)[1])["config"]["digest"]
    both = registry_token(ghcr, f"repository:{target}:pull,push", f"repository:{source}:pull")
    resp = oci(ghcr, "POST", f"/v2/{target}/blobs/uploads/?mount={blob}&from={source}", token=both)
    assert resp.status_code == 201 and resp.headers["Docker-Content-Digest"] == blob
    target_only = registry_token(ghcr, f"repository:{target}-2:pull,push")
    resp = oci(ghcr, "POST", f"/v2/{target}-2/blobs/uploads/?mount={blob}&from={source}", token=target_only)
    assert resp.status_code == 202  # a plain upload instead
    assert ghcr.log.last().target.endswith(f"?mount={blob}&from={source}")  # the log shows what the client sent


def test_oci_faults_apply_to_the_front(ghcr, api, pkg):
    client = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN)
    repo = f"acme/{pkg}"
    client.push_image(repo, ["v1"])
    token = registry_token(ghcr, f"repository:{repo}:pull")
    ghcr.server_error(path_prefix="/v2/", status=503)
    assert api("GET", "/orgs/acme/packages?package_type=container").status_code == 200  # the REST API is not hit
    assert_oci_error(oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=token), 503, "UNAVAILABLE")
    ghcr.rate_limit(path_prefix="/v2/", retry_after="1")
    resp = oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=token)
    assert_oci_error(resp, 429, "TOOMANYREQUESTS")
    assert resp.headers["Retry-After"] == "1"
    assert oci(ghcr, "GET", f"/v2/{repo}/tags/list", token=token).json()["tags"] == ["v1"]
    assert [r.fault for r in ghcr.log.filter(path_prefix=f"/v2/{repo}/tags/list")][-3:] == ["error", "rate_limit", None]


def test_reset_deletes_what_was_pushed(ghcr, backend, pkg):
    direct = SeedClient(backend.url)
    repo = f"acme/{pkg}"
    digest = SeedClient(ghcr.url, "octocat", DEFAULT_TOKEN).push_image(repo, ["v1"])
    assert direct.manifest_exists(repo, digest)
    ghcr.reset()
    assert not direct.manifest_exists(repo, digest) and direct.tags(repo) == []
    assert ghcr.settings()["registry_backend"] == backend.url


def test_ghcr_backend_helper():
    with GitHubEmulator() as emu:
        with ghcr_backend(emu) as registry:
            assert emu.registry_backend == registry.url and registry.auth == "none"
            digest = SeedClient(emu.url, "octocat", DEFAULT_TOKEN).push_image("acme/app", ["v1"])
            assert SeedClient(registry.url).resolve("acme/app", "v1") == digest
        assert emu.registry_backend is None


# --------------------------------------------------------------------------- standalone runner

def test_standalone_runner(tmp_path):
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps({"orgs": [{"login": "demo", "packages": [{"name": "web", "versions": [{"name": D1, "tags": ["latest"]}]}]}]}),
                         encoding="utf-8")
    cmd = [sys.executable, "-m", "tests.emulators.github", "--port", "0", "--seed", str(seed_file), "--token", "extra=installation",
           "--rate-limit", "100"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert "github emulator listening on http://127.0.0.1:" in first, first + proc.stderr.read()
            url = first.split()[-1]
            lines = []
            while not lines or not lines[-1].startswith("control endpoints:"):
                lines.append(proc.stdout.readline())
            text = "".join(lines)
            assert f"playbooks: provider: github, api_url: {url}, api_token: {DEFAULT_TOKEN}" in text
            assert f"API base: {url}" in text and DEFAULT_INSTALLATION_TOKEN in text and "extra (installation)" in text
            assert "orgs: acme, demo" in text
            resp = requests.get(f"{url}/orgs/demo/packages/container/web/versions", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                                timeout=5)
            assert resp.json()[0]["metadata"]["container"]["tags"] == ["latest"] and resp.headers["x-ratelimit-limit"] == "100"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0


def test_standalone_runner_with_backend(backend, pkg):
    cmd = [sys.executable, "-m", "tests.emulators.github", "--port", "0", "--registry-backend", backend.url]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            first = proc.stdout.readline()
            assert "github emulator listening on http://127.0.0.1:" in first, first + proc.stderr.read()
            url = first.split()[-1]
            lines = []
            while not lines or not lines[-1].startswith("control endpoints:"):
                lines.append(proc.stdout.readline())
            text = "".join(lines)
            assert f"OCI endpoint (ghcr.io front): {url}/v2/ -> {backend.url}" in text and f"{url}/token" in text
            assert f"api_token: {DEFAULT_TOKEN}, oci_url: {url}" in text
            digest = SeedClient(url, "octocat", DEFAULT_TOKEN).push_image(f"acme/{pkg}", ["v1"])
            resp = requests.get(f"{url}/orgs/acme/packages/container/{pkg}/versions", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                                timeout=5)
            assert [(v["name"], v["metadata"]["container"]["tags"]) for v in resp.json()] == [(digest, ["v1"])]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
        assert proc.returncode == 0


def test_timing_sanity(api):
    start = time.monotonic()
    for _unused in range(20):
        api("GET", "/orgs/acme/packages?package_type=container")
    assert time.monotonic() - start < 2
