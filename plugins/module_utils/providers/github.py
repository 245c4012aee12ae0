# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``github`` provider: GitHub Packages (ghcr.io container packages and their versions), artifact metadata
(storage and deployment records) and artifact attestations, over GitHub's REST API. PRIVATE to the collection.

A "registry" here is a package owner: an organization by its login (``acme``), or a user written ``user:<login>``
(``/user/packages`` for the authenticated user's packages; ``/users/<login>`` for the user's attestations).
Repositories are container packages (``app``, ``team/app``); an artifact is a package version (an image digest with
its tags in ``metadata.container.tags``). The package half lives here, the records and attestations in
``github_metadata.py`` (a mixin).

Quirks this class absorbs:

* package names go in ONE path segment (``team%2Fapp``), ``package_type`` is always ``container``;
* the package list stops at ``page × per_page = 10,000`` (400 beyond): the listing stops there and warns;
* a deleted package or version answers 404 like one that never existed; only a restore (or the versions list with
  ``state=deleted``) tells them apart, so ``present`` means "restore" and fails clearly when GitHub has nothing to restore;
* GitHub refuses to delete a package's last version (400): detected from the version list before anything is sent
  (``on_last_version``), and handled when the 400 comes anyway ("last tagged version");
* there is no tag delete in the REST API and ghcr.io refuses manifest DELETEs (405): one tag is removed over ghcr.io
  by pointing it at a throwaway manifest (a new package version) that is then deleted through the REST API;
* packages refuse GitHub App installation tokens (403 "Resource not accessible by integration"), and a classic token
  without a scope gets a 403 naming the scopes in ``X-Accepted-OAuth-Scopes``: both are explained;
* writes are bounded to ``WRITE_CONCURRENCY`` at once, below ``concurrency``: GitHub's secondary rate limits count a
  write as five points of 900 a minute and punish bursts of concurrent writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading
import time

try:
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover
    quote = urlsplit = None

from ansible_collections.regops.registry.plugins.module_utils import timestamps, validate
from ansible_collections.regops.registry.plugins.module_utils.api import (
    ApiClient,
    ApiError,
    AuthError,
    HeaderAuth,
    NotFoundError,
    parse_link_header,
    split_api_url,
)
from ansible_collections.regops.registry.plugins.module_utils.providers.base import (
    AlreadyGone,
    Capability,
    Provider,
    expected_tags_for,
    refuse_unexpected_tags,
    unexpected_tags,
)
from ansible_collections.regops.registry.plugins.module_utils.providers.oci import OciProvider, remove_tags_over_oci
from ansible_collections.regops.registry.plugins.module_utils.providers.github_metadata import METADATA_CAPABILITIES, GitHubMetadata

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_OCI_URL = "https://ghcr.io"
USER_PREFIX = "user:"
# A GitHub login: letters, digits and single hyphens, not at either end, at most 39 characters.
LOGIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")

PACKAGE_TYPE = "container"
PER_PAGE = 100
# GitHub answers 400 to a package list page whose page × per_page is above this.
MAX_LISTED = 10000
# Writes (DELETE, restore POST) at once: GitHub's secondary limits (900 points a minute, a write costs 5, and no bursts
# of concurrent writes) are easier to stay under with a few writers than with the read concurrency.
WRITE_CONCURRENCY = 4
RESTORE_WINDOW_DAYS = 30
ON_LAST_VERSION = ("fail", "delete_package")
# How often the throwaway manifest of a tag removal is looked for among the package's versions (a second apart).
THROWAWAY_LOOKUPS = 3
INTEGRATION_TEXT = "resource not accessible by integration"
APP_TOKEN_MESSAGE = ("GitHub App installation tokens cannot manage packages; use a classic personal access token with read:packages, "
                     "delete:packages (to delete) and write:packages (to restore)")

PACKAGE_CAPABILITIES = {
    "registry": Capability(notes="a registry is a package owner (an organization, or user:<login>); GitHub creates it "
                                 "with the account"),
    "repository": Capability(states=("present", "absent"), info=True,
                             notes="a repository is a container package; GitHub creates it on the first push, and present "
                                   "restores one deleted within the last 30 days"),
    "artifact": Capability(states=("present", "absent"), info=True,
                           options=("expected_tags", "version_id", "on_last_version", "deleted", "records")),
    "tag": Capability(states=("absent",), info=True, options=("expected_digests",),
                      notes="GitHub has no API to create or move a tag; push the image instead"),
}


def encode(segment):
    """One path parameter, URL-encoded whole (``team/app`` as ``team%2Fapp``; a digest's ``:`` as ``%3A``)."""
    return quote(str(segment), safe="")


