"""Stateful emulator of the Naver Cloud Container Registry (NCR) API v2 behind NCP's API Gateway.

Run standalone with ``python -m tests.emulators.ncloud --port 8085``.
See ``docs/emulators.md`` for the behaviours and the facts they follow.

Covered: the 10 documented NCR v2 operations (registries: list, create, delete; images: list, detail, update,
delete; tags: list, detail, delete) under every stage prefix of the public and government zones on one port, with
a separate state per region; the API Gateway signature v2 checked on every request as the gateway does it (the raw
request target with the stage prefix, the timestamp within 5 minutes of the gateway clock); the
``{count, next, previous, results}`` page envelope with page numbers; the gateway's and NCR's error bodies.

Images and tags are seeded in memory, unless a real OCI registry backs the emulator (``registry_backend``, e.g.
``ncr_backend(emu)``): then every NCR registry gets its own ``/v2/`` front listener (its ``end_point``, HTTP Basic
with an access key and its secret key, as ``docker login``) forwarding to the backend under ``<registry>/``, the
API reads images and tags from the backend, and the API deletes act on it.
"""
# One class per provider API, with a wide seeding/test-helper surface.
# pylint: disable=too-many-instance-attributes,too-many-arguments,too-many-positional-arguments,too-many-public-methods
# pylint: disable=too-many-locals,too-many-lines,too-many-branches,too-many-return-statements,too-many-statements

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, urlencode

from tests.emulators.base import MUTATING_METHODS, ApiError, EmulatorServer, Response, _default_reason, _Handler, _Server, run_standalone
from tests.emulators.oci_backend import (INDEX_MEDIA_TYPES, BackendError, BackendUnavailable, RegistryClient, backend_registry,
                                         check_backend_url, oci_error, oci_error_body, parse_oci_path, relay, send_relayed)
from tests.support import known_secrets

DEFAULT_ACCESS_KEY = "NCPEMULATORACCESSKEY"
DEFAULT_SECRET_KEY = "ncp-emulator-secret-key"
known_secrets.register(DEFAULT_SECRET_KEY)
DEFAULT_REGION = "kr"

# Region -> stage prefix (part of the signed URI), the registry host suffix of end_point / private_end_point, and the
# real API Gateway host (only named in the banner). Reference §1; the non-KR registry hosts are the emulator's choice.
REGIONS = {
    "kr": {"prefix": "/ncr/api/v2", "host": "kr.ncr.ntruss.com", "private_host": "kr.private-ncr.ntruss.com",
           "gateway": "https://ncr.apigw.ntruss.com"},
    "sgn": {"prefix": "/ncr/sgn-api/v2", "host": "sgn.ncr.ntruss.com", "private_host": "sgn.private-ncr.ntruss.com",
            "gateway": "https://ncr.apigw.ntruss.com"},
    "jpn": {"prefix": "/ncr/jpn-api/v2", "host": "jpn.ncr.ntruss.com", "private_host": "jpn.private-ncr.ntruss.com",
            "gateway": "https://ncr.apigw.ntruss.com"},
    "gov-kr": {"prefix": "/ncr/kr/v2", "host": "kr.ncr.gov-ntruss.com", "private_host": "kr.private-ncr.gov-ntruss.com",
               "gateway": "https://gov-ncr.apigw.gov-ntruss.com"},
    "gov-krs": {"prefix": "/ncr/krs/v2", "host": "krs.ncr.gov-ntruss.com", "private_host": "krs.private-ncr.gov-ntruss.com",
                "gateway": "https://gov-ncr.apigw.gov-ntruss.com"},
}
STAGE_PREFIXES = {region: info["prefix"] for region, info in REGIONS.items()}

TIMESTAMP_HEADER = "x-ncp-apigw-timestamp"
ACCESS_KEY_HEADER = "x-ncp-iam-access-key"
SIGNATURE_HEADER = "x-ncp-apigw-signature-v2"
LEGACY_SIGNATURE_HEADER = "x-ncp-apigw-signature-v1"
MAX_CLOCK_SKEW = 300  # seconds: "rejected if > 5 min off gateway clock"

STORAGE_TYPES = ("objectStorage", "ncloudStorage")
TAG_DELETE_SEMANTICS = ("manifest", "tag")
ERROR_SHAPES = ("return", "gateway")
REGISTRY_SHAPES = ("spec", "legacy")
NO_BODY_STATUSES = (204, 200)
CREATE_MESSAGE = "Registry Creation is successful"
DESCRIPTION_MAX = 100
REGISTRY_STATUS = "Running"

# NCP API Gateway failures: HTTP status -> (errorCode, message) of {"error": {"errorCode", "message", "details"}}.
GATEWAY_ERRORS = {400: ("100", "Bad Request Exception"), 401: ("200", "Authentication Failed"), 403: ("230", "Forbidden"),
                  404: ("300", "Not Found Exception"), 413: ("430", "Request Entity Too Large"), 429: ("420", "Rate Limited"),
                  500: ("900", "Unexpected Error"), 502: ("500", "Endpoint Error"), 503: ("500", "Endpoint Error"),
                  504: ("510", "Endpoint Timeout")}
GATEWAY = "gateway"  # ApiError.exception_class of an error the gateway answers (its body whatever error_shape says)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

# A registry name is the first label of its host name (<name>.kr.ncr.ntruss.com): a DNS label.
REGISTRY_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
# distribution's repository name grammar (an image name is one or more such components joined by "/")
IMAGE_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_FRACTION_RE = re.compile(r"\.(\d+)")

SETTING_CHOICES = {"tag_delete_semantics": TAG_DELETE_SEMANTICS, "error_shape": ERROR_SHAPES, "registry_shape": REGISTRY_SHAPES,
                   "patch_status": NO_BODY_STATUSES, "tag_delete_status": NO_BODY_STATUSES, "never_pulled": (0, None)}
BOOL_SETTINGS = ("accept_signature_v1", "paging_required", "tag_extras", "record_pulls", "front_delete", "require_content_type")
DEFAULT_SETTINGS = {
    "keys": [{"access_key": DEFAULT_ACCESS_KEY, "secret_key": DEFAULT_SECRET_KEY, "read_only": False}],
    "clock_skew": 0, "max_clock_skew": MAX_CLOCK_SKEW, "accept_signature_v1": False, "tag_delete_semantics": "manifest",
    "registry_backend": None, "paging_required": True, "default_pagesize": 20, "max_pagesize": 1000, "registry_shape": "spec",
    "tag_extras": False, "error_shape": "return", "patch_status": 204, "tag_delete_status": 204, "never_pulled": 0,
    "record_pulls": True, "front_delete": False, "require_content_type": False,
}


# ---------------------------------------------------------------------------
# Signature v2, names and times

def sign(secret_key, method, uri, timestamp, access_key):
    """``Base64(HMAC-SHA256(secret_key, "{method} {uri}\\n{timestamp}\\n{access_key}"))``, ``uri`` = path with the stage
    prefix + ``?`` + query, exactly as sent."""
    message = f"{method} {uri}\n{timestamp}\n{access_key}"
    digest = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(method, target, access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY, timestamp=None,
                   header=SIGNATURE_HEADER):
    """The API Gateway headers for a request to ``target`` (path + ``?query`` as sent); ``timestamp`` in ms (default now)."""
    timestamp = str(int(time.time() * 1000) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: timestamp, ACCESS_KEY_HEADER: access_key, header: sign(secret_key, method, target, timestamp, access_key),
            "Content-Type": "application/json; charset=utf-8"}


