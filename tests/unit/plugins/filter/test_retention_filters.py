# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""retention_policies, retention_refs and retention_report: the parts issue 7 added."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.filter import retention_policies as policies_filter
from ansible_collections.regops.registry.plugins.filter import retention_refs as refs_filter
from ansible_collections.regops.registry.plugins.filter import retention_report as report_filter
from ansible_collections.regops.registry.plugins.module_utils.retention import plan

NOW = '2024-06-01T00:00:00Z'
OLD = '2024-01-01T00:00:00Z'
NEW = '2024-05-31T23:00:00Z'
REPO = 'team/app'


def sha(char):
    return 'sha256:' + char * 64


def artifact(char, tags, pushed=OLD, **extra):
    entry = {'repository': REPO, 'digest': sha(char), 'media_type': 'application/vnd.oci.image.manifest.v1+json',
             'size_bytes': 100, 'tags': list(tags), 'pushed_at': pushed, 'children': []}
    entry.update(extra)
    return entry


# -- retention_policies ----------------------------------------------------------

def test_filter_module_exposes_retention_policies():
    assert policies_filter.FilterModule().filters() == {'retention_policies': policies_filter.retention_policies}


def test_retention_policies_normalizes_a_dict_and_a_list():
    one = {'name': 'ci', 'older_than': '14d', 'keep': {'last': 3}}
    from_dict = policies_filter.retention_policies(one)
    assert from_dict == policies_filter.retention_policies([one])
    assert len(from_dict) == 1 and from_dict[0]['older_than'] == 14 * 86400 and from_dict[0]['keep']['last'] == 3
    assert from_dict[0]['trust_created_before_1980'] is False
    # the normalized list is a valid planner input and gives the same plan
    snapshot = [artifact('a', ['x']), artifact('b', ['y'], pushed=NEW), artifact('c', ['latest'])]
    assert plan(snapshot, from_dict, now=NOW) == plan(snapshot, one, now=NOW)


@pytest.mark.parametrize('policies, fragment', [
    ({'name': 'p', 'tags': {'include': ['sha-\\']}},
     'policy "p": key "tags.include" has an invalid regular expression "sha-\\": bad escape (end of pattern) at position 4'),
    ({'name': 'p', 'olderthan': '30d'}, 'policy "p": unknown key(s) "olderthan" (did you mean "older_than"?)'),
    ({'name': 'p', 'older_than': '30 days'}, 'policy "p": key "older_than" is not a valid duration: invalid duration \'30 days\''),
    ({'name': 'p', 'max_deletions_percent': 150}, 'policy "p": key "max_deletions_percent" must be a number between 0 and 100, got 150'),
    ([{'name': 'p'}, {'name': 'p'}], 'key "name" is used by more than one policy'),
    ('not a policy', 'policies must be a dict or a list of dicts, got str'),
])
def test_retention_policies_errors_name_the_policy_key_and_value(policies, fragment):
    with pytest.raises(AnsibleFilterError) as exc:
        policies_filter.retention_policies(policies)
    assert str(exc.value).startswith('retention_policies: invalid policy: ')
    assert fragment in str(exc.value)


def test_retention_policies_checks_now():
    assert policies_filter.retention_policies([], now='2026-11-01T00:00:00Z') == []
    assert policies_filter.retention_policies([], now='') == []
    assert policies_filter.retention_policies([], now=None) == []
    with pytest.raises(AnsibleFilterError, match='retention_policies: invalid "now": invalid timestamp \'next tuesday\''):
        policies_filter.retention_policies([], now='next tuesday')


# -- retention_refs --------------------------------------------------------------

def test_retention_refs_tag_digests_are_what_the_plan_saw():
    snapshot = [artifact('a', ['pr-1', 'keep-me']), artifact('b', ['pr-2', 'stable']), artifact('c', ['latest'])]
    result = plan(snapshot, {'tags': {'include': ['pr-.*']}, 'older_than': '30d'}, now=NOW)
    refs = refs_filter.retention_refs(result)
    assert refs['tags'] == ['team/app:pr-1', 'team/app:pr-2']
    assert refs['tag_digests'] == {'team/app:pr-1': sha('a'), 'team/app:pr-2': sha('b')}
    assert refs['digests'] == []


def test_retention_refs_refuses_a_tag_planned_on_two_digests():
    fake = {'delete_digests': [], 'remove_tags': [{'repository': 'r', 'tag': 't', 'digest': sha('a')},
                                                  {'repository': 'r', 'tag': 't', 'digest': sha('b')}]}
    with pytest.raises(AnsibleFilterError, match='r:t is planned on two digests'):
        refs_filter.retention_refs(fake)


def test_retention_refs_leftover_expects_its_own_tags():
    snapshot = [artifact('t', ['pr-9', 'pr-10'], provider_data={'throwaway': True}), artifact('c', ['latest'])]
    refs = refs_filter.retention_refs(plan(snapshot, {'keep': {'tags': ['.*']}}, now=NOW))
    assert refs['digests'] == ['team/app@' + sha('t')]
    assert refs['expected_tags'] == {'team/app@' + sha('t'): ['pr-10', 'pr-9']}
    assert refs['tags'] == [] and refs['tag_digests'] == {}


# -- retention_report ------------------------------------------------------------

def _report_plan():
    snapshot = {'artifacts': [
        artifact('a', ['pr-1', 'stable']),                    # pr-1 removed, manifest stays
        artifact('b', ['pr-2', 'stable2']),                   # pr-2 removed... unless it moved
        artifact('d', ['old']),                               # deleted
        artifact('e', ['v1'], read_error='image config: HTTP 500 after 5 retries'),
        artifact('t', ['pr-3'], size_bytes=7, provider_data={'throwaway': True}),
        artifact('k', ['latest']),
    ], 'read_errors': [{'repository': REPO, 'digest': sha('f'), 'msg': 'manifest: HTTP 503'}]}
    return plan(snapshot, {'older_than': '30d', 'keep': {'tags': ['stable.*']}}, now=NOW)


