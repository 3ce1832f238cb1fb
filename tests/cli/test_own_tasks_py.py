"""The steps driven from a project's own tasks.py with plain `invoke`."""

import os
import subprocess
import sys


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


def test_a_failing_step_under_plain_invoke_is_one_clear_message_and_its_exit_code(make_project):
    project = make_project("own-tasks-py")
    env = {**os.environ, "CI": "true"}
    result = subprocess.run([sys.executable, "-m", "invoke", "local-test", "-n", "missing", "hello"], cwd=project,
                            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: model 'missing' is not initialised in "), result.stderr
    assert "hint: " in result.stderr and "Traceback" not in result.stderr
    assert "hello from the project's own task" not in result.stdout, "the failure stops the command"
