# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OCI Distribution client: auth challenges, tag removal, manifests, name validation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.regops.registry.plugins.module_utils import oci
from ansible_collections.regops.registry.plugins.module_utils.api import ApiClient, ApiError, AuthError
from ansible_collections.regops.registry.plugins.module_utils.oci import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    EMPTY_JSON,
    EMPTY_JSON_DIGEST,
    NO_SUCH_DIGEST,
    OCI_INDEX,
    OCI_MANIFEST,
    THROWAWAY_ANNOTATION,
    Manifest,
    OciAuth,
    OciRegistry,
    TagMoved,
    UntagRolledBack,
    digest_of,
    parse_challenge,
    platform_string,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import FakeOci, Reply, ScriptedServer

HEX = "a" * 64


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def clients():
    made = []

    def make(url, auth=None, **kwargs):
        kwargs.setdefault("sleep", lambda delay: None)
        client = ApiClient(url, auth=auth, **kwargs)
        made.append(client)
        return client
    yield make
    for client in made:
        client.close()


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


# -- OciAuth ---------------------------------------------------------------------


@pytest.mark.parametrize("method, url, scopes", [
    ("GET", "https://r/v2/_catalog?n=100", ("registry:catalog:*",)),
    ("GET", "https://r/v2/team/app/manifests/v1", ("repository:team/app:pull",)),
    ("HEAD", "https://r/v2/team/app/blobs/sha256:%s" % HEX, ("repository:team/app:pull",)),
    ("GET", "https://r/v2/app/tags/list", ("repository:app:pull",)),
    ("GET", "https://r/v2/app/referrers/sha256:%s" % HEX, ("repository:app:pull",)),
    ("DELETE", "https://r/v2/team/app/manifests/sha256:%s" % HEX, ("repository:team/app:delete",)),
    ("PUT", "https://r/v2/a/b/c/manifests/v1", ("repository:a/b/c:pull,push",)),
    ("POST", "https://r/v2/team/app/blobs/uploads/", ("repository:team/app:pull,push",)),
    ("POST", "https://r/v2/team/app/blobs/uploads/?mount=sha256%%3A%s&from=team%%2Fbase" % HEX,
     ("repository:team/app:pull,push", "repository:team/base:pull")),
    ("POST", "https://r/v2/team/app/blobs/uploads/?mount=sha256:%s&from=lib/base" % HEX,
     ("repository:team/app:pull,push", "repository:lib/base:pull")),
    ("GET", "https://r/v2/", ()),
])
def test_scopes_for(method, url, scopes):
    assert OciAuth.scopes_for(method, url) == scopes


def test_parse_challenge():
    assert parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"') == (
        "bearer", {"realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a:pull"})
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge('BEARER Realm="x"') == ("bearer", {"realm": "x"})
    assert parse_challenge("") is None
    assert parse_challenge(None) is None


def _basic_registry(server, user="alice", password="s3cret"):
    def reply(seen):
        if seen.headers.get("authorization") != basic(user, password):
            return Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                         {"WWW-Authenticate": 'Basic realm="Registry Realm"'})
        return Reply(200, {"repositories": ["a"]} if seen.path == "/v2/_catalog" else {})
    server.route("GET", "/v2/", reply)
    server.route("GET", "/v2/_catalog", reply)


def test_basic_challenge_switches_to_basic(server, clients):
    _basic_registry(server)
    registry = _probed(server, clients)
    assert registry.catalog() == ["a"]
    assert registry.auth.scheme == "basic"
    assert [r.headers.get("authorization") for r in server.requests] == [None, basic("alice", "s3cret"), basic("alice", "s3cret")]


def test_basic_challenge_without_credentials_fails(server, clients):
    _basic_registry(server)
    auth = OciAuth()
    client = clients(server.url, auth=auth)
    with pytest.raises(AuthError) as caught:
        OciRegistry(client, auth).probe()
    assert caught.value.status == 401
    assert "authentication required" in str(caught.value)
    assert len(server.requests) == 1


def test_basic_challenge_with_wrong_password_is_not_looped(server, clients):
    _basic_registry(server)
    auth = OciAuth("alice", "wrong")
    client = clients(server.url, auth=auth)
    with pytest.raises(AuthError):
        OciRegistry(client, auth).probe()
    assert len(server.requests) == 2


