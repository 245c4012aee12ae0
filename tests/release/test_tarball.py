# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release tarball holds the collection and nothing else.

``scripts/galaxy.sh`` builds it and passes its path in ``REGOPS_TARBALL``; run alone, these tests build
one into a temporary directory with the venv's ``ansible-galaxy``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# No member may match any of these (fnmatch on the member path; `*` crosses directories).
FORBIDDEN = {
    ".ansible/": ["*.ansible", "*.ansible/*"],
    "a nested collection": ["*ansible_collections*"],
    "a virtualenv": [".venv*", "*/.venv*", "*pyvenv.cfg", "*/site-packages/*"],
    "build output": ["build", "build/*", "dist", "dist/*", "*.tar.gz", "importer_result.json"],
    "test output": ["tests/output", "tests/output/*", "*.pytest_cache*", "*junit*.xml", "*.coverage"],
    "caches": ["*__pycache__*", "*.pyc", "*.cache", "*.cache/*", "*.mypy_cache*", "*.ruff_cache*", "*.tox", "*.tox/*",
               "changelogs/.plugin-cache.yaml"],
    "docs build output": ["docs/docsite/_build*", "*/html/_static/*", "*.doctree", "*/.buildinfo"],
    "version control": [".git", ".git/*", "*/.git/*"],
    "developer tooling": ["bench", "bench/*", ".ci", ".ci/*", "roles/*/molecule", "roles/*/molecule/*"],
}


def _module_names():
    folder = os.path.join(ROOT, "plugins", "modules")
    return sorted(name for name in os.listdir(folder) if name.endswith(".py") and not name.startswith("_"))


def _relative(name):
    name = name[2:] if name.startswith("./") else name
    return name.rstrip("/")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    path = os.environ.get("REGOPS_TARBALL")
    if path:
        return path
    out = tmp_path_factory.mktemp("tarball")
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", ROOT, "--output-path", str(out), "--force"],
                   check=True, capture_output=True, text=True)
    built = [name for name in os.listdir(str(out)) if name.endswith(".tar.gz")]
    assert len(built) == 1, built
    return os.path.join(str(out), built[0])


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball, "r:gz") as archive:
        return {_relative(member.name): member for member in archive.getmembers()}


@pytest.fixture(scope="module")
def archive_json(tarball):
    def _read(name):
        with tarfile.open(tarball, "r:gz") as archive:
            return json.load(archive.extractfile(name))
    return _read


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_nothing_that_does_not_belong(members, what):
    found = sorted(name for name in members for pattern in FORBIDDEN[what] if fnmatch.fnmatch(name, pattern))
    assert not found, "%s in the tarball: %s" % (what, found[:20])


def test_the_collection_is_whole(members):
    expected = ["MANIFEST.json", "FILES.json", "README.md", "COPYING", "CHANGELOG.rst",
                "changelogs/changelog.yaml", "changelogs/config.yaml",
                "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                "roles/cleanup/README.md", "roles/cleanup/meta/argument_specs.yml", "roles/cleanup/meta/main.yml",
                "roles/cleanup/tasks/main.yml", "roles/cleanup/defaults/main.yml",
                "docs/docsite/extra-docs.yml", "docs/docsite/links.yml"]
    expected += ["plugins/modules/" + name for name in _module_names()]
    for folder in ("meta/awx", "docs/docsite/rst", "plugins/filter", "plugins/module_utils", "plugins/doc_fragments"):
        for dirpath, _dirs, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith((".pyc",)) or "__pycache__" in dirpath:
                    continue
                expected.append(os.path.relpath(os.path.join(dirpath, name), ROOT))
    missing = sorted(set(expected) - set(members))
    assert not missing, "missing from the tarball: %s" % missing


def test_files_json_lists_exactly_the_members(members, archive_json):
    files = archive_json("FILES.json")["files"]
    listed = {entry["name"] for entry in files if entry["name"] != "."}
    in_tar = set(members) - {"MANIFEST.json", "FILES.json"}
    assert listed == in_tar


def test_manifest_matches_galaxy_yml_and_the_changelog(archive_json):
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    info = archive_json("MANIFEST.json")["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert info["repository"] and info["license_file"] == "COPYING"
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml")) as handle:
        changelog = yaml.safe_load(handle)
    assert galaxy["version"] in (changelog.get("releases") or {}), \
        "galaxy.yml version %s has no release in changelogs/changelog.yaml (run antsibull-changelog release)" % galaxy["version"]


def test_small(tarball):
    assert os.path.getsize(tarball) < 2 * 1024 * 1024, "the tarball is %d bytes: something large got in" % os.path.getsize(tarball)
