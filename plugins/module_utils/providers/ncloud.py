# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``ncloud`` provider: Naver Cloud Platform Container Registry (NCR) API v2. PRIVATE to the collection.

NCR calls registries "repositories" and repositories "images": here a ``registry`` is an NCR registry and a
``repository`` an NCR image (a name that may contain ``/``, always sent as ONE path segment, ``hello%2Fworld``).

Quirks this class absorbs:

* every request is signed (API Gateway signature v2, ``NcpSignatureAuth``): HMAC-SHA256 over the method, the path
  with the gateway's stage prefix and the query exactly as sent, a timestamp in ms and the access key. The query is
  part of the URL that is signed and sent (never ``params=``), and the timestamp is fresh on every attempt, retries
  included. A 401 with a key that looks right usually means a clock more than 5 minutes off: the error says so;
* the region picks the API host and stage prefix (``kr`` ``/ncr/api/v2``, ``sgn``, ``jpn``, ``gov-kr``, ``gov-krs``);
* lists are paged with ``page`` and ``pagesize``, always both sent; ``next`` is the next page number or null;
* there is no "get registry": the registry list is read once per run and filtered by name; a registry's storage
  type and bucket cannot be changed (there is no update), so a task that asks for others fails, naming both;
* an image cannot be created through the API (a push creates it); its ``description`` (at most 100 characters) and
  ``full_description`` are set with PATCH, which answers no body;
* errors come as the API gateway's ``{"error": {"errorCode", "message", "details"}}``, NCR's
  ``{"returnCode", "returnMessage"}`` (also wrapped in ``responseError``), or plain text: all are read;
* NCR does not document whether ``DELETE .../tags/{tag}`` removes only the tag or the manifest with every tag on it.
  The provider is right under both readings: a tag whose digest no other remaining tag carries (and no remaining
  index lists) goes with the API DELETE, read again right before; a tag whose digest another tag keeps goes over
  the OCI Distribution API of the registry's own host (``end_point``, ``docker login`` with the access key and secret
  key): it is pointed at a throwaway manifest of its own, whose tags are then deleted through the API, so that
  whatever the DELETE removes, it removes only the throwaway.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import hmac
import re
import threading
import time

try:
    from urllib.parse import parse_qs, quote, urlsplit
except ImportError:  # pragma: no cover
    parse_qs = quote = urlsplit = None

from ansible_collections.regops.registry.plugins.module_utils import timestamps, validate
from ansible_collections.regops.registry.plugins.module_utils.api import (
    ApiClient,
    ApiError,
    ConflictError,
    NotFoundError,
    default_error_parser,
)
from ansible_collections.regops.registry.plugins.module_utils.oci import TagMoved, platform_string
from ansible_collections.regops.registry.plugins.module_utils.providers.base import (
    Action, AlreadyGone, Capability, FreshReads, Provider, expected_tags_for, refuse_unexpected_tags)
from ansible_collections.regops.registry.plugins.module_utils.providers.oci import OciProvider, remove_tags_over_oci

# region -> (API gateway host, stage prefix): the prefix is part of the signed URI
REGIONS = {
    "kr": ("https://ncr.apigw.ntruss.com", "/ncr/api/v2"),
    "sgn": ("https://ncr.apigw.ntruss.com", "/ncr/sgn-api/v2"),
    "jpn": ("https://ncr.apigw.ntruss.com", "/ncr/jpn-api/v2"),
    "gov-kr": ("https://gov-ncr.apigw.gov-ntruss.com", "/ncr/kr/v2"),
    "gov-krs": ("https://gov-ncr.apigw.gov-ntruss.com", "/ncr/krs/v2"),
}
DEFAULT_REGION = "kr"
# region -> the domain of its registry hosts (<registry>.<domain>), for when NCR's list gives no end_point: the public
# pattern is <registry>.kr.ncr.ntruss.com; the government zones' is not documented and is written by analogy.
REGISTRY_DOMAINS = {
    "kr": "kr.ncr.ntruss.com",
    "sgn": "sgn.ncr.ntruss.com",
    "jpn": "jpn.ncr.ntruss.com",
    "gov-kr": "kr.ncr.gov-ntruss.com",
    "gov-krs": "krs.ncr.gov-ntruss.com",
}
STORAGE_TYPES = ("objectStorage", "ncloudStorage")
DEFAULT_STORAGE_TYPE = "objectStorage"
PAGE_SIZE = 100
DESCRIPTION_MAX = 100
# A registry name is the first label of its host (<registry>.kr.ncr.ntruss.com): a DNS label.
REGISTRY_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# An Object Storage bucket (S3 rules): 3 to 63 of lowercase letters, digits, '.' and '-', a letter or digit at each end.
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# How often the throwaway manifest of a tag removal is looked for in NCR's tag list (a second apart).
THROWAWAY_LOOKUPS = 3
# A number this large is milliseconds (any time after 1973); a smaller one is seconds (any time before 5138).
MS_THRESHOLD = 10 ** 11
SKEW_HINT = ("NCP's API gateway refused the request's signature. With an access key that is right, this usually means the clock "
             "of the host that runs the module is more than 5 minutes off (each signature carries the time: sync the clock, "
             "e.g. with NTP), or the secret key does not belong to the access key")


