# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""retention_policies, retention_refs, retention_report and retention_table: the parts issues 7 and 8 added."""

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
    assert len(from_dict) == 1 and from_dict[0]['older_than'] == '14d' and from_dict[0]['keep']['last'] == 3
    assert from_dict[0]['keep']['min_age'] == '1h' and from_dict[0]['protect_only'] is False
    assert from_dict[0]['trust_created_before_1980'] is False
    # the normalized list is a valid planner input and gives the same plan
    snapshot = [artifact('a', ['x']), artifact('b', ['y'], pushed=NEW), artifact('c', ['latest'])]
    assert plan(snapshot, from_dict, now=NOW) == plan(snapshot, one, now=NOW)


@pytest.mark.parametrize('policies, fragment', [
    ({'name': 'p', 'tags': {'include': ['re:sha-\\']}},
     'policy "p": key "tags.include" has an invalid regular expression "sha-\\": bad escape (end of pattern) at position 4'),
    ({'name': 'p', 'tags': {'include': ['^pr-\\d+$']}},
     'policy "p": key "tags.include" pattern "^pr-\\d+$" looks like a regular expression: "^", "\\", "+", "$" have no '
     'meaning in a glob and no tag holds them; write "re:^pr-\\d+$" to keep it a regular expression'),
    ({'name': 'p', 'older_than': 30}, 'policy "p": key "older_than" is not a valid duration: invalid duration 30: a number '
                                      'has no unit; write "30d" (days) or "30s" (seconds)'),
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
    result = plan(snapshot, {'tags': {'include': ['pr-*']}, 'older_than': '30d'}, now=NOW)
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
    refs = refs_filter.retention_refs(plan(snapshot, {'keep': {'tags': ['*']}}, now=NOW))
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
    return plan(snapshot, {'older_than': '30d', 'keep': {'tags': ['stable*']}}, now=NOW)


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
    # every tag that went: pr-1 (from an image that stays) and old (with its digest)
    assert summary['removed_tags'] == ['old', 'pr-1'] and summary['removed_from_surviving'] == ['pr-1']
    assert summary['deleted_digest_tags'] == {sha('d'): ['old']}
    assert summary['skipped'] == [{'tag': 'pr-2', 'reason': 'moved', 'msg': moved}]
    assert summary['deleted_digests'] == [sha('d')]
    assert summary['leftovers'] == [{'digest': sha('t'), 'tags': ['pr-3'], 'action': 'deleted'}]
    assert summary['bytes_freed'] == 107
    # 7 tags (the leftover's pr-3 is not the repository's): 2 removed, 5 kept, the moved pr-2 among them
    assert (summary['tags_before'], summary['tags_removed'], summary['tags_kept'], summary['tags_after']) == (7, 2, 5, 5)
    assert summary['kept_by_reason'] == {'keep_tags': 2, 'latest': 1, 'read_error': 1, 'skipped': 1}
    assert report['totals']['removed_tags'] == 2 and report['totals']['skipped'] == 1
    assert report['totals']['deleted_digests'] == 1 and report['totals']['leftovers'] == 1
    assert '  skipped tag pr-2 (moved): ' + moved in report['lines']
    assert any(line.startswith('  leftover throwaway manifest %s (tags: pr-3)' % sha('t')) and line.endswith(': deleted')
               for line in report['lines'])
    assert '  tags:    7 before - 2 removed = 5 after; removed: 1 with 1 deleted digest(s) + 1 from images that stay' in report['lines']
    assert '  kept:    5 tag(s) = keep_tags 2 + latest 1 + read_error 1 + skipped 1' in report['lines']
    assert 'leftover throwaway manifest(s) deleted 1' in ' '.join(report['lines'])


def test_report_after_delete_counts_each_step_and_its_failures_as_errors():
    result = _report_plan()
    digest = sha('d')
    steps = {
        'storage_records': {'changed': True, 'actions': [{'ref': 'acme@' + digest, 'action': 'updated'},
                                                         {'ref': 'acme@' + sha('t'), 'action': 'unchanged'}]},
        'deployment_records': {'skipped': True},
        'attestations': {'failed': True, 'msg': 'HTTP 404: Not Found', 'actions': [
            {'ref': 'acme@' + digest, 'action': 'failed', 'msg': 'still listed after the delete'}]},
    }
    plain = report_filter.retention_report(result, tag_result={}, artifact_result={})
    report = report_filter.retention_report(result, tag_result={}, artifact_result={}, after_delete=steps)
    assert report['after_delete'] == {
        'attestations': {'changed': 0, 'unchanged': 0, 'failed': 1,
                         'errors': ['attestations acme@%s: failed: still listed after the delete' % digest]},
        'storage_records': {'changed': 1, 'unchanged': 1, 'failed': 0, 'errors': []},
    }
    assert report['totals']['errors'] == plain['totals']['errors'] + 1
    assert 'after delete: attestations 0 changed, 0 unchanged, 1 FAILED; storage_records 1 changed, 1 unchanged' in report['lines']
    assert plain['after_delete'] == {} and not any(line.startswith('after delete') for line in plain['lines'])
    check = report_filter.retention_report(result, tag_result={}, artifact_result={}, check_mode=True,
                                           after_delete={'storage_records': steps['storage_records']})
    assert 'after delete: storage_records 1 would change, 1 unchanged' in check['lines']


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
    # no module result for what the plan meant to remove: still there, counted as not_run
    assert report['repositories'][REPO]['kept_by_reason']['not_run'] == 3
    assert report['totals']['tags_removed'] == 0 and report['totals']['tags_kept'] == 7
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
    # pr-1 was already gone: it is not there any more, so it counts as removed (the next run will not see it)
    assert summary['removed_tags'] == ['pr-1']
    assert 'tag pr-2: restored: throwaway delete failed (HTTP 500); pointed back at %s' % sha('b') in summary['errors']
    assert summary['kept_by_reason']['error'] == 1
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
    assert 'leftover throwaway manifest %s: failed: HTTP 500' % sha('t') in summary['errors']
    assert summary['kept_by_reason']['skipped'] == 1  # old: its digest gained a tag, so it stays
    assert '  tags:    7 before - 0 would be removed = 7 after; would be removed: 0 with 0 digest(s) + 0 from images that stay' \
        in report['lines']


def test_report_skip_without_a_reason_from_an_older_module():
    result = _report_plan()
    report = report_filter.retention_report(result, artifact_result={'actions': [
        {'ref': REPO + '@' + sha('d'), 'action': 'skipped', 'msg': 'gained a tag'}]})
    assert report['repositories'][REPO]['skipped'] == [{'digest': sha('d'), 'reason': 'skipped', 'msg': 'gained a tag'}]


# -- issue 8: the report's figures add up, whatever the modules did ------------------------------------------

def _varied(rng):
    """A snapshot of two repositories with shared digests, indexes, untagged manifests, a read error and a leftover."""
    arts = []
    for repo in ('team/app', 'team/web'):
        for number in range(rng.randint(3, 9)):
            digest = 'sha256:%064x' % rng.getrandbits(256)
            children = []
            if rng.random() < 0.25:
                for dummy in range(2):
                    child = 'sha256:%064x' % rng.getrandbits(256)
                    children.append({'digest': child})
                    arts.append({'repository': repo, 'digest': child, 'tags': [], 'pushed_at': OLD, 'size_bytes': 3})
            tags = ['b%d-%d' % (number, i) for i in range(rng.choice((0, 1, 2, 3)))]
            if rng.random() < 0.2:
                tags.append('v1.%d.0' % number)
            entry = {'repository': repo, 'digest': digest, 'tags': tags, 'size_bytes': 10, 'children': children,
                     'pushed_at': rng.choice((OLD, NEW, None))}
            if rng.random() < 0.07:
                entry['read_error'] = 'HTTP 500'
            if rng.random() < 0.07:
                entry['provider_data'] = {'throwaway': True}
            arts.append(entry)
            # referrers: a cosign signature under its tag, an OCI 1.1 SBOM naming its subject
            if rng.random() < 0.3:
                arts.append({'repository': repo, 'digest': 'sha256:%064x' % rng.getrandbits(256), 'pushed_at': OLD, 'size_bytes': 2,
                             'tags': ['sha256-%s.sig' % digest[7:]]})
            if rng.random() < 0.2:
                arts.append({'repository': repo, 'digest': 'sha256:%064x' % rng.getrandbits(256), 'pushed_at': OLD, 'size_bytes': 2,
                             'tags': [], 'subject': digest})
        arts.append({'repository': repo, 'digest': 'sha256:%064x' % rng.getrandbits(256), 'tags': ['latest'], 'pushed_at': NEW})
    ci = {'name': 'ci', 'tag_state': rng.choice(('tagged', 'any')), 'older_than': '30d', 'keep': {'tags': ['b1-*'], 'semver': {'major': 1}}}
    if rng.random() < 0.3:
        ci.update(max_deletions=rng.randint(1, 6), on_limit='truncate')
    if rng.random() < 0.2:
        ci['action'] = 'untag'
    return arts, [ci, {'name': 'guard', 'keep': {'last': 1}}]


def _outcomes(rng, result, refs):
    kinds = ('deleted', 'deleted', 'deleted', 'absent', 'skipped', 'failed', 'restored', None)
    tag_actions, digest_actions = [], []
    for ref in refs['tags']:
        kind = rng.choice(kinds)
        if kind:
            tag_actions.append({'ref': ref, 'action': kind, 'reason': 'moved' if kind == 'skipped' else None, 'msg': 'x'})
    for ref in refs['digests']:
        kind = rng.choice(kinds[:-2] + (None,))
        if kind:
            digest_actions.append({'ref': ref, 'action': kind, 'msg': 'y'})
    return {'actions': tag_actions}, {'actions': digest_actions}


def assert_report_adds_up(summary):
    assert summary['tags_removed'] == summary['tags_removed_with_digests'] + summary['tags_removed_from_surviving']
    assert summary['tags_before'] == summary['tags_kept'] + summary['tags_removed']
    assert summary['tags_after'] == summary['tags_kept'] == sum(summary['kept_by_reason'].values())
    assert summary['digests_before'] == summary['digests_deleted'] + summary['digests_after']


@pytest.mark.parametrize('seed', range(40))
def test_report_figures_add_up_whatever_the_modules_did(seed):
    import random
    rng = random.Random(seed)
    arts, policies = _varied(rng)
    result = plan(arts, policies, now=NOW)
    refs = refs_filter.retention_refs(result)
    tag_result, artifact_result = _outcomes(rng, result, refs)
    for check_mode in (False, True):
        report = report_filter.retention_report(result, tag_result=tag_result, artifact_result=artifact_result,
                                                check_mode=check_mode)
        for name, summary in report['repositories'].items():
            assert_report_adds_up(summary)
            assert len(summary['removed_tags']) == summary['tags_removed']
            assert len(summary['removed_from_surviving']) == summary['tags_removed_from_surviving']
            assert len(summary['deleted_digests']) == summary['digests_deleted']
            assert len(summary['deleted_referrers']) == summary['referrers_deleted']
            assert summary['tags_before'] == result['repositories'][name]['tags_before']
            assert summary['kept_by_reason'].get('deferred', 0) == summary['deferred_tags']
        totals = report['totals']
        assert_report_adds_up(totals)
        assert (totals['removed_tags'], totals['deleted_digests'], totals['kept']) == (
            totals['tags_removed'], totals['digests_deleted'], totals['tags_kept'])
    # when every module call did what the plan said, the report is the plan
    done = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['tags']]}
    gone = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['digests']]}
    report = report_filter.retention_report(result, tag_result=done, artifact_result=gone)
    for name, summary in result['repositories'].items():
        for key in ('tags_before', 'tags_removed', 'tags_removed_with_digests', 'tags_removed_from_surviving', 'tags_kept',
                    'kept_by_reason', 'tags_after', 'digests_before', 'digests_deleted', 'digests_after',
                    'untagged_kept_by_reason', 'referrers_deleted', 'tags_untagged_only', 'deferred_tags', 'deferred_digests'):
            assert report['repositories'][name][key] == summary[key], (name, key)


