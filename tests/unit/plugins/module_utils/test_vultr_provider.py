# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``vultr`` provider's translation: rules in both shapes, times, plans, masking, paths and queries.

The provider talks to the Vultr emulator (``tests/emulators/vultr.py``) in this process, over real HTTP on loopback,
and every request it sends is checked in the emulator's request log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import sys

import pytest
import requests

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, NotFoundError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Action
from ansible_collections.regops.registry.plugins.module_utils.providers.vultr import (
    MASK,
    VultrProvider,
    desired_rule,
    encode,
    normalize_rule,
    rule_key,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import after_the_read, provider_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.vultr import DEFAULT_API_KEY, NEVER_PULLED, VultrEmulator  # noqa: E402 pylint: disable=wrong-import-position
from tests.support.faultproxy import FaultProxy, FaultRule  # noqa: E402 pylint: disable=wrong-import-position

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
MUTATING = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # OPTIONS mints docker credentials


@pytest.fixture(scope="module")
def emulator():
    with VultrEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.reset()
    emulator.configure(robot_update_shape="access", robot_permissions_shape="array", retention_scope_key="scope_selectors",
                       registry_extras=True, default_per_page=100, max_per_page=500)
    yield emulator
    emulator.reset()


@pytest.fixture
def connect():
    made = []

    def make(emu, **params):
        base = provider_params("vultr", params.pop("api_url", emu.url), params.pop("api_token", DEFAULT_API_KEY), **params)
        provider = VultrProvider(base)
        provider.connect()
        provider.client.sleep = lambda seconds: None
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def sent(emu, methods=MUTATING):
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in methods]


# ---------------------------------------------------------------------------------------------
# Pure translation

def test_path_segments_are_encoded_once():
    assert encode("robot$main+ci") == "robot%24main%2Bci"
    assert encode("team/app") == "team%2Fapp"
    assert encode("team/sub/app") == "team%2Fsub%2Fapp"
    assert encode("plain") == "plain"


SPEC_RULE = {"id": 4, "disabled": True, "action": "retain", "params": {"latestPushedK": 5},
             "scope_selectors": {"repository": [{"decoration": "repoExcludes", "kind": "doublestar", "pattern": "team/**"}]},
             "tag_selectors": [{"decoration": "excludes", "kind": "doublestar", "pattern": "v*", "extras": '{"untagged":true}'}],
             "template": "latestPushedK"}


def test_normalize_rule_spec_and_govultr_shapes():
    expected = {"id": 4, "rule_type": "latestPushedK", "count": 5, "repository_action": "excludes", "repository_match": "team/**",
                "tag_action": "excludes", "tag_match": "v*", "untagged": True, "disabled": True}
    assert normalize_rule(SPEC_RULE) == expected
    govultr = dict(SPEC_RULE)
    govultr["scope_selector"] = govultr.pop("scope_selectors")
    assert normalize_rule(govultr) == expected
    # extras as an object, matches decorations, no count, untagged false
    plain = {"id": 1, "params": {}, "template": "always",
             "scope_selector": {"repository": [{"decoration": "repoMatches", "pattern": "**"}]},
             "tag_selectors": [{"decoration": "matches", "pattern": "**", "extras": {"untagged": False}}]}
    assert normalize_rule(plain) == {"id": 1, "rule_type": "always", "count": None, "repository_action": "matches",
                                     "repository_match": "**", "tag_action": "matches", "tag_match": "**", "untagged": False,
                                     "disabled": False}
    # a params key other than the template: the one value is the count
    assert normalize_rule(dict(plain, template="nDaysSinceLastPush", params={"nDaysSinceLastPush_days": 7}))["count"] == 7
    assert normalize_rule(dict(plain, tag_selectors=[{"pattern": "**", "extras": '{"untagged": false}'}]))["untagged"] is False


