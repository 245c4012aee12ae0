# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``gitlab`` provider's deploy tokens (``registry_user``) and protection rules (``protection_rule``).

The provider talks to the GitLab emulator (``tests/emulators/gitlab.py``) in this process, over real HTTP on loopback,
through the engine (``state.ensure``) as the modules do; every request it sends is checked in the emulator's log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import sys

import pytest

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.providers.gitlab import GitLabProvider
from ansible_collections.regops.registry.plugins.module_utils.providers.gitlab_access import (
    canonical_scopes,
    parse_expiry,
    registry_scopes,
    token_request,
)
from ansible_collections.regops.registry.plugins.module_utils.providers.vultr import VultrProvider
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import provider_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.gitlab import DEFAULT_TOKEN, GitLabEmulator  # noqa: E402 pylint: disable=wrong-import-position

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
TOKENS = "/api/v4/projects/acme%2Fapp/deploy_tokens"
GROUP_TOKENS = "/api/v4/groups/acme/deploy_tokens"
REPO_RULES = "/api/v4/projects/acme%2Fapp/registry/protection/repository/rules"
TAG_RULES = "/api/v4/projects/acme%2Fapp/registry/protection/tag/rules"
MAINTAINER = "emulator-gitlab-maintainer-token"
BOTH = {"minimum_access_level_for_push": "maintainer", "minimum_access_level_for_delete": "owner"}


@pytest.fixture(scope="module")
def emulator():
    with GitLabEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def connect():
    made = []

    def make(emu, **params):
        base = provider_params("gitlab", emu.url, params.pop("api_token", DEFAULT_TOKEN), **params)
        provider = GitLabProvider(base)
        provider.connect()
        provider.client.sleep = lambda seconds: None
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def sent(emu, methods=MUTATING):
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in methods]


def users(registry, *names):
    return [{"registry": registry, "name": name} for name in names]


def rules(kind, *patterns, registry="acme/app"):
    return [{"registry": registry, "kind": kind, "pattern": pattern} for pattern in patterns]


def run(provider, resource, items, state, desired, check_mode=False):
    """Validate, then the engine, as a module does (diff on)."""
    provider.validate(resource, items, desired)
    return engine.ensure(provider, resource, items, state, desired, check_mode=check_mode, diff_mode=True)


def snapshot(emu):
    """The emulator's state without its clock."""
    return dict(emu.dump_state(), clock=None)


def check_then_apply(emu, provider, resource, items, state, desired):
    """Check mode (nothing mutating sent, state unchanged), then the real run; both results."""
    before = snapshot(emu)
    emu.log.clear()
    predicted = run(provider, resource, items, state, desired, check_mode=True)
    assert sent(emu) == []
    assert snapshot(emu) == before
    done = run(provider, resource, items, state, desired)
    assert (predicted["changed"], predicted["actions"]) == (done["changed"], done["actions"])
    return predicted, done


def in_days(days):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)).strftime("%Y-%m-%d")


def state_tokens(emu, owner="acme/app"):
    dump = emu.dump_state()
    if owner.startswith("group:"):
        return next(g for g in dump["groups"] if g["full_path"] == owner[6:])["deploy_tokens"]
    return next(p for p in dump["projects"] if p["path_with_namespace"] == owner)["deploy_tokens"]


def state_rules(emu, kind):
    project = next(p for p in emu.dump_state()["projects"] if p["path_with_namespace"] == "acme/app")
    return [(r["id"], r.get("repository_path_pattern") or r.get("tag_name_pattern"), r["minimum_access_level_for_push"],
             r["minimum_access_level_for_delete"]) for r in project["%s_protection_rules" % kind]]


# ---------------------------------------------------------------------------------------------
# Pure: scopes, expiry, validation before any request

def test_scopes_are_canonical_and_read_only_maps_to_registry_scopes():
    assert canonical_scopes(["write_registry", "read_registry", "read_registry"]) == ["read_registry", "write_registry"]
    assert canonical_scopes(["future_scope", "read_repository"]) == ["read_repository", "future_scope"]
    assert registry_scopes(["read_repository", "write_registry"], True) == ["read_repository", "read_registry"]
    assert registry_scopes(["read_package_registry"], False) == ["read_registry", "write_registry", "read_package_registry"]
    assert token_request({"read_only": True}, "projects") == {"read_only": True}
    assert token_request({"scopes": ["write_registry", "read_registry"], "read_only": False}, "projects") == {
        "scopes": ["read_registry", "write_registry"]}
    assert token_request({"scopes": ["read_virtual_registry"]}, "projects") == {"scopes": ["read_virtual_registry"]}
    assert token_request({"username": "puller.1+x", "expires_at": "never"}, "groups") == {"username": "puller.1+x", "expires_at": None}


