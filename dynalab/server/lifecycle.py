"""The life of a model on the server, defined once: its states, the moves allowed, what each move does.

A model (``uploads.status``)::

    uploaded → queued → deploying → evaluating → evaluated
    deploying → queued        its worker was lost: the deploy job runs again
    evaluated → evaluating    a dataset was added to its task
    any of them → failed      with failure_class, failure_reason (one line), failure_hint

Its evaluation on one dataset of its task (``evaluations.status``)::

    pending → running → done | failed
    running → pending         its worker was lost: the evaluation job runs again
    done | failed → pending   evaluated again (the record is replaced, never duplicated)

The model is ``evaluated`` only when every dataset of its task is ``done``
(a task without datasets: as soon as it is deployed). Every move is a row in
``history`` with its time. Moving to the state a record is already in does
nothing, and a move the tables below do not allow is refused (logged, nothing
changed): a job run twice cannot corrupt a model's state.

Each operation below locks the model first (``lock_model``), so that two jobs
of one model finishing at once see each other's work, and leaves the commit
to its caller. The operations on jobs are ``jobs.queue``'s.
"""

import json
import logging

from sqlalchemy import select

from dynalab.server.db.database import write_transaction
from dynalab.server.db.models import Dataset, Evaluation, HistoryEntry, Job, Upload, utcnow
from dynalab.server.jobs import queue
from dynalab.server.jobs.protocol import FAILURE_CLASSES, INFRASTRUCTURE, MAX_ATTEMPTS

log = logging.getLogger("dynalab.server.lifecycle")

MODEL_MOVES = {
    None: {"uploaded"},
    "uploaded": {"queued", "failed"},
    "queued": {"deploying", "failed"},
    "deploying": {"queued", "evaluating", "evaluated", "failed"},
    "evaluating": {"evaluated", "failed"},
    "evaluated": {"evaluating", "failed"},
    "failed": set(),
}
EVALUATION_MOVES = {
    None: {"pending"},
    "pending": {"running", "failed"},
    "running": {"pending", "done", "failed"},
    "done": {"pending"},
    "failed": {"pending"},
}
ENDS = ("evaluated", "failed")  # where a model's uploader is told (``notifications``)
ENDED = "dynalab.models_ended"  # the key, in a session's ``info``, of the models it moved to one of ENDS
MODEL_STATES = tuple(state for state in MODEL_MOVES if state)
EVALUATION_STATES = tuple(state for state in EVALUATION_MOVES if state)
# The states in which a model has been deployed, so a new dataset of its task is evaluated at once.
DEPLOYED = ("evaluating", "evaluated")

INFRASTRUCTURE_HINT = ("this is the server's failure, not your model's, and does not count against your "
                       "upload quota: upload again later, or tell the server's administrator")


class Refused(Exception):
    """A move the lifecycle does not allow (raised by ``_move`` to its callers in this module only)."""


def lock_model(session, model_id):
    """The model ``model_id``, locked until the session's transaction ends (None if it is gone)."""
    write_transaction(session)
    return session.scalar(select(Upload).where(Upload.id == model_id).with_for_update()
                          .execution_options(populate_existing=True))


def move_model(session, model, to, detail=None):
    """Move ``model`` to state ``to``; True if it moved (False: it was there, or the move is refused)."""
    return _move(session, model, to, MODEL_MOVES, model.id, None, detail)


def move_evaluation(session, evaluation, to, detail=None):
    """Move ``evaluation`` to state ``to``; True if it moved."""
    return _move(session, evaluation, to, EVALUATION_MOVES, evaluation.model_id, evaluation.dataset_id, detail)


def _move(session, record, to, moves, model_id, dataset_id, detail):
    now = utcnow()
    current = record.status
    if current == to:
        return False
    if to not in moves.get(current, ()):
        where = f"model {model_id}" + (f", dataset {dataset_id}" if dataset_id else "")
        log.warning("refused: %s cannot go from %s to %s (%s)", where, current, to, detail or "no detail")
        return False
    record.status = to
    if isinstance(record, Upload):
        record.updated_at = now
        if to in ENDS:
            session.info.setdefault(ENDED, set()).add(model_id)  # told once committed (notifications)
    session.add(HistoryEntry(model_id=model_id, dataset_id=dataset_id, from_status=current, to_status=to,
                             at=now, detail=_one_line(detail)))
    return True