def test_desired_rule_defaults_and_validation():
    rule = desired_rule({"rule_type": "latestPushedK", "count": 3, "tag_match": None})
    assert rule == {"rule_type": "latestPushedK", "count": 3, "repository_action": "matches", "repository_match": "**",
                    "tag_action": "matches", "tag_match": "**", "untagged": False, "disabled": False}
    # disabled is not part of what identifies a rule: it is changed in place
    assert rule_key(rule) == rule_key(dict(rule, disabled=True, id=9))
    assert rule_key(rule) != rule_key(dict(rule, tag_match="v*"))
    bad = [
        ("nope", "must be a dict"),
        ({"count": 1}, "needs rule_type"),
        ({"rule_type": ""}, "needs rule_type"),
        ({"rule_type": "always", "colour": "red"}, "unknown retention rule key(s) colour"),
        ({"rule_type": "always", "tag_action": "keeps"}, "tag_action must be matches or excludes"),
        ({"rule_type": "always", "repository_action": "all"}, "repository_action must be matches or excludes"),
        ({"rule_type": "latestPushedK", "count": -1}, "count must be a whole number"),
        ({"rule_type": "latestPushedK", "count": True}, "count must be a whole number"),
        ({"rule_type": "latestPushedK", "count": "3"}, "count must be a whole number"),
        ({"rule_type": "always", "untagged": "yes"}, "untagged must be true or false"),
        ({"rule_type": "always", "disabled": 1}, "disabled must be true or false"),
    ]
    for value, message in bad:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            desired_rule(value)


def test_policy_changes():
    provider = VultrProvider({})
    have = [dict(desired_rule({"rule_type": "latestPushedK", "count": 5}), id=1),
            dict(desired_rule({"rule_type": "always", "tag_match": "v*"}), id=2),
            dict(desired_rule({"rule_type": "nDaysSinceLastPush", "count": 7}), id=3)]
    current = {"registry": "main", "rules": have}
    keep = [{"rule_type": "latestPushedK", "count": 5}, {"rule_type": "always", "tag_match": "v*"},
            {"rule_type": "nDaysSinceLastPush", "count": 7}]
    # the same rules (with the module's filled-in defaults): nothing
    assert provider._policy_changes(current, {"rules": keep, "purge": True}) == {}
    # rules left out: left alone, even with purge (only rules: [] deletes them all)
    assert provider._policy_changes(current, {"rules": None, "purge": True}) == {}
    assert provider._policy_changes(current, {"rules": [], "purge": True}) == {"delete": [1, 2, 3]}
    assert provider._policy_changes(current, {"rules": keep[:1], "purge": False}) == {}
    # disabled in place; a changed key is a delete and a create
    changes = provider._policy_changes(current, {"rules": [dict(keep[0], disabled=True), dict(keep[1], tag_match="release-*")],
                                                 "purge": True})
    assert changes["disable"] == [1] and changes["delete"] == [2, 3]
    assert [(r["rule_type"], r["tag_match"]) for r in changes["create"]] == [("always", "release-*")]
    # the schedule is sent when the policy is created or with schedule_update=always; a run is always a change
    assert provider._policy_changes(current, {"rules": keep, "schedule": "0 3 * * 0"}) == {}
    assert provider._policy_changes(current, {"rules": keep, "schedule": "0 3 * * 0", "schedule_update": "always"}) == {"schedule": "0 3 * * 0"}
    assert provider._policy_changes({"rules": []}, {"rules": keep[:1], "schedule": "0 3 * * 0"})["schedule"] == "0 3 * * 0"
    assert provider._policy_changes(current, {"rules": None, "run": "dry_run"}) == {"run": "dry_run"}


