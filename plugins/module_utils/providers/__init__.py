# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider registry. PRIVATE to the collection.

Providers are imported statically so that Ansible packs them with every module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.regops.registry.plugins.module_utils.api import UnsupportedError

PROVIDER_NAMES = ("oci", "gcore", "vultr", "gitlab", "github", "ncloud")


# One loader per provider: a module run compiles only the provider it uses (Ansible still packs every provider with
# every module, since it finds these import statements wherever they are).
def _gcore():
    from ansible_collections.regops.registry.plugins.module_utils.providers.gcore import GcoreProvider
    return GcoreProvider


def _oci():
    from ansible_collections.regops.registry.plugins.module_utils.providers.oci import OciProvider
    return OciProvider


def _vultr():
    from ansible_collections.regops.registry.plugins.module_utils.providers.vultr import VultrProvider
    return VultrProvider


def _gitlab():
    from ansible_collections.regops.registry.plugins.module_utils.providers.gitlab import GitLabProvider
    return GitLabProvider


def _github():
    from ansible_collections.regops.registry.plugins.module_utils.providers.github import GitHubProvider
    return GitHubProvider


def _ncloud():
    from ansible_collections.regops.registry.plugins.module_utils.providers.ncloud import NcloudProvider
    return NcloudProvider


AVAILABLE = {
    "gcore": _gcore,
    "github": _github,
    "gitlab": _gitlab,
    "ncloud": _ncloud,
    "oci": _oci,
    "vultr": _vultr,
}


def provider_class(name):
    try:
        load = AVAILABLE[name]
    except KeyError:
        raise UnsupportedError("Provider '%s' is not available in this version of regops.registry yet; available: %s." % (
            name, ", ".join(sorted(AVAILABLE))))
    return load()