# --- the operations, in the order a model meets them ---------------------------------------------

def upload_received(session, model):
    """A new upload (added to ``session``, not yet committed): recorded as ``uploaded``, then queued."""
    session.flush()  # the model's id
    session.add(HistoryEntry(model_id=model.id, from_status=None, to_status="uploaded", at=model.created_at))
    queue_model(session, model, "received")


def adopt(session, model):
    """An upload still ``uploaded`` at start (recorded by 0.2.0, which evaluated nothing, or just
    before a crash): its history begun if it has none, then queued."""
    lock_model(session, model.id)
    if not history_of(session, model.id):
        session.add(HistoryEntry(model_id=model.id, from_status=None, to_status="uploaded", at=model.created_at))
    queue_model(session, model, "queued at the server's start")


def queue_model(session, model, detail):
    """``uploaded`` → ``queued``: its deploy job is queued, its datasets' evaluations pending."""
    lock_model(session, model.id)
    if move_model(session, model, "queued", detail):
        for dataset in datasets_of(session, model.task_code):
            _pending(session, model, dataset, "waiting for the deployment")
        queue.enqueue(session, model.id, None)


def deploying(session, model):
    """``queued`` → ``deploying`` (the deploy job started)."""
    lock_model(session, model.id)
    move_model(session, model, "deploying")


def deployed(session, model):
    """``deploying`` → ``evaluating``, one evaluation job queued per dataset; no datasets: ``evaluated``."""
    lock_model(session, model.id)
    if model.status == "queued":
        deploying(session, model)  # the job did not say so first
    datasets = datasets_of(session, model.task_code)
    if not datasets:
        move_model(session, model, "evaluated", "deployed; its task has no datasets yet")
        return
    if move_model(session, model, "evaluating", "deployed"):
        for dataset in datasets:
            _pending(session, model, dataset, "deployed")
            queue.enqueue(session, model.id, dataset.id)


def evaluate_on(session, model, dataset, detail=None):
    """Evaluate ``model`` on ``dataset`` (new, or to be evaluated again): pending, and queued once
    the model is deployed (a model still deploying gets it from ``deployed``; a failed one never)."""
    lock_model(session, model.id)
    if model.status == "failed":
        return
    detail = detail or f"dataset {dataset.name} added"
    evaluation = _pending(session, model, dataset, detail)
    if model.status in DEPLOYED:
        move_model(session, model, "evaluating", detail)
        if evaluation.status == "pending":
            queue.enqueue(session, model.id, dataset.id)


def evaluation_started(session, model, dataset_id, worker=None):
    """The evaluation on ``dataset_id``: ``pending`` → ``running``."""
    lock_model(session, model.id)
    evaluation = _evaluation(session, model.id, dataset_id)
    if evaluation is not None and move_evaluation(session, evaluation, "running"):
        evaluation.started_at, evaluation.finished_at, evaluation.worker = utcnow(), None, worker


def evaluation_done(session, model, dataset_id, metrics, examples_per_second, peak_memory_mb):
    """``running`` → ``done`` with its metrics (replacing earlier ones); the model ``evaluated`` if it was the last."""
    lock_model(session, model.id)
    evaluation = _evaluation(session, model.id, dataset_id)
    if evaluation is not None and evaluation.status == "pending":
        evaluation_started(session, model, dataset_id)  # the job did not say so first
    if evaluation is None or not move_evaluation(session, evaluation, "done", _summary(metrics)):
        return
    evaluation.metrics = json.dumps(metrics, sort_keys=True)
    evaluation.examples_per_second = examples_per_second
    evaluation.peak_memory_mb = peak_memory_mb
    evaluation.finished_at = utcnow()
    settle(session, model)


def settle(session, model, detail="every dataset of its task is done"):
    """``evaluating`` → ``evaluated`` once every dataset of its task is done (also after a dataset was removed)."""
    lock_model(session, model.id)
    if model.status != "evaluating":
        return
    done = set(session.scalars(select(Evaluation.dataset_id).where(
        Evaluation.model_id == model.id, Evaluation.status == "done")))
    if all(dataset.id in done for dataset in datasets_of(session, model.task_code)):
        move_model(session, model, "evaluated", detail)


