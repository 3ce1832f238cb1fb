"""Who runs the jobs: the ``Executor`` protocol, and the embedded worker of ``dynalab-server run``.

The server knows its executor by three calls: ``start()`` (once serving),
``wake()`` (a job was queued: look now rather than at the next poll) and
``stop()``. The ``EmbeddedExecutor`` runs ``--workers N`` threads in the
server's process, each claiming the oldest queued job from the database
(``queue.claim``) and running the job function on it with the local source
and report; a thread per running job renews its lease meanwhile, and one
more runs the reaper. Jobs queued by another process (``add-dataset`` while
the server runs) are found by polling.
"""

import hashlib
import logging
import socket
import threading
import time
from typing import Protocol

from dynalab.server.db.models import Dataset, iso, utcnow
from dynalab.server.jobs import reaper
from dynalab.server.jobs.local import LocalReport, LocalSource, Stopping
from dynalab.server.jobs.protocol import HEARTBEAT_SECONDS, INFRASTRUCTURE, LEASE_SECONDS, LeaseLost
from dynalab.server.jobs.queue import claim

log = logging.getLogger("dynalab.server.jobs")

EMBEDDED_WORKER = "embedded"  # the name the embedded worker's evaluations record
POLL_SECONDS = 2.0
REAP_SECONDS = 15.0
STOP_SECONDS = 5.0


class Executor(Protocol):
    def start(self) -> None:
        """Start running queued jobs (and take up those a previous run left unfinished)."""

    def wake(self) -> None:
        """A job was queued: run it without waiting for the next poll."""

    def stop(self) -> None:
        """Stop taking jobs; running ones are queued again where they can be stopped in time."""


def embedded_worker_name(data_dir):
    """The name the embedded worker of ``data_dir`` claims jobs under: at start, the jobs left
    running under it are its own (two data dirs may share a PostgreSQL database)."""
    where = f"{socket.gethostname()}:{data_dir}"
    return "embedded-" + hashlib.sha256(where.encode()).hexdigest()[:12]


class ThreadedExecutor:
    """What both executors are made of: daemon threads in the server's process, stopped together,
    one of them the reaper (every ``reap_seconds``). Subclasses define ``start`` and ``wake``."""

    def __init__(self, db, reap_seconds):
        self.db, self.reap_seconds = db, reap_seconds
        self._stopping = threading.Event()
        self._threads = []

    def stop(self, timeout=STOP_SECONDS):
        self._stopping.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, target, name):
        # Daemons: a job stuck in a call that ignores the stop must not keep the server alive.
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _reap(self):
        while not self._stopping.wait(self.reap_seconds):
            try:
                if reaper.reap(self.db):
                    self.wake()  # the jobs queued again are taken up at once
            except Exception:
                log.exception("the reaper failed (trying again in %s s)", self.reap_seconds)


class EmbeddedExecutor(ThreadedExecutor):
    """``workers`` threads in this process running ``job_function(ticket, source, report, backend)``."""

    def __init__(self, db, settings, catalog, job_function, workers=1, backend="sandbox",
                 lease_seconds=LEASE_SECONDS, heartbeat_seconds=HEARTBEAT_SECONDS,
                 poll_seconds=POLL_SECONDS, reap_seconds=REAP_SECONDS):
        super().__init__(db, reap_seconds)
        self.settings, self.catalog = settings, catalog
        self.job_function = job_function
        self.workers = workers
        self.backend = backend
        self.lease_seconds, self.heartbeat_seconds = lease_seconds, heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.name = embedded_worker_name(settings.data_dir)
        self._queued = threading.Condition()
        self._wakes = 0  # counts wake() calls, so that one between a claim and the wait is not lost

    def start(self):
        reaper.recover(self.db, self.name)
        if not self.workers:
            log.info("no embedded worker (--workers 0): jobs stay queued")
            return
        for index in range(self.workers):
            self._spawn(self._work, f"dynalab-worker-{index + 1}")
        self._spawn(self._reap, "dynalab-reaper")
        log.info("embedded worker %s: %d thread(s), backend %s", self.name, self.workers, self.backend)

    def wake(self):
        with self._queued:
            self._wakes += 1
            self._queued.notify_all()

    def _work(self):
        while not self._stopping.is_set():
            with self._queued:
                wakes = self._wakes
            try:
                ticket = claim(self.db, self.name, self.lease_seconds)
            except Exception:
                log.exception("could not claim a job (trying again in %s s)", self.poll_seconds)
                ticket = None
            if ticket is not None:
                try:
                    self._run(ticket)
                except Exception:  # the database failing us: the job's lease runs out, the reaper takes it up
                    log.exception("job %d: could not record how it ended", ticket.job_id)
                continue
            with self._queued:
                if self._wakes == wakes and not self._stopping.is_set():
                    self._queued.wait(self.poll_seconds)

    def _run(self, ticket):
        report = LocalReport(self.db, self.settings, self.catalog, ticket, self._stopping, self.lease_seconds,
                             worker=EMBEDDED_WORKER)
        source = LocalSource(self.db, self.settings, self.catalog, ticket)
        try:
            perform(self.job_function, ticket, source, report, self.backend, self._describe(ticket),
                    self.heartbeat_seconds)
        finally:
            self.wake()  # the job may have queued others (a deployment queues the evaluations)

    def _describe(self, ticket):
        if ticket.dataset_id is None:
            return describe(ticket, None)
        with self.db.session() as session:
            dataset = session.get(Dataset, ticket.dataset_id)
        return describe(ticket, dataset.name if dataset else ticket.dataset_id)


