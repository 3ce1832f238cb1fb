"""Diagnosis of a failed run, from what a run leaves behind (no process needed)."""

import json

import pytest

from dynalab.isolation.diagnosis import diagnose
from dynalab.isolation.outcome import RunOutcome

ROOT, MODEL = "/sandbox/root", "/sandbox/model"
CONFIG = {"task": "nli", "exclude": ["data"], "requirements": False, "integrated_test": {}}


def outcome(*server_lines, events=(), exit_code=1, **fields):
    run = RunOutcome("sandbox", exit_code=exit_code, rootpath=ROOT, model_dir=MODEL, **fields)
    for line in server_lines:
        run.add_line(line if line.startswith("launcher| ") else "server| " + line)
    for event in events:
        run.add_line("probe| " + json.dumps(event))
    return run


def load_failure(traceback):
    message = traceback.strip().splitlines()[-1]
    return {"event": "error", "stage": "load", "reason": "init_failed", "message": message, "traceback": traceback}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "vocab.txt").write_text("a b c")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "my_model.py").write_text("")
    (tmp_path / ".dynalab").mkdir()
    (tmp_path / ".dynalab" / "notes.txt").write_text("")
    return tmp_path


def test_missing_module_names_the_distribution_and_requirements(project):
    run = outcome(events=[load_failure("Traceback ...\nModuleNotFoundError: No module named 'sklearn.linear_model'")])
    found = diagnose(run, project, CONFIG)
    assert "'sklearn'" in found.cause
    assert found.hint == "add scikit-learn to requirements.txt, then run `dynalab-cli init -n NAME --amend -r` (sets `requirements: true`)"


def test_missing_module_already_declared_drops_the_config_advice(project):
    run = outcome(events=[load_failure("ModuleNotFoundError: No module named 'foo'")])
    assert diagnose(run, project, {**CONFIG, "requirements": True}).hint == "add foo to requirements.txt"


def test_missing_module_of_the_project_points_at_model_files(project):
    run = outcome(events=[load_failure("ModuleNotFoundError: No module named 'my_model'")])
    found = diagnose(run, project, CONFIG)
    assert "src/my_model.py" in found.cause and "model_files" in found.hint


@pytest.mark.parametrize(
    "path, expected",
    [
        (f"{ROOT}/data/vocab.txt", "`exclude` entry 'data'"),
        ("vocab.txt", "data/vocab.txt is left out of the package by `exclude` entry 'data'"),
        (f"{ROOT}/.dynalab/notes.txt", "never packaged"),
        (f"{ROOT}/weights/big.bin", "never in the project"),
        ("/home/someone/weights.bin", "outside the package"),
    ],
)
def test_missing_file_says_why_it_is_missing(project, path, expected):
    line = f"FileNotFoundError: [Errno 2] No such file or directory: '{path}'"
    found = diagnose(outcome(events=[load_failure(line)]), project, CONFIG)
    assert expected in found.cause


@pytest.mark.parametrize(
    "line",
    [
        "urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>",
        "socket.gaierror: [Errno -2] Name or service not known",
        "OSError: [Errno 101] Network is unreachable",
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='hub.example', port=443): Max retries exceeded",
    ],
)
def test_network_errors_say_there_is_no_network(project, line):
    found = diagnose(outcome(events=[load_failure(f"Traceback ...\n{line}")]), project, CONFIG)
    assert "network" in found.cause and "no network access" in found.hint


def test_network_error_wrapped_in_another_exception_is_still_found(project):
    traceback = (
        "socket.gaierror: [Errno -3] Temporary failure in name resolution\n"
        "During handling of the above exception, another exception occurred:\n"
        "RuntimeError: could not load the tokenizer"
    )
    assert "no network access" in diagnose(outcome(events=[load_failure(traceback)]), project, CONFIG).hint


def test_exit_137_names_the_memory_limit(project):
    run = outcome("launcher| the model server was killed by signal 9 (SIGKILL)", exit_code=137, oom_killed=True, memory_limit="2g")
    found = diagnose(run, project, CONFIG)
    assert "out of memory" in found.cause and "2g" in found.cause
    assert "`limits.memory`" in found.hint and "the model config cannot raise it" in found.hint


def test_memory_error_names_the_memory_limit(project):
    run = outcome(events=[load_failure("Traceback ...\nMemoryError")], memory_limit="16g")
    assert "out of memory" in diagnose(run, project, CONFIG).cause


def test_request_timeout_names_the_tasks_limit(project):
    event = {"event": "error", "stage": "datapoint", "reason": "request_timeout", "index": 0,
             "message": "no answer from http://127.0.0.1:1 within 5s", "traceback": ""}
    found = diagnose(outcome(events=[event]), project, CONFIG)
    assert "within 5s" in found.cause and "request_timeout" in found.hint and "the task's `limits`" in found.hint


def test_a_hung_run_names_both_timeouts(project):
    found = diagnose(outcome(timed_out=True, exit_code=-9), project, CONFIG)
    assert "load_timeout" in found.hint and "request_timeout" in found.hint


