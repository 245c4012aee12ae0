# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""retention_markdown (a report, or a summary, as Markdown) and retention_summary (the reports of several hosts)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.filter import retention_markdown as markdown_filter
from ansible_collections.regops.registry.plugins.filter import retention_summary as summary_filter
from ansible_collections.regops.registry.plugins.filter.retention_report import retention_report
from ansible_collections.regops.registry.plugins.module_utils.retention import plan

retention_markdown = markdown_filter.retention_markdown
retention_summary = summary_filter.retention_summary

NOW = '2024-06-01T00:00:00Z'
OLD = '2024-01-01T00:00:00Z'
NEW = '2024-05-31T23:00:00Z'
POLICY = {'name': 'p', 'older_than': '30d', 'keep': {'latest': True, 'tags': ['stable']}}


def sha(char):
    return 'sha256:' + char * 64


def artifact(char, tags, repo='team/app', pushed=OLD, size=1000):
    return {'repository': repo, 'digest': sha(char), 'media_type': 'application/vnd.oci.image.manifest.v1+json',
            'size_bytes': size, 'tags': list(tags), 'pushed_at': pushed, 'children': []}


def make_report(check_mode=False, fail_web=True):
    """A real report: team/app loses pr-1, pr-2 (digest a) and pr-3 (from image b, which keeps stable);
    deleting team/web's digest d fails (an error)."""
    snapshot = [artifact('a', ['pr-1', 'pr-2']), artifact('b', ['pr-3', 'stable']), artifact('c', ['latest'], pushed=NEW),
                artifact('d', ['v1'], repo='team/web', size=3000), artifact('e', ['latest'], repo='team/web', pushed=NEW)]
    retention = plan(snapshot, [POLICY], now=NOW)
    web = {'ref': 'team/web@' + sha('d'), 'action': 'error', 'msg': 'HTTP 500 <html> | *boom*'} if fail_web else \
        {'ref': 'team/web@' + sha('d'), 'action': 'deleted'}
    tag_result = {'actions': [{'ref': 'team/app:pr-3', 'action': 'absent'}]}
    artifact_result = {'actions': [{'ref': 'team/app@' + sha('a'), 'action': 'deleted'}, web]}
    return retention_report(retention, tag_result, artifact_result, check_mode=check_mode)


def table(text, heading):
    """The rows (label -> count text) of the table under ``heading``."""
    block = text.split(heading + '\n\n', 1)[1].split('\n\n', 1)[0]
    rows = {}
    for line in block.splitlines()[2:]:
        cells = [c.strip() for c in line.strip('|').split(' | ')]
        rows[cells[0]] = cells[1]
    return rows


# -- retention_markdown: a report ------------------------------------------------------

def test_filter_modules_expose_the_filters():
    assert markdown_filter.FilterModule().filters() == {'retention_markdown': retention_markdown}
    assert summary_filter.FilterModule().filters() == {'retention_summary': retention_summary}


def test_report_has_a_table_per_repository_and_the_totals():
    text = retention_markdown(make_report())
    assert text.startswith('## Registry cleanup report\n\n')
    assert text.endswith('\n') and not text.endswith('\n\n')
    assert 'check mode' not in text and 'would' not in text
    assert 'Now `2024-06-01T00:00:00Z`; 2 repositories: 3 tag(s) removed, 1 digest(s) deleted, 1000 B freed; 0 skipped, 1 error(s).' in text
    app = table(text, '### `team/app`')
    assert app == {
        'Tags before': '5', 'Tags removed': '3', '↳ with their deleted digests': '2', '↳ from images that stay': '1',
        'Tags after': '2', '↳ kept: `keep_tags`': '1', '↳ kept: `latest`': '1',
        'Digests before': '3', 'Digests deleted': '1', 'Digests after': '2', 'Bytes freed': '1000 (1000 B)',
        'Skipped': '0', 'Errors': '0'}
    web = table(text, '### `team/web`')
    assert web['Tags removed'] == '0' and web['↳ kept: `error`'] == '1' and web['Errors'] == '1'
    totals = table(text, '### Totals (2 repositories)')
    assert totals['Tags before'] == '7' and totals['Tags removed'] == '3' and totals['Tags after'] == '4'
    assert totals['↳ kept: `latest`'] == '2' and totals['Digests deleted'] == '1' and totals['Errors'] == '1'
    # the tables' figures add up, as the report's do
    for rows in (app, web, totals):
        assert int(rows['Tags before']) - int(rows['Tags removed']) == int(rows['Tags after'])
        assert sum(int(v) for k, v in rows.items() if k.startswith('↳ kept')) == int(rows['Tags after'])
        assert int(rows['Tags removed']) == int(rows['↳ with their deleted digests']) + int(rows['↳ from images that stay'])
    # the repositories come in order, then the totals
    assert text.index('### `team/app`') < text.index('### `team/web`') < text.index('### Totals')


