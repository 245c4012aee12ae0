"""Independent minimal OCI distribution client: the tests' source of truth (never imports the collection)."""

import hashlib
import json
import re
import secrets
from urllib.parse import urljoin

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
SPDX_JSON = "application/spdx+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# What cosign puts in the layer of what it attaches under a tag ``sha256-<hex>.<suffix>``.
COSIGN_LAYER_TYPES = {"sig": COSIGN_SIMPLESIGNING, "att": DSSE_ENVELOPE, "sbom": "text/spdx+json"}

_CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_REPO_PATH_RE = re.compile(r"^/v2/(?P<name>.+)/(?:manifests|blobs|tags)/")


class SeedError(RuntimeError):
    """Unexpected registry answer while seeding."""

    def __init__(self, message, response=None):
        if response is not None:
            message = f"{message}: {response.request.method} {response.request.url} -> {response.status_code} {response.text[:500]}"
        super().__init__(message)
        self.response = response


def sha256_digest(data):
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj):
    """Stable JSON bytes (sorted keys, compact)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


class SeedClient:  # pylint: disable=too-many-instance-attributes
    """Tiny registry client handling anonymous, Basic and Bearer-token challenges."""

    def __init__(self, url, username=None, password=None, timeout=10):
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.session = requests.Session()
        self._scheme = None  # None (unknown/anonymous), "basic" or "bearer"
        self._tokens = {}  # scope key -> bearer token
        self.token_requests = 0

    @classmethod
    def for_registry(cls, registry, username=None, password=None):
        """Client for a ``LocalRegistry``-like object (``url``, ``username``, ``password``)."""
        if getattr(registry, "auth", "htpasswd") == "none":
            return cls(registry.url)
        return cls(registry.url, username or registry.username, password or registry.password)

    # -- transport ----------------------------------------------------------
    @staticmethod
    def _scope_key(method, path):
        match = _REPO_PATH_RE.match(path)
        name = match["name"] if match else ("catalog" if path.startswith("/v2/_catalog") else "")
        action = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}.get(method, "push")
        return name + "|" + action

    def _fetch_token(self, challenge):
        params = dict(_CHALLENGE_PARAM_RE.findall(challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise SeedError(f"Bearer challenge without realm: {challenge!r}")
        query = {"service": params.get("service", "")}
        if params.get("scope"):
            query["scope"] = params["scope"].split(" ")
        auth = (self.username, self.password) if self.username is not None else None
        resp = self.session.get(realm, params=query, auth=auth, timeout=self.timeout)
        self.token_requests += 1
        if resp.status_code != 200:
            raise SeedError("token request failed", resp)
        body = resp.json()
        return body.get("token") or body.get("access_token")

    def request(self, method, path, ok=(200,), **kwargs):
        """Send a request with auth handling; raise SeedError unless status is in ``ok`` (None = any)."""
        url = path if path.startswith("http") else self.url + path
        rel = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        key = self._scope_key(method, rel.split("?", 1)[0])
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", True)
        for _attempt in range(2):
            auth = None
            headers.pop("Authorization", None)
            if self._scheme == "basic":
                auth = (self.username, self.password)
            elif self._scheme == "bearer" and key in self._tokens:
                headers["Authorization"] = "Bearer " + self._tokens[key]
            resp = self.session.request(method, url, headers=headers, auth=auth, **kwargs)
            if resp.status_code != 401:
                break
            challenge = resp.headers.get("WWW-Authenticate", "")
            lower = challenge.lower()
            if lower.startswith("basic") and self._scheme != "basic" and self.username is not None:
                self._scheme = "basic"
            elif lower.startswith("bearer") and not (self._scheme == "bearer" and key in self._tokens and _attempt):
                self._scheme = "bearer"
                self._tokens[key] = self._fetch_token(challenge)
            else:
                break
        if ok is not None and resp.status_code not in ok:
            raise SeedError("unexpected status", resp)
        return resp

    # -- blobs --------------------------------------------------------------
    def blob_exists(self, repo, digest):
        """HEAD the blob."""
        return self.request("HEAD", f"/v2/{repo}/blobs/{digest}", ok=(200, 404)).status_code == 200

    def push_blob(self, repo, data):
        """Monolithic upload (POST + PUT); skipped when the blob exists. Returns the digest."""
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", ok=(202,))
        location = urljoin(self.url + "/", resp.headers["Location"])
        self.request("PUT", location, ok=(201,), params={"digest": digest}, data=data,
                     headers={"Content-Type": "application/octet-stream"})
        return digest

    # -- manifests ----------------------------------------------------------
    def put_manifest(self, repo, ref, media_type, body):
        """PUT raw manifest bytes under ``ref`` (tag or digest); returns the digest."""
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", ok=(201,), data=body,
                            headers={"Content-Type": media_type})
        digest = sha256_digest(body)
        returned = resp.headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise SeedError(f"registry digest {returned} != computed {digest}")
        return digest

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments,too-many-locals
    def push_image(self, repo, tags=(), created="2026-01-01T00:00:00Z", layers=None, media="oci",
                   labels=None, arch="amd64", os="linux", by_digest=False):
        """Push config + layers + manifest; tag it with each of ``tags``. Returns the manifest digest.

        Without ``layers`` one random layer makes the digest unique. With ``by_digest``
        (or no tags) the manifest is pushed untagged by digest.
        """
        if media not in ("oci", "docker"):
            raise ValueError("media must be oci or docker")
        if layers is None:
            layers = [b"layer-" + random_hex().encode()]
        layer_type, config_type, manifest_type = ((OCI_LAYER, OCI_CONFIG, OCI_MANIFEST) if media == "oci"
                                                  else (DOCKER_LAYER, DOCKER_CONFIG, DOCKER_MANIFEST))
        layer_descs = []
        for data in layers:
            layer_descs.append({"mediaType": layer_type, "digest": self.push_blob(repo, data), "size": len(data)})
        config = {
            "created": created, "architecture": arch, "os": os,
            "config": {"Labels": dict(labels)} if labels else {},
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layer_descs]},
            "history": [{"created": created, "created_by": f"regops-seed layer {int(i)}"} for i in range(len(layer_descs))],
        }
        config_bytes = canonical_json(config)
        config_desc = {"mediaType": config_type, "digest": self.push_blob(repo, config_bytes), "size": len(config_bytes)}
        manifest = {"schemaVersion": 2, "mediaType": manifest_type, "config": config_desc, "layers": layer_descs}
        body = canonical_json(manifest)
        return self._put_tagged(repo, tags, manifest_type, body, by_digest)

    def push_index(self, repo, tags=(), children=(), media="oci", by_digest=False):
        """Push an index/manifest list over already pushed ``children``; returns its digest.

        ``children`` items are digests (platform read from the child's config) or
        dicts ``{"digest": d, "platform": {"architecture": .., "os": ..}}``.
        """
        index_type = OCI_INDEX if media == "oci" else DOCKER_LIST
        descs = []
        for child in children:
            if isinstance(child, str):
                child = {"digest": child}
            child_type, child_body = self.get_manifest(repo, child["digest"])
            platform = child.get("platform")
            if platform is None:
                cfg_digest = json.loads(child_body)["config"]["digest"]
                cfg = self.request("GET", f"/v2/{repo}/blobs/{cfg_digest}").json()
                platform = {"architecture": cfg.get("architecture"), "os": cfg.get("os")}
            descs.append({"mediaType": child_type, "digest": child["digest"], "size": len(child_body), "platform": platform})
        body = canonical_json({"schemaVersion": 2, "mediaType": index_type, "manifests": descs})
        return self._put_tagged(repo, tags, index_type, body, by_digest)

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def push_artifact(self, repo, layers, artifact_type=None, config_media_type=OCI_EMPTY, config=b"{}", subject=None,
                      tags=(), annotations=None):
        """Push an OCI 1.1 artifact: ``config`` (the empty ``{}`` by default), ``layers`` as ``(media_type, bytes)`` or
        ``(media_type, bytes, annotations)``, an optional ``artifactType``, ``subject`` (a digest in ``repo``: its
        descriptor is read from the registry) and manifest ``annotations``. Untagged (by digest) without ``tags``.
        Returns the manifest digest."""
        descs = []
        for layer in layers:
            desc = {"mediaType": layer[0], "digest": self.push_blob(repo, layer[1]), "size": len(layer[1])}
            if len(layer) > 2 and layer[2]:
                desc["annotations"] = dict(layer[2])
            descs.append(desc)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": config_media_type, "digest": self.push_blob(repo, config), "size": len(config)},
                    "layers": descs}
        if artifact_type:
            manifest["artifactType"] = artifact_type
        if subject:
            media_type, body = self.get_manifest(repo, subject)
            manifest["subject"] = {"mediaType": media_type, "digest": subject, "size": len(body)}
        if annotations:
            manifest["annotations"] = dict(annotations)
        return self._put_tagged(repo, tags, OCI_MANIFEST, canonical_json(manifest), by_digest=False)

    def push_cosign(self, repo, subject, suffix="sig"):
        """What cosign attaches to ``subject`` on a registry without the referrers API: a manifest with an image config
        (cosign's: no platform, created 0001) and one layer, tagged ``sha256-<hex>.sig`` (``.att``, ``.sbom``)."""
        payload = canonical_json({"critical": {"identity": {"docker-reference": f"{self.url.split('://', 1)[-1]}/{repo}"},
                                               "image": {"docker-manifest-digest": subject},
                                               "type": "cosign container image signature"},
                                  "optional": None, "suffix": suffix, "nonce": random_hex(4)})
        layer_annotations = {"dev.cosignproject.cosign/signature": "MEUCIQD" + random_hex(16)} if suffix == "sig" else {}
        config = canonical_json({"architecture": "", "os": "", "created": "0001-01-01T00:00:00Z", "config": {},
                                 "history": [{"created": "0001-01-01T00:00:00Z"}],
                                 "rootfs": {"type": "layers", "diff_ids": [sha256_digest(payload)]}})
        return self.push_artifact(repo, [(COSIGN_LAYER_TYPES[suffix], payload, layer_annotations)], config_media_type=OCI_CONFIG,
                                  config=config, tags=[referrers_tag(subject, suffix)])

    def push_referrers_index(self, repo, subject, referrers):
        """The OCI 1.1 referrers tag schema: an index tagged ``sha256-<hex>`` (``subject``'s) listing ``referrers``
        (digests in ``repo``) with their ``artifactType``. Returns the index digest."""
        descs = []
        for digest in referrers:
            media_type, body = self.get_manifest(repo, digest)
            manifest = json.loads(body)
            desc = {"mediaType": media_type, "digest": digest, "size": len(body)}
            artifact_type = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
            if artifact_type:
                desc["artifactType"] = artifact_type
            descs.append(desc)
        body = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs})
        return self._put_tagged(repo, [referrers_tag(subject)], OCI_INDEX, body, by_digest=False)

    def _put_tagged(self, repo, tags, media_type, body, by_digest):
        digest = sha256_digest(body)
        if by_digest or not tags:
            self.put_manifest(repo, digest, media_type, body)
        for tag_name in tags:
            self.put_manifest(repo, tag_name, media_type, body)
        return digest

    def tag(self, repo, tag, digest):
        """Point ``tag`` at the existing manifest ``digest`` (re-PUT of the same bytes)."""
        media_type, body = self.get_manifest(repo, digest)
        return self.put_manifest(repo, tag, media_type, body)

    def get_manifest(self, repo, ref):
        """Return ``(media_type, raw_bytes)`` of a manifest by tag or digest."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        return media_type, resp.content

    def resolve(self, repo, tag):
        """Digest ``tag`` points to (HEAD with the full Accept list), or None."""
        resp = self.request("HEAD", f"/v2/{repo}/manifests/{tag}", ok=(200, 404), headers={"Accept": MANIFEST_ACCEPT})
        if resp.status_code == 404:
            return None
        return resp.headers["Docker-Content-Digest"]

    def manifest_exists(self, repo, digest):
        """True when the manifest ``digest`` is in ``repo``."""
        return self.resolve(repo, digest) is not None

    def delete_manifest(self, repo, ref, ok=(202,)):
        """DELETE a manifest (by digest); returns the response."""
        return self.request("DELETE", f"/v2/{repo}/manifests/{ref}", ok=ok)

    # -- listings -----------------------------------------------------------
    def tags(self, repo):
        """Sorted tag list; [] when the repository is unknown."""
        resp = self.request("GET", f"/v2/{repo}/tags/list", ok=(200, 404))
        if resp.status_code == 404:
            return []
        return sorted(resp.json().get("tags") or [])

    def tag_map(self, repo):
        """``{tag: digest}`` for every tag of ``repo``."""
        return {t: self.resolve(repo, t) for t in self.tags(repo)}

    def catalog(self, page_size=None):
        """All repositories, following relative ``Link: <...>; rel="next"`` pagination."""
        path = "/v2/_catalog" + (f"?n={int(page_size)}" if page_size else "")
        repos = []
        while path:
            resp = self.request("GET", path)
            repos.extend(resp.json().get("repositories") or [])
            match = _LINK_RE.search(resp.headers.get("Link", ""))
            path = urljoin(self.url + "/", match.group(1)) if match else None
        return repos


def referrers_tag(digest, suffix=None):
    """``sha256:<hex>`` → the tag ``sha256-<hex>`` (the referrers tag schema), or ``sha256-<hex>.<suffix>`` (cosign)."""
    return digest.replace(":", "-", 1) + (f".{suffix}" if suffix else "")


def random_hex(nbytes=16):
    """Random hex string (unique content)."""
    return secrets.token_hex(nbytes)


def seed_standard(client, prefix):
    """Build the standard fixture under ``<prefix>/``; returns a description of repos, tags and digests.

    * ``<p>/app``: v1, v1.0, latest -> one digest (2026-01-01); v2 (2026-02-01) and v3 (2026-03-01)
      unique; ``legacy`` is a Docker schema2 image (2025-06-01).
    * ``<p>/multi``: OCI index tagged ``1.0`` and ``latest`` over untagged linux/amd64 + linux/arm64 children.
    * ``<p>/lib``: tags ``1.0`` (2026-01-10) and ``2.0`` (2026-02-10), distinct digests.
    """
    app, multi, lib = prefix + "/app", prefix + "/multi", prefix + "/lib"
    v1 = client.push_image(app, ["v1", "v1.0", "latest"], created="2026-01-01T00:00:00Z", labels={"version": "1"})
    v2 = client.push_image(app, ["v2"], created="2026-02-01T00:00:00Z", labels={"version": "2"})
    v3 = client.push_image(app, ["v3"], created="2026-03-01T00:00:00Z", labels={"version": "3"})
    legacy = client.push_image(app, ["legacy"], created="2025-06-01T00:00:00Z", media="docker")
    amd64 = client.push_image(multi, [], created="2026-01-15T00:00:00Z", arch="amd64")
    arm64 = client.push_image(multi, [], created="2026-01-15T00:00:00Z", arch="arm64")
    index = client.push_index(multi, ["1.0", "latest"], children=[
        {"digest": amd64, "platform": {"architecture": "amd64", "os": "linux"}},
        {"digest": arm64, "platform": {"architecture": "arm64", "os": "linux"}},
    ])
    lib1 = client.push_image(lib, ["1.0"], created="2026-01-10T00:00:00Z")
    lib2 = client.push_image(lib, ["2.0"], created="2026-02-10T00:00:00Z")
    return {
        "prefix": prefix,
        "repos": {
            "app": app, "multi": multi, "lib": lib,
        },
        "app": {
            "repo": app,
            "tags": {"v1": v1, "v1.0": v1, "latest": v1, "v2": v2, "v3": v3, "legacy": legacy},
            "digests": {"v1": v1, "v2": v2, "v3": v3, "legacy": legacy},
            "created": {v1: "2026-01-01T00:00:00Z", v2: "2026-02-01T00:00:00Z", v3: "2026-03-01T00:00:00Z",
                        legacy: "2025-06-01T00:00:00Z"},
            "media_types": {v1: OCI_MANIFEST, v2: OCI_MANIFEST, v3: OCI_MANIFEST, legacy: DOCKER_MANIFEST},
        },
        "multi": {
            "repo": multi,
            "tags": {"1.0": index, "latest": index},
            "index": index,
            "children": {"linux/amd64": amd64, "linux/arm64": arm64},
            "media_types": {index: OCI_INDEX, amd64: OCI_MANIFEST, arm64: OCI_MANIFEST},
        },
        "lib": {
            "repo": lib,
            "tags": {"1.0": lib1, "2.0": lib2},
            "created": {lib1: "2026-01-10T00:00:00Z", lib2: "2026-02-10T00:00:00Z"},
        },
    }