class TokenService:
    """A bearer registry: ``/token`` issues tok-1, tok-2, ... to alice:s3cret; the registry accepts issued tokens."""

    def __init__(self, server, expires_in=300, user="alice", password="s3cret", anonymous=False):
        self.server = server
        self.expires_in = expires_in
        self.user = user
        self.password = password
        self.anonymous = anonymous
        self.issued = {}
        self.revoked = set()
        server.route("GET", "/token", self.token)
        server.fallback = self.registry

    def token(self, seen):
        auth = seen.headers.get("authorization")
        if not (self.anonymous and auth is None) and auth != basic(self.user, self.password):
            return Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]})
        token = "tok-%d" % (len(self.issued) + 1)
        self.issued[token] = seen.query.get("scope", [])
        return Reply(200, {"token": token, "expires_in": self.expires_in, "issued_at": "2026-01-01T00:00:00Z"})

    def registry(self, seen):
        auth = seen.headers.get("authorization") or ""
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if token not in self.issued or token in self.revoked:
            challenge = 'Bearer realm="%s/token",service="test-registry"' % self.server.url
            return Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}, {"WWW-Authenticate": challenge})
        if seen.path == "/v2/":
            return Reply(200, {})
        return Reply(200, {"name": "team/app", "tags": ["v1"]})

    def token_requests(self):
        return self.server.calls("GET", "/token")


class Clock:
    def __init__(self, now=1000000.0):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(oci, "time", fake)
    return fake


def _probed(server, clients):
    """alice's registry client on ``server`` after ``GET /v2/`` (which learns the auth scheme)."""
    auth = OciAuth("alice", "s3cret")
    registry = OciRegistry(clients(server.url, auth=auth), auth)
    registry.probe()
    return registry


def test_bearer_token_fetched_with_service_scope_account_and_basic(server, clients, clock):
    tokens = TokenService(server)
    registry = _probed(server, clients)
    assert registry.tags("team/app") == ["v1"]
    first, second = tokens.token_requests()
    assert first.arg("service") == "test-registry"
    assert first.arg("account") == "alice"
    assert first.headers["authorization"] == basic("alice", "s3cret")
    assert "scope" not in first.query
    assert second.query["scope"] == ["repository:team/app:pull"]
    assert second.arg("account") == "alice"
    assert second.headers["authorization"] == basic("alice", "s3cret")
    tags_request = server.calls("GET", "/v2/team/app/tags/list")[-1]
    assert tags_request.headers["authorization"] == "Bearer tok-2"
    assert registry.auth.scheme == "bearer"
    assert registry.auth.realm == server.url + "/token"
    assert registry.auth.service == "test-registry"


def test_bearer_token_is_cached_and_reused(server, clients, clock):
    tokens = TokenService(server)
    registry = _probed(server, clients)
    for _i in range(4):
        registry.tags("team/app")
    clock.now += 200
    registry.tags("team/app")
    assert len(tokens.token_requests()) == 2
    # one 401 for the probe only; every other request carried a token
    assert len([r for r in server.requests if r.path != "/token" and "authorization" not in r.headers]) == 1


def test_bearer_token_refetched_after_expiry(server, clients, clock):
    tokens = TokenService(server, expires_in=300)
    registry = _probed(server, clients)
    registry.tags("team/app")
    assert len(tokens.token_requests()) == 2
    clock.now += 296  # within the 5 s safety margin of expiry
    registry.tags("team/app")
    assert len(tokens.token_requests()) == 3
    assert server.calls("GET", "/v2/team/app/tags/list")[-1].headers["authorization"] == "Bearer tok-3"


def test_bearer_token_rejected_by_registry_is_refetched_once(server, clients, clock):
    tokens = TokenService(server)
    registry = _probed(server, clients)
    registry.tags("team/app")
    tokens.revoked.add("tok-2")
    assert registry.tags("team/app") == ["v1"]
    assert len(tokens.token_requests()) == 3


def test_anonymous_bearer_token(server, clients, clock):
    tokens = TokenService(server, anonymous=True)
    auth = OciAuth()
    client = clients(server.url, auth=auth)
    registry = OciRegistry(client, auth)
    registry.probe()
    registry.tags("team/app")
    for request in tokens.token_requests():
        assert "authorization" not in request.headers
        assert "account" not in request.query


def test_token_service_401_is_a_clear_auth_error(server, clients, clock):
    TokenService(server)
    auth = OciAuth("alice", "wrong")
    client = clients(server.url, auth=auth)
    with pytest.raises(AuthError) as caught:
        OciRegistry(client, auth).probe()
    error = caught.value
    assert error.status == 401
    assert "the token service at %s/token refused the credentials" % server.url in str(error)
    assert "invalid username or password" in str(error)
    assert "wrong" not in str(error)


