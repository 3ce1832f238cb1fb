"""What each step of a model last did: ``.dynalab/<name>/state.yaml``.

A step's record holds its status, when it ran, how long it took and the
fingerprint of its inputs. A rerun whose fingerprint matches a recorded pass
is skipped. Only passes are ever recorded as passes. The runner reads the
file once per command (``steps.model.Model``), so a damaged one is warned
about once.
"""

import datetime
import sys
import time
from contextlib import contextmanager

import yaml

from dynalab.files import atomic_write_text
from dynalab.errors import ConfigError

PASSED = "passed"
FAILED = "failed"


class State:
    """The step records of one model, read once and written back atomically."""

    def __init__(self, path, warn=None):
        self.path = path
        self.warn = warn or _warn
        self.steps, self.uploads = {}, []
        if path.is_dir():  # it could never be written back: say so before any step runs
            raise ConfigError(f"{path} is a folder, so the steps' results cannot be kept",
                              hint="remove it (it holds only a cache of the steps' results), then run the step again")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError, yaml.YAMLError) as error:  # ValueError: not UTF-8
            # State is a cache: a lost or damaged file only costs a rerun.
            self.warn(_damaged(path, _reason(error)))
            return
        problem = self._take(data)
        if problem:
            self.warn(_damaged(path, problem))

    def _take(self, data):
        """Keep the well-formed records of ``data``; say what was not (None when all was)."""
        if data is None:
            return None
        if not isinstance(data, dict):
            return f"it holds a {type(data).__name__}, not a mapping"
        steps, uploads = data.get("steps", {}), data.get("uploads", [])
        if not isinstance(steps, dict) or not isinstance(uploads, list):
            return "`steps` must be a mapping and `uploads` a list"
        self.steps = {step: record for step, record in steps.items() if isinstance(record, dict)}
        self.uploads = [record for record in uploads if isinstance(record, dict)]
        if len(self.steps) != len(steps) or len(self.uploads) != len(uploads):
            return "some records are not mappings"
        return None

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


def _damaged(path, problem):
    return f"warning: {path} is damaged ({problem}); ignoring it: its steps run again and it is rewritten"


def _warn(line):
    print(line, file=sys.stderr)


def _reason(error):
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text, byte {error.start}"
    if isinstance(error, yaml.YAMLError):
        return "not valid YAML"
    return getattr(error, "strerror", None) or str(error)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
