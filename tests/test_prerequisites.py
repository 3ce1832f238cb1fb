"""A test whose prerequisite is missing (torch, Docker, PostgreSQL) is skipped on a developer's
machine, and fails in CI.

Each case runs one test of the suite in a child pytest where the prerequisite
is really missing: a torch that cannot be imported, a Docker socket that does
not exist, a PostgreSQL port on 127.0.0.1 where nothing listens.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CASES = {
    "torch": ("tests/runtime/test_local_runner.py::test_a_real_torch_model_loads_and_answers",
              "torch cannot be imported"),
    "docker": ("tests/isolation/test_docker.py::test_good_project_passes_and_leaves_the_project_unchanged",
               "Docker is not reachable"),
    "postgres": ("tests/server/db/test_postgres.py", "no PostgreSQL at"),
}


def without(prerequisite, tmp_path):
    """The environment of a child pytest where ``prerequisite`` is missing."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if prerequisite == "torch":
        poisoned = tmp_path / "no-torch"
        (poisoned / "torch").mkdir(parents=True)
        (poisoned / "torch" / "__init__.py").write_text("raise ImportError('No module named torch')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(poisoned), str(REPO)])
    elif prerequisite == "docker":
        env["DOCKER_HOST"] = f"unix://{tmp_path / 'no-docker.sock'}"
    else:
        env["DYNALAB_TEST_POSTGRES_URL"] = "postgresql+psycopg://dynalab:dynalab@127.0.0.1:1/none"
    return env


def run_pytest(target, env):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("prerequisite", sorted(CASES))
def test_a_missing_prerequisite_fails_the_test_in_ci(prerequisite, tmp_path):
    target, reason = CASES[prerequisite]
    result = run_pytest(target, {**without(prerequisite, tmp_path), "CI": "true"})
    assert result.returncode not in (0, 5), result.stdout + result.stderr
    assert "error" in result.stdout and f"CI needs this: {reason}" in result.stdout, result.stdout


@pytest.mark.parametrize("prerequisite", sorted(CASES))
def test_a_missing_prerequisite_skips_the_test_elsewhere(prerequisite, tmp_path):
    target, reason = CASES[prerequisite]
    result = run_pytest(target, without(prerequisite, tmp_path))
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: a whole module skipped
    assert "1 skipped" in result.stdout and "passed" not in result.stdout and reason in result.stdout, result.stdout
