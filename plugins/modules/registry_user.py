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
    V(gitlab) (deploy tokens, see below),
    V(vultr) (the robot accounts Vultr generates and the registry's root user: robots can be read, changed with
    O(description), O(disabled), O(duration) and O(permissions), and deleted; Vultr's API cannot create a robot, so
    a robot that does not exist fails with that message; the root user can only be read, its password is masked.
    Robot names such as V(robot$builds+ci) are sent percent-encoded. For docker credentials use
    M(regops.registry.registry_credentials))."
  - "On V(gitlab), the users are the deploy tokens of a project (O(registry) is its full path, V(acme/app), or its numeric
    id) or of a group (O(registry=group:acme)); O(name) is the token's name. A token is identified by its name among the
    active tokens (not revoked, not expired): two active tokens with the same name make O(state=present) fail, naming
    their ids, and O(state=absent) revokes all of them. O(scopes) (or O(read_only)), O(expires_at) and O(username) are
    what a new token is created with. GitLab cannot change a deploy token: when an existing token differs from the task
    in any of them, the task fails, naming the differences, unless O(recreate=true), which revokes the token and creates
    it again with a new value (so does O(refresh_secret=true), on every run). RV(users[].login) is the token's username,
    the user name of C(docker login); RV(users[].secret) is the token. A group's deploy tokens are created and revoked
    by its Owners only (a Maintainer can read them)."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the users belong to.
      - On V(gitlab), a project's full path (V(acme/app)) or numeric id, or V(group:) and a group's full path
        (V(group:acme)) for the group's deploy tokens.
    type: str
    required: true
  name:
    description:
      - One user name or a list, as you wrote them (not the provider's prefixed login).
      - On V(gitlab), deploy token names.
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
      - On V(gitlab), when O(scopes) is not given, V(true) means the scopes V(read_registry) and V(false) the scopes
        V(read_registry) and V(write_registry); a token is read-only when it has no V(write_registry). A new token
        with neither O(scopes) nor O(read_only) is pull-only (V(read_registry)). With O(scopes), O(read_only) may be
        left out; when given, it must agree with O(scopes).
    type: bool
  scopes:
    description:
      - The scopes of the deploy tokens (V(gitlab)), compared as a set. A group's tokens take the first five (not the
        virtual registry scopes). Checked before any request.
      - V(read_registry) pulls images with C(docker login), V(write_registry) pushes them; the others are for the Git
        repository, the package registry and the container virtual registry.
    type: list
    elements: str
    choices: [read_repository, read_registry, write_registry, read_package_registry, write_package_registry, read_virtual_registry,
              write_virtual_registry]
    version_added: 0.2.0
  expires_at:
    description:
      - When the deploy tokens expire (V(gitlab)), an ISO 8601 date (midnight UTC) or date and time (without a zone, UTC),
        for example V(2027-01-31) or V(2027-01-31T18:00:00+02:00); it is compared and returned in UTC. It must be in the
        future. V(never) means no expiry.
      - Left out, a new token never expires and an existing token's expiry is left as it is.
    type: str
    version_added: 0.2.0
  username:
    description:
      - The user name a new deploy token logs in with (V(gitlab)); letters, digits, V(_), V(-), V(+) and V(.).
        Left out, GitLab names it C(gitlab+deploy-token-<id>).
    type: str
    version_added: 0.2.0
  recreate:
    description:
      - On V(gitlab), a deploy token that differs from the task (O(scopes), O(read_only), O(expires_at), O(username)) is
        revoked and created again with what the task says, and the new token is returned in RV(users[].secret). The old
        token stops working. A recreated token keeps its username unless the task gives another, or it was GitLab's
        generated one; O(scopes) and O(expires_at) not in the task are kept too.
      - With V(false), such a token fails the task, naming the differences, before anything is changed. A token that is
        as the task says is never recreated (use O(refresh_secret) for that).
    type: bool
    default: false
    version_added: 0.2.0
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
      - On V(gitlab), each existing deploy token named is revoked and created again (GitLab has no rotation), with the
        task's values where it differs (as O(recreate)).
    type: bool
    default: false
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change and sends no mutating request; no secret is returned. A deploy token that would be
      recreated is shown as an update with the new values and no id.
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

# GitLab: api_token from GITLAB_TOKEN (a Maintainer of the project; a group's Owner for group tokens)
- name: A pull-only deploy token for the cluster, valid until the end of January
  regops.registry.registry_user:
    provider: gitlab
    registry: acme/app
    name: cluster-pull
    read_only: true
    expires_at: "2027-01-31"
    username: cluster
  register: pull_token
  no_log: true

- name: Keep the token (returned only by the run that created it)
  ansible.builtin.copy:
    content: "{{ pull_token.users[0].login }}:{{ pull_token.users[0].secret }}"
    dest: /etc/registry/acme-app.token
    mode: "0600"
  when: pull_token.users[0].secret is defined
  no_log: true

- name: Give a group's CI token push rights (a deploy token cannot change; recreate revokes it and makes a new one)
  regops.registry.registry_user:
    provider: gitlab
    registry: group:acme
    name: ci
    scopes: [read_registry, write_registry, read_package_registry]
    recreate: true
  register: ci_token
  no_log: true

- name: Revoke deploy tokens
  regops.registry.registry_user:
    provider: gitlab
    registry: acme/app
    name: [old-ci, cluster-pull]
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
      description:
        - Provider-specific extras.
        - On V(gitlab), C(scopes), C(revoked) and C(expired); C(duplicate_ids) lists the ids of the active tokens that
          share the name, when there are several.
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

# GitLab's deploy token scopes (a group's tokens take the first five; the provider checks that).
DEPLOY_TOKEN_SCOPES = ("read_repository", "read_registry", "write_registry", "read_package_registry", "write_package_registry",
                       "read_virtual_registry", "write_virtual_registry")


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
            scopes=dict(type="list", elements="str", choices=list(DEPLOY_TOKEN_SCOPES)),
            expires_at=dict(type="str"),
            username=dict(type="str"),
            recreate=dict(type="bool", default=False),
        ),
    )
    params = runner.params
    items = [{"registry": params["registry"], "name": name} for name in dict.fromkeys(params["name"])]
    desired = {"read_only": params["read_only"], "duration": params["duration"], "secret": params["secret"],
               "refresh_secret": params["refresh_secret"] or None, "description": params["description"],
               "disabled": params["disabled"], "permissions": params["permissions"], "scopes": params["scopes"],
               "expires_at": params["expires_at"], "username": params["username"], "recreate": params["recreate"] or None}
    options = [k for k, v in desired.items() if v is not None]
    runner.open("registry_user", state=params["state"], options=options, validate=lambda p: p.validate("registry_user", items, desired))
    runner.ensure("registry_user", items, params["state"], desired)


if __name__ == "__main__":
    main()
