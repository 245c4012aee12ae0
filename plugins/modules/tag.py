#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tag
short_description: Point tags at a manifest, or remove tags without touching the manifest
version_added: 0.1.0
description:
  - With O(state=present), points each tag in O(name) at a digest (O(digest)), or at the manifest another tag
    names (O(source)) to retag or promote, in the same repository or across repositories of the same registry.
    A tag already on that digest is left alone.
  - With O(state=absent), removes each tag in O(name). Only the tag goes; the manifest and every other tag on
    the same digest stay.
  - "On V(oci): a registry that implements the OCI 1.1 tag C(DELETE) is asked to untag; otherwise (distribution
    2.8, Harbor's C(/v2)) every tag to remove in a repository is pointed at one throwaway manifest made for this
    run, and that manifest's digest is deleted, which removes exactly those tags. The registry must allow
    manifest deletes; this is checked before any tag is touched. The throwaway's two small blobs stay until the
    registry's garbage collection."
  - Many tags are one module call, run concurrently (O(concurrency)) over one keep-alive connection.
  - "Providers: V(oci) (O(state=present) and O(state=absent)), V(gcore) (O(state=absent) only: Gcore has no API to create a tag),
    V(vultr) (O(state=absent) only, over the OCI API of the registry host C(<region>.vultrcr.com) with credentials
    minted for the run, exactly as on V(oci): Vultr's API has no tag delete)."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
    type: str
  repository:
    description:
      - The repository of the tags. Not needed when every entry of O(name) is written as C(repository:tag).
    type: str
  name:
    description:
      - One tag or a list of tags. An entry C(repository:tag) names its own repository, so one call can work on
        many repositories.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) points the tags at O(digest) or O(source); V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  digest:
    description:
      - The digest (C(sha256:...)) the tags must point at, in O(repository). With O(state=present) one of
        O(digest) or O(source) is required.
    type: str
  source:
    description:
      - Another reference whose manifest the tags must point at, resolved when the task runs. A tag of the same
        repository (V(v1.2.3)), a tag of another repository of the same registry (V(staging/app:v1.2.3)), or a
        digest reference (V(staging/app@sha256:...)). Blobs and index children are copied (mounted) into the
        target repository as needed.
    type: str
  expected_digests:
    description:
      - Only with O(state=absent). A mapping from a tag (C(repository:tag), or a bare tag when O(repository) is set) to
        the digest you expect it to point at. A tag that points at another digest (it was pushed again since you
        looked) is not removed and is reported in RV(actions) with V(skipped) and reason V(moved). Tags not in the
        mapping are removed whatever they point at.
      - With this option, each tag is also read again immediately before it is touched (one more C(HEAD) per tag on
        V(oci)), so the window in which a push can still be lost is one round trip.
      - A tag found on a throwaway manifest of this collection (left by a removal that could not finish) is removed
        whatever the mapping says.
      - The C(regops.registry.cleanup) role passes the digests its plan saw.
    type: dict
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the registry, reports what would change, and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.tag_info
  - module: regops.registry.artifact
"""

EXAMPLES = r"""
- name: Promote the tested build to production
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    api_username: ci
    api_password: "{{ registry_password }}"
    repository: team/app
    name: production
    source: v1.4.2

- name: Copy a release into another repository under two tags
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    repository: release/app
    name: [v1.4.2, stable]
    source: team/app:v1.4.2

- name: Remove tags only if they still point where the plan saw them (a tag pushed again since is skipped)
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    name: [team/app:pr-101, team/app:pr-102]
    expected_digests:
      team/app:pr-101: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      team/app:pr-102: sha256:9c1e2f0a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e
    state: absent

- name: Remove many tags in one call; other tags on the same digests survive
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    name:
      - team/app:pr-101
      - team/app:pr-102
      - team/worker:pr-101
    state: absent
