# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The present/absent engine against an in-memory provider."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ApiError, ConflictError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Capability, Provider
from ansible_collections.regops.registry.plugins.module_utils.state import MASK, Failure, ensure, mask


class MemoryProvider(Provider):
    """Keeps tags, users and registries in dicts; records every mutating call; can be told to fail for some refs."""

    name = "memory"
    capabilities = {
        "registry": Capability(states=("present", "absent"), info=True, options=("storage_limit",)),
        "registry_user": Capability(states=("present", "absent"), options=("read_only", "secret")),
        "tag": Capability(states=("present", "absent"), info=True, options=("digest",)),
    }

    def __init__(self, params=None, fail=()):
        super(MemoryProvider, self).__init__(params or {})
        # a real client for run_bulk; it never sends anything here
        self.client = ApiClient("http://127.0.0.1:9", concurrency=4)
        self.fail = set(fail)
        self.calls = []
        self.tags = {}
        self.users = {}
        self.registries = {}

    def _maybe_fail(self, ref):
        if ref in self.fail:
            raise ConflictError("the registry refused %s" % ref, status=409)

    # tags
    def read_tag(self, items):
        return [copy.deepcopy(self.tags.get((i["repository"], i["name"]))) for i in items]

    def create_tag(self, item, desired):
        self.calls.append(("create", item["name"]))
        self._maybe_fail(item["name"])
        self.tags[(item["repository"], item["name"])] = {"repository": item["repository"], "name": item["name"], "digest": desired["digest"]}
        return self.tags[(item["repository"], item["name"])]

    def update_tag(self, item, current, changes, desired):
        self.calls.append(("update", item["name"]))
        self._maybe_fail(item["name"])
        self.tags[(item["repository"], item["name"])].update(changes)
        return self.tags[(item["repository"], item["name"])]

    def delete_tag(self, item, current):
        self.calls.append(("delete", item["name"]))
        self._maybe_fail(item["name"])
        del self.tags[(item["repository"], item["name"])]

    # users (a secret field)
    def read_registry_user(self, items):
        return [copy.deepcopy(self.users.get(i["name"])) for i in items]

    def create_registry_user(self, item, desired):
        self.calls.append(("create", item["name"]))
        self.users[item["name"]] = dict(name=item["name"], registry=item["registry"], read_only=desired.get("read_only"),
                                        secret="generated-secret")
        return self.users[item["name"]]

    def update_registry_user(self, item, current, changes, desired):
        self.calls.append(("update", item["name"]))
        self.users[item["name"]].update(changes)
        return self.users[item["name"]]

    def delete_registry_user(self, item, current):
        self.calls.append(("delete", item["name"]))
        del self.users[item["name"]]

    # registries (not bulk)
    def read_registry(self, items):
        return [copy.deepcopy(self.registries.get(i["name"])) for i in items]

    def create_registry(self, item, desired):
        self.calls.append(("create", item["name"]))
        self.registries[item["name"]] = {"name": item["name"], "storage_limit": desired.get("storage_limit") or 5}
        return self.registries[item["name"]]

    def update_registry(self, item, current, changes, desired):
        self.calls.append(("update", item["name"]))
        self.registries[item["name"]].update(changes)
        return self.registries[item["name"]]

    def delete_registry(self, item, current):
        self.calls.append(("delete", item["name"]))
        del self.registries[item["name"]]


class NoApply(MemoryProvider):
    """Check mode must never reach apply or any create/update/delete."""

    def apply(self, resource, actions):
        raise AssertionError("apply called in check mode")


D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def tag(name, repository="team/app"):
    return {"repository": repository, "name": name}


def seeded(cls=MemoryProvider, **kwargs):
    provider = cls(**kwargs)
    provider.tags[("team/app", "same")] = {"repository": "team/app", "name": "same", "digest": D1}
    provider.tags[("team/app", "moved")] = {"repository": "team/app", "name": "moved", "digest": D2}
    return provider


def test_present_creates_updates_and_leaves_unchanged():
    provider = seeded()
    result = ensure(provider, "tag", [tag("same"), tag("moved"), tag("new")], "present", {"digest": D1})
    assert result["changed"] is True
    assert result["actions"] == [
        {"ref": "team/app:same", "action": "unchanged"},
        {"ref": "team/app:moved", "action": "updated"},
        {"ref": "team/app:new", "action": "created"},
    ]
    assert sorted(provider.calls) == [("create", "new"), ("update", "moved")]
    assert [t["digest"] for t in result["tags"]] == [D1, D1, D1]
    assert "diff" not in result