def test_token_service_without_token_is_an_auth_error(server, clients):
    server.route("GET", "/v2/", Reply(401, None, {"WWW-Authenticate": 'Bearer realm="%s/token"' % server.url}))
    server.route("GET", "/token", Reply(200, {"nothing": "here"}))
    auth = OciAuth("alice", "s3cret")
    client = clients(server.url, auth=auth)
    with pytest.raises(AuthError) as caught:
        OciRegistry(client, auth).probe()
    assert "without a token" in str(caught.value)


def test_challenge_scope_is_requested(server, clients):
    challenge = 'Bearer realm="%s/token",service="svc",scope="repository:team/app:pull"' % server.url
    server.route("GET", "/v2/team/app/tags/list", Reply(401, None, {"WWW-Authenticate": challenge}), Reply(200, {"tags": ["x"]}))
    server.route("GET", "/token", Reply(200, {"access_token": "at", "expires_in": 10}))
    auth = OciAuth("alice", "s3cret")
    client = clients(server.url, auth=auth)
    assert OciRegistry(client, auth).tags("team/app") == ["x"]
    assert server.calls("GET", "/token")[0].query["scope"] == ["repository:team/app:pull"]
    assert server.calls("GET", "/v2/team/app/tags/list")[-1].headers["authorization"] == "Bearer at"


# -- remove_tags -----------------------------------------------------------------


def _registry(server, clients, **kwargs):
    fake = FakeOci(server, **kwargs)
    client = clients(server.url, retries=0)
    return fake, OciRegistry(client, OciAuth())


def _on(fake, repository, *tags):
    """``{tag: digest}`` for ``tags`` as the registry has them (a tag it lacks maps to a made-up digest)."""
    return dict((tag, fake.tags[repository].get(tag, "sha256:" + "e" * 64)) for tag in tags)


def test_remove_tags_with_tag_delete(server, clients):
    fake, registry = _registry(server, clients, tag_delete=202)
    digest = fake.add_image("team/app", tags=["v1", "v2", "v3", "keep"])
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1", "gone", "v2", "v3"))
    gone = results.pop("gone")
    assert gone[0] == "absent" and str(gone[1]).startswith("tag gone is already gone")  # not this call's delete
    assert results == dict((tag, ("deleted", None)) for tag in ("v1", "v2", "v3"))
    assert set(r.method for r in server.requests) == {"DELETE"}
    assert len(server.requests) == 4
    assert fake.tags["team/app"] == {"keep": digest}
    assert registry.tag_delete is True


def test_remove_tags_first_tag_missing_keeps_probing(server, clients):
    fake, registry = _registry(server, clients, tag_delete=202)
    fake.add_image("team/app", tags=["v1"])
    results = registry.remove_tags("team/app", _on(fake, "team/app", "gone", "v1"))
    assert (results["gone"][0], results["v1"]) == ("absent", ("deleted", None))
    assert registry.tag_delete is True
    assert [r.path for r in server.requests] == ["/v2/team/app/manifests/gone", "/v2/team/app/manifests/v1"]