def test_report_of_a_blocked_plan_keeps_everything_as_blocked():
    snapshot = [artifact('a', ['old-1', 'old-2']), artifact('b', ['old-3']), artifact('c', ['latest'])]
    result = plan(snapshot, {'older_than': '30d', 'max_deletions': 1}, now=NOW)
    assert result['blocked'] is True
    report = report_filter.retention_report(result, check_mode=True)
    summary = report['repositories'][REPO]
    assert summary['tags_removed'] == 0 and summary['tags_kept'] == 4
    assert summary['kept_by_reason'] == {'blocked': 3, 'latest': 1}
    assert report['lines'][0].startswith('BLOCKED, nothing deleted: policy "policy-1"')


def test_report_words_check_mode_would_and_the_real_run_removed():
    snapshot = [artifact('a', ['pr-1', 'stable']), artifact('d', ['old', 'old-alias']), artifact('k', ['latest'])]
    result = plan(snapshot, {'older_than': '30d', 'keep': {'tags': ['stable']}}, now=NOW)
    refs = refs_filter.retention_refs(result)
    done = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['tags']]}
    gone = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['digests']]}
    check = report_filter.retention_report(result, tag_result=done, artifact_result=gone, check_mode=True)['lines']
    real = report_filter.retention_report(result, tag_result=done, artifact_result=gone)['lines']
    assert check[0].startswith('Report (check mode: nothing was changed, the figures say what would happen)')
    assert '  tags:    5 before - 3 would be removed = 2 after; would be removed: 2 with 1 digest(s) + 1 from images that stay' in check
    assert '  digests: 3 before - 1 would be deleted = 2 after; 0.00 MiB would be freed' in check
    assert '  tags:    5 before - 3 removed = 2 after; removed: 2 with 1 deleted digest(s) + 1 from images that stay' in real
    assert '  digests: 3 before - 1 deleted = 2 after; 0.00 MiB freed' in real
    assert '  kept:    2 tag(s) = keep_tags 1 + latest 1' in real
    assert not [line for line in real if 'would' in line]
    assert [line for line in real if line == 'total (1 repository)']


