#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_info
short_description: List registries on providers that host them
version_added: 0.1.0
description:
  - Lists the registries of the account (and project/region where the provider has them), or one by name, with
    storage used and limit and the host to push to.
  - "An OCI Distribution registry (V(oci)) is its O(api_url): this module fails with a clear message for it."
  - "Providers: V(gcore), V(vultr) (with plan, region, public, docker host and replications; the root user's password
    is masked), V(gitlab) (O(name) is required: a project, with its registry settings and cleanup policy, or a group),
    V(ncloud) (with storage type, bucket and end points)."
  - "On V(gitlab), O(name) is a project (its full path V(acme/app) or numeric id; C(GET /projects/:id)) or a group written
    C(group:<full path>). GitLab has no list of registries (listing every project of an instance is not one), so a task
    without O(name) fails before any request. A project's C(url) is its C(container_registry_image_prefix); C(public) is
    V(true) for a public project whose registry is C(enabled). A group has no registry settings of its own: its entry has
    C(name) and C(url) (from one of its repositories; V(null) when it has none), the rest V(null). A project or group that
    does not exist (or that the token cannot see) is not listed."
  - "On V(ncloud), the registries of the account in the connection's O(region) (C(GET /repositories), every page), or the
    one named (NCR has no call for one registry: the list is filtered)."
author:
  - regops.registry contributors (@regops)
options:
  name:
    description:
      - Only the registry of this name.
      - On V(gitlab), required, see above.
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
  - module: regops.registry.registry
"""

EXAMPLES = r"""
- name: All registries of a Gcore project and region
  regops.registry.registry_info:
    provider: gcore
  register: registries

- name: A GitLab project's registry settings and cleanup policy
  regops.registry.registry_info:
    provider: gitlab
    name: acme/app
  register: gitlab_registry

- name: The Naver Cloud registries of the account in Singapore (keys from NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY)
  regops.registry.registry_info:
    provider: ncloud
    region: sgn
  register: ncr_registries
"""

RETURN = r"""
registries:
  description: The registries, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Registry name.
      type: str
    id:
      description: Provider ID.
      type: str
    url:
      description: The registry host and path to push to and pull from.
      type: str
    storage_limit_bytes:
      description: Storage limit in bytes.
      type: int
    storage_used_bytes:
      description: Storage used in bytes.
      type: int
    public:
      description: Whether anyone may pull, where the provider has the setting.
      type: bool
    region:
      description: Region, where the provider has one.
      type: str
    plan:
      description: Plan, where the provider has one.
      type: str
    created_at:
      description: Creation time (ISO 8601 UTC).
      type: str
    updated_at:
      description: Last update time (ISO 8601 UTC).
      type: str
    provider_data:
      description:
        - Provider-specific extras.
        - On V(gitlab) C(kind) (V(project) or V(group)); for a project C(access_level), C(visibility), C(web_url) and
          C(cleanup_policy) (C(enabled), C(cadence), C(keep_n), C(older_than), C(name_regex), C(name_regex_keep), C(next_run_at)).
        - On V(ncloud) C(storage_type) (V(objectStorage) or V(ncloudStorage)), C(bucket), and NCR's C(end_point) (the host
          to C(docker login) to, also in C(url)), C(end_point_enabled), C(private_end_point), C(private_id), C(public_reg_status),
          C(scan_on_push_enabled), C(status) and C(usage) as NCR lists them. C(id), C(storage_limit_bytes),
          C(storage_used_bytes), C(public), C(plan) and C(updated_at) are V(null) (NCR does not say them; the unit of C(usage)
          is not documented).
      type: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(argument_spec=dict(name=dict(type="str")))
    params = runner.params
    runner.open("registry", info=True, validate=lambda p: p.validate("registry", [{"name": params["name"]}] if params["name"] else []))
    runner.info("registry", {"name": params["name"]}, "registries")


if __name__ == "__main__":
    main()
