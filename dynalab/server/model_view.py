"""What the API shows of a model: its state, its failure, its datasets' progress and scores, its history, its log.

``GET /models/{id}`` answers ``model_json``; its ``metrics`` are the
weighted mean (the datasets' ``weight``) over the task's ``scoring``
datasets, given once every one of them is done, so that an average is never
of fewer datasets than it seems. A ``hidden`` dataset is listed with its
progress, never its scores. ``model_log`` is what ``GET /models/{id}/log``
answers: the logs of the model's jobs, oldest first.
"""

import json

from sqlalchemy import select

from dynalab.server.db.models import Dataset, Evaluation, Job, iso
from dynalab.server.lifecycle import history_of


def model_json(session, model):
    rows = session.execute(
        select(Evaluation, Dataset).join(Dataset, Evaluation.dataset_id == Dataset.id)
        .where(Evaluation.model_id == model.id).order_by(Dataset.id)).all()
    names = {dataset.id: dataset.name for _, dataset in rows}
    return {
        **model.as_json(),
        "failure": None if model.status != "failed" else {
            "class": model.failure_class, "reason": model.failure_reason, "hint": model.failure_hint},
        "datasets": [_dataset_json(evaluation, dataset) for evaluation, dataset in rows],
        "metrics": _averaged(rows),
        "history": [{"status": entry.to_status, "dataset": names.get(entry.dataset_id) if entry.dataset_id else None,
                     "at": iso(entry.at), "detail": entry.detail}
                    for entry in history_of(session, model.id)],
    }


def model_log(session, model):
    """The model's log: every job's, oldest first."""
    logs = session.scalars(select(Job.log).where(Job.model_id == model.id).order_by(Job.id)).all()
    return "".join(text for text in logs if text)


def _dataset_json(evaluation, dataset):
    shown = dataset.access != "hidden"
    return {
        "name": dataset.name,
        "access": dataset.access,
        "status": evaluation.status,
        "metrics": json.loads(evaluation.metrics) if shown and evaluation.metrics else {},
        "examples_per_second": evaluation.examples_per_second if shown else None,
        "peak_memory_mb": evaluation.peak_memory_mb if shown else None,
        "worker": evaluation.worker,
    }


def _averaged(rows):
    scoring = [(evaluation, dataset) for evaluation, dataset in rows if dataset.access == "scoring"]
    if not scoring or any(evaluation.status != "done" for evaluation, _ in scoring):
        return {}
    scores = [(json.loads(evaluation.metrics or "{}"), dataset.weight) for evaluation, dataset in scoring]
    names = set.intersection(*(set(metrics) for metrics, _ in scores))
    total = sum(weight for _, weight in scores)
    if not total:
        return {}
    return {name: sum(metrics[name] * weight for metrics, weight in scores) / total for name in sorted(names)}
