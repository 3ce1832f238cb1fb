"""The lifecycle of a model: one state machine, every move recorded, repeated moves harmless."""

import threading

import pytest
from sqlalchemy import select

from dynalab.server import lifecycle
from dynalab.server.db.models import Dataset, Evaluation, Job, Upload
from dynalab.server.jobs.protocol import MAX_ATTEMPTS
from dynalab.server.quota import QuotaExceeded, check_quota
from dynalab.server.task_catalog import Quota


def apply(parts, model_id, operation, *args, **kwargs):
    """Run ``lifecycle.<operation>(session, model, *args)`` in a transaction of its own."""
    with parts.session() as session:
        model = lifecycle.lock_model(session, model_id)
        getattr(lifecycle, operation)(session, model, *args, **kwargs)
        session.commit()


def finish_evaluation(parts, model_id, dataset_id, accuracy=0.5):
    apply(parts, model_id, "evaluation_started", dataset_id)
    apply(parts, model_id, "evaluation_done", dataset_id, {"accuracy": accuracy}, 100.0, 12.5)


def statuses(parts, model_id):
    return [to for _, to, _ in parts.history(model_id)]


def test_a_model_is_evaluated_only_once_every_dataset_of_its_task_is_done(parts):
    first, second = parts.add_dataset_row(name="first"), parts.add_dataset_row(name="second")
    parts.add_dataset_row(task="sentiment")  # another task's: not this model's business
    model_id = parts.add_model()
    assert parts.model(model_id).status == "queued"
    assert parts.evaluations(model_id) == {first: "pending", second: "pending"}
    assert parts.jobs(model_id) == [(None, "queued", 0)]

    apply(parts, model_id, "deploying")
    apply(parts, model_id, "deployed")
    assert parts.model(model_id).status == "evaluating"
    assert parts.jobs(model_id) == [(None, "queued", 0), (first, "queued", 0), (second, "queued", 0)]

    finish_evaluation(parts, model_id, first)
    assert parts.model(model_id).status == "evaluating"
    assert parts.evaluations(model_id) == {first: "done", second: "pending"}
    finish_evaluation(parts, model_id, second)
    assert parts.model(model_id).status == "evaluated"
    assert statuses(parts, model_id) == ["uploaded", "queued", "deploying", "evaluating", "evaluated"]
    assert [to for _, to, _ in parts.history(model_id, first)] == ["pending", "running", "done"]
    assert parts.history(model_id, first)[-1][2] == "accuracy 0.5"


def test_every_move_the_tables_do_not_allow_is_refused_and_changes_nothing(parts, caplog):
    model_id = parts.add_model()
    for moves, make in ((lifecycle.MODEL_MOVES, lambda: Upload(id=model_id)),
                        (lifecycle.EVALUATION_MOVES, lambda: Evaluation(model_id=model_id, dataset_id=None))):
        states = [state for state in moves if state]
        for current in states:
            for to in states:
                with parts.session() as session:
                    record = make()
                    record.status = current
                    move = lifecycle.move_model if isinstance(record, Upload) else lifecycle.move_evaluation
                    moved = move(session, record, to, "test")
                    assert moved == (to in moves[current]), (current, to)
                    assert record.status == (to if moved else current)
                    assert len(session.new) == (1 if moved else 0)  # one history row per move, none otherwise
                    session.rollback()
    assert "refused: model" in caplog.text and "cannot go from failed to queued" in caplog.text


def test_repeating_a_step_changes_nothing(parts):
    dataset = parts.add_dataset_row()
    model_id = parts.add_model()
    for _ in range(2):
        apply(parts, model_id, "deploying")
        apply(parts, model_id, "deployed")
    finish_evaluation(parts, model_id, dataset)
    history = parts.history(model_id)
    apply(parts, model_id, "evaluation_done", dataset, {"accuracy": 0.9}, 1.0, 1.0)  # a late, second report
    assert parts.history(model_id) == history
    assert parts.jobs(model_id) == [(None, "queued", 0), (dataset, "queued", 0)]
    with parts.session() as session:
        assert session.get(Evaluation, 1).metrics == '{"accuracy": 0.5}'


def test_a_model_of_a_task_without_datasets_is_evaluated_once_deployed(parts):
    model_id = parts.add_model()
    apply(parts, model_id, "deploying")
    apply(parts, model_id, "deployed")
    assert parts.model(model_id).status == "evaluated"
    assert parts.history(model_id)[-1] == ("deploying", "evaluated", "deployed; its task has no datasets yet")


