#!/usr/bin/env bash
# Run `ansible-test sanity` on a physical copy of the collection.
#
#   SANITY_PYTHONS  space separated Python versions (default "3.11 3.12 3.13").
#                   The first one runs the full sanity suite; the others run the
#                   per-interpreter tests only (compile, import), which is all
#                   that changes between versions for controller-only modules.
#   SANITY_ARGS     extra arguments for every ansible-test invocation.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
DEST="${ROOT}/build/ansible_collections/regops/registry"
SANITY_PYTHONS="${SANITY_PYTHONS:-3.11 3.12 3.13}"
read -r -a extra_args <<<"${SANITY_ARGS:-}"

# No ignore files allowed: every sanity error must be fixed, not ignored.
shopt -s nullglob
ignores=("${ROOT}"/tests/sanity/ignore-*.txt)
shopt -u nullglob
if [[ ${#ignores[@]} -gt 0 ]]; then
    echo "sanity: sanity ignore files are not allowed: ${ignores[*]#"${ROOT}/"}" >&2
    exit 1
fi

# Real interpreters first (not pyenv shims): ansible-test builds its managed
# venvs from pythonX.Y found on PATH.
pyenv_path=""
for d in /root/.pyenv/versions/3.13.0/bin /root/.pyenv/versions/3.12.1/bin /root/.pyenv/versions/3.11.7/bin; do
    if [[ -d "${d}" ]]; then
        pyenv_path="${pyenv_path}${d}:"
    fi
done
export PATH="${pyenv_path}${VENV}/bin:${PATH}"

# Offline pip bootstrap for ansible-test's managed venvs: ansible-test would
# download get-pip-X.py from ci-files.testing.ansible.com (not reachable);
# these shims use ensurepip + pip from PyPI instead.
cache="${HOME}/.ansible/test/cache"
mkdir -p "${cache}"
shim='import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)'
for v in 23_1_2 24_2 25_2; do
    f="${cache}/get_pip_${v}.py"
    if [[ ! -f "${f}" ]] || [[ "$(cat "${f}")" != "${shim}" ]]; then
        printf '%s\n' "${shim}" >"${f}"
    fi
done

"${ROOT}/scripts/sync-build.sh"
cd "${DEST}"

# Clean results from earlier runs (keep tests/output/.tmp: ansible-test's
# delegation venvs live there and take a while to rebuild).
if [[ -d tests/output ]]; then
    find tests/output -mindepth 1 -maxdepth 1 ! -name .tmp -exec rm -rf {} +
fi

export ANSIBLE_COLLECTIONS_PATH="${ROOT}/build"

first=1
failed=()
for py in ${SANITY_PYTHONS}; do
    if ! command -v "python${py}" >/dev/null 2>&1; then
        echo "sanity: python${py} not found on PATH" >&2
        failed+=("python${py}:missing")
        continue
    fi
    tests=()
    if [[ ${first} -eq 1 ]]; then
        echo "sanity: full suite on Python ${py}"
        first=0
    else
        echo "sanity: compile + import on Python ${py}"
        tests=(--test compile --test import)
    fi
    if ! ansible-test sanity --venv --python "${py}" --requirements --color no \
        "${tests[@]}" "${extra_args[@]}"; then
        failed+=("python${py}")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "sanity: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "sanity: passed (${SANITY_PYTHONS})"
