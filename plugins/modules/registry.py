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
    task says. Options left out are left alone.
  - With O(state=absent), deletes the registry B(with every repository, artifact, tag and user in it). This cannot
    be undone.
  - "An OCI Distribution registry (V(oci)) is its O(api_url): there is nothing to create, and this module fails
    with a clear message for it."
  - "Providers: V(gcore), V(vultr), V(gitlab) (O(state=present) only: the container registry settings of an existing project,
    its visibility O(access_level) and its O(cleanup_policy); projects are neither created nor deleted, a project that does
    not exist fails, and O(state=absent) fails before any request)."
  - "On V(gitlab), the cleanup policy is GitLab's scheduled tag cleanup (the project's C(container_expiration_policy)). Its
    values are GitLab's closed lists, checked before any request. Only the keys given are sent, and only when one of them
    differs from the project's: saving the policy restarts its schedule (GitLab sets C(next_run_at) to now plus the cadence),
    so an unchanged policy is not saved again. A group (C(group:<path>)) cannot be changed: name the project."
  - "On V(vultr), O(region) and O(plan) are checked against the API's own lists (C(/registry/region/list),
    C(/registry/plan/list)) before any change; the name and the region of a registry cannot be changed."
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
    type: str
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
            region=dict(type="str"),
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
        ),
    )
    params = runner.params
    item = {"name": params["name"]}
    desired = dict((key, params[key]) for key in ("storage_limit", "region", "plan", "public", "replications", "access_level", "cleanup_policy"))
    options = [k for k, v in desired.items() if v is not None]
    runner.open("registry", state=params["state"], options=options, validate=lambda p: p.validate("registry", [item], desired))
    runner.ensure("registry", [item], params["state"], desired)


if __name__ == "__main__":
    main()
