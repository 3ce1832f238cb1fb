"""What both backends lay out before a run: the unpacked package, the model dir,
the run spec, and a copy of the runtime the model runs with.
"""

import json
import os
import shutil
import tarfile
from pathlib import Path

import dynalab
from dynalab.errors import IntegratedTestFailed

# The parts of dynalab that run next to the model: standard library only.
RUNTIME_PARTS = ("__init__.py", "errors.py", "tasks", "handler", "runtime")
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


def prepare_model(root, model_dir, config):
    """Flatten handler, checkpoint and model files into ``model_dir`` (copies, as deployment has)."""
    from dynalab.runtime.model_dir import ModelDirError, prepare_model_dir

    try:
        prepare_model_dir(
            str(model_dir), str(root), config["handler"], config["checkpoint"], config.get("model_files") or [], mode="copy"
        )
    except ModelDirError as error:
        raise IntegratedTestFailed(f"cannot lay out the model dir from the package: {error}")


def run_spec(name, config, definition, rootpath, model_dir):
    """The run spec (``dynalab.runtime.protocol``) for the server and the probe."""
    return {
        "model_name": name,
        "task": definition,
        "rootpath": str(rootpath),
        "model_dir": str(model_dir),
        "handler": os.path.basename(config["handler"]),
        "serialized_file": os.path.basename(config["checkpoint"]),
        "batched": bool(config.get("batched")),
        "gpu_id": None,
        "batch_size": 1,
    }


def write_run_spec(path, spec):
    from dynalab.runtime.protocol import write_spec

    return write_spec(str(path), spec)


def launcher_arguments(config, spec_path, loopback):
    settings = config.get("integrated_test") or {}
    arguments = [
        "--spec", str(spec_path),
        "--startup-timeout", str(settings.get("startup_timeout", 300)),
        "--request-timeout", str(settings.get("request_timeout", 60)),
    ]
    return arguments + (["--loopback"] if loopback else [])


def forwarded_environment():
    """Host variables the model must see to behave as it did in the local test."""
    # MY_SECRET salts response signatures: the handler and the probe must agree.
    return {key: os.environ[key] for key in ("MY_SECRET",) if key in os.environ}


def deadline_seconds(config, definition):
    """How long a whole run may take before the host stops it: a guard for a hung probe.

    The probe enforces the startup and per-request timeouts itself; this only
    adds room for every datapoint and for starting the processes.
    """
    from dynalab.tasks.task_io import TaskIO

    settings = config.get("integrated_test") or {}
    try:
        datapoints = len(TaskIO.from_definition(definition).mock_datapoints)
    except Exception:  # a bad definition fails inside the run, with a proper message
        datapoints = 20
    return settings.get("startup_timeout", 300) + settings.get("request_timeout", 60) * (datapoints + 2) + 60
