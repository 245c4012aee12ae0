#!/usr/bin/env bash
# Install the Debian packages the test suite needs, only when missing.
#
#   python3-venv: `python3 -m venv` for .venv, .venv-2.18 and ansible-test's own venvs
#   docker-registry: CNCF distribution (registry:2) binary used by the e2e tests
#   apache2-utils: htpasswd, to create basic-auth files for test registries
#   the shell linter: used by the ansible-test sanity test of the same name and by `make lint`
#   rsync: mirrors the checkout into build/ for ansible-test
#   git: ansible-test lists collection files via git
#   chromium, chromium-driver: headless browser check of the docs site (tests/docs, `make docs-check`);
#     Debian's builds, driven through Debian's chromedriver (no browser download)
#
# Non-interactive, works as root without stdin. Never leaves the packaged
# docker-registry service running (the tests start their own on free ports).
set -euo pipefail

PACKAGES=(python3-venv docker-registry apache2-utils shellcheck rsync git chromium chromium-driver)

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! is_installed "${pkg}"; then
        missing+=("${pkg}")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps: all Debian packages present (${PACKAGES[*]})"
else
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO=(sudo -n)
        else
            echo "deps: missing ${missing[*]} and not root (no sudo); install them manually" >&2
            exit 1
        fi
    fi

    export DEBIAN_FRONTEND=noninteractive
    # Stop maintainer scripts from starting services (docker-registry would
    # otherwise try to listen on :5000). Only add a policy if none exists.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [[ ! -e "${policy}" ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "${policy}" >/dev/null
        "${SUDO[@]}" chmod 0755 "${policy}"
        created_policy=1
    fi
    cleanup() {
        if [[ ${created_policy} -eq 1 ]]; then
            "${SUDO[@]}" rm -f "${policy}"
        fi
    }
    trap cleanup EXIT

    echo "deps: installing ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq </dev/null
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" </dev/null

    # Belt and braces: if the service we just installed got started anyway, stop it.
    if [[ " ${missing[*]} " != *" docker-registry "* ]]; then
        :
    elif command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        "${SUDO[@]}" systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/docker-registry ]]; then
        "${SUDO[@]}" /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
    fi
fi

for tool in docker-registry htpasswd shellcheck rsync git chromium chromedriver; do
    if ! command -v "${tool}" >/dev/null 2>&1; then
        echo "deps: ${tool} still not found on PATH" >&2
        exit 1
    fi
done

# The tests only use free ephemeral ports, but warn if the packaged service is up.
if command -v ss >/dev/null 2>&1 && ss -ltn 2>/dev/null | awk '{print $4}' | grep -Eq '[:.]5000$'; then
    echo "deps: note: something is listening on :5000 (tests do not rely on it)" >&2
fi
echo "deps: ok"
