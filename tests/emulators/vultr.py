"""Stateful emulator of the Vultr Container Registry API (``/v2/registry...``).

Run standalone with ``python -m tests.emulators.vultr --port 8082``.
See ``docs/emulators.md`` for the behaviours and the facts they follow.

Artifacts and tags live in the emulator's own state (seeded), unless a real
OCI registry backs it (settings ``registry_host`` + ``docker_credentials``):
then repositories, artifacts and tags are read from that registry's ``/v2``
API on every request, and artifact deletes go to it.
"""
# One class per provider API, with a wide seeding/test-helper surface.
# pylint: disable=too-many-instance-attributes,too-many-arguments,too-many-positional-arguments,too-many-public-methods
# pylint: disable=too-many-locals,too-many-lines,too-many-branches,too-many-return-statements

import base64
import binascii
import collections
import hashlib
import json
import math
import re
import secrets
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

from tests.emulators import registry_storage
from tests.emulators.base import ApiError, EmulatorServer, Response, run_standalone
from tests.support import known_secrets

DEFAULT_API_KEY = "emulator-vultr-api-key"
known_secrets.register(DEFAULT_API_KEY)
BASE = "/v2"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500
DEFAULT_RATE_LIMIT = 30
MIB = 1024 * 1024
MAX_RETENTION_RULES = 15
NEVER_PULLED = "0001-01-01T00:00:00.000Z"
K8S_SECRET_NAME = "vultr-cr-credentials"

