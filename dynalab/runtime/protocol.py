"""What the runtime processes say to their host: run specs, health states, events.

Defined once here and imported by both sides (the host that starts a runner,
server or probe, and the runtime modules themselves), so the two never drift.

Events are JSON lines ``{"event": <kind>, ...fields}``:

- ``start``     {model_name, total, batched[, url]}
- ``loaded``    {seconds[, url]}                the handler is initialised
- ``datapoint`` {index, total, input, response, problems: [{field, expected, got, hint}], seconds}
- ``error``     {stage, reason, message, traceback[, index, hint, status]}
- ``done``      {passed, failed, total}         always the last event of a finished run
- ``log``       {line}                          only made by ``read_events`` for non-event lines
"""

import enum
import json
import os

from dynalab.runtime.model_dir import placed_name


class Health(enum.Enum):
    """The states of a model server, as ``GET /ping`` reports them."""

    STARTING = (503, "Starting")
    READY = (200, "Healthy")
    FAILED = (500, "Unhealthy")

    @property
    def http_status(self):
        return self.value[0]

    @property
    def status(self):
        return self.value[1]

    def body(self, **extra):
        """The JSON body of ``/ping`` in this state (FAILED adds error and traceback)."""
        return {"status": self.status, **extra}

    @classmethod
    def from_ping(cls, body):
        """The state a ``/ping`` body describes, or None if it is not one of ours."""
        status = body.get("status") if isinstance(body, dict) else None
        for health in cls:
            if health.status == status:
                return health
        return None


class Event(str, enum.Enum):
    """Kinds of events; the ``event`` field of every event line."""

    START = "start"
    LOADED = "loaded"
    DATAPOINT = "datapoint"
    ERROR = "error"
    DONE = "done"
    LOG = "log"


class Stage(str, enum.Enum):
    """Where an ``error`` event happened (its ``stage`` field)."""

    SPEC = "spec"  # the run spec could not be read
    IMPORT = "import"  # importing the handler module
    LOAD = "load"  # handle(None, context): the model loads
    STARTUP = "startup"  # waiting for the server to become healthy
    DATAPOINT = "datapoint"  # one mock datapoint (field ``index``)
    BATCH = "batch"  # the single call of batched mode


class Reason(str, enum.Enum):
    """Why an ``error`` event happened (its ``reason`` field)."""

    EXCEPTION = "exception"  # the handler raised
    EXIT = "exit"  # the handler called sys.exit()
    BAD_SPEC = "bad_spec"
    STARTUP_TIMEOUT = "startup_timeout"
    INIT_FAILED = "init_failed"  # the server reports the handler failed to load
    REQUEST_TIMEOUT = "request_timeout"
    HTTP_ERROR = "http_error"  # the server answered with an error status
    CONNECTION_REFUSED = "connection_refused"


TIMEOUT_HINTS = {
    Reason.STARTUP_TIMEOUT: "make the model load within the task's load_timeout (the task's `limits`, which the model "
                            "config cannot raise): load less at start, or a smaller checkpoint",
    Reason.REQUEST_TIMEOUT: "make one prediction finish within the task's request_timeout (the task's `limits`, which "
                            "the model config cannot raise)",
}
"""What to do about a timeout, in the local and in the integrated test alike."""

_KINDS = {kind.value for kind in Event}


def _jsonable(value):
    # Responses may hold values json cannot encode (tensors, numpy floats):
    # an event must still be written, so show them as their repr.
    return repr(value)


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


def emit(stream, kind, **fields):
    """Write one event as a JSON line on ``stream`` and flush it."""
    kind = _plain(kind)
    if kind not in _KINDS:
        raise ValueError(f"unknown event kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
    event = {"event": kind, **{key: _plain(value) for key, value in fields.items()}}
    stream.write(json.dumps(event, default=_jsonable, ensure_ascii=False) + "\n")
    stream.flush()
    return event


def iter_events(lines):
    """Yield the events in ``lines`` (str or bytes); any other line becomes a ``log`` event."""
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict) and event.get("event") in _KINDS:
            yield event
        else:
            yield {"event": Event.LOG.value, "line": line}


