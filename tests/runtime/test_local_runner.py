"""The local runner as the host runs it: a real process, events on an inherited pipe."""

import json

import pytest

from runtime_support import dump, kinds, of_kind, run_local


def test_a_good_handler_passes_every_datapoint(runtime_spec):
    result = run_local(runtime_spec("good_nli"))

    assert result.returncode == 0, dump(result)
    assert kinds(result.events) == ["start", "loaded", "datapoint", "datapoint", "datapoint", "done"]
    assert result.events[0]["total"] == 3 and result.events[0]["batched"] is False
    for index, event in enumerate(of_kind(result.events, "datapoint")):
        assert event["index"] == index and event["problems"] == []
        assert event["response"]["id"] == event["input"]["uid"]
    assert result.events[-1] == {"event": "done", "passed": 3, "failed": 0, "total": 3}
    # The handler's prints stay on stdout, apart from the events.
    assert result.stdout.count("handling ") == 3


def test_a_bad_label_fails_with_the_problem_named(runtime_spec):
    result = run_local(runtime_spec("bad-label", checkpoint="model.pt"))

    assert result.returncode == 1
    datapoints = of_kind(result.events, "datapoint")
    assert len(datapoints) == 3
    problem = next(p for p in datapoints[0]["problems"] if p["field"] == "label")
    assert "entailed" in problem["expected"] and "maybe" in problem["got"]
    assert set(problem) == {"field", "expected", "got", "hint"}
    assert result.events[-1] == {"event": "done", "passed": 0, "failed": 3, "total": 3}


def test_a_failing_load_is_reported_with_its_traceback(runtime_spec):
    result = run_local(runtime_spec("init_raises"))

    assert result.returncode == 1
    assert kinds(result.events) == ["start", "error", "done"]
    error = result.events[1]
    assert (error["stage"], error["reason"]) == ("load", "exception")
    assert "RuntimeError: cannot load weights" in error["message"]
    assert 'handler.py", line' in error["traceback"]
    assert "handle(None, context)" in error["hint"]
    assert result.events[-1] == {"event": "done", "passed": 0, "failed": 3, "total": 3}


def test_sys_exit_in_the_handler_is_reported_and_ends_the_run_without_done(runtime_spec):
    result = run_local(runtime_spec("exits"))

    assert result.returncode == 1
    assert kinds(result.events) == ["start", "loaded", "error"]
    error = result.events[-1]
    assert (error["stage"], error["index"], error["reason"]) == ("datapoint", 0, "exit")
    assert "sys.exit(3)" in error["message"]


def test_os_exit_in_the_handler_leaves_no_done_event(runtime_spec):
    result = run_local(runtime_spec("exits"), env={"EXIT_HOW": "os._exit"})

    assert result.returncode == 3
    assert kinds(result.events) == ["start", "loaded"]


def test_a_handler_without_handle_gets_a_clear_error(runtime_spec):
    result = run_local(runtime_spec("no_handle"))

    assert result.returncode == 1
    error = of_kind(result.events, "error")[0]
    assert error["stage"] == "import"
    assert "defines no function handle(data, context)" in error["message"]
    assert result.events[-1]["event"] == "done"


def test_a_missing_module_names_the_module_and_the_fix(runtime_spec):
    result = run_local(runtime_spec("missing_module"))

    error = of_kind(result.events, "error")[0]
    assert error["stage"] == "import"
    assert "my_tokenizer" in error["message"]
    assert "requirements.txt" in error["hint"] and "model_files" in error["hint"]


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_model_files_by_bare_name_and_project_files_through_rootpath(runtime_spec, mode):
    spec = runtime_spec("rootpath_files", model_files=["lib/labels.py", "configs/config.json"], mode=mode)
    result = run_local(spec)

    assert result.returncode == 0, dump(result)
    assert [event["response"]["label"] for event in of_kind(result.events, "datapoint")] == ["neutral"] * 3


def test_the_task_definition_is_written_next_to_the_spec(runtime_spec):
    spec = runtime_spec("good_nli")
    run_local(spec)
    written = json.loads((spec.parent / "spec.task.json").read_text())
    assert written["task"] == "nli" and "config" in written


def test_batched_mode_sends_one_body_of_json_lines(runtime_spec):
    result = run_local(runtime_spec("batched-nli", checkpoint="model.pt", batched=True))

    assert result.returncode == 0, dump(result)
    assert kinds(result.events) == ["start", "loaded", "datapoint", "datapoint", "datapoint", "done"]
    assert result.events[0]["batched"] is True


def test_a_non_batched_handler_in_batched_mode_fails(runtime_spec):
    result = run_local(runtime_spec("good_nli", batched=True))

    assert result.returncode == 1
    assert of_kind(result.events, "error")[0]["stage"] == "batch"
    assert result.events[-1]["failed"] == 3


def test_a_real_torch_model_loads_and_answers(runtime_spec, torch):
    torch.manual_seed(0)
    spec = runtime_spec(
        "torch_nli", checkpoint="model.pt",
        prepare=lambda root: torch.save(torch.nn.Linear(26, 3).state_dict(), root / "model.pt"),
    )

    result = run_local(spec)

    assert result.returncode == 0, dump(result)
    assert all(event["response"]["label"] for event in of_kind(result.events, "datapoint"))


def test_an_unusable_spec_exits_2_with_an_error_event(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    result = run_local(spec)

    assert result.returncode == 2
    assert [(e["stage"], e["reason"]) for e in result.events] == [("spec", "bad_spec")]


def test_a_malformed_task_definition_in_the_spec_exits_2(runtime_spec):
    spec_path = runtime_spec("good_nli")
    spec = json.loads(spec_path.read_text())
    spec["task"]["config"]["output"] = [{"name": "label", "type": "no-such-type"}]
    spec_path.write_text(json.dumps(spec))

    result = run_local(spec_path)

    assert result.returncode == 2
    assert [(e["stage"], e["reason"]) for e in result.events] == [("spec", "bad_spec")]
    assert "no-such-type" in result.events[0]["message"]
