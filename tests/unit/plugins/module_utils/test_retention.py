# -*- coding: utf-8 -*-
# Copyright: (c) 2025, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import json
import random
import re

import pytest

from ansible_collections.regops.registry.plugins.module_utils.retention import (
    _build_policies,
    PolicyError,
    REASONS,
    SnapshotError,
    format_duration,
    glob_to_regex,
    normalize_policies,
    parse_duration,
    parse_semver,
    parse_timestamp,
    plan,
    platform_glob_to_regex,
)

NOW = '2024-06-01T00:00:00Z'
NOW_DT = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc)
INDEX = 'application/vnd.oci.image.index.v1+json'
IMAGE = 'application/vnd.oci.image.manifest.v1+json'
HEX_A = 'a' * 64
HEX_B = 'b' * 64
HEX_C = 'c' * 64


def ago(days=0, hours=0, minutes=0, seconds=0):
    delta = datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return (NOW_DT - delta).strftime('%Y-%m-%dT%H:%M:%SZ')


def art(digest, tags=(), repo='team/app', pushed=None, pulled=None, created=None, size=100, children=None,
        subject=None, media_type=None):
    entry = {
        'repository': repo,
        'digest': digest if ':' in digest else 'sha256:' + digest,
        'media_type': media_type or (INDEX if children else IMAGE),
        'size_bytes': size,
        'tags': list(tags),
        'pushed_at': pushed,
        'pulled_at': pulled,
        'created_at': created,
        'children': [{'digest': c if ':' in c else 'sha256:' + c, 'media_type': IMAGE, 'platform': 'linux/amd64'}
                     for c in (children or [])],
        'subject': (subject if subject is None or ':' in subject else 'sha256:' + subject),
    }
    return entry


def d(name):
    return name if ':' in name else 'sha256:' + name


def run(artifacts, policies, now=NOW, repositories=None):
    snapshot = {'artifacts': artifacts}
    if repositories is not None:
        snapshot['repositories'] = repositories
    return plan(snapshot, policies, now=now)


def removed_tags(result):
    return sorted((e['repository'], e['tag']) for e in result['remove_tags'])


def deleted(result):
    return sorted(e['digest'] for e in result['delete_digests'])


def all_deleted(result):
    out = []
    for entry in result['delete_digests']:
        out.append(entry['digest'])
        out.extend(entry['children'])
        out.extend(r['digest'] for r in entry['referrers'])
    return sorted(out)


def kept(result):
    """{(digest, tag): reason}"""
    return dict(((e['digest'], e['tag']), e['reason']) for e in result['kept'])


def kept_entry(result, digest, tag):
    matches = [e for e in result['kept'] if e['digest'] == d(digest) and e['tag'] == tag]
    assert len(matches) == 1, result['kept']
    return matches[0]


