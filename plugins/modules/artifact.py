#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: artifact
short_description: Delete artifacts (manifests) by digest, or make sure they exist
version_added: 0.1.0
description:
  - With O(state=absent), deletes each artifact in O(digest). Deleting an artifact removes every tag that points
    at it, and the result lists which tags went with it.
  - With O(expected_tags), a digest is deleted only when the tags on it now are among the ones expected. A tag
    pushed onto it since you looked is never lost, because the digest is skipped and reported instead.
  - A manifest that a tagged index of the same repository lists (a platform image of a multi-arch image) is not
    deleted unless that index is deleted in the same call; it is skipped and reported, so no image is left pointing
    at a missing manifest. The index is deleted first.
  - With O(state=present), only checks that each artifact exists and returns it; the module does not push
    images. It fails when one is missing.
  - Many digests are one module call, run concurrently (O(concurrency)) over one keep-alive connection.
  - "On V(oci), deleting an image index leaves its child manifests in the registry (untagged) until they are
    deleted too or the registry's garbage collection removes them. Storage is reclaimed only by the registry's
    garbage collection."
  - "Providers: V(oci), V(gcore), V(vultr) (each deletes by digest with the provider's own API where it has one), V(gitlab)
    (by deleting every tag on the digest)."
  - "On V(gitlab), GitLab's API deletes by tag only: deleting an artifact deletes every tag on its digest (one request each),
    and GitLab's garbage collection then removes the untagged manifest (on GitLab.com automatically, on Self-Managed when an
    administrator runs it). Each tag is read again right before: when one no longer points at the digest, nothing is deleted
    and the digest is reported V(skipped) with reason V(tags_changed). Tags a tag protection rule names go first, so a
    protected tag (HTTP 403) stops the delete before another tag of the digest is removed. A digest with no tag is invisible
    to GitLab's API and is reported V(absent): its garbage collection removes it."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(gitlab), the project, by its full path (V(acme/app)) or numeric id.
    type: str
  repository:
    description:
      - The repository of the artifacts. Not needed when every entry of O(digest) is written as C(repository@digest).
    type: str
  digest:
    description:
      - One digest or a list (C(sha256:...)). An entry C(repository@sha256:...) names its own repository, so one call
        can work on many repositories.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(absent) deletes the artifacts; V(present) checks that they exist.
    type: str
    choices: [present, absent]
    default: present
  expected_tags:
    description:
      - Only with O(state=absent). A mapping from a digest (or C(repository@digest)) to the tags you expect on it.
        When the artifact now carries a tag that is not in its list, it is not deleted; it is reported in RV(actions)
        with V(skipped) and the reason. Digests not in the mapping are deleted unconditionally.
      - The C(regops.registry.cleanup) role uses this to re-check its plan just before deleting.
    type: dict
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the registry (including the O(expected_tags) check), reports what would be deleted, and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.artifact_info
  - module: regops.registry.tag
"""

EXAMPLES = r"""
- name: Delete two images and every tag on them
  regops.registry.artifact:
    provider: oci
    api_url: https://registry.example.com
    repository: team/app
    digest:
      - sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      - sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
    state: absent

- name: Delete only if nobody tagged it since the plan was made
  regops.registry.artifact:
    provider: oci
    api_url: https://registry.example.com
    digest: team/app@sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    expected_tags:
      team/app@sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b: [pr-101, pr-101-amd64]
    state: absent

- name: Delete an image of a GitLab project by digest (every tag on it goes)
  regops.registry.artifact:
    provider: gitlab
    registry: acme/app
    repository: acme/app/worker
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    state: absent
"""

RETURN = r"""
artifacts:
  description:
    - For O(state=absent), the artifacts deleted, as they were before (with the tags that went with them). For
      O(state=present), the artifacts found. Skipped and already-absent digests are not listed.
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
      sample: application/vnd.oci.image.manifest.v1+json
    size_bytes:
      description: Size of the manifest and the blobs it references directly, in bytes (an index counts only itself).
      type: int
    tags:
      description: The tags on the artifact (for a deleted one, the tags that went with it).
      type: list
      elements: str
    pushed_at:
      description: Push time where the provider records it (ISO 8601 UTC); V(null) on V(oci).
      type: str
    pulled_at:
      description: Last pull time where the provider records it; V(null) on V(oci).
      type: str
    created_at:
      description:
        - Creation time where the provider records it. V(null) on V(oci), where this module does not read image configs
          (one request per image saved); M(regops.registry.artifact_info) returns it.
      type: str
    platforms:
      description: Platforms (C(os/architecture[/variant])) of an index's children.
      type: list
      elements: str
    children:
      description: For an index, its child manifests (C(digest), C(media_type), C(platform)).
      type: list
      elements: dict
    subject:
      description: For a referrer (signature, SBOM), the digest it refers to.
      type: str
    referenced_by:
      description: The indexes, reachable from a tag of the same repository, that list this manifest (V(oci)).
      type: list
      elements: str
      returned: on V(oci)
    status:
      description: Lifecycle status where the provider keeps one; V(null) otherwise.
      type: str
    provider_data:
      description:
        - Provider-specific extras.
        - On V(gitlab) C(revision), C(project_id), C(repository_id) and C(tags) (C(name), C(pushed_at), C(location)).
      type: dict
actions:
  description: What happened to each digest, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(repository@digest).
      type: str
    action:
      description: One of V(deleted), V(unchanged) (present and found), V(absent), V(skipped), V(failed).
      type: str
    reason:
      description:
        - Why an item was skipped. V(tags_changed) (it carries a tag O(expected_tags) did not list, or on V(gitlab) one of its
          tags no longer points at it) or V(index_child) (an index that stays lists it).
      type: str
      returned: when an item was skipped
    msg:
      description: Why an item was skipped or failed.
      type: str
      returned: when an item was skipped or failed
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule, split_refs


def deletion_guards(items, expected):
    """The engine's skip rule for state=absent: what must hold for a digest to be deleted."""
    deleting = set((item["repository"], item["digest"]) for item in items)

    def check(item, current):
        kept_parents = [p for p in current.get("referenced_by") or [] if (item["repository"], p) not in deleting]
        if kept_parents:
            return "index_child", ("index(es) %s list this manifest and stay; deleting it would break them: delete the index too"
                                   % ", ".join(kept_parents))
        wanted = expected.get("%s@%s" % (item["repository"], item["digest"]), expected.get(item["digest"]))
        if wanted is None:
            return None
        extra = sorted(set(current.get("tags") or []) - set(wanted))
        if extra:
            return "tags_changed", "tag(s) %s now point at this digest but were not expected; not deleted" % ", ".join(extra)
        return None
    return check


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str"),
            repository=dict(type="str"),
            digest=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            expected_tags=dict(type="dict"),
        ),
    )
    params = runner.params
    if params["expected_tags"] is not None and params["state"] != "absent":
        runner.fail("expected_tags only applies to state=absent")
    try:
        items = split_refs(params["digest"], params["repository"], "@", "digest", registry=params["registry"])
        expected = dict((key, [str(t) for t in (value or [])]) for key, value in (params["expected_tags"] or {}).items())
    except (ValueError, TypeError) as exc:
        runner.fail(str(exc))
    runner.open("artifact", state=params["state"], options=["expected_tags"] if expected else [],
                validate=lambda p: p.validate("artifact", items))
    runner.ensure("artifact", items, params["state"], skip_if=deletion_guards(items, expected), can_create=False)


if __name__ == "__main__":
    main()
