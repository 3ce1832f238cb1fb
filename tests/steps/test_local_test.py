"""`dynalab-cli test --local`: real handlers in a child process, cached by fingerprint."""

import os

import pytest
import yaml

from dynalab.steps.cache.fingerprint import HashCache

INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py"]


def init(cli, project, *model_files):
    args = INIT + (["--model-files", ",".join(model_files)] if model_files else [])
    result = cli(*args, cwd=project)
    assert result.returncode == 0, result.stderr


def passes(cli, project, *flags):
    """Run the local test of model m; it must pass (exit 0). Its output."""
    result = cli("test", "--local", "-n", "m", *flags, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_example_passes_then_skips_then_reruns_after_edit(make_project, cli):
    project = make_project("example")
    init(cli, project, "vocab.json", "labels.py")
    assert "Local test passed" in passes(cli, project)
    second = passes(cli, project)
    assert "skipped" in second and "Local test passed" not in second
    with open(project / "handler.py", "a") as f:
        f.write("\n# an edit\n")
    assert "Local test passed" in passes(cli, project)


def test_project_written_for_the_original_contract_passes(contract_nli, cli):
    assert "Local test passed" in passes(cli, contract_nli)


def test_force_reruns_a_cached_pass(contract_nli, cli):
    passes(cli, contract_nli)
    assert "Local test passed" in passes(cli, contract_nli, "--force")


def test_cached_rerun_does_not_import_torch(contract_nli, cli, tmp_path):
    project = contract_nli
    passes(cli, project)
    # A torch that cannot be imported: a cached rerun must not notice it.
    poisoned = tmp_path / "poisoned"
    (poisoned / "torch").mkdir(parents=True)
    (poisoned / "torch" / "__init__.py").write_text("raise ImportError('torch was imported')\n")
    result = cli("test", "--local", "-n", "m", cwd=project, env={"PYTHONPATH": str(poisoned)})
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout


def test_label_outside_the_task_fails_naming_the_field(make_project, cli):
    project = make_project("bad-label")
    init(cli, project)
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 3
    assert "`label`" in result.stdout and "'maybe'" in result.stdout
    assert "entailed" in result.stdout
    assert "Local test failed" in result.stderr and "Traceback" not in result.stderr
    # A failure is never recorded as a pass: the next run runs again.
    state = yaml.safe_load((project / ".dynalab" / "m" / "state.yaml").read_text())
    assert state["steps"]["local_test"]["status"] == "failed"
    again = cli("test", "--local", "-n", "m", cwd=project)
    assert again.returncode == 3 and "skipped" not in again.stdout


def test_handler_that_exits_the_process_is_reported(make_project, cli):
    project = make_project("bad-label")
    (project / "handler.py").write_text("import sys\n\ndef handle(data, context):\n    sys.exit(0)\n")
    init(cli, project)
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 3
    assert "Local test failed" in result.stderr


def test_handler_crash_in_initialize_shows_its_traceback(make_project, cli):
    project = make_project("bad-label")
    (project / "handler.py").write_text(
        "def handle(data, context):\n    raise RuntimeError('weights do not fit the model')\n")
    init(cli, project)
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 3
    assert "weights do not fit the model" in result.stdout + result.stderr


def test_hash_cache_hashes_an_unchanged_file_once(tmp_path, monkeypatch):
    import dynalab.steps.cache.fingerprint as fingerprint

    weights = tmp_path / "model.pt"
    weights.write_bytes(b"x" * 4096)
    calls = []
    real = fingerprint.sha256_file
    monkeypatch.setattr(fingerprint, "sha256_file", lambda path: calls.append(path) or real(path))
    with HashCache(tmp_path / "cache.json") as cache:
        first = cache.digest(weights)
    with HashCache(tmp_path / "cache.json") as cache:
        assert cache.digest(weights) == first
    assert len(calls) == 1
    weights.write_bytes(b"y" * 4096)
    with HashCache(tmp_path / "cache.json") as cache:
        assert cache.digest(weights) != first
    assert len(calls) == 2


def with_task_limits(project, **limits):
    """Make model m's task nli with these ``limits``, from a task file of the project."""
    from dynalab.tasks.registry import load_builtin

    (project / "nli-task.yaml").write_text(yaml.safe_dump({**load_builtin("nli"), "limits": limits}))
    path = project / ".dynalab" / "m" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["task_file"] = "nli-task.yaml"
    path.write_text(yaml.safe_dump(config))
    return config


def timed_out(make_project, cli, case, within, **limits):
    """The local test of fixture project ``case`` with these task ``limits``: it must fail
    (exit 3) well ``within`` the seconds its handler would take."""
    project = make_project(case)
    init(cli, project)
    with_task_limits(project, **limits)
    result = cli("test", "--local", "-n", "m", cwd=project, timeout=within)
    assert result.returncode == 3, result.stdout + result.stderr
    return project, result


def test_a_handler_that_never_answers_fails_after_the_request_timeout(make_project, cli):
    # The handler would sleep an hour.
    project, result = timed_out(make_project, cli, "hangs-on-request", within=120, request_timeout=2)
    assert "Local test failed in datapoint: no answer from the handler within 2s (datapoint 0)" in result.stderr
    assert "hint: make one prediction finish within the task's request_timeout" in result.stderr
    pid = int((project / "handler.pid").read_text())
    with pytest.raises(ProcessLookupError):  # the stuck handler did not outlive the test
        os.kill(pid, 0)
    state = yaml.safe_load((project / ".dynalab" / "m" / "state.yaml").read_text())
    assert state["steps"]["local_test"]["status"] == "failed"


def test_a_handler_that_loads_too_long_fails_after_the_startup_timeout(make_project, cli):
    _, result = timed_out(make_project, cli, "slow-load", within=50, load_timeout=3)  # it would load for a minute
    assert "Local test failed in load: the handler was not loaded within the task's load_timeout of 3s" in result.stderr
    assert "hint: make the model load within the task's load_timeout" in result.stderr


def test_a_0_2_0_config_with_its_own_timeouts_is_accepted_with_one_note_naming_the_tasks_limit(make_project, cli):
    project = make_project("slow-load")
    init(cli, project)
    config = with_task_limits(project, load_timeout=3)
    config["integrated_test"].update({"startup_timeout": 600, "request_timeout": 60, "docker": {"memory": "16g"}})
    (project / ".dynalab" / "m" / "config.yaml").write_text(yaml.safe_dump(config))
    result = cli("test", "--local", "-n", "m", cwd=project, timeout=50)
    assert result.returncode == 3, result.stdout + result.stderr  # the task's 3s decide, not the config's 600s
    notes = [line for line in (result.stdout + result.stderr).splitlines() if "no longer used" in line]
    assert notes == ["note: `integrated_test.startup_timeout: 600` in the model config is no longer used; "
                     "the task's limit decides: load_timeout = 3"]  # the equal request_timeout and memory: no note


def test_a_handler_over_the_tasks_memory_limit_fails_naming_the_limit(make_project, cli):
    project = make_project("memory-hog")  # allocates 1 GB at load
    init(cli, project)
    with_task_limits(project, memory="256m")
    result = cli("test", "--local", "-n", "m", cwd=project, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the handler ran out of memory: the task gives its processes 256m" in result.stderr
    assert "`limits.memory`" in result.stderr
