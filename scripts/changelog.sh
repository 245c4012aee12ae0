#!/usr/bin/env bash
# The collection's changelog, kept with antsibull-changelog (changelogs/config.yaml).
#
#   scripts/changelog.sh lint      (make test) every fragment in changelogs/fragments/ is valid, so is
#                                  changelogs/changelog.yaml, and CHANGELOG.rst is exactly what
#                                  changelog.yaml generates (nobody edited the generated file by hand)
#   scripts/changelog.sh release   release galaxy.yml's version from the fragments: writes
#                                  changelogs/changelog.yaml and CHANGELOG.rst and removes the fragments
#
# `release` on a version that changelog.yaml already has (an unpublished release being re-cut, e.g. after
# late fragments) re-creates it from scratch when every fragment it lists is still in changelogs/fragments/,
# so edited fragments are taken as they are now; otherwise it adds the new fragments to it
# (`--update-existing`; fragments it already has are skipped: prevent_known_fragments).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-${ROOT}/.venv}"
export PATH="${VENV}/bin:${PATH}"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1
mode="${1:-lint}"
cd "${ROOT}"

version="$("${VENV}/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)"

case "${mode}" in
lint)
    echo "changelog: antsibull-changelog lint (changelogs/fragments)"
    antsibull-changelog lint
    echo "changelog: antsibull-changelog lint-changelog-yaml (changelogs/changelog.yaml)"
    antsibull-changelog lint-changelog-yaml --no-semantic-versioning changelogs/changelog.yaml
    # regenerate in a scratch tree and compare with the committed CHANGELOG.rst
    tmp="${ROOT}/build/changelog-check"
    rm -rf "${tmp}"
    mkdir -p "${tmp}/changelogs"
    cp galaxy.yml "${tmp}/"
    cp changelogs/config.yaml changelogs/changelog.yaml "${tmp}/changelogs/"
    [[ -f changelogs/.plugin-cache.yaml ]] && cp changelogs/.plugin-cache.yaml "${tmp}/changelogs/"
    (cd "${tmp}" && antsibull-changelog generate >/dev/null)
    if ! diff -u CHANGELOG.rst "${tmp}/CHANGELOG.rst"; then
        echo "changelog: FAILED: CHANGELOG.rst is not what changelogs/changelog.yaml generates;" \
            "run scripts/changelog.sh release (never edit CHANGELOG.rst by hand)" >&2
        exit 1
    fi
    rm -rf "${tmp}"
    pending="$("${VENV}/bin/python" - <<'PYEOF'
import os, yaml
with open("changelogs/changelog.yaml") as handle:
    data = yaml.safe_load(handle) or {}
known = {name for release in (data.get("releases") or {}).values() for name in release.get("fragments") or []}
present = [name for name in os.listdir("changelogs/fragments") if name.endswith((".yml", ".yaml"))]
print(len([name for name in present if name not in known]))
PYEOF
)"
    echo "changelog: ok (${pending} fragment(s) not in changelogs/changelog.yaml yet;" \
        "make changelog-release releases them as ${version})"
    ;;
release)
    # antsibull-changelog asks ansible-doc for the collection's plugins and roles: make it findable
    collections="${ROOT}/build/collections"
    mkdir -p "${collections}/ansible_collections/regops"
    ln -sfn "${ROOT}" "${collections}/ansible_collections/regops/registry"
    export ANSIBLE_COLLECTIONS_PATH="${collections}"
    recut="$("${VENV}/bin/python" - "${version}" <<'EOF'
import os, sys, yaml
version = sys.argv[1]
path = "changelogs/changelog.yaml"
with open(path) as handle:
    data = yaml.safe_load(handle) or {}
release = (data.get("releases") or {}).get(version)
if release is None:
    print("new")
    sys.exit(0)
listed = release.get("fragments") or []
present = set(os.listdir("changelogs/fragments"))
if not present - set(listed) - {".keep", ".gitkeep"} and not all(name in present for name in listed):
    print("none")  # released already, and no new fragment
elif all(name in present for name in listed):
    # every fragment of the unpublished release is still here: re-create it from them
    del data["releases"][version]
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=True)
    print("recut")
else:
    print("update")
EOF
)"
    args=(--version "${version}" --reload-plugins)
    case "${recut}" in
    new) echo "changelog: releasing ${version}" ;;
    recut) echo "changelog: re-creating the unpublished release ${version} from every fragment" ;;
    none)
        echo "changelog: ${version} is released and no fragment is waiting: nothing to do"
        exit 0
        ;;
    update)
        echo "changelog: adding the new fragments to release ${version}"
        args+=(--update-existing)
        ;;
    esac
    antsibull-changelog release "${args[@]}"
    echo "changelog: ${version} written to changelogs/changelog.yaml and CHANGELOG.rst"
    ;;
*)
    echo "usage: scripts/changelog.sh lint|release" >&2
    exit 2
    ;;
esac
