#!/usr/bin/env bash
# Run make targets one after another, print a summary line per stage, and
# fail if any stage failed. deps and venv are prerequisites: if one of them
# fails the remaining stages are not attempted.
#
#   scripts/run-stages.sh deps venv unit e2e sanity lint molecule
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAKE_BIN="${MAKE:-make}"

declare -a names=() results=() durations=()
overall_start=${SECONDS}
abort=0

for stage in "$@"; do
    names+=("${stage}")
    if [[ ${abort} -eq 1 ]]; then
        results+=("NOT RUN")
        durations+=(0)
        continue
    fi
    echo
    echo "################ make ${stage} ################"
    start=${SECONDS}
    "${MAKE_BIN}" -C "${ROOT}" --no-print-directory "${stage}" </dev/null
    rc=$?
    durations+=($((SECONDS - start)))
    if [[ ${rc} -eq 0 ]]; then
        results+=("PASSED")
    else
        results+=("FAILED (exit ${rc})")
        if [[ "${stage}" == deps || "${stage}" == venv ]]; then
            abort=1
        fi
    fi
done

failed=0
echo
echo "================ make test summary ================"
for i in "${!names[@]}"; do
    printf '%-10s %-16s %5ss\n' "${names[$i]}" "${results[$i]}" "${durations[$i]}"
    if [[ "${results[$i]}" != PASSED ]]; then
        failed=$((failed + 1))
    fi
done
total=$((SECONDS - overall_start))
if [[ ${failed} -gt 0 ]]; then
    echo "make test: ${failed} of ${#names[@]} stage(s) did not pass (${total}s)"
    exit 1
fi
echo "make test: all ${#names[@]} stages passed (${total}s)"
