# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``github`` provider's artifact metadata (storage and deployment records) and attestations. PRIVATE to the
collection; mixed into ``GitHubProvider`` (providers/github.py), whose ``client``, ``warn`` and ``results`` it uses.

Artifact metadata ("linked artifacts") exists for organizations only, and its records cannot be deleted: a
storage record's ``absent`` is ``status: deleted``, a deployment record's is ``status: decommissioned``, both written
through the create endpoints, which upsert:

* storage records (``POST /orgs/{org}/artifacts/metadata/storage-record``) are matched on name, registry_url and the
  repository within the registry; the list answer (``GET /orgs/{org}/artifacts/{digest}/metadata/storage-records``)
  has no ``version``, ``path`` or ``github_repository``, so those are sent but compared only when GitHub returns them;
* deployment records (``POST …/deployment-record``) are keyed by (logical_environment, physical_environment, cluster,
  deployment_name). GitHub's documented record has no ``name``, ``version`` or ``status``: a record whose status is
  not returned is written (and reported changed) every time, as nothing tells whether it is deployed already. Several
  records of one cluster go in one ``POST …/deployment-record/cluster/{cluster}`` (≤ 1000, ``partial_success`` so
  that a refused record is reported on its own, HTTP 207); more than 1000 go through the cluster job endpoint
  (≤ 5000 a job, polled until it ends; one job at a time per cluster, or GitHub answers 409).

Attestations are listed first (one digest: ``GET …/attestations/{digest}`` with ``Link`` pages; several: ``POST
…/attestations/bulk-list`` with ``page_info`` cursors), deleted by digest (``DELETE …/attestations/digest/{digest}``
for one, ``POST …/attestations/delete-request`` for up to 1024 a call), then listed again: that list, not the delete's
status (GitHub answers 404 for what a token cannot see), decides whether they are gone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import re

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    quote = None

from ansible_collections.regops.registry.plugins.module_utils import validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, AuthError, ConflictError, NotFoundError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Capability

SHA256_RE = re.compile(r"sha256:[a-f0-9]{64}")
CLUSTER_RE = re.compile(r"[a-zA-Z0-9._-]+")
GITHUB_REPOSITORY_RE = re.compile(r"[A-Za-z0-9.\-_]+")
STORAGE_STATUSES = ("active", "eol", "deleted")
DEPLOYMENT_STATUSES = ("deployed", "decommissioned")
RUNTIME_RISKS = ("critical-resource", "internet-exposed", "lateral-movement", "sensitive-data")
MAX_TAGS = 5
MAX_RUNTIME_RISKS = 4
KEY_FIELDS = ("logical_environment", "physical_environment", "cluster", "deployment_name")
# what a task may give for a deployment record beyond its key (per task, or per entry of ``deployments``)
DEPLOYMENT_VALUES = ("name", "version", "tags", "runtime_risks", "github_repository")
STORAGE_VALUES = ("artifact_url", "version", "path", "github_repository")
# (field, min length, max length, pattern, what it is) of the string fields, from the API's schemas
STORAGE_FIELDS = (
    ("name", 1, 256, None, "the artifact's name"),
    ("registry_url", 1, 256, "https", "an https:// URL"),
    ("record_repository", 0, 128, None, "the repository within the registry"),
    ("version", 1, 100, None, "the artifact's version"),
    ("artifact_url", 0, 152, "https", "an https:// URL"),
    ("path", 0, 512, None, "the artifact's path"),
    ("github_repository", 1, 100, GITHUB_REPOSITORY_RE, "a repository name of the organization (letters, digits, '.', '-', '_')"),
)
DEPLOYMENT_FIELDS = (
    ("name", 1, 256, None, "the artifact's name"),
    ("version", 1, 100, None, "the artifact's version"),
    ("logical_environment", 1, 128, None, "the stage (prod, staging)"),
    ("physical_environment", 0, 128, None, "the region"),
    ("cluster", 1, 128, CLUSTER_RE, "letters, digits, '.', '_' and '-'"),
    ("deployment_name", 1, 256, None, "the deployment's name"),
    ("github_repository", 1, 100, GITHUB_REPOSITORY_RE, "a repository name of the organization (letters, digits, '.', '-', '_')"),
)

METADATA_CAPABILITIES = {
    "storage_record": Capability(
        states=("present", "absent"),
        notes="GitHub artifact metadata storage records of an organization (the artifact module's storage_record option); "
              "absent sets status deleted, as GitHub cannot delete a record"),
    "deployment_record": Capability(
        states=("present", "absent"),
        notes="GitHub artifact metadata deployment records of an organization; absent sets status decommissioned"),
    "attestation": Capability(
        states=("absent",), info=True,
        notes="GitHub artifact attestations of an organization or user, deleted by subject digest"),
}


def encode(segment):
    """One path parameter, URL-encoded whole (a digest's ``:`` as ``%3A``)."""
    return quote(str(segment), safe="")


def _blank(value):
    """The API's "none": a key field sent empty and one left out are the same record."""
    return value if value not in ("", None) else None


def _string(field, value, low, high, pattern, what):
    if not isinstance(value, str):
        raise ValueError("%s %s must be a string (%s)" % (field, validate.shown(value), what))
    if len(value) < low or len(value) > high:
        raise ValueError("%s %s must be %d to %d characters long (%s)" % (field, validate.shown(value), low, high, what))
    if pattern == "https":
        if not value.startswith("https://"):
            raise ValueError("%s %s must be an https:// URL" % (field, validate.shown(value)))
    elif pattern is not None and not validate.matches(pattern, value):
        raise ValueError("%s %s is not valid: %s" % (field, validate.shown(value), what))


