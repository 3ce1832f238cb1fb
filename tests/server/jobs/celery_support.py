"""The tests' remote workers: ``dynalab.testing.remote_workers``, running the tests' ``JournalJob``
(``run_celery_worker.py``) unless a test asks for the real job function."""

import sys
from pathlib import Path

from dynalab.testing.remote_workers import READY_LINE, RedisProcess, WorkerProcess, free_port  # noqa: F401

RUN_CELERY_WORKER = Path(__file__).resolve().parent / "run_celery_worker.py"


def worker_process(folder, broker, api_url, token, job_folder, real_job=False, extra_args=()):
    """A ``WorkerProcess`` running ``JournalJob`` (journal in ``job_folder``), or the real job with ``real_job``."""
    command = None if real_job else [sys.executable, str(RUN_CELERY_WORKER), str(job_folder)]
    return WorkerProcess(folder, broker, api_url, token, extra_args=extra_args, command=command)