REGISTRY_NAME_RE = re.compile(r"^[a-z0-9]+$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
ROBOT_SHORT_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")

ROBOT_UPDATE_SHAPES = ("access", "permissions", "any")
ROBOT_PERMISSIONS_SHAPES = ("array", "object")
RETENTION_SCOPE_KEYS = ("scope_selectors", "scope_selector")
SELECTOR_ACTIONS = ("matches", "excludes")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

# Plans as listed by govultr's 2023 test fixture (keys are the plan ids).
DEFAULT_PLANS = {
    "start_up": {"vanity_name": "StartUp", "max_storage_mb": 10240, "monthly_price": 0},
    "business": {"vanity_name": "Business", "max_storage_mb": 20480, "monthly_price": 5},
    "premium": {"vanity_name": "Premium", "max_storage_mb": 51200, "monthly_price": 10},
    "enterprise": {"vanity_name": "Enterprise", "max_storage_mb": 1048576, "monthly_price": 20},
}

# Registry regions: names from the reference (sjc is id 3 in govultr's fixture); data_center is illustrative.
DEFAULT_REGIONS = [
    {"id": 1, "name": "ewr", "data_center": {"id": 1, "name": "New Jersey", "site_code": "EWR", "region": "NJ", "country": "US",
                                             "continent": "North America", "description": "New Jersey", "airport": "EWR"}},
    {"id": 2, "name": "blr", "data_center": {"id": 2, "name": "Bangalore", "site_code": "BLR", "region": "KA", "country": "IN",
                                             "continent": "Asia", "description": "Bangalore", "airport": "BLR"}},
    {"id": 3, "name": "sjc", "data_center": {"id": 3, "name": "Silicon Valley", "site_code": "SJC", "region": "CA", "country": "US",
                                             "continent": "North America", "description": "Silicon Valley", "airport": "SJC"}},
    {"id": 4, "name": "sjp", "data_center": {"id": 4, "name": "Sao Paulo", "site_code": "SAO", "region": "SP", "country": "BR",
                                             "continent": "South America", "description": "Sao Paulo", "airport": "GRU"}},
]
REGIONS_ADDED_AT = datetime(2023, 1, 10, 12, 0, 0, tzinfo=timezone.utc)

_SECRET_ALPHABET = string.ascii_letters + string.digits
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')


# ---------------------------------------------------------------------------
# Times: three formats, as the API mixes them

def _utcnow():
    return datetime.now(timezone.utc).replace(microsecond=0)


def fmt_plain(value):
    """``2023-11-09 13:37:12`` (registries, root user, regions, storage)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def fmt_millis(value):
    """``2023-10-05T18:22:17.041Z`` (repositories, artifacts, tags, robots, retention); ``None`` = never."""
    if value is None:
        return NEVER_PULLED
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def fmt_iso(value):
    """``2026-06-01T00:00:00Z`` (retention ``next_scheduled_time``)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """A datetime from ISO 8601 (``Z``, millis) or ``YYYY-MM-DD HH:MM:SS``; ``None`` passes through."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value
    parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    """Round to 2 decimals; whole numbers as int (``20`` rather than ``20.0``)."""
    value = round(value, 2)
    return int(value) if value == int(value) else value


def storage_json(num_bytes, updated_at=None):
    """``registry-storage``: bytes, mb, gb, tb (+ ``updated_at`` on ``used``)."""
    body = {}
    if updated_at is not None:
        body["updated_at"] = fmt_plain(updated_at)
    body.update({"bytes": int(num_bytes), "mb": _number(num_bytes / MIB), "gb": _number(num_bytes / MIB / 1024),
                 "tb": _number(num_bytes / MIB / 1024 / 1024)})
    return body


def generate_secret(length=32):
    """A random alphanumeric secret."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _unused in range(length))


def fake_digest(text):
    """``sha256:`` + the sha256 of ``text`` (seeded artifacts without a digest)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Cursors, patterns, cron

def encode_cursor(direction, offset):
    """Opaque cursor (base64 of ``next__<offset>`` / ``prev__<offset>``)."""
    return base64.b64encode(f"{direction}__{int(offset)}".encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """The offset a cursor stands for; ``ValueError`` if it is not one of ours."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = base64.b64decode(padded.encode("ascii"), validate=True).decode("ascii")
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError(cursor) from exc
    direction, _unused, offset = text.partition("__")
    if direction not in ("next", "prev") or not offset.isdigit():
        raise ValueError(cursor)
    return int(offset)


def doublestar_match(pattern, value):
    """Harbor's doublestar patterns: ``**`` anything, ``*``/``?`` within a segment, ``{a,b}`` alternatives."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "{":
            end = pattern.find("}", i)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append("(?:" + "|".join(re.escape(alt) for alt in pattern[i + 1:end].split(",")) + ")")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.fullmatch("".join(out), value) is not None


# second, minute, hour, day of month, month, day of week
_CRON_BOUNDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _cron_field(text, low, high):
    values = set()
    for part in text.split(","):
        step, has_step = 1, "/" in part
        if has_step:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(text)
        if part in ("*", "?"):
            first, last = low, high
        elif "-" in part:
            first, last = (int(x) for x in part.split("-", 1))
        else:
            first = int(part)
            last = high if has_step else first
        if first < low or last > high or first > last:
            raise ValueError(text)
        values.update(range(first, last + 1, step))
    return values


_CRON_NAMES = {4: ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
               5: ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")}


def parse_cron(expr):
    """5-field (standard) or 6-field (Harbor, with seconds) cron -> field sets; ``ValueError`` if invalid.

    Fields take ``*``, ``?``, numbers, ranges, steps, lists and month/day names (``JAN``, ``MON``).
    """
    fields = expr.split()
    if len(fields) == 5:
        fields = ["0"] + fields
    if len(fields) != 6:
        raise ValueError(expr)
    for index, names in _CRON_NAMES.items():
        first = 1 if index == 4 else 0
        fields[index] = re.sub(r"[A-Za-z]{3}", lambda m, n=names, f=first: str(n.index(m.group(0).upper()) + f)
                               if m.group(0).upper() in n else m.group(0), fields[index])
    sets = [_cron_field(text, low, high) for text, (low, high) in zip(fields, _CRON_BOUNDS)]
    sets[5] = {d % 7 for d in sets[5]}
    restricted = (fields[3] not in ("*", "?"), fields[5] not in ("*", "?"))
    return sets, restricted


def cron_next(expr, after):
    """The first time strictly after ``after`` that ``expr`` fires, or ``None`` within 5 years."""
    (secs, mins, hours, doms, months, dows), (dom_set, dow_set) = parse_cron(expr)
    start = after.astimezone(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    day = start.date()
    for _unused in range(366 * 5):
        dom_ok, dow_ok = day.day in doms, (day.isoweekday() % 7) in dows
        if dom_set and dow_set:
            day_ok = dom_ok or dow_ok
        else:
            day_ok = (dom_ok or not dom_set) and (dow_ok or not dow_set)
        if day.month in months and day_ok:
            for hour in sorted(hours):
                for minute in sorted(mins):
                    for sec in sorted(secs):
                        when = datetime(day.year, day.month, day.day, hour, minute, sec, tzinfo=timezone.utc)
                        if when >= start:
                            return when
        day = day + timedelta(days=1)
    return None


# ---------------------------------------------------------------------------
# Real OCI registry backing

class BackendError(Exception):
    """The backing registry could not be reached or answered unexpectedly."""


class OciBackend:
    """Minimal OCI Distribution client (stdlib only) for the emulator's real-registry backing.

    Basic auth is sent up front when credentials are given; a ``Bearer``
    challenge is answered with a token from its realm (Basic credentials).
    Manifest facts are cached by digest (content-addressed, so never stale). Tag lists and tags' digests come from
    the registry's storage when this process started it (``tests/emulators/registry_storage.py``).
    """

    def __init__(self, base_url, username=None, password=None, timeout=10):
        self.base_url = base_url.rstrip("/")
        self.host = urllib.parse.urlsplit(self.base_url).netloc
        self.username = username
        self.password = password
        self.timeout = timeout
        self._bearer = {}
        self._lock = threading.Lock()
        self._facts = {}

    def _basic(self):
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def _open(self, method, url, headers):
        req = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (loopback test registry)
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            try:
                return err.code, err.headers, err.read()
            finally:
                err.close()
        except (urllib.error.URLError, OSError) as err:
            raise BackendError(f"{method} {url}: {err}") from err

    def _token(self, challenge):
        params = dict(_CHALLENGE_PARAM_RE.findall(challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise BackendError(f"Bearer challenge without realm: {challenge!r}")
        query = [("service", params.get("service", ""))]
        query += [("scope", scope) for scope in params.get("scope", "").split(" ") if scope]
        headers = {"Authorization": self._basic()} if self._basic() else {}
        status, _headers, body = self._open("GET", realm + "?" + urllib.parse.urlencode(query), headers)
        if status != 200:
            raise BackendError(f"token request to {realm} answered {status}")
        data = json.loads(body.decode("utf-8"))
        return data.get("token") or data.get("access_token")

    def request(self, method, path, accept=None):
        """``(status, headers, body)``; follows a Basic or Bearer challenge once."""
        url = path if path.startswith("http") else self.base_url + path
        scope_key = (method == "DELETE", path.split("?", 1)[0].rsplit("/", 2)[0])
        headers = {"Accept": accept} if accept else {}
        for attempt in range(2):
            token = self._bearer.get(scope_key)
            auth = f"Bearer {token}" if token else self._basic()
            if auth:
                headers["Authorization"] = auth
            status, resp_headers, body = self._open(method, url, headers)
            challenge = resp_headers.get("WWW-Authenticate", "") if status == 401 else ""
            if attempt or not challenge.lower().startswith("bearer"):
                return status, resp_headers, body
            self._bearer[scope_key] = self._token(challenge)
        return status, resp_headers, body

    def ping(self):
        """``GET /v2/`` status."""
        return self.request("GET", "/v2/")[0]

    def catalog(self):
        """Every repository name, following ``Link`` pagination."""
        path, names = "/v2/_catalog?n=1000", []
        while path:
            status, headers, body = self.request("GET", path)
            if status != 200:
                raise BackendError(f"GET {path} answered {status}")
            names.extend(json.loads(body.decode("utf-8")).get("repositories") or [])
            match = _LINK_NEXT_RE.search(headers.get("Link", "") or "")
            path = urllib.parse.urljoin(self.base_url + "/", match.group(1)) if match else None
        return names

    def tags(self, repo):
        """Tag names of ``repo`` (``[]`` when the repository is unknown)."""
        names = registry_storage.tags(self.host, repo)
        if names is not registry_storage.UNKNOWN:
            return names
        status, _headers, body = self.request("GET", f"/v2/{repo}/tags/list")
        if status == 404:
            return []
        if status != 200:
            raise BackendError(f"GET /v2/{repo}/tags/list answered {status}")
        return sorted(json.loads(body.decode("utf-8")).get("tags") or [])

    def resolve(self, repo, ref):
        """Digest of a tag or digest reference, ``None`` when absent."""
        digest = registry_storage.resolve(self.host, repo, ref)
        if digest is not registry_storage.UNKNOWN:
            return digest
        status, headers, _body = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", MANIFEST_ACCEPT)
        if status == 404:
            return None
        if status != 200:
            raise BackendError(f"HEAD /v2/{repo}/manifests/{ref} answered {status}")
        return headers.get("Docker-Content-Digest")

    def describe(self, repo, digest):
        """``{media_type, manifest_media_type, artifact_type, type, size}`` of a manifest (cached)."""
        with self._lock:
            if digest in self._facts:
                return dict(self._facts[digest])
        status, headers, body = self.request("GET", f"/v2/{repo}/manifests/{digest}", MANIFEST_ACCEPT)
        if status != 200:
            raise BackendError(f"GET /v2/{repo}/manifests/{digest} answered {status}")
        doc = json.loads(body.decode("utf-8"))
        manifest_type = doc.get("mediaType") or (headers.get("Content-Type") or "").split(";")[0].strip()
        if manifest_type in INDEX_TYPES or "manifests" in doc:
            children = []
            for child in doc.get("manifests") or []:
                try:
                    children.append(self.describe(repo, child["digest"]))
                except BackendError:  # a child deleted under its index: count what is left
                    continue
            facts = {"media_type": manifest_type, "manifest_media_type": manifest_type, "artifact_type": doc.get("artifactType", ""),
                     "type": "IMAGE", "size": len(body) + sum(c["size"] for c in children)}
        else:
            config = doc.get("config") or {}
            config_type = config.get("mediaType", "")
            facts = {"media_type": config_type, "manifest_media_type": manifest_type,
                     "artifact_type": doc.get("artifactType") or config_type,
                     "type": "IMAGE" if config_type in IMAGE_CONFIG_TYPES else "UNKNOWN",
                     "size": len(body) + int(config.get("size") or 0) + sum(int(l.get("size") or 0) for l in doc.get("layers") or [])}
        with self._lock:
            self._facts[digest] = facts
        return dict(facts)

    def delete_manifest(self, repo, digest):
        """``DELETE /v2/<repo>/manifests/<digest>``; returns the status."""
        return self.request("DELETE", f"/v2/{repo}/manifests/{digest}")[0]


# ---------------------------------------------------------------------------
# Request helpers

def _body(request):
    """The JSON object body (``{}`` when empty); 422 for invalid JSON or a non-object."""
    if request.json_error:
        raise ApiError(422, f"Invalid JSON in request body: {request.json_error}")
    if request.json is None:
        return {}
    if not isinstance(request.json, dict):
        raise ApiError(422, "Request body must be a JSON object")
    return request.json


def _require(data, name, kind, required=True):
    """Return ``data[name]`` checked against ``kind`` (``str``/``bool``/``int``); 422 otherwise."""
    if name not in data or data[name] is None:
        if required:
            raise ApiError(422, f"{name} is required")
        return None
    value = data[name]
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise ApiError(422, f"{name} must be {({str: 'a string', bool: 'a boolean', int: 'an integer'})[kind]}")
    return value


def _go_bool(request, name, default=False):
    """A boolean query parameter parsed like Go's ``strconv.ParseBool``."""
    value = request.query.get(name)
    if value is None:
        return default
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    raise ApiError(422, f"Invalid {name} value: must be true or false")


# ---------------------------------------------------------------------------
# The emulator

class VultrEmulator(EmulatorServer):
    """In-memory Vultr Container Registry (``/v2/registries``, ``/v2/registry/...``).

    Settings (``configure`` / ``POST /_emulator/config``) are documented in
    ``docs/emulators.md``; ``reset()`` keeps them.
    """

    provider = "vultr"
    default_port = 8082

    def __init__(self, host="127.0.0.1", port=0, api_keys=(DEFAULT_API_KEY,), regions=None, plans=None, clock=None,
                 verbose=False, **settings):
        self.api_keys = set(api_keys)
        self.regions = {}
        self.plans = {}
        self.clock = clock or _utcnow
        self.default_per_page = DEFAULT_PER_PAGE
        self.max_per_page = MAX_PER_PAGE
        self.requests_per_second = 0  # setting "rate_limit" (the name rate_limit() is the framework's fault method)
        self.rate_limit_window = 1.0
        self.registry_host = None
        self.backend_host = None
        self.registry_scheme = "http"
        self.registry_backing = True
        self.docker_credentials = None
        self.robot_update_shape = "access"
        self.robot_permissions_shape = "array"
        self.retention_scope_key = "scope_selectors"
        self.registry_extras = True
        self.strict_robot_names = True
        self.reject_duplicate_query = True
        self.backend = None
        self.registries = {}
        self.repositories = {}
        self.artifacts = {}
        self.observed = {}
        self.robots = {}
        self.replications = {}
        self.retention = {}
        self._ids = {}
        self._hits = collections.defaultdict(collections.deque)
        self._hits_lock = threading.Lock()
        self._memo = threading.local()  # per API request: what was read from the real registry
        super().__init__(host=host, port=port, verbose=verbose)
        self.configure(regions=regions if regions is not None else DEFAULT_REGIONS, plans=plans if plans is not None else DEFAULT_PLANS,
                       **settings)
        self.reset_state()

    # -- configuration -------------------------------------------------------
    def configure(self, **settings):
        """Change settings; returns them all (see ``settings()``)."""
        for key, value in settings.items():
            if key in ("default_per_page", "max_per_page", "rate_limit"):
                if not _is_int(value) or value < (0 if key == "rate_limit" else 1):
                    raise ApiError(400, f"{key} must be a {'non-negative' if key == 'rate_limit' else 'positive'} integer")
                setattr(self, "requests_per_second" if key == "rate_limit" else key, value)
            elif key == "rate_limit_window":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ApiError(400, "rate_limit_window must be a positive number of seconds")
                self.rate_limit_window = float(value)
            elif key == "robot_update_shape":
                self._choice(key, value, ROBOT_UPDATE_SHAPES)
            elif key == "robot_permissions_shape":
                self._choice(key, value, ROBOT_PERMISSIONS_SHAPES)
            elif key == "retention_scope_key":
                self._choice(key, value, RETENTION_SCOPE_KEYS)
            elif key == "registry_scheme":
                self._choice(key, value, ("http", "https"))
            elif key in ("registry_backing", "registry_extras", "strict_robot_names", "reject_duplicate_query"):
                if not isinstance(value, bool):
                    raise ApiError(400, f"{key} must be a boolean")
                setattr(self, key, value)
            elif key in ("registry_host", "backend_host"):
                if value is not None and (not isinstance(value, str) or not value or "/" in value):
                    raise ApiError(400, f"{key} must be a host[:port] string or null")
                setattr(self, key, value or None)
            elif key == "docker_credentials":
                if value is not None and not (isinstance(value, dict) and isinstance(value.get("username"), str)
                                              and isinstance(value.get("password"), str)):
                    raise ApiError(400, "docker_credentials must be {\"username\": str, \"password\": str} or null")
                self.docker_credentials = dict(value) if value else None
            elif key == "api_keys":
                if isinstance(value, str) or not all(isinstance(k, str) for k in value):
                    raise ApiError(400, "api_keys must be a list of strings")
                self.api_keys = set(value)
            elif key == "regions":
                self.regions = self._build_regions(value)
            elif key == "plans":
                if not isinstance(value, dict) or not value:
                    raise ApiError(400, "plans must be an object keyed by plan id")
                self.plans = {k: {"vanity_name": v.get("vanity_name", k), "max_storage_mb": int(v["max_storage_mb"]),
                                  "monthly_price": v.get("monthly_price", 0)} for k, v in value.items()}
            else:
                raise ApiError(400, f"unknown setting {key!r}")
        self._rebuild_backend()
        return self.settings()

    def _choice(self, key, value, choices):
        if value not in choices:
            raise ApiError(400, f"{key} must be one of {', '.join(choices)}")
        setattr(self, key, value)

    @staticmethod
    def _build_regions(value):
        if not isinstance(value, (list, tuple)) or not value:
            raise ApiError(400, "regions must be a non-empty list of region names or objects")
        known = {r["name"]: r for r in DEFAULT_REGIONS}
        out = {}
        for index, item in enumerate(value):
            if isinstance(item, str):
                item = known.get(item, {"name": item})
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise ApiError(400, "each region needs a name")
            region = {"id": item.get("id", 100 + index), "name": item["name"], "public": item.get("public", True),
                      "data_center": dict(item.get("data_center") or {"id": 100 + index, "name": item["name"]})}
            out[region["name"]] = region
        return out

    def settings(self):
        """Current settings (API keys and credentials' password not included)."""
        creds = None
        if self.docker_credentials:
            creds = {"username": self.docker_credentials["username"], "password": "***"}
        return {"default_per_page": self.default_per_page, "max_per_page": self.max_per_page, "rate_limit": self.requests_per_second,
                "rate_limit_window": self.rate_limit_window, "registry_host": self.registry_host, "backend_host": self.backend_host,
                "registry_scheme": self.registry_scheme, "registry_backing": self.registry_backing, "backed": self.backed,
                "docker_credentials": creds, "robot_update_shape": self.robot_update_shape,
                "robot_permissions_shape": self.robot_permissions_shape, "retention_scope_key": self.retention_scope_key,
                "registry_extras": self.registry_extras, "strict_robot_names": self.strict_robot_names,
                "reject_duplicate_query": self.reject_duplicate_query, "regions": sorted(self.regions),
                "plans": {k: dict(v) for k, v in self.plans.items()}}

    @property
    def backed(self):
        """True when artifacts are read from (and deleted on) the real registry at ``registry_host`` (or ``backend_host``:
        where the emulator itself reaches that registry, when it is not where clients do, e.g. behind a fault proxy)."""
        return self.backend is not None

    def _rebuild_backend(self):
        wanted = None
        if self.registry_host and self.registry_backing:
            creds = self.docker_credentials or {}
            wanted = (f"{self.registry_scheme}://{self.backend_host or self.registry_host}", creds.get("username"), creds.get("password"))
        current = None if self.backend is None else (self.backend.base_url, self.backend.username, self.backend.password)
        if wanted != current:
            self.backend = OciBackend(*wanted) if wanted else None

    def reset_state(self):
        """Drop every registry and everything in it; restart ids."""
        for store in (self.registries, self.repositories, self.artifacts, self.observed, self.robots, self.replications,
                      self.retention):
            store.clear()
        with self._hits_lock:
            self._hits.clear()
        self._ids = {"root_user": 634, "retention_rule": 0, "execution": 0}

    def _next_id(self, kind):
        self._ids[kind] += 1
        return self._ids[kind]

    def _now(self):
        return parse_time(self.clock())

    # -- auth, errors, rate limit --------------------------------------------
    def authenticate(self, request):
        """``Authorization: Bearer <API key>`` (scheme case-insensitive)."""
        value = (request.header("Authorization") or "").strip()
        scheme, _unused, token = value.partition(" ")
        if not value or scheme.lower() != "bearer" or token.strip() not in self.api_keys:
            raise ApiError(401, "Invalid API token.")

    def error_body(self, status, message, exception_class=None, request=None, **extra):
        """``{"error": "...", "status": N}``."""
        del exception_class, request, extra
        return {"error": message, "status": status}

    def handle_request(self, request):
        """Per-client rate limit (when ``rate_limit`` > 0), then the usual auth/route/handler."""
        if self.requests_per_second:
            retry_after = self._throttle(request.client_address or "")
            if retry_after is not None:
                err = ApiError(429, "Rate limit exceeded: too many requests.", headers={"Retry-After": str(retry_after)})
                return self._error_response(err, request)
        self._memo.cache = {}
        try:
            return super().handle_request(request)
        finally:
            self._memo.cache = None

    def _memo_get(self, key, compute):
        cache = getattr(self._memo, "cache", None)
        if cache is None:
            return compute()
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def _memo_drop(self, key):
        cache = getattr(self._memo, "cache", None)
        if cache is not None:
            cache.pop(key, None)

    def _throttle(self, client):
        """Record a request; return Retry-After seconds if it is over the limit (not recorded then)."""
        now = time.monotonic()
        with self._hits_lock:
            hits = self._hits[client]
            while hits and now - hits[0] >= self.rate_limit_window:
                hits.popleft()
            if len(hits) >= self.requests_per_second:
                return max(1, math.ceil(self.rate_limit_window - (now - hits[0])))
            hits.append(now)
        return None

    # -- routes --------------------------------------------------------------
    def setup_routes(self):
        """The 31 operations of the spec subset."""
        reg = BASE + "/registry/{registry_id}"
        repo = reg + "/repository/{image:enc}"
        robot = reg + "/robot/{robot_name:raw}"
        rule = reg + "/retention/rules/{rule_id}"
        self.route("GET", BASE + "/registry/region/list", self.list_regions)
        self.route("GET", BASE + "/registry/plan/list", self.list_plans)
        self.route("GET", BASE + "/registries", self.list_registries)
        self.route("POST", BASE + "/registry", self.create_registry)
        self.route("GET", reg, self.read_registry)
        self.route("PUT", reg, self.update_registry)
        self.route("DELETE", reg, self.delete_registry)
        self.route("GET", reg + "/repositories", self.list_repositories)
        self.route("GET", repo, self.read_repository)
        self.route("PUT", repo, self.update_repository)
        self.route("DELETE", repo, self.delete_repository)
        self.route("GET", repo + "/artifacts", self.list_artifacts)
        self.route("GET", repo + "/artifact/{digest}", self.read_artifact)
        self.route("DELETE", repo + "/artifact/{digest}", self.delete_artifact)
        self.route("OPTIONS", reg + "/docker-credentials", self.docker_credentials_json)
        self.route("OPTIONS", reg + "/docker-credentials/kubernetes", self.docker_credentials_kubernetes)
        self.route("GET", reg + "/robots", self.list_robots)
        self.route("GET", robot, self.read_robot)
        self.route("PUT", robot, self.update_robot)
        self.route("DELETE", robot, self.delete_robot)
        self.route("GET", reg + "/replications", self.list_replications)
        self.route("POST", reg + "/replication", self.create_replication)
        self.route("GET", reg + "/replication/{region}", self.read_replication)
        self.route("DELETE", reg + "/replication/{region}", self.delete_replication)
        self.route("PUT", reg + "/retention/schedule", self.update_retention_schedule)
        self.route("POST", reg + "/retention/executions", self.execute_retention)
        self.route("GET", reg + "/retention/rules", self.list_retention_rules)
        self.route("POST", reg + "/retention/rules", self.create_retention_rule)
        self.route("GET", rule, self.read_retention_rule)
        self.route("PUT", rule, self.update_retention_rule)
        self.route("DELETE", rule, self.delete_retention_rule)

    # -- pagination ----------------------------------------------------------
    def _page(self, request, key, items):
        """Cursor pagination: ``per_page`` (default 100, max 500, clamped), ``cursor``; ``meta.links.next`` "" on the last page."""
        query = request.query
        per_page = self.default_per_page
        if "per_page" in query:
            try:
                per_page = int(query["per_page"])
            except ValueError as exc:
                raise ApiError(422, "Invalid per_page value: must be an integer") from exc
            if per_page < 1:
                raise ApiError(422, "Invalid per_page value: must be greater than 0")
            per_page = min(per_page, self.max_per_page)
        offset = 0
        if query.get("cursor"):
            try:
                offset = decode_cursor(query["cursor"])
            except ValueError as exc:
                raise ApiError(422, "Invalid cursor") from exc
        total = len(items)
        end = offset + per_page
        links = {"next": encode_cursor("next", end) if end < total else "",
                 "prev": encode_cursor("prev", max(offset - per_page, 0)) if offset > 0 else ""}
        return {key: items[offset:end], "meta": {"total": total, "links": links}}

    # -- hosts ---------------------------------------------------------------
    def region_host(self, region_name):
        """``<region>.vultrcr.com``, or ``registry_host`` for every region when set."""
        return self.registry_host or f"{region_name}.vultrcr.com"

    def region_json(self, name):
        """``registry-region``."""
        region = self.regions.get(name) or {"id": 0, "name": name, "public": False, "data_center": {}}
        host = self.region_host(name)
        scheme = self.registry_scheme if self.registry_host else "https"
        return {"id": region["id"], "name": name, "urn": host, "base_url": f"{scheme}://{host}", "public": region["public"],
                "added_at": fmt_plain(REGIONS_ADDED_AT), "updated_at": fmt_plain(REGIONS_ADDED_AT),
                "data_center": dict(region["data_center"])}

    # -- lookups -------------------------------------------------------------
    def _registry(self, request):
        reg = self.registries.get(request.params["registry_id"])
        if reg is None:
            raise ApiError(404, "Invalid container registry ID")
        return reg

    def _repository(self, request):
        reg = self._registry(request)
        image = request.params["image"]
        if not self._repo_exists(reg, image):
            raise ApiError(404, "Invalid repository image")
        return reg, image

    def _find_registry_by_name(self, name):
        return next((r for r in self.registries.values() if r["name"] == name), None)

    # -- storage: emulator state or the real registry ---------------------------
    def _repo_images(self, reg):
        """Sorted images of a registry."""
        images = {image for (reg_id, image) in self.repositories if reg_id == reg["id"]}
        if self.backed:
            prefix = reg["name"] + "/"
            for name in self._memo_get("catalog", lambda: self._backend_call(self.backend.catalog)):
                image = name[len(prefix):]
                if name.startswith(prefix) and image and image not in images and self._backed_artifacts(reg, image):
                    images.add(image)
        return sorted(images)

    def _repo_exists(self, reg, image):
        if (reg["id"], image) in self.repositories:
            return True
        return self.backed and bool(self._backed_artifacts(reg, image))

    def _repo_meta(self, reg, image):
        """The repository's own record (created on first sight for a backed repository)."""
        key = (reg["id"], image)
        if key not in self.repositories:
            now = self._now()
            self.repositories[key] = {"image": image, "description": "", "pull_count": 0, "added_at": now, "updated_at": now}
        return self.repositories[key]

    def _artifacts(self, reg, image):
        """Artifacts of a repository, newest push first: dicts with datetimes and a ``tags`` list."""
        if self.backed:
            arts = self._backed_artifacts(reg, image)
        else:
            arts = [dict(a, tags=sorted(a["tags"].values(), key=lambda t: t["name"]))
                    for a in self.artifacts.get((reg["id"], image), {}).values()]
        return sorted(arts, key=lambda a: (-a["push_time"].timestamp(), a["digest"]))

    def _backend_call(self, func, *args):
        try:
            return func(*args)
        except BackendError as exc:
            raise ApiError(502, f"Container registry backend unavailable: {exc}") from exc

    def _backed_artifacts(self, reg, image):
        """Read tags/manifests from the real registry (once per API request); keep first-seen times in ``observed``."""
        return self._memo_get((reg["id"], image), lambda: self._read_backend(reg, image))

    def _read_backend(self, reg, image):
        repo = f"{reg['name']}/{image}"
        key = (reg["id"], image)
        now = self._now()
        seen = self.observed.setdefault(key, {})
        by_digest = {}
        for tag in self._backend_call(self.backend.tags, repo):
            digest = self._backend_call(self.backend.resolve, repo, tag)
            if digest:
                by_digest.setdefault(digest, []).append(tag)
        for digest in list(seen):
            if digest not in by_digest:
                if self._backend_call(self.backend.resolve, repo, digest):
                    by_digest[digest] = []
                else:
                    del seen[digest]
        arts = []
        for digest, tag_names in by_digest.items():
            meta = seen.setdefault(digest, {"push_time": now, "pull_time": None, "tags": {}})
            for name in [n for n in meta["tags"] if n not in tag_names]:
                del meta["tags"][name]
            tags = []
            for name in sorted(tag_names):
                tag = meta["tags"].setdefault(name, {"push_time": now, "pull_time": None})
                tags.append({"name": name, "immutable": False, "push_time": tag["push_time"], "pull_time": tag["pull_time"]})
            facts = self._backend_call(self.backend.describe, repo, digest)
            arts.append(dict(facts, digest=digest, push_time=meta["push_time"], pull_time=meta["pull_time"], tags=tags))
        if not arts:
            self.observed.pop(key, None)
        return arts

    def _drop_artifact(self, reg, image, digest):
        """Delete one artifact (its tags go with it); on the real registry when backed."""
        if self.backed:
            status = self._backend_call(self.backend.delete_manifest, f"{reg['name']}/{image}", digest)
            if status not in (200, 202, 404):
                raise ApiError(422 if status in (400, 405) else 502, f"Container registry backend refused the delete ({status})")
            self.observed.get((reg["id"], image), {}).pop(digest, None)
            self._memo_drop((reg["id"], image))
        else:
            self.artifacts.get((reg["id"], image), {}).pop(digest, None)
        if (reg["id"], image) in self.repositories:
            self.repositories[(reg["id"], image)]["updated_at"] = self._now()

    def _drop_repository(self, reg, image):
        for art in self._artifacts(reg, image):
            self._drop_artifact(reg, image, art["digest"])
        for store in (self.repositories, self.artifacts, self.observed):
            store.pop((reg["id"], image), None)

    def _used_bytes(self, reg):
        return sum(a["size"] for image in self._repo_images(reg) for a in self._artifacts(reg, image))

    # -- serializers ---------------------------------------------------------
    def registry_json(self, reg):
        """``registry``: bare object with the root user's password (as the API does)."""
        plan = self.plans.get(reg["plan"], {"max_storage_mb": 0, "monthly_price": 0})
        now = self._now()
        body = {"id": reg["id"], "name": reg["name"], "urn": f"{self.region_host(reg['region'])}/{reg['name']}",
                "storage": {"used": storage_json(self._used_bytes(reg), now), "allowed": storage_json(plan["max_storage_mb"] * MIB)},
                "date_created": fmt_plain(reg["date_created"]), "public": reg["public"],
                "root_user": {"id": reg["root_user"]["id"], "username": reg["root_user"]["username"],
                              "password": reg["root_user"]["password"], "root": True,
                              "added_at": fmt_plain(reg["root_user"]["added_at"]), "updated_at": fmt_plain(reg["root_user"]["updated_at"])},
                "metadata": {"region": self.region_json(reg["region"]),
                             "subscription": {"billing": {"monthly_price": plan["monthly_price"],
                                                          "pending_charges": reg["pending_charges"]}}}}
        if self.registry_extras:
            body["region"] = reg["region"]
            body["metadata"]["subscription"]["plan"] = reg["plan"]
        return body

    def repository_json(self, reg, image):
        """``registry-repository`` (ISO times with milliseconds)."""
        meta = self.repositories.get((reg["id"], image))
        arts = self._artifacts(reg, image)
        if meta is None:
            first = min((a["push_time"] for a in arts), default=self._now())
            meta = {"description": "", "pull_count": 0, "added_at": first, "updated_at": first}
        updated = max([meta["updated_at"]] + [a["push_time"] for a in arts])
        return {"name": f"{reg['name']}/{image}", "image": image, "description": meta["description"],
                "added_at": fmt_millis(meta["added_at"]), "updated_at": fmt_millis(updated), "pull_count": meta["pull_count"],
                "artifact_count": len(arts)}

    @staticmethod
    def artifact_json(reg, image, art):
        """``registry-artifact`` with its tags; never-pulled times are Harbor's zero time."""
        return {"artifact_type": art["artifact_type"], "digest": art["digest"], "manifest_media_type": art["manifest_media_type"],
                "media_type": art["media_type"], "repository_name": f"{reg['name']}/{image}", "size": art["size"],
                "type": art["type"],
                "tags": [{"name": t["name"], "immutable": t["immutable"], "pull_time": fmt_millis(t["pull_time"]),
                          "push_time": fmt_millis(t["push_time"])} for t in art["tags"]],
                "pull_time": fmt_millis(art["pull_time"]), "push_time": fmt_millis(art["push_time"])}

    def robot_json(self, robot):
        """``registry-robot``; ``permissions`` as an array (default) or a single object."""
        perms = robot["permissions"]
        if self.robot_permissions_shape == "object":
            first = perms[0] if perms else {"kind": "project", "namespace": "", "access": []}
            perms = {"kind": first["kind"], "namespace": first["namespace"], "access": dict(first["access"][0]) if first["access"] else {}}
        else:
            perms = [{"kind": p["kind"], "namespace": p["namespace"], "access": [dict(a) for a in p["access"]]} for p in perms]
        return {"name": robot["name"], "description": robot["description"], "secret": robot["secret"], "disable": robot["disable"],
                "duration": robot["duration"], "creation_time": fmt_millis(robot["creation_time"]), "permissions": perms}

    def replication_json(self, reg, region):
        """``registry-replication``."""
        return {"region": region, "namespace": reg["name"], "urn": f"{self.region_host(region)}/{reg['name']}"}

    def rule_json(self, rule):
        """``registry-retention-rule``; the scope key is ``scope_selectors`` (spec) or ``scope_selector`` (govultr)."""
        return {"id": rule["id"], "disabled": rule["disabled"], "action": "retain", "params": dict(rule["params"]),
                self.retention_scope_key: {"repository": [dict(s) for s in rule["scope"]]},
                "tag_selectors": [dict(s) for s in rule["tag_selectors"]], "template": rule["template"]}

    # -- regions and plans ---------------------------------------------------
    def list_regions(self, request):
        """GET /registry/region/list -> {regions, meta}."""
        regions = sorted(self.regions.values(), key=lambda r: (r["id"], r["name"]))
        return self._page(request, "regions", [self.region_json(r["name"]) for r in regions])

    def list_plans(self, request):
        """GET /registry/plan/list -> {plans: {id: plan}} (no meta)."""
        del request
        return {"plans": {k: dict(v) for k, v in self.plans.items()}}

    # -- registries ----------------------------------------------------------
    def list_registries(self, request):
        """GET /registries -> {registries, meta}."""
        return self._page(request, "registries", [self.registry_json(r) for r in self.registries.values()])

    def create_registry(self, request):
        """POST /registry {name*, public*, region*, plan*} -> 201 bare registry."""
        data = _body(request)
        name = _require(data, "name", str)
        public = _require(data, "public", bool)
        region = _require(data, "region", str)
        plan = _require(data, "plan", str)
        self._check_registry_name(name)
        if region not in self.regions:
            raise ApiError(422, f"Invalid region: {region}")
        if plan not in self.plans:
            raise ApiError(422, f"Invalid plan: {plan}")
        if self._find_registry_by_name(name):
            raise ApiError(422, f"Registry name {name} is already taken")
        return Response(201, self.registry_json(self._add_registry(name, region, plan, public)))

    @staticmethod
    def _check_registry_name(name):
        if not REGISTRY_NAME_RE.fullmatch(name):
            raise ApiError(422, "Invalid registry name: must be lowercase and contain only alpha-numeric characters")

    def _add_registry(self, name, region, plan, public, registry_id=None, created_at=None, password=None, pending_charges=0):
        created = parse_time(created_at) if created_at else self._now()
        registry_id = registry_id or str(uuid.uuid4())
        reg = {"id": registry_id, "name": name, "region": region, "plan": plan, "public": bool(public), "date_created": created,
               "pending_charges": pending_charges,
               "root_user": {"id": self._next_id("root_user"), "username": registry_id, "password": password or generate_secret(),
                             "added_at": created, "updated_at": created}}
        self.registries[registry_id] = reg
        self.retention[registry_id] = {"schedule": "", "rules": {}, "executions": []}
        self.replications[registry_id] = {}
        return reg

    def read_registry(self, request):
        """GET /registry/{id} -> bare registry."""
        return self.registry_json(self._registry(request))

    def update_registry(self, request):
        """PUT /registry/{id} {public?, plan?} -> bare registry; ``plan: ""`` = unchanged; name/region ignored."""
        reg = self._registry(request)
        data = _body(request)
        public = _require(data, "public", bool, required=False)
        plan = _require(data, "plan", str, required=False)
        if plan and plan not in self.plans:
            raise ApiError(422, f"Invalid plan: {plan}")
        if public is not None:
            reg["public"] = public
        if plan:
            reg["plan"] = plan
        return self.registry_json(reg)

    def delete_registry(self, request):
        """DELETE /registry/{id} -> 204; everything in it goes (artifacts on the real registry too)."""
        reg = self._registry(request)
        for image in self._repo_images(reg):
            self._drop_repository(reg, image)
        for key in [k for k in self.robots if k[0] == reg["id"]]:
            del self.robots[key]
        for store in (self.replications, self.retention, self.registries):
            store.pop(reg["id"], None)
        return Response(204)

    # -- repositories and artifacts ------------------------------------------
    def list_repositories(self, request):
        """GET /registry/{id}/repositories -> {repositories, meta}."""
        reg = self._registry(request)
        return self._page(request, "repositories", [self.repository_json(reg, image) for image in self._repo_images(reg)])

    def read_repository(self, request):
        """GET /registry/{id}/repository/{image} -> bare repository."""
        reg, image = self._repository(request)
        return self.repository_json(reg, image)

    def update_repository(self, request):
        """PUT /registry/{id}/repository/{image} {description} -> bare repository."""
        reg, image = self._repository(request)
        data = _body(request)
        description = _require(data, "description", str)
        meta = self._repo_meta(reg, image)
        meta["description"] = description
        meta["updated_at"] = self._now()
        return self.repository_json(reg, image)

    def delete_repository(self, request):
        """DELETE /registry/{id}/repository/{image} -> 204 (its artifacts and tags go)."""
        reg, image = self._repository(request)
        self._drop_repository(reg, image)
        return Response(204)

    def list_artifacts(self, request):
        """GET .../repository/{image}/artifacts -> {artifacts, meta}."""
        reg, image = self._repository(request)
        return self._page(request, "artifacts", [self.artifact_json(reg, image, a) for a in self._artifacts(reg, image)])

    def _artifact(self, request):
        reg, image = self._repository(request)
        digest = request.params["digest"]
        if not DIGEST_RE.fullmatch(digest):
            raise ApiError(422, f"Invalid artifact digest: {digest}")
        art = next((a for a in self._artifacts(reg, image) if a["digest"] == digest), None)
        if art is None:
            raise ApiError(404, "Artifact not found")
        return reg, image, art

    def read_artifact(self, request):
        """GET .../repository/{image}/artifact/{digest} -> bare artifact."""
        reg, image, art = self._artifact(request)
        return self.artifact_json(reg, image, art)

    def delete_artifact(self, request):
        """DELETE .../repository/{image}/artifact/{digest} -> 204; its tags go with it."""
        reg, image, art = self._artifact(request)
        self._drop_artifact(reg, image, art["digest"])
        return Response(204)

    # -- docker credentials --------------------------------------------------
    def _credentials(self, request):
        reg = self._registry(request)
        if self.reject_duplicate_query:
            names = [name for name, _unused in request.query_list]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ApiError(422, f"Duplicate query parameter: {', '.join(dupes)}")
        raw = request.query.get("expiry_seconds", "0")
        if not raw.isdigit():
            raise ApiError(422, "Invalid expiry_seconds value: must be a non-negative integer")
        expiry, read_write = int(raw), _go_bool(request, "read_write")
        if self.docker_credentials:
            username, password = self.docker_credentials["username"], self.docker_credentials["password"]
        else:
            robot = self._new_credentials_robot(reg, expiry, read_write)
            username, password = robot["name"], robot["secret"]
        auth = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
        return reg, {"auths": {self.region_host(reg["region"]): {"auth": auth}}}

    def _new_credentials_robot(self, reg, expiry, read_write):
        access = [{"action": "pull", "resource": "repository", "effect": "allow"}]
        if read_write:
            access.append({"action": "push", "resource": "repository", "effect": "allow"})
        name = f"robot${reg['name']}+{secrets.token_hex(4)}"
        robot = {"name": name, "description": f"docker credentials ({'read/write' if read_write else 'pull only'})",
                 "secret": generate_secret(), "disable": False, "duration": expiry or -1, "creation_time": self._now(),
                 "permissions": [{"kind": "project", "namespace": reg["name"], "access": access}]}
        self.robots[(reg["id"], name)] = robot
        return robot

    def docker_credentials_json(self, request):
        """OPTIONS /registry/{id}/docker-credentials?expiry_seconds&read_write -> {auths: {host: {auth}}}."""
        return self._credentials(request)[1]

    def docker_credentials_kubernetes(self, request):
        """OPTIONS .../docker-credentials/kubernetes (+ base64_encode) -> application/yaml Secret (or its base64)."""
        _unused, config = self._credentials(request)
        b64_encode = _go_bool(request, "base64_encode")
        dockerconfig = base64.b64encode(json.dumps(config, separators=(",", ":")).encode("utf-8")).decode("ascii")
        text = ("apiVersion: v1\nkind: Secret\nmetadata:\n"
                f"  name: {K8S_SECRET_NAME}\ndata:\n  .dockerconfigjson: {dockerconfig}\ntype: kubernetes.io/dockerconfigjson\n")
        raw = base64.b64encode(text.encode("utf-8")) if b64_encode else text.encode("utf-8")
        return Response(200, raw=raw, content_type="application/yaml")

    # -- robots --------------------------------------------------------------
    def _robot(self, request):
        reg = self._registry(request)
        raw = request.raw_params["robot_name"]
        if self.strict_robot_names and ("$" in raw or "+" in raw):
            raise ApiError(404, "Invalid robot name: '$' and '+' must be percent-encoded (%24, %2B)")
        name = urllib.parse.unquote(raw)
        robot = self.robots.get((reg["id"], name))
        if robot is None:
            raise ApiError(404, "Invalid robot name")
        return reg, robot

    def list_robots(self, request):
        """GET /registry/{id}/robots -> {robots, meta}."""
        reg = self._registry(request)
        robots = [self.robot_json(r) for (reg_id, _unused), r in sorted(self.robots.items()) if reg_id == reg["id"]]
        return self._page(request, "robots", robots)

    def read_robot(self, request):
        """GET /registry/{id}/robot/{name} -> bare robot."""
        return self.robot_json(self._robot(request)[1])

    def update_robot(self, request):
        """PUT /registry/{id}/robot/{name} {description?, disable?, duration?, access? | permissions?} -> bare robot."""
        reg, robot = self._robot(request)
        data = _body(request)
        if request.json is None:
            raise ApiError(422, "Request body is required")
        description = _require(data, "description", str, required=False)
        disable = _require(data, "disable", bool, required=False)
        duration = _require(data, "duration", int, required=False)
        if duration is not None and duration < -1:
            raise ApiError(422, "duration must be -1 (never expires) or a positive number")
        permissions = None
        if "access" in data and data["access"] is not None:
            if self.robot_update_shape == "permissions":
                raise ApiError(422, "Invalid field access: send permissions")
            access = data["access"] if isinstance(data["access"], list) else [data["access"]]
            permissions = [{"kind": "project", "namespace": reg["name"], "access": [self._access(a) for a in access]}]
        if "permissions" in data and data["permissions"] is not None:
            if self.robot_update_shape == "access":
                raise ApiError(422, "Invalid field permissions: send access")
            permissions = self._permissions(reg, data["permissions"])
        if description is not None:
            robot["description"] = description
        if disable is not None:
            robot["disable"] = disable
        if duration is not None:
            robot["duration"] = duration
        if permissions is not None:
            robot["permissions"] = permissions
        return self.robot_json(robot)

    @staticmethod
    def _access(item):
        if not isinstance(item, dict) or not isinstance(item.get("action"), str) or not isinstance(item.get("resource"), str):
            raise ApiError(422, "Invalid access: each entry needs action and resource strings")
        effect = item.get("effect", "allow")
        if effect not in ("allow", "deny"):
            raise ApiError(422, "Invalid access effect: must be allow or deny")
        return {"action": item["action"], "resource": item["resource"], "effect": effect}

    def _permissions(self, reg, value):
        if not isinstance(value, list):
            raise ApiError(422, "permissions must be an array")
        out = []
        for perm in value:
            if not isinstance(perm, dict) or not isinstance(perm.get("access", []), list):
                raise ApiError(422, "Invalid permissions: each entry is {kind, namespace, access: [...]}")
            out.append({"kind": perm.get("kind", "project"), "namespace": perm.get("namespace", reg["name"]),
                        "access": [self._access(a) for a in perm.get("access", [])]})
        return out

    def delete_robot(self, request):
        """DELETE /registry/{id}/robot/{name} -> 204."""
        reg, robot = self._robot(request)
        del self.robots[(reg["id"], robot["name"])]
        return Response(204)

    # -- replications --------------------------------------------------------
    def list_replications(self, request):
        """GET /registry/{id}/replications -> {replications, meta}."""
        reg = self._registry(request)
        return self._page(request, "replications", [self.replication_json(reg, r) for r in self.replications[reg["id"]]])

    def create_replication(self, request):
        """POST /registry/{id}/replication {region*} -> 201 {region, namespace, urn}."""
        reg = self._registry(request)
        region = _require(_body(request), "region", str)
        self._check_replication(reg, region)
        self.replications[reg["id"]][region] = {"created_at": self._now()}
        return Response(201, self.replication_json(reg, region))

    def _check_replication(self, reg, region):
        if region not in self.regions:
            raise ApiError(422, f"Invalid region: {region}")
        if region == reg["region"]:
            raise ApiError(422, f"Cannot replicate a registry to its own region {region}")
        if region in self.replications[reg["id"]]:
            raise ApiError(422, f"Replication to region {region} already exists")

    def _replication(self, request):
        reg = self._registry(request)
        region = request.params["region"]
        if region not in self.replications[reg["id"]]:
            raise ApiError(404, "Invalid replication region")
        return reg, region

    def read_replication(self, request):
        """GET /registry/{id}/replication/{region}."""
        return self.replication_json(*self._replication(request))

    def delete_replication(self, request):
        """DELETE /registry/{id}/replication/{region} -> 204."""
        reg, region = self._replication(request)
        del self.replications[reg["id"]][region]
        return Response(204)

    # -- retention -----------------------------------------------------------
    def update_retention_schedule(self, request):
        """PUT .../retention/schedule {cron*} -> {schedule, next_scheduled_time}; ``""`` clears the schedule."""
        reg = self._registry(request)
        cron = _require(_body(request), "cron", str).strip()
        nxt = self._cron_next(cron)
        self.retention[reg["id"]]["schedule"] = cron
        return {"schedule": cron, "next_scheduled_time": fmt_iso(nxt) if nxt else ""}

    def _cron_next(self, cron):
        if not cron:
            return None
        try:
            nxt = cron_next(cron, self._now())
        except ValueError as exc:
            raise ApiError(422, f"Invalid cron expression: {cron}") from exc
        if nxt is None:
            raise ApiError(422, f"Invalid cron expression (never fires): {cron}")
        return nxt

    def execute_retention(self, request):
        """POST .../retention/executions {dry_run*} -> {start_time, end_time, trigger, dry_run}; deletes unless dry_run."""
        reg = self._registry(request)
        dry_run = _require(_body(request), "dry_run", bool)
        return self._run_retention(reg, dry_run, "MANUAL")

    def _run_retention(self, reg, dry_run, trigger):
        start = self._now()
        rules = [r for r in self.retention[reg["id"]]["rules"].values() if not r["disabled"]]
        deleted, retained = [], []
        for image in self._repo_images(reg) if rules else []:
            scoped = [r for r in rules if self._rule_scope_matches(r, image)]
            if not scoped:
                continue
            arts = self._artifacts(reg, image)
            keep = set()
            for rule in scoped:
                keep.update(self._rule_retains(rule, arts, start))
            for art in arts:
                entry = {"repository": image, "digest": art["digest"], "tags": [t["name"] for t in art["tags"]]}
                (retained if art["digest"] in keep else deleted).append(entry)
            if not dry_run:
                for art in arts:
                    if art["digest"] not in keep:
                        self._drop_artifact(reg, image, art["digest"])
        end = self._now()
        execution = {"id": self._next_id("execution"), "start_time": fmt_millis(start), "end_time": fmt_millis(end),
                     "trigger": trigger, "dry_run": dry_run, "status": "Succeed", "deleted": deleted, "retained": retained}
        self.retention[reg["id"]]["executions"].append(execution)
        return {"start_time": execution["start_time"], "end_time": execution["end_time"], "trigger": trigger, "dry_run": dry_run}

    @staticmethod
    def _rule_scope_matches(rule, image):
        for sel in rule["scope"]:
            matched = doublestar_match(sel["pattern"], image)
            if matched != (sel["decoration"] == "repoMatches"):
                return False
        return True

    @staticmethod
    def _rule_retains(rule, arts, now):
        """Digests a rule retains (Harbor semantics; unknown templates retain everything they select)."""
        selected = []
        for art in arts:
            names = [t["name"] for t in art["tags"]]
            ok = True
            for sel in rule["tag_selectors"]:
                untagged = json.loads(sel.get("extras") or "{}").get("untagged", False)
                if not names:
                    ok = ok and untagged
                    continue
                hit = any(doublestar_match(sel["pattern"], n) for n in names)
                ok = ok and (hit if sel["decoration"] == "matches" else not hit)
            if ok:
                selected.append(art)
        template = rule["template"]
        count = rule["params"].get(template)
        never = datetime.min.replace(tzinfo=timezone.utc)
        if template == "latestPushedK":
            chosen = sorted(selected, key=lambda a: a["push_time"], reverse=True)[:count or 0]
        elif template == "latestPulledN":
            chosen = sorted(selected, key=lambda a: a["pull_time"] or never, reverse=True)[:count or 0]
        elif template == "nDaysSinceLastPush":
            chosen = [a for a in selected if a["push_time"] >= now - timedelta(days=count or 0)]
        elif template == "nDaysSinceLastPull":
            chosen = [a for a in selected if a["pull_time"] and a["pull_time"] >= now - timedelta(days=count or 0)]
        else:
            chosen = selected
        return {a["digest"] for a in chosen}

    def list_retention_rules(self, request):
        """GET .../retention/rules -> {retention_rules, meta}."""
        reg = self._registry(request)
        rules = [self.rule_json(r) for _unused, r in sorted(self.retention[reg["id"]]["rules"].items())]
        return self._page(request, "retention_rules", rules)

    def create_retention_rule(self, request):
        """POST .../retention/rules {rule_type*, count?, repository_action*, repository_match*, tag_action*, tag_match*, untagged*}."""
        reg = self._registry(request)
        spec = self._validate_rule(_body(request))
        if len(self.retention[reg["id"]]["rules"]) >= MAX_RETENTION_RULES:
            raise ApiError(422, f"A registry can have at most {MAX_RETENTION_RULES} retention rules")
        return Response(201, self.rule_json(self._add_rule(reg, spec)))

    @staticmethod
    def _validate_rule(data):
        rule_type = _require(data, "rule_type", str)
        if not rule_type:
            raise ApiError(422, "rule_type is required")
        count = _require(data, "count", int, required=False)
        if count is not None and count < 0:
            raise ApiError(422, "count must not be negative")
        spec = {"rule_type": rule_type, "count": count}
        for name in ("repository_action", "tag_action"):
            spec[name] = _require(data, name, str)
            if spec[name] not in SELECTOR_ACTIONS:
                raise ApiError(422, f"{name} must be matches or excludes")
        for name in ("repository_match", "tag_match"):
            spec[name] = _require(data, name, str)
            if not spec[name]:
                raise ApiError(422, f"{name} is required")
        spec["untagged"] = _require(data, "untagged", bool)
        return spec

    def _add_rule(self, reg, spec, disabled=False, rule_id=None):
        rule_id = int(rule_id) if rule_id is not None else self._next_id("retention_rule")
        self._ids["retention_rule"] = max(self._ids["retention_rule"], rule_id)
        rule = {"id": rule_id, "disabled": bool(disabled), "template": spec["rule_type"],
                "params": {} if spec["count"] is None else {spec["rule_type"]: spec["count"]},
                "scope": [{"decoration": "repoMatches" if spec["repository_action"] == "matches" else "repoExcludes",
                           "kind": "doublestar", "pattern": spec["repository_match"]}],
                "tag_selectors": [{"decoration": spec["tag_action"], "kind": "doublestar", "pattern": spec["tag_match"],
                                   "extras": json.dumps({"untagged": spec["untagged"]}, separators=(",", ":"))}]}
        self.retention[reg["id"]]["rules"][rule_id] = rule
        return rule

    def _rule(self, request):
        reg = self._registry(request)
        raw = request.params["rule_id"]
        rule = self.retention[reg["id"]]["rules"].get(int(raw)) if raw.isdigit() else None
        if rule is None:
            raise ApiError(404, "Invalid retention rule ID")
        return reg, rule

    def read_retention_rule(self, request):
        """GET .../retention/rules/{id}."""
        return self.rule_json(self._rule(request)[1])

    def update_retention_rule(self, request):
        """PUT .../retention/rules/{id} {disabled*} (the only field)."""
        _unused, rule = self._rule(request)
        rule["disabled"] = _require(_body(request), "disabled", bool)
        return self.rule_json(rule)

    def delete_retention_rule(self, request):
        """DELETE .../retention/rules/{id} -> 204."""
        reg, rule = self._rule(request)
        del self.retention[reg["id"]]["rules"][rule["id"]]
        return Response(204)

    # -- seeding (Python API) ------------------------------------------------
    def _resolve_registry(self, registry):
        """Registry by id or by name (or its JSON)."""
        if isinstance(registry, dict):
            registry = registry["id"]
        reg = self.registries.get(registry) or self._find_registry_by_name(registry)
        if reg is None:
            raise ValueError(f"no registry with id or name {registry!r}")
        return reg

    def add_registry(self, name, region="sjc", plan="start_up", public=False, registry_id=None, created_at=None, password=None,
                     pending_charges=0):
        """Create (or return the existing) registry; returns its JSON (with the root password)."""
        with self.lock:
            reg = self._find_registry_by_name(name)
            if reg is None:
                if not REGISTRY_NAME_RE.fullmatch(name):
                    raise ValueError(f"invalid registry name {name!r}")
                if region not in self.regions or plan not in self.plans:
                    raise ValueError(f"unknown region {region!r} or plan {plan!r}")
                reg = self._add_registry(name, region, plan, public, registry_id, created_at, password, pending_charges)
            return self.registry_json(reg)

    def add_repository(self, registry, image, description="", pull_count=0, added_at=None, updated_at=None):
        """Create (or update) a repository record; returns its JSON."""
        with self.lock:
            reg = self._resolve_registry(registry)
            meta = self._repo_meta(reg, image)
            meta["description"] = description or meta["description"]
            meta["pull_count"] = int(pull_count) or meta["pull_count"]
            if added_at:
                meta["added_at"] = meta["updated_at"] = parse_time(added_at)
            if updated_at:
                meta["updated_at"] = parse_time(updated_at)
            return self.repository_json(reg, image)

    def add_artifact(self, registry, image, digest=None, size=0, tags=(), push_time=None, pull_time=None,
                     manifest_media_type=OCI_MANIFEST, media_type=None, artifact_type=None, artifact_kind="IMAGE"):
        """Push-like seeding: creates the repository, merges tags into an artifact with the same digest, moves a
        tag that points at another artifact. ``tags``: names or ``{"name", "push_time", "pull_time", "immutable"}``.

        When a real registry backs the emulator, the content lives there: only the push/pull times of an
        existing ``digest`` (and its tags) are recorded. Returns the artifact JSON (``None`` if backed and absent).
        """
        with self.lock:
            reg = self._resolve_registry(registry)
            pushed = parse_time(push_time) if push_time else self._now()
            pulled = parse_time(pull_time)
            tags = [{"name": t} if isinstance(t, str) else dict(t) for t in tags]
            if self.backed:
                return self._observe_times(reg, image, digest, pushed, pulled, tags)
            meta = self._repo_meta(reg, image)
            arts = self.artifacts.setdefault((reg["id"], image), {})
            digest = digest or fake_digest(f"{reg['id']}/{image}/{len(arts)}/{pushed.isoformat()}")
            config_type = OCI_CONFIG if manifest_media_type == OCI_MANIFEST else DOCKER_CONFIG
            if manifest_media_type in INDEX_TYPES:
                config_type = manifest_media_type
            art = arts.setdefault(digest, {"digest": digest, "size": int(size), "manifest_media_type": manifest_media_type,
                                           "media_type": media_type or config_type, "artifact_type": artifact_type or config_type,
                                           "type": artifact_kind, "push_time": pushed, "pull_time": pulled, "tags": {}})
            for tag in tags:
                for other in arts.values():
                    other["tags"].pop(tag["name"], None)
                art["tags"][tag["name"]] = {"name": tag["name"], "immutable": bool(tag.get("immutable", False)),
                                            "push_time": parse_time(tag["push_time"]) if tag.get("push_time") else pushed,
                                            "pull_time": parse_time(tag.get("pull_time"))}
            meta["updated_at"] = max(meta["updated_at"], pushed)
            return self.artifact_json(reg, image, dict(art, tags=sorted(art["tags"].values(), key=lambda t: t["name"])))

    def _observe_times(self, reg, image, digest, pushed, pulled, tags):
        """Backed mode: record push/pull times for a digest that is in the real registry."""
        arts = {a["digest"]: a for a in self._backed_artifacts(reg, image)}
        if digest not in arts:
            return None
        meta = self.observed[(reg["id"], image)][digest]
        meta["push_time"], meta["pull_time"] = pushed, pulled
        for tag in tags:
            if tag["name"] in meta["tags"]:
                meta["tags"][tag["name"]] = {"push_time": parse_time(tag.get("push_time")) or pushed,
                                             "pull_time": parse_time(tag.get("pull_time"))}
        return self.artifact_json(reg, image, next(a for a in self._artifacts(reg, image) if a["digest"] == digest))

    def add_robot(self, registry, name, description="", secret=None, disable=False, duration=-1, creation_time=None,
                  permissions=None):
        """Add a robot (``name`` short, e.g. ``ci``, or full ``robot$<registry>+ci``); returns its JSON (with secret)."""
        with self.lock:
            reg = self._resolve_registry(registry)
            full = name if name.startswith("robot$") else f"robot${reg['name']}+{name}"
            short = full.split("+", 1)[-1]
            if not ROBOT_SHORT_RE.fullmatch(short) or not full.startswith(f"robot${reg['name']}+"):
                raise ValueError(f"invalid robot name {name!r}")
            if permissions is None:
                permissions = [{"kind": "project", "namespace": reg["name"],
                                "access": [{"action": "pull", "resource": "repository", "effect": "allow"}]}]
            robot = {"name": full, "description": description, "secret": secret or generate_secret(), "disable": bool(disable),
                     "duration": int(duration), "creation_time": parse_time(creation_time) or self._now(),
                     "permissions": self._permissions(reg, permissions)}
            self.robots[(reg["id"], full)] = robot
            return self.robot_json(robot)

    def add_replication(self, registry, region):
        """Replicate a registry to ``region``; returns the replication JSON."""
        with self.lock:
            reg = self._resolve_registry(registry)
            try:
                self._check_replication(reg, region)
            except ApiError as exc:
                raise ValueError(exc.message) from exc
            self.replications[reg["id"]][region] = {"created_at": self._now()}
            return self.replication_json(reg, region)

    def add_retention_rule(self, registry, rule_type="latestPushedK", count=None, repository_action="matches", repository_match="**",
                           tag_action="matches", tag_match="**", untagged=True, disabled=False, rule_id=None):
        """Add a retention rule (the create-body fields); returns its JSON."""
        with self.lock:
            reg = self._resolve_registry(registry)
            data = {"rule_type": rule_type, "count": count, "repository_action": repository_action, "repository_match": repository_match,
                    "tag_action": tag_action, "tag_match": tag_match, "untagged": untagged}
            try:
                spec = self._validate_rule(data)
            except ApiError as exc:
                raise ValueError(exc.message) from exc
            return self.rule_json(self._add_rule(reg, spec, disabled, rule_id))

    def set_retention_schedule(self, registry, cron):
        """Set the retention cron (``""`` clears it)."""
        with self.lock:
            reg = self._resolve_registry(registry)
            try:
                self._cron_next(cron)
            except ApiError as exc:
                raise ValueError(exc.message) from exc
            self.retention[reg["id"]]["schedule"] = cron

    def seed(self, data):
        """Seed from a JSON document (also ``POST /_emulator/seed``); see docs/emulators.md for the format.

        Returns ``{"registries": [registry JSON + "robots" (with secrets)]}``.
        """
        if not isinstance(data, dict):
            raise ValueError("seed document must be a JSON object")
        out = []
        with self.lock:
            for entry in data.get("registries", []):
                if "id" in entry and entry["id"] in self.registries:
                    reg = self.registries[entry["id"]]
                else:
                    reg = self._resolve_registry(self.add_registry(
                        entry["name"], entry.get("region", "sjc"), entry.get("plan", "start_up"), entry.get("public", False),
                        entry.get("id"), entry.get("date_created"), entry.get("password"), entry.get("pending_charges", 0))["id"])
                for repo in entry.get("repositories", []):
                    image = repo.get("image") or repo["name"]
                    if not self.backed or repo.get("description") or repo.get("pull_count"):
                        self.add_repository(reg["id"], image, repo.get("description", ""), repo.get("pull_count", 0),
                                            repo.get("added_at"), repo.get("updated_at"))
                    for art in repo.get("artifacts", []):
                        self.add_artifact(reg["id"], image, art.get("digest"), art.get("size", 0), art.get("tags", ()),
                                          art.get("push_time"), art.get("pull_time"),
                                          art.get("manifest_media_type", OCI_MANIFEST), art.get("media_type"))
                    if repo.get("updated_at") and (reg["id"], image) in self.repositories:
                        self.repositories[(reg["id"], image)]["updated_at"] = parse_time(repo["updated_at"])
                robots = [self.add_robot(reg["id"], r["name"], r.get("description", ""), r.get("secret"), r.get("disable", False),
                                         r.get("duration", -1), r.get("creation_time"), r.get("permissions"))
                          for r in entry.get("robots", [])]
                for item in entry.get("replications", []):
                    self.add_replication(reg["id"], item if isinstance(item, str) else item["region"])
                retention = entry.get("retention") or {}
                for rule in retention.get("rules", []):
                    rule = dict(rule)
                    rule.setdefault("rule_id", rule.pop("id", None))
                    self.add_retention_rule(reg["id"], **rule)
                if retention.get("schedule") is not None:
                    self.set_retention_schedule(reg["id"], retention["schedule"])
                out.append(dict(self.registry_json(reg), robots=robots))
        return {"registries": out}

    def dump_state(self):
        """Everything, as the API would show it (root passwords and robot secrets included)."""
        with self.lock:
            self._memo.cache = {}
            try:
                return self._dump_state()
            finally:
                self._memo.cache = None

    def _dump_state(self):
        """``dump_state`` body (called under the lock, with the per-request memo on)."""
        regs = []
        for reg in self.registries.values():
            repos = [dict(self.repository_json(reg, image),
                          artifacts=[self.artifact_json(reg, image, a) for a in self._artifacts(reg, image)])
                     for image in self._repo_images(reg)]
            robots = [self.robot_json(r) for (reg_id, _unused), r in sorted(self.robots.items()) if reg_id == reg["id"]]
            retention = self.retention[reg["id"]]
            nxt = cron_next(retention["schedule"], self._now()) if retention["schedule"] else None
            regs.append(dict(self.registry_json(reg), repositories=repos, robots=robots,
                             replications=[self.replication_json(reg, r) for r in self.replications[reg["id"]]],
                             retention={"schedule": retention["schedule"], "next_scheduled_time": fmt_iso(nxt) if nxt else "",
                                        "rules": [self.rule_json(r) for _unused, r in sorted(retention["rules"].items())],
                                        "executions": [dict(e) for e in retention["executions"]]}))
        return {"registries": regs, "backed": self.backed}

    # -- test helpers --------------------------------------------------------
    @property
    def api_base(self):
        """``http://127.0.0.1:<port>/v2``."""
        return self.url + BASE

    def registry_id(self, name):
        """Id of the registry called ``name``."""
        with self.lock:
            return self._resolve_registry(name)["id"]

    def root_password(self, registry):
        """The root user's password (the API returns it on every read)."""
        with self.lock:
            return self._resolve_registry(registry)["root_user"]["password"]

    def robot_secret(self, registry, name):
        """A robot's secret (``name`` short or full)."""
        with self.lock:
            reg = self._resolve_registry(registry)
            full = name if name.startswith("robot$") else f"robot${reg['name']}+{name}"
            return self.robots[(reg["id"], full)]["secret"]

    def executions(self, registry):
        """Retention executions of a registry (with ``deleted``/``retained`` lists)."""
        with self.lock:
            return [dict(e) for e in self.retention[self._resolve_registry(registry)["id"]]["executions"]]


def robot_path_name(name):
    """Percent-encode a robot name for the path (``$`` -> ``%24``, ``+`` -> ``%2B``)."""
    return urllib.parse.quote(name, safe="")


def _add_arguments(parser):
    parser.add_argument("--api-key", action="append", dest="api_keys", help=f"valid API key (repeatable; default {DEFAULT_API_KEY})")
    parser.add_argument("--seed", metavar="FILE", help="JSON seed document to load at start")
    parser.add_argument("--registry-host", metavar="HOST[:PORT]",
                        help="registry host used in urn/credentials instead of <region>.vultrcr.com; a real registry there backs artifacts")
    parser.add_argument("--registry-scheme", choices=("http", "https"), default="http", help="scheme to reach --registry-host (default http)")
    parser.add_argument("--no-registry-backing", action="store_true", help="use --registry-host in names only; keep artifacts in the emulator")
    parser.add_argument("--docker-username", help="username the docker-credentials endpoint returns (and the backing uses)")
    parser.add_argument("--docker-password", help="password the docker-credentials endpoint returns (and the backing uses)")
    parser.add_argument("--rate-limit", type=int, default=0, metavar="N",
                        help=f"answer 429 above N requests/s per client (Vultr: {DEFAULT_RATE_LIMIT}; default 0 = off)")
    parser.add_argument("--robot-update-shape", choices=ROBOT_UPDATE_SHAPES, default="access")
    parser.add_argument("--robot-permissions-shape", choices=ROBOT_PERMISSIONS_SHAPES, default="array")
    parser.add_argument("--retention-scope-key", choices=RETENTION_SCOPE_KEYS, default="scope_selectors")


def _factory(args):
    settings = {"rate_limit": args.rate_limit, "robot_update_shape": args.robot_update_shape,
                "robot_permissions_shape": args.robot_permissions_shape, "retention_scope_key": args.retention_scope_key,
                "registry_host": args.registry_host, "registry_scheme": args.registry_scheme,
                "registry_backing": not args.no_registry_backing}
    if args.docker_username is not None:
        settings["docker_credentials"] = {"username": args.docker_username, "password": args.docker_password or ""}
    emu = VultrEmulator(api_keys=args.api_keys or (DEFAULT_API_KEY,), **settings)
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            emu.seed(json.load(handle))
    return emu


def _banner(emu):
    key = sorted(emu.api_keys)[0]
    lines = [f"API key: {key}    (send 'Authorization: Bearer {key}')",
             f"API base: {emu.api_base}; regions: {', '.join(sorted(emu.regions))}; plans: {', '.join(emu.plans)}"]
    if emu.registry_host:
        lines.append(f"registry host: {emu.registry_host}" + (" (artifacts read from the real registry there)" if emu.backed else ""))
    if emu.requests_per_second:
        lines.append(f"rate limit: {emu.requests_per_second} requests/s per client")
    lines.append(f"playbooks: provider: vultr, api_url: {emu.url}, api_token: {key}")
    return lines


def main(argv=None):
    """Console entry point."""
    return run_standalone(_factory, argv, description="Vultr Container Registry emulator",
                          default_port=VultrEmulator.default_port, add_arguments=_add_arguments, banner=_banner)


if __name__ == "__main__":
    sys.exit(main())