def test_remove_tags_falls_back_to_a_throwaway_manifest(server, clients):
    fake, registry = _registry(server, clients, tag_delete=400)
    digest = fake.add_image("team/app", tags=["v1", "v2", "v3", "keep"])
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1", "v2", "v3"))
    assert results == dict((tag, ("deleted", None)) for tag in ("v1", "v2", "v3"))

    puts = [r for r in server.requests if r.method == "PUT" and "/manifests/" in r.path]
    throwaway = digest_of(puts[0].body)
    assert all(p.body == puts[0].body and p.headers["content-type"] == OCI_MANIFEST for p in puts)
    sequence = server.sequence()
    body = json.loads(puts[0].body.decode())
    config_digest = body["config"]["digest"]
    assert body["annotations"][THROWAWAY_ANNOTATION] == "true"  # a later run recognises a tag left on it
    assert sequence[:2] == [("DELETE", "/v2/team/app/manifests/v1"), ("DELETE", "/v2/team/app/manifests/" + NO_SUCH_DIGEST)]
    blob_pushes = sequence[2:8]  # the throwaway's two blobs, pushed side by side: each a HEAD, an upload's POST and PUT
    assert sorted(m for m, _p in blob_pushes) == ["HEAD", "HEAD", "POST", "POST", "PUT", "PUT"]
    assert sorted(p for m, p in blob_pushes if m == "HEAD") == sorted("/v2/team/app/blobs/" + d for d in (EMPTY_JSON_DIGEST, config_digest))
    assert [p for m, p in blob_pushes if m == "POST"] == ["/v2/team/app/blobs/uploads/"] * 2
    assert sorted(sequence[8:11]) == [("PUT", "/v2/team/app/manifests/%s" % t) for t in ("v1", "v2", "v3")]
    assert sequence[11:] == [("DELETE", "/v2/team/app/manifests/" + throwaway)]
    assert len(sequence) == 12

    assert fake.tags["team/app"] == {"keep": digest}
    assert (("team/app", digest)) in fake.manifests
    assert fake.blobs[("team/app", EMPTY_JSON_DIGEST)] == EMPTY_JSON
    labels = json.loads(fake.blobs[("team/app", config_digest)].decode())["config"]["Labels"]
    assert labels["delete-tag"] == "v1,v2,v3"
    assert labels["delete-by"] == "regops.registry"

    # the next call reuses what was learnt: no probe again, and the empty blob is not pushed twice
    fake.add_image("team/app", tags=["v4"], arch="arm64")
    server.requests[:] = []
    assert registry.remove_tags("team/app", _on(fake, "team/app", "v4")) == {"v4": ("deleted", None)}
    methods = server.sequence()
    assert ("DELETE", "/v2/team/app/manifests/v4") not in methods
    assert ("DELETE", "/v2/team/app/manifests/" + NO_SUCH_DIGEST) not in methods
    assert {m for m, _p in methods[:2]} == {"HEAD"} and ("HEAD", "/v2/team/app/blobs/" + EMPTY_JSON_DIGEST) in methods[:2]
    assert len([m for m, _p in methods if m == "POST"]) == 1  # the new config only: the empty blob is there


def _throwaway_deletes_fail(server, fake, registry, tags):
    """Every DELETE of a manifest other than the probe answers 500: the throwaway cannot be deleted."""
    def delete(seen):
        if seen.path.endswith(NO_SUCH_DIGEST) or not seen.path.rsplit("/", 1)[1].startswith("sha256:"):
            return fake.handle(seen)
        return Reply(500, {"errors": [{"code": "UNKNOWN", "message": "storage backend unavailable"}]})
    for path in set("/v2/team/app/manifests/" + t for t in tags):
        server.route("DELETE", path, delete)
    registry.ensure_manifest_delete("team/app")
    server.fallback = lambda seen: delete(seen) if seen.method == "DELETE" else fake.handle(seen)


def test_remove_tags_points_tags_back_when_the_throwaway_cannot_be_deleted(server, clients):
    """A 500 on the throwaway's DELETE (after the retries) never leaves the tags on an empty image."""
    fake, registry = _registry(server, clients, tag_delete=400)
    digest = fake.add_image("team/app", tags=["v1", "v2", "keep"])
    index_like = fake.add_image("team/app", tags=["v3"], arch="arm64")
    before = dict(fake.tags["team/app"])
    _throwaway_deletes_fail(server, fake, registry, ())
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1", "v2", "v3"))
    assert sorted(results) == ["v1", "v2", "v3"]
    for tag, (outcome, error) in results.items():
        assert outcome == "restored" and isinstance(error, UntagRolledBack) and error.outcome == "restored"
        assert "could not be deleted" in str(error) and "storage backend unavailable" in str(error)
        assert "points at %s as before" % before[tag] in str(error)
    assert fake.tags["team/app"] == before
    assert before["v1"] == before["v2"] == digest != index_like
    # the original manifest was read once per digest and put back under each tag
    assert len(server.calls("GET", "/v2/team/app/manifests/" + digest)) == 1


def test_remove_tags_says_where_a_tag_is_when_pointing_it_back_fails(server, clients):
    fake, registry = _registry(server, clients, tag_delete=400)
    fake.add_image("team/app", tags=["v1", "keep"])
    _throwaway_deletes_fail(server, fake, registry, ())
    put_count = []

    def put(seen):
        put_count.append(seen)
        if len(put_count) == 1:
            return fake.handle(seen)  # the move onto the throwaway lands
        return Reply(500, {"errors": [{"code": "UNKNOWN", "message": "disk full"}]})  # pointing it back does not
    server.route("PUT", "/v2/team/app/manifests/v1", put)
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1"))
    outcome, error = results["v1"]
    assert outcome == "failed"
    assert THROWAWAY_ANNOTATION in str(error) and "run the task again" in str(error) and "disk full" in str(error)
    assert registry.is_throwaway("team/app", fake.tags["team/app"]["v1"])
    assert not registry.is_throwaway("team/app", fake.tags["team/app"]["keep"])


