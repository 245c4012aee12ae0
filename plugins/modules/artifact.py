#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: artifact
short_description: Delete artifacts (manifests) by digest, or make sure they exist
version_added: 0.1.0
description:
  - With O(state=absent), deletes each artifact in O(digest). Deleting an artifact removes every tag that points
    at it, and the result lists which tags went with it.
  - With O(expected_tags), a digest is deleted only when the tags the module reads on it are among the ones expected. A
    tag pushed onto it since you looked keeps the digest, which is skipped and reported instead. The module reads each
    digest again right before its delete on V(github), V(gitlab) (each of its tags) and V(vultr). V(gcore) and
    V(ncloud), whose APIs have no read of one digest, list the repository's artifacts (Gcore) or the image's tags (NCR)
    again right before each delete; deletes that wait at the same moment share one listing. On V(oci) the last read is
    at the start of the call, so a tag pushed onto a listed digest during the call's deletes can go with it; on
    V(gitlab) such a tag survives (GitLab deletes by tag), but the digest is reported V(deleted).
  - A manifest that a tagged index of the same repository lists (a platform image of a multi-arch image) is not
    deleted unless that index is deleted in the same call; it is skipped and reported, so no image is left pointing
    at a missing manifest. The index is deleted first.
  - With O(state=present), only checks that each artifact exists and returns it; the module does not push
    images. It fails when one is missing.
  - Many digests are one module call, run concurrently (O(concurrency)) over one keep-alive connection.
  - "On V(oci), deleting an image index leaves its child manifests in the registry (untagged) until they are
    deleted too or the registry's garbage collection removes them. Storage is reclaimed only by the registry's
    garbage collection."
  - "Providers: V(oci), V(gcore), V(vultr) (each deletes by digest with the provider's own API where it has one), V(gitlab)
    and V(ncloud) (by deleting every tag on the digest)."
  - "On V(ncloud), O(registry) is the NCR registry and O(repository) the image. NCR's API deletes by tag only: deleting an
    artifact deletes every tag on its digest with C(DELETE /repositories/{registry}/{image}/tags/{tag}) (a 404 after the first
    means NCR removed the manifest, and the other tags with it, at the first). The image's tags are read again right before:
    a tag found on the digest that the read (or O(expected_tags)) did not have keeps the digest, reported V(skipped) with
    reason V(tags_changed). A digest with no tag is invisible to NCR's API and is reported V(absent)."
  - "On V(gitlab), GitLab's API deletes by tag only: deleting an artifact deletes every tag on its digest (one request each),
    and GitLab's garbage collection then removes the untagged manifest (on GitLab.com automatically, on Self-Managed when an
    administrator runs it). Each tag is read again right before: when one no longer points at the digest, nothing is deleted
    and the digest is reported V(skipped) with reason V(tags_changed). Tags a tag protection rule names go first, so a
    protected tag (HTTP 403) stops the delete before another tag of the digest is removed. Two runs at once that split a
    digest's tags report it once: V(deleted) by the run that removed its first tag in that order (over the tags
    O(expected_tags) lists), V(absent) by the other. A digest with no tag is invisible to GitLab's API and is reported
    V(absent): its garbage collection removes it."
  - "On V(github), an artifact is a version of a container package on ghcr.io (O(registry) is the owner, O(repository) the
    package), found by its digest or by its version id (O(version_id)); deleting it deletes the version by id, tags and all.
    GitHub refuses to delete a package's last version: see O(on_last_version). O(state=present) restores a version deleted
    within GitHub's 30-day window (reported V(created), C(changed)); it is V(unchanged) when the version is active, and fails
    when GitHub has no such version to restore. With O(expected_tags) naming a digest, the version's tags are read again
    right before its delete. At most four writes run at once (fewer with a lower O(concurrency)), to stay under GitHub's
    secondary rate limits. Needs a classic personal access token with C(read:packages), C(delete:packages) to delete and
    C(write:packages) to restore; GitHub App installation tokens cannot manage packages."
  - "On V(github), O(storage_record) makes the module work on the storage records of GitHub's artifact metadata (where
    each digest is stored) instead of on the artifacts: records are created, updated, and marked deleted."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(gitlab), the project, by its full path (V(acme/app)) or numeric id.
      - On V(github), the package owner, an organization login (V(acme)) or V(user:<login>) for the packages of the
        token's user (V(user:octocat)).
      - On V(ncloud), the NCR registry.
    type: str
  repository:
    description:
      - The repository of the artifacts. Not needed when every entry of O(digest) is written as C(repository@digest).
      - On V(github), the container package (V(app), V(team/app)). Required with O(version_id).
    type: str
  digest:
    description:
      - One digest or a list (C(sha256:...)). An entry C(repository@sha256:...) names its own repository, so one call
        can work on many repositories.
      - One of O(digest) and O(version_id) is required.
      - On V(github), C(sha256) digests only (ghcr.io names versions by their sha256 digest).
    type: list
    elements: str
  state:
    description:
      - V(absent) deletes the artifacts; V(present) checks that they exist.
    type: str
    choices: [present, absent]
    default: present
  expected_tags:
    description:
      - Only with O(state=absent). A mapping from a digest (or C(repository@digest)) to the tags you expect on it.
        When the artifact now carries a tag that is not in its list, it is not deleted; it is reported in RV(actions)
        with V(skipped) and the reason. Digests not in the mapping are deleted unconditionally.
      - The C(regops.registry.cleanup) role uses this to re-check its plan just before deleting.
    type: dict
  version_id:
    description:
      - V(github) only. Package versions by their GitHub id (the C(provider_data.version_id) of
        M(regops.registry.artifact_info)), in the package O(repository), besides or instead of O(digest). Each is read
        first (active and deleted versions) to find its digest; an id GitHub does not know is reported as
        C(repository@version_id:<id>), V(absent) with O(state=absent) and V(failed) with O(state=present).
    type: list
    elements: int
    version_added: 0.3.0
  on_last_version:
    description:
      - V(github) only, with O(state=absent). GitHub refuses to delete the last version of a package (HTTP 400 C(You cannot
        delete the last version of a package)), and on some packages its last tagged version. When the active versions a
        task deletes are every version the package has (seen in the version list, read again before anything is sent),
        O(on_last_version) says what happens.
      - V(fail) deletes nothing of that package and reports each of its digests V(failed), with a message saying to set
        V(delete_package). In check mode the task fails with the same message. Other packages in the same call are still
        deleted.
      - V(delete_package) deletes the package instead (one request; GitHub can restore it for 30 days); its digests are
        reported V(deleted), RV(deleted_packages) names it and a warning says so.
      - When GitHub refuses anyway (the "last tagged version" rule, or a version pushed meanwhile), V(fail) reports that
        digest V(failed), and V(delete_package) deletes the package, with any untagged versions left in it.
    type: str
    choices: [fail, delete_package]
    default: fail
    version_added: 0.3.0
  storage_record:
    description:
      - V(github) only, for an organization. Work on the storage records of each O(digest) in GitHub's artifact metadata
        (where the artifact is stored, in which registry and repository, with which status) instead of on the artifacts themselves. O(repository),
        O(version_id), O(expected_tags) and O(on_last_version) do not go with it, and O(digest) takes plain C(sha256:)
        digests. The result is in RV(storage_records).
      - With O(state=present), creates or updates the record of each digest named by C(name), C(registry_url) (both required)
        and C(repository) (left out, the one record with that name and registry URL, whatever its repository), with C(status)
        (V(active) when left out). A value left out is left alone. A record already as the task says is V(unchanged), and
        nothing is sent.
      - With O(state=absent), sets C(status) V(deleted) (GitHub cannot delete a record) on the records of each digest that
        match the C(name), C(registry_url) and C(repository) given; with none given (C(storage_record={})), on every record
        of the digest. A record already deleted, or a digest with no matching record, is V(absent) and nothing is sent.
      - GitHub does not return C(version), C(path) and C(github_repository) when it lists records. They are sent with every
        write of a record, but a change of only those is not seen (the record stays V(unchanged)).
      - Writing a storage record needs the C(Contents) repository permission (write) on the artifact's repository (a
        fine-grained token or GitHub App), or a classic token with access to it.
    type: dict
    version_added: 0.3.0
    suboptions:
      name:
        description: The artifact's name (1 to 256 characters), for example the image name.
        type: str
      registry_url:
        description: The base URL of the registry (an C(https://) URL, at most 256 characters), for example V(https://ghcr.io).
        type: str
      repository:
        description: The repository within the registry (at most 128 characters), for example V(acme/app).
        type: str
      version:
        description: The artifact's version (1 to 100 characters).
        type: str
      path:
        description: The artifact's path in the registry (at most 512 characters).
        type: str
      artifact_url:
        description: Where the artifact is stored (an C(https://) URL, at most 152 characters). Left out, the record's stays.
        type: str
      github_repository:
        description:
          - The repository of the organization that built the artifact (letters, digits, C(.), C(-), C(_)). GitHub needs it
            when the artifact has no provenance attestation, and uses the attestation's repository otherwise.
        type: str
      status:
        description:
          - V(active), V(eol) (end of life) or V(deleted). With O(state=present), V(active) when left out. With O(state=absent)
            it can only be V(deleted).
        type: str
        choices: [active, eol, deleted]
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the registry (including the O(expected_tags) check), reports what would be deleted, and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.artifact_info
  - module: regops.registry.tag
"""

EXAMPLES = r"""
- name: Delete two images and every tag on them
  regops.registry.artifact:
    provider: oci
    api_url: https://registry.example.com
    repository: team/app
    digest:
      - sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      - sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
    state: absent

- name: Delete only if nobody tagged it since the plan was made
  regops.registry.artifact:
    provider: oci
    api_url: https://registry.example.com
    digest: team/app@sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    expected_tags:
      team/app@sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b: [pr-101, pr-101-amd64]
    state: absent

- name: Delete two versions of a ghcr.io package, by digest and by version id; delete the package if they are its last
  regops.registry.artifact:
    provider: github            # api_token from GITHUB_TOKEN: a classic PAT with read:packages and delete:packages
    registry: acme
    repository: team/app
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    version_id: [184930021]
    on_last_version: delete_package
    state: absent

- name: Restore a version deleted by mistake (GitHub keeps it for 30 days; needs write:packages)
  regops.registry.artifact:
    provider: github
    registry: user:octocat
    repository: app
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    state: present

- name: Delete an image of a GitLab project by digest (every tag on it goes)
  regops.registry.artifact:
    provider: gitlab
    registry: acme/app
    repository: acme/app/worker
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    state: absent

- name: Record where an image is stored (GitHub artifact metadata)
  regops.registry.artifact:
    provider: github
    registry: acme
    digest: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    storage_record:
      name: app
      registry_url: https://ghcr.io
      repository: acme/app
      version: 1.4.2

- name: The images were deleted from the registry; mark every storage record of them deleted
  regops.registry.artifact:
    provider: github
    registry: acme
    digest:
      - sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      - sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b
    storage_record: {}
    state: absent

- name: Delete a digest of a Naver Cloud image with every tag on it, unless a tag was pushed onto it since
  regops.registry.artifact:
    provider: ncloud            # access_key and secret_key from NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY
    registry: builds
    repository: team/app
    digest: [sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b]
    expected_tags:
      sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b: [pr-101, pr-101-debug]
    state: absent
"""

RETURN = r"""
artifacts:
  description:
    - For O(state=absent), the artifacts deleted, as they were before (with the tags that went with them). For
      O(state=present), the artifacts found. Skipped and already-absent digests are not listed.
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository of the artifact.
      type: str
      sample: team/app
    digest:
      description: The artifact's digest.
      type: str
    media_type:
      description: Media type of the manifest.
      type: str
      sample: application/vnd.oci.image.manifest.v1+json
    size_bytes:
      description: Size of the manifest and the blobs it references directly, in bytes (an index counts only itself).
      type: int
    tags:
      description: The tags on the artifact (for a deleted one, the tags that went with it).
      type: list
      elements: str
    pushed_at:
      description: Push time where the provider records it (ISO 8601 UTC); V(null) on V(oci).
      type: str
    pulled_at:
      description: Last pull time where the provider records it; V(null) on V(oci).
      type: str
    created_at:
      description:
        - Creation time where the provider records it. V(null) on V(oci), where this module does not read image configs
          (one request per image saved); M(regops.registry.artifact_info) returns it.
      type: str
    platforms:
      description: Platforms (C(os/architecture[/variant])) of an index's children.
      type: list
      elements: str
    children:
      description: For an index, its child manifests (C(digest), C(media_type), C(platform)).
      type: list
      elements: dict
    subject:
      description: For a referrer (signature, SBOM), the digest it refers to.
      type: str
    referenced_by:
      description: The indexes, reachable from a tag of the same repository, that list this manifest (V(oci)).
      type: list
      elements: str
      returned: on V(oci)
    status:
      description: Lifecycle status where the provider keeps one; V(null) otherwise.
      type: str
    provider_data:
      description:
        - Provider-specific extras.
        - On V(gitlab) C(revision), C(project_id), C(repository_id) and C(tags) (C(name), C(pushed_at), C(location)).
        - On V(github) C(version_id), C(html_url), C(package_html_url) and C(deleted_at).
        - On V(ncloud) C(tags) (C(name), C(pushed_at), C(pulled_at)).
      type: dict
deleted_packages:
  description:
    - V(github) with O(on_last_version=delete_package). The packages deleted instead of their last versions (in check mode,
      the ones that would be).
  returned: when a package was (or would be) deleted instead of its last version
  type: list
  elements: str
  sample: [team/app]
storage_records:
  description:
    - With O(storage_record), the storage records the task is about, as they are after the run (or would be, in check mode);
      with O(state=absent), records already deleted as they are. Failed ones are not listed.
  returned: with O(storage_record)
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
      description: The artifact's name.
      type: str
    registry_url:
      description: The registry's base URL.
      type: str
    repository:
      description: The repository within the registry, or V(null).
      type: str
    artifact_url:
      description: Where the artifact is stored, or V(null).
      type: str
    status:
      description: V(active), V(eol) or V(deleted).
      type: str
    version:
      description: The version as written by this run (GitHub does not return it when it lists records), else V(null).
      type: str
    path:
      description: The path as written by this run, else V(null).
      type: str
    github_repository:
      description: The repository as written by this run, else V(null).
      type: str
    id:
      description: GitHub's record id; V(null) in check mode for a new record.
      type: int
    created_at:
      description: When GitHub created the record.
      type: str
    updated_at:
      description: When GitHub last changed the record.
      type: str
actions:
  description: What happened to each digest, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(repository@digest).
      type: str
    action:
      description:
        - One of V(deleted), V(unchanged) (present and found), V(absent), V(skipped), V(failed).
        - V(created) on V(github) with O(state=present) for a deleted version that was restored.
      type: str
    reason:
      description:
        - Why an item was skipped. V(tags_changed) (it carries a tag O(expected_tags) did not list, or on V(gitlab) one of its
          tags no longer points at it) or V(index_child) (an index that stays lists it).
      type: str
      returned: when an item was skipped
    msg:
      description: Why an item was skipped or failed.
      type: str
      returned: when an item was skipped or failed
"""

from ansible_collections.regops.registry.plugins.module_utils.api import ApiError
from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule, split_refs


def deletion_guards(items, expected):
    """The engine's skip rule for state=absent: what must hold for a digest to be deleted."""
    deleting = set((item["repository"], item["digest"]) for item in items)

    def check(item, current):
        kept_parents = [p for p in current.get("referenced_by") or [] if (item["repository"], p) not in deleting]
        if kept_parents:
            return "index_child", ("index(es) %s list this manifest and stay; deleting it would break them: delete the index too"
                                   % ", ".join(kept_parents))
        wanted = expected.get("%s@%s" % (item["repository"], item["digest"]), expected.get(item["digest"]))
        if wanted is None:
            return None
        extra = sorted(set(current.get("tags") or []) - set(wanted))
        if extra:
            return "tags_changed", "tag(s) %s now point at this digest but were not expected; not deleted" % ", ".join(extra)
        return None
    return check


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str"),
            repository=dict(type="str"),
            digest=dict(type="list", elements="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            expected_tags=dict(type="dict"),
            storage_record=dict(type="dict", options=dict(
                name=dict(type="str"),
                registry_url=dict(type="str"),
                repository=dict(type="str"),
                version=dict(type="str"),
                path=dict(type="str"),
                artifact_url=dict(type="str"),
                github_repository=dict(type="str"),
                status=dict(type="str", choices=["active", "eol", "deleted"]),
            )),
            version_id=dict(type="list", elements="int"),
            on_last_version=dict(type="str", default="fail", choices=["fail", "delete_package"]),
        ),
        required_one_of=[("digest", "version_id")],
    )
    params = runner.params
    if params["storage_record"] is not None:
        storage_record_main(runner)
        return
    if params["expected_tags"] is not None and params["state"] != "absent":
        runner.fail("expected_tags only applies to state=absent")
    if params["version_id"] and not params["repository"]:
        runner.fail("version_id needs repository: the package the version ids belong to")
    if params["on_last_version"] != "fail" and params["state"] != "absent":
        runner.fail("on_last_version only applies to state=absent")
    try:
        items = split_refs(params["digest"] or [], params["repository"], "@", "digest", registry=params["registry"])
        expected = dict((key, [str(t) for t in (value or [])]) for key, value in (params["expected_tags"] or {}).items())
    except (ValueError, TypeError) as exc:
        runner.fail(str(exc))
    options = (["expected_tags"] if expected else []) + (["version_id"] if params["version_id"] else [])
    options += runner.set_away_from_default("on_last_version")
    provider = runner.open("artifact", state=params["state"], options=options, validate=lambda p: p.validate("artifact", items))
    if params["version_id"]:
        try:
            named = set((item["repository"], item["digest"]) for item in items)
            for item in provider.resolve_version_ids(params["registry"], params["repository"], params["version_id"]):
                if (item["repository"], item["digest"]) not in named:
                    named.add((item["repository"], item["digest"]))
                    items.append(item)
        except (ApiError, ValueError) as exc:
            runner.fail(str(exc))
    # A provider that can bring an artifact back (GitHub restores a deleted version) creates it for state=present.
    runner.ensure("artifact", items, params["state"], skip_if=deletion_guards(items, expected), can_create=hasattr(provider, "create_artifact"))


def storage_record_main(runner):
    """``storage_record``: the storage records (GitHub artifact metadata) of each digest, instead of the artifacts."""
    params = runner.params
    given = [name for name in ("repository", "version_id", "expected_tags") if params.get(name) not in (None, [], {})]
    given += [name for name in ("on_last_version",) if params.get(name) not in (None, "fail")]
    if given:
        runner.fail("storage_record works on the storage records of each digest: %s cannot go with it (the record's repository "
                    "within the registry is storage_record.repository)" % ", ".join(given))
    if not params["digest"]:
        runner.fail("storage_record needs digest: the digests whose storage records to write")
    if not params["registry"]:
        runner.fail("storage_record needs registry: the organization that owns the artifact metadata")
    record, state = params["storage_record"], params["state"]
    items = []
    for digest in dict.fromkeys(params["digest"]):
        item = {"registry": params["registry"], "digest": digest, "name": record["name"], "registry_url": record["registry_url"]}
        if record["repository"] is not None:
            item["record_repository"] = record["repository"]
        items.append(item)
    desired = dict((key, record[key]) for key in ("status", "artifact_url", "version", "path", "github_repository"))
    desired["state"] = state
    provider = runner.open("storage_record", state=state, validate=lambda p: p.validate("storage_record", items, desired))
    if state == "absent":
        try:
            items = provider.plan_records("storage_record", items, desired)
        except (ApiError, ValueError) as exc:
            runner.fail(str(exc))
    runner.ensure("storage_record", items, state, desired)


if __name__ == "__main__":
    main()
