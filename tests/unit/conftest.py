# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests run on every ansible-core that meta/runtime.yml claims (2.18 and 2.19): on 2.18,
``tests/support/module_args.py`` provides 2.19's ``ansible.module_utils.testing.patch_module_args`` under the same
import path, so the tests import it one way on both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.regops.registry.tests.support.module_args import install

install()
