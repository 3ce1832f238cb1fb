"""The sandbox backend: the packaged model in a scratch folder, a cached venv, confined by bubblewrap.

The package is unpacked into a temporary folder (ROOTPATH), the model dir is
laid out next to it, and the launcher runs the server and the probe with the
layered environment of ``environment.py``, confined by bubblewrap
(``confinement.py``: no network, only the system's libraries, the
environment, the package and the model dir, read-only; the scratch folder
the only writable place) within the task's memory and CPUs (``cgroups.py``).
Where bwrap does not work (not installed, macOS, namespaces disabled) the
run goes on unconfined with a warning, its outcome marked not isolated
(recorded as ``isolated: false``; ``upload`` refuses such a pass unless told
otherwise).

``lay_out`` and ``confined`` are shared with ``dynalab.isolation.serving``,
which serves a model for evaluation the same way.
"""

import os
import signal
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dynalab.isolation import workspace
from dynalab.isolation.outcome import RunOutcome, copy_lines
from dynalab.isolation.sandbox.confinement import bubblewrap, confine
from dynalab.isolation.sandbox.environment import ensure_environment, install_project
from dynalab.isolation.sandbox.cgroups import caps
from dynalab.tasks.task_io import ROOTPATH_ENV


class SandboxBackend:
    """Runs the packaged model with the declared dependencies only, offline, confined, without Docker."""

    name = "sandbox"

    def run(self, project_root, archive, name, config, log, out=print, examples=None):
        with tempfile.TemporaryDirectory(prefix=f"dynalab-{name}-") as scratch:
            work = Path(scratch)
            root, model_dir = work / "root", work / "model"
            # The package as deployment unpacks it, the model dir flattened from it.
            workspace.unpack_archive(archive.path, root)
            workspace.prepare_model(root, model_dir, config)
            definition = workspace.task_definition(root, config)
            limits = workspace.limits(definition)
            layout = lay_out(work, root, model_dir, config, log, out)
            spec_path = work / "spec.json"
            workspace.write_run_spec(spec_path, name, config, definition, root, model_dir, examples)
            outcome = RunOutcome(self.name, rootpath=str(root), model_dir=str(model_dir), memory_limit=limits["memory"])
            launcher = [str(layout.environment.python), str(work / "runtime" / workspace.LAUNCHER),
                        *workspace.launcher_arguments(limits, spec_path, loopback=False)]
            with confined(layout, launcher, [spec_path], limits, outcome, out) as (command, cap):
                where = "confined with bwrap, no network" if outcome.isolated else "NOT confined, network NOT isolated"
                out(f"Running the packaged model in the sandbox ({where}, {limits['memory']} memory)...")
                log.write(f"$ {' '.join(command)}\n")
                log.flush()
                _run(command, layout.variables(outcome.isolated), model_dir, log, outcome,
                     workspace.deadline_seconds(limits, definition))
                outcome.oom_killed = cap.hit()
            return outcome


@dataclass
class Layout:
    """A run's folders: scratch (``work``), package, model dir, environment, runtime on the path."""

    work: Path
    root: Path
    model_dir: Path
    environment: object
    python_path: list

    def read_only(self):
        folders = [self.environment.base_dir, self.environment.deps_dir, self.root, self.model_dir,
                   self.work / "runtime"]
        return folders + ([self.work / "site"] if (self.work / "site").exists() else [])

    def variables(self, confined):
        """Only what the model needs: nothing of this machine's Python setup leaks in.

        Confined, its home and temporary folder are the sandbox's own /tmp;
        else folders of the scratch dir.
        """
        home = tmp = "/tmp"
        if not confined:
            home, tmp = str(self.work / "home"), str(self.work / "tmp")
            for folder in (home, tmp):
                os.makedirs(folder, exist_ok=True)
        return {
            "PATH": os.pathsep.join([str(self.environment.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": home,  # no ~/.cache of this machine: the deployment has none
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(self.python_path),
            "PYTHONNOUSERSITE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            ROOTPATH_ENV: str(self.root),
            **workspace.forwarded_environment(),
        }


def lay_out(work, root, model_dir, config, log, out=print):
    """The cached layers, our runtime, and (setup: true) the project's current code, for the package at ``root``."""
    environment = ensure_environment(root, config, log, out=out)
    python_path = [str(workspace.copy_runtime(work / "runtime"))]
    if config["setup"]:
        install_project(environment, root, work / "site", log)
        python_path.insert(0, str(work / "site"))
    return Layout(Path(work), Path(root), Path(model_dir), environment, python_path)


@contextmanager
def confined(layout, command, files, limits, outcome, out=print, binds=()):
    """(``command`` confined by bwrap within the task's memory and CPUs, its ``cgroups.Caps``); the
    cgroups are removed, and every process left in them killed, on the way out.

    ``files`` are bound read-only too, ``binds`` ((folder, path inside) pairs) writable. Without a working bwrap the command runs
    unconfined, with a warning, and ``outcome.isolated`` is False.
    """
    from dynalab.tasks.limits import memory_bytes

    bwrap = bubblewrap()
    if bwrap is None:
        outcome.isolated = False
        outcome.notes.append(
            "warning: this system has no working bubblewrap (`bwrap`, Debian's package bubblewrap), so the "
            "sandbox is NOT confined: the model can use the network and read this machine's files; "
            "`--backend docker` confines it"
        )
        out(outcome.notes[-1])
    else:
        command = confine(bwrap, [*layout.read_only(), *files], [], layout.model_dir, command,
                          scratch=layout.work, binds=binds, tmp_bytes=memory_bytes(limits))
    with caps(memory_bytes(limits), float(limits["cpus"])) as capped:
        for note in capped.notes:
            outcome.notes.append(note)
            out(note)
        yield capped.command(command), capped


def _run(command, env, cwd, log, outcome, deadline):
    with child_process(command, env=env, cwd=cwd) as process:
        reader = threading.Thread(target=copy_lines, args=(process.stdout, log, outcome), daemon=True)
        reader.start()
        try:
            outcome.exit_code = process.wait(deadline)
        except subprocess.TimeoutExpired:
            outcome.timed_out = True
            kill_group(process)
            outcome.exit_code = process.wait()
        reader.join(10)


@contextmanager
def child_process(command, **kwargs):
    """A child in its own process group, killed with all its children on the way out."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, **kwargs,
    )
    try:
        yield process
    finally:
        kill_group(process)
        process.wait()
        process.stdout.close()


def kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
