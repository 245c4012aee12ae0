# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``github`` provider's package half: container packages, their versions and tags, over GitHub's REST API.

The provider talks to the GitHub emulator (``tests/emulators/github.py``) in this process, over real HTTP on loopback,
and every request it sends is checked in the emulator's request log: paths, headers, pagination, the 10,000 cap, the
last-version rule, restores inside and outside the 30-day window, GitHub's refusals and what the provider says about them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest
import requests

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.retention import plan as retention_plan
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, AuthError, NotFoundError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.providers import github as github_module
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Action
from ansible_collections.regops.registry.plugins.module_utils.providers.github import (
    APP_TOKEN_MESSAGE,
    GitHubProvider,
    Owner,
    encode,
    is_last_version_error,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import after_the_read, provider_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.github import DEFAULT_INSTALLATION_TOKEN, DEFAULT_TOKEN, GitHubEmulator, ghcr_backend  # noqa: E402 pylint: disable=wrong-import-position
from tests.support.faultproxy import FaultProxy, FaultRule  # noqa: E402 pylint: disable=wrong-import-position
from tests.support.seed import SeedClient  # noqa: E402 pylint: disable=wrong-import-position

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
CLOCK = "2026-05-30T12:00:00Z"
DAY = 86400
NARROW_TOKEN = "narrow-read-token"
SETTINGS = {"default_token_kind": "pat", "secondary_rate_limit": None, "error_message_shape": "string", "last_version_rule": "last",
            "max_results": 10000, "restore_window_days": 30, "download_limit": 5000, "rate_limit": 5000,
            "tokens": [{"token": DEFAULT_TOKEN, "kind": "pat"}, {"token": DEFAULT_INSTALLATION_TOKEN, "kind": "installation"},
                       {"token": NARROW_TOKEN, "kind": "pat", "scopes": ["read:packages"]}]}


def digest(char):
    return "sha256:" + char * 64


D1, D2, D3, D4 = digest("1"), digest("2"), digest("3"), digest("4")


@pytest.fixture(scope="module")
def emulator():
    with GitHubEmulator(clock=CLOCK) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.configure(clock=CLOCK, **SETTINGS)
    emulator.reset()
    emulator.log.clear()
    yield emulator
    emulator.reset()


@pytest.fixture
def connect():
    made = []

    def make(emu, warnings=None, **params):
        base = provider_params("github", params.pop("api_url", emu.url), params.pop("api_token", DEFAULT_TOKEN), **params)
        provider = GitHubProvider(base, warn=(warnings.append if warnings is not None else None))
        provider.sleep = lambda seconds: None
        provider.connect()
        provider.client.sleep = lambda seconds: None  # rate-limit waits take no real time
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def sent(emu, methods=MUTATING):
    return [(r.method, r.target) for r in emu.log.records if r.method in methods]


def seed_app(emu, kind="org", login="acme", name="app", tags=(("v1",), ("v2", "latest"), ()), **extra):
    """Package ``name`` with one version per entry of ``tags`` (D1, D2, D3 ..., oldest first); returns the version ids."""
    versions = [{"name": digest(str(i + 1)), "tags": list(t), "created_at": "2026-05-0%dT00:00:00Z" % (i + 1)} for i, t in enumerate(tags)]
    emu.add_package(kind, login, name, versions=versions, repository="app", **extra)
    return emu.package_version_ids(kind, login, name)


def item(digest_value, repository="app", registry="acme", **extra):
    return dict({"registry": registry, "repository": repository, "digest": digest_value}, **extra)


# ---------------------------------------------------------------------------------------------
# Pure helpers and validation: no request

def test_owner_paths_and_encoding():
    org, user = Owner.parse("acme"), Owner.parse("user:octocat")
    assert (org.kind, org.packages_path, org.owner_path, str(org)) == ("org", "/orgs/acme/packages", "/orgs/acme", "acme")
    assert (user.kind, user.packages_path, user.owner_path, str(user)) == ("user", "/user/packages", "/users/octocat", "user:octocat")
    assert GitHubProvider.package_path(org, "team/app", "versions", 7) == "/orgs/acme/packages/container/team%2Fapp/versions/7"
    assert GitHubProvider.image(Owner.parse("Acme-Corp"), "team/app") == "acme-corp/team/app"
    assert encode("sha256:ab") == "sha256%3Aab"
    for bad in ("", "acme/app", "-acme", "acme-", "a--b", "user:", "user:a b", "x" * 40, "acme\n", " acme", "user:octocat\n"):
        with pytest.raises(ValueError, match="is not a GitHub owner"):
            Owner.parse(bad)
    with pytest.raises(ValueError, match="provider github needs registry"):
        GitHubProvider.owner(None)


def test_last_version_errors_recognised():
    assert is_last_version_error(ApiError("You cannot delete the last version of a package. You must delete the package instead.", status=400))
    assert is_last_version_error(ApiError("You cannot delete the last tagged version of a package.", status=400))
    assert not is_last_version_error(ApiError("Invalid request", status=400))
    assert not is_last_version_error(ApiError("last version", status=404))


@pytest.mark.parametrize("resource, items, params, message", [
    ("artifact", [item("sha512:" + "a" * 128)], {}, "digest 'sha512:a"),
    ("artifact", [item(D1, registry="acme/app")], {}, "registry 'acme/app' is not a GitHub owner"),
    ("artifact", [item(D1, registry=None)], {}, "provider github needs registry"),
    ("artifact", [], {"registry": "acme", "repository": "app", "version_id": [0]}, "version_id '0' is not a GitHub package version id"),
    ("artifact", [], {"registry": "acme", "repository": "Team/App", "version_id": [5]}, "repository name 'Team/App' is not valid"),
    ("artifact", [], {"registry": "user:octocat", "records": True}, "records: GitHub keeps artifact metadata"),
    ("artifact", [item(D1)], {"expected_tags": {"app@sha512:" + "b" * 128: ["v1"]}}, "expected_tags key 'sha512:"),
    ("repository", [{"registry": "user:", "name": "app"}], {}, "is not a GitHub owner"),
    ("tag", [{"registry": "acme", "repository": "app", "name": "v1"}], {"expected_digests": {"v1": "sha512:" + "c" * 128}},
     "expected_digests[v1] 'sha512:"),
])
def test_bad_input_fails_before_any_request(emu, resource, items, params, message):
    provider = GitHubProvider(provider_params("github", emu.url, DEFAULT_TOKEN, **params))
    with pytest.raises(ValueError) as caught:
        provider.validate(resource, items)
    assert message in str(caught.value)
    assert len(emu.log) == 0


def test_token_required_and_capabilities(emu):
    with pytest.raises(ValueError, match="provider 'github' needs api_token"):
        GitHubProvider(provider_params("github", emu.url, None)).validate("repository", [])
    provider = GitHubProvider(provider_params("github", emu.url, DEFAULT_TOKEN))
    provider.require("artifact", state="absent", options=("version_id", "on_last_version", "expected_tags"))
    provider.require("artifact", info=True, options=("deleted", "records"))
    provider.require("repository", state="present")
    with pytest.raises(UnsupportedError, match="does not support tag state=present"):
        provider.require("tag", state="present")
    with pytest.raises(UnsupportedError, match="does not support the option.s. bulk for tag"):
        provider.require("tag", state="absent", options=("bulk",))
    assert len(emu.log) == 0


# ---------------------------------------------------------------------------------------------
# Requests: headers, paths, pagination

def test_headers_paths_and_repository_listing(emu, connect):
    seed_app(emu)
    emu.add_package("org", "acme", "team/web", visibility="public", versions=[D4])
    provider = connect(emu)
    repositories = provider.list_repository({"registry": "acme"})
    assert [(r["name"], r["artifact_count"], r["location"]) for r in repositories] == [
        ("app", 3, "ghcr.io/acme/app"), ("team/web", 1, "ghcr.io/acme/team/web")]
    assert repositories[0]["provider_data"]["repository"] == "acme/app" and repositories[1]["provider_data"]["visibility"] == "public"
    assert repositories[0]["created_at"] == CLOCK and repositories[0]["pull_count"] is None
    record = emu.log.records[0]
    assert record.target == "/orgs/acme/packages?package_type=container&per_page=100&page=1"
    assert record.headers["Authorization"] == "Bearer ***"
    assert record.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert record.headers["Accept"] == "application/vnd.github+json"
    # by name: one read per package, a missing one is not listed
    emu.log.clear()
    named = provider.list_repository({"registry": "acme", "name": ["team/web", "nope"]})
    assert [r["name"] for r in named] == ["team/web"]
    assert sorted(r.target for r in emu.log.records) == ["/orgs/acme/packages/container/nope", "/orgs/acme/packages/container/team%2Fweb"]


def test_user_owner_uses_the_authenticated_user_paths(emu, connect):
    emu.add_package("user", "octocat", "mine", versions=[{"name": D1, "tags": ["v1"]}])
    provider = connect(emu)
    assert [r["name"] for r in provider.list_repository({"registry": "user:octocat"})] == ["mine"]
    assert [a["digest"] for a in provider.list_artifact({"registry": "user:octocat"})] == [D1]
    # the versions do not say whose they are: the package is read once to check it is octocat's
    assert [r.path for r in emu.log.records] == ["/user/packages", "/user/packages/container/mine", "/user/packages/container/mine/versions"]


def test_a_token_of_another_user_is_refused(emu, connect):
    emu.add_user("hubot")
    emu.configure(tokens=SETTINGS["tokens"] + [{"token": "hubot-token", "kind": "pat", "user": "hubot"}])
    emu.add_package("user", "hubot", "app", versions=[D1, D2])
    provider = connect(emu, api_token="hubot-token", state="absent")
    with pytest.raises(ValueError) as caught:
        engine.ensure(provider, "artifact", [item(D1, registry="user:octocat")], "absent", {})
    assert str(caught.value) == ("registry user:octocat: the token belongs to hubot, and GitHub's /user/packages endpoints act on the "
                                 "token's own user; use a token of octocat (or registry user:hubot)")
    with pytest.raises(ValueError, match="the token belongs to hubot"):
        engine.ensure(connect(emu, api_token="hubot-token"), "repository", [{"registry": "user:octocat", "name": "app"}], "absent", {})
    with pytest.raises(ValueError, match="the token belongs to hubot"):
        connect(emu, api_token="hubot-token").list_repository({"registry": "user:octocat"})
    assert sent(emu) == []
    assert len(emu.package_version_ids("user", "hubot", "app")) == 2


def test_package_pages_and_the_10000_cap(emu, connect, monkeypatch):
    for index in range(250):
        emu.add_package("org", "acme", "p%03d" % index)
    warnings = []
    provider = connect(emu, warnings=warnings)
    assert len(provider.list_repository({"registry": "acme"})) == 250
    assert [r.query.get("page") for r in emu.log.records] == ["1", "2", "3"] and not warnings
    # GitHub answers 400 above page x per_page = 10,000: the listing stops before, and says so
    monkeypatch.setattr(github_module, "MAX_LISTED", 200)
    emu.configure(max_results=200)
    emu.log.clear()
    capped = connect(emu, warnings=warnings)
    assert len(capped.list_repository({"registry": "acme"})) == 200
    assert [r.query.get("page") for r in emu.log.records] == ["1", "2"] and [r.status for r in emu.log.records] == [200, 200]
    assert warnings == ["GitHub lists at most 200 packages of an owner (page x per_page); acme has at least that many container packages, "
                        "and only the first 200 are listed"]


def test_versions_follow_link_pages_and_normalize(emu, connect):
    versions = [{"name": "sha256:%064x" % index, "tags": ["t%d" % index] if index % 2 else [], "created_at": "2026-05-01T00:00:00Z"}
                for index in range(1, 251)]
    emu.add_package("org", "acme", "team/app", versions=versions)
    provider = connect(emu)
    artifacts = provider.list_artifact({"registry": "acme", "repository": ["team/app"]})
    assert len(artifacts) == 250
    targets = [r.target for r in emu.log.records]
    assert targets[0] == "/orgs/acme/packages/container/team%2Fapp/versions?per_page=100&page=1"
    pages = [r.query.get("page") for r in emu.log.records]
    assert pages[0] == "1" and sorted(pages[1:]) == ["2", "3"]  # pages 2 and 3 (rel="last") side by side
    first = next(a for a in artifacts if a["digest"] == "sha256:%064x" % 1)
    assert first == {
        "repository": "team/app", "digest": "sha256:%064x" % 1, "media_type": None, "size_bytes": None, "tags": ["t1"],
        "pushed_at": "2026-05-01T00:00:00Z", "pulled_at": None, "created_at": "2026-05-01T00:00:00Z", "updated_at": "2026-05-01T00:00:00Z",
        "platforms": [], "children": [], "subject": None, "status": "active", "read_error": None,
        "provider_data": {"version_id": first["provider_data"]["version_id"], "deleted_at": None,
                          "html_url": "https://github.com/orgs/acme/packages/container/package/team/app/%d" % first["provider_data"]["version_id"],
                          "package_html_url": "https://github.com/orgs/acme/packages/container/package/team/app"}}


def test_deleted_versions_and_digest_filter(emu, connect):
    ids = seed_app(emu)
    emu.add_version("org", "acme", "app", name=D4, tags=["old"], deleted_at="2026-05-20T00:00:00Z")
    provider = connect(emu)
    everything = provider.list_artifact({"registry": "acme", "deleted": True})
    assert [(a["digest"], a["status"], a["tags"]) for a in everything] == [
        (D1, "active", ["v1"]), (D2, "active", ["latest", "v2"]), (D3, "active", []), (D4, "deleted", ["old"])]
    assert everything[3]["provider_data"]["deleted_at"] == "2026-05-20T00:00:00Z"
    assert "/orgs/acme/packages/container/app/versions?per_page=100&page=1&state=deleted" in [r.target for r in emu.log.records]
    only = provider.list_artifact({"registry": "acme", "repository": ["app"], "digests": [{"digest": D2}]})
    assert [(a["digest"], a["provider_data"]["version_id"]) for a in only] == [(D2, ids[1])]
    assert provider.list_artifact({"registry": "acme", "repository": ["missing"]}) == []


def test_tags_from_the_versions(emu, connect):
    ids = seed_app(emu)
    provider = connect(emu)
    tags = provider.list_tag({"registry": "acme", "repository": ["app"]})
    assert [(t["name"], t["digest"], t["provider_data"]["version_id"]) for t in tags] == [
        ("latest", D2, ids[1]), ("v1", D1, ids[0]), ("v2", D2, ids[1])]
    assert tags[0]["pushed_at"] is None and tags[0]["provider_data"]["version_created_at"] == "2026-05-02T00:00:00Z"
    assert [t["name"] for t in provider.list_tag({"registry": "acme", "name": ["v1", "nope"]})] == ["v1"]
    found = provider.read_tag([{"registry": "acme", "repository": "app", "name": "v2"}, {"registry": "acme", "repository": "app", "name": "x"},
                               {"registry": "acme", "repository": "gone", "name": "v1"}])
    assert found[0]["digest"] == D2 and found[1] is None and found[2] is None


# ---------------------------------------------------------------------------------------------
# Errors GitHub answers, and what the provider makes of them

def test_installation_token_refused_with_a_clear_message(emu, connect):
    seed_app(emu)
    provider = connect(emu, api_token=DEFAULT_INSTALLATION_TOKEN)
    with pytest.raises(AuthError) as caught:
        provider.list_repository({"registry": "acme"})
    assert caught.value.status == 403
    assert APP_TOKEN_MESSAGE in str(caught.value) and "Resource not accessible by integration" in str(caught.value)
    assert "use a classic personal access token with read:packages, delete:packages (to delete) and write:packages (to restore)" in str(caught.value)


def test_missing_scope_is_named(emu, connect):
    ids = seed_app(emu)
    provider = connect(emu, api_token=NARROW_TOKEN, state="absent")
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(provider, "artifact", [item(D1)], "absent", {})
    result = caught.value.result
    assert result["actions"][0]["action"] == "failed"
    assert "needs the token scope(s) delete:packages, the token has read:packages" in result["actions"][0]["msg"]
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[0])]


