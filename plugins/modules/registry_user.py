#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_user
short_description: Manage the users (robot accounts) of a registry
version_added: 0.1.0
description:
  - With O(state=present), creates each user in O(name) or brings its permission (O(read_only)) and expiry
    (O(duration)) to what the task says. Options left out are left alone.
  - With O(state=absent), deletes the users; their sessions end.
  - The secret (password) of a user is shown by the provider once. It is returned in RV(users[].secret) only when
    the user is created or its secret is reset with O(refresh_secret), never in a diff, and it is marked
    no_log. Use C(no_log=true) on the task if the result is printed.
  - Several users are one module call; where the provider has a batch API it is used.
  - "An OCI Distribution registry (V(oci)) has no users API: this module fails with a clear message for it."
  - "Providers: V(gcore) (one batch call creates several users; PATCH always sends both permission and expiry),
    V(vultr) (the robot accounts Vultr generates and the registry's root user: robots can be read, changed with
    O(description), O(disabled), O(duration) and O(permissions), and deleted; Vultr's API cannot create a robot, so
    a robot that does not exist fails with that message; the root user can only be read, its password is masked.
    Robot names such as V(robot$builds+ci) are sent percent-encoded. For docker credentials use
    M(regops.registry.registry_credentials))."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the users belong to.
    type: str
    required: true
  name:
    description:
      - One user name or a list, as you wrote them (not the provider's prefixed login).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) creates or updates the users; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  read_only:
    description:
      - V(true) allows pull only; V(false) allows push and pull.
    type: bool
  duration:
    description:
      - On V(gcore), days until the user expires, counted from its creation; V(-1) never expires.
      - On V(vultr), the robot's C(duration) as Vultr takes it (V(-1) never expires).
    type: int
  description:
    description:
      - The robot account's description (V(vultr)).
    type: str
  disabled:
    description:
      - V(true) disables the robot account, V(false) enables it (V(vultr)).
    type: bool
  permissions:
    description:
      - The robot's access on the registry (V(vultr)), each entry C(action) (V(pull), V(push), ...), C(resource)
        (V(repository), ...) and C(effect) (V(allow) or V(deny), default V(allow)). Compared as a set; replaces the
        robot's access when it differs.
    type: list
    elements: dict
  secret:
    description:
      - The password to give a user when it is created. When not set the provider generates one. It is not
        compared or changed on an existing user (the provider never shows it again); use O(refresh_secret).
    type: str
  refresh_secret:
    description:
      - Generate a new secret for every existing user named. This changes something on every run.
    type: bool
    default: false
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change and sends no mutating request; no secret is returned.
  diff_mode:
    support: full
    details: Secrets are masked.
  platform:
    platforms: all
seealso:
  - module: regops.registry.registry_user_info
"""

EXAMPLES = r"""
# Connection from the environment: GCORE_API_KEY, GCORE_CLOUD_PROJECT_ID, GCORE_CLOUD_REGION_ID
- name: A pull-only user for the cluster, valid for 90 days
  regops.registry.registry_user:
    provider: gcore
    registry: builds
    name: cluster
    read_only: true
    duration: 90
  register: cluster_user
  no_log: true

- name: Keep its secret (shown once, only in the run that created it)
  ansible.builtin.copy:
    content: "{{ cluster_user.users[0].secret }}"
    dest: /etc/registry/cluster.secret
    mode: "0600"
  when: cluster_user.users[0].secret is defined
  no_log: true

- name: Three CI users with push rights in one call (one batch request), never expiring
  regops.registry.registry_user:
    provider: gcore
    registry: builds
    name: [ci1, ci2, ci3]
    read_only: false
    duration: -1
  no_log: true

- name: Make them pull-only (a group action; their expiry is left as it is)
  regops.registry.registry_user:
    provider: gcore
    registry: builds
    name: [ci1, ci2, ci3]
    read_only: true

- name: Disable a Vultr robot account and make it pull only (robot names are written as Vultr shows them)
  regops.registry.registry_user:
    provider: vultr
    registry: builds
    name: robot$builds+ci
    description: CI pulls only from now on
    disabled: true
    permissions:
      - {action: pull, resource: repository}

- name: Reset a password
  regops.registry.registry_user:
    provider: gcore
    registry: builds
    name: ci1
    refresh_secret: true
  register: reset
  no_log: true

- name: Remove users
  regops.registry.registry_user:
    provider: gcore
    registry: builds
    name: [ci2, ci3]
    state: absent
"""

RETURN = r"""
users:
  description:
    - The users named, after the run; for O(state=absent), the users deleted, as they were before.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The user name as you wrote it.
      type: str
    id:
      description: Provider ID.
      type: str
    login:
      description: The full name to C(docker login) with (some providers prefix it).
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
    secret:
      description: The user's secret; only when the user was created or its secret refreshed in this run.
      type: str
      returned: when created or refreshed
    provider_data:
      description: Provider-specific extras.
      type: dict
actions:
  description: What happened to each user.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(registry/name).
      type: str
    action:
      description: One of V(created), V(updated), V(deleted), V(unchanged), V(absent), V(failed).
      type: str
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            name=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            read_only=dict(type="bool"),
            duration=dict(type="int"),
            secret=dict(type="str", no_log=True),
            refresh_secret=dict(type="bool", default=False, no_log=False),
            description=dict(type="str"),
            disabled=dict(type="bool"),
            permissions=dict(type="list", elements="dict"),
        ),
    )
    params = runner.params
    items = [{"registry": params["registry"], "name": name} for name in dict.fromkeys(params["name"])]
    desired = {"read_only": params["read_only"], "duration": params["duration"], "secret": params["secret"],
               "refresh_secret": params["refresh_secret"] or None, "description": params["description"],
               "disabled": params["disabled"], "permissions": params["permissions"]}
    options = [k for k, v in desired.items() if v is not None]
    runner.open("registry_user", state=params["state"], options=options, validate=lambda p: p.validate("registry_user", items, desired))
    runner.ensure("registry_user", items, params["state"], desired)


if __name__ == "__main__":
    main()
