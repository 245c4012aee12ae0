#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_user_info
short_description: List the users (robot accounts) of a registry
version_added: 0.1.0
description:
  - Lists the users of a registry, or only the ones named. Secrets are never returned (providers show them once).
  - "An OCI Distribution registry (V(oci)) has no users API: this module fails with a clear message for it."
  - "Providers: V(gcore), V(vultr) (the root user, read-only, and the robot accounts; no secret is ever returned),
    V(gitlab) (the deploy tokens of a project or a group, active or not, never their token values; C(revoked) and
    C(expired) in RV(users[].provider_data))."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry whose users to list.
      - On V(gitlab), a project's full path (V(acme/app)) or numeric id, or V(group:) and a group's full path (V(group:acme)).
    type: str
    required: true
  name:
    description:
      - Only these users (the names as written, not the prefixed logins).
    type: list
    elements: str
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - regops.registry.connection.info_module
  - ansible.builtin.action_common_attributes
attributes:
  platform:
    platforms: all
seealso:
  - module: regops.registry.registry_user
"""

EXAMPLES = r"""
- name: Users that can push
  regops.registry.registry_user_info:
    provider: gcore
    registry: builds
  register: users

- name: Show them
  ansible.builtin.debug:
    msg: "{{ users.users | rejectattr('read_only') | map(attribute='login') }}"

- name: The deploy tokens of a GitLab group
  regops.registry.registry_user_info:
    provider: gitlab
    registry: group:acme
  register: tokens

- name: The ones still usable
  ansible.builtin.debug:
    msg: "{{ tokens.users | rejectattr('provider_data.revoked') | rejectattr('provider_data.expired') | map(attribute='name') }}"
"""

RETURN = r"""
users:
  description: The users, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The user name as written.
      type: str
    id:
      description: Provider ID.
      type: str
    login:
      description: The full name to C(docker login) with.
      type: str
    read_only:
      description: Pull only.
      type: bool
    duration:
      description: Lifetime in days; V(-1) for never.
      type: int
    expires_at:
      description: Expiry time (ISO 8601 UTC); V(null) for never.
      type: str
    created_at:
      description: Creation time (ISO 8601 UTC).
      type: str
    provider_data:
      description:
        - Provider-specific extras.
        - On V(gitlab), C(scopes), C(revoked) and C(expired).
      type: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            name=dict(type="list", elements="str"),
        ),
    )
    params = runner.params
    items = [{"registry": params["registry"], "name": n} for n in params["name"] or []]
    runner.open("registry_user", info=True, validate=lambda p: p.validate("registry_user", items))
    runner.info("registry_user", {"registry": params["registry"], "name": params["name"]}, "users")


if __name__ == "__main__":
    main()
