# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one present/absent engine. PRIVATE to the collection.

Read the current state of every item, compare it with the desired state,
then either predict (check mode: no mutating request) or hand the actions to
the provider. The result has the same shape in both modes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Action

MASK = "********"


def _ref_registry(item):
    return item["name"]


def _ref_user(item):
    return "%s/%s" % (item.get("registry") or "", item["name"])


def _ref_repository(item):
    return item["name"]


def _ref_artifact(item):
    return "%s@%s" % (item["repository"], item["digest"])


def _ref_tag(item):
    return "%s:%s" % (item["repository"], item["name"])


def _ref_policy(item):
    return item["registry"]


def _ref_rule(item):
    return "%s:%s:%s" % (item["registry"], item["kind"], item["pattern"])


def _ref_storage_record(item):
    # digest [name at registry_url[/repository]]: a task that names no record means every record of the digest
    if not item.get("name"):
        return item["digest"]
    where = item.get("registry_url") or ""
    if item.get("record_repository"):
        where = "%s/%s" % (where.rstrip("/"), item["record_repository"])
    return "%s %s at %s" % (item["digest"], item["name"], where)


def _ref_deployment_record(item):
    # digest [logical/physical/cluster/deployment_name], "-" for a part the record has not
    if not item.get("deployment_name"):
        return item["digest"]
    return "%s %s" % (item["digest"], "/".join(item.get(key) or "-" for key in (
        "logical_environment", "physical_environment", "cluster", "deployment_name")))


def _ref_digest(item):
    return item["digest"]


class ResourceKind:
    def __init__(self, name, ref, result_key, bulk, secrets=(), soft_delete=False):
        self.name = name
        self.ref = ref
        self.result_key = result_key
        self.bulk = bulk
        self.secrets = secrets
        # absent is a status the provider sets, the resource stays (GitHub's artifact records): one already in that
        # status (no changes towards ``desired``) is absent, and a "deleted" one is reported as it is afterwards
        self.soft_delete = soft_delete


KINDS = {
    "registry": ResourceKind("registry", _ref_registry, "registry", False),
    "registry_user": ResourceKind("registry_user", _ref_user, "users", True, secrets=("secret",)),
    "repository": ResourceKind("repository", _ref_repository, "repository", False),
    "artifact": ResourceKind("artifact", _ref_artifact, "artifacts", True),
    "tag": ResourceKind("tag", _ref_tag, "tags", True),
    "retention_policy": ResourceKind("retention_policy", _ref_policy, "retention_policy", False),
    "protection_rule": ResourceKind("protection_rule", _ref_rule, "protection_rules", True),
    "storage_record": ResourceKind("storage_record", _ref_storage_record, "storage_records", True, soft_delete=True),
    "deployment_record": ResourceKind("deployment_record", _ref_deployment_record, "deployment_records", True, soft_delete=True),
    "attestation": ResourceKind("attestation", _ref_digest, "attestations", True),
}

OUTCOME = {"create": "created", "update": "updated", "delete": "deleted"}
CHANGED = ("created", "updated", "deleted", "restored")
# Outcomes that fail the module (the result still says what was done).
FAILED = ("failed", "restored")


def mask(resource, secrets):
    if not isinstance(resource, dict):
        return resource
    return {k: (MASK if k in secrets and v else v) for k, v in resource.items()}


class Failure(Exception):
    """Some items failed; ``result`` still reports what was done."""

    def __init__(self, msg, result):
        super(Failure, self).__init__(msg)
        self.msg = msg
        self.result = result


