# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Referrers and artifact kinds: the classification (``artifact_types``), the referrers API probe (``OciRegistry``)
and the snapshot the ``oci`` provider builds with them, against a scripted registry that has the OCI 1.1 referrers
API and one that has not (distribution 2.8)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import threading
import time

import pytest

from ansible_collections.regops.registry.plugins.module_utils import artifact_types
from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ApiError, AuthError
from ansible_collections.regops.registry.plugins.module_utils.artifact_types import (
    classify,
    kind_of,
    referrer_tag,
    subject_from_tags,
    tag_schema_subject,
)
from ansible_collections.regops.registry.plugins.module_utils.oci import OCI_INDEX, OCI_MANIFEST, OciAuth, OciRegistry
from ansible_collections.regops.registry.plugins.module_utils.providers.oci import OciProvider
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import (
    FakeOci,
    Reply,
    ScriptedServer,
    provider_params,
)

HEX = "a" * 64
DIGEST = "sha256:" + HEX
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
HELM = "application/vnd.cncf.helm.config.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE = "application/vnd.dsse.envelope.v1+json"
SPDX = "application/spdx+json"
COSIGN_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"
REFERRERS = r"^/v2/(.+)/referrers/(.+)$"


# -- the classification ---------------------------------------------------------------


@pytest.mark.parametrize("media_type, artifact_type, tags, layers, annotations, kind", [
    (OCI_INDEX, None, [], [], None, "index"),
    (DOCKER_LIST, None, ["latest"], [], None, "index"),
    (OCI_INDEX, SPDX, [], [], None, "index"),  # an index stays an index, whatever its artifactType
    (OCI_INDEX, None, ["sha256-" + HEX], [], None, "index"),  # the referrers tag schema's index
    (OCI_MANIFEST, OCI_CONFIG, ["v1"], ["application/vnd.oci.image.layer.v1.tar+gzip"], None, "image"),
    (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json", [], [], None, "image"),
    ("application/vnd.docker.distribution.manifest.v1+prettyjws", None, ["old"], [], None, "image"),
    (DOCKER_MANIFEST, None, ["v1"], [], None, "image"),  # a provider that names the manifest type but not the config's
    (OCI_MANIFEST, HELM, ["1.2.3"], ["application/vnd.cncf.helm.chart.content.v1.tar+gzip"], None, "helm"),
    (OCI_MANIFEST, SIMPLESIGNING, [], [], None, "signature"),
    (OCI_MANIFEST, COSIGN_SIG, [], [SIMPLESIGNING], None, "signature"),
    (OCI_MANIFEST, "application/vnd.cncf.notary.signature", [], [], None, "signature"),
    (OCI_MANIFEST, OCI_CONFIG, ["sha256-%s.sig" % HEX], [SIMPLESIGNING], None, "signature"),  # cosign's tag scheme
    (OCI_MANIFEST, OCI_CONFIG, [], [SIMPLESIGNING], None, "signature"),  # the same without its tag: the layer tells
    (OCI_MANIFEST, EMPTY, ["sha256-%s.sig" % HEX], [], None, "signature"),
    (OCI_MANIFEST, OCI_CONFIG, ["sha256-%s.att" % HEX], [DSSE], None, "attestation"),
    (OCI_MANIFEST, DSSE, [], [], None, "attestation"),
    (OCI_MANIFEST, "application/vnd.in-toto+json", [], [], None, "attestation"),
    (OCI_MANIFEST, OCI_CONFIG, [], ["application/vnd.in-toto+json"], None, "attestation"),  # buildx attestation manifest
    (OCI_MANIFEST, "application/vnd.dev.sigstore.bundle.v0.3+json", [], [], None, "signature"),
    (OCI_MANIFEST, "application/vnd.dev.sigstore.bundle.v0.3+json", [], [],
     {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1"}, "attestation"),
    (OCI_MANIFEST, SPDX, [], [SPDX], None, "sbom"),
    (OCI_MANIFEST, "application/vnd.cyclonedx+json; version=1.5", [], [], None, "sbom"),
    (OCI_MANIFEST, "text/spdx", [], [], None, "sbom"),
    (OCI_MANIFEST, OCI_CONFIG, ["sha256-%s.sbom" % HEX], ["text/spdx+json"], None, "sbom"),
    (OCI_MANIFEST, EMPTY, [], ["application/vnd.cyclonedx+json"], None, "sbom"),
    (OCI_MANIFEST, EMPTY, [], ["application/octet-stream"], None, "other"),
    (OCI_MANIFEST, "application/vnd.acme.rocket.config.v1+json", [], [SIMPLESIGNING], None, "other"),  # its own type wins
    (OCI_MANIFEST, None, [], [], None, "other"),
    (OCI_MANIFEST, OCI_CONFIG, ["sha256-" + HEX], [], None, "image"),  # a bare digest tag on an image tells nothing
    (None, None, ["v1"], [], None, None),  # a provider that reports no media types: unknown
    (None, None, ["sha256-%s.att" % HEX], [], None, "attestation"),  # ... unless a cosign tag tells
])
def test_classify(media_type, artifact_type, tags, layers, annotations, kind):
    assert classify(media_type, artifact_type, tags, layers, annotations) == kind
    assert kind is None or kind in artifact_types.KINDS


def test_kind_of_prefers_the_provider_kind():
    entry = {"media_type": OCI_MANIFEST, "tags": [], "provider_data": {"artifact_type": OCI_CONFIG, "kind": "signature"}}
    assert kind_of(entry) == "signature"  # the provider read the layers, which the entry does not show
    entry["provider_data"]["kind"] = "nonsense"
    assert kind_of(entry) == "image"
    assert kind_of({"media_type": OCI_MANIFEST, "tags": ["sha256-%s.sbom" % HEX], "provider_data": {}}) == "sbom"
    assert kind_of({"media_type": None, "tags": ["v1"], "provider_data": None}) is None
    assert kind_of(None) is None


@pytest.mark.parametrize("tag, expected", [
    ("sha256-" + HEX, (DIGEST, None)),
    ("sha256-%s.sig" % HEX, (DIGEST, "sig")),
    ("sha256-%s.att" % HEX, (DIGEST, "att")),
    ("sha256-%s.sbom" % HEX, (DIGEST, "sbom")),
    ("sha512-%s.sig" % ("b" * 128), ("sha512:" + "b" * 128, "sig")),
    ("sha256-%s.sig" % HEX[:-1], None),  # too short
    ("sha512-%s" % HEX, None),  # sha512 needs 128 digits
    ("sha256-%s.sig" % HEX.upper(), None),
    ("sha256-%s.foo" % HEX, None),
    ("sha256-%s.sig\n" % HEX, None),
    ("v1.sig", None),
    (None, None),
])
def test_referrer_tag(tag, expected):
    assert referrer_tag(tag) == expected


def test_subject_from_tags():
    other = "b" * 64
    assert subject_from_tags(["v1", "sha256-%s.sig" % HEX]) == DIGEST
    assert subject_from_tags(["sha256-" + HEX]) is None  # the bare tag names a subject on an index only
    assert subject_from_tags(["sha256-" + HEX], is_index=True) == DIGEST
    assert subject_from_tags(["sha256-%s.sig" % other, "sha256-%s.att" % HEX]) == "sha256:" + HEX  # first in sorted order
    assert subject_from_tags([]) is None and subject_from_tags(None) is None
    assert tag_schema_subject(["sha256-%s.sig" % other, "sha256-" + HEX]) == DIGEST
    assert tag_schema_subject(["sha256-%s.sig" % other]) is None


# -- a scripted registry, with and without the referrers API --------------------------------


class ReferrersOci(FakeOci):
    """``FakeOci`` plus ``GET /v2/<name>/referrers/<digest>``: with ``api`` an index of the repository's manifests whose
    ``subject`` is the digest (``page_size`` splits it into ``Link`` pages); without, ``absent`` answers."""

    def __init__(self, server, api=True, absent=None, page_size=None):
        super(ReferrersOci, self).__init__(server, tag_delete=400)
        self.api = api
        self.absent = absent or Reply(404, "404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"})
        self.page_size = page_size
        server.route("GET", REFERRERS, self.referrers)

    def referrers(self, seen):
        if not self.api:
            return self.absent
        repository, digest = seen.path[len("/v2/"):].split("/referrers/")
        found = []
        for (name, manifest_digest), (media_type, raw) in sorted(self.manifests.items()):
            body = json.loads(raw.decode("utf-8"))
            if name == repository and (body.get("subject") or {}).get("digest") == digest:
                found.append({"mediaType": media_type, "digest": manifest_digest, "size": len(raw),
                              "artifactType": body.get("artifactType") or (body.get("config") or {}).get("mediaType")})
        start = int(seen.arg("last") or 0)
        headers = {"Content-Type": OCI_INDEX}
        if self.page_size and start + self.page_size < len(found):
            headers["Link"] = '<%s?last=%d>; rel="next"' % (seen.path, start + self.page_size)
            found = found[start:start + self.page_size]
        else:
            found = found[start:]
        return Reply(200, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}).encode(), headers)

    def add_artifact(self, repository, artifact_type=None, config_type=EMPTY, layers=((SPDX, b'{"spdxVersion": "SPDX-2.3"}'),),
                     subject=None, tags=(), annotations=None):
        """An OCI 1.1 artifact manifest (``subject`` a digest of the same repository) and its blobs; its digest."""
        config = b"{}"
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": config_type, "digest": self.add_blob(repository, config), "size": len(config)},
                "layers": [{"mediaType": t, "digest": self.add_blob(repository, data), "size": len(data)} for t, data in layers]}
        if artifact_type:
            body["artifactType"] = artifact_type
        if subject:
            media_type, raw = self.manifests[(repository, subject)]
            body["subject"] = {"mediaType": media_type, "digest": subject, "size": len(raw)}
        if annotations:
            body["annotations"] = annotations
        return self.add_manifest(repository, OCI_MANIFEST, json.dumps(body, sort_keys=True).encode("utf-8"), tags)

    def add_index(self, repository, children, tags=(), artifact_type=None):
        descriptors = []
        for child in children:
            media_type, raw = self.manifests[(repository, child)]
            body = json.loads(raw.decode("utf-8"))
            descriptor = {"mediaType": media_type, "digest": child, "size": len(raw)}
            if body.get("artifactType"):
                descriptor["artifactType"] = body["artifactType"]
            descriptors.append(descriptor)
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
        if artifact_type:
            body["artifactType"] = artifact_type
        return self.add_manifest(repository, OCI_INDEX, json.dumps(body, sort_keys=True).encode("utf-8"), tags)

    def add_cosign_signature(self, repository, subject):
        """What cosign pushes without the referrers API: an image config, a simple signing layer, tag ``sha256-<hex>.sig``."""
        return self.add_artifact(repository, config_type=OCI_CONFIG, layers=((SIMPLESIGNING, b'{"critical": {}}'),),
                                 tags=["%s.sig" % subject.replace(":", "-")])


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def clients():
    made = []

    def make(url, **kwargs):
        kwargs.setdefault("sleep", lambda delay: None)
        client = ApiClient(url, auth=OciAuth(), **kwargs)
        made.append(client)
        return client
    yield make
    for client in made:
        client.close()