def test_expiry_is_normalized_to_utc_and_must_be_in_the_future():
    now = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
    assert parse_expiry("2027-01-31", now) == "2027-01-31T00:00:00Z"
    assert parse_expiry("2027-01-31T18:00:00+02:00", now) == "2027-01-31T16:00:00Z"
    assert parse_expiry("2027-01-31 18:00", now) == "2027-01-31T18:00:00Z"
    assert parse_expiry("2027-01-31T18:00:00.250Z", now) == "2027-01-31T18:00:00.250Z"
    assert parse_expiry(datetime.date(2027, 1, 31), now) == "2027-01-31T00:00:00Z"  # what YAML makes of an unquoted date
    assert parse_expiry("Never", now) is None and parse_expiry("", now) is None
    with pytest.raises(ValueError, match="not in the future"):
        parse_expiry("2026-05-31", now)
    for bad in ("tomorrow", "2027-13-01", "2027-01-31T25:00:00Z", "31/01/2027"):
        with pytest.raises(ValueError, match="is not an ISO 8601 date"):
            parse_expiry(bad, now)


@pytest.mark.parametrize("resource, items, desired, message", [
    ("registry_user", users("acme/app", "ci"), {"scopes": ["read_registry", "admin"]}, "scopes 'admin': not a scope of a project's"),
    ("registry_user", users("group:acme", "ci"), {"scopes": ["read_virtual_registry"]},
     "scopes 'read_virtual_registry': not a scope of a group's deploy tokens (GitLab takes read_repository, read_registry, "
     "write_registry, read_package_registry, write_package_registry)"),
    ("registry_user", users("acme/app", "ci"), {"scopes": []}, "scopes is empty"),
    ("registry_user", users("acme/app", "ci"), {"scopes": ["read_registry"], "read_only": False}, "read_only: false contradicts scopes"),
    ("registry_user", users("acme/app", "ci"), {"scopes": ["write_registry"], "read_only": True}, "read_only: true contradicts scopes"),
    ("registry_user", users("acme/app", "ci"), {"expires_at": "2001-01-01"}, "is not in the future"),
    ("registry_user", users("acme/app", "ci"), {"expires_at": "soon"}, "expires_at 'soon' is not an ISO 8601 date"),
    ("registry_user", users("acme/app", "ci"), {"username": "has space"}, "username 'has space' is not valid"),
    ("registry_user", users("acme/app", " ci"), {}, "deploy token name ' ci' is not valid"),
    ("registry_user", users("acme/app", "ci\n"), {}, r"deploy token name 'ci\n' is not valid"),
    ("registry_user", users("acme app", "ci"), {}, "registry 'acme app' is not a GitLab project or group"),
    ("protection_rule", rules("tag", "^v", registry="group:acme"), BOTH, "protection rules belong to a project"),
    ("protection_rule", rules("repository", "other/app/*"), BOTH, "must start with the project's full path acme/app"),
    ("protection_rule", rules("repository", "acme/app/a b"), BOTH, "repository pattern 'acme/app/a b' is not valid"),
    ("protection_rule", rules("repository", ""), BOTH, "pattern must not be empty"),
    ("protection_rule", rules("tag", "^v\n"), BOTH, r"tag pattern '^v\n' is not valid"),
    ("protection_rule", rules("tag", "x" * 101), BOTH, "at most 100 characters"),
    ("protection_rule", rules("tag", "^v"), {"minimum_access_level_for_push": "none"}, "minimum_access_level_for_push cannot be none"),
    ("protection_rule", rules("repository", "acme/app/*"), {"minimum_access_level_for_push": "none", "minimum_access_level_for_delete": "none"},
     "both cannot be none"),
    ("protection_rule", rules("repository", "acme/app/*"), {"minimum_access_level_for_push": "developer"}, "is not one of maintainer"),
])
def test_bad_input_fails_before_any_request(emu, connect, resource, items, desired, message):
    provider = connect(emu)
    emu.log.clear()
    with pytest.raises(ValueError) as caught:
        provider.validate(resource, items, desired)
    assert message in str(caught.value)
    assert list(emu.log.records) == []


