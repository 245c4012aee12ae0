# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``gitlab`` provider: GitLab's container registry REST API (``/api/v4``). PRIVATE to the collection.

A "registry" here is a GitLab project, named by its full path (``acme/app``) or numeric id (``42``), or a group written
``group:acme`` (read-only listing: GitLab lists a group's repositories but changes them only per project).
Repositories are named by their full image path, as in ``docker pull`` (``acme/app`` for the project-root image,
whose GitLab ``name`` is ``""``; ``acme/app/worker`` for the image ``worker``).

Quirks this class absorbs (see docs/gitlab.md):

* three ways to authenticate: ``PRIVATE-TOKEN`` (personal, project and group access tokens, the default),
  ``Authorization: Bearer`` (OAuth2, ``api_username: oauth2``) and ``JOB-TOKEN`` (a CI job token,
  ``api_username: gitlab-ci-token`` as in ``CI_REGISTRY_USER``, or ``CI_JOB_TOKEN`` from the environment);
* ``:id`` path parameters that are paths are URL-encoded once (``acme%2Fapp``);
* errors come as ``{"message": "..."}``, ``{"message": {"field": ["..."]}}`` or ``{"error": "..."}``, a 429 as plain text;
* the repository delete and the bulk tag delete are asynchronous (202, also 204 as the spec says): the provider polls;
* the bulk tag delete is limited to once an hour per repository and refused with 400, not 429;
* a single tag delete answers 200 or 204, and 403 for a protected tag;
* tags are listed with keyset pagination where the instance offers it (GitLab.com), else page by page (405/400);
  a tag's digest, size and time need one request per tag (``GET .../tags/:name``), run concurrently;
* GitLab deletes by tag only: an artifact (a digest) is deleted by deleting every tag on it; an untagged manifest is
  invisible to the API and removed by GitLab's garbage collection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import os
import re
import threading
import time

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    quote = None

from ansible_collections.regops.registry.plugins.module_utils import timestamps, validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ApiError, AuthError, HeaderAuth, NotFoundError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import AlreadyGone, Capability, Provider, Skipped, delete_found, expected_tags_for
from ansible_collections.regops.registry.plugins.module_utils.providers.gitlab_access import ACCESS_CAPABILITIES, GitLabAccess, check_regex
from ansible_collections.regops.registry.plugins.module_utils.providers.listing import HostedListing

GROUP_PREFIX = "group:"
# A project or group full path: segments of letters, digits, '_', '-', '.', not starting with '-' or '.'.
PATH_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
NAMESPACE_PATH_RE = re.compile(r"%s(?:/%s)*" % (PATH_SEGMENT, PATH_SEGMENT))
PROJECT_ID_RE = re.compile(r"[1-9][0-9]*")
JOB_TOKEN_USERNAMES = ("gitlab-ci-token",)
OAUTH_USERNAMES = ("oauth2",)
PER_PAGE = 100

# Project registry settings: container_registry_access_level and the cleanup (expiration) policy's closed lists.
ACCESS_LEVEL_CHOICES = ("enabled", "private", "disabled")
CADENCES = ("1d", "7d", "14d", "1month", "3month")
KEEP_N_CHOICES = (1, 5, 10, 25, 50, 100)
POLICY_OLDER_THAN = ("7d", "14d", "30d", "90d")
POLICY_KEYS = ("enabled", "cadence", "keep_n", "older_than", "name_regex", "name_regex_keep")

# The bulk tag delete (DELETE .../tags): the keys sent, as python-gitlab sends them (query string).
BULK_KEYS = ("name_regex_delete", "name_regex_keep", "keep_n", "older_than")
HOURLY_LIMIT_TEXT = "at most once an hour"
# Repository statuses while GitLab deletes it in the background; delete_failed is final until it is deleted again.
DELETING = ("delete_scheduled", "delete_ongoing")
DELETE_FAILED = "delete_failed"
DEFAULT_WAIT_TIMEOUT = 300
POLL_FIRST = 0.5
POLL_MAX = 5.0
POLL_FACTOR = 1.5

# Access levels: a tag protection rule protects a tag from a caller whose level is below the rule's delete level.
LEVELS = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50, "admin": 60}

# GitLab durations (ChronicDuration, as the bulk delete's older_than takes them): a number and a unit.
DURATION_RE = re.compile(r"([0-9]+) ?([a-z]+)")
DURATION_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,
    "y": 31536000, "year": 31536000, "years": 31536000,
}

CORE_CAPABILITIES = {
    "registry": Capability(states=("present",), info=True, options=("access_level", "cleanup_policy"),
                           notes="a registry is a GitLab project's container registry"),
    "repository": Capability(states=("absent",), info=True, options=("wait", "wait_timeout"),
                             notes="GitLab creates a repository when the first image is pushed to it"),
    "artifact": Capability(states=("present", "absent"), info=True, options=("expected_tags",)),
    "tag": Capability(states=("absent",), info=True, options=("expected_digests", "bulk", "wait", "wait_timeout"),
                      notes="GitLab has no API to create or move a tag; push the image instead"),
}


def encode(segment):
    """One path parameter: ``acme/app`` as ``acme%2Fapp``."""
    return quote(str(segment), safe="")


def gitlab_error(response):
    """``(message, code, request_id)`` from GitLab's error shapes: ``message`` (a string or a dict of field errors),
    ``error`` (+ ``error_description``), or a plain-text body (429 ``Retry later``)."""
    request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
    except ValueError:
        return ((response.text or "").strip()[:500] or None), None, request_id
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, dict):
            parts = []
            for field, errors in sorted(message.items()):
                errors = errors if isinstance(errors, list) else [errors]
                parts.append("%s %s" % (field, ", ".join(str(e) for e in errors)))
            return "; ".join(parts), None, request_id
        if message:
            return str(message), None, request_id
        if body.get("error"):
            text = str(body["error"])
            if body.get("error_description"):
                text = "%s: %s" % (text, body["error_description"])
            return text, body.get("error") if isinstance(body.get("error"), str) else None, request_id
    return str(body)[:500], None, request_id


def duration_seconds(text):
    """Seconds of a GitLab duration (``1h``, ``7d``, ``2 weeks``, ``1month``), or None when it is not one."""
    match = DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None or match.group(2) not in DURATION_UNITS:
        return None
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


def given_keys(option, value, allowed):
    """A dict option's keys that are set (not None); ValueError for something that is not a dict or an unknown key."""
    if not isinstance(value, dict):
        raise ValueError("%s must be a dict, got %r" % (option, value))
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError("unknown %s key(s) %s; allowed: %s" % (option, ", ".join(unknown), ", ".join(allowed)))
    return dict((k, v) for k, v in value.items() if v is not None)


