#!/usr/bin/env bash
# Build the release tarball the way a release does, check its file list, and import it with
# galaxy-importer (the checks Galaxy and Automation Hub run on upload).
#
#   1. ansible-galaxy collection build  -> build/galaxy/regops-registry-X.Y.Z.tar.gz
#   2. tests/release (pytest): the file list (no .ansible/, no nested ansible_collections/, no venvs,
#      build or test output, caches), FILES.json agrees with the members, every module, the role,
#      the docsite and the changelog are in it
#   3. python -m galaxy_importer.main on the tarball (tests/release/galaxy-importer.cfg): must end with
#      "Importer processing completed successfully" and log no error and no warning
#
# Everything is written under build/galaxy (the importer's temp and ansible-lint cache included).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
OUT="${ROOT}/build/galaxy"
export PATH="${VENV}/bin:${PATH}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0
# the importer resolves the collection inside the tarball, as Galaxy does: no checkout on the path
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

rm -rf "${OUT}"
mkdir -p "${OUT}/tmp"

echo "galaxy: ansible-galaxy collection build"
ansible-galaxy collection build "${ROOT}" --output-path "${OUT}" --force
shopt -s nullglob
tarballs=("${OUT}"/regops-registry-*.tar.gz)
shopt -u nullglob
if [[ ${#tarballs[@]} -ne 1 ]]; then
    echo "galaxy: expected one tarball in ${OUT}, found ${#tarballs[@]}" >&2
    exit 1
fi
tarball="${tarballs[0]}"
echo "galaxy: $(basename "${tarball}"): $(tar -tzf "${tarball}" | wc -l) members, $(du -k "${tarball}" | cut -f1) KiB"

echo "galaxy: file list (tests/release)"
REGOPS_TARBALL="${tarball}" "${ROOT}/scripts/pytest.sh" tests/release -q -p no:cacheprovider

echo "galaxy: galaxy-importer $("${VENV}/bin/python" -c 'from importlib.metadata import version; print(version("galaxy-importer"))')"
export GALAXY_IMPORTER_CONFIG="${ROOT}/tests/release/galaxy-importer.cfg"
export GALAXY_IMPORTER_TMP_ROOT_DIR="${OUT}/tmp"
export GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="${OUT}/tmp"
log="${OUT}/importer.log"
rc=0
(cd "${OUT}" && "${VENV}/bin/python" -m galaxy_importer.main "${tarball}") >"${log}" 2>&1 || rc=$?
cat "${log}"

problems="$(grep -E '^(ERROR|WARNING)|\b(ERROR|WARNING):' "${log}" || true)"
if [[ ${rc} -ne 0 ]] || ! grep -q 'Importer processing completed successfully' "${log}"; then
    echo "galaxy: FAILED: galaxy-importer did not complete (exit ${rc})" >&2
    exit 1
fi
if [[ -n "${problems}" ]]; then
    echo "galaxy: FAILED: galaxy-importer reported errors or warnings:" >&2
    printf '%s\n' "${problems}" >&2
    exit 1
fi
echo "galaxy: import passed with no error and no warning (${log#"${ROOT}/"}, ${OUT#"${ROOT}/"}/importer_result.json)"
