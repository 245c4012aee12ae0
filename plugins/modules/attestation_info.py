#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: attestation_info
short_description: List the artifact attestations of digests (GitHub)
version_added: 0.3.0
description:
  - Lists the artifact attestations whose subject is one of O(digest), optionally of one predicate type.
  - One digest is listed with GitHub's "list attestations" (C(Link) pages of 100); several with "list attestations by
    bulk subject digests" (up to 1024 digests a request, C(page_info) cursors).
  - The list is filtered to what the token may read.
  - "Providers: V(github) only; the owner is an organization (V(acme)) or a user (V(user:octocat)). Other providers fail
    before any request, with a message naming what they can do."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The owner of the repositories the attestations belong to, an organization (V(acme)) or a user (V(user:octocat)).
    type: str
    required: true
  digest:
    description:
      - The subject digests (C(sha256:) and 64 hex digits), one or a list.
    type: list
    elements: str
    required: true
  predicate_type:
    description:
      - Only attestations of this predicate type, as GitHub takes it (V(provenance), V(sbom), V(release), or a predicate
        type URL).
    type: str
  bundle:
    description:
      - Return each attestation's Sigstore bundle too (RV(attestations[].bundle)). The bundles are large, so they are
        left out by default.
    type: bool
    default: false
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - regops.registry.connection.info_module
  - ansible.builtin.action_common_attributes
attributes:
  platform:
    platforms: all
seealso:
  - module: regops.registry.attestation
  - name: GitHub attestations REST API (organizations)
    description: The list endpoints this module uses.
    link: https://docs.github.com/rest/orgs/attestations
"""

EXAMPLES = r"""
- name: The attestations of an image
  regops.registry.attestation_info:
    provider: github
    registry: acme
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
  register: found

- name: Only the SBOMs of several images, with their bundles
  regops.registry.attestation_info:
    provider: github
    registry: acme
    digest: "{{ digests }}"
    predicate_type: sbom
    bundle: true
"""

RETURN = r"""
attestations:
  description: The attestations, by digest in the order given, each digest's in GitHub's order.
  returned: always
  type: list
  elements: dict
  contains:
    subject_digest:
      description: The digest the attestation is about.
      type: str
    repository_id:
      description: The id of the repository it was built in.
      type: int
    bundle_url:
      description: Where GitHub serves the bundle.
      type: str
    initiator:
      description: Who created it, as GitHub says (for several digests GitHub does not return it, V(null)).
      type: str
    predicate_type:
      description: The predicate type from the bundle's statement; V(null) when GitHub returns no bundle.
      type: str
    bundle:
      description: The Sigstore bundle, as GitHub returns it.
      type: dict
      returned: when O(bundle=true)
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            digest=dict(type="list", elements="str", required=True),
            predicate_type=dict(type="str"),
            bundle=dict(type="bool", default=False),
        ),
    )
    params = runner.params
    digests = list(dict.fromkeys(params["digest"]))
    items = [{"registry": params["registry"], "digest": digest} for digest in digests]
    runner.open("attestation", info=True, validate=lambda p: p.validate("attestation", items, {"predicate_type": params["predicate_type"]}))
    runner.info("attestation", {"registry": params["registry"], "digest": digests, "predicate_type": params["predicate_type"],
                                "bundle": params["bundle"]}, "attestations")


if __name__ == "__main__":
    main()