def test_report_lists_the_deleted_digests_and_the_errors_escaped():
    text = retention_markdown(make_report())
    assert '<details><summary>3 tag(s) removed, 1 digest(s) deleted</summary>' in text
    assert '- `%s` with `pr-1`, `pr-2`' % sha('a') in text
    assert 'Tags removed from images that stay:\n\n- `pr-3`' in text
    # free text cannot break the Markdown (or open an HTML tag)
    assert '**Errors:**\n\n- digest %s: error: HTTP 500 \\<html\\> \\| \\*boom\\*' % sha('d') in text
    assert '<html>' not in text
    assert retention_markdown(make_report(), details=False).count('<details>') == 0


def test_check_mode_says_would():
    text = retention_markdown(make_report(check_mode=True))
    assert text.startswith('## Registry cleanup report (check mode)\n\nCheck mode: nothing was changed; the figures say what would happen.')
    assert '3 tag(s) would be removed, 1 digest(s) would be deleted, 1000 B would be freed' in text
    app = table(text, '### `team/app`')
    assert app['Tags that would be removed'] == '3' and app['Digests that would be deleted'] == '1'
    assert app['Bytes that would be freed'] == '1000 (1000 B)'
    assert '<summary>3 tag(s) would be removed, 1 digest(s) would be deleted</summary>' in text
    assert 'Digests would be deleted:' in text


def test_blocked_plan_lists_why():
    report = make_report()
    report['blocked'] = True
    report['block_reasons'] = ['policy "p": max_deletions 1 exceeded (3 deletions planned)']
    text = retention_markdown(report)
    assert '**Blocked, nothing was deleted:**\n\n- policy "p": max\\_deletions 1 exceeded (3 deletions planned)' in text


def test_optional_counts_are_rows_only_when_they_are_not_zero():
    report = make_report()
    text = retention_markdown(report)
    for label in ('Referrers', 'deferred', 'untagged (action untag)', 'Deferred'):
        assert label not in text
    report = copy.deepcopy(report)
    app = report['repositories']['team/app']
    signature = sha('5')
    app.update(referrers_deleted=1, tags_untagged_only=1, deferred_tags=4, deferred_digests=3,
               deleted_referrers={signature: sha('a')},
               deferred=[{'operation': 'untag', 'digest': sha('f'), 'tags': ['pr-9']},
                         {'operation': 'delete', 'digest': sha('9'), 'tags': ['pr-7', 'pr-8'], 'children': 2, 'referrers': 1},
                         {'operation': 'delete', 'digest': sha('8'), 'tags': [], 'children': 0, 'referrers': 0}])
    app['deleted_digests'].append(signature)
    app['deleted_digest_tags'][signature] = ['sha256-%s.sig' % ('a' * 64)]
    report['totals'].update(referrers_deleted=1, deferred_tags=4, deferred_digests=3)
    text = retention_markdown(report)
    rows = table(text, '### `team/app`')
    assert rows['Referrers deleted with their subject'] == '1'
    assert rows['Digests left untagged (action untag)'] == '1'
    assert rows['Tags deferred to the next run'] == '4' and rows['Digests deferred to the next run'] == '3'
    assert '- `%s` with `sha256-%s.sig`, referrer of `%s`' % (signature, 'a' * 64, sha('a')) in text
    assert ('Deferred to the next run:\n\n- untag `pr-9` on `%s`\n- delete `%s` with `pr-7`, `pr-8` (and 2 index child(ren), '
            '1 referrer(s))\n- delete `%s`\n' % (sha('f'), sha('9'), sha('8'))) in text
    totals = table(text, '### Totals (2 repositories)')
    assert totals['Referrers deleted with their subject'] == '1' and 'Digests left untagged (action untag)' not in totals
    assert 'Referrers deleted with their subject' not in table(text, '### `team/web`')
    report['check_mode'] = True
    assert table(retention_markdown(report), '### `team/app`')['Tags that would be deferred to the next run'] == '4'