def test_object_message_is_read(emu, connect):
    emu.configure(error_message_shape="object")
    provider = connect(emu, state="present")
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(provider, "repository", [{"registry": "acme", "name": "ghost"}], "present", {})
    message = caught.value.result["actions"][0]["msg"]
    assert "package ghost of acme cannot be restored: it was not deleted in the last 30 days or never existed" in message
    assert "GitHub creates a package on the first push" in message and "(Package not found.)" in message


def test_secondary_rate_limit_is_waited_out(emu, connect):
    seed_app(emu)
    warnings = []
    provider = connect(emu, warnings=warnings)
    waits = []
    provider.client.sleep = waits.append
    emu.secondary_rate_limit(times=1, status=403, retry_after=1)
    assert len(provider.list_artifact({"registry": "acme", "repository": ["app"]})) == 3
    assert [r.status for r in emu.log.records] == [403, 200] and waits == [1.0]
    assert "answered 403 (rate limit)" in warnings[0]
    emu.secondary_rate_limit(times=1, status=429, retry_after=2)
    emu.log.clear()
    provider.list_repository({"registry": "acme"})
    assert [r.status for r in emu.log.records] == [429, 200] and waits == [1.0, 2.0]


def test_unknown_owner(emu, connect):
    provider = connect(emu)
    with pytest.raises(NotFoundError, match="organization nobody not found, or the token cannot see it"):
        provider.list_repository({"registry": "nobody"})