class Owner:
    """Who owns the packages, records and attestations: an organization or a user."""

    def __init__(self, kind, login):
        self.kind = kind  # "org" | "user"
        self.login = login

    @classmethod
    def parse(cls, registry):
        """``acme`` (an organization) or ``user:octocat``; ValueError names the option and the forms."""
        text = registry or ""
        kind = "org"
        if text.startswith(USER_PREFIX):
            kind, text = "user", text[len(USER_PREFIX):]
        if not LOGIN_RE.fullmatch(text):
            raise ValueError("registry '%s' is not a GitHub owner: give an organization login (acme) or user:<login> "
                             "(user:octocat); a login has letters, digits and single hyphens, at most 39 characters" % registry)
        return cls(kind, text)

    @property
    def is_org(self):
        return self.kind == "org"

    @property
    def packages_path(self):
        """``/orgs/acme/packages`` or ``/user/packages`` (GitHub acts on the token's own user there)."""
        return "/orgs/%s/packages" % encode(self.login) if self.is_org else "/user/packages"

    @property
    def owner_path(self):
        """``/orgs/acme`` or ``/users/octocat`` (attestations; artifact metadata exists for organizations only)."""
        return "/%s/%s" % ("orgs" if self.is_org else "users", encode(self.login))

    def __str__(self):
        return self.login if self.is_org else USER_PREFIX + self.login


def github_error(response):
    """``(message, code, request_id)`` from GitHub's ``basic-error``, whose ``message`` is a string or an object
    (``{"cause", "repositories"}``); a 403 of the packages endpoints says what the token lacks."""
    message, code, request_id = _basic_error(response)
    if response.status_code == 403:
        message = _explain_forbidden(response, message)
    return message, code, request_id


def _explain_forbidden(response, message):
    """A GitHub App installation token on a packages endpoint, or a classic token without a scope GitHub names."""
    text = message or ""
    url = getattr(response, "url", None) or ""
    if INTEGRATION_TEXT in text.lower() and "/packages" in urlsplit(url).path:
        text = "%s (GitHub: %s)" % (APP_TOKEN_MESSAGE, text)
    accepted = [s.strip() for s in (response.headers.get("X-Accepted-OAuth-Scopes") or "").split(",") if s.strip()]
    if accepted:
        has = [s.strip() for s in (response.headers.get("X-OAuth-Scopes") or "").split(",") if s.strip()]
        missing = [s for s in accepted if s not in has]
        text = "%s; this request needs the token scope(s) %s, the token has %s" % (
            text, ", ".join(missing or accepted), ", ".join(has) or "none")
    return text or None


def _basic_error(response):
    request_id = response.headers.get("X-GitHub-Request-Id")
    try:
        body = response.json()
    except ValueError:
        return ((response.text or "").strip()[:500] or None), None, request_id
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, dict):
            text = str(message.get("cause") or message.get("message") or message)
            repositories = message.get("repositories")
            if repositories:
                text = "%s (repositories: %s)" % (text, ", ".join(str(r) for r in repositories))
            return text, message.get("cause"), request_id
        if message:
            return str(message), None, request_id
    return str(body)[:500], None, request_id


def is_last_version_error(exc):
    """GitHub's 400 for deleting a package's last version, or its last tagged version."""
    text = (getattr(exc, "message", None) or "").lower()
    return getattr(exc, "status", None) == 400 and "last" in text and "version" in text


def version_tags(raw):
    """The tags of a package version (``metadata.container.tags``), sorted."""
    return sorted(((raw.get("metadata") or {}).get("container") or {}).get("tags") or [])


def versions_query(state="active"):
    """The first page's query of a package's version list: the largest pages; ``state=deleted`` for the deleted ones."""
    return dict({"per_page": PER_PAGE, "page": 1}, **({"state": "deleted"} if state == "deleted" else {}))


