"""A dataset's rows: adding one queues its evaluation for the task's deployed models, removing
one takes its evaluations with it.

A model of the task that is ``evaluating`` or ``evaluated`` when a dataset is added gets a
``pending`` evaluation and a ``queued`` job on it, an ``evaluated`` one going back to
``evaluating``; models deployed later get theirs from their deploy job. The moves and their
history are the lifecycle's (``dynalab.server.lifecycle``).
"""

import re

from sqlalchemy import func, select

from dynalab.server import lifecycle
from dynalab.server.db.models import Dataset, Evaluation, Upload

ACCESS = ("scoring", "standard", "hidden")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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


def queue_evaluations_for_dataset(session, dataset):
    """Queue the evaluation on ``dataset`` (just added, flushed) of every model of its task that
    is ``evaluating`` or ``evaluated`` (``lifecycle.evaluate_on``); returns those models. A model
    already evaluated on it is left alone, so a second call changes nothing."""
    already = set(session.scalars(select(Evaluation.model_id).where(Evaluation.dataset_id == dataset.id)))
    candidates = session.scalars(select(Upload.id).where(Upload.task_code == dataset.task_code,
                                                         Upload.status.in_(lifecycle.DEPLOYED))
                                 .order_by(Upload.id)).all()
    queued = []
    for model_id in candidates:
        if model_id in already:
            continue
        model = lifecycle.lock_model(session, model_id)
        # Read again under the lock: a model moving to `evaluating` right now is seen once committed.
        if model is not None and model.status in lifecycle.DEPLOYED:
            lifecycle.evaluate_on(session, model, dataset)
            queued.append(model)
    return queued


def delete_dataset(session, dataset):
    """Delete ``dataset``: its evaluations, jobs and their history go with it (ON DELETE CASCADE).

    A model of its task left ``evaluating`` with every remaining dataset done becomes
    ``evaluated`` (``lifecycle.settle``). Returns ``(number of evaluations deleted, models now evaluated)``.
    """
    evaluations = session.scalar(select(func.count()).select_from(Evaluation)
                                 .where(Evaluation.dataset_id == dataset.id))
    task_code, detail = dataset.task_code, f"dataset {dataset.name} removed"
    session.delete(dataset)
    session.flush()
    settled = []
    for model_id in session.scalars(select(Upload.id).where(Upload.task_code == task_code,
                                                            Upload.status == "evaluating").order_by(Upload.id)).all():
        model = lifecycle.lock_model(session, model_id)
        lifecycle.settle(session, model, detail)
        if model.status == "evaluated":
            settled.append(model)
    return evaluations, settled
