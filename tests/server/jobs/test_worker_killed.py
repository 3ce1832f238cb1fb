"""A worker process killed with SIGKILL in the middle of a job: at its next start the job runs again, once."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from journal_job import JournalJob
from server_support import wait_for

RUN_WORKER = Path(__file__).resolve().parent / "run_worker.py"


def start_worker(parts, job):
    process = subprocess.Popen([sys.executable, str(RUN_WORKER), str(parts.settings.data_dir), str(job.folder)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "started"
    return process


def test_a_job_interrupted_by_kill_9_is_taken_up_at_the_next_start_and_finishes_once(parts, tmp_path):
    job = JournalJob(tmp_path / "job")
    model_id = parts.add_model("waits")
    worker = start_worker(parts, job)
    try:
        assert wait_for(lambda: any(entry["event"] == "waiting" for entry in job.entries()), 20)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert parts.jobs(model_id) == [(None, "running", 1)] and parts.model(model_id).status == "deploying"

        worker = start_worker(parts, job)
        assert wait_for(lambda: parts.model(model_id).status == "evaluated", 20)
    finally:
        worker.kill()
        worker.wait()
    assert [(entry["event"], entry["attempt"]) for entry in job.entries()] == [
        ("start", 1), ("waiting", 1), ("start", 2), ("end", 2)]
    assert parts.jobs(model_id) == [(None, "done", 2)]
    assert ("deploying", "queued", "the server stopped while the job ran; queued again") in parts.history(model_id)
    assert [after for _, after, _ in parts.history(model_id)].count("evaluated") == 1