# ---------------------------------------------------------------------------------------------
# Artifacts: delete, last version, restore

def test_delete_by_digest_check_apply_again(emu, connect):
    ids = seed_app(emu)
    check = engine.ensure(connect(emu, state="absent"), "artifact", [item(D1), item(D4)], "absent", {}, check_mode=True)
    assert [a["action"] for a in check["actions"]] == ["deleted", "absent"] and check["changed"] is True
    assert sent(emu) == []
    done = engine.ensure(connect(emu, state="absent"), "artifact", [item(D1), item(D4)], "absent", {}, diff_mode=True)
    assert done["actions"] == check["actions"] and done["artifacts"] == check["artifacts"]
    assert done["artifacts"][0]["tags"] == ["v1"]
    assert done["diff"] == {"before": {"app@" + D1: check["artifacts"][0]}, "after": {}}
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[0])]
    emu.log.clear()
    again = engine.ensure(connect(emu, state="absent"), "artifact", [item(D1)], "absent", {})
    assert again["changed"] is False and again["actions"][0]["action"] == "absent" and sent(emu) == []


def test_version_ids_resolve_to_digests(emu, connect):
    ids = seed_app(emu)
    emu.add_version("org", "acme", "app", name=D4, deleted_at="2026-05-20T00:00:00Z", id=999)
    provider = connect(emu, state="absent")
    items = provider.resolve_version_ids("acme", "app", [ids[1], 999, 12345])
    assert [(i["digest"], i["version_id"]) for i in items] == [(D2, ids[1]), (D4, 999), ("version_id:12345", 12345)]
    assert sent(emu) == []
    result = engine.ensure(provider, "artifact", items, "absent", {})
    assert [a["action"] for a in result["actions"]] == ["deleted", "absent", "absent"]
    assert result["actions"][2]["ref"] == "app@version_id:12345"
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[1])]


