"""What the emulators that stand in front of a real OCI registry share (standard library only).

* :class:`RegistryClient`: the Vultr emulator's :class:`~tests.emulators.vultr.OciBackend` (catalog, tags,
  resolve, describe, delete by digest) plus request bodies (:meth:`RegistryClient.send`), blob uploads, image facts
  read from the manifest and its config (:meth:`RegistryClient.image_facts`: created time, sizes, platforms, an
  index's children) and the third-party tag removal (:meth:`RegistryClient.untag`: a throwaway manifest under the
  tag, deleted by digest, so that the digest's other tags stay). The GitLab and Naver Cloud emulators use it.
* :func:`relay`, :func:`backend_request`, :func:`send_relayed`: forward one request of an emulated registry front
  to the real registry and bring the answer back (hop-by-hop headers dropped, ``Location``/``Link`` rewritten so
  that clients stay on the front). The GitHub (ghcr.io) and Naver Cloud fronts use them.
* :func:`parse_oci_path`, :func:`oci_error`, :func:`oci_error_body`: the ``/v2/`` path grammar and the OCI error body.
* :func:`check_backend_url`, :func:`backend_registry`: the ``registry_backend`` setting, and a real local registry
  started behind an emulator's front (``ghcr_backend``, ``ncr_backend``).
"""

import hashlib
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from tests.emulators.base import ApiError, EmulatorServer, Response
from tests.emulators.vultr import MANIFEST_ACCEPT, BackendError, OciBackend

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
INDEX_MEDIA_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")

# (kind, path pattern, route template for the request log); the name is greedy, the suffix decides
OCI_PATHS = (
    ("tags", re.compile(r"^/v2/(?P<name>.+)/tags/list$"), "/v2/{name}/tags/list"),
    ("manifests", re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)$"), "/v2/{name}/manifests/{reference}"),
    ("uploads", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<reference>[^/]*)$"), "/v2/{name}/blobs/uploads/{uuid}"),
    ("blobs", re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<reference>[^/]+)$"), "/v2/{name}/blobs/{digest}"),
    ("referrers", re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<reference>[^/]+)$"), "/v2/{name}/referrers/{digest}"),
)
OCI_CODES = {400: "UNKNOWN", 401: "UNAUTHORIZED", 403: "DENIED", 404: "NOT_FOUND", 405: "UNSUPPORTED", 429: "TOOMANYREQUESTS",
             503: "UNAVAILABLE"}
# Request headers a front forwards; answer headers it never relays (hop-by-hop, or set by the front itself).
FORWARD_HEADERS = ("Accept", "Content-Type", "Content-Range", "Range", "If-None-Match", "If-Match")
DROP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-type", "date", "server",
                          "proxy-authenticate", "te", "trailer", "upgrade", "www-authenticate"})
PLATFORM_KEYS = (("os", "os"), ("architecture", "architecture"), ("variant", "variant"), ("os_version", "os.version"),
                 ("os_features", "os.features"), ("features", "features"))


class BackendUnavailable(BackendError):
    """The registry behind a front could not be reached."""


# ---------------------------------------------------------------------------
# The /v2/ grammar and OCI errors

def parse_oci_path(path):
    """``(kind, name, reference, template)`` of a ``/v2/`` path; ``kind`` is ``base``, ``catalog``, ``tags``,
    ``manifests``, ``uploads``, ``blobs``, ``referrers`` or ``None`` (no such endpoint)."""
    if path in ("/v2", "/v2/"):
        return "base", None, None, "/v2/"
    if path == "/v2/_catalog":
        return "catalog", None, None, "/v2/_catalog"
    for kind, pattern, template in OCI_PATHS:
        match = pattern.match(path)
        if match:
            return kind, match["name"], match.groupdict().get("reference"), template
    return None, None, None, None


def oci_error(status, code, message, headers=None, detail=None):
    """An OCI error to raise from a front (:func:`oci_error_body` renders it)."""
    extra = {"detail": detail} if detail is not None else {}
    return ApiError(status, message, exception_class=code, headers=headers, **extra)


