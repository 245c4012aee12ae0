"""Stateful emulator of GitHub's REST API for container registries (``api.github.com``).

Run standalone with ``python -m tests.emulators.github --port 8084``.
See ``docs/emulators.md`` for the behaviours and the facts they follow.

Covered: GitHub Packages for ghcr.io containers (org and authenticated user:
packages, versions with ``metadata.container.tags``, delete / restore with the
30-day window on an emulated clock, the last-version rule), artifact metadata
(storage and deployment records, cluster record sets and their jobs), artifact
attestations (org and user: list, bulk list, delete by digest / id / bulk),
``Authorization: Bearer`` / ``token`` credentials (classic PATs and GitHub App
installation tokens, which the packages endpoints refuse), the
``X-GitHub-Api-Version`` header, the primary rate limit headers and a switchable
secondary rate limit, GitHub's error bodies and ``Link`` pagination.

With ``registry_backend`` (a real registry's URL, e.g. ``ghcr_backend(emu)``) it is
also ghcr.io's OCI front: ``/v2/`` behind a Bearer token from ``/token``, forwarded to
the backend; pushes create packages and versions, REST deletes and restores act on
the backend too, and every ``DELETE`` over ``/v2/`` is refused as on ghcr.io.
"""
# One class per provider API, with a wide seeding/test-helper surface.
# pylint: disable=too-many-instance-attributes,too-many-arguments,too-many-positional-arguments,too-many-public-methods
# pylint: disable=too-many-locals,too-many-lines,too-many-branches,too-many-return-statements,too-many-statements

import base64
import binascii
import hashlib
import json
import re
import secrets
import sys
import traceback
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlencode

from tests.emulators.base import ApiError, EmulatorServer, Response, new_request_id, run_standalone
from tests.emulators.oci_backend import (INDEX_MEDIA_TYPES, BackendUnavailable, backend_registry, backend_request,
                                         check_backend_url, oci_error, oci_error_body, parse_oci_path, relay, send_relayed)
from tests.support import known_secrets

DEFAULT_TOKEN = "emulator-github-token"
DEFAULT_INSTALLATION_TOKEN = "ghs_emulatorInstallationToken"
known_secrets.register(DEFAULT_TOKEN, DEFAULT_INSTALLATION_TOKEN)
DEFAULT_USER = "octocat"
DEFAULT_ORG = "acme"
DOCS = "https://docs.github.com/rest"
DEFAULT_VERSION = "2022-11-28"
API_VERSIONS = ("2022-11-28", "2026-03-10")
PACKAGE_TYPES = ("npm", "maven", "rubygems", "docker", "nuget", "container")
VISIBILITIES = ("public", "private", "internal")
PAT_SCOPES = ("read:packages", "write:packages", "delete:packages")
TOKEN_KINDS = ("pat", "installation")
STORAGE_STATUSES = ("active", "eol", "deleted")
DEPLOYMENT_STATUSES = ("deployed", "decommissioned")
RUNTIME_RISKS = ("critical-resource", "internet-exposed", "lateral-movement", "sensitive-data")
STORAGE_PATHS = ("singular", "plural", "both")
LAST_VERSION_RULES = ("last", "last_tagged", "off")
MESSAGE_SHAPES = ("string", "object")
PREDICATES = {"provenance": "https://slsa.dev/provenance/v1", "sbom": "https://spdx.dev/Document/v2.3",
              "release": "https://in-toto.io/attestation/release/v0.1"}

DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
CLUSTER_RE = re.compile(r"^[a-zA-Z0-9._-]+$")
GH_REPO_RE = re.compile(r"^[A-Za-z0-9.\-_]+$")

LAST_VERSION_MESSAGE = "You cannot delete the last version of a package. You must delete the package instead."
LAST_TAGGED_MESSAGE = "You cannot delete the last tagged version of a package. You must delete the package instead."
PER_PAGE_CAP_MESSAGE = "The value of `per_page` multiplied by `page` cannot be greater than 10000."
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID {rid}.")
INTEGRATION_MESSAGE = "Resource not accessible by integration"

# ghcr.io front (OCI Distribution API)
OCI_SERVICE = "ghcr.io"
OCI_UNSUPPORTED_MESSAGE = "The operation is unsupported."
OCI_SCOPE_MESSAGE = "permission_denied: The token provided does not match expected scopes."
OCI_INDEX_TYPES = INDEX_MEDIA_TYPES
# distribution's repository name grammar: lowercase components joined by "/"
OCI_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$")


def _utcnow():
    return datetime.now(timezone.utc).replace(microsecond=0)


def fmt_z(value):
    """``2026-01-01T00:00:00Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """An aware datetime from ISO 8601 (``Z`` allowed); ``None`` and datetimes pass through."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value
    parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def fake_digest(text):
    """``sha256:`` + the sha256 of ``text``."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_cursor(offset):
    """Opaque attestation cursor."""
    return base64.urlsafe_b64encode(f"cursor:{int(offset)}".encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """The offset of a cursor; ``ValueError`` if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValueError(cursor) from exc
    prefix, _unused, offset = text.partition(":")
    if prefix != "cursor" or not offset.isdigit():
        raise ValueError(cursor)
    return int(offset)


def package_path_name(name):
    """Percent-encode a package name for the path (``team/app`` -> ``team%2Fapp``)."""
    return quote(name, safe="")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def invalid(detail):
    """GitHub's schema-validation failure: 422 ``Invalid request.``."""
    return ApiError(422, f"Invalid request.\n\n{detail}")


def _check_str(data, key, required=False, min_len=0, max_len=None, pattern=None, choices=None):
    """Validate one string property of a JSON body; returns it (or ``None``)."""
    if key not in data or data[key] is None:
        if required:
            raise invalid(f"\"{key}\" wasn't supplied.")
        return None
    value = data[key]
    if not isinstance(value, str):
        raise invalid(f"Invalid property \"{key}\": {json.dumps(value)} is not of type string.")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise invalid(f"Invalid property \"{key}\": length must be between {min_len} and {max_len}.")
    if pattern is not None and not pattern.match(value):
        raise invalid(f"Invalid property \"{key}\": \"{value}\" does not match pattern {pattern.pattern}.")
    if choices is not None and value not in choices:
        raise invalid(f"Invalid property \"{key}\": \"{value}\" is not one of {', '.join(choices)}.")
    return value


def _check_bool(data, key, default):
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise invalid(f"Invalid property \"{key}\": {json.dumps(value)} is not of type boolean.")
    return value


def _body(request):
    """The JSON object body; 400 on unparsable JSON, 422 when it is not an object."""
    if request.json_error:
        raise ApiError(400, "Problems parsing JSON")
    if request.json is None:
        return {}
    if not isinstance(request.json, dict):
        raise invalid("Body must be a JSON object.")
    return request.json


def is_oci_path(path):
    """True for the ghcr.io front: ``/v2``, ``/v2/...`` and the token endpoint ``/token``."""
    return path in ("/v2", "/token") or path.startswith("/v2/")


