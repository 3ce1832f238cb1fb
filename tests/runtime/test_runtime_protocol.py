"""Events, health states and run specs: the contract between the runtime and its host."""

import io
import json

import pytest

from dynalab.runtime.protocol import Event, Health, SpecError, emit, load_spec, read_events, write_spec
from dynalab.tasks.registry import load_builtin


def test_an_emitted_event_is_one_flushed_json_line_that_reads_back():
    stream = io.StringIO()
    emit(stream, Event.DATAPOINT, index=0, problems=[], response={"label": "é"})
    emit(stream, "done", passed=1, failed=0, total=1)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert read_events(lines) == [
        {"event": "datapoint", "index": 0, "problems": [], "response": {"label": "é"}},
        {"event": "done", "passed": 1, "failed": 0, "total": 1},
    ]


def test_values_json_cannot_encode_are_written_as_their_repr():
    stream = io.StringIO()
    emit(stream, Event.DATAPOINT, response={"prob": {1, 2}})
    assert json.loads(stream.getvalue())["response"] == {"prob": "{1, 2}"}


def test_unknown_event_kinds_are_refused():
    with pytest.raises(ValueError, match="unknown event kind"):
        emit(io.StringIO(), "finished")


def test_lines_that_are_not_events_become_log_events():
    lines = [b"Loading weights...\n", '{"event": "loaded", "seconds": 1}\n', "\n", '{"not": "an event"}', "[1, 2]"]
    assert read_events(lines) == [
        {"event": "log", "line": "Loading weights..."},
        {"event": "loaded", "seconds": 1},
        {"event": "log", "line": '{"not": "an event"}'},
        {"event": "log", "line": "[1, 2]"},
    ]


def test_health_states_carry_their_ping_status_and_body():
    assert (Health.READY.http_status, Health.READY.body()) == (200, {"status": "Healthy"})
    assert (Health.STARTING.http_status, Health.STARTING.body()) == (503, {"status": "Starting"})
    failed = Health.FAILED.body(error="boom", traceback="Traceback ...")
    assert Health.FAILED.http_status == 500
    assert failed == {"status": "Unhealthy", "error": "boom", "traceback": "Traceback ..."}
    assert Health.from_ping(failed) is Health.FAILED
    assert Health.from_ping({"status": "Meh"}) is None
    assert Health.from_ping("Healthy") is None


def _spec(tmp_path, **changes):
    spec = {
        "model_name": "m", "task": load_builtin("nli"), "rootpath": str(tmp_path),
        "model_dir": str(tmp_path / "md"), "handler": "handler.py",
    }
    spec.update(changes)
    return spec


def test_a_spec_round_trips_with_defaults_filled_in(tmp_path):
    written = write_spec(tmp_path / "spec.json", _spec(tmp_path))
    loaded = load_spec(tmp_path / "spec.json")
    assert loaded == written
    assert loaded["batched"] is False and loaded["gpu_id"] is None and loaded["batch_size"] == 1
    assert loaded["serialized_file"] is None


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model_name": None}, "'model_name' has the wrong type"),
        ({"rootpath": "relative/root"}, "'rootpath' must be an absolute path"),
        ({"handler": "src/handler.py"}, "'handler' must be a .py file name"),
        ({"gpu_id": True}, "'gpu_id' has the wrong type"),
        ({"task": {"task": "nli"}}, "'task' must be a task definition"),
        ({"batch_size": 0}, "'batch_size' must be at least 1"),
        ({"checkpoint": "model.pt"}, "unknown field"),
    ],
)
def test_a_bad_spec_field_is_named(tmp_path, changes, message):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(tmp_path, **changes)))
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_a_missing_field_or_file_or_bad_json_is_a_spec_error(tmp_path):
    spec = _spec(tmp_path)
    del spec["handler"]
    (tmp_path / "a.json").write_text(json.dumps(spec))
    with pytest.raises(SpecError, match="missing field 'handler'"):
        load_spec(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{nope")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(tmp_path / "b.json")
    with pytest.raises(SpecError, match="cannot read run spec"):
        load_spec(tmp_path / "absent.json")
