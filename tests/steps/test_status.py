"""`status` and `upload --wait` against a real evaluation server process on 127.0.0.1.

The server here runs no jobs (``--workers 0``): the test moves the model through
its lifecycle itself, in the server's own database, as the server's worker would
(the end-to-end tests in tests/server/evaluation run the real jobs).
"""

import json
import os
import subprocess
import sys
import time

import pytest

from dynalab.server import lifecycle
from dynalab.server.db.database import Database
from dynalab.server.db.models import Dataset
from dynalab.server.jobs import queue
from dynalab.server.settings import sqlite_url
from dynalab.testing.server_process import ServerProcess


@pytest.fixture
def idle_server(tmp_path):
    with ServerProcess(tmp_path / "server-data", extra_args=("--workers", "0")) as server:
        yield server


@pytest.fixture
def uploaded(idle_server, contract_nli, cli):
    """The contract-nli project uploaded as model ``m``: ``(project, env, model id)``."""
    env = {"DYNALAB_API_URL": idle_server.url, "DYNALAB_API_TOKEN": idle_server.add_user("dana@example.org")}
    result = cli("upload", "-n", "m", "--no-progress", "--json", cwd=contract_nli, env=env)
    assert result.returncode == 0, result.stderr
    return contract_nli, env, json.loads(result.stdout)["upload"]["model_id"]


class Worker:
    """Moves a model through its lifecycle in the server's database, as the server's worker would."""

    def __init__(self, server):
        self.db = Database(sqlite_url(server.data_dir))

    def dataset(self, name):
        with self.db.session() as session:
            dataset = Dataset(task_code="nli", name=name, access="scoring", weight=5.0, sha256=name * 8, examples=2)
            session.add(dataset)
            session.commit()
            return dataset.id

    def deploy(self, model_id):
        with self.db.session() as session:
            model = lifecycle.lock_model(session, model_id)
            lifecycle.deploying(session, model)
            lifecycle.deployed(session, model)
            session.commit()

    def evaluate(self, model_id, dataset_id, metrics):
        with self.db.session() as session:
            model = lifecycle.lock_model(session, model_id)
            lifecycle.evaluation_started(session, model, dataset_id)
            lifecycle.evaluation_done(session, model, dataset_id, metrics, 120.0, 64.0)
            session.commit()

    def log(self, model_id, text):
        with self.db.session() as session:
            lifecycle.lock_model(session, model_id)
            queue.append_log(lifecycle.jobs_of(session, model_id)[0], text)
            session.commit()

    def fail(self, model_id, failure_class, reason, hint):
        with self.db.session() as session:
            model = lifecycle.lock_model(session, model_id)
            lifecycle.fail_model(session, model, failure_class, reason, hint)
            session.commit()