def fail_model(session, model, failure_class, reason, hint=None, dataset_id=None, keep_job=None):
    """The model ``failed``: its failure recorded, the evaluation on ``dataset_id`` (if any) failed,
    every other one not done failed as not run, and its other jobs (all but ``keep_job``) cancelled."""
    if failure_class not in FAILURE_CLASSES:
        raise ValueError(f"unknown failure class {failure_class!r} (known: {', '.join(FAILURE_CLASSES)})")
    lock_model(session, model.id)
    reason = _one_line(reason) or "no reason given"
    if not move_model(session, model, "failed", f"{failure_class}: {reason}"):
        return
    model.failure_class, model.failure_reason, model.failure_hint = failure_class, reason, hint
    now = utcnow()
    for dataset in datasets_of(session, model.task_code):
        evaluation = _evaluation(session, model.id, dataset.id) or _pending(session, model, dataset, None)
        if evaluation.status == "done":
            continue  # its scores stand
        detail = (f"{failure_class}: {reason}" if dataset.id == dataset_id
                  else f"not run: the model failed ({failure_class})")
        if move_evaluation(session, evaluation, "failed", detail):
            evaluation.finished_at = now
    queue.cancel(session, model.id, f"cancelled: the model failed ({failure_class})", keep=keep_job)


def job_lost(session, job, reason, counts=True):
    """The job's attempt ended without a result for a reason of the server's (a lost worker, an error
    in the job code): queued again, unless that was its last attempt, when the model fails as
    ``infrastructure``. ``counts=False`` (a server stopping cleanly) gives the attempt back."""
    model = lock_model(session, job.model_id)
    if model is None:
        return
    reason = _one_line(reason)
    if counts and job.attempt >= MAX_ATTEMPTS:
        queue.finish(session, job, "failed", reason)
        fail_model(session, model, INFRASTRUCTURE, f"{reason} ({job.attempt} attempts)", INFRASTRUCTURE_HINT,
                   dataset_id=job.dataset_id, keep_job=job.id)
        return
    queue.requeue(session, job, reason, counts=counts)
    detail = f"{reason}; queued again"
    if job.dataset_id is None:
        move_model(session, model, "queued", detail)
    else:
        evaluation = _evaluation(session, model.id, job.dataset_id)
        if evaluation is not None:
            move_evaluation(session, evaluation, "pending", detail)


# --- reading --------------------------------------------------------------------------------------

def datasets_of(session, task_code):
    return session.scalars(select(Dataset).where(Dataset.task_code == task_code).order_by(Dataset.id)).all()


def history_of(session, model_id):
    return session.scalars(select(HistoryEntry).where(HistoryEntry.model_id == model_id)
                           .order_by(HistoryEntry.at, HistoryEntry.id)).all()


def jobs_of(session, model_id):
    return session.scalars(select(Job).where(Job.model_id == model_id).order_by(Job.id)).all()


def _evaluation(session, model_id, dataset_id):
    return session.scalar(select(Evaluation).where(Evaluation.model_id == model_id,
                                                   Evaluation.dataset_id == dataset_id))


def _pending(session, model, dataset, detail):
    """The model's evaluation on ``dataset``, made or moved back to ``pending`` (a running one is left be)."""
    evaluation = _evaluation(session, model.id, dataset.id)
    if evaluation is None:
        evaluation = Evaluation(model_id=model.id, dataset_id=dataset.id, status=None)
        move_evaluation(session, evaluation, "pending", detail)
        session.add(evaluation)  # only now: a flush before the move would store no status
    elif evaluation.status != "running":
        move_evaluation(session, evaluation, "pending", detail)
    return evaluation


def _summary(metrics):
    return ", ".join(f"{name} {value:.4g}" for name, value in metrics.items()) or None


def _one_line(text):
    """``text`` on one line, shortened: history details and failure reasons are read in a list."""
    if text is None:
        return None
    line = " ".join(str(text).split())
    return line if len(line) <= 500 else line[:497] + "..."
