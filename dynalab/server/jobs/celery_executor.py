"""Jobs run by Celery workers on other machines: the ``CeleryExecutor`` of ``run --broker``, and
the worker of ``dynalab-server worker``.

The database stays the source of truth; Redis only carries the news that a
job is waiting. On the server, a dispatcher thread sends each queued job's id
to Celery (queue ``gpu`` if its task's limits ask for a GPU, else ``cpu``)
and marks it ``dispatched_at``. A job still queued long after it was sent
(its message was lost with a Redis restarted empty, say) is sent again; a job
whose worker died is queued again by the reaper once its lease runs out (not
after Redis's one-hour visibility timeout) and so sent again too. While the
broker is down nothing is marked: the jobs wait in the database and go once
it is back. A message may thus arrive twice: the worker claims the job from
the server first (``/worker/jobs/{id}/claim``), and one that is not queued
any more is dropped.

A worker process takes one job at a time (prefetch 1) and acknowledges its
message only once the job ended (late ack); Celery's time limits come from
the task's limits (``time_limits``). It runs the same job function as the
embedded worker (``executor.perform``), with the HTTP source and report of
``jobs.remote``.
"""

import ctypes
import logging
import math
import os
import shutil
import signal
import socket
import sys
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, select, update

from dynalab.server.db.models import Dataset, Job, Upload, utcnow
from dynalab.server.jobs import reaper
from dynalab.server.jobs.executor import REAP_SECONDS, ThreadedExecutor, embedded_worker_name, perform
from dynalab.server.jobs.protocol import LEASE_SECONDS
from dynalab.tasks.limits import limits_of

log = logging.getLogger("dynalab.server.jobs")

TASK_NAME = "dynalab.run_job"
QUEUES = ("cpu", "gpu")
POLL_SECONDS = 2.0
REDISPATCH_SECONDS = 600.0  # a job sent this long ago and never started is sent again
DISPATCH_BATCH = 100
BUILD_SECONDS = 1800  # building a model's environment (pip), on top of the task's own limits
READY_LINE = "Dynalab worker ready"  # dynalab.testing.remote_workers waits for it

def celery_app(broker):
    """The Celery app of the server and of its workers, on ``broker`` (``redis://HOST:PORT/N``)."""
    from celery import Celery

    app = Celery("dynalab", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # a message is acknowledged once its job ended: a worker lost loses nothing
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # one job at a time per process: others stay for other workers
        task_default_queue="cpu",
        task_ignore_result=True,  # results go to the server's API, not to a result backend
        task_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for its broker, however long it is down
        broker_connection_timeout=3,
        broker_transport_options={"socket_connect_timeout": 3, "socket_timeout": 10},
        worker_send_task_events=False,
    )
    return app


def queue_of(definition):
    """``gpu`` for a task whose limits ask for a GPU, else ``cpu``."""
    return "gpu" if limits_of(definition)["gpu"] else "cpu"


def time_limits(definition, examples):
    """(soft, hard) seconds a job may take on a worker: building the environment, loading the
    model, then every request of ``examples`` examples (and the mock inputs) at its longest."""
    limits = limits_of(definition)
    batches = math.ceil((examples or 0) / max(1, int(limits["batch_size"]))) + 1
    soft = BUILD_SECONDS + float(limits["load_timeout"]) + float(limits["request_timeout"]) * batches
    return soft, soft + 60


class CeleryExecutor(ThreadedExecutor):
    """Sends the queued jobs to Celery; the reaper takes up those whose worker went silent."""

    def __init__(self, db, settings, catalog, broker, lease_seconds=LEASE_SECONDS, poll_seconds=POLL_SECONDS,
                 reap_seconds=REAP_SECONDS, redispatch_seconds=REDISPATCH_SECONDS):
        super().__init__(db, min(reap_seconds, lease_seconds / 2))
        self.settings, self.catalog = settings, catalog
        self.broker = broker
        self.app = celery_app(broker)
        self.poll_seconds = poll_seconds
        self.redispatch_seconds = redispatch_seconds
        self._woken = threading.Event()
        self._broker_down = False

    def start(self):
        # Jobs a previous run of this data dir left to its embedded worker are queued again (and sent).
        reaper.recover(self.db, embedded_worker_name(self.settings.data_dir))
        self._spawn(self._dispatch_loop, "dynalab-dispatcher")
        self._spawn(self._reap, "dynalab-reaper")
        log.info("jobs go to Celery workers through %s", _safe(self.broker))

    def wake(self):
        self._woken.set()

    def dispatch(self):
        """Send every queued job not yet sent (or sent long ago and never started); how many were sent.
        Stops at the first job the broker does not take: the rest wait in the database."""
        now = utcnow()
        stale = now - timedelta(seconds=self.redispatch_seconds)
        query = (select(Job.id, Job.dataset_id, Upload.task_code, Dataset.examples)
                 .join(Upload, Upload.id == Job.model_id).outerjoin(Dataset, Dataset.id == Job.dataset_id)
                 .where(Job.state == "queued", or_(Job.dispatched_at.is_(None), Job.dispatched_at < stale))
                 .order_by(Job.id).limit(DISPATCH_BATCH))
        with self.db.session() as session:
            rows = session.execute(query).all()
        sent = 0
        for row in rows:
            definition = self.catalog.definitions.get(row.task_code, {})
            soft, hard = time_limits(definition, row.examples)
            try:
                self.app.send_task(TASK_NAME, args=[row.id], queue=queue_of(definition), soft_time_limit=soft,
                                   time_limit=hard, retry=False)
            except Exception as error:  # kombu's errors for a broker down are many: any means "not sent"
                if not self._broker_down:
                    log.warning("the broker %s does not take jobs (%s): they wait in the database until it is "
                                "back", _safe(self.broker), error)
                self._broker_down = True
                break
            if self._broker_down:
                log.info("the broker %s is back: sending the waiting jobs", _safe(self.broker))
                self._broker_down = False
            with self.db.session() as session:
                # Only if still queued: a fast worker may have claimed it already.
                session.execute(update(Job).where(Job.id == row.id, Job.state == "queued")
                                .values(dispatched_at=utcnow()))
                session.commit()
            sent += 1
        return sent

    def _dispatch_loop(self):
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                self.dispatch()
            except Exception:
                log.exception("could not send the queued jobs (trying again in %s s)", self.poll_seconds)
            self._woken.wait(self.poll_seconds)


