"""``dynalab-server worker ARGS`` running ``JournalJob`` instead of the real job function, until it is stopped.

    python run_celery_worker.py JOB_FOLDER worker ARGS...

The worker command itself runs (a Celery worker on the broker, the HTTP
source and report, the server's worker API); only the job function is the
tests' (see ``journal_job``), so that the tests of the executor do not
depend on a model running.
"""

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from journal_job import JournalJob  # noqa: E402

from dynalab.server import cli, serve  # noqa: E402

if __name__ == "__main__":
    job = JournalJob(sys.argv[1])
    serve.job_function = lambda: job
    sys.exit(cli.main(sys.argv[2:]))