class GitHubEmulator(EmulatorServer):
    """In-memory GitHub (packages, artifact metadata, attestations).

    Settings (``configure`` / ``POST /_emulator/config``) are documented in
    ``docs/emulators.md``; ``reset()`` keeps them.
    """

    provider = "github"
    default_port = 8084

    def __init__(self, host="127.0.0.1", port=0, clock=None, verbose=False, **settings):
        """``clock``: a callable returning an aware datetime, an ISO time or a datetime (frozen), or ``None`` (real time)."""
        self.clock = clock if callable(clock) else _utcnow
        self._clock_offset = timedelta(0)
        if clock is not None and not callable(clock):  # an ISO time or a datetime: frozen there
            settings["clock"] = clock.isoformat() if isinstance(clock, datetime) else clock
        self.tokens = {}
        self.user = DEFAULT_USER
        self.default_org = True
        self.default_token_kind = "pat"
        self.api_versions = list(API_VERSIONS)
        self.default_api_version = DEFAULT_VERSION
        self.deprecated_versions = {}
        self.unsupported_version_status = 410
        self.rate_limit_per_window = 5000
        self.rate_limit_window = 3600
        self.primary_limit_status = 403
        self.secondary = None
        self.error_message_shape = "string"
        self.storage_record_path = "singular"
        self.default_per_page = 30
        self.max_per_page = 100
        self.max_results = 10000
        self.restore_window_days = 30
        self.last_version_rule = "last"
        self.download_limit = 5000
        self.attestation_delete_status = 200
        self.job_polls = 2
        self.deployment_record_extras = False
        self.external_url = None
        self.registry_backend = None
        self.oci_tokens = {}
        self.owners = {}
        self.jobs = {}
        self.usage = {}
        self._ids = {}
        super().__init__(host=host, port=port, verbose=verbose)
        self.configure(tokens=[{"token": DEFAULT_TOKEN, "kind": "pat"}, {"token": DEFAULT_INSTALLATION_TOKEN, "kind": "installation"}])
        self.configure(**settings)
        self.reset_state()

    # -- configuration -------------------------------------------------------
    def configure(self, **settings):
        """Change settings and run actions (``advance_clock``, ``secondary_rate_limit``); returns the settings."""
        actions = {}
        for key, value in settings.items():
            if key == "advance_clock":
                actions[key] = value
            elif key == "tokens":
                self.tokens = self._build_tokens(value)
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
            elif key == "secondary_rate_limit":
                self._set_secondary(value)
            elif key in ("user", "default_api_version"):
                if not isinstance(value, str) or not value:
                    raise ApiError(400, f"{key} must be a non-empty string")
                setattr(self, key, value)
                if key == "user" and self._ids:
                    self._new_owner("user", value)
            elif key == "api_versions":
                if isinstance(value, str) or not value or not all(isinstance(v, str) and v for v in value):
                    raise ApiError(400, "api_versions must be a non-empty list of strings")
                self.api_versions = list(value)
            elif key == "deprecated_versions":
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    raise ApiError(400, "deprecated_versions must map a version to its sunset date")
                self.deprecated_versions = dict(value)
            elif key == "external_url":
                if value is not None and (not isinstance(value, str) or not value.startswith(("http://", "https://"))):
                    raise ApiError(400, "external_url must be an http(s) URL or null")
                self.external_url = value.rstrip("/") if value else None
            elif key == "registry_backend":
                self.registry_backend = check_backend_url(value)
            elif key in ("default_org", "deployment_record_extras"):
                if not isinstance(value, bool):
                    raise ApiError(400, f"{key} must be a boolean")
                setattr(self, key, value)
            elif key in ("rate_limit", "rate_limit_window", "default_per_page", "max_per_page", "max_results",
                         "restore_window_days", "download_limit", "job_polls"):
                if not _is_int(value) or value < (0 if key == "rate_limit" else 1):
                    raise ApiError(400, f"{key} must be a {'non-negative' if key == 'rate_limit' else 'positive'} integer")
                setattr(self, "rate_limit_per_window" if key == "rate_limit" else key, value)
            elif key in ("unsupported_version_status", "primary_limit_status", "attestation_delete_status"):
                allowed = {"unsupported_version_status": (410, 400), "primary_limit_status": (403, 429),
                           "attestation_delete_status": (200, 204)}[key]
                if value not in allowed:
                    raise ApiError(400, f"{key} must be one of {', '.join(map(str, allowed))}")
                setattr(self, key, value)
            elif key in ("default_token_kind", "error_message_shape", "storage_record_path", "last_version_rule"):
                choices = {"default_token_kind": TOKEN_KINDS, "error_message_shape": MESSAGE_SHAPES,
                           "storage_record_path": STORAGE_PATHS, "last_version_rule": LAST_VERSION_RULES}[key]
                if value not in choices:
                    raise ApiError(400, f"{key} must be one of {', '.join(choices)}")
                setattr(self, key, value)
            else:
                raise ApiError(400, f"unknown setting {key!r}")
        if "advance_clock" in actions:
            value = actions["advance_clock"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ApiError(400, "advance_clock must be a non-negative number of seconds")
            self.advance_clock(value)
        return self.settings()

    @staticmethod
    def _build_tokens(value):
        if isinstance(value, (str, dict)) or not value:
            raise ApiError(400, "tokens must be a non-empty list of {\"token\", \"kind\", \"user\", \"scopes\"}")
        out = {}
        for item in value:
            if isinstance(item, str):
                item = {"token": item}
            if not isinstance(item, dict) or not isinstance(item.get("token"), str) or not item["token"]:
                raise ApiError(400, "each token needs a non-empty \"token\"")
            kind = item.get("kind", "pat")
            if kind not in TOKEN_KINDS:
                raise ApiError(400, f"token kind must be one of {', '.join(TOKEN_KINDS)}")
            scopes = item.get("scopes", list(PAT_SCOPES))
            if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
                raise ApiError(400, "token scopes must be a list of strings")
            out[item["token"]] = {"token": item["token"], "kind": kind, "user": item.get("user"), "scopes": list(scopes)}
        return out

    def _set_secondary(self, value):
        if value is None or value is False:
            self.secondary = None
            return
        if value is True:
            value = {}
        if not isinstance(value, dict) or set(value) - {"times", "status", "retry_after"}:
            raise ApiError(400, "secondary_rate_limit must be null or {\"times\", \"status\", \"retry_after\"}")
        times = value.get("times", 1)
        status = value.get("status", 403)
        retry_after = value.get("retry_after", 60)
        if times is not None and (not _is_int(times) or times < 1):
            raise ApiError(400, "secondary_rate_limit.times must be a positive integer or null (until cleared)")
        if status not in (403, 429):
            raise ApiError(400, "secondary_rate_limit.status must be 403 or 429")
        if retry_after is not None and (not _is_int(retry_after) or retry_after < 0):
            raise ApiError(400, "secondary_rate_limit.retry_after must be a number of seconds or null")
        self.secondary = {"times": times, "status": status, "retry_after": retry_after, "hits": 0}

    def secondary_rate_limit(self, times=1, status=403, retry_after=60):
        """Next ``times`` API requests (``None``: until cleared) hit GitHub's secondary rate limit."""
        with self.lock:
            self._set_secondary({"times": times, "status": status, "retry_after": retry_after})

    def settings(self):
        """Current settings."""
        return {"tokens": [dict(t) for t in self.tokens.values()], "user": self.user, "default_org": self.default_org,
                "default_token_kind": self.default_token_kind, "api_versions": list(self.api_versions),
                "default_api_version": self.default_api_version, "deprecated_versions": dict(self.deprecated_versions),
                "unsupported_version_status": self.unsupported_version_status, "rate_limit": self.rate_limit_per_window,
                "rate_limit_window": self.rate_limit_window, "primary_limit_status": self.primary_limit_status,
                "secondary_rate_limit": dict(self.secondary) if self.secondary else None,
                "error_message_shape": self.error_message_shape, "storage_record_path": self.storage_record_path,
                "default_per_page": self.default_per_page, "max_per_page": self.max_per_page, "max_results": self.max_results,
                "restore_window_days": self.restore_window_days, "last_version_rule": self.last_version_rule,
                "download_limit": self.download_limit, "attestation_delete_status": self.attestation_delete_status,
                "job_polls": self.job_polls, "deployment_record_extras": self.deployment_record_extras,
                "external_url": self.external_url, "registry_backend": self.registry_backend, "clock": fmt_z(self.now())}

    # -- state -----------------------------------------------------------------
    def reset_state(self):
        """Drop every owner and record; restart ids; recreate ``acme`` and the user when ``default_org`` is on.

        With ``registry_backend``, the manifests pushed through the front that are still live are deleted from the
        backend first (best effort), so that the registry agrees with the empty state.
        """
        self._purge_backend()
        self.oci_tokens = {}
        self.owners = {}
        self.jobs = {}
        self.usage = {}
        self._ids = {"owner": 1000, "repository": 8000, "package": 2000, "version": 3000, "storage": 4000,
                     "deployment": 5000, "attestation": 6000, "job": 7000}
        self.add_user(self.user)
        if self.default_org:
            self.add_org(DEFAULT_ORG)

    def _next_id(self, kind):
        self._ids[kind] += 1
        return self._ids[kind]

    def now(self):
        """The emulated time (``clock`` + ``advance_clock`` offsets)."""
        return parse_time(self.clock()) + self._clock_offset

    def advance_clock(self, seconds):
        """Move the emulated clock forward (restore windows, rate-limit resets)."""
        with self.lock:
            self._clock_offset += timedelta(seconds=float(seconds))

    @property
    def api_base(self):
        """The API root (GitHub's has no path prefix)."""
        return self.url

    def _base(self):
        return self.external_url or self.url

    # -- auth, versions, rate limits -----------------------------------------
    def authenticate(self, request):
        """Token, API version, secondary then primary rate limit (state kept on ``request``)."""
        value = (request.header("Authorization") or "").strip()
        request.gh_token = None
        request.gh_headers = {"X-GitHub-Request-Id": new_request_id().upper()[:23].replace("-", ":"),
                              "X-GitHub-Media-Type": "github.v3; format=json"}
        if not value:
            raise ApiError(401, "Requires authentication")
        scheme, _unused, secret = value.partition(" ")
        token = self.tokens.get(secret.strip()) if scheme.lower() in ("bearer", "token") else None
        if token is None:
            raise ApiError(401, "Bad credentials")
        request.gh_token = token
        version = request.header("X-GitHub-Api-Version")
        if version is None:
            version = self.default_api_version
        elif version not in self.api_versions:
            raise ApiError(self.unsupported_version_status, f"API version {version} is not supported.")
        request.gh_version = version
        request.gh_headers["X-GitHub-Api-Version-Selected"] = version
        if version in self.deprecated_versions:
            request.gh_headers["Deprecation"] = "true"
            request.gh_headers["Sunset"] = self.deprecated_versions[version]
        if self.token_kind(token) == "pat":
            request.gh_headers["X-OAuth-Scopes"] = ", ".join(token["scopes"])
        with self.lock:
            if self.secondary is not None:
                sec = self.secondary
                sec["hits"] += 1
                if sec["times"] is not None and sec["hits"] >= sec["times"]:
                    self.secondary = None
                headers = dict(self._rate_headers(token)) if self.rate_limit_per_window else {}
                if sec["retry_after"] is not None:
                    headers["Retry-After"] = str(sec["retry_after"])
                raise ApiError(sec["status"], SECONDARY_MESSAGE.format(rid=request.gh_headers["X-GitHub-Request-Id"]), headers=headers)
            self._count(token, request)

    def token_kind(self, token):
        """``pat`` or ``installation`` (the default token follows ``default_token_kind``)."""
        if token["token"] == DEFAULT_TOKEN:
            return self.default_token_kind
        return token["kind"]

    def token_user(self, token):
        """Login of the user a token acts for."""
        return token.get("user") or self.user

    def _usage(self, token):
        key = token["token"]
        now = self.now()
        usage = self.usage.get(key)
        if usage is None or now >= usage["reset"]:
            usage = {"used": 0, "reset": now + timedelta(seconds=self.rate_limit_window)}
            self.usage[key] = usage
        return usage

    def _rate_headers(self, token):
        usage = self._usage(token)
        limit = self.rate_limit_per_window
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(limit - usage["used"], 0)),
                "x-ratelimit-reset": str(int(usage["reset"].timestamp())), "x-ratelimit-used": str(usage["used"]),
                "x-ratelimit-resource": "core"}

    def _count(self, token, request):
        if not self.rate_limit_per_window:
            return
        usage = self._usage(token)
        if usage["used"] >= self.rate_limit_per_window:
            raise ApiError(self.primary_limit_status, f"API rate limit exceeded for user ID {self._owner_id_for(token)}.",
                           headers=self._rate_headers(token), documentation_url=DOCS + "/using-the-rest-api/rate-limits-for-the-rest-api")
        usage["used"] += 1
        request.gh_headers.update(self._rate_headers(token))

    def _owner_id_for(self, token):
        owner = self.owners.get(("user", self.token_user(token).lower()))
        return owner["id"] if owner else 1

    def handle_request(self, request):
        """The usual auth/route/handler, then GitHub's response headers on every answer; ``/v2/`` and ``/token``: the front."""
        if is_oci_path(request.path):
            return self.handle_oci(request)
        response = super().handle_request(request)
        for name, value in (getattr(request, "gh_headers", None) or {}).items():
            response.headers.setdefault(name, value)
        return response

    def error_body(self, status, message, exception_class=None, request=None, **extra):
        """``{"message", "documentation_url", "status"}``; ``message`` an object with ``error_message_shape: object``.

        On the ghcr.io front (injected faults included): ``{"errors": [{"code", "message"}]}``.
        """
        if request is not None and is_oci_path(request.path):
            return oci_error_body(status, message, exception_class, extra.get("detail"))
        if self.error_message_shape == "object" or extra.get("object_message"):
            message = {"cause": message, "repositories": list(extra.get("repositories") or [])}
        return {"message": message, "documentation_url": extra.get("documentation_url", DOCS), "status": str(status)}

    def error_headers(self, status, request=None):
        """Rate-limit headers on injected faults too (not on the ghcr.io front, which has no REST budget)."""
        del status
        if request is not None and is_oci_path(request.path):
            return {"Docker-Distribution-API-Version": "registry/2.0"}
        token = getattr(request, "gh_token", None) if request is not None else None
        if token is None and request is not None:  # an injected fault: no authentication ran
            token = self.tokens.get((request.header("Authorization") or "").strip().partition(" ")[2].strip())
        if token is None or not self.rate_limit_per_window:
            return {}
        with self.lock:
            return self._rate_headers(token)

    def _require_packages(self, request, *scopes):
        """Packages endpoints: no GitHub App installation tokens; classic PAT scopes."""
        token = request.gh_token
        if self.token_kind(token) == "installation":
            raise ApiError(403, INTEGRATION_MESSAGE, documentation_url=DOCS + "/packages/packages")
        missing = [s for s in scopes if s not in token["scopes"]]
        if missing:
            raise ApiError(403, f"You need at least {', '.join(missing)} scope to perform this action.",
                           headers={"X-Accepted-OAuth-Scopes": ", ".join(scopes)})

    # -- ghcr.io front: the OCI Distribution API over a real registry ---------
    @property
    def oci_url(self):
        """The ghcr.io front (the collection's ``oci_url``): the emulator's own URL."""
        return self.url

    _send = staticmethod(send_relayed)  # relayed registry answers keep their Content-Type and HEAD lengths

    def handle_oci(self, request):
        """``/v2/...`` and ``/token``: registry tokens (not the REST credentials, rate limits or API versions), OCI errors."""
        try:
            if not self.registry_backend:
                raise oci_error(404, "UNSUPPORTED", "The ghcr.io front is off: set registry_backend to the URL of a registry.")
            if request.path == "/token":
                request.route = "/token"
                return self.issue_oci_token(request)
            return self._oci_v2(request)
        except ApiError as err:
            return self._error_response(err, request)
        except Exception as exc:  # pylint: disable=broad-except
            traceback.print_exc()
            return self._error_response(ApiError(500, f"Internal emulator error: {exc!r}"), request)

    def issue_oci_token(self, request):
        """``GET /token?service=ghcr.io&scope=repository:<owner>/<package>:pull,push`` (``scope`` repeatable).

        HTTP Basic with any username and a known token as the password, or no credentials (anonymous: pull of public
        packages only). Answers ``{"token", "access_token"}`` (an opaque token that grants what :meth:`_oci_allowed`
        allows of what was asked); wrong credentials → 401.
        """
        if request.method != "GET":
            raise oci_error(405, "UNSUPPORTED", OCI_UNSUPPORTED_MESSAGE)
        token = None
        value = (request.header("Authorization") or "").strip()
        if value:
            scheme, _unused, secret = value.partition(" ")
            password = None
            if scheme.lower() == "basic":
                try:
                    password = base64.b64decode(secret.strip(), validate=True).decode("utf-8").partition(":")[2]
                except (binascii.Error, UnicodeError, ValueError):
                    password = None
            token = self.tokens.get(password) if password else None
            if token is None:
                raise oci_error(401, "UNAUTHORIZED", "unauthenticated: User cannot be authenticated with the token provided.")
        requested, granted = {}, {}
        with self.lock:
            for key, scopes in request.query_list:
                for scope in scopes.split() if key == "scope" else ():
                    kind, _sep, rest = scope.partition(":")
                    name, _sep, actions = rest.rpartition(":")
                    if kind != "repository" or not name:
                        continue
                    for action in actions.split(","):
                        if action in ("pull", "push", "delete"):
                            requested.setdefault(name, set()).add(action)
                            if self._oci_allowed(token, name, action):
                                granted.setdefault(name, set()).add(action)
            secret = "ghcr_" + secrets.token_urlsafe(24)
            self.oci_tokens[secret] = {"token": token["token"] if token else None, "requested": requested, "granted": granted}
        return Response(200, {"token": secret, "access_token": secret})

    def _oci_owner(self, name):
        """``(owner or None, package)`` of ``<owner login>/<package>``."""
        login, _sep, package = name.partition("/")
        owner = self.owners.get(("org", login.lower())) or self.owners.get(("user", login.lower()))
        return owner, package

    def _oci_allowed(self, token, name, action):
        """Pull: a public package for anyone; else ``read:packages`` (installation tokens: pull only). Push:
        ``write:packages`` (classic PAT). A user's namespace is its user's alone; an organization's is every token's
        (as on the REST side). ``delete`` is never granted: ghcr.io has no delete over ``/v2/``."""
        owner, package = self._oci_owner(name)
        if owner is None or action not in ("pull", "push"):
            return False
        pkg = owner["packages"].get(("container", package))
        if action == "pull" and pkg is not None and pkg["deleted_at"] is None and pkg["visibility"] == "public":
            return True
        if token is None:
            return False
        if owner["kind"] == "user" and self.token_user(token).lower() != owner["login"].lower():
            return False
        if self.token_kind(token) == "installation":
            return action == "pull"
        return ("read:packages" if action == "pull" else "write:packages") in token["scopes"]

    def _oci_challenge(self, name=None, action=None, error=None):
        value = f'Bearer realm="{self.url}/token",service="{OCI_SERVICE}"'
        if name:
            actions = "pull,push" if action == "push" else action
            value += f',scope="repository:{name}:{actions}"'
        if error:
            value += f',error="{error}"'
        return {"WWW-Authenticate": value}

    def _oci_grant(self, request):
        """The registry token a request carries (``Authorization: Bearer``), or ``None``."""
        scheme, _unused, secret = (request.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self.lock:
            grant = self.oci_tokens.get(secret.strip())
            if grant is None or (grant["token"] is not None and grant["token"] not in self.tokens):
                return None
            return grant

    def _oci_v2(self, request):
        kind, name, reference, template = parse_oci_path(request.path)
        request.route = template
        request.params = {k: v for k, v in (("name", name), ("reference", reference)) if v is not None}
        action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(request.method, "push")
        grant = self._oci_grant(request)
        if grant is None:
            raise oci_error(401, "UNAUTHORIZED", "authentication required", headers=self._oci_challenge(name, action))
        if request.method == "DELETE":
            raise oci_error(405, "UNSUPPORTED", OCI_UNSUPPORTED_MESSAGE)
        if kind == "base":
            return self._oci_forward(request, request.target)
        if kind == "catalog":
            raise oci_error(404, "UNSUPPORTED", OCI_UNSUPPORTED_MESSAGE)
        if kind is None:
            raise oci_error(404, "NOT_FOUND", "404 page not found")
        if not OCI_NAME_RE.match(name):
            raise oci_error(400, "NAME_INVALID", "invalid repository name: ghcr.io images are lowercase <owner>/<package>",
                            detail={"name": name})
        with self.lock:
            owner, package = self._oci_owner(name)
            if owner is None:
                raise oci_error(404, "NAME_UNKNOWN", "repository name not known to registry", detail={"name": name})
            if action not in grant["granted"].get(name, ()):
                if action in grant["requested"].get(name, ()):
                    raise oci_error(403, "DENIED", OCI_SCOPE_MESSAGE)
                raise oci_error(401, "UNAUTHORIZED", "authentication required",
                                headers=self._oci_challenge(name, action, "insufficient_scope"))
            pkg = owner["packages"].get(("container", package))
            known = pkg is not None and pkg["deleted_at"] is None
        if action == "pull" and not known:  # /v2/ reads agree with the REST side: no active package, no repository
            raise oci_error(404, "NAME_UNKNOWN", "repository name not known to registry", detail={"name": name})
        target = request.target
        if kind == "uploads" and request.method == "POST":
            target = self._oci_mount_target(request, grant)
        if kind == "manifests" and request.method == "PUT":
            with self.lock:  # forward and record together, so that the records follow the registry's order
                response = self._oci_forward(request, target)
                owner, package = self._oci_owner(name)
                if response.status == 201 and owner is not None:
                    self._oci_record_push(owner, package, name, reference, request, response)
            return response
        return self._oci_forward(request, target)

    @staticmethod
    def _oci_mount_target(request, grant):
        """A cross-repository mount from a repository the token cannot pull becomes a plain upload (the registry's 202)."""
        query = request.query_list
        source = dict(query).get("from")
        if "mount" not in dict(query) or not source or "pull" in grant["granted"].get(source, ()):
            return request.target
        kept = [(k, v) for k, v in query if k not in ("mount", "from")]
        return request.path + ("?" + urlencode(kept) if kept else "")

    def _backend_request(self, method, target, body=None, headers=None):
        """One request to ``registry_backend``: ``(status, [(header, value)], body)``; ``BackendUnavailable``."""
        return backend_request(self.registry_backend, method, target, body, headers)

    def _oci_forward(self, request, target):
        """Relay a request to the backend; ``Location``/``Link`` pointing at the backend become relative (the front)."""
        try:
            return relay(request, self.registry_backend, target)
        except BackendUnavailable as exc:
            raise oci_error(503, "UNAVAILABLE", f"registry backend unavailable: {exc}") from exc

    def _oci_record_push(self, owner, package, name, reference, request, response):
        """A manifest PUT went through: upsert the package (private, on first push) and the version named by the digest
        (a fresh id when new); a tag moves onto it from the other active versions. The manifest is kept for restores."""
        body = request.raw_body
        digest = next((v for k, v in response.headers.items() if k.lower() == "docker-content-digest"), None)
        digest = digest or "sha256:" + hashlib.sha256(body).hexdigest()
        media_type = (request.header("Content-Type") or "").split(";")[0].strip()
        if not media_type:
            try:
                media_type = json.loads(body.decode("utf-8")).get("mediaType") or ""
            except (ValueError, UnicodeError, AttributeError):
                media_type = ""
        now = self.now()
        pkg = owner["packages"].get(("container", package))
        if pkg is None or pkg["deleted_at"] is not None:
            pkg = self._new_package(owner, package, created_at=now)
        ver = next((v for v in pkg["versions"].values() if v["name"] == digest and v["deleted_at"] is None), None)
        if ver is None:
            vid = self._next_id("version")
            ver = {"id": vid, "name": digest, "tags": [], "created_at": now, "updated_at": now, "deleted_at": None}
            pkg["versions"][vid] = ver
        ver["manifest"] = {"repository": name, "media_type": media_type, "body": body}
        if ":" not in reference:  # a tag (a digest reference has the algorithm and a colon)
            for other in pkg["versions"].values():
                if other is not ver and other["deleted_at"] is None and reference in other["tags"]:
                    other["tags"].remove(reference)
                    other["updated_at"] = now
            if reference not in ver["tags"]:
                ver["tags"].append(reference)
                ver["updated_at"] = now
        pkg["updated_at"] = now

    def _backed(self, versions):
        """The versions whose manifest went to the backend (pushed through the front), when a backend is set."""
        return [v for v in versions if v.get("manifest")] if self.registry_backend else []

    def _backend_manifest(self, ver, method, reference=None):
        """DELETE (202, or 404 = already gone) or PUT (201) one manifest of ``ver`` on the backend; 503/502 otherwise."""
        man = ver["manifest"]
        target = f"/v2/{man['repository']}/manifests/{reference or ver['name']}"
        headers = {"Content-Type": man["media_type"]} if method == "PUT" and man["media_type"] else {}
        try:
            status, _unused, data = self._backend_request(method, target, man["body"] if method == "PUT" else None, headers)
        except BackendUnavailable as exc:
            raise ApiError(503, f"Registry backend unavailable: {exc}") from exc
        if status not in ((201,) if method == "PUT" else (202, 404)):
            raise ApiError(502, f"Registry backend answered {status} to {method} {target}: {data[:300].decode('utf-8', 'replace')}")

    def _backend_delete(self, versions):
        for ver in self._backed(versions):
            self._backend_manifest(ver, "DELETE")

    def _backend_restore(self, versions, tags=None):
        """Re-PUT each manifest by digest (indexes after the rest: their children first), then its tags (``tags[id]``)."""
        for ver in sorted(self._backed(versions), key=lambda v: (v["manifest"]["media_type"] in OCI_INDEX_TYPES, v["id"])):
            self._backend_manifest(ver, "PUT")
            for tag in (tags or {}).get(ver["id"], ver["tags"]):
                self._backend_manifest(ver, "PUT", tag)

    def _purge_backend(self):
        """Delete from the backend every live manifest pushed through the front (``reset``); stops at the first failure."""
        if not self.registry_backend:
            return
        live = [v for owner in self.owners.values() for pkg in owner["packages"].values() if pkg["deleted_at"] is None
                for v in pkg["versions"].values() if v["deleted_at"] is None]
        try:
            for ver in self._backed(live):
                self._backend_request("DELETE", f"/v2/{ver['manifest']['repository']}/manifests/{ver['name']}")
        except BackendUnavailable:
            pass

    # -- routes --------------------------------------------------------------
    def setup_routes(self):
        """Every operation of the spec subset (plus the user attestation twins and the plural storage-record path)."""
        meta = "/orgs/{org}/artifacts/metadata"
        self.route("POST", meta + "/storage-record", self.create_storage_record)
        self.route("POST", meta + "/storage-records", self.create_storage_record_plural)
        self.route("POST", meta + "/deployment-record", self.create_deployment_record)
        self.route("POST", meta + "/deployment-record/cluster/{cluster}", self.set_cluster_records)
        self.route("POST", meta + "/deployment-record/cluster/{cluster}/jobs", self.create_cluster_job)
        self.route("GET", meta + "/deployment-record/cluster/{cluster}/jobs/{job_id:int}", self.get_cluster_job)
        self.route("GET", "/orgs/{org}/artifacts/{subject_digest}/metadata/storage-records", self.list_storage_records)
        self.route("GET", "/orgs/{org}/artifacts/{subject_digest}/metadata/deployment-records", self.list_deployment_records)
        for kind, owner in (("orgs", "{org}"), ("users", "{username}")):
            base = f"/{kind}/{owner}/attestations"
            self.route("POST", base + "/bulk-list", self.bulk_list_attestations)
            self.route("POST", base + "/delete-request", self.delete_attestations_bulk)
            self.route("DELETE", base + "/digest/{subject_digest}", self.delete_attestations_by_digest)
            self.route("DELETE", base + "/{attestation_id:int}", self.delete_attestation_by_id)
            self.route("GET", base + "/{subject_digest}", self.list_attestations)
        for base in ("/orgs/{org}/packages", "/user/packages"):
            pkg = base + "/{package_type}/{package_name:enc}"
            version = pkg + "/versions/{package_version_id:int}"
            self.route("GET", base, self.list_packages)
            self.route("GET", pkg, self.get_package)
            self.route("DELETE", pkg, self.delete_package)
            self.route("POST", pkg + "/restore", self.restore_package)
            self.route("GET", pkg + "/versions", self.list_versions)
            self.route("GET", version, self.get_version)
            self.route("DELETE", version, self.delete_version)
            self.route("POST", version + "/restore", self.restore_version)

    # -- owners ----------------------------------------------------------------
    def _new_owner(self, kind, login, owner_id=None):
        key = (kind, login.lower())
        if key in self.owners:
            return self.owners[key]
        owner = {"kind": kind, "login": login, "id": owner_id or self._next_id("owner"), "repositories": {}, "packages": {},
                 "graveyard": [], "storage_records": [], "deployment_records": [], "attestations": []}
        self.owners[key] = owner
        return owner

    def _org(self, request):
        owner = self.owners.get(("org", request.params["org"].lower()))
        if owner is None:
            raise ApiError(404, "Not Found")
        return owner

    def _user_owner(self, request):
        """``/users/{username}``: any known user; ``/user``: the token's user."""
        login = request.params["username"] if "username" in request.params else self.token_user(request.gh_token)
        owner = self.owners.get(("user", login.lower()))
        if owner is None:
            raise ApiError(404, "Not Found")
        return owner

    def _pkg_owner(self, request):
        return self._org(request) if "org" in request.params else self._user_owner(request)

    def _att_owner(self, request):
        return self._org(request) if "org" in request.params else self._user_owner(request)

    def owner_json(self, owner):
        """``simple-user`` of an org or a user."""
        login = owner["login"]
        api = f"https://api.github.com/users/{login}"
        return {"login": login, "id": owner["id"], "node_id": base64.b64encode(f"04:User{owner['id']}".encode()).decode(),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{owner['id']}?v=4", "gravatar_id": "", "url": api,
                "html_url": f"https://github.com/{login}", "followers_url": api + "/followers",
                "following_url": api + "/following{/other_user}", "gists_url": api + "/gists{/gist_id}",
                "starred_url": api + "/starred{/owner}{/repo}", "subscriptions_url": api + "/subscriptions",
                "organizations_url": api + "/orgs", "repos_url": api + "/repos", "events_url": api + "/events{/privacy}",
                "received_events_url": api + "/received_events", "type": "Organization" if owner["kind"] == "org" else "User",
                "site_admin": False}

    def _repository(self, owner, name, create=True):
        repo = owner["repositories"].get(name.lower())
        if repo is None and create:
            repo = {"id": self._next_id("repository"), "name": name, "writable": True, "private": True}
            owner["repositories"][name.lower()] = repo
        return repo

    def repository_json(self, owner, repo):
        """A subset of ``minimal-repository``."""
        full = f"{owner['login']}/{repo['name']}"
        return {"id": repo["id"], "node_id": base64.b64encode(f"010:Repository{repo['id']}".encode()).decode(), "name": repo["name"],
                "full_name": full, "owner": self.owner_json(owner), "private": repo["private"], "html_url": f"https://github.com/{full}",
                "description": None, "fork": False, "url": f"https://api.github.com/repos/{full}"}

    # -- pagination ------------------------------------------------------------
    def _link(self, request, **changes):
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        for key, value in changes.items():
            query.pop("before" if key == "after" else "after" if key == "before" else "", None)
            query[key] = str(value)
        return f"{self._base()}{request.path}?{urlencode(query)}"

    def _page(self, request, items, cap=False):
        """``page``/``per_page`` (default 30, max 100, clamped): ``(page items, Link headers)``."""
        query = request.query
        try:
            per_page = int(query.get("per_page") or self.default_per_page)
        except ValueError:
            per_page = self.default_per_page
        try:
            page = int(query.get("page") or 1)
        except ValueError:
            page = 1
        per_page = min(max(per_page, 1), self.max_per_page)
        page = max(page, 1)
        if cap and page * per_page > self.max_results:
            raise ApiError(400, PER_PAGE_CAP_MESSAGE)
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []
        if page < last:
            links += [f'<{self._link(request, page=page + 1)}>; rel="next"', f'<{self._link(request, page=last)}>; rel="last"']
        if page > 1:
            links += [f'<{self._link(request, page=page - 1)}>; rel="prev"', f'<{self._link(request, page=1)}>; rel="first"']
        headers = {"Link": ", ".join(links)} if links else {}
        start = (page - 1) * per_page
        return items[start:start + per_page], headers

    def _cursor_page(self, request, items):
        """Attestation cursors: ``per_page`` (max 100), ``before`` / ``after``; ``(page, start, end)``."""
        query = request.query
        try:
            per_page = min(max(int(query.get("per_page") or self.default_per_page), 1), self.max_per_page)
        except ValueError:
            per_page = self.default_per_page
        try:
            if query.get("after"):
                start = decode_cursor(query["after"])
            elif query.get("before"):
                start = max(decode_cursor(query["before"]) - per_page, 0)
            else:
                start = 0
        except ValueError as exc:
            raise ApiError(400, "Invalid cursor") from exc
        end = min(start + per_page, len(items))
        return items[start:end], start, end

    # -- times and windows -----------------------------------------------------
    def _restorable(self, deleted_at):
        return deleted_at is not None and self.now() - deleted_at <= timedelta(days=self.restore_window_days)

    # -- packages: JSON --------------------------------------------------------
    def _pkg_base(self, owner):
        prefix = f"/orgs/{owner['login']}" if owner["kind"] == "org" else f"/users/{owner['login']}"
        return prefix + "/packages"

    def package_json(self, owner, pkg):
        """``package``."""
        active = [v for v in pkg["versions"].values() if v["deleted_at"] is None]
        html = (f"https://github.com/orgs/{owner['login']}/packages/{pkg['package_type']}/package/{pkg['name']}" if owner["kind"] == "org"
                else f"https://github.com/users/{owner['login']}/packages/{pkg['package_type']}/package/{pkg['name']}")
        repo = owner["repositories"].get((pkg["repository"] or "").lower())
        return {"id": pkg["id"], "name": pkg["name"], "package_type": pkg["package_type"],
                "owner": self.owner_json(owner),
                "version_count": len(active), "visibility": pkg["visibility"],
                "url": f"{self._base()}{self._pkg_base(owner)}/{pkg['package_type']}/{package_path_name(pkg['name'])}",
                "created_at": fmt_z(pkg["created_at"]), "updated_at": fmt_z(pkg["updated_at"]),
                "repository": self.repository_json(owner, repo) if repo else None, "html_url": html}

    def version_json(self, owner, pkg, ver):
        """``package-version`` (``metadata.container.tags`` for containers)."""
        pkg_url = f"{self._base()}{self._pkg_base(owner)}/{pkg['package_type']}/{package_path_name(pkg['name'])}"
        html = self.package_json(owner, pkg)["html_url"]
        body = {"id": ver["id"], "name": ver["name"], "url": f"{pkg_url}/versions/{ver['id']}", "package_html_url": html,
                "created_at": fmt_z(ver["created_at"]), "updated_at": fmt_z(ver["updated_at"]), "html_url": f"{html}/{ver['id']}",
                "metadata": {"package_type": pkg["package_type"]}}
        if pkg["package_type"] == "container":
            body["metadata"]["container"] = {"tags": list(ver["tags"])}
        elif pkg["package_type"] == "docker":
            body["metadata"]["docker"] = {"tags": list(ver["tags"])}
        if ver["deleted_at"] is not None:
            body["deleted_at"] = fmt_z(ver["deleted_at"])
        return body

    # -- packages: handlers ----------------------------------------------------
    def _package(self, request, scopes=("read:packages",)):
        self._require_packages(request, *scopes)
        owner = self._pkg_owner(request)
        ptype = request.params["package_type"]
        pkg = owner["packages"].get((ptype, request.params["package_name"])) if ptype in PACKAGE_TYPES else None
        if pkg is None or pkg["deleted_at"] is not None:
            raise ApiError(404, "Package not found.")
        return owner, pkg

    def list_packages(self, request):
        """``GET /orgs/{org}/packages``, ``GET /user/packages``: ``package_type`` required."""
        self._require_packages(request, "read:packages")
        owner = self._pkg_owner(request)
        query = request.query
        ptype = query.get("package_type")
        if ptype is None:
            raise invalid("\"package_type\" wasn't supplied.")
        if ptype not in PACKAGE_TYPES:
            raise invalid(f"Invalid property \"package_type\": \"{ptype}\" is not one of {', '.join(PACKAGE_TYPES)}.")
        visibility = query.get("visibility")
        if visibility is not None and visibility not in VISIBILITIES:
            raise invalid(f"Invalid property \"visibility\": \"{visibility}\" is not one of {', '.join(VISIBILITIES)}.")
        items = [p for p in sorted(owner["packages"].values(), key=lambda p: p["id"])
                 if p["package_type"] == ptype and p["deleted_at"] is None and (visibility is None or p["visibility"] == visibility)]
        page, headers = self._page(request, items, cap=True)
        return Response(200, [self.package_json(owner, p) for p in page], headers)

    def get_package(self, request):
        """``GET .../packages/{type}/{name}``."""
        owner, pkg = self._package(request)
        return self.package_json(owner, pkg)

    def _check_downloads(self, pkg):
        if pkg["visibility"] == "public" and pkg["download_count"] > self.download_limit:
            raise ApiError(403, f"Publicly visible packages with more than {self.download_limit} downloads cannot be deleted. "
                                "Contact GitHub support for more help.")

    def delete_package(self, request):
        """``DELETE``: 204; restorable for ``restore_window_days``."""
        _owner, pkg = self._package(request, ("read:packages", "delete:packages"))
        self._check_downloads(pkg)
        self._backend_delete([v for v in pkg["versions"].values() if v["deleted_at"] is None])
        pkg["deleted_at"] = self.now()
        return Response(204)

    def restore_package(self, request):
        """``POST .../restore``: 204 inside the window; 404 after it; 403 when the name was reused."""
        self._require_packages(request, "read:packages", "write:packages")
        owner = self._pkg_owner(request)
        key = (request.params["package_type"], request.params["package_name"])
        current = owner["packages"].get(key)
        if current is not None and current["deleted_at"] is not None:
            if not self._restorable(current["deleted_at"]):
                raise ApiError(404, "Package not found.")
            self._backend_restore([v for v in current["versions"].values() if v["deleted_at"] is None])
            current["deleted_at"] = None
            current["updated_at"] = self.now()
            return Response(204)
        old = [p for p in owner["graveyard"] if (p["package_type"], p["name"]) == key and self._restorable(p["deleted_at"])]
        if old and current is not None:
            raise ApiError(403, "A package with the same name already exists. Delete it before restoring the old one.")
        raise ApiError(404, "Package not found.")

    def list_versions(self, request):
        """``GET .../versions``: ``state`` active (default) or deleted; page/per_page + Link."""
        owner, pkg = self._package(request)
        state = request.query.get("state", "active")
        if state not in ("active", "deleted"):
            raise invalid(f"Invalid property \"state\": \"{state}\" is not one of active, deleted.")
        items = [v for v in sorted(pkg["versions"].values(), key=lambda v: (v["created_at"], v["id"]), reverse=True)
                 if (v["deleted_at"] is None) == (state == "active")]
        page, headers = self._page(request, items)
        return Response(200, [self.version_json(owner, pkg, v) for v in page], headers)

    def _version(self, request, scopes=("read:packages",), deleted=False):
        owner, pkg = self._package(request, scopes)
        ver = pkg["versions"].get(request.params["package_version_id"])
        if ver is None or (ver["deleted_at"] is not None) != deleted:
            raise ApiError(404, "Package version not found.")
        return owner, pkg, ver

    def get_version(self, request):
        """``GET .../versions/{id}``."""
        owner, pkg, ver = self._version(request)
        return self.version_json(owner, pkg, ver)

    def delete_version(self, request):
        """``DELETE .../versions/{id}``: 204; the last (tagged) version is refused with 400."""
        _owner, pkg, ver = self._version(request, ("read:packages", "delete:packages"))
        self._check_downloads(pkg)
        active = [v for v in pkg["versions"].values() if v["deleted_at"] is None]
        if self.last_version_rule == "last" and len(active) == 1:
            raise ApiError(400, LAST_VERSION_MESSAGE)
        if self.last_version_rule == "last_tagged" and ver["tags"] and not any(v["tags"] for v in active if v is not ver):
            raise ApiError(400, LAST_TAGGED_MESSAGE)
        self._backend_delete([ver])
        ver["deleted_at"] = self.now()
        pkg["updated_at"] = self.now()
        return Response(204)

    def restore_version(self, request):
        """``POST .../versions/{id}/restore``: 204 inside the window (tags taken since then stay where they are); 404 after;
        403 while another active version has the same digest (pushed again since)."""
        _owner, pkg, ver = self._version(request, ("read:packages", "write:packages"), deleted=True)
        if not self._restorable(ver["deleted_at"]):
            raise ApiError(404, "Package version not found.")
        if any(v["name"] == ver["name"] and v["deleted_at"] is None for v in pkg["versions"].values()):
            raise ApiError(403, "A version with the same digest exists. Delete it before restoring the old one.")
        taken = {t for v in pkg["versions"].values() if v["deleted_at"] is None for t in v["tags"]}
        kept = [t for t in ver["tags"] if t not in taken]
        self._backend_restore([ver], {ver["id"]: kept})
        ver["tags"] = kept
        ver["deleted_at"] = None
        ver["updated_at"] = pkg["updated_at"] = self.now()
        return Response(204)

    # -- artifact metadata -----------------------------------------------------
    def _subject_digest(self, request):
        digest = request.params["subject_digest"]
        if not DIGEST_RE.match(digest):
            raise invalid(f"Invalid property \"subject_digest\": \"{digest}\" does not match pattern {DIGEST_RE.pattern}.")
        return digest

    def _github_repository(self, owner, name):
        """Resolve ``github_repository`` (created on first use); 403 object ``message`` when not writable."""
        if name is None:
            return None
        repo = self._repository(owner, name)
        if not repo["writable"]:
            raise ApiError(403, "artifact metadata write permission required on one or more repositories",
                           object_message=True, repositories=[repo["id"]])
        return repo

    def storage_json(self, rec):
        """Storage record item as the create/list answers show it."""
        return {"id": rec["id"], "name": rec["name"], "digest": rec["digest"], "artifact_url": rec["artifact_url"],
                "registry_url": rec["registry_url"], "repository": rec["repository"], "status": rec["status"],
                "created_at": fmt_z(rec["created_at"]), "updated_at": fmt_z(rec["updated_at"])}

    def create_storage_record_plural(self, request):
        """The older plural path ``.../storage-records`` (``storage_record_path`` plural or both)."""
        if self.storage_record_path == "singular":
            raise ApiError(404, "Not Found")
        return self._create_storage_record(request)

    def create_storage_record(self, request):
        """``POST /orgs/{org}/artifacts/metadata/storage-record``: upsert by (name, digest, registry_url, repository)."""
        if self.storage_record_path == "plural":
            raise ApiError(404, "Not Found")
        return self._create_storage_record(request)

    def _create_storage_record(self, request):
        owner = self._org(request)
        data = _body(request)
        return self.upsert_storage_record(owner, data)

    def upsert_storage_record(self, owner, data):
        """Validate and store one storage record; returns the API answer."""
        name = _check_str(data, "name", True, 1, 256)
        digest = _check_str(data, "digest", True, 71, 71, DIGEST_RE)
        _check_str(data, "version", False, 1, 100)
        artifact_url = _check_str(data, "artifact_url", False, 0, 152, re.compile(r"^https://"))
        _check_str(data, "path", False, 0, 512)
        registry_url = _check_str(data, "registry_url", True, 1, 256, re.compile(r"^https://"))
        repository = _check_str(data, "repository", False, 0, 128)
        status = _check_str(data, "status", False, choices=STORAGE_STATUSES) or "active"
        gh_repo = _check_str(data, "github_repository", False, 1, 100, GH_REPO_RE)
        return_records = _check_bool(data, "return_records", True)
        self._github_repository(owner, gh_repo)
        now = self.now()
        key = (name, digest, registry_url, repository)
        rec = next((r for r in owner["storage_records"] if (r["name"], r["digest"], r["registry_url"], r["repository"]) == key), None)
        if rec is None:
            rec = {"id": self._next_id("storage"), "name": name, "digest": digest, "registry_url": registry_url, "repository": repository,
                   "created_at": now}
            owner["storage_records"].append(rec)
        rec.update({"artifact_url": artifact_url, "status": status, "version": data.get("version"), "path": data.get("path"),
                    "github_repository": gh_repo, "updated_at": now})
        body = {"total_count": 1}
        if return_records:
            body["storage_records"] = [self.storage_json(rec)]
        return body

    def list_storage_records(self, request):
        """``GET /orgs/{org}/artifacts/{subject_digest}/metadata/storage-records``: no pagination."""
        owner = self._org(request)
        digest = self._subject_digest(request)
        records = [self.storage_json(r) for r in owner["storage_records"] if r["digest"] == digest]
        return {"total_count": len(records), "storage_records": records}

    def deployment_json(self, owner, rec):
        """``artifact-deployment-record`` (+ name/version/status/github_repository with ``deployment_record_extras``)."""
        att = next((a for a in owner["attestations"] if rec["digest"] in a["subject_digests"]), None)
        body = {"id": rec["id"], "digest": rec["digest"], "logical_environment": rec["logical_environment"],
                "physical_environment": rec["physical_environment"], "cluster": rec["cluster"], "deployment_name": rec["deployment_name"],
                "tags": dict(rec["tags"]), "runtime_risks": list(rec["runtime_risks"]), "created_at": fmt_z(rec["created_at"]),
                "updated_at": fmt_z(rec["updated_at"]), "attestation_id": att["id"] if att else None}
        if self.deployment_record_extras:
            body.update({"name": rec["name"], "version": rec["version"], "status": rec["status"], "github_repository": rec["github_repository"]})
        return body

    @staticmethod
    def _check_deployment(data, cluster_item=False):
        name = _check_str(data, "name", True, 1, 256)
        digest = _check_str(data, "digest", True, 71, 71, DIGEST_RE)
        version = _check_str(data, "version", False, 0 if cluster_item else 1, 100)
        status = _check_str(data, "status", not cluster_item, choices=DEPLOYMENT_STATUSES) or "deployed"
        deployment_name = _check_str(data, "deployment_name", True, 1, 256)
        gh_repo = _check_str(data, "github_repository", False, 1, 100, GH_REPO_RE)
        tags = data.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise invalid("Invalid property \"tags\": must be an object of strings.")
        if not cluster_item and len(tags) > 5:
            raise invalid("Invalid property \"tags\": must have at most 5 properties.")
        risks = data.get("runtime_risks") or []
        if (not isinstance(risks, list) or len(risks) > 4 or len(set(map(str, risks))) != len(risks)
                or any(r not in RUNTIME_RISKS for r in risks)):
            raise invalid(f"Invalid property \"runtime_risks\": at most 4 unique values of {', '.join(RUNTIME_RISKS)}.")
        return {"name": name, "digest": digest, "version": version, "status": status, "deployment_name": deployment_name,
                "github_repository": gh_repo, "tags": dict(tags), "runtime_risks": list(risks)}

    def _upsert_deployment(self, owner, item, logical, physical, cluster):
        now = self.now()
        key = (logical, physical, cluster, item["deployment_name"])
        rec = next((r for r in owner["deployment_records"]
                    if (r["logical_environment"], r["physical_environment"], r["cluster"], r["deployment_name"]) == key), None)
        if rec is None:
            rec = {"id": self._next_id("deployment"), "logical_environment": logical, "physical_environment": physical, "cluster": cluster,
                   "deployment_name": item["deployment_name"], "created_at": now}
            owner["deployment_records"].append(rec)
        rec.update({k: item[k] for k in ("name", "digest", "version", "status", "github_repository", "tags", "runtime_risks")})
        rec["updated_at"] = now
        return rec

    def create_deployment_record(self, request):
        """``POST /orgs/{org}/artifacts/metadata/deployment-record``: upsert by (logical, physical, cluster, deployment_name)."""
        owner = self._org(request)
        data = _body(request)
        item = self._check_deployment(data)
        logical = _check_str(data, "logical_environment", True, 1, 128)
        physical = _check_str(data, "physical_environment", False, 0, 128)
        cluster = _check_str(data, "cluster", False, 0, 128)
        return_records = _check_bool(data, "return_records", True)
        self._github_repository(owner, item["github_repository"])
        rec = self._upsert_deployment(owner, item, logical, physical, cluster)
        body = {"total_count": 1}
        if return_records:
            body["deployment_records"] = [self.deployment_json(owner, rec)]
        return body

    def _cluster_body(self, request, max_items, allow_partial):
        owner = self._org(request)
        cluster = request.params["cluster"]
        if len(cluster) > 128 or not CLUSTER_RE.match(cluster):
            raise invalid(f"Invalid property \"cluster\": \"{cluster}\" does not match pattern {CLUSTER_RE.pattern}.")
        data = _body(request)
        logical = _check_str(data, "logical_environment", True, 1, 128)
        physical = _check_str(data, "physical_environment", False, 0, 128)
        deployments = data.get("deployments")
        if not isinstance(deployments, list):
            raise invalid("\"deployments\" wasn't supplied.")
        if len(deployments) > max_items:
            raise invalid(f"Invalid property \"deployments\": must have at most {max_items} items.")
        items = [self._check_deployment(d if isinstance(d, dict) else {}, cluster_item=True) for d in deployments]
        names = [i["deployment_name"] for i in items]
        if len(set(names)) != len(names):
            raise invalid("Invalid property \"deployments\": deployment_name must be unique across the array.")
        partial = _check_bool(data, "partial_success", False) if allow_partial else True
        return_records = _check_bool(data, "return_records", True) if allow_partial else False
        ok, errors, denied = [], [], []
        first = {}
        for item in items:
            repo = self._repository(owner, item["github_repository"]) if item["github_repository"] else None
            if repo is not None and not repo["writable"]:
                fields = ("name", "digest", "deployment_name", "version", "status", "github_repository", "tags", "runtime_risks")
                errors.append({"cause": "unauthorized", "deployment": {k: item[k] for k in fields}})
                denied.append(repo["id"])
                continue
            artifact = (item["github_repository"], item["digest"])
            if artifact in first:  # one artifact (repository, digest) has one name and version: the first entry's
                item["name"], item["version"] = first[artifact]
            else:
                first[artifact] = (item["name"], item["version"])
            ok.append(item)
        if denied and not partial:
            raise ApiError(403, "artifact metadata write permission required on one or more repositories", object_message=True,
                           repositories=sorted(set(denied)))
        return owner, cluster, logical, physical, ok, errors, return_records

    def set_cluster_records(self, request):
        """``POST .../deployment-record/cluster/{cluster}``: 200, or 207 with ``errors`` under ``partial_success``."""
        owner, cluster, logical, physical, items, errors, return_records = self._cluster_body(request, 1000, True)
        records = [self._upsert_deployment(owner, item, logical, physical, cluster) for item in items]
        body = {"total_count": len(records)}
        if return_records:
            body["deployment_records"] = [self.deployment_json(owner, r) for r in records]
        if errors:
            body["errors"] = errors
            return Response(207, body)
        return body

    def create_cluster_job(self, request):
        """``POST .../cluster/{cluster}/jobs``: 202 ``{job_id, errors}``; 409 while a job of the cluster runs."""
        org = request.params["org"].lower()
        cluster = request.params["cluster"]
        for job in self.jobs.values():
            if job["org"] == org and job["cluster"] == cluster and job["status"] in ("pending", "processing"):
                raise ApiError(409, "A job is already in progress for this cluster.")
        owner, cluster, logical, physical, items, errors, _unused = self._cluster_body(request, 5000, False)
        job = {"job_id": self._next_id("job"), "org": org, "cluster": cluster, "status": "pending", "started_at": self.now(),
               "polls": 0, "items": items, "logical": logical, "physical": physical, "errors": errors, "total_count": 0,
               "owner": (owner["kind"], owner["login"].lower())}
        self.jobs[job["job_id"]] = job
        return Response(202, {"job_id": job["job_id"], "errors": errors})

    def _advance_job(self, job):
        if job["status"] in ("completed", "failed"):
            return
        job["polls"] += 1
        if job["polls"] >= self.job_polls:
            owner = self.owners[job["owner"]]
            for item in job["items"]:
                self._upsert_deployment(owner, item, job["logical"], job["physical"], job["cluster"])
            job["total_count"] = len(job["items"])
            job["status"] = "completed"
        else:
            job["status"] = "processing"

    def job_json(self, job):
        """Job status answer."""
        return {"job_id": job["job_id"], "status": job["status"], "started_at": fmt_z(job["started_at"]),
                "total_count": job["total_count"], "errors": list(job["errors"])}

    def get_cluster_job(self, request):
        """``GET .../cluster/{cluster}/jobs/{job_id}``: each read moves the job on (``job_polls`` reads to completion)."""
        self._org(request)
        job = self.jobs.get(request.params["job_id"])
        if job is None or job["org"] != request.params["org"].lower() or job["cluster"] != request.params["cluster"]:
            raise ApiError(404, "Not Found")
        self._advance_job(job)
        return self.job_json(job)

    def complete_jobs(self):
        """Finish every pending cluster job now."""
        with self.lock:
            for job in self.jobs.values():
                while job["status"] not in ("completed", "failed"):
                    self._advance_job(job)

    def list_deployment_records(self, request):
        """``GET /orgs/{org}/artifacts/{subject_digest}/metadata/deployment-records``: no pagination."""
        owner = self._org(request)
        digest = self._subject_digest(request)
        records = [self.deployment_json(owner, r) for r in owner["deployment_records"] if r["digest"] == digest]
        return {"total_count": len(records), "deployment_records": records}

    # -- attestations ----------------------------------------------------------
    def attestation_json(self, att, version):
        """List item: ``bundle`` (dropped for API version 2026-03-10), ``repository_id``, ``bundle_url``, ``initiator``."""
        statement = {"_type": "https://in-toto.io/Statement/v1", "predicateType": att["predicate_type"],
                     "subject": [{"digest": {d.split(":", 1)[0]: d.split(":", 1)[-1]}} for d in att["subject_digests"]]}
        body = {"repository_id": att["repository_id"], "bundle_url": f"https://attestations.example.invalid/bundles/{att['id']}.json",
                "initiator": att["initiator"]}
        if version != "2026-03-10":
            body = {"bundle": {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": {},
                               "dsseEnvelope": {"payloadType": "application/vnd.in-toto+json", "signatures": [],
                                                "payload": base64.b64encode(json.dumps(statement).encode()).decode()}}, **body}
        return body

    @staticmethod
    def _predicate_matches(att, wanted):
        return wanted is None or wanted in (att["predicate"], att["predicate_type"])

    def list_attestations(self, request):
        """``GET .../attestations/{subject_digest}``: cursor pagination, ``Link`` rel next/prev."""
        owner = self._att_owner(request)
        digest = request.params["subject_digest"]
        wanted = request.query.get("predicate_type")
        items = [a for a in owner["attestations"] if digest in a["subject_digests"] and self._predicate_matches(a, wanted)]
        page, start, end = self._cursor_page(request, items)
        links = []
        if end < len(items):
            links.append(f'<{self._link(request, after=encode_cursor(end))}>; rel="next"')
        if start > 0:
            links.append(f'<{self._link(request, before=encode_cursor(start))}>; rel="prev"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, {"attestations": [self.attestation_json(a, request.gh_version) for a in page]}, headers)

    @staticmethod
    def _digest_list(data, key="subject_digests", kind=str):
        values = data.get(key)
        valid = isinstance(values, list) and 1 <= len(values) <= 1024
        if not valid or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
            raise invalid(f"Invalid property \"{key}\": must be an array of 1 to 1024 {'strings' if kind is str else 'integers'}.")
        return values

    def bulk_list_attestations(self, request):
        """``POST .../attestations/bulk-list``: ``{attestations_subject_digests: {digest: [...] | null}, page_info}``."""
        owner = self._att_owner(request)
        data = _body(request)
        digests = self._digest_list(data)
        wanted = _check_str(data, "predicate_type")
        pairs = [(d, a) for d in digests for a in owner["attestations"] if d in a["subject_digests"] and self._predicate_matches(a, wanted)]
        page, start, end = self._cursor_page(request, pairs)
        result = {d: None for d in digests}
        for digest, att in page:
            item = self.attestation_json(att, request.gh_version)
            item.pop("initiator", None)
            result[digest] = (result[digest] or []) + [item]
        return {"attestations_subject_digests": result,
                "page_info": {"has_next": end < len(pairs), "has_previous": start > 0,
                              "next": encode_cursor(end) if end < len(pairs) else "", "previous": encode_cursor(start) if start > 0 else ""}}

    def _check_att_write(self, request, owner, atts):
        """User attestations: only the user's own token deletes them (others get 404, as GitHub hides them)."""
        if owner["kind"] == "user" and self.token_user(request.gh_token).lower() != owner["login"].lower():
            raise ApiError(404, "Not Found")
        denied = sorted({a["repository_id"] for a in atts if not self._repo_by_id(owner, a["repository_id"])["writable"]})
        return denied

    @staticmethod
    def _repo_by_id(owner, repo_id):
        return next((r for r in owner["repositories"].values() if r["id"] == repo_id), {"writable": True})

    def _deleted(self, owner, atts):
        ids = {a["id"] for a in atts}
        owner["attestations"] = [a for a in owner["attestations"] if a["id"] not in ids]

    def delete_attestations_bulk(self, request):
        """``POST .../attestations/delete-request``: ``subject_digests`` xor ``attestation_ids``; 200 (empty), 404 when none match."""
        owner = self._att_owner(request)
        data = _body(request)
        if ("subject_digests" in data) == ("attestation_ids" in data):
            raise invalid("No subschema in \"oneOf\" matched: give either \"subject_digests\" or \"attestation_ids\", not both.")
        if "subject_digests" in data:
            digests = set(self._digest_list(data))
            atts = [a for a in owner["attestations"] if digests.intersection(a["subject_digests"])]
        else:
            ids = set(self._digest_list(data, "attestation_ids", int))
            atts = [a for a in owner["attestations"] if a["id"] in ids]
        denied = self._check_att_write(request, owner, atts)
        if not atts:
            raise ApiError(404, "Not Found")
        atts = [a for a in atts if a["repository_id"] not in denied]
        self._deleted(owner, atts)
        return Response(200)

    def delete_attestations_by_digest(self, request):
        """``DELETE .../attestations/digest/{subject_digest}``: every attestation of the subject; 200 (or 204), 404 when none."""
        owner = self._att_owner(request)
        digest = request.params["subject_digest"]
        atts = [a for a in owner["attestations"] if digest in a["subject_digests"]]
        denied = self._check_att_write(request, owner, atts)
        if not atts:
            raise ApiError(404, "Not Found")
        self._deleted(owner, [a for a in atts if a["repository_id"] not in denied])
        return Response(self.attestation_delete_status)

    def delete_attestation_by_id(self, request):
        """``DELETE .../attestations/{attestation_id}``: 200 (or 204); 403 when its repository is not writable; 404."""
        owner = self._att_owner(request)
        atts = [a for a in owner["attestations"] if a["id"] == request.params["attestation_id"]]
        denied = self._check_att_write(request, owner, atts)
        if not atts:
            raise ApiError(404, "Not Found")
        if denied:
            raise ApiError(403, "Resource not accessible: the token cannot write attestations of this repository.")
        self._deleted(owner, atts)
        return Response(self.attestation_delete_status)

    # -- seeding ---------------------------------------------------------------
    def _owner_by(self, kind, login):
        owner = self.owners.get((kind, login.lower()))
        if owner is None:
            raise ValueError(f"unknown {kind} {login!r}")
        return owner

    def add_org(self, login, org_id=None, repositories=()):
        """Create an organization (or return it); ``repositories``: names or ``{"name", "id", "writable", "private"}``."""
        with self.lock:
            owner = self._new_owner("org", login, org_id)
            for repo in repositories:
                self.add_repository("org", login, repo)
            return owner

    def add_user(self, login, user_id=None, repositories=()):
        """Create a user account (or return it)."""
        with self.lock:
            owner = self._new_owner("user", login, user_id)
            for repo in repositories:
                self.add_repository("user", login, repo)
            return owner

    def add_repository(self, kind, login, repo):
        """Add a repository to an owner; returns it."""
        with self.lock:
            owner = self._owner_by(kind, login)
            spec = {"name": repo} if isinstance(repo, str) else dict(repo)
            made = self._repository(owner, spec["name"])
            if "id" in spec:
                made["id"] = int(spec["id"])
            made["writable"] = bool(spec.get("writable", True))
            made["private"] = bool(spec.get("private", True))
            return made

    def add_package(self, kind, login, name, package_type="container", visibility="private", versions=(), repository=None,
                    download_count=0, created_at=None, deleted_at=None, package_id=None):
        """Add a package (``kind`` ``org``/``user``); ``versions``: digests or ``{"name", "tags", "id", "created_at", "deleted_at"}``.

        A package added under the name of a deleted one moves the deleted one out of the way (its name is reused).
        """
        if package_type not in PACKAGE_TYPES:
            raise ValueError(f"package_type must be one of {', '.join(PACKAGE_TYPES)}")
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        with self.lock:
            owner = self._owner_by(kind, login)
            pkg = owner["packages"].get((package_type, name))
            if pkg is None or pkg["deleted_at"] is not None:
                pkg = self._new_package(owner, name, package_type, visibility, repository, download_count, created_at, deleted_at,
                                        package_id)
            for ver in versions:
                spec = {"name": ver} if isinstance(ver, str) else dict(ver)
                self.add_version(kind, login, name, package_type=package_type, **spec)
            return self.package_json(owner, pkg)

    def _new_package(self, owner, name, package_type="container", visibility="private", repository=None, download_count=0,
                     created_at=None, deleted_at=None, package_id=None):
        """Create a package record; a deleted one of the same name moves out of the way (its name is reused)."""
        key = (package_type, name)
        if key in owner["packages"]:
            owner["graveyard"].append(owner["packages"].pop(key))
        created = parse_time(created_at) or self.now()
        if repository:
            self._repository(owner, repository)
        pkg = {"id": package_id or self._next_id("package"), "name": name, "package_type": package_type, "visibility": visibility,
               "repository": repository, "download_count": int(download_count), "created_at": created, "updated_at": created,
               "deleted_at": parse_time(deleted_at), "versions": {}}
        owner["packages"][key] = pkg
        return pkg

    def add_version(self, kind, login, package, name=None, tags=(), package_type="container", id=None,  # pylint: disable=redefined-builtin
                    created_at=None, deleted_at=None):
        """Add a version (a container image digest) to a package; tags move from other versions as a push moves them.

        REST data only: nothing is pushed to a ``registry_backend`` (push through the front for that).
        """
        with self.lock:
            owner = self._owner_by(kind, login)
            pkg = owner["packages"].get((package_type, package))
            if pkg is None:
                raise ValueError(f"unknown package {package!r}")
            vid = int(id) if id is not None else self._next_id("version")
            name = name or fake_digest(f"{package}:{vid}")
            if package_type == "container" and not DIGEST_RE.match(name):
                raise ValueError(f"container version names are sha256 digests, not {name!r}")
            tags = list(tags)
            for other in pkg["versions"].values():
                other["tags"] = [t for t in other["tags"] if t not in tags]
            created = parse_time(created_at) or self.now()
            ver = {"id": vid, "name": name, "tags": tags, "created_at": created, "updated_at": created, "deleted_at": parse_time(deleted_at)}
            pkg["versions"][vid] = ver
            pkg["updated_at"] = max(pkg["updated_at"], created)
            return self.version_json(owner, pkg, ver)

    def add_attestation(self, kind, login, subject_digest, predicate_type="provenance", repository="app", attestation_id=None,
                        initiator="github"):
        """Add an attestation of one digest (or a list of digests) built in ``repository``; returns its id."""
        with self.lock:
            owner = self._owner_by(kind, login)
            repo = self._repository(owner, repository)
            digests = [subject_digest] if isinstance(subject_digest, str) else list(subject_digest)
            att = {"id": attestation_id or self._next_id("attestation"), "subject_digests": digests,
                   "predicate": predicate_type, "predicate_type": PREDICATES.get(predicate_type, predicate_type),
                   "repository_id": repo["id"], "initiator": initiator}
            owner["attestations"].append(att)
            return att["id"]

    def seed(self, data):
        """Seed from a JSON document (also ``POST /_emulator/seed``); see docs/emulators.md for the format."""
        if not isinstance(data, dict):
            raise ValueError("seed document must be a JSON object")
        out = {"orgs": [], "users": []}
        with self.lock:
            for kind, section in (("org", "orgs"), ("user", "users")):
                for entry in data.get(section, []):
                    entry = {"login": entry} if isinstance(entry, str) else entry
                    login = entry["login"]
                    (self.add_org if kind == "org" else self.add_user)(login, entry.get("id"), entry.get("repositories", ()))
                    owner = self._owner_by(kind, login)
                    for pkg in entry.get("packages", []):
                        pkg = dict(pkg)
                        self.add_package(kind, login, pkg.pop("name"), **{"package_id" if k == "id" else k: v for k, v in pkg.items()})
                    for att in entry.get("attestations", []):
                        att = dict(att)
                        self.add_attestation(kind, login, att.pop("subject_digest", None) or att.pop("subject_digests"),
                                             **{"attestation_id" if k == "id" else k: v for k, v in att.items()})
                    if kind == "org":
                        for rec in entry.get("storage_records", []):
                            try:
                                self.upsert_storage_record(owner, rec)
                            except ApiError as exc:
                                raise ValueError(exc.message) from exc
                        for rec in entry.get("deployment_records", []):
                            try:
                                item = self._check_deployment(rec)
                            except ApiError as exc:
                                raise ValueError(exc.message) from exc
                            self._upsert_deployment(owner, item, rec["logical_environment"], rec.get("physical_environment"),
                                                    rec.get("cluster"))
                    out[section].append(self._owner_state(owner))
        return out

    def _owner_state(self, owner):
        packages = []
        for pkg in sorted(list(owner["packages"].values()) + owner["graveyard"], key=lambda p: p["id"]):
            body = dict(self.package_json(owner, pkg), download_count=pkg["download_count"],
                        deleted_at=fmt_z(pkg["deleted_at"]) if pkg["deleted_at"] else None,
                        versions=[self.version_json(owner, pkg, v) for v in sorted(pkg["versions"].values(), key=lambda v: v["id"])])
            body.pop("owner")
            packages.append(body)
        return {"login": owner["login"], "id": owner["id"], "type": "Organization" if owner["kind"] == "org" else "User",
                "repositories": [dict(r) for r in owner["repositories"].values()], "packages": packages,
                "storage_records": [dict(self.storage_json(r), version=r["version"], github_repository=r["github_repository"])
                                    for r in owner["storage_records"]],
                "deployment_records": [dict(self.deployment_json(owner, r), name=r["name"], version=r["version"], status=r["status"])
                                       for r in owner["deployment_records"]],
                "attestations": [{"id": a["id"], "subject_digests": list(a["subject_digests"]), "predicate_type": a["predicate_type"],
                                  "repository_id": a["repository_id"]} for a in owner["attestations"]]}

    def dump_state(self):
        """Everything (deleted packages and versions included), the jobs, rate-limit usage and the clock."""
        with self.lock:
            owners = sorted(self.owners.values(), key=lambda o: o["id"])
            return {"orgs": [self._owner_state(o) for o in owners if o["kind"] == "org"],
                    "users": [self._owner_state(o) for o in owners if o["kind"] == "user"],
                    "jobs": [dict(self.job_json(j), cluster=j["cluster"], org=j["org"]) for j in self.jobs.values()],
                    "rate_limit": {t: {"used": u["used"], "reset": fmt_z(u["reset"])} for t, u in self.usage.items()},
                    "clock": fmt_z(self.now())}

    # -- test helpers ----------------------------------------------------------
    def package_version_ids(self, kind, login, package, package_type="container", state="active"):
        """Version ids of a package (``state`` active, deleted or all)."""
        with self.lock:
            pkg = self._owner_by(kind, login)["packages"][(package_type, package)]
            return sorted(v["id"] for v in pkg["versions"].values()
                          if state == "all" or (v["deleted_at"] is None) == (state == "active"))

    def set_version_created(self, kind, login, package, digest, created_at, package_type="container"):
        """Give the active version ``digest`` another ``created_at`` (and ``updated_at``): a history pushed in one go
        through the front looks as if it had been pushed over months (the demo)."""
        created = parse_time(created_at)
        with self.lock:
            pkg = self._owner_by(kind, login)["packages"][(package_type, package)]
            ver = next(v for v in pkg["versions"].values() if v["name"] == digest and v["deleted_at"] is None)
            ver["created_at"] = ver["updated_at"] = created
            pkg["created_at"] = min(pkg["created_at"], created)

    def attestation_ids(self, kind, login):
        """Ids of an owner's attestations."""
        with self.lock:
            return [a["id"] for a in self._owner_by(kind, login)["attestations"]]


def ghcr_backend(emu, delete_enabled=True):
    """Start a real registry (``tests.support.registry.LocalRegistry``, distribution, ``auth="none"``) and put ``emu``'s
    ghcr.io front on it (``registry_backend``). Returns the started registry: ``stop()`` it (which also clears
    ``registry_backend``), or use it as a context manager. A missing ``docker-registry`` raises ``RegistryError``."""
    return backend_registry(emu, delete_enabled)


def _add_arguments(parser):
    parser.add_argument("--seed", metavar="FILE", help="JSON seed document to load at start")
    parser.add_argument("--token", action="append", default=[], metavar="TOKEN[=KIND]",
                        help="an extra token, KIND pat (default) or installation; repeatable (the default tokens stay)")
    parser.add_argument("--user", default=DEFAULT_USER, help=f"login of the authenticated user (default {DEFAULT_USER})")
    parser.add_argument("--no-default-org", action="store_true", help=f"start without the {DEFAULT_ORG} organization")
    parser.add_argument("--installation-token", action="store_true",
                        help="the default token acts as a GitHub App installation token (packages endpoints refuse it)")
    parser.add_argument("--rate-limit", type=int, default=5000, metavar="N", help="primary rate limit per token and hour (default 5000; 0 off)")
    parser.add_argument("--secondary-rate-limit", type=int, choices=(403, 429), metavar="STATUS",
                        help="answer every request with the secondary rate limit (403 or 429, Retry-After: 60) until cleared")
    parser.add_argument("--storage-record-path", choices=STORAGE_PATHS, default="singular")
    parser.add_argument("--error-message-shape", choices=MESSAGE_SHAPES, default="string")
    parser.add_argument("--last-version-rule", choices=LAST_VERSION_RULES, default="last")
    parser.add_argument("--registry-backend", metavar="URL",
                        help="URL of a registry (e.g. a docker-registry with no auth) behind the ghcr.io front at /v2/")


def _factory(args):
    tokens = [{"token": DEFAULT_TOKEN, "kind": "pat"}, {"token": DEFAULT_INSTALLATION_TOKEN, "kind": "installation"}]
    for item in args.token:
        token, _unused, kind = item.partition("=")
        tokens.append({"token": token, "kind": kind or "pat"})
    emu = GitHubEmulator(tokens=tokens, user=args.user, default_org=not args.no_default_org,
                         default_token_kind="installation" if args.installation_token else "pat", rate_limit=args.rate_limit,
                         storage_record_path=args.storage_record_path, error_message_shape=args.error_message_shape,
                         last_version_rule=args.last_version_rule, registry_backend=args.registry_backend)
    if args.secondary_rate_limit:
        emu.secondary_rate_limit(times=None, status=args.secondary_rate_limit)
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            emu.seed(json.load(handle))
    return emu


def _banner(emu):
    kind = emu.default_token_kind
    lines = [f"API base: {emu.api_base}",
             f"API token: {DEFAULT_TOKEN} ({'GitHub App installation token' if kind == 'installation' else 'classic PAT'}, "
             f"send 'Authorization: Bearer {DEFAULT_TOKEN}')",
             f"installation token: {DEFAULT_INSTALLATION_TOKEN} (refused by the packages endpoints)"]
    extra = [f"{t['token']} ({t['kind']})" for t in emu.tokens.values() if t["token"] not in (DEFAULT_TOKEN, DEFAULT_INSTALLATION_TOKEN)]
    if extra:
        lines.append("other tokens: " + ", ".join(extra))
    orgs = sorted(o["login"] for o in emu.owners.values() if o["kind"] == "org")
    lines.append(f"user: {emu.user}; orgs: {', '.join(orgs) or '(none)'}; API version: {emu.default_api_version}")
    if emu.registry_backend:
        lines.append(f"OCI endpoint (ghcr.io front): {emu.oci_url}/v2/ -> {emu.registry_backend}; images <owner>/<package>, "
                     f"Bearer tokens from {emu.url}/token (service {OCI_SERVICE}; Basic: any username, a PAT as the password)")
        lines.append(f"playbooks: provider: github, api_url: {emu.url}, api_token: {DEFAULT_TOKEN}, oci_url: {emu.oci_url}")
    else:
        lines.append("OCI endpoint: off (--registry-backend URL puts a ghcr.io front at /v2/)")
        lines.append(f"playbooks: provider: github, api_url: {emu.url}, api_token: {DEFAULT_TOKEN}")
    return lines


def main(argv=None):
    """Console entry point."""
    return run_standalone(_factory, argv, description="GitHub (packages, artifact metadata, attestations) emulator",
                          default_port=GitHubEmulator.default_port, add_arguments=_add_arguments, banner=_banner)


if __name__ == "__main__":
    sys.exit(main())