def test_last_version_fails_before_anything_is_sent(emu, connect):
    seed_app(emu)
    emu.add_package("org", "acme", "other", versions=[D4, digest("5")])
    everything = [item(D1), item(D2), item(D3), item(D4, repository="other")]
    # check mode: the same plan, and the same failures per digest as the real run
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(connect(emu, state="absent"), "artifact", everything, "absent", {}, check_mode=True)
    predicted = caught.value.result["actions"]
    assert sent(emu) == []
    # for real: nothing of app is deleted, each of its digests fails; the other package is done
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(connect(emu, state="absent"), "artifact", everything, "absent", {})
    actions = caught.value.result["actions"]
    assert actions == predicted
    assert [a["action"] for a in actions] == ["failed", "failed", "failed", "deleted"]
    assert actions[0]["msg"] == (
        "%s, %s, %s are every remaining version of package app, and GitHub refuses to delete a package's last version: nothing of this "
        "package was deleted. Set on_last_version: delete_package to delete the package instead (GitHub can restore it for 30 days), or "
        "keep a version" % (D1, D2, D3))
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/other/versions/%d" % emu.package_version_ids(
        "org", "acme", "other", state="deleted")[0])]
    assert len(emu.package_version_ids("org", "acme", "app")) == 3


def test_last_version_deletes_the_package_instead(emu, connect):
    seed_app(emu)
    warnings = []
    items = [item(D1), item(D2), item(D3)]
    provider = connect(emu, state="absent", on_last_version="delete_package")
    check = engine.ensure(provider, "artifact", items, "absent", {}, check_mode=True)
    assert check["changed"] is True and provider.results["deleted_packages"] == ["app"] and sent(emu) == []
    provider = connect(emu, warnings=warnings, state="absent", on_last_version="delete_package")
    done = engine.ensure(provider, "artifact", items, "absent", {})
    assert [a["action"] for a in done["actions"]] == ["deleted"] * 3 and provider.results["deleted_packages"] == ["app"]
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app")]
    assert "package app was deleted instead of its last version" in warnings[0]
    assert [p["name"] for p in emu.dump_state()["orgs"][0]["packages"] if p["deleted_at"]] == ["app"]


