"""Every module is in the action group ``all`` and documents that membership; the group lists nothing else."""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def modules():
    folder = os.path.join(ROOT, "plugins", "modules")
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".py") and not name.startswith("_"))


def test_every_module_is_in_the_all_group():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        runtime = yaml.safe_load(handle)
    assert sorted(runtime["action_groups"]["all"]) == modules()


def test_every_module_documents_the_group_and_the_shared_options():
    for name in modules():
        with open(os.path.join(ROOT, "plugins", "modules", name + ".py")) as handle:
            source = handle.read()
        fragments = re.search(r"extends_documentation_fragment:\n((?:  - .*\n)+)", source).group(1)
        assert "regops.registry.connection.action_group" in fragments, name
        assert "  - regops.registry.connection\n" in fragments, name
        assert "RegistryModule(" in source, name
