"""What both backends lay out before a run: the unpacked package, the model dir,
the run spec, and a copy of the runtime the model runs with.
"""

import json
import os
import shutil
import tarfile
from contextlib import contextmanager
from pathlib import Path

import dynalab
from dynalab.errors import IntegratedTestFailed

# The parts of dynalab that run next to the model: standard library only.
RUNTIME_PARTS = ("__init__.py", "errors.py", "files.py", "sizes.py", "tasks", "handler", "runtime")
LAUNCHER = "dynalab_launcher.py"


def unpack_archive(archive_path, destination):
    """Extract the package into ``destination`` (refusing links or paths that leave it)."""
    os.makedirs(destination, exist_ok=True)
    with tarfile.open(archive_path, "r:*") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
        else:  # Python < 3.11.4: our own archives hold regular files with relative names only
            for member in archive.getmembers():
                if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                    raise IntegratedTestFailed(f"the package holds an unsafe member {member.name!r}")
            archive.extractall(destination)


def copy_runtime(destination):
    """Copy dynalab's runtime (and the launcher script) into ``destination``, for PYTHONPATH."""
    source = Path(dynalab.__file__).parent
    package = Path(destination) / "dynalab"
    package.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in RUNTIME_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, package / part, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source / part, package / part)
    shutil.copy2(source / "isolation" / "launcher.py", Path(destination) / LAUNCHER)
    return Path(destination)


def task_definition(root, config):
    """The task definition shipped in the package (``.dynalab/<task>.json``), as deployment reads it."""
    path = Path(root) / ".dynalab" / f"{config['task']}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IntegratedTestFailed(
            f"the package has no readable task definition .dynalab/{config['task']}.json ({error})",
            hint="run `dynalab-cli package` again: it writes the task definition before packaging",
        )


def check_model(root, config):
    """Fail early, naming the file, if the model dir cannot be laid out from the package at ``root``.

    Only checks: nothing is copied (a checkpoint may weigh gigabytes).
    """
    from dynalab.runtime.model_dir import check_model_files

    with _model_dir_errors():
        check_model_files(str(root), config["handler"], config["checkpoint"], config["model_files"])


def prepare_model(root, model_dir, config):
    """Flatten handler, checkpoint and model files into ``model_dir`` (copies, as deployment has)."""
    from dynalab.runtime.model_dir import prepare_model_dir

    with _model_dir_errors():
        prepare_model_dir(str(model_dir), str(root), config["handler"], config["checkpoint"], config["model_files"], mode="copy")


@contextmanager
def _model_dir_errors():
    from dynalab.runtime.model_dir import ModelDirError

    try:
        yield
    except ModelDirError as error:
        raise IntegratedTestFailed(f"cannot lay out the model dir from the package: {error}")


def run_spec(name, config, definition, rootpath, model_dir, examples=None):
    """The validated run spec (``dynalab.runtime.protocol``) for the server and the probe."""
    from dynalab.runtime.protocol import make_spec, validate_spec

    return validate_spec(make_spec(name, definition, rootpath, model_dir, config["handler"], config["checkpoint"],
                                   config["batched"], None, examples))


def write_run_spec(path, name, config, definition, rootpath, model_dir, examples=None):
    """Write ``run_spec`` to ``path``; returns it."""
    from dynalab.runtime.protocol import write_spec

    return write_spec(str(path), run_spec(name, config, definition, rootpath, model_dir, examples))


def limits(definition):
    """The task's limits (``dynalab.tasks.limits``); a bad ``limits`` fails naming the field and value."""
    from dynalab.tasks.limits import LimitsError, limits_of

    try:
        return limits_of(definition)
    except LimitsError as error:
        raise IntegratedTestFailed(str(error), hint="fix the task definition's `limits` (or ask the task's owner to)") from None


def launcher_arguments(limits, spec_path, loopback):
    """The launcher's arguments: the spec, and the task's load and request timeouts."""
    arguments = [
        "--spec", str(spec_path),
        "--startup-timeout", str(limits["load_timeout"]),
        "--request-timeout", str(limits["request_timeout"]),
    ]
    return arguments + (["--loopback"] if loopback else [])


def forwarded_environment():
    """Host variables the model must see to behave as it did in the local test."""
    # MY_SECRET salts response signatures: the handler and the probe must agree.
    return {key: os.environ[key] for key in ("MY_SECRET",) if key in os.environ}


def deadline_seconds(limits, definition):
    """How long a whole run may take before the host stops it: a guard for a hung probe.

    The probe enforces the startup and per-request timeouts itself; this only
    adds room for every datapoint and for starting the processes.
    """
    from dynalab.tasks.task_io import TaskIO

    try:
        datapoints = len(TaskIO.from_definition(definition).mock_datapoints)
    except Exception:  # a bad definition fails inside the run, with a proper message
        datapoints = 20
    return limits["load_timeout"] + limits["request_timeout"] * (datapoints + 2) + 60
