"""Fixtures of the runtime tests: fixture projects laid out as model dirs, servers stopped at the end."""

import shutil

import pytest

from dynalab.runtime.model_dir import prepare_model_dir
from dynalab.runtime.protocol import write_spec
from dynalab.tasks.registry import load_builtin
from runtime_support import Server, fixture_dir


@pytest.fixture
def runtime_spec(tmp_path):
    """Build a run spec for fixture ``case``: project copy, model dir, spec file; returns the spec path."""

    def make(case, checkpoint="model.json", model_files=(), batched=False, mode="symlink", model_name="m1", prepare=None,
             task="nli"):
        root = tmp_path / "project"
        shutil.copytree(fixture_dir(case), root, ignore=shutil.ignore_patterns("__pycache__"))
        if prepare is not None:
            prepare(root)  # e.g. write a checkpoint
        model_dir = tmp_path / "model_dir"
        prepare_model_dir(str(model_dir), str(root), "handler.py", checkpoint, list(model_files), mode=mode)
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        spec = {
            "model_name": model_name, "task": load_builtin(task), "rootpath": str(root),
            "model_dir": str(model_dir), "handler": "handler.py", "serialized_file": checkpoint,
            "batched": batched, "gpu_id": None, "batch_size": 1,
        }
        write_spec(run_dir / "spec.json", spec)
        return run_dir / "spec.json"

    return make


@pytest.fixture
def server():
    """Start servers with ``server(spec_path)``; every one still running is stopped at the end."""
    started = []

    def start(spec_path, env=None):
        started.append(Server(spec_path, env))
        return started[-1]

    yield start
    for one in started:
        if one.process.poll() is None:
            one.process.kill()
            one.process.wait()
