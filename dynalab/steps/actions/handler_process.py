"""The handler in a child process on this machine: the host side of ``dynalab.runtime.local_runner``.

"On this machine" means in the researcher's own Python environment, but in a
child process: a crash, an ``exit()`` or a segfault in user code is reported,
not fatal to the CLI. The child reports what happens as events on a pipe
(``dynalab.runtime.protocol``); ``run_handler`` follows them, within the
task's limits (its load and request timeouts; its memory and CPUs through
cgroups, where this machine lets it make them), and hands each one to a ``show``
callback (the local test and ``predict`` show them their own way), tallied
in a ``Report``. The handler's own output goes to the log file.
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

import dynalab
from dynalab.errors import ConfigError, LocalTestFailed
from dynalab.sizes import parse_size
from dynalab.runtime.model_dir import ModelDirError, prepare_model_dir
from dynalab.isolation.sandbox.cgroups import caps
from dynalab.runtime.protocol import TIMEOUT_HINTS, Event, Reason, SpecError, Stage, iter_events, make_spec, write_spec

LOG_TAIL_LINES = 25


class Timeouts(NamedTuple):
    """Seconds until the handler is loaded (from the start), and per request after that; the memory and
    CPUs its processes get."""

    startup: float
    request: float
    memory: str
    cpus: float

    @classmethod
    def of(cls, definition):
        """The task's limits (``dynalab.tasks.limits``)."""
        from dynalab.tasks.limits import limits_of

        limits = limits_of(definition)
        return cls(limits["load_timeout"], limits["request_timeout"], limits["memory"], float(limits["cpus"]))


class Report:
    """What the child said, tallied event by event (``take``)."""

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
        self.datapoints = []

    @property
    def ok(self):
        return self.finished and not self.error and not self.failed

    def take(self, event):
        kind = event.get("event")
        if kind == Event.START:
            self.total = event.get("total", 0)
            self.batched = bool(event.get("batched"))
        elif kind == Event.DATAPOINT:
            self.datapoints.append(event)
            problems = event.get("problems") or []
            if problems:
                self.failed += 1
                self.hint = self.hint or next((problem["hint"] for problem in problems if problem.get("hint")), None)
            else:
                self.passed += 1
        elif kind == Event.ERROR:
            self.error = event
            self.hint = event.get("hint") or self.hint
        elif kind == Event.DONE:
            self.finished = True

    def summary(self, title, log_path):
        """The one line that says why the run of ``title`` ("Local test") failed."""
        if self.error:
            what = f"{self.error.get('stage', 'handler')}: {self.error.get('message', '').strip()}"
            return f"{title} failed in {what} (full log: {log_path})"
        if self.failed:
            return f"{title} failed: {self.failed} of {self.total} responses are invalid (full log: {log_path})"
        return (f"{title} failed: the handler process stopped before finishing (exit code {self.exit_code}; "
                f"full log: {log_path})")


