#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: attestation
short_description: Delete the artifact attestations of digests (GitHub)
version_added: 0.3.0
description:
  - Deletes every artifact attestation (provenance, SBOM, release and others) whose subject is one of O(digest), as
    GitHub asks after an image is deleted from its registry. Deletion is final; GitHub has no restore.
  - Lists first, with the same token. A digest with no attestation is V(absent) and nothing is sent, so a run again
    changes nothing.
  - Then deletes by digest (GitHub's "delete attestations by subject digest" for one digest, "delete attestations in
    bulk" with up to 1024 digests a request for several), and lists again. That second list decides, not the delete's
    answer (GitHub answers 404 for what a token may not see). A digest still listed fails, with a message that names
    the C(Attestations) (write) permission and the owner; one no longer listed is V(deleted) even when the delete
    answered 404.
  - "Providers: V(github) only; the owner is an organization (V(acme)) or a user (V(user:octocat)). Other providers fail
    before any request, with a message naming what they can do."
  - The token needs the C(Attestations) repository permission (write) on the repositories the attestations were built
    in (a fine-grained token, or a GitHub App's token). A user's attestations are deleted with that user's own token.
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
      - The subject digests (C(sha256:) and 64 hex digits), one or a list. Include every digest that was deleted; an
        image index and its platform manifests are different subjects.
    type: list
    elements: str
    required: true
  state:
    description:
      - Only V(absent) (delete the attestations); attestations are created by builds (C(actions/attest)), not here.
    type: str
    choices: [absent]
    default: absent
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Lists the attestations and reports what would be deleted; sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
notes:
  - Deleting one attestation by its id is not offered. GitHub lists attestations without their ids and has no way to read
    one by id, so the module could neither say in check mode what an id stands for nor tell on a second run whether it
    was deleted already.
  - Deleting by digest removes every attestation of the subject, whatever its predicate type (GitHub's delete takes no
    predicate filter). M(regops.registry.attestation_info) shows them first.
  - Attestations pushed into the registry itself (C(actions/attest) with C(push-to-registry)) are separate images in the
    registry; this module does not touch them.
  - The lists are filtered to what the token may read; a token that cannot see a repository's attestations finds none.
seealso:
  - module: regops.registry.attestation_info
  - module: regops.registry.artifact
  - module: regops.registry.deployment_record
  - name: GitHub attestations REST API (organizations)
    description: The list and delete endpoints this module uses.
    link: https://docs.github.com/rest/orgs/attestations
  - name: Managing the lifecycle of artifact attestations
    description: When GitHub recommends deleting attestations.
    link: https://docs.github.com/actions/how-tos/secure-your-work/use-artifact-attestations/manage-attestations
"""

EXAMPLES = r"""
# api_token from GITHUB_TOKEN
- name: The images are gone from the registry; delete their attestations too
  regops.registry.attestation:
    provider: github
    registry: acme
    digest:
      - sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      - sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
    state: absent

- name: A user's attestations, with that user's token
  regops.registry.attestation:
    provider: github
    registry: user:octocat
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
"""

RETURN = r"""
attestations:
  description: Per digest that had attestations, what was deleted (or would be, in check mode), as listed before.
  returned: always
  type: list
  elements: dict
  contains:
    registry:
      description: The owner, as the task names it.
      type: str
    digest:
      description: The subject digest.
      type: str
    count:
      description: How many attestations of the digest were deleted.
      type: int
    repository_ids:
      description: The ids of the repositories they were built in.
      type: list
      elements: int
    predicate_types:
      description: Their predicate types, where the listed bundle shows them.
      type: list
      elements: str
    attestations:
      description: Each attestation as listed (C(repository_id), C(bundle_url), C(initiator), C(predicate_type)), without its bundle.
      type: list
      elements: dict
actions:
  description: What happened to each digest, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The digest.
      type: str
    action:
      description: V(deleted), V(absent) (none listed, nothing sent) or V(failed) (still listed after the delete).
      type: str
    msg:
      description: Why a digest failed.
      type: str
      returned: when failed
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            digest=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="absent", choices=["absent"]),
        ),
    )
    params = runner.params
    items = [{"registry": params["registry"], "digest": digest} for digest in dict.fromkeys(params["digest"])]
    runner.open("attestation", state=params["state"], validate=lambda p: p.validate("attestation", items))
    runner.ensure("attestation", items, params["state"])


if __name__ == "__main__":
    main()
