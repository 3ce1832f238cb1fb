"""Batched mode, the size warning, and the steps driven from a project's own tasks.py."""

import os
import subprocess
import sys

import yaml

from dynalab.packaging.selection import scan
from dynalab.packaging.size_check import warn_if_too_big


def test_batched_handler_passes_local_and_integrated_tests(make_project, cli):
    project = make_project("batched-nli")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project).returncode == 0
    config_path = project / ".dynalab" / "m" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["batched"] = True
    config_path.write_text(yaml.safe_dump(config))
    result = cli("test", "-n", "m", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Local test passed" in result.stdout and "Integrated test passed" in result.stdout


def test_size_warning_counts_nested_files_and_names_the_largest(make_project):
    project_root = make_project("bad-label")
    (project_root / "checkpoints" / "old").mkdir(parents=True)
    (project_root / "checkpoints" / "old" / "epoch1.pt").write_bytes(b"0" * 6000)
    (project_root / "data").mkdir()
    (project_root / "data" / "train.txt").write_bytes(b"0" * 3000)
    config = {"handler": "handler.py", "checkpoint": "model.pt", "model_files": [], "exclude": [], "task": "nli"}
    lines = []
    total = warn_if_too_big(scan(project_root.resolve(), "m", config), "m", out=lines.append, limit=5000)
    assert total > 9000
    assert len(lines) == 1
    assert "checkpoints" in lines[0] and "data" in lines[0] and "exclude" in lines[0]
    assert lines[0].index("checkpoints") < lines[0].index("data"), "largest first"
    lines.clear()
    config["exclude"] = ["checkpoints", "data"]
    warn_if_too_big(scan(project_root.resolve(), "m", config), "m", out=lines.append, limit=5000)
    assert lines == []


def test_steps_run_from_the_projects_own_tasks_py_with_plain_invoke(make_project, cli):
    project = make_project("own-tasks-py")
    env = {**os.environ, "CI": "true"}
    invoke = [sys.executable, "-m", "invoke"]
    init = subprocess.run(invoke + ["init", "-n", "m", "-t", "sentiment", "--model-checkpoint", "model.pt"],
                          cwd=project, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert init.returncode == 0, init.stderr
    chained = subprocess.run(invoke + ["local-test", "-n", "m", "hello"], cwd=project, env=env,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert chained.returncode == 0, chained.stdout + chained.stderr
    assert "Local test passed" in chained.stdout
    assert "hello from the project's own task" in chained.stdout