def test_skipped_leftovers_read_errors_and_after_delete():
    report = copy.deepcopy(make_report(fail_web=False))
    app = report['repositories']['team/app']
    app['skipped'] = [{'tag': 'pr-4', 'reason': 'moved', 'msg': 'moved: now points at sha256:1'},
                      {'digest': sha('b'), 'reason': 'tags_changed', 'msg': 'gained tag hotfix'}]
    app['leftovers'] = [{'digest': sha('0'), 'tags': ['pr-0'], 'action': 'deleted'}]
    app['read_errors'] = 1
    report['after_delete'] = {'attestations': {'changed': 2, 'unchanged': 1, 'failed': 1, 'errors': ['attestations x: error']}}
    text = retention_markdown(report)
    rows = table(text, '### `team/app`')
    assert rows['Skipped'] == '2' and rows['Leftover throwaway manifests deleted'] == '1'
    assert rows['Artifacts that could not be read (kept)'] == '1'
    assert '- tag `pr-4` (`moved`): moved: now points at sha256:1' in text
    assert '- `%s` (`tags_changed`): gained tag hotfix' % sha('b') in text
    assert '### After delete\n\n| Step | Changed | Unchanged | Failed |\n|:---|---:|---:|---:|\n| `attestations` | 2 | 1 | 1 |' in text
    assert '- attestations x: error' in text


def test_long_lists_are_cut_at_max_items():
    report = copy.deepcopy(make_report())
    report['repositories']['team/web']['errors'] = ['error %d' % n for n in range(7)]
    text = retention_markdown(report, max_items=3)
    assert '- error 2\n- ... and 4 more' in text and 'error 3' not in text
    assert 'error 6' in retention_markdown(report, max_items=0)


def test_one_repository_has_no_separate_totals_table():
    snapshot = [artifact('a', ['pr-1']), artifact('c', ['latest'], pushed=NEW)]
    retention = plan(snapshot, [POLICY], now=NOW)
    report = retention_report(retention, {}, {'actions': [{'ref': 'team/app@' + sha('a'), 'action': 'deleted'}]})
    text = retention_markdown(report)
    assert 'Now `2024-06-01T00:00:00Z`; 1 repository: 1 tag(s) removed, 1 digest(s) deleted' in text
    assert '### `team/app`' in text and 'Totals' not in text
    assert table(text, '### `team/app`')['Tags removed'] == '1'


def test_title_and_heading_level():
    text = retention_markdown(make_report(), title='Nightly *cleanup*', heading_level=3)
    assert text.startswith('### Nightly \\*cleanup\\*\n')
    assert '#### `team/app`' in text and '#### Totals' in text


@pytest.mark.parametrize('data, kwargs, fragment', [
    ({'remove_tags': []}, {}, 'the input must be a report from regops.registry.retention_report'),
    ('text', {}, 'the input must be a report'),
    (None, {}, 'the input must be a report'),
    ('REPORT', {'heading_level': 5}, 'heading_level must be between 1 and 4, got 5'),
    ('REPORT', {'max_items': -1}, 'max_items must be 0 (no limit) or more, got -1'),
    ('REPORT', {'max_items': 'many'}, 'heading_level and max_items must be integers'),
])
def test_bad_input_is_a_clear_error(data, kwargs, fragment):
    with pytest.raises(AnsibleFilterError) as exc:
        retention_markdown(make_report() if data == 'REPORT' else data, **kwargs)
    assert str(exc.value).startswith('retention_markdown: ') and fragment in str(exc.value)


# -- retention_summary ---------------------------------------------------------------

def test_summary_totals_are_the_sum_of_the_hosts():
    first, second = make_report(), make_report(fail_web=False)
    summary = retention_summary({'registry-b': second, 'registry-a': first, 'registry-c': None})
    assert list(summary['hosts']) == ['registry-a', 'registry-b', 'registry-c']
    assert summary['hosts']['registry-c'] == {'report': False}
    assert summary['hosts']['registry-a']['totals'] == first['totals']
    totals = summary['totals']
    for key, value in first['totals'].items():
        if isinstance(value, int) and not isinstance(value, bool):
            assert totals[key] == value + second['totals'][key], key
    assert totals['kept_by_reason'] == {'error': 1, 'keep_tags': 2, 'latest': 4}
    assert totals['repositories'] == 4 and totals['tags_removed'] == 7 and totals['digests_deleted'] == 3
    assert (totals['hosts'], totals['hosts_reported'], totals['hosts_missing'], totals['hosts_blocked'],
            totals['hosts_with_errors']) == (3, 2, 1, 0, 1)
    assert summary['check_mode'] is False
    assert summary['lines'][0] == 'Summary over 3 host(s)'
    assert summary['lines'][1].startswith('registry-a: 2 repositories; tags 7 before - 3 removed = 4 after; 1 digest(s) deleted;')
    assert summary['lines'][3] == 'registry-c: no report (the role failed before its report, or did not run)'
    assert 'total (3 hosts, 4 repositories)' in summary['lines']
    assert '  tags:    14 before - 7 removed = 7 after' in summary['lines']


