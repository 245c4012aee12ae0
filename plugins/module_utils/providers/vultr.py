# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``vultr`` provider: Vultr Container Registry. PRIVATE to the collection.

Quirks this class absorbs (see docs/vultr.md):

* registries are addressed by id, users by name: every call looks the name up first (one list, cached);
* create / read / update answer a bare registry object, lists are wrapped with ``meta`` and paged by cursor
  (``per_page``, ``cursor``, ``meta.links.next`` empty on the last page), also where the spec does not say so;
* the registry read returns the root user's password, and robot reads their secret: both are masked;
* timestamps come in several formats (``YYYY-MM-DD HH:MM:SS``, ISO with milliseconds, Harbor's ``0001-01-01``
  for never): all are normalized to ISO 8601 UTC or null;
* there is no tag delete: tags are removed over the OCI Distribution API on the registry host, with short-lived
  credentials from the docker-credentials endpoint (HTTP ``OPTIONS``), by the ``oci`` provider itself;
* robot accounts cannot be created, and the robot update body has two documented shapes (``access`` in the
  spec, ``permissions`` in the prose docs): the spec's is sent first, the other when the API refuses it;
* the retention schedule can be set but not read back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re
import threading

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    quote = None

from ansible_collections.regops.registry.plugins.module_utils import timestamps, validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ApiError, HeaderAuth, NotFoundError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import (
    AlreadyGone,
    Capability,
    Provider,
    delete_found,
    expected_tags_for,
    refuse_unexpected_tags,
)
from ansible_collections.regops.registry.plugins.module_utils.providers.listing import HostedListing
from ansible_collections.regops.registry.plugins.module_utils.providers.oci import OciProvider, remove_tags_over_oci

MASK = "********"
REGISTRY_NAME_RE = re.compile(r"[a-z0-9]+")
PER_PAGE = 500
# Credentials minted for the OCI path of one module run: long enough for a big untag, short enough to be harmless.
OCI_CREDENTIALS_SECONDS = 3600
RULE_DEFAULTS = {"count": None, "repository_action": "matches", "repository_match": "**", "tag_action": "matches",
                 "tag_match": "**", "untagged": False, "disabled": False}
RULE_KEYS = ("rule_type", "count", "repository_action", "repository_match", "tag_action", "tag_match", "untagged")
SELECTOR_ACTIONS = ("matches", "excludes")


def encode(segment):
    """One path segment: ``/`` in an image name as ``%2F``, ``$`` and ``+`` of a robot name as ``%24`` and ``%2B``."""
    return quote(segment, safe="")


def rule_key(rule):
    """What identifies a retention rule (Vultr gives rules no name; only ``disabled`` can be changed in place)."""
    return tuple(rule.get(key) for key in RULE_KEYS)


def normalize_rule(raw):
    """A retention rule as the API answers it (``scope_selectors`` or govultr's ``scope_selector``) → the module's shape."""
    template = raw.get("template") or raw.get("rule_type")
    params = raw.get("params") or {}
    scope = raw.get("scope_selectors") or raw.get("scope_selector") or {}
    repository = (scope.get("repository") or [{}])[0] if isinstance(scope, dict) else {}
    tag = (raw.get("tag_selectors") or [{}])[0]
    extras = tag.get("extras")
    untagged = False
    if isinstance(extras, dict):
        untagged = bool(extras.get("untagged"))
    elif isinstance(extras, str) and "untagged" in extras:
        untagged = bool(re.search(r'"untagged"\s*:\s*true', extras))
    count = params.get(template)
    if count is None and len(params) == 1:
        count = list(params.values())[0]
    return {
        "id": raw.get("id"),
        "rule_type": template,
        "count": count,
        "repository_action": "excludes" if repository.get("decoration") == "repoExcludes" else "matches",
        "repository_match": repository.get("pattern"),
        "tag_action": "excludes" if tag.get("decoration") == "excludes" else "matches",
        "tag_match": tag.get("pattern"),
        "untagged": untagged,
        "disabled": bool(raw.get("disabled")),
    }


