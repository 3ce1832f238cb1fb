"""Remote workers tried as a new user would: Redis, a server with ``--broker``, and real ``dynalab-server
worker`` processes in folders of their own, knowing only the broker URL, the API URL and their token,
deploying and evaluating uploads made with ``dynalab-cli`` in the real sandbox (the real job function).
"""

import json
import os
import time
from pathlib import Path

import pytest

from evaluation_support import model_processes, score_records
from server_support import Api, wait_for

from dynalab.server.jobs.work import SCRATCH_LABEL

INIT = ("init", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py")
WAIT = 300


@pytest.fixture
def slow_project(make_project, cli):
    """The slow-nli fixture project (0.1 s an example), initialised as models m1, m2 and m3."""
    project = make_project("slow-nli")
    for name in ("m1", "m2", "m3"):
        result = cli(*INIT, "-n", name, cwd=project)
        assert result.returncode == 0, result.stderr
    return project


def add_dataset(server, tmp_path, count):
    labels = ("entailed", "neutral", "contradictory")
    path = tmp_path / f"dev-{count}.jsonl"
    path.write_text("".join(json.dumps({"uid": f"ex-{i}", "context": f"Person {i} reads a book.",
                                        "hypothesis": "x" * (i % 7 + 1), "label": labels[i % 3]}) + "\n"
                            for i in range(count)))
    result = server.cli("add-dataset", "--task", "nli", "--name", "dev", str(path))
    assert result.returncode == 0, result.stderr


def upload(cli, project, env, name):
    result = cli("upload", "-n", name, "--no-progress", cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def status(cli, project, env, name):
    result = cli("status", "-n", name, "--wait", "--json", "--timeout", str(WAIT), cwd=project, env=env,
                 timeout=WAIT + 60)
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def test_two_workers_evaluate_three_uploads_each_dataset_naming_the_worker_that_ran_it(
        redis, broker_server, start_worker, slow_project, cli, tmp_path):
    server = broker_server(redis, lease_seconds=60)
    add_dataset(server, tmp_path, 10)
    start_worker(server, redis, "alpha", real_job=True)
    start_worker(server, redis, "beta", real_job=True)
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("ada@example.org")}
    for name in ("m1", "m2", "m3"):
        upload(cli, slow_project, env, name)

    for name in ("m1", "m2", "m3"):
        evaluated = status(cli, slow_project, env, name)
        assert (evaluated["status"], evaluated["failure"]) == ("evaluated", None), evaluated
        [dataset] = evaluated["datasets"]
        assert dataset["status"] == "done" and 0 <= dataset["metrics"]["accuracy"] <= 1
        assert dataset["worker"] in ("alpha", "beta")
        log = cli("status", "-n", name, "--log", cwd=slow_project, env=env).stdout
        assert f"=== evaluation on dataset dev on worker {dataset['worker']}, attempt 1" in log
    # Nothing of the models is left running on the workers' machines (here, this one).
    assert not [p for p in model_processes(tmp_path / "worker-alpha" / "dynalab-worker") if "sandbox" in p]


def test_kill_9_of_a_worker_while_it_evaluates_ends_evaluated_on_the_other_with_one_score_record(
        redis, broker_server, start_worker, slow_project, cli, tmp_path):
    server = broker_server(redis, lease_seconds=5)
    add_dataset(server, tmp_path, 150)  # 15 s of evaluation
    workers = {name: start_worker(server, redis, name, real_job=True) for name in ("alpha", "beta")}
    token = server.add_user("ada@example.org")
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": token}
    upload(cli, slow_project, env, "m1")
    api = Api(server.url)
    bearer = api.bearer(token)

    def running():
        [model] = api.models(bearer).json()
        datasets = api.model(bearer, model["model_id"]).json()["datasets"]
        return datasets and datasets[0]["status"] == "running" and datasets[0]["worker"]

    assert wait_for(running, WAIT), server.log()
    [model] = api.models(bearer).json()
    victim = running()
    time.sleep(2)  # well into the sending
    workers[victim].kill_9()
    killed_at = time.monotonic()

    evaluated = status(cli, slow_project, env, "m1")
    [survivor] = [name for name in workers if name != victim]
    assert evaluated["status"] == "evaluated", evaluated
    assert evaluated["datasets"][0]["worker"] == survivor
    assert time.monotonic() - killed_at < 120
    assert score_records(server.data_dir, model["model_id"]) == {1: 1}
    # The killed worker's model process died with it.
    assert wait_for(lambda: not model_processes(Path(tmp_path) / f"worker-{victim}" / "dynalab-worker"), 20)
    log = cli("status", "-n", "m1", "--log", cwd=slow_project, env=env).stdout
    assert "its worker was lost: no heartbeat since" in log
    assert f"=== evaluation on dataset dev on worker {survivor}, attempt 2" in log


def test_a_worker_on_the_docker_backend_evaluates_an_upload_and_leaves_no_container(
        redis, broker_server, start_worker, slow_project, cli, tmp_path, monkeypatch):
    import docker

    monkeypatch.setenv("DYNALAB_DOCKER_BASE_IMAGE", os.environ.get("DYNALAB_DOCKER_BASE_IMAGE",
                                                                  "local/debian-py:bookworm"))
    server = broker_server(redis, lease_seconds=60)
    add_dataset(server, tmp_path, 10)
    start_worker(server, redis, "docker-box", "--backend", "docker", real_job=True)
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("ada@example.org")}
    upload(cli, slow_project, env, "m1")

    evaluated = status(cli, slow_project, env, "m1")
    assert evaluated["status"] == "evaluated", evaluated
    assert evaluated["datasets"][0]["worker"] == "docker-box"
    log = cli("status", "-n", "m1", "--log", cwd=slow_project, env=env).stdout
    assert "(backend docker)" in log
    scratch = str((tmp_path / "worker-docker-box" / "dynalab-worker" / "scratch").resolve())
    client = docker.from_env()
    assert not client.containers.list(all=True, filters={"label": f"{SCRATCH_LABEL}={scratch}"})