def check_digest(value):
    """``sha256:`` + 64 lowercase hex: the only digests GitHub's artifact metadata and this provider take."""
    validate.digest(value)
    if not validate.matches(SHA256_RE, value):
        raise ValueError("digest %s is not a sha256 digest: GitHub's artifact metadata and attestations take sha256: followed by "
                         "64 lowercase hex digits only" % validate.shown(value))
    return value


def check_tags(tags, where="tags"):
    """Deployment record tags: at most 5, string keys and values (numbers as the user wrote them, as strings)."""
    if tags is None:
        return None
    if not isinstance(tags, dict):
        raise ValueError("%s must be a mapping of names to strings" % where)
    if len(tags) > MAX_TAGS:
        raise ValueError("%s has %d entries: GitHub takes at most %d tags on a deployment record" % (where, len(tags), MAX_TAGS))
    found = {}
    for key, value in tags.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError("%s: the value of %s must be a string, not %s (quote it)" % (where, validate.shown(key), validate.shown(value)))
        found[str(key)] = value if isinstance(value, str) else str(value)
    return found


def check_risks(risks, where="runtime_risks"):
    if risks is None:
        return None
    risks = list(risks)
    unknown = [r for r in risks if r not in RUNTIME_RISKS]
    if unknown:
        raise ValueError("%s %s: not a runtime risk GitHub knows (%s)" % (
            where, ", ".join(validate.shown(r) for r in unknown), ", ".join(RUNTIME_RISKS)))
    if len(set(risks)) != len(risks):
        raise ValueError("%s lists a risk twice: GitHub takes each risk once" % where)
    if len(risks) > MAX_RUNTIME_RISKS:
        raise ValueError("%s lists %d risks: GitHub takes at most %d" % (where, len(risks), MAX_RUNTIME_RISKS))
    return risks


def predicate_of(bundle):
    """The in-toto ``predicateType`` of a Sigstore bundle's DSSE payload, or None."""
    try:
        payload = (bundle or {}).get("dsseEnvelope", {}).get("payload")
        statement = json.loads(base64.b64decode(payload).decode("utf-8")) if payload else None
    except (AttributeError, TypeError, ValueError, UnicodeDecodeError):
        return None
    return statement.get("predicateType") if isinstance(statement, dict) else None


def _errors_by_name(errors):
    """``{deployment_name: cause}`` from the ``errors`` of a cluster answer (HTTP 207) or job; the rest unnamed."""
    named, unnamed = {}, []
    for error in errors or []:
        deployment = error.get("deployment") if isinstance(error, dict) else None
        name = deployment.get("deployment_name") if isinstance(deployment, dict) else None
        if name is not None:
            named[name] = error.get("cause") or "refused"
        else:
            unnamed.append(error)
    return named, unnamed


CAUSES = {
    "unauthorized": "GitHub refused it (cause unauthorized): the token cannot write artifact metadata of the artifact's repository "
                    "(\"Contents\" or \"Artifact metadata\" repository permission, write)",
    "not_found": "GitHub refused it (cause not_found): it could not resolve the artifact's repository (set github_repository when the "
                 "artifact has no provenance attestation)",
}


