#!/usr/bin/env bash
# Lint the collection. Runs every check, then fails if any of them failed.
#
#   1. ansible-lint (profile production, offline) over the whole project:
#      roles/, playbooks/, extensions/, meta/, galaxy.yml ... (.ansible-lint
#      excludes tests/unit, tests/output, build, .venv, bench output, ...)
#   2. antsibull-docs lint-collection-docs on the physical copy in build/
#   3. ansible-doc must render every plugin in plugins/modules/ (and the other
#      documentable plugin types that exist, and roles with argument specs)
#   4. shellcheck on our shell scripts (.ci/run, scripts/*.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
BUILD="${ROOT}/build"
COPY="${BUILD}/ansible_collections/regops/registry"
export PATH="${VENV}/bin:${PATH}"
export ANSIBLE_COLLECTIONS_PATH="${BUILD}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0

"${ROOT}/scripts/sync-build.sh"

failed=()

step() {
    local name="$1"
    shift
    echo
    echo "=== lint: ${name}"
    if "$@"; then
        echo "--- lint: ${name}: ok"
    else
        echo "--- lint: ${name}: FAILED" >&2
        failed+=("${name}")
    fi
}

run_ansible_lint() {
    cd "${ROOT}"
    ansible-lint --profile production --offline --nocolor
}

run_antsibull_docs() {
    cd "${COPY}"
    antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck \
        --validate-collection-refs=all --disallow-unknown-collection-refs .
}

run_ansible_doc() {
    local rc=0 type dir f name count=0 out
    out="$(mktemp)"
    # plugin type -> directory (same name, except modules)
    for type in module filter test lookup inventory callback connection become cache vars strategy; do
        dir="${type}"
        [[ "${type}" == module ]] && dir=modules
        [[ -d "${COPY}/plugins/${dir}" ]] || continue
        local names=()
        if [[ "${type}" == filter || "${type}" == test ]]; then
            # filter/test plugin files hold several plugins; ask ansible-doc for the list
            mapfile -t names < <(ansible-doc -t "${type}" -l regops.registry 2>/dev/null \
                | awk '$1 ~ /^regops\.registry\./ {print $1}')
        else
            for f in "${COPY}/plugins/${dir}"/*.py; do
                [[ -e "${f}" ]] || continue
                name="$(basename "${f}" .py)"
                [[ "${name}" == __init__ ]] && continue
                names+=("regops.registry.${name}")
            done
        fi
        for name in "${names[@]}"; do
            count=$((count + 1))
            if ansible-doc -t "${type}" "${name}" >"${out}" 2>&1 && [[ -s "${out}" ]] \
                && ! grep -q '^\[WARNING\]: .*\(not found\|Missing documentation\)' "${out}"; then
                echo "ansible-doc: ${type} ${name}: ok"
            else
                echo "ansible-doc: ${type} ${name}: FAILED to render" >&2
                sed 's/^/    /' "${out}" | tail -n 20 >&2
                rc=1
            fi
        done
    done
    # roles that document their entry points (meta/argument_specs.yml)
    for f in "${COPY}"/roles/*/meta/argument_specs.y*ml; do
        [[ -e "${f}" ]] || continue
        name="regops.registry.$(basename "$(dirname "$(dirname "${f}")")")"
        count=$((count + 1))
        if ansible-doc -t role "${name}" >"${out}" 2>&1 && [[ -s "${out}" ]] \
            && ! grep -q '^\[WARNING\]: .*\(not found\|Missing documentation\)' "${out}"; then
            echo "ansible-doc: role ${name}: ok"
        else
            echo "ansible-doc: role ${name}: FAILED to render" >&2
            sed 's/^/    /' "${out}" | tail -n 20 >&2
            rc=1
        fi
    done
    rm -f "${out}"
    if [[ ! -d "${COPY}/plugins/modules" ]]; then
        echo "ansible-doc: no plugins/modules/ yet"
    fi
    echo "ansible-doc: rendered ${count} plugin(s)"
    return "${rc}"
}

run_shellcheck() {
    cd "${ROOT}"
    local files=()
    [[ -f .ci/run ]] && files+=(.ci/run)
    local f
    for f in scripts/*.sh; do
        [[ -e "${f}" ]] && files+=("${f}")
    done
    if [[ ${#files[@]} -eq 0 ]]; then
        return 0
    fi
    if ! command -v shellcheck >/dev/null 2>&1; then
        echo "shellcheck not installed (run make deps)" >&2
        return 1
    fi
    shellcheck "${files[@]}"
}

step ansible-lint run_ansible_lint
step antsibull-docs run_antsibull_docs
step ansible-doc run_ansible_doc
step shellcheck run_shellcheck

echo
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "lint: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "lint: all checks passed"
