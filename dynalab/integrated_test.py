"""The integrated test: the packaged model, served and probed in an isolated environment.

The archive built by ``dynalab.packaging`` is unpacked into a fresh folder,
the model's ROOTPATH, with only the declared dependencies and no network (see
``dynalab.isolation``; a docker container holds nothing else of this machine,
while the sandbox still lets absolute paths reach this machine's files). The
model server and the probe run side by side inside that boundary; the probe
sends every mock datapoint over HTTP and checks each response as the local
test does. The whole output goes to the log file; a failure is reported as one
cause with its fix.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation import get_backend
from dynalab.isolation.diagnosis import diagnose


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


def run_integrated_test(project_root, name, config, backend, archive_info, log_path, out=print):
    """Run the packaged model of ``archive_info`` on ``backend`` ("sandbox" or "docker").

    Returns an IntegratedResult when every datapoint passed; raises
    IntegratedTestFailed naming the cause and its fix otherwise.
    """
    started = time.monotonic()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8", errors="replace") as log:
        log.write(f"integrated test of model {name!r} on the {backend} backend\n")
        log.write(f"package {archive_info.path} sha256 {archive_info.sha256}\n")
        log.flush()
        try:
            outcome = get_backend(backend).run(Path(project_root), archive_info, name, config, log, out)
        except IntegratedTestFailed as error:
            log.write(f"\nFAILED: {error}\n{error.hint or ''}\n")
            raise IntegratedTestFailed(str(error), _with_log(error.hint, log_path)) from None
        duration = time.monotonic() - started
        events = outcome.events
        done = [event for event in events if event["event"] == "done"]
        total = done[-1].get("total", 0) if done else 0
        if outcome.passed:
            log.write(f"\nPASSED in {duration:.1f}s\n")
            unisolated = "" if outcome.isolated else " WITHOUT network isolation"
            out(f"Integrated test passed on the {backend} backend{unisolated}: {total} of {total} datapoints "
                f"({duration:.1f}s; log {log_path})")
            return IntegratedResult(backend, duration, log_path, total, outcome.isolated, outcome.notes)

        diagnosis = diagnose(outcome, project_root, config, name)
        log.write(f"\nFAILED: {diagnosis.cause}\nfix: {diagnosis.hint}\n")
    for line in diagnosis.details:
        out(f"  | {line}")
    failure = IntegratedTestFailed(
        f"integrated test failed on the {backend} backend: {diagnosis.cause}",
        _with_log(diagnosis.hint, log_path),
    )
    failure.diagnosis = diagnosis  # for callers and tests that want the parts
    raise failure


def _with_log(hint, log_path):
    return f"{hint}; full log: {log_path}" if hint else f"full log: {log_path}"
