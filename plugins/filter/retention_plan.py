# -*- coding: utf-8 -*-
# Copyright: (c) 2025, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: retention_plan
short_description: Compute a registry retention plan from an artifact snapshot
version_added: 0.1.0
author: regops.registry maintainers (@regops)
description:
  - Pure, deterministic planner shared by check mode and the real run of the cleanup role.
    It never contacts a registry.
  - Evaluation order is selection, then protection (keep always wins), then guards
    (shared digests, index children, referrers), then the action (delete or untag), then the limits
    (C(on_limit=truncate)), then circuit breakers.
  - A tag is removed when some applicable policy selects it and no applicable policy protects it.
    A manifest is deleted only when every tag on it is removed by a policy with C(action=delete), no surviving index
    references it and, for a signature or SBOM, its subject is deleted too.
    Untagged children of a deleted index are deleted with it unless something else still references them.
  - With C(referrers=with_subject) (the default), the referrers of a deleted manifest (signatures, SBOMs,
    attestations; manifests whose C(subject) it is, and cosign's C(sha256-<hex>.sig), C(.att), C(.sbom) tags naming
    it) are deleted with it and listed under it (C(referrers)), unless a keep rule protects them.
  - With C(on_limit=truncate), a plan past C(max_deletions) or C(max_deletions_percent) is not blocked; its oldest part
    up to the limit is applied and the rest is listed in RV(_value.deferred) for the next run.
  - When a circuit breaker trips (C(max_deletions), C(max_deletions_percent), C(allow_empty_repository)),
    RV(_value.blocked) is true and the plan still lists what would happen; callers must not apply a blocked plan.
  - An artifact that could not be read completely (its C(read_error) is set, or the snapshot's C(read_errors) names
    it) is kept with every tag, reason C(read_error), and listed in RV(_value.read_errors).
  - A timestamp before 1980-01-01 is not a real time (reproducible builds set the image creation time to 1970),
    so it is treated as unknown, unless a policy sets C(trust_created_before_1980).
  - A throwaway manifest left behind by an interrupted tag removal (C(provider_data.throwaway)) is always deleted
    with the tags that point at it, outside every policy, protection and circuit breaker (C(leftover) true).
  - Use P(regops.registry.retention_policies#filter) to check policies before taking the snapshot.
  - See C(docs/retention.md) in the collection for the full policy reference.
options:
  _input:
    description:
      - The registered result of M(regops.registry.artifact_info) (a dict with an C(artifacts) list and
        optionally a C(repositories) list), or a bare list of artifact dicts.
      - Each artifact has C(repository), C(digest), C(media_type), C(size_bytes), C(tags),
        C(pushed_at), C(pulled_at), C(created_at), C(children) and C(subject), and may have C(read_error)
        (a message when part of it could not be read), C(provider_data.config_created) (the image config's own
        creation time when C(created_at) is null because it is before 1980) and C(provider_data.throwaway).
      - For the selections of 0.5.0, C(platforms) (C(os/arch[/variant]); an index's children's platforms count too),
        C(provider_data.artifact_type) (the manifest's C(artifactType) or config media type) or
        C(provider_data.kind) (what the provider classified the artifact as), and C(pulled_at).
      - A top-level C(read_errors) list (C(repository), C(digest), C(msg)) marks those artifacts as unreadable too;
        an entry without C(digest) makes every artifact of that repository unreadable.
    type: raw
    required: true
  policies:
    description:
      - One retention policy (dict) or a list of them. Unknown keys, invalid patterns, durations
        or enum values fail the filter with a message naming the policy and the key.
    type: raw
    required: true
    suboptions:
      name:
        description: Policy name used in the plan; defaults to C(policy-<n>) (1-based position).
        type: str
      repositories:
        description:
          - Repository scope, a dict with C(include) and C(exclude) lists (a bare list means C(include)).
          - Patterns are globs (C(*) stays within one path segment, C(**) crosses C(/)),
            or anchored full-match regexes when prefixed with C(re:). Empty C(include) means all repositories.
          - A glob with regular-expression syntax that no name holds (a backslash, parentheses, braces, C(|), C(+), C(^),
            C($)) or with C(.*) is refused; write C(re:) before a regular expression.
          - A repository named outright (no wildcard) that the snapshot does not hold is a warning in the plan.
        type: dict
      tags:
        description:
          - Tag selection, a dict with C(include) and C(exclude) lists of patterns, each matched against the whole
            tag. Missing or empty C(include) means all tags. Does not apply to untagged manifests.
          - A pattern is a glob, as for repositories (C(pr-*), C(v[0-9]*), C(?) one character), or a regular
            expression when it starts with C(re:) (C(re:pr-[0-9]+)).
          - To keep a regular expression from silently turning into a glob that means something else, a pattern
            without C(re:) is refused when it has regular-expression syntax that no tag can hold (a backslash,
            parentheses, braces, C(|), C(+), C(^), C($)) or C(.*), C(.+), C(.?); the message suggests C(re:<pattern>)
            and, where it can, the glob.
        type: dict
      tag_state:
        description: Which items the policy selects; untagged means manifests that carry no tag.
        type: str
        choices: [tagged, untagged, any]
        default: tagged
      older_than:
        description:
          - Select only artifacts at least this old, e.g. C(30d), C(12h), C(1d12h), C(2w), C(45s).
          - A bare number (C(30)) is refused, since it has no unit; write C(30d) or C(30s). C(0) is accepted.
        type: raw
      newer_than:
        description: Select only artifacts younger than this duration (same form as O(policies.older_than)).
        type: raw
      age_basis:
        description:
          - Timestamp used for age and for C(keep.last) ranking. Falls back when missing
            (pulled to pushed to created, pushed to created, created to pushed).
          - An artifact without any usable timestamp is never selected by an age rule (kept as C(no_timestamp)).
        type: str
        choices: [pushed, pulled, created]
        default: pushed
      artifact_types:
        description:
          - Select only artifacts of these types (empty or missing means every artifact). An index is V(index)
            whatever it holds; else the manifest's artifact type or config media type decides (V(helm), V(signature),
            V(attestation), V(sbom), V(image)), or a cosign tag on it (C(.sig), C(.att), C(.sbom)); any other type the
            registry names is V(other).
          - An artifact whose type the snapshot does not tell (providers whose API gives no media type) is never
            selected by this key; the plan warns once per repository.
          - C(keep.last) ranks only the artifacts of these types. Naming V(signature), V(sbom) or V(attestation) makes
            O(policies.ignore_referrer_tags) default to false.
        type: list
        elements: str
        choices: [image, index, helm, signature, sbom, attestation, other]
        version_added: 0.5.0
      platforms:
        description:
          - Select only artifacts with a platform (C(os/arch[/variant])) that matches one of these globs; C(*) crosses
            C(/), so V(linux/arm*) matches C(linux/arm64) and C(linux/arm/v7). A pattern that starts with C(re:) is a
            regular expression. An index matches when one of its children does (the whole index goes).
          - An artifact without a known platform is never selected by this key; the plan warns once per repository.
        type: list
        elements: str
        version_added: 0.5.0
      action:
        description:
          - V(delete) deletes a manifest whose every tag is selected (and its untagged children and referrers).
          - V(untag) only removes the selected tags and never deletes a manifest; a digest whose every tag goes stays,
            untagged (kept reason C(untag_only)). Untagged manifests are never selected, so C(tag_state=untagged) and
            C(delete_orphan_referrers) are refused with it.
          - A manifest is deleted only when each of its tags is selected by a policy with V(delete).
        type: str
        choices: [delete, untag]
        default: delete
        version_added: 0.5.0
      keep:
        description:
          - Protection rules, always stronger than selection. Keys C(latest) (bool, default true),
            C(tags) (anchored regexes), C(last) (newest N artifacts per repository among those
            with a tag matching the policy's tag filter), C(semver) (one of C(major=N), C(minor=N), C(all=true)),
            C(digests) (C(sha256:...) or C(repo@sha256:...) in use) and C(min_age) (duration, default C(1h)).
          - C(tags) takes the same patterns as O(policies.tags).
          - "C(pulled_within) (duration, version 0.5.0): an artifact pulled less than this long ago is kept (reason
            C(pulled_within)). Where the snapshot has no pull time for an artifact the rule cannot protect it, and
            the plan warns once per repository."
        type: dict
      protect_only:
        description:
          - A protect-only policy selects nothing; its C(keep) rules protect, in every repository it covers, what
            other policies select.
          - Defaults to true for a policy that sets none of O(policies.tags), O(policies.tag_state),
            O(policies.older_than) and O(policies.newer_than) (for example one with only C(repositories) and C(keep)),
            and to false otherwise. A repository that only protect-only policies cover is a warning in the plan.
          - With V(true), O(policies.older_than) and O(policies.newer_than) are refused; O(policies.tags) then only
            chooses what C(keep.last) ranks.
        type: bool
      referrers:
        description:
          - V(with_subject) deletes the referrers of a deleted manifest with it (signatures, SBOMs, attestations; the
            manifests whose C(subject) it is and those its cosign tags C(sha256-<hex>.sig), C(.att), C(.sbom) name),
            listed under it in the plan, unless a keep rule protects them or they carry a tag of their own that no
            policy with action delete removes.
          - V(keep) never deletes a referrer with its subject (a policy may still select it on its own). When any policy
            covering a repository says V(keep), referrers there are kept.
          - A kept subject always keeps its referrers (C(referrer_of_kept)).
        type: str
        choices: [with_subject, keep]
        default: with_subject
        version_added: 0.5.0
      delete_orphan_referrers:
        description:
          - Select the referrers whose subject is no longer in the repository (C(orphan_referrer) in the plan's
            C(reason)), whatever the policy's other selection keys, even in a protect-only policy; keep rules still
            protect them.
        type: bool
        default: false
        version_added: 0.5.0
      max_deletions:
        description:
          - Block the plan when this policy selects more than N operations (tags removed plus manifests deleted, the
            children and referrers deleted with them included); with O(policies.on_limit=truncate), truncate it there.
        type: int
      max_deletions_percent:
        description:
          - Block the plan when this policy would remove more than this percentage of a repository's tags and untagged
            manifests; with O(policies.on_limit=truncate), truncate it there.
        type: float
      on_limit:
        description:
          - What O(policies.max_deletions) and O(policies.max_deletions_percent) do when the plan goes past them.
          - V(block) blocks the whole plan (RV(_value.blocked)).
          - V(truncate) applies the oldest part of the plan up to the limit (oldest by the policy's age basis, ties by
            tag or digest name) and lists the rest in RV(_value.deferred) for the next run; the plan is not blocked.
            A manifest deletion goes whole, with its children and referrers; one that needs a deferred deletion (an
            index that lists it, a subject) is deferred too. Needs one of the two limits.
        type: str
        choices: [block, truncate]
        default: block
        version_added: 0.5.0
      allow_empty_repository:
        description: Unless true, block a plan in which this policy helps remove every tag of a repository.
        type: bool
        default: false
      ignore_referrer_tags:
        description:
          - Never select cosign/referrers fallback tags such as C(sha256-<hex>.sig). They still go with their subject
            (O(policies.referrers)) and with O(policies.delete_orphan_referrers).
          - With V(false) they can be selected, but one that names a subject that stays is kept all the same
            (C(referrer_of_kept)), since removing it would take the signature away.
          - Defaults to false when O(policies.artifact_types) names V(signature), V(sbom) or V(attestation).
        type: bool
        default: true
      delete_untagged:
        description: With tag_state untagged or any, allow untagged manifests to be deleted.
        type: bool
        default: true
      trust_created_before_1980:
        description:
          - An image creation time before 1980-01-01 (reproducible builds, C(SOURCE_DATE_EPOCH=0)) is unknown by
            default, so an age rule keeps such an artifact as C(no_timestamp). Set true to use that time anyway
            (the artifact then looks decades old and an age rule selects it).
        type: bool
        default: false
  now:
    description:
      - Reference time as an ISO 8601 UTC string (for example C(2024-06-01T00:00:00Z)).
      - Defaults to the current UTC time; pass it explicitly for reproducible plans
        (for example C(now=ansible_date_time.iso8601)).
    type: str
  repositories:
    description:
      - The repositories the snapshot was asked for (the cleanup role passes C(cleanup_repositories)). Each one the
        snapshot does not hold (no such repository, or nothing in it) is a warning in the plan.
    type: list
    elements: str
seealso:
  - plugin: regops.registry.retention_refs
    plugin_type: filter
  - plugin: regops.registry.retention_table
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Snapshot the repositories
  regops.registry.artifact_info:
    repository: [team/app]
  register: snapshot

- name: Plan the cleanup
  ansible.builtin.set_fact:
    retention: >-
      {{ snapshot | regops.registry.retention_plan(policies, now=ansible_date_time.iso8601) }}
  vars:
    policies:
      - name: ci-builds
        repositories: {include: ["team/**"]}
        tags: {include: ["pr-*", "re:sha-[0-9a-f]{7,40}"]}
        older_than: 14d
        keep: {last: 10}
      - name: releases
        repositories: {include: ["team/**"]}
        tag_state: any
        older_than: 90d
        keep:
          semver: {major: 3}
          tags: ["main", "stable"]
        max_deletions_percent: 50

- name: Stop when a circuit breaker tripped
  ansible.builtin.assert:
    that: not retention.blocked
    fail_msg: "{{ retention.block_reasons }}"
"""

RETURN = r"""
_value:
  description: The retention plan.
  type: dict
  contains:
    remove_tags:
      description:
        - Tags to remove while their manifest stays (sorted by repository, tag).
        - C(age_seconds) is the artifact's age at RV(_value.now) by C(age_basis), the field used (V(null) when unknown).
      type: list
      elements: dict
      sample: [{"repository": "team/app", "tag": "pr-12", "digest": "sha256:...", "policy": "ci-builds",
                "selected_by": ["ci-builds"], "age_basis": "pushed", "age_seconds": 1296000}]
    delete_digests:
      description:
        - Manifests to delete (sorted by repository, digest). C(tags) go with the manifest and are not repeated
          in RV(_value.remove_tags); C(children) are untagged index children deleted with it, parents first,
          and C(children_size_bytes) maps each of them to its size.
        - C(leftover) is true for a throwaway manifest of an interrupted tag removal (C(reason) says so); such an
          entry is selected by no policy and counts for no circuit breaker.
        - C(reason) is V(orphan_referrer) for a referrer selected by C(delete_orphan_referrers), else null (or the
          leftover's text). C(artifact_type) is the artifact's type (null when the snapshot does not tell).
        - C(referrers) lists the referrers deleted with the manifest (C(referrers=with_subject)), subjects first,
          each with C(digest), C(subject), C(artifact_type), C(media_type), C(tags) (they go with it) and C(size_bytes).
      type: list
      elements: dict
      sample: [{"repository": "team/app", "digest": "sha256:...", "media_type": "application/vnd.oci.image.index.v1+json",
                "artifact_type": "index", "tags": ["pr-9"], "size_bytes": 1234, "children": ["sha256:..."],
                "children_size_bytes": {"sha256:...": 567},
                "referrers": [{"digest": "sha256:...", "subject": "sha256:...", "artifact_type": "signature",
                               "media_type": "application/vnd.oci.image.manifest.v1+json",
                               "tags": ["sha256-....sig"], "size_bytes": 890}],
                "policy": "ci-builds", "selected_by": ["ci-builds"], "age_basis": "pushed", "age_seconds": 1296000,
                "leftover": false, "reason": null}]
    kept:
      description:
        - Every tag and untagged manifest in scope that is not removed, with one primary C(reason)
          (read_error, in_use, latest, keep_tags, keep_semver, keep_last, pulled_within, min_age, index_child,
          referrer_of_kept, shared_digest, untag_only, deferred, too_new, no_timestamp, not_selected). C(tag) is null
          for manifest-level entries.
      type: list
      elements: dict
    read_errors:
      description:
        - Every artifact kept because it could not be read completely (C(repository), C(digest), C(tags), C(msg)),
          and every read error of the snapshot that names no artifact (C(digest) may then be null). Each is an error.
      type: list
      elements: dict
    deferred:
      description:
        - What C(on_limit=truncate) left for the next run, oldest first; each is a RV(_value.remove_tags) or
          RV(_value.delete_digests) entry with C(operation) (V(untag) or V(delete)). Deferred tags and manifests are in
          RV(_value.kept) with reason C(deferred).
      type: list
      elements: dict
      version_added: 0.5.0
    repositories:
      description:
        - Per repository figures that add up, for the repository's own content (leftover throwaway manifests apart).
        - C(tags_before) = C(tags_kept) + C(tags_removed); C(tags_removed) = C(tags_removed_with_digests) (tags that go
          with a deleted digest) + C(tags_removed_from_surviving) (tags removed from an image that stays);
          C(kept_by_reason) counts each kept tag once by its primary reason and adds up to C(tags_kept);
          C(tags_after) = C(tags_kept).
        - C(digests_before) = C(digests_deleted) + C(digests_after) (C(digests_deleted) includes C(children_deleted)
          and C(referrers_deleted)); C(untagged_kept_by_reason) counts the manifests that stay without a tag, by
          reason; C(tags_untagged_only) those of them that action untag left untagged.
        - C(deferred_tags) and C(deferred_digests) count what C(on_limit=truncate) left for the next run (the tags are
          kept, reason C(deferred)).
        - Also C(bytes_freed), C(bytes_freed_partial), C(leftovers), C(leftover_tags) and C(read_errors).
      type: dict
    totals:
      description: The per-repository figures added up, plus C(repositories) (how many).
      type: dict
    blocked:
      description: True when a circuit breaker tripped; the plan must not be applied.
      type: bool
    block_reasons:
      description: Human readable reasons for RV(_value.blocked).
      type: list
      elements: str
    warnings:
      description: Non fatal findings (policy matching no repository, unparsable or pre-1980 timestamps, merged duplicates,
        read errors, leftover throwaway manifests, deferred operations, pull times, types or platforms the snapshot lacks).
      type: list
      elements: str
    now:
      description: The reference time used, ISO 8601 UTC.
      type: str
    policies:
      description: The normalized policies (defaults filled in, durations in seconds).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.module_utils.retention import (
    PolicyError,
    SnapshotError,
    plan,
)


def retention_plan(data, policies=None, now=None, repositories=None):
    """Compute a retention plan; see DOCUMENTATION."""
    if policies is None:
        raise AnsibleFilterError('retention_plan: the policies argument is required')
    try:
        return plan(data, policies, now=now, repositories=repositories or None)
    except PolicyError as exc:
        raise AnsibleFilterError('retention_plan: invalid policy: %s' % exc)
    except (SnapshotError, ValueError) as exc:
        raise AnsibleFilterError('retention_plan: %s' % exc)


class FilterModule(object):
    """Retention planning filter."""

    def filters(self):
        return {'retention_plan': retention_plan}