def oci_error_body(status, message, code=None, detail=None):
    """``{"errors": [{"code", "message"[, "detail"]}]}``; ``code`` defaults from the status."""
    error = {"code": code or OCI_CODES.get(status, "UNKNOWN"), "message": message}
    if detail is not None:
        error["detail"] = detail
    return {"errors": [error]}


# ---------------------------------------------------------------------------
# The backend setting, and a real registry to put behind a front

def check_backend_url(value):
    """A ``registry_backend`` setting: ``None`` or ``http(s)://host[:port]`` (returned without a trailing slash)."""
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ApiError(400, "registry_backend must be null or the http(s)://host[:port] of a registry (no path)")
    return f"{parts.scheme}://{parts.netloc}"


def backend_registry(emu, delete_enabled=True):
    """Start a real registry (``tests.support.registry.LocalRegistry``, distribution, ``auth="none"``) and put ``emu``'s
    registry front on it (``emu.configure(registry_backend=<its URL>)``). Returns the started registry: ``stop()`` it
    (which also sets ``registry_backend`` back to ``None``), or use it as a context manager. A missing
    ``docker-registry`` raises ``RegistryError``: tests that need it fail, they do not skip (``make deps`` installs it)."""
    from tests.support.registry import LocalRegistry  # pylint: disable=import-outside-toplevel

    class EmulatorBackend(LocalRegistry):
        """The registry behind an emulator's front."""

        def start(self):
            if self._proc is None:
                super().start()
            emu.configure(registry_backend=self.url)
            return self

        def stop(self):
            if self.port is not None and emu.registry_backend == self.url:
                emu.configure(registry_backend=None)
            super().stop()

    return EmulatorBackend(auth="none", delete_enabled=delete_enabled).start()


# ---------------------------------------------------------------------------
# Relaying a front's requests

@dataclass
class RelayedResponse(Response):
    """A registry answer relayed from the backend; ``length`` is the ``Content-Length`` a ``HEAD`` announces."""

    length: Optional[int] = None


