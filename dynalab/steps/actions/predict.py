"""``dynalab-cli predict``: the handler on your own example, and what the task's checks say of its response.

The quickest loop while writing a handler: ``--input`` gives one example (a
JSON object of the task's inputs; a ``uid`` is added when it has none),
``--input-file`` a file of them (one JSON object, or JSON lines). Each runs
once through the handler in the local runner (as the local test does), or
with ``--integrated`` in the packaged, isolated environment of the
integrated test, and the response is printed with "checks passed" or the
check that failed and its hint.
"""

import json
import uuid
from pathlib import Path
from types import SimpleNamespace

from dynalab.errors import IntegratedTestFailed, LocalTestFailed, UsageError
from dynalab.runtime.protocol import Event
from dynalab.steps.actions.handler_process import problem_lines, run_handler, short, show_error
from dynalab.steps.results import Outcome
from dynalab.tasks.task_io import TaskIO


def examples(run):
    """The step's ``prepare``: the examples to send, checked against the task's inputs, and the backend
    (``--integrated``); a bad input is refused before anything is packaged."""
    flags, model = run.flags, run.model
    if (flags.input is None) == (flags.input_file is None):
        raise UsageError("predict needs one example: --input JSON, or --input-file FILE",
                         hint=f"e.g. dynalab-cli predict -n {model.name} --input '{_sample(model)}'")
    if flags.input is not None:
        found = [(_parse(flags.input, "--input"), "--input")]
    else:
        found = _read_file(Path(flags.input_file))
    taskio = TaskIO.from_definition(model.definition, source=model.source)
    checked = [_checked(example, where, taskio, model) for example, where in found]
    backend = None
    if flags.integrated:
        from dynalab.steps.actions.integrated_test import backend as chosen_backend

        backend = chosen_backend(run)
    return SimpleNamespace(examples=checked, backend=backend)


def run(run):
    """The step's action: one prediction per example, shown with the result of the task's checks."""
    model, chosen = run.model, run.prepared
    count = len(chosen.examples)
    where = f"packaged, on the {chosen.backend} backend" if chosen.backend else "in your environment"
    run.out(f"Predicting with model {model.name!r} (task {model.config['task']!r}) on {count} "
            f"input{'s' if count != 1 else ''}, {where}")
    log_path = model.log_path("predict")
    if chosen.backend:
        datapoints = _in_isolation(run, chosen, log_path)
        failed_class = IntegratedTestFailed
    else:
        datapoints = _locally(run, chosen, log_path)
        failed_class = LocalTestFailed
    predictions = [{"input": event.get("input"), "response": event.get("response"),
                    "problems": event.get("problems") or [], "passed": not event.get("problems")}
                   for event in datapoints]
    details = {"runner": chosen.backend or "local", "predictions": predictions, "log": str(log_path)}
    failed = [prediction for prediction in predictions if not prediction["passed"]]
    if failed:
        hint = next((problem["hint"] for prediction in failed for problem in prediction["problems"] if problem.get("hint")),
                    None)
        error = failed_class(f"predict: {len(failed)} of {len(predictions)} responses fail the task's checks "
                             f"(full log: {log_path})", hint=hint)
        error.details = details  # --json shows the predictions of a failed run too
        raise error
    return Outcome(details=details)


def _locally(run, chosen, log_path):
    model = run.model
    report = run_handler(model.project, model.name, model.config, model.definition, log_path, show=_show,
                         say=run.out, title="Predict", examples=chosen.examples)
    if report.error or not report.finished:
        raise LocalTestFailed(report.summary("Predict", log_path), hint=report.hint)
    return report.datapoints


def _in_isolation(run, chosen, log_path):
    from dynalab.steps.actions.integrated_test import failure, run_packaged

    model, archive = run.model, run.result("package").value
    outcome = run_packaged(model.project.root, model.name, model.config, chosen.backend, archive, log_path, run.out,
                           examples=chosen.examples, title="predict")
    datapoints = [event for event in outcome.events if event["event"] == Event.DATAPOINT]
    for event in datapoints:
        _show_datapoint(event, run.out)
    if len(datapoints) < len(chosen.examples):  # the model failed before it answered every example
        raise failure(outcome, model.project.root, model.config, model.name, chosen.backend, log_path, run.out)
    return datapoints


def _show(event, report, say):
    kind = event.get("event")
    if kind == Event.LOADED:
        say("Handler loaded")
    elif kind == Event.DATAPOINT:
        _show_datapoint(event, say)
    elif kind == Event.ERROR:
        show_error(event, say)


def _show_datapoint(event, say):
    say(f"Input {event.get('index', 0) + 1} of {event.get('total')}: {short(event.get('input'), None)}")
    say(f"  response: {short(event.get('response'), None)}")
    problems = event.get("problems") or []
    if not problems:
        say("  checks passed")
        return
    say("  checks failed:")
    for line in problem_lines(problems, indent="    "):
        say(line)


def _parse(text, where):
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{where}: not valid JSON ({error})", hint="give one JSON object, e.g. '{\"statement\": \"...\"}'")
    if not isinstance(value, dict):
        raise UsageError(f"{where}: expected a JSON object of the task's inputs, got {type(value).__name__}",
                         hint="give one JSON object, e.g. '{\"statement\": \"...\"}'")
    return value


def _read_file(path):
    """[(example, where)] of the file: one JSON object, or JSON lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--input-file {path}: cannot read it ({getattr(error, 'strerror', None) or error})",
                         hint="give a file of JSON lines, one example a line")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [(whole, f"--input-file {path}")]
    found = [(_parse(line, f"--input-file {path} line {number}"), f"--input-file {path} line {number}")
             for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not found:
        raise UsageError(f"--input-file {path}: holds no example", hint="give a file of JSON lines, one example a line")
    return found


def _checked(example, where, taskio, model):
    """``example`` with a uid, once it holds every input of the task and nothing else."""
    inputs = taskio.input_names
    missing = [name for name in inputs if name not in example]
    unknown = [name for name in example if name not in inputs and name != "uid"]
    if missing or unknown:
        problems = ([f"lacks {', '.join(repr(name) for name in missing)}"] if missing else []) + \
                   ([f"has no use for {', '.join(repr(name) for name in unknown)}"] if unknown else [])
        raise UsageError(f"{where}: the example {' and '.join(problems)}; task {taskio.task_code!r} takes "
                         f"{', '.join(inputs)}", hint=f"e.g. --input '{_sample(model)}'")
    return {"uid": str(example.get("uid") or uuid.uuid4()), **{name: example[name] for name in inputs}}


def _sample(model):
    """A JSON example of the model's task's inputs (its first mock datapoint, without the uid)."""
    sample = TaskIO.from_definition(model.definition).get_input_json()
    sample.pop("uid", None)
    return json.dumps(sample, ensure_ascii=False)
