#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: protection_rule_info
short_description: List the protection rules of a container registry
version_added: 0.2.0
description:
  - Lists the rules that decide who may push and delete in a registry's repositories (O(kind=repository)) and tags
    (O(kind=tag)), or only the ones whose pattern is named.
  - Immutable tag rules (no access level; nobody may push or delete those tags) are listed with RV(protection_rules[].immutable=true);
    M(regops.registry.protection_rule) never changes them.
  - "Providers: V(gitlab) (a project's repository rules, and its tag rules from GitLab 18.7 on: when O(kind) is left out
    and GitLab answers 404 for the tag rules, only the repository rules are returned, with a warning). Other providers
    fail before any request, with a message naming what they can do."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The project whose rules to list. On V(gitlab), its full path (V(acme/app)) or numeric id.
    type: str
    required: true
  kind:
    description:
      - Only the repository rules or only the tag rules; both when left out.
    type: str
    choices: [repository, tag]
  pattern:
    description:
      - Only the rules with these patterns (compared exactly).
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
  - module: regops.registry.protection_rule
"""

EXAMPLES = r"""
- name: Every protection rule of a project
  regops.registry.protection_rule_info:
    provider: gitlab
    registry: acme/app
  register: rules

- name: The tags nobody may push or delete
  ansible.builtin.debug:
    msg: "{{ rules.protection_rules | selectattr('immutable') | map(attribute='pattern') }}"
"""

RETURN = r"""
protection_rules:
  description: The rules, repository rules first, each kind by id.
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
      description: The provider's rule id.
      type: int
    minimum_access_level_for_push:
      description: V(maintainer), V(owner), V(admin), or V(null) when the rule sets none.
      type: str
    minimum_access_level_for_delete:
      description: V(maintainer), V(owner), V(admin), or V(null) when the rule sets none.
      type: str
    immutable:
      description: Whether this is an immutable tag rule (a tag rule with no access level).
      type: bool
    provider_data:
      description: Provider-specific extras (on V(gitlab), C(project_id)).
      type: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            kind=dict(type="str", choices=["repository", "tag"]),
            pattern=dict(type="list", elements="str"),
        ),
    )
    params = runner.params
    items = [{"registry": params["registry"], "kind": params["kind"], "pattern": pattern} for pattern in params["pattern"] or [None]]
    runner.open("protection_rule", info=True, validate=lambda p: p.validate("protection_rule", items))
    runner.info("protection_rule", {"registry": params["registry"], "kind": params["kind"], "pattern": params["pattern"]}, "protection_rules")


if __name__ == "__main__":
    main()