def perform(job_function, ticket, source, report, backend, what, heartbeat_seconds, side="the server's side",
            worker=EMBEDDED_WORKER):
    """Run ``job_function`` on ``ticket`` with the lease renewed meanwhile, and make sure the job
    ends: an attempt that raised or returned without a result is ``report.lost`` (tried again).

    ``report`` is a ``LocalReport`` or a ``remote.RemoteReport``: besides the protocol, both have
    ``note`` (a line of the worker's own in the log), ``lost`` and ``finished``.
    """
    log.info("job %d: %s of model %d, attempt %d", ticket.job_id, what, ticket.model_id, ticket.attempt)
    try:
        with _Heartbeat(report, heartbeat_seconds):
            report.note(f"=== {what}, attempt {ticket.attempt}, {iso(utcnow())} (backend {backend})")
            if not _refused_for_want_of_a_gpu(source, report, backend, worker):
                job_function(ticket, source, report, backend)
    except Stopping:
        report.lost("the server stopped during the job", counts=False)
        return
    except LeaseLost as lost:
        log.info("job %d: dropped (%s)", ticket.job_id, lost)
        return
    except Exception as error:
        log.exception("job %d failed on %s", ticket.job_id, side)
        report.lost(f"the job failed on {side}: {type(error).__name__}: {error}")
    else:
        if not report.finished:
            report.lost("the job ended without a result")
    log.info("job %d: ended", ticket.job_id)


def _refused_for_want_of_a_gpu(source, report, backend, worker):
    """True (the job failed as ``infrastructure``: tried again, maybe elsewhere) when the task needs
    a GPU that this worker cannot give it."""
    from dynalab.isolation.gpu import missing_gpu
    from dynalab.tasks.limits import limits_of

    why = missing_gpu(limits_of(source.task_definition())["gpu"], backend)
    if why is None:
        return False
    report.failed(INFRASTRUCTURE, f"worker {worker}: {why}",
                  "the server's administrator runs the task's jobs on a machine with a GPU: "
                  "`dynalab-server worker --queue gpu --backend docker ...` there")
    return True


def describe(ticket, dataset_name):
    """How a job is named in its log: ``deployment`` or ``evaluation on dataset NAME``."""
    return "deployment" if ticket.dataset_id is None else f"evaluation on dataset {dataset_name}"


class _Heartbeat:
    """A thread renewing a job's lease every ``seconds`` while the block runs."""

    def __init__(self, report, seconds):
        self.report, self.seconds = report, seconds
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="dynalab-heartbeat", daemon=True)

    def _beat(self):
        while not self._done.wait(self.seconds):
            try:
                self.report.heartbeat()
            except LeaseLost:
                return  # the job function hears of it at its next report
            except Exception:
                log.exception("heartbeat of job %d failed (trying again)", self.report.ticket.job_id)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
