"""What a job function and the server say to each other: the ticket, the source, the report.

A job is one call ``run_job(ticket, source, report, backend)``
(``dynalab.server.jobs.work``): deploy the model (``ticket.dataset_id`` is
None) or evaluate it on one dataset. The function keeps no state of its own
between calls: everything it needs comes from ``source``, everything it
finds goes to ``report``, and the database behind them is the truth. The
embedded worker hands it the local source and report (``jobs.local``: the
database and the data dir, in the same process); a remote worker hands it
ones that speak HTTP to the server. Gold targets never pass through here:
the job sends predictions, the server side of ``report.predictions`` scores
them.

The order of report calls::

    deploy job:      deploying()  ...  deployed()            | failed(...)
    evaluation job:  evaluating() ...  predictions(...)      | failed(...)

with ``log(text)`` and ``heartbeat()`` at any time. ``deployed``,
``predictions`` and ``failed`` end the job; a job function that returns
without one of them, or raises, has hit an infrastructure problem and the
job is tried again (at most ``MAX_ATTEMPTS`` times in all). The executor
renews the job's lease in the background while the function runs, so it
need not call ``heartbeat``; calling it is harmless and finds a lost lease
early.

Once the job is no longer this attempt's (its lease expired and the job was
taken up again, the model failed in another job, its dataset was removed,
the server is stopping), every report call raises ``LeaseLost`` and changes
nothing: the function lets it propagate, so that its context managers stop
the model's processes on the way out. That is how a retried job can never
write a score twice.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

# The ways a model can fail, as `failure_class` (uploads.failure_class) names them.
FAILURE_CLASSES = ("build", "load", "crash", "timeout", "memory", "bad_response", "infrastructure")
INFRASTRUCTURE = "infrastructure"  # the server's own failure: retried, and free of quota

LEASE_SECONDS = 60.0  # a job's lease lasts this long after each heartbeat
HEARTBEAT_SECONDS = 10.0  # how often a running job renews its lease
MAX_ATTEMPTS = 3  # infrastructure attempts before the model fails as `infrastructure`


class LeaseLost(Exception):
    """Raised by a report call once the job is no longer this attempt's: nothing was changed."""


@dataclass(frozen=True)
class Ticket:
    """Which job this is, and which attempt: the only arguments of a job besides its helpers.

    ``attempt`` counts from 1; ``lease_token`` is this attempt's, and every
    report carries it, so reports of an earlier attempt are told apart.
    """

    job_id: int
    model_id: int
    dataset_id: int | None  # None: the deploy job
    attempt: int
    lease_token: str

    @property
    def is_deploy(self):
        return self.dataset_id is None

    def as_dict(self):
        """The ticket as JSON-ready data (how a remote worker receives it)."""
        return asdict(self)


class JobSource(Protocol):
    """What a job reads: the stored archive, the task's definition, the dataset's inputs."""

    def model_name(self) -> str:
        """The model's name as uploaded (its config is ``.dynalab/<name>/`` in the archive)."""

    def archive_path(self) -> Path:
        """The uploaded .tar.gz, as stored (unpack it with the intake's checks: never trust it)."""

    def max_unpacked_bytes(self) -> int:
        """The server's bound on the archive's unpacked size (the intake's ``--max-unpacked-bytes``)."""

    def scratch_dir(self) -> Path:
        """Where the job may make its scratch dir (the worker's own disk; swept when the worker starts)."""

    def task_definition(self) -> dict:
        """The task's definition on this server (``{"task", "config", "metrics", "limits"...}``)."""

    def dataset_inputs(self) -> Sequence[dict]:
        """The evaluation job's examples, each ``{"uid", <the task's inputs>}``: never targets."""


class JobReport(Protocol):
    """What a job tells the server; every call raises ``LeaseLost`` once the job is not this attempt's."""

    def heartbeat(self) -> None:
        """Renew the lease (the executor does so in the background too)."""

    def log(self, text: str) -> None:
        """Add ``text`` to the job's log (capped at 1 MB: the tail is kept)."""

    def deploying(self) -> None:
        """The deploy job has started on the model."""

    def deployed(self) -> None:
        """The model passed its deployment: its evaluation jobs are queued (ends the deploy job)."""

    def evaluating(self) -> None:
        """The evaluation job has started sending the dataset's examples."""

    def predictions(self, responses: Mapping[str, dict], examples_per_second: float,
                    peak_memory_mb: float | None) -> None:
        """Every example's checked response, by uid; the server scores them (ends the job)."""

    def failed(self, failure_class: str, reason: str, hint: str | None = None) -> None:
        """The model failed (one of ``FAILURE_CLASSES``, a one-line reason, what to do); ends the job."""


JobFunction = Callable[[Ticket, JobSource, JobReport, str], None]
"""``run_job(ticket, source, report, backend)``; ``backend`` is ``"sandbox"`` or ``"docker"``."""