def run_handler(project, name, config, definition, log_path, show, say=print, title="Local test", examples=None):
    """Run the handler of model ``name`` in a child process on ``examples`` (default: the task's
    mock datapoints); ``show(event, report, say)`` hears each event. Returns the ``Report``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"dynalab-local-{name}-") as tmp:
        model_dir = Path(tmp) / "model"
        try:
            prepare_model_dir(model_dir, str(project.root), config["handler"], config["checkpoint"],
                              config["model_files"], mode="symlink")
        except ModelDirError as error:
            raise ConfigError(f"{project.relative(project.config_path(name))}: {error}") from None
        spec_path = Path(tmp) / "spec.json"
        spec = make_spec(name, definition, project.root, model_dir, config["handler"], config["checkpoint"],
                         config["batched"], 0 if config["gpu"] else None, examples)
        try:
            write_spec(spec_path, spec)
        except SpecError as error:  # the runner would refuse it the same way
            raise LocalTestFailed(f"{title} failed in spec: {error}") from None
        # Tracebacks name the user's files, not their temporary links in the model dir.
        placed = {str(model_dir / Path(entry).name): entry
                  for entry in [config["handler"], config["checkpoint"], *config["model_files"]]}
        with open(log_path, "w", encoding="utf-8") as log:
            return _run_child(spec_path, model_dir, log, lambda line: say(_user_paths(line, placed)), show,
                              Timeouts.of(definition))


def _run_child(spec_path, model_dir, log, say, show, timeouts):
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    with caps(parse_size(timeouts.memory), timeouts.cpus, rlimit=False) as capped:  # where cgroups can be made
        report = _run_capped(capped, spec_path, model_dir, log, say, show, timeouts, read_fd, write_fd, env)
        if capped.hit():
            loading = not (report.passed or report.failed)
            report.error = {"event": Event.ERROR.value, "stage": Stage.LOAD.value if loading else Stage.DATAPOINT.value,
                            "reason": Reason.EXCEPTION.value,
                            "message": f"the handler ran out of memory: the task gives its processes {timeouts.memory}",
                            "hint": "make the model use less memory (the task's `limits.memory`; the model config "
                                    "cannot raise it)"}
            report.hint = report.error["hint"]
    return report


def _run_capped(capped, spec_path, model_dir, log, say, show, timeouts, read_fd, write_fd, env):
    started = time.monotonic()
    try:
        child = subprocess.Popen(
            capped.command([sys.executable, "-m", "dynalab.runtime.local_runner", str(spec_path),
                            "--events-fd", str(write_fd)]),
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
        _follow(events, report, lambda event: show(event, report, say), timeouts, deadline=started + timeouts.startup)
        if report.timed_out:
            child.kill()
    except BaseException:
        child.kill()  # interrupted: the handler must not outlive the test
        raise
    finally:
        report.exit_code = child.wait()
        report.seconds = time.monotonic() - started
        reader.join(timeout=5)  # a process the handler started may still hold the pipe
    if not report.ok:
        log.flush()
        _show_log_tail(log.name, say)
        if report.exit_code and not report.finished and not report.error:
            report.hint = "the handler exited the process (sys.exit/os._exit) or crashed: see the log lines above"
    return report


def _read_events(fd, events):
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as stream:
        for event in iter_events(stream):
            events.put(event)
    events.put(None)


def _follow(events, report, show, timeouts, deadline):
    """Tally and show the child's events until it is done; a stuck load or request ends the run."""
    loaded = False
    while True:
        try:
            event = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            event = _timeout_event(report, loaded, timeouts)
            report.take(event)
            show(event)
            report.timed_out = True
            return
        if event is None:
            return
        report.take(event)
        show(event)
        loaded = loaded or event.get("event") == Event.LOADED
        if loaded:  # each request has its own time
            deadline = time.monotonic() + timeouts.request


def _timeout_event(report, loaded, timeouts):
    """The error event the runner would have sent, had it known it was stuck."""
    if not loaded:
        return {"event": Event.ERROR.value, "stage": Stage.LOAD.value, "reason": Reason.STARTUP_TIMEOUT.value,
                "message": f"the handler was not loaded within the task's load_timeout of {timeouts.startup:g}s",
                "hint": TIMEOUT_HINTS[Reason.STARTUP_TIMEOUT]}
    index = report.passed + report.failed
    what = "the batched call" if report.batched else f"datapoint {index}"
    return {"event": Event.ERROR.value, "stage": Stage.BATCH.value if report.batched else Stage.DATAPOINT.value,
            "reason": Reason.REQUEST_TIMEOUT.value, "index": index,
            "message": f"no answer from the handler within {timeouts.request:g}s ({what})",
            "hint": TIMEOUT_HINTS[Reason.REQUEST_TIMEOUT]}


def show_error(event, say):
    """An ``error`` event: where, what, and the traceback of the user's code."""
    say(f"Error in {event.get('stage', 'handler')}: {event.get('message', '')}")
    if event.get("traceback"):
        say(user_traceback(event["traceback"]))


def problem_lines(problems, indent):
    """The lines of the failed checks ``problems``: field, expected, got, and the hint."""
    lines = []
    for problem in problems:
        lines.append(f"{indent}- `{problem.get('field')}`: expected {problem.get('expected')}, "
                     f"got {short(problem.get('got'), 120)}")
        if problem.get("hint"):
            lines.append(f"{indent}  hint: {problem['hint']}")
    return lines


NOT_USER_CODE = (str(Path(dynalab.__file__).resolve().parent), os.path.dirname(importlib.__file__), "<frozen")


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


def short(value, limit=300):
    """``value`` as JSON text, cut at ``limit`` characters (None: never cut)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _show_log_tail(path, say):
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    if lines:
        say(f"Last lines of the handler's output ({path}):")
        for line in lines[-LOG_TAIL_LINES:]:
            say(f"  | {line}")