class GitHubMetadata:
    """Storage and deployment records, and attestations."""

    # Per call limits of the API (test seams: a test may lower them on an instance).
    attestation_batch = 1024
    cluster_batch = 1000
    job_batch = 5000
    job_wait = 600.0
    job_poll_max = 10.0
    per_page = 100

    # -- owners ------------------------------------------------------------------
    @staticmethod
    def _owner(registry):
        # github.py imports this module: import its Owner when called, not at import time
        from ansible_collections.regops.registry.plugins.module_utils.providers.github import Owner  # pylint: disable=import-outside-toplevel
        return Owner.parse(registry)

    def metadata_owner(self, registry, what="artifact metadata (storage and deployment records)"):
        """The organization that owns artifact metadata; ValueError for a user owner (before any request)."""
        owner = self._owner(registry)
        if not owner.is_org:
            raise ValueError("%s exists for organizations only: registry %s is a user account. GitHub keeps storage and deployment "
                             "records for the repositories of an organization; for a user's images only attestations apply"
                             % (what, validate.shown(registry)))
        return owner

    def _meta_path(self, owner, *rest):
        return "/orgs/%s/artifacts/metadata/%s" % (encode(owner.login), "/".join(rest))

    def _list_path(self, owner, digest, kind):
        return "/orgs/%s/artifacts/%s/metadata/%s" % (encode(owner.login), encode(digest), kind)

    def _cache(self):
        """Record lists read by ``plan_records`` for the engine's read right after (which then drops them), and the fields
        GitHub returned for each record (``_returned_fields``)."""
        if getattr(self, "_record_lists", None) is None:
            self._record_lists = {}
            self._returned = {}
        return self._record_lists

    def _forget_lists(self):
        self._record_lists = {}

    def _fetch(self, resource, owner, digests, registry):
        """The records of each digest (storage or deployment), read concurrently; what ``plan_records`` read is not read again
        by the engine's read right after it."""
        cache = self._cache()
        kind = "storage-records" if resource == "storage_record" else "deployment-records"
        key = "storage_records" if resource == "storage_record" else "deployment_records"
        normalize = self._storage if resource == "storage_record" else self._deployment
        missing = [d for d in dict.fromkeys(digests) if (resource, owner.login.lower(), d) not in cache]

        def read(digest):
            body = self.client.get(self._list_path(owner, digest, kind)) or {}
            return [normalize(raw, registry) for raw in body.get(key) or []]

        for digest, records, error in self.client.run_bulk(read, missing):
            if error is not None:
                raise error
            cache[(resource, owner.login.lower(), digest)] = records
        return dict((d, cache[(resource, owner.login.lower(), d)]) for d in digests)

    def _returned_fields(self, record):
        """The fields GitHub itself returned for ``record`` (the others were filled in from what was sent)."""
        self._cache()
        return self._returned.get((record.get("digest"), record.get("id")), ())

    def artifact_records(self, owner, digests):
        """``{digest: {"storage_records": [...], "deployment_records": [...]}}`` for artifact_info ``records: true``, two requests
        per digest, concurrently. A list that cannot be read raises its ``ApiError`` (an empty list would say "no record")."""
        registry = str(owner)
        owner = self.metadata_owner(registry)

        def read(digest):
            storage = self.client.get(self._list_path(owner, digest, "storage-records")) or {}
            deployment = self.client.get(self._list_path(owner, digest, "deployment-records")) or {}
            return {"storage_records": [self._storage(r, registry) for r in storage.get("storage_records") or []],
                    "deployment_records": [self._deployment(r, registry) for r in deployment.get("deployment_records") or []]}

        found = {}
        for digest, records, error in self.client.run_bulk(read, list(dict.fromkeys(digests))):
            if error is not None:
                raise error
            found[digest] = records
        return found

    # -- storage records: shapes -----------------------------------------------------
    def _storage(self, raw, registry, sent=None):
        """The collection's storage record; a field GitHub did not return is the value sent, or None."""
        sent = sent or {}
        record = {"registry": registry}
        for field in ("digest", "name", "registry_url", "repository", "artifact_url", "status", "version", "path", "github_repository"):
            record[field] = raw[field] if field in raw else sent.get(field)
        record.update(id=raw.get("id"), created_at=raw.get("created_at"), updated_at=raw.get("updated_at"))
        self._cache()
        self._returned[(record["digest"], record["id"])] = frozenset(raw)
        return record

    def validate_storage_record(self, items, desired):
        """``desired``: ``state``, ``status`` and the values (``artifact_url``, ``version``, ``path``, ``github_repository``)."""
        for registry in set(item["registry"] for item in items):
            self.metadata_owner(registry, "storage_record (artifact metadata)")
        status = desired.get("status")
        if status is not None and status not in STORAGE_STATUSES:
            raise ValueError("storage_record.status %s is not one of %s" % (validate.shown(status), ", ".join(STORAGE_STATUSES)))
        absent = desired.get("state") == "absent"
        if absent and status not in (None, "deleted"):
            raise ValueError("storage_record.status %s does not go with state=absent, which marks records deleted (GitHub cannot delete a "
                             "record): use state=present with status %s" % (validate.shown(status), status))
        given = [field for field in STORAGE_VALUES if desired.get(field) is not None]
        if absent and given:
            raise ValueError("with state=absent, storage_record names the records only (name, registry_url, repository) and sets their "
                             "status to deleted; %s apply to state=present" % ", ".join(given))
        for item in items:
            check_digest(item["digest"])
            values = dict(desired)
            values.update((k, v) for k, v in item.items() if v is not None)
            for field, low, high, pattern, what in STORAGE_FIELDS:
                if values.get(field) is not None:
                    _string("storage_record.%s" % ("repository" if field == "record_repository" else field), values[field], low, high,
                            pattern, what)
            missing = [field for field in ("name", "registry_url") if not item.get(field)]
            if missing and not absent:
                raise ValueError("state=present needs storage_record.%s: GitHub requires the name and registry_url of a storage record"
                                 % " and storage_record.".join(missing))

    # -- storage records: reading and planning ------------------------------------------
    @staticmethod
    def _storage_matches(item, record):
        if item.get("name") is not None and record["name"] != item["name"]:
            return False
        if item.get("registry_url") is not None and record["registry_url"] != item["registry_url"]:
            return False
        if "record_repository" in item and item["record_repository"] is not None and _blank(record["repository"]) != item["record_repository"]:
            return False
        return True

    def read_storage_record(self, items):
        found = []
        for registry in dict.fromkeys(item["registry"] for item in items):
            owner = self.metadata_owner(registry)
            self._fetch("storage_record", owner, [i["digest"] for i in items if i["registry"] == registry], registry)
        for item in items:
            if not item.get("name"):
                found.append(None)  # a digest with no record (what plan_records leaves of "every record")
                continue
            owner = self.metadata_owner(item["registry"])
            records = self._cache()[("storage_record", owner.login.lower(), item["digest"])]
            same = [r for r in records if self._storage_matches(item, r)]
            if item.get("exact"):
                same = [r for r in same if _blank(r["repository"]) == _blank(item.get("record_repository"))]
            if len(same) > 1:
                raise ValueError("%d storage records of %s are named %s at %s, in repositories %s: set storage_record.repository to "
                                 "say which" % (len(same), item["digest"], validate.shown(item["name"]), item["registry_url"],
                                                ", ".join(validate.shown(r["repository"]) for r in same)))
            found.append(same[0] if same else None)
        self._forget_lists()
        return found

    def plan_records(self, resource, items, desired):
        """For ``state: absent``: the records the task names, one item each (a field the task leaves out matches any
        value), read once; a digest none of whose records match stays one item (reported absent, nothing sent)."""
        planned = []
        if not items:
            return planned
        registry = items[0]["registry"]
        owner = self.metadata_owner(registry)
        lists = self._fetch(resource, owner, [i["digest"] for i in items], registry)
        for item in items:
            if resource == "storage_record":
                matches = [r for r in lists[item["digest"]] if self._storage_matches(item, r)]
                expanded = [{"registry": registry, "digest": r["digest"] or item["digest"], "name": r["name"], "registry_url": r["registry_url"],
                             "record_repository": _blank(r["repository"]), "exact": True} for r in matches]
            else:
                matches = [r for r in lists[item["digest"]]
                           if all(item.get(k) is None or _blank(r[k]) == _blank(item[k]) for k in KEY_FIELDS)]
                expanded = [dict(dict((k, _blank(r[k])) for k in KEY_FIELDS), registry=registry, digest=item["digest"],
                                 entry=dict(item.get("entry") or {})) for r in matches]
            planned.extend(expanded or [item])
        if resource == "deployment_record":
            self._name_decommissions(owner, registry, planned, lists, desired)
        unique, seen = [], set()
        for item in planned:
            key = json.dumps(item, sort_keys=True)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        return unique

    # -- storage records: changes ----------------------------------------------------------
    def changes_storage_record(self, item, current, desired):
        """Status, and the values the task gives that GitHub returns (``version``, ``path`` and ``github_repository`` are not in
        its list answer: they are sent with every write, but a change of only those cannot be seen)."""
        absent = desired.get("state") == "absent"
        wanted = "deleted" if absent else desired.get("status") or "active"
        changes = {}
        if current.get("status") != wanted:
            changes["status"] = wanted
        if absent:
            return changes
        returned = self._returned_fields(current)
        for field in STORAGE_VALUES:
            value = desired.get(field)
            if value is not None and (field == "artifact_url" or field in returned) and current.get(field) != value:
                changes[field] = value
        return changes

    def _storage_body(self, item, current, desired, status):
        current = current or {}
        body = {"name": current.get("name") or item["name"], "digest": item["digest"],
                "registry_url": current.get("registry_url") or item["registry_url"]}
        repository = _blank(current.get("repository")) or item.get("record_repository")
        if repository is not None:
            body["repository"] = repository
        absent = desired.get("state") == "absent"
        for field in STORAGE_VALUES:
            value = None if absent else desired.get(field)
            if value is None and field == "artifact_url":
                value = current.get("artifact_url")
            if value is not None:
                body[field] = value
        body["status"] = status
        return body

    def _write_storage(self, item, current, desired, status):
        """One upsert, on the current path; on GitHub's older plural path when the current one is not found (then on that)."""
        owner = self.metadata_owner(item["registry"])
        body = self._storage_body(item, current, desired, status)
        path = self._meta_path(owner, "storage-record")
        # decided once per request: writes run side by side, and another may switch to the plural path meanwhile
        plural = getattr(self, "_plural_storage_path", False)
        if plural:
            path += "s"
        try:
            answer = self.client.json("POST", path, json=body, idempotent=True) or {}
        except NotFoundError as exc:
            if plural:
                raise
            try:
                answer = self.client.json("POST", path + "s", json=body, idempotent=True) or {}
            except NotFoundError:
                raise exc
            if not getattr(self, "_plural_storage_path", False):
                self._plural_storage_path = True
                self.warn("GitHub answered 404 to POST %s (the create-storage-record path of GitHub's current API) and accepted the older "
                          "%ss: this GitHub is older than the API description the collection follows" % (path, path))
        records = answer.get("storage_records") or []
        if records:
            return self._storage(records[0], item["registry"], sent=body)
        return self._predicted_storage(item, current, body)

    def _predicted_storage(self, item, current, body):
        record = dict(current or {"registry": item["registry"], "id": None, "created_at": None, "updated_at": None, "version": None,
                                  "path": None, "github_repository": None, "artifact_url": None, "repository": None})
        record.update((k, v) for k, v in body.items() if k != "return_records")
        record.setdefault("repository", None)
        return record

    def create_storage_record(self, item, desired):
        return self._write_storage(item, None, desired, desired.get("status") or "active")

    def update_storage_record(self, item, current, changes, desired):
        return self._write_storage(item, current, desired, changes.get("status", current.get("status")))

    def delete_storage_record(self, item, current):
        return self._write_storage(item, current, {"state": "absent"}, "deleted")

    def _writers(self):
        """How many writes at once: the package half's bound (GitHub's secondary rate limits count concurrent writes)."""
        bound = getattr(self, "_write_concurrency", None)
        return bound() if bound is not None else self.client.concurrency

    def apply_storage_record(self, actions):
        def write(action):
            if action.kind == "create":
                return self.create_storage_record(action.item, action.desired)
            if action.kind == "update":
                return self.update_storage_record(action.item, action.current, action.changes, action.desired)
            return self.delete_storage_record(action.item, action.current)

        return [(action, result, self._explain(error) if error is not None else None)
                for action, result, error in self.client.run_bulk(write, actions, concurrency=self._writers())]

    def predict_storage_record(self, action):
        if action.kind == "create":
            status = action.desired.get("status") or "active"
        elif action.kind == "update":
            status = action.changes.get("status", action.current.get("status"))
        else:
            status = "deleted"
        desired = {"state": "absent"} if action.kind == "delete" else action.desired
        return self._predicted_storage(action.item, action.current, self._storage_body(action.item, action.current, desired, status))

    # -- deployment records: shapes --------------------------------------------------------
    def _deployment(self, raw, registry, sent=None):
        """The collection's deployment record. ``name``, ``version``, ``status`` and ``github_repository`` are not in GitHub's
        documented record: what GitHub returns, else what this module sent, else None."""
        sent = sent or {}
        record = {"registry": registry}
        for field in ("digest", "name", "version", "status", "logical_environment", "physical_environment", "cluster",
                      "deployment_name", "tags", "runtime_risks", "github_repository"):
            record[field] = raw[field] if field in raw else sent.get(field)
        for field in ("physical_environment", "cluster"):
            record[field] = _blank(record[field])
        record["tags"] = dict(record["tags"] or {})
        record["runtime_risks"] = list(record["runtime_risks"] or [])
        record.update(id=raw.get("id"), attestation_id=raw.get("attestation_id"), created_at=raw.get("created_at"),
                      updated_at=raw.get("updated_at"))
        self._cache()
        self._returned[(record["digest"], record["id"])] = frozenset(raw)
        return record

    @staticmethod
    def _wanted(item, desired):
        """What the task asks of one record: the task's values, then the entry's (``deployments``)."""
        wanted = dict((k, desired.get(k)) for k in DEPLOYMENT_VALUES)
        wanted.update((k, v) for k, v in (item.get("entry") or {}).items() if v is not None)
        return wanted

    def validate_deployment_record(self, items, desired):
        """``desired``: ``status`` (deployed for present, decommissioned for absent) and the task's values; an item carries
        its key and, for an entry of ``deployments``, the entry's values (``entry``, ``listed``)."""
        for registry in set(item["registry"] for item in items):
            self.metadata_owner(registry, "deployment_record (artifact metadata)")
        status = desired.get("status")
        if status not in DEPLOYMENT_STATUSES:
            raise ValueError("deployment record status %s is not one of %s" % (validate.shown(status), ", ".join(DEPLOYMENT_STATUSES)))
        check_tags(desired.get("tags"))
        check_risks(desired.get("runtime_risks"))
        keys, artifacts = {}, {}
        for item in items:
            check_digest(item["digest"])
            entry = item.get("entry") or {}
            where = "deployments[%s]." % validate.shown(item.get("deployment_name")) if item.get("listed") else ""
            check_tags(entry.get("tags"), where + "tags")
            check_risks(entry.get("runtime_risks"), where + "runtime_risks")
            values = dict((k, desired.get(k)) for k in DEPLOYMENT_VALUES + KEY_FIELDS)
            values.update((k, item[k]) for k in KEY_FIELDS if item.get(k) is not None)
            values.update((k, v) for k, v in entry.items() if v is not None)
            for field, low, high, pattern, what in DEPLOYMENT_FIELDS:
                if values.get(field) is not None:
                    _string((where if field in entry or field == "deployment_name" else "") + field, values[field], low, high, pattern, what)
            if status == "deployed":
                self._check_deployment(item, values, keys, artifacts)

    @staticmethod
    def _check_deployment(item, values, keys, artifacts):
        missing = [field for field in ("name", "logical_environment", "deployment_name") if not values.get(field)]
        if missing:
            raise ValueError("state=present records a deployment: %s %s missing (GitHub requires them)" % (
                ", ".join(missing), "is" if len(missing) == 1 else "are"))
        key = tuple(_blank(item.get(k)) for k in KEY_FIELDS)
        if key in keys:
            if keys[key] == item["digest"]:
                raise ValueError("deployment %s is given twice: name each deployment once" % validate.shown(key[3]))
            raise ValueError("deployment %s is given for %s and %s: a deployment record (logical_environment, physical_environment, "
                             "cluster, deployment_name) holds one digest; give one digest, or several deployments (deployments) each "
                             "with its own deployment_name" % (validate.shown(key[3]), keys[key], item["digest"]))
        keys[key] = item["digest"]
        named = (values.get("name"), values.get("version"))
        first = artifacts.setdefault((values.get("github_repository"), item["digest"]), named)
        if first != named:
            raise ValueError("%s is given with two names or versions (%s): GitHub keeps one name and version per artifact" % (
                item["digest"], "; ".join("name %s version %s" % (validate.shown(n), validate.shown(v)) for n, v in (first, named))))

    # -- deployment records: reading and planning ---------------------------------------------
    def read_deployment_record(self, items):
        found = []
        for registry in dict.fromkeys(item["registry"] for item in items):
            owner = self.metadata_owner(registry)
            self._fetch("deployment_record", owner, [i["digest"] for i in items if i["registry"] == registry], registry)
        for item in items:
            if not item.get("deployment_name"):
                found.append(None)  # a digest with no record the task names (what plan_records leaves)
                continue
            owner = self.metadata_owner(item["registry"])
            records = self._cache()[("deployment_record", owner.login.lower(), item["digest"])]
            key = tuple(_blank(item.get(k)) for k in KEY_FIELDS)
            found.append(next((r for r in records if tuple(_blank(r[k]) for k in KEY_FIELDS) == key), None))
        self._forget_lists()
        return found

    def _name_decommissions(self, owner, registry, items, lists, desired):
        """A decommission is written with the artifact's name, which GitHub's record does not show: the task's, the record's
        (where GitHub returns it), else the one name of the digest's storage records. Fails before any change without one."""
        need = []
        for item in items:
            if not item.get("deployment_name"):
                continue
            record = next(r for r in lists[item["digest"]] if tuple(_blank(r[k]) for k in KEY_FIELDS) == tuple(_blank(item[k]) for k in KEY_FIELDS))
            known = record["status"] == "decommissioned" and "status" in self._returned_fields(record)
            if not known and not (desired.get("name") or record.get("name")):
                need.append(item)
        if not need:
            return
        names = self._fetch("storage_record", owner, [i["digest"] for i in need], registry)
        unnamed = []
        for item in need:
            distinct = sorted(set(r["name"] for r in names[item["digest"]] if r.get("name")))
            if len(distinct) == 1:
                item["entry"]["name"] = distinct[0]
            else:
                unnamed.append("%s (%s)" % (item["digest"], "storage records named %s" % ", ".join(distinct) if distinct else "no storage record"))
        if unnamed:
            raise ValueError("GitHub needs the artifact's name to write a deployment record, and does not return it with the record: set "
                             "name (the artifact's name, as in its storage records). No single name found for %s" % "; ".join(unnamed))

    # -- deployment records: changes ------------------------------------------------------------
    def changes_deployment_record(self, item, current, desired):
        """What differs. A record whose status GitHub does not return is written (status) every time: nothing tells
        whether it is deployed or decommissioned already, and "unchanged" would be a guess."""
        status = desired["status"]
        returned = self._returned_fields(current)
        changes = {}
        if "status" not in returned:
            changes["status"] = status
            if not getattr(self, "_warned_status", False):
                self._warned_status = True
                self.warn("GitHub did not return the status of deployment record(s) of %s (GitHub's documented record has none): such "
                          "a record is written as %s on every run and reported changed, since nothing tells whether it already is"
                          % (item["digest"], status))
        elif current.get("status") != status:
            changes["status"] = status
        if status == "decommissioned":
            return changes
        wanted = self._wanted(item, desired)
        for field in ("name", "version", "github_repository"):
            if wanted.get(field) is not None and field in returned and current.get(field) != wanted[field]:
                changes[field] = wanted[field]
        tags = check_tags(wanted.get("tags"))
        if tags is not None and tags != current.get("tags"):
            changes["tags"] = tags
        risks = wanted.get("runtime_risks")
        if risks is not None and sorted(risks) != sorted(current.get("runtime_risks") or []):
            changes["runtime_risks"] = list(risks)
        return changes

    def _deployment_entry(self, item, current, desired, status):
        """The record as it is sent: key, then the task's values, then what the record has (left alone when not named)."""
        current = current or {}
        if status == "deployed":
            wanted = self._wanted(item, desired)
        else:  # a decommission changes the status only: the rest is sent as the record has it
            entry = item.get("entry") or {}
            wanted = {"name": desired.get("name") or entry.get("name"),
                      "github_repository": desired.get("github_repository") or entry.get("github_repository")}
        entry = {"name": wanted.get("name") or current.get("name"), "digest": item["digest"], "status": status}
        for field in KEY_FIELDS:
            if _blank(item.get(field)) is not None:
                entry[field] = item[field]
        version = wanted.get("version") or current.get("version")
        if version:
            entry["version"] = version
        tags = check_tags(wanted.get("tags")) if wanted.get("tags") is not None else current.get("tags")
        if tags:
            entry["tags"] = tags
        risks = wanted.get("runtime_risks") if wanted.get("runtime_risks") is not None else current.get("runtime_risks")
        if risks:
            entry["runtime_risks"] = list(risks)
        repository = wanted.get("github_repository") or current.get("github_repository")
        if repository:
            entry["github_repository"] = repository
        if not entry["name"]:
            raise ValueError("GitHub needs the artifact's name to write deployment record %s: set name" % item["deployment_name"])
        return entry

    @staticmethod
    def _status_of(action):
        if action.kind == "delete":
            return "decommissioned"
        return action.desired["status"]

    def _predicted_deployment(self, action, entry):
        record = dict(action.current or {"registry": action.item["registry"], "id": None, "attestation_id": None, "created_at": None,
                                         "updated_at": None, "version": None, "github_repository": None, "tags": {}, "runtime_risks": []})
        record.update((k, v) for k, v in entry.items())
        for field in KEY_FIELDS:
            record[field] = _blank(action.item.get(field))
        record["tags"] = dict(entry.get("tags") or {})
        record["runtime_risks"] = list(entry.get("runtime_risks") or [])
        return record

    def predict_deployment_record(self, action):
        entry = self._deployment_entry(action.item, action.current, action.desired, self._status_of(action))
        return self._predicted_deployment(action, entry)

    def apply_deployment_record(self, actions):
        """One POST per record, or one per cluster for several records of a cluster (HTTP 207: each refused record reported
        on its own), or cluster jobs for more than ``cluster_batch`` records of a cluster."""
        done = {}
        entries = {}
        for action in actions:
            try:
                entries[id(action)] = self._deployment_entry(action.item, action.current, action.desired, self._status_of(action))
            except ValueError as exc:
                done[id(action)] = (action, None, exc)
        groups = {}
        for action in actions:
            if id(action) in done:
                continue
            cluster = _blank(action.item.get("cluster"))
            key = (cluster, action.item["logical_environment"], _blank(action.item.get("physical_environment")))
            groups.setdefault(key if cluster and validate.matches(CLUSTER_RE, cluster) else None, []).append(action)
        singles = list(groups.pop(None, []))
        for key in list(groups):
            if len(groups[key]) < 2:
                singles.extend(groups.pop(key))

        def write_one(action):
            owner = self.metadata_owner(action.item["registry"])
            body = entries[id(action)]
            answer = self.client.json("POST", self._meta_path(owner, "deployment-record"), json=body, idempotent=True) or {}
            records = answer.get("deployment_records") or []
            if records:
                return self._deployment(records[0], action.item["registry"], sent=body)
            return self._predicted_deployment(action, body)

        for action, result, error in self.client.run_bulk(write_one, singles, concurrency=self._writers()):
            done[id(action)] = (action, result, self._explain(error) if error is not None else None)
        for (cluster, logical, physical), members in groups.items():
            if len(members) <= self.cluster_batch:
                done.update(self._set_cluster(cluster, logical, physical, members, entries))
            else:
                done.update(self._cluster_jobs(cluster, logical, physical, members, entries))
        return [done[id(action)] for action in actions]

    @staticmethod
    def _explain(error):
        """A 403 on artifact metadata: say which permission GitHub wants."""
        if isinstance(error, AuthError) and error.status == 403 and "rate limit" not in str(error.message).lower():
            error.message = ("%s (writing artifact metadata needs write access to the artifact's repository: the \"Contents\" "
                             "repository permission, write, or for deployment records \"Artifact metadata\", write)" % error.message)
        return error

    @staticmethod
    def _cluster_entry(entry):
        return dict((k, v) for k, v in entry.items() if k not in ("logical_environment", "physical_environment", "cluster"))

    def _cluster_body(self, logical, physical, members, entries):
        body = {"logical_environment": logical}
        if physical is not None:
            body["physical_environment"] = physical
        body["deployments"] = [self._cluster_entry(entries[id(a)]) for a in members]
        return body

    def _set_cluster(self, cluster, logical, physical, members, entries):
        owner = self.metadata_owner(members[0].item["registry"])
        body = self._cluster_body(logical, physical, members, entries)
        body["partial_success"] = True
        done = {}
        try:
            response = self.client.request("POST", self._meta_path(owner, "deployment-record", "cluster", encode(cluster)), json=body,
                                           expected=(200, 207), idempotent=True)
            answer = response.json() if response.content else {}
        except ApiError as exc:
            error = self._explain(exc)
            return dict((id(a), (a, None, error)) for a in members)
        refused, unnamed = _errors_by_name(answer.get("errors"))
        records = dict((r.get("deployment_name"), r) for r in answer.get("deployment_records") or [])
        for action in members:
            name = action.item["deployment_name"]
            entry = entries[id(action)]
            if name in refused:
                done[id(action)] = (action, None, ApiError("%s (HTTP 207 from POST cluster %s)" % (
                    CAUSES.get(refused[name], "GitHub refused it (cause %s)" % refused[name]), cluster), status=207))
            elif name in records:
                done[id(action)] = (action, self._deployment(records[name], action.item["registry"], sent=entry), None)
            else:
                done[id(action)] = (action, self._predicted_deployment(action, entry), None)
        if unnamed:
            self.warn("GitHub reported %d error(s) for cluster %s it did not tie to a deployment: %s" % (
                len(unnamed), cluster, json.dumps(unnamed)[:500]))
        return done

    def _cluster_jobs(self, cluster, logical, physical, members, entries):
        """More records of a cluster than one call takes: jobs of up to ``job_batch`` records, one after the other (GitHub runs one
        job per cluster at a time), each polled until it ends."""
        owner = self.metadata_owner(members[0].item["registry"])
        path = self._meta_path(owner, "deployment-record", "cluster", encode(cluster), "jobs")
        done = {}
        jobs = self.results.setdefault("deployment_jobs", [])
        for start in range(0, len(members), self.job_batch):
            chunk = members[start:start + self.job_batch]
            try:
                answer = self.client.json("POST", path, json=self._cluster_body(logical, physical, chunk, entries), expected=(202, 200)) or {}
            except ConflictError as exc:
                exc.message = "%s: GitHub runs one records job per cluster at a time; run the task again when it has finished" % exc.message
                done.update((id(a), (a, None, exc)) for a in chunk)
                continue
            except ApiError as exc:
                error = self._explain(exc)
                done.update((id(a), (a, None, error)) for a in chunk)
                continue
            job_id = answer.get("job_id")
            refused, unnamed = _errors_by_name(answer.get("errors"))
            status = self._poll_job(path, job_id)
            job = {"cluster": cluster, "job_id": job_id, "status": status.get("status"), "total_count": status.get("total_count"),
                   "records": len(chunk), "errors": list(answer.get("errors") or []) + list(status.get("errors") or [])}
            jobs.append(job)
            later, later_unnamed = _errors_by_name(status.get("errors"))
            refused.update(later)
            unnamed += later_unnamed
            for action in chunk:
                name = action.item["deployment_name"]
                if name in refused:
                    cause = CAUSES.get(refused[name], "GitHub refused it (cause %s)" % refused[name])
                    error = ApiError("%s (cluster records job %s)" % (cause, job_id))
                elif status.get("status") == "completed":
                    result = self._predicted_deployment(action, entries[id(action)])
                    done[id(action)] = (action, result, None)
                    continue
                elif status.get("status") == "failed":
                    error = ApiError("GitHub's cluster records job %s for cluster %s failed%s" % (
                        job_id, cluster, ": %s" % json.dumps(status.get("errors"))[:300] if status.get("errors") else ""))
                else:
                    error = ApiError("GitHub's cluster records job %s for cluster %s is still %s after %d s; GitHub goes on with it: run the "
                                     "task again later to see the records" % (job_id, cluster, status.get("status"), int(self.job_wait)))
                done[id(action)] = (action, None, error)
            if unnamed:
                self.warn("GitHub's cluster records job %s for cluster %s reported %d error(s) it did not tie to a deployment: %s" % (
                    job_id, cluster, len(unnamed), json.dumps(unnamed)[:500]))
        return done

    def _poll_job(self, path, job_id):
        """Read the job's status until it is completed or failed, waiting 1 s, 2 s, 4 s … (at most ``job_poll_max``) between reads,
        for at most ``job_wait`` seconds."""
        waited, delay = 0.0, 1.0
        while True:
            status = self.client.get("%s/%s" % (path, encode(job_id))) or {}
            if status.get("status") in ("completed", "failed") or waited >= self.job_wait:
                return status
            pause = min(delay, self.job_wait - waited)
            self.client.sleep(pause)
            waited += pause
            delay = min(delay * 2, self.job_poll_max)

    # -- attestations ---------------------------------------------------------------------------------
    def validate_attestation(self, items, desired):
        for item in items:
            self._owner(item["registry"])
            check_digest(item["digest"])
        if desired.get("predicate_type") is not None and not str(desired["predicate_type"]).strip():
            raise ValueError("predicate_type must not be empty (provenance, sbom, release, or a predicate type URL)")

    def _attestation_summary(self, raw, digest, bundle=False):
        item = {"subject_digest": digest, "repository_id": raw.get("repository_id"), "bundle_url": raw.get("bundle_url"),
                "initiator": raw.get("initiator"), "predicate_type": predicate_of(raw.get("bundle"))}
        if bundle:
            item["bundle"] = raw.get("bundle")
        return item

    def _attestations(self, owner, digests, predicate_type=None, bundle=False):
        """``{digest: [attestation, ...]}``: one digest by its list (``Link`` pages), several by bulk-list (``page_info`` cursors)."""
        found = dict((d, []) for d in digests)
        base = "%s/attestations" % owner.owner_path
        if len(digests) == 1:
            params = {"per_page": self.per_page}
            if predicate_type:
                params["predicate_type"] = predicate_type
            for raw in self.client.paginate_link("%s/%s" % (base, encode(digests[0])), params=params,
                                                 items=lambda body: (body or {}).get("attestations") or []):
                found[digests[0]].append(self._attestation_summary(raw, digests[0], bundle))
            return found
        for start in range(0, len(digests), self.attestation_batch):
            chunk = digests[start:start + self.attestation_batch]
            body = {"subject_digests": chunk}
            if predicate_type:
                body["predicate_type"] = predicate_type
            cursor, seen = None, set()
            while True:
                params = {"per_page": self.per_page}
                if cursor:
                    params["after"] = cursor
                answer = self.client.json("POST", "%s/bulk-list" % base, params=params, json=body, idempotent=True) or {}
                for digest, raws in (answer.get("attestations_subject_digests") or {}).items():
                    if digest in found:
                        found[digest].extend(self._attestation_summary(raw, digest, bundle) for raw in raws or [])
                page = answer.get("page_info") or {}
                cursor = page.get("next")
                if not page.get("has_next") or not cursor or cursor in seen:
                    break
                seen.add(cursor)
        return found

    def list_attestation(self, filters):
        owner = self._owner(filters["registry"])
        digests = list(dict.fromkeys(filters["digest"]))
        found = self._attestations(owner, digests, filters.get("predicate_type"), bool(filters.get("bundle")))
        return [a for digest in digests for a in found[digest]]

    def read_attestation(self, items):
        lists = {}
        for registry in dict.fromkeys(item["registry"] for item in items):
            digests = list(dict.fromkeys(i["digest"] for i in items if i["registry"] == registry))
            lists.update(((registry, d), found) for d, found in self._attestations(self._owner(registry), digests).items())
        return [self._attestation_set(item, lists[(item["registry"], item["digest"])]) if lists[(item["registry"], item["digest"])] else None
                for item in items]

    @staticmethod
    def _attestation_set(item, attestations):
        return {"registry": item["registry"], "digest": item["digest"], "count": len(attestations),
                "repository_ids": sorted(set(a["repository_id"] for a in attestations if a["repository_id"] is not None)),
                "predicate_types": sorted(set(a["predicate_type"] for a in attestations if a["predicate_type"])),
                "attestations": [dict((k, v) for k, v in a.items() if k != "subject_digest") for a in attestations]}

    def predict_attestation(self, action):
        return None

    def apply_attestation(self, actions):
        """Delete by digest (one) or by delete-request (up to ``attestation_batch`` digests a call), then list again: what is
        still listed failed, whatever the delete answered."""
        if not actions:
            return []
        registry = actions[0].item["registry"]
        owner = self._owner(registry)
        digests = [a.item["digest"] for a in actions]
        base = "%s/attestations" % owner.owner_path
        answered = {}
        if len(digests) == 1:
            try:
                self.client.request("DELETE", "%s/digest/%s" % (base, encode(digests[0])), expected=(200, 204))
            except ApiError as exc:
                answered[digests[0]] = exc
        else:
            for start in range(0, len(digests), self.attestation_batch):
                chunk = digests[start:start + self.attestation_batch]
                try:
                    self.client.request("POST", "%s/delete-request" % base, json={"subject_digests": chunk}, expected=(200, 204),
                                        idempotent=True)
                except ApiError as exc:
                    answered.update((d, exc) for d in chunk)
        after = self._attestations(owner, digests)
        results = []
        for action in actions:
            left = after[action.item["digest"]]
            if not left:
                results.append((action, action.current, None))
                continue
            results.append((action, None, ApiError(self._still_there(owner, action, left, answered.get(action.item["digest"])))))
        return results

    @staticmethod
    def _still_there(owner, action, left, error):
        repositories = sorted(set(str(a["repository_id"]) for a in left if a["repository_id"] is not None))
        said = " (the delete answered %s)" % error if error is not None else ""
        if owner.is_org:
            who = ("the token needs the \"Attestations\" repository permission (write) on the repositories that built them (repository "
                   "id%s %s) of organization %s; GitHub answers 404 rather than 403 where a token cannot see or write them" % (
                       "s" if len(repositories) != 1 else "", ", ".join(repositories) or "unknown", owner.login))
        else:
            who = ("a user's attestations are deleted with a token of that user (%s) with the \"Attestations\" repository permission "
                   "(write); GitHub answers 404 to anyone else" % owner.login)
        return "%d of %d attestation(s) of %s are still listed after the delete%s: %s" % (
            len(left), action.current["count"], action.item["digest"], said, who)