def image_path_name(name):
    """An image name as one path segment: ``hello/world`` -> ``hello%2Fworld``."""
    return quote(name, safe="")


def fake_digest(text):
    """``sha256:`` + the sha256 of ``text``."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utcnow():
    return datetime.now(timezone.utc)


def parse_time(value):
    """An aware datetime from ISO 8601 (``Z``, any number of fractional digits) or a datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = _FRACTION_RE.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_ms(value):
    """Epoch milliseconds from ms (int), an ISO time or a datetime; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a time must be epoch milliseconds, an ISO 8601 string or a datetime")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return int(parse_time(value).timestamp() * 1000)


def _created_ms(text):
    """An image config's ``created`` in ms; 0 when it has none or it is not a time."""
    try:
        return to_ms(text) or 0
    except (TypeError, ValueError):
        return 0


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _platform_entry(spec, manifest_digest, default_size, default_created, media_type=OCI_MANIFEST):
    """One ``images[]`` entry of a seeded manifest from ``"linux/arm64/v8"`` or ``{"os", "architecture", ...}``."""
    if isinstance(spec, str):
        parts = spec.split("/")
        spec = {"os": parts[0], "architecture": parts[1] if len(parts) > 1 else None, "variant": parts[2] if len(parts) > 2 else None}
    if not isinstance(spec, dict):
        raise ApiError(400, "a platform is 'os/architecture[/variant]' or an object")
    label = "/".join(str(spec.get(k) or "") for k in ("os", "architecture", "variant"))
    return {"digest": spec.get("digest") or fake_digest(f"{manifest_digest}|{label}"), "media_type": spec.get("media_type") or media_type,
            "os": spec.get("os", "linux"), "architecture": spec.get("architecture", "amd64"), "variant": spec.get("variant"),
            "os_version": spec.get("os_version"), "os_features": spec.get("os_features") or "", "features": spec.get("features") or "",
            "size": int(spec.get("size", default_size)), "created": to_ms(spec.get("created")) or default_created,
            "latest_pulled": to_ms(spec.get("latest_pulled"))}


# ---------------------------------------------------------------------------
# The emulator