class GitHubProvider(GitHubMetadata, Provider):
    name = "github"
    env_fallbacks = {"api_token": ("GITHUB_TOKEN", "GH_TOKEN"), "api_url": ("GITHUB_API_URL",)}
    default_api_url = DEFAULT_API_URL
    capabilities = dict(PACKAGE_CAPABILITIES, **METADATA_CAPABILITIES)

    def __init__(self, params, warn=None):
        super(GitHubProvider, self).__init__(params, warn)
        self.secrets = []
        self.sleep = time.sleep  # injectable for tests: the pause between looks for a throwaway version
        self._lock = threading.Lock()
        self._packages = {}  # str(owner) -> [raw package], listed once per run
        self._versions = {}  # (str(owner), package, "active"|"deleted") -> [raw version], None for no such package
        self._read = []  # (item, current) of the last read_artifact: check mode's view of the last-version rule
        self._oci = {}  # str(owner) -> the oci provider on ghcr.io (tag removal)
        self._gone_packages = set()  # (str(owner), package) deleted instead of their last versions
        self._checked = set()  # (str(owner), package) of a user owner whose package was read (and its owner checked)

    # -- connection -------------------------------------------------------
    def api_url(self):
        return (self.params.get("api_url") or DEFAULT_API_URL).rstrip("/")

    def oci_url(self):
        """ghcr.io, or ``containers.HOST`` for GitHub Enterprise Server (``https://HOST/api/v3``), unless ``oci_url`` says."""
        if self.params.get("oci_url"):
            url = self.params["oci_url"]
            return (url if "://" in url else "https://" + url).rstrip("/")
        api = urlsplit(self.api_url())
        if api.netloc != "api.github.com" and api.path.rstrip("/").endswith("/api/v3"):
            return "%s://containers.%s" % (api.scheme, api.netloc)
        return DEFAULT_OCI_URL

    def validate_provider(self, resource, items, desired):
        if not self.params.get("api_token"):
            raise ValueError("provider 'github' needs api_token (or GITHUB_TOKEN in the environment): a classic personal "
                             "access token with read:packages (plus delete:packages to delete, write:packages to restore), "
                             "or a GitHub Actions GITHUB_TOKEN")
        for item in items:
            if "registry" in item:
                Owner.parse(item["registry"])

    def connect(self):
        self.client = ApiClient(
            self.api_url(), auth=HeaderAuth("Authorization", "Bearer " + self.params["api_token"]),
            validate_certs=self.params["validate_certs"], ca_path=self.params.get("ca_path"),
            timeout=self.params["timeout"], retries=self.params["retries"], concurrency=self.params["concurrency"],
            error_parser=github_error, warn=self.warn,
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION})

    def close(self):
        for provider in list(self._oci.values()):
            provider.close()
        super(GitHubProvider, self).close()

    # -- addressing ---------------------------------------------------------
    @staticmethod
    def owner(registry):
        """The owner a task names in ``registry``; ValueError (before any request) when it is missing or malformed."""
        if registry in (None, ""):
            raise ValueError("provider github needs registry: the package owner, an organization login (acme) or user:<login> "
                             "(user:octocat)")
        return Owner.parse(registry)

    @staticmethod
    def package_path(owner, package, *rest):
        """``/orgs/acme/packages/container/team%2Fapp[/...]``."""
        return "/".join([owner.packages_path, PACKAGE_TYPE, encode(package)] + [str(part) for part in rest])

    @staticmethod
    def image(owner, package):
        """The package's name on ghcr.io: ``<owner login lowercased>/<package>``."""
        return "%s/%s" % (owner.login.lower(), package)

    def _write_concurrency(self):
        return max(1, min(self.client.concurrency, WRITE_CONCURRENCY))

    def _forget(self, owner, package):
        """Drop what was listed of a package after a change to it."""
        with self._lock:
            for state in ("active", "deleted"):
                self._versions.pop((str(owner), package, state), None)
            self._packages.pop(str(owner), None)

    def _delete(self, path):
        """DELETE that counts 404 as done: True when this request deleted it, False when it was gone before (a 404 to the
        first attempt; one to a repeated request is this run's delete, see ``ApiClient.delete``). A caller that reports
        a delete raises :class:`AlreadyGone` on False. GitHub's 403 for a public package downloaded more than 5,000 times
        is explained."""
        try:
            return self.client.delete(path, expected=(200, 204))
        except AuthError as exc:
            if exc.status == 403 and "download" in (exc.message or "").lower():
                exc.message = ("GitHub does not delete a public package, or a version of one, downloaded more than 5,000 times; only "
                               "GitHub Support can (%s)" % exc.message)
            raise

    # -- validation -----------------------------------------------------------
    @staticmethod
    def _check_sha256(value, option):
        if isinstance(value, str) and not value.startswith("sha256:"):
            raise ValueError("%s %s cannot be on GitHub: ghcr.io names container versions by their sha256 digest only "
                             "(sha256: and 64 lowercase hex digits)" % (option, validate.shown(value)))

    def validate_repository(self, items, desired):
        for item in items:
            self.owner(item.get("registry"))

    def validate_artifact(self, items, desired):
        for item in items:
            self.owner(item.get("registry"))
            self._check_sha256(item.get("digest"), "digest")
        for key in self.params.get("expected_tags") or {}:
            self._check_sha256(str(key).split("@", 1)[-1], "expected_tags key")
        if self.params.get("version_id"):
            self.owner(self.params.get("registry"))
            validate.repository_name((self.params.get("repository") or "").strip("/"))
        for version_id in self.params.get("version_id") or []:
            if isinstance(version_id, bool) or not isinstance(version_id, int) or version_id < 1:
                raise ValueError("version_id %s is not a GitHub package version id (a whole number above 0)" % validate.shown(version_id))
        if self.params.get("records"):
            owner = self.owner(self.params.get("registry"))
            if not owner.is_org:
                raise ValueError("records: GitHub keeps artifact metadata (storage and deployment records) for organizations only, "
                                 "and %s is a user" % owner)

    def validate_tag(self, items, desired):
        for item in items:
            self.owner(item.get("registry"))
        if items:
            split_api_url(self.oci_url(), "oci_url")
        for key, digest in (self.params.get("expected_digests") or {}).items():
            self._check_sha256(digest, "expected_digests[%s]" % key)

    # -- repositories (container packages) ----------------------------------------
    def _normalize_package(self, owner, raw):
        repository = raw.get("repository") or {}
        name = raw.get("name")
        return {
            "name": name,
            "id": raw.get("id"),
            "location": "%s/%s" % (urlsplit(self.oci_url()).netloc, self.image(owner, name)),
            "artifact_count": raw.get("version_count"),
            "pull_count": None,
            "size_bytes": None,
            "description": None,
            "created_at": timestamps.iso(raw.get("created_at")),
            "updated_at": timestamps.iso(raw.get("updated_at")),
            "provider_data": {"visibility": raw.get("visibility"), "html_url": raw.get("html_url"), "url": raw.get("url"),
                              "package_type": raw.get("package_type"), "repository": repository.get("full_name"),
                              "owner": (raw.get("owner") or {}).get("login")},
        }

    def _list_packages(self, owner):
        """Every container package of the owner, page by page, up to GitHub's 10,000 (then a warning). Listed once per run."""
        with self._lock:
            if str(owner) in self._packages:
                return self._packages[str(owner)]
        found, page = [], 1
        while True:
            try:
                response = self.client.request("GET", owner.packages_path, params={"package_type": PACKAGE_TYPE, "per_page": PER_PAGE, "page": page})
            except NotFoundError as exc:
                what = "organization" if owner.is_org else "user"
                raise NotFoundError("%s %s not found, or the token cannot see it (%s)" % (what, owner.login, exc.message),
                                    status=404, method=exc.method, url=exc.url)
            items = response.json() or []
            found.extend(self._check_user(owner, raw) for raw in items)
            link = response.headers.get("Link")
            if len(items) < PER_PAGE or (link and "next" not in parse_link_header(link)):
                break
            if (page + 1) * PER_PAGE > MAX_LISTED:
                self.warn("GitHub lists at most %d packages of an owner (page x per_page); %s has at least that many container "
                          "packages, and only the first %d are listed" % (MAX_LISTED, owner, MAX_LISTED))
                break
            page += 1
        with self._lock:
            self._packages[str(owner)] = found
        return found

    def _get_package(self, owner, name):
        try:
            return self._check_user(owner, self.client.get(self.package_path(owner, name)))
        except NotFoundError:
            return None

    @staticmethod
    def _check_user(owner, raw):
        """``/user/packages`` acts on the token's own user: a package of another account means the token is not
        ``owner``'s, and nothing may be done with it (it would delete someone else's package of the same name)."""
        login = ((raw or {}).get("owner") or {}).get("login")
        if not owner.is_org and login and login.lower() != owner.login.lower():
            raise ValueError("registry %s: the token belongs to %s, and GitHub's /user/packages endpoints act on the token's own "
                             "user; use a token of %s (or registry user:%s)" % (owner, login, owner.login, login))
        return raw

    def _package_names(self, owner, repositories):
        return sorted(set(repositories)) if repositories else sorted(set(p.get("name") for p in self._list_packages(owner)))

    def list_repository(self, filters):
        owner = self.owner(filters.get("registry"))
        names = sorted(set(filters.get("name") or []))
        if names:
            raws = []
            for _name, raw, error in self.client.run_bulk(lambda n: self._get_package(owner, n), names):
                if error is not None:
                    raise error
                if raw is not None:
                    raws.append(raw)
        else:
            raws = self._list_packages(owner)
        return sorted((self._normalize_package(owner, raw) for raw in raws), key=lambda r: r["name"])

    def read_repository(self, items):
        found = []
        for item in items:
            owner = self.owner(item["registry"])
            raw = self._get_package(owner, item["name"])
            found.append(self._normalize_package(owner, raw) if raw is not None else None)
        return found

    def predict_repository(self, action):
        if action.kind != "create":
            return None
        owner = self.owner(action.item["registry"])
        self.warn("GitHub cannot say whether package %s can be restored without restoring it: check mode assumes it can (it was "
                  "deleted within the last 30 days and its name was not taken since)" % action.item["name"])
        predicted = self._normalize_package(owner, {"name": action.item["name"], "package_type": PACKAGE_TYPE})
        predicted["provider_data"]["restored"] = True
        return predicted

    def create_repository(self, item, desired):
        """``present`` for a package that does not exist: restore it. GitHub keeps a deleted package for 30 days, and has no
        other way than a restore to say whether it still can."""
        owner = self.owner(item["registry"])
        try:
            # a restore repeated after a lost answer gets 404, which the read below sorts out: safe to repeat
            self.client.request("POST", self.package_path(owner, item["name"], "restore"), expected=(200, 204), idempotent=True)
        except NotFoundError as exc:
            if self._get_package(owner, item["name"]) is None:
                raise NotFoundError("package %s of %s cannot be restored: it was not deleted in the last 30 days or never existed "
                                    "(GitHub creates a package on the first push of an image; this collection does not push) (%s)"
                                    % (item["name"], owner, exc.message), status=404, method=exc.method, url=exc.url)
        self._forget(owner, item["name"])
        raw = self._get_package(owner, item["name"])
        if raw is None:
            raise ApiError("package %s was restored, but GitHub does not show it yet; run the task again" % item["name"])
        restored = self._normalize_package(owner, raw)
        restored["provider_data"]["restored"] = True
        return restored

    def delete_repository(self, item, current):
        owner = self.owner(item["registry"])
        self._delete(self.package_path(owner, item["name"]))
        self._forget(owner, item["name"])
        return current

    # -- artifacts (package versions) -----------------------------------------------
    def _version_list(self, owner, package, state="active", refresh=False):
        """A package's versions (newest first), every page (pages 2 to ``Link`` rel=last side by side); None when there is
        no such (active) package. Listed once per run unless ``refresh``."""
        key = (str(owner), package, state)
        with self._lock:
            if not refresh and key in self._versions:
                return self._versions[key]
            unchecked = not owner.is_org and (str(owner), package) not in self._checked
        if unchecked:
            # the versions do not say whose they are: the package does (once per run)
            found = self._get_package(owner, package)
            with self._lock:
                self._checked.add((str(owner), package))
            if found is None:
                with self._lock:
                    self._versions[key] = None
                return None
        try:
            raws = self.client.paginate_numbered(self.package_path(owner, package, "versions"), params=versions_query(state))
        except NotFoundError:
            raws = None
        with self._lock:
            self._versions[key] = raws
        return raws

    def _find_version(self, owner, package, digest, state="active"):
        """The version of ``digest`` (its raw record) or None, reading the version pages only until it shows: GitHub lists
        the newest first, so a manifest just pushed is on the first page. Nothing is cached."""
        try:
            return next((raw for raw in self.client.paginate_link(self.package_path(owner, package, "versions"), params=versions_query(state))
                         if raw.get("name") == digest), None)
        except NotFoundError:
            return None

    def _get_version(self, owner, package, version_id):
        try:
            return self.client.get(self.package_path(owner, package, "versions", version_id))
        except NotFoundError:
            return None

    @staticmethod
    def _artifact(package, raw, deleted=False):
        created = timestamps.iso(raw.get("created_at"))
        deleted_at = timestamps.iso(raw.get("deleted_at"))
        return {
            "repository": package,
            "digest": raw.get("name"),
            "media_type": None,
            "size_bytes": None,
            "tags": version_tags(raw),
            # a version is created by the push of its manifest: its creation is the push
            "pushed_at": created,
            "pulled_at": None,
            "created_at": created,
            "updated_at": timestamps.iso(raw.get("updated_at")),
            "platforms": [],
            "children": [],
            "subject": None,
            "status": "deleted" if (deleted or deleted_at) else "active",
            "read_error": None,
            "provider_data": {"version_id": raw.get("id"), "html_url": raw.get("html_url"), "package_html_url": raw.get("package_html_url"),
                              "deleted_at": deleted_at},
        }

    @staticmethod
    def _match(raws, item):
        """The version an item names (lists are newest first): by ``version_id`` when it has one, else by digest."""
        for raw in raws or []:
            if item.get("version_id") is not None:
                if raw.get("id") == item["version_id"]:
                    return raw
            elif raw.get("name") == item.get("digest"):
                return raw
        return None

    def _version_lists(self, owner, packages, states):
        """``{(package, state): [raw] or None}``, read side by side."""
        pairs = [(p, s) for p in packages for s in states]
        found = {}
        for pair, raws, error in self.client.run_bulk(lambda pair: self._version_list(owner, pair[0], pair[1]), pairs):
            if error is not None:
                raise error
            found[pair] = raws
        return found

    def list_artifact(self, filters):
        owner = self.owner(filters.get("registry"))
        records = bool(filters.get("records"))
        if records and not owner.is_org:
            raise ValueError("records: GitHub keeps artifact metadata (storage and deployment records) for organizations only, and %s is a user"
                             % owner)
        digests = sorted(set(d["digest"] for d in filters.get("digests") or []))
        repositories = filters.get("repository")
        if records and digests and not repositories:
            return self._records_only(owner, digests)
        states = ("active", "deleted") if filters.get("deleted") else ("active",)
        lists = self._version_lists(owner, self._package_names(owner, repositories), states)
        result = []
        for (package, state), raws in sorted(lists.items()):
            result.extend(a for a in (self._artifact(package, raw, state == "deleted") for raw in raws or [])
                          if not digests or a["digest"] in digests)
        self._learn_indexes(owner, result)
        if records and result:
            found = self.artifact_records(owner, sorted(set(a["digest"] for a in result)))
            for artifact in result:
                entry = found.get(artifact["digest"]) or {}
                artifact["provider_data"]["storage_records"] = entry.get("storage_records") or []
                artifact["provider_data"]["deployment_records"] = entry.get("deployment_records") or []
        return sorted(result, key=lambda a: (a["repository"], a["digest"], a["status"] != "active", a["provider_data"]["version_id"] or 0))

    def _learn_indexes(self, owner, artifacts):
        """ghcr.io keeps each platform image of a multi-arch image as an untagged version of its package, and the REST
        API does not say which tagged version (an image index) lists which. Where a package has untagged versions, its
        tagged versions' manifests are read over ghcr.io (one GET each, concurrently) for their media type, children and
        platforms, so that a plan never deletes a platform image that a kept index needs. When one cannot be read, the
        package's untagged versions carry a read error (kept and reported) instead of a guess."""
        by_package = {}
        for artifact in artifacts:
            if artifact["status"] == "active":
                by_package.setdefault(artifact["repository"], []).append(artifact)
        wanted = [a for mine in by_package.values() if any(not x["tags"] for x in mine) for a in mine if a["tags"]]
        if not wanted:
            return
        failed = {}
        try:
            registry = self._oci_provider(owner).registry
            read = self.client.run_bulk(lambda a: registry.get_manifest(self.image(owner, a["repository"]), a["digest"]), wanted)
        except ApiError as exc:
            read = [(a, None, exc) for a in wanted]
        for artifact, manifest, error in read:
            if error is None and manifest is None:
                error = NotFoundError("not found")
            if error is not None:
                failed.setdefault(artifact["repository"], error)
                continue
            artifact["media_type"] = manifest.media_type
            artifact["children"] = manifest.children()
            artifact["platforms"] = [c["platform"] for c in artifact["children"] if c.get("platform")]
        for package, error in sorted(failed.items()):
            for artifact in by_package[package]:
                if not artifact["tags"]:
                    artifact["read_error"] = ("which tagged image of %s lists this untagged version is unknown: a tagged version's manifest "
                                              "could not be read over %s (%s)" % (package, self.oci_url(), error))

    def _records_only(self, owner, digests):
        """``records`` for digests without a repository: one entry per digest with only its artifact metadata."""
        found = self.artifact_records(owner, digests)
        result = []
        for digest in digests:
            entry = found.get(digest) or {}
            result.append({"repository": None, "digest": digest, "media_type": None, "size_bytes": None, "tags": [], "pushed_at": None,
                           "pulled_at": None, "created_at": None, "updated_at": None, "platforms": [], "children": [], "subject": None,
                           "status": None, "read_error": None,
                           "provider_data": {"storage_records": entry.get("storage_records") or [],
                                             "deployment_records": entry.get("deployment_records") or []}})
        return result

    def resolve_version_ids(self, registry, repository, version_ids):
        """Artifact items for version ids (the ``version_id`` option), read-only: each gets the digest of its version,
        active or deleted. An id GitHub does not know gets ``version_id:<id>`` as its digest (reported as such)."""
        owner = self.owner(registry)
        lists = self._version_lists(owner, [repository], ("active", "deleted"))
        known = (lists[(repository, "active")] or []) + (lists[(repository, "deleted")] or [])
        items = []
        for version_id in version_ids:
            raw = self._match(known, {"version_id": version_id})
            items.append({"registry": registry, "repository": repository, "version_id": version_id,
                          "digest": raw.get("name") if raw is not None else "version_id:%s" % version_id})
        return items

    def read_artifact(self, items):
        """Each digest (or version id) among its package's active versions. For ``present`` the deleted versions are read
        too: ``check_create`` says whether a missing one can be restored."""
        states = ("active", "deleted") if self.params.get("state") == "present" else ("active",)
        lists = {}
        for registry in sorted(set(item["registry"] for item in items)):
            owner = self.owner(registry)
            packages = sorted(set(i["repository"] for i in items if i["registry"] == registry))
            for (package, state), raws in self._version_lists(owner, packages, states).items():
                lists[(registry, package, state)] = raws
        found = []
        for item in items:
            raw = self._match(lists[(item["registry"], item["repository"], "active")], item)
            found.append(self._artifact(item["repository"], raw) if raw is not None else None)
        self._read = list(zip(items, found))
        return found

    @staticmethod
    def _what(item):
        return "version id %s" % item["version_id"] if item.get("version_id") is not None else item["digest"]

    def check_create_artifact(self, item, desired):
        """``present`` for a version that is not active: restorable when GitHub lists it among the deleted versions."""
        owner = self.owner(item["registry"])
        if self._version_list(owner, item["repository"]) is None:
            return ("package %s does not exist, or is deleted (restore it first: the repository module with state present); GitHub "
                    "creates packages and versions only when an image is pushed" % item["repository"])
        if self._match(self._version_list(owner, item["repository"], "deleted"), item) is None:
            return ("%s is not a version of package %s, active or deleted: GitHub restores a version deleted within the last %d days, "
                    "and creates versions only when an image is pushed" % (self._what(item), item["repository"], RESTORE_WINDOW_DAYS))
        return None

    def create_artifact(self, item, desired):
        """``present`` for a deleted version: restore it (GitHub's window is 30 days, which only the restore can tell)."""
        owner = self.owner(item["registry"])
        package = item["repository"]
        raw = self._match(self._version_list(owner, package, "deleted"), item)
        path = self.package_path(owner, package, "versions", raw["id"])
        try:
            self.client.request("POST", path + "/restore", expected=(200, 204), idempotent=True)
        except NotFoundError as exc:
            if self._get_version(owner, package, raw["id"]) is None:
                raise NotFoundError("%s (version id %s) of package %s can no longer be restored: GitHub restores a version only within "
                                    "%d days of its deletion (%s)" % (raw.get("name"), raw["id"], package, RESTORE_WINDOW_DAYS, exc.message),
                                    status=404, method=exc.method, url=exc.url)
        self._forget(owner, package)
        restored = self._get_version(owner, package, raw["id"])
        return self._artifact(package, restored if restored is not None else dict(raw, deleted_at=None))

    # -- the last-version rule ----------------------------------------------------------
    def _on_last_version(self):
        return self.params.get("on_last_version") or "fail"

    def _emptied(self, pairs, refresh=False):
        """``{(registry, package): [digest]}`` for the packages whose every active version is among ``pairs`` (item,
        current) to delete: GitHub refuses to delete a package's last version."""
        wanted = {}
        for item, current in pairs:
            wanted.setdefault((item["registry"], item["repository"]), {})[current["provider_data"]["version_id"]] = current["digest"]
        emptied = {}
        for (registry, package), versions in sorted(wanted.items()):
            active = self._version_list(self.owner(registry), package, refresh=refresh) or []
            ids = set(raw.get("id") for raw in active)
            if ids and ids <= set(versions):
                emptied[(registry, package)] = sorted(set(versions.values()))
        return emptied

    @staticmethod
    def _last_version_message(package, digests):
        return ("%s %s every remaining version of package %s, and GitHub refuses to delete a package's last version: nothing of this "
                "package was deleted. Set on_last_version: delete_package to delete the package instead (GitHub can restore it for %d "
                "days), or keep a version" % (", ".join(digests), "is" if len(digests) == 1 else "are", package, RESTORE_WINDOW_DAYS))

    def _delete_package_instead(self, registry, package, why):
        """``on_last_version: delete_package``: the package goes instead of its last version(s), once; the result says so."""
        owner = self.owner(registry)
        with self._lock:
            if (str(owner), package) in self._gone_packages:
                return
        self._delete(self.package_path(owner, package))
        with self._lock:
            self._gone_packages.add((str(owner), package))
            self.results["deleted_packages"] = sorted(set(self.results.get("deleted_packages") or []) | set([package]))
        self._forget(owner, package)
        self.warn("package %s was deleted instead of its last version (%s; on_last_version: delete_package); GitHub can restore it for %d days"
                  % (package, why, RESTORE_WINDOW_DAYS))

    def predict_artifact(self, action):
        if action.kind == "create":
            owner = self.owner(action.item["registry"])
            raw = self._match(self._version_list(owner, action.item["repository"], "deleted"), action.item)
            return self._artifact(action.item["repository"], dict(raw, deleted_at=None))
        # Check mode sees the same plan as the real run: what was read, less what expected_tags skips.
        planned = [(item, current) for item, current in self._read
                   if current is not None and not unexpected_tags(self.params, item, current["tags"])]
        key = (action.item["registry"], action.item["repository"])
        digests = self._emptied(planned).get(key)
        if digests:
            if self._on_last_version() == "fail":
                raise ValueError(self._last_version_message(key[1], digests))
            with self._lock:
                self.results["deleted_packages"] = sorted(set(self.results.get("deleted_packages") or []) | set([key[1]]))
        return None

    def apply_artifact(self, actions):
        """Restores and deletes, at most ``WRITE_CONCURRENCY`` at once. A package whose every active version is to go is
        settled first, before anything is sent for it (``on_last_version``)."""
        done = {}
        deletes = [a for a in actions if a.kind == "delete"]
        for key in self._emptied([(a.item, a.current) for a in deletes]):
            mine = [a for a in deletes if (a.item["registry"], a.item["repository"]) == key]
            # Read again: a version pushed or a tag added since the snapshot changes the answer.
            active = dict((raw.get("id"), raw) for raw in self._version_list(self.owner(key[0]), key[1], refresh=True) or [])
            going = [a for a in mine if a.current["provider_data"]["version_id"] in active
                     and not unexpected_tags(self.params, a.item, version_tags(active[a.current["provider_data"]["version_id"]]))]
            if not active or set(active) - set(a.current["provider_data"]["version_id"] for a in going):
                continue  # no longer the last versions: deleted one by one below
            digests = sorted(set(a.item["digest"] for a in going))
            if self._on_last_version() == "delete_package":
                try:
                    self._delete_package_instead(key[0], key[1], "%s %s every remaining version" % (", ".join(digests), "was" if len(digests) == 1 else "were"))
                    # a version of ``mine`` not among the active ones went since the read: not this run's delete
                    done.update((id(a), (a, a.current, None) if a in going else (a, None, AlreadyGone.since_read())) for a in mine)
                except ApiError as exc:
                    done.update((id(a), (a, None, exc)) for a in mine)
            else:
                error = ApiError(self._last_version_message(key[1], digests))
                done.update((id(a), (a, None, error)) for a in mine)
        rest = [a for a in actions if id(a) not in done]
        for action, result, error in self.client.run_bulk(self._apply_version, rest, concurrency=self._write_concurrency()):
            done[id(action)] = (action, result, error)
        return [done[id(a)] for a in actions]

    def _apply_version(self, action):
        if action.kind == "create":
            return self.create_artifact(action.item, action.desired)
        return self.delete_artifact(action.item, action.current)

    def delete_artifact(self, item, current):
        """Delete one version by id. With ``expected_tags`` naming the digest, its tags are read again right before: a tag
        added since the snapshot keeps the version (skipped, ``tags_changed``). A version gone since the snapshot (found so
        by that read, or by a 404 to the first DELETE) raises :class:`AlreadyGone`: reported ``absent``, not ``deleted``."""
        owner = self.owner(item["registry"])
        package = item["repository"]
        version_id = current["provider_data"]["version_id"]
        with self._lock:
            if (str(owner), package) in self._gone_packages:
                return current
        if expected_tags_for(self.params, item) is not None:
            fresh = self._get_version(owner, package, version_id)
            if fresh is None:
                raise AlreadyGone.since_read()
            refuse_unexpected_tags(self.params, item, version_tags(fresh))
        try:
            deleted = self._delete(self.package_path(owner, package, "versions", version_id))
        except ApiError as exc:
            if not is_last_version_error(exc):
                raise
            if self._on_last_version() != "delete_package":
                exc.message = ("GitHub refused to delete %s, the last (tagged) version of package %s (%s): set on_last_version: "
                               "delete_package to delete the package instead" % (item["digest"], package, exc.message))
                raise
            self._delete_package_instead(item["registry"], package, "GitHub refused to delete %s: %s" % (item["digest"], exc.message))
            deleted = True
        self._forget(owner, package)
        if not deleted:
            raise AlreadyGone.since_read()
        return current

    # -- tags (from the versions' tags; removal over ghcr.io) -----------------------------
    @staticmethod
    def _tag(package, name, raw):
        return {"repository": package, "name": name, "digest": raw.get("name"), "pushed_at": None, "pulled_at": None,
                "provider_data": {"version_id": raw.get("id"), "version_created_at": timestamps.iso(raw.get("created_at")),
                                  "version_updated_at": timestamps.iso(raw.get("updated_at"))}}

    def list_tag(self, filters):
        owner = self.owner(filters.get("registry"))
        names = set(filters.get("name") or [])
        tags = []
        for (package, _state), raws in self._version_lists(owner, self._package_names(owner, filters.get("repository")), ("active",)).items():
            for raw in raws or []:
                tags.extend(self._tag(package, name, raw) for name in version_tags(raw) if not names or name in names)
        return sorted(tags, key=lambda t: (t["repository"], t["name"]))

    def read_tag(self, items):
        index = {}
        for registry in sorted(set(item["registry"] for item in items)):
            owner = self.owner(registry)
            packages = sorted(set(i["repository"] for i in items if i["registry"] == registry))
            for (package, _state), raws in self._version_lists(owner, packages, ("active",)).items():
                for raw in reversed(raws or []):  # newest last: a tag on two versions (a race) belongs to the newest
                    for name in version_tags(raw):
                        index[(registry, package, name)] = raw
        found = []
        for item in items:
            raw = index.get((item["registry"], item["repository"], item["name"]))
            found.append(self._tag(item["repository"], item["name"], raw) if raw is not None else None)
        return found

    def _oci_provider(self, owner):
        """The ``oci`` provider on ghcr.io for ``owner``: the token as the password, user ``api_username`` or the owner's
        login; manifests (the throwaway of a tag removal) are deleted as package versions through the REST API."""
        with self._lock:
            if str(owner) in self._oci:
                return self._oci[str(owner)]
        params = dict(self.params, api_url=self.oci_url(), api_username=self.params.get("api_username") or owner.login,
                      api_password=self.params["api_token"], api_token=None)
        provider = OciProvider(params, warn=self.warn, manifest_deleter=lambda repository, digest: self._delete_throwaway(owner, repository, digest))
        provider.connect()
        with self._lock:
            self._oci[str(owner)] = provider
        return provider

    def _delete_throwaway(self, owner, repository, digest):
        """Delete the package version of a throwaway manifest (the newest version, just pushed): True deleted, False
        already gone. GitHub's 400 for a package's last (tagged) version is an error the tag removal rolls back from."""
        package = repository.split("/", 1)[1] if "/" in repository else repository
        for attempt in range(THROWAWAY_LOOKUPS):
            if attempt:
                self.sleep(1)
            raw = self._find_version(owner, package, digest)
            if raw is not None:
                try:
                    deleted = self._delete(self.package_path(owner, package, "versions", raw["id"]))
                except ApiError as exc:
                    if is_last_version_error(exc):
                        exc.message = ("GitHub refused to delete the throwaway version %s (id %s) of package %s: %s Removing these tags "
                                       "would leave the package without a (tagged) version; delete the artifact, or the package, "
                                       "instead" % (digest, raw["id"], package, exc.message))
                    raise
                self._forget(owner, package)
                return deleted
            if self._find_version(owner, package, digest, "deleted") is not None:
                return False
        raise ApiError("the throwaway manifest %s pushed to %s does not show as a version of package %s after %d looks"
                       % (digest, self.oci_url(), package, THROWAWAY_LOOKUPS))

    def is_leftover(self, item, current):
        """A tag on a throwaway manifest of this collection was being removed by a run that could not finish."""
        try:
            owner = self.owner(item["registry"])
            return self._oci_provider(owner).registry.is_throwaway(self.image(owner, item["repository"]), current["digest"])
        except (ApiError, ValueError):
            return False

    def apply_tag(self, actions):
        """GitHub has no tag delete: the ``oci`` provider removes the tags on ghcr.io (siblings kept), as on Vultr."""
        done = remove_tags_over_oci(actions, lambda registry: self._oci_provider(self.owner(registry)),
                                    lambda registry, repository: self.image(self.owner(registry), repository))
        for registry, package in set((a.item["registry"], a.item["repository"]) for a in actions):
            self._forget(self.owner(registry), package)
        return done
