#!/usr/bin/env bash
# Mirror the checkout into a *physical* collection tree:
#   build/ansible_collections/regops/registry   (default; `make sanity` and `make lint`)
#   scripts/sync-build.sh DEST                  (another copy, e.g. build/docs/collections/..., so stages that
#                                                run at the same time never rsync into a tree another one reads)
# (ansible-test and antsibull-docs need the ansible_collections/NS/NAME layout
# and do not like symlinked collection roots).
#
# .git is copied too: ansible-test lists content files with
# `git ls-files --cached --others --exclude-standard` when it finds a .git
# directory; without our own copy it would walk up to the outer checkout, whose
# .gitignore excludes build/, and see no files at all.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-${ROOT}/build/ansible_collections/regops/registry}"

mkdir -p "${DEST}"

EXCLUDES=(
    /.venv/
    '/.venv-*/'
    /.ansible/
    /build/
    /tests/output/
    /bench/results/
    .pytest_cache/
    __pycache__/
    '*.pyc'
    '/*.tar.gz'
)

if command -v rsync >/dev/null 2>&1; then
    # Protect ansible-test's output dir in the copy (it caches its delegation
    # venvs under tests/output/.tmp) from --delete-excluded.
    args=(-a --delete --delete-excluded --filter='P /tests/output/')
    for ex in "${EXCLUDES[@]}"; do
        args+=("--exclude=${ex}")
    done
    rsync "${args[@]}" "${ROOT}/" "${DEST}/"
else
    # Fallback without rsync (e.g. before `make deps`): full copy via tar.
    echo "sync-build: rsync not found, falling back to tar copy" >&2
    find "${DEST}" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    tar_ex=()
    for ex in "${EXCLUDES[@]}"; do
        ex="${ex#/}"
        tar_ex+=("--exclude=./${ex%/}")
    done
    tar -C "${ROOT}" "${tar_ex[@]}" --exclude='__pycache__' --exclude='.pytest_cache' -cf - . | tar -C "${DEST}" -xf -
fi

echo "sync-build: ${DEST}"
