#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: retention_policy
short_description: Manage a registry's native retention rules and their schedule, and run them
version_added: 0.1.0
description:
  - Manages the retention policy a provider runs by itself (on V(vultr), Harbor-style retention rules and a cron
    schedule), that is the rules in O(rules), the O(schedule), and optionally a run of the policy (O(run)), dry or real.
  - With O(state=present), each rule in O(rules) exists (rules have no name; a rule is identified by all its keys but
    O(rules[].disabled), which is changed in place); with O(purge=true) every other rule is deleted. A rule whose keys
    change is deleted and created again. Without O(rules), the rules are left alone (O(purge) or not).
  - With O(state=absent), deletes the rules (all of them) and clears the schedule. A registry without rules has no
    policy, and nothing is sent (its schedule, if any, cannot be read back).
  - This is the provider's own cleanup, run on its side. The C(regops.registry.cleanup) role is the collection's own,
    planned and reported on the controller; the two can be used side by side.
  - "The schedule cannot be read back from Vultr's API: it is set when the policy is created (the registry had no
    rules), or on every run with O(schedule_update=always). It is returned as set, or V(null) when unknown. With no
    rule at all (none there, none given), a O(schedule) is sent on every run."
  - "Providers: V(vultr)."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry whose retention policy this is.
    type: str
    required: true
  state:
    description:
      - V(present) makes the rules and schedule what the task says; V(absent) deletes every rule and clears the schedule.
    type: str
    choices: [present, absent]
    default: present
  rules:
    description:
      - The retention rules. Each keeps, in the repositories it scopes, the artifacts its template selects; an artifact
        no enabled rule keeps is deleted when the policy runs.
    type: list
    elements: dict
    suboptions:
      rule_type:
        description:
          - The Harbor retention template, for example V(latestPushedK) (keep the K most recently pushed),
            V(latestPulledN), V(nDaysSinceLastPush), V(nDaysSinceLastPull), V(always).
        type: str
        required: true
      count:
        description: The template's number (K, N or days).
        type: int
      repository_action:
        description: Whether the rule applies to the repositories O(rules[].repository_match) matches, or to the others.
        type: str
        choices: [matches, excludes]
        default: matches
      repository_match:
        description: A doublestar pattern of repository names, for example V(team/**).
        type: str
        default: "**"
      tag_action:
        description: Whether the rule keeps artifacts whose tags O(rules[].tag_match) matches, or the others.
        type: str
        choices: [matches, excludes]
        default: matches
      tag_match:
        description: A doublestar pattern of tags, for example V(v*).
        type: str
        default: "**"
      untagged:
        description: Whether untagged artifacts count as matching.
        type: bool
        default: false
      disabled:
        description: A disabled rule is kept but does not run.
        type: bool
        default: false
  purge:
    description:
      - Delete the rules that are not in O(rules) (V(rules=[]) deletes them all). With V(false), or without O(rules),
        rules not listed are left alone.
    type: bool
    default: true
  schedule:
    description:
      - A cron expression for when the policy runs by itself, for example V(0 3 * * 0); V("") clears it.
    type: str
  schedule_update:
    description:
      - V(on_create) sends O(schedule) only when the policy is created; V(always) sends it on every run (and so always
        reports a change), since the current schedule cannot be read back.
    type: str
    choices: [on_create, always]
    default: on_create
  run:
    description:
      - Run the policy now, after the rules and schedule are set. V(dry_run) reports what it would delete without
        deleting; V(apply) deletes. A run is always a change (it starts an execution on the provider).
    type: str
    choices: [dry_run, apply]
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the rules, reports what would change (and that a run would start) and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.retention_policy_info
  - module: regops.registry.artifact
"""

EXAMPLES = r"""
- name: Keep the 10 newest pushes of every repository and every v* release, weekly on Sunday at 03:00
  regops.registry.retention_policy:
    provider: vultr               # api_token from VULTR_API_KEY
    registry: builds
    rules:
      - rule_type: latestPushedK
        count: 10
      - rule_type: always
        tag_match: "v*"
    schedule: "0 3 * * 0"

- name: Try it now without deleting anything
  regops.registry.retention_policy:
    provider: vultr
    registry: builds
    rules:
      - rule_type: latestPushedK
        count: 10
      - rule_type: always
        tag_match: "v*"
    run: dry_run
  register: tried

- name: Pause the first rule (disabled in place, not recreated)
  regops.registry.retention_policy:
    provider: vultr
    registry: builds
    rules:
      - rule_type: latestPushedK
        count: 10
        disabled: true
      - rule_type: always
        tag_match: "v*"

- name: No native retention at all
  regops.registry.retention_policy:
    provider: vultr
    registry: builds
    state: absent
"""

RETURN = r"""
retention_policy:
  description: The policy after the run; for O(state=absent), as it was before; V(null) when there was none.
  returned: always
  type: dict
  contains:
    registry:
      description: The registry.
      type: str
    rules:
      description:
        - The rules, each with C(id) (V(null) in check mode for a rule about to be created), C(rule_type), C(count),
          C(repository_action), C(repository_match), C(tag_action), C(tag_match), C(untagged) and C(disabled).
      type: list
      elements: dict
    schedule:
      description: The schedule this run set; V(null) when it did not set one (the API cannot read it back).
      type: str
    execution:
      description: The run this task started (C(dry_run), C(start_time), C(end_time), C(trigger)), when O(run) was set.
      type: dict
      returned: when O(run) was set
    provider_data:
      description: Provider-specific extras (C(next_scheduled_time) after the schedule was set).
      type: dict
actions:
  description: What happened to the policy.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The registry.
      type: str
    action:
      description: One of V(created), V(updated), V(deleted), V(unchanged), V(absent), V(failed).
      type: str
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            rules=dict(type="list", elements="dict", options=dict(
                rule_type=dict(type="str", required=True),
                count=dict(type="int"),
                repository_action=dict(type="str", default="matches", choices=["matches", "excludes"]),
                repository_match=dict(type="str", default="**"),
                tag_action=dict(type="str", default="matches", choices=["matches", "excludes"]),
                tag_match=dict(type="str", default="**"),
                untagged=dict(type="bool", default=False),
                disabled=dict(type="bool", default=False),
            )),
            purge=dict(type="bool", default=True),
            schedule=dict(type="str"),
            schedule_update=dict(type="str", default="on_create", choices=["on_create", "always"]),
            run=dict(type="str", choices=["dry_run", "apply"]),
        ),
    )
    params = runner.params
    # The state goes with the item: for present, a registry without rules has an (empty) policy to compare with.
    item = {"registry": params["registry"], "state": params["state"]}
    desired = dict((key, params[key]) for key in ("rules", "purge", "schedule", "schedule_update", "run"))
    options = [key for key in ("rules", "schedule", "run") if params[key] is not None]
    runner.open("retention_policy", state=params["state"], options=options,
                validate=lambda p: p.validate("retention_policy", [item], desired))
    runner.ensure("retention_policy", [item], params["state"], desired)


if __name__ == "__main__":
    main()
