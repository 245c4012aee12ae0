# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_digests: the digests Kubernetes pods run, from a kubernetes.core.k8s_info result (the in-use recipe)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.filter import image_digests as digests_filter

image_digests = digests_filter.image_digests


def sha(char):
    return 'sha256:' + char * 64


def pod(name, namespace='default', containers=(), init=(), ephemeral=None, phase='Running'):
    status = {'phase': phase, 'containerStatuses': [{'name': 'c%d' % n, 'imageID': image_id, 'image': 'x'}
                                                    for n, image_id in enumerate(containers)]}
    if init:
        status['initContainerStatuses'] = [{'name': 'init%d' % n, 'imageID': image_id} for n, image_id in enumerate(init)]
    if ephemeral is not None:
        status['ephemeralContainerStatuses'] = [{'name': 'debug', 'imageID': ephemeral}]
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': namespace}, 'status': status}


# What kubernetes.core.k8s_info registers for kind=Pod across namespaces: docker-shim and containerd forms,
# init and ephemeral containers, a container still pulling (empty imageID), an image ID without a repository digest.
K8S_INFO = {
    'changed': False, 'api_found': True, 'failed': False,
    'resources': [
        pod('api-1', 'shop', containers=['docker-pullable://registry.example.com/shop/api@' + sha('a')],
            init=['registry.example.com/shop/migrate@' + sha('b')]),
        pod('api-2', 'shop', containers=['registry.example.com/shop/api@' + sha('a'), 'docker.io/library/nginx@' + sha('c')]),
        pod('web-1', 'web', containers=['', 'sha256:' + 'd' * 64, 'docker://sha256:' + 'e' * 64], phase='Pending'),
        pod('debug', 'web', containers=[], ephemeral='busybox@' + sha('f')),
        {'metadata': {'name': 'no-status'}},
        pod('done', 'jobs', containers=['registry.example.com/jobs/report@' + sha('1')], phase='Succeeded'),
    ],
}


def test_filter_module_exposes_image_digests():
    assert digests_filter.FilterModule().filters() == {'image_digests': image_digests}


def test_k8s_info_result_gives_every_repository_digest_once_sorted():
    assert image_digests(K8S_INFO) == [sha('1'), sha('a'), sha('b'), sha('c'), sha('f')]


def test_a_list_of_pods_or_one_pod():
    pods = K8S_INFO['resources']
    assert image_digests(pods) == image_digests(K8S_INFO)
    assert image_digests(pods[0]) == [sha('a'), sha('b')]
    assert image_digests([]) == [] and image_digests(None) == [] and image_digests({'resources': []}) == []


def test_image_ids_without_a_valid_digest_are_left_out():
    pods = [pod('p', containers=['repo@sha256:abc', 'repo@sha256:' + 'A' * 64, 'repo@md5:' + 'a' * 32,
                                 ' repo@%s ' % sha('9'), 'repo@sha512:' + 'b' * 128])]
    assert image_digests(pods) == [sha('9'), 'sha512:' + 'b' * 128]


def test_the_digests_are_valid_keep_digests():
    from ansible_collections.regops.registry.plugins.filter.retention_policies import retention_policies
    policy = retention_policies({'name': 'in-use', 'keep': {'digests': image_digests(K8S_INFO)}})[0]
    assert policy['keep']['digests'] == image_digests(K8S_INFO)


@pytest.mark.parametrize('data, fragment', [
    ('pods', 'the input must be a kubernetes.core.k8s_info result, a list of pods or a pod, got str'),
    (['pod'], 'a pod must be a dict, got str'),
])
def test_bad_input(data, fragment):
    with pytest.raises(AnsibleFilterError) as exc:
        image_digests(data)
    assert str(exc.value) == 'image_digests: ' + fragment
