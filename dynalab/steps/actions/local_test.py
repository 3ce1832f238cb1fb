"""``dynalab-cli test --local``: the handler, in a child process, on every mock input of the task.

Each input's response is checked against the task's output contract; a
failure shows the input, the response and exactly which check failed (field,
expected, got) with its hint. The handler's own output goes to
``.dynalab/<name>/logs/local-test.log``; its last lines are shown on failure.
"""

from dynalab.errors import LocalTestFailed
from dynalab.steps.results import Outcome

# The child process and the runtime's protocol are imported when the test runs:
# a cached rerun only says it is skipped.


def run(run):
    """The step's action: the local test of ``run.model``."""
    from dynalab.steps.actions.limit_notes import say_limit_notes

    model = run.model
    run.out(f"Local test of model {model.name!r} (task {model.config['task']!r})")
    say_limit_notes(model, run.out)
    log_path = model.log_path("local_test")
    report = run_local_test(model.project, model.name, model.config, model.definition, log_path, run.out,
                            entries=model.files)
    return Outcome(details={"datapoints": report.total, "log": str(log_path)})


def skipped(run, record):
    """The line said, and the details given, when the local test is cached."""
    return f"Local test skipped: nothing changed since it passed at {record['finished_at']} (--force reruns it)", {}


def run_local_test(project, name, config, definition, log_path, out=print, entries=None):
    """Run the local test; returns its Report, or raises LocalTestFailed naming what went wrong.

    ``entries`` is the scan of the package's files, for the size warning (scanned here if None).
    """
    from dynalab.packaging.size_check import warn_if_too_big
    from dynalab.steps.actions.handler_process import run_handler

    if entries is None:
        from dynalab.packaging.selection import scan

        entries = scan(project.root, name, config)
    warn_if_too_big(entries, name, out)
    report = run_handler(project, name, config, definition, log_path, show=_show, say=out)
    if not report.ok:
        raise LocalTestFailed(report.summary("Local test", log_path), hint=report.hint)
    out(f"Local test passed ({report.passed} of {report.total} mock inputs, {report.seconds:.1f}s)")
    return report


def _show(event, report, say):
    from dynalab.runtime.protocol import Event
    from dynalab.steps.actions.handler_process import show_error

    kind = event.get("event")
    if kind == Event.START:
        say(f"Loading the handler; {report.total} mock inputs to check")
    elif kind == Event.LOADED:
        say("Handler loaded")
    elif kind == Event.DATAPOINT:
        _show_datapoint(event, report, say)
    elif kind == Event.ERROR:
        show_error(event, say)


def _show_datapoint(event, report, say):
    from dynalab.steps.actions.handler_process import problem_lines, short

    index, total = event.get("index", 0) + 1, event.get("total", report.total)
    problems = event.get("problems") or []
    if not problems:
        say(f"  [{index}/{total}] ok")
        return
    say(f"  [{index}/{total}] FAILED")
    say(f"    input:    {short(event.get('input'))}")
    say(f"    response: {short(event.get('response'))}")
    for line in problem_lines(problems, indent="    "):
        say(line)
