#!/usr/bin/env bash
# Create/refresh the development virtualenv (.venv) from requirements-dev.txt.
#
# Idempotent: a stamp file inside the venv records a hash of the requirement
# files and the interpreter version; when it matches, this script exits at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
STAMP="${VENV}/.regops-dev-stamp"
WANT_MINOR="3.11"

find_python() {
    local cand
    for cand in /root/.pyenv/versions/3.11.7/bin/python3.11 python3.11 python3; do
        if command -v "${cand}" >/dev/null 2>&1; then
            command -v "${cand}"
            return 0
        fi
    done
    return 1
}

PYTHON="${PYTHON:-$(find_python || true)}"
if [[ -z "${PYTHON}" ]]; then
    echo "venv: no python3.11/python3 interpreter found" >&2
    exit 1
fi

py_minor() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'
}

base_minor="$(py_minor "${PYTHON}")"
if [[ "${base_minor}" != "${WANT_MINOR}" ]]; then
    echo "venv: warning: using Python ${base_minor} (${PYTHON}); ${WANT_MINOR} is the supported dev interpreter" >&2
fi

want_stamp="$(
    {
        echo "python=${base_minor}"
        cat "${ROOT}/requirements-dev.txt" "${ROOT}/requirements.txt"
    } | sha256sum | cut -d' ' -f1
)"

if [[ -x "${VENV}/bin/python" && -f "${STAMP}" && "$(cat "${STAMP}")" == "${want_stamp}" ]]; then
    echo "venv: ${VENV} is up to date"
    exit 0
fi

# (Re)create the venv when it is missing, broken or built on another Python.
if [[ ! -x "${VENV}/bin/python" ]] || ! "${VENV}/bin/python" -c 'import sys' >/dev/null 2>&1 \
    || [[ "$(py_minor "${VENV}/bin/python")" != "${base_minor}" ]]; then
    echo "venv: creating ${VENV} with ${PYTHON}"
    rm -rf "${VENV}"
    "${PYTHON}" -m venv "${VENV}"
fi

rm -f "${STAMP}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "venv: installing requirements-dev.txt"
"${VENV}/bin/python" -m pip install --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --quiet -r "${ROOT}/requirements-dev.txt"
"${VENV}/bin/python" -m pip check
echo "${want_stamp}" >"${STAMP}"
echo "venv: ready ($("${VENV}/bin/ansible" --version | head -n1))"
