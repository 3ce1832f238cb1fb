"""The jobs table: queueing a job, claiming one under a lease, renewing the lease, ending the job.

A job is ``queued``, then ``running`` while a worker holds its lease, then
``done`` or ``failed``; a job whose attempt ended without a result goes back
to ``queued`` (``lifecycle.job_lost`` decides). Claiming is one statement,
so two workers never get the same job: on PostgreSQL the candidate row is
picked ``FOR UPDATE SKIP LOCKED`` (workers skip each other's rows instead of
waiting), on SQLite the statement runs under its single writer's lock. Each
claim gets a new lease token; a heartbeat renews the lease only for the
token that holds it, so the reports of an attempt that lost its lease are
told apart and ignored.

A model has at most one active (queued or running) job per dataset, and one
deploy job: ``enqueue`` returns the one there is. Callers lock the model
first (``lifecycle.lock_model``), which makes that check safe.

Each job's log is kept in ``jobs.log``, capped at ``MAX_LOG_BYTES`` (the end
is kept: that is where a failure shows).
"""

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from dynalab.server.db.models import Job, utcnow
from dynalab.server.jobs.protocol import LEASE_SECONDS, Ticket

ACTIVE = ("queued", "running")
MAX_LOG_BYTES = 1_000_000
CUT = "[... the beginning of this log was cut: a job keeps its last 1 MB]\n"


def enqueue(session, model_id, dataset_id):
    """The active job of ``model_id`` on ``dataset_id`` (None: its deploy job), queued if there was none."""
    job = session.scalar(select(Job).where(Job.model_id == model_id, Job.state.in_(ACTIVE),
                                           Job.dataset_id.is_not_distinct_from(dataset_id)))
    if job is None:
        job = Job(model_id=model_id, dataset_id=dataset_id, state="queued", attempt=0, created_at=utcnow())
        session.add(job)
    return job


def claim(db, worker, lease_seconds=LEASE_SECONDS, job_id=None):
    """The ``Ticket`` of the oldest queued job (or of job ``job_id``, if it is queued), now running
    under a new lease held by ``worker``; None when nothing (or not that job) is queued."""
    now = utcnow()
    token = secrets.token_hex(16)
    candidates = select(Job.id).where(Job.state == "queued")
    if job_id is not None:
        candidates = candidates.where(Job.id == job_id)
    oldest = candidates.order_by(Job.id).limit(1).with_for_update(skip_locked=True).scalar_subquery()
    statement = (
        update(Job).where(Job.id == oldest, Job.state == "queued")
        .values(state="running", attempt=Job.attempt + 1, lease_token=token,
                lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now,
                worker=worker, started_at=now, finished_at=None)
        .returning(Job.id, Job.model_id, Job.dataset_id, Job.attempt)
        .execution_options(synchronize_session=False)
    )
    with db.session() as session:
        row = session.execute(statement).first()
        session.commit()
    if row is None:
        return None
    return Ticket(job_id=row.id, model_id=row.model_id, dataset_id=row.dataset_id, attempt=row.attempt,
                  lease_token=token)


def extend_lease(job, lease_seconds=LEASE_SECONDS):
    """Renew ``job``'s lease (a heartbeat)."""
    now = utcnow()
    job.lease_expires_at, job.heartbeat_at = now + timedelta(seconds=lease_seconds), now


def holding(session, ticket):
    """The job row, if ``ticket`` still holds its lease; else None."""
    return session.scalar(select(Job).where(Job.id == ticket.job_id, Job.lease_token == ticket.lease_token,
                                            Job.state == "running")
                          .execution_options(populate_existing=True))


def finish(session, job, state, error=None):
    """End ``job`` as ``done`` or ``failed``; its lease ends with it."""
    job.state, job.error, job.finished_at = state, error, utcnow()
    job.lease_token = job.lease_expires_at = None


def requeue(session, job, reason, counts=True):
    """Queue ``job`` again after an attempt without a result (``counts=False``: the attempt is given back)."""
    job.state, job.error = "queued", reason
    job.lease_token = job.lease_expires_at = job.worker = None
    job.dispatched_at = None  # to be sent to a remote worker again
    if not counts:
        job.attempt = max(0, job.attempt - 1)


def cancel(session, model_id, reason, keep=None):
    """End every active job of ``model_id`` but ``keep`` as failed: a running one's next report is refused."""
    for job in session.scalars(select(Job).where(Job.model_id == model_id, Job.state.in_(ACTIVE))):
        if job.id != keep:
            finish(session, job, "failed", reason)


def running_jobs(session, worker=None, expired_before=None):
    """Running jobs: all, those of ``worker``, or those whose lease ended before ``expired_before``."""
    query = select(Job).where(Job.state == "running")
    if worker is not None:
        query = query.where(Job.worker == worker)
    if expired_before is not None:
        query = query.where(Job.lease_expires_at < expired_before)
    return session.scalars(query.order_by(Job.id)).all()


def append_log(job, text):
    """Add ``text`` to the job's log, keeping its last ``MAX_LOG_BYTES``."""
    if text:
        job.log = capped((job.log or "") + text)


def capped(log, limit=MAX_LOG_BYTES):
    """``log`` if it fits in ``limit`` bytes (UTF-8), else its end, after a line saying so."""
    data = log.encode("utf-8")
    if len(data) <= limit:
        return log
    tail = data[len(data) - (limit - len(CUT.encode())):]
    return CUT + tail.decode("utf-8", "ignore")  # "ignore": a character cut in half
