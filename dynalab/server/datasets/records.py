"""A dataset's rows: adding one queues its evaluation for the task's deployed models, removing
one takes its evaluations with it.

A model is evaluated on a dataset through a ``pending`` evaluation and a ``queued`` job
(``queue_evaluation``); a model of the task that is ``evaluating`` or ``evaluated`` when a
dataset is added gets both (``queue_evaluations_for_dataset``), an ``evaluated`` one going
back to ``evaluating``. Models deployed later get theirs from their deploy job. Every
change of status is written to the history, with its time.
"""

import re

from sqlalchemy import func, select

from dynalab.server.db.models import Dataset, Evaluation, HistoryEntry, Job, Upload, utcnow

ACCESS = ("scoring", "standard", "hidden")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DEPLOYED = ("evaluating", "evaluated")


def find_dataset(session, task_code, name):
    return session.scalar(select(Dataset).where(Dataset.task_code == task_code, Dataset.name == name))


def datasets_of(session, task_code=None):
    """The datasets (of one task, or all), by task and name."""
    query = select(Dataset).order_by(Dataset.task_code, Dataset.name)
    if task_code is not None:
        query = query.where(Dataset.task_code == task_code)
    return session.scalars(query).all()


def evaluation_counts(session):
    """``{dataset id: {status: number of evaluations}}``."""
    counts = {}
    rows = session.execute(select(Evaluation.dataset_id, Evaluation.status, func.count())
                           .group_by(Evaluation.dataset_id, Evaluation.status))
    for dataset_id, status, count in rows:
        counts.setdefault(dataset_id, {})[status] = count
    return counts


def queue_evaluation(session, model, dataset, detail=None, now=None):
    """A ``pending`` evaluation of ``model`` on ``dataset`` and the ``queued`` job that does it."""
    now = now or utcnow()
    session.add(Evaluation(model_id=model.id, dataset_id=dataset.id, status="pending"))
    session.add(Job(model_id=model.id, dataset_id=dataset.id, state="queued", attempt=0, created_at=now))
    session.add(HistoryEntry(model_id=model.id, dataset_id=dataset.id, from_status=None, to_status="pending",
                             at=now, detail=detail))


def queue_evaluations_for_dataset(session, dataset):
    """Queue the evaluation on ``dataset`` (just added, flushed) of every model of its task that
    is ``evaluating`` or ``evaluated``; those ``evaluated`` go back to ``evaluating``.
    Returns those models. A model already evaluated on it is left alone, so a second call
    changes nothing."""
    now = utcnow()
    detail = f"dataset {dataset.name} added"
    # FOR UPDATE (PostgreSQL; SQLite has one writer anyway): a model moving to `evaluating`
    # at this moment is seen once its change is committed, not before.
    models = session.scalars(select(Upload).where(Upload.task_code == dataset.task_code)
                             .order_by(Upload.id).with_for_update()).all()
    already = set(session.scalars(select(Evaluation.model_id).where(Evaluation.dataset_id == dataset.id)))
    queued = []
    for model in models:
        if model.status not in DEPLOYED or model.id in already:
            continue
        queue_evaluation(session, model, dataset, detail, now)
        if model.status == "evaluated":
            _move(session, model, "evaluating", detail, now)
        queued.append(model)
    return queued


def delete_dataset(session, dataset):
    """Delete ``dataset``: its evaluations, jobs and their history go with it (ON DELETE CASCADE).

    A model of its task left ``evaluating`` with every remaining dataset done becomes
    ``evaluated``. Returns ``(number of evaluations deleted, models now evaluated)``.
    """
    now = utcnow()
    evaluations = session.scalar(select(func.count()).select_from(Evaluation)
                                 .where(Evaluation.dataset_id == dataset.id))
    task_code, detail = dataset.task_code, f"dataset {dataset.name} removed"
    session.delete(dataset)
    session.flush()
    remaining = set(session.scalars(select(Dataset.id).where(Dataset.task_code == task_code)))
    settled = []
    for model in session.scalars(select(Upload).where(Upload.task_code == task_code, Upload.status == "evaluating")
                                 .order_by(Upload.id).with_for_update()):
        done = set(session.scalars(select(Evaluation.dataset_id).where(Evaluation.model_id == model.id,
                                                                       Evaluation.status == "done")))
        if remaining <= done:
            _move(session, model, "evaluated", detail, now)
            settled.append(model)
    return evaluations, settled


def _move(session, model, status, detail, now):
    session.add(HistoryEntry(model_id=model.id, dataset_id=None, from_status=model.status, to_status=status,
                             at=now, detail=detail))
    model.status = status
    model.updated_at = now
