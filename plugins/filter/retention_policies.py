# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: retention_policies
short_description: Validate retention policies and return them normalized, before any registry request
version_added: 0.1.0
author: regops.registry contributors (@regops)
description:
  - Checks one retention policy (a dict) or a list of them with the same rules as
    P(regops.registry.retention_plan#filter), without a snapshot, and returns the list of normalized policies
    (every default filled in, durations written in their shortest form such as C(14d) or C(1h30m), C(protect_only)
    set). The normalized list is itself a valid input of P(regops.registry.retention_plan#filter) and gives the same
    plan.
  - An unknown key, an invalid regular expression, glob, duration, number or choice, or a duplicate name fails
    the filter with a message that names the policy, the key and what was written there (a regex error names the
    pattern as written and the position in it).
  - A tag or repository pattern written as a regular expression without the C(re:) prefix (C(^pr-\d+$), C(pr-.*))
    fails with a message that suggests C(re:<pattern>) and, where it can, the glob; a bare number as a duration
    (V(30) for C(older_than)) fails with a message that suggests C(30d) or C(30s).
  - The keys of 0.5.0 are checked the same way, alone and together. An unknown C(artifact_types) entry fails with the
    closest type and the list of types; a C(platforms) pattern that is not C(os/arch[/variant]) (C(arm64)) fails with
    the fix (C(*/arm64)); C(action=untag) with C(tag_state=untagged) or C(delete_orphan_referrers) fails (untag never
    deletes a manifest), and so does C(on_limit=truncate) without C(max_deletions) or C(max_deletions_percent).
  - The C(regops.registry.cleanup) role runs it as its first task, so bad input fails before any request
    reaches the registry.
  - See C(docs/retention.md) in the collection for the policy vocabulary.
options:
  _input:
    description:
      - One policy (dict) or a list of policies, in the vocabulary of P(regops.registry.retention_plan#filter).
    type: raw
    required: true
  now:
    description:
      - Also check a reference time (ISO 8601, for example C(2026-11-01T00:00:00Z)), as
        P(regops.registry.retention_plan#filter) will use it. Empty or omitted means the current time and is not
        checked.
    type: str
seealso:
  - plugin: regops.registry.retention_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the policies before the snapshot
  ansible.builtin.set_fact:
    checked_policies: "{{ retention_policies | regops.registry.retention_policies(now=cleanup_now or none) }}"

- name: One policy as a dict is a list of one
  ansible.builtin.debug:
    msg: "{{ {'name': 'ci', 'older_than': '14d'} | regops.registry.retention_policies }}"
"""

RETURN = r"""
_value:
  description:
    - The normalized policies, in the order given (a single dict becomes a list of one).
  type: list
  elements: dict
  sample:
    - name: ci
      repositories: {include: [], exclude: []}
      tags: {include: [], exclude: []}
      tag_state: tagged
      older_than: 14d
      newer_than: null
      age_basis: pushed
      artifact_types: []
      platforms: []
      action: delete
      keep: {latest: true, tags: [], last: null, semver: null, digests: [], min_age: 1h, pulled_within: null}
      protect_only: false
      referrers: with_subject
      delete_orphan_referrers: false
      max_deletions: null
      max_deletions_percent: null
      on_limit: block
      allow_empty_repository: false
      ignore_referrer_tags: true
      delete_untagged: true
      trust_created_before_1980: false
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.module_utils.retention import (
    PolicyError,
    normalize_policies,
    parse_timestamp,
)


def retention_policies(policies, now=None):
    """Return the normalized policies or raise AnsibleFilterError; see DOCUMENTATION."""
    try:
        normalized = normalize_policies(policies)
    except PolicyError as exc:
        raise AnsibleFilterError('retention_policies: invalid policy: %s' % exc)
    if now not in (None, ''):
        try:
            parse_timestamp(now)
        except ValueError as exc:
            raise AnsibleFilterError('retention_policies: invalid "now": %s' % exc)
    return normalized


class FilterModule(object):
    """Retention policy validation filter."""

    def filters(self):
        return {'retention_policies': retention_policies}
