# -*- coding: utf-8 -*-
# Copyright: (c) 2025, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.filter import retention_plan as plan_filter
from ansible_collections.regops.registry.plugins.filter import retention_refs as refs_filter
from ansible_collections.regops.registry.plugins.module_utils.retention import plan

NOW = '2024-06-01T00:00:00Z'
OLD = '2024-01-01T00:00:00Z'
NEW = '2024-05-31T23:00:00Z'
INDEX = 'application/vnd.oci.image.index.v1+json'


def _artifacts():
    return [
        {'repository': 'team/app', 'digest': 'sha256:idx', 'media_type': INDEX, 'size_bytes': 10, 'tags': ['v1'],
         'pushed_at': OLD, 'children': [{'digest': 'sha256:c1', 'platform': 'linux/amd64'}]},
        {'repository': 'team/app', 'digest': 'sha256:c1', 'size_bytes': 100, 'tags': [], 'pushed_at': OLD},
        {'repository': 'team/app', 'digest': 'sha256:shared', 'size_bytes': 5, 'tags': ['latest', 'v2'], 'pushed_at': OLD},
        {'repository': 'team/app', 'digest': 'sha256:img', 'size_bytes': 7, 'tags': ['v0', 'v0b'], 'pushed_at': OLD},
        {'repository': 'team/app', 'digest': 'sha256:new', 'size_bytes': 7, 'tags': ['v3'], 'pushed_at': NEW},
        {'repository': 'team/app', 'digest': 'sha256:loose', 'size_bytes': 3, 'tags': [], 'pushed_at': OLD},
    ]


POLICY = {'name': 'cleanup', 'tag_state': 'any', 'older_than': '30d'}


def test_filter_module_exposes_filters():
    assert plan_filter.FilterModule().filters() == {'retention_plan': plan_filter.retention_plan}
    assert refs_filter.FilterModule().filters() == {'retention_refs': refs_filter.retention_refs}


def test_retention_plan_accepts_registered_result_and_list():
    registered = {'changed': False, 'artifacts': _artifacts(), 'repositories': ['team/app']}
    from_result = plan_filter.retention_plan(registered, POLICY, now=NOW)
    from_list = plan_filter.retention_plan(_artifacts(), [POLICY], now=NOW)
    assert from_result == from_list == plan(_artifacts(), POLICY, now=NOW)
    assert from_result['now'] == NOW


def test_retention_plan_errors_become_filter_errors():
    with pytest.raises(AnsibleFilterError, match='invalid policy: policy "cleanup": key "older_than"'):
        plan_filter.retention_plan(_artifacts(), dict(POLICY, older_than='a month'), now=NOW)
    with pytest.raises(AnsibleFilterError, match='unknown key'):
        plan_filter.retention_plan(_artifacts(), {'keep_last': 3}, now=NOW)
    with pytest.raises(AnsibleFilterError, match='snapshot must be'):
        plan_filter.retention_plan('nope', POLICY, now=NOW)
    with pytest.raises(AnsibleFilterError, match='policies argument is required'):
        plan_filter.retention_plan(_artifacts())
    with pytest.raises(AnsibleFilterError, match='invalid "now"'):
        plan_filter.retention_plan(_artifacts(), POLICY, now='tomorrow')


def test_retention_refs_from_plan():
    result = plan_filter.retention_plan(_artifacts(), POLICY, now=NOW)
    refs = refs_filter.retention_refs(result)
    assert refs == {
        'tags': ['team/app:v2'],
        'tag_digests': {'team/app:v2': 'sha256:shared'},
        # index first, then other manifests, then children of deleted indexes
        'digests': ['team/app@sha256:idx', 'team/app@sha256:img', 'team/app@sha256:loose', 'team/app@sha256:c1'],
        'expected_tags': {
            'team/app@sha256:idx': ['v1'],
            'team/app@sha256:img': ['v0', 'v0b'],
            'team/app@sha256:loose': [],
            'team/app@sha256:c1': [],
        },
    }


def test_retention_refs_empty_plan_and_bad_input():
    result = plan_filter.retention_plan(_artifacts(), {'tags': {'include': ['none']}}, now=NOW)
    assert refs_filter.retention_refs(result) == {'tags': [], 'tag_digests': {}, 'digests': [], 'expected_tags': {}}
    for bad in (None, [], {'remove_tags': []}, {'remove_tags': [{}], 'delete_digests': []}):
        with pytest.raises(AnsibleFilterError):
            refs_filter.retention_refs(bad)


def test_retention_refs_index_media_type_without_children_first():
    fake = {'remove_tags': [], 'delete_digests': [
        {'repository': 'r', 'digest': 'sha256:a', 'tags': [], 'children': [], 'media_type': 'x'},
        {'repository': 'r', 'digest': 'sha256:b', 'tags': ['t'], 'children': [], 'media_type': INDEX},
    ]}
    assert refs_filter.retention_refs(fake)['digests'] == ['r@sha256:b', 'r@sha256:a']