def test_normalized_registry_times_plan_and_masking():
    provider = VultrProvider({})
    provider._lists["plans"] = {"start_up": {"max_storage_mb": 10240}, "business": {"max_storage_mb": 20480},
                                "twin": {"max_storage_mb": 51200}, "premium": {"max_storage_mb": 51200}}
    raw = {"id": "e1d6be16", "name": "main", "urn": "sjc.vultrcr.com/main",
           "storage": {"used": {"bytes": 1024, "mb": 0, "updated_at": "2023-11-09 13:37:12"},
                       "allowed": {"bytes": 21474836480, "mb": 20480}},
           "date_created": "2023-11-09 13:37:12", "public": False,
           "root_user": {"id": 635, "username": "e1d6be16", "password": "r00t-pass", "root": True,
                         "added_at": "2023-11-09 13:37:12", "updated_at": "2023-11-10 01:02:03"},
           "metadata": {"region": {"name": "sjc", "urn": "sjc.vultrcr.com", "base_url": "https://sjc.vultrcr.com"},
                        "subscription": {"billing": {"monthly_price": 5, "pending_charges": 0.5}}}}
    registry = provider._normalize_registry(raw, ["ewr"])
    assert registry["created_at"] == "2023-11-09T13:37:12Z"
    assert (registry["region"], registry["url"], registry["storage_limit_bytes"], registry["storage_used_bytes"]) == (
        "sjc", "sjc.vultrcr.com/main", 21474836480, 1024)
    # no metadata.subscription.plan (the spec's fields only): inferred from the storage allowance when one plan has it
    assert registry["plan"] == "business"
    assert registry["provider_data"]["docker_host"] == "sjc.vultrcr.com"
    assert registry["provider_data"]["root_user"]["password"] == MASK
    assert registry["provider_data"]["root_user"]["updated_at"] == "2023-11-10T01:02:03Z"
    assert registry["provider_data"]["replications"] == ["ewr"]
    assert "r00t-pass" in provider.secrets and "r00t-pass" not in str(registry)
    # two plans with the same allowance: unknown, never a guess
    raw["storage"]["allowed"]["mb"] = 51200
    assert provider._normalize_registry(raw)["plan"] is None
    # the observed metadata.subscription.plan wins
    raw["metadata"]["subscription"]["plan"] = "premium"
    assert provider._normalize_registry(raw)["plan"] == "premium"
    root = provider._root_user(raw, "main")
    assert root["provider_data"] == {"root": True, "password": MASK, "updated_at": "2023-11-10T01:02:03Z"}
    assert root["created_at"] == "2023-11-09T13:37:12Z"


