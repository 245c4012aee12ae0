# -*- coding: utf-8 -*-
# Copyright: (c) 2025, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: retention_refs
short_description: Turn a retention plan into the reference lists the bulk modules take
version_added: 0.1.0
author: regops.registry maintainers (@regops)
description:
  - Converts the output of P(regops.registry.retention_plan#filter) into
    C(repo:tag) references for one M(regops.registry.tag) invocation with C(state=absent)
    and C(repo@digest) references for one M(regops.registry.artifact) invocation with C(state=absent).
  - Digests are ordered so that indexes come before their children (index entries first, then other
    manifests, then children of deleted indexes, then the referrers deleted with their subjects).
  - The referrers a plan deletes with their subject (signatures, SBOMs, attestations, listed under the subject's
    entry) are in RV(_value.digests) too, each with the tags the plan expects on it (its cosign tags, often) in
    RV(_value.expected_tags).
  - RV(_value.tag_digests) and RV(_value.expected_tags) carry what the plan saw, so the modules can re-check just
    before they change anything. A tag that moved to another digest, or a digest that gained a tag, is skipped.
  - The filter does not check RV(regops.registry.retention_plan#filter:_value.blocked); the caller must.
options:
  _input:
    description: A plan returned by P(regops.registry.retention_plan#filter).
    type: dict
    required: true
seealso:
  - plugin: regops.registry.retention_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Apply a plan (never a blocked one)
  when: not retention.blocked
  vars:
    refs: "{{ retention | regops.registry.retention_refs }}"
  block:
    - name: Remove tags (a tag that now points at another digest is skipped)
      regops.registry.tag:
        name: "{{ refs.tags }}"
        expected_digests: "{{ refs.tag_digests }}"
        state: absent
    - name: Delete manifests
      regops.registry.artifact:
        digest: "{{ refs.digests }}"
        expected_tags: "{{ refs.expected_tags }}"
        state: absent
"""

RETURN = r"""
_value:
  description: Reference lists.
  type: dict
  contains:
    tags:
      description: C(repo:tag) for every entry of the plan's C(remove_tags), sorted.
      type: list
      elements: str
      sample: ["team/app:pr-12", "team/app:pr-13"]
    tag_digests:
      description:
        - For every reference in RV(_value.tags), the digest the plan saw it on. Pass it to
          M(regops.registry.tag) as O(regops.registry.tag#module:expected_digests) so that a tag pushed again since
          the snapshot is skipped (C(moved)), not removed.
      type: dict
      sample: {"team/app:pr-12": "sha256:aaa...", "team/app:pr-13": "sha256:bbb..."}
    digests:
      description:
        - C(repo@digest) for every deleted manifest, every child deleted with it (parents first), and every referrer
          deleted with its subject (last).
      type: list
      elements: str
      sample: ["team/app@sha256:aaa...", "team/app@sha256:bbb..."]
    expected_tags:
      description:
        - For every reference in RV(_value.digests), the tags the plan expects on it (they go with the manifest);
          an empty list for untagged manifests. Lets the module refuse a digest that gained a tag since the snapshot.
        - A referrer deleted with its subject expects the tags the plan saw on it (C(sha256-<hex>.sig) for a cosign
          signature).
      type: dict
      sample: {"team/app@sha256:aaa...": ["pr-9"], "team/app@sha256:bbb...": []}
"""

from ansible.errors import AnsibleFilterError

_INDEX_MEDIA_TYPES = (
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
)


def retention_refs(plan):
    """Return {"tags", "tag_digests", "digests", "expected_tags"} for a retention plan."""
    if not isinstance(plan, dict) or not isinstance(plan.get('remove_tags'), list) or not isinstance(plan.get('delete_digests'), list):
        raise AnsibleFilterError('retention_refs: input must be a plan returned by regops.registry.retention_plan')
    try:
        tag_digests = {}
        for entry in plan['remove_tags']:
            ref = '%s:%s' % (entry['repository'], entry['tag'])
            digest = entry['digest']
            if tag_digests.get(ref, digest) != digest:
                raise AnsibleFilterError('retention_refs: malformed plan: %s is planned on two digests (%s, %s)' % (
                    ref, tag_digests[ref], digest))
            tag_digests[ref] = digest
        tags = sorted(tag_digests)
        entries = sorted(plan['delete_digests'], key=lambda e: (e['repository'], e['digest']))
        indexes = [e for e in entries if e.get('children') or e.get('media_type') in _INDEX_MEDIA_TYPES]
        others = [e for e in entries if not (e.get('children') or e.get('media_type') in _INDEX_MEDIA_TYPES)]
        digests = []
        expected = {}
        for entry in indexes + others:
            ref = '%s@%s' % (entry['repository'], entry['digest'])
            if ref not in expected:
                digests.append(ref)
                expected[ref] = sorted(entry.get('tags') or [])
        for entry in indexes:
            for child in entry.get('children') or []:
                ref = '%s@%s' % (entry['repository'], child)
                if ref not in expected:
                    digests.append(ref)
                    expected[ref] = []
        for entry in indexes + others:
            for referrer in entry.get('referrers') or []:
                ref = '%s@%s' % (entry['repository'], referrer['digest'])
                if ref not in expected:
                    digests.append(ref)
                    expected[ref] = sorted(referrer.get('tags') or [])
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError('retention_refs: malformed plan: %s' % exc)
    return {'tags': tags, 'tag_digests': tag_digests, 'digests': digests, 'expected_tags': expected}


class FilterModule(object):
    """Retention plan to bulk-module references."""

    def filters(self):
        return {'retention_refs': retention_refs}
