#!/usr/bin/env bash
# Build the collection's HTML documentation site, as docs.ansible.com renders collections:
# antsibull-docs writes the RST for every module, filter and role and the extra docs of
# docs/docsite/ (extra-docs.yml, links.yml, rst/), and Sphinx turns it into HTML.
#
#   build/docs/collections/...   physical copy of the checkout that antsibull-docs documents
#   build/docs/site/             the Sphinx project from `antsibull-docs sphinx-init` (conf.py, rst/)
#   build/docs/html/             the site; open build/docs/html/index.html
#
# Sphinx runs with -W (nitpicky): an unresolved reference or a broken internal link fails the build.
# tests/docs/test_site.py then opens the site in headless Chromium (`make docs-check`).
#
# Offline: intersphinx reads local inventories (written below) for the few ansible-core docs labels
# the generated pages refer to (common return values, configuration settings, ansible.builtin plugins),
# so the links point at docs.ansible.com without fetching anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
OUT="${ROOT}/build/docs"
COLLECTIONS="${OUT}/collections"
SITE="${OUT}/site"
HTML="${OUT}/html"
export PATH="${VENV}/bin:${PATH}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1
export ANSIBLE_COLLECTIONS_PATH="${COLLECTIONS}"
# antsibull-docs runs ansible-doc; keep ansible's local temp files in the build dir
export ANSIBLE_LOCAL_TEMP="${OUT}/tmp"
# antsibull logs to ~/antsibull.log by default: a home of its own under build/
export HOME="${OUT}/home"
mkdir -p "${HOME}"

"${ROOT}/scripts/sync-build.sh" "${COLLECTIONS}/ansible_collections/regops/registry" >/dev/null

rm -rf "${SITE}" "${HTML}"
mkdir -p "${OUT}/tmp" "${SITE}"
# antsibull-docs wants its destination owned by us and not writable by others
chmod 0700 "${SITE}"

echo "docs: antsibull-docs sphinx-init"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error --dest-dir "${SITE}" \
    --project regops.registry --copyright "regops.registry contributors" \
    --title "regops.registry collection" --html-short-title "regops.registry" \
    regops.registry >/dev/null

echo "docs: antsibull-docs collection (plugin, role and extra docs RST)"
mkdir -p "${SITE}/rst"
chmod 0700 "${SITE}/rst"
(cd "${SITE}" && antsibull-docs --config-file antsibull-docs.cfg collection --use-current --squash-hierarchy \
    --fail-on-error --cleanup everything --dest-dir rst regops.registry)

echo "docs: offline intersphinx inventories"
"${VENV}/bin/python" - "${SITE}" <<'EOF'
"""Write the fallback inventories conf.py names (../<name>.inv next to rst/) for the labels the RST uses."""
import os
import re
import sys
import zlib

site = sys.argv[1]
base = "https://docs.ansible.com/projects/ansible/devel/"
# ansible-core docs labels that antsibull-docs' generated pages refer to, and where they live
known = {
    "common_return_values": ("reference_appendices/common_return_values.html", "Return Values"),
    "ansible_configuration_settings": ("reference_appendices/config.html", "Ansible Configuration Settings"),
    "module_defaults": ("playbook_guide/playbooks_module_defaults.html", "Module defaults"),
    "playbooks_module_defaults": ("playbook_guide/playbooks_module_defaults.html", "Module defaults"),
    "check_mode_dry": ("playbook_guide/playbooks_checkmode.html", "Validating tasks: check mode and diff mode"),
    "playbooks_checkmode": ("playbook_guide/playbooks_checkmode.html", "Validating tasks: check mode and diff mode"),
    "collections_installing": ("collections_guide/collections_installing.html", "Installing collections"),
}
defined, used = set(), set()
for dirpath, _dirs, files in os.walk(os.path.join(site, "rst")):
    for name in files:
        if name.endswith(".rst"):
            with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                text = handle.read()
            defined.update(re.findall(r"^\.\. _([^:]+):\s*$", text, re.M))
            used.update(re.findall(r":ref:`(?:[^`<]*<)?([^`<>]+?)>?`", text))
entries = []
for label in sorted(used - defined):
    match = re.match(r"^ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+)_([a-z]+)(__.*)?$", label)
    if label in known:
        uri, title = known[label]
    elif match and (match.group(1), match.group(2)) == ("ansible", "builtin") and not match.group(5):
        uri, title = "collections/ansible/builtin/%s_%s.html" % (match.group(3), match.group(4)), "-"
    else:
        continue  # not ansible-core's: Sphinx reports it as an unresolved reference
    entries.append("%s std:label -1 %s %s" % (label, uri, title))
header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n"
body = zlib.compress(("\n".join(entries) + "\n").encode("utf-8"))
empty = zlib.compress(b"")
for name in ("ansible_devel", "python2", "python3", "jinja2"):
    with open(os.path.join(site, name + ".inv"), "wb") as handle:
        handle.write(header.replace("Ansible", name).encode("utf-8"))
        handle.write(body if name == "ansible_devel" else empty)
print("docs: %d ansible-core label(s) resolved offline" % len(entries))
EOF

echo "docs: sphinx-build -W (warnings are errors)"
jobs=2
(cd "${SITE}" && sphinx-build -b html -c . -W --keep-going -q -j "${jobs}" -d "${SITE}/.doctrees" rst "${HTML}")
pages=$(find "${HTML}" -name '*.html' | wc -l)
echo "docs: ${pages} pages in ${HTML#"${ROOT}/"} (open ${HTML#"${ROOT}/"}/index.html)"