def check_cleanup_policy(policy):
    """The cleanup policy a task gives, checked against GitLab's closed lists; returns the keys given (not None)."""
    given = given_keys("cleanup_policy", policy, POLICY_KEYS)
    if "enabled" in given and not isinstance(given["enabled"], bool):
        raise ValueError("cleanup_policy.enabled must be true or false, got %r" % (given["enabled"],))
    for key, choices in (("cadence", CADENCES), ("keep_n", KEEP_N_CHOICES), ("older_than", POLICY_OLDER_THAN)):
        if key in given and (given[key] not in choices or isinstance(given[key], bool)):
            raise ValueError("cleanup_policy.%s must be one of %s (GitLab's own list), got %s" % (
                key, ", ".join(str(c) for c in choices), validate.shown(given[key])))
    for key in ("name_regex", "name_regex_keep"):
        if key in given:
            check_regex("cleanup_policy.%s" % key, given[key])
    return given


def check_bulk(bulk):
    """The ``bulk`` option of the tag module: the keys to send, checked; ValueError before any request."""
    given = given_keys("bulk", bulk, BULK_KEYS)
    if given.get("name_regex_delete") in (None, ""):
        raise ValueError("bulk.name_regex_delete is required: the regular expression of the tag names to delete (.* for all)")
    for key in ("name_regex_delete", "name_regex_keep"):
        if key in given:
            check_regex("bulk.%s" % key, given[key])
    keep_n = given.get("keep_n")
    if keep_n is not None and (isinstance(keep_n, bool) or not isinstance(keep_n, int) or keep_n < 0):
        raise ValueError("bulk.keep_n must be a whole number of 0 or more, got %r" % (keep_n,))
    if "older_than" in given and duration_seconds(given["older_than"]) is None:
        raise ValueError("bulk.older_than %s is not a GitLab duration: a number and a unit, for example 1h, 7d, 2w, 1month, 1y"
                         % validate.shown(given["older_than"]))
    return given


def bulk_request(bulk):
    """The query parameters of the bulk delete. GitLab anchors a regex as ``\\A<regex>\\z`` without a group, so in
    ``a|b`` only the ends are anchored; an alternation is sent as ``(?:a|b)``: GitLab then matches whole names, as
    the prediction does."""
    params = dict(bulk)
    for key in ("name_regex_delete", "name_regex_keep"):
        if params.get(key) is not None and "|" in params[key]:
            params[key] = "(?:%s)" % params[key]
    return params


def bulk_candidates(tags, bulk, now, protected=None):
    """What GitLab's bulk tag delete removes, computed client-side: ``(delete, kept)``.

    ``tags`` maps a tag name to its ``created_at`` (aware datetime or None); ``protected(name)`` says whether a tag
    protection rule keeps it. GitLab's rules: the regexes match whole names (anchored), ``latest`` is never deleted,
    ``name_regex_keep`` wins, protected tags are left out, then the ``keep_n`` newest by manifest creation time are
    kept (a tag without a time counts as the newest), then only tags older than ``older_than`` go.
    """
    delete_re = check_regex("bulk.name_regex_delete", bulk["name_regex_delete"])
    keep_re = check_regex("bulk.name_regex_keep", bulk["name_regex_keep"]) if bulk.get("name_regex_keep") is not None else None
    kept, candidates = {}, []
    for name in sorted(tags):
        if name == "latest":
            kept[name] = "latest"
        elif not delete_re.fullmatch(name):
            kept[name] = "no_match"
        elif keep_re is not None and keep_re.fullmatch(name):
            kept[name] = "name_regex_keep"
        elif protected is not None and protected(name):
            kept[name] = "protected"
        else:
            candidates.append(name)
    never = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)
    newest_first = sorted(candidates, key=lambda n: (tags[n] or never, n), reverse=True)
    keep_n = bulk.get("keep_n")
    if keep_n:
        for name in newest_first[:keep_n]:
            kept[name] = "keep_n"
        newest_first = newest_first[keep_n:]
    if bulk.get("older_than") is not None:
        cutoff = now - datetime.timedelta(seconds=duration_seconds(bulk["older_than"]))
        for name in newest_first:
            if tags[name] is None or tags[name] >= cutoff:
                kept[name] = "older_than"
        newest_first = [n for n in newest_first if tags[n] is not None and tags[n] < cutoff]
    return sorted(newest_first), dict(sorted(kept.items()))