def test_a_dataset_added_later_is_evaluated_for_models_already_deployed_and_queued_for_the_others(parts):
    evaluated, deploying, failed = parts.add_model("a"), parts.add_model("b"), parts.add_model("c")
    for model_id in (evaluated, deploying):
        apply(parts, model_id, "deploying")
    apply(parts, evaluated, "deployed")
    apply(parts, failed, "fail_model", "build", "pip could not install torch==0.0")
    assert parts.model(evaluated).status == "evaluated"

    dataset = parts.add_dataset_row(name="late")
    for model_id in (evaluated, deploying, failed):
        with parts.session() as session:
            lifecycle.evaluate_on(session, lifecycle.lock_model(session, model_id), session.get(Dataset, dataset))
            session.commit()
    assert parts.model(evaluated).status == "evaluating"
    assert parts.jobs(evaluated)[-1] == (dataset, "queued", 0)
    assert parts.history(evaluated)[-1] == ("evaluated", "evaluating", "dataset late added")
    assert parts.evaluations(deploying) == {dataset: "pending"}
    assert parts.jobs(deploying) == [(None, "queued", 0)]  # its deployment will queue it
    assert parts.evaluations(failed) == {} and parts.model(failed).status == "failed"

    finish_evaluation(parts, evaluated, dataset)
    assert parts.model(evaluated).status == "evaluated"
    apply(parts, deploying, "deployed")
    assert parts.jobs(deploying)[-1] == (dataset, "queued", 0)


def test_a_failure_fails_the_evaluations_not_done_and_cancels_the_models_other_jobs(parts):
    done, crashed, not_run = (parts.add_dataset_row(name=n) for n in ("done", "crashed", "not-run"))
    model_id = parts.add_model()
    apply(parts, model_id, "deploying")
    apply(parts, model_id, "deployed")
    finish_evaluation(parts, model_id, done)
    apply(parts, model_id, "evaluation_started", crashed)
    apply(parts, model_id, "fail_model", "crash", "ZeroDivisionError: division by zero\nin handler.py line 3",
          "fix the handler", dataset_id=crashed)

    model = parts.model(model_id)
    assert (model.status, model.failure_class, model.failure_hint) == ("failed", "crash", "fix the handler")
    assert model.failure_reason == "ZeroDivisionError: division by zero in handler.py line 3"  # one line
    assert parts.evaluations(model_id) == {done: "done", crashed: "failed", not_run: "failed"}
    assert parts.history(model_id, not_run)[-1][2] == "not run: the model failed (crash)"
    assert parts.history(model_id, crashed)[-1][2].startswith("crash: ZeroDivisionError")
    assert [state for dataset, state, _ in parts.jobs(model_id) if dataset in (crashed, not_run)] == ["failed"] * 2
    with pytest.raises(ValueError, match="unknown failure class 'oops'"):
        apply(parts, model_id, "fail_model", "oops", "?")


def test_infrastructure_failures_are_tried_again_then_fail_the_model_at_no_cost_to_the_quota(parts):
    model_id = parts.add_model()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with parts.session() as session:
            job = session.scalars(select(Job).where(Job.model_id == model_id)).one()
            job.state, job.attempt = "running", attempt  # as a claim leaves it
            apply(parts, model_id, "deploying")
            session.commit()
            lifecycle.job_lost(session, job, "its worker was lost")
            session.commit()
        status = parts.model(model_id).status
        assert status == ("queued" if attempt < MAX_ATTEMPTS else "failed"), attempt
    model = parts.model(model_id)
    assert (model.failure_class, model.failure_reason) == ("infrastructure", f"its worker was lost ({MAX_ATTEMPTS} attempts)")
    assert statuses(parts, model_id)[-3:] == ["queued", "deploying", "failed"]

    one_a_day = Quota(threshold=1, hr_diff=24)
    with parts.session() as session:
        check_quota(session, model.user_id, "nli", one_a_day)  # the failed upload costs nothing
    apply(parts, parts.add_model(user_id=model.user_id), "fail_model", "crash", "the model's own failure")
    with parts.session() as session, pytest.raises(QuotaExceeded):
        check_quota(session, model.user_id, "nli", one_a_day)


@pytest.mark.parametrize("parts", ["sqlite", "postgresql"], indirect=True)
def test_evaluations_finishing_at_once_leave_the_model_evaluated(parts):
    datasets = [parts.add_dataset_row() for _ in range(6)]
    for _ in range(3):
        model_id = parts.add_model()
        apply(parts, model_id, "deploying")
        apply(parts, model_id, "deployed")
        for dataset in datasets:
            apply(parts, model_id, "evaluation_started", dataset)
        start = threading.Barrier(len(datasets))

        def finish(dataset):
            start.wait()
            apply(parts, model_id, "evaluation_done", dataset, {"accuracy": 1.0}, 1.0, 1.0)

        threads = [threading.Thread(target=finish, args=(dataset,)) for dataset in datasets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert parts.model(model_id).status == "evaluated"
        assert statuses(parts, model_id).count("evaluated") == 1


def test_the_readme_shows_the_states_and_the_failure_classes_the_lifecycle_has():
    from pathlib import Path

    from dynalab.server.jobs.protocol import FAILURE_CLASSES

    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert f"`{' → '.join(state for state in lifecycle.MODEL_STATES if state != 'failed')}`, or `failed`" in readme
    assert ", ".join(f"`{name}`" for name in FAILURE_CLASSES[:-1]) + f" or `{FAILURE_CLASSES[-1]}`" in readme
    assert ", ".join(f"`{state}`" for state in lifecycle.EVALUATION_STATES[:-1]) in readme