class NcloudEmulator(EmulatorServer):
    """In-memory NCR API v2 behind the API Gateway, optionally with a ``/v2/`` front per registry over a real registry.

    Settings (``configure`` / ``POST /_emulator/config``) are documented in ``docs/emulators.md``; ``reset()`` keeps
    them.
    """

    provider = "ncloud"
    default_port = 8085

    def __init__(self, host="127.0.0.1", port=0, clock=None, verbose=False, **settings):
        """``clock``: a callable returning an aware datetime (tests pin it), default real time. It dates what the emulator
        creates and records; the signature's timestamp check uses the real time plus ``clock_skew``."""
        self.clock = clock or _utcnow
        self.keys = {}
        self.clock_skew = 0
        self.max_clock_skew = MAX_CLOCK_SKEW
        self.accept_signature_v1 = False
        self.tag_delete_semantics = "manifest"
        self.registry_backend = None
        self.backend = None
        self.paging_required = True
        self.default_pagesize = 20
        self.max_pagesize = 1000
        self.registry_shape = "spec"
        self.tag_extras = False
        self.error_shape = "return"
        self.patch_status = 204
        self.tag_delete_status = 204
        self.never_pulled = 0
        self.record_pulls = True
        self.front_delete = False
        self.require_content_type = False
        self.registries = {region: {} for region in REGIONS}
        self.fronts = {}
        self._local = threading.local()
        self._ids = {}
        super().__init__(host=host, port=port, verbose=verbose)
        self.configure(keys=DEFAULT_SETTINGS["keys"])
        self.configure(**settings)
        self.reset_state()

    # -- configuration -------------------------------------------------------
    def configure(self, **settings):
        """Change settings (keys below, see docs/emulators.md); returns the settings."""
        for key, value in settings.items():
            if key == "keys":
                self.keys = self._build_keys(value)
            elif key in ("clock_skew", "max_clock_skew"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (key == "max_clock_skew" and value <= 0):
                    raise ApiError(400, f"{key} must be a number of seconds" + (" above 0" if key == "max_clock_skew" else ""))
                setattr(self, key, value)
            elif key in BOOL_SETTINGS:
                if not isinstance(value, bool):
                    raise ApiError(400, f"{key} must be a boolean")
                setattr(self, key, value)
            elif key in SETTING_CHOICES:
                if value not in SETTING_CHOICES[key] or isinstance(value, bool):
                    raise ApiError(400, f"{key} must be one of {', '.join(json.dumps(c) for c in SETTING_CHOICES[key])}")
                setattr(self, key, value)
            elif key in ("default_pagesize", "max_pagesize"):
                if not _is_int(value) or value < 1:
                    raise ApiError(400, f"{key} must be a positive integer")
                setattr(self, key, value)
            elif key == "registry_backend":
                self._set_backend(check_backend_url(value))
            else:
                raise ApiError(400, f"unknown setting {key!r}")
        return self.settings()

    @staticmethod
    def _build_keys(value):
        """``[{"access_key", "secret_key", "read_only"}]``, or ``{access_key: secret_key}``."""
        if isinstance(value, dict):
            value = [{"access_key": k, "secret_key": v} for k, v in value.items()]
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
            raise ApiError(400, "keys must be a non-empty list of {\"access_key\", \"secret_key\", \"read_only\"}")
        out = {}
        for item in value:
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k) for k in ("access_key", "secret_key")):
                raise ApiError(400, "each key needs a non-empty \"access_key\" and \"secret_key\"")
            if not isinstance(item.get("read_only", False), bool) or set(item) - {"access_key", "secret_key", "read_only"}:
                raise ApiError(400, "a key is {\"access_key\", \"secret_key\", \"read_only\" (boolean)}")
            out[item["access_key"]] = {"access_key": item["access_key"], "secret_key": item["secret_key"],
                                       "read_only": item.get("read_only", False)}
        return out

    def settings(self):
        """Current settings (the keys with their secret keys: they are the emulator's own test credentials)."""
        out = {key: getattr(self, key) for key in DEFAULT_SETTINGS if key != "keys"}
        out["keys"] = [dict(k) for k in self.keys.values()]
        return out

    def _set_backend(self, url):
        if url == self.registry_backend:
            return
        self._stop_fronts()
        self.registry_backend = url
        self.backend = RegistryClient(url) if url else None
        for regs in self.registries.values():  # what the emulator noted of the other mode's tags means nothing now
            for image in (i for reg in regs.values() for i in reg["images"].values()):
                image["tags"] = {n: t for n, t in image["tags"].items() if not url and t["digest"] in image["manifests"]}
        if url:
            for region, regs in self.registries.items():
                for name in regs:
                    self._start_front(region, name)

    @property
    def backed(self):
        """True when images and tags live on the real registry at ``registry_backend``."""
        return self.backend is not None

    # -- lifecycle: the per-registry /v2/ fronts ---------------------------------
    def start(self):
        """Serve the API (and, backed, the fronts of registries added before the start)."""
        super().start()
        if self.backed:
            for region, regs in self.registries.items():
                for name in regs:
                    self._start_front(region, name)
        return self

    def stop(self):
        """Stop every front, then the API."""
        self._stop_fronts()
        super().stop()

    def _start_front(self, region, name):
        key = (region, name)
        if key in self.fronts or not self.backed:
            return
        handler = type("NcrFrontHandler", (_Handler,), {"emulator": self})
        httpd = _Server((self.host, 0), handler)
        httpd.ncr_front = key
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"ncr-front-{region}-{name}", daemon=True)
        thread.start()
        self.fronts[key] = (httpd, thread)

    def _stop_front(self, region, name):
        front = self.fronts.pop((region, name), None)
        if front is not None:
            httpd, thread = front
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)

    def _stop_fronts(self):
        for region, name in list(self.fronts):
            self._stop_front(region, name)

    def front_url(self, name, region=DEFAULT_REGION):
        """``http://127.0.0.1:<port>`` of a registry's ``/v2/`` front (backed mode), else ``None``."""
        front = self.fronts.get((region, name))
        return f"http://{self.host}:{front[0].server_address[1]}" if front else None

    def registry_end_point(self, name, region=DEFAULT_REGION):
        """The registry's ``end_point``: its front's URL when backed, else ``<name>.<region host>`` (no scheme)."""
        return self.front_url(name, region) or f"{name}.{REGIONS[region]['host']}"

    # -- state -----------------------------------------------------------------
    def reset_state(self):
        """Forget every registry (in every region). Backed: first delete the images of every registry from the backend
        (best effort) and stop the fronts."""
        if self.backed:
            for region, regs in self.registries.items():
                for reg in list(regs.values()):
                    try:
                        self._purge_registry(region, reg)
                    except ApiError:
                        pass
        self._stop_fronts()
        self.registries = {region: {} for region in REGIONS}
        self._ids = {"image": 2000, "tag": 3000}

    def _next_id(self, kind):
        self._ids[kind] += 1
        return self._ids[kind]

    def now(self):
        """The emulated time (``clock``)."""
        return parse_time(self.clock())

    def now_ms(self):
        """The emulated time in epoch milliseconds."""
        return int(self.now().timestamp() * 1000)

    def api_url(self, region=DEFAULT_REGION):
        """The ``api_url`` of a region: ``http://127.0.0.1:<port>`` + its stage prefix."""
        return self.url + STAGE_PREFIXES[region]

    @staticmethod
    def stage_prefix(region=DEFAULT_REGION):
        """The stage prefix of a region (``/ncr/api/v2`` for ``kr``)."""
        return STAGE_PREFIXES[region]

    @staticmethod
    def backend_prefix(name, region=DEFAULT_REGION):
        """Where a registry's images live on the backend: ``<name>`` in ``kr``, ``<region>/<name>`` elsewhere."""
        return name if region == DEFAULT_REGION else f"{region}/{name}"

    def backend_repository(self, registry, image, region=DEFAULT_REGION):
        """The backend repository of an image: ``<backend prefix>/<image>``."""
        return f"{self.backend_prefix(registry, region)}/{image}"

    # -- the gateway: signature v2, routing, error bodies ----------------------
    def _front(self):
        return getattr(self._local, "front", None)

    def handle_http(self, handler):
        """Note which listener (the API, or a registry's front) took the request, then the framework's handling."""
        self._local.front = getattr(handler.server, "ncr_front", None)
        super().handle_http(handler)

    def _handle_control(self, request):
        if self._front() is not None:
            return Response(404, oci_error_body(404, "control endpoints are on the API port", "NOT_FOUND"))
        return super()._handle_control(request)

    _send = staticmethod(send_relayed)

    @staticmethod
    def region_of(path):
        """The region whose stage prefix ``path`` is under, or ``None``."""
        for region, prefix in STAGE_PREFIXES.items():
            if path == prefix or path.startswith(prefix + "/"):
                return region
        return None

    def authenticate(self, request):
        """The API Gateway's checks on every request under a stage prefix: the three headers, a known access key, the
        timestamp within ``max_clock_skew`` of the gateway clock (real time + ``clock_skew``), the signature over the raw
        request target; then ``Content-Type`` (``require_content_type``) and write permission (``read_only`` keys)."""
        if self.region_of(request.path) is None:
            return  # not an API of this gateway: routing answers 404
        timestamp, access_key = request.header(TIMESTAMP_HEADER), request.header(ACCESS_KEY_HEADER)
        signature = request.header(SIGNATURE_HEADER)
        used = SIGNATURE_HEADER
        if signature is None and request.header(LEGACY_SIGNATURE_HEADER) is not None:
            if not self.accept_signature_v1:
                raise ApiError(401, f"{LEGACY_SIGNATURE_HEADER} is not accepted here: sign with {SIGNATURE_HEADER}", GATEWAY)
            signature, used = request.header(LEGACY_SIGNATURE_HEADER), LEGACY_SIGNATURE_HEADER
        missing = [name for name, value in ((TIMESTAMP_HEADER, timestamp), (ACCESS_KEY_HEADER, access_key), (SIGNATURE_HEADER, signature))
                   if not value]
        if missing:
            raise ApiError(401, f"missing header(s): {', '.join(missing)}", GATEWAY)
        key = self.keys.get(access_key)
        if key is None:
            raise ApiError(401, f"unknown access key {access_key}", GATEWAY)
        if not timestamp.isdigit():
            raise ApiError(401, f"{TIMESTAMP_HEADER} must be epoch milliseconds, got {timestamp!r}", GATEWAY)
        gateway_ms = (time.time() + self.clock_skew) * 1000
        off = (int(timestamp) - gateway_ms) / 1000
        if abs(off) > self.max_clock_skew:
            raise ApiError(401, f"{TIMESTAMP_HEADER} {timestamp} is {abs(off):.0f} s {'ahead of' if off > 0 else 'behind'} the gateway clock "
                                f"(at most {self.max_clock_skew:g} s allowed)", GATEWAY)
        expected = sign(key["secret_key"], request.method, request.target, timestamp, access_key)
        if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8", "replace")):
            raise ApiError(401, f"{used} does not match the string to sign \"{request.method} {request.target}\\n{timestamp}\\n{access_key}\" "
                                "signed with the secret key of this access key", GATEWAY)
        if self.require_content_type and "application/json" not in (request.header("Content-Type") or "").lower():
            raise ApiError(400, "Content-Type: application/json is required", GATEWAY)
        if key["read_only"] and request.method in MUTATING_METHODS:
            raise ApiError(403, f"access key {access_key} has no permission for {request.method} (Sub Account policy)", GATEWAY)
        request.ncp_key = key

    def resolve(self, method, raw_path):
        """The framework's routing; an unknown path or method is the gateway's 404 (no such API resource)."""
        try:
            return super().resolve(method, raw_path)
        except ApiError as err:
            raise ApiError(404, f"no API {method} {raw_path}", GATEWAY) from err

    def handle_request(self, request):
        """A front's ``/v2/`` requests go to :meth:`handle_front`; API requests through the framework."""
        front = self._front()
        if front is not None:
            return self.handle_front(front, request)
        return super().handle_request(request)

    def error_body(self, status, message, exception_class=None, request=None, **extra):
        """The gateway's ``{"error": {"errorCode", "message", "details"}}`` for its own failures (auth, routing, 429, 5xx,
        and every error with ``error_shape: gateway``); NCR's ``{"returnCode", "returnMessage"}`` for the rest. On a
        front: the OCI body ``{"errors": [{"code", "message"}]}``."""
        if self._front() is not None:
            return oci_error_body(status, message, exception_class, extra.get("detail"))
        if exception_class == GATEWAY or status in (401, 429) or status >= 500 or self.error_shape == "gateway":
            code, name = GATEWAY_ERRORS.get(status, (str(status), _default_reason(status)))
            return {"error": {"errorCode": code, "message": name, "details": message}}
        return {"returnCode": str(status), "returnMessage": message}

    def error_headers(self, status, request=None):
        """``Docker-Distribution-API-Version`` on a front's errors."""
        del status, request
        return {"Docker-Distribution-API-Version": "registry/2.0"} if self._front() is not None else {}

    # -- routes --------------------------------------------------------------
    def setup_routes(self):
        """The 10 operations under every region's stage prefix."""
        for region, prefix in STAGE_PREFIXES.items():
            base = prefix + "/repositories"
            image = base + "/{registry}/{image:enc}"
            for method, template, handler in (
                    ("GET", base, self.list_registries),
                    ("POST", base + "/{registry}", self.create_registry),
                    ("DELETE", base + "/{registry}", self.delete_registry),
                    ("GET", base + "/{registry}", self.list_images),
                    ("GET", image, self.get_image),
                    ("PATCH", image, self.update_image),
                    ("DELETE", image, self.delete_image),
                    ("GET", image + "/tags", self.list_tags),
                    ("GET", image + "/tags/{reference}", self.get_tag),
                    ("DELETE", image + "/tags/{reference}", self.delete_tag)):
                self.route(method, template, functools.partial(handler, region))

    # -- request helpers -----------------------------------------------------
    @staticmethod
    def _body(request):
        """The JSON object body (``{}`` when empty); 400 otherwise."""
        if request.json_error:
            raise ApiError(400, f"invalid JSON body: {request.json_error}")
        if request.json is None:
            return {}
        if not isinstance(request.json, dict):
            raise ApiError(400, "the body must be a JSON object")
        return request.json

    def _paging(self, request):
        """``(page, pagesize)``: both required (``paging_required``), integers ≥ 1; pagesize clamped to ``max_pagesize``."""
        query = request.query
        page, size = query.get("page"), query.get("pagesize")
        if page is None or size is None:
            if self.paging_required:
                missing = " and ".join(n for n, v in (("page", page), ("pagesize", size)) if v is None)
                raise ApiError(400, f"{missing} {'is' if ' and ' not in missing else 'are'} required")
            page = "1" if page is None else page
            size = str(self.default_pagesize) if size is None else size
        for name, value in (("page", page), ("pagesize", size)):
            if not value.isdigit() or int(value) < 1:
                raise ApiError(400, f"{name} must be an integer greater than 0, got {value!r}")
        return int(page), min(int(size), self.max_pagesize)

    def _envelope(self, request, items, render):
        """``{count, next, previous, results}`` with page numbers; ``render`` is called for the page's items only."""
        page, size = self._paging(request)
        start = (page - 1) * size
        chunk = items[start:start + size]
        return {"count": len(items), "next": page + 1 if start + size < len(items) else None,
                "previous": page - 1 if page > 1 else None, "results": [render(item) for item in chunk]}

    def _registry(self, region, name):
        reg = self.registries[region].get(name)
        if reg is None:
            raise ApiError(404, f"Registry {name} not found")
        return reg

    def _backend_call(self, func, *args):
        try:
            return func(*args)
        except BackendUnavailable as exc:
            raise ApiError(503, f"registry backend unavailable: {exc}") from exc
        except BackendError as exc:
            raise ApiError(502, f"registry backend answered unexpectedly: {exc}") from exc

    # -- JSON ------------------------------------------------------------------
    def registry_json(self, region, reg):
        """A registry as the list shows it (``registry_shape``: ``spec`` or the older page's ``legacy`` fields)."""
        end_point = self.registry_end_point(reg["name"], region)
        if self.registry_shape == "legacy":
            return {"name": reg["name"], "bucket": reg["bucket"], "end_point": end_point, "usage": self._usage(region, reg),
                    "created": reg["created"], "status": reg["status"]}
        return {"bucket": reg["bucket"], "created": reg["created"], "end_point": end_point, "end_point_enabled": reg["end_point_enabled"],
                "name": reg["name"], "private_end_point": f"{reg['private_id']}.{REGIONS[region]['private_host']}",
                "private_id": reg["private_id"], "public_reg_status": reg["public_reg_status"],
                "scan_on_push_enabled": reg["scan_on_push_enabled"], "status": reg["status"]}

    def _usage(self, region, reg):
        if self.backed:
            return None
        return sum(entry["size"] for image in reg["images"].values() for manifest in image["manifests"].values()
                   for entry in manifest["entries"])

    def image_json(self, region, reg, image, detail=False):
        """An image (list item; ``detail`` adds ``full_description``, ``private_id``, ``tag_mutability_enabled``)."""
        del region
        out = {"can_edit": True, "description": image["description"], "is_automated": False, "is_private": True,
               "last_updated": image["last_updated"], "name": image["name"], "namespace": reg["name"], "pull_count": image["pull_count"],
               "repository_type": "image", "star_count": 0, "status": 1, "user": reg["name"]}
        if detail:
            out.update(full_description=image["full_description"], private_id=reg["private_id"], tag_mutability_enabled=False)
        return out

    def tag_json(self, image, view):
        """A tag: ``creator, digest, full_size, id, image_id, images[], name`` (+ ``last_updated``, ``last_updater`` with
        ``tag_extras``); ``images[]`` one entry per platform manifest."""
        entries = []
        for entry in view["entries"]:
            pulled = image["pulls"].get(entry["digest"])
            entries.append({"architecture": entry["architecture"], "created": entry["created"], "digest": entry["digest"],
                            "features": entry["features"] or "", "latest_pulled": self.never_pulled if pulled is None else pulled,
                            "mediaType": entry["media_type"], "os": entry["os"], "os_features": entry["os_features"] or "",
                            "os_version": entry["os_version"], "size": entry["size"], "updated": view["updated"],
                            "variant": entry["variant"]})
        out = {"creator": view["creator"], "digest": view["digest"], "full_size": sum(e["size"] for e in view["entries"]),
               "id": view["id"], "image_id": image["id"], "images": entries, "name": view["name"]}
        if self.tag_extras:
            out.update(last_updated=view["updated"], last_updater=view["creator"])
        return out

    # -- images and tags: in memory, or read from the backend ---------------
    def _new_image(self, reg, name, created=None):
        now = self.now_ms()
        image = {"id": self._next_id("image"), "name": name, "description": "", "full_description": "", "pull_count": 0,
                 "created": created or now, "last_updated": created or now, "tags": {}, "manifests": {}, "pulls": {}}
        reg["images"][name] = image
        return image

    def _image_names(self, region, reg):
        """Sorted image names. Backed: the backend's repositories under the registry's prefix that have tags (a record
        is made on first sight and kept, as an image stays listed after its last tag went), plus the records."""
        if self.backed:
            prefix = self.backend_prefix(reg["name"], region) + "/"
            for repo in self._backend_call(self.backend.catalog):
                name = repo[len(prefix):]
                if repo.startswith(prefix) and name not in reg["images"] and self._backend_call(self.backend.tags, repo):
                    self._new_image(reg, name)
        return sorted(reg["images"])

    def _image(self, region, reg, name):
        image = reg["images"].get(name)
        if (image is None and self.backed and IMAGE_NAME_RE.match(name)
                and self._backend_call(self.backend.tags, self.backend_repository(reg["name"], name, region))):
            image = self._new_image(reg, name)
        if image is None:
            raise ApiError(404, f"Image {name} not found in registry {reg['name']}")
        return image

    def _tag_names(self, region, reg, image):
        if self.backed:
            return self._backend_call(self.backend.tags, self.backend_repository(reg["name"], image["name"], region))
        return sorted(image["tags"])

    def _tag_view(self, region, reg, image, name):
        """``{name, digest, updated, creator, id, media_type, entries}`` of a tag, or ``None``."""
        if not self.backed:
            tag = image["tags"].get(name)
            if tag is None:
                return None
            manifest = image["manifests"][tag["digest"]]
            return dict(tag, media_type=manifest["media_type"], entries=manifest["entries"])
        repo = self.backend_repository(reg["name"], image["name"], region)
        digest = self._backend_call(self.backend.resolve, repo, name)
        if digest is None:
            return None
        facts = self._backend_call(self.backend.image_facts, repo, digest)
        record = self._record_tag(image, name, digest)
        entries = []
        for item in facts["children"] if facts["index"] else [facts]:
            platform = item["platform"]
            entries.append({"digest": item["digest"], "media_type": item["media_type"], "os": platform["os"],
                            "architecture": platform["architecture"], "variant": platform["variant"], "os_version": platform["os_version"],
                            "os_features": platform["os_features"], "features": platform["features"], "size": item["size"],
                            "created": _created_ms(item["created"])})
        return dict(record, media_type=facts["media_type"], entries=entries)

    def _record_tag(self, image, name, digest, when=None, creator=None):
        """The emulator's record of a tag seen at ``digest`` (backed: when the emulator first saw it there, or the push
        through the front); a tag seen at a new digest counts as pushed now."""
        record = image["tags"].get(name)
        if record is None or record["digest"] != digest or when is not None:
            when = when or self.now_ms()
            record = {"name": name, "digest": digest, "updated": when, "id": record["id"] if record else self._next_id("tag"),
                      "creator": creator or (record["creator"] if record else "")}
            image["tags"][name] = record
            image["last_updated"] = max(image["last_updated"], when)
        return record

    def _tag(self, region, reg, image, name):
        view = self._tag_view(region, reg, image, name)
        if view is None:
            raise ApiError(404, f"Tag {name} not found in image {image['name']}")
        return view

    def _remove_tag(self, region, reg, image, name):
        """Delete a tag the way ``tag_delete_semantics`` says: the manifest (every tag on its digest) or the tag alone."""
        view = self._tag(region, reg, image, name)
        digest = view["digest"]
        if self.backed:
            repo = self.backend_repository(reg["name"], image["name"], region)
            if self.tag_delete_semantics == "tag":
                self._backend_call(self.backend.untag, repo, name)
            else:
                status = self._backend_call(self.backend.delete_manifest, repo, digest)
                if status not in (200, 202, 404):
                    raise ApiError(502, f"registry backend refused DELETE /v2/{repo}/manifests/{digest} ({status})")
        gone = [name] if self.tag_delete_semantics == "tag" else [n for n, t in image["tags"].items() if t["digest"] == digest]
        for tag in set(gone) | {name}:
            image["tags"].pop(tag, None)
        if not self.backed and not any(t["digest"] == digest for t in image["tags"].values()):
            image["manifests"].pop(digest, None)

    def _drop_image(self, region, reg, image):
        """Delete an image: backed, every manifest its tags point at, on the backend."""
        if self.backed:
            repo = self.backend_repository(reg["name"], image["name"], region)
            digests = set()
            for tag in self._backend_call(self.backend.tags, repo):
                digest = self._backend_call(self.backend.resolve, repo, tag)
                if digest:
                    digests.add(digest)
            for digest in sorted(digests):
                status = self._backend_call(self.backend.delete_manifest, repo, digest)
                if status not in (200, 202, 404):
                    raise ApiError(502, f"registry backend refused DELETE /v2/{repo}/manifests/{digest} ({status})")
        reg["images"].pop(image["name"], None)

    def _purge_registry(self, region, reg):
        for name in self._image_names(region, reg):
            image = reg["images"].get(name)
            if image is not None:
                self._drop_image(region, reg, image)

    # -- operations ------------------------------------------------------------
    def list_registries(self, region, request):
        """``GET /repositories?page&pagesize``."""
        regs = self.registries[region]
        return self._envelope(request, sorted(regs), lambda name: self.registry_json(region, regs[name]))

    def create_registry(self, region, request):
        """``POST /repositories/{registry}`` ``{"bucket", "storageType"}`` → 201 ``{"returnCode", "returnMessage"}``."""
        name = request.params["registry"]
        if not REGISTRY_NAME_RE.match(name):
            raise ApiError(400, f"invalid registry name {name!r}: lowercase letters, digits and '-' (a DNS label)")
        body = self._body(request)
        storage_type = body.get("storageType")
        storage_type = "objectStorage" if storage_type is None else storage_type
        if storage_type not in STORAGE_TYPES:
            raise ApiError(400, f"storageType must be one of {', '.join(STORAGE_TYPES)}")
        bucket = body.get("bucket")
        if bucket is not None and not isinstance(bucket, str):
            raise ApiError(400, "bucket must be a string")
        if storage_type == "objectStorage" and not bucket:
            raise ApiError(400, "bucket is required when storageType is objectStorage")
        regs = self.registries[region]
        if name in regs:
            raise ApiError(409, f"Registry {name} already exists")
        if storage_type == "objectStorage":
            other = next((r["name"] for r in regs.values() if r["bucket"] == bucket), None)
            if other is not None:
                raise ApiError(409, f"bucket {bucket} is already used by registry {other}")
        self._new_registry(region, name, bucket if storage_type == "objectStorage" else "", storage_type)
        return Response(201, {"returnCode": "201", "returnMessage": CREATE_MESSAGE})

    def _new_registry(self, region, name, bucket, storage_type, created=None, private_id=None, status=REGISTRY_STATUS,
                      end_point_enabled=True, public_reg_status=False, scan_on_push_enabled=False):
        reg = {"name": name, "bucket": bucket, "storage_type": storage_type, "created": to_ms(created) or self.now_ms(),
               "private_id": private_id or secrets.token_hex(4), "status": status, "end_point_enabled": end_point_enabled,
               "public_reg_status": public_reg_status, "scan_on_push_enabled": scan_on_push_enabled, "images": {}}
        self.registries[region][name] = reg
        self._start_front(region, name)
        return reg

    def delete_registry(self, region, request):
        """``DELETE /repositories/{registry}`` → 204; backed: its images are deleted from the backend, its front stops."""
        reg = self._registry(region, request.params["registry"])
        if self.backed:
            self._purge_registry(region, reg)
        self._stop_front(region, reg["name"])
        self.registries[region].pop(reg["name"], None)
        return Response(204)

    def list_images(self, region, request):
        """``GET /repositories/{registry}?page&pagesize``."""
        reg = self._registry(region, request.params["registry"])
        return self._envelope(request, self._image_names(region, reg),
                              lambda name: self.image_json(region, reg, reg["images"][name]))

    def get_image(self, region, request):
        """``GET /repositories/{registry}/{imageName}``."""
        reg = self._registry(region, request.params["registry"])
        return self.image_json(region, reg, self._image(region, reg, request.params["image"]), detail=True)

    def update_image(self, region, request):
        """``PATCH /repositories/{registry}/{imageName}`` ``{"description" (≤ 100), "full_description"}`` → no body."""
        reg = self._registry(region, request.params["registry"])
        body = self._body(request)
        changes = {}
        for key in ("description", "full_description"):
            if key in body:
                value = "" if body[key] is None else body[key]
                if not isinstance(value, str):
                    raise ApiError(400, f"{key} must be a string")
                if key == "description" and len(value) > DESCRIPTION_MAX:
                    raise ApiError(400, f"description must be at most {DESCRIPTION_MAX} characters (got {len(value)})")
                changes[key] = value
        image = self._image(region, reg, request.params["image"])
        image.update(changes)
        return Response(self.patch_status)

    def delete_image(self, region, request):
        """``DELETE /repositories/{registry}/{imageName}`` → 204 (the seed's operation)."""
        reg = self._registry(region, request.params["registry"])
        self._drop_image(region, reg, self._image(region, reg, request.params["image"]))
        return Response(204)

    def list_tags(self, region, request):
        """``GET /repositories/{registry}/{imageName}/tags?page&pagesize``."""
        reg = self._registry(region, request.params["registry"])
        image = self._image(region, reg, request.params["image"])
        names = self._tag_names(region, reg, image)

        def render(name):
            view = self._tag_view(region, reg, image, name)
            return None if view is None else self.tag_json(image, view)
        page = self._envelope(request, names, render)
        page["results"] = [item for item in page["results"] if item is not None]  # a tag deleted between the two reads
        return page

    def get_tag(self, region, request):
        """``GET /repositories/{registry}/{imageName}/tags/{reference}``."""
        reg = self._registry(region, request.params["registry"])
        image = self._image(region, reg, request.params["image"])
        return self.tag_json(image, self._tag(region, reg, image, request.params["reference"]))

    def delete_tag(self, region, request):
        """``DELETE /repositories/{registry}/{imageName}/tags/{reference}`` → no body (``tag_delete_status``)."""
        reg = self._registry(region, request.params["registry"])
        image = self._image(region, reg, request.params["image"])
        self._remove_tag(region, reg, image, request.params["reference"])
        return Response(self.tag_delete_status)

    # -- a registry's /v2/ front (backed mode) ---------------------------------
    def handle_front(self, key, request):
        """``/v2/...`` on a registry's own port: HTTP Basic (access key / secret key), then forwarded to the backend under
        the registry's prefix; answers relayed with ``Location``/``Link`` made relative to the front."""
        region, name = key
        try:
            kind, image, reference, template = parse_oci_path(request.path)
            request.route = template or request.path
            request.params = {k: v for k, v in (("registry", name), ("name", image), ("reference", reference)) if v is not None}
            principal = self._front_principal(region, name, request)
            with self.lock:
                known = name in self.registries[region] and self.backed
            if not known:
                raise oci_error(404, "NAME_UNKNOWN", f"registry {name} is gone")
            if kind is None:
                raise oci_error(404, "NOT_FOUND", "404 page not found")
            if kind not in ("base", "catalog") and request.method not in ("GET", "HEAD"):
                if request.method == "DELETE" and not self.front_delete:
                    raise oci_error(405, "UNSUPPORTED", "The operation is unsupported: delete images and tags through the NCR API")
                if principal["read_only"]:
                    raise oci_error(403, "DENIED", f"access key {principal['access_key']} may only pull")
            if kind == "base":
                return self._relay(request, "/v2/", name, region)
            if kind == "catalog":
                return self._front_catalog(region, name, request)
            prefix = self.backend_prefix(name, region)
            target = f"/v2/{prefix}/{request.path[len('/v2/'):]}"
            query = request.query_string
            if kind == "uploads" and "from" in dict(parse_qsl(query)):
                query = urlencode([(k, f"{prefix}/{v}" if k == "from" else v) for k, v in parse_qsl(query, keep_blank_values=True)])
            response = self._relay(request, target + (f"?{query}" if query else ""), name, region)
            if kind == "tags" and response.status == 200:
                self._rename_tag_list(response, prefix)
            if kind == "manifests":
                self._front_manifest_seen(region, name, image, reference, request, response, principal)
            return response
        except ApiError as err:
            return self._error_response(err, request)
        except Exception as exc:  # pylint: disable=broad-except
            traceback.print_exc()
            return self._error_response(ApiError(500, f"Internal emulator error: {exc!r}"), request)

    def _front_principal(self, region, name, request):
        """The key whose access key / secret key came as HTTP Basic; else 401 with a Basic challenge."""
        scheme, _unused, value = (request.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeError, ValueError):
                user = password = None
            key = self.keys.get(user) if user else None
            if key is not None and hmac.compare_digest(key["secret_key"].encode("utf-8"), (password or "").encode("utf-8")):
                return key
        realm = f"{name}.{REGIONS[region]['host']}"
        raise oci_error(401, "UNAUTHORIZED", "authentication required: docker login with an access key and its secret key",
                        headers={"WWW-Authenticate": f'Basic realm="{realm}"'})

    def _relay(self, request, target, name, region):
        prefix = self.backend_prefix(name, region)
        backend = self.registry_backend

        def rewrite(value):
            return value.replace(backend, "").replace(f"/v2/{prefix}/", "/v2/")
        try:
            return relay(request, backend, target, rewrite)
        except BackendUnavailable as exc:
            raise oci_error(503, "UNAVAILABLE", f"registry backend unavailable: {exc}") from exc

    @staticmethod
    def _rename_tag_list(response, prefix):
        """``tags/list`` names the backend repository: show the image name the client asked for."""
        try:
            doc = json.loads(response.raw.decode("utf-8"))
        except (ValueError, UnicodeError):
            return
        if isinstance(doc, dict) and isinstance(doc.get("name"), str) and doc["name"].startswith(prefix + "/"):
            doc["name"] = doc["name"][len(prefix) + 1:]
            response.raw = json.dumps(doc).encode("utf-8")
            response.length = len(response.raw)

    def _front_manifest_seen(self, region, name, image, reference, request, response, principal):
        """A manifest PUT by tag records the push (time, access key); a manifest GET records a pull (``record_pulls``)."""
        digest = next((v for k, v in response.headers.items() if k.lower() == "docker-content-digest"), None)
        if not digest:
            return
        pushed = request.method == "PUT" and response.status == 201
        pulled = request.method == "GET" and response.status == 200 and self.record_pulls
        if not (pushed or pulled):
            return
        with self.lock:
            reg = self.registries[region].get(name)
            if reg is None:
                return
            record = reg["images"].get(image) or self._new_image(reg, image)
            if pushed and ":" not in reference:
                self._record_tag(record, reference, digest, when=self.now_ms(), creator=principal["access_key"])
            if pulled:
                record["pulls"][digest] = self.now_ms()
                record["pull_count"] += 1

    def _front_catalog(self, region, name, request):
        """``/v2/_catalog`` of the registry: the backend's repositories under its prefix, prefix removed; ``n``/``last``."""
        prefix = self.backend_prefix(name, region) + "/"
        try:
            repos = self.backend.catalog()
        except BackendError as exc:
            raise oci_error(503, "UNAVAILABLE", f"registry backend unavailable: {exc}") from exc
        names = sorted(repo[len(prefix):] for repo in repos if repo.startswith(prefix))
        last, count = request.query.get("last"), request.query.get("n")
        if last:
            names = [n for n in names if n > last]
        headers = {"Docker-Distribution-API-Version": "registry/2.0"}
        if count is not None:
            if not count.isdigit():
                raise oci_error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
            if 0 < int(count) < len(names):
                names = names[:int(count)]
                headers["Link"] = f'</v2/_catalog?{urlencode({"last": names[-1], "n": count})}>; rel="next"'
        return Response(200, {"repositories": names}, headers)

    # -- seeding (Python API) ------------------------------------------------
    def _resolve_registry(self, registry, region):
        if region not in REGIONS:
            raise ApiError(400, f"unknown region {region!r}; known: {', '.join(REGIONS)}")
        return self._registry(region, registry)

    def add_registry(self, name, region=DEFAULT_REGION, bucket=None, storage_type="objectStorage", created=None, private_id=None,
                     status=REGISTRY_STATUS, end_point_enabled=True, public_reg_status=False, scan_on_push_enabled=False):
        """Add a registry (the existing one if the name is taken) and return its list JSON. ``bucket`` defaults to the
        name for ``objectStorage`` and is ``""`` for ``ncloudStorage``."""
        if region not in REGIONS:
            raise ApiError(400, f"unknown region {region!r}; known: {', '.join(REGIONS)}")
        if storage_type not in STORAGE_TYPES:
            raise ApiError(400, f"storage_type must be one of {', '.join(STORAGE_TYPES)}")
        if not isinstance(name, str) or not REGISTRY_NAME_RE.match(name):
            raise ApiError(400, f"invalid registry name {name!r}")
        with self.lock:
            reg = self.registries[region].get(name)
            if reg is None:
                reg = self._new_registry(region, name, (bucket or name) if storage_type == "objectStorage" else "", storage_type, created,
                                         private_id, status, end_point_enabled, public_reg_status, scan_on_push_enabled)
            return self.registry_json(region, reg)

    def add_image(self, registry, name, region=DEFAULT_REGION, description=None, full_description=None, pull_count=None, created=None,
                  tags=()):
        """Add (or update) an image and return its detail JSON; the registry is created if needed. ``tags`` are names or
        :meth:`add_tag` keyword dicts (``{"name", "digest", ...}``). Backed: only the emulator's record (description,
        pull count) is kept; ``tags`` are refused (push them through the front)."""
        if tags and self.backed:
            raise ApiError(400, "backed by a registry: push tags through the registry's front (end_point) instead")
        with self.lock:
            if name is None or not isinstance(name, str) or not name:
                raise ApiError(400, "an image needs a name")
            self.add_registry(registry, region)
            reg = self.registries[region][registry]
            image = reg["images"].get(name) or self._new_image(reg, name, to_ms(created))
            for key, value in (("description", description), ("full_description", full_description), ("pull_count", pull_count)):
                if value is not None:
                    image[key] = value
            for tag in tags:
                spec = {"name": tag} if isinstance(tag, str) else dict(tag)
                self.add_tag(registry, name, spec.pop("name"), region=region, **spec)
            return self.image_json(region, reg, image, detail=True)

    def add_tag(self, registry, image, name, region=DEFAULT_REGION, digest=None, size=None, created=None, updated=None,
                latest_pulled=None, platforms=None, media_type=None, creator=None):
        """Push-like, in memory: point tag ``name`` at manifest ``digest`` (default: a digest of the tag's own) and return
        the tag JSON. A new manifest is one ``linux/amd64`` image of ``size`` bytes (default 1024) created at ``created``
        (default now), or, with ``platforms`` (``"linux/arm64/v8"`` or ``{"os", "architecture", "variant", "digest",
        "size", "created", "latest_pulled", ...}`` items), an index over one image per platform (a single platform
        without an index ``media_type`` is a plain image of that platform). A digest the image has already is reused
        unless those arguments are given. ``updated`` (the tag's push time) defaults to now; ``latest_pulled`` sets the
        pull time of every platform image. Backed: refused (push through the front; see :meth:`set_pulled`)."""
        if self.backed:
            raise ApiError(400, "backed by a registry: push tags through the registry's front (end_point) instead")
        with self.lock:
            self.add_image(registry, image, region)
            record = self.registries[region][registry]["images"][image]
            digest = digest or fake_digest(f"{region}/{registry}/{image}:{name}")
            if not DIGEST_RE.match(digest):
                raise ApiError(400, f"invalid digest {digest!r}: sha256: + 64 hex digits")
            rebuild = digest not in record["manifests"] or any(v is not None for v in (size, created, platforms, media_type))
            if rebuild:
                created_ms = to_ms(created) or self.now_ms()
                specs = list(platforms) if platforms else [{"os": "linux", "architecture": "amd64"}]
                index = media_type in INDEX_MEDIA_TYPES if media_type else len(specs) > 1
                default_size = 1024 if size is None else int(size)
                if index:
                    entries = [_platform_entry(spec, digest, default_size, created_ms) for spec in specs]
                    media_type = media_type or OCI_INDEX
                else:
                    media_type = media_type or OCI_MANIFEST
                    entries = [dict(_platform_entry(specs[0], digest, default_size, created_ms, media_type), digest=digest)]
                record["manifests"][digest] = {"digest": digest, "media_type": media_type, "entries": entries}
                for entry in entries:
                    pulled = entry.pop("latest_pulled", None)
                    if pulled is not None:
                        record["pulls"][entry["digest"]] = pulled
            for entry in record["manifests"][digest]["entries"]:
                if latest_pulled is not None:
                    record["pulls"][entry["digest"]] = to_ms(latest_pulled)
            old = record["tags"].get(name)
            self._record_tag(record, name, digest, when=to_ms(updated) or self.now_ms(), creator=creator or (old or {}).get("creator") or "")
            for gone in [d for d in record["manifests"] if not any(t["digest"] == d for t in record["tags"].values())]:
                record["manifests"].pop(gone)
            return self.tag_json(record, self._tag_view(region, self.registries[region][registry], record, name))

    def set_pulled(self, registry, image, reference, when=None, region=DEFAULT_REGION):
        """Set ``latest_pulled`` (default now) of what ``reference`` (a tag or a digest) points at: every platform image
        of an index. Works backed too (the digest is read from the backend)."""
        with self.lock:
            reg = self._resolve_registry(registry, region)
            record = self._image(region, reg, image)
            if DIGEST_RE.match(reference):
                digests = [reference]
                manifest = record["manifests"].get(reference)
                if manifest is not None:
                    digests = [e["digest"] for e in manifest["entries"]]
                elif self.backed:
                    facts = self._backend_call(self.backend.image_facts, self.backend_repository(registry, image, region), reference)
                    digests = [c["digest"] for c in facts["children"]] or [reference]
            else:
                digests = [e["digest"] for e in self._tag(region, reg, record, reference)["entries"]]
            for digest in digests:
                record["pulls"][digest] = to_ms(when) or self.now_ms()
            return digests

    def set_pushed(self, registry, image, tag, when, region=DEFAULT_REGION):
        """Set a tag's push time (``images[].updated``); backed, for the digest it points at now."""
        with self.lock:
            reg = self._resolve_registry(registry, region)
            record = self._image(region, reg, image)
            view = self._tag(region, reg, record, tag)
            self._record_tag(record, tag, view["digest"], when=to_ms(when), creator=view["creator"])

    def tag_names(self, registry, image, region=DEFAULT_REGION):
        """The image's tag names (sorted)."""
        with self.lock:
            reg = self._resolve_registry(registry, region)
            return list(self._tag_names(region, reg, self._image(region, reg, image)))

    def registry_names(self, region=DEFAULT_REGION):
        """The registries of a region (sorted)."""
        with self.lock:
            return sorted(self.registries[region])

    def signed_headers(self, method, target, access_key=DEFAULT_ACCESS_KEY, timestamp=None, header=SIGNATURE_HEADER):
        """Headers for a request to ``target`` (path + query as sent), signed with a configured key's secret key."""
        return signed_headers(method, target, access_key, self.keys[access_key]["secret_key"], timestamp, header)

    def seed(self, data):
        """Load ``{"registries": [{"name", "region", "bucket", "storage_type", "created", "images": [{"name", "description",
        "full_description", "pull_count", "created", "tags": [name or add_tag keywords]}]}]}``; answers the state."""
        if not isinstance(data, dict) or set(data) - {"registries"} or not isinstance(data.get("registries", []), list):
            raise ApiError(400, "a seed document is {\"registries\": [...]}")
        reg_keys = ("name", "region", "bucket", "storage_type", "created", "private_id", "status", "end_point_enabled", "public_reg_status",
                    "scan_on_push_enabled", "images")
        image_keys = ("name", "description", "full_description", "pull_count", "created", "tags")
        for item in data.get("registries", []):
            if not isinstance(item, dict) or set(item) - set(reg_keys) or "name" not in item:
                raise ApiError(400, f"a seeded registry has a name and only {', '.join(reg_keys)}")
            spec = dict(item)
            images = spec.pop("images", [])
            self.add_registry(spec.pop("name"), **spec)
            for image in images:
                if not isinstance(image, dict) or set(image) - set(image_keys) or "name" not in image:
                    raise ApiError(400, f"a seeded image has a name and only {', '.join(image_keys)}")
                image = dict(image)
                try:
                    self.add_image(item["name"], image.pop("name"), region=item.get("region", DEFAULT_REGION), **image)
                except TypeError as exc:
                    raise ApiError(400, f"bad seeded tag: {exc}") from exc
        return self.dump_state()

    def dump_state(self):
        """Every region's registries (with ``storage_type``) and their images (details with every tag); ``backed``, the
        fronts' URLs and the clock. Backed, images and tags are read from the backend."""
        with self.lock:
            regions = {}
            for region, regs in self.registries.items():
                out = []
                for name in sorted(regs):
                    reg = regs[name]
                    images = []
                    for image_name in self._image_names(region, reg):
                        image = reg["images"][image_name]
                        tags = [self._tag_view(region, reg, image, t) for t in self._tag_names(region, reg, image)]
                        images.append(dict(self.image_json(region, reg, image, detail=True),
                                           tags=[self.tag_json(image, v) for v in tags if v is not None]))
                    out.append(dict(self.registry_json(region, reg), storage_type=reg["storage_type"], images=images))
                regions[region] = out
            return {"regions": regions, "backed": self.backed, "registry_backend": self.registry_backend,
                    "fronts": {f"{region}/{name}": self.front_url(name, region) for region, name in sorted(self.fronts)},
                    "clock": self.now().strftime("%Y-%m-%dT%H:%M:%SZ")}