class GitLabProvider(GitLabAccess, HostedListing, Provider):
    name = "gitlab"
    default_api_url = "https://gitlab.com"
    # CI_JOB_TOKEN is read in connect(): it needs the JOB-TOKEN header, and only when no other token is given.
    env_fallbacks = {"api_token": ("GITLAB_TOKEN",), "api_url": ("CI_API_V4_URL",)}
    capabilities = dict(CORE_CAPABILITIES, **ACCESS_CAPABILITIES)

    def __init__(self, params, warn=None):
        super(GitLabProvider, self).__init__(params, warn)
        self.secrets = []
        self.auth_kind = None
        self.info_only = False
        # Injectable for tests: how the provider waits for GitLab's background work, and what time it is.
        self.sleep = time.sleep
        self.monotonic = time.monotonic
        self.now = lambda: datetime.datetime.now(datetime.timezone.utc)
        self._lock = threading.Lock()
        self._repository_lists = {}
        self._base_paths = {}
        self._tag_cache = {}
        self._listed_names = {}
        self._gained = {}
        self._protection_cache = {}
        self._keyset = None  # None: not tried yet; True: the instance pages tags by keyset; False: offset only

    # -- connection -------------------------------------------------------------
    def api_base(self):
        """The instance's URL without ``/api/v4``: ``api_url`` (or ``CI_API_V4_URL``, through env_fallbacks), else gitlab.com."""
        url = self.params.get("api_url") or self.default_api_url
        return re.sub(r"/api/v4/?$", "", url.rstrip("/"))

    def credentials(self):
        """``(header, value, kind)`` for the token: PRIVATE-TOKEN, Bearer (``api_username: oauth2``) or JOB-TOKEN."""
        token = self.params.get("api_token")
        username = self.params.get("api_username")
        if token in (None, "") and os.environ.get("CI_JOB_TOKEN"):
            token = os.environ["CI_JOB_TOKEN"]
            self.secrets.append(token)
            username = username or JOB_TOKEN_USERNAMES[0]
        if token in (None, ""):
            raise ValueError("provider gitlab needs api_token (a personal, project or group access token; or GITLAB_TOKEN, "
                             "or CI_JOB_TOKEN in a CI job)")
        if username in JOB_TOKEN_USERNAMES:
            return "JOB-TOKEN", token, "job"
        if username in OAUTH_USERNAMES:
            return "Authorization", "Bearer %s" % token, "oauth"
        if username not in (None, ""):
            raise ValueError("api_username %s is not used by provider gitlab: leave it out for an access token (PRIVATE-TOKEN), "
                             "or set oauth2 for an OAuth2 token, gitlab-ci-token for a CI job token" % validate.shown(username))
        return "PRIVATE-TOKEN", token, "private"

    def connect(self):
        header, value, self.auth_kind = self.credentials()
        self.client = ApiClient(self.api_base() + "/api/v4", auth=HeaderAuth(header, value), error_parser=gitlab_error,
                                validate_certs=self.params["validate_certs"], ca_path=self.params.get("ca_path"),
                                timeout=self.params["timeout"], retries=self.params["retries"],
                                concurrency=self.params["concurrency"], warn=self.warn)

    # -- addressing ---------------------------------------------------------------
    @staticmethod
    def parse_registry(registry):
        """``("projects"|"groups", "<id or full path>")`` from a ``registry`` value; ValueError when it is neither."""
        text = registry if isinstance(registry, str) else ""
        kind = "projects"
        if text.startswith(GROUP_PREFIX):
            kind, text = "groups", text[len(GROUP_PREFIX):]
        if not (validate.matches(PROJECT_ID_RE, text) or validate.matches(NAMESPACE_PATH_RE, text)):
            raise ValueError("registry %s is not a GitLab project or group: give the project's full path (acme/app) or numeric id, "
                             "or group:<full path> for a group (read-only)" % validate.shown(registry))
        return kind, text

    def owner_path(self, registry, *rest):
        """``/projects/<encoded id>/...`` or ``/groups/<encoded id>/...`` of a ``registry`` value."""
        kind, ident = self.parse_registry(registry)
        return "/".join(["", kind, encode(ident)] + [str(part) for part in rest])

    def _delete(self, path, expected=(200, 202, 204), params=None, idempotent=None):
        """DELETE that counts 404 as done: gone is gone, also after a retried request. Returns the status (None for 404)."""
        try:
            return self.client.request("DELETE", path, expected=expected, params=params, idempotent=idempotent).status_code
        except NotFoundError:
            return None

    def _list(self, path, params=None):
        """Every page of a list (``page``/``per_page`` with ``X-Next-Page``)."""
        return list(self.client.paginate_pages(path, params=params, per_page=PER_PAGE))

    # -- capabilities and validation ------------------------------------------------
    def require(self, resource, state=None, info=False, options=()):
        self.info_only = bool(info)
        if resource == "registry" and state == "absent":
            raise UnsupportedError("Provider 'gitlab' cannot delete a registry: the registry of a GitLab project is part of the "
                                   "project, and deleting projects is out of scope of this collection (access_level: disabled "
                                   "turns the registry off). Provider 'gitlab' supports: %s." % self.describe())
        super(GitLabProvider, self).require(resource, state=state, info=info, options=options)

    def _check_registry(self, registry, what, changes=True):
        """A ``registry`` value: given, a project or group; a group only where the task reads."""
        if registry in (None, ""):
            raise ValueError("provider gitlab needs registry: the project (its full path such as acme/app, or its numeric id) "
                             "the %s is in, or group:<path> to read a group" % what)
        kind, ident = self.parse_registry(registry)
        if kind == "groups" and changes and not self.info_only:
            raise ValueError("registry %s is a GitLab group: a group's registry can only be read (the *_info modules); GitLab "
                             "changes registries per project, so name the project (for example %s/app)" % (validate.shown(registry), ident))
        return kind, ident

    def _static_base(self, registry):
        """The lowercase path every repository of ``registry`` starts with, when it is known without a request."""
        kind, ident = self.parse_registry(registry)
        if validate.matches(PROJECT_ID_RE, ident):
            return None
        return ident.lower()

    def _check_names(self, registry, names, base=None):
        """Every repository name is the project's (or group's) path or under it; ValueError naming the rule."""
        base = base if base is not None else self._static_base(registry)
        if base is None:
            return
        kind, _ident = self.parse_registry(registry)
        for name in names:
            if name != base and not name.startswith(base + "/"):
                owner = "group" if kind == "groups" else "project"
                raise ValueError("repository %s is not in the %s %s: on GitLab a repository is named by its full image path, as in "
                                 "docker pull: %s for the %s's own image, or %s/<image> under it" % (
                                     validate.shown(name), owner, registry, base, owner, base))

    def validate_registry(self, items, desired):
        self._require_user_token("a project's registry settings")
        for item in items:
            self._check_registry(item.get("name"), "registry")
        if desired.get("cleanup_policy") is not None:
            check_cleanup_policy(desired["cleanup_policy"])
        if desired.get("access_level") is not None and desired["access_level"] not in ACCESS_LEVEL_CHOICES:
            raise ValueError("access_level must be one of %s, got %s" % (", ".join(ACCESS_LEVEL_CHOICES), validate.shown(desired["access_level"])))

    def validate_repository(self, items, desired):
        for item in items:
            self._check_registry(item.get("registry"), "repository")
            self._check_names(item["registry"], [item["name"]])
        self._check_wait(desired)

    def validate_artifact(self, items, desired):
        for item in items:
            self._check_registry(item.get("registry"), "artifact")
            self._check_names(item["registry"], [item["repository"]])

    def validate_tag(self, items, desired):
        for item in items:
            self._check_registry(item.get("registry"), "tag")
            self._check_names(item["registry"], [item["repository"]])
        if desired.get("bulk") is not None:
            check_bulk(desired["bulk"])
        self._check_wait(desired)

    @staticmethod
    def _check_wait(desired):
        timeout = desired.get("wait_timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0):
            raise ValueError("wait_timeout must be a number of seconds, 0 or more, got %r" % (timeout,))

    def _wait_options(self):
        """``(wait, wait_timeout)`` of the task (defaults: wait, 300 seconds)."""
        wait = self.params.get("wait")
        timeout = self.params.get("wait_timeout")
        return (True if wait is None else bool(wait)), (DEFAULT_WAIT_TIMEOUT if timeout is None else int(timeout))

    def _poll(self, check, timeout):
        """Call ``check()`` until it returns something other than None, or ``timeout`` seconds passed (then None).
        The pause grows from half a second to five."""
        deadline = self.monotonic() + timeout
        interval = POLL_FIRST
        while True:
            found = check()
            if found is not None:
                return found
            remaining = deadline - self.monotonic()
            if remaining <= 0:
                return None
            self.sleep(min(interval, remaining))
            interval = min(interval * POLL_FACTOR, POLL_MAX)

    # -- registries (projects) ------------------------------------------------------
    @staticmethod
    def _normalize_policy(raw):
        raw = raw or {}
        policy = dict((key, raw.get(key)) for key in POLICY_KEYS)
        policy["next_run_at"] = timestamps.iso(raw.get("next_run_at"))
        return policy

    def _normalize_project(self, raw):
        access = raw.get("container_registry_access_level")
        if access is None and raw.get("container_registry_enabled") is not None:
            access = "enabled" if raw["container_registry_enabled"] else "disabled"
        visibility = raw.get("visibility")
        public = None
        if visibility is not None and access is not None:
            # anyone may pull from a public project whose registry is open to everyone with access
            public = visibility == "public" and access == "enabled"
        return {
            "name": raw.get("path_with_namespace"),
            "id": raw.get("id"),
            "url": raw.get("container_registry_image_prefix"),
            "storage_limit_bytes": None,
            "storage_used_bytes": None,
            "public": public,
            "region": None,
            "plan": None,
            "created_at": timestamps.iso(raw.get("created_at")),
            "updated_at": None,
            "provider_data": {"kind": "project", "access_level": access, "visibility": visibility, "web_url": raw.get("web_url"),
                              "cleanup_policy": self._normalize_policy(raw.get("container_expiration_policy"))},
        }

    def _group_registry(self, registry):
        """A group as a registry, from its repository listing (a read every token that may list it can make)."""
        _kind, ident = self.parse_registry(registry)
        try:
            first = self.client.request("GET", self.owner_path(registry, "registry", "repositories"), params={"per_page": 1}).json() or []
        except NotFoundError:
            return None
        numeric = validate.matches(PROJECT_ID_RE, ident)
        base = None if numeric else ident.lower()
        url = None
        if first and first[0].get("location") and first[0].get("path") and base:
            location, path = first[0]["location"], first[0]["path"]
            host = location[:-len(path) - 1] if location.endswith("/" + path) else None
            url = "%s/%s" % (host, base) if host else None
        return {"name": registry, "id": int(ident) if numeric else None, "url": url,
                "storage_limit_bytes": None, "storage_used_bytes": None, "public": None, "region": None, "plan": None,
                "created_at": None, "updated_at": None, "provider_data": {"kind": "group", "full_path": base}}

    def _project(self, registry):
        try:
            return self._normalize_project(self.client.get(self.owner_path(registry)))
        except NotFoundError:
            return None

    def list_registry(self, filters):
        name = filters.get("name")
        if not name:
            raise ValueError("provider gitlab needs name: the project (acme/app, or its numeric id) or group:<path> whose registry "
                             "to read. GitLab has no list of registries (every project of an instance is not one)")
        kind, _ident = self.parse_registry(name)
        found = self._group_registry(name) if kind == "groups" else self._project(name)
        return [found] if found is not None else []

    def read_registry(self, items):
        return [self._project(item["name"]) for item in items]

    def check_create_registry(self, item, desired):
        return ("project %s does not exist, or the token cannot see it: this collection manages the container registry of an "
                "existing GitLab project and does not create projects" % item["name"])

    def changes_registry(self, item, current, desired):
        changes = {}
        data = current.get("provider_data") or {}
        if desired.get("access_level") is not None and desired["access_level"] != data.get("access_level"):
            changes["access_level"] = desired["access_level"]
        wanted = check_cleanup_policy(desired["cleanup_policy"]) if desired.get("cleanup_policy") is not None else {}
        have = data.get("cleanup_policy") or {}
        if any(have.get(key) != value for key, value in wanted.items()):
            # Every key the task gives is sent, only when one differs: saving the policy restarts its schedule.
            changes["cleanup_policy"] = wanted
        return changes

    def predict_registry(self, action):
        after = copy.deepcopy(action.current)
        data = after["provider_data"]
        if "access_level" in action.changes:
            data["access_level"] = action.changes["access_level"]
            if data.get("visibility") is not None:
                after["public"] = data["visibility"] == "public" and data["access_level"] == "enabled"
        if "cleanup_policy" in action.changes:
            data["cleanup_policy"].update(action.changes["cleanup_policy"])
            # GitLab sets the next run when the policy is saved (now + cadence): known after the run only.
            data["cleanup_policy"]["next_run_at"] = None
        return after

    def update_registry(self, item, current, changes, desired):
        body = {}
        if "access_level" in changes:
            body["container_registry_access_level"] = changes["access_level"]
        if "cleanup_policy" in changes:
            body["container_expiration_policy_attributes"] = changes["cleanup_policy"]
        return self._normalize_project(self.client.json("PUT", self.owner_path(item["name"]), json=body))

    # -- repositories ---------------------------------------------------------------------
    def _raw_repositories(self, registry, refresh=False):
        """The raw repositories of a project (with ``tags_count``) or group, listed once per run."""
        with self._lock:
            if registry in self._repository_lists and not refresh:
                return self._repository_lists[registry]
        kind, _ident = self.parse_registry(registry)
        try:
            raws = self._list(self.owner_path(registry, "registry", "repositories"), {"tags_count": "true"} if kind == "projects" else None)
        except NotFoundError as exc:
            raise NotFoundError("%s %s not found, or the token cannot see it (%s)" % (
                "group" if kind == "groups" else "project", registry, exc.message), status=404, method=exc.method, url=exc.url)
        with self._lock:
            self._repository_lists[registry] = raws
        return raws

    @staticmethod
    def _repository_path(raw):
        return (raw.get("path") or "").lower()

    def _base_path(self, registry):
        """The lowercase path of the project or group: known from ``registry``, else from a repository or the project."""
        static = self._static_base(registry)
        if static is not None:
            return static
        with self._lock:
            if registry in self._base_paths:
                return self._base_paths[registry]
        base = None
        kind, _ident = self.parse_registry(registry)
        for raw in self._raw_repositories(registry) if kind == "projects" else ():
            path, name = self._repository_path(raw), (raw.get("name") or "").lower()
            if not name:
                base = path
            elif path.endswith("/" + name):
                base = path[:-len(name) - 1]
            if base:
                break
        if base is None and kind == "projects":
            # No repository to tell: the project itself (a CI job token may not read it, then nothing is known).
            try:
                base = (self.client.get(self.owner_path(registry)) or {}).get("path_with_namespace", "").lower() or None
            except (NotFoundError, AuthError):
                base = None
        with self._lock:
            self._base_paths[registry] = base
        return base

    def _check_names_read(self, registry, names):
        """As ``_check_names``; for a registry given by numeric id, its path is read first (no change was sent yet)."""
        if names:
            base = self._base_path(registry)
            if base is not None:
                self._check_names(registry, names, base)

    @staticmethod
    def _normalize_repository(raw):
        return {
            "name": GitLabProvider._repository_path(raw),
            "id": raw.get("id"),
            "location": raw.get("location"),
            "artifact_count": None,
            "pull_count": None,
            "size_bytes": None,
            "description": None,
            "created_at": timestamps.iso(raw.get("created_at")),
            "updated_at": None,
            "provider_data": {"project_id": raw.get("project_id"), "image_name": raw.get("name"), "status": raw.get("status"),
                              "cleanup_policy_started_at": timestamps.iso(raw.get("cleanup_policy_started_at")),
                              "tags_count": raw.get("tags_count")},
        }

    def _repositories(self, registry):
        return [self._normalize_repository(raw) for raw in self._raw_repositories(registry)]

    def _registry_exists(self, registry):
        try:
            self._raw_repositories(registry)
        except NotFoundError:
            return False
        return True

    def list_repository(self, filters):
        registry = filters.get("registry")
        self._check_registry(registry, "repository", changes=False)
        names = set(filters.get("name") or [])
        self._check_names_read(registry, sorted(names))
        found = [r for r in self._repositories(registry) if not names or r["name"] in names]
        if names:
            # The size is one request per repository: read only for repositories asked for by name.
            sized = self.client.run_bulk(lambda r: self.client.get("/registry/repositories/%s" % r["id"], params={"size": "true"}), found)
            for repository, raw, error in sized:
                if error is not None and not isinstance(error, NotFoundError):
                    raise error
                size = (raw or {}).get("size")
                repository["size_bytes"] = size if isinstance(size, int) and not isinstance(size, bool) else None
        return sorted(found, key=lambda r: r["name"])

    def _repository_state(self, repository_id):
        """GitLab's view of one repository: its raw JSON, or None once it is gone (404)."""
        try:
            return self.client.get("/registry/repositories/%s" % repository_id) or {}
        except NotFoundError:
            return None

    def _wait_gone(self, repository, timeout):
        """Poll until the repository is gone: ``"deleted"``; ``delete_failed`` and a timeout raise, saying so."""
        last = {}

        def check():
            raw = self._repository_state(repository["id"])
            if raw is None:
                return "deleted"
            last["status"] = raw.get("status")
            if raw.get("status") == DELETE_FAILED:
                return DELETE_FAILED
            return None

        found = self._poll(check, timeout)
        if found == DELETE_FAILED:
            raise ApiError("GitLab could not delete repository %s (status delete_failed); delete it again, or look at the project's "
                           "container registry page" % repository["name"])
        if found is None:
            raise ApiError("repository %s is still being deleted after %d seconds (status %s): GitLab deletes repositories in the "
                           "background; run the task again, or raise wait_timeout (wait: false returns at once)" % (
                               repository["name"], timeout, last.get("status") or "delete_scheduled"))
        return found

    def read_repository(self, items):
        wait, timeout = self._wait_options()
        found = []
        for item in items:
            self._check_names_read(item["registry"], [item["name"]])
            current = next((r for r in self._repositories(item["registry"]) if r["name"] == item["name"]), None)
            status = (current or {}).get("provider_data", {}).get("status")
            if current is not None and status in DELETING:
                # Already being deleted (an earlier run with wait: false, or someone else): nothing to send. Wait for it.
                self.warn("repository %s was already being deleted by GitLab (status %s)%s" % (
                    item["name"], status, "; waiting for it" if wait else ""))
                self.results["repository_status"] = self._wait_gone(current, timeout) if wait else status
                current = None
            found.append(current)
        return found

    def predict_repository(self, action):
        wait, _timeout = self._wait_options()
        self.results["repository_status"] = "deleted" if wait else "delete_scheduled"
        return None

    def delete_repository(self, item, current):
        wait, timeout = self._wait_options()
        path = self.owner_path(item["registry"], "registry", "repositories", current["id"])
        try:
            status = self._delete(path, expected=(202, 204))
        except AuthError as exc:
            if exc.status != 403:
                raise
            raise AuthError("GitLab refused to delete repository %s (%s): a repository or tag protection rule protects it from this "
                            "token, or the token lacks the Developer role" % (item["name"], exc.message), status=exc.status,
                            method=exc.method, url=exc.url)
        if status is None:
            self.results["repository_status"] = "deleted"
        elif wait:
            self.results["repository_status"] = self._wait_gone(current, timeout)
        else:
            raw = self._repository_state(current["id"])
            self.results["repository_status"] = "deleted" if raw is None else (raw.get("status") or "delete_scheduled")
        return current

    # -- tags: listing and details --------------------------------------------------------
    @staticmethod
    def _tags_path(raw, *rest):
        return "/".join(["/projects", str(raw["project_id"]), "registry", "repositories", str(raw["id"]), "tags"] + [encode(r) for r in rest])

    def _tag_names(self, raw):
        """Every tag name of a repository: keyset pages (``Link`` rel=next) where offered, else offset pages. None: gone."""
        path = self._tags_path(raw)
        try:
            if self._keyset is not False:
                try:
                    names = [t.get("name") for t in self.client.paginate_link(path, params={
                        "pagination": "keyset", "order_by": "name", "sort": "asc", "per_page": PER_PAGE})]
                    self._keyset = True
                    return names
                except ApiError as exc:
                    if self._keyset or exc.status not in (400, 405):
                        raise
                    # GitLab Self-Managed without the registry metadata database: offset pages only (remembered for the run).
                    self._keyset = False
            return [t.get("name") for t in self._list(path)]
        except NotFoundError:
            return None

    def _tag_details(self, raw, name):
        try:
            return self.client.get(self._tags_path(raw, name))
        except NotFoundError:
            return None

    @staticmethod
    def _normalize_tag(raw, details):
        created = timestamps.iso(details.get("created_at"))
        return {
            "repository": GitLabProvider._repository_path(raw),
            "name": details.get("name"),
            "digest": details.get("digest"),
            "pushed_at": created,
            "pulled_at": None,
            "provider_data": {"created_at": created, "total_size": details.get("total_size"), "revision": details.get("revision"),
                              "location": details.get("location"), "project_id": raw.get("project_id"), "repository_id": raw.get("id")},
        }

    def _raw_by_name(self, registry):
        return dict((self._repository_path(raw), raw) for raw in self._raw_repositories(registry))

    def _tag_maps(self, registry, names):
        """``{repository: {tag: normalized tag} or None (unknown)}`` for the named repositories: tag lists side by side,
        then every tag's details side by side (one flat pool, not one pool per repository)."""
        raws = self._raw_by_name(registry)
        wanted = sorted(set(names))
        maps = dict((name, None) for name in wanted)
        listed = self.client.run_bulk(lambda n: self._tag_names(raws[n]), [n for n in wanted if n in raws])
        pairs = []
        for name, tags, error in listed:
            if error is not None:
                raise error
            if tags is not None:
                maps[name] = {}
                pairs.extend((name, tag) for tag in tags if tag)
        for (name, tag), details, error in self.client.run_bulk(lambda p: self._tag_details(raws[p[0]], p[1]), pairs):
            if error is not None:
                raise error
            if details is None or not details.get("digest"):
                self.warn("%s:%s is listed, but GitLab gives no details for it (deleted meanwhile, or no valid manifest); left out"
                          % (name, tag))
                continue
            maps[name][tag] = self._normalize_tag(raws[name], details)
        with self._lock:
            for name, tags in maps.items():
                for tag_name, tag in (tags or {}).items():
                    self._tag_cache[(registry, name, tag_name)] = tag
            for name, tags, error in listed:
                if tags is not None:
                    self._listed_names[(registry, name)] = set(tags)
        return maps

    def list_tag(self, filters):
        registry = filters.get("registry")
        self._check_registry(registry, "tag", changes=False)
        repositories = filters.get("repository")
        self._check_names_read(registry, repositories or [])
        names = filters.get("name")
        if names:
            raws = self._raw_by_name(registry)
            wanted = [(r, n) for r in sorted(set(repositories or raws)) if r in raws for n in sorted(set(names))]
            tags = []
            for (repository, name), details, error in self.client.run_bulk(lambda p: self._tag_details(raws[p[0]], p[1]), wanted):
                if error is not None:
                    raise error
                if details is not None and details.get("digest"):
                    tags.append(self._normalize_tag(raws[repository], details))
            return sorted(tags, key=lambda t: (t["repository"], t["name"]))
        maps = self._tag_maps(registry, repositories or list(self._raw_by_name(registry)))
        tags = [tag for tag_map in maps.values() for tag in (tag_map or {}).values()]
        return sorted(tags, key=lambda t: (t["repository"], t["name"]))

    def read_tag(self, items):
        """Each tag from its details (one request per tag; none for the tags a bulk plan of this run already read)."""
        for registry in sorted(set(item["registry"] for item in items)):
            self._check_names_read(registry, sorted(set(i["repository"] for i in items if i["registry"] == registry)))
        wanted, found = [], {}
        for item in items:
            key = (item["registry"], item["repository"], item["name"])
            with self._lock:
                cached = self._tag_cache.get(key)
            if cached is not None:
                found[key] = cached
            else:
                wanted.append(key)
        raws = dict((registry, self._raw_by_name(registry)) for registry in set(k[0] for k in wanted))
        present = [k for k in wanted if k[1] in raws[k[0]]]
        for key, details, error in self.client.run_bulk(lambda k: self._tag_details(raws[k[0]][k[1]], k[2]), present):
            if error is not None:
                raise error
            if details is not None and details.get("digest"):
                found[key] = self._normalize_tag(raws[key[0]][key[1]], details)
        return [found.get((item["registry"], item["repository"], item["name"])) for item in items]

    # -- artifacts: tags grouped by digest ----------------------------------------------------
    @staticmethod
    def _artifact(repository, digest, tags):
        times = [t["pushed_at"] for t in tags if t["pushed_at"]]
        sizes = [t["provider_data"]["total_size"] for t in tags if t["provider_data"].get("total_size") is not None]
        first = tags[0]["provider_data"]
        return {
            "repository": repository,
            "digest": digest,
            "media_type": None,
            "size_bytes": sizes[0] if sizes else None,
            "tags": sorted(t["name"] for t in tags),
            # GitLab's created_at is per tag (the manifest's creation): the newest is when it was last pushed, the oldest
            # when the manifest appeared. Tags of one digest normally share it.
            "pushed_at": timestamps.newest(times),
            "pulled_at": None,
            "created_at": min(times, key=timestamps.parse) if times else None,
            "platforms": [],
            "children": [],
            "subject": None,
            "status": None,
            "read_error": None,
            "provider_data": {"revision": first.get("revision"), "project_id": first.get("project_id"), "repository_id": first.get("repository_id"),
                              "tags": [{"name": t["name"], "pushed_at": t["pushed_at"], "pulled_at": None, "location": t["provider_data"].get("location")}
                                       for t in sorted(tags, key=lambda t: t["name"])]},
        }

    def _artifacts(self, registry, repositories=None):
        """``{repository: [artifact]}`` (None for an unknown repository), from the tags and their details."""
        names = repositories if repositories else list(self._raw_by_name(registry))
        found = {}
        for repository, tag_map in self._tag_maps(registry, names).items():
            if tag_map is None:
                found[repository] = None
                continue
            by_digest = {}
            for tag in tag_map.values():
                by_digest.setdefault(tag["digest"], []).append(tag)
            found[repository] = [self._artifact(repository, digest, tags) for digest, tags in sorted(by_digest.items())]
        return found

    def _list_artifacts(self, registry, repository):
        return self._artifacts(registry, [repository]).get(repository) or []

    def list_artifact(self, filters):
        self._check_registry(filters.get("registry"), "artifact", changes=False)
        self._check_names_read(filters["registry"], filters.get("repository") or [])
        return super(GitLabProvider, self).list_artifact(filters)

    def read_artifact(self, items):
        for registry in sorted(set(item["registry"] for item in items)):
            self._check_names_read(registry, sorted(set(i["repository"] for i in items if i["registry"] == registry)))
        return super(GitLabProvider, self).read_artifact(items)

    # -- tag protection (for the bulk prediction and the order of an artifact's tags) ---------------
    def _tag_protection(self, registry):
        """``(rules, level, note)``: the project's tag protection rules (None when they cannot be read), the caller's
        access level where GitLab says it (None when unknown), and what the prediction could not know."""
        with self._lock:
            if registry in self._protection_cache:
                return self._protection_cache[registry]
        rules, level, note = None, None, None
        try:
            rules = self._list(self.owner_path(registry, "registry", "protection", "tag", "rules"))
        except (NotFoundError, AuthError) as exc:
            note = ("the tag protection rules could not be read (HTTP %s: a CI job token or a role below Maintainer cannot read "
                    "them, or GitLab is older than 18.7): the prediction ignores protection" % exc.status)
        if rules and any(r.get("minimum_access_level_for_delete") for r in rules):
            try:
                permissions = (self.client.get(self.owner_path(registry)) or {}).get("permissions") or {}
                levels = [(permissions.get(k) or {}).get("access_level") for k in ("project_access", "group_access")]
                levels = [lv for lv in levels if isinstance(lv, int)]
                level = max(levels) if levels else None
            except (NotFoundError, AuthError):
                level = None
            if level is None:
                note = ("GitLab did not say this token's role in the project: every tag that a protection rule with a delete "
                        "level matches is counted as protected (GitLab deletes it when the token's role is high enough)")
        found = (rules, level, note)
        with self._lock:
            self._protection_cache[registry] = found
        return found

    @staticmethod
    def _protects(rule, name, level):
        """Whether a tag rule keeps ``name`` from a caller at ``level`` (None: unknown, counted as protected)."""
        try:
            if not re.search(rule.get("tag_name_pattern") or "", name):
                return False
        except re.error:
            return False
        push, delete = rule.get("minimum_access_level_for_push"), rule.get("minimum_access_level_for_delete")
        if push is None and delete is None:
            return True  # an immutable rule protects from everyone
        if delete is None:
            return False
        return level is None or level < LEVELS.get(delete, LEVELS["admin"])

    # -- tag removal -------------------------------------------------------------------------------
    def plan_bulk_tag_delete(self, registry, repositories, bulk):
        """Check mode's and the real run's plan for GitLab's bulk tag delete on each repository: the tag items to hand
        to the engine (the tags GitLab is predicted to delete) and one report entry per repository."""
        self._check_registry(registry, "tag")
        self._check_names_read(registry, repositories)
        bulk = check_bulk(bulk)
        raws = self._raw_by_name(registry)
        maps = self._tag_maps(registry, [r for r in repositories if r in raws])
        rules, level, note = self._tag_protection(registry)
        now = self.now()
        items, report, uncertain = [], [], []
        for repository in repositories:
            tag_map = maps.get(repository)
            entry = {"repository": repository, "request": bulk_request(bulk), "sent": False, "predicted": [], "kept": {}, "deleted": None,
                     "protection_note": note, "status": "not_found" if tag_map is None else "nothing_to_delete"}
            report.append(entry)
            if tag_map is None:
                continue
            times = dict((name, timestamps.parse(tag["pushed_at"])) for name, tag in tag_map.items())
            delete, kept = bulk_candidates(times, bulk, now, lambda name: any(self._protects(r, name, level) for r in rules or []))
            if level is None:
                # kept as protected only because the token's role is unknown: GitLab may delete these
                sure = [r for r in rules or [] if r.get("minimum_access_level_for_push") is None and r.get("minimum_access_level_for_delete") is None]
                uncertain.extend("%s:%s" % (repository, name) for name, why in kept.items()
                                 if why == "protected" and not any(self._rule_names(r, name) for r in sure))
            entry.update(predicted=delete, kept=kept, status="planned" if delete else "nothing_to_delete")
            items.extend({"registry": registry, "repository": repository, "name": name} for name in delete)
        self.results["bulk"] = report
        if uncertain:
            self.warn("%s kept out of the prediction as protected; the token's role was not known, so GitLab may delete %s"
                      % (", ".join(uncertain[:10]) + (" and %d more" % (len(uncertain) - 10) if len(uncertain) > 10 else ""),
                         "it" if len(uncertain) == 1 else "them"))
        return items, report

    def apply_tag(self, actions):
        done = {}
        bulk = [a for a in actions if a.desired.get("bulk")]
        single = [a for a in actions if not a.desired.get("bulk")]
        if bulk:
            done.update(self._apply_bulk(bulk))
        for action, result, error in self.client.run_bulk(self._remove_tag, single):
            done[id(action)] = (action, result, error)
        return [done[id(a)] for a in actions]

    def _tag_delete_request(self, data, name):
        """DELETE one tag (200 or 204). A 404 to the first attempt raises :class:`AlreadyGone`: the tag went before this
        run asked (another run, or a person), so the run must not report it as its own; a 404 to a repeated request is
        this run's delete whose answer was lost. 403 is a protected tag: an error saying so."""
        path = "/projects/%s/registry/repositories/%s/tags/%s" % (data["project_id"], data["repository_id"], encode(name))
        try:
            delete_found(self.client, path, "tag %s" % name, expected=(200, 204))
        except AuthError as exc:
            if exc.status != 403:
                raise
            raise ApiError("tag %s is protected by a tag protection rule: GitLab refused to delete it (HTTP 403 %s; a token below the "
                           "Developer role, or a repository protection rule, is refused the same way)" % (name, exc.message),
                           status=403, method=exc.method, url=exc.url)

    def _remove_tag(self, action):
        current = action.current
        data = current["provider_data"]
        if action.desired.get("recheck"):
            # Read the tag again right before it goes: one pushed again since the plan was made stays.
            raw = {"project_id": data["project_id"], "id": data["repository_id"]}
            details = self._tag_details(raw, current["name"])
            if details is None:
                raise AlreadyGone.since_read("tag %s" % current["name"])
            if details.get("digest") != current["digest"]:
                raise Skipped("moved", "moved: now points at %s, expected %s; not removed" % (details.get("digest"), current["digest"]))
        self._tag_delete_request(data, current["name"])
        return current

    def _apply_bulk(self, actions):
        """One bulk DELETE per repository, then (``wait``) the tag list polled until the predicted tags are gone."""
        wait, timeout = self._wait_options()
        done = {}
        by_repository = {}
        for action in actions:
            by_repository.setdefault((action.item["registry"], action.item["repository"]), []).append(action)
        for (registry, repository), mine in sorted(by_repository.items()):
            report = next((e for e in self.results.get("bulk") or [] if e["repository"] == repository), None)
            data = mine[0].current["provider_data"]
            raw = {"project_id": data["project_id"], "id": data["repository_id"]}
            before = set(t for (r, rep, t) in list(self._tag_cache) if r == registry and rep == repository)
            predicted = set(a.item["name"] for a in mine)
            params = bulk_request(check_bulk(mine[0].desired["bulk"]))
            try:
                # Not repeated after an answer that may have taken the hourly lease (only 429, 503 and no connection).
                status = self._delete(self._tags_path(raw), expected=(202, 204), params=params, idempotent=False)
            except ApiError as exc:
                error = exc
                if exc.status == 400 and HOURLY_LIMIT_TEXT in (exc.message or ""):
                    error = ApiError(
                        "GitLab refused the bulk tag delete for repository %s: it runs at most once an hour per repository, and it "
                        "was already requested within the last hour (GitLab does not say when it can run again). Meanwhile remove "
                        "tags by name (the name option: one request per tag), or run this task again later" % repository,
                        status=400, method=exc.method, url=exc.url)
                if report is not None:
                    report["status"] = "refused"
                done.update((id(a), (a, None, error)) for a in mine)
                continue
            if report is not None:
                report["sent"] = True
            if status is None:
                after = set()  # the repository is gone, and its tags with it
            elif not wait:
                if report is not None:
                    report["status"] = "scheduled"
                done.update((id(a), (a, a.current, None)) for a in mine)
                continue
            else:
                after = self._wait_bulk(raw, before, predicted, timeout)
            gone = before - after if after is not None else set()
            if report is not None:
                report["deleted"] = sorted(gone)
                report["status"] = "done" if after is not None else "timeout"
            for action in mine:
                name = action.item["name"]
                if name in gone:
                    done[id(action)] = (action, action.current, None)
                elif after is None:
                    done[id(action)] = (action, None, ApiError(
                        "the bulk delete of %s was accepted, but %s is still there after %d seconds: GitLab works in the background; "
                        "look again later (tag_info), or raise wait_timeout" % (repository, name, timeout)))
                else:
                    done[id(action)] = (action, None, Skipped("kept", (
                        "GitLab's bulk delete kept it (a tag protection rule this token cannot pass, or GitLab.com's limit of tags "
                        "per call); remove it by name, or run the bulk delete again after the hourly limit")))
        return done

    def _wait_bulk(self, raw, before, predicted, timeout):
        """Tag names after GitLab's background job: when every predicted tag is gone, or (once any tag is gone: the job
        ran) the list stopped changing between two reads. None after ``timeout`` seconds."""
        previous = {}

        def check():
            names = self._tag_names(raw)
            now = set(names or [])
            if not predicted & now:
                return now
            if before - now and previous.get("names") == now:
                return now
            previous["names"] = now
            return None

        return self._poll(check, timeout)

    def apply_artifact(self, actions):
        """Before any artifact goes, the tag list of each repository is read again: a tag pushed since the snapshot onto a
        digest to delete keeps that digest (it is skipped). One listing per repository; details only for new names."""
        by_repository = {}
        for action in actions:
            by_repository.setdefault((action.item["registry"], action.item["repository"]), action.current["provider_data"])
        pairs = []
        for (registry, repository), data in sorted(by_repository.items()):
            known = self._listed_names.get((registry, repository))
            raw = {"project_id": data["project_id"], "id": data["repository_id"]}
            names = self._tag_names(raw) if known is not None else None
            pairs.extend((registry, repository, raw, name) for name in sorted(set(names or ()) - (known or set())))
        for (registry, repository, _raw, name), details, error in self.client.run_bulk(lambda p: self._tag_details(p[2], p[3]), pairs):
            if error is not None:
                raise error
            if details is not None and details.get("digest"):
                with self._lock:
                    self._gained.setdefault((registry, repository, details["digest"]), []).append(name)
        return self._apply_each("artifact", actions)

    def delete_artifact(self, item, current):
        """GitLab deletes by tag: every tag on the digest goes, each read again first. Once untagged, the manifest is
        removed by GitLab's garbage collection. The digest is this run's delete when this run removed the first of its
        tags (protected ones first, then by name): :class:`AlreadyGone` (``absent``) otherwise, also when it removed the
        others (two runs at once splitting a digest's tags)."""
        gained = sorted(self._gained.get((item["registry"], item["repository"], item["digest"])) or [])
        if gained:
            raise Skipped("tags_changed", "tag(s) %s now point at this digest (pushed since it was read); not deleted" % ", ".join(gained))
        data = current["provider_data"]
        raw = {"project_id": data["project_id"], "id": data["repository_id"]}
        fresh = dict((tag, self._tag_details(raw, tag)) for tag in current["tags"])
        moved = sorted(tag for tag, details in fresh.items() if details is not None and details.get("digest") != item["digest"])
        if moved:
            raise Skipped("tags_changed", "tag(s) %s no longer point at this digest (pushed again since it was read); not deleted"
                          % ", ".join(moved))
        # The order covers the tags expected_tags lists too: the plan's, the same for every run of it, whatever each read.
        order = sorted(set(fresh) | (expected_tags_for(self.params, item) or set()))
        if len(order) > 1:
            # Tags a protection rule names first: a protected one stops the delete before any other tag of the digest is removed.
            rules = self._tag_protection(item["registry"])[0] or []

            def named(tag):
                return any(self._rule_names(rule, tag) for rule in rules)
            order.sort(key=lambda tag: (not named(tag), tag))
        tags = [tag for tag in order if fresh.get(tag) is not None]
        if not tags:
            raise AlreadyGone("already gone: every tag of the digest was removed since it was read (by another run, or by hand)")
        removed, gone = [], []
        for tag in tags:
            try:
                self._tag_delete_request(data, tag)
            except AlreadyGone:
                gone.append(tag)
                continue
            except ApiError as exc:
                if removed:
                    raise ApiError("%s; tag(s) %s were already removed, the digest keeps %s" % (
                        exc.message, ", ".join(removed), ", ".join(t for t in tags if t not in removed and t not in gone)),
                        status=exc.status, method=exc.method, url=exc.url)
                raise
            removed.append(tag)
        if not removed:
            raise AlreadyGone("already gone: tag(s) %s were removed since they were read (by another run, or by hand)" % ", ".join(gone))
        if order[0] not in removed:
            # Runs at once remove a digest's tags in the same order: the one that removed the first tag reports the digest
            # deleted, any other absent, so that two reports never both count it (and its bytes).
            raise AlreadyGone("already gone: its first tag %s was removed since it was read (by another run, or by hand), which "
                              "counts the digest as its delete; this run removed the rest: %s" % (order[0], ", ".join(removed)))
        return current

    @staticmethod
    def _rule_names(rule, tag):
        try:
            return re.search(rule.get("tag_name_pattern") or "", tag) is not None
        except re.error:
            return False
