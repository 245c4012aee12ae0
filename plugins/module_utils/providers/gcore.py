# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``gcore`` provider: Gcore Cloud Container Registry. PRIVATE to the collection.

Quirks this class absorbs (see docs/gcore.md):

* every path carries the project and region ids;
* user names come back as ``r_<client>-<project>-<region>-<registry>+<name>``;
* PATCH user requires ``duration`` and silently resets ``read_only`` to false
  when it is left out, and resize shrinks to 5 GiB when ``storage_limit`` is
  left out: both are always sent;
* repository names with ``/`` are double-encoded in paths;
* the batch-create response shape differs from its own spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import secrets
import string
import threading

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    quote = None

from ansible_collections.regops.registry.plugins.module_utils import validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ConflictError, HeaderAuth, NotFoundError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import (
    AlreadyGone, Capability, FreshReads, Provider, delete_found, expected_tags_for, refuse_unexpected_tags)
from ansible_collections.regops.registry.plugins.module_utils.providers.listing import HostedListing
MASK = "********"  # how engine diffs show a secret

GIB = 1024 ** 3
REGISTRY_NAME_RE = re.compile(r"[a-z][-a-z0-9]{0,22}[a-z0-9]")
USER_NAME_RE = re.compile(r"[a-z0-9]{1,16}")
NEVER_EXPIRES = "1969-12-31T23:59:59Z"
# Artifacts per page of a repository's listing (the API's limit/offset pages).
ARTIFACT_PAGE = 1000


def encode_repository(name):
    """``a/b`` → ``a%252Fb``: Gcore wants repository names with a slash encoded twice."""
    return quote(quote(name, safe=""), safe="")


def short_user_name(name):
    return (name or "").rsplit("+", 1)[-1]