# ---------------------------------------------------------------------------
# parse_duration / timestamps / patterns
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('30d', 30 * 86400), ('12h', 43200), ('90m', 5400), ('2w', 1209600), ('45s', 45),
    ('1d12h', 129600), ('1w2d3h4m5s', 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5), ('0', 0),
    (0, 0), (' 7D ', 7 * 86400), (datetime.timedelta(hours=2), 7200), (None, None),
])
def test_parse_duration_valid(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize('value, fix', [(30, '"30d" (days) or "30s"'), ('30', '"30d" (days) or "30s"'),
                                        (3600, '"3600d" (days) or "3600s"'), (' 45 ', '"45d" (days) or "45s"'),
                                        (1.5, '"1.5d" (days) or "1.5s"')])
def test_parse_duration_refuses_a_bare_number(value, fix):
    """older_than: 30 used to be 30 seconds where 30 days was meant: a number needs a unit (0 needs none)."""
    with pytest.raises(ValueError, match='a number has no unit; write ' + fix.replace('(', r'\(').replace(')', r'\)')):
        parse_duration(value)
    with pytest.raises(PolicyError, match=r'policy "p": key "older_than" is not a valid duration: .*write "'):
        normalize_policies({'name': 'p', 'older_than': value})


def test_format_duration_round_trips():
    for seconds in (0, 1, 45, 60, 5400, 3600, 86400, 129600, 14 * 86400, 60 * 86400 + 61):
        assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(60 * 86400) == '60d' and format_duration(5400) == '1h30m' and format_duration(0) == '0s'


@pytest.mark.parametrize('value', ['', 'd', '30x', '1d1d', '-5s', -1, True, '1.5h', '1 d', 'h1', [], '30dd'])
def test_parse_duration_invalid(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize('value', [
    '2024-05-01T12:00:00Z', '2024-05-01T12:00:00+00:00', '2024-05-01T12:00:00.000000000Z',
    '2024-05-01T14:00:00+02:00', '2024-05-01T12:00:00', '2024-05-01 12:00:00z', '2024-05-01T07:00:00-0500',
])
def test_parse_timestamp_equivalent_forms(value):
    assert parse_timestamp(value) == datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)


def test_parse_timestamp_fraction_and_types():
    assert parse_timestamp('2024-05-01T12:00:00.123456789Z').microsecond == 123456
    assert parse_timestamp('2024-05-01T12:00:00.5Z').microsecond == 500000
    assert parse_timestamp(None) is None
    assert parse_timestamp(datetime.datetime(2024, 5, 1, 12)).tzinfo is not None
    assert parse_timestamp(0) == datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    for bad in ('yesterday', '2024-13-01T00:00:00Z', True):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


@pytest.mark.parametrize('pattern, name, expected', [
    ('team/*', 'team/app', True),
    ('team/*', 'team/app/sub', False),
    ('team/**', 'team/app/sub', True),
    ('**/app', 'app', True),
    ('**/app', 'a/b/app', True),
    ('team/**/app', 'team/app', True),
    ('team/**/app', 'team/x/y/app', True),
    ('team/?pp', 'team/app', True),
    ('team/[ab]pp', 'team/bpp', True),
    ('team/[!ab]pp', 'team/app', False),
    ('team/app', 'team/app2', False),
    ('team.app', 'teamXapp', False),
])
def test_glob(pattern, name, expected):
    import re
    assert bool(re.match(glob_to_regex(pattern), name)) is expected


@pytest.mark.parametrize('tag, expected', [
    ('1.2.3', (1, 2, 3, None)), ('v1.2.3', (1, 2, 3, None)), ('v1.2.3-rc.1', (1, 2, 3, 'rc.1')),
    ('1.2', None), ('01.2.3', None), ('V1.2.3', None), ('latest', None), ('1.2.3-beta', (1, 2, 3, 'beta')),
])
def test_parse_semver(tag, expected):
    assert parse_semver(tag) == expected


# ---------------------------------------------------------------------------
# Scope and selection
# ---------------------------------------------------------------------------

def test_repository_scope_glob_regex_and_exclude():
    arts = [art('a1', ['old'], repo='team/app', pushed=ago(100)),
            art('a2', ['old'], repo='team/app/sub', pushed=ago(100)),
            art('a3', ['old'], repo='other/app', pushed=ago(100)),
            art('a4', ['old'], repo='team/skip', pushed=ago(100))]
    res = run(arts, {'repositories': {'include': ['team/*'], 'exclude': ['re:team/sk.*']}, 'older_than': '30d'})
    assert deleted(res) == [d('a1')]
    assert sorted(res['repositories']) == ['team/app']
    res = run(arts, {'repositories': {'include': ['team/**']}, 'older_than': '30d'})
    assert deleted(res) == [d('a1'), d('a2'), d('a4')]
    # re: is anchored (full match)
    res = run(arts, {'repositories': {'include': ['re:team']}})
    assert res['delete_digests'] == [] and res['repositories'] == {}
    assert 'matches no repository' in res['warnings'][0]
    # bare list = include
    res = run(arts, {'repositories': ['re:other/.*'], 'older_than': '30d'})
    assert deleted(res) == [d('a3')]


def test_tags_include_exclude_are_anchored():
    arts = [art('a', ['pr-1'], pushed=ago(40)), art('b', ['xpr-2'], pushed=ago(40)),
            art('c', ['pr-3-keep'], pushed=ago(40)), art('e', ['pr-4'], pushed=ago(40))]
    for include, exclude in ((['pr-*'], ['*-keep', 'pr-4']), (['re:pr-.*'], ['re:.*-keep', 're:pr-4'])):
        res = run(arts, {'tags': {'include': include, 'exclude': exclude}, 'older_than': '30d'})
        assert deleted(res) == [d('a')]
        reasons = kept(res)
        assert reasons[(d('b'), 'xpr-2')] == 'not_selected'
        assert reasons[(d('c'), 'pr-3-keep')] == 'not_selected'
        assert reasons[(d('e'), 'pr-4')] == 'not_selected'


def test_tag_state_tagged_untagged_any():
    arts = [art('t', ['old'], pushed=ago(40)), art('u', [], pushed=ago(40))]
    res = run(arts, {'older_than': '30d'})
    assert deleted(res) == [d('t')]
    assert kept(res)[(d('u'), None)] == 'not_selected'
    res = run(arts, {'older_than': '30d', 'tag_state': 'untagged'})
    assert deleted(res) == [d('u')]
    assert kept(res)[(d('t'), 'old')] == 'not_selected'
    res = run(arts, {'older_than': '30d', 'tag_state': 'any'})
    assert deleted(res) == [d('t'), d('u')]
    res = run(arts, {'older_than': '30d', 'tag_state': 'any', 'delete_untagged': False})
    assert deleted(res) == [d('t')]
    res = run(arts, {'tag_state': 'untagged', 'delete_untagged': False})
    assert deleted(res) == []
    assert any('selects nothing' in w for w in res['warnings'])


def test_tag_filters_do_not_apply_to_untagged_manifests():
    arts = [art('u', [], pushed=ago(40))]
    res = run(arts, {'tag_state': 'any', 'tags': {'include': ['nomatch']}, 'older_than': '30d'})
    assert deleted(res) == [d('u')]


def test_age_window_older_newer_too_new_no_timestamp():
    arts = [art('old', ['a'], pushed=ago(40)), art('new', ['b'], pushed=ago(10)),
            art('ancient', ['c'], pushed=ago(400)), art('nots', ['e'])]
    res = run(arts, {'older_than': '30d', 'newer_than': '365d'})
    assert deleted(res) == [d('old')]
    reasons = kept(res)
    assert reasons[(d('new'), 'b')] == 'too_new'
    assert reasons[(d('ancient'), 'c')] == 'not_selected'
    assert reasons[(d('nots'), 'e')] == 'no_timestamp'
    assert kept_entry(res, 'new', 'b')['policy'] == 'policy-1'


def test_boundary_older_than_is_inclusive():
    res = run([art('a', ['x'], pushed=ago(days=30))], {'older_than': '30d'})
    assert deleted(res) == [d('a')]
    res = run([art('a', ['x'], pushed=ago(days=30, seconds=-1))], {'older_than': '30d'})
    assert kept(res)[(d('a'), 'x')] == 'too_new'


def test_no_age_rule_selects_undated_artifacts():
    res = run([art('a', ['x'])], {'tag_state': 'tagged'})
    assert deleted(res) == [d('a')]
    assert res['delete_digests'][0]['age_basis'] is None


# ---------------------------------------------------------------------------
# Age basis fallback
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('basis, fields, expected_basis, selected', [
    ('pulled', {'pulled': ago(40), 'pushed': ago(1), 'created': ago(1)}, 'pulled', True),
    ('pulled', {'pushed': ago(40), 'created': ago(1)}, 'pushed', True),
    ('pulled', {'created': ago(40)}, 'created', True),
    ('pushed', {'pulled': ago(40), 'created': ago(40)}, 'created', True),
    ('pushed', {'pulled': ago(40)}, None, False),
    ('created', {'pushed': ago(40), 'pulled': ago(1)}, 'pushed', True),
    ('created', {'created': ago(5), 'pushed': ago(40)}, 'created', False),
])
def test_age_basis_fallback(basis, fields, expected_basis, selected):
    res = run([art('a', ['x'], **fields), art('k', ['latest'], pushed=ago(1))],
              {'age_basis': basis, 'older_than': '30d', 'keep': {'min_age': 0}})
    if selected:
        assert deleted(res) == [d('a')]
        assert res['delete_digests'][0]['age_basis'] == expected_basis
    else:
        entry = kept_entry(res, 'a', 'x')
        assert entry['reason'] == ('no_timestamp' if expected_basis is None else 'too_new')
        assert entry['age_basis'] == expected_basis


# ---------------------------------------------------------------------------
# Protection
# ---------------------------------------------------------------------------

def test_latest_protected_by_default_and_can_be_disabled():
    arts = [art('a', ['latest'], pushed=ago(100))]
    res = run(arts, {'older_than': '30d'})
    assert deleted(res) == [] and kept(res)[(d('a'), 'latest')] == 'latest'
    res = run(arts, {'older_than': '30d', 'keep': {'latest': False}, 'allow_empty_repository': True})
    assert deleted(res) == [d('a')]


def test_keep_tags_regex_anchored():
    arts = [art('a', ['main'], pushed=ago(100)), art('b', ['main-old'], pushed=ago(100)), art('c', ['x'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d', 'keep': {'tags': ['main', 'stable']}})
    assert kept(res)[(d('a'), 'main')] == 'keep_tags'
    assert deleted(res) == [d('b')]


def test_keep_last_counts_tagged_artifacts_per_repository():
    arts = [art('a%d' % i, ['b%d' % i], pushed=ago(100 + i)) for i in range(5)]
    arts += [art('u1', [], pushed=ago(1)), art('u2', [], pushed=ago(2))]
    arts += [art('z%d' % i, ['b%d' % i], repo='team/other', pushed=ago(100 + i)) for i in range(3)]
    res = run(arts, {'tag_state': 'any', 'older_than': '30d', 'keep': {'last': 2}})
    # untagged manifests are not counted: a0 and a1 are the two newest tagged artifacts
    assert kept(res)[(d('a0'), 'b0')] == 'keep_last'
    assert kept(res)[(d('a1'), 'b1')] == 'keep_last'
    assert deleted(res) == sorted([d('a2'), d('a3'), d('a4'), d('z2')])
    assert kept(res)[(d('z0'), 'b0')] == 'keep_last'


def test_keep_last_protects_all_tags_of_kept_artifact():
    arts = [art('new', ['b2', 'other'], pushed=ago(50)), art('old', ['b1'], pushed=ago(60))]
    res = run(arts, {'older_than': '30d', 'tags': {'include': ['b*']}, 'keep': {'last': 1}})
    assert kept(res)[(d('new'), 'b2')] == 'keep_last'
    assert kept(res)[(d('new'), 'other')] == 'keep_last'
    assert deleted(res) == [d('old')]


def test_keep_last_ranks_within_tag_filter():
    # a release tag is newer, but the policy manages pr-* tags: keep the newest pr build
    arts = [art('rel', ['v1.0.0'], pushed=ago(35)), art('pr2', ['pr-2'], pushed=ago(40)), art('pr1', ['pr-1'], pushed=ago(50))]
    res = run(arts, {'older_than': '30d', 'tags': {'include': ['pr-*']}, 'keep': {'last': 1}})
    assert kept(res)[(d('pr2'), 'pr-2')] == 'keep_last'
    assert deleted(res) == [d('pr1')]


def test_keep_last_ties_are_deterministic():
    same = ago(100)
    # equal pushed: newest created wins
    arts = [art('x1', ['t1'], pushed=same, created=ago(200)), art('x2', ['t2'], pushed=same, created=ago(150))]
    res = run(arts, {'older_than': '30d', 'keep': {'last': 1}})
    assert kept(res)[(d('x2'), 't2')] == 'keep_last'
    assert deleted(res) == [d('x1')]
    # everything equal: lowest digest wins, whatever the input order
    arts = [art('bbb', ['t1'], pushed=same), art('aaa', ['t2'], pushed=same), art('ccc', ['t3'], pushed=same)]
    for perm in (arts, list(reversed(arts))):
        res = run(perm, {'older_than': '30d', 'keep': {'last': 1}})
        assert kept(res)[(d('aaa'), 't2')] == 'keep_last'
        assert deleted(res) == [d('bbb'), d('ccc')]
    # undated artifacts rank last
    arts = [art('nod', ['t1']), art('dated', ['t2'], pushed=ago(100))]
    res = run(arts, {'tag_state': 'tagged', 'keep': {'last': 1}})
    assert kept(res)[(d('dated'), 't2')] == 'keep_last'
    assert deleted(res) == [d('nod')]


def test_keep_last_uses_age_basis():
    arts = [art('a', ['t1'], pushed=ago(100), pulled=ago(1)), art('b', ['t2'], pushed=ago(50), pulled=ago(90))]
    res = run(arts, {'keep': {'last': 1}, 'age_basis': 'pulled', 'older_than': '0s'})
    assert kept(res)[(d('a'), 't1')] == 'keep_last'
    assert deleted(res) == [d('b')]


def _semver_arts():
    tags = ['v1.0.0', 'v1.1.0', 'v1.2.0', '1.2.1', 'v1.3.0-rc.1', '2.0.0', 'v2.0.1', 'v2.1.0-beta', 'v3.0.0-rc1', 'main']
    return [art('s%02d' % i, [t], pushed=ago(100 + i)) for i, t in enumerate(tags)]


def test_keep_semver_major():
    res = run(_semver_arts(), {'older_than': '30d', 'keep': {'semver': {'major': 2}}})
    protected = sorted(t for (dg, t), r in kept(res).items() if r == 'keep_semver')
    assert protected == ['1.2.1', '2.0.0', 'v1.2.0', 'v2.0.1']
    removed = sorted(t for e in res['delete_digests'] for t in e['tags'])
    assert removed == ['main', 'v1.0.0', 'v1.1.0', 'v1.3.0-rc.1', 'v2.1.0-beta', 'v3.0.0-rc1']


def test_keep_semver_minor_and_v_prefix_is_same_release():
    arts = _semver_arts() + [art('dup', ['1.2.0'], pushed=ago(200))]
    res = run(arts, {'older_than': '30d', 'keep': {'semver': {'minor': 1}}})
    protected = sorted(t for (dg, t), r in kept(res).items() if r == 'keep_semver')
    # 1.0 -> 1.0.0, 1.1 -> 1.1.0, 1.2 -> 1.2.1, 2.0 -> 2.0.1 ; 1.3 and 2.1 and 3.0 only have prereleases
    assert protected == ['1.2.1', 'v1.0.0', 'v1.1.0', 'v2.0.1']
    res = run(arts, {'older_than': '30d', 'keep': {'semver': {'major': 1}}})
    assert d('dup') in deleted(res)
    res = run(arts, {'older_than': '30d', 'keep': {'semver': {'minor': 2}}})
    # 1.2.0 and v1.2.0 are the same release: both kept with 1.2.1
    assert kept(res)[(d('dup'), '1.2.0')] == 'keep_semver'
    assert kept(res)[(d('s02'), 'v1.2.0')] == 'keep_semver'


def test_keep_semver_all():
    res = run(_semver_arts(), {'older_than': '30d', 'keep': {'semver': {'all': True}}})
    protected = sorted(t for (dg, t), r in kept(res).items() if r == 'keep_semver')
    assert protected == ['1.2.1', '2.0.0', 'v1.0.0', 'v1.1.0', 'v1.2.0', 'v2.0.1']


def test_keep_digests_in_use_plain_and_repo_qualified():
    a, b, u = HEX_A, HEX_B, 'e' * 64
    arts = [art(a, ['x', 'y'], pushed=ago(100)), art(b, ['z'], pushed=ago(100)),
            art(u, [], pushed=ago(100)), art(a, ['x'], repo='team/other', pushed=ago(100))]
    res = run(arts, {'tag_state': 'any', 'older_than': '30d', 'keep': {'digests': [d(u), 'team/app@' + d(a)]}})
    assert kept(res)[(d(a), 'x')] == 'in_use' and kept(res)[(d(a), 'y')] == 'in_use'
    assert kept(res)[(d(u), None)] == 'in_use'
    assert [(e['repository'], e['digest']) for e in res['delete_digests']] == [('team/app', d(b)), ('team/other', d(a))]


def test_min_age_floor_default_one_hour():
    arts = [art('a', ['x'], pushed=ago(minutes=30)), art('b', ['y'], pushed=ago(hours=2)), art('u', [], pushed=ago(minutes=5))]
    res = run(arts, {'tag_state': 'any'})
    assert kept(res)[(d('a'), 'x')] == 'min_age'
    assert kept(res)[(d('u'), None)] == 'min_age'
    assert deleted(res) == [d('b')]


def test_min_age_uses_newest_of_pushed_and_created_not_pulled():
    arts = [art('a', ['x'], pushed=ago(100), created=ago(hours=1, seconds=-1)),
            art('b', ['y'], pushed=ago(100), created=ago(100), pulled=ago(seconds=1))]
    res = run(arts, {'older_than': '30d', 'age_basis': 'pushed'})
    assert kept(res)[(d('a'), 'x')] == 'min_age'
    assert deleted(res) == [d('b')]
    res = run(arts, {'older_than': '30d', 'keep': {'min_age': 0}})
    assert deleted(res) == [d('a'), d('b')]
    res = run(arts, {'older_than': '30d', 'keep': {'min_age': '2d'}})
    assert deleted(res) == [d('b')]


def test_min_age_without_pushed_or_created_does_not_protect():
    res = run([art('a', ['x'], pulled=ago(seconds=1))], {'tag_state': 'tagged'})
    assert deleted(res) == [d('a')]


def test_protection_reason_precedence():
    arts = [art(HEX_A, ['latest'], pushed=ago(minutes=1))]
    res = run(arts, {'keep': {'digests': [d(HEX_A)], 'tags': ['latest'], 'last': 1}})
    assert kept(res)[(d(HEX_A), 'latest')] == 'in_use'
    arts = [art('a', ['latest'], pushed=ago(minutes=1))]
    res = run(arts, {'keep': {'tags': ['latest'], 'last': 1}})
    assert kept(res)[(d('a'), 'latest')] == 'latest'
    res = run([art('a', ['v1.0.0'], pushed=ago(minutes=1))], {'keep': {'tags': ['v*'], 'semver': {'all': True}, 'last': 1}})
    assert kept(res)[(d('a'), 'v1.0.0')] == 'keep_tags'
    res = run([art('a', ['v1.0.0'], pushed=ago(minutes=1))], {'keep': {'semver': {'all': True}, 'last': 1}})
    assert kept(res)[(d('a'), 'v1.0.0')] == 'keep_semver'
    res = run([art('a', ['v1'], pushed=ago(minutes=1))], {'keep': {'last': 1}})
    assert kept(res)[(d('a'), 'v1')] == 'keep_last'
    # protection is reported even when the tag was not selected at all
    res = run([art('a', ['latest'], pushed=ago(100))], {'tags': {'include': ['pr-*']}})
    assert kept(res)[(d('a'), 'latest')] == 'latest'


# ---------------------------------------------------------------------------
# Digest guard
# ---------------------------------------------------------------------------

def test_shared_digest_one_tag_selected_sibling_kept_only_untags():
    arts = [art('a', ['pr-1', 'release'], pushed=ago(100))]
    res = run(arts, {'tags': {'include': ['pr-*']}, 'older_than': '30d'})
    assert res['delete_digests'] == []
    assert [(e['tag'], e['digest']) for e in res['remove_tags']] == [('pr-1', d('a'))]
    assert kept(res) == {(d('a'), 'release'): 'not_selected', (d('a'), None): 'shared_digest'}


def test_latest_on_shared_digest():
    arts = [art('a', ['latest', 'v7'], pushed=ago(100)), art('b', ['v6'], pushed=ago(200))]
    res = run(arts, {'older_than': '30d'})
    assert removed_tags(res) == [('team/app', 'v7')]
    assert deleted(res) == [d('b')]
    assert kept(res)[(d('a'), 'latest')] == 'latest'
    assert kept(res)[(d('a'), None)] == 'shared_digest'
    entry = kept_entry(res, 'a', 'latest')
    assert entry['selected_by'] == ['policy-1'] and entry['protected_by'] == ['policy-1']


def test_protected_sibling_tag_keeps_digest():
    arts = [art('a', ['build-1', 'prod', 'build-1b'], pushed=ago(100))]
    res = run(arts, {'older_than': '30d', 'keep': {'tags': ['prod']}})
    assert removed_tags(res) == [('team/app', 'build-1'), ('team/app', 'build-1b')]
    assert res['delete_digests'] == []
    assert kept(res)[(d('a'), 'prod')] == 'keep_tags'


def test_all_tags_selected_deletes_digest_with_its_tags():
    arts = [art('a', ['b1', 'b1-alias'], pushed=ago(100), size=500)]
    res = run(arts, {'older_than': '30d'})
    assert res['remove_tags'] == []
    entry = res['delete_digests'][0]
    assert entry['tags'] == ['b1', 'b1-alias'] and entry['size_bytes'] == 500 and entry['children'] == []
    assert entry['policy'] == 'policy-1'
    summary = res['repositories']['team/app']
    assert summary['tags_before'] == 2 and summary['tags_after'] == 0 and summary['bytes_freed'] == 500
    assert res['blocked'] is True  # emptying the repository is refused by default


# ---------------------------------------------------------------------------
# Index guard
# ---------------------------------------------------------------------------

def _multiarch(index_tags, index_pushed=None, extra=()):
    pushed = index_pushed or ago(100)
    return [art('idx', index_tags, pushed=pushed, children=['c1', 'c2'], size=10),
            art('c1', [], pushed=pushed, size=1000), art('c2', [], pushed=pushed, size=None)] + list(extra)


def test_children_of_surviving_index_never_deleted():
    arts = _multiarch(['latest'])
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert res['delete_digests'] == []
    assert kept(res)[(d('c1'), None)] == 'index_child'
    assert kept(res)[(d('c2'), None)] == 'index_child'
    # also under tag_state tagged: guard reason beats not_selected
    res = run(arts, {'older_than': '30d'})
    assert kept(res)[(d('c1'), None)] == 'index_child'


def test_tagged_index_deleted_with_untagged_children():
    arts = _multiarch(['v1'], extra=[art('keep', ['v2'], pushed=ago(1))])
    res = run(arts, {'older_than': '30d'})
    assert deleted(res) == [d('idx')]
    entry = res['delete_digests'][0]
    assert entry['tags'] == ['v1'] and entry['children'] == [d('c1'), d('c2')]
    summary = res['repositories']['team/app']
    assert summary['bytes_freed'] == 1010 and summary['bytes_freed_partial'] is True
    assert summary['children_deleted'] == 2 and summary['digests_after'] == 1 and summary['digests_deleted'] == 3
    assert res['totals']['bytes_freed'] == 1010 and res['totals']['children_deleted'] == 2


def test_untagged_index_deleted_with_children_listed_once():
    arts = _multiarch([], extra=[art('keep', ['v2'], pushed=ago(1))])
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert deleted(res) == [d('idx')]
    assert res['delete_digests'][0]['children'] == [d('c1'), d('c2')]
    assert all_deleted(res) == [d('c1'), d('c2'), d('idx')]


def test_child_shared_by_two_indexes_one_survives():
    arts = [art('idx1', [], pushed=ago(100), children=['c1', 'shared']),
            art('idx2', ['latest'], pushed=ago(100), children=['shared', 'c3']),
            art('c1', [], pushed=ago(100)), art('shared', [], pushed=ago(100)), art('c3', [], pushed=ago(100))]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert deleted(res) == [d('idx1')]
    assert res['delete_digests'][0]['children'] == [d('c1')]
    assert kept(res)[(d('shared'), None)] == 'index_child'
    assert kept(res)[(d('c3'), None)] == 'index_child'


def test_child_shared_by_two_deleted_indexes_deleted_once():
    arts = [art('idx1', [], pushed=ago(100), children=['c1', 'shared']),
            art('idx2', [], pushed=ago(100), children=['shared', 'c3']),
            art('c1', [], pushed=ago(100)), art('shared', [], pushed=ago(100)), art('c3', [], pushed=ago(100)),
            art('k', ['v'], pushed=ago(1))]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert deleted(res) == [d('idx1'), d('idx2')]
    by = dict((e['digest'], e['children']) for e in res['delete_digests'])
    assert by[d('idx1')] == [d('c1'), d('shared')]
    assert by[d('idx2')] == [d('c3')]
    assert all_deleted(res) == sorted(set(all_deleted(res)))


def test_index_children_go_even_when_not_selected_themselves():
    # children are too new for the age rule, but go with their deleted index
    arts = [art('idx', ['old'], pushed=ago(100), children=['c1']), art('c1', [], pushed=ago(10)),
            art('k', ['v'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d'})
    assert res['delete_digests'][0]['children'] == [d('c1')]


def test_index_child_with_own_tag_or_protection_is_not_deleted_with_index():
    c3 = HEX_C
    arts = [art('idx', [], pushed=ago(100), children=['c1', 'c2', c3]),
            art('c1', ['amd64-only'], pushed=ago(100)), art('c2', [], pushed=ago(100)),
            art(c3, [], pushed=ago(100))]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d', 'keep': {'digests': [d(c3)]}})
    assert deleted(res) == [d('idx')]
    assert res['delete_digests'][0]['children'] == [d('c2')]
    assert kept(res)[(d('c1'), 'amd64-only')] == 'not_selected'
    assert kept(res)[(d(c3), None)] == 'in_use'
    # a child younger than min_age stays
    arts[3] = art(c3, [], pushed=ago(minutes=10))
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert res['delete_digests'][0]['children'] == [d('c2')]
    assert kept(res)[(d(c3), None)] == 'min_age'


def test_tagged_child_of_surviving_index_is_only_untagged():
    arts = [art('idx', ['latest'], pushed=ago(100), children=['c1']), art('c1', ['build-amd64'], pushed=ago(100))]
    res = run(arts, {'older_than': '30d'})
    assert res['delete_digests'] == []
    assert removed_tags(res) == [('team/app', 'build-amd64')]
    assert kept(res)[(d('c1'), None)] == 'index_child'


def test_tagged_child_of_deleted_index_is_its_own_entry():
    arts = [art('idx', ['v1'], pushed=ago(100), children=['c1']), art('c1', ['v1-amd64'], pushed=ago(100)),
            art('k', ['keep'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d'})
    assert deleted(res) == [d('c1'), d('idx')]
    assert all(e['children'] == [] for e in res['delete_digests'])


def test_nested_index_children_ordered_parents_first():
    arts = [art('top', [], pushed=ago(100), children=['mid']), art('mid', [], pushed=ago(100), children=['leaf']),
            art('leaf', [], pushed=ago(100)), art('k', ['v'], pushed=ago(1))]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert deleted(res) == [d('top')]
    assert res['delete_digests'][0]['children'] == [d('mid'), d('leaf')]
    # nested index kept alive by a surviving top index keeps its leaf too
    arts[0] = art('top', ['latest'], pushed=ago(100), children=['mid'])
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert res['delete_digests'] == []
    assert kept(res)[(d('leaf'), None)] == 'index_child'


def test_index_in_use_keeps_children():
    arts = [dict(a, digest=d(HEX_A)) if a['digest'] == d('idx') else a for a in _multiarch([])]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d', 'keep': {'digests': ['team/app@' + d(HEX_A)]}})
    assert res['delete_digests'] == []
    assert kept(res) == {(d(HEX_A), None): 'in_use', (d('c1'), None): 'index_child', (d('c2'), None): 'index_child'}


# ---------------------------------------------------------------------------
# Referrers
# ---------------------------------------------------------------------------

def test_referrer_of_kept_subject_is_kept():
    arts = [art(HEX_A, ['v1'], pushed=ago(100)), art(HEX_B, [], pushed=ago(100), subject=HEX_A),
            art(HEX_C, [], pushed=ago(100), subject='sha256:' + 'f' * 64)]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert kept(res)[(d(HEX_B), None)] == 'referrer_of_kept'
    # subject not in the snapshot: orphan referrer is deletable
    assert deleted(res) == [d(HEX_C)]


def test_referrer_deleted_together_with_its_subject():
    arts = [art(HEX_A, ['old'], pushed=ago(100)), art(HEX_B, [], pushed=ago(100), subject=HEX_A), art(HEX_C, ['new'], pushed=ago(1))]
    # referrers: with_subject (the default): the referrer goes with its subject and is listed under it, selected or not
    for policy in ({'tag_state': 'any', 'older_than': '30d'}, {'older_than': '30d'}):
        res = run(arts, policy)
        assert deleted(res) == [d(HEX_A)] and all_deleted(res) == [d(HEX_A), d(HEX_B)]
        assert [r['digest'] for r in res['delete_digests'][0]['referrers']] == [d(HEX_B)]
        assert res['delete_digests'][0]['referrers'][0]['subject'] == d(HEX_A)
        assert res['repositories']['team/app']['referrers_deleted'] == 1
    # referrers: keep: as before 0.5.0, a referrer goes only when a policy selects it (an entry of its own)
    res = run(arts, {'tag_state': 'any', 'older_than': '30d', 'referrers': 'keep'})
    assert deleted(res) == [d(HEX_A), d(HEX_B)] and res['delete_digests'][0]['referrers'] == []
    res = run(arts, {'older_than': '30d', 'referrers': 'keep'})
    assert deleted(res) == [d(HEX_A)] and all_deleted(res) == [d(HEX_A)]
    assert kept(res)[(d(HEX_B), None)] == 'not_selected'


def test_referrer_tags_never_selected_and_kept_for_surviving_subject():
    sig = 'sha256-%s.sig' % HEX_A
    orphan = 'sha256-%s.att' % ('9' * 64)
    arts = [art(HEX_A, ['v1'], pushed=ago(1)), art(HEX_B, [sig], pushed=ago(100)), art(HEX_C, [orphan, 'sha256-' + '8' * 64], pushed=ago(100))]
    res = run(arts, {'older_than': '30d'})
    assert res['delete_digests'] == [] and res['remove_tags'] == []
    assert kept(res)[(d(HEX_B), sig)] == 'referrer_of_kept'
    assert kept(res)[(d(HEX_C), orphan)] == 'not_selected'
    # opt out: referrer tags can be selected, but one naming a subject that stays is kept all the same (0.5.0): removing
    # it would drop the image's signature; the one whose subjects are gone goes
    for policy in ({'older_than': '30d', 'ignore_referrer_tags': False}, {'older_than': '30d', 'artifact_types': ['signature', 'attestation']}):
        res = run(arts, policy)
        assert deleted(res) == [d(HEX_C)] and res['remove_tags'] == []
        entry = kept_entry(res, HEX_B, sig)
        assert entry['reason'] == 'referrer_of_kept' and entry['selected_by'] == ['policy-1']


def test_tagged_referrer_with_surviving_subject_is_only_untagged():
    arts = [art(HEX_A, ['v1'], pushed=ago(1)), art(HEX_B, ['sbom-old'], pushed=ago(100), subject=HEX_A)]
    res = run(arts, {'older_than': '30d'})
    assert removed_tags(res) == [('team/app', 'sbom-old')]
    assert res['delete_digests'] == []
    assert kept(res)[(d(HEX_B), None)] == 'referrer_of_kept'


# ---------------------------------------------------------------------------
# Multiple policies
# ---------------------------------------------------------------------------

def test_multiple_policies_keep_wins_and_reporting():
    arts = [art('a', ['v1.0.0'], pushed=ago(100)), art('b', ['pr-1'], pushed=ago(100)), art('c', ['keepme'], pushed=ago(1)),
            art('x', ['pr-9'], repo='other/app', pushed=ago(100))]
    policies = [
        {'name': 'purge', 'tag_state': 'tagged', 'older_than': '30d', 'repositories': {'include': ['**']}},
        {'name': 'releases', 'repositories': {'include': ['team/*']}, 'tags': {'include': ['nothing']},
         'keep': {'semver': {'all': True}}},
    ]
    res = run(arts, policies)
    assert [(e['repository'], e['digest']) for e in res['delete_digests']] == [('other/app', d('x')), ('team/app', d('b'))]
    entry = kept_entry(res, 'a', 'v1.0.0')
    assert entry['reason'] == 'keep_semver' and entry['policy'] == 'releases'
    assert entry['selected_by'] == ['purge'] and entry['protected_by'] == ['releases']
    assert res['delete_digests'][1]['selected_by'] == ['purge']
    # the protecting policy only applies to its own scope
    assert [p['name'] for p in res['policies']] == ['purge', 'releases']


def test_selected_by_several_policies_lists_all_in_order():
    arts = [art('a', ['pr-1'], pushed=ago(100)), art('k', ['v'], pushed=ago(1))]
    res = run(arts, [{'name': 'p1', 'older_than': '10d'}, {'name': 'p2', 'tags': {'include': ['pr-*']}}])
    assert res['delete_digests'][0]['policy'] == 'p1'
    assert res['delete_digests'][0]['selected_by'] == ['p1', 'p2']


def test_min_age_of_any_applicable_policy_wins():
    arts = [art('a', ['x'], pushed=ago(hours=5)), art('k', ['v'], pushed=ago(minutes=1))]
    res = run(arts, [{'name': 'p1', 'keep': {'min_age': 0}}, {'name': 'p2', 'tags': {'include': ['none']}, 'keep': {'min_age': '1d'}}])
    assert kept_entry(res, 'a', 'x')['reason'] == 'min_age'
    assert kept_entry(res, 'a', 'x')['policy'] == 'p2'


def test_selection_reason_prefers_specific_reason_across_policies():
    arts = [art('a', ['x'], pushed=ago(5))]
    res = run(arts, [{'name': 'p1', 'tags': {'include': ['y']}}, {'name': 'p2', 'older_than': '30d'}])
    entry = kept_entry(res, 'a', 'x')
    assert entry['reason'] == 'too_new' and entry['policy'] == 'p2'


# ---------------------------------------------------------------------------
# Circuit breakers
# ---------------------------------------------------------------------------

def _many(n, repo='team/app'):
    return [art('m%03d' % i, ['b%03d' % i], repo=repo, pushed=ago(100 + i)) for i in range(n)] + [
        art('keep', ['latest'], repo=repo, pushed=ago(1))]


def test_max_deletions_absolute():
    res = run(_many(5), {'older_than': '30d', 'max_deletions': 5})
    assert res['blocked'] is False and res['block_reasons'] == []
    res = run(_many(6), {'older_than': '30d', 'max_deletions': 5})
    assert res['blocked'] is True
    assert 'max_deletions 5' in res['block_reasons'][0]
    # a blocked plan still lists what would happen
    assert len(res['delete_digests']) == 6


def test_max_deletions_counts_children():
    arts = _multiarch(['v1'], extra=[art('k', ['latest', 'old'], pushed=ago(100))])
    assert run(arts, {'older_than': '30d', 'max_deletions': 4})['blocked'] is False
    res = run(arts, {'older_than': '30d', 'max_deletions': 3})
    assert res['blocked'] is True and '4 planned deletions' in res['block_reasons'][0]


def test_max_deletions_percent_per_repository():
    arts = _many(3) + _many(1, repo='team/small')
    # team/app: 3 of 4 tags (75%); team/small: 1 of 2 (50%)
    res = run(arts, {'older_than': '30d', 'max_deletions_percent': 60})
    assert res['blocked'] is True
    assert len(res['block_reasons']) == 1 and 'team/app' in res['block_reasons'][0]
    assert run(arts, {'older_than': '30d', 'max_deletions_percent': 75})['blocked'] is False
    assert run(arts, {'older_than': '30d', 'max_deletions_percent': '80%'})['blocked'] is False


def test_allow_empty_repository():
    arts = [art('a', ['v1'], pushed=ago(100)), art('b', ['v2', 'sha256-%s.sig' % HEX_A], pushed=ago(100))]
    res = run(arts, {'older_than': '30d'})
    assert res['blocked'] is True
    assert 'every tag of repository team/app' in res['block_reasons'][0]
    res = run(arts, {'older_than': '30d', 'allow_empty_repository': True})
    assert res['blocked'] is False
    # a repository without tags to begin with is not "emptied"
    res = run([art('u', [], pushed=ago(100))], {'tag_state': 'untagged', 'older_than': '30d'})
    assert res['blocked'] is False and deleted(res) == [d('u')]


def test_breakers_only_count_what_the_policy_selected():
    arts = _many(4)
    res = run(arts, [{'name': 'big', 'older_than': '30d'},
                     {'name': 'strict', 'tags': {'include': ['b000']}, 'max_deletions': 1}])
    assert res['blocked'] is False
    res = run(arts, [{'name': 'big', 'older_than': '30d', 'max_deletions': 1}])
    assert res['blocked'] is True


# ---------------------------------------------------------------------------
# Output shape, summaries, warnings, snapshot forms
# ---------------------------------------------------------------------------

def test_output_shape_and_summary():
    arts = [art('a', ['latest', 'v2'], pushed=ago(100), size=10), art('b', ['v1'], pushed=ago(100), size=20),
            art('u', [], pushed=ago(100), size=5)]
    res = run(arts, {'tag_state': 'any', 'older_than': '30d'}, repositories=['team/app', 'team/empty'])
    assert set(res) == {'remove_tags', 'delete_digests', 'kept', 'read_errors', 'deferred', 'repositories', 'totals', 'blocked',
                        'block_reasons', 'warnings', 'now', 'policies'}
    assert res['now'] == NOW
    assert set(res['remove_tags'][0]) >= {'repository', 'tag', 'digest', 'policy'}
    assert set(res['delete_digests'][0]) >= {'repository', 'digest', 'tags', 'size_bytes', 'children', 'policy'}
    assert set(res['kept'][0]) >= {'repository', 'digest', 'tag', 'reason'}
    assert res['remove_tags'][0]['age_seconds'] == 100 * 86400 and res['delete_digests'][0]['age_basis'] == 'pushed'
    app = res['repositories']['team/app']
    # a(latest, v2): v2 untagged, latest kept; b(v1) deleted with v1; u (untagged) deleted
    assert app == {
        'tags_before': 3, 'tags_removed': 2, 'tags_removed_with_digests': 1, 'tags_removed_from_surviving': 1,
        'tags_kept': 1, 'kept_by_reason': {'latest': 1}, 'tags_after': 1,
        'digests_before': 3, 'digests_deleted': 2, 'children_deleted': 0, 'referrers_deleted': 0, 'digests_after': 1,
        'untagged_kept_by_reason': {}, 'tags_untagged_only': 0, 'deferred_tags': 0, 'deferred_digests': 0, 'bytes_freed': 25,
        'bytes_freed_partial': False, 'leftovers': 0, 'leftover_tags': 0, 'read_errors': 0,
    }
    assert res['repositories']['team/empty']['tags_before'] == 0
    assert res['totals'] == dict(app, repositories=2)
    assert res['read_errors'] == [] and all(e['leftover'] is False for e in res['delete_digests'])
    assert all(e['reason'] in REASONS for e in res['kept'])
    json.dumps(res)


def test_bare_list_and_registered_result_are_accepted():
    arts = [art('a', ['x'], pushed=ago(100)), art('k', ['latest'], pushed=ago(100))]
    registered = {'changed': False, 'failed': False, 'artifacts': arts}
    assert plan(arts, {}, now=NOW) == plan(registered, {}, now=NOW)


def test_duplicate_entries_merged_with_warning_and_bad_timestamp_warned():
    arts = [art('a', ['x'], pushed=ago(100)), art('a', ['y'], pushed=None), art('b', ['z'], pushed='garbage')]
    res = run(arts, {'older_than': '30d', 'allow_empty_repository': True})
    assert deleted(res) == [d('a')]
    assert res['delete_digests'][0]['tags'] == ['x', 'y']
    assert kept(res)[(d('b'), 'z')] == 'no_timestamp'
    assert any('merged' in w for w in res['warnings'])
    assert any('garbage' in w for w in res['warnings'])


@pytest.mark.parametrize('snapshot', ['nope', {'artifacts': 'x'}, [{'digest': 'sha256:a'}], [{'repository': 'r', 'digest': 'd', 'tags': 'x'}], [1]])
def test_bad_snapshot(snapshot):
    with pytest.raises(SnapshotError):
        plan(snapshot, {}, now=NOW)


def test_now_forms():
    arts = [art('a', ['x'], pushed='2024-05-01T00:00:00Z')]
    p1 = plan(arts, {'older_than': '30d'}, now='2024-05-31T00:00:00+00:00')
    p2 = plan(arts, {'older_than': '30d'}, now=datetime.datetime(2024, 5, 31))
    assert p1 == p2 and p1['now'] == '2024-05-31T00:00:00Z' and deleted(p1) == [d('a')]
    assert plan(arts, {'older_than': '30d'}, now='2024-05-30T23:59:59.5Z')['delete_digests'] == []
    assert plan(arts, {}, now=None)['now'].endswith('Z')
    with pytest.raises(ValueError):
        plan(arts, {}, now='soon')


def test_empty_policy_list_is_a_no_op_with_warning():
    res = plan([art('a', ['x'])], [], now=NOW)
    assert res['delete_digests'] == [] and res['kept'] == [] and res['warnings']


def test_inputs_not_mutated():
    arts = _multiarch(['v1'])
    policies = [{'older_than': '30d', 'keep': {'tags': ['x']}}]
    before = copy.deepcopy((arts, policies))
    run(arts, policies)
    assert (arts, policies) == before


def test_determinism_shuffled_input():
    arts = (_multiarch(['v1']) + _semver_arts() + _many(4, repo='team/b')
            + [art(HEX_A, ['latest', 'x'], pushed=ago(100)), art(HEX_B, [], pushed=ago(100), subject=HEX_A),
               art('t1', ['tie-a'], pushed=ago(50)), art('t2', ['tie-b'], pushed=ago(50))])
    policies = [{'name': 'p', 'tag_state': 'any', 'older_than': '30d', 'keep': {'last': 3, 'semver': {'major': 1}}},
                {'name': 'q', 'repositories': ['team/b'], 'keep': {'tags': ['b001']}}]
    reference = json.dumps(run(arts, policies), sort_keys=False)
    rng = random.Random(1234)
    for dummy in range(10):
        shuffled = copy.deepcopy(arts)
        rng.shuffle(shuffled)
        for entry in shuffled:
            rng.shuffle(entry['tags'])
            rng.shuffle(entry['children'])
        assert json.dumps(run(shuffled, policies), sort_keys=False) == reference


def test_output_lists_sorted():
    res = run(_many(3, repo='z/repo') + _many(3, repo='a/repo') + [art('q', ['latest', 'b'], repo='a/repo', pushed=ago(100))],
              {'older_than': '30d', 'allow_empty_repository': True})
    keys = [(e['repository'], e['digest']) for e in res['delete_digests']]
    assert keys == sorted(keys)
    keys = [(e['repository'], e['tag']) for e in res['remove_tags']]
    assert keys == sorted(keys)
    keys = [(e['repository'], e['digest'], e['tag'] or '') for e in res['kept']]
    assert keys == sorted(keys)


# ---------------------------------------------------------------------------
# Policy validation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('policy, fragment', [
    ({'name': 'p', 'bogus': 1}, 'policy "p": unknown key(s) "bogus"'),
    ({'name': 'p', 'keep': {'lastt': 1}}, '"keep.lastt"'),
    ({'name': 'p', 'repositories': {'includes': []}}, '"repositories.includes"'),
    ({'name': 'p', 'tags': {'include': ['re:(']}}, 'policy "p": key "tags.include" has an invalid regular expression'),
    ({'name': 'p', 'tags': {'include': ['re:']}}, 'policy "p": key "tags.include" has an empty regular expression'),
    ({'name': 'p', 'tags': {'include': ['(']}}, 'policy "p": key "tags.include" pattern "(" looks like a regular expression'),
    ({'name': 'p', 'older_than': 30}, 'key "older_than" is not a valid duration: invalid duration 30: a number has no unit'),
    ({'name': 'p', 'keep': {'min_age': '3600'}}, 'a number has no unit; write "3600d" (days) or "3600s" (seconds)'),
    ({'name': 'p', 'protect_only': True, 'newer_than': '1d'}, 'key "newer_than" cannot be set with protect_only true'),
    ({'name': 'p', 'protect_only': 'perhaps'}, 'key "protect_only" must be a boolean'),
    ({'name': 'p', 'tags': {'exclude': ['[']}}, 'key "tags.exclude"'),
    ({'name': 'p', 'keep': {'tags': ['re:*']}}, 'key "keep.tags" has an invalid regular expression "*"'),
    ({'name': 'p', 'repositories': {'include': ['re:(']}}, 'key "repositories.include"'),
    ({'name': 'p', 'older_than': '30 days'}, 'key "older_than" is not a valid duration'),
    ({'name': 'p', 'newer_than': -1}, 'key "newer_than"'),
    ({'name': 'p', 'keep': {'min_age': 'soon'}}, 'key "keep.min_age"'),
    ({'name': 'p', 'tag_state': 'all'}, 'key "tag_state" must be one of tagged, untagged, any'),
    ({'name': 'p', 'age_basis': 'modified'}, 'key "age_basis"'),
    ({'name': 'p', 'keep': {'last': -1}}, 'key "keep.last"'),
    ({'name': 'p', 'keep': {'last': True}}, 'key "keep.last"'),
    ({'name': 'p', 'keep': {'semver': {'major': 1, 'minor': 1}}}, 'key "keep.semver" must set exactly one'),
    ({'name': 'p', 'keep': {'semver': {'patch': 1}}}, '"keep.semver.patch"'),
    ({'name': 'p', 'keep': {'semver': {'major': 0}}}, 'key "keep.semver.major"'),
    ({'name': 'p', 'keep': {'semver': 'major'}}, 'key "keep.semver"'),
    ({'name': 'p', 'keep': {'digests': ['latest']}}, 'key "keep.digests"'),
    ({'name': 'p', 'keep': {'digests': ['@sha256:abc']}}, 'key "keep.digests"'),
    ({'name': 'p', 'keep': {'latest': 'maybe'}}, 'key "keep.latest" must be a boolean'),
    ({'name': 'p', 'max_deletions': 'ten'}, 'key "max_deletions"'),
    ({'name': 'p', 'max_deletions_percent': 150}, 'key "max_deletions_percent"'),
    ({'name': 'p', 'allow_empty_repository': 3}, 'key "allow_empty_repository"'),
    ({'name': 'p', 'tags': ['x']}, 'key "tags" must be a dict'),
    ({'name': 'p', 'keep': ['latest']}, 'key "keep" must be a dict'),
    ({'name': ''}, 'policy #1: key "name"'),
    (['nope'], 'policy #1: must be a dict'),
])
def test_policy_validation_errors(policy, fragment):
    with pytest.raises(PolicyError) as exc:
        plan([], policy, now=NOW)
    assert fragment in str(exc.value)


def test_policy_validation_names_default_and_duplicates():
    with pytest.raises(PolicyError, match='used by more than one policy'):
        plan([], [{'name': 'a'}, {'name': 'a'}], now=NOW)
    with pytest.raises(PolicyError, match='policy "policy-2": key "older_than"'):
        plan([], [{}, {'older_than': 'x'}], now=NOW)
    with pytest.raises(PolicyError):
        plan([], 'not-a-policy', now=NOW)


def test_normalize_policies_defaults():
    normalized = normalize_policies({'older_than': '1d12h', 'keep': {'digests': ['r/x@' + d(HEX_A)], 'latest': 'no'},
                                     'repositories': 'team/*', 'max_deletions': '10'})
    assert normalized == [{
        'name': 'policy-1',
        'repositories': {'include': ['team/*'], 'exclude': []},
        'tags': {'include': [], 'exclude': []},
        'tag_state': 'tagged', 'older_than': '1d12h', 'newer_than': None, 'age_basis': 'pushed',
        'artifact_types': [], 'platforms': [], 'action': 'delete',
        'keep': {'latest': False, 'tags': [], 'last': None, 'semver': None, 'digests': ['r/x@' + d(HEX_A)], 'min_age': '1h',
                 'pulled_within': None},
        'protect_only': False, 'referrers': 'with_subject', 'delete_orphan_referrers': False,
        'max_deletions': 10, 'max_deletions_percent': None, 'on_limit': 'block', 'allow_empty_repository': False,
        'ignore_referrer_tags': True, 'delete_untagged': True, 'trust_created_before_1980': False,
    }]
    # the normalized form is itself a valid policy that normalizes to itself (the role plans with it)
    assert normalize_policies(normalized) == normalized
    protect = normalize_policies({'name': 'releases', 'keep': {'semver': {'major': 2}}})
    assert protect[0]['protect_only'] is True and normalize_policies(protect) == protect


@pytest.mark.parametrize('releases', [
    # no selection key: the policy only protects (issue 8: no "(?!)" trick needed)
    {'name': 'releases', 'repositories': ['team/*'], 'keep': {'semver': {'major': 2}, 'tags': ['main', 'stable']}},
    {'name': 'releases', 'repositories': ['team/*'], 'protect_only': True,
     'keep': {'semver': {'major': 2}, 'tags': ['main', 'stable']}},
    # the trick of old still works, written as a regex
    {'name': 'releases', 'repositories': ['team/*'], 'tags': {'include': ['re:(?!)']},
     'keep': {'semver': {'major': 2}, 'tags': ['main', 'stable']}},
])
def test_protect_only_policy_from_docs(releases):
    arts = [art('r1', ['v1.0.0'], pushed=ago(100)), art('r2', ['v2.0.0'], pushed=ago(100)),
            art('m', ['main'], pushed=ago(100))] + [art('b%d' % i, ['b%d' % i], pushed=ago(40 + i)) for i in range(7)]
    policies = [
        {'name': 'purge', 'repositories': ['**'], 'tag_state': 'any', 'older_than': '30d', 'keep': {'last': 5},
         'max_deletions_percent': 80},
        releases,
    ]
    res = run(arts, policies)
    assert res['blocked'] is False
    assert kept_entry(res, 'r1', 'v1.0.0')['reason'] == 'keep_semver'
    assert kept_entry(res, 'm', 'main')['reason'] == 'keep_tags'
    # the five newest tagged artifacts are b0..b4; releases/main are older
    assert deleted(res) == [d('b5'), d('b6')]
    assert not [w for w in res['warnings'] if 'only protects' in w]


def test_a_policy_without_selection_only_protects():
    """Only repositories and keep: nothing is selected, the keep rules still protect, and a repository that no
    selecting policy covers is a warning (nothing is removed there)."""
    arts = [art('a', ['old'], pushed=ago(400)), art('b', ['latest'], pushed=ago(400))]
    for policy in ({'name': 'guard', 'keep': {'last': 1}}, {'name': 'guard', 'repositories': ['team/*']}):
        res = run(arts, policy)
        assert res['delete_digests'] == [] and res['remove_tags'] == []
        assert kept(res)[(d('b'), 'latest')] == 'latest'
        assert kept(res)[(d('a'), 'old')] in ('not_selected', 'keep_last')
        assert [w for w in res['warnings'] if w.startswith('policy "guard" only protects') and 'team/app' in w]
    # protect_only false makes the same policy select every tag, as policies did before 0.1.0
    res = run(arts, {'name': 'all', 'protect_only': False, 'allow_empty_repository': True})
    assert deleted(res) == [d('a')]
    with pytest.raises(PolicyError, match='key "older_than" cannot be set with protect_only true'):
        run(arts, {'name': 'x', 'protect_only': True, 'older_than': '30d'})


# ---------------------------------------------------------------------------
# Issue 7: regex errors name the user's pattern; full-string matching
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('key, policy', [
    ('tags.include', {'name': 'p', 'tags': {'include': ['re:sha-\\']}}),
    ('tags.exclude', {'name': 'p', 'tags': {'exclude': ['re:sha-\\']}}),
    ('keep.tags', {'name': 'p', 'keep': {'tags': ['re:sha-\\']}}),
    ('repositories.include', {'name': 'p', 'repositories': {'include': ['re:sha-\\']}}),
])
def test_regex_error_names_the_users_pattern_not_the_anchor(key, policy):
    with pytest.raises(PolicyError) as exc:
        plan([], policy, now=NOW)
    message = str(exc.value)
    assert 'policy "p": key "%s" has an invalid regular expression "sha-\\": ' % key in message
    assert 'bad escape (end of pattern) at position 4' in message
    assert '\\Z' not in message and 'position 12' not in message


def test_invalid_glob_names_the_glob_without_a_translated_position():
    with pytest.raises(PolicyError) as exc:
        plan([], {'name': 'p', 'repositories': ['team/[z-a]']}, now=NOW)
    assert 'key "repositories.include" has an invalid glob "team/[z-a]": bad character range z-a' in str(exc.value)
    assert 'position' not in str(exc.value)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(PolicyError, match=r'unknown key\(s\) "olderthan" \(did you mean "older_than"\?\)'):
        plan([], {'olderthan': '30d'}, now=NOW)
    with pytest.raises(PolicyError, match=r'"keep.lastt" \(did you mean "keep.last"\?\)'):
        plan([], {'keep': {'lastt': 3}}, now=NOW)


def test_patterns_match_the_whole_string_with_fullmatch():
    arts = [art('a', ['pr-1'], pushed=ago(100)), art('b', ['PR-2'], pushed=ago(100)), art('c', ['main'], pushed=ago(100)),
            art('e', ['pr-1x'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    # an alternation is matched as a whole (not "^a|b$"), inline flags are allowed at the start of a pattern
    res = run(arts, {'tags': {'include': ['re:(?i)pr-\\d+|main']}, 'older_than': '30d'})
    assert deleted(res) == [d('a'), d('b'), d('c')]
    res = run(arts, {'tags': {'include': ['re:pr-1|zzz']}, 'older_than': '30d'})
    assert deleted(res) == [d('a')]


@pytest.mark.parametrize('tag', ['v1.2.3\n', '1.2.3\n'])
def test_semver_and_referrer_tags_need_the_whole_string(tag):
    assert parse_semver(tag) is None
    assert parse_semver(tag.strip()) is not None
    from ansible_collections.regops.registry.plugins.module_utils.retention import is_referrer_tag
    assert is_referrer_tag('sha256-' + HEX_A + '.sig')
    assert not is_referrer_tag('sha256-' + HEX_A + '.sig\n')


def test_keep_digest_with_trailing_newline_is_refused():
    with pytest.raises(PolicyError, match='key "keep.digests" has an invalid digest'):
        plan([], {'keep': {'digests': ['sha256:' + HEX_A + '\n']}}, now=NOW)


def test_timestamp_with_trailing_newline_is_refused():
    assert parse_timestamp('2024-05-01T12:00:00Z\n') is not None  # surrounding blanks are stripped first
    with pytest.raises(ValueError):
        parse_timestamp('2024-05-01T12:00:00Zjunk')


# ---------------------------------------------------------------------------
# Issue 7: timestamps before 1980 are not real times
# ---------------------------------------------------------------------------

def _cfg(entry, config_created):
    entry = dict(entry)
    entry['provider_data'] = {'config_created': config_created}
    return entry


PRE1980_WARNING = ('artifact(s) have an image creation time before 1980 (reproducible builds): treated as unknown; '
                   'set trust_created_before_1980 to use it')


def _warned(res, count):
    return ['%d %s' % (count, PRE1980_WARNING)] == [w for w in res['warnings'] if PRE1980_WARNING in w]


@pytest.mark.parametrize('created', ['1970-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '1979-12-31T23:59:59Z', 0])
def test_created_before_1980_is_unknown(created):
    """A reproducible build pushed a minute ago (no push time on distribution) must not look decades old."""
    arts = [art('r', ['sha-1111111'], created=created), art('k', ['latest'], created=ago(1))]
    res = run(arts, {'name': 'p', 'older_than': '30d', 'age_basis': 'created'})
    assert deleted(res) == [] and removed_tags(res) == []
    entry = kept_entry(res, 'r', 'sha-1111111')
    assert entry['reason'] == 'no_timestamp' and entry['age_basis'] is None
    assert _warned(res, 1)


def test_created_1980_is_a_real_time():
    res = run([art('r', ['x'], created='1980-01-01T00:00:00Z'), art('k', ['latest'], created=ago(1))],
              {'older_than': '30d', 'age_basis': 'created'})
    assert deleted(res) == [d('r')]
    assert not any(PRE1980_WARNING in w for w in res['warnings'])


def test_provider_config_created_is_used_only_with_trust():
    """The oci provider returns created_at null and the config's own value in provider_data.config_created."""
    arts = [_cfg(art('r', ['sha-1111111']), '1970-01-01T00:00:01Z'), art('k', ['latest'], created=ago(1))]
    res = run(arts, {'name': 'p', 'older_than': '30d', 'age_basis': 'created'})
    assert deleted(res) == [] and kept_entry(res, 'r', 'sha-1111111')['reason'] == 'no_timestamp'
    assert _warned(res, 1)
    trusted = run(arts, {'name': 'p', 'older_than': '30d', 'age_basis': 'created', 'trust_created_before_1980': True})
    assert deleted(trusted) == [d('r')]
    assert trusted['delete_digests'][0]['age_basis'] == 'created'
    assert not any(PRE1980_WARNING in w for w in trusted['warnings'])
    assert trusted['policies'][0]['trust_created_before_1980'] is True


def test_pre1980_created_at_is_used_with_trust_too():
    arts = [art('r', ['x'], created='1970-01-01T00:00:00Z'), art('k', ['latest'], created=ago(1))]
    res = run(arts, {'older_than': '30d', 'trust_created_before_1980': 'yes'})
    assert deleted(res) == [d('r')]


def test_real_config_created_fills_a_missing_created_at():
    arts = [_cfg(art('r', ['x']), ago(100)), art('k', ['latest'], created=ago(1))]
    assert deleted(run(arts, {'older_than': '30d', 'age_basis': 'created'})) == [d('r')]


def test_push_and_pull_times_before_1980_are_unknown():
    arts = [art('a', ['x'], pushed='1970-01-01T00:00:00Z'), art('b', ['y'], pulled='0001-01-01T00:00:00Z', pushed=ago(100)),
            art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d'})
    assert kept_entry(res, 'a', 'x')['reason'] == 'no_timestamp'
    res = run(arts, {'older_than': '30d', 'age_basis': 'pulled'})
    # b's pull time is unknown: the push time is the fallback
    assert d('b') in deleted(res)
    assert kept_entry(res, 'a', 'x')['reason'] == 'no_timestamp'
    assert '2 artifact(s) have a push or pull time before 1980: treated as unknown' in res['warnings']
    # trust is about image creation times only
    res = run(arts, {'older_than': '30d', 'trust_created_before_1980': True})
    assert kept_entry(res, 'a', 'x')['reason'] == 'no_timestamp'


def test_pre1980_index_is_unknown_and_trusted_through_its_children():
    children = [_cfg(art('c1', []), '1970-01-01T00:00:00Z'), _cfg(art('c2', []), '1970-01-01T00:00:00Z')]
    index = art('ix', ['v1'], children=['c1', 'c2'])
    arts = children + [index, art('k', ['latest'], created=ago(1))]
    res = run(arts, {'name': 'p', 'tag_state': 'any', 'older_than': '30d', 'age_basis': 'created'})
    assert all_deleted(res) == []
    assert kept_entry(res, 'ix', 'v1')['reason'] == 'no_timestamp'
    assert _warned(res, 3)
    trusted = run(arts, {'name': 'p', 'tag_state': 'any', 'older_than': '30d', 'age_basis': 'created',
                         'trust_created_before_1980': True})
    assert all_deleted(trusted) == sorted([d('ix'), d('c1'), d('c2')])


def test_trust_is_per_policy():
    arts = [art('r', ['x'], repo='a/one', created='1970-01-01T00:00:00Z'), art('k', ['latest'], repo='a/one', created=ago(1)),
            art('s', ['x'], repo='b/two', created='1970-01-01T00:00:00Z'), art('l', ['latest'], repo='b/two', created=ago(1))]
    res = run(arts, [{'name': 'trusting', 'repositories': ['a/*'], 'older_than': '30d', 'trust_created_before_1980': True},
                     {'name': 'careful', 'repositories': ['b/*'], 'older_than': '30d'}])
    assert deleted(res) == [d('r')]
    assert kept_entry(res, 's', 'x')['reason'] == 'no_timestamp'
    assert _warned(res, 1)  # only b/two's artifact is treated as unknown


def test_keep_last_ranks_pre1980_times_only_with_trust():
    arts = [art('a', ['a'], created='1971-01-01T00:00:00Z'), art('b', ['b'], created='1970-01-01T00:00:00Z'),
            art('c', ['c'], created=ago(100))]
    # without trust a and b have no time and rank after c; ties between them go by digest
    res = run(arts, {'tag_state': 'tagged', 'keep': {'last': 2}, 'allow_empty_repository': True})
    assert deleted(res) == [d('b')]
    res = run(arts, {'tag_state': 'tagged', 'keep': {'last': 2}, 'trust_created_before_1980': True, 'allow_empty_repository': True})
    assert deleted(res) == [d('b')]
    res = run([dict(arts[0], created_at='1969-01-01T00:00:00Z')] + arts[1:],
              {'tag_state': 'tagged', 'keep': {'last': 2}, 'trust_created_before_1980': True, 'allow_empty_repository': True})
    assert deleted(res) == [d('a')]


# ---------------------------------------------------------------------------
# Issue 7: artifacts that could not be read are kept and reported
# ---------------------------------------------------------------------------

def _broken(entry, msg='image config: HTTP 500 after 5 retries'):
    entry = dict(entry)
    entry['read_error'] = msg
    return entry


def test_read_error_keeps_every_tag_and_the_manifest():
    arts = [_broken(art('b', ['v1', 'sha-1', 'latest'], pushed=ago(100))), art('o', ['old'], pushed=ago(100)),
            art('k', ['keep'], pushed=ago(1))]
    res = run(arts, {'name': 'p', 'older_than': '30d', 'keep': {'latest': True}})
    assert deleted(res) == [d('o')] and removed_tags(res) == []
    for tag in ('v1', 'sha-1', 'latest'):
        entry = kept_entry(res, 'b', tag)
        assert entry['reason'] == 'read_error'  # outranks protection and selection
        assert entry['selected_by'] == ['p']
        assert entry['protected_by'] == (['p'] if tag == 'latest' else [])
    assert res['read_errors'] == [{'repository': 'team/app', 'digest': d('b'), 'tags': ['latest', 'sha-1', 'v1'],
                                   'msg': 'image config: HTTP 500 after 5 retries'}]
    assert res['repositories']['team/app']['read_errors'] == 1 and res['totals']['read_errors'] == 1
    assert res['repositories']['team/app']['kept_by_reason']['read_error'] == 3
    assert any(w.startswith('1 artifact(s) could not be read completely') and d('b') in w for w in res['warnings'])
    assert 'read_error' in REASONS


def test_read_error_on_an_untagged_manifest():
    arts = [_broken(art('u', [], pushed=ago(100))), art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'tag_state': 'untagged', 'older_than': '30d'})
    assert deleted(res) == []
    assert kept_entry(res, 'u', None)['reason'] == 'read_error'


def test_read_error_of_an_index_child_keeps_the_index_and_its_children():
    arts = [art('c1', [], created=ago(100)), _broken(art('c2', [])), art('ix', ['v1'], children=['c1', 'c2'], created=ago(100)),
            art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'tag_state': 'any', 'older_than': '30d', 'age_basis': 'created'})
    assert all_deleted(res) == []
    assert kept_entry(res, 'ix', 'v1')['reason'] == 'read_error'
    assert kept_entry(res, 'c2', None)['reason'] == 'read_error'
    assert kept_entry(res, 'c1', None)['reason'] == 'index_child'
    errors = dict((e['digest'], e['msg']) for e in res['read_errors'])
    assert errors[d('ix')].startswith('index child %s could not be read: ' % d('c2'))
    assert set(errors) == {d('ix'), d('c2')}


def test_snapshot_level_read_errors():
    arts = [art('b', ['x'], pushed=ago(100)), art('o', ['old'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    snapshot = {'artifacts': arts, 'read_errors': [
        {'repository': 'team/app', 'digest': d('b'), 'msg': 'config blob: HTTP 500'},
        {'repository': 'team/app', 'digest': d('gone'), 'msg': 'manifest: HTTP 500'},
        {'repository': 'other/repo', 'digest': d('x'), 'msg': 'not in scope'},
    ]}
    res = plan(snapshot, {'repositories': ['team/*'], 'older_than': '30d'}, now=NOW)
    assert deleted(res) == [d('o')]
    assert kept_entry(res, 'b', 'x')['reason'] == 'read_error'
    assert res['read_errors'] == [
        {'repository': 'team/app', 'digest': d('b'), 'tags': ['x'], 'msg': 'config blob: HTTP 500'},
        {'repository': 'team/app', 'digest': d('gone'), 'tags': [], 'msg': 'manifest: HTTP 500'},
    ]


def test_repository_level_read_error_keeps_the_whole_repository():
    arts = [art('a', ['x'], pushed=ago(100)), art('b', ['y'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    snapshot = {'artifacts': arts, 'read_errors': [{'repository': 'team/app', 'digest': None, 'msg': 'tag list: HTTP 500'}]}
    res = plan(snapshot, {'older_than': '30d'}, now=NOW)
    assert deleted(res) == [] and removed_tags(res) == []
    assert set(kept(res).values()) == {'read_error'}
    assert res['read_errors'] == [{'repository': 'team/app', 'digest': None, 'tags': [], 'msg': 'tag list: HTTP 500'}]


@pytest.mark.parametrize('bad', ['x', [1], [{'digest': 'sha256:a'}]])
def test_bad_snapshot_read_errors(bad):
    with pytest.raises(SnapshotError):
        plan({'artifacts': [], 'read_errors': bad}, {}, now=NOW)


# ---------------------------------------------------------------------------
# Issue 7: throwaway manifests left by an interrupted tag removal
# ---------------------------------------------------------------------------

def _throwaway(entry):
    entry = dict(entry)
    entry['provider_data'] = {'throwaway': True}
    return entry


def test_leftover_throwaway_is_always_deleted_with_its_tags():
    t = HEX_C
    arts = [_throwaway(art(t, ['pr-1', 'latest'], size=7)), art('k', ['keep'], pushed=ago(100))]
    policy = {'name': 'p', 'older_than': '30d', 'keep': {'tags': ['*'], 'latest': True, 'digests': [d(t)]},
              'max_deletions': 0, 'max_deletions_percent': 0}
    res = run(arts, policy)
    assert res['blocked'] is False, res['block_reasons']
    assert res['remove_tags'] == []
    assert res['delete_digests'] == [{
        'repository': 'team/app', 'digest': d(t), 'media_type': IMAGE, 'artifact_type': None, 'tags': ['latest', 'pr-1'],
        'size_bytes': 7, 'children': [], 'children_size_bytes': {}, 'referrers': [], 'policy': None, 'selected_by': [], 'age_basis': None,
        'age_seconds': None, 'leftover': True, 'reason': res['delete_digests'][0]['reason'],
    }]
    assert 'throwaway' in res['delete_digests'][0]['reason']
    assert [e for e in res['kept'] if e['digest'] == d(t)] == []
    summary = res['repositories']['team/app']
    assert summary['leftovers'] == 1 and summary['leftover_tags'] == 2 and summary['bytes_freed'] == 7
    assert summary['digests_deleted'] == 0 and summary['tags_removed'] == 0  # leftovers are counted apart
    assert summary['tags_before'] == 1 and summary['digests_before'] == 1  # the repository's own content
    assert res['totals']['leftovers'] == 1
    assert any(w.startswith('1 throwaway manifest(s) left by an interrupted tag removal') and 'team/app@%s (latest, pr-1)' % d(t) in w
               for w in res['warnings'])


def test_leftover_tags_do_not_count_as_real_tags_for_the_empty_repository_guard():
    arts = [_throwaway(art('t', ['pr-1'])), art('o', ['old'], pushed=ago(100))]
    res = run(arts, {'name': 'p', 'older_than': '30d'})
    assert res['blocked'] is True
    assert any('removes every tag of repository team/app' in r for r in res['block_reasons'])
    res = run(arts + [art('k', ['latest'], pushed=ago(100))], {'name': 'p', 'older_than': '30d'})
    assert res['blocked'] is False
    assert deleted(res) == [d('o'), d('t')]


def test_leftovers_are_not_counted_by_the_breakers():
    arts = [_throwaway(art('t%d' % i, ['pr-%d' % i])) for i in range(5)] + [
        art('o', ['old'], pushed=ago(100)), art('k1', ['a'], pushed=ago(1)), art('k2', ['b'], pushed=ago(1)),
        art('k3', ['c'], pushed=ago(1))]
    res = run(arts, {'name': 'p', 'older_than': '30d', 'max_deletions': 1, 'max_deletions_percent': 25})
    assert res['blocked'] is False, res['block_reasons']
    assert len(res['delete_digests']) == 6


def test_leftovers_in_a_repository_no_policy_covers():
    arts = [_throwaway(art('t', ['pr-1'], repo='other/app')), art('o', ['old'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'repositories': ['team/*'], 'older_than': '30d'})
    assert [(e['repository'], e['digest'], e['leftover']) for e in res['delete_digests']] == [
        ('other/app', d('t'), True), ('team/app', d('o'), False)]
    assert res['repositories']['other/app']['leftovers'] == 1
    assert res['repositories']['other/app']['tags_kept'] == 0


def test_leftover_never_goes_through_keep_last_or_selection():
    arts = [_throwaway(art('t', ['pr-1'], pushed=ago(0))), art('a', ['a'], pushed=ago(100)), art('b', ['b'], pushed=ago(90))]
    res = run(arts, {'older_than': '30d', 'keep': {'last': 1}})
    # keep.last 1 keeps b (the throwaway, newest by time, is not ranked), a goes, the throwaway goes
    assert deleted(res) == [d('a'), d('t')]
    assert kept_entry(res, 'b', 'b')['reason'] == 'keep_last'


# ---------------------------------------------------------------------------
# Issue 8: glob tag patterns, re: for regexes, refusals that name the fix
# ---------------------------------------------------------------------------

def test_tag_patterns_are_globs_like_repositories():
    arts = [art('a', ['pr-12'], pushed=ago(100)), art('b', ['pr-x'], pushed=ago(100)), art('c', ['xpr-1'], pushed=ago(100)),
            art('e', ['v1.2.3'], pushed=ago(100)), art('f', ['v10'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    # "pr-*" selected nothing before issue 8 (an anchored regex: "pr" and any number of "-")
    res = run(arts, {'tags': {'include': ['pr-*']}, 'older_than': '30d'})
    assert deleted(res) == [d('a'), d('b')]
    res = run(arts, {'tags': {'include': ['pr-??', 'v[0-9][.]*']}, 'older_than': '30d'})
    assert deleted(res) == [d('a'), d('e')]
    res = run(arts, {'tags': {'include': ['re:pr-\\d+']}, 'older_than': '30d'})
    assert deleted(res) == [d('a')]
    res = run(arts, {'older_than': '30d', 'keep': {'tags': ['v*']}})
    assert kept(res)[(d('e'), 'v1.2.3')] == 'keep_tags' and kept(res)[(d('f'), 'v10')] == 'keep_tags'


@pytest.mark.parametrize('pattern, says', [
    ('^pr-\\d+$', '"^", "\\", "+", "$" have no meaning in a glob and no tag holds them; write "re:^pr-\\d+$"'),
    ('sha-[0-9a-f]{7,40}', '"{", "}" have no meaning in a glob and no tag holds them; write "re:sha-[0-9a-f]{7,40}"'),
    ('stable|main', '"|" has no meaning in a glob and no tag holds it; write "re:stable|main"'),
    ('^(main|production|stable)$', 'write "re:^(main|production|stable)$"'),
    ('^pr-.*$', 'write "re:^pr-.*$" to keep it a regular expression, or the glob "pr-*"'),
    ('v\\d+\\.\\d+', 'write "re:v\\d+\\.\\d+"'),
    ('pr-.*', 'is ambiguous: ".*" is "any text" in a regular expression but "a dot, then any text" in a glob; '
              'write "re:pr-.*" for the regular expression or "pr-*" for the glob'),
    ('.*-keep', 'write "re:.*-keep" for the regular expression or "*-keep" for the glob'),
    ('v1.?', '".?" is "at most one character" in a regular expression but "a dot, then one character" in a glob; '
             'write "re:v1.?" for the regular expression or "v1?" for the glob ("[.]?" is a literal dot, then one character)'),
    ('team:app', 'has ":", which no tag holds'),
])
@pytest.mark.parametrize('key', ['tags.include', 'tags.exclude', 'keep.tags'])
def test_a_regex_without_re_prefix_is_refused_with_the_fix(pattern, says, key):
    """Existing policies wrote tag regexes without a prefix: they fail loudly (never change meaning silently)."""
    group, name = key.split('.')
    with pytest.raises(PolicyError) as exc:
        normalize_policies({'name': 'ci', group: {name: [pattern]}})
    message = str(exc.value)
    assert message.startswith('policy "ci": key "%s" pattern "%s" ' % (key, pattern)), message
    assert says in message, message
    # the suggested fix is accepted
    assert normalize_policies({'name': 'ci', group: {name: ['re:' + pattern]}})


def test_repository_globs_refuse_regex_syntax_too():
    with pytest.raises(PolicyError, match=r'key "repositories.include" pattern "team/\(a\|b\)" looks like a regular expression'):
        normalize_policies({'name': 'p', 'repositories': ['team/(a|b)']})
    with pytest.raises(PolicyError, match=r'write "re:team/.\*" for the regular expression or "team/\*" for the glob'):
        normalize_policies({'name': 'p', 'repositories': ['team/.*']})
    assert normalize_policies({'name': 'p', 'repositories': ['re:team/(a|b)', 'team/**', 'te?m/[a-z]*']})


def test_glob_problem_accepts_what_a_glob_can_say():
    from ansible_collections.regops.registry.plugins.module_utils.retention import glob_problem
    for pattern in ('pr-*', 'v[0-9]*', '[!x]*', 'build-????', 'release_1.2', 'a.b-c_d', '*', '[.]*', 'v1.[0-9]'):
        assert glob_problem(pattern) is None, pattern


# ---------------------------------------------------------------------------
# Issue 8: scope names that do not exist are warnings
# ---------------------------------------------------------------------------

def test_a_repository_named_in_scope_that_does_not_exist_is_a_warning():
    arts = [art('a', ['old'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    res = plan({'artifacts': arts}, {'name': 'p', 'repositories': ['team/app', 'team/typo', 'team/*', 're:team/nope'],
                                     'older_than': '30d'}, now=NOW, repositories=['team/app', 'team/gone'])
    assert deleted(res) == [d('a')]
    assert ('repository team/gone (named in cleanup_repositories) is not in the snapshot: there is no such repository, '
            'or nothing in it') in res['warnings']
    assert ('policy "p": repository team/typo (named in repositories.include) is not in the snapshot: there is no such '
            'repository, or nothing in it') in res['warnings']
    # globs and regexes name no repository outright; a repository that exists warns nothing
    assert not [w for w in res['warnings'] if 'team/app ' in w or 'team/*' in w or 'nope' in w]
    # the repositories the snapshot lists count as existing even when they hold nothing
    res = plan({'artifacts': arts, 'repositories': ['team/empty']}, {'repositories': ['team/empty'], 'older_than': '30d'},
               now=NOW, repositories=['team/empty'])
    assert not [w for w in res['warnings'] if 'not in the snapshot' in w]


# ---------------------------------------------------------------------------
# Issue 8: the figures add up, on varied plans, and a re-run follows from the first run
# ---------------------------------------------------------------------------

def _random_snapshot(rng, repos=('team/a', 'team/b', 'other/c')):
    """Repositories with shared digests, indexes and children, untagged manifests, referrers, read errors, leftovers."""
    arts = []
    counter = [0]

    def name():
        counter[0] += 1
        return '%064x' % (rng.getrandbits(200) * 1000 + counter[0])

    for repo in repos:
        for number in range(rng.randint(0, 12)):
            tags = ['b%d-%d' % (number, i) for i in range(rng.choice((0, 1, 1, 2, 3)))]
            if rng.random() < 0.15:
                tags.append('v%d.%d.%d' % (rng.randint(1, 3), rng.randint(0, 3), rng.randint(0, 3)))
            if rng.random() < 0.1:
                tags.append('latest')
            children = []
            if rng.random() < 0.2:
                for dummy in range(rng.randint(1, 3)):
                    child = name()
                    children.append(child)
                    arts.append(art(child, [], repo=repo, pushed=ago(rng.randint(0, 200)), size=rng.choice((10, None))))
            digest = name()
            entry = art(digest, sorted(set(tags)), repo=repo, pushed=ago(rng.randint(0, 200)), children=children,
                        size=rng.choice((100, 200, None)))
            if rng.random() < 0.05:
                entry['read_error'] = 'HTTP 500'
            if rng.random() < 0.05:
                entry['provider_data'] = {'throwaway': True}
            arts.append(entry)
            if rng.random() < 0.1:
                arts.append(art(name(), [], repo=repo, pushed=ago(rng.randint(0, 200)), subject=digest))
    # a child shared by two indexes
    indexes = [a for a in arts if a['children']]
    if len(indexes) > 1 and indexes[0]['repository'] == indexes[1]['repository']:
        indexes[1]['children'].append(indexes[0]['children'][0])
    return arts


def _random_policies(rng):
    policies = []
    for number in range(rng.randint(1, 3)):
        policy = {'name': 'p%d' % number, 'allow_empty_repository': True}
        if rng.random() < 0.7:
            policy['older_than'] = '%dd' % rng.randint(1, 150)
        policy['tag_state'] = rng.choice(('tagged', 'untagged', 'any'))
        if rng.random() < 0.3:
            policy['tags'] = {'include': [rng.choice(('b1-*', 'b*', 'v*', 're:b[0-9]-0'))]}
        if rng.random() < 0.3:
            policy['repositories'] = [rng.choice(('team/*', 'other/c', '**'))]
        keep = {}
        if rng.random() < 0.5:
            keep['last'] = rng.randint(1, 4)
        if rng.random() < 0.3:
            keep['semver'] = {'major': 1}
        if rng.random() < 0.3:
            keep['tags'] = ['b2-*']
        if rng.random() < 0.2:
            keep['min_age'] = 0
        if keep:
            policy['keep'] = keep
        if rng.random() < 0.2:
            policy = {'name': policy['name'], 'keep': keep or {'last': 1}}  # protect-only
        policies.append(policy)
    return policies


def assert_figures_add_up(summary):
    assert summary['tags_removed'] == summary['tags_removed_with_digests'] + summary['tags_removed_from_surviving']
    assert summary['tags_before'] == summary['tags_kept'] + summary['tags_removed']
    assert summary['tags_after'] == summary['tags_kept'] == sum(summary['kept_by_reason'].values())
    assert summary['digests_before'] == summary['digests_deleted'] + summary['digests_after']


def _apply(arts, result):
    """What the registry holds after the plan is carried out: the snapshot of a re-run."""
    untag = set((e['repository'], e['digest'], e['tag']) for e in result['remove_tags'])
    gone = set()
    for entry in result['delete_digests']:
        gone.add((entry['repository'], entry['digest']))
        gone.update((entry['repository'], c) for c in entry['children'])
        gone.update((entry['repository'], r['digest']) for r in entry['referrers'])
    after = []
    for entry in arts:
        key = (entry['repository'], entry['digest'])
        if key in gone:
            continue
        entry = dict(entry, tags=[t for t in entry['tags'] if (key + (t,)) not in untag])
        entry.pop('read_error', None)  # the registry answers this time
        after.append(entry)
    return after


@pytest.mark.parametrize('seed', range(60))
def test_figures_add_up_on_varied_plans_and_a_rerun_starts_where_the_first_run_ended(seed):
    rng = random.Random(seed)
    arts, policies = _random_snapshot(rng), _random_policies(rng)
    first = run(arts, policies)
    for summary in list(first['repositories'].values()) + [first['totals']]:
        assert_figures_add_up(summary)
    # per repository, the figures are the plan's own lists counted
    for repo, summary in first['repositories'].items():
        own = [e for e in first['delete_digests'] if e['repository'] == repo and not e['leftover']]
        assert summary['tags_removed_from_surviving'] == len([e for e in first['remove_tags'] if e['repository'] == repo])
        assert summary['tags_removed_with_digests'] == sum(len(e['tags']) + sum(len(r['tags']) for r in e['referrers']) for e in own)
        assert summary['digests_deleted'] == len(own) + sum(len(e['children']) + len(e['referrers']) for e in own)
        assert summary['referrers_deleted'] == sum(len(e['referrers']) for e in own)
        assert summary['tags_kept'] == len([e for e in first['kept'] if e['repository'] == repo and e['tag'] is not None])
    assert first['totals']['repositories'] == len(first['repositories'])
    totals = first['totals']
    assert totals['tags_before'] == sum(s['tags_before'] for s in first['repositories'].values())

    second = run(_apply(arts, first), policies)
    for repo, summary in second['repositories'].items():
        assert_figures_add_up(summary)
        assert summary['tags_before'] == first['repositories'][repo]['tags_after'], repo
        assert summary['digests_before'] == first['repositories'][repo]['digests_after'], repo
    assert second['totals']['tags_before'] == sum(first['repositories'][r]['tags_after'] for r in second['repositories'])


# ---------------------------------------------------------------------------
# Issue 13: action untag, on_limit truncate, artifact_types, platforms, keep.pulled_within, referrers, orphans
# ---------------------------------------------------------------------------

HELM = 'application/vnd.cncf.helm.config.v1+json'
IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json'
SPDX = 'application/spdx+json'
DOCKER = 'application/vnd.docker.distribution.manifest.v2+json'


def typed(digest, tags=(), artifact_type=None, platforms=None, **kwargs):
    """An artifact with ``provider_data.artifact_type`` and ``platforms``, as the oci provider reports them."""
    entry = art(digest, tags, **kwargs)
    if artifact_type is not None:
        entry['provider_data'] = {'artifact_type': artifact_type}
    if platforms is not None:
        entry['platforms'] = list(platforms)
    return entry


def sig_of(digest, subject, suffix='sig', **kwargs):
    """A cosign tag-scheme referrer: a manifest tagged sha256-<subject hex>.<suffix>."""
    return art(digest, ['sha256-%s.%s' % (d(subject)[7:], suffix)], **kwargs)


def protected_items(arts, result):
    """Kept entries whose reason is a keep rule (protection): they must never be removed or deferred."""
    return [e for e in result['kept'] if e['reason'] in ('in_use', 'latest', 'keep_tags', 'keep_semver', 'keep_last',
                                                         'pulled_within', 'min_age')]


# -- action: untag --------------------------------------------------------------

def test_untag_removes_the_tags_and_never_deletes_a_manifest():
    arts = [art('a', ['pr-1', 'pr-2'], pushed=ago(100)), art('b', ['pr-3', 'main'], pushed=ago(100)),
            art('u', [], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))] + _multiarch(['pr-9'], index_pushed=ago(100))
    res = run(arts, {'name': 'drop', 'tag_state': 'any', 'older_than': '30d', 'action': 'untag', 'keep': {'tags': ['main']}})
    assert res['delete_digests'] == []
    assert removed_tags(res) == [('team/app', 'pr-1'), ('team/app', 'pr-2'), ('team/app', 'pr-3'), ('team/app', 'pr-9')]
    assert kept(res)[(d('a'), None)] == 'untag_only' and kept(res)[(d('idx'), None)] == 'untag_only'
    assert kept(res)[(d('b'), None)] == 'shared_digest' and kept(res)[(d('b'), 'main')] == 'keep_tags'
    # untagged manifests are never selected; the children of an index that stays stay
    assert kept(res)[(d('u'), None)] == 'not_selected'
    assert kept(res)[(d('c1'), None)] == kept(res)[(d('c2'), None)] == 'index_child'
    summary = res['repositories']['team/app']
    assert summary['tags_untagged_only'] == 2 and summary['untagged_kept_by_reason']['untag_only'] == 2
    assert summary['digests_deleted'] == 0 and summary['tags_removed_from_surviving'] == 4
    assert_figures_add_up(summary)
    assert res['policies'][0]['action'] == 'untag'


def test_a_manifest_goes_only_when_each_tag_is_selected_by_a_delete_policy():
    arts = [art('a', ['pr-1', 'build-1'], pushed=ago(100)), art('b', ['pr-2'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    policies = [{'name': 'builds', 'tags': {'include': ['build-*']}, 'older_than': '30d'},
                {'name': 'prs', 'tags': {'include': ['pr-*']}, 'older_than': '30d', 'action': 'untag'}]
    res = run(arts, policies)
    # pr-1 is selected only by the untag policy: a keeps its manifest; b's only tag too
    assert res['delete_digests'] == []
    assert removed_tags(res) == [('team/app', 'build-1'), ('team/app', 'pr-1'), ('team/app', 'pr-2')]
    assert kept(res)[(d('a'), None)] == kept(res)[(d('b'), None)] == 'untag_only'
    # a tag selected by both goes with its manifest: the delete policy selected it
    policies[0]['tags'] = {'include': ['build-*', 'pr-*']}
    res = run(arts, policies)
    assert deleted(res) == [d('a'), d('b')] and res['remove_tags'] == []


def test_untag_keeps_what_keep_protects():
    arts = [art('a', ['v1.0.0', 'pr-1'], pushed=ago(100)), art('b', ['pr-2'], pushed=ago(100), pulled=ago(1)),
            art(HEX_C, ['pr-3'], pushed=ago(100))]
    keep = {'semver': {'all': True}, 'pulled_within': '7d', 'digests': [d(HEX_C)]}
    res = run(arts, {'older_than': '30d', 'action': 'untag', 'keep': keep})
    assert removed_tags(res) == [('team/app', 'pr-1')]
    assert kept(res)[(d('a'), 'v1.0.0')] == 'keep_semver' and kept(res)[(d('b'), 'pr-2')] == 'pulled_within'
    assert kept(res)[(d(HEX_C), 'pr-3')] == 'in_use'


@pytest.mark.parametrize('policy, fragment', [
    ({'name': 'p', 'action': 'remove'}, 'key "action" must be one of delete, untag, got \'remove\''),
    ({'name': 'p', 'action': 'untagg'}, '(did you mean "untag"?)'),
    ({'name': 'p', 'action': 'untag', 'tag_state': 'untagged'},
     'key "action" is untag, which never deletes a manifest, but tag_state is untagged'),
    ({'name': 'p', 'action': 'untag', 'delete_orphan_referrers': True}, 'but delete_orphan_referrers deletes manifests'),
    ({'name': 'p', 'on_limit': 'truncate'}, 'key "on_limit" is truncate but neither max_deletions nor max_deletions_percent is set'),
    ({'name': 'p', 'on_limit': 'drain', 'max_deletions': 5}, 'key "on_limit" must be one of block, truncate'),
    ({'name': 'p', 'artifact_types': ['chart']}, 'key "artifact_types" has an unknown artifact type "chart"; allowed: image, '
                                                 'index, helm, signature, sbom, attestation, other'),
    ({'name': 'p', 'artifact_types': ['signatures']}, 'unknown artifact type "signatures" (did you mean "signature"?)'),
    ({'name': 'p', 'artifact_types': 'image, helm'}, 'unknown artifact type "image, helm"'),
    ({'name': 'p', 'artifact_types': [3]}, 'key "artifact_types" must be a list of non-empty strings'),
    ({'name': 'p', 'platforms': ['arm64']}, 'key "platforms" pattern "arm64" is not a platform: a platform is os/arch[/variant] '
                                            '(linux/amd64, linux/arm/v7); write "*/arm64" for every OS'),
    ({'name': 'p', 'platforms': ['linux/(arm|arm64)']}, 'key "platforms" pattern "linux/(arm|arm64)" looks like a regular expression'),
    ({'name': 'p', 'platforms': ['re:linux/(']}, 'key "platforms" has an invalid regular expression "linux/("'),
    ({'name': 'p', 'platforms': {'linux': 'amd64'}}, 'key "platforms" must be a list of strings'),
    ({'name': 'p', 'keep': {'pulled_within': 7}}, 'key "keep.pulled_within" is not a valid duration: invalid duration 7: a number has no unit'),
    ({'name': 'p', 'keep': {'pulled_within': 'a week'}}, 'key "keep.pulled_within" is not a valid duration'),
    ({'name': 'p', 'keep': {'pulled_withn': '7d'}}, '"keep.pulled_withn" (did you mean "keep.pulled_within"?)'),
    ({'name': 'p', 'referrers': 'delete'}, 'key "referrers" must be one of with_subject, keep, got \'delete\''),
    ({'name': 'p', 'delete_orphan_referrers': 'sometimes'}, 'key "delete_orphan_referrers" must be a boolean'),
    ({'name': 'p', 'artifact_type': ['helm']}, '"artifact_type" (did you mean "artifact_types"?)'),
])
def test_new_keys_are_validated_with_clear_messages(policy, fragment):
    with pytest.raises(PolicyError) as exc:
        normalize_policies(policy)
    assert fragment in str(exc.value)


def test_new_keys_normalize_and_round_trip():
    raw = {'name': 'n', 'artifact_types': ['helm', 'signature', 'helm'], 'platforms': ['linux/arm*', 're:windows/.*'],
           'action': 'delete', 'keep': {'pulled_within': '168h'}, 'referrers': 'keep', 'delete_orphan_referrers': 'yes',
           'max_deletions_percent': 10, 'on_limit': 'truncate'}
    normalized = normalize_policies(raw)
    policy = normalized[0]
    assert policy['artifact_types'] == ['helm', 'signature'] and policy['platforms'] == ['linux/arm*', 're:windows/.*']
    assert policy['keep']['pulled_within'] == '7d' and policy['referrers'] == 'keep' and policy['delete_orphan_referrers'] is True
    assert policy['on_limit'] == 'truncate' and policy['protect_only'] is False
    # artifact_types naming a referrer kind: cosign's referrer tags are selectable unless said otherwise
    assert policy['ignore_referrer_tags'] is False
    assert normalize_policies(dict(raw, ignore_referrer_tags=True))[0]['ignore_referrer_tags'] is True
    assert normalize_policies({'artifact_types': ['helm']})[0]['ignore_referrer_tags'] is True
    assert normalize_policies(normalized) == normalized
    # empty lists select nothing more: such a policy still only protects
    assert normalize_policies({'artifact_types': [], 'platforms': [], 'keep': {'last': 1}})[0]['protect_only'] is True
    assert normalize_policies({'platforms': ['*']})[0]['protect_only'] is False


# -- artifact_types ---------------------------------------------------------------

def _typed_repository():
    return [
        typed('i1', ['img-1'], IMAGE_CONFIG, pushed=ago(100)),
        typed('h1', ['chart-1'], HELM, pushed=ago(100)),
        typed('h2', ['chart-2'], HELM, pushed=ago(90)),
        typed('h3', ['chart-3'], HELM, pushed=ago(80)),
        typed('s1', ['sbom-1'], SPDX, pushed=ago(100)),
        typed('a1', ['att-1'], 'application/vnd.dsse.envelope.v1+json', pushed=ago(100)),
        typed('o1', ['wasm-1'], 'application/vnd.wasm.config.v1+json', pushed=ago(100)),
        typed('x1', ['mystery-1'], None, pushed=ago(100), media_type='application/vnd.oci.image.manifest.v1+json'),
        typed('dk', ['docker-1'], None, pushed=ago(100), media_type=DOCKER),
        sig_of('g1', HEX_A, pushed=ago(100)),
        art('idx', ['multi-1'], pushed=ago(100), children=['c1']),
        art('c1', [], pushed=ago(100)),
        art('k', ['latest'], pushed=ago(1)),
    ]


@pytest.mark.parametrize('types, expected', [
    (['helm'], ['h1', 'h2', 'h3']),
    (['image'], ['dk', 'i1']),
    (['index'], ['idx']),
    (['sbom', 'attestation'], ['a1', 's1']),
    (['signature'], ['g1']),        # the cosign tag is selectable: ignore_referrer_tags defaults to false
    (['other'], ['o1']),
])
def test_artifact_types_select_only_those_types(types, expected):
    res = run(_typed_repository(), {'name': 't', 'older_than': '30d', 'artifact_types': types})
    assert deleted(res) == sorted(d(x) for x in expected)
    assert all(e['artifact_type'] in types for e in res['delete_digests'])
    if 'index' in types:
        assert res['delete_digests'][0]['children'] == [d('c1')]
    # the artifact whose type nobody knows is never selected by artifact_types, and the plan says so once
    assert kept(res)[(d('x1'), 'mystery-1')] == 'not_selected'
    warned = [w for w in res['warnings'] if 'selects by artifact_types' in w]
    assert len(warned) == 1 and 'for 3 of 13 artifact(s) in team/app' in warned[0]   # x1, c1 and k: a bare OCI manifest type


def test_keep_last_ranks_within_the_artifact_types():
    res = run(_typed_repository(), {'name': 't', 'older_than': '30d', 'artifact_types': ['helm'], 'keep': {'last': 2}})
    # the two newest charts stay, whatever is newer among the images
    assert deleted(res) == [d('h1')]
    assert kept(res)[(d('h2'), 'chart-2')] == kept(res)[(d('h3'), 'chart-3')] == 'keep_last'


def test_the_provider_kind_is_believed_and_a_bare_manifest_type_is_unknown():
    entry = art('p', ['x'], pushed=ago(100))
    entry['provider_data'] = {'kind': 'helm'}
    unknown = art('q', ['y'], pushed=ago(100), media_type='application/vnd.oci.image.manifest.v1+json')
    res = run([entry, unknown, art('k', ['latest'], pushed=ago(1))], {'older_than': '30d', 'artifact_types': ['helm', 'other']})
    assert deleted(res) == [d('p')] and res['delete_digests'][0]['artifact_type'] == 'helm'


# -- platforms --------------------------------------------------------------------

def test_platforms_select_by_glob_and_an_index_matches_through_a_child():
    arts = [
        typed('amd', ['amd-1'], IMAGE_CONFIG, ['linux/amd64'], pushed=ago(100)),
        typed('arm', ['arm-1'], IMAGE_CONFIG, ['linux/arm/v7'], pushed=ago(100)),
        typed('win', ['win-1'], IMAGE_CONFIG, ['windows/amd64'], pushed=ago(100)),
        art('idx', ['multi-1'], pushed=ago(100), children=['c1', 'c2']),
        typed('c1', [], IMAGE_CONFIG, ['linux/amd64'], pushed=ago(100)),
        typed('c2', [], IMAGE_CONFIG, ['linux/arm64'], pushed=ago(100)),
        art('none', ['unknown-1'], pushed=ago(100)),
        art('k', ['latest'], pushed=ago(1)),
    ]
    # the snapshot's children list their platform too (art() says linux/amd64 for every child): use the artifacts'
    arts[3]['children'] = [{'digest': d('c1'), 'platform': 'linux/amd64'}, {'digest': d('c2'), 'platform': 'linux/arm64'}]
    res = run(arts, {'older_than': '30d', 'platforms': ['linux/arm*']})
    assert deleted(res) == [d('arm'), d('idx')]
    assert res['delete_digests'][1]['children'] == [d('c1'), d('c2')]   # the whole index goes, amd64 too
    res = run(arts, {'older_than': '30d', 'platforms': ['*/amd64'], 'tag_state': 'any'})
    assert deleted(res) == [d('amd'), d('idx'), d('win')]
    res = run(arts, {'older_than': '30d', 'platforms': ['re:linux/arm(64)?']})
    assert deleted(res) == [d('idx')]
    warned = [w for w in res['warnings'] if 'selects by platforms' in w]
    assert len(warned) == 1 and 'their platform for 2 of 8 artifact(s) in team/app' in warned[0]
    assert kept(res)[(d('none'), 'unknown-1')] == 'not_selected'


@pytest.mark.parametrize('pattern, platform, expected', [
    ('linux/arm*', 'linux/arm64', True), ('linux/arm*', 'linux/arm/v7', True), ('linux/arm*', 'linux/amd64', False),
    ('linux/*', 'linux/s390x', True), ('*/arm64', 'linux/arm64', True), ('linux/arm64', 'linux/arm64/v8', False),
    ('linux/arm64*', 'linux/arm64/v8', True), ('linux/[ab]*', 'linux/amd64', True), ('linux/[!a]*', 'linux/amd64', False),
    ('linux/???64', 'linux/arm64', True),
])
def test_platform_globs(pattern, platform, expected):
    assert bool(re.fullmatch(platform_glob_to_regex(pattern), platform)) is expected


# -- keep.pulled_within -------------------------------------------------------------

def test_pulled_within_keeps_what_was_pulled_recently():
    arts = [art('a', ['x'], pushed=ago(100), pulled=ago(2)), art('b', ['y'], pushed=ago(100), pulled=ago(10)),
            art('u', [], pushed=ago(100), pulled=ago(1)), art('k', ['latest'], pushed=ago(1), pulled=ago(1))]
    res = run(arts, {'name': 'p', 'tag_state': 'any', 'older_than': '30d', 'keep': {'pulled_within': '7d'}})
    assert deleted(res) == [d('b')]
    entry = kept_entry(res, 'a', 'x')
    assert entry['reason'] == 'pulled_within' and entry['protected_by'] == ['p']
    assert kept(res)[(d('u'), None)] == 'pulled_within'
    assert not [w for w in res['warnings'] if 'pulled_within' in w]


def test_pulled_within_warns_once_per_repository_where_the_snapshot_has_no_pull_times():
    arts = [art('a', ['x'], pushed=ago(100)), art('b', ['y'], pushed=ago(100)), art('k', ['latest'], pushed=ago(1)),
            art('c', ['z'], repo='team/web', pushed=ago(100), pulled=ago(1)), art('e', ['w'], repo='team/web', pushed=ago(100))]
    policies = [{'name': 'p', 'older_than': '30d', 'keep': {'pulled_within': '7d'}, 'allow_empty_repository': True},
                {'name': 'q', 'keep': {'pulled_within': '1d'}}]
    res = run(arts, policies)
    warned = [w for w in res['warnings'] if 'pulled_within' in w]
    assert warned == [
        'keep.pulled_within (policy "p", "q") protects nothing in team/app: the provider records no pull times '
        '(no artifact there has one)',
        'keep.pulled_within (policy "p", "q") cannot protect 1 of 2 artifact(s) in team/web: the snapshot has no pull time '
        'for them (never pulled, or the provider records none)',
    ]
    assert deleted(res) == [d('a'), d('b'), d('e')]
    assert kept(res)[(d('c'), 'z')] == 'pulled_within'
    # a pull time before 1980 is no pull time
    res = run([art('a', ['x'], pushed=ago(100), pulled='1970-01-01T00:00:00Z')], policies)
    assert deleted(res) == [d('a')] and [w for w in res['warnings'] if 'protects nothing in team/app' in w]


# -- referrers --------------------------------------------------------------------

def _signed(subject_tags=('old',), pushed=None):
    """A subject with a cosign signature (tag scheme), an OCI 1.1 SBOM (subject), and a signature of that SBOM."""
    return [
        art(HEX_A, list(subject_tags), pushed=pushed or ago(100)),
        sig_of('5' * 64, HEX_A, pushed=ago(100)),
        typed('6' * 64, [], SPDX, pushed=ago(100), subject=HEX_A),
        sig_of('7' * 64, '6' * 64, pushed=ago(100)),
        art(HEX_C, ['new'], pushed=ago(1)),
    ]


def test_referrers_go_with_their_subject_listed_under_it():
    res = run(_signed(), {'name': 'p', 'older_than': '30d'})
    assert deleted(res) == [d(HEX_A)]
    entry = res['delete_digests'][0]
    assert [(r['digest'], r['subject'], r['artifact_type'], r['tags']) for r in entry['referrers']] == [
        (d('5' * 64), d(HEX_A), 'signature', ['sha256-%s.sig' % HEX_A]),
        (d('6' * 64), d(HEX_A), 'sbom', []),
        (d('7' * 64), d('6' * 64), 'signature', ['sha256-%s.sig' % ('6' * 64)]),   # the SBOM's signature, after the SBOM
    ]
    summary = res['repositories']['team/app']
    assert summary['referrers_deleted'] == 3 and summary['digests_deleted'] == 4
    assert summary['tags_removed_with_digests'] == 3 and summary['bytes_freed'] == 400
    assert_figures_add_up(summary)
    # they count for the policy that selected the subject
    assert run(_signed(), {'older_than': '30d', 'max_deletions': 3})['blocked'] is True
    assert run(_signed(), {'older_than': '30d', 'max_deletions': 4})['blocked'] is False


def test_a_kept_subject_keeps_its_referrers():
    res = run(_signed(subject_tags=('old', 'stable')), {'older_than': '30d', 'keep': {'tags': ['stable']}, 'tag_state': 'any'})
    assert res['delete_digests'] == [] and removed_tags(res) == [('team/app', 'old')]
    assert kept(res)[(d('5' * 64), 'sha256-%s.sig' % HEX_A)] == 'referrer_of_kept'
    assert kept(res)[(d('6' * 64), None)] == 'referrer_of_kept'
    assert kept(res)[(d('7' * 64), 'sha256-%s.sig' % ('6' * 64))] == 'referrer_of_kept'


def test_referrers_keep_leaves_them_when_any_covering_policy_says_so():
    policies = [{'name': 'p', 'older_than': '30d'}, {'name': 'sigs', 'referrers': 'keep', 'keep': {'last': 0}}]
    res = run(_signed(), policies)
    assert all_deleted(res) == [d(HEX_A)]
    assert kept(res)[(d('6' * 64), None)] == 'not_selected'
    assert kept(res)[(d('5' * 64), 'sha256-%s.sig' % HEX_A)] == 'not_selected'


def test_keep_wins_over_a_referrer_going_with_its_subject():
    # the SBOM is in use; the signature was pushed a minute ago (min_age): both stay, the SBOM keeps its own signature
    arts = _signed()
    arts[1]['pushed_at'] = ago(minutes=1)
    res = run(arts, {'older_than': '30d', 'keep': {'digests': [d('6' * 64)]}})
    assert all_deleted(res) == [d(HEX_A)]
    assert kept(res)[(d('6' * 64), None)] == 'in_use' and kept(res)[(d('5' * 64), 'sha256-%s.sig' % HEX_A)] == 'min_age'
    assert kept(res)[(d('7' * 64), 'sha256-%s.sig' % ('6' * 64))] == 'referrer_of_kept'
    assert_figures_add_up(res['repositories']['team/app'])


def test_a_referrer_with_a_tag_of_its_own_goes_only_when_that_tag_is_removed():
    arts = [art(HEX_A, ['old'], pushed=ago(100)), art(HEX_B, ['sbom-latest'], pushed=ago(1), subject=HEX_A),
            art(HEX_C, ['new'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d', 'keep': {'min_age': 0}})
    assert all_deleted(res) == [d(HEX_A)] and kept(res)[(d(HEX_B), 'sbom-latest')] == 'too_new'
    res = run(arts, {'tags': {'include': ['old', 'sbom-*']}, 'keep': {'min_age': 0}})
    assert deleted(res) == [d(HEX_A)] and [r['digest'] for r in res['delete_digests'][0]['referrers']] == [d(HEX_B)]


def test_referrers_of_index_children_go_with_the_index():
    c1, c2 = '1' * 64, '2' * 64
    arts = [art('idx', ['v1'], pushed=ago(100), children=[c1, c2]), art(c1, [], pushed=ago(100)), art(c2, [], pushed=ago(100)),
            art('9' * 64, [], pushed=ago(100), subject=c1), sig_of('8' * 64, c2, pushed=ago(100)), art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d'})
    assert deleted(res) == [d('idx')]
    entry = res['delete_digests'][0]
    assert entry['children'] == [d(c1), d(c2)]
    assert [(r['digest'], r['subject']) for r in entry['referrers']] == [(d('8' * 64), d(c2)), (d('9' * 64), d(c1))]
    assert res['repositories']['team/app']['children_deleted'] == 2 and res['repositories']['team/app']['referrers_deleted'] == 2


def test_a_referrer_listed_by_a_referrers_tag_schema_index_goes_as_its_subjects_referrer():
    # the registry has no referrers API: the index tagged sha256-<hex> lists the SBOM, which names the image as subject
    index = typed('4' * 64, ['sha256-%s' % HEX_A], 'application/vnd.oci.image.index.v1+json', pushed=ago(100),
                  children=['6' * 64])
    arts = [art(HEX_A, ['old'], pushed=ago(100)), index, typed('6' * 64, [], SPDX, pushed=ago(100), subject=HEX_A),
            art(HEX_C, ['new'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d'})
    assert deleted(res) == [d(HEX_A)]
    entry = res['delete_digests'][0]
    assert entry['children'] == []
    assert sorted((r['digest'], r['subject']) for r in entry['referrers']) == [(d('4' * 64), d(HEX_A)), (d('6' * 64), d(HEX_A))]
    summary = res['repositories']['team/app']
    assert summary['referrers_deleted'] == 2 and summary['children_deleted'] == 0
    assert_figures_add_up(summary)


def test_a_kept_index_keeps_its_children_and_their_referrers():
    arts = _multiarch(['v1', 'stable'], index_pushed=ago(100)) + [
        art('9' * 64, [], pushed=ago(100), subject='c1'), art('8' * 64, [], pushed=ago(100), subject='idx'),
        art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'tag_state': 'any', 'older_than': '30d', 'keep': {'tags': ['stable']}, 'delete_orphan_referrers': True})
    assert res['delete_digests'] == [] and removed_tags(res) == [('team/app', 'v1')]
    assert kept(res)[(d('c1'), None)] == kept(res)[(d('c2'), None)] == 'index_child'
    assert kept(res)[(d('9' * 64), None)] == kept(res)[(d('8' * 64), None)] == 'referrer_of_kept'


def test_a_referrer_of_two_subjects_goes_only_with_both():
    arts = [art(HEX_A, ['old'], pushed=ago(100)), art(HEX_B, ['new'], pushed=ago(1)),
            art('5' * 64, ['sha256-%s.sig' % HEX_B], pushed=ago(100), subject=HEX_A)]
    res = run(arts, {'older_than': '30d'})
    assert all_deleted(res) == [d(HEX_A)] and kept(res)[(d('5' * 64), 'sha256-%s.sig' % HEX_B)] == 'referrer_of_kept'


def test_referrer_tag_rings_still_give_every_deleted_digest_an_entry():
    arts = [art(HEX_A, ['old', 'sha256-%s.sig' % HEX_B], pushed=ago(100)), art(HEX_B, ['sha256-%s.sig' % HEX_A], pushed=ago(100)),
            art(HEX_C, ['new'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d', 'ignore_referrer_tags': False})
    assert all_deleted(res) == [d(HEX_A), d(HEX_B)]
    assert_figures_add_up(res['repositories']['team/app'])


# -- delete_orphan_referrers ----------------------------------------------------------

def test_orphan_referrers_are_selected_whatever_else_the_policy_says():
    gone = 'f' * 64
    arts = [sig_of('5' * 64, gone, pushed=ago(100)), art('6' * 64, [], pushed=ago(100), subject=gone),
            sig_of('7' * 64, gone, suffix='att', pushed=ago(minutes=5)), sig_of('8' * 64, HEX_A, pushed=ago(100)),
            art(HEX_A, ['v1'], pushed=ago(100)), art('9' * 64, [], pushed=ago(100), subject='c9'),
            art('ix', ['multi'], pushed=ago(1), children=['c9'])]
    # a protect-only policy that deletes orphans: nothing else is selected
    res = run(arts, {'name': 'orphans', 'delete_orphan_referrers': True})
    assert deleted(res) == [d('5' * 64), d('6' * 64)]
    assert all(e['reason'] == 'orphan_referrer' and e['policy'] == 'orphans' for e in res['delete_digests'])
    # the young one is protected by min_age; a subject listed only as an index child is there
    assert kept(res)[(d('7' * 64), 'sha256-%s.att' % gone)] == 'min_age'
    assert kept(res)[(d('9' * 64), None)] == 'referrer_of_kept'   # its subject is there, listed by ix only
    assert kept(res)[(d('8' * 64), 'sha256-%s.sig' % HEX_A)] == 'referrer_of_kept'
    assert not [w for w in res['warnings'] if 'only protects' in w]
    # without the key orphans are not selected (an untagged one still is by tag_state untagged, as before)
    res = run(arts, {'name': 'plain', 'older_than': '30d'})
    assert deleted(res) == [d(HEX_A)] and [r['digest'] for r in res['delete_digests'][0]['referrers']] == [d('8' * 64)]
    assert res['delete_digests'][0]['reason'] is None and kept(res)[(d('5' * 64), 'sha256-%s.sig' % gone)] == 'not_selected'
    res = run(arts, {'name': 'plain', 'tag_state': 'untagged', 'older_than': '30d'})
    assert d('6' * 64) in deleted(res) and res['delete_digests'][0]['reason'] is None


def test_orphan_referrer_of_an_index_child_not_listed_as_an_artifact_is_not_an_orphan():
    # gitlab and ncloud list an index's children only in the index
    index = art('ix', ['multi'], pushed=ago(1), children=['c9'])
    res = run([index, sig_of('5' * 64, 'c9', pushed=ago(100))], {'delete_orphan_referrers': True})
    assert res['delete_digests'] == []


# -- on_limit: truncate -------------------------------------------------------------

def test_truncate_applies_the_oldest_part_and_defers_the_rest():
    arts = _many(6) + [art('sh', ['s1', 's2'], pushed=ago(300))]
    res = run(arts, {'name': 'drain', 'older_than': '30d', 'max_deletions': 3, 'on_limit': 'truncate', 'keep': {'tags': ['s2']}})
    assert res['blocked'] is False and res['block_reasons'] == []
    # oldest first: the untag of s1 (300d), then m005 (105d), m004; then the limit
    assert removed_tags(res) == [('team/app', 's1')] and deleted(res) == [d('m004'), d('m005')]
    assert [(e['operation'], e['digest']) for e in res['deferred']] == [
        ('delete', d('m003')), ('delete', d('m002')), ('delete', d('m001')), ('delete', d('m000'))]
    summary = res['repositories']['team/app']
    assert summary['deferred_tags'] == 4 and summary['deferred_digests'] == 4 and summary['kept_by_reason']['deferred'] == 4
    assert_figures_add_up(summary)
    assert kept_entry(res, 'm003', 'b003')['policy'] == 'drain'
    assert res['warnings'][0] == ('on_limit truncate: 0 tag removal(s) and 4 manifest deletion(s) deferred to the next run '
                                  '(policy "drain" max_deletions 3)')
    # block, the default, blocks the same plan
    res = run(arts, {'older_than': '30d', 'max_deletions': 3, 'keep': {'tags': ['s2']}})
    assert res['blocked'] is True and res['deferred'] == [] and len(res['delete_digests']) == 6


def test_truncate_per_repository_percent():
    arts = _many(4) + _many(2, repo='team/small')
    res = run(arts, {'older_than': '30d', 'max_deletions_percent': 50, 'on_limit': 'truncate'})
    # team/app: 5 tags, at most 2.5 -> 2; team/small: 3 tags, at most 1.5 -> 1
    assert res['blocked'] is False
    assert res['repositories']['team/app']['digests_deleted'] == 2 and res['repositories']['team/small']['digests_deleted'] == 1
    assert [(e['repository'], e['digest']) for e in res['delete_digests']] == [
        ('team/app', d('m002')), ('team/app', d('m003')), ('team/small', d('m001'))]
    assert res['totals']['deferred_digests'] == 3


def test_truncate_keeps_a_deletion_whole_and_never_goes_past_the_limit():
    arts = _multiarch(['v1'], index_pushed=ago(200)) + _many(2)
    res = run(arts, {'older_than': '30d', 'max_deletions': 2, 'on_limit': 'truncate'})
    # the index with its two children needs 3: it is deferred, and the limit stops there (the oldest part only)
    assert res['delete_digests'] == [] and [e['digest'] for e in res['deferred']] == [d('idx'), d('m001'), d('m000')]
    assert kept(res)[(d('c1'), None)] == 'deferred'
    assert any('the oldest item it selects needs more than its max_deletions 2 allows' in w for w in res['warnings'])
    assert_figures_add_up(res['repositories']['team/app'])


def test_truncate_never_deletes_a_child_whose_index_is_deferred():
    # c is a tagged child of idx: its own entry, older than idx, so first in line; idx does not fit, so c waits too
    arts = [art('idx', ['v1'], pushed=ago(100), children=['c']), art('c', ['c-tag'], pushed=ago(200)),
            art('k', ['latest'], pushed=ago(1))]
    res = run(arts, {'older_than': '30d', 'max_deletions': 1, 'on_limit': 'truncate'})
    assert res['delete_digests'] == [] and sorted(e['digest'] for e in res['deferred']) == [d('c'), d('idx')]
    assert kept(res)[(d('c'), 'c-tag')] == 'deferred'
    assert_figures_add_up(res['repositories']['team/app'])


def test_truncate_counts_only_the_truncating_policies_and_others_still_block():
    arts = _many(4)
    policies = [{'name': 'drain', 'older_than': '30d', 'max_deletions': 2, 'on_limit': 'truncate'},
                {'name': 'strict', 'older_than': '30d', 'max_deletions': 1}]
    res = run(arts, policies)
    assert len(res['delete_digests']) == 2 and res['blocked'] is True
    assert 'policy "strict": 2 planned deletions' in res['block_reasons'][0]


def test_truncate_never_defers_a_protected_item_and_keep_wins():
    arts = _many(5) + [art(HEX_A, ['b-in'], pushed=ago(500)), art('t', ['b-kept'], pushed=ago(500))]
    res = run(arts, {'older_than': '30d', 'max_deletions': 2, 'on_limit': 'truncate',
                     'keep': {'digests': [d(HEX_A)], 'tags': ['b-kept']}})
    assert kept(res)[(d(HEX_A), 'b-in')] == 'in_use' and kept(res)[(d('t'), 'b-kept')] == 'keep_tags'
    assert d(HEX_A) not in [e['digest'] for e in res['deferred']] and d('t') not in [e['digest'] for e in res['deferred']]
    assert deleted(res) == [d('m003'), d('m004')]


# -- properties over varied plans ---------------------------------------------------------

def _random_issue13(rng):
    arts = _random_snapshot(rng)
    by_repo = {}
    for entry in arts:
        by_repo.setdefault(entry['repository'], []).append(entry)
    extra = []
    for repo, entries in sorted(by_repo.items()):
        for entry in entries:
            roll = rng.random()
            if roll < 0.15:
                extra.append(sig_of('%064x' % rng.getrandbits(256), entry['digest'], repo=repo, pushed=ago(rng.randint(0, 200))))
            elif roll < 0.2:
                extra.append(sig_of('%064x' % rng.getrandbits(256), '%064x' % rng.getrandbits(256), repo=repo,
                                    pushed=ago(rng.randint(0, 200))))
            if rng.random() < 0.3:
                entry['pulled_at'] = ago(rng.randint(0, 60))
            entry['provider_data'] = dict(entry.get('provider_data') or {}, artifact_type=rng.choice((IMAGE_CONFIG, HELM, SPDX, None)))
            entry['platforms'] = [rng.choice(('linux/amd64', 'linux/arm64', 'linux/arm/v7'))] if rng.random() < 0.7 else []
    policies = _random_policies(rng)
    for policy in policies:
        if policy.get('protect_only') or set(policy) <= {'name', 'keep'}:
            if rng.random() < 0.3:
                policy['delete_orphan_referrers'] = True
            continue
        if rng.random() < 0.3 and policy.get('tag_state') != 'untagged':
            policy['action'] = 'untag'
        elif rng.random() < 0.2:
            policy['delete_orphan_referrers'] = True
        if rng.random() < 0.4:
            policy['max_deletions'] = rng.randint(0, 8)
            policy['on_limit'] = 'truncate'
        if rng.random() < 0.2:
            policy['max_deletions_percent'] = rng.randint(0, 80)
            policy['on_limit'] = 'truncate'
        if rng.random() < 0.2:
            policy['artifact_types'] = rng.sample(['image', 'helm', 'sbom', 'signature', 'index'], 2)
        if rng.random() < 0.2:
            policy['platforms'] = [rng.choice(('linux/arm*', '*/amd64'))]
        if rng.random() < 0.2:
            policy['referrers'] = 'keep'
        policy.setdefault('keep', {})
        if rng.random() < 0.3:
            policy['keep']['pulled_within'] = '%dd' % rng.randint(1, 30)
        if rng.random() < 0.3:
            policy['keep']['digests'] = [e['digest'] for e in rng.sample(arts, min(3, len(arts)))]
    return arts + extra, policies


def _gone(result):
    """(repository, digest) deleted and (repository, digest, tag) removed by a plan."""
    digests, tags = set(), set()
    for entry in result['delete_digests']:
        digests.add((entry['repository'], entry['digest']))
        digests.update((entry['repository'], c) for c in entry['children'])
        for referrer in entry['referrers']:
            digests.add((entry['repository'], referrer['digest']))
            tags.update((entry['repository'], referrer['digest'], t) for t in referrer['tags'])
        tags.update((entry['repository'], entry['digest'], t) for t in entry['tags'])
    tags.update((e['repository'], e['digest'], e['tag']) for e in result['remove_tags'])
    return digests, tags


@pytest.mark.parametrize('seed', range(80))
def test_issue13_properties_on_varied_plans(seed):
    rng = random.Random(1300 + seed)
    arts, policies = _random_issue13(rng)
    res = run(arts, policies)
    for summary in list(res['repositories'].values()) + [res['totals']]:
        assert_figures_add_up(summary)
        assert summary['kept_by_reason'].get('deferred', 0) == summary['deferred_tags']
    digests, tags = _gone(res)
    by_key = dict(((e['repository'], e['digest']), e) for e in arts)
    normalized = dict((p['name'], p) for p in res['policies'])
    # keep wins over everything: no protected item goes, whatever selected it, and the protection is what the plan says
    for entry in protected_items(arts, res):
        assert (entry['repository'], entry['digest']) not in digests
        assert entry['tag'] is None or (entry['repository'], entry['digest'], entry['tag']) not in tags
    objects = _build_policies(res['policies'])
    own_digests, own_tags = _gone({'delete_digests': [e for e in res['delete_digests'] if not e['leftover']],
                                   'remove_tags': res['remove_tags']})   # leftover throwaways go whatever keep says
    for repo, digest, tag in own_tags | set((r, dg, None) for r, dg in own_digests):
        entry = by_key[(repo, digest)]
        for policy in (p for p in objects if p.covers(repo)):
            assert not policy.digest_in_use(repo, digest)
            assert tag is None or not (policy.keep_tag_matches(tag) or (policy.keep_latest and tag == 'latest'))
            if policy.pulled_within and entry.get('pulled_at'):
                assert (NOW_DT - parse_timestamp(entry['pulled_at'])).total_seconds() >= policy.pulled_within
    # untag never deletes a manifest: every deleted one (leftovers apart) was selected by a delete policy, or goes with one
    for entry in res['delete_digests']:
        if not entry['leftover']:
            assert any(normalized[name]['action'] == 'delete' for name in entry['selected_by'])
    # a deleted manifest never leaves a surviving index without a child, nor a surviving subject without its referrer
    for (repo, digest) in digests:
        for other in arts:
            if other['repository'] == repo and (repo, other['digest']) not in digests:
                assert digest not in [c['digest'] for c in other['children']]
        entry = by_key.get((repo, digest))
        if entry and entry.get('subject') and (repo, entry['subject']) in by_key:
            assert (repo, entry['subject']) in digests
    # truncate never goes past a limit, and what it deferred plus what it applies is the plan without limits
    for policy in normalized.values():
        if policy['on_limit'] == 'truncate' and policy['max_deletions'] is not None:
            mine = [e for e in res['remove_tags'] if policy['name'] in e['selected_by']]
            ops = len(mine) + sum(1 + len(e['children']) + len(e['referrers']) for e in res['delete_digests']
                                  if policy['name'] in e['selected_by'])
            assert ops <= policy['max_deletions']
    if any(p['on_limit'] == 'truncate' for p in normalized.values()):
        unlimited = run(arts, [dict(p, on_limit='block') for p in res['policies']])
        full_digests, full_tags = _gone(unlimited)
        assert digests <= full_digests and tags <= full_tags
        deferred_digests, deferred_tags = set(), set()
        for entry in res['deferred']:
            if entry['operation'] == 'untag':
                deferred_tags.add((entry['repository'], entry['digest'], entry['tag']))
            else:
                part_digests, part_tags = _gone({'delete_digests': [entry], 'remove_tags': []})
                deferred_digests |= part_digests
                deferred_tags |= part_tags
        assert digests | deferred_digests == full_digests and not digests & deferred_digests
        assert tags | deferred_tags == full_tags and not tags & deferred_tags
        assert not [r for r in res['block_reasons'] if any(
            '"%s": ' % p['name'] in r and 'max_deletions' in r for p in normalized.values() if p['on_limit'] == 'truncate')]
    # deterministic whatever the order of the snapshot
    shuffled = copy.deepcopy(arts)
    rng.shuffle(shuffled)
    assert json.dumps(run(shuffled, policies)) == json.dumps(res)
    json.dumps(res)
