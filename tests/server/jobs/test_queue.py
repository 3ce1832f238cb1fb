"""The jobs table: claims are atomic, leases belong to one attempt, logs are capped, lost jobs come back."""

import threading
from datetime import timedelta

import pytest

from dynalab.server import lifecycle
from dynalab.server.db.models import Job, Upload, utcnow
from dynalab.server.jobs import queue, reaper
from dynalab.server.jobs.local import LocalReport
from dynalab.server.jobs.protocol import LeaseLost, Ticket


@pytest.mark.parametrize("parts", ["sqlite", "postgresql"], indirect=True)
def test_workers_claiming_at_once_get_each_queued_job_exactly_once(parts):
    models = [parts.add_model() for _ in range(24)]
    claimed, start = [], threading.Barrier(6)

    def work(name):
        start.wait()
        while (ticket := queue.claim(parts.db, name)) is not None:
            claimed.append((ticket.job_id, name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job_id for job_id, _ in claimed) == list(range(1, len(models) + 1))
    with parts.session() as session:
        jobs = session.query(Job).all()
        assert {(job.state, job.attempt) for job in jobs} == {("running", 1)}
        assert {job.id: job.worker for job in jobs} == dict(claimed)


def test_the_oldest_queued_job_is_claimed_first_under_a_new_lease(parts):
    first, second = parts.add_model(), parts.add_model()
    ticket = queue.claim(parts.db, "w", lease_seconds=60)
    assert (ticket.model_id, ticket.dataset_id, ticket.attempt) == (first, None, 1)
    assert queue.claim(parts.db, "w").model_id == second
    assert queue.claim(parts.db, "w") is None
    with parts.session() as session:
        job = session.get(Job, ticket.job_id)
        assert job.lease_token == ticket.lease_token
        assert timedelta(seconds=59) < job.lease_expires_at - job.heartbeat_at <= timedelta(seconds=60)


def test_a_report_from_an_attempt_that_lost_its_lease_changes_nothing(parts):
    model_id = parts.add_model()
    old = queue.claim(parts.db, "w", lease_seconds=60)
    with parts.session() as session:  # as if its worker went silent a minute ago
        session.get(Job, old.job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert reaper.reap(parts.db) == 1
    new = queue.claim(parts.db, "w")
    assert (new.job_id, new.attempt) == (old.job_id, 2) and new.lease_token != old.lease_token

    stale = LocalReport(parts.db, parts.settings, parts.catalog, old)
    for call in (stale.heartbeat, stale.deploying, stale.deployed, lambda: stale.failed("crash", "late")):
        with pytest.raises(LeaseLost):
            call()
    assert parts.model(model_id).status == "queued"
    current = LocalReport(parts.db, parts.settings, parts.catalog, new)
    current.deploying()
    current.deployed()
    assert parts.model(model_id).status == "evaluated"
    forged = Ticket(new.job_id, model_id, None, 2, "not-the-token")
    with pytest.raises(LeaseLost):
        LocalReport(parts.db, parts.settings, parts.catalog, forged).failed("crash", "forged")
    assert parts.model(model_id).status == "evaluated"


def test_the_reaper_takes_up_only_jobs_whose_lease_ran_out(parts):
    silent, alive = parts.add_model(), parts.add_model()
    tickets = [queue.claim(parts.db, "w", lease_seconds=60) for _ in range(2)]
    with parts.session() as session:
        session.get(Job, tickets[0].job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert reaper.reap(parts.db) == 1
    assert parts.jobs(silent) == [(None, "queued", 1)] and parts.jobs(alive) == [(None, "running", 1)]
    with parts.session() as session:
        assert session.get(Job, tickets[0].job_id).log.startswith("attempt 1: its worker was lost: no heartbeat since ")


def test_at_start_the_jobs_left_running_by_this_worker_are_queued_again_and_waiting_uploads_queued(parts):
    mine, others = parts.add_model(), parts.add_model()
    queue.claim(parts.db, "this-server")
    queue.claim(parts.db, "another-worker")
    with parts.session() as session:  # an upload recorded by 0.2.0, which evaluated nothing
        old = Upload(user_id=1, name="old", task_code="nli", sha256="0" * 64, size=1)
        session.add(old)
        session.commit()

    assert reaper.recover(parts.db, "this-server") == (1, 1)
    assert parts.jobs(mine) == [(None, "queued", 1)]
    assert parts.jobs(others) == [(None, "running", 1)]  # its lease decides: the reaper's business
    assert parts.model(old.id).status == "queued" and parts.jobs(old.id) == [(None, "queued", 0)]
    assert parts.history(old.id) == [(None, "uploaded", None), ("uploaded", "queued", "queued at the server's start")]
    assert reaper.recover(parts.db, "this-server") == (0, 0)  # nothing twice


def test_a_jobs_log_keeps_its_last_megabyte():
    line = "é" * 99 + "\n"  # two bytes a character: a cut may fall inside one
    log = ""
    for _ in range(3):
        log = queue.capped(log + line * 5000)
    assert len(log.encode()) <= queue.MAX_LOG_BYTES
    assert log.startswith(queue.CUT) and log.endswith(line * 100)
    assert queue.capped("short") == "short"


@pytest.mark.parametrize("parts", ["sqlite", "postgresql"], indirect=True)
def test_a_remote_worker_claims_the_job_its_message_names_only_while_it_is_queued_and_a_requeue_resends_it(parts):
    parts.add_model("a"), parts.add_model("b")
    with parts.session() as session:
        first, second = [job.id for job in session.query(Job).order_by(Job.id)]
        session.get(Job, second).dispatched_at = utcnow()
        session.commit()
    ticket = queue.claim(parts.db, "w1", job_id=second)
    assert (ticket.job_id, ticket.attempt) == (second, 1)
    assert queue.claim(parts.db, "w2", job_id=second) is None  # a second message for it: dropped
    assert queue.claim(parts.db, "w2").job_id == first  # the oldest queued one, as before
    with parts.session() as session:
        job = session.get(Job, second)
        lifecycle.job_lost(session, job, "its worker was lost")
        session.commit()
        assert (job.state, job.worker, job.dispatched_at) == ("queued", None, None)  # to be sent again