def test_a_ci_job_token_is_refused_before_any_request(emu, connect, monkeypatch):
    monkeypatch.setenv("CI_JOB_TOKEN", "emulator-gitlab-job-token")
    provider = connect(emu, api_token=None)
    assert provider.auth_kind == "job"
    for resource, items, what in (("registry_user", users("acme/app", "ci"), "deploy tokens"),
                                  ("protection_rule", rules("tag", "^v"), "protection rules")):
        with pytest.raises(ValueError, match="a CI job token cannot read or change %s" % what):
            provider.validate(resource, items, {})
    assert list(emu.log.records) == []


def test_what_gitlab_cannot_do_fails_before_any_request(emu, connect):
    provider = connect(emu)
    with pytest.raises(UnsupportedError, match=r"does not support the option\(s\) duration, secret for registry_user"):
        provider.require("registry_user", state="present", options=("read_only", "duration", "secret"))
    provider.require("protection_rule", state="absent", options=("minimum_access_level_for_delete",))
    provider.require("protection_rule", info=True)
    assert "protection_rule (state=present|absent, protection_rule_info)" in provider.describe()
    with pytest.raises(UnsupportedError, match="Provider 'vultr' cannot manage protection_rule: it has no such resource"):
        VultrProvider({}).require("protection_rule", state="present")
    with pytest.raises(UnsupportedError, match="does not support the option.s. expires_at, scopes for registry_user"):
        VultrProvider({}).require("registry_user", state="present", options=("scopes", "expires_at"))
    assert list(emu.log.records) == []


# ---------------------------------------------------------------------------------------------
# Deploy tokens

def test_project_token_create_check_apply_and_rerun(emu, connect):
    provider = connect(emu)
    desired = {"read_only": False, "expires_at": "2030-01-31T18:00:00+02:00", "username": "ci-bot"}
    predicted, done = check_then_apply(emu, provider, "registry_user", users("acme/app", "ci", "pull"), "present", desired)
    assert [a["action"] for a in done["actions"]] == ["created", "created"]
    expected = {"name": "ci", "id": None, "login": "ci-bot", "registry": "acme/app", "read_only": False,
                "expires_at": "2030-01-31T16:00:00Z", "created_at": None,
                "provider_data": {"scopes": ["read_registry", "write_registry"], "revoked": False, "expired": False}}
    assert predicted["users"][0] == expected and "secret" not in predicted["diff"]["after"]["acme/app/ci"]
    body = {"name": "ci", "scopes": ["read_registry", "write_registry"], "expires_at": "2030-01-31T16:00:00Z", "username": "ci-bot"}
    assert sorted(sent(emu), key=lambda s: s[2]["name"]) == [("POST", TOKENS, body), ("POST", TOKENS, dict(body, name="pull"))]
    created = {u["name"]: u for u in done["users"]}
    tokens = {t["name"]: t for t in state_tokens(emu)}
    assert created["ci"]["secret"] == tokens["ci"]["token"] and created["ci"]["secret"].startswith("gldt-")
    assert dict(created["ci"], id=None, secret=None) == dict(expected, secret=None)
    # the token value is never in the diff
    assert done["diff"]["after"]["acme/app/ci"]["secret"] == engine.MASK
    assert tokens["ci"]["token"] not in str(done["diff"])
    # again: nothing sent, no secret; the same expiry written another way is the same
    emu.log.clear()
    again = run(provider, "registry_user", users("acme/app", "ci", "pull"), "present", dict(desired, expires_at="2030-01-31T16:00:00Z"))
    assert again["changed"] is False and sent(emu) == []
    assert all("secret" not in u for u in again["users"])
    reads = [r.target for r in emu.log.records]
    assert reads == [TOKENS + "?active=true&page=1&per_page=100"]


def test_new_token_without_scopes_or_read_only_pulls_only(emu, connect):
    provider = connect(emu)
    done = run(provider, "registry_user", users("acme/app", "plain"), "present", {})
    assert done["users"][0]["provider_data"]["scopes"] == ["read_registry"] and done["users"][0]["read_only"] is True
    assert done["users"][0]["login"] == "gitlab+deploy-token-%d" % done["users"][0]["id"] and done["users"][0]["expires_at"] is None
    assert sent(emu) == [("POST", TOKENS, {"name": "plain", "scopes": ["read_registry"]})]