@pytest.fixture(autouse=True)
def no_docker_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)


def referrer_calls(server):
    return [r for r in server.requests if "/referrers/" in r.path]


# -- OciRegistry.referrers ------------------------------------------------------------------


def test_referrers_through_the_api(server, clients):
    fake = ReferrersOci(server, page_size=2)
    image = fake.add_image("team/app", tags=["v1"])
    made = sorted(fake.add_artifact("team/app", SPDX, layers=((SPDX, b"sbom-%d" % i),), subject=image) for i in range(3))
    registry = OciRegistry(clients(server.url, retries=0), OciAuth())
    found = registry.referrers("team/app", image)
    assert registry.referrers_api is True
    assert sorted(d["digest"] for d in found) == made and all(d["artifactType"] == SPDX for d in found)
    calls = referrer_calls(server)
    assert [r.path for r in calls] == ["/v2/team/app/referrers/" + image] * 2  # two Link pages
    assert calls[0].headers["accept"] == OCI_INDEX
    assert registry.referrers("team/app", made[0]) == []


@pytest.mark.parametrize("absent", [
    Reply(404, "404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"}),  # distribution 2.8: no such route
    Reply(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}),
    Reply(404, {"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]}),
    Reply(405, {"errors": [{"code": "UNSUPPORTED", "message": "method not allowed"}]}),
    Reply(400, {"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]}),
    Reply(501, "not implemented"),
    Reply(200, "<html>a catch-all page</html>", {"Content-Type": "text/html"}),
    Reply(200, {"repositories": []}),
], ids=["route", "name-unknown", "unsupported-404", "405", "400-unsupported", "501", "html", "not-an-index"])
def test_no_referrers_api_is_probed_once(server, clients, absent):
    fake = ReferrersOci(server, api=False, absent=absent)
    image = fake.add_image("team/app", tags=["v1"])
    registry = OciRegistry(clients(server.url, retries=0), OciAuth())
    assert registry.referrers("team/app", image) is None
    assert registry.referrers_api is False
    assert registry.referrers("team/app", "sha256:" + "b" * 64) is None
    assert len(referrer_calls(server)) == 1


def test_concurrent_callers_wait_for_the_one_probe(server, clients):
    fake = ReferrersOci(server, api=False)
    fake.absent = Reply(404, "404 page not found\n", {"Content-Type": "text/plain"}, delay=0.2)
    registry = OciRegistry(clients(server.url, retries=0, concurrency=8), OciAuth())
    digests = ["sha256:%064x" % i for i in range(8)]
    results = registry.client.run_bulk(lambda d: registry.referrers("team/app", d), digests)
    assert [(result, error) for _d, result, error in results] == [(None, None)] * 8
    assert len(referrer_calls(server)) == 1


@pytest.mark.parametrize("failure, error_type", [
    (Reply(500, {"errors": [{"code": "UNKNOWN", "message": "storage error"}]}), ApiError),
    (Reply(403, {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}), AuthError),
])
def test_a_failed_probe_raises_and_decides_nothing(server, clients, failure, error_type):
    fake = ReferrersOci(server)
    image = fake.add_image("team/app", tags=["v1"])
    server.patterns.insert(0, ("GET", re.compile(REFERRERS), [failure, fake.referrers]))
    registry = OciRegistry(clients(server.url, retries=0), OciAuth())
    with pytest.raises(error_type):
        registry.referrers("team/app", image)
    assert registry.referrers_api is None
    assert registry.referrers("team/app", image) == []  # the next call probes again
    assert registry.referrers_api is True


def test_after_the_probe_a_404_is_no_referrers_and_a_bad_body_an_error(server, clients):
    fake = ReferrersOci(server)
    image = fake.add_image("team/app", tags=["v1"])
    registry = OciRegistry(clients(server.url, retries=0), OciAuth())
    assert registry.referrers("team/app", image) == []
    server.patterns.insert(0, ("GET", re.compile(REFERRERS), [
        Reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "gone"}]}), Reply(200, {"nothing": "here"})]))
    assert registry.referrers("team/app", image) == []
    with pytest.raises(ApiError) as caught:
        registry.referrers("team/app", image)
    assert "not an image index" in str(caught.value)
    assert registry.referrers_api is True


