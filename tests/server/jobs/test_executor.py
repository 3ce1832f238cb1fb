"""The embedded worker: threads claiming jobs from the database and running the job function on them."""

import pytest

from journal_job import JournalJob
from server_support import wait_for

from dynalab.server.db.models import Job
from dynalab.server.jobs.executor import EmbeddedExecutor
from dynalab.server.jobs.protocol import MAX_ATTEMPTS
from dynalab.server.model_view import model_log


@pytest.fixture
def job(tmp_path):
    return JournalJob(tmp_path / "job")


@pytest.fixture
def executor(parts, job):
    """``executor(**options)``: an embedded worker over ``parts`` running ``job``, started, stopped after."""
    started = []

    def start(**options):
        worker = EmbeddedExecutor(parts.db, parts.settings, parts.catalog, job, **{"poll_seconds": 0.2, **options})
        worker.start()
        started.append(worker)
        return worker

    yield start
    job.release()
    for worker in started:
        worker.stop()


def ends(parts, model_id, timeout=20):
    """The model's status once it is evaluated or failed (or what it is after ``timeout`` s)."""
    wait_for(lambda: parts.model(model_id).status in ("evaluated", "failed"), timeout)
    return parts.model(model_id).status


def log_of(parts, model_id):
    with parts.session() as session:
        return model_log(session, parts.model(model_id))


def test_an_upload_is_deployed_by_the_embedded_worker(parts, job, executor):
    worker = executor(backend="docker")
    model_id = parts.add_model("m")
    worker.wake()
    assert ends(parts, model_id) == "evaluated"
    [start, end] = job.entries()
    assert start == {"event": "start", "job_id": 1, "model_id": model_id, "dataset_id": None, "attempt": 1,
                     "lease_token": start["lease_token"], "name": "m", "backend": "docker"}
    assert end["event"] == "end"
    assert parts.jobs(model_id) == [(None, "done", 1)]
    log = log_of(parts, model_id)
    assert log.startswith("=== deployment, attempt 1, ") and "(backend docker)\ndeploying m\n" in log


def test_a_failing_model_ends_failed_with_its_reason_and_the_others_go_on(parts, job, executor):
    executor(workers=1)
    failing, fine = parts.add_model("fails"), parts.add_model("m")
    assert ends(parts, failing) == "failed" and ends(parts, fine) == "evaluated"
    model = parts.model(failing)
    assert (model.failure_class, model.failure_reason) == ("load", "ModuleNotFoundError: No module named 'transformers'")
    assert model.failure_hint == "list transformers in the config's requirements"
    assert parts.jobs(failing) == [(None, "failed", 1)]
    log = log_of(parts, failing)
    assert log.endswith("failed (load): ModuleNotFoundError: No module named 'transformers'\n"
                        "hint: list transformers in the config's requirements\n")


@pytest.mark.parametrize("name, reason", [
    ("raises", "the job failed on the server's side: RuntimeError: the disk went away"),
    ("no-result", "the job ended without a result"),
])
def test_a_job_failing_on_the_servers_side_is_tried_again_then_fails_as_infrastructure(
        parts, job, executor, name, reason):
    executor()
    model_id = parts.add_model(name)
    assert ends(parts, model_id) == "failed"
    model = parts.model(model_id)
    assert (model.failure_class, model.failure_reason) == ("infrastructure", f"{reason} ({MAX_ATTEMPTS} attempts)")
    assert "does not count against your upload quota" in model.failure_hint
    assert [entry["attempt"] for entry in job.entries() if entry["event"] == "start"] == [1, 2, 3]
    assert log_of(parts, model_id).count(reason) == MAX_ATTEMPTS
    # Tried again while `queued` (it never reported `deploying`): no move until it failed.
    assert [after for _, after, _ in parts.history(model_id)] == ["uploaded", "queued", "failed"]


def test_n_workers_run_n_jobs_at_once(parts, job, executor):
    executor(workers=2)
    first, second = parts.add_model("waits"), parts.add_model("waits")
    assert wait_for(lambda: sum(entry["event"] == "waiting" for entry in job.entries()) == 2)
    job.release()
    assert ends(parts, first) == "evaluated" and ends(parts, second) == "evaluated"


def test_a_server_stopping_queues_its_running_job_again_and_gives_the_attempt_back(parts, job, executor):
    worker = executor()
    model_id = parts.add_model("waits")
    assert wait_for(lambda: any(entry["event"] == "waiting" for entry in job.entries()))
    worker.stop()
    assert job.entries()[-1]["event"] == "raised" and job.entries()[-1]["error"] == "Stopping"
    assert parts.model(model_id).status == "queued"
    assert parts.jobs(model_id) == [(None, "queued", 0)]
    assert "the server stopped during the job" in log_of(parts, model_id)

    executor()  # the next start runs it again, as a first attempt
    job.release()
    assert ends(parts, model_id) == "evaluated"


def test_a_job_whose_lease_ran_out_is_taken_up_again_and_its_first_attempt_can_report_nothing(parts, job, executor):
    # No heartbeat within the 1 s lease: the reaper takes the job up again, another thread runs it.
    executor(workers=2, lease_seconds=1.0, heartbeat_seconds=3600, reap_seconds=0.5)
    model_id = parts.add_model("stalls")
    assert ends(parts, model_id) == "evaluated"
    job.release()  # the first attempt wakes up, reports `deployed`: refused
    assert wait_for(lambda: any(entry["event"] == "raised" for entry in job.entries()))
    raised = next(entry for entry in job.entries() if entry["event"] == "raised")
    assert (raised["attempt"], raised["error"]) == (1, "LeaseLost")
    with parts.session() as session:
        [deploy] = session.query(Job).all()
        assert (deploy.state, deploy.attempt) == ("done", 2)
    history = [(before, after) for before, after, _ in parts.history(model_id)]
    assert history.count(("deploying", "queued")) == 1 and history.count(("deploying", "evaluated")) == 1
    assert "its worker was lost: no heartbeat since" in log_of(parts, model_id)
