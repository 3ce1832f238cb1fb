"""Set up a fixture project as a user would have it, and run the steps on it."""

import hashlib
import os
from pathlib import Path

from dynalab.project.config import save_config, validate_config
from dynalab.errors import IntegratedTestFailed
from dynalab.steps.actions.integrated_test import run_integrated_test
from dynalab.packaging import build_archive
from dynalab.project import Project
from dynalab.project.task_definitions import write_packaged_copy
from dynalab.tasks.registry import load_builtin

NAME = "dynalab-selftest"  # images and containers of the tests carry this model name

# Each fixture project's model config (beyond task, checkpoint and handler).
CONFIGS = {
    "example": {"model_files": ["labels.py", "vocab.json"]},
    "contract-nli": {"model_files": ["rules.py", "labels.json"]},
    "undeclared-import": {},
    "network-at-load": {"model_files": ["url.txt"]},
    "reads-excluded-file": {"exclude": ["data"]},
    "reads-host-file": {"model_files": ["host_path.txt"]},
    "reads-outside-its-package": {"model_files": ["outside_paths.txt"]},
    "slow-load": {},
    "slow-handler": {},
    "memory-hog": {},
    "crashes-on-one-example": {},
    "burns-cpu": {},
    "fills-its-temporary-folder": {},
    "declared-requirement": {"requirements": True},
    "setup-project": {"setup": True},
    "batched-nli": {"batched": True},
}


# The limits of the task each fixture project is tested with (beyond the defaults of dynalab.tasks.limits).
LIMITS = {
    "slow-load": {"load_timeout": 3},
    "slow-handler": {"request_timeout": 2},
    "memory-hog": {"memory": "256m"},
}


class Model:
    """A fixture project initialised as model NAME: config saved, task definition (nli, with the
    case's LIMITS) packaged."""

    def __init__(self, root, case, limits=None, **overrides):
        self.root = Path(root)
        self.project = Project(self.root)
        raw = {"task": "nli", "checkpoint": "model.pt", "handler": "handler.py", **CONFIGS[case]}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                value = {**raw[key], **value}
            raw[key] = value
        self.config = validate_config(self.project, raw, source="test config")
        save_config(self.project, NAME, self.config)
        self.definition = load_builtin("nli")
        limits = {**LIMITS.get(case, {}), **(limits or {})}
        if limits:
            self.definition["limits"] = limits
        write_packaged_copy(self.project, self.definition)
        self.output = []

    @property
    def log_path(self):
        return self.project.logs_dir(NAME) / "integrated-test.log"

    def package(self, force=False):
        return build_archive(self.root, NAME, self.config, self.project.build_dir(NAME) / f"{NAME}.tar.gz", force=force)

    def integrated_test(self, backend):
        """The IntegratedResult of a pass; IntegratedTestFailed propagates."""
        return run_integrated_test(self.root, NAME, self.config, backend, self.package(), self.log_path, out=self.output.append)

    def integrated_failure(self, backend):
        """The IntegratedTestFailed of a run that must fail."""
        try:
            result = self.integrated_test(backend)
        except IntegratedTestFailed as error:
            return error
        raise AssertionError(f"expected the integrated test to fail, it passed: {result}\n" + "\n".join(self.output))

    def local_test(self):
        from dynalab.steps.actions.local_test import run_local_test

        run_local_test(self.project, NAME, self.config, self.definition, self.project.logs_dir(NAME) / "local-test.log", out=self.output.append)


def snapshot(root):
    """{relative path: sha256} of every file outside .dynalab/: what must never change."""
    files = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (folder == str(root) and d == ".dynalab")]
        for name in names:
            path = Path(folder) / name
            files[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def reads_outside(model, backend, tmp_path, outside):
    """The IntegratedTestFailed of reads-outside-its-package made to read ``outside`` at load: a
    relative path names a file made under ``tmp_path`` (a server's database, say), an absolute one
    a file of this machine. The local test, in the user's own environment, can read it."""
    path = Path(outside) if outside.startswith("/") else tmp_path / outside
    if not outside.startswith("/"):
        path.parent.mkdir(parents=True)
        path.write_text("users and tokens\n")
    case = model("reads-outside-its-package")
    (case.root / "outside_paths.txt").write_text(f"{path}\n")
    case.local_test()
    return path, case.integrated_failure(backend)
