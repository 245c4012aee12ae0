# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider registry. PRIVATE to the collection.

Providers are imported statically so that Ansible packs them with every module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.regops.registry.plugins.module_utils.api import UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.providers.gcore import GcoreProvider
from ansible_collections.regops.registry.plugins.module_utils.providers.oci import OciProvider
from ansible_collections.regops.registry.plugins.module_utils.providers.vultr import VultrProvider

PROVIDER_NAMES = ("oci", "gcore", "vultr", "gitlab", "github", "ncloud")

AVAILABLE = {
    "gcore": GcoreProvider,
    "oci": OciProvider,
    "vultr": VultrProvider,
}


def provider_class(name):
    try:
        return AVAILABLE[name]
    except KeyError:
        raise UnsupportedError("Provider '%s' is not available in this version of regops.registry yet; available: %s." % (
            name, ", ".join(sorted(AVAILABLE))))
