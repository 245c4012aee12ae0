#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry
short_description: Create, resize and delete registries on providers that host them
version_added: 0.1.0
description:
  - With O(state=present), creates the registry O(name) or brings its settings (O(storage_limit) on V(gcore);
    O(plan), O(public) and O(replications) on V(vultr); O(access_level) and O(cleanup_policy) on V(gitlab)) to what the
    task says. Options left out are left alone. On V(ncloud) a registry is created with O(storage_type) and O(bucket), and
    nothing can be changed afterwards.
  - With O(state=absent), deletes the registry B(with every repository, artifact, tag and user in it). This cannot
    be undone.
  - "An OCI Distribution registry (V(oci)) is its O(api_url): there is nothing to create, and this module fails
    with a clear message for it."
  - "Providers: V(gcore), V(vultr), V(gitlab) (O(state=present) only: the container registry settings of an existing project,
    its visibility O(access_level) and its O(cleanup_policy); projects are neither created nor deleted, a project that does
    not exist fails, and O(state=absent) fails before any request), V(ncloud) (created with O(storage_type) and O(bucket),
    or deleted)."
  - "On V(gitlab), the cleanup policy is GitLab's scheduled tag cleanup (the project's C(container_expiration_policy)). Its
    values are GitLab's closed lists, checked before any request. Only the keys given are sent, and only when one of them
    differs from the project's: saving the policy restarts its schedule (GitLab sets C(next_run_at) to now plus the cadence),
    so an unchanged policy is not saved again. A group (C(group:<path>)) cannot be changed: name the project."
  - "On V(vultr), O(region) and O(plan) are checked against the API's own lists (C(/registry/region/list),
    C(/registry/plan/list)) before any change; the name and the region of a registry cannot be changed."
  - "On V(ncloud) (Naver Cloud Container Registry), the registry is created in the O(region) the connection uses
    (C(POST /repositories/{registry}) with C(storageType) and C(bucket)) and deleted with C(DELETE /repositories/{registry})
    (a registry already gone is V(unchanged)). NCR has no API to read one registry or to change one: the registry list is
    read and filtered by name, and a task whose O(storage_type) or O(bucket) differs from the existing registry's fails
    before any change, naming both values (delete the registry and create it again to change them). NCR's list does not
    name the storage type: a registry with a bucket is V(objectStorage), one without V(ncloudStorage). The registry's
    name is the first label of its host (C(<registry>.kr.ncr.ntruss.com)): lowercase letters, digits and C(-)."
author:
  - regops.registry contributors (@regops)