# -- the snapshot ---------------------------------------------------------------------------


def provider(server, **overrides):
    made = OciProvider(provider_params("oci", server.url, None, retries=0, **overrides))
    made.connect()
    return made


def by_digest(artifacts):
    return dict((a["digest"], a) for a in artifacts)


def test_snapshot_with_the_referrers_api(server):
    fake = ReferrersOci(server)
    image = fake.add_image("team/app", tags=["v1"])
    other = fake.add_image("team/app", tags=["v2"], arch="arm64")
    sbom = fake.add_artifact("team/app", SPDX, subject=image)
    signature = fake.add_artifact("team/app", COSIGN_SIG, layers=((SIMPLESIGNING, b"sig"),), subject=image)
    sbom_signature = fake.add_artifact("team/app", COSIGN_SIG, layers=((SIMPLESIGNING, b"sig of the sbom"),), subject=sbom)
    attestation = fake.add_artifact("team/app", DSSE, layers=((DSSE, b"envelope"),), subject=other, tags=["provenance"])
    fake.add_artifact("team/lib", SPDX, subject=fake.add_image("team/lib", tags=["1.0"]))  # another repository: not asked
    artifacts = provider(server, concurrency=3).list_artifact({"repository": ["team/app"]})
    found = by_digest(artifacts)
    assert set(found) == {image, other, sbom, signature, sbom_signature, attestation}
    assert [(found[d]["subject"], found[d]["provider_data"]["kind"], found[d]["tags"]) for d in (
        image, other, sbom, signature, sbom_signature, attestation)] == [
        (None, "image", ["v1"]), (None, "image", ["v2"]), (image, "sbom", []), (image, "signature", []),
        (sbom, "signature", []), (other, "attestation", ["provenance"])]
    assert found[sbom]["provider_data"]["artifact_type"] == SPDX
    assert found[sbom]["media_type"] == OCI_MANIFEST and found[sbom]["size_bytes"] > 0
    asked = sorted(r.path.rsplit("/", 1)[1] for r in referrer_calls(server))
    assert asked == sorted(found)  # one request per artifact, the referrers' own included
    assert set(r.method for r in server.requests) <= {"GET", "HEAD"}


