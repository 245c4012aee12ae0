# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's requires_ansible is what the test venvs run.

`make test` runs the unit and e2e tests on .venv-2.18 (requirements-2.18.txt) and .venv
(requirements-dev.txt): the oldest ansible-core the collection claims, and the newest it is developed on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

from ansible.module_utils.compat.version import LooseVersion
from ansible.release import __version__ as running_core

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def requires_ansible():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        spec = yaml.safe_load(handle)["requires_ansible"]
    match = re.match(r"^>=(\d+)\.(\d+)\.0$", spec)
    assert match, "requires_ansible is %r: keep the '>=X.Y.0' form (ansible-lint and Galaxy want it)" % spec
    return int(match.group(1)), int(match.group(2))


def pinned_core(requirements):
    with open(os.path.join(ROOT, requirements)) as handle:
        pins = re.findall(r"^ansible-core==(\d+)\.(\d+)\.(\d+)\s*$", handle.read(), re.M)
    assert len(pins) == 1, "%s pins ansible-core once" % requirements
    return tuple(int(part) for part in pins[0])


def test_the_oldest_claimed_core_is_the_one_the_second_venv_tests():
    assert pinned_core("requirements-2.18.txt")[:2] == requires_ansible()


def test_the_dev_venv_runs_a_newer_core_than_the_oldest_claimed():
    assert pinned_core("requirements-dev.txt")[:2] > requires_ansible()


def test_the_running_core_satisfies_requires_ansible():
    major, minor = requires_ansible()
    assert LooseVersion(running_core) >= LooseVersion("%d.%d.0" % (major, minor)), running_core
