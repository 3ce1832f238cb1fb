"""``dynalab-cli test``: the packaged model, served and probed in an isolated environment.

The archive built by ``dynalab.packaging`` is unpacked into a fresh folder,
the model's ROOTPATH, with only the declared dependencies, confined (see
``dynalab.isolation``: no network; the package, its environment and the
system's libraries only, read-only; the task's memory limit) and within the
task's limits (``dynalab.tasks.limits``). The
model server and the probe run side by side inside that boundary; the probe
sends every mock datapoint over HTTP and checks each response as the local
test does. The whole output goes to the log file; a failure is reported as one
cause with its fix.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from dynalab.errors import IntegratedTestFailed, UsageError
from dynalab.project.schema import BACKENDS
from dynalab.steps.results import Outcome, archive_details

# The backends, their diagnosis and the runtime's protocol are imported when a test runs:
# a cached rerun only says it is skipped.


@dataclass
class IntegratedResult:
    """A passed integrated test: a failed one raises IntegratedTestFailed (its ``diagnosis`` says why)."""

    backend: str
    duration: float
    log_path: Path
    datapoints: int
    isolated: bool = True  # False when the network could not be cut (sandbox on some systems)
    notes: list = field(default_factory=list)

    passed = True  # not a field: a result is only ever returned for a pass


def backend(run):
    """The step's ``prepare``: the backend it runs on (the flag, else the config's), refused at once when unknown."""
    flag = run.flags.backend
    if flag is not None and flag not in BACKENDS:
        raise UsageError(f"unknown backend {flag!r}", hint=f"use --backend {' or --backend '.join(BACKENDS)}")
    return flag or run.model.config["integrated_test"]["backend"]


def run(run):
    """The step's action: the integrated test of ``run.model``'s package on the backend ``prepare`` chose."""
    from dynalab.steps.actions.limit_notes import say_limit_notes

    model, archive, on = run.model, run.result("package").value, run.prepared
    run.out(f"Integrated test of model {model.name!r} on the {on} backend")
    say_limit_notes(model, run.out)
    result = run_integrated_test(model.project.root, model.name, model.config, on, archive,
                                 model.log_path("integrated_test"), out=run.out)
    record = {"archive_sha256": archive.sha256, "backend": on, "isolated": result.isolated}
    return Outcome(details={**archive_details(archive), "backend": on, "isolated": result.isolated,
                            "datapoints": result.datapoints, "log": str(result.log_path)},
                   record=record, value=archive)


def skipped(run, record):
    """The line said, and the details given, when the integrated test is cached."""
    archive = run.result("package").value
    unisolated = "" if record["isolated"] else " WITHOUT network isolation"
    line = (f"Integrated test skipped: package {archive.sha256[:12]} passed on {run.prepared}{unisolated} "
            f"at {record['finished_at']} (--force reruns it)")
    return line, {**archive_details(archive), "backend": record["backend"], "isolated": record["isolated"]}


def run_packaged(project_root, name, config, backend, archive_info, log_path, out=print, examples=None,
                 title="integrated test"):
    """Run the packaged model of ``archive_info`` on ``backend``, its output in ``log_path``; the RunOutcome.

    ``examples`` are sent instead of the task's mock datapoints. A run that
    cannot even start (no Docker, no torch wheel...) raises IntegratedTestFailed.
    """
    from dynalab.isolation.backend import get_backend

    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        log.write(f"{title} of model {name!r} on the {backend} backend\n")
        log.write(f"package {archive_info.path} sha256 {archive_info.sha256}\n")
        log.flush()
        try:
            return get_backend(backend).run(Path(project_root), archive_info, name, config, log, out, examples=examples)
        except IntegratedTestFailed as error:
            log.write(f"\nFAILED: {error}\n{error.hint or ''}\n")
            raise IntegratedTestFailed(str(error), with_log(error.hint, log_path)) from None


def run_integrated_test(project_root, name, config, backend, archive_info, log_path, out=print):
    """Run the packaged model of ``archive_info`` on ``backend`` ("sandbox" or "docker").

    Returns an IntegratedResult when every datapoint passed; raises
    IntegratedTestFailed naming the cause and its fix otherwise.
    """
    from dynalab.runtime.protocol import Event

    started = time.monotonic()
    outcome = run_packaged(project_root, name, config, backend, archive_info, log_path, out)
    duration = time.monotonic() - started
    done = [event for event in outcome.events if event["event"] == Event.DONE]
    total = done[-1].get("total", 0) if done else 0
    if outcome.passed:
        _append(log_path, f"\nPASSED in {duration:.1f}s\n")
        unisolated = "" if outcome.isolated else " WITHOUT network isolation"
        out(f"Integrated test passed on the {backend} backend{unisolated}: {total} of {total} datapoints "
            f"({duration:.1f}s; log {log_path})")
        return IntegratedResult(backend, duration, Path(log_path), total, outcome.isolated, outcome.notes)
    raise failure(outcome, project_root, config, name, backend, log_path, out)


def failure(outcome, project_root, config, name, backend, log_path, out=print):
    """The IntegratedTestFailed of the failed run ``outcome``: its cause and fix; the lines that show it are said."""
    from dynalab.isolation.diagnosis import diagnose

    diagnosis = diagnose(outcome, project_root, config, name)
    _append(log_path, f"\nFAILED: {diagnosis.cause}\nfix: {diagnosis.hint}\n")
    for line in diagnosis.details:
        out(f"  | {line}")
    error = IntegratedTestFailed(f"integrated test failed on the {backend} backend: {diagnosis.cause}",
                                 with_log(diagnosis.hint, log_path))
    error.diagnosis = diagnosis  # for callers and tests that want the parts
    return error


def _append(log_path, text):
    with open(log_path, "a", encoding="utf-8", errors="replace") as log:
        log.write(text)


def with_log(hint, log_path):
    return f"{hint}; full log: {log_path}" if hint else f"full log: {log_path}"