def backend_request(base_url, method, target, body=None, headers=None, timeout=30):
    """One request to the registry at ``base_url``: ``(status, [(header, value)], body)``; :class:`BackendUnavailable`."""
    parts = urlsplit(base_url or "")
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = factory(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.getheaders(), answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise BackendUnavailable(f"{method} {base_url}{target}: {exc}") from exc
    finally:
        conn.close()


def relay(request, base_url, target, rewrite=None):
    """Forward ``request`` (method, :data:`FORWARD_HEADERS`, body) to ``base_url`` + ``target`` and return the answer as a
    :class:`RelayedResponse`. ``Location`` and ``Link`` values pass through ``rewrite`` (default: ``base_url`` removed, so
    that they become relative to the front). Raises :class:`BackendUnavailable`."""
    headers = {}
    for name in FORWARD_HEADERS:
        values = request.headers.get_all(name) if hasattr(request.headers, "get_all") else None
        if values is None:
            values = [request.header(name)] if request.header(name) is not None else []
        if values:
            headers[name] = ", ".join(values)
    body = request.raw_body if request.method in ("PUT", "POST", "PATCH") else None
    status, answer_headers, data = backend_request(base_url, request.method, target, body, headers)
    out, content_type, length = {}, "", None
    for name, value in answer_headers:
        low = name.lower()
        if low == "content-type":
            content_type = value
        elif low == "content-length":
            length = int(value) if value.strip().isdigit() else None
        elif low not in DROP_HEADERS:
            if low in ("location", "link"):
                value = rewrite(value) if rewrite else value.replace(base_url, "")
            out[name] = f"{out[name]}, {value}" if name in out else value
    return RelayedResponse(status, raw=data, headers=out, content_type=content_type, length=length)


def send_relayed(handler, response):
    """An emulator's ``_send``: relayed answers keep their ``Content-Type`` and, on ``HEAD``, the body's ``Content-Length``."""
    if not isinstance(response, RelayedResponse):
        EmulatorServer._send(handler, response)  # pylint: disable=protected-access
        return
    head = handler.command == "HEAD"
    payload = b"" if head else (response.raw or b"")
    handler.send_response(response.status)
    if response.status not in (204, 304) and response.status >= 200:
        length = response.length if head and response.length is not None else len(payload)
        handler.send_header("Content-Length", str(length))
        if response.content_type:
            handler.send_header("Content-Type", response.content_type)
    for name, value in response.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if payload:
        handler.wfile.write(payload)


# ---------------------------------------------------------------------------
# Reading from and writing to the registry

def _platform(source):
    """The platform fields of an index descriptor's ``platform`` or an image config (``None`` when absent)."""
    source = source if isinstance(source, dict) else {}
    out = {}
    for key, name in PLATFORM_KEYS:
        value = source.get(name)
        out[key] = ",".join(value) if isinstance(value, list) else value
    return out


class RegistryClient(OciBackend):
    """:class:`OciBackend` plus bodies, blob uploads, image facts and the third-party tag removal."""

    def __init__(self, base_url, username=None, password=None, timeout=10):
        super().__init__(base_url, username, password, timeout)
        self._image_facts = {}

    def _open(self, method, url, headers):
        """:meth:`OciBackend._open`; a registry that cannot be reached is :class:`BackendUnavailable`."""
        try:
            return super()._open(method, url, headers)
        except BackendUnavailable:
            raise
        except BackendError as exc:
            raise BackendUnavailable(str(exc)) from exc

    def send(self, method, path, body=None, content_type=None, accept=None):
        """Like ``request`` with a body; ``(status, headers, body)``."""
        url = path if path.startswith("http") else self.base_url + path
        scope_key = (method == "DELETE", path.split("?", 1)[0].rsplit("/", 2)[0], "push")
        headers = {"Accept": accept} if accept else {}
        if content_type:
            headers["Content-Type"] = content_type
        status, resp_headers, data = 0, {}, b""
        for attempt in range(2):
            token = self._bearer.get(scope_key)
            auth = f"Bearer {token}" if token else self._basic()
            if auth:
                headers["Authorization"] = auth
            req = urllib.request.Request(url, method=method, headers=headers, data=body)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (loopback test registry)
                    status, resp_headers, data = resp.status, resp.headers, resp.read()
            except urllib.error.HTTPError as err:
                try:
                    status, resp_headers, data = err.code, err.headers, err.read()
                finally:
                    err.close()
            except (urllib.error.URLError, OSError) as err:
                raise BackendUnavailable(f"{method} {url}: {err}") from err
            challenge = resp_headers.get("WWW-Authenticate", "") if status == 401 else ""
            if attempt or not challenge.lower().startswith("bearer"):
                return status, resp_headers, data
            self._bearer[scope_key] = self._token(challenge)
        return status, resp_headers, data

    def image_facts(self, repo, digest):
        """What a manifest says, cached by digest (content-addressed, so never stale)::

            {"digest", "media_type", "index", "config_digest", "created" (the config's, as written, or None),
             "platform" {os, architecture, variant, os_version, os_features, features}, "size" (config + layers; an index:
             the sum of its children), "blobs" {digest: size}, "children" [facts of each child, "platform" from the index]}

        A child that cannot be read (deleted under its index) is left out.
        """
        with self._lock:
            if digest in self._image_facts:
                return json.loads(self._image_facts[digest])
        status, headers, body = self.request("GET", f"/v2/{repo}/manifests/{digest}", MANIFEST_ACCEPT)
        if status != 200:
            raise BackendError(f"GET /v2/{repo}/manifests/{digest} answered {status}")
        doc = json.loads(body.decode("utf-8"))
        media_type = doc.get("mediaType") or (headers.get("Content-Type") or "").split(";")[0].strip()
        facts = {"digest": digest, "media_type": media_type, "index": "manifests" in doc or media_type in INDEX_MEDIA_TYPES,
                 "config_digest": None, "created": None, "platform": _platform(None), "size": 0, "blobs": {}, "children": []}
        if facts["index"]:
            for child in doc.get("manifests") or []:
                try:
                    child_facts = self.image_facts(repo, child["digest"])
                except (BackendError, KeyError):
                    continue
                if isinstance(child.get("platform"), dict):
                    child_facts["platform"] = _platform(child["platform"])
                child_facts.pop("children", None)
                facts["children"].append(child_facts)
                facts["blobs"].update(child_facts["blobs"])
                facts["size"] += child_facts["size"]
        else:
            config = doc.get("config") or {}
            layers = doc.get("layers") or []
            facts["blobs"] = {layer["digest"]: int(layer.get("size") or 0) for layer in layers if layer.get("digest")}
            facts["size"] = int(config.get("size") or 0) + sum(int(layer.get("size") or 0) for layer in layers)
            if config.get("digest"):
                facts["config_digest"] = config["digest"]
                facts["blobs"][config["digest"]] = int(config.get("size") or 0)
                status, _headers, raw = self.request("GET", f"/v2/{repo}/blobs/{config['digest']}")
                try:
                    parsed = json.loads(raw.decode("utf-8")) if status == 200 else None
                except (ValueError, UnicodeError):
                    parsed = None
                if isinstance(parsed, dict):
                    facts["created"] = parsed.get("created")
                    facts["platform"] = _platform(parsed)
        with self._lock:
            self._image_facts[digest] = json.dumps(facts)
        return facts

    def push_blob(self, repo, data):
        """Monolithic blob upload; returns the digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _body = self.send("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise BackendError(f"POST /v2/{repo}/blobs/uploads/ answered {status}")
        location = urllib.parse.urljoin(self.base_url + "/", headers.get("Location", ""))
        location += ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        status, _headers, _body = self.send("PUT", location, data, "application/octet-stream")
        if status != 201:
            raise BackendError(f"PUT blob answered {status}")
        return digest

    def untag(self, repo, tag, tries=3):
        """Remove one tag, leaving its digest's other tags alone: push a throwaway manifest under the tag, delete it by
        digest (the way a registry without a tag delete is untagged).

        Distribution deletes the manifest first, then reads every tag's link to drop the tags on it: a link being
        written at that moment (a push to the same repository) fails that read, and the ``DELETE`` answers 500 with the
        manifest gone and the tag left naming it (listed, never resolved). A provider's tag delete does not do that, so
        the throwaway goes under the tag again and is deleted again, up to ``tries`` times."""
        config = json.dumps({"regops-emulator-throwaway": uuid.uuid4().hex}).encode("utf-8")
        cfg = {"mediaType": OCI_CONFIG, "digest": self.push_blob(repo, config), "size": len(config)}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": []},
                              separators=(",", ":")).encode("utf-8")
        dummy = "sha256:" + hashlib.sha256(manifest).hexdigest()
        status = None
        for _attempt in range(tries):
            status, _headers, _body = self.send("PUT", f"/v2/{repo}/manifests/{tag}", manifest, OCI_MANIFEST)
            if status != 201:
                raise BackendError(f"PUT /v2/{repo}/manifests/{tag} answered {status}")
            status = self.send("DELETE", f"/v2/{repo}/manifests/{dummy}")[0]
            if status in (200, 202, 404):
                return
        raise BackendError(f"DELETE /v2/{repo}/manifests/{dummy} answered {status} ({tries} tries)")


__all__ = [
    "BackendError", "BackendUnavailable", "DROP_HEADERS", "FORWARD_HEADERS", "INDEX_MEDIA_TYPES", "OCI_CODES", "OCI_PATHS",
    "RegistryClient", "RelayedResponse", "backend_registry", "backend_request", "check_backend_url", "oci_error",
    "oci_error_body", "parse_oci_path", "relay", "send_relayed",
]