# -- issue 8: the plan as a table ---------------------------------------------------------------------------

def _table_plan():
    index_child = sha('c')
    snapshot = [
        artifact('a', ['pr-1', 'stable'], pushed='2024-03-01T00:00:00Z'),      # pr-1 untagged, image stays
        artifact('d', ['old', 'old-alias'], pushed='2024-01-01T00:00:00Z'),    # deleted with both tags
        artifact('i', ['2024.02'], pushed='2024-02-01T00:00:00Z', media_type='application/vnd.oci.image.index.v1+json',
                 children=[{'digest': index_child}]),                             # deleted with its child
        artifact('c', [], pushed='2024-02-01T00:00:00Z'),
        artifact('k', ['latest'], pushed=NEW),
    ]
    return plan(snapshot, {'name': 'ci', 'older_than': '30d', 'keep': {'tags': ['stable']}}, now=NOW)


def test_table_names_every_tag_that_disappears_in_aligned_columns():
    from ansible_collections.regops.registry.plugins.filter import retention_table as table_filter
    assert table_filter.FilterModule().filters() == {'retention_table': table_filter.retention_table}
    result = _table_plan()
    table = table_filter.retention_table(result, check_mode=True)
    rows = table['rows']
    assert [(r['tag'], r['action']) for r in rows] == [
        ('old', 'delete'), ('old-alias', 'delete'), ('2024.02', 'delete'), (None, 'delete'), ('pr-1', 'untag')]
    gone = set(r['tag'] for r in rows if r['tag'])
    assert gone == set(e['tag'] for e in result['remove_tags']) | set(t for e in result['delete_digests'] for t in e['tags'])
    assert rows[0]['age_seconds'] == 152 * 86400 and rows[0]['reason'] == 'older than 30d' and rows[0]['policy'] == 'ci'
    assert rows[0]['note'] == 'with old-alias' and rows[4]['note'] == 'image stays with stable'
    assert rows[3]['digest'] == sha('c') and rows[3]['note'] == 'child of index sha256:iiiiiiiiiiii'
    lines = table['lines']
    assert lines[0] == 'Plan (check mode: nothing is changed), now %s: 4 tag(s) and 3 digest(s) would go' % NOW
    header, body = lines[1], lines[2:7]
    assert header.split() == ['REPOSITORY', 'TAG', 'DIGEST', 'AGE', 'ACTION', 'POLICY', 'REASON', 'NOTE']
    for column in ('TAG', 'DIGEST', 'AGE', 'ACTION', 'POLICY', 'REASON'):
        start = header.index(column)
        assert all(line[start - 2:start] == '  ' and line[start] != ' ' for line in body), (column, body)
    assert body[0].split()[:7] == [REPO, 'old', 'sha256:dddddddddddd', '152d', 'delete', 'ci', 'older']
    assert body[3].split()[:4] == [REPO, '-', 'sha256:cccccccccccc', '121d']
    assert lines[7] == ('team/app: tags 6 before - 4 would be removed (3 with 3 digest(s) + 1 from images that stay) = 2 after; '
                        'kept 2 = keep_tags 1 + latest 1')
    assert lines[8].startswith('          digests 5 before - 3 would be deleted = 2 after; ')
    assert lines[9].startswith('total: tags 6 before - 4 would be removed')


