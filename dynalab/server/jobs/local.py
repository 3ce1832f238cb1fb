"""The source and report of the embedded worker: the database and the data dir, in the server's process.

Both are made afresh for each job from its ticket, and read or write the
database at each call: they hold no state of their own but the log lines
not yet written (flushed at each heartbeat and with every other report).
Every report call first locks the model, then checks that the ticket still
holds the job's lease; when it does not, nothing is changed and
``LeaseLost`` is raised. ``predictions`` scores the responses against the
dataset's gold targets here, on the server's side.
"""

import copy
import threading
from contextlib import contextmanager

from dynalab.server import lifecycle
from dynalab.server.db.models import Dataset, Upload
from dynalab.server.intake.storage import BlobStore
from dynalab.server.jobs import queue
from dynalab.server.jobs.protocol import FAILURE_CLASSES, INFRASTRUCTURE, LEASE_SECONDS, LeaseLost

LOG_FLUSH_BYTES = 64 * 1024


class Stopping(LeaseLost):
    """Raised by a report call while the server stops: the job is queued again, its attempt given back."""


class LocalSource:
    """What a job reads, from the server's own database, blob store and task catalog."""

    def __init__(self, db, settings, catalog, ticket):
        self.db, self.settings, self.catalog, self.ticket = db, settings, catalog, ticket

    def _model(self):
        with self.db.session() as session:
            return session.get(Upload, self.ticket.model_id)

    def model_name(self):
        return self._model().name

    def archive_path(self):
        return BlobStore(self.settings.blobs_dir).path(self._model().sha256)

    def scratch_dir(self):
        return self.settings.scratch_dir

    def max_unpacked_bytes(self):
        return self.settings.max_unpacked_bytes

    def task_definition(self):
        code = self._model().task_code
        if code not in self.catalog:
            raise LookupError(f"task {code!r} is no longer defined on this server")
        return copy.deepcopy(self.catalog.definitions[code])

    def dataset_inputs(self):
        from dynalab.server import datasets

        if self.ticket.dataset_id is None:
            raise ValueError("a deploy job has no dataset")
        with self.db.session() as session:
            dataset = session.get(Dataset, self.ticket.dataset_id)
        if dataset is None:
            raise LeaseLost(f"dataset {self.ticket.dataset_id} was removed")
        return list(datasets.dataset_inputs(datasets.DatasetStore(self.settings.datasets_dir), dataset))