def generate_secret(length=32):
    """A strong user secret: letters and digits, at least one lowercase, one uppercase and one digit
    (what Harbor-based registries ask of a robot secret)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _index in range(length))
        if any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value):
            return value


def parse_batch_users(body):
    """The batch-create answer: a list, ``{count, results}``, ``{users: [...]}`` or one user object."""
    if isinstance(body, list):
        return [u for u in body if isinstance(u, dict)]
    if isinstance(body, dict):
        for key in ("results", "users", "items"):
            if isinstance(body.get(key), list):
                return [u for u in body[key] if isinstance(u, dict)]
        if body.get("name") is not None:
            return [body]
    return []


class GcoreProvider(HostedListing, Provider):
    name = "gcore"
    default_api_url = "https://api.gcore.com"
    env_fallbacks = {
        "api_token": ("GCORE_API_KEY",),
        "project_id": ("GCORE_CLOUD_PROJECT_ID",),
        "region_id": ("GCORE_CLOUD_REGION_ID",),
        "api_url": ("GCORE_BASE_URL",),
    }
    capabilities = {
        "registry": Capability(states=("present", "absent"), info=True, options=("storage_limit",)),
        "registry_user": Capability(states=("present", "absent"), info=True, options=("read_only", "duration", "secret", "refresh_secret")),
        "repository": Capability(states=("absent",), info=True, notes="repositories are created by pushing an image"),
        "artifact": Capability(states=("present", "absent"), info=True, options=("expected_tags",)),
        "tag": Capability(states=("absent",), info=True, options=("expected_digests",),
                          notes="Gcore has no API to create or move a tag; push the image instead"),
    }

    def __init__(self, params, warn=None):
        super(GcoreProvider, self).__init__(params, warn)
        self._registries = None
        self._lock = threading.Lock()
        # (registry, repository) -> {digest: artifact}, listed again right before a digest that expected_tags names goes;
        # a listing near a page or more long does not overlap this run's deletes there (offset pages shift under them)
        self._fresh_artifacts = FreshReads(lambda key: dict((a["digest"], a) for a in self._list_artifacts(*key)),
                                           paged=lambda artifacts: len(artifacts) >= ARTIFACT_PAGE // 2)

    # -- connection and validation ------------------------------------------
    def connect(self):
        self.client = ApiClient(self.params.get("api_url") or self.default_api_url,
                                auth=HeaderAuth("Authorization", "APIKey %s" % self.params["api_token"]),
                                validate_certs=self.params["validate_certs"], ca_path=self.params.get("ca_path"),
                                timeout=self.params["timeout"], retries=self.params["retries"], concurrency=self.params["concurrency"],
                                warn=self.warn)

    def _delete(self, path):
        """DELETE that counts an answer of 404 as done: gone is gone, also after a retried request. For registries, users
        and repositories; an artifact or tag gone before this run's DELETE is reported ``absent`` (``delete_found``)."""
        self.client.delete(path, expected=(200, 202, 204))

    def validate_provider(self, resource, items, desired):
        missing = [opt for opt, env in (("api_token", "GCORE_API_KEY"), ("project_id", "GCORE_CLOUD_PROJECT_ID"),
                                        ("region_id", "GCORE_CLOUD_REGION_ID")) if self.params.get(opt) in (None, "")]
        if missing:
            raise ValueError("provider gcore needs %s (or the environment variables %s)" % (
                ", ".join(missing), ", ".join({"api_token": "GCORE_API_KEY", "project_id": "GCORE_CLOUD_PROJECT_ID",
                                               "region_id": "GCORE_CLOUD_REGION_ID"}[m] for m in missing)))
        desired = desired or {}
        for item in items:
            registry = item["name"] if resource == "registry" else item.get("registry")
            if resource != "registry" and not registry:
                raise ValueError("provider gcore needs registry: the name of the registry the %s is in" % resource.replace("_", " "))
            if registry is not None and not validate.matches(REGISTRY_NAME_RE, registry):
                raise ValueError("registry name %s is not valid on Gcore: 2 to 24 of a-z, 0-9 and -, starting with a letter and "
                                 "ending with a letter or digit" % validate.shown(registry))
            if resource == "registry_user" and not validate.matches(USER_NAME_RE, item["name"]):
                raise ValueError("user name %s is not valid on Gcore: 1 to 16 lowercase letters and digits" % validate.shown(item["name"]))
        limit = desired.get("storage_limit")
        if limit is not None and not 1 <= limit <= 1000:
            raise ValueError("storage_limit must be between 1 and 1000 GiB on Gcore, got %s" % limit)
        duration = desired.get("duration")
        if duration is not None and not -1 <= duration <= 365:
            raise ValueError("duration must be between -1 (never expires) and 365 days on Gcore, got %s" % duration)

    # -- paths --------------------------------------------------------------
    def _base(self):
        return "/cloud/v1/registries/%d/%d" % (self.params["project_id"], self.params["region_id"])

    def _registry_path(self, registry_id, *rest):
        return "/".join([self._base(), str(registry_id)] + [str(r) for r in rest])

    # -- registries ---------------------------------------------------------
    def _normalize_registry(self, raw):
        url = raw.get("url")
        limit = raw.get("storage_limit")
        return {
            "name": raw.get("name"),
            "id": raw.get("id"),
            "url": url,
            "storage_limit_bytes": limit * GIB if isinstance(limit, int) else None,
            "storage_used_bytes": raw.get("storage_used"),
            "public": None,
            "region": str(self.params["region_id"]),
            "plan": None,
            "created_at": raw.get("created_at"),
            "updated_at": raw.get("updated_at"),
            "provider_data": {"storage_limit_gib": limit, "repo_count": raw.get("repo_count"),
                              "docker_host": (url or "").split("/", 1)[0] or None},
        }

    def _all_registries(self, refresh=False):
        with self._lock:
            if self._registries is None or refresh:
                self._registries = [self._normalize_registry(r) for r in self.client.paginate_offset(self._base())]
            return list(self._registries)

    def _find_registry(self, name):
        for registry in self._all_registries():
            if registry["name"] == name:
                return registry
        return None

    def _registry_id(self, name):
        registry = self._find_registry(name)
        if registry is None:
            raise NotFoundError("registry '%s' not found in project %s, region %s" % (name, self.params["project_id"], self.params["region_id"]))
        return registry["id"]

    def list_registry(self, filters):
        found = [r for r in self._all_registries() if not filters.get("name") or r["name"] == filters["name"]]
        return sorted(found, key=lambda r: r["name"])

    def read_registry(self, items):
        return [self._find_registry(item["name"]) for item in items]

    def changes_registry(self, item, current, desired):
        limit = desired.get("storage_limit")
        if limit is not None and current["provider_data"]["storage_limit_gib"] != limit:
            return {"storage_limit": limit}
        return {}

    def create_registry(self, item, desired):
        body = {"name": item["name"], "storage_limit": desired.get("storage_limit") or 5}
        try:
            created = self.client.json("POST", self._base(), json=body, expected=(201,))
        except ConflictError:
            # Created by someone else since we looked: report it as it is (a 409 for a name we cannot see is an error).
            found = self._find_registry_fresh(item["name"])
            if found is None:
                raise
            return found
        return self._normalize_registry(created)

    def _find_registry_fresh(self, name):
        self._all_registries(refresh=True)
        return self._find_registry(name)

    def update_registry(self, item, current, changes, desired):
        # The resize body's storage_limit defaults to 5 GiB when left out: always send it.
        resized = self.client.json("PATCH", self._registry_path(current["id"], "resize"), json={"storage_limit": changes["storage_limit"]})
        return self._normalize_registry(resized)

    def delete_registry(self, item, current):
        self._delete(self._registry_path(current["id"]))
        return current

    def predict(self, resource, action):
        if resource == "registry" and action.kind != "delete":
            blank = {"name": action.item["name"], "id": None, "url": None, "storage_used_bytes": 0, "public": None,
                     "region": str(self.params["region_id"]), "plan": None, "created_at": None, "updated_at": None,
                     "provider_data": {"repo_count": 0, "docker_host": None}}
            after = dict(action.current or blank)
            limit = action.changes.get("storage_limit") or action.desired.get("storage_limit") or 5
            after["storage_limit_bytes"] = limit * GIB
            after["provider_data"] = dict(after["provider_data"], storage_limit_gib=limit)
            return after
        if resource == "registry_user" and action.kind != "delete":
            blank = {"name": action.item["name"], "id": None, "login": None, "expires_at": None, "created_at": None, "provider_data": {}}
            after = dict(action.current or blank)
            after["read_only"] = self._value(action, "read_only", False)
            after["duration"] = self._value(action, "duration", None)
            after.pop("secret", None)
            return after
        return super(GcoreProvider, self).predict(resource, action)

    @staticmethod
    def _value(action, key, default):
        if action.desired.get(key) is not None:
            return action.desired[key]
        return (action.current or {}).get(key, default)

    # -- users ----------------------------------------------------------------
    @staticmethod
    def _normalize_user(raw, registry):
        expires = raw.get("expires_at")
        user = {
            "name": short_user_name(raw.get("name")),
            "id": raw.get("id"),
            "login": raw.get("name"),
            "registry": registry,
            "read_only": raw.get("read_only"),
            "duration": raw.get("duration"),
            "expires_at": None if expires == NEVER_EXPIRES or raw.get("duration") == -1 else expires,
            "created_at": raw.get("created_at"),
            "provider_data": {},
        }
        if raw.get("secret"):
            user["secret"] = raw["secret"]
        return user

    def _users(self, registry):
        registry_id = self._registry_id(registry)
        return [self._normalize_user(u, registry) for u in self.client.paginate_offset(self._registry_path(registry_id, "users"))]

    def list_registry_user(self, filters):
        names = set(filters.get("name") or [])
        users = [u for u in self._users(filters["registry"]) if not names or u["name"] in names]
        return sorted(users, key=lambda u: u["name"])

    def read_registry_user(self, items):
        by_registry = {}
        for item in items:
            if item["registry"] not in by_registry:
                if self._find_registry(item["registry"]) is None:
                    by_registry[item["registry"]] = None
                else:
                    by_registry[item["registry"]] = dict((u["name"], u) for u in self._users(item["registry"]))
        return [(by_registry[item["registry"]] or {}).get(item["name"]) for item in items]

    def check_create(self, resource, item, desired):
        if resource == "registry_user":
            if self._find_registry(item["registry"]) is None:
                return "registry '%s' does not exist" % item["registry"]
            if desired.get("duration") is None:
                return "duration is required to create a user (days, -1 for never)"
        if resource == "registry" and desired.get("storage_limit") is None:
            self.warn("registry %s is created with Gcore's default storage_limit of 5 GiB" % item["name"])
        return None

    def changes_registry_user(self, item, current, desired):
        changes = {}
        for key in ("read_only", "duration"):
            if desired.get(key) is not None and current.get(key) != desired[key]:
                changes[key] = desired[key]
        if desired.get("refresh_secret"):
            changes["secret"] = MASK
        return changes

    def _user_body(self, desired):
        body = {"name": None, "duration": desired["duration"], "read_only": bool(desired.get("read_only"))}
        if desired.get("secret"):
            body["secret"] = desired["secret"]
        return body

    def apply_registry_user(self, actions):
        creates = [a for a in actions if a.kind == "create"]
        done = {}
        if len(creates) > 1:
            done.update(self._batch_create(creates))
        rest = [a for a in actions if id(a) not in done]
        for action, result, error in self._apply_each("registry_user", rest):
            done[id(action)] = (action, result, error)
        return [done[id(a)] for a in actions]

    def _batch_create(self, creates):
        """One batch call for several new users of one registry (the portal's group create)."""
        registry = creates[0].item["registry"]
        if any(a.item["registry"] != registry for a in creates):
            return {}
        users = []
        for action in creates:
            body = self._user_body(action.desired)
            body["name"] = action.item["name"]
            # The batch answer may carry one user or none (the spec declares a single object): a secret made here and
            # sent is the only way to return every new user's secret.
            body.setdefault("secret", generate_secret())
            users.append(body)
        sent = dict((body["name"], body["secret"]) for body in users)
        path = self._registry_path(self._registry_id(registry), "users", "batch")
        try:
            answer = self.client.json("POST", path, json={"users": users}, expected=(200, 201))
        except ConflictError as exc:
            return dict((id(a), (a, None, exc)) for a in creates)
        returned = dict((short_user_name(u.get("name")), u) for u in parse_batch_users(answer))
        listed = dict((u["name"], u) for u in self._users(registry))
        done = {}
        for action in creates:
            name = action.item["name"]
            user = listed.get(name)
            if user is None:
                done[id(action)] = (action, None, NotFoundError("user %s was not created by the batch call" % name))
                continue
            user["secret"] = returned.get(name, {}).get("secret") or sent[name]
            done[id(action)] = (action, user, None)
        return done

    def create_registry_user(self, item, desired):
        body = self._user_body(desired)
        body["name"] = item["name"]
        path = self._registry_path(self._registry_id(item["registry"]), "users")
        return self._normalize_user(self.client.json("POST", path, json=body, expected=(201, 200)), item["registry"])

    def update_registry_user(self, item, current, changes, desired):
        path = self._registry_path(self._registry_id(item["registry"]), "users", current["id"])
        user = current
        if "read_only" in changes or "duration" in changes:
            # PATCH needs duration and resets read_only to false when it is left out: always send both.
            body = {"duration": changes.get("duration", current["duration"]), "read_only": changes.get("read_only", current["read_only"])}
            user = self._normalize_user(self.client.json("PATCH", path, json=body), item["registry"])
        if "secret" in changes:
            refreshed = self.client.json("POST", path + "/refresh_secret", expected=(200, 201))
            secret = (refreshed or {}).get("secret")
            user = self._normalize_user(refreshed, item["registry"]) if refreshed and refreshed.get("name") else dict(user)
            if secret:
                user["secret"] = secret
        return user

    def delete_registry_user(self, item, current):
        self._delete(self._registry_path(self._registry_id(item["registry"]), "users", current["id"]))
        return current

    # -- repositories -----------------------------------------------------------
    def _normalize_repository(self, raw, registry):
        url = (registry or {}).get("url") or ""
        return {
            "name": raw.get("name"),
            "id": raw.get("id"),
            "location": "%s/%s" % (url.rstrip("/"), raw.get("name")) if url else None,
            "artifact_count": raw.get("artifact_count"),
            "pull_count": raw.get("pull_count"),
            "size_bytes": None,
            "description": None,
            "created_at": raw.get("created_at"),
            "updated_at": raw.get("updated_at"),
            "provider_data": {"registry_id": raw.get("registry_id")},
        }

    def _repositories(self, registry_name):
        registry = self._find_registry(registry_name)
        if registry is None:
            raise NotFoundError("registry '%s' not found" % registry_name)
        return [self._normalize_repository(r, registry) for r in self.client.paginate_offset(self._registry_path(registry["id"], "repositories"))]

    def _registry_exists(self, registry):
        return self._find_registry(registry) is not None

    def delete_repository(self, item, current):
        path = self._registry_path(self._registry_id(item["registry"]), "repositories", encode_repository(item["name"]))
        self._delete(path)
        return current

    # -- artifacts and tags --------------------------------------------------------
    @staticmethod
    def _normalize_artifact(raw, repository):
        tags = raw.get("tags") or []
        return {
            "repository": repository,
            "digest": raw.get("digest"),
            "media_type": None,
            "size_bytes": raw.get("size"),
            "tags": sorted(t.get("name") for t in tags if t.get("name")),
            "pushed_at": raw.get("pushed_at"),
            "pulled_at": raw.get("pulled_at"),
            "created_at": None,
            "platforms": [],
            "children": [],
            "subject": None,
            "status": None,
            "read_error": None,
            "provider_data": {"id": raw.get("id"), "repository_id": raw.get("repository_id"),
                              "tags": [{"name": t.get("name"), "id": t.get("id"), "pushed_at": t.get("pushed_at"),
                                        "pulled_at": t.get("pulled_at")} for t in tags]},
        }

    def _list_artifacts(self, registry, repository):
        path = self._registry_path(self._registry_id(registry), "repositories", encode_repository(repository), "artifacts")
        return [self._normalize_artifact(a, repository) for a in self.client.paginate_offset(path, limit=ARTIFACT_PAGE)]

    def delete_artifact(self, item, current):
        """With ``expected_tags`` naming the digest, the repository's artifacts are listed again right before its DELETE
        (Gcore has no read of one artifact; deletes that wait at once share a listing, see ``FreshReads``): a digest that
        gained a tag since the call's read is skipped (``tags_changed``), one gone since is ``absent``."""
        if expected_tags_for(self.params, item) is not None:
            now = self._fresh_artifacts.get((item["registry"], item["repository"])).get(item["digest"])
            if now is None:
                raise AlreadyGone.since_read()
            refuse_unexpected_tags(self.params, item, now["tags"])
        path = self._registry_path(self._registry_id(item["registry"]), "repositories", encode_repository(item["repository"]),
                                   "artifacts", item["digest"])
        with self._fresh_artifacts.deleting((item["registry"], item["repository"])):
            delete_found(self.client, path, expected=(200, 202, 204))
        return current

    def delete_tag(self, item, current):
        path = self._registry_path(self._registry_id(item["registry"]), "repositories", encode_repository(item["repository"]),
                                   "artifacts", current["digest"], "tags", quote(item["name"], safe=""))
        delete_found(self.client, path, "tag %s" % item["name"], expected=(200, 202, 204))
        return current
