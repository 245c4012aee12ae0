#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: repository_info
short_description: List repositories
version_added: 0.1.0
description:
  - Lists the repositories of a registry, or only the ones named.
  - "On V(oci) this is the registry's catalog (C(/v2/_catalog)), followed across every page; counts and sizes are
    V(null) because the API does not report them."
  - "Providers: V(oci), V(gcore) (with artifact and pull counts), V(vultr) (with artifact and pull counts and the
    description), V(gitlab) (a project's or a group's repositories, with their status), V(ncloud) (with pull count and
    descriptions)."
  - "On V(gitlab), O(registry) is a project (C(acme/app) or its numeric id) or a group (C(group:acme), subgroups included),
    and names are full image paths (V(acme/app), V(acme/app/worker)); a name outside the project or group fails. GitLab counts
    tags, not artifacts: C(artifact_count) is V(null) and a project's C(provider_data.tags_count) has the count (a group
    listing cannot give it). C(size_bytes) (GitLab's deduplicated size, on GitLab.com) costs one request per repository and
    is read only for the repositories named in O(name); V(null) otherwise, and on instances that do not report it."
  - "On V(github), O(registry) is the package owner (an organization login, or V(user:<login>) for the packages of the
    token's user) and the repositories are its container packages on ghcr.io, with C(artifact_count) (GitHub's count of
    active versions), the times, and the visibility and linked GitHub repository in C(provider_data). GitHub lists at most
    10,000 packages of an owner; the module stops there and warns. With O(name), each package is read by name instead. A
    deleted package is not listed."
  - "On V(ncloud), O(registry) is the NCR registry and the repositories are its images (C(GET /repositories/{registry}),
    every page), with C(pull_count), C(description) and C(updated_at) (NCR's C(last_updated)). With O(name), each image is
    read from its detail instead, which alone has C(full_description) (in C(provider_data))."
author:
  - regops.registry contributors (@regops)
options:
  name:
    description:
      - Only these repositories. A name that does not exist is simply not listed.
      - On V(gitlab), also reads each one's size.
    type: list
    elements: str
  registry:
    description:
      - The registry to list, for providers that host several registries. Not used by V(oci).
      - On V(gitlab), a project (full path or numeric id) or C(group:<full path>).
      - On V(github), the package owner, an organization login (V(acme)) or V(user:<login>).
      - On V(ncloud), the NCR registry.
    type: str
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - regops.registry.connection.info_module
  - ansible.builtin.action_common_attributes
attributes:
  platform:
    platforms: all
seealso:
  - module: regops.registry.repository
"""

EXAMPLES = r"""
- name: Every repository of a registry
  regops.registry.repository_info:
    provider: oci
    api_url: https://registry.example.com
  register: repos

- name: Their names
  ansible.builtin.debug:
    msg: "{{ repos.repositories | map(attribute='name') }}"

- name: Repositories of a Gcore registry, with artifact and pull counts
  regops.registry.repository_info:
    provider: gcore
    registry: builds
  register: gcore_repos

- name: Every repository of a GitLab group and its subgroups
  regops.registry.repository_info:
    provider: gitlab
    registry: group:acme
  register: group_repos

- name: Two images of a GitLab project, with their sizes
  regops.registry.repository_info:
    provider: gitlab
    registry: acme/app
    name: [acme/app, acme/app/worker]
  register: sized

- name: The container packages of a GitHub organization (ghcr.io/acme/...)
  regops.registry.repository_info:
    provider: github            # api_token from GITHUB_TOKEN: a classic PAT with read:packages
    registry: acme
  register: packages

- name: The images of a Naver Cloud registry (NCR calls repositories images)
  regops.registry.repository_info:
    provider: ncloud
    registry: builds
  register: images
"""

RETURN = r"""
repositories:
  description: The repositories, sorted by name.
  returned: always
  type: list
  elements: dict
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
    provider_data:
      description:
        - Provider-specific extras.
        - On V(gitlab) C(project_id), C(image_name) (GitLab's C(name), V("") for the project's own image), C(status) (V(null),
          V(delete_scheduled), V(delete_ongoing), V(delete_failed)), C(cleanup_policy_started_at) and C(tags_count).
        - On V(github) C(visibility), C(html_url), C(url), C(package_type), C(repository) (the linked GitHub repository,
          C(owner/name)) and C(owner).
        - On V(ncloud) NCR's C(namespace), C(is_private), C(status), C(user) and the image's other fields as NCR sends them;
          C(full_description) (V(null) unless read from the detail, with O(name)) and C(detail).
      type: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            name=dict(type="list", elements="str"),
            registry=dict(type="str"),
        ),
    )
    params = runner.params
    names = list(params["name"] or [])
    runner.open("repository", info=True, validate=lambda p: p.validate("repository", [{"name": n, "registry": params["registry"]} for n in names]))
    runner.info("repository", {"name": names, "registry": params["registry"]}, "repositories")


if __name__ == "__main__":
    main()
