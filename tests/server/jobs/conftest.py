"""Redis, a server sending its jobs to it, and remote workers: real processes on 127.0.0.1."""

import sys
from pathlib import Path

import pytest

# The end-to-end helpers of the evaluation tests (score records, model processes) serve here too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "evaluation"))

from celery_support import RedisProcess, worker_process
from prerequisites import missing



@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory):
    """One redis-server for the session's tests (emptied before each test that uses ``redis``)."""
    if not RedisProcess.available():
        missing("no redis-server (run .ci/setup)")
    with RedisProcess(tmp_path_factory.mktemp("redis")) as redis:
        yield redis


@pytest.fixture
def redis(shared_redis):
    shared_redis.flush()
    return shared_redis


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, which it may stop and start again."""
    if not RedisProcess.available():
        missing("no redis-server (run .ci/setup)")
    redis = RedisProcess(tmp_path / "redis")
    yield redis.start()
    redis.stop()


@pytest.fixture
def broker_server(start_server, tmp_path):
    """``broker_server(redis, *extra_args, lease_seconds=3)``: a server started with ``--broker``."""

    def start(redis, *extra_args, lease_seconds=3.0):
        return start_server("--broker", redis.url, *extra_args, data_dir=tmp_path / "server-data",
                            env={"DYNALAB_SERVER_LEASE_SECONDS": str(lease_seconds)})

    return start


@pytest.fixture
def start_worker(tmp_path):
    """``start_worker(server, redis, name, *extra_args)``: a worker added to ``server`` and started in
    its own folder; it runs ``JournalJob`` (folder ``tmp_path/job``) unless ``real_job=True``."""
    started = []

    def start(server, redis, name, *extra_args, real_job=False):
        added = server.cli("add-worker", name)
        assert added.returncode == 0, added.stderr
        token = added.stdout.strip().splitlines()[-1]
        worker = worker_process(tmp_path / f"worker-{name}", redis.url, server.url, token, tmp_path / "job",
                                real_job=real_job, extra_args=extra_args)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
