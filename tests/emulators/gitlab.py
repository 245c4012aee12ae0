"""Stateful emulator of GitLab's container registry REST API (``/api/v4``).

Run standalone with ``python -m tests.emulators.gitlab --port 8083``.
See ``docs/emulators.md`` for the behaviours and the facts they follow.

Covered: project and group registry repositories, tags (single, bulk), the
asynchronous repository delete and bulk tag delete (202, then
``delete_scheduled`` / ``delete_ongoing``), the once-an-hour bulk limit (400),
project registry settings and the cleanup (expiration) policy, which runs when
the emulated clock passes ``next_run_at``, deploy tokens for projects and
groups, repository and tag protection rules, and the three ways to
authenticate (``PRIVATE-TOKEN``, ``Authorization: Bearer``, ``JOB-TOKEN``).

Tags live in the emulator's own state (seeded), unless a real OCI registry
backs it (settings ``registry_host`` + ``backend_credentials``): then
repositories and tags are read from that registry's ``/v2`` API, and tag
deletes go to it the way GitLab does it with a third-party registry.
"""
# One class per provider API, with a wide seeding/test-helper surface.
# pylint: disable=too-many-instance-attributes,too-many-arguments,too-many-positional-arguments,too-many-public-methods
# pylint: disable=too-many-locals,too-many-lines,too-many-branches,too-many-return-statements,too-many-statements

import base64
import binascii
import hashlib
import json
import math
import os
import re
import secrets
import string
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

from tests.emulators.base import ApiError, EmulatorServer, Response, _default_reason, http_date, run_standalone
from tests.emulators.oci_backend import BackendError, RegistryClient
from tests.support import known_secrets

API = "/api/v4"
DEFAULT_TOKEN = "emulator-gitlab-token"
DEFAULT_JOB_TOKEN = "emulator-gitlab-job-token"
known_secrets.register(DEFAULT_TOKEN, DEFAULT_JOB_TOKEN)
DEFAULT_GROUP = "acme"
DEFAULT_PROJECT = "acme/app"
DEFAULT_REGISTRY_HOST = "gitlab.example.com:5050"
JWT_PATH = "/jwt/auth"
JWT_SERVICE = "container_registry"
JWT_ISSUER = "gitlab-issuer"
CI_REGISTRY_USER = "gitlab-ci-token"

ACCESS_LEVELS = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "owner": 50, "admin": 60}
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER, ADMIN = 10, 20, 30, 40, 50, 60
RULE_LEVELS = ("maintainer", "owner", "admin")
REGISTRY_ACCESS_LEVELS = ("disabled", "private", "enabled")
VISIBILITIES = ("private", "internal", "public")
TOKEN_SCOPES = ("api", "read_api", "read_user", "read_repository", "write_repository", "read_registry", "write_registry",
                "sudo", "admin_mode", "create_runner", "manage_runner", "ai_features", "k8s_proxy")

# DeployToken::AVAILABLE_SCOPES, in the order GitLab answers them.
DEPLOY_TOKEN_SCOPES = ("read_repository", "read_registry", "write_registry", "read_package_registry", "write_package_registry",
                       "read_virtual_registry", "write_virtual_registry")
DEPLOY_USERNAME_RE = re.compile(r"^[a-zA-Z0-9\-_.+]+$")

# ContainerExpirationPolicy options (app/models/container_expiration_policy.rb).
CADENCE_OPTIONS = ("1d", "7d", "14d", "1month", "3month")
KEEP_N_OPTIONS = (1, 5, 10, 25, 50, 100)
OLDER_THAN_OPTIONS = ("7d", "14d", "30d", "90d")
DEFAULT_POLICY = {"cadence": "1d", "enabled": False, "keep_n": 10, "older_than": "90d", "name_regex": ".*", "name_regex_keep": None}
POLICY_KEYS = ("cadence", "enabled", "keep_n", "older_than", "name_regex", "name_regex_keep")

REPOSITORY_STATUSES = ("delete_scheduled", "delete_failed", "delete_ongoing")
SIZE_AVAILABLE_SINCE = datetime(2021, 11, 4, tzinfo=timezone.utc)
BULK_LIMIT_MESSAGE = "This request has already been made. You can run this at most once an hour for a given container repository"
KEYSET_UNAVAILABLE = "Keyset pagination is not yet available for this type of request"
TAG_RULES_PER_PROJECT = 5
REPO_PATTERN_RE = re.compile(r"^[a-zA-Z0-9*][a-zA-Z0-9*._/-]*$")
PROJECT_UPDATE_KEYS = ("container_registry_access_level", "container_registry_enabled", "container_expiration_policy_attributes",
                       "description", "name", "visibility")
STATUS_CHOICES = {"tag_delete_status": (204, 200), "repository_delete_status": (202, 204), "bulk_delete_status": (202, 204)}

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
_DURATION_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,
    "y": 31536000, "year": 31536000, "years": 31536000,
}
_RE2_UNSUPPORTED = re.compile(r"\(\?(?:[=!]|<[=!])|\\[1-9]|\(\?P=")
_GITLAB_REASONS = {400: "400 Bad request", 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found",
                   405: "405 Method Not Allowed", 409: "409 Conflict", 412: "412 Precondition Failed",
                   422: "422 Unprocessable Entity", 429: "Retry later", 500: "500 Internal Server Error",
                   502: "502 Bad Gateway", 503: "503 Service Unavailable", 504: "504 Gateway Timeout"}
_TRUE = ("true", "1", "t", "yes", "y", "on")
_FALSE = ("false", "0", "f", "no", "n", "off")


# ---------------------------------------------------------------------------
# Small helpers: times, durations, regexes, params

def _utcnow():
    return datetime.now(timezone.utc)


def parse_time(value):
    """An aware datetime from ISO 8601 (``Z`` allowed) or a date; ``None`` passes through."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def fmt_z(value):
    """``2019-01-10T13:38:57.391Z`` (repositories, deploy tokens, projects, policies); ``None`` stays ``None``."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def fmt_offset(value):
    """``2019-01-06T16:49:51.272+00:00`` (tag ``created_at``, as the reference example shows it)."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def parse_duration(text):
    """Seconds of a ChronicDuration-style string (``1h``, ``2d``, ``1month``, ``90d``); ``None`` if it is not one."""
    if not isinstance(text, str):
        return None
    match = _DURATION_RE.match(text.lower())
    if not match or match.group(2) not in _DURATION_UNITS:
        return None
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def compile_re2(pattern):
    """Compile a pattern the way GitLab's ``UntrustedRegexp`` (RE2) accepts it; ``ValueError`` with RE2-like text if not."""
    if not isinstance(pattern, str):
        raise ValueError("invalid pattern")
    bad = _RE2_UNSUPPORTED.search(pattern)
    if bad:
        raise ValueError(f"invalid perl operator: {bad.group(0)}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(str(exc)) from exc


def anchored(pattern):
    """``\\A(?:pattern)\\Z``: bulk delete and the cleanup policy match whole tag names."""
    return compile_re2(f"(?:{pattern})\\Z") if pattern is not None else None


def glob_match(pattern, value):
    """Repository protection patterns: ``*`` wildcard, case-insensitive, whole string (SQL ILIKE of GitLab's glob)."""
    regex = "".join(".*" if char == "*" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE) is not None


def fake_digest(text):
    """``sha256:`` + sha256 of ``text``."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def generate_token(prefix="gldt-", length=20):
    """A deploy token like GitLab's (``gldt-`` + 20 characters)."""
    return prefix + "".join(secrets.choice(_TOKEN_ALPHABET) for _unused in range(length))


def project_path_param(path):
    """URL-encode a project or group full path for ``:id`` (``acme/app`` -> ``acme%2Fapp``)."""
    return urllib.parse.quote(str(path), safe="")


def _grape_error(message):
    return ApiError(400, message, "error")


def _set_nested(target, key, value):
    """Rack-style nested form keys: ``a[b]=1``, ``a[]=x``."""
    match = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$", key)
    if not match or not match.group(2):
        target[key] = value
        return
    parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
    node = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        nxt = parts[index + 1] if not last else None
        if last:
            if part == "":
                return
            node[part] = value
        elif nxt == "":
            node.setdefault(part, [])
            if isinstance(node[part], list):
                node[part].append(value)
            return
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child


def request_params(request):
    """Query string and body merged as Grape sees them (the body wins): JSON object or form-encoded."""
    params = {}
    for key, value in request.query_list:
        _set_nested(params, key, value)
    if request.raw_body.strip():
        ctype = (request.header("Content-Type") or "").lower()
        if request.json is not None and isinstance(request.json, dict):
            params.update(request.json)
        elif "json" in ctype or request.json is not None:
            raise _grape_error("message body does not match declared format")
        else:
            form = {}
            for key, value in urllib.parse.parse_qsl(request.raw_body.decode("utf-8", "replace"), keep_blank_values=True):
                _set_nested(form, key, value)
            params.update(form)
    return params


def coerce_bool(params, name, default=None, label=None):
    """A Grape ``Boolean`` parameter; ``{"error": "<name> is invalid"}`` otherwise."""
    if name not in params or params[name] is None:
        return default
    value = params[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)) and str(value).lower() in _TRUE:
        return True
    if isinstance(value, (str, int)) and str(value).lower() in _FALSE:
        return False
    raise _grape_error(f"{label or name} is invalid")


def coerce_int(params, name, default=None, label=None):
    """A Grape ``Integer`` parameter."""
    if name not in params or params[name] is None:
        return default
    value = params[name]
    if isinstance(value, bool):
        raise _grape_error(f"{label or name} is invalid")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip()):
        return int(value)
    raise _grape_error(f"{label or name} is invalid")


def coerce_str(params, name, default=None, label=None):
    """A Grape ``String`` parameter (numbers become strings, objects are invalid)."""
    if name not in params or params[name] is None:
        return default
    value = params[name]
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise _grape_error(f"{label or name} is invalid")
    return str(value)


# ---------------------------------------------------------------------------
# Real OCI registry backing

class GitLabOciBackend(RegistryClient):
    """The shared registry client (``tests/emulators/oci_backend.py``: reads, blob uploads, the third-party tag delete
    ``untag``) with the facts GitLab shows: config blob (created time, revision) and sizes."""

    def facts(self, repo, digest):
        """``{index, revision, created_at, total_size, blobs: {digest: size}}`` of a manifest (cached)."""
        facts = self.image_facts(repo, digest)
        if facts["index"]:
            return {"index": True, "revision": None, "created_at": None, "total_size": None, "blobs": facts["blobs"]}
        try:
            created = parse_time(facts["created"])
        except (ValueError, AttributeError, TypeError):
            created = None
        return {"index": False, "revision": (facts["config_digest"] or ":").split(":", 1)[1] or None, "created_at": created,
                "total_size": facts["size"], "blobs": facts["blobs"]}


# ---------------------------------------------------------------------------
# The emulator

