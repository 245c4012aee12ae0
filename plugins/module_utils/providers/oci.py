# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``oci`` provider: any OCI Distribution v2 registry. PRIVATE to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    urlsplit = None

from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ApiError, HeaderAuth, NotFoundError
from ansible_collections.regops.registry.plugins.module_utils import artifact_types, timestamps, validate
from ansible_collections.regops.registry.plugins.module_utils.oci import (
    INDEX_TYPES,
    THROWAWAY_ANNOTATION,
    OciAuth,
    OciRegistry,
)
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Action, AlreadyGone, Capability, Provider

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


def docker_config_paths():
    """Where docker-compatible tools keep credentials, in the order they are read."""
    paths = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(os.environ["REGISTRY_AUTH_FILE"])
    if os.environ.get("DOCKER_CONFIG"):
        paths.append(os.path.join(os.environ["DOCKER_CONFIG"], "config.json"))
    paths.append(os.path.expanduser("~/.docker/config.json"))
    return paths


def credentials_from_auth_file(host, paths=None):
    """(username, password, path) for ``host`` from a docker ``config.json``/containers ``auth.json``, or None."""
    keys = [host, "https://" + host, "http://" + host, "https://%s/v1/" % host, "https://%s/v2/" % host]
    if host in DOCKER_HUB_KEYS:
        keys.extend(DOCKER_HUB_KEYS)
    for path in paths or docker_config_paths():
        try:
            with open(path) as handle:
                auths = (json.load(handle) or {}).get("auths") or {}
        except (IOError, OSError, ValueError):
            continue
        for key in keys:
            entry = auths.get(key)
            if not entry:
                continue
            if entry.get("auth"):
                decoded = base64.b64decode(entry["auth"]).decode("utf-8")
                username, _sep, password = decoded.partition(":")
                return username, password, path
            if entry.get("username"):
                return entry["username"], entry.get("password"), path
    return None


def remove_tags_over_oci(actions, provider_for, image):
    """Tag removal for a provider whose API has none (Vultr, GitHub): the ``oci`` provider on the registry host removes
    the tags, siblings kept. ``provider_for(registry)`` is that ``OciProvider``, ``image(registry, repository)`` the
    repository's name on the host. Returns ``[(action, action.current, error)]`` in the order of ``actions``."""
    done = {}
    for registry in sorted(set(a.item["registry"] for a in actions)):
        mine = [a for a in actions if a.item["registry"] == registry]
        try:
            provider = provider_for(registry)
        except ApiError as exc:
            done.update((id(a), (a, None, exc)) for a in mine)
            continue
        translated = [Action(a.kind, dict(a.item, repository=image(registry, a.item["repository"])), a.current, a.desired) for a in mine]
        for action, (_oci_action, _result, error) in zip(mine, provider.apply_tag(translated)):
            done[id(action)] = (action, action.current, error)
    return [done[id(a)] for a in actions]


