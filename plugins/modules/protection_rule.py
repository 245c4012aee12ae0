#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: protection_rule
short_description: Manage the protection rules of a container registry (who may push and delete)
version_added: 0.2.0
description:
  - Manages the rules that decide who may push and who may delete in a registry, identified by their pattern, on the
    repositories the pattern matches (O(kind=repository)) or on the tags it matches (O(kind=tag)).
  - With O(state=present), creates each rule in O(pattern), or brings the access levels the task names to what it says
    (PATCH, only what differs). A level left out is left alone; V(none) removes it.
  - With O(state=absent), deletes the rules. A rule already gone is not a change; a DELETE answered 404 counts as done.
  - Several patterns are one module call.
  - "Providers: V(gitlab) (GitLab's container registry protection rules of a project: repository rules, GA in 17.8, and
    protected container tags, tag rules; other providers fail before any request, with a message naming what they can
    do)."
  - "On V(gitlab), a repository rule's pattern is a repository path that starts with the project's full path, with V(*)
    wildcards (V(acme/app/release-*)), and needs at least one access level. A tag rule's pattern is a RE2 regular
    expression searched in tag names (V(^v[0-9]+), V(latest)); a tag rule has both levels, and GitLab allows at most 5
    tag rules per project (a sixth fails before it is sent, in check mode too). A pattern GitLab refuses (taken, invalid,
    the limit) fails with GitLab's message (HTTP 422)."
  - "On V(gitlab), tag rules are listed since GitLab 18.7, created since 18.8 and updated (PATCH) since 18.9. The tag-rule
    DELETE (204) is documented by newer GitLab documentation only (it is not in the API revisions the collection was
    built from); the module sends it as for repository rules."
  - "An immutable tag rule (GitLab Ultimate: a tag rule with no access level, nobody may push or delete the tags) cannot
    be created through the API. This module never changes or deletes one: a task that names an immutable rule's pattern
    fails before any change. M(regops.registry.protection_rule_info) shows them (C(immutable=true))."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The project the rules belong to. On V(gitlab), its full path (V(acme/app)) or numeric id (rules belong to
        projects, not groups).
    type: str
    required: true
  kind:
    description:
      - V(repository) rules protect the repositories whose path matches O(pattern); V(tag) rules protect the tags whose
        name matches it.
    type: str
    required: true
    choices: [repository, tag]
  pattern:
    description:
      - One pattern or a list; the pattern identifies the rule (compared exactly).
      - For O(kind=repository), a repository path pattern with V(*) wildcards that starts with the project's full path
        (GitLab's C(repository_path_pattern)).
      - For O(kind=tag), a RE2 regular expression searched in tag names, at most 100 characters (GitLab's C(tag_name_pattern)).
    type: list
    elements: str
    required: true
  minimum_access_level_for_push:
    description:
      - The lowest role that may push what the rule protects; a lower role cannot.
      - V(none) removes the level from an existing repository rule (GitLab's V("")); a repository rule keeps at least
        one level. A tag rule has both levels, so V(none) is refused for tag rules.
      - With O(state=present), at least one of O(minimum_access_level_for_push) and O(minimum_access_level_for_delete)
        is required (checked before any request). A new tag rule needs both.
    type: str
    choices: [maintainer, owner, admin, none]
  minimum_access_level_for_delete:
    description:
      - The lowest role that may delete what the rule protects (tags and repositories); a lower role cannot.
      - V(none) removes the level, as for O(minimum_access_level_for_push).
    type: str
    choices: [maintainer, owner, admin, none]
  state:
    description:
      - V(present) creates or updates the rules; V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the rules, reports what would change (a new rule with C(id=null)) and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.protection_rule_info
  - name: GitLab container repository protection rules API
    description: The repository rules this module manages on V(gitlab).
    link: https://docs.gitlab.com/api/container_repository_protection_rules/
  - name: GitLab container registry protection tag rules API
    description: The tag rules this module manages on V(gitlab).
    link: https://docs.gitlab.com/api/container_registry_protection_tag_rules/
"""

EXAMPLES = r"""
# api_token from GITLAB_TOKEN (a Maintainer of the project)
- name: Only Maintainers push release images, only Owners delete them
  regops.registry.protection_rule:
    provider: gitlab
    registry: acme/app
    kind: repository
    pattern: [acme/app/release, acme/app/release-*]
    minimum_access_level_for_push: maintainer
    minimum_access_level_for_delete: owner

- name: Let Maintainers push there again without a push level (the delete level stays)
  regops.registry.protection_rule:
    provider: gitlab
    registry: acme/app
    kind: repository
    pattern: acme/app/release-*
    minimum_access_level_for_push: none

- name: Protect version tags and latest
  regops.registry.protection_rule:
    provider: gitlab
    registry: acme/app
    kind: tag
    pattern: ["^v[0-9]+", "^latest$"]
    minimum_access_level_for_push: maintainer
    minimum_access_level_for_delete: owner

- name: Remove a tag rule
  regops.registry.protection_rule:
    provider: gitlab
    registry: acme/app
    kind: tag
    pattern: "^latest$"
    state: absent
"""

RETURN = r"""
protection_rules:
  description:
    - The rules named, after the run; for O(state=absent), the rules deleted, as they were before.
  returned: always
  type: list
  elements: dict
  contains:
    registry:
      description: The project, as the task names it.
      type: str
    kind:
      description: V(repository) or V(tag).
      type: str
    pattern:
      description: The pattern.
      type: str
    id:
      description: The provider's rule id; V(null) in check mode for a rule about to be created.
      type: int
    minimum_access_level_for_push:
      description: V(maintainer), V(owner), V(admin), or V(null) when the rule sets none.
      type: str
    minimum_access_level_for_delete:
      description: V(maintainer), V(owner), V(admin), or V(null) when the rule sets none.
      type: str
    immutable:
      description: Whether this is an immutable tag rule (no access level); never for rules this module writes.
      type: bool
    provider_data:
      description: Provider-specific extras (on V(gitlab), C(project_id)).
      type: dict
actions:
  description: What happened to each rule.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(registry:kind:pattern).
      type: str
    action:
      description: One of V(created), V(updated), V(deleted), V(unchanged), V(absent), V(failed).
      type: str
    msg:
      description: Why a rule failed.
      type: str
      returned: when failed
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule

LEVELS = ("minimum_access_level_for_push", "minimum_access_level_for_delete")


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            kind=dict(type="str", required=True, choices=["repository", "tag"]),
            pattern=dict(type="list", elements="str", required=True),
            minimum_access_level_for_push=dict(type="str", choices=["maintainer", "owner", "admin", "none"]),
            minimum_access_level_for_delete=dict(type="str", choices=["maintainer", "owner", "admin", "none"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", LEVELS, True)],
    )
    params = runner.params
    items = [{"registry": params["registry"], "kind": params["kind"], "pattern": pattern} for pattern in dict.fromkeys(params["pattern"])]
    desired = dict((key, params[key]) for key in LEVELS)
    options = [key for key in LEVELS if params[key] is not None]
    runner.open("protection_rule", state=params["state"], options=options, validate=lambda p: p.validate("protection_rule", items, desired))
    runner.ensure("protection_rule", items, params["state"], desired)


if __name__ == "__main__":
    main()