# --- the worker's side ------------------------------------------------------------------------------

class _WorkerContext:
    """What each worker process needs to run a job; its HTTP session is made in the process itself."""

    def __init__(self, api_url, token, work_dir, backend, job_function):
        self.api_url, self.token, self.work_dir = api_url, token, Path(work_dir)
        self.backend, self.job_function = backend, job_function
        self._api = None

    def api(self):
        from dynalab.server.jobs.remote import WorkerApi

        if self._api is None:
            self._api = WorkerApi(self.api_url, self.token, self.work_dir)
        return self._api


_context = None  # set by run_worker before Celery forks its processes


def run_job_message(job_id):
    """What a worker process does with one message: claim job ``job_id`` and run it (or drop the message)."""
    from dynalab.server.jobs.remote import RemoteReport, RemoteSource

    api = _context.api()
    claim = api.claim(job_id)
    if claim is None:
        return
    source, report = RemoteSource(api, claim), RemoteReport(api, claim)
    perform(_within_time_limit(_context.job_function), claim.ticket, source, report, _context.backend,
            claim.what, claim.heartbeat_seconds, side="the worker's side", worker=claim.worker)


def _within_time_limit(job_function):
    """``job_function``, its model failed as ``timeout`` when Celery's soft time limit strikes."""
    from celery.exceptions import SoftTimeLimitExceeded

    def run(ticket, source, report, backend):
        try:
            job_function(ticket, source, report, backend)
        except SoftTimeLimitExceeded:
            report.failed("timeout", "the job took longer than the task's limits allow in all "
                                     "(loading the model and answering every example)",
                          "make the model faster, or ask the task's owner for longer limits")

    return run


def run_worker(broker, api_url, token, queues=("cpu",), concurrency=1, backend="sandbox", work_dir=None,
               job_function=None, log_level="info"):
    """Run a Celery worker until it is stopped: ``concurrency`` processes, each taking one job at a
    time from ``queues`` and running ``job_function`` on it through the server at ``api_url``."""
    global _context
    from celery import signals

    work_dir = Path(work_dir or Path.cwd() / "dynalab-worker").resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    # What a killed worker's jobs left (their processes died with it; their containers did not); its
    # archives are kept.
    if backend == "docker":
        from dynalab.server.serve import remove_leftover_containers

        remove_leftover_containers(work_dir / "scratch")
    shutil.rmtree(work_dir / "scratch", ignore_errors=True)
    _context = _WorkerContext(api_url, token, work_dir, backend, job_function)
    app = celery_app(broker)
    app.task(name=TASK_NAME, acks_late=True, ignore_result=True)(run_job_message)
    signals.worker_process_init.connect(_die_with_parent, weak=False)
    signals.worker_ready.connect(lambda **_: print(f"{READY_LINE}: queues {','.join(queues)}, concurrency "
                                                    f"{concurrency}, backend {backend}, server {api_url}",
                                                    flush=True), weak=False)
    name = f"dynalab-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(["worker", f"--loglevel={log_level.upper()}", "--queues", ",".join(queues),
                     "--concurrency", str(concurrency), "--pool", "prefork", "--hostname", name,
                     "--without-gossip", "--without-mingle", "--optimization", "fair"])


def _die_with_parent(**_):
    """A worker's process dies with the worker (``kill -9`` of it too): its job's lease then runs out
    and another worker takes the job up, rather than a process nobody watches finishing it."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _safe(url):
    """``url`` without its password."""
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)
