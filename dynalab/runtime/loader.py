"""Import the user's handler the way TorchServe does, with ROOTPATH pointing at the project.

``ROOTPATH`` (``dynalab.tasks.task_io.ROOTPATH``) is the packaged project
root: the folder holding the whole project as uploaded, wherever it was
unpacked (the project itself locally, a copy in the sandbox, a path inside
the container). Handlers use it for files they do not list in
``model_files``: ``sys.path.append(ROOTPATH)`` or
``open(os.path.join(ROOTPATH, "configs", "x.json"))``. The runtime hands it
over in the environment variable ``DYNALAB_ROOTPATH`` (``task_io.ROOTPATH_ENV``),
which ``task_io`` reads whenever ``ROOTPATH`` is asked for: it must be set
before any user code runs.
"""

import importlib
import json
import os
import sys
import tempfile

import dynalab
from dynalab.files import is_inside
from dynalab.tasks import task_io


class HandlerLoadError(Exception):
    """Raised when the handler module cannot be found or defines no ``handle(data, context)``."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint


def enter_model_dir(spec, spec_path):
    """Make this process look like a TorchServe worker for ``spec``, before any user import.

    Sets ``DYNALAB_ROOTPATH`` and ``DYNALAB_TASK_FILE`` (a JSON copy of the
    task definition, so ``TaskIO(code)`` in the handler finds the very
    definition being tested), makes the model dir the working directory and
    the first entry of ``sys.path``.
    """
    os.environ[task_io.ROOTPATH_ENV] = spec["rootpath"]
    os.environ[task_io.TASK_FILE_ENV] = _write_task_file(spec["task"], spec_path)
    _drop_launch_dir()
    os.chdir(spec["model_dir"])
    sys.path.insert(0, spec["model_dir"])


def import_handler(spec):
    """Import the handler module by its file name stem and return its ``handle`` function."""
    model_dir, file_name = spec["model_dir"], spec["handler"]
    path = os.path.join(model_dir, file_name)
    if not os.path.isfile(path):
        raise HandlerLoadError(f"handler {file_name} not found in the model dir {model_dir}")
    name = os.path.splitext(file_name)[0]
    loaded = sys.modules.get(name)
    if loaded is not None and not _defined_in(loaded, model_dir):
        raise HandlerLoadError(
            f"the handler module name {name!r} is already taken by {getattr(loaded, '__file__', None) or 'a built-in module'}",
            hint=f"rename {file_name} (for example to handler.py) and update `handler` in the model config",
        )
    module = importlib.import_module(name)
    handle = getattr(module, "handle", None)
    if not callable(handle):
        raise HandlerLoadError(
            f"{file_name} defines no function handle(data, context)",
            hint="add a module-level `def handle(data, context):` that returns a list with one response "
            "(the handler template shows one)",
        )
    return handle


def _write_task_file(definition, spec_path):
    # Next to the spec when possible, so it is kept with the run's other files;
    # a read-only spec folder (a container) falls back to the temp dir.
    path = os.path.splitext(os.path.abspath(spec_path))[0] + ".task.json"
    text = json.dumps(definition, indent=2)
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError:
        fd, path = tempfile.mkstemp(prefix=f"dynalab-{definition['task']}-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
    return path


def _drop_launch_dir():
    # `python -m` puts the launch directory first on sys.path. If that is the
    # project root, the handler could import project modules locally that it
    # cannot import once packaged; keep it only when Dynalab itself lives there.
    if not sys.path or sys.path[0] not in ("", os.getcwd()):
        return
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(dynalab.__file__)))
    if os.path.abspath(sys.path[0] or ".") != package_parent:
        del sys.path[0]


def _defined_in(module, folder):
    path = getattr(module, "__file__", None)
    return bool(path) and is_inside(path, folder)
