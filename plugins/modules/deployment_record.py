#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: deployment_record
short_description: Record where an image is deployed, or that it no longer is (GitHub artifact metadata)
version_added: 0.3.0
description:
  - Manages the deployment records of GitHub's artifact metadata (the organization's linked artifacts), which say
    which digest runs in which environment, cluster and deployment.
  - A record is identified by O(logical_environment), O(physical_environment), O(cluster) and O(deployment_name) (its
    key) and holds one digest. GitHub's API upserts, so writing a key again updates its record (and moves it to the
    digest written).
  - With O(state=present), records each deployment with status C(deployed), creating or updating it. Tags, runtime
    risks and version that the task leaves out are sent as the record has them, so they are left alone.
  - With O(state=absent), sets status C(decommissioned) on every record of each O(digest) that matches the key fields
    the task gives (every record of the digest when it gives none). GitHub cannot delete a deployment record. A digest
    with no matching record is reported V(absent) and nothing is sent.
  - Several records of one cluster (same O(cluster), O(logical_environment) and O(physical_environment)) are written in
    one request (GitHub's "set cluster deployment records", up to 1000), with partial success; a record GitHub
    refuses (HTTP 207) is reported V(failed) on its own and the others are written. More than 1000 records of a cluster
    go through GitHub's cluster records job (up to 5000 a job, one job at a time), which the module polls until it ends
    (at most 10 minutes); RV(deployment_jobs) reports each job.
  - "B(Status not returned:) GitHub's documented deployment record has no C(status) (nor C(name), C(version),
    C(github_repository)). When GitHub does not return the status, the module cannot tell a deployed record from a
    decommissioned one: it writes the record on every run and reports it changed (with a warning), in check mode too.
    It never reports V(unchanged) or V(absent) for a record whose status it cannot see. Where GitHub returns the status,
    a record already in the wanted state is V(unchanged) and nothing is sent."
  - "A decommission is written with the artifact's name, which GitHub requires. When the task does not give O(name) and
    GitHub does not return it with the record, the module takes it from the digest's storage records (when they all
    have one name), and otherwise fails before any change."
  - "Providers: V(github) only, organizations only (artifact metadata does not exist for a V(user:<login>) owner; that
    fails before any request). Other providers fail before any request, with a message naming what they can do."
  - The token needs the C(Contents) or C(Artifact metadata) repository permission (write) on the repositories the
    artifacts were built in (a fine-grained token or GitHub App), or a classic token with access to them.
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The organization that owns the records (its login, V(acme)).
    type: str
    required: true
  digest:
    description:
      - The artifact's digest (C(sha256:) and 64 hex digits; GitHub takes sha256 only), or a list.
      - With O(state=present), one digest (a record holds one digest); use O(deployments) for several.
      - With O(state=absent), the digests whose records to decommission.
      - One of O(digest) and O(deployments) is required.
    type: list
    elements: str
  deployments:
    description:
      - Several deployments of one cluster in one call (a cluster agent reporting what runs), each with its own digest
        and O(deployment_name). O(logical_environment), O(physical_environment) and O(cluster) apply to all of them.
      - The other options of the task (O(name), O(version), O(tags), O(runtime_risks), O(github_repository)) are defaults
        for the entries.
      - With O(state=absent), the entries name the records to decommission (digest and deployment name).
    type: list
    elements: dict
    suboptions:
      digest:
        description: The digest deployed.
        type: str
        required: true
      deployment_name:
        description: The deployment's name, unique within the list.
        type: str
        required: true
      name:
        description: The artifact's name.
        type: str
      version:
        description: The artifact's version.
        type: str
      tags:
        description: Tags of the record (at most 5).
        type: dict
      runtime_risks:
        description: Runtime risks of the deployment.
        type: list
        elements: str
        choices: [critical-resource, internet-exposed, lateral-movement, sensitive-data]
      github_repository:
        description: The repository of the organization that built the artifact.
        type: str
  name:
    description:
      - The artifact's name (1 to 256 characters), for example the image name. Required with O(state=present). GitHub
        keeps one name and version per artifact (repository and digest).
    type: str
  version:
    description:
      - The artifact's version (1 to 100 characters).
    type: str
  logical_environment:
    description:
      - The stage of the deployment (V(prod), V(staging)), 1 to 128 characters. Required with O(state=present).
      - With O(state=absent), only records of this stage (any stage when left out).
    type: str
  physical_environment:
    description:
      - The region of the deployment, at most 128 characters.
      - With O(state=present), left out means the record has none; with O(state=absent), left out means any.
    type: str
  cluster:
    description:
      - The cluster (letters, digits, C(.), C(_) and C(-), at most 128 characters).
      - With O(state=present), left out means the record has none; with O(state=absent), left out means any.
    type: str
  deployment_name:
    description:
      - The deployment's name (at most 256 characters); GitHub recommends C({namespace}-{deployment}-{container}).
        Required with O(state=present) (unless O(deployments) is used).
      - With O(state=absent), only the records of this deployment (any when left out).
    type: str
  tags:
    description:
      - Tags of the record, at most 5, names to strings (numbers are sent as strings). Left out, the record's tags stay.
    type: dict
  runtime_risks:
    description:
      - Runtime risks of the deployment, each at most once (at most 4). Left out, the record's risks stay.
    type: list
    elements: str
    choices: [critical-resource, internet-exposed, lateral-movement, sensitive-data]
  github_repository:
    description:
      - The repository of the organization that built the artifact (letters, digits, C(.), C(-), C(_)). GitHub needs it
        when the artifact has no provenance attestation, and uses the attestation's repository otherwise.
      - GitHub does not return it with the record, so it is sent with every write but cannot be compared.
    type: str
  state:
    description:
      - V(present) records the deployments as C(deployed); V(absent) marks the matching records C(decommissioned).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the records (and, for a decommission without O(name), the digest's storage records), reports what would be
        written, and sends no mutating request.
      - A record whose status GitHub does not return is predicted changed, as it is for real.
  diff_mode:
    support: full
  platform:
    platforms: all
notes:
  - GitHub's documentation describes "set cluster deployment records" as updating the records of the cluster that the
    request names and creating the others; this module leaves the cluster's other records alone either way.
seealso:
  - module: regops.registry.artifact
    description: Its O(regops.registry.artifact#module:storage_record) option manages the storage records.
  - module: regops.registry.artifact_info
  - module: regops.registry.attestation
  - name: GitHub artifact metadata REST API
    description: The deployment record endpoints this module uses.
    link: https://docs.github.com/rest/orgs/artifact-metadata
  - name: Removing artifacts from the linked artifacts page
    description: Why records are decommissioned rather than deleted.
    link: https://docs.github.com/code-security/how-tos/secure-your-supply-chain/establish-provenance-and-integrity/remove-linked-artifacts
"""

EXAMPLES = r"""
# api_token from GITHUB_TOKEN
- name: Record that an image runs in production
  regops.registry.deployment_record:
    provider: github
    registry: acme
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    name: app
    version: 1.4.2
    logical_environment: prod
    physical_environment: eu-west-1
    cluster: prod-eu-1
    deployment_name: shop-web-app
    tags:
      team: shop
    runtime_risks: [internet-exposed]

- name: Report what runs in a cluster, in one request
  regops.registry.deployment_record:
    provider: github
    registry: acme
    logical_environment: prod
    cluster: prod-eu-1
    deployments:
      - digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
        deployment_name: shop-web-app
        name: app
      - digest: sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
        deployment_name: shop-worker-app
        name: worker

- name: The images were deleted from the registry; mark every deployment of them decommissioned
  regops.registry.deployment_record:
    provider: github
    registry: acme
    digest:
      - sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      - sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
    state: absent
"""

RETURN = r"""
deployment_records:
  description:
    - The records the task is about, as they are after the run (or would be, in check mode); records already
      decommissioned (O(state=absent)) as they are. Failed ones are not listed.
  returned: always
  type: list
  elements: dict
  contains:
    registry:
      description: The organization, as the task names it.
      type: str
    digest:
      description: The artifact's digest.
      type: str
    name:
      description: The artifact's name, as GitHub returns it, else as the module wrote it; V(null) when neither.
      type: str
    version:
      description: The artifact's version, as GitHub returns it, else as written; V(null) when neither.
      type: str
    status:
      description:
        - V(deployed) or V(decommissioned), as GitHub returns it, else the status the module wrote; V(null) for a record
          only read whose status GitHub does not return.
      type: str
    logical_environment:
      description: The stage.
      type: str
    physical_environment:
      description: The region, or V(null).
      type: str
    cluster:
      description: The cluster, or V(null).
      type: str
    deployment_name:
      description: The deployment's name.
      type: str
    tags:
      description: The record's tags.
      type: dict
    runtime_risks:
      description: The runtime risks.
      type: list
      elements: str
    github_repository:
      description: The repository, as GitHub returns it, else as written; V(null) when neither.
      type: str
    id:
      description: GitHub's record id; V(null) in check mode for a new record, and for records written by a cluster job.
      type: int
    attestation_id:
      description: The id of the artifact's provenance attestation, or V(null).
      type: int
    created_at:
      description: When GitHub created the record.
      type: str
    updated_at:
      description: When GitHub last changed the record.
      type: str
actions:
  description: What happened to each record, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(digest logical/physical/cluster/deployment_name) (C(-) for a part the record has not), or the digest alone.
      type: str
    action:
      description:
        - V(created), V(updated), V(deleted) (set to C(decommissioned)), V(unchanged), V(absent) (already decommissioned,
          or the digest has no matching record), V(failed).
      type: str
    msg:
      description: Why a record failed (with GitHub's cause for a record refused in a cluster request).
      type: str
      returned: when failed
deployment_jobs:
  description: The cluster records jobs the run started (more than 1000 records of one cluster).
  returned: when a job ran
  type: list
  elements: dict
  contains:
    cluster:
      description: The cluster.
      type: str
    job_id:
      description: GitHub's job id.
      type: int
    status:
      description: The job's last status (V(completed), V(failed), or V(pending) / V(processing) when the wait ended first).
      type: str
    total_count:
      description: How many records GitHub says the job wrote.
      type: int
    records:
      description: How many records the job was given.
      type: int
    errors:
      description: The errors GitHub reported for the job (rejected at creation, or while processing).
      type: list
      elements: dict
"""

from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule

RISKS = ["critical-resource", "internet-exposed", "lateral-movement", "sensitive-data"]
KEYS = ("logical_environment", "physical_environment", "cluster")
VALUES = ("name", "version", "tags", "runtime_risks", "github_repository")


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str", required=True),
            digest=dict(type="list", elements="str"),
            deployments=dict(type="list", elements="dict", options=dict(
                digest=dict(type="str", required=True),
                deployment_name=dict(type="str", required=True),
                name=dict(type="str"),
                version=dict(type="str"),
                tags=dict(type="dict"),
                runtime_risks=dict(type="list", elements="str", choices=RISKS),
                github_repository=dict(type="str"),
            )),
            name=dict(type="str"),
            version=dict(type="str"),
            logical_environment=dict(type="str"),
            physical_environment=dict(type="str"),
            cluster=dict(type="str"),
            deployment_name=dict(type="str"),
            tags=dict(type="dict"),
            runtime_risks=dict(type="list", elements="str", choices=RISKS),
            github_repository=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_one_of=[("digest", "deployments")],
        mutually_exclusive=[("digest", "deployments"), ("deployment_name", "deployments")],
    )
    params = runner.params
    state = params["state"]
    key = dict((k, params[k]) for k in KEYS)
    if params["deployments"] is not None:
        if not params["deployments"]:
            runner.fail("deployments is empty: give at least one deployment (digest and deployment_name)")
        items = [dict(key, registry=params["registry"], digest=entry["digest"], deployment_name=entry["deployment_name"], listed=True,
                      entry=dict((k, entry[k]) for k in VALUES if entry.get(k) is not None)) for entry in params["deployments"]]
    else:
        digests = list(params["digest"])
        if state == "present" and len(set(digests)) > 1:
            runner.fail("digest: state=present records one deployment, which holds one digest; give one digest, or use deployments "
                        "(each with its digest and deployment_name) for several")
        items = [dict(key, registry=params["registry"], digest=digest, deployment_name=params["deployment_name"], entry={})
                 for digest in dict.fromkeys(digests)]
    desired = dict((k, params[k]) for k in VALUES)
    desired["status"] = "deployed" if state == "present" else "decommissioned"
    provider = runner.open("deployment_record", state=state, validate=lambda p: p.validate("deployment_record", items, desired))
    if state == "absent":
        try:
            items = provider.plan_records("deployment_record", items, desired)
        except (ApiError, UnsupportedError, ValueError) as exc:
            runner.fail(str(exc))
    runner.ensure("deployment_record", items, state, desired)


if __name__ == "__main__":
    main()