class GitLabEmulator(EmulatorServer):
    """In-memory GitLab container registry API (``/api/v4``).

    Settings (``configure`` / ``POST /_emulator/config``) are documented in
    ``docs/emulators.md``; ``reset()`` keeps them (and recreates the default
    ``acme/app`` project when ``default_project`` is on).
    """

    provider = "gitlab"
    default_port = 8083

    def __init__(self, host="127.0.0.1", port=0, clock=None, verbose=False, **settings):
        self.clock = clock or _utcnow
        self._clock_offset = timedelta(0)
        self.tokens = {}
        self.job_tokens = {}
        self.registry_host = None
        self.registry_scheme = "http"
        self.registry_backing = True
        self.backend_credentials = None
        self.backend = None
        self.external_url = None
        self.default_per_page = 20
        self.max_per_page = 100
        self.count_limit = 10000
        self.keyset_tags = True
        self.tag_delete_status = 204
        self.repository_delete_status = 202
        self.bulk_delete_status = 202
        self.async_delay = 0.3
        self.async_polls = None
        self.repository_delete_outcome = "success"
        self.bulk_delete_lease_seconds = 3600
        self.bulk_delete_limit = None
        self.repository_size = True
        self.requests_per_period = 0  # setting "rate_limit" (rate_limit() is the framework's fault method)
        self.rate_limit_period = 3600.0
        self.default_project = True
        self.groups = {}
        self.projects = {}
        self.repositories = {}
        self.deploy_tokens = {}
        self.repository_rules = {}
        self.tag_rules = {}
        self.jobs = {}
        self.job_history = []
        self.policy_runs = []
        self.leases = {}
        self._ids = {}
        self._hits = {}
        self._hits_lock = threading.Lock()
        self._local = threading.local()
        self._jwt = None
        self._jwt_lock = threading.Lock()
        self.jwt_issued = []
        super().__init__(host=host, port=port, verbose=verbose)
        defaults = {"tokens": DEFAULT_TOKENS, "job_tokens": DEFAULT_JOB_TOKENS}
        defaults.update(settings)
        self.configure(**defaults)
        self.reset_state()

    # -- configuration -------------------------------------------------------
    def configure(self, **settings):
        """Change settings and run actions (``advance_clock``, ``complete_jobs``); returns the settings."""
        actions = {}
        for key, value in settings.items():
            if key in ("advance_clock", "complete_jobs"):
                actions[key] = value
            elif key == "tokens":
                self.tokens = self._build_tokens(value)
            elif key == "job_tokens":
                self.job_tokens = self._build_job_tokens(value)
            elif key in ("registry_host", "external_url"):
                if value is not None and (not isinstance(value, str) or not value):
                    raise ApiError(400, f"{key} must be a non-empty string or null")
                if key == "registry_host" and value is not None and "/" in value:
                    raise ApiError(400, "registry_host must be host[:port]")
                setattr(self, key, value.rstrip("/") if key == "external_url" and value else value)
            elif key == "registry_scheme":
                self._choice(key, value, ("http", "https"))
            elif key == "backend_credentials":
                if value is not None and not (isinstance(value, dict) and isinstance(value.get("username"), str)
                                              and isinstance(value.get("password"), str)):
                    raise ApiError(400, "backend_credentials must be {\"username\": str, \"password\": str} or null")
                self.backend_credentials = dict(value) if value else None
            elif key in ("registry_backing", "keyset_tags", "repository_size", "default_project"):
                if not isinstance(value, bool):
                    raise ApiError(400, f"{key} must be a boolean")
                setattr(self, key, value)
            elif key in ("default_per_page", "max_per_page", "count_limit", "bulk_delete_lease_seconds"):
                if not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "bulk_delete_lease_seconds" else 1):
                    raise ApiError(400, f"{key} must be a positive integer")
                setattr(self, key, value)
            elif key in ("async_polls", "bulk_delete_limit"):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                    raise ApiError(400, f"{key} must be a positive integer or null")
                setattr(self, key, value)
            elif key == "async_delay":
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                    raise ApiError(400, "async_delay must be a number of seconds >= 0 or null")
                self.async_delay = None if value is None else float(value)
            elif key in STATUS_CHOICES:
                self._choice(key, value, STATUS_CHOICES[key])
            elif key == "repository_delete_outcome":
                self._choice(key, value, ("success", "failed"))
            elif key == "rate_limit":
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ApiError(400, "rate_limit must be a non-negative integer")
                self.requests_per_period = value
            elif key == "rate_limit_period":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ApiError(400, "rate_limit_period must be a positive number of seconds")
                self.rate_limit_period = float(value)
            elif key == "clock":
                if value is None:
                    self.clock = _utcnow
                else:
                    try:
                        fixed = parse_time(value)
                    except (TypeError, ValueError) as exc:
                        raise ApiError(400, "clock must be an ISO 8601 time or null") from exc
                    self.clock = lambda fixed=fixed: fixed
                self._clock_offset = timedelta(0)
            else:
                raise ApiError(400, f"unknown setting {key!r}")
        self._rebuild_backend()
        if "advance_clock" in actions:
            value = actions["advance_clock"]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ApiError(400, "advance_clock must be a number of seconds")
            self.advance_clock(value)
        if actions.get("complete_jobs"):
            self.complete_jobs()
        return self.settings()

    def _choice(self, key, value, choices):
        if value not in choices:
            raise ApiError(400, f"{key} must be one of {', '.join(map(str, choices))}")
        setattr(self, key, value)

    @staticmethod
    def _build_tokens(value):
        if not isinstance(value, (list, tuple)):
            raise ApiError(400, "tokens must be a list of {token, access_level, ...}")
        out = {}
        for item in value:
            if isinstance(item, str):
                item = {"token": item}
            if not isinstance(item, dict) or not isinstance(item.get("token"), str) or not item["token"]:
                raise ApiError(400, "each token needs a non-empty 'token' string")
            level = item.get("access_level", "owner")
            if level not in ACCESS_LEVELS:
                raise ApiError(400, f"access_level must be one of {', '.join(ACCESS_LEVELS)}")
            scopes = list(item.get("scopes") or ["api"])
            if any(s not in TOKEN_SCOPES for s in scopes):
                raise ApiError(400, f"token scopes must be among {', '.join(TOKEN_SCOPES)}")
            expires = item.get("expires_at")
            out[item["token"]] = {"token": item["token"], "user": item.get("user") or f"user-{len(out) + 1}",
                                  "access_level": level, "admin": bool(item.get("admin", False) or level == "admin"),
                                  "scopes": scopes, "kind": item.get("kind", "personal"), "scope_path": item.get("scope_path"),
                                  "expires_at": parse_time(expires) if expires else None, "revoked": bool(item.get("revoked", False))}
        return out

    @staticmethod
    def _build_job_tokens(value):
        if not isinstance(value, (list, tuple)):
            raise ApiError(400, "job_tokens must be a list of {token, project, ...}")
        out = {}
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("token"), str) or not item["token"] or "project" not in item:
                raise ApiError(400, "each job token needs 'token' and 'project' (id or full path)")
            level = item.get("access_level", "developer")
            if level not in ACCESS_LEVELS or level == "admin":
                raise ApiError(400, "a job token's access_level must be a project role")
            out[item["token"]] = {"token": item["token"], "project": item["project"], "user": item.get("user", "ci-user"),
                                  "access_level": level, "active": bool(item.get("active", True))}
        return out

    def settings(self):
        """Current settings (token values are listed: they are test fixtures, not secrets)."""
        creds = None
        if self.backend_credentials:
            creds = {"username": self.backend_credentials["username"], "password": "***"}
        return {
            "tokens": [dict(t, expires_at=fmt_z(t["expires_at"])) for t in self.tokens.values()],
            "job_tokens": [dict(t) for t in self.job_tokens.values()],
            "registry_host": self.registry_host, "registry_scheme": self.registry_scheme, "registry_backing": self.registry_backing,
            "backend_credentials": creds, "backed": self.backed, "external_url": self.external_url,
            "default_per_page": self.default_per_page, "max_per_page": self.max_per_page, "count_limit": self.count_limit,
            "keyset_tags": self.keyset_tags, "tag_delete_status": self.tag_delete_status,
            "repository_delete_status": self.repository_delete_status, "bulk_delete_status": self.bulk_delete_status,
            "async_delay": self.async_delay, "async_polls": self.async_polls, "repository_delete_outcome": self.repository_delete_outcome,
            "bulk_delete_lease_seconds": self.bulk_delete_lease_seconds, "bulk_delete_limit": self.bulk_delete_limit,
            "repository_size": self.repository_size, "rate_limit": self.requests_per_period, "rate_limit_period": self.rate_limit_period,
            "default_project": self.default_project, "clock": fmt_z(self.now()),
        }

    @property
    def location_host(self):
        """The registry host in ``location`` fields: ``registry_host``, else ``gitlab.example.com:5050``."""
        return self.registry_host or DEFAULT_REGISTRY_HOST

    @property
    def backed(self):
        """True when tags are read from (and deleted on) the real registry at ``registry_host``."""
        return self.backend is not None

    def _rebuild_backend(self):
        wanted = None
        if self.registry_host and self.registry_backing:
            creds = self.backend_credentials or {}
            wanted = (f"{self.registry_scheme}://{self.registry_host}", creds.get("username"), creds.get("password"))
        current = None if self.backend is None else (self.backend.base_url, self.backend.username, self.backend.password)
        if wanted != current:
            self.backend = GitLabOciBackend(*wanted) if wanted else None

    def reset_state(self):
        """Drop every group, project, repository, token, rule and job; recreate the default project."""
        for store in (self.groups, self.projects, self.repositories, self.deploy_tokens, self.repository_rules, self.tag_rules,
                      self.jobs, self.leases):
            store.clear()
        self.job_history.clear()
        self.policy_runs.clear()
        self.jwt_issued.clear()
        with self._hits_lock:
            self._hits.clear()
        # Distinct id ranges so a client mixing up ids gets a 404, not a wrong object.
        self._ids = {"group": 100, "project": 1000, "repository": 2000, "deploy_token": 3000, "repository_rule": 4000,
                     "tag_rule": 5000, "job": 0}
        if self.default_project:
            self._ensure_project(DEFAULT_PROJECT, name="App")

    def _next_id(self, kind):
        self._ids[kind] += 1
        return self._ids[kind]

    # -- the clock -------------------------------------------------------------
    def now(self):
        """The emulated time (``clock`` + ``advance_clock`` offsets)."""
        return parse_time(self.clock()) + self._clock_offset

    def advance_clock(self, seconds):
        """Move the emulated clock forward (the hourly bulk limit, policy runs, token expiry)."""
        with self.lock:
            self._clock_offset += timedelta(seconds=float(seconds))
            self._process_jobs()

    # -- errors --------------------------------------------------------------
    def error_body(self, status, message, exception_class=None, request=None, **extra):
        """``{"message": ...}`` (``render_api_error!``), ``{"error": ...}`` (Grape, OAuth, routing), text for 429."""
        if status == 429:
            return "Retry later\n"
        if message is None or message == _default_reason(status):
            message = _GITLAB_REASONS.get(status, f"{status} {_default_reason(status)}")
        if exception_class == "error":
            body = {"error": message}
        else:
            body = {"message": message}
        body.update(extra)
        return body

    def error_headers(self, status, request=None):
        """429 carries the Rack::Attack headers (``Retry-After`` comes from the fault or the throttle)."""
        if status != 429:
            return {}
        reset = int(time.time()) + 60
        return {"RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": str(self.requests_per_period or 7200),
                "RateLimit-Observed": str((self.requests_per_period or 7200) + 1), "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset), "RateLimit-ResetTime": http_date(60)}

    def resolve(self, method, raw_path):
        """GitLab's catch-all route: an unknown path or method is ``404 {"error": "404 Not Found"}``; a trailing ``/`` is ignored."""
        if raw_path.endswith("/") and raw_path.rstrip("/"):
            raw_path = raw_path.rstrip("/")
        try:
            return super().resolve(method, raw_path)
        except ApiError as err:
            raise ApiError(404, "404 Not Found", "error") from err

    # -- request pipeline ------------------------------------------------------
    def handle_request(self, request):
        """Rack::Attack throttle (when ``rate_limit`` > 0), background work, then routing and the handler.

        ``/jwt/auth`` is answered without the emulator's lock: a backed emulator's own registry calls (made
        under the lock) are challenged by the registry and come back here for a token.
        """
        if request.path == JWT_PATH:
            request.route = JWT_PATH
            return self.jwt_auth(request)
        throttle_headers = None
        if self.requests_per_period:
            throttle_headers, limited = self._throttle(request)
            if limited:
                err = ApiError(429, "Retry later", headers=throttle_headers)
                return self._error_response(err, request)
        self._local.cache = {}
        self._local.base = self.external_url or f"http://{request.header('Host') or f'{self.host}:{self.port}'}"
        try:
            with self.lock:
                self._process_jobs()
            response = super().handle_request(request)
        finally:
            self._local.cache = None
        if throttle_headers:
            for name, value in throttle_headers.items():
                response.headers.setdefault(name, value)
        return response

    def _throttle(self, request):
        """Fixed-window counter per credential (or client address); returns ``(headers, limited)``."""
        ident = (request.header("PRIVATE-TOKEN") or request.header("Authorization") or request.header("JOB-TOKEN")
                 or request.client_address or "")
        name = "throttle_authenticated_api" if ident != (request.client_address or "") else "throttle_unauthenticated_api"
        period = self.rate_limit_period
        now = time.time()
        window = int(now // period)
        with self._hits_lock:
            if len(self._hits) > 1000:  # forget finished windows
                for key in [k for k in self._hits if k[1] != window]:
                    del self._hits[key]
            count = self._hits.get((ident, window), 0) + 1
            self._hits[(ident, window)] = count
        reset = int((window + 1) * period)
        limited = count > self.requests_per_period
        headers = {"RateLimit-Name": name, "RateLimit-Limit": str(self.requests_per_period), "RateLimit-Observed": str(count),
                   "RateLimit-Remaining": str(max(self.requests_per_period - count, 0)), "RateLimit-Reset": str(reset)}
        if limited:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            headers["RateLimit-ResetTime"] = http_date(reset - now)
        return headers, limited

    def _memo(self, key, compute):
        cache = getattr(self._local, "cache", None)
        if cache is None:
            return compute()
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def _memo_drop(self, prefix):
        cache = getattr(self._local, "cache", None)
        if cache is not None:
            for key in [k for k in cache if k[:len(prefix)] == prefix]:
                del cache[key]

    @property
    def base_url(self):
        """``http://<host>`` of the current request (``external_url`` when set)."""
        return getattr(self._local, "base", None) or self.external_url or self.url

    # -- authentication --------------------------------------------------------
    def _principal(self, request, job_token_allowed=False):
        """Who is calling: a personal/project/group/OAuth token, or a CI job token where the endpoint takes one."""
        query = request.query
        token = request.header("PRIVATE-TOKEN") or query.get("private_token")
        if not token:
            scheme, _unused, value = (request.header("Authorization") or "").strip().partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                token = value.strip()
            token = token or query.get("access_token")
        if token:
            rec = self.tokens.get(token)
            if rec is None:
                raise ApiError(401, "401 Unauthorized")
            if rec["revoked"]:
                raise ApiError(401, "invalid_token", "error", error_description="Token has been revoked.")
            if rec["expires_at"] is not None and rec["expires_at"] <= self.now():
                raise ApiError(401, "invalid_token", "error", error_description="Token has expired.")
            scopes = set(rec["scopes"])
            reading = request.method in ("GET", "HEAD")
            if "api" not in scopes and not (reading and "read_api" in scopes):
                raise ApiError(403, "insufficient_scope", "error",
                               error_description="The request requires higher privileges than provided by the access token.",
                               scope="api read_api" if reading else "api")
            level = ADMIN if rec["admin"] else ACCESS_LEVELS[rec["access_level"]]
            return {"kind": rec["kind"], "user": rec["user"], "level": level, "admin": rec["admin"], "scope_path": rec["scope_path"],
                    "project_id": None}
        job = request.header("JOB-TOKEN") or query.get("job_token")
        if job and job_token_allowed:
            rec = self.job_tokens.get(job)
            project = self._find_project(str(rec["project"])) if rec else None
            if rec is None or not rec["active"] or project is None:
                raise ApiError(401, "401 Unauthorized")
            return {"kind": "job", "user": rec["user"], "level": ACCESS_LEVELS[rec["access_level"]], "admin": False,
                    "scope_path": None, "project_id": project["id"]}
        raise ApiError(401, "401 Unauthorized")

    def _api(self, method, template, handler, job_token=False):
        """Register an ``/api/v4`` route whose handler gets an authenticated ``request.principal``."""
        def guarded(request):
            request.principal = self._principal(request, job_token)
            return handler(request)
        guarded.__doc__ = handler.__doc__
        self.route(method, API + template, guarded, name=f"{method} {API}{template}")

    # -- routes --------------------------------------------------------------
    def setup_routes(self):
        """Every operation of the reference note (see docs/emulators.md for the list)."""
        proj = "/projects/{id:enc}"
        repo = proj + "/registry/repositories/{repository_id}"
        self._api("GET", proj, self.get_project)
        self._api("PUT", proj, self.update_project)
        self._api("GET", proj + "/registry/repositories", self.list_project_repositories, job_token=True)
        self._api("DELETE", repo, self.delete_repository, job_token=True)
        self._api("GET", repo + "/tags", self.list_tags, job_token=True)
        self._api("DELETE", repo + "/tags", self.bulk_delete_tags, job_token=True)
        self._api("GET", repo + "/tags/{tag_name}", self.get_tag, job_token=True)
        self._api("DELETE", repo + "/tags/{tag_name}", self.delete_tag, job_token=True)
        self._api("GET", "/groups/{id:enc}/registry/repositories", self.list_group_repositories)
        self._api("GET", "/registry/repositories/{repository_id:int}", self.get_repository, job_token=True)
        for owner in ("projects", "groups"):
            base = f"/{owner}/{{id:enc}}/deploy_tokens"
            self._api("GET", base, self.list_deploy_tokens)
            self._api("POST", base, self.create_deploy_token)
            self._api("GET", base + "/{token_id}", self.get_deploy_token)
            self._api("DELETE", base + "/{token_id}", self.delete_deploy_token)
        self._api("GET", "/deploy_tokens", self.list_all_deploy_tokens)
        for kind in ("repository", "tag"):
            base = proj + f"/registry/protection/{kind}/rules"
            self._api("GET", base, self.list_rules)
            self._api("POST", base, self.create_rule)
            self._api("PATCH", base + "/{protection_rule_id}", self.update_rule)
            self._api("DELETE", base + "/{protection_rule_id}", self.delete_rule)

    # -- pagination ----------------------------------------------------------
    def _page_params(self, params):
        try:
            page = coerce_int(params, "page", 1)
            per_page = coerce_int(params, "per_page", self.default_per_page)
        except ApiError:
            raise
        if per_page == 0:
            raise _grape_error("per_page has a value not allowed")
        if page < 1:
            raise _grape_error("page does not have a valid value")
        if per_page < 1:
            raise _grape_error("per_page does not have a valid value")
        return page, min(per_page, self.max_per_page)

    def _link(self, request, **overrides):
        pairs = [(k, v) for k, v in request.query_list if k not in overrides]
        pairs += [(k, str(v)) for k, v in overrides.items()]
        return f"<{self.base_url}{request.path}?{urllib.parse.urlencode(pairs)}>"

    def _paginate(self, request, items, keyset_ok=False):
        """Offset pagination (``page``/``per_page``, ``Link``, ``X-*`` headers); ``pagination=keyset`` only where offered."""
        params = request_params(request)
        if params.get("pagination") == "keyset" and not keyset_ok:
            raise ApiError(405, KEYSET_UNAVAILABLE, "error")
        page, per_page = self._page_params(params)
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        nxt = page + 1 if start + per_page < total else None
        prev = page - 1 if page > 1 else None
        links = []
        if prev:
            links.append(self._link(request, page=min(prev, pages), per_page=per_page) + '; rel="prev"')
        if nxt:
            links.append(self._link(request, page=nxt, per_page=per_page) + '; rel="next"')
        links.append(self._link(request, page=1, per_page=per_page) + '; rel="first"')
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Next-Page": str(nxt or ""), "X-Prev-Page": str(prev or "")}
        if total <= self.count_limit:
            links.append(self._link(request, page=pages, per_page=per_page) + '; rel="last"')
            headers["X-Total"] = str(total)
            headers["X-Total-Pages"] = str(pages)
        headers["Link"] = ", ".join(links)
        return Response(200, chunk, headers)

    # -- lookups -------------------------------------------------------------
    def _group_path(self, group):
        parts = []
        while group is not None:
            parts.append(group["path"])
            group = self.groups.get(group["parent_id"])
        return "/".join(reversed(parts))

    def _project_path(self, project):
        return f"{self._group_path(self.groups[project['namespace_id']])}/{project['path']}"

    def _find_project(self, ref):
        ref = str(ref)
        if ref.isdigit():
            return self.projects.get(int(ref))
        lower = ref.lower()
        return next((p for p in self.projects.values() if self._project_path(p).lower() == lower), None)

    def _find_group(self, ref):
        ref = str(ref)
        if ref.isdigit():
            return self.groups.get(int(ref))
        lower = ref.lower()
        return next((g for g in self.groups.values() if self._group_path(g).lower() == lower), None)

    @staticmethod
    def _under(path, scope_path):
        return scope_path is None or path.lower() == scope_path.lower() or path.lower().startswith(scope_path.lower() + "/")

    def _project(self, request, level=None):
        """The ``:id`` project, checked against the caller (404 hidden, 403 job token elsewhere or role too low)."""
        principal = request.principal
        project = self._find_project(request.params["id"])
        if project is None or not self._under(self._project_path(project), principal["scope_path"]):
            raise ApiError(404, "404 Project Not Found")
        if principal["kind"] == "job" and principal["project_id"] != project["id"]:
            source = self.projects[principal["project_id"]]
            raise ApiError(403, f"403 Forbidden - Authentication by CI/CD job token not allowed from {source['path']} "
                                f"to {project['path']}.")
        if level is not None and principal["level"] < level:
            raise ApiError(403, "403 Forbidden")
        return project

    def _group(self, request, level):
        principal = request.principal
        group = self._find_group(request.params["id"])
        if group is None or not self._under(self._group_path(group), principal["scope_path"]):
            raise ApiError(404, "404 Group Not Found")
        if principal["level"] < level:
            raise ApiError(403, "403 Forbidden")
        return group

    def _read_registry(self, principal, project):
        """``read_container_image``: registry not disabled; ``private`` needs Reporter."""
        access = project["container_registry_access_level"]
        needed = REPORTER if access == "private" else GUEST
        if access == "disabled" or principal["level"] < needed:
            raise ApiError(403, "403 Forbidden")

    def _write_registry(self, principal, project):
        """``destroy_container_image`` / ``admin_container_image``: Developer."""
        self._read_registry(principal, project)
        if principal["level"] < DEVELOPER:
            raise ApiError(403, "403 Forbidden")

    @staticmethod
    def _int_param(request, name):
        raw = request.params[name]
        if not str(raw).isdigit():
            raise _grape_error(f"{name} is invalid")
        return int(raw)

    def _repository(self, request, project):
        repo_id = self._int_param(request, "repository_id")
        repo = self.repositories.get(repo_id)
        if repo is None and self.backed:
            self._sync_backed(project)
            repo = self.repositories.get(repo_id)
        if repo is None or repo["project_id"] != project["id"]:
            raise ApiError(404, "404 Not found")
        return repo

    # -- storage: emulator state or the real registry ----------------------------
    def repository_path(self, repo):
        """``<project full path>[/<name>]``."""
        base = self._project_path(self.projects[repo["project_id"]])
        return f"{base}/{repo['name']}" if repo["name"] else base

    def _backend_call(self, func, *args):
        try:
            return func(*args)
        except BackendError as exc:
            raise ApiError(503, f"503 Service Unavailable - container registry unavailable: {exc}") from exc

    def _sync_backed(self, project):
        """Backed: create a record for each catalog repository under the project's path that has tags."""
        base = self._project_path(project)
        known = {self.repository_path(r) for r in self.repositories.values() if r["project_id"] == project["id"]}
        for name in self._memo(("catalog",), lambda: self._backend_call(self.backend.catalog)):
            if name in known or not (name == base or name.startswith(base + "/")):
                continue
            if self._memo(("tags", name), lambda n=name: self._backend_call(self.backend.tags, n)):
                self._new_repository(project, name[len(base) + 1:] if name != base else "")

    def _project_repositories(self, project):
        if self.backed:
            self._sync_backed(project)
        return sorted((r for r in self.repositories.values() if r["project_id"] == project["id"]), key=lambda r: (r["name"], r["id"]))

    def _tags(self, repo):
        """``{name: {name, digest, revision, created_at, total_size, blobs}}``."""
        if not self.backed:
            return repo["tags"]
        return self._memo(("tagmap", repo["id"]), lambda: self._read_backed_tags(repo))

    def _read_backed_tags(self, repo):
        out = {}
        for name in self._backed_tag_names(repo):
            tag = self._read_backed_tag(repo, name)
            if tag is not None:
                out[name] = tag
        return out

    def _backed_tag_names(self, repo):
        path = self.repository_path(repo)
        return self._memo(("tags", path), lambda: self._backend_call(self.backend.tags, path))

    def _read_backed_tag(self, repo, name):
        path = self.repository_path(repo)
        digest = self._backend_call(self.backend.resolve, path, name)
        if not digest:
            return None
        facts = self._backend_call(self.backend.facts, path, digest)
        return {"name": name, "digest": digest, "revision": facts["revision"], "created_at": facts["created_at"],
                "total_size": facts["total_size"], "blobs": facts["blobs"]}

    def _tag(self, repo, name):
        """One tag's record, or None; backed, only that tag is resolved (a details request must not read every tag)."""
        if not self.backed:
            return repo["tags"].get(name)
        if name not in self._backed_tag_names(repo):
            return None
        return self._memo(("tag", repo["id"], name), lambda: self._read_backed_tag(repo, name))

    def _remove_tags(self, repo, names):
        """Delete tags (other tags on the same digest stay); returns the names removed."""
        removed = []
        for name in names:
            if self.backed:
                self._backend_call(self.backend.untag, self.repository_path(repo), name)
            elif repo["tags"].pop(name, None) is None:
                continue
            removed.append(name)
        if self.backed:
            self._memo_drop(("tagmap", repo["id"]))
            self._memo_drop(("tags", self.repository_path(repo)))
        return removed

    def _drop_repository(self, repo):
        if self.backed:
            path = self.repository_path(repo)
            for digest in sorted({t["digest"] for t in self._tags(repo).values()}):
                status = self._backend_call(self.backend.delete_manifest, path, digest)
                if status not in (200, 202, 404):
                    raise ApiError(503, f"503 Service Unavailable - container registry refused the delete ({status})")
            self._memo_drop(("tagmap", repo["id"]))
            self._memo_drop(("tags", path))
        self.repositories.pop(repo["id"], None)
        self.leases.pop(repo["id"], None)

    def _repository_size(self, repo):
        if not self.repository_size or repo["created_at"] < SIZE_AVAILABLE_SINCE:
            return None
        blobs = {}
        for tag in self._tags(repo).values():
            if tag.get("blobs"):
                blobs.update(tag["blobs"])
            else:
                blobs[tag["digest"]] = tag["total_size"] or 0
        return sum(blobs.values())

    def _new_repository(self, project, name, repo_id=None, created_at=None):
        repo_id = int(repo_id) if repo_id is not None else self._next_id("repository")
        self._ids["repository"] = max(self._ids["repository"], repo_id)
        repo = {"id": repo_id, "project_id": project["id"], "name": name, "created_at": parse_time(created_at) or self.now(),
                "cleanup_policy_started_at": None, "status": None, "tags": {}}
        self.repositories[repo_id] = repo
        return repo

    # -- serializers ---------------------------------------------------------
    def repository_json(self, repo, principal=None, tags=False, tags_count=False, size=False):
        """``Entities::ContainerRegistry::Repository``."""
        path = self.repository_path(repo)
        body = {"id": repo["id"], "name": repo["name"], "path": path, "project_id": repo["project_id"],
                "location": f"{self.location_host}/{path}", "created_at": fmt_z(repo["created_at"]),
                "cleanup_policy_started_at": fmt_z(repo["cleanup_policy_started_at"])}
        if tags_count:
            body["tags_count"] = len(self._tags(repo))
        if tags:
            body["tags"] = [self.tag_json(repo, name) for name in sorted(self._tags(repo))]
        project = self.projects[repo["project_id"]]
        if principal is not None and principal["level"] >= DEVELOPER and project["container_registry_access_level"] != "disabled":
            body["delete_api_path"] = f"{self.base_url}{API}/projects/{repo['project_id']}/registry/repositories/{repo['id']}"
        if size:
            body["size"] = self._repository_size(repo)
        body["status"] = self._repository_status(repo)
        return body

    def tag_json(self, repo, name):
        """``Entities::ContainerRegistry::Tag``: ``{name, path, location}``."""
        path = f"{self.repository_path(repo)}:{name}"
        return {"name": name, "path": path, "location": f"{self.location_host}/{path}"}

    def tag_details_json(self, repo, tag):
        """``Entities::ContainerRegistry::TagDetails``."""
        body = self.tag_json(repo, tag["name"])
        revision = tag["revision"]
        body.update({"revision": revision, "short_revision": revision[:9] if revision else None, "digest": tag["digest"],
                     "created_at": fmt_offset(tag["created_at"]), "total_size": tag["total_size"]})
        return body

    def project_json(self, project):
        """The fields of ``Entities::Project`` the registry features use."""
        group = self.groups[project["namespace_id"]]
        full = self._project_path(project)
        policy = project["policy"]
        return {
            "id": project["id"], "description": project["description"], "name": project["name"],
            "name_with_namespace": f"{self._group_name_path(group)} / {project['name']}", "path": project["path"],
            "path_with_namespace": full, "created_at": fmt_z(project["created_at"]), "web_url": f"{self.base_url}/{full}",
            "namespace": {"id": group["id"], "name": group["name"], "path": group["path"], "kind": "group",
                          "full_path": self._group_path(group), "parent_id": group["parent_id"]},
            "visibility": project["visibility"],
            "container_registry_enabled": project["container_registry_access_level"] != "disabled",
            "container_registry_access_level": project["container_registry_access_level"],
            "container_registry_image_prefix": f"{self.location_host}/{full}",
            "container_expiration_policy": {key: policy[key] for key in POLICY_KEYS} | {"next_run_at": fmt_z(policy["next_run_at"])},
        }

    def _group_name_path(self, group):
        names = []
        while group is not None:
            names.append(group["name"])
            group = self.groups.get(group["parent_id"])
        return " / ".join(reversed(names))

    def deploy_token_json(self, token, with_token=False):
        """``Entities::DeployToken`` (``DeployTokenWithToken`` on create)."""
        body = {"id": token["id"], "name": token["name"], "username": token["username"], "expires_at": fmt_z(token["expires_at"])}
        if with_token:
            body["token"] = token["token"]
        body.update({"revoked": token["revoked"], "expired": self._token_expired(token),
                     "scopes": [s for s in DEPLOY_TOKEN_SCOPES if s in token["scopes"]]})
        return body

    def _token_expired(self, token):
        return token["expires_at"] is not None and token["expires_at"] <= self.now()

    @staticmethod
    def rule_json(rule):
        """Repository rule ``{id, project_id, repository_path_pattern, ...}`` or tag rule ``{..., tag_name_pattern, ...}``."""
        key = "repository_path_pattern" if rule["kind"] == "repository" else "tag_name_pattern"
        return {"id": rule["id"], "project_id": rule["project_id"], key: rule["pattern"],
                "minimum_access_level_for_push": rule["push"], "minimum_access_level_for_delete": rule["delete"]}

    # -- projects ----------------------------------------------------------------
    def get_project(self, request):
        """GET /projects/:id (the registry-related subset of the project), with ``permissions``: the caller's membership
        level, as GitLab answers an authenticated user (an administrator is no member: both null)."""
        body = self.project_json(self._project(request, GUEST))
        principal = request.principal
        member = None if principal["admin"] else {"access_level": principal["level"], "notification_level": 3}
        body["permissions"] = {"project_access": member, "group_access": None}
        return body

    def update_project(self, request):
        """PUT /projects/:id: ``container_registry_access_level``, ``container_registry_enabled``,
        ``container_expiration_policy_attributes`` (Maintainer)."""
        params = request_params(request)
        access = coerce_str(params, "container_registry_access_level")
        if access is not None and access not in REGISTRY_ACCESS_LEVELS:
            raise _grape_error("container_registry_access_level does not have a valid value")
        enabled = coerce_bool(params, "container_registry_enabled")
        visibility = coerce_str(params, "visibility")
        if visibility is not None and visibility not in VISIBILITIES:
            raise _grape_error("visibility does not have a valid value")
        attrs = None
        if "container_expiration_policy_attributes" in params:
            raw = params["container_expiration_policy_attributes"]
            if not isinstance(raw, dict):
                raise _grape_error("container_expiration_policy_attributes is invalid")
            attrs = self._policy_attributes(raw)
        if not any(key in params for key in PROJECT_UPDATE_KEYS):
            raise _grape_error(f"{', '.join(PROJECT_UPDATE_KEYS)} are missing, at least one parameter must be provided")
        project = self._project(request, MAINTAINER)
        if attrs is not None:
            policy = dict(project["policy"], **attrs)
            errors = self._validate_policy(policy)
            if errors:
                raise ApiError(400, errors)
            policy["next_run_at"] = self.now() + timedelta(seconds=parse_duration(policy["cadence"]) or 86400)
            project["policy"] = policy
        if access is not None:
            project["container_registry_access_level"] = access
        elif enabled is not None:
            project["container_registry_access_level"] = "enabled" if enabled else "disabled"
        for key in ("name", "description"):
            if key in params:
                project[key] = coerce_str(params, key, "")
        if visibility is not None:
            project["visibility"] = visibility
        return self.project_json(project)

    @staticmethod
    def _policy_attributes(raw):
        """Grape types of ``optional_container_expiration_policy_params`` (unknown keys are dropped, as declared params)."""
        label = "container_expiration_policy_attributes[{}]".format
        attrs = {}
        for key in ("cadence", "older_than", "name_regex", "name_regex_keep"):
            if key in raw:
                attrs[key] = coerce_str(raw, key, label=label(key))
        if "keep_n" in raw:
            attrs["keep_n"] = coerce_int(raw, "keep_n", label=label("keep_n"))
        if "enabled" in raw:
            attrs["enabled"] = coerce_bool(raw, "enabled", label=label("enabled"))
        return attrs

    @staticmethod
    def _validate_policy(policy):
        """``ContainerExpirationPolicy`` validations -> ``{"container_expiration_policy.<field>": [errors]}``."""
        errors = {}

        def add(field, message):
            errors.setdefault(f"container_expiration_policy.{field}", []).append(message)
        if policy["enabled"] not in (True, False):
            add("enabled", "is not included in the list")
        if not policy["cadence"]:
            add("cadence", "can't be blank")
        if policy["cadence"] not in CADENCE_OPTIONS:
            add("cadence", "is not included in the list")
        if policy["older_than"] is not None and policy["older_than"] not in OLDER_THAN_OPTIONS:
            add("older_than", "is not included in the list")
        if policy["keep_n"] is not None and policy["keep_n"] not in KEEP_N_OPTIONS:
            add("keep_n", "is not included in the list")
        if policy["enabled"]:
            for key in ("name_regex", "name_regex_keep"):
                if policy[key] is not None:
                    try:
                        compile_re2(policy[key])
                    except ValueError as exc:
                        add(key, f"not valid RE2 syntax: {exc}")
        return errors

    # -- repositories ------------------------------------------------------------
    def list_project_repositories(self, request):
        """GET /projects/:id/registry/repositories (``tags``, ``tags_count``)."""
        project = self._project(request)
        self._read_registry(request.principal, project)
        params = request_params(request)
        with_tags, with_count = coerce_bool(params, "tags", False), coerce_bool(params, "tags_count", False)
        repos = self._polled(self._project_repositories(project))
        return self._paginate(request, [self.repository_json(r, request.principal, tags=with_tags, tags_count=with_count) for r in repos])

    def list_group_repositories(self, request):
        """GET /groups/:id/registry/repositories (no ``tags``/``tags_count`` since 15.0); subgroups included."""
        group = self._group(request, REPORTER)
        base = self._group_path(group)
        repos = []
        for project in sorted(self.projects.values(), key=lambda p: p["id"]):
            if project["container_registry_access_level"] == "disabled" or not self._under(self._project_path(project), base):
                continue
            repos.extend(self._project_repositories(project))
        repos = self._polled(sorted(repos, key=lambda r: (r["name"], r["id"])))
        return self._paginate(request, [self.repository_json(r, request.principal) for r in repos])

    def get_repository(self, request):
        """GET /registry/repositories/:id (``tags``, ``tags_count``, ``size``)."""
        repo_id = request.params["repository_id"]
        repo = self.repositories.get(repo_id)
        if repo is None and self.backed:
            for project in list(self.projects.values()):
                self._sync_backed(project)
            repo = self.repositories.get(repo_id)
        if repo is None:
            raise ApiError(404, "404 Not found")
        project = self.projects[repo["project_id"]]
        principal = request.principal
        if principal["kind"] == "job" and principal["project_id"] != project["id"]:
            raise ApiError(403, "403 Forbidden")
        if not self._under(self._project_path(project), principal["scope_path"]):
            raise ApiError(403, "403 Forbidden")
        self._read_registry(principal, project)
        if not self._polled([repo]):
            raise ApiError(404, "404 Not found")
        params = request_params(request)
        return self.repository_json(repo, principal, tags=coerce_bool(params, "tags", False),
                                    tags_count=coerce_bool(params, "tags_count", False), size=coerce_bool(params, "size", False))

    def delete_repository(self, request):
        """DELETE /projects/:id/registry/repositories/:repository_id -> 202, deleted in the background."""
        project = self._project(request)
        self._read_registry(request.principal, project)
        repo = self._repository(request, project)
        self._write_registry(request.principal, project)
        self._check_repository_rules(request.principal, project, repo)
        if self._tags(repo) and self._tag_rules_block_repository_delete(request.principal, project):
            raise ApiError(403, "403 Forbidden")
        if not any(j["repository_id"] == repo["id"] and j["kind"] == "delete_repository" for j in self.jobs.values()):
            repo["status"] = "delete_scheduled"
            self._add_job("delete_repository", repo, request.principal, {})
        return Response(self.repository_delete_status)

    def _repository_status(self, repo):
        job = next((j for j in self.jobs.values() if j["repository_id"] == repo["id"] and j["kind"] == "delete_repository"), None)
        if job is not None:
            return "delete_ongoing" if self._job_ongoing(job) else "delete_scheduled"
        return repo["status"] if repo["status"] in REPOSITORY_STATUSES else None

    # -- tags ----------------------------------------------------------------------
    def list_tags(self, request):
        """GET .../tags: offset pagination, or keyset (``pagination=keyset&order_by=name&sort=asc|desc``, ``Link`` rel=next)."""
        project = self._project(request)
        self._read_registry(request.principal, project)
        repo = self._repository(request, project)
        if not self._polled([repo]):
            raise ApiError(404, "404 Not found")
        names = sorted(self._backed_tag_names(repo) if self.backed else repo["tags"])
        params = request_params(request)
        if params.get("pagination") != "keyset":
            return self._paginate(request, [self.tag_json(repo, n) for n in names])
        order_by, sort = params.get("order_by", "name"), params.get("sort", "asc")
        if not self.keyset_tags or order_by != "name" or sort not in ("asc", "desc"):
            raise ApiError(405, KEYSET_UNAVAILABLE, "error")
        _page, per_page = self._page_params({k: v for k, v in params.items() if k != "page"})
        last = coerce_str(params, "last")
        if sort == "desc":
            names.reverse()
        if last is not None:
            names = [n for n in names if (n > last if sort == "asc" else n < last)]
        chunk = names[:per_page]
        headers = {}
        if len(names) > per_page:
            headers["Link"] = self._link(request, last=chunk[-1]) + '; rel="next"'
        return Response(200, [self.tag_json(repo, n) for n in chunk], headers)

    def get_tag(self, request):
        """GET .../tags/:tag_name -> TagDetails."""
        project = self._project(request)
        self._read_registry(request.principal, project)
        repo = self._repository(request, project)
        if not self._polled([repo]):
            raise ApiError(404, "404 Not found")
        tag = self._tag(repo, request.params["tag_name"])
        if tag is None:
            raise ApiError(404, "404 Tag Not Found")
        return self.tag_details_json(repo, tag)

    def delete_tag(self, request):
        """DELETE .../tags/:tag_name -> 204 (spec; 200 selectable); 403 for a protected tag."""
        project = self._project(request)
        self._read_registry(request.principal, project)
        repo = self._repository(request, project)
        self._write_registry(request.principal, project)
        name = request.params["tag_name"]
        if self._tag(repo, name) is None:
            raise ApiError(404, "404 Tag Not Found")
        self._check_repository_rules(request.principal, project, repo)
        if self._tag_protected(project, name, request.principal["level"], request.principal["admin"]):
            raise ApiError(403, "403 Forbidden")
        self._remove_tags(repo, [name])
        return Response(self.tag_delete_status)

    def bulk_delete_tags(self, request):
        """DELETE .../tags (bulk): 202, runs in the background; once an hour per repository, else 400."""
        project = self._project(request)
        self._read_registry(request.principal, project)
        params = request_params(request)
        spec = self._bulk_params(params)
        repo = self._repository(request, project)
        self._write_registry(request.principal, project)
        self._check_repository_rules(request.principal, project, repo)
        now = self.now()
        lease = self.leases.get(repo["id"])
        if lease is not None and lease > now:
            raise ApiError(400, BULK_LIMIT_MESSAGE)
        self.leases[repo["id"]] = now + timedelta(seconds=self.bulk_delete_lease_seconds)
        self._add_job("cleanup_tags", repo, request.principal, spec)
        return Response(self.bulk_delete_status)

    @staticmethod
    def _bulk_params(params):
        """Grape validation of the bulk delete parameters (query string or body)."""
        spec = {}
        for key in ("name_regex_delete", "name_regex", "name_regex_keep"):
            value = coerce_str(params, key)
            if value is not None:
                try:
                    compile_re2(value)
                except ValueError as exc:
                    raise _grape_error(f"{key} is an invalid regexp: {exc}") from exc
            spec[key] = value
        if spec["name_regex_delete"] is None and spec["name_regex"] is None:
            raise _grape_error("name_regex, name_regex_delete are missing, at least one parameter must be provided")
        spec["keep_n"] = coerce_int(params, "keep_n")
        spec["older_than"] = coerce_str(params, "older_than")
        return spec

    # -- protection ------------------------------------------------------------
    def _check_repository_rules(self, principal, project, repo):
        """Repository protection rules with ``minimum_access_level_for_delete`` above the caller -> 403."""
        if principal["admin"]:
            return
        path = self.repository_path(repo)
        for rule in self.repository_rules.values():
            if rule["project_id"] == project["id"] and rule["delete"] and glob_match(rule["pattern"], path) \
                    and ACCESS_LEVELS[rule["delete"]] > principal["level"]:
                raise ApiError(403, "403 Forbidden")

    def _project_tag_rules(self, project):
        return [r for r in self.tag_rules.values() if r["project_id"] == project["id"]]

    def _tag_protected(self, project, name, level, admin):
        """A tag rule matches the name (RE2 search) and asks more than ``level`` to delete; immutable rules protect from everyone."""
        for rule in self._project_tag_rules(project):
            if not compile_re2(rule["pattern"]).search(name):
                continue
            if rule["delete"] is None and rule["push"] is None:
                return True
            if not admin and rule["delete"] is not None and ACCESS_LEVELS[rule["delete"]] > level:
                return True
        return False

    def _tag_rules_block_repository_delete(self, principal, project):
        """An image with tags cannot be deleted when any tag rule asks more than the caller (patterns ignored)."""
        rules = self._project_tag_rules(project)
        if any(r["delete"] is None and r["push"] is None for r in rules):
            return True
        if principal["admin"]:
            return False
        return any(r["delete"] is not None and ACCESS_LEVELS[r["delete"]] > principal["level"] for r in rules)

    # -- background jobs ---------------------------------------------------------
    def _add_job(self, kind, repo, principal, params):
        job = {"id": self._next_id("job"), "kind": kind, "repository_id": repo["id"], "project_id": repo["project_id"],
               "repository_path": self.repository_path(repo), "params": dict(params), "level": principal["level"],
               "admin": principal["admin"], "user": principal["user"], "started": time.monotonic(), "created_at": self.now(),
               "polls": 0}
        self.jobs[job["id"]] = job
        return job

    def _job_elapsed(self, job):
        return time.monotonic() - job["started"]

    def _job_due(self, job):
        if self.async_delay is not None and self._job_elapsed(job) >= self.async_delay:
            return True
        return self.async_polls is not None and job["polls"] >= self.async_polls

    def _job_ongoing(self, job):
        if self.async_delay is not None and self._job_elapsed(job) >= self.async_delay / 2:
            return True
        return self.async_polls is not None and job["polls"] > math.ceil((self.async_polls - 1) / 2)

    def _polled(self, repos):
        """Count a read of each repository as a poll of its pending jobs; returns the repositories still there."""
        out = []
        for repo in repos:
            for job in [j for j in self.jobs.values() if j["repository_id"] == repo["id"]]:
                job["polls"] += 1
                if self._job_due(job):
                    self._run_job(job)
            if repo["id"] in self.repositories:
                out.append(repo)
        return out

    def _process_jobs(self):
        """Finish the jobs whose time has come and run the cleanup policies that are due."""
        for job in list(self.jobs.values()):
            if job["id"] in self.jobs and self.async_delay is not None and self._job_elapsed(job) >= self.async_delay:
                self._run_job(job)
        now = self.now()
        for project in list(self.projects.values()):
            policy = project["policy"]
            if policy["enabled"] and policy["next_run_at"] is not None and policy["next_run_at"] <= now:
                self._run_policy(project, now)

    def complete_jobs(self):
        """Finish every pending job now (test helper; also ``{"complete_jobs": true}`` on ``/_emulator/config``)."""
        with self.lock:
            for job in list(self.jobs.values()):
                if job["id"] in self.jobs:
                    self._run_job(job)

    def _run_job(self, job):
        self.jobs.pop(job["id"], None)
        repo = self.repositories.get(job["repository_id"])
        record = {"id": job["id"], "kind": job["kind"], "repository_id": job["repository_id"], "repository_path": job["repository_path"],
                  "user": job["user"], "params": job["params"], "scheduled_at": fmt_z(job["created_at"]), "finished_at": fmt_z(self.now()),
                  "polls": job["polls"], "status": "done", "deleted": [], "error": None}
        if repo is None:
            record.update(status="skipped", error="repository no longer exists")
        elif job["kind"] == "delete_repository":
            if self.repository_delete_outcome == "failed":
                repo["status"] = "delete_failed"
                record.update(status="failed", error="delete_failed")
            else:
                try:
                    record["deleted"] = sorted(self._tags(repo))
                    self._drop_repository(repo)
                except ApiError as exc:
                    repo["status"] = "delete_failed"
                    record.update(status="failed", error=str(exc.message))
        else:
            project = self.projects[repo["project_id"]]
            try:
                plan = self._cleanup_plan(project, repo, job["params"], job["level"], job["admin"])
                record["kept"] = plan["kept"]
                record["deleted"] = self._remove_tags(repo, plan["delete"])
            except (ApiError, ValueError) as exc:
                record.update(status="failed", error=str(getattr(exc, "message", exc)))
        self.job_history.append(record)
        return record

    def _cleanup_plan(self, project, repo, params, level, admin, policy=False):
        """``CleanupTagsService``: regex filter (anchored), never ``latest``, protected tags out, keep N newest
        (manifest creation time), older than; GitLab.com's per-call cap (``bulk_delete_limit``) last."""
        tags = self._tags(repo)
        delete_re = anchored(params.get("name_regex_delete") if params.get("name_regex_delete") is not None else params.get("name_regex"))
        keep_re = anchored(params.get("name_regex_keep")) if params.get("name_regex_keep") is not None else None
        kept = {}
        candidates = []
        for name in sorted(tags):
            if name == "latest":
                kept[name] = "latest"
            elif delete_re is None or not delete_re.match(name):
                kept[name] = "name_regex_delete does not match"
            elif keep_re is not None and keep_re.match(name):
                kept[name] = "name_regex_keep"
            elif self._tag_protected(project, name, 0 if policy else level, False if policy else admin):
                kept[name] = "protected"
            else:
                candidates.append(name)
        never = datetime.max.replace(tzinfo=timezone.utc)  # no creation time (an index): counted as the newest
        newest_first = sorted(candidates, key=lambda n: (tags[n]["created_at"] or never, n), reverse=True)
        keep_n = params.get("keep_n")
        if keep_n is not None and keep_n > 0:
            for name in newest_first[:keep_n]:
                kept[name] = "keep_n"
            newest_first = newest_first[keep_n:]
        older_than = params.get("older_than")
        if older_than:
            seconds = parse_duration(older_than)
            if seconds is None:
                raise ValueError(f"older_than {older_than!r} is not a duration")
            cutoff = self.now() - timedelta(seconds=seconds)
            for name in [n for n in newest_first if tags[n]["created_at"] is None or tags[n]["created_at"] >= cutoff]:
                kept[name] = "older_than"
            newest_first = [n for n in newest_first if tags[n]["created_at"] is not None and tags[n]["created_at"] < cutoff]
        delete = list(reversed(newest_first))  # oldest first
        if self.bulk_delete_limit is not None and len(delete) > self.bulk_delete_limit:
            for name in delete[self.bulk_delete_limit:]:
                kept[name] = "bulk_delete_limit"
            delete = delete[:self.bulk_delete_limit]
        return {"delete": sorted(delete), "kept": dict(sorted(kept.items()))}

    def _run_policy(self, project, now):
        """One run of the project's cleanup policy over each repository, then ``next_run_at`` += cadence."""
        policy = project["policy"]
        params = {"name_regex_delete": policy["name_regex"] if policy["name_regex"] is not None else "",
                  "name_regex_keep": policy["name_regex_keep"], "keep_n": policy["keep_n"], "older_than": policy["older_than"]}
        run = {"project_id": project["id"], "started_at": fmt_z(now), "repositories": []}
        for repo in self._project_repositories(project):
            if any(j["repository_id"] == repo["id"] and j["kind"] == "delete_repository" for j in self.jobs.values()):
                continue
            if any(r["project_id"] == project["id"] and r["delete"] and glob_match(r["pattern"], self.repository_path(repo))
                   for r in self.repository_rules.values()):
                run["repositories"].append({"repository_id": repo["id"], "skipped": "protected repository"})
                continue
            repo["cleanup_policy_started_at"] = now
            try:
                plan = self._cleanup_plan(project, repo, params, 0, False, policy=True)
                deleted = self._remove_tags(repo, plan["delete"])
                run["repositories"].append({"repository_id": repo["id"], "deleted": deleted, "kept": plan["kept"]})
            except (ApiError, ValueError) as exc:
                run["repositories"].append({"repository_id": repo["id"], "error": str(getattr(exc, "message", exc))})
        policy["next_run_at"] = now + timedelta(seconds=parse_duration(policy["cadence"]) or 86400)
        self.policy_runs.append(run)

    # -- deploy tokens -----------------------------------------------------------
    def _token_owner(self, request, create=False):
        """``("project"|"group", record)`` of a deploy-token route, with the role it needs."""
        if request.route.startswith(API + "/projects/"):
            return "project", self._project(request, MAINTAINER)
        return "group", self._group(request, OWNER if create else MAINTAINER)

    def list_deploy_tokens(self, request):
        """GET /projects|groups/:id/deploy_tokens (``active``), paginated."""
        params = request_params(request)
        kind, owner = self._token_owner(request)
        active = coerce_bool(params, "active")
        tokens = [t for _unused, t in sorted(self.deploy_tokens.items()) if (t["owner_kind"], t["owner_id"]) == (kind, owner["id"])]
        if active is not None:
            tokens = [t for t in tokens if (not t["revoked"] and not self._token_expired(t)) == active]
        return self._paginate(request, [self.deploy_token_json(t) for t in tokens])

    def list_all_deploy_tokens(self, request):
        """GET /deploy_tokens (administrators only)."""
        if not request.principal["admin"]:
            raise ApiError(403, "403 Forbidden")
        params = request_params(request)
        active = coerce_bool(params, "active")
        tokens = [t for _unused, t in sorted(self.deploy_tokens.items())]
        if active is not None:
            tokens = [t for t in tokens if (not t["revoked"] and not self._token_expired(t)) == active]
        return self._paginate(request, [self.deploy_token_json(t) for t in tokens])

    def _deploy_token(self, request):
        kind, owner = self._token_owner(request, create=request.method == "DELETE")
        token_id = self._int_param(request, "token_id")
        token = self.deploy_tokens.get(token_id)
        if token is None or (token["owner_kind"], token["owner_id"]) != (kind, owner["id"]):
            raise ApiError(404, "404 Not found")
        return token

    def get_deploy_token(self, request):
        """GET .../deploy_tokens/:token_id (never the token value)."""
        return self.deploy_token_json(self._deploy_token(request))

    def create_deploy_token(self, request):
        """POST .../deploy_tokens {name*, scopes*, expires_at, username} -> 201 with ``token`` (shown only here)."""
        params = request_params(request)
        spec = self._deploy_token_params(params)
        kind, owner = self._token_owner(request, create=True)
        self._deploy_token_model_checks(spec)
        return Response(201, self.deploy_token_json(self._add_deploy_token(kind, owner, **spec), with_token=True))

    @staticmethod
    def _deploy_token_params(params):
        missing = [k for k in ("name", "scopes") if params.get(k) is None]
        if missing:
            raise _grape_error(", ".join(f"{k} is missing" for k in missing))
        name = coerce_str(params, "name")
        scopes = params["scopes"]
        if isinstance(scopes, str):
            scopes = [s.strip() for s in scopes.split(",") if s.strip()]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise _grape_error("scopes is invalid")
        if any(s not in DEPLOY_TOKEN_SCOPES for s in scopes):
            raise _grape_error("scopes does not have a valid value")
        expires_at = None
        if params.get("expires_at") not in (None, ""):
            try:
                expires_at = parse_time(coerce_str(params, "expires_at"))
            except ValueError as exc:
                raise _grape_error("expires_at is invalid") from exc
        return {"name": name, "scopes": scopes, "expires_at": expires_at, "username": coerce_str(params, "username")}

    @staticmethod
    def _deploy_token_model_checks(spec):
        """``DeployToken`` validations (after authorization, as the create service runs them) -> 400 ``{"message": ...}``."""
        if not spec["name"].strip():
            raise ApiError(400, "Name can't be blank")
        if not spec["scopes"]:
            raise ApiError(400, "Scopes can't be blank")
        if spec["username"] is not None and not DEPLOY_USERNAME_RE.fullmatch(spec["username"]):
            raise ApiError(400, "Username can contain only letters, digits, '_', '-', '+', and '.'")

    def _add_deploy_token(self, kind, owner, name, scopes, expires_at=None, username=None, token=None, revoked=False, token_id=None):
        token_id = int(token_id) if token_id is not None else self._next_id("deploy_token")
        self._ids["deploy_token"] = max(self._ids["deploy_token"], token_id)
        rec = {"id": token_id, "owner_kind": kind, "owner_id": owner["id"], "name": name, "username": username or f"gitlab+deploy-token-{token_id}",
               "token": token or generate_token(), "scopes": [s for s in DEPLOY_TOKEN_SCOPES if s in scopes],
               "expires_at": parse_time(expires_at), "revoked": bool(revoked), "created_at": self.now()}
        self.deploy_tokens[token_id] = rec
        return rec

    def delete_deploy_token(self, request):
        """DELETE .../deploy_tokens/:token_id -> 204 (the token is gone; there is no update)."""
        token = self._deploy_token(request)
        del self.deploy_tokens[token["id"]]
        return Response(204)

    # -- protection rules ----------------------------------------------------------
    @staticmethod
    def _rule_kind(request):
        return "repository" if "/protection/repository/" in request.route else "tag"

    def list_rules(self, request):
        """GET .../registry/protection/{repository,tag}/rules (Maintainer; not paginated)."""
        project = self._project(request, MAINTAINER)
        kind = self._rule_kind(request)
        store = self.repository_rules if kind == "repository" else self.tag_rules
        return [self.rule_json(r) for _unused, r in sorted(store.items()) if r["project_id"] == project["id"]]

    def _rule_levels(self, params, allow_empty):
        out = {}
        for key in ("minimum_access_level_for_push", "minimum_access_level_for_delete"):
            if key in params and params[key] is not None:
                value = coerce_str(params, key)
                if value not in RULE_LEVELS and not (allow_empty and value == ""):
                    raise _grape_error(f"{key} does not have a valid value")
                out[key] = value or None
        return out

    def create_rule(self, request):
        """POST a repository rule {repository_path_pattern*, at least one access level} or a tag rule
        {tag_name_pattern*, both access levels*} -> 201; 422 ``{"message": {"error": ...}}`` when invalid or taken."""
        params = request_params(request)
        kind = self._rule_kind(request)
        key = "repository_path_pattern" if kind == "repository" else "tag_name_pattern"
        required = [key] if kind == "repository" else [key, "minimum_access_level_for_push", "minimum_access_level_for_delete"]
        missing = [k for k in required if params.get(k) is None]
        if missing:
            raise _grape_error(", ".join(f"{k} is missing" for k in missing))
        pattern = coerce_str(params, key)
        levels = self._rule_levels(params, allow_empty=False)
        if kind == "repository" and not levels:
            raise _grape_error("minimum_access_level_for_push, minimum_access_level_for_delete are missing, "
                               "at least one parameter must be provided")
        project = self._project(request, MAINTAINER)
        rule = {"id": None, "kind": kind, "project_id": project["id"], "pattern": pattern,
                "push": levels.get("minimum_access_level_for_push"), "delete": levels.get("minimum_access_level_for_delete")}
        self._validate_rule(project, rule, creating=True)
        rule["id"] = self._next_id(f"{kind}_rule")
        (self.repository_rules if kind == "repository" else self.tag_rules)[rule["id"]] = rule
        return Response(201, self.rule_json(rule))

    def _validate_rule(self, project, rule, creating=False):
        """Model validations -> 422 ``{"message": {"error": "<full messages>"}}``."""
        errors = []
        store = self.repository_rules if rule["kind"] == "repository" else self.tag_rules
        if rule["kind"] == "repository":
            label = "Repository path pattern"
            if not rule["pattern"]:
                errors.append(f"{label} can't be blank")
            elif len(rule["pattern"]) > 255:
                errors.append(f"{label} is too long (maximum is 255 characters)")
            elif not REPO_PATTERN_RE.fullmatch(rule["pattern"]):
                errors.append(f"{label} should be a valid container repository path with optional wildcard characters.")
            elif not rule["pattern"].lower().startswith(self._project_path(project).lower()):
                errors.append(f"{label} should start with the project's full path")
            if rule["push"] is None and rule["delete"] is None:
                errors.append("A rule must have at least a minimum access role for push or delete.")
        else:
            label = "Tag name pattern"
            if not rule["pattern"]:
                errors.append(f"{label} can't be blank")
            elif len(rule["pattern"]) > 100:
                errors.append(f"{label} is too long (maximum is 100 characters)")
            else:
                try:
                    compile_re2(rule["pattern"])
                except ValueError as exc:
                    errors.append(f"{label} not valid RE2 syntax: {exc}")
            if (rule["push"] is None) != (rule["delete"] is None):
                errors.append("Access levels should either both be present or both be nil")
            if creating and len(self._project_tag_rules(project)) >= TAG_RULES_PER_PROJECT:
                errors.append(f"Maximum number of protection rules ({TAG_RULES_PER_PROJECT}) per project reached")
        if any(r["project_id"] == project["id"] and r["pattern"] == rule["pattern"] and r["id"] != rule["id"] for r in store.values()):
            errors.append(f"{label} has already been taken")
        if errors:
            raise ApiError(422, {"error": ", ".join(errors)})

    def _rule(self, request, project):
        kind = self._rule_kind(request)
        rule_id = self._int_param(request, "protection_rule_id")
        rule = (self.repository_rules if kind == "repository" else self.tag_rules).get(rule_id)
        if rule is None or rule["project_id"] != project["id"]:
            raise ApiError(404, "404 Not found")
        return rule

    def update_rule(self, request):
        """PATCH a rule: fields left out stay; ``""`` unsets an access level -> 200."""
        params = request_params(request)
        kind = self._rule_kind(request)
        key = "repository_path_pattern" if kind == "repository" else "tag_name_pattern"
        levels = self._rule_levels(params, allow_empty=True)
        pattern = coerce_str(params, key)
        project = self._project(request, MAINTAINER)
        rule = self._rule(request, project)
        updated = dict(rule)
        if pattern is not None:
            updated["pattern"] = pattern
        if "minimum_access_level_for_push" in levels:
            updated["push"] = levels["minimum_access_level_for_push"]
        if "minimum_access_level_for_delete" in levels:
            updated["delete"] = levels["minimum_access_level_for_delete"]
        self._validate_rule(project, updated)
        rule.update(updated)
        return self.rule_json(rule)

    def delete_rule(self, request):
        """DELETE a rule -> 204."""
        project = self._project(request, MAINTAINER)
        rule = self._rule(request, project)
        (self.repository_rules if rule["kind"] == "repository" else self.tag_rules).pop(rule["id"])
        return Response(204)

    # -- registry tokens (GET /jwt/auth) -----------------------------------------
    def _issuer(self):
        """The JWT signer (RS256, a self-signed certificate the registry trusts); created on first use."""
        with self._jwt_lock:
            if self._jwt is None:
                # imported here: it needs cryptography, which only this feature uses
                from tests.support.token_server import TokenServer  # pylint: disable=import-outside-toplevel

                class _Issuer(TokenServer):
                    """Signs whatever access the emulator decided (``granted``)."""

                    granted = ()

                    def grant(self, username, scopes):
                        return list(self.granted)
                self._jwt = _Issuer({}, service=JWT_SERVICE, issuer=JWT_ISSUER, expires_in=300)
            return self._jwt

    def registry_auth_block(self, cert_path):
        """The ``auth:`` block of a distribution registry that takes GitLab credentials through this emulator
        (writes the signing certificate to ``cert_path``)."""
        self._issuer().write_cert(cert_path)
        return {"token": {"realm": self.url + JWT_PATH, "service": JWT_SERVICE, "issuer": JWT_ISSUER, "rootcertbundle": cert_path}}

    @staticmethod
    def _jwt_error(status, code, message):
        headers = {"WWW-Authenticate": 'Basic realm="GitLab"'} if status == 401 else {}
        return Response(status, {"errors": [{"code": code, "message": message}]}, headers)

    def _registry_principal(self, request):
        """Basic credentials of a registry login: ``gitlab-ci-token`` + job token, a deploy token, or a user token."""
        auth = (request.header("Authorization") or "").strip()
        if not auth.lower().startswith("basic "):
            return None
        try:
            user, _unused, password = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        now = self.now()
        if user == CI_REGISTRY_USER:
            rec = self.job_tokens.get(password)
            project = self._find_project(str(rec["project"])) if rec and rec["active"] else None
            if project is None:
                return False
            return {"kind": "job", "user": user, "level": ACCESS_LEVELS[rec["access_level"]], "admin": False, "project_id": project["id"]}
        deploy = next((t for t in list(self.deploy_tokens.values()) if t["token"] == password and t["username"] == user), None)
        if deploy is not None:
            if deploy["revoked"] or (deploy["expires_at"] is not None and deploy["expires_at"] <= now):
                return False
            return {"kind": "deploy", "user": user, "level": 0, "admin": False, "deploy": deploy}
        rec = self.tokens.get(password)
        if rec is None or rec["revoked"] or (rec["expires_at"] is not None and rec["expires_at"] <= now):
            return False
        return {"kind": rec["kind"], "user": rec["user"], "level": ADMIN if rec["admin"] else ACCESS_LEVELS[rec["access_level"]],
                "admin": rec["admin"], "scopes": set(rec["scopes"]), "scope_path": rec["scope_path"]}

    def _project_for_repository_path(self, path):
        lower = path.lower()
        best = None
        for project in list(self.projects.values()):
            full = self._project_path(project).lower()
            if lower == full or lower.startswith(full + "/"):
                if best is None or len(full) > len(self._project_path(best)):
                    best = project
        return best

    def _registry_actions(self, principal, path, wanted):
        """What GitLab grants on ``repository:<path>``: pull to readers, push/delete to developers (and the
        token scopes that allow it), the job's own project to a job token, a deploy token's scopes to its project
        or group; repository protection rules take push/delete away below their level."""
        project = self._project_for_repository_path(path)
        if principal is None or project is None or project["container_registry_access_level"] == "disabled":
            return []
        level = principal["level"]
        can = set()
        if principal["kind"] == "job":
            if principal["project_id"] == project["id"]:
                can = {"pull", "push", "delete"} if level >= DEVELOPER else {"pull"}
        elif principal["kind"] == "deploy":
            deploy = principal["deploy"]
            owner_ok = (deploy["owner_kind"] == "project" and deploy["owner_id"] == project["id"]) or (
                deploy["owner_kind"] == "group" and deploy["owner_id"] in self.groups
                and self._under(self._project_path(project), self._group_path(self.groups[deploy["owner_id"]])))
            if owner_ok:
                can = {a for a, s in (("pull", "read_registry"), ("push", "write_registry")) if s in deploy["scopes"]}
        elif self._under(self._project_path(project), principal["scope_path"]):
            scopes = principal["scopes"]
            needed = REPORTER if project["container_registry_access_level"] == "private" else GUEST
            if level >= needed and scopes & {"api", "read_api", "read_registry"}:
                can.add("pull")
            if level >= DEVELOPER and scopes & {"api", "write_registry"}:
                can.update({"push", "delete"})
        if not principal["admin"]:
            for rule in list(self.repository_rules.values()):
                if rule["project_id"] == project["id"] and glob_match(rule["pattern"], path):
                    for action, key in (("push", "push"), ("delete", "delete")):
                        if rule[key] and ACCESS_LEVELS[rule[key]] > level:
                            can.discard(action)
        if "*" in wanted:
            return sorted(can)
        return [a for a in wanted if a in can]

    def jwt_auth(self, request):
        """GET /jwt/auth?service=container_registry&scope=...: a registry token for GitLab credentials (Basic)."""
        from tests.support.token_server import parse_scope  # pylint: disable=import-outside-toplevel
        if request.method != "GET":
            return self._jwt_error(404, "NOT_FOUND", "Not Found")
        principal = self._registry_principal(request)
        if principal is False:
            return self._jwt_error(401, "UNAUTHORIZED", "HTTP Basic: Access denied. If a password was provided for Git authentication, "
                                                        "the password was incorrect or you're required to use a token instead of a password.")
        service = request.query.get("service")
        if service != JWT_SERVICE:
            return self._jwt_error(404, "NOT_FOUND", f"unknown service {service!r}")
        access = []
        scopes = [value for name, value in request.query_list if name == "scope"]
        for scope in (part for value in scopes for part in value.split(" ") if part):
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, wanted = parsed
            if rtype == "registry" and name == "catalog":
                actions = ["*"] if principal and principal["admin"] else []
            elif rtype == "repository":
                actions = self._registry_actions(principal, name, wanted)
            else:
                actions = []
            access.append({"type": rtype, "name": name, "actions": actions})
        issuer = self._issuer()
        with self._jwt_lock:
            issuer.granted = access
            body = issuer.issue(principal["user"] if principal else "", service, scopes)
        self.jwt_issued.append({"user": principal["user"] if principal else None, "kind": principal["kind"] if principal else "anonymous",
                                "access": access})
        return Response(200, {"token": body["token"], "expires_in": body["expires_in"], "issued_at": body["issued_at"]})

    # -- seeding (Python API) ----------------------------------------------------
    def _ensure_group(self, full_path, name=None, group_id=None):
        parent = None
        parts = [p for p in str(full_path).split("/") if p]
        if not parts:
            raise ValueError("a group needs a path")
        for index, part in enumerate(parts):
            path = "/".join(parts[:index + 1])
            group = self._find_group(path)
            if group is None:
                last = index == len(parts) - 1
                gid = int(group_id) if last and group_id is not None else self._next_id("group")
                self._ids["group"] = max(self._ids["group"], gid)
                group = {"id": gid, "name": (name if last and name else part.capitalize()), "path": part,
                         "parent_id": parent["id"] if parent else None, "created_at": self.now()}
                self.groups[gid] = group
            parent = group
        return parent

    def _ensure_project(self, full_path, name=None, project_id=None, visibility="private", container_registry_access_level="enabled",
                        container_expiration_policy=None, description="", created_at=None):
        namespace, _unused, path = str(full_path).rpartition("/")
        if not namespace or not path:
            raise ValueError(f"a project path needs a namespace: {full_path!r}")
        project = self._find_project(full_path)
        if project is None:
            group = self._ensure_group(namespace)
            pid = int(project_id) if project_id is not None else self._next_id("project")
            self._ids["project"] = max(self._ids["project"], pid)
            now = parse_time(created_at) or self.now()
            project = {"id": pid, "name": name or path.capitalize(), "path": path, "namespace_id": group["id"], "description": description,
                       "visibility": visibility, "created_at": now, "container_registry_access_level": container_registry_access_level,
                       "policy": dict(DEFAULT_POLICY, next_run_at=now + timedelta(days=1))}
            self.projects[pid] = project
        if container_expiration_policy:
            policy = dict(project["policy"])
            policy.update({k: v for k, v in container_expiration_policy.items() if k in POLICY_KEYS})
            errors = self._validate_policy(policy)
            if errors:
                raise ValueError(f"invalid cleanup policy: {errors}")
            next_run = container_expiration_policy.get("next_run_at")
            policy["next_run_at"] = parse_time(next_run) if next_run else self.now() + timedelta(seconds=parse_duration(policy["cadence"]))
            project["policy"] = policy
        return project

    def _resolve_project(self, project):
        if isinstance(project, dict):
            project = project["id"]
        found = self._find_project(project)
        if found is None:
            raise ValueError(f"no project {project!r}")
        return found

    def add_group(self, full_path, name=None, group_id=None):
        """Create a group (and its parents); returns ``{"id", "full_path", ...}``."""
        with self.lock:
            return self.group_json(self._ensure_group(full_path, name, group_id))

    def group_json(self, group):
        """``{id, name, path, full_path, parent_id, created_at}``."""
        return {"id": group["id"], "name": group["name"], "path": group["path"], "full_path": self._group_path(group),
                "parent_id": group["parent_id"], "created_at": fmt_z(group["created_at"])}

    def add_project(self, full_path, name=None, project_id=None, visibility="private", container_registry_access_level="enabled",
                    container_expiration_policy=None, description="", created_at=None):
        """Create a project under its group path (created as needed); returns the project JSON."""
        with self.lock:
            return self.project_json(self._ensure_project(full_path, name, project_id, visibility, container_registry_access_level,
                                                          container_expiration_policy, description, created_at))

    def add_repository(self, project, name="", repository_id=None, created_at=None, tags=()):
        """Create (or extend) a repository; ``name`` ``""`` is the project-root image. ``tags``: names or dicts
        ``{"name", "digest", "created_at", "total_size", "revision"}``. Returns its JSON (with ``tags_count``)."""
        with self.lock:
            proj = self._resolve_project(project)
            repo = next((r for r in self.repositories.values() if r["project_id"] == proj["id"] and r["name"] == name), None)
            if repo is None:
                repo = self._new_repository(proj, name, repository_id, created_at)
            for tag in tags:
                self._add_tag(repo, tag)
            return self.repository_json(repo, tags_count=not self.backed)

    def add_tag(self, project, repository, name, digest=None, created_at=None, total_size=0, revision=None):
        """Add (or move) one tag of a seeded repository (``repository``: id or name); returns its TagDetails JSON."""
        with self.lock:
            proj = self._resolve_project(project)
            repo = self._resolve_repository(proj, repository)
            tag = self._add_tag(repo, {"name": name, "digest": digest, "created_at": created_at, "total_size": total_size,
                                       "revision": revision})
            return self.tag_details_json(repo, tag)

    def _resolve_repository(self, project, repository):
        for repo in self.repositories.values():
            if repo["project_id"] == project["id"] and (repo["id"] == repository or repo["name"] == repository):
                return repo
        if isinstance(repository, str):
            return self._new_repository(project, repository)
        raise ValueError(f"no repository {repository!r} in {self._project_path(project)}")

    def _add_tag(self, repo, tag):
        if self.backed:
            raise ValueError("the emulator is backed by a real registry: push tags there")
        tag = {"name": tag} if isinstance(tag, str) else dict(tag)
        name = tag["name"]
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", name):
            raise ValueError(f"invalid tag name {name!r}")
        digest = tag.get("digest") or fake_digest(f"{repo['id']}/{name}/{len(repo['tags'])}")
        revision = tag.get("revision") or hashlib.sha256(f"config:{digest}".encode()).hexdigest()
        created = parse_time(tag["created_at"]) if tag.get("created_at") else self.now()
        total = tag.get("total_size")
        rec = {"name": name, "digest": digest, "revision": revision, "created_at": created,
               "total_size": 0 if total is None else int(total), "blobs": None}
        repo["tags"][name] = rec
        return rec

    def add_deploy_token(self, owner, name, scopes=("read_registry",), expires_at=None, username=None, token=None, revoked=False,
                         kind="project", token_id=None):
        """Add a deploy token to a project (``kind="project"``) or group; returns its JSON with ``token``."""
        with self.lock:
            record = self._resolve_project(owner) if kind == "project" else self._find_group(owner["id"] if isinstance(owner, dict) else owner)
            if record is None:
                raise ValueError(f"no {kind} {owner!r}")
            return self.deploy_token_json(self._add_deploy_token(kind, record, name, list(scopes), expires_at, username, token, revoked,
                                                                 token_id), with_token=True)

    def add_protection_rule(self, project, kind, pattern, push="maintainer", delete="maintainer", rule_id=None):
        """Add a ``"repository"`` or ``"tag"`` protection rule (tag: ``push=None, delete=None`` is an immutable rule)."""
        with self.lock:
            proj = self._resolve_project(project)
            rule = {"id": rule_id, "kind": kind, "project_id": proj["id"], "pattern": pattern, "push": push, "delete": delete}
            try:
                self._validate_rule(proj, rule, creating=True)
            except ApiError as exc:
                raise ValueError(exc.message["error"]) from exc
            rule["id"] = int(rule_id) if rule_id is not None else self._next_id(f"{kind}_rule")
            self._ids[f"{kind}_rule"] = max(self._ids[f"{kind}_rule"], rule["id"])
            (self.repository_rules if kind == "repository" else self.tag_rules)[rule["id"]] = rule
            return self.rule_json(rule)

    def add_token(self, token, access_level="owner", scopes=("api",), user=None, admin=False, kind="personal", scope_path=None,
                  expires_at=None, revoked=False):
        """Add an API token (personal, project, group or OAuth: ``scope_path`` limits it to a project or group)."""
        with self.lock:
            items = list(self.settings()["tokens"]) + [{"token": token, "access_level": access_level, "scopes": list(scopes), "user": user,
                                                        "admin": admin, "kind": kind, "scope_path": scope_path,
                                                        "expires_at": expires_at, "revoked": revoked}]
            self.tokens = self._build_tokens(items)

    def add_job_token(self, project, token=None, access_level="developer", user="ci-user", active=True):
        """Add a CI job token for ``project`` (id or path); returns the token."""
        with self.lock:
            token = token or "glcbt-" + secrets.token_hex(10)
            items = list(self.job_tokens.values()) + [{"token": token, "project": project, "access_level": access_level, "user": user,
                                                       "active": active}]
            self.job_tokens = self._build_job_tokens(items)
            return token

    def seed(self, data):
        """Seed from a JSON document (also ``POST /_emulator/seed``); see docs/emulators.md for the format.

        Returns ``{"groups": [...], "projects": [project JSON + "repositories" + "deploy_tokens" (with tokens)]}``.
        """
        if not isinstance(data, dict):
            raise ValueError("seed document must be a JSON object")
        out = {"groups": [], "projects": []}
        with self.lock:
            for entry in data.get("groups", []):
                group = self.add_group(entry["path"], entry.get("name"), entry.get("id"))
                tokens = [self.add_deploy_token(group["id"], kind="group", **self._token_seed(t)) for t in entry.get("deploy_tokens", [])]
                out["groups"].append(dict(group, deploy_tokens=tokens))
            for entry in data.get("projects", []):
                project = self.add_project(entry["path"], entry.get("name"), entry.get("id"), entry.get("visibility", "private"),
                                           entry.get("container_registry_access_level", "enabled"),
                                           entry.get("container_expiration_policy"), entry.get("description", ""), entry.get("created_at"))
                repos = [self.add_repository(project["id"], r.get("name", ""), r.get("id"), r.get("created_at"), r.get("tags", ()))
                         for r in entry.get("repositories", [])]
                tokens = [self.add_deploy_token(project["id"], **self._token_seed(t)) for t in entry.get("deploy_tokens", [])]
                for rule in entry.get("repository_protection_rules", []):
                    self.add_protection_rule(project["id"], "repository", rule["repository_path_pattern"],
                                             rule.get("minimum_access_level_for_push"), rule.get("minimum_access_level_for_delete"),
                                             rule.get("id"))
                for rule in entry.get("tag_protection_rules", []):
                    self.add_protection_rule(project["id"], "tag", rule["tag_name_pattern"], rule.get("minimum_access_level_for_push"),
                                             rule.get("minimum_access_level_for_delete"), rule.get("id"))
                for job in entry.get("job_tokens", []):
                    job = {"token": job} if isinstance(job, str) else dict(job)
                    self.add_job_token(project["id"], job["token"], job.get("access_level", "developer"), job.get("user", "ci-user"),
                                       job.get("active", True))
                out["projects"].append(dict(project, repositories=repos, deploy_tokens=tokens))
        return out

    @staticmethod
    def _token_seed(item):
        return {"name": item["name"], "scopes": item.get("scopes", ["read_registry"]), "expires_at": item.get("expires_at"),
                "username": item.get("username"), "token": item.get("token"), "revoked": item.get("revoked", False),
                "token_id": item.get("id")}

    def dump_state(self):
        """Everything, as the API would show it, plus deploy token values, jobs, leases and policy runs."""
        with self.lock:
            self._local.cache = {}
            try:
                self._process_jobs()
                groups = [dict(self.group_json(g),
                               deploy_tokens=[self.deploy_token_json(t, with_token=True) for _unused, t in sorted(self.deploy_tokens.items())
                                              if (t["owner_kind"], t["owner_id"]) == ("group", g["id"])])
                          for _unused, g in sorted(self.groups.items())]
                projects = []
                for _unused, project in sorted(self.projects.items()):
                    repos = []
                    for repo in self._project_repositories(project):
                        body = self.repository_json(repo, tags_count=True, size=True)
                        body["tags"] = [self.tag_details_json(repo, t) for _n, t in sorted(self._tags(repo).items())]
                        repos.append(body)
                    projects.append(dict(
                        self.project_json(project), repositories=repos,
                        deploy_tokens=[self.deploy_token_json(t, with_token=True) for _unused, t in sorted(self.deploy_tokens.items())
                                       if (t["owner_kind"], t["owner_id"]) == ("project", project["id"])],
                        repository_protection_rules=[self.rule_json(r) for _n, r in sorted(self.repository_rules.items())
                                                     if r["project_id"] == project["id"]],
                        tag_protection_rules=[self.rule_json(r) for _n, r in sorted(self.tag_rules.items()) if r["project_id"] == project["id"]],
                        job_tokens=[t["token"] for t in self.job_tokens.values() if self._find_project(str(t["project"])) is project]))
                return {"groups": groups, "projects": projects,
                        "jobs": {"pending": [self._job_json(j) for _unused, j in sorted(self.jobs.items())], "finished": list(self.job_history)},
                        "leases": {str(k): fmt_z(v) for k, v in sorted(self.leases.items())}, "policy_runs": list(self.policy_runs),
                        "clock": fmt_z(self.now()), "backed": self.backed}
            finally:
                self._local.cache = None

    def _job_json(self, job):
        return {"id": job["id"], "kind": job["kind"], "repository_id": job["repository_id"], "repository_path": job["repository_path"],
                "user": job["user"], "params": job["params"], "scheduled_at": fmt_z(job["created_at"]), "polls": job["polls"],
                "phase": "ongoing" if self._job_ongoing(job) else "scheduled"}

    # -- test helpers --------------------------------------------------------
    @property
    def api_base(self):
        """``http://127.0.0.1:<port>/api/v4``."""
        return self.url + API

    def project_paths(self):
        """``[(id, full path)]`` of every project."""
        with self.lock:
            return [(pid, self._project_path(p)) for pid, p in sorted(self.projects.items())]

    def project_id(self, path=DEFAULT_PROJECT):
        """Id of the project at ``path``."""
        with self.lock:
            return self._resolve_project(path)["id"]

    def repository_id(self, project=DEFAULT_PROJECT, name=""):
        """Id of a project's repository called ``name`` (``""`` = the project-root image)."""
        with self.lock:
            proj = self._resolve_project(project)
            if self.backed:
                self._sync_backed(proj)
            for repo in self.repositories.values():
                if repo["project_id"] == proj["id"] and repo["name"] == name:
                    return repo["id"]
            raise ValueError(f"no repository {name!r} in {self._project_path(proj)}")

    def tag_names(self, repository_id):
        """Current tag names of a repository (state or real registry)."""
        with self.lock:
            return sorted(self._tags(self.repositories[repository_id]))

    def deploy_token_value(self, token_id):
        """The secret of a deploy token (the API shows it only on create)."""
        with self.lock:
            return self.deploy_tokens[token_id]["token"]


def local_registry(emu, delete_enabled=True, username="root", password="emulator-gitlab-admin-token"):
    """A ``tests.support.registry.LocalRegistry`` (not started) whose token realm is ``emu``'s ``/jwt/auth``: GitLab
    credentials (user tokens, ``gitlab-ci-token`` + job token, deploy tokens) log in to it with GitLab's rules.
    ``username``/``password`` (an admin token by default) are what ``oci_args()`` and ``SeedClient`` use."""
    from tests.support.registry import LocalRegistry  # pylint: disable=import-outside-toplevel

    class GitLabLocalRegistry(LocalRegistry):
        """Distribution with ``auth.token`` pointing at the GitLab emulator."""

        def _auth_block(self):
            return emu.registry_auth_block(os.path.join(self.workdir, "gitlab-jwt.pem"))

    registry = GitLabLocalRegistry(auth="token", delete_enabled=delete_enabled)
    registry.username, registry.password = username, password
    return registry


DEFAULT_TOKENS = [
    {"token": DEFAULT_TOKEN, "user": "owner", "access_level": "owner"},
    {"token": "emulator-gitlab-admin-token", "user": "root", "access_level": "owner", "admin": True},
    {"token": "emulator-gitlab-maintainer-token", "user": "maintainer", "access_level": "maintainer"},
    {"token": "emulator-gitlab-developer-token", "user": "developer", "access_level": "developer"},
    {"token": "emulator-gitlab-reporter-token", "user": "reporter", "access_level": "reporter"},
    {"token": "emulator-gitlab-read-api-token", "user": "reader", "access_level": "owner", "scopes": ["read_api"]},
    {"token": "emulator-gitlab-registry-token", "user": "pusher", "access_level": "owner", "scopes": ["read_registry", "write_registry"]},
]
DEFAULT_JOB_TOKENS = [{"token": DEFAULT_JOB_TOKEN, "project": DEFAULT_PROJECT, "user": "developer", "access_level": "developer"}]


def _add_arguments(parser):
    parser.add_argument("--token", action="append", dest="tokens", metavar="TOKEN[=LEVEL]",
                        help=f"an extra API token (PRIVATE-TOKEN or Bearer) with a role, default owner (default tokens: {DEFAULT_TOKEN}, ...)")
    parser.add_argument("--seed", metavar="FILE", help="JSON seed document to load at start")
    parser.add_argument("--no-default-project", action="store_true", help=f"do not create {DEFAULT_PROJECT}")
    parser.add_argument("--registry-host", metavar="HOST[:PORT]",
                        help=f"registry host in locations (default {DEFAULT_REGISTRY_HOST}); a real registry there backs the tags")
    parser.add_argument("--no-registry-backing", action="store_true", help="use --registry-host in locations only; keep tags in the emulator")
    parser.add_argument("--registry-scheme", choices=("http", "https"), default="http", help="scheme to reach --registry-host (default http)")
    parser.add_argument("--backend-username", help="user the emulator logs in to the real registry with")
    parser.add_argument("--backend-password", help="its password")
    parser.add_argument("--async-delay", type=float, default=0.3, metavar="SECONDS",
                        help="asynchronous deletes finish after this many seconds (default 0.3)")
    parser.add_argument("--async-polls", type=int, metavar="N", help="... or after N reads of the repository")
    parser.add_argument("--rate-limit", type=int, default=0, metavar="N",
                        help="answer 429 above N requests per --rate-limit-period per token (GitLab default 7200/3600 s; default 0 = off)")
    parser.add_argument("--rate-limit-period", type=float, default=3600.0, metavar="SECONDS")
    parser.add_argument("--tag-delete-status", type=int, choices=(204, 200), default=204,
                        help="single tag delete answer: 204 (spec) or 200 (implementation)")
    parser.add_argument("--no-keyset", action="store_true", help="tags keyset pagination unavailable (self-managed without the metadata database)")
    parser.add_argument("--jwt-cert", metavar="FILE",
                        help="write the /jwt/auth signing certificate here and print the auth block for a docker-registry config")


def _factory(args):
    settings = {"default_project": not args.no_default_project, "registry_scheme": args.registry_scheme, "async_delay": args.async_delay,
                "registry_backing": not args.no_registry_backing,
                "async_polls": args.async_polls, "rate_limit": args.rate_limit, "rate_limit_period": args.rate_limit_period,
                "tag_delete_status": args.tag_delete_status, "keyset_tags": not args.no_keyset}
    if args.registry_host:
        settings["registry_host"] = args.registry_host
    if args.backend_username is not None:
        settings["backend_credentials"] = {"username": args.backend_username, "password": args.backend_password or ""}
    extra = []
    for item in args.tokens or []:
        token, _unused, level = item.partition("=")
        extra.append({"token": token, "access_level": level or "owner"})
    settings["tokens"] = DEFAULT_TOKENS + extra
    emu = GitLabEmulator(**settings)
    emu.jwt_cert_path = args.jwt_cert
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            emu.seed(json.load(handle))
    return emu


def _token_label(token):
    role = "admin" if token["admin"] else token["access_level"]
    scopes = "" if token["scopes"] == ["api"] else ", scopes " + "+".join(token["scopes"])
    return f"{token['token']} ({role}{scopes})"


def _banner(emu):
    lines = [f"API base: {emu.api_base}",
             f"API token: {DEFAULT_TOKEN} (owner; send 'PRIVATE-TOKEN: {DEFAULT_TOKEN}' or 'Authorization: Bearer {DEFAULT_TOKEN}')",
             "other tokens: " + ", ".join(_token_label(t) for t in emu.tokens.values() if t["token"] != DEFAULT_TOKEN)]
    projects = [f"{path} (id {pid})" for pid, path in emu.project_paths()]
    lines.append("projects: " + (", ".join(projects) or "none (seed some)"))
    jobs = [f"{t['token']} ({t['project']})" for t in emu.job_tokens.values()]
    if jobs:
        lines.append("CI job tokens (send 'JOB-TOKEN: ...'): " + ", ".join(jobs))
    lines.append(f"registry host: {emu.location_host}" + (" (tags read from the real registry there)" if emu.backed else ""))
    if emu.requests_per_period:
        lines.append(f"rate limit: {emu.requests_per_period} requests per {emu.rate_limit_period:g} s per token")
    cert = getattr(emu, "jwt_cert_path", None)
    if cert:
        lines.append("registry auth block (docker-registry config.yml): " + json.dumps(emu.registry_auth_block(os.path.abspath(cert))))
    lines.append(f"playbooks: provider: gitlab, api_url: {emu.url}, api_token: {DEFAULT_TOKEN}")
    return lines


def main(argv=None):
    """Console entry point."""
    return run_standalone(_factory, argv, description="GitLab container registry API emulator",
                          default_port=GitLabEmulator.default_port, add_arguments=_add_arguments, banner=_banner)


if __name__ == "__main__":
    sys.exit(main())