def test_a_version_pushed_meanwhile_lifts_the_last_version_rule(emu, connect):
    seed_app(emu, tags=(("v1",),))
    provider = connect(emu, state="absent")
    items = [item(D1)]
    currents = provider.read_artifact(items)
    emu.add_version("org", "acme", "app", name=D2, tags=["v2"])  # pushed between the read and the delete
    [(_action, result, error)] = provider.apply_artifact([Action("delete", items[0], currents[0])])
    assert error is None and result["digest"] == D1
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % currents[0]["provider_data"]["version_id"])]


def test_gone_since_the_read_is_absent_not_deleted(emu, connect):
    """A version another run (or a person) deleted between this run's read and its delete is reported ``absent``, never
    ``deleted``: a report must not count the bytes its run did not free. Found by the 404 to the first DELETE, by the
    read again of ``expected_tags``, or by the version list read again before a package goes instead of its last
    versions. A 404 to a repeated DELETE (the first went through, its answer was lost) is this run's delete."""
    ids = seed_app(emu, tags=(("v1",), ("v2",), ("v3",), ("keep",)))

    def another_run_removes(version_id):
        answer = requests.delete("%s/orgs/acme/packages/container/app/versions/%d" % (emu.url, version_id),
                                 headers={"Authorization": "Bearer %s" % DEFAULT_TOKEN}, timeout=10)
        assert answer.status_code == 204

    rule = FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/versions/%d$" % ids[2], max_faults=1)
    with FaultProxy(emu.url, rules=[rule]) as proxy:
        provider = after_the_read(connect(emu, state="absent", api_url=proxy.url), lambda: another_run_removes(ids[0]))
        result = engine.ensure(provider, "artifact", [item(D1), item(D2), item(D3)], "absent", {})
        assert len(proxy.faulted()) == 1  # D3's DELETE acted and its answer was lost: the repeated DELETE got 404
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted", "deleted"]
    assert result["actions"][0]["msg"] == "already gone: deleted since it was read (by another run, or by hand)"

    # expected_tags: the version is read again right before its DELETE, and found gone
    emu.reset()
    ids = seed_app(emu, tags=(("v1",), ("v2",), ("keep",)))
    provider = after_the_read(connect(emu, state="absent", expected_tags={D1: ["v1"], D2: ["v2"]}), lambda: another_run_removes(ids[0]))
    emu.log.clear()
    result = engine.ensure(provider, "artifact", [item(D1), item(D2)], "absent", {})
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted"]
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % i) for i in ids[:2]]  # the other run's, D2's

    # the package goes instead of its last versions: a version gone since the read is not among what this run deleted
    emu.reset()
    ids = seed_app(emu, tags=(("v1",), ("v2",)))
    provider = after_the_read(connect(emu, state="absent", on_last_version="delete_package"), lambda: another_run_removes(ids[0]))
    result = engine.ensure(provider, "artifact", [item(D1), item(D2)], "absent", {})
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted"] and provider.results["deleted_packages"] == ["app"]