class LocalReport:
    """What a job tells the server, written straight to the database (see ``protocol.JobReport``).

    ``stopping`` (an Event) is set when the server stops; ``finished`` tells
    the executor whether the job ended with a result; ``worker`` is the name
    the evaluations record. The worker API (``routes.worker_api``) makes one
    for each request of a remote worker.
    """

    def __init__(self, db, settings, catalog, ticket, stopping=None, lease_seconds=LEASE_SECONDS, worker=None):
        self.db, self.settings, self.catalog, self.ticket = db, settings, catalog, ticket
        self.worker = worker  # the name its evaluations record
        self.stopping = stopping or threading.Event()
        self.lease_seconds = lease_seconds
        self.finished = False
        self._pending_log = []
        self._pending_bytes = 0
        self._log_lock = threading.Lock()  # the heartbeat thread flushes too

    # -- the protocol ------------------------------------------------------------------------------

    def heartbeat(self):
        with self._holding():
            pass  # the lease is renewed and the log written on the way in

    def log(self, text):
        self._check_stopping()
        with self._log_lock:
            self._pending_log.append(text)
            self._pending_bytes += len(text)
            full = self._pending_bytes >= LOG_FLUSH_BYTES
        if full:
            with self._holding():
                pass

    def deploying(self):
        with self._holding() as (session, job, model):
            lifecycle.deploying(session, model)

    def deployed(self):
        with self._holding(ends=True) as (session, job, model):
            lifecycle.deployed(session, model)
            queue.finish(session, job, "done")

    def evaluating(self):
        with self._holding() as (session, job, model):
            lifecycle.evaluation_started(session, model, job.dataset_id, self.worker)

    def predictions(self, responses, examples_per_second, peak_memory_mb):
        from dynalab.server import datasets
        from dynalab.server.evaluation.scoring import score

        # Scored before the model is locked: the lock is held for the writes only.
        with self.db.session() as session:
            dataset = session.get(Dataset, self.ticket.dataset_id)
        if dataset is None:
            raise LeaseLost(f"dataset {self.ticket.dataset_id} was removed")
        targets = datasets.dataset_targets(datasets.DatasetStore(self.settings.datasets_dir), dataset)
        missing = [uid for uid in targets if uid not in responses]
        unknown = [uid for uid in responses if uid not in targets]
        if missing or unknown:
            raise ValueError(f"the predictions do not match dataset {dataset.name!r}: "
                             f"{len(missing)} examples without a response, {len(unknown)} unknown uids")
        metrics = score(self.catalog.definitions[dataset.task_code], responses, targets)
        with self._holding(ends=True) as (session, job, model):
            lifecycle.evaluation_done(session, model, job.dataset_id, metrics, examples_per_second, peak_memory_mb)
            queue.finish(session, job, "done")

    def failed(self, failure_class, reason, hint=None):
        if failure_class not in FAILURE_CLASSES:
            raise ValueError(f"unknown failure class {failure_class!r} (known: {', '.join(FAILURE_CLASSES)})")
        with self._holding(ends=True) as (session, job, model):
            self._write_log(job, f"failed ({failure_class}): {reason}\n" + (f"hint: {hint}\n" if hint else ""))
            if failure_class == INFRASTRUCTURE:
                lifecycle.job_lost(session, job, reason)  # the server's failure: tried again
            else:
                queue.finish(session, job, "failed", f"{failure_class}: {reason}")
                lifecycle.fail_model(session, model, failure_class, reason, hint, job.dataset_id, keep_job=job.id)

    # -- for the executor --------------------------------------------------------------------------

    def lost(self, reason, counts=True):
        """The attempt ended without a result for a reason of the server's: see ``lifecycle.job_lost``."""
        try:
            with self._holding(ends=True, stopping_too=True) as (session, job, model):
                self._write_log(job, f"{reason}\n")
                lifecycle.job_lost(session, job, reason, counts=counts)
        except LeaseLost:
            pass  # someone else has dealt with the job already

    def note(self, text):
        """A line of the server's own in the job's log, written now."""
        with self._log_lock:
            self._pending_log.append(text if text.endswith("\n") else text + "\n")
        with self._holding(stopping_too=True):
            pass

    # -- inside ------------------------------------------------------------------------------------

    @contextmanager
    def _holding(self, ends=False, stopping_too=False):
        """A session in which the model is locked and the ticket holds its job: ``(session, job, model)``.

        Each call renews the lease and writes the pending log in that transaction;
        ``ends``: the call ends the job. While the server stops, only ``lost`` gets in.
        """
        if not stopping_too:
            self._check_stopping()
        if self.finished:
            raise LeaseLost(f"job {self.ticket.job_id} has ended already")
        with self.db.session() as session:
            model = lifecycle.lock_model(session, self.ticket.model_id)
            job = queue.holding(session, self.ticket) if model is not None else None
            if job is None:
                raise LeaseLost(f"job {self.ticket.job_id} is no longer held by this attempt")
            queue.extend_lease(job, self.lease_seconds)
            with self._log_lock:
                text, self._pending_log, self._pending_bytes = "".join(self._pending_log), [], 0
            self._write_log(job, text)
            yield session, job, model
            session.commit()
        if ends:
            self.finished = True

    def _write_log(self, job, text):
        queue.append_log(job, text)

    def _check_stopping(self):
        if self.stopping.is_set():
            raise Stopping("the server is stopping")