def read_events(lines):
    """The list of events in ``lines``; see ``iter_events``."""
    return list(iter_events(lines))


# ---------------------------------------------------------------- run spec

class SpecError(ValueError):
    """Raised when a run spec file is missing, not JSON, or has a bad field."""


# field: (types allowed, default or _REQUIRED)
_REQUIRED = object()
_SPEC_FIELDS = {
    "model_name": (str, _REQUIRED),
    "task": (dict, _REQUIRED),
    "rootpath": (str, _REQUIRED),
    "model_dir": (str, _REQUIRED),
    "handler": (str, _REQUIRED),
    "serialized_file": ((str, type(None)), None),
    "batched": (bool, False),
    "gpu_id": ((int, type(None)), None),
    "batch_size": (int, 1),
    "examples": ((list, type(None)), None),  # the inputs to send instead of the task's mock datapoints
}


def make_spec(model_name, task, rootpath, model_dir, handler, serialized_file, batched, gpu_id, examples=None):
    """The run spec of a model: ``handler`` and ``serialized_file`` are paths as the config
    gives them (relative to the project root); the spec names them as the model dir holds
    them, by bare name. ``examples`` (a list of example dicts) replaces the task's mock
    datapoints (``dynalab-cli predict``). Write it with ``write_spec``, which validates it."""
    return {
        "model_name": model_name,
        "task": task,
        "rootpath": str(rootpath),
        "model_dir": str(model_dir),
        "handler": placed_name(handler),
        "serialized_file": placed_name(serialized_file) if serialized_file else None,
        "batched": batched,
        "gpu_id": gpu_id,
        "batch_size": 1,
        "examples": examples,
    }


def examples_of(spec, taskio):
    """The examples a run sends to the handler: the spec's own, else the task's mock datapoints."""
    return spec["examples"] if spec["examples"] is not None else taskio.mock_datapoints


def validate_spec(spec, source="run spec"):
    """``spec`` with defaults filled in; raises SpecError naming the bad field."""
    if not isinstance(spec, dict):
        raise SpecError(f"{source}: expected a JSON object, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(_SPEC_FIELDS))
    if unknown:
        raise SpecError(f"{source}: unknown field(s) {', '.join(unknown)}")
    result = {}
    for name, (types, default) in _SPEC_FIELDS.items():
        if name not in spec:
            if default is _REQUIRED:
                raise SpecError(f"{source}: missing field {name!r}")
            result[name] = default
            continue
        value = spec[name]
        # bool is an int subclass: a gpu_id of True is a mistake, not GPU 1.
        if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
            raise SpecError(f"{source}: field {name!r} has the wrong type ({type(value).__name__})")
        result[name] = value
    for name in ("rootpath", "model_dir"):
        if not os.path.isabs(result[name]):
            raise SpecError(f"{source}: field {name!r} must be an absolute path, got {result[name]!r}")
    if os.path.basename(result["handler"]) != result["handler"] or not result["handler"].endswith(".py"):
        raise SpecError(f"{source}: field 'handler' must be a .py file name inside model_dir, got {result['handler']!r}")
    task = result["task"]
    if not isinstance(task.get("task"), str) or not isinstance(task.get("config"), dict):
        raise SpecError(f"{source}: field 'task' must be a task definition {{\"task\": code, \"config\": {{...}}}}")
    if result["batch_size"] < 1:
        raise SpecError(f"{source}: field 'batch_size' must be at least 1")
    examples = result["examples"]
    if examples is not None and (not examples or not all(isinstance(example, dict) for example in examples)):
        raise SpecError(f"{source}: field 'examples' must be a non-empty list of example objects")
    return result


def load_spec(path):
    """Read and validate the run spec JSON file at ``path``."""
    try:
        with open(path, encoding="utf-8") as file:
            spec = json.load(file)
    except OSError as error:
        raise SpecError(f"cannot read run spec {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise SpecError(f"run spec {path} is not valid JSON: {error}") from None
    return validate_spec(spec, source=f"run spec {path}")


def write_spec(path, spec):
    """Validate ``spec`` and write it as JSON to ``path``; returns the validated spec."""
    spec = validate_spec(spec)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(spec, file, indent=2)
        file.write("\n")
    return spec