def test_invalid_responses_name_the_field(project):
    datapoint = {"event": "datapoint", "index": 0, "total": 3, "input": {"uid": "1"}, "response": {"id": "1"},
                 "problems": [{"field": "label", "expected": "one of entailed, neutral, contradictory", "got": "missing", "hint": None}]}
    done = {"event": "done", "passed": 2, "failed": 1, "total": 3}
    found = diagnose(outcome(events=[datapoint, done]), project, CONFIG)
    assert "1 of 3 responses are invalid" in found.cause and "label" in found.cause


def test_unknown_failure_shows_the_server_exit_and_last_lines(project):
    run = outcome("something odd", "launcher| the model server exited with status 7 before the test finished")
    found = diagnose(run, project, CONFIG)
    assert "exited with status 7" in found.cause
    assert "server| something odd" in found.details


# ---- a file opened from the model dir that is in the project but not in model_files ----


def test_a_bare_name_found_in_a_project_folder_names_the_model_files_fix(make_project):
    project = make_project("tokenizer-file")
    line = "FileNotFoundError: [Errno 2] No such file or directory: 'merges.txt'"
    found = diagnose(outcome(events=[load_failure(line)]), project, CONFIG)
    assert found.cause == (
        "FileNotFoundError: the handler opens 'merges.txt'; tokenizer/merges.txt is in the project but not in "
        "`model_files`, so it is not in the model dir the handler runs in"
    )
    assert found.hint.startswith("add tokenizer/merges.txt to `model_files` in the model config")


def test_a_path_opened_through_a_folder_names_the_folder_as_the_model_file(make_project):
    project = make_project("tokenizer-file")
    line = f"FileNotFoundError: [Errno 2] No such file or directory: '{MODEL}/tokenizer/vocab.json'"
    found = diagnose(outcome(events=[load_failure(line)]), project, CONFIG)
    # Model files are flattened: only the folder itself, as a model file, keeps tokenizer/vocab.json there.
    assert found.hint.startswith("add the folder tokenizer to `model_files` in the model config (a folder is placed")
    assert "os.path.join(ROOTPATH, 'tokenizer/vocab.json')" in found.hint


# ---- a missing module: which file imports it, and whether requirements.txt already lists it ----

IMPORT_IN_MODEL_FILE = f"""Traceback (most recent call last):
  File "/opt/dynalab/runtime/dynalab/runtime/server.py", line 80, in load
    self.handle = loader.import_handler(self.spec)
  File "{MODEL}/handler.py", line 2, in <module>
    import model
  File "{MODEL}/model.py", line 1, in <module>
    import regex
ModuleNotFoundError: No module named 'regex'
"""


def test_a_module_listed_in_requirements_but_not_installed_names_the_amend_command(project):
    (project / "requirements.txt").write_text("# tokenisation\nRegex==2024.5.15 ; python_version >= '3.8'\n")
    config = {**CONFIG, "model_files": ["src/model.py"]}
    found = diagnose(outcome(events=[load_failure(IMPORT_IN_MODEL_FILE)]), project, config, "my-model")
    assert found.cause == (
        "ModuleNotFoundError: No module named 'regex': src/model.py imports 'regex', which the deployment does not "
        "install: requirements.txt lists Regex, but the model config does not install it (`requirements: false`)"
    )
    assert found.hint.startswith("run `dynalab-cli init -n my-model --amend -r`: it sets `requirements: true`")


def test_a_module_listed_and_installed_points_at_the_install_log(project):
    (project / "requirements.txt").write_text("regex\n")
    found = diagnose(outcome(events=[load_failure(IMPORT_IN_MODEL_FILE)]), project, {**CONFIG, "requirements": True})
    assert "though requirements.txt lists regex and is installed" in found.cause
    assert "what pip installed for regex" in found.hint


def test_a_module_imported_by_a_project_package_names_that_file(project):
    traceback = IMPORT_IN_MODEL_FILE.replace(f"{MODEL}/model.py", f"{ROOT}/src/pipeline/tokens.py")
    found = diagnose(outcome(events=[load_failure(traceback)]), project, CONFIG, "m")
    assert "src/pipeline/tokens.py imports 'regex'" in found.cause
    assert found.hint == "add regex to requirements.txt, then run `dynalab-cli init -n m --amend -r` (sets `requirements: true`)"


def test_a_missing_part_of_dynalab_names_the_supported_imports(project):
    traceback = "Traceback ...\nModuleNotFoundError: No module named 'dynalab.tasks.vqa'"
    found = diagnose(outcome(events=[load_failure(traceback)]), project, CONFIG)
    assert "imports dynalab.tasks.vqa, which Dynalab does not have" in found.cause
    assert "import TaskIO from dynalab.tasks.task_io and use TaskIO('vqa')" in found.hint
    assert "dynalab.tasks.flores_full" in found.hint and "pyyaml" not in found.hint