def test_group_tokens(emu, connect):
    provider = connect(emu)
    emu.add_deploy_token("acme", "old", ["read_registry"], kind="group")
    desired = {"scopes": ["read_package_registry", "read_registry"]}
    _predicted, done = check_then_apply(emu, provider, "registry_user", users("group:acme", "pkg"), "present", desired)
    assert sent(emu) == [("POST", GROUP_TOKENS, {"name": "pkg", "scopes": ["read_registry", "read_package_registry"]})]
    assert done["users"][0]["registry"] == "group:acme" and done["users"][0]["secret"]
    assert sorted(t["name"] for t in state_tokens(emu, "group:acme")) == ["old", "pkg"]
    _predicted, gone = check_then_apply(emu, provider, "registry_user", users("group:acme", "old"), "absent", {})
    assert gone["actions"] == [{"ref": "group:acme/old", "action": "deleted"}]
    assert [(m, t) for m, t, _b in sent(emu)] == [("DELETE", GROUP_TOKENS + "/%d" % gone["users"][0]["id"])]
    # a Maintainer reads a group's tokens; only Owners create and revoke them: the message says so
    maintainer = connect(emu, api_token=MAINTAINER)
    with pytest.raises(engine.Failure) as caught:
        run(maintainer, "registry_user", users("group:acme", "new"), "present", {})
    assert "HTTP 403" in caught.value.msg and "created and revoked by the group's Owners only" in caught.value.msg
    assert [t["name"] for t in maintainer.list_registry_user({"registry": "group:acme"})] == ["pkg"]


def test_differences_fail_unless_recreate(emu, connect):
    provider = connect(emu)
    seeded = emu.add_deploy_token("acme/app", "ci", ["read_registry"], expires_at="2030-01-01T00:00:00Z", username="ci-bot")
    emu.log.clear()
    desired = {"scopes": ["read_registry", "write_registry"], "expires_at": "never", "username": "ci-bot"}
    for check_mode in (True, False):
        with pytest.raises(ValueError) as caught:
            run(provider, "registry_user", users("acme/app", "ci"), "present", desired, check_mode=check_mode)
        assert str(caught.value) == (
            "deploy token 'ci' of acme/app (id %d) differs from the task: scopes read_registry, task read_registry, write_registry; "
            "expires_at 2030-01-01T00:00:00Z, task never. GitLab cannot change a deploy token: set recreate: true to revoke it "
            "and create it again (with a new token value, returned once)" % seeded["id"])
    assert sent(emu) == []
    # read_only alone compares read_only only (the other scopes are left as they are)
    with pytest.raises(ValueError, match="read_only true, task false"):
        run(provider, "registry_user", users("acme/app", "ci"), "present", {"read_only": False})
    # recreate: predicted without a request, then revoked and created with the new values; the username is kept
    predicted, done = check_then_apply(emu, provider, "registry_user", users("acme/app", "ci"), "present", dict(desired, recreate=True))
    assert predicted["actions"] == [{"ref": "acme/app/ci", "action": "updated"}]
    assert predicted["users"][0] == {"name": "ci", "id": None, "login": "ci-bot", "registry": "acme/app", "read_only": False,
                                     "expires_at": None, "created_at": None,
                                     "provider_data": {"scopes": ["read_registry", "write_registry"], "revoked": False, "expired": False}}
    assert predicted["diff"]["before"]["acme/app/ci"]["id"] == seeded["id"]
    assert sent(emu) == [("DELETE", TOKENS + "/%d" % seeded["id"], None),
                         ("POST", TOKENS, {"name": "ci", "scopes": ["read_registry", "write_registry"], "username": "ci-bot"})]
    new = done["users"][0]
    tokens = state_tokens(emu)
    assert [(t["id"], t["username"], t["expires_at"]) for t in tokens] == [(new["id"], "ci-bot", None)]
    assert new["secret"] == tokens[0]["token"] != seeded["token"]
    assert done["diff"]["after"]["acme/app/ci"]["secret"] == engine.MASK and seeded["token"] not in str(done)
    # recreate with nothing different: unchanged
    emu.log.clear()
    assert run(provider, "registry_user", users("acme/app", "ci"), "present", dict(desired, recreate=True))["changed"] is False
    assert sent(emu) == []


def test_read_only_recreate_keeps_the_other_scopes_and_drops_a_generated_username(emu, connect):
    provider = connect(emu)
    seeded = emu.add_deploy_token("acme/app", "ci", ["read_repository", "read_registry", "write_registry"])
    assert seeded["username"] == "gitlab+deploy-token-%d" % seeded["id"]
    done = run(provider, "registry_user", users("acme/app", "ci"), "present", {"read_only": True, "recreate": True})
    assert sent(emu)[-1] == ("POST", TOKENS, {"name": "ci", "scopes": ["read_repository", "read_registry"]})
    assert done["users"][0]["login"] == "gitlab+deploy-token-%d" % done["users"][0]["id"]


