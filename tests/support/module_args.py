# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible.module_utils.testing.patch_module_args`` on every ansible-core that meta/runtime.yml claims (2.18 and 2.19).

ansible-core 2.19 has it. On 2.18 :func:`install` puts the same context manager under the same import path (it sets
``basic._ANSIBLE_ARGS``, which is what 2.18's ``AnsibleModule`` reads), so the unit tests and the module runner import it
one way on both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import sys
import types


def install():
    """Make ``from ansible.module_utils.testing import patch_module_args`` work (a no-op on 2.19 and once installed)."""
    try:
        import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        return
    except ImportError:  # ansible-core 2.18
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """Expose ``args`` to ``AnsibleModule`` instances created within this context (2.19's API)."""
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access

    testing = types.ModuleType("ansible.module_utils.testing")
    testing.__doc__ = "ansible-core 2.18 stand-in for ansible.module_utils.testing (tests/support/module_args.py)."
    testing.patch_module_args = patch_module_args
    sys.modules["ansible.module_utils.testing"] = testing