class OciProvider(Provider):
    name = "oci"
    capabilities = {
        "registry": Capability(notes="an OCI Distribution registry is the api_url itself; it has no API to create, resize or list registries"),
        "registry_user": Capability(notes="the OCI Distribution API has no users; accounts live in the registry's own auth "
                                          "(htpasswd, token service, Harbor robot accounts)"),
        "repository": Capability(states=("absent",), info=True,
                                 notes="repositories exist once an image is pushed; absent deletes every manifest in it"),
        "artifact": Capability(states=("present", "absent"), info=True, options=("expected_tags",)),
        "tag": Capability(states=("present", "absent"), info=True, options=("digest", "source", "expected_digests")),
    }

    def __init__(self, params, warn=None, manifest_deleter=None):
        super(OciProvider, self).__init__(params, warn)
        self.registry = None
        self.secrets = []
        # see OciRegistry: for a registry whose own API deletes manifests (the github provider on ghcr.io)
        self.manifest_deleter = manifest_deleter

    # -- connection -------------------------------------------------------
    def validate_provider(self, resource, items, desired):
        self.base_url()

    def base_url(self):
        url = self.params.get("api_url")
        if not url:
            raise ValueError("provider 'oci' needs api_url: the registry's base URL, for example https://registry.example.com")
        if "://" not in url:
            url = "https://" + url
        return url.rstrip("/")

    def host(self):
        return urlsplit(self.base_url()).netloc

    def connect(self):
        base = self.base_url()
        username, password = self.params.get("api_username"), self.params.get("api_password")
        token = self.params.get("api_token")
        if username and password is None and token:
            password = token
        if username is None and token is None:
            found = credentials_from_auth_file(self.host())
            if found:
                username, password = found[0], found[1]
                self.secrets.append(password)
        if username is None and token:
            auth = HeaderAuth("Authorization", "Bearer " + token)
        else:
            auth = OciAuth(username, password)
        self.client = ApiClient(base, auth=auth, validate_certs=self.params["validate_certs"], ca_path=self.params.get("ca_path"),
                                timeout=self.params["timeout"], retries=self.params["retries"], concurrency=self.params["concurrency"],
                                warn=self.warn)
        self.registry = OciRegistry(self.client, auth, manifest_deleter=self.manifest_deleter)
        self.registry.probe()

    # -- helpers ------------------------------------------------------------
    def location(self, repository):
        return "%s/%s" % (self.host(), repository)

    def _tag_maps(self, repositories):
        """{repository: {tag: digest}} for every tag of each repository (None for an unknown repository)."""
        listed = self.client.run_bulk(self.registry.tags, sorted(set(repositories)))
        pairs, maps = [], {}
        for repository, tags, error in listed:
            if error is not None:
                raise error
            maps[repository] = None if tags is None else {}
            pairs.extend((repository, tag) for tag in tags or [])
        for (repository, tag), digest, error in self.client.run_bulk(lambda p: self.registry.head_manifest(p[0], p[1]), pairs):
            if error is not None:
                raise error
            if digest:
                maps[repository][tag] = digest
        return maps

    @staticmethod
    def _by_digest(tag_map):
        found = {}
        for tag, digest in (tag_map or {}).items():
            found.setdefault(digest, []).append(tag)
        return dict((d, sorted(t)) for d, t in found.items())

    def _artifact(self, repository, manifest, tags, config=None, read_error=None):
        platforms = [c["platform"] for c in manifest.children() if c.get("platform")]
        if config and not manifest.is_index and config.get("os"):
            platforms = ["%s/%s%s" % (config.get("os"), config.get("architecture"), "/" + config["variant"] if config.get("variant") else "")]
        body = manifest.body
        tags = sorted(tags or [])
        annotations = body.get("annotations") or {}
        created = (config or {}).get("created")
        artifact_type = body.get("artifactType") or ((body.get("config") or {}).get("mediaType") if not manifest.is_index else None)
        layer_types = [layer.get("mediaType") for layer in body.get("layers") or [] if isinstance(layer, dict)]
        # A referrer names its subject in the manifest (OCI 1.1); cosign's tags and the referrers tag schema name it in the tag.
        subject = (body.get("subject") or {}).get("digest") if isinstance(body.get("subject"), dict) else None
        subject = subject or artifact_types.subject_from_tags(tags, manifest.is_index)
        provider_data = {
            "artifact_type": artifact_type,
            "kind": artifact_types.classify(INDEX_TYPES[0] if manifest.is_index else manifest.media_type, artifact_type, tags,
                                            layer_types, annotations) or "other",
            "annotations": annotations,
        }
        if created is not None and not timestamps.is_real(created):
            # Reproducible builds (SOURCE_DATE_EPOCH, ko, Bazel, Nix) write 1970: not when the image was made.
            provider_data["config_created"] = created
            created = None
        if THROWAWAY_ANNOTATION in annotations:
            provider_data["throwaway"] = True
        return {
            "repository": repository,
            "digest": manifest.digest,
            "media_type": manifest.media_type,
            "size_bytes": manifest.size(),
            "tags": tags,
            "pushed_at": None,
            "pulled_at": None,
            "created_at": created,
            "platforms": platforms,
            "children": manifest.children(),
            "subject": subject if subject != manifest.digest else None,
            "status": None,
            "read_error": read_error,
            "provider_data": provider_data,
        }

    def _describe(self, refs, tag_maps, with_config=True):
        """Normalized artifacts for ``[(repository, digest)]``; index children are described too.

        ``with_config`` False skips the image configs (``created_at`` and an image's platform stay null):
        a module that only needs to know what it is about to delete saves one request per image. An image
        config that cannot be read (after the client's retries) is reported in the artifact's ``read_error``,
        and so in every index above it.
        """
        manifests = {}
        pending = sorted(set(refs))
        while pending:
            fetched = self.client.run_bulk(lambda r: self.registry.get_manifest(r[0], r[1]), pending)
            following = set()
            for ref, manifest, error in fetched:
                if error is not None:
                    raise error
                if manifest is None:
                    continue
                manifests[ref] = manifest
                following.update((ref[0], child["digest"]) for child in manifest.children())
            pending = sorted(following - set(manifests))
        configs, read_errors = {}, {}
        wanted = [(ref, m.blobs()[0]) for ref, m in manifests.items() if with_config and not m.is_index and m.blobs()]
        for (ref, descriptor), config, error in self.client.run_bulk(lambda w: self.registry.image_config(w[0][0], w[1]), wanted):
            configs[ref] = config
            if error is not None:
                read_errors[ref] = "image config could not be read: %s" % error
        artifacts = {}
        by_digest = {}  # repository -> {digest: [tags]}, built once per repository (not once per artifact)
        for ref, manifest in manifests.items():
            if ref[0] not in by_digest:
                by_digest[ref[0]] = self._by_digest(tag_maps.get(ref[0]))
            tags = by_digest[ref[0]].get(manifest.digest, [])
            artifacts[ref] = self._artifact(ref[0], manifest, tags, configs.get(ref), read_errors.get(ref))
        self._inherit_from_children(artifacts)
        self._subjects_from_tag_schema(artifacts)
        return artifacts

    @staticmethod
    def _subjects_from_tag_schema(artifacts):
        """The referrers tag schema (OCI 1.1, for registries without the referrers API): the index tagged
        ``sha256-<hex>`` lists the referrers of that digest. A listed manifest that names no subject itself gets it."""
        for ref, artifact in artifacts.items():
            subject = artifact_types.tag_schema_subject(artifact["tags"]) if artifact["children"] else None
            for child in artifact["children"] if subject else ():
                listed = artifacts.get((ref[0], child["digest"]))
                if listed is not None and not listed["subject"] and listed["digest"] != subject:
                    listed["subject"] = subject

    def _add_referrers(self, artifacts, tag_maps):
        """Add the referrers the OCI 1.1 referrers API knows of to ``artifacts``, where the registry has the API.

        One request per artifact (any manifest may be a subject): the first alone, since its answer tells whether the
        registry has the API at all (without it, no other is sent), then the rest on the worker pool. A referrer not
        yet listed (an untagged manifest, which nothing else finds) is read like any artifact, and asked about in
        turn. A referrer whose manifest names no subject gets the digest it was listed for.
        """
        asked = set()
        while self.registry.referrers_api is not False:
            pending = sorted(ref for ref, a in artifacts.items() if ref not in asked and not a["provider_data"].get("throwaway"))
            if not pending:
                return
            if self.registry.referrers_api is None:
                pending = pending[:1]
            asked.update(pending)
            found = {}
            for ref, descriptors, error in self.client.run_bulk(lambda r: self.registry.referrers(r[0], r[1]), pending):
                if error is not None:
                    raise error
                for descriptor in descriptors or ():
                    found.setdefault((ref[0], descriptor["digest"]), ref[1])
            new = sorted(key for key in found if key not in artifacts)
            if new:
                artifacts.update((key, artifact) for key, artifact in self._describe(new, tag_maps).items() if key not in artifacts)
            for key, subject in found.items():
                if key in artifacts and not artifacts[key]["subject"] and key[1] != subject:
                    artifacts[key]["subject"] = subject

    @staticmethod
    def _inherit_from_children(artifacts):
        """An index has no config: it is as old as its newest descendant, and unreadable where one of them is."""
        settled = set()

        def settle(ref, path):
            artifact = artifacts[ref]
            if ref in settled or ref in path or not artifact["children"]:
                return artifact
            created, errors = [], []
            for child in artifact["children"]:
                key = (ref[0], child["digest"])
                if key in artifacts:
                    described = settle(key, path | frozenset([ref]))
                    created.append(described["created_at"])
                    if described["read_error"]:
                        errors.append("%s: %s" % (child["digest"], described["read_error"]))
            if not artifact["created_at"]:
                artifact["created_at"] = timestamps.newest(created)
            if errors and not artifact["read_error"]:
                artifact["read_error"] = "child " + "; child ".join(errors)
            settled.add(ref)
            return artifact

        for ref in sorted(artifacts):
            settle(ref, frozenset())

    # -- repositories -------------------------------------------------------
    def list_repository(self, filters):
        names = filters.get("name") or self.registry.catalog()
        if filters.get("name"):
            found = self.client.run_bulk(self.registry.tags, names)
            names = [name for name, tags, error in found if error is None and tags is not None]
        return [self._repository(name) for name in sorted(names)]

    def _repository(self, name, manifests=None):
        repository = {"name": name, "id": None, "location": self.location(name), "artifact_count": None, "pull_count": None,
                      "size_bytes": None, "description": None, "created_at": None, "updated_at": None, "provider_data": {}}
        if manifests is not None:
            repository["manifests"] = manifests
        return repository

    def read_repository(self, items):
        found = []
        tag_maps = self._tag_maps([item["name"] for item in items])
        for item in items:
            tag_map = tag_maps.get(item["name"])
            if not tag_map:
                found.append(None)
                continue
            artifacts = self._describe([(item["name"], d) for d in set(tag_map.values())], tag_maps)
            manifests = sorted(({"digest": a["digest"], "media_type": a["media_type"], "tags": a["tags"],
                                 "children": [c["digest"] for c in a["children"]]} for a in artifacts.values()),
                               key=lambda m: (bool(m["children"]) is False, m["digest"]))
            found.append(self._repository(item["name"], manifests))
        return found

    def delete_repository(self, item, current):
        # Indexes first, so that no surviving index ever points at a deleted manifest.
        for manifest in current["manifests"]:
            self.registry.delete_manifest(item["name"], manifest["digest"])
        return current

    # -- artifacts ------------------------------------------------------------
    def list_artifact(self, filters):
        repositories = filters.get("repository") or self.registry.catalog()
        tag_maps = self._tag_maps(repositories)
        refs = []
        for repository in repositories:
            refs.extend((repository, digest) for digest in set((tag_maps.get(repository) or {}).values()))
        refs.extend((item["repository"], item["digest"]) for item in filters.get("digests") or [])
        artifacts = self._describe(refs, tag_maps)
        if not filters.get("digests"):
            # Chosen digests are described whatever they are: the referrers of the others would only be filtered out.
            self._add_referrers(artifacts, tag_maps)
        wanted = set(d["digest"] for d in filters.get("digests") or [])
        result = [a for a in artifacts.values() if not wanted or a["digest"] in wanted]
        return sorted(result, key=lambda a: (a["repository"], a["digest"]))

    def read_artifact(self, items):
        tag_maps = self._tag_maps([item["repository"] for item in items])
        artifacts = self._describe([(item["repository"], item["digest"]) for item in items], tag_maps, with_config=False)
        parents = dict((repository, self._index_parents(repository, tag_maps.get(repository))) for repository in tag_maps)
        found = []
        for item in items:
            artifact = artifacts.get((item["repository"], item["digest"]))
            if artifact is not None:
                artifact = dict(artifact, referenced_by=sorted(parents[item["repository"]].get(item["digest"], ())))
            found.append(artifact)
        return found

    def _index_parents(self, repository, tag_map):
        """{digest: {indexes that list it}} for the indexes reachable from the tags of ``repository``.

        The tags were resolved with HEAD, which told each manifest's media type: only indexes are fetched.
        """
        parents = {}
        pending = sorted(set(d for d in (tag_map or {}).values() if self.registry.media_types.get((repository, d)) in INDEX_TYPES))
        seen = set(pending)
        while pending:
            following = []
            for digest, manifest, error in self.client.run_bulk(lambda d: self.registry.get_manifest(repository, d), pending):
                if error is not None:
                    raise error
                for child in (manifest.children() if manifest else []):
                    parents.setdefault(child["digest"], set()).add(digest)
                    if child.get("media_type") in INDEX_TYPES and child["digest"] not in seen:
                        seen.add(child["digest"])
                        following.append(child["digest"])
            pending = following
        return parents

    def delete_artifact(self, item, current):
        if not self.registry.delete_manifest(item["repository"], item["digest"]):
            raise AlreadyGone.since_read()
        return current

    # -- tags -----------------------------------------------------------------
    def list_tag(self, filters):
        repositories = filters.get("repository") or self.registry.catalog()
        tag_maps = self._tag_maps(repositories)
        names = set(filters.get("name") or [])
        tags = []
        for repository in sorted(tag_maps):
            for name, digest in sorted((tag_maps[repository] or {}).items()):
                if not names or name in names:
                    tags.append(self._tag(repository, name, digest))
        return tags

    @staticmethod
    def _tag(repository, name, digest):
        return {"repository": repository, "name": name, "digest": digest, "pushed_at": None, "pulled_at": None}

    def read_tag(self, items):
        tag_maps = {}
        listed = self.client.run_bulk(self.registry.tags, sorted(set(item["repository"] for item in items)))
        for repository, tags, error in listed:
            if error is not None:
                raise error
            tag_maps[repository] = set(tags or [])
        present = [item for item in items if item["name"] in tag_maps[item["repository"]]]
        digests = {}
        for item, digest, error in self.client.run_bulk(lambda i: self.registry.head_manifest(i["repository"], i["name"]), present):
            if error is not None:
                raise error
            digests[(item["repository"], item["name"])] = digest
        return [self._tag(item["repository"], item["name"], digests[(item["repository"], item["name"])])
                if digests.get((item["repository"], item["name"])) else None for item in items]

    def resolve_source(self, repository, source=None, digest=None):
        """The (repository, digest) a tag should point at, from ``digest`` or a ``source`` tag/reference. Read-only."""
        source_repository = repository
        ref = digest
        if source:
            if "@" in source:
                source_repository, ref = source.split("@", 1)
            elif ":" in source:
                source_repository, ref = source.rsplit(":", 1)
            else:
                ref = source
            validate.repository_name(source_repository)
        resolved = self.registry.head_manifest(source_repository, ref)
        if resolved is None:
            raise NotFoundError("%s %s not found in repository %s" % ("digest" if ref.startswith("sha256:") else "tag", ref, source_repository))
        return source_repository, resolved

    def is_leftover(self, item, current):
        """A tag on a throwaway manifest of this collection was being removed by a run that could not finish."""
        return self.registry.is_throwaway(item["repository"], current["digest"])

    def changes_tag(self, item, current, desired):
        return {"digest": desired["digest"]} if current.get("digest") != desired["digest"] else {}

    def predict(self, resource, action):
        if resource == "tag" and action.kind != "delete":
            return self._tag(action.item["repository"], action.item["name"], action.desired["digest"])
        return super(OciProvider, self).predict(resource, action)

    def apply_tag(self, actions):
        deletes = [a for a in actions if a.kind == "delete"]
        outcome = {}
        by_repository = {}
        for action in deletes:
            by_repository.setdefault(action.item["repository"], []).append(action)
        # Repositories side by side, the tags of each on the rest of the worker budget.
        outer = max(1, min(self.client.concurrency, len(by_repository)))
        inner = max(1, self.client.concurrency // outer)

        def untag(repository):
            actions = by_repository[repository]
            tags = dict((a.item["name"], a.current["digest"]) for a in actions)
            # With expected digests, each tag is read again right before it is touched: one pushed again since is left alone.
            recheck = any(a.desired.get("recheck") for a in actions)
            return self.registry.remove_tags(repository, tags, concurrency=inner, recheck=recheck)

        for repository, removed, error in self.client.run_bulk(untag, sorted(by_repository), concurrency=outer):
            for action in by_repository[repository]:
                _done, item_error = (removed or {}).get(action.item["name"], (None, error))
                outcome[id(action)] = (action, action.current, error or item_error)
        writes = [a for a in actions if a.kind != "delete"]
        # Each manifest is made present in each target repository once (blobs, children, the manifest by digest), then
        # its tags are put side by side: copying the same blobs for several tags at once races in distribution's cache.
        sources = sorted(set((a.desired["source_repository"], a.desired["digest"], a.item["repository"]) for a in writes))
        present = dict((key, (manifest, error)) for key, manifest, error in self.client.run_bulk(
            lambda key: self.registry.ensure_manifest(*key), sources))

        def point(action):
            manifest, error = present[(action.desired["source_repository"], action.desired["digest"], action.item["repository"])]
            if error is not None:
                raise error
            self.registry.put_manifest(action.item["repository"], action.item["name"], manifest.media_type, manifest.raw)
            return self._tag(action.item["repository"], action.item["name"], action.desired["digest"])

        for action, result, error in self.client.run_bulk(point, writes):
            outcome[id(action)] = (action, result, error)
        return [outcome[id(a)] for a in actions]