@pytest.mark.parametrize("mode", ["fail", "delete_package"])
def test_last_tagged_version_refused_by_github(emu, connect, mode):
    emu.configure(last_version_rule="last_tagged")
    ids = seed_app(emu, tags=(("v1",), ()))
    provider = connect(emu, state="absent", on_last_version=mode)
    if mode == "fail":
        with pytest.raises(engine.Failure) as caught:
            engine.ensure(provider, "artifact", [item(D1)], "absent", {})
        message = caught.value.result["actions"][0]["msg"]
        assert "GitHub refused to delete %s, the last (tagged) version of package app" % D1 in message
        assert "You cannot delete the last tagged version of a package" in message and "set on_last_version: delete_package" in message
        assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[0])]
    else:
        result = engine.ensure(provider, "artifact", [item(D1)], "absent", {})
        assert result["actions"][0]["action"] == "deleted" and provider.results["deleted_packages"] == ["app"]
        assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[0]), ("DELETE", "/orgs/acme/packages/container/app")]


def test_expected_tags_are_read_again_right_before_the_delete(emu, connect):
    ids = seed_app(emu)
    provider = connect(emu, state="absent", expected_tags={D1: ["v1"], D2: ["v2", "latest"]})
    items = [item(D1), item(D2)]
    currents = provider.read_artifact(items)
    emu.add_version("org", "acme", "app", name=D1, tags=["hotfix"], id=ids[0])  # a tag pushed onto D1 since the read
    applied = provider.apply_artifact([Action("delete", i, c) for i, c in zip(items, currents)])
    assert applied[0][2].outcome == "skipped" and applied[0][2].reason == "tags_changed" and "hotfix" in str(applied[0][2])
    assert applied[1][2] is None
    gets = [r.target for r in emu.log.records if r.method == "GET" and "/versions/" in r.path]
    assert sorted(gets) == sorted(["/orgs/acme/packages/container/app/versions/%d" % i for i in ids[:2]])
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[1])]


def test_restore_a_version_within_the_window(emu, connect):
    ids = seed_app(emu)
    emu.add_version("org", "acme", "app", name=D4, tags=["old"], deleted_at="2026-05-20T00:00:00Z", id=900)
    check = engine.ensure(connect(emu, state="present"), "artifact", [item(D4), item(D1)], "present", {}, check_mode=True)
    assert [a["action"] for a in check["actions"]] == ["created", "unchanged"] and sent(emu) == []
    assert check["artifacts"][0]["status"] == "active" and check["artifacts"][0]["tags"] == ["old"]
    done = engine.ensure(connect(emu, state="present"), "artifact", [item(D4), item(D1)], "present", {})
    assert done["actions"] == check["actions"] and done["artifacts"][0]["status"] == "active"
    assert done["artifacts"][0]["provider_data"]["deleted_at"] is None
    assert sent(emu) == [("POST", "/orgs/acme/packages/container/app/versions/900/restore")]
    assert 900 in emu.package_version_ids("org", "acme", "app") and ids[0] in emu.package_version_ids("org", "acme", "app")
    emu.log.clear()
    again = engine.ensure(connect(emu, state="present"), "artifact", [item(D4)], "present", {})
    assert again["changed"] is False and sent(emu) == []


