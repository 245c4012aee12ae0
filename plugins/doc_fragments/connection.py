# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The connection options every module of the collection shares.
    DOCUMENTATION = r"""
options:
  provider:
    description:
      - The registry API to talk to.
      - V(oci) is any OCI Distribution v2 registry (distribution, Harbor, Docker Hub, GHCR, Quay, zot).
      - V(gcore), V(vultr), V(gitlab), V(github) and V(ncloud) (Naver Cloud Container Registry, from version 0.4.0)
        are the providers' own APIs. A provider that is not available in this version of the collection fails before
        any request, with a message naming the available ones.
      - Each module lists which providers support it; asking a provider for something it cannot do fails
        before any request, with a message that names what that provider can do.
    type: str
    required: true
    choices: [oci, gcore, vultr, gitlab, github, ncloud]
  api_url:
    description:
      - Base URL of the API.
      - For V(oci) this is the registry itself, for example V(https://registry.example.com); a bare host name
        means HTTPS. It is required for V(oci).
      - For the cloud providers it defaults to the provider's public API (V(https://api.gcore.com),
        V(https://api.vultr.com)) and is only set to reach a test emulator or a private endpoint.
      - For V(gitlab) it is the GitLab instance (V(https://gitlab.example.com); a URL ending in C(/api/v4) works too).
        When not set, E(CI_API_V4_URL) is read (as a GitLab CI job sees it), else V(https://gitlab.com).
      - For V(github) it is the REST API root, V(https://api.github.com) by default, or V(https://HOST/api/v3) on
        GitHub Enterprise Server. When not set, E(GITHUB_API_URL) is read (as a GitHub Actions job sees it).
      - For V(ncloud) the O(region) picks it (V(https://ncr.apigw.ntruss.com/ncr/api/v2) for V(kr)). A URL with a path is
        used as it is, including the API gateway's stage prefix (V(https://HOST/ncr/api/v2)); a URL without one (an
        emulator, V(http://127.0.0.1:8080)) gets the region's stage prefix. The prefix is part of what is signed.
    type: str
  oci_url:
    description:
      - The OCI Distribution endpoint of the provider's container registry, for the operations that go over the
        registry itself rather than the provider's API (removing one tag and keeping its siblings).
      - For V(github), V(https://ghcr.io) by default, or V(https://containers.HOST) when O(api_url) is
        V(https://HOST/api/v3) (GitHub Enterprise Server with subdomain isolation).
      - Not used by V(oci), where O(api_url) is the registry, nor by providers that find their registry's host
        through their API.
    type: str
    version_added: 0.3.0
  api_token:
    description:
      - "API token. Gcore API key (sent as C(Authorization: APIKey ...)), Vultr API key (sent as C(Authorization: Bearer ...)),
        GitLab personal, project or group access token (sent as C(PRIVATE-TOKEN: ...)), or a registry token."
      - "For V(gitlab), O(api_username=oauth2) sends the token as an OAuth2 C(Authorization: Bearer ...) token, and
        O(api_username=gitlab-ci-token) as a CI job token (C(JOB-TOKEN: ...)), which GitLab accepts only on the
        registry repositories and tags of the job's own project."
      - For V(oci) with O(api_username), the token is used as the password (GHCR, Quay and Docker Hub access
        tokens); without O(api_username) it is sent as a static C(Bearer) token.
      - When not set, the chosen provider's own environment variable is read, and only that one
        (E(GCORE_API_KEY) for V(gcore), E(VULTR_API_KEY) for V(vultr), E(GITLAB_TOKEN) for V(gitlab); for V(gitlab)
        without E(GITLAB_TOKEN), a CI job's E(CI_JOB_TOKEN), sent as a job token; E(GITHUB_TOKEN), then E(GH_TOKEN),
        for V(github)).
      - "For V(github), a classic personal access token or a GitHub Actions C(GITHUB_TOKEN), sent as
        C(Authorization: Bearer ...). Packages need the C(read:packages) scope, plus C(delete:packages) to delete and
        C(write:packages) to restore or to remove a single tag; GitHub App installation tokens cannot manage packages.
        On ghcr.io itself (O(oci_url)) the same token is the password."
    type: str
  api_username:
    description:
      - User name for HTTP Basic or for the registry's token service (OCI C(WWW-Authenticate) challenge).
      - For V(gitlab), only V(oauth2) or V(gitlab-ci-token) (what kind of token O(api_token) is; see there).
      - For V(github), the user name given to ghcr.io with the token (O(oci_url)); by default the owner the task names.
      - For V(oci), when neither O(api_username) nor O(api_token) is set, credentials for the registry host are
        read from E(REGISTRY_AUTH_FILE), then C($DOCKER_CONFIG/config.json), then C(~/.docker/config.json)
        (the C(auths) entries written by C(docker login) or C(podman login); credential helpers are not used).
    type: str
  api_password:
    description:
      - Password for O(api_username).
    type: str
  access_key:
    description:
      - V(ncloud) only. The NCP API authentication key's Access Key ID (of the account, or of a sub account with a Container
        Registry policy), sent in C(x-ncp-iam-access-key) with every signed request; also the user name for the registry
        host when a tag is removed over its OCI API (as C(docker login) uses it).
      - When not set, E(NCLOUD_ACCESS_KEY) is read (only for V(ncloud)). Masked in the output like a secret.
    type: str
    version_added: 0.4.0
  secret_key:
    description:
      - V(ncloud) only. The Secret Key of O(access_key). It signs every request (API Gateway signature v2, HMAC-SHA256 of the
        method, the path with the stage prefix and the query, a fresh timestamp and the access key) and is never sent
        itself, except as the password for the registry host when a tag is removed over its OCI API.
      - When not set, E(NCLOUD_SECRET_KEY) is read (only for V(ncloud)).
      - A request refused with HTTP 401 while the keys are right usually means the clock of the host that runs the module
        is more than 5 minutes off (each signature carries the time).
    type: str
    version_added: 0.4.0
  project_id:
    description:
      - Gcore Cloud project ID. Falls back to E(GCORE_CLOUD_PROJECT_ID). Only used by V(gcore).
    type: int
  region_id:
    description:
      - Gcore Cloud region ID. Falls back to E(GCORE_CLOUD_REGION_ID). Only used by V(gcore).
    type: int
  region:
    description:
      - For V(ncloud), the NCR region, which picks the API (host and stage prefix) and so which registries the task sees
        and creates. V(kr) (Korea, the default, C(/ncr/api/v2)), V(sgn) (Singapore, C(/ncr/sgn-api/v2)), V(jpn) (Japan,
        C(/ncr/jpn-api/v2)) on C(ncr.apigw.ntruss.com); V(gov-kr) (C(/ncr/kr/v2)) and V(gov-krs) (C(/ncr/krs/v2)) on the
        government zone's C(gov-ncr.apigw.gov-ntruss.com). The name is matched in any case (V(SGN) is V(sgn)); another
        value fails before any request.
      - For V(vultr), an option of M(regops.registry.registry) only (the region to create a registry in; see there).
      - Any other provider, or V(vultr) in another module, fails before any request when it is set.
    type: str
    version_added: 0.4.0
  validate_certs:
    description:
      - Verify the server's TLS certificate. Turn off only for a registry you trust on a network you trust.
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle (PEM file) or a directory of CA certificates to verify the server with, instead of the
        system's. A path that does not exist fails the task before any request.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is retried, with jittered exponential backoff that honours C(Retry-After) (bounded
        to 60 seconds). One policy for every provider, by method and status.
      - A request that is safe to repeat (GET, HEAD, PUT, DELETE, and the POST that opens an OCI blob upload) is
        retried after HTTP 429, any 5xx but 501 and 505, or a connection error. A DELETE answered 404 after a retry
        counts as done.
      - A POST or PATCH that creates or changes something is retried only when the server said it did not act (429,
        503) or the connection was never made, so nothing is created twice.
      - A rate limit is a refusal, so any request that hit one is sent again after the wait it asks for, including a
        403 that is a rate limit (GitHub's secondary limit, with C(Retry-After) or a message naming it, waited out at
        least a minute; a used-up primary limit, C(x-ratelimit-remaining) of 0, until C(x-ratelimit-reset)). A primary
        limit that resets later than the longest wait fails the request at once, saying when it resets.
      - A TLS certificate that fails verification is never retried.
    type: int
    default: 5
  concurrency:
    description:
      - How many requests a bulk operation runs at once over the module's one keep-alive session (1 to 64).
    type: int
    default: 8
notes:
  - "All modules run on the controller or execution environment (C(delegate_to: localhost) or a C(localhost)
    play) and need the Python library C(requests) there."
  - "Every module belongs to the action group C(regops.registry.all), so
    C(module_defaults: {group/regops.registry.all: {provider: ..., api_url: ...}}) sets the connection once."
requirements:
  - requests
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/regops.registry.all) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - regops.registry.all
"""

    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: This module only reads; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: This module does not change anything.
"""