def test_refresh_secret_recreates_every_run(emu, connect):
    provider = connect(emu)
    seeded = emu.add_deploy_token("acme/app", "ci", ["read_registry"], username="puller", expires_at="2031-05-05T05:05:05Z")
    secrets = []
    for _run in range(2):
        done = run(provider, "registry_user", users("acme/app", "ci"), "present", {"read_only": True, "refresh_secret": True})
        assert done["changed"] is True and done["actions"][0]["action"] == "updated"
        secrets.append(done["users"][0]["secret"])
    assert seeded["token"] not in secrets and len(set(secrets)) == 2
    body = {"name": "ci", "scopes": ["read_registry"], "expires_at": "2031-05-05T05:05:05Z", "username": "puller"}
    assert [s for s in sent(emu) if s[0] == "POST"] == [("POST", TOKENS, body)] * 2
    assert [(t["username"], t["expires_at"]) for t in state_tokens(emu)] == [("puller", "2031-05-05T05:05:05.000Z")]


def test_duplicates_fail_present_and_are_all_revoked_by_absent(emu, connect):
    provider = connect(emu)
    first = emu.add_deploy_token("acme/app", "ci", ["read_registry"])
    second = emu.add_deploy_token("acme/app", "ci", ["read_registry", "write_registry"])
    other = emu.add_deploy_token("acme/app", "keep", ["read_registry"])
    emu.log.clear()
    for check_mode in (True, False):
        with pytest.raises(ValueError) as caught:
            run(provider, "registry_user", users("acme/app", "ci"), "present", {"read_only": True}, check_mode=check_mode)
        assert "2 active deploy tokens are named 'ci' in acme/app (ids %d, %d)" % (first["id"], second["id"]) in str(caught.value)
    assert sent(emu) == []
    _predicted, done = check_then_apply(emu, provider, "registry_user", users("acme/app", "ci"), "absent", {})
    assert done["actions"] == [{"ref": "acme/app/ci", "action": "deleted"}]
    assert done["users"][0]["provider_data"]["duplicate_ids"] == [first["id"], second["id"]]
    assert sorted(sent(emu)) == [("DELETE", TOKENS + "/%d" % first["id"], None), ("DELETE", TOKENS + "/%d" % second["id"], None)]
    assert [t["id"] for t in state_tokens(emu)] == [other["id"]]


def test_revoked_and_expired_tokens_are_not_the_identity_and_info_shows_them(emu, connect):
    provider = connect(emu)
    revoked = emu.add_deploy_token("acme/app", "ci", ["read_registry"], revoked=True)
    expiring = emu.add_deploy_token("acme/app", "pull", ["read_registry"], expires_at=in_days(2))
    emu.advance_clock(3 * 86400)
    done = run(provider, "registry_user", users("acme/app", "ci", "pull"), "present", {"read_only": True})
    assert [a["action"] for a in done["actions"]] == ["created", "created"]
    listed = provider.list_registry_user({"registry": "acme/app", "name": None})
    assert [(u["name"], u["id"], u["provider_data"]["revoked"], u["provider_data"]["expired"]) for u in listed] == [
        ("ci", revoked["id"], True, False), ("ci", done["users"][0]["id"], False, False),
        ("pull", expiring["id"], False, True), ("pull", done["users"][1]["id"], False, False)]
    assert all("secret" not in u for u in listed)
    for value in (revoked["token"], expiring["token"], done["users"][0]["secret"]):
        assert value not in str(listed)
    assert [u["name"] for u in provider.list_registry_user({"registry": "acme/app", "name": ["pull"]})] == ["pull", "pull"]
    assert [r.target for r in emu.log.records if r.method == "GET"][-1] == TOKENS + "?page=1&per_page=100"


def test_absent_is_not_a_change_when_gone_and_404_on_delete_is_done(emu, connect):
    provider = connect(emu)
    seeded = emu.add_deploy_token("acme/app", "ci", ["read_registry"])
    emu.log.clear()
    nothing = run(provider, "registry_user", users("acme/app", "nope"), "absent", {})
    assert (nothing["changed"], nothing["actions"], nothing["users"]) == (False, [{"ref": "acme/app/nope", "action": "absent"}], [])
    assert sent(emu) == []
    # revoked by someone else between the read and the DELETE: 404 is done
    emu.error(404, method="DELETE", path_prefix=TOKENS, message="404 Not found")
    done = run(provider, "registry_user", users("acme/app", "ci"), "absent", {})
    assert done["changed"] is True and done["actions"] == [{"ref": "acme/app/ci", "action": "deleted"}]
    assert sent(emu) == [("DELETE", TOKENS + "/%d" % seeded["id"], None)]