def desired_rule(rule):
    """A rule the task gives, with its defaults filled in and checked before any request."""
    if not isinstance(rule, dict):
        raise ValueError("every retention rule must be a dict, got %r" % (rule,))
    unknown = sorted(set(rule) - set(RULE_DEFAULTS) - set(("rule_type",)))
    if unknown:
        raise ValueError("unknown retention rule key(s) %s; allowed: rule_type, %s" % (", ".join(unknown), ", ".join(sorted(RULE_DEFAULTS))))
    if not rule.get("rule_type") or not isinstance(rule["rule_type"], str):
        raise ValueError("every retention rule needs rule_type (a Harbor retention template, e.g. latestPushedK, nDaysSinceLastPush)")
    out = dict(RULE_DEFAULTS)
    out.update((key, value) for key, value in rule.items() if value is not None)
    for key in ("repository_action", "tag_action"):
        if out[key] not in SELECTOR_ACTIONS:
            raise ValueError("retention rule %s must be matches or excludes, got %r" % (key, out[key]))
    if out["count"] is not None and (isinstance(out["count"], bool) or not isinstance(out["count"], int) or out["count"] < 0):
        raise ValueError("retention rule count must be a whole number of 0 or more, got %r" % (out["count"],))
    for key in ("untagged", "disabled"):
        if not isinstance(out[key], bool):
            raise ValueError("retention rule %s must be true or false, got %r" % (key, out[key]))
    return out


