#!/usr/bin/env bash
# Lint the collection. Runs every check, then fails if any of them failed.
#
#   1. ansible-lint --profile production, run plainly from the checkout as a user
#      runs it: it installs this collection into .ansible/ itself, so roles and
#      playbooks resolve regops.registry.* and group/regops.registry.all without
#      ANSIBLE_COLLECTIONS_PATH (.ansible-lint excludes tests/unit, build, .venv*, ...)
#   2. antsibull-docs lint-collection-docs on a physical copy in build/lint/
#   3. ansible-doc must render every plugin in plugins/modules/ (and the other
#      documentable plugin types that exist, and roles with argument specs)
#   4. shellcheck on our shell scripts (.ci/run, scripts/*.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
BUILD="${ROOT}/build/lint"
COPY="${BUILD}/ansible_collections/regops/registry"
export PATH="${VENV}/bin:${PATH}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0

# its own copy: `make sanity` may be syncing build/ansible_collections at the same time
"${ROOT}/scripts/sync-build.sh" "${COPY}"

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
    # exactly as a user runs it from the checkout: no ANSIBLE_* environment, not offline
    env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS ansible-lint --profile production --nocolor
}

run_antsibull_docs() {
    cd "${COPY}"
    # antsibull logs to ~/antsibull.log: a home of its own under build/
    mkdir -p "${BUILD}/home"
    HOME="${BUILD}/home" ANSIBLE_COLLECTIONS_PATH="${BUILD}" antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck \
        --validate-collection-refs=all --disallow-unknown-collection-refs .
}

check_doc_json() {
    # check_doc_json FILE TYPE NAME...: every NAME has its documentation in ansible-doc's --json output
    "${VENV}/bin/python" - "$@" <<'PYEOF'
import json, sys
path, kind, names = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    with open(path) as handle:
        data = json.load(handle)
except ValueError:
    data = {}
bad = 0
for name in names:
    entry = data.get(name) or {}
    ok = bool(entry.get("doc") or entry.get("entry_points"))
    print("ansible-doc: %s %s: %s" % (kind, name, "ok" if ok else "FAILED to render"), file=sys.stdout if ok else sys.stderr)
    bad += not ok
sys.exit(1 if bad else 0)
PYEOF
}

run_ansible_doc() {
    # One ansible-doc process per plugin type (--json for all its plugins at once), then every plugin
    # is checked in the JSON: a plugin whose documentation does not load is missing from it.
    export ANSIBLE_COLLECTIONS_PATH="${BUILD}"
    local rc=0 type dir f name out
    out="$(mktemp -d "${BUILD}/ansible-doc.XXXXXX")"
    # plugin type -> directory (same name, except modules); roles with meta/argument_specs.yml
    for type in module filter test lookup inventory callback connection become cache vars strategy role; do
        local names=()
        if [[ "${type}" == role ]]; then
            for f in "${COPY}"/roles/*/meta/argument_specs.y*ml; do
                [[ -e "${f}" ]] && names+=("regops.registry.$(basename "$(dirname "$(dirname "${f}")")")")
            done
        elif [[ "${type}" == filter || "${type}" == test ]]; then
            [[ -d "${COPY}/plugins/${type}" ]] || continue
            # filter/test plugin files hold several plugins; ask ansible-doc for the list
            mapfile -t names < <(ansible-doc -t "${type}" -l regops.registry 2>/dev/null \
                | awk '$1 ~ /^regops\.registry\./ {print $1}')
        else
            dir="${type}"
            [[ "${type}" == module ]] && dir=modules
            [[ -d "${COPY}/plugins/${dir}" ]] || continue
            for f in "${COPY}/plugins/${dir}"/*.py; do
                [[ -e "${f}" ]] || continue
                name="$(basename "${f}" .py)"
                [[ "${name}" == __init__ ]] && continue
                names+=("regops.registry.${name}")
            done
        fi
        [[ ${#names[@]} -gt 0 ]] || continue
        ansible-doc --json -t "${type}" "${names[@]}" >"${out}/${type}.json" 2>"${out}/${type}.err" || true
        if check_doc_json "${out}/${type}.json" "${type}" "${names[@]}" >"${out}/${type}.report" 2>&1; then
            cat "${out}/${type}.report"
            continue
        fi
        # one broken plugin fails the whole batch: ask for each one, to name the broken ones
        for name in "${names[@]}"; do
            ansible-doc --json -t "${type}" "${name}" >"${out}/one.json" 2>"${out}/one.err" || true
            if ! check_doc_json "${out}/one.json" "${type}" "${name}"; then
                sed 's/^/    /' "${out}/one.err" | tail -n 20 >&2
                rc=1
            fi
        done
    done
    rm -rf "${out}"
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
