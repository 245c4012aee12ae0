# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``gitlab`` provider's translation: addressing, auth kinds, error shapes, pagination, the asynchronous deletes,
the bulk tag delete (predicted client-side, compared with what GitLab's job really deleted), protected tags.

The provider talks to the GitLab emulator (``tests/emulators/gitlab.py``) in this process, over real HTTP on loopback,
and every request it sends is checked in the emulator's request log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import sys

import pytest
import requests

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, NotFoundError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Action
from ansible_collections.regops.registry.plugins.module_utils.providers.gitlab import (
    GitLabProvider,
    bulk_candidates,
    bulk_request,
    check_bulk,
    check_cleanup_policy,
    duration_seconds,
    encode,
    gitlab_error,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import provider_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.gitlab import DEFAULT_JOB_TOKEN, DEFAULT_TOKEN, GitLabEmulator  # noqa: E402 pylint: disable=wrong-import-position
from tests.support.faultproxy import FaultProxy, FaultRule  # noqa: E402 pylint: disable=wrong-import-position

ADMIN_TOKEN = "emulator-gitlab-admin-token"
MAINTAINER_TOKEN = "emulator-gitlab-maintainer-token"

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
UTC = datetime.timezone.utc


def digest(char):
    return "sha256:" + char * 64


def ago(days=0, hours=0):
    """An ISO time ``days``/``hours`` before now (the emulator's clock is real time in these tests)."""
    return (datetime.datetime.now(UTC) - datetime.timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def emulator():
    with GitLabEmulator(async_delay=None, async_polls=2) as emu:
        yield emu


DEFAULT_SETTINGS = {"async_delay": None, "async_polls": 2, "keyset_tags": True, "tag_delete_status": 204, "repository_delete_status": 202,
                    "bulk_delete_status": 202, "repository_delete_outcome": "success", "bulk_delete_lease_seconds": 3600,
                    "bulk_delete_limit": None, "repository_size": True, "max_per_page": 100, "default_per_page": 20}


@pytest.fixture
def emu(emulator):
    emulator.configure(**DEFAULT_SETTINGS)
    emulator.clear_faults()
    emulator.reset()
    emulator.log.clear()
    yield emulator
    emulator.clear_faults()
    emulator.reset()


class FakeClock:
    """``sleep`` and ``monotonic`` for the provider: waiting takes no real time."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self):
        return self.now


@pytest.fixture
def connect(monkeypatch):
    made = []
    monkeypatch.delenv("CI_JOB_TOKEN", raising=False)
    monkeypatch.delenv("CI_API_V4_URL", raising=False)

    def make(emu, info=False, resource="tag", state=None, warnings=None, **params):
        base = provider_params("gitlab", params.pop("api_url", emu.url), params.pop("api_token", DEFAULT_TOKEN), **params)
        provider = GitLabProvider(base, warn=(warnings.append if warnings is not None else None))
        clock = FakeClock()
        provider.sleep, provider.monotonic = clock.sleep, clock.monotonic
        provider.clock = clock
        provider.require(resource, state=state, info=info)
        provider.connect()
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def sent(emu, methods=MUTATING):
    return [(r.method, r.target) for r in emu.log.records if r.method in methods]


def gets(emu, prefix=""):
    return [r for r in emu.log.records if r.method == "GET" and r.path.startswith("/api/v4" + prefix)]


# ---------------------------------------------------------------------------------------------
# Pure helpers

def test_encoding_and_owner_paths():
    provider = GitLabProvider({})
    assert encode("acme/app") == "acme%2Fapp" and encode("acme/sub/lib") == "acme%2Fsub%2Flib" and encode(42) == "42"
    assert provider.owner_path("acme/app", "registry", "repositories") == "/projects/acme%2Fapp/registry/repositories"
    assert provider.owner_path("42") == "/projects/42"
    assert provider.owner_path("group:acme/platform", "registry", "repositories") == "/groups/acme%2Fplatform/registry/repositories"
    assert provider.parse_registry("group:7") == ("groups", "7")
    for bad in ("", "acme/", "/acme", "acme//app", "-acme/app", "acme/app\n", "group:", "acme app", None):
        with pytest.raises(ValueError, match="is not a GitLab project or group"):
            provider.parse_registry(bad)


def test_error_shapes():
    class Response:
        def __init__(self, body=None, text="", headers=None):
            self._body, self.text, self.headers = body, text, headers or {}

        def json(self):
            if self._body is None:
                raise ValueError("not json")
            return self._body

    assert gitlab_error(Response({"message": "404 Project Not Found"}, headers={"X-Request-Id": "r1"})) == ("404 Project Not Found", None, "r1")
    assert gitlab_error(Response({"message": {"container_expiration_policy.cadence": ["is not included in the list"],
                                              "name": "taken"}}))[0] == (
        "container_expiration_policy.cadence is not included in the list; name taken")
    assert gitlab_error(Response({"error": "insufficient_scope", "error_description": "needs api"}))[:2] == (
        "insufficient_scope: needs api", "insufficient_scope")
    assert gitlab_error(Response({"error": "name_regex_delete is an invalid regexp"}))[0] == "name_regex_delete is an invalid regexp"
    assert gitlab_error(Response(None, text="Retry later\n"))[0] == "Retry later"


def test_durations_and_option_checks():
    assert [duration_seconds(t) for t in ("1h", "7d", "2w", "1month", "3 months", "1y", "90min", "0d")] == [
        3600, 604800, 1209600, 2592000, 7776000, 31536000, 5400, 0]
    for bad in ("", "7", "d", "1 fortnight", "-1d", "1.5d", "7d\n", None, 7):
        assert duration_seconds(bad) is None
    assert check_bulk({"name_regex_delete": ".*", "name_regex_keep": None, "keep_n": 0, "older_than": "2d"}) == {
        "name_regex_delete": ".*", "keep_n": 0, "older_than": "2d"}
    bad = [
        ({"name_regex_keep": "x"}, "bulk.name_regex_delete is required"),
        ({"name_regex_delete": "("}, "bulk.name_regex_delete '(' is not a valid regular expression"),
        ({"name_regex_delete": "(?!v).*"}, "is not a regular expression GitLab accepts"),
        ({"name_regex_delete": r"(a)\1"}, "no backreferences"),
        ({"name_regex_delete": ".*", "keep_n": -1}, "bulk.keep_n must be a whole number"),
        ({"name_regex_delete": ".*", "older_than": "a week"}, "bulk.older_than 'a week' is not a GitLab duration"),
        ({"name_regex_delete": ".*", "colour": "red"}, "unknown bulk key"),
    ]
    for value, message in bad:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("\\1", "\\\\1")):
            check_bulk(value)
    assert check_cleanup_policy({"enabled": True, "cadence": "7d", "keep_n": 10, "older_than": None}) == {
        "enabled": True, "cadence": "7d", "keep_n": 10}
    for value, message in [({"cadence": "2d"}, "cleanup_policy.cadence must be one of 1d, 7d, 14d, 1month, 3month"),
                           ({"keep_n": 3}, "cleanup_policy.keep_n must be one of 1, 5, 10, 25, 50, 100"),
                           ({"keep_n": True}, "cleanup_policy.keep_n"),
                           ({"older_than": "1d"}, "cleanup_policy.older_than must be one of 7d, 14d, 30d, 90d"),
                           ({"enabled": "yes"}, "cleanup_policy.enabled must be true or false"),
                           ({"name_regex": "[a"}, "cleanup_policy.name_regex '[a' is not a valid regular expression"),
                           ({"schedule": "x"}, "unknown cleanup_policy key")]:
        with pytest.raises(ValueError, match=message.replace("[", r"\[")):
            check_cleanup_policy(value)


def test_bulk_request_groups_alternations():
    assert bulk_request({"name_regex_delete": "pr-.*|v.*", "name_regex_keep": "main", "keep_n": 2}) == {
        "name_regex_delete": "(?:pr-.*|v.*)", "name_regex_keep": "main", "keep_n": 2}
    assert bulk_request({"name_regex_delete": ".*", "name_regex_keep": "a|b"}) == {"name_regex_delete": ".*", "name_regex_keep": "(?:a|b)"}


def test_bulk_candidates_rules():
    now = datetime.datetime(2026, 6, 1, tzinfo=UTC)

    def day(n):
        return now - datetime.timedelta(days=n)

    tags = {"latest": day(100), "v1": day(90), "v2": day(60), "v3": day(30), "main": day(80), "pr-1": day(40), "pr-2": None,
            "keep-me": day(200), "rc1": day(70)}
    delete, kept = bulk_candidates(tags, {"name_regex_delete": "v.*|pr-.*|rc1|keep-me", "name_regex_keep": "keep-.*", "keep_n": 2,
                                          "older_than": "45d"}, now, protected=lambda name: name == "rc1")
    # anchored: "v.*|pr-.*" matches whole names only; latest never; keep regex wins; protected out; the 2 newest
    # (pr-2 has no time: newest) kept; then only older than 45 days
    assert delete == ["v1", "v2"]
    assert kept == {"latest": "latest", "main": "no_match", "keep-me": "name_regex_keep", "rc1": "protected", "pr-2": "keep_n",
                    "v3": "keep_n", "pr-1": "older_than"}
    assert bulk_candidates({"v1": day(1), "xv1": day(1)}, {"name_regex_delete": "v1"}, now) == (["v1"], {"xv1": "no_match"})


# ---------------------------------------------------------------------------------------------
# Authentication

def test_auth_kinds(emu, connect, monkeypatch):
    emu.add_repository("acme/app", "", tags=["v1"])
    connect(emu, info=True).list_tag({"registry": "acme/app"})
    connect(emu, info=True, api_username="oauth2").list_tag({"registry": "acme/app"})
    connect(emu, info=True, api_token=DEFAULT_JOB_TOKEN, api_username="gitlab-ci-token").list_tag({"registry": "acme/app"})
    headers = [r.headers for r in emu.log.records]
    assert {"PRIVATE-TOKEN"} <= set(headers[0]) and "Authorization" not in headers[0]
    kinds = []
    for record in emu.log.records:
        if "PRIVATE-TOKEN" in record.headers:
            kinds.append("private")
        elif record.headers.get("Authorization") == "Bearer ***":
            kinds.append("oauth")
        elif "JOB-TOKEN" in record.headers:
            kinds.append("job")
    assert [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k] == ["private", "oauth", "job"]
    assert all(r.status == 200 for r in emu.log.records)

    # CI_JOB_TOKEN from a CI job's environment: JOB-TOKEN, the API under /api/v4 (CI_API_V4_URL, which the module's
    # env_fallbacks hand over as api_url), the token masked
    emu.log.clear()
    monkeypatch.setenv("CI_JOB_TOKEN", DEFAULT_JOB_TOKEN)
    assert GitLabProvider.env_fallbacks["api_url"] == ("CI_API_V4_URL",)
    provider = GitLabProvider({"api_url": emu.api_base, "api_token": None, "api_username": None, "validate_certs": True, "ca_path": None,
                               "timeout": 10, "retries": 0, "concurrency": 2})
    provider.require("tag", info=True)
    provider.connect()
    assert provider.auth_kind == "job" and provider.secrets == [DEFAULT_JOB_TOKEN]
    assert [t["name"] for t in provider.list_tag({"registry": "acme/app"})] == ["v1"]
    assert all("JOB-TOKEN" in r.headers and r.path.startswith("/api/v4/") for r in emu.log.records)
    provider.close()


def test_credential_problems_fail_before_any_request(emu, monkeypatch):
    monkeypatch.delenv("CI_JOB_TOKEN", raising=False)
    base = {"api_url": emu.url, "api_token": None, "api_username": None, "validate_certs": True, "ca_path": None, "timeout": 5,
            "retries": 0, "concurrency": 1}
    with pytest.raises(ValueError, match="provider gitlab needs api_token"):
        GitLabProvider(dict(base)).connect()
    with pytest.raises(ValueError, match="api_username 'admin' is not used by provider gitlab"):
        GitLabProvider(dict(base, api_token="x", api_username="admin")).connect()
    assert len(emu.log) == 0


def test_job_token_reaches_only_its_project(emu, connect):
    emu.add_project("other/proj")
    emu.add_repository("other/proj", "", tags=["v1"])
    provider = connect(emu, info=True, api_token=DEFAULT_JOB_TOKEN, api_username="gitlab-ci-token")
    with pytest.raises(ApiError, match="Authentication by CI/CD job token not allowed"):
        provider.list_tag({"registry": "other/proj"})


# ---------------------------------------------------------------------------------------------
# Addressing: registries, names both ways, names outside the project

def test_repository_names_map_both_ways(emu, connect):
    emu.add_project("acme/sub/lib")
    emu.add_repository("acme/sub/lib", "", tags=["1.0"])
    emu.add_repository("acme/sub/lib", "tools/cli", tags=["2.0"])
    provider = connect(emu, info=True, resource="repository")
    repos = provider.list_repository({"registry": "acme/sub/lib"})
    assert [(r["name"], r["provider_data"]["image_name"], r["location"]) for r in repos] == [
        ("acme/sub/lib", "", "gitlab.example.com:5050/acme/sub/lib"),
        ("acme/sub/lib/tools/cli", "tools/cli", "gitlab.example.com:5050/acme/sub/lib/tools/cli")]
    assert [r.target for r in gets(emu)] == ["/api/v4/projects/acme%2Fsub%2Flib/registry/repositories?tags_count=true&page=1&per_page=100"]
    tags = provider.list_tag({"registry": "acme/sub/lib", "repository": ["acme/sub/lib/tools/cli"]})
    assert [(t["repository"], t["name"]) for t in tags] == [("acme/sub/lib/tools/cli", "2.0")]
    # by numeric id: the same names
    project_id = emu.project_id("acme/sub/lib")
    assert [r["name"] for r in provider.list_repository({"registry": str(project_id)})] == ["acme/sub/lib", "acme/sub/lib/tools/cli"]


def test_names_outside_the_project_fail(emu, connect):
    emu.add_repository("acme/app", "", tags=["v1"])
    provider = connect(emu, resource="tag", state="absent")
    for bad in ("acme/other", "acme/application", "acme"):
        with pytest.raises(ValueError, match="repository '%s' is not in the project acme/app" % bad):
            provider.validate("tag", [{"registry": "acme/app", "repository": bad, "name": "v1"}])
    assert len(emu.log) == 0
    provider.validate("tag", [{"registry": "acme/app", "repository": "acme/app/x", "name": "v1"}])
    # a numeric id: the path is read first (no change sent yet)
    project_id = str(emu.project_id())
    with pytest.raises(ValueError, match="repository 'acme/other' is not in the project %s: .* acme/app for the project's own image"
                       % project_id):
        provider.read_tag([{"registry": project_id, "repository": "acme/other", "name": "v1"}])
    assert sent(emu) == []
    # a numeric project without repositories: the project tells its path
    emu.add_project("acme/empty")
    empty = connect(emu, info=True)
    with pytest.raises(ValueError, match="not in the project"):
        empty.list_tag({"registry": str(emu.project_id("acme/empty")), "repository": ["acme/app"]})


def test_groups_are_read_only(emu, connect):
    emu.add_project("acme/web")
    emu.add_repository("acme/app", "", tags=["v1"])
    emu.add_repository("acme/web", "frontend", tags=["f1"])
    reader = connect(emu, info=True, resource="repository")
    assert [r["name"] for r in reader.list_repository({"registry": "group:acme"})] == ["acme/app", "acme/web/frontend"]
    assert all(r["provider_data"]["tags_count"] is None for r in reader.list_repository({"registry": "group:acme"}))
    assert [(t["repository"], t["name"]) for t in reader.list_tag({"registry": "group:acme"})] == [("acme/app", "v1"), ("acme/web/frontend", "f1")]
    with pytest.raises(ValueError, match="is not in the group group:acme"):
        reader.list_repository({"registry": "group:acme", "name": ["other/app"]})
    registry = connect(emu, info=True, resource="registry").list_registry({"name": "group:acme"})
    assert registry == [{"name": "group:acme", "id": None, "url": "gitlab.example.com:5050/acme", "storage_limit_bytes": None,
                         "storage_used_bytes": None, "public": None, "region": None, "plan": None, "created_at": None, "updated_at": None,
                         "provider_data": {"kind": "group", "full_path": "acme"}}]
    assert connect(emu, info=True, resource="registry").list_registry({"name": "group:nobody"}) == []
    writer = connect(emu, resource="tag", state="absent")
    with pytest.raises(ValueError, match="registry 'group:acme' is a GitLab group: a group's registry can only be read"):
        writer.validate("tag", [{"registry": "group:acme", "repository": "acme/app", "name": "v1"}])
    with pytest.raises(ValueError, match="provider gitlab needs registry"):
        writer.validate("tag", [{"registry": None, "repository": "acme/app", "name": "v1"}])


# ---------------------------------------------------------------------------------------------
# Registries: project settings and the cleanup policy

def test_registry_settings(emu, connect):
    emu.add_project("acme/pub", visibility="public")
    provider = connect(emu, resource="registry", state="present")
    with pytest.raises(UnsupportedError, match="Provider 'gitlab' cannot delete a registry: the registry of a GitLab project is part"):
        provider.require("registry", state="absent")
    current = provider.read_registry([{"name": "acme/pub"}])[0]
    assert current["public"] is True and current["url"] == "gitlab.example.com:5050/acme/pub"
    assert current["provider_data"]["cleanup_policy"] == {"enabled": False, "cadence": "1d", "keep_n": 10, "older_than": "90d",
                                                          "name_regex": ".*", "name_regex_keep": None,
                                                          "next_run_at": current["provider_data"]["cleanup_policy"]["next_run_at"]}
    desired = {"access_level": "private", "cleanup_policy": {"enabled": True, "cadence": "7d", "keep_n": None, "older_than": "30d",
                                                             "name_regex": None, "name_regex_keep": "v.*"}}
    emu.log.clear()
    check = engine.ensure(provider, "registry", [{"name": "acme/pub"}], "present", desired, check_mode=True, diff_mode=True)
    assert sent(emu) == []
    real = engine.ensure(provider, "registry", [{"name": "acme/pub"}], "present", desired, diff_mode=True)
    assert check["actions"] == real["actions"] == [{"ref": "acme/pub", "action": "updated"}]
    assert [(r.method, r.target, r.body) for r in emu.log.records if r.method == "PUT"] == [
        ("PUT", "/api/v4/projects/acme%2Fpub", {"container_registry_access_level": "private", "container_expiration_policy_attributes": {
            "enabled": True, "cadence": "7d", "older_than": "30d", "name_regex_keep": "v.*"}})]
    done = real["registry"]
    assert done["public"] is False and done["provider_data"]["access_level"] == "private"
    predicted = check["registry"]
    assert predicted["provider_data"]["cleanup_policy"]["next_run_at"] is None
    assert dict(predicted["provider_data"]["cleanup_policy"], next_run_at=None) == dict(done["provider_data"]["cleanup_policy"], next_run_at=None)
    assert check["diff"] == dict(real["diff"], after=dict(real["diff"]["after"], provider_data=dict(
        real["diff"]["after"]["provider_data"], cleanup_policy=dict(done["provider_data"]["cleanup_policy"], next_run_at=None))))
    # again: nothing differs, nothing is saved (saving would restart the schedule)
    emu.log.clear()
    again = engine.ensure(provider, "registry", [{"name": "acme/pub"}], "present", desired)
    assert again["changed"] is False and sent(emu) == []
    # a project that does not exist is not created
    with pytest.raises(engine.Failure, match="project acme/nope does not exist, or the token cannot see it"):
        engine.ensure(provider, "registry", [{"name": "acme/nope"}], "present", {"access_level": "enabled"})
    assert provider.list_registry({"name": "acme/nope"}) == []
    with pytest.raises(ValueError, match="provider gitlab needs name"):
        provider.list_registry({"name": None})


# ---------------------------------------------------------------------------------------------
# Pagination

def test_tags_keyset_pagination_and_per_page(emu, connect):
    emu.add_repository("acme/app", "", tags=["t%03d" % i for i in range(230)])
    provider = connect(emu, info=True)
    tags = provider.list_tag({"registry": "acme/app"})
    assert [t["name"] for t in tags] == ["t%03d" % i for i in range(230)]
    lists = [r for r in gets(emu) if r.path.endswith("/tags")]
    assert [r.query for r in lists] == [
        {"pagination": "keyset", "order_by": "name", "sort": "asc", "per_page": "100"},
        {"pagination": "keyset", "order_by": "name", "sort": "asc", "per_page": "100", "last": "t099"},
        {"pagination": "keyset", "order_by": "name", "sort": "asc", "per_page": "100", "last": "t199"}]
    assert len([r for r in gets(emu) if "/tags/" in r.path]) == 230  # one details request per tag
    assert provider._keyset is True


@pytest.mark.parametrize("refusal", ["405", "400"])
def test_tags_offset_fallback_is_remembered(emu, connect, refusal):
    emu.add_repository("acme/app", "", tags=["a%03d" % i for i in range(150)])
    emu.add_repository("acme/app", "worker", tags=["w1"])
    if refusal == "405":
        emu.configure(keyset_tags=False)
    else:
        emu.error(400, times=1, method="GET", path_prefix="/api/v4/projects/1001/registry/repositories/", message="400 Bad request")
    provider = connect(emu, info=True, concurrency=1)
    tags = provider.list_tag({"registry": "acme/app"})
    assert len(tags) == 151
    lists = [r for r in gets(emu) if r.path.endswith("/tags")]
    assert lists[0].query.get("pagination") == "keyset" and lists[0].status == int(refusal)
    # then offset pages (X-Next-Page), and the next repository goes straight to offset
    assert [r.query for r in lists[1:]] == [{"page": "1", "per_page": "100"}, {"page": "2", "per_page": "100"}, {"page": "1", "per_page": "100"}]
    assert provider._keyset is False


def test_repository_list_is_paged(emu, connect):
    for index in range(105):
        emu.add_repository("acme/app", "img%03d" % index)
    repos = connect(emu, info=True, resource="repository").list_repository({"registry": "acme/app"})
    assert len(repos) == 105
    assert [r.query for r in gets(emu)] == [
        {"tags_count": "true", "page": "1", "per_page": "100"}, {"tags_count": "true", "page": "2", "per_page": "100"}]


# ---------------------------------------------------------------------------------------------
# Repository info and the asynchronous repository delete

def test_repository_info_sizes_only_for_named(emu, connect):
    emu.add_repository("acme/app", "", created_at="2026-01-01T00:00:00Z", tags=[
        {"name": "v1", "digest": digest("a"), "total_size": 100}, {"name": "v2", "digest": digest("a"), "total_size": 100}])
    emu.add_repository("acme/app", "old", created_at="2020-01-01T00:00:00Z", tags=["x"])
    provider = connect(emu, info=True, resource="repository")
    listed = provider.list_repository({"registry": "acme/app"})
    assert [(r["name"], r["size_bytes"], r["artifact_count"], r["provider_data"]["tags_count"]) for r in listed] == [
        ("acme/app", None, None, 2), ("acme/app/old", None, None, 1)]
    assert not [r for r in gets(emu) if r.path.startswith("/api/v4/registry/")]
    named = provider.list_repository({"registry": "acme/app", "name": ["acme/app", "acme/app/old", "acme/app/none"]})
    # deduplicated size on GitLab.com; null for a repository created before 2021-11-04
    assert [(r["name"], r["size_bytes"]) for r in named] == [("acme/app", 100), ("acme/app/old", None)]
    assert sorted(r.target for r in gets(emu, "/registry/")) == sorted(
        "/api/v4/registry/repositories/%d?size=true" % r["id"] for r in named)


@pytest.mark.parametrize("status", [202, 204])
def test_repository_delete_waits_until_gone(emu, connect, status):
    emu.configure(repository_delete_status=status)
    emu.add_repository("acme/app", "worker", tags=["w1", "w2"])
    provider = connect(emu, resource="repository", state="absent", wait=True, wait_timeout=60)
    item = {"registry": "acme/app", "name": "acme/app/worker"}
    check = engine.ensure(provider, "repository", [item], "absent", {}, check_mode=True)
    assert sent(emu) == [] and provider.results == {"repository_status": "deleted"}
    result = engine.ensure(provider, "repository", [item], "absent", {})
    assert result["actions"] == check["actions"] == [{"ref": "acme/app/worker", "action": "deleted"}]
    assert result["repository"]["name"] == "acme/app/worker" and provider.results == {"repository_status": "deleted"}
    repo_id = result["repository"]["id"]
    assert sent(emu) == [("DELETE", "/api/v4/projects/acme%%2Fapp/registry/repositories/%d" % repo_id)]
    polls = [r.status for r in gets(emu, "/registry/repositories/%d" % repo_id)]
    assert polls == [200, 404]  # the second read finishes GitLab's job (async_polls: 2)
    assert provider.clock.sleeps == [0.5]
    assert "acme/app/worker" not in [p["path"] for p in emu.dump_state()["projects"][0]["repositories"]]
    again = connect(emu, resource="repository", state="absent")
    assert engine.ensure(again, "repository", [item], "absent", {})["changed"] is False


def test_repository_delete_without_wait_failed_and_timeout(emu, connect):
    emu.add_repository("acme/app", "a", tags=["1"])
    emu.add_repository("acme/app", "b", tags=["1"])
    emu.add_repository("acme/app", "c", tags=["1"])
    # wait: false: accepted, the status GitLab shows
    provider = connect(emu, resource="repository", state="absent", wait=False)
    result = engine.ensure(provider, "repository", [{"registry": "acme/app", "name": "acme/app/a"}], "absent", {})
    assert result["changed"] is True and provider.results == {"repository_status": "delete_scheduled"}
    # delete_failed: the task fails saying so
    emu.configure(repository_delete_outcome="failed")
    failing = connect(emu, resource="repository", state="absent", wait=True, wait_timeout=60)
    with pytest.raises(engine.Failure, match="GitLab could not delete repository acme/app/b \\(status delete_failed\\)"):
        engine.ensure(failing, "repository", [{"registry": "acme/app", "name": "acme/app/b"}], "absent", {})
    # a timeout: still scheduled
    emu.configure(repository_delete_outcome="success", async_polls=None)
    slow = connect(emu, resource="repository", state="absent", wait=True, wait_timeout=20)
    with pytest.raises(engine.Failure, match="repository acme/app/c is still being deleted after 20 seconds \\(status delete_scheduled\\)"):
        engine.ensure(slow, "repository", [{"registry": "acme/app", "name": "acme/app/c"}], "absent", {})
    assert sum(slow.clock.sleeps) == pytest.approx(20) and max(slow.clock.sleeps) == 5.0
    # a repository already being deleted counts as absent: nothing sent, and with wait the task waits for it
    emu.add_repository("acme/app", "d", tags=["1"])
    engine.ensure(connect(emu, resource="repository", state="absent", wait=False), "repository",
                  [{"registry": "acme/app", "name": "acme/app/d"}], "absent", {})
    emu.configure(async_polls=3)
    emu.log.clear()
    waiting = []
    rerun = connect(emu, resource="repository", state="absent", wait=True, warnings=waiting)
    result = engine.ensure(rerun, "repository", [{"registry": "acme/app", "name": "acme/app/d"}], "absent", {})
    assert result["changed"] is False and result["actions"] == [{"ref": "acme/app/d", "action": "absent"}]
    assert sent(emu) == [] and rerun.results == {"repository_status": "deleted"}
    assert waiting == ["repository acme/app/d was already being deleted by GitLab (status delete_ongoing); waiting for it"]
    # without wait: absent at once, the status said
    emu.add_repository("acme/app", "e", tags=["1"])
    engine.ensure(connect(emu, resource="repository", state="absent", wait=False), "repository",
                  [{"registry": "acme/app", "name": "acme/app/e"}], "absent", {})
    quick = connect(emu, resource="repository", state="absent", wait=False)
    result = engine.ensure(quick, "repository", [{"registry": "acme/app", "name": "acme/app/e"}], "absent", {})
    assert result["changed"] is False and quick.results == {"repository_status": "delete_ongoing"}
    # delete_failed is deleted again
    failed_id = emu.repository_id("acme/app", "b")
    again = connect(emu, resource="repository", state="absent")
    result = engine.ensure(again, "repository", [{"registry": "acme/app", "name": "acme/app/b"}], "absent", {})
    assert result["changed"] is True and ("DELETE", "/api/v4/projects/acme%%2Fapp/registry/repositories/%d" % failed_id) in sent(emu)


# ---------------------------------------------------------------------------------------------
# Tags: details, the single delete (200/204, 403 protected, 404), expected digests

def seed_tags(emu):
    emu.add_repository("acme/app", "", tags=[
        {"name": "v1", "digest": digest("a"), "created_at": "2026-01-01T00:00:00Z", "total_size": 1000},
        {"name": "v1-alias", "digest": digest("a"), "created_at": "2026-01-01T00:00:00Z", "total_size": 1000},
        {"name": "v2", "digest": digest("b"), "created_at": "2026-02-01T00:00:00Z", "total_size": 2000},
        {"name": "release-1", "digest": digest("c"), "created_at": "2026-03-01T00:00:00Z", "total_size": 3000}])


def test_tag_and_artifact_listing(emu, connect):
    seed_tags(emu)
    provider = connect(emu, info=True, resource="artifact")
    tags = provider.list_tag({"registry": "acme/app", "repository": ["acme/app"], "name": ["v1", "nope"]})
    assert tags == [{"repository": "acme/app", "name": "v1", "digest": digest("a"), "pushed_at": "2026-01-01T00:00:00Z", "pulled_at": None,
                     "provider_data": {"created_at": "2026-01-01T00:00:00Z", "total_size": 1000, "revision": tags[0]["provider_data"]["revision"],
                                       "location": "gitlab.example.com:5050/acme/app:v1", "project_id": 1001,
                                       "repository_id": emu.repository_id("acme/app", "")}}]
    assert not [r for r in gets(emu) if r.path.endswith("/tags")]  # named tags: details only, no listing
    artifacts = provider.list_artifact({"registry": "acme/app"})
    assert [(a["digest"], a["tags"], a["size_bytes"], a["pushed_at"], a["created_at"], a["media_type"]) for a in artifacts] == [
        (digest("a"), ["v1", "v1-alias"], 1000, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", None),
        (digest("b"), ["v2"], 2000, "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z", None),
        (digest("c"), ["release-1"], 3000, "2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", None)]
    assert [t["name"] for t in artifacts[0]["provider_data"]["tags"]] == ["v1", "v1-alias"]


@pytest.mark.parametrize("status", [200, 204])
def test_single_tag_delete(emu, connect, status):
    emu.configure(tag_delete_status=status)
    seed_tags(emu)
    emu.add_protection_rule("acme/app", "tag", "^release-", push="admin", delete="admin")
    provider = connect(emu, resource="tag", state="absent")
    items = [{"registry": "acme/app", "repository": "acme/app", "name": n} for n in ("v1", "release-1", "gone", "v2")]
    check = engine.ensure(provider, "tag", items, "absent", {"recheck": False}, check_mode=True)
    assert sent(emu) == []
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(provider, "tag", items, "absent", {"recheck": False})
    result = caught.value.result
    assert [a["action"] for a in result["actions"]] == [a["action"] for a in check["actions"]][:1] + ["failed", "absent", "deleted"]
    assert "tag release-1 is protected by a tag protection rule: GitLab refused to delete it (HTTP 403" in result["actions"][1]["msg"]
    assert emu.tag_names(emu.repository_id("acme/app", "")) == ["release-1", "v1-alias"]
    repo = emu.repository_id("acme/app", "")
    assert sorted(sent(emu)) == sorted(("DELETE", "/api/v4/projects/1001/registry/repositories/%d/tags/%s" % (repo, n))
                                       for n in ("v1", "release-1", "v2"))


def test_tag_delete_rechecks_expected_digests(emu, connect):
    seed_tags(emu)
    provider = connect(emu, resource="tag", state="absent")
    items = [{"registry": "acme/app", "repository": "acme/app", "name": n} for n in ("v1", "v2")]
    currents = provider.read_tag(items)
    emu.add_tag("acme/app", "", "v2", digest=digest("d"))  # pushed again after the read
    emu.log.clear()
    actions = [Action("delete", item, current, {"recheck": True}) for item, current in zip(items, currents)]
    results = provider.apply_tag(actions)
    assert results[0][2] is None
    assert results[1][2].reason == "moved" and str(results[1][2]) == (
        "moved: now points at %s, expected %s; not removed" % (digest("d"), digest("b")))
    repo = emu.repository_id("acme/app", "")
    assert sent(emu) == [("DELETE", "/api/v4/projects/1001/registry/repositories/%d/tags/v1" % repo)]
    assert len([r for r in gets(emu) if "/tags/" in r.path]) == 2


# ---------------------------------------------------------------------------------------------
# Artifacts: every tag of the digest, re-read first

def test_artifact_delete(emu, connect):
    seed_tags(emu)
    emu.add_tag("acme/app", "", "zz-protected", digest=digest("c"))
    emu.add_protection_rule("acme/app", "tag", "^zz-", push="admin", delete="admin")
    provider = connect(emu, resource="artifact", state="absent")
    items = [{"registry": "acme/app", "repository": "acme/app", "digest": d} for d in (digest("a"), digest("c"), digest("e"))]
    result = None
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(provider, "artifact", items, "absent", {})
    result = caught.value.result
    assert [a["action"] for a in result["actions"]] == ["deleted", "failed", "absent"]
    assert result["artifacts"][0]["tags"] == ["v1", "v1-alias"]
    # the tag a protection rule names went first: the 403 came before release-1 was touched
    assert "tag zz-protected is protected" in result["actions"][1]["msg"]
    assert emu.tag_names(emu.repository_id("acme/app", "")) == ["release-1", "v2", "zz-protected"]
    # a tag moved since the read: the digest is skipped, nothing deleted
    emu.add_tag("acme/app", "", "v2b", digest=digest("b"))
    current = provider.read_artifact([{"registry": "acme/app", "repository": "acme/app", "digest": digest("b")}])[0]
    emu.add_tag("acme/app", "", "v2b", digest=digest("f"))
    emu.log.clear()
    with pytest.raises(ValueError) as skipped:
        provider.delete_artifact({"registry": "acme/app", "repository": "acme/app", "digest": digest("b")}, current)
    assert skipped.value.reason == "tags_changed" and "v2b no longer point at this digest" in str(skipped.value)
    assert sent(emu) == []
    # a digest that gained a tag since the read: skipped too (one listing of the names, details of the new one only)
    fresh = connect(emu, resource="artifact", state="absent")
    items = [{"registry": "acme/app", "repository": "acme/app", "digest": d} for d in (digest("f"), digest("c"))]
    currents = fresh.read_artifact(items)
    emu.add_tag("acme/app", "", "hotfix", digest=digest("f"))
    emu.log.clear()
    done = fresh.apply_artifact([Action("delete", i, c) for i, c in zip(items, currents)])
    assert done[0][2].reason == "tags_changed" and str(done[0][2]) == (
        "tag(s) hotfix now point at this digest (pushed since it was read); not deleted")
    assert done[1][2] is not None and "zz-protected is protected" in str(done[1][2])
    repo = emu.repository_id("acme/app", "")
    assert [r.target for r in gets(emu) if "/tags" in r.path][:2] == [
        "/api/v4/projects/1001/registry/repositories/%d/tags?pagination=keyset&order_by=name&sort=asc&per_page=100" % repo,
        "/api/v4/projects/1001/registry/repositories/%d/tags/hotfix" % repo]
    assert "hotfix" in emu.tag_names(repo) and "v2b" in emu.tag_names(repo)


def test_gone_since_the_read_is_absent_not_deleted(emu, connect):
    """A tag or digest that another run (or a person) removed between this run's read and its delete is reported
    ``absent``, never ``deleted``: a report must not count what its run did not do. A 404 to a repeated DELETE (this run's
    first attempt went through, its answer was lost) is this run's delete."""
    seed_tags(emu)
    repo = emu.repository_id("acme/app", "")

    def another_run_removes(name):
        url = "%s/api/v4/projects/1001/registry/repositories/%d/tags/%s" % (emu.url, repo, name)
        assert requests.delete(url, headers={"PRIVATE-TOKEN": DEFAULT_TOKEN}, timeout=10).status_code in (200, 204)

    provider = connect(emu, resource="tag", state="absent")
    items = [{"registry": "acme/app", "repository": "acme/app", "name": n} for n in ("v1", "v2", "release-1")]
    currents = provider.read_tag(items)
    another_run_removes("v1")  # between the read and the recheck
    another_run_removes("v2")  # between the read and the delete (no recheck)
    results = provider.apply_tag([Action("delete", items[0], currents[0], {"recheck": True}),
                                  Action("delete", items[1], currents[1], {"recheck": False}),
                                  Action("delete", items[2], currents[2], {"recheck": False})])
    assert [getattr(error, "outcome", None) for _action, _result, error in results] == ["absent", "absent", None]
    assert "tag v2 is already gone" in str(results[1][2])

    seed_tags(emu)
    with FaultProxy(emu.url, rules=[FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/tags/v2$", max_faults=1)]) as proxy:
        provider = connect(emu, resource="artifact", state="absent", api_url=proxy.url)
        items = [{"registry": "acme/app", "repository": "acme/app", "digest": d} for d in (digest("a"), digest("b"))]
        provider.read_artifact(items)
        another_run_removes("v1")
        another_run_removes("v1-alias")  # every tag of digest a went since the read
        result = engine.ensure(provider, "artifact", items, "absent", {})
        assert len(proxy.faulted()) == 1  # b's DELETE acted and its answer was lost: the repeated DELETE got 404
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted"]
    assert emu.tag_names(repo) == ["release-1"]


@pytest.mark.parametrize("removed_by_another, expected", [("v1", "absent"), ("v1-alias", "deleted")])
def test_a_digest_two_runs_split_is_deleted_by_the_one_that_removed_its_first_tag(emu, connect, removed_by_another, expected):
    """Digest a has v1 and v1-alias; another run removes one of them after this run's read. This run removes the other,
    and the digest is its delete only when that is the first tag (by name, protected ones first): two runs that split a
    digest's tags never both report it deleted. The order is over ``expected_tags`` (the plan's, the same for both runs):
    this run's own read, after the other's removal, does not see the first tag."""
    seed_tags(emu)
    repo = emu.repository_id("acme/app", "")
    provider = connect(emu, resource="artifact", state="absent", expected_tags={digest("a"): ["v1", "v1-alias"]})
    items = [{"registry": "acme/app", "repository": "acme/app", "digest": digest("a")}]
    provider.read_artifact(items)
    url = "%s/api/v4/projects/1001/registry/repositories/%d/tags/%s" % (emu.url, repo, removed_by_another)
    assert requests.delete(url, headers={"PRIVATE-TOKEN": DEFAULT_TOKEN}, timeout=10).status_code in (200, 204)
    emu.log.clear()
    result = engine.ensure(provider, "artifact", items, "absent", {})
    assert [a["action"] for a in result["actions"]] == [expected]
    assert [r.path.rsplit("/", 1)[1] for r in emu.log.records if r.method == "DELETE"] == [{"v1": "v1-alias", "v1-alias": "v1"}[removed_by_another]]
    assert "v1" not in emu.tag_names(repo) and "v1-alias" not in emu.tag_names(repo)
    if expected == "absent":
        assert "its first tag v1 was removed since it was read" in result["actions"][0]["msg"]


# ---------------------------------------------------------------------------------------------
# The bulk delete: the prediction is what GitLab's job deletes

BULK_CASES = [
    {"name_regex_delete": ".*"},
    {"name_regex_delete": "pr-.*", "keep_n": 2},
    {"name_regex_delete": ".*", "name_regex_keep": "v[0-9]+|main", "older_than": "20d"},
    {"name_regex_delete": "v.*|pr-.*", "keep_n": 1, "older_than": "1h"},
    {"name_regex_delete": "nothing"},
]


def seed_bulk(emu, repository="worker"):
    tags = [{"name": "latest", "created_at": ago(days=300)}, {"name": "main", "created_at": ago(days=1)},
            {"name": "v1", "created_at": ago(days=100)}, {"name": "v2", "created_at": ago(days=50)},
            {"name": "v10", "created_at": ago(hours=2)}, {"name": "pr-1", "created_at": ago(days=30)},
            {"name": "pr-2", "created_at": ago(days=10)}, {"name": "pr-3", "created_at": ago(days=5)},
            {"name": "pr-4", "created_at": ago(hours=1)}, {"name": "keep-1", "created_at": ago(days=400)},
            {"name": "locked", "created_at": ago(days=200)}, {"name": "frozen", "created_at": ago(days=200)}]
    for index, tag in enumerate(tags):
        tag["digest"] = "sha256:%064x" % index
    emu.add_repository("acme/app", repository, tags=tags)
    return "acme/app/" + repository


@pytest.mark.parametrize("bulk", BULK_CASES, ids=lambda b: "-".join("%s=%s" % kv for kv in sorted(b.items())))
def test_bulk_prediction_is_what_gitlab_deletes(emu, connect, bulk):
    emu.configure(bulk_delete_lease_seconds=0)
    name = seed_bulk(emu)
    emu.add_protection_rule("acme/app", "tag", "^locked$", push="admin", delete="admin")   # protected from the owner token
    emu.add_protection_rule("acme/app", "tag", "^frozen$", push=None, delete=None)          # immutable
    repo_id = emu.repository_id("acme/app", "worker")
    before = emu.tag_names(repo_id)
    provider = connect(emu, resource="tag", state="absent", wait=True, wait_timeout=60)
    items, report = provider.plan_bulk_tag_delete("acme/app", [name], bulk)
    desired = {"bulk": bulk, "wait": True, "wait_timeout": 60}
    check = engine.ensure(provider, "tag", items, "absent", desired, check_mode=True)
    assert sent(emu) == []
    emu.log.clear()
    result = engine.ensure(provider, "tag", items, "absent", desired)
    assert result["actions"] == check["actions"] and result["tags"] == check["tags"]
    assert result["changed"] is bool(items)
    gone = sorted(set(before) - set(emu.tag_names(repo_id)))
    assert gone == report[0]["predicted"] == sorted(i["name"] for i in items)
    kept = report[0]["kept"]
    assert kept["latest"] == "latest"
    if bulk["name_regex_delete"] == ".*":
        assert kept["locked"] == "protected" and kept["frozen"] == "protected"
    if items:
        finished = emu.dump_state()["jobs"]["finished"]
        assert sorted(finished[-1]["deleted"]) == gone
        assert report[0]["status"] == "done" and report[0]["deleted"] == gone and report[0]["sent"] is True
        deletes = [r for r in emu.log.records if r.method == "DELETE"]
        assert len(deletes) == 1 and deletes[0].path == "/api/v4/projects/1001/registry/repositories/%d/tags" % repo_id
        # an alternation goes in a group: GitLab anchors the regex as \A<regex>\z, which would anchor only its ends
        assert deletes[0].query == dict((k, "(?:%s)" % v if "|" in str(v) else str(v)) for k, v in bulk.items())
        assert report[0]["request"] == dict((k, "(?:%s)" % v if "|" in str(v) else v) for k, v in bulk.items())
    else:
        assert sent(emu) == [] and report[0]["status"] == "nothing_to_delete"


def test_bulk_hourly_limit_and_no_wait(emu, connect):
    name = seed_bulk(emu)
    repo_id = emu.repository_id("acme/app", "worker")
    provider = connect(emu, resource="tag", state="absent", wait=False)
    desired = {"bulk": {"name_regex_delete": "pr-.*"}, "wait": False, "wait_timeout": 300}
    items, report = provider.plan_bulk_tag_delete("acme/app", [name], desired["bulk"])
    result = engine.ensure(provider, "tag", items, "absent", desired)
    assert result["changed"] is True and [a["action"] for a in result["actions"]] == ["deleted"] * 4
    assert report[0]["status"] == "scheduled" and report[0]["deleted"] is None
    assert "pr-1" in emu.tag_names(repo_id)  # not yet: GitLab works in the background
    emu.complete_jobs()
    assert not [t for t in emu.tag_names(repo_id) if t.startswith("pr-")]
    # within the hour: refused with 400, not retried, explained
    emu.add_tag("acme/app", "worker", "pr-9", digest=digest("9"))
    emu.log.clear()
    second = connect(emu, resource="tag", state="absent")
    items, report = second.plan_bulk_tag_delete("acme/app", [name], desired["bulk"])
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(second, "tag", items, "absent", desired)
    message = caught.value.result["actions"][0]["msg"]
    assert "GitLab refused the bulk tag delete for repository acme/app/worker: it runs at most once an hour per repository" in message
    assert "GitLab does not say when it can run again" in message and "remove tags by name" in message
    assert [r.status for r in emu.log.records if r.method == "DELETE"] == [400]
    assert report[0]["status"] == "refused" and report[0]["sent"] is False


def test_bulk_retries_only_where_gitlab_did_not_act(emu, connect):
    name = seed_bulk(emu)
    emu.configure(bulk_delete_lease_seconds=0, bulk_delete_status=204)
    emu.server_error(times=1, status=503, method="DELETE")
    provider = connect(emu, resource="tag", state="absent")
    items, _report = provider.plan_bulk_tag_delete("acme/app", [name], {"name_regex_delete": "pr-1"})
    engine.ensure(provider, "tag", items, "absent", {"bulk": {"name_regex_delete": "pr-1"}})
    assert [r.status for r in emu.log.records if r.method == "DELETE"] == [503, 204]
    emu.server_error(times=1, status=500, method="DELETE")
    again = connect(emu, resource="tag", state="absent")
    items, _report = again.plan_bulk_tag_delete("acme/app", [name], {"name_regex_delete": "pr-2"})
    with pytest.raises(engine.Failure, match="HTTP 500"):
        engine.ensure(again, "tag", items, "absent", {"bulk": {"name_regex_delete": "pr-2"}})
    assert [r.status for r in emu.log.records if r.method == "DELETE"][-1:] == [500]


def test_bulk_kept_by_gitlab_and_protection_unknown(emu, connect):
    name = seed_bulk(emu)
    repo_id = emu.repository_id("acme/app", "worker")
    emu.configure(bulk_delete_limit=2, bulk_delete_lease_seconds=0)  # GitLab.com's per-call cap: the oldest two go
    provider = connect(emu, resource="tag", state="absent")
    items, report = provider.plan_bulk_tag_delete("acme/app", [name], {"name_regex_delete": "pr-.*"})
    result = engine.ensure(provider, "tag", items, "absent", {"bulk": {"name_regex_delete": "pr-.*"}})
    assert report[0]["deleted"] == ["pr-1", "pr-2"] and report[0]["status"] == "done"
    assert [(a["ref"], a["action"], a.get("reason")) for a in result["actions"]] == [
        ("acme/app/worker:pr-1", "deleted", None), ("acme/app/worker:pr-2", "deleted", None),
        ("acme/app/worker:pr-3", "skipped", "kept"), ("acme/app/worker:pr-4", "skipped", "kept")]
    assert "GitLab's bulk delete kept it" in result["actions"][2]["msg"]
    assert result["changed"] is True and [t["name"] for t in result["tags"]] == ["pr-1", "pr-2"]

    # the token's role is in the project answer (permissions): a maintainer's prediction leaves out the tags a rule
    # keeps from maintainers, and GitLab's job keeps exactly those
    emu.configure(bulk_delete_limit=None, bulk_delete_lease_seconds=0)
    emu.add_protection_rule("acme/app", "tag", "^v1", push="maintainer", delete="owner")
    warnings = []
    maintainer = connect(emu, resource="tag", state="absent", api_token=MAINTAINER_TOKEN, warnings=warnings)
    items, report = maintainer.plan_bulk_tag_delete("acme/app", [name], {"name_regex_delete": "v1.*|pr-3"})
    assert report[0]["protection_note"] is None and warnings == []
    assert [k for k, v in report[0]["kept"].items() if v == "protected"] == ["v1", "v10"]
    result = engine.ensure(maintainer, "tag", items, "absent", {"bulk": {"name_regex_delete": "v1.*|pr-3"}})
    assert [(a["ref"], a["action"]) for a in result["actions"]] == [("acme/app/worker:pr-3", "deleted")]
    assert report[0]["deleted"] == ["pr-3"] and "v1" in emu.tag_names(repo_id) and "v10" in emu.tag_names(repo_id)

    # an administrator is no member, so GitLab gives no role: a rule with a delete level counts as protecting, with a
    # warning, and GitLab (where administrators pass every rule) deletes them
    emu.add_protection_rule("acme/app", "tag", "^v", push="maintainer", delete="maintainer")
    emu.add_tag("acme/app", "worker", "pr-3", digest=digest("3"))
    warnings = []
    unsure = connect(emu, resource="tag", state="absent", api_token=ADMIN_TOKEN, warnings=warnings)
    items, report = unsure.plan_bulk_tag_delete("acme/app", [name], {"name_regex_delete": "v.*|pr-3"})
    assert "did not say this token's role" in report[0]["protection_note"]
    assert [k for k, v in report[0]["kept"].items() if v == "protected"] == ["v1", "v10", "v2"]
    assert warnings == ["acme/app/worker:v1, acme/app/worker:v10, acme/app/worker:v2 kept out of the prediction as protected; the "
                        "token's role was not known, so GitLab may delete them"]
    # GitLab deletes them for the owner: the report shows every tag that went, the actions the predicted ones
    result = engine.ensure(unsure, "tag", items, "absent", {"bulk": {"name_regex_delete": "v.*|pr-3"}})
    assert [a["ref"] for a in result["actions"]] == ["acme/app/worker:pr-3"]
    assert report[0]["deleted"] == ["pr-3", "v1", "v10", "v2"] and emu.tag_names(repo_id) == ["frozen", "keep-1", "latest", "locked", "main", "pr-4"]

    # a CI job token cannot read the rules: the prediction ignores them and says so
    job = connect(emu, resource="tag", state="absent", api_token=DEFAULT_JOB_TOKEN, api_username="gitlab-ci-token")
    emu.add_tag("acme/app", "worker", "v3", digest=digest("3"))
    _items, report = job.plan_bulk_tag_delete("acme/app", [name], {"name_regex_delete": "v.*"})
    assert report[0]["protection_note"].startswith("the tag protection rules could not be read (HTTP 401")
    assert report[0]["predicted"] == ["v3"]


def test_bulk_on_a_missing_repository(emu, connect):
    emu.add_repository("acme/app", "", tags=["v1"])
    provider = connect(emu, resource="tag", state="absent")
    items, report = provider.plan_bulk_tag_delete("acme/app", ["acme/app/none"], {"name_regex_delete": ".*"})
    assert items == [] and report[0]["status"] == "not_found"
    with pytest.raises(ValueError, match="repository 'other/app' is not in the project acme/app"):
        provider.plan_bulk_tag_delete("acme/app", ["other/app"], {"name_regex_delete": ".*"})


def test_not_found_project_is_explained(emu, connect):
    provider = connect(emu, info=True)
    with pytest.raises(NotFoundError, match="project acme/none not found, or the token cannot see it \\(404 Project Not Found\\)"):
        provider.list_tag({"registry": "acme/none"})