def test_table_before_a_real_run_and_when_blocked_and_with_kept_tags():
    from ansible_collections.regops.registry.plugins.filter import retention_table as table_filter
    result = _table_plan()
    lines = table_filter.retention_table(result)['lines']
    assert lines[0] == 'Plan, now %s: 4 tag(s) and 3 digest(s) will go' % NOW
    assert not [line for line in lines if 'would' in line]
    assert 'total: tags 6 before - 4 to remove (3 with 3 digest(s) + 1 from images that stay) = 2 after' in lines[-2]
    kept = table_filter.retention_table(result, show_kept=True)['rows']
    assert [(r['tag'], r['reason']) for r in kept if r['action'] == 'keep'] == [('stable', 'keep_tags'), ('latest', 'latest')]
    blocked = dict(result, blocked=True, block_reasons=['policy "ci": 4 planned deletions exceed max_deletions 1'])
    lines = table_filter.retention_table(blocked, check_mode=True)['lines']
    assert lines[0] == lines[-1] == 'BLOCKED, nothing will be deleted: policy "ci": 4 planned deletions exceed max_deletions 1'
    empty = plan([artifact('k', ['latest'])], {'older_than': '30d'}, now=NOW)
    lines = table_filter.retention_table(empty, check_mode=True)['lines']
    assert lines[0].endswith(': 0 tag(s) and 0 digest(s) would go') and 'REPOSITORY' not in lines[1]
    with pytest.raises(AnsibleFilterError, match='must be a plan'):
        table_filter.retention_table({'remove_tags': []})