def test_remove_tags_a_failed_put_that_landed_is_reported_removed(server, clients):
    """The registry moved the tag but the answer was lost: after the throwaway is deleted the tag is gone, and said so."""
    fake, registry = _registry(server, clients, tag_delete=400)
    fake.add_image("team/app", tags=["v1", "v2"])

    def lost_answer(seen):
        fake.handle(seen)
        return Reply(500, {"errors": [{"code": "UNKNOWN", "message": "answer lost"}]})
    server.route("PUT", "/v2/team/app/manifests/v1", lost_answer)
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1"))
    assert results == {"v1": ("deleted", None)}
    assert fake.tags["team/app"] == {"v2": fake.tags["team/app"]["v2"]}


def test_remove_tags_a_put_that_never_landed_is_reported_failed(server, clients):
    fake, registry = _registry(server, clients, tag_delete=400)
    digest = fake.add_image("team/app", tags=["v1", "v2"])
    server.route("PUT", "/v2/team/app/manifests/v1", Reply(500, {"errors": [{"code": "UNKNOWN", "message": "refused"}]}))
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1", "v2"))
    assert results["v2"] == ("deleted", None)
    assert results["v1"][0] == "failed" and "refused" in str(results["v1"][1])
    assert fake.tags["team/app"] == {"v1": digest}


@pytest.mark.parametrize("fault", [Reply(502, "bad gateway"), Reply(500, "oops"), Reply(reset=True), Reply(close=True)])
def test_opening_a_blob_upload_is_retried(server, clients, fault):
    """The POST that opens an upload is safe to repeat: a 502, a 500 or a reset on it does not fail the call."""
    fake = FakeOci(server, tag_delete=400)
    registry = OciRegistry(clients(server.url, retries=2), OciAuth())
    server.route("POST", "/v2/team/app/blobs/uploads/", fault, fake.handle)
    assert registry.push_blob("team/app", b"payload") == digest_of(b"payload")
    assert fake.blobs[("team/app", digest_of(b"payload"))] == b"payload"
    assert len(server.calls("POST", "/v2/team/app/blobs/uploads/")) == 2


def test_an_upload_whose_answer_was_lost_is_not_failed(server, clients):
    """The final PUT landed but its answer was lost; the retried PUT finds the session consumed (404): the blob is there."""
    FakeOci(server, tag_delete=400)  # serves the registry on server (its fallback)
    registry = OciRegistry(clients(server.url, retries=2), OciAuth())
    original = server.fallback

    def lose_first_put_answer(seen):
        answer = original(seen)
        if seen.method == "PUT" and "/blobs/uploads/" in seen.path and not lose_first_put_answer.done:
            lose_first_put_answer.done = True
            return Reply(reset=True)
        return answer
    lose_first_put_answer.done = False
    server.fallback = lose_first_put_answer
    assert registry.push_blob("team/app", b"payload") == digest_of(b"payload")
    assert len(server.calls("POST", "/v2/team/app/blobs/uploads/")) == 1


@pytest.mark.parametrize("tag_delete", [400, 405])
def test_remove_tags_fails_before_any_put_when_deletes_are_disabled(server, clients, tag_delete):
    fake, registry = _registry(server, clients, tag_delete=tag_delete, manifest_delete=False)
    fake.add_image("team/app", tags=["v1", "v2"])
    with pytest.raises(ApiError) as caught:
        registry.remove_tags("team/app", _on(fake, "team/app", "v1", "v2"))
    assert caught.value.status == 405
    assert "does not allow deletes" in str(caught.value)
    assert "storage.delete.enabled" in str(caught.value)
    assert server.sequence() == [("DELETE", "/v2/team/app/manifests/v1"), ("DELETE", "/v2/team/app/manifests/" + NO_SUCH_DIGEST)]
    assert sorted(fake.tags["team/app"]) == ["v1", "v2"]