def test_snapshot_without_the_referrers_api(server):
    """distribution 2.8: cosign's tags and the referrers tag schema tell; one referrers request (the probe), no more."""
    fake = ReferrersOci(server, api=False)
    image = fake.add_image("team/app", tags=["v1"])
    signature = fake.add_cosign_signature("team/app", image)
    sbom = fake.add_artifact("team/app", SPDX, subject=image)
    listed_without_subject = fake.add_artifact("team/app", "application/vnd.acme.report+json", layers=((EMPTY, b"{}"),))
    tag_schema = fake.add_index("team/app", [sbom, listed_without_subject], tags=["sha256-" + image.split(":")[1]])
    attestation = fake.add_artifact("team/app", config_type=OCI_CONFIG, layers=((DSSE, b"envelope"),),
                                    tags=["sha256-%s.att" % image.split(":")[1]])
    orphan = fake.add_artifact("team/app", SPDX, subject=fake.add_image("team/app", arch="s390x"))  # untagged, listed nowhere
    found = by_digest(provider(server).list_artifact({"repository": ["team/app"]}))
    assert set(found) == {image, signature, sbom, listed_without_subject, tag_schema, attestation}
    assert orphan not in found  # without the API nothing finds an untagged manifest no tag reaches
    assert [(found[d]["subject"], found[d]["provider_data"]["kind"]) for d in (
        image, signature, sbom, listed_without_subject, tag_schema, attestation)] == [
        (None, "image"), (image, "signature"), (image, "sbom"), (image, "other"), (image, "index"), (image, "attestation")]
    assert found[signature]["provider_data"]["artifact_type"] == OCI_CONFIG
    assert sorted(c["digest"] for c in found[tag_schema]["children"]) == sorted([sbom, listed_without_subject])
    assert len(referrer_calls(server)) == 1