def test_a_create_that_fails_after_the_revoke_says_so_and_the_next_run_creates(emu, connect):
    provider = connect(emu)
    seeded = emu.add_deploy_token("acme/app", "ci", ["read_registry"])
    emu.server_error(status=500, method="POST", path_prefix=TOKENS)  # a POST that may have acted is never sent twice
    with pytest.raises(engine.Failure) as caught:
        run(provider, "registry_user", users("acme/app", "ci"), "present", {"read_only": False, "recreate": True})
    assert ("deploy token 'ci' of acme/app (id %d) was revoked, but creating its replacement failed: HTTP 500 POST" % seeded["id"]
            in caught.value.msg)
    assert "Run the task again to create it" in caught.value.msg
    assert caught.value.result["changed"] is False and caught.value.result["actions"][0]["action"] == "failed"
    assert state_tokens(emu) == []
    done = run(provider, "registry_user", users("acme/app", "ci"), "present", {"read_only": False})
    assert done["actions"][0]["action"] == "created" and done["users"][0]["provider_data"]["scopes"] == ["read_registry", "write_registry"]


def test_retried_requests_end_in_the_clean_state(emu, connect):
    provider = connect(emu)
    emu.rate_limit(times=1, retry_after="0", method="POST", path_prefix=TOKENS)
    emu.server_error(times=1, status=503, method="POST", path_prefix=TOKENS)
    emu.server_error(times=1, status=502, method="GET", path_prefix=TOKENS)
    done = run(provider, "registry_user", users("acme/app", "ci"), "present", {})
    assert done["actions"][0]["action"] == "created" and len(state_tokens(emu)) == 1
    assert [r.status for r in emu.log.records] == [502, 200, 429, 503, 201]


# ---------------------------------------------------------------------------------------------
# Protection rules

def test_repository_rule_create_update_unset_and_delete(emu, connect):
    provider = connect(emu, concurrency=1)  # ids in the order of the patterns
    items = rules("repository", "acme/app/release-*", "acme/app/web")
    predicted, done = check_then_apply(emu, provider, "protection_rule", items, "present", {"minimum_access_level_for_push": "maintainer"})
    assert predicted["protection_rules"][0] == {
        "registry": "acme/app", "kind": "repository", "pattern": "acme/app/release-*", "id": None,
        "minimum_access_level_for_push": "maintainer", "minimum_access_level_for_delete": None, "immutable": False,
        "provider_data": {"project_id": None}}
    assert sorted(sent(emu), key=str) == [("POST", REPO_RULES, {"repository_path_pattern": p, "minimum_access_level_for_push": "maintainer"})
                                          for p in ("acme/app/release-*", "acme/app/web")]
    assert done["protection_rules"][0]["provider_data"] == {"project_id": emu.project_id("acme/app")}
    rule_id = done["protection_rules"][0]["id"]
    # only what the task names, only what differs: the push level stays
    _predicted, updated = check_then_apply(emu, provider, "protection_rule", items, "present", {"minimum_access_level_for_delete": "owner"})
    assert sorted(sent(emu), key=str) == [("PATCH", REPO_RULES + "/%d" % rule_id, {"minimum_access_level_for_delete": "owner"}),
                                          ("PATCH", REPO_RULES + "/%d" % (rule_id + 1), {"minimum_access_level_for_delete": "owner"})]
    assert updated["diff"]["before"]["acme/app:repository:acme/app/web"]["minimum_access_level_for_delete"] is None
    # none unsets a level ("" on the wire)
    unset_push = {"minimum_access_level_for_push": "none", "minimum_access_level_for_delete": "owner"}
    predicted, unset = check_then_apply(emu, provider, "protection_rule", items[:1], "present", unset_push)
    assert predicted["protection_rules"] == unset["protection_rules"]
    assert sent(emu) == [("PATCH", REPO_RULES + "/%d" % rule_id, {"minimum_access_level_for_push": ""})]
    assert state_rules(emu, "repository")[0] == (rule_id, "acme/app/release-*", None, "owner")
    # a level left without a partner would leave the rule empty: refused before any request
    emu.log.clear()
    with pytest.raises(ValueError, match="would be left without any access level"):
        run(provider, "protection_rule", items[:1], "present", {"minimum_access_level_for_delete": "none"})
    assert sent(emu) == []
    # again: unchanged
    assert run(provider, "protection_rule", items, "present", {"minimum_access_level_for_delete": "owner"})["changed"] is False
    # absent, then absent again: not a change
    _predicted, gone = check_then_apply(emu, provider, "protection_rule", items, "absent", {})
    assert sorted(sent(emu)) == [("DELETE", REPO_RULES + "/%d" % rule_id, None), ("DELETE", REPO_RULES + "/%d" % (rule_id + 1), None)]
    assert gone["diff"]["after"] == {} and state_rules(emu, "repository") == []
    again = run(provider, "protection_rule", items, "absent", {})
    assert again["changed"] is False and [a["action"] for a in again["actions"]] == ["absent", "absent"]


