"""Whether this machine has a GPU to give a model, and how the Docker backend passes it through.

A task whose limits say ``gpu: true`` runs only where a GPU is (its jobs go
to the server's ``gpu`` queue, see ``server.jobs.celery_executor``), and
only on the Docker backend: its container gets every GPU of the machine
through Docker's ``device_requests`` (the NVIDIA container toolkit's
``--gpus all``). The sandbox binds no devices.
"""

import shutil
import subprocess
from pathlib import Path


def has_gpu():
    """True when an NVIDIA GPU is visible here: a ``/dev/nvidiaN`` device, or one that ``nvidia-smi`` lists."""
    if any(Path("/dev").glob("nvidia[0-9]*")):
        return True
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def docker_device_requests(needs_gpu):
    """The ``device_requests`` of a container for a task that needs a GPU (or not): all the machine's GPUs."""
    if not needs_gpu:
        return []
    from docker.types import DeviceRequest

    return [DeviceRequest(count=-1, capabilities=[["gpu"]])]


def missing_gpu(needs_gpu, backend):
    """Why a task that needs a GPU cannot run here on ``backend`` (None when it can, or needs none)."""
    if not needs_gpu:
        return None
    if backend != "docker":
        return f"the task needs a GPU, and only the docker backend passes one through (this is {backend})"
    if not has_gpu():
        return "the task needs a GPU, and this machine has none (no /dev/nvidia* device, nvidia-smi lists none)"
    return None