# -- issue 13: referrers, untag, truncate in the filters ------------------------------------------------------

SUBJECT_SIG = 'sha256-%s.sig' % ('a' * 64)


def _signed_plan(**policy):
    snapshot = [artifact('a', ['old']),
                artifact('s', [SUBJECT_SIG], size_bytes=5),                                   # cosign signature of a
                artifact('b', [], size_bytes=6, subject=sha('a')),                            # OCI 1.1 SBOM of a
                artifact('i', ['idx'], media_type='application/vnd.oci.image.index.v1+json', children=[{'digest': sha('c')}]),
                artifact('c', []),
                artifact('k', ['latest'], pushed=NEW)]
    return plan(snapshot, dict({'name': 'ci', 'older_than': '30d'}, **policy), now=NOW)


@pytest.mark.parametrize('policies, fragment', [
    ({'name': 'p', 'action': 'untag', 'tag_state': 'untagged'}, 'policy "p": key "action" is untag, which never deletes a manifest'),
    ({'name': 'p', 'on_limit': 'truncate'}, 'policy "p": key "on_limit" is truncate but neither max_deletions nor max_deletions_percent'),
    ({'name': 'p', 'artifact_types': ['helmchart']}, 'policy "p": key "artifact_types" has an unknown artifact type "helmchart" '
                                                     '(did you mean "helm"?)'),
    ({'name': 'p', 'platforms': ['amd64']}, 'policy "p": key "platforms" pattern "amd64" is not a platform'),
    ({'name': 'p', 'keep': {'pulled_within': '7 days'}}, 'policy "p": key "keep.pulled_within" is not a valid duration'),
    ({'name': 'p', 'referrers': 'with-subject'},
     'policy "p": key "referrers" must be one of with_subject, keep, got \'with-subject\' (did you mean "with_subject"?)'),
    ({'name': 'p', 'delete_orphan_referrers': 2}, 'policy "p": key "delete_orphan_referrers" must be a boolean, got 2'),
])
def test_retention_policies_checks_the_keys_of_0_5_0(policies, fragment):
    with pytest.raises(AnsibleFilterError) as exc:
        policies_filter.retention_policies(policies)
    assert str(exc.value).startswith('retention_policies: invalid policy: ')
    assert fragment in str(exc.value)


