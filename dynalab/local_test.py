"""``dynalab-cli test --local``: run the handler in-process on the task's mock inputs.

"In-process" means in the researcher's own Python environment, but in a child
process: a crash, an ``exit()`` or a segfault in user code is reported, not
fatal to the CLI. The child (``dynalab.runtime.local_runner``) reports what
happens as events on a pipe; this module turns them into output and a verdict.
"""

import importlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

from dynalab.errors import ConfigError, LocalTestFailed
from dynalab.runtime.model_dir import ModelDirError, prepare_model_dir
from dynalab.runtime.protocol import TIMEOUT_HINTS, Event, Reason, SpecError, Stage, iter_events, make_spec, write_spec
from dynalab.size_check import warn_if_too_big

LOG_TAIL_LINES = 25


def run_local_test(project, name, config, definition, log_path, out=print):
    """Run the local test; raise LocalTestFailed naming what went wrong."""
    warn_if_too_big(project, name, config, out)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"dynalab-local-{name}-") as tmp:
        model_dir = Path(tmp) / "model"
        try:
            prepare_model_dir(
                model_dir, str(project.root), config["handler"], config["checkpoint"], config["model_files"],
                mode="symlink",
            )
        except ModelDirError as error:
            raise ConfigError(f"{project.relative(project.config_path(name))}: {error}") from None
        spec_path = Path(tmp) / "spec.json"
        spec = make_spec(
            name, definition, project.root, model_dir, config["handler"], config["checkpoint"],
            config["batched"], 0 if config["gpu"] else None,
        )
        try:
            write_spec(spec_path, spec)
        except SpecError as error:  # the runner would refuse it the same way
            raise LocalTestFailed(f"Local test failed in spec: {error}") from None
        # Tracebacks name the user's files, not their temporary links in the model dir.
        placed = {str(model_dir / Path(entry).name): entry
                  for entry in [config["handler"], config["checkpoint"], *config["model_files"]]}
        with open(log_path, "w", encoding="utf-8") as log:
            report = _run_child(spec_path, model_dir, log, lambda line: out(_user_paths(line, placed)), Timeouts.of(config))
    if report.error or report.failed or not report.finished:
        raise LocalTestFailed(report.summary(log_path), hint=report.hint)
    out(f"Local test passed ({report.passed} of {report.total} mock inputs, {report.seconds:.1f}s)")


class Report:
    """What the child said, accumulated event by event."""

    def __init__(self):
        self.total = 0
        self.passed = 0
        self.failed = 0
        self.finished = False
        self.error = None
        self.exit_code = None
        self.seconds = 0.0
        self.hint = None
        self.batched = False
        self.timed_out = False

    def summary(self, log_path):
        if self.error:
            what = f"{self.error.get('stage', 'handler')}: {self.error.get('message', '').strip()}"
            return f"Local test failed in {what} (full log: {log_path})"
        if self.failed:
            return f"Local test failed: {self.failed} of {self.total} responses are invalid (full log: {log_path})"
        return (
            f"Local test failed: the handler process stopped before finishing (exit code {self.exit_code}; full log: {log_path})"
        )


def _run_child(spec_path, model_dir, log, out, timeouts):
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    started = time.monotonic()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "dynalab.runtime.local_runner", str(spec_path), "--events-fd", str(write_fd)],
            cwd=model_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
        )
    finally:
        os.close(write_fd)
    report = Report()
    events = queue.Queue()
    reader = threading.Thread(target=_read_events, args=(read_fd, events), daemon=True)
    reader.start()
    try:
        _follow(events, report, out, timeouts, deadline=started + timeouts.startup)
        if report.timed_out:
            child.kill()
    except BaseException:
        child.kill()  # interrupted: the handler must not outlive the test
        raise
    finally:
        report.exit_code = child.wait()
        report.seconds = time.monotonic() - started
        reader.join(timeout=5)  # a process the handler started may still hold the pipe
    if not report.finished or report.error or report.failed:
        log.flush()
        _show_log_tail(log.name, out)
        if report.exit_code and not report.finished and not report.error:
            report.hint = "the handler exited the process (sys.exit/os._exit) or crashed: see the log lines above"
    return report


