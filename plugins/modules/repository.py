#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: repository
short_description: Describe a repository, or delete it and everything in it
version_added: 0.1.0
description:
  - With O(state=absent), deletes the repository O(name) with every artifact and tag in it. This cannot be undone.
  - "On V(oci) there is no repository delete in the API: every manifest reachable from a tag (indexes first, then
    their children) is deleted by digest, and the result lists them. The registry may keep listing the empty
    name in its catalog until its garbage collection runs; a repository with no tags counts as absent."
  - With O(state=present), sets the repository's O(description) where the provider keeps one. Repositories are
    created by pushing an image, so a repository that does not exist fails with that message.
  - "Providers: V(oci), V(gcore) (both O(state=absent)), V(vultr) (O(state=present) with O(description), and
    O(state=absent)), V(gitlab) (O(state=absent): GitLab deletes the repository in the background, and the task waits
    for it, see O(wait)), V(ncloud) (O(state=present) with O(description) and O(full_description), and O(state=absent))."
  - "On V(ncloud) (Naver Cloud Container Registry, which calls repositories images), O(registry) is the NCR registry and
    O(name) the image (a name with C(/) is sent as one path segment, C(team%2Fapp)). O(state=absent) deletes the image with
    every tag (C(DELETE /repositories/{registry}/{image}); one already gone is V(unchanged)). O(state=present) sets
    O(description) and O(full_description) where they differ, with C(PATCH), and only the ones given; the image is read
    from its detail (C(GET /repositories/{registry}/{image})). NCR creates an image on its first push: a missing one fails.
    C(updated_at) in the result is the time NCR reported before the change (NCR answers a change with no body)."
  - "On V(gitlab), O(registry) is the project (C(acme/app) or its numeric id) and O(name) the full image path: V(acme/app)
    for the project's own image, V(acme/app/worker) for an image under it. A repository GitLab is already deleting (status
    C(delete_scheduled) or C(delete_ongoing), for example after a run with O(wait=false)) counts as absent: nothing is
    sent and C(changed) is V(false); with O(wait) the task still waits until it is gone, and fails if GitLab's deletion
    failed (C(delete_failed)). A repository in C(delete_failed) is deleted again. GitLab refuses (HTTP 403) to delete a
    repository a repository protection rule, or a tag protection rule, protects from the token."
  - "On V(github), O(registry) is the package owner (an organization login, or V(user:<login>) for the packages of the
    token's user) and O(name) a container package on ghcr.io. O(state=absent) deletes the package with every version
    (GitHub keeps it restorable for 30 days); GitHub refuses (HTTP 403) to delete a public package downloaded more than
    5,000 times, which only GitHub Support can do. O(state=present) restores a deleted package (reported V(created),
    C(provider_data.restored) V(true)): it is V(unchanged) when the package exists, and fails when GitHub has nothing to
    restore (not deleted in the last 30 days, never existed, or its name was taken since); GitHub creates a package on the
    first push of an image. GitHub's API cannot say whether a deleted package can be restored without restoring it, so check
    mode predicts the restore (and warns) for a package it cannot see. Needs a classic personal access token with
    C(read:packages), C(delete:packages) to delete and C(write:packages) to restore."
author:
  - regops.registry contributors (@regops)
options:
  name:
    description:
      - The repository, for example V(team/app). On V(gitlab), the full image path (V(acme/app), V(acme/app/worker)).
    type: str
    required: true
  registry:
    description:
      - The registry the repository is in, for providers that host several registries. Not used by V(oci), where
        O(api_url) is the registry.
      - On V(gitlab), the project, by its full path (V(acme/app)) or numeric id.
      - On V(github), the package owner, an organization login (V(acme)) or V(user:<login>).
      - On V(ncloud), the NCR registry.
    type: str
  state:
    description:
      - V(present) sets O(description) (on V(github), restores a deleted package); V(absent) deletes the repository.
    type: str
    choices: [present, absent]
    default: present
  description:
    description:
      - The repository's description (V(vultr), V(ncloud)). Left out, the description is left alone; V("") clears it.
      - On V(ncloud) at most 100 characters (checked before any request).
    type: str
  full_description:
    version_added: 0.4.0
    description:
      - V(ncloud) only. The image's long description (Markdown), C(full_description). Left out, it is left alone; V("")
        clears it.
    type: str
  wait:
    version_added: 0.2.0
    description:
      - V(gitlab) only, with O(state=absent). Wait until GitLab has deleted the repository in the background (polling
        C(GET /registry/repositories/:id) until it answers 404; every half second at first, then up to every five seconds).
        A deletion that ends in C(delete_failed) fails the task, saying so.
      - With V(false), the task returns once GitLab accepted the delete; RV(repository_status) then says
        V(delete_scheduled) or V(delete_ongoing).
    type: bool
    default: true
  wait_timeout:
    version_added: 0.2.0
    description:
      - V(gitlab) only. How many seconds to wait at most; a repository still there after it fails the task, saying that
        GitLab is still deleting it (run the task again to wait longer; it is not deleted twice).
    type: int
    default: 300
extends_documentation_fragment:
  - regops.registry.connection
  - regops.registry.connection.action_group
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Lists what would be deleted and sends no mutating request.
  diff_mode:
    support: full
  platform:
    platforms: all
seealso:
  - module: regops.registry.repository_info
