#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tag
short_description: Point tags at a manifest, or remove tags without touching the manifest
version_added: 0.1.0
description:
  - With O(state=present), points each tag in O(name) at a digest (O(digest)), or at the manifest another tag
    names (O(source)) to retag or promote, in the same repository or across repositories of the same registry.
    A tag already on that digest is left alone.
  - With O(state=absent), removes each tag in O(name). Only the tag goes; the manifest and every other tag on
    the same digest stay.
  - "On V(oci): a registry that implements the OCI 1.1 tag C(DELETE) is asked to untag; otherwise (distribution
    2.8, Harbor's C(/v2)) every tag to remove in a repository is pointed at one throwaway manifest made for this
    run, and that manifest's digest is deleted, which removes exactly those tags. The registry must allow
    manifest deletes; this is checked before any tag is touched. The throwaway's two small blobs stay until the
    registry's garbage collection."
  - Many tags are one module call, run concurrently (O(concurrency)) over one keep-alive connection.
  - "Providers: V(oci) (O(state=present) and O(state=absent)), V(gcore) (O(state=absent) only: Gcore has no API to create a tag),
    V(vultr) (O(state=absent) only, over the OCI API of the registry host C(<region>.vultrcr.com) with credentials
    minted for the run, exactly as on V(oci): Vultr's API has no tag delete), V(gitlab) (O(state=absent) only, with GitLab's
    own tag delete, one request per tag; or GitLab's bulk delete by rules with O(bulk)), V(github) (O(state=absent) only, over
    ghcr.io itself, see below), V(ncloud) (O(state=absent) only, see below)."
  - "On V(gitlab), O(registry) is the project (C(acme/app) or its numeric id) and repositories are full image paths
    (C(acme/app), C(acme/app/worker)). A tag that a tag protection rule protects is refused by GitLab (HTTP 403): it is
    reported V(failed) with that reason, and the other tags are still removed."
  - "On V(github), O(registry) is the package owner (an organization login, or V(user:<login>)) and repositories are its
    container packages. GitHub's REST API has no tag delete, and ghcr.io refuses manifest deletes, so the tags to remove in
    a package are pointed at one throwaway manifest over ghcr.io (O(oci_url); user O(api_username), or the owner's login,
    with O(api_token) as the password: the token needs C(write:packages) and C(delete:packages)); that manifest becomes a
    new package version, which is then deleted through the REST API. Only those tags go; the versions they were on stay,
    with their other tags. When GitHub refuses to delete the throwaway version (it would be the package's last tagged
    version), every tag is pointed back where it was and reported V(restored) (a failure that says why). Tags are read from
    the package's versions (C(metadata.container.tags))."
  - "On V(ncloud), O(registry) is the NCR registry and repositories are its images. NCR does not document whether its tag
    delete (C(DELETE /repositories/{registry}/{image}/tags/{tag})) removes only the tag or the manifest with every tag on
    it, so the module never relies on either answer. The image's tags are read again right before anything is removed.
    A tag whose digest no other remaining tag carries (and that no remaining index lists) is removed with that C(DELETE):
    whatever it removes, nothing else is lost. A tag whose digest another tag keeps goes over the OCI Distribution API of
    the registry's own host (its C(end_point), as C(docker login) with O(access_key) and O(secret_key)): the tags to remove
    are pointed at one throwaway manifest made for the run, and the tags on that throwaway are then deleted through NCR's
    API, which removes only the throwaway, on either reading. When that delete fails, every tag is pointed back where it
    was and reported V(restored). Depending on NCR's reading, the untagged throwaway (two small blobs) may stay until NCR
    removes untagged manifests."
author:
  - regops.registry contributors (@regops)
