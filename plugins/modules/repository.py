#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: repository
short_description: Describe a repository, or delete it and everything in it
version_added: 0.1.0
description:
  - With O(state=absent), deletes the repository O(name) with every artifact and tag in it. This cannot be undone.
  - "On V(oci) there is no repository delete in the API: every manifest reachable from a tag (indexes first, then
    their children) is deleted by digest, and the result lists them. The registry may keep listing the empty
    name in its catalog until its garbage collection runs; a repository with no tags counts as absent."
  - With O(state=present), sets the repository's O(description) where the provider keeps one. Repositories are
    created by pushing an image, so a repository that does not exist fails with that message.
  - "Providers: V(oci), V(gcore) (both O(state=absent)), V(vultr) (O(state=present) with O(description), and
    O(state=absent))."
author:
  - regops.registry contributors (@regops)
options:
  name:
    description:
      - The repository, for example V(team/app).
    type: str
    required: true
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
    type: str
  state:
    description:
      - V(present) sets O(description); V(absent) deletes the repository.
    type: str
    choices: [present, absent]
    default: present
  description:
    description:
      - The repository's description (V(vultr)). Left out, the description is left alone; V("") clears it.
    type: str
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Lists what would be deleted and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.repository_info
"""

EXAMPLES = r"""
- name: Delete a repository of preview builds
  regops.registry.repository:
    provider: oci
    api_url: https://registry.example.com
    name: previews/app
    state: absent
  register: gone

- name: Delete a repository of a Gcore registry (names with / are fine)
  regops.registry.repository:
    provider: gcore
    registry: builds
    name: team/old-app
    state: absent

- name: Describe a Vultr repository
  regops.registry.repository:
    provider: vultr
    registry: builds
    name: team/app
    description: The API service, built from main

- name: What went with it
  ansible.builtin.debug:
    msg: "{{ gone.repository.manifests | map(attribute='digest') }}"
"""

RETURN = r"""
repository:
  description:
    - The repository. For O(state=absent), as it was before it was deleted; V(null) when it was already absent.
  returned: always
  type: dict
  contains:
    name:
      description: Repository name.
      type: str
      sample: team/app
    id:
      description: Provider ID; V(null) on V(oci).
      type: str
    location:
      description: Where to pull from (C(host/name)).
      type: str
      sample: registry.example.com/team/app
    artifact_count:
      description: Number of artifacts where the provider counts them; V(null) on V(oci).
      type: int
    pull_count:
      description: Number of pulls where the provider counts them; V(null) on V(oci).
      type: int
    size_bytes:
      description: Storage used where the provider reports it; V(null) on V(oci).
      type: int
    description:
      description: Description where the provider keeps one.
      type: str
    created_at:
      description: Creation time (ISO 8601 UTC) where the provider records it.
      type: str
    updated_at:
      description: Last update time where the provider records it.
      type: str
    manifests:
      description:
        - On V(oci) with O(state=absent), the manifests deleted with the repository (C(digest), C(media_type),
          C(tags), C(children)), indexes first.
      type: list
      elements: dict
      returned: when O(state=absent) on V(oci)
    provider_data:
      description: Provider-specific extras.
      type: dict
actions:
  description: What happened to the repository.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The repository name.
      type: str
    action:
      description: One of V(created), V(updated), V(deleted), V(unchanged), V(absent), V(failed).
      type: str
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            registry=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            description=dict(type="str"),
        ),
    )
    params = runner.params
    item = {"name": params["name"].strip("/")}
    if params["registry"]:
        item["registry"] = params["registry"]
    desired = {"description": params["description"]}
    options = [k for k, v in desired.items() if v is not None]
    runner.open("repository", state=params["state"], options=options, validate=lambda p: p.validate("repository", [item], desired))
    runner.ensure("repository", [item], params["state"], desired)


if __name__ == "__main__":
    main()
