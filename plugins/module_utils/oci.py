# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OCI Distribution v2 client. PRIVATE to the collection.

Used by the ``oci`` provider and by providers whose own API lacks an
operation (for example tag removal on a Vultr registry host).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import json
import re
import threading
import time
import uuid

try:
    from urllib.parse import quote, urljoin
except ImportError:  # pragma: no cover
    quote = urljoin = None

from ansible_collections.regops.registry.plugins.module_utils.api import (
    AlreadyGone,
    ApiError,
    AuthError,
    NotFoundError,
    parse_link_header,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
# Every manifest type in Accept: distribution rewrites a schema2 manifest to
# schema1 (another digest) or answers 404 for an OCI one when the type is missing.
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

# The two-byte JSON object ``{}``: the layer of every throwaway manifest.
EMPTY_JSON = b"{}"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
NO_SUCH_DIGEST = "sha256:" + "0" * 64

# Marks the throwaway manifest the tag removal points tags at: a later run recognises a tag left on one.
THROWAWAY_ANNOTATION = "io.regops.registry.throwaway"


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def platform_string(platform):
    if not platform:
        return None
    text = "%s/%s" % (platform.get("os") or "unknown", platform.get("architecture") or "unknown")
    if platform.get("variant"):
        text += "/" + platform["variant"]
    return text


class Manifest:
    def __init__(self, digest, media_type, raw):
        self.digest = digest
        self.media_type = media_type
        self.raw = raw
        try:
            self.body = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            self.body = {}
        if not self.media_type or self.media_type in ("application/json", "application/octet-stream"):
            self.media_type = self.body.get("mediaType") or self.media_type

    @property
    def is_index(self):
        return self.media_type in INDEX_TYPES or ("manifests" in self.body and "config" not in self.body)

    def children(self):
        return [{"digest": m.get("digest"), "media_type": m.get("mediaType"), "platform": platform_string(m.get("platform"))}
                for m in self.body.get("manifests") or []] if self.is_index else []

    def blobs(self):
        """Descriptors of the blobs an image manifest references (config first)."""
        if self.is_index:
            return []
        found = []
        if isinstance(self.body.get("config"), dict):
            found.append(self.body["config"])
        found.extend(layer for layer in self.body.get("layers") or [] if isinstance(layer, dict))
        return found

    def size(self):
        return len(self.raw) + sum(int(b.get("size") or 0) for b in self.blobs())


class OciAuth:
    """Anonymous, Basic, or the Bearer token challenge, learnt from ``GET /v2/``."""

    def __init__(self, username=None, password=None):
        self.username = username
        self.password = password
        self.scheme = None
        self.realm = None
        self.service = None
        self._tokens = {}
        self._fetching = {}  # scope key -> lock held by the one thread fetching its token
        self._lock = threading.Lock()

    def _basic(self):
        raw = ("%s:%s" % (self.username, self.password or "")).encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    @staticmethod
    def scopes_for(method, url):
        match = re.search(r"/v2/(.+?)/(manifests|blobs|tags|referrers)/", url)
        if "/v2/_catalog" in url:
            return ("registry:catalog:*",)
        if not match:
            return ()
        name = match.group(1)
        if method in ("GET", "HEAD"):
            scopes = ["repository:%s:pull" % name]
        elif method == "DELETE":
            scopes = ["repository:%s:delete" % name]
        else:
            scopes = ["repository:%s:pull,push" % name]
        source = re.search(r"[?&]from=([^&]+)", url)
        if source:
            scopes.append("repository:%s:pull" % source.group(1).replace("%2F", "/"))
        return tuple(scopes)

    def apply(self, method, url, headers):
        if self.scheme == "basic":
            headers["Authorization"] = self._basic()
        elif self.scheme == "bearer":
            scopes = self.scopes_for(method, url)
            token = self._token(scopes)
            if token:
                headers["Authorization"] = "Bearer " + token

    def handle_challenge(self, client, method, url, response):
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return False
        scheme, params = challenge
        if scheme == "basic":
            if self.username is None or self.scheme == "basic":
                return False
            self.scheme = "basic"
            return True
        if scheme == "bearer" and params.get("realm"):
            self.scheme = "bearer"
            self.realm = params["realm"]
            self.service = params.get("service")
            self.client = client
            key = self.scopes_for(method, url)
            scopes = tuple(sorted(set(key) | set(params.get("scope", "").split())))
            return self._fetch_once(key, scopes, refused=bearer_of(response)) is not None
        return False

    def _cached(self, key):
        with self._lock:
            cached = self._tokens.get(key)
        return cached[0] if cached and cached[1] > time.time() + 5 else None

    def _token(self, key):
        """The token for ``key``: cached, else fetched by one thread while the others that need it wait for it (a bulk
        call's workers start together: without this, each would fetch the same token)."""
        token = self._cached(key)
        if token is not None or self.realm is None:
            return token
        return self._fetch_once(key, key)

    def _fetch_once(self, key, scopes, refused=None):
        """Fetch the token for ``key`` one thread at a time: a thread that waited while another fetched it takes that
        token, unless it is ``refused`` (the one the registry has just turned down: its 401 asks for a new one). Workers
        whose token expired or was revoked mid-run are all refused at once: one fetch serves them."""
        with self._lock:
            fetching = self._fetching.setdefault(key, threading.Lock())
        with fetching:
            token = self._cached(key)
            if token is not None and token != refused:
                return token
            return self._fetch(key, scopes)

    def _fetch(self, key, scopes):
        params = [("service", self.service)] if self.service else []
        params.extend(("scope", scope) for scope in scopes if scope)
        if self.username:
            params.append(("account", self.username))
        headers = {"Authorization": self._basic()} if self.username is not None else {}
        try:
            response = self.client.request("GET", self.realm, params=params, headers=headers, auth=False)
        except ApiError as exc:
            raise AuthError("the token service at %s refused the credentials: %s" % (self.realm.split("?")[0], exc.message),
                            status=exc.status, method="GET", url=self.realm.split("?")[0])
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise AuthError("the token service answered without a token", method="GET", url=self.realm.split("?")[0])
        lifetime = max(60, int(body.get("expires_in") or 60))
        with self._lock:
            self._tokens[key] = (token, time.time() + lifetime)
        return token


def bearer_of(response):
    """The bearer token the request behind ``response`` carried, or None."""
    request = getattr(response, "request", None)
    authorization = (request.headers.get("Authorization") if request is not None else None) or ""
    return authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None


def parse_challenge(header):
    """``WWW-Authenticate`` → (scheme, {param: value}) for the first challenge."""
    match = re.match(r"\s*(\w+)\s*(.*)", header or "")
    if not match:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    params = dict((k.lower(), v) for k, v in re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme, params


class OciRegistry:
    """The operations of the OCI Distribution API the collection needs."""

    def __init__(self, client, auth, manifest_deleter=None):
        self.client = client
        self.auth = auth
        self.tag_delete = None  # None: not probed; True/False after the first try
        self.manifest_delete = None
        # A registry that refuses manifest deletes over /v2/ but deletes them through its own API (ghcr.io: a package
        # version): ``manifest_deleter(repository, digest)`` does it, True when deleted, False when already gone.
        self.manifest_deleter = manifest_deleter
        if manifest_deleter is not None:
            self.tag_delete = False
            self.manifest_delete = True
        self._lock = threading.Lock()
        self._config_cache = {}
        self.media_types = {}  # (repository, digest) -> media type, as the registry answered it
        self.referrers_api = None  # None: not probed; True/False once the first referrers request has answered
        self._referrers_probe = threading.Lock()

    @staticmethod
    def path(repository, kind, ref=""):
        return "/v2/%s/%s/%s" % (repository, kind, quote(ref, safe=":@"))

    def probe(self):
        """``GET /v2/``: learns the auth scheme; answers 200 on a conformant registry."""
        try:
            self.client.request("GET", "/v2/")
        except AuthError as exc:
            if exc.url and exc.url.rstrip("/").endswith("/v2"):  # not the token service: it explains itself
                username = getattr(self.auth, "username", None)
                if username is not None:
                    exc.message = "the registry rejected the credentials of user '%s' (%s)" % (username, exc.message)
                else:
                    exc.message = ("the registry requires credentials (%s): set api_username and api_password (or api_token), "
                                   "or log in so that a docker config.json or REGISTRY_AUTH_FILE holds them" % exc.message)
            raise

    # -- reading ----------------------------------------------------------
    def catalog(self):
        names = []
        url = "/v2/_catalog"
        params = {"n": 1000}
        while url:
            try:
                response = self.client.request("GET", url, params=params)
            except ApiError as exc:
                if exc.status == 400 and params:
                    # A registry with a smaller catalog.maxentries: try 100, then its own page size.
                    params = {"n": 100} if params.get("n") == 1000 else None
                    continue
                raise
            names.extend((response.json() or {}).get("repositories") or [])
            following = parse_link_header(response.headers.get("Link")).get("next")
            url = urljoin(self.client.url(url), following) if following else None
            params = None
        return sorted(set(names))

    def tags(self, repository):
        """All tags of a repository (sorted), or None when the repository is unknown."""
        found = []
        url = self.path(repository, "tags", "list")
        try:
            while url:
                response = self.client.request("GET", url)
                found.extend((response.json() or {}).get("tags") or [])
                following = parse_link_header(response.headers.get("Link")).get("next")
                url = urljoin(self.client.url(url), following) if following else None
        except NotFoundError:
            return None
        return sorted(set(found))

    def get_manifest(self, repository, ref):
        try:
            response = self.client.request("GET", self.path(repository, "manifests", ref), headers={"Accept": ACCEPT})
        except NotFoundError:
            return None
        raw = response.content
        digest = response.headers.get("Docker-Content-Digest") or digest_of(raw)
        manifest = Manifest(digest, (response.headers.get("Content-Type") or "").split(";")[0].strip(), raw)
        self.media_types[(repository, digest)] = manifest.media_type
        return manifest

    def head_manifest(self, repository, ref):
        """The digest ``ref`` resolves to, or None. Remembers the manifest's media type (``media_types``)."""
        try:
            response = self.client.request("HEAD", self.path(repository, "manifests", ref), headers={"Accept": ACCEPT})
        except NotFoundError:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            self.media_types[(repository, digest)] = (response.headers.get("Content-Type") or "").split(";")[0].strip()
            return digest
        manifest = self.get_manifest(repository, ref)
        return manifest.digest if manifest else None

    def image_config(self, repository, descriptor):
        """The image config JSON (cached by digest), or None for non-image artifacts and a config that is not there.

        Any other failure (after the client's retries) raises: the caller reports it per artifact.
        """
        digest = descriptor.get("digest")
        if not digest or descriptor.get("mediaType") not in IMAGE_CONFIG_TYPES:
            return None
        with self._lock:
            if digest in self._config_cache:
                return self._config_cache[digest]
        try:
            response = self.client.request("GET", self.path(repository, "blobs", digest))
            config = response.json()
        except (NotFoundError, ValueError):
            config = None
        with self._lock:
            self._config_cache[digest] = config
        return config

    def referrers(self, repository, digest):
        """Descriptors (``digest``, ``mediaType``, ``artifactType``, ...) of the manifests whose ``subject`` is ``digest``,
        through the OCI 1.1 referrers API; None when the registry has no such API.

        The first call is the probe: while it runs, other callers wait for its answer. A 404 (distribution 2.8:
        ``404 page not found``; others ``NAME_UNKNOWN`` or ``UNSUPPORTED``; the spec forbids a registry that has the
        API to answer 404), a 405 or 501, a 400 ``UNSUPPORTED``, or a body that is not an image index means the
        registry has none: no later call sends a request. Any other failure raises, and leaves the question open.
        """
        if self.referrers_api is None:
            with self._referrers_probe:
                if self.referrers_api is None:
                    return self._list_referrers(repository, digest, probe=True)
        if not self.referrers_api:
            return None
        return self._list_referrers(repository, digest)

    @staticmethod
    def _no_referrers_api(exc):
        return exc.status in (404, 405, 501) or (exc.status == 400 and exc.code == "UNSUPPORTED")

    def _list_referrers(self, repository, digest, probe=False):
        found = []
        url = self.path(repository, "referrers", digest)
        while url:
            try:
                response = self.client.request("GET", url, headers={"Accept": OCI_INDEX})
            except ApiError as exc:
                if probe and self._no_referrers_api(exc):
                    self.referrers_api = False
                    return None
                if isinstance(exc, NotFoundError):
                    return found  # the subject went away since it was listed
                raise
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("manifests"), list):
                if probe:
                    self.referrers_api = False
                    return None
                raise ApiError("the referrers API answered something that is not an image index", status=response.status_code,
                               method="GET", url=self.client.url(url).split("?")[0])
            if probe:
                self.referrers_api = True
                probe = False
            found.extend(d for d in body["manifests"] if isinstance(d, dict) and d.get("digest"))
            following = parse_link_header(response.headers.get("Link")).get("next")
            url = urljoin(self.client.url(url), following) if following else None
        return found

    def is_throwaway(self, repository, digest):
        """Whether ``digest`` is a throwaway manifest of this collection (left by an untag that could not finish)."""
        manifest = self.get_manifest(repository, digest)
        return bool(manifest and THROWAWAY_ANNOTATION in (manifest.body.get("annotations") or {}))

    # -- writing ----------------------------------------------------------
    def put_manifest(self, repository, ref, media_type, raw):
        response = self.client.request("PUT", self.path(repository, "manifests", ref), data=raw,
                                       headers={"Content-Type": media_type}, expected=(200, 201, 202))
        return response.headers.get("Docker-Content-Digest") or digest_of(raw)

    def blob_exists(self, repository, digest):
        try:
            self.client.request("HEAD", self.path(repository, "blobs", digest))
            return True
        except NotFoundError:
            return False

    def _upload(self, repository, digest, data, opened):
        """Finish an upload the registry opened (``opened`` is its 202) with one monolithic PUT."""
        location = self.client.url(urljoin(self.client.url("/v2/%s/blobs/uploads/" % repository), opened.headers["Location"]))
        separator = "&" if "?" in location else "?"
        self.client.request("PUT", "%s%sdigest=%s" % (location, separator, quote(digest, safe="")), data=data,
                            headers={"Content-Type": "application/octet-stream"}, expected=(201, 202, 204))

    def _with_upload_retry(self, repository, digest, upload):
        """Run ``upload()``; when it fails, the blob may still have landed (a reset after the registry acted), or a
        retried PUT found its upload session already consumed: look, then start one fresh upload."""
        try:
            upload()
        except ApiError:
            if self.blob_exists(repository, digest):
                return
            upload()

    def push_blob(self, repository, data, digest=None):
        digest = digest or digest_of(data)
        if self.blob_exists(repository, digest):
            return digest

        def upload():
            # Opening an upload is safe to repeat: a session the client never heard of expires unused.
            opened = self.client.request("POST", "/v2/%s/blobs/uploads/" % repository, expected=(202,), idempotent=True)
            self._upload(repository, digest, data, opened)

        self._with_upload_retry(repository, digest, upload)
        return digest

    def mount_blob(self, repository, digest, source):
        """Make a blob of ``source`` available in ``repository`` (cross-repository mount, else copy)."""
        if self.blob_exists(repository, digest):
            return

        def upload():
            response = self.client.request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repository, quote(digest, safe=""), source),
                                           expected=(201, 202), idempotent=True)
            if response.status_code == 202:
                # The registry opened an upload instead of mounting: copy the bytes.
                self._upload(repository, digest, self.client.request("GET", self.path(source, "blobs", digest)).content, response)

        self._with_upload_retry(repository, digest, upload)

    def ensure_manifest(self, source, digest, target):
        """Make manifest ``digest`` of ``source`` exist in ``target`` by digest, blobs and children included; return it."""
        manifest = self.get_manifest(source, digest)
        if manifest is None:
            raise NotFoundError("manifest %s not found in %s" % (digest, source))
        if source != target and self.head_manifest(target, digest) is None:
            for child in manifest.children():
                self.ensure_manifest(source, child["digest"], target)
            for blob in manifest.blobs():
                self.mount_blob(target, blob["digest"], source)
            self.put_manifest(target, digest, manifest.media_type, manifest.raw)
        return manifest

    def delete_manifest(self, repository, digest):
        """Delete a manifest by digest: True when this call deleted it, False when it was gone already (a 404 read as
        ``ApiClient.delete`` reads it: to the first DELETE, someone else deleted it since it was read; to a DELETE sent
        again, the first one went through)."""
        if self.manifest_deleter is not None:
            return self.manifest_deleter(repository, digest)
        try:
            return self.client.delete(self.path(repository, "manifests", digest), expected=(200, 202, 204))
        except ApiError as exc:
            raise self._explain_delete(exc)

    @staticmethod
    def _explain_delete(exc):
        if exc.status == 405:
            exc.message = "the registry does not allow deletes (%s); on distribution set storage.delete.enabled: true" % (exc.message or "405")
        return exc

    def ensure_manifest_delete(self, repository):
        """Fail before any change when the registry refuses manifest deletes (distribution answers 405)."""
        if self.manifest_delete is None:
            try:
                self.client.request("DELETE", self.path(repository, "manifests", NO_SUCH_DIGEST), expected=(202, 404))
                self.manifest_delete = True
            except ApiError as exc:
                if exc.status not in (405, 400):
                    raise
                self.manifest_delete = False
        if not self.manifest_delete:
            raise self._explain_delete(ApiError("UNSUPPORTED", status=405, method="DELETE", url="/v2/%s/manifests/<digest>" % repository))

    def remove_tags(self, repository, tags, concurrency=None, recheck=False):
        """Remove ``tags`` ({tag: the digest it points at}) and nothing else: other tags on the same digests survive.

        The spec's tag DELETE where the registry supports it; otherwise every tag is pointed at one throwaway
        manifest unique to this call, and that digest is deleted. When the throwaway cannot be deleted, every tag
        on it is pointed back at its own digest. With ``recheck``, each tag is read again just before it is
        touched, and one that points elsewhere by then is left alone. Returns ``{tag: (outcome, error)}``, outcome
        ``deleted``, ``skipped`` (moved since it was read), ``absent`` (gone before this call touched it: another run,
        or a person), ``restored`` (not removed, back where it was) or ``failed`` (the error says where the tag is).
        """
        tags = dict(tags)
        pending = sorted(tags)
        done = {}

        def still_there(tag):
            if recheck:
                now = self.head_manifest(repository, tag)
                if now is None:
                    raise AlreadyGone.since_read("tag %s" % tag)
                if now != tags[tag]:
                    raise TagMoved("moved: now points at %s, expected %s; not removed" % (now, tags[tag]))

        def untag(tag):
            still_there(tag)
            if not self.client.delete(self.path(repository, "manifests", tag), expected=(202,)):
                raise AlreadyGone.since_read("tag %s" % tag)

        if self.tag_delete is not False:
            while pending and self.tag_delete is None:
                tag = pending.pop(0)
                try:
                    untag(tag)
                    self.tag_delete = True
                    done[tag] = ("deleted", None)
                except (AlreadyGone, TagMoved) as exc:
                    done[tag] = (exc.outcome, exc)
                except AuthError as exc:
                    # Not allowed to delete here: every other tag would be refused the same way.
                    done.update((t, ("failed", exc)) for t in [tag] + pending)
                    return done
                except ApiError as exc:
                    if exc.status not in (400, 405):
                        done[tag] = ("failed", exc)
                        continue
                    self.tag_delete = False
                    pending.insert(0, tag)
            if self.tag_delete:
                for tag, _result, error in self.client.run_bulk(untag, pending, concurrency):
                    done[tag] = (getattr(error, "outcome", "failed"), error) if error is not None else ("deleted", None)
                return done
        if not pending:
            return done
        self.ensure_manifest_delete(repository)
        media_type, raw, throwaway = self._throwaway(repository, pending)

        def point(tag):
            still_there(tag)
            self.put_manifest(repository, tag, media_type, raw)

        pointed = self.client.run_bulk(point, pending, concurrency)
        done.update((tag, (error.outcome, error)) for tag, _result, error in pointed if isinstance(error, (AlreadyGone, TagMoved)))
        pending = [tag for tag in pending if tag not in done]
        unsure = dict((tag, error) for tag, _result, error in pointed if error is not None and tag not in done)
        try:
            self.delete_manifest(repository, throwaway)
        except ApiError as exc:
            done.update(self._roll_back(repository, tags, pending, throwaway, exc, concurrency))
            return done
        done.update((tag, ("deleted", None)) for tag in pending if tag not in unsure)
        # A PUT that failed may still have landed (the registry acted, the answer was lost): then the tag went too.
        for tag, now, error in self.client.run_bulk(lambda t: self.head_manifest(repository, t), sorted(unsure), concurrency):
            done[tag] = ("deleted", None) if error is None and now is None else ("failed", unsure[tag])
        return done

    def _roll_back(self, repository, tags, pending, throwaway, cause, concurrency):
        """The throwaway could not be deleted: point every tag that is on it back at the digest it had."""
        why = "the throwaway manifest %s could not be deleted (%s)" % (throwaway, cause)
        where = dict((tag, (now, error)) for tag, now, error in self.client.run_bulk(
            lambda t: self.head_manifest(repository, t), pending, concurrency))
        moved = sorted(tag for tag, (now, error) in where.items() if error is None and now == throwaway)
        originals = dict((digest, (manifest, error)) for digest, manifest, error in self.client.run_bulk(
            lambda d: self.get_manifest(repository, d), sorted(set(tags[t] for t in moved)), concurrency))

        def restore(tag):
            manifest, error = originals[tags[tag]]
            if error is not None or manifest is None:
                raise error or NotFoundError("its manifest %s is gone" % tags[tag])
            self.put_manifest(repository, tag, manifest.media_type, manifest.raw)

        done = {}
        for tag, _result, error in self.client.run_bulk(restore, moved, concurrency):
            if error is not None:
                done[tag] = ("failed", ApiError(
                    "not removed: %s, and pointing the tag back at %s failed (%s): it now points at that empty manifest, "
                    "annotated %s; run the task again to remove the tag" % (why, tags[tag], error, THROWAWAY_ANNOTATION)))
            else:
                done[tag] = ("restored", UntagRolledBack("not removed: %s; the tag points at %s as before" % (why, tags[tag])))
        for tag in pending:
            now, error = where[tag]
            if tag in done:
                continue
            if error is not None:
                done[tag] = ("failed", ApiError("not removed: %s; where the tag points now could not be read (%s)" % (why, error)))
            elif now is None:
                done[tag] = ("deleted", None)
            else:
                done[tag] = ("failed", ApiError("not removed: %s; the tag points at %s" % (why, now)))
        return done

    def _throwaway(self, repository, tags):
        """Push a manifest no one else can share, marked as this collection's throwaway: (media type, bytes, digest). Its
        two blobs are pushed side by side (the push's round trips are the fixed cost of every tag removal here)."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": now,
            "config": {"Labels": {"delete-tag": ",".join(sorted(tags))[:1000], "delete-date": now,
                                  "delete-nonce": uuid.uuid4().hex, "delete-by": "regops.registry"}},
            "rootfs": {"type": "layers", "diff_ids": [EMPTY_JSON_DIGEST]},
        }, sort_keys=True).encode("utf-8")
        config_digest = digest_of(config)
        for _blob, _digest, error in self.client.run_bulk(lambda blob: self.push_blob(repository, *blob),
                                                          [(EMPTY_JSON, EMPTY_JSON_DIGEST), (config, config_digest)]):
            if error is not None:
                raise error
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": EMPTY_JSON_DIGEST, "size": 2}],
            "annotations": {THROWAWAY_ANNOTATION: "true",
                            "org.opencontainers.image.description": "regops.registry untags by pointing tags here and deleting "
                                                                    "this manifest; a tag still on it was being removed"},
        }, sort_keys=True).encode("utf-8")
        return OCI_MANIFEST, manifest, digest_of(manifest)


class TagMoved(ApiError):
    """A tag pointed elsewhere when it was read again just before its removal: left alone, reported ``skipped``."""

    outcome = "skipped"
    reason = "moved"


class UntagRolledBack(ApiError):
    """A tag was not removed and points at its own digest again: the engine reports it as ``restored``."""

    outcome = "restored"
