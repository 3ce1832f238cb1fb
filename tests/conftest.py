"""Fixtures shared by the whole suite: fixture projects and the real CLI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prerequisites import missing

REPO = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"
EXAMPLE = REPO / "examples" / "nli-bow"

# Every process a test starts runs the checkout under test, whichever copy of
# Dynalab is installed in the environment.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)


@pytest.fixture(scope="session")
def torch():
    """The torch module: a test that needs it is skipped without it, except in CI, where it fails."""
    try:
        import torch
    except ImportError as error:
        missing(f"torch cannot be imported ({error}); run .ci/setup")
    return torch


@pytest.fixture
def make_project(tmp_path):
    """Copy a fixture project (tests/projects/<case>, or "example") into a temp dir."""

    def make(case, name="project"):
        source = EXAMPLE if case == "example" else PROJECTS / case
        target = tmp_path / name
        shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".dynalab*"))
        return target

    return make


CONTRACT_NLI_INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
                     "--model-files", "labels.json,rules.py"]


@pytest.fixture
def contract_nli(make_project, cli):
    """The contract-nli fixture project (no torch needed), initialised as model ``m``."""
    project = make_project("contract-nli")
    result = cli(*CONTRACT_NLI_INIT, cwd=project)
    assert result.returncode == 0, result.stderr
    return project


@pytest.fixture
def server(tmp_path):
    """A real evaluation server (``dynalab-server``) on 127.0.0.1, its data in ``tmp_path``, stopped after the test."""
    from dynalab.testing.server_process import ServerProcess

    with ServerProcess(tmp_path / "server-data") as running:
        yield running


@pytest.fixture
def cli(tmp_path):
    """Run ``dynalab-cli`` as a user would: a real process, no terminal on stdin."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(*args, cwd, env=None, input=None, timeout=600):
        # The checkout under test comes first, whichever copy of Dynalab is installed.
        paths = [str(REPO), *(env or {}).get("PYTHONPATH", "").split(os.pathsep)]
        environment = {**os.environ, "DYNALAB_HOME": str(home), "CI": "true", **(env or {}),
                       "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        return subprocess.run(
            [sys.executable, "-m", "dynalab.cli", *args],
            cwd=cwd,
            env=environment,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
