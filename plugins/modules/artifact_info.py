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
  - "On V(oci), referrers (signatures, SBOMs, attestations) carry RV(artifacts[].subject). Where the registry has the OCI 1.1
    referrers API (one probe per run decides; distribution 2.8 has none), each artifact's referrers are asked for, one
    request each on the worker pool, and a referrer no tag reaches is added as an untagged artifact. Everywhere, cosign's
    tags (C(sha256-<hex>.sig), C(.att), C(.sbom)) and the referrers tag schema (an index tagged C(sha256-<hex>)) name
    their subject. With O(digest), the API is not asked."
  - "Providers: V(oci), V(gcore) (push and pull times, no media type or platforms), V(vultr) (push and pull times, media
    type; a never-pulled artifact has C(pulled_at) V(null)), V(gitlab) (the tags grouped by digest, with size and GitLab's
    creation time), V(ncloud) (the tags grouped by digest, with size, times and platforms)."
  - "On V(gitlab), O(registry) is a project (C(acme/app) or its numeric id) or a group (C(group:acme)); repositories are full
    image paths. GitLab lists tags, not manifests: an artifact is a digest with at least one tag (untagged manifests are
    invisible to the API). Each tag's digest, size and time take one request per tag, run concurrently. C(size_bytes) is
    GitLab's C(total_size); C(pushed_at) is the newest and C(created_at) the oldest C(created_at) of its tags (GitLab's
    manifest creation time, normally the same for every tag of a digest); C(media_type) and C(pulled_at) are V(null), and
    C(platforms) and C(children) empty, because GitLab's API does not say."
  - "On V(github), O(registry) is the package owner (an organization, or V(user:<login>)) and repositories are its container
    packages on ghcr.io (every one when O(repository) is not set: GitHub lists at most 10,000, and the module warns when it
    stops there). An artifact is a package version: its digest is the version's name, its tags are the version's tags, and
    C(pushed_at) and C(created_at) are when GitHub created the version (its first push). C(size_bytes), C(media_type) and
    C(pulled_at) are V(null) and C(platforms) and C(children) empty: GitHub's API does not say. C(status) is V(active), or
    V(deleted) for the deleted versions O(deleted) adds."
  - "On V(ncloud), O(registry) is the NCR registry and repositories are its images. NCR lists tags, not manifests: an artifact
    is a digest with at least one tag (untagged manifests are invisible to the API), read from the tag list
    (C(GET .../tags), every page) alone. C(size_bytes) is NCR's C(full_size); C(pushed_at) the newest C(updated) of its
    tags' C(images[]), C(pulled_at) the newest C(latest_pulled), C(created_at) the oldest C(created); C(children) and
    C(platforms) come from C(images[]) (for an index, its platform manifests); C(media_type) is the image's C(mediaType) (for
    an index, V(null) unless NCR names it)."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(gitlab), a project (full path or numeric id) or C(group:<full path>).
      - On V(github), the package owner, an organization login (V(acme)) or V(user:<login>).
      - On V(ncloud), the NCR registry.
    type: str
  repository:
    description:
      - Repositories to list. When not set, every repository of the registry.
    type: list
    elements: str
  digest:
    description:
      - Only these digests (each C(sha256:...), or C(repository@sha256:...)).
      - On V(github) with O(records) and no O(repository), the digests need no repository (a C(repository@) prefix is
        ignored), and the module returns one entry per digest with only its records (C(repository) V(null)).
    type: list
    elements: str
  deleted:
    description:
      - V(github) only. Also list the deleted versions GitHub still lists (C(GET .../versions?state=deleted)), with C(status)
        V(deleted) and C(provider_data.deleted_at). GitHub can restore a version within 30 days of its deletion
        (M(regops.registry.artifact) with O(regops.registry.artifact#module:state=present)).
    type: bool
    default: false
    version_added: 0.3.0
  records:
    description:
      - V(github) only, for an organization. Add each digest's artifact metadata to C(provider_data), as
        C(storage_records) and C(deployment_records) (GitHub's lists for the digest, two requests per digest).
    type: bool
    default: false
    version_added: 0.3.0
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

- name: The versions of a ghcr.io package, deleted ones too (restorable for 30 days)
  regops.registry.artifact_info:
    provider: github
    registry: acme
    repository: [team/app]
    deleted: true
  register: versions

- name: The storage and deployment records GitHub keeps for two digests
  regops.registry.artifact_info:
    provider: github
    registry: acme
    digest:
      - sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      - sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
    records: true
  register: linked

- name: Every image of a GitLab project, by digest
  regops.registry.artifact_info:
    provider: gitlab
    registry: acme/app
  register: gitlab_snapshot

- name: Every digest of a Naver Cloud registry, with its tags, size, push and last-pull times
  regops.registry.artifact_info:
    provider: ncloud
    registry: builds
  register: ncr_snapshot
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
      description:
        - For a referrer (signature, SBOM, attestation), the digest of the artifact it refers to; V(null) otherwise.
        - On V(oci), the manifest's own C(subject); else the digest a cosign tag (C(sha256-<hex>.sig), C(.att), C(.sbom)) names;
          for the referrers tag schema's index (tagged C(sha256-<hex>)) and the manifests it lists, the digest of that tag; else
          the digest the referrers API listed it for. The subject may be gone from the repository (an orphaned referrer).
      type: str
    status:
      description: Lifecycle status where the provider keeps one; V(null) otherwise.
      type: str
    read_error:
      description: What could not be read for this artifact (for an index, for one of its descendants); V(null) when all was read.
      type: str
    provider_data:
      description:
        - Provider-specific extras. On V(oci) the C(artifact_type) (the manifest's C(artifactType), else its config media
          type; for an index its C(artifactType) or V(null)), the C(kind) (V(image), V(index), V(helm), V(signature), V(sbom),
          V(attestation) or V(other), from the media types, the artifact type, cosign tags and the layers' media types, as
          docs/oci.md details; a retention policy's C(artifact_types) selects by the same rules) and the manifest's
          C(annotations); C(config_created),
          the image config's own C(created) when it was before 1980; and C(throwaway) V(true) for a throwaway manifest of
          this collection that a tag was left on by a tag removal that could not finish (the cleanup role removes them).
        - On V(gitlab) C(revision), C(project_id), C(repository_id) and C(tags) (C(name), C(pushed_at), C(location)).
        - On V(github) C(version_id), C(html_url), C(package_html_url), C(deleted_at) (V(null) for an active version);
          with O(records) also C(storage_records) and C(deployment_records) (lists of GitHub's record objects).
        - On V(ncloud) C(tags) (C(name), C(pushed_at), C(pulled_at)).
      type: dict
    updated_at:
      description: When the provider last changed the artifact (V(github)); V(null) elsewhere.
      type: str
      returned: on V(github)
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
            deleted=dict(type="bool", default=False),
            records=dict(type="bool", default=False),
        ),
    )
    params = runner.params
    repositories = params["repository"]
    digests = []
    if params["digest"] and params["records"] and not repositories:
        # the records of digests, whatever package (if any) they are in
        digests = [{"registry": params["registry"], "repository": None, "digest": (d or "").rsplit("@", 1)[-1]} for d in params["digest"]]
    elif params["digest"]:
        try:
            digests = split_refs(params["digest"], (repositories or [None])[0] if len(repositories or []) == 1 else None, "@", "digest",
                                 registry=params["registry"])
        except ValueError as exc:
            runner.fail(str(exc))
        repositories = sorted(set((repositories or []) + [d["repository"] for d in digests]))
    runner.open("artifact", info=True, options=runner.set_away_from_default("deleted", "records"),
                validate=lambda p: p.validate("artifact", digests) or p.validate("repository", [
                    {"name": r, "registry": params["registry"]} for r in repositories or []]))
    runner.info("artifact", {"registry": params["registry"], "repository": repositories, "digests": digests, "deleted": params["deleted"],
                             "records": params["records"]}, "artifacts",
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
