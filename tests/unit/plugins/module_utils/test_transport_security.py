# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Transport security on every provider, through each provider's own client and credentials.

A redirect to another origin (a registry sending a blob to object storage, a proxy pointing elsewhere) reaches that
host without any credential, whatever header the provider's auth uses; a redirect within the origin keeps them.
TLS verification is on by default, ``ca_path`` trusts a private CA, ``validate_certs: false`` turns it off.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.regops.registry.plugins.module_utils import providers
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import (
    Reply, ScriptedServer, make_certificates, provider_params)

TOKEN = "tok-3b9e1c0f5d7a"
PASSWORD = "pw-6c2d8e4a1f90"
SECRET_KEY = "sk-0a9f8e7d6c5b"
ACCESS_KEY = "ak-ACCESSKEY01"

# Per provider: the options that carry its credentials, and the values that must never reach another origin.
CREDENTIALS = {
    "oci": (dict(api_username="ci", api_password=PASSWORD), [PASSWORD, "Basic "]),
    "gcore": (dict(api_token=TOKEN, project_id=1, region_id=76), [TOKEN]),
    "vultr": (dict(api_token=TOKEN), [TOKEN]),
    "gitlab": (dict(api_token=TOKEN), [TOKEN]),
    "github": (dict(api_token=TOKEN), [TOKEN]),
    "ncloud": (dict(access_key=ACCESS_KEY, secret_key=SECRET_KEY), [ACCESS_KEY, SECRET_KEY]),
}


@pytest.fixture
def connect():
    made = []

    def make(name, api_url, **params):
        options, _values = CREDENTIALS[name]
        base = provider_params(name, api_url, None, retries=0)
        base.update(options, **params)
        provider = providers.provider_class(name)(base)
        provider.connect()
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def servers():
    started = []

    def start(**kwargs):
        server = ScriptedServer(**kwargs).start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


def credential_headers(seen, values):
    """The headers of ``seen`` that carry one of ``values`` (or a signature: any x-ncp-* header)."""
    return dict((name, value) for name, value in seen.headers.items()
                if any(v in value for v in values) or name.lower().startswith("x-ncp-") or name.lower() == "authorization")


def test_every_provider_is_covered():
    assert sorted(CREDENTIALS) == sorted(providers.PROVIDER_NAMES)


@pytest.mark.parametrize("name", sorted(CREDENTIALS))
def test_no_credential_follows_a_redirect_to_another_origin(name, connect, servers):
    origin, elsewhere = servers(), servers()
    origin.route("GET", "/hop", Reply(302, headers={"Location": elsewhere.url + "/landing"}))
    origin.route("GET", "/near", Reply(307, headers={"Location": origin.url + "/landing"}))
    origin.route("GET", "/landing", Reply(200, {}))
    # the oci provider's connect() reads /v2/ and sends credentials once challenged
    origin.route("GET", "/v2/", Reply(401, headers={"WWW-Authenticate": 'Basic realm="registry"'}), Reply(200, {}))
    elsewhere.route("GET", "/landing", Reply(200, {}))
    provider = connect(name, origin.url)
    values = CREDENTIALS[name][1]

    provider.client.request("GET", origin.url + "/hop")
    first = origin.calls("GET", "/hop")[0]
    assert credential_headers(first, values), "the provider's own origin gets its credentials"
    landed = elsewhere.calls("GET", "/landing")
    assert len(landed) == 1 and credential_headers(landed[0], values) == {}
    assert landed[0].headers.get("user-agent", "").startswith("regops.registry/")

    # within the origin, the redirected request is authenticated as the first one was
    provider.client.request("GET", origin.url + "/near")
    assert credential_headers(origin.calls("GET", "/landing")[0], values)


@pytest.mark.parametrize("name", sorted(CREDENTIALS))
def test_tls_is_verified_by_default_and_ca_path_trusts_a_private_ca(name, connect, servers, tmp_path):
    ca, cert, key = make_certificates(tmp_path)
    server = servers(tls=(cert, key))
    server.route("GET", "/ping", Reply(200, {}))
    server.route("GET", "/v2/", Reply(200, {}))

    with pytest.raises(ApiError) as caught:
        connect(name, server.url).client.request("GET", server.url + "/ping")
    assert "could not be verified" in str(caught.value) and "ca_path" in str(caught.value)
    assert server.requests == []  # the handshake failed: nothing was sent

    connect(name, server.url, ca_path=ca).client.request("GET", server.url + "/ping")
    connect(name, server.url, validate_certs=False).client.request("GET", server.url + "/ping")
    assert len(server.calls("GET", "/ping")) == 2
