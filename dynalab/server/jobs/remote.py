"""The source and report of a remote worker: the worker API of the server, over HTTP.

A remote worker (``dynalab-server worker``) has no database and no data dir
of the server: ``WorkerApi`` claims the job a Celery message names, and
``RemoteSource`` / ``RemoteReport`` are what the job function gets, speaking
to ``/worker/jobs/{id}/...`` (``routes.worker_api``) with the worker's
token and the attempt's lease. The archive is downloaded into the worker's
own folder (kept by its sha256, checked, for the next job of the same
model); the dataset's inputs arrive without their targets, and the
predictions go back to be scored on the server.

Requests are sent again on connection errors and 5xx answers, with backoff,
POSTs too: every report is safe to repeat (the server's moves are
idempotent, and a report repeated after the job ended is refused with 409).
A 409 is ``LeaseLost``: the job is no longer this attempt's.
"""

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dynalab.server.jobs.protocol import LeaseLost, Ticket

log = logging.getLogger("dynalab.server.jobs")

LEASE_HEADER = "X-Dynalab-Lease"
LOG_FLUSH_BYTES = 64 * 1024
TIMEOUT = (10, 120)  # connect, read: an archive or a dataset may take a while to arrive
RETRIES = 8  # waits of 0.5, 1, 2, 4, 8, 15, 15, 15 s: a server restarting is waited for


class WorkerRefused(RuntimeError):
    """The server refused the worker itself (unknown or revoked token), or the request (4xx)."""


@dataclass(frozen=True)
class Claim:
    """A job claimed by this worker: its ticket, and what the server says about running it."""

    ticket: Ticket
    worker: str  # this worker's name, as the server knows it
    model_name: str
    sha256: str
    max_unpacked_bytes: int
    what: str
    lease_seconds: float
    heartbeat_seconds: float


class WorkerApi:
    """The HTTP session of one worker process with the server at ``api_url``."""

    def __init__(self, api_url, token, work_dir):
        self.api_url = api_url.rstrip("/")
        self.work_dir = Path(work_dir)
        self.http = requests.Session()
        self.http.trust_env = False  # the server is reached directly, never through a proxy of the environment
        self.http.headers["Authorization"] = f"Bearer {token}"
        retry = Retry(total=RETRIES, connect=RETRIES, read=RETRIES, status=RETRIES, backoff_factor=0.5,
                      backoff_max=15, status_forcelist=(500, 502, 503, 504), allowed_methods=None,
                      raise_on_status=False, respect_retry_after_header=False)
        self.http.mount("http://", HTTPAdapter(max_retries=retry))
        self.http.mount("https://", HTTPAdapter(max_retries=retry))

    def claim(self, job_id):
        """The ``Claim`` of job ``job_id``, or None when it is not queued (run elsewhere, or ended)."""
        response = self.http.post(f"{self.api_url}/worker/jobs/{job_id}/claim", timeout=TIMEOUT)
        if response.status_code == 409:
            log.info("job %d: not claimed (%s)", job_id, _detail(response))
            return None
        _check(response)
        answer = response.json()
        return Claim(ticket=Ticket(**answer["ticket"]), worker=answer["worker"], model_name=answer["model_name"], sha256=answer["sha256"],
                     max_unpacked_bytes=answer["max_unpacked_bytes"], what=answer["what"], lease_seconds=answer["lease_seconds"],
                     heartbeat_seconds=answer["heartbeat_seconds"])

    def get(self, ticket, what, stream=False):
        response = self.http.get(self._url(ticket, what), headers={LEASE_HEADER: ticket.lease_token},
                                 timeout=TIMEOUT, stream=stream)
        return _check(response)

    def post(self, ticket, call, body):
        response = self.http.post(self._url(ticket, call), headers={LEASE_HEADER: ticket.lease_token},
                                  json=body, timeout=TIMEOUT)
        return _check(response)

    def _url(self, ticket, what):
        return f"{self.api_url}/worker/jobs/{ticket.job_id}/{what}"

    def close(self):
        self.http.close()