def test_chosen_digests_send_no_referrers_request(server):
    fake = ReferrersOci(server)
    image = fake.add_image("team/app", tags=["v1"])
    signature = fake.add_cosign_signature("team/app", image)
    found = provider(server).list_artifact({"repository": ["team/app"], "digests": [{"repository": "team/app", "digest": signature}]})
    assert [(a["digest"], a["subject"], a["provider_data"]["kind"]) for a in found] == [(signature, image, "signature")]
    assert not referrer_calls(server)


def test_read_artifact_tells_subject_and_kind(server):
    fake = ReferrersOci(server, api=False)
    image = fake.add_image("team/app", tags=["v1"])
    signature = fake.add_cosign_signature("team/app", image)
    index = fake.add_index("team/app", [image], tags=["multi"], artifact_type="application/vnd.acme.bundle.v1+json")
    read = provider(server).read_artifact([{"repository": "team/app", "digest": d} for d in (signature, index)])
    assert [(a["subject"], a["provider_data"]["kind"], a["provider_data"]["artifact_type"]) for a in read] == [
        (image, "signature", OCI_CONFIG), (None, "index", "application/vnd.acme.bundle.v1+json")]
    assert not referrer_calls(server)


def test_every_entry_has_artifact_type_and_kind(server):
    fake = ReferrersOci(server, api=False)
    child = fake.add_image("team/app")
    fake.add_index("team/app", [child], tags=["multi"])
    fake.add_artifact("team/app", config_type=HELM, layers=(("application/vnd.cncf.helm.chart.content.v1.tar+gzip", b"chart"),),
                      tags=["1.0.0"])
    for artifact in provider(server).list_artifact({"repository": ["team/app"]}):
        assert "artifact_type" in artifact["provider_data"]
        assert artifact["provider_data"]["kind"] in ("image", "index", "helm")
        assert artifact["provider_data"]["artifact_type"] == {"image": OCI_CONFIG, "index": None, "helm": HELM}[artifact["provider_data"]["kind"]]


def test_referrers_are_asked_for_on_the_worker_pool(server):
    fake = ReferrersOci(server)
    for i in range(6):
        fake.add_image("team/app", tags=["v%d" % i], arch="arch%d" % i)
    lock, in_flight, peak = threading.Lock(), [0], [0]
    original = fake.referrers

    def slow(seen):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)
        with lock:
            in_flight[0] -= 1
        return original(seen)
    server.patterns[:] = [("GET", re.compile(REFERRERS), [slow])]
    provider(server, concurrency=4).list_artifact({"repository": ["team/app"]})
    assert len(referrer_calls(server)) == 6
    assert peak[0] > 1