def sign(secret_key, method, uri, timestamp, access_key):
    """API Gateway signature v2: Base64(HMAC-SHA256(secret, "{METHOD} {URI}\\n{timestamp}\\n{accessKey}"))."""
    message = "%s %s\n%s\n%s" % (method, uri, timestamp, access_key)
    digest = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class NcpSignatureAuth:
    """Signs every attempt (the client calls ``apply`` on each, retries included) with a fresh timestamp.

    The URI signed is the URL's path (stage prefix included, percent-encoding as sent) and ``?query`` when there is
    one: the provider puts the query into the URL itself, so what is signed is byte for byte what is sent.
    """

    def __init__(self, access_key, secret_key, clock=time.time):
        self.access_key = access_key
        self.secret_key = secret_key
        self.clock = clock

    @staticmethod
    def uri(url):
        parts = urlsplit(url)
        return (parts.path or "/") + ("?" + parts.query if parts.query else "")

    def apply(self, method, url, headers):
        timestamp = str(int(self.clock() * 1000))
        headers["x-ncp-apigw-timestamp"] = timestamp
        headers["x-ncp-iam-access-key"] = self.access_key
        headers["x-ncp-apigw-signature-v2"] = sign(self.secret_key, method, self.uri(url), timestamp, self.access_key)

    def handle_challenge(self, client, method, url, response):
        return False


def ncloud_error(response):
    """``(message, code, request_id)`` from the gateway's ``{"error": {...}}``, NCR's ``returnCode``/``returnMessage``
    (bare or in ``responseError``), or text; a 401 explains the usual causes."""
    message, code = None, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body.get("responseError")
        fields = inner if isinstance(inner, dict) else body
        text = fields.get("message") or fields.get("returnMessage") or fields.get("errorMessage")
        if isinstance(body.get("error"), str) and not text:
            text = body["error"]
        details = fields.get("details")
        if text is not None:
            message = str(text)
            if details and str(details) not in message:
                message = "%s: %s" % (message, details)
        elif details:
            message = str(details)
        code = fields.get("errorCode") or fields.get("returnCode") or fields.get("code")
        code = str(code) if code not in (None, "") else None
    if message is None:
        message, fallback_code, _request_id = default_error_parser(response)
        code = code or fallback_code
    if response.status_code == 401:
        message = "%s (%s)" % (message or "Unauthorized", SKEW_HINT)
    elif response.status_code == 403:
        message = "%s (the access key may not do this: a sub account needs a Container Registry permission in its policies)" % (
            message or "Forbidden")
    return message, code, None


def encode(segment):
    """One path segment: an image name's ``/`` as ``%2F`` (NCR: "hello/world -> hello%2Fworld")."""
    return quote(str(segment), safe="")


