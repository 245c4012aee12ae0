# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: image_digests
short_description: The image digests that Kubernetes pods run, for a retention policy's keep.digests
version_added: 0.5.0
author: regops.registry contributors (@regops)
description:
  - Collects the digest of every image that the given pods run, from the C(imageID) the kubelet reports in each
    container status (C(status.containerStatuses), C(status.initContainerStatuses) and
    C(status.ephemeralContainerStatuses)), as a sorted list without duplicates.
  - "Both forms the container runtimes report are read: C(docker-pullable://registry.example.com/team/app@sha256:...)
    and C(registry.example.com/team/app@sha256:...); each becomes C(sha256:...). An C(imageID) without a repository
    digest (C(sha256:...) alone, C(docker://sha256:...): an image ID, the digest of the image config, not of a
    manifest) and an empty one (a container still pulling its image) are left out."
  - Feed the list to a policy's C(keep.digests) (see P(regops.registry.retention_plan#filter)), so that the
    C(regops.registry.cleanup) role keeps every image a pod runs (reason C(in_use)), in any repository.
options:
  _input:
    description:
      - The pods, as the registered result of C(kubernetes.core.k8s_info) with C(kind=Pod) (its C(resources) are read),
        a list of pods, or one pod.
    type: raw
    required: true
seealso:
  - plugin: regops.registry.retention_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: List the pods of every namespace
  kubernetes.core.k8s_info:
    kind: Pod
  register: in_use_pods

- name: Keep the images that run
  ansible.builtin.set_fact:
    in_use_policy:
      name: in-use
      keep:
        digests: "{{ in_use_pods | regops.registry.image_digests }}"
"""

RETURN = r"""
_value:
  description: The digests, sorted, each once.
  type: list
  elements: str
  sample: ["sha256:3f1e2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"]
"""

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

STATUS_KEYS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
# "<repository>@<algorithm>:<hex>" at the end of an imageID, after any "<scheme>://" prefix
_DIGEST_RE = re.compile(r"@(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$")


def _pods(data):
    if isinstance(data, dict) and "resources" in data:
        data = data["resources"]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, (list, tuple)):
        raise AnsibleFilterError("image_digests: the input must be a kubernetes.core.k8s_info result, a list of pods or "
                                 "a pod, got %s" % type(data).__name__)
    return data


def image_digests(data):
    digests = set()
    for pod in _pods(data or []):
        if not isinstance(pod, dict):
            raise AnsibleFilterError("image_digests: a pod must be a dict, got %s" % type(pod).__name__)
        status = pod.get("status") or {}
        for key in STATUS_KEYS:
            for container in status.get(key) or []:
                match = _DIGEST_RE.search(to_text((container or {}).get("imageID") or "").strip())
                if match:
                    digests.add(match.group(1))
    return sorted(digests)


class FilterModule(object):
    def filters(self):
        return {"image_digests": image_digests}
