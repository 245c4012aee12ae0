#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: retention_policy_info
short_description: Read a registry's native retention rules
version_added: 0.1.0
description:
  - Lists the retention rules a provider runs by itself for the registry O(registry).
  - "The schedule cannot be read back from Vultr's API: it is returned as V(null)."
  - "Providers: V(vultr)."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry.
    type: str
    required: true
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - regops.registry.connection.info_module
  - ansible.builtin.action_common_attributes
attributes:
  platform:
    platforms: all
seealso:
  - module: regops.registry.retention_policy
"""

EXAMPLES = r"""
- name: The rules of a Vultr registry
  regops.registry.retention_policy_info:
    provider: vultr
    registry: builds
  register: retention
"""

RETURN = r"""
retention_policies:
  description: The registry's policy (one entry), with C(registry), C(rules) (as in M(regops.registry.retention_policy)) and C(schedule).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(argument_spec=dict(registry=dict(type="str", required=True)))
    params = runner.params
    runner.open("retention_policy", info=True, validate=lambda p: p.validate("retention_policy", [{"registry": params["registry"]}]))
    runner.info("retention_policy", {"registry": params["registry"]}, "retention_policies")


if __name__ == "__main__":
    main()
