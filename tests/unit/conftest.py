# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests run on every ansible-core that meta/runtime.yml claims (2.18 and 2.19).

``ansible.module_utils.testing.patch_module_args`` exists from ansible-core 2.19 on. On 2.18 this
conftest provides the same context manager (it sets ``basic._ANSIBLE_ARGS``, which is what 2.18's
``AnsibleModule`` reads) under the same import path, so the tests import it one way on both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import sys
import types

try:
    from ansible.module_utils.testing import patch_module_args  # noqa: F401  pylint: disable=unused-import
except ImportError:  # ansible-core 2.18
    from ansible.module_utils import basic as _basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """Expose ``args`` to ``AnsibleModule`` instances created within this context (2.19's API)."""
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        saved = _basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        _basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")  # pylint: disable=protected-access
        try:
            yield
        finally:
            _basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access

    _testing = types.ModuleType("ansible.module_utils.testing")
    _testing.__doc__ = "ansible-core 2.18 stand-in for ansible.module_utils.testing (tests/unit/conftest.py)."
    _testing.patch_module_args = patch_module_args
    sys.modules["ansible.module_utils.testing"] = _testing