def test_remove_tags_probe_error_is_reported_per_tag(server, clients):
    fake, registry = _registry(server, clients, tag_delete=202)
    fake.add_image("team/app", tags=["v1", "v2"])
    server.route("DELETE", "/v2/team/app/manifests/v1", Reply(500, {"errors": [{"code": "UNKNOWN", "message": "storage error"}]}))
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1", "v2"))
    assert results["v1"][0] == "failed" and results["v1"][1].status == 500
    assert results["v2"] == ("deleted", None)


@pytest.mark.parametrize("status", [401, 403])
def test_remove_tags_stops_at_an_auth_refusal(server, clients, status):
    """A user who may not delete is refused once: no request for every other tag, each reported with that error."""
    fake, registry = _registry(server, clients, tag_delete=202)
    fake.add_image("team/app", tags=["v1", "v2", "v3"])
    server.route("DELETE", "/v2/team/app/manifests/v1", Reply(status, {"errors": [{"code": "DENIED", "message": "requested access is denied"}]}))
    results = registry.remove_tags("team/app", _on(fake, "team/app", "v1", "v2", "v3"))
    assert sorted(results) == ["v1", "v2", "v3"]
    assert all(outcome == "failed" and error.status == status for outcome, error in results.values())
    assert server.sequence() == [("DELETE", "/v2/team/app/manifests/v1")]
    assert sorted(fake.tags["team/app"]) == ["v1", "v2", "v3"]


def test_remove_nothing_sends_nothing(server, clients):
    _registry(server, clients)
    assert not OciRegistry(clients(server.url), OciAuth()).remove_tags("team/app", {})
    assert not server.requests


# -- reading -----------------------------------------------------------------------


def test_get_manifest_and_head(server, clients):
    fake, registry = _registry(server, clients)
    digest = fake.add_image("team/app", tags=["v1"])
    manifest = registry.get_manifest("team/app", "v1")
    assert manifest.digest == digest
    assert manifest.media_type == OCI_MANIFEST
    accept = server.requests[0].headers["accept"]
    for media_type in (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST):
        assert media_type in accept
    assert registry.head_manifest("team/app", "v1") == digest
    assert registry.head_manifest("team/app", "nope") is None
    assert registry.get_manifest("team/app", "nope") is None
    assert registry.tags("team/app") == ["v1"]
    assert registry.tags("team/nope") is None


def test_head_without_digest_header_falls_back_to_get(server, clients):
    raw = b'{"schemaVersion": 2}'
    server.route("HEAD", "/v2/app/manifests/v1", Reply(200, raw, {"Content-Type": DOCKER_MANIFEST + "; charset=utf-8"}))
    server.route("GET", "/v2/app/manifests/v1", Reply(200, raw, {"Content-Type": DOCKER_MANIFEST + "; charset=utf-8"}))
    registry = OciRegistry(clients(server.url), OciAuth())
    assert registry.head_manifest("app", "v1") == digest_of(raw)
    assert registry.get_manifest("app", "v1").media_type == DOCKER_MANIFEST


def test_catalog_and_tags_follow_links_and_shrink_page_size(server, clients):
    def catalog(seen):
        if seen.arg("n") == "1000":
            return Reply(400, {"errors": [{"code": "PAGINATION_NUMBER_INVALID", "message": "invalid number of results requested"}]})
        if seen.arg("last") is None:
            return Reply(200, {"repositories": ["b", "a"]}, {"Link": '</v2/_catalog?last=b&n=100>; rel="next"'})
        return Reply(200, {"repositories": ["c", "a"]})
    server.route("GET", "/v2/_catalog", catalog)
    server.route("GET", "/v2/a/tags/list", Reply(200, {"tags": ["2"]}, {"Link": '</v2/a/tags/list?last=2&n=1>; rel="next"'}),
                 Reply(200, {"tags": ["1"]}))
    registry = OciRegistry(clients(server.url), OciAuth())
    assert registry.catalog() == ["a", "b", "c"]
    assert [r.raw_query for r in server.requests] == ["n=1000", "n=100", "last=b&n=100"]
    assert registry.tags("a") == ["1", "2"]


def test_catalog_with_fewer_than_100_maxentries_uses_the_registry_page_size(server, clients):
    def catalog(seen):
        if seen.arg("n") is not None:
            return Reply(400, {"errors": [{"code": "PAGINATION_NUMBER_INVALID", "message": "invalid number of results requested"}]})
        return Reply(200, {"repositories": ["a"]})
    server.route("GET", "/v2/_catalog", catalog)
    assert OciRegistry(clients(server.url), OciAuth()).catalog() == ["a"]
    assert [r.raw_query for r in server.requests] == ["n=1000", "n=100", ""]


