"""Real server processes on 127.0.0.1, each with its own data dir and SQLite file."""

import os
from contextlib import nullcontext

import pytest

from prerequisites import missing
from server_support import MODEL, Api, postgres_reachable, postgres_schema

from dynalab.testing.server_process import ServerProcess


@pytest.fixture(params=["sqlite"])
def parts(request, tmp_path):
    """A server's database, settings and catalog (``lifecycle_support.ServerParts``), no HTTP.
    SQLite unless a test asks for more: ``@pytest.mark.parametrize("parts", ["sqlite", "postgresql"],
    indirect=True)`` (PostgreSQL: a schema of its own in the test database)."""
    from lifecycle_support import ServerParts

    if request.param == "postgresql" and not postgres_reachable():
        missing("no PostgreSQL for the test (run .ci/postgres-setup)")
    with postgres_schema("jobs") if request.param == "postgresql" else nullcontext("") as url:
        server_parts = ServerParts.open(tmp_path / "data", url)
        yield server_parts
        server_parts.close()


@pytest.fixture
def running_server(tmp_path):
    """A fresh server (data dir ``tmp_path/data``, a free port), stopped after the test."""
    with ServerProcess(tmp_path / "data") as server:
        yield server


@pytest.fixture
def start_server(tmp_path):
    """Start servers with extra ``run`` options: ``start_server("--max-upload-bytes", 1000)``."""
    started = []

    def start(*extra_args, data_dir=None, env=None):
        server = ServerProcess(data_dir or tmp_path / f"data{len(started)}", extra_args=extra_args, env=env)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for a module's tests that need no server of their own. It runs no jobs
    (``--workers 0``): its uploads stay ``queued``, and its tests are about what comes before."""
    with ServerProcess(tmp_path_factory.mktemp("shared") / "data", extra_args=("--workers", "0")) as server:
        yield server


@pytest.fixture
def board(tmp_path):
    """A server of its own that runs no jobs, with evaluated models made as a test asks
    (``board_support.Board``): for pages, publishing and leaderboards."""
    from board_support import Board

    with ServerProcess(tmp_path / "data", extra_args=("--workers", "0")) as server:
        result = Board(server, tmp_path)
        yield result
        result.close()


@pytest.fixture
def user(shared_server, request):
    """A fresh user of the shared server (so a full quota): ``(api_token, Api)``."""
    email = "".join(c if c.isalnum() else "-" for c in request.node.name.lower()) + "@example.org"
    return shared_server.add_user(email), Api(shared_server.url)


@pytest.fixture
def client_archive(make_project):
    """``client_archive(size)``: the archive ``dynalab-cli`` packages for the big-random-weights
    project with a ``size``-byte random checkpoint (stored, not compressed, in its own gzip member)."""
    from dynalab.project.config import save_config, validate_config
    from dynalab.packaging import build_archive
    from dynalab.project import Project

    def build(size, name=MODEL):
        root = make_project("big-random-weights")
        with open(root / "model.pt", "wb") as weights:
            for _ in range(size >> 20):
                weights.write(os.urandom(1 << 20))
            weights.write(os.urandom(size % (1 << 20)))
        project = Project(root)
        config = validate_config(project, {"task": "nli", "checkpoint": "model.pt", "handler": "handler.py"},
                                 source="test config")
        project.model_dir(name).mkdir(parents=True)
        save_config(project, name, config)
        return build_archive(root, name, config, root.parent / f"{name}.tar.gz").path

    return build
