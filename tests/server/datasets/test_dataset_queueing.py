"""A dataset added to a task is queued for evaluation by every model of the task already
deployed, also while the server runs; removing it takes its evaluations along."""

import os
import uuid

import yaml
from dataset_support import nli_lines, write_jsonl
from prerequisites import missing
from server_support import Api
from sqlalchemy import select

from dynalab.server.datasets import queue_evaluations_for_dataset
from dynalab.server.datasets.records import delete_dataset
from dynalab.server.db.database import Database
from dynalab.server.db.models import Dataset, Evaluation, HistoryEntry, Job, Upload, User
from dynalab.server.settings import sqlite_url
from dynalab.tasks.registry import load_builtin
from dynalab.testing.server_process import ServerProcess

POSTGRES_URL = os.environ.get("DYNALAB_TEST_POSTGRES_URL",
                              "postgresql+psycopg://dynalab:dynalab@127.0.0.1:5432/dynalab_test")


def add_models(db, email, models):
    """Upload rows for ``models`` ({name: (task, status)}), as the lifecycle leaves them; {name: id}."""
    with db.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, api_token_hash=uuid.uuid4().hex)
            session.add(user)
            session.flush()
        rows = {name: Upload(user_id=user.id, name=name, task_code=task, sha256="0" * 64, size=1, status=status)
                for name, (task, status) in models.items()}
        session.add_all(rows.values())
        session.commit()
        return {name: row.id for name, row in rows.items()}


def rows_of(db, dataset_name, task="nli"):
    """(the dataset, its evaluations, its jobs, the history) as the database holds them now."""
    with db.session() as session:
        dataset = session.scalar(select(Dataset).where(Dataset.task_code == task, Dataset.name == dataset_name))
        evaluations = session.scalars(select(Evaluation).where(Evaluation.dataset_id == dataset.id)).all()
        jobs = session.scalars(select(Job).where(Job.dataset_id == dataset.id)).all()
        history = session.scalars(select(HistoryEntry).order_by(HistoryEntry.id)).all()
        return dataset, evaluations, jobs, history