def ncr_backend(emu, delete_enabled=True):
    """Start a real registry (``LocalRegistry``, distribution, ``auth="none"``, deletes enabled) behind ``emu``: every
    registry gets its ``/v2/`` front (``registry_backend``). Returns the started registry: ``stop()`` it (which also
    sets ``registry_backend`` back to ``None``), or use it as a context manager. A missing ``docker-registry`` raises
    ``RegistryError`` (tests fail, they do not skip; ``make deps`` installs it)."""
    return backend_registry(emu, delete_enabled)


# ---------------------------------------------------------------------------
# Standalone

def _add_arguments(parser):
    parser.add_argument("--seed", metavar="FILE", help="JSON seed document to load at start")
    parser.add_argument("--key", action="append", default=[], metavar="ACCESS=SECRET",
                        help="an extra access key and its secret key; repeatable (the default key stays)")
    parser.add_argument("--read-only-key", action="append", default=[], metavar="ACCESS=SECRET",
                        help="an extra key that may only read (403 on writes, pull only on the fronts); repeatable")
    parser.add_argument("--clock-skew", type=float, default=0, metavar="SECONDS",
                        help="the gateway clock is this far ahead of real time (a client's timestamp more than 300 s off: 401)")
    parser.add_argument("--accept-signature-v1", action="store_true", help="also accept the legacy x-ncp-apigw-signature-v1 header")
    parser.add_argument("--tag-delete-semantics", choices=TAG_DELETE_SEMANTICS, default="manifest",
                        help="manifest (default: a tag delete deletes its manifest and every tag on it) or tag (only the tag)")
    parser.add_argument("--paging-optional", action="store_true", help="page/pagesize may be left out (default: 400 without them)")
    parser.add_argument("--error-shape", choices=ERROR_SHAPES, default="return")
    parser.add_argument("--registry-shape", choices=REGISTRY_SHAPES, default="spec")
    parser.add_argument("--tag-extras", action="store_true", help="tags also carry last_updated and last_updater")
    parser.add_argument("--registry-backend", metavar="URL",
                        help="URL of a registry (no auth, deletes enabled) that holds the images: each registry gets a /v2/ front")