def test_retention_refs_hands_referrers_to_the_artifact_call_with_their_tags():
    result = _signed_plan()
    entry = [e for e in result['delete_digests'] if e['digest'] == sha('a')][0]
    assert [r['digest'] for r in entry['referrers']] == [sha('b'), sha('s')]
    refs = refs_filter.retention_refs(result)
    # indexes, then other manifests, then children, then the referrers that go with their subjects
    assert refs['digests'] == [REPO + '@' + sha('i'), REPO + '@' + sha('a'), REPO + '@' + sha('c'),
                               REPO + '@' + sha('b'), REPO + '@' + sha('s')]
    assert refs['expected_tags'][REPO + '@' + sha('s')] == [SUBJECT_SIG]
    assert refs['expected_tags'][REPO + '@' + sha('b')] == []
    assert set(refs) == {'tags', 'tag_digests', 'digests', 'expected_tags'}   # the contract the role passes on unchanged


def test_report_counts_referrers_deleted_with_their_subject():
    result = _signed_plan()
    refs = refs_filter.retention_refs(result)
    gone = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['digests']]}
    report = report_filter.retention_report(result, artifact_result=gone)
    summary = report['repositories'][REPO]
    assert summary['referrers_deleted'] == 2 and summary['digests_deleted'] == 5 and report['totals']['referrers_deleted'] == 2
    assert summary['deleted_referrers'] == {sha('s'): sha('a'), sha('b'): sha('a')}
    assert summary['deleted_digest_tags'][sha('s')] == [SUBJECT_SIG] and SUBJECT_SIG in summary['removed_tags']
    assert summary['bytes_freed'] == 100 + 100 + 100 + 5 + 6
    assert '  digests: 6 before - 5 deleted (2 referrer(s) with their subjects) = 1 after; 0.00 MiB freed' in report['lines']
    assert_report_adds_up(summary)
    assert summary['errors'] == []


def test_report_a_referrer_deleted_while_its_subject_stayed_is_an_error():
    result = _signed_plan()
    refs = refs_filter.retention_refs(result)
    actions = [{'ref': ref, 'action': 'deleted'} for ref in refs['digests'] if not ref.endswith(sha('a'))]
    actions.append({'ref': REPO + '@' + sha('a'), 'action': 'skipped', 'reason': 'tags_changed', 'msg': 'tag(s) prod now point at it'})
    report = report_filter.retention_report(result, artifact_result={'actions': actions})
    summary = report['repositories'][REPO]
    assert summary['kept_by_reason']['skipped'] == 1 and summary['referrers_deleted'] == 2
    assert ('referrer %s was deleted but its subject %s was not (skipped): the subject stays without it' % (sha('b'), sha('a'))
            in summary['errors'])
    assert report['totals']['errors'] == 2
    assert_report_adds_up(summary)


