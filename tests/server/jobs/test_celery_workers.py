"""Jobs run by remote workers through Celery on Redis: real server, real Redis, real worker processes.

The workers know only the broker URL, the API URL and their token; they run
the tests' ``JournalJob`` (see ``journal_job``) through the HTTP source and
report, so what is checked here is the road a job travels, not a model.
"""

import re
import time

import pytest

from journal_job import JournalJob
from server_support import Api, model_archive, wait_for

from dynalab.server.db.database import Database
from dynalab.server.db.models import Evaluation, HistoryEntry, Job
from dynalab.server.settings import sqlite_url

EXAMPLES = 6


@pytest.fixture
def job(tmp_path):
    job = JournalJob(tmp_path / "job")
    yield job
    job.release()


def add_dataset(server, tmp_path, name="dev"):
    lines = [f'{{"uid": "ex-{i}", "context": "Person {i} reads.", "hypothesis": "{chr(97 + i)} reads.", '
             f'"label": "{("entailed", "neutral", "contradictory")[i % 3]}"}}' for i in range(EXAMPLES)]
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = server.cli("add-dataset", "--task", "nli", "--name", name, str(path))
    assert result.returncode == 0, result.stderr


def user_of(server, email="researcher@example.org"):
    api = Api(server.url)
    return api, api.bearer(server.add_user(email))


def upload(api, bearer, name):
    response = api.upload(bearer, model_archive(name, "nli", name.encode() * 50 + bytes(range(256))), name=name)
    assert response.status_code == 200, response.text
    return response.json()["model_id"]


def ends(api, bearer, model_id, timeout=60):
    wait_for(lambda: api.model(bearer, model_id).json()["status"] in ("evaluated", "failed"), timeout)
    return api.model(bearer, model_id).json()


def records(server):
    """(evaluations, history entries, jobs) as the server's database holds them."""
    db = Database(sqlite_url(server.data_dir))
    try:
        with db.session() as session:
            return (session.query(Evaluation).all(), session.query(HistoryEntry).all(), session.query(Job).all())
    finally:
        db.dispose()


def test_three_uploads_on_two_workers_all_end_evaluated_each_dataset_naming_its_worker(
        redis, broker_server, start_worker, job, tmp_path):
    server = broker_server(redis)
    add_dataset(server, tmp_path)
    start_worker(server, redis, "alpha"), start_worker(server, redis, "beta")
    api, bearer = user_of(server)
    models = [upload(api, bearer, name) for name in ("m1", "m2", "m3")]

    for model_id in models:
        model = ends(api, bearer, model_id)
        assert model["status"] == "evaluated", model
        [dataset] = model["datasets"]
        assert dataset["status"] == "done" and dataset["metrics"]["accuracy"] >= 0
        assert dataset["worker"] in ("alpha", "beta")
        # The worker named is the one that ran it: its log says where each job ran.
        log = api.get(f"/models/{model_id}/log", headers={"Authorization": f"Bearer {bearer}"}).text
        assert re.search(rf"=== evaluation on dataset dev on worker {dataset['worker']}, attempt 1, ", log), log
        assert re.search(r"=== deployment on worker (alpha|beta), attempt 1, ", log), log
    # The targets never reached a worker (JournalJob fails on one), and the server scored the predictions.
    assert not [entry for entry in job.entries() if entry["event"] == "raised"]