def test_present_all_unchanged_is_not_changed():
    provider = seeded()
    result = ensure(provider, "tag", [tag("same")], "present", {"digest": D1})
    assert result["changed"] is False
    assert not provider.calls
    assert result["tags"] == [{"repository": "team/app", "name": "same", "digest": D1}]


def test_absent_deletes_and_reports_already_absent():
    provider = seeded()
    result = ensure(provider, "tag", [tag("same"), tag("gone")], "absent", {})
    assert result["changed"] is True
    assert result["actions"] == [{"ref": "team/app:same", "action": "deleted"}, {"ref": "team/app:gone", "action": "absent"}]
    # a deleted item is reported as it was before
    assert result["tags"] == [{"repository": "team/app", "name": "same", "digest": D1}]
    assert provider.calls == [("delete", "same")]
    assert ("team/app", "same") not in provider.tags


def test_absent_nothing_to_do():
    provider = seeded()
    result = ensure(provider, "tag", [tag("gone")], "absent", {})
    assert result == {"changed": False, "actions": [{"ref": "team/app:gone", "action": "absent"}], "tags": []}
    assert not provider.calls


def test_check_mode_predicts_without_applying():
    provider = seeded(NoApply)
    before = copy.deepcopy(provider.tags)
    items = [tag("same"), tag("moved"), tag("new")]
    checked = ensure(provider, "tag", items, "present", {"digest": D1}, check_mode=True)
    assert provider.tags == before
    assert not provider.calls
    real = ensure(seeded(), "tag", items, "present", {"digest": D1})
    assert checked == real


def test_check_mode_absent_predicts_delete():
    provider = seeded(NoApply)
    result = ensure(provider, "tag", [tag("same"), tag("gone")], "absent", {}, check_mode=True, diff_mode=True)
    assert result["changed"] is True
    assert [a["action"] for a in result["actions"]] == ["deleted", "absent"]
    assert result["diff"] == {"before": {"team/app:same": {"repository": "team/app", "name": "same", "digest": D1}}, "after": {}}
    assert ("team/app", "same") in provider.tags


def test_diff_before_and_after_for_bulk():
    provider = seeded()
    result = ensure(provider, "tag", [tag("same"), tag("moved"), tag("new")], "present", {"digest": D1}, diff_mode=True)
    assert result["diff"]["before"] == {
        "team/app:same": {"repository": "team/app", "name": "same", "digest": D1},
        "team/app:moved": {"repository": "team/app", "name": "moved", "digest": D2},
    }
    assert result["diff"]["after"] == {
        "team/app:same": {"repository": "team/app", "name": "same", "digest": D1},
        "team/app:moved": {"repository": "team/app", "name": "moved", "digest": D1},
        "team/app:new": {"repository": "team/app", "name": "new", "digest": D1},
    }


def test_diff_masks_secrets():
    provider = MemoryProvider()
    provider.users["ci"] = {"name": "ci", "registry": "main", "read_only": True, "secret": "old-secret"}
    provider.users["nosecret"] = {"name": "nosecret", "registry": "main", "read_only": True, "secret": None}
    items = [{"registry": "main", "name": "ci"}, {"registry": "main", "name": "new"}, {"registry": "main", "name": "nosecret"}]
    for check_mode in (True, False):
        result = ensure(provider, "registry_user", items, "present", {"read_only": True, "secret": "new-secret" if check_mode else None},
                        check_mode=check_mode, diff_mode=True)
        diff = result["diff"]
        text = repr(diff)
        assert "old-secret" not in text and "new-secret" not in text and "generated-secret" not in text
        assert diff["before"]["main/ci"]["secret"] == MASK
        assert diff["after"]["main/ci"]["secret"] == MASK
        assert diff["after"]["main/new"]["secret"] == MASK
        assert diff["before"]["main/nosecret"]["secret"] is None
        assert "main/new" not in diff["before"]


def test_mask():
    assert mask({"secret": "x", "name": "n", "empty": ""}, ("secret", "empty")) == {"secret": MASK, "name": "n", "empty": ""}
    assert mask(None, ("secret",)) is None


