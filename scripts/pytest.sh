#!/usr/bin/env bash
# Run pytest on one test directory with the dev venv.
#
#   scripts/pytest.sh DIR [pytest args...]
#
# A missing DIR is reported and skipped (exit 0) because that suite has not
# landed yet. Once DIR exists, "no tests collected" (pytest exit 5) is a failure.
# PYTEST_ARGS (env) adds arguments, e.g. PYTEST_ARGS="-n auto -x".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
dir="${1:?usage: scripts/pytest.sh DIR [pytest args...]}"
shift

cd "${ROOT}"
if [[ ! -d "${dir}" ]]; then
    echo "pytest: SKIPPED: ${dir} does not exist yet"
    exit 0
fi

# Make `import ansible_collections.regops.registry...` work in the test process
# (build/collections/ansible_collections/regops/registry -> repo root, created
# by `make collection-link`); ansible-playbook children get the same tree via
# ANSIBLE_COLLECTIONS_PATH.
collections="${ANSIBLE_COLLECTIONS_PATH:-${ROOT}/build/collections}"
collections="${collections%%:*}"
if [[ ! -e "${collections}/ansible_collections/regops/registry" ]]; then
    mkdir -p "${collections}/ansible_collections/regops"
    ln -sfn "${ROOT}" "${collections}/ansible_collections/regops/registry"
fi
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-${collections}}"
export PYTHONPATH="${collections}${PYTHONPATH:+:${PYTHONPATH}}"

read -r -a extra <<<"${PYTEST_ARGS:-}"
rc=0
"${VENV}/bin/python" -m pytest "${dir}" "${extra[@]}" "$@" || rc=$?
if [[ ${rc} -eq 5 ]]; then
    echo "pytest: FAILED: no tests collected in ${dir}" >&2
fi
exit "${rc}"
