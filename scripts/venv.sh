#!/usr/bin/env bash
# Create/refresh a virtualenv from a requirements file.
#
#   scripts/venv.sh                          .venv       from requirements-dev.txt (ansible-core 2.19 + tooling)
#   VENV=.venv-2.18 REQUIREMENTS=requirements-2.18.txt scripts/venv.sh
#                                            .venv-2.18  (ansible-core 2.18, unit and e2e tests only)
#
# The interpreter is Python 3.11: $PYTHON when set, else python3.11 (or python3 when it is 3.11) from PATH,
# else pyenv's 3.11 when pyenv is installed. No interpreter path is hard-coded.
#
# Idempotent: a stamp file inside the venv records a hash of the requirement files and the interpreter
# version; when it matches, this script exits at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
REQUIREMENTS="${REQUIREMENTS:-${ROOT}/requirements-dev.txt}"
[[ "${REQUIREMENTS}" == /* ]] || REQUIREMENTS="${ROOT}/${REQUIREMENTS}"
[[ "${VENV}" == /* ]] || VENV="${ROOT}/${VENV}"
STAMP="${VENV}/.regops-dev-stamp"
WANT_MINOR="3.11"

py_minor() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

find_python() {
    local cand path
    for cand in "python${WANT_MINOR}" python3; do
        path="$(command -v "${cand}" 2>/dev/null)" || continue
        # a pyenv shim for a version that is not selected fails here: skip it
        if [[ "$(py_minor "${path}")" == "${WANT_MINOR}" ]]; then
            echo "${path}"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for path in "$(pyenv root)/versions/${WANT_MINOR}".*/bin/"python${WANT_MINOR}"; do
            if [[ -x "${path}" && "$(py_minor "${path}")" == "${WANT_MINOR}" ]]; then
                echo "${path}"
                return 0
            fi
        done
    fi
    # last resort: any python3 (warned about below)
    command -v python3 2>/dev/null
}

PYTHON="${PYTHON:-$(find_python || true)}"
if [[ -z "${PYTHON}" ]]; then
    echo "venv: no python${WANT_MINOR}/python3 interpreter found" >&2
    exit 1
fi

base_minor="$(py_minor "${PYTHON}")"
if [[ "${base_minor}" != "${WANT_MINOR}" ]]; then
    echo "venv: warning: using Python ${base_minor} (${PYTHON}); ${WANT_MINOR} is the supported dev interpreter" >&2
fi

want_stamp="$(
    {
        echo "python=${base_minor}"
        echo "requirements=$(basename "${REQUIREMENTS}")"
        cat "${ROOT}"/requirements*.txt
    } | sha256sum | cut -d' ' -f1
)"

venv_name="${VENV#"${ROOT}/"}"
core_version() {
    "${VENV}/bin/python" -c 'from ansible.release import __version__; print(__version__)' 2>/dev/null || echo "?"
}

if [[ -x "${VENV}/bin/python" && -f "${STAMP}" && "$(cat "${STAMP}")" == "${want_stamp}" ]]; then
    echo "venv: ${venv_name} is up to date (ansible-core $(core_version))"
    exit 0
fi

# (Re)create the venv when it is missing, broken or built on another Python.
if [[ ! -x "${VENV}/bin/python" ]] || ! "${VENV}/bin/python" -c 'import sys' >/dev/null 2>&1 \
    || [[ "$(py_minor "${VENV}/bin/python")" != "${base_minor}" ]]; then
    echo "venv: creating ${venv_name} with ${PYTHON} (Python ${base_minor})"
    rm -rf "${VENV}"
    "${PYTHON}" -m venv "${VENV}"
fi

rm -f "${STAMP}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "venv: installing $(basename "${REQUIREMENTS}") into ${venv_name}"
"${VENV}/bin/python" -m pip install --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --quiet -r "${REQUIREMENTS}"
"${VENV}/bin/python" -m pip check
echo "${want_stamp}" >"${STAMP}"
echo "venv: ${venv_name} ready (ansible-core $(core_version), Python ${base_minor})"
