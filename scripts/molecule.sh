#!/usr/bin/env bash
# Run molecule scenarios of the collection.
#
#   extensions/molecule/<scenario>/molecule.yml  (collection-level scenarios,
#                                                 run from the collection root)
#   roles/<role>/molecule/<scenario>/molecule.yml (role scenarios, e.g. roles/cleanup)
#
# Skips with a message only while no scenario directory exists at all.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
export PATH="${VENV}/bin:${PATH}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
# molecule's ephemeral state (inventory, ansible.cfg, the scenario's registry state) and Ansible's local
# temp files stay under build/ instead of ~/.ansible/tmp
export MOLECULE_EPHEMERAL_DIRECTORY="${ROOT}/build/molecule"
export ANSIBLE_LOCAL_TEMP="${ROOT}/build/molecule/tmp"
mkdir -p "${ANSIBLE_LOCAL_TEMP}"

ran=0
cd "${ROOT}"

if [[ -d extensions/molecule ]]; then
    echo "molecule: collection scenarios in extensions/molecule"
    (cd "${ROOT}" && molecule test --all)
    ran=1
fi

shopt -s nullglob
for role_dir in roles/*/; do
    role_dir="${role_dir%/}"
    if [[ -d "${role_dir}/molecule" ]]; then
        echo "molecule: role scenarios in ${role_dir}/molecule"
        (cd "${ROOT}/${role_dir}" && molecule test --all)
        ran=1
    fi
done
shopt -u nullglob

if [[ ${ran} -eq 0 ]]; then
    echo "molecule: SKIPPED: no scenario yet (extensions/molecule/ or roles/cleanup/molecule/ does not exist)"
fi
