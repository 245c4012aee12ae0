"""End to end: the GitLab CI job of docs/gitlab.md (examples/gitlab-ci-delete-image.yml), run as a CI job runs it.

Only the job's predefined variables are set: CI_API_V4_URL, CI_JOB_TOKEN, CI_PROJECT_PATH, CI_COMMIT_REF_SLUG. The
tag goes, the other tags on the same image stay, every request carries the job token and nothing else, a retried job
changes nothing, and the token shows nowhere in the output.
"""

# pylint: disable=redefined-outer-name
import pytest

from tests.emulators.gitlab import DEFAULT_JOB_TOKEN, GitLabEmulator
from tests.support.ansible_runner import REPO_ROOT, run_playbook

PLAYBOOK = REPO_ROOT / "examples" / "gitlab-ci-delete-image.yml"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


@pytest.fixture
def emu():
    with GitLabEmulator(async_delay=None, async_polls=2) as emulator:
        emulator.add_repository("acme/app", "", tags=[{"name": "feature-login", "digest": DIGEST_A},
                                                      {"name": "main", "digest": DIGEST_A}, {"name": "v1", "digest": DIGEST_B}])
        emulator.add_repository("acme/app", "worker", tags=[{"name": "feature-login", "digest": DIGEST_B}])
        yield emulator


def ci_env(emu, **extra):
    env = {"CI_API_V4_URL": emu.api_base, "CI_JOB_TOKEN": DEFAULT_JOB_TOKEN, "CI_PROJECT_PATH": "acme/app",
           "CI_COMMIT_REF_SLUG": "feature-login", "GITLAB_TOKEN": "", "ANSIBLE_VERBOSITY": "3"}
    env.update(extra)
    return env


def test_the_ci_job_removes_the_branch_tag_with_the_job_token(emu):
    root, worker = emu.repository_id("acme/app", ""), emu.repository_id("acme/app", "worker")
    rc, out, err = run_playbook(PLAYBOOK, env=ci_env(emu))
    assert rc == 0, out + err
    assert emu.tag_names(root) == ["main", "v1"]  # main shares the digest and stays
    assert emu.tag_names(worker) == ["feature-login"]  # another image of the project is not touched
    assert '"acme/app:feature-login: deleted"' in out
    assert all(set(r.headers) & {"JOB-TOKEN", "PRIVATE-TOKEN", "Authorization"} == {"JOB-TOKEN"} for r in emu.log.records)
    assert [(r.method, r.path) for r in emu.log.records if r.method == "DELETE"] == [
        ("DELETE", "/api/v4/projects/%d/registry/repositories/%d/tags/feature-login" % (emu.project_id("acme/app"), root))]
    assert DEFAULT_JOB_TOKEN not in out + err

    # a retried job (or the branch's second pipeline) finds the tag gone: nothing to do, no error
    emu.log.clear()
    rc, out, err = run_playbook(PLAYBOOK, env=ci_env(emu))
    assert rc == 0, out + err
    assert '"acme/app:feature-login: absent"' in out and "changed=0" in out
    assert not [r for r in emu.log.records if r.method == "DELETE"]

    # IMAGE_NAME: an image below the project
    rc, out, err = run_playbook(PLAYBOOK, env=ci_env(emu, IMAGE_NAME="worker"))
    assert rc == 0, out + err
    assert emu.tag_names(worker) == []
