"""Session fixtures: real distribution 2.8 registries on 127.0.0.1 plus seeding helpers."""

# pylint: disable=redefined-outer-name
import sys
import uuid
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # make ``tests.support`` importable however pytest is started
    sys.path.insert(0, _REPO_ROOT)

# pylint: disable=wrong-import-position
from tests.support.faultproxy import FaultProxy  # noqa: E402
from tests.support.registry import LocalRegistry  # noqa: E402
from tests.support.registry import oci_args as _oci_args  # noqa: E402
from tests.support.seed import SeedClient, seed_standard  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "compat: the end-to-end tests that also run on the oldest ansible-core the collection "
                                       "claims (every module on every provider, the role, a failing module): make e2e-2.18")


@pytest.fixture(scope="session")
def registry():
    """htpasswd-protected registry with delete enabled."""
    with LocalRegistry(auth="htpasswd", delete_enabled=True) as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry():
    """Token-auth registry (``.token_server``; ``username`` full access, ``reader_username`` pull-only)."""
    with LocalRegistry(auth="token", delete_enabled=True) as reg:
        yield reg


@pytest.fixture(scope="session")
def registry_nodelete():
    """htpasswd registry with ``storage.delete.enabled: false``."""
    with LocalRegistry(auth="htpasswd", delete_enabled=False) as reg:
        yield reg


@pytest.fixture
def prefix():
    """Unique repository prefix for one test, e.g. ``t1a2b3c4d``."""
    return "t" + uuid.uuid4().hex[:8]


@pytest.fixture
def seed(registry):
    """Independent OCI client for ``registry``."""
    return SeedClient.for_registry(registry)


@pytest.fixture
def token_seed(token_registry):
    """Independent OCI client (full access user) for ``token_registry``."""
    return SeedClient.for_registry(token_registry)


@pytest.fixture
def nodelete_seed(registry_nodelete):
    """Independent OCI client for ``registry_nodelete``."""
    return SeedClient.for_registry(registry_nodelete)


@pytest.fixture
def seeded(seed, prefix):
    """Standard fixture (``seed_standard``) pushed under this test's prefix; returns its description."""
    return seed_standard(seed, prefix)


@pytest.fixture
def oci_args():
    """Function ``oci_args(registry, username=None, password=None)`` -> module connection options."""
    def _build(reg, username=None, password=None):
        if username or password:
            return reg.oci_args(username, password)
        return _oci_args(reg)
    return _build


@pytest.fixture(scope="session")
def registry_open():
    """Registry without auth, delete enabled: for request-heavy tests (htpasswd runs bcrypt on every request)."""
    with LocalRegistry(auth="none", delete_enabled=True) as reg:
        yield reg


@pytest.fixture
def fault_proxy(registry):
    """Function ``fault_proxy(upstream=registry, **options)`` -> a started :class:`FaultProxy` (stopped after the test).

    Options as for ``FaultProxy`` (``seed``, ``rate``, ``kinds``, ``match``, ``rules``, ``retry_after``, ``key`` ...).
    """
    started = []

    def _start(upstream=None, **options):
        proxy = FaultProxy(upstream or registry, **options).start()
        started.append(proxy)
        return proxy
    yield _start
    for proxy in started:
        proxy.stop()