def test_report_moved_tag_is_skipped_not_removed():
    result = _report_plan()
    assert [e['tag'] for e in result['remove_tags']] == ['pr-1', 'pr-2']
    moved = 'moved: now points at %s, the plan expected %s' % (sha('9'), sha('b'))
    tag_result = {'changed': True, 'actions': [
        {'ref': REPO + ':pr-1', 'action': 'deleted'},
        {'ref': REPO + ':pr-2', 'action': 'skipped', 'reason': 'moved', 'msg': moved},
    ]}
    artifact_result = {'changed': True, 'actions': [
        {'ref': REPO + '@' + sha('d'), 'action': 'deleted'},
        {'ref': REPO + '@' + sha('t'), 'action': 'deleted'},
    ]}
    report = report_filter.retention_report(result, tag_result=tag_result, artifact_result=artifact_result)
    summary = report['repositories'][REPO]
    assert summary['removed_tags'] == ['pr-1']
    assert summary['skipped'] == [{'tag': 'pr-2', 'reason': 'moved', 'msg': moved}]
    assert summary['deleted_digests'] == [sha('d')]
    assert summary['leftovers'] == [{'digest': sha('t'), 'tags': ['pr-3'], 'action': 'deleted'}]
    assert summary['bytes_freed'] == 107
    assert report['totals']['removed_tags'] == 1 and report['totals']['skipped'] == 1
    assert report['totals']['deleted_digests'] == 1 and report['totals']['leftovers'] == 1
    assert '  skipped tag pr-2 (moved): ' + moved in report['lines']
    assert any(line.startswith('  leftover throwaway manifest %s (tags: pr-3)' % sha('t')) and line.endswith(': deleted')
               for line in report['lines'])
    assert 'delete 1 leftover throwaway manifest(s)' in report['lines'][0]


def test_report_counts_each_read_error_as_an_error():
    result = _report_plan()
    report = report_filter.retention_report(result, tag_result={}, artifact_result={})
    errors = report['repositories'][REPO]['errors']
    assert errors == [
        'digest %s could not be read completely: image config: HTTP 500 after 5 retries; kept with its tags v1' % sha('e'),
        'digest %s could not be read completely: manifest: HTTP 503; kept' % sha('f'),
    ]
    assert report['totals']['errors'] == 2
    assert report['repositories'][REPO]['kept_by_reason']['read_error'] == 1
    assert '  error ' + errors[0] in report['lines']
    # nothing was run: the leftover is listed as not run and not counted
    assert report['repositories'][REPO]['leftovers'] == [{'digest': sha('t'), 'tags': ['pr-3'], 'action': None}]
    assert report['totals']['leftovers'] == 0


def test_report_repository_level_read_error():
    result = plan({'artifacts': [artifact('a', ['x'])], 'read_errors': [{'repository': REPO, 'msg': 'tags: HTTP 500'}]},
                  {'older_than': '30d'}, now=NOW)
    report = report_filter.retention_report(result)
    assert report['repositories'][REPO]['errors'] == ['repository could not be read completely: tags: HTTP 500; nothing in it was removed']
    assert report['totals']['errors'] == 1


def test_report_tag_outcomes_that_are_not_removals():
    result = _report_plan()
    tag_result = {'changed': True, 'failed': True, 'msg': '1 of 2 tag(s) failed', 'actions': [
        {'ref': REPO + ':pr-1', 'action': 'absent'},
        {'ref': REPO + ':pr-2', 'action': 'restored', 'msg': 'throwaway delete failed (HTTP 500); pointed back at ' + sha('b')},
    ]}
    report = report_filter.retention_report(result, tag_result=tag_result)
    summary = report['repositories'][REPO]
    assert summary['removed_tags'] == []
    assert 'tag pr-2: restored: throwaway delete failed (HTTP 500); pointed back at %s' % sha('b') in summary['errors']
    assert report['totals']['errors'] == 3


def test_report_digest_skips_carry_a_reason():
    result = _report_plan()
    artifact_result = {'actions': [
        {'ref': REPO + '@' + sha('d'), 'action': 'skipped', 'reason': 'tags_changed', 'msg': 'tags changed: gained hotfix'},
        {'ref': REPO + '@' + sha('t'), 'action': 'failed', 'msg': 'HTTP 500'},
    ]}
    report = report_filter.retention_report(result, artifact_result=artifact_result, check_mode=True)
    summary = report['repositories'][REPO]
    assert summary['skipped'] == [{'digest': sha('d'), 'reason': 'tags_changed', 'msg': 'tags changed: gained hotfix'}]
    assert summary['deleted_digests'] == []
    assert summary['leftovers'] == [{'digest': sha('t'), 'tags': ['pr-3'], 'action': 'failed'}]
    assert 'digest %s: failed: HTTP 500' % sha('t') in summary['errors']
    assert report['lines'][-1].startswith('total: would remove 0 tag(s), would delete 0 digest(s)')


def test_report_skip_without_a_reason_from_an_older_module():
    result = _report_plan()
    report = report_filter.retention_report(result, artifact_result={'actions': [
        {'ref': REPO + '@' + sha('d'), 'action': 'skipped', 'msg': 'gained a tag'}]})
    assert report['repositories'][REPO]['skipped'] == [{'digest': sha('d'), 'reason': 'skipped', 'msg': 'gained a tag'}]