def background_cli(project, env, *args, home):
    """``dynalab-cli ARGS`` started in the background (the ``cli`` fixture waits for its end)."""
    environment = {**os.environ, "DYNALAB_HOME": str(home), "CI": "true", **env}
    return subprocess.Popen([sys.executable, "-m", "dynalab.cli", *args], cwd=project, env=environment,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_status_shows_the_latest_upload_queued_and_its_json_has_the_contract_fields(uploaded, cli):
    project, env, model_id = uploaded
    human = cli("status", "-n", "m", cwd=project, env=env)
    assert human.returncode == 0, human.stderr
    assert f"Model 'm' (id {model_id}, task nli): queued" in human.stdout

    result = cli("status", "-n", "m", "--json", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert (status["step"], status["model_id"], status["status"], status["failure"], status["datasets"]) == (
        "status", model_id, "queued", None, [])


def test_status_wait_follows_the_model_until_it_is_evaluated_with_scores_per_dataset(uploaded, idle_server,
                                                                                       tmp_path):
    project, env, model_id = uploaded
    worker = Worker(idle_server)
    first, second = worker.dataset("first"), worker.dataset("second")
    waiting = background_cli(project, env, "status", "-n", "m", "--wait", "--json", home=tmp_path / "home")
    try:
        time.sleep(1.5)
        assert waiting.poll() is None  # still queued: it waits
        worker.deploy(model_id)
        worker.evaluate(model_id, first, {"accuracy": 0.75, "macro_f1": 0.5})
        time.sleep(1.5)
        assert waiting.poll() is None  # one dataset is not done yet
        worker.evaluate(model_id, second, {"accuracy": 1.0, "macro_f1": 1.0})
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    status = json.loads(out)
    assert (status["model_id"], status["status"], status["failure"]) == (model_id, "evaluated", None)
    assert [(d["name"], d["status"], d["metrics"]) for d in status["datasets"]] == [
        ("first", "done", {"accuracy": 0.75, "macro_f1": 0.5}), ("second", "done", {"accuracy": 1.0, "macro_f1": 1.0})]
    assert status["datasets"][0]["examples_per_second"] == 120.0
    assert "queued" in err and "evaluating" in err and "first: done  accuracy 0.7500, macro_f1 0.5000" in err


def test_status_wait_exits_9_with_the_class_reason_and_hint_when_the_model_fails(uploaded, idle_server, cli):
    project, env, model_id = uploaded
    Worker(idle_server).fail(model_id, "memory", "the model used more than its 300 MB of memory",
                             "make the model use less memory")
    result = cli("status", "-n", "m", "--wait", cwd=project, env=env)
    assert result.returncode == 9, result.stdout + result.stderr
    assert "failed (memory): the model used more than its 300 MB of memory" in result.stdout
    assert f"error: model 'm' (id {model_id}) failed on {idle_server.url} (memory)" in result.stderr
    assert "hint: make the model use less memory" in result.stderr and "Traceback" not in result.stderr

    as_json = cli("status", "-n", "m", "--wait", "--json", cwd=project, env=env)
    assert as_json.returncode == 9
    status = json.loads(as_json.stdout)
    assert status["status"] == "failed"
    assert status["failure"] == {"class": "memory", "reason": "the model used more than its 300 MB of memory",
                                 "hint": "make the model use less memory"}
    assert status["error"]["exit_code"] == 9

    shown = cli("status", "-n", "m", cwd=project, env=env)
    assert shown.returncode == 0  # showing a failed model is no failure of `status` itself


def test_a_timeout_ends_the_wait_with_exit_10_and_the_model_goes_on(uploaded, cli):
    project, env, model_id = uploaded
    started = time.monotonic()
    result = cli("status", "-n", "m", "--wait", "--timeout", "2", cwd=project, env=env)
    assert result.returncode == 10, result.stdout + result.stderr
    assert 2 <= time.monotonic() - started < 30
    assert f"error: model 'm' (id {model_id}) is still queued" in result.stderr and "after 2 s" in result.stderr

    lone = cli("status", "-n", "m", "--timeout", "2", cwd=project, env=env)
    assert lone.returncode == 2 and "--timeout bounds --wait" in lone.stderr


def test_upload_wait_uploads_then_waits_the_same_way(idle_server, contract_nli, cli):
    env = {"DYNALAB_API_URL": idle_server.url, "DYNALAB_API_TOKEN": idle_server.add_user("erin@example.org")}
    result = cli("upload", "-n", "m", "--no-progress", "--wait", "--timeout", "2", "--json", cwd=contract_nli,
                 env=env)
    assert result.returncode == 10, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["upload"]["model_id"] == record["evaluation"]["model_id"]
    assert record["evaluation"]["status"] == "queued"
    assert "Upload done: model id" in result.stderr and "Waiting for model" in result.stderr


def test_status_log_prints_the_models_log_and_a_model_never_uploaded_is_one_clear_error(uploaded, contract_nli,
                                                                                        idle_server, cli):
    project, env, model_id = uploaded
    Worker(idle_server).log(model_id, "building the environment\nstarting the model\n")
    result = cli("status", "-n", "m", "--log", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("--- log of the model's jobs on the server ---\nbuilding the environment\n"
                                  "starting the model\n--- end of log ---\n")

    (project / ".dynalab" / "m" / "state.yaml").unlink()
    never = cli("status", "-n", "m", cwd=project, env=env)
    assert never.returncode == 2
    assert "model 'm' has no upload recorded" in never.stderr and "dynalab-cli upload -n m" in never.stderr