def test_restore_outside_the_window_fails_clearly(emu, connect):
    seed_app(emu)
    emu.add_version("org", "acme", "app", name=D4, deleted_at=CLOCK, id=900)
    emu.advance_clock(31 * DAY)
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(connect(emu, state="present"), "artifact", [item(D4)], "present", {})
    message = caught.value.result["actions"][0]["msg"]
    assert "(version id 900) of package app can no longer be restored: GitHub restores a version only within 30 days of its deletion" in message
    assert sent(emu) == [("POST", "/orgs/acme/packages/container/app/versions/900/restore")]
    # a digest GitHub has never had: failed, nothing sent
    emu.log.clear()
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(connect(emu, state="present"), "artifact", [item(digest("9"))], "present", {}, check_mode=True)
    assert "is not a version of package app, active or deleted" in caught.value.result["actions"][0]["msg"] and sent(emu) == []


# ---------------------------------------------------------------------------------------------
# Repositories: delete, restore, the download limit

def test_delete_and_restore_a_package(emu, connect):
    seed_app(emu)
    deleted = engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "absent", {})
    assert deleted["changed"] is True and deleted["repository"]["name"] == "app"
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app")]
    emu.log.clear()
    assert engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "absent", {})["changed"] is False
    assert sent(emu) == []
    warnings = []
    check = engine.ensure(connect(emu, warnings=warnings), "repository", [{"registry": "acme", "name": "app"}], "present", {}, check_mode=True)
    assert check["changed"] is True and check["actions"][0]["action"] == "created" and sent(emu) == []
    assert "GitHub cannot say whether package app can be restored without restoring it" in warnings[0]
    restored = engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "present", {})
    assert restored["repository"]["artifact_count"] == 3 and restored["repository"]["provider_data"]["restored"] is True
    assert sent(emu) == [("POST", "/orgs/acme/packages/container/app/restore")]
    emu.log.clear()
    assert engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "present", {})["changed"] is False
    assert sent(emu) == []


def test_package_restore_window(emu, connect):
    seed_app(emu)
    engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "absent", {})
    emu.advance_clock(31 * DAY)
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "present", {})
    assert "it was not deleted in the last 30 days or never existed" in caught.value.result["actions"][0]["msg"]


def test_download_limit_is_explained(emu, connect):
    seed_app(emu, visibility="public", download_count=6000)
    with pytest.raises(engine.Failure) as caught:
        engine.ensure(connect(emu), "repository", [{"registry": "acme", "name": "app"}], "absent", {})
    message = caught.value.result["actions"][0]["msg"]
    assert "GitHub does not delete a public package, or a version of one, downloaded more than 5,000 times; only GitHub Support can" in message


# ---------------------------------------------------------------------------------------------
# Records (the mixin's artifact_records) and bounded writes

def test_records_are_attached(emu, connect, monkeypatch):
    seed_app(emu)
    asked = []

    def records(self, owner, digests):
        asked.append((str(owner), list(digests)))
        return {D1: {"storage_records": [{"name": "app"}], "deployment_records": []}}
    monkeypatch.setattr(GitHubProvider, "artifact_records", records, raising=False)
    provider = connect(emu, records=True)
    artifacts = provider.list_artifact({"registry": "acme", "repository": ["app"], "records": True})
    assert asked == [("acme", [D1, D2, D3])]
    assert artifacts[0]["provider_data"]["storage_records"] == [{"name": "app"}] and artifacts[1]["provider_data"]["storage_records"] == []
    only = provider.list_artifact({"registry": "acme", "digests": [{"digest": D4, "repository": None}], "records": True})
    assert [(a["repository"], a["digest"], a["provider_data"]) for a in only] == [(None, D4, {"storage_records": [], "deployment_records": []})]
    with pytest.raises(ValueError, match="organizations only"):
        provider.list_artifact({"registry": "user:octocat", "records": True})


def test_writes_are_bounded(emu, connect, monkeypatch):
    assert connect(emu, concurrency=8)._write_concurrency() == 4
    assert connect(emu, concurrency=2)._write_concurrency() == 2
    seed_app(emu, tags=[("t%d" % i,) for i in range(6)])
    provider = connect(emu, state="absent", concurrency=16)
    seen = []
    original = provider.client.run_bulk

    def run_bulk(func, items, concurrency=None):
        seen.append(concurrency)
        return original(func, items, concurrency)
    monkeypatch.setattr(provider.client, "run_bulk", run_bulk)
    engine.ensure(provider, "artifact", [item(digest(str(i))) for i in range(1, 6)], "absent", {})
    assert 4 in seen and len(sent(emu)) == 5