def test_a_dataset_added_while_the_server_runs_is_queued_for_the_deployed_models(start_server, tmp_path):
    # No worker: the rows are looked at as the admin command left them, before any job runs.
    running_server = start_server("--workers", 0)
    token = running_server.add_user("ada@example.org")
    db = Database(sqlite_url(running_server.data_dir))  # the server has it open too (SQLite in WAL mode)
    ids = add_models(db, "ada@example.org", {
        "done-model": ("nli", "evaluated"), "busy-model": ("nli", "evaluating"), "new-model": ("nli", "uploaded"),
        "broken-model": ("nli", "failed"), "other-task": ("sentiment", "evaluated"),
    })
    result = running_server.cli("add-dataset", "--task", "nli", "--name", "dev",
                                str(write_jsonl(tmp_path / "dev.jsonl", nli_lines(6))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == f"Queued its evaluation for 2 models (ids {ids['done-model']}, {ids['busy-model']})."

    dataset, evaluations, jobs, history = rows_of(db, "dev")
    deployed = {ids["done-model"], ids["busy-model"]}
    assert {e.model_id for e in evaluations} == {j.model_id for j in jobs} == deployed
    assert [(j.state, j.attempt) for j in jobs] == [("queued", 0)] * 2
    transitions = [(h.model_id, h.dataset_id, h.from_status, h.to_status, h.detail) for h in history]
    assert (ids["done-model"], None, "evaluated", "evaluating", "dataset dev added") in transitions
    for model_id in deployed:
        assert (model_id, dataset.id, None, "pending", "dataset dev added") in transitions
    assert not any(h.model_id == ids["busy-model"] and h.dataset_id is None for h in history)
    with db.session() as session:
        assert session.get(Upload, ids["new-model"]).status == "uploaded"
        assert session.get(Upload, ids["other-task"]).status == "evaluated"

    api = Api(running_server.url)  # the server went on serving, and sees the new rows
    answer = api.model(api.bearer(token), ids["done-model"])
    assert answer.status_code == 200
    with db.session() as session:
        assert answer.json()["status"] == session.get(Upload, ids["done-model"]).status
    db.dispose()


def test_queueing_twice_changes_nothing(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    ids = add_models(db, "bo@example.org", {"m": ("nli", "evaluated")})
    with db.session() as session:
        dataset = Dataset(task_code="nli", name="dev", sha256="1" * 64, examples=3, access="scoring", weight=5)
        session.add(dataset)
        session.flush()
        assert [m.id for m in queue_evaluations_for_dataset(session, dataset)] == [ids["m"]]
        assert queue_evaluations_for_dataset(session, dataset) == []
        session.commit()
    _, evaluations, jobs, history = rows_of(db, "dev")
    assert (len(evaluations), len(jobs), len(history)) == (1, 1, 2)


def test_removing_a_dataset_takes_its_evaluations_and_settles_the_models_waiting_only_for_it(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    ids = add_models(db, "cy@example.org", {"waits-for-b": ("nli", "evaluating"), "waits-for-a": ("nli", "evaluating")})
    with db.session() as session:
        a, b = (Dataset(task_code="nli", name=name, sha256=name * 64, examples=1) for name in "ab")
        session.add_all([a, b])
        session.flush()
        for dataset, done in ((a, "waits-for-b"), (b, "waits-for-a")):
            session.add(Evaluation(model_id=ids[done], dataset_id=dataset.id, status="done"))
        for dataset, waiting in ((b, "waits-for-b"), (a, "waits-for-a")):
            session.add(Evaluation(model_id=ids[waiting], dataset_id=dataset.id, status="pending"))
            session.add(Job(model_id=ids[waiting], dataset_id=dataset.id, state="queued"))
        session.flush()
        evaluations, settled = delete_dataset(session, b)
        session.commit()
        assert evaluations == 2
        assert [model.id for model in settled] == [ids["waits-for-b"]]
    with db.session() as session:
        assert session.get(Upload, ids["waits-for-b"]).status == "evaluated"
        assert session.get(Upload, ids["waits-for-a"]).status == "evaluating"
        assert {(e.model_id, e.status) for e in session.scalars(select(Evaluation))} == {
            (ids["waits-for-b"], "done"), (ids["waits-for-a"], "pending")}
        assert len(session.scalars(select(Job)).all()) == 1  # the job of a
        last = session.scalars(select(HistoryEntry).order_by(HistoryEntry.id.desc())).first()
        assert (last.model_id, last.from_status, last.to_status, last.detail) == (
            ids["waits-for-b"], "evaluating", "evaluated", "dataset b removed")


def _postgres_reachable():
    try:
        import sqlalchemy

        with sqlalchemy.create_engine(POSTGRES_URL).connect():
            return True
    except Exception:  # no driver, no server, bad credentials: all mean "not here"
        return False


def test_adding_and_removing_a_dataset_on_postgresql(tmp_path):
    if not _postgres_reachable():
        missing(f"no PostgreSQL at {POSTGRES_URL} (run .ci/postgres-setup)")
    # A task of this test's own, so that the shared database's other models are not touched.
    task = f"nli_{uuid.uuid4().hex[:8]}"
    server = ServerProcess(tmp_path / "data")
    (server.data_dir / "tasks").mkdir()
    (server.data_dir / "tasks" / f"{task}.yaml").write_text(yaml.safe_dump({**load_builtin("nli"), "task": task}))
    db = Database(POSTGRES_URL)
    email = f"{task}@example.org"
    ids = add_models(db, email, {"done-model": (task, "evaluated"), "new-model": (task, "uploaded")})
    try:
        source = write_jsonl(tmp_path / "dev.jsonl", nli_lines(4))
        result = server.cli("add-dataset", "--task", task, "--name", "dev", str(source), "--database-url", POSTGRES_URL)
        assert result.returncode == 0, result.stderr
        dataset, evaluations, jobs, _ = rows_of(db, "dev", task)
        assert dataset.examples == 4
        assert [e.model_id for e in evaluations] == [j.model_id for j in jobs] == [ids["done-model"]]
        with db.session() as session:
            assert session.get(Upload, ids["done-model"]).status == "evaluating"
        removed = server.cli("remove-dataset", "--task", task, "--name", "dev", "--database-url", POSTGRES_URL)
        assert removed.returncode == 0, removed.stderr
        with db.session() as session:
            assert session.scalars(select(Evaluation).where(Evaluation.model_id == ids["done-model"])).all() == []
            assert session.scalars(select(Job).where(Job.model_id == ids["done-model"])).all() == []
            assert session.get(Upload, ids["done-model"]).status == "evaluated"  # no dataset left to wait for
    finally:
        with db.session() as session:
            session.delete(session.scalar(select(User).where(User.email == email)))  # its uploads go with it
            session.commit()
        db.dispose()