def test_a_new_rule_needs_its_levels(emu, connect):
    provider = connect(emu)
    emu.log.clear()
    for check_mode in (True, False):
        with pytest.raises(engine.Failure) as caught:
            run(provider, "protection_rule", rules("tag", "^v"), "present", {"minimum_access_level_for_push": "owner"}, check_mode=check_mode)
        assert "a tag protection rule is created with both minimum_access_level_for_push and minimum_access_level_for_delete" in caught.value.msg
        with pytest.raises(engine.Failure) as caught:
            run(provider, "protection_rule", rules("repository", "acme/app/x"), "present", {"minimum_access_level_for_push": "none"},
                check_mode=check_mode)
        assert "a repository protection rule is created with at least one of" in caught.value.msg
    assert sent(emu) == []


def test_tag_rules_update_delete_and_404_as_done(emu, connect):
    provider = connect(emu, concurrency=1)  # requests in the order of the patterns
    _predicted, done = check_then_apply(emu, provider, "protection_rule", rules("tag", "^v", "latest"), "present", BOTH)
    assert sorted(sent(emu), key=str) == [("POST", TAG_RULES, dict(BOTH, tag_name_pattern=p)) for p in ("^v", "latest")]
    first = done["protection_rules"][0]["id"]
    _predicted, updated = check_then_apply(emu, provider, "protection_rule", rules("tag", "^v"), "present", {"minimum_access_level_for_push": "admin"})
    assert sent(emu) == [("PATCH", TAG_RULES + "/%d" % first, {"minimum_access_level_for_push": "admin"})]
    assert updated["protection_rules"][0]["minimum_access_level_for_push"] == "admin"
    # deleted by someone else meanwhile: 404 is done
    emu.error(404, method="DELETE", path_prefix=TAG_RULES, message="404 Not found")
    gone = run(provider, "protection_rule", rules("tag", "^v", "latest"), "absent", {})
    assert gone["changed"] is True and [a["action"] for a in gone["actions"]] == ["deleted", "deleted"]
    assert state_rules(emu, "tag") == [(first, "^v", "admin", "owner")]  # the one the fault answered for (the first) is still there
    # an update answered 404 (GitLab before 18.9 has no tag-rule PATCH)
    emu.error(404, method="PATCH", path_prefix=TAG_RULES, message="404 Not Found", exception_class="error")
    with pytest.raises(engine.Failure, match="tag rule updates need GitLab 18.9 or later"):
        run(provider, "protection_rule", rules("tag", "^v"), "present", {"minimum_access_level_for_delete": "admin"})


def test_422_pattern_taken_or_invalid_is_a_clear_failure(emu, connect):
    provider = connect(emu)
    emu.add_protection_rule("acme/app", "repository", "acme/app/taken", push="owner", delete=None)
    with pytest.raises(ValueError) as caught:
        provider.create_protection_rule(rules("repository", "acme/app/taken")[0], {"minimum_access_level_for_push": "owner"})
    assert str(caught.value) == ("GitLab refused to create repository rule 'acme/app/taken' of acme/app (HTTP 422): "
                                 "Repository path pattern has already been taken")
    # by numeric id the project path is not known before the request: GitLab's own check answers
    project = str(emu.project_id("acme/app"))
    with pytest.raises(engine.Failure) as caught:
        run(provider, "protection_rule", rules("repository", "other/*", registry=project), "present", {"minimum_access_level_for_push": "owner"})
    assert ("GitLab refused to create repository rule 'other/*' of %s (HTTP 422): Repository path pattern should start with the "
            "project's full path" % project) in caught.value.msg
    # a pattern RE2 refuses is refused before any request (GitLab would answer 422 "Tag name pattern not valid RE2")
    emu.log.clear()
    with pytest.raises(ValueError, match=r"tag pattern '\(\?=x\)' is not a regular expression GitLab accepts \(RE2 has no \(\?="):
        provider.validate("protection_rule", rules("tag", "(?=x)"), BOTH)
    assert emu.log.records == []


