"""The sandbox backend: the packaged model in a scratch folder, a cached venv, and no network.

The package is unpacked into a temporary folder (ROOTPATH), the model dir is
laid out next to it, and the launcher runs the server and the probe with the
layered environment of ``environment.py``, inside a network namespace of its
own (``network.py``) where only a loopback interface exists. Where no
namespace can be made (macOS, user namespaces disabled) the run goes on with
a warning, its outcome marked not
isolated (recorded as ``isolated: false``; ``upload`` refuses such a pass
unless told otherwise). The file system is not confined: the model sees the
package at ROOTPATH, but an absolute path still reaches this machine's files.
"""

import os
import signal
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from dynalab.isolation import workspace
from dynalab.isolation.outcome import RunOutcome, copy_lines
from dynalab.isolation.sandbox.environment import ensure_environment, install_project
from dynalab.isolation.sandbox.network import network_isolation
from dynalab.tasks.task_io import ROOTPATH_ENV


class SandboxBackend:
    """Runs the packaged model with the declared dependencies only, offline, without Docker."""

    name = "sandbox"

    def run(self, project_root, archive, name, config, log, out=print, examples=None):
        with tempfile.TemporaryDirectory(prefix=f"dynalab-{name}-") as scratch:
            work = Path(scratch)
            root, model_dir = work / "root", work / "model"
            # The package as deployment unpacks it, the model dir flattened from it.
            workspace.unpack_archive(archive.path, root)
            workspace.prepare_model(root, model_dir, config)
            definition = workspace.task_definition(root, config)
            # The cached layers, our runtime, and (setup: true) the project's current code.
            environment = ensure_environment(root, config, log, out=out)
            python_path = [str(workspace.copy_runtime(work / "runtime"))]
            if config["setup"]:
                install_project(environment, root, work / "site", log)
                python_path.insert(0, str(work / "site"))
            spec_path = work / "spec.json"
            workspace.write_run_spec(spec_path, name, config, definition, root, model_dir, examples)
            # The launcher, in a network namespace of its own where one can be made.
            outcome = RunOutcome(self.name, rootpath=str(root), model_dir=str(model_dir))
            isolation = _isolation_or_warning(outcome, out)
            command = [
                *(isolation.prefix if isolation else ()),
                str(environment.python), str(work / "runtime" / workspace.LAUNCHER),
                *workspace.launcher_arguments(config, spec_path, loopback=bool(isolation and isolation.loopback)),
            ]
            where = f"network cut with {isolation.description}" if isolation else "network NOT isolated"
            out(f"Running the packaged model in the sandbox ({where})...")
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            env = _environment_variables(work, environment, root, python_path)
            _run(command, env, model_dir, log, outcome, workspace.deadline_seconds(config, definition))
            return outcome


def _isolation_or_warning(outcome, out):
    isolation = network_isolation()
    if isolation is None:
        outcome.isolated = False
        outcome.notes.append(
            "warning: this system cannot cut the sandbox's network (no usable `unshare -n`/`bwrap`), "
            "so network use at load time will not be caught; `--backend docker` can"
        )
        out(outcome.notes[-1])
    return isolation


def _environment_variables(work, environment, root, python_path):
    """Only what the model needs: nothing of this machine's Python setup leaks in."""
    for folder in ("home", "tmp"):
        (work / folder).mkdir(exist_ok=True)
    return {
        "PATH": os.pathsep.join([str(environment.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(work / "home"),  # no ~/.cache of this machine: the deployment has none
        "TMPDIR": str(work / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        ROOTPATH_ENV: str(root),
        **workspace.forwarded_environment(),
    }


def _run(command, env, cwd, log, outcome, deadline):
    with _process(command, env=env, cwd=cwd) as process:
        reader = threading.Thread(target=copy_lines, args=(process.stdout, log, outcome), daemon=True)
        reader.start()
        try:
            outcome.exit_code = process.wait(deadline)
        except subprocess.TimeoutExpired:
            outcome.timed_out = True
            _kill_group(process)
            outcome.exit_code = process.wait()
        reader.join(10)


@contextmanager
def _process(command, **kwargs):
    """A child in its own process group, killed with all its children on the way out."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, **kwargs,
    )
    try:
        yield process
    finally:
        _kill_group(process)
        process.wait()
        process.stdout.close()


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