def ncp_time(value):
    """An NCR time (a number, milliseconds; seconds when too small to be ms; or a string) as ISO 8601 UTC, or None."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, (int, float)):
        if value <= 0:
            return None
        seconds = value / 1000.0 if value >= MS_THRESHOLD else float(value)
        try:
            when = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
        return timestamps.iso(when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return timestamps.iso(value)


def tag_name_of(raw):
    return raw.get("name") or raw.get("tag")


def names_on(raws, digest):
    """The sorted names of the raw tags (or None) that point at ``digest``."""
    return sorted(tag_name_of(raw) for raw in raws or [] if raw.get("digest") == digest)


def images_of(raw):
    return [image for image in raw.get("images") or [] if isinstance(image, dict)]


class NcloudProvider(Provider):
    name = "ncloud"
    env_fallbacks = {"access_key": ("NCLOUD_ACCESS_KEY",), "secret_key": ("NCLOUD_SECRET_KEY",)}
    secret_options = ("api_token", "api_password", "access_key", "secret_key")
    # the common options only this provider reads (any other provider refuses them before any request)
    connection_options = ("access_key", "secret_key", "region")
    capabilities = {
        "registry": Capability(states=("present", "absent"), info=True, options=("region", "storage_type", "bucket")),
        "registry_user": Capability(notes="NCR has no users: docker login uses an API access key and its secret key (of the "
                                          "account or a sub account)"),
        "repository": Capability(states=("present", "absent"), info=True, options=("description", "full_description")),
        "artifact": Capability(states=("present", "absent"), info=True, options=("expected_tags",)),
        "tag": Capability(states=("absent",), info=True, options=("expected_digests",),
                          notes="NCR has no API to create or move a tag; push the image instead"),
    }

    def __init__(self, params, warn=None):
        super(NcloudProvider, self).__init__(params, warn)
        self.sleep = time.sleep  # injectable for tests: the pause between looks for a throwaway manifest
        self.clock = time.time  # injectable for tests: the signature's timestamp
        self._lock = threading.Lock()
        self._registries = None  # the raw registry list, read once per run
        self._images = {}  # registry -> [raw image]
        self._tags = {}  # (registry, image) -> [raw tag], None for an unknown image
        self._oci = {}  # registry -> the oci provider on its end_point
        # (registry, image) -> [raw tag], read again right before a digest that expected_tags names goes; a listing near
        # a page or more long does not overlap this run's deletes there (page numbers shift under them)
        self._fresh_tags = FreshReads(lambda key: self._raw_tags(key[0], key[1], refresh=True),
                                      paged=lambda tags: tags is None or len(tags) >= PAGE_SIZE // 2)

    # -- connection and validation ------------------------------------------
    @property
    def region(self):
        return (self.params.get("region") or DEFAULT_REGION).strip().lower()

    def base_url(self):
        """The region's API base (host and stage prefix); ``api_url`` overrides it, and one without a path gets the
        region's stage prefix (an emulator serves every stage on one port)."""
        host, prefix = REGIONS[self.region]
        url = self.params.get("api_url")
        if not url:
            return host + prefix
        url = (url if "://" in url else "https://" + url).rstrip("/")
        return url if urlsplit(url).path not in ("", "/") else url + prefix

    def check_connection(self):
        """The region and the key, before any request."""
        if self.region not in REGIONS:
            raise ValueError("region %s is not an NCR region: one of %s" % (validate.shown(self.params.get("region")), ", ".join(REGIONS)))
        missing = [key for key in ("access_key", "secret_key") if self.params.get(key) in (None, "")]
        if missing:
            raise ValueError("provider ncloud needs access_key and secret_key (or NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY in the "
                             "environment): an API authentication key of the NCP account or of a sub account (missing: %s)"
                             % ", ".join(missing))

    def validate_provider(self, resource, items, desired):
        self.check_connection()
        for item in items:
            name = item.get("name") if resource == "registry" else item.get("registry")
            if resource != "registry" and name in (None, ""):
                raise ValueError("provider ncloud needs registry: the name of the NCR registry the %s is in" % resource.replace("_", " "))
            self.check_registry_name(name)
        self._validate_desired(desired)

    @staticmethod
    def check_registry_name(name):
        if not validate.matches(REGISTRY_NAME_RE, name):
            raise ValueError("registry name %s is not valid on NCR: lowercase letters, digits and '-', at most 63, a letter or "
                             "digit at each end (it is the first label of the registry's host, <registry>.<region>.ncr.ntruss.com)"
                             % validate.shown(name))

    @staticmethod
    def _validate_desired(desired):
        description = desired.get("description")
        if description is not None and len(description) > DESCRIPTION_MAX:
            raise ValueError("description is %d characters long; NCR keeps at most %d (full_description takes longer text, "
                             "in Markdown)" % (len(description), DESCRIPTION_MAX))
        storage_type = desired.get("storage_type")
        if storage_type is not None and storage_type not in STORAGE_TYPES:
            raise ValueError("storage_type %s is not an NCR storage type: objectStorage or ncloudStorage" % validate.shown(storage_type))
        bucket = desired.get("bucket")
        if bucket is not None:
            if storage_type == "ncloudStorage":
                raise ValueError("bucket does not go with storage_type ncloudStorage (NCR ignores it there); leave bucket out, or "
                                 "use storage_type objectStorage")
            if not validate.matches(BUCKET_RE, bucket):
                raise ValueError("bucket %s is not an Object Storage bucket name: 3 to 63 of lowercase letters, digits, '.' and "
                                 "'-', a letter or digit at each end" % validate.shown(bucket))

    def connect(self):
        self.check_connection()
        self.client = ApiClient(
            self.base_url(), auth=NcpSignatureAuth(self.params["access_key"], self.params["secret_key"], clock=self._now),
            validate_certs=self.params["validate_certs"], ca_path=self.params.get("ca_path"), timeout=self.params["timeout"],
            retries=self.params["retries"], concurrency=self.params["concurrency"], error_parser=ncloud_error, warn=self.warn,
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})

    def _now(self):
        """The signature's clock (``clock``, replaceable after ``connect``)."""
        return self.clock()

    def close(self):
        for provider in list(self._oci.values()):
            provider.close()
        super(NcloudProvider, self).close()

    # -- requests -----------------------------------------------------------
    @staticmethod
    def path(*segments):
        """``/repositories/<registry>/<image>/...``, each segment encoded whole."""
        return "/repositories" + "".join("/" + encode(s) for s in segments)

    def _pages(self, path):
        """Every item of a paged list: ``page`` and ``pagesize`` always sent, in the URL that is signed; ``next`` is the
        next page number (a URL with ``page=`` is read too) or null. When the first page says how many items there are
        (``count``) and that the next is page 2, the other pages are read side by side; otherwise one after the other,
        following ``next``."""
        def get(page):
            body = self.client.get("%s?page=%d&pagesize=%d" % (path, page, PAGE_SIZE)) or {}
            results = body.get("results") if isinstance(body, dict) else body
            following = body.get("next") if isinstance(body, dict) else None
            return [r for r in results or [] if isinstance(r, dict)], (self._page_number(following) if results else None), body

        found, page, body = get(1)
        count = body.get("count") if isinstance(body, dict) else None
        seen = set([1])
        if page == 2 and isinstance(count, int) and not isinstance(count, bool) and count > PAGE_SIZE:
            rest = list(range(2, (count + PAGE_SIZE - 1) // PAGE_SIZE + 1))
            for _number, (items, following, _body), error in self.client.run_bulk(get, rest):
                if error is not None:
                    raise error
                found.extend(items)
                page = following  # the last page's: not null when the list grew past ``count`` meanwhile
            seen.update(rest)
        while page is not None and page not in seen:
            seen.add(page)
            items, following, _body = get(page)
            found.extend(items)
            page = following
        return found

    @staticmethod
    def _page_number(value):
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        number = (parse_qs(urlsplit(text).query).get("page") or [None])[0]
        return int(number) if number and number.isdigit() else None

    def _delete(self, path):
        """DELETE that counts 404 as done: True when this request deleted it, False when it was gone before (a 404 to the
        first attempt; one to a repeated request is this run's delete, see ``ApiClient.delete``)."""
        return self.client.delete(path, expected=(200, 202, 204))

    def _delete_tags_of_digest(self, registry, image, tags, stop=False):
        """DELETE ``tags``, all on one digest, one after the other: ``{tag: None (removed by this run), AlreadyGone, or the
        ApiError}``; with ``stop`` the first error ends it (the tags after it are not sent). A 404 to a tag's first DELETE
        before any tag of the digest went means gone before this run asked (another run, or a person): AlreadyGone. After
        one went, a 404 is NCR's manifest reading (the manifest went with this run's delete, every tag on it too): removed
        by this run."""
        done, removed = {}, False
        for tag in tags:
            try:
                deleted = self._delete(self.path(registry, image, "tags", tag))
            except ApiError as exc:
                done[tag] = exc
                if stop:
                    break
                continue
            removed = removed or deleted
            done[tag] = None if removed else AlreadyGone.since_read("tag %s" % tag)
        return done

    # -- registries ---------------------------------------------------------
    def _raw_registries(self, refresh=False):
        with self._lock:
            cached = self._registries
        if cached is None or refresh:
            cached = self._pages("/repositories")
            with self._lock:
                self._registries = cached
        return list(cached)

    def _raw_registry(self, name):
        return next((raw for raw in self._raw_registries() if raw.get("name") == name), None)

    def _need_registry(self, name):
        raw = self._raw_registry(name)
        if raw is None:
            raise NotFoundError("registry %s not found in region %s (NCR's registry list of this account)" % (name, self.region), status=404)
        return raw

    @staticmethod
    def storage_type_of(raw):
        """The registry's storage type: as the list says, where it does; else objectStorage when it has a bucket (that type
        needs one) and ncloudStorage when it has none (that type takes none)."""
        given = raw.get("storageType") or raw.get("storage_type")
        if given:
            return given
        return "objectStorage" if raw.get("bucket") else "ncloudStorage"

    @staticmethod
    def host_of(raw):
        """The registry's OCI host (``end_point`` without a scheme), or None."""
        end_point = (raw or {}).get("end_point") or ""
        return end_point.split("://", 1)[-1].rstrip("/") or None

    def _normalize_registry(self, raw):
        keys = ("end_point", "end_point_enabled", "private_end_point", "private_id", "public_reg_status", "scan_on_push_enabled",
                "status", "usage")
        data = dict((key, raw.get(key)) for key in keys)
        data.update(storage_type=self.storage_type_of(raw), bucket=raw.get("bucket") or None)
        return {
            "name": raw.get("name"),
            "id": None,
            "url": self.host_of(raw),
            "storage_limit_bytes": None,
            "storage_used_bytes": None,
            "public": None,
            "region": self.region,
            "plan": None,
            "created_at": ncp_time(raw.get("created")),
            "updated_at": None,
            "provider_data": data,
        }

    def list_registry(self, filters):
        name = filters.get("name")
        found = [self._normalize_registry(raw) for raw in self._raw_registries() if not name or raw.get("name") == name]
        return sorted(found, key=lambda r: r["name"] or "")

    def read_registry(self, items):
        return [self._normalize_registry(raw) if raw is not None else None for raw in (self._raw_registry(i["name"]) for i in items)]

    def check_create_registry(self, item, desired):
        storage_type = desired.get("storage_type") or DEFAULT_STORAGE_TYPE
        if storage_type == "objectStorage" and not desired.get("bucket"):
            return ("bucket is required to create registry %s with storage_type objectStorage (NCR's default): the Object Storage "
                    "bucket of the account to keep it in, not used by another registry; or set storage_type: ncloudStorage" % item["name"])
        return None

    def changes_registry(self, item, current, desired):
        """No update API: a storage type or bucket other than the registry's fails, naming both; nothing else changes
        (the region is the one the registry was found in)."""
        have = current["provider_data"]
        want_type, want_bucket = desired.get("storage_type"), desired.get("bucket")
        if (want_type is not None and want_type != have["storage_type"]) or (want_bucket is not None and want_bucket != have["bucket"]):
            raise ValueError(
                "registry %s has storage_type %s and bucket %s; the task asks for storage_type %s and bucket %s. NCR cannot change a "
                "registry's storage type or bucket (they are set when it is created, and there is no update API): delete the registry "
                "and create it again (its images go with it), or use another name" % (
                    item["name"], have["storage_type"], self._shown_bucket(have["bucket"]), want_type or have["storage_type"],
                    self._shown_bucket(want_bucket if want_bucket is not None else have["bucket"])))
        return {}

    @staticmethod
    def _shown_bucket(bucket):
        return validate.shown(bucket) if bucket else "(none)"

    def predict_registry(self, action):
        if action.kind != "create":
            return None  # a delete (there is no update: changes_registry finds none or fails)
        storage_type = action.desired.get("storage_type") or DEFAULT_STORAGE_TYPE
        raw = {"name": action.item["name"], "bucket": action.desired.get("bucket") if storage_type == "objectStorage" else None,
               "storageType": storage_type}
        return self._normalize_registry(raw)

    def create_registry(self, item, desired):
        storage_type = desired.get("storage_type") or DEFAULT_STORAGE_TYPE
        body = {"storageType": storage_type}
        if storage_type == "objectStorage":
            body["bucket"] = desired["bucket"]
        try:
            self.client.request("POST", self.path(item["name"]), json=body, expected=(200, 201))
        except ConflictError as exc:
            raise ConflictError("NCR refused to create registry %s (%s): a registry of that name exists that this account does not list "
                                "in region %s (the name is part of the host %s.<region>.ncr.ntruss.com), or the bucket is used by "
                                "another registry (a bucket cannot be shared)" % (item["name"], exc.message, self.region, item["name"]),
                                status=exc.status, method=exc.method, url=exc.url, code=exc.code, body=exc.body)
        except ApiError as exc:
            # A create is not sent twice; when its answer was lost (a reset, a 5xx), the list tells whether it happened.
            if exc.status is not None and exc.status < 500:
                raise
            raw = self._raw_registry_fresh(item["name"])
            if raw is None:
                raise
            return self._normalize_registry(raw)
        raw = self._raw_registry_fresh(item["name"])
        return self._normalize_registry(raw) if raw is not None else self.predict_registry(Action("create", item, None, desired))

    def _raw_registry_fresh(self, name):
        self._raw_registries(refresh=True)
        return self._raw_registry(name)

    def delete_registry(self, item, current):
        self._delete(self.path(item["name"]))
        with self._lock:
            self._registries = None
            self._images.pop(item["name"], None)
        return current

    # -- repositories (NCR images) ----------------------------------------------------
    def _raw_images(self, registry, refresh=False):
        with self._lock:
            cached = self._images.get(registry)
        if cached is None or refresh:
            try:
                cached = self._pages(self.path(registry))
            except NotFoundError:
                self._need_registry(registry)  # says which: no such registry, or (when it exists) the API's own 404
                raise
            with self._lock:
                self._images[registry] = cached
        return list(cached)

    def _location(self, registry, name):
        host = self.host_of(self._raw_registry(registry)) or "%s.%s" % (registry, REGISTRY_DOMAINS[self.region])
        return "%s/%s" % (host, name)

    def _normalize_repository(self, registry, raw):
        extras = ("namespace", "is_private", "is_automated", "can_edit", "repository_type", "star_count", "status", "user", "private_id",
                  "tag_mutability_enabled")
        data = dict((key, raw[key]) for key in extras if key in raw)
        data["full_description"] = raw.get("full_description")
        data["detail"] = "full_description" in raw
        return {
            "name": raw.get("name"),
            "id": None,
            "location": self._location(registry, raw.get("name")),
            "artifact_count": None,
            "pull_count": raw.get("pull_count"),
            "size_bytes": None,
            "description": raw.get("description"),
            "created_at": None,
            "updated_at": ncp_time(raw.get("last_updated")),
            "provider_data": data,
        }

    def _image_detail(self, registry, name):
        try:
            return self.client.get(self.path(registry, name))
        except NotFoundError:
            return None

    def list_repository(self, filters):
        registry = filters.get("registry")
        if not registry:
            raise ValueError("provider ncloud needs registry: the name of the NCR registry to list")
        self._need_registry(registry)
        names = sorted(set(filters.get("name") or []))
        if not names:
            return sorted((self._normalize_repository(registry, raw) for raw in self._raw_images(registry)), key=lambda r: r["name"] or "")
        return [r for r in self.read_repository([{"registry": registry, "name": n} for n in names]) if r is not None]

    def read_repository(self, items):
        """Each image's detail (``full_description`` is only there); None for an image, or a registry, that does not exist."""
        known = [item for item in items if self._raw_registry(item["registry"]) is not None]
        found = {}
        for item, raw, error in self.client.run_bulk(lambda i: self._image_detail(i["registry"], i["name"]), known):
            if error is not None:
                raise error
            if raw:
                found[(item["registry"], item["name"])] = self._normalize_repository(item["registry"], dict(raw, name=raw.get("name") or item["name"]))
        return [found.get((item["registry"], item["name"])) for item in items]

    def check_create_repository(self, item, desired):
        if self._raw_registry(item["registry"]) is None:
            return "registry %s does not exist in region %s" % (item["registry"], self.region)
        return ("image %s does not exist in registry %s: NCR creates an image when it is first pushed (docker push %s); the API cannot "
                "create one" % (item["name"], item["registry"], self._location(item["registry"], item["name"])))

    def changes_repository(self, item, current, desired):
        have = {"description": current.get("description") or "", "full_description": current["provider_data"].get("full_description") or ""}
        return dict((key, desired[key]) for key in ("description", "full_description") if desired.get(key) is not None and desired[key] != have[key])

    def predict_repository(self, action):
        if action.kind != "update":
            return None
        after = dict(action.current, provider_data=dict(action.current["provider_data"]))
        if "description" in action.changes:
            after["description"] = action.changes["description"]
        if "full_description" in action.changes:
            after["provider_data"]["full_description"] = action.changes["full_description"]
        return after

    def update_repository(self, item, current, changes, desired):
        """PATCH only what differs; NCR answers no body, so the result is the image as read with the change. Setting the same
        values twice is harmless: the PATCH is repeated after a 5xx or a reset like a PUT."""
        self.client.request("PATCH", self.path(item["registry"], item["name"]), json=dict(changes), expected=(200, 201, 204), idempotent=True)
        return self.predict_repository(Action("update", item, current, desired, changes))

    def delete_repository(self, item, current):
        self._delete(self.path(item["registry"], item["name"]))
        self._forget(item["registry"], item["name"])
        return current

    def _forget(self, registry, image):
        with self._lock:
            self._images.pop(registry, None)
            self._tags.pop((registry, image), None)

    def _forget_digest(self, registry, image, digest):
        """After a digest's tags went: drop them from the image's tag list read for this run (``apply_artifact`` read it
        right before), instead of reading the whole paged list again for the next digest."""
        with self._lock:
            self._images.pop(registry, None)
            tags = self._tags.get((registry, image))
            if tags is not None:
                self._tags[(registry, image)] = [raw for raw in tags if raw.get("digest") != digest]

    # -- tags and artifacts (tags grouped by digest) ----------------------------------------
    def _raw_tags(self, registry, image, refresh=False):
        """Every tag of an image, or None when the image does not exist."""
        key = (registry, image)
        with self._lock:
            known = key in self._tags
            cached = self._tags.get(key)
        if not known or refresh:
            try:
                cached = [t for t in self._pages(self.path(registry, image, "tags")) if tag_name_of(t)]
            except NotFoundError:
                cached = None
            with self._lock:
                self._tags[key] = cached
        return None if cached is None else list(cached)

    @staticmethod
    def _tag_times(raw):
        images = images_of(raw)
        pushed = ncp_time(raw.get("tag_last_pushed") or raw.get("last_updated")) or timestamps.newest(
            [ncp_time(i.get("updated")) or ncp_time(i.get("created")) for i in images])
        pulled = ncp_time(raw.get("tag_last_pulled")) or timestamps.newest([ncp_time(i.get("latest_pulled")) for i in images])
        created = [ncp_time(i.get("created")) for i in images if ncp_time(i.get("created"))]
        return pushed, pulled, (min(created, key=timestamps.parse) if created else None)

    @staticmethod
    def _children(raw):
        """An index's platform manifests (``images[]`` whose digest is not the tag's); empty for an image."""
        return [{"digest": i.get("digest"), "media_type": i.get("mediaType"), "platform": platform_string(i)}
                for i in images_of(raw) if i.get("digest") and i.get("digest") != raw.get("digest")]

    @staticmethod
    def _media_type(raw):
        images = images_of(raw)
        given = raw.get("mediaType") or raw.get("media_type")
        if given:
            return given
        if len(images) == 1 and images[0].get("digest") in (None, raw.get("digest")):
            return images[0].get("mediaType")
        return None

    def _normalize_tag(self, repository, raw):
        pushed, pulled, created = self._tag_times(raw)
        platforms = [platform_string(i) for i in images_of(raw) if i.get("os") or i.get("architecture")]
        return {
            "repository": repository,
            "name": tag_name_of(raw),
            "digest": raw.get("digest"),
            "pushed_at": pushed,
            "pulled_at": pulled,
            "provider_data": {
                "size_bytes": raw.get("full_size"),
                "created_at": created,
                "updated_at": timestamps.newest([ncp_time(i.get("updated")) for i in images_of(raw)]),
                "platforms": platforms,
                "media_type": self._media_type(raw),
                "id": raw.get("id"),
                "image_id": raw.get("image_id"),
                "creator": raw.get("creator"),
            },
        }

    def _artifact(self, repository, digest, raws):
        tags = sorted((self._normalize_tag(repository, raw) for raw in raws), key=lambda t: t["name"])
        first = sorted(raws, key=tag_name_of)[0]
        children = self._children(first)
        created = [t["provider_data"]["created_at"] for t in tags if t["provider_data"]["created_at"]]
        return {
            "repository": repository,
            "digest": digest,
            "media_type": self._media_type(first),
            "size_bytes": first.get("full_size"),
            "tags": [t["name"] for t in tags],
            "pushed_at": timestamps.newest([t["pushed_at"] for t in tags]),
            "pulled_at": timestamps.newest([t["pulled_at"] for t in tags]),
            "created_at": min(created, key=timestamps.parse) if created else None,
            "platforms": [c["platform"] for c in children if c["platform"]] or tags[0]["provider_data"]["platforms"],
            "children": children,
            "subject": None,
            "status": None,
            "read_error": None,
            "provider_data": {"tags": [{"name": t["name"], "pushed_at": t["pushed_at"], "pulled_at": t["pulled_at"]} for t in tags]},
        }

    def _artifacts_of(self, repository, raws):
        by_digest = {}
        for raw in raws or []:
            if raw.get("digest"):
                by_digest.setdefault(raw["digest"], []).append(raw)
        artifacts = [self._artifact(repository, digest, tags) for digest, tags in sorted(by_digest.items())]
        parents = {}
        for artifact in artifacts:
            for child in artifact["children"]:
                parents.setdefault(child["digest"], set()).add(artifact["digest"])
        for artifact in artifacts:
            artifact["referenced_by"] = sorted(parents.get(artifact["digest"], ()))
        return artifacts

    def _tag_lists(self, registry, repositories=None, missing_ok=False):
        """``{image: [raw tag] or None}`` for the named images (every image of the registry when None), read concurrently.
        A registry that does not exist fails, or with ``missing_ok`` has no images."""
        if not registry:
            raise ValueError("provider ncloud needs registry: the name of the NCR registry to list")
        if missing_ok and self._raw_registry(registry) is None:
            return dict((name, None) for name in repositories or [])
        self._need_registry(registry)
        names = sorted(set(repositories)) if repositories else sorted(set(i.get("name") for i in self._raw_images(registry) if i.get("name")))
        found = {}
        for name, raws, error in self.client.run_bulk(lambda n: self._raw_tags(registry, n), names):
            if error is not None:
                raise error
            found[name] = raws
        return found

    def list_tag(self, filters):
        names = set(filters.get("name") or [])
        tags = []
        for repository, raws in self._tag_lists(filters.get("registry"), filters.get("repository")).items():
            tags.extend(self._normalize_tag(repository, raw) for raw in raws or [] if not names or tag_name_of(raw) in names)
        return sorted(tags, key=lambda t: (t["repository"], t["name"]))

    def read_tag(self, items):
        index = {}
        for registry in sorted(set(item["registry"] for item in items)):
            repositories = [item["repository"] for item in items if item["registry"] == registry]
            for repository, raws in self._tag_lists(registry, repositories, missing_ok=True).items():
                for raw in raws or []:
                    index[(registry, repository, tag_name_of(raw))] = self._normalize_tag(repository, raw)
        return [index.get((item["registry"], item["repository"], item["name"])) for item in items]

    def list_artifact(self, filters):
        digests = set(d["digest"] for d in filters.get("digests") or [])
        found = []
        for repository, raws in self._tag_lists(filters.get("registry"), filters.get("repository")).items():
            for artifact in self._artifacts_of(repository, raws):
                artifact.pop("referenced_by")  # what the artifact module's guard reads, not a listed field
                if not digests or artifact["digest"] in digests:
                    found.append(artifact)
        return sorted(found, key=lambda a: (a["repository"], a["digest"]))

    def read_artifact(self, items):
        index = {}
        for registry in sorted(set(item["registry"] for item in items)):
            repositories = [item["repository"] for item in items if item["registry"] == registry]
            for repository, raws in self._tag_lists(registry, repositories, missing_ok=True).items():
                for artifact in self._artifacts_of(repository, raws):
                    index[(registry, repository, artifact["digest"])] = artifact
        return [index.get((item["registry"], item["repository"], item["digest"])) for item in items]

    def apply_artifact(self, actions):
        """The tags ``delete_artifact`` checks are read again: right before each digest that ``expected_tags`` names (NCR's
        tag DELETE takes the manifest with every tag on it, so a tag pushed onto the digest during the call must be seen;
        deletes that wait at once share a listing, see ``FreshReads``), else once per image before its digests go. They
        are forgotten once the digests went (the next read is a fresh one)."""
        images = sorted(set((a.item["registry"], a.item["repository"]) for a in actions))
        for registry, image in sorted(set((a.item["registry"], a.item["repository"]) for a in actions
                                          if expected_tags_for(self.params, a.item) is None)):
            self._raw_tags(registry, image, refresh=True)
        try:
            return self._apply_in_waves("artifact", actions)
        finally:
            for registry, image in images:
                self._forget(registry, image)

    def delete_artifact(self, item, current):
        """Every tag on the digest goes through the API (a 404 after the first is the manifest reading: the manifest went with
        this run's first delete). A tag found on it now that the snapshot (or ``expected_tags``) did not have keeps the
        digest: skipped, ``tags_changed``. A digest whose every tag went before this run's DELETEs (none left at the read
        right before, or each answered 404 to its first DELETE) raises :class:`AlreadyGone`: reported ``absent``."""
        expected = expected_tags_for(self.params, item)
        key = (item["registry"], item["repository"])
        raws = self._fresh_tags.get(key) if expected is not None else self._raw_tags(*key)
        now = names_on(raws, item["digest"])
        refuse_unexpected_tags(self.params, item, now, known=current.get("tags") or [])
        with self._fresh_tags.deleting(key):
            done = self._delete_tags_of_digest(item["registry"], item["repository"], now, stop=True)
        removed = [tag for tag in now if tag in done and done[tag] is None]
        failed = [error for error in done.values() if error is not None and not isinstance(error, AlreadyGone)]
        if failed:
            if removed:
                failed[0].message = "%s; tag(s) %s were already removed, and the digest keeps %s" % (
                    failed[0].message, ", ".join(removed), ", ".join(t for t in now if t not in removed and not isinstance(done.get(t), AlreadyGone)))
            raise failed[0]
        self._forget_digest(item["registry"], item["repository"], item["digest"])
        if not removed:
            raise AlreadyGone.since_read()
        return current

    # -- tag removal: the API where only the tag can go, the OCI path where a sibling must stay ----------------
    def apply_tag(self, actions):
        done = {}
        groups = {}
        for action in actions:
            groups.setdefault((action.item["registry"], action.item["repository"]), []).append(action)
        for (registry, image), mine in sorted(groups.items()):
            try:
                done.update(self._remove_tags(registry, image, mine))
            except ApiError as exc:
                done.update((id(a), (a, None, exc)) for a in mine if id(a) not in done)
        return [done[id(a)] for a in actions]

    def _remove_tags(self, registry, image, actions):
        """Read the image's tags again, then split: a tag whose digest stays carried by another remaining tag (or listed by a
        remaining index) goes over the OCI path, every other tag with the API DELETE."""
        fresh = dict((tag_name_of(raw), raw) for raw in self._raw_tags(registry, image, refresh=True) or [])
        done, going = {}, {}
        for action in actions:
            name = action.item["name"]
            now = (fresh.get(name) or {}).get("digest")
            if now is None:
                done[id(action)] = (action, None, AlreadyGone.since_read("tag %s" % name))
            elif action.desired.get("recheck") and now != action.current["digest"]:
                done[id(action)] = (action, None, TagMoved("moved: now points at %s, expected %s; not removed" % (now, action.current["digest"])))
            else:
                going[name] = (action, now)
        staying = [raw for name, raw in fresh.items() if name not in going]
        kept = set(raw.get("digest") for raw in staying)
        kept.update(child["digest"] for raw in staying for child in self._children(raw))
        api = {}  # digest -> its tags that go with the API DELETE, one after the other (see _delete_tags_of_digest)
        for action, digest in going.values():
            if digest not in kept:
                api.setdefault(digest, []).append(action)
        oci = [Action(action.kind, action.item, dict(action.current, digest=digest), action.desired) for action, digest in going.values()
               if digest in kept]

        def delete(digest):
            return self._delete_tags_of_digest(registry, image, sorted(a.item["name"] for a in api[digest]))

        for digest, outcome, error in self.client.run_bulk(delete, sorted(api)):
            for action in api[digest]:
                failed = error if outcome is None else outcome[action.item["name"]]
                done[id(action)] = (action, None if failed is not None else action.current, failed)
        if oci:
            by_name = dict((a.item["name"], a) for a, _d in going.values())
            for translated, _result, error in remove_tags_over_oci(oci, self._oci_provider, lambda reg, repository: repository):
                original = by_name[translated.item["name"]]
                done[id(original)] = (original, original.current if error is None else None, error)
        self._forget(registry, image)
        return done

    def _oci_provider(self, registry):
        """The ``oci`` provider on the registry's own host (``end_point``; one with a scheme is used as it is), logged in as
        ``docker login`` is (access key and secret key); its manifest deletes (the throwaway) go through the API."""
        with self._lock:
            if registry in self._oci:
                return self._oci[registry]
        raw = self._need_registry(registry)
        end_point = (raw.get("end_point") or "").strip()
        if not end_point:
            raise ApiError("NCR's registry list gives registry %s no end_point: its OCI host is unknown, so a tag whose digest another "
                           "tag keeps cannot be removed safely" % registry)
        params = dict(self.params, api_url=end_point if "://" in end_point else "https://" + end_point,
                      api_username=self.params["access_key"], api_password=self.params["secret_key"], api_token=None)
        provider = OciProvider(params, warn=self.warn, manifest_deleter=lambda repository, digest: self._delete_throwaway(registry, repository, digest))
        provider.connect()
        with self._lock:
            self._oci[registry] = provider
        return provider

    def _delete_throwaway(self, registry, image, digest):
        """Delete the throwaway manifest of a tag removal through the API, by deleting every tag on it: right whether NCR's tag
        DELETE removes the tag or the manifest, since only the tags being removed are on it. The first tag goes alone, then
        the second is read (NCR's tag detail): gone, the first DELETE took the manifest with every tag on it (NCR's manifest
        reading) and nothing is left to do; still on it, the tags are listed again and those still on it deleted, side by
        side. True when deleted."""
        for attempt in range(THROWAWAY_LOOKUPS):
            if attempt:
                self.sleep(1)
            tags = self._tags_on(registry, image, digest)
            if not tags:
                continue
            self._delete(self.path(registry, image, "tags", tags[0]))
            self._forget(registry, image)
            left = self._tags_on(registry, image, digest) if len(tags) > 1 and self._tag_digest(registry, image, tags[1]) == digest else []
            for _tag, _result, error in self.client.run_bulk(lambda t: self._delete(self.path(registry, image, "tags", t)), left):
                if error is not None:
                    raise error
            self._forget(registry, image)
            return True
        raise ApiError("the throwaway manifest %s pushed to registry %s does not show in NCR's tag list of %s after %d looks, so its tags "
                       "could not be removed through the API" % (digest, registry, image, THROWAWAY_LOOKUPS))

    def _tag_digest(self, registry, image, tag):
        """The digest a tag points at now (NCR's tag detail), or None when there is no such tag."""
        try:
            return (self.client.get(self.path(registry, image, "tags", tag)) or {}).get("digest")
        except NotFoundError:
            return None

    def _tags_on(self, registry, image, digest):
        """The names of the image's tags on ``digest``, read again (sorted)."""
        return names_on(self._raw_tags(registry, image, refresh=True), digest)

    def is_leftover(self, item, current):
        """A tag on a throwaway manifest of this collection was being removed by a run that could not finish."""
        try:
            return self._oci_provider(item["registry"]).registry.is_throwaway(item["repository"], current["digest"])
        except (ApiError, ValueError):
            return False