def test_five_tag_rules_per_project(emu, connect):
    provider = connect(emu)
    for index in range(4):
        emu.add_protection_rule("acme/app", "tag", "^r%d" % index, push="maintainer", delete="maintainer")
    items = rules("tag", "^r0", "^new1", "^new2")
    limit = "GitLab allows at most 5 tag protection rules per project, and acme/app would have more"
    with pytest.raises(engine.Failure) as predicted:
        run(provider, "protection_rule", items, "present", {"minimum_access_level_for_push": "maintainer",
                                                            "minimum_access_level_for_delete": "maintainer"}, check_mode=True)
    assert sent(emu) == []
    with pytest.raises(engine.Failure) as caught:
        run(provider, "protection_rule", items, "present", {"minimum_access_level_for_push": "maintainer",
                                                            "minimum_access_level_for_delete": "maintainer"})
    assert caught.value.result["actions"] == predicted.value.result["actions"] == [
        {"ref": "acme/app:tag:^r0", "action": "unchanged"}, {"ref": "acme/app:tag:^new1", "action": "created"},
        {"ref": "acme/app:tag:^new2", "action": "failed", "msg": limit + ": remove one first (state: absent)"}]
    assert caught.value.result["changed"] is True and len(state_rules(emu, "tag")) == 5
    # the server's own 422, when the limit is reached behind the module's back
    with pytest.raises(ValueError, match=r"\(HTTP 422\): Maximum number of protection rules \(5\) per project reached"):
        provider.create_protection_rule(rules("tag", "^late")[0], BOTH)


def test_immutable_tag_rules_are_shown_never_changed(emu, connect):
    provider = connect(emu)
    immutable = emu.add_protection_rule("acme/app", "tag", "^stable", push=None, delete=None)
    emu.add_protection_rule("acme/app", "tag", "^v", push="maintainer", delete="owner")
    emu.add_protection_rule("acme/app", "repository", "acme/app/*", push=None, delete="admin")
    emu.log.clear()
    for state, desired in (("present", BOTH), ("absent", {})):
        for check_mode in (True, False):
            with pytest.raises(ValueError) as caught:
                run(provider, "protection_rule", rules("tag", "^v", "^stable"), state, desired, check_mode=check_mode)
            assert str(caught.value).startswith("tag rule '^stable' (id %d) of acme/app: an immutable tag rule" % immutable["id"])
            assert "never changes or deletes immutable rules" in str(caught.value)
    assert sent(emu) == []
    listed = provider.list_protection_rule({"registry": "acme/app", "kind": None, "pattern": None})
    assert [(r["kind"], r["pattern"], r["minimum_access_level_for_push"], r["minimum_access_level_for_delete"], r["immutable"])
            for r in listed] == [("repository", "acme/app/*", None, "admin", False), ("tag", "^stable", None, None, True),
                                 ("tag", "^v", "maintainer", "owner", False)]
    assert [r["pattern"] for r in provider.list_protection_rule({"registry": "acme/app", "kind": "tag", "pattern": ["^v", "nope"]})] == ["^v"]
    assert [r.target for r in emu.log.records][-1] == TAG_RULES + "?page=1&per_page=100"


def test_info_without_tag_rules_api_warns_and_lists_the_repository_rules(emu, connect):
    warnings = []
    provider = connect(emu)
    provider.warn = warnings.append
    emu.add_protection_rule("acme/app", "repository", "acme/app/*", push="owner", delete=None)
    emu.error(404, method="GET", path_prefix=TAG_RULES, message="404 Not Found", exception_class="error")
    assert [r["pattern"] for r in provider.list_protection_rule({"registry": "acme/app"})] == ["acme/app/*"]
    assert warnings == ["GitLab answered 404 to the tag protection rules of acme/app (they need GitLab 18.7 or later): none listed"]
    emu.error(404, method="GET", path_prefix=TAG_RULES, message="404 Not Found", exception_class="error")
    with pytest.raises(ApiError, match="HTTP 404"):
        provider.list_protection_rule({"registry": "acme/app", "kind": "tag"})
    with pytest.raises(ApiError, match="404 Project Not Found"):
        provider.list_protection_rule({"registry": "acme/nope"})
