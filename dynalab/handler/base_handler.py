"""The base class of Dynalab handlers: ``from dynalab.handler.base_handler import BaseDynaHandler, ROOTPATH``.

A handler subclasses ``BaseDynaHandler``, defines initialize / preprocess /
inference / postprocess and a module-level ``handle(data, context)``; see the
handler template. Nothing here depends on TorchServe or torch, so the same
handler runs in Dynalab's local test, sandbox and container.
"""

import os

from dynalab.tasks import task_io
from dynalab.tasks.task_io import TaskIO

__all__ = ["BaseDynaHandler", "ROOTPATH", "TaskIO"]


def __getattr__(name):
    # ROOTPATH is task_io's, read when asked for (see dynalab.tasks.task_io.rootpath).
    if name == "ROOTPATH":
        return task_io.rootpath()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class BaseDynaHandler:
    """Helpers every handler needs; subclasses set ``self.initialized = True`` once loaded."""

    def __init__(self):
        self.initialized = False

    def initialize_task_io(self, task_code, task_info_path=None):
        """Create ``self.task_io``, the TaskIO of ``task_code``, and return it."""
        self.task_io = TaskIO(task_code, task_info_path)
        return self.task_io

    def _handler_initialize(self, context):
        """``(model_pt_path, model_file_dir, device_str)`` for ``context``.

        ``model_pt_path`` is the checkpoint inside the model dir (None if the
        model has none); ``device_str`` is "cuda:<gpu_id>" when a GPU was
        assigned and torch can use CUDA, else "cpu".
        """
        properties = context.system_properties
        model_file_dir = properties["model_dir"]
        serialized_file = context.manifest["model"].get("serializedFile")
        model_pt_path = os.path.join(model_file_dir, serialized_file) if serialized_file else None
        return model_pt_path, model_file_dir, _device(properties.get("gpu_id"))

    def _read_data(self, data):
        """The example of a request: ``data[0]["body"]``."""
        return data[0]["body"]


def _device(gpu_id):
    if gpu_id is None:
        return "cpu"
    # Imported here, not at the top: torch is the user's dependency, takes
    # seconds to import, and is absent from some environments we run in.
    try:
        import torch
    except ImportError:
        return "cpu"
    try:
        available = torch.cuda.is_available()
    except Exception:  # a broken CUDA setup reads as "no GPU", as torch itself would
        available = False
    return f"cuda:{gpu_id}" if available else "cpu"