def test_report_and_table_of_untag_only():
    from ansible_collections.regops.registry.plugins.filter import retention_table as table_filter
    result = plan([artifact('a', ['pr-1', 'pr-2']), artifact('k', ['latest'], pushed=NEW)],
                  {'older_than': '30d', 'action': 'untag'}, now=NOW)
    assert result['delete_digests'] == [] and result['repositories'][REPO]['tags_untagged_only'] == 1
    refs = refs_filter.retention_refs(result)
    assert refs['digests'] == [] and refs['tags'] == [REPO + ':pr-1', REPO + ':pr-2']
    done = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['tags']]}
    report = report_filter.retention_report(result, tag_result=done)
    assert report['totals']['tags_untagged_only'] == 1 and report['totals']['tags_removed_from_surviving'] == 2
    assert '  untag:   1 digest(s) left untagged and stay (action untag never deletes a manifest)' in report['lines']
    table = table_filter.retention_table(result, check_mode=True)
    assert [r['note'] for r in table['rows']] == ['image stays untagged (action untag)'] * 2
    assert '          1 digest(s) left untagged by action untag (they stay)' in table['lines']


def test_report_and_table_of_a_truncated_plan():
    from ansible_collections.regops.registry.plugins.filter import retention_table as table_filter
    snapshot = [artifact(c, ['old-' + c], pushed='2024-01-0%dT00:00:00Z' % (i + 1)) for i, c in enumerate('abcd')]
    snapshot.append(artifact('k', ['latest'], pushed=NEW))
    result = plan(snapshot, {'older_than': '30d', 'max_deletions': 2, 'on_limit': 'truncate'}, now=NOW)
    assert result['blocked'] is False and [e['digest'] for e in result['delete_digests']] == [sha('a'), sha('b')]
    assert [(e['operation'], e['digest']) for e in result['deferred']] == [('delete', sha('c')), ('delete', sha('d'))]
    refs = refs_filter.retention_refs(result)
    assert refs['digests'] == [REPO + '@' + sha('a'), REPO + '@' + sha('b')]
    gone = {'actions': [{'ref': ref, 'action': 'deleted'} for ref in refs['digests']]}
    report = report_filter.retention_report(result, artifact_result=gone)
    summary = report['repositories'][REPO]
    assert summary['deferred_tags'] == 2 and summary['deferred_digests'] == 2 and summary['kept_by_reason']['deferred'] == 2
    assert summary['deferred'] == [{'operation': 'delete', 'digest': sha('c'), 'tags': ['old-c'], 'children': 0, 'referrers': 0},
                                   {'operation': 'delete', 'digest': sha('d'), 'tags': ['old-d'], 'children': 0, 'referrers': 0}]
    assert '  deferred: 2 tag(s) and 2 digest(s) left for the next run (on_limit truncate); kept now' in report['lines']
    assert_report_adds_up(summary)
    lines = table_filter.retention_table(result, check_mode=True)['lines']
    assert '          deferred to the next run (on_limit truncate): 2 tag(s), 2 digest(s)' in lines
    assert any(line.startswith('warning: on_limit truncate: 0 tag removal(s) and 2 manifest deletion(s) deferred') for line in lines)


def test_table_lists_referrers_after_their_subject():
    from ansible_collections.regops.registry.plugins.filter import retention_table as table_filter
    rows = table_filter.retention_table(_signed_plan(), check_mode=True)['rows']
    assert [(r['tag'], r['digest'], r['note']) for r in rows if r['digest'] in (sha('a'), sha('b'), sha('s'))] == [
        ('old', sha('a'), ''), (None, sha('b'), 'referrer of sha256:aaaaaaaaaaaa'),
        (SUBJECT_SIG, sha('s'), 'signature of sha256:aaaaaaaaaaaa')]