class Timeouts(NamedTuple):
    """Seconds until the handler is loaded (from the start), and per request after that."""

    startup: float
    request: float

    @classmethod
    def of(cls, config):
        settings = config["integrated_test"]
        return cls(settings["startup_timeout"], settings["request_timeout"])


def _read_events(fd, events):
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
        for event in iter_events(stream):
            events.put(event)
    events.put(None)


def _follow(events, report, out, timeouts, deadline):
    """Show the child's events until it is done; a stuck load or request ends the run."""
    loaded = False
    while True:
        try:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            _show(_timeout_event(report, loaded, timeouts), report, out)
            report.timed_out = True
            return
        if event is None:
            return
        _show(event, report, out)
        loaded = loaded or event.get("event") == Event.LOADED.value
        if loaded:  # each request has its own time
            deadline = time.monotonic() + timeouts.request


def _timeout_event(report, loaded, timeouts):
    """The error event the runner would have sent, had it known it was stuck."""
    if not loaded:
        return {"event": "error", "stage": Stage.LOAD.value, "reason": Reason.STARTUP_TIMEOUT.value,
                "message": f"the handler was not loaded within the startup timeout of {timeouts.startup:g}s",
                "hint": TIMEOUT_HINTS[Reason.STARTUP_TIMEOUT]}
    index = report.passed + report.failed
    what = "the batched call" if report.batched else f"datapoint {index}"
    return {"event": "error", "stage": Stage.BATCH.value if report.batched else Stage.DATAPOINT.value,
            "reason": Reason.REQUEST_TIMEOUT.value, "index": index,
            "message": f"no answer from the handler within {timeouts.request:g}s ({what})",
            "hint": TIMEOUT_HINTS[Reason.REQUEST_TIMEOUT]}


def _show(event, report, out):
    kind = event.get("event")
    if kind == "start":
        report.total = event.get("total", 0)
        report.batched = bool(event.get("batched"))
        out(f"Loading the handler; {report.total} mock inputs to check")
    elif kind == "loaded":
        out("Handler loaded")
    elif kind == "datapoint":
        _show_datapoint(event, report, out)
    elif kind == "error":
        report.error = event
        out(f"Error in {event.get('stage', 'handler')}: {event.get('message', '')}")
        if event.get("traceback"):
            out(user_traceback(event["traceback"]))
        report.hint = event.get("hint") or report.hint
    elif kind == "done":
        report.finished = True


def _show_datapoint(event, report, out):
    index, total = event.get("index", 0) + 1, event.get("total", report.total)
    problems = event.get("problems") or []
    if not problems:
        report.passed += 1
        out(f"  [{index}/{total}] ok")
        return
    report.failed += 1
    out(f"  [{index}/{total}] FAILED")
    out(f"    input:    {_short(event.get('input'))}")
    out(f"    response: {_short(event.get('response'))}")
    for problem in problems:
        out(f"    - `{problem.get('field')}`: expected {problem.get('expected')}, got {_short(problem.get('got'), 120)}")
        if problem.get("hint"):
            out(f"      hint: {problem['hint']}")
            report.hint = report.hint or problem["hint"]


NOT_USER_CODE = (str(Path(__file__).resolve().parent), os.path.dirname(importlib.__file__), "<frozen")


def user_traceback(text):
    """A traceback without the frames of Dynalab's runner and of importlib."""
    kept, frame_kept = [], True
    for line in text.rstrip().splitlines():
        if line.startswith('  File "'):
            filename = line.split('"')[1]
            frame_kept = not filename.startswith(NOT_USER_CODE)
        elif not line.startswith("    "):
            frame_kept = True
        if frame_kept:
            kept.append(line)
    return "\n".join(kept)


def _user_paths(line, placed):
    for temporary, original in placed.items():
        line = line.replace(temporary, original)
    return line


def _short(value, limit=300):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show_log_tail(path, out):
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    if lines:
        out(f"Last lines of the handler's output ({path}):")
        for line in lines[-LOG_TAIL_LINES:]:
            out(f"  | {line}")
