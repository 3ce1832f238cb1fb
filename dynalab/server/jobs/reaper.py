"""Jobs whose worker was lost are taken up again: the reaper, and the server's recovery at start.

A running job's worker renews its lease with heartbeats; a lease that ran
out means the worker is gone (killed, its machine lost, stuck). ``reap``
queues such jobs again, or fails the model as ``infrastructure`` when that
was the job's last attempt (``lifecycle.job_lost``). At start the server
does not wait for the leases of its own embedded worker to run out:
``recover`` takes up at once the jobs it left running, and queues the
uploads still ``uploaded`` (made before this version evaluated anything, or
accepted just before the server stopped).
"""

import logging

from sqlalchemy import select

from dynalab.server import lifecycle
from dynalab.server.db.models import Job, Upload, iso, utcnow
from dynalab.server.jobs import queue

log = logging.getLogger("dynalab.server.jobs")


def reap(db, now=None):
    """Take up every job whose lease ran out before ``now``; returns how many."""
    now = now or utcnow()
    with db.session() as session:
        expired = [job.id for job in queue.running_jobs(session, expired_before=now)]
    return sum(_lost(db, job_id, lambda job: job.lease_expires_at is not None and job.lease_expires_at < now,
                     lambda job: f"its worker was lost: no heartbeat since {iso(job.heartbeat_at or job.started_at)}")
               for job_id in expired)


def recover(db, worker):
    """At start: take up the jobs ``worker`` left running, queue the uploads still ``uploaded``.

    Returns (jobs taken up, uploads queued).
    """
    with db.session() as session:
        left = [job.id for job in queue.running_jobs(session, worker=worker)]
        waiting = session.scalars(select(Upload.id).where(Upload.status == "uploaded").order_by(Upload.id)).all()
    taken_up = sum(_lost(db, job_id, lambda job: job.worker == worker,
                         lambda job: "the server stopped while the job ran") for job_id in left)
    for model_id in waiting:
        with db.session() as session:
            model = lifecycle.lock_model(session, model_id)
            if model is not None:
                lifecycle.adopt(session, model)
            session.commit()
    if taken_up or waiting:
        log.info("at start: %d unfinished jobs queued again, %d waiting uploads queued", taken_up, len(waiting))
    return taken_up, len(waiting)


def _lost(db, job_id, still, reason):
    """``lifecycle.job_lost`` for job ``job_id`` if, once its model is locked, ``still(job)`` holds."""
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None or lifecycle.lock_model(session, job.model_id) is None:
            return False
        session.refresh(job)
        if job.state != "running" or not still(job):
            return False  # its worker was heard from, or it ended, in the meantime
        why = reason(job)
        queue.append_log(job, f"attempt {job.attempt}: {why}\n")
        lifecycle.job_lost(session, job, why)
        session.commit()
    log.info("job %d (model %d), attempt %d: %s", job_id, job.model_id, job.attempt, why)
    return True
