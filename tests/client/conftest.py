"""A real evaluation server on 127.0.0.1 for the client's tests, and what they send it."""

import pytest

from client_support import MODEL, make_archive

from dynalab.client.session import make_session


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    """A home of our own, and none of the caller's tokens or server address."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DYNALAB_HOME", str(home))
    for name in ("DYNALAB_API_TOKEN", "DYNALAB_API_URL", "CI"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from dynalab.testing.server_process import ServerProcess

    with ServerProcess(tmp_path_factory.mktemp("server-data")) as process:
        yield process


@pytest.fixture
def user_token(server, request):
    """A fresh user per test, so each starts with a full upload quota."""
    return server.add_user(f"{request.node.name.replace('[', '-').replace(']', '')}@example.org".lower())


@pytest.fixture
def quick_session():
    """Our session with one quick retry: for tests that expect the server to be gone."""
    return make_session(retries=1, backoff=0)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def archive(project):
    return make_archive(project / ".dynalab" / MODEL / "build" / f"{MODEL}.tar.gz")
