#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tag_info
short_description: List the tags of repositories, with the digest each points at
version_added: 0.1.0
description:
  - Lists the tags of one, several or all repositories, each with the digest it resolves to.
  - Tags are returned sorted by repository and name; the registry's own order is not relied on.
  - "Providers: V(oci), V(gcore) (with push and pull times), V(vultr) (with push and pull times), V(gitlab) (with GitLab's
    creation time and size), V(ncloud) (with push and last-pull times, size, creation time and platforms)."
  - "On V(gitlab), O(registry) is a project (C(acme/app) or its numeric id) or a group (C(group:acme)), and repositories are
    full image paths. Tags are listed with keyset pagination where the instance offers it (GitLab.com), else page by page;
    each tag's digest needs one more request (C(GET .../tags/:tag_name)), run concurrently (with O(name), only those are
    read). C(pushed_at) is GitLab's C(created_at) for the tag, which GitLab documents as the manifest's creation time;
    C(pulled_at) is V(null) (GitLab does not record pulls)."
  - "On V(github), O(registry) is the package owner (an organization login, or V(user:<login>)) and repositories are its
    container packages (every one when O(repository) is not set). Tags come from the packages' versions
    (C(metadata.container.tags)): each tag's digest is the name of the version that carries it. GitHub records no time per
    tag, so C(pushed_at) and C(pulled_at) are V(null); C(provider_data) has the version's id and times."
  - "On V(ncloud), O(registry) is the NCR registry and repositories are its images (every image when O(repository) is not
    set). Tags come from NCR's tag list (C(GET /repositories/{registry}/{image}/tags), every page) with their digest;
    C(pushed_at) is the newest C(updated) (else C(created)) of the tag's C(images[]), C(pulled_at) the newest
    C(latest_pulled) (V(null) when never pulled), and C(provider_data) has C(size_bytes) (NCR's C(full_size)), C(created_at)
    (the oldest C(images[].created)), C(updated_at), C(platforms) (C(os/architecture[/variant]) of C(images[])),
    C(media_type), C(id), C(image_id) and C(creator). NCR's times are numbers, read as milliseconds."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(github), the package owner, an organization login (V(acme)) or V(user:<login>).
      - On V(ncloud), the NCR registry.
    type: str
  repository:
    description:
      - Repositories to list. When not set, every repository of the registry (the catalog; on V(gitlab), of the project or group).
    type: list
    elements: str
  name:
    description:
      - Only these tags. A tag that does not exist is simply not listed.
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
  - module: regops.registry.tag
"""

EXAMPLES = r"""
- name: Where does production point?
  regops.registry.tag_info:
    provider: oci
    api_url: https://registry.example.com
    repository: team/app
    name: production
  register: prod

- name: Show it
  ansible.builtin.debug:
    msg: "{{ prod.tags[0].digest }}"

- name: Tags of a Gcore repository, with push and pull times
  regops.registry.tag_info:
    provider: gcore
    registry: builds
    repository: team/app
  register: gcore_tags

- name: Where do a GitLab project's main and latest point?
  regops.registry.tag_info:
    provider: gitlab
    registry: acme/app
    repository: acme/app
    name: [main, latest]
  register: gitlab_tags

- name: Every tag of a user's ghcr.io package, with the digest (the version) it is on
  regops.registry.tag_info:
    provider: github
    registry: user:octocat
    repository: app
  register: github_tags

- name: The tags of a Naver Cloud image, with last-pull times and platforms
  regops.registry.tag_info:
    provider: ncloud            # access_key and secret_key from NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY
    region: kr
    registry: builds
    repository: [team/app]
  register: ncr_tags
"""

RETURN = r"""
tags:
  description: The tags found, sorted by repository and name.
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository of the tag.
      type: str
      sample: team/app
    name:
      description: The tag.
      type: str
      sample: production
    digest:
      description: The digest the tag points at.
      type: str
      sample: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    pushed_at:
      description: When the tag was pushed, where the provider records it (ISO 8601 UTC); V(null) on V(oci).
      type: str
    pulled_at:
      description: When the tag was last pulled, where the provider records it (ISO 8601 UTC); V(null) on V(oci).
      type: str
    provider_data:
      description:
        - Provider-specific extras, where the provider has some.
        - On V(gitlab) C(created_at) (GitLab's C(created_at), also in C(pushed_at)), C(total_size) (bytes), C(revision),
          C(location), C(project_id) and C(repository_id).
        - On V(github) C(version_id), C(version_created_at) and C(version_updated_at) of the version that carries the tag.
        - On V(ncloud) C(size_bytes) (NCR's C(full_size)), C(created_at), C(updated_at), C(platforms), C(media_type), C(id),
          C(image_id) and C(creator).
      type: dict
      returned: on V(gitlab), V(github) and V(ncloud)
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str"),
            repository=dict(type="list", elements="str"),
            name=dict(type="list", elements="str"),
        ),
    )
    params = runner.params
    items = [{"registry": params["registry"], "repository": r, "name": n} for r in params["repository"] or [] for n in params["name"] or []]
    runner.open("tag", info=True, validate=lambda p: p.validate("tag", items) or p.validate("repository", [
        {"name": r, "registry": params["registry"]} for r in params["repository"] or []]))
    runner.info("tag", {"registry": params["registry"], "repository": params["repository"], "name": params["name"]}, "tags")


if __name__ == "__main__":
    main()