"""

EXAMPLES = r"""
- name: Delete a repository of preview builds
  regops.registry.repository:
    provider: oci
    api_url: https://registry.example.com
    name: previews/app
    state: absent
  register: gone

- name: Delete a repository of a Gcore registry (names with / are fine)
  regops.registry.repository:
    provider: gcore
    registry: builds
    name: team/old-app
    state: absent

- name: Describe a Vultr repository
  regops.registry.repository:
    provider: vultr
    registry: builds
    name: team/app
    description: The API service, built from main

- name: Describe a Naver Cloud image (keys from NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY)
  regops.registry.repository:
    provider: ncloud
    registry: builds
    name: team/app
    description: The API service, built from main
    full_description: |
      # team/app
      Built from `main` by CI; pull with `docker pull builds.kr.ncr.ntruss.com/team/app:latest`.

- name: What went with it
  ansible.builtin.debug:
    msg: "{{ gone.repository.manifests | map(attribute='digest') }}"

- name: Delete the worker image of a GitLab project, every tag in it, and wait until GitLab is done
  regops.registry.repository:
    provider: gitlab            # api_token from GITLAB_TOKEN
    registry: acme/app
    name: acme/app/worker
    state: absent
    wait_timeout: 600

- name: Delete a ghcr.io package with every version (GitHub can restore it for 30 days)
  regops.registry.repository:
    provider: github            # api_token from GITHUB_TOKEN: a classic PAT with read:packages and delete:packages
    registry: acme
    name: team/old-app
    state: absent

- name: Restore it within the 30 days (needs write:packages)
  regops.registry.repository:
    provider: github
    registry: acme
    name: team/old-app
    state: present

- name: Or only schedule the delete; GitLab finishes it in the background (repository_status says delete_scheduled)
  regops.registry.repository:
    provider: gitlab
    registry: acme/app
    name: acme/app/old-service
    state: absent
    wait: false
"""

RETURN = r"""
repository:
  description:
    - The repository. For O(state=absent), as it was before it was deleted; V(null) when it was already absent.
  returned: always
  type: dict
  contains:
    name:
      description: Repository name.
      type: str
      sample: team/app
    id:
      description: Provider ID; V(null) on V(oci).
      type: str
    location:
      description: Where to pull from (C(host/name)).
      type: str
      sample: registry.example.com/team/app
    artifact_count:
      description: Number of artifacts where the provider counts them; V(null) on V(oci).
      type: int
    pull_count:
      description: Number of pulls where the provider counts them; V(null) on V(oci).
      type: int
    size_bytes:
      description: Storage used where the provider reports it; V(null) on V(oci).
      type: int
    description:
      description: Description where the provider keeps one.
      type: str
    created_at:
      description: Creation time (ISO 8601 UTC) where the provider records it.
      type: str
    updated_at:
      description: Last update time where the provider records it.
      type: str
    manifests:
      description:
        - On V(oci) with O(state=absent), the manifests deleted with the repository (C(digest), C(media_type),
          C(tags), C(children)), indexes first.
      type: list
      elements: dict
      returned: when O(state=absent) on V(oci)
    provider_data:
      description:
        - Provider-specific extras. On V(gitlab) C(project_id), C(image_name) (GitLab's C(name), V("") for the project's own
          image), C(status) (V(null), V(delete_scheduled), V(delete_ongoing) or V(delete_failed), as it was before the run),
          C(cleanup_policy_started_at) and C(tags_count).
        - On V(github) C(visibility), C(html_url), C(url), C(package_type), C(repository) (the GitHub repository linked to the
          package, C(owner/name)), C(owner), and C(restored) V(true) after a restore.
        - On V(ncloud) C(full_description), and NCR's C(namespace), C(is_private), C(status), C(user), C(private_id),
          C(tag_mutability_enabled) and the other fields of the image's detail as NCR sends them; C(detail) V(true) when
          the image was read from its detail (which alone has C(full_description)).
      type: dict
repository_status:
  description:
    - V(gitlab) with O(state=absent) only. GitLab's status of the repository after the run, V(deleted) once it is gone (after
      the wait), else V(delete_scheduled) or V(delete_ongoing) (O(wait=false)). In check mode, what the run would report
      (V(deleted), or V(delete_scheduled) with O(wait=false)).
  returned: on V(gitlab), when a repository was (or was already being) deleted
  type: str
  sample: deleted
actions:
  description: What happened to the repository.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The repository name.
      type: str
    action:
      description: One of V(created) (on V(github), restored), V(updated), V(deleted), V(unchanged), V(absent), V(failed).
      type: str
"""

from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule


def main():
    runner = RegistryModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            registry=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            description=dict(type="str"),
            full_description=dict(type="str"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=300),
        ),
    )
    params = runner.params
    item = {"name": params["name"]}
    if params["registry"]:
        item["registry"] = params["registry"]
    desired = {"description": params["description"], "full_description": params["full_description"]}
    options = [k for k, v in desired.items() if v is not None]
    # the defaults apply quietly everywhere; a wait setting of its own is checked against the provider
    options += runner.set_away_from_default("wait", "wait_timeout")
    runner.open("repository", state=params["state"], options=options,
                validate=lambda p: p.validate("repository", [item], dict(desired, wait_timeout=params["wait_timeout"])))
    runner.ensure("repository", [item], params["state"], desired)


if __name__ == "__main__":
    main()