class RemoteSource:
    """What a job reads, fetched from the server (see ``protocol.JobSource``)."""

    def __init__(self, api, claim):
        self.api, self.claim, self.ticket = api, claim, claim.ticket

    def model_name(self):
        return self.claim.model_name

    def archive_path(self):
        """The archive in the worker's folder: downloaded once per content, its sha256 checked."""
        folder = self.api.work_dir / "archives"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.claim.sha256}.tar.gz"
        if path.is_file():
            return path
        partial = folder / f".{self.claim.sha256}.{os.getpid()}.{threading.get_ident()}.part"
        digest = hashlib.sha256()
        try:
            with self.api.get(self.ticket, "archive", stream=True) as response, open(partial, "wb") as file:
                for chunk in response.iter_content(1 << 20):
                    digest.update(chunk)
                    file.write(chunk)
            if digest.hexdigest() != self.claim.sha256:
                raise RuntimeError(f"the archive of job {self.ticket.job_id} arrived damaged "
                                   f"(sha256 {digest.hexdigest()}, not {self.claim.sha256})")
            os.replace(partial, path)  # whole or not at all: another process may be reading it
        finally:
            partial.unlink(missing_ok=True)
        return path

    def max_unpacked_bytes(self):
        return self.claim.max_unpacked_bytes

    def scratch_dir(self):
        """``scratch/`` in the worker's folder (swept when the worker starts)."""
        return self.api.work_dir / "scratch"

    def task_definition(self):
        return self.api.get(self.ticket, "task").json()

    def dataset_inputs(self):
        if self.ticket.dataset_id is None:
            raise ValueError("a deploy job has no dataset")
        with self.api.get(self.ticket, "inputs", stream=True) as response:
            return [json.loads(line) for line in response.iter_lines() if line]


class RemoteReport:
    """What a job tells the server, posted to it (see ``protocol.JobReport``); the log is sent in
    pieces, with the next report or heartbeat (or once ``LOG_FLUSH_BYTES`` are waiting)."""

    def __init__(self, api, claim):
        self.api, self.ticket = api, claim.ticket
        self.finished = False
        self._pending = []
        self._pending_bytes = 0
        self._lock = threading.Lock()  # the heartbeat thread posts too

    # -- the protocol ------------------------------------------------------------------------------

    def heartbeat(self):
        self._post("heartbeat")

    def log(self, text):
        with self._lock:
            self._pending.append(text)
            self._pending_bytes += len(text)
            full = self._pending_bytes >= LOG_FLUSH_BYTES
        if full:
            self._post("log")

    def deploying(self):
        self._post("deploying")

    def deployed(self):
        self._post("deployed", ends=True)

    def evaluating(self):
        self._post("evaluating")

    def predictions(self, responses, examples_per_second, peak_memory_mb):
        self._post("predictions", {"responses": dict(responses), "examples_per_second": examples_per_second,
                                   "peak_memory_mb": peak_memory_mb}, ends=True)

    def failed(self, failure_class, reason, hint=None):
        self._post("failed", {"failure_class": failure_class, "reason": reason, "hint": hint}, ends=True)

    # -- for the worker ----------------------------------------------------------------------------

    def note(self, text):
        """A line of the worker's own in the job's log, sent now."""
        self.log(text if text.endswith("\n") else text + "\n")
        self._post("log")

    def lost(self, reason, counts=True):
        """The attempt ended without a result: the server queues the job again (see ``lifecycle.job_lost``)."""
        try:
            self._post("lost", {"reason": reason, "counts": counts}, ends=True)
        except LeaseLost:
            pass  # someone else has dealt with the job already
        except Exception:  # the server unreachable: the lease runs out and the reaper takes the job up
            log.exception("job %d: could not tell the server the attempt was lost", self.ticket.job_id)

    # -- inside ------------------------------------------------------------------------------------

    def _post(self, call, body=None, ends=False):
        if self.finished:
            raise LeaseLost(f"job {self.ticket.job_id} has ended already")
        with self._lock:
            # Under the lock: the log's pieces reach the server in the order they were written.
            text = "".join(self._pending)
            self.api.post(self.ticket, call, {**(body or {}), "log": text})
            self._pending, self._pending_bytes = [], 0  # only once sent: a failed post keeps them
        if ends:
            self.finished = True


def _check(response):
    if response.status_code == 409:
        raise LeaseLost(_detail(response))
    if response.status_code in (401, 403):
        raise WorkerRefused(f"the server refused this worker ({response.status_code}): {_detail(response)}")
    if response.status_code >= 400:
        raise WorkerRefused(f"{response.request.method} {response.url}: {response.status_code} {_detail(response)}")
    return response


def _detail(response):
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text[:200]
