#!/usr/bin/env bash
# Run `ansible-test sanity` on a physical copy of the collection.
#
#   SANITY_PYTHONS  space separated Python versions (default "3.11 3.12 3.13").
#                   The first one runs the full sanity suite; the others run the
#                   per-interpreter tests only (compile, import), which is all
#                   that changes between versions for controller-only modules.
#                   An interpreter that is not installed is skipped (stock Debian
#                   bookworm has only 3.11): pythonX.Y from PATH, or pyenv's when
#                   pyenv is installed. Only the first version is required.
#   SANITY_ARGS     extra arguments for every ansible-test invocation.
#
# ansible-test keeps its state in ~/.ansible/test (the venvs of the sanity tests, the pip bootstrap
# scripts below). HOME is pointed at build/home for it, so nothing outside the checkout is written
# (pip's download cache stays where pip keeps it).
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

# Real interpreters, not pyenv shims: ansible-test builds its managed venvs from the pythonX.Y it finds
# on PATH, and a shim of a version that is not selected fails there. For each version, put the directory
# of the real interpreter first on PATH (sys.executable of a working pythonX.Y, or pyenv's X.Y).
real_python() {
    local version="$1" cand exe
    cand="$(command -v "python${version}" 2>/dev/null)" || cand=""
    if [[ -n "${cand}" ]] && exe="$("${cand}" -c 'import sys; print(sys.executable)' 2>/dev/null)" && [[ -x "${exe}" ]]; then
        echo "${exe}"
        return 0
    fi
    if command -v pyenv >/dev/null 2>&1; then
        for cand in "$(pyenv root)/versions/${version}".*/bin/"python${version}"; do
            if [[ -x "${cand}" ]] && "${cand}" -c 'import sys' >/dev/null 2>&1; then
                echo "${cand}"
                return 0
            fi
        done
    fi
    return 1
}

pythons=()
interp_path=""
for py in ${SANITY_PYTHONS}; do
    if exe="$(real_python "${py}")"; then
        pythons+=("${py}")
        interp_path="${interp_path}$(dirname "${exe}"):"
    elif [[ ${#pythons[@]} -eq 0 ]]; then
        echo "sanity: python${py} not found (it runs the full suite)" >&2
        exit 1
    fi
done
export PATH="${interp_path}${VENV}/bin:${PATH}"

# ansible-test's state under the checkout
REAL_HOME="${HOME}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-${REAL_HOME}/.cache}/pip}"
export HOME="${ROOT}/build/home"
mkdir -p "${HOME}"

# Offline pip bootstrap for ansible-test's managed venvs: ansible-test would
# download get-pip-X.py from ci-files.testing.ansible.com (not reachable) and run
# it with the pins it wants (pip==X plus pip options). These shims unpack the pip
# wheel of that version, downloaded from PyPI once into the same cache; without
# it they fall back to ensurepip + `pip install`. ansible-test makes about 20
# venvs in a run, and ensurepip + a pip upgrade cost 7.5 CPU-seconds per venv
# here, against 0.3 s for unpacking the wheel.
cache="${HOME}/.ansible/test/cache"
mkdir -p "${cache}"
shim='import os, subprocess, sys, sysconfig, zipfile
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
options = [a for a in args if a.startswith("-")]
pins = [a for a in args if not a.startswith("-")]
pip = [a for a in pins if a.startswith("pip==")]
wheel = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-%s-py3-none-any.whl" % pip[0][5:]) if pip else ""
if os.path.isfile(wheel):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(sysconfig.get_paths()["purelib"])
    pins = [a for a in pins if a not in pip]
else:
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
if pins:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + options + pins)'
for v in 23_1_2 24_2 25_2; do
    f="${cache}/get_pip_${v}.py"
    if [[ ! -f "${f}" ]] || [[ "$(cat "${f}")" != "${shim}" ]]; then
        printf '%s\n' "${shim}" >"${f}"
    fi
done
# ansible-core 2.18 and 2.19 pin pip 24.2 in their venvs.
pip_pin=24.2
if [[ ! -f "${cache}/pip-${pip_pin}-py3-none-any.whl" ]] && ! "${VENV}/bin/python" -m pip download --quiet --no-deps \
        --only-binary=:all: --dest "${cache}" "pip==${pip_pin}"; then
    echo "sanity: could not download the pip ${pip_pin} wheel; the venvs bootstrap pip with ensurepip (slower)" >&2
fi

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
for py in "${pythons[@]}"; do
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
echo "sanity: passed (Python ${pythons[*]})"