def test_kill_9_of_a_worker_while_it_evaluates_the_other_takes_the_job_up_and_scores_are_written_once(
        redis, broker_server, start_worker, job, tmp_path):
    server = broker_server(redis, lease_seconds=3)
    add_dataset(server, tmp_path)
    workers = {name: start_worker(server, redis, name) for name in ("alpha", "beta")}
    api, bearer = user_of(server)
    model_id = upload(api, bearer, "waits-evaluating")

    assert wait_for(lambda: any(e["event"] == "waiting" for e in job.entries()), 60), job.entries()
    waiting = next(e for e in job.entries() if e["event"] == "waiting")
    [victim] = [worker for worker in workers.values() if worker.pid == waiting["ppid"]]
    started = time.monotonic()
    victim.kill_9()

    model = ends(api, bearer, model_id, timeout=90)
    taken_up_after = time.monotonic() - started
    assert model["status"] == "evaluated", model
    [survivor] = [name for name, worker in workers.items() if worker is not victim]
    assert model["datasets"][0]["worker"] == survivor and model["datasets"][0]["status"] == "done"
    assert taken_up_after < 60  # the lease (3 s here, 60 s by default), not Redis's one-hour visibility timeout
    # The killed worker's job process died with it: it never wrote again, let alone a score.
    assert wait_for(lambda: not _alive(waiting["pid"]), 10)
    attempts = [(e["event"], e["attempt"]) for e in job.entries() if e["dataset_id"] is not None]
    assert attempts == [("start", 1), ("waiting", 1), ("start", 2), ("end", 2)]

    evaluations, history, jobs = records(server)
    assert len(evaluations) == 1 and evaluations[0].status == "done"
    done = [h for h in history if h.dataset_id is not None and h.to_status == "done"]
    assert len(done) == 1
    assert [(j.dataset_id is None, j.state, j.attempt) for j in jobs] == [(True, "done", 1), (False, "done", 2)]
    log = api.get(f"/models/{model_id}/log", headers={"Authorization": f"Bearer {bearer}"}).text
    assert "attempt 1: its worker was lost: no heartbeat since" in log


def test_a_model_uploaded_while_the_broker_is_down_is_evaluated_once_it_is_back(
        own_redis, broker_server, start_worker, job, tmp_path):
    server = broker_server(own_redis)
    add_dataset(server, tmp_path)
    start_worker(server, own_redis, "alpha")
    api, bearer = user_of(server)

    own_redis.stop()
    model_id = upload(api, bearer, "m")
    assert wait_for(lambda: "does not take jobs" in server.log(), 20), server.log()
    time.sleep(1)
    assert api.model(bearer, model_id).json()["status"] == "queued"  # waiting in the database

    own_redis.start()
    model = ends(api, bearer, model_id, timeout=90)
    assert model["status"] == "evaluated", model
    assert "is back: sending the waiting jobs" in server.log()


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_task_that_needs_a_gpu_goes_to_the_gpu_queue_and_a_worker_without_one_says_so(
        redis, broker_server, start_worker, job, tmp_path):
    import yaml

    from dynalab.tasks.registry import load_builtin

    data_dir = tmp_path / "server-data"
    (data_dir / "tasks").mkdir(parents=True)
    (data_dir / "tasks" / "nli_gpu.yaml").write_text(
        yaml.safe_dump({**load_builtin("nli"), "task": "nli_gpu", "limits": {"gpu": True}}))
    server = broker_server(redis)
    cpu = start_worker(server, redis, "cpu-box")
    gpu = start_worker(server, redis, "gpu-box", "--queue", "gpu", "--backend", "docker")
    assert "warning: --queue gpu, but this machine has none" in gpu.log()
    api, bearer = user_of(server)
    response = api.upload(bearer, model_archive("m", "nli_gpu"), name="m", task="nli_gpu")
    assert response.status_code == 200, response.text

    model = ends(api, bearer, response.json()["model_id"])
    assert model["status"] == "failed" and model["failure"]["class"] == "infrastructure"
    assert model["failure"]["reason"].startswith("worker gpu-box: the task needs a GPU, and this machine has none")
    assert model["failure"]["reason"].endswith("(3 attempts)")  # tried again, in case a worker with a GPU took it
    log = api.get(f"/models/{model['model_id']}/log", headers={"Authorization": f"Bearer {bearer}"}).text
    assert "hint: the server's administrator runs the task's jobs on a machine with a GPU" in log
    assert "Task dynalab.run_job" in gpu.log() and "Task dynalab.run_job" not in cpu.log()
    assert not job.entries()  # the job function never ran without its GPU