class VultrProvider(HostedListing, Provider):
    name = "vultr"
    default_api_url = "https://api.vultr.com"
    env_fallbacks = {"api_token": ("VULTR_API_KEY",)}
    capabilities = {
        "registry": Capability(states=("present", "absent"), info=True, options=("region", "plan", "public", "replications")),
        "registry_user": Capability(states=("present", "absent"), info=True, options=("description", "disabled", "duration", "permissions"),
                                    notes="Vultr generates robot accounts itself; they can be read, changed and deleted, not created"),
        "repository": Capability(states=("present", "absent"), info=True, options=("description",)),
        "artifact": Capability(states=("present", "absent"), info=True, options=("expected_tags",)),
        "tag": Capability(states=("absent",), info=True, options=("expected_digests",),
                          notes="Vultr has no API to create or move a tag; push the image instead"),
        "retention_policy": Capability(states=("present", "absent"), info=True, options=("rules", "purge", "schedule", "schedule_update", "run")),
        "registry_credentials": Capability(states=("present",), options=("expiry_seconds", "read_write", "format")),
    }

    def __init__(self, params, warn=None):
        super(VultrProvider, self).__init__(params, warn)
        self.secrets = []
        self._registries = None
        self._lists = {}
        self._oci = {}
        self._lock = threading.Lock()

    # -- connection and validation ------------------------------------------
    def connect(self):
        url = re.sub(r"/v2$", "", (self.params.get("api_url") or self.default_api_url).rstrip("/"))
        self.client = ApiClient(url, auth=HeaderAuth("Authorization", "Bearer %s" % self.params["api_token"]),
                                validate_certs=self.params["validate_certs"], ca_path=self.params.get("ca_path"),
                                timeout=self.params["timeout"], retries=self.params["retries"], concurrency=self.params["concurrency"],
                                warn=self.warn)

    def validate_provider(self, resource, items, desired):
        if self.params.get("api_token") in (None, ""):
            raise ValueError("provider vultr needs api_token (or the environment variable VULTR_API_KEY)")
        for item in items:
            registry = item["name"] if resource == "registry" else item.get("registry")
            if resource != "registry" and not registry:
                raise ValueError("provider vultr needs registry: the name of the registry the %s is in" % resource.replace("_", " "))
            if registry is not None and not validate.matches(REGISTRY_NAME_RE, registry):
                raise ValueError("registry name %s is not valid on Vultr: lowercase letters and digits only" % validate.shown(registry))
        for replication in desired.get("replications") or []:
            if not isinstance(replication, dict) or not replication.get("region") or replication.get("state", "present") not in ("present", "absent"):
                raise ValueError("every replications entry needs region and an optional state present or absent, got %r" % (replication,))
        for rule in desired.get("rules") or []:
            desired_rule(rule)
        expiry = desired.get("expiry_seconds")
        if expiry is not None and expiry < 0:
            raise ValueError("expiry_seconds must be 0 (never expires) or more, got %s" % expiry)
        if resource == "registry_user" and desired.get("duration") is not None and desired["duration"] < -1:
            raise ValueError("duration must be -1 (never expires) or more, got %s" % desired["duration"])

    def close(self):
        for provider in self._oci.values():
            provider.close()
        super(VultrProvider, self).close()

    # -- requests -----------------------------------------------------------
    def _list(self, path, key):
        return list(self.client.paginate_cursor(path, per_page=PER_PAGE, results_key=key))

    def _delete(self, path):
        """DELETE that counts an answer of 404 as done: gone is gone, also after a retried request. For registries, robots,
        repositories and rules; an artifact gone before this run's DELETE is reported ``absent`` (``delete_found``)."""
        try:
            self.client.request("DELETE", path, expected=(200, 202, 204))
        except NotFoundError:
            pass

    def _cached(self, key, load):
        with self._lock:
            if key not in self._lists:
                self._lists[key] = load()
            return self._lists[key]

    def _regions(self):
        return self._cached("regions", lambda: dict((r.get("name"), r) for r in self._list("/v2/registry/region/list", "regions")))

    def _plans(self):
        return self._cached("plans", lambda: (self.client.get("/v2/registry/plan/list") or {}).get("plans") or {})

    # -- registries ---------------------------------------------------------
    def _raw_registries(self, refresh=False):
        with self._lock:
            if self._registries is None or refresh:
                self._registries = self._list("/v2/registries", "registries")
            return list(self._registries)

    def _raw_registry(self, name):
        for raw in self._raw_registries():
            if raw.get("name") == name:
                return raw
        return None

    def _registry_id(self, name):
        raw = self._raw_registry(name)
        if raw is None:
            raise NotFoundError("registry '%s' not found" % name)
        return raw["id"]

    def _registry_path(self, name, *rest):
        return "/".join(["/v2/registry", self._registry_id(name)] + list(rest))

    def _remember_secret(self, value):
        if value:
            self.secrets.append(value)

    def _plan_of(self, raw):
        plan = ((raw.get("metadata") or {}).get("subscription") or {}).get("plan")
        if plan:
            return plan
        # Older answers carry no plan: the plan whose storage matches the registry's allowance, when only one does.
        allowed_mb = (((raw.get("storage") or {}).get("allowed") or {}).get("mb"))
        matching = [key for key, plan in self._plans().items() if allowed_mb is not None and plan.get("max_storage_mb") == allowed_mb]
        return matching[0] if len(matching) == 1 else None

    @staticmethod
    def _docker_host(raw):
        """The host to ``docker login`` to: the registry's ``urn`` without the name, else its region's."""
        return (raw.get("urn") or "").split("/", 1)[0] or ((raw.get("metadata") or {}).get("region") or {}).get("urn")

    def _normalize_registry(self, raw, replications=None):
        metadata = raw.get("metadata") or {}
        region = metadata.get("region") or {}
        storage = raw.get("storage") or {}
        root = dict(raw.get("root_user") or {})
        self._remember_secret(root.get("password"))
        if root.get("password"):
            root["password"] = MASK
        urn = raw.get("urn") or ""
        billing = (metadata.get("subscription") or {}).get("billing") or {}
        return {
            "name": raw.get("name"),
            "id": raw.get("id"),
            "url": urn or None,
            "storage_limit_bytes": (storage.get("allowed") or {}).get("bytes"),
            "storage_used_bytes": (storage.get("used") or {}).get("bytes"),
            "public": raw.get("public"),
            "region": raw.get("region") or region.get("name"),
            "plan": self._plan_of(raw),
            "created_at": timestamps.iso(raw.get("date_created")),
            "updated_at": None,
            "provider_data": {
                "docker_host": self._docker_host(raw),
                "base_url": region.get("base_url"),
                "root_user": {"id": root.get("id"), "username": root.get("username"), "password": root.get("password"),
                              "added_at": timestamps.iso(root.get("added_at")), "updated_at": timestamps.iso(root.get("updated_at"))},
                "monthly_price": billing.get("monthly_price"),
                "pending_charges": billing.get("pending_charges"),
                "replications": replications,
            },
        }

    def _replications(self, registry_id):
        return sorted(r.get("region") for r in self._list("/v2/registry/%s/replications" % registry_id, "replications"))

    def list_registry(self, filters):
        raws = [r for r in self._raw_registries() if not filters.get("name") or r.get("name") == filters["name"]]
        found = self.client.run_bulk(lambda raw: self._normalize_registry(raw, self._replications(raw["id"])), raws)
        for _raw, _result, error in found:
            if error is not None:
                raise error
        return sorted((registry for _raw, registry, _error in found), key=lambda r: r["name"])

    def read_registry(self, items):
        found = []
        for item in items:
            raw = self._raw_registry(item["name"])
            found.append(None if raw is None else self._normalize_registry(raw, self._replications(raw["id"])))
        return found

    def _check_choice(self, what, value, known):
        if value is not None and value not in known:
            raise ValueError("%s '%s' is not one of Vultr's registry %ss: %s" % (what, value, what, ", ".join(sorted(known))))

    def _check_region_and_plan(self, desired):
        """Regions and plans are checked against the API's own lists (read-only requests) before any change."""
        if desired.get("region") is not None or desired.get("replications"):
            regions = self._regions()
            self._check_choice("region", desired.get("region"), regions)
            for replication in desired.get("replications") or []:
                self._check_choice("region", replication["region"], regions)
        if desired.get("plan") is not None:
            self._check_choice("plan", desired["plan"], self._plans())

    def check_create(self, resource, item, desired):
        if resource == "registry":
            self._check_region_and_plan(desired)
            missing = [key for key in ("region", "plan") if desired.get(key) is None]
            if missing:
                return "region and plan are required to create a registry (missing: %s)" % ", ".join(missing)
            self._check_own_region(item["name"], desired["region"], desired.get("replications"))
            return None
        if resource in ("repository", "registry_user", "retention_policy") and self._raw_registry(item["registry"]) is None:
            return "registry '%s' does not exist" % item["registry"]
        if resource == "repository":
            return "Vultr creates a repository when the first image is pushed to it; it cannot be created through the API"
        if resource == "registry_user":
            hint = ""
            if not item["name"].startswith("robot$"):
                hint = " (robots are named in full, for example robot$%s+%s)" % (item["registry"], item["name"])
            return ("no robot %s in registry %s%s: Vultr generates robot accounts itself; the API cannot create one "
                    "(it can read, change and delete them)" % (item["name"], item["registry"], hint))
        return None

    @staticmethod
    def _check_own_region(name, region, replications):
        for replication in replications or []:
            if replication.get("state", "present") == "present" and replication["region"] == region:
                raise ValueError("registry %s is in region %s: a replication goes to another region (drop the replications "
                                 "entry for %s)" % (name, region, region))

    def changes_registry(self, item, current, desired):
        self._check_region_and_plan(desired)
        if desired.get("region") is not None and desired["region"] != current["region"]:
            raise ValueError("registry %s is in region %s; Vultr cannot move a registry to another region (%s): "
                             "create a new registry, or add a replication" % (item["name"], current["region"], desired["region"]))
        self._check_own_region(item["name"], current["region"], desired.get("replications"))
        changes = {}
        for key in ("public", "plan"):
            if desired.get(key) is not None and desired[key] != current.get(key):
                changes[key] = desired[key]
        have = set(current["provider_data"].get("replications") or [])
        add = sorted(set(r["region"] for r in desired.get("replications") or [] if r.get("state", "present") == "present") - have)
        remove = sorted(set(r["region"] for r in desired.get("replications") or [] if r.get("state") == "absent") & have)
        if add or remove:
            changes["replications"] = {"add": add, "remove": remove}
        return changes

    def create_registry(self, item, desired):
        body = {"name": item["name"], "public": bool(desired.get("public")), "region": desired["region"], "plan": desired["plan"]}
        raw = self.client.json("POST", "/v2/registry", json=body, expected=(200, 201))
        adds = [r["region"] for r in desired.get("replications") or [] if r.get("state", "present") == "present"]
        for region in adds:
            self.client.json("POST", "/v2/registry/%s/replication" % raw["id"], json={"region": region}, expected=(200, 201))
        self._raw_registries(refresh=True)
        return self._normalize_registry(raw, sorted(adds))

    def update_registry(self, item, current, changes, desired):
        body = dict((key, changes[key]) for key in ("public", "plan") if key in changes)
        raw = self.client.json("PUT", "/v2/registry/%s" % current["id"], json=body) if body else self._raw_registry(item["name"])
        replications = changes.get("replications") or {}
        for region in replications.get("add", ()):
            self.client.json("POST", "/v2/registry/%s/replication" % current["id"], json={"region": region}, expected=(200, 201))
        for region in replications.get("remove", ()):
            self._delete("/v2/registry/%s/replication/%s" % (current["id"], encode(region)))
        return self._normalize_registry(raw, self._replications(current["id"]))

    def delete_registry(self, item, current):
        self._delete("/v2/registry/%s" % current["id"])
        return current

    def predict(self, resource, action):
        """The resource as the real run will return it (check mode). Only what the API decides itself is unknown (null):
        a new registry's id, root user and creation time, a new rule's id, a run's times."""
        if resource == "registry" and action.kind != "delete":
            return self._predict_registry(action)
        if resource == "registry_user":
            if action.kind == "delete" and action.current["provider_data"].get("root"):
                raise ValueError(self._root_delete_message(action.item["registry"]))
            if action.kind == "update":
                after = dict(action.current, provider_data=dict(action.current["provider_data"]))
                after["provider_data"].update(action.changes)
                if "permissions" in action.changes:
                    after["read_only"] = self._read_only(action.changes["permissions"])
                return after
        if resource == "retention_policy" and action.kind != "delete":
            changes = action.changes if action.kind == "update" else self._policy_changes(None, action.desired)
            return dict(self._policy_after(action.current, changes), registry=action.item["registry"])
        return super(VultrProvider, self).predict(resource, action)

    def _predict_registry(self, action):
        desired = action.desired
        if action.current is None:
            region = self._regions().get(desired.get("region")) or {}
            host = region.get("urn")
            after = {"name": action.item["name"], "id": None, "url": "%s/%s" % (host, action.item["name"]) if host else None,
                     "storage_limit_bytes": None, "storage_used_bytes": 0, "public": bool(desired.get("public")),
                     "region": desired.get("region"), "plan": None, "created_at": None, "updated_at": None,
                     "provider_data": {"docker_host": host, "base_url": region.get("base_url"), "root_user": None,
                                       "monthly_price": None, "pending_charges": 0, "replications": []}}
        else:
            after = dict(action.current, provider_data=dict(action.current["provider_data"]))
        for key in ("public", "plan"):
            if desired.get(key) is not None:
                after[key] = desired[key]
        plan = self._plans().get(after["plan"]) if after["plan"] is not None else None
        if plan and (action.current is None or "plan" in action.changes):
            after["storage_limit_bytes"] = plan.get("max_storage_mb") * 1024 * 1024 if plan.get("max_storage_mb") is not None else None
            after["provider_data"]["monthly_price"] = plan.get("monthly_price")
        replications = set(after["provider_data"].get("replications") or [])
        for replication in desired.get("replications") or []:
            (replications.add if replication.get("state", "present") == "present" else replications.discard)(replication["region"])
        after["provider_data"]["replications"] = sorted(replications)
        return after

    # -- robots and the root user -------------------------------------------
    @staticmethod
    def _access_of(permissions):
        """Robot permissions as the API answers them (an array of {kind, namespace, access}, or one such object)."""
        if isinstance(permissions, dict):
            permissions = [permissions]
        access = []
        for permission in permissions or []:
            entries = permission.get("access") if isinstance(permission, dict) else None
            if isinstance(entries, dict):
                entries = [entries]
            for entry in entries or []:
                access.append({"action": entry.get("action"), "resource": entry.get("resource"), "effect": entry.get("effect") or "allow"})
        return sorted(access, key=lambda a: (a["resource"] or "", a["action"] or "", a["effect"]))

    @staticmethod
    def _read_only(access):
        """A robot is read-only unless it is allowed to push."""
        return not any(a["action"] == "push" and a["effect"] == "allow" for a in access)

    def _normalize_robot(self, raw, registry):
        self._remember_secret(raw.get("secret"))
        access = self._access_of(raw.get("permissions"))
        return {
            "name": raw.get("name"),
            "id": None,
            "login": raw.get("name"),
            "registry": registry,
            "read_only": self._read_only(access),
            "expires_at": None,
            "created_at": timestamps.iso(raw.get("creation_time")),
            "provider_data": {"root": False, "description": raw.get("description"), "disabled": raw.get("disable"),
                              "duration": raw.get("duration"), "permissions": access},
        }

    def _root_user(self, raw_registry, registry):
        root = raw_registry.get("root_user") or {}
        self._remember_secret(root.get("password"))
        return {"name": root.get("username"), "id": root.get("id"), "login": root.get("username"), "registry": registry,
                "read_only": False, "expires_at": None, "created_at": timestamps.iso(root.get("added_at")),
                "provider_data": {"root": True, "password": MASK if root.get("password") else None,
                                  "updated_at": timestamps.iso(root.get("updated_at"))}}

    def _users(self, registry):
        raw = self._raw_registry(registry)
        if raw is None:
            raise NotFoundError("registry '%s' not found" % registry)
        robots = self._list("/v2/registry/%s/robots" % raw["id"], "robots")
        return [self._root_user(raw, registry)] + [self._normalize_robot(r, registry) for r in robots]

    def list_registry_user(self, filters):
        names = set(filters.get("name") or [])
        return sorted((u for u in self._users(filters["registry"]) if not names or u["name"] in names), key=lambda u: u["name"])

    def read_registry_user(self, items):
        users = {}
        for registry in set(item["registry"] for item in items):
            users[registry] = dict((u["name"], u) for u in self._users(registry)) if self._raw_registry(registry) else {}
        return [users[item["registry"]].get(item["name"]) for item in items]

    def changes_registry_user(self, item, current, desired):
        wanted = dict((key, desired[key]) for key in ("description", "disabled", "duration", "permissions") if desired.get(key) is not None)
        if current["provider_data"].get("root") and wanted:
            raise ValueError("the root user of registry %s cannot be changed through Vultr's API" % item["registry"])
        have = {"description": current["provider_data"].get("description"), "disabled": current["provider_data"].get("disabled"),
                "duration": current["provider_data"].get("duration"), "permissions": current["provider_data"].get("permissions")}
        if "permissions" in wanted:
            wanted["permissions"] = self._access_of([{"access": wanted["permissions"]}])
        return dict((key, value) for key, value in wanted.items() if have.get(key) != value)

    def update_registry_user(self, item, current, changes, desired):
        path = self._registry_path(item["registry"], "robot", encode(item["name"]))
        body = {}
        for key, field in (("description", "description"), ("disabled", "disable"), ("duration", "duration")):
            if key in changes:
                body[field] = changes[key]
        if "permissions" not in changes:
            return self._normalize_robot(self.client.json("PUT", path, json=body), item["registry"])
        try:
            raw = self.client.json("PUT", path, json=dict(body, access=changes["permissions"]))
        except ApiError as exc:
            if exc.status not in (400, 422):
                raise
            # The prose docs' shape, where the API does not take the spec's.
            raw = self.client.json("PUT", path, json=dict(body, permissions=[{"kind": "project", "namespace": item["registry"],
                                                                              "access": changes["permissions"]}]))
        return self._normalize_robot(raw, item["registry"])

    @staticmethod
    def _root_delete_message(registry):
        return "the root user of registry %s cannot be deleted; delete the registry instead" % registry

    def delete_registry_user(self, item, current):
        if current["provider_data"].get("root"):
            raise ValueError(self._root_delete_message(item["registry"]))
        self._delete(self._registry_path(item["registry"], "robot", encode(item["name"])))
        return current

    # -- repositories -----------------------------------------------------------
    def _normalize_repository(self, raw, registry):
        host = (self._raw_registry(registry) or {}).get("urn") or registry
        return {
            "name": raw.get("image"),
            "id": None,
            "location": "%s/%s" % (host, raw.get("image")),
            "artifact_count": raw.get("artifact_count"),
            "pull_count": raw.get("pull_count"),
            "size_bytes": None,
            "description": raw.get("description"),
            "created_at": timestamps.iso(raw.get("added_at")),
            "updated_at": timestamps.iso(raw.get("updated_at")),
            "provider_data": {"full_name": raw.get("name")},
        }

    def _repositories(self, registry):
        return [self._normalize_repository(r, registry) for r in self._list(self._registry_path(registry, "repositories"), "repositories")]

    def _registry_exists(self, registry):
        return self._raw_registry(registry) is not None

    def changes_repository(self, item, current, desired):
        description = desired.get("description")
        return {"description": description} if description is not None and description != (current.get("description") or "") else {}

    def update_repository(self, item, current, changes, desired):
        raw = self.client.json("PUT", self._registry_path(item["registry"], "repository", encode(item["name"])),
                               json={"description": changes["description"]})
        return self._normalize_repository(raw, item["registry"])

    def delete_repository(self, item, current):
        self._delete(self._registry_path(item["registry"], "repository", encode(item["name"])))
        return current

    # -- artifacts and tags ---------------------------------------------------------
    @staticmethod
    def _normalize_artifact(raw, repository):
        tags = raw.get("tags") or []
        return {
            "repository": repository,
            "digest": raw.get("digest"),
            "media_type": raw.get("manifest_media_type") or raw.get("media_type"),
            "size_bytes": raw.get("size"),
            "tags": sorted(t.get("name") for t in tags if t.get("name")),
            "pushed_at": timestamps.iso(raw.get("push_time")),
            "pulled_at": timestamps.iso(raw.get("pull_time")),
            "created_at": None,
            "platforms": [],
            "children": [],
            "subject": None,
            "status": None,
            "read_error": None,
            "provider_data": {"artifact_type": raw.get("artifact_type"), "type": raw.get("type"),
                              "tags": [{"name": t.get("name"), "immutable": t.get("immutable"), "pushed_at": timestamps.iso(t.get("push_time")),
                                        "pulled_at": timestamps.iso(t.get("pull_time"))} for t in tags]},
        }

    def _list_artifacts(self, registry, repository):
        path = self._registry_path(registry, "repository", encode(repository), "artifacts")
        return [self._normalize_artifact(a, repository) for a in self._list(path, "artifacts")]

    def delete_artifact(self, item, current):
        """Delete one artifact by digest. With ``expected_tags`` naming the digest, the artifact is read again right before
        (one ``GET``): a tag pushed onto it since the call's read keeps it (skipped, ``tags_changed``)."""
        path = self._registry_path(item["registry"], "repository", encode(item["repository"]), "artifact", item["digest"])
        if expected_tags_for(self.params, item) is not None:
            try:
                fresh = self.client.json("GET", path)
            except NotFoundError:
                raise AlreadyGone.since_read()
            refuse_unexpected_tags(self.params, item, [t.get("name") for t in (fresh or {}).get("tags") or [] if t.get("name")])
        delete_found(self.client, path, expected=(200, 202, 204))
        return current

    def _oci_provider(self, registry):
        """The ``oci`` provider on the registry's host, with credentials minted for this run (read/write, one hour)."""
        with self._lock:
            if registry in self._oci:
                return self._oci[registry]
        raw = self._raw_registry(registry) or {}
        host = self._docker_host(raw)
        answer = self.client.json("OPTIONS", self._registry_path(registry, "docker-credentials"),
                                  params={"expiry_seconds": OCI_CREDENTIALS_SECONDS, "read_write": "true"}, idempotent=False)
        username, password, auth = self._decode_auths(answer, host)
        self._remember_secret(password)
        self._remember_secret(auth)
        base = ((raw.get("metadata") or {}).get("region") or {}).get("base_url") or "https://%s" % host
        params = dict(self.params, api_url=base, api_username=username, api_password=password, api_token=None)
        provider = OciProvider(params, warn=self.warn)
        provider.connect()
        with self._lock:
            self._oci[registry] = provider
        return provider

    @staticmethod
    def _decode_auths(answer, host):
        auths = (answer or {}).get("auths") or {}
        entry = auths.get(host) or (list(auths.values())[0] if len(auths) == 1 else None)
        if not entry or not entry.get("auth"):
            raise ApiError("the docker-credentials answer has no entry for %s" % host)
        username, _sep, password = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
        return username, password, entry["auth"]

    def apply_tag(self, actions):
        """Vultr has no tag delete: the ``oci`` provider removes the tags on the registry host, siblings kept."""
        return remove_tags_over_oci(actions, self._oci_provider, lambda registry, repository: "%s/%s" % (registry, repository))

    # -- retention policy (rules and schedule) ------------------------------------
    def _rules(self, registry):
        return [normalize_rule(r) for r in self._list(self._registry_path(registry, "retention", "rules"), "retention_rules")]

    def list_retention_policy(self, filters):
        return [self._policy(filters["registry"], self._rules(filters["registry"]))]

    @staticmethod
    def _policy(registry, rules):
        return {"registry": registry, "rules": sorted(rules, key=lambda r: r["id"] or 0), "schedule": None,
                "provider_data": {"schedule_readable": False}}

    def read_retention_policy(self, items):
        found = []
        for item in items:
            if self._raw_registry(item["registry"]) is None:
                found.append(None)
                continue
            rules = self._rules(item["registry"])
            # For state=absent a registry without rules has no policy (nothing to delete: unchanged). For present the
            # policy of an existing registry always exists, empty or not, so that present with no rule to create is
            # unchanged too (the module puts the state in the item).
            found.append(self._policy(item["registry"], rules) if rules or item.get("state") != "absent" else None)
        return found

    def _policy_changes(self, current, desired):
        have = list((current or {}).get("rules") or [])
        wanted = [desired_rule(r) for r in desired.get("rules") or []]
        create, disable, enable, delete = [], [], [], []
        matched = set()
        for rule in wanted:
            same = [r for r in have if rule_key(r) == rule_key(rule) and r["id"] not in matched]
            if not same:
                create.append(rule)
                continue
            matched.add(same[0]["id"])
            if same[0]["disabled"] != rule["disabled"]:
                (disable if rule["disabled"] else enable).append(same[0]["id"])
        # Rules left out (rules not given at all) are left alone, purge or not; rules: [] with purge deletes them all.
        if desired.get("purge") and desired.get("rules") is not None:
            delete = sorted(r["id"] for r in have if r["id"] not in matched)
        changes = dict((key, value) for key, value in (("create", create), ("disable", disable), ("enable", enable), ("delete", delete)) if value)
        schedule = desired.get("schedule")
        # The schedule cannot be read back: it is sent when the policy is created (the registry had no rules), or on
        # every run with schedule_update: always.
        if schedule is not None and (not have or desired.get("schedule_update") == "always"):
            changes["schedule"] = schedule
        if desired.get("run"):
            changes["run"] = desired["run"]
        return changes

    def changes_retention_policy(self, item, current, desired):
        return self._policy_changes(current, desired)

    @staticmethod
    def _policy_after(current, changes):
        rules = [dict(r) for r in (current or {}).get("rules") or [] if r["id"] not in changes.get("delete", ())]
        for rule in rules:
            if rule["id"] in changes.get("disable", ()):
                rule["disabled"] = True
            if rule["id"] in changes.get("enable", ()):
                rule["disabled"] = False
        rules.extend(dict(r, id=None) for r in changes.get("create", ()))
        after = {"registry": (current or {}).get("registry"), "rules": rules, "schedule": changes.get("schedule"),
                 "provider_data": {"schedule_readable": False}}
        if changes.get("run"):
            after["execution"] = {"dry_run": changes["run"] == "dry_run", "start_time": None, "end_time": None, "trigger": "MANUAL"}
        return after

    def create_retention_policy(self, item, desired):
        return self._apply_policy(item, None, self._policy_changes(None, desired))

    def update_retention_policy(self, item, current, changes, desired):
        return self._apply_policy(item, current, changes)

    def _apply_policy(self, item, current, changes):
        base = self._registry_path(item["registry"], "retention")
        for rule_id in changes.get("delete", ()):
            self._delete("%s/rules/%s" % (base, rule_id))
        for rule in changes.get("create", ()):
            body = dict((key, rule[key]) for key in RULE_KEYS if rule[key] is not None)
            created = normalize_rule(self.client.json("POST", base + "/rules", json=body, expected=(200, 201)))
            if rule["disabled"]:
                self.client.json("PUT", "%s/rules/%s" % (base, created["id"]), json={"disabled": True})
        for rule_id in changes.get("disable", ()):
            self.client.json("PUT", "%s/rules/%s" % (base, rule_id), json={"disabled": True})
        for rule_id in changes.get("enable", ()):
            self.client.json("PUT", "%s/rules/%s" % (base, rule_id), json={"disabled": False})
        after = self._policy(item["registry"], self._rules(item["registry"]))
        if "schedule" in changes:
            answer = self.client.json("PUT", base + "/schedule", json={"cron": changes["schedule"]}) or {}
            after["schedule"] = answer.get("schedule", changes["schedule"])
            after["provider_data"]["next_scheduled_time"] = timestamps.iso(answer.get("next_scheduled_time"))
        if changes.get("run"):
            answer = self.client.json("POST", base + "/executions", json={"dry_run": changes["run"] == "dry_run"}, expected=(200, 201, 202)) or {}
            after["execution"] = {"dry_run": answer.get("dry_run"), "start_time": timestamps.iso(answer.get("start_time")),
                                  "end_time": timestamps.iso(answer.get("end_time")), "trigger": answer.get("trigger")}
        return after

    def delete_retention_policy(self, item, current):
        base = self._registry_path(item["registry"], "retention")
        for rule in current["rules"]:
            self._delete("%s/rules/%s" % (base, rule["id"]))
        # An empty cron clears the schedule.
        self.client.json("PUT", base + "/schedule", json={"cron": ""})
        return current

    # -- docker credentials -------------------------------------------------------
    def registry_credentials(self, registry, expiry_seconds, read_write, output_format, check_mode=False):
        """Mint docker credentials (``OPTIONS``; the query parameters are sent once), returned once and never remembered
        for masking (the caller returns them). In check mode only the registry is looked up.

        The ``OPTIONS`` creates credentials, so it is retried like a create (only where the API said it did not act:
        429, 503, no connection): a retry after a 500 could leave a second, unreturned set behind."""
        self._registry_id(registry)
        host = self._docker_host(self._raw_registry(registry))
        if check_mode:
            return {"registry_host": host, "docker_config": None, "username": None, "password": None, "kubernetes_secret": None}
        query = {"expiry_seconds": expiry_seconds, "read_write": "true" if read_write else "false"}
        if output_format == "kubernetes_secret":
            response = self.client.request("OPTIONS", self._registry_path(registry, "docker-credentials", "kubernetes"), params=query,
                                           idempotent=False)
            return {"registry_host": host, "kubernetes_secret": response.text, "docker_config": None, "username": None, "password": None}
        answer = self.client.json("OPTIONS", self._registry_path(registry, "docker-credentials"), params=query, idempotent=False)
        username, password, _auth = self._decode_auths(answer, host)
        return {"registry_host": host, "docker_config": answer, "username": username, "password": password, "kubernetes_secret": None}