def test_summary_adds_up_counts_it_does_not_know():
    first, second = make_report(), make_report()
    for report, count in ((first, 2), (second, 5)):
        report['totals'].update(referrers_deleted=count, deferred_tags=1, kept_by_reason=dict(report['totals']['kept_by_reason'], deferred=1))
    summary = retention_summary({'a': first, 'b': second})
    assert summary['totals']['referrers_deleted'] == 7 and summary['totals']['deferred_tags'] == 2
    assert summary['totals']['kept_by_reason']['deferred'] == 2
    assert 'referrers deleted 2, tags deferred 1' in summary['lines'][1]


def test_summary_in_check_mode_and_blocked_hosts():
    blocked = make_report(check_mode=True)
    blocked.update(blocked=True, block_reasons=['policy "p": would empty team/app'])
    summary = retention_summary({'a': make_report(check_mode=True), 'b': blocked})
    assert summary['check_mode'] is True and summary['totals']['hosts_blocked'] == 1
    assert summary['lines'][0].startswith('Summary over 2 host(s) (check mode')
    assert summary['lines'][2].endswith('; BLOCKED, nothing deleted: policy "p": would empty team/app')
    assert 'would be removed' in summary['lines'][1]


def test_summary_as_markdown_has_a_row_per_host_and_a_total():
    first, second = make_report(), make_report(fail_web=False)
    second['totals']['referrers_deleted'] = 2
    text = retention_markdown(retention_summary({'registry-a': first, 'registry-b': second, 'registry-c': None}))
    assert text.startswith('## Registry cleanup summary\n\n3 host(s), 2 with a report; 4 repositories: 7 tag(s) removed')
    lines = text.splitlines()
    header = [c.strip() for c in lines[4].strip('|').split('|')]
    assert header == ['Host', 'Repositories', 'Tags before', 'Removed', 'Tags after', 'Digests deleted', 'Freed',
                      'Referrers deleted with their subject', 'Skipped', 'Errors', 'Status']
    rows = {}
    for line in lines[6:10]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        assert len(cells) == len(header), line
        rows[cells[0]] = cells
    assert rows['`registry-a`'][1:5] == ['2', '7', '3', '4'] and rows['`registry-a`'][-1] == '**errors**'
    assert rows['`registry-b`'][7] == '2' and rows['`registry-b`'][-1] == 'ok'
    assert rows['`registry-c`'][-1] == 'no report' and rows['`registry-c`'][1] == ''
    assert rows['**Total**'][1:6] == ['4', '14', '7', '7', '3'] and rows['**Total**'][6] == '4.9 KiB'
    assert '**No report** (the role failed before its report, or did not run): `registry-c`' in text
    assert 'Kept tags by reason: `error` 1, `keep_tags` 2, `latest` 4.' in text


def test_summary_markdown_in_check_mode_names_blocked_hosts():
    blocked = make_report(check_mode=True)
    blocked.update(blocked=True, block_reasons=['too many'])
    text = retention_markdown(retention_summary({'a': blocked}), title='Fleet')
    assert text.startswith('## Fleet (check mode)\n')
    assert '| Host | Repositories | Tags before | Would be removed | Tags after | Digests would be deleted | Would be freed |' in text
    assert '**blocked**' in text and '**Blocked, nothing was deleted there:**\n\n- `a`: too many' in text


@pytest.mark.parametrize('data, fragment', [
    ([], 'the input must be a dict of reports by host name, got list'),
    ({'a': {'lines': []}}, 'the report of host a is not a report from regops.registry.retention_report'),
    ({'a': 'text'}, 'the report of host a is not a report'),
])
def test_summary_bad_input(data, fragment):
    with pytest.raises(AnsibleFilterError, match=re.escape(fragment)):
        retention_summary(data)


def test_an_empty_summary():
    summary = retention_summary({})
    assert summary['totals']['hosts'] == 0 and summary['hosts'] == {}
    assert retention_markdown(summary).startswith('## Registry cleanup summary\n\n0 host(s), 0 with a report; 0 repositories')
