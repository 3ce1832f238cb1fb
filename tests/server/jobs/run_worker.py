"""An embedded worker running ``JournalJob`` over a data dir until it is killed, in a process of its own.

    python run_worker.py DATA_DIR JOB_FOLDER

Prints ``started`` once it takes jobs. For the tests that ``kill -9`` it.
"""

import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from journal_job import JournalJob  # noqa: E402
from lifecycle_support import ServerParts  # noqa: E402

from dynalab.server.jobs.executor import EmbeddedExecutor  # noqa: E402

if __name__ == "__main__":
    parts = ServerParts.open(Path(sys.argv[1]))
    EmbeddedExecutor(parts.db, parts.settings, parts.catalog, JournalJob(sys.argv[2]), poll_seconds=0.2).start()
    print("started", flush=True)
    while True:
        time.sleep(60)