def _key_items(values, read_only):
    items = []
    for item in values:
        access, sep, secret = item.partition("=")
        if not sep or not access or not secret:
            raise SystemExit(f"--key wants ACCESS=SECRET, got {item!r}")
        items.append({"access_key": access, "secret_key": secret, "read_only": read_only})
    return items


def _factory(args):
    keys = DEFAULT_SETTINGS["keys"] + _key_items(args.key, False) + _key_items(args.read_only_key, True)
    emu = NcloudEmulator(keys=keys, clock_skew=args.clock_skew, accept_signature_v1=args.accept_signature_v1,
                         tag_delete_semantics=args.tag_delete_semantics, paging_required=not args.paging_optional,
                         error_shape=args.error_shape, registry_shape=args.registry_shape, tag_extras=args.tag_extras,
                         registry_backend=args.registry_backend)
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            emu.seed(json.load(handle))
    return emu


def _banner(emu):
    lines = [f"access key: {DEFAULT_ACCESS_KEY}", f"secret key: {DEFAULT_SECRET_KEY}",
             f"(every API request signed: {TIMESTAMP_HEADER}, {ACCESS_KEY_HEADER}, {SIGNATURE_HEADER}"
             + (f" or {LEGACY_SIGNATURE_HEADER}" if emu.accept_signature_v1 else "") + ")"]
    extra = [f"{k['access_key']}={k['secret_key']}{' (read-only)' if k['read_only'] else ''}"
             for k in emu.keys.values() if k["access_key"] != DEFAULT_ACCESS_KEY]
    if extra:
        lines.append("other keys: " + ", ".join(extra))
    if emu.clock_skew:
        lines.append(f"gateway clock skew: {emu.clock_skew:+g} s (timestamps more than {emu.max_clock_skew:g} s off: 401)")
    lines.append("api_url per region (the stage prefix is part of the signed URI):")
    lines += [f"  {region:<8} {emu.api_url(region)}" for region in REGIONS]
    for region, regs in emu.registries.items():
        for name in sorted(regs):
            lines.append(f"registry {region}/{name}: end_point {emu.registry_end_point(name, region)}")
    if emu.backed:
        lines.append(f"registry backend: {emu.registry_backend} (each registry gets a /v2/ front on its own port, its end_point; "
                     f"docker login <end_point> -u <access key> -p <secret key>)")
    else:
        lines.append("registry backend: off (images and tags in memory; --registry-backend URL gives each registry a /v2/ front)")
    lines.append(f"tag delete semantics: {emu.tag_delete_semantics}")
    lines.append(f"playbooks: provider: ncloud, api_url: {emu.api_url(DEFAULT_REGION)}, access_key: {DEFAULT_ACCESS_KEY}, "
                 f"secret_key: {DEFAULT_SECRET_KEY}, region: {DEFAULT_REGION}")
    return lines


def main(argv=None):
    """Console entry point."""
    return run_standalone(_factory, argv, description="Naver Cloud Container Registry (NCR API v2) emulator",
                          default_port=NcloudEmulator.default_port, add_arguments=_add_arguments, banner=_banner)


if __name__ == "__main__":
    sys.exit(main())
