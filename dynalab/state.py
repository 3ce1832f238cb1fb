"""What each step of a model last did: ``.dynalab/<name>/state.yaml``.

A step's record holds its status, when it ran, how long it took and the
fingerprint of its inputs. A rerun whose fingerprint matches a recorded pass
is skipped. Only passes are ever recorded as passes.
"""

import datetime
import time
from contextlib import contextmanager

import yaml

from dynalab.atomic import atomic_write_text

PASSED = "passed"
FAILED = "failed"


class State:
    """The step records of one model, read once and written back atomically."""

    def __init__(self, path):
        self.path = path
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            # State is a cache: a lost or damaged file only costs a rerun.
            data = {}
        self.steps = data.get("steps", {}) if isinstance(data, dict) else {}
        self.uploads = data.get("uploads", []) if isinstance(data, dict) else []

    def passed(self, step, fingerprint):
        """The record of a pass of ``step`` with this fingerprint, or None."""
        record = self.steps.get(step)
        if isinstance(record, dict) and record.get("status") == PASSED and record.get("fingerprint") == fingerprint:
            return record
        return None

    def record(self, step, status, fingerprint, duration, **details):
        self.steps[step] = {
            "status": status,
            "fingerprint": fingerprint,
            "finished_at": now_iso(),
            "duration_seconds": round(duration, 3),
            **details,
        }
        self.save()

    def forget(self, step):
        if self.steps.pop(step, None) is not None:
            self.save()

    def add_upload(self, receipt):
        self.uploads.append(receipt)
        self.save()

    def save(self):
        text = "# Written by dynalab-cli: results of each step. Safe to delete (steps then rerun).\n"
        text += yaml.safe_dump({"steps": self.steps, "uploads": self.uploads}, sort_keys=True)
        atomic_write_text(self.path, text)

    @contextmanager
    def running(self, step, fingerprint, **details):
        """Record the step as passed if the block completes, as failed if it raises."""
        started = time.monotonic()
        self.forget(step)
        try:
            extra = {}
            yield extra
        except BaseException:
            self.record(step, FAILED, fingerprint, time.monotonic() - started, **details)
            raise
        self.record(step, PASSED, fingerprint, time.monotonic() - started, **details, **extra)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