def test_ensure_manifest_across_repositories_copies_blobs_once(server, clients):
    fake, registry = _registry(server, clients)
    digest = fake.add_image("team/base", tags=["v1"])
    assert registry.ensure_manifest("team/base", digest, "team/app").digest == digest
    assert ("team/app", digest) in fake.manifests and fake.tags["team/app"] == {}
    puts = len(server.calls("PUT"))
    assert registry.ensure_manifest("team/base", digest, "team/app").digest == digest  # already there: nothing copied again
    assert len(server.calls("PUT")) == puts
    for (repository, blob), data in list(fake.blobs.items()):
        if repository == "team/base":
            assert fake.blobs[("team/app", blob)] == data
    mounts = [r for r in server.requests if r.method == "POST"]
    assert mounts and all(r.arg("from") == "team/base" and r.arg("mount").startswith("sha256:") for r in mounts)


def test_delete_manifest(server, clients):
    fake, registry = _registry(server, clients)
    digest = fake.add_image("team/app", tags=["v1"])
    assert registry.delete_manifest("team/app", digest) is True
    assert registry.delete_manifest("team/app", digest) is False
    fake.manifest_delete = False
    with pytest.raises(ApiError) as caught:
        registry.delete_manifest("team/app", "sha256:" + HEX)
    assert "storage.delete.enabled" in str(caught.value)


# -- Manifest ----------------------------------------------------------------------


def _index(media_type=OCI_INDEX, with_type=True):
    body = {"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "1" * 64, "size": 500, "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "2" * 64, "size": 500,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "3" * 64, "size": 300},
    ]}
    if with_type:
        body["mediaType"] = media_type
    return json.dumps(body).encode()


def test_manifest_index_children_and_platforms():
    raw = _index()
    manifest = Manifest(digest_of(raw), OCI_INDEX, raw)
    assert manifest.is_index
    assert manifest.children() == [
        {"digest": "sha256:" + "1" * 64, "media_type": OCI_MANIFEST, "platform": "linux/amd64"},
        {"digest": "sha256:" + "2" * 64, "media_type": OCI_MANIFEST, "platform": "linux/arm64/v8"},
        {"digest": "sha256:" + "3" * 64, "media_type": OCI_MANIFEST, "platform": None},
    ]
    assert manifest.blobs() == []
    assert manifest.size() == len(raw)


@pytest.mark.parametrize("header, body_type, expected", [
    (DOCKER_LIST, DOCKER_LIST, DOCKER_LIST),
    ("application/json", DOCKER_LIST, DOCKER_LIST),
    ("", OCI_INDEX, OCI_INDEX),
    (None, None, None),
])
def test_manifest_index_types(header, body_type, expected):
    raw = _index(body_type, with_type=body_type is not None)
    manifest = Manifest("sha256:" + HEX, header, raw)
    assert manifest.media_type == expected
    assert manifest.is_index
    assert len(manifest.children()) == 3