def test_normalized_artifact_and_robot():
    artifact = VultrProvider._normalize_artifact({
        "digest": DIGEST_A, "manifest_media_type": "application/vnd.oci.image.manifest.v1+json", "media_type": "x", "size": 716,
        "push_time": "2026-01-03T00:00:00.041Z", "pull_time": NEVER_PULLED, "type": "IMAGE",
        "tags": [{"name": "v1", "immutable": False, "push_time": "2026-01-03T01:00:00.000Z", "pull_time": "2026-02-01T10:00:00+02:00"},
                 {"name": "latest", "push_time": "2026-01-03 00:00:00", "pull_time": "0001-01-01T00:00:00Z"}]}, "team/app")
    assert (artifact["digest"], artifact["size_bytes"], artifact["tags"]) == (DIGEST_A, 716, ["latest", "v1"])
    assert artifact["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert (artifact["pushed_at"], artifact["pulled_at"]) == ("2026-01-03T00:00:00.041Z", None)
    assert artifact["provider_data"]["tags"] == [
        {"name": "v1", "immutable": False, "pushed_at": "2026-01-03T01:00:00Z", "pulled_at": "2026-02-01T08:00:00Z"},
        {"name": "latest", "immutable": None, "pushed_at": "2026-01-03T00:00:00Z", "pulled_at": None}]
    provider = VultrProvider({})
    robot = provider._normalize_robot({"name": "robot$main+ci", "description": "CI", "secret": "robot-secret", "disable": False,
                                       "duration": -1, "creation_time": "2026-01-01T00:00:00.000Z",
                                       "permissions": {"kind": "project", "namespace": "main",
                                                       "access": {"action": "push", "resource": "repository"}}}, "main")
    assert robot["read_only"] is False and robot["login"] == "robot$main+ci"
    assert robot["provider_data"]["permissions"] == [{"action": "push", "resource": "repository", "effect": "allow"}]
    assert "robot-secret" in provider.secrets and "robot-secret" not in str(robot)


# ---------------------------------------------------------------------------------------------
# Against the emulator: what is sent

def test_validation_before_any_request(emu):
    provider = VultrProvider({"api_token": DEFAULT_API_KEY})
    for resource, items, message in [
        ("registry", [{"name": "my-reg"}], "registry name 'my-reg' is not valid on Vultr"),
        ("registry", [{"name": "MyReg"}], "registry name 'MyReg' is not valid on Vultr"),
        ("registry", [{"name": "myreg\n"}], r"registry name 'myreg\\n' is not valid on Vultr"),
        ("repository", [{"registry": "main", "name": "Team/App"}], "repository name 'Team/App' is not valid"),
        ("tag", [{"registry": "main", "repository": "app", "name": "-x"}], "tag '-x' is not valid"),
        ("artifact", [{"registry": "main", "repository": "app", "digest": "sha256:abc"}], "digest 'sha256:abc' is not valid"),
        ("artifact", [{"repository": "app", "digest": DIGEST_A}], "needs registry"),
    ]:
        with pytest.raises(ValueError, match=message):
            provider.validate(resource, items)
    with pytest.raises(ValueError, match="VULTR_API_KEY"):
        VultrProvider({"api_token": None}).validate("registry", [])
    with pytest.raises(ValueError, match="expiry_seconds must be 0"):
        provider.validate("registry_credentials", [{"registry": "main"}], {"expiry_seconds": -1})
    with pytest.raises(ValueError, match="duration must be -1"):
        provider.validate("registry_user", [{"registry": "main", "name": "robot$main+ci"}], {"duration": -2})
    with pytest.raises(ValueError, match="replications entry needs region"):
        provider.validate("registry", [{"name": "main"}], {"replications": [{"region": "ewr", "state": "gone"}]})
    assert len(emu.log) == 0


def test_encoded_paths_bodies_and_credentials_query(emu, connect):
    emu.add_registry("main", region="sjc", plan="business")
    reg_id = emu.registry_id("main")
    emu.add_repository("main", "team/app", description="old")
    emu.add_artifact("main", "team/app", digest=DIGEST_A, tags=["v1"])
    emu.add_robot("main", "ci")
    emu.add_replication("main", "ewr")
    provider = connect(emu)
    base = "/v2/registry/%s" % reg_id

    repo = provider.read_repository([{"registry": "main", "name": "team/app"}])[0]
    assert repo["description"] == "old" and repo["location"] == "sjc.vultrcr.com/main/team/app"
    provider.update_repository({"registry": "main", "name": "team/app"}, repo, {"description": "new"}, {})
    robot = provider.read_registry_user([{"registry": "main", "name": "robot$main+ci"}])[0]
    changes = provider.changes_registry_user({"registry": "main", "name": "robot$main+ci"}, robot,
                                             {"description": "CI", "disabled": True, "duration": 3600,
                                              "permissions": [{"action": "push", "resource": "repository"}]})
    updated = provider.update_registry_user({"registry": "main", "name": "robot$main+ci"}, robot, changes, {})
    assert updated["provider_data"]["disabled"] is True and updated["read_only"] is False
    provider.delete_artifact({"registry": "main", "repository": "team/app", "digest": DIGEST_A}, None)
    current = provider.read_registry([{"name": "main"}])[0]
    provider.update_registry({"name": "main"}, current, provider.changes_registry({"name": "main"}, current, {
        "plan": "premium", "replications": [{"region": "ewr", "state": "absent"}, {"region": "blr"}]}), {})
    credentials = provider.registry_credentials("main", 60, True, "docker_config")
    secret = provider.registry_credentials("main", 0, False, "kubernetes_secret")
    assert sent(emu) == [
        ("PUT", base + "/repository/team%2Fapp", {"description": "new"}),
        ("PUT", base + "/robot/robot%24main%2Bci", {
            "description": "CI", "disable": True, "duration": 3600,
            "access": [{"action": "push", "resource": "repository", "effect": "allow"}]}),
        ("DELETE", base + "/repository/team%2Fapp/artifact/" + DIGEST_A, None),
        ("PUT", base, {"plan": "premium"}),
        ("POST", base + "/replication", {"region": "blr"}),
        ("DELETE", base + "/replication/ewr", None),
        ("OPTIONS", base + "/docker-credentials?expiry_seconds=60&read_write=true", None),
        ("OPTIONS", base + "/docker-credentials/kubernetes?expiry_seconds=0&read_write=false", None),
    ]
    # lists are paged with per_page, also where the spec does not declare it (the plans object is not a list)
    lists = [r.target for r in emu.log.records if r.method == "GET" and r.path.endswith(("s", "/region/list"))]
    assert len(lists) >= 4 and all("per_page=500" in target for target in lists), lists
    assert [r.query for r in emu.log.records if r.path.endswith("/plan/list")] == [{}]
    user, password = base64.b64decode(credentials["docker_config"]["auths"]["sjc.vultrcr.com"]["auth"]).decode().split(":", 1)
    assert (credentials["username"], credentials["password"], credentials["registry_host"]) == (user, password, "sjc.vultrcr.com")
    assert emu.robot_secret("main", user) == password
    assert password not in provider.secrets  # returned to the caller, who returns it once
    assert "kind: Secret" in secret["kubernetes_secret"] and secret["docker_config"] is None


def test_robot_update_falls_back_to_the_docs_shape(emu, connect):
    emu.configure(robot_update_shape="permissions", robot_permissions_shape="object")
    emu.add_registry("main")
    emu.add_robot("main", "ci")
    provider = connect(emu)
    item = {"registry": "main", "name": "robot$main+ci"}
    robot = provider.read_registry_user([item])[0]
    assert robot["read_only"] is True
    changes = provider.changes_registry_user(item, robot, {"permissions": [{"action": "push", "resource": "repository"}]})
    after = provider.update_registry_user(item, robot, changes, {})
    path = "/v2/registry/%s/robot/robot%%24main%%2Bci" % emu.registry_id("main")
    access = [{"action": "push", "resource": "repository", "effect": "allow"}]
    assert [(r.method, r.target, r.body, r.status) for r in emu.log.records if r.method == "PUT"] == [
        ("PUT", path, {"access": access}, 422),
        ("PUT", path, {"permissions": [{"kind": "project", "namespace": "main", "access": access}]}, 200)]
    assert after["provider_data"]["permissions"] == access
    again = provider.read_registry_user([item])[0]
    assert provider.changes_registry_user(item, again, {"permissions": [{"action": "push", "resource": "repository"}]}) == {}


def test_root_user_is_read_only(emu, connect):
    emu.add_registry("main")
    provider = connect(emu)
    root_name = emu.registry_id("main")
    item = {"registry": "main", "name": root_name}
    root = provider.read_registry_user([item])[0]
    assert root["provider_data"]["root"] is True and root["provider_data"]["password"] == MASK
    with pytest.raises(ValueError, match="root user of registry main cannot be changed"):
        provider.changes_registry_user(item, root, {"description": "x"})
    with pytest.raises(ValueError, match="root user of registry main cannot be deleted"):
        provider.predict("registry_user", Action("delete", item, root))
    with pytest.raises(ValueError, match="root user of registry main cannot be deleted"):
        provider.delete_registry_user(item, root)
    assert emu.root_password("main") in provider.secrets
    assert provider.check_create("registry_user", {"registry": "main", "name": "ci"}, {}).startswith(
        "no robot ci in registry main (robots are named in full, for example robot$main+ci)")
    assert sent(emu) == []


@pytest.mark.parametrize("scope_key", ["scope_selectors", "scope_selector"])
def test_retention_rules_round_trip(emu, connect, scope_key):
    emu.configure(retention_scope_key=scope_key)
    emu.add_registry("main")
    provider = connect(emu)
    wanted = [{"rule_type": "latestPushedK", "count": 3, "repository_match": "team/**", "untagged": True},
              {"rule_type": "always", "tag_action": "excludes", "tag_match": "dev-*", "disabled": True}]
    item = {"registry": "main", "state": "present"}
    assert provider.read_retention_policy([dict(item, state="absent")]) == [None]
    current = provider.read_retention_policy([item])[0]
    assert current["rules"] == []
    assert provider.changes_retention_policy(item, current, {"rules": [], "purge": True}) == {}
    changes = provider.changes_retention_policy(item, current, {"rules": wanted, "purge": True, "schedule": "0 3 * * *"})
    predicted = provider.predict("retention_policy", Action("update", item, current, {}, changes))
    after = provider.update_retention_policy(item, current, changes, {})
    assert [dict(r, id=None) for r in after["rules"]] == predicted["rules"]
    assert [r["id"] for r in after["rules"]] == [1, 2] and after["schedule"] == "0 3 * * *"
    rules_path = "/v2/registry/%s/retention/rules" % emu.registry_id("main")
    assert sent(emu) == [
        ("POST", rules_path, {"rule_type": "latestPushedK", "count": 3, "repository_action": "matches", "repository_match": "team/**",
                              "tag_action": "matches", "tag_match": "**", "untagged": True}),
        ("POST", rules_path, {"rule_type": "always", "repository_action": "matches", "repository_match": "**",
                              "tag_action": "excludes", "tag_match": "dev-*", "untagged": False}),
        ("PUT", rules_path + "/2", {"disabled": True}),
        ("PUT", rules_path.replace("/rules", "/schedule"), {"cron": "0 3 * * *"}),
    ]
    again = provider.read_retention_policy([item])[0]
    assert provider.changes_retention_policy(item, again, {"rules": wanted, "purge": True, "schedule": "0 3 * * *"}) == {}


def test_registry_checks_and_predictions(emu, connect):
    emu.add_registry("main", region="sjc", plan="start_up")
    provider = connect(emu)
    current = provider.read_registry([{"name": "main"}])[0]
    for desired, message in [({"region": "ewr"}, "cannot move a registry to another region"),
                             ({"plan": "gold"}, "plan 'gold' is not one of Vultr's registry plans: business, enterprise, premium, start_up"),
                             ({"replications": [{"region": "mars"}]}, "region 'mars' is not one of Vultr's registry regions"),
                             ({"replications": [{"region": "sjc"}]}, "a replication goes to another region")]:
        with pytest.raises(ValueError, match=message):
            provider.changes_registry({"name": "main"}, current, desired)
    assert provider.check_create("registry", {"name": "new"}, {"region": "ewr"}) == (
        "region and plan are required to create a registry (missing: plan)")
    with pytest.raises(ValueError, match="a replication goes to another region"):
        provider.check_create("registry", {"name": "new"}, {"region": "ewr", "plan": "start_up", "replications": [{"region": "ewr"}]})
    desired = {"plan": "premium", "public": True, "replications": [{"region": "blr"}]}
    changes = provider.changes_registry({"name": "main"}, current, desired)
    predicted = provider.predict("registry", Action("update", {"name": "main"}, current, desired, changes))
    real = provider.update_registry({"name": "main"}, current, changes, {})
    for key in ("plan", "public", "region", "url", "storage_limit_bytes", "name", "id"):
        assert predicted[key] == real[key], key
    assert predicted["provider_data"]["replications"] == real["provider_data"]["replications"] == ["blr"]
    assert predicted["provider_data"]["monthly_price"] == real["provider_data"]["monthly_price"] == 10
    desired = {"region": "ewr", "plan": "business", "public": True, "replications": [{"region": "sjc"}]}
    predicted = provider.predict("registry", Action("create", {"name": "fresh"}, None, desired))
    created = provider.create_registry({"name": "fresh"}, desired)
    for key in ("plan", "public", "region", "url", "storage_limit_bytes", "storage_used_bytes", "name"):
        assert predicted[key] == created[key], key
    for key in ("docker_host", "base_url", "monthly_price", "pending_charges", "replications"):
        assert predicted["provider_data"][key] == created["provider_data"][key], key


def test_cursor_pagination_reads_every_page(emu, connect):
    emu.configure(max_per_page=2)
    for name in ("r1", "r2", "r3"):
        emu.add_registry(name)
    for index in range(5):
        emu.add_artifact("r1", "app%d" % index, digest="sha256:%064d" % index, tags=["t%d" % index])
        emu.add_artifact("r1", "app0", digest="sha256:%064d" % (index + 10), tags=["x%d" % index])
        emu.add_robot("r1", "bot%d" % index)
        emu.add_retention_rule("r1", count=index)
    provider = connect(emu)
    assert [r["name"] for r in provider.list_registry({})] == ["r1", "r2", "r3"]
    assert [r["name"] for r in provider.list_repository({"registry": "r1"})] == ["app%d" % i for i in range(5)]
    assert len(provider.list_artifact({"registry": "r1", "repository": ["app0"]})) == 6
    assert len(provider.list_registry_user({"registry": "r1"})) == 6  # the root user and 5 robots
    assert [r["count"] for r in provider.list_retention_policy({"registry": "r1"})[0]["rules"]] == [0, 1, 2, 3, 4]
    assert sorted(provider._regions()) == ["blr", "ewr", "sjc", "sjp"]
    cursors = [r.query.get("cursor") for r in emu.log.records if r.path.endswith("/robots")]
    assert cursors[0] is None and len(cursors) == 3 and len(set(cursors)) == 3


def test_missing_registry_and_retries(emu, connect):
    emu.add_registry("main")
    provider = connect(emu)
    with pytest.raises(NotFoundError, match="registry 'other' not found"):
        provider.list_repository({"registry": "other"})
    assert provider.read_repository([{"registry": "other", "name": "app"}]) == [None]
    assert provider.check_create("repository", {"registry": "other", "name": "app"}, {}) == "registry 'other' does not exist"
    assert "cannot be created through the API" in provider.check_create("repository", {"registry": "main", "name": "app"}, {})
    emu.rate_limit(times=1, retry_after="0", method="GET")
    emu.server_error(times=1, status=502, method="PUT")
    emu.server_error(times=1, status=500, method="POST")
    provider = connect(emu, retries=1)
    current = provider.read_registry([{"name": "main"}])[0]
    provider.update_registry({"name": "main"}, current, {"public": True}, {})
    with pytest.raises(ApiError, match="HTTP 500 POST"):  # a create that reached the server is not sent twice
        provider.create_registry({"name": "fresh"}, {"region": "ewr", "plan": "start_up"})
    assert [(r.method, r.status) for r in emu.log.records if r.method != "GET" or r.status == 429] == [
        ("GET", 429), ("PUT", 502), ("PUT", 200), ("POST", 500)]


def test_docker_credentials_are_retried_like_a_create(emu, connect):
    emu.add_registry("main")
    provider = connect(emu, retries=3)
    # 503 and 429: the API did not act, so the request is sent again; 500: it may have minted a set, so it is not
    emu.server_error(times=1, status=503, method="OPTIONS")
    emu.rate_limit(times=1, retry_after="0", method="OPTIONS")
    assert provider.registry_credentials("main", 60, False, "docker_config")["password"]
    emu.server_error(times=1, status=500, method="OPTIONS")
    with pytest.raises(ApiError, match="HTTP 500 OPTIONS"):
        provider.registry_credentials("main", 60, False, "kubernetes_secret")
    emu.server_error(times=1, status=502, method="OPTIONS")
    with pytest.raises(ApiError, match="HTTP 502 OPTIONS"):
        provider._oci_provider("main")
    assert [r.status for r in emu.log.records if r.method == "OPTIONS"] == [503, 429, 200, 500, 502]


def test_spec_only_registry_answers_and_credentials_hosts(emu, connect):
    emu.configure(registry_extras=False)  # no top-level region, no metadata.subscription.plan
    emu.add_registry("main", region="blr", plan="premium")
    provider = connect(emu)
    registry = provider.read_registry([{"name": "main"}])[0]
    assert (registry["region"], registry["plan"], registry["storage_limit_bytes"]) == ("blr", "premium", 51200 * 1024 * 1024)
    assert registry["url"] == "blr.vultrcr.com/main" and registry["provider_data"]["base_url"] == "https://blr.vultrcr.com"
    auth = base64.b64encode(b"robot$main+x:pass:word").decode()
    assert VultrProvider._decode_auths({"auths": {"blr.vultrcr.com": {"auth": auth}}}, "blr.vultrcr.com") == ("robot$main+x", "pass:word", auth)
    # one entry under another name (a replica's host): still the one
    assert VultrProvider._decode_auths({"auths": {"ewr.vultrcr.com": {"auth": auth}}}, "blr.vultrcr.com")[1] == "pass:word"
    with pytest.raises(ApiError, match="no entry for blr.vultrcr.com"):
        VultrProvider._decode_auths({"auths": {}}, "blr.vultrcr.com")


def test_artifact_gone_since_the_read_is_absent_not_deleted(emu, connect):
    """An artifact another run (or a person) deleted between this run's read and its DELETE (404 to the first attempt)
    is reported ``absent``, never ``deleted``: a report must not count the bytes its run did not free. A 404 to a
    repeated DELETE (the first went through, its answer was lost) is this run's delete; a plain delete stays ``deleted``."""
    emu.add_registry("main")
    for digest, tag in ((DIGEST_A, "v1"), (DIGEST_B, "v2"), (DIGEST_C, "v3")):
        emu.add_artifact("main", "team/app", digest=digest, size=100, tags=[tag])
    path = "/v2/registry/%s/repository/team%%2Fapp/artifact/" % emu.registry_id("main")

    def another_run_removes():
        answer = requests.delete(emu.url + path + DIGEST_A, headers={"Authorization": "Bearer %s" % DEFAULT_API_KEY}, timeout=10)
        assert answer.status_code == 204

    items = [{"registry": "main", "repository": "team/app", "digest": d} for d in (DIGEST_A, DIGEST_B, DIGEST_C)]
    with FaultProxy(emu.url, rules=[FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/artifact/sha256:c+$", max_faults=1)]) as proxy:
        provider = after_the_read(connect(emu, api_url=proxy.url), another_run_removes)
        result = engine.ensure(provider, "artifact", items, "absent", {})
        assert len(proxy.faulted()) == 1  # C's DELETE acted and its answer was lost: the repeated DELETE got 404
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted", "deleted"]
    assert result["actions"][0]["msg"] == "already gone: deleted since it was read (by another run, or by hand)"
    # the other run's DELETE, A's (404), B's, and C's twice (acted, then 404)
    assert sorted(r.status for r in emu.log.records if r.method == "DELETE") == [204, 204, 204, 404, 404]


def test_a_tag_pushed_onto_a_digest_during_the_call_keeps_it(emu, connect):
    """With ``expected_tags``, each artifact is read again right before its DELETE (one GET): a tag pushed onto it after
    the call's read keeps it (skipped, ``tags_changed``); one moved away or still as expected is deleted."""
    emu.add_registry("main")
    for digest, tag in ((DIGEST_A, "v1"), (DIGEST_B, "v2")):
        emu.add_artifact("main", "team/app", digest=digest, size=100, tags=[tag])
    items = [{"registry": "main", "repository": "team/app", "digest": d} for d in (DIGEST_A, DIGEST_B)]
    provider = connect(emu, expected_tags={DIGEST_A: ["v1"], "team/app@" + DIGEST_B: ["v2"]})
    after_the_read(provider, lambda: emu.add_artifact("main", "team/app", digest=DIGEST_A, tags=["hotfix"]))  # pushed after the read
    emu.log.clear()
    result = engine.ensure(provider, "artifact", items, "absent", {})
    assert [(a["action"], a.get("reason")) for a in result["actions"]] == [("skipped", "tags_changed"), ("deleted", None)]
    assert result["actions"][0]["msg"] == "tag(s) hotfix now point at this digest but were not expected; not deleted"
    sent = sorted((r.method, r.path.rsplit("/", 1)[-1]) for r in emu.log.records if r.path.endswith((DIGEST_A, DIGEST_B)))
    assert sent == sorted([("GET", DIGEST_A), ("GET", DIGEST_B), ("DELETE", DIGEST_B)])  # one re-read each, one DELETE
