#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: artifact_info
short_description: List artifacts (manifests) with their tags, sizes, times and platforms
version_added: 0.1.0
description:
  - Lists every artifact of one, several or all repositories, by digest, with the tags on it, its media type,
    size, push/pull/created times where the registry has them, and for an index its children and platforms.
  - The output is the snapshot the C(regops.registry.cleanup) role and the P(regops.registry.retention_plan#filter)
    filter plan from.
  - A part of an artifact that cannot be read, after the retries (on V(oci) an image config, so its created time), does
    not fail the run and is not silently left out either; the artifact carries a RV(artifacts[].read_error), the run
    lists them all in RV(read_errors) and warns, and the cleanup role keeps such an artifact and counts it as an error.
  - "On V(oci): the artifacts reachable from a tag, and the children of the indexes among them (the OCI API has
    no way to list untagged manifests). C(created_at) comes from each image's config; C(pushed_at) and
    C(pulled_at) are V(null) because the API does not record them."
  - "Providers: V(oci), V(gcore) (push and pull times, no media type or platforms), V(vultr) (push and pull times, media
    type; a never-pulled artifact has C(pulled_at) V(null)), V(gitlab) (the tags grouped by digest, with size and GitLab's
    creation time)."
  - "On V(gitlab), O(registry) is a project (C(acme/app) or its numeric id) or a group (C(group:acme)); repositories are full
    image paths. GitLab lists tags, not manifests: an artifact is a digest with at least one tag (untagged manifests are
    invisible to the API). Each tag's digest, size and time take one request per tag, run concurrently. C(size_bytes) is
    GitLab's C(total_size); C(pushed_at) is the newest and C(created_at) the oldest C(created_at) of its tags (GitLab's
    manifest creation time, normally the same for every tag of a digest); C(media_type) and C(pulled_at) are V(null), and
    C(platforms) and C(children) empty, because GitLab's API does not say."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(gitlab), a project (full path or numeric id) or C(group:<full path>).
    type: str
  repository:
    description:
      - Repositories to list. When not set, every repository of the registry.
    type: list
    elements: str
  digest:
    description:
      - Only these digests (each C(sha256:...), or C(repository@sha256:...)).
    type: list
    elements: str
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - regops.registry.connection.info_module
  - ansible.builtin.action_common_attributes
attributes:
  platform:
    platforms: all
seealso:
  - module: regops.registry.artifact
  - module: regops.registry.tag_info
"""

EXAMPLES = r"""
- name: Snapshot two repositories
  regops.registry.artifact_info:
    provider: oci
    api_url: https://registry.example.com
    repository: [team/app, team/worker]
  register: snapshot

- name: Untagged children of indexes
  ansible.builtin.debug:
    msg: "{{ snapshot.artifacts | selectattr('tags', 'equalto', []) | map(attribute='digest') }}"

- name: Every image of a GitLab project, by digest
  regops.registry.artifact_info:
    provider: gitlab
    registry: acme/app
  register: gitlab_snapshot
"""

RETURN = r"""
artifacts:
  description: The artifacts, sorted by repository and digest.
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository of the artifact.
      type: str
      sample: team/app
    digest:
      description: The artifact's digest.
      type: str
    media_type:
      description: Media type of the manifest.
      type: str
    size_bytes:
      description: Size of the manifest and the blobs it references directly, in bytes (an index counts only itself).
      type: int
    tags:
      description: Tags on the artifact, sorted.
      type: list
      elements: str
    pushed_at:
      description: Push time (ISO 8601 UTC) where the provider records it; V(null) on V(oci).
      type: str
    pulled_at:
      description: Last pull time where the provider records it; V(null) on V(oci).
      type: str
    created_at:
      description:
        - The image's C(created) time from its config (for an index, its newest descendant's); V(null) when unknown.
        - A config C(created) before 1980 is not a real time (reproducible builds write 1970) and gives V(null); the
          config's own value is in C(provider_data.config_created).
      type: str
    platforms:
      description: Platforms (C(os/architecture[/variant])) of an index's children, or of the image itself.
      type: list
      elements: str
    children:
      description: For an index, its child manifests (C(digest), C(media_type), C(platform)); empty otherwise.
      type: list
      elements: dict
    subject:
      description: For a referrer (signature, SBOM), the digest it refers to; V(null) otherwise.
      type: str
    status:
      description: Lifecycle status where the provider keeps one; V(null) otherwise.
      type: str
    read_error:
      description: What could not be read for this artifact (for an index, for one of its descendants); V(null) when all was read.
      type: str
    provider_data:
      description:
        - Provider-specific extras. On V(oci) the C(artifact_type) and the manifest's C(annotations); C(config_created),
          the image config's own C(created) when it was before 1980; and C(throwaway) V(true) for a throwaway manifest of
          this collection that a tag was left on by a tag removal that could not finish (the cleanup role removes them).
        - On V(gitlab) C(revision), C(project_id), C(repository_id) and C(tags) (C(name), C(pushed_at), C(location)).
      type: dict
read_errors:
  description: Every artifact with a RV(artifacts[].read_error), as C(repository), C(digest) and C(msg); each is also a warning.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule, split_refs


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str"),
            repository=dict(type="list", elements="str"),
            digest=dict(type="list", elements="str"),
        ),
    )
    params = runner.params
    repositories = params["repository"]
    digests = []
    if params["digest"]:
        try:
            digests = split_refs(params["digest"], (repositories or [None])[0] if len(repositories or []) == 1 else None, "@", "digest",
                                 registry=params["registry"])
        except ValueError as exc:
            runner.fail(str(exc))
        repositories = sorted(set((repositories or []) + [d["repository"] for d in digests]))
    runner.open("artifact", info=True, validate=lambda p: p.validate("artifact", digests) or p.validate("repository", [
        {"name": r, "registry": params["registry"]} for r in repositories or []]))
    runner.info("artifact", {"registry": params["registry"], "repository": repositories, "digests": digests}, "artifacts",
                extra=lambda artifacts: {"read_errors": read_errors(artifacts, runner.module.warn)})


def read_errors(artifacts, warn):
    """Every artifact that could not be read whole, warned about (the first ten one by one) and listed."""
    found = [{"repository": a["repository"], "digest": a["digest"], "msg": a["read_error"]} for a in artifacts if a.get("read_error")]
    for entry in found[:10]:
        warn("%s@%s: %s" % (entry["repository"], entry["digest"], entry["msg"]))
    if len(found) > 10:
        warn("%d more artifacts could not be read whole; see read_errors" % (len(found) - 10))
    return found


if __name__ == "__main__":
    main()