@pytest.mark.parametrize("media_type, config_type", [
    (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json"),
    (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json"),
])
def test_manifest_image_blobs_and_size(media_type, config_type):
    raw = json.dumps({"schemaVersion": 2, "mediaType": media_type,
                      "config": {"mediaType": config_type, "digest": "sha256:" + "c" * 64, "size": 1000},
                      "layers": [{"digest": "sha256:" + "d" * 64, "size": 20000}, {"digest": "sha256:" + "e" * 64, "size": 300}, "junk"]}).encode()
    manifest = Manifest(digest_of(raw), "application/octet-stream", raw)
    assert manifest.media_type == media_type
    assert not manifest.is_index
    assert manifest.children() == []
    assert [b["digest"][7] for b in manifest.blobs()] == ["c", "d", "e"]
    assert manifest.size() == len(raw) + 21300


def test_manifest_bad_json():
    manifest = Manifest("sha256:" + HEX, OCI_MANIFEST, b"not json")
    assert manifest.body == {}
    assert manifest.size() == 8
    assert Manifest("sha256:" + HEX, None, b"").body == {}


def test_platform_string():
    assert platform_string(None) is None
    assert platform_string({}) is None
    assert platform_string({"os": "windows"}) == "windows/unknown"
    assert platform_string({"os": "linux", "architecture": "arm", "variant": "v7"}) == "linux/arm/v7"


def test_empty_json_digest_constant():
    assert digest_of(EMPTY_JSON) == EMPTY_JSON_DIGEST


@pytest.mark.parametrize("tag_delete", [202, 400])
def test_remove_tags_with_recheck_leaves_a_tag_that_moved_alone(server, clients, tag_delete):
    """Read again right before it is touched: a tag pushed again since it was read is skipped, the others go."""
    fake, registry = _registry(server, clients, tag_delete=tag_delete)
    old = fake.add_image("team/app", tags=["v1", "v2", "keep"])
    seen_then = _on(fake, "team/app", "v1", "v2")
    new = fake.add_image("team/app", tags=["v2"], arch="arm64")  # pushed again after the read
    results = registry.remove_tags("team/app", seen_then, recheck=True)
    assert results["v1"] == ("deleted", None)
    outcome, error = results["v2"]
    assert outcome == "skipped" and isinstance(error, TagMoved) and error.reason == "moved"
    assert str(error) == "moved: now points at %s, expected %s; not removed" % (new, old)
    assert fake.tags["team/app"] == {"v2": new, "keep": old}
    heads = [r.path for r in server.requests if r.method == "HEAD" and "/manifests/" in r.path]
    # one read per tag (the first tag twice where it also probed for the tag DELETE)
    assert sorted(set(heads)) == ["/v2/team/app/manifests/v1", "/v2/team/app/manifests/v2"] and len(heads) <= 3


@pytest.mark.parametrize("tag_delete", [202, 400])
def test_remove_tags_with_recheck_reports_a_tag_gone_since_the_read_absent(server, clients, tag_delete):
    """A tag deleted by someone else after the read is ``absent`` (not this call's delete), and nothing is pushed onto
    its name: with the throwaway path (no tag DELETE) the tag is not put back to be removed again."""
    fake, registry = _registry(server, clients, tag_delete=tag_delete)
    digest = fake.add_image("team/app", tags=["v1", "v2", "keep"])
    seen_then = _on(fake, "team/app", "v1", "v2")
    del fake.tags["team/app"]["v2"]  # removed by another run after the read
    results = registry.remove_tags("team/app", seen_then, recheck=True)
    assert results["v1"] == ("deleted", None)
    outcome, error = results["v2"]
    assert outcome == "absent" and str(error) == "tag v2 is already gone: deleted since it was read (by another run, or by hand)"
    assert fake.tags["team/app"] == {"keep": digest}
    assert not [r for r in server.requests if r.path == "/v2/team/app/manifests/v2" and r.method in ("PUT", "DELETE")]


def test_remove_tags_without_recheck_sends_no_extra_read(server, clients):
    fake, registry = _registry(server, clients, tag_delete=400)
    fake.add_image("team/app", tags=["v1", "keep"])
    registry.remove_tags("team/app", _on(fake, "team/app", "v1"))
    assert not [r for r in server.requests if r.method == "HEAD" and "/manifests/" in r.path]


def test_workers_refused_together_fetch_one_new_token(server, clients, clock):
    """The scope's token revoked mid-run: the 8 workers that it refuses at once get one new token between them, and a
    worker that waited for it does not fetch again (the token it holds then is not the refused one)."""
    tokens = TokenService(server)
    registry = _probed(server, clients)
    assert registry.tags("team/app") == ["v1"]
    assert len(tokens.token_requests()) == 2  # the probe's, the scope's
    tokens.revoked.add("tok-2")
    server.route("GET", "/token", lambda seen: (time.sleep(0.2), tokens.token(seen))[1])
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _i: registry.tags("team/app"), range(8))) == [["v1"]] * 8
    assert [r.query.get("scope") for r in tokens.token_requests()] == [None] + [["repository:team/app:pull"]] * 2
    assert len(tokens.issued) == 3


def test_workers_that_start_together_fetch_one_token_per_scope(server, clients, clock):
    """A bulk call's workers ask for the same scope's token at once: one of them fetches it, the others wait for it."""
    tokens = TokenService(server)
    server.route("GET", "/token", lambda seen: (time.sleep(0.2), tokens.token(seen))[1])
    registry = _probed(server, clients)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _i: registry.tags("team/app"), range(8))) == [["v1"]] * 8
    assert [r.query.get("scope") for r in tokens.token_requests()] == [None, ["repository:team/app:pull"]]