def ensure(provider, resource, items, state, desired, check_mode=False, diff_mode=False, skip_if=None, can_create=True):
    """Bring ``items`` to ``state``; return the module result (raise ``Failure`` when an item failed).

    ``skip_if(item, current)`` may return a reason to leave an existing item alone on ``absent``.
    ``can_create`` False means ``present`` only asserts existence (the provider cannot create it).
    """
    kind = KINDS[resource]
    currents = provider.read(resource, items)
    actions, outcomes = [], []
    for item, current in zip(items, currents):
        ref = kind.ref(item)
        if state == "absent":
            skip = skip_if(item, current) if (skip_if and current is not None) else None
            if current is None:
                outcomes.append({"ref": ref, "action": "absent"})
            elif kind.soft_delete and not provider.changes(resource, item, current, desired):
                outcomes.append({"ref": ref, "action": "absent", "resource": current})
            elif skip:
                reason, msg = skip if isinstance(skip, tuple) else (None, skip)
                outcome = {"ref": ref, "action": "skipped", "msg": msg, "resource": current}
                if reason:
                    outcome["reason"] = reason
                outcomes.append(outcome)
            else:
                actions.append(Action("delete", item, current, desired))
                outcomes.append(None)
        elif current is None:
            problem = "%s %s does not exist" % (resource.replace("_", " "), ref) if not can_create else provider.check_create(resource, item, desired)
            if problem:
                outcomes.append({"ref": ref, "action": "failed", "msg": problem})
            else:
                actions.append(Action("create", item, None, desired))
                outcomes.append(None)
        else:
            changes = provider.changes(resource, item, current, desired)
            if changes:
                actions.append(Action("update", item, current, desired, changes))
                outcomes.append(None)
            else:
                outcomes.append({"ref": ref, "action": "unchanged", "resource": current})

    if check_mode:
        applied = [_predict(provider, resource, action) for action in actions]
    else:
        applied = provider.apply(resource, actions) if actions else []

    results = iter(applied)
    for index, outcome in enumerate(outcomes):
        if outcome is not None:
            continue
        action, after, error = next(results)
        ref = kind.ref(action.item)
        if error is not None:
            # A provider may say what became of an item it did not change: ``restored`` (put back as it was, a
            # failure) or ``skipped`` (left alone, with a ``reason``).
            outcomes[index] = {"ref": ref, "action": getattr(error, "outcome", "failed"), "msg": str(error), "resource": action.current}
            if getattr(error, "reason", None):
                outcomes[index]["reason"] = error.reason
        else:
            outcomes[index] = {"ref": ref, "action": OUTCOME[action.kind],
                               "resource": action.current if action.kind == "delete" and not kind.soft_delete else after,
                               "before": action.current}
    return _result(kind, items, currents, outcomes, check_mode, diff_mode)


def _predict(provider, resource, action):
    """Check mode: what the real run would do with one action. An item the provider says the real run would fail on
    fails here too, with the same message, and the others are predicted as usual."""
    try:
        return action, provider.predict(resource, action), None
    except (ApiError, UnsupportedError, ValueError) as exc:
        return action, None, exc


def _result(kind, items, currents, outcomes, check_mode, diff_mode):
    # A restored item was written twice (changed, then put back): the registry was touched.
    changed = any(o["action"] in CHANGED for o in outcomes)
    # The resources the task is about: changed, unchanged or found; not the ones it failed on or left alone (skipped).
    resources = [o["resource"] for o in outcomes if o.get("resource") is not None and o["action"] not in FAILED + ("skipped",)]
    actions = [{k: v for k, v in o.items() if k in ("ref", "action", "reason", "msg")} for o in outcomes]
    result = {"changed": changed, "actions": actions}
    if kind.bulk:
        result[kind.result_key] = resources
    else:
        outcome = outcomes[0]
        result[kind.result_key] = None if outcome["action"] == "absent" else outcome.get("resource")
    if diff_mode:
        result["diff"] = _diff(kind, items, currents, outcomes)
    failed = [o for o in outcomes if o["action"] in FAILED]
    if failed:
        detail = "; ".join("%s: %s" % (o["ref"], o.get("msg")) for o in failed[:20])
        more = " (and %d more)" % (len(failed) - 20) if len(failed) > 20 else ""
        raise Failure("%d of %d %s failed: %s%s" % (len(failed), len(outcomes), kind.name.replace("_", " ") + "(s)", detail, more), result)
    return result


def _diff(kind, items, currents, outcomes):
    before, after = {}, {}
    for item, current, outcome in zip(items, currents, outcomes):
        ref = kind.ref(item)
        before[ref] = mask(current, kind.secrets)
        if outcome["action"] in ("deleted", "absent") and not kind.soft_delete:
            after[ref] = None
        elif outcome["action"] in ("created", "updated", "deleted"):
            after[ref] = mask(outcome["resource"], kind.secrets)
        else:
            after[ref] = mask(current, kind.secrets)
    if not kind.bulk:
        ref = kind.ref(items[0])
        return {"before": before[ref] or {}, "after": after[ref] or {}}
    return {"before": {k: v for k, v in before.items() if v is not None},
            "after": {k: v for k, v in after.items() if v is not None}}
