#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_credentials
short_description: Get docker credentials for a registry, as a docker config or a Kubernetes secret
version_added: 0.1.0
description:
  - Asks the provider for new credentials to C(docker login) to the registry O(registry), pull-only or read/write,
    expiring after O(expiry_seconds), and returns them as a docker C(config.json) (RV(docker_config), with
    RV(username) and RV(password)) or as a Kubernetes C(kubernetes.io/dockerconfigjson) Secret manifest
    (RV(kubernetes_secret)).
  - "Every run mints new credentials, so it always reports a change. The credentials are returned once, in this
    result only, and never in a diff, a warning or an error message. B(Set C(no_log: true) on the task.)"
  - "Providers: V(vultr) (C(OPTIONS /registry/{id}/docker-credentials), with the query parameters sent once)."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry.
    type: str
    required: true
  expiry_seconds:
    description:
      - Seconds until the credentials expire; V(0) never expires (avoid it).
    type: int
    default: 3600
  read_write:
    description:
      - V(true) allows push and pull; V(false) pull only.
    type: bool
    default: false
  format:
    description:
      - V(docker_config) returns RV(docker_config), RV(username) and RV(password); V(kubernetes_secret) returns the
        provider's Secret manifest in RV(kubernetes_secret).
    type: str
    choices: [docker_config, kubernetes_secret]
    default: docker_config
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports that credentials would be made and sends no request that makes them; nothing secret is returned.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - module: regops.registry.registry_user
"""

EXAMPLES = r"""
- name: Pull-only credentials for an hour
  regops.registry.registry_credentials:
    provider: vultr
    registry: builds
  register: pull
  no_log: true

- name: Log in with them
  ansible.builtin.copy:
    content: "{{ pull.docker_config | to_json }}"
    dest: "{{ ansible_env.HOME }}/.docker/config.json"
    mode: "0600"
  no_log: true

- name: A pull secret for a cluster, valid for a day
  regops.registry.registry_credentials:
    provider: vultr
    registry: builds
    expiry_seconds: 86400
    format: kubernetes_secret
  register: pull_secret
  no_log: true

- name: Apply it
  kubernetes.core.k8s:
    namespace: apps
    definition: "{{ pull_secret.kubernetes_secret | from_yaml }}"
  no_log: true
"""

RETURN = r"""
registry_host:
  description: The host the credentials are for.
  returned: success
  type: str
  sample: sjc.vultrcr.com
docker_config:
  description: A docker C(config.json) with the credentials (C(auths.<host>.auth)), for O(format=docker_config); V(null) in check mode.
  returned: success
  type: dict
username:
  description: The user name to C(docker login) with, for O(format=docker_config); V(null) in check mode.
  returned: success
  type: str
password:
  description: Its password, for O(format=docker_config); V(null) in check mode.
  returned: success
  type: str
kubernetes_secret:
  description: The Secret manifest (YAML text), for O(format=kubernetes_secret); V(null) in check mode.
  returned: success
  type: str
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            expiry_seconds=dict(type="int", default=3600),
            read_write=dict(type="bool", default=False),
            format=dict(type="str", default="docker_config", choices=["docker_config", "kubernetes_secret"]),
        ),
    )
    params = runner.params
    item = {"registry": params["registry"]}
    desired = {"expiry_seconds": params["expiry_seconds"]}
    provider = runner.open("registry_credentials", state="present", validate=lambda p: p.validate("registry_credentials", [item], desired))
    runner.act(lambda check_mode: provider.registry_credentials(params["registry"], params["expiry_seconds"], params["read_write"],
                                                                params["format"], check_mode=check_mode))


if __name__ == "__main__":
    main()