"""

RETURN = r"""
tags:
  description:
    - The tags the task named. For O(state=present), as they are after the run; for O(state=absent), the tags
      that were removed, as they were before. A tag that was already absent, skipped or failed is not listed (see
      RV(actions)).
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository of the tag.
      type: str
      sample: team/app
    name:
      description: The tag.
      type: str
      sample: v1.4.2
    digest:
      description: The digest the tag points (or pointed) at.
      type: str
      sample: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    pushed_at:
      description: When the tag was pushed, where the provider records it; V(null) on V(oci).
      type: str
    pulled_at:
      description: When the tag was last pulled, where the provider records it; V(null) on V(oci).
      type: str
actions:
  description: What happened to each tag, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(repository:tag).
      type: str
      sample: team/app:pr-101
    action:
      description:
        - One of V(created), V(updated), V(deleted), V(unchanged), V(absent), V(skipped), V(restored), V(failed).
        - V(restored) (V(oci)) means the removal could not be finished (the throwaway manifest could not be deleted) and
          the tag was pointed back at the digest it had; the item counts as failed and C(changed) is V(true), since
          the registry was written to.
      type: str
      sample: deleted
    reason:
      description: Why an item was skipped; V(moved) when it no longer points at its O(expected_digests) entry.
      type: str
      returned: when an item was skipped
    msg:
      description: Why an item was skipped, restored or failed, and where the tag points now.
      type: str
      returned: when an item was skipped, restored or failed
"""

from ansible_collections.regops.registry.plugins.module_utils import validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule, split_refs


def expected_digest_map(value, repository):
    """``expected_digests`` as ``{(repository, tag): digest}``, every key and value validated."""
    found = {}
    for key, digest in (value or {}).items():
        item = split_refs([key], repository, ":", "tag")[0]
        validate.repository_name(item["repository"])
        validate.tag_name(item["name"])
        found[(item["repository"], item["name"])] = validate.digest(digest)
    return found


def moved_guard(expected, provider):
    """The engine's skip rule for state=absent: a tag no longer on the digest the caller saw is left alone."""

    def check(item, current):
        wanted = expected.get((item["repository"], item["name"]))
        if wanted is None or current.get("digest") == wanted or provider.is_leftover(item, current):
            return None
        return "moved", "moved: now points at %s, expected %s; not removed" % (current.get("digest"), wanted)
    return check


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str"),
            repository=dict(type="str"),
            name=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            digest=dict(type="str"),
            source=dict(type="str"),
            expected_digests=dict(type="dict"),
        ),
        mutually_exclusive=[("digest", "source")],
        required_if=[("state", "present", ("digest", "source"), True)],
    )
    params = runner.params
    state = params["state"]
    if params["expected_digests"] is not None and state != "absent":
        runner.fail("expected_digests only applies to state=absent")
    try:
        items = split_refs(params["name"], params["repository"], ":", "tag", registry=params["registry"])
        expected = expected_digest_map(params["expected_digests"], params["repository"])
    except (ValueError, TypeError) as exc:
        runner.fail(str(exc))
    options = [opt for opt in ("digest", "source") if params.get(opt)] + (["expected_digests"] if expected else [])
    provider = runner.open("tag", state=state, options=options,
                           validate=lambda p: p.validate("tag", items, {"digest": params.get("digest"), "source": params.get("source")}))
    desired = {}
    if state == "present":
        repositories = set(item["repository"] for item in items)
        if params.get("digest") and len(repositories) > 1:
            runner.fail("digest names a manifest of one repository; use source (repository@digest) to tag across repositories")
        source = params.get("source")
        if source and len(repositories) > 1 and ":" not in source and "@" not in source:
            runner.fail("source '%s' is a bare tag but the tags are in several repositories; write it as repository:tag" % source)
        try:
            source_repository, digest = provider.resolve_source(sorted(repositories)[0], source=source, digest=params.get("digest"))
        except (ApiError, UnsupportedError, ValueError) as exc:
            runner.fail(str(exc))
        desired = {"digest": digest, "source_repository": source_repository}
    if state == "absent":
        desired = {"recheck": bool(expected)}
    runner.ensure("tag", items, state, desired, skip_if=moved_guard(expected, provider) if expected else None)


if __name__ == "__main__":
    main()