def test_non_bulk_result_and_diff():
    provider = MemoryProvider()
    result = ensure(provider, "registry", [{"name": "main"}], "present", {"storage_limit": 10}, diff_mode=True)
    assert result["registry"] == {"name": "main", "storage_limit": 10}
    assert result["diff"] == {"before": {}, "after": {"name": "main", "storage_limit": 10}}
    result = ensure(provider, "registry", [{"name": "main"}], "present", {"storage_limit": 20}, diff_mode=True)
    assert result["actions"] == [{"ref": "main", "action": "updated"}]
    assert result["diff"] == {"before": {"name": "main", "storage_limit": 10}, "after": {"name": "main", "storage_limit": 20}}
    result = ensure(provider, "registry", [{"name": "main"}], "present", {"storage_limit": None})
    assert result["changed"] is False
    result = ensure(provider, "registry", [{"name": "main"}], "absent", {}, diff_mode=True)
    assert result["registry"] == {"name": "main", "storage_limit": 20}
    assert result["diff"] == {"before": {"name": "main", "storage_limit": 20}, "after": {}}
    result = ensure(provider, "registry", [{"name": "main"}], "absent", {})
    assert result["registry"] is None and result["changed"] is False


def test_check_mode_non_bulk_predicts_update():
    provider = MemoryProvider()
    provider.registries["main"] = {"name": "main", "storage_limit": 10}
    result = ensure(provider, "registry", [{"name": "main"}], "present", {"storage_limit": 30}, check_mode=True)
    assert result["registry"] == {"name": "main", "storage_limit": 30}
    assert provider.registries["main"]["storage_limit"] == 10
    assert not provider.calls


def test_skip_if():
    provider = seeded()
    seen = []

    def skip_if(item, current):
        seen.append(item["name"])
        return "tag %s is protected" % item["name"] if item["name"] == "same" else None

    result = ensure(provider, "tag", [tag("same"), tag("moved"), tag("gone")], "absent", {}, skip_if=skip_if)
    assert result["actions"] == [
        {"ref": "team/app:same", "action": "skipped", "msg": "tag same is protected"},
        {"ref": "team/app:moved", "action": "deleted"},
        {"ref": "team/app:gone", "action": "absent"},
    ]
    # never asked about an item that does not exist
    assert seen == ["same", "moved"]
    assert provider.calls == [("delete", "moved")]
    assert [t["name"] for t in result["tags"]] == ["moved"]  # a skipped tag is not listed: it was left alone


def test_cannot_create_fails_without_calls():
    provider = seeded()
    with pytest.raises(Failure) as caught:
        ensure(provider, "tag", [tag("same"), tag("new")], "present", {"digest": D1}, can_create=False)
    assert caught.value.msg == "1 of 2 tag(s) failed: team/app:new: tag team/app:new does not exist"
    assert caught.value.result["actions"][1] == {"ref": "team/app:new", "action": "failed", "msg": "tag team/app:new does not exist"}
    assert caught.value.result["changed"] is False
    assert not provider.calls


def test_failure_carries_partial_results():
    provider = seeded(fail={"moved"})
    with pytest.raises(Failure) as caught:
        ensure(provider, "tag", [tag("same"), tag("moved"), tag("new")], "present", {"digest": D1}, diff_mode=True)
    result = caught.value.result
    assert "1 of 3 tag(s) failed" in caught.value.msg
    assert "team/app:moved: HTTP 409: the registry refused moved" in caught.value.msg
    assert result["changed"] is True
    assert result["actions"] == [
        {"ref": "team/app:same", "action": "unchanged"},
        {"ref": "team/app:moved", "action": "failed", "msg": "HTTP 409: the registry refused moved"},
        {"ref": "team/app:new", "action": "created"},
    ]
    assert [t["name"] for t in result["tags"]] == ["same", "new"]
    assert "diff" in result
    assert ("team/app", "new") in provider.tags


def test_failure_message_is_capped():
    names = ["t%02d" % i for i in range(25)]
    provider = MemoryProvider(fail=set(names))
    for name in names:
        provider.tags[("team/app", name)] = {"repository": "team/app", "name": name, "digest": D1}
    with pytest.raises(Failure) as caught:
        ensure(provider, "tag", [tag(n) for n in names], "absent", {})
    assert caught.value.msg.startswith("25 of 25 tag(s) failed: ")
    assert caught.value.msg.endswith(" (and 5 more)")
    assert caught.value.msg.count("the registry refused") == 20
    assert caught.value.result["changed"] is False