options:
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(gitlab), the project, by its full path (V(acme/app)) or numeric id.
      - On V(github), the package owner, an organization login (V(acme)) or V(user:<login>).
      - On V(ncloud), the NCR registry.
    type: str
  repository:
    description:
      - The repository of the tags. Not needed when every entry of O(name) is written as C(repository:tag).
      - One repository, or with O(bulk) one or several (GitLab's bulk delete runs on each).
    type: list
    elements: str
  name:
    description:
      - One tag or a list of tags. An entry C(repository:tag) names its own repository, so one call can work on
        many repositories.
      - One of O(name) and O(bulk) is required.
    type: list
    elements: str
  state:
    description:
      - V(present) points the tags at O(digest) or O(source); V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  digest:
    description:
      - The digest (C(sha256:...)) the tags must point at, in O(repository). With O(state=present) one of
        O(digest) or O(source) is required.
    type: str
  source:
    description:
      - Another reference whose manifest the tags must point at, resolved when the task runs. A tag of the same
        repository (V(v1.2.3)), a tag of another repository of the same registry (V(staging/app:v1.2.3)), or a
        digest reference (V(staging/app@sha256:...)). Blobs and index children are copied (mounted) into the
        target repository as needed.
    type: str
  expected_digests:
    description:
      - Only with O(state=absent). A mapping from a tag (C(repository:tag), or a bare tag when O(repository) is set) to
        the digest you expect it to point at. A tag that points at another digest (it was pushed again since you
        looked) is not removed and is reported in RV(actions) with V(skipped) and reason V(moved). Tags not in the
        mapping are removed whatever they point at.
      - With this option, each tag is also read again immediately before it is touched (one more C(HEAD) per tag on
        V(oci)), so the window in which a push can still be lost is one round trip.
      - A tag found on a throwaway manifest of this collection (left by a removal that could not finish) is removed
        whatever the mapping says.
      - The C(regops.registry.cleanup) role passes the digests its plan saw.
      - On V(gitlab), each tag is read again (C(GET .../tags/:tag_name)) right before its C(DELETE).
    type: dict
  bulk:
    version_added: 0.2.0
    description:
      - V(gitlab) only, with O(state=absent) and O(repository) instead of O(name). GitLab's bulk tag delete
        (C(DELETE .../registry/repositories/:id/tags)) on each repository in O(repository), by rules rather than names.
      - The tags it will remove are computed first, from the tag list and each tag's details, with GitLab's rules; check mode
        reports exactly these. The regexes match whole tag names; V(latest) is never deleted; O(bulk.name_regex_keep) wins
        over O(bulk.name_regex_delete); tags a tag protection rule protects are left out; then the O(bulk.keep_n) newest
        (by GitLab's C(created_at), the manifest's creation time) are kept; then only tags older than O(bulk.older_than) go.
      - A repository where nothing would be deleted gets no request at all, so a run that has nothing to do does not use
        up GitLab's limit.
      - "GitLab runs the bulk delete B(at most once an hour per repository): a second request within the hour is refused
        (HTTP 400), and the task fails saying so. GitLab does not say when it may run again; meanwhile remove tags by O(name)."
      - GitLab deletes in the background; with O(wait) the task polls the tag list until the predicted tags are gone, and
        reports each predicted tag GitLab kept as V(skipped) with reason V(kept) (GitLab.com deletes a limited number per
        call; a protection rule the prediction could not see). RV(bulk) tells per repository what was predicted and what went.
      - When the token may not read the protection rules (a CI job token, a role below Maintainer), the prediction ignores
        them; when GitLab does not tell the token's role, every tag a rule with a delete level names is counted as protected.
        RV(bulk[].protection_note) says which.
    type: dict
    suboptions:
      name_regex_delete:
        description:
          - The tags to delete, a regular expression (RE2, matched against the whole name). V(.*) for every tag.
          - GitLab anchors the expression as C(\A<regex>\z), which in an alternation V(a|b) anchors only its ends; so an
            alternation is sent as V((?:a|b\)), so that GitLab matches whole names, as the prediction does. The same holds
            for O(bulk.name_regex_keep).
        type: str
        required: true
      name_regex_keep:
        description:
          - The tags to keep, a regular expression matched against the whole name; it wins over O(bulk.name_regex_delete).
        type: str
      keep_n:
        description:
          - How many of the newest matching tags to keep (by GitLab's C(created_at)).
        type: int
      older_than:
        description:
          - Only tags older than this go, a GitLab duration such as V(1h), V(7d), V(2w), V(1month) or V(1y).
        type: str
  wait:
    version_added: 0.2.0
    description:
      - V(gitlab) with O(bulk) only. Wait until GitLab's background job has deleted the predicted tags (polling the tag list,
        every half second at first, then up to every five seconds). With V(false), the task returns once GitLab accepted the
        request; V(deleted) in RV(actions) then means accepted.
    type: bool
    default: true
  wait_timeout:
    version_added: 0.2.0
    description:
      - V(gitlab) with O(bulk) only. How many seconds to wait at most; a predicted tag still there after it fails the task
        (GitLab may still be working).
    type: int
    default: 300
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the registry, reports what would change, and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.tag_info
  - module: regops.registry.artifact
"""

EXAMPLES = r"""
- name: Promote the tested build to production
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    api_username: ci
    api_password: "{{ registry_password }}"
    repository: team/app
    name: production
    source: v1.4.2

- name: Copy a release into another repository under two tags
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    repository: release/app
    name: [v1.4.2, stable]
    source: team/app:v1.4.2

- name: Remove tags only if they still point where the plan saw them (a tag pushed again since is skipped)
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    name: [team/app:pr-101, team/app:pr-102]
    expected_digests:
      team/app:pr-101: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
      team/app:pr-102: sha256:9c1e2f0a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e
    state: absent

- name: Remove many tags in one call; other tags on the same digests survive
  regops.registry.tag:
    provider: oci
    api_url: https://registry.example.com
    name:
      - team/app:pr-101
      - team/app:pr-102
      - team/worker:pr-101
    state: absent

- name: Remove two tags of a GitLab project's image (api_token from GITLAB_TOKEN, or CI_JOB_TOKEN in a CI job)
  regops.registry.tag:
    provider: gitlab
    registry: acme/app
    repository: acme/app/worker
    name: [pr-101, pr-102]
    state: absent

- name: Remove a tag of a ghcr.io package (ghcr.io/acme/team/app:pr-101); the version and its other tags stay
  regops.registry.tag:
    provider: github            # api_token from GITHUB_TOKEN: a classic PAT with write:packages and delete:packages
    registry: acme
    repository: team/app
    name: [pr-101]
    expected_digests:
      pr-101: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    state: absent

- name: GitLab's bulk delete - every tag but the newest five and release tags, older than 30 days
  regops.registry.tag:
    provider: gitlab
    registry: acme/app
    repository: [acme/app, acme/app/worker]
    bulk:
      name_regex_delete: ".*"
      name_regex_keep: "v[0-9]+\\.[0-9]+\\.[0-9]+"
      keep_n: 5
      older_than: 30d
    wait_timeout: 600      # GitLab deletes in the background: wait up to 10 minutes for it
    state: absent
  register: swept

- name: What went, per repository
  ansible.builtin.debug:
    msg: "{{ swept.bulk | map(attribute='deleted') }}"

- name: Start GitLab's bulk delete and return at once (it runs in the background)
  regops.registry.tag:
    provider: gitlab
    registry: acme/app
    repository: acme/app/worker
    bulk:
      name_regex_delete: "pr-.*"
    wait: false
    state: absent

- name: Remove tags of a Naver Cloud image, the connection set once (keys from NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY)
  module_defaults:
    group/regops.registry.all:
      provider: ncloud
      region: kr
  block:
    - name: Only the tags go, whether NCR's tag delete removes a tag or its manifest
      regops.registry.tag:
        registry: builds
        repository: team/app
        name: [pr-101, pr-102]
        expected_digests:
          pr-101: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
        state: absent
"""

RETURN = r"""
tags:
  description:
    - The tags the task named. For O(state=present), as they are after the run; for O(state=absent), the tags
      that were removed, as they were before. A tag that was already absent, skipped or failed is not listed (see
      RV(actions)).
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: Repository of the tag.
      type: str
      sample: team/app
    name:
      description: The tag.
      type: str
      sample: v1.4.2
    digest:
      description: The digest the tag points (or pointed) at.
      type: str
      sample: sha256:3f0bd8b9d2e4bbf1a7a0bd3c8b2b0a3e9f4c3d2b1a0f9e8d7c6b5a4f3e2d1c0b
    pushed_at:
      description: When the tag was pushed, where the provider records it; V(null) on V(oci).
      type: str
    pulled_at:
      description: When the tag was last pulled, where the provider records it; V(null) on V(oci).
      type: str
actions:
  description: What happened to each tag, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: C(repository:tag).
      type: str
      sample: team/app:pr-101
    action:
      description:
        - One of V(created), V(updated), V(deleted), V(unchanged), V(absent), V(skipped), V(restored), V(failed).
        - With O(bulk) and O(wait=false), V(deleted) means GitLab accepted the bulk delete that removes the tag.
        - V(restored) (V(oci)) means the removal could not be finished (the throwaway manifest could not be deleted) and
          the tag was pointed back at the digest it had; the item counts as failed and C(changed) is V(true), since
          the registry was written to.
      type: str
      sample: deleted
    reason:
      description:
        - Why an item was skipped; V(moved) when it no longer points at its O(expected_digests) entry; V(kept) when GitLab's
          bulk delete kept a tag it was predicted to delete.
      type: str
      returned: when an item was skipped
    msg:
      description: Why an item was skipped, restored or failed, and where the tag points now.
      type: str
      returned: when an item was skipped, restored or failed
bulk:
  description:
    - With O(bulk) (V(gitlab)), one entry per repository of O(repository).
  returned: when O(bulk) is set
  type: list
  elements: dict
  contains:
    repository:
      description: The repository.
      type: str
      sample: acme/app/worker
    request:
      description: The parameters of the bulk delete, sent in the query string (or that would be sent).
      type: dict
    sent:
      description: Whether the bulk delete was sent (never in check mode, nor when nothing would be deleted).
      type: bool
    status:
      description:
        - V(nothing_to_delete) (no request sent), V(not_found) (no such repository), V(planned) (check mode),
          V(scheduled) (accepted, O(wait=false)), V(done) (waited until GitLab finished), V(timeout), V(refused) (GitLab
          refused the request, for example the hourly limit or a protected repository).
      type: str
    predicted:
      description: The tags GitLab is predicted to delete (also in RV(actions)).
      type: list
      elements: str
    kept:
      description:
        - Every other tag with why it stays, V(latest), V(no_match), V(name_regex_keep), V(protected), V(keep_n) or V(older_than).
      type: dict
    deleted:
      description: The tags that were gone after the wait (also any GitLab deleted beyond the prediction); V(null) without a wait.
      type: list
      elements: str
    protection_note:
      description: What the prediction could not know about tag protection rules; V(null) when it read them all.
      type: str
"""

from ansible_collections.regops.registry.plugins.module_utils import validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, UnsupportedError
from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule, split_refs


def expected_digest_map(value, repository):
    """``expected_digests`` as ``{(repository, tag): digest}``, every key and value validated."""
    found = {}
    for key, digest in (value or {}).items():
        item = split_refs([key], repository, ":", "tag")[0]
        validate.repository_name(item["repository"])
        validate.tag_name(item["name"])
        found[(item["repository"], item["name"])] = validate.digest(digest)
    return found


def moved_guard(expected, provider):
    """The engine's skip rule for state=absent: a tag no longer on the digest the caller saw is left alone."""

    def check(item, current):
        wanted = expected.get((item["repository"], item["name"]))
        if wanted is None or current.get("digest") == wanted or provider.is_leftover(item, current):
            return None
        return "moved", "moved: now points at %s, expected %s; not removed" % (current.get("digest"), wanted)
    return check


def main():
    runner = RegistryModule(
        argument_spec=dict(
            registry=dict(type="str"),
            repository=dict(type="list", elements="str"),
            name=dict(type="list", elements="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            digest=dict(type="str"),
            source=dict(type="str"),
            expected_digests=dict(type="dict"),
            bulk=dict(type="dict", options=dict(
                name_regex_delete=dict(type="str", required=True),
                name_regex_keep=dict(type="str"),
                keep_n=dict(type="int"),
                older_than=dict(type="str"),
            )),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
        mutually_exclusive=[("digest", "source"), ("name", "bulk")],
        required_one_of=[("name", "bulk")],
    )
    params = runner.params
    state = params["state"]
    if params["bulk"] is not None and state != "absent":
        runner.fail("bulk only applies to state=absent")
    if state == "present" and not (params["digest"] or params["source"]):
        runner.fail("state is present but any of the following are missing: digest, source")
    repositories = list(params["repository"] or [])
    waiting = runner.set_away_from_default("wait", "wait_timeout")
    if params["expected_digests"] is not None and state != "absent":
        runner.fail("expected_digests only applies to state=absent")
    if params["bulk"] is not None:
        bulk_main(runner, repositories, waiting)
        return
    if waiting:
        runner.fail("%s only apply with bulk" % " and ".join(waiting))
    if len(repositories) > 1:
        runner.fail("repository takes one name (a list only with bulk); name tags of other repositories as repository:tag")
    try:
        items = split_refs(params["name"], (repositories or [None])[0], ":", "tag", registry=params["registry"])
        expected = expected_digest_map(params["expected_digests"], (repositories or [None])[0])
    except (ValueError, TypeError) as exc:
        runner.fail(str(exc))
    options = [opt for opt in ("digest", "source") if params.get(opt)] + (["expected_digests"] if expected else [])
    provider = runner.open("tag", state=state, options=options,
                           validate=lambda p: p.validate("tag", items, {"digest": params.get("digest"), "source": params.get("source")}))
    desired = {}
    if state == "present":
        repositories = set(item["repository"] for item in items)
        if params.get("digest") and len(repositories) > 1:
            runner.fail("digest names a manifest of one repository; use source (repository@digest) to tag across repositories")
        source = params.get("source")
        if source and len(repositories) > 1 and ":" not in source and "@" not in source:
            runner.fail("source '%s' is a bare tag but the tags are in several repositories; write it as repository:tag" % source)
        try:
            source_repository, digest = provider.resolve_source(sorted(repositories)[0], source=source, digest=params.get("digest"))
        except (ApiError, UnsupportedError, ValueError) as exc:
            runner.fail(str(exc))
        desired = {"digest": digest, "source_repository": source_repository}
    if state == "absent":
        desired = {"recheck": bool(expected)}
    runner.ensure("tag", items, state, desired, skip_if=moved_guard(expected, provider) if expected else None)


def bulk_main(runner, repositories, waiting):
    """``bulk``: the provider's bulk delete by rules on each repository. The tags it will remove are planned first
    (read-only), then handed to the engine like any tag list, so check mode reports exactly these."""
    params = runner.params
    if params["expected_digests"] is not None:
        runner.fail("expected_digests does not apply to bulk: the registry picks the tags by the bulk rules")
    if not repositories:
        runner.fail("bulk needs repository: the repository (or list of repositories) to delete tags from")
    desired = {"bulk": dict((k, v) for k, v in params["bulk"].items() if v is not None), "wait": params["wait"],
               "wait_timeout": params["wait_timeout"]}
    provider = runner.open("tag", state="absent", options=["bulk"] + waiting,
                           validate=lambda p: p.validate("tag", [], desired) or p.validate("repository", [
                               {"name": r, "registry": params["registry"]} for r in repositories]))
    try:
        items, _report = provider.plan_bulk_tag_delete(params["registry"], repositories, desired["bulk"])
    except (ApiError, UnsupportedError, ValueError) as exc:
        runner.fail(str(exc))
    runner.ensure("tag", items, "absent", desired)


if __name__ == "__main__":
    main()