options:
  name:
    description:
      - The registry's name.
      - On V(gitlab), the project, by its full path (V(acme/app)) or numeric id.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the registry; V(absent) deletes it and everything in it.
    type: str
    choices: [present, absent]
    default: present
  storage_limit:
    description:
      - Storage limit in GiB. Changing it on an existing registry resizes it. V(gcore) only.
    type: int
  region:
    description:
      - The region to create the registry in (V(vultr), a name from C(/registry/region/list) such as V(sjc) or V(ewr)).
        Required to create; a different region for an existing registry fails (Vultr cannot move a registry).
      - On V(ncloud) this is the connection's region, where the registry is looked for, created and deleted, one of V(kr) (the
        default), V(sgn), V(jpn), V(gov-kr) or V(gov-krs), in any case; each picks NCR's API host and stage prefix (see
        the shared option O(regops.registry.tag#module:region)). Another value fails before any request.
    type: str
    version_added: 0.1.0
  plan:
    description:
      - The plan (V(vultr)), one of V(start_up), V(business), V(premium), V(enterprise), or any plan
        C(/registry/plan/list) offers. Required to create; a different plan upgrades or downgrades the registry.
    type: str
  public:
    description:
      - Whether anyone may pull without credentials (V(vultr)). A new registry is private unless this is V(true).
    type: bool
  replications:
    description:
      - Replication of the registry to other regions (V(vultr)), one entry per region. Regions not listed are left alone.
    type: list
    elements: dict
    suboptions:
      region:
        description: A region name from C(/registry/region/list), other than the registry's own.
        type: str
        required: true
      state:
        description: V(present) replicates the registry there; V(absent) removes the replication.
        type: str
        choices: [present, absent]
        default: present
  access_level:
    version_added: 0.2.0
    description:
      - Who may use the project's container registry (V(gitlab), C(container_registry_access_level)). V(enabled), everyone
        with access to the project (anyone, for a public project); V(private), project members with the Reporter role and
        up; V(disabled), the registry is off (its images stay).
    type: str
    choices: [enabled, private, disabled]
  cleanup_policy:
    version_added: 0.2.0
    description:
      - The project's cleanup policy (V(gitlab), GitLab's C(container_expiration_policy_attributes)). Only the keys given are
        compared and sent.
      - GitLab always keeps C(latest), tags a protection rule protects, and tags that match O(cleanup_policy.name_regex_keep).
    type: dict
    suboptions:
      enabled:
        description: Whether the policy runs.
        type: bool
      cadence:
        description: How often it runs.
        type: str
        choices: [1d, 7d, 14d, 1month, 3month]
      keep_n:
        description: How many of the newest tags of each image to keep.
        type: int
        choices: [1, 5, 10, 25, 50, 100]
      older_than:
        description: Only tags older than this are removed.
        type: str
        choices: [7d, 14d, 30d, 90d]
      name_regex:
        description:
          - The tags to remove, a regular expression (RE2) matched against the whole name; V(.*) for all.
          - GitLab anchors it as C(\A<regex>\z), so write an alternation in a group, V((?:a|b\)), for it to match whole names
            (V(a|b) would match names that start with C(a) or end with C(b)). The same holds for O(cleanup_policy.name_regex_keep).
        type: str
      name_regex_keep:
        description: The tags to keep, a regular expression matched against the whole name; it wins over O(cleanup_policy.name_regex).
        type: str
  storage_type:
    version_added: 0.4.0
    description:
      - V(ncloud) only. Where NCR keeps the registry's images, set when it is created (C(storageType)). V(objectStorage), a
        bucket of the account's Object Storage (O(bucket)); V(ncloudStorage), storage NCR manages. When left out, a new registry
        gets V(objectStorage) (NCR's default); for an existing registry it is not compared.
      - NCR cannot change it. A value other than the registry's fails, before any change.
    type: str
    choices: [objectStorage, ncloudStorage]
  bucket:
    version_added: 0.4.0
    description:
      - V(ncloud) only. The Object Storage bucket of a V(objectStorage) registry, required to create one; a bucket cannot
        be used by two registries. It does not go with O(storage_type=ncloudStorage).
      - NCR cannot change it. A bucket other than the registry's fails, before any change.
    type: str
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.registry_info
"""

EXAMPLES = r"""
# Connection from the environment: GCORE_API_KEY, GCORE_CLOUD_PROJECT_ID, GCORE_CLOUD_REGION_ID
- name: A registry of 20 GiB
  regops.registry.registry:
    provider: gcore
    name: builds
    storage_limit: 20

- name: Grow it to 50 GiB (resize)
  regops.registry.registry:
    provider: gcore
    name: builds
    storage_limit: 50

- name: A private Vultr registry in Silicon Valley, replicated to New Jersey
  regops.registry.registry:
    provider: vultr            # api_token from VULTR_API_KEY
    name: builds
    region: sjc
    plan: business
    public: false
    replications:
      - region: ewr

- name: Upgrade its plan and stop replicating to New Jersey
  regops.registry.registry:
    provider: vultr
    name: builds
    plan: premium
    replications:
      - region: ewr
        state: absent

- name: Delete it with everything in it (repositories, images, users)
  regops.registry.registry:
    provider: gcore
    name: old-builds
    state: absent

- name: A GitLab project's registry for members only, cleaned up weekly (api_token from GITLAB_TOKEN)
  regops.registry.registry:
    provider: gitlab
    name: acme/app
    access_level: private
    cleanup_policy:
      enabled: true
      cadence: 7d
      keep_n: 10
      older_than: 30d
      name_regex: ".*"
      name_regex_keep: "(?:v[0-9].*|main)"   # group an alternation: GitLab anchors the whole pattern

- name: Naver Cloud registries, the connection set once for the play (keys from NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY)
  module_defaults:
    group/regops.registry.all:
      provider: ncloud
      region: kr                 # or sgn, jpn, gov-kr, gov-krs
  block:
    - name: A registry kept in an Object Storage bucket of the account
      regops.registry.registry:
        name: builds
        storage_type: objectStorage
        bucket: builds-images

    - name: One on NCR's own storage
      regops.registry.registry:
        name: scratch
        storage_type: ncloudStorage

    - name: Delete a registry with every image in it
      regops.registry.registry:
        name: old-builds
        state: absent
"""

RETURN = r"""
registry:
  description: The registry after the run; for O(state=absent), as it was before it was deleted; V(null) when it was already absent.
  returned: always
  type: dict
  contains:
    name:
      description: Registry name (on V(gitlab), the project's full path).
      type: str
    id:
      description: Provider ID.
      type: str
    url:
      description: The registry host and path to push to and pull from (on V(gitlab), C(container_registry_image_prefix)).
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
        - Provider-specific extras. On V(vultr) C(docker_host), C(base_url), C(replications) (region names),
          C(monthly_price), C(pending_charges) and C(root_user) (its C(password) is always masked; get credentials
          with M(regops.registry.registry_credentials)).
        - On V(gitlab) C(kind) (V(project)), C(access_level), C(visibility), C(web_url) and C(cleanup_policy) (C(enabled),
          C(cadence), C(keep_n), C(older_than), C(name_regex), C(name_regex_keep), C(next_run_at); in check mode
          C(next_run_at) is V(null) when the policy would be saved, since GitLab sets it then).
        - On V(ncloud) C(storage_type) (V(objectStorage) or V(ncloudStorage)), C(bucket), and NCR's C(end_point) (the host
          to C(docker login) to, also in C(url)), C(end_point_enabled), C(private_end_point), C(private_id), C(public_reg_status),
          C(scan_on_push_enabled), C(status) and C(usage) as NCR lists them. C(id), C(storage_limit_bytes),
          C(storage_used_bytes), C(public), C(plan) and C(updated_at) are V(null) (NCR does not say them; the unit of C(usage)
          is not documented).
      type: dict
actions:
  description: What happened to the registry.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The registry name.
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
            state=dict(type="str", default="present", choices=["present", "absent"]),
            storage_limit=dict(type="int"),
            plan=dict(type="str"),
            public=dict(type="bool"),
            replications=dict(type="list", elements="dict", options=dict(
                region=dict(type="str", required=True),
                state=dict(type="str", default="present", choices=["present", "absent"]),
            )),
            access_level=dict(type="str", choices=["enabled", "private", "disabled"]),
            cleanup_policy=dict(type="dict", options=dict(
                enabled=dict(type="bool"),
                cadence=dict(type="str", choices=["1d", "7d", "14d", "1month", "3month"]),
                keep_n=dict(type="int", choices=[1, 5, 10, 25, 50, 100]),
                older_than=dict(type="str", choices=["7d", "14d", "30d", "90d"]),
                name_regex=dict(type="str"),
                name_regex_keep=dict(type="str"),
            )),
            storage_type=dict(type="str", choices=["objectStorage", "ncloudStorage"]),
            bucket=dict(type="str"),
        ),
    )
    params = runner.params
    item = {"name": params["name"]}
    desired = dict((key, params[key]) for key in ("storage_limit", "region", "plan", "public", "replications", "access_level", "cleanup_policy",
                                                  "storage_type", "bucket"))
    options = [k for k, v in desired.items() if v is not None]
    runner.open("registry", state=params["state"], options=options, validate=lambda p: p.validate("registry", [item], desired))
    runner.ensure("registry", [item], params["state"], desired)


if __name__ == "__main__":
    main()