def test_batched_apply_is_used_and_errors_mapped():
    class Batched(MemoryProvider):
        def apply_tag(self, actions):
            self.calls.append(("batch", [a.item["name"] for a in actions]))
            return [(a, None, ApiError("batch refused") if a.item["name"] == "b" else None) for a in actions]

    provider = Batched()
    provider.tags[("team/app", "a")] = {"repository": "team/app", "name": "a", "digest": D1}
    provider.tags[("team/app", "b")] = {"repository": "team/app", "name": "b", "digest": D1}
    with pytest.raises(Failure) as caught:
        ensure(provider, "tag", [tag("a"), tag("b"), tag("c")], "absent", {})
    assert provider.calls == [("batch", ["a", "b"])]
    assert [a["action"] for a in caught.value.result["actions"]] == ["deleted", "failed", "absent"]


def test_check_create_refuses_the_same_way_in_check_mode_and_for_real():
    class Picky(MemoryProvider):
        def check_create(self, resource, item, desired):
            return "tag %s needs a digest" % item["name"] if not desired.get("digest") else None

    for check_mode in (True, False):
        provider = Picky()
        with pytest.raises(Failure) as caught:
            ensure(provider, "tag", [tag("new")], "present", {}, check_mode=check_mode)
        assert caught.value.result["actions"] == [{"ref": "team/app:new", "action": "failed", "msg": "tag new needs a digest"}]
        assert not provider.calls


def test_check_mode_fails_the_items_the_provider_says_the_real_run_would_fail_and_predicts_the_rest():
    class RefusesMoved(NoApply):
        def predict(self, resource, action):
            if action.item["name"] == "moved":
                raise ValueError("moved is protected")
            return super(RefusesMoved, self).predict(resource, action)

    with pytest.raises(Failure) as caught:
        ensure(seeded(RefusesMoved), "tag", [tag("same"), tag("moved")], "absent", {}, check_mode=True)
    assert caught.value.result["actions"] == [{"ref": "team/app:same", "action": "deleted"},
                                              {"ref": "team/app:moved", "action": "failed", "msg": "moved is protected"}]


class Artifacts(Provider):
    """Artifacts by digest; deleting ``refuse`` fails; records the order of deletes."""

    name = "artifacts"
    capabilities = {"artifact": Capability(states=("absent",))}

    def __init__(self, artifacts, refuse=()):
        super(Artifacts, self).__init__({})
        self.client = ApiClient("http://127.0.0.1:9", concurrency=4)
        self.artifacts = artifacts
        self.refuse = set(refuse)
        self.deleted = []

    def read_artifact(self, items):
        return [copy.deepcopy(self.artifacts.get(i["digest"])) for i in items]

    def delete_artifact(self, item, current):
        if item["digest"] in self.refuse:
            raise ConflictError("the registry refused %s" % item["digest"], status=409)
        self.deleted.append(item["digest"])
        del self.artifacts[item["digest"]]


def test_children_and_referrers_go_after_their_index_or_subject_and_stay_when_it_stays():
    index, child, signature, sbom_of_signature, other = ("sha256:" + c * 64 for c in "abcde")
    artifacts = {index: {"digest": index, "children": [{"digest": child}]}, child: {"digest": child},
                 signature: {"digest": signature, "subject": index}, sbom_of_signature: {"digest": sbom_of_signature, "subject": signature},
                 other: {"digest": other}}
    items = [{"repository": "team/app", "digest": d} for d in (sbom_of_signature, signature, child, index, other)]
    provider = Artifacts(copy.deepcopy(artifacts))
    result = ensure(provider, "artifact", items, "absent", {})
    assert [a["action"] for a in result["actions"]] == ["deleted"] * 5
    order = provider.deleted
    assert order.index(index) < order.index(child) and order.index(index) < order.index(signature) < order.index(sbom_of_signature)
    # the index cannot be deleted: what it lists, and its referrers (and theirs), stay with it
    provider = Artifacts(copy.deepcopy(artifacts), refuse=[index])
    with pytest.raises(Failure) as caught:
        ensure(provider, "artifact", items, "absent", {})
    actions = dict((a["ref"].split("@")[1], a) for a in caught.value.result["actions"])
    assert actions[index]["action"] == "failed" and actions[other]["action"] == "deleted"
    for held in (child, signature, sbom_of_signature):
        assert actions[held]["action"] == "skipped" and actions[held]["reason"] == "parent_kept", held
    assert sorted(provider.deleted) == [other]