# ---------------------------------------------------------------------------------------------
# The throwaway version of a tag removal (the OCI path itself is in the e2e tests)

def test_throwaway_version_is_deleted_through_the_rest_api(emu, connect):
    seed_app(emu)
    emu.add_version("org", "acme", "app", name=D4, tags=["v1"], id=777)  # the throwaway, newest, now carrying v1
    provider = connect(emu)
    owner = Owner.parse("acme")
    assert provider._delete_throwaway(owner, "acme/app", D4) is True
    assert sent(emu) == [("DELETE", "/orgs/acme/packages/container/app/versions/777")]
    emu.log.clear()
    assert provider._delete_throwaway(owner, "acme/app", D4) is False  # already gone: among the deleted versions
    assert sent(emu) == []
    with pytest.raises(ApiError, match="does not show as a version of package app after 3 looks"):
        provider._delete_throwaway(owner, "acme/app", digest("9"))


def test_throwaway_that_is_the_last_tagged_version(emu, connect):
    emu.configure(last_version_rule="last_tagged")
    seed_app(emu, tags=((),))
    emu.add_version("org", "acme", "app", name=D4, tags=["v1"], id=777)
    with pytest.raises(ApiError) as caught:
        connect(emu)._delete_throwaway(Owner.parse("acme"), "acme/app", D4)
    assert caught.value.status == 400
    assert "GitHub refused to delete the throwaway version %s (id 777) of package app" % D4 in caught.value.message
    assert "would leave the package without a (tagged) version" in caught.value.message


def test_platform_images_of_a_kept_multi_arch_image_are_never_planned_away(emu, connect):
    """ghcr.io keeps each platform image of a multi-arch image as an untagged version: the tagged versions' manifests are
    read over ghcr.io for their children, so a policy that selects untagged versions keeps those a kept index lists."""
    backend = ghcr_backend(emu)
    try:
        client = SeedClient(emu.url, "octocat", DEFAULT_TOKEN)
        amd = client.push_image("acme/base", created="2026-01-01T00:00:00Z", arch="amd64", by_digest=True)
        arm = client.push_image("acme/base", created="2026-01-01T00:00:00Z", arch="arm64", by_digest=True)
        index = client.push_index("acme/base", tags=["latest"], children=[amd, arm])
        orphan = client.push_image("acme/base", created="2026-01-01T00:00:00Z", by_digest=True)
        emu.log.clear()
        provider = connect(emu, oci_url=emu.url)
        artifacts = provider.list_artifact({"registry": "acme", "repository": ["base"]})
        by_digest = dict((a["digest"], a) for a in artifacts)
        assert sorted(c["digest"] for c in by_digest[index]["children"]) == sorted([amd, arm])
        assert by_digest[index]["platforms"] == ["linux/amd64", "linux/arm64"]
        assert by_digest[index]["media_type"] == "application/vnd.oci.image.index.v1+json"
        # one GET per tagged version over ghcr.io, none for the untagged ones
        assert sum(1 for r in emu.log.records if r.method == "GET" and "/manifests/" in r.path) == 1
        # the versions were pushed at the emulator's clock (CLOCK): a month later they are all old enough
        planned = retention_plan({"artifacts": artifacts}, {"tag_state": "any", "older_than": "1d", "keep": {"latest": True}},
                                 now="2026-07-01T00:00:00Z")
        assert sorted(e["digest"] for e in planned["delete_digests"]) == [orphan]
        kept = dict((e["digest"], e["reason"]) for e in planned["kept"] if not e.get("tag"))
        assert kept == {amd: "index_child", arm: "index_child"}
    finally:
        backend.stop()


def test_untagged_versions_are_kept_when_the_images_that_may_list_them_cannot_be_read(emu, connect):
    seed_app(emu)  # REST data only: ghcr.io has no manifest for it
    provider = connect(emu, oci_url=emu.url)
    artifacts = dict((a["digest"], a) for a in provider.list_artifact({"registry": "acme", "repository": ["app"]}))
    assert artifacts[D3]["read_error"].startswith("which tagged image of app lists this untagged version is unknown")
    assert artifacts[D1]["read_error"] is None and artifacts[D1]["children"] == []
    planned = retention_plan({"artifacts": list(artifacts.values())}, {"tag_state": "any", "older_than": "1d"}, now="2026-05-30T12:00:00Z")
    assert D3 not in [e["digest"] for e in planned["delete_digests"]]
