"""Run a handler on the task's mock datapoints in this process and report events.

    python -m dynalab.runtime.local_runner SPEC [--events-fd N]

SPEC is a run spec (see ``dynalab.runtime.protocol``). As a TorchServe worker
would, this imports the handler from the model dir, calls ``handle(None,
context)`` once to load the model, then ``handle([{"body": example}],
context)`` for each mock datapoint, or each example the spec names (batched
mode: once, with every example as one JSON line of a single body). Events go to file descriptor N as JSON lines
(default: stdout); the handler's own prints go to stdout and stderr.

Exit status: 0 if every datapoint passed, 1 if any failed, 2 if the spec is
unusable. A run that ends without a ``done`` event was cut short by the
handler (``os._exit``, a crash, a kill).
"""

import argparse
import os
import sys
import time
import traceback

from dynalab.runtime import checks, hints, loader
from dynalab.runtime.context import context_from_spec
from dynalab.runtime.protocol import Event, Reason, SpecError, Stage, emit, examples_of, load_spec
from dynalab.tasks.task_io import TaskIO


class _StageFailed(Exception):
    """A stage failed and was reported."""


class _Exited(Exception):
    """The handler called sys.exit(): reported, and the run cannot go on."""


class Runner:
    """One run: the handler, its context, the events stream and the tally."""

    def __init__(self, spec, events):
        self.spec = spec
        self.events = events
        self.tally = checks.Tally(self.emit)

    def emit(self, kind, **fields):
        emit(self.events, kind, **fields)

    def run(self, spec_path):
        """Import, load, run the datapoints; returns the exit status."""
        try:
            loader.enter_model_dir(self.spec, spec_path)
            taskio = TaskIO.from_definition(self.spec["task"], source=f"task of run spec {spec_path}")
        except (OSError, ValueError, LookupError) as error:
            self.emit(Event.ERROR, stage=Stage.SPEC, reason=Reason.BAD_SPEC, message=str(error), traceback="")
            return 2
        examples = examples_of(self.spec, taskio)
        total = len(examples)
        self.emit(Event.START, model_name=self.spec["model_name"], total=total, batched=self.spec["batched"])
        try:
            handle = self._stage(Stage.IMPORT, loader.import_handler, self.spec)
            context = context_from_spec(self.spec)
            started = time.monotonic()
            self._stage(Stage.LOAD, handle, None, context)
            self.emit(Event.LOADED, seconds=round(time.monotonic() - started, 3))
            if self.spec["batched"]:
                self._run_batch(handle, context, taskio, examples)
            else:
                for index, example in enumerate(examples):
                    self._run_one(handle, context, taskio, index, example, total)
        except _Exited:
            return 1  # no `done`: the handler ended the run, as it would end a worker
        except _StageFailed:
            self.tally.failed = total - self.tally.passed
        return self.tally.done(total)

    def _run_one(self, handle, context, taskio, index, example, total):
        context.start_request(headers={"content-type": "application/json"})
        started = time.monotonic()
        try:
            result = self._stage(Stage.DATAPOINT, handle, [{"body": example}], context, index=index)
        except _StageFailed:
            self.tally.failed += 1
            return
        response, problems = checks.judge_handler_result(result, example, taskio)
        self.tally.datapoint(index, total, example, response, problems, time.monotonic() - started)

    def _run_batch(self, handle, context, taskio, examples):
        context.start_request(headers={"content-type": "text/plain; charset=utf-8"})
        started = time.monotonic()
        try:
            result = self._stage(Stage.BATCH, handle, [{"body": checks.batch_body(examples)}], context)
        except _StageFailed:
            self.tally.failed = len(examples)
            return
        seconds = time.monotonic() - started
        self.tally.batch(examples, checks.judge_batch_handler_result(result, examples, taskio), seconds)

    def _stage(self, stage, function, *args, index=None):
        """``function(*args)``; a failure becomes an ``error`` event (and _StageFailed / _Exited)."""
        where = {"index": index} if index is not None else {}
        try:
            return function(*args)
        except SystemExit as exc:
            self.emit(
                Event.ERROR, stage=stage, reason=Reason.EXIT, **where,
                message=f"the handler called sys.exit({exc.code!r}) during {_describe(stage, index)}",
                traceback=traceback.format_exc(),
                hint="a handler must return a response or raise an exception, never exit the process",
            )
            raise _Exited() from None
        except loader.HandlerLoadError as exc:
            self.emit(Event.ERROR, stage=stage, reason=Reason.EXCEPTION, message=str(exc),
                      traceback="", hint=exc.hint)
            raise _StageFailed() from None
        except Exception as exc:
            hint = hints.failure_hint(exc, stage.value, self.spec)
            self.emit(
                Event.ERROR, stage=stage, reason=Reason.EXCEPTION, **where,
                message=f"{type(exc).__name__}: {exc} (during {_describe(stage, index)})",
                traceback=traceback.format_exc(), **({"hint": hint} if hint else {}),
            )
            raise _StageFailed() from None


def _describe(stage, index):
    return {
        Stage.IMPORT: "the import of the handler",
        Stage.LOAD: "handle(None, context), the model load",
        Stage.DATAPOINT: f"datapoint {index}",
        Stage.BATCH: "the batched call",
    }.get(stage, str(stage))


def _events_stream(fd):
    if fd is None:
        return sys.stdout
    # Line-buffered and never closed by us: the host reads it until we exit.
    return os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dynalab.runtime.local_runner", description=__doc__.split("\n")[0])
    parser.add_argument("spec", help="run spec JSON file")
    parser.add_argument("--events-fd", type=int, default=None, help="file descriptor for the events (default: stdout)")
    args = parser.parse_args(argv)
    events = _events_stream(args.events_fd)
    try:
        spec = load_spec(args.spec)
    except SpecError as error:
        emit(events, Event.ERROR, stage=Stage.SPEC, reason=Reason.BAD_SPEC, message=str(error), traceback="")
        return 2
    return Runner(spec, events).run(args.spec)


if __name__ == "__main__":
    sys.exit(main())
