# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Repositories, artifacts and tags of a provider that hosts registries and lists them. PRIVATE to the collection.

Gcore and Vultr (and the like) answer "the repositories of registry G" and "the artifacts of repository R of
registry G, each with its tags"; everything the ``repository``, ``artifact`` and ``tag`` modules and their ``*_info``
modules read follows from those two listings. A provider mixes ``HostedListing`` in and implements three hooks:

* ``_registry_exists(registry)`` → whether a registry of that name exists;
* ``_repositories(registry)`` → the registry's normalized repositories (raises ``NotFoundError`` for an unknown one);
* ``_list_artifacts(registry, repository)`` → the repository's normalized artifacts, each with
  ``provider_data.tags`` (``name``, ``pushed_at``, ``pulled_at`` at least).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HostedListing:
    """``list_``/``read_`` for repositories, artifacts and tags, from one listing per registry and per repository."""

    def list_repository(self, filters):
        if not filters.get("registry"):
            raise ValueError("provider %s needs registry: the name of the registry to list" % self.name)
        names = set(filters.get("name") or [])
        return sorted((r for r in self._repositories(filters["registry"]) if not names or r["name"] in names), key=lambda r: r["name"])

    def read_repository(self, items):
        found = {}
        for registry in set(item["registry"] for item in items):
            found[registry] = dict((r["name"], r) for r in self._repositories(registry)) if self._registry_exists(registry) else {}
        return [found[item["registry"]].get(item["name"]) for item in items]

    def _artifacts(self, registry, repositories=None):
        """{repository: [artifact]} for the named repositories (all when None); an unknown repository maps to None."""
        known = set(r["name"] for r in self._repositories(registry))
        wanted = sorted(set(repositories)) if repositories else sorted(known)
        found = {}
        for name, artifacts, error in self.client.run_bulk(lambda n: self._list_artifacts(registry, n) if n in known else None, wanted):
            if error is not None:
                raise error
            found[name] = artifacts
        return found

    def list_artifact(self, filters):
        if not filters.get("registry"):
            raise ValueError("provider %s needs registry: the name of the registry to list" % self.name)
        digests = set(d["digest"] for d in filters.get("digests") or [])
        result = []
        for artifacts in self._artifacts(filters["registry"], filters.get("repository")).values():
            result.extend(a for a in artifacts or [] if not digests or a["digest"] in digests)
        return sorted(result, key=lambda a: (a["repository"], a["digest"]))

    def _artifact_index(self, items):
        index = {}
        for registry in set(item["registry"] for item in items):
            repositories = [item["repository"] for item in items if item["registry"] == registry]
            for repository, artifacts in self._artifacts(registry, repositories).items():
                for artifact in artifacts or []:
                    index[(registry, repository, artifact["digest"])] = artifact
        return index

    def read_artifact(self, items):
        index = self._artifact_index(items)
        return [index.get((item["registry"], item["repository"], item["digest"])) for item in items]

    @staticmethod
    def _tags_of(artifact):
        return [{"repository": artifact["repository"], "name": t["name"], "digest": artifact["digest"], "pushed_at": t.get("pushed_at"),
                 "pulled_at": t.get("pulled_at")} for t in artifact["provider_data"]["tags"]]

    def list_tag(self, filters):
        names = set(filters.get("name") or [])
        tags = []
        for artifact in self.list_artifact({"registry": filters.get("registry"), "repository": filters.get("repository")}):
            tags.extend(t for t in self._tags_of(artifact) if not names or t["name"] in names)
        return sorted(tags, key=lambda t: (t["repository"], t["name"]))

    def read_tag(self, items):
        index = {}
        for key, artifact in self._artifact_index(items).items():
            for tag in self._tags_of(artifact):
                index[(key[0], key[1], tag["name"])] = tag
        return [index.get((item["registry"], item["repository"], item["name"])) for item in items]
